"""Server-rendered pages every service shares: Jinja2 over the service's and the shared templates, bilingual strings.

A service's page is `page_router(ui_dir=..., pages={"/admin": "admin.html"})`: the templates come from
`<ui_dir>/templates` first, then `shared/ui/templates` (base.html: language toggle, token prompt); the
strings from `shared/ui/strings.json` and `<ui_dir>/strings.json` (`{key: {"zh": ..., "en": ...}}`, Chinese
first, every key in both languages); the shared static files are served at /static/shared.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

SHARED_UI = Path(__file__).resolve().parent / "ui"
SHARED_STATIC_URL = "/static/shared"
LANGUAGES = ("zh", "en")
# Pages talk only to the service that serves them; nothing is loaded from elsewhere (no CDN, no inline script).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
Strings = dict[str, dict[str, str]]


class MissingTranslation(ValueError):
    """A user-facing string without its Chinese or English text."""


def load_strings(*paths: Path) -> Strings:
    """Merge string files (a later file wins per key); every key must have non-empty zh and en."""
    merged: Strings = {}
    for path in paths:
        if not path.exists():
            continue
        data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
        for key, texts in data.items():
            missing = [lang for lang in LANGUAGES if not str(texts.get(lang, "")).strip()]
            if missing:
                raise MissingTranslation(f"{path.name}: {key!r} has no {' or '.join(missing)} text")
            merged[key] = {lang: str(texts[lang]) for lang in LANGUAGES}
    return merged


def templates_for(service_ui_dir: Path) -> Jinja2Templates:
    """Jinja2 templates looked up in the service's ui/templates, then the shared ones."""
    loader = ChoiceLoader([FileSystemLoader(service_ui_dir / "templates"), FileSystemLoader(SHARED_UI / "templates")])
    env = Environment(loader=loader, autoescape=select_autoescape(("html",)), undefined=StrictUndefined, auto_reload=False)
    return Jinja2Templates(env=env)


@lru_cache(maxsize=256)
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def asset_url(service_ui_dir: Path, name: str) -> str:
    """/static/... with a content hash, so a browser never runs yesterday's script against today's API."""
    if name.startswith("shared/"):
        path, url = SHARED_UI / "static" / name.removeprefix("shared/"), f"{SHARED_STATIC_URL}/{name.removeprefix('shared/')}"
    else:
        path, url = service_ui_dir / "static" / name, f"/static/{name}"
    return f"{url}?v={_digest(path, path.stat().st_mtime_ns)}"


def page_router(
    *,
    ui_dir: Path,
    pages: Mapping[str, str],
    title_key: str,
    context: Callable[[Request], Mapping[str, Any]] | None = None,
) -> APIRouter:
    """GET routes rendering `pages` (path -> template) without a token, and the shared static files.

    `context(request)` adds template variables; its `page_data` (if any) reaches the page's script as JSON.
    """
    templates = templates_for(ui_dir)
    strings = load_strings(SHARED_UI / "strings.json", ui_dir / "strings.json")
    if title_key not in strings:
        raise MissingTranslation(f"title {title_key!r} is not in the strings")

    def translate(key: str) -> str:
        return strings[key]["zh"]  # the page renders in Chinese; i18n.js switches to English when asked

    router = APIRouter(include_in_schema=False)
    router.mount(SHARED_STATIC_URL, StaticFiles(directory=SHARED_UI / "static"), name="shared-static")

    def endpoint(template: str) -> Callable[[Request], Any]:
        async def render(request: Request) -> HTMLResponse:
            extra = dict(context(request)) if context else {}
            values = {
                "strings": strings,
                "t": translate,
                "asset": lambda name: asset_url(ui_dir, name),
                "title_key": title_key,
                "page_data": extra.pop("page_data", {}),
                **extra,
            }
            response = templates.TemplateResponse(request, template, values)
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["Cache-Control"] = "no-cache"
            return response

        return render

    for path, template in pages.items():
        router.add_api_route(path, endpoint(template), methods=["GET"], response_class=HTMLResponse)
    return router
