"""The pipeline's configuration, and every stage's configuration built from it up front.

All stages are validated before any work starts: a bad benchmark setting fails in the first
second, not after ten minutes of training.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_edge.benchmarks.config import BenchConfig
from mnist_edge.core.config import (
    add_options,
    option,
    passed,
    require,
    require_int,
    require_number,
)
from mnist_edge.train.config import TrainConfig

#: PipelineConfig field -> the field of the stage's config it is passed to.
TRAIN_FIELDS = {
    n: n
    for n in (
        "arch",
        "epochs",
        "patience",
        "data_dir",
        "seed",
        "limit",
        "drawn",
        "drawn_share",
        "styles",
    )
}
BENCH_FIELDS = {
    "drawn_eval": "drawn_eval",
    "runtime_python": "runtime_python",
    "bench_min_time": "min_time",
    "bench_min_runs": "min_runs",
}


@dataclass(frozen=True)
class PipelineConfig:
    arch: str = passed(TrainConfig, "arch")
    epochs: int = passed(TrainConfig, "epochs", 45)  # the shipped model's recipe
    patience: int = passed(TrainConfig, "patience")
    out: str = option("runs/pipeline", "working folder")
    data_dir: str | None = passed(TrainConfig, "data_dir")
    seed: int = passed(TrainConfig, "seed")
    limit: int | None = passed(TrainConfig, "limit")
    drawn: tuple[str, ...] = passed(TrainConfig, "drawn")
    drawn_share: float = passed(TrainConfig, "drawn_share")
    styles: float = passed(TrainConfig, "styles")
    drawn_eval: tuple[str, ...] = passed(
        BenchConfig,
        "drawn_eval",
        help="labelled drawn digits to measure on (never trained on): replayed through the "
        "app and benchmarked; repeatable",
    )
    promote: bool = option(False, "copy the exported models, manifest and model card into models/")
    models_dir: str | None = option(
        None, "where --promote writes", default_text="models/ of this checkout"
    )
    resume: bool = option(False, "keep the stages a previous run finished")
    force: bool = option(False, "redo every stage in an existing --out")
    bench_min_time: float = passed(BenchConfig, "min_time")
    bench_min_runs: int = passed(BenchConfig, "min_runs")
    runtime_python: dict[str, str] = passed(BenchConfig, "runtime_python")

    def __post_init__(self) -> None:
        for name in ("drawn", "drawn_eval"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        require(
            not (self.resume and self.force),
            "--resume and --force exclude each other: "
            "--resume keeps finished stages, --force redoes them",
        )
        require_number("--bench-min-time", self.bench_min_time, 0.0, 600.0)
        require_int("--bench-min-runs", self.bench_min_runs, 1, 1_000_000)

    @property
    def out_dir(self) -> Path:
        return Path(self.out)

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            **{theirs: getattr(self, ours) for ours, theirs in TRAIN_FIELDS.items()},
            out=str(self.out_dir / "train"),
            force=True,
        )

    def export_config(self) -> Any:
        from mnist_edge.export.config import ExportConfig

        return ExportConfig(
            model=str(self.out_dir / "train" / "model.keras"),
            out=str(self.out_dir / "export"),
            data_dir=self.data_dir,
            force=True,
        )

    def bench_config(self) -> BenchConfig:
        return BenchConfig(
            **{theirs: getattr(self, ours) for ours, theirs in BENCH_FIELDS.items()},
            models=(str(self.out_dir / "export"),),
            data_dir=self.data_dir,
            out=str(self.out_dir / "bench"),
            force=True,
        )

    def validate_stages(self) -> None:
        """Build every stage's config once: each validates itself with a one-line error."""
        self.train_config()
        self.export_config()
        self.bench_config()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, PipelineConfig)
