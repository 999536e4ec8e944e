"""``mnist-edge draw`` (the touch app) and ``mnist-edge predict`` (image files)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_app.layout import ROTATIONS
from edge_app.runtime import RUNTIMES
from mnist_edge.config import require
from mnist_edge.errors import UserError

RUNTIME_CHOICES = ("auto", *RUNTIMES)


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    w, sep, h = text.lower().partition("x")
    require(bool(sep) and w.isdigit() and h.isdigit() and int(w) >= 240 and int(h) >= 240,
            f"--size must be WIDTHxHEIGHT of at least 240x240, e.g. 800x480; got {text!r}")
    return int(w), int(h)


@dataclass(frozen=True)
class DrawConfig:
    model: str | None = None
    runtime: str = "auto"
    fullscreen: bool = False
    size: tuple[int, int] | str | None = None  # "WxH" from a flag or TOML, parsed below
    rotate: int = 0
    threshold: float = 0.6
    multi: bool = False
    brush: int | None = None
    live: bool = True
    record: str | None = None
    replay: str | None = None
    headless: bool = False
    screenshot: str | None = None
    threads: int | None = None
    fps: int = 60

    def __post_init__(self) -> None:
        if isinstance(self.size, str):
            object.__setattr__(self, "size", parse_size(self.size))
        require(self.runtime in RUNTIME_CHOICES, f"unknown runtime {self.runtime!r}; choose "
                f"one of: {', '.join(RUNTIME_CHOICES)}")
        require(self.rotate in ROTATIONS, f"--rotate must be one of 0, 90, 180, 270; "
                f"got {self.rotate}")
        require(0.0 <= self.threshold <= 1.0, f"--threshold must be between 0 and 1, "
                f"got {self.threshold}")
        require(self.brush is None or 1 <= self.brush <= 200,
                f"--brush must be 1-200 pixels, got {self.brush}")
        require(self.threads is None or self.threads >= 1, "--threads must be at least 1")
        require(10 <= self.fps <= 240, f"--fps must be 10-240, got {self.fps}")
        require(self.screenshot is None or self.screenshot.lower().endswith(".png"),
                f"--screenshot must name a .png file, got {self.screenshot!r}")


def add_draw_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="a .tflite or .onnx model (default: the shipped one)")
    parser.add_argument("--runtime", choices=RUNTIME_CHOICES,
                        help="auto (default): ai-edge-litert, else tflite-runtime, else "
                        "onnxruntime")
    parser.add_argument("--fullscreen", action="store_true", default=None,
                        help="use the whole screen")
    parser.add_argument("--size", help="window size WIDTHxHEIGHT (default 800x480)")
    parser.add_argument("--rotate", type=int, help="rotate the UI 0/90/180/270 "
                        "degrees clockwise (e.g. 90 for Touch Display 2 in landscape)")
    parser.add_argument("--threshold", type=float,
                        help="below this confidence the app says it is not sure (default 0.6)")
    parser.add_argument("--multi", action="store_true", default=None,
                        help="read several digits (a number)")
    parser.add_argument("--brush", type=int, help="brush diameter in pixels "
                        "(default: 1/18 of the canvas)")
    parser.add_argument("--live", action=argparse.BooleanOptionalAction,
                        help="also predict while a stroke is drawn (throttled; default on)")
    parser.add_argument("--record", metavar="FILE", help="save the strokes drawn to FILE")
    parser.add_argument("--replay", metavar="FILE", help="play strokes from FILE "
                        "(mnist-edge-strokes/1) through the app, sample by sample")
    parser.add_argument("--headless", action="store_true", default=None,
                        help="no window (SDL dummy driver): "
                        "with --replay print one JSON line per sample and exit")
    parser.add_argument("--screenshot", metavar="PNG", help="save the last frame to PNG")
    parser.add_argument("--threads", type=int, help="inference threads (default: runtime's)")
    parser.add_argument("--fps", type=int, help="frame-rate cap (default 60)")
    parser.add_argument("--config", help="TOML file with any of these options; flags win")


def import_pygame() -> Any:
    """Import pygame without setuptools' pkg_resources.

    pygame.pkgdata imports pkg_resources when it is installed (150 ms here, far more on a Pi 4)
    only to find its bundled font, which it also finds by path. A None entry in sys.modules
    makes that one import fail, as Python documents; it is removed again right after.
    """
    blocked = "pkg_resources" not in sys.modules
    if blocked:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]
    try:
        import pygame
    except ImportError:
        raise UserError("pygame is not installed; pip install pygame "
                        "(or: pip install 'mnist-edge[edge]')") from None
    finally:
        if blocked:
            del sys.modules["pkg_resources"]
    return pygame


def _load(model_arg: str | None, runtime: str, threads: int | None) -> Any:
    from edge_app.runtime import load_model
    from edge_app.shipped import default_model

    if model_arg:
        return load_model(model_arg, runtime, threads)
    path, name = default_model(runtime)
    return load_model(path, name, threads)


def run_draw(args: argparse.Namespace) -> int:
    from mnist_edge.config import build_config

    config = build_config(DrawConfig, vars(args), args.config, section="draw")
    from edge_app.strokes import load_samples

    samples = load_samples(config.replay) if config.replay else None  # fail before any window
    pygame = import_pygame()
    from edge_app.app import App, AppConfig, describe_model, error_screen, open_display
    from edge_app.recognizer import Recognizer
    from edge_app.runtime import runtime_version

    try:
        model = _load(config.model, config.runtime, config.threads)
    except UserError as exc:
        if not config.headless and os.environ.get("SDL_VIDEODRIVER") != "dummy":
            try:
                error_screen(pygame, open_display(pygame, config.size, config.fullscreen,
                                                  False), str(exc))
            except UserError:
                pass  # no display either: the terminal message below is all we can do
            finally:
                pygame.quit()
        raise
    print(f"mnist-edge: runtime {model.runtime} {runtime_version(model.runtime) or ''}, "
          f"model {model.path}", file=sys.stderr)
    screen = open_display(pygame, config.size, config.fullscreen, config.headless)
    from mnist_edge.sysinfo import seconds_since_start
    app = App(pygame, screen, Recognizer(model, config.threshold),
              AppConfig(threshold=config.threshold, multi=config.multi, brush=config.brush,
                        live=config.live, rotate=config.rotate, fps=config.fps,
                        record=config.record, headless=config.headless),
              describe_model(model))
    try:
        if samples is not None:
            stats = app.replay(samples, headless=config.headless)
            if stats["labelled"]:
                print(f"mnist-edge: replayed {stats['samples']} samples, read "
                      f"{stats['correct']}/{stats['labelled']} correctly "
                      f"({stats['correct'] / stats['labelled']:.2%})", file=sys.stderr)
            print(f"mnist-edge: {app.performance()}", file=sys.stderr)
        elif config.headless:
            app.clock = pygame.time.Clock()
            app.frame(None)
            since = seconds_since_start()
            if since is not None:
                print(f"mnist-edge: first frame {since * 1000:.0f} ms after process start",
                      file=sys.stderr)
        else:
            app.run()
        if app.strokes and config.record:
            app.clear()  # files the last drawing into the recording
    finally:
        app.save_recording()
        if config.screenshot:
            app.dirty = True
            app.draw()
            app.save_screenshot(Path(config.screenshot))
        pygame.quit()
    return 0


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files of one digit")
    parser.add_argument("--model", help="a .tflite or .onnx model (default: the shipped one)")
    parser.add_argument("--runtime", choices=RUNTIME_CHOICES, default="auto")
    parser.add_argument("--threshold", type=float, default=0.6,
                        help="below this confidence the answer is 'not sure'")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def run_predict(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from edge_app.preprocess import image_to_canvas
    from edge_app.recognizer import Recognizer

    require(0.0 <= args.threshold <= 1.0, "--threshold must be between 0 and 1")
    recognizer = Recognizer(_load(args.model, args.runtime, None), args.threshold)
    failures = 0
    for name in args.images:
        image = cv2.imread(name, cv2.IMREAD_UNCHANGED) if Path(name).is_file() else None
        if image is None:
            failures += 1
            why = "not found" if not Path(name).exists() else "not a readable image"
            print(f"{name}: error: {why}", file=sys.stderr)
            continue
        if image.ndim == 3 and image.shape[2] == 4:  # transparent background -> white paper
            alpha = image[:, :, 3:4].astype(np.float32) / 255.0
            image = (image[:, :, :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if image.dtype != np.uint8:
            image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        reading = recognizer.read(image_to_canvas(image))
        if reading is None:
            result = {"file": name, "digit": None, "confidence": 0.0, "sure": False}
            text = "no ink found"
        else:
            p = reading.prediction
            sure = recognizer.sure(p)
            result = {"file": name, "digit": p.digit, "confidence": round(p.confidence, 4),
                      "sure": sure, "top3": [[d, round(c, 4)] for d, c in p.top(3)]}
            text = f"{p.digit} ({p.confidence:.1%})" if sure else \
                f"not sure: {p.digit} ({p.confidence:.1%})"
        print(json.dumps(result) if args.json else f"{name}: {text}")
    if failures:
        raise UserError(f"{failures} of {len(args.images)} images could not be read")
    return 0


def main(argv: list[str] | None = None) -> int:
    from mnist_edge.cli import run_standalone

    return run_standalone("draw", argv)


if __name__ == "__main__":
    sys.exit(main())
