"""The number reader: units, candidates, one batched model call, scores and the best path,
with candidate readings cached by their strokes' content so that, while a person writes,
only candidates holding the newest stroke are rendered and read again."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_edge.edge_app.numbers.render import model_input, render_units
from mnist_edge.edge_app.numbers.score import candidate_scores
from mnist_edge.edge_app.numbers.search import (
    Candidate,
    best_path,
    digit_spans,
    rival_split,
    span_key,
)
from mnist_edge.edge_app.numbers.units import ORDERS, Unit, in_order, pixels_of, stroke_units
from mnist_edge.edge_app.numbers.weights import NumberScores, shipped_scores
from mnist_edge.ink.preprocess import to_mnist
from mnist_edge.ink.strokes import Stroke


@dataclass(frozen=True)
class Split:
    """The best reading's digits, left to right as written, and how it was found."""

    digits: list[Candidate]
    strokes_of: list[list[int]]  # the strokes (time-order indices) of each digit
    candidates: int  # how many candidates were scored
    log_score: float  # the path's summed log scores
    #: What it was read from, for :meth:`NumberReader.exact_images`: the strokes, the canvas
    #: (width, height, brush), each stroke's units and pixels.
    strokes: Sequence[Stroke] = ()
    size: tuple[int, int, int] = (0, 0, 0)
    per_stroke: Sequence[Sequence[Unit]] = ()
    pixels: Sequence[np.ndarray] = ()
    #: How far the best split into another number of digits scores below this one (log
    #: score; inf: none), and for each digit whether that rival splits its ink otherwise.
    margin: float = float("inf")
    contested: tuple[bool, ...] = ()


