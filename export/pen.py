"""Export the pen model: TFLite fp32/int8 (TF converter) and ONNX fp32/int8 (tf2onnx, onnxruntime).

The digit exporter (``export.exporter``) is built around the image contract (uint8 pixels, MNIST
test set); the pen model takes trajectories, so this module converts with the same converters,
validates each file on the slim runtime against Keras on held-out writers' drawings, and embeds
a description (what it expects: points, features, normalisation; the fusion it was calibrated
for) with the families' own ``embed_metadata``.

    mnist-edge pen export --model runs/pen/pen.keras --drawn A.json B.json \
        --out runs/pen/export [--fusion runs/pen/fusion.json]
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.contract import LABELS, PROBABILITIES, SCHEMA
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import sha256_file
from mnist_edge.core.quiet import import_keras, quiet_stderr
from mnist_edge.core.registry import FORMATS
from mnist_edge.edge_app.pen.features import (
    FEATURES,
    INPUT_NAME,
    KIND,
    NORMALISATION,
    POINTS,
    batch_features,
    load_pen_model,
)
from mnist_edge.edge_app.runtime.shipped import record_pen

#: Least top-1 agreement with Keras on held-out drawings, by precision (as the digit model's).
MIN_AGREEMENT = {"fp32": 0.999, "int8": 0.99}
CALIBRATION_SAMPLES = 500
OPSET = 17


@dataclass(frozen=True)
class PenValidation:
    accuracy: float
    agreement: float
    max_abs_diff: float
    drawings: int
    runtime: str


class _Calibration:
    """Trajectories of training writers for both quantizers (TFLite callable, ORT reader)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x.astype(np.float32)
        self._iter: Iterator[dict[str, np.ndarray]] | None = None

    def _samples(self) -> Iterator[dict[str, np.ndarray]]:
        for i in range(len(self.x)):
            yield {INPUT_NAME: self.x[i : i + 1]}

    def __call__(self) -> Iterator[list[np.ndarray]]:
        return ([d[INPUT_NAME]] for d in self._samples())

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._iter is None:
            self._iter = self._samples()
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = None


def _serving(model: Any) -> tuple[Any, list[Any]]:
    import tensorflow as tf

    signature = [tf.TensorSpec([None, POINTS, len(FEATURES)], tf.float32, name=INPUT_NAME)]

    @tf.function(input_signature=signature)
    def serve(strokes: Any) -> dict[str, Any]:
        return {PROBABILITIES: model(strokes, training=False)}

    return serve, signature


def _saved_model(model: Any, serve: Any, signature: list[Any], tmp: Path) -> str:
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=signature)
    archive.write_out(str(tmp / "saved_model"), verbose=False)
    return str(tmp / "saved_model")


def _key(family: str, precision: str) -> str:
    """The registry's format key of a family and precision (the registry is the one table)."""
    return next(k for k, f in FORMATS.items() if (f.family, f.precision) == (family, precision))


