"""The till page /pos (no token to load it; the page asks for the till's token once)."""

from pathlib import Path

from shared.web import page_router

pages = page_router(ui_dir=Path(__file__).resolve().parent.parent / "ui", pages={"/pos": "pos.html"}, title_key="pos_title")
