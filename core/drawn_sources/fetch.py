"""The public releases the drawn-digit files are built from: where they are, finding or
downloading them, and checking their SHA-256.

Lookup: ``--from-dir DIR`` (the archives fetched by hand; nothing is downloaded), else the cache
(``$XDG_CACHE_HOME/mnist-edge/drawn-sources``), else a download into the cache: streamed into a
temporary file with a size cap and one deadline, renamed into place only after its SHA-256 checks
out. ``MNIST_EDGE_DRAWN_MIRRORS`` (comma-separated base URLs, ``<base><file name>`` is fetched)
replaces the publishers' URLs, as ``MNIST_EDGE_MIRRORS`` does for MNIST.

Where no SHA-256 has been published the pin is ``None`` (pending): the value seen is printed and
recorded, and the content is checked anyway, sample by sample, against the selection.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# The MNIST downloader's pieces: one deadline per file, network errors as one line, progress.
from mnist_edge.core.download import STALL_TIMEOUT, Deadline, stream
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path, open_regular

ENV_MIRRORS = "MNIST_EDGE_DRAWN_MIRRORS"
ENV_TIMEOUT = "MNIST_EDGE_DOWNLOAD_TIMEOUT"  # shared with MNIST
DEFAULT_TIMEOUT = 3600.0  # the UNIPEN archive is about 156 MB


class FetchError(UserError):
    pass


class MissingArchive(FetchError):
    """Not found where it was looked for, or could not be downloaded."""


@dataclass(frozen=True)
class Archive:
    name: str  # the file name, on disk and on a mirror
    urls: tuple[str, ...]
    sha256: str | None  # None: no published value known here (pin pending)
    max_bytes: int
    sha256_source: str = ""  # who states the pinned value


@dataclass(frozen=True)
class Release:
    key: str
    title: str
    page: str  # where a person downloads it by hand
    archives: tuple[Archive, ...]  # any one will do; the first is the one downloaded
    licence: str


RELEASES: dict[str, Release] = {
    "unipen": Release(
        key="unipen",
        title="UNIPEN train_r01_v07 (International Unipen Foundation, 1999)",
        page="https://zenodo.org/records/1195803",
        archives=(
            Archive(
                "unipen-CDROM-train_r01_v07.tgz",
                (
                    "https://zenodo.org/records/1195803/files/unipen-CDROM-train_r01_v07.tgz"
                    "?download=1",
                    "https://zenodo.org/api/records/1195803/files/unipen-CDROM-train_r01_v07.tgz"
                    "/content",
                ),
                sha256=None,
                max_bytes=400 << 20,
            ),
        ),
        licence="research use; no distribution for commercial purposes (iUF notice in the release)",
    ),
    "uji": Release(
        key="uji",
        title="UJI Pen Characters (Version 2), UCI Machine Learning Repository",
        page="https://archive.ics.uci.edu/dataset/177/uji+pen+characters+version+2",
        archives=(
            Archive(
                "uji+pen+characters+version+2.zip",
                ("https://archive.ics.uci.edu/static/public/177/uji+pen+characters+version+2.zip",),
                sha256="0881b522911b99d9922820289441b50fd3d307f71cd7f9cc70e86872424a5f90",
                max_bytes=16 << 20,
                sha256_source="stated by a third-party project's download script; not verified "
                "against a download here",
            ),
            Archive(
                "ujipenchars2.txt",
                (
                    "https://archive.ics.uci.edu/ml/machine-learning-databases/uji-penchars/"
                    "version2/ujipenchars2.txt",
                ),
                sha256=None,
                max_bytes=64 << 20,
            ),
        ),
        licence="CC BY 4.0",
    ),
}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mnist-edge" / "drawn-sources"


def manual_hint(releases: list[Release]) -> str:
    wanted = "; ".join(f"{r.archives[0].name} from {r.page}" for r in releases)
    return (
        f"fetch {wanted} by hand, put them in one folder DIR and run "
        "'mnist-edge data drawn --from-dir DIR'"
    )


def locate(release: Release, from_dir: Path | None, *, download: bool) -> tuple[Path, Archive]:
    """The archive of ``release`` to read, downloading it into the cache when allowed."""
    if from_dir is not None:
        for archive in release.archives:
            if (from_dir / archive.name).exists():
                return from_dir / archive.name, archive
        names = " or ".join(a.name for a in release.archives)
        raise MissingArchive(f"{names} not found in {from_dir}")
    cache = cache_dir()
    for archive in release.archives:
        if (cache / archive.name).is_file():
            return cache / archive.name, archive
    if not download:
        raise MissingArchive(
            f"{release.archives[0].name} not found in {cache} and --no-download was given"
        )
    return download_archive(release, cache), release.archives[0]


def mirrors() -> list[str] | None:
    env = os.environ.get(ENV_MIRRORS)
    if env is None:
        return None
    urls = [u.strip() for u in env.split(",") if u.strip()]
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
            raise FetchError(
                f"{ENV_MIRRORS} entry {url!r} is not an http:// or https:// URL with a host; "
                f"set {ENV_MIRRORS} to comma-separated base URLs or unset it"
            )
    if not urls:
        raise FetchError(f"{ENV_MIRRORS}={env!r} names no URL; set base URLs or unset it")
    return [u if u.endswith("/") else u + "/" for u in urls]


def _urls(archive: Archive) -> list[str]:
    bases = mirrors()
    if bases is None:
        return list(archive.urls)
    return [base + urllib.parse.quote(archive.name) for base in bases]


def timeout() -> float:
    value = os.environ.get(ENV_TIMEOUT, "").strip()
    if not value:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not (seconds > 0 and seconds != float("inf")):
        raise FetchError(f"{ENV_TIMEOUT}={value!r} is not a positive number of seconds")
    return seconds


def download_archive(release: Release, directory: Path) -> Path:
    """Download the first archive of ``release`` into ``directory``: verified, atomic."""
    archive = release.archives[0]
    urls = _urls(archive)
    seconds = timeout()
    deadline = Deadline(time.monotonic() + seconds, seconds)
    target = directory / archive.name
    created = [p for p in [directory, *directory.parents] if not p.exists()]
    try:
        return _download(urls, target, archive, deadline)
    finally:
        for folder in created:  # a failed download leaves no empty cache folders behind
            with contextlib.suppress(OSError):
                folder.rmdir()


def _download(urls: list[str], target: Path, archive: Archive, deadline: Deadline) -> Path:
    errors = []
    for url in urls:
        try:
            deadline.check()
            with atomic_path(target) as tmp:
                digest = stream(
                    url,
                    tmp,
                    archive.max_bytes,
                    deadline,
                    stall=STALL_TIMEOUT,
                    why=f"more than {archive.name} has",
                )
                check_sha256(archive, digest, url)
            return target
        except FetchError:
            raise  # a wrong SHA-256: another mirror serving other bytes is no cure
        except UserError as exc:  # the network's errors, one line each
            errors.append(f"{url}: {exc}")
        except OSError as exc:
            raise FetchError(
                f"cannot write {target}: {exc.strerror or exc}; free some space or set "
                "XDG_CACHE_HOME to a writable folder"
            ) from None
    raise MissingArchive(f"could not download {archive.name} ({'; '.join(errors)})")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open_regular(path, "archive", FetchError) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(archive: Archive, seen: str, where: str | Path) -> None:
    if archive.sha256 is not None and seen != archive.sha256:
        raise FetchError(
            f"{where}: SHA-256 {seen} is not the expected {archive.sha256} of {archive.name}; "
            "the file is damaged or another release: nothing was written"
        )
