"""Export a transformers Qwen2 checkpoint to GGUF, the file llama.cpp serves.

This re-implements the Qwen2 path of llama.cpp's ``convert_hf_to_gguf.py`` on top of the
``gguf`` package's ``GGUFWriter``: hyperparameters from ``config.json`` become ``qwen2.*``
metadata, each safetensors tensor is renamed to llama.cpp's scheme (``blk.N.attn_q.weight``...)
and stored as f32, f16 or a llama.cpp block quantization computed by ``gguf.quants`` (the
reference NumPy implementations of Q8_0 and Q4_0). ``export_quantized_gguf`` writes a model
quantized in memory by curriculum/quantization (GPTQ, RTN): its int4 linears become Q4_1
blocks packed from their codes as they are. The tokenizer (BPE vocabulary, merges, token
types, special ids, chat template) is copied from a reference GGUF of the same model family,
by default the packaged Qwen2.5-Coder-0.5B: fine-tuning never changes the vocabulary.

``python -m curriculum.finetuning.gguf_export export HF_DIR OUT.gguf --dtype q8_0``
``python -m curriculum.finetuning.gguf_export quantize IN.gguf OUT.gguf --dtype q4_0``
``python -m curriculum.finetuning.gguf_export dequantize-packaged OUT_DIR`` (an HF checkpoint of
the packaged Q4_K_M model, dequantized by transformers to f32).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from gguf import (
    GGML_QUANT_VERSION,
    GGMLQuantizationType,
    GGUFWriter,
    LlamaFileType,
)
from gguf import quants as ggml_quants

from curriculum.finetuning.gguf.reader import (
    Metadata,
    read_header,
    read_metadata,
    tensor_data,
)

ARCH = "qwen2"
PACKAGED_BASE = "qwen2.5-coder-0.5b"

# dtype name -> (type of the 2-D weight matrices, general.file_type). 1-D tensors (norms,
# biases) always stay f32, as llama.cpp's converter and llama-quantize keep them.
DTYPES: dict[str, tuple[GGMLQuantizationType, LlamaFileType]] = {
    "f32": (GGMLQuantizationType.F32, LlamaFileType.ALL_F32),
    "f16": (GGMLQuantizationType.F16, LlamaFileType.MOSTLY_F16),
    "bf16": (GGMLQuantizationType.BF16, LlamaFileType.MOSTLY_BF16),
    "q8_0": (GGMLQuantizationType.Q8_0, LlamaFileType.MOSTLY_Q8_0),
    "q5_0": (GGMLQuantizationType.Q5_0, LlamaFileType.MOSTLY_Q5_0),
    "q4_0": (GGMLQuantizationType.Q4_0, LlamaFileType.MOSTLY_Q4_0),
}
# The output head is the most quantization-sensitive matrix (llama-quantize gives it Q6_K in
# 4-bit files). gguf.quants cannot write K-quants, so below 8 bits the head gets Q8_0.
HEAD_TYPE_BELOW_8_BITS = GGMLQuantizationType.Q8_0
LOW_BIT = {GGMLQuantizationType.Q4_0, GGMLQuantizationType.Q5_0}
# Our group-wise int4 (curriculum/quantization) is written as Q4_1: 32 weights per block.
Q4_1 = GGMLQuantizationType.Q4_1
Q4_1_BLOCK = 32

GLOBAL_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.q_proj.bias": "attn_q.bias",  # Qwen2 has q/k/v biases, no o bias
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.(.+)$")

# A tensor ready for GGUFWriter.add_tensor: llama.cpp name, data as stored, GGML type.
Tensor = tuple[str, np.ndarray, GGMLQuantizationType]


class GGUFExportError(ValueError):
    """The checkpoint cannot be written as a llama.cpp Qwen2 GGUF; the message says why."""


def tensor_name(hf_name: str) -> str:
    """llama.cpp's name for a transformers Qwen2 tensor."""
    if hf_name in GLOBAL_NAMES:
        return GLOBAL_NAMES[hf_name]
    match = LAYER_RE.match(hf_name)
    if match and match.group(2) in LAYER_NAMES:
        return f"blk.{match.group(1)}.{LAYER_NAMES[match.group(2)]}"
    raise GGUFExportError(f"no llama.cpp name for tensor {hf_name!r} (not a Qwen2 weight?)")


