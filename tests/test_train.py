"""Architectures, augmentation, a real (tiny) training run, evaluate, and the CLI's errors."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from mnist_edge.train.architectures import ARCHITECTURES, INPUT_NAME, OUTPUT_NAME, count_macs
from tests.conftest import TRAIN_ARTIFACTS, assert_user_error, run_cli


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_architecture_contract(name: str) -> None:
    model = ARCHITECTURES[name].build()
    assert model.inputs[0].dtype == "uint8" and tuple(model.input_shape) == (None, 28, 28, 1)
    assert model.inputs[0].name == INPUT_NAME and model.layers[-1].name == OUTPUT_NAME
    probs = np.asarray(model(np.full((2, 28, 28, 1), 255, np.uint8), training=False))
    assert probs.shape == (2, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_edge_is_cheapest() -> None:
    macs = {name: count_macs(arch.build()) for name, arch in ARCHITECTURES.items()}
    params = ARCHITECTURES["edge"].build().count_params()
    assert macs["edge"] == min(macs.values()) and params < 100_000
    # Conv 3x3 1->16 at 28x28 alone is 28*28*9*16 multiply-adds.
    assert macs["edge"] > 28 * 28 * 9 * 16


def test_augmentation_is_reproducible_and_bounded() -> None:
    import tensorflow as tf

    from mnist_edge.train.augment import POLICIES, augment_batch

    images = np.zeros((4, 28, 28, 1), np.uint8)
    images[:, 8:20, 12:16] = 255
    seed = tf.constant([3, 7], tf.int64)
    labels = tf.constant([0, 1, 2, 3])
    a = augment_batch(tf.constant(images), labels, seed, POLICIES["touch"]).numpy()
    b = augment_batch(tf.constant(images), labels, seed, POLICIES["touch"]).numpy()
    assert a.dtype == np.uint8 and a.shape == images.shape
    assert np.array_equal(a, b) and not np.array_equal(a, images)


def test_training_artifacts(tiny_run: Path) -> None:
    names = {p.name for p in tiny_run.iterdir()}
    assert names >= TRAIN_ARTIFACTS
    assert "checkpoint.keras" not in names and not [n for n in names if n.startswith(".")]
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.9  # 2 epochs on 6,000 images; chance is 0.1
    assert len(metrics["confusion_matrix"]) == 10
    assert sum(map(sum, metrics["confusion_matrix"])) == 10000
    assert set(metrics["per_class_accuracy"]) == {str(d) for d in range(10)}
    assert metrics["params"] > 0 and metrics["macs"] > 0 and metrics["train_seconds"] > 0
    assert metrics["data_checksums"]["train-images-idx3-ubyte"].startswith("ba891046")
    assert metrics["versions"]["tensorflow"] and metrics["config"]["arch"] == "edge"
    with open(tiny_run / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and {"accuracy", "val_accuracy", "loss", "val_loss", "lr"} <= set(rows[0])
    for plot in ("curves.png", "confusion.png", "predictions.png", "mistakes.png"):
        assert (tiny_run / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_recomputes_metrics(tiny_run: Path, tmp_path: Path) -> None:
    result = run_cli("evaluate", "--model", str(tiny_run / "model.keras"), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    trained = json.loads((tiny_run / "metrics.json").read_text())
    assert evaluation["test_accuracy"] == pytest.approx(trained["test_accuracy"], abs=1e-4)
    assert (tmp_path / "confusion.png").exists()


def test_train_cli_and_config_file(tmp_path: Path) -> None:
    config = tmp_path / "mnist_edge.train.toml"
    config.write_text('[train]\narch = "seed-2conv"\nepochs = 5\nlimit = 300\nbatch-size = 64\n')
    out = tmp_path / "run"
    # Flags win over the file: one epoch, not five.
    result = run_cli(
        "--config", str(config), "--epochs", "1", "--out", str(out), module="mnist_edge.train"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["arch"] == "seed-2conv" and metrics["epochs_run"] == 1
    assert metrics["config"]["batch_size"] == 64 and metrics["train_images"] == 275


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--arch", "vgg"], ["unknown architecture 'vgg'", "edge, seed-3conv"]),
        (["--epochs", "0"], ["--epochs must be an integer from 1 to 1,000"]),
        (["--limit", "-5"], ["--limit must be"]),
        (["--augment", "wild"], ["unknown augmentation"]),
        (["--strategy", "tpu"], ["unknown strategy"]),
        (["--split-seed", "-1"], ["--split-seed must be an integer from 0"]),
        (["--ema", "1"], ["--ema must be a number from 0 to 0.99999"]),
        (["--ema", "0.5"], ["--ema must be 0 (off) or a momentum from 0.9"]),
        (["--ema", "0.999", "--strategy", "mirrored"], ["default strategy only"]),
    ],
)
def test_train_rejects_bad_flags(args: list[str], fragments: list[str]) -> None:
    assert_user_error(run_cli("train", *args), *fragments)


def test_weight_averaging_is_on_by_default_with_the_default_strategy() -> None:
    from mnist_edge.core.errors import UserError
    from mnist_edge.train.config import DEFAULT_EMA, TrainConfig

    assert TrainConfig().ema == DEFAULT_EMA and TrainConfig(ema=0).ema == 0
    assert TrainConfig(strategy="mirrored").ema == 0  # distributed: no averaging by default
    with pytest.raises(UserError, match="default strategy only"):
        TrainConfig(strategy="multi-worker", ema=0.99)


def test_train_refuses_existing_out_and_unwritable(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "model.keras").write_text("keep me")
    result = run_cli("train", "--limit", "100", "--out", str(tmp_path / "old"))
    assert_user_error(result, "already exists", "--force")
    assert (tmp_path / "old" / "model.keras").read_text() == "keep me"
    (tmp_path / "file").write_text("")
    assert_user_error(
        run_cli("train", "--limit", "100", "--out", str(tmp_path / "file" / "x")), "cannot write"
    )


def test_train_missing_data(tmp_path: Path) -> None:
    assert_user_error(
        run_cli(
            "train",
            "--limit",
            "100",
            "--out",
            str(tmp_path / "r"),
            "--data-dir",
            str(tmp_path / "none"),
        ),
        "MNIST not found",
    )


def test_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("epochs = 1\nlearning_rate = 3\n")
    assert_user_error(run_cli("train", "--config", str(config)), "unknown key(s) learning_rate")
    config.write_text("epochs = [")
    assert_user_error(run_cli("train", "--config", str(config)), "not valid TOML")


def test_evaluate_corrupt_model(tmp_path: Path) -> None:
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert_user_error(run_cli("evaluate", "--model", str(bad)), "not a .keras file")
    assert_user_error(run_cli("evaluate", "--model", str(tmp_path / "no.keras")), "not found")


def test_best_checkpoint_selection_and_stopping(tmp_path: Path) -> None:
    from mnist_edge.train.selection import Selection as _Selection

    class FakeModel:
        stop_training = False

        def __init__(self) -> None:
            self.epoch = 0

        def get_weights(self) -> list[int]:
            return [self.epoch]

        def save(self, path: Path) -> None:
            Path(path).write_text(str(self.epoch))

    best = _Selection(tmp_path / "checkpoint.keras", patience=3, start=4, drawn_val=None)
    model = FakeModel()
    accuracies = [0.90, 0.95, 0.95, 0.93, 0.94, 0.94, 0.94, 0.94]
    for epoch, acc in enumerate(accuracies):
        model.epoch = epoch + 1
        best.on_epoch_end(model, epoch, {"val_accuracy": acc})
        if model.stop_training:
            break
    assert best.best_epoch == 3 and best.best_weights == [3]  # the tie went to the later epoch
    assert (tmp_path / "checkpoint.keras").read_text() == "3"
    assert best.stopped_epoch == 7  # epochs 5-7 without a gain, counted from mid-schedule
    stop = best.stopping(8, 7)
    assert stop["early"] and "stopped early after epoch 7" in stop["reason"]
    assert "epoch 3 kept" in stop["reason"]


def test_selection_uses_both_validation_sets(tmp_path: Path) -> None:
    """With drawn validation, the epoch with the lowest mean error over both sets is kept."""
    from mnist_edge.train.selection import Selection as _Selection

    drawn_x, drawn_y = np.zeros((4, 28, 28), np.uint8), np.array([0, 1, 2, 3])
    drawn_acc = iter([0.25, 1.0, 0.5])

    class FakeModel:
        stop_training = False

        def predict(self, x: np.ndarray, **_: object) -> np.ndarray:
            right = int(next(drawn_acc) * 4)
            probs = np.zeros((4, 10))
            probs[np.arange(4), [*drawn_y[:right], *((drawn_y[right:] + 1) % 10)]] = 1
            return probs

        def get_weights(self) -> list[int]:
            return []

        def save(self, path: Path) -> None:
            Path(path).write_text("x")

    selection = _Selection(tmp_path / "c.keras", patience=9, start=9, drawn_val=(drawn_x, drawn_y))
    model = FakeModel()
    for epoch, mnist in enumerate([0.99, 0.98, 0.995]):  # drawn: 0.25, 1.0, 0.5
        logs = {"val_accuracy": mnist}
        selection.on_epoch_end(model, epoch, logs)
        assert logs["val_drawn_accuracy"] in (0.25, 1.0, 0.5)
    assert selection.best_epoch == 2  # (0.98 + 1.0) / 2 beats (0.995 + 0.5) / 2


@pytest.mark.slow
def test_averaged_weights_swap_in_and_back_bit_for_bit() -> None:
    import keras

    from mnist_edge.train.selection import averaged_weights

    model = ARCHITECTURES["edge"].build()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2, use_ema=True, ema_momentum=0.9),
        loss="categorical_crossentropy",
    )
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    y = keras.utils.to_categorical(rng.integers(0, 10, 64), 10)
    for start in range(0, 64, 16):  # not fit(): it ends by overwriting the weights with the EMA
        model.train_on_batch(x[start : start + 16], y[start : start + 16])
    raw = model.get_weights()
    # The optimizer's averages, in the order of the trainable variables (Keras keeps them so).
    averages = [np.asarray(v) for v in model.optimizer._model_variables_moving_average]
    with averaged_weights(model):
        inside = [np.asarray(v) for v in model.trainable_variables]
        assert all(np.array_equal(a, b) for a, b in zip(inside, averages, strict=True))
        assert not all(np.array_equal(a, np.asarray(v)) for a, v in zip(raw, model.weights))
    assert all(np.array_equal(a, b) for a, b in zip(raw, model.get_weights(), strict=True))


def test_ema_selection_keeps_the_better_of_raw_and_average(tmp_path: Path) -> None:
    """Each epoch the raw weights and their moving average are both validated; the better is
    the candidate (the average on ties), and each kind's own best is tracked."""
    from mnist_edge.train.selection import Selection as _Selection

    x_val, y_val = np.zeros((4, 28, 28), np.uint8), np.array([0, 1, 2, 3])
    # Per epoch: MNIST validation accuracy of (raw, average), as the fake model predicts it.
    epochs = [(0.75, 0.25), (0.5, 1.0), (0.75, 0.75)]

    class FakeOptimizer:
        def __init__(self, model: FakeModel) -> None:
            self.model = model

        def finalize_variable_values(self, variables: list[str]) -> None:
            self.model.state = "ema"

    class FakeModel:
        stop_training = False

        def __init__(self) -> None:
            self.state, self.epoch = "raw", 0
            self.trainable_variables = ["w"]
            self.optimizer = FakeOptimizer(self)

        def get_weights(self) -> list[object]:
            return [(self.state, self.epoch)]

        def set_weights(self, weights: list[tuple[str, int]]) -> None:
            self.state = weights[0][0]

        def predict(self, x: np.ndarray, **_: object) -> np.ndarray:
            right = int(epochs[self.epoch][self.state == "ema"] * 4)
            probs = np.zeros((4, 10))
            probs[np.arange(4), [*y_val[:right], *((y_val[right:] + 1) % 10)]] = 1
            return probs

        def save(self, path: Path) -> None:
            Path(path).write_text(f"{self.state} {self.epoch}")

    selection = _Selection(tmp_path / "c.keras", 9, 9, None, (x_val, y_val), ema=True)
    model = FakeModel()
    for epoch, (raw, average) in enumerate(epochs):
        model.epoch = epoch
        # Keras's float32 figure is not used: both kinds are scored by the same predict.
        logs = {"val_accuracy": 0.0}
        selection.on_epoch_end(model, epoch, logs)
        assert model.state == "raw"  # swapped back after every epoch
        assert logs["val_ema_accuracy"] == average and logs["raw_selection_score"] == raw
    # Epoch 1: raw 0.75 wins; epoch 2: average 1.0 wins; epoch 3: a 0.75 tie goes to the average
    # but 0.75 < 1.0. Kept: epoch 2's average.
    assert (selection.best_epoch, selection.kept, selection.best) == (2, "ema", 1.0)
    assert selection.best_weights == [("ema", 1)]
    assert (tmp_path / "c.keras").read_text() == "ema 1"
    assert selection.tracks["raw"]["epoch"] == 3 and selection.tracks["raw"]["score"] == 0.75
    assert selection.tracks["ema"]["epoch"] == 2
    assert "epoch 2 (the moving average of its weights) kept" in selection.stopping(3, 3)["reason"]


