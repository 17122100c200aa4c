"""Rendering the account pages: Jinja2 templates from apps/account, a strict CSP, the CSRF
token every form needs, and the session cookie's sliding refresh."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from shared.accounts.deps import ANON_CSRF_COOKIE, CSRF_FIELD, anon_csrf_token
from shared.accounts.orgs import PRODUCTS
from shared.accounts.passwords import MIN_LENGTH
from shared.accounts.sessions import Session, set_session_cookie
from shared.config import Settings, get_settings
from shared.web.errors import Problem

SOURCE_APP_DIR = Path(__file__).resolve().parents[2] / "apps" / "account"
PRODUCT_NAMES = {
    "repurposer": "Content repurposer",
    "reviewer": "PR reviewer",
    "shopbot": "Shopping assistant",
}


def app_dir() -> Path:
    """apps/account: the source tree's, or ASCENT_ACCOUNT_UI_DIR in installed images."""
    return get_settings().account_ui_dir or SOURCE_APP_DIR


@lru_cache
def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=app_dir() / "templates")
    found.env.globals.update(
        product_names=PRODUCT_NAMES, products_nav=PRODUCTS, min_password=MIN_LENGTH
    )
    found.env.filters["day"] = lambda d: f"{d:%-d %B %Y}"
    found.env.filters["number"] = lambda n: f"{n:,}"
    return found


# No inline script or style anywhere, so the pages can forbid both. form-action is left
# open on purpose: checkout forms post here and are redirected to Stripe, and browsers apply
# form-action to the redirect's target too.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages carry CSRF tokens and account data: never from a shared cache or the back button.
    "Cache-Control": "no-store",
}


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    session: Session | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    new_anon_token = False
    if session is not None:
        token = session.csrf_token
    else:
        token, new_anon_token = anon_csrf_token(request)
    response = templates().TemplateResponse(
        request,
        template,
        {"session": session, "csrf_field": CSRF_FIELD, "csrf_token": token, **(context or {})},
        status_code=status_code,
        headers={**PAGE_HEADERS, **(headers or {})},
    )
    if new_anon_token:
        response.set_cookie(
            ANON_CSRF_COOKIE, token, path="/", httponly=True, samesite="lax",
            secure=settings.env == "production",
        )  # fmt: skip
    session_id = getattr(request.state, "session_id", None)
    if session is not None and session_id:
        # The database slid the expiry on this request; the browser's copy slides with it.
        set_session_cookie(response, settings, session_id)
    return response


def static_file(name: str) -> FileResponse:
    """One of apps/account/static's own files; nothing else under any name."""
    static = app_dir() / "static"
    allowed = {p.name: p for p in static.iterdir() if p.is_file()} if static.is_dir() else {}
    if name not in allowed:
        raise Problem(404, "Not found.")
    return FileResponse(allowed[name], headers={"Cache-Control": "public, max-age=3600"})
