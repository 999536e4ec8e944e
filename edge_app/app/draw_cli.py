"""``mnist-edge draw``: the touch app, its replay driver and its profile of corrections."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mnist_edge.core.config import add_options
from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.config import DrawConfig
from mnist_edge.edge_app.reading import choose_threshold, choose_tta, load_default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, DrawConfig)


def _pen(config: DrawConfig, model: Any) -> Any:
    """The pen channel: ``--pen FILE``, else the shipped pen file for the image model's
    runtime where one is installed and the image model is a shipped one (the fusion was
    calibrated for them); None with ``--no-pen``. One-line errors for a bad file."""
    if config.no_pen:
        return None
    from mnist_edge.edge_app.pen.default import pen_channel

    runtime = config.runtime if config.pen else None
    channel = pen_channel(model, config.pen or None, runtime, config.threads)
    if channel is None:
        return None
    print(
        f"mnist-edge: pen model {channel.model.path}, weight {channel.weight:g}, not sure below "
        f"{channel.threshold:.2f} when fused ({channel.number_threshold:.2f} for a number's "
        "digits"
        + (
            f", and a number split within {channel.split_margin:g} of another length"
            if channel.split_margin
            else ""
        )
        + "); --no-pen reads the picture alone",
        file=sys.stderr,
    )
    return channel


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


def run(args: argparse.Namespace) -> int:
    from mnist_edge.core.signals import stop_on_sigterm

    stops: list[int] = []  # SIGTERM from the start: a stop asked for while loading still counts
    with stop_on_sigterm(stops.append):
        return _run_draw(args, stops)


def _run_draw(args: argparse.Namespace, stops: list[int]) -> int:
    from mnist_edge.core.config import build_config

    config = build_config(DrawConfig, vars(args), args.config, section="draw")
    config.check_paths()
    from mnist_edge.ink.strokes import load_samples

    samples = load_samples(config.replay) if config.replay else None  # fail before any window
    if samples and not config.multi and any(isinstance(s.label, str) for s in samples):
        raise UserError(f"--replay {config.replay} holds numbers: replay it with --multi")
    from mnist_edge.edge_app.app.display import error_screen, import_pygame, open_display

    pygame = import_pygame()
    from mnist_edge.edge_app.app import screenshot
    from mnist_edge.edge_app.app.collect import Collector
    from mnist_edge.edge_app.app.loop import App, AppConfig
    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.edge_app.runtime import runtime_version
    from mnist_edge.ink.stroke_writer import StrokeWriter

    try:
        model = load_default(config.model, config.runtime, config.threads)
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
    tta = choose_tta(config.tta, model)
    threshold = choose_threshold(config.threshold, model, tta)
    pen = _pen(config, model)  # before any window or file is opened: a bad file is one line
    print(
        f"mnist-edge: runtime {model.runtime} {runtime_version(model.runtime) or ''}, "
        f"model {model.path}"
        + (f", tta {tta}" if tta > 1 else "")
        + f", not sure below {threshold:.2f}",
        file=sys.stderr,
    )
    if note:
        print(f"mnist-edge: {note}", file=sys.stderr)
    if config.multi:  # numbers are read with scores fitted for one trained model
        from mnist_edge.edge_app.numbers.weights import shipped_scores

        mismatch = shipped_scores().mismatch(model)
        if mismatch:
            print(f"mnist-edge: note: {mismatch}", file=sys.stderr)
    collector = (
        Collector(config.collect, config.writer, target=config.collect_count, numbers=config.multi)
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
                screenshot.save(app, Path(config.screenshot))
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
    from mnist_edge.edge_app.app.replay import performance, replay

    if samples is not None:
        learn = bool(
            config.learn is True
            and app.recognizer.learner is not None
            and any(s.label is not None for s in samples)
        )
        if stops:  # asked to stop while loading: replay nothing
            app.state.running = False
        stats = replay(app, samples, headless=config.headless, learn=learn)
        for line in stats.summary(learn):
            print(f"mnist-edge: {line}", file=sys.stderr)
        figures = performance(app, stats)
        if figures:  # nothing was replayed: no line
            print(f"mnist-edge: {figures}", file=sys.stderr)
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
