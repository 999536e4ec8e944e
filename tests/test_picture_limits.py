"""Broken picture headers and files the decoder refuses: one line from ``predict``, exit 2, and
nothing of OpenCV's own logging before it."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from mnist_edge.edge_app.image_file import ImageFileError, read_image
from tests.conftest import MODELS, assert_user_error, run_cli

ENV = {"MNIST_EDGE_MODELS": str(MODELS)}
DEADLINE = 120  # seconds: a read that blocks fails the test instead of hanging the suite
PIXELS = bytes(range(16)) * 100  # 40x40 samples


def _pam(*fields: bytes, end: bool = True) -> bytes:
    return b"P7\n" + b"".join(f + b"\n" for f in fields) + (b"ENDHDR\n" if end else b"") + PIXELS


def _gif_frame_beyond_its_screen() -> bytes:
    """A 4x4 screen holding a 100x100 frame: OpenCV's GIF decoder asserts on it."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 4, 4, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 100, 100, 0)
    return screen + frame + b"\x02\x02\x4c\x01\x00\x3b"


def _png_header_only() -> bytes:
    ok, png = cv2.imencode(".png", np.full((40, 40), 200, np.uint8))
    assert ok
    return png.tobytes()[:33]  # the signature and IHDR, no pixel data


SIZE = (b"WIDTH 40", b"HEIGHT 40")
TAIL = (b"DEPTH 1", b"MAXVAL 255")
HEADERS = {  # a header this module parses itself: refused before any decoder runs
    "pam-no-width": _pam(b"DEPTH 1"),
    "pam-no-height": _pam(b"WIDTH 40", *TAIL),
    "pam-negative-width": _pam(b"WIDTH -40", b"HEIGHT 40", *TAIL),
    "pam-width-with-underscore": _pam(b"WIDTH 4_0", b"HEIGHT 40", *TAIL),
    "pam-no-endhdr": _pam(*SIZE, *TAIL, end=False),
}
DECODER = {  # the header is fine; OpenCV refuses the rest (and used to log why first)
    "gif-frame-beyond-screen": _gif_frame_beyond_its_screen(),
    "png-cut-after-header": _png_header_only(),
    "pgm-huge-maxval": b"P5\n40 40\n99999999999\n" + PIXELS * 8,
    "pam-huge-maxval": _pam(*SIZE, b"DEPTH 1", b"MAXVAL 99999999999") + PIXELS * 7,
    "pgm-cut-short": b"P5\n40 40\n255\n" + PIXELS[:100],
}


@pytest.mark.parametrize("kind", list(HEADERS))
def test_a_broken_pnm_header_is_an_image_file_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "broken.pam"
    path.write_bytes(HEADERS[kind])
    with pytest.raises(ImageFileError, match="its header is truncated or corrupt"):
        read_image(str(path))


@pytest.mark.parametrize("kind", [*HEADERS, *DECODER])
def test_predict_says_one_line_and_nothing_else(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.img"
    path.write_bytes({**HEADERS, **DECODER}[kind])
    r = run_cli("predict", str(path), env=ENV, timeout=DEADLINE)
    assert_user_error(r, str(path), "not a readable image")
    assert len(r.stderr.splitlines()) == 1, r.stderr  # no "[ERROR:0@0.2] ..." and blank line


def test_opencv_logging_is_as_it_was_after_a_refused_file(tmp_path: Path) -> None:
    """Silenced only while decoding: a caller's own OpenCV log level survives a read."""
    path = tmp_path / "cut.png"
    path.write_bytes(_png_header_only())
    before = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_DEBUG)
    try:
        with pytest.raises(ImageFileError, match="not a readable image"):
            read_image(str(path))
        assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_DEBUG
    finally:
        cv2.utils.logging.setLogLevel(before)
