"""On-device learning: the app learns its user's handwriting from corrections, in numpy.

When a reading is wrong, the person taps the right digit; the drawing's embedding (the
features the model's classifier reads, a second output of every exported model) and the label
are stored in a **profile**. Later readings look for stored corrections that are close in
embedding space (cosine similarity of at least ``threshold``) and add their votes to the
model's log-probabilities, weighted by how close they are, so a writer's own looped 4 pulls
the next looped 4 towards 4 while an ordinary 9 is left alone.

Profiles live under the user's data folder, one file per profile *and model* (named by the
model's SHA-256, which the file also records), so a profile is never applied to another model.
Writes are atomic; size is bounded (least recently useful corrections go first); a corrupt,
foreign or newer file is reported and never crashes the app or gets half-overwritten.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path

PROFILE_VERSION = 1
MAX_CORRECTIONS = 500  # per profile and model; ~0.6 MB at 576 float16 features
MAX_FILE_BYTES = 16 << 20
SIMILARITY = 0.70  # cosine similarity from which a stored correction counts
STRENGTH = 12.0  # log-probability added by an identical correction
POWER = 2.0  # how fast a correction's weight falls from identical to the threshold
FLOOR = 1 / 512  # probabilities below it count as it: an int8 model's 0 means "< 1/256"
# Chosen on unipen-train's writers with the MNIST-only model (benchmarks/learning.py): the largest
# gain with no writer losing a sample and at most 0.05 points lost on MNIST read as one writer.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ENV_DATA = "MNIST_EDGE_PROFILES"


class ProfileError(UserError):
    """A profile that cannot be used (the app says so and goes on without learning)."""


class NewerProfile(ProfileError):
    """A profile written by a newer version: used read-only, never overwritten."""


def profiles_dir() -> Path:
    """$MNIST_EDGE_PROFILES, else $XDG_DATA_HOME/mnist-edge/profiles (~/.local/share/...)."""
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "mnist-edge" / "profiles"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ProfileError(
            f"profile name {name!r} must be 1-64 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Adjusted:
    """A reading after learning: the probabilities shown, and whether learning changed it."""

    probabilities: np.ndarray
    changed: bool  # the winning digit differs from the model's own
    votes: int  # stored corrections that took part


class Learner:
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
        self.ids = np.zeros(0, np.int64)  # stable per correction, for undo
        self._next_id = 0
        self.labels = np.zeros(0, np.uint8)
        self.used = np.zeros(0, np.float64)  # last time each correction took part (or was made)
        self.undo_stack: list[int] = []
        self.writable = path is not None

    # ----------------------------------------------------------------- persistence

    @classmethod
    def open(
        cls, name: str, model_sha256: str, dim: int, directory: Path | None = None
    ) -> tuple[Learner, str | None]:
        """The profile ``name`` for this model, and a message if it could not be loaded."""
        path = (directory or profiles_dir()) / check_name(name) / f"{model_sha256[:16]}.npz"
        learner = cls(model_sha256, dim, path)
        if not path.exists():
            others = list(path.parent.glob("*.npz")) if path.parent.is_dir() else []
            note = (
                (
                    f"profile {name!r} has corrections for another model (kept); learning "
                    "starts fresh for this one"
                )
                if others
                else None
            )
            return learner, note
        try:
            learner._load()
        except NewerProfile as exc:
            learner.writable = False
            return learner, str(exc)
        except ProfileError as exc:
            text = str(exc)
            if learner.writable:  # keep the unreadable file for inspection, start fresh
                try:
                    os.replace(path, path.with_suffix(f".broken-{int(time.time())}"))
                except OSError:
                    learner.writable = False
            return learner, text
        return learner, None

    def _load(self) -> None:
        assert self.path is not None
        try:
            if self.path.stat().st_size > MAX_FILE_BYTES:
                raise ProfileError(
                    f"profile {self.path} is too large to be a profile; "
                    "starting fresh (the file is kept)"
                )
            with np.load(self.path, allow_pickle=False) as data:
                header = json.loads(bytes(data["header"]).decode("utf-8"))
                vectors, labels, used = data["vectors"], data["labels"], data["used"]
        except ProfileError:
            raise
        except Exception as exc:  # zip, npy, JSON and key errors alike: a broken file
            raise ProfileError(
                f"profile {self.path} is unreadable ({type(exc).__name__}); "
                "starting fresh (the file is kept)"
            ) from None
        if not isinstance(header, dict):
            raise ProfileError(f"profile {self.path} has no valid header; starting fresh")
        if int(header.get("version", 0)) > PROFILE_VERSION:
            raise NewerProfile(
                f"profile {self.path} was written by a newer mnist-edge; "
                "learning works this session but is not saved (upgrade)"
            )
        if header.get("model_sha256") != self.model_sha256:
            raise ProfileError(f"profile {self.path} belongs to another model; starting fresh")
        n = len(labels)
        if (
            vectors.shape != (n, self.dim)
            or used.shape != (n,)
            or n > MAX_CORRECTIONS * 4
            or (n and (labels.max() > 9 or not np.all(np.isfinite(vectors))))
        ):
            raise ProfileError(f"profile {self.path} is inconsistent; starting fresh")
        self.vectors = vectors.astype(np.float16)
        self.labels = labels.astype(np.uint8)
        self.used = used.astype(np.float64)
        self.ids = np.arange(1, n + 1, dtype=np.int64)
        self._next_id = n
        self._trim()

    def save(self) -> str | None:
        """Write the profile atomically; a message if it could not be written (app goes on)."""
        if self.path is None:
            return None
        if not self.writable:
            return "learning is not saved for this profile this session"
        header = {
            "version": PROFILE_VERSION,
            "model_sha256": self.model_sha256,
            "dim": self.dim,
            "count": len(self.labels),
            "saved": time.time(),
        }
        try:
            with atomic_path(self.path) as tmp, open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    header=np.frombuffer(json.dumps(header).encode(), np.uint8),
                    vectors=self.vectors,
                    labels=self.labels,
                    used=self.used,
                )
        except OSError as exc:
            return (
                f"cannot save the profile ({exc.strerror or exc}); this correction lasts "
                "until the app closes"
            )
        return None

    def reset(self) -> str | None:
        self._select(np.zeros(len(self.labels), bool))
        self.undo_stack.clear()
        return self.save()

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
        self._next_id += 1
        self.ids = np.append(self.ids, self._next_id)
        self.undo_stack.append(self._next_id)
        self._trim()
        return True

    def undo(self) -> bool:
        """Remove the last correction made this session (if it is still stored)."""
        while self.undo_stack:
            found = np.flatnonzero(self.ids == self.undo_stack.pop())
            if found.size:
                self._select(self.ids != self.ids[found[0]])
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
