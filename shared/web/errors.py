"""Errors as RFC 9457 problem details (``application/problem+json``) with a clear ``detail``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, detail: str, *, title: str | None = None, headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:  # fmt: skip
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    headers = dict(headers or {})
    if request_id := correlation_id.get():
        body["request_id"] = request_id
        # 500s are rendered outside the request-id middleware, so set the header here too.
        headers.setdefault("X-Request-ID", request_id)
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class Problem(StarletteHTTPException):
    """An HTTP error with extension members, e.g. a stable ``code`` clients can branch on."""

    def __init__(
        self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(status, detail, headers=headers)
        self.extensions = extensions


async def _http_exception(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    extensions = getattr(exc, "extensions", {})
    return problem(exc.status_code, detail, headers=getattr(exc, "headers", None), **extensions)


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return problem(422, f"{where}: {first['msg']}" if where else first["msg"], errors=errors)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    # Never echo internals (paths, SQL, secrets) to the client; the request id links to logs.
    return problem(500, "An internal error occurred; it has been logged.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)
