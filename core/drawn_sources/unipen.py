"""UNIPEN train_r01_v07, category 1a (isolated digits), read from its archive.

The release (``unipen-CDROM-train_r01_v07.tgz``) holds ``<root>/data/<category>/<site>/...``
segment files and ``<root>/include/<site>/...`` files with the ink. A segment file is a UNIPEN
1.0 text: ``.INCLUDE site/x.doc`` and ``.INCLUDE site/data/x.dat`` (paths under ``include/``,
expanded in place), then ``.SEGMENT CHARACTER 38 OK "1"`` lines. The ink is a sequence of
components, ``.PEN_DOWN`` or ``.PEN_UP`` each followed by coordinate lines in the columns that
``.COORD`` declares (``X Y``, sometimes more). Components are numbered from 0 in order of
appearance in the file; empty ones (a bare ``.PEN_UP`` that only ends a pen-down) are not
counted, ``.START_SET`` starts the count again. A segment's delineation is ``A[:M]-B[:N],C``:
components A to B (from point M of A to point N of B), and C. ``.WRITER_ID`` names the writer.

Conversion, as the team's files were made (checked against the release's ``gmd/alek`` digits,
which the team's files hold point for point): every pen-down component of the segment is one
stroke, every point kept as recorded (repeats included), y flipped (UNIPEN's y points up).
"""

from __future__ import annotations

import contextlib
import gzip
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_edge.core.drawn_sources.selection import Sample
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import open_regular

CATEGORY = "1a"
MAX_SEGMENT_FILE = 1 << 20  # a segment file is a few KB
MAX_INCLUDE_FILE = 64 << 20  # the largest ink file is a few MB
MAX_UNPACKED = 3 << 30  # the whole archive unpacks to well under 1 GB
MAX_MEMBERS = 200_000  # about 30,000 files
MAX_INCLUDE_DEPTH = 3

_SEGMENT_FILE = re.compile(rf"^(?P<root>(?:.*/)?)data/{CATEGORY}/(?P<site>[^/]+)/(?P<rest>.+)$")
_STATEMENT = re.compile(r"(?m)^(?=\.[A-Z_]+)")
_LABEL = re.compile(r'"((?:[^"\\]|\\.)*)"')
_PART = re.compile(r"^(\d+)(?::(\d+))?(?:-(\d+)(?::(\d+))?)?$")


class UnipenError(UserError):
    pass


@dataclass
class _Segment:
    delineation: str
    label: str
    writer: str
    components: list[tuple[bool, np.ndarray]]  # the set's components: (pen down, points)


def read_archive(path: Path, sites: set[str]) -> tuple[list[Sample], int]:
    """The digits of category 1a from ``sites`` in the archive at ``path``, in the order of the
    segment files' names, and how many digit segments could not be read (damaged)."""
    segment_files: dict[str, tuple[str, str, str]] = {}  # member -> (root, site, text)
    for name, read in _members(path):
        found = _SEGMENT_FILE.match(name)
        if found and found["site"] in sites:
            segment_files[name] = (found["root"], found["site"], read(MAX_SEGMENT_FILE))
    if not segment_files:
        raise UnipenError(
            f"UNIPEN archive {path} holds no data/{CATEGORY}/ files of "
            f"{', '.join(sorted(sites))}; is it unipen-CDROM-train_r01_v07.tgz?"
        )
    root = next(iter(segment_files.values()))[0]  # one release: one top folder
    includes: dict[str, str] = {}
    wanted = {
        _include_path(root, arg)
        for _, _, text in segment_files.values()
        for arg in _include_args(text)
    }
    for _ in range(MAX_INCLUDE_DEPTH):  # included files may include others (the 'imp' site)
        if not wanted:
            break
        for name, read in _members(path):
            if name in wanted:
                includes[name] = read(MAX_INCLUDE_FILE)
        missing = wanted - set(includes)
        if missing:
            raise UnipenError(
                f"UNIPEN archive {path} lacks {sorted(missing)[0]}, which its segment files "
                "include; download the archive again"
            )
        wanted = {
            _include_path(root, arg) for text in includes.values() for arg in _include_args(text)
        } - set(includes)
    samples: list[Sample] = []
    damaged = 0
    for name in sorted(segment_files):
        _, site, text = segment_files[name]
        for segment in _segments(_expand(text, root, includes, name)):
            if len(segment.label) != 1 or not segment.label.isdigit():
                continue
            strokes = _strokes(segment)
            if strokes is None:
                damaged += 1
                continue
            samples.append(Sample(strokes, int(segment.label), f"{site}/{segment.writer}"))
    return samples, damaged


# ----------------------------------------------------------------------------- the archive


class _Capped:
    """A read-only stream that refuses to give more than ``limit`` bytes (a gzip bomb stops)."""

    def __init__(self, raw: BinaryIO, limit: int, path: Path) -> None:
        self.raw, self.left, self.path = raw, limit, path

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size >= 0 else self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise UnipenError(
                f"UNIPEN archive {self.path} unpacks to more than {MAX_UNPACKED >> 30} GB, far "
                "more than the release; download it again"
            )
        return data


