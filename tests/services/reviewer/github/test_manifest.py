"""The App manifest asks for exactly what the reviewer uses, and its webhook path is served."""

import json

from services.reviewer.app import create_reviewer_app
from tests.services.reviewer.github.conftest import ROOT

MANIFEST = ROOT / "services" / "reviewer" / "app-manifest.json"


def test_manifest_permissions_events_and_hook(reviewer_settings):
    manifest = json.loads(MANIFEST.read_text())
    assert manifest["default_permissions"] == {
        "pull_requests": "write",
        "contents": "read",
        "checks": "write",
        "issues": "write",
        "metadata": "read",
    }
    # installation and installation_repositories reach every App without subscribing.
    assert set(manifest["default_events"]) == {
        "pull_request",
        "issue_comment",
        "pull_request_review_comment",
    }
    assert manifest["hook_attributes"]["url"].endswith("/webhooks/github")
    assert manifest["public"] is False
    paths = create_reviewer_app(reviewer_settings).openapi()["paths"]
    assert "/webhooks/github" in paths
    readme = (ROOT / "services" / "reviewer" / "README.md").read_text()
    for permission in ("Pull requests", "Contents", "Checks", "Issues", "Metadata"):
        assert f"**{permission}**" in readme
