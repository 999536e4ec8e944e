"""Lose nothing, hang on nothing: every file argument against every kind of hostile path.

Each case runs the real CLI in a subprocess under a deadline and an address-space cap, and
checks one line and exit 2, that the path still is what it was (a device node stays a device
node, a symlink a symlink) and that a user's file keeps every byte.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import LOCK_FILE, FileLock, read_capped, write_text_atomic
from mnist_edge.ink.stroke_writer import StrokeWriter
from mnist_edge.ink.strokes import Sample, load_samples, save_samples
from tests.conftest import MODELS, QUICK_BENCH, ROOT, assert_user_error

LINE = [(0.5, 0.15), (0.5, 0.5), (0.52, 0.85)]
HOOK = [(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)]
ADDRESS_SPACE = 6 << 30  # a reader that slurps /dev/zero dies here instead of taking the machine
ENV = {"MNIST_EDGE_MODELS": str(MODELS), "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def started(*args: str, **options: Any) -> subprocess.Popen[str]:
    """``python -m mnist_edge ARGS`` running, its stdout and stderr piped (as ``cli`` runs it)."""
    env = {**os.environ, **ENV}
    env.pop("PYTHONPATH", None)
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_edge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
        **options,
    )


def cli(*args: str, timeout: float = 120, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "mnist_edge", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        preexec_fn=_cap,
    )


# ---- hostile paths: each maker builds one at ``path`` and returns what must stay true of it


def _fifo(path: Path) -> Callable[[], bool]:
    os.mkfifo(path)
    return lambda: stat.S_ISFIFO(os.lstat(path).st_mode)


def _device(path: Path) -> Callable[[], bool]:
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own
    return lambda: stat.S_ISCHR(os.lstat(path).st_mode)


def _zero(path: Path) -> Callable[[], bool]:
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero: endless bytes
    return lambda: stat.S_ISCHR(os.lstat(path).st_mode)


def _full(path: Path) -> Callable[[], bool]:
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # /dev/full
    return lambda: stat.S_ISCHR(os.lstat(path).st_mode)


def _folder(path: Path) -> Callable[[], bool]:
    path.mkdir()
    return lambda: path.is_dir() and not any(path.iterdir())


def _dangling(path: Path) -> Callable[[], bool]:
    path.symlink_to(path.parent / "nowhere.json")
    return lambda: path.is_symlink() and not (path.parent / "nowhere.json").exists()


HOSTILE = {"fifo": _fifo, "device": _device, "zero": _zero, "full": _full, "folder": _folder}
HOSTILE_ALL = {**HOSTILE, "dangling-link": _dangling}
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root")


def _replay(tmp_path: Path, samples: list[Sample] | None = None, name: str = "r.json") -> Path:
    path = tmp_path / name
    save_samples(path, samples or [Sample([LINE], 1, "w"), Sample([HOOK], 7, "w")])
    return path


#: command line per (flag, role); {p} is the hostile path, {r} a good replay file.
READERS = {
    "replay": ("draw", "--headless", "--replay", "{p}"),
    "collect": ("draw", "--headless", "--collect", "{p}"),
    "config": ("draw", "--headless", "--config", "{p}"),
    "bench-drawn-eval": (
        "bench", "--models", f"{MODELS}/edge-int8.tflite", "--runtimes", "litert",
        "--limit", "10", "--drawn-eval", "{p}", "--out", "{tmp}/bench",
    ),
    "train-drawn": ("train", "--epochs", "1", "--limit", "20", "--drawn", "{p}",
                    "--out", "{tmp}/train"),
    "predict-image": ("predict", "{p}"),
    "draw-model": ("draw", "--headless", "--model", "{p}"),
    "draw-pen": ("draw", "--headless", "--pen", "{p}"),
    "predict-model": ("predict", "--model", "{p}", "{r}"),
    "bench-models": ("bench", "--models", "{p}", "--limit", "10", "--out", "{tmp}/bench"),
    "bench-keras-model": (
        "bench", "--models", f"{MODELS}/edge-int8.tflite", "--runtimes", "litert",
        "--limit", "10", "--keras-model", "{p}", "--out", "{tmp}/bench",
    ),
    "bench-config": ("bench", "--config", "{p}", "--out", "{tmp}/bench"),
    "train-config": ("train", "--config", "{p}", "--out", "{tmp}/train"),
    "train-drawn-eval": ("train", "--epochs", "1", "--limit", "20", "--drawn-eval", "{p}",
                         "--out", "{tmp}/train"),
    "export-model": ("export", "--model", "{p}", "--out", "{tmp}/export"),
    "export-config": ("export", "--config", "{p}", "--out", "{tmp}/export"),
    "evaluate-model": ("evaluate", "--model", "{p}", "--out", "{tmp}/evaluate"),
    "pipeline-config": ("pipeline", "--config", "{p}", "--out", "{tmp}/pipeline"),
    "pipeline-drawn": ("pipeline", "--drawn", "{p}", "--epochs", "1", "--limit", "20",
                       "--out", "{tmp}/pipeline"),
    "numbers-compose-drawn": ("numbers", "compose", "{tmp}/o.json", "--drawn", "{p}"),
    "numbers-compose-config": ("numbers", "compose", "{tmp}/o.json", "--drawn", "{r}",
                               "--config", "{p}"),
    "numbers-bench-file": ("numbers", "bench", "{p}"),
    "numbers-bench-model": ("numbers", "bench", "{r}", "--model", "{p}"),
    "numbers-speed-file": ("numbers", "speed", "{p}"),
    "numbers-speed-model": ("numbers", "speed", "{r}", "--model", "{p}"),
    "numbers-pictures-file": ("numbers", "pictures", "{p}"),
    "numbers-pictures-config": ("numbers", "pictures", "{r}", "--config", "{p}"),
    "estimate-results": ("estimate", "{p}"),
    "estimate-numbers": ("estimate", "--numbers", "{p}"),
    "estimate-config": ("estimate", "{r}", "--config", "{p}"),
    "numbers-fit-drawn": ("numbers", "fit", "--drawn", "{p}", "--out", "{tmp}/s.json"),
    "numbers-fit-model": ("numbers", "fit", "--drawn", "{r}", "--model", "{p}"),
    "collect-cost-file": ("collect-cost", "{p}"),
    "collect-cost-config": ("collect-cost", "{r}", "--config", "{p}"),
}  # fmt: skip
#: The file name each input is given (some commands choose what to do by the suffix).
SUFFIX = {"predict-image": ".png", "draw-pen": ".tflite", "bench-keras-model": ".keras",
          "export-model": ".keras", "evaluate-model": ".keras", "numbers-bench-model": ".tflite",
          "numbers-speed-model": ".onnx",
          "numbers-fit-model": ".tflite"}  # fmt: skip
#: Folder arguments: any of these standing where a folder should be is refused, and kept.
FOLDERS = {
    "data-dir": ("data", "--data-dir", "{p}"),
    "data-copy-to": ("data", "--copy-to", "{p}"),
    "bench-data-dir": ("bench", "--models", f"{MODELS}/edge-int8.tflite", "--runtimes",
                       "litert", "--limit", "10", "--data-dir", "{p}", "--out", "{tmp}/bench"),
    "train-data-dir": ("train", "--epochs", "1", "--limit", "20", "--data-dir", "{p}",
                       "--out", "{tmp}/train"),
    "bench-out": ("bench", "--models", f"{MODELS}/edge-int8.tflite", "--runtimes", "litert",
                  "--limit", "10", "--out", "{p}"),
    "train-out": ("train", "--epochs", "1", "--limit", "20", "--out", "{p}"),
    "export-out": ("export", "--model", "{tmp}/no.keras", "--out", "{p}"),
    "evaluate-out": ("evaluate", "--model", "{tmp}/no.keras", "--out", "{p}"),
    "pipeline-out": ("pipeline", "--epochs", "1", "--limit", "20", "--out", "{p}"),
}  # fmt: skip
WRITERS = {
    "record": ("draw", "--headless", "--replay", "{r}", "--record", "{p}"),
    "screenshot": ("draw", "--headless", "--replay", "{r}", "--screenshot", "{p}"),
    "numbers-compose-out": ("numbers", "compose", "{p}", "--drawn", "{r}", "--force"),
    "numbers-bench-out": ("numbers", "bench", "{r}", "--out", "{p}", "--force"),
    "numbers-speed-out": ("numbers", "speed", "{r}", "--out", "{p}", "--force"),
    "numbers-pictures-out": ("numbers", "pictures", "{r}", "--out", "{p}", "--force"),
    "estimate-out": ("estimate", "--numbers", "{r}", "--out", "{p}", "--force"),
    "numbers-fit-out": ("numbers", "fit", "--drawn", "{r}", "--out", "{p}", "--force"),
}


def _args(template: tuple[str, ...], **values: Path) -> list[str]:
    return [
        part.format(**{k: str(v) for k, v in values.items()}) if "{" in part else part
        for part in template
    ]


@needs_root
@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", list(HOSTILE_ALL))
@pytest.mark.parametrize("command", list(READERS))
def test_a_hostile_path_as_an_input_is_refused_in_one_line(
    tmp_path: Path, command: str, kind: str
) -> None:
    path = tmp_path / f"hostile{SUFFIX.get(command, '.json')}"
    still = HOSTILE_ALL[kind](path)
    result = cli(*_args(READERS[command], p=path, r=_replay(tmp_path), tmp=tmp_path), timeout=150)
    assert_user_error(result, str(path.name))
    assert still(), "the path changed"


@needs_root
@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", [k for k in HOSTILE_ALL if k != "folder"])
@pytest.mark.parametrize("command", list(FOLDERS))
def test_a_hostile_path_as_a_folder_is_refused_in_one_line(
    tmp_path: Path, command: str, kind: str
) -> None:
    path = tmp_path / "hostile"
    still = HOSTILE_ALL[kind](path)
    result = cli(*_args(FOLDERS[command], p=path, tmp=tmp_path), timeout=150)
    assert_user_error(result, path.name)
    assert still(), "the path changed"


@needs_root
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", list(HOSTILE_ALL))
@pytest.mark.parametrize("flag", list(WRITERS))
def test_a_hostile_path_as_an_output_is_refused_and_left_alone(
    tmp_path: Path, flag: str, kind: str
) -> None:
    path = tmp_path / ("out.png" if flag == "screenshot" else "out.json")
    still = HOSTILE_ALL[kind](path)
    result = cli(*_args(WRITERS[flag], p=path, r=_replay(tmp_path)))
    assert_user_error(result, path.name)
    assert still(), "the path changed"


def test_atomic_writes_never_replace_a_device_node(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("device nodes need root")
    node = tmp_path / "null"
    _device(node)
    with pytest.raises(UserError, match="character device"):
        write_text_atomic(node, "{}")
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]  # no temporary file left behind


def test_capped_reader_stops_at_the_cap_on_a_regular_file(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    assert read_capped(big, 2048, "file") == b" " * 2048
    with pytest.raises(UserError, match="larger than 1 KB"):
        read_capped(big, 1024, "file")


# ---- --record and --collect never overwrite what a user has


def _labelled_file(tmp_path: Path, samples_last: bool = True) -> Path:
    """A user's collection, indented, with fields this version does not know."""
    path = tmp_path / "mine.json"
    samples = [
        {"strokes": [[[0.123456789, 0.5], [0.5, 0.987654321]]], "label": d, "pen": "x"}
        for d in range(10)
    ] * 5
    site = {"name": "lab", "device": "tablet"}
    doc: dict[str, object] = {"format": "mnist-edge-strokes/1", "site": site, "samples": samples}
    if not samples_last:
        doc["site"] = doc.pop("site")
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_record_onto_a_labelled_file_with_nothing_drawn_changes_nothing(tmp_path: Path) -> None:
    mine = _labelled_file(tmp_path)
    before = mine.read_bytes()
    result = cli("draw", "--headless", "--record", str(mine))
    assert result.returncode == 0, result.stderr[-2000:]
    assert mine.read_bytes() == before


