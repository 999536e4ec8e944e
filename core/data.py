"""MNIST data layer (numpy only): find, download, verify and parse the four canonical IDX files.

Lookup order: an explicit ``data_dir`` (``--data-dir``), then ``$MNIST_EDGE_DATA``, then the
user cache (``$XDG_CACHE_HOME/mnist-edge/mnist``). Only the cache is ever downloaded into, and
only when none of the explicit locations was given. Every file is checked for its magic number,
dimensions, count, length and the SHA-256 of its decompressed content before it is used.

Every input is hostile until checked: a file is never read, decompressed or downloaded past the
size of the canonical file (a gzip bomb stops there), a download has one deadline, and every
failure, from a full disk to a server that speaks no HTTP, is one line that says what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import math
import numbers
import os
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path, open_regular

ENV_DATA = "MNIST_EDGE_DATA"
ENV_MIRRORS = "MNIST_EDGE_MIRRORS"  # comma-separated base URLs, tried in order
ENV_TIMEOUT = "MNIST_EDGE_DOWNLOAD_TIMEOUT"  # seconds for one file, all mirrors together
DEFAULT_DOWNLOAD_TIMEOUT = 300.0
STALL_TIMEOUT = 30.0  # seconds without a byte before a read gives up (the socket timeout)
CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

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

    @property
    def size(self) -> int:
        """Bytes of the canonical decompressed file."""
        return _header_size(self.kind) + self.count * (ROWS * COLS if self.kind == "images" else 1)

    @property
    def max_gzip_size(self) -> int:
        """The most bytes any gzip of the canonical file needs: deflate's stored blocks add 5 bytes
        per 64 KiB to incompressible data, gzip a header (maybe a name, a comment) and a trailer."""
        return self.size + self.size // 1000 + 4096


def _header_size(kind: str) -> int:
    return 16 if kind == "images" else 8


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


def _parse_header(raw: bytes | bytearray, kind: str, name: str) -> tuple[int, int]:
    """Check the IDX header at the start of ``raw``; return its count and the size it promises."""
    magic = IMAGE_MAGIC if kind == "images" else LABEL_MAGIC
    header = _header_size(kind)
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
        return count, header + count * rows * cols
    return count, header + count


def parse_idx(raw: bytes | bytearray, kind: str, *, name: str = "IDX data") -> np.ndarray:
    """Parse decompressed IDX bytes of ``kind`` "images" ([N, 28, 28]) or "labels" ([N])."""
    count, expected = _parse_header(raw, kind, name)
    if len(raw) < expected:
        raise DataError(
            f"{name} is truncated: {len(raw)} bytes, the header promises {expected}; "
            "delete it so it is fetched again"
        )
    if len(raw) > expected:
        raise DataError(
            f"{name} has {len(raw) - expected} bytes of trailing garbage after {count} {kind}"
        )
    data = np.frombuffer(raw, dtype=np.uint8, offset=_header_size(kind))
    if kind == "images":
        return data.reshape(count, ROWS, COLS)
    if data.size and data.max() > 9:
        raise DataError(f"{name} holds label {int(data.max())}; MNIST labels are 0-9")
    return data


def _wrong_count(path: Path, spec: IdxFile, count: int) -> DataError:
    return DataError(f"{path} holds {count} {spec.kind}; the canonical file has {spec.count}")


def read_raw(path: Path, spec: IdxFile) -> bytearray:
    """Read the IDX file ``spec`` from ``path``, gunzipping it when it is gzip-compressed (by
    content, not by name). Never reads or holds more than the canonical file needs."""
    try:
        with open_regular(path, "MNIST file", DataError) as fh:
            head = fh.read(2)
            if head == GZIP_MAGIC:
                return _gunzip(fh, head, path, spec)
            return _read_plain(fh, head, path, spec)
    except OSError as exc:
        raise DataError(
            f"cannot read {path}: {exc.strerror or exc}; make it a readable file or replace it "
            "with a good copy"
        ) from None


def _too_big(path: Path, what: str) -> DataError:
    return DataError(
        f"{path} {what}: it is corrupt or not MNIST (a decompression bomb?); "
        "replace it or delete it so it is fetched again"
    )


def _read_plain(fh: BinaryIO, head: bytes, path: Path, spec: IdxFile) -> bytearray:
    # The size on disk rejects most at once; the bounded read covers files that grow or lie.
    if os.fstat(fh.fileno()).st_size > spec.size:
        raise _too_big(path, f"is larger than the {spec.size:,} bytes of {spec.name}")
    raw = bytearray(head)
    while len(raw) <= spec.size and (block := fh.read(min(CHUNK, spec.size + 1 - len(raw)))):
        raw += block
    if len(raw) > spec.size:
        raise _too_big(path, f"is larger than the {spec.size:,} bytes of {spec.name}")
    return raw


def _gunzip(fh: BinaryIO, head: bytes, path: Path, spec: IdxFile) -> bytearray:
    """Decompress as a stream, every member (gzip allows concatenating them), stopping as soon as
    the output passes the size the IDX header promises, which must be the canonical size, or the
    input passes what any gzip of the canonical file needs (a flood of empty members)."""
    out = bytearray()
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
    pending, read, in_member, checked = head, len(head), False, False
    try:
        while True:
            if not pending:
                if read > spec.max_gzip_size:
                    raise _too_big(path, f"is larger than any gzip of {spec.name} can be")
                pending = fh.read(min(CHUNK, spec.max_gzip_size + 1 - read))
                read += len(pending)
                if not pending:
                    break
            if inflate.eof:  # the previous member ended: another one follows
                inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            out += inflate.decompress(pending, spec.size + 1 - len(out))  # never past the limit
            pending = inflate.unused_data if inflate.eof else inflate.unconsumed_tail
            in_member = not inflate.eof
            if not checked and len(out) >= _header_size(spec.kind):
                count, _ = _parse_header(out, spec.kind, str(path))
                if count != spec.count:  # so the size the header promises is the canonical one
                    raise _wrong_count(path, spec, count)
                checked = True
            if len(out) > spec.size:
                raise _too_big(
                    path, f"decompresses to more than the {spec.size:,} bytes its header promises"
                )
    except zlib.error as exc:
        in_member, reason = True, f" ({exc})"
    else:
        reason = ""
    if in_member:
        raise DataError(
            f"{path} is a corrupt or truncated gzip file{reason}; delete it so it is fetched again"
        )
    return out


def _candidates(directory: Path, spec: IdxFile) -> list[Path]:
    return [directory / f"{spec.name}.gz", directory / spec.name]


@contextlib.contextmanager
def _looking_into(directory: Path) -> Iterator[None]:
    """A folder that cannot even be listed (no permission, an I/O error) is one line too."""
    try:
        yield
    except OSError as exc:
        raise DataError(
            f"cannot look into {directory}: {exc.strerror or exc}; check its permissions"
        ) from None


def find_file(directory: Path, spec: IdxFile) -> Path | None:
    """The first of ``spec``'s names in ``directory``; a folder or a broken link there is an error,
    not a missing file, so the user learns what is in the way."""
    for path in _candidates(directory, spec):
        with _looking_into(directory):
            if path.is_file():
                return path
            in_the_way = path.exists() or path.is_symlink()
        if in_the_way:
            raise DataError(
                f"{path} is not a regular file (a folder or a broken link); "
                "put the IDX file there or remove it"
            )
    return None


def load_file(path: Path, spec: IdxFile) -> tuple[np.ndarray, str]:
    raw = read_raw(path, spec)
    array = parse_idx(raw, spec.kind, name=str(path))
    if len(array) != spec.count:
        raise _wrong_count(path, spec, len(array))
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
        with _looking_into(directory):
            if directory.exists() and not directory.is_dir():
                raise DataError(
                    f"{directory} (from {source}) is a file, not a folder; point {source} at "
                    "the folder that holds the four IDX files"
                )
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
    _download_all(missing_specs, cache)
    return cache


def _missing_dirs(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    with _looking_into(path):
        return [p for p in [path, *path.parents] if not p.exists()]


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders this run created, deepest first, if they are still empty."""
    for folder in created:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _download_all(specs: list[IdxFile], cache: Path) -> None:
    mirrors()  # a bad setting fails here, before any folder is created
    download_timeout()
    created = _missing_dirs(cache)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_empty(created)
        raise DataError(
            f"cannot create the MNIST cache folder {cache}: {exc.strerror or exc}; set "
            "XDG_CACHE_HOME to a writable folder or pass --data-dir DIR"
        ) from None
    try:
        for spec in specs:
            download_file(spec, cache)
    finally:
        _remove_empty(created)  # a failed download leaves no empty cache folders behind


