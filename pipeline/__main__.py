"""``python -m mnist_edge.pipeline``: the ``pipeline`` command."""

import sys

from mnist_edge.cli import run_standalone

sys.exit(run_standalone("pipeline"))