class NumberReader:
    """Reads numbers from strokes with one model; keeps candidate readings between reads."""

    def __init__(self, model: object, scores: NumberScores | None = None) -> None:
        self.model = model
        #: The fitted "is this one digit" scores (the shipped file, else those given), and a
        #: line saying so when they were fitted with another model than this one.
        self.scores = scores or shipped_scores()
        self.mismatch = self.scores.mismatch(model)
        self._cache: dict[
            tuple[object, ...],
            tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[int, int, int, int], bool],
        ] = {}
        self._inks: dict[tuple[object, ...], tuple[np.ndarray, int, int]] = {}
        self._pixels: dict[tuple[int, int, int, int], np.ndarray] = {}
        self._units: dict[tuple[object, ...], list[Unit]] = {}
        #: Final readings of chosen digits by candidate key (the recognizer's TTA reading):
        #: while a person writes the next digit, the digits before it are not read again.
        self.finals: dict[tuple[object, ...], tuple[np.ndarray, Any]] = {}

    def candidates(
        self, strokes: Sequence[Stroke], width: int, height: int, brush: int
    ) -> tuple[list[Unit], list[Candidate]]:
        """Every candidate digit in time order with its model reading, unscored."""
        return self.candidate_sets(strokes, width, height, brush, ("time",))[0]

    def candidate_sets(
        self,
        strokes: Sequence[Stroke],
        width: int,
        height: int,
        brush: int,
        orders: Sequence[str] = ORDERS,
    ) -> list[tuple[list[Unit], list[Candidate]]]:
        """Per reading order whose units differ from the ones before, every candidate digit
        with its model reading (all new ones in one batch), unscored."""
        per_stroke, pixels = self._stroke_units(strokes, width, height, brush)
        return self._candidate_sets(strokes, per_stroke, pixels, (width, height, brush), orders)

    def _candidate_sets(
        self,
        strokes: Sequence[Stroke],
        per_stroke: list[list[Unit]],
        pixels: list[np.ndarray],
        size: tuple[int, int, int],
        orders: Sequence[str],
    ) -> list[tuple[list[Unit], list[Candidate]]]:
        width, height, brush = size
        plans: list[tuple[list[Unit], list[tuple[int, int]], list[tuple[object, ...]]]] = []
        for order in orders:
            units = in_order(per_stroke, order)
            if any(units == seen for seen, _, _ in plans):
                continue
            spans = digit_spans(units, brush)
            keys = [span_key((width, height, brush), units[i:j]) for i, j in spans]
            plans.append((units, spans, keys))
        fresh: dict[tuple[object, ...], tuple[int, int, list[Unit]]] = {}
        for units, spans, keys in plans:
            for (i, j), key in zip(spans, keys):
                if key not in self._cache and key not in fresh:
                    fresh[key] = (i, j, units)
        if fresh:
            self._read_fresh(fresh, strokes, pixels, (width, height, brush))
        out = []
        for units, spans, keys in plans:
            found = []
            for (i, j), key in zip(spans, keys):
                image, probs, emb, box, whole = self._cache[key]
                found.append(Candidate(i, j, image, probs, emb, box, whole, key=key))
            out.append((units, found))
        # Keep what this drawing is made of, no more: memory stays that of one drawing
        # (a stroke added or undone finds its neighbours' readings still here).
        current = {key for _, _, keys in plans for key in keys}
        if len(self._cache) > len(current):
            self._cache = {k: v for k, v in self._cache.items() if k in current}
            self.finals = {k: v for k, v in self.finals.items() if k in current}
        inks = {(width, height, brush, u.key) for units, _, _ in plans for u in units}
        if len(self._inks) > len(inks):
            self._inks = {k: v for k, v in self._inks.items() if k in inks}
        if len(self._pixels) > len(strokes):
            self._pixels = {}
        if len(self._units) > len(strokes):
            self._units = {}
        return out

    def _stroke_units(
        self, strokes: Sequence[Stroke], width: int, height: int, brush: int
    ) -> tuple[list[list[Unit]], list[np.ndarray]]:
        pixels = self._stroke_pixels(strokes, width, height)
        return stroke_units(strokes, width, height, brush, pixels, self._units)

    def _stroke_pixels(
        self, strokes: Sequence[Stroke], width: int, height: int
    ) -> list[np.ndarray]:
        """Each stroke's pixels, kept by content: only a new stroke is mapped again."""
        out = []
        for stroke in strokes:
            key = (width, height, len(stroke), hash(tuple(stroke)))
            px = self._pixels.get(key)
            if px is None:
                px = self._pixels[key] = pixels_of(stroke, width, height)
            out.append(px)
        return out

    def _read_fresh(
        self,
        fresh: dict[tuple[object, ...], tuple[int, int, list[Unit]]],
        strokes: Sequence[Stroke],
        pixels: list[np.ndarray],
        size: tuple[int, int, int],
    ) -> None:
        """Render the new candidates (grouped by order) and read them in one model call."""
        keys = list(fresh)
        images_parts, boxes, exact = [], [], []
        by_order: dict[int, tuple[list[Unit], list[tuple[int, int]]]] = {}
        for key in keys:
            i, j, units = fresh[key]
            by_order.setdefault(id(units), (units, []))[1].append((i, j))
        ordered_keys = []
        for units, spans in by_order.values():
            imgs, bxs, ex = self._render(
                units, strokes, pixels, spans, list(range(len(spans))), size
            )
            images_parts.append(imgs)
            boxes += bxs
            exact += ex
            ordered_keys += [span_key(size, units[i:j]) for i, j in spans]
        images = np.concatenate(images_parts)
        out = self.model.run(images)  # type: ignore[attr-defined]
        for n, key in enumerate(ordered_keys):
            emb = None if out.embedding is None else out.embedding[n]
            self._cache[key] = (images[n], out.probabilities[n], emb, boxes[n], exact[n])

    def _unit_ink(
        self,
        unit: Unit,
        strokes: Sequence[Stroke],
        pixels: list[np.ndarray],
        size: tuple[int, int, int],
    ) -> tuple[np.ndarray, int, int]:
        """One unit's ink, drawn alone and exactly, on its own crop (cached by content)."""
        key = (*size, unit.key)
        found = self._inks.get(key)
        if found is None:
            width, height, brush = size
            found = render_units([unit], strokes, pixels, width, height, brush)
            found = (found[0], *found[1])
            self._inks[key] = found
        return found

    def _render(
        self,
        units: list[Unit],
        strokes: Sequence[Stroke],
        pixels: list[np.ndarray],
        spans: list[tuple[int, int]],
        fresh: list[int],
        size: tuple[int, int, int],
    ) -> tuple[np.ndarray, list[tuple[int, int, int, int]], list[bool]]:
        """Model input for the fresh spans, composed of each unit's ink drawn once.

        Where the units' inks do not overlap, this is exactly the ink ``render`` draws; where
        they do, anti-aliased ink is blended as it blends (screen: a + b - ab), within a level
        or two of drawing it. Each span says whether it is exact; the digits finally read are
        redrawn exactly where it is not (:meth:`exact_image`)."""
        images = np.zeros((len(fresh), 28, 28), np.uint8)
        boxes: list[tuple[int, int, int, int]] = [(0, 0, 1, 1)] * len(fresh)
        exact = [True] * len(fresh)
        by_start: dict[int, list[tuple[int, int]]] = {}
        for n, k in enumerate(fresh):
            by_start.setdefault(spans[k][0], []).append((spans[k][1], n))
        for i, wanted in by_start.items():
            wanted.sort()
            inks = [self._unit_ink(u, strokes, pixels, size) for u in units[i : wanted[-1][0]]]
            left = min(x for _, x, _ in inks)
            top = min(y for _, _, y in inks)
            right = max(x + ink.shape[1] for ink, x, _ in inks)
            bottom = max(y + ink.shape[0] for ink, _, y in inks)
            crop = np.zeros((bottom - top, right - left), np.uint8)
            drawn, overlapped = 0, False
            for j, n in wanted:
                while drawn < j - i:
                    ink, x, y = inks[drawn]
                    region = crop[
                        y - top : y - top + ink.shape[0], x - left : x - left + ink.shape[1]
                    ]
                    if drawn and np.logical_and(region, ink).any():
                        overlapped = True
                        a16, b16 = region.astype(np.uint16), ink.astype(np.uint16)
                        region[...] = a16 + b16 - (a16 * b16 + 127) // 255
                    else:
                        np.maximum(region, ink, out=region)
                    drawn += 1
                x0 = min(x for _, x, _ in inks[: j - i])
                y0 = min(y for _, _, y in inks[: j - i])
                x1 = max(x + ink.shape[1] for ink, x, _ in inks[: j - i])
                y1 = max(y + ink.shape[0] for ink, _, y in inks[: j - i])
                view = crop[y0 - top : y1 - top, x0 - left : x1 - left]
                images[n], boxes[n] = model_input(view, (x0, y0))
                exact[n] = not overlapped
        return images, boxes, exact

    def exact_images(self, split: Split, digits: Sequence[Candidate]) -> np.ndarray:
        """The digits (of ``split``) as the single-digit path sees them: each one's strokes
        drawn exactly as ``render`` draws them, through ``to_mnist`` (uint8 [N, 28, 28])."""
        out = np.zeros((len(digits), 28, 28), np.uint8)
        width, height, brush = split.size
        by_key: dict[object, Unit] = {}
        for n, c in enumerate(digits):
            if c.exact:
                out[n] = c.image
                continue
            if not by_key:  # only when a digit needs redrawing
                by_key = {u.key: u for units in split.per_stroke for u in units}
            mine = [by_key[k] for k in c.key[3:]]
            crop, _ = render_units(mine, split.strokes, split.pixels, width, height, brush)
            out[n] = to_mnist(crop)
        return out

    def split(
        self,
        strokes: Sequence[Stroke],
        width: int,
        height: int,
        brush: int,
        per_digit: float | None = None,
    ) -> Split:
        """The best split of the strokes into digits (empty for no ink): the best path over
        the candidates of each reading order, the higher scoring one of them."""
        bias = self.scores.per_digit if per_digit is None else per_digit
        best: Split | None = None
        scored_count = 0
        per_stroke, pixels = self._stroke_units(strokes, width, height, brush)
        size = (width, height, brush)
        sets = self._candidate_sets(strokes, per_stroke, pixels, size, ORDERS)
        if not sets[0][0]:
            return Split([], [], 0, 0.0)
        winner: tuple[int, Sequence[Candidate], np.ndarray] | None = None
        for (units, found), scores in zip(sets, candidate_scores(sets, brush, self.scores)):
            scored_count += len(found)
            path, total = best_path(len(units), found, bias, scores)
            if best is None or total > best.log_score:
                path.sort(key=lambda c: (c.box[0] + c.box[2]) / 2)  # read left to right
                strokes_of = [sorted({u.stroke for u in units[c.first : c.last]}) for c in path]
                best = Split(path, strokes_of, 0, total)
                winner = (len(units), found, scores)
        assert best is not None and winner is not None  # at least one order
        margin, rival = rival_split(winner[0], winner[1], bias, winner[2], len(best.digits))
        return dataclasses.replace(
            best,
            candidates=scored_count,
            strokes=strokes,
            size=size,
            per_stroke=per_stroke,
            pixels=pixels,
            margin=margin,
            contested=tuple((c.first, c.last) not in rival for c in best.digits)
            if rival
            else (False,) * len(best.digits),
        )


def digit_strokes(split: Split, digits: Sequence[Candidate]) -> list[list[Stroke]]:
    """Each chosen digit's own points, as strokes in time order: its units (whole strokes or
    pieces of a joined-up one), a stroke's consecutive pieces joined again (what the pen
    channel reads of a digit of a number)."""
    by_key = {u.key: u for units in split.per_stroke for u in units}
    found = []
    for digit in digits:
        units = sorted((by_key[k] for k in digit.key[3:]), key=lambda u: (u.stroke, u.start))
        out: list[Stroke] = []
        last: tuple[int, int] | None = None  # (stroke, end) of the previous piece
        for u in units:
            points = list(split.strokes[u.stroke][u.start : u.end + 1])
            if last is not None and last[0] == u.stroke and u.start <= last[1] + 1:
                out[-1] += points[last[1] + 1 - u.start :]
            else:
                out.append(points)
            last = (u.stroke, u.end)
        found.append(out)
    return found
