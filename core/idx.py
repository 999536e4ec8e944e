"""MNIST's IDX files (numpy only): the canonical four, and reading one without trusting it.

A file is never read or decompressed past the size of the canonical file (a gzip bomb stops
there), and is checked for its magic number, dimensions, count, length and the SHA-256 of its
decompressed content before it is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import open_regular

ENV_DATA = "MNIST_EDGE_DATA"  # where a user keeps the files (core.data looks there)
CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

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


def candidates(directory: Path, spec: IdxFile) -> list[Path]:
    return [directory / f"{spec.name}.gz", directory / spec.name]


@contextlib.contextmanager
def looking_into(directory: Path) -> Iterator[None]:
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
    for path in candidates(directory, spec):
        with looking_into(directory):
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
