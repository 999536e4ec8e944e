"""``mnist-edge train --strategy mirrored|multi-worker``: devices, workers, sharding, backups.

The user's side (``TF_CONFIG``, batch size and learning rate, restarting a lost worker) is in
docs/distributed.md. In short:

- ``mirrored`` replicates the model on every GPU of one machine (or, with
  ``MNIST_EDGE_LOGICAL_CPUS=N``, on N logical devices carved out of the CPU: for tests and
  experiments on a machine without GPUs). ``--batch-size`` is the global batch, split evenly
  across the replicas.
- ``multi-worker`` runs one process per machine, each started with the same command and its own
  ``TF_CONFIG``. Every worker runs the same program; only the chief (task ``chief``, or
  ``worker`` 0 when there is none) writes into ``--out``, the others write into a temporary
  folder they delete, as TensorFlow's multi-worker guide prescribes. Batches are sharded by data
  (``AutoShardPolicy.DATA``: the MNIST arrays live in memory, there are no files to split).
  The training state is backed up after every epoch (``keras.callbacks.BackupAndRestore``); a
  lost worker is recovered by restarting every worker with the same command.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path, output_dir, write_json_atomic

LOGICAL_CPUS_ENV = "MNIST_EDGE_LOGICAL_CPUS"
BACKUP_ENV = "MNIST_EDGE_BACKUP_DIR"
BACKUP_DIR = "backup"  # the chief's backup, inside --out; removed when training completes
STATE_FILE = "mnist-edge-state.json"  # epoch selection and history, beside Keras's backup
BEST_FILE = "mnist-edge-best.npz"  # the weights of the best epoch so far
KERAS_METADATA = "training_metadata.json"  # written by keras.callbacks.BackupAndRestore


# ----------------------------------------------------------------------------- devices


def logical_cpus() -> int:
    """``$MNIST_EDGE_LOGICAL_CPUS``: how many logical devices to split the CPU into (0: don't)."""
    value = os.environ.get(LOGICAL_CPUS_ENV, "").strip()
    if not value:
        return 0
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise UserError(f"{LOGICAL_CPUS_ENV} must be a whole number from 1 to 64, not {value!r}")
    return int(value)


def split_cpu(n: int) -> list[str]:
    """Split the first CPU into ``n`` logical devices; their names.

    Must run before anything initializes TensorFlow's runtime in this process (any op, any
    strategy, ``list_logical_devices``): that fixes the device list for the process's lifetime.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]  # lists, does not initialize
    # If the runtime is already up this raises: fine only if it has the split asked for.
    with contextlib.suppress(RuntimeError):
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    names = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(names) != n:
        raise UserError(
            f"{LOGICAL_CPUS_ENV}={n} came too late: TensorFlow already runs on "
            f"{len(names)} CPU device(s) in this process; set it before training starts"
        )
    return names


def make_strategy(name: str) -> Any:
    """The tf.distribute strategy for ``--strategy``. Call it before any other TensorFlow op."""
    import tensorflow as tf

    if name == "mirrored":
        n = logical_cpus()
        if n and not tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy(devices=split_cpu(n))
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        # Reads the cluster from $TF_CONFIG, as TensorFlow's multi-worker guide describes.
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def describe(strategy: Any, batch_size: int) -> str:
    """One line: replicas, workers, and how the global batch splits."""
    import tensorflow as tf

    replicas = int(strategy.num_replicas_in_sync)
    devices = ", ".join(getattr(strategy.extended, "worker_devices", ()))
    multi = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    task = worker() if multi else Task(None, 0, 1, True)
    where = (
        f"worker {task.index} of {task.workers}{' (chief)' if task.chief else ''}, "
        if task.workers > 1
        else ""
    )
    return (
        f"strategy {type(strategy).__name__}: {where}{replicas} replica(s) in sync "
        f"(local devices: {devices}); global batch {batch_size} = {replicas} x "
        f"{batch_size // replicas} per replica"
    )


def shard_by_data(dataset: Any) -> Any:
    """Shard the training batches across workers element by element (``AutoShardPolicy.DATA``).

    The default ``AUTO`` policy tries to shard by file first; an in-memory dataset has no files,
    so it would fall back to ``DATA`` with a warning. With ``DATA`` every worker walks the same
    (identically seeded, identically augmented) global batches and keeps its own slice of each.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def fix_keras_for_workers(model: Any, strategy: Any, x: np.ndarray, y: np.ndarray) -> None:
    """Work around Keras 3's TensorFlow trainer with more than one worker (two bugs:
    keras-team/keras#20585, tensorflow/tensorflow#72388, where TensorFlow's own multi-worker
    tutorial fails the same way; and empty shards, see :func:`balanced_batch`).

    1. ``fit`` and ``evaluate`` first average the first input batch over all workers only to
       learn its shapes; that reduction fails on an ``(x, y)`` pair ("Attempt to convert a
       value (PerReplica...)"), and TensorFlow's collectives take no uint8 images anyway. The
       build needs shapes and dtypes only: it is done here, once, from one local sample, and
       the broken step is skipped for this model.
    2. Every step's metrics are averaged over the workers with ``reduce("MEAN", v, axis=0)``,
       which fails on the scalar metrics ("Invalid reduction dimension 0 for input with 0
       dimensions"); ``axis=None`` is the across-workers mean Keras means there. Patched for
       multi-worker strategies only; every other reduction goes to Keras unchanged.
    3. This model's ``predict`` picks batch sizes that give every worker some images.
    """
    from keras.src.backend.tensorflow import trainer as tf_trainer

    with strategy.scope():
        model._symbolic_build(data_batch=(x[:1], y[:1]))
    model._maybe_symbolic_build = _built_already
    predict = model.predict

    def balanced_predict(x: Any, batch_size: int | None = None, **kwargs: Any) -> Any:
        """``predict`` without empty shards: see :func:`balanced_batch`."""
        if not hasattr(x, "__len__") or not len(x):
            return predict(x, batch_size=batch_size, **kwargs)
        size = balanced_batch(len(x), batch_size or KERAS_BATCH, strategy.num_replicas_in_sync)
        return predict(x, batch_size=size, **kwargs)

    model.predict = balanced_predict

    original = tf_trainer.reduce_per_replica
    if getattr(original, "mnist_edge_fix", False):
        return

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(
            strategy
        ):
            import tensorflow as tf

            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.mnist_edge_fix = True  # type: ignore[attr-defined]
    tf_trainer.reduce_per_replica = reduce_per_replica


def _built_already(iterator: Any = None, data_batch: Any = None) -> None:
    return None


def sync_moving_statistics(model: Any, strategy: Any) -> Any:
    """A callback that averages the batch-norm moving statistics over the workers before every
    validation and at the end of training.

    Keras 3 updates them from each worker's own share of the batch and never reconciles them
    (the trainable weights are all-reduced every step and stay identical): without this, each
    worker would validate and predict its shard with slightly different statistics, and the
    test metrics would not be exactly those of the chief's saved model. The mean of the
    workers' moving means is the moving mean of the global batches; the moving variance is
    the mean of the workers' (the usual non-synchronized batch norm).
    """
    import keras
    import tensorflow as tf

    variables = [v for v in model.non_trainable_variables if "float" in str(v.dtype)]

    @tf.function
    def averaged() -> Any:
        def replica() -> Any:
            ctx = tf.distribute.get_replica_context()
            return ctx.all_reduce("MEAN", [tf.identity(v.value) for v in variables])

        return strategy.run(replica)

    def sync() -> None:
        if not variables:
            return
        for variable, mean in zip(variables, averaged()):
            variable.assign(strategy.experimental_local_results(mean)[0])

    class Sync(keras.callbacks.Callback):
        def on_test_begin(self, logs: dict[str, float] | None = None) -> None:
            sync()

        def on_train_end(self, logs: dict[str, float] | None = None) -> None:
            sync()

    return Sync()


def prepare_workers(
    config: Any,
    model: Any,
    strategy: Any,
    dataset: Any,
    val_data: tuple[np.ndarray, np.ndarray],
    selection: Any,
    rows: list[dict[str, Any]],
) -> tuple[Any, list[Any], Resume, int]:
    """Everything multi-worker training adds to the trainer's ``fit``: the sharded dataset,
    the extra callbacks (moving statistics, backups), the backup (restored if there is one) and
    the validation batch size.
    """
    fix_keras_for_workers(model, strategy, *val_data)
    resume = Resume(config.out_dir, config.to_dict())
    callbacks = [sync_moving_statistics(model, strategy), *resume.start(strategy, selection, rows)]
    val_batch = balanced_batch(len(val_data[0]), KERAS_BATCH, strategy.num_replicas_in_sync)
    return shard_by_data(dataset), callbacks, resume, val_batch


KERAS_BATCH = 32  # Keras's default batch size for evaluate and predict


def balanced_batch(n: int, batch: int, replicas: int) -> int:
    """The largest batch size up to ``batch`` that leaves no replica an empty shard.

    Evaluation and prediction split each batch over the replicas; a short last batch (33
    images in batches of 32: the last one holds 1) leaves a replica nothing, and an empty batch
    fed to the model inside multi-worker training failed in TensorFlow 2.21 ("Incompatible
    shapes: [32] vs. [0,14,14,16]" in a batch norm). So the last batch must be full or hold at
    least one image per replica.
    """
    for size in range(min(batch, n), replicas - 1, -1):
        if n % size == 0 or n % size >= replicas:
            return size
    return max(1, min(batch, n))  # fewer images than replicas: nothing helps


# ----------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class Task:
    type: str | None
    index: int
    workers: int  # tasks in the cluster (chief and workers)
    chief: bool


def worker() -> Task:
    """This process's task in ``$TF_CONFIG`` (without it: a cluster of one, its own chief).

    The chief is the ``chief`` task, or ``worker`` 0 when the cluster has no ``chief``: the
    ``_is_chief`` rule of TensorFlow's multi-worker guide.
    """
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return Task(None, 0, 1, True)
    try:
        spec = json.loads(raw)
        cluster = spec.get("cluster") or {}
        task = spec.get("task") or {}
        kind, index = task.get("type"), int(task.get("index", 0))
        workers = sum(len(v) for k, v in cluster.items() if k in ("chief", "worker"))
    except (ValueError, TypeError, AttributeError) as exc:
        raise UserError(f"TF_CONFIG is not valid JSON of the documented form: {exc}") from None
    if kind not in ("chief", "worker") or not 0 <= index < len(cluster.get(kind, [])):
        raise UserError(
            f"TF_CONFIG's task {task!r} is not in its cluster {sorted(cluster)}: give "
            '"task": {"type": "worker", "index": I} with I below the number of workers'
        )
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return Task(kind, index, workers, chief)


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


# ----------------------------------------------------------------------------- backups


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
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
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
