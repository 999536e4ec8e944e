"""The MNIST data layer: parsing, every corruption case, lookup order, verified download."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import os
import shutil
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist_edge.core import data, download, idx
from mnist_edge.core.data import load_split
from mnist_edge.core.errors import UserError
from mnist_edge.core.idx import DataError, parse_idx


def idx_images(count: int, rows: int = 28, cols: int = 28, magic: int = idx.IMAGE_MAGIC) -> bytes:
    header = b"".join(v.to_bytes(4, "big") for v in (magic, count, rows, cols))
    pixels = count * rows * cols
    return header + bytes(range(256)) * (pixels // 256) + bytes(pixels % 256)


def idx_labels(values: list[int]) -> bytes:
    return idx.LABEL_MAGIC.to_bytes(4, "big") + len(values).to_bytes(4, "big") + bytes(values)


def test_parse_images_and_labels() -> None:
    images = parse_idx(idx_images(3), "images")
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    assert images.reshape(-1)[:3].tolist() == [0, 1, 2]
    assert parse_idx(idx_labels([3, 1, 4]), "labels").tolist() == [3, 1, 4]


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [
        (idx_images(2, magic=0x0803_0000), "images", "magic number"),
        (idx_labels([1, 2] * 8), "images", "magic number"),
        (idx_images(2, rows=32, cols=32), "images", "32x32"),
        (idx_images(2)[:10], "images", "shorter than the 16-byte"),
        (idx_images(2)[:-5], "images", "truncated"),
        (idx_images(2) + b"xx", "images", "trailing garbage"),
        (idx_labels([1, 12]), "labels", "label 12"),
        (idx_labels([1, 2, 3])[:-1], "labels", "truncated"),
    ],
)
def test_parse_rejects_corrupt_files(raw: bytes, kind: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_idx(raw, kind, name="f")


def test_load_real_mnist_verified(data_dir: Path) -> None:
    train, test = load_split("train", data_dir), load_split("test", data_dir)
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.labels.dtype == np.uint8 and set(np.unique(test.labels)) == set(range(10))
    assert test.checksums["t10k-images-idx3-ubyte"] == data.FILES["test"][0].sha256
    assert len(load_split("train", data_dir, limit=100)) == 100


def _copy_mnist(src: Path, dest: Path, *, gunzip: bool = False) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for spec in data.ALL_FILES:
        gz = src / f"{spec.name}.gz"
        if gunzip:
            (dest / spec.name).write_bytes(gzip.decompress(gz.read_bytes()))
        else:
            shutil.copy(gz, dest / gz.name)
    return dest


def test_raw_uncompressed_files_work(data_dir: Path, tmp_path: Path) -> None:
    raw = _copy_mnist(data_dir, tmp_path / "raw", gunzip=True)
    assert len(load_split("test", raw)) == 10000


def test_checksum_mismatch_is_reported(data_dir: Path, tmp_path: Path) -> None:
    bad = _copy_mnist(data_dir, tmp_path / "bad", gunzip=True)
    labels = bytearray((bad / "t10k-labels-idx1-ubyte").read_bytes())
    labels[100] = (labels[100] + 1) % 10  # still a valid label: only the checksum can tell
    (bad / "t10k-labels-idx1-ubyte").write_bytes(bytes(labels))
    with pytest.raises(DataError, match="fails its checksum"):
        load_split("test", bad)


def test_truncated_gzip_is_reported(data_dir: Path, tmp_path: Path) -> None:
    bad = _copy_mnist(data_dir, tmp_path / "bad")
    path = bad / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        load_split("test", bad)


def test_test_split_needs_only_its_files(data_dir: Path, tmp_path: Path) -> None:
    only_test = _copy_mnist(data_dir, tmp_path / "t10k")
    for spec in data.FILES["train"]:
        (only_test / f"{spec.name}.gz").unlink()
    assert len(load_split("test", only_test)) == 10000
    with pytest.raises(DataError, match=r"missing train-images-idx3-ubyte, train-labels"):
        load_split("train", only_test)


def test_explicit_dir_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"MNIST not found in .*--data-dir"):
        load_split("test", tmp_path)


def test_env_variable_is_used_and_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MNIST_EDGE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"\$MNIST_EDGE_DATA"):
        load_split("test")


def test_no_download_reports_where_it_looked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MNIST_EDGE_DATA")
    with pytest.raises(DataError, match="--data-dir DIR or set MNIST_EDGE_DATA"):
        load_split("test", download=False)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path, data_dir: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP mirror on 127.0.0.1 serving a copy of the canonical .gz files."""
    root = _copy_mnist(data_dir, tmp_path / "mirror")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


