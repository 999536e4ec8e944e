"""``mnist-edge evaluate``: test metrics and plots of a saved model.keras."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.config import add_options
from mnist_edge.core.errors import UserError
from mnist_edge.train.config import EvaluateConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, EvaluateConfig)


def run(args: argparse.Namespace) -> int:
    from mnist_edge.core.config import build_config
    from mnist_edge.core.data import load_split
    from mnist_edge.core.fsutil import output_dir, write_json_atomic

    config = build_config(EvaluateConfig, vars(args), args.config, section="evaluate")
    model_path = Path(config.model)
    from mnist_edge.core.quiet import load_keras_model
    from mnist_edge.train.architectures import count_macs
    from mnist_edge.train.evaluate import (
        classification_metrics,
        library_versions,
        predict_probabilities,
        write_plots,
    )

    model = load_keras_model(model_path)  # before any data is fetched: a typo fails at once
    if tuple(model.input_shape[1:]) != (28, 28, 1):
        raise UserError(f"{model_path} takes input {model.input_shape}, not 28x28x1 MNIST images")
    test = load_split("test", config.data_dir)
    with output_dir(config.out or model_path.parent, force=True, what="evaluation") as out:
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
