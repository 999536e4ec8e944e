"""``mnist-edge draw --collect FILE``: collect labelled handwriting on the device.

The app asks for one digit at a time, in a random order that stays balanced (every digit once
per round of ten), shows how many are saved, and appends each accepted drawing to ``FILE`` in
the replay format, with ``--writer`` if given. Each save appends to the file without rewriting
what it holds (:mod:`.stroke_writer`: atomic, locked, every field kept), so a crash or a power
cut loses at most the drawing on the screen. An existing file is continued, so collection can
stop and resume; the result trains with ``mnist-edge train --drawn FILE``.

With ``--multi`` (``numbers=True``) it asks for numbers instead ("Write 4071": random strings of
2-5 digits) and saves each drawing as a number sample, labelled with the string.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import check_writable_file
from mnist_edge.ink.stroke_writer import StrokeWriter
from mnist_edge.ink.strokes import Sample, Stroke, load_samples

if TYPE_CHECKING:
    from mnist_edge.edge_app.app.host import AppHost

MAX_SAMPLES = 20_000
NUMBER_DIGITS = (2, 5)  # --collect --multi asks for numbers of this many digits


class Collector:
    def __init__(
        self,
        path: str | Path,
        writer: str | None = None,
        seed: int | None = None,
        target: int | None = None,
        numbers: bool = False,
    ) -> None:
        self.file = StrokeWriter.open(path, "--collect")
        self.path = Path(path)
        self.writer = writer
        self.target = target
        self.numbers = numbers
        self._rng = np.random.default_rng(seed)
        # Number samples (string labels) do not count toward the balance of single digits.
        labels = [s.label for s in self.file.samples if isinstance(s.label, int)]
        counts = np.bincount(labels, minlength=10)[:10]
        # Continue balanced: the first round asks for the digits this file has fewest of.
        self._queue: list[int | str] = []
        self._refill(counts)
        self.skipped = 0

    def close(self) -> None:
        self.file.close()

    @classmethod
    def check(cls, path: str | Path) -> None:
        """Fail before any window opens if ``path`` cannot be collected into."""
        target = check_writable_file("--collect", path)
        if target.exists():
            load_samples(target)  # a malformed file is an error, never overwritten

    def _refill(self, counts: np.ndarray | None = None) -> None:
        if self.numbers:  # one random number at a time: every length and digit as likely
            length = int(self._rng.integers(NUMBER_DIGITS[0], NUMBER_DIGITS[1] + 1))
            self._queue.append("".join(str(d) for d in self._rng.integers(0, 10, length)))
            return
        order = self._rng.permutation(10)
        if counts is not None and counts.any():
            order = sorted(order.tolist(), key=lambda d: counts[d])  # fewest first
        self._queue.extend(int(d) for d in order)

    @property
    def wanted(self) -> int | str:
        if not self._queue:
            self._refill()
        return self._queue[0]

    @property
    def count(self) -> int:
        return self.file.count

    @property
    def done(self) -> bool:
        return self.target is not None and self.count >= self.target

    def prompt(self) -> str:
        goal = f" of {self.target}" if self.target else ""
        verb = "Write" if self.numbers else "Draw a"
        return f"{verb} {self.wanted}  ·  {self.count}{goal} saved"

    def save(self, strokes: list[Stroke], canvas: tuple[int, int] | None = None) -> str:
        """Append the drawing as the wanted digit, with the ``canvas`` (px) it was drawn on;
        returns what to tell the person."""
        if not any(strokes):
            what = "number" if self.numbers else "digit"
            return f"Draw the {what} first, then tap Save"
        if self.count >= MAX_SAMPLES:
            return f"This file holds {MAX_SAMPLES:,} samples already; start another --collect file"
        label = self.wanted
        try:
            self.file.append(Sample([list(s) for s in strokes], label, self.writer, canvas=canvas))
        except OSError as exc:
            return f"Could not save ({exc.strerror or exc}); the drawing is still here"
        except UserError as exc:
            return f"Could not save ({exc}); the drawing is still here"
        self._queue.pop(0)
        return f"Saved {label}" if self.numbers else f"Saved a {label}"

    def ask(self, label: int | str) -> None:
        """Ask for ``label`` next (a scripted collection says what is being drawn)."""
        if self.numbers:
            label = str(label)  # collecting numbers: a one-digit sample is the number "7"
        if label in self._queue:
            self._queue.remove(label)
        self._queue.insert(0, label)

    def skip(self) -> str:
        skipped = self._queue.pop(0) if self._queue else self.wanted
        if not self.numbers:
            self._queue.append(skipped)  # asked again later, so the set stays balanced
        self.skipped += 1
        return f"Skipped the {skipped}"

    def undo(self) -> str:
        """Remove the last sample saved in this session (it will be asked for again); samples
        the file held before are never touched."""
        try:
            last = self.file.remove_last()
        except OSError as exc:
            return f"Could not undo ({exc.strerror or exc})"
        except UserError as exc:
            return f"Could not undo ({exc})"
        if last is None:
            return "Nothing saved in this session to undo"
        if isinstance(last.label, str) == self.numbers and last.label is not None:
            self._queue.insert(0, last.label)  # asked again (a digit, or the same number)
        return f"Removed the last {last.label}"


def save_sample(app: AppHost) -> None:
    """Save the drawing as the prompted sample; the next prompt (or done)."""
    assert app.collector is not None
    drawing = app.state.drawing
    message = app.collector.save(drawing.strokes, (drawing.width, drawing.height))
    saved = message.startswith("Saved")
    app.state.say(message, warning=not saved)
    if saved:
        app.state.drawing.clear()
        app.state.clear_reading()
        app.state.ink_dirty = True
        if app.collector.done:
            app.state.say(f"Done: {app.collector.count} saved to {app.collector.path}")
            app.state.running = False
    app.state.prompt = app.collector.prompt()


def skip_sample(app: AppHost) -> None:
    """Skip the prompted sample: clear the drawing, prompt the next."""
    assert app.collector is not None
    app.state.say(app.collector.skip())
    app.clear()
    app.state.prompt = app.collector.prompt()
