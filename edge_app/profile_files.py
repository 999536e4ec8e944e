"""A learning profile's file: where profiles live, their names, limits and format, and the
hostile-file-safe reads of one (a FIFO, device or folder is never opened for reading, at most
16 MB is read and every array's inflated size, type and values are checked first).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.text import quoted

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


# Chosen on unipen-train's writers with the MNIST-only model (benchmarks/learning.py): the largest
# gain with no writer losing a sample and at most 0.05 points lost on MNIST read as one writer.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # whole name: fullmatch, never match


ENV_DATA = "MNIST_EDGE_PROFILES"


IN_MEMORY = "corrections last until this app closes"


class ProfileError(UserError):
    """A profile that cannot be used (the app says so and goes on without learning)."""


class NewerProfile(ProfileError):
    """A profile written by a newer version: used read-only, never overwritten."""


class LeftAlone(ProfileError):
    """Not a file this app may read or replace (unreadable, a FIFO, a device, a folder)."""


class Damaged(ProfileError):
    """A regular file that is not a valid profile: set aside, learning starts fresh."""

    def __init__(self, reason: str, ident: tuple[int, int]) -> None:
        super().__init__(reason)
        self.ident = ident  # (st_dev, st_ino) of what was read: only that file is set aside


class Busy(Exception):
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
            f"profile name {quoted(name)} must be 1-64 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Stored:
    """A profile file's corrections, every field checked, and which version of the file."""

    vectors: np.ndarray
    labels: np.ndarray
    used: np.ndarray
    ids: np.ndarray
    sig: tuple[int, ...]


def why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def file_sig(st: os.stat_result) -> tuple[int, ...]:
    """Which version of a file this is: every save replaces it (a new inode and time)."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def kind_of(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def new_id() -> int:
    # Random, not counted: ids from two apps on one profile must never collide in a merge.
    return int.from_bytes(os.urandom(8), "little") >> 2


def legacy_ids(vectors: np.ndarray, labels: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Ids for a file written before ids were stored: the same file gives every app the same
    ids, so two apps that loaded it merge their saves instead of doubling its corrections."""
    ids = []
    for i in range(len(labels)):
        h = hashlib.blake2b(i.to_bytes(4, "little"), digest_size=8)
        for part in (vectors[i], labels[i : i + 1], used[i : i + 1]):
            h.update(part.tobytes())
        ids.append(int.from_bytes(h.digest(), "little") >> 2)
    return np.array(ids, np.int64)


def read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def member(zf: zipfile.ZipFile, name: str, kinds: str, ndim: int, max_items: int) -> np.ndarray:
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


def header_of(raw: np.ndarray) -> dict[str, object]:
    if raw.dtype != np.uint8:
        raise ProfileError("its header has the wrong type")
    try:  # NaN and Infinity are not JSON: refused rather than read as floats
        header = json.loads(raw.tobytes().decode("utf-8"), parse_constant=no_constant)
    except (ValueError, RecursionError):
        raise ProfileError("its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ProfileError("it has no valid header")
    return header


def no_constant(name: str) -> None:
    raise ValueError(name)


def count_of(value: object) -> int | None:
    """A non-negative JSON integer, else None (bool is an int subclass: True is no count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_profile(
    data: bytes, sig: tuple[int, ...], path: Path | None, model_sha256: str, dim: int
) -> Stored:
    """Every field checked (type, shape, dtype, range); a ProfileError says which is bad."""
    end = data.rfind(b"PK\x05\x06")  # the zip's end record: its entry count, before parsing
    if end >= 0 and int.from_bytes(data[end + 10 : end + 12], "little") > MAX_MEMBERS:
        raise ProfileError("it has too many entries to be a profile")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            header = header_of(member(zf, "header", "u", 1, MAX_HEADER_BYTES))
            # first: a newer version may store other arrays
            check_header(header, path, model_sha256, dim)
            vectors = member(zf, "vectors", "f", 2, MAX_STORED * dim)
            labels = member(zf, "labels", "iu", 1, MAX_STORED)
            used = member(zf, "used", "fiu", 1, MAX_STORED)
            has_ids = "ids.npy" in zf.namelist()
            ids = member(zf, "ids", "i", 1, MAX_STORED) if has_ids else None
    except ProfileError:
        raise
    except Exception as exc:  # zip, npy and I/O errors alike: a broken file
        raise ProfileError(f"it is unreadable ({type(exc).__name__})") from None
    n = len(labels)
    if (
        vectors.shape != (n, dim)
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
        ids = legacy_ids(vectors, labels, used)
    if len(np.unique(ids)) != n:
        raise ProfileError("it has repeated correction ids")
    return Stored(vectors, labels, used, ids.astype(np.int64), sig)


def check_header(header: dict[str, object], path: Path | None, model_sha256: str, dim: int) -> None:
    version = count_of(header.get("version"))
    if version is None or version < 1:
        raise ProfileError(f"its version is not a version number ({header.get('version')!r:.40})")
    if version > PROFILE_VERSION:
        raise NewerProfile(
            f"profile {path} was written by a newer mnist-edge; "
            "learning works this session but is not saved (upgrade)"
        )
    if header.get("model_sha256") != model_sha256:
        raise ProfileError("it belongs to another model")
    for key in ("dim", "count"):
        if key in header and count_of(header[key]) is None:
            raise ProfileError(f"its {key} is not a count ({header[key]!r:.40})")
    if header.get("dim", dim) != dim:
        raise ProfileError("it was made for features of another width")
    saved = header.get("saved", 0.0)
    if isinstance(saved, bool) or not isinstance(saved, (int, float)) or not math.isfinite(saved):
        raise ProfileError(f"its save time is not a time ({saved!r:.40})")
