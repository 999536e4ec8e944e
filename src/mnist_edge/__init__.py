"""mnist-edge: handwritten-digit recognition trained on a workstation, deployed to the edge.

This core package is numpy-only: the CLI entry point, the MNIST data layer, the export-format
registry and small shared helpers. Every other package may import it; it imports none of them
at import time.

The public API (docs/api.md) is reachable from here and loaded on first use, so ``import
mnist_edge`` stays cheap (no numpy, OpenCV or runtime until a name below is touched)::

    import mnist_edge

    reader = mnist_edge.load()
    result = reader.read_number(mnist_edge.Ink([[(10, 10), (12, 40)], [(30, 10), (30, 40)]]))
    print(result.text, [c.text for c in result.candidates])
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first access, PEP 562).
_PUBLIC = {
    "load": "mnist_edge.edge_app.api",
    "Reader": "mnist_edge.edge_app.api",
    "Ink": "mnist_edge.edge_app.api_types",
    "WritingArea": "mnist_edge.edge_app.api_types",
    "Candidate": "mnist_edge.edge_app.api_types",
    "DigitResult": "mnist_edge.edge_app.api_types",
    "NumberResult": "mnist_edge.edge_app.api_types",
    "UserError": "mnist_edge.core.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'mnist_edge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
