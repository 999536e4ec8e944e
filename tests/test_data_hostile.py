"""Hostile inputs for the data layer and ``mnist-edge data``, as one table.

Every case must end the way a user can act on: exit 2, exactly one ``error:`` line, no traceback,
and nothing left behind: no temporary file, no lock, no empty folder, nothing in the user cache,
the case's own files untouched. Cases run as a real subprocess; the few that fake a permission
or a full disk (the tests run as root) run in-process with the fault monkeypatched. Mirrors are
real HTTP servers on 127.0.0.1 in a thread of this process, which the subprocess downloads from.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mnist_edge import cli
from mnist_edge.core import data, idx
from mnist_edge.core.fsutil import LOCK_FILE, TMP_PREFIX
from tests.conftest import assert_user_error, run_cli
from tests.test_data import (
    Behave,
    bad_chunk,
    bad_length,
    endless,
    garbage_status,
    gz_member,
    gzip_bomb,
    hang_up,
    hostile_servers,
    huge_length,
    idx_labels,
    not_found,
    send,
    short_length,
    trickle,
)

IMAGES_HEADER = b"".join(v.to_bytes(4, "big") for v in (idx.IMAGE_MAGIC, 60000, 28, 28))
LABELS_HEADER = idx_labels([])[:4] + (60000).to_bytes(4, "big")


@dataclass
class Ctx:
    """What a case's setup works with; it returns the arguments after ``mnist-edge data``."""

    tmp: Path
    real: Path  # the real MNIST, read-only
    monkeypatch: pytest.MonkeyPatch
    serve: Callable[[Behave], str]

    def mnist(self, name: str | None = None, content: bytes | str | None = None) -> Path:
        """A folder of links to the real files, with ``name`` (if given) replaced by ``content``:
        bytes, a link to the path in a str, or "/" for a folder."""
        folder = self.tmp / "mnist"
        if not folder.exists():
            folder.mkdir()
            for spec in data.ALL_FILES:
                (folder / f"{spec.name}.gz").symlink_to(self.real / f"{spec.name}.gz")
        if name is not None:
            (folder / f"{name.removesuffix('.gz')}.gz").unlink(missing_ok=True)
            path = folder / name
            if content == "/":
                path.mkdir()
                (path / "something").write_text("x")
            elif isinstance(content, str):
                path.symlink_to(content)
            elif content is not None:
                path.write_bytes(content)
        return folder

    def data_dir(self, name: str | None = None, content: bytes | str | None = None) -> list[str]:
        return ["--data-dir", str(self.mnist(name, content))]

    def download(
        self, behave: Behave | None = None, mirrors: str | None = None, **env: str
    ) -> list[str]:
        """No MNIST anywhere: the command downloads into the (empty) user cache."""
        self.monkeypatch.delenv("MNIST_EDGE_DATA", raising=False)
        self.monkeypatch.setenv("MNIST_EDGE_MIRRORS", mirrors or self.serve(behave))  # type: ignore[arg-type]
        for key, value in {"MNIST_EDGE_DOWNLOAD_TIMEOUT": "2", **env}.items():
            self.monkeypatch.setenv(key, value)
        return []

    def patch_path_method(self, name: str, under: Path, exc: OSError) -> None:
        """Make ``Path.<name>`` raise ``exc`` for paths under ``under`` (as root, chmod can't)."""
        real = getattr(Path, name)

        def fake(path: Path, *args: Any, **kwargs: Any) -> Any:
            if path == under or under in path.parents:
                raise exc
            return real(path, *args, **kwargs)

        self.monkeypatch.setattr(Path, name, fake)


Setup = Callable[[Ctx], list[str]]


@dataclass(frozen=True)
class Case:
    name: str
    setup: Setup
    message: str  # a fragment of the one error line
    in_process: bool = False  # needs a monkeypatched fault


def _sparse(size: int) -> Callable[[Ctx], list[str]]:
    def setup(ctx: Ctx) -> list[str]:
        folder = ctx.mnist("train-images-idx3-ubyte")  # the raw name, no .gz
        with (folder / "train-images-idx3-ubyte").open("wb") as fh:
            fh.write(IMAGES_HEADER)
            fh.truncate(size)  # gigabytes on paper, nothing on disk
        return ["--data-dir", str(folder)]

    return setup