def storage_type(name: str, shape: tuple[int, ...], dtype: str, tied: bool) -> GGMLQuantizationType:
    """The GGML type a tensor is written in, for an export at ``dtype``."""
    target, _ = DTYPES[dtype]
    if len(shape) < 2:
        return GGMLQuantizationType.F32
    is_head = name == "output.weight" or (tied and name == "token_embd.weight")
    if target in LOW_BIT and is_head:
        target = HEAD_TYPE_BELOW_8_BITS
    block, _ = ggml_quants.GGML_QUANT_SIZES[target]
    if shape[-1] % block:
        return GGMLQuantizationType.F16  # rows must fill whole blocks; llama.cpp falls back too
    return target


def encode(array: np.ndarray, qtype: GGMLQuantizationType) -> np.ndarray:
    """``array`` (float32) in ``qtype``'s byte layout, ready for ``GGUFWriter.add_tensor``."""
    if qtype == GGMLQuantizationType.F32:
        return np.ascontiguousarray(array, dtype=np.float32)
    if qtype == GGMLQuantizationType.F16:
        return np.ascontiguousarray(array, dtype=np.float16)
    return ggml_quants.quantize(np.ascontiguousarray(array, dtype=np.float32), qtype)


def pack_q4_1(
    codes: np.ndarray, scales: np.ndarray, zeros: np.ndarray, group_size: int
) -> np.ndarray:
    """Group-wise int4 weights, value = (code - zero) * scale, as llama.cpp Q4_1 blocks.

    ``codes``: (rows, cols) in 0..15; ``scales`` (float16 values) and ``zeros`` (integers):
    (rows, cols / group_size); ``group_size`` a multiple of 32. Returns uint8 (rows, cols / 32
    * 20), the byte layout ``GGUFWriter.add_tensor(..., raw_dtype=Q4_1)`` takes.

    Q4_1 stores blocks of 32 weights of a row as value = d * q + m: f16 d, f16 m, then 16
    bytes where byte j holds q[j] (low nibble) and q[j + 16] (high nibble). A group is a whole
    number of blocks, each with q = code, d = scale, m = -scale * zero. Codes and d carry over
    exactly; m is rounded to float16 (relative error <= 2^-11 of scale * zero): that rounding
    is the only difference between the file and (code - zero) * scale."""
    codes = np.asarray(codes)
    scales = np.asarray(scales, dtype=np.float32)
    zeros = np.asarray(zeros, dtype=np.float32)
    rows, cols = codes.shape
    if group_size <= 0 or group_size % Q4_1_BLOCK:
        raise GGUFExportError(f"group size {group_size} is not a multiple of Q4_1's block of 32")
    groups = (rows, cols // group_size)
    if cols % group_size or scales.shape != groups or zeros.shape != groups:
        raise GGUFExportError(
            f"codes {codes.shape}, scales {scales.shape}, zeros {zeros.shape} do not fit "
            f"groups of {group_size} columns"
        )
    if codes.size and (codes.min() < 0 or codes.max() > 15):
        raise GGUFExportError("codes must lie in 0..15 (4 bits) for Q4_1")
    d = scales.astype("<f2")
    if not np.array_equal(d.astype(np.float32), scales):
        raise GGUFExportError("scales are not float16 values: Q4_1 could not hold them exactly")
    m = (-(scales * zeros)).astype("<f2")  # the product is exact in float32; f16 rounds it
    if not np.isfinite(m).all():
        raise GGUFExportError("scale * zero overflows float16")
    per_group = group_size // Q4_1_BLOCK
    blocks = cols // Q4_1_BLOCK
    halves = codes.astype(np.uint8).reshape(rows, blocks, 2, Q4_1_BLOCK // 2)
    qs = halves[:, :, 0] | (halves[:, :, 1] << np.uint8(4))
    d_bytes = np.repeat(d, per_group, axis=1).view(np.uint8).reshape(rows, blocks, 2)
    m_bytes = np.repeat(m, per_group, axis=1).view(np.uint8).reshape(rows, blocks, 2)
    return np.concatenate([d_bytes, m_bytes, qs], axis=-1).reshape(rows, -1)


def quant_linear_q4_1(layer) -> np.ndarray:
    """A QuantLinear's weight (codes, float16 scales, uint8 zeros) as Q4_1 bytes."""
    if layer.bits != 4:
        raise GGUFExportError(f"{layer.bits}-bit codes: Q4_1 holds 4-bit codes only")
    return pack_q4_1(
        layer.codes().numpy(), layer.scales.float().numpy(), layer.zeros.numpy(), layer.group_size
    )


def _rope_theta(config: dict) -> float:
    # transformers 5 nests it in rope_parameters; older configs have rope_theta at the top.
    params = config.get("rope_parameters") or {}
    scaling = config.get("rope_scaling") or {}
    kind = params.get("rope_type") or scaling.get("rope_type") or scaling.get("type") or "default"
    if kind != "default":
        raise GGUFExportError(f"rope scaling {kind!r} is not handled by this exporter")
    return float(params.get("rope_theta", config.get("rope_theta", 10000.0)))


def write_hparams(writer: GGUFWriter, config: dict, name: str) -> None:
    """The ``qwen2.*`` keys llama.cpp reads to build the graph."""
    if config.get("model_type") != ARCH:
        raise GGUFExportError(f"model_type is {config.get('model_type')!r}, expected {ARCH!r}")
    writer.add_type("model")
    writer.add_name(name)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config.get("num_key_value_heads", config["num_attention_heads"]))
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])


