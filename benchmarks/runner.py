"""Plan the rows, run each, collect the results: one plan for every row of the benchmark.

A digit model's row runs in a worker subprocess (``benchmarks.worker``); a pen model's row
(``bench --pen``) runs in this process after them (``benchmarks.pen.measure``: it reads the
drawn files with the app's image model, shared by every pen row of a runtime).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_edge.benchmarks.config import BenchConfig
from mnist_edge.benchmarks.discover import ModelFile, discover
from mnist_edge.benchmarks.inputs import Prepared, number_files, prepare
from mnist_edge.benchmarks.results import SKIPPED, Result
from mnist_edge.benchmarks.spawn import spawn as _spawn
from mnist_edge.core.registry import FAMILIES, REFERENCE_RUNTIME, RUNTIMES, format_runs_on
from mnist_edge.edge_app.runtime import is_installed


@dataclass(frozen=True)
class Row:
    model: Path
    format: str
    precision: str
    runtime: str
    threads: int | None
    bytes: int
    python: str  # the interpreter the worker runs in
    kind: str = "digit"  # "pen": a pen model's row, measured in this process

    def result(self, **fields: Any) -> Result:
        return Result(
            self.model.name,
            self.format,
            self.runtime,
            precision=self.precision,
            threads=self.threads,
            bytes=self.bytes,
            **fields,
        )


def _tensorflow_installed() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def _skipped(model: str, fmt: str, runtime: str, reason: str) -> Result:
    return Result(model, fmt, runtime, status=SKIPPED, reason=reason)


def _model_rows(
    config: BenchConfig,
    model: ModelFile,
    wanted: Sequence[str],
    kind: str,
    rows: list[Row],
    skipped: list[Result],
) -> None:
    """One model file's rows (runtimes by the registry, installed, each --threads count)."""
    for runtime in wanted:
        if runtime == REFERENCE_RUNTIME:
            continue
        name = model.path.name
        if runtime not in FAMILIES[model.family].runtimes:
            if config.runtimes:  # asked for explicitly: say why there is no row
                skipped.append(
                    _skipped(
                        name,
                        model.format,
                        runtime,
                        f"{runtime} cannot run .{model.family} models",
                    )
                )
            continue
        if not format_runs_on(model.format, runtime):
            skipped.append(
                _skipped(
                    name,
                    model.format,
                    runtime,
                    f"{model.format} does not run on {runtime} (registry)",
                )
            )
            continue
        python = config.runtime_python.get(runtime, sys.executable)
        if runtime not in config.runtime_python and not is_installed(runtime):
            skipped.append(
                _skipped(
                    name,
                    model.format,
                    runtime,
                    f"{RUNTIMES[runtime].distribution} is not installed: "
                    f"{RUNTIMES[runtime].hint()}",
                )
            )
            continue
        if kind == "pen" and python != sys.executable:
            skipped.append(
                _skipped(
                    name,
                    model.format,
                    runtime,
                    f"pen rows run in the benchmark's process; {runtime} is only in {python}",
                )
            )
            continue
        for threads in config.threads:
            rows.append(
                Row(
                    model.path,
                    model.format,
                    model.precision,
                    runtime,
                    threads,
                    model.bytes,
                    python,
                    kind,
                )
            )


def plan(
    config: BenchConfig,
    models: list[ModelFile],
    keras: Path | None,
    pens: Sequence[ModelFile] = (),
) -> tuple[list[Row], list[Result]]:
    """Rows to measure, and rows already decided as skipped (with the reason): the digit
    models', the Keras reference's, then the pen models' (``kind="pen"``) by the same rules."""
    rows: list[Row] = []
    skipped: list[Result] = []
    wanted = config.runtimes or tuple(RUNTIMES)
    for kind, files in (("digit", models), ("pen", pens)):
        for model in files:
            _model_rows(config, model, wanted, kind, rows, skipped)
    if REFERENCE_RUNTIME in wanted:
        if keras is None:
            if config.runtimes:
                skipped.append(
                    _skipped(
                        "-",
                        "keras",
                        REFERENCE_RUNTIME,
                        "no .keras model found; pass --keras-model PATH",
                    )
                )
        elif not _tensorflow_installed():
            skipped.append(
                _skipped(
                    keras.name,
                    "keras",
                    REFERENCE_RUNTIME,
                    "TensorFlow is not installed (reference row only)",
                )
            )
        else:
            rows.append(
                Row(
                    keras,
                    "keras",
                    "fp32",
                    REFERENCE_RUNTIME,
                    None,
                    keras.stat().st_size,
                    sys.executable,
                )
            )
    return rows, skipped