def _deny_read(ctx: Ctx) -> list[str]:
    args = ctx.data_dir()
    target = ctx.tmp / "mnist" / "train-labels-idx1-ubyte.gz"
    real_open = os.open

    def deny(path: Any, *args: Any, **kwargs: Any) -> int:
        if Path(path) == target:  # root reads a mode-000 file: simulate the denial
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    ctx.monkeypatch.setattr(os, "open", deny)
    return args


def _unlistable_env_dir(ctx: Ctx) -> list[str]:
    folder = ctx.mnist()
    ctx.monkeypatch.setenv("MNIST_EDGE_DATA", str(folder))
    ctx.patch_path_method("stat", folder, PermissionError(errno.EACCES, "Permission denied"))
    return []


def _read_only_copy_target(ctx: Ctx) -> list[str]:
    parent = ctx.tmp / "ro"
    parent.mkdir()
    (parent / "keep").write_text("x")  # an existing, non-empty folder that refuses new files
    real = tempfile.mkstemp

    def refuse(*args: Any, **kwargs: Any) -> Any:
        if str(kwargs.get("dir", "")).startswith(str(parent)):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(*args, **kwargs)

    ctx.monkeypatch.setattr(tempfile, "mkstemp", refuse)
    return [*ctx.data_dir(), "--copy-to", str(parent / "new" / "sub")]


def _disk_full_mid_copy(ctx: Ctx) -> list[str]:
    real, calls = shutil.copyfile, []

    def copy(src: Any, dst: Any) -> Any:
        calls.append(src)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    ctx.monkeypatch.setattr(shutil, "copyfile", copy)
    return [*ctx.data_dir(), "--copy-to", str(ctx.tmp / "out" / "mnist")]


def _copy_onto_different_file(ctx: Ctx) -> list[str]:
    dest = ctx.tmp / "dest"
    dest.mkdir()
    (dest / "train-labels-idx1-ubyte.gz").write_bytes(gz_member(b"my own labels"))
    return [*ctx.data_dir(), "--copy-to", str(dest)]


def _a_file(ctx: Ctx) -> Path:
    (ctx.tmp / "a-file").write_text("x")
    return ctx.tmp / "a-file"


def _redirect(location: str) -> Behave:
    return lambda h: send(h, f"HTTP/1.0 302 Found\nLocation: {location}\nContent-Length: 0")


def _redirect_to_self(h: Any) -> None:
    _redirect(f"http://127.0.0.1:{h.server.server_address[1]}{h.path}")(h)


def _labels_gz(values: bytes) -> bytes:
    return gz_member(LABELS_HEADER + values)


