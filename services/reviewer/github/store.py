"""The reviewer's tables (``migrations/0001_reviewer_github.sql``): deliveries, installations,
review state per pull request, posted findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

# --- deliveries ------------------------------------------------------------------------------


async def record_delivery(
    conn: AsyncConnection, delivery_id: str, event: str, payload: dict[str, Any], raw: str
) -> bool:
    """Store a delivery (``raw`` is its JSON text, stored as sent); False when this
    X-GitHub-Delivery was seen before."""
    installation = payload.get("installation") or {}
    repository = payload.get("repository") or {}
    # jsonb refuses the NUL character; nothing the reviewer reads needs it.
    raw = raw.replace("\\u0000", "\\ufffd")
    cur = await conn.execute(
        "INSERT INTO reviewer_deliveries (id, event, action, installation_id, repository, payload)"
        " VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (id) DO NOTHING RETURNING id",
        (
            delivery_id,
            event,
            payload.get("action"),
            installation.get("id"),
            repository.get("full_name"),
            raw,
        ),
    )
    return await cur.fetchone() is not None


async def load_delivery(pool: AsyncConnectionPool, delivery_id: str) -> dict[str, Any] | None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, event, action, payload, processed_at, outcome"
            " FROM reviewer_deliveries WHERE id = %s",
            (delivery_id,),
        )
        return await cur.fetchone()


async def finish_delivery(pool: AsyncConnectionPool, delivery_id: str, outcome: str) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE reviewer_deliveries SET processed_at = now(), outcome = %s WHERE id = %s",
            (outcome[:500], delivery_id),
        )


async def prune_deliveries(pool: AsyncConnectionPool, older_than_days: int = 30) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "DELETE FROM reviewer_deliveries WHERE processed_at IS NOT NULL"
            " AND received_at < now() - make_interval(days => %s)",
            (older_than_days,),
        )
        return cur.rowcount


# --- installations -----------------------------------------------------------------------------


async def apply_installation_event(
    conn: AsyncConnection, event: str, payload: dict[str, Any]
) -> str:
    """Track ``installation`` / ``installation_repositories`` events; returns what changed."""
    installation = payload.get("installation") or {}
    if not isinstance(installation.get("id"), int):
        return "ignored: no installation id"
    inst_id = installation["id"]
    action = payload.get("action")
    account = installation.get("account") or {}
    await conn.execute(
        "INSERT INTO reviewer_installations (id, account, account_type, repository_selection)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET account = EXCLUDED.account,"
        " account_type = EXCLUDED.account_type,"
        " repository_selection = EXCLUDED.repository_selection, updated_at = now()",
        (
            inst_id,
            account.get("login") or "",
            account.get("type") or "User",
            installation.get("repository_selection") or "selected",
        ),
    )
    if event == "installation":
        if action == "deleted":
            await conn.execute(
                "UPDATE reviewer_installations SET deleted_at = now(), updated_at = now()"
                " WHERE id = %s",
                (inst_id,),
            )
            await conn.execute(
                "DELETE FROM reviewer_repositories WHERE installation_id = %s", (inst_id,)
            )
            return f"installation {inst_id} deleted"
        if action in ("suspend", "unsuspend"):
            await conn.execute(
                "UPDATE reviewer_installations SET suspended = %s, updated_at = now()"
                " WHERE id = %s",
                (action == "suspend", inst_id),
            )
            return f"installation {inst_id} {action}ed"
        await conn.execute(
            "UPDATE reviewer_installations SET deleted_at = NULL, suspended = false WHERE id = %s",
            (inst_id,),
        )
        await _add_repositories(conn, inst_id, payload.get("repositories") or [])
        return f"installation {inst_id} {action}"
    added = payload.get("repositories_added") or []
    removed = payload.get("repositories_removed") or []
    await _add_repositories(conn, inst_id, added)
    ids = [r["id"] for r in removed if isinstance(r, dict) and isinstance(r.get("id"), int)]
    if ids:
        await conn.execute(
            "DELETE FROM reviewer_repositories WHERE installation_id = %s AND id = ANY(%s)",
            (inst_id, ids),
        )
    return f"installation {inst_id}: {len(added)} repositories added, {len(ids)} removed"


async def _add_repositories(conn: AsyncConnection, inst_id: int, repos: list[Any]) -> None:
    rows = [
        (r["id"], inst_id, r.get("full_name") or "", bool(r.get("private")))
        for r in repos
        if isinstance(r, dict) and isinstance(r.get("id"), int)
    ]
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO reviewer_repositories (id, installation_id, full_name, private)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
            " installation_id = EXCLUDED.installation_id, full_name = EXCLUDED.full_name,"
            " private = EXCLUDED.private",
            rows,
        )


# --- pull requests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PullState:
    last_reviewed_sha: str | None = None
    summary_comment_id: int | None = None
    check_run_id: int | None = None
    check_run_sha: str | None = None


async def pull_state(pool: AsyncConnectionPool, repository_id: int, number: int) -> PullState:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT last_reviewed_sha, summary_comment_id, check_run_id, check_run_sha"
            " FROM reviewer_pulls WHERE repository_id = %s AND number = %s",
            (repository_id, number),
        )
        row = await cur.fetchone()
    return PullState(**row) if row else PullState()


_PULL_FIELDS = {"last_reviewed_sha", "summary_comment_id", "check_run_id", "check_run_sha"}


async def save_pull_state(
    pool: AsyncConnectionPool, repository_id: int, number: int, repository: str, **fields: Any
) -> None:
    unknown = set(fields) - _PULL_FIELDS
    if unknown:
        raise ValueError(f"unknown pull state fields: {sorted(unknown)}")
    columns = sorted(fields)
    # Column names come from the fixed set above, never from input.
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    async with pool.connection() as conn:
        await conn.execute(
            f"INSERT INTO reviewer_pulls (repository_id, number, repository"
            f"{''.join(', ' + c for c in columns)}) VALUES (%s, %s, %s"
            f"{', %s' * len(columns)}) ON CONFLICT (repository_id, number) DO UPDATE SET"
            f" repository = EXCLUDED.repository, updated_at = now()"
            f"{', ' + updates if updates else ''}",
            (repository_id, number, repository, *(fields[c] for c in columns)),
        )


@dataclass(frozen=True)
class PostedFinding:
    key: str
    path: str
    line: int
    side: str
    severity: int
    category: str
    source: str
    rule: str | None
    message: str
    anchor: str  # the commented line's text when it was posted
    comment_id: int | None = None


_POSTED_COLUMNS = (
    "key, path, line, side, severity, category, source, rule, message, anchor, comment_id"
)


async def posted_findings(
    pool: AsyncConnectionPool, repository_id: int, number: int
) -> list[PostedFinding]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_POSTED_COLUMNS} FROM reviewer_posted_findings"
            " WHERE repository_id = %s AND number = %s ORDER BY posted_at, key",
            (repository_id, number),
        )
        return [PostedFinding(**row) for row in await cur.fetchall()]


async def record_posted(
    pool: AsyncConnectionPool,
    repository_id: int,
    number: int,
    commit_sha: str,
    review_id: int | None,
    findings: list[PostedFinding],
) -> None:
    if not findings:
        return
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.executemany(
            f"INSERT INTO reviewer_posted_findings (repository_id, number, commit_sha, review_id,"
            f" {_POSTED_COLUMNS}) VALUES ({', '.join(['%s'] * 15)}) ON CONFLICT DO NOTHING",
            [
                (
                    repository_id,
                    number,
                    commit_sha,
                    review_id,
                    f.key,
                    f.path,
                    f.line,
                    f.side,
                    f.severity,
                    f.category,
                    f.source,
                    f.rule,
                    f.message,
                    f.anchor,
                    f.comment_id,
                )
                for f in findings
            ],
        )


async def finding_for_comment(
    pool: AsyncConnectionPool, repository_id: int, comment_id: int
) -> PostedFinding | None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_POSTED_COLUMNS} FROM reviewer_posted_findings"
            " WHERE repository_id = %s AND comment_id = %s",
            (repository_id, comment_id),
        )
        row = await cur.fetchone()
    return PostedFinding(**row) if row else None
