"""The GPT: cache-equivalent logits, sampling filters, schedule, exact resume, the CLI."""

import itertools
import json
import math

import pytest
import torch
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.llm_internals import shakespeare
from curriculum.llm_internals.gpt.model import GPT, GPTConfig, filter_probs
from curriculum.llm_internals.gpt.train import CharData, TrainConfig, learning_rate, train

TINY = GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=2, n_embd=32)


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def small_data():
    return CharData(shakespeare.plays()["macbeth"][:30_000])


def test_weights_are_tied_and_counted_once():
    model = GPT(TINY)
    assert model.head.weight is model.token.weight
    assert model.num_parameters() == sum(p.numel() for p in set(model.parameters()))


def test_initial_loss_is_near_uniform():
    torch.manual_seed(0)
    ids, targets = torch.randint(0, 30, (2, 4, 16))
    _, loss = GPT(TINY)(ids, targets)  # targets = ids would favour the input via tying
    assert abs(loss.item() - math.log(30)) < 0.1


def test_incremental_decoding_with_the_cache_equals_the_full_pass():
    torch.manual_seed(0)
    model = GPT(TINY).eval()
    ids = torch.randint(0, 30, (2, 12))
    full, _ = model(ids)
    caches = [{} for _ in model.blocks]
    pieces = [model(ids[:, :5], caches=caches)[0]]
    pieces += [model(ids[:, t : t + 1], caches=caches, start=t)[0] for t in range(5, 12)]
    assert torch.allclose(torch.cat(pieces, 1), full, atol=1e-5)


def test_the_future_does_not_change_the_past():
    torch.manual_seed(0)
    model = GPT(TINY).eval()
    ids = torch.randint(0, 30, (1, 16))
    changed = ids.clone()
    changed[0, 10:] = (changed[0, 10:] + 1) % 30
    assert torch.allclose(model(ids)[0][:, :10], model(changed)[0][:, :10], atol=1e-6)


def test_generation_with_and_without_cache_agree_past_the_context():
    torch.manual_seed(0)
    model = GPT(TINY).eval()
    prompt = torch.randint(0, 30, (1, 3))
    a = model.generate(prompt, 30, generator=torch.Generator().manual_seed(1))
    b = model.generate(prompt, 30, use_cache=False, generator=torch.Generator().manual_seed(1))
    assert a.shape == (1, 33) and torch.equal(a, b)


def test_top_k_and_top_p_keep_the_right_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert (filter_probs(logits, 2, None) > 0).tolist() == [[True, True, False, False]]
    assert (filter_probs(logits, None, 0.8) > 0).tolist() == [[True, True, False, False]]
    assert (filter_probs(logits, None, 0.81) > 0).tolist() == [[True, True, True, False]]
    assert torch.allclose(filter_probs(logits, None, None), torch.exp(logits))
    kept = filter_probs(logits, 3, 0.5)
    assert kept.tolist() == [[1.0, 0.0, 0.0, 0.0]]


def test_learning_rate_warms_up_then_decays_to_the_floor():
    config = TrainConfig(max_steps=1000, warmup=100, lr=1e-3, min_lr=1e-4)
    rates = [learning_rate(step, config) for step in range(1001)]
    assert rates[0] == pytest.approx(1e-5) and rates[99] == pytest.approx(1e-3)
    assert all(a >= b for a, b in itertools.pairwise(rates[100:]))
    assert rates[1000] == pytest.approx(1e-4)


def test_resume_from_a_checkpoint_is_exact(small_data, tmp_path):
    model = GPTConfig(vocab_size=len(small_data.chars), block_size=16, n_layer=1, n_head=2)
    model = GPTConfig(**{**model.__dict__, "n_embd": 32})
    config = TrainConfig(model=model, max_steps=30, eval_every=10, eval_batches=2, batch_size=8)
    straight, history = train(config, small_data)
    path = tmp_path / "ckpt.pt"
    train(config, small_data, checkpoint=path, stop_at=10)
    resumed, resumed_history = train(config, small_data, checkpoint=path, resume=True)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    assert resumed_history.val == history.val
    assert history.train[-1] < history.train[0]


def test_cli_writes_report(tmp_path):
    result = CliRunner().invoke(app, ["gpt", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["final"]["val"] < 2.9
    assert results["resume_max_gap"] == 0.0
    assert results["kv_cache"]["same_tokens"] is True
    assert (tmp_path / "training.png").exists()


def test_same_code_trains_on_bpe_tokens():
    from curriculum.llm_internals.bpe.tokenizer import Tokenizer
    from curriculum.llm_internals.gpt.train import TokenData

    text = shakespeare.plays()["hamlet"][:60_000]
    tokenizer = Tokenizer.train(text, 300)
    data = TokenData(tokenizer, text)
    assert data.chars_per_token > 1.3 and len(data.chars) == 300
    config = TrainConfig(
        model=GPTConfig(vocab_size=300, block_size=32, n_layer=1, n_head=2, n_embd=32),
        max_steps=60, warmup=5, eval_every=30, eval_batches=4, batch_size=16,
    )  # fmt: skip
    model, history = train(config, data)
    assert history.val[-1] < min(history.val[0], math.log(300) - 1.0), history.val
    sample = data.decode(model.generate(torch.tensor([data.encode("HAMLET")]), 10)[0].tolist())
    assert sample.startswith("HAMLET")
