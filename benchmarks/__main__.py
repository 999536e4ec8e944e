"""``python -m mnist_edge.benchmarks``: the ``bench`` command (an entry point: the top floor)."""

import sys

from mnist_edge.cli import run_standalone

sys.exit(run_standalone("bench"))
