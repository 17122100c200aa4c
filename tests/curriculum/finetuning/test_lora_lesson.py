"""``ascent learn lora --quick``: every stage on a tiny random Qwen2 with the real tokenizer
(train, merge, export, serve, score), tracked in MLflow, nothing published."""

import json

import pytest
import torch
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.finetuning.lora import data
from curriculum.finetuning.lora.lesson import PUBLISHED_NAME, exporter
from curriculum.finetuning.lora.train import encode, load_tokenizer
from shared.config import Settings, get_settings
from shared.models.registry import ArtifactRegistry


@pytest.fixture
def home(data_home, tmp_path, monkeypatch):
    # The packaged models live in the shared test home; MLflow and outputs go to tmp.
    monkeypatch.setenv("ASCENT_DATA_HOME", str(data_home))
    monkeypatch.setenv("ASCENT_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    get_settings.cache_clear()
    yield data_home
    get_settings.cache_clear()


def test_answer_tokens_follow_the_prompt_and_end_the_turn(home):
    tokenizer = load_tokenizer(Settings(data_home=home))
    example = data.shopbot_examples(1)[0]
    ids, prompt_len = encode(example, tokenizer)
    prompt = tokenizer.apply_chat_template(example.messages, add_generation_prompt=True)
    prompt = prompt["input_ids"] if hasattr(prompt, "keys") else prompt
    assert ids[:prompt_len] == list(prompt)
    answer = tokenizer.decode(ids[prompt_len:])
    assert answer == example.target + "<|im_end|>"


@pytest.mark.slow
@pytest.mark.llm
def test_quick_lesson_runs_every_stage(home, tmp_path):
    torch.set_num_threads(1)
    published_before = ArtifactRegistry(home / "models").names()
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["lora", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    counts = results["parameters"]
    assert 0 < counts["trainable"] < counts["total"]
    assert 1 <= results["training"]["steps"] <= 3  # fewer when a loaded machine hits 60 s
    assert (out / "loss.png").is_file() and (out / "data" / "held_out.jsonl").is_file()
    if exporter() is not None:
        assert (out / "gguf" / "model.gguf").stat().st_size > 0
        assert set(results["metrics"]["fine-tuned q8_0"]) >= {"reviewer_valid", "shopbot_valid"}
    else:
        assert "skipped" in results["export"]
    assert ArtifactRegistry(home / "models").names() == published_before
    assert PUBLISHED_NAME not in published_before or "published" not in results


def test_batch_loss_weighs_every_answer_token_the_same():
    """A short answer (an empty review) must not outweigh the tokens of a long one."""
    from curriculum.finetuning.lora.train import batch_loss_backward, tiny_model

    model = tiny_model(vocab_size=512)
    generator = torch.Generator().manual_seed(1)
    short = (torch.randint(0, 512, (12,), generator=generator).tolist(), 9)  # 3 answer tokens
    long = (torch.randint(0, 512, (40,), generator=generator).tolist(), 10)  # 30 answer tokens

    def gradient(loss_fn) -> torch.Tensor:
        model.zero_grad()
        loss_fn()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    def every_token_once() -> float:
        logits, targets = [], []
        for ids, prompt_len in (short, long):
            tokens = torch.tensor([ids])
            logits.append(model(input_ids=tokens).logits[0, prompt_len - 1 : -1])
            targets.append(tokens[0, prompt_len:])
        loss = torch.nn.functional.cross_entropy(torch.cat(logits), torch.cat(targets))
        loss.backward()
        return loss.item()

    def mean_of_example_means() -> None:
        for ids, prompt_len in (short, long):
            tokens = torch.tensor([ids])
            logits = model(input_ids=tokens).logits[0, prompt_len - 1 : -1]
            (torch.nn.functional.cross_entropy(logits, tokens[0, prompt_len:]) / 2).backward()

    ours = gradient(lambda: batch_loss_backward(model, [short, long]))
    pooled = gradient(every_token_once)
    per_example = gradient(mean_of_example_means)
    torch.testing.assert_close(ours, pooled, rtol=1e-4, atol=1e-7)
    assert (ours - per_example).abs().max() > 100 * (ours - pooled).abs().max()
