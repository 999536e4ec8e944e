"""The training input pipeline: MNIST's validation split, and endless shuffled, augmented
batches with a fixed share of real drawn digits."""

from __future__ import annotations

from typing import Any

import numpy as np


def split_train_val(
    images: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A seeded random validation split carved from the training images (never the test set)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    n_val = max(1, int(round(len(labels) * fraction)))
    val, train = order[:n_val], order[n_val:]
    return (images[train], labels[train]), (images[val], labels[val])


def _endless(images: np.ndarray, labels: np.ndarray, batch: int, seed: int) -> Any:
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((images[..., None], labels.astype(np.int32)))
    return (
        ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch, drop_remainder=True)
    )


def drawn_per_batch(batch_size: int, share: float) -> int:
    """Drawn digits in every batch: the documented share, at least one when share > 0."""
    return 0 if share <= 0 else max(1, round(batch_size * share))


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    seed: int,
    augmentation: str,
    drawn: tuple[np.ndarray, np.ndarray] | None = None,
    drawn_share: float = 0.0,
) -> Any:
    """Endless shuffled, augmented batches of (uint8 [B, 28, 28, 1], one-hot labels [B, 10]).

    With ``drawn``, each batch is ``drawn_per_batch`` drawn digits and the rest MNIST, exactly,
    whatever the sizes of the two sets. Both parts are augmented on the fly with the same warp
    and stroke changes; the synthesized writing styles (slashed zeros, flagged ones) go on MNIST
    digits only: real drawings already have the styles their writers use.
    """
    import dataclasses

    import tensorflow as tf

    from mnist_edge.train.augment import POLICIES, augment_batch

    def augmented(ds: Any, policy: Any, stream: int) -> Any:
        if policy is None:
            return ds
        # The batch index keys the stateless randomness: reproducible, different every batch.
        return ds.enumerate().map(
            lambda i, batch: (
                augment_batch(
                    batch[0],
                    batch[1],
                    tf.stack([tf.constant(seed + stream, tf.int64), i]),
                    policy,
                ),
                batch[1],
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    policy = POLICIES[augmentation]
    k = drawn_per_batch(batch_size, drawn_share) if drawn is not None and len(drawn[1]) else 0
    ds = augmented(_endless(images, labels, batch_size - k, seed), policy, 0)
    if k:
        real = None if policy is None else dataclasses.replace(policy, styles=0.0)
        other = augmented(_endless(drawn[0], drawn[1], k, seed + 1), real, 1)  # type: ignore[index]
        ds = tf.data.Dataset.zip((ds, other)).map(
            lambda a, b: (tf.concat([a[0], b[0]], 0), tf.concat([a[1], b[1]], 0))
        )
    ds = ds.map(lambda x, y: (x, tf.one_hot(y, 10)))
    return ds.prefetch(tf.data.AUTOTUNE)
