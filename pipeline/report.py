"""The pipeline's REPORT.md, and the sections it shares with the model card."""

from __future__ import annotations

from typing import Any

from mnist_edge.benchmarks.policy import RULE, headline, recommend
from mnist_edge.benchmarks.report import learning_table, table, tta_table
from mnist_edge.benchmarks.report_numbers import breakdown_table, numbers_table
from mnist_edge.benchmarks.results import Result
from mnist_edge.core.calibration_record import Calibration
from mnist_edge.core.pen_record import PenCalibration, pen_calibration
from mnist_edge.core.text import markdown_table
from mnist_edge.core.text import percent as pct
from mnist_edge.edge_app.tta import DEFAULT_TTA
from mnist_edge.train.metrics import TrainMetrics


def export_table(manifest: dict[str, Any]) -> str:
    head = (
        "format", "file", "KB", "vs fp32", "accuracy", "agreement", "max abs diff",
        "embedding error", "export s",
    )  # fmt: skip
    fp32 = next((m["bytes"] for m in manifest["models"] if m["precision"] == "fp32"), None)
    rows = []
    for m in manifest["models"]:
        emb = m.get("embedding_diff")
        rows.append((
            m["format"], m["file"], f"{m['bytes'] / 1024:.1f}",
            f"{m['bytes'] / fp32:.2f}x" if fp32 else "-", pct(m["accuracy"]),
            pct(m["agreement"]), f"{m['max_abs_diff']:.4f}",
            "-" if emb is None else f"{emb:.1%}", f"{m.get('export_seconds', 0):.1f}",
        ))  # fmt: skip
    return markdown_table(head, rows)


def training_lines(metrics: TrainMetrics, architecture: bool = True) -> list[str]:
    """The training facts; ``architecture=False`` where the caller describes it already."""
    ran = (metrics.stopping.reason if metrics.stopping else "") or (
        f"{metrics.epochs_run} epochs, epoch {metrics.best_epoch} kept"
    )
    lines = [
        *(
            [
                f"- architecture `{metrics.arch}`: {metrics.params or 0:,} parameters, "
                f"{metrics.macs or 0:,} multiply-adds per digit"
            ]
            if architecture
            else []
        ),
        f"- {ran}; {metrics.train_seconds or 0:.0f} s of training",
        f"- augmentation `{metrics.augment}`",
        f"- MNIST test (float): {pct(metrics.test_accuracy)} "
        f"({metrics.test_errors} errors of {metrics.test_images or 0:,})",
    ]
    return lines + averaging_lines(metrics) + drawn_lines(metrics) + calibration_lines(metrics)


def averaging_lines(metrics: TrainMetrics) -> list[str]:
    """What ``--ema`` kept, beside each kind's own best (test figures reported, never used)."""
    avg = metrics.weight_averaging
    if not avg:
        return []
    kept = "the moving average of the weights" if avg["kept"] == "ema" else "the raw weights"
    return [
        f"- weight averaging (EMA, momentum {avg['ema_momentum']}): kept {kept}; best "
        + "; ".join(
            f"{name} epoch {avg[kind]['best_epoch']}, validation score "
            f"{pct(avg[kind]['selection_score'])}, MNIST test {pct(avg[kind]['test_accuracy'])}"
            for kind, name in (("ema", "average"), ("raw", "raw"))
        )
    ]


def drawn_lines(metrics: TrainMetrics) -> list[str]:
    drawn = metrics.drawn
    if not drawn:
        return ["- drawn digits: not trained on (pass --drawn FILE)"]
    val = drawn.get("validation") or {}
    lines = [
        f"- drawn digits: {drawn['train_samples']:,} samples of {drawn['train_writers']} "
        f"writers trained on ({drawn['share']:.0%} of every batch); "
        f"{val.get('samples', 0):,} samples of {len(val.get('writers', []))} other writers "
        "held out for validation"
    ]
    if val:
        lines.append(
            f"- writer-held-out drawn validation: {pct(val['accuracy'])} (mean over "
            f"writers {pct(val.get('writer_mean'))}); worst writers: "
            + ", ".join(
                f"`{w['writer']}` {pct(w['accuracy'])} of {w['samples']}"
                for w in val.get("worst", [])[:3]
            )
        )
        per_class = val.get("per_class") or {}
        if per_class:
            lines.append("- per digit: " + ", ".join(f"{d} {pct(a)}" for d, a in per_class.items()))
    for name, result in metrics.drawn_eval.items():
        lines.append(
            f"- `{name}` (never trained on): {pct(result['accuracy'])} "
            f"({result['samples']:,} samples, Keras on the app's rendering)"
        )
    return lines