def _in_process(spec: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    from mnist_edge.benchmarks.worker import run_spec

    return run_spec(spec), ""


def _spec(
    row: Row, config: BenchConfig, inputs: Path, numbers: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    return {
        "model": str(row.model),
        "runtime": row.runtime,
        "threads": row.threads,
        "inputs": str(inputs),
        "warmup": config.warmup,
        "min_runs": config.min_runs,
        "min_time": config.min_time,
        "batch_sizes": list(config.batch_sizes),
        "tta": config.tta,
        "numbers": [list(pair) for pair in numbers],
        "numbers_limit": config.limit,
    }


def measure_row(
    row: Row, config: BenchConfig, inputs: Path, numbers: Sequence[tuple[str, str]] = ()
) -> Result:
    spec = _spec(row, config, inputs, numbers)
    if config.isolation == "none":
        result, _ = _in_process(spec)
        record = row.result().update(result or {})
        if config.cold_start:
            record.cold_start_error = "cold start needs --isolation process"
        return record
    measured, error, _ = _spawn(row.python, "mnist_edge.benchmarks.worker", spec, config.timeout)
    record = row.result(reason=error)
    if measured is not None:
        record.update(measured)
    if record.ok and config.cold_start:
        cold, error, elapsed = _spawn(
            row.python, "mnist_edge.benchmarks.coldstart", spec, config.timeout
        )
        if cold is not None:
            record.cold_start_ms = elapsed
            record.peak_rss_mb = cold.get("peak_rss_mb")
        else:
            record.cold_start_error = error
    return record


def timing_rounds(
    rows: list[Row], results: list[Result], config: BenchConfig, inputs: Path
) -> None:
    """Rounds 2..--repeats of every measured edge row's latency, one pass over all rows per
    round (a slow minute lands on every row, not on one), appended to its rounds' p50."""
    timed = [(row, r) for row, r in zip(rows, results, strict=True) if r.ok]
    timed = [(row, r) for row, r in timed if row.runtime != REFERENCE_RUNTIME]
    for n in range(2, config.repeats + 1):
        if timed:
            print(f"timing round {n}/{config.repeats} ...", file=sys.stderr, flush=True)
        for row, record in timed:
            spec = {**_spec(row, config, inputs), "latency_only": True}
            if config.isolation == "none":
                measured, _ = _in_process(spec)
            else:
                measured, _, _ = _spawn(
                    row.python, "mnist_edge.benchmarks.worker", spec, config.timeout
                )
            if measured and measured.get("latency_round_us") is not None:
                record.latency_rounds_us.append(measured["latency_round_us"])


@dataclass
class Measured:
    """Every row of one benchmark run: the digit models' results, the inputs they were
    measured on, and the pen models' results (``bench --pen``)."""

    results: list[Result]
    counts: Prepared | None
    pen: list[Any]  # benchmarks.pen.PenResult


def run(config: BenchConfig) -> tuple[list[Result], Prepared]:
    """The digit models' rows (what the pipeline benchmarks)."""
    measured = measure_all(config)
    assert measured.counts is not None
    return measured.results, measured.counts


def measure_all(config: BenchConfig, pens: Sequence[Any] = (), digits: bool = True) -> Measured:
    """Plan every row, the digit models' (unless not ``digits``) and the ``pens``'
    (``benchmarks.pen.PenFile``), then run them: the digit rows in workers, the pen rows after
    them in this process."""
    from mnist_edge.benchmarks.pen import as_model_file

    models, keras = discover(config.models) if digits else ([], None)
    if config.keras_model and digits:
        keras = Path(config.keras_model)
    rows, skipped = plan(config, models, keras, [as_model_file(p) for p in pens])
    pen_names = {p.path.name for p in pens}
    pen_rows = [row for row in rows if row.kind == "pen"]
    digit_rows = [row for row in rows if row.kind == "digit"]
    counts = None
    results: list[Result] = []
    if digits:
        results, counts = _run_digit_rows(config, digit_rows)
    pen_skipped = [r for r in skipped if r.model in pen_names and r.runtime != REFERENCE_RUNTIME]
    return Measured(
        results + [r for r in skipped if r.model not in pen_names],
        counts,
        _run_pen_rows(config, pen_rows) + [_pen_skipped(r) for r in pen_skipped],
    )


def _pen_skipped(result: Result) -> Any:
    from mnist_edge.benchmarks.pen import PenResult

    return PenResult(
        result.model, result.format, result.runtime, status=SKIPPED, reason=result.reason
    )


def _run_pen_rows(config: BenchConfig, rows: list[Row]) -> list[Any]:
    """The pen rows, one after another in this process; a row that fails says why and the
    others go on, as the digit rows do."""
    if not rows:
        return []
    from mnist_edge.benchmarks.pen import ImageReadings, PenResult, drawn_sets, measure
    from mnist_edge.core.text import error_line

    sets = drawn_sets(config)
    images = ImageReadings(config)
    results = []
    for i, row in enumerate(rows, 1):
        label = f"[pen {i}/{len(rows)}] {row.model.name} on {row.runtime}" + (
            f", {row.threads} thread(s)" if row.threads else ""
        )
        print(f"{label} ...", file=sys.stderr, flush=True)
        try:
            record = measure(row, config, sets, images)
        except Exception as exc:  # a failed row, not a failed benchmark
            record = PenResult(
                row.model.name, row.format, row.runtime, row.precision, row.threads, row.bytes,
                reason=error_line(exc, 300),
            )  # fmt: skip
        print(f"{label}: {record.status} {record.reason}".rstrip(), file=sys.stderr, flush=True)
        results.append(record)
    return results


def _run_digit_rows(config: BenchConfig, rows: list[Row]) -> tuple[list[Result], Prepared]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="mnist-edge-bench-") as tmp:
        inputs = Path(tmp) / "inputs.npz"
        counts = prepare(
            inputs, config.data_dir, config.limit, config.robust, drawn=config.drawn_eval
        )
        numbers = number_files(config.drawn_eval)
        for i, row in enumerate(rows, 1):
            label = f"[{i}/{len(rows)}] {row.model.name} on {row.runtime}" + (
                f", {row.threads} thread(s)" if row.threads else ""
            )
            print(f"{label} ...", file=sys.stderr, flush=True)
            record = measure_row(row, config, inputs, numbers)
            p50 = record.p50
            print(
                f"{label}: {record.status}"
                + (
                    f", p50 {p50:.0f} us, accuracy {record.accuracy:.2%}"
                    if p50 and record.accuracy is not None
                    else ""
                )
                + (f" ({record.reason})" if record.reason else ""),
                file=sys.stderr,
                flush=True,
            )
            results.append(record)
        timing_rounds(rows, results, config, inputs)
    return results, counts
