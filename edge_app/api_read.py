"""What the app and the public API share: the app's readings as the public results (ranked
candidates, k-best whole-number alternatives, boxes), and corrections stored from them.

The app reads its canvas through :func:`read_canvas` and :func:`read_number_strokes`, the
public :class:`~mnist_edge.edge_app.api.Reader` through the same two after mapping an ink onto
the canvas the app would draw it on: one way to read, whoever asks.
"""

from __future__ import annotations

import heapq
import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.api_types import Box, Candidate, DigitResult, NumberResult
from mnist_edge.edge_app.numbers.weights import ScoresError
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.edge_app.results import NumberDigit, Reading
from mnist_edge.ink.preprocess import ink_bbox
from mnist_edge.ink.strokes import Stroke

#: Whole-number alternatives kept per reading (the reading itself first).
ALTERNATIVES = 5
PxBox = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), canvas px


def ranked(probabilities: np.ndarray, labels: Sequence[str]) -> tuple[Candidate, ...]:
    """All ten digits, best first, ranked as :meth:`Prediction.top` ranks them."""
    p = probabilities
    return tuple(Candidate(labels[int(i)], float(p[i])) for i in np.argsort(-p))


def k_best(per_digit: Sequence[Sequence[Candidate]], k: int = ALTERNATIVES) -> list[Candidate]:
    """The ``k`` whole numbers with the highest products of their digits' scores, best first
    (best-first search over each digit's ranked candidates: at most k * digits products)."""
    if not per_digit or not all(per_digit):
        return []

    def score(idx: tuple[int, ...]) -> float:
        return math.prod(per_digit[i][j].score for i, j in enumerate(idx))

    start = (0,) * len(per_digit)
    heap, seen, out = [(-score(start), start)], {start}, []
    while heap and len(out) < k:
        negative, idx = heapq.heappop(heap)
        out.append(Candidate("".join(per_digit[i][j].text for i, j in enumerate(idx)), -negative))
        for i in range(len(idx)):
            if idx[i] + 1 < len(per_digit[i]):
                nxt = (*idx[:i], idx[i] + 1, *idx[i + 1 :])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (-score(nxt), nxt))
    return out


def digit_result(
    recognizer: Recognizer,
    reading: Reading | None,
    box: Box | None,
    strokes: tuple[int, ...] = (),
    sure: bool | None = None,
) -> DigitResult:
    """A reading as the public result (no ink: an empty one); ``sure`` as judged for a digit
    of a number (:meth:`Recognizer.digit_sure`), else the reading's own."""
    if reading is None:
        return DigitResult("", 0.0, False, (), None)
    p, labels = reading.prediction, recognizer.model.labels
    return DigitResult(
        labels[p.digit],
        p.confidence,
        recognizer.sure(p) if sure is None else sure,
        ranked(p.probabilities, labels),
        box,
        strokes,
        p.embedding,
        recognizer.serial,
    )


def number_result(
    recognizer: Recognizer, digits: Sequence[NumberDigit], box: Callable[[PxBox], Box]
) -> NumberResult:
    """A number's digits as the public result, with its k-best whole-number alternatives."""
    results = tuple(
        digit_result(recognizer, d.reading, box(d.box), d.strokes, recognizer.digit_sure(d))
        for d in digits
    )
    if not results:
        return NumberResult("", 0.0, False, (), ())
    return NumberResult(
        "".join(r.text for r in results),
        recognizer.number_confidence(digits),
        recognizer.number_sure(digits),
        tuple(k_best([r.candidates for r in results])),
        results,
    )


def pixel_box(px: PxBox) -> Box:
    """A canvas box in px with its outermost ink pixels included (right, bottom inclusive)."""
    return (px[0], px[1], px[2] - 1, px[3] - 1)


def read_canvas(
    recognizer: Recognizer,
    canvas: np.ndarray,
    strokes: Sequence[Stroke] | None = None,
    box: Callable[[PxBox], Box] | None = None,
) -> tuple[Reading | None, DigitResult]:
    """One digit on a canvas (uint8, ink 255 on 0; its strokes in canvas fractions, if any),
    as the app reads it: the internal reading and the public result (its ink's box by
    ``box``; None: no box, the app draws none)."""
    reading = recognizer.read(canvas, strokes)
    found = ink_bbox(canvas) if reading is not None and box is not None else None
    ink_box = (
        None if found is None or box is None else box((found[2], found[0], found[3], found[1]))
    )
    return reading, digit_result(recognizer, reading, ink_box)