def calibration_lines(metrics: TrainMetrics) -> list[str]:
    cal = metrics.calibration
    if cal is None or cal.temperature is None or cal.threshold is None:
        return []
    b, a = cal.before, cal.after
    if b is None or a is None or b.ece is None or a.ece is None:
        return []
    return [
        f"- calibration: temperature {cal.temperature:.2f} fitted on "
        f"{cal.fitted_on}, folded into the last layer (argmax unchanged). "
        f"ECE {b.ece:.3f} -> {a.ece:.3f}; below the {cal.threshold:.0%} threshold "
        f"for reading once: {pct(b.misreads_flagged)} -> {pct(a.misreads_flagged)} of "
        f"misreads, {pct(b.correct_flagged)} -> {pct(a.correct_flagged)} of correct "
        f"readings (measured on {cal.measured_on})",
        *tta_calibration_lines(cal),
    ]


def app_threshold(cal: Calibration | None) -> float | None:
    """The threshold the app uses by default: the one calibrated for its --tta count."""
    return None if cal is None else cal.threshold_for(DEFAULT_TTA)


def tta_calibration_lines(cal: Calibration) -> list[str]:
    """The threshold for the app's test-time augmentation, chosen by the same rule."""
    entry = cal.tta.get(DEFAULT_TTA)
    if entry is None or entry.after is None:
        return []  # reading once, or a model calibrated before per-count thresholds existed
    a = entry.after
    return [
        f"- the app's default reading, {DEFAULT_TTA} variants averaged (`--tta {DEFAULT_TTA}`): "
        f"threshold {entry.threshold:.0%}, chosen by the same rule on the same writers; "
        f"{pct(a.misreads_flagged)} of misreads and {pct(a.correct_flagged)} of correct "
        "readings below it on the other writers"
    ]


def replay_lines(replays: dict[str, Any]) -> list[str]:
    return [
        f"- `{name}`: {pct(r['accuracy'])} read correctly, replayed stroke by stroke "
        "through the app (`mnist-edge draw --headless --replay`) with "
        + (f"`{r['model']}`" if r.get("model") else "the app's default model")
        + (f", {r['tta']} variants averaged per reading" if r.get("tta", 1) > 1 else "")
        for name, r in replays.items()
    ]


def _held_out(record: PenCalibration | None) -> str:
    """The rule and the held-out figures, from the manifest's measurement record."""
    if record is None or record.today is None or record.fused is None:
        return (
            "No measurement record in this models folder's manifest (its pen section's "
            "`calibration`, written from `mnist-edge pen fusion`): no held-out figures."
        )
    today, fused = record.today, record.fused
    text = (
        "Threshold rule (written before measuring): the highest fused threshold under which "
        f"at most {pct(record.digit_budget, 1)} of the fitting writers' correct digits fall, "
        f"{record.threshold}, and for a number's digits at most "
        f"{pct(record.number_budget, 1)} of correct numbers, "
        f"{record.number_threshold}"
        + (
            f" with a split margin of {record.split_margin} (a number whose best split into "
            "another number of digits scores within it is not sure either; this rule was "
            "added after looking at these numbers' misreads, its figures cross-fitted)"
            if record.split_margin
            else ""
        )
        + "; "
        f"weight {record.weight}, temperature {record.temperature}. Held out "
        f"({record.digits or 0:,} digits of {record.writers} writers of both drawn files, "
        "each read with parameters fitted without its writer; "
        f"`{record.image_model}`, TTA {record.tta}): the picture alone "
        f"{today.misreads} misreads, {pct(today.misreads_flagged, 0)} of them flagged "
        f'"not sure", {pct(today.correct_flagged)} of correct readings flagged; fused '
        f"{fused.misreads}, {pct(fused.misreads_flagged, 0)}, {pct(fused.correct_flagged)}."
    )
    before, after = record.today_numbers, record.fused_numbers
    if before is not None and after is not None:
        text += (
            f" {record.numbers or 0:,} numbers composed from the same writers, picture alone "
            f"-> fused: read exactly {pct(before.read_exactly)} -> {pct(after.read_exactly)}, "
            f"exactly and sure {pct(before.exactly_and_sure)} -> "
            f'{pct(after.exactly_and_sure)}, correct shown with "?" '
            f"{pct(before.correct_shown_unsure)} -> {pct(after.correct_shown_unsure)}, "
            f"misread ones flagged {pct(before.misread_flagged, 0)} -> "
            f"{pct(after.misread_flagged, 0)}."
        )
    if record.today_ms is not None and record.fused_ms is not None:
        text += f" One reading, p50 in process: {record.today_ms:.2f} -> {record.fused_ms:.2f} ms."
    return text