def test_record_onto_a_file_that_is_not_a_stroke_file_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"models": []}')
    result = cli(
        "draw", "--headless", "--replay", str(_replay(tmp_path)), "--record", str(manifest)
    )
    assert_user_error(result, "manifest.json", "format")
    assert manifest.read_text() == '{"models": []}'


@pytest.mark.parametrize(
    "flags",
    [("--replay", "--record"), ("--collect", "--record"), ("--replay", "--screenshot")],
    ids=lambda f: "-".join(x.strip("-") for x in f),
)
def test_one_file_under_two_flags_is_refused(tmp_path: Path, flags: tuple[str, str]) -> None:
    mine = _replay(tmp_path)
    before = mine.read_bytes()
    link = tmp_path / ("link.png" if flags[1] == "--screenshot" else "link.json")
    link.symlink_to(mine)  # the same file by another name is still the same file
    result = cli("draw", "--headless", flags[0], str(mine), flags[1], str(link))
    assert_user_error(result, "same file")
    assert mine.read_bytes() == before


def test_record_continues_an_existing_recording(tmp_path: Path) -> None:
    replay = _replay(tmp_path)
    recorded = tmp_path / "rec.json"
    for _ in range(2):
        result = cli("draw", "--headless", "--replay", str(replay), "--record", str(recorded))
        assert result.returncode == 0, result.stderr[-2000:]
    assert [s.strokes for s in load_samples(recorded)] == [[LINE], [HOOK]] * 2