def test_download_into_cache_verified(
    monkeypatch: pytest.MonkeyPatch, mirror: tuple[str, Path]
) -> None:
    url, _ = mirror
    monkeypatch.delenv("MNIST_EDGE_DATA")
    # The first mirror has nothing (404), the second one serves the files.
    monkeypatch.setenv(download.ENV_MIRRORS, f"{url}missing/,{url}")
    test = load_split("test")
    assert len(test) == 10000
    cached = sorted(p.name for p in data.cache_dir().iterdir())
    # The test split needs its two files only: the 47 MB training set stays on the server.
    assert cached == sorted(f"{s.name}.gz" for s in data.FILES["test"])
    # Second call reads the cache, no server needed.
    monkeypatch.setenv(download.ENV_MIRRORS, "http://127.0.0.1:9/")
    assert len(load_split("test")) == 10000


def test_corrupt_download_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, mirror: tuple[str, Path]
) -> None:
    url, root = mirror
    bad = root / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(bad.read_bytes()))
    raw[50] = (raw[50] + 1) % 10
    bad.write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.delenv("MNIST_EDGE_DATA")
    monkeypatch.setenv(download.ENV_MIRRORS, url)
    with pytest.raises(DataError, match=r"could not download t10k-labels.*checksum"):
        load_split("test")
    leftovers = [p.name for p in data.cache_dir().iterdir()]
    assert "t10k-labels-idx1-ubyte.gz" not in leftovers
    assert not [n for n in leftovers if n.startswith(".")], leftovers


def test_unreachable_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MNIST_EDGE_DATA")
    monkeypatch.setenv(download.ENV_MIRRORS, "http://127.0.0.1:9/")  # discard port: refused
    with pytest.raises(DataError, match=r"could not download .*--data-dir"):
        load_split("test")


# ----------------------------------------------------------------------------- sizes and bombs

T10K_LABELS = data.FILES["test"][1]


def gz_member(raw: bytes) -> bytes:
    return gzip.compress(raw, compresslevel=9, mtime=0)


def gzip_bomb(header: bytes, megabytes: int) -> bytes:
    """``header`` then ``megabytes`` MB of zeros: members of a multi-member gzip, so a 100 MB bomb
    costs 100 copies of one ~1 KB member to build."""
    return gz_member(header) + gz_member(bytes(1 << 20)) * megabytes


def _peak_memory(fn: Callable[[], object]) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    try:
        fn()
        error = None
    except Exception as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error


def test_gzip_bomb_stops_at_the_canonical_size(tmp_path: Path) -> None:
    header = idx_labels([])[:4] + T10K_LABELS.count.to_bytes(4, "big")  # the canonical header
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip_bomb(header, 100))
    peak, error = _peak_memory(lambda: idx.load_file(path, T10K_LABELS))
    assert isinstance(error, DataError) and "more than the 10,008 bytes" in str(error), error
    assert peak < 8 << 20, f"held {peak / 1e6:.0f} MB to reject a 10 kB file"


def test_header_promising_too_much_is_rejected_early(tmp_path: Path) -> None:
    header = idx_labels([])[:4] + (2**32 - 1).to_bytes(4, "big")
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip_bomb(header, 50))
    peak, error = _peak_memory(lambda: idx.load_file(path, T10K_LABELS))
    assert isinstance(error, DataError) and "the canonical file has 10000" in str(error), error
    assert peak < 8 << 20, f"held {peak / 1e6:.0f} MB"


