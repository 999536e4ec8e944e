"""Building the three drawn-digit files: find the archives, convert, keep the selection, place
each digit (seeded), write atomically.

Each kept digit is placed as the team's were: its longer side drawn uniformly from
:data:`SIZE` of the canvas, then a position uniform within :data:`MARGIN` of the edges, x and y
rounded to 5 decimals. The random numbers come from the seed, the file and the digit's place in
the file, so a file comes out the same on every run and a digit's placement does not depend on
which others were found.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_edge.core.drawn_sources import OUTPUT_FILES, fetch, selection, uji, unipen
from mnist_edge.core.drawn_sources.selection import FileSelection, Sample
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path, output_dir, writable_target

STROKES_FORMAT = "mnist-edge-strokes/1"
PROVENANCE = "drawn-sources.json"
SIZE = (0.35, 0.85)  # the longer side, as a share of the canvas
MARGIN = 0.02
DECIMALS = 5


def default_out() -> Path:
    """Beside the MNIST cache: ``$XDG_CACHE_HOME/mnist-edge/drawn``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mnist-edge" / "drawn"


@dataclass
class Report:
    out: Path
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # file -> (found, expected)
    archives: dict[str, dict[str, str | None]] = field(default_factory=dict)


def check_targets(out: Path, *, force: bool) -> list[Path]:
    """The files to write; an existing one is refused without ``force`` (before any work)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; name a folder")
    targets = [out / name for name in (*OUTPUT_FILES, PROVENANCE)]
    for target in targets:
        writable_target(target, "--out file")
        if target.exists() and not force:
            raise UserError(f"{target} exists; pass --force to replace it or choose another --out")
    return targets


def build(
    out: Path,
    *,
    from_dir: Path | None = None,
    force: bool = False,
    seed: int = 0,
    partial: bool = False,
    download: bool = True,
    chosen: dict[str, FileSelection] | None = None,
    say: Callable[[str], None] = print,
) -> Report:
    """Write ``unipen-train.json``, ``unipen-dev.json``, ``uji-train.json`` and
    ``drawn-sources.json`` into ``out``; ``chosen`` replaces the committed selection (tests)."""
    check_targets(out, force=force)
    if from_dir is not None and not from_dir.is_dir():
        raise UserError(f"--from-dir {from_dir} is not a folder; name the folder with the archives")
    files = chosen if chosen is not None else selection.load()
    report = Report(out)
    located: dict[str, tuple[Path, fetch.Archive]] = {}
    absent: list[tuple[fetch.Release, str]] = []
    for key, release in fetch.RELEASES.items():
        if not any(f.source == key for f in files.values()):
            continue
        try:
            located[key] = fetch.locate(release, from_dir, download=download)
        except fetch.MissingArchive as exc:  # go on: name every archive still to fetch
            absent.append((release, str(exc)))
    if absent:
        reasons = "; ".join(reason for _, reason in absent)
        raise UserError(f"{reasons}; {fetch.manual_hint([r for r, _ in absent])}")
    sources: dict[str, list[Sample]] = {}
    for key, (path, archive) in located.items():
        seen = fetch.sha256_of(path)
        fetch.check_sha256(archive, seen, path)
        report.archives[archive.name] = {"sha256": seen, "pinned": archive.sha256}
        pin = "matches its pin" if archive.sha256 else "no published value to check (pin pending)"
        say(f"{archive.name}: sha256 {seen} ({pin})")
        if key == "unipen":
            sites = {site for f in files.values() if f.source == key for site in f.sites}
            sources[key], damaged = unipen.read_archive(path, sites)
        else:
            sources[key], damaged = uji.parse(uji.read_source(path))
        if damaged:
            say(f"{archive.name}: {damaged} damaged digit samples skipped")
    kept: dict[str, list[tuple[int, Sample]]] = {}  # file -> (place in the file, sample)
    missing = []
    for key, pool in sources.items():
        taken: set[int] = set()
        # Files with writers first: their entries are the more specific.
        for file in sorted(
            (f for f in files.values() if f.source == key), key=lambda f: not f.with_writer
        ):
            picks = selection.match(file, pool, taken)
            kept[file.name] = [(e, pool[i]) for e, i in enumerate(picks) if i is not None]
            report.counts[file.name] = (len(kept[file.name]), len(file))
            if len(kept[file.name]) < len(file):
                missing.append(f"{file.name} {len(kept[file.name]):,} of {len(file):,}")
    if missing and not partial:
        raise UserError(
            f"the archives lack some of the team's samples ({', '.join(missing)} found): a "
            "different release? nothing was written; --partial writes what was found"
        )
    documents = {
        name: _document(kept[name], with_writer=files[name].with_writer, seed=seed, file_no=i)
        for i, name in enumerate(OUTPUT_FILES)
        if name in kept
    }
    provenance = {
        "format": "mnist-edge-drawn-sources/1",
        "seed": seed,
        "archives": report.archives,
        "files": {n: {"samples": c[0], "expected": c[1]} for n, c in report.counts.items()},
    }
    texts = [*documents.items(), (PROVENANCE, json.dumps(provenance, indent=1))]
    # Every file is written to a temporary name first; the renames come only after all of them.
    with (
        output_dir(out, force=True, what="drawn-digit", keep_existing=True) as folder,
        contextlib.ExitStack() as stack,
    ):
        for name, text in texts:
            tmp = stack.enter_context(atomic_path(folder / name))
            tmp.write_text(text + "\n", encoding="utf-8")
    for name, (found, expected) in report.counts.items():
        say(f"{name}: {found:,} digits" + ("" if found == expected else f" of {expected:,}"))
    say(f"drawn digits at {out}")
    return report


def place(strokes: tuple[np.ndarray, ...], rng: np.random.Generator) -> list[list[list[float]]]:
    """``strokes`` at a random size and position on the canvas, x and y in [0, 1]."""
    moved, extent = selection.normalised(strokes)
    size = rng.uniform(*SIZE)
    width, height = extent * size
    x0 = rng.uniform(MARGIN, 1 - MARGIN - width)
    y0 = rng.uniform(MARGIN, 1 - MARGIN - height)
    return [np.round(s * size + (x0, y0), DECIMALS).tolist() for s in moved]


def _document(
    samples: list[tuple[int, Sample]], *, with_writer: bool, seed: int, file_no: int
) -> str:
    items = []
    for index, sample in samples:
        rng = np.random.default_rng([seed, file_no, index])
        item: dict[str, object] = {"label": sample.label, "strokes": place(sample.strokes, rng)}
        if with_writer:
            item["writer"] = sample.writer
        items.append(item)
    return json.dumps({"format": STROKES_FORMAT, "samples": items}, separators=(",", ":"))
