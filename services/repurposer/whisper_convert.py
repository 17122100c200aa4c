"""Turn the packaged CTranslate2 Whisper weights into an openai-whisper checkpoint.

Both ASR backends then run the very same weights: faster-whisper reads the CTranslate2
folder, openai-whisper a ``.pt`` made once from it and kept under ``settings.models_dir``.

``ctranslate2`` has no Python reader for a model's variables, so ``model.bin`` is parsed
here. Its layout (``ctranslate2/specs/model_spec.py``, ``_serialize``), little-endian:

- ``uint32`` binary version (this reads 5 and 6), spec name (string), ``uint32`` revision
- ``uint32`` variable count, then per variable: name (string), ``uint8`` rank, ``uint32``
  per dimension, ``uint8`` dtype id (float32, int8, int16, int32, float16, bfloat16),
  ``uint32`` byte count, the bytes (row-major)
- ``uint32`` alias count, then per alias: alias name, target name (strings)

A string is a ``uint16`` length counting a trailing NUL, then the UTF-8 bytes and the NUL.

Tensors are copied without arithmetic: an fp16 CTranslate2 model gives an fp16 checkpoint
whose tensors are bit-identical. CTranslate2 fuses the self-attention Q/K/V projections (and
the cross-attention K/V); they are split back, and the key bias, which Whisper does not
have, must be all zeros (checked).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from shared.config import Settings
from shared.models.registry import ModelRegistry, get_model

if TYPE_CHECKING:
    import torch

CHECKPOINT_FORMAT = 1  # bump when the conversion changes, so old checkpoints are remade
_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, None)  # None: bfloat16
_DTYPE_NAMES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


class ConversionError(RuntimeError):
    """The CTranslate2 model cannot be turned into an openai-whisper checkpoint."""


@dataclass(frozen=True)
class CT2Variable:
    name: str
    shape: tuple[int, ...]
    dtype: str  # one of _DTYPE_NAMES
    offset: int  # where the bytes start in model.bin
    nbytes: int


@dataclass
class CT2Model:
    """The variables of a CTranslate2 ``model.bin`` (read lazily through a memory map)."""

    path: Path
    version: int
    spec: str
    revision: int
    variables: dict[str, CT2Variable]
    aliases: dict[str, str]

    def array(self, name: str) -> np.ndarray:
        var = self.variables[self.aliases.get(name, name)]
        dtype = _DTYPES[_DTYPE_NAMES.index(var.dtype)]
        if dtype is None:
            raise ConversionError(f"{var.name}: bfloat16 weights are not supported")
        data = np.memmap(
            self.path, dtype=np.uint8, mode="r", offset=var.offset, shape=(var.nbytes,)
        )
        return np.frombuffer(data, dtype=dtype).reshape(var.shape)

    def scalar(self, name: str) -> int:
        return int(self.array(name).reshape(()))


def _read(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize("<" + fmt)
    raw = fh.read(size)
    if len(raw) != size:
        raise ConversionError("model.bin ends early: the file is truncated")
    return struct.unpack("<" + fmt, raw)[0]


def _read_string(fh: BinaryIO) -> str:
    length = _read(fh, "H")
    raw = fh.read(length)
    if len(raw) != length or not raw.endswith(b"\0"):
        raise ConversionError("model.bin holds a malformed string")
    return raw[:-1].decode("utf-8")


def read_ct2_model(path: Path) -> CT2Model:
    """Index the variables of a CTranslate2 ``model.bin`` without loading their data."""
    path = Path(path)
    with path.open("rb") as fh:
        version = _read(fh, "I")
        if version not in (5, 6):
            raise ConversionError(f"{path}: CTranslate2 binary version {version} is not supported")
        spec = _read_string(fh)
        revision = _read(fh, "I")
        variables: dict[str, CT2Variable] = {}
        for _ in range(_read(fh, "I")):
            name = _read_string(fh)
            rank = _read(fh, "B")
            shape = tuple(_read(fh, "I") for _ in range(rank))
            type_id = _read(fh, "B")
            nbytes = _read(fh, "I")
            if type_id >= len(_DTYPE_NAMES):
                raise ConversionError(f"{path}: {name} has unknown dtype id {type_id}")
            variables[name] = CT2Variable(name, shape, _DTYPE_NAMES[type_id], fh.tell(), nbytes)
            fh.seek(nbytes, os.SEEK_CUR)
        aliases = {}
        for _ in range(_read(fh, "I")):
            alias = _read_string(fh)
            aliases[alias] = _read_string(fh)
        if fh.read(1):
            raise ConversionError(f"{path}: unexpected bytes after the variables")
        if fh.tell() != path.stat().st_size:
            raise ConversionError(f"{path}: the file is truncated")
    return CT2Model(path, version, spec, revision, variables, aliases)


def _layer_count(model: CT2Model, prefix: str) -> int:
    count = 0
    while f"{prefix}/layer_{count}/ffn/linear_0/weight" in model.variables:
        count += 1
    return count


def model_dims(model: CT2Model) -> dict[str, int]:
    """openai-whisper's ``ModelDimensions`` read off the CTranslate2 variables' shapes."""
    conv1 = model.variables["encoder/conv1/weight"].shape  # (state, n_mels, 3)
    audio_pos = model.variables["encoder/position_encodings/encodings"].shape
    text_pos = model.variables["decoder/position_encodings/encodings"].shape
    embeddings = model.variables["decoder/embeddings/weight"].shape
    return {
        "n_mels": conv1[1],
        "n_audio_ctx": audio_pos[0],
        "n_audio_state": audio_pos[1],
        "n_audio_head": model.scalar("encoder/num_heads"),
        "n_audio_layer": _layer_count(model, "encoder"),
        "n_vocab": embeddings[0],
        "n_text_ctx": text_pos[0],
        "n_text_state": text_pos[1],
        "n_text_head": model.scalar("decoder/num_heads"),
        "n_text_layer": _layer_count(model, "decoder"),
    }


def _attention(
    model: CT2Model, src: str, dst: str, *, fused_qkv: bool, sd: dict[str, np.ndarray]
) -> None:
    """Split one CTranslate2 attention block into openai-whisper's query/key/value/out."""
    if fused_qkv:  # self-attention: linear_0 = [Q; K; V], linear_1 = out
        w, b = model.array(f"{src}/linear_0/weight"), model.array(f"{src}/linear_0/bias")
        q_w, k_w, v_w = np.split(w, 3)
        q_b, k_b, v_b = np.split(b, 3)
        out = f"{src}/linear_1"
    else:  # cross-attention: linear_0 = Q, linear_1 = [K; V], linear_2 = out
        q_w, q_b = model.array(f"{src}/linear_0/weight"), model.array(f"{src}/linear_0/bias")
        kv_w, kv_b = model.array(f"{src}/linear_1/weight"), model.array(f"{src}/linear_1/bias")
        k_w, v_w = np.split(kv_w, 2)
        k_b, v_b = np.split(kv_b, 2)
        out = f"{src}/linear_2"
    if np.any(k_b != 0):
        raise ConversionError(f"{src}: the key projection has a bias; Whisper has none")
    sd[f"{dst}.query.weight"], sd[f"{dst}.query.bias"] = q_w, q_b
    sd[f"{dst}.key.weight"] = k_w
    sd[f"{dst}.value.weight"], sd[f"{dst}.value.bias"] = v_w, v_b
    sd[f"{dst}.out.weight"] = model.array(f"{out}/weight")
    sd[f"{dst}.out.bias"] = model.array(f"{out}/bias")


