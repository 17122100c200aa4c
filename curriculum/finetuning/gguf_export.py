"""Export a transformers Qwen2 checkpoint to GGUF, the file llama.cpp serves.

This re-implements the Qwen2 path of llama.cpp's ``convert_hf_to_gguf.py`` on top of the
``gguf`` package's ``GGUFWriter``: hyperparameters from ``config.json`` become ``qwen2.*``
metadata, each safetensors tensor is renamed to llama.cpp's scheme (``blk.N.attn_q.weight``...)
and stored as f32, f16 or a llama.cpp block quantization computed by ``gguf.quants`` (the
reference NumPy implementations of Q8_0 and Q4_0). The tokenizer (BPE vocabulary, merges,
token types, special ids, chat template) is copied from a reference GGUF of the same model
family, by default the packaged Qwen2.5-Coder-0.5B: fine-tuning never changes the vocabulary.

``python -m curriculum.finetuning.gguf_export export HF_DIR OUT.gguf --dtype q8_0``
``python -m curriculum.finetuning.gguf_export quantize IN.gguf OUT.gguf --dtype q4_0``
``python -m curriculum.finetuning.gguf_export dequantize-packaged OUT_DIR`` (an HF checkpoint of
the packaged Q4_K_M model, dequantized by transformers to f32).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
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
    hf_model_dir, out_path = Path(hf_model_dir), Path(out_path)
    config = json.loads((hf_model_dir / "config.json").read_text())
    tied = bool(config.get("tie_word_embeddings", False))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    writer = GGUFWriter(partial, ARCH, use_temp_file=True)
    write_hparams(writer, config, name=hf_model_dir.name)
    writer.add_file_type(DTYPES[dtype][1])
    writer.add_quantization_version(GGML_QUANT_VERSION)
    copy_tokenizer(writer, read_metadata(tokenizer_gguf or packaged_tokenizer_gguf()),
                   config["vocab_size"])  # fmt: skip
    for hf_name, array in _safetensors(hf_model_dir):
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp reuses token_embd when output.weight is absent
        name = tensor_name(hf_name)
        qtype = storage_type(name, array.shape, dtype, tied)
        writer.add_tensor(name, encode(array, qtype), raw_dtype=qtype)
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


def dequantize_packaged(out_dir: Path, gguf_path: Path | None = None) -> Path:
    """Save a GGUF model (default: the packaged Qwen2.5-Coder-0.5B Q4_K_M) as a transformers
    checkpoint with f32 safetensors.

    transformers dequantizes GGUF on load but refuses to save a model that remembers its
    GGUF quantization config; once dequantized the weights are plain tensors, so drop it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path or packaged_tokenizer_gguf())
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    del model.config.quantization_config
    model.hf_quantizer = None
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
