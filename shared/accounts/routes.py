"""Account pages: sign-up, sign-in, sign-out, the account page, API keys and pricing.

Routes stay thin: forms in, service functions (users, sessions, keys, billing_view) out,
rendered by ``pages.render``.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from shared.accounts import billing_view
from shared.accounts.deps import (
    CsrfDep,
    OptionalSessionDep,
    SessionDep,
    require_anon_csrf,
    safe_next,
)
from shared.accounts.keys import create_org_key, list_org_keys, revoke_org_key
from shared.accounts.orgs import PRODUCTS, org_name
from shared.accounts.pages import render, static_file
from shared.accounts.ratelimit import (
    MAX_SIGN_UPS,
    SIGN_UP_WINDOW_SECONDS,
    Attempt,
    attempt_key,
    clear_attempts,
    register_attempt,
)
from shared.accounts.sessions import (
    clear_session_cookie,
    cookie_name,
    create_session,
    revoke_session,
    set_session_cookie,
)
from shared.accounts.users import EmailTaken, authenticate, create_user
from shared.web.deps import PoolDep, SettingsDep
from shared.web.errors import Problem

logger = logging.getLogger(__name__)
accounts_router = APIRouter(tags=["accounts"], include_in_schema=False)
AnonCsrf = Depends(require_anon_csrf)
NextField = Annotated[str, Form(alias="next")]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(request: Request, template: str, context: dict, attempt: Attempt) -> HTMLResponse:
    minutes = -(-attempt.retry_after // 60)
    error = f"Too many attempts. Try again in {minutes} minutes."
    return render(
        request, template, {**context, "error": error},
        status_code=429, headers={"Retry-After": str(attempt.retry_after)},
    )  # fmt: skip


async def _signed_in(
    request: Request, pool: PoolDep, settings: SettingsDep, user_id: int, org_id: str, to: str
) -> RedirectResponse:
    # A fresh id at every sign-in, and the visitor's old session ended: no session fixation.
    if old := request.cookies.get(cookie_name(settings)):
        await revoke_session(pool, old)
    response = _see_other(safe_next(to))
    set_session_cookie(response, settings, await create_session(pool, user_id, org_id))
    return response


@accounts_router.get("/account/static/{name}")
async def account_static(name: str) -> FileResponse:
    return static_file(name)


@accounts_router.get("/account/sign-up", response_model=None)
async def sign_up_form(
    request: Request, session: OptionalSessionDep, next: str = "/account"
) -> HTMLResponse | RedirectResponse:
    if session is not None:
        return _see_other(safe_next(next))
    return render(request, "sign_up.html", {"next": safe_next(next), "form": {}})


@accounts_router.post("/account/sign-up", dependencies=[AnonCsrf], response_model=None)
async def sign_up(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=4096)],
    org_name_: Annotated[str, Form(alias="org_name", max_length=200)] = "",
    next_: NextField = "/account",
) -> HTMLResponse | RedirectResponse:
    form = {"email": email, "org_name": org_name_}
    secret = settings.secret_key.get_secret_value().encode()
    attempt = await register_attempt(
        pool, attempt_key(secret, "sign-up", _client(request)),
        limit=MAX_SIGN_UPS, window_seconds=SIGN_UP_WINDOW_SECONDS,
    )  # fmt: skip
    if not attempt.allowed:
        return _too_many(request, "sign_up.html", {"next": safe_next(next_), "form": form}, attempt)
    try:
        default_org = f"{email.strip().split('@')[0]}'s organization"
        user_id, org_id = await create_user(pool, email, password, org_name_ or default_org)
    except EmailTaken as exc:
        return render(
            request, "sign_up.html", {"next": safe_next(next_), "form": form, "error": str(exc)},
            status_code=409,
        )  # fmt: skip
    except ValueError as exc:
        return render(
            request, "sign_up.html", {"next": safe_next(next_), "form": form, "error": str(exc)},
            status_code=400,
        )  # fmt: skip
    logger.info("accounts: user %s signed up, org %s", user_id, org_id)
    return await _signed_in(request, pool, settings, user_id, org_id, next_)


@accounts_router.get("/account/sign-in", response_model=None)
async def sign_in_form(
    request: Request, session: OptionalSessionDep, next: str = "/account"
) -> HTMLResponse | RedirectResponse:
    if session is not None:
        return _see_other(safe_next(next))
    return render(request, "sign_in.html", {"next": safe_next(next), "form": {}})


@accounts_router.post("/account/sign-in", dependencies=[AnonCsrf], response_model=None)
async def sign_in(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=4096)],
    next_: NextField = "/account",
) -> HTMLResponse | RedirectResponse:
    context = {"next": safe_next(next_), "form": {"email": email}}
    secret = settings.secret_key.get_secret_value().encode()
    key = attempt_key(secret, "sign-in", email.strip().lower(), _client(request))
    attempt = await register_attempt(pool, key)
    if not attempt.allowed:
        return _too_many(request, "sign_in.html", context, attempt)
    user = await authenticate(pool, email, password)
    if user is None:
        return render(
            request, "sign_in.html", {**context, "error": "Wrong email or password."},
            status_code=400,
        )  # fmt: skip
    await clear_attempts(pool, key)
    logger.info("accounts: user %s signed in", user.id)
    return await _signed_in(request, pool, settings, user.id, user.org_id, next_)


@accounts_router.post("/account/sign-out")
async def sign_out(
    request: Request, session: SessionDep, _: CsrfDep, pool: PoolDep, settings: SettingsDep
) -> RedirectResponse:
    await revoke_session(pool, request.cookies[cookie_name(settings)])
    response = _see_other("/account/sign-in")
    clear_session_cookie(response, settings)
    return response


@accounts_router.get("/account")
async def account_page(
    request: Request, session: SessionDep, pool: PoolDep, checkout: str = ""
) -> HTMLResponse:
    return render(
        request,
        "account.html",
        {
            "org_name": await org_name(pool, session.org_id),
            "billing": await billing_view.account_billing(request, session.org_id),
            "keys": await list_org_keys(pool, session.org_id),
            "products": PRODUCTS,
            "active_page": "account",
            "checkout": checkout,
        },
        session=session,
    )


@accounts_router.post("/account/api-keys")
async def create_key(
    request: Request,
    session: SessionDep,
    _: CsrfDep,
    pool: PoolDep,
    name: Annotated[str, Form(max_length=200)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    try:
        key = await create_org_key(pool, session.org_id, name, tuple(scopes or ()))
    except ValueError as exc:
        raise Problem(422, str(exc)) from exc
    return render(request, "key_created.html", {"key": key, "name": name}, session=session,
                  status_code=201)  # fmt: skip


@accounts_router.post("/account/api-keys/{key_id}/revoke")
async def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep, _: CsrfDep, pool: PoolDep
) -> RedirectResponse:
    # Another org's key answers exactly like a missing one: ids reveal nothing.
    if not await revoke_org_key(pool, session.org_id, key_id):
        raise Problem(404, "No such API key.")
    return _see_other("/account#api-keys")


@accounts_router.get("/pricing/{product}")
async def pricing_page(
    request: Request, product: str, session: OptionalSessionDep, plan: str = "", checkout: str = ""
) -> HTMLResponse:
    if product not in PRODUCTS:
        raise Problem(404, f"No product {product!r}.")
    here = f"/pricing/{product}"
    return render(
        request,
        "pricing.html",
        {
            "product": product,
            "active_product": product,
            "plans": billing_view.pricing_plans(request, product),
            "billing_enabled": billing_view.billing_enabled(request),
            "chosen": plan,
            "checkout": checkout,
            "sign_up_url": lambda key: (
                "/account/sign-up?next=" + quote(f"{here}?plan={quote(key)}", safe="")
            ),
        },
        session=session,
    )