def mirrors() -> list[str]:
    """The mirrors' base URLs, each checked up front, so a typo fails before any download."""
    env = os.environ.get(ENV_MIRRORS)
    urls = [u.strip() for u in env.split(",") if u.strip()] if env else list(DEFAULT_MIRRORS)
    if not urls:
        raise DataError(
            f"{ENV_MIRRORS}={env!r} names no URL; set it to comma-separated base URLs such as "
            f"{DEFAULT_MIRRORS[0]} or unset it"
        )
    for url in urls:
        _check_mirror(url)
    return [u if u.endswith("/") else u + "/" for u in urls]


def _check_mirror(url: str) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        valid = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and (parts.port or 0) >= 0  # reading .port raises ValueError for "host:abc"
            and not (parts.query or parts.fragment)  # the file name is appended to the path
            and url.isprintable()
            and " " not in url
        )
    except ValueError:
        valid = False
    if not valid:
        raise DataError(
            f"{ENV_MIRRORS} entry {url!r} is not an http:// or https:// URL with a host; set "
            f"{ENV_MIRRORS} to comma-separated base URLs such as {DEFAULT_MIRRORS[0]}"
        )


def download_timeout() -> float:
    """Seconds one file may take, all its mirrors together: $MNIST_EDGE_DOWNLOAD_TIMEOUT."""
    value = os.environ.get(ENV_TIMEOUT, "").strip()
    if not value:
        return DEFAULT_DOWNLOAD_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise DataError(
            f"{ENV_TIMEOUT}={value!r} is not a positive number of seconds; set it to e.g. "
            f"{DEFAULT_DOWNLOAD_TIMEOUT:g} or unset it"
        )
    return seconds


