"""The administrator's page `/admin`: served without a token; its script asks for the admin token once."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from shared.catalog import ALLERGENS, DIET_VARIANTS, DISTRICTS, GROUPS
from shared.events import local_now
from shared.web import page_router

UI_DIR = Path(__file__).resolve().parent.parent / "ui"


def _context(request: Request) -> dict[str, Any]:
    today = local_now(request.app.state.settings.timezone).date()
    return {
        "page_data": {
            "today": today.isoformat(),
            "month": f"{today.year:04d}-{today.month:02d}",
            "districts": list(DISTRICTS),
            "groups": list(GROUPS),
            "diets": list(DIET_VARIANTS),
            "allergens": list(ALLERGENS),
        }
    }


def admin_pages() -> APIRouter:
    return page_router(ui_dir=UI_DIR, pages={"/admin": "admin.html"}, title_key="admin_title", context=_context)
