"""UJI Pen Characters v2 (UCI), read from its zip or from ``ujipenchars2.txt`` itself.

The text (UTF-8) holds comment lines (``// ...``) and samples::

    WORD 7 trn_UJI_W01-01
      NUMSTROKES 2
      POINTS 9 # 541 1001 541 1001 ...
      POINTS 8 # 518 1227 ...

the character, then the session: writer set (``trn``/``tst``), site (``UJI``/``UPV``), writer
``Wnn`` (1 to 60) and repetition; then each stroke's points as integer ink units, x right, y down.

Conversion, as the team's files were made: digits only, writer ``uji/Wnn``, y kept, and runs of
repeated points collapsed to one (the release keeps them "frequently" inside strokes; the team's
``uji-train.json`` has not one repeated point among its 14,146 steps).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from mnist_edge.core.drawn_sources.selection import Sample
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import open_regular, read_capped

TEXT_NAME = "ujipenchars2.txt"
MAX_TEXT = 64 << 20  # the text is about 10 MB
MAX_STROKES = 64

_WORD = re.compile(r"^WORD\s+(\S+)\s+(\S+)\s*$")
_SESSION = re.compile(r"^(?:trn|tst)_(?:UJI|UPV)_W(\d+)-\d+$")


class UjiError(UserError):
    pass


def read_source(path: Path) -> str:
    """The text of ``ujipenchars2.txt``, from the zip the UCI serves or the file itself."""
    with open_regular(path, "UJI file", UjiError) as fh:
        is_zip = fh.read(4) == b"PK\x03\x04"
    if not is_zip:
        return read_capped(path, MAX_TEXT, "UJI file", UjiError).decode("utf-8", "replace")
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == TEXT_NAME]
            if not names:
                raise UjiError(
                    f"UJI archive {path} holds no {TEXT_NAME}; is it UJI Pen Characters v2?"
                )
            info = archive.getinfo(names[0])
            if info.file_size > MAX_TEXT:
                raise UjiError(
                    f"UJI archive {path}: {TEXT_NAME} is {info.file_size:,} bytes, more than "
                    "the release's; download it again"
                )
            with archive.open(info) as member:
                data = member.read(MAX_TEXT + 1)
    except UjiError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError) as exc:
        raise UjiError(
            f"UJI archive {path} is not a readable zip ({exc}); download it again"
        ) from None
    if len(data) > MAX_TEXT:
        raise UjiError(f"UJI archive {path}: {TEXT_NAME} unpacks past its stated size")
    return data.decode("utf-8", "replace")


def parse(text: str) -> tuple[list[Sample], int]:
    """The digits in ``text`` in file order, and how many digit samples were damaged."""
    lines = [line.strip() for line in text.splitlines()]
    samples: list[Sample] = []
    damaged = 0
    index = 0
    while index < len(lines):
        word = _WORD.match(lines[index])
        index += 1
        if word is None:
            continue
        char, session = word.groups()
        writer = _SESSION.match(session)
        if len(char) != 1 or not char.isdigit() or writer is None:
            continue
        strokes, index = _strokes(lines, index)
        if strokes is None:
            damaged += 1
            continue
        samples.append(Sample(strokes, int(char), f"uji/W{int(writer.group(1)):02d}"))
    return samples, damaged


def _strokes(lines: list[str], index: int) -> tuple[tuple[np.ndarray, ...] | None, int]:
    header = lines[index].split() if index < len(lines) else []
    if len(header) != 2 or header[0] != "NUMSTROKES" or not header[1].isdigit():
        return None, index
    count = int(header[1])
    if not 1 <= count <= MAX_STROKES or index + count > len(lines) - 1:
        return None, index + 1
    strokes = []
    for line in lines[index + 1 : index + 1 + count]:
        head, sep, values = line.partition("#")
        words = head.split()
        if not sep or len(words) != 2 or words[0] != "POINTS" or not words[1].isdigit():
            return None, index + 1
        try:
            points = np.array(values.split(), dtype=np.float64).reshape(-1, 2)
        except ValueError:
            return None, index + 1
        if len(points) != int(words[1]) or not len(points):
            return None, index + 1
        keep = np.concatenate([[True], np.any(np.diff(points, axis=0) != 0, axis=1)])
        strokes.append(points[keep])
    return tuple(strokes), index + 1 + count
