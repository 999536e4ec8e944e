"""Corrections in the app: selecting a digit of a number (a tap in its box), telling the
app what a drawing or a selected digit is (a bar or a key), and saving what it learned. The
learner is the recognizer's; single digits and the digits of numbers feed the same profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mnist_edge.edge_app.app.state import corrections
from mnist_edge.ink.strokes import to_pixels

if TYPE_CHECKING:
    from mnist_edge.edge_app.app.host import AppHost


def select_by_tap(app: AppHost) -> bool:
    """--multi: a tap (a stroke that never left its first brush width) inside a digit's box
    selects that digit, and leaves no ink; anything else is writing. (Not while collecting:
    there every stroke is the sample's.)"""
    drawing, digits = app.state.drawing, app.state.digits
    if not digits or not drawing.strokes:
        return False
    w, h, brush = drawing.width, drawing.height, drawing.brush
    pixels = [to_pixels(p, w, h) for p in drawing.strokes[-1]]
    x0, y0 = pixels[0]
    if any(abs(x - x0) > brush or abs(y - y0) > brush for x, y in pixels):
        return False
    hit = [
        i for i, d in enumerate(digits) if d.box[0] <= x0 < d.box[2] and d.box[1] <= y0 < d.box[3]
    ]
    if not hit:
        return False
    drawing.undo()  # the tap leaves no ink: the strokes (and so the reading) are as before
    app.needs_prediction = False
    app.state.last_correction = app.correction_before_tap
    app.state.ink_dirty = True
    select(app, hit[0])
    return True


def select(app: AppHost, index: int) -> None:
    """--multi: the digit the bars (and keys 0-9) now show and correct."""
    digits = app.state.digits
    if not 0 <= index < len(digits):
        return
    app.state.selected = index
    app.state.reading = digits[index].reading
    label = app.view.label_of(digits[index], app.recognizer)
    app.state.say(f"Digit {index + 1} ({label}) selected: tap its bar or press 0-9")


def correct(app: AppHost, digit: int) -> None:
    """The person says this drawing is ``digit``: remember it for next time."""
    if app.config.multi:
        correct_digit(app, digit)
        return
    learner = app.recognizer.learner
    if not app.learning or learner is None:
        if app.collector is None and not app.config.multi:
            app.state.say("learning is off (started with --no-learn)", warning=True)
        return
    reading = app.state.reading
    if reading is None or app.state.drawing.empty:
        app.state.say("draw a digit first, then tap what it should be", warning=True)
        return
    _learn(app, reading.prediction.embedding, digit, "drawing", "this is")


def correct_digit(app: AppHost, digit: int) -> None:
    """--multi: the selected digit of the number is ``digit``. Its own embedding (from its
    reading) feeds the same learner as single digits; then the number is read again."""
    learner = app.recognizer.learner
    if app.collector is not None:
        return  # collecting: the label is the prompt, nothing to correct
    if not app.config.learn or learner is None:
        app.state.say("learning is off (started with --no-learn)", warning=True)
        return
    index, digits = app.state.selected, app.state.digits
    if index is None or not 0 <= index < len(digits):
        app.state.say("tap a digit on the strip first, then what it should be", warning=True)
        return
    embedding = digits[index].reading.prediction.embedding
    _learn(app, embedding, digit, "digit", f"digit {index + 1} is")


def _learn(app: AppHost, embedding: Any, digit: int, what: str, said: str) -> None:
    """Store one correction in the learner, save the profile, say so and read again."""
    learner = app.recognizer.learner
    assert learner is not None  # the callers checked: learning is on
    if embedding is None:
        app.state.say("this model cannot learn (no embedding output)", warning=True)
        return
    if not learner.add(embedding, digit):
        app.state.say(f"cannot learn from this {what}", warning=True)
        return
    app.state.last_correction = True
    label = app.recognizer.model.labels[digit]
    if save_profile(app) is None:
        app.state.say(f"Learned: {said} a {label} ({corrections(len(learner))})")
    app.predict_now()


def save_profile(app: AppHost) -> str | None:
    """Save the learner's profile; a problem is shown as a warning (and returned)."""
    learner = app.recognizer.learner
    problem = learner.save() if learner is not None else None
    if problem:
        app.warn(problem)
    return problem