CASES = [
    # ---- a data folder with one hostile file (the train files: they are read first)
    Case(
        "gzip bomb, canonical header (6 GB)",
        lambda c: c.data_dir("train-images-idx3-ubyte.gz", gzip_bomb(IMAGES_HEADER, 6000)),
        "decompresses to more than the 47,040,016 bytes its header promises",
    ),
    Case(
        "gzip bomb of zeros",
        lambda c: c.data_dir("train-images-idx3-ubyte.gz", gz_member(bytes(1 << 20)) * 3000),
        "magic number 0x00000000",
    ),
    Case(
        "header promising 4 billion labels",
        lambda c: c.data_dir(
            "train-labels-idx1-ubyte.gz", gz_member(LABELS_HEADER[:4] + b"\xff" * 4)
        ),
        "holds 4294967295 labels; the canonical file has 60000",
    ),
    Case("raw file of 8 GB", _sparse(8 << 30), "is larger than the 47,040,016 bytes"),
    Case(
        "flood of empty gzip members",
        lambda c: c.data_dir("train-labels-idx1-ubyte.gz", gz_member(b"") * 100_000),
        "is larger than any gzip of train-labels-idx1-ubyte",
    ),
    Case(
        "truncated gzip",
        lambda c: c.data_dir("train-labels-idx1-ubyte.gz", _labels_gz(bytes(60000))[:-20]),
        "corrupt or truncated gzip",
    ),
    Case(
        "gzip with trailing garbage",
        lambda c: c.data_dir("train-labels-idx1-ubyte.gz", _labels_gz(bytes(60000)) + b"junk"),
        "corrupt or truncated gzip",
    ),
    Case(
        "labels out of range",
        lambda c: c.data_dir("train-labels-idx1-ubyte.gz", _labels_gz(bytes([12]) * 60000)),
        "holds label 12",
    ),
    Case(
        "empty file",
        lambda c: c.data_dir("train-labels-idx1-ubyte.gz", b""),
        "truncated: 0 bytes",
    ),
    Case(
        "random bytes",
        lambda c: c.data_dir("train-labels-idx1-ubyte.gz", bytes(range(256)) * 8),
        "not an MNIST labels file",
    ),
    Case(
        "a folder under the file's name",
        lambda c: c.data_dir("train-labels-idx1-ubyte.gz", "/"),
        "train-labels-idx1-ubyte.gz is not a regular file",
    ),
    Case(
        "a broken link",
        lambda c: c.data_dir("train-labels-idx1-ubyte.gz", str(c.tmp / "gone")),
        "train-labels-idx1-ubyte.gz is not a regular file",
    ),
    Case(
        "an I/O error",  # reading /proc/self/mem at offset 0: EIO
        lambda c: c.data_dir("train-labels-idx1-ubyte.gz", "/proc/self/mem"),
        "Input/output error",
    ),
    Case("permission denied", _deny_read, "Permission denied", in_process=True),
    Case(
        "$MNIST_EDGE_DATA not listable",
        _unlistable_env_dir,
        "cannot look into",
        in_process=True,
    ),
    Case(
        "--data-dir is a file",
        lambda c: ["--data-dir", str(_a_file(c))],
        "is a file, not a folder",
    ),
    Case("--data-dir ''", lambda c: ["--data-dir", ""], "expected a folder"),
    Case(
        "--data-dir missing",
        lambda c: ["--data-dir", str(c.tmp / "nowhere")],
        "MNIST not found in",
    ),
    # ---- --copy-to
    Case(
        "--copy-to an existing file",
        lambda c: [*c.data_dir(), "--copy-to", str(_a_file(c))],
        "exists and is not a folder",
    ),
    Case(
        "--copy-to a path under a file",
        lambda c: [*c.data_dir(), "--copy-to", str(_a_file(c) / "sub")],
        "Not a directory",
    ),
    Case(
        "--copy-to a folder holding a different file",
        _copy_onto_different_file,
        "already holds train-labels-idx1-ubyte.gz",
    ),
    Case(
        "--copy-to the source folder",
        lambda c: [*c.data_dir(), "--copy-to", str(c.tmp / "mnist")],
        "is the folder MNIST is read from",
    ),
    Case(
        "--copy-to a read-only folder",
        _read_only_copy_target,
        "Permission denied",
        in_process=True,
    ),
    Case(
        "--copy-to a full disk",
        _disk_full_mid_copy,
        "No space left on device",
        in_process=True,
    ),
    Case("--copy-to ''", lambda c: ["--copy-to", ""], "expected a folder"),
    # ---- downloading from a hostile mirror (2 s deadline)
    Case("garbage status line", lambda c: c.download(garbage_status), "BadStatusLine"),
    Case("hang-up without a response", lambda c: c.download(hang_up), "RemoteDisconnected"),
    Case("Content-Length: abc", lambda c: c.download(bad_length), "invalid Content-Length"),
    Case("Content-Length: 100 GB", lambda c: c.download(huge_length), "announces 99,999,999,999"),
    Case("broken chunked encoding", lambda c: c.download(bad_chunk), "IncompleteRead"),
    Case("HTTP 404", lambda c: c.download(not_found), "HTTP 404 Not Found"),
    Case("more bytes than Content-Length", lambda c: c.download(short_length), "magic number"),
    Case(
        "endless body",
        lambda c: c.download(endless([0])),
        "sent more than 47,091,152 bytes",
    ),
    Case("a byte every 5 s", lambda c: c.download(trickle(5.0)), "timed out waiting"),
    Case("a byte every 0.2 s", lambda c: c.download(trickle(0.2)), "not complete after 2 s"),
    Case("redirect loop", lambda c: c.download(_redirect_to_self), "HTTP 302"),
    Case(
        "redirect to file://",
        lambda c: c.download(_redirect("file:///etc/passwd")),
        "HTTP 302",
    ),
    Case(
        "connection refused",
        lambda c: c.download(mirrors="http://127.0.0.1:9/"),
        "Connection refused",
    ),
    Case(
        "MNIST_EDGE_MIRRORS=notaurl",
        lambda c: c.download(mirrors="notaurl"),
        "'notaurl' is not an http:// or https:// URL",
    ),
    Case(
        "MNIST_EDGE_MIRRORS=ftp://",
        lambda c: c.download(mirrors="ftp://example.org/mnist/"),
        "is not an http:// or https:// URL",
    ),
    Case(
        "MNIST_EDGE_MIRRORS=http:// without a host",
        lambda c: c.download(mirrors="http:///mnist/"),
        "URL with a host",
    ),
    Case(
        "MNIST_EDGE_DOWNLOAD_TIMEOUT=soon",
        lambda c: c.download(not_found, MNIST_EDGE_DOWNLOAD_TIMEOUT="soon"),
        "MNIST_EDGE_DOWNLOAD_TIMEOUT='soon' is not a positive number",
    ),
    Case(
        "user cache under a file",
        lambda c: c.download(not_found, XDG_CACHE_HOME=str(_a_file(c))),
        "cannot create the MNIST cache folder",
    ),
    Case(
        "--no-download, empty cache",
        lambda c: [*c.download(not_found), "--no-download"],
        "MNIST not found: looked in",
    ),
]


