"""``mnist-edge predict``: read digits from image files, as the app reads a canvas."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from mnist_edge.core.config import add_options, build_config
from mnist_edge.core.errors import UserError
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


def _read_number(canvas: Any, recognizer: Any) -> tuple[Any, str | None]:
    """The picture's number (``--multi``), or why it cannot be read as one."""
    from mnist_edge.edge_app.numbers.image import TooManyMarks, read_number_image

    try:
        return read_number_image(canvas, recognizer), None
    except TooManyMarks as exc:
        return None, str(exc)


def run(args: argparse.Namespace) -> int:
    from mnist_edge.edge_app.api import Reader
    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.ink.preprocess import image_to_canvas

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
            number, why = _read_number(image_to_canvas(image), recognizer)
            if number is None:
                failures.append(f"{name}: {why}")
                if len(config.images) > 1:
                    print(f"{name}: skipped: {why}", file=sys.stderr)
                continue
            # A number is as sure as its least sure digit (the app's figure).
            least = min((d.confidence for d in number.digits), default=0.0)
            data = number.to_json(name) | ({"confidence": round(least, 4)} if number.digits else {})
            text = number.text() + (f", {least:.1%}" if number.digits else "")
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
