"""What a repository asks of its reviewer, read from ``.ascent/review.toml``.

The file is read at the pull request's BASE commit, so a pull request cannot loosen its own
review. Every key is optional. A bad value never stops a review: that key keeps its default
and ``ReviewConfig.errors`` says, in words a maintainer can act on, what was wrong.

```toml
include = ["src/**", "*.py"]         # globs; default: everything
exclude = ["docs/**", "**/migrations/**"]
severity_threshold = "low"           # info | low | medium | high | critical
analyzers = ["ruff", "bandit", "detect-secrets", "semgrep", "llm"]
instructions = "We use SQLAlchemy 2; flag raw SQL strings."
language = "English"                 # language of the comments
reflection_threshold = 5             # 0-10; LLM findings scored lower are dropped (0: no pass)
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from services.reviewer.model import Severity

ANALYZERS = ("ruff", "bandit", "detect-secrets", "semgrep", "llm")
MAX_INSTRUCTIONS = 2000
MAX_LANGUAGE = 40
MAX_GLOBS = 200
CONFIG_PATH = ".ascent/review.toml"


@dataclass(frozen=True)
class ReviewConfig:
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()
    severity_threshold: Severity = Severity.LOW
    analyzers: frozenset[str] = frozenset(ANALYZERS)
    instructions: str = ""
    language: str = "English"
    reflection_threshold: float = 5.0
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_toml(cls, text: str | None) -> ReviewConfig:
        """Parse the file's text; never raises. Problems go to ``errors``, defaults fill in."""
        if text is None or not text.strip():
            return cls()
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            return cls(errors=(f"{CONFIG_PATH} is not valid TOML ({exc}); using defaults",))
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReviewConfig:
        errors: list[str] = []
        values: dict[str, Any] = {}
        for key, value in data.items():
            parser = _PARSERS.get(key)
            if parser is None:
                errors.append(f"unknown key {key!r} (known: {', '.join(sorted(_PARSERS))})")
                continue
            try:
                values[key] = parser(value)
            except ValueError as exc:
                errors.append(f"{key}: {exc}; using the default")
        if isinstance(data.get("instructions"), str) and (
            len(data["instructions"]) > MAX_INSTRUCTIONS
        ):
            errors.append(
                f"instructions: {len(data['instructions'])} characters, more than "
                f"{MAX_INSTRUCTIONS}; the rest was cut"
            )
        return replace(cls(), **values, errors=tuple(errors))

    def wants(self, analyzer: str) -> bool:
        return analyzer in self.analyzers

    def selects(self, path: str) -> bool:
        """Whether ``path`` is in scope: matched by an include glob and no exclude glob."""
        return any(glob_match(g, path) for g in self.include) and not any(
            glob_match(g, path) for g in self.exclude
        )


def _globs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a list of non-empty glob strings")
    if len(value) > MAX_GLOBS:
        raise ValueError(f"at most {MAX_GLOBS} globs")
    for glob in value:
        _glob_regex(glob)
    return tuple(value)


def _severity(value: Any) -> Severity:
    if not isinstance(value, str):
        raise ValueError("expected one of " + ", ".join(s.name.lower() for s in Severity))
    try:
        return Severity.parse(value)
    except KeyError:
        names = ", ".join(s.name.lower() for s in Severity)
        raise ValueError(f"{value!r} is not a severity (one of {names})") from None


def _analyzers(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of analyzer names")
    unknown = [v for v in value if v not in ANALYZERS]
    if unknown:
        raise ValueError(f"unknown analyzer(s) {unknown} (known: {', '.join(ANALYZERS)})")
    return frozenset(value)


def _instructions(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value.strip()[:MAX_INSTRUCTIONS]


def _language(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a language name such as 'English'")
    if len(value) > MAX_LANGUAGE or not re.fullmatch(r"[\w ()\-]+", value.strip()):
        raise ValueError(f"expected a short language name (letters, at most {MAX_LANGUAGE})")
    return value.strip()


def _threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
        raise ValueError("expected a number from 0 to 10")
    return float(value)


_PARSERS = {
    "include": _globs,
    "exclude": _globs,
    "severity_threshold": _severity,
    "analyzers": _analyzers,
    "instructions": _instructions,
    "language": _language,
    "reflection_threshold": _threshold,
}


def glob_match(glob: str, path: str) -> bool:
    """gitignore-like matching: ``*`` stays within a folder, ``**`` crosses folders, and a
    glob without ``/`` matches the file name at any depth."""
    path = path.lstrip("/")
    regex = _glob_regex(glob)
    if regex.fullmatch(path):
        return True
    return "/" not in glob.strip("/") and regex.fullmatch(path.rsplit("/", 1)[-1]) is not None


@lru_cache(maxsize=512)
def _glob_regex(glob: str) -> re.Pattern[str]:
    glob = glob.strip().lstrip("/")
    if glob.endswith("/"):
        glob += "**"
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                raise ValueError(f"glob {glob!r} has an unclosed '['")
            body = glob[i + 1 : end].replace("\\", "\\\\")
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append(f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out))
