"""Real drawn digits in training: the writer split, the writer-held-out reports, the
temperature and "not sure" thresholds fitted on held-out writers, and --drawn-eval."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.calibration_record import Calibration, Flagged, TtaThreshold
from mnist_edge.core.errors import UserError
from mnist_edge.train.architectures import OUTPUT_NAME
from mnist_edge.train.config import TrainConfig
from mnist_edge.train.dataset import drawn_per_batch


def load_drawn_parts(config: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """Drawn training data split by writer, and the --drawn-eval sets (all checked first)."""
    from mnist_edge.train.drawn import check_training_file, load_drawn

    for path in config.drawn_eval:  # a bad file fails before any training, like --drawn
        check_training_file(path)
    if not config.drawn:
        return None, {}
    drawn = load_drawn(config.drawn)
    held = drawn.held_out_writers(config.drawn_val_fraction, config.split_seed)
    in_val = np.isin(drawn.writers, sorted(held))
    parts = {
        "train": drawn.subset(~in_val),
        "val": drawn.subset(in_val).first_variant() if in_val.any() else None,
        "files": drawn.files,
    }
    if config.styles > 0 and len(parts["train"]):
        from mnist_edge.train.style_training import with_styles

        parts["train"] = with_styles(parts["train"], config.drawn, config.styles, config.seed)
    if parts["val"] is None:
        print(
            "mnist-edge: warning: the drawn files name too few writers to hold any out "
            "(two or more per site are needed): no drawn validation, no calibration",
            file=sys.stderr,
        )
    if not len(parts["train"]):
        raise UserError(
            "every drawn writer was held out for validation; give more writers "
            "(--drawn files with a 'writer' per sample)"
        )
    return drawn, parts


def drawn_metrics(model: Any, config: TrainConfig, drawn: dict[str, Any]) -> dict[str, Any]:
    """Writer-held-out validation reports; calibration fitted and folded (argmax unchanged)."""
    from mnist_edge.train.drawn import report

    train_set, val = drawn["train"], drawn["val"]
    if val is None:
        return {
            "drawn": {
                "files": list(drawn["files"]),
                "train_samples": len(set(train_set.sample.tolist())),
                "train_writers": len(set(train_set.writers.tolist())),
                "share": drawn_per_batch(config.batch_size, config.drawn_share) / config.batch_size,
                "validation": None,
            }
        }
    probs = model.predict(val.images[..., None], batch_size=1000, verbose=0)
    result: dict[str, Any] = {
        "drawn": {
            "files": list(drawn["files"]),
            "share": drawn_per_batch(config.batch_size, config.drawn_share) / config.batch_size,
            "train_samples": len(set(train_set.sample.tolist())),
            "train_writers": len(set(train_set.writers.tolist())),
            "renderings_per_sample": int(
                len(train_set) / max(1, len(set(train_set.sample.tolist())))
            ),
            "validation": {
                **report(val.labels, val.writers, probs.argmax(1)),
                "writers_held_out": sorted(set(val.writers.tolist())),
            },
        }
    }
    result["drawn_val_accuracy"] = result["drawn"]["validation"]["accuracy"]
    if config.calibrate and len(val) >= 100:
        result["calibration"] = calibrate(model, probs, val, config)
    return result


def calibrate(model: Any, probs: np.ndarray, val: Any, config: TrainConfig) -> dict[str, Any]:
    """Fit T and choose the app's "not sure" threshold on half of the held-out writers; measure
    both on the other half (writer-disjoint), so the reported figures are honest."""
    from mnist_edge.train import calibration

    writers = sorted(set(val.writers.tolist()))
    fit_on = set(writers[::2])
    fit = np.isin(val.writers, sorted(fit_on))
    labels = val.labels.astype(np.int64)
    temperature = calibration.fit_temperature(probs[fit], labels[fit])
    threshold = calibration.choose_threshold(
        calibration.soften(probs[fit], temperature), labels[fit], default=config.threshold
    )
    measure = ~fit if (~fit).sum() >= 50 else fit
    before = calibration.flagged(probs[measure], labels[measure], config.threshold)
    after = calibration.flagged(
        calibration.soften(probs[measure], temperature), labels[measure], threshold
    )
    calibration.fold_temperature(model, temperature, OUTPUT_NAME)
    folded = model.predict(val.images[..., None], batch_size=1000, verbose=0)
    if not np.array_equal(folded.argmax(1), probs.argmax(1)):
        raise RuntimeError("folding the temperature changed a prediction")  # cannot happen
    tta = calibrate_tta(model, val.images, labels, fit, measure, config.threshold)
    return Calibration(
        temperature=temperature,
        threshold=threshold,
        threshold_before=config.threshold,
        rule=calibration.RULE,
        fitted_on=f"drawn digits of {len(fit_on)} held-out writers ({int(fit.sum())} samples)",
        measured_on=f"drawn digits of {len(writers) - len(fit_on)} other held-out "
        f"writers ({int(measure.sum())} samples)",
        before=Flagged.from_json(before),
        after=Flagged.from_json(after),
        tta=tta,
    ).to_json()


def calibrate_tta(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    fit: np.ndarray,
    measure: np.ndarray,
    default: float,
) -> dict[int, TtaThreshold]:
    """A threshold for each ``--tta`` count, chosen by the same rule on the same writers.

    Averaging several variants spreads the probabilities, so a reading is less sure than the
    plain one and the plain threshold no longer means the same: measured on the shipped model
    at 5 variants, it flagged 45 % of misreads instead of 62 %. The model is already calibrated
    here (T folded), as the app will read it; the variants are the app's own (``edge_app.tta``).
    """
    from mnist_edge.edge_app.tta import MAX_VARIANTS, averaged, batch_variants
    from mnist_edge.train import calibration

    # Variants come in a fixed order (n of them are the first n of MAX_VARIANTS): read all
    # once, then average each count's prefix.
    varied = batch_variants(images, MAX_VARIANTS)[..., None]
    every = model.predict(varied, batch_size=1000, verbose=0).reshape(len(images), MAX_VARIANTS, -1)
    result = {}
    for n in range(2, MAX_VARIANTS + 1):
        probs = averaged(every[:, :n].reshape(len(images) * n, -1), n)
        threshold = calibration.choose_threshold(probs[fit], labels[fit], default=default)
        after = calibration.flagged(probs[measure], labels[measure], threshold)
        result[n] = TtaThreshold(threshold, Flagged.from_json(after))
    return result


def drawn_eval(model: Any, files: tuple[str, ...]) -> dict[str, Any]:
    """Accuracy on files never trained on, rendered as the app renders its default canvas."""
    from mnist_edge.ink.layout import DEFAULT_SIZE, compute
    from mnist_edge.ink.preprocess import strokes_to_digit
    from mnist_edge.ink.strokes import load_samples
    from mnist_edge.train.drawn import report

    canvas = compute(*DEFAULT_SIZE).canvas
    results = {}
    for path in files:
        samples = [s for s in load_samples(path) if s.label is not None]
        images = np.stack([strokes_to_digit(s.strokes, canvas.w, canvas.h) for s in samples])
        labels = np.array([s.label for s in samples])
        writers = np.array([s.writer or "?" for s in samples])
        probs = model.predict(images[..., None], batch_size=1000, verbose=0)
        full = report(labels, writers, probs.argmax(1))
        results[Path(path).name] = {k: full[k] for k in ("samples", "accuracy", "per_class")}
        if len(set(writers.tolist())) > 1:
            results[Path(path).name]["worst"] = full["worst"]
    return results
