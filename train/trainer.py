"""The training loop: model and schedule, fit, the kept epoch's metrics and artifacts.

The rooms around it: ``dataset`` (batches), ``selection`` (which epoch is kept),
``drawn_training`` (drawn digits, calibration), ``distributed`` (strategies).

With ``--drawn`` files, every batch holds a fixed share of real drawn digits (rendered exactly
as the app renders them) next to MNIST. Validation then runs on two sets every epoch: MNIST's
seeded validation split and the drawn digits of writers held out entirely. The checkpoint kept
is the epoch with the lowest mean error over the two (so neither can be traded away for the
other), ties to the later epoch.
"""

from __future__ import annotations

import io
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.data import load_split
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path, output_dir, write_json_atomic, write_text_atomic
from mnist_edge.train import distributed
from mnist_edge.train import resume as resume_mod
from mnist_edge.train.architectures import (
    ARCHITECTURES,
    count_macs,
    describe_layers,
    design_notes,
)
from mnist_edge.train.config import TrainConfig
from mnist_edge.train.dataset import drawn_per_batch, make_dataset, split_train_val
from mnist_edge.train.drawn_training import drawn_eval, drawn_metrics, load_drawn_parts
from mnist_edge.train.interrupt import InterruptAtBatch
from mnist_edge.train.selection import (
    SELECTION,
    SELECTION_EMA,
    SELECTION_MNIST,
    HistoryCsv,
    Selection,
    weight_averaging,
)

MODEL_FILE = "model.keras"
CHECKPOINT_FILE = "checkpoint.keras"


class TrainingInterrupted(UserError):
    exit_code = 130


def _strategy(name: str) -> Any:
    # Devices, $MNIST_EDGE_LOGICAL_CPUS and $TF_CONFIG: see distributed.py.
    return distributed.make_strategy(name)


def train(config: TrainConfig) -> dict[str, Any]:
    """Train ``config.arch``, write every artifact into ``config.out_dir``, return the metrics."""
    _, drawn = load_drawn_parts(config)  # bad drawn files fail before MNIST or TensorFlow load
    train_split = load_split("train", config.data_dir, limit=config.limit)
    test_split = load_split("test", config.data_dir)
    if config.strategy == "multi-worker":  # only the chief writes into --out
        with resume_mod.worker_output_dir(config.out_dir, force=config.force) as out:
            return _train(config, out, train_split, test_split, drawn)
    with output_dir(config.out_dir, force=config.force, what="training") as out:
        return _train(config, out, train_split, test_split, drawn)


def _compiled_model(config: TrainConfig, strategy: Any, steps: int) -> Any:
    """The architecture, built under the strategy, with the cosine schedule and the optimizer
    (EMA: a shadow average of the weights; training runs on the raw ones unchanged)."""
    import keras

    with strategy.scope():
        model = ARCHITECTURES[config.arch].build()
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.lr / 10,
            decay_steps=steps * config.epochs,
            warmup_target=config.lr,
            warmup_steps=steps,
            alpha=0.01,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(
                schedule, use_ema=config.ema > 0, ema_momentum=config.ema or 0.99
            ),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
            metrics=["accuracy"],
        )
    return model


def _write_summary(model: Any, out: Path) -> int:
    """summary.txt (Keras's table and the multiply-accumulates); returns the MACs."""
    summary = io.StringIO()
    model.summary(print_fn=lambda line, **_: summary.write(line + "\n"))
    macs = count_macs(model)
    summary.write(f"Multiply-accumulates per image: {macs:,}\n")
    write_text_atomic(out / "summary.txt", summary.getvalue())
    return macs


