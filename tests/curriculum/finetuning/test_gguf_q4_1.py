"""Our group-wise int4 (curriculum/quantization) written as llama.cpp Q4_1: the packing against
gguf-py's own Q4_1 decoder; a quantized tiny Qwen2 exported and served by llama.cpp, whose
greedy choices transformers (same QuantLinear model) must rank first; the GPTQ publish paths."""

from __future__ import annotations

import copy
import json

import gguf
import numpy as np
import pytest
import torch

from curriculum.finetuning.gguf.reader import read_header, read_metadata, tensor_data
from curriculum.finetuning.gguf_export import (
    GGUFExportError,
    export_quantized_gguf,
    pack_q4_1,
    tensor_name,
)
from curriculum.mlops.serving.parity import llama_cpp_greedy
from curriculum.quantization.quantization import compare, qwen
from curriculum.quantization.quantization.gptq import GPTQConfig
from curriculum.quantization.quantization.publish import PUBLISHED_NAME, quantize_and_publish
from curriculum.quantization.quantization.quant_linear import QuantLinear, quantize_linears_rtn
from curriculum.quantization.quantization.sequential import linear_names
from shared.config import Settings
from shared.models.registry import ArtifactRegistry
from tests.curriculum.finetuning.conftest import N_LAYERS, PROMPTS

Q = gguf.GGMLQuantizationType
pytestmark = pytest.mark.usefixtures("packaged_home")  # the fixtures: conftest.py
HALF_ULP = 2.0**-11  # float16's relative rounding error


