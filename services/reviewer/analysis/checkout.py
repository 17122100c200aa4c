"""A scratch copy of a pull request's changed text files, for linters to read.

Only the head contents of changed files are written, as plain files under a fresh temporary
folder. PR code is never executed, imported or installed: the linters only parse it. Paths
come from the pull request, so they are untrusted: absolute paths, ``..``, odd characters and
anything that would pass through a symlink are refused.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from services.reviewer.model import FileChange

MAX_FILE_BYTES = 2_000_000
_BAD_CHARS = re.compile(r"[\x00-\x1f\\]")


@dataclass
class Checkout:
    root: Path
    files: dict[str, Path] = field(default_factory=dict)  # repo path -> file on disk
    skipped: dict[str, str] = field(default_factory=dict)  # repo path -> why not written

    def repo_path(self, disk_path: str | Path) -> str | None:
        """The repository path of a file a linter reported (absolute or relative to root)."""
        path = Path(disk_path)
        if not path.is_absolute():
            path = self.root / path
        try:
            rel = Path(os.path.normpath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return None
        return rel if rel in self.files else None


def safe_relpath(path: str) -> PurePosixPath | None:
    """``path`` as a relative path that stays inside a folder, or None if it could escape."""
    if not path or _BAD_CHARS.search(path) or path.startswith("/") or len(path) > 1024:
        return None
    parts = path.split("/")  # not PurePosixPath: it would quietly normalise "a//b", "a/./b"
    if any(part in ("", ".", "..") for part in parts):
        return None
    return PurePosixPath(*parts)


def write_tree(root: Path, files: Iterable[FileChange]) -> Checkout:
    """Write each changed file's head text under ``root``; skip what cannot be written."""
    checkout = Checkout(root)
    for file in files:
        if file.status == "removed":
            continue
        if file.head_text is None:
            checkout.skipped[file.path] = "no head contents"
            continue
        rel = safe_relpath(file.path)
        if rel is None:
            checkout.skipped[file.path] = "unsafe path"
            continue
        data = file.head_text.encode("utf-8", errors="replace")
        if len(data) > MAX_FILE_BYTES:
            checkout.skipped[file.path] = f"larger than {MAX_FILE_BYTES} bytes"
            continue
        target = root.joinpath(*rel.parts)
        try:
            _write_no_follow(root, target, data)
        except OSError as exc:
            checkout.skipped[file.path] = f"could not be written ({exc.strerror or exc})"
            continue
        checkout.files[str(rel)] = target
    return checkout


def _write_no_follow(root: Path, target: Path, data: bytes) -> None:
    # Every folder is created here, by us; still refuse to pass through anything that is not
    # a plain folder (a symlink planted by an earlier path of the same PR, say).
    current = root
    for part in target.relative_to(root).parts[:-1]:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            raise OSError(f"{current.name} is not a folder")
        current.mkdir(exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@contextmanager
def checkout(files: Iterable[FileChange]) -> Iterator[Checkout]:
    """A temporary folder with the head contents of ``files``; removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="ascent-review-")).resolve()
    try:
        yield write_tree(root, files)
    finally:
        shutil.rmtree(root, ignore_errors=True)
