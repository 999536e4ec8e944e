"""Which source samples are the team's: placement-free fingerprints, and matching against them.

Each digit in the team's files sits at a random size and position (uniform scale, translation,
5 decimals). A fingerprint is invariant to that: a 32-bit key hashed from the writer, the label
and every stroke's point count (a dev sample's writer is unknown: its key uses ``""``), and the
shape: the strokes moved to the origin and scaled so that their longer side is 1, resampled to
:data:`SHAPE_POINTS` points evenly along the ink and quantised to a byte per coordinate. A source
sample matches a selection entry when the keys are equal and no shape byte differs by more than
:data:`TOLERANCE` (rounding to 5 decimals moves a byte by less than one step). Each entry takes
at most one sample and each sample one entry, closest pairs first.

The committed ``selection.json`` holds, per output file, its entries in the team's order (20
bytes each, base64): fingerprints only, no ink. ``mnist-edge data selection DIR`` derives it
again from the team's files in DIR.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import read_capped

FORMAT = "mnist-edge-drawn-selection/1"
SELECTION_PATH = Path(__file__).with_name("selection.json")
SHAPE_POINTS = 8
TOLERANCE = 2  # bytes of 1/255: rounding moves a byte by less than 1
ENTRY_BYTES = 4 + 2 * SHAPE_POINTS
MAX_SELECTION_BYTES = 4 << 20
MAX_TEAM_FILE_BYTES = 64 << 20

#: The team's files: which source each comes from, and whether its samples carry a writer.
FILES: dict[str, tuple[str, bool]] = {
    "unipen-train.json": ("unipen", True),
    "unipen-dev.json": ("unipen", False),
    "uji-train.json": ("uji", True),
}


@dataclass(frozen=True)
class Sample:
    """One digit: strokes as float arrays [n, 2] in any unit (x right, y down), its label and
    writer (``site/name``)."""

    strokes: tuple[np.ndarray, ...]
    label: int
    writer: str


# ----------------------------------------------------------------------------- fingerprints


def normalised(strokes: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """The strokes moved to the origin, longer side 1 (aspect kept), and their extent (w, h)."""
    points = np.concatenate([np.asarray(s, dtype=np.float64) for s in strokes])
    low = points.min(axis=0)
    side = float((points.max(axis=0) - low).max())
    scale = 1.0 / side if side > 0 else 1.0
    moved = [(np.asarray(s, dtype=np.float64) - low) * scale for s in strokes]
    return moved, (points.max(axis=0) - low) * scale


def shape_bytes(strokes: Sequence[np.ndarray]) -> bytes:
    """:data:`SHAPE_POINTS` points evenly spaced along the pen's path (the strokes joined in
    order, pen lifts as straight moves, so the points move continuously with the ink),
    normalised, one byte per coordinate."""
    moved, _ = normalised(strokes)
    points = np.concatenate(moved)
    cumulative = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))])
    targets = np.linspace(0.0, cumulative[-1], SHAPE_POINTS)
    # Zero-length steps (repeated points) give np.interp equal xp values with equal fp: harmless.
    picked = np.stack(
        [
            np.interp(targets, cumulative, points[:, 0]),
            np.interp(targets, cumulative, points[:, 1]),
        ],
        axis=1,
    )
    return np.clip(np.rint(picked * 255), 0, 255).astype(np.uint8).tobytes()


def key(writer: str, label: int, strokes: Sequence[np.ndarray]) -> int:
    counts = ",".join(str(len(s)) for s in strokes)
    digest = hashlib.blake2b(f"{writer}|{label}|{counts}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def entry(sample: Sample, *, with_writer: bool) -> bytes:
    writer = sample.writer if with_writer else ""
    return key(writer, sample.label, sample.strokes).to_bytes(4, "little") + shape_bytes(
        sample.strokes
    )


# ----------------------------------------------------------------------------- the selection


@dataclass(frozen=True)
class FileSelection:
    name: str  # output file, e.g. "unipen-train.json"
    source: str  # "unipen" or "uji"
    with_writer: bool
    keys: np.ndarray  # uint32 [n]
    shapes: np.ndarray  # uint8 [n, 2 * SHAPE_POINTS]
    writers: tuple[str, ...]  # the writers it holds (empty for the dev file)
    sites: tuple[str, ...]  # the sites it draws from

    def __len__(self) -> int:
        return len(self.keys)


def encode(
    files: dict[str, list[bytes]], writers: dict[str, list[str]], sites: dict[str, list[str]]
) -> dict:
    out: dict = {
        "format": FORMAT,
        "fingerprint": {
            "key": "blake2b-32 (little-endian) of 'writer|label|points per stroke' "
            "(writer '' in files without writers)",
            "shape": f"{SHAPE_POINTS} points evenly along the ink after moving to the origin and "
            "scaling the longer side to 1, x and y as round(255 * v)",
            "tolerance": TOLERANCE,
            "entry_bytes": ENTRY_BYTES,
        },
        "files": {},
    }
    for name, entries in files.items():
        source, with_writer = FILES[name]
        out["files"][name] = {
            "source": source,
            "writers_field": with_writer,
            "count": len(entries),
            "sites": sorted(sites[name]),
            "writers": sorted(writers[name]),
            "entries": base64.b64encode(b"".join(entries)).decode("ascii"),
        }
    return out


def load(path: Path = SELECTION_PATH) -> dict[str, FileSelection]:
    raw = read_capped(path, MAX_SELECTION_BYTES, "selection file")
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
        result = {}
        for name, spec in doc["files"].items():
            blob = base64.b64decode(spec["entries"], validate=True)
            if len(blob) != spec["count"] * ENTRY_BYTES:
                raise ValueError(f"{name}: {len(blob)} bytes for {spec['count']} entries")
            table = np.frombuffer(blob, dtype=np.uint8).reshape(-1, ENTRY_BYTES)
            result[name] = FileSelection(
                name=name,
                source=str(spec["source"]),
                with_writer=bool(spec["writers_field"]),
                keys=table[:, :4].copy().view("<u4").reshape(-1),
                shapes=table[:, 4:].astype(np.int16),
                writers=tuple(spec["writers"]),
                sites=tuple(spec["sites"]),
            )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"selection file {path} is damaged ({exc}); reinstall mnist-edge") from None
    return result


def match(selection: FileSelection, samples: Sequence[Sample], taken: set[int]) -> list[int | None]:
    """For each entry of ``selection`` the index of the sample it keeps (None: not found).
    Samples in ``taken`` are not offered and the ones chosen are added to it."""
    buckets: dict[int, list[int]] = {}
    for index, k in enumerate(selection.keys.tolist()):
        buckets.setdefault(k, []).append(index)
    pairs: list[tuple[int, int, int]] = []
    for s_index, sample in enumerate(samples):
        if s_index in taken:
            continue
        if selection.with_writer and sample.writer not in selection.writers:
            continue
        fp = entry(sample, with_writer=selection.with_writer)
        entries = buckets.get(int.from_bytes(fp[:4], "little"))
        if not entries:
            continue
        shape = np.frombuffer(fp[4:], dtype=np.uint8).astype(np.int16)
        dist = np.abs(selection.shapes[entries] - shape).max(axis=1)
        for e_index, d in zip(entries, dist.tolist()):
            if d <= TOLERANCE:
                pairs.append((d, e_index, s_index))
    chosen: list[int | None] = [None] * len(selection)
    for _, e_index, s_index in sorted(pairs):
        if chosen[e_index] is None and s_index not in taken:
            chosen[e_index] = s_index
            taken.add(s_index)
    return chosen


# ----------------------------------------------------------------------------- deriving it


def _is_point(point: object) -> bool:
    """``[x, y]`` of two finite numbers (what ``ink.strokes`` checks too; core reads alone)."""
    return (
        isinstance(point, list)
        and len(point) == 2
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in point
        )
    )


def read_team_file(path: Path) -> list[Sample]:
    """The digits of one of the team's stroke files; a file that is not one, or a sample
    without a digit label 0-9 or without ink, is one line (read here, below the ink layer)."""
    raw = read_capped(path, MAX_TEAM_FILE_BYTES, "drawn-digit file")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UserError(
            f"drawn-digit file {path} is not valid JSON ({exc}); pass the team's file"
        ) from None
    items = doc.get("samples") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise UserError(f"drawn-digit file {path} has no 'samples' list; pass the team's file")
    samples = []
    for index, item in enumerate(items):
        where = f"drawn-digit file {path}, sample {index}"
        label = item.get("label") if isinstance(item, dict) else None
        if not isinstance(label, int) or isinstance(label, bool):  # None, or "4071"
            raise UserError(f"{where}: needs a digit label 0-9; pass the team's digit files")
        if not 0 <= label <= 9:
            raise UserError(f"{where}: label must be an integer 0-9, got {label}")
        raw = item.get("strokes")
        if not isinstance(raw, list) or not all(
            isinstance(stroke, list) and all(_is_point(p) for p in stroke) for stroke in raw
        ):
            raise UserError(f"{where}: strokes expected [x, y] numbers; pass the team's file")
        strokes = tuple(np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in raw)
        if not any(len(s) for s in strokes):
            raise UserError(f"{where}: has no ink; pass the team's digit files")
        samples.append(Sample(strokes=strokes, label=label, writer=str(item.get("writer", ""))))
    return samples


def derive(team_dir: Path) -> dict:
    """The selection document for the team's three files in ``team_dir``."""
    files: dict[str, list[bytes]] = {}
    writers: dict[str, list[str]] = {}
    sites: dict[str, list[str]] = {}
    for name, (_, with_writer) in FILES.items():
        samples = read_team_file(team_dir / name)
        files[name] = [entry(s, with_writer=with_writer) for s in samples]
        names = {s.writer for s in samples if s.writer}
        writers[name] = sorted(names)
        sites[name] = sorted({w.split("/", 1)[0] for w in names})
    # The dev file has no writers: it draws from the sites of the train file of its source.
    sites["unipen-dev.json"] = sites["unipen-train.json"]
    return encode(files, writers, sites)


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=1) + "\n"
