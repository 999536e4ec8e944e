"""The ``mnist-edge`` console script: one parser, a subcommand per job.

Each job's package owns its arguments and its runner; this module only wires them together and
turns :class:`UserError` into one line on stderr and a non-zero exit. Heavy libraries load inside
the runners, so ``mnist-edge --help`` and the edge subcommands never import TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn

from mnist_edge import __version__
from mnist_edge.core.errors import UserError
from mnist_edge.core.quiet import configure
from mnist_edge.core.registry import RUNTIMES
from mnist_edge.core.signals import Stopped


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # where add_arguments and run live
    add_arguments: str
    run: str
    help: str
    children: tuple[Command, ...] = ()  # a group: ``mnist-edge GROUP SUBCOMMAND``

    def load(
        self,
    ) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]:
        module = importlib.import_module(self.module)
        return getattr(module, self.add_arguments), getattr(module, self.run)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "train",
            "mnist_edge.train.cli",
            "add_arguments",
            "run",
            "train a CNN on MNIST (workstation, TensorFlow)",
        ),
        Command(
            "evaluate",
            "mnist_edge.train.evaluate_cli",
            "add_arguments",
            "run",
            "re-compute test metrics and plots for a saved model.keras",
        ),
        Command(
            "export",
            "mnist_edge.export.cli",
            "add_arguments",
            "run",
            "convert a model.keras to TFLite and ONNX, validated, with a manifest",
        ),
        Command(
            "bench",
            "mnist_edge.benchmarks.cli",
            "add_arguments",
            "run",
            "latency, accuracy, size, memory per model format and runtime",
        ),
        Command(
            "photos",
            "mnist_edge.benchmarks.photos",
            "add_arguments",
            "run",
            "read constructed photos of MNIST test digits as predict reads files",
        ),
        Command(
            "draw",
            "mnist_edge.edge_app.app.draw_cli",
            "add_arguments",
            "run",
            "the touch-drawing app: draw a digit, see the prediction live",
        ),
        Command(
            "predict",
            "mnist_edge.edge_app.predict_cli",
            "add_arguments",
            "run",
            "read digits from image files",
        ),
        Command(
            "pipeline",
            "mnist_edge.pipeline.run",
            "add_arguments",
            "run",
            "train -> export -> benchmark -> report; --promote ships the result",
        ),
        Command(
            "data",
            "mnist_edge.data_cli",
            "add_arguments",
            "run",
            "find, download and verify MNIST; copy it to a folder",
        ),
        Command(
            "numbers",
            "",
            "",
            "",
            "numbers of several digits: compose files of them, fit and measure their reader",
            children=(
                Command(
                    "compose",
                    "mnist_edge.train.numbers_cli",
                    "add_compose",
                    "run_compose",
                    "write numbers composed from drawn digits to a new stroke file",
                ),
                Command(
                    "fit",
                    "mnist_edge.train.numbers_cli",
                    "add_fit",
                    "run_fit",
                    "fit the number reader's scores on training writers' numbers (data file)",
                ),
                Command(
                    "bench",
                    "mnist_edge.benchmarks.tools_cli",
                    "add_numbers_bench",
                    "run_numbers_bench",
                    "numbers read through the app per length and spacing, beside the ceiling",
                ),
                Command(
                    "speed",
                    "mnist_edge.benchmarks.tools_cli",
                    "add_numbers_speed",
                    "run_numbers_speed",
                    "how fast the app reads a 5-digit number: cold, after the last stroke, frames",
                ),
                Command(
                    "pictures",
                    "mnist_edge.benchmarks.tools_cli",
                    "add_numbers_pictures",
                    "run_numbers_pictures",
                    "numbers read from pictures (predict --multi) per length and spacing",
                ),
            ),
        ),
        Command(
            "estimate",
            "mnist_edge.benchmarks.tools_cli",
            "add_estimate",
            "run_estimate",
            "estimate latency on a Raspberry Pi 4 / 5 from a bench or numbers speed record",
        ),
        Command(
            "compare",
            "mnist_edge.benchmarks.tools_cli",
            "add_compare",
            "run_compare",
            "trained runs side by side: size, accuracy, latency, the drawn dev set",
        ),
        Command(
            "pen",
            "",
            "",
            "",
            "the pen channel's workstation jobs: train, calibrate the fusion, export",
            children=(
                Command(
                    "train",
                    "mnist_edge.train.pen_cli",
                    "add_train",
                    "run_train",
                    "train the pen model on drawn files' training writers (or --ensemble)",
                ),
                Command(
                    "fusion",
                    "mnist_edge.train.pen_cli",
                    "add_fusion",
                    "run_fusion",
                    "calibrate and measure fusing the pen's reading with the picture's",
                ),
                Command(
                    "export",
                    "mnist_edge.export.pen_cli",
                    "add_export",
                    "run_export",
                    "the pen model to TFLite and ONNX, validated on held-out writers",
                ),
            ),
        ),
        Command(
            "styles",
            "",
            "",
            "",
            "writing styles of held-out writers as a test set, read style by style",
            children=(
                Command(
                    "write",
                    "mnist_edge.train.style_set",
                    "add_write",
                    "run_write",
                    "one replay file per style from held-out writers' digits",
                ),
                Command(
                    "report",
                    "mnist_edge.train.style_set",
                    "add_report",
                    "run_report",
                    "each model's reading per style: image, pen, fused",
                ),
            ),
        ),
        Command(
            "collect-cost",
            "mnist_edge.benchmarks.tools_cli",
            "add_collect_cost",
            "run_collect_cost",
            "what one Save costs in 'draw --collect' as the file grows (on a copy)",
        ),
    )
}


#: Libraries a command may need beyond the core, and the extra that brings each.
EXTRAS = {
    "tensorflow": "train",
    "tf2onnx": "train",
    "onnx": "train",
    "sympy": "train",
    "matplotlib": "plots",
    "pygame": "edge",
    "cv2": "edge",
    # The runtimes' modules, from the registry (tflite-runtime is in no extra: see its hint).
    **{
        r.module.split(".")[0]: "edge" if r.edge else "train"
        for r in RUNTIMES.values()
        if not r.edge or not r.install_hint
    },
}


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what is wrong and where help is, not the whole usage.
    Every parser of the command line is one of these (subcommands inherit the class), and none
    takes abbreviations: ``--mul`` is an error, not ``--multi``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}; see '{self.prog} --help'", file=sys.stderr)
        raise SystemExit(2)


def _words(argv: list[str]) -> list[str]:
    """The words that are not options: the command, a group's subcommand, then arguments."""
    return [word for word in argv if not word.startswith("-")]


