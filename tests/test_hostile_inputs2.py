"""Hostile inputs, second round: image files of every depth and kind, fixed-batch models with
TTA and --multi, the benchmark's exit codes and its drawn-digit scoring.

``predict`` is driven through its real CLI (a subprocess), as users run it; each failure must
be one line and exit 2, within a deadline (a FIFO that blocked would time the test out).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import MODELS, QUICK_BENCH, assert_user_error, run_cli

ENV = {"MNIST_EDGE_MODELS": str(MODELS)}
DEADLINE = 120  # seconds: a read that blocks fails the test instead of hanging the suite


def _png(pixels: np.ndarray, colour: int) -> bytes:
    """A PNG written by hand (cv2.imwrite cannot write gray+alpha): 8 or 16 bits per sample."""
    h, w = pixels.shape[:2]
    depth = 16 if pixels.dtype == np.uint16 else 8
    rows = pixels.astype(">u2" if depth == 16 else "u1").reshape(h, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    head = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _seven(data_dir: Path) -> np.ndarray:
    """An MNIST 7 at 140x140: ink coverage 0-255 (255 = full ink)."""
    import cv2

    from mnist_edge.core.data import load_split

    test = load_split("test", data_dir, limit=50)
    image = test.images[int(np.flatnonzero(test.labels == 7)[0])]
    return cv2.resize(image, (140, 140), interpolation=cv2.INTER_CUBIC)


def _write_depth_cases(folder: Path, ink: np.ndarray) -> dict[str, Path]:
    """The same dark-on-white 7 in every depth and alpha mode predict must read alike."""
    import cv2

    paper = 255 - ink  # 8-bit gray: the reference
    wide = ink.astype(np.uint16) * 257
    zero8, zero16 = np.zeros_like(ink), np.zeros_like(wide)
    files: dict[str, Any] = {
        "gray8.png": paper,
        "gray16.png": (65535 - wide).astype(np.uint16),
        "rgb8.png": cv2.cvtColor(paper, cv2.COLOR_GRAY2BGR),
        "rgb16.png": cv2.cvtColor((65535 - wide).astype(np.uint16), cv2.COLOR_GRAY2BGR),
        # black ink on a transparent sheet: alpha carries the digit
        "rgba8.png": np.dstack([zero8, zero8, zero8, ink]),
        "rgba16.png": np.dstack([zero16, zero16, zero16, wide]).astype(np.uint16),
        "ga8.png": _png(np.dstack([zero8, ink]), 4),
        "ga16.png": _png(np.dstack([zero16, wide]).astype(np.uint16), 4),
        "gray8.jpg": paper,
        "gray8.bmp": paper,
        "gray8.webp": paper,
        "gray8.pgm": paper,
        "gray8.tiff": paper,
    }
    f = paper.astype(np.float32) / 255.0  # float TIFF in [0, 1], with non-finite samples
    ink_at = np.unravel_index(int(ink.argmax()), ink.shape)
    f[0, :10] = np.nan  # missing samples on the paper
    f[5, 5] = np.inf  # saturated white, on the paper
    f[ink_at] = -np.inf  # saturated black, on the ink
    files["float32-nan-inf.tiff"] = f
    paths = {}
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            assert cv2.imwrite(str(path), content), name
        paths[name] = path
    return paths


@pytest.fixture(scope="module")
def depth_readings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from tests.conftest import find_data

    found = find_data()
    assert found is not None, "MNIST not found: set MNIST_EDGE_DATA"
    folder = tmp_path_factory.mktemp("depths")
    paths = _write_depth_cases(folder, _seven(found))
    r = run_cli("predict", "--json", "--tta", "1", *map(str, paths.values()), env=ENV)
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    return {Path(x["file"]).name: x for x in map(json.loads, r.stdout.splitlines())}


DEPTHS = [
    "gray16.png",
    "rgb8.png",
    "rgb16.png",
    "rgba8.png",
    "rgba16.png",
    "ga8.png",
    "ga16.png",
    "gray8.jpg",
    "gray8.bmp",
    "gray8.webp",
    "gray8.pgm",
    "gray8.tiff",
    "float32-nan-inf.tiff",
]


@pytest.mark.parametrize("name", DEPTHS, ids=[n.replace(".", "-") for n in DEPTHS])
def test_every_depth_and_alpha_mode_reads_as_8_bit_gray(
    depth_readings: dict[str, dict[str, Any]], name: str
) -> None:
    reference = depth_readings["gray8.png"]
    assert reference["digit"] == 7, reference
    got = depth_readings.get(name)
    assert got is not None, f"{name} was not read"
    assert got["digit"] == 7, got
    tolerance = 0.05 if name.endswith((".jpg", ".webp")) else 0.01  # lossy codecs
    assert abs(got["confidence"] - reference["confidence"]) <= tolerance, (got, reference)


def _crafted_huge_png(side: int) -> bytes:
    """A valid PNG header claiming ``side`` x ``side`` RGBA, with one compressed row of data."""
    head = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    idat = zlib.compress(b"\x00" * (side * 4 + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _make(kind: str, path: Path) -> str:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "dangling-symlink":
        path.symlink_to(path.parent / "gone.png")
    elif kind == "dev-zero":
        return "/dev/zero"
    elif kind == "huge-png-16000":
        path.write_bytes(_crafted_huge_png(16000))
    elif kind == "huge-png-header-only":
        path.write_bytes(_crafted_huge_png(60000)[:33])  # IHDR only: 60000x60000
    elif kind == "over-64-mb":
        with open(path, "wb") as fh:
            fh.truncate(65 << 20)  # sparse: costs no disk
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind in ("png-0x10", "png-10x0"):  # libpng would warn and fail before our line
        side = _png(np.zeros((10, 10), np.uint8), 0)
        zero = struct.pack(">I", 0)
        at = 16 if kind == "png-0x10" else 20  # IHDR's width, then height
        path.write_bytes(side[:at] + zero + side[at + 4 :])
    elif kind == "unknown-format":
        path.write_bytes(b"II\x00\x00 neither a TIFF nor anything else")
    elif kind == "truncated-jpeg-header":
        path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    elif kind == "all-nan-tiff":
        import cv2

        assert cv2.imwrite(str(path), np.full((40, 40), np.nan, np.float32))
    return str(path)


BAD_FILES = [
    ("fifo", "not a regular file"),
    ("folder", "a folder"),
    ("dangling-symlink", "not found"),
    ("dev-zero", "not a regular file"),
    ("huge-png-16000", "too large"),
    ("huge-png-header-only", "too large"),
    ("over-64-mb", "too large"),
    ("empty", "empty"),
    ("png-0x10", "0x10 pixels"),
    ("png-10x0", "10x0 pixels"),
    ("unknown-format", "not a readable image"),
    ("truncated-jpeg-header", "not a readable image"),
    ("all-nan-tiff", "no finite pixel values"),
]


@pytest.mark.parametrize(("kind", "fragment"), BAD_FILES, ids=[k for k, _ in BAD_FILES])
def test_predict_refuses_bad_files_with_one_line(tmp_path: Path, kind: str, fragment: str) -> None:
    name = _make(kind, tmp_path / f"{kind}.png" if kind != "all-nan-tiff" else tmp_path / "n.tiff")
    r = run_cli("predict", name, env=ENV, timeout=DEADLINE)
    assert_user_error(r, name, fragment)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr  # no decoder's lines before it


@pytest.mark.parametrize(("kind", "fragment"), BAD_FILES, ids=[k for k, _ in BAD_FILES])
def test_read_image_bounds(tmp_path: Path, kind: str, fragment: str) -> None:
    """The reader alone: the same refusals, in bounded memory (the 16000x16000 header never
    reaches a decoder that would allocate gigabytes)."""
    import resource

    from mnist_edge.edge_app.image_file import ImageFileError, read_image

    name = _make(kind, tmp_path / f"{kind}.png" if kind != "all-nan-tiff" else tmp_path / "n.tiff")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageFileError, match=fragment):
        read_image(name)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, grown_mb


# ----------------------------------------------------------------------------- fixed batch


def _onnx_model(path: Path, batch: int | str, seed: int = 0) -> None:
    """A small, valid digit model (softmax of a linear map; an embedding output), its batch
    fixed or dynamic: the input contract the runtime checks, nothing more."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.05, (784, 10)).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["pixels"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["x", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["embedding"]),
        helper.make_node("Softmax", ["embedding"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, [batch, 28, 28, 1])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch, 10]),
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, 10]),
        ],
        [
            numpy_helper.from_array(weights, "w"),
            numpy_helper.from_array(np.array([-1, 784], np.int64), "shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def _tflite_model(path: Path, batch: int | None) -> None:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)  # the fixed and the dynamic model: the same weights
    inputs = tf.keras.Input((28, 28, 1), batch_size=batch)  # float32 pixels 0-255
    x = tf.keras.layers.Flatten()(tf.keras.layers.Rescaling(1 / 255.0)(inputs))
    embedding = tf.keras.layers.Dense(16, name="dense_embedding")(x)
    probs = tf.keras.layers.Softmax()(tf.keras.layers.Dense(10)(embedding))
    model = tf.keras.Model(inputs, {"probabilities": probs, "embedding": embedding})
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def _digits(n: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return (rng.random((n, 28, 28)) > 0.7).astype(np.uint8) * 255


def _bar_png(path: Path) -> None:
    import cv2

    image = np.full((140, 140), 255, np.uint8)
    image[20:120, 62:78] = 0
    assert cv2.imwrite(str(path), image)


def _two_digit_replay(path: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "format": "mnist-edge-strokes/1",
                "samples": [
                    {"strokes": [[[0.2, 0.1], [0.2, 0.9]], [[0.7, 0.1], [0.7, 0.9]]], "label": 1}
                ],
            }
        )
    )


def _fixed_batch_case(tmp_path: Path, family: str, case: str) -> None:
    from mnist_edge.edge_app.runtime import load_model

    fixed, dynamic = tmp_path / f"fixed.{family}", tmp_path / f"dynamic.{family}"
    if family == "onnx":
        _onnx_model(fixed, 1)
        _onnx_model(dynamic, "N")
    else:
        _tflite_model(fixed, 1)
        _tflite_model(dynamic, None)
    if case == "run-many":
        one, many = load_model(fixed), load_model(dynamic)
        assert one.input.shape[0] == 1 and many.input.shape[0] == -1
        for n in (5, 3, 1, 7):  # TTA's 5 variants, a short batch, one, and more than asked
            x = _digits(n)
            a, b = one.run(x), many.run(x)
            assert a.probabilities.shape == (n, 10)
            np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=1e-4, atol=1e-6)
            assert a.embedding is not None and b.embedding is not None
            np.testing.assert_allclose(a.embedding, b.embedding, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(one.run(x).probabilities, b.probabilities, atol=1e-6)
    elif case == "predict-tta":
        _bar_png(tmp_path / "bar.png")
        r = run_cli(
            "predict", "--json", "--tta", "5", "--model", str(fixed), str(tmp_path / "bar.png")
        )
        assert r.returncode == 0, r.stderr[-2000:]
        assert json.loads(r.stdout.splitlines()[-1])["digit"] is not None
    else:  # --multi: every digit on the canvas in one batch
        _two_digit_replay(tmp_path / "two.json")
        r = run_cli(
            "draw",
            "--headless",
            "--multi",
            "--no-learn",
            "--tta",
            "3",
            "--model",
            str(fixed),
            "--replay",
            str(tmp_path / "two.json"),
            timeout=DEADLINE,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        line = next(json.loads(x) for x in r.stdout.splitlines() if x.startswith("{"))
        assert len(line["number"]) == 2, line


CASES = ["run-many", "predict-tta", "multi"]


@pytest.mark.parametrize("case", CASES, ids=[f"onnx-batch1-{c}" for c in CASES])
def test_onnx_batch_1_model(tmp_path: Path, case: str) -> None:
    _fixed_batch_case(tmp_path, "onnx", case)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[f"tflite-batch1-{c}" for c in CASES])
def test_tflite_batch_1_model(tmp_path: Path, case: str) -> None:
    _fixed_batch_case(tmp_path, "tflite", case)


# ----------------------------------------------------------------------------- bench


BENCH = [
    *QUICK_BENCH,
    "--limit",
    "50",
    "--batch-sizes",
    "1",
    "--no-cold-start",
    "--no-robust",
    "--tta",
    "1",
]


def _bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("bench", *BENCH, "--out", str(tmp_path / "b"), *args, timeout=600)


BENCH_EXITS = [
    ("zero-byte-model-min-accuracy", "empty", ("--min-accuracy", "0.9"), 2),
    ("zero-byte-model", "empty", (), 2),
    ("truncated-model", "truncated", (), 2),
    ("garbage-onnx", "garbage", (), 2),
    ("good-and-bad-models", "good+empty", ("--min-accuracy", "0.5"), 2),
    ("below-min-accuracy", "weak", ("--min-accuracy", "0.5"), 1),
    ("good-model", "good", ("--min-accuracy", "0.5"), 0),
]


@pytest.mark.parametrize(
    ("kind", "models", "flags", "code"),
    BENCH_EXITS,
    ids=[case[0] for case in BENCH_EXITS],
)
def test_bench_exit_codes(
    tmp_path: Path, kind: str, models: str, flags: tuple[str, ...], code: int
) -> None:
    good = MODELS / "edge-int8.tflite"
    files = []
    for what in models.split("+"):
        if what == "good":
            files.append(str(good))
        elif what == "weak":  # valid, runs, reads at chance: random weights
            _onnx_model(tmp_path / "weak.onnx", "N")
            files.append(str(tmp_path / "weak.onnx"))
        else:
            path = tmp_path / (f"{what}.onnx" if what == "garbage" else f"{what}.tflite")
            content = {"empty": b"", "truncated": good.read_bytes()[:999], "garbage": b"\0" * 99}
            path.write_bytes(content[what])
            files.append(str(path))
    r = _bench(tmp_path, "--models", *files, *flags)
    assert r.returncode == code, (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr
    if code == 2:
        assert_user_error(r, "rows failed", Path(files[-1]).name)
    if code == 1:
        assert "below --min-accuracy" in r.stderr


LINE = [[0.5, 0.1], [0.5, 0.9]]  # a one, read as 1 by the shipped model
DRAWN = {
    "a/dev.json": [
        {"strokes": [LINE], "label": 1},
        {"strokes": [LINE], "label": 1},
        {"strokes": [], "label": 1},  # nothing drawn
        {"strokes": [[[1.4, 0.5], [0.5, 0.5], [0.5, 0.9]]], "label": 1},  # starts off canvas
    ],
    "b/dev.json": [{"strokes": [LINE], "label": 1}],
}


@pytest.fixture(scope="module")
def drawn_bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    folder = tmp_path_factory.mktemp("drawn")
    for name, samples in DRAWN.items():
        (folder / name).parent.mkdir(exist_ok=True)
        doc = {"format": "mnist-edge-strokes/1", "samples": samples}
        (folder / name).write_text(json.dumps(doc))
    r = run_cli(
        "bench",
        *BENCH[:-2],
        "--tta",
        "3",
        "--models",
        str(MODELS / "edge-int8.tflite"),
        "--drawn-eval",
        str(folder / "a/dev.json"),
        "--drawn-eval",
        str(folder / "b/dev.json"),
        "--out",
        str(folder / "bench"),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    row = json.loads((folder / "bench" / "results.json").read_text())["results"][0]
    return row, folder, r.stderr


def test_drawn_eval_blank_and_off_canvas_count_as_misses(
    drawn_bench: tuple[dict[str, Any], Path, str],
) -> None:
    row, _, stderr = drawn_bench
    assert row["drawn"]["a/dev.json"] == pytest.approx(0.5)  # 2 read of 4: blanks are misses
    assert row["tta_drawn"]["a/dev.json"] == pytest.approx(0.5)
    assert "2 of 4 labelled samples leave nothing the app reads" in stderr


def test_drawn_eval_scores_as_the_app_reads(drawn_bench: tuple[dict[str, Any], Path, str]) -> None:
    """The app itself, replaying the same file, reads nothing on exactly those samples."""
    row, folder, _ = drawn_bench
    r = run_cli(
        "draw",
        "--headless",
        "--no-learn",
        "--tta",
        "1",
        "--replay",
        str(folder / "a/dev.json"),
        env=ENV,
        timeout=DEADLINE,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert [x["digit"] for x in lines] == [1, 1, None, None]
    app = sum(x["digit"] == x["label"] for x in lines) / len(lines)
    assert row["drawn"]["a/dev.json"] == pytest.approx(app)


def test_drawn_eval_files_with_one_name_keep_both_results(
    drawn_bench: tuple[dict[str, Any], Path, str],
) -> None:
    row, _, _ = drawn_bench
    assert set(row["drawn"]) == {"a/dev.json", "b/dev.json"}
    assert row["drawn"]["b/dev.json"] == pytest.approx(1.0)


def test_drawn_eval_same_file_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"format": "mnist-edge-strokes/1", "samples": DRAWN["b/dev.json"]}))
    r = _bench(
        tmp_path,
        "--models",
        str(MODELS / "edge-int8.tflite"),
        "--drawn-eval",
        str(path),
        "--drawn-eval",
        str(tmp_path / "." / "dev.json"),
    )
    assert_user_error(r, "--drawn-eval", "twice")


@pytest.mark.parametrize(
    ("paths", "labels"),
    [
        (("x/a.json", "y/a.json", "y/b.json"), ["x/a.json", "y/a.json", "b.json"]),
        (("p/x/a.json", "q/x/a.json"), ["p/x/a.json", "q/x/a.json"]),
        (("a.json",), ["a.json"]),
    ],
    ids=["parent-folder", "grandparent-folder", "single"],
)
def test_drawn_labels_are_unique(tmp_path: Path, paths: tuple[str, ...], labels: list[str]) -> None:
    from mnist_edge.benchmarks.inputs import drawn_labels

    assert drawn_labels(tuple(str(tmp_path / p) for p in paths)) == labels


def test_bench_renders_drawn_digits_as_strokes_to_digit(tmp_path: Path) -> None:
    """The bench's canvas path is the app's: same 28x28 digits as ``strokes_to_digit``."""
    from mnist_edge.benchmarks.inputs import drawn_digits
    from mnist_edge.ink.layout import DEFAULT_SIZE, compute
    from mnist_edge.ink.preprocess import strokes_to_digit

    path = tmp_path / "d.json"
    path.write_text(json.dumps({"format": "mnist-edge-strokes/1", "samples": DRAWN["a/dev.json"]}))
    images, labels, _, blank = drawn_digits(str(path))
    canvas = compute(*DEFAULT_SIZE).canvas
    for image, sample in zip(images, DRAWN["a/dev.json"]):
        strokes = [[tuple(p) for p in s] for s in sample["strokes"]]
        assert np.array_equal(image, strokes_to_digit(strokes, canvas.w, canvas.h))
    assert blank.tolist() == [False, False, True, True] and labels.tolist() == [1] * 4
