"""``mnist-edge export``."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mnist_edge.core.config import add_options
    from mnist_edge.export.config import ExportConfig

    add_options(parser, ExportConfig)


def run(args: argparse.Namespace) -> int:
    from mnist_edge.core.config import build_config
    from mnist_edge.export.config import ExportConfig

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