def writing_tables(record: PenCalibration | None) -> list[str]:
    """Per constructed writing style and per writing size, the picture alone and the default
    (fused) reading, from the measurement record (``pen fusion --style-set --sizes``)."""
    if record is None:
        return []
    out: list[str] = []
    if record.styles:
        rows = [
            (
                f.style,
                f"{f.digits or 0:,}",
                pct(f.today_unstyled, 1),
                pct(f.today, 1),
                pct(f.fused, 1),
            )
            for f in record.styles
        ]
        head = ("style", "digits", "unstyled, picture", "picture alone", "default (fused)")
        out += [
            "",
            "Writing styles (`ink/styles.py`: held-out writers' own digits redrawn in each "
            "style, `mnist-edge styles write`), read right:",
            "",
            markdown_table(head, rows),
        ]
    if record.sizes:
        rows = [
            (
                pct(f.height, 0),
                f"{f.numbers or 0:,}",
                f"{pct(f.today_read_exactly, 1)} / {pct(f.today_exactly_and_sure, 1)}",
                f"{pct(f.fused_read_exactly, 1)} / {pct(f.fused_exactly_and_sure, 1)}",
            )
            for f in record.sizes
        ]
        head = ("writing height", "numbers", "picture alone", "default (fused)")
        lengths = sorted({n.label for f in record.sizes for n in f.by_length}, key=int)
        per_length = [
            (
                n,
                *(
                    next((pct(x.fused_read_exactly, 1) for x in f.by_length if x.label == n), "-")
                    for f in record.sizes
                ),
            )
            for n in lengths
        ]
        out += [
            "",
            "Writing sizes (numbers of 2-9 digits composed from held-out writers at one digit "
            "height each, a share of the strip's: `mnist-edge numbers compose --height`), read "
            "exactly / exactly with every digit sure:",
            "",
            markdown_table(head, rows),
            "",
            "The default reading per length, read exactly:",
            "",
            markdown_table(("digits", *(pct(f.height, 0) for f in record.sizes)), per_length),
        ]
    return out


