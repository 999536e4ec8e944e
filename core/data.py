"""MNIST data layer (numpy only): find the four canonical IDX files, download them, load a split.

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
import numbers
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_edge.core.download import download_file, download_timeout, mirrors
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path
from mnist_edge.core.idx import (
    ALL_FILES,
    ENV_DATA,
    FILES,
    DataError,
    IdxFile,
    candidates,
    find_file,
    load_file,
    looking_into,
)


@dataclass(frozen=True)
class MnistSplit:
    images: np.ndarray  # uint8 [N, 28, 28], ink 255 on 0
    labels: np.ndarray  # uint8 [N]
    checksums: dict[str, str]  # file name -> sha256 of decompressed content

    def __len__(self) -> int:
        return len(self.labels)


# ----------------------------------------------------------------------------- locating


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mnist-edge" / "mnist"


def resolve_data_dir(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    files: tuple[IdxFile, ...] = ALL_FILES,
) -> Path:
    """Return a directory holding ``files`` (default all four), downloading into the cache if
    allowed. A job that reads one split asks for its two files only: the test set alone
    (10,000 digits, 1.6 MB) is enough for ``bench``, ``evaluate`` and ``predict``'s checks."""
    explicit = [(str(data_dir), "--data-dir")] if data_dir else []
    if not explicit and os.environ.get(ENV_DATA):
        explicit = [(os.environ[ENV_DATA], f"${ENV_DATA}")]
    for location, source in explicit:
        directory = Path(location).expanduser()
        with looking_into(directory):
            if directory.exists() and not directory.is_dir():
                raise DataError(
                    f"{directory} (from {source}) is a file, not a folder; point {source} at "
                    "the folder that holds the four IDX files"
                )
        missing = [spec.name for spec in files if find_file(directory, spec) is None]
        if missing:
            what = "four IDX files" if files == ALL_FILES else "MNIST IDX files"
            raise DataError(
                f"MNIST not found in {directory} (from {source}): missing "
                f"{', '.join(missing)} (.gz or raw); point {source} at the folder "
                f"that holds the {what}"
            )
        return directory
    cache = cache_dir()
    missing_specs = [spec for spec in files if find_file(cache, spec) is None]
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
    with looking_into(path):
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
    image_spec, label_spec = FILES[split]
    directory = resolve_data_dir(data_dir, download=download, files=(image_spec, label_spec))
    images, image_sha = load_file(find_file(directory, image_spec), image_spec)  # type: ignore[arg-type]
    labels, label_sha = load_file(find_file(directory, label_spec), label_spec)  # type: ignore[arg-type]
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return MnistSplit(images, labels, {image_spec.name: image_sha, label_spec.name: label_sha})


def check_copy_target(directory: str | os.PathLike[str]) -> Path:
    """Refuse a copy destination that can never work, before anything is loaded or downloaded."""
    dest = Path(directory).expanduser()
    with looking_into(dest):
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
    with looking_into(dest):
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
        for existing in candidates(dest, spec):
            with looking_into(dest):
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
