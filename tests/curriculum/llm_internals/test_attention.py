"""Attention from torch ops against torch's own kernels."""

import json

import pytest
import torch
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.llm_internals.attention import attention as att

SHAPES = [(1, 4, 8), (2, 3, 16, 32), (5, 1, 7, 64), (2, 4, 1, 16), (3, 33, 5)]


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_equals_scaled_dot_product_attention(shape, causal):
    for seed in range(3):
        assert att.max_gap_against_torch(shape, causal, torch.float64, seed=seed) < 1e-6
        assert att.max_gap_against_torch(shape, causal, torch.float32, seed=seed) < 1e-6


@pytest.mark.parametrize("causal", [False, True])
def test_more_keys_than_queries_like_torch(causal):
    assert att.max_gap_against_torch((2, 2, 5, 8), causal, source_length=9) < 1e-6


def test_boolean_mask_like_torch():
    generator = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 6, 8, generator=generator, dtype=torch.float64).unbind(0)
    mask = torch.rand(6, 6, generator=generator) < 0.6
    mask |= torch.eye(6, dtype=torch.bool)  # no row entirely masked
    ours = att.scaled_dot_product_attention(q, k, v, mask=mask)
    theirs = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert (ours - theirs).abs().max() < 1e-12


def test_causal_weights_are_lower_triangular_rows_summing_to_one():
    q, k = torch.randn(2, 1, 3, 10, 16, dtype=torch.float64).unbind(0)
    weights = att.attention_weights(q, k, causal=True)
    assert torch.all(torch.triu(weights, diagonal=1) == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(1, 3, 10, dtype=torch.float64))
    assert torch.allclose(weights[..., 0, 0], torch.ones(1, 3, dtype=torch.float64))


def test_softmax_survives_huge_scores():
    scores = torch.tensor([[1000.0, 999.0, -1000.0]])
    assert torch.allclose(att.softmax(scores), torch.softmax(scores, -1))


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_equals_nn_multihead_attention(causal):
    torch.manual_seed(1)
    ours = att.MultiHeadAttention(48, 6).double()
    theirs = att.copy_into_torch(ours)
    x = torch.randn(2, 11, 48, dtype=torch.float64)
    mask = ~att.causal_mask(11) if causal else None
    expected, _ = theirs(x, x, x, attn_mask=mask, need_weights=False)
    assert (ours(x, causal) - expected).abs().max() < 1e-12


def test_multihead_causal_output_ignores_the_future():
    torch.manual_seed(2)
    mha = att.MultiHeadAttention(16, 4).double()
    x = torch.randn(1, 8, 16, dtype=torch.float64)
    changed = x.clone()
    changed[:, 5:] += 1.0
    assert torch.allclose(mha(x)[:, :5], mha(changed)[:, :5])
    assert not torch.allclose(mha(x)[:, 5:], mha(changed)[:, 5:])


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError):
        att.MultiHeadAttention(10, 3)


def test_cli_writes_report(tmp_path):
    result = CliRunner().invoke(app, ["attention", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["sdpa_max_gap"]["float64"] < 1e-12
    assert results["sdpa_max_gap"]["float32"] < 1e-6
    assert max(results["multihead_max_gap"].values()) < 1e-12
    assert results["causal_weight_above_diagonal"] == 0.0
    assert (tmp_path / "attention_maps.png").exists()
    assert (tmp_path / "report.md").read_text().startswith("# Attention from scratch")