def _members(path: Path) -> Iterator[tuple[str, object]]:
    """(name, read(limit) -> text) for every regular file, streaming through the archive once."""
    try:
        with contextlib.ExitStack() as stack:
            raw = stack.enter_context(open_regular(path, "UNIPEN archive", UnipenError))
            magic = raw.read(2)
            raw.seek(0)
            stream: BinaryIO = raw
            if magic == b"\x1f\x8b":
                stream = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
            capped = _Capped(stream, MAX_UNPACKED, path)
            archive = stack.enter_context(tarfile.open(fileobj=capped, mode="r|"))  # type: ignore[call-overload]
            for count, member in enumerate(archive):
                if count >= MAX_MEMBERS:
                    raise UnipenError(
                        f"UNIPEN archive {path} has more than {MAX_MEMBERS:,} files, far more "
                        "than the release; download it again"
                    )
                if not member.isfile():
                    continue

                def read(limit: int, member: tarfile.TarInfo = member) -> str:
                    if member.size > limit:
                        raise UnipenError(
                            f"UNIPEN archive {path}: {member.name} is {member.size:,} bytes, more "
                            "than such a file can be; download the archive again"
                        )
                    handle = archive.extractfile(member)
                    data = handle.read() if handle is not None else b""
                    return data.decode("latin-1")

                yield member.name, read
    except UnipenError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise UnipenError(
            f"UNIPEN archive {path} is not a readable .tgz ({type(exc).__name__}: {exc}); "
            "download it again"
        ) from None


def _include_args(text: str) -> list[str]:
    return [
        line.split(None, 1)[1].strip()
        for line in text.splitlines()
        if line.startswith(".INCLUDE") and len(line.split(None, 1)) == 2
    ]


def _include_path(root: str, arg: str) -> str:
    return f"{root}include/{arg.lstrip('/')}"


def _expand(text: str, root: str, includes: dict[str, str], name: str, depth: int = 0) -> str:
    """``text`` with every ``.INCLUDE`` line replaced by the file it names."""
    if depth > MAX_INCLUDE_DEPTH:
        raise UnipenError(f"UNIPEN file {name} nests .INCLUDE deeper than {MAX_INCLUDE_DEPTH}")
    out = []
    for line in text.splitlines():
        if line.startswith(".INCLUDE"):
            parts = line.split(None, 1)
            if len(parts) == 2:
                target = _include_path(root, parts[1].strip())
                out.append(_expand(includes[target], root, includes, target, depth + 1))
                continue
        out.append(line)
    return "\n".join(out)


# ----------------------------------------------------------------------------- the format


def _segments(text: str) -> Iterator[_Segment]:
    columns = ["X", "Y"]
    writer = "?"
    components: list[tuple[bool, np.ndarray]] = []
    for statement in _STATEMENT.split(text):
        if not statement.startswith("."):
            continue
        head, _, rest = statement.partition("\n")
        keyword = head.split(None, 1)[0]
        body = f"{head[len(keyword) :]}\n{rest}"
        if keyword == ".COORD":
            columns = body.split()
        elif keyword in (".PEN_DOWN", ".PEN_UP"):
            points = _points(body, columns)
            if len(points):
                components.append((keyword == ".PEN_DOWN", points))
        elif keyword == ".START_SET":
            components = []
        elif keyword == ".WRITER_ID":
            words = body.split()
            writer = words[0] if words else "?"
        elif keyword == ".SEGMENT":
            words = body.split(None, 2)
            label = _LABEL.search(body)
            if len(words) >= 2 and label is not None:
                yield _Segment(words[1], _unescape(label.group(1)), writer, components)


def _unescape(label: str) -> str:
    return re.sub(r"\\(.)", r"\1", label)


def _points(body: str, columns: list[str]) -> np.ndarray:
    """The (x, y) pairs of one component; y flipped (UNIPEN's y points up)."""
    words = body.split()
    if not words:
        return np.zeros((0, 2))
    try:
        values = np.array(words, dtype=np.float64)
    except ValueError:
        return np.zeros((0, 2))  # damaged: not counted, its segment then fails to resolve
    width = len(columns)
    if "X" not in columns or "Y" not in columns or len(values) % width:
        return np.zeros((0, 2))
    table = values.reshape(-1, width)
    return np.stack([table[:, columns.index("X")], -table[:, columns.index("Y")]], axis=1)


def _strokes(segment: _Segment) -> tuple[np.ndarray, ...] | None:
    """The segment's pen-down components as strokes, or None if its delineation does not
    resolve (unknown, or past the components the file holds)."""
    strokes: list[np.ndarray] = []
    for part in segment.delineation.split(","):
        found = _PART.match(part)
        if found is None:
            return None
        first, first_point, last, last_point = found.groups()
        a = int(first)
        b = int(last) if last is not None else a
        if b < a or b >= len(segment.components):
            return None
        for index in range(a, b + 1):
            down, points = segment.components[index]
            start = int(first_point) if index == a and first_point is not None else 0
            stop = int(last_point) + 1 if index == b and last_point is not None else len(points)
            piece = points[start:stop]
            if down and len(piece):
                strokes.append(piece)
    return tuple(strokes) if strokes else None
