"""Drawn digits for training: app-exact rendering, the writer split, bad files before training,
calibration that never changes a reading, and test-time augmentation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist_edge.edge_app.runtime import Model, Outputs, load_model
from mnist_edge.edge_app.runtime.shipped import default_model
from mnist_edge.edge_app.tta import MAX_VARIANTS, variants
from mnist_edge.ink.layout import SCREENS, compute
from mnist_edge.ink.preprocess import strokes_to_digit
from mnist_edge.ink.strokes import FORMAT, Sample, save_samples
from mnist_edge.train import calibration
from mnist_edge.train.drawn import (
    VARIANTS,
    DrawnDataError,
    app_canvases,
    check_training_file,
    load_drawn,
    split_writers,
)
from tests.conftest import (
    DRAWN,
    MODELS,
    QUICK_BENCH,
    assert_user_error,
    run_cli,
    run_events,
    stroke_events,
)

LOOP = [(0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7), (0.3, 0.3)]
SEVEN = [(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)]


def _writers_file(tmp_path: Path, writers: int = 12, per: int = 3) -> Path:
    rng = np.random.default_rng(0)
    samples = []
    for w in range(writers):
        for i in range(per):
            jitter = rng.uniform(-0.05, 0.05, 2)
            stroke = [(x + jitter[0], y + jitter[1]) for x, y in (LOOP if i % 2 else SEVEN)]
            samples.append(Sample([stroke], 0 if i % 2 else 7, f"site{w % 3}/w{w}"))
    path = tmp_path / "drawn.json"
    save_samples(path, samples)
    return path


@pytest.mark.parametrize("screen", SCREENS)
def test_training_renders_exactly_what_the_app_sees(
    app_factory: Any, screen: tuple[int, int]
) -> None:
    """A replayed drawing's 28x28 input in the real app equals the training rendering, pixel
    for pixel, on every screen the training data is rendered for."""
    app = app_factory(size=screen)
    for stroke in (SEVEN, LOOP):
        run_events(app, stroke_events(app, stroke))
    c = compute(*screen).canvas
    expected = strokes_to_digit([SEVEN, LOOP], c.w, c.h)
    assert np.array_equal(app.reading.image, expected)


def test_canvases_are_the_apps() -> None:
    canvases = app_canvases()
    assert len(canvases) == len(SCREENS)
    first = compute(*SCREENS[0]).canvas
    assert (canvases[0].width, canvases[0].height) == (first.w, first.h)
    assert len({c.brush for c in canvases}) > 2  # real variety of brush widths


def test_writer_split_never_shares_a_writer(tmp_path: Path) -> None:
    drawn = load_drawn((str(_writers_file(tmp_path)),), cache=False)
    assert len(drawn) == 36 * VARIANTS
    held = split_writers(drawn.writers, 0.25, seed=3)
    sites = {w.split("/")[0] for w in held}
    assert sites == {"site0", "site1", "site2"}  # every site is represented
    val = np.isin(drawn.writers, sorted(held))
    assert not set(drawn.writers[val]) & set(drawn.writers[~val])
    assert split_writers(drawn.writers, 0.25, seed=3) == held  # seeded
    # Both renderings of a sample are on the same side, and validation keeps one of them.
    assert set(drawn.sample[val]).isdisjoint(set(drawn.sample[~val]))
    first = drawn.subset(val).first_variant()
    assert len(first) == val.sum() // VARIANTS


def test_held_out_writers_follow_the_split_seed_not_the_seed(tmp_path: Path) -> None:
    """Runs with different --seed values are validated on the same writers (and so can be
    compared); only --split-seed moves the split."""
    from mnist_edge.train.config import TrainConfig
    from mnist_edge.train.drawn_training import load_drawn_parts as _load_drawn

    path = str(_writers_file(tmp_path))

    def held(**options: int) -> set[str]:
        _, parts = _load_drawn(TrainConfig(drawn=(path,), **options))
        return set(parts["val"].writers.tolist())

    assert held(seed=1) == held(seed=2) == held(seed=7, split_seed=0)
    assert any(held(split_seed=s) != held() for s in (1, 2, 3))


def test_a_files_held_out_writers_do_not_depend_on_the_files_beside_it(tmp_path: Path) -> None:
    """Training on a second file leaves the first file's held-out writers as they were (the
    shipped model's), and holds out the writers ``pen train`` and ``styles write`` hold out."""
    from mnist_edge.train.config import TrainConfig
    from mnist_edge.train.drawn_training import load_drawn_parts
    from mnist_edge.train.pen import load_pen_data
    from mnist_edge.train.style_set import held_out_digits

    first = str(_writers_file(tmp_path))
    other = tmp_path / "other" / "drawn.json"  # a site that sorts between the first's sites
    other.parent.mkdir()
    save_samples(
        other,
        [Sample([SEVEN], 7, f"site0x/v{w}") for w in range(10) for _ in range(2)],
    )
    config = TrainConfig(drawn=(first, str(other)))
    _, parts = load_drawn_parts(config)
    held = set(parts["val"].writers.tolist())
    alone = split_writers(load_drawn((first,), cache=False).writers, 0.2, config.split_seed)
    assert held & alone == alone and held - alone  # the first file's, and some of the other's
    pen = load_pen_data([first, str(other)])
    assert set(pen.writers[pen.held].tolist()) == held
    assert set(held_out_digits([first, str(other)])) <= held
    both = load_drawn((first, str(other)), cache=False)
    assert split_writers(both.writers, 0.2, config.split_seed) != held  # what a joint split did


