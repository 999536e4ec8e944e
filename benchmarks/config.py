"""The benchmark job's configuration."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mnist_edge.core.config import (
    DATA_DIR_HELP,
    int_list,
    option,
    require,
    require_int,
    require_number,
    split_list,
)
from mnist_edge.core.fsutil import check_regular
from mnist_edge.core.registry import EDGE_RUNTIMES, RUNTIMES
from mnist_edge.edge_app.tta import DEFAULT_TTA, MAX_VARIANTS

ALL_RUNTIMES = tuple(RUNTIMES)


def runtime_pythons(items: list[str] | dict[str, str] | None) -> dict[str, str]:
    """Explicit ``NAME=PYTHON`` pairs (``--runtime-python``)."""
    found = {}
    pairs = (
        items.items()
        if isinstance(items, dict)
        else (item.partition("=")[::2] for item in items or [])
    )
    for name, python in pairs:
        require(
            name in EDGE_RUNTIMES and bool(python),
            f"--runtime-python takes RUNTIME=PYTHON with RUNTIME one of "
            f"{', '.join(EDGE_RUNTIMES)}; got {name}={python}",
        )
        found[name] = python
    return found


def runtime_pythons_from_env() -> dict[str, str]:
    """$MNIST_EDGE_PYTHON_<NAME> defaults, e.g. MNIST_EDGE_PYTHON_TFLITE_RUNTIME."""
    return {
        name: os.environ[var]
        for name in EDGE_RUNTIMES
        if os.environ.get(var := "MNIST_EDGE_PYTHON_" + name.upper().replace("-", "_"))
    }


@dataclass(frozen=True)
class BenchConfig:
    models: tuple[str, ...] = option(
        (),
        "model files, or folders with manifest.json",
        metavar="DIR_OR_FILE",
        nargs="+",
        default_text="the shipped models",
    )
    runtimes: tuple[str, ...] = option(
        (),
        f"comma-separated: {','.join(ALL_RUNTIMES)}",
        comma=True,
        default_text="every installed runtime that can run each model",
    )
    threads: tuple[int, ...] = option((1,), "comma-separated thread counts", comma=True)
    batch_sizes: tuple[int, ...] = option(
        (1, 32), "comma-separated batch sizes for throughput", comma=True
    )
    warmup: int = option(50, "warm-up calls per row")
    min_runs: int = option(300, "timed single-image calls, at least")
    min_time: float = option(2.0, "seconds of timed calls, at least")
    repeats: int = option(
        3,
        "timing rounds per row, interleaved across the rows (a busy minute slows them all); "
        "the deployment rule reads the median of their p50",
    )
    limit: int | None = option(None, "accuracy on the first N test images only")
    data_dir: str | None = option(None, DATA_DIR_HELP)
    out: str | None = option(None, "output directory", default_text="runs/bench-TIMESTAMP")
    force: bool = option(False, "write into an existing output directory")
    min_accuracy: float | None = option(
        None, "exit 1 if any ok row's accuracy is below this (0-1); any failed row exits 2"
    )
    keras_model: str | None = option(None, ".keras file for the TensorFlow reference row")
    cold_start: bool = option(True, "measure the cold start in a fresh process")
    robust: bool = option(True, "measure the re-drawn (robust) accuracy")
    timeout: float = option(900.0, "seconds before a row is abandoned")
    isolation: str = option(
        "process",
        "process: each row in a fresh worker process; none: in this process, for emulators "
        "that cannot start another interpreter",
    )
    runtime_python: dict[str, str] = option(
        help="run RUNTIME's rows with another interpreter, e.g. "
        "tflite-runtime=.venv-tflite/bin/python; repeatable",
        metavar="RUNTIME=PYTHON",
        default_factory=dict,
    )
    drawn_eval: tuple[str, ...] = option(
        (),
        "labelled drawn digits (mnist-edge-strokes/1): accuracy per file, rendered as the app "
        "renders them; repeatable",
        metavar="REPLAY",
    )
    tta: int = option(
        DEFAULT_TTA,
        "also measure reading N variants per digit, averaged, as the app does (accuracy and "
        "time per reading; 1 skips it)",
        default_text=f"{DEFAULT_TTA}, the app's",
    )
    pen: tuple[str, ...] = option(
        (),
        "pen models (pen-*.tflite/.onnx): also measure each alone and fused with the app's "
        "image model on the --drawn-eval files, and its latency (docs/pen.md)",
        metavar="FILE",
        nargs="+",
    )

    def settings(self) -> dict[str, Any]:
        """How the figures were measured, as results.json records it (the CLI and the pipeline)."""
        return {
            "threads": list(self.threads),
            "batch_sizes": list(self.batch_sizes),
            "warmup": self.warmup,
            "min_runs": self.min_runs,
            "min_time_s": self.min_time,
            "repeats": self.repeats,
            "tta": self.tta,
            "drawn_eval": list(self.drawn_eval),
        }

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", split_list(self.models))
        object.__setattr__(self, "runtimes", split_list(self.runtimes))
        object.__setattr__(self, "drawn_eval", tuple(split_list(self.drawn_eval)))
        object.__setattr__(self, "pen", tuple(split_list(self.pen)))
        object.__setattr__(self, "threads", int_list(self.threads, "--threads", (1,)))
        object.__setattr__(
            self, "batch_sizes", int_list(self.batch_sizes, "--batch-sizes", (1, 32))
        )
        require(
            self.isolation in ("process", "none"),
            f"--isolation must be process or none, got {self.isolation!r}",
        )
        explicit = runtime_pythons(self.runtime_python)
        require(
            self.isolation == "process" or not explicit,
            "--runtime-python needs --isolation process (another interpreter)",
        )
        # Environment defaults apply only where another interpreter can be started at all.
        inherited = runtime_pythons_from_env() if self.isolation == "process" else {}
        object.__setattr__(self, "runtime_python", {**inherited, **explicit})
        unknown = [r for r in self.runtimes if r not in ALL_RUNTIMES]
        require(
            not unknown,
            f"unknown runtime {', '.join(unknown)}; choose from {', '.join(ALL_RUNTIMES)}",
        )
        require_int("--warmup", self.warmup, 0, 100_000)
        require_int("--min-runs", self.min_runs, 1, 1_000_000)
        require_number("--min-time", self.min_time, 0.0, 600.0)
        require_int("--repeats", self.repeats, 1, 20)
        if self.limit is not None:
            require_int("--limit", self.limit, 1, 10_000)
        require_int("--tta", self.tta, 1, MAX_VARIANTS)
        for n in (*self.threads, *self.batch_sizes):
            require_int("--threads/--batch-sizes", n, 1, 4096)
        require(all(t <= 64 for t in self.threads), "--threads must be at most 64")
        require(
            self.min_accuracy is None or 0 <= self.min_accuracy <= 1,
            "--min-accuracy must be between 0 and 1",
        )
        require_number("--timeout", self.timeout, 0.1, 86_400.0)
        if self.keras_model:  # checked even when no keras row runs: a typo never goes unseen
            check_regular(
                self.keras_model, "--keras-model", hint="pass a model.keras from 'mnist-edge train'"
            )
        require(
            not self.pen or bool(self.drawn_eval),
            "--pen needs --drawn-eval FILE: only drawn digits have strokes to read",
        )
        for path in self.pen:
            check_regular(path, "--pen", hint="pass a pen model, e.g. models/pen-int8.tflite")
        seen: dict[str, str] = {}
        for path in self.drawn_eval:  # one result per file: the same file twice would merge
            real = os.path.realpath(path)
            require(real not in seen, f"--drawn-eval names {path} twice (as {seen.get(real)})")
            seen[real] = path
        for path in self.drawn_eval:
            from mnist_edge.ink.strokes import load_labelled

            load_labelled(path, "--drawn-eval")
