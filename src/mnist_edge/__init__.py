"""mnist-edge: handwritten-digit recognition trained on a workstation, deployed to the edge.

This core package is numpy-only: the CLI entry point, the MNIST data layer, the export-format
registry and small shared helpers. Every other package may import it; it imports none of them
at import time.
"""

__version__ = "0.1.0"
