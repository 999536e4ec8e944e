"""``mnist-edge data drawn``: the team's drawn digits rebuilt from UNIPEN and UJI releases.

The fixtures are small archives in the releases' own formats (UNIPEN 1.0 text in a .tgz, UJI's
``ujipenchars2.txt`` in a zip), written from a few of the team's samples in ``../shared/data/
drawn`` plus samples that must be left out; the tests skip when those files are absent.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mnist_edge.cli import main
from mnist_edge.core.drawn_sources import OUTPUT_FILES, build, fetch, selection, uji, unipen
from mnist_edge.core.drawn_sources.selection import Sample
from mnist_edge.core.errors import UserError
from tests.conftest import DRAWN

pytestmark = pytest.mark.skipif(
    not all((DRAWN / name).is_file() for name in OUTPUT_FILES),
    reason="the team's drawn-digit files are not in ../shared/data/drawn",
)

UNIPEN_NAME = fetch.RELEASES["unipen"].archives[0].name
UJI_NAME = fetch.RELEASES["uji"].archives[0].name


@functools.cache
def team(name: str) -> list[Sample]:
    return selection.read_team_file(DRAWN / name)


def _picks() -> dict[str, list[int]]:
    """Which team samples the fixtures hold (indices into the team's files)."""
    train = team("unipen-train.json")
    picks: dict[str, list[int]] = {"unipen-train.json": [], "unipen-dev.json": [0, 1, 2]}
    for writer in ("gmd/kast", "syn/cam"):
        mine = [i for i, s in enumerate(train) if s.writer == writer]
        two_strokes = next(i for i in mine if len(train[i].strokes) == 2)
        picks["unipen-train.json"] += sorted({mine[0], mine[1], two_strokes})
    uji_train = team("uji-train.json")
    picks["uji-train.json"] = [i for i, s in enumerate(uji_train) if s.writer == "uji/W01"][:3]
    picks["uji-train.json"] += [i for i, s in enumerate(uji_train) if s.writer == "uji/W60"][:2]
    return picks


# ----------------------------------------------------------------------------- fixtures


def _ints(stroke: np.ndarray, *, flip: bool) -> list[tuple[int, int]]:
    """Team coordinates (5 decimals of the canvas) as the integer ink units of a release."""
    x = np.rint(stroke[:, 0] * 100_000).astype(int)
    y = np.rint((1 - stroke[:, 1] if flip else stroke[:, 1]) * 100_000).astype(int)
    return list(zip(x.tolist(), y.tolist()))


def _unipen_ink(
    writer_id: str, digits: list[Sample], columns: str = "X Y"
) -> tuple[str, list[str]]:
    """An ink file (placeholders, pen-up traces and all) and each digit's delineation."""
    lines = [f".WRITER_ID\t{writer_id}", ".STYLE PRINTED", ""]
    extra = " 7" if columns == "X Y T" else ""
    component = 0
    delineations = []

    def pen(kind: str, points: list[tuple[int, int]]) -> None:
        nonlocal component
        lines.append(kind)
        lines.extend(f"{x} {y}{extra}" for x, y in points)
        lines.append(".PEN_UP")  # bare: ends the pen-down, not a component
        component += 1

    for digit in digits:
        pen(".PEN_DOWN", [(0, 0)])  # an unused box: counted all the same
        first = component
        for n, stroke in enumerate(digit.strokes):
            if n:  # a pen-up trace between strokes: a component, but no ink
                lines += [".PEN_UP", "5 5" + extra, "6 6" + extra]
                component += 1
            pen(".PEN_DOWN", _ints(stroke, flip=True))
        delineations.append(f"{first}-{component - 1}" if component - 1 > first else f"{first}")
    return "\n".join(lines) + "\n", delineations


def _unipen_archive(path: Path) -> None:
    picks = _picks()
    train, dev = team("unipen-train.json"), team("unipen-dev.json")
    files: dict[str, str] = {
        "include/gmd/gmd.doc": ".VERSION 1.0\n.DATA_SOURCE gmd\n.COORD X Y\n",
        "include/syn/syn0.doc": ".VERSION 1.0\n.DATA_SOURCE syn\n.COORD X Y T\n",
        "include/aga/aga.doc": ".VERSION 1.0\n.COORD X Y\n",
    }
    by_writer: dict[str, list[Sample]] = {}
    for i in picks["unipen-train.json"]:
        by_writer.setdefault(train[i].writer, []).append(train[i])
    by_writer["gmd/kast"] += [dev[i] for i in picks["unipen-dev.json"]]  # dev has no writer
    outsider = train[picks["unipen-train.json"][0]]
    by_writer["gmd/nobody"] = [outsider]  # a writer the team left out
    by_writer["aga/someone"] = [outsider]  # a site the team left out
    for writer, digits in by_writer.items():
        site, writer_id = writer.split("/")
        doc = {"gmd": "gmd/gmd.doc", "syn": "syn/syn0.doc", "aga": "aga/aga.doc"}[site]
        ink, delineations = _unipen_ink(writer_id, digits, "X Y T" if site == "syn" else "X Y")
        files[f"include/{site}/data/{writer_id}.dat"] = ink
        segments = [f'.SEGMENT CHARACTER {d} OK "{s.label}"' for d, s in zip(delineations, digits)]
        segments.append('.SEGMENT CHARACTER 0 ? "a"')  # not a digit
        files[f"data/1a/{site}/{writer_id}.dat"] = "\n".join(
            [".VERSION 1.0", f".INCLUDE {doc}", f".INCLUDE {site}/data/{writer_id}.dat", *segments]
        )
    with tarfile.open(path, "w:gz") as archive:
        for name in sorted(files, key=lambda n: (not n.startswith("data/"), n)):
            data = files[name].encode("latin-1")
            info = tarfile.TarInfo(f"train_r01_v07/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _uji_text() -> str:
    picks = _picks()
    samples = [team("uji-train.json")[i] for i in picks["uji-train.json"]]
    outsider = Sample(samples[0].strokes, samples[0].label, "uji/W03")  # not a team writer
    lines = ["// UJI: 100 units per millimetre", "// ASCII char: a", "WORD a trn_UJI_W01-01"]
    lines += ["  NUMSTROKES 1", "  POINTS 2 # 1 2 3 4"]
    for n, sample in enumerate([*samples, outsider]):
        number = int(sample.writer.split("W")[1])
        lines += [
            f"// ASCII char: {sample.label}",
            f"WORD {sample.label} trn_UJI_W{number:02d}-0{n % 2 + 1}",
        ]
        lines.append(f"  NUMSTROKES {len(sample.strokes)}")
        for stroke in sample.strokes:
            points = _ints(stroke, flip=False)
            points.insert(1, points[1])  # a repeated point, as the release has them
            values = " ".join(f"{x} {y}" for x, y in points)
            lines.append(f"  POINTS {len(points)} # {values}")
    return "\r\n".join(lines) + "\r\n"


def _uji_archive(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("uji2.names", "UJIpenchars2\n")
        archive.writestr("ujipenchars2.txt", _uji_text().encode("utf-8"))


@pytest.fixture
def archives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture archives; the UJI pin set to the fixture zip's SHA-256 (the real pin is the
    release's; the UNIPEN pin is pending)."""
    folder = tmp_path / "archives"
    folder.mkdir()
    _unipen_archive(folder / UNIPEN_NAME)
    _uji_archive(folder / UJI_NAME)
    _pin(monkeypatch, hashlib.sha256((folder / UJI_NAME).read_bytes()).hexdigest())
    return folder


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mirror(archives: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fixture archives served on 127.0.0.1, as ``MNIST_EDGE_DRAWN_MIRRORS``."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(archives))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(fetch.ENV_MIRRORS, f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        yield archives
    finally:
        server.shutdown()
        server.server_close()


def _pin(monkeypatch: pytest.MonkeyPatch, digest: str) -> None:
    release = fetch.RELEASES["uji"]
    first = dataclasses.replace(release.archives[0], sha256=digest)
    monkeypatch.setitem(
        fetch.RELEASES, "uji", dataclasses.replace(release, archives=(first, *release.archives[1:]))
    )


def _read(path: Path) -> list[dict]:
    doc = json.loads(path.read_text())
    assert doc["format"] == "mnist-edge-strokes/1"
    return doc["samples"]


def _same_shape(got: dict, want: Sample) -> bool:
    a, _ = selection.normalised([np.asarray(s) for s in got["strokes"]])
    b, _ = selection.normalised(want.strokes)
    return len(a) == len(b) and all(
        x.shape == y.shape and np.abs(x - y).max() < 1e-3 for x, y in zip(a, b)
    )


def _check_outputs(out: Path) -> None:
    picks = _picks()
    for name in OUTPUT_FILES:
        got = _read(out / name)
        want = [team(name)[i] for i in sorted(picks[name])]  # in the team's order
        assert len(got) == len(want), name
        for item, sample in zip(got, want):
            assert item["label"] == sample.label
            assert item.get("writer", "") == sample.writer  # the dev file has no writers
            assert _same_shape(item, sample)
            points = np.concatenate([np.asarray(s) for s in item["strokes"]])
            assert points.min() >= 0.02 - 1e-9 and points.max() <= 0.98 + 1e-9
            side = (points.max(axis=0) - points.min(axis=0)).max()
            assert 0.35 - 1e-4 <= side <= 0.85 + 1e-4


# ----------------------------------------------------------------------------- the tests


def test_selection_is_derived_from_the_team_files() -> None:
    committed = json.loads(selection.SELECTION_PATH.read_text())
    assert committed == selection.derive(DRAWN)
    assert selection.SELECTION_PATH.stat().st_size < 400_000  # fingerprints, no ink
    loaded = selection.load()
    assert {n: len(f) for n, f in loaded.items()} == {
        "unipen-train.json": 7194,
        "unipen-dev.json": 2000,
        "uji-train.json": 800,
    }
    assert set(loaded["unipen-train.json"].sites) == {"apb", "gmd", "syn", "val"}
    assert len(loaded["unipen-train.json"].writers) == 60
    assert len(loaded["uji-train.json"].writers) == 40


def test_fingerprint_ignores_placement_and_rounding() -> None:
    """Every team sample, placed again at another size and position and rounded to 5 decimals,
    still matches its own entry (or an identical twin's)."""
    chosen = selection.load()["uji-train.json"]
    samples = team("uji-train.json")
    rng = np.random.default_rng(7)
    moved = [
        Sample(tuple(np.asarray(s) for s in build.place(x.strokes, rng)), x.label, x.writer)
        for x in samples
    ]
    picks = selection.match(chosen, moved, set())
    assert picks == list(range(len(samples)))


def test_conversion_keeps_exactly_the_teams_samples(archives: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = build.build(out, from_dir=archives, partial=True, say=lambda _: None)
    _check_outputs(out)  # writers left out, sites left out, non-digits: none of them
    picks = _picks()
    assert report.counts["unipen-dev.json"] == (len(picks["unipen-dev.json"]), 2000)
    assert "writer" not in _read(out / "unipen-dev.json")[0]
    provenance = json.loads((out / build.PROVENANCE).read_text())
    assert provenance["archives"][UNIPEN_NAME]["pinned"] is None  # no published SHA-256


def test_output_is_reproducible_and_seeded(archives: Path, tmp_path: Path) -> None:
    runs = []
    for n, seed in enumerate((0, 0, 1)):
        out = tmp_path / f"out{n}"
        build.build(out, from_dir=archives, partial=True, seed=seed, say=lambda _: None)
        runs.append((out / "uji-train.json").read_bytes())
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_missing_samples_refused_unless_partial(archives: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"lack some of the team's samples.*--partial"):
        build.build(tmp_path / "out", from_dir=archives, say=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_unipen_reader_counts_components_as_the_format_says(archives: Path) -> None:
    samples, damaged = unipen.read_archive(archives / UNIPEN_NAME, {"gmd", "syn"})
    assert damaged == 0
    writers = {s.writer for s in samples}
    assert writers == {"gmd/kast", "gmd/nobody", "syn/cam"}  # aga was not asked for
    two = [s for s in samples if len(s.strokes) == 2]
    assert two, "a two-stroke digit whose strokes straddle a pen-up trace"


def test_uji_reader_collapses_repeated_points(archives: Path) -> None:
    samples, damaged = uji.parse(uji.read_source(archives / UJI_NAME))
    assert damaged == 0 and {s.writer for s in samples} == {"uji/W01", "uji/W60", "uji/W03"}
    for sample in samples:
        for stroke in sample.strokes:
            assert np.all(np.any(np.diff(stroke, axis=0) != 0, axis=1))


def test_download_through_a_mirror(mirror: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["data", "drawn", "--out", str(out), "--partial"]) == 0
    _check_outputs(out)
    printed = capsys.readouterr().out
    assert "matches its pin" in printed and "pin pending" in printed
    cached = sorted(p.name for p in fetch.cache_dir().iterdir())
    assert cached == sorted([UNIPEN_NAME, UJI_NAME])
    # The second run converts the cached archives: no server needed, and --force is.
    assert main(["data", "drawn", "--out", str(out), "--partial"]) == 2
    assert "--force" in capsys.readouterr().err
    mirror_off = "http://127.0.0.1:9/"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(fetch.ENV_MIRRORS, mirror_off)
        assert main(["data", "drawn", "--out", str(out), "--partial", "--force"]) == 0


def test_wrong_sha256_is_refused_and_nothing_written(
    mirror: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    _pin(monkeypatch, "0" * 64)
    out = tmp_path / "out"
    assert main(["data", "drawn", "--out", str(out), "--partial"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if not line.startswith("downloading ")]
    assert len(errors) == 1 and "SHA-256" in errors[0] and "Traceback" not in err
    assert not out.exists()
    cache = fetch.cache_dir()
    assert not (cache / UJI_NAME).exists()
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]


def test_no_network_names_what_to_fetch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setenv(fetch.ENV_MIRRORS, "http://127.0.0.1:9/")  # the discard port: refused
    out = tmp_path / "out"
    assert main(["data", "drawn", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    for needed in (UNIPEN_NAME, UJI_NAME, "zenodo.org/records/1195803", "--from-dir DIR"):
        assert needed in err
    assert not out.exists() and not fetch.cache_dir().exists()


def test_from_dir_converts_without_network(
    archives: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(fetch.ENV_MIRRORS, "http://127.0.0.1:9/")
    out = tmp_path / "out"
    assert main(["data", "drawn", "--from-dir", str(archives), "--out", str(out), "--partial"]) == 0
    _check_outputs(out)
    (archives / UJI_NAME).unlink()
    with pytest.raises(UserError, match=r"uji\+pen.* not found in .*--from-dir DIR"):
        build.build(tmp_path / "other", from_dir=archives, partial=True, say=lambda _: None)


def test_damaged_archives_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / UNIPEN_NAME
    bad.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    with pytest.raises(UserError, match=r"not a readable \.tgz"):
        unipen.read_archive(bad, {"gmd"})
    zipped = tmp_path / UJI_NAME
    zipped.write_bytes(b"PK\x03\x04" + b"junk" * 10)
    with pytest.raises(UserError, match="not a readable zip"):
        uji.read_source(zipped)


def test_mnist_data_command_unchanged(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("MNIST_EDGE_DATA", str(Path("/nonexistent-mnist")))
    assert main(["data", "--no-download"]) == 2
    assert "MNIST not found" in capsys.readouterr().err


def test_data_selection_writes_what_it_derives_and_keeps_an_existing_file(tmp_path: Path) -> None:
    """``mnist-edge data selection``: the maintainers' derivation as a subcommand (never over an
    existing file without --force, never over the team's files)."""
    from tests.conftest import run_cli

    out = tmp_path / "selection.json"
    r = run_cli("data", "selection", str(DRAWN), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == selection.derive(DRAWN)
    again = run_cli("data", "selection", str(DRAWN), "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr
    onto = run_cli("data", "selection", str(DRAWN), "--out", str(DRAWN / "uji-train.json"))
    assert onto.returncode == 2 and "also read" in onto.stderr


_DOT = {"label": 3, "strokes": [[[0.2, 0.2], [0.8, 0.8]]]}


@pytest.mark.parametrize(
    ("samples", "says"),
    [
        ('{"format": "mnist-edge-strokes/1", "samples": [', "not valid JSON"),
        ([{"strokes": [[[0.2, 0.2], [0.8, 0.8]]]}], "needs a digit label"),
        ([{**_DOT, "label": "31"}], "needs a digit label"),
        ([{**_DOT, "label": 12}], "label must be an integer 0-9"),
        ([{**_DOT, "strokes": [[]]}], "has no ink"),
        ([{**_DOT, "strokes": [[["a", 0.2]]]}], "expected [x, y] numbers"),
        ([{**_DOT, "strokes": [[[0.2, 0.2, 5.0]]]}], "expected [x, y] numbers"),
        ([{**_DOT, "strokes": [[0.2, 0.2, 0.8, 0.8]]}], "expected [x, y] numbers"),
        ([{**_DOT, "strokes": [[[float("nan"), 0.2]]]}], "expected [x, y] numbers"),
    ],
    ids=[
        "truncated",
        "no-label",
        "number-label",
        "label-12",
        "no-ink",
        "text-point",
        "xyt-point",
        "flat-stroke",
        "nan-point",
    ],
)
def test_data_selection_bad_team_file_is_one_line(
    samples: object, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A team file that is not one is one line; nothing is written."""
    for name in selection.FILES:
        text = json.dumps({"format": "mnist-edge-strokes/1", "samples": [_DOT]})
        (tmp_path / name).write_text(text)
    bad = (
        samples
        if isinstance(samples, str)
        else json.dumps({"format": "mnist-edge-strokes/1", "samples": samples})
    )
    (tmp_path / "uji-train.json").write_text(bad)
    out = tmp_path / "out.json"
    assert main(["data", "selection", str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err and "uji-train.json" in err, err
    assert not out.exists()
