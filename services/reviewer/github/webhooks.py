"""Webhook deliveries: the signature check and what each event asks the reviewer to do.

Both run on the request path, so they are pure and cheap: no database, no GitHub calls.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any, Literal

WorkKind = Literal["review", "incremental", "describe", "ask", "followup"]
INSTALLATION_EVENTS = ("installation", "installation_repositories")
# Who may run /review, /describe and /ask (besides the pull request's author): each costs
# LLM time, so drive-by commenters on public repositories cannot.
TRUSTED_ASSOCIATIONS = {"OWNER", "MEMBER", "COLLABORATOR"}
_COMMAND = re.compile(r"^\s*/(review|describe|ask)\b[ \t]*(.*)", re.IGNORECASE | re.DOTALL)


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is ``sha256=`` + HMAC-SHA256(secret, body), compared in constant
    time."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Work:
    """One thing a delivery asks for, on one pull request."""

    kind: WorkKind
    installation_id: int
    repository_id: int
    repository: str  # owner/name
    number: int
    question: str | None = None  # /ask, or the follow-up's text
    comment_id: int | None = None  # follow-up: the thread's first comment

    @property
    def lock(self) -> str:
        # Jobs of one pull request run one at a time (procrastinate lock).
        return f"reviewer:{self.repository_id}:{self.number}"


def classify(event: str, payload: dict[str, Any]) -> Work | None:
    """The work a delivery asks for, or None when the reviewer has nothing to do with it."""
    installation = payload.get("installation")
    repository = payload.get("repository")
    if not isinstance(installation, dict) or not isinstance(repository, dict):
        return None
    inst_id, repo_id = installation.get("id"), repository.get("id")
    full_name = repository.get("full_name")
    if not isinstance(inst_id, int) or not isinstance(repo_id, int) or not full_name:
        return None
    if _from_bot(payload):
        return None  # never answer ourselves (or other bots): no loops
    action = payload.get("action")
    base = {"installation_id": inst_id, "repository_id": repo_id, "repository": full_name}
    if event == "pull_request":
        pull = payload.get("pull_request") or {}
        number = payload.get("number") or pull.get("number")
        if not isinstance(number, int) or pull.get("state") == "closed":
            return None
        if action in ("opened", "reopened") and not pull.get("draft"):
            return Work("review", number=number, **base)
        if action == "ready_for_review":
            return Work("review", number=number, **base)
        if action == "synchronize" and not pull.get("draft"):
            return Work("incremental", number=number, **base)
        return None
    if event == "issue_comment" and action == "created":
        issue = payload.get("issue") or {}
        comment = payload.get("comment") or {}
        if not issue.get("pull_request") or not isinstance(issue.get("number"), int):
            return None  # a comment on a plain issue
        match = _COMMAND.match(str(comment.get("body") or ""))
        if not match or not _may_command(comment, issue):
            return None
        command, rest = match[1].lower(), match[2].strip()
        if command == "ask":
            if not rest:
                return None
            return Work("ask", number=issue["number"], question=rest[:2000], **base)
        return Work(command, number=issue["number"], **base)  # type: ignore[arg-type]
    if event == "pull_request_review_comment" and action == "created":
        comment = payload.get("comment") or {}
        pull = payload.get("pull_request") or {}
        root = comment.get("in_reply_to_id")
        if not isinstance(root, int) or not isinstance(pull.get("number"), int):
            return None
        return Work(
            "followup",
            number=pull["number"],
            comment_id=root,
            question=str(comment.get("body") or "")[:2000],
            **base,
        )
    return None


def _from_bot(payload: dict[str, Any]) -> bool:
    sender = payload.get("sender") or {}
    return sender.get("type") == "Bot" or str(sender.get("login", "")).endswith("[bot]")


def _may_command(comment: dict[str, Any], issue: dict[str, Any]) -> bool:
    if comment.get("author_association") in TRUSTED_ASSOCIATIONS:
        return True
    author, commenter = (issue.get("user") or {}).get("id"), (comment.get("user") or {}).get("id")
    return author is not None and author == commenter
