"""Plan the rows, run each in a worker subprocess, collect the results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_edge.benchmarks.config import BenchConfig
from mnist_edge.benchmarks.discover import ModelFile, discover
from mnist_edge.benchmarks.inputs import Prepared, number_files, prepare
from mnist_edge.benchmarks.results import SKIPPED, Result
from mnist_edge.core.registry import FAMILIES, REFERENCE_RUNTIME, RUNTIMES, format_runs_on
from mnist_edge.edge_app.runtime import is_installed

MARK = "@@RESULT@@"


@dataclass(frozen=True)
class Row:
    model: Path
    format: str
    precision: str
    runtime: str
    threads: int | None
    bytes: int
    python: str  # the interpreter the worker runs in

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


def plan(
    config: BenchConfig, models: list[ModelFile], keras: Path | None
) -> tuple[list[Row], list[Result]]:
    """Rows to measure, and rows already decided as skipped (with the reason)."""
    rows: list[Row] = []
    skipped: list[Result] = []
    wanted = config.runtimes or tuple(RUNTIMES)
    for model in models:
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
                    )
                )
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


def _spawn(
    python: str, module: str, spec: dict[str, Any], timeout: float
) -> tuple[dict[str, Any] | None, str, float]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            [python, "-m", module, json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
    except OSError as exc:
        return None, f"cannot start {python}: {exc.strerror or exc}", 0.0
    # A reader thread notes when the result line arrives (cold start ends there, not at
    # interpreter teardown); the deadline is enforced here, whether or not the child prints.
    lines: list[str] = []
    arrived: list[float] = []
    errors: list[str] = []

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(MARK) and not arrived:
                arrived.append(time.perf_counter())
            lines.append(line)

    def read_stderr() -> None:
        assert proc.stderr is not None
        errors.append(proc.stderr.read())

    readers = [threading.Thread(target=f, daemon=True) for f in (read_stdout, read_stderr)]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, f"timed out after {timeout:g} s", 0.0
    for reader in readers:
        reader.join(timeout=5)
    payload = next((line[len(MARK) :] for line in lines if line.startswith(MARK)), None)
    elapsed = ((arrived[0] if arrived else time.perf_counter()) - started) * 1000
    if payload is None:
        tail = [line for line in "".join(errors).strip().splitlines() if line.strip()]
        why = tail[-1][:300] if tail else f"exit status {proc.returncode}"
        if "No module named 'mnist_edge" in why:
            why = (
                f"{python} has no mnist-edge installed; install it there: "
                f"{python} -m pip install --no-deps PATH_TO_MNIST_EDGE"
            )
        return None, f"worker crashed: {why}", elapsed
    return json.loads(payload), "", elapsed


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


def run(config: BenchConfig) -> tuple[list[Result], Prepared]:
    models, keras = discover(config.models)
    if config.keras_model:
        keras = Path(config.keras_model)
    rows, skipped = plan(config, models, keras)
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
    return results + skipped, counts
