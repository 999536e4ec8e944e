"""Hostile profiles: every field of the wrong type, things that are not files, zip bombs, two
apps on one profile, permission denied. Each case ends in one line for the user, never a
traceback or a hang, and loses nothing the user had. No TensorFlow, no MNIST."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist_edge.core.fsutil import sha256_file
from mnist_edge.edge_app import profile_files, profile_store
from mnist_edge.edge_app.learn import Learner
from mnist_edge.edge_app.profile_files import ProfileError, check_name
from tests.conftest import MODELS, ROOT, run_cli

pytestmark = pytest.mark.timeout(20)  # a FIFO or a lock must never hang a test for long

DIM = 16
SHA = "a" * 64
NOBODY = 65534
MISSING = object()  # a field left out of the file


def _profile(root: Path, name: str = "me") -> Path:
    return root / name / f"{SHA[:16]}.npz"


def _good(n: int = 3) -> dict[str, Any]:
    v = np.random.default_rng(0).normal(size=(n, DIM))
    return {
        "header": {"version": 1, "model_sha256": SHA, "dim": DIM, "count": n, "saved": 1e9},
        "vectors": (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float16),
        "labels": np.arange(1, n + 1, dtype=np.uint8),
        "used": np.arange(1, n + 1, dtype=np.float64),
        "ids": np.arange(11, 11 + n, dtype=np.int64),
    }


def _write(path: Path, fields: dict[str, Any]) -> bytes:
    arrays = {}
    for key, value in fields.items():
        if value is MISSING:
            continue
        if key == "header" and isinstance(value, dict):
            value = np.frombuffer(json.dumps(value).encode(), np.uint8)  # inf -> Infinity
        arrays[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # object arrays are pickled: the reader must refuse them
    return path.read_bytes()


def _one_line(note: str | None) -> str:
    assert note and "\n" not in note and "Traceback" not in note, note
    return note


def _header(**changes: Any) -> dict[str, Any]:
    header = dict(_good()["header"])
    for key, value in changes.items():
        if value is MISSING:
            del header[key]
        else:
            header[key] = value
    return header


def _raw_header(text: bytes) -> np.ndarray:
    return np.frombuffer(text, np.uint8)


def _vectors(scale: float = 1.0, fill: float | None = None, dtype: Any = np.float16) -> Any:
    v = _good()["vectors"].astype(np.float64) * scale
    if fill is not None:
        v[1, 2] = fill
    return v.astype(dtype)


INF, NAN = float("inf"), float("nan")
STRINGS3 = np.array(["1", "2", "3"])
OBJECTS3 = np.array([1, "x", None], dtype=object)
# (field, wrong value): header keys as "header.<key>"; each a file that must be set aside.
BAD_FIELDS: list[tuple[str, str, Any]] = [
    *(
        (f"version-{case}", "header.version", value)
        for case, value in [
            ("string", "1"),
            ("list", [1]),
            ("null", None),
            ("infinity", INF),
            ("nan", NAN),
            ("bool", True),
            ("zero", 0),
            ("negative", -1),
            ("float", 1.0),
            ("object", {"major": 1}),
            ("missing", MISSING),
        ]
    ),
    *(
        (f"model-{case}", "header.model_sha256", value)
        for case, value in [("int", 5), ("null", None), ("list", [SHA]), ("other", "b" * 64)]
    ),
    *(
        (f"dim-{case}", "header.dim", value)
        for case, value in [("string", "16"), ("other", 15), ("null", None), ("float", 16.0)]
    ),
    *(
        (f"count-{case}", "header.count", value)
        for case, value in [("string", "3"), ("wrong", 4), ("negative", -3), ("list", [3])]
    ),
    *(
        (f"saved-{case}", "header.saved", value)
        for case, value in [("string", "now"), ("infinity", INF), ("null", None), ("bool", True)]
    ),
    ("header-not-json", "header", _raw_header(b"\xff\xfe not json")),
    ("header-json-list", "header", _raw_header(b"[1, 2]")),
    ("header-json-string", "header", _raw_header(b'"version"')),
    ("header-too-deep", "header", _raw_header(b"[" * 50_000)),
    ("header-strings", "header", np.array(['{"version": 1}'])),
    ("header-floats", "header", np.zeros(4, np.float32)),
    ("header-2d", "header", np.zeros((2, 2), np.uint8)),
    ("header-object", "header", np.array([{"version": 1}], dtype=object)),
    ("header-missing", "header", MISSING),
    ("vectors-strings", "vectors", np.full((3, DIM), "0.25")),
    ("vectors-bytes", "vectors", np.full((3, DIM), b"x")),
    ("vectors-object", "vectors", np.full((3, DIM), None, dtype=object)),
    ("vectors-bool", "vectors", np.ones((3, DIM), bool)),
    ("vectors-int", "vectors", np.ones((3, DIM), np.int64)),
    ("vectors-complex", "vectors", _vectors(dtype=np.complex64)),
    ("vectors-longdouble", "vectors", _vectors(dtype=np.longdouble)),
    ("vectors-narrow", "vectors", _vectors()[:, :-1]),
    ("vectors-1d", "vectors", _vectors().ravel()),
    ("vectors-3d", "vectors", _vectors()[None]),
    ("vectors-rows", "vectors", _vectors()[:2]),
    ("vectors-nan", "vectors", _vectors(fill=NAN)),
    ("vectors-inf", "vectors", _vectors(fill=INF)),
    ("vectors-not-unit", "vectors", _vectors(scale=2.0)),
    ("vectors-zero", "vectors", np.zeros((3, DIM), np.float16)),
    ("vectors-missing", "vectors", MISSING),
    ("labels-negative", "labels", np.array([1, -1, 3])),
    ("labels-ten", "labels", np.array([1, 10, 3], np.uint8)),
    ("labels-strings", "labels", STRINGS3),
    ("labels-float", "labels", np.array([1.0, 2.0, 3.0])),
    ("labels-bool", "labels", np.array([True, False, True])),
    ("labels-object", "labels", OBJECTS3),
    ("labels-short", "labels", np.array([1, 2], np.uint8)),
    ("labels-2d", "labels", np.array([[1, 2, 3]], np.uint8)),
    ("labels-missing", "labels", MISSING),
    ("used-strings", "used", STRINGS3),
    ("used-nan", "used", np.array([1.0, NAN, 3.0])),
    ("used-inf", "used", np.array([1.0, INF, 3.0])),
    ("used-negative", "used", np.array([1.0, -2.0, 3.0])),
    ("used-complex", "used", np.array([1, 2, 3], np.complex128)),
    ("used-bool", "used", np.array([True, True, True])),
    ("used-object", "used", OBJECTS3),
    ("used-short", "used", np.array([1.0, 2.0])),
    ("used-2d", "used", np.ones((3, 1))),
    ("used-missing", "used", MISSING),
    ("ids-strings", "ids", STRINGS3),
    ("ids-float", "ids", np.array([1.0, 2.0, 3.0])),
    ("ids-repeated", "ids", np.array([7, 7, 8], np.int64)),
    ("ids-short", "ids", np.array([7, 8], np.int64)),
    ("ids-object", "ids", OBJECTS3),
]


def _bad(key: str, value: Any) -> dict[str, Any]:
    fields = _good()
    if key.startswith("header."):
        fields["header"] = _header(**{key.split(".", 1)[1]: value})
    else:
        fields[key] = value
    return fields


@pytest.mark.parametrize(
    ("key", "value"), [b[1:] for b in BAD_FIELDS], ids=[b[0] for b in BAD_FIELDS]
)
def test_bad_field_is_set_aside_at_start_and_at_reset(tmp_path: Path, key: str, value: Any) -> None:
    path = _profile(tmp_path)
    first = _write(path, _bad(key, value))
    learner, note = Learner.open("me", SHA, DIM, tmp_path)  # a start
    assert "starting fresh" in _one_line(note) and len(learner) == 0 and learner.writable
    assert not path.exists()
    second = _write(path, _bad(key, value))
    learner, note = Learner.open("me", SHA, DIM, tmp_path)  # --reset-profile: open, then reset
    assert "starting fresh" in _one_line(note)
    assert learner.reset() is None
    kept = sorted(p.read_bytes() for p in path.parent.glob("*.broken-*"))
    assert kept == sorted([first, second])  # both damaged files kept, even in the same second
    again, note = Learner.open("me", SHA, DIM, tmp_path)
    assert note is None and len(again) == 0 and again.writable  # the reset wrote a valid file
    assert again.add(np.ones(DIM), 4) and again.save() is None


def test_a_valid_profile_loads_every_field(tmp_path: Path) -> None:
    """The baseline the bad cases differ from: if this fails, the cases above prove nothing."""
    _write(_profile(tmp_path), _good())
    learner, note = Learner.open("me", SHA, DIM, tmp_path)
    assert note is None and learner.labels.tolist() == [1, 2, 3]
    assert learner.ids.tolist() == [11, 12, 13] and learner.used.tolist() == [1.0, 2.0, 3.0]
    _write(_profile(tmp_path), _good() | {"ids": MISSING})  # a file from before ids
    a, _ = Learner.open("me", SHA, DIM, tmp_path)
    b, _ = Learner.open("me", SHA, DIM, tmp_path)
    assert len(a) == 3 and a.ids.tolist() == b.ids.tolist()  # every app derives the same ids
    assert len(set(a.ids.tolist())) == 3


def test_newer_profile_is_left_alone_and_not_reset(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    before = _write(path, _bad("header.version", 2))
    learner, note = Learner.open("me", SHA, DIM, tmp_path)
    assert "newer" in _one_line(note) and not learner.writable
    assert "could not be reset" in _one_line(learner.reset())
    assert path.read_bytes() == before and not list(path.parent.glob("*.broken-*"))


@pytest.mark.parametrize(
    "name", ["me\n", "me ", " me", "m e", "me\t", "me\r", "\x00me", "me\x7f", "m\u00e9", "me\u2028"]
)
def test_names_with_control_characters_or_whitespace_are_refused(name: str) -> None:
    with pytest.raises(ProfileError) as info:
        check_name(name)
    assert "\n" not in str(info.value) and "\r" not in str(info.value)


def test_a_name_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ProfileError):
        check_name(5)  # type: ignore[arg-type]


# ------------------------------------------------------------------ not a regular file


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _device(path: Path) -> None:
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    except PermissionError:
        pytest.skip("creating a device node needs root (CAP_MKNOD); nothing else can make one")


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "inside").write_text("kept")


def _link_to(make: Callable[[Path], None]) -> Callable[[Path], None]:
    def link(path: Path) -> None:
        target = path.parent.parent / "elsewhere"
        make(target)
        path.symlink_to(target)

    return link


def _dangling(path: Path) -> None:
    path.symlink_to(path.parent.parent / "nowhere.npz")


NOT_FILES = {
    "fifo": (_fifo, "FIFO"),
    "device": (_device, "device"),
    "folder": (_folder, "folder"),
    "link-to-fifo": (_link_to(_fifo), "FIFO"),
    "link-to-folder": (_link_to(_folder), "folder"),
    "dangling-link": (_dangling, "does not exist"),
}


def _what(path: Path) -> tuple[int, str | None]:
    st = path.lstat()
    return stat.S_IFMT(st.st_mode), os.readlink(path) if path.is_symlink() else None


@pytest.mark.parametrize("case", list(NOT_FILES))
def test_not_a_file_at_the_profile_path_is_left_alone(tmp_path: Path, case: str) -> None:
    make, word = NOT_FILES[case]
    path = _profile(tmp_path)
    path.parent.mkdir(parents=True)
    make(path)
    before = _what(path)
    learner, note = Learner.open("me", SHA, DIM, tmp_path)
    assert word in _one_line(note) and "another model" not in note
    assert "last until this app closes" in note and len(learner) == 0 and not learner.writable
    assert learner.add(np.ones(DIM), 4) and "not saved" in _one_line(learner.save())
    assert "could not be reset" in _one_line(learner.reset())
    assert _what(path) == before and not list(path.parent.glob("*.broken-*"))
    assert not (tmp_path / "nowhere.npz").exists()  # a dangling link is never followed


def test_a_link_to_a_valid_profile_is_read_and_written_through(tmp_path: Path) -> None:
    path, target = _profile(tmp_path), tmp_path / "real.npz"
    _write(target, _good())
    path.parent.mkdir()
    path.symlink_to(target)
    learner, note = Learner.open("me", SHA, DIM, tmp_path)
    assert note is None and len(learner) == 3
    assert learner.add(np.ones(DIM), 4) and learner.save() is None
    assert path.is_symlink() and len(Learner.open("me", SHA, DIM, tmp_path)[0]) == 4


@pytest.mark.parametrize("case", ["fifo", "device", "folder"])
def test_not_a_file_beside_the_profile_is_never_opened(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "me"
    folder.mkdir()
    NOT_FILES[case][0](folder / "0123456789abcdef.npz")
    learner, note = Learner.open("me", SHA, DIM, tmp_path)
    assert note is None and learner.writable  # not "another model's profile"
    assert learner.add(np.ones(DIM), 4) and learner.save() is None


@pytest.mark.parametrize("case", ["fifo", "folder"])
def test_not_a_file_at_the_lock_path_fails_the_save_in_one_line(tmp_path: Path, case: str) -> None:
    learner, _ = Learner.open("me", SHA, DIM, tmp_path)
    lock = tmp_path / "me" / f".{SHA[:16]}.npz.lock"
    lock.parent.mkdir()
    NOT_FILES[case][0](lock)
    assert learner.add(np.ones(DIM), 4)
    assert "cannot save the profile" in _one_line(learner.save()) and len(learner) == 1


def _cli_env(tmp_path: Path) -> tuple[dict[str, str], list[Path]]:
    """Every shipped model's profile path (the CLI picks one), and the environment."""
    root = tmp_path / "profiles"
    paths = [root / "default" / f"{sha256_file(m)[:16]}.npz" for m in sorted(MODELS.iterdir())]
    paths[0].parent.mkdir(parents=True)
    return {"MNIST_EDGE_MODELS": str(MODELS), "MNIST_EDGE_PROFILES": str(root)}, paths


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", ["fifo", "folder", "dangling-link", "bad-version"])
def test_reset_profile_cli_never_hangs_or_crashes(tmp_path: Path, case: str) -> None:
    env, paths = _cli_env(tmp_path)
    for path in paths:
        if case == "bad-version":
            _write(path, _bad("header.version", [1]))
        else:
            NOT_FILES[case][0](path)
    r = run_cli("draw", "--headless", "--reset-profile", env=env, timeout=60)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    notes = [line for line in r.stderr.splitlines() if "profile" in line]
    assert len(notes) == 1, r.stderr
    if case == "bad-version":
        assert "reset" in notes[0] and list(paths[0].parent.glob("*.broken-*"))
    else:
        assert "could not be reset" in notes[0]


