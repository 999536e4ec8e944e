"""The model card (models/README.md), generated from what training recorded about the model.

Nothing here describes a particular architecture: the layers, the design notes and the
augmentation come from ``metrics.json`` (written from the architecture and augmentation
definitions), so the card is right for any ``--arch``.
"""

from __future__ import annotations

import shlex
from typing import Any

from mnist_edge.benchmarks.policy import headline, recommend
from mnist_edge.benchmarks.report import table, tta_table
from mnist_edge.benchmarks.results import Result
from mnist_edge.core.contract import DEFAULT_THRESHOLD
from mnist_edge.core.text import percent as pct
from mnist_edge.edge_app.tta import DEFAULT_TTA
from mnist_edge.pipeline.report import (
    app_threshold,
    export_table,
    number_lines,
    pen_lines,
    replay_lines,
    training_lines,
)
from mnist_edge.train.metrics import TrainMetrics


def model_card(
    metrics: TrainMetrics,
    manifest: dict[str, Any],
    results: list[Result],
    environment: dict[str, Any],
    replays: dict[str, Any],
    command: list[str],
    pen: dict[str, Any] | None = None,
) -> str:
    arch = metrics.architecture
    augmentation = metrics.augmentation
    train_cfg = metrics.raw.get("config") or {}  # the recipe, as training recorded it
    pick = recommend(results).get("tflite")
    drawn = metrics.drawn
    data = (
        f"MNIST training set, {metrics.train_images or 0:,} images for training and "
        f"{metrics.val_images or 0:,} held out for validation (seeded split)"
    )
    if drawn:
        data += (
            f"; drawn digits from {', '.join(f['file'] for f in drawn['files'])}, split "
            "by writer (no writer on both sides)"
        )
    return "\n".join(
        [
            f"# Model card: mnist-edge `{metrics.arch}`",
            "",
            "Handwritten-digit classifier for touchscreens on Raspberry Pi-class devices. Input: "
            "raw 28x28 uint8 pixels, ink 255 on 0, prepared by "
            "`mnist_edge.ink.preprocess.to_mnist` (crop, fit 20 px, centre of mass at 14,14, "
            "as MNIST was made); scaling to [0, 1] is inside the model. Outputs: `probabilities` "
            "(ten calibrated softmax probabilities, labels 0-9) and `embedding` (the features the "
            "classifier reads, for on-device learning). Every file carries this description, its "
            "calibration and its metrics in its own metadata.",
            "",
            "## Architecture",
            "",
            f"`{metrics.arch}`: {metrics.params or 0:,} parameters, {metrics.macs or 0:,} "
            f"multiply-adds per digit. {arch.get('layers', '')}",
            "",
            arch.get("design", ""),
            "",
            "## Training",
            "",
            f"- Data: {data}. The MNIST test set is used once, for the figures below; checksums "
            "of the files used are in `metrics.json` of the run.",
            f"- Augmentation `{augmentation.get('name', train_cfg['augment'])}` in the input "
            f"pipeline (never in the exported graph): {augmentation.get('text', '')}"
            + (
                "; the synthesized styles go on MNIST digits only (real drawings keep their "
                "writers' own)"
                if drawn
                else ""
            ),
            f"- Adam, cosine schedule with one warm-up epoch, peak LR {train_cfg['lr']}, batch "
            f"{train_cfg['batch_size']}, label smoothing {train_cfg.get('label_smoothing', 0)}; "
            f"{metrics.selection or 'the best epoch by validation accuracy is kept'}.",
            f"- Command: `{shell_words(command)}` (with `--data-dir` or `MNIST_EDGE_DATA` pointing "
            "at MNIST, else it is downloaded and verified).",
            f"- {(metrics.train_seconds or 0) / 60:.1f} min of training on {environment['cpu']} "
            f"({environment['cores']} cores, no GPU).",
            *training_lines(metrics, architecture=False),
            "",
            "## Drawn digits through the app",
            "",
            *(replay_lines(replays) or ["- not measured"]),
            "",
            "## Files and accuracy (full MNIST test set, 10,000 images, slim runtimes)",
            "",
            export_table(manifest),
            "",
            "## Benchmark (this machine; `mnist-edge bench --models models`)",
            "",
            f"Environment: {environment['cpu']}, {environment['cores']} cores, "
            f"{environment['os']}, Python {environment['python']}. Single-image latency over "
            "real test digits; robust accuracy: test digits re-drawn on a large canvas (moved, "
            "scaled, stretched, thicker or thinner) and read back through the app's "
            "preprocessing.",
            "",
            table(results, (1, 32), markdown=True),
            "",
            f"Deploy {headline(pick)}." if pick else "",
            "",
            *(
                ["## The app's reading: test-time augmentation", "", tta, ""]
                if (tta := tta_table(results, DEFAULT_TTA))
                else []
            ),
            "## Numbers (`draw --multi`)",
            "",
            *number_lines(results),
            "",
            "## Pen channel (the default where strokes exist)",
            "",
            *pen_lines(pen),
            "",
            "## Known limits",
            "",
            "- One digit per canvas unless the app runs with `--multi`, which reads a number "
            "from its strokes (docs/numbers.md); digits joined up with no pen lift are read "
            "where the pen turns at the join (a 1's foot), not where it runs on smoothly.",
            f"- Trained on MNIST{' and the drawn files above' if drawn else ''}: styles neither "
            "covers are read less reliably; the app then shows low confidence, and on-device "
            "learning (`mnist-edge draw --profile NAME`) can learn a writer's own style.",
            '- No "not a digit" class: letters and scribbles get a digit, usually with low '
            "confidence (below the app's threshold, "
            + (
                f"{pct(app_threshold(metrics.calibration))} as calibrated for this model"
                if metrics.calibration is not None
                else f"default {pct(DEFAULT_THRESHOLD)}"
            )
            + ', it says "not sure").',
            "- Latency figures are for the machine named above; see docs/raspberry-pi.md for Pi "
            "estimates and how to measure there.",
            "",
        ]
    )


def shell_words(words: list[str]) -> str:
    """A command line to paste into a shell: quoted where needed, a leading ``~/`` left bare so
    the shell still expands it."""
    return " ".join(
        "~/" + shlex.quote(w[2:]) if w.startswith("~/") else shlex.quote(w) for w in words
    )