def random_int4(rows: int, cols: int, group: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 16, (rows, cols), dtype=np.uint8)
    # Scales over three decades, as float16 values (what QuantLinear stores).
    scales = np.exp(rng.uniform(np.log(1e-4), np.log(0.1), (rows, cols // group)))
    scales = scales.astype(np.float16).astype(np.float32)
    zeros = rng.integers(0, 16, (rows, cols // group), dtype=np.uint8)
    return codes, scales, zeros


def dequantized(codes, scales, zeros, group: int) -> np.ndarray:
    return (codes - np.repeat(zeros, group, 1).astype(np.float32)) * np.repeat(scales, group, 1)


@pytest.mark.parametrize("group", [32, 128, 256])
def test_q4_1_packing_decodes_with_gguf_py(group):
    codes, scales, zeros = random_int4(16, 512, group)
    packed = pack_q4_1(codes, scales, zeros, group)
    assert packed.dtype == np.uint8 and packed.shape == (16, 512 // 32 * 20)
    restored = gguf.quants.dequantize(packed, Q.Q4_1)
    exact = dequantized(codes, scales, zeros, group)
    # The one approximation: m = -scale * zero rounded to float16, at most half an f16 ulp.
    bound = np.repeat(scales * zeros * HALF_ULP, group, 1) + 1e-7
    assert np.all(np.abs(restored - exact) <= bound)
    worst = np.abs(restored - exact).max()
    print(f"g{group}: max |Q4_1 - (code - zero) * scale| = {worst:.3g}, scales <= 0.1")
    assert 0 < worst <= (scales * zeros).max() * HALF_ULP
    # d and the codes themselves are exact: a zero point of 0 gives the very same numbers.
    no_zero = np.zeros_like(zeros)
    restored = gguf.quants.dequantize(pack_q4_1(codes, scales, no_zero, group), Q.Q4_1)
    np.testing.assert_array_equal(restored, dequantized(codes, scales, no_zero, group))


def test_q4_1_packing_rejects_what_it_cannot_hold():
    codes, scales, zeros = random_int4(2, 96, 48)
    with pytest.raises(GGUFExportError, match="multiple of Q4_1's block"):
        pack_q4_1(codes, scales, zeros, 48)
    codes, scales, zeros = random_int4(2, 64, 32)
    with pytest.raises(GGUFExportError, match="4 bits"):
        pack_q4_1(codes + 16, scales, zeros, 32)
    with pytest.raises(GGUFExportError, match="float16"):
        pack_q4_1(codes, scales + 1e-6, zeros, 32)
    with pytest.raises(GGUFExportError, match="do not fit"):
        pack_q4_1(codes, scales[:, :1], zeros, 32)


def block_linears(model) -> list[str]:
    return [name for name in linear_names(model) if name.startswith("model.layers.")]


def int4_linears(model) -> list[str]:
    return [name for name, module in model.named_modules() if isinstance(module, QuantLinear)]


@pytest.fixture(scope="module")
def rtn_int4(tiny, tmp_path_factory):
    """The tiny model with every block linear as RTN int4 in groups of 64 (two Q4_1 blocks
    per group) and its Q4_1 export, embeddings f32 so that only the int4 path differs."""
    model, _ = tiny
    quantized = quantize_linears_rtn(copy.deepcopy(model), block_linears(model), 4, 64)
    out = tmp_path_factory.mktemp("q4_1") / "rtn.gguf"
    path = export_quantized_gguf(quantized, out, rest_dtype="f32")
    return quantized, path


def test_exported_int4_weights_are_the_quantlinear_weights(rtn_int4):
    model, path = rtn_int4
    meta, tensors = read_header(path)
    assert meta["general.file_type"][0] == gguf.LlamaFileType.MOSTLY_Q4_1
    assert len(tensors) == 2 + 12 * N_LAYERS
    assert tensors["token_embd.weight"].type == Q.F32
    assert tensors["blk.0.attn_q.bias"].type == Q.F32
    names = int4_linears(model)
    assert len(names) == 7 * N_LAYERS
    worst = 0.0
    for name in names:
        layer = model.get_submodule(name)
        gguf_name = tensor_name(f"{name}.weight")
        assert tensors[gguf_name].type == Q.Q4_1
        restored = tensor_data(path, tensors[gguf_name])
        difference = np.abs(restored - layer.dequantized_weight().numpy())
        # Only m's float16 rounding: half an ulp of scale * zero.
        bound = (layer.scales.float() * layer.zeros.float()).numpy() * HALF_ULP + 1e-7
        assert np.all(difference <= np.repeat(bound, layer.group_size, 1))
        worst = max(worst, float(difference.max()))
    print(f"max |Q4_1 weight - QuantLinear weight|: {worst:.3g}")
    assert 0 < worst < 5e-4  # |scale * zero| <= ~1 here: half an ulp <= 2^-12


def choice_gaps(model, prompt: list[int], tokens: list[int]) -> torch.Tensor:
    """For each token llama.cpp chose: transformers' logit of it minus its best logit, with
    llama.cpp's own tokens as the context (0 where both pick the same)."""
    ids = torch.tensor([[*prompt, *tokens]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1]
    return logits[torch.arange(len(tokens)), torch.tensor(tokens)] - logits.max(-1).values


@pytest.mark.llm
def test_llama_cpp_decodes_the_int4_model_like_transformers(rtn_int4):
    """Not token for token over whole sequences: llama.cpp's Q4_1 matmul rounds the
    activations to 8 bits (Q8_1 blocks) before the dot product, so on this random model a
    near-tie flips now and then and the two sequences part ways (measured: after 8 and 4 of
    12 tokens; an f32 GGUF of the very same Q4_1 weights decodes exactly as transformers).
    So transformers reads llama.cpp's tokens and must rank each one first, or within a
    near-tie of first; a wrongly packed weight would miss by several logits."""
    model, path = rtn_int4
    decoded = llama_cpp_greedy(path, PROMPTS, 12, ctx=512, threads=2)
    assert len({*decoded[0], *decoded[1]}) > 2  # a real sequence, not one repeated token
    gaps = torch.cat([choice_gaps(model, p, t) for p, t in zip(PROMPTS, decoded, strict=True)])
    # Logits here spread with std ~1.7 and the best leads the median by ~7; measured gaps:
    # 22 of 24 choices 0, the others -0.07 and -0.04.
    assert gaps.min() > -0.2
    assert (gaps == 0).float().mean() >= 0.75
    assert all(choice_gaps(model, p, t[:1]) == 0 for p, t in zip(PROMPTS, decoded, strict=True))


def test_export_rejects_what_q4_1_cannot_hold(tiny, tmp_path):
    model, _ = tiny
    with pytest.raises(GGUFExportError, match="no QuantLinear"):
        export_quantized_gguf(model, tmp_path / "float.gguf")
    eight_bit = quantize_linears_rtn(copy.deepcopy(model), block_linears(model)[:1], 8, 32)
    with pytest.raises(GGUFExportError, match="8-bit"):
        export_quantized_gguf(eight_bit, tmp_path / "int8.gguf")
    assert not list(tmp_path.iterdir())  # refused before writing anything


def tiny_subject(model) -> compare.Subject:
    torch.manual_seed(0)
    ids = torch.randint(0, 2000, (6, 32))
    return compare.Subject(
        name="tiny Qwen2", model=copy.deepcopy(model), blocks=lambda m: m.model.layers,
        block_prefix="model.layers.", logits=qwen.logits, calibration=ids[:4],
        evaluation=ids[4:], speed_batch=ids[:1, :16], generate=qwen.generate, new_tokens=2,
        speed_repeats=1,
    )  # fmt: skip


class FakeRun:
    def provenance(self) -> dict:
        return {"mlflow_run_id": "f" * 32, "git_sha": "abc"}


def test_benchmark_publishes_the_gptq_model_compare_hands_it(tiny, tmp_path):
    # As benchmarks/curriculum_quantization.py does with the real model after its GPTQ row.
    from benchmarks.curriculum_quantization import _publish

    settings = Settings(data_home=tmp_path / "home")
    measured, published = {}, []
    gptq_variant = "GPTQ int4 g32 act-order"

    def on_model(row, model):
        assert isinstance(model.get_submodule("model.layers.0.mlp.up_proj"), QuantLinear) == (
            row.variant == gptq_variant
        )
        if row.variant == gptq_variant:
            params = {"group_size": 32, "act_order": True}
            published.append(_publish(FakeRun(), "test", params, measured, row, model, settings))

    compare.compare(
        tiny_subject(tiny[0]),
        {"float32": None, gptq_variant: compare.gptq(GPTQConfig(group_size=32))},
        on_row=lambda row: measured.setdefault(row.variant, row),
        on_model=on_model,
    )
    assert published == [PUBLISHED_NAME]
    provenance = ArtifactRegistry(settings.models_dir).manifest(PUBLISHED_NAME)["provenance"]
    assert provenance["mlflow_run_id"] == "f" * 32 and provenance["base_model"] == qwen.MODEL
    metrics = provenance["metrics"]
    assert metrics["float32_perplexity"] == measured["float32"].perplexity
    assert metrics["gptq_perplexity"] == measured[gptq_variant].perplexity
    assert "mean_relative_output_error" in metrics


@pytest.mark.llm
def test_gptq_model_is_published_and_served(tiny, tmp_path):
    # The standalone entry's path (python -m curriculum.quantization.quantization.publish).
    model, _ = tiny
    subject = tiny_subject(model)
    settings = Settings(data_home=tmp_path / "home")
    published = quantize_and_publish(subject, GPTQConfig(group_size=32), settings=settings)
    quantized = subject.model
    assert int4_linears(quantized) == block_linears(model)

    registry = ArtifactRegistry(settings.models_dir)
    assert published == registry.path(PUBLISHED_NAME)
    manifest = registry.manifest(PUBLISHED_NAME)
    assert manifest["kind"] == "llm" and manifest["license"] == "Apache-2.0"
    assert set(manifest["files"]) == {"model.gguf"}
    provenance = manifest["provenance"]
    assert provenance["base_model"] == qwen.MODEL  # the gateway takes sampling from it
    assert len(provenance["mlflow_run_id"]) == 32 and provenance["git_sha"]
    assert provenance["gptq"]["group_size"] == 32 and provenance["gptq"]["act_order"]
    assert {"float32_perplexity", "gptq_perplexity", "mean_relative_output_error"} <= set(
        provenance["metrics"]
    )
    assert json.dumps(manifest)
    gguf_path = published / "model.gguf"
    assert read_metadata(gguf_path)["general.name"][0] == PUBLISHED_NAME
    assert read_header(gguf_path)[1]["token_embd.weight"].type == Q.Q8_0  # the default rest

    # Served as published: int4 linears and Q8_0 embeddings, both rounding a little.
    decoded = llama_cpp_greedy(gguf_path, PROMPTS, 8, ctx=512, threads=2)
    gaps = torch.cat([choice_gaps(quantized, p, t) for p, t in zip(PROMPTS, decoded, strict=True)])
    assert gaps.min() > -0.2