def test_recording_through_a_symlink_writes_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    save_samples(target, [])  # a link to nothing is refused (see the hostile paths)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    result = cli("draw", "--headless", "--replay", str(_replay(tmp_path)), "--record", str(link))
    assert result.returncode == 0, result.stderr[-2000:]
    assert link.is_symlink() and len(load_samples(target)) == 2


@pytest.mark.parametrize("samples_last", [True, False], ids=["samples-last", "fields-after"])
def test_collect_by_replay_appends_and_keeps_every_field(
    tmp_path: Path, samples_last: bool
) -> None:
    """Scripted collection end to end: the replayed samples are saved as their labels; unknown
    fields and unrounded numbers stay. Where ``samples`` ends the file (every file this project
    writes), the file's bytes stay as they were; other layouts are re-encoded once."""
    mine = _labelled_file(tmp_path, samples_last)
    before = mine.read_bytes()
    link = tmp_path / "via-link.json"
    link.symlink_to(mine)
    replay = _replay(tmp_path, [Sample([LINE], 1), Sample([HOOK], 7), Sample([LINE], 4)])
    result = cli("draw", "--headless", "--collect", str(link), "--replay", str(replay))
    assert result.returncode == 0, result.stderr[-2000:]
    after = mine.read_bytes()
    assert link.is_symlink()
    if samples_last:
        close = before.rstrip().rstrip(b"}").rstrip().rstrip(b"]").rstrip()
        assert after.startswith(close)  # nothing the file held was rewritten
        assert len(after) < len(before) + 400  # three short samples, no re-indentation
    else:
        assert len(after) < len(before)  # compact: never inflated
    doc = json.loads(after)
    assert doc["site"] == {"name": "lab", "device": "tablet"}
    assert doc["samples"][0]["pen"] == "x" and doc["samples"][0]["strokes"][0][0][0] == 0.123456789
    assert [s["label"] for s in doc["samples"][50:]] == [1, 7, 4]
    saved = [json.loads(line)["saved"] for line in result.stdout.splitlines() if line[:1] == "{"]
    assert saved == ["Saved a 1", "Saved a 7", "Saved a 4"]


