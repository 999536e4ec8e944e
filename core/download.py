"""Downloading MNIST: mirrors, one deadline per file, progress, and one-line failures."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import math
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mnist_edge.core.fsutil import atomic_path
from mnist_edge.core.idx import ENV_DATA, DataError, IdxFile, load_file

ENV_MIRRORS = "MNIST_EDGE_MIRRORS"  # comma-separated base URLs, tried in order
ENV_TIMEOUT = "MNIST_EDGE_DOWNLOAD_TIMEOUT"  # seconds for one file, all mirrors together
DEFAULT_DOWNLOAD_TIMEOUT = 300.0
STALL_TIMEOUT = 30.0  # seconds without a byte before a read gives up (the socket timeout)
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)


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
class Deadline:
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
    deadline = Deadline(time.monotonic() + seconds, seconds)
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


def _fetch(url: str, dest: Path, spec: IdxFile, deadline: Deadline, *, stall: float) -> None:
    """Stream ``url`` into ``dest``: no more bytes than a gzip of ``spec`` can have."""
    why = f"more than any gzip of {spec.name} has: the mirror does not serve MNIST"
    stream(url, dest, spec.max_gzip_size, deadline, stall=stall, why=why)


def stream(
    url: str, dest: Path, max_bytes: int, deadline: Deadline, *, stall: float, why: str
) -> str:
    """Stream ``url`` into ``dest`` and return its SHA-256: at most ``max_bytes`` (``why``
    says what more would mean), no later than ``deadline``, checked between reads (each read
    waits at most ``stall`` s). Network and server failures are one-line DataErrors."""
    request = urllib.request.Request(url, headers={"User-Agent": "mnist-edge"})
    digest = hashlib.sha256()
    with _network():
        response = urllib.request.urlopen(request, timeout=min(stall, deadline.left()))
    with response, dest.open("wb") as out:
        total = _content_length(response.headers.get("Content-Length"), max_bytes, why)
        progress = _Progress(url.rsplit("/", 1)[-1], total or 0)
        read = getattr(response, "read1", response.read)  # read1: returns what one recv got
        try:
            while True:
                deadline.check()
                with _network():
                    chunk = read(1 << 16)
                if not chunk:
                    break
                if progress.done + len(chunk) > max_bytes:
                    raise DataError(f"sent more than {max_bytes:,} bytes, {why}")
                out.write(chunk)
                digest.update(chunk)
                progress.update(len(chunk))
        finally:
            progress.close()
    if total is not None and progress.done != total:
        raise DataError(f"download stopped at {progress.done} of {total} bytes")
    return digest.hexdigest()


def _content_length(value: str | None, max_bytes: int, why: str) -> int | None:
    if value is None:
        return None
    if not (value.strip().isascii() and value.strip().isdigit()):
        raise DataError(f"sent an invalid Content-Length {value!r}")
    total = int(value)
    if total > max_bytes:
        raise DataError(f"announces {total:,} bytes ({max_bytes:,} at most), {why}")
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
