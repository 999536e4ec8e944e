"""The fitted fusion measured on writing it was not fitted on: each constructed writing style
(``mnist-edge styles write``) and numbers at each writing size (``mnist-edge numbers compose
--height``), the picture alone beside the default reading (picture and pen).

``mnist-edge pen fusion --style-set DIR --sizes FILE...`` adds these figures to the fusion's
record, which travels into the manifest's ``pen`` section; the model card and the docs read
them from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.contract import DEFAULT_THRESHOLD
from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.pen.features import load_pen_model
from mnist_edge.edge_app.pen.fusion import PenChannel
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.edge_app.results import NumberDigit
from mnist_edge.edge_app.runtime import load_model
from mnist_edge.ink.compose import strip_canvas
from mnist_edge.ink.strokes import Sample, as_the_app_takes, load_samples


@dataclass(frozen=True)
class Readers:
    """The app's recognizer for one image model: the picture alone, and fused with the pen as
    fitted (``weight``, ``temperature``, the digit and number thresholds)."""

    today: Recognizer
    fused: Recognizer

    @classmethod
    def of(cls, image_path: str, pen_path: str, tta: int, fusion: dict[str, Any]) -> Readers:
        """``fusion``: a fusion record's values (weight, temperature, threshold, and where
        fitted number_threshold and split_margin)."""
        model = load_model(image_path)
        threshold = model.threshold_for(tta) or DEFAULT_THRESHOLD
        pen = PenChannel.from_fusion(load_pen_model(pen_path), fusion)
        return cls(Recognizer(model, threshold, tta), Recognizer(model, threshold, tta, pen=pen))


def read_numbers(
    readers: Readers, samples: Sequence[Sample]
) -> list[tuple[list[NumberDigit], list[NumberDigit]]]:
    """Each number read the app's way on the default strip: (picture alone, fused)."""
    canvas = strip_canvas()
    size = (canvas.width, canvas.height, canvas.brush)
    out = []
    for s in samples:
        strokes = as_the_app_takes(s.strokes)
        today, fused = readers.today, readers.fused
        out.append((today.read_number(strokes, *size), fused.read_number(strokes, *size)))
    return out


def text(digits: Sequence[NumberDigit]) -> str:
    return "".join(str(d.reading.prediction.digit) for d in digits)


def writing_height(sample: Sample) -> float:
    """The median height of a number's digits as a share of the canvas height (replay points
    are canvas-normalised); the whole ink's where no stroke says its digit."""
    owners = sample.stroke_digits or [0] * len(sample.strokes)
    heights = []
    for k in sorted(set(owners)):
        ys = [y for s, o in zip(sample.strokes, owners) if o == k for _, y in s]
        if ys:
            heights.append(max(ys) - min(ys))
    return float(np.median(heights)) if heights else 0.0


def measure_sizes(readers: Readers, paths: Sequence[str]) -> list[dict[str, Any]]:
    """Per number file (one writing size each): its measured writing height, and read exactly
    / exactly with every digit sure, the picture alone and fused, in all and per length."""
    out = []
    for path in paths:
        samples = [s for s in load_samples(path) if isinstance(s.label, str)]
        if not samples:
            raise UserError(f"--sizes {path}: no numbers in it; compose some with --height")
        rows = []
        for s, (a, b) in zip(samples, read_numbers(readers, samples)):
            assert isinstance(s.label, str)
            rows.append(
                (
                    len(s.label),
                    text(a) == s.label,
                    text(a) == s.label and readers.today.number_sure(a),
                    text(b) == s.label,
                    text(b) == s.label and readers.fused.number_sure(b),
                )
            )
        table = np.array(rows, dtype=np.int64)
        lengths = sorted(set(table[:, 0].tolist()))
        out.append(
            {
                "file": Path(path).name,
                "height": float(np.median([writing_height(s) for s in samples])),
                **_shares(table),
                "by_length": {str(n): _shares(table[table[:, 0] == n]) for n in lengths},
            }
        )
    return out


def _shares(part: np.ndarray) -> dict[str, float | int]:
    """Rows of (length, today right, today right and sure, fused right, fused right and sure)
    as shares."""
    return {
        "numbers": int(len(part)),
        "today_read_exactly": float(part[:, 1].mean()),
        "today_exactly_and_sure": float(part[:, 2].mean()),
        "fused_read_exactly": float(part[:, 3].mean()),
        "fused_exactly_and_sure": float(part[:, 4].mean()),
    }


def measure_styles(readers: Readers, folder: str) -> dict[str, dict[str, Any]]:
    """Per style of a style set: its digits read right, the picture alone (and the same digits
    unstyled) and fused; None for a style that took no digit."""
    from mnist_edge.train.style_set import BASE, share_right, style_names

    names = style_names(Path(folder))
    out = {}
    for name in names:
        styled = load_samples(Path(folder) / f"{name}.json")
        base = load_samples(Path(folder) / BASE / f"{name}.json")
        out[name] = {
            "digits": len(styled),
            "writers": len({s.writer for s in styled}),
            "today": share_right(readers.today, styled, False),
            "today_unstyled": share_right(readers.today, base, False),
            "fused": share_right(readers.fused, styled, True),
        }
    return out
