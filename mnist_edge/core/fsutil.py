"""Atomic file writes and output-directory checks, so a failure never leaves half a file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnist_edge.core.errors import UserError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The block fails by raising: a ``return`` inside it counts as success and publishes the file.
    The temporary name keeps the target's suffix, so tools that dispatch on it still work.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f"{TMP_PREFIX}{target.stem}.", suffix=target.suffix, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; publish with normal rights
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


TMP_PREFIX = ".mnist-edge-tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays, Paths: everything the metrics contain.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


LOCK_FILE = ".mnist-edge.lock"


def _check_out_dir(out: Path, *, force: bool, what: str) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"{what} path {out} exists and is not a directory; choose another --out")
    if out.is_dir() and not force and any(p.name != LOCK_FILE for p in out.iterdir()):
        raise UserError(
            f"{what} directory {out} already exists and is not empty; "
            "choose another --out or pass --force to overwrite"
        )


@contextlib.contextmanager
def output_dir(
    path: str | os.PathLike[str], *, force: bool, what: str = "output", keep_existing: bool = False
) -> Iterator[Path]:
    """The one way a job claims its output folder, for the whole time it writes there.

    Refuses an existing non-empty folder unless ``force`` (nothing is deleted: each artifact is
    replaced atomically as it is written), takes an exclusive lock so two runs never write into
    one folder, removes temporary files a killed run left behind, and removes the folder again
    if the job fails before writing anything into it.
    """
    out = Path(path)
    if not keep_existing:
        _check_out_dir(out, force=force, what=what)
    created = [p for p in [out, *out.parents] if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = open(out / LOCK_FILE, "a+b")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        _remove_empty(created)
        raise UserError(
            f"cannot write to {what} directory {out}: {exc.strerror or exc}; "
            "choose a writable --out"
        ) from None
    try:
        import fcntl

        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # pragma: no cover - Windows: no advisory locks, best effort
        pass
    except OSError:
        lock.close()
        raise UserError(
            f"another mnist-edge run is writing into {out}; wait for it to "
            "finish or choose another --out"
        ) from None
    try:
        for stale in out.glob(f"{TMP_PREFIX}*"):  # a killed run's half-written files
            with contextlib.suppress(OSError):
                stale.unlink()
        yield out
    finally:
        with contextlib.suppress(OSError):
            (out / LOCK_FILE).unlink()
        lock.close()
        _remove_empty(created)  # only folders this run created and left empty


def check_writable_file(flag: str, path: str | os.PathLike[str]) -> Path:
    """Fail early, with one line, if ``path`` cannot be written as a file (before any work whose
    result would then be lost)."""
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{flag} {target} is a folder; name a file")
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{flag} {target}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise UserError(f"{flag} {target}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UserError(f"{flag} {target}: cannot write there; choose a writable path")
    return target


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders this run created, deepest first, if they are still empty."""
    for folder in created:
        with contextlib.suppress(OSError):
            folder.rmdir()


def is_temporary(path: Path) -> bool:
    """A file an atomic write has not published (never a model, never a result)."""
    return path.name.startswith(TMP_PREFIX) or path.name == LOCK_FILE


def sha256_file(path: str | os.PathLike[str]) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
