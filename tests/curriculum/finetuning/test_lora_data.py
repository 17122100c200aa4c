"""The instruction set: service prompts, labelled sources, correct targets, a clean split; and
the held-out metrics, which must give full marks to the targets and none to wrong answers."""

import json

import pytest

from curriculum.finetuning.lora import data
from curriculum.finetuning.lora.evaluate import Answer, score
from services.repurposer.prompts import SYSTEM as REPURPOSER_SYSTEM
from services.repurposer.writing import SPECS
from services.reviewer.analysis.llm_review import SYSTEM_PROMPT, LLMReview
from services.shopbot.assistant import SYSTEM_PROMPT as SHOPBOT_SYSTEM


@pytest.fixture(scope="module")
def split():
    return data.build(per_task=30, held_out_per_task=6)


def test_every_example_is_labelled_and_uses_its_service_prompt(split):
    examples = split.train + split.held_out
    assert {e.task for e in examples} == {"reviewer", "repurposer", "shopbot"}
    reviewer_system = SYSTEM_PROMPT.format(language="English", instructions="")
    systems = {"reviewer": reviewer_system, "repurposer": REPURPOSER_SYSTEM,
               "shopbot": SHOPBOT_SYSTEM.format(store=data.STORE_NAME)}  # fmt: skip
    for e in examples:
        assert e.source and e.method
        assert [m["role"] for m in e.messages] == ["system", "user"]
        assert e.messages[0]["content"] == systems[e.task]


def test_reviewer_targets_point_at_the_injected_line(split):
    reviews = [e for e in split.train + split.held_out if e.task == "reviewer"]
    assert {e.meta["kind"] for e in reviews} >= {"eval", "sql", "secret", "clean"}
    for e in reviews:
        target = LLMReview.model_validate_json(e.target)
        if e.meta["line"] is None:
            assert target.comments == []
            continue
        (comment,) = target.comments
        assert comment.line_start == e.meta["line"]
        # The diff the model sees shows that line number as an added line.
        assert f"{e.meta['line']:>5} +| " in e.messages[1]["content"]


def test_repurposer_targets_fit_the_schema_and_quote_verbatim(split):
    posts = [e for e in split.train + split.held_out if e.task == "repurposer"]
    assert {e.meta["kind"] for e in posts} == {"newsletter", "thread"}
    for e in posts:
        post = SPECS[e.meta["kind"]].schema.model_validate_json(e.target)
        assert "extractive" in e.method
        if e.meta["kind"] == "newsletter":
            assert post.quote in e.meta["transcript"]
            assert post.quote in e.messages[1]["content"]


def test_shopbot_targets_name_products_from_the_facts(split):
    for e in (e for e in split.train + split.held_out if e.task == "shopbot"):
        facts = e.messages[1]["content"].split("Catalogue facts:")[1]
        for title, price in zip(e.meta["cited"], e.meta["prices"], strict=True):
            assert title in facts and price in facts
            assert title in e.target and price in e.target


def test_held_out_inputs_are_not_trained_on(split):
    held = {json.dumps(e.messages) for e in split.held_out}
    assert not held & {json.dumps(e.messages) for e in split.train}
    assert len(split.held_out) == 18


def test_targets_score_full_marks_and_wrong_answers_do_not(split):
    def answer(e, text):
        parsed = json.loads(text) if e.schema else None
        return Answer(e, text=text, data=parsed)

    perfect = score([answer(e, e.target) for e in split.held_out])
    assert perfect["reviewer_valid"] == perfect["shopbot_valid"] == 1.0
    assert perfect["reviewer_line_hit"] == perfect["reviewer_quiet_on_clean"] == 1.0
    assert perfect["reviewer_line_pinpointed"] == 1.0
    assert perfect["repurposer_quote_verbatim"] == perfect["shopbot_grounded_citation"] == 1.0
    assert perfect["shopbot_invented_price"] == 0.0

    def wrong(e):
        if e.task == "reviewer":
            return answer(
                e,
                '{"comments": [{"line_start": 1, "line_end": 1, "severity": "low", '
                '"category": "style", "message": "Rename this.", "suggestion": null}]}',
            )
        if e.task == "shopbot":
            return answer(e, "The Deluxe Widget costs $12,345.00 and is in stock.")
        return Answer(e, error="hit max_tokens")

    bad = score([wrong(e) for e in split.held_out])
    assert bad["reviewer_line_hit"] == bad["reviewer_quiet_on_clean"] == 0.0
    assert bad["repurposer_valid"] == bad["shopbot_grounded_citation"] == 0.0
    assert bad["shopbot_invented_price"] == 1.0


def test_a_comment_over_the_whole_hunk_hits_the_line_but_does_not_pinpoint_it(split):
    buggy = [e for e in split.held_out if e.task == "reviewer" and e.meta["line"] is not None]

    def review(e, start, end):
        text = json.dumps({"comments": [{"line_start": start, "line_end": end, "severity": "high",
                                         "category": e.meta["category"], "message": "A bug.",
                                         "suggestion": None}]})  # fmt: skip
        return Answer(e, text=text, data=json.loads(text))

    whole_hunk = score([review(e, e.meta["line"] - 3, e.meta["line"] + 3) for e in buggy])
    assert whole_hunk["reviewer_line_hit"] == 1.0
    assert whole_hunk["reviewer_line_pinpointed"] == 0.0
    exact = score([review(e, e.meta["line"], e.meta["line"] + 1) for e in buggy])
    assert exact["reviewer_line_pinpointed"] == exact["reviewer_line_and_category_hit"] == 1.0