def test_oversized_raw_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte"
    with path.open("wb") as fh:  # sparse: 300 MB on paper, nothing on disk
        fh.write(idx_labels([1] * 16))
        fh.truncate(300 << 20)
    peak, error = _peak_memory(lambda: idx.load_file(path, T10K_LABELS))
    assert isinstance(error, DataError) and "larger than the 10,008 bytes" in str(error), error
    assert peak < 8 << 20, f"held {peak / 1e6:.0f} MB"


def test_flood_of_empty_gzip_members_is_bounded(data_dir: Path, tmp_path: Path) -> None:
    # Valid content, then 2 MB of empty members: no output growth, so only the input bound stops it.
    good = gzip.decompress((data_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gz_member(good) + gz_member(b"") * 100_000)
    with pytest.raises(DataError, match="larger than any gzip"):
        idx.load_file(path, T10K_LABELS)


def test_multi_member_and_trailing_garbage(data_dir: Path, tmp_path: Path) -> None:
    good = gzip.decompress((data_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gz_member(good[:5000]) + gz_member(good[5000:]))  # gzip allows members
    assert len(idx.load_file(path, T10K_LABELS)[0]) == 10000
    path.write_bytes(gz_member(good) + b"garbage")
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        idx.load_file(path, T10K_LABELS)


def test_bomb_inside_a_data_dir_is_one_line(data_dir: Path, tmp_path: Path) -> None:
    bad = _copy_mnist(data_dir, tmp_path / "bad")
    header = (
        idx.IMAGE_MAGIC.to_bytes(4, "big") + (10000).to_bytes(4, "big") + bytes([0, 0, 0, 28]) * 2
    )
    (bad / "t10k-images-idx3-ubyte.gz").write_bytes(gzip_bomb(header, 200))
    with pytest.raises(DataError, match="decompresses to more than"):
        load_split("test", bad)


# ----------------------------------------------------------------------------- unreadable files


def test_permission_denied_is_one_line(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = _copy_mnist(data_dir, tmp_path / "bad")
    deny = bad / "t10k-labels-idx1-ubyte.gz"
    real_open = os.open

    def fake_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(path) == deny:  # root reads anything: simulate the mode-000 file
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    with pytest.raises(DataError, match=r"cannot read .*t10k-labels.*Permission denied"):
        load_split("test", bad)


def test_io_error_is_one_line(data_dir: Path, tmp_path: Path) -> None:
    bad = _copy_mnist(data_dir, tmp_path / "bad")
    (bad / "t10k-labels-idx1-ubyte.gz").unlink()
    (bad / "t10k-labels-idx1-ubyte.gz").symlink_to("/proc/self/mem")  # reading it: EIO
    with pytest.raises(DataError, match=r"cannot read .*Input/output error"):
        load_split("test", bad)


def test_folder_under_a_file_name(data_dir: Path, tmp_path: Path) -> None:
    bad = _copy_mnist(data_dir, tmp_path / "bad")
    (bad / "t10k-labels-idx1-ubyte.gz").unlink()
    (bad / "t10k-labels-idx1-ubyte.gz").mkdir()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz is not a regular file"):
        load_split("test", bad)


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_split("test", tmp_path / "f")


# ----------------------------------------------------------------------------- limit


@pytest.mark.parametrize("limit", [0, -1, 1.5, "10", True])
def test_limit_must_be_a_positive_int(data_dir: Path, limit: object) -> None:
    with pytest.raises(UserError, match="limit must be a positive whole number"):
        load_split("test", data_dir, limit=limit)  # type: ignore[arg-type]


def test_limit_accepts_numpy_ints(data_dir: Path) -> None:
    assert len(load_split("test", data_dir, limit=np.int64(7))) == 7


# ----------------------------------------------------------------------------- copy-to


def test_copy_to_and_again(data_dir: Path, tmp_path: Path) -> None:
    dest = data.copy_to(tmp_path / "a" / "b", data_dir)
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{s.name}.gz" for s in data.ALL_FILES)
    data.copy_to(dest, data_dir)  # identical files already there: fine
    assert len(load_split("test", dest)) == 10000


def test_copy_to_an_existing_file(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="exists and is not a folder"):
        data.copy_to(tmp_path / "f", data_dir)
    with pytest.raises(UserError, match=r"cannot copy MNIST into .*Not a directory"):
        data.copy_to(tmp_path / "f" / "sub", data_dir)
    assert (tmp_path / "f").read_text() == "x"


def test_copy_to_refuses_a_different_file(data_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "train-labels-idx1-ubyte").write_bytes(b"mine")
    with pytest.raises(UserError, match="already holds train-labels-idx1-ubyte"):
        data.copy_to(dest, data_dir)
    assert [p.name for p in dest.iterdir()] == ["train-labels-idx1-ubyte"]
    assert (dest / "train-labels-idx1-ubyte").read_bytes() == b"mine"


def test_copy_to_onto_the_source(data_dir: Path) -> None:
    with pytest.raises(UserError, match="is the folder MNIST is read from"):
        data.copy_to(data_dir, data_dir)


def test_failed_copy_leaves_nothing(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_copy = shutil.copyfile
    calls = []

    def copy_then_fail(src: Any, dst: Any) -> Any:
        calls.append(src)
        if len(calls) == 3:  # two files published, the third fails: a full disk, a read-only fs
            raise PermissionError(13, "Permission denied", str(dst))
        return real_copy(src, dst)

    monkeypatch.setattr(shutil, "copyfile", copy_then_fail)
    with pytest.raises(UserError, match=r"cannot copy MNIST into .*Permission denied"):
        data.copy_to(tmp_path / "new" / "dest", data_dir)
    assert list(tmp_path.iterdir()) == [], list(tmp_path.rglob("*"))


# ----------------------------------------------------------------------------- hostile mirrors


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Answers every GET with ``server.behave(handler)``: raw bytes, however broken."""

    def do_GET(self) -> None:
        with contextlib.suppress(OSError):  # the client hung up: that is the point
            self.server.behave(self)  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


Behave = Callable[[_Hostile], None]


@contextlib.contextmanager
def hostile_servers() -> Iterator[Callable[[Behave], str]]:
    """``start(behave)`` serves ``behave`` on 127.0.0.1 and returns the mirror's URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(behave: Behave) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
        server.behave = behave  # type: ignore[attr-defined]
        server.stop = threading.Event()  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    try:
        yield start
    finally:
        for server in servers:
            server.stop.set()  # type: ignore[attr-defined]
            server.shutdown()
            server.server_close()


@pytest.fixture
def hostile_mirror() -> Iterator[Callable[[Behave], str]]:
    with hostile_servers() as start:
        yield start


def send(handler: _Hostile, head: str, body: bytes = b"") -> None:
    handler.wfile.write(head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body)


def garbage_status(h: _Hostile) -> None:
    h.wfile.write(b"SPAM SPAM SPAM\r\n\r\n")


def hang_up(h: _Hostile) -> None:
    pass  # close the connection without a word: http.client's RemoteDisconnected


def bad_length(h: _Hostile) -> None:
    send(h, "HTTP/1.0 200 OK\nContent-Length: abc", b"x" * 100)


def huge_length(h: _Hostile) -> None:
    send(h, "HTTP/1.0 200 OK\nContent-Length: 99999999999", b"x" * 100)


def bad_chunk(h: _Hostile) -> None:
    send(h, "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nConnection: close", b"zz\r\nxx\r\n")


def not_found(h: _Hostile) -> None:
    send(h, "HTTP/1.0 404 Not Found\nContent-Length: 0")


def endless(sent: list[int]) -> Behave:
    """No Content-Length, then zeros until the client hangs up (or 200 MB); counts into ``sent``."""

    def behave(h: _Hostile) -> None:
        send(h, "HTTP/1.0 200 OK")
        block = bytes(1 << 16)
        while sent[0] < 200 << 20:
            h.wfile.write(block)
            sent[0] += len(block)

    return behave


def short_length(h: _Hostile) -> None:
    """Content-Length says 100, then far more follows."""
    send(h, "HTTP/1.0 200 OK\nContent-Length: 100", gz_member(bytes(100_000)))


def trickle(gap: float) -> Behave:
    """A byte every ``gap`` seconds, forever: each read succeeds, the download never ends."""

    def behave(h: _Hostile) -> None:
        send(h, "HTTP/1.0 200 OK\nContent-Length: 9000")
        while not h.server.stop.wait(gap):  # type: ignore[attr-defined]
            h.wfile.write(b"\x1f")
            h.wfile.flush()

    return behave


def _download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> DataError:
    monkeypatch.setenv(download.ENV_MIRRORS, url)
    monkeypatch.setenv("MNIST_EDGE_DOWNLOAD_TIMEOUT", "2")
    with pytest.raises(DataError) as info:
        download.download_file(T10K_LABELS, tmp_path / "cache")
    assert not list(tmp_path.rglob("*.gz")) and not list(tmp_path.rglob(".mnist-edge-tmp-*"))
    return info.value


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("behave", "message"),
    [
        (garbage_status, "invalid HTTP response (BadStatusLine"),
        (hang_up, "invalid HTTP response (RemoteDisconnected"),
        (bad_length, "invalid Content-Length 'abc'"),
        (huge_length, "announces 99,999,999,999 bytes"),
        (bad_chunk, "invalid HTTP response (IncompleteRead"),
        (not_found, "HTTP 404 Not Found"),
        (short_length, "magic number 0x00000000"),  # 100 bytes of it
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_hostile_mirror_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    hostile_mirror: Callable[[Behave], str],
    behave: Behave,
    message: str,
) -> None:
    url = hostile_mirror(behave)
    error = _download(monkeypatch, tmp_path, url)
    assert message in str(error) and f"{url}t10k-labels-idx1-ubyte.gz" in str(error), error
    assert "--data-dir" in str(error)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("gap", "message"),
    [
        (5.0, "timed out waiting for the server"),  # the socket timeout, capped by the deadline
        (0.2, "not complete after 2 s; set MNIST_EDGE_DOWNLOAD_TIMEOUT"),  # each read succeeds
    ],
    ids=["stalled", "trickle"],
)
def test_trickling_mirror_hits_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    hostile_mirror: Callable[[Behave], str],
    gap: float,
    message: str,
) -> None:
    start = time.monotonic()
    error = _download(monkeypatch, tmp_path, hostile_mirror(trickle(gap)))
    assert time.monotonic() - start < 5, "the 2 s deadline did not hold"
    assert message in str(error), error


@pytest.mark.timeout(30)
def test_endless_mirror_is_cut_at_the_canonical_size(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hostile_mirror: Callable[[Behave], str]
) -> None:
    sent = [0]
    error = _download(monkeypatch, tmp_path, hostile_mirror(endless(sent)))
    assert "sent more than 14,114 bytes" in str(error), error
    assert sent[0] < 20 << 20, f"read {sent[0] >> 20} MB of a 10 kB file"


@pytest.mark.parametrize(
    "mirrors",
    ["notaurl", "ftp://example.org/mnist/", "http://", "https:///x/", "http://h:xx/", ","],
)
def test_mirror_urls_are_checked_up_front(monkeypatch: pytest.MonkeyPatch, mirrors: str) -> None:
    monkeypatch.setenv(download.ENV_MIRRORS, mirrors)
    with pytest.raises(DataError, match="MNIST_EDGE_MIRRORS"):
        download.mirrors()


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf"])
def test_download_timeout_is_checked(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MNIST_EDGE_DOWNLOAD_TIMEOUT", value)
    with pytest.raises(DataError, match="MNIST_EDGE_DOWNLOAD_TIMEOUT"):
        download.download_timeout()


def test_failed_download_leaves_no_cache_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hostile_mirror: Callable[[Behave], str]
) -> None:
    monkeypatch.delenv("MNIST_EDGE_DATA")
    monkeypatch.setenv(download.ENV_MIRRORS, hostile_mirror(not_found))
    with pytest.raises(DataError, match="HTTP 404"):
        load_split("test")
    assert not (tmp_path / "cache").exists()
