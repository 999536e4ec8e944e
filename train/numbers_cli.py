"""``mnist-edge numbers compose`` and ``mnist-edge numbers fit``.

``compose`` writes numbers composed from one side of the writer split as a new stroke file
(``label`` a string of digits, ``stroke_digits`` per stroke) for ``draw --multi --replay`` and
the number benchmarks; ``fit`` fits the number reader's scores on the training writers' numbers
and writes them as data. See :mod:`mnist_edge.train.numbers`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from mnist_edge.core.config import (
    add_options,
    build_config,
    force_option,
    int_list,
    option,
    require,
    require_int,
    require_number,
)
from mnist_edge.ink.compose import LENGTHS

MAX_COUNT = 100_000  # numbers per file: seconds to compose, tens of MB on disk
SEEDS = (0, 2**32 - 1)
MAX_LENGTH = 9  # the app's longest number (docs/numbers.md)


def drawn_option() -> object:
    return option(
        (),
        "drawn-digit files with writers (e.g. unipen-train.json uji-train.json); the first is "
        "split by writer as the trainer splits it (required)",
        metavar="FILE",
        nargs="+",
    )


def check_drawn(drawn: tuple[str, ...]) -> None:
    require(bool(drawn), "--drawn FILE... is required: drawn-digit files with writers")
    require(all(drawn), "--drawn needs file names; an empty name is no file")


@dataclass(frozen=True)
class ComposeConfig:
    out: str = option("", "the stroke file to write", flag=False)  # positional
    drawn: tuple[str, ...] = drawn_option()
    side: str = option("held-out", "whose digits: held-out or train writers")
    count: int = option(1000, f"numbers to compose (1-{MAX_COUNT:,})")
    seed: int = option(21, "random seed")
    delay_bars: float = option(0.3, "share of bars written after the next digit (0-1)")
    lengths: tuple[int, ...] = option(
        LENGTHS, "digits per number, cycled (each 1-9)", comma=True, metavar="N,N,..."
    )
    height: float | None = option(
        None,
        "the digits' height as a share of the strip's (0.1-0.95), to measure writing sizes",
        metavar="SHARE",
        default_text="0.45-0.75 at random",
    )
    join: float = option(
        0.0,
        "share of digit pairs written without a pen lift (0-1); a number with a join has no "
        "stroke_digits (a stroke of two digits has no one digit)",
    )
    force: bool = force_option()

    def __post_init__(self) -> None:
        object.__setattr__(self, "drawn", tuple(self.drawn))
        require(bool(self.out), "name the stroke file to write: mnist-edge numbers compose OUT")
        check_drawn(self.drawn)
        require(
            self.side in ("held-out", "train"),
            f"--side must be held-out or train, not {self.side!r}",
        )
        require_int("--count", self.count, 1, MAX_COUNT)
        require_int("--seed", self.seed, *SEEDS)
        require_number("--delay-bars", self.delay_bars, 0.0, 1.0)
        require_number("--join", self.join, 0.0, 1.0)
        object.__setattr__(self, "lengths", int_list(self.lengths, "--lengths", LENGTHS))
        require(max(self.lengths) <= MAX_LENGTH, f"--lengths: at most {MAX_LENGTH} digits")
        if self.height is not None:
            require_number("--height", self.height, 0.1, 0.95)


def add_compose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", help="the stroke file to write (.json)")
    add_options(parser, ComposeConfig)


def run_compose(args: argparse.Namespace) -> int:
    from mnist_edge.core.outputs import check_output
    from mnist_edge.ink.compose import compose_numbers, strip_canvas
    from mnist_edge.ink.strokes import save_samples
    from mnist_edge.train.numbers import _as_recorded, require_writers, writer_sides

    config = build_config(ComposeConfig, vars(args), args.config, section="compose")
    inputs = [("--drawn", path) for path in config.drawn]
    check_output("OUT", config.out, inputs=inputs, force=config.force, strokes=True)
    files = list(config.drawn if config.side == "train" else config.drawn[:1])
    train, held = writer_sides(files)
    side = held if config.side == "held-out" else train
    usable = require_writers(side, config.side, files, max(config.lengths))
    numbers = compose_numbers(
        side,
        config.count,
        config.seed,
        [strip_canvas()],
        config.lengths,
        delay_bars=config.delay_bars,
        join=config.join,
        height=config.height,
    )
    save_samples(config.out, [_as_recorded(n) for n in numbers])
    print(f"{len(numbers)} numbers of {usable} {config.side} writers -> {config.out}")
    return 0


FIT_MODEL = "edge-int8.tflite"  # in the shipped models folder, wherever the command runs


@dataclass(frozen=True)
class FitConfig:
    drawn: tuple[str, ...] = drawn_option()
    count: int = option(2400, f"numbers to fit on (1-{MAX_COUNT:,})")
    seed: int = option(7, "random seed")
    model: str | None = option(
        None, "the model the candidates are read with", default_text=f"the shipped {FIT_MODEL}"
    )
    join: float = option(0.0, "share of digit pairs written without a pen lift (0-1)")
    lift: float = option(0.0, "share of digits with a stroke lifted midway (0-1)")
    out: str = option(
        "runs/numbers/number-scores.json",
        "the scores file to write (JSON); in a models folder its manifest names it",
    )
    force: bool = force_option()

    def __post_init__(self) -> None:
        object.__setattr__(self, "drawn", tuple(self.drawn))
        check_drawn(self.drawn)
        require_int("--count", self.count, 1, MAX_COUNT)
        require_int("--seed", self.seed, SEEDS[0], SEEDS[1] - 1)  # the held-out fit uses seed + 1
        require_number("--join", self.join, 0.0, 1.0)
        require_number("--lift", self.lift, 0.0, 1.0)
        require(bool(self.out), "--out needs a file name")
        require(self.model != "", "--model needs a file name; leave it out for the shipped one")


def add_fit(parser: argparse.ArgumentParser) -> None:
    add_options(parser, FitConfig)


def run_fit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mnist_edge.core.fsutil import check_regular
    from mnist_edge.core.outputs import check_output
    from mnist_edge.edge_app.runtime.shipped import models_dir
    from mnist_edge.train.numbers import fit

    config = build_config(FitConfig, vars(args), args.config, section="fit")
    model = Path(config.model) if config.model else models_dir() / FIT_MODEL
    check_regular(model, "--model", hint="pass a .tflite or .onnx model")
    inputs = [*(("--drawn", path) for path in config.drawn), ("--model", str(model))]
    out = check_output("--out", config.out, inputs=inputs, force=config.force, parents=True)
    fit(
        config.drawn,
        model,
        out,
        count=config.count,
        seed=config.seed,
        join=config.join,
        lift=config.lift,
    )
    return 0