def test_collect_undo_takes_back_only_this_sessions_samples(tmp_path: Path) -> None:
    mine = _labelled_file(tmp_path)
    before = mine.read_bytes()
    writer = StrokeWriter.open(mine, "--collect")
    try:
        writer.append(Sample([LINE], 3))
        assert writer.remove_last() is not None
        assert writer.remove_last() is None  # the 50 samples of earlier sessions stay
    finally:
        writer.close()
    assert len(load_samples(mine)) == 50
    assert json.loads(mine.read_bytes()) == json.loads(before)


def test_a_change_on_disk_is_read_back_before_the_next_save(tmp_path: Path) -> None:
    path = _replay(tmp_path)
    writer = StrokeWriter.open(path, "--record")
    try:
        save_samples(path, [*load_samples(path), Sample([LINE], 2)])  # another tool wrote it
        writer.append(Sample([HOOK], 9))
    finally:
        writer.close()
    assert [s.label for s in load_samples(path)] == [1, 7, 2, 9]


def test_two_collectors_on_one_file_the_second_is_refused(tmp_path: Path) -> None:
    mine = _replay(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from mnist_edge.edge_app.app.collect import Collector\n"
            f"c = Collector({str(mine)!r})\n"
            "print('open', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        replay = _replay(tmp_path, [Sample([LINE], 1)], name="r2.json")
        result = cli("draw", "--headless", "--collect", str(mine), "--replay", str(replay))
        assert_user_error(result, "open in another mnist-edge app")
    finally:
        holder.kill()
        holder.wait()
    assert len(load_samples(mine)) == 2
    with FileLock(mine, "busy"):  # the holder's lock died with it
        pass


# ---- replays: huge, signalled, and what each line says


@pytest.mark.timeout(300)
def test_a_replay_bigger_than_the_event_queue_plays(tmp_path: Path) -> None:
    """60 strokes of 4,000 points: 240,000 finger events, more than SDL's queue holds."""
    stroke = [(0.3 + 0.4 * (i % 2), 0.2 + 0.6 * i / 4000) for i in range(4000)]
    replay = _replay(tmp_path, [Sample([stroke] * 60, 1)])
    result = cli("draw", "--headless", "--replay", str(replay), timeout=280)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.mark.timeout(200)
def test_a_reader_that_stops_reading_ends_the_replay_quietly(tmp_path: Path) -> None:
    """``draw --replay ... | head -1``: the pipe closes, the replay ends as killed by SIGPIPE
    would, with no traceback."""
    replay = _replay(tmp_path, [Sample([LINE], 1), Sample([HOOK], 7)] * 400)
    proc = started("draw", "--headless", "--replay", str(replay))
    assert proc.stdout is not None and proc.stderr is not None
    assert json.loads(proc.stdout.readline())["label"] == 1
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=150) == 128 + signal.SIGPIPE, err[-2000:]
    assert "Traceback" not in err and "Exception" not in err, err[-2000:]


