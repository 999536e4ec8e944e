"""The first hour with ``bench``: it runs without MNIST, says what its columns mean, and picks
the file to deploy by one rule that one noisy measurement cannot turn."""

from __future__ import annotations

import json
from pathlib import Path

from mnist_edge.benchmarks.policy import SAME_SPEED, equally_fast, recommend, speed
from mnist_edge.benchmarks.results import Result
from mnist_edge.core.text import text_table
from tests.conftest import MODELS, QUICK_BENCH, run_cli


def _row(model: str, fmt: str, rounds: list[float], size: int, acc: float = 0.996) -> Result:
    return Result.from_json(
        {
            "model": model,
            "format": fmt,
            "runtime": "litert",
            "threads": 1,
            "status": "ok",
            "latency_us": {"p50": rounds[0]},
            "latency_rounds_us": rounds,
            "accuracy": acc,
            "bytes": size,
        }
    )


def test_one_noisy_round_does_not_move_the_choice() -> None:
    int8 = _row("edge-int8.tflite", "tflite-int8", [14, 15, 90], 68_000)
    fp16 = _row("edge-fp16.tflite", "tflite-fp16", [26, 25, 27], 117_000)
    assert speed(int8) == 15 and speed(fp16) == 26  # the median, not the 90 µs hiccup
    assert recommend([int8, fp16])["tflite"].model == "edge-int8.tflite"
    # A hiccup in the row's first round (its p50, all the rule read before) no longer flips it.
    late = _row("edge-int8.tflite", "tflite-int8", [90, 14, 15], 68_000)
    assert recommend([late, fp16])["tflite"].model == "edge-int8.tflite"


def test_ties_within_the_margin_go_to_the_smaller_file() -> None:
    small = _row("edge-int8.tflite", "tflite-int8", [50, 51, 52], 68_000, acc=0.9950)
    big = _row("edge-fp16.tflite", "tflite-fp16", [44, 45, 44], 117_000, acc=0.9958)
    assert equally_fast(small, big)  # 51 vs 44 µs: within SAME_SPEED
    assert recommend([small, big])["tflite"].model == "edge-int8.tflite"
    # Clearly slower (beyond the margin, rounds apart): the faster file wins despite its size.
    slow = _row("edge-int8.tflite", "tflite-int8", [79, 80, 81], 68_000)
    assert not equally_fast(slow, big) and 45 * (1 + SAME_SPEED) < 79
    assert recommend([slow, big])["tflite"].model == "edge-fp16.tflite"
    # Rounds that overlap are noise whatever the medians say.
    wobbly = _row("edge-int8.tflite", "tflite-int8", [40, 70, 75], 68_000)
    assert equally_fast(wobbly, big) and recommend([wobbly, big])["tflite"].model.endswith(
        "int8.tflite"
    )


def test_terminal_table_wraps_reasons_instead_of_cutting() -> None:
    reason = (
        "skipped: tflite-runtime is not installed: tflite-runtime 2.14 needs numpy < 2 and "
        "Python <= 3.11: install it in its own environment (docs/raspberry-pi.md)"
    )
    for wide in ("-", "x" * 70):  # a roomy status column, and one squeezed to the minimum
        text = text_table(["format", "wide", "status"], [["tflite-int8", wide, reason]])
        assert all(len(line) <= 100 for line in text.splitlines()), text
        assert " ".join(text.split()).endswith(" ".join(reason.split())), text
        assert "…" not in text


def test_bench_without_mnist_times_the_models_and_says_why(tmp_path: Path) -> None:
    """No MNIST anywhere and no network: latency, size and memory are measured, the accuracy
    columns stay empty and the output says why; the table has its legend and the rule."""
    out = tmp_path / "bench"
    env = {
        "MNIST_EDGE_DATA": "",  # no location named: the user cache (empty) is looked in
        "MNIST_EDGE_MIRRORS": "http://127.0.0.1:9/",  # the discard port: no network
    }
    args = [a for a in QUICK_BENCH if a not in ("--repeats", "1")]
    r = run_cli(
        "bench", "--models", str(MODELS / "edge-int8.tflite"), str(MODELS / "edge-fp16.tflite"),
        "--runtimes", "litert", "--out", str(out), "--repeats", "2", *args, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads((out / "results.json").read_text())["results"]
    assert len(rows) == 2
    for row in rows:
        assert row["status"] == "ok" and "accuracy" not in row and "robust_accuracy" not in row
        assert row["latency_us"]["p50"] > 0 and row["peak_rss_mb"] > 0 and row["bytes"] > 0
        assert len(row["latency_rounds_us"]) == 2  # rounds interleaved across the rows
    flat = " ".join(r.stdout.split())
    assert "no accuracy measured: could not download t10k-images" in flat
    assert "typeset in OpenCV's fonts" in flat and "--data-dir DIR" in flat
    assert "robust% the same test digits re-drawn" in flat  # the legend
    assert "no recommendation: no accuracy was measured" in flat and "smaller file" in flat
    assert not list((tmp_path / "cache").rglob("train-*"))  # never reached for training images
    md = (out / "results.md").read_text()
    assert "no accuracy (could not download" in md and "**robust%**" in md