def _train(
    config: TrainConfig, out: Path, train_split: Any, test_split: Any, drawn: dict[str, Any]
) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    from mnist_edge.train.evaluate import (
        classification_metrics,
        library_versions,
        predict_probabilities,
        write_plots,
    )

    # First: a multi-worker strategy or a split CPU must come before any other TensorFlow op.
    strategy = _strategy(config.strategy)
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    (x_train, y_train), (x_val, y_val) = split_train_val(
        train_split.images, train_split.labels, config.val_fraction, config.split_seed
    )
    drawn_train, drawn_val = drawn.get("train"), drawn.get("val")
    k = drawn_per_batch(config.batch_size, config.drawn_share) if drawn_train else 0
    steps = math.ceil(len(y_train) / (config.batch_size - k))  # an epoch is one pass of MNIST
    model = _compiled_model(config, strategy, steps)
    macs = _write_summary(model, out)

    selection = Selection(
        out / CHECKPOINT_FILE,
        config.patience,
        config.epochs // 2,
        (drawn_val.images, drawn_val.labels) if drawn_val else None,
        (x_val, y_val),
        ema=config.ema > 0,
    )
    history_csv = HistoryCsv(out / "history.csv")
    train_ds = make_dataset(
        x_train,
        y_train,
        config.batch_size,
        config.seed,
        config.augmentation,
        (drawn_train.images, drawn_train.labels) if drawn_train else None,
        config.drawn_share,
    )
    drawn_note = (
        (
            f", plus {len(drawn_train):,} drawn renderings ({k} of every "
            f"{config.batch_size} in a batch) and {len(drawn_val) if drawn_val else 0:,} drawn "
            "digits of held-out writers for validation"
        )
        if drawn_train
        else ""
    )
    print(
        f"training {config.arch}: {model.count_params():,} params, {macs:,} MACs, "
        f"{len(y_train):,} train / {len(y_val):,} validation images{drawn_note}, "
        f"augmentation {config.augmentation!r}, up to {config.epochs} epochs",
        file=sys.stderr,
    )
    callbacks, resume, val_batch = [selection.callback, history_csv.callback], None, None
    val_data = (x_val[..., None], keras.utils.to_categorical(y_val, 10))
    if config.strategy != "default":
        print(distributed.describe(strategy, config.batch_size), file=sys.stderr)
    if config.strategy == "multi-worker":  # sharding, Keras fixes, backups: see distributed.py
        train_ds, more, resume, val_batch = distributed.prepare_workers(
            config, model, strategy, train_ds, val_data, selection, history_csv.rows
        )
        callbacks += more
    interrupt = InterruptAtBatch()
    started = time.perf_counter()
    try:
        with interrupt.installed():
            fit = model.fit(
                train_ds,
                steps_per_epoch=steps,
                epochs=config.epochs,
                validation_data=val_data,
                validation_batch_size=val_batch,  # None: Keras's default
                callbacks=[*callbacks, interrupt.callback],
                verbose=1 if sys.stdout.isatty() else 2,
            )
    except KeyboardInterrupt:
        kept = (
            (
                f"the best checkpoint so far (epoch {selection.best_epoch}) is "
                f"{out / CHECKPOINT_FILE}"
            )
            if selection.best_weights
            else "no checkpoint was saved"
        )
        raise TrainingInterrupted(f"training interrupted; {kept}") from None
    except resume_mod.lost_worker_errors() as exc:
        if resume is None:
            raise
        raise resume.lost(exc) from None
    train_seconds = time.perf_counter() - started
    if resume is not None:
        resume.finish()
    history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
    if resume is not None and resume.epoch:  # the epochs before the restart, from the backup
        history = {k: [float(row[k]) for row in history_csv.rows] for k in history}
    stopping = selection.stopping(config.epochs, len(history.get("loss", [])))
    print(f"mnist-edge: {stopping['reason']}", file=sys.stderr)
    averaging = weight_averaging(model, selection, config, test_split) if config.ema else None
    if selection.best_weights is not None:
        model.set_weights(selection.best_weights)

    metrics: dict[str, Any] = {"arch": config.arch}
    if drawn_train:
        metrics.update(drawn_metrics(model, config, drawn))
    probs = predict_probabilities(model, test_split.images)
    metrics.update(
        {
            **classification_metrics(probs, test_split.labels),
            # The kept weights' own MNIST validation accuracy (the average's, if it won).
            "val_accuracy": float(
                history["val_ema_accuracy" if selection.kept == "ema" else "val_accuracy"][
                    selection.best_epoch - 1
                ]
            )
            if selection.best_epoch
            else None,
            "params": int(model.count_params()),
            "macs": macs,
            "epochs_run": len(history.get("loss", [])),
            "best_epoch": selection.best_epoch,
            "stopping": stopping,
            "selection": (SELECTION if drawn_train else SELECTION_MNIST)
            + (SELECTION_EMA.format(config.ema) if config.ema else ""),
            "train_seconds": round(train_seconds, 1),
            "train_images": len(y_train),
            "val_images": len(y_val),
            "architecture": {"layers": describe_layers(model), "design": design_notes(config.arch)},
            "augmentation": _augmentation(config),
            "data_checksums": {**train_split.checksums, **test_split.checksums},
            "versions": library_versions(),
            "config": config.to_dict(),
        }
    )
    if averaging is not None:
        metrics["weight_averaging"] = averaging
    if resume is not None and resume.epoch:
        metrics["resumed_after_epoch"] = resume.epoch
    if config.drawn_eval:
        metrics["drawn_eval"] = drawn_eval(model, config.drawn_eval)
    with atomic_path(out / MODEL_FILE) as tmp:
        model.save(tmp.with_suffix(".keras"))
        os.replace(tmp.with_suffix(".keras"), tmp)
    metrics["plots"] = write_plots(
        out,
        history,
        test_split.images,
        test_split.labels,
        probs,
        np.asarray(metrics["confusion_matrix"]),
    )
    write_json_atomic(out / "metrics.json", metrics)
    # The final model supersedes the checkpoint; keep the directory to what a user needs.
    (out / CHECKPOINT_FILE).unlink(missing_ok=True)
    return metrics


def _augmentation(config: TrainConfig) -> dict[str, str]:
    from mnist_edge.train.augment import POLICIES

    policy = POLICIES[config.augmentation]
    return {"name": config.augmentation, "text": policy.describe() if policy else "none"}
