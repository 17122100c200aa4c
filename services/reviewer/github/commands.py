"""``/describe``, ``/ask`` and follow-ups in the reviewer's own threads: one function each.

Pull request text and code reach the model only as data between ``<pr_data>`` tags, and what
comes back is bounded: ``/describe`` is a JSON schema with length limits and an enumerated set
of change types, answers are capped and made inert before posting. Nothing the model says can
approve, merge or label outside that set, because no code path lets it.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.reviewer.github.client import InstallationClient
from services.reviewer.github.publish import inert, merge_description
from shared.models.llm import LLMGateway, LLMTruncated

ChangeType = Literal[
    "bug", "feature", "refactor", "docs", "tests", "chore", "performance", "security"
]
DIGEST_CHARS = 3000  # the packaged models have 8k-token contexts shared by two slots


class FileNote(BaseModel):
    path: str = Field(max_length=200)
    change: str = Field(max_length=80)


class Description(BaseModel):
    summary: str = Field(max_length=300)
    types: list[ChangeType] = Field(min_length=1, max_length=3)
    walkthrough: list[FileNote] = Field(max_length=8)


@lru_cache
def prompts() -> dict[str, Any]:
    return tomllib.loads((Path(__file__).parent / "prompts.toml").read_text())


def data_block(text: str) -> str:
    # The data cannot close its own tag and speak outside it.
    return "<pr_data>\n" + text.replace("</pr_data>", "<\\/pr_data>") + "\n</pr_data>"


def digest(
    pull: dict[str, Any],
    files: list[dict[str, Any]],
    limit: int = DIGEST_CHARS,
    *,
    with_body: bool = True,
) -> str:
    """Title, (author's text) and as much of the diff as fits in ``limit`` characters."""
    head = [f"Title: {pull.get('title') or ''}"]
    if with_body:
        head.append(f"Author's description: {(pull.get('body') or '(none)')[:1000]}")
    head.append(f"Files changed: {len(files)}")
    text = "\n".join(head)
    for f in files:
        entry = (
            f"\n\n--- {f['filename']} ({f.get('status')}, +{f.get('additions', 0)} "
            f"-{f.get('deletions', 0)})\n{f.get('patch') or '(no textual diff)'}"
        )
        room = limit - len(text)
        if room <= 80:
            text += f"\n\n(diff of {len(files)} files truncated to fit)"
            break
        text += entry[:room]
    return text


async def describe(
    gh: InstallationClient, llm: LLMGateway, repo: str, number: int
) -> dict[str, Any]:
    pull = await gh.pull(repo, number)
    files = await gh.pull_files(repo, number)
    messages = [
        {"role": "system", "content": prompts()["describe"]["system"].strip()},
        # The description is written from the code; the author's text is not needed for it
        # (and is the easiest place to hide instructions).
        {"role": "user", "content": data_block(digest(pull, files, with_body=False))},
    ]
    try:
        result = await llm.json(messages, Description, max_tokens=500)
    except LLMTruncated:
        result = Description(
            summary="(The model could not finish a description.)", types=["chore"], walkthrough=[]
        )
    generated = render_description(result, files)
    await gh.update_pull_body(repo, number, merge_description(pull.get("body"), generated))
    labels = sorted({f"type: {t}" for t in result.types})
    await gh.add_labels(repo, number, labels)
    return {"labels": labels, "files": len(files)}


def render_description(result: Description, files: list[dict[str, Any]]) -> str:
    notes = {n.path.strip().lstrip("./"): n.change for n in result.walkthrough}
    rows = []
    for f in files[:100]:
        path = f["filename"]
        change = notes.get(path) or f"{f.get('status', 'modified')}"
        rows.append(
            f"| `{inert(path, 200)}` | +{f.get('additions', 0)} "
            f"−{f.get('deletions', 0)} | {_cell(change)} |"
        )
    more = f"\n\n… and {len(files) - 100} more files." if len(files) > 100 else ""
    types = ", ".join(f"`{t}`" for t in result.types)
    return (
        f"### Summary\n\n{inert(result.summary, 800)}\n\n**Type:** {types}\n\n"
        f"### Walkthrough\n\n| File | Lines | Change |\n|---|---|---|\n"
        + "\n".join(rows)
        + more
        + "\n\n<sub>Written by ascent on `/describe`.</sub>"
    )


def _cell(text: str) -> str:
    return inert(text, 200).replace("|", "\\|").replace("\n", " ")


async def ask(
    gh: InstallationClient, llm: LLMGateway, repo: str, number: int, question: str
) -> dict[str, Any]:
    pull = await gh.pull(repo, number)
    files = await gh.pull_files(repo, number)
    messages = [
        {"role": "system", "content": prompts()["ask"]["system"].strip()},
        {"role": "user", "content": data_block(digest(pull, files)) + f"\n\nQuestion: {question}"},
    ]
    result = await llm.chat(messages, max_tokens=160, temperature=0.2)
    answer = result.text.strip() or "(no answer)"
    if result.finish_reason == "length":
        answer += " …"
    quoted = "\n".join(f"> {line}" for line in inert(question, 500).splitlines())
    body = f"{quoted}\n\n{inert(answer, 3000)}\n\n<sub>Answered by ascent on `/ask`.</sub>"
    comment = await gh.create_issue_comment(repo, number, body)
    return {"comment_id": comment.get("id")}


async def follow_up(
    gh: InstallationClient,
    llm: LLMGateway,
    repo: str,
    number: int,
    *,
    root_id: int,
    finding: str,
    reply: str,
    diff_hunk: str,
) -> dict[str, Any]:
    context = f"Your comment: {finding}\n\nDiff hunk:\n{diff_hunk[-2000:]}\n\nReply: {reply}"
    messages = [
        {"role": "system", "content": prompts()["followup"]["system"].strip()},
        {"role": "user", "content": data_block(context)},
    ]
    result = await llm.chat(messages, max_tokens=140, temperature=0.2)
    answer = result.text.strip() or "(no answer)"
    comment = await gh.reply_to_review_comment(repo, number, root_id, inert(answer, 3000))
    return {"comment_id": comment.get("id")}
