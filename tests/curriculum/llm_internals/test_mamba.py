"""The simplified Mamba: the chunked scan equals the sequential definition (values and
gradients), recurrent decoding equals the full pass, the model is causal and it learns."""

from dataclasses import replace

import pytest
import torch

from curriculum.llm_internals.gpt.train import CharData, TrainConfig, train
from curriculum.llm_internals.mamba.experiments import (
    growth_exponent,
    random_scan_inputs,
    scan_gaps,
)
from curriculum.llm_internals.mamba.model import MambaConfig, MambaLM

TINY = MambaConfig(vocab_size=11, block_size=32, d_model=32, n_layer=2, d_state=8,
                   head_dim=16, chunk=8)  # fmt: skip


@pytest.mark.parametrize(
    ("batch", "length", "heads", "head_dim", "n", "chunk"),
    [(1, 1, 1, 1, 1, 4), (2, 37, 3, 4, 5, 8), (2, 64, 4, 8, 16, 16), (3, 50, 2, 3, 7, 64)],
)
def test_chunked_scan_equals_sequential_reference(batch, length, heads, head_dim, n, chunk):
    for dtype, tolerance in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
        inputs = random_scan_inputs(batch, length, heads, head_dim, n, dtype=dtype, seed=length)
        gaps = scan_gaps(inputs, chunk)
        assert set(gaps) >= {"y", "h", "dx", "ddelta", "dA", "dB", "dC", "dD", "dh0"}
        assert max(gaps.values()) < tolerance, (dtype, gaps)


def test_scan_gap_detects_a_wrong_scan(monkeypatch):
    """The comparison can fail: a chunked scan that forgets the carried state is caught."""
    from curriculum.llm_internals.mamba import experiments, scan

    def forgetful(x, delta, A, B, C, D, h0=None, chunk=32):
        pieces = [scan.selective_scan_reference(x[:, i : i + chunk], delta[:, i : i + chunk], A,
                                                B[:, i : i + chunk], C[:, i : i + chunk], D,
                                                h0 if i == 0 else None)
                  for i in range(0, x.size(1), chunk)]  # fmt: skip
        return torch.cat([y for y, _ in pieces], dim=1), pieces[-1][1]

    monkeypatch.setattr(experiments, "selective_scan", forgetful)
    gaps = scan_gaps(random_scan_inputs(2, 40, 2, 3, 4), chunk=8)
    assert gaps["y"] > 1e-3


def test_recurrent_decoding_equals_the_full_pass():
    torch.manual_seed(0)
    model = MambaLM(TINY).double()
    ids = torch.randint(0, TINY.vocab_size, (2, 21))
    full, _ = model(ids)
    states = [layer.mixer.empty_state(2, model.embedding.weight) for layer in model.layers]
    steps = torch.stack([model.step_logits(ids[:, t], states) for t in range(ids.size(1))], 1)
    torch.testing.assert_close(steps, full, rtol=0, atol=1e-10)


def test_model_is_causal():
    torch.manual_seed(0)
    model = MambaLM(TINY).double()
    ids = torch.randint(0, TINY.vocab_size, (1, 30))
    changed = ids.clone()
    changed[0, 20:] = (changed[0, 20:] + 1) % TINY.vocab_size
    before, _ = model(ids)
    after, _ = model(changed)
    torch.testing.assert_close(before[:, :20], after[:, :20], rtol=0, atol=1e-12)
    assert (before[:, 20:] - after[:, 20:]).abs().max() > 1e-6


def test_tiny_mamba_learns_characters():
    data = CharData("to be or not to be, that is the question. " * 200)
    config = TrainConfig(model=replace(TINY, vocab_size=len(data.chars)),
                         max_steps=60, warmup=5, lr=1e-2, eval_every=30, eval_batches=4,
                         batch_size=16)  # fmt: skip
    model, history = train(config, data, build=MambaLM)
    assert history.val[-1] < 0.6 * history.val[0] or history.val[-1] < 1.2, history.val
    generator = torch.Generator().manual_seed(0)
    prompt = torch.tensor([data.encode("to be")])
    ids = model.generate(prompt, 20, temperature=0.5, generator=generator)
    text = data.decode(ids[0].tolist())
    assert text.startswith("to be") and len(text) == 25


def test_growth_exponent_reads_linear_and_quadratic():
    lengths = [64, 128, 256, 512, 1024, 2048]
    assert growth_exponent(lengths, [n * 1e-6 for n in lengths]) == pytest.approx(1.0)
    assert growth_exponent(lengths, [n * n * 1e-9 for n in lengths]) == pytest.approx(2.0)
