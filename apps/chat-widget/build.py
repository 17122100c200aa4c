"""Build the embeddable chat widget: minify ``src/widget.js`` with rjsmin.

Importable standalone (by path, no package needed); its only dependency is ``rjsmin``.
The shopbot service calls :func:`build` at start-up and serves the bytes at ``/widget.js``.

    python apps/chat-widget/build.py   # writes dist/widget.min.js and prints its size
"""

from __future__ import annotations

import sys
from pathlib import Path

import rjsmin

HERE = Path(__file__).resolve().parent
WIDGET_SOURCE = HERE / "src" / "widget.js"
DIST = HERE / "dist" / "widget.min.js"
MAX_BYTES = 30 * 1024


def build(source: Path = WIDGET_SOURCE) -> bytes:
    """The minified widget as UTF-8 bytes (the ``/*! ... */`` licence banner is kept)."""
    text = source.read_text(encoding="utf-8")
    return rjsmin.jsmin(text, keep_bang_comments=True).encode("utf-8")


def main() -> int:
    data = build()
    DIST.parent.mkdir(parents=True, exist_ok=True)
    DIST.write_bytes(data)
    size = len(data)
    source = WIDGET_SOURCE.stat().st_size
    print(f"{DIST}: {size} bytes ({size / 1024:.1f} KiB; source {source} bytes; limit {MAX_BYTES})")
    return 0 if size <= MAX_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
