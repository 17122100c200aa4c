"""Deterministic analyzers: ruff, bandit, detect-secrets and (when installed) semgrep.

Each runs as a subprocess with a timeout over the scratch checkout, never over a real working
tree, and with its own configuration only (``--isolated``): a pull request cannot switch its
checks off by adding a config file. Findings are kept only on lines the change adds, like
reviewdog's "added" filter, so a PR is not blamed for the code around it. A linter that is
missing, times out or crashes becomes a note in the report, never a failed review.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.reviewer.analysis.checkout import Checkout
from services.reviewer.analysis.diff import DiffMap
from services.reviewer.model import Category, Finding, Severity, Source

LINTERS: tuple[Source, ...] = ("ruff", "bandit", "detect-secrets", "semgrep")
PYTHON_SUFFIXES = (".py", ".pyi")
DEFAULT_TIMEOUT = 120.0

# Bugs and security first; pure style stays out (a junior reviewer does not nitpick
# formatting a formatter would fix). S overlaps bandit; duplicates are merged below.
RUFF_SELECT = (
    "E9", "E711", "E712", "E713", "E714", "E721", "E722", "F", "B", "S", "BLE", "ASYNC", "T10",
    "PLE", "PLW0120", "PLW0127", "PLW0128", "PLW0129", "PLW0131", "PLW0177", "PLW0211",
    "PLW0602", "PLW0711", "PLW1501", "PLW1508", "PLW1509", "PLW1510", "PLW2101", "PLW3301",
    "RUF006", "RUF013", "SIM115", "PLR0124", "PLR1704",
)  # fmt: skip
RUFF_IGNORE = ("S101", "S404", "S603", "S607", "B905")
# assert, list-argument subprocess calls, and imports whose calls have their own checks
BANDIT_SKIP = ("B101", "B403", "B404", "B405", "B406", "B407", "B408", "B409", "B410", "B603")
# Rules whose messages quote the secret itself: the message is written afresh instead.
SECRET_RULES = {"S105", "S106", "S107", "B105", "B106", "B107"}
HIGH_RUFF = {
    "E9", "F821", "F822", "F823", "F631", "F632", "F701", "F702", "F704", "F706", "F707",
    "PLE", "S102", "S301", "S307", "S506", "S602", "S605", "S608", "S501", "S324", "S113",
}  # fmt: skip
LOW_RUFF = {"F401", "F841", "F811", "F541", "B007", "B009", "B010", "B018", "RUF013", "T10"}
BUG_SECURITY_RULES = {"S110", "S112", "B110", "B112"}  # swallowed errors are bugs
MEDIUM_BUGS = {"E722", "SIM115", "PLW1510"}


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flagged_lines: dict[str, set[int]] = field(default_factory=dict)  # secret lines per path
    unread: dict[str, str] = field(default_factory=dict)  # path -> why linters could not read it


def _python_tool(module: str, script: str) -> list[str] | None:
    """How to start a tool installed in this environment (the venv's bin may not be on PATH)."""
    candidate = Path(sys.executable).parent / script
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which(script)
    if found:
        return [found]
    import importlib.util

    if importlib.util.find_spec(module) is not None:
        return [sys.executable, "-m", module]
    return None


def _run(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _ruff_severity(code: str) -> tuple[Severity, Category]:
    if code in SECRET_RULES:
        return Severity.HIGH, "secret"
    if code in BUG_SECURITY_RULES or code in MEDIUM_BUGS:
        return Severity.MEDIUM, "bug"
    high = any(code == r or (len(r) <= 3 and code.startswith(r)) for r in HIGH_RUFF)
    if re.fullmatch(r"S\d+", code):  # flake8-bandit (not SIM, not SLF)
        return (Severity.HIGH if high else Severity.MEDIUM), "security"
    if high:
        return Severity.HIGH, "bug"
    if code in LOW_RUFF:
        return Severity.LOW, "maintainability"
    if code.startswith(("E7", "PLW")):
        return Severity.LOW, "bug"
    return Severity.MEDIUM, "bug"


def _bandit_severity(item: dict[str, Any]) -> Severity:
    severity = Severity.parse(str(item.get("issue_severity", "MEDIUM")))
    # Low confidence lowers the severity a step: bandit guesses on names and shapes.
    if str(item.get("issue_confidence", "")).upper() == "LOW" and severity > Severity.INFO:
        severity = Severity(severity - 1)
    return severity


def _secret_message(rule: str, kind: str, source: str) -> str:
    return (
        f"Possible hard-coded secret ({kind}, {source} {rule}). The value is not repeated "
        "here. Load it from configuration or a secret store, and rotate it if it was ever "
        "pushed."
    )


class LinterRunner:
    """Runs the enabled linters over a checkout and maps their output to added lines."""

    def __init__(
        self,
        checkout: Checkout,
        diffmaps: Mapping[str, DiffMap],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        semgrep_config: Path | None = None,
    ) -> None:
        self.checkout = checkout
        self.diffmaps = diffmaps
        self.timeout = timeout
        self.semgrep_config = semgrep_config or Path(__file__).with_name("semgrep_rules.yml")

    # -- mapping --------------------------------------------------------------------------

    def _added_line(self, path: str, start: int, end: int | None = None) -> int | None:
        """The first added line of the reported range, or None (not this PR's change)."""
        diffmap = self.diffmaps.get(path)
        if diffmap is None:
            return None
        if start in diffmap.added:
            return start
        for line in range(start + 1, min(end or start, start + 50) + 1):
            if line in diffmap.added:
                return line
        return None

    def _finding(self, path: str, line: int, **kwargs: Any) -> Finding:
        return Finding(path=path, line=line, side="RIGHT", **kwargs)

    def _python_files(self) -> list[str]:
        return sorted(
            str(p.relative_to(self.checkout.root))
            for rel, p in self.checkout.files.items()
            if rel.endswith(PYTHON_SUFFIXES)
        )

    # -- ruff -----------------------------------------------------------------------------

    def ruff(self) -> tuple[list[Finding], str | None]:
        files = self._python_files()
        if not files:
            return [], None
        exe = _python_tool("ruff", "ruff")
        if exe is None:
            return [], "ruff is not installed; its checks were skipped"
        cmd = [*exe, "check", "--output-format", "json", "--no-cache", "--isolated",
               "--target-version", "py311", "--exit-zero", "--select", ",".join(RUFF_SELECT),
               "--ignore", ",".join(RUFF_IGNORE), "--", *files]  # fmt: skip
        proc = _run(cmd, self.checkout.root, self.timeout)
        if proc.returncode != 0:
            return [], f"ruff failed (exit {proc.returncode}): {_tail(proc.stderr)}"
        findings: list[Finding] = []
        for item in json.loads(proc.stdout or "[]"):
            path = self.checkout.repo_path(item.get("filename", ""))
            code = item.get("code") or "E999"  # syntax errors come without a code
            location = item.get("location") or {}
            end = (item.get("end_location") or {}).get("row")
            line = self._added_line(path, int(location.get("row", 0)), end) if path else None
            if path is None or line is None:
                continue
            severity, category = _ruff_severity(code)
            message = (
                _secret_message(code, "password or key", "ruff")
                if code in SECRET_RULES
                else str(item.get("message", "")).strip()
            )
            findings.append(self._finding(path, line, severity=severity, category=category,
                                          message=message, source="ruff", rule=code))  # fmt: skip
        return findings, None

    # -- bandit ---------------------------------------------------------------------------

    def bandit(self) -> tuple[list[Finding], str | None]:
        files = self._python_files()
        if not files:
            return [], None
        exe = _python_tool("bandit", "bandit")
        if exe is None:
            return [], "bandit is not installed; its checks were skipped"
        cmd = [*exe, "-f", "json", "-q", "-s", ",".join(BANDIT_SKIP), "--", *files]
        proc = _run(cmd, self.checkout.root, self.timeout)
        # bandit exits 1 when it found issues; only unreadable output is a failure.
        try:
            data = json.loads(proc.stdout or "")
        except json.JSONDecodeError:
            return [], f"bandit failed (exit {proc.returncode}): {_tail(proc.stderr)}"
        findings: list[Finding] = []
        for item in data.get("results", []):
            path = self.checkout.repo_path(item.get("filename", ""))
            rng = item.get("line_range") or [item.get("line_number", 0)]
            start = int(item.get("line_number", 0))
            line = self._added_line(path, start, max(rng)) if path else None
            if path is None or line is None:
                continue
            rule = str(item.get("test_id", ""))
            if rule in SECRET_RULES:
                category: Category = "secret"
                message = _secret_message(rule, "password", "bandit")
                severity = Severity.HIGH
            elif rule in BUG_SECURITY_RULES:
                category = "bug"
                message = f"{item.get('issue_text', '').strip()} ({item.get('test_name', rule)})"
                severity = Severity.MEDIUM
            else:
                category = "security"
                message = f"{item.get('issue_text', '').strip()} ({item.get('test_name', rule)})"
                severity = _bandit_severity(item)
            findings.append(self._finding(path, line, severity=severity, category=category,
                                          message=message, source="bandit", rule=rule))  # fmt: skip
        errors = data.get("errors") or []
        note = None
        if errors:
            names = ", ".join(sorted({self.checkout.repo_path(e.get("filename", "")) or "?"
                                      for e in errors}))  # fmt: skip
            note = f"bandit could not parse {len(errors)} file(s): {names}"
        return findings, note

    # -- detect-secrets -------------------------------------------------------------------

    def detect_secrets(self) -> tuple[list[Finding], str | None]:
        if not self.checkout.files:
            return [], None
        exe = _python_tool("detect_secrets", "detect-secrets")
        if exe is None:
            return [], "detect-secrets is not installed; the secret scan was skipped"
        files = sorted(str(p.relative_to(self.checkout.root)) for p in self.checkout.files.values())
        proc = _run([*exe, "scan", "--", *files], self.checkout.root, self.timeout)
        try:
            data = json.loads(proc.stdout or "")
        except json.JSONDecodeError:
            return [], f"detect-secrets failed (exit {proc.returncode}): {_tail(proc.stderr)}"
        findings: list[Finding] = []
        for filename, items in (data.get("results") or {}).items():
            path = self.checkout.repo_path(filename)
            if path is None:
                continue
            by_line: dict[int, list[str]] = {}
            for item in items:
                by_line.setdefault(int(item.get("line_number", 0)), []).append(str(item["type"]))
            for number, kinds in sorted(by_line.items()):
                line = self._added_line(path, number)
                if line is None:
                    continue
                kind = ", ".join(sorted(set(kinds)))
                # Only the kind and the line: never the value, nor even its hash.
                message = (
                    f"Possible secret committed: {kind}. The value is not repeated here. "
                    "Remove it, load it from configuration or a secret store, and rotate it: "
                    "it stays in the git history."
                )
                findings.append(self._finding(path, line, severity=Severity.HIGH,
                                              category="secret", message=message,
                                              source="detect-secrets",
                                              rule=kinds[0].replace(" ", "")))  # fmt: skip
        return findings, None

    # -- semgrep --------------------------------------------------------------------------

    def semgrep(self) -> tuple[list[Finding], str | None]:
        if not self.checkout.files:
            return [], None
        exe = shutil.which("semgrep") or (
            str(Path(sys.executable).parent / "semgrep")
            if (Path(sys.executable).parent / "semgrep").exists()
            else None
        )
        if exe is None:
            return [], "semgrep is not installed (it needs offline rules); its checks were skipped"
        if not self.semgrep_config.exists():
            return [], f"semgrep rules {self.semgrep_config} are missing; semgrep was skipped"
        files = sorted(str(p.relative_to(self.checkout.root)) for p in self.checkout.files.values())
        cmd = [exe, "scan", "--json", "--quiet", "--metrics", "off", "--disable-version-check",
               "--config", str(self.semgrep_config), "--", *files]  # fmt: skip
        proc = _run(cmd, self.checkout.root, self.timeout)
        try:
            data = json.loads(proc.stdout or "")
        except json.JSONDecodeError:
            return [], f"semgrep failed (exit {proc.returncode}): {_tail(proc.stderr)}"
        findings: list[Finding] = []
        for item in data.get("results", []):
            path = self.checkout.repo_path(item.get("path", ""))
            start = int((item.get("start") or {}).get("line", 0))
            end = (item.get("end") or {}).get("line")
            line = self._added_line(path, start, end) if path else None
            if path is None or line is None:
                continue
            extra = item.get("extra") or {}
            severity = {"ERROR": Severity.HIGH, "WARNING": Severity.MEDIUM}.get(
                str(extra.get("severity", "")).upper(), Severity.LOW
            )
            metadata = extra.get("metadata") or {}
            category = metadata.get("category", "security")
            if category not in ("bug", "security", "performance", "maintainability", "style"):
                category = "security"
            rule = str(item.get("check_id", "semgrep")).rsplit(".", 1)[-1]
            findings.append(self._finding(path, line, severity=severity, category=category,
                                          message=str(extra.get("message", rule)).strip(),
                                          source="semgrep", rule=rule))  # fmt: skip
        return findings, None

    # -- all ------------------------------------------------------------------------------

    def run(
        self, enabled: Iterable[str], progress: Callable[[str], None] | None = None
    ) -> LintResult:
        result = LintResult()
        for name in LINTERS:
            if name not in enabled:
                continue
            if progress:
                progress(name)
            method = getattr(self, name.replace("-", "_"))
            try:
                findings, note = method()
            except subprocess.TimeoutExpired:
                findings, note = [], f"{name} timed out after {self.timeout:.0f}s; skipped"
            except (OSError, ValueError, KeyError, TypeError) as exc:
                findings, note = [], f"{name} crashed ({type(exc).__name__}: {exc}); skipped"
            if note:
                result.notes.append(note)
            result.findings.extend(findings)
        result.findings = merge_duplicates(result.findings)
        for finding in result.findings:
            if finding.category == "secret":
                result.flagged_lines.setdefault(finding.path, set()).add(finding.line)
        return result


def merge_duplicates(findings: list[Finding]) -> list[Finding]:
    """One finding per issue: ruff's S-rules repeat bandit's B-rules (S602 is B602), and a
    secret seen by several scanners is reported once, by the most specific one."""
    kept: dict[tuple[str, int, str], Finding] = {}
    order = {"detect-secrets": 0, "bandit": 1, "semgrep": 2, "ruff": 3, "llm": 4}
    for finding in sorted(findings, key=lambda f: order.get(f.source, 9)):
        rule = finding.rule or ""
        if finding.category == "secret":
            identity = "secret"
        elif finding.source == "ruff" and rule.startswith("S") and rule[1:].isdigit():
            identity = "B" + rule[1:]
        else:
            identity = rule or finding.message
        key = (finding.path, finding.line, identity)
        if key not in kept:
            kept[key] = finding
    return sorted(kept.values(), key=lambda f: (f.path, f.line, -f.severity, f.source))


def _tail(text: str, limit: int = 300) -> str:
    text = (text or "").strip().replace("\n", " ")
    return text[-limit:] or "no error output"
