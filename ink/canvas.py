"""The one canvas type: a writing area in pixels and the brush the app draws on it."""

from __future__ import annotations

from dataclasses import dataclass

from mnist_edge.ink.strokes import default_brush


@dataclass(frozen=True)
class Canvas:
    """Where ink is drawn: the app's digit canvas or number strip on some screen."""

    width: int
    height: int
    brush: int

    @classmethod
    def sized(cls, width: int, height: int) -> Canvas:
        """A canvas of this size with the app's default brush for it."""
        return cls(width, height, default_brush(width, height))
