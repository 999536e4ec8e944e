"""``mnist-edge train`` and ``mnist-edge evaluate``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.errors import UserError


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    from mnist_edge.train.architectures import ARCHITECTURES
    from mnist_edge.train.augment import POLICIES
    from mnist_edge.train.config import STRATEGIES

    parser.add_argument("--arch", help=f"architecture: {', '.join(ARCHITECTURES)} (default edge)")
    parser.add_argument("--epochs", type=int, help="maximum epochs (default 30)")
    parser.add_argument("--batch-size", type=int, help="batch size (default 128)")
    parser.add_argument("--lr", type=float, help="peak learning rate of the cosine schedule")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (or $MNIST_EDGE_DATA)")
    parser.add_argument("--out", help="output directory (default runs/ARCH)")
    parser.add_argument("--limit", type=int, help="train on the first N training images only")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument(
        "--split-seed",
        type=int,
        help="seed of the validation splits, MNIST and held-out writers (default 0); "
        "kept apart from --seed so runs are compared on the same validation digits",
    )
    parser.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    parser.add_argument(
        "--augment",
        help=f"augmentation policy: {', '.join(POLICIES)} (default: the architecture's own)",
    )
    parser.add_argument("--strategy", help=f"tf.distribute strategy: {', '.join(STRATEGIES)}")
    parser.add_argument(
        "--drawn",
        action="append",
        metavar="REPLAY",
        help="real drawn digits (mnist-edge-strokes/1, labelled, with a "
        "'writer' per sample) to train on next to MNIST; repeatable. Rendered "
        "as the app renders them; validation is split by writer",
    )
    parser.add_argument(
        "--drawn-share",
        type=float,
        help="share of every batch taken from --drawn digits (default 0.15: 19 of 128)",
    )
    parser.add_argument(
        "--drawn-eval",
        action="append",
        metavar="REPLAY",
        help="labelled drawn digits to measure at the end (never trained on)",
    )
    parser.add_argument("--label-smoothing", type=float, help="label smoothing (default 0)")
    parser.add_argument(
        "--ema",
        type=float,
        metavar="MOMENTUM",
        help="validate an exponential moving average of the weights beside the raw ones "
        "each epoch and keep the better; 0: off (default 0.999 with the default "
        "strategy, off with the distributed ones)",
    )
    parser.add_argument(
        "--calibrate",
        action=argparse.BooleanOptionalAction,
        help="fit a temperature on held-out drawn writers and fold it into "
        "the model (default on with --drawn)",
    )
    parser.add_argument("--config", help="TOML file with any of these options; flags win")
    parser.add_argument(
        "--force", action="store_true", default=None, help="write into an existing output directory"
    )


def run_train(args: argparse.Namespace) -> int:
    from mnist_edge.core.config import build_config
    from mnist_edge.train.config import TrainConfig

    config = build_config(TrainConfig, vars(args), args.config, section="train")
    from mnist_edge.core.quiet import import_keras
    from mnist_edge.train.trainer import train  # TensorFlow loads only after the config is valid

    import_keras()  # quietly, before anything else touches it

    metrics = train(config)
    print(
        f"test accuracy {metrics['test_accuracy']:.2%} ({metrics['test_errors']} errors), "
        f"{metrics['params']:,} params, {metrics['macs']:,} MACs, "
        f"{metrics['epochs_run']} epochs in {metrics['train_seconds']:.0f} s -> "
        f"{config.out_dir}/model.keras"
    )
    return 0


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a model.keras written by 'train'")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (or $MNIST_EDGE_DATA)")
    parser.add_argument(
        "--out", help="where to write evaluation.json and plots (default: the model's folder)"
    )


def run_evaluate(args: argparse.Namespace) -> int:
    from mnist_edge.core.data import load_split
    from mnist_edge.core.fsutil import output_dir, write_json_atomic

    model_path = Path(args.model)
    from mnist_edge.train.architectures import count_macs
    from mnist_edge.train.evaluate import (
        classification_metrics,
        library_versions,
        load_keras_model,
        predict_probabilities,
        write_plots,
    )

    model = load_keras_model(model_path)  # before any data is fetched: a typo fails at once
    if tuple(model.input_shape[1:]) != (28, 28, 1):
        raise UserError(f"{model_path} takes input {model.input_shape}, not 28x28x1 MNIST images")
    test = load_split("test", args.data_dir)
    with output_dir(args.out or model_path.parent, force=True, what="evaluation") as out:
        probs = predict_probabilities(model, test.images)
        metrics: dict[str, Any] = {
            "model": str(model_path),
            **classification_metrics(probs, test.labels),
            "params": int(model.count_params()),
            "macs": count_macs(model),
            "data_checksums": test.checksums,
            "versions": library_versions(),
        }
        metrics["plots"] = write_plots(
            out, None, test.images, test.labels, probs, np.asarray(metrics["confusion_matrix"])
        )
        write_json_atomic(out / "evaluation.json", metrics)
    print(
        f"test accuracy {metrics['test_accuracy']:.2%} ({metrics['test_errors']} errors) "
        f"-> {out / 'evaluation.json'}"
    )
    return 0
