"""The GitHub client against the fake server: App JWT, installation tokens, pagination,
contents, retries, rate limits and a vanished installation."""

import time

import jwt
import pytest

from services.reviewer.github.client import (
    AccessDenied,
    AppCredentials,
    ConfigurationError,
    GitHubApp,
    GitHubUnavailable,
    InstallationGone,
    RateLimited,
)
from tests.services.reviewer.github.conftest import APP_ID, INSTALLATION_ID, REPO


def _pull(fake, files: int = 1, lines: int = 3):
    base = {f"pkg/mod{i}.py": "".join(f"x{j} = {j}\n" for j in range(lines)) for i in range(files)}
    head = {p: text + "y = 1\n" for p, text in base.items()}
    return fake.add_pull(REPO, 7, base=base, head=head)


async def test_app_jwt_is_rs256_backdated_and_short_lived(fake, github_app, app_key):
    _pull(fake)
    before = time.time()
    await github_app.installation(INSTALLATION_ID).pull(REPO, 7)
    token_calls = fake.calls_to("POST", r"/app/installations/\d+/access_tokens")
    assert len(token_calls) == 1
    bearer = token_calls[0].headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(bearer, app_key[1], algorithms=["RS256"])
    assert jwt.get_unverified_header(bearer)["alg"] == "RS256"
    assert claims["iss"] == str(APP_ID)
    assert before - 61 <= claims["iat"] <= before - 59  # backdated 60 s for clock drift
    assert claims["exp"] - claims["iat"] <= 600
    assert claims["exp"] <= time.time() + 600


async def test_installation_token_is_cached_until_near_expiry(fake, github_app):
    _pull(fake)
    client = github_app.installation(INSTALLATION_ID)
    for _ in range(3):
        await client.pull(REPO, 7)
    assert len(fake.calls_to("POST", "access_tokens")) == 1
    # A token one minute from expiry is not reused: githubkit caches it until then.
    fake.token_ttl = 30
    other = GitHubApp(github_app.credentials, retry=github_app.retry)
    await other.installation(INSTALLATION_ID).pull(REPO, 7)
    await other.installation(INSTALLATION_ID).pull(REPO, 7)
    assert len(fake.calls_to("POST", "access_tokens")) == 3


async def test_files_are_paginated_and_contents_decoded(fake, github_app):
    pull = _pull(fake, files=130)
    client = github_app.installation(INSTALLATION_ID)
    files = await client.pull_files(REPO, 7)
    assert len(files) == 130
    assert len(fake.calls_to("GET", r"/pulls/7/files$")) == 2  # 100 + 30, via Link: rel="next"
    assert all(f["patch"].startswith("@@") for f in files)
    text = await client.file_text(REPO, "pkg/mod0.py", pull.head_sha)
    assert text == "x0 = 0\nx1 = 1\nx2 = 2\ny = 1\n"
    assert await client.file_text(REPO, "missing.py", pull.head_sha) is None


async def test_binary_and_oversized_contents_are_not_text(fake, github_app):
    pull = fake.add_pull(
        REPO, 8, base={}, head={"logo.png": b"\x89PNG\0\0\x01", "big.txt": "a" * 2000}
    )
    client = github_app.installation(INSTALLATION_ID)
    assert await client.file_text(REPO, "logo.png", pull.head_sha) is None
    assert await client.file_text(REPO, "big.txt", pull.head_sha, max_bytes=1000) is None
    assert await client.file_text(REPO, "big.txt", pull.head_sha) == "a" * 2000


async def test_server_errors_are_retried_with_backoff(fake, github_app):
    _pull(fake)
    fake.fail(502, method="GET", path=r"/pulls/7$", times=2)
    started = time.monotonic()
    pull = await github_app.installation(INSTALLATION_ID).pull(REPO, 7)
    assert pull["number"] == 7
    assert [c.status for c in fake.calls_to("GET", r"/pulls/7$")] == [502, 502, 200]
    assert time.monotonic() - started >= 0.05 + 0.2  # backoff 1x then 4x the base


