"""The training job's configuration: one frozen dataclass, validated on construction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from mnist_edge.core.config import DATA_DIR_HELP, option, require, require_int, require_number
from mnist_edge.core.contract import DEFAULT_THRESHOLD
from mnist_edge.train.architectures import ARCHITECTURES
from mnist_edge.train.augment import POLICIES

STRATEGIES = ("default", "mirrored", "multi-worker")
DEFAULT_EMA = 0.999


def _choices(names: Iterable[str]) -> str:
    return ", ".join(names)


@dataclass(frozen=True)
class TrainConfig:
    arch: str = option("edge", f"architecture: {_choices(ARCHITECTURES)}")
    epochs: int = option(30, "maximum epochs")
    batch_size: int = option(128, "batch size")
    lr: float = option(3e-3, "peak learning rate of the cosine schedule")
    data_dir: str | None = option(None, DATA_DIR_HELP)
    out: str | None = option(None, "output directory", default_text="runs/ARCH")
    limit: int | None = option(None, "train on the first N training images only")
    seed: int = option(0, "random seed")
    # The validation splits (MNIST and held-out writers) have their own seed, so runs with
    # different --seed values are validated, and compared, on the same digits and writers.
    split_seed: int = option(
        0,
        "seed of the validation splits, MNIST and held-out writers; kept apart from --seed "
        "so runs are compared on the same validation digits",
    )
    val_fraction: float = option(1 / 12, "share of MNIST training images held out", flag=False)
    patience: int = option(8, "early-stopping patience in epochs, counted from mid-schedule")
    augment: str | None = option(
        None, f"augmentation policy: {_choices(POLICIES)}", default_text="the architecture's own"
    )
    strategy: str = option("default", f"tf.distribute strategy: {_choices(STRATEGIES)}")
    force: bool = option(False, "write into an existing output directory")
    # Real drawn digits (issue: read digits as people draw them).
    drawn: tuple[str, ...] = option(
        (),
        "real drawn digits (mnist-edge-strokes/1, labelled, with a 'writer' per sample) to "
        "train on next to MNIST; repeatable. Rendered as the app renders them; validation is "
        "split by writer, each file on its own (the same writers whatever files join it)",
        metavar="REPLAY",
    )
    drawn_eval: tuple[str, ...] = option(
        (), "labelled drawn digits to measure at the end (never trained on)", metavar="REPLAY"
    )
    drawn_share: float = option(
        0.15, "share of every batch taken from --drawn digits", default_text="0.15: 19 of 128"
    )
    styles: float = option(
        0.0,
        "share of the drawn training digits that are the training writers' own digits redrawn "
        "in writing styles the files barely hold (lead-in 1, crossed 7, looped 2, open 4, "
        "open 9, slashed 0, slants: ink/styles.py); needs --drawn",
        metavar="FRACTION",
        default_text="0: none",
    )
    drawn_val_fraction: float = option(
        0.2, "share of each site's writers held out for validation", flag=False
    )
    label_smoothing: float = option(0.0, "label smoothing", default_text="0")
    # Momentum of the moving average of the weights validated beside the raw ones each epoch
    # (chosen over five seeds, see docs/training.md).
    ema: float | None = option(
        None,
        "validate an exponential moving average of the weights beside the raw ones each epoch "
        "and keep the better; 0: off",
        metavar="MOMENTUM",
        default_text=f"{DEFAULT_EMA} with the default strategy, off with the distributed ones",
    )
    calibrate: bool = option(
        True,
        "fit a temperature on held-out drawn writers and fold it into the model",
        default_text="on with --drawn",
    )
    threshold: float = option(
        DEFAULT_THRESHOLD,
        "the app's 'not sure' threshold before calibration chooses one",
        flag=False,
    )

    def __post_init__(self) -> None:
        for name in ("drawn", "drawn_eval"):
            value = getattr(self, name)
            object.__setattr__(
                self, name, (value,) if isinstance(value, str) else tuple(value or ())
            )
        require(
            self.arch in ARCHITECTURES,
            f"unknown architecture {self.arch!r}; choose one of: {', '.join(ARCHITECTURES)}",
        )
        require_int("--epochs", self.epochs, 1, 1000)
        require_int("--batch-size", self.batch_size, 8, 4096)
        require_int("--patience", self.patience, 1, 1000)
        if self.limit is not None:
            require_int("--limit", self.limit, 20, 60000)
        require_number("--lr", self.lr, 1e-6, 1.0)
        require_int("--seed", self.seed, 0, 2**32 - 1)
        require_int("--split-seed", self.split_seed, 0, 2**32 - 1)
        require_number("val_fraction", self.val_fraction, 0.01, 0.5)
        require_number("--drawn-share", self.drawn_share, 0.0, 0.9)
        require_number("--styles", self.styles, 0.0, 0.8)
        require(
            self.styles == 0 or bool(self.drawn),
            "--styles redraws drawn digits: give --drawn files with writers, or drop --styles",
        )
        require_number("drawn_val_fraction", self.drawn_val_fraction, 0.05, 0.5)
        require_number("--label-smoothing", self.label_smoothing, 0.0, 0.3)
        require_number("threshold", self.threshold, 0.0, 1.0)
        require(isinstance(self.calibrate, bool), "calibrate must be true or false")
        require(isinstance(self.force, bool), "force must be true or false")
        require(
            all(isinstance(p, str) and p for p in (*self.drawn, *self.drawn_eval)),
            "--drawn and --drawn-eval take file paths",
        )
        require(
            self.augment is None or self.augment in POLICIES,
            f"unknown augmentation {self.augment!r}; choose one of: {', '.join(POLICIES)}",
        )
        require(
            self.strategy in STRATEGIES,
            f"unknown strategy {self.strategy!r}; choose one of: {', '.join(STRATEGIES)}",
        )
        if self.ema is None:
            object.__setattr__(self, "ema", DEFAULT_EMA if self.strategy == "default" else 0.0)
        require_number("--ema", self.ema, 0.0, 0.99999)
        require(
            self.ema == 0 or self.ema >= 0.9,
            f"--ema must be 0 (off) or a momentum from 0.9 to below 1, not {self.ema}",
        )
        require(
            self.ema == 0 or self.strategy == "default",
            "--ema works with the default strategy only; drop --ema or --strategy",
        )
        require(self.out is None or isinstance(self.out, str), "--out must be a folder path")
        require(
            self.data_dir is None or isinstance(self.data_dir, str),
            "--data-dir must be a folder path",
        )

    @property
    def out_dir(self) -> str:
        return self.out or f"runs/{self.arch}"

    @property
    def augmentation(self) -> str:
        return self.augment or ARCHITECTURES[self.arch].augmentation

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "out": self.out_dir, "augment": self.augmentation}


@dataclass(frozen=True)
class EvaluateConfig:
    model: str = option("", "a model.keras written by 'mnist-edge train'", default_text="")
    data_dir: str | None = option(None, DATA_DIR_HELP)
    out: str | None = option(
        None, "where to write evaluation.json and plots", default_text="the model's folder"
    )

    def __post_init__(self) -> None:
        require(
            isinstance(self.model, str) and bool(self.model),
            "--model is required: the model.keras written by 'mnist-edge train'",
        )
