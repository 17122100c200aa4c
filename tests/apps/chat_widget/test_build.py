"""apps/chat-widget/build.py: the minified widget is small and really minified."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

LIMIT = 30 * 1024
WIDGET_DIR = Path(__file__).resolve().parents[3] / "apps" / "chat-widget"


def test_minified_widget_is_at_most_30_kb_and_really_minified(build_module) -> None:
    build = build_module
    assert Path(build.WIDGET_SOURCE) == WIDGET_DIR / "src" / "widget.js"
    source = Path(build.WIDGET_SOURCE).read_text(encoding="utf-8")
    out = build.build()
    assert isinstance(out, bytes)
    assert len(out) <= LIMIT, f"widget.min.js is {len(out)} bytes (limit {LIMIT})"
    # Minification ran: comments and indentation are gone, the licence banner is kept.
    assert len(out) < 0.8 * len(source.encode())
    text = out.decode()
    assert text.startswith("/*! Ascent shopbot chat widget")
    assert "// ----" in source and "// ----" not in text
    assert "rjsmin does not" not in text
    assert "\n  " not in text.split("const CSS=")[0]
    assert text.count("\n") < 120  # only the CSS template literal keeps its lines
    # Strings and the CSS survive untouched.
    assert "ascent-shopbot:" in text and "@media (max-width:479.98px)" in text


def test_build_main_writes_dist(build_module, tmp_path: Path, monkeypatch, capsys) -> None:
    build = build_module
    monkeypatch.setattr(build, "DIST", tmp_path / "dist" / "widget.min.js")
    assert build.main() == 0
    written = (tmp_path / "dist" / "widget.min.js").read_bytes()
    assert written == build.build()
    assert re.search(rf"\b{len(written)} bytes\b", capsys.readouterr().out)


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_minified_widget_parses(widget_js: bytes) -> None:
    out = widget_js
    result = subprocess.run(
        ["node", "--check", "--input-type=commonjs"], input=out, capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stderr.decode()
