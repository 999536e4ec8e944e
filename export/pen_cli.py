"""``mnist-edge pen export``: the pen model to TFLite and ONNX, validated, described, listed.

See :mod:`mnist_edge.export.pen` for what is converted and checked.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from mnist_edge.core.config import add_options, build_config, option, require

MAX_FUSION_BYTES = 1 << 20


@dataclass(frozen=True)
class PenExportConfig:
    model: str = option("runs/pen/pen.keras", "the pen model of 'mnist-edge pen train'")
    drawn: tuple[str, ...] = option(
        (), "replay files with writers: validation on held-out writers (required)",
        metavar="FILE", nargs="+",
    )  # fmt: skip
    out: str = option("runs/pen/export", "output folder (its manifest lists the files)")
    fusion: str | None = option(
        None, "fusion.json of 'mnist-edge pen fusion': embedded in each file", metavar="FILE"
    )
    force: bool = option(False, "write into an existing output folder")

    def __post_init__(self) -> None:
        object.__setattr__(self, "drawn", tuple(self.drawn))
        require(bool(self.drawn), "--drawn FILE... is required: replay files with writers")
        require(all(self.drawn), "--drawn needs file names; an empty name is no file")
        require(bool(self.model) and bool(self.out), "--model and --out need names")
        require(self.fusion != "", "--fusion needs a file name, or leave it out")


def add_export(parser: argparse.ArgumentParser) -> None:
    add_options(parser, PenExportConfig)


def _check_fusion(path: str) -> None:
    """The fusion record, read as export will read it: a bad one is one line, before Keras."""
    from mnist_edge.core.errors import UserError
    from mnist_edge.core.fsutil import read_capped

    raw = read_capped(path, MAX_FUSION_BYTES, "--fusion")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UserError(f"--fusion {path} is not JSON; pass fusion.json of 'pen fusion'") from None
    if not isinstance(data, dict) or not isinstance(data.get("fusion"), dict):
        raise UserError(f"--fusion {path} has no 'fusion' record; pass fusion.json of 'pen fusion'")


def run_export(args: argparse.Namespace) -> int:
    from mnist_edge.core.fsutil import check_out_dir, check_regular

    config = build_config(PenExportConfig, vars(args), args.config, section="pen-export")
    check_out_dir(Path(config.out), force=config.force, what="pen export")
    check_regular(config.model, "--model", hint="pass pen.keras of 'mnist-edge pen train'")
    if config.fusion:
        _check_fusion(config.fusion)
    from mnist_edge.export.pen import run  # reads --drawn before TensorFlow loads

    fusion = Path(config.fusion) if config.fusion else None
    print("\n".join(run(Path(config.model), list(config.drawn), Path(config.out), fusion)))
    return 0
