"""Styles in training (train --styles) and the held-out style test set (train.style_set)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_edge.ink.strokes import Sample, load_samples, save_samples
from mnist_edge.ink.styles import STYLES
from mnist_edge.train.drawn import load_drawn, split_writers
from mnist_edge.train.style_set import BASE, main
from mnist_edge.train.style_training import with_styles
from tests.conftest import DRAWN, MODELS


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real drawn digits of ten writers of one site, six of each digit at most per writer."""
    kept: list[Sample] = []
    count: dict[tuple[str, int], int] = {}
    writers: list[str] = []
    for sample in load_samples(DRAWN / "unipen-train.json"):
        writer = sample.writer or "?"
        if not writer.startswith("apb/"):
            continue
        if writer not in writers:
            if len(writers) == 10:
                continue
            writers.append(writer)
        key = (writer, int(sample.label))  # type: ignore[arg-type]
        if count.get(key, 0) < 6:
            count[key] = count.get(key, 0) + 1
            kept.append(sample)
    path = tmp_path_factory.mktemp("styles") / "ten-writers.json"
    save_samples(path, kept)
    return path


def test_style_set_uses_held_out_writers_only(small_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "set"
    assert main(["write", str(out), "--drawn", str(small_file), "--per-writer", "2"]) == 0
    samples = load_samples(small_file)
    held = split_writers(np.array([s.writer for s in samples]), 0.2, 0)
    assert held and len(held) < 10
    for name, style in STYLES.items():
        styled = load_samples(out / f"{name}.json")
        bases = load_samples(out / BASE / f"{name}.json")
        assert styled and len(styled) == len(bases) <= 2 * len(held)
        assert {s.writer for s in styled} <= held
        assert [s.label for s in styled] == [b.label for b in bases]
        assert all(s.label in style.digits for s in styled)
        assert all(s.strokes != b.strokes for s, b in zip(styled, bases, strict=True))
    # The same command again: the same files (seeded), refused without --force.
    assert main(["write", str(out), "--drawn", str(small_file), "--per-writer", "2"]) == 2
    again = tmp_path / "again"
    assert main(["write", str(again), "--drawn", str(small_file), "--per-writer", "2"]) == 0
    for name in STYLES:
        assert (again / f"{name}.json").read_bytes() == (out / f"{name}.json").read_bytes()


def test_style_report_reads_each_style_with_the_shipped_models(
    small_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "set"
    main(["write", str(out), "--drawn", str(small_file), "--per-writer", "1"])
    figures = tmp_path / "report.json"
    args = ["report", str(out), "--image", str(MODELS / "edge-int8.tflite"), "--tta", "1"]
    args += ["--pen", str(MODELS / "pen-int8.tflite"), "--out", str(figures)]
    assert main(args) == 0

    result = json.loads(figures.read_text())
    (rows,) = result.values()
    assert set(rows) == set(STYLES)
    for name, row in rows.items():
        assert row["samples"] == len(load_samples(out / f"{name}.json"))
        for key in ("image", "base_image", "pen", "fused"):
            assert 0.0 <= row[key] <= 1.0
    assert np.mean([r["base_image"] for r in rows.values()]) > 0.8  # real digits read well


def test_style_report_never_writes_over_what_it_reads_or_an_existing_file(
    small_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "set"
    main(["write", str(out), "--drawn", str(small_file), "--per-writer", "1"])
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    drawings = tmp_path / "drawings.json"
    drawings.write_bytes(small_file.read_bytes())
    files = {p: p.read_bytes() for p in [*out.rglob("*.json"), kept, drawings]}
    report = ["report", str(out), "--image", str(MODELS / "edge-int8.tflite"), "--tta", "1"]
    cases = [(next(out.glob("*.json")), "also read"), (next(out.glob("*/*.json")), "also read")]
    cases += [(drawings, "labelled drawings"), (MODELS / "edge-int8.tflite", "also read")]
    for target, words in cases:
        assert main([*report, "--out", str(target), "--force"]) == 2
        assert words in capsys.readouterr().err
    assert main([*report, "--out", str(kept)]) == 2 and "--force" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in files} == files
    assert main([*report, "--out", str(kept), "--force"]) == 0 and kept.read_bytes() != b"{}"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["write", "OUT"], "--drawn FILE ... is required"),
        (["report", "EMPTY", "--image", "models/edge-int8.tflite"], "holds no style file"),
        (["report", "EMPTY"], "--image FILE ... is required"),
        (["write", "AFILE", "--drawn", "x.json"], "is not a directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    (tmp_path / "EMPTY").mkdir()
    (tmp_path / "AFILE").write_text("kept")
    args = [a.replace("OUT", str(tmp_path / "o")).replace("EMPTY", str(tmp_path / "EMPTY"))
            .replace("AFILE", str(tmp_path / "AFILE")) for a in args]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "mnist_edge.train.style_set", *args],
        capture_output=True,
        text=True,
        cwd=MODELS.parent,
        timeout=120,
    )
    assert done.returncode == 2
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() and (tmp_path / "AFILE").read_text() == "kept"


def test_styles_join_the_training_writers_digits_only(small_file: Path) -> None:
    drawn = load_drawn((str(small_file),), cache=False)
    held = split_writers(drawn.writers, 0.2, 0)
    train = drawn.subset(~np.isin(drawn.writers, sorted(held)))
    mixed = with_styles(train, (str(small_file),), 0.25, seed=0)
    added = len(mixed) - len(train)
    base = len(set(train.sample.tolist()))
    assert added == 2 * round(base / 3)  # a quarter of the result, two renderings each
    new = slice(len(train), None)
    assert set(mixed.writers[new].tolist()) <= set(train.writers.tolist())
    assert not set(mixed.writers[new].tolist()) & held
    assert set(mixed.sample[new].tolist()).isdisjoint(train.sample.tolist())
    assert mixed.images[new].max() == 255 and mixed.images.dtype == np.uint8
    own = np.isin(mixed.labels[new], [0, 1, 2, 4, 7, 9]).mean()
    assert own > 0.6  # mostly digits with styles of their own; the rest slanted
    again = with_styles(train, (str(small_file),), 0.25, seed=0)
    assert np.array_equal(again.images, mixed.images)
    assert with_styles(train, (str(small_file),), 0.0, seed=0) is train


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"styles": 0.2}, "--styles redraws drawn digits"),
        ({"styles": 0.9, "drawn": ("x.json",)}, "--styles must be"),
        ({"styles": float("nan"), "drawn": ("x.json",)}, "--styles must be"),
    ],
)
def test_styles_option_is_checked(options: dict, words: str) -> None:
    from mnist_edge.core.errors import UserError
    from mnist_edge.train.config import TrainConfig

    with pytest.raises(UserError, match=words):
        TrainConfig(**options)