def test_rendering_is_cached(tmp_path: Path) -> None:
    path = str(_writers_file(tmp_path))
    fresh = load_drawn((path,))
    cached = load_drawn((path,))
    assert np.array_equal(fresh.images, cached.images)
    cache = list((tmp_path / "cache" / "mnist-edge" / "drawn").glob("*.npz"))
    assert len(cache) == 1
    cache[0].write_bytes(b"broken")  # a broken cache is rebuilt, never trusted
    assert np.array_equal(load_drawn((path,)).images, fresh.images)


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"format": "other", "samples": []}, "expected 'mnist-edge-strokes/1'"),
        ({"format": FORMAT, "samples": [{"strokes": [[[0.1, 0.1]]]}]}, "no label"),
        (
            {"format": FORMAT, "samples": [{"strokes": [[[0.1, 0.1]]], "label": 11}]},
            "label must be an integer 0-9",
        ),
        ({"format": FORMAT, "samples": []}, "no samples"),
        ({"format": FORMAT, "samples": [{"strokes": [], "label": 3}]}, "no strokes"),
        ({"format": FORMAT, "samples": [{"strokes": [[[1e400, 0]]], "label": 3}]}, "point 0"),
    ],
)
def test_bad_drawn_file_fails_before_training(tmp_path: Path, doc: dict, fragment: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc).replace("Infinity", "1e400"))
    with pytest.raises(DrawnDataError if "no " in fragment else Exception, match=fragment):
        check_training_file(path)
    # Through the CLI: one line, exit 2, before MNIST or TensorFlow are touched (so fast).
    out = tmp_path / "run"
    r = run_cli(
        "train",
        "--drawn",
        str(path),
        "--out",
        str(out),
        "--data-dir",
        str(tmp_path / "no-mnist-here"),
        timeout=60,
    )
    assert_user_error(r, fragment)
    assert not out.exists()


def test_temperature_never_changes_a_reading() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=6, size=(400, 10))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.where(rng.random(400) < 0.8, probs.argmax(1), rng.integers(0, 10, 400))
    t = calibration.fit_temperature(probs, labels)
    assert 0.5 <= t <= 20
    soft = calibration.soften(probs, t)
    assert np.array_equal(soft.argmax(1), probs.argmax(1))
    best = calibration.nll(soft, labels)
    grid = [
        calibration.nll(calibration.soften(probs, g), labels) for g in np.geomspace(0.5, 20, 60)
    ]
    assert best <= min(grid) + 1e-3 and best < calibration.nll(probs, labels)
    flagged = calibration.flagged(soft, labels, 0.6)
    assert flagged["misreads"] == int((probs.argmax(1) != labels).sum())
    assert 0 <= flagged["correct_flagged"] <= 1 and 0 <= flagged["misreads_flagged"] <= 1


def test_tta_variants() -> None:
    image = np.zeros((28, 28), np.uint8)
    image[6:22, 12:16] = 255
    v = variants(image, MAX_VARIANTS)
    assert v.shape == (MAX_VARIANTS, 28, 28) and np.array_equal(v[0], image)
    assert all(not np.array_equal(v[0], x) for x in v[1:])
    with pytest.raises(ValueError):
        variants(image, 0)


