"""The export run: convert each format, validate it, describe it, then write the manifest."""

from __future__ import annotations

import datetime as dt
import importlib
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.modelinfo import SCHEMA
from edge_app.runtime import load_model
from export.calibration import CalibrationReader
from export.config import ExportConfig
from export.context import ExportContext
from export.validate import Validation, predict_all, validate_file
from mnist_edge import __version__
from mnist_edge.data import load_split
from mnist_edge.errors import UserError
from mnist_edge.formats import FORMATS, ExportFormat
from mnist_edge.fsutil import atomic_path, prepare_out_dir, sha256_file, write_json_atomic
from train.architectures import INPUT_NAME, OUTPUT_NAME

MANIFEST = "manifest.json"
LABELS = [str(d) for d in range(10)]
PREPROCESSING = ("edge_app.preprocess.to_mnist: ink 255 on 0; crop to the ink, fit the longer "
                 "side into 20 px with anti-aliasing, centre by centre of mass in 28x28 (as MNIST "
                 "was made); the model scales pixels to [0, 1] itself")


@dataclass
class Outcome:
    fmt: ExportFormat
    status: str  # ok | failed
    reason: str = ""
    file: str = ""
    bytes: int = 0
    sha256: str = ""
    seconds: float = 0.0
    validation: Validation | None = None


def versions() -> dict[str, str]:
    found = {"mnist_edge": __version__, "python": platform.python_version()}
    for name in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai_edge_litert",
                 "numpy"):
        try:
            module = importlib.import_module(name)
            found[name] = getattr(module, "__version__", "?")
        except ImportError:
            continue
    return found


def _family_module(fmt: ExportFormat) -> Any:
    return importlib.import_module("export.to_tflite" if fmt.family == "tflite" else
                                   "export.to_onnx")


def _resolve(exporter: str) -> Any:
    module, _, function = exporter.partition(":")
    return getattr(importlib.import_module(module), function)


