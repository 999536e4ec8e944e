"""Pictures as people take them: shaded, specked paper is cleaned before ``to_mnist``; clean
pictures pass as before; the constructed photos read right and their misreads are flagged."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

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


def _shaded_seven(data_dir: Path) -> np.ndarray:
    """A 160x160 photo of a 7: a lamp's gradient, a hard shadow, speckle and sensor noise."""
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
    return np.clip(page, 0, 255).astype(np.uint8)


def test_a_seven_on_shaded_specked_paper_reads_seven(data_dir: Path, tmp_path: Path) -> None:
    picture = tmp_path / "seven.png"
    cv2.imwrite(str(picture), _shaded_seven(data_dir))
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


def _opened_shapes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """The shapes ``photo`` opens, recorded instead of opened: the bounded work, not a time (the
    opening of a large picture is what used to take minutes)."""
    shapes: list[tuple[int, ...]] = []

    def record(src: np.ndarray, op: int, kernel: np.ndarray) -> np.ndarray:
        shapes.append(src.shape)
        return src.copy()

    monkeypatch.setattr(photo.cv2, "morphologyEx", record)
    return shapes


def test_a_large_pictures_paper_is_estimated_on_bounded_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 12-megapixel photo's paper is estimated on at most WORK_PIXELS (the opening's cost grows
    with area times kernel: 400 s for this size at full resolution), and comes back full size."""
    shapes = _opened_shapes(monkeypatch)
    g = np.full((3024, 4032), 20.0, np.float32)
    g[1000:2000, 1500:1600] = 220.0  # a stroke
    photo.needs_cleaning(g)
    assert photo.paper(g).shape == g.shape
    assert len(shapes) == 2 and all(h * w <= photo.WORK_PIXELS for h, w in shapes), shapes
    assert shapes[0][1] / shapes[0][0] == pytest.approx(4032 / 3024, rel=0.01)  # its aspect


def test_pictures_up_to_the_work_size_are_estimated_at_full_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A VGA picture and smaller: the paper as it always was, so their readings are unchanged."""
    shapes = _opened_shapes(monkeypatch)
    for side in [(28, 28), (160, 160), (480, 640), (200, 1536)]:
        photo.paper(np.zeros(side, np.float32))
    assert shapes == [(28, 28), (160, 160), (480, 640), (200, 1536)]


def test_a_large_photo_reads_as_its_small_self(data_dir: Path) -> None:
    """The shaded seven photographed at ten times the size (2.6 megapixels) reads 7, surely,
    through the public API; its paper estimated small and stretched back."""
    import mnist_edge

    small = _shaded_seven(data_dir)
    large = cv2.resize(small, (1600, 1600), interpolation=cv2.INTER_CUBIC)
    assert large.size > photo.WORK_PIXELS
    assert photo.needs_cleaning(255 - large.astype(np.float32))  # the photo path, not a scan's
    read = mnist_edge.load().read_image(large)
    assert read.digit == 7 and read.sure, read
