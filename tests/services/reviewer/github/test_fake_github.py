"""The fake answers in GitHub's documented shapes: every response the reviewer reads or
writes parses as githubkit's model of GitHub's OpenAPI description."""

from githubkit.compat import type_validate_python
from githubkit_schemas.v2026_03_10 import models

from tests.services.reviewer.github.conftest import INSTALLATION_ID, REPO


async def test_fake_responses_match_githubs_schemas(fake, github_app):
    pull = fake.add_pull(
        REPO, 5, base={"a.py": "a = 1\n", "b.py": "b\n"}, head={"a.py": "a = 2\n", "c.bin": b"\0\1"}
    )
    client = github_app.installation(INSTALLATION_ID)
    gh = client.gh
    owner, name = REPO.split("/")

    # githubkit validates lazily: parsed_data raises if a shape is wrong.
    assert (await gh.rest.pulls.async_get(owner, name, 5)).parsed_data.number == 5
    files = (await gh.rest.pulls.async_list_files(owner, name, 5)).parsed_data
    assert {f.status for f in files} == {"modified", "removed", "added"}
    content = await gh.rest.repos.async_get_content(owner, name, "a.py", ref=pull.head_sha)
    assert content.parsed_data.path == "a.py"
    compare = await gh.rest.repos.async_compare_commits(
        owner, name, f"{pull.base_sha}...{pull.head_sha}"
    )
    assert compare.parsed_data.status == "ahead"
    review = await gh.rest.pulls.async_create_review(
        owner,
        name,
        5,
        data={
            "commit_id": pull.head_sha,
            "body": "b",
            "event": "COMMENT",
            "comments": [{"path": "a.py", "line": 1, "side": "RIGHT", "body": "c"}],
        },
    )
    assert review.parsed_data.state == "COMMENTED"
    listed = await gh.rest.pulls.async_list_comments_for_review(
        owner, name, 5, review.parsed_data.id
    )
    comment = listed.parsed_data[0]
    assert (comment.line, comment.side) == (1, "RIGHT")
    reply = await gh.rest.pulls.async_create_reply_for_review_comment(
        owner, name, 5, comment.id, body="r"
    )
    assert reply.parsed_data.in_reply_to_id == comment.id
    issue_comment = await gh.rest.issues.async_create_comment(owner, name, 5, body="hi")
    assert issue_comment.parsed_data.performed_via_github_app.id == fake.app_id
    check = await gh.rest.checks.async_create(
        owner, name, data={"name": "n", "head_sha": pull.head_sha}
    )
    assert check.parsed_data.head_sha == pull.head_sha
    labels = await gh.rest.issues.async_add_labels(owner, name, 5, labels=["type: docs"])
    assert [label.name for label in labels.parsed_data] == ["type: docs"]
    updated = await gh.rest.pulls.async_update(owner, name, 5, body="new")
    assert updated.parsed_data.body == "new"
    app = await github_app.app_info()
    assert type_validate_python(models.Integration, app).slug == "ascent-reviewer"
