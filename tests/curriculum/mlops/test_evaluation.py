"""The evaluation pipeline: lm_eval YAML tasks over packaged data, scored from real llama.cpp
generations through the gateway."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from curriculum.mlops.evaluation import data, scoring
from curriculum.mlops.evaluation.harness import TASKS, TASKS_DIR, GatewayLM, evaluate
from shared.config import Settings

WORDS = ["banana", "purple", "river"]


def echo_task(folder: Path, name: str, golds: list[str]) -> None:
    """A task whose prompt says which word to reply with; ``golds`` decides what counts."""
    rows = [{"word": word, "gold": gold} for word, gold in zip(WORDS, golds, strict=True)]
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / f"{name}.yaml").write_text(
        textwrap.dedent(f"""\
        task: {name}
        dataset_path: json
        dataset_kwargs:
          data_files: {{test: {folder / f"{name}.jsonl"}}}
          cache_dir: {folder / "hf-cache"}
        test_split: test
        output_type: generate_until
        doc_to_text: "Reply with exactly this one word and nothing else: {{{{word}}}}"
        doc_to_target: "{{{{gold}}}}"
        generation_kwargs: {{until: ["\\n"], max_gen_toks: 8, do_sample: false, temperature: 0}}
        metric_list:
          - {{metric: exact_match, aggregation: mean, higher_is_better: true,
              ignore_case: true, ignore_punctuation: true}}
        """)
    )


@pytest.mark.llm
def test_scores_come_from_real_generations(llm_base_url, data_home, tmp_path):
    echo_task(tmp_path, "echo_right", WORDS)
    echo_task(tmp_path, "echo_wrong", WORDS[1:] + WORDS[:1])  # every gold is another word
    settings = Settings(data_home=data_home, llm_model="qwen2.5-coder-0.5b", llm_parallel=2)
    lm = GatewayLM("qwen2.5-coder-0.5b", settings, base_url=llm_base_url)
    result = evaluate(lm, "qwen2.5-coder-0.5b", ("echo_right", "echo_wrong"), tmp_path)
    assert result.scores["echo_right"]["exact_match"] >= 2 / 3
    assert result.scores["echo_wrong"]["exact_match"] == 0
    replies = [s["reply"].lower() for s in result.samples["echo_right"]]
    assert sum(word in reply for word, reply in zip(WORDS, replies, strict=True)) >= 2


def test_packaged_tasks_load_through_the_task_manager():
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    loaded = manager.load(list(TASKS))["tasks"]
    for name in TASKS:
        task = loaded[name]
        docs = list(task.test_docs())
        assert len(docs) == 50
        assert task.config.output_type == "generate_until"
        assert task.doc_to_target(docs[0]) == docs[0]["answer"]
        assert "{{" not in task.doc_to_text(docs[0])


def test_examples_are_fixed_and_python_golds_are_pythons_values():
    assert data.jeopardy_rows(5) == data.jeopardy_rows(5)
    rows = data.python_rows(28)
    assert len({r["code"] for r in rows}) == 28
    for row in rows:
        assert repr(eval(row["code"])) == row["answer"]
    for row in data.titanic_rows(20):
        assert row["name"] in row["records"] and row["answer"] in row["records"]


@pytest.mark.parametrize(
    ("gold", "reply", "exact", "contains"),
    [
        ("the Hermitage", "What is the Hermitage?", 1, 1),
        ("Warsaw", "The answer is Warsaw.", 0, 1),
        ("Warsaw", "Krakow", 0, 0),
        ("Sight", "eyesight", 0, 0),
    ],
)
def test_text_scoring(gold, reply, exact, contains):
    assert scoring.jeopardy({"answer": gold}, [reply]) == {
        "exact_match": exact,
        "contains": contains,
    }


@pytest.mark.parametrize(
    ("gold", "reply", "exact", "contains"),
    [
        ("'brabuhr'", '```python\n"brabuhr"\n```', 1, 1),
        ("[0, 9, 18]", "[0,9,18]", 1, 1),
        ("'PATRICK'", "PATRICK", 1, 1),
        ("7", "The length is 7.", 0, 1),
        ("1", "12", 0, 0),
    ],
)
def test_python_scoring(gold, reply, exact, contains):
    assert scoring.python_output({"answer": gold}, [reply]) == {
        "exact_match": exact,
        "contains": contains,
    }
