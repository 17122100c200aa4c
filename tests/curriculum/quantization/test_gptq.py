"""GPTQ against round-to-nearest on a toy layer, and sequentially over a tiny GPT."""

import pytest
import torch
from torch import nn

from curriculum.llm_internals.gpt.model import GPT, GPTConfig
from curriculum.quantization.quantization.gptq import (
    GPTQConfig,
    HessianAccumulator,
    gptq_quantize,
    inverse_hessian_cholesky,
)
from curriculum.quantization.quantization.primitives import rtn_groupwise
from curriculum.quantization.quantization.quant_linear import QuantLinear
from curriculum.quantization.quantization.sequential import gptq_sequential


def correlated_inputs(n: int, dim: int, seed: int) -> torch.Tensor:
    """Tokens (n, dim) from a few latent factors plus noise, with uneven channel scales (as
    in real activations): the case where error compensation has something to exploit."""
    generator = torch.Generator().manual_seed(seed)
    latent = torch.randn(n, dim // 8, generator=generator)
    mix = torch.randn(dim // 8, dim, generator=generator)
    scales = torch.rand(dim, generator=generator) * 3 + 0.1
    return (latent @ mix + 0.1 * torch.randn(n, dim, generator=generator)) * scales


def output_error(w: torch.Tensor, approx: torch.Tensor, x: torch.Tensor) -> float:
    return ((x @ w.T - x @ approx.T).norm() / (x @ w.T).norm()).item()


@pytest.mark.parametrize("seed", [0, 1])
def test_gptq_reconstructs_outputs_better_than_round_to_nearest(seed):
    generator = torch.Generator().manual_seed(seed)
    w = torch.randn(64, 256, generator=generator)
    calibration, held_out = correlated_inputs(2560, 256, seed).split([2048, 512])
    hessian = HessianAccumulator(256)
    for chunk in calibration.split(500):  # in pieces, as hooks see batches
        hessian.add(chunk)
    exact = 2 * calibration.double().T @ calibration.double() / 2048
    assert (hessian.hessian - exact).abs().max() < 1e-4 * exact.abs().max()

    rtn = output_error(w, rtn_groupwise(w, 4, 64).dequantize(), held_out)
    plain = gptq_quantize(w, hessian.hessian, GPTQConfig(group_size=64, act_order=False))
    ordered = gptq_quantize(w, hessian.hessian, GPTQConfig(group_size=64, act_order=True))
    plain_error = output_error(w, plain.dequantize(), held_out)
    ordered_error = output_error(w, ordered.dequantize(), held_out)
    assert plain_error < 0.8 * rtn
    assert ordered_error <= plain_error * 1.05
    # Same storage format as RTN: 4-bit codes, one grid per row and group of 64.
    assert ordered.codes.max() <= 15 and ordered.scales.shape == (64, 4)


def test_gptq_with_an_identity_hessian_is_round_to_nearest():
    """With uncorrelated inputs there is nothing to compensate: GPTQ must reduce to RTN."""
    w = torch.randn(16, 128, generator=torch.Generator().manual_seed(0))
    gptq = gptq_quantize(w, torch.eye(128), GPTQConfig(group_size=32, act_order=False))
    assert torch.equal(gptq.codes, rtn_groupwise(w, 4, 32).codes)


def test_sequential_gptq_quantizes_every_block_linear_of_a_tiny_gpt():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()
    ids = torch.randint(0, 20, (4, 2, 16))
    before = model(ids[0])[0]
    errors = gptq_sequential(
        model, model.blocks, ids, lambda m, b: m(b), GPTQConfig(bits=8, group_size=32)
    )
    assert len(errors) == 8 and max(errors.values()) < 1e-3
    quantized = [m for m in model.modules() if isinstance(m, QuantLinear)]
    assert len(quantized) == 8 and not any(isinstance(m, nn.Linear) for m in model.blocks.modules())
    assert (model(ids[0])[0] - before).abs().max() < 0.05


def test_inverse_hessian_factor_is_the_upper_cholesky_of_the_inverse():
    x = correlated_inputs(500, 64, 0).double()
    hessian = 2 * x.T @ x / 500
    u = inverse_hessian_cholesky(hessian, 0.01)
    damped = hessian + 0.01 * hessian.diagonal().mean() * torch.eye(64, dtype=torch.float64)
    reference = torch.linalg.cholesky(torch.linalg.inv(damped), upper=True)
    assert torch.equal(u, u.triu()) and (u.diagonal() > 0).all()
    assert torch.allclose(u, reference, rtol=1e-6, atol=1e-9)


def test_inputs_that_never_fire_give_zero_weights_not_nan():
    """A whole group of dead inputs (H_ii = 0) is zeroed; its grid must still be finite."""
    x = correlated_inputs(512, 128, 0)
    x[:, :32] = 0
    hessian = 2 * x.T @ x / 512
    w = torch.randn(8, 128, generator=torch.Generator().manual_seed(0))
    for act_order in (False, True):
        quant = gptq_quantize(w, hessian, GPTQConfig(group_size=32, act_order=act_order))
        approx = quant.dequantize()
        assert torch.isfinite(approx).all() and (approx[:, :32] == 0).all()
