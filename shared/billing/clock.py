"""The time billing decisions use (grace periods, usage periods, staleness).

Every billing module reads the time through ``now()``, never SQL ``now()``, so a test can
move it (``monkeypatch.setattr(clock, "now", ...)``) instead of sleeping through a grace period.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def from_unix(seconds: int | float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
