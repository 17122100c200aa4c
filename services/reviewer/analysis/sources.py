"""Pull-request files from a local patch or a git range (the CLI's inputs).

For a patch, each file's head contents come from the working tree when it holds the patched
file; when it still holds the original, the patch is applied to it in memory; an added file
is rebuilt from the patch alone. For a git range, ``git show`` reads both sides. Git runs
read-only with external diff drivers and text conversion off, so a repository's own
configuration cannot make it run anything.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

from services.reviewer.analysis.checkout import safe_relpath
from services.reviewer.analysis.diff import (
    apply_patch,
    commentable,
    matches_new_side,
    parse_unified_diff,
    reconstruct_added,
)
from services.reviewer.config import CONFIG_PATH
from services.reviewer.model import FileChange

MAX_TEXT_BYTES = 2_000_000


class SourceError(RuntimeError):
    """The input cannot be read as a diff, or git refused; the message says why."""


def _read_text(path: Path) -> str | None:
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_TEXT_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def files_from_patch(text: str, root: Path) -> tuple[list[FileChange], list[str]]:
    """FileChanges for a unified diff, with head/base contents resolved against ``root``."""
    try:
        files = parse_unified_diff(text)
    except ValueError as exc:
        raise SourceError(str(exc)) from exc
    if not files:
        raise SourceError("the patch holds no file changes")
    notes: list[str] = []
    out: list[FileChange] = []
    for file in files:
        if file.patch is None or file.status == "removed":
            out.append(file)
            continue
        rel = safe_relpath(file.path)
        on_disk = _read_text(root.joinpath(*rel.parts)) if rel else None
        diffmap = commentable(file)
        head: str | None = None
        base: str | None = None
        if on_disk is not None and matches_new_side(on_disk, diffmap):
            head = on_disk
        elif file.status == "added":
            head = reconstruct_added(file.patch, file.path)
        else:
            prev = safe_relpath(file.previous_path or file.path)
            original = _read_text(root.joinpath(*prev.parts)) if prev else None
            if original is None and on_disk is not None:
                original = on_disk
            applied = apply_patch(original, file.patch, file.path) if original else None
            if applied is not None:
                head, base = applied, original
            else:
                notes.append(
                    f"{file.path}: the working tree holds neither side of the patch; "
                    "reviewed from the diff alone"
                )
        out.append(replace(file, head_text=head, base_text=base))
    return out, notes


# -- git ---------------------------------------------------------------------------------------


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    cmd = ["git", "-C", str(repo), "-c", "core.quotepath=off", "-c", "diff.noprefix=false",
           "-c", "core.fsmonitor=false", *args]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceError(f"git could not run: {exc}") from exc
    if check and proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip()
        raise SourceError(f"git {args[0]} failed: {message}")
    return proc


def parse_range(spec: str) -> tuple[str, str, str]:
    """``BASE..HEAD`` / ``BASE...HEAD`` / ``BASE`` -> (base, head, the argument for git diff)."""
    spec = spec.strip()
    if "..." in spec:
        base, _, head = spec.partition("...")
    elif ".." in spec:
        base, _, head = spec.partition("..")
    else:
        base, head = spec, ""
    head = head or "HEAD"
    for ref in (base, head):
        if not ref or ref.startswith("-") or any(c.isspace() for c in ref):
            raise SourceError(f"not a git range: {spec!r} (expected BASE..HEAD)")
    return base, head, spec if ".." in spec else f"{base}..{head}"


def show(repo: Path, ref: str, path: str) -> str | None:
    """``git show REF:PATH`` as text; None when absent, binary or too large."""
    proc = _git(repo, "show", f"{ref}:{path}", check=False)
    if proc.returncode != 0 or len(proc.stdout) > MAX_TEXT_BYTES or b"\x00" in proc.stdout[:8192]:
        return None
    try:
        return proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None


def files_from_git(repo: Path, spec: str) -> tuple[list[FileChange], str, str]:
    """FileChanges for a git range, with contents at both ends: (files, base, head)."""
    base, head, diff_arg = parse_range(spec)
    for ref in (base, head):
        _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    diff = _git(repo, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M",
                "--src-prefix=a/", "--dst-prefix=b/", diff_arg, "--")  # fmt: skip
    text = diff.stdout.decode("utf-8", errors="replace")
    if not text.strip():
        return [], base, head
    try:
        files = parse_unified_diff(text)
    except ValueError as exc:
        raise SourceError(str(exc)) from exc
    # With BASE...HEAD the old side is the merge base, not BASE itself.
    old_ref = base
    if "..." in spec:
        merge_base = _git(repo, "merge-base", base, head).stdout.decode().strip()
        old_ref = merge_base or base
    out = []
    for file in files:
        head_text = None if file.status == "removed" else show(repo, head, file.path)
        base_text = (
            None if file.status == "added" else show(repo, old_ref, file.previous_path or file.path)
        )
        out.append(replace(file, head_text=head_text, base_text=base_text))
    return out, base, head


def config_text_from_git(repo: Path, base: str) -> str | None:
    """The review config as of BASE (a pull request cannot rewrite its own review rules)."""
    return show(repo, base, CONFIG_PATH)
