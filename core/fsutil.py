"""Safe file I/O: atomic writes, capped reads of user files, locks and output-folder claims.

Every file a user names goes through here: writes never land on anything but a regular file (a
device node, FIFO or folder at the target is refused; a symlink is followed to its target),
reads never block on a FIFO or run past a cap on a device, and shared files are locked. What a
run may write over at all is :func:`mnist_edge.core.outputs.check_output`'s to say.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mnist_edge.core.errors import UserError
from mnist_edge.core.text import quoted


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The block fails by raising: a ``return`` inside it counts as success and publishes the file.
    The temporary name keeps the target's suffix, so tools that dispatch on it still work.
    """
    target = writable_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _existing_mode(target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f"{TMP_PREFIX}{target.stem}.", suffix=target.suffix, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600: publish with the replaced file's rights, else the usual ones.
        os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


TMP_PREFIX = ".mnist-edge-tmp-"


def _existing_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def writable_target(path: str | os.PathLike[str], flag: str = "output") -> Path:
    """Where a write to ``path`` may land: the path itself, or a symlink's target.

    Refuses anything but a regular file or a new name (a rename onto ``/dev/null`` as root
    would delete the device node), and a symlink to nothing (whose target nobody chose).
    """
    target = Path(path)
    if target.is_symlink():
        resolved = Path(os.path.realpath(target))
        if not resolved.exists():
            raise UserError(
                f"{flag} {target} is a link to {resolved}, which does not exist; "
                "name the file itself"
            )
        target = resolved
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise UserError(f"{flag} {target}: {exc.strerror or exc}; choose another path") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{flag} {target} is {_kind(mode)}; name a regular file")
    return target


def open_regular(
    path: str | os.PathLike[str],
    what: str,
    error: type[UserError] = UserError,
    hint: str | None = None,
) -> BinaryIO:
    """Open a user's file for reading: regular files only, and never blocking on a FIFO (which
    ``open`` would, until a writer comes) or reading a device (whose ``st_size`` is 0)."""
    name = Path(path)
    if "\0" in str(name):  # os.open would raise a bare ValueError
        raise error(
            f"{what} {quoted(str(name))} has a NUL byte in its name; {hint or 'check the path'}"
        )
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if name.is_symlink():
            raise error(
                f"{what} {name} is a link to {os.path.realpath(name)}, which does not exist; "
                f"{hint or 'check the path'}"
            ) from None
        raise error(f"{what} {name} not found; {hint or 'check the path'}") from None
    except IsADirectoryError:
        raise error(f"{what} {name} is a folder; {hint or 'pass a regular file'}") from None
    except PermissionError as exc:
        raise error(f"cannot read {what} {name}: {exc.strerror}; make it readable") from None
    except OSError as exc:
        raise error(f"cannot read {what} {name}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{what} {name} is {_kind(mode)}; {hint or 'pass a regular file'}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(
    path: str | os.PathLike[str],
    what: str,
    error: type[UserError] = UserError,
    hint: str | None = None,
) -> Path:
    """For a file a library opens itself (Keras): what :func:`open_regular` would refuse is
    refused here, before the library can block on a FIFO or read a device."""
    open_regular(path, what, error, hint).close()
    return Path(path)


def read_capped(
    path: str | os.PathLike[str],
    limit: int,
    what: str,
    error: type[UserError] = UserError,
    hint: str | None = None,
) -> bytes:
    """The one reader of small user files: :func:`open_regular`, then at most ``limit`` bytes
    (``limit + 1`` are read, so a larger file is refused, never cut)."""
    with open_regular(path, what, error, hint) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise error(
            f"{what} {path} is larger than {_size_text(limit)}, more than such a file can be; "
            "check the path"
        )
    return data


def _size_text(limit: int) -> str:
    return f"{limit >> 20} MB" if limit >= 1 << 20 else f"{limit >> 10} KB"


class FileLock:
    """An exclusive advisory lock on ``<dir>/.<name>.lock``, held until :meth:`release`.

    Refuses at once (``LOCK_NB``) when another process holds it: two writers of one shared file
    (a collection, a recording) never interleave. The lock file is removed on release; a
    process that locked the name just before that re-checks the inode and tries again.
    """

    def __init__(self, path: str | os.PathLike[str], busy: str) -> None:
        target = Path(path)
        self.path = target.parent / f".{target.name}.lock"
        self._busy = busy
        self._fh: Any = None

    def acquire(self) -> FileLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks, best effort
            return self
        for _ in range(10):
            try:
                fh = open(self.path, "a+b")  # noqa: SIM115 - held until release()
            except OSError as exc:
                raise UserError(
                    f"cannot lock {self.path}: {exc.strerror or exc}; choose a writable folder"
                ) from None
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                raise UserError(self._busy) from None
            try:
                same = os.fstat(fh.fileno()).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fh = fh
                return self
            fh.close()  # locked a file its holder had just removed: lock the new one
        raise UserError(self._busy)

    def release(self) -> None:
        if self._fh is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._fh.close()
        self._fh = None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


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


def check_out_dir(out: Path, *, force: bool, what: str) -> None:
    """What :func:`output_dir` refuses, checked on its own: a job calls it before any slow
    start (TensorFlow) so a bad ``--out`` fails in the first second."""
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
        check_out_dir(out, force=force, what=what)
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
    target = writable_target(path, flag)
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
