"""Read the mnist-edge description embedded in a model file, without TensorFlow.

TFLite: a ``Model.metadata`` entry named ``mnist_edge`` whose buffer holds JSON, read here with
a minimal FlatBuffers walker (the schema's field numbers are stable). ONNX: the ``mnist_edge``
key of ``metadata_props``, read through onnxruntime's model metadata.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from mnist_edge.core.contract import METADATA_KEY, SCHEMA

# Field numbers in tensorflow/compiler/mlir/lite/schema/schema.fbs.
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2
_METADATA_NAME, _METADATA_BUFFER = 0, 1


class _Table:
    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vsize = struct.unpack_from("<H", buf, vtable)[0]
        self.vtable = vtable

    def _field(self, index: int) -> int | None:
        slot = 4 + 2 * index
        if slot >= self.vsize:
            return None
        offset = struct.unpack_from("<H", self.buf, self.vtable + slot)[0]
        return self.pos + offset if offset else None

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        at = self._field(index)
        return struct.unpack_from(fmt, self.buf, at)[0] if at is not None else default

    def _vector(self, index: int) -> tuple[int, int] | None:
        at = self._field(index)
        if at is None:
            return None
        start = at + struct.unpack_from("<I", self.buf, at)[0]
        return start + 4, struct.unpack_from("<I", self.buf, start)[0]

    def bytes(self, index: int) -> bytes:
        vec = self._vector(index)
        return b"" if vec is None else self.buf[vec[0] : vec[0] + vec[1]]

    def tables(self, index: int) -> list[_Table]:
        vec = self._vector(index)
        if vec is None:
            return []
        start, count = vec
        slots = [start + 4 * i for i in range(count)]
        return [_Table(self.buf, at + struct.unpack_from("<I", self.buf, at)[0]) for at in slots]


def read_tflite_metadata(content: bytes) -> dict[str, bytes]:
    """All named metadata buffers of a TFLite flatbuffer (name -> raw bytes)."""
    model = _Table(content, struct.unpack_from("<I", content, 0)[0])
    buffers = model.tables(_MODEL_BUFFERS)
    found: dict[str, bytes] = {}
    for entry in model.tables(_MODEL_METADATA):
        name = entry.bytes(_METADATA_NAME).decode("utf-8", "replace")
        index = entry.scalar(_METADATA_BUFFER, "<I")
        if index >= len(buffers):
            continue
        buffer = buffers[index]
        data = buffer.bytes(_BUFFER_DATA)
        offset = buffer.scalar(_BUFFER_OFFSET, "<Q")
        if not data and offset > 1:  # large models keep buffers after the flatbuffer
            data = content[offset : offset + buffer.scalar(_BUFFER_SIZE, "<Q")]
        found[name] = data
    return found


def tflite_description(content: bytes) -> dict[str, Any] | None:
    """The mnist-edge JSON description of a TFLite model, or None if it carries none."""
    try:
        raw = read_tflite_metadata(content).get(METADATA_KEY)
    except (struct.error, IndexError):
        return None
    return _parse(raw)


def onnx_description(custom_metadata: dict[str, str]) -> dict[str, Any] | None:
    return _parse(custom_metadata.get(METADATA_KEY))


def _parse(raw: bytes | str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) and value.get("schema") == SCHEMA else None