def convert(model: Any, calibration: _Calibration, tmp: Path) -> dict[str, bytes]:
    import tensorflow as tf
    import tf2onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    serve, signature = _serving(model)
    saved = _saved_model(model, serve, signature, tmp)
    out: dict[str, bytes] = {}
    converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=["serving_default"])
    out[_key("tflite", "fp32")] = bytes(converter.convert())
    converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=["serving_default"])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # float trajectories in, float probabilities out: int8 kernels inside (the features are
    # small floats; a quantized interface would only move the rounding into the app)
    out[_key("tflite", "int8")] = bytes(converter.convert())
    proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=OPSET)
    out[_key("onnx", "fp32")] = proto.SerializeToString()
    source, prepared, quantized = (tmp / n for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
    source.write_bytes(out[_key("onnx", "fp32")])
    quant_pre_process(str(source), str(prepared))
    calibration.rewind()
    quantize_static(  # as export.to_onnx quantizes the digit model (reduce_range: see there)
        str(prepared),
        str(quantized),
        calibration,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    out[_key("onnx", "int8")] = quantized.read_bytes()
    return out


def describe(
    key: str,
    source: dict[str, Any],
    validation: PenValidation,
    fusion: dict[str, Any] | None,
    training: dict[str, Any],
) -> dict[str, Any]:
    from mnist_edge.export.exporter import versions

    return {
        "schema": SCHEMA,
        "kind": KIND,
        "labels": list(LABELS),
        "input": {
            "name": INPUT_NAME,
            "shape": [-1, POINTS, len(FEATURES)],
            "dtype": "float32",
            "points": POINTS,
            "features": list(FEATURES),
            "normalisation": NORMALISATION,
            "preprocessing": "mnist_edge.edge_app.pen.features.features",
        },
        "outputs": {PROBABILITIES: {"shape": [-1, len(LABELS)], "meaning": "softmax"}},
        "fusion": fusion,
        "format": key,
        "precision": FORMATS[key].precision,
        "arch": "pen",
        "source": source,
        "metrics": training,
        "validation": asdict(validation),
        "exporter": versions(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _embedder(key: str) -> Callable[[bytes, dict[str, Any]], bytes]:
    if FORMATS[key].family == "tflite":
        from mnist_edge.export.to_tflite import embed_metadata

        return embed_metadata
    from mnist_edge.export.to_onnx import embed_metadata as embed_onnx

    def embed(content: bytes, description: dict[str, Any]) -> bytes:
        import onnx

        model = onnx.load_from_string(embed_onnx(content, description))
        model.doc_string = f"mnist-edge pen model: float32 [N,{POINTS},{len(FEATURES)}] -> 10"
        return model.SerializeToString()

    return embed


def validate(path: Path, x: np.ndarray, y: np.ndarray, reference: np.ndarray) -> PenValidation:
    model = load_pen_model(path)
    probs = np.concatenate([model.run(x[i : i + 256]).probabilities for i in range(0, len(x), 256)])
    return PenValidation(
        float((probs.argmax(1) == y).mean()),
        float((probs.argmax(1) == reference.argmax(1)).mean()),
        float(np.abs(probs - reference).max()),
        len(y),
        model.runtime,
    )


def run(model_path: Path, drawn: list[str], out: Path, fusion_path: Path | None) -> list[str]:
    from mnist_edge.train.pen import held_out_pen_data, load_pen_keras

    data = held_out_pen_data(drawn)  # validation needs held-out writers: before TensorFlow
    import_keras()  # quietly (--verbose shows TensorFlow's logs)
    model = load_pen_keras(model_path)  # a corrupt or other model is one line
    x = batch_features([s.strokes for s in data.samples])
    pick = np.random.default_rng(0).permutation(np.flatnonzero(~data.held))[:CALIBRATION_SAMPLES]
    calibration = _Calibration(x[np.sort(pick)])  # training writers only
    x_val, y_val = x[data.held], data.labels[data.held]
    reference = np.asarray(model.predict(x_val, batch_size=512, verbose=0))
    # The whole measurement record travels into the manifest (the card reads its figures).
    record = json.loads(fusion_path.read_text()) if fusion_path else None
    fusion = record["fusion"] if record else None
    training_path = model_path.parent / "metrics.json"
    training = json.loads(training_path.read_text()) if training_path.is_file() else {}
    training = {
        k: training[k] for k in ("params", "train_samples", "val_accuracy") if k in training
    }
    source = {"file": model_path.name, "sha256": sha256_file(model_path), "arch": "pen"}
    out.mkdir(parents=True, exist_ok=True)
    lines, entries = [], []
    with tempfile.TemporaryDirectory(prefix="mnist-edge-pen-") as tmp:
        with quiet_stderr(stdout=True):
            files = convert(model, calibration, Path(tmp))
        for key, content in files.items():
            precision, family = FORMATS[key].precision, FORMATS[key].family
            target = out / FORMATS[key].filename("pen")
            probe = Path(tmp) / target.name
            probe.write_bytes(_embedder(key)(content, describe(key, source, _dummy(), None, {})))
            check = validate(probe, x_val, y_val, reference)
            if check.agreement < MIN_AGREEMENT[precision]:
                raise UserError(
                    f"{key}: agreement {check.agreement:.2%} with Keras is below "
                    f"{MIN_AGREEMENT[precision]:.1%}"
                )
            final = _embedder(key)(content, describe(key, source, check, fusion, training))
            target.write_bytes(final)
            again = validate(target, x_val, y_val, reference)
            if again != check:
                raise UserError(f"{key}: predictions changed after embedding metadata")
            entries.append(
                {
                    "file": target.name,
                    "format": key,
                    "family": family,
                    "precision": precision,
                    "bytes": len(final),
                    "sha256": sha256_file(target),
                    **asdict(check),
                }
            )
            lines.append(
                f"{key:<12} {len(final) / 1024:7.1f} KB  held-out {check.accuracy:.2%}  "
                f"agreement {check.agreement:.2%}  max diff {check.max_abs_diff:.4f}  "
                f"on {check.runtime}"
            )
    record_pen(
        out,
        {"source": source, "models": entries, **({"calibration": record} if record else {})},
    )
    return lines


def _dummy() -> PenValidation:
    return PenValidation(0.0, 0.0, 0.0, 0, "")
