"""A confidence that means something: temperature scaling, measured and folded into the model.

A softmax classifier trained to near-zero loss says "100 % sure" of its mistakes too. One
temperature ``T`` divides the logits (``p_i ∝ p_i ** (1 / T)`` on probabilities), fitted by
minimizing the negative log-likelihood on writer-held-out drawn digits. It never changes which
digit wins. Folding ``1 / T`` into the last layer's weights keeps the exported graphs as they
are, so every format inherits the calibration.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from mnist_edge.core.contract import DEFAULT_THRESHOLD

BINS = 15


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.clip(probs.astype(np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0))))


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.5, 20] that minimizes NLL (golden-section search on log T)."""
    lo, hi = np.log(0.5), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2

    def loss(log_t: float) -> float:
        return nll(soften(probs, float(np.exp(log_t))), labels)

    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = loss(b)
    return float(np.exp((lo + hi) / 2))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def flagged(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """ECE, and which share of misreads and of correct readings fall under ``threshold``."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    unsure = confidence < threshold
    return {
        "ece": expected_calibration_error(probs, labels),
        "misreads": int((~correct).sum()),
        "misreads_flagged": float(unsure[~correct].mean()) if (~correct).any() else 0.0,
        "correct_flagged": float(unsure[correct].mean()) if correct.any() else 0.0,
    }


def fold_temperature(model: Any, temperature: float, layer: str) -> None:
    """Divide the softmax layer's kernel and bias by ``temperature`` (its logits by T)."""
    head = model.get_layer(layer)
    head.set_weights([w / temperature for w in head.get_weights()])


#: What the app's "not sure" threshold should achieve (the product's target).
MISREADS_FLAGGED = 0.5
CORRECT_FLAGGED = 0.03
GRID = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.5 ... 0.95
RULE = (
    f"the lowest threshold in {GRID[0]}-{GRID[-1]} under which at least "
    f"{MISREADS_FLAGGED:.0%} of misreads fall while at most {CORRECT_FLAGGED:.0%} of correct "
    "readings do (else the one flagging most misreads within that limit)"
)


def choose_threshold(
    probs: np.ndarray, labels: np.ndarray, default: float = DEFAULT_THRESHOLD
) -> float:
    """The app's "not sure" threshold for these (calibrated) probabilities; see RULE."""
    within = []
    for t in GRID:
        f = flagged(probs, labels, t)
        if f["correct_flagged"] <= CORRECT_FLAGGED:
            within.append((t, f["misreads_flagged"]))
    for t, misreads in within:
        if misreads >= MISREADS_FLAGGED:
            return t
    return max(within, key=lambda x: (x[1], -x[0]))[0] if within else default
