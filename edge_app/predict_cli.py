"""``mnist-edge predict``: read digits from image files, as the app reads a canvas."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from mnist_edge.core.config import add_options, build_config
from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.api_types import NumberResult
from mnist_edge.edge_app.config import PredictConfig
from mnist_edge.edge_app.reading import choose_threshold, choose_tta, load_default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="image files: one digit each (a number each with --multi)",
    )
    add_options(parser, PredictConfig)


def _read_image(name: str) -> tuple[Any, str | None]:
    """A grayscale uint8 picture of a digit, or why it cannot be one."""
    from mnist_edge.edge_app.image_file import ImageFileError, read_image

    try:
        return read_image(name), None
    except ImageFileError as exc:
        return None, str(exc)


def _number_lines(name: str, number: NumberResult) -> tuple[dict[str, Any], str]:
    """A picture's number as ``--json`` writes it and as the terminal shows it: ``4071 (digits
    4 0 7 1; not sure: 7), 62.0%``; its confidence is its least sure digit's (the app's)."""
    if not number.digits:
        return {"file": name, "number": None, "digits": [], "sure": False}, "no ink found"
    digits = [
        {
            "digit": int(d.text),
            "confidence": round(_finite(d.confidence), 4),
            "sure": d.sure,
            "box": [d.box[0], d.box[1], d.box[2] + 1, d.box[3] + 1],  # right, bottom exclusive
        }
        for d in number.digits
    ]
    confidence = _finite(number.confidence)
    data = {"file": name, "number": number.text, "digits": digits, "sure": number.sure}
    unsure = [d.text for d in number.digits if not d.sure]
    tail = f"; not sure: {' '.join(unsure)}" if unsure else ""
    spaced = " ".join(d.text for d in number.digits)
    text = f"{number.text} (digits {spaced}{tail}), {confidence:.1%}"
    return data | {"confidence": round(confidence, 4)}, text


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def run(args: argparse.Namespace) -> int:
    from mnist_edge.edge_app.api import Reader
    from mnist_edge.edge_app.numbers.image import TooManyMarks
    from mnist_edge.edge_app.recognizer import Recognizer

    config = build_config(PredictConfig, vars(args), args.config, section="predict")
    model = load_default(config.model, config.runtime, None)
    tta = choose_tta(config.tta, model)
    recognizer = Recognizer(model, choose_threshold(config.threshold, model, tta), tta)
    reader = Reader(recognizer)  # the public API reads each picture
    failures: list[str] = []
    for name in config.images:
        image, why = _read_image(name)
        if image is None:
            failures.append(f"{name}: {why}")
            if len(config.images) > 1:
                print(f"{name}: skipped: {why}", file=sys.stderr)
            continue
        if config.multi:
            try:
                number = reader.read_number_image(image)
            except TooManyMarks as exc:
                failures.append(f"{name}: {exc}")
                if len(config.images) > 1:
                    print(f"{name}: skipped: {exc}", file=sys.stderr)
                continue
            data, text = _number_lines(name, number)
            print(json.dumps(data, allow_nan=False) if config.json else f"{name}: {text}")
            continue
        read = reader.read_image(image)
        if read.digit is None:
            result = {"file": name, "digit": None, "confidence": 0.0, "sure": False}
            text = "no ink found"
        else:
            confidence = read.confidence if math.isfinite(read.confidence) else 0.0
            result = {
                "file": name,
                "digit": read.digit,
                "confidence": round(confidence, 4),
                "sure": read.sure,
                "top3": [[int(c.text), round(c.score, 4)] for c in read.candidates[:3]],
            }
            text = (
                f"{read.digit} ({confidence:.1%})"
                if read.sure
                else f"not sure: {read.digit} ({confidence:.1%})"
            )
        print(json.dumps(result, allow_nan=False) if config.json else f"{name}: {text}")
    if len(failures) == 1 and len(config.images) == 1:
        what = "a number" if config.multi else "one digit"
        raise UserError(f"{failures[0]}; pass a picture of {what} (PNG, JPEG, ...)")
    if failures:
        raise UserError(
            f"{len(failures)} of {len(config.images)} images could not be read (listed above)"
        )
    return 0
