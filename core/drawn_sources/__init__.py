"""Rebuilding the team's drawn-digit files from their public sources (numpy and stdlib only).

``mnist-edge data drawn`` downloads UNIPEN train_r01_v07 (category 1a, isolated digits) and UJI
Pen Characters v2, checks each archive's SHA-256 where a value is pinned, converts both into the
replay format ``mnist-edge-strokes/1`` and keeps exactly the samples of the team's
``unipen-train.json``, ``unipen-dev.json`` and ``uji-train.json``: a source sample is kept iff its
placement-free fingerprint is in the committed ``selection.json``, which also names its file.

- :mod:`.unipen` reads the UNIPEN archive (``.INCLUDE``, ``.PEN_DOWN``/``.PEN_UP``, ``.SEGMENT``);
- :mod:`.uji` reads ``ujipenchars2.txt`` (``WORD``, ``NUMSTROKES``, ``POINTS``);
- :mod:`.selection` fingerprints samples and matches them against the selection;
- :mod:`.fetch` finds or downloads the archives (mirrors, deadline, size caps, SHA-256);
- :mod:`.build` places the kept samples (seeded) and writes the three files atomically.
"""

from __future__ import annotations

OUTPUT_FILES = ("unipen-train.json", "unipen-dev.json", "uji-train.json")
