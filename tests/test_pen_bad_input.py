"""The pen jobs (``pen train``, ``pen export``, ``pen fusion``) on bad input: one line on
stderr saying what is wrong and what to do, exit status 2, no traceback, nothing written.

Writers are held out per site (the part of a name before '/') once a site has two or more:
a file of one writer, or of writers all of their own site, holds none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DRAWN, MODELS, run_cli

DIAGONAL = [[[0.2, 0.2], [0.8, 0.8]]]
OFF_CANVAS = [[[-2.0, 0.2], [-1.0, 0.8]]]  # starts left of the canvas: the app takes nothing


def _replay(path: Path, writers: dict[str, list]) -> str:
    samples = [{"label": 3, "writer": w, "strokes": s} for w, s in writers.items()]
    path.write_text(json.dumps({"format": "mnist-edge-strokes/1", "samples": samples}))
    return str(path)


def _files(tmp: Path) -> dict[str, str]:
    """The inputs the cases name, in ``tmp``."""
    ten = {f"s/{i}": DIAGONAL for i in range(10)}  # two of ten held out
    member = tmp / "e" / "pen.keras"
    member.parent.mkdir()
    member.write_bytes((MODELS / "pen.keras").read_bytes())
    torn = tmp / "torn.keras"
    torn.write_bytes((MODELS / "pen.keras").read_bytes()[:3000])
    return {
        "one": _replay(tmp / "one.json", {"w1": DIAGONAL}),
        "sites": _replay(tmp / "sites.json", {w: DIAGONAL for w in "abcde"}),  # none held out
        "off": _replay(tmp / "off.json", {w: OFF_CANVAS for w in ten}),
        "single": _replay(tmp / "single.json", {"s/a": DIAGONAL, "s/b": DIAGONAL}),
        "member": str(member),
        "torn": str(torn),
        "tmp": str(tmp),
    }


PEN_TFLITE = str(MODELS / "pen-int8.tflite")
FUSION = ("pen", "fusion", "--pen", PEN_TFLITE, "--tta", "1", "--out", "{tmp}/out/f.json")

#: case -> (arguments, words the one line holds, the output that must not appear)
CASES = {
    "ensemble-out-over-a-member": (
        ("pen", "train", "--ensemble", "{member}", str(MODELS / "pen.keras"), "--out",
         "{tmp}/e", "--force"),
        ("also read", "--ensemble"), None,
    ),
    "train-no-held-out-writer": (
        ("pen", "train", "--drawn", "{one}", "--epochs", "1", "--out", "{tmp}/out"),
        ("no held-out writer", "more writers"), "{tmp}/out",
    ),
    "export-no-held-out-writer": (
        ("pen", "export", "--model", str(MODELS / "pen.keras"), "--drawn", "{one}", "--out",
         "{tmp}/out"),
        ("no held-out writer", "more writers"), "{tmp}/out",
    ),
    "fusion-no-held-out-writer": (
        (*FUSION, "--drawn", "{sites}"), ("no held-out writer", "more writers"), "{tmp}/out",
    ),
    "fusion-held-out-all-off-canvas": (
        (*FUSION, "--drawn", "{off}"), ("0 held-out writer", "on the canvas"), "{tmp}/out",
    ),
    "fusion-one-held-out-writer": (
        (*FUSION, "--drawn", "{single}"), ("1 held-out writer", "two or more"), "{tmp}/out",
    ),
}  # fmt: skip

#: The same, where the model is read: Keras loads it (TensorFlow).
TF_CASES = {
    "export-torn-model": (
        ("pen", "export", "--model", "{torn}", "--drawn", str(DRAWN / "uji-train.json"),
         "--out", "{tmp}/out"),
        ("torn.keras", "not a .keras file"), "{tmp}/out",
    ),
    "export-image-model": (
        ("pen", "export", "--model", str(MODELS / "model.keras"), "--drawn",
         str(DRAWN / "uji-train.json"), "--out", "{tmp}/out"),
        ("model.keras", "not a pen model", "(None, 28, 28, 1)"), "{tmp}/out",
    ),
    "ensemble-torn-member": (
        ("pen", "train", "--ensemble", "{torn}", "{member}", "--out", "{tmp}/out"),
        ("torn.keras", "not a .keras file"), "{tmp}/out",
    ),
    "ensemble-image-member": (
        ("pen", "train", "--ensemble", str(MODELS / "model.keras"), "{member}", "--out",
         "{tmp}/out"),
        ("model.keras", "not a pen model", "pen train"), "{tmp}/out",
    ),
}  # fmt: skip


def _refused(
    tmp_path: Path, args: tuple[str, ...], words: tuple[str, ...], out: str | None
) -> None:
    files = _files(tmp_path)
    member = Path(files["member"]).read_bytes()
    done = run_cli(*(a.format(**files) for a in args))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and lines[0].startswith("mnist-edge: error: ")
    for word in words:
        assert word in lines[0], lines[0]
    if out is not None:
        assert not Path(out.format(**files)).exists()
    assert Path(files["member"]).read_bytes() == member  # an input is never replaced


@pytest.mark.parametrize("case", CASES)
def test_a_pen_job_refuses_bad_input_in_one_line(tmp_path: Path, case: str) -> None:
    _refused(tmp_path, *CASES[case])


@pytest.mark.tf
@pytest.mark.parametrize("case", TF_CASES)
def test_a_pen_job_refuses_a_bad_model_in_one_line(tmp_path: Path, case: str) -> None:
    _refused(tmp_path, *TF_CASES[case])


def test_fusion_leaves_out_held_out_drawings_the_app_reads_nothing_of(tmp_path: Path) -> None:
    """Site s holds two of ten writers out, site t one of two: t's drawings start off the
    canvas, so the app reads nothing of them; the fusion is measured on the others."""
    writers = {f"s/{i}": DIAGONAL for i in range(10)} | {"t/a": OFF_CANVAS, "t/b": OFF_CANVAS}
    drawn = _replay(tmp_path / "d.json", writers)
    out = tmp_path / "f.json"
    done = run_cli(*(a.format(tmp=tmp_path) for a in FUSION[:-1]), str(out), "--drawn", drawn)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["off_canvas"] == 1 and report["writers"] == 2
    assert report["today"]["digits"] == 2
