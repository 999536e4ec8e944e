"""The number reader's fitted "is this one digit" scores, as data beside the models.

Two networks with one hidden layer (tanh) on the candidate features
(:data:`FEATURES`, in this order, standardized by ``mean`` and ``scale``):
one for candidates that end at pen lifts, one (``cut``) for candidates that end at a cut, less
``cut_prior``; and ``per_digit``, the score each digit adds to a split. ``mnist-edge numbers
fit`` writes them as a JSON file (schema :data:`SCHEMA`) with a record of the fit: the data,
writers, date and the model they were fitted with. The shipped file is named in
``models/manifest.json`` (``fitted``) with its sha256; the reader says when it reads with a
model other than the one the scores were fitted for.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import read_capped

SCHEMA = "mnist-edge-number-scores/1"
KIND = "number-scores"  # its kind in the manifest's ``fitted`` list
FILE = "number-scores.json"
MAX_BYTES = 4 << 20
HINT = "fit them again with 'mnist-edge numbers fit'"

#: What the networks read of a candidate, in this order (the file records it; a reader of
#: another order refuses the file).
FEATURES = (
    "log p1",
    "log p1 - log p2",
    "entropy",
    "log height / writing height",
    "log width / writing height",
    "units",
    "cut ends",
    "overlap with previous unit",
    "overlap with next unit",
    "overlap with the unit before the previous",
    "overlap with the unit after the next",
    "gap to previous unit",
    "gap to next unit",
    "largest gap inside",
    "vertical offset",
    *(f"log p({d})" for d in range(10)),
)


CUT_ENDS = FEATURES.index("cut ends")


class ScoresError(UserError):
    """A scores file that cannot be read or trusted."""


@dataclass(frozen=True)
class ScoreNet:
    """log P(one digit) of candidates' features: one hidden layer (tanh) on standardized
    features, a logistic output."""

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray  # [features, hidden]
    b1: np.ndarray
    w2: np.ndarray
    b2: float

    @classmethod
    def of(cls, mean: Any, scale: Any, w1: Any, b1: Any, w2: Any, b2: float) -> ScoreNet:
        mean = np.asarray(mean, np.float64)
        w1 = np.asarray(w1, np.float64).reshape(len(mean), -1)
        return cls(mean, np.asarray(scale), w1, np.asarray(b1), np.asarray(w2), float(b2))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        hidden = np.tanh(((x - self.mean) / self.scale) @ self.w1 + self.b1)
        return -np.logaddexp(0.0, -(hidden @ self.w2 + self.b2))  # log sigmoid, stable

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean.tolist(),
            "scale": np.asarray(self.scale).tolist(),
            "w1": self.w1.tolist(),
            "b1": np.asarray(self.b1).tolist(),
            "w2": np.asarray(self.w2).tolist(),
            "b2": self.b2,
        }

    @classmethod
    def from_json(cls, raw: Any, features: int, where: str) -> ScoreNet:
        try:
            net = cls.of(raw["mean"], raw["scale"], raw["w1"], raw["b1"], raw["w2"], raw["b2"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ScoresError(f"{where}: not a score network ({exc}); {HINT}") from None
        hidden = net.w1.shape[1]
        shapes = (net.mean.shape, net.scale.shape, net.b1.shape, net.w2.shape)
        if shapes != ((features,), (features,), (hidden,), (hidden,)):
            raise ScoresError(f"{where}: shapes do not fit {features} features; {HINT}")
        arrays = (net.mean, net.scale, net.w1, net.b1, net.w2, np.float64(net.b2))
        if not all(np.all(np.isfinite(a)) for a in arrays) or np.any(net.scale == 0):
            raise ScoresError(f"{where}: holds a non-finite number or a zero scale; {HINT}")
        return net


@dataclass(frozen=True)
class FitRecord:
    """Where fitted scores come from: what a reader needs to trust them."""

    date: str
    data: tuple[str, ...]  # the drawn-digit files the numbers were composed from
    writers: int  # training writers (the trainer's held-out writers excluded)
    numbers: int
    candidates: int
    cut_candidates: int
    join: float  # share of digit pairs joined in the cut network's numbers
    model: str  # the model file the candidates were read with
    model_sha256: str
    source_sha256: str  # the trained model every exported file of it names as its source
    training_exact: float  # training numbers read exactly at the chosen per-digit score

    @classmethod
    def from_json(cls, raw: Any, where: str) -> FitRecord:
        try:
            return cls(
                str(raw["date"]),
                tuple(str(x) for x in raw["data"]),
                int(raw["writers"]),
                int(raw["numbers"]),
                int(raw["candidates"]),
                int(raw["cut_candidates"]),
                float(raw["join"]),
                str(raw["model"]),
                str(raw["model_sha256"]),
                str(raw["source_sha256"]),
                float(raw["training_exact"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ScoresError(f"{where}: its fit record is incomplete ({exc}); {HINT}") from None


@dataclass(frozen=True)
class NumberScores:
    net: ScoreNet  # candidates that end at pen lifts
    cut_net: ScoreNet  # candidates that end at a cut
    cut_prior: float
    per_digit: float
    fit: FitRecord

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "features": list(FEATURES),
            "net": self.net.to_json(),
            "cut_net": self.cut_net.to_json(),
            "cut_prior": self.cut_prior,
            "per_digit": self.per_digit,
            "fit": {**asdict(self.fit), "data": list(self.fit.data)},
        }

    def mismatch(self, model: Any) -> str | None:
        """A line saying that ``model`` is not the one these scores were fitted for (its
        exported files share their source model's sha256), or None when it is."""
        source = ((getattr(model, "description", None) or {}).get("source") or {}).get("sha256")
        if source == self.fit.source_sha256:
            return None
        return (
            f"the number reader's scores were fitted with {self.fit.model} (trained model "
            f"{self.fit.source_sha256[:12]}...), not with this model "
            f"({str(source)[:12] + '...' if source else 'no source recorded'}): numbers may "
            f"read worse; {HINT}"
        )


def parse_scores(raw: Any, where: str) -> NumberScores:
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise ScoresError(f"{where} is not a {SCHEMA} file; {HINT}")
    if raw.get("features") != list(FEATURES):
        raise ScoresError(f"{where} scores other features than this reader computes; {HINT}")
    try:
        cut_prior, per_digit = float(raw["cut_prior"]), float(raw["per_digit"])
    except (KeyError, TypeError, ValueError):
        raise ScoresError(f"{where}: needs numbers 'cut_prior' and 'per_digit'; {HINT}") from None
    if not (np.isfinite(cut_prior) and np.isfinite(per_digit)):
        raise ScoresError(f"{where}: 'cut_prior' and 'per_digit' must be finite; {HINT}")
    n = len(FEATURES)
    return NumberScores(
        ScoreNet.from_json(raw.get("net"), n, f"{where}, net"),
        ScoreNet.from_json(raw.get("cut_net"), n, f"{where}, cut_net"),
        cut_prior,
        per_digit,
        FitRecord.from_json(raw.get("fit"), where),
    )


def load_scores(path: str | Path) -> NumberScores:
    """Read and check a scores file (user input: capped, validated, one-line errors)."""
    raw = read_capped(Path(path), MAX_BYTES, "number scores file", ScoresError)
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ScoresError(f"{path} is not JSON ({str(exc)[:80]}); {HINT}") from None
    return parse_scores(value, str(path))


@functools.cache
def shipped_scores() -> NumberScores:
    """The scores the manifest of the shipped models names, checked against its sha256."""
    from mnist_edge.edge_app.runtime.shipped import fitted_entry, models_dir

    directory = models_dir()
    entry = fitted_entry(directory, KIND)
    if entry is None:
        raise ScoresError(f"{directory}/manifest.json names no {KIND} file; {HINT}")
    return load_scores(entry.verify())
