"""The reviewer as a GitHub App: webhooks in, reviews, summaries and check runs out."""

from services.reviewer.github.client import (
    AppCredentials,
    GitHubApp,
    GitHubError,
    GitHubUnavailable,
    InstallationClient,
    InstallationGone,
    RateLimited,
)
from services.reviewer.github.diff import PatchMap
from services.reviewer.github.service import Reviewer, handle_delivery
from services.reviewer.github.webhooks import Work, classify, sign, verify_signature

__all__ = [
    "AppCredentials",
    "GitHubApp",
    "GitHubError",
    "GitHubUnavailable",
    "InstallationClient",
    "InstallationGone",
    "PatchMap",
    "RateLimited",
    "Reviewer",
    "Work",
    "classify",
    "handle_delivery",
    "sign",
    "verify_signature",
]
