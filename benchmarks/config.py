"""The benchmark job's configuration."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from mnist_edge.core.config import require, require_int, require_number
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import check_regular
from mnist_edge.core.registry import EDGE_RUNTIMES, RUNTIMES
from mnist_edge.edge_app.tta import DEFAULT_TTA, MAX_VARIANTS

ALL_RUNTIMES = tuple(RUNTIMES)


def split_list(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = (
        value.split(",")
        if isinstance(value, str)
        else [part for item in value for part in str(item).split(",")]
    )
    return tuple(item.strip() for item in items if item.strip())


def int_list(
    value: str | list[int] | tuple[int, ...] | None, flag: str, default: tuple[int, ...]
) -> tuple[int, ...]:
    if value is None:
        return default
    try:
        numbers = tuple(
            int(v) for v in split_list(value if isinstance(value, str) else [str(v) for v in value])
        )
    except ValueError:
        raise UserError(f"{flag} takes comma-separated positive integers, got {value!r}") from None
    require(
        bool(numbers) and all(n > 0 for n in numbers),
        f"{flag} takes comma-separated positive integers, got {value!r}",
    )
    return numbers


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
    models: tuple[str, ...] = ()  # folders (with manifest.json) or model files; default: shipped
    runtimes: tuple[str, ...] = ()  # default: every runtime that can run each model
    threads: tuple[int, ...] = (1,)
    batch_sizes: tuple[int, ...] = (1, 32)
    warmup: int = 50
    min_runs: int = 300
    min_time: float = 2.0
    limit: int | None = None
    data_dir: str | None = None
    out: str | None = None
    force: bool = False
    min_accuracy: float | None = None
    keras_model: str | None = None
    cold_start: bool = True
    robust: bool = True
    timeout: float = 900.0
    isolation: str = "process"  # "none": measure in this process (emulators without binfmt)
    runtime_python: dict[str, str] = field(default_factory=dict)
    drawn_eval: tuple[str, ...] = ()  # labelled replay files: accuracy per file
    tta: int = DEFAULT_TTA  # also measure the app's reading of N variants (1: read once only)

    def settings(self) -> dict[str, Any]:
        """How the figures were measured, as results.json records it (the CLI and the pipeline)."""
        return {
            "threads": list(self.threads),
            "batch_sizes": list(self.batch_sizes),
            "warmup": self.warmup,
            "min_runs": self.min_runs,
            "min_time_s": self.min_time,
            "tta": self.tta,
            "drawn_eval": list(self.drawn_eval),
        }

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", split_list(self.models))
        object.__setattr__(self, "runtimes", split_list(self.runtimes))
        object.__setattr__(self, "drawn_eval", tuple(split_list(self.drawn_eval)))
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
        seen: dict[str, str] = {}
        for path in self.drawn_eval:  # one result per file: the same file twice would merge
            real = os.path.realpath(path)
            require(real not in seen, f"--drawn-eval names {path} twice (as {seen.get(real)})")
            seen[real] = path
        for path in self.drawn_eval:
            from mnist_edge.edge_app.strokes import load_samples

            if not any(s.label is not None for s in load_samples(path)):
                raise UserError(f"--drawn-eval {path} has no labelled samples")
