"""``mnist-edge train --strategy mirrored|multi-worker``: devices, strategies and sharding.

The rest of multi-worker training: ``train/workers.py`` (which task this process is),
``train/resume.py`` (backups and resuming), ``train/keras_workarounds.py`` (patches on Keras
internals, with the upstream issues they work around).

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
import os
from typing import Any

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.train.keras_workarounds import (
    KERAS_BATCH,
    balanced_batch,
    fix_keras_for_workers,
    sync_moving_statistics,
)
from mnist_edge.train.resume import Resume
from mnist_edge.train.workers import Task, worker

LOGICAL_CPUS_ENV = "MNIST_EDGE_LOGICAL_CPUS"


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