def pen_lines(pen_manifest: dict[str, Any] | None) -> list[str]:
    """The pen channel: what it is, whether the app reads it by default (it does where the
    models folder's manifest has a pen section), the rule and the held-out figures (the
    section's measurement record), and its files."""
    models = (pen_manifest or {}).get("models")
    shipped = isinstance(models, list) and bool(models)
    lines = [
        "- What: a second small model (67,690 parameters, 504,288 multiply-adds per drawing; "
        "its cost on a Pi 4: docs/raspberry-pi.md) reads the drawing's strokes, their order and "
        "direction "
        "(64 points along the ink with pen-up marks, normalised like the picture: "
        "`mnist_edge.edge_app.pen.features.features`), and where strokes exist (drawing, "
        "each digit of a `--multi` number, `--replay`, `--collect`) its reading is fused with "
        "the picture's: `p ~ exp((log p_image + w log p_pen) / T)`, the weight, temperature and "
        'fused "not sure" thresholds carried in its metadata. A picture alone (`predict`) '
        "reads as before; learning keeps the image model's embedding.",
        "- **The default wherever strokes exist** (issue 31, docs/pen.md): the shipped pen file "
        "for the image model's runtime loads with the shipped image models; a number is sure "
        "iff each of its digits is: confident, and not cut otherwise by a near-tying split into "
        "another number of digits. `mnist-edge draw --no-pen` reads the picture alone, "
        "`--pen FILE` fuses another pen file."
        if shipped
        else "- Not in this models folder: the app reads the picture alone here.",
        f"- {_held_out(pen_calibration(pen_manifest))}",
        "- Measure it: `mnist-edge bench --pen models/pen-int8.tflite --drawn-eval FILE`.",
    ]
    lines += writing_tables(pen_calibration(pen_manifest))
    if not shipped:
        return lines
    rows = [
        (
            f"`{m.get('file')}`",
            f"{m.get('bytes', 0) / 1024:.0f}",
            pct(m.get("accuracy")),
            pct(m.get("agreement")),
            m.get("runtime", "-"),
        )
        for m in models
        if isinstance(m, dict)
    ]
    head = ("file", "KB", "held-out writers", "agreement with Keras", "validated on")
    return [*lines, "", markdown_table(head, rows)]


def number_lines(results: list[Result]) -> list[str]:
    """Numbers read as ``draw --multi`` reads them, per model row and number file of
    --drawn-eval (the bench's measurement), or how to measure them."""
    text = numbers_table(results)
    if text:
        return [
            "Each edge row's model read the numbers of the --drawn-eval files through the app's "
            "recognizer (TTA and threshold as the app picks them); ceiling: every digit read "
            "alone. Through the app's own replay: `mnist-edge numbers bench FILE`.",
            "",
            text,
            *(["", breakdown] if (breakdown := breakdown_table(results)) else []),
        ]
    return [
        "- not measured in this run: pass a number file to --drawn-eval (compose one with "
        "`mnist-edge numbers compose FILE --drawn unipen-train.json`, or "
        "collect with `mnist-edge draw --collect FILE --multi`); docs/numbers.md"
    ]


def render_report(
    metrics: TrainMetrics,
    manifest: dict[str, Any],
    results: list[Result],
    environment: dict[str, Any],
    replays: dict[str, Any],
    timings: dict[str, float],
    pen: dict[str, Any] | None = None,
) -> str:
    """REPORT.md; ``pen``: the manifest's pen section, for the pen channel's files."""
    picks = recommend(results)
    learned = learning_table(results)
    tta = tta_table(results, DEFAULT_TTA)
    lines = [f"# mnist-edge pipeline report: `{metrics.arch}`", ""]
    if "tflite" in picks:
        lines.append(f"**Deploy {headline(picks['tflite'])}.**")
    if "onnx" in picks:
        lines += ["", f"Where only onnxruntime is available: {headline(picks['onnx'])}."]
    lines += [
        "",
        f"Rule: {RULE}.",
        "",
        "## Training",
        "",
        *training_lines(metrics),
        "",
        "## Drawn digits through the app",
        "",
        *(replay_lines(replays) or ["- no --drawn-eval file given"]),
        "",
        "![curves](train/curves.png)",
        "",
        "![confusion](train/confusion.png)",
        "",
        "## Export",
        "",
        export_table(manifest),
        "",
        "## Benchmark",
        "",
        f"Environment: {environment['cpu']}, {environment['cores']} cores, Python "
        f"{environment['python']}.",
        "",
        table(results, (1, 32), markdown=True),
        "",
        "![latency vs accuracy](bench/latency_vs_accuracy.png)",
        "",
        *(["## Test-time augmentation", "", tta, ""] if tta else []),
        *(["## On-device learning", "", learned, ""] if learned else []),
        "## Numbers (`draw --multi`)",
        "",
        *number_lines(results),
        "",
        "## Pen channel (the default where strokes exist)",
        "",
        *pen_lines(pen),
        "",
        "## Time",
        "",
        *[f"- {k}: {v:.0f} s" for k, v in timings.items()],
        "",
    ]
    return "\n".join(lines)