def _norm(model: CT2Model, src: str, dst: str, sd: dict[str, np.ndarray]) -> None:
    sd[f"{dst}.weight"] = model.array(f"{src}/gamma")
    sd[f"{dst}.bias"] = model.array(f"{src}/beta")


def _linear(model: CT2Model, src: str, dst: str, sd: dict[str, np.ndarray]) -> None:
    sd[f"{dst}.weight"] = model.array(f"{src}/weight")
    sd[f"{dst}.bias"] = model.array(f"{src}/bias")


def state_dict_arrays(model: CT2Model) -> dict[str, np.ndarray]:
    """openai-whisper's state_dict names mapped to the CTranslate2 tensors (no copies)."""
    if model.spec != "WhisperSpec":
        raise ConversionError(f"{model.path}: a {model.spec}, not a Whisper model")
    dims = model_dims(model)
    sd: dict[str, np.ndarray] = {}
    sd["encoder.positional_embedding"] = model.array("encoder/position_encodings/encodings")
    for conv in ("conv1", "conv2"):
        _linear(model, f"encoder/{conv}", f"encoder.{conv}", sd)
    for i in range(dims["n_audio_layer"]):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        _attention(model, f"{src}/self_attention", f"{dst}.attn", fused_qkv=True, sd=sd)
        _norm(model, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", sd)
        _linear(model, f"{src}/ffn/linear_0", f"{dst}.mlp.0", sd)
        _linear(model, f"{src}/ffn/linear_1", f"{dst}.mlp.2", sd)
        _norm(model, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", sd)
    _norm(model, "encoder/layer_norm", "encoder.ln_post", sd)

    sd["decoder.positional_embedding"] = model.array("decoder/position_encodings/encodings")
    sd["decoder.token_embedding.weight"] = model.array("decoder/embeddings/weight")
    projection = "decoder/projection/weight"
    # openai-whisper ties the output projection to the token embedding.
    untied = projection in model.variables  # not an alias of the embedding
    if untied and not np.array_equal(model.array(projection), sd["decoder.token_embedding.weight"]):
        raise ConversionError("the output projection differs from the token embedding")
    for i in range(dims["n_text_layer"]):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _attention(model, f"{src}/self_attention", f"{dst}.attn", fused_qkv=True, sd=sd)
        _norm(model, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", sd)
        _attention(model, f"{src}/attention", f"{dst}.cross_attn", fused_qkv=False, sd=sd)
        _norm(model, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln", sd)
        _linear(model, f"{src}/ffn/linear_0", f"{dst}.mlp.0", sd)
        _linear(model, f"{src}/ffn/linear_1", f"{dst}.mlp.2", sd)
        _norm(model, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", sd)
    _norm(model, "decoder/layer_norm", "decoder.ln", sd)
    return sd


def alignment_heads(config: dict, dims: dict[str, int]) -> list[tuple[int, int]]:
    """The (layer, head) pairs used for word timing: the config's, else the upper half."""
    heads = config.get("alignment_heads")
    if heads:
        return [(int(layer), int(head)) for layer, head in heads]
    layers, n_heads = dims["n_text_layer"], dims["n_text_head"]
    return [(layer, head) for layer in range(layers // 2, layers) for head in range(n_heads)]


def alignment_heads_dump(heads: list[tuple[int, int]], dims: dict[str, int]) -> bytes:
    """``heads`` in the form ``Whisper.set_alignment_heads`` takes (base85 of gzip'd bools)."""
    mask = np.zeros((dims["n_text_layer"], dims["n_text_head"]), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0))


def convert(ct2_dir: Path, out: Path) -> Path:
    """Write ``out`` (openai-whisper checkpoint) from the CTranslate2 folder ``ct2_dir``.

    The file is written beside ``out`` and renamed, so a reader never sees half of it.
    """
    import torch

    ct2 = read_ct2_model(Path(ct2_dir) / "model.bin")
    config = json.loads((Path(ct2_dir) / "config.json").read_text())
    dims = model_dims(ct2)
    state = {name: torch.from_numpy(np.array(a)) for name, a in state_dict_arrays(ct2).items()}
    checkpoint = {
        "dims": dims,
        "model_state_dict": state,
        "alignment_heads": [list(pair) for pair in alignment_heads(config, dims)],
        "ascent_format": CHECKPOINT_FORMAT,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(checkpoint, fh)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from workers run as other users
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def checkpoint_path(settings: Settings, model: str | None = None) -> Path:
    name = model or settings.asr_model
    return settings.models_dir / "openai-whisper" / f"{name}.pt"


_convert_lock = threading.Lock()


def ensure_openai_checkpoint(settings: Settings, model: str | None = None) -> Path:
    """The openai-whisper ``.pt`` of the packaged ASR model, converted on first use.

    Reused while it is newer than the CTranslate2 weights it was made from (which the
    registry assembles and verifies first) and of the current conversion format.
    """
    name = model or settings.asr_model
    if get_model(name).kind != "asr":
        raise ValueError(f"{name!r} is not a speech model")
    ct2_dir = ModelRegistry(settings.models_dir).path(name)
    out = checkpoint_path(settings, name)
    stamp = out.with_suffix(".json")
    source = ct2_dir / "model.bin"
    with _convert_lock:
        if _is_current(out, stamp, source):
            return out
        convert(ct2_dir, out)
        _write_stamp(stamp, out, source)
    return out


def _source_id(source: Path) -> dict[str, float | int]:
    stat = source.stat()
    return {"size": stat.st_size, "mtime": stat.st_mtime, "format": CHECKPOINT_FORMAT}


def _is_current(out: Path, stamp: Path, source: Path) -> bool:
    try:
        recorded = json.loads(stamp.read_text())
        size = out.stat().st_size
    except (OSError, ValueError):
        return False
    return recorded == {**_source_id(source), "checkpoint_size": size}


def _write_stamp(stamp: Path, out: Path, source: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=stamp.parent, prefix=f".{stamp.name}.")
    with os.fdopen(fd, "w") as fh:
        json.dump({**_source_id(source), "checkpoint_size": out.stat().st_size}, fh)
    os.replace(tmp, stamp)


def load_checkpoint_tensor(path: Path, name: str) -> torch.Tensor:
    """One tensor of a saved checkpoint (for checks)."""
    import torch

    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return checkpoint["model_state_dict"][name]
