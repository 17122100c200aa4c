"""The reviewer's GitHub REST client, on githubkit.

``GitHubApp`` authenticates as the App (an RS256 JWT, ``iat`` backdated 60 s for clock skew,
``exp`` ten minutes after that) and hands out one ``InstallationClient`` per installation.
Installation tokens come from ``POST /app/installations/{id}/access_tokens`` and are cached
(per ``GitHubApp``, so per process) until a minute before they expire.

Failures are turned into a few exceptions the job layer understands:

- 5xx and timeouts are retried in place with quadratic backoff (``reviewer_github_retries``);
- a rate limit (403/429 with ``retry-after`` or ``x-ratelimit-remaining: 0``) is waited out in
  place when the wait is short, otherwise ``RateLimited`` carries the reset time so the job is
  rescheduled for it;
- an installation whose token is refused (uninstalled, suspended) raises ``InstallationGone``:
  the job is retried later rather than lost.

Responses are read as plain JSON: the reviewer needs a handful of fields, and reading them
directly keeps it working when GitHub adds or loosens fields.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)
from githubkit.retry import RetryOption

from shared.config import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Set while a non-idempotent POST runs: its 5xx is not retried blindly (the caller checks
# whether GitHub acted on it first).
_no_server_retry: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "reviewer_no_server_retry", default=False
)


class GitHubError(RuntimeError):
    """A GitHub call failed; the message names the call and the status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitHubUnavailable(GitHubError):
    """5xx, timeouts or connection errors outlasted the in-place retries."""


class InstallationGone(GitHubError):
    """The installation's token was refused: uninstalled, suspended or access revoked."""


class AccessDenied(InstallationGone):
    """403 without a rate limit: the App lacks a permission (new permissions not accepted yet,
    repository removed from the installation). Retried later, like a vanished installation."""


class RateLimited(GitHubError):
    """A rate limit too long to wait out in place; retry at ``retry_at``."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message, 403)
        self.retry_at = retry_at


class NotFound(GitHubError):
    pass


class Unprocessable(GitHubError):
    """422: GitHub refused the request body (e.g. a review comment outside the diff)."""


class ConfigurationError(RuntimeError):
    """The reviewer's GitHub App settings are missing or unreadable."""


@dataclass(frozen=True)
class AppCredentials:
    app_id: int
    private_key: str
    api_url: str = "https://api.github.com"

    @classmethod
    def from_settings(cls, settings: Settings) -> AppCredentials:
        if settings.reviewer_github_app_id is None:
            raise ConfigurationError("ASCENT_REVIEWER_GITHUB_APP_ID is not set")
        if settings.reviewer_github_private_key is not None:
            key = settings.reviewer_github_private_key.get_secret_value()
        elif settings.reviewer_github_private_key_path is not None:
            path = Path(settings.reviewer_github_private_key_path)
            try:
                key = path.read_text()
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read the App private key at {path}: {exc}"
                ) from None
        else:
            raise ConfigurationError(
                "set ASCENT_REVIEWER_GITHUB_PRIVATE_KEY or ASCENT_REVIEWER_GITHUB_PRIVATE_KEY_PATH"
            )
        if "PRIVATE KEY" not in key:
            raise ConfigurationError("the App private key is not a PEM private key")
        return cls(settings.reviewer_github_app_id, key, settings.reviewer_github_api_url)


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 1.0
    max_rate_wait: float = 60.0
    rate_retries: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            retries=settings.reviewer_github_retries,
            backoff=settings.reviewer_github_backoff,
            max_rate_wait=settings.reviewer_rate_limit_max_wait,
        )

    def __call__(self, exc: GitHubException, count: int) -> RetryOption:
        inner = _unwrap(exc)
        if isinstance(inner, RateLimitExceeded):
            wait = inner.retry_after.total_seconds()
            if count < self.rate_retries and wait <= self.max_rate_wait:
                logger.warning("GitHub rate limit on %s; waiting %.0f s", _where(inner), wait)
                return RetryOption(True, timedelta(seconds=max(wait, 0.05)))
            return RetryOption(False)
        transient = isinstance(inner, RequestTimeout) or (
            isinstance(inner, RequestFailed) and inner.response.status_code >= 500
        )
        if isinstance(inner, RequestError) and isinstance(inner.exc, httpx.TransportError):
            transient = True
        if transient and _no_server_retry.get():
            return RetryOption(False)
        if transient and count < self.retries:
            delay = self.backoff * (count + 1) ** 2
            logger.warning(
                "GitHub %s failed (%s); retry in %.1f s", _where(inner), _status(inner), delay
            )
            return RetryOption(True, timedelta(seconds=delay))
        return RetryOption(False)


