"""``mnist-edge draw`` (the touch app) and ``mnist-edge predict`` (image files)."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_edge.core.config import require, require_int, require_number
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import check_writable_file
from mnist_edge.core.registry import EDGE_RUNTIMES
from mnist_edge.edge_app.layout import ROTATIONS
from mnist_edge.edge_app.tta import DEFAULT_TTA, MAX_VARIANTS

RUNTIME_CHOICES = ("auto", *EDGE_RUNTIMES)
MAX_SIDE = 8192
DEFAULT_PROFILE = "default"
DEFAULT_THRESHOLD = 0.6


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
    model: str | None = None
    runtime: str = "auto"
    fullscreen: bool = False
    size: tuple[int, int] | str | None = None  # "WxH" from a flag or TOML, parsed below
    rotate: int = 0
    threshold: float | None = None  # None: the model's calibrated threshold, else 0.6
    multi: bool = False
    brush: int | None = None
    live: bool = True
    record: str | None = None
    replay: str | None = None
    headless: bool = False
    screenshot: str | None = None
    threads: int | None = None
    fps: int = 60
    tta: int | None = None  # None: DEFAULT_TTA for a model calibrated for it, else 1
    learn: bool | None = None  # None: on in the app, off in replays (--learn simulates)
    profile: str = DEFAULT_PROFILE
    reset_profile: bool = False
    collect: str | None = None
    writer: str | None = None
    collect_count: int | None = None
    pen: str | None = None  # a pen model: fuse the strokes' reading with the picture's

    def __post_init__(self) -> None:
        if self.size is not None:
            object.__setattr__(self, "size", parse_size(self.size))
        require(
            self.runtime in RUNTIME_CHOICES,
            f"unknown runtime {self.runtime!r}; choose one of: {', '.join(RUNTIME_CHOICES)}",
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
        for name in ("fullscreen", "multi", "live", "headless", "reset_profile"):
            require(
                isinstance(getattr(self, name), bool),
                f"{name.replace('_', '-')} must be true or false",
            )
        require(
            self.screenshot is None or self.screenshot.lower().endswith(".png"),
            f"--screenshot must name a .png file, got {self.screenshot!r}",
        )
        for flag in ("record", "replay", "collect", "screenshot", "writer"):
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
                from mnist_edge.edge_app.strokes import load_samples

                load_samples(target)
        if self.screenshot:
            check_writable_file("--screenshot", self.screenshot)
        if self.collect:
            from mnist_edge.edge_app.collect import Collector

            Collector.check(self.collect)
        from mnist_edge.edge_app.learn import check_name

        check_name(self.profile)


def add_draw_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="a .tflite or .onnx model (default: the shipped one)")
    parser.add_argument(
        "--runtime",
        choices=RUNTIME_CHOICES,
        help="auto (default): ai-edge-litert, else tflite-runtime, else onnxruntime",
    )
    parser.add_argument(
        "--fullscreen", action="store_true", default=None, help="use the whole screen"
    )
    parser.add_argument("--size", help="window size WIDTHxHEIGHT (default 800x480)")
    parser.add_argument(
        "--rotate",
        type=int,
        help="rotate the UI 0/90/180/270 "
        "degrees clockwise (e.g. 90 for Touch Display 2 in landscape)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        help="below this confidence the app says it is not sure (default: the threshold the "
        f"model was calibrated for, else {DEFAULT_THRESHOLD})",
    )
    parser.add_argument(
        "--multi", action="store_true", default=None, help="read several digits (a number)"
    )
    parser.add_argument(
        "--brush", type=int, help="brush diameter in pixels (default: 1/18 of the canvas)"
    )
    parser.add_argument(
        "--live",
        action=argparse.BooleanOptionalAction,
        help="also predict while a stroke is drawn (throttled; default on)",
    )
    parser.add_argument(
        "--tta",
        type=int,
        help=f"read each digit N times, slightly varied, and average (1-{MAX_VARIANTS}; "
        f"default {DEFAULT_TTA} for a model calibrated for it, else 1 = read once); the 'not "
        "sure' threshold follows N as calibrated",
    )
    parser.add_argument(
        "--learn",
        action=argparse.BooleanOptionalAction,
        help="learn from corrections: tap the right digit's bar (or press "
        "0-9) when a reading is wrong (default on); with --replay, simulate "
        "a person who corrects every misreading",
    )
    parser.add_argument(
        "--profile",
        help="whose corrections to use and keep "
        f"(default {DEFAULT_PROFILE!r}; stored per model under the user's data "
        "folder)",
    )
    parser.add_argument(
        "--reset-profile",
        action="store_true",
        default=None,
        help="forget the profile's corrections for this model",
    )
    parser.add_argument(
        "--collect",
        metavar="FILE",
        help="ask for digits one by one and save labelled drawings to FILE (for 'train --drawn')",
    )
    parser.add_argument("--writer", help="writer name stored with --collect samples")
    parser.add_argument("--collect-count", type=int, help="stop after N samples in --collect")
    parser.add_argument("--record", metavar="FILE", help="save the strokes drawn to FILE")
    parser.add_argument(
        "--replay",
        metavar="FILE",
        help="play strokes from FILE (mnist-edge-strokes/1) through the app, sample by sample",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        default=None,
        help="no window (SDL dummy driver): with --replay print one JSON line per sample and exit",
    )
    parser.add_argument("--screenshot", metavar="PNG", help="save the last frame to PNG")
    parser.add_argument("--threads", type=int, help="inference threads (default: runtime's)")
    parser.add_argument("--fps", type=int, help="frame-rate cap (default 60)")
    parser.add_argument(
        "--pen",
        metavar="FILE",
        help="a pen model (pen-*.tflite/.onnx): also read the strokes' order and direction and "
        "fuse both readings (docs/pen.md)",
    )
    parser.add_argument("--config", help="TOML file with any of these options; flags win")


def load(model_arg: str | None, runtime: str, threads: int | None) -> Any:
    """The model to run: ``--model``, else the shipped default for the runtime."""
    from mnist_edge.edge_app.runtime import load_model
    from mnist_edge.edge_app.shipped import default_model

    if model_arg:
        return load_model(model_arg, runtime, threads)
    path, name = default_model(runtime)
    return load_model(path, name, threads)


def _pen(config: DrawConfig) -> Any:
    """The pen channel of ``--pen FILE`` (None without): one-line errors for a bad file."""
    if not config.pen:
        return None
    from mnist_edge.edge_app.fusion import PenChannel
    from mnist_edge.edge_app.pen import load_pen_model

    channel = PenChannel.from_model(load_pen_model(config.pen, config.runtime, config.threads))
    print(
        f"mnist-edge: pen model {config.pen}, weight {channel.weight:g}, "
        f"not sure below {channel.threshold:.2f} when fused",
        file=sys.stderr,
    )
    return channel


def _tta(flag: int | None, model: Any) -> int:
    """--tta, else the app's default count where the model carries a threshold calibrated for
    it; a model calibrated for reading once (or not at all) reads once, so that its "not sure"
    keeps the meaning it was calibrated for."""
    if flag is not None:
        return flag
    return DEFAULT_TTA if model.calibrated_tta_threshold(DEFAULT_TTA) is not None else 1


def _threshold(flag: float | None, model: Any, tta: int) -> float:
    """--threshold, else the threshold the model was calibrated for (at this --tta), else the
    default."""
    if flag is not None:
        return flag
    calibrated = model.threshold_for(tta)
    return calibrated if calibrated is not None else DEFAULT_THRESHOLD


def _learner(config: DrawConfig, model: Any) -> tuple[Any, str | None]:
    """The profile for this model, or None (no learning), and a message for the user."""
    wanted = config.learn if config.learn is not None else not config.replay
    if not wanted or model.embedding is None:
        why = (
            None
            if not wanted
            else "this model has no embedding output (an older export): learning is off"
        )
        return None, why
    from mnist_edge.core.fsutil import sha256_file
    from mnist_edge.edge_app.learn import Learner

    dim = int(model.embedding.shape[-1])
    if config.replay:  # replays simulate a person: never the user's real profile
        return Learner("replay", dim), None
    learner, note = Learner.open(config.profile, sha256_file(model.path), dim)
    if config.reset_profile:
        problem = learner.reset()
        done = f"profile {config.profile!r} reset for this model"
        note = problem or "; ".join(filter(None, [note, done]))  # a lock note stays true
    return learner, note


def run_draw(args: argparse.Namespace) -> int:
    from mnist_edge.edge_app.signals import stop_on_sigterm

    stops: list[int] = []  # SIGTERM from the start: a stop asked for while loading still counts
    with stop_on_sigterm(stops.append):
        return _run_draw(args, stops)


def _run_draw(args: argparse.Namespace, stops: list[int]) -> int:
    from mnist_edge.core.config import build_config

    config = build_config(DrawConfig, vars(args), args.config, section="draw")
    config.check_paths()
    from mnist_edge.edge_app.strokes import load_samples

    samples = load_samples(config.replay) if config.replay else None  # fail before any window
    from mnist_edge.edge_app.display import error_screen, import_pygame, open_display

    pygame = import_pygame()
    from mnist_edge.edge_app.app import App, AppConfig
    from mnist_edge.edge_app.collect import Collector
    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.edge_app.runtime import runtime_version
    from mnist_edge.edge_app.stroke_writer import StrokeWriter

    try:
        model = load(config.model, config.runtime, config.threads)
    except UserError as exc:
        if not config.headless and os.environ.get("SDL_VIDEODRIVER") != "dummy":
            try:
                error_screen(
                    pygame, open_display(pygame, config.size, config.fullscreen, False), str(exc)
                )
            except UserError:
                pass  # no display either: the terminal message below is all we can do
            finally:
                pygame.quit()
        raise
    learner, note = _learner(config, model)
    tta = _tta(config.tta, model)
    threshold = _threshold(config.threshold, model, tta)
    pen = _pen(config)  # before any window or file is opened: a bad file is one line
    print(
        f"mnist-edge: runtime {model.runtime} {runtime_version(model.runtime) or ''}, "
        f"model {model.path}"
        + (f", tta {tta}" if tta > 1 else "")
        + f", not sure below {threshold:.2f}",
        file=sys.stderr,
    )
    if note:
        print(f"mnist-edge: {note}", file=sys.stderr)
    collector = (
        Collector(config.collect, config.writer, target=config.collect_count)
        if config.collect
        else None
    )
    try:
        recorder = StrokeWriter.open(config.record, "--record") if config.record else None
    except BaseException:
        if collector is not None:
            collector.close()
        raise
    screen = open_display(pygame, config.size, config.fullscreen, config.headless)
    app = App(
        pygame,
        screen,
        Recognizer(model, threshold, tta, learner, pen),
        AppConfig(
            multi=config.multi,
            brush=config.brush,
            live=config.live,
            rotate=config.rotate,
            fps=config.fps,
            learn=config.learn is not False,
        ),
        Path(model.path).name,
        collector,
        recorder,
    )
    if note:
        app.state.say(note, warning=True)
    try:
        status = _drive(app, config, samples, pygame, stops)
    finally:
        for held in (collector, recorder):
            if held is not None:
                held.close()
        lost = learner.close() if learner is not None else None
        if lost:
            print(f"mnist-edge: {lost}", file=sys.stderr)
        if config.screenshot:
            app.draw(force=True)
            try:
                app.save_screenshot(Path(config.screenshot))
            except (OSError, pygame.error) as exc:
                raise UserError(
                    f"cannot save the screenshot {config.screenshot} "
                    f"({exc}); choose a writable .png path"
                ) from None
            finally:
                pygame.quit()
        else:
            pygame.quit()
    return status


def _drive(app: Any, config: DrawConfig, samples: Any, pygame: Any, stops: list[int]) -> int:
    """Run the app (or the replay); returns the exit status. ``stops``: SIGTERMs so far."""
    status = 0
    from mnist_edge.core.sysinfo import seconds_since_start
    from mnist_edge.edge_app.replay import performance, replay

    if samples is not None:
        learn = bool(
            config.learn is True
            and app.recognizer.learner is not None
            and any(s.label is not None for s in samples)
            and not config.multi
        )
        if stops:  # asked to stop while loading: replay nothing
            app.state.running = False
        stats = replay(app, samples, headless=config.headless, learn=learn)
        for line in stats.summary(learn):
            print(f"mnist-edge: {line}", file=sys.stderr)
        print(f"mnist-edge: {performance(app, stats)}", file=sys.stderr)
        stopped_by = stats.stopped_by or (stops[0] if stops else None)
        if stopped_by is not None:
            status = 128 + stopped_by  # the shell's code for "killed by that signal"
    elif config.headless:
        app.frame(None)
        since = seconds_since_start()
        if since is not None:
            print(
                f"mnist-edge: first frame {since * 1000:.0f} ms after process start",
                file=sys.stderr,
            )
    else:
        app.run(stop=lambda: bool(stops))
        if stops:  # systemd's way to stop the kiosk: a clean end, exit 0
            print("mnist-edge: stopped by SIGTERM", file=sys.stderr)
    if app.strokes and config.record:
        app.clear()  # files the last drawing into the recording
    return status


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files of one digit")
    parser.add_argument("--model", help="a .tflite or .onnx model (default: the shipped one)")
    parser.add_argument("--runtime", choices=RUNTIME_CHOICES, default="auto")
    parser.add_argument(
        "--threshold",
        type=float,
        help="below this confidence the answer is 'not sure' (default: the model's calibrated "
        "threshold)",
    )
    parser.add_argument(
        "--tta",
        type=int,
        help=f"read each digit N times, slightly varied (1-{MAX_VARIANTS}; default "
        f"{DEFAULT_TTA} for a model calibrated for it, else 1, as the app)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def _read_image(name: str) -> tuple[Any, str | None]:
    """A grayscale uint8 picture of a digit, or why it cannot be one."""
    from mnist_edge.edge_app.image_file import ImageFileError, read_image

    try:
        return read_image(name), None
    except ImageFileError as exc:
        return None, str(exc)


def run_predict(args: argparse.Namespace) -> int:
    from mnist_edge.edge_app.preprocess import image_to_canvas
    from mnist_edge.edge_app.recognizer import Recognizer

    if args.threshold is not None:
        require_number("--threshold", args.threshold, 0.0, 1.0)
    if args.tta is not None:
        require_int("--tta", args.tta, 1, MAX_VARIANTS)
    model = load(args.model, args.runtime, None)
    tta = _tta(args.tta, model)
    recognizer = Recognizer(model, _threshold(args.threshold, model, tta), tta)
    failures: list[str] = []
    for name in args.images:
        image, why = _read_image(name)
        if image is None:
            failures.append(f"{name}: {why}")
            if len(args.images) > 1:
                print(f"{name}: skipped: {why}", file=sys.stderr)
            continue
        reading = recognizer.read(image_to_canvas(image))
        if reading is None:
            result = {"file": name, "digit": None, "confidence": 0.0, "sure": False}
            text = "no ink found"
        else:
            p = reading.prediction
            sure = recognizer.sure(p)
            confidence = p.confidence if math.isfinite(p.confidence) else 0.0
            result = {
                "file": name,
                "digit": p.digit,
                "confidence": round(confidence, 4),
                "sure": sure,
                "top3": [[d, round(c, 4)] for d, c in p.top(3)],
            }
            text = (
                f"{p.digit} ({confidence:.1%})"
                if sure
                else f"not sure: {p.digit} ({confidence:.1%})"
            )
        print(json.dumps(result, allow_nan=False) if args.json else f"{name}: {text}")
    if len(failures) == 1 and len(args.images) == 1:
        raise UserError(f"{failures[0]}; pass a picture of one digit (PNG, JPEG, ...)")
    if failures:
        raise UserError(
            f"{len(failures)} of {len(args.images)} images could not be read (listed above)"
        )
    return 0
