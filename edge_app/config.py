"""The edge app's configurations: ``draw`` (the touch app) and ``predict`` (image files).

Each option is declared once here, with its help; the flags are generated from the fields
(``core.config.add_options``) and a ``[draw]`` TOML table is checked against them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from mnist_edge.core.config import option, require, require_int, require_number
from mnist_edge.core.contract import DEFAULT_THRESHOLD
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import check_writable_file
from mnist_edge.core.registry import EDGE_RUNTIMES
from mnist_edge.edge_app.tta import DEFAULT_TTA, MAX_VARIANTS
from mnist_edge.ink.layout import ROTATIONS

RUNTIME_CHOICES = ("auto", *EDGE_RUNTIMES)
MAX_SIDE = 8192
DEFAULT_PROFILE = "default"


def parse_size(text: object) -> tuple[int, int] | None:
    """ "WxH" (a flag or TOML string) or [W, H] (a TOML list) -> (W, H), bounded."""
    if text is None:
        return None
    if (
        isinstance(text, (list, tuple))
        and len(text) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in text)
    ):
        text = f"{text[0]}x{text[1]}"
    if not isinstance(text, str):
        raise UserError(f"--size must be WIDTHxHEIGHT, e.g. 800x480; got {text!r}"[:200])
    match = re.fullmatch(r"([0-9]{3,5})[xX]([0-9]{3,5})", text.strip())  # ASCII digits only
    w, h = match.groups() if match else ("0", "0")
    ok = match is not None and 240 <= int(w) <= MAX_SIDE and 240 <= int(h) <= MAX_SIDE
    require(
        ok,
        f"--size must be WIDTHxHEIGHT from 240x240 to {MAX_SIDE}x{MAX_SIDE}, e.g. "
        f"800x480; got {text!r}",
    )
    return int(w), int(h)


@dataclass(frozen=True)
class DrawConfig:
    model: str | None = option(None, "a .tflite or .onnx model", default_text="the shipped one")
    runtime: str = option(
        "auto",
        f"{', '.join(RUNTIME_CHOICES)}; auto: the first installed of the others, in that order",
    )
    fullscreen: bool = option(False, "use the whole screen")
    size: str | tuple[int, int] | None = option(
        None, "window size WIDTHxHEIGHT", metavar="WxH", default_text="800x480"
    )  # "WxH" from a flag or TOML, parsed below
    rotate: int = option(
        0,
        "rotate the UI 0/90/180/270 degrees clockwise (e.g. 90 for Touch Display 2 in landscape)",
    )
    threshold: float | None = option(
        None,
        "below this confidence the app says it is not sure",
        default_text=f"the threshold the model was calibrated for, else {DEFAULT_THRESHOLD}",
    )
    multi: bool = option(False, "read several digits (a number)")
    brush: int | None = option(None, "brush diameter in pixels", default_text="1/18 of the canvas")
    live: bool = option(True, "also predict while a stroke is drawn (throttled)")
    record: str | None = option(None, "save the strokes drawn to FILE", metavar="FILE")
    replay: str | None = option(
        None,
        "play strokes from FILE (mnist-edge-strokes/1) through the app, sample by sample",
        metavar="FILE",
    )
    headless: bool = option(
        False, "no window (SDL dummy driver): with --replay print one JSON line per sample and exit"
    )
    screenshot: str | None = option(None, "save the last frame to PNG", metavar="PNG")
    threads: int | None = option(None, "inference threads", default_text="the runtime's")
    fps: int = option(60, "frame-rate cap")
    tta: int | None = option(
        None,
        f"read each digit N times, slightly varied, and average (1-{MAX_VARIANTS}; 1 = read "
        "once); the 'not sure' threshold follows N as calibrated",
        default_text=f"{DEFAULT_TTA} for a model calibrated for it, else 1",
    )
    learn: bool | None = option(
        None,
        "learn from corrections: tap the right digit's bar (or press 0-9) when a reading is "
        "wrong; with --replay, simulate a person who corrects every misreading",
        default_text="on; off in replays",
    )
    profile: str = option(
        DEFAULT_PROFILE,
        "whose corrections to use and keep (stored per model under the user's data folder)",
    )
    reset_profile: bool = option(False, "forget the profile's corrections for this model")
    collect: str | None = option(
        None,
        "ask for digits one by one (numbers with --multi) and save labelled drawings to FILE"
        " (digits train with 'train --drawn')",
        metavar="FILE",
    )
    writer: str | None = option(None, "writer name stored with --collect samples")
    collect_count: int | None = option(None, "stop after N samples in --collect")
    pen: str | None = option(
        None,
        "a pen model (pen-*.tflite/.onnx): also read the strokes' order and direction and fuse "
        "both readings, for single digits and each digit of a number (docs/pen.md)",
        metavar="FILE",
        default_text="the shipped one, with the shipped image models",
    )
    no_pen: bool = option(False, "read the picture alone (no pen channel)")

    def __post_init__(self) -> None:
        if self.size is not None:
            object.__setattr__(self, "size", parse_size(self.size))
        require(
            self.runtime in RUNTIME_CHOICES,
            f"--runtime {self.runtime!r} is unknown; choose one of: {', '.join(RUNTIME_CHOICES)}",
        )
        require(
            self.rotate in ROTATIONS, f"--rotate must be one of 0, 90, 180, 270; got {self.rotate}"
        )
        if self.threshold is not None:
            require_number("--threshold", self.threshold, 0.0, 1.0)
        if self.brush is not None:
            require_int("--brush", self.brush, 1, 200)
        if self.threads is not None:
            require_int("--threads", self.threads, 1, 64)
        require_int("--fps", self.fps, 10, 240)
        if self.tta is not None:
            require_int("--tta", self.tta, 1, MAX_VARIANTS)
        require(self.learn is None or isinstance(self.learn, bool), "learn must be true or false")
        for name in ("fullscreen", "multi", "live", "headless", "reset_profile", "no_pen"):
            require(
                isinstance(getattr(self, name), bool),
                f"{name.replace('_', '-')} must be true or false",
            )
        require(
            self.screenshot is None or self.screenshot.lower().endswith(".png"),
            f"--screenshot must name a .png file, got {self.screenshot!r}",
        )
        for flag in ("record", "replay", "collect", "screenshot", "writer", "pen", "model"):
            require(
                getattr(self, flag) != "", f"--{flag} needs a value; name a file or leave it out"
            )
        if self.collect_count is not None:
            require_int("--collect-count", self.collect_count, 1, 20000)
        require(
            not (self.replay and self.reset_profile),
            "--reset-profile resets the app's profile, which a replay never uses; drop one of them",
        )
        require(
            self.writer is None or 0 < len(self.writer) <= 200,
            "--writer must be a name of 1-200 characters",
        )
        require(
            not (self.pen and self.no_pen), "--pen FILE and --no-pen contradict; drop one of them"
        )

    def check_paths(self) -> None:
        """Every output path, before any window opens: a recording is never lost at the end,
        and no file is written that is read, collected or recorded under another flag."""
        named = [
            (flag, os.path.realpath(path))
            for flag, path in (
                ("--replay", self.replay),
                ("--record", self.record),
                ("--collect", self.collect),
                ("--screenshot", self.screenshot),
            )
            if path
        ]
        for i, (flag, path) in enumerate(named):
            for other, other_path in named[i + 1 :]:
                require(
                    path != other_path,
                    f"{flag} and {other} name the same file {path}; give each its own file",
                )
        if self.record:
            target = check_writable_file("--record", self.record)
            if target.exists():  # continued, never overwritten: it must be a stroke file
                from mnist_edge.ink.strokes import load_samples

                load_samples(target)
        if self.screenshot:
            check_writable_file("--screenshot", self.screenshot)
        if self.collect:
            from mnist_edge.edge_app.app.collect import Collector

            Collector.check(self.collect)
        from mnist_edge.edge_app.profile_files import check_name

        check_name(self.profile)


@dataclass(frozen=True)
class PredictConfig:
    images: tuple[str, ...] = option(
        (), "image files: one digit each (a number each with --multi)", flag=False
    )  # positional
    model: str | None = option(None, "a .tflite or .onnx model", default_text="the shipped one")
    runtime: str = option("auto", f"{', '.join(RUNTIME_CHOICES)}")
    threshold: float | None = option(
        None,
        "below this confidence the answer is 'not sure'",
        default_text="the model's calibrated threshold",
    )
    tta: int | None = option(
        None,
        f"read each digit N times, slightly varied (1-{MAX_VARIANTS}), as the app does",
        default_text=f"{DEFAULT_TTA} for a model calibrated for it, else 1",
    )
    json: bool = option(False, "one JSON object per line")
    multi: bool = option(False, "read a number (several digits) from each image")

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", tuple(self.images or ()))
        require(isinstance(self.multi, bool), "multi must be true or false")
        require(
            self.runtime in RUNTIME_CHOICES,
            f"--runtime {self.runtime!r} is unknown; choose one of: {', '.join(RUNTIME_CHOICES)}",
        )
        if self.threshold is not None:
            require_number("--threshold", self.threshold, 0.0, 1.0)
        if self.tta is not None:
            require_int("--tta", self.tta, 1, MAX_VARIANTS)
