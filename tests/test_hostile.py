"""Hostile input to every ``mnist-edge`` command (``data`` and the download layer excepted).

The rule under test: bad input gets ONE line on stderr (``mnist-edge: error: ...``), exit status
2, no traceback, nothing half-written or left behind (no ``.mnist-edge-tmp-*`` file, no lock, no
new empty folder) and no hang. Every case is rejected before any heavy work: where a broken
implementation could slip past the check, the other flags keep the work it would start small
(``--epochs 1 --limit 20``, a one-model benchmark of 10 images), and every run has a deadline.

Each case is ``(id, argv, files, fragments)``: ``files`` are created under ``tmp_path`` first,
``{tmp}`` and ``{models}`` in the arguments stand for ``tmp_path`` and the shipped models folder,
and every fragment must appear in the one error line.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MODELS, assert_user_error, run_cli

TIMEOUT = 60
STROKES = "mnist-edge-strokes/1"
DIR = object()  # a folder, not a file
LEFTOVERS = (".mnist-edge-tmp-", ".mnist-edge.lock", ".mnist-edge-write-test-")


# ----------------------------------------------------------------------------- file builders


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png(width: int, height: int, pixels: bytes) -> bytes:
    """A grayscale 8-bit PNG, written by hand: ``pixels`` are the filtered rows, compressed."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(pixels))
        + _chunk(b"IEND", b"")
    )


