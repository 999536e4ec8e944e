"""The training loop: data split, augmentation pipeline, schedule, checkpoints, artifacts."""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.data import load_split
from mnist_edge.errors import UserError
from mnist_edge.fsutil import atomic_path, prepare_out_dir, write_json_atomic, write_text_atomic
from train.architectures import ARCHITECTURES, count_macs
from train.config import TrainConfig

MODEL_FILE = "model.keras"
CHECKPOINT_FILE = "checkpoint.keras"


class TrainingInterrupted(UserError):
    exit_code = 130


def split_train_val(images: np.ndarray, labels: np.ndarray, fraction: float, seed: int
                    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A seeded random validation split carved from the training images (never the test set)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    n_val = max(1, int(round(len(labels) * fraction)))
    val, train = order[:n_val], order[n_val:]
    return (images[train], labels[train]), (images[val], labels[val])


def _strategy(name: str) -> Any:
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        # Reads the cluster from $TF_CONFIG, as TensorFlow's multi-worker guide describes.
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                 augmentation: str) -> Any:
    """Endless shuffled, augmented batches of (uint8 [B, 28, 28, 1], int labels)."""
    import tensorflow as tf

    from train.augment import POLICIES, augment_batch

    policy = POLICIES[augmentation]
    ds = tf.data.Dataset.from_tensor_slices((images[..., None], labels.astype(np.int32)))
    ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=False)
    if policy is not None:
        # The batch index keys the stateless randomness: reproducible, different every batch.
        ds = ds.enumerate().map(
            lambda i, batch: (augment_batch(batch[0], batch[1],
                                            tf.stack([tf.constant(seed, tf.int64), i]), policy),
                              batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


class _BestCheckpoint:
    """Best weights by validation accuracy, in memory and on disk (atomic), and early stopping.

    Ties go to the later epoch: under the cosine schedule a later epoch has a lower learning
    rate and generalizes at least as well. Validation loss is not the criterion: late in
    training it drifts up as the model grows confident while accuracy still improves. Stopping
    counts only from ``start`` (mid-schedule), where the schedule is past its noisy peak.
    """

    def __init__(self, path: Path, patience: int, start: int) -> None:
        import keras

        outer = self

        class Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                outer.on_epoch_end(self.model, epoch, logs or {})

        self.callback = Callback()
        self.path = path
        self.patience, self.start = patience, start
        self.best = -math.inf
        self.best_epoch = 0
        self.best_weights: list[Any] | None = None
        self.stopped_epoch = 0

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        value = logs.get("val_accuracy", -math.inf)
        if value >= self.best:
            self.best, self.best_epoch = value, epoch + 1
            self.best_weights = model.get_weights()
            with atomic_path(self.path) as tmp:
                model.save(tmp.with_suffix(".keras"))
                os.replace(tmp.with_suffix(".keras"), tmp)
        elif epoch + 1 > self.start and epoch + 1 - max(self.best_epoch, self.start) \
                >= self.patience:
            model.stop_training = True
            self.stopped_epoch = epoch + 1


class _HistoryCsv:
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


def train(config: TrainConfig) -> dict[str, Any]:
    """Train ``config.arch``, write every artifact into ``config.out_dir``, return the metrics."""
    out = prepare_out_dir(config.out_dir, force=config.force)
    train_split = load_split("train", config.data_dir, limit=config.limit)
    test_split = load_split("test", config.data_dir)

    import keras
    import tensorflow as tf

    from train.evaluate import (
        classification_metrics,
        library_versions,
        predict_probabilities,
        write_plots,
    )

    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    (x_train, y_train), (x_val, y_val) = split_train_val(
        train_split.images, train_split.labels, config.val_fraction, config.seed)
    steps = math.ceil(len(y_train) / config.batch_size)
    with _strategy(config.strategy).scope():
        model = ARCHITECTURES[config.arch].build()
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.lr / 10, decay_steps=steps * config.epochs,
            warmup_target=config.lr, warmup_steps=steps, alpha=0.01)
        model.compile(optimizer=keras.optimizers.Adam(schedule),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    summary = io.StringIO()
    model.summary(print_fn=lambda line, **_: summary.write(line + "\n"))
    macs = count_macs(model)
    summary.write(f"Multiply-accumulates per image: {macs:,}\n")
    write_text_atomic(out / "summary.txt", summary.getvalue())

    checkpoint = _BestCheckpoint(out / CHECKPOINT_FILE, config.patience, config.epochs // 2)
    history_csv = _HistoryCsv(out / "history.csv")
    train_ds = make_dataset(x_train, y_train, config.batch_size, config.seed, config.augmentation)
    print(f"training {config.arch}: {model.count_params():,} params, {macs:,} MACs, "
          f"{len(y_train):,} train / {len(y_val):,} validation images, augmentation "
          f"{config.augmentation!r}, up to {config.epochs} epochs", file=sys.stderr)
    started = time.perf_counter()
    try:
        fit = model.fit(train_ds, steps_per_epoch=steps, epochs=config.epochs,
                        validation_data=(x_val[..., None], y_val.astype(np.int32)),
                        callbacks=[checkpoint.callback, history_csv.callback],
                        verbose=1 if sys.stdout.isatty() else 2)
    except KeyboardInterrupt:
        kept = (f"the best checkpoint so far (epoch {checkpoint.best_epoch}) is "
                f"{out / CHECKPOINT_FILE}") if checkpoint.best_weights else \
            "no checkpoint was saved"
        raise TrainingInterrupted(f"training interrupted; {kept}") from None
    train_seconds = time.perf_counter() - started
    if checkpoint.best_weights is not None:
        model.set_weights(checkpoint.best_weights)
    history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}

    probs = predict_probabilities(model, test_split.images)
    metrics = {
        "arch": config.arch,
        **classification_metrics(probs, test_split.labels),
        "val_accuracy": float(history["val_accuracy"][checkpoint.best_epoch - 1])
        if checkpoint.best_epoch else None,
        "params": int(model.count_params()),
        "macs": macs,
        "epochs_run": len(history.get("loss", [])),
        "best_epoch": checkpoint.best_epoch,
        "train_seconds": round(train_seconds, 1),
        "train_images": len(y_train),
        "val_images": len(y_val),
        "data_checksums": {**train_split.checksums, **test_split.checksums},
        "versions": library_versions(),
        "config": config.to_dict(),
    }
    with atomic_path(out / MODEL_FILE) as tmp:
        model.save(tmp.with_suffix(".keras"))
        os.replace(tmp.with_suffix(".keras"), tmp)
    metrics["plots"] = write_plots(out, history, test_split.images, test_split.labels, probs,
                                   np.asarray(metrics["confusion_matrix"]))
    write_json_atomic(out / "metrics.json", metrics)
    # The final model supersedes the checkpoint; keep the directory to what a user needs.
    (out / CHECKPOINT_FILE).unlink(missing_ok=True)
    return metrics
