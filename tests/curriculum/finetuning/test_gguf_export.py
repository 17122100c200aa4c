"""GGUF export: llama.cpp's tensor names, the metadata llama.cpp reads, quantization error, and a
round trip through the embedded llama.cpp server that must decode as transformers does."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest
from safetensors import safe_open

from curriculum.finetuning.gguf.reader import read_header, read_metadata, read_tensor
from curriculum.finetuning.gguf_export import (
    GGUFExportError,
    encode,
    export_gguf,
    packaged_tokenizer_gguf,
    quantize_gguf,
    storage_type,
    tensor_name,
)
from curriculum.mlops.serving.parity import llama_cpp_greedy, transformers_greedy
from curriculum.mlops.serving.tiny import save_tiny_qwen2
from tests.curriculum.finetuning.conftest import N_LAYERS, PROMPTS

Q = gguf.GGMLQuantizationType
pytestmark = pytest.mark.usefixtures("packaged_home")  # the fixtures: conftest.py


def hf_tensors(folder: Path) -> dict[str, np.ndarray]:
    with safe_open(folder / "model.safetensors", framework="pt") as handle:
        return {key: handle.get_tensor(key).float().numpy() for key in handle.keys()}  # noqa: SIM118


@pytest.fixture(scope="module")
def exports(tiny, tmp_path_factory) -> dict[str, Path]:
    """The tiny model exported once at each type the tests read."""
    _, folder = tiny
    out = tmp_path_factory.mktemp("exports")
    return {dtype: export_gguf(folder, out / f"{dtype}.gguf", dtype)
            for dtype in ("f32", "f16", "q8_0", "q4_0")}  # fmt: skip


def test_tensor_names_agree_with_gguf_py_map(tiny):
    # gguf-py's TensorNameMap is llama.cpp's own table of HF -> GGUF names.
    _, folder = tiny
    reference = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, N_LAYERS)
    names = [*hf_tensors(folder), "lm_head.weight"]
    assert len(names) == 3 + 12 * N_LAYERS
    for name in names:
        assert tensor_name(name) == reference.get_name(name, try_suffixes=(".weight", ".bias"))
    with pytest.raises(GGUFExportError):
        tensor_name("model.layers.0.self_attn.rotary_emb.inv_freq")


def test_storage_types():
    assert storage_type("blk.0.attn_q.bias", (64,), "q4_0", tied=True) == Q.F32
    assert storage_type("blk.0.attn_q.weight", (64, 64), "q4_0", tied=True) == Q.Q4_0
    assert storage_type("token_embd.weight", (10, 64), "q4_0", tied=True) == Q.Q8_0  # the head
    assert storage_type("token_embd.weight", (10, 64), "q4_0", tied=False) == Q.Q4_0
    assert storage_type("blk.0.ffn_down.weight", (64, 48), "q8_0", tied=True) == Q.F16  # 48 % 32


def test_metadata_and_tokenizer(tiny, exports):
    _, folder = tiny
    meta = {key: value for key, (value, _, _) in read_metadata(exports["f16"]).items()}
    config = json.loads((folder / "config.json").read_text())
    assert meta["general.architecture"] == "qwen2"
    assert meta["general.file_type"] == gguf.LlamaFileType.MOSTLY_F16
    assert meta["qwen2.embedding_length"] == config["hidden_size"]
    assert meta["qwen2.block_count"] == N_LAYERS
    assert meta["qwen2.feed_forward_length"] == config["intermediate_size"]
    assert meta["qwen2.attention.head_count"] == 4
    assert meta["qwen2.attention.head_count_kv"] == 2
    assert meta["qwen2.context_length"] == config["max_position_embeddings"]
    assert meta["qwen2.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-6)
    reference = read_metadata(packaged_tokenizer_gguf())
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.chat_template",
                "tokenizer.ggml.eos_token_id", "tokenizer.ggml.pre"):  # fmt: skip
        assert meta[key] == reference[key][0]


def test_reader_agrees_with_gguf_py(tmp_path):
    # gguf-py's reader is the reference; it takes ~10 s on a file with Qwen's 300k tokenizer
    # strings, so compare on a small file of every value and tensor kind the exporter writes.
    path = tmp_path / "small.gguf"
    writer = gguf.GGUFWriter(path, "qwen2")
    writer.add_block_count(3)
    writer.add_rope_freq_base(1e6)
    writer.add_bool("tokenizer.ggml.add_bos_token", False)
    writer.add_key_value("tokenizer.ggml.tokens", ["a", "é", "<|x|>"], gguf.GGUFValueType.ARRAY,
                         gguf.GGUFValueType.STRING)  # fmt: skip
    writer.add_key_value("tokenizer.ggml.token_type", [1, 1, 3], gguf.GGUFValueType.ARRAY,
                         gguf.GGUFValueType.INT32)  # fmt: skip
    rng = np.random.default_rng(0)
    for qtype in (Q.F32, Q.F16, Q.Q8_0, Q.Q4_0):
        writer.add_tensor(
            f"t.{qtype.name}", encode(rng.normal(size=(3, 64)), qtype), raw_dtype=qtype
        )
    writer.add_tensor("bias", rng.normal(size=5).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    reference = gguf.GGUFReader(path)
    metadata, tensors = read_header(path)
    for key, field in reference.fields.items():
        if not key.startswith("GGUF."):
            assert metadata[key][0] == field.contents()
            assert metadata[key][1] == field.types[0]
    assert len(tensors) == len(reference.tensors) == 5
    for tensor in reference.tensors:
        ours = tensors[tensor.name]
        assert ours.type == tensor.tensor_type
        assert ours.shape == tuple(reversed([int(d) for d in tensor.shape]))
        expected = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        np.testing.assert_array_equal(read_tensor(path, tensor.name), expected)


def test_exported_types(exports):
    tensors = read_header(exports["q4_0"])[1]
    assert len(tensors) == 2 + 12 * N_LAYERS  # tied: no output.weight
    assert tensors["blk.0.attn_q.weight"].type == Q.Q4_0
    assert tensors["token_embd.weight"].type == Q.Q8_0  # it is also the output head
    assert tensors["blk.0.attn_q.bias"].type == Q.F32
    assert tensors["output_norm.weight"].type == Q.F32


def test_untied_head_is_written(tmp_path):
    folder = tmp_path / "untied"
    model = save_tiny_qwen2(folder, tied=False, seed=1, layers=N_LAYERS)
    path = export_gguf(folder, tmp_path / "untied.gguf", "f32")
    head = read_tensor(path, "output.weight")
    np.testing.assert_array_equal(head, model.lm_head.weight.detach().numpy())


@pytest.mark.parametrize(("dtype", "bound"), [("q8_0", 0.006), ("q4_0", 0.12)])
def test_quantization_error_is_small(tiny, exports, dtype, bound):
    _, folder = tiny
    original = hf_tensors(folder)["model.layers.0.mlp.up_proj.weight"]
    restored = read_tensor(exports[dtype], "blk.0.ffn_up.weight")
    relative = np.linalg.norm(restored - original) / np.linalg.norm(original)
    # Round to nearest with 255 (16) levels per block of 32: ~0.4% (~9%) RMS for Gaussians.
    assert 0 < relative < bound
    absmax = np.abs(original.reshape(-1, 32)).max(1, keepdims=True)
    # Q8_0: scale absmax/127, error <= half a step. Q4_0: scale = the extreme value / -8, so
    # values of the opposite sign clip at +7 steps: error <= one step (absmax/8).
    worst = absmax / 254 if dtype == "q8_0" else absmax / 8
    error = np.abs(restored - original).reshape(-1, 32)
    assert np.all(error <= worst * 1.01 + 1e-3 * absmax)  # + the f16 rounding of the scale


def test_requantize_f16_file_to_q8_0(exports, tmp_path):
    q8 = quantize_gguf(exports["f16"], tmp_path / "q8.gguf", "q8_0")
    assert read_metadata(q8)["general.file_type"][0] == gguf.LlamaFileType.MOSTLY_Q8_0
    name = "blk.1.attn_output.weight"
    requantized, direct = read_tensor(q8, name), read_tensor(exports["q8_0"], name)
    # Rounding to f16 first may move a value to the next Q8_0 level, never further.
    step = np.abs(direct.reshape(-1, 32)).max(1, keepdims=True) / 127
    assert np.all(np.abs(requantized - direct).reshape(-1, 32) <= step * 1.01)
    assert np.mean(requantized == direct) > 0.5  # most blocks keep their scale and levels


@pytest.mark.llm
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_llama_cpp_decodes_like_transformers(tiny, exports, dtype):
    model, _ = tiny
    expected = [transformers_greedy(model, prompt, 12) for prompt in PROMPTS]
    assert len({*expected[0], *expected[1]}) > 2  # a real sequence, not one repeated token
    assert llama_cpp_greedy(exports[dtype], PROMPTS, 12, ctx=512, threads=2) == expected
