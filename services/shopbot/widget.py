"""Serves the chat widget (minified once at start-up) and the demo host page."""

from __future__ import annotations

import hashlib
import html
import importlib.util
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.shopbot.demo import DEMO_STORE
from services.shopbot.stores import store_by_id

SOURCE_WIDGET_DIR = Path(__file__).resolve().parents[2] / "apps" / "chat-widget"
router = APIRouter(tags=["widget"])


def widget_dir(request: Request) -> Path:
    return request.app.state.settings.shopbot_widget_dir or SOURCE_WIDGET_DIR


@cache
def widget_bundle(folder: Path) -> tuple[bytes, str]:
    """The minified widget and its ETag."""
    build_py = folder / "build.py"
    if not build_py.exists():
        raise RuntimeError(
            f"chat widget sources missing at {folder}; set ASCENT_SHOPBOT_WIDGET_DIR to a copy "
            "of apps/chat-widget"
        )
    spec = importlib.util.spec_from_file_location("ascent_chat_widget_build", build_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    body = module.build()
    return body, hashlib.sha256(body).hexdigest()[:16]


@router.get("/widget.js", include_in_schema=False)
async def widget_js(request: Request) -> Response:
    body, etag = widget_bundle(widget_dir(request))
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="text/javascript; charset=utf-8", headers={
        "ETag": etag, "Cache-Control": "public, max-age=300",
        # Host pages on other origins load it with <script>, no credentials needed.
        "Cross-Origin-Resource-Policy": "cross-origin",
    })  # fmt: skip


@router.get("/demo", response_class=HTMLResponse, include_in_schema=False)
async def demo_page(request: Request) -> HTMLResponse:
    """A host page for the demo store, with hostile CSS, to try the widget by hand."""
    store = await store_by_id(request.app.state.pool, DEMO_STORE)
    if store is None:
        raise HTTPException(404, "No demo store: start with ASCENT_SHOPBOT_DEMO=true.")
    page = (widget_dir(request) / "demo" / "host.html").read_text(encoding="utf-8")
    widget_url = str(request.url_for("widget_js"))
    page = page.replace("{{WIDGET_URL}}", html.escape(widget_url))
    page = page.replace("{{STORE_KEY}}", html.escape(store.widget_key))
    return HTMLResponse(page)
