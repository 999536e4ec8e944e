"""Fault tolerance for multi-worker training: where each worker backs up its state, the chief's
claim on ``--out``, and resuming a run exactly where it stopped."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path, output_dir, write_json_atomic
from mnist_edge.core.text import error_line
from mnist_edge.train.workers import Task, worker

BACKUP_ENV = "MNIST_EDGE_BACKUP_DIR"
BACKUP_DIR = "backup"  # the chief's backup, inside --out; removed when training completes
STATE_FILE = "mnist-edge-state.json"  # epoch selection and history, beside Keras's backup
BEST_FILE = "mnist-edge-best.npz"  # the weights of the best epoch so far
KERAS_METADATA = "training_metadata.json"  # written by keras.callbacks.BackupAndRestore


def backup_dir(out_dir: str, task: Task) -> Path:
    """Where this worker backs up its training state (it must survive the process).

    ``$MNIST_EDGE_BACKUP_DIR/worker-I`` when set; else the chief keeps it in ``--out``/backup
    and every other worker in the system's temporary folder, named after ``--out`` and the task.
    """
    tag = f"{task.type or 'worker'}-{task.index}"
    if os.environ.get(BACKUP_ENV):
        return Path(os.environ[BACKUP_ENV]) / tag
    if task.chief:
        return Path(out_dir) / BACKUP_DIR
    digest = hashlib.sha256(str(Path(out_dir).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"mnist-edge-backup-{digest}" / tag


def backup_epoch(directory: Path) -> int:
    """The last epoch a backup in ``directory`` completed (0: none)."""
    try:
        return int(json.loads((directory / KERAS_METADATA).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


@contextlib.contextmanager
def worker_output_dir(out_dir: str, *, force: bool) -> Iterator[Path]:
    """The chief claims ``--out`` (a run with a backup there is resumed: no ``--force``
    needed); every other worker gets a temporary folder, deleted when it finishes."""
    task = worker()
    if task.chief:
        resuming = backup_epoch(backup_dir(out_dir, task)) > 0
        with output_dir(out_dir, force=force, what="training", keep_existing=resuming) as out:
            yield out
    else:
        with tempfile.TemporaryDirectory(prefix=f"mnist-edge-worker{task.index}-") as tmp:
            yield Path(tmp)
        print(
            f"mnist-edge: {task.type} {task.index} is not the chief: its copy of the artifacts "
            f"went to a temporary folder, now deleted; the chief writes {out_dir}",
            file=sys.stderr,
        )


class Resume:
    """Fault tolerance for multi-worker training: ``BackupAndRestore`` plus our own state.

    Keras's callback backs up the weights, the optimizer and the epoch. Next to it this keeps
    what the trainer's own callbacks know (the best epoch so far, its weights, the history
    rows), so a restarted run selects, stops early and reports exactly as if it had not been
    interrupted, on every worker alike. A backup made with other options is refused.
    """

    def __init__(self, out_dir: str, config: dict[str, Any]) -> None:
        import keras

        self.task = worker()
        self.directory = backup_dir(out_dir, self.task)
        self.config = {k: v for k, v in config.items() if k != "force"}
        self.backup = keras.callbacks.BackupAndRestore(str(self.directory))
        self.epoch = backup_epoch(self.directory)  # where training resumes (0: from the start)

    def start(self, strategy: Any, selection: Any, rows: list[dict[str, Any]]) -> list[Any]:
        """Restore what the backup holds, check every worker resumes alike; the callbacks."""
        self.restore(selection, rows)
        self.check_agreement(strategy)
        return self.callbacks(selection, rows)

    def restore(self, selection: Any, rows: list[dict[str, Any]]) -> None:
        """Load the selection state and history rows of the backed-up epoch, if any."""
        if not self.epoch:
            return
        try:
            state = json.loads((self.directory / STATE_FILE).read_text())
        except (OSError, ValueError):
            raise UserError(
                f"the backup in {self.directory} is incomplete; delete that folder on every "
                "worker and start training again"
            ) from None
        if state.get("config") != json.loads(json.dumps(self.config)):
            raise UserError(
                f"the backup in {self.directory} was made with other training options; run "
                "the same command again, or delete that folder on every worker to start over"
            )
        rows[:] = [row for row in state["rows"] if row["epoch"] <= self.epoch]
        selection.best = state["best"] if state["best"] is not None else -np.inf
        selection.best_epoch = state["best_epoch"]
        selection.stopped_epoch = state["stopped_epoch"]
        best = self.directory / BEST_FILE
        if best.exists():
            with np.load(best) as saved:
                selection.best_weights = [saved[f"w{i}"] for i in range(len(saved.files))]

    def callbacks(self, selection: Any, rows: list[dict[str, Any]]) -> list[Any]:
        """The state callback, then Keras's backup: both after the trainer's callbacks."""
        import keras

        outer = self

        class State(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                outer.save(epoch + 1, selection, rows)

        return [State(), self.backup]

    def save(self, epoch: int, selection: Any, rows: list[dict[str, Any]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if selection.best_epoch == epoch and selection.best_weights is not None:
            with atomic_path(self.directory / BEST_FILE) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **{f"w{i}": w for i, w in enumerate(selection.best_weights)})
        best = float(selection.best)
        write_json_atomic(
            self.directory / STATE_FILE,
            {
                "epoch": epoch,
                "config": self.config,
                "best": best if np.isfinite(best) else None,
                "best_epoch": selection.best_epoch,
                "stopped_epoch": selection.stopped_epoch,
                "rows": rows,
            },
        )

    def check_agreement(self, strategy: Any) -> None:
        """Every worker must resume from the same epoch, or the collectives would hang: one
        all-reduce of the backed-up epoch before training makes a mismatch an error."""
        import tensorflow as tf

        replicas = strategy.num_replicas_in_sync

        def gather(value: Any) -> Any:  # each replica's epoch in its own slot, summed
            ctx = tf.distribute.get_replica_context()
            return ctx.all_reduce("SUM", tf.one_hot(ctx.replica_id_in_sync_group, replicas) * value)

        every = strategy.run(tf.function(gather), args=(tf.constant(float(self.epoch)),))
        epochs = sorted({int(e) for e in strategy.experimental_local_results(every)[0].numpy()})
        if len(epochs) > 1:
            raise UserError(
                f"the workers' backups disagree (epochs {epochs}; this worker's is "
                f"{self.epoch} in {self.directory}); delete the backup folder on every worker "
                "and start again"
            )
        if self.epoch:
            print(
                f"mnist-edge: resuming from the backup in {self.directory}: epochs 1-"
                f"{self.epoch} done, continuing at epoch {self.epoch + 1}",
                file=sys.stderr,
                flush=True,
            )

    def finish(self) -> None:
        """After a completed run Keras has removed the backup; remove the per-run parent of a
        non-chief worker's default backup too, if empty."""
        if not self.task.chief and not os.environ.get(BACKUP_ENV):
            with contextlib.suppress(OSError):
                self.directory.parent.rmdir()

    def lost(self, exc: Exception) -> UserError:
        """A collective failed: a peer died or restarted. Restarting every worker resumes."""
        first = error_line(exc, 200)
        return UserError(
            f"multi-worker training lost a worker ({type(exc).__name__}: {first}); restart "
            f"every worker with the same command to resume from the backup in {self.directory}"
        )


def lost_worker_errors() -> tuple[type[BaseException], ...]:
    """What a collective raises when a peer is down or restarted (evaluated only when an
    exception reaches the ``except``, so TensorFlow is already loaded)."""
    import tensorflow as tf

    return (
        tf.errors.UnavailableError,
        tf.errors.AbortedError,
        tf.errors.CancelledError,
        tf.errors.DeadlineExceededError,
        tf.errors.FailedPreconditionError,
    )