# ----------------------------------------------------------------------------- downloading


@dataclass(frozen=True)
class _Deadline:
    at: float  # time.monotonic()
    seconds: float

    def left(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if self.left() <= 0:
            raise DataError(
                f"not complete after {self.seconds:g} s; set {ENV_TIMEOUT} to allow more "
                "on a slow link"
            )


def download_file(spec: IdxFile, directory: Path, *, timeout: float = STALL_TIMEOUT) -> Path:
    """Fetch ``spec`` from the first mirror that serves a verified copy; atomic, never partial.

    One deadline covers the whole file, all mirrors together: the socket ``timeout`` bounds one
    read, but a server that trickles a byte at a time would hold the download forever."""
    urls = [f"{base}{spec.name}.gz" for base in mirrors()]
    seconds = download_timeout()
    deadline = _Deadline(time.monotonic() + seconds, seconds)
    target = directory / f"{spec.name}.gz"
    errors = []
    for url in urls:
        try:
            deadline.check()
            with atomic_path(target) as tmp:
                _fetch(url, tmp, spec, deadline, stall=timeout)
                load_file(tmp, spec)  # verify before the rename makes it visible
            return target
        except DataError as exc:
            errors.append(f"{url}: {exc}")
        except OSError as exc:  # the network's errors are DataErrors by now: this is the disk
            raise DataError(
                f"cannot write {target}: {exc.strerror or exc}; free some space or set "
                "XDG_CACHE_HOME to a writable folder"
            ) from None
    raise DataError(
        f"could not download {spec.name}: {'; '.join(errors)}. Check the network "
        "or copy the four IDX files somewhere and pass --data-dir DIR "
        f"(or set {ENV_DATA})"
    )


@contextlib.contextmanager
def _network() -> Iterator[None]:
    """Whatever the network or a broken server throws becomes one line."""
    try:
        yield
    except urllib.error.HTTPError as exc:
        raise DataError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DataError(_describe(exc.reason)) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # ValueError: http.client's answer to a chunk size that is not a number
        raise DataError(_describe(exc)) from None


def _describe(exc: BaseException | str) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out waiting for the server"
    if isinstance(exc, http.client.HTTPException):  # also RemoteDisconnected, an OSError
        return f"invalid HTTP response ({type(exc).__name__}: {exc})"
    return str(exc) or type(exc).__name__


def _fetch(url: str, dest: Path, spec: IdxFile, deadline: _Deadline, *, stall: float) -> None:
    """Stream ``url`` into ``dest``: no more bytes than a gzip of ``spec`` can have, and no
    later than ``deadline``, checked between reads (each read waits at most ``stall`` s)."""
    request = urllib.request.Request(url, headers={"User-Agent": "mnist-edge"})
    with _network():
        response = urllib.request.urlopen(request, timeout=min(stall, deadline.left()))
    with response, dest.open("wb") as out:
        total = _content_length(response.headers.get("Content-Length"), spec)
        progress = _Progress(url.rsplit("/", 1)[-1], total or 0)
        read = getattr(response, "read1", response.read)  # read1: returns what one recv got
        try:
            while True:
                deadline.check()
                with _network():
                    chunk = read(1 << 16)
                if not chunk:
                    break
                if progress.done + len(chunk) > spec.max_gzip_size:
                    raise DataError(
                        f"sent more than {spec.max_gzip_size:,} bytes, more than any gzip of "
                        f"{spec.name} has: the mirror does not serve MNIST"
                    )
                out.write(chunk)
                progress.update(len(chunk))
        finally:
            progress.close()
    if total is not None and progress.done != total:
        raise DataError(f"download stopped at {progress.done} of {total} bytes")


def _content_length(value: str | None, spec: IdxFile) -> int | None:
    if value is None:
        return None
    if not (value.strip().isascii() and value.strip().isdigit()):
        raise DataError(f"sent an invalid Content-Length {value!r}")
    total = int(value)
    if total > spec.max_gzip_size:
        raise DataError(
            f"announces {total:,} bytes, more than any gzip of {spec.name} has "
            f"({spec.max_gzip_size:,}): the mirror does not serve MNIST"
        )
    return total


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


def _check_limit(limit: object) -> int:
    # numbers.Integral takes numpy integers too; a bool is an int to Python, never a count here.
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise UserError(f"limit must be a positive whole number of images, not {limit!r}")
    return int(limit)


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
    if limit is not None:
        limit = _check_limit(limit)  # before minutes of downloading
    directory = resolve_data_dir(data_dir, download=download)
    image_spec, label_spec = FILES[split]
    images, image_sha = load_file(find_file(directory, image_spec), image_spec)  # type: ignore[arg-type]
    labels, label_sha = load_file(find_file(directory, label_spec), label_spec)  # type: ignore[arg-type]
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return MnistSplit(images, labels, {image_spec.name: image_sha, label_spec.name: label_sha})


def check_copy_target(directory: str | os.PathLike[str]) -> Path:
    """Refuse a copy destination that can never work, before anything is loaded or downloaded."""
    dest = Path(directory).expanduser()
    with _looking_into(dest):
        if dest.exists() and not dest.is_dir():
            raise DataError(f"--copy-to {dest} exists and is not a folder; choose a folder")
    return dest


def copy_to(
    directory: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Copy the verified files into ``directory`` (for moving MNIST onto a device).

    All or nothing: a folder holding something else under an MNIST name is refused before
    anything is written, and a failed copy removes the files and folders it created."""
    source = resolve_data_dir(data_dir)
    dest = check_copy_target(directory)
    with _looking_into(dest):
        if dest.exists() and dest.resolve() == source.resolve():
            raise DataError(
                f"--copy-to {dest} is the folder MNIST is read from; choose another folder"
            )
    _refuse_clashes(dest)
    files = [find_file(source, spec) for spec in ALL_FILES]
    created, written = _missing_dirs(dest), []
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for path in files:
            assert path is not None  # resolve_data_dir guarantees all four exist
            target = dest / path.name
            fresh = not target.exists()
            with atomic_path(target) as tmp:
                shutil.copyfile(path, tmp)
            if fresh:
                written.append(target)
    except BaseException as exc:  # also Ctrl-C: never leave half a copy
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        _remove_empty(created)
        if isinstance(exc, OSError):
            raise DataError(
                f"cannot copy MNIST into {dest}: {exc.strerror or exc}; pass --copy-to a "
                "writable folder"
            ) from None
        raise
    return dest


def _refuse_clashes(dest: Path) -> None:
    """An MNIST name in ``dest`` must hold the canonical file: the copy would replace it."""
    for spec in ALL_FILES:
        for existing in _candidates(dest, spec):
            with _looking_into(dest):
                present = existing.exists() or existing.is_symlink()
            if present and not _is_canonical(existing, spec):
                raise DataError(
                    f"--copy-to folder {dest} already holds {existing.name}, which is not the "
                    "canonical MNIST file; remove it or choose another folder"
                )


def _is_canonical(path: Path, spec: IdxFile) -> bool:
    try:
        load_file(path, spec)
    except DataError:
        return False
    return True
