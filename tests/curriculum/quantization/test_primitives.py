"""int8 absmax / zero-point round trips, int4 groups and packing, QuantLinear."""

import pytest
import torch
from torch import nn

from curriculum.quantization.quantization.primitives import (
    absmax_dequantize,
    absmax_quantize,
    pack_int4,
    rtn_groupwise,
    unpack_int4,
    zeropoint_dequantize,
    zeropoint_quantize,
)
from curriculum.quantization.quantization.quant_linear import QuantLinear, storage_bytes


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_absmax_round_trip_error_is_at_most_half_a_step(per_channel, seed):
    x = torch.randn(16, 40, generator=torch.Generator().manual_seed(seed)) * 3
    codes, scale = absmax_quantize(x, per_channel)
    assert codes.dtype == torch.int8 and int(codes.abs().max()) == 127
    error = (absmax_dequantize(codes, scale) - x).abs()
    assert (error <= scale / 2 + 1e-6).all()
    assert scale.numel() == (16 if per_channel else 1)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("shift", [0.0, 5.0])
def test_zeropoint_round_trip_error_is_at_most_half_a_step(per_channel, shift):
    x = torch.rand(16, 40, generator=torch.Generator().manual_seed(0)) * 2 + shift
    codes, scale, zero = zeropoint_quantize(x, per_channel)
    error = (zeropoint_dequantize(codes, scale, zero) - x).abs()
    assert (error <= scale / 2 + 1e-6).all()
    assert int(codes.min()) == -128 and int(codes.max()) == 127  # the whole range is used


def test_zeropoint_beats_absmax_on_one_sided_data():
    x = torch.rand(1000, generator=torch.Generator().manual_seed(0))  # all positive
    codes, scale = absmax_quantize(x)
    absmax_error = (absmax_dequantize(codes, scale) - x).abs().mean()
    codes, scale, zero = zeropoint_quantize(x)
    assert (zeropoint_dequantize(codes, scale, zero) - x).abs().mean() < absmax_error / 1.5


def test_zero_stays_exactly_zero():
    x = torch.tensor([-1.3, 0.0, 0.7, 2.9])
    assert absmax_dequantize(*absmax_quantize(x))[1] == 0
    assert zeropoint_dequantize(*zeropoint_quantize(x))[1] == 0


def test_int4_groups_stay_within_half_a_step_of_their_own_grid():
    w = torch.randn(8, 256, generator=torch.Generator().manual_seed(0))
    w[:, :128] *= 10  # a loud group must not coarsen the quiet one
    quant = rtn_groupwise(w, bits=4, group_size=128)
    assert quant.scales.shape == (8, 2) and int(quant.codes.max()) <= 15
    step = quant.scales.repeat_interleave(128, 1)
    assert ((quant.dequantize() - w).abs() <= step / 2 + 1e-6).all()
    assert step[:, 128:].max() < step[:, :128].min()


def test_pack_unpack_round_trip_halves_the_bytes():
    codes = torch.randint(0, 16, (5, 64), generator=torch.Generator().manual_seed(0))
    packed = pack_int4(codes)
    assert packed.dtype == torch.uint8 and packed.shape == (5, 32)
    assert torch.equal(unpack_int4(packed), codes.to(torch.uint8))
    with pytest.raises(ValueError):
        pack_int4(torch.full((1, 2), 16))


@pytest.mark.parametrize(("bits", "group"), [(4, 32), (8, None)])
def test_quant_linear_matches_the_dequantized_matmul(bits, group):
    torch.manual_seed(0)
    linear = nn.Linear(128, 48)
    quant = QuantLinear.from_linear(linear, bits, group)
    x = torch.randn(3, 7, 128)
    expected = x @ quant.dequantized_weight().T + linear.bias
    assert torch.allclose(quant(x), expected, atol=1e-5)
    # ... and stays close to the float layer: int8 much closer than int4.
    gap = (quant(x) - linear(x)).abs().max().item()
    assert gap < (0.02 if bits == 8 else 0.3)
    fp32 = 128 * 48 * 4
    codes = 128 * 48 * bits // 8
    groups = 48 * (128 // (group or 128))
    assert quant.storage_bytes() == codes + groups * 3 + 48 * 4
    assert storage_bytes(quant) == quant.storage_bytes() < fp32 * bits / 32 + groups * 3 + 200
