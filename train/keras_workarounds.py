"""Patches on Keras 3's TensorFlow trainer for multi-worker training, each with the upstream
issue it works around (keras-team/keras#20585, tensorflow/tensorflow#72388), in one place so
that they are easy to find and to drop when upstream is fixed."""

from __future__ import annotations

from typing import Any

import numpy as np


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
