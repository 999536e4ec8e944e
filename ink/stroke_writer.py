"""Growing a stroke file safely: ``--record`` and ``--collect`` append, never rewrite.

The file is read once, validated and kept as raw bytes, so every sample, field and number it
held stays byte for byte. A new sample is one compact line inserted before the closing bracket
of ``samples``, and the file is replaced atomically: a save costs one write of the file's bytes
(milliseconds for 7,000 samples), never a re-encoding, and a crash loses at most the drawing on
screen. The file is locked while the writer is open; a change made on disk meanwhile is read
back before the next save. Nothing is written before the first sample.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import FileLock, read_capped, writable_target, write_bytes_atomic
from mnist_edge.ink.strokes import (
    HEAD,
    MAX_FILE_BYTES,
    MAX_SAMPLES,
    TAIL,
    ReplayError,
    Sample,
    encode_sample,
    parse_samples,
)


class StrokeWriter:
    """Appends samples to ``path`` (created on the first one); :meth:`close` releases it."""

    def __init__(self, path: str | os.PathLike[str], flag: str) -> None:
        self.flag = flag
        self.path = writable_target(path, flag)
        self._lock = FileLock(
            self.path,
            f"{flag} {path} is open in another mnist-edge app; close that one or choose "
            "another file",
        )
        self.samples: list[Sample] = []  # what the file held when read, then what was added
        self._head = HEAD
        self._tail = TAIL
        self._stamp: tuple[int, int, int] | None = None
        self._added: list[int] = []  # head lengths before each append of this session

    @classmethod
    def open(cls, path: str | os.PathLike[str], flag: str) -> StrokeWriter:
        writer = cls(path, flag)
        writer._lock.acquire()
        try:
            writer._read()
        except BaseException:
            writer._lock.release()
            raise
        return writer

    def close(self) -> None:
        self._lock.release()

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def added(self) -> int:
        """Samples appended by this writer that :meth:`remove_last` can still take back."""
        return len(self._added)

    def append(self, sample: Sample) -> None:
        """Add ``sample``; raises OSError or UserError (nothing changed) if it cannot."""
        self._reread_if_changed()
        line = encode_sample(sample)
        if self.count >= MAX_SAMPLES or len(self._head) + len(line) > MAX_FILE_BYTES - 64:
            raise UserError(f"{self.path} is full; start another {self.flag} file")
        head = self._head + (b"," if self.samples else b"") + b"\n" + line
        self._write(head)
        self._added.append(len(self._head))
        self._head = head
        self.samples.append(sample)

    def remove_last(self) -> Sample | None:
        """Take back the last sample this writer added (never one the file held before)."""
        self._reread_if_changed()
        if not self._added:
            return None
        head = self._head[: self._added[-1]]
        self._write(head)
        self._added.pop()
        self._head = head
        return self.samples.pop()

    def _write(self, head: bytes) -> None:
        write_bytes_atomic(self.path, head + b"\n" + self._tail)
        self._stamp = _stamp(self.path)

    def _read(self) -> None:
        self._stamp = _stamp(self.path)
        self._added = []
        if self._stamp is None:
            self.samples, self._head, self._tail = [], HEAD, TAIL
            return
        raw = read_capped(self.path, MAX_FILE_BYTES, f"{self.flag} file", ReplayError)
        self.samples = parse_samples(self.path, raw)
        split = _insertion_point(raw)
        if split is not None:
            self._head, self._tail = raw[:split].rstrip(), raw[split:]
        else:  # another layout: the first save re-encodes it once, keeping every field
            doc = json.loads(raw)
            self._head = _reencoded_head(doc)
            self._tail = TAIL

    def _reread_if_changed(self) -> None:
        if _stamp(self.path) != self._stamp:
            self._read()  # someone else wrote it: continue from what is there now


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _insertion_point(raw: bytes) -> int | None:
    """The offset of the ``]`` that closes ``samples``, where ``samples`` is the document's
    last key and appears once; None for any other layout."""
    end = len(raw.rstrip())
    if not raw[:end].endswith(b"}"):
        return None
    close = len(raw[: end - 1].rstrip())
    if not raw[:close].endswith(b"]"):
        return None
    top: list[list[tuple[str, Any]]] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        top.append(items)  # the last object closed is the top level
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)
    keys = [key for key, _ in top[-1]]
    if not keys or keys[-1] != "samples" or keys.count("samples") != 1:
        return None
    return close - 1


def _reencoded_head(doc: dict[str, Any]) -> bytes:
    fields = [
        json.dumps(key) + ": " + json.dumps(value) for key, value in doc.items() if key != "samples"
    ]
    lines = b",".join(
        b"\n" + json.dumps(sample, separators=(",", ":")).encode("utf-8")
        for sample in doc["samples"]
    )
    return ("{" + ", ".join([*fields, '"samples": ['])).encode("utf-8") + lines
