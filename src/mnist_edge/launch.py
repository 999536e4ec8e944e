"""The console script's entry: a Ctrl-C while the command line's own modules load (its first
tenth of a second) is the one line "interrupted" too, never a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from mnist_edge.cli import main as run
    except KeyboardInterrupt:
        print("mnist-edge: interrupted", file=sys.stderr)
        return 130
    return run()
