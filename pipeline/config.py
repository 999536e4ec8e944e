"""The pipeline's configuration, and every stage's configuration built from it up front.

All stages are validated before any work starts: a bad benchmark setting fails in the first
second, not after ten minutes of training.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_edge.core.config import require, require_int, require_number


@dataclass(frozen=True)
class PipelineConfig:
    arch: str = "edge"
    epochs: int = 45  # the shipped model's recipe
    patience: int = 8  # early stopping (epochs without a better validation score)
    out: str = "runs/pipeline"
    data_dir: str | None = None
    seed: int = 0
    limit: int | None = None
    drawn: tuple[str, ...] = ()  # replay files to train on (writer-split validation)
    drawn_eval: tuple[str, ...] = ()  # replay files to measure on, never trained on
    promote: bool = False
    models_dir: str | None = None  # where --promote writes (default: models/ of this checkout)
    resume: bool = False
    force: bool = False
    bench_min_time: float = 2.0
    bench_min_runs: int = 300
    runtime_python: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("runtime_python", "drawn", "drawn_eval"):
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

    def train_config(self) -> Any:
        from mnist_edge.train.config import TrainConfig

        return TrainConfig(
            arch=self.arch,
            epochs=self.epochs,
            data_dir=self.data_dir,
            out=str(self.out_dir / "train"),
            seed=self.seed,
            limit=self.limit,
            patience=self.patience,
            drawn=self.drawn,
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

    def bench_config(self) -> Any:
        from mnist_edge.benchmarks.config import BenchConfig

        return BenchConfig(
            models=(str(self.out_dir / "export"),),
            data_dir=self.data_dir,
            out=str(self.out_dir / "bench"),
            min_time=self.bench_min_time,
            min_runs=self.bench_min_runs,
            drawn_eval=self.drawn_eval,
            runtime_python=list(self.runtime_python),
            force=True,
        )

    def validate_stages(self) -> None:
        """Build every stage's config once: each validates itself with a one-line error."""
        self.train_config()
        self.export_config()
        self.bench_config()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", help="architecture to train (default edge)")
    parser.add_argument("--epochs", type=int, help="training epochs (default 45)")
    parser.add_argument(
        "--patience",
        type=int,
        help="stop after this many epochs without a better validation score, "
        "counted from mid-schedule (default 8)",
    )
    parser.add_argument("--out", help="working folder (default runs/pipeline)")
    parser.add_argument(
        "--data-dir",
        help="folder with the MNIST IDX files (or $MNIST_EDGE_DATA;"
        " downloaded and verified when absent)",
    )
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--limit", type=int, help="train on the first N images (quick runs)")
    parser.add_argument(
        "--drawn",
        action="append",
        metavar="REPLAY",
        help="drawn digits (mnist-edge-strokes/1, with writers) to train on "
        "next to MNIST; repeatable",
    )
    parser.add_argument(
        "--drawn-eval",
        action="append",
        metavar="REPLAY",
        help="labelled drawn digits to measure on (never trained on): "
        "replayed through the app and benchmarked; repeatable",
    )
    parser.add_argument(
        "--promote",
        action="store_true",
        default=None,
        help="copy the exported models, manifest and model card into models/",
    )
    parser.add_argument("--models-dir", help="where --promote writes (default: ./models)")
    parser.add_argument(
        "--resume",
        action="store_true",
        default=None,
        help="keep the stages a previous run finished",
    )
    parser.add_argument(
        "--force", action="store_true", default=None, help="redo every stage in an existing --out"
    )
    parser.add_argument(
        "--bench-min-time", type=float, help="seconds of timed calls per benchmark row (default 2)"
    )
    parser.add_argument(
        "--bench-min-runs", type=int, help="timed calls per benchmark row, at least (default 300)"
    )
    parser.add_argument(
        "--runtime-python",
        action="append",
        metavar="RUNTIME=PYTHON",
        help="benchmark RUNTIME with another interpreter (see 'bench')",
    )
    parser.add_argument("--config", help="TOML file with any of these options; flags win")
