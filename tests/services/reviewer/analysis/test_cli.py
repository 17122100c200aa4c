"""`ascent review` on a real patch and on a real git range: text, JSON, SARIF, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from shared.cli.main import app as ascent
from tests.services.reviewer.analysis.helpers import commit_all, git

BASE = """\
def load(path):
    with open(path) as fh:
        return fh.read()
"""
HEAD = """\
import subprocess


def load(path, cache={}):
    with open(path) as fh:
        return fh.read()


def run(cmd):
    return subprocess.call(cmd, shell=True)
"""

# The SARIF 2.1.0 schema is not available offline; this is the part of it our output uses,
# with the constraints that code-scanning uploads enforce.
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs", "$schema"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string", "minLength": 1},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {"id": {"type": "string"}},
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "invocations": {
                        "type": "array",
                        "items": {"type": "object", "required": ["executionSuccessful"]},
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message", "ruleId", "locations"],
                            "additionalProperties": False,
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {
                                    "type": "object",
                                    "required": ["text"],
                                    "properties": {"text": {"type": "string", "minLength": 1}},
                                },
                                "locations": {
                                    "type": "array",
                                    "items": {"$ref": "#/$defs/location"},
                                },
                                "partialFingerprints": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "properties": {"type": "object"},
                                "fixes": {"type": "array"},
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "location": {
            "type": "object",
            "required": ["physicalLocation"],
            "properties": {
                "physicalLocation": {
                    "type": "object",
                    "required": ["artifactLocation", "region"],
                    "properties": {
                        "artifactLocation": {
                            "type": "object",
                            "required": ["uri"],
                            "properties": {"uri": {"type": "string", "pattern": "^[^/]"}},
                        },
                        "region": {
                            "type": "object",
                            "required": ["startLine"],
                            "properties": {
                                "startLine": {"type": "integer", "minimum": 1},
                                "endLine": {"type": "integer", "minimum": 1},
                            },
                        },
                    },
                }
            },
        }
    },
}

runner = CliRunner()


@pytest.fixture
def patched_tree(git_repo: Path) -> tuple[Path, Path]:
    """A repository whose working tree holds the change, and the change as a patch file."""
    (git_repo / "tool.py").write_text(BASE)
    commit_all(git_repo, "base")
    (git_repo / "tool.py").write_text(HEAD)
    patch = git_repo.parent / "change.diff"
    patch.write_text(git(git_repo, "diff"))
    return git_repo, patch


def invoke(*args: str):
    return runner.invoke(ascent, ["review", *args], catch_exceptions=False)


def test_text_output_and_fail_on(patched_tree) -> None:
    repo, patch = patched_tree
    result = invoke(str(patch), "--no-llm", "--root", str(repo), "--fail-on", "high")
    assert result.exit_code == 1, result.output
    assert "tool.py:10: HIGH security [bandit B602]" in result.stdout
    assert "tool.py:4: MEDIUM bug [ruff B006]" in result.stdout
    assert "Reviewed fully: 1 file(s)." in result.stdout
    assert (
        invoke(str(patch), "--no-llm", "--root", str(repo), "--fail-on", "critical").exit_code == 0
    )


def test_json_output_from_the_original_tree(patched_tree) -> None:
    repo, patch = patched_tree
    git(repo, "checkout", "--", "tool.py")  # working tree back at BASE: the patch is applied
    result = invoke(str(patch), "--no-llm", "--root", str(repo), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {(f["line"], f["rule"]) for f in data["findings"]} == {(4, "B006"), (10, "B602")}
    assert data["counts"]["high"] == 1 and data["reviewed"] == ["tool.py"]
    assert "LLM review is turned off: linters only." in data["notes"]


def test_sarif_output_is_structurally_valid(patched_tree) -> None:
    repo, patch = patched_tree
    result = invoke(str(patch), "--no-llm", "--root", str(repo), "--format", "sarif")
    assert result.exit_code == 0, result.output
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, SARIF_SUBSET)
    run = sarif["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules))
    for res in run["results"]:
        assert rules[res["ruleIndex"]] == res["ruleId"]
    levels = {res["ruleId"]: res["level"] for res in run["results"]}
    assert levels == {"bandit/B602": "error", "ruff/B006": "warning"}
    region = run["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] >= 1


def test_git_range_uses_the_config_at_base(git_repo: Path) -> None:
    (git_repo / ".ascent").mkdir()
    (git_repo / ".ascent" / "review.toml").write_text('exclude = ["scripts/**"]\nbogus = 1\n')
    (git_repo / "tool.py").write_text(BASE)
    commit_all(git_repo, "base")
    git(git_repo, "checkout", "-q", "-b", "feature")
    (git_repo / "tool.py").write_text(HEAD)
    (git_repo / "scripts").mkdir()
    (git_repo / "scripts" / "x.py").write_text("import os\nos.system('rm -rf ' + input())\n")
    # The PR tries to switch the excluded folder back on: the BASE config still rules.
    (git_repo / ".ascent" / "review.toml").write_text("")
    commit_all(git_repo, "feature")
    result = invoke("--git", "main..feature", "--no-llm", "--root", str(git_repo),
                    "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["skipped"]["scripts/x.py"] == "excluded by .ascent/review.toml"
    assert {(f["path"], f["line"], f["rule"]) for f in data["findings"]} == {
        ("tool.py", 4, "B006"),
        ("tool.py", 10, "B602"),
    }
    assert any("unknown key 'bogus'" in n for n in data["notes"])


def test_bad_inputs_exit_2(tmp_path: Path, git_repo: Path) -> None:
    not_a_diff = tmp_path / "x.diff"
    not_a_diff.write_text("hello\n")
    assert invoke(str(not_a_diff), "--no-llm").exit_code == 2
    assert invoke("--no-llm").exit_code == 2  # neither a patch nor --git
    assert invoke("--git", "--evil..HEAD", "--root", str(git_repo)).exit_code == 2
    assert invoke(str(not_a_diff), "--fail-on", "severe").exit_code == 2