def _unwrap(exc: BaseException) -> BaseException:
    # Failures inside the auth flow (the installation-token request) arrive wrapped.
    while isinstance(exc, RequestError) and isinstance(exc.exc, GitHubException):
        exc = exc.exc
    return exc


def _where(exc: BaseException) -> str:
    request = getattr(exc, "request", None)
    return f"{request.method} {request.url.path}" if request is not None else "request"


def _status(exc: BaseException) -> str:
    if isinstance(exc, RequestFailed):
        return str(exc.response.status_code)
    return type(exc).__name__


def _is_token_request(exc: BaseException) -> bool:
    request = getattr(exc, "request", None)
    return request is not None and request.url.path.endswith("/access_tokens")


class GitHubApp:
    """The App: its credentials, a shared token cache and one client per installation."""

    def __init__(
        self,
        credentials: AppCredentials,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        # A cache per App object: tokens and JWTs never leak between apps (or tests).
        self._cache = MemCacheStrategy()

    @classmethod
    def from_settings(cls, settings: Settings) -> GitHubApp:
        return cls(
            AppCredentials.from_settings(settings),
            retry=RetryPolicy.from_settings(settings),
            timeout=settings.reviewer_github_timeout,
        )

    @property
    def app_id(self) -> int:
        return self.credentials.app_id

    def _github(self, auth: Any) -> GitHub:
        return GitHub(
            auth,
            base_url=self.credentials.api_url,
            user_agent="ascent-reviewer",
            timeout=self.timeout,
            cache_strategy=self._cache,
            http_cache=False,
            auto_retry=self.retry,
        )

    def installation(self, installation_id: int) -> InstallationClient:
        auth = AppInstallationAuthStrategy(
            self.credentials.app_id, self.credentials.private_key, installation_id
        )
        return InstallationClient(self._github(auth), installation_id, self)

    async def app_info(self) -> dict[str, Any]:
        """``GET /app`` as the App itself (JWT): its slug, owner and permissions."""
        gh = self._github(AppAuthStrategy(self.credentials.app_id, self.credentials.private_key))
        return await _call("GET /app", lambda: gh.rest.apps.async_get_authenticated(), None)

    def forget_token(self, installation_id: int) -> None:
        """Drop a cached installation token (GitHub revoked it before it expired)."""
        # MemCache has no delete; its dict is the only handle (absent: let the token expire).
        items = getattr(self._cache.get_cache_storage(), "_cache", {})
        for key in [k for k in items if f":installation:{installation_id}:" in k]:
            items.pop(key, None)


async def _call(
    what: str, request: Callable[[], Awaitable[Any]], installation_id: int | None
) -> Any:
    """Run one githubkit request and return its JSON, with failures mapped to ours."""
    try:
        response = await request()
    except GitHubException as exc:
        raise _translate(what, exc, installation_id) from None
    return response.json() if response.content else None


def _translate(what: str, exc: GitHubException, installation_id: int | None) -> GitHubError:
    inner = _unwrap(exc)
    if isinstance(inner, RateLimitExceeded):
        retry_at = datetime.now(UTC) + max(inner.retry_after, timedelta(seconds=1))
        return RateLimited(f"{what}: rate limited until {retry_at:%H:%M:%S} UTC", retry_at)
    if isinstance(inner, RequestFailed):
        status = inner.response.status_code
        if _is_token_request(inner) and status in (401, 403, 404):
            return InstallationGone(
                f"{what}: GitHub refused a token for installation {installation_id} "
                f"({status}); the App was uninstalled, suspended or lost access",
                status,
            )
        message = _message(inner)
        if status >= 500:
            return GitHubUnavailable(f"{what}: GitHub answered {status}: {message}", status)
        if status == 404:
            return NotFound(f"{what}: not found", status)
        if status == 403:
            return AccessDenied(
                f"{what}: GitHub refused it (403: {message}); check that installation "
                f"{installation_id} granted the App's permissions on this repository",
                status,
            )
        if status == 422:
            return Unprocessable(f"{what}: GitHub refused it (422): {message}", status)
        return GitHubError(f"{what}: GitHub answered {status}: {message}", status)
    if isinstance(inner, RequestTimeout):
        return GitHubUnavailable(f"{what}: timed out")
    return GitHubUnavailable(f"{what}: {type(inner).__name__}: {getattr(inner, 'exc', inner)}")


def _message(exc: RequestFailed) -> str:
    try:
        body = exc.response.json()
    except ValueError:
        return exc.response.text[:200]
    if not isinstance(body, dict):
        return str(body)[:200]
    details = [
        str(e.get("message", e)) if isinstance(e, dict) else str(e)
        for e in body.get("errors") or []
    ]
    return "; ".join([str(body.get("message", "")), *details])[:500]


class InstallationClient:
    """REST calls as one installation; ``repo`` is always ``owner/name``."""

    def __init__(self, gh: GitHub, installation_id: int, app: GitHubApp) -> None:
        self.gh = gh
        self.installation_id = installation_id
        self.app = app

    async def _call(self, what: str, request: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await _call(what, request, self.installation_id)
        except GitHubError as exc:
            if exc.status == 401 and not isinstance(exc, InstallationGone):
                # A cached token GitHub no longer accepts: the next attempt fetches a new one.
                self.app.forget_token(self.installation_id)
                raise GitHubUnavailable(f"{exc} (token refused; will retry)", 401) from None
            raise

    async def _pages(self, what: str, method: Callable[..., Any], **kwargs: Any) -> list[Any]:
        paginator = self.gh.rest.paginate(
            method, map_func=lambda r: r.json(), per_page=100, **kwargs
        )
        items: list[Any] = []
        try:
            async for item in paginator:
                items.append(item)
        except GitHubException as exc:
            raise _translate(what, exc, self.installation_id) from None
        return items

    # --- reading -------------------------------------------------------------------------

    async def pull(self, repo: str, number: int) -> dict[str, Any]:
        owner, name = _split(repo)
        return await self._call(
            f"GET pull {repo}#{number}", lambda: self.gh.rest.pulls.async_get(owner, name, number)
        )

    async def pull_files(self, repo: str, number: int) -> list[dict[str, Any]]:
        """Every file of the pull request (GitHub lists at most 3,000), with patches."""
        owner, name = _split(repo)
        return await self._pages(
            f"GET files {repo}#{number}",
            self.gh.rest.pulls.async_list_files,
            owner=owner,
            repo=name,
            pull_number=number,
        )

    async def compare(self, repo: str, base: str, head: str) -> dict[str, Any]:
        owner, name = _split(repo)
        return await self._call(
            f"GET compare {repo} {base[:7]}...{head[:7]}",
            lambda: self.gh.rest.repos.async_compare_commits(owner, name, f"{base}...{head}"),
        )

    async def file_text(
        self, repo: str, path: str, ref: str, *, max_bytes: int = 400_000
    ) -> str | None:
        """The file at ``ref`` as text; None when missing, binary or larger than ``max_bytes``."""
        owner, name = _split(repo)
        try:
            data = await self._call(
                f"GET contents {repo}:{path}@{ref[:7]}",
                lambda: self.gh.rest.repos.async_get_content(owner, name, quote(path), ref=ref),
            )
        except NotFound:
            return None
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        if data.get("size", 0) > max_bytes or data.get("encoding") != "base64":
            return None  # over 1 MB GitHub sends no content ("encoding": "none")
        raw = base64.b64decode(data.get("content") or "")
        if b"\0" in raw[:8192]:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return None

    async def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        owner, name = _split(repo)
        return await self._pages(
            f"GET reviews {repo}#{number}",
            self.gh.rest.pulls.async_list_reviews,
            owner=owner,
            repo=name,
            pull_number=number,
        )

    async def review_comments(self, repo: str, number: int, review_id: int) -> list[dict[str, Any]]:
        owner, name = _split(repo)
        return await self._pages(
            f"GET review comments {repo}#{number}",
            self.gh.rest.pulls.async_list_comments_for_review,
            owner=owner,
            repo=name,
            pull_number=number,
            review_id=review_id,
        )

    async def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        owner, name = _split(repo)
        return await self._pages(
            f"GET comments {repo}#{number}",
            self.gh.rest.issues.async_list_comments,
            owner=owner,
            repo=name,
            issue_number=number,
        )

    # --- writing -------------------------------------------------------------------------

    async def create_review(
        self,
        repo: str,
        number: int,
        *,
        commit_id: str,
        body: str,
        event: str,
        comments: list[dict[str, Any]],
    ) -> dict[str, Any]:
        if event not in ("COMMENT", "REQUEST_CHANGES"):
            raise ValueError(f"the reviewer never posts {event!r} reviews")
        owner, name = _split(repo)
        data = {"commit_id": commit_id, "body": body, "event": event, "comments": comments}
        token = _no_server_retry.set(True)
        try:
            return await self._call(
                f"POST review {repo}#{number}",
                lambda: self.gh.rest.pulls.async_create_review(owner, name, number, data=data),
            )
        finally:
            _no_server_retry.reset(token)

    async def create_issue_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        owner, name = _split(repo)
        return await self._call(
            f"POST comment {repo}#{number}",
            lambda: self.gh.rest.issues.async_create_comment(owner, name, number, body=body),
        )

    async def update_issue_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        owner, name = _split(repo)
        return await self._call(
            f"PATCH comment {repo} {comment_id}",
            lambda: self.gh.rest.issues.async_update_comment(owner, name, comment_id, body=body),
        )

    async def reply_to_review_comment(
        self, repo: str, number: int, comment_id: int, body: str
    ) -> dict[str, Any]:
        owner, name = _split(repo)
        return await self._call(
            f"POST reply {repo}#{number} {comment_id}",
            lambda: self.gh.rest.pulls.async_create_reply_for_review_comment(
                owner, name, number, comment_id, body=body
            ),
        )

    async def create_check_run(self, repo: str, data: dict[str, Any]) -> dict[str, Any]:
        owner, name = _split(repo)
        return await self._call(
            f"POST check run {repo}",
            lambda: self.gh.rest.checks.async_create(owner, name, data=data),
        )

    async def update_check_run(
        self, repo: str, check_run_id: int, data: dict[str, Any]
    ) -> dict[str, Any]:
        owner, name = _split(repo)
        return await self._call(
            f"PATCH check run {repo} {check_run_id}",
            lambda: self.gh.rest.checks.async_update(owner, name, check_run_id, data=data),
        )

    async def update_pull_body(self, repo: str, number: int, body: str) -> dict[str, Any]:
        owner, name = _split(repo)
        return await self._call(
            f"PATCH pull {repo}#{number}",
            lambda: self.gh.rest.pulls.async_update(owner, name, number, body=body),
        )

    async def add_labels(self, repo: str, number: int, labels: list[str]) -> list[Any]:
        owner, name = _split(repo)
        return await self._call(
            f"POST labels {repo}#{number}",
            lambda: self.gh.rest.issues.async_add_labels(owner, name, number, labels=labels),
        )


def _split(repo: str) -> tuple[str, str]:
    owner, _, name = repo.partition("/")
    if not owner or not name:
        raise ValueError(f"{repo!r} is not owner/name")
    return owner, name


async def gather_limited(calls: list[Callable[[], Awaitable[T]]], limit: int = 8) -> list[T]:
    """Run calls concurrently, at most ``limit`` at once, results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))