async def test_server_errors_past_the_retries_raise_unavailable(fake, github_app):
    _pull(fake)
    fake.fail(503, method="GET", path=r"/pulls/7$", times=10)
    with pytest.raises(GitHubUnavailable, match="503"):
        await github_app.installation(INSTALLATION_ID).pull(REPO, 7)
    assert len(fake.calls_to("GET", r"/pulls/7$")) == 1 + github_app.retry.retries


async def test_secondary_rate_limit_waits_retry_after(fake, github_app):
    _pull(fake)
    fake.secondary_rate_limit(retry_after=1, method="GET", path=r"/pulls/7$")
    started = time.monotonic()
    await github_app.installation(INSTALLATION_ID).pull(REPO, 7)
    assert time.monotonic() - started >= 1.0
    assert [c.status for c in fake.calls_to("GET", r"/pulls/7$")] == [403, 200]


async def test_long_rate_limit_reschedules_instead_of_waiting(fake, github_app):
    _pull(fake)
    fake.primary_rate_limit(reset_in=1800, method="GET", path=r"/pulls/7$")
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        await github_app.installation(INSTALLATION_ID).pull(REPO, 7)
    assert time.monotonic() - started < 2
    assert 1700 < caught.value.retry_at.timestamp() - time.time() < 1900


async def test_uninstalled_installation_raises_installation_gone(fake, github_app):
    _pull(fake)
    fake.remove_installation(INSTALLATION_ID)
    with pytest.raises(InstallationGone, match=f"installation {INSTALLATION_ID}"):
        await github_app.installation(INSTALLATION_ID).pull(REPO, 7)


async def test_missing_permission_is_access_denied_and_retried_later(fake, github_app):
    _pull(fake)
    fake.fail(403, method="GET", path=r"/pulls/7$")
    with pytest.raises(AccessDenied, match="403") as caught:
        await github_app.installation(INSTALLATION_ID).pull(REPO, 7)
    assert isinstance(caught.value, InstallationGone)  # the job retries it for days
    assert len(fake.calls_to("GET", r"/pulls/7$")) == 1  # not hammered in place


async def test_revoked_token_is_dropped_and_fetched_again(fake, github_app):
    _pull(fake)
    client = github_app.installation(INSTALLATION_ID)
    await client.pull(REPO, 7)
    fake.tokens.clear()  # GitHub revoked every token before it expired
    with pytest.raises(GitHubUnavailable, match="token refused"):
        await client.pull(REPO, 7)
    assert (await client.pull(REPO, 7))["number"] == 7
    assert len(fake.calls_to("POST", "access_tokens")) == 2


async def test_the_client_never_approves(fake, github_app):
    pull = _pull(fake)
    with pytest.raises(ValueError, match="never"):
        await github_app.installation(INSTALLATION_ID).create_review(
            REPO, 7, commit_id=pull.head_sha, body="ok", event="APPROVE", comments=[]
        )
    assert not fake.calls_to("POST", "/reviews")


def test_credentials_come_from_settings_or_a_key_file(reviewer_settings, app_key, tmp_path):
    assert AppCredentials.from_settings(reviewer_settings).app_id == APP_ID
    key_file = tmp_path / "app.pem"
    key_file.write_text(app_key[0])
    from_file = reviewer_settings.model_copy(
        update={"reviewer_github_private_key": None, "reviewer_github_private_key_path": key_file}
    )
    assert AppCredentials.from_settings(from_file).private_key == app_key[0]
    missing = from_file.model_copy(update={"reviewer_github_private_key_path": tmp_path / "no"})
    with pytest.raises(ConfigurationError, match="cannot read"):
        AppCredentials.from_settings(missing)
    with pytest.raises(ConfigurationError, match="APP_ID"):
        AppCredentials.from_settings(
            reviewer_settings.model_copy(update={"reviewer_github_app_id": None})
        )
