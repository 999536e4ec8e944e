"""On-device learning: the app learns its user's handwriting from corrections, in numpy.

When a reading is wrong, the person taps the right digit; the drawing's embedding (the
features the model's classifier reads, a second output of every exported model) and the label
are stored in a **profile**. Later readings look for stored corrections that are close in
embedding space (cosine similarity of at least ``threshold``) and add their votes to the
model's log-probabilities, weighted by how close they are, so a writer's own looped 4 pulls
the next looped 4 towards 4 while an ordinary 9 is left alone.

Profiles live under the user's data folder, one file per profile and model; how they are kept
safe is :mod:`~mnist_edge.edge_app.profile_store`'s and :mod:`~mnist_edge.edge_app.profile_files`'s
job. Size is bounded (least recently useful corrections go first).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_edge.edge_app.profile_files import (
    MAX_CORRECTIONS,
    new_id,
)
from mnist_edge.edge_app.profile_store import ProfileStore

SIMILARITY = 0.70  # cosine similarity from which a stored correction counts


STRENGTH = 12.0  # log-probability added by an identical correction


POWER = 2.0  # how fast a correction's weight falls from identical to the threshold


FLOOR = 1 / 512  # probabilities below it count as it: an int8 model's 0 means "< 1/256"


@dataclass(frozen=True)
class Adjusted:
    """A reading after learning: the probabilities shown, and whether learning changed it."""

    probabilities: np.ndarray
    changed: bool  # the winning digit differs from the model's own
    votes: int  # stored corrections that took part


class Learner(ProfileStore):
    """Corrections for one model, in memory, persisted to ``path`` (None: memory only)."""

    def __init__(
        self,
        model_sha256: str,
        dim: int,
        path: Path | None = None,
        capacity: int = MAX_CORRECTIONS,
        similarity: float = SIMILARITY,
        strength: float = STRENGTH,
        power: float = POWER,
    ) -> None:
        self.model_sha256, self.dim, self.path = model_sha256, dim, path
        self.capacity, self.similarity, self.strength = capacity, similarity, strength
        self.power = power
        self._vectors = np.zeros((0, dim), np.float16)  # L2-normalized embeddings, as stored
        self._matrix = np.zeros((0, dim), np.float32)  # the same in float32, for reading
        self.ids = np.zeros(0, np.int64)  # stable per correction: for undo and for merging
        self.labels = np.zeros(0, np.uint8)
        self.used = np.zeros(0, np.float64)  # last time each correction took part (or was made)
        self.undo_stack: list[int] = []
        self.writable = path is not None
        self.why_not: str | None = None  # why the profile is in memory only, when it is
        self._base: set[int] = set()  # the ids the file held when this app last read or wrote it
        self._sig: tuple[int, ...] | None = None  # which version of the file that was
        self.unsaved = False  # a correction or undo that no save has written yet

    # ----------------------------------------------------------------- learning

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    @vectors.setter
    def vectors(self, value: np.ndarray) -> None:
        # Converted once here, not on every reading: with 500 corrections a per-read float16
        # -> float32 conversion alone costs ~1 ms.
        self._vectors = value.astype(np.float16)
        self._matrix = self._vectors.astype(np.float32)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def bytes_per_correction(self) -> int:
        return self.dim * 2 + 1 + 8

    @staticmethod
    def _unit(embedding: np.ndarray) -> np.ndarray | None:
        e = np.asarray(embedding, np.float32).ravel()
        norm = float(np.linalg.norm(e))
        return e / norm if np.isfinite(norm) and norm > 1e-6 else None

    def _select(self, keep: np.ndarray) -> None:
        """Keep these corrections (a mask or sorted indices) in every array at once."""
        self._vectors, self._matrix = self._vectors[keep], self._matrix[keep]
        self.labels, self.used, self.ids = self.labels[keep], self.used[keep], self.ids[keep]

    def add(self, embedding: np.ndarray, label: int) -> bool:
        """Store one correction; False if the embedding is unusable (blank drawing)."""
        unit = self._unit(embedding)
        if unit is None or unit.shape[0] != self.dim or not 0 <= label <= 9:
            return False
        stored = unit[None].astype(np.float16)
        self._vectors = np.concatenate([self._vectors, stored])
        self._matrix = np.concatenate([self._matrix, stored.astype(np.float32)])
        self.labels = np.append(self.labels, np.uint8(label))
        self.used = np.append(self.used, time.time())
        ident = new_id()
        self.ids = np.append(self.ids, np.int64(ident))
        self.undo_stack.append(ident)
        self._trim()
        self.unsaved = True
        return True

    def undo(self) -> bool:
        """Remove the last correction made this session (if it is still stored)."""
        while self.undo_stack:
            found = np.flatnonzero(self.ids == self.undo_stack.pop())
            if found.size:
                self._select(self.ids != self.ids[found[0]])
                self.unsaved = True
                return True
        return False

    def _trim(self) -> None:
        """Over capacity: drop the corrections that have gone longest without helping."""
        excess = len(self.labels) - self.capacity
        if excess > 0:
            self._select(np.sort(np.argsort(self.used, kind="stable")[excess:]))

    def adjust(self, probabilities: np.ndarray, embedding: np.ndarray | None) -> Adjusted:
        """The model's probabilities combined with the stored corrections close to this one."""
        p = np.asarray(probabilities, np.float64)
        unit = None if embedding is None or not len(self.labels) else self._unit(embedding)
        if unit is None or unit.shape[0] != self.dim:
            return Adjusted(probabilities, False, 0)
        similarity = self._matrix @ unit
        close = similarity >= self.similarity
        if not close.any():
            return Adjusted(probabilities, False, 0)
        # 0 at the threshold, 1 for the same drawing; the power keeps borderline neighbours weak.
        weight = ((similarity[close] - self.similarity) / (1.0 - self.similarity)) ** self.power
        votes = np.zeros(10)
        np.add.at(votes, self.labels[close].astype(np.int64), weight)
        logits = np.log(np.clip(p, FLOOR, 1.0)) + self.strength * votes
        q = np.exp(logits - logits.max())
        q /= q.sum()
        self.used[close] = time.time()
        return Adjusted(q.astype(np.float32), int(q.argmax()) != int(p.argmax()), int(close.sum()))