def test_sample_photos_never_replace_earlier_ones_without_force(
    tmp_path: Path, data_dir: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "photo-00-7.png").write_bytes(b"mine")
    run = ("photos", "--count", "2", "--data-dir", str(data_dir), "--save", str(folder))
    assert_user_error(cli(*run), "already holds sample photos")
    assert [p.name for p in folder.iterdir()] == ["photo-00-7.png"]
    assert (folder / "photo-00-7.png").read_bytes() == b"mine"
    assert cli(*run, "--force").returncode == 0
    assert len(list(folder.glob("photo-*.png"))) == 2


def test_replay_lines_say_whether_the_app_was_sure(tmp_path: Path) -> None:
    result = cli("draw", "--headless", "--replay", str(_replay(tmp_path)))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [type(x["sure"]) for x in lines] == [bool, bool]
    threshold = float(result.stderr.split("not sure below ")[1].split()[0])
    assert all(x["sure"] == (x["confidence"] >= threshold - 0.005) for x in lines)


@pytest.mark.timeout(200)
def test_sigterm_mid_replay_says_so_and_fails(tmp_path: Path) -> None:
    replay = _replay(tmp_path, [Sample([LINE], 1), Sample([HOOK], 7)] * 400)
    proc = started("draw", "--headless", "--replay", str(replay))
    assert proc.stdout is not None
    for _ in range(5):  # the replay is under way
        assert proc.stdout.readline().startswith("{")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "replay stopped by SIGTERM after" in err and "of 800 samples" in err
    assert "Traceback" not in err
    played = 5 + sum(1 for line in out.splitlines() if line.startswith("{"))
    assert played < 800 and f"after {played} of 800" in err


def test_sigterm_stops_the_live_app_cleanly(tmp_path: Path) -> None:
    """systemd stops the kiosk with SIGTERM: the loop ends, files are released, exit 0."""
    collection = _replay(tmp_path, name="mine.json")
    before = collection.read_bytes()
    proc = started("draw", "--no-learn", "--collect", str(collection))
    assert proc.stderr is not None
    # loaded (the pen's line, where the pen reads too, comes first); the loop starts
    while not (line := proc.stderr.readline()).startswith("mnist-edge: runtime"):
        assert line.startswith("mnist-edge: pen model"), line
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    assert collection.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]  # lock and temps gone


