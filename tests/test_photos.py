"""Pictures as people take them: shaded, specked paper is cleaned before ``to_mnist``; clean
pictures pass as before; the constructed photos read right and their misreads are flagged."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from mnist_edge.core.data import load_split
from mnist_edge.ink import photo
from tests.conftest import MODELS, run_cli


def test_clean_digits_never_take_the_photo_path(data_dir: Path) -> None:
    """Every MNIST test digit, as it is and as dark ink on white: the old path, bit for bit."""
    from mnist_edge.ink.preprocess import image_to_canvas

    test = load_split("test", data_dir)
    assert not any(photo.needs_cleaning(im.astype(np.float32)) for im in test.images)
    im = test.images[0]
    assert np.array_equal(image_to_canvas(255 - im), image_to_canvas(im))


def test_a_seven_on_shaded_specked_paper_reads_seven(data_dir: Path, tmp_path: Path) -> None:
    seven = load_split("test", data_dir, limit=1).images[0]  # the first test digit, a clear 7
    big = cv2.resize(seven, (112, 112), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    paper = np.full((160, 160), 170.0, np.float32)
    paper *= np.linspace(0.75, 1.0, 160, dtype=np.float32)[None, :]  # the lamp's gradient
    paper[:, :40] *= 0.6  # a hard shadow down the left side
    page = paper.copy()
    page[24:136, 24:136] = paper[24:136, 24:136] * (1 - big) + 30 * big
    rng = np.random.default_rng(7)
    for y, x in rng.integers(0, 160, (80, 2)):
        page[y, x] = 40  # speckle
    page += rng.normal(0, 3, page.shape).astype(np.float32)
    picture = tmp_path / "seven.png"
    cv2.imwrite(str(picture), np.clip(page, 0, 255).astype(np.uint8))
    r = run_cli("predict", "--json", str(picture), env={"MNIST_EDGE_MODELS": str(MODELS)})
    assert r.returncode == 0, r.stderr[-2000:]
    read = json.loads(r.stdout)
    assert read["digit"] == 7 and read["sure"], read


def test_constructed_photos_read_and_misreads_are_flagged(data_dir: Path) -> None:
    from mnist_edge.benchmarks.photos import photo as make_photo

    digit = load_split("test", data_dir, limit=1).images[0]
    one, two = (make_photo(digit, np.random.default_rng(3)) for _ in range(2))
    assert np.array_equal(one, two) and one.shape == (160, 160, 3)  # seeded
    r = run_cli(
        "photos", "--count", "100", "--json", "--data-dir", str(data_dir),
        env={"MNIST_EDGE_MODELS": str(MODELS)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads(r.stdout)
    assert figures["photos"] == 100 and figures["right"] >= 70, figures  # 81.5 % of 1,000
    assert figures["misread"] - figures["misread_flagged"] <= 3, figures  # misreads flagged
