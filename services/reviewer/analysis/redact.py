"""Keep secret values out of everything the reviewer writes or sends.

A review comment that quotes the leaked key leaks it a second time, and a prompt that carries
it hands it to whatever LLM endpoint is configured. The redactor learns the exact values on
lines the secret scanners flagged, and also masks well-known token shapes, keyword
assignments and long high-entropy strings wherever they turn up.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

MASK = "[REDACTED]"

_TOKEN_SHAPES = [
    re.compile(p)
    for p in (
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"\bgh[pousr]_[A-Za-z0-9]{20,}\b",
        r"\bgithub_pat_[A-Za-z0-9_]{20,}\b",
        r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b",
        r"\bsk-(?:proj-|live_|test_)?[A-Za-z0-9_-]{20,}\b",
        r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b",
        r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b",
        r"\bAIza[0-9A-Za-z_-]{35}\b",
        r"\bnpm_[A-Za-z0-9]{36}\b",
        r"\bpypi-[A-Za-z0-9_-]{50,}\b",
    )
]
# `password = "..."`, `API_KEY: ...`, `token=...` (Python, YAML, .env, JSON).
_KEYWORD_ASSIGNMENT = re.compile(
    r"""(?ix)
    (?P<key>[\w.-]*(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|apikey|private[_-]?key
        |access[_-]?key|auth[_-]?key|credentials?|client[_-]?secret)[\w.-]*)
    (?P<sep>["']?\s*(?::=|=|:)\s*)
    (?P<q>["']?)(?P<value>[^\s"',;]{4,})(?P=q)
    """
)
_URL_CREDENTIALS = re.compile(r"(?P<pre>\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)(?P<value>[^\s@/]{3,})@")
_QUOTED = re.compile(r"""(["'])(?P<value>(?:(?!\1).){4,})\1""")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]{20,}")
_PLACEHOLDERS = {"none", "null", "true", "false", "changeme", "example", "xxxx", "redacted"}


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(token: str) -> bool:
    if len(token) < 20 or token.isalpha() or token.isdigit():
        return False
    classes = sum(
        (any(c.islower() for c in token), any(c.isupper() for c in token),
         any(c.isdigit() for c in token))
    )  # fmt: skip
    return classes >= 2 and _entropy(token) >= 3.7 and "_" not in token.strip("_")[:3]


class Redactor:
    """Replace secret values with ``[REDACTED]``; learns exact values from flagged lines."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values: set[str] = {v for v in values if len(v) >= 4}

    def learn_line(self, line: str) -> None:
        """Remember the secret-looking values on a line a scanner flagged."""
        for match in _QUOTED.finditer(line):
            self._add(match.group("value"))
        for match in _KEYWORD_ASSIGNMENT.finditer(line):
            self._add(match.group("value"))
        for match in _URL_CREDENTIALS.finditer(line):
            self._add(match.group("value"))
        for pattern in _TOKEN_SHAPES:
            for match in pattern.finditer(line):
                self._add(match.group(0))
        # Unquoted values: `KEY=value` in .env files, `key: value` in YAML.
        _, sep, rest = line.partition("=") if "=" in line else line.partition(":")
        rest = rest.strip().strip("\"',;")
        if sep and rest and not re.search(r"\s", rest):
            self._add(rest)

    def _add(self, value: str) -> None:
        value = value.strip()
        if len(value) >= 4 and value.lower() not in _PLACEHOLDERS:
            self.values.add(value)

    def __call__(self, text: str | None) -> str:
        if not text:
            return text or ""
        # Longest first, so a value that contains another is masked whole.
        for value in sorted(self.values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        for pattern in _TOKEN_SHAPES:
            text = pattern.sub(MASK, text)
        text = _URL_CREDENTIALS.sub(lambda m: m.group("pre") + MASK + "@", text)
        text = _KEYWORD_ASSIGNMENT.sub(_mask_assignment, text)
        return _LONG_TOKEN.sub(lambda m: MASK if _looks_random(m.group(0)) else m.group(0), text)


def _mask_assignment(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = match.group("q")
    if value.lower() in _PLACEHOLDERS or MASK in value or _is_reference(value, quote):
        return match.group(0)
    return f"{match.group('key')}{match.group('sep')}{quote}{MASK}{quote}"


def _is_reference(value: str, quote: str) -> bool:
    """A value that names where the secret comes from rather than being it."""
    if value.startswith(("$", "{", "<", "%")):  # ${{ secrets.X }}, {env}, <your-key>
        return True
    # Unquoted code: `password = settings.db_password`, `token = new_token()`.
    return not quote and re.fullmatch(r"[A-Za-z_][\w.]*(?:\(.*|\[.*)?", value) is not None
