"""``mnist-edge train``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mnist_edge.core.config import add_options
    from mnist_edge.train.config import TrainConfig

    add_options(parser, TrainConfig)


def run(args: argparse.Namespace) -> int:
    from mnist_edge.core.config import build_config
    from mnist_edge.core.fsutil import check_out_dir, check_regular
    from mnist_edge.train.config import TrainConfig

    config = build_config(TrainConfig, vars(args), args.config, section="train")
    # What fails in a second fails before TensorFlow loads (it takes seconds).
    if config.strategy != "multi-worker":  # there only the chief writes, and may resume
        check_out_dir(Path(config.out_dir), force=config.force, what="training")
    for path in (*config.drawn, *config.drawn_eval):
        check_regular(path, "drawn-digit file", hint="pass a replay file (mnist-edge-strokes/1)")
    from mnist_edge.core.quiet import import_keras
    from mnist_edge.train.metrics import TrainMetrics
    from mnist_edge.train.trainer import train  # TensorFlow loads only after the config is valid

    import_keras()  # quietly, before anything else touches it

    metrics = TrainMetrics.from_json(train(config))
    print(
        f"test accuracy {metrics.test_accuracy:.2%} ({metrics.test_errors} errors), "
        f"{metrics.params:,} params, {metrics.macs:,} MACs, "
        f"{metrics.epochs_run} epochs in {metrics.train_seconds:.0f} s -> "
        f"{config.out_dir}/model.keras"
    )
    return 0
