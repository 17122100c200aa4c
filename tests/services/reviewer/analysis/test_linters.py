"""Real ruff, bandit and detect-secrets on real diffs; findings only on added lines."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from services.reviewer.analysis import linters
from services.reviewer.analysis.checkout import checkout
from services.reviewer.analysis.diff import commentable, is_valid
from services.reviewer.analysis.engine import review
from services.reviewer.analysis.linters import LinterRunner
from services.reviewer.config import ReviewConfig
from services.reviewer.model import Severity
from tests.services.reviewer.analysis.helpers import change

BEFORE = """\
import os


def load(path):
    with open(path) as fh:
        return fh.read()


def legacy(expr):
    return eval(expr)


def main():
    print(load("x"))
"""
AFTER = """\
import os
import subprocess


def load(path, cache={}):
    fh = open(path)
    return fh.read()


def legacy(expr):
    return eval(expr)


def run(cmd):
    try:
        return subprocess.call(cmd, shell=True)
    except:
        pass


def main():
    print(load("x"))
    if os.environ.get("X") == None:
        run("ls " + os.environ["Y"])
"""
# Secrets are assembled at run time so that this file itself holds none.
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
PASSWORD = "hunter2-" + "Corr3ct-Horse"
SECRETS_AFTER = f"""\
AWS_ACCESS_KEY_ID = "{AWS_KEY}"


def connect(db):
    password = "{PASSWORD}"
    return db.connect(user="app", password=password)
"""


@pytest.fixture(scope="module")
def lint_report():
    import asyncio

    files = [change("app/tasks.py", BEFORE, AFTER)]
    config = ReviewConfig(severity_threshold=Severity.INFO)
    return files, asyncio.run(review(files, config, None))


def test_findings_land_on_added_lines_finding_by_finding(lint_report) -> None:
    files, report = lint_report
    got = {(f.line, f.source, f.rule) for f in report.findings}
    assert got == {
        (5, "ruff", "B006"),  # mutable default argument
        (6, "ruff", "SIM115"),  # open() without a context manager
        (16, "bandit", "B602"),  # shell=True
        (17, "ruff", "E722"),  # bare except
        (17, "bandit", "B110"),  # try/except/pass
        (23, "ruff", "E711"),  # == None
    }
    diffmap = commentable(files[0])
    for f in report.findings:
        assert f.side == "RIGHT" and f.line in diffmap.added and is_valid(f, diffmap)
        assert f.path == "app/tasks.py"
    # eval() on line 11 is old code (a context line): not this PR's doing.
    assert not any(f.line == 11 for f in report.findings)
    # ruff's S602 repeats bandit's B602 on the same line: reported once.
    assert sum(1 for f in report.findings if f.line == 16) == 1
    by_rule = {f.rule: f for f in report.findings}
    assert by_rule["B602"].severity is Severity.HIGH and by_rule["B602"].category == "security"
    assert by_rule["B006"].category == "bug" and by_rule["E711"].severity is Severity.LOW
    assert report.reviewed == ["app/tasks.py"]
    # semgrep (installed by the bootstrap in its own virtualenv) ran without complaint.
    assert not any("semgrep" in n for n in report.notes), report.notes
    assert any("LLM unavailable" in n for n in report.notes)


async def test_secrets_are_found_and_never_quoted() -> None:
    files = [change("app/db.py", "def connect(db):\n    return db\n", SECRETS_AFTER)]
    report = await review(files, ReviewConfig(severity_threshold=Severity.INFO), None)
    secret_lines = {f.line for f in report.findings if f.category == "secret"}
    assert secret_lines == {1, 5}
    sources = {f.source for f in report.findings if f.category == "secret"}
    assert "detect-secrets" in sources
    blob = json.dumps([f.__dict__ for f in report.findings], default=str) + "".join(report.notes)
    assert AWS_KEY not in blob and PASSWORD not in blob and "hunter2" not in blob
    # One comment per secret line, even though several scanners saw it.
    assert len([f for f in report.findings if f.category == "secret"]) == 2


def _fake_tool(tmp_path: Path, name: str, script: str) -> Path:
    tool = tmp_path / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return tool


async def test_missing_crashing_and_hanging_linters_become_notes(monkeypatch, tmp_path) -> None:
    real = linters._python_tool
    crash = _fake_tool(tmp_path, "crash", "echo 'ruff: internal error' >&2\nexit 2\n")
    hang = _fake_tool(tmp_path, "hang", "sleep 5\n")

    def fake(module: str, script: str):
        if module == "ruff":
            return [str(crash)]
        if module == "bandit":
            return None
        if module == "detect_secrets":
            return [str(hang)]
        return real(module, script)

    monkeypatch.setattr(linters, "_python_tool", fake)
    files = [change("app/tasks.py", BEFORE, AFTER)]
    report = await review(files, ReviewConfig(), None, linter_timeout=1.0)
    notes = "\n".join(report.notes)
    assert "ruff failed (exit 2): ruff: internal error" in notes
    assert "bandit is not installed" in notes
    assert "detect-secrets timed out after 1s" in notes
    assert report.findings == [] and report.reviewed == ["app/tasks.py"]


def test_semgrep_output_is_mapped_when_semgrep_is_installed(monkeypatch, tmp_path) -> None:
    # semgrep itself is not installable offline with rules; its JSON contract is tested
    # through a stand-in binary that answers like semgrep does.
    answer = {
        "results": [
            {"check_id": "rules.js-eval-of-variable", "path": "web/app.js",
             "start": {"line": 2}, "end": {"line": 2},
             "extra": {"severity": "ERROR", "message": "eval of a variable",
                       "metadata": {"category": "security"}}},
            {"check_id": "rules.js-eval-of-variable", "path": "web/app.js",
             "start": {"line": 1}, "end": {"line": 1},
             "extra": {"severity": "ERROR", "message": "old code", "metadata": {}}},
        ]
    }  # fmt: skip
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _fake_tool(bindir, "semgrep", f"cat <<'EOF'\n{json.dumps(answer)}\nEOF\n")
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    files = [change("web/app.js", "const a = 1;\n", "const a = 1;\neval(userInput);\n")]
    diffmaps = {f.path: commentable(f) for f in files}
    with checkout(files) as tree:
        result = LinterRunner(tree, diffmaps).run(["semgrep"])
    assert result.notes == []
    [finding] = result.findings
    assert (finding.path, finding.line, finding.source) == ("web/app.js", 2, "semgrep")
    assert finding.severity is Severity.HIGH and finding.rule == "js-eval-of-variable"


def test_real_semgrep_runs_the_bundled_offline_rules() -> None:
    # The bootstrap installs semgrep in its own virtualenv; the rules ship with the reviewer.
    files = [change("web/app.js", "const a = 1;\n",
                    "const a = 1;\neval(userInput);\nel.innerHTML = userInput;\n")]  # fmt: skip
    diffmaps = {f.path: commentable(f) for f in files}
    with checkout(files) as tree:
        result = LinterRunner(tree, diffmaps).run(["semgrep"])
    assert result.notes == []
    assert {(f.line, f.rule, f.source) for f in result.findings} == {
        (2, "js-eval-of-variable", "semgrep"), (3, "js-innerhtml-assignment", "semgrep"),
    }  # fmt: skip
