"""MNIST data layer (numpy only): find, download, verify and parse the four canonical IDX files.

Lookup order: an explicit ``data_dir`` (``--data-dir``), then ``$MNIST_EDGE_DATA``, then the
user cache (``$XDG_CACHE_HOME/mnist-edge/mnist``). Only the cache is ever downloaded into, and
only when none of the explicit locations was given. Every file is checked for its magic number,
dimensions, count, length and the SHA-256 of its decompressed content before it is used.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path

ENV_DATA = "MNIST_EDGE_DATA"
ENV_MIRRORS = "MNIST_EDGE_MIRRORS"  # comma-separated base URLs, tried in order

DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)

IMAGE_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABEL_MAGIC = 0x00000801  # unsigned byte, 1 dimension
ROWS = COLS = 28


@dataclass(frozen=True)
class IdxFile:
    name: str
    kind: str  # "images" or "labels"
    count: int
    sha256: str  # of the decompressed file


FILES: dict[str, tuple[IdxFile, IdxFile]] = {
    "train": (
        IdxFile(
            "train-images-idx3-ubyte",
            "images",
            60000,
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        IdxFile(
            "train-labels-idx1-ubyte",
            "labels",
            60000,
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
    ),
    "test": (
        IdxFile(
            "t10k-images-idx3-ubyte",
            "images",
            10000,
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        IdxFile(
            "t10k-labels-idx1-ubyte",
            "labels",
            10000,
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    ),
}
ALL_FILES: tuple[IdxFile, ...] = FILES["train"] + FILES["test"]


@dataclass(frozen=True)
class MnistSplit:
    images: np.ndarray  # uint8 [N, 28, 28], ink 255 on 0
    labels: np.ndarray  # uint8 [N]
    checksums: dict[str, str]  # file name -> sha256 of decompressed content

    def __len__(self) -> int:
        return len(self.labels)


class DataError(UserError):
    """Missing, corrupt or unreachable MNIST data."""


# ----------------------------------------------------------------------------- parsing


def parse_idx(raw: bytes, kind: str, *, name: str = "IDX data") -> np.ndarray:
    """Parse decompressed IDX bytes of ``kind`` "images" ([N, 28, 28]) or "labels" ([N])."""
    magic = IMAGE_MAGIC if kind == "images" else LABEL_MAGIC
    header = 16 if kind == "images" else 8
    if len(raw) < header:
        raise DataError(
            f"{name} is truncated: {len(raw)} bytes, shorter than the {header}-byte "
            "IDX header; delete it so it is fetched again"
        )
    found = int.from_bytes(raw[0:4], "big")
    if found != magic:
        raise DataError(
            f"{name} is not an MNIST {kind} file: magic number 0x{found:08x}, "
            f"expected 0x{magic:08x}"
        )
    count = int.from_bytes(raw[4:8], "big")
    if kind == "images":
        rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
        if (rows, cols) != (ROWS, COLS):
            raise DataError(f"{name} has {rows}x{cols} images; MNIST images are {ROWS}x{COLS}")
        expected = header + count * rows * cols
    else:
        expected = header + count
    if len(raw) < expected:
        raise DataError(
            f"{name} is truncated: {len(raw)} bytes, the header promises {expected}; "
            "delete it so it is fetched again"
        )
    if len(raw) > expected:
        raise DataError(
            f"{name} has {len(raw) - expected} bytes of trailing garbage after {count} {kind}"
        )
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if kind == "images":
        return data.reshape(count, ROWS, COLS)
    if data.size and data.max() > 9:
        raise DataError(f"{name} holds label {int(data.max())}; MNIST labels are 0-9")
    return data


def read_raw(path: Path) -> bytes:
    """Read an IDX file, gunzipping it when it is gzip-compressed (by content, not by name)."""
    blob = path.read_bytes()
    if blob[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(blob)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"{path} is a corrupt or truncated gzip file ({exc}); "
                "delete it so it is fetched again"
            ) from None
    return blob


def _candidates(directory: Path, spec: IdxFile) -> list[Path]:
    return [directory / f"{spec.name}.gz", directory / spec.name]


def find_file(directory: Path, spec: IdxFile) -> Path | None:
    return next((p for p in _candidates(directory, spec) if p.is_file()), None)


def load_file(path: Path, spec: IdxFile) -> tuple[np.ndarray, str]:
    raw = read_raw(path)
    array = parse_idx(raw, spec.kind, name=str(path))
    if len(array) != spec.count:
        raise DataError(
            f"{path} holds {len(array)} {spec.kind}; the canonical file has {spec.count}"
        )
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise DataError(
            f"{path} fails its checksum (sha256 {digest[:12]}..., expected "
            f"{spec.sha256[:12]}...): the file is corrupt or not the canonical MNIST; "
            "replace it or delete it so it is fetched again"
        )
    return array, digest


# ----------------------------------------------------------------------------- locating


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mnist-edge" / "mnist"


def resolve_data_dir(
    data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Path:
    """Return a directory holding all four files, downloading into the cache if allowed."""
    explicit = [(str(data_dir), "--data-dir")] if data_dir else []
    if not explicit and os.environ.get(ENV_DATA):
        explicit = [(os.environ[ENV_DATA], f"${ENV_DATA}")]
    for location, source in explicit:
        directory = Path(location).expanduser()
        missing = [spec.name for spec in ALL_FILES if find_file(directory, spec) is None]
        if missing:
            raise DataError(
                f"MNIST not found in {directory} (from {source}): missing "
                f"{', '.join(missing)} (.gz or raw); point {source} at the folder "
                "that holds the four IDX files"
            )
        return directory
    cache = cache_dir()
    missing_specs = [spec for spec in ALL_FILES if find_file(cache, spec) is None]
    if not missing_specs:
        return cache
    if not download:
        raise DataError(
            f"MNIST not found: looked in {cache} (user cache); pass --data-dir DIR or "
            f"set {ENV_DATA}=DIR to the folder with the four IDX files"
        )
    for spec in missing_specs:
        download_file(spec, cache)
    return cache


def mirrors() -> list[str]:
    env = os.environ.get(ENV_MIRRORS)
    urls = [u.strip() for u in env.split(",") if u.strip()] if env else list(DEFAULT_MIRRORS)
    return [u if u.endswith("/") else u + "/" for u in urls]


# ----------------------------------------------------------------------------- downloading


def download_file(spec: IdxFile, directory: Path, *, timeout: float = 30.0) -> Path:
    """Fetch ``spec`` from the first mirror that serves a verified copy; atomic, never partial."""
    target = directory / f"{spec.name}.gz"
    errors = []
    for base in mirrors():
        url = f"{base}{spec.name}.gz"
        try:
            with atomic_path(target) as tmp:
                _fetch(url, tmp, timeout=timeout)
                load_file(tmp, spec)  # verify before the rename makes it visible
            return target
        except DataError as exc:
            errors.append(f"{url}: {exc}")
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", None) or exc
            errors.append(f"{url}: {reason}")
    raise DataError(
        f"could not download {spec.name}: {'; '.join(errors)}. Check the network "
        "or copy the four IDX files somewhere and pass --data-dir DIR "
        f"(or set {ENV_DATA})"
    )


def _fetch(url: str, dest: Path, *, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "mnist-edge"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        progress = _Progress(url.rsplit("/", 1)[-1], total)
        while chunk := response.read(1 << 16):
            out.write(chunk)
            progress.update(len(chunk))
        progress.close()
        if total and progress.done != total:
            raise DataError(f"download of {url} stopped at {progress.done} of {total} bytes")


class _Progress:
    """A one-line download progress bar on stderr (a plain line when stderr is not a terminal)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.tty = sys.stderr.isatty()
        self._last = 0.0
        if not self.tty:
            print(f"downloading {label} ({total or '?'} bytes)", file=sys.stderr)

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.tty and (now - self._last > 0.1 or self.done == self.total):
            self._last = now
            if self.total:
                frac = self.done / self.total
                bar = "#" * int(frac * 30)
                sys.stderr.write(f"\r{self.label:<28} [{bar:<30}] {frac:6.1%}")
            else:
                sys.stderr.write(f"\r{self.label:<28} {self.done / 1e6:8.1f} MB")
            sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


# ----------------------------------------------------------------------------- public API


def load_split(
    split: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    limit: int | None = None,
    download: bool = True,
) -> MnistSplit:
    """Load "train" or "test" as uint8 images [N, 28, 28] and labels [N], verified."""
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, not {split!r}")
    directory = resolve_data_dir(data_dir, download=download)
    image_spec, label_spec = FILES[split]
    images, image_sha = load_file(find_file(directory, image_spec), image_spec)  # type: ignore[arg-type]
    labels, label_sha = load_file(find_file(directory, label_spec), label_spec)  # type: ignore[arg-type]
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return MnistSplit(images, labels, {image_spec.name: image_sha, label_spec.name: label_sha})


def copy_to(
    directory: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Copy the verified files into ``directory`` (for moving MNIST onto a device)."""
    source = resolve_data_dir(data_dir)
    dest = Path(directory)
    dest.mkdir(parents=True, exist_ok=True)
    for spec in ALL_FILES:
        path = find_file(source, spec)
        assert path is not None  # resolve_data_dir guarantees all four exist
        with atomic_path(dest / path.name) as tmp:
            shutil.copyfile(path, tmp)
    return dest