VERBOSE_HELP = "show the frameworks' own logs (TensorFlow, LiteRT)"


def _add_commands(
    sub: argparse._SubParsersAction, commands: Iterable[Command], words: list[str]
) -> None:
    """A parser per command; only the one ``words`` name is loaded and given its arguments (a
    group's children likewise, by the next word)."""
    load = words[0] if words else None
    for command in commands:
        chosen = command.name == load
        child = sub.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            add_help=chosen or bool(command.children),
        )
        if command.children:
            nested = child.add_subparsers(
                dest=f"{command.name}_command", metavar="SUBCOMMAND", required=True
            )
            _add_commands(nested, command.children, words[1:] if chosen else [])
        elif chosen:
            add_arguments, run = command.load()
            add_arguments(child)
            child.add_argument(
                "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
            )
            child.set_defaults(_run=run)


def _parser(
    commands: list[Command], prog: str | None = None, load: str | list[str] | None = None
) -> argparse.ArgumentParser:
    """The top parser. Only the ``load`` subcommand's module is imported and its arguments
    built: ``mnist-edge draw`` never loads the training or export code, ``--help`` none.
    ``load`` may be the command line's words (a group and its subcommand)."""
    parser = Parser(
        prog=prog or "mnist-edge",
        description="Handwritten-digit recognition: train on a workstation, run on the edge.",
    )
    parser.add_argument("--version", action="version", version=f"mnist-edge {__version__}")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
    )
    _add_commands(sub, commands, [load] if isinstance(load, str) else list(load or []))
    return parser


def _execute(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args = parser.parse_args(argv)
    configure(getattr(args, "verbose", False))
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return _interrupted(parser.prog)
    except Stopped as stop:
        print(f"{parser.prog}: stopped by SIGTERM", file=sys.stderr)
        return stop.exit_code
    except BrokenPipeError:
        return _stdout_gone()
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(
            f"{parser.prog}: error: this command needs {exc.name}, which is not installed; "
            f"pip install 'mnist-edge[{extra}]'",
            file=sys.stderr,
        )
        return 2


def _interrupted(prog: str) -> int:
    print(f"{prog}: interrupted", file=sys.stderr)
    return 130


def _stdout_gone() -> int:
    """Whoever read stdout stopped (``| head``): end quietly as Unix tools do, as if killed by
    SIGPIPE, with stdout pointed at /dev/null so that the exit's own flush cannot fail too."""
    import os
    import signal

    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def _own_sigterm() -> None:
    """SIGTERM stops every command, from the first instruction: an ignored SIGTERM inherited
    from the parent (SIG_IGN survives exec) would otherwise discard a stop sent while the
    command loads, before ``draw`` installs its handler, and the run would go on to its end."""
    import signal

    if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    _own_sigterm()
    argv = sys.argv[1:] if argv is None else argv
    try:  # Ctrl-C while the commands load, before _execute has its own handler
        parser = _parser(list(COMMANDS.values()), load=_words(argv))
    except KeyboardInterrupt:
        return _interrupted("mnist-edge")
    return _execute(parser, argv)


def run_standalone(name: str, argv: list[str] | None = None) -> int:
    """Entry for ``python -m <package>``: the package's own subcommand, without naming it."""
    command = COMMANDS[name]
    add_arguments, run = command.load()
    package = command.module.rsplit(".", 1)[0]
    parser = Parser(prog=f"python -m {package}", description=command.help)
    add_arguments(parser)
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    parser.set_defaults(_run=run)
    return _execute(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