#: The sweep's cases that lost a user's data with exit 0: {d} labelled digits, {n} numbers,
#: {link} a symlink to {d}, {hard} a hard link to {n}. Each must now be refused in one line
#: with every file unchanged.
DATA_LOSS = {  # case: (argv, what the one line must say)
    "compose-out-is-its-drawn": (("numbers", "compose", "{d}", "--drawn", "{d}"), "also read"),
    "compose-onto-labelled": (("numbers", "compose", "{n}", "--drawn", "{d}"), "--force"),
    "compose-onto-a-link-to-labelled": (
        ("numbers", "compose", "{link}", "--drawn", "{n}", "--force"), "a link to"),
    "bench-out-is-its-input": (("numbers", "bench", "{n}", "--out", "{n}"), "also read"),
    "bench-out-is-its-input-by-a-hard-link": (
        ("numbers", "bench", "{n}", "--out", "{hard}", "--force"), "also read"),
    "bench-out-onto-labelled": (
        ("numbers", "bench", "{n}", "--out", "{d}", "--force"), "labelled drawings"),
    "speed-out-onto-labelled": (("numbers", "speed", "{n}", "--out", "{d}"), "labelled drawings"),
    "speed-out-through-a-link": (
        ("numbers", "speed", "{n}", "--out", "{link}", "--force"), "a link to"),
    "pictures-out-onto-labelled": (
        ("numbers", "pictures", "{n}", "--out", "{d}", "--force"), "labelled drawings"),
    "fit-out-onto-labelled": (
        ("numbers", "fit", "--drawn", "{n}", "--out", "{d}", "--force"), "labelled drawings"),
    "estimate-out-onto-labelled": (
        ("estimate", "--numbers", "{n}", "--out", "{d}", "--force"), "labelled drawings"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DATA_LOSS))
def test_a_tool_never_writes_over_labelled_drawings_or_its_input(tmp_path: Path, case: str) -> None:
    digits = _replay(tmp_path, name="digits.json")
    numbers = tmp_path / "numbers.json"
    save_samples(numbers, [Sample([LINE, HOOK], "17", "w", stroke_digits=[0, 1])])
    link = tmp_path / "link.json"
    link.symlink_to(digits)
    hard = tmp_path / "hard" / "numbers.json"  # the same file, by another name
    hard.parent.mkdir()
    os.link(numbers, hard)
    before = {p: p.read_bytes() for p in (digits, numbers)}
    argv, says = DATA_LOSS[case]
    result = cli(*_args(argv, d=digits, n=numbers, link=link, hard=hard))
    assert_user_error(result, says)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert {p: p.read_bytes() for p in before} == before
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == [
        "digits.json",
        "hard",
        "link.json",
        "numbers.json",
    ]
    assert os.listdir(hard.parent) == ["numbers.json"]


def _harnessed() -> None:
    """The harness that once saw ``draw`` ignore SIGTERM: an address-space cap, SIGINT
    ignored, and SIGTERM ignored by the parent (SIG_IGN survives exec)."""
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _sigterm_state(pid: int) -> str:
    """'ignored', 'caught' (a handler) or 'default', from /proc/PID/status."""
    fields = dict(
        line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    bit = 1 << (signal.SIGTERM - 1)
    if int(fields["SigIgn"], 16) & bit:
        return "ignored"
    return "caught" if int(fields["SigCgt"], 16) & bit else "default"


@pytest.mark.timeout(200)
@pytest.mark.parametrize("when", ["loading", "mid-replay"])
def test_sigterm_stops_a_multi_replay_with_a_recording_under_a_harness(
    tmp_path: Path, when: str
) -> None:
    """The cause: a SIGTERM the parent ignores stayed ignored until ``draw`` installed its
    handler, a second into the run; a stop sent while it loaded was discarded and the replay ran
    to its end. ``python -m mnist_edge`` now takes SIGTERM back first of all, so the run stops
    promptly, and its recording is whole (every sample it holds parses) or absent."""
    from tests.conftest import compose_numbers_file

    numbers = tmp_path / "numbers.json"
    compose_numbers_file(numbers, 60)
    recording = tmp_path / "rec.json"
    proc = started(
        "draw", "--multi", "--headless", "--no-learn", "--replay", str(numbers),
        "--record", str(recording), preexec_fn=_harnessed,
    )  # fmt: skip
    assert proc.stdout is not None
    if when == "loading":
        states = []
        while not states or states[-1] == "ignored":  # until the process takes SIGTERM back
            states.append(_sigterm_state(proc.pid))
        assert states[-1] == "default", "SIGTERM stayed ignored until draw's own handler"
    else:
        assert proc.stdout.readline().startswith("{")  # the replay is under way
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM), err[-2000:]
    assert "Traceback" not in err
    played = sum(1 for line in out.splitlines() if line.startswith("{"))
    assert played < 59, "the replay ran on after SIGTERM"
    if recording.exists():
        assert len(load_samples(recording)) <= played + 1
    else:
        assert when == "loading"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp, no lock


