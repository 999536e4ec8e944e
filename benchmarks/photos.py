"""``mnist-edge photos``: MNIST test digits as people photograph them, read through
``predict``'s path, and how often a misread is flagged "not sure".

Each photo (seeded): the digit's ink in pencil grey or a pen's colour on paper with texture, a
lamp's light gradient, speckle, sensor noise and, in about half of them, a phone's hard shadow
across the page. Written as PNG and read back with ``read_image`` -> ``image_to_canvas`` ->
the recognizer, exactly as ``mnist-edge predict FILE`` reads a file.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mnist_edge.core.config import (
    DATA_DIR_HELP,
    add_options,
    build_config,
    force_option,
    option,
    require_int,
)
from mnist_edge.core.errors import UserError

SIZE = 160  # px: a phone photo cropped around one digit
PENS = ((35, 45, 150), (25, 25, 30), (170, 35, 35))  # blue, black, red ballpoint (RGB)


def photo(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 MNIST digit (ink 255 on 0) as an RGB photo of it on paper."""
    height = int(rng.integers(70, 121))
    ink_share = cv2.resize(digit, (height, height), interpolation=cv2.INTER_CUBIC)
    alpha = np.zeros((SIZE, SIZE), np.float32)
    top, left = (int(rng.integers(0, SIZE - height + 1)) for _ in range(2))
    alpha[top : top + height, left : left + height] = np.clip(ink_share, 0, 255) / 255.0
    paper = np.array([rng.uniform(215, 250)] * 3) * rng.uniform(0.96, 1.0, 3)
    if rng.random() < 0.5:  # pencil: grey graphite, lighter than any pen
        ink = np.array([rng.uniform(70, 140)] * 3)
        alpha *= rng.uniform(0.6, 0.95)
    else:
        ink = np.array(PENS[int(rng.integers(len(PENS)))], float)
    image = paper * (1 - alpha[..., None]) + ink * alpha[..., None]
    texture = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32), (0, 0), 1.5)
    image *= (1 + texture * rng.uniform(0.02, 0.05))[..., None]
    angle = rng.uniform(0, 2 * np.pi)  # the lamp: light falls off across the page
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    ramp = (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle) + 0.5
    image *= (1 - rng.uniform(0.15, 0.45) * np.clip(ramp, 0, 1))[..., None]
    if rng.random() < 0.5:  # the phone's shadow: a hard edge across the page
        a, b = rng.uniform(-1, 1, 2)
        side = (xx - 0.5) * a + (yy - 0.5) * b > rng.uniform(-0.3, 0.3)
        soft = cv2.GaussianBlur(side.astype(np.float32), (0, 0), 1.0)
        image *= (1 - rng.uniform(0.3, 0.55) * soft)[..., None]
    for _ in range(int(rng.integers(20, 150))):  # speckle: dust, paper fibres, pencil grains
        y, x = (int(v) for v in rng.integers(0, SIZE, 2))
        cv2.circle(image, (x, y), int(rng.integers(0, 2)), [float(rng.uniform(40, 150))] * 3, -1)
    image += rng.normal(0, rng.uniform(1.5, 4.0), image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class PhotoFigures:
    """What ``predict`` made of the photos."""

    photos: int
    right: int
    misread: int  # read as another digit
    misread_flagged: int  # of those, flagged "not sure"
    right_flagged: int  # right, but flagged "not sure"

    def lines(self) -> list[str]:
        n = max(1, self.photos)
        flagged = self.misread_flagged / max(1, self.misread)
        return [
            f"constructed photos of MNIST test digits: {self.photos}",
            f"read right: {self.right} ({self.right / n:.1%})",
            f"misread: {self.misread}, of them flagged 'not sure': {self.misread_flagged} "
            f"({flagged:.0%}); misread and sure: {self.misread - self.misread_flagged} "
            f"({(self.misread - self.misread_flagged) / n:.1%} of all)",
            f"right but flagged 'not sure': {self.right_flagged} ({self.right_flagged / n:.1%})",
        ]


def measure(recognizer: Any, digits: np.ndarray, labels: np.ndarray, seed: int) -> PhotoFigures:
    """Each digit photographed (seeded), saved as PNG, read as ``predict`` reads a file."""
    from mnist_edge.edge_app.image_file import read_image
    from mnist_edge.ink.preprocess import image_to_canvas

    rng = np.random.default_rng(seed)
    right = misread = misread_flagged = right_flagged = 0
    with tempfile.TemporaryDirectory(prefix="mnist-edge-photos-") as tmp:
        path = str(Path(tmp) / "photo.png")
        for digit, label in zip(digits, labels, strict=True):
            cv2.imwrite(path, cv2.cvtColor(photo(digit, rng), cv2.COLOR_RGB2BGR))
            reading = recognizer.read(image_to_canvas(read_image(path)))
            p = reading.prediction if reading is not None else None
            sure = p is not None and recognizer.sure(p)
            if p is not None and p.digit == int(label):
                right += 1
                right_flagged += not sure
            else:
                misread += 1
                misread_flagged += not sure
    return PhotoFigures(len(labels), right, misread, misread_flagged, right_flagged)


@dataclass(frozen=True)
class PhotosConfig:
    count: int = option(1000, "photos: the first N MNIST test digits")
    seed: int = option(0, "the photos' seed")
    model: str | None = option(None, "model file", default_text="the shipped model")
    runtime: str = option("auto", "runtime to read with")
    data_dir: str | None = option(None, DATA_DIR_HELP)
    save: str | None = option(None, "also write the first 20 photos as PNG into this folder")
    json: bool = option(False, "print the figures as one JSON object")
    force: bool = force_option()

    def __post_init__(self) -> None:
        require_int("--count", self.count, 1, 10_000)
        require_int("--seed", self.seed, 0, 2**31 - 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, PhotosConfig)


def run(args: argparse.Namespace) -> int:
    from mnist_edge.core.data import load_split
    from mnist_edge.core.fsutil import atomic_path
    from mnist_edge.edge_app.reading import choose_threshold, choose_tta, load_default
    from mnist_edge.edge_app.recognizer import Recognizer

    config = build_config(PhotosConfig, vars(args), args.config, section="photos")
    folder = Path(config.save) if config.save else None
    if folder is not None:  # before the slow start: a refused folder costs nothing
        if folder.exists() and not folder.is_dir():
            raise UserError(f"--save {folder} is a file; pass a folder for the sample photos")
        if not config.force and folder.is_dir() and any(folder.glob("photo-*.png")):
            raise UserError(
                f"--save {folder} already holds sample photos; choose another folder or pass "
                "--force to replace them"
            )
    model = load_default(config.model, config.runtime, None)
    tta = choose_tta(None, model)
    recognizer = Recognizer(model, choose_threshold(None, model, tta), tta)
    test = load_split("test", config.data_dir, limit=config.count)
    if folder is not None:
        rng = np.random.default_rng(config.seed)
        for i, (digit, label) in enumerate(zip(test.images[:20], test.labels[:20], strict=True)):
            with atomic_path(folder / f"photo-{i:02d}-{label}.png") as tmp:
                _, data = cv2.imencode(".png", cv2.cvtColor(photo(digit, rng), cv2.COLOR_RGB2BGR))
                Path(tmp).write_bytes(data.tobytes())
    figures = measure(recognizer, test.images, test.labels, config.seed)
    print(json.dumps(figures.__dict__) if config.json else "\n".join(figures.lines()))
    return 0