def test_tta_cli(tmp_path: Path) -> None:
    """--tta N reads with the threshold the shipped model was calibrated for at N variants."""
    replay = tmp_path / "r.json"
    save_samples(replay, [Sample([SEVEN], 7), Sample([LOOP], 0)])
    env = {"MNIST_EDGE_MODELS": str(MODELS)}
    model = load_model(default_model()[0])
    assert model.threshold_for(5) != model.threshold_for(1)  # the shipped model has both
    for tta in (1, 5, None):  # None: the app's default, 5 for this model
        chosen = () if tta is None else ("--tta", str(tta))
        r = run_cli("draw", "--headless", "--replay", str(replay), *chosen, env=env)
        assert r.returncode == 0, r.stderr[-2000:]
        assert ("tta 5" in r.stderr) == (tta != 1), r.stderr
        assert f"not sure below {model.threshold_for(tta or 5):.2f}" in r.stderr, r.stderr
    assert_user_error(run_cli("draw", "--headless", "--tta", "50", env=env), "--tta")


class _Scorer:
    """A fixed linear classifier over 7x7 pooled pixels, served as Keras serves (``predict``)
    and as a runtime serves (``run``/``predict``), so one function stands behind both."""

    def __init__(self) -> None:
        self.weights = np.random.default_rng(1).normal(size=(49, 10))

    def probs(self, images: np.ndarray) -> np.ndarray:
        pooled = images.reshape(len(images), 7, 4, 7, 4).mean(axis=(2, 4)).reshape(len(images), -1)
        logits = pooled / 255.0 @ self.weights * 4.0
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, images: np.ndarray, **_: Any) -> Any:
        if images.ndim == 4:  # Keras: [N, 28, 28, 1] -> an array
            return self.probs(images[..., 0])
        return Outputs(self.probs(images)).predictions()  # runtime: [N, 28, 28] -> predictions

    def run(self, images: np.ndarray) -> Outputs:
        return Outputs(self.probs(images))


def test_tta_threshold_is_what_the_app_flags() -> None:
    """Training chooses a threshold per --tta count on the app's own variants, averaged as the
    app averages: the share of misreads it reports flagged is the share the app flags."""
    import cv2

    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.train.drawn_training import calibrate_tta as _calibrate_tta

    rng = np.random.default_rng(0)
    images = np.zeros((240, 28, 28), np.uint8)
    for image in images:
        for _ in range(3):
            a, b = (tuple(int(v) for v in rng.integers(5, 23, 2)) for _ in range(2))
            cv2.line(image, a, b, 255, int(rng.integers(2, 4)))
    scorer = _Scorer()
    plain = scorer.probs(images).argmax(1)
    labels = np.where(rng.random(240) < 0.85, plain, rng.integers(0, 10, 240))
    fit = np.arange(240) % 2 == 0
    found = _calibrate_tta(scorer, images, labels, fit, ~fit, default=0.6)
    assert set(found) == set(range(2, MAX_VARIANTS + 1))
    for n in (2, 5, MAX_VARIANTS):
        entry = found[n]
        app = Recognizer(scorer, threshold=entry.threshold, tta=n)  # type: ignore[arg-type]
        # Chosen by the rule on what the app reads (averaged variants) of the fitting half.
        seen = np.stack([app.read_image(image).prediction.probabilities for image in images[fit]])
        assert entry.threshold == calibration.choose_threshold(seen, labels[fit], default=0.6)
        assert entry.threshold in calibration.GRID
        readings = [app.read_image(image).prediction for image in images[~fit]]
        wrong = np.array([r.digit for r in readings]) != labels[~fit]
        unsure = np.array([not app.sure(r) for r in readings])
        assert entry.after is not None and entry.after.misreads == wrong.sum() > 0
        assert entry.after.misreads_flagged == pytest.approx(unsure[wrong].mean())
        assert entry.after.correct_flagged == pytest.approx(unsure[~wrong].mean())


class _Described(Model):
    """Only metadata: what ``threshold_for`` reads."""

    def __init__(self, description: dict[str, Any]) -> None:
        super().__init__(Path("m.tflite"), b"")
        self.description = description

    def bind(self, images: np.ndarray) -> None: ...

    def invoke(self) -> None: ...

    def read_outputs(self) -> Outputs:
        raise NotImplementedError


