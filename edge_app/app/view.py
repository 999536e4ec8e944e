"""The view: draws the app's state onto the screen. Reads state, never changes it.

Assets (fonts, the canvas surface and its palette) are made once, when the view is built in
``main()``. Everything is drawn in logical coordinates onto ``surface`` and rotated onto the
screen at the end of a frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnist_edge.edge_app.app.alternative import offered
from mnist_edge.edge_app.app.state import AppState
from mnist_edge.ink import layout as lay

BACKGROUND = (18, 20, 26)
PANEL = (32, 35, 44)
CANVAS_BG = (0, 0, 0)
INK = (245, 245, 245)
ACCENT = (88, 166, 255)
UNSURE = (255, 170, 60)
TEXT = (230, 232, 238)
MUTED = (140, 146, 160)
GOOD = (90, 200, 120)


def button_rects(layout: lay.Layout, names: tuple[str, ...]) -> list[tuple[str, lay.Rect]]:
    """The button row (where Clear and Undo sit), split evenly among ``names``."""
    row = lay.Rect(
        layout.clear.x,
        layout.clear.y,
        layout.undo.x + layout.undo.w - layout.clear.x,
        layout.clear.h,
    )
    gap = layout.undo.x - (layout.clear.x + layout.clear.w)
    width = (row.w - gap * (len(names) - 1)) // len(names)
    return [
        (name, lay.Rect(row.x + i * (width + gap), row.y, width, row.h))
        for i, name in enumerate(names)
    ]


def bar_slot(layout: lay.Layout, px: float, py: float) -> int | None:
    """The digit whose bar (the whole slot, label included) is at this logical point."""
    r = layout.bars
    if not r.contains(px, py):
        return None
    return min(9, int((px - r.x) / (r.w / 10)))


def alternative_rect(layout: lay.Layout) -> lay.Rect:
    """--multi: where "did you mean ...?" is tapped: the number panel's lower half (a
    finger-sized target around the line)."""
    r = layout.digit
    return lay.Rect(r.x, r.y + r.h // 2, r.w, r.h - r.h // 2)


class View:
    def __init__(
        self, pygame: Any, screen: Any, layout: lay.Layout, rotation: int, labels: tuple[str, ...]
    ) -> None:
        self.pg = pygame
        self.screen = screen
        self.layout = layout
        self.rotation = rotation
        self.labels = labels
        logical = (layout.width, layout.height)
        self.surface = screen if rotation == 0 else pygame.Surface(logical)
        c = layout.canvas
        self.canvas_surface = pygame.Surface((c.w, c.h), depth=8)
        self.canvas_surface.set_palette(
            [
                tuple(int(CANVAS_BG[k] + (INK[k] - CANVAS_BG[k]) * i / 255) for k in range(3))
                for i in range(256)
            ]
        )
        base = min(logical)
        self.big_size = max(48, int(layout.digit.h * 0.95))
        self.font_big = pygame.font.Font(None, self.big_size)
        self._fonts: dict[int, Any] = {}  # by size: the number's font follows its length
        self.font = pygame.font.Font(None, max(20, base // 18))
        self.font_small = pygame.font.Font(None, max(16, base // 28))

    def text(self, text: str, font: Any, color: tuple[int, int, int], **where: Any) -> None:
        surf = font.render(text, True, color)
        self.surface.blit(surf, surf.get_rect(**where))

    def draw(
        self,
        state: AppState,
        *,
        multi: bool,
        drawing_active: bool,
        buttons: tuple[str, ...],
        status: str,
        recognizer: Any,
    ) -> None:
        pg, s, L = self.pg, self.surface, self.layout
        s.fill(BACKGROUND)
        if state.ink_dirty:
            pg.surfarray.blit_array(self.canvas_surface, state.drawing.ink.T)
            state.ink_dirty = False
        s.blit(self.canvas_surface, (L.canvas.x, L.canvas.y))
        pg.draw.rect(s, ACCENT if drawing_active else MUTED, L.canvas.tuple, 2)
        if multi:
            self.draw_digit_boxes(state, recognizer)
        self.draw_result(state, multi, recognizer)
        self.draw_preview(state, multi)
        self.draw_bars(state, multi)
        for name, rect in button_rects(L, buttons):
            pg.draw.rect(s, PANEL, rect.tuple, border_radius=10)
            pg.draw.rect(s, MUTED, rect.tuple, 2, border_radius=10)
            self.text(name, self.font, TEXT, center=(rect.x + rect.w // 2, rect.y + rect.h // 2))
        message = state.current_message()
        line, color = (
            (message.text, UNSURE if message.warning else GOOD) if message else (status, MUTED)
        )
        fitted = (
            line
            if self.font_small.size(line)[0] <= L.status.w
            else line[: max(8, L.status.w // max(1, self.font_small.size("m")[0]))] + "…"
        )
        s.blit(self.font_small.render(fitted, True, color), (L.status.x, L.status.y))
        if self.surface is not self.screen:
            self.screen.blit(pg.transform.rotate(self.surface, -self.rotation), (0, 0))
        pg.display.flip()

    def fit(self, text: str, font: Any, width: int) -> str:
        """``text`` cut (with an ellipsis) to fit ``width`` px in ``font``."""
        if font.size(text)[0] <= width:
            return text
        while text and font.size(text + "…")[0] > width:
            text = text[:-1]
        return text + "…"

    def first_fitting(self, options: list[str], font: Any, width: int) -> str:
        """The first (fullest) of ``options`` that fits ``width`` px; the last one cut if none."""
        for text in options:
            if font.size(text)[0] <= width:
                return text
        return self.fit(options[-1], font, width)

    def sized_font(self, text: str, width: int, height: int) -> Any:
        """The largest font, up to the big one, in which ``text`` fits ``width`` x ``height``
        px: a 10-digit number fills the panel as a single digit does, no smaller."""
        w, h = self.font_big.size(text)
        size = int(self.big_size * min(1.0, width / max(1, w), height / max(1, h)))
        while True:
            font = self._fonts.get(size) or self._fonts.setdefault(
                size, self.pg.font.Font(None, max(8, size))
            )
            if size <= 12 or (font.size(text)[0] <= width and font.size(text)[1] <= height):
                return font
            size -= max(1, size // 12)

    def draw_digit_boxes(self, state: AppState, recognizer: Any) -> None:
        """Each digit of the number boxed on the canvas, with its reading; a "?" marks the
        ones the model is not sure of (the box then in the warning colour)."""
        pg, s, c = self.pg, self.surface, self.layout.canvas
        for i, d in enumerate(state.digits):
            left, top, right, bottom = d.box
            box = (c.x + left, c.y + top, max(1, right - left), max(1, bottom - top))
            p = d.reading.prediction
            sure = recognizer.digit_sure(d)
            color = GOOD if sure else UNSURE
            if i == state.selected:  # tapped: the bars show (and correct) this digit
                color = ACCENT
                pg.draw.rect(s, ACCENT, box, 4)
            else:
                pg.draw.rect(s, color, box, 2)
            tag = self.font_small.render(self.labels[p.digit] + ("" if sure else " ?"), True, color)
            y = box[1] - tag.get_height() - 1
            if y < c.y:  # no room above: inside the box's bottom edge, where ink rarely is
                y = min(box[1] + box[3] + 1, c.y + c.h - tag.get_height())
            x = min(max(box[0], c.x + 2), c.x + c.w - tag.get_width() - 2)
            s.blit(tag, (x, y))

    def label_of(self, digit: Any, recognizer: Any) -> str:
        """A digit of a number as the screen shows it: its label, or "?" where not sure."""
        return self.labels[digit.reading.prediction.digit] if recognizer.digit_sure(digit) else "?"

    def draw_result(self, state: AppState, multi: bool, recognizer: Any) -> None:
        s, r = self.surface, self.layout.digit
        self.pg.draw.rect(s, PANEL, r.tuple, border_radius=12)
        centre = (r.x + r.w // 2, r.y + r.h // 2)
        if state.prompt:
            self.text(state.prompt, self.font_small, ACCENT, midtop=(centre[0], r.y + 4))
        if state.reading is None:
            self.text(
                state.prompt.split("  ·")[0]
                if state.prompt
                else ("Write a number" if multi else "Draw a digit"),
                self.font,
                MUTED,
                center=centre,
            )
            return
        if multi:
            self.draw_number(state, recognizer)
            return
        if state.several:  # clearly several digits: never forced into one
            font = self.font_big if self.font_big.size(state.several)[0] <= r.w - 8 else self.font
            self.text(
                self.fit(state.several, font, r.w - 8),
                font,
                UNSURE,
                center=(centre[0], r.y + int(r.h * 0.42)),
            )
            line = self.fit("looks like several digits: use --multi", self.font_small, r.w - 8)
            self.text(line, self.font_small, UNSURE, center=(centre[0], r.y + int(r.h * 0.82)))
            return
        p = state.reading.prediction
        sure = recognizer.sure(p)
        self.text(
            self.labels[p.digit] if sure else "?",
            self.font_big,
            ACCENT if sure else UNSURE,
            center=(centre[0], r.y + int(r.h * 0.42)),
        )
        # The alternatives, fullest first: the line takes the first that fits the panel.
        tops = [", ".join(f"{d} {c:.0%}" for d, c in p.top(k)) for k in (3, 2)]
        width = r.w - 8
        if state.reading.learned:
            line, color = f"learned from your {self.labels[p.digit]}s", GOOD
        elif sure:
            line, color = f"{p.confidence:.0%} sure", TEXT
        else:
            first, second = (d for d, _ in p.top(2))
            options = [*(f"Not sure: {t}" for t in tops), f"Not sure: {first} or {second}"]
            options.append(f"{first} or {second}?")  # a small screen's narrow panel
            line, color = self.first_fitting(options, self.font_small, width), UNSURE
        line = self.fit(line, self.font_small, width)
        self.text(line, self.font_small, color, center=(centre[0], r.y + int(r.h * 0.82)))
        if sure:
            self.text(
                self.first_fitting(
                    [f"top 3: {tops[0]}", f"top 2: {tops[1]}"], self.font_small, width
                ),
                self.font_small,
                MUTED,
                center=(centre[0], r.y + int(r.h * 0.93)),
            )

    def draw_number(self, state: AppState, recognizer: Any) -> None:
        """The number read, digit by digit ("?" where not sure), and how sure the whole is."""
        r = self.layout.digit
        digits = state.digits
        shown = "".join(self.label_of(d, recognizer) for d in digits) or "?"
        unsure = [i for i, d in enumerate(digits) if not recognizer.digit_sure(d)]
        confidence = recognizer.number_confidence(digits)  # its least sure digit's
        # As large as the panel allows (its lines below stay clear): long numbers shrink to fit.
        font = self.sized_font(shown, r.w - 16, int(r.h * 0.5))
        self.text(
            self.fit(shown, font, r.w - 8),
            font,
            UNSURE if unsure else ACCENT,
            center=(r.x + r.w // 2, r.y + int(r.h * 0.4)),
        )
        if unsure:
            # A digit in doubt for its split (another number of digits nearly ties), not for
            # its reading, says so: its top two would both be the same digit.
            which = ", ".join(f"{i + 1}: {doubt(digits[i], recognizer)}" for i in unsure)
            line, color = f"Not sure of digit {which}", UNSURE
        else:
            line, color = f"{len(digits)} digits, {confidence:.0%} sure", TEXT
        line = self.fit(line, self.font_small, r.w - 8)
        self.text(line, self.font_small, color, center=(r.x + r.w // 2, r.y + int(r.h * 0.82)))
        chosen = offered(state)
        if chosen is not None:  # one tap takes it (the loop's pointer_down)
            ask = self.fit(f"did you mean {chosen.text}?", self.font_small, r.w - 16)
            w, h = self.font_small.size(ask)
            centre = (r.x + r.w // 2, r.y + int(r.h * 0.64))
            box = (centre[0] - w // 2 - 6, centre[1] - h // 2 - 2, w + 12, h + 4)
            self.pg.draw.rect(self.surface, ACCENT, box, 1, border_radius=6)
            self.text(ask, self.font_small, ACCENT, center=centre)

    def draw_preview(self, state: AppState, multi: bool) -> None:
        pg, s, r = self.pg, self.surface, self.layout.preview
        pg.draw.rect(s, PANEL, r.tuple)
        images = (
            [d.reading.image for d in state.digits]
            if multi
            else ([state.reading.image] if state.reading else [])
        )
        if not images:
            self.text("28x28", self.font_small, MUTED, center=(r.x + r.w // 2, r.y + r.h // 2))
            return
        strip = np.concatenate(images, axis=1)
        scale = max(1, min(r.w // strip.shape[1], r.h // strip.shape[0]))
        gray = pg.surfarray.make_surface(np.repeat(strip.T[:, :, None], 3, axis=2))
        view = pg.transform.scale(gray, (strip.shape[1] * scale, strip.shape[0] * scale))
        s.blit(view, view.get_rect(center=(r.x + r.w // 2, r.y + r.h // 2)))
        pg.draw.rect(s, MUTED, r.tuple, 1)

    def bars_caption(self, state: AppState) -> str:
        """--multi: which digit of the number the bars score (the last one unless one was
        tapped), fullest wording that fits."""
        if not state.digits or state.reading is None:
            return ""
        n = len(state.digits)
        i = n - 1 if state.selected is None else state.selected
        if not 0 <= i < n:  # a selection its strokes' undo left behind: no caption
            return ""
        label = self.labels[state.digits[i].reading.prediction.digit]
        options = [
            f"scores of digit {i + 1} of {n} ({label})"
            + ("; tap a box for another" if state.selected is None and n > 1 else ""),
            f"scores of digit {i + 1} of {n} ({label})",
            f"digit {i + 1} of {n}",
        ]
        return self.first_fitting(options, self.font_small, self.layout.bars.w - 8)

    def draw_bars(self, state: AppState, multi: bool = False) -> None:
        pg, s, r = self.pg, self.surface, self.layout.bars
        probs = state.reading.prediction.probabilities if state.reading else np.zeros(10)
        best = int(np.argmax(probs)) if state.reading else -1
        slot = r.w / 10
        label_h = self.font_small.get_height()
        top = r.y
        if caption := (self.bars_caption(state) if multi else ""):
            self.text(caption, self.font_small, TEXT, midtop=(r.x + r.w // 2, r.y))
            top += label_h + 2
        for d in range(10):
            x = int(r.x + d * slot + slot * 0.15)
            w = max(2, int(slot * 0.7))
            full = max(1, r.y + r.h - top - label_h - 4)
            h = int(full * float(np.clip(np.nan_to_num(probs[d]), 0, 1)))
            pg.draw.rect(s, PANEL, (x, top, w, full))
            if h:
                pg.draw.rect(s, ACCENT if d == best else MUTED, (x, top + full - h, w, h))
            self.text(
                self.labels[d],
                self.font_small,
                TEXT if d == best else MUTED,
                midtop=(x + w // 2, top + full + 2),
            )


def doubt(digit: Any, recognizer: Any) -> str:
    """What is in doubt about a digit of a number: its top two readings, or (confident but
    contested by a near-tying split into another number of digits) its split."""
    p = digit.reading.prediction
    if recognizer.sure(p):
        return "one digit or two?"
    return " or ".join(str(k) for k, _ in p.top(2))
