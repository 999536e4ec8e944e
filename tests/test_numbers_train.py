"""Number files on the training side: ``train --drawn`` trains on their digits (a number
without ``stroke_digits`` is one clear error), and the number reader's composition keeps the
trainer's held-out writers apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_edge.ink.strokes import Sample, load_samples, save_samples
from mnist_edge.train.config import TrainConfig
from mnist_edge.train.drawn import DrawnDataError, check_training_file, split_writers
from mnist_edge.train.numbers import writer_sides
from tests.conftest import DRAWN, MODELS

pytestmark = pytest.mark.tf


def test_a_number_without_stroke_digits_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    save_samples(path, [Sample([[(0.1, 0.1), (0.2, 0.9)]], 1), Sample([[(0.1, 0.1)]], "42")])
    with pytest.raises(DrawnDataError, match=r"sample 1: a number \('42'\) without stroke_digits"):
        check_training_file(path)


def test_numbers_train_as_their_digits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each digit of a composed number becomes a training digit with its label and writer, in
    a square of its own with its shape kept, and reads as that digit."""
    from mnist_edge.edge_app.runtime import load_model
    from mnist_edge.ink.compose import compose_numbers, strip_canvas
    from mnist_edge.ink.preprocess import strokes_to_digit
    from mnist_edge.train.drawn import DIGIT_SHARE, digits_of, load_drawn

    _, held = writer_sides([str(DRAWN / "unipen-train.json")])
    numbers = compose_numbers(held, 24, 3, [strip_canvas()])
    path = tmp_path / "numbers.json"
    save_samples(path, [Sample([[(0.5, 0.1), (0.5, 0.9)]], 1, "one"), *(n.sample for n in numbers)])
    digits = check_training_file(path)
    assert len(digits) == 1 + sum(len(n.sample.label) for n in numbers)
    labels = "".join(str(d.label) for d in digits[1:])
    assert labels == "".join(str(n.sample.label) for n in numbers)
    assert [d.writer for d in digits[1:3]] == [numbers[0].sample.writer] * 2
    strip = strip_canvas()
    first = numbers[0].sample
    own = [st for st, o in zip(first.strokes, first.stroke_digits or []) if o == 0]
    before = np.concatenate([np.asarray(st) for st in own]) * (strip.width - 1, strip.height - 1)
    after = np.concatenate([np.asarray(st) for st in digits_of(first)[0].strokes])
    assert np.ptp(after, 0).max() == pytest.approx(DIGIT_SHARE)
    assert (np.ptp(after, 0)[0] / np.ptp(after, 0)[1]) == pytest.approx(
        np.ptp(before, 0)[0] / np.ptp(before, 0)[1]
    )
    model = load_model(MODELS / "edge-int8.tflite")
    images = np.stack([strokes_to_digit(d.strokes, 280, 280) for d in digits[1:]])
    read = model.run(images).probabilities.argmax(1)
    assert (read == [int(c) for c in labels]).mean() >= 0.9  # squashed digits would not read
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    drawn = load_drawn((str(path),))
    assert set(drawn.writers) >= {"one", first.writer}
    assert sorted(set(drawn.labels.tolist())) == sorted({int(c) for c in labels} | {1})


def test_number_writers_are_split_as_the_trainer_splits() -> None:
    train, held = writer_sides([str(DRAWN / "unipen-train.json"), str(DRAWN / "uji-train.json")])
    config = TrainConfig()
    writers = np.array([s.writer or "?" for s in load_samples(DRAWN / "unipen-train.json")])
    expected = split_writers(writers, config.drawn_val_fraction, config.split_seed)
    assert set(held) == expected and len(expected) == 13
    assert not set(train) & set(held)
    assert any(w.startswith("uji/") for w in train)  # the other files train only
