"""FastAPI dependencies: the signed-in session (``SessionDep``) and CSRF checks.

CSRF uses synchronizer tokens: each session has a random token, rendered into every form as
the hidden field ``csrf_token`` (scripts send it as ``X-CSRF-Token``). Sign-in and sign-up
forms come before any session, so they use a double-submit cookie instead. SameSite=Lax
cookies already stop most cross-site posts; the tokens cover the rest (older browsers,
same-site subdomains).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from shared.accounts.sessions import Session, cookie_name, load_session
from shared.config import Settings
from shared.web.errors import Problem

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
ANON_CSRF_COOKIE = "ascent_csrf"
SIGN_IN_PATH = "/account/sign-in"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def wants_html(request: Request) -> bool:
    """A browser navigating to a page, as opposed to an API client."""
    if request.url.path.startswith("/v1/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def safe_next(target: str | None, default: str = "/account") -> str:
    """A same-site path to return to; anything else (``//evil``, ``https://...``) is dropped,
    so ``?next=`` cannot become an open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 for c in target):
        return default
    return target


def sign_in_url(next_path: str) -> str:
    return f"{SIGN_IN_PATH}?next={quote(safe_next(next_path), safe='/')}"


async def optional_session(request: Request) -> Session | None:
    settings: Settings = request.app.state.settings
    session_id = request.cookies.get(cookie_name(settings))
    # Ids are 43 characters; refusing odd sizes spares the database junk lookups.
    if not session_id or len(session_id) > 64:
        return None
    session = await load_session(request.app.state.pool, session_id)
    request.state.session_id = session_id if session else None
    return session


async def current_session(
    request: Request, session: Annotated[Session | None, Depends(optional_session)]
) -> Session:
    if session is not None:
        return session
    if wants_html(request):
        # A page sends the browser to sign in and back; a form post returns to the account.
        back = request.url.path if request.method in _SAFE_METHODS else "/account"
        if request.url.query and request.method in _SAFE_METHODS:
            back += "?" + request.url.query
        raise Problem(303, "Sign in to continue.", headers={"Location": sign_in_url(back)})
    raise Problem(401, "Sign in to continue.", headers={"WWW-Authenticate": "Session"})


async def _presented_token(request: Request) -> str:
    if token := request.headers.get(CSRF_HEADER):
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        # Starlette caches the parsed form, so the route's Form() parameters still see it.
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _matches(presented: str, expected: str) -> bool:
    return bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())


async def require_csrf(
    request: Request, session: Annotated[Session, Depends(current_session)]
) -> None:
    """403 unless a state-changing request carries the session's CSRF token."""
    if request.method in _SAFE_METHODS:
        return
    if not _matches(await _presented_token(request), session.csrf_token):
        raise Problem(403, "The form expired or came from another site; reload and try again.")


async def require_anon_csrf(request: Request) -> None:
    """The double-submit check for forms shown before sign-in (login CSRF)."""
    cookie = request.cookies.get(ANON_CSRF_COOKIE, "")
    if not _matches(await _presented_token(request), cookie):
        raise Problem(403, "The form expired or came from another site; reload and try again.")


def anon_csrf_token(request: Request) -> tuple[str, bool]:
    """The visitor's pre-session CSRF token, and whether it is new (so must be set)."""
    existing = request.cookies.get(ANON_CSRF_COOKIE, "")
    if 20 <= len(existing) <= 64:
        return existing, False
    return secrets.token_urlsafe(32), True


SessionDep = Annotated[Session, Depends(current_session)]
OptionalSessionDep = Annotated[Session | None, Depends(optional_session)]
CsrfDep = Annotated[None, Depends(require_csrf)]