def png(width: int, height: int, value: int = 255) -> bytes:
    return _png(width, height, b"".join(b"\x00" + bytes([value]) * width for _ in range(height)))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header announcing ``width`` x ``height`` pixels with almost no data behind it."""
    return _png(width, height, b"\x00" * 64)


def digit_png() -> bytes:
    """A 28x28 white picture with a black vertical bar: a readable '1'."""
    return _png(28, 28, (b"\x00" + b"\xff" * 12 + b"\x00" * 4 + b"\xff" * 12) * 28)


def replay(*samples: Any, fmt: str = STROKES) -> str:
    return json.dumps({"format": fmt, "samples": list(samples)})


ONE_STROKE = [[0.5, 0.1], [0.5, 0.9]]


def head(name: str, size: int) -> Callable[[Path], bytes]:
    return lambda tmp: (MODELS / name).read_bytes()[:size]


def copy_of(name: str) -> Callable[[Path], bytes]:
    return lambda tmp: (MODELS / name).read_bytes()


def real_entry(name: str, **changes: Any) -> dict[str, Any]:
    manifest = json.loads((MODELS / "manifest.json").read_text())
    entry = next(e for e in manifest["models"] if e["file"] == name)
    return {**entry, **changes}


def manifest_with(*entries: Any) -> Callable[[Path], str]:
    """The shipped manifest with its models list replaced (entries may use ``{tmp}``)."""

    def build(tmp: Path) -> str:
        manifest = json.loads((MODELS / "manifest.json").read_text())
        manifest["models"] = json.loads(json.dumps(list(entries)).replace("{tmp}", str(tmp)))
        return json.dumps(manifest)

    return build


def wrong_checksums(tmp: Path) -> str:
    manifest = json.loads((MODELS / "manifest.json").read_text())
    for entry in manifest["models"]:
        entry["sha256"] = "0" * 64
    return json.dumps(manifest)


def shipped_copy() -> tuple[tuple[str, Any], ...]:
    """Every shipped model file copied into ``m/`` (the manifest is written by the case)."""
    return tuple(
        (f"m/{p.name}", copy_of(p.name))
        for p in sorted(MODELS.iterdir())
        if p.suffix in (".tflite", ".onnx")
    )


# 10 MB of valid TOML. Its first line is an invalid setting, so an implementation that reads
# only a prefix of the file fails on --epochs (naming the flag, not the file) and never trains.
BIG_TOML = "epochs = 0\n" + ("# " + "x" * 76 + "\n") * (10 * 1024 * 1024 // 80)
BIG_DRAW_TOML = "[draw]\nheadless = true\n" + ("# " + "x" * 76 + "\n") * (10 * 1024 * 1024 // 80)
WORK = ("--epochs", "1", "--limit", "20")  # if a check ever slips, training stays tiny
BENCH = (
    "--models", "{models}/edge-int8.tflite", "--runtimes", "litert", "--limit", "10",
    "--warmup", "0", "--min-runs", "1", "--min-time", "0", "--no-cold-start", "--no-robust",
    "--out", "{tmp}/bench",
)  # fmt: skip
BENCH_DIR = (
    "--runtimes", "litert", "--limit", "10", "--warmup", "0", "--min-runs", "1",
    "--min-time", "0", "--no-cold-start", "--no-robust", "--out", "{tmp}/bench",
)  # fmt: skip
GARBAGE_KERAS = ("m.keras", b"PK\x03\x04 this is not a keras archive" * 10)
DRAW = ("draw", "--headless")


def bench(*flags: str) -> tuple[str, ...]:
    """``bench`` with cheap settings, the flags under test replacing the cheap ones."""
    base = list(BENCH)
    for flag in flags:
        if flag.startswith("--") and flag in base:
            i = base.index(flag)
            del base[i : i + (1 if flag.startswith("--no-") else 2)]
    return ("bench", *base, *flags)


# ----------------------------------------------------------------------------- the cases

# (id, argv, files, fragments)
CASES: list[tuple[str, tuple[str, ...], tuple[tuple[str, Any], ...], tuple[str, ...]]] = [
    # ---- train: numeric flags
    (
        "train-batch-size-huge",
        ("train", *WORK, "--batch-size", "1000000000"),
        (),
        ("--batch-size",),
    ),
    ("train-batch-size-0", ("train", *WORK, "--batch-size", "0"), (), ("--batch-size",)),
    ("train-epochs-0", ("train", "--limit", "20", "--epochs", "0"), (), ("--epochs",)),
    ("train-epochs-negative", ("train", "--limit", "20", "--epochs", "-1"), (), ("--epochs",)),
    ("train-epochs-huge", ("train", "--limit", "20", "--epochs", str(10**9)), (), ("--epochs",)),
    ("train-epochs-not-int", ("train", "--limit", "20", "--epochs", "ten"), (), ("--epochs",)),
    ("train-seed-huge", ("train", *WORK, "--seed", "99999999999"), (), ("--seed",)),
    ("train-seed-negative", ("train", *WORK, "--seed", "-1"), (), ("--seed",)),
    ("train-lr-0", ("train", *WORK, "--lr", "0"), (), ("--lr",)),
    ("train-lr-5", ("train", *WORK, "--lr", "5"), (), ("--lr",)),
    ("train-lr-nan", ("train", *WORK, "--lr", "nan"), (), ("--lr",)),
    ("train-lr-inf", ("train", *WORK, "--lr", "inf"), (), ("--lr",)),
    ("train-limit-3", ("train", "--epochs", "1", "--limit", "3"), (), ("--limit",)),
    ("train-limit-huge", ("train", "--epochs", "1", "--limit", str(10**9)), (), ("--limit",)),
    ("train-patience-0", ("train", *WORK, "--patience", "0"), (), ("--patience",)),
    ("train-drawn-share-1", ("train", *WORK, "--drawn-share", "1"), (), ("--drawn-share",)),
    (
        "train-label-smoothing-nan",
        ("train", *WORK, "--label-smoothing", "nan"),
        (),
        ("--label-smoothing",),
    ),
    ("train-arch-unknown", ("train", *WORK, "--arch", "bogus"), (), ("bogus",)),
    ("train-augment-unknown", ("train", *WORK, "--augment", "bogus"), (), ("bogus",)),
    ("train-strategy-unknown", ("train", *WORK, "--strategy", "bogus"), (), ("bogus",)),
    (
        "train-out-is-file",
        ("train", *WORK, "--out", "{tmp}/out.txt"),
        (("out.txt", "x"),),
        ("out.txt",),
    ),
    # ---- train: TOML config files
    (
        "train-config-epochs-string",
        ("train", "--config", "{tmp}/c.toml"),
        (("c.toml", 'epochs = "ten"\nlimit = 20\n'),),
        ("epochs",),
    ),
    (
        "train-config-out-int",
        ("train", *WORK, "--config", "{tmp}/c.toml"),
        (("c.toml", "out = 5\n"),),
        ("out",),
    ),
    (
        "train-config-section-out-int",
        ("train", *WORK, "--config", "{tmp}/c.toml"),
        (("c.toml", "[train]\nout = 5\n"),),
        ("out",),
    ),
    (
        "train-config-unknown-key",
        ("train", *WORK, "--config", "{tmp}/c.toml"),
        (("c.toml", "bogus_key = 1\n"),),
        ("bogus_key",),
    ),
    (
        "train-config-not-utf8",
        ("train", *WORK, "--config", "{tmp}/c.toml"),
        (("c.toml", b"\xff\xfe\x00"),),
        ("c.toml", "UTF-8"),
    ),
    (
        "train-config-folder",
        ("train", *WORK, "--config", "{tmp}/c.toml"),
        (("c.toml", DIR),),
        ("c.toml", "folder"),
    ),
    ("train-config-missing", ("train", *WORK, "--config", "{tmp}/none.toml"), (), ("none.toml",)),
    (
        "train-config-invalid-toml",
        ("train", *WORK, "--config", "{tmp}/c.toml"),
        (("c.toml", "epochs = = 3\n[[["),),
        ("c.toml", "TOML"),
    ),
    (
        "train-config-drawn-int",
        ("train", *WORK, "--config", "{tmp}/c.toml"),
        (("c.toml", "drawn = 5\n"),),
        ("drawn",),
    ),
    (
        "train-config-10mb",
        ("train", "--out", "{tmp}/run", "--config", "{tmp}/big.toml"),
        (("big.toml", BIG_TOML),),
        ("big.toml",),
    ),
    (
        "draw-config-10mb",
        (*DRAW, "--config", "{tmp}/big.toml"),
        (("big.toml", BIG_DRAW_TOML),),
        ("big.toml",),
    ),
    # ---- train: drawn digits
    (
        "train-drawn-wrong-format",
        ("train", *WORK, "--drawn", "{tmp}/d.json"),
        (("d.json", replay({"strokes": [ONE_STROKE], "label": 1, "writer": "a"}, fmt="x/9")),),
        ("d.json", "format"),
    ),
    (
        "train-drawn-labels-missing",
        ("train", *WORK, "--drawn", "{tmp}/d.json"),
        (("d.json", replay(*[{"strokes": [ONE_STROKE], "writer": f"w{i}"} for i in range(5)])),),
        ("d.json", "label"),
    ),
    (
        "train-drawn-label-11",
        ("train", *WORK, "--drawn", "{tmp}/d.json"),
        (("d.json", replay({"strokes": [ONE_STROKE], "label": 11, "writer": "a"})),),
        ("d.json", "label"),
    ),
    (
        "train-drawn-not-json",
        ("train", *WORK, "--drawn", "{tmp}/d.json"),
        (("d.json", "label,strokes\n1,2\n"),),
        ("d.json",),
    ),
    ("train-drawn-missing", ("train", *WORK, "--drawn", "{tmp}/nope.json"), (), ("nope.json",)),
    (
        "train-drawn-eval-missing",
        ("train", *WORK, "--drawn-eval", "{tmp}/nope.json"),
        (),
        ("nope.json",),
    ),
    # ---- evaluate
    (
        "evaluate-missing-model",
        ("evaluate", "--model", "{tmp}/missing.keras", "--data-dir", "/nonexistent"),
        (),
        ("missing.keras",),
    ),
    (
        "evaluate-model-folder",
        ("evaluate", "--model", "{tmp}/dir.keras", "--data-dir", "/nonexistent"),
        (("dir.keras", DIR),),
        ("dir.keras", "folder"),
    ),
    (
        "evaluate-model-garbage",
        ("evaluate", "--model", "{tmp}/m.keras", "--data-dir", "/nonexistent"),
        (GARBAGE_KERAS,),
        ("m.keras",),
    ),
    ("evaluate-no-model", ("evaluate",), (), ("--model",)),
    # ---- export (a garbage model.keras: a check that slips fails on the model, never exports)
    (
        "export-calibration-samples-1",
        ("export", "--model", "{tmp}/m.keras", "--calibration-samples", "1"),
        (GARBAGE_KERAS,),
        ("--calibration-samples",),
    ),
    (
        "export-opset-5",
        ("export", "--model", "{tmp}/m.keras", "--opset", "5"),
        (GARBAGE_KERAS,),
        ("--opset",),
    ),
    (
        "export-formats-coreml",
        ("export", "--model", "{tmp}/m.keras", "--formats", "coreml"),
        (GARBAGE_KERAS,),
        ("coreml",),
    ),
    (
        "export-formats-empty",
        ("export", "--model", "{tmp}/m.keras", "--formats", ","),
        (GARBAGE_KERAS,),
        ("format",),
    ),
    (
        "export-min-agreement-2",
        ("export", "--model", "{tmp}/m.keras", "--min-agreement", "int8=2"),
        (GARBAGE_KERAS,),
        ("--min-agreement",),
    ),
    (
        "export-min-agreement-bogus",
        ("export", "--model", "{tmp}/m.keras", "--min-agreement", "bogus"),
        (GARBAGE_KERAS,),
        ("--min-agreement",),
    ),
    (
        "export-min-agreement-nan",
        ("export", "--model", "{tmp}/m.keras", "--min-agreement", "int8=nan"),
        (GARBAGE_KERAS,),
        ("--min-agreement",),
    ),
    (
        "export-min-agreement-unknown-precision",
        ("export", "--model", "{tmp}/m.keras", "--min-agreement", "int4=0.9"),
        (GARBAGE_KERAS,),
        ("int4",),
    ),
    (
        "export-seed-negative",
        ("export", "--model", "{tmp}/m.keras", "--seed", "-1"),
        (GARBAGE_KERAS,),
        ("--seed",),
    ),
    (
        "export-seed-huge",
        ("export", "--model", "{tmp}/m.keras", "--seed", str(10**30)),
        (GARBAGE_KERAS,),
        ("--seed",),
    ),
    (
        "export-config-formats-int",
        ("export", "--model", "{tmp}/m.keras", "--config", "{tmp}/c.toml"),
        (GARBAGE_KERAS, ("c.toml", "formats = 5\n")),
        ("formats",),
    ),
    (
        "export-config-opset-string",
        ("export", "--model", "{tmp}/m.keras", "--config", "{tmp}/c.toml"),
        (GARBAGE_KERAS, ("c.toml", '[export]\nopset = "17"\n')),
        ("opset",),
    ),
    (
        "export-model-folder",
        ("export", "--model", "{tmp}/x.keras", "--out", "{tmp}/out"),
        (("x.keras", DIR),),
        ("x.keras", "folder"),
    ),
    (
        "export-model-garbage",
        ("export", "--model", "{tmp}/x.keras", "--out", "{tmp}/out"),
        (("x.keras", os.urandom(4096)),),
        ("x.keras",),
    ),
    (
        "export-model-folder-out-file",
        ("export", "--model", "{tmp}/x.keras", "--out", "{tmp}/out.txt"),
        (("x.keras", DIR), ("out.txt", "not a folder")),
        (),  # either problem may be named first
    ),
    (
        "export-model-garbage-out-file",
        ("export", "--model", "{tmp}/x.keras", "--out", "{tmp}/out.txt"),
        (("x.keras", os.urandom(4096)), ("out.txt", "not a folder")),
        (),
    ),
    (
        "export-out-is-file",
        ("export", "--model", "{models}/model.keras", "--out", "{tmp}/out.txt"),
        (("out.txt", "not a folder"),),
        ("out.txt",),
    ),
    ("export-no-model", ("export",), (), ("--model",)),
    # ---- bench
    ("bench-threads-huge", bench("--threads", "100000"), (), ("--threads",)),
    ("bench-threads-0", bench("--threads", "0"), (), ("--threads",)),
    ("bench-batch-sizes-0", bench("--batch-sizes", "0"), (), ("--batch-sizes",)),
    ("bench-batch-sizes-abc", bench("--batch-sizes", "abc"), (), ("--batch-sizes",)),
    ("bench-batch-sizes-huge", bench("--batch-sizes", str(10**9)), (), ("--batch-sizes",)),
    ("bench-min-runs-0", bench("--min-runs", "0"), (), ("--min-runs",)),
    ("bench-timeout-0", bench("--timeout", "0"), (), ("--timeout",)),
    ("bench-timeout-nan", bench("--timeout", "nan"), (), ("--timeout",)),
    ("bench-tta-99", bench("--tta", "99"), (), ("--tta",)),
    ("bench-limit-0", bench("--limit", "0"), (), ("--limit",)),
    ("bench-min-time-nan", bench("--min-time", "nan"), (), ("--min-time",)),
    ("bench-warmup-negative", bench("--warmup", "-1"), (), ("--warmup",)),
    ("bench-min-accuracy-2", bench("--min-accuracy", "2"), (), ("--min-accuracy",)),
    ("bench-min-accuracy-nan", bench("--min-accuracy", "nan"), (), ("--min-accuracy",)),
    ("bench-runtimes-unknown", bench("--runtimes", "bogus"), (), ("bogus",)),
    ("bench-runtime-python-bad", bench("--runtime-python", "foo=bar"), (), ("--runtime-python",)),
    ("bench-isolation-unknown", bench("--isolation", "bogus"), (), ("--isolation",)),
    ("bench-models-missing", bench("--models", "{tmp}/nope.tflite"), (), ("nope.tflite",)),
    (
        "bench-out-is-file",
        bench("--out", "{tmp}/out.txt"),
        (("out.txt", "not a folder"),),
        ("out.txt",),
    ),
    (
        "bench-drawn-eval-bad",
        bench("--drawn-eval", "{tmp}/d.json"),
        (("d.json", replay({"strokes": [ONE_STROKE], "label": 11})),),
        ("d.json", "label"),
    ),
    (
        "bench-config-threads-true",
        bench("--config", "{tmp}/c.toml"),
        (("c.toml", "[bench]\nthreads = true\n"),),
        ("threads",),
    ),
    (
        "bench-config-unknown-key",
        bench("--config", "{tmp}/c.toml"),
        (("c.toml", "[bench]\nspeed = 9\n"),),
        ("speed",),
    ),
    # ---- draw: flags
    ("draw-threads-huge", (*DRAW, "--threads", "100000"), (), ("--threads",)),
    ("draw-threads-0", (*DRAW, "--threads", "0"), (), ("--threads",)),
    ("draw-brush-0", (*DRAW, "--brush", "0"), (), ("--brush",)),
    ("draw-brush-fraction", (*DRAW, "--brush", "1.5"), (), ("--brush",)),
    ("draw-brush-huge", (*DRAW, "--brush", "100000"), (), ("--brush",)),
    ("draw-fps-0", (*DRAW, "--fps", "0"), (), ("--fps",)),
    ("draw-size-tiny", (*DRAW, "--size", "80x40"), (), ("--size",)),
    ("draw-size-huge", (*DRAW, "--size", "99999x99999"), (), ("--size",)),
    ("draw-size-abc", (*DRAW, "--size", "abc"), (), ("--size",)),
    ("draw-size-superscript-digits", (*DRAW, "--size", "²⁴⁰x480"), (), ("--size",)),
    ("draw-rotate-45", (*DRAW, "--rotate", "45"), (), ("--rotate",)),
    ("draw-threshold-2", (*DRAW, "--threshold", "2"), (), ("--threshold",)),
    ("draw-threshold-negative", (*DRAW, "--threshold", "-1"), (), ("--threshold",)),
    ("draw-threshold-nan", (*DRAW, "--threshold", "nan"), (), ("--threshold",)),
    ("draw-tta-0", (*DRAW, "--tta", "0"), (), ("--tta",)),
    ("draw-tta-50", (*DRAW, "--tta", "50"), (), ("--tta",)),
    ("draw-runtime-unknown", (*DRAW, "--runtime", "bogus"), (), ("--runtime",)),
    ("draw-collect-count-0", (*DRAW, "--collect-count", "0"), (), ("--collect-count",)),
    ("draw-writer-empty", (*DRAW, "--writer", ""), (), ("--writer",)),
    (
        "draw-replay-and-reset-profile",
        (*DRAW, "--reset-profile", "--replay", "{tmp}/r.json"),
        (("r.json", replay({"strokes": [ONE_STROKE]})),),
        ("--reset-profile",),
    ),
    # ---- draw: TOML config files
    (
        "draw-config-size-int",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", "size = 800\n"),),
        ("size",),
    ),
    (
        "draw-config-threshold-int-beyond-a-float",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", "[draw]\nthreshold = " + "9" * 400 + "\n"),),
        ("threshold must be a number from 0 to 1",),
    ),
    (
        "draw-config-keys-outside-its-table",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", "multi = true\nfps = 5\n[draw]\nheadless = true\n"),),
        ("fps, multi outside its [draw] table",),
    ),
    (
        "draw-config-size-list-tiny",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", "[draw]\nsize = [1, 1]\n"),),
        ("size",),
    ),
    (
        "draw-config-size-list-strings",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", '[draw]\nsize = ["a", "b"]\n'),),
        ("size",),
    ),
    (
        "draw-config-brush-float",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", "brush = 1.5\n"),),
        ("brush",),
    ),
    (
        "draw-config-multi-string",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", 'multi = "no"\n'),),
        ("multi",),
    ),
    (
        "draw-config-threads-bool",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", "threads = true\n"),),
        ("threads",),
    ),
    (
        "draw-config-profile-int",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", "[draw]\nprofile = 5\n"),),
        ("profile",),
    ),
    (
        "draw-config-unknown-key",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", '[draw]\ncolour = "red"\n'),),
        ("colour",),
    ),
    (
        "draw-config-not-utf8",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", b"\xff\xfe\x00"),),
        ("c.toml", "UTF-8"),
    ),
    (
        "draw-config-folder",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", DIR),),
        ("c.toml", "folder"),
    ),
    (
        "draw-config-invalid-toml",
        (*DRAW, "--config", "{tmp}/c.toml"),
        (("c.toml", "[draw\nsize = \n"),),
        ("c.toml", "TOML"),
    ),
    # ---- draw: model files
    (
        "draw-model-empty",
        (*DRAW, "--model", "{tmp}/empty.tflite"),
        (("empty.tflite", b""),),
        ("empty.tflite",),
    ),
    (
        "draw-model-truncated-tflite",
        (*DRAW, "--model", "{tmp}/cut.tflite"),
        (("cut.tflite", head("edge-int8.tflite", 3000)),),
        ("cut.tflite",),
    ),
    (
        "draw-model-random-onnx",
        (*DRAW, "--model", "{tmp}/rand.onnx"),
        (("rand.onnx", os.urandom(8192)),),
        ("rand.onnx",),
    ),
    (
        "draw-model-onnx-named-tflite",
        (*DRAW, "--model", "{tmp}/swap.tflite"),
        (("swap.tflite", copy_of("edge-int8.onnx")),),
        ("swap.tflite",),
    ),
    (
        "draw-model-txt",
        (*DRAW, "--model", "{tmp}/model.txt"),
        (("model.txt", "hello"),),
        ("model.txt",),
    ),
    (
        "draw-model-folder",
        (*DRAW, "--model", "{tmp}/dir.tflite"),
        (("dir.tflite", DIR),),
        ("dir.tflite", "folder"),
    ),
    ("draw-model-missing", (*DRAW, "--model", "{tmp}/nope.tflite"), (), ("nope.tflite",)),
    # ---- draw: replay files
    (
        "replay-100k-point-stroke",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", replay({"strokes": [[[0.5, i / 100000] for i in range(100000)]]})),),
        ("r.json",),
    ),
    (
        "replay-10e400-coordinate",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (
            (
                "r.json",
                '{"format": "'
                + STROKES
                + '", "samples": [{"strokes": [[[1'
                + "0" * 400
                + ", 0.5], [0.5, 0.5]]]}]}",
            ),
        ),
        ("r.json",),
    ),
    (
        "replay-nan-coordinate",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", '{"format": "' + STROKES + '", "samples": [{"strokes": [[[NaN, 0.5]]]}]}'),),
        ("r.json",),
    ),
    (
        "replay-deeply-nested",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", "[" * 100000),),
        ("r.json",),
    ),
    (
        "replay-deeply-nested-in-sample",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (
            (
                "r.json",
                '{"format": "' + STROKES + '", "samples": ' + "[" * 100000 + "]" * 100000 + "}",
            ),
        ),
        ("r.json",),
    ),
    (
        "replay-5mb-writer",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", replay({"strokes": [ONE_STROKE], "writer": "w" * 5_000_000})),),
        ("r.json", "writer"),
    ),
    (
        "replay-5mb-whitespace",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", " " * 5_000_000),),
        ("r.json",),
    ),
    (
        "replay-wrong-format",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", replay({"strokes": [ONE_STROKE]}, fmt="mnist-edge-strokes/9")),),
        ("r.json", "format"),
    ),
    (
        "replay-top-level-list",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", "[]"),),
        ("r.json",),
    ),
    (
        "replay-samples-not-list",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", json.dumps({"format": STROKES, "samples": "all"})),),
        ("r.json", "samples"),
    ),
    (
        "replay-label-11",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", replay({"strokes": [ONE_STROKE], "label": 11})),),
        ("r.json", "label"),
    ),
    (
        "replay-label-bool",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", replay({"strokes": [ONE_STROKE], "label": True})),),
        ("r.json", "label"),
    ),
    (
        "replay-writer-not-string",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", replay({"strokes": [ONE_STROKE], "writer": 7})),),
        ("r.json", "writer"),
    ),
    (
        "replay-point-three-numbers",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", replay({"strokes": [[[0.1, 0.2, 0.3]]]})),),
        ("r.json", "point"),
    ),
    (
        "replay-too-many-strokes",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", replay({"strokes": [ONE_STROKE] * 1000})),),
        ("r.json", "strokes"),
    ),
    (
        "replay-not-json",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", "strokes: yes"),),
        ("r.json", "JSON"),
    ),
    (
        "replay-not-utf8",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", b"\xff\xfe\x00{"),),
        ("r.json",),
    ),
    ("replay-missing", (*DRAW, "--replay", "{tmp}/nope.json"), (), ("nope.json",)),
    (
        "replay-folder",
        (*DRAW, "--replay", "{tmp}/r.json"),
        (("r.json", DIR),),
        ("r.json", "folder"),
    ),
    # ---- draw: output files
    (
        "record-missing-folder",
        (*DRAW, "--record", "{tmp}/nope/rec.json"),
        (),
        ("--record", "does not exist"),
    ),
    (
        "record-onto-folder",
        (*DRAW, "--record", "{tmp}/rec.json"),
        (("rec.json", DIR),),
        ("--record", "folder"),
    ),
    (
        "screenshot-missing-folder",
        (*DRAW, "--screenshot", "{tmp}/nope/shot.png"),
        (),
        ("--screenshot", "does not exist"),
    ),
    (
        "screenshot-onto-folder",
        (*DRAW, "--screenshot", "{tmp}/shot.png"),
        (("shot.png", DIR),),
        ("--screenshot", "folder"),
    ),
    (
        "screenshot-under-file",
        (*DRAW, "--screenshot", "{tmp}/file.txt/shot.png"),
        (("file.txt", "a file, not a folder"),),
        ("--screenshot",),
    ),
    ("screenshot-not-png", (*DRAW, "--screenshot", "{tmp}/shot.jpg"), (), ("--screenshot",)),
    (
        "collect-onto-folder",
        (*DRAW, "--collect", "{tmp}/c.json"),
        (("c.json", DIR),),
        ("--collect", "folder"),
    ),
    (
        "collect-malformed-existing",
        (*DRAW, "--collect", "{tmp}/c.json"),
        (("c.json", '{"format": "something else"}'),),
        ("c.json",),
    ),
    (
        "collect-missing-folder",
        (*DRAW, "--collect", "{tmp}/nope/c.json"),
        (),
        ("--collect", "does not exist"),
    ),
    ("profile-dotdot", (*DRAW, "--profile", "../evil"), (), ("profile",)),
    ("profile-empty", (*DRAW, "--profile", ""), (), ("profile",)),
    ("profile-slash", (*DRAW, "--profile", "a/b"), (), ("profile",)),
    # ---- predict
    (
        "predict-1x1-png",
        ("predict", "{tmp}/tiny.png"),
        (("tiny.png", png(1, 1)),),
        ("tiny.png",),
    ),
    (
        "predict-1xN-png",
        ("predict", "{tmp}/thin.png"),
        (("thin.png", png(1, 500)),),
        ("thin.png",),
    ),
    (
        "predict-claims-huge-png",
        ("predict", "{tmp}/huge.png"),
        (("huge.png", png_claiming(100000, 100000)),),
        ("huge.png",),
    ),
    (
        "predict-non-image",
        ("predict", "{tmp}/text.png"),
        (("text.png", "this is text, not a picture\n"),),
        ("text.png",),
    ),
    (
        "predict-folder",
        ("predict", "{tmp}/dir.png"),
        (("dir.png", DIR),),
        ("dir.png", "folder"),
    ),
    ("predict-missing", ("predict", "{tmp}/nope.png"), (), ("nope.png",)),
    (
        "predict-threshold-3",
        ("predict", "--threshold", "3", "{tmp}/digit.png"),
        (("digit.png", digit_png()),),
        ("--threshold",),
    ),
    (
        "predict-threshold-nan",
        ("predict", "--threshold", "nan", "{tmp}/digit.png"),
        (("digit.png", digit_png()),),
        ("--threshold",),
    ),
    (
        "predict-tta-0",
        ("predict", "--tta", "0", "{tmp}/digit.png"),
        (("digit.png", digit_png()),),
        ("--tta",),
    ),
    (
        "predict-model-txt",
        ("predict", "--model", "{tmp}/m.txt", "{tmp}/digit.png"),
        (("digit.png", digit_png()), ("m.txt", "hi")),
        ("m.txt",),
    ),
    (
        "predict-model-truncated",
        ("predict", "--model", "{tmp}/cut.tflite", "{tmp}/digit.png"),
        (("digit.png", digit_png()), ("cut.tflite", head("edge-int8.tflite", 3000))),
        ("cut.tflite",),
    ),
    ("predict-no-images", ("predict",), (), ("IMAGE",)),
    # ---- argparse
    ("argparse-unknown-subcommand", ("frobnicate",), (), ("frobnicate",)),
    ("argparse-no-subcommand", (), (), ("COMMAND",)),
    ("argparse-unknown-top-flag", ("--frob", "draw"), (), ("--frob",)),
    ("argparse-unknown-flag-draw", (*DRAW, "--bogus"), (), ("--bogus",)),
    ("argparse-unknown-flag-train", ("train", "--bogus"), (), ("--bogus",)),
    ("argparse-missing-value", ("train", "--epochs"), (), ("--epochs",)),
    ("argparse-missing-value-bench", ("bench", "--threads"), (), ("--threads",)),
    # ---- pipeline (every stage's settings are checked before training)
    (
        "pipeline-bench-min-time-negative",
        ("pipeline", *WORK, "--out", "{tmp}/p", "--bench-min-time", "-1"),
        (),
        ("min-time",),
    ),
    (
        "pipeline-bench-min-runs-0",
        ("pipeline", *WORK, "--out", "{tmp}/p", "--bench-min-runs", "0"),
        (),
        ("min-runs",),
    ),
    (
        "pipeline-epochs-0",
        ("pipeline", "--limit", "20", "--out", "{tmp}/p", "--epochs", "0"),
        (),
        ("--epochs",),
    ),
    (
        "pipeline-arch-unknown",
        ("pipeline", *WORK, "--out", "{tmp}/p", "--arch", "bogus"),
        (),
        ("bogus",),
    ),
    (
        "pipeline-runtime-python-bad",
        ("pipeline", *WORK, "--out", "{tmp}/p", "--runtime-python", "nope"),
        (),
        ("--runtime-python",),
    ),
    (
        "pipeline-resume-and-force",
        ("pipeline", *WORK, "--out", "{tmp}/p", "--resume", "--force"),
        (),
        ("--resume", "--force"),
    ),
    (
        "pipeline-resume-corrupt-metrics",
        ("pipeline", *WORK, "--out", "{tmp}/p", "--resume"),
        (("p/train/metrics.json", "{"), ("p/export", DIR), ("p/bench", DIR)),
        ("metrics.json",),
    ),
    (
        "pipeline-out-is-file",
        ("pipeline", *WORK, "--out", "{tmp}/p.txt"),
        (("p.txt", "a file"),),
        ("p.txt",),
    ),
    (
        "pipeline-drawn-bad",
        ("pipeline", *WORK, "--out", "{tmp}/p", "--drawn", "{tmp}/d.json"),
        (("d.json", replay({"strokes": [ONE_STROKE], "label": 11, "writer": "a"})),),
        ("d.json",),
    ),
    (
        "pipeline-config-unknown-key",
        ("pipeline", *WORK, "--out", "{tmp}/p", "--config", "{tmp}/c.toml"),
        (("c.toml", "[pipeline]\nturbo = true\n"),),
        ("turbo",),
    ),
]

# ---- the tools beside bench: numbers compose|bench|speed|pictures, estimate, collect-cost.
# Every argument of each; inputs: d.json (labelled digits), n.json (numbers).
DIGITS = ("d.json", replay({"strokes": [ONE_STROKE], "label": 1, "writer": "a"}))
NUMBERS = (
    "n.json",
    replay({"strokes": [ONE_STROKE, ONE_STROKE], "label": "11", "stroke_digits": [0, 1]}),
)
COMPOSE = ("numbers", "compose", "{tmp}/o.json", "--drawn", "{tmp}/d.json")
NBENCH = ("numbers", "bench", "{tmp}/n.json")
SPEED = ("numbers", "speed", "{tmp}/n.json")
PICTURES = ("numbers", "pictures", "{tmp}/n.json")
SPEED_RECORD = ("s.json", json.dumps({"model": "m"}))
FIT = ("numbers", "fit", "--drawn", "{tmp}/d.json", "--out", "{tmp}/o/scores.json")
TOOL_CASES: list[tuple[str, tuple[str, ...], tuple[tuple[str, Any], ...], tuple[str, ...]]] = [
    ("compose-no-out", ("numbers", "compose", "--drawn", "{tmp}/d.json"), (DIGITS,), ("OUT",)),
    ("compose-no-drawn", ("numbers", "compose", "{tmp}/o.json"), (), ("--drawn",)),
    ("compose-drawn-empty-name", (*COMPOSE[:4], ""), (), ("--drawn",)),
    ("compose-drawn-missing", COMPOSE, (), ("d.json", "not found")),
    ("compose-drawn-not-strokes", COMPOSE, (("d.json", "{}"),), ("d.json", "format")),
    ("compose-drawn-no-writers", COMPOSE, (DIGITS,), ("d.json", "writer")),
    ("compose-side-bogus", (*COMPOSE, "--side", "both"), (DIGITS,), ("--side",)),
    ("compose-count-0", (*COMPOSE, "--count", "0"), (DIGITS,), ("--count",)),
    ("compose-count-huge", (*COMPOSE, "--count", "1000000000000"), (DIGITS,), ("--count",)),
    ("compose-count-not-int", (*COMPOSE, "--count", "many"), (DIGITS,), ("--count",)),
    ("compose-seed-negative", (*COMPOSE, "--seed", "-1"), (DIGITS,), ("--seed",)),
    ("compose-seed-huge", (*COMPOSE, "--seed", str(2**40)), (DIGITS,), ("--seed",)),
    ("compose-delay-bars-nan", (*COMPOSE, "--delay-bars", "nan"), (DIGITS,), ("--delay-bars",)),
    ("compose-delay-bars-2", (*COMPOSE, "--delay-bars", "2"), (DIGITS,), ("--delay-bars",)),
    ("compose-join-negative", (*COMPOSE, "--join", "-0.1"), (DIGITS,), ("--join",)),
    ("compose-join-inf", (*COMPOSE, "--join", "inf"), (DIGITS,), ("--join",)),
    ("compose-abbreviated-flag", (*COMPOSE, "--cou", "5"), (DIGITS,), ("--cou",)),
    ("compose-lengths-word", (*COMPOSE, "--lengths", "2,x"), (DIGITS,), ("--lengths",)),
    ("compose-lengths-0", (*COMPOSE, "--lengths", "0,3"), (DIGITS,), ("--lengths",)),
    ("compose-lengths-12", (*COMPOSE, "--lengths", "12"), (DIGITS,), ("--lengths",)),
    ("compose-height-nan", (*COMPOSE, "--height", "nan"), (DIGITS,), ("--height",)),
    ("compose-height-1", (*COMPOSE, "--height", "1"), (DIGITS,), ("--height",)),
    ("compose-out-is-drawn", ("numbers", "compose", "{tmp}/d.json", "--drawn", "{tmp}/d.json"),
     (DIGITS,), ("d.json", "also read")),
    ("compose-out-exists", (*COMPOSE[:2], "{tmp}/n.json", *COMPOSE[3:]), (DIGITS, NUMBERS),
     ("n.json", "--force")),
    ("compose-out-is-folder", (*COMPOSE[:2], "{tmp}/f", *COMPOSE[3:]), (DIGITS, ("f", DIR)),
     ("folder",)),
    ("compose-config-count-string", (*COMPOSE, "--config", "{tmp}/c.toml"),
     (DIGITS, ("c.toml", 'count = "ten"\n')), ("count",)),
    ("compose-config-unknown-key", (*COMPOSE, "--config", "{tmp}/c.toml"),
     (DIGITS, ("c.toml", "[compose]\nturbo = 1\n")), ("turbo",)),
    ("fit-no-drawn", ("numbers", "fit"), (), ("--drawn",)),
    ("fit-count-0", (*FIT, "--count", "0"), (DIGITS,), ("--count",)),
    ("fit-count-huge", (*FIT, "--count", str(10**12)), (DIGITS,), ("--count",)),
    ("fit-seed-negative", (*FIT, "--seed", "-1"), (DIGITS,), ("--seed",)),
    ("fit-join-nan", (*FIT, "--join", "nan"), (DIGITS,), ("--join",)),
    ("fit-lift-2", (*FIT, "--lift", "2"), (DIGITS,), ("--lift",)),
    ("fit-model-missing", (*FIT, "--model", "{tmp}/m.tflite"), (DIGITS,), ("m.tflite",)),
    ("fit-model-empty-name", (*FIT, "--model", ""), (DIGITS,), ("--model",)),
    ("fit-out-is-drawn", (*FIT[:4], "--out", "{tmp}/d.json", "--force"), (DIGITS,),
     ("also read",)),
    ("fit-out-exists", (*FIT[:4], "--out", "{tmp}/s.json"), (DIGITS, SPEED_RECORD),
     ("--force",)),
    ("fit-out-under-a-file", (*FIT[:4], "--out", "{tmp}/s.json/x.json"), (DIGITS, SPEED_RECORD),
     ("not a folder",)),
    ("fit-drawn-no-writers", FIT, (DIGITS,), ("d.json",)),
    ("nbench-file-missing", NBENCH, (), ("n.json", "not found")),
    ("nbench-file-of-digits", ("numbers", "bench", "{tmp}/d.json"), (DIGITS,), ("no numbers",)),
    ("nbench-no-file", ("numbers", "bench"), (), ("FILE",)),
    ("nbench-model-missing", (*NBENCH, "--model", "{tmp}/m.tflite"), (NUMBERS,), ("m.tflite",)),
    ("nbench-model-empty-name", (*NBENCH, "--model", ""), (NUMBERS,), ("--model",)),
    ("nbench-speed-negative", (*NBENCH, "--speed", "-1"), (NUMBERS,), ("--speed",)),
    ("nbench-speed-huge", (*NBENCH, "--speed", str(10**9)), (NUMBERS,), ("--speed",)),
    ("nbench-no-score-alone", (*NBENCH, "--no-score"), (NUMBERS,), ("--no-score",)),
    ("nbench-out-is-input", (*NBENCH, "--out", "{tmp}/n.json"), (NUMBERS,), ("also read",)),
    ("nbench-out-is-drawings", (*NBENCH, "--out", "{tmp}/d.json", "--force"), (NUMBERS, DIGITS),
     ("labelled drawings",)),
    ("nbench-out-exists", (*NBENCH, "--out", "{tmp}/r.md"), (NUMBERS, ("r.md", "mine")),
     ("--force",)),
    ("nbench-out-empty-name", (*NBENCH, "--out", ""), (NUMBERS,), ("--out",)),
    ("speed-file-missing", SPEED, (), ("n.json", "not found")),
    ("speed-no-five-digit-numbers", SPEED, (NUMBERS,), ("5-digit",)),
    ("speed-count-0", (*SPEED, "--count", "0"), (NUMBERS,), ("--count",)),
    ("speed-count-huge", (*SPEED, "--count", str(10**12)), (NUMBERS,), ("--count",)),
    ("speed-repeats-0", (*SPEED, "--repeats", "0"), (NUMBERS,), ("--repeats",)),
    ("speed-repeats-21", (*SPEED, "--repeats", "21"), (NUMBERS,), ("--repeats",)),
    ("speed-model-missing", (*SPEED, "--model", "{tmp}/m.onnx"), (NUMBERS,), ("m.onnx",)),
    ("speed-out-is-drawings", (*SPEED, "--out", "{tmp}/d.json"), (NUMBERS, DIGITS),
     ("labelled drawings",)),
    ("speed-out-is-input", (*SPEED, "--out", "{tmp}/n.json", "--force"), (NUMBERS,),
     ("also read",)),
    ("pictures-file-of-digits", ("numbers", "pictures", "{tmp}/d.json"), (DIGITS,),
     ("no numbers",)),
    ("pictures-limit-0", (*PICTURES, "--limit", "0"), (NUMBERS,), ("--limit",)),
    ("pictures-limit-huge", (*PICTURES, "--limit", str(10**9)), (NUMBERS,), ("--limit",)),
    ("pictures-model-missing", (*PICTURES, "--model", "{tmp}/m.tflite"), (NUMBERS,),
     ("m.tflite",)),
    ("pictures-out-is-input", (*PICTURES, "--out", "{tmp}/n.json"), (NUMBERS,), ("also read",)),
    ("numbers-no-subcommand", ("numbers",), (), ("SUBCOMMAND",)),
    ("numbers-unknown-subcommand", ("numbers", "teleport"), (), ("teleport",)),
    ("estimate-nothing", ("estimate",), (), ("results.json",)),
    ("estimate-both", ("estimate", "{tmp}/r.json", "--numbers", "{tmp}/s.json"), (),
     ("one of them",)),
    ("estimate-pen-with-numbers", ("estimate", "--numbers", "{tmp}/s.json", "--pen"),
     (SPEED_RECORD,), ("--pen",)),
    ("estimate-macs-0", ("estimate", "{tmp}/r.json", "--macs", "0"), (), ("--macs",)),
    ("estimate-results-missing", ("estimate", "{tmp}/r.json"), (), ("r.json", "not found")),
    ("estimate-results-not-json", ("estimate", "{tmp}/r.json"), (("r.json", "{"),),
     ("r.json", "JSON")),
    ("estimate-results-deep", ("estimate", "{tmp}/r.json"), (("r.json", "[" * 100000),),
     ("r.json",)),
    ("estimate-results-no-rows", ("estimate", "{tmp}/r.json"), (("r.json", "[]"),),
     ("r.json", "results")),
    ("estimate-results-bad-row", ("estimate", "{tmp}/r.json"),
     (("r.json", json.dumps({"results": [{"format": 1}]})),), ("r.json",)),
    ("estimate-no-pen-rows", ("estimate", "{tmp}/r.json", "--pen"),
     (("r.json", json.dumps({"results": []})),), ("pen rows",)),
    ("estimate-numbers-not-a-record", ("estimate", "--numbers", "{tmp}/s.json"),
     (SPEED_RECORD,), ("not a number speed record",)),
    ("estimate-numbers-a-list", ("estimate", "--numbers", "{tmp}/s.json"), (("s.json", "[]"),),
     ("s.json",)),
    ("estimate-out-is-input", ("estimate", "--numbers", "{tmp}/s.json", "--out", "{tmp}/s.json"),
     (SPEED_RECORD,), ("also read",)),
    ("estimate-out-is-drawings", ("estimate", "--numbers", "{tmp}/s.json", "--out",
     "{tmp}/d.json", "--force"), (SPEED_RECORD, DIGITS), ("labelled drawings",)),
    ("nbench-model-garbage", (*NBENCH, "--model", "{tmp}/m.tflite"),
     (NUMBERS, ("m.tflite", b"not a model")), ("the replay of", "m.tflite")),
    ("draw-config-pen-empty", ("draw", "--headless", "--config", "{tmp}/c.toml"),
     (("c.toml", 'pen = ""\n'),), ("--pen",)),
    ("pen-no-subcommand", ("pen",), (), ("SUBCOMMAND",)),
    ("pen-train-nothing", ("pen", "train"), (), ("--drawn",)),
    ("pen-train-both", ("pen", "train", "--drawn", "{tmp}/d.json", "--ensemble", "{tmp}/a.keras"),
     (DIGITS,), ("one of them",)),
    ("pen-train-epochs-0", ("pen", "train", "--drawn", "{tmp}/d.json", "--epochs", "0"),
     (DIGITS,), ("--epochs",)),
    ("pen-train-styles-nan", ("pen", "train", "--drawn", "{tmp}/d.json", "--styles", "nan"),
     (DIGITS,), ("--styles",)),
    ("pen-train-seed-negative", ("pen", "train", "--drawn", "{tmp}/d.json", "--seed", "-1"),
     (DIGITS,), ("--seed",)),
    ("pen-train-drawn-missing", ("pen", "train", "--drawn", "{tmp}/d.json", "--out",
     "{tmp}/p"), (), ("d.json",)),
    ("pen-train-out-not-empty", ("pen", "train", "--drawn", "{tmp}/d.json", "--out", "{tmp}/p"),
     (DIGITS, ("p/x", "mine")), ("--force",)),
    ("pen-train-ensemble-missing", ("pen", "train", "--ensemble", "{tmp}/a.keras", "--out",
     "{tmp}/p"), (), ("a.keras",)),
    ("pen-fusion-no-drawn", ("pen", "fusion"), (), ("--drawn",)),
    ("pen-fusion-tta-0", ("pen", "fusion", "--drawn", "{tmp}/d.json", "--tta", "0"), (DIGITS,),
     ("--tta",)),
    ("pen-fusion-pen-missing", ("pen", "fusion", "--drawn", "{tmp}/d.json", "--pen",
     "{tmp}/p.tflite"), (DIGITS,), ("p.tflite",)),
    ("pen-fusion-image-missing", ("pen", "fusion", "--drawn", "{tmp}/d.json", "--image",
     "{tmp}/i.tflite"), (DIGITS,), ("i.tflite",)),
    ("pen-fusion-out-is-drawn", ("pen", "fusion", "--drawn", "{tmp}/d.json", "--pen",
     "{models}/pen-int8.tflite", "--out", "{tmp}/d.json", "--force"), (DIGITS,),
     ("also read",)),
    ("pen-fusion-style-set-empty-name", ("pen", "fusion", "--drawn", "{tmp}/d.json", "--pen",
     "{models}/pen-int8.tflite", "--style-set", ""), (DIGITS,), ("--style-set",)),
    ("pen-fusion-style-set-no-styles", ("pen", "fusion", "--drawn", "{tmp}/d.json", "--pen",
     "{models}/pen-int8.tflite", "--style-set", "{tmp}", "--out", "{tmp}/o.json"), (DIGITS,),
     ("no style file",)),
    ("pen-fusion-sizes-missing", ("pen", "fusion", "--drawn", "{tmp}/d.json", "--pen",
     "{models}/pen-int8.tflite", "--sizes", "{tmp}/h.json", "--out", "{tmp}/o.json"), (DIGITS,),
     ("h.json",)),
    ("pen-fusion-sizes-is-out", ("pen", "fusion", "--drawn", "{tmp}/d.json", "--pen",
     "{models}/pen-int8.tflite", "--sizes", "{tmp}/n.json", "--out", "{tmp}/n.json", "--force"),
     (DIGITS, NUMBERS), ("also read",)),
    ("pen-export-no-drawn", ("pen", "export"), (), ("--drawn",)),
    ("pen-export-model-missing", ("pen", "export", "--drawn", "{tmp}/d.json", "--model",
     "{tmp}/pen.keras", "--out", "{tmp}/e"), (DIGITS,), ("pen.keras",)),
    ("pen-export-fusion-not-json", ("pen", "export", "--drawn", "{tmp}/d.json", "--model",
     "{tmp}/pen.keras", "--fusion", "{tmp}/f.json", "--out", "{tmp}/e"),
     (DIGITS, ("pen.keras", "x"), ("f.json", "{")), ("f.json",)),
    ("pen-export-fusion-no-record", ("pen", "export", "--drawn", "{tmp}/d.json", "--model",
     "{tmp}/pen.keras", "--fusion", "{tmp}/f.json", "--out", "{tmp}/e"),
     (DIGITS, ("pen.keras", "x"), ("f.json", "{}")), ("fusion",)),
    ("pen-export-out-not-empty", ("pen", "export", "--drawn", "{tmp}/d.json", "--out", "{tmp}/e"),
     (DIGITS, ("e/x", "mine")), ("--force",)),
    ("compare-no-run", ("compare",), (), ("RUN",)),
    ("compare-run-missing", ("compare", "{tmp}/run"), (), ("run",)),
    ("compare-dev-missing", ("compare", "{tmp}/run", "--dev", "{tmp}/d.json"), (("run", DIR),),
     ("d.json",)),
    ("compare-out-is-dev", ("compare", "{tmp}/run", "--dev", "{tmp}/d.json", "--out",
     "{tmp}/d.json", "--force"), (("run", DIR), DIGITS), ("also read",)),
    ("compare-run-no-metrics", ("compare", "{tmp}/run"), (("run", DIR),), ("metrics.json",)),
    ("compare-run-bad-metrics", ("compare", "{tmp}/run"), (("run/metrics.json", "{"),),
     ("metrics.json",)),
    ("collect-cost-saves-0", ("collect-cost", "{tmp}/d.json", "--saves", "0"), (DIGITS,),
     ("--saves",)),
    ("collect-cost-saves-huge", ("collect-cost", "{tmp}/d.json", "--saves", str(10**9)),
     (DIGITS,), ("--saves",)),
    ("collect-cost-file-missing", ("collect-cost", "{tmp}/d.json"), (), ("d.json", "not found")),
    ("collect-cost-not-strokes", ("collect-cost", "{tmp}/d.json"), (("d.json", "[]"),),
     ("d.json",)),
    ("collect-cost-numbers-only", ("collect-cost", "{tmp}/n.json"), (NUMBERS,),
     ("no labelled digits",)),
    ("collect-cost-fewer-than-saves", ("collect-cost", "{tmp}/d.json", "--saves", "5"),
     (DIGITS,), ("fewer than --saves",)),
    ("collect-cost-config-saves-float", ("collect-cost", "{tmp}/d.json", "--config",
     "{tmp}/c.toml"), (DIGITS, ("c.toml", "saves = 1.5\n")), ("saves",)),
    ("data-drawn-seed-negative", ("data", "drawn", "--seed", "-1"), (), ("--seed",)),
    ("data-drawn-out-empty", ("data", "drawn", "--out", ""), (), ("--out",)),
    ("data-drawn-from-dir-missing", ("data", "drawn", "--from-dir", "{tmp}/none", "--out",
     "{tmp}/o", "--no-download"), (), ("--from-dir", "not a folder")),
    ("data-drawn-out-not-empty", ("data", "drawn", "--out", "{tmp}/o", "--from-dir", "{tmp}",
     "--no-download"), (("o/unipen-train.json", "mine"),), ("--force",)),
    ("data-selection-no-dir", ("data", "selection"), (), ("TEAM_DIR",)),
    ("data-selection-dir-missing", ("data", "selection", "{tmp}/none", "--out",
     "{tmp}/s.json"), (), ("unipen-train.json", "not found")),
    ("data-selection-out-exists", ("data", "selection", "{tmp}/none", "--out", "{tmp}/s.json"),
     (("s.json", "mine"),), ("--force",)),
    ("styles-write-no-drawn", ("styles", "write"), (), ("--drawn",)),
    ("styles-report-no-image", ("styles", "report", "{tmp}/none"), (), ("--image",)),
]  # fmt: skip
CASES += TOOL_CASES

# ---- manifests: MNIST_EDGE_MODELS={tmp}/m for predict, --models {tmp}/m for bench
OUTSIDE = (("outside/evil.tflite", copy_of("edge-int8.tflite")),)
INT8 = real_entry("edge-int8.tflite")
MANIFESTS: list[tuple[str, tuple[tuple[str, Any], ...], tuple[str, ...]]] = [
    (
        "dotdot-file",
        (*OUTSIDE, ("m/manifest.json", manifest_with({**INT8, "file": "../outside/evil.tflite"}))),
        ("evil.tflite",),
    ),
    (
        "absolute-file",
        (
            *OUTSIDE,
            (
                "m/manifest.json",
                manifest_with({**INT8, "file": "{tmp}/outside/evil.tflite"}),
            ),
        ),
        ("evil.tflite",),
    ),
    (
        "wrong-sha256",
        (*shipped_copy(), ("m/manifest.json", wrong_checksums)),
        ("checksum",),
    ),
    (
        "no-models-key",
        (*shipped_copy(), ("m/manifest.json", json.dumps({"schema": "mnist-edge-manifest/1"}))),
        ("models",),
    ),
    (
        "models-not-list",
        (*shipped_copy(), ("m/manifest.json", json.dumps({"models": {"a": 1}}))),
        ("models",),
    ),
    (
        "entry-is-string",
        (*shipped_copy(), ("m/manifest.json", manifest_with("edge-int8.tflite"))),
        ("entry 0",),
    ),
    (
        "unknown-format",
        (
            *shipped_copy(),
            ("m/manifest.json", manifest_with({**INT8, "format": "coreml-int8"})),
        ),
        ("coreml-int8",),
    ),
    (
        "format-suffix-mismatch",
        (
            *shipped_copy(),
            (
                "m/manifest.json",
                manifest_with(real_entry("edge-int8.onnx", format="tflite-int8")),
            ),
        ),
        ("edge-int8.onnx",),
    ),
    ("not-json", (*shipped_copy(), ("m/manifest.json", "{models: [")), ("manifest.json",)),
    ("deeply-nested", (("m/manifest.json", "[" * 100000),), ("manifest.json",)),
    ("manifest-not-utf8", (("m/manifest.json", b"\xff\xfe\x00"),), ("manifest.json",)),
    ("manifest-is-folder", (("m/manifest.json", DIR),), ("manifest.json",)),
]

for name, files, fragments in MANIFESTS:
    CASES.append(
        (
            f"manifest-predict-{name}",
            ("predict", "{tmp}/digit.png"),
            (("digit.png", digit_png()), *files),
            fragments,
        )
    )
    CASES.append(
        (f"manifest-bench-{name}", ("bench", "--models", "{tmp}/m", *BENCH_DIR), files, fragments)
    )

# A folder of models named by $MNIST_EDGE_MODELS that is not a folder at all.
CASES.append(
    (
        "manifest-predict-models-env-is-file",
        ("predict", "{tmp}/digit.png"),
        (("digit.png", digit_png()), ("m", "a file")),
        ("m",),
    )
)


# ----------------------------------------------------------------------------- the harness


def _create(tmp: Path, files: tuple[tuple[str, Any], ...]) -> None:
    for rel, content in files:
        path = tmp / rel
        if content is DIR:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content = content(tmp)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)


def _folders(tmp: Path) -> set[Path]:
    return {p for p in tmp.rglob("*") if p.is_dir()}


def _env(tmp: Path) -> dict[str, str]:
    return {
        "SDL_VIDEODRIVER": "dummy",
        "SDL_AUDIODRIVER": "dummy",
        "MNIST_EDGE_MODELS": str(tmp / "m") if (tmp / "m").exists() else str(MODELS),
    }


def _argv(argv: tuple[str, ...], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)).replace("{models}", str(MODELS)) for a in argv]


def _check_clean(tmp: Path, before: set[Path], stderr: str) -> None:
    left = [
        str(p.relative_to(tmp))
        for p in tmp.rglob("*")
        if any(p.name.startswith(prefix) for prefix in LEFTOVERS)
    ]
    assert not left, (left, stderr[-1000:])
    empty = [
        str(p.relative_to(tmp)) for p in sorted(_folders(tmp) - before) if not any(p.iterdir())
    ]
    assert not empty, ("new empty folders left behind", empty, stderr[-1000:])


@pytest.mark.parametrize(
    ("argv", "files", "fragments"),
    [pytest.param(argv, files, fragments, id=case_id) for case_id, argv, files, fragments in CASES],
)
def test_hostile_input(
    tmp_path: Path,
    argv: tuple[str, ...],
    files: tuple[tuple[str, Any], ...],
    fragments: tuple[str, ...],
) -> None:
    _create(tmp_path, files)
    before = _folders(tmp_path)
    result = run_cli(*_argv(argv, tmp_path), env=_env(tmp_path), cwd=tmp_path, timeout=TIMEOUT)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert_user_error(result, *(f.replace("{tmp}", str(tmp_path)) for f in fragments))
    _check_clean(tmp_path, before, result.stderr)


# The rule says ONE line on stderr, not one ``error:`` line among framework logs and progress:
# the error paths that load TensorFlow, that print per-image lines, or that announce pipeline
# stages, next to cheap ones as controls.
ONE_LINE = (
    "train-epochs-0",
    "bench-threads-0",
    "draw-size-abc",
    "evaluate-missing-model",
    "evaluate-model-garbage",
    "export-model-garbage",
    "export-out-is-file",
    "predict-missing",
    "pipeline-resume-corrupt-metrics",
)


@pytest.mark.parametrize(
    ("argv", "files"),
    [
        pytest.param(argv, files, id=case_id)
        for case_id, argv, files, _ in CASES
        if case_id in ONE_LINE
    ],
)
def test_error_is_the_only_stderr_line(
    tmp_path: Path, argv: tuple[str, ...], files: tuple[tuple[str, Any], ...]
) -> None:
    _create(tmp_path, files)
    result = run_cli(*_argv(argv, tmp_path), env=_env(tmp_path), cwd=tmp_path, timeout=TIMEOUT)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-edge: error: "), result.stderr[-2000:]


def test_a_failed_replay_is_one_error_with_one_prefix(tmp_path: Path) -> None:
    """``numbers bench`` passes on the app's own error line without its prefix: one
    "mnist-edge: error:" (it said "mnist-edge: error: ... mnist-edge: error: ...")."""
    argv, files = next((a, f) for i, a, f, _ in CASES if i == "nbench-model-garbage")
    _create(tmp_path, files)
    result = run_cli(*_argv(argv, tmp_path), env=_env(tmp_path), cwd=tmp_path, timeout=TIMEOUT)
    assert result.returncode == 2 and result.stderr.count("error:") == 1, result.stderr


def test_case_ids_are_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 80


# ----------------------------------------------------------------------------- not errors


def test_replay_of_an_empty_sample_is_valid(tmp_path: Path) -> None:
    """``{"strokes": []}`` is a sample with nothing drawn: the app reads nothing, exit 0."""
    (tmp_path / "r.json").write_text(replay({"strokes": []}, {"strokes": [], "label": 3}))
    before = _folders(tmp_path)
    result = run_cli(
        "draw", "--headless", "--replay", str(tmp_path / "r.json"),
        env=_env(tmp_path), cwd=tmp_path, timeout=TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr
    assert "error:" not in result.stderr, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 2, result.stdout
    assert all(line["digit"] is None for line in lines), lines
    _check_clean(tmp_path, before, result.stderr)


def test_replay_with_no_samples_is_valid(tmp_path: Path) -> None:
    """A stroke file with zero samples replays nothing and exits 0."""
    (tmp_path / "r.json").write_text(replay())
    result = run_cli(
        "draw", "--headless", "--replay", str(tmp_path / "r.json"),
        env=_env(tmp_path), cwd=tmp_path, timeout=TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr


def test_large_utf8_config_is_not_called_binary(tmp_path: Path) -> None:
    """A 10 MB config of valid UTF-8 (two-byte characters): whatever the verdict, it must not
    be that the file is not UTF-8 (reading a prefix can split a character)."""
    line = "# " + "\u00e9" * 39 + "\n"  # 81 bytes: 1 MiB falls inside a character
    (tmp_path / "big.toml").write_text("epochs = 0 \n" + line * (10 * 1024 * 1024 // 81))
    result = run_cli("train", "--config", str(tmp_path / "big.toml"), cwd=tmp_path, timeout=TIMEOUT)
    assert_user_error(result, "big.toml")
    assert "UTF-8" not in result.stderr, result.stderr


def test_predict_names_each_bad_image_once(tmp_path: Path) -> None:
    """A good and a bad image: the good one is read (stdout), the run still exits 2."""
    (tmp_path / "digit.png").write_bytes(digit_png())
    (tmp_path / "tiny.png").write_bytes(png(1, 1))
    result = run_cli(
        "predict", str(tmp_path / "digit.png"), str(tmp_path / "tiny.png"),
        env=_env(tmp_path), cwd=tmp_path, timeout=TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr
    assert "digit.png:" in result.stdout, result.stdout
    assert "tiny.png" in result.stderr, result.stderr