def describe(fmt: ExportFormat, arch: str, source: dict[str, Any],
             validation: Validation | None, lib_versions: dict[str, str]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "labels": LABELS,
        "input": {"name": INPUT_NAME, "shape": [-1, 28, 28, 1], "dtype": "uint8",
                  "range": [0, 255], "layout": "NHWC", "ink": "255 on 0"},
        "preprocessing": PREPROCESSING,
        "output": {"name": OUTPUT_NAME, "shape": [-1, 10], "meaning": "softmax probabilities"},
        "format": fmt.key,
        "precision": fmt.precision,
        "arch": arch,
        "source": source,
        "validation": asdict(validation) if validation else None,
        "exporter": lib_versions,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


class _Failed(Exception):
    def __init__(self, reason: str, validation: Validation | None = None) -> None:
        super().__init__(reason)
        self.reason, self.validation = reason, validation


def export_one(fmt: ExportFormat, ctx: ExportContext, out: Path, stem: str, config: ExportConfig,
               test: Any, reference: np.ndarray, source: dict[str, Any],
               lib_versions: dict[str, str]) -> Outcome:
    """Convert, check, validate and describe one format; the file appears only if all pass."""
    started = time.perf_counter()
    target = out / fmt.filename(stem)
    try:
        validation, final = _build(fmt, ctx, target, stem, config, test, reference, source,
                                   lib_versions)
    except _Failed as failed:
        # Under --force an older file of this format may sit there; it no longer matches the
        # manifest, so it goes too.
        target.unlink(missing_ok=True)
        return Outcome(fmt, "failed", failed.reason, seconds=time.perf_counter() - started,
                       validation=failed.validation)
    return Outcome(fmt, "ok", file=target.name, bytes=len(final), sha256=sha256_file(target),
                   seconds=time.perf_counter() - started, validation=validation)


def _build(fmt: ExportFormat, ctx: ExportContext, target: Path, stem: str, config: ExportConfig,
           test: Any, reference: np.ndarray, source: dict[str, Any],
           lib_versions: dict[str, str]) -> tuple[Validation, bytes]:
    family = _family_module(fmt)
    try:
        content = _resolve(fmt.exporter)(ctx)
    except Exception as exc:  # one converter failing must not stop the other formats
        raise _Failed(f"converter failed: {_reason(exc)}") from None
    if fmt.family == "onnx":
        try:
            family.check(content)
        except Exception as exc:
            raise _Failed(f"onnx.checker: {_reason(exc)}") from None
    # Raising inside atomic_path discards the temporary file: nothing partial is published.
    with atomic_path(target) as tmp:
        tmp.write_bytes(content)
        try:
            validation, probs = validate_file(tmp, fmt, test.images, test.labels, reference)
        except UserError as exc:
            raise _Failed(f"does not load in the runtime: {exc}") from None
        threshold = config.threshold(fmt.precision, fmt.min_agreement)
        if validation.agreement < threshold:
            raise _Failed(f"agreement {validation.agreement:.2%} with the Keras model is below "
                          f"the {threshold:.2%} required for {fmt.precision}", validation)
        # Describe the validated file, then prove the described bytes still predict the same.
        final = family.embed_metadata(content, describe(fmt, stem, source, validation,
                                                        lib_versions))
        tmp.write_bytes(final)
        again = predict_all(load_model(tmp), test.images[:500])
        if not np.allclose(again, probs[:500], atol=1e-6):
            raise _Failed("predictions changed after embedding metadata")
    return validation, final


def _reason(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:240]


def run_export(config: ExportConfig) -> list[Outcome]:
    from train.evaluate import load_keras_model

    model_path = Path(config.model)
    model = load_keras_model(model_path)
    if tuple(model.input_shape[1:]) != (28, 28, 1) or model.output_shape[-1] != 10:
        raise UserError(f"{model_path} takes {model.input_shape} and returns "
                        f"{model.output_shape}; export expects an mnist-edge model "
                        "(uint8 [N, 28, 28, 1] -> 10 probabilities)")
    test = load_split("test", config.data_dir)
    calibration = CalibrationReader.from_training_set(config.calibration_samples,
                                                      config.data_dir, config.seed)
    out = prepare_out_dir(config.out_dir, force=config.force, what="export")
    reference = np.asarray(model.predict(test.images[..., None], batch_size=1000, verbose=0))
    stem = model.name or "model"
    source = {"file": model_path.name, "sha256": sha256_file(model_path), "arch": stem,
              "test_accuracy": float((reference.argmax(1) == test.labels).mean()),
              "params": int(model.count_params()), "data_checksums": test.checksums}
    lib_versions = versions()
    ctx = ExportContext(model, calibration, config.opset)
    outcomes: list[Outcome] = []
    try:
        for key in config.formats:
            print(f"exporting {key} ...", file=sys.stderr, flush=True)
            outcomes.append(export_one(FORMATS[key], ctx, out, stem, config, test, reference,
                                       source, lib_versions))
    finally:
        ctx.close()
    write_manifest(out, outcomes, source, stem, lib_versions)
    return outcomes


def write_manifest(out: Path, outcomes: list[Outcome], source: dict[str, Any], arch: str,
                   lib_versions: dict[str, str]) -> None:
    models = []
    for o in outcomes:
        if o.status != "ok" or o.validation is None:
            continue
        models.append({
            "file": o.file, "format": o.fmt.key, "family": o.fmt.family,
            "precision": o.fmt.precision, "bytes": o.bytes, "sha256": o.sha256,
            "accuracy": o.validation.accuracy, "agreement": o.validation.agreement,
            "max_abs_diff": o.validation.max_abs_diff, "validated_on": o.validation.runtime,
            "export_seconds": round(o.seconds, 2),
            "input": {"name": INPUT_NAME, "shape": [-1, 28, 28, 1], "dtype": "uint8",
                      "range": [0, 255], "preprocessing": "edge_app.preprocess.to_mnist"},
            "source": source,
        })
    write_json_atomic(out / MANIFEST, {
        "schema": "mnist-edge-manifest/1", "arch": arch, "labels": LABELS,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "exporter": lib_versions, "models": models,
    })


def format_table(outcomes: list[Outcome]) -> str:
    fp32 = next((o.bytes for o in outcomes if o.fmt.key == "tflite-fp32" and o.bytes), 0)
    header = f"{'format':<16}{'size KB':>9}{'vs fp32':>9}{'accuracy':>10}{'agreement':>11}" \
             f"{'max diff':>10}{'seconds':>9}  status"
    lines = [header, "-" * len(header)]
    for o in outcomes:
        v = o.validation
        ratio = f"{o.bytes / fp32:.2f}x" if fp32 and o.bytes else "-"
        lines.append(
            f"{o.fmt.key:<16}{(f'{o.bytes / 1024:.1f}' if o.bytes else '-'):>9}{ratio:>9}"
            f"{(f'{v.accuracy:.2%}' if v else '-'):>10}{(f'{v.agreement:.2%}' if v else '-'):>11}"
            f"{(f'{v.max_abs_diff:.4f}' if v else '-'):>10}{o.seconds:>9.1f}  "
            f"{o.status}{': ' + o.reason if o.reason else ''}")
    return "\n".join(lines)



