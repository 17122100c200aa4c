"""Fixtures for the review engine's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services.reviewer.analysis.helpers import git


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.test")
    git(repo, "config", "user.name", "Dev")
    git(repo, "config", "commit.gpgsign", "false")
    return repo
