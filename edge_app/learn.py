"""On-device learning: the app learns its user's handwriting from corrections, in numpy.

When a reading is wrong, the person taps the right digit; the drawing's embedding (the
features the model's classifier reads, a second output of every exported model) and the label
are stored in a **profile**. Later readings look for stored corrections that are close in
embedding space (cosine similarity of at least ``threshold``) and add their votes to the
model's log-probabilities, weighted by how close they are, so a writer's own looped 4 pulls
the next looped 4 towards 4 while an ordinary 9 is left alone.

Profiles live under the user's data folder, one file per profile *and model* (named by the
model's SHA-256, which the file also records), so a profile is never applied to another model.
Writes are atomic and locked: each save re-reads the file under a lock and merges what another
app on the same profile saved meanwhile (every correction has an id), so two apps lose nothing.
Size is bounded (least recently useful corrections go first). Reading is hostile-file safe: a
FIFO, device or folder is never opened for reading, at most 16 MB is read and every array's
inflated size, type and values are checked first. An unreadable, newer or non-regular file is
left alone (the app learns in memory and says so); only a damaged file is set aside, under a
name of its own, and learning starts fresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import stat
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, best effort
    fcntl = None  # type: ignore[assignment]

PROFILE_VERSION = 1
MAX_CORRECTIONS = 500  # per profile and model; ~0.6 MB at 576 float16 features
MAX_FILE_BYTES = 16 << 20  # read from disk, compressed
MAX_STORED = MAX_CORRECTIONS * 4  # more than any version keeps: a file with more is damaged
MAX_HEADER_BYTES = 64 << 10
MAX_MEMBERS = 16  # a zip's directory is parsed whole: a million empty entries cost ~0.5 GB
NPY_HEADER = 1 << 16  # room for an npy header on top of the data in a member's inflated size
UNIT_TOLERANCE = 0.01  # float16 storage keeps a unit vector's norm within ~1e-3
LOCK_WAIT = 1.0  # seconds to wait for another app's save (which takes milliseconds)
SIMILARITY = 0.70  # cosine similarity from which a stored correction counts
STRENGTH = 12.0  # log-probability added by an identical correction
POWER = 2.0  # how fast a correction's weight falls from identical to the threshold
FLOOR = 1 / 512  # probabilities below it count as it: an int8 model's 0 means "< 1/256"
# Chosen on unipen-train's writers with the MNIST-only model (benchmarks/learning.py): the largest
# gain with no writer losing a sample and at most 0.05 points lost on MNIST read as one writer.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # whole name: fullmatch, never match
ENV_DATA = "MNIST_EDGE_PROFILES"
IN_MEMORY = "corrections last until this app closes"


class ProfileError(UserError):
    """A profile that cannot be used (the app says so and goes on without learning)."""


class NewerProfile(ProfileError):
    """A profile written by a newer version: used read-only, never overwritten."""


class _LeftAlone(ProfileError):
    """Not a file this app may read or replace (unreadable, a FIFO, a device, a folder)."""


class _Damaged(ProfileError):
    """A regular file that is not a valid profile: set aside, learning starts fresh."""

    def __init__(self, reason: str, ident: tuple[int, int]) -> None:
        super().__init__(reason)
        self.ident = ident  # (st_dev, st_ino) of what was read: only that file is set aside


class _Busy(Exception):
    """Another app holds the profile's lock for longer than a save takes."""


def profiles_dir() -> Path:
    """$MNIST_EDGE_PROFILES, else $XDG_DATA_HOME/mnist-edge/profiles (~/.local/share/...)."""
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "mnist-edge" / "profiles"