def _tree(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under ``root`` (links not followed); files with their size and time."""
    tree: dict[str, tuple[int, int] | None] = {}
    for path in root.rglob("*"):
        st = os.lstat(path)
        regular = stat.S_ISREG(st.st_mode)
        tree[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns) if regular else None
    return tree


def _leftovers(root: Path) -> list[str]:
    found = [
        str(p)
        for p in root.rglob("*")
        if p.name.startswith(TMP_PREFIX)
        or p.name == LOCK_FILE
        or (p.is_dir() and not p.is_symlink() and not any(p.iterdir()))
    ]
    return found + (["the user cache"] if (root / "cache").exists() else [])


def _in_process(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> subprocess.CompletedProcess[str]:
    try:
        code = cli.main(["data", *args])
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


@pytest.fixture
def serve() -> Iterator[Callable[[Behave], str]]:
    with hostile_servers() as start:
        yield start


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(
    case: Case,
    tmp_path: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    serve: Callable[[Behave], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = case.setup(Ctx(tmp_path, data_dir, monkeypatch, serve))
    before = _tree(tmp_path)
    if case.in_process:
        result = _in_process(args, capsys)
        monkeypatch.undo()  # the faked fault would hit the checks below too
    else:
        result = run_cli("data", *args, timeout=60)
    assert_user_error(result, case.message)
    assert _leftovers(tmp_path) == []
    assert _tree(tmp_path) == before, "the case's own files changed"


@dataclass
class _Recording(Ctx):
    """A context that notes which MNIST files a case's setup replaces."""

    replaced: list[str] = field(default_factory=list)

    def mnist(self, name: str | None = None, content: bytes | str | None = None) -> Path:
        self.replaced.extend([name] if name else [])
        return super().mnist(name, content)


def _way_in(case: Case, folder: Path, real: Path) -> tuple[str, list[str]]:
    """Run a case's setup (no server, no command): which way in it attacks, and the MNIST files
    it replaces."""
    folder.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MNIST_EDGE_MIRRORS", raising=False)
        ctx = _Recording(folder, real, mp, lambda _: "http://127.0.0.1:9/")
        args = case.setup(ctx)
        if "MNIST_EDGE_MIRRORS" in os.environ:
            return "download", ctx.replaced
    if "--copy-to" in args:
        return "copy-to", ctx.replaced
    return ("file" if ctx.replaced else "data-dir"), ctx.replaced


def test_the_table_is_wide(tmp_path: Path, data_dir: Path) -> None:
    """Every way in is attacked: a hostile file in the data folder (the images and the labels,
    gzipped and raw), a bad --data-dir, --copy-to, hostile mirrors and download settings, and
    the faults only a monkeypatch can make (in-process); each case named once."""
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) >= 40, "case names must be unique"
    kinds: dict[str, list[str]] = {"file": [], "data-dir": [], "copy-to": [], "download": []}
    replaced: set[str] = set()
    for i, case in enumerate(CASES):
        kind, files = _way_in(case, tmp_path / f"case{i}", data_dir)
        kinds[kind].append(case.name)
        replaced.update(files)
    counts = {kind: len(found) for kind, found in kinds.items()}
    assert counts["file"] >= 12 and counts["data-dir"] >= 4, counts
    assert counts["copy-to"] >= 6 and counts["download"] >= 15, counts
    gzipped_and_raw = {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte",
    }
    assert gzipped_and_raw <= replaced, replaced
    in_process = [c.name for c in CASES if c.in_process]
    assert 4 <= len(in_process) <= len(CASES) // 5, in_process  # faults; the rest: real commands