def packaged_tokenizer_gguf() -> Path:
    """The packaged Qwen2.5-Coder-0.5B GGUF: the reference for Qwen2.5's tokenizer."""
    from shared.config import get_settings
    from shared.models.registry import ModelRegistry

    return ModelRegistry(get_settings().models_dir).path(PACKAGED_BASE)


def copy_tokenizer(writer: GGUFWriter, reference: Metadata, vocab_size: int) -> None:
    """Copy every ``tokenizer.*`` key (BPE tokens, merges, types, special ids, template)."""
    if "tokenizer.ggml.tokens" not in reference:
        raise GGUFExportError("the reference GGUF holds no tokenizer")
    n_tokens = len(reference["tokenizer.ggml.tokens"][0])
    if n_tokens != vocab_size:
        raise GGUFExportError(
            f"the reference tokenizer has {n_tokens} tokens, the model {vocab_size}"
        )
    for key, (val, kind, item_kind) in reference.items():
        if key.startswith("tokenizer."):
            writer.add_key_value(key, val, kind, item_kind)


def _safetensors(hf_model_dir: Path) -> Iterator[tuple[str, np.ndarray]]:
    from safetensors import safe_open

    files = sorted(hf_model_dir.glob("*.safetensors"))
    if not files:
        raise GGUFExportError(f"no *.safetensors in {hf_model_dir}")
    for file in files:
        # framework "pt": NumPy cannot read bf16 checkpoints.
        with safe_open(file, framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                yield key, handle.get_tensor(key).float().numpy()


def export_gguf(
    hf_model_dir: Path, out_path: Path, dtype: str = "f16", tokenizer_gguf: Path | None = None
) -> Path:
    """Write the Qwen2 checkpoint in ``hf_model_dir`` (config.json + safetensors) as a GGUF.

    ``dtype``: f32, f16, bf16, q8_0, q5_0 or q4_0 for the weight matrices. ``tokenizer_gguf``:
    where the tokenizer metadata comes from (default: the packaged Qwen2.5-Coder GGUF).
    """
    if dtype not in DTYPES:
        raise GGUFExportError(f"dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    hf_model_dir = Path(hf_model_dir)
    config = json.loads((hf_model_dir / "config.json").read_text())
    tensors = _encoded(_safetensors(hf_model_dir), dtype, _tied(config))
    return _write_gguf(
        out_path, config, hf_model_dir.name, DTYPES[dtype][1], tokenizer_gguf, tensors
    )


def export_quantized_gguf(
    model, out_path: Path, rest_dtype: str = "q8_0", tokenizer_gguf: Path | None = None,
    name: str = "qwen2-int4",
) -> Path:  # fmt: skip
    """Write a transformers Qwen2 model held in memory whose linears are (partly) QuantLinear
    modules with 4-bit codes, e.g. after GPTQ or RTN in curriculum/quantization.

    Those linears go as Q4_1 straight from their codes, scales and zero points (no
    re-quantization: see ``pack_q4_1``); every other tensor as ``export_gguf`` writes it at
    ``rest_dtype`` (norms and biases f32, embeddings and head at ``rest_dtype``)."""
    from curriculum.quantization.quantization.quant_linear import QuantLinear

    if rest_dtype not in DTYPES:
        raise GGUFExportError(f"dtype {rest_dtype!r}; choose one of {', '.join(DTYPES)}")
    quantized = {n: m for n, m in model.named_modules() if isinstance(m, QuantLinear)}
    if not quantized:
        raise GGUFExportError("the model holds no QuantLinear; export_gguf writes float models")
    for layer_name, layer in quantized.items():  # fail before a partial file is written
        if layer.bits != 4 or layer.group_size % Q4_1_BLOCK:
            raise GGUFExportError(
                f"{layer_name}: {layer.bits}-bit codes in groups of {layer.group_size}; Q4_1 "
                "needs 4-bit codes in groups that are a multiple of 32"
            )
    config = model.config.to_dict()
    tensors = _model_tensors(model.state_dict(), quantized, rest_dtype, _tied(config))
    return _write_gguf(out_path, config, name, LlamaFileType.MOSTLY_Q4_1, tokenizer_gguf, tensors)


def _model_tensors(state: dict, quantized: dict, rest_dtype: str, tied: bool) -> Iterator[Tensor]:
    for hf_name, tensor in state.items():
        owner, _, leaf = hf_name.rpartition(".")
        if owner in quantized and leaf in ("scales", "zeros"):
            continue  # inside the Q4_1 blocks
        if owner in quantized and leaf == "qweight":
            yield tensor_name(f"{owner}.weight"), quant_linear_q4_1(quantized[owner]), Q4_1
        else:
            yield from _encoded([(hf_name, tensor.detach().float().numpy())], rest_dtype, tied)


def _tied(config: dict) -> bool:
    return bool(config.get("tie_word_embeddings", False))


def _encoded(
    hf_tensors: Iterable[tuple[str, np.ndarray]], dtype: str, tied: bool
) -> Iterator[Tensor]:
    """Each float tensor under llama.cpp's name, encoded at its storage type for ``dtype``."""
    for hf_name, array in hf_tensors:
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp reuses token_embd when output.weight is absent
        name = tensor_name(hf_name)
        qtype = storage_type(name, array.shape, dtype, tied)
        yield name, encode(array, qtype), qtype


def _write_gguf(
    out_path: Path, config: dict, name: str, file_type: LlamaFileType,
    tokenizer_gguf: Path | None, tensors: Iterable[Tensor],
) -> Path:  # fmt: skip
    """Hyperparameters, tokenizer and the already encoded ``tensors``; the file appears under
    ``out_path`` only once complete."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    writer = GGUFWriter(partial, ARCH, use_temp_file=True)
    write_hparams(writer, config, name=name)
    writer.add_file_type(file_type)
    writer.add_quantization_version(GGML_QUANT_VERSION)
    copy_tokenizer(writer, read_metadata(tokenizer_gguf or packaged_tokenizer_gguf()),
                   config["vocab_size"])  # fmt: skip
    for tensor, data, qtype in tensors:
        writer.add_tensor(tensor, data, raw_dtype=qtype)
    _finish(writer)
    partial.replace(out_path)
    return out_path


def _finish(writer: GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def quantize_gguf(in_path: Path, out_path: Path, dtype: str = "q8_0") -> Path:
    """Re-encode an existing GGUF (e.g. an f16 export) at ``dtype``, like ``llama-quantize``
    with pure round-to-nearest types: each tensor is dequantized to f32, then re-quantized."""
    if dtype not in DTYPES:
        raise GGUFExportError(f"dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    metadata, tensors = read_header(in_path)
    tied = "output.weight" not in tensors
    out_path = Path(out_path)
    partial = out_path.with_name(out_path.name + ".partial")
    writer = GGUFWriter(partial, metadata["general.architecture"][0], use_temp_file=True)
    for key, (val, kind, item_kind) in metadata.items():
        # The writer sets these itself.
        if key not in ("general.architecture", "general.file_type", "general.quantization_version",
                       "general.alignment"):  # fmt: skip
            writer.add_key_value(key, val, kind, item_kind)
    writer.add_file_type(DTYPES[dtype][1])
    writer.add_quantization_version(GGML_QUANT_VERSION)
    for name, info in tensors.items():
        array = tensor_data(in_path, info)
        qtype = storage_type(name, array.shape, dtype, tied)
        writer.add_tensor(name, encode(array, qtype), raw_dtype=qtype)
    _finish(writer)
    partial.replace(out_path)
    return out_path


def load_dequantized(gguf_path: Path, dtype=None):
    """A transformers model from a GGUF file, its weights dequantized to ``dtype`` (float32 by
    default), with every mark of the GGUF quantization removed.

    transformers dequantizes GGUF on load but still treats the model as quantized: it refuses
    ``save_pretrained``, ``.float()`` and ``.half()``. Once dequantized the weights are plain
    tensors, so the quantizer's own ``remove_quantization_config`` clears those marks."""
    import torch
    from transformers import AutoModelForCausalLM

    gguf_path = Path(gguf_path)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_path.parent, gguf_file=gguf_path.name, dtype=dtype or torch.float32
    )
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    return model


def dequantize_packaged(out_dir: Path, gguf_path: Path | None = None) -> Path:
    """Save a GGUF model (default: the packaged Qwen2.5-Coder-0.5B Q4_K_M) as a transformers
    checkpoint with f32 safetensors."""
    from transformers import AutoTokenizer

    gguf_path = Path(gguf_path or packaged_tokenizer_gguf())
    model = load_dequantized(gguf_path)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    out_dir = Path(out_dir)
    partial = out_dir.with_name(out_dir.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.replace(out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m curriculum.finetuning.gguf_export")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="transformers Qwen2 checkpoint -> GGUF")
    export.add_argument("hf_model_dir", type=Path)
    export.add_argument("out", type=Path)
    export.add_argument("--dtype", choices=list(DTYPES), default="f16")
    export.add_argument("--tokenizer-gguf", type=Path, default=None)
    quantize = commands.add_parser("quantize", help="re-encode a GGUF at another type")
    quantize.add_argument("gguf_in", type=Path)
    quantize.add_argument("out", type=Path)
    quantize.add_argument("--dtype", choices=list(DTYPES), default="q8_0")
    dequantize = commands.add_parser(
        "dequantize-packaged", help="the packaged Qwen2.5-Coder GGUF as an f32 HF checkpoint"
    )
    dequantize.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "export":
        path = export_gguf(args.hf_model_dir, args.out, args.dtype, args.tokenizer_gguf)
    elif args.command == "quantize":
        path = quantize_gguf(args.gguf_in, args.out, args.dtype)
    else:
        path = dequantize_packaged(args.out_dir)
    print(path)


if __name__ == "__main__":
    main()
