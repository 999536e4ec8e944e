"""Number files on the training side: ``train --drawn`` refuses them with one line, and the
number reader's composition keeps the trainer's held-out writers apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_edge.edge_app.strokes import Sample, load_samples, save_samples
from mnist_edge.train.config import TrainConfig
from mnist_edge.train.drawn import DrawnDataError, check_training_file, split_writers
from mnist_edge.train.numbers import writer_sides
from tests.conftest import DRAWN

pytestmark = pytest.mark.tf


def test_training_refuses_number_samples(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    save_samples(path, [Sample([[(0.1, 0.1), (0.2, 0.9)]], 1), Sample([[(0.1, 0.1)]], "42")])
    with pytest.raises(DrawnDataError, match=r"sample 1: a number \('42'\).*single digits"):
        check_training_file(path)


def test_number_writers_are_split_as_the_trainer_splits() -> None:
    train, held = writer_sides([str(DRAWN / "unipen-train.json"), str(DRAWN / "uji-train.json")])
    config = TrainConfig()
    writers = np.array([s.writer or "?" for s in load_samples(DRAWN / "unipen-train.json")])
    expected = split_writers(writers, config.drawn_val_fraction, config.split_seed)
    assert set(held) == expected and len(expected) == 13
    assert not set(train) & set(held)
    assert any(w.startswith("uji/") for w in train)  # the other files train only
