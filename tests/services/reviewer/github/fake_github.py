"""A fake GitHub REST API: a real HTTP server (FastAPI under uvicorn, in a thread) that keeps
repositories, pull requests, reviews, comments and check runs in memory and records every
request.

It behaves like GitHub where the reviewer depends on it:

- ``POST /app/installations/{id}/access_tokens`` wants an RS256 App JWT signed by the App's
  key (checked with the public key) and hands out expiring tokens; every other call wants a
  live token of the repository's installation (401 "Bad credentials" otherwise);
- pull request files come from a real diff of two snapshots (``difflib``, git's hunk format),
  paginated with ``Link`` headers, binary files and huge diffs without ``patch``;
- ``POST .../reviews`` refuses (422) any comment whose line/side is not in the diff, whose
  range crosses hunks, or whose commit is not the head, exactly as GitHub does;
- check-run updates take at most 50 annotations per request and append them;
- every response carries ``x-ratelimit-*`` headers; faults (5xx, secondary and primary rate
  limits) can be injected per method and path.

Response shapes follow GitHub's documented schemas; ``fixtures/pull_request.json`` is a real
pull request object (see ``fixtures/README.md``), and ``test_fake_github.py`` checks the
fake's answers against githubkit's models of GitHub's OpenAPI description.
"""

from __future__ import annotations

import base64
import copy
import difflib
import hashlib
import itertools
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

FIXTURES = Path(__file__).parent / "fixtures"
API_DOCS = "https://docs.github.com/rest"
Snapshot = dict[str, bytes]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()


def _as_bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:8000]


def unified_patch(old: bytes | None, new: bytes | None) -> tuple[str, int, int]:
    """GitHub's ``patch``: the hunks of a 3-line-context unified diff, without file headers."""
    a = (old or b"").decode().splitlines()
    b = (new or b"").decode().splitlines()
    lines = list(difflib.unified_diff(a, b, n=3, lineterm=""))[2:]
    added = sum(1 for x in lines if x.startswith("+"))
    removed = sum(1 for x in lines if x.startswith("-"))
    return "\n".join(lines), added, removed


def diff_lines(patch: str | None) -> dict[tuple[str, int], int]:
    """(side, line) -> hunk index, for every line a review comment may name."""
    result: dict[tuple[str, int], int] = {}
    old = new = 0
    hunk = -1
    for raw in (patch or "").split("\n"):
        m = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", raw)
        if m:
            hunk, old, new = hunk + 1, int(m[1]), int(m[2])
        elif hunk >= 0 and raw.startswith("+"):
            result[("RIGHT", new)] = hunk
            new += 1
        elif hunk >= 0 and raw.startswith("-"):
            result[("LEFT", old)] = hunk
            old += 1
        elif hunk >= 0 and not raw.startswith("\\"):
            result[("RIGHT", new)] = result[("LEFT", old)] = hunk
            old, new = old + 1, new + 1
    return result


def diff_position(patch: str | None, side: str, line: int) -> int:
    """The deprecated ``position``: the line's index in the patch, counted after the first
    hunk header (1-based)."""
    old = new = 0
    for index, raw in enumerate((patch or "").split("\n")):
        m = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", raw)
        if m:
            old, new = int(m[1]), int(m[2])
            continue
        if raw.startswith("+"):
            if (side, line) == ("RIGHT", new):
                return index
            new += 1
        elif raw.startswith("-"):
            if (side, line) == ("LEFT", old):
                return index
            old += 1
        elif not raw.startswith("\\"):
            if (side, line) in (("RIGHT", new), ("LEFT", old)):
                return index
            old, new = old + 1, new + 1
    return 1


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    status: int
    json: Any
    headers: dict[str, str]


@dataclass
class Fault:
    status: int
    method: str | None
    path: str | None  # regular expression searched in the path
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    after: bool = False  # the request is carried out, then answered with the fault


@dataclass
class FakePull:
    repo: str
    number: int
    title: str
    body: str
    base_sha: str
    head_sha: str
    author: str = "octocat"
    state: str = "open"
    draft: bool = False
    renames: dict[str, str] = field(default_factory=dict)  # new path -> old path