def read_number_strokes(
    recognizer: Recognizer,
    strokes: Sequence[Stroke],
    size: tuple[int, int],
    brush: int,
    box: Callable[[PxBox], Box] | None = None,
) -> tuple[list[NumberDigit], NumberResult]:
    """A number from strokes (canvas fractions) on a ``size`` canvas, as the app reads it:
    the internal digits and the public result (boxes by ``box``, else in canvas px)."""
    digits = recognizer.read_number(list(strokes), size[0], size[1], brush)
    return digits, number_result(recognizer, digits, box or pixel_box)


# ----------------------------------------------------------------------------- learning


def learn_correction(
    recognizer: Recognizer, result: DigitResult | NumberResult, text: str | int
) -> int:
    """Store what ``result`` should have read (``text``, digits as a str or an int) in the
    recognizer's learner: one correction per digit that differs (every digit for a single
    digit, as the app's bars do). Returns how many were stored; a UserError says why none
    could be."""
    learner = recognizer.learner
    if not isinstance(result, (DigitResult, NumberResult)):
        raise UserError(
            "result must be a DigitResult or NumberResult this reader returned, "
            f"got {type(result).__name__}"
        )
    if isinstance(text, bool) or not isinstance(text, (str, numbers.Integral)):
        raise UserError(f"text must be the digits as a str or an int, got {type(text).__name__}")
    text = text if isinstance(text, str) else int(text)  # numpy's integers too
    # no reading has 300 digits, and str() refuses an int of 4,300
    text = str(text) if isinstance(text, str) or text.bit_length() < 1000 else "<over 300 digits>"
    if learner is None:
        raise UserError("this model cannot learn (no embedding output); export it again")
    digits = result.digits if isinstance(result, NumberResult) else (result,)
    if not result.text:
        raise UserError("nothing was read, so there is nothing to correct")
    if not (text.isascii() and text.isdigit() and len(text) == len(digits)):
        raise UserError(
            f"the reading {result.text!r} has {len(digits)} digit(s): correct it with "
            f"{len(digits)} digit(s) 0-9, got {text[:20]!r}"
        )
    changed = [
        (d, int(t)) for d, t in zip(digits, text) if t != d.text or isinstance(result, DigitResult)
    ]
    # a result made elsewhere (built by hand, or read by another reader, whose model may
    # embed drawings otherwise even at the same size) would teach this model nonsense
    if any(
        d._reader != recognizer.serial
        or not isinstance(d._embedding, np.ndarray)
        or d._embedding.size != learner.dim
        for d, _ in changed
    ):
        raise UserError(
            "result must be a DigitResult or NumberResult this reader returned, not one built "
            "by hand or read by another reader: read the ink again with this one"
        )
    stored = 0
    for d, label in changed:
        if not learner.add(d._embedding, label):  # type: ignore[arg-type]
            for _ in range(stored):
                learner.undo()
            raise UserError("cannot learn from this drawing (blank ink)")
        stored += 1
    return stored


#: Single-digit mode: ink the single reading is not sure of, that reads as at least two digits
#: each this sure (and sure by the threshold), is "several digits", never forced into one.
SEVERAL_SURE = 0.9


def several_digits(
    recognizer: Recognizer,
    reading: Reading | None,
    strokes: Sequence[Stroke],
    size: tuple[int, int],
    brush: int,
    pen_down: bool = False,
) -> str:
    """Single-digit mode: the number the ink reads as when it is clearly several digits
    (the single reading not sure; at least two digits, each sure), else "". Read only when
    the single reading is not sure and the pen is up: a sure digit costs nothing more."""
    if reading is None or pen_down or len(strokes) < 2 or recognizer.sure(reading.prediction):
        return ""
    try:
        digits = recognizer.read_number(list(strokes), size[0], size[1], brush)
    except ScoresError:  # a models folder without number scores: no hint, the digit still reads
        return ""
    threshold = max(SEVERAL_SURE, recognizer.threshold)
    if len(digits) < 2 or not all(
        recognizer.digit_sure(d) and d.reading.prediction.confidence >= threshold for d in digits
    ):
        return ""
    return "".join(recognizer.model.labels[d.reading.prediction.digit] for d in digits)
