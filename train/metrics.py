"""What a training run reports (``metrics.json``), typed for the modules that read it back.

The trainer writes the full record as JSON (every figure a person may want); the pipeline's
report, the model card, ``export`` and ``mnist-edge train`` read it through
:meth:`TrainMetrics.from_json`, which names the fields they use and tolerates an older or
partial file (a missing figure is None, never a KeyError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_edge.core.calibration_record import Calibration


@dataclass(frozen=True)
class Stopping:
    early: bool
    reason: str
    best_epoch: int | None


@dataclass(frozen=True)
class TrainMetrics:
    arch: str = "?"
    test_accuracy: float | None = None
    test_errors: int | None = None
    test_images: int | None = None
    params: int | None = None
    macs: int | None = None
    epochs_run: int | None = None
    best_epoch: int | None = None
    train_seconds: float | None = None
    train_images: int | None = None
    val_images: int | None = None
    selection: str | None = None
    augment: str | None = None  # the policy trained with (config's resolved value)
    stopping: Stopping | None = None
    calibration: Calibration | None = None
    # Nested reports, as training wrote them (their shape is documented where they are made).
    drawn: dict[str, Any] | None = None  # train/drawn_training.py: drawn_metrics
    drawn_eval: dict[str, Any] = field(default_factory=dict)
    weight_averaging: dict[str, Any] | None = None  # train/selection.py: weight_averaging
    architecture: dict[str, Any] = field(default_factory=dict)
    augmentation: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the whole file

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TrainMetrics:
        def get(key: str, kind: type | tuple[type, ...]) -> Any:
            value = raw.get(key)
            return value if isinstance(value, kind) and not isinstance(value, bool) else None

        stop = raw.get("stopping")
        config = raw.get("config") if isinstance(raw.get("config"), dict) else {}
        return cls(
            arch=str(raw.get("arch", "?")),
            test_accuracy=get("test_accuracy", (int, float)),
            test_errors=get("test_errors", int),
            test_images=get("test_images", int),
            params=get("params", int),
            macs=get("macs", int),
            epochs_run=get("epochs_run", int),
            best_epoch=get("best_epoch", int),
            train_seconds=get("train_seconds", (int, float)),
            train_images=get("train_images", int),
            val_images=get("val_images", int),
            selection=get("selection", str),
            augment=config.get("augment") if isinstance(config.get("augment"), str) else None,
            stopping=Stopping(
                bool(stop.get("early")), str(stop.get("reason", "")), stop.get("best_epoch")
            )
            if isinstance(stop, dict)
            else None,
            calibration=Calibration.from_json(raw.get("calibration")),
            drawn=get("drawn", dict),
            drawn_eval=get("drawn_eval", dict) or {},
            weight_averaging=get("weight_averaging", dict),
            architecture=get("architecture", dict) or {},
            augmentation=get("augmentation", dict) or {},
            raw=raw,
        )

    @classmethod
    def load(cls, path: Path) -> TrainMetrics:
        import json

        return cls.from_json(json.loads(path.read_text()))
