"""Keras -> TFLite in four precisions, and TFLite metadata embedding."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from mnist_edge.core.contract import METADATA_KEY
from mnist_edge.export.context import ExportContext


def _converter(ctx: ExportContext) -> Any:
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_saved_model(
        ctx.saved_model_dir, signature_keys=["serving_default"]
    )


def convert_fp32(ctx: ExportContext) -> bytes:
    return bytes(_converter(ctx).convert())


def convert_fp16(ctx: ExportContext) -> bytes:
    import tensorflow as tf

    converter = _converter(ctx)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    return bytes(converter.convert())


def convert_dynamic(ctx: ExportContext) -> bytes:
    import tensorflow as tf

    converter = _converter(ctx)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return bytes(converter.convert())


def convert_int8(ctx: ExportContext) -> bytes:
    """Full integer: int8 kernels only, uint8 pixels in, uint8 probabilities out."""
    import tensorflow as tf

    converter = _converter(ctx)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = ctx.calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    return bytes(converter.convert())


def embed_metadata(content: bytes, description: dict[str, Any]) -> bytes:
    """Add (or replace) the ``mnist_edge`` metadata buffer holding ``description`` as JSON."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    payload = json.dumps(description, sort_keys=True).encode("utf-8")
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    kept = [m for m in (model.metadata or []) if _name(m.name) != METADATA_KEY]
    model.metadata = [*kept, entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _name(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
