"""Test-set metrics and the plots a person wants to look at after training."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.plotting import matplotlib_or_none, save_figure


def predict_probabilities(model: Any, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    return np.asarray(model.predict(images[..., None], batch_size=batch_size, verbose=0))


def classification_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    labels = labels.astype(np.int64)
    pred = probs.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    eps = 1e-7
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], eps, 1.0))))
    return {
        "test_accuracy": float((pred == labels).mean()),
        "test_loss": loss,
        "test_errors": int((pred != labels).sum()),
        "test_images": len(labels),
        "per_class_accuracy": {str(d): float(a) for d, a in enumerate(per_class)},
        "confusion_matrix": confusion.tolist(),
    }


def library_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


# ----------------------------------------------------------------------------- plots


def plot_curves(history: dict[str, list[float]], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for ax, key, title in ((axes[0], "accuracy", "Accuracy"), (axes[1], "loss", "Loss")):
        if key in history:
            ax.plot(epochs, history[key], label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, path)


def plot_confusion(confusion: np.ndarray, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    shown = np.log1p(confusion)
    ax.imshow(shown, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shown[i, j] > shown.max() * 0.6 else "black",
            )
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix ({int(confusion.trace())}/{int(confusion.sum())} correct)")
    save_figure(fig, path)


def _grid(images: np.ndarray, titles: list[str], colors: list[str], path: Path, title: str) -> None:
    import matplotlib.pyplot as plt

    cols = 8
    rows = max(1, int(np.ceil(len(images) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, img, text, color in zip(np.atleast_1d(axes).ravel(), images, titles, colors):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(text, color=color, fontsize=8)
    fig.suptitle(title)
    save_figure(fig, path)


def plot_predictions(
    images: np.ndarray, labels: np.ndarray, probs: np.ndarray, path: Path, count: int = 48
) -> None:
    pred = probs.argmax(axis=1)
    # Show the first images and make sure some mistakes are among them, if there are any.
    wrong = np.flatnonzero(pred != labels)[: count // 4]
    idx = np.unique(np.concatenate([np.arange(min(count - len(wrong), len(labels))), wrong]))
    titles = [f"{pred[i]} ({probs[i, pred[i]]:.0%})" for i in idx]
    colors = ["green" if pred[i] == labels[i] else "red" for i in idx]
    _grid(images[idx], titles, colors, path, "Predictions (green correct, red wrong)")


def plot_mistakes(
    images: np.ndarray, labels: np.ndarray, probs: np.ndarray, path: Path, count: int = 32
) -> None:
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    order = wrong[np.argsort(-probs[wrong, pred[wrong]])][:count]
    titles = [f"{pred[i]} {probs[i, pred[i]]:.0%} (is {labels[i]})" for i in order]
    _grid(
        images[order],
        titles,
        ["red"] * len(order),
        path,
        f"Most confident mistakes ({len(wrong)} in all)",
    )


def write_plots(
    out: Path,
    history: dict[str, list[float]] | None,
    images: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    confusion: np.ndarray,
) -> list[str]:
    if matplotlib_or_none() is None:
        return []
    written = []
    if history:
        plot_curves(history, out / "curves.png")
        written.append("curves.png")
    plot_confusion(confusion, out / "confusion.png")
    plot_predictions(images, labels, probs, out / "predictions.png")
    plot_mistakes(images, labels, probs, out / "mistakes.png")
    return [*written, "confusion.png", "predictions.png", "mistakes.png"]
