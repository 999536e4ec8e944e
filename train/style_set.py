"""A constructed style test set, and how the models read it, style by style.

``mnist-edge styles write OUT_DIR --drawn unipen-train.json uji-train.json``
applies every writing style of :mod:`mnist_edge.ink.styles` to digits of the **held-out
writers only** (per file, the writers the trainer holds out with its defaults: the ones no
model trained on) and writes one replay file per style, ``OUT_DIR/STYLE.json``, with the
unstyled base digits beside it in ``OUT_DIR/base/STYLE.json``. Each file works wherever a
replay file does (``bench --drawn-eval``, ``draw --replay``).

``mnist-edge styles report OUT_DIR --image edge-int8.tflite [--pen
pen-int8.tflite]`` reads every style file as the app reads (the image model on the app's
default canvas, ``--tta`` variants; with ``--pen``, the pen model alone and the fused reading
with the fusion its metadata carries) and prints the share read right per style, next to the
same digits unstyled. Several ``--image``/``--pen`` pairs are compared side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.config import (
    add_options,
    build_config,
    force_option,
    option,
    require,
    require_int,
)
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import check_out_dir, output_dir
from mnist_edge.core.outputs import check_output, write_output
from mnist_edge.edge_app.tta import MAX_VARIANTS
from mnist_edge.ink.strokes import Sample, load_samples, save_samples
from mnist_edge.ink.styles import STYLES, stylise
from mnist_edge.train.config import TrainConfig
from mnist_edge.train.drawn import check_training_file, split_writers

BASE = "base"


@dataclass(frozen=True)
class WriteConfig:
    out: str = option("runs/styles/heldout", "folder for the style files")
    drawn: tuple[str, ...] = option(
        (), "labelled drawn files with writers; their held-out writers are used", nargs="+"
    )
    per_writer: int = option(8, "styled digits per style and held-out writer, at most")
    seed: int = option(0, "random seed of the styles and of the base digits chosen")
    force: bool = force_option()

    def __post_init__(self) -> None:
        object.__setattr__(self, "drawn", tuple(self.drawn or ()))
        require(bool(self.drawn), "--drawn FILE ... is required: labelled files with writers")
        require_int("--per-writer", self.per_writer, 1, 1000)
        require_int("--seed", self.seed, 0, 2**32 - 1)


@dataclass(frozen=True)
class ReportConfig:
    folder: str = option("runs/styles/heldout", "a folder written by 'style_set write'")
    image: tuple[str, ...] = option((), "image model files (.tflite/.onnx) to read with", nargs="+")
    pen: tuple[str, ...] = option(
        (), "pen model files, one per --image (fused with it); none: image alone", nargs="+"
    )
    tta: int = option(5, "variants averaged per image reading, as the app's --tta")
    out: str | None = option(None, "also write the figures as JSON here", default_text="none")
    force: bool = force_option()

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", tuple(self.image or ()))
        object.__setattr__(self, "pen", tuple(self.pen or ()))
        require(bool(self.image), "--image FILE ... is required: the image models to read with")
        require(
            not self.pen or len(self.pen) == len(self.image),
            "give one --pen file per --image file, or none",
        )
        require_int("--tta", self.tta, 1, MAX_VARIANTS)  # as the app takes it


# ----------------------------------------------------------------------------- writing


def held_out_digits(paths: Sequence[str]) -> dict[str, list[Sample]]:
    """Held-out writers' single digits by writer: per file, the trainer's default split."""
    config = TrainConfig()
    found: dict[str, list[Sample]] = {}
    for path in paths:
        samples = check_training_file(path)
        name = Path(path).name
        writers = np.array([s.writer or f"{name}:unnamed" for s in samples])
        held = split_writers(writers, config.drawn_val_fraction, config.split_seed)
        for sample, writer in zip(samples, writers.tolist(), strict=True):
            if writer in held and isinstance(sample.label, int):
                found.setdefault(writer, []).append(sample)
    return found


def style_set(
    by_writer: dict[str, list[Sample]], per_writer: int, seed: int
) -> dict[str, tuple[list[Sample], list[Sample]]]:
    """Per style: (styled digits, their unstyled bases), ``per_writer`` per writer at most."""
    result = {}
    for k, (name, style) in enumerate(STYLES.items()):
        rng = np.random.default_rng([seed, k])
        styled, bases = [], []
        for writer in sorted(by_writer):
            pool = [s for s in by_writer[writer] if s.label in style.digits]
            made = 0
            for i in rng.permutation(len(pool)):
                if made == per_writer:
                    break
                out = stylise(pool[i], name, rng)
                if out is not None:
                    styled.append(out)
                    bases.append(pool[i])
                    made += 1
        result[name] = (styled, bases)
    return result


def write(config: WriteConfig) -> dict[str, int]:
    """The style files, and per style how many digits it holds (0: none took the style);
    a set where no style took a digit is refused before anything is written."""
    check_out_dir(Path(config.out), force=config.force, what="style set")
    by_writer = held_out_digits(config.drawn)
    if not by_writer:
        raise UserError("the --drawn files hold no held-out writer; give files with writers")
    made = style_set(by_writer, config.per_writer, config.seed)
    if not any(styled for styled, _ in made.values()):
        digits = sum(len(v) for v in by_writer.values())
        raise UserError(
            f"no style applies to the {digits} digits of the --drawn files' {len(by_writer)} "
            "held-out writers; give files with more writers and digits"
        )
    counts = {}
    with output_dir(config.out, force=config.force, what="style set") as out:
        (out / BASE).mkdir(exist_ok=True)
        for name, (styled, bases) in made.items():
            save_samples(out / f"{name}.json", styled)
            save_samples(out / BASE / f"{name}.json", bases)
            counts[name] = len(styled)
    return counts


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class StyleFigures:
    """One style read by one model pair: the share read right."""

    samples: int
    writers: int
    image: float | None  # None: a style with no digits (shown as "-")
    base_image: float | None  # the same digits unstyled
    pen: float | None
    fused: float | None


def _reader(image: str, pen: str | None, tta: int) -> Any:
    from mnist_edge.core.contract import DEFAULT_THRESHOLD
    from mnist_edge.edge_app.pen.features import load_pen_model
    from mnist_edge.edge_app.pen.fusion import PenChannel
    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.edge_app.runtime import load_model

    model = load_model(image)
    threshold = model.threshold_for(tta) or DEFAULT_THRESHOLD
    channel = None if pen is None else PenChannel.from_model(load_pen_model(pen))
    return Recognizer(model, threshold, tta), Recognizer(model, threshold, tta, pen=channel)


def read_right(recognizer: Any, samples: list[Sample], with_strokes: bool) -> np.ndarray:
    """Digits read right, each drawn on the app's default canvas as the app would draw it."""
    from mnist_edge.ink.layout import DEFAULT_SIZE, compute
    from mnist_edge.ink.strokes import as_the_app_takes, default_brush, render

    canvas = compute(*DEFAULT_SIZE).canvas
    brush = default_brush(canvas.w, canvas.h)
    right = []
    for sample in samples:
        strokes = as_the_app_takes(sample.strokes)
        reading = recognizer.read(
            render(strokes, canvas.w, canvas.h, brush), strokes if with_strokes else None
        )
        right.append(reading is not None and reading.prediction.digit == sample.label)
    return np.array(right, bool)


