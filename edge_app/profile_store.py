"""A profile on disk for the learner: one file per profile *and model* (named by the model's
SHA-256, which the file also records), so a profile is never applied to another model.
Writes are atomic and locked: each save re-reads the file under a lock and merges what another
app on the same profile saved meanwhile (every correction has an id), so two apps lose nothing.
An unreadable, newer or non-regular file is left alone (the app learns in memory and says so);
only a damaged file is set aside, under a name of its own, and learning starts fresh.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path
from mnist_edge.edge_app.profile_files import (
    IN_MEMORY,
    LOCK_WAIT,
    MAX_FILE_BYTES,
    PROFILE_VERSION,
    Busy,
    Damaged,
    LeftAlone,
    NewerProfile,
    ProfileError,
    Stored,
    check_name,
    fcntl,
    file_sig,
    kind_of,
    parse_profile,
    profiles_dir,
    read_at_most,
    why,
)


class ProfileStore:
    """The persistence half of :class:`~mnist_edge.edge_app.learn.Learner`: it reads, merges
    and writes the corrections the learner holds (its arrays, ids and ``_select``)."""

    model_sha256: str
    dim: int
    path: Path | None
    capacity: int
    ids: np.ndarray
    labels: np.ndarray
    used: np.ndarray
    undo_stack: list[int]
    writable: bool
    why_not: str | None
    unsaved: bool
    _base: set[int]
    _sig: tuple[int, ...] | None
    _vectors: np.ndarray
    _matrix: np.ndarray

    def _select(self, keep: np.ndarray) -> None:  # the learner's
        raise NotImplementedError

    @classmethod
    def open(
        cls, name: str, model_sha256: str, dim: int, directory: Path | None = None
    ) -> tuple[Self, str | None]:
        """The profile ``name`` for this model, and a message if it could not be loaded."""
        path = (directory or profiles_dir()) / check_name(name) / f"{model_sha256[:16]}.npz"
        learner = cls(model_sha256, dim, path)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(learner._locked())
                unlocked = None
            except Busy:
                unlocked = "another mnist-edge app keeps it locked"
            except OSError as exc:  # no folder yet, or a read-only one: reading is still safe
                unlocked = f"it cannot be locked ({why(exc)})"  # (saves are atomic renames)
            return learner, learner._load(unlocked)

    def _in_memory(self, note: str, why: str) -> str:
        self.writable, self.why_not = False, why
        return f"{note}; {IN_MEMORY}"

    def _load(self, unlocked: str | None) -> str | None:
        """Read the file (under the lock unless ``unlocked`` says why not); the note for it."""
        assert self.path is not None
        try:
            stored = self._read()
        except NewerProfile as exc:
            self.writable, self.why_not = False, "it was written by a newer mnist-edge (upgrade)"
            return str(exc)
        except LeftAlone as exc:
            return self._in_memory(f"profile {self.path}: {exc}; it is left alone", str(exc))
        except Damaged as exc:
            kept = self._set_aside(exc.ident) if unlocked is None else unlocked
            if isinstance(kept, Path):
                return f"profile {self.path}: {exc}; starting fresh (the file is kept as {kept})"
            return self._in_memory(
                f"profile {self.path}: {exc}; it is kept as it is ({kept})", str(exc)
            )
        if stored is None:
            return self._missing()
        self._adopt(stored)
        return None

    def _missing(self) -> str | None:
        """No profile file: say if a dangling link stands there or other models' files do."""
        assert self.path is not None
        try:
            target = os.readlink(self.path)  # only a link has one: this one leads nowhere
        except OSError:
            target = None
        if target is not None:  # replacing it would write where the user did not choose
            return self._in_memory(
                f"profile {self.path} is a link to {target}, which does not exist; "
                "it is left alone",
                "it is a link to a file that does not exist",
            )
        try:
            with os.scandir(self.path.parent) as entries:  # names only: nothing is opened
                others = any(
                    e.name.endswith(".npz") and not e.name.startswith(".") and e.is_file()
                    for e in entries
                )
        except OSError:
            others = False
        if others:
            return (
                f"profile {self.path.parent.name!r} has corrections for another model (kept); "
                "learning starts fresh for this one"
            )
        return None

    def _read(self) -> Stored | None:
        """The profile file's corrections; None if there is none. Never blocks: opened
        non-blocking, refused unless ``fstat`` says regular file, read to the cap only."""
        assert self.path is not None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LeftAlone(f"it cannot be read ({why(exc)})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise LeftAlone(f"it is {kind_of(st.st_mode)}, not a profile file")
            data = read_at_most(fd, MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise LeftAlone(f"it cannot be read ({why(exc)})") from None
        finally:
            os.close(fd)
        ident = (st.st_dev, st.st_ino)
        if len(data) > MAX_FILE_BYTES:
            raise Damaged("it is too large to be a profile", ident)
        try:
            return parse_profile(data, file_sig(st), self.path, self.model_sha256, self.dim)
        except NewerProfile:
            raise
        except ProfileError as exc:
            raise Damaged(str(exc), ident) from None

    def _adopt(self, stored: Stored) -> None:
        self.vectors, self.labels, self.used, self.ids = (
            stored.vectors,
            stored.labels,
            stored.used,
            stored.ids,
        )
        self._base, self._sig = set(stored.ids.tolist()), stored.sig
        self._trim()

    def _set_aside(self, ident: tuple[int, int]) -> Path | str:
        """Move a damaged file to a name of its own (under the lock); else why it stays."""
        assert self.path is not None
        try:
            now = os.stat(self.path, follow_symlinks=False)
            if stat.S_ISLNK(now.st_mode):
                return "it is reached through a link, which stays as it is"
            if (now.st_dev, now.st_ino) != ident:
                return "it changed while being read"
            stem = f"{self.path.stem}.broken-{int(time.time())}"
            for n in range(100):
                kept = self.path.with_name(stem if n == 0 else f"{stem}-{n}")
                try:  # a link never replaces an existing name, as a rename would
                    os.link(self.path, kept, follow_symlinks=False)
                except FileExistsError:
                    continue
                except OSError:  # no hard links here (a FAT card): rename onto a free name
                    if os.path.lexists(kept):
                        continue
                    os.rename(self.path, kept)
                    return kept
                os.unlink(self.path)
                return kept
        except OSError as exc:
            return why(exc)
        return "too many damaged copies are kept already"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold ``.<file>.lock`` beside the profile: one app's read-merge-write at a time.

        Raises OSError if the lock file cannot be made, Busy if another app keeps it."""
        assert self.path is not None
        if fcntl is None:  # pragma: no cover
            yield
            return
        lock = self.path.parent / f".{self.path.name}.lock"
        flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            if time.monotonic() > deadline:
                raise Busy
            fd = os.open(lock, flags, 0o600)
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise OSError(0, f"its lock file {lock} is {kind_of(st.st_mode)}")
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    time.sleep(0.01)
                    continue
                # The holder removes the file as it lets go: a lock on that inode locks nothing.
                try:
                    here = os.stat(lock, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if (here.st_dev, here.st_ino) != (st.st_dev, st.st_ino):
                    continue
                try:
                    yield
                finally:
                    with contextlib.suppress(OSError):
                        os.unlink(lock)  # before unlocking (close): see the inode check above
                return
            finally:
                os.close(fd)

    def _merge(self, disk: Stored | None) -> None:
        """Take in what another app saved since this one last read or wrote the file: its new
        corrections join, the ones it removed (undo, reset, trim) go, and so do ours."""
        if disk is None:  # no file (removed by hand): what this app holds is the profile
            return
        ours = set(self.ids.tolist())
        gone_here = np.array(sorted(self._base - ours), np.int64)
        gone_there = np.array(sorted(self._base - set(disk.ids.tolist())), np.int64)
        self._select(~np.isin(self.ids, gone_there))
        both = np.isin(disk.ids, self.ids)
        order = np.argsort(self.ids)
        at = order[np.searchsorted(self.ids, disk.ids[both], sorter=order)]
        self.used[at] = np.maximum(self.used[at], disk.used[both])
        new = ~both & ~np.isin(disk.ids, gone_here)
        self.vectors = np.concatenate([self._vectors, disk.vectors[new]])
        self.labels = np.concatenate([self.labels, disk.labels[new]])
        self.used = np.concatenate([self.used, disk.used[new]])
        self.ids = np.concatenate([self.ids, disk.ids[new]])
        self._trim()

    def _write(self, reset: bool = False) -> str | None:
        """Merge with the file (a reset: forget it) and replace it atomically; why it could not
        be, if so."""
        assert self.path is not None
        if not self.writable:
            return self.why_not or "the profile is in memory only"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked():
                try:
                    unchanged = file_sig(os.stat(self.path)) == self._sig
                except OSError:
                    unchanged = False
                if not unchanged:  # another app saved, or something else stands there
                    try:
                        disk = self._read()  # read even for a reset: never over a newer file
                        if not reset:
                            self._merge(disk)
                    except NewerProfile:
                        self.writable = False
                        self.why_not = "a newer mnist-edge has written it since (upgrade)"
                        return self.why_not
                    except LeftAlone as exc:
                        return str(exc)
                    except Damaged as exc:
                        kept = self._set_aside(exc.ident)
                        if not isinstance(kept, Path):
                            return f"{exc}, and it is kept as it is: {kept}"
                self._replace()
        except Busy:
            return "another mnist-edge app keeps it locked"
        except (OSError, UserError) as exc:
            return why(exc)
        return None

    def _replace(self) -> None:
        assert self.path is not None
        header = {
            "version": PROFILE_VERSION,
            "model_sha256": self.model_sha256,
            "dim": self.dim,
            "count": len(self.labels),
            "saved": time.time(),
        }
        with atomic_path(self.path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                header=np.frombuffer(json.dumps(header).encode(), np.uint8),
                vectors=self.vectors,
                labels=self.labels,
                used=self.used,
                ids=self.ids,
            )
        self._base, self._sig = set(self.ids.tolist()), file_sig(os.stat(self.path))

    def save(self) -> str | None:
        """Write the profile atomically; a message if it could not be written (app goes on)."""
        if self.path is None:
            return None
        why = self._write()
        if why is None:
            self.unsaved = False
            return None
        if not self.writable:
            return f"learning is not saved for this profile this session: {why}"
        return f"cannot save the profile ({why}); this correction lasts until the app closes"

    def close(self) -> str | None:
        """At the app's end: one more try at a save that failed while the app ran (another app
        held the lock, a full disk); a message if the corrections are lost after all."""
        if self.path is None or not self.unsaved or not self.writable:
            return None
        why = self.save()
        return None if why is None else f"corrections of this session are not saved: {why}"

    def reset(self) -> str | None:
        """Forget every correction, on disk too; if the file cannot be reset, nothing is."""
        kept = self._vectors, self._matrix, self.labels, self.used, self.ids, self.undo_stack
        self._select(np.zeros(len(self.labels), bool))
        self.undo_stack = []
        if self.path is None:
            return None
        why = self._write(reset=True)
        if why is None:
            return None
        self._vectors, self._matrix, self.labels, self.used, self.ids, self.undo_stack = kept
        return f"profile {self.path} could not be reset ({why}); its corrections are kept"
