"""The one check of a file a run writes: never over its own input, never over drawings.

:func:`check_output` runs before any reading or measuring, so a refused output costs nothing;
the write itself is :func:`mnist_edge.core.fsutil.atomic_path` (temporary file + rename).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import check_writable_file, open_regular, write_text_atomic

FORCE_HINT = "choose another path or pass --force to replace it"


def check_output(
    flag: str,
    path: str | os.PathLike[str],
    *,
    inputs: Iterable[tuple[str, str | os.PathLike[str]]] = (),
    force: bool = False,
    strokes: bool = False,
    parents: bool = False,
) -> Path:
    """The one check of a file a run writes, before it reads or measures anything.

    On top of :func:`check_writable_file`: never a file this run reads (``inputs``, flag ->
    path pairs; the same inode under any name or link), never through a symlink onto a labelled
    stroke file, never a labelled stroke file at all unless the run writes one (``strokes``),
    and no existing file unless ``force``. The write itself goes through :func:`atomic_path`
    (which makes missing folders: with ``parents`` a new folder is fine here).
    """
    if parents and not os.path.lexists(path):
        check_new_folders(flag, Path(path))
        return Path(path)
    target = check_writable_file(flag, path)
    for other, source in inputs:
        if _same_file(target, Path(source)):
            raise UserError(
                f"{flag} {path} is also read by this run ({other} {source}); write to another file"
            )
    if not target.exists():
        return target
    if _holds_labelled_strokes(target):
        if Path(path).is_symlink():
            raise UserError(
                f"{flag} {path} is a link to {target}, a file of labelled drawings; "
                "name a new file, not a link to one"
            )
        if not strokes:
            raise UserError(
                f"{flag} {path} is a file of labelled drawings, not a report; choose another path"
            )
    if not force:
        raise UserError(f"{flag} {path} already exists; {FORCE_HINT}")
    return target


def write_output(out: str | os.PathLike[str], text: str, flag: str = "--out") -> None:
    """Write a run's text output atomically; a write that fails after the work (a full disk,
    a path no file can be made at) is one line naming the flag, never a traceback."""
    try:
        write_text_atomic(out, text)
    except OSError as exc:  # the figures were printed; the file is not there
        raise UserError(
            f"cannot write {out}: {exc.strerror or exc}; choose another {flag}"
        ) from None


def check_new_folders(flag: str, path: Path) -> None:
    """A new file in folders that may not exist yet: the nearest existing one must be a
    writable folder (atomic_path makes the rest)."""
    here = path.absolute().parent
    while not here.exists():
        here = here.parent
    if not here.is_dir():
        raise UserError(f"{flag} {path}: {here} is a file, not a folder")
    if not os.access(here, os.W_OK):
        raise UserError(f"{flag} {path}: cannot write in {here}; choose a writable path")


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


STROKES_SNIFF = 1 << 16


def _holds_labelled_strokes(path: Path) -> bool:
    """A replay file with labels, judged by its first 64 KB (core does not parse stroke files:
    a wrong guess only refuses a write, never allows one)."""
    try:
        with open_regular(path, "output") as fh:
            head = fh.read(STROKES_SNIFF)
    except (UserError, OSError):
        return False
    return head.lstrip().startswith(b"{") and b'"strokes"' in head and b'"label"' in head
