"""The till page /pos (no token to load it; the page asks for the till's token once)."""

from pathlib import Path
from typing import Any

from fastapi import Request

from shared.events import local_now
from shared.web import page_router


def _context(request: Request) -> dict[str, Any]:
    """The city's time zone and today's service date as the server sees them: the till never guesses the city."""
    timezone = request.app.state.settings.timezone
    now = local_now(timezone)
    return {"page_data": {"timezone": timezone, "today": now.date().isoformat(), "now_ms": int(now.timestamp() * 1000)}}


pages = page_router(
    ui_dir=Path(__file__).resolve().parent.parent / "ui", pages={"/pos": "pos.html"}, title_key="pos_title", context=_context
)