def check_name(name: str) -> str:
    # fullmatch: with match, "$" also matches before a trailing newline.
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ProfileError(
            f"profile name {name!r} must be 1-64 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Adjusted:
    """A reading after learning: the probabilities shown, and whether learning changed it."""

    probabilities: np.ndarray
    changed: bool  # the winning digit differs from the model's own
    votes: int  # stored corrections that took part


@dataclass(frozen=True)
class _Stored:
    """A profile file's corrections, every field checked, and which version of the file."""

    vectors: np.ndarray
    labels: np.ndarray
    used: np.ndarray
    ids: np.ndarray
    sig: tuple[int, ...]


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _sig(st: os.stat_result) -> tuple[int, ...]:
    """Which version of a file this is: every save replaces it (a new inode and time)."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _new_id() -> int:
    # Random, not counted: ids from two apps on one profile must never collide in a merge.
    return int.from_bytes(os.urandom(8), "little") >> 2


def _legacy_ids(vectors: np.ndarray, labels: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Ids for a file written before ids were stored: the same file gives every app the same
    ids, so two apps that loaded it merge their saves instead of doubling its corrections."""
    ids = []
    for i in range(len(labels)):
        h = hashlib.blake2b(i.to_bytes(4, "little"), digest_size=8)
        for part in (vectors[i], labels[i : i + 1], used[i : i + 1]):
            h.update(part.tobytes())
        ids.append(int.from_bytes(h.digest(), "little") >> 2)
    return np.array(ids, np.int64)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _member(zf: zipfile.ZipFile, name: str, kinds: str, ndim: int, max_items: int) -> np.ndarray:
    """One array of the npz, its inflated size, dtype and shape checked before it is inflated:
    a 1 MB file can inflate to gigabytes, and an npy header can claim any shape."""
    try:
        info = zf.getinfo(f"{name}.npy")
    except KeyError:
        raise ProfileError(f"it has no {name}") from None
    if info.file_size > max_items * 8 + NPY_HEADER:
        raise ProfileError(f"its {name} inflates to {info.file_size} bytes, too many for a profile")
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    with zf.open(info) as fp:
        reader = readers.get(np.lib.format.read_magic(fp))
        if reader is None:
            raise ProfileError(f"its {name} is in an unknown format")
        shape, _, dtype = reader(fp)
    if (
        dtype.hasobject
        or dtype.kind not in kinds
        or dtype.itemsize > 8
        or len(shape) != ndim
        or math.prod(shape) > max_items
    ):
        raise ProfileError(f"its {name} has the wrong type or shape ({dtype.str} {shape})")
    with zf.open(info) as fp:
        return np.lib.format.read_array(fp, allow_pickle=False)


def _header(raw: np.ndarray) -> dict[str, object]:
    if raw.dtype != np.uint8:
        raise ProfileError("its header has the wrong type")
    try:  # NaN and Infinity are not JSON: refused rather than read as floats
        header = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ProfileError("its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ProfileError("it has no valid header")
    return header


def _no_constant(name: str) -> None:
    raise ValueError(name)


def _count(value: object) -> int | None:
    """A non-negative JSON integer, else None (bool is an int subclass: True is no count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class Learner:
    """Corrections for one model, in memory, persisted to ``path`` (None: memory only)."""

    def __init__(
        self,
        model_sha256: str,
        dim: int,
        path: Path | None = None,
        capacity: int = MAX_CORRECTIONS,
        similarity: float = SIMILARITY,
        strength: float = STRENGTH,
        power: float = POWER,
    ) -> None:
        self.model_sha256, self.dim, self.path = model_sha256, dim, path
        self.capacity, self.similarity, self.strength = capacity, similarity, strength
        self.power = power
        self._vectors = np.zeros((0, dim), np.float16)  # L2-normalized embeddings, as stored
        self._matrix = np.zeros((0, dim), np.float32)  # the same in float32, for reading
        self.ids = np.zeros(0, np.int64)  # stable per correction: for undo and for merging
        self.labels = np.zeros(0, np.uint8)
        self.used = np.zeros(0, np.float64)  # last time each correction took part (or was made)
        self.undo_stack: list[int] = []
        self.writable = path is not None
        self.why_not: str | None = None  # why the profile is in memory only, when it is
        self._base: set[int] = set()  # the ids the file held when this app last read or wrote it
        self._sig: tuple[int, ...] | None = None  # which version of the file that was
        self.unsaved = False  # a correction or undo that no save has written yet

    # ----------------------------------------------------------------- persistence

    @classmethod
    def open(
        cls, name: str, model_sha256: str, dim: int, directory: Path | None = None
    ) -> tuple[Learner, str | None]:
        """The profile ``name`` for this model, and a message if it could not be loaded."""
        path = (directory or profiles_dir()) / check_name(name) / f"{model_sha256[:16]}.npz"
        learner = cls(model_sha256, dim, path)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(learner._locked())
                unlocked = None
            except _Busy:
                unlocked = "another mnist-edge app keeps it locked"
            except OSError as exc:  # no folder yet, or a read-only one: reading is still safe
                unlocked = f"it cannot be locked ({_why(exc)})"  # (saves are atomic renames)
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
        except _LeftAlone as exc:
            return self._in_memory(f"profile {self.path}: {exc}; it is left alone", str(exc))
        except _Damaged as exc:
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

    def _read(self) -> _Stored | None:
        """The profile file's corrections; None if there is none. Never blocks: opened
        non-blocking, refused unless ``fstat`` says regular file, read to the cap only."""
        assert self.path is not None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _LeftAlone(f"it cannot be read ({_why(exc)})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _LeftAlone(f"it is {_kind(st.st_mode)}, not a profile file")
            data = _read_at_most(fd, MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise _LeftAlone(f"it cannot be read ({_why(exc)})") from None
        finally:
            os.close(fd)
        ident = (st.st_dev, st.st_ino)
        if len(data) > MAX_FILE_BYTES:
            raise _Damaged("it is too large to be a profile", ident)
        try:
            return self._parse(data, _sig(st))
        except NewerProfile:
            raise
        except ProfileError as exc:
            raise _Damaged(str(exc), ident) from None

    def _parse(self, data: bytes, sig: tuple[int, ...]) -> _Stored:
        """Every field checked (type, shape, dtype, range); a ProfileError says which is bad."""
        end = data.rfind(b"PK\x05\x06")  # the zip's end record: its entry count, before parsing
        if end >= 0 and int.from_bytes(data[end + 10 : end + 12], "little") > MAX_MEMBERS:
            raise ProfileError("it has too many entries to be a profile")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                header = _header(_member(zf, "header", "u", 1, MAX_HEADER_BYTES))
                self._check_header(header)  # first: a newer version may store other arrays
                vectors = _member(zf, "vectors", "f", 2, MAX_STORED * self.dim)
                labels = _member(zf, "labels", "iu", 1, MAX_STORED)
                used = _member(zf, "used", "fiu", 1, MAX_STORED)
                has_ids = "ids.npy" in zf.namelist()
                ids = _member(zf, "ids", "i", 1, MAX_STORED) if has_ids else None
        except ProfileError:
            raise
        except Exception as exc:  # zip, npy and I/O errors alike: a broken file
            raise ProfileError(f"it is unreadable ({type(exc).__name__})") from None
        n = len(labels)
        if (
            vectors.shape != (n, self.dim)
            or used.shape != (n,)
            or (ids is not None and ids.shape != (n,))
            or header.get("count", n) != n
        ):
            raise ProfileError("it is inconsistent (its arrays differ in length or width)")
        if n and (labels.min() < 0 or labels.max() > 9):
            raise ProfileError("it has labels outside 0-9")
        unit = vectors.astype(np.float32)
        norms = np.linalg.norm(unit, axis=1)
        if not np.all(np.isfinite(unit)) or np.any(np.abs(norms - 1) > UNIT_TOLERANCE):
            raise ProfileError("it has vectors that are not finite unit vectors")
        used = used.astype(np.float64)
        if not np.all(np.isfinite(used)) or np.any(used < 0):
            raise ProfileError("it has usage times that are not finite and non-negative")
        vectors, labels = unit.astype(np.float16), labels.astype(np.uint8)
        if ids is None:
            ids = _legacy_ids(vectors, labels, used)
        if len(np.unique(ids)) != n:
            raise ProfileError("it has repeated correction ids")
        return _Stored(vectors, labels, used, ids.astype(np.int64), sig)

    def _check_header(self, header: dict[str, object]) -> None:
        version = _count(header.get("version"))
        if version is None or version < 1:
            raise ProfileError(
                f"its version is not a version number ({header.get('version')!r:.40})"
            )
        if version > PROFILE_VERSION:
            raise NewerProfile(
                f"profile {self.path} was written by a newer mnist-edge; "
                "learning works this session but is not saved (upgrade)"
            )
        if header.get("model_sha256") != self.model_sha256:
            raise ProfileError("it belongs to another model")
        for key in ("dim", "count"):
            if key in header and _count(header[key]) is None:
                raise ProfileError(f"its {key} is not a count ({header[key]!r:.40})")
        if header.get("dim", self.dim) != self.dim:
            raise ProfileError("it was made for features of another width")
        saved = header.get("saved", 0.0)
        if (
            isinstance(saved, bool)
            or not isinstance(saved, (int, float))
            or not math.isfinite(saved)
        ):
            raise ProfileError(f"its save time is not a time ({saved!r:.40})")

    def _adopt(self, stored: _Stored) -> None:
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
            return _why(exc)
        return "too many damaged copies are kept already"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold ``.<file>.lock`` beside the profile: one app's read-merge-write at a time.

        Raises OSError if the lock file cannot be made, _Busy if another app keeps it."""
        assert self.path is not None
        if fcntl is None:  # pragma: no cover
            yield
            return
        lock = self.path.parent / f".{self.path.name}.lock"
        flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            if time.monotonic() > deadline:
                raise _Busy
            fd = os.open(lock, flags, 0o600)
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise OSError(0, f"its lock file {lock} is {_kind(st.st_mode)}")
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

    def _merge(self, disk: _Stored | None) -> None:
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
                    unchanged = _sig(os.stat(self.path)) == self._sig
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
                    except _LeftAlone as exc:
                        return str(exc)
                    except _Damaged as exc:
                        kept = self._set_aside(exc.ident)
                        if not isinstance(kept, Path):
                            return f"{exc}, and it is kept as it is: {kept}"
                self._replace()
        except _Busy:
            return "another mnist-edge app keeps it locked"
        except (OSError, UserError) as exc:
            return _why(exc)
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
        self._base, self._sig = set(self.ids.tolist()), _sig(os.stat(self.path))

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

    # ----------------------------------------------------------------- learning

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    @vectors.setter
    def vectors(self, value: np.ndarray) -> None:
        # Converted once here, not on every reading: with 500 corrections a per-read float16
        # -> float32 conversion alone costs ~1 ms.
        self._vectors = value.astype(np.float16)
        self._matrix = self._vectors.astype(np.float32)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def bytes_per_correction(self) -> int:
        return self.dim * 2 + 1 + 8

    @staticmethod
    def _unit(embedding: np.ndarray) -> np.ndarray | None:
        e = np.asarray(embedding, np.float32).ravel()
        norm = float(np.linalg.norm(e))
        return e / norm if np.isfinite(norm) and norm > 1e-6 else None

    def _select(self, keep: np.ndarray) -> None:
        """Keep these corrections (a mask or sorted indices) in every array at once."""
        self._vectors, self._matrix = self._vectors[keep], self._matrix[keep]
        self.labels, self.used, self.ids = self.labels[keep], self.used[keep], self.ids[keep]

    def add(self, embedding: np.ndarray, label: int) -> bool:
        """Store one correction; False if the embedding is unusable (blank drawing)."""
        unit = self._unit(embedding)
        if unit is None or unit.shape[0] != self.dim or not 0 <= label <= 9:
            return False
        stored = unit[None].astype(np.float16)
        self._vectors = np.concatenate([self._vectors, stored])
        self._matrix = np.concatenate([self._matrix, stored.astype(np.float32)])
        self.labels = np.append(self.labels, np.uint8(label))
        self.used = np.append(self.used, time.time())
        new_id = _new_id()
        self.ids = np.append(self.ids, np.int64(new_id))
        self.undo_stack.append(new_id)
        self._trim()
        self.unsaved = True
        return True

    def undo(self) -> bool:
        """Remove the last correction made this session (if it is still stored)."""
        while self.undo_stack:
            found = np.flatnonzero(self.ids == self.undo_stack.pop())
            if found.size:
                self._select(self.ids != self.ids[found[0]])
                self.unsaved = True
                return True
        return False

    def _trim(self) -> None:
        """Over capacity: drop the corrections that have gone longest without helping."""
        excess = len(self.labels) - self.capacity
        if excess > 0:
            self._select(np.sort(np.argsort(self.used, kind="stable")[excess:]))

    def adjust(self, probabilities: np.ndarray, embedding: np.ndarray | None) -> Adjusted:
        """The model's probabilities combined with the stored corrections close to this one."""
        p = np.asarray(probabilities, np.float64)
        unit = None if embedding is None or not len(self.labels) else self._unit(embedding)
        if unit is None or unit.shape[0] != self.dim:
            return Adjusted(probabilities, False, 0)
        similarity = self._matrix @ unit
        close = similarity >= self.similarity
        if not close.any():
            return Adjusted(probabilities, False, 0)
        # 0 at the threshold, 1 for the same drawing; the power keeps borderline neighbours weak.
        weight = ((similarity[close] - self.similarity) / (1.0 - self.similarity)) ** self.power
        votes = np.zeros(10)
        np.add.at(votes, self.labels[close].astype(np.int64), weight)
        logits = np.log(np.clip(p, FLOOR, 1.0)) + self.strength * votes
        q = np.exp(logits - logits.max())
        q /= q.sum()
        self.used[close] = time.time()
        return Adjusted(q.astype(np.float32), int(q.argmax()) != int(p.argmax()), int(close.sum()))