def share_right(recognizer: Any, samples: list[Sample], with_strokes: bool) -> float | None:
    """The share of ``samples`` read right; None for no samples (a style that took no digit)."""
    return float(read_right(recognizer, samples, with_strokes).mean()) if samples else None


def _pen_alone(pen: str, samples: list[Sample]) -> float | None:
    from mnist_edge.edge_app.pen.features import FEATURES, POINTS, features, load_pen_model
    from mnist_edge.ink.strokes import as_the_app_takes

    if not samples:
        return None
    model = load_pen_model(pen)
    found = [features(as_the_app_takes(s.strokes)) for s in samples]
    blank = np.zeros((POINTS, len(FEATURES)), np.float32)
    read = model.run(np.stack([blank if f is None else f for f in found])).probabilities
    return float((read.argmax(1) == np.array([s.label for s in samples])).mean())


def style_names(folder: Path) -> list[str]:
    """The styles a style set folder holds, in :data:`STYLES` order; none is a one-line error."""
    names = [n for n in STYLES if (folder / f"{n}.json").is_file()]
    if not names:
        raise UserError(f"{folder} holds no style file; write one with 'mnist-edge styles write'")
    return names


def report(config: ReportConfig) -> dict[str, dict[str, StyleFigures]]:
    folder = Path(config.folder)
    names = style_names(folder)
    pens: list[str | None] = list(config.pen) or [None] * len(config.image)
    result: dict[str, dict[str, StyleFigures]] = {}
    for image, pen in zip(config.image, pens, strict=True):
        plain, fused = _reader(image, pen, config.tta)
        key = image + (f" + {pen}" if pen else "")  # as given: two folders' files may share names
        result[key] = {}
        for name in names:
            styled = load_samples(folder / f"{name}.json")
            bases = load_samples(folder / BASE / f"{name}.json")
            result[key][name] = StyleFigures(
                len(styled),
                len({s.writer for s in styled}),
                share_right(plain, styled, False),
                share_right(plain, bases, False),
                None if pen is None else _pen_alone(pen, styled),
                None if pen is None else share_right(fused, styled, True),
            )
    return result


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def table(result: dict[str, dict[str, StyleFigures]]) -> str:
    """Markdown: a row per style, per model pair: image (unstyled base), pen, fused."""
    keys = list(result)
    head = ["style", "digits"] + [f"{k}: image (base) / pen / fused" for k in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in result[keys[0]]:
        cells = [name, str(result[keys[0]][name].samples)]
        for key in keys:
            f = result[key][name]
            cells.append(
                f"{_percent(f.image)} ({_percent(f.base_image)}) / {_percent(f.pen)} / "
                f"{_percent(f.fused)}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_write(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", nargs="?", default=None, help="output folder")
    add_options(parser, WriteConfig, names=["drawn", "per_writer", "seed", "force"])


def run_write(args: argparse.Namespace) -> int:
    flags = vars(args)
    counts = write(build_config(WriteConfig, flags, flags.get("config"), "styles-write"))
    for name, count in counts.items():
        print(f"{name}: {count} digits")
    empty = [name for name, count in counts.items() if not count]
    if empty:
        print(
            f"mnist-edge: note: no held-out digit took {', '.join(empty)}: "
            f"{'its file is' if len(empty) == 1 else 'their files are'} empty (read as '-'); "
            "give --drawn files with more writers for them",
            file=sys.stderr,
        )
    return 0


def add_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", nargs="?", default=None, help="a folder of 'styles write'")
    add_options(parser, ReportConfig, names=["image", "pen", "tta", "out", "force"])


def run_report(args: argparse.Namespace) -> int:
    flags = vars(args)
    config = build_config(ReportConfig, flags, flags.get("config"), "styles-report")
    if config.out:  # before the reading: never over a model or a style file it reads
        folder = Path(config.folder)
        inputs = [("--image", p) for p in config.image] + [("--pen", p) for p in config.pen]
        inputs += [("folder", p) for p in [*folder.glob("*.json"), *folder.glob("*/*.json")]]
        check_output("--out", config.out, inputs=inputs, force=config.force, parents=True)
    result = report(config)
    print(table(result))
    if config.out:
        figures = {k: {n: f.__dict__ for n, f in v.items()} for k, v in result.items()}
        write_output(config.out, json.dumps(figures, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m mnist_edge.train.style_set`` (as ``mnist-edge styles``)."""
    parser = argparse.ArgumentParser(
        prog="python -m mnist_edge.train.style_set",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    modes = parser.add_subparsers(dest="mode", required=True)
    add_write(modes.add_parser("write", help="write the style files of held-out writers"))
    add_report(modes.add_parser("report", help="read the style files, style by style"))
    args = parser.parse_args(argv)
    try:
        return run_write(args) if args.mode == "write" else run_report(args)
    except UserError as exc:
        print(f"mnist-edge: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