# ------------------------------------------------------------------ bombs


def _npz_with_vectors(path: Path, shape: tuple[int, ...], data_bytes: int) -> None:
    """A profile whose vectors.npy header claims ``shape`` and holds ``data_bytes`` of zeros."""
    fields = _good()
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key in ("header", "labels", "used", "ids"):
            value = fields[key]
            if key == "header":
                value = np.frombuffer(json.dumps(value).encode(), np.uint8)
            with zf.open(f"{key}.npy", "w") as fh:
                np.lib.format.write_array(fh, value)
        with zf.open("vectors.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(
                fh, {"descr": "<f2", "fortran_order": False, "shape": shape}
            )
            block = bytes(1 << 20)
            for start in range(0, data_bytes, len(block)):
                fh.write(block[: data_bytes - start])


def _peak_while(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


BOMBS: dict[str, Callable[[Path], None]] = {
    # ~100 KB on disk, 96 MB inflated: the zip's stated size is checked before inflating.
    "inflates": lambda p: _npz_with_vectors(p, (3 << 20, DIM), 96 << 20),
    # A few bytes of data under a header claiming 3.2 GB: the shape is checked before allocating.
    "lying-shape": lambda p: _npz_with_vectors(p, (100_000_000, DIM), 64),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_zip_bomb_is_refused_before_it_inflates(tmp_path: Path, case: str) -> None:
    path = _profile(tmp_path)
    BOMBS[case](path)
    assert path.stat().st_size < 1 << 20
    found: list[tuple[Learner, str | None]] = []
    peak = _peak_while(lambda: found.append(Learner.open("me", SHA, DIM, tmp_path)))
    learner, note = found[0]
    assert peak < 8 << 20, peak
    assert "starting fresh" in _one_line(note) and len(learner) == 0
    assert list(path.parent.glob("*.broken-*"))


def test_zip_with_a_huge_directory_is_refused_unparsed(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    _write(path, _good())
    with zipfile.ZipFile(path, "a") as zf:
        for i in range(5000):
            zf.writestr(f"x{i}", b"")
    learner, note = Learner.open("me", SHA, DIM, tmp_path)
    assert "too many entries" in _one_line(note) and len(learner) == 0


def test_only_the_cap_is_read_from_a_huge_file(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    path.parent.mkdir()
    with open(path, "wb") as fh:
        fh.truncate(1 << 30)  # sparse: 1 GB that costs no disk
    found: list[tuple[Learner, str | None]] = []
    peak = _peak_while(lambda: found.append(Learner.open("me", SHA, DIM, tmp_path)))
    assert peak < 3 * profile_files.MAX_FILE_BYTES, peak
    assert "too large" in _one_line(found[0][1])


# ------------------------------------------------------------------ two apps, one profile

APP = """
import sys, time
from pathlib import Path
import numpy as np
from mnist_edge.edge_app.learn import Learner
root, seed, go, count = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
learner, note = Learner.open("me", "a" * 64, 16, root)
assert note is None, note
Path(f"{go}.ready-{seed}").touch()
while not go.exists():
    time.sleep(0.002)
rng = np.random.default_rng(seed)
for i in range(count):
    assert learner.add(rng.normal(size=16), i % 10)
    problem = learner.save()
    assert problem is None, problem
    time.sleep(rng.uniform(0, 0.003))
print(len(learner))
"""


@pytest.mark.parametrize(("apps", "each"), [(2, 11), (4, 15)], ids=["two-apps", "four-apps"])
def test_apps_on_one_profile_lose_no_correction(tmp_path: Path, apps: int, each: int) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APP, str(tmp_path), str(seed), str(go), str(each)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(apps)
    ]
    try:
        deadline = time.monotonic() + 15
        while len(list(tmp_path.glob("go.ready-*"))) < apps:  # all loaded the empty profile
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
            time.sleep(0.01)
        go.touch()
        results = [p.communicate(timeout=15) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs), [err[-1500:] for _, err in results]
    learner, note = Learner.open("me", SHA, DIM, tmp_path)
    assert note is None and len(learner) == apps * each
    assert len(set(learner.ids.tolist())) == apps * each
    assert max(int(out) for out, _ in results) == apps * each  # the last saver sees them all


def test_merge_keeps_undo_and_reset_of_the_other_app(tmp_path: Path) -> None:
    a, _ = Learner.open("me", SHA, DIM, tmp_path)
    assert a.add(np.eye(DIM)[0], 1) and a.save() is None
    b, _ = Learner.open("me", SHA, DIM, tmp_path)
    assert a.add(np.eye(DIM)[1], 2) and a.undo() and a.undo() and a.save() is None
    assert b.add(np.eye(DIM)[2], 3) and b.save() is None
    assert b.labels.tolist() == [3]  # a's undone correction is not brought back by b
    assert a.add(np.eye(DIM)[3], 4) and a.save() is None and sorted(a.labels.tolist()) == [3, 4]
    assert b.reset() is None
    assert a.add(np.eye(DIM)[4], 5) and a.save() is None
    assert a.labels.tolist() == [5]  # b's reset holds; what a learned since is kept
    assert Learner.open("me", SHA, DIM, tmp_path)[0].labels.tolist() == [5]


HOLDER = """
import fcntl, sys
fh = open(sys.argv[1], "a+b")
fcntl.flock(fh, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def _held(lock: Path) -> Iterator[None]:
    """Another process holds ``lock`` for the block."""
    lock.parent.mkdir(exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield
    finally:
        holder.communicate("", timeout=10)


def test_a_lock_held_too_long_keeps_the_correction_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile_store, "LOCK_WAIT", 0.2)
    learner, _ = Learner.open("me", SHA, DIM, tmp_path)
    with _held(tmp_path / "me" / f".{SHA[:16]}.npz.lock"):
        assert learner.add(np.ones(DIM), 4)
        problem = _one_line(learner.save())
        assert "another mnist-edge app" in problem and len(learner) == 1
    assert learner.add(-np.ones(DIM), 5) and learner.save() is None
    assert len(Learner.open("me", SHA, DIM, tmp_path)[0]) == 2  # both saved once free


def test_a_save_refused_while_the_app_ran_is_made_when_it_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile_store, "LOCK_WAIT", 0.2)
    learner, _ = Learner.open("me", SHA, DIM, tmp_path)
    assert learner.close() is None  # nothing learned: nothing written
    assert not (tmp_path / "me" / f"{SHA[:16]}.npz").exists()
    with _held(tmp_path / "me" / f".{SHA[:16]}.npz.lock"):
        assert learner.add(np.ones(DIM), 4) and learner.save() is not None
        assert "not saved" in _one_line(learner.close())  # still held: said, not hidden
    assert learner.close() is None  # the app's last act: the refused save lands
    assert Learner.open("me", SHA, DIM, tmp_path)[0].labels.tolist() == [4]


def test_a_lock_file_removed_by_its_holder_is_locked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flock/unlink race: a holder releasing removes the file this app had just opened;
    the lock taken on that removed inode must not count."""
    learner, _ = Learner.open("me", SHA, DIM, tmp_path)
    (tmp_path / "me").mkdir()
    lock = tmp_path / "me" / f".{SHA[:16]}.npz.lock"
    real = profile_store.fcntl.flock
    locked: list[int] = []

    def flock(fd: int, op: int) -> None:
        if not locked:
            os.unlink(lock)  # the holder let go after this app opened the file
        locked.append(os.fstat(fd).st_ino)
        real(fd, op)

    monkeypatch.setattr(profile_store.fcntl, "flock", flock)
    assert learner.add(np.ones(DIM), 4) and learner.save() is None
    assert len(locked) == 2  # the first lock, on the removed file, did not count
    assert not lock.exists()  # released, and removed


# ------------------------------------------------------------------ damaged files, kept


def test_two_breakages_in_one_second_keep_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile_store.time, "time", lambda: 1_000_000.0)
    path = _profile(tmp_path)
    path.parent.mkdir()
    taken = path.with_name(f"{path.stem}.broken-1000000")
    taken.write_bytes(b"kept from before")
    contents = [b"first damage", b"second damage"]
    for content in contents:
        path.write_bytes(content)
        assert "starting fresh" in _one_line(Learner.open("me", SHA, DIM, tmp_path)[1])
    assert taken.read_bytes() == b"kept from before"  # never renamed onto
    kept = {p.read_bytes() for p in path.parent.glob("*.broken-*")}
    assert kept == {b"kept from before", *contents}


# ------------------------------------------------------------------ permission denied

CHILD = """
import json, os, sys
from pathlib import Path
import numpy as np
from mnist_edge.edge_app.learn import Learner
root, warm = Path(sys.argv[1]), Path(sys.argv[2])
# Every import and code path once while still root: after setuid the interpreter's files,
# under /root, cannot be read any more.
w, _ = Learner.open("warm", "a" * 64, 16, warm)
w.add(np.ones(16), 1), w.save(), Learner.open("warm", "a" * 64, 16, warm), json.dumps({})
(warm / "warm" / ("a" * 16 + ".npz")).write_bytes(b"damaged")
Learner.open("warm", "a" * 64, 16, warm)
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
learner, note = Learner.open("me", "a" * 64, 16, root)
out = {"note": note, "len": len(learner), "writable": learner.writable}
out["added"] = learner.add(np.arange(16.0) + 1, 3)
out["save"] = learner.save()
out["reset"] = learner.reset()
print(json.dumps(out))
"""


@pytest.fixture
def nobody_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder the unprivileged child can reach: not under pytest's root-only tmp_path."""
    folder = Path(tempfile.mkdtemp(prefix="mnist-edge-profile-"))
    try:
        yield folder
    finally:
        for p in [folder, *folder.rglob("*")]:
            if not p.is_symlink():
                p.chmod(0o700)
        shutil.rmtree(folder)


def _as_nobody(root: Path, tmp_path: Path) -> dict[str, Any]:
    """Open, save and reset the profile in a child that drops root (as root, chmod denies
    nothing); run by an ordinary user, the child keeps that user."""
    if os.geteuid() == 0:
        for p in [root, *root.rglob("*")]:
            os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(tmp_path / "warm")],
        capture_output=True,
        text=True,
        timeout=15,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


PERMISSIONS = {
    # case: (file mode, folder mode, file content)
    "file-unreadable": (0o000, 0o700, "good"),
    "folder-unreadable": (0o600, 0o000, "good"),
    "folder-read-only": (0o600, 0o500, "good"),
    "damaged-in-read-only-folder": (0o600, 0o500, "damaged"),
}


@pytest.mark.parametrize("case", list(PERMISSIONS))
def test_permission_denied_leaves_the_profile_alone(
    nobody_dir: Path, tmp_path: Path, case: str
) -> None:
    file_mode, folder_mode, content = PERMISSIONS[case]
    path = _profile(nobody_dir)
    if content == "good":
        before = _write(path, _good())
    else:
        path.parent.mkdir()
        path.write_bytes(before := b"damaged beyond reading")
    path.chmod(file_mode)
    path.parent.chmod(folder_mode)
    got = _as_nobody(nobody_dir, tmp_path)
    path.parent.chmod(0o700)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # nothing set aside
    path.chmod(0o600)
    assert path.read_bytes() == before  # not renamed, not rewritten
    note, save, reset = got["note"], _one_line(got["save"]), _one_line(got["reset"])
    assert got["added"]
    if case == "folder-read-only":  # read fine; the folder refuses writes: say so, every time
        assert note is None and got["len"] == 3 and got["writable"]
        assert "cannot save the profile (Permission denied)" in save
    else:
        assert "last until this app closes" in _one_line(note) and not got["writable"]
        assert got["len"] == 0 and "not saved" in save
        if case != "damaged-in-read-only-folder":
            assert "Permission denied" in note and "left alone" in note
    assert "could not be reset" in reset and "last until the app closes" not in reset
