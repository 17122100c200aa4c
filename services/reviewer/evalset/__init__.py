"""A labelled evaluation set for the review engine: small buggy changes, and clean ones.

Each ``*.toml`` file beside this one holds cases. A case has files (``before`` absent for an
added file) and labels: a path, the bug's line in the new file (given directly as ``line`` or
as ``match``, a piece of text found on exactly one line) and a category. The diffs are made
here with ``difflib`` in GitHub's "patch" form, so each case becomes exactly the FileChanges a
pull request would give the engine.

Sources: ``bandit_style.toml`` (the kinds of issue bandit's examples exercise, written anew),
``pylint_style.toml`` (pylint functional-test style bugs, written anew), ``hand_written.toml``
(everyday mistakes, several with no linter rule) and ``clean.toml`` (no findings expected).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from services.reviewer.model import FileChange

EVALSET_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Label:
    path: str
    line: int
    category: str


@dataclass(frozen=True)
class Case:
    id: str
    origin: str  # the file it came from, e.g. "hand_written"
    description: str
    files: tuple[FileChange, ...]
    labels: tuple[Label, ...]

    def unified_diff(self) -> str:
        """The case as a ``git diff``-style text (for the CLI or by hand)."""
        out = []
        for file in self.files:
            old = "/dev/null" if file.status == "added" else f"a/{file.path}"
            out.append(f"diff --git a/{file.path} b/{file.path}\n")
            if file.status == "added":
                out.append("new file mode 100644\n")
            out.append(f"--- {old}\n+++ b/{file.path}\n{file.patch}")
        return "".join(out)


def make_patch(before: str, after: str) -> str:
    """GitHub's ``patch`` field for a change: hunks only, three lines of context."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), n=3, lineterm="\n"
    )
    body = [ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines]
    return "".join(body[2:])  # drop the ---/+++ header


def _resolve(label: dict, files: dict[str, str], case_id: str) -> Label:
    path = label["path"]
    if path not in files:
        raise ValueError(f"{case_id}: label for unknown file {path}")
    if "line" in label:
        return Label(path, int(label["line"]), label["category"])
    hits = [n for n, text in enumerate(files[path].splitlines(), 1) if label["match"] in text]
    if len(hits) != 1:
        raise ValueError(f"{case_id}: match {label['match']!r} is on {len(hits)} lines, not 1")
    return Label(path, hits[0], label["category"])


def load_cases(directory: Path = EVALSET_DIR) -> list[Case]:
    cases: list[Case] = []
    for toml_file in sorted(directory.glob("*.toml")):
        data = tomllib.loads(toml_file.read_text(encoding="utf-8"))
        for raw in data.get("case", []):
            files: list[FileChange] = []
            after_texts: dict[str, str] = {}
            for f in raw["files"]:
                before = f.get("before")
                after = f["after"]
                patch = make_patch(before or "", after)
                files.append(
                    FileChange(
                        path=f["path"],
                        status="added" if before is None else "modified",
                        patch=patch,
                        additions=sum(1 for ln in patch.splitlines() if ln.startswith("+")),
                        deletions=sum(1 for ln in patch.splitlines() if ln.startswith("-")),
                        head_text=after,
                        base_text=before,
                    )
                )
                after_texts[f["path"]] = after
            labels = tuple(_resolve(lb, after_texts, raw["id"]) for lb in raw.get("labels", []))
            cases.append(
                Case(raw["id"], toml_file.stem, raw.get("description", ""), tuple(files), labels)
            )
    return cases