def test_threshold_for_tta_from_metadata() -> None:
    cal = {"threshold": 0.8, "tta": {"5": {"threshold": 0.85}, "3": {"threshold": 7}}}
    model = _Described({"calibration": cal})
    assert model.threshold == model.threshold_for(1) == 0.8
    assert model.threshold_for(5) == 0.85
    assert model.threshold_for(3) == 0.8  # an unusable entry: the plain threshold
    assert model.threshold_for(9) == 0.8  # not calibrated for 9: the plain threshold
    assert _Described({"calibration": {"threshold": True}}).threshold_for(5) is None
    assert _Described({"calibration": ["x"]}).threshold is None
    assert _Described({}).threshold_for(5) is None
    for tta in ([0.9], {"5": 0.9}, {"5": {"threshold": float("nan")}}, {"5": {"threshold": "x"}}):
        hostile = _Described({"calibration": {"threshold": 0.8, "tta": tta}})
        assert hostile.threshold_for(5) == 0.8 and hostile.calibrated_tta_threshold(5) is None


def test_default_tta_follows_the_models_calibration() -> None:
    """Reading DEFAULT_TTA variants is the default only where the model carries a threshold
    calibrated for that count; a model calibrated for reading once reads once."""
    from mnist_edge.edge_app.reading import choose_tta as _tta
    from mnist_edge.edge_app.tta import DEFAULT_TTA

    both = _Described(
        {"calibration": {"threshold": 0.8, "tta": {str(DEFAULT_TTA): {"threshold": 0.85}}}}
    )
    once = _Described({"calibration": {"threshold": 0.8}})
    assert _tta(None, both) == DEFAULT_TTA and _tta(None, once) == 1
    assert _tta(None, _Described({})) == 1 and _tta(3, once) == 3


@pytest.mark.skipif(not (DRAWN / "unipen-dev.json").exists(), reason="needs shared/ beside")
def test_drawn_eval_in_bench(tmp_path: Path, data_dir: Path) -> None:
    """bench reports accuracy per drawn file, rendered as the app renders (with and without
    TTA), for the shipped int8 model."""
    dev = DRAWN / "unipen-dev.json"
    small = tmp_path / "dev-200.json"
    doc = json.loads(dev.read_text())
    doc["samples"] = doc["samples"][:200]
    small.write_text(json.dumps(doc))
    out = tmp_path / "bench"
    r = run_cli(
        "bench",
        "--models",
        str(MODELS / "edge-int8.tflite"),
        "--drawn-eval",
        str(small),
        "--tta",
        "3",
        *QUICK_BENCH,
        "--batch-sizes",
        "1",
        "--no-cold-start",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    row = json.loads((out / "results.json").read_text())["results"][0]
    assert 0.9 < row["drawn"]["dev-200.json"] <= 1.0
    assert 0.9 < row["tta_drawn"]["dev-200.json"] <= 1.0 and row["tta_latency_us"]["p50"] > 0
    costs = row["learning_costs"]  # on-device learning: time per read and per correction, size
    assert costs["stored"] == 500 and costs["read_us"] > 0 and costs["add_us"] > 0
    assert 0 < costs["profile_bytes"] < 1_000_000
    mnist = row["learning"]["MNIST test (one writer)"]
    assert mnist["samples"] == 200 and 0 <= mnist["with"] <= 1
    assert mnist["misreads"] == round((1 - mnist["without"]) * 200) >= mnist["repeated_misreads"]
    assert (
        "on-device learning" in r.stdout
        and "## On-device learning" in (out / "results.md").read_text()
    )
    tta = f"MNIST {row['accuracy']:.2%} -> {row['tta_accuracy']:.2%}".replace("%", "") + " %"
    md = (out / "results.md").read_text()
    assert "## Test-time augmentation" in md and "averaging 3 variants (`--tta 3`)" in md
    assert "averaging 3 variants (--tta 3)" in r.stdout and tta in r.stdout
    table = r.stdout.split("\nwrote ")[0].splitlines()
    assert "drawn%" in table[0] and max(len(x) for x in table) <= 100, table


@pytest.mark.slow
def test_drawn_file_without_writers_trains_without_drawn_validation(
    tmp_path: Path, data_dir: Path
) -> None:
    """A family's --collect file may name no writer: it trains, and says it cannot validate."""
    path = tmp_path / "ours.json"
    save_samples(path, [Sample([SEVEN], 7), Sample([LOOP], 0)] * 10)
    out = tmp_path / "run"
    r = run_cli(
        "train",
        "--drawn",
        str(path),
        "--limit",
        "300",
        "--epochs",
        "1",
        "--augment",
        "none",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "too few writers" in r.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["drawn"]["validation"] is None and "calibration" not in metrics