@pytest.mark.slow
def test_ema_training_reports_both_kinds(tmp_path: Path, data_dir: Path) -> None:
    """A real run with --ema: the kept model is the one the logs scored, whichever kind won,
    and both kinds' best epochs are reported."""
    from mnist_edge.core.config import build_config
    from mnist_edge.core.data import load_split
    from mnist_edge.core.quiet import load_keras_model
    from mnist_edge.train.config import TrainConfig
    from mnist_edge.train.dataset import split_train_val
    from mnist_edge.train.trainer import train

    config = build_config(
        TrainConfig,
        {
            "epochs": 3,
            "limit": 3000,
            "augment": "none",
            "ema": 0.9,
            "seed": 3,  # the MNIST validation split follows --split-seed (0), not --seed
            "data_dir": str(data_dir),
            "out": str(tmp_path / "run"),
        },
    )
    metrics = train(config)
    averaging = metrics["weight_averaging"]
    assert averaging["ema_momentum"] == 0.9 and averaging["kept"] in ("raw", "ema")
    for kind in ("raw", "ema"):
        assert 1 <= averaging[kind]["best_epoch"] <= 3
        assert 0.5 < averaging[kind]["test_accuracy"] <= 1
    assert averaging[averaging["kept"]]["best_epoch"] == metrics["best_epoch"]
    with open(tmp_path / "run" / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {"val_accuracy", "val_ema_accuracy", "raw_selection_score"} <= set(rows[0])
    column = "val_ema_accuracy" if averaging["kept"] == "ema" else "val_accuracy"
    logged = float(rows[metrics["best_epoch"] - 1][column])
    assert metrics["val_accuracy"] == pytest.approx(logged)
    split = load_split("train", str(data_dir), limit=3000)
    _, (x_val, y_val) = split_train_val(split.images, split.labels, config.val_fraction, 0)
    kept = load_keras_model(tmp_path / "run" / "model.keras")
    accuracy = (kept.predict(x_val[..., None], verbose=0).argmax(1) == y_val).mean()
    assert accuracy == pytest.approx(logged, abs=1e-6)
    assert averaging[averaging["kept"]]["test_accuracy"] == pytest.approx(metrics["test_accuracy"])


def test_ctrl_c_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mnist_edge.train",
            "--limit",
            "2000",
            "--epochs",
            "200",
            "--augment",
            "none",
            "--out",
            str(out),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    checkpoint = out / "checkpoint.keras"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert checkpoint.exists(), "no checkpoint was written"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "best checkpoint so far" in stderr
    assert not (out / "model.keras").exists()  # no final model pretends the run finished
    from mnist_edge.core.quiet import load_keras_model

    assert load_keras_model(checkpoint).count_params() > 0  # a complete, loadable file


def test_ctrl_c_is_a_flag_checked_at_the_next_batch() -> None:
    """The handler raises nothing itself (an exception raised inside a finalizer is swallowed
    and training would run on); the callback raises at the next batch. A second Ctrl-C is
    Python's own, and the previous handler is back after the block."""
    import signal

    from mnist_edge.train.interrupt import InterruptAtBatch

    before = signal.getsignal(signal.SIGINT)
    interrupt = InterruptAtBatch()
    with interrupt.installed():
        interrupt.callback.on_train_batch_end(0)  # nothing asked yet: training goes on
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupt.requested
        with pytest.raises(KeyboardInterrupt):
            interrupt.callback.on_train_batch_end(1)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # the second one interrupts at once
    assert signal.getsignal(signal.SIGINT) is before
