"""A small GGUF reader: the key/value metadata and the tensor directory, parsed with ``struct``.

``gguf.GGUFReader`` builds a NumPy view for every field item (300k tokenizer strings for
Qwen), which takes several seconds per file; this reads the same header in a fraction of a
second and maps tensor data lazily. Layout (GGUF v3, little-endian): magic, version,
tensor count, kv count; the kv pairs; per tensor its name, dims, type and offset; then the
data, aligned to ``general.alignment`` bytes.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUF_DEFAULT_ALIGNMENT, GGMLQuantizationType, GGUFValueType
from gguf import quants as ggml_quants

_SCALARS = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b", GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h", GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?", GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q", GGUFValueType.FLOAT64: "<d",
}  # fmt: skip

# key -> (value, type, array item type or None)
Metadata = dict[str, tuple[Any, GGUFValueType, GGUFValueType | None]]


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # NumPy order: rows first, the contiguous dimension last
    type: GGMLQuantizationType
    offset: int  # from the start of the file


class _Cursor:
    def __init__(self, buffer: mmap.mmap, offset: int = 0) -> None:
        self.buffer, self.offset = buffer, offset

    def value(self, kind: GGUFValueType) -> Any:
        if kind == GGUFValueType.STRING:
            length = self.value(GGUFValueType.UINT64)
            self.offset += length
            return self.buffer[self.offset - length : self.offset].decode("utf-8")
        fmt = _SCALARS[kind]
        (item,) = struct.unpack_from(fmt, self.buffer, self.offset)
        self.offset += struct.calcsize(fmt)
        return item

    def field(self) -> tuple[Any, GGUFValueType, GGUFValueType | None]:
        kind = GGUFValueType(self.value(GGUFValueType.UINT32))
        if kind != GGUFValueType.ARRAY:
            return self.value(kind), kind, None
        item_kind = GGUFValueType(self.value(GGUFValueType.UINT32))
        count = self.value(GGUFValueType.UINT64)
        return [self.value(item_kind) for _ in range(count)], kind, item_kind


def _parse(buffer: mmap.mmap, path: Path) -> tuple[Metadata, dict[str, TensorInfo]]:
    if buffer[:4] != b"GGUF":
        raise ValueError(f"{path} is not a GGUF file")
    n_tensors, n_kv = struct.unpack_from("<QQ", buffer, 8)
    cursor = _Cursor(buffer, 24)
    metadata: Metadata = {}
    for _ in range(n_kv):
        key = cursor.value(GGUFValueType.STRING)
        metadata[key] = cursor.field()
    raw = []
    for _ in range(n_tensors):
        name = cursor.value(GGUFValueType.STRING)
        dims = [
            cursor.value(GGUFValueType.UINT64) for _ in range(cursor.value(GGUFValueType.UINT32))
        ]
        kind = GGMLQuantizationType(cursor.value(GGUFValueType.UINT32))
        raw.append((name, tuple(reversed(dims)), kind, cursor.value(GGUFValueType.UINT64)))
    align = metadata.get("general.alignment", (GGUF_DEFAULT_ALIGNMENT,))[0]
    start = -(-cursor.offset // align) * align
    tensors = {n: TensorInfo(n, shape, kind, start + off) for n, shape, kind, off in raw}
    return metadata, tensors


def read_header(path: Path) -> tuple[Metadata, dict[str, TensorInfo]]:
    """The metadata and the tensor directory of a GGUF file."""
    with (
        Path(path).open("rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buffer,
    ):
        return _parse(buffer, Path(path))


def read_metadata(path: Path) -> Metadata:
    return read_header(path)[0]


def read_tensor(path: Path, name: str) -> np.ndarray:
    """One tensor, dequantized to float32 (NumPy shape)."""
    info = read_header(path)[1].get(name)
    if info is None:
        raise KeyError(f"{path} holds no tensor {name!r}")
    return tensor_data(path, info)


def tensor_data(path: Path, info: TensorInfo) -> np.ndarray:
    """The tensor ``info`` describes, read from ``path`` and dequantized to float32."""
    byte_shape = ggml_quants.quant_shape_to_byte_shape(info.shape, info.type)
    count = int(np.prod(byte_shape))
    raw = np.fromfile(path, dtype=np.uint8, count=count, offset=info.offset).reshape(byte_shape)
    if info.type == GGMLQuantizationType.F32:
        return raw.view(np.float32).copy()
    if info.type == GGMLQuantizationType.F16:
        return raw.view(np.float16).astype(np.float32)
    return ggml_quants.dequantize(raw, info.type).astype(np.float32)
