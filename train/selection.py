"""Which epoch is kept: validation scores (MNIST and writer-held-out drawn digits), the moving
average of the weights beside the raw ones, the checkpoint, early stopping and history.csv."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.fsutil import atomic_path, write_text_atomic
from mnist_edge.train.config import TrainConfig

SELECTION = (
    "the epoch with the lowest mean error over MNIST validation and writer-held-out "
    "drawn validation is kept (ties to the later epoch)"
)
SELECTION_EMA = (
    "; each epoch, the raw weights and their moving average (EMA, momentum {}) are both "
    "validated and the better is the candidate"
)
SELECTION_MNIST = "the epoch with the best MNIST validation accuracy is kept (ties to the later)"


@contextlib.contextmanager
def averaged_weights(model: Any) -> Iterator[None]:
    """The optimizer's moving average of the weights in the model for the block, then the raw
    weights back bit for bit (Keras's own swap adds and subtracts, which rounds)."""
    raw = model.get_weights()
    model.optimizer.finalize_variable_values(model.trainable_variables)
    try:
        yield
    finally:
        model.set_weights(raw)


class Selection:
    """Epoch selection, checkpoint (in memory and on disk, atomic) and early stopping.

    The score is MNIST validation accuracy, or with drawn validation the mean of the two
    accuracies (the lowest mean error). Ties go to the later epoch: under the cosine schedule a
    later epoch has a lower learning rate and generalizes at least as well. Stopping counts
    only from ``start`` (mid-schedule), where the schedule is past its noisy peak.

    With ``ema``, each epoch also scores the optimizer's moving average of the weights (swapped
    in, scored on the same validation sets, swapped out: training runs on the raw weights
    unchanged), and the better of the two is that epoch's candidate. Early on, or in a short
    run, the average still carries the first steps and the raw weights win; over a long
    schedule the average usually does. Each kind's own best is tracked for the report.
    """

    def __init__(
        self,
        path: Path,
        patience: int,
        start: int,
        drawn_val: tuple[np.ndarray, np.ndarray] | None,
        mnist_val: tuple[np.ndarray, np.ndarray] | None = None,
        ema: bool = False,
    ) -> None:
        import keras

        outer = self

        class Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                outer.on_epoch_end(self.model, epoch, logs if logs is not None else {})

        if ema and mnist_val is None:
            raise ValueError("EMA selection needs the MNIST validation set")  # a caller's bug
        self.callback = Callback()
        self.path = path
        self.patience, self.start = patience, start
        self.drawn_val, self.mnist_val, self.ema = drawn_val, mnist_val, ema
        self.best = -math.inf
        self.best_epoch = 0
        self.best_weights: list[Any] | None = None
        self.stopped_epoch = 0
        self.kept = "raw"
        # Each kind's own best, for the report of what averaging gained (--ema only).
        self.tracks: dict[str, dict[str, Any]] = {
            kind: {"score": -math.inf, "epoch": 0, "weights": None} for kind in ("raw", "ema")
        }

    @staticmethod
    def _accuracy(model: Any, data: Any) -> float:  # data: (images, labels)
        x, y = data
        return float(
            (model.predict(x[..., None], batch_size=1000, verbose=0).argmax(1) == y).mean()
        )

    def _score(self, model: Any, mnist: float, logs: dict[str, float], prefix: str) -> float:
        if self.drawn_val is None:
            return mnist
        drawn = self._accuracy(model, self.drawn_val)
        logs[f"val_{prefix}drawn_accuracy"] = drawn  # into history.csv and the progress line
        print(f" - val_{prefix}drawn_accuracy: {drawn:.4f}", file=sys.stderr, flush=True)
        return (mnist + drawn) / 2

    def _track(self, kind: str, model: Any, epoch: int, score: float) -> None:
        track = self.tracks[kind]
        if score >= track["score"]:
            track.update(score=score, epoch=epoch + 1, weights=model.get_weights())

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        if not self.ema:
            self._keep(
                model,
                epoch,
                self._score(model, logs.get("val_accuracy", -math.inf), logs, ""),
                logs,
                "raw",
            )
            return
        # Both kinds scored the same way (Keras's own metric is float32: real ties would
        # then break at random).
        score = self._score(model, self._accuracy(model, self.mnist_val), logs, "")
        logs["raw_selection_score"] = score
        self._track("raw", model, epoch, score)
        with averaged_weights(model):
            mnist = self._accuracy(model, self.mnist_val)
            logs["val_ema_accuracy"] = mnist
            print(f" - val_ema_accuracy: {mnist:.4f}", file=sys.stderr, flush=True)
            averaged = self._score(model, mnist, logs, "ema_")
            logs["ema_selection_score"] = averaged
            self._track("ema", model, epoch, averaged)
            if averaged >= score:  # the average wins ties: it is the smoother of the two
                self._keep(model, epoch, averaged, logs, "ema")
                return
        self._keep(model, epoch, score, logs, "raw")

    def _keep(
        self, model: Any, epoch: int, score: float, logs: dict[str, float], kind: str
    ) -> None:
        logs["selection_score"] = score
        if score >= self.best:
            self.best, self.best_epoch, self.kept = score, epoch + 1, kind
            self.best_weights = model.get_weights()
            with atomic_path(self.path) as tmp:
                model.save(tmp.with_suffix(".keras"))
                os.replace(tmp.with_suffix(".keras"), tmp)
        elif (
            epoch + 1 > self.start and epoch + 1 - max(self.best_epoch, self.start) >= self.patience
        ):
            model.stop_training = True
            self.stopped_epoch = epoch + 1

    def kept_text(self) -> str:
        average = " (the moving average of its weights)" if self.kept == "ema" else ""
        return f"epoch {self.best_epoch}{average}"

    def stopping(self, epochs: int, ran: int) -> dict[str, Any]:
        if self.stopped_epoch:
            reason = (
                f"stopped early after epoch {self.stopped_epoch}: no better validation "
                f"score for {self.patience} epochs; {self.kept_text()} kept"
            )
        else:
            reason = f"ran all {ran} of {epochs} epochs; {self.kept_text()} kept"
        return {
            "early": bool(self.stopped_epoch),
            "reason": reason,
            "best_epoch": self.best_epoch,
            "score": self.best,
        }


class HistoryCsv:
    """Rewrites history.csv after each epoch, so an interrupted run keeps its curves."""

    def __init__(self, path: Path) -> None:
        import keras

        rows: list[dict[str, float]] = []

        class Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                lr = self.model.optimizer.learning_rate
                rows.append({"epoch": epoch + 1, **(logs or {}), "lr": float(np.asarray(lr))})
                buf = io.StringIO()
                writer = csv.DictWriter(buf, fieldnames=list(rows[-1]))
                writer.writeheader()
                writer.writerows(rows)
                write_text_atomic(path, buf.getvalue())

        self.callback = Callback()
        self.rows = rows


def weight_averaging(
    model: Any, selection: Selection, config: TrainConfig, test_split: Any
) -> dict[str, Any]:
    """The raw weights and their moving average, each at its own best epoch: the choice was
    made on validation; the test figures are reported, never used."""
    from mnist_edge.train.evaluate import predict_probabilities

    result: dict[str, Any] = {
        "ema_momentum": config.ema,
        "kept": selection.kept,  # the rule: metrics["selection"]
    }
    for kind, track in selection.tracks.items():
        test = None
        if track["weights"] is not None:
            model.set_weights(track["weights"])
            probs = predict_probabilities(model, test_split.images)
            test = float((probs.argmax(1) == test_split.labels).mean())
        result[kind] = {
            "best_epoch": track["epoch"],
            "selection_score": track["score"],
            "test_accuracy": test,
        }
    return result