class FakeGitHub:
    """The state and the HTTP app; start with ``with FakeGitHub(...) as fake:``."""

    def __init__(self, app_id: int, public_key_pem: str, *, token_ttl: float = 3600.0) -> None:
        self.app_id = app_id
        self.public_key = public_key_pem
        self.token_ttl = token_ttl
        self.max_patch_lines = 5000  # GitHub leaves ``patch`` out of huge file diffs
        self.installations: dict[int, dict[str, Any]] = {}
        self.repos: dict[str, dict[str, Any]] = {}
        self.commits: dict[str, dict[str, Any]] = {}  # sha -> {"files": Snapshot, "parent"}
        self.pulls: dict[tuple[str, int], FakePull] = {}
        self.reviews: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.review_comments: dict[int, dict[str, Any]] = {}
        self.issue_comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.labels: dict[tuple[str, int], list[str]] = {}
        self.calls: list[Call] = []
        self.jwt_claims: list[dict[str, Any]] = []
        self.jwt_headers: list[dict[str, Any]] = []
        self.tokens: dict[str, tuple[int, float]] = {}
        self.faults: list[Fault] = []
        self.rate_remaining = 5000
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self._template = json.loads((FIXTURES / "pull_request.json").read_text())
        self.app = self._build_app()
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.url = ""

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeGitHub:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake GitHub did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)

    # --- building state ----------------------------------------------------------------------

    def add_installation(self, installation_id: int, account: str = "octo-org") -> None:
        self.installations[installation_id] = {"account": account, "active": True}

    def remove_installation(self, installation_id: int) -> None:
        self.installations[installation_id]["active"] = False
        self.tokens = {t: v for t, v in self.tokens.items() if v[0] != installation_id}

    def add_repo(self, full_name: str, installation_id: int, repo_id: int | None = None) -> int:
        repo_id = repo_id or next(self._ids)
        self.repos[full_name] = {"id": repo_id, "installation_id": installation_id}
        return repo_id

    def commit(self, files: dict[str, str | bytes], parent: str | None = None) -> str:
        snapshot = {path: _as_bytes(content) for path, content in files.items()}
        sha = _sha(sorted(snapshot.items()), parent, next(self._ids))
        self.commits[sha] = {"files": snapshot, "parent": parent}
        return sha

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        base: dict[str, str | bytes],
        head: dict[str, str | bytes],
        title: str = "A change",
        body: str = "",
        renames: dict[str, str] | None = None,
        author: str = "octocat",
    ) -> FakePull:
        base_sha = self.commit(base)
        head_sha = self.commit(head, parent=base_sha)
        pull = FakePull(
            repo, number, title, body, base_sha, head_sha, author, renames=dict(renames or {})
        )
        self.pulls[(repo, number)] = pull
        return pull

    def push(
        self, repo: str, number: int, head: dict[str, str | bytes], *, force: bool = False
    ) -> str:
        """A new head commit; ``force`` rewrites history (the old head is no ancestor)."""
        pull = self.pulls[(repo, number)]
        parent = pull.base_sha if force else pull.head_sha
        pull.head_sha = self.commit(head, parent=parent)
        return pull.head_sha

    def add_issue_comment(
        self,
        repo: str,
        number: int,
        body: str,
        *,
        by_app: int | None = None,
        login: str = "octocat",
    ) -> dict[str, Any]:
        comment = self._issue_comment(repo, number, body, by_app=by_app, login=login)
        self.issue_comments.setdefault((repo, number), []).append(comment)
        return comment

    # --- fault injection ---------------------------------------------------------------------

    def fail(
        self,
        status: int = 502,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
        after: bool = False,
    ) -> None:
        """Answer ``status`` to matching requests; ``after``: carry them out first."""
        self.faults.append(
            Fault(status, method, path, times, body={"message": "Server Error"}, after=after)
        )

    def secondary_rate_limit(
        self,
        *,
        retry_after: int = 1,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        self.faults.append(
            Fault(
                403,
                method,
                path,
                times,
                {"retry-after": str(retry_after)},
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few "
                    "minutes before you try again.",
                    "documentation_url": f"{API_DOCS}/overview/rate-limits-for-the-rest-api",
                },
            )
        )

    def primary_rate_limit(
        self,
        *,
        reset_in: int = 3600,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        reset = str(int(time.time()) + reset_in)
        self.faults.append(
            Fault(
                403,
                method,
                path,
                times,
                {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
                {
                    "message": "API rate limit exceeded for installation ID 1.",
                    "documentation_url": f"{API_DOCS}/overview/rate-limits-for-the-rest-api",
                },
            )
        )

    # --- what was posted ---------------------------------------------------------------------

    def calls_to(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.search(pattern, c.path)]

    def pull_reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        return self.reviews.get((repo, number), [])

    def comments_of(self, review: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            c for c in self.review_comments.values() if c["pull_request_review_id"] == review["id"]
        ]

    # --- the HTTP app ------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()
        fake = self

        @app.middleware("http")
        async def record(request: Request, call_next):
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            injected = fake._take_fault(request.method, request.url.path)
            if injected is not None and not injected.after:
                response: Response = fake._json(injected.status, injected.body, injected.headers)
            else:
                response = await call_next(request)
                if injected is not None:
                    response = fake._json(injected.status, injected.body, injected.headers)
            with fake._lock:
                fake.rate_remaining = max(0, fake.rate_remaining - 1)
                response.headers.setdefault("x-ratelimit-limit", "5000")
                response.headers.setdefault("x-ratelimit-remaining", str(fake.rate_remaining))
                response.headers.setdefault("x-ratelimit-reset", str(int(time.time()) + 3600))
                response.headers.setdefault("x-ratelimit-used", str(5000 - fake.rate_remaining))
                response.headers.setdefault("x-ratelimit-resource", "core")
                fake.calls.append(
                    Call(
                        request.method,
                        request.url.path,
                        dict(request.query_params),
                        response.status_code,
                        body,
                        dict(request.headers),
                    )
                )
            return response

        @app.get("/app")
        async def get_app(request: Request):
            if (error := fake._check_jwt(request)) is not None:
                return error
            return fake._app_object()

        @app.post("/app/installations/{installation_id}/access_tokens")
        async def access_token(installation_id: int, request: Request):
            if (error := fake._check_jwt(request)) is not None:
                return error
            inst = fake.installations.get(installation_id)
            if inst is None or not inst["active"]:
                return fake._json(
                    404, {"message": "Not Found", "documentation_url": f"{API_DOCS}/apps/apps"}
                )
            token = "ghs_" + _sha(installation_id, time.time(), next(fake._ids))[:36]
            expires = time.time() + fake.token_ttl
            fake.tokens[token] = (installation_id, expires)
            expires_at = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return fake._json(
                201,
                {
                    "token": token,
                    "expires_at": expires_at,
                    "permissions": {
                        "pull_requests": "write",
                        "contents": "read",
                        "checks": "write",
                        "issues": "write",
                        "metadata": "read",
                    },
                    "repository_selection": "selected",
                },
            )

        @app.api_route("/repos/{owner}/{name}/{rest:path}", methods=["GET", "POST", "PATCH"])
        async def repo_route(owner: str, name: str, rest: str, request: Request):
            repo = f"{owner}/{name}"
            if repo not in fake.repos:
                return fake._json(404, {"message": "Not Found"})
            if (error := fake._check_token(request, repo)) is not None:
                return error
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return fake._json(400, {"message": "Problems parsing JSON"})
            return fake._dispatch(request, repo, request.method, rest, body)

        return app

    def _dispatch(self, request: Request, repo: str, method: str, rest: str, body: Any):
        routes: list[tuple[str, str, Any]] = [
            ("GET", r"pulls/(\d+)", self._get_pull),
            ("PATCH", r"pulls/(\d+)", self._update_pull),
            ("GET", r"pulls/(\d+)/files", self._list_files),
            ("GET", r"pulls/(\d+)/reviews", self._list_reviews),
            ("POST", r"pulls/(\d+)/reviews", self._create_review),
            ("GET", r"pulls/(\d+)/reviews/(\d+)/comments", self._review_comments),
            ("GET", r"pulls/comments/(\d+)", self._get_review_comment),
            ("POST", r"pulls/(\d+)/comments/(\d+)/replies", self._reply),
            ("GET", r"contents/(.+)", self._contents),
            ("GET", r"compare/(.+)", self._compare),
            ("GET", r"issues/(\d+)/comments", self._list_issue_comments),
            ("POST", r"issues/(\d+)/comments", self._create_issue_comment),
            ("PATCH", r"issues/comments/(\d+)", self._update_issue_comment),
            ("POST", r"issues/(\d+)/labels", self._add_labels),
            ("POST", r"check-runs", self._create_check_run),
            ("PATCH", r"check-runs/(\d+)", self._update_check_run),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, rest)
            if verb == method and match:
                with self._lock:
                    return handler(request, repo, body, *match.groups())
        return self._json(404, {"message": "Not Found", "documentation_url": API_DOCS})

    # --- auth --------------------------------------------------------------------------------

    def _check_jwt(self, request: Request) -> JSONResponse | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return self._json(401, {"message": "A JSON web token could not be decoded"})
        token = auth.removeprefix("Bearer ")
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
            self.jwt_headers.append(jwt.get_unverified_header(token))
        except jwt.PyJWTError as exc:
            return self._json(401, {"message": f"A JSON web token could not be decoded ({exc})"})
        if str(claims["iss"]) != str(self.app_id) or claims["exp"] - claims["iat"] > 600:
            return self._json(
                401, {"message": "'Expiration time' claim ('exp') is too far in the future"}
            )
        self.jwt_claims.append(claims)
        return None

    def _check_token(self, request: Request, repo: str) -> JSONResponse | None:
        auth = request.headers.get("authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        held = self.tokens.get(token)
        installation = self.repos[repo]["installation_id"]
        if held is None or held[1] < time.time() or held[0] != installation:
            return self._json(401, {"message": "Bad credentials", "documentation_url": API_DOCS})
        if not self.installations.get(installation, {}).get("active"):
            return self._json(401, {"message": "Bad credentials"})
        return None

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times <= 0:
                    continue
                if fault.method and fault.method != method:
                    continue
                if fault.path and not re.search(fault.path, path):
                    continue
                fault.times -= 1
                return fault
        return None

    # --- objects -----------------------------------------------------------------------------

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=headers or {})

    def _api(self, path: str) -> str:
        return f"https://api.github.com/{path}"

    def _user(self, login: str, *, bot: bool = False) -> dict[str, Any]:
        user = copy.deepcopy(self._template["user"])
        user.update(
            login=login,
            id=int(_sha(login)[:7], 16),
            type="Bot" if bot else "User",
            url=self._api(f"users/{login}"),
            html_url=f"https://github.com/{login}",
        )
        return user

    def _bot(self) -> dict[str, Any]:
        return self._user("ascent-reviewer[bot]", bot=True)

    def _app_object(self) -> dict[str, Any]:
        return {
            "id": self.app_id,
            "slug": "ascent-reviewer",
            "node_id": "A_kwDOAAAB",
            "client_id": "Iv1.fake",
            "owner": self._user("octo-org"),
            "name": "ascent reviewer",
            "description": "",
            "external_url": "https://example.invalid",
            "html_url": "https://github.com/apps/ascent-reviewer",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "permissions": {
                "pull_requests": "write",
                "contents": "read",
                "checks": "write",
                "issues": "write",
                "metadata": "read",
            },
            "events": [
                "pull_request",
                "issue_comment",
                "pull_request_review_comment",
                "installation",
                "installation_repositories",
            ],
        }

    def _pull_object(self, pull: FakePull) -> dict[str, Any]:
        data = copy.deepcopy(self._template)
        repo = self.repos[pull.repo]
        files = self._pull_files(pull)
        url = self._api(f"repos/{pull.repo}/pulls/{pull.number}")
        data.update(
            url=url,
            id=repo["id"] * 1000 + pull.number,
            number=pull.number,
            state=pull.state,
            title=pull.title,
            body=pull.body,
            draft=pull.draft,
            user=self._user(pull.author),
            html_url=f"https://github.com/{pull.repo}/pull/{pull.number}",
            additions=sum(f["additions"] for f in files),
            deletions=sum(f["deletions"] for f in files),
            changed_files=len(files),
        )
        for side, sha in (("head", pull.head_sha), ("base", pull.base_sha)):
            data[side]["sha"] = sha
            data[side]["repo"]["full_name"] = pull.repo
            data[side]["repo"]["id"] = repo["id"]
        return data

    def _diff_entry(
        self,
        path: str,
        old_path: str | None,
        old: bytes | None,
        new: bytes | None,
        repo: str,
        ref: str,
    ) -> dict[str, Any]:
        if old is None:
            status = "added"
        elif new is None:
            status = "removed"
        elif old_path and old_path != path:
            status = "renamed"
        else:
            status = "modified"
        entry: dict[str, Any] = {
            "sha": _sha(path, new),
            "filename": path,
            "status": status,
            "blob_url": f"https://github.com/{repo}/blob/{ref}/{path}",
            "raw_url": f"https://github.com/{repo}/raw/{ref}/{path}",
            "contents_url": self._api(f"repos/{repo}/contents/{path}?ref={ref}"),
        }
        if status == "renamed":
            entry["previous_filename"] = old_path
        if _is_binary(old or b"") or _is_binary(new or b""):
            entry.update(additions=0, deletions=0, changes=0)
            return entry
        patch, added, removed = unified_patch(old, new)
        entry.update(additions=added, deletions=removed, changes=added + removed)
        if patch and added + removed <= self.max_patch_lines:
            entry["patch"] = patch
        return entry

    def _snapshot_diff(
        self, repo: str, old_sha: str, new_sha: str, renames: dict[str, str]
    ) -> list[dict[str, Any]]:
        old, new = self.commits[old_sha]["files"], self.commits[new_sha]["files"]
        entries = []
        renamed_from = {src for dst, src in renames.items() if dst in new and src not in new}
        for path in sorted(set(old) | set(new)):
            if path in renamed_from:
                continue
            source = renames.get(path) if path not in old else None
            if source is not None and source in old and source not in new:
                entries.append(
                    self._diff_entry(path, source, old[source], new[path], repo, new_sha)
                )
            elif old.get(path) != new.get(path):
                entries.append(
                    self._diff_entry(path, None, old.get(path), new.get(path), repo, new_sha)
                )
        return entries

    def _pull_files(self, pull: FakePull) -> list[dict[str, Any]]:
        return self._snapshot_diff(pull.repo, pull.base_sha, pull.head_sha, pull.renames)[:3000]

    def _paginate(self, request: Request, items: list[Any]) -> JSONResponse:
        per_page = min(100, int(request.query_params.get("per_page", 30)))
        page = max(1, int(request.query_params.get("page", 1)))
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        base = str(request.url.remove_query_params("page"))
        sep = "&" if "?" in base else "?"
        if page < last:
            links.append(f'<{base}{sep}page={page + 1}>; rel="next"')
            links.append(f'<{base}{sep}page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}{sep}page=1>; rel="first"')
            links.append(f'<{base}{sep}page={page - 1}>; rel="prev"')
        return self._json(200, chunk, {"link": ", ".join(links)} if links else {})

    def _pull_or_404(self, repo: str, number: str) -> FakePull | JSONResponse:
        pull = self.pulls.get((repo, int(number)))
        return pull if pull is not None else self._json(404, {"message": "Not Found"})

    # --- handlers ----------------------------------------------------------------------------

    def _get_pull(self, request: Request, repo: str, body: Any, number: str):
        pull = self._pull_or_404(repo, number)
        return pull if isinstance(pull, JSONResponse) else self._json(200, self._pull_object(pull))

    def _update_pull(self, request: Request, repo: str, body: Any, number: str):
        pull = self._pull_or_404(repo, number)
        if isinstance(pull, JSONResponse):
            return pull
        if "body" in body:
            pull.body = body["body"]
        if "title" in body:
            pull.title = body["title"]
        return self._json(200, self._pull_object(pull))

    def _list_files(self, request: Request, repo: str, body: Any, number: str):
        pull = self._pull_or_404(repo, number)
        return (
            pull
            if isinstance(pull, JSONResponse)
            else self._paginate(request, self._pull_files(pull))
        )

    def _contents(self, request: Request, repo: str, body: Any, path: str):
        ref = request.query_params.get("ref")
        commit = self.commits.get(ref or "")
        if commit is None or path not in commit["files"]:
            return self._json(
                404, {"message": "Not Found", "documentation_url": f"{API_DOCS}/repos/contents"}
            )
        data = commit["files"][path]
        encoded = base64.encodebytes(data).decode()  # GitHub wraps base64 at 60-76 columns
        big = len(data) > 1_000_000
        url = self._api(f"repos/{repo}/contents/{path}?ref={ref}")
        return self._json(
            200,
            {
                "type": "file",
                "encoding": "none" if big else "base64",
                "size": len(data),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": "" if big else encoded,
                "sha": _sha(path, data),
                "url": url,
                "git_url": self._api(f"repos/{repo}/git/blobs/{_sha(path, data)}"),
                "html_url": f"https://github.com/{repo}/blob/{ref}/{path}",
                "download_url": f"https://raw.githubusercontent.com/{repo}/{ref}/{path}",
                "_links": {"self": url, "git": url, "html": url},
            },
        )

    def _commit_object(self, repo: str, sha: str) -> dict[str, Any]:
        parent = self.commits[sha]["parent"]
        person = {"name": "Octo Cat", "email": "octocat@github.com", "date": _now()}
        return {
            "url": self._api(f"repos/{repo}/commits/{sha}"),
            "sha": sha,
            "node_id": "C_" + sha[:8],
            "html_url": f"https://github.com/{repo}/commit/{sha}",
            "comments_url": self._api(f"repos/{repo}/commits/{sha}/comments"),
            "commit": {
                "url": self._api(f"repos/{repo}/git/commits/{sha}"),
                "author": person,
                "committer": person,
                "message": "change",
                "comment_count": 0,
                "tree": {"sha": _sha("tree", sha), "url": self._api("tree")},
            },
            "author": self._user("octocat"),
            "committer": self._user("octocat"),
            "parents": [{"sha": parent, "url": self._api(f"repos/{repo}/commits/{parent}")}]
            if parent
            else [],
        }

    def _ancestors(self, sha: str) -> list[str]:
        chain = []
        while sha:
            chain.append(sha)
            sha = self.commits[sha]["parent"]
        return chain

    def _compare(self, request: Request, repo: str, body: Any, basehead: str):
        base, _, head = basehead.partition("...")
        if base not in self.commits or head not in self.commits:
            return self._json(404, {"message": "Not Found"})
        head_line, base_line = self._ancestors(head), self._ancestors(base)
        if base == head:
            status, ahead, behind = "identical", 0, 0
        elif base in head_line:
            status, ahead, behind = "ahead", head_line.index(base), 0
        elif head in base_line:
            status, ahead, behind = "behind", 0, base_line.index(head)
        else:
            status, ahead, behind = "diverged", 1, 1
        merge_base = next((s for s in head_line if s in base_line), base)
        pull = next((p for p in self.pulls.values() if p.repo == repo), None)
        renames = pull.renames if pull else {}
        url = self._api(f"repos/{repo}/compare/{basehead}")
        commits = head_line[: head_line.index(base)] if status == "ahead" else [head]
        return self._json(
            200,
            {
                "url": url,
                "html_url": url,
                "permalink_url": url,
                "diff_url": url + ".diff",
                "patch_url": url + ".patch",
                "base_commit": self._commit_object(repo, base),
                "merge_base_commit": self._commit_object(repo, merge_base),
                "status": status,
                "ahead_by": ahead,
                "behind_by": behind,
                "total_commits": len(commits),
                "commits": [self._commit_object(repo, c) for c in reversed(commits)],
                "files": self._snapshot_diff(repo, base, head, renames)[:300],
            },
        )

    def _create_review(self, request: Request, repo: str, body: Any, number: str):
        pull = self._pull_or_404(repo, number)
        if isinstance(pull, JSONResponse):
            return pull
        event = body.get("event")
        if event not in ("APPROVE", "REQUEST_CHANGES", "COMMENT"):
            return self._unprocessable("event must be APPROVE, REQUEST_CHANGES or COMMENT")
        commit_id = body.get("commit_id") or pull.head_sha
        if commit_id != pull.head_sha:
            return self._unprocessable("commit_id is not the head of the pull request")
        files = {f["filename"]: f for f in self._pull_files(pull)}
        for comment in body.get("comments") or []:
            problem = self._comment_problem(comment, files)
            if problem:
                return self._unprocessable(problem)
        state = {
            "APPROVE": "APPROVED",
            "REQUEST_CHANGES": "CHANGES_REQUESTED",
            "COMMENT": "COMMENTED",
        }[event]
        review_id = next(self._ids)
        review = {
            "id": review_id,
            "node_id": f"PRR_{review_id}",
            "user": self._bot(),
            "body": body.get("body") or "",
            "state": state,
            "html_url": f"https://github.com/{repo}/pull/{number}#pullrequestreview-{review_id}",
            "pull_request_url": self._api(f"repos/{repo}/pulls/{number}"),
            "_links": {"html": {"href": "https://github.com"}, "pull_request": {"href": "x"}},
            "submitted_at": _now(),
            "commit_id": commit_id,
            "author_association": "NONE",
        }
        self.reviews.setdefault((repo, int(number)), []).append(review)
        for comment in body.get("comments") or []:
            self._store_review_comment(
                repo, int(number), review_id, commit_id, comment, files[comment["path"]]
            )
        return self._json(200, review)

    def _comment_problem(self, comment: dict[str, Any], files: dict[str, Any]) -> str | None:
        path, line = comment.get("path"), comment.get("line")
        side = comment.get("side", "RIGHT")
        if path not in files:
            return "Path could not be resolved"
        if not isinstance(line, int):
            return "line is required (position is deprecated)"
        lines = diff_lines(files[path].get("patch"))
        if (side, line) not in lines:
            return (
                "Pull request review thread line must be part of the diff and Pull request "
                "review thread diff hunk can't be blank"
            )
        start = comment.get("start_line")
        if start is not None:
            start_side = comment.get("start_side", side)
            if start_side != side or start >= line:
                return "start_line must precede line on the same side"
            if lines.get((side, start)) != lines[(side, line)]:
                return "Pull request review thread start line must be part of the same hunk"
        if not comment.get("body"):
            return "body can't be blank"
        return None

    def _store_review_comment(
        self,
        repo: str,
        number: int,
        review_id: int,
        commit_id: str,
        comment: dict[str, Any],
        file: dict[str, Any],
        in_reply_to: int | None = None,
    ) -> dict[str, Any]:
        comment_id = next(self._ids)
        position = diff_position(file.get("patch"), comment.get("side", "RIGHT"), comment["line"])
        stored = {
            "url": self._api(f"repos/{repo}/pulls/comments/{comment_id}"),
            "pull_request_review_id": review_id,
            "id": comment_id,
            "node_id": f"PRRC_{comment_id}",
            "diff_hunk": (file.get("patch") or "")[:400],
            "path": comment["path"],
            "commit_id": commit_id,
            "original_commit_id": commit_id,
            "user": self._bot(),
            "body": comment["body"],
            "created_at": _now(),
            "updated_at": _now(),
            "html_url": f"https://github.com/{repo}/pull/{number}#discussion_r{comment_id}",
            "pull_request_url": self._api(f"repos/{repo}/pulls/{number}"),
            "author_association": "NONE",
            "_links": {"self": {"href": "x"}, "html": {"href": "x"}, "pull_request": {"href": "x"}},
            "line": comment.get("line"),
            "side": comment.get("side", "RIGHT"),
            "start_line": comment.get("start_line"),
            "start_side": comment.get("start_side"),
            "original_line": comment.get("line"),
            "position": position,  # the deprecated diff position; line/side replace it
            "original_position": position,
            "subject_type": "line",
        }
        if in_reply_to is not None:
            stored["in_reply_to_id"] = in_reply_to
        self.review_comments[comment_id] = stored
        return stored

    def _list_reviews(self, request: Request, repo: str, body: Any, number: str):
        return self._paginate(request, self.reviews.get((repo, int(number)), []))

    def _review_comments(self, request: Request, repo: str, body: Any, number: str, review_id: str):
        found = [
            c
            for c in self.review_comments.values()
            if c["pull_request_review_id"] == int(review_id)
        ]
        return self._paginate(request, found)

    def _get_review_comment(self, request: Request, repo: str, body: Any, comment_id: str):
        comment = self.review_comments.get(int(comment_id))
        return self._json(200, comment) if comment else self._json(404, {"message": "Not Found"})

    def _reply(self, request: Request, repo: str, body: Any, number: str, comment_id: str):
        root = self.review_comments.get(int(comment_id))
        if root is None or not body.get("body"):
            return self._json(404, {"message": "Not Found"})
        reply = self._store_review_comment(
            repo,
            int(number),
            root["pull_request_review_id"],
            root["commit_id"],
            {
                "path": root["path"],
                "line": root["line"],
                "side": root["side"],
                "body": body["body"],
            },
            {"patch": root["diff_hunk"]},
            in_reply_to=root["id"],
        )
        return self._json(201, reply)

    def _issue_comment(
        self, repo: str, number: int, body: str, *, by_app: int | None, login: str
    ) -> dict[str, Any]:
        comment_id = next(self._ids)
        comment = {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": self._api(f"repos/{repo}/issues/comments/{comment_id}"),
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
            "body": body,
            "user": self._bot() if by_app else self._user(login),
            "created_at": _now(),
            "updated_at": _now(),
            "issue_url": self._api(f"repos/{repo}/issues/{number}"),
            "author_association": "NONE" if by_app else "OWNER",
            "performed_via_github_app": self._app_object() | {"id": by_app} if by_app else None,
        }
        return comment

    def _list_issue_comments(self, request: Request, repo: str, body: Any, number: str):
        return self._paginate(request, self.issue_comments.get((repo, int(number)), []))

    def _create_issue_comment(self, request: Request, repo: str, body: Any, number: str):
        if not body.get("body"):
            return self._unprocessable("body can't be blank")
        comment = self._issue_comment(repo, int(number), body["body"], by_app=self.app_id, login="")
        self.issue_comments.setdefault((repo, int(number)), []).append(comment)
        return self._json(201, comment)

    def _update_issue_comment(self, request: Request, repo: str, body: Any, comment_id: str):
        for comments in self.issue_comments.values():
            for comment in comments:
                if comment["id"] == int(comment_id):
                    if (comment.get("performed_via_github_app") or {}).get("id") != self.app_id:
                        return self._json(
                            403, {"message": "Resource not accessible by integration"}
                        )
                    comment.update(body=body["body"], updated_at=_now())
                    return self._json(200, comment)
        return self._json(404, {"message": "Not Found"})

    def _add_labels(self, request: Request, repo: str, body: Any, number: str):
        names = body.get("labels") if isinstance(body, dict) else body
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return self._unprocessable("labels must be a list of names")
        have = self.labels.setdefault((repo, int(number)), [])
        have.extend(n for n in names if n not in have)
        return self._json(
            200,
            [
                {
                    "id": int(_sha(n)[:7], 16),
                    "node_id": f"LA_{n}",
                    "name": n,
                    "color": "ededed",
                    "url": self._api(f"repos/{repo}/labels/{n}"),
                    "description": None,
                    "default": False,
                    "archived_at": None,
                    "archived_by": None,
                }
                for n in have
            ],
        )

    def _create_check_run(self, request: Request, repo: str, body: Any):
        if not body.get("name") or not body.get("head_sha"):
            return self._unprocessable("name and head_sha are required")
        if body["head_sha"] not in self.commits:
            return self._unprocessable("No commit found for SHA: " + body["head_sha"])
        run_id = next(self._ids)
        run = {
            "id": run_id,
            "head_sha": body["head_sha"],
            "node_id": f"CR_{run_id}",
            "external_id": body.get("external_id") or "",
            "url": self._api(f"repos/{repo}/check-runs/{run_id}"),
            "html_url": f"https://github.com/{repo}/runs/{run_id}",
            "details_url": None,
            "status": body.get("status", "queued"),
            "conclusion": None,
            "started_at": _now(),
            "completed_at": None,
            "name": body["name"],
            "output": {
                "title": None,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": self._api(f"repos/{repo}/check-runs/{run_id}/annotations"),
            },
            "check_suite": {"id": next(self._ids)},
            "app": self._app_object(),
            "pull_requests": [],
            "annotations": [],
            "updates": 0,
        }
        error = self._apply_check_update(run, body)
        if error:
            return error
        self.check_runs[run_id] = run
        return self._json(201, self._public_run(run))

    def _update_check_run(self, request: Request, repo: str, body: Any, run_id: str):
        run = self.check_runs.get(int(run_id))
        if run is None:
            return self._json(404, {"message": "Not Found"})
        error = self._apply_check_update(run, body)
        return error or self._json(200, self._public_run(run))

    def _apply_check_update(self, run: dict[str, Any], body: dict[str, Any]) -> Any:
        output = body.get("output") or {}
        notes = output.get("annotations") or []
        if len(notes) > 50:
            return self._unprocessable("Only 50 annotations are allowed per request")
        for note in notes:
            if not {"path", "start_line", "end_line", "annotation_level", "message"} <= set(note):
                return self._unprocessable("annotation is missing required fields")
            if note["annotation_level"] not in ("notice", "warning", "failure"):
                return self._unprocessable("annotation_level is not included in the list")
        if body.get("status") == "completed" and not body.get("conclusion"):
            return self._unprocessable("conclusion is required when status is completed")
        if output and not {"title", "summary"} <= set(output):
            return self._unprocessable("output needs title and summary")
        if len(output.get("summary") or "") > 65535:
            return self._unprocessable("output.summary is too long (maximum is 65535)")
        run["annotations"].extend(notes)
        run["updates"] += 1
        if output:
            run["output"].update(
                title=output["title"],
                summary=output["summary"],
                text=output.get("text"),
                annotations_count=len(run["annotations"]),
            )
        if "status" in body:
            run["status"] = body["status"]
        if body.get("conclusion"):
            run.update(conclusion=body["conclusion"], status="completed", completed_at=_now())
        return None

    def _public_run(self, run: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in run.items() if k not in ("annotations", "updates")}

    def _unprocessable(self, message: str) -> JSONResponse:
        return self._json(
            422,
            {
                "message": "Unprocessable Entity",
                "errors": [message],
                "documentation_url": API_DOCS,
                "status": "422",
            },
        )
