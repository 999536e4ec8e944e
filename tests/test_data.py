"""The MNIST data layer: parsing, every corruption case, lookup order, verified download."""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mnist_edge.core import data
from mnist_edge.core.data import DataError, load_split, parse_idx


def idx_images(count: int, rows: int = 28, cols: int = 28, magic: int = data.IMAGE_MAGIC) -> bytes:
    header = b"".join(v.to_bytes(4, "big") for v in (magic, count, rows, cols))
    pixels = count * rows * cols
    return header + bytes(range(256)) * (pixels // 256) + bytes(pixels % 256)


def idx_labels(values: list[int]) -> bytes:
    return data.LABEL_MAGIC.to_bytes(4, "big") + len(values).to_bytes(4, "big") + bytes(values)


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
    monkeypatch.setenv(data.ENV_MIRRORS, f"{url}missing/,{url}")
    test = load_split("test")
    assert len(test) == 10000
    cached = sorted(p.name for p in data.cache_dir().iterdir())
    assert cached == sorted(f"{s.name}.gz" for s in data.ALL_FILES)
    # Second call reads the cache, no server needed.
    monkeypatch.setenv(data.ENV_MIRRORS, "http://127.0.0.1:9/")
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
    monkeypatch.setenv(data.ENV_MIRRORS, url)
    with pytest.raises(DataError, match=r"could not download t10k-labels.*checksum"):
        load_split("test")
    leftovers = [p.name for p in data.cache_dir().iterdir()]
    assert "t10k-labels-idx1-ubyte.gz" not in leftovers
    assert not [n for n in leftovers if n.startswith(".")], leftovers


def test_unreachable_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MNIST_EDGE_DATA")
    monkeypatch.setenv(data.ENV_MIRRORS, "http://127.0.0.1:9/")  # discard port: refused
    with pytest.raises(DataError, match=r"could not download .*--data-dir"):
        load_split("test")
