"""``mnist-edge pen train`` and ``mnist-edge pen fusion``: the pen channel's workstation jobs.

``train`` fits the pen model on the drawn files' training writers (:mod:`mnist_edge.train.pen`),
or averages several into one (``--ensemble``); ``fusion`` calibrates and measures fusing its
reading with the picture's (:mod:`mnist_edge.train.pen_fusion`). See docs/pen.md.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mnist_edge.core.config import (
    add_options,
    build_config,
    force_option,
    option,
    require,
    require_int,
    require_number,
)
from mnist_edge.edge_app.tta import DEFAULT_TTA, MAX_VARIANTS

IMAGE_MODEL = "edge-int8.tflite"  # in the shipped models folder, wherever the command runs


def _names(flag: str, files: tuple[str, ...]) -> tuple[str, ...]:
    files = tuple(files)
    require(all(files), f"{flag} needs file names; an empty name is no file")
    return files


@dataclass(frozen=True)
class PenTrainCommand:
    drawn: tuple[str, ...] = option(
        (), "replay files with writers (required unless --ensemble)", metavar="FILE", nargs="+"
    )
    out: str = option("runs/pen", "output folder (pen.keras, metrics.json)")
    epochs: int = option(30, "epochs (1-500)")
    seed: int = option(0, "random seed")
    styles: float = option(
        0.0,
        "share of training digits redrawn each epoch in a synthesised writing style "
        "(ink/styles.py: lead-in 1, crossed 7, looped 2, open 4, ...), 0-0.8",
    )
    ensemble: tuple[str, ...] = option(
        (), "average these pen models (.keras) into OUT/pen.keras instead", metavar="KERAS",
        nargs="+",
    )  # fmt: skip
    force: bool = option(False, "write into an existing output folder")

    def __post_init__(self) -> None:
        object.__setattr__(self, "drawn", _names("--drawn", self.drawn))
        object.__setattr__(self, "ensemble", _names("--ensemble", self.ensemble))
        require(
            bool(self.drawn) != bool(self.ensemble),
            "pass --drawn FILE... (replay files with writers) or --ensemble KERAS..., one of them",
        )
        require(bool(self.out), "--out needs a folder name")
        require_int("--epochs", self.epochs, 1, 500)
        require_int("--seed", self.seed, 0, 2**32 - 1)
        require_number("--styles", self.styles, 0.0, 0.8)


def add_train(parser: argparse.ArgumentParser) -> None:
    add_options(parser, PenTrainCommand)


def run_train(args: argparse.Namespace) -> int:
    from mnist_edge.core.fsutil import check_out_dir, check_regular
    from mnist_edge.core.outputs import check_output
    from mnist_edge.train.pen import held_out_pen_data

    config = build_config(PenTrainCommand, vars(args), args.config, section="pen-train")
    out = Path(config.out)
    check_out_dir(out, force=config.force, what="pen model")
    for path in config.ensemble:
        check_regular(path, "--ensemble", hint="pass pen.keras files of 'mnist-edge pen train'")
    if config.ensemble:  # never over a member, nor over the training record it reads
        inputs = [("--ensemble", p) for p in config.ensemble]
        inputs.append(("--ensemble", str(Path(config.ensemble[0]).parent / "metrics.json")))
        for name in ("pen.keras", "metrics.json"):
            check_output("--out", out / name, inputs=inputs, force=True, parents=True)
    # a bad file, or one without held-out writers, is one line before TensorFlow loads
    data = held_out_pen_data(config.drawn) if config.drawn else None
    from mnist_edge.core.quiet import import_keras

    import_keras()  # quietly, before anything else touches it (--verbose shows its logs)
    from mnist_edge.train.pen import PenTrainConfig, ensemble, train

    if config.ensemble:
        ensemble(config.ensemble, str(out / "pen.keras"))
        print(f"wrote {out / 'pen.keras'}")
        return 0
    metrics = train(
        PenTrainConfig(
            config.drawn, config.out, config.epochs, seed=config.seed, styles=config.styles
        ),
        data,
    )
    print(f"pen model: held-out writers {metrics['val_accuracy']:.2%} (last epoch)")
    return 0


@dataclass(frozen=True)
class PenFusionConfig:
    drawn: tuple[str, ...] = option((), "replay files with writers (required)", nargs="+")
    image: str | None = option(
        None, "the image model", metavar="FILE", default_text=f"the shipped {IMAGE_MODEL}"
    )
    pen: str = option("runs/pen/export/pen-int8.tflite", "the exported pen model", metavar="FILE")
    tta: int = option(DEFAULT_TTA, f"variants per reading (1-{MAX_VARIANTS})")
    numbers: tuple[str, ...] = option(
        (), "number files composed from the held-out writers: fits the number threshold",
        metavar="FILE", nargs="+",
    )  # fmt: skip
    style_set: str | None = option(
        None,
        "a style set of held-out writers ('mnist-edge styles write'): each style measured, "
        "picture alone and fused as fitted",
        metavar="DIR",
    )
    sizes: tuple[str, ...] = option(
        (), "number files composed at one writing height each ('numbers compose --height'): "
        "measured per size and length, picture alone and fused as fitted",
        metavar="FILE", nargs="+",
    )  # fmt: skip
    out: str = option("runs/pen/fusion.json", "the report to write (JSON)", metavar="FILE")
    force: bool = force_option()

    def __post_init__(self) -> None:
        object.__setattr__(self, "drawn", _names("--drawn", self.drawn))
        object.__setattr__(self, "numbers", _names("--numbers", self.numbers))
        object.__setattr__(self, "sizes", _names("--sizes", self.sizes))
        require(self.style_set != "", "--style-set needs a folder name")
        require(bool(self.drawn), "--drawn FILE... is required: replay files with writers")
        require(self.image != "" and bool(self.pen), "--image and --pen need file names")
        require(bool(self.out), "--out needs a file name")
        require_int("--tta", self.tta, 1, MAX_VARIANTS)


def add_fusion(parser: argparse.ArgumentParser) -> None:
    add_options(parser, PenFusionConfig)


def run_fusion(args: argparse.Namespace) -> int:
    from mnist_edge.core.fsutil import check_regular, write_json_atomic
    from mnist_edge.core.outputs import check_output
    from mnist_edge.edge_app.runtime.shipped import models_dir
    from mnist_edge.train.pen_fusion import Fit, measure, measure_numbers

    config = build_config(PenFusionConfig, vars(args), args.config, section="pen-fusion")
    image = config.image or str(models_dir() / IMAGE_MODEL)
    check_regular(image, "--image", hint="pass a .tflite or .onnx digit model")
    check_regular(config.pen, "--pen", hint="pass a pen model of 'mnist-edge pen export'")
    inputs = [("--image", image), ("--pen", config.pen)]
    inputs += [("--drawn", p) for p in config.drawn] + [("--numbers", p) for p in config.numbers]
    inputs += [("--sizes", p) for p in config.sizes]
    check_output("--out", config.out, inputs=inputs, force=config.force, parents=True)
    for flag, files in (("--numbers", config.numbers), ("--sizes", config.sizes)):
        for path in files:  # before the long measurement, not after it
            check_regular(path, flag, hint="pass a number file of 'mnist-edge numbers compose'")
    if config.style_set is not None:
        from mnist_edge.train.style_set import style_names

        style_names(Path(config.style_set))
    report = measure(image, config.pen, list(config.drawn), config.tta)
    fusion = report["fusion"]
    if config.numbers:
        final = Fit(fusion["weight"], fusion["temperature"], fusion["threshold"])
        numbers = measure_numbers(image, config.pen, list(config.numbers), config.tta, final)
        report["numbers"] = numbers
        fusion["number_threshold"] = numbers["number_threshold"]
        fusion["split_margin"] = numbers["split_margin"]
    if config.style_set is not None or config.sizes:
        from mnist_edge.train.pen_writing import Readers, measure_sizes, measure_styles

        readers = Readers.of(image, config.pen, config.tta, fusion)
        if config.style_set is not None:
            report["styles"] = measure_styles(readers, config.style_set)
        if config.sizes:
            report["sizes"] = measure_sizes(readers, list(config.sizes))
    write_json_atomic(config.out, report)
    today, fused = report["today"], report["fused_cross_fitted"]
    print(
        f"today {today['misreads']} misreads ({today['misreads_flagged']:.0%} flagged, "
        f"{today['correct_flagged']:.2%} of correct), fused {fused['misreads']} "
        f"({fused['misreads_flagged']:.0%}, {fused['correct_flagged']:.2%}); "
        f"1/7 {today['1/7']} -> {fused['1/7']}, 4/9 {today['4/9']} -> {fused['4/9']}; "
        f"ms p50 {report['milliseconds']['today_p50']:.2f} -> "
        f"{report['milliseconds']['fused_p50']:.2f}"
    )
    return 0