# ---- small gaps


def _deep_toml(tmp_path: Path) -> Path:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    return path


@pytest.mark.parametrize("command", [("draw", "--headless"), ("bench",), ("train",)])
def test_a_deeply_nested_config_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = cli(*command, "--config", str(_deep_toml(tmp_path)))
    assert_user_error(result, "deep.toml")


@pytest.mark.parametrize(
    "flags",
    [("--collect", ""), ("--record", ""), ("--replay", ""), ("--screenshot", "")],
    ids=lambda f: f[0].strip("-"),
)
def test_an_empty_file_name_is_refused(flags: tuple[str, str]) -> None:
    assert_user_error(cli("draw", "--headless", *flags), flags[0])


def test_replay_with_reset_profile_is_refused(tmp_path: Path) -> None:
    result = cli("draw", "--headless", "--replay", str(_replay(tmp_path)), "--reset-profile")
    assert_user_error(result, "--reset-profile")


def test_the_tflite_runtime_hint_names_no_flag_draw_lacks() -> None:
    from mnist_edge.core.registry import RUNTIMES

    hint = RUNTIMES["tflite-runtime"].hint()
    assert "run mnist-edge from there" in hint


def test_training_and_bench_drop_the_strokes_the_app_drops(tmp_path: Path) -> None:
    """A stroke that starts off the canvas never begins in the app: no ink for training either."""
    from mnist_edge.ink.preprocess import strokes_to_digit

    off = [(1.4, 0.5), (0.5, 0.5), (0.5, 0.9)]
    assert strokes_to_digit([off, LINE], 200, 200).tobytes() == (
        strokes_to_digit([LINE], 200, 200).tobytes()
    )
    assert not strokes_to_digit([off], 200, 200).any()
    result = cli("draw", "--headless", "--replay", str(_replay(tmp_path, [Sample([off], 1)])))
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(json.loads(x) for x in result.stdout.splitlines() if x.startswith("{"))
    assert line["digit"] is None  # the app read nothing, as training now sees nothing


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_export_is_quiet_and_an_agreement_failure_names_the_flag(tmp_path: Path) -> None:
    result = cli(
        "export", "--model", str(MODELS / "model.keras"), "--out", str(tmp_path / "x"),
        "--formats", "tflite-int8", "--min-agreement", "int8=1.0", timeout=380,
    )  # fmt: skip
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "fully_quantize" not in output and "inference_type" not in output, output
    assert "--min-agreement int8=" in output


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_an_mnist_file_that_is_not_a_file_is_one_line(tmp_path: Path, kind: str) -> None:
    from mnist_edge.core.idx import FILES, DataError, read_raw

    _images, labels = FILES["train"]
    path = tmp_path / "train-labels-idx1-ubyte"
    HOSTILE[kind](path)
    with pytest.raises(DataError, match="regular file"):
        read_raw(path, labels)


def test_the_collect_cost_benchmark_saves_into_a_copy(tmp_path: Path) -> None:
    from mnist_edge.benchmarks.collect_cost import measure

    mine = _replay(tmp_path, [Sample([LINE], 1, "w"), Sample([HOOK], 7, "w"), Sample([LINE], 1)])
    before = mine.read_bytes()
    opened, times = measure(mine, 5)
    assert opened >= 0 and len(times) == 3 and all(t > 0 for t in times)  # every digit saved
    assert mine.read_bytes() == before


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.mark.timeout(200)
def test_sigterm_stops_bench_with_its_workers_and_leaves_no_lock(tmp_path: Path) -> None:
    """SIGTERM (a CI timeout) while ``bench`` measures: its worker process goes with it, and
    its new output folder (whose lock file a killed run used to leave) is gone."""
    out = tmp_path / "bench"
    proc = started(
        "bench", "--models", str(MODELS / "edge-int8.tflite"), "--runtimes", "litert",
        "--out", str(out), *QUICK_BENCH,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (workers := _children(proc.pid)):  # a worker is measuring
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no benchmark worker started"
        time.sleep(0.02)
    assert (out / LOCK_FILE).exists()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    assert not out.exists()  # it created the folder and wrote nothing into it
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
