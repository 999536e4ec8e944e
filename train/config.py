"""The training job's configuration: one frozen dataclass, validated on construction."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mnist_edge.config import require
from train.architectures import ARCHITECTURES

STRATEGIES = ("default", "mirrored", "multi-worker")


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "edge"
    epochs: int = 30
    batch_size: int = 128
    lr: float = 3e-3
    data_dir: str | None = None
    out: str | None = None  # default: runs/<arch>
    limit: int | None = None
    seed: int = 0
    val_fraction: float = 1 / 12  # 5,000 of the 60,000 training images
    patience: int = 8
    augment: str | None = None  # default: the architecture's own policy
    strategy: str = "default"
    force: bool = False

    def __post_init__(self) -> None:
        from train.augment import POLICIES

        require(self.arch in ARCHITECTURES,
                f"unknown architecture {self.arch!r}; choose one of: {', '.join(ARCHITECTURES)}")
        for name in ("epochs", "batch_size", "patience"):
            value = getattr(self, name)
            require(isinstance(value, int) and not isinstance(value, bool) and value > 0,
                    f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        require(self.limit is None or (isinstance(self.limit, int) and self.limit >= 20),
                f"--limit must be an integer of at least 20 images, got {self.limit!r}")
        require(isinstance(self.lr, (int, float)) and 0 < self.lr < 1,
                f"--lr must be a number between 0 and 1, got {self.lr!r}")
        require(isinstance(self.seed, int) and self.seed >= 0,
                f"--seed must be a non-negative integer, got {self.seed!r}")
        require(isinstance(self.val_fraction, float) and 0 < self.val_fraction < 0.5,
                f"val_fraction must be between 0 and 0.5, got {self.val_fraction!r}")
        require(self.augment is None or self.augment in POLICIES,
                f"unknown augmentation {self.augment!r}; choose one of: {', '.join(POLICIES)}")
        require(self.strategy in STRATEGIES,
                f"unknown strategy {self.strategy!r}; choose one of: {', '.join(STRATEGIES)}")

    @property
    def out_dir(self) -> str:
        return self.out or f"runs/{self.arch}"

    @property
    def augmentation(self) -> str:
        return self.augment or ARCHITECTURES[self.arch].augmentation

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "out": self.out_dir, "augment": self.augmentation}
