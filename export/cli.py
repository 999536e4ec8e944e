"""``mnist-edge export``."""

from __future__ import annotations

import argparse

from mnist_edge.core.registry import FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model.keras written by 'mnist-edge train'")
    parser.add_argument("--out", help="output directory (default: MODEL_FOLDER/export)")
    parser.add_argument("--formats", help=f"comma-separated, default all: {','.join(FORMATS)}")
    parser.add_argument(
        "--calibration-samples",
        type=int,
        help="training images used to calibrate int8 (default 500)",
    )
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (or $MNIST_EDGE_DATA)")
    parser.add_argument("--opset", type=int, help="ONNX opset, 17-21 (default 17)")
    parser.add_argument("--seed", type=int, help="seed for picking calibration images")
    parser.add_argument(
        "--min-agreement",
        action="append",
        metavar="PRECISION=FRACTION",
        help="override the validation threshold of a precision, e.g. int8=0.99",
    )
    parser.add_argument("--config", help="TOML file with any of these options; flags win")
    parser.add_argument(
        "--force", action="store_true", default=None, help="write into an existing output directory"
    )


def run(args: argparse.Namespace) -> int:
    from mnist_edge.core.config import build_config
    from mnist_edge.core.errors import UserError
    from mnist_edge.export.config import ExportConfig

    if not args.model and not args.config:
        raise UserError("--model is required: the model.keras written by 'mnist-edge train'")
    config = build_config(ExportConfig, vars(args), args.config, section="export")
    from mnist_edge.export.exporter import format_table, run_export

    outcomes = run_export(config)
    print(format_table(outcomes))
    failed = [o.fmt.key for o in outcomes if o.status != "ok"]
    print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} formats exported to "
        f"{config.out_dir} (manifest.json lists them)"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0
