"""The export run: convert each format, validate it, describe it, then write the manifest."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge import __version__
from mnist_edge.core.contract import (
    EMBEDDING,
    INPUT_SHAPE,
    LABELS,
    MANIFEST_SCHEMA,
    PREPROCESSING,
    PROBABILITIES,
    SCHEMA,
    input_description,
)
from mnist_edge.core.data import load_split
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path, output_dir, sha256_file, write_json_atomic
from mnist_edge.core.quiet import quiet_stderr
from mnist_edge.core.registry import FORMATS, RUNTIMES, ExportFormat
from mnist_edge.core.text import error_line
from mnist_edge.edge_app.runtime import load_model
from mnist_edge.edge_app.runtime.shipped import read_manifest
from mnist_edge.export.config import ExportConfig
from mnist_edge.export.context import ExportContext
from mnist_edge.export.representative import CalibrationReader
from mnist_edge.export.validate import Validation, validate_file

MANIFEST = "manifest.json"


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
    """The converters' and every registered runtime's versions (what made and checked a file)."""
    import importlib.metadata as md

    found = {
        "mnist_edge": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    wanted = ["tensorflow", "tf2onnx", "onnx", *{r.distribution for r in RUNTIMES.values()}]
    for name in sorted(wanted):
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return found


def _family_module(fmt: ExportFormat) -> Any:
    """The module of the format's exporter also embeds metadata and checks the family's files."""
    return importlib.import_module(fmt.exporter.partition(":")[0])


def describe(
    fmt: ExportFormat,
    arch: str,
    source: dict[str, Any],
    validation: Validation | None,
    lib_versions: dict[str, str],
    training: dict[str, Any],
    embedding_size: int,
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "labels": list(LABELS),
        "input": input_description(),
        "preprocessing": PREPROCESSING,
        "outputs": {
            PROBABILITIES: {
                "shape": [-1, len(LABELS)],
                "meaning": "softmax probabilities, calibrated (see calibration)",
            },
            EMBEDDING: {
                "shape": [-1, embedding_size],
                "meaning": "the features the classifier "
                "reads (input of its last layer): on-device learning compares these",
            },
        },
        "calibration": training.get("calibration"),
        "format": fmt.key,
        "precision": fmt.precision,
        "arch": arch,
        "source": source,
        "metrics": training.get("metrics"),
        "validation": asdict(validation) if validation else None,
        "exporter": lib_versions,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


class _Failed(Exception):
    def __init__(self, reason: str, validation: Validation | None = None) -> None:
        super().__init__(reason)
        self.reason, self.validation = reason, validation


@dataclass(frozen=True)
class ExportRun:
    """What every format of one export run is checked and described against."""

    config: ExportConfig
    stem: str
    test: Any  # MnistSplit
    reference: np.ndarray  # Keras probabilities on the test set
    reference_embedding: np.ndarray  # Keras embeddings of the first VALIDATE_EMBEDDING images
    source: dict[str, Any]
    lib_versions: dict[str, str]
    training: dict[str, Any]  # calibration and metrics from the run's metrics.json

    def description(self, fmt: ExportFormat, validation: Validation | None) -> dict[str, Any]:
        return describe(
            fmt,
            self.stem,
            self.source,
            validation,
            self.lib_versions,
            self.training,
            int(self.reference_embedding.shape[1]),
        )


VALIDATE_EMBEDDING = 500  # images whose embeddings are compared with Keras'


def export_one(fmt: ExportFormat, ctx: ExportContext, out: Path, run: ExportRun) -> Outcome:
    """Convert, check, validate and describe one format; the file appears only if all pass."""
    started = time.perf_counter()
    target = out / fmt.filename(run.stem)
    try:
        validation, final = _build(fmt, ctx, target, run)
    except _Failed as failed:
        # Under --force an older file of this format may sit there; it no longer matches the
        # manifest, so it goes too.
        target.unlink(missing_ok=True)
        return Outcome(
            fmt,
            "failed",
            failed.reason,
            seconds=time.perf_counter() - started,
            validation=failed.validation,
        )
    return Outcome(
        fmt,
        "ok",
        file=target.name,
        bytes=len(final),
        sha256=sha256_file(target),
        seconds=time.perf_counter() - started,
        validation=validation,
    )


def _build(
    fmt: ExportFormat, ctx: ExportContext, target: Path, run: ExportRun
) -> tuple[Validation, bytes]:
    family = _family_module(fmt)
    try:
        with quiet_stderr(stdout=True):
            content = fmt.load_exporter()(ctx)
    except Exception as exc:  # one converter failing must not stop the other formats
        raise _Failed(f"converter failed: {error_line(exc)}") from None
    if hasattr(family, "check"):
        try:
            family.check(content)
        except Exception as exc:
            raise _Failed(f"{fmt.family} check: {error_line(exc)}") from None
    # Raising inside atomic_path discards the temporary file: nothing partial is published.
    with atomic_path(target) as tmp:
        tmp.write_bytes(content)
        try:
            validation, probs = validate_file(
                tmp, run.test.images, run.test.labels, run.reference, run.reference_embedding
            )
        except UserError as exc:
            raise _Failed(f"does not load in the runtime: {exc}") from None
        threshold = run.config.threshold(fmt.precision, fmt.min_agreement)
        if validation.agreement < threshold:
            raise _Failed(
                f"agreement {validation.agreement:.2%} with the Keras model is below "
                f"the {threshold:.2%} required for {fmt.precision}; if that is expected, lower "
                f"it with --min-agreement {fmt.precision}=FRACTION",
                validation,
            )
        if validation.embedding_diff > MAX_EMBEDDING_DIFF[fmt.arithmetic]:
            raise _Failed(
                f"embedding differs from Keras by {validation.embedding_diff:.1%} "
                f"(mean relative L2), more than {MAX_EMBEDDING_DIFF[fmt.arithmetic]:.0%}",
                validation,
            )
        # Describe the validated file, then prove the described bytes still predict the same.
        final = family.embed_metadata(content, run.description(fmt, validation))
        tmp.write_bytes(final)
        again = load_model(tmp).run(run.test.images[:500]).probabilities
        if not np.allclose(again, probs[:500], atol=1e-6):
            raise _Failed("predictions changed after embedding metadata")
    return validation, final


#: Largest mean relative L2 error of the embedding against Keras, by arithmetic.
MAX_EMBEDDING_DIFF = {"fp32": 0.01, "int8": 0.15}


def training_info(model_path: Path) -> dict[str, Any]:
    """Calibration and headline metrics from the ``metrics.json`` training wrote beside it."""
    path = model_path.parent / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(metrics, dict):
        return {}
    keep = (
        "test_accuracy",
        "val_accuracy",
        "drawn_val_accuracy",
        "drawn",
        "epochs_run",
        "best_epoch",
    )
    return {
        "calibration": metrics.get("calibration"),
        "metrics": {k: metrics[k] for k in keep if k in metrics},
    }


def run_export(config: ExportConfig) -> list[Outcome]:
    from mnist_edge.core.quiet import load_keras_model

    model_path = Path(config.model)
    model = load_keras_model(model_path)
    if tuple(model.input_shape[1:]) != INPUT_SHAPE or model.output_shape[-1] != len(LABELS):
        raise UserError(
            f"{model_path} takes {model.input_shape} and returns "
            f"{model.output_shape}; export expects an mnist-edge model "
            "(uint8 [N, 28, 28, 1] -> 10 probabilities)"
        )
    test = load_split("test", config.data_dir)
    calibration = CalibrationReader.from_training_set(
        config.calibration_samples, config.data_dir, config.seed
    )
    with output_dir(config.out_dir, force=config.force, what="export") as out:
        ctx = ExportContext(model, calibration, config.opset)
        both = ctx.outputs_model.predict(test.images[..., None], batch_size=1000, verbose=0)
        reference = np.asarray(both[PROBABILITIES])
        stem = model.name or "model"
        source = {
            "file": model_path.name,
            "sha256": sha256_file(model_path),
            "arch": stem,
            "test_accuracy": float((reference.argmax(1) == test.labels).mean()),
            "params": int(model.count_params()),
            "data_checksums": test.checksums,
        }
        run = ExportRun(
            config,
            stem,
            test,
            reference,
            np.asarray(both[EMBEDDING])[:VALIDATE_EMBEDDING].reshape(VALIDATE_EMBEDDING, -1),
            source,
            versions(),
            training_info(model_path),
        )
        outcomes: list[Outcome] = []
        try:
            for key in config.formats:
                print(f"exporting {key} ...", file=sys.stderr, flush=True)
                outcomes.append(export_one(FORMATS[key], ctx, out, run))
        finally:
            ctx.close()
        write_manifest(out, outcomes, source, stem, run.lib_versions)
        return outcomes


def write_manifest(
    out: Path,
    outcomes: list[Outcome],
    source: dict[str, Any],
    arch: str,
    lib_versions: dict[str, str],
) -> None:
    models = []
    for o in outcomes:
        if o.status != "ok" or o.validation is None:
            continue
        models.append(
            {
                "file": o.file,
                "format": o.fmt.key,
                "family": o.fmt.family,
                "precision": o.fmt.precision,
                "bytes": o.bytes,
                "sha256": o.sha256,
                "accuracy": o.validation.accuracy,
                "agreement": o.validation.agreement,
                "max_abs_diff": o.validation.max_abs_diff,
                "validated_on": o.validation.runtime,
                "embedding_diff": o.validation.embedding_diff,
                "outputs": [PROBABILITIES, EMBEDDING],
                "export_seconds": round(o.seconds, 2),
                "input": input_description(),
                "source": source,
            }
        )
    write_json_atomic(
        out / MANIFEST,
        {
            "schema": MANIFEST_SCHEMA,
            "arch": arch,
            "labels": list(LABELS),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "exporter": lib_versions,
            "models": models,
            **other_sections(out),
        },
    )


def other_sections(out: Path) -> dict[str, Any]:
    """What the manifest already in ``out`` says of files this export does not write: the pen
    channel's models and fitted data (whose entries name the model they were fitted with, so
    the reader can tell when they no longer match)."""
    try:
        manifest = read_manifest(out) if (out / MANIFEST).is_file() else {}
    except UserError:
        return {}  # an unreadable manifest is replaced whole, as before
    return {k: manifest[k] for k in ("pen", "fitted") if k in manifest}


def format_table(outcomes: list[Outcome]) -> str:
    fp32 = next((o.bytes for o in outcomes if o.fmt.precision == "fp32" and o.bytes), 0)
    header = (
        f"{'format':<16}{'size KB':>9}{'vs fp32':>9}{'accuracy':>10}{'agreement':>11}"
        f"{'max diff':>10}{'seconds':>9}  status"
    )
    lines = [header, "-" * len(header)]
    for o in outcomes:
        v = o.validation
        ratio = f"{o.bytes / fp32:.2f}x" if fp32 and o.bytes else "-"
        lines.append(
            f"{o.fmt.key:<16}{(f'{o.bytes / 1024:.1f}' if o.bytes else '-'):>9}{ratio:>9}"
            f"{(f'{v.accuracy:.2%}' if v else '-'):>10}{(f'{v.agreement:.2%}' if v else '-'):>11}"
            f"{(f'{v.max_abs_diff:.4f}' if v else '-'):>10}{o.seconds:>9.1f}  "
            f"{o.status}{': ' + o.reason if o.reason else ''}"
        )
    return "\n".join(lines)
