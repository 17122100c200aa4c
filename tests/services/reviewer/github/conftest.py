"""Fixtures for the GitHub App side: real webhook payloads, an App key, the fake GitHub server,
settings pointing at it, and a Reviewer on the test database."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from services.reviewer.github.client import GitHubApp
from services.reviewer.github.service import Reviewer, default_analyzer, default_config_loader
from tests.services.reviewer.github.fake_github import FakeGitHub

ROOT = Path(__file__).resolve().parents[4]
EXAMPLES = ROOT / ".cache" / "npm" / "package" / "api.github.com" / "index.json"
BOOTSTRAP_STEP = (
    "run `scripts/bootstrap test` (its 'npm test data' step runs `npm pack "
    "@octokit/webhooks-examples@7.6.1` into .cache/npm and unpacks it)"
)
APP_ID = 424242
INSTALLATION_ID = 31337
REPO = "octo-org/widgets"
REPO_ID = 777001
WEBHOOK_SECRET = "whsec-test-0123456789"


@lru_cache
def _examples() -> dict[str, list[dict[str, Any]]]:
    if not EXAMPLES.exists():
        pytest.fail(
            f"real GitHub webhook payloads are missing ({EXAMPLES}); {BOOTSTRAP_STEP}",
            pytrace=False,
        )
    return {entry["name"]: entry["examples"] for entry in json.loads(EXAMPLES.read_text())}


def payload(event: str, action: str | None = None, *, index: int = 0) -> dict[str, Any]:
    """A deep copy of the ``index``-th real example of ``event`` (with ``action``)."""
    found = [e for e in _examples().get(event, []) if action is None or e.get("action") == action]
    if len(found) <= index:
        pytest.fail(
            f"@octokit/webhooks-examples has no {event}.{action} example #{index}", pytrace=False
        )
    return copy.deepcopy(found[index])


@pytest.fixture
def webhook_payload():
    """``webhook_payload(event, action, index=0)``: a copy of a real delivery's payload; fails
    with the bootstrap step to run when the npm package is missing."""
    _examples()
    return payload


def for_pull(example: dict[str, Any], fake_pull: Any) -> dict[str, Any]:
    """Point a real payload at a pull request of the fake server (same shape, our ids)."""
    example["installation"] = {"id": INSTALLATION_ID, "node_id": "MDIzOkludGVncmF0aW9uMQ=="}
    example["repository"].update(id=REPO_ID, full_name=REPO, name=REPO.split("/")[1])
    if "pull_request" in example:
        pr = example["pull_request"]
        pr.update(number=fake_pull.number, state="open", draft=False)
        pr["head"]["sha"], pr["base"]["sha"] = fake_pull.head_sha, fake_pull.base_sha
        if "number" in example:
            example["number"] = fake_pull.number
    if "issue" in example:
        example["issue"]["number"] = fake_pull.number
    return example


@pytest.fixture(scope="session")
def app_key() -> tuple[str, str]:
    """A fresh RSA key pair for the test App: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def fake(app_key) -> Iterator[FakeGitHub]:
    with FakeGitHub(APP_ID, app_key[1]) as server:
        server.add_installation(INSTALLATION_ID)
        server.add_repo(REPO, INSTALLATION_ID, REPO_ID)
        yield server


@pytest.fixture
def reviewer_settings(settings, fake, app_key):
    return settings.model_copy(
        update={
            "reviewer_github_app_id": APP_ID,
            "reviewer_github_private_key": SecretStr(app_key[0]),
            "reviewer_webhook_secret": SecretStr(WEBHOOK_SECRET),
            "reviewer_github_api_url": fake.url,
            "reviewer_github_backoff": 0.05,
            "reviewer_rate_limit_max_wait": 5.0,
            "reviewer_github_timeout": 10.0,
        }
    )


@pytest.fixture
def github_app(reviewer_settings) -> GitHubApp:
    return GitHubApp.from_settings(reviewer_settings)


@pytest.fixture
def reviewer(pool, reviewer_settings, github_app) -> Reviewer:
    """The real engine, linters only (LLM tests build their own with the model)."""
    return Reviewer(
        pool,
        reviewer_settings,
        github_app,
        llm=None,
        analyze=default_analyzer(),
        load_config=default_config_loader(),
    )
