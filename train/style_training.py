"""Synthesised writing styles (``ink/styles.py``) mixed into the drawn training digits.

``--styles FRACTION``: that share of the drawn part of every batch is a training writer's own
digit redrawn in a style our files barely hold (a lead-in 1, a crossed 7, a looped 2, an open
4, ...), rendered exactly as the app renders (the same canvases as the real digits). Only
training writers' digits are edited: the held-out writers stay real, so validation and the
kept epoch are judged on real handwriting alone.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mnist_edge.ink.strokes import Sample
from mnist_edge.ink.styles import random_style, styles_for
from mnist_edge.train.drawn import DrawnSet, app_canvases, check_training_file, render_samples

#: Share of the styled digits drawn from digits that have styles of their own (0 1 2 4 7 9);
#: the rest are other digits slanted.
OWN_STYLES = 0.85


def styled(samples: Sequence[Sample], count: int, rng: np.random.Generator) -> list[Sample]:
    """``count`` styled copies of random ``samples`` (a base may be drawn more than once)."""
    own = [i for i, s in enumerate(samples) if isinstance(s.label, int) and styles_for(s.label)]
    mine = set(own)
    other = [i for i in range(len(samples)) if i not in mine]
    out: list[Sample] = []
    for _ in range(50 * count):  # some bases do not fit their style: draw again
        if len(out) >= count:
            break
        pool = own if own and (not other or rng.random() < OWN_STYLES) else other
        made = random_style(samples[pool[int(rng.integers(len(pool)))]], rng)
        if made is not None:
            out.append(made[1])
    return out


def training_samples(paths: Sequence[str], writers: set[str]) -> list[Sample]:
    """The samples of ``paths`` written by ``writers`` (names as ``load_drawn`` gives them)."""
    out = []
    for path in paths:
        name = Path(path).name
        out += [s for s in check_training_file(path) if (s.writer or f"{name}:unnamed") in writers]
    return out


def with_styles(train_set: DrawnSet, paths: Sequence[str], share: float, seed: int) -> DrawnSet:
    """``train_set`` plus styled digits of its own writers, ``share`` of the result."""
    if share <= 0:
        return train_set
    base = training_samples(paths, set(train_set.writers.tolist()))
    count = round(share / (1 - share) * len(base))
    made = styled(base, count, np.random.default_rng([seed, 31]))
    if not made:
        return train_set
    images = render_samples(made, app_canvases())
    variants = len(images) // len(made)
    first = int(train_set.sample.max()) + 1
    print(
        f"mnist-edge: {len(made):,} styled digits of {len(base):,} training writers' digits "
        f"({share:.0%} of the drawn training digits)",
        file=sys.stderr,
    )
    return DrawnSet(
        np.concatenate([train_set.images, images]),
        np.concatenate([train_set.labels, np.repeat([s.label for s in made], variants)]).astype(
            np.uint8
        ),
        np.concatenate([train_set.writers, np.repeat([s.writer or "?" for s in made], variants)]),
        np.concatenate([train_set.sample, np.repeat(np.arange(len(made)) + first, variants)]),
        train_set.files,
    )
