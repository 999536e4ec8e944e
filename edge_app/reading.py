"""How the edge app reads, for ``draw`` and ``predict`` alike: which model, how many variants,
which "not sure" threshold."""

from __future__ import annotations

from typing import Any

from mnist_edge.core.contract import DEFAULT_THRESHOLD
from mnist_edge.edge_app.tta import DEFAULT_TTA


def load_default(model_arg: str | None, runtime: str, threads: int | None) -> Any:
    """The model to run: ``--model``, else the shipped default for the runtime."""
    from mnist_edge.edge_app.runtime import load_model
    from mnist_edge.edge_app.runtime.shipped import default_model

    if model_arg is not None:
        if not model_arg.strip():  # '' is no file, not "the default"
            from mnist_edge.edge_app.runtime.model import MODEL_HINT, ModelError

            raise ModelError(f"the model path is empty; {MODEL_HINT}")
        return load_model(model_arg, runtime, threads)
    path, name = default_model(runtime)
    return load_model(path, name, threads)


def choose_tta(flag: int | None, model: Any) -> int:
    """--tta, else the app's default count where the model carries a threshold calibrated for
    it; a model calibrated for reading once (or not at all) reads once, so that its "not sure"
    keeps the meaning it was calibrated for."""
    if flag is not None:
        return flag
    return DEFAULT_TTA if model.calibrated_tta_threshold(DEFAULT_TTA) is not None else 1


def choose_threshold(flag: float | None, model: Any, tta: int) -> float:
    """--threshold, else the threshold the model was calibrated for (at this --tta), else the
    default."""
    if flag is not None:
        return flag
    calibrated = model.threshold_for(tta)
    return calibrated if calibrated is not None else DEFAULT_THRESHOLD
