"""Benchmark output: the terminal table, results.json/.csv/.md and the plots."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from mnist_edge.benchmarks.results import Result
from mnist_edge.core.fsutil import write_json_atomic, write_text_atomic
from mnist_edge.core.plotting import matplotlib_or_none, save_figure

STATS = ("p50", "p90", "p99", "mean", "std", "min", "max")
PLOTS_HINT = "plots need matplotlib: pip install 'mnist-edge[plots]'"


def _fmt(value: Any, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return _fmt(None if value is None else value * 100, ".2f")


def pareto(results: list[Result]) -> set[int]:
    """Indices of ok rows no other row beats on both latency (p50) and accuracy."""
    ok = [
        (i, r.p50, r.accuracy)
        for i, r in enumerate(results)
        if r.ok and r.p50 is not None and r.accuracy is not None
    ]
    front = set()
    for i, lat, acc in ok:
        dominated = any(
            (l2 <= lat and a2 >= acc) and (l2 < lat or a2 > acc) for j, l2, a2 in ok if j != i
        )
        if not dominated:
            front.add(i)
    return front


def _drawn_names(results: list[Result]) -> list[str]:
    return list(dict.fromkeys(name for r in results for name in r.drawn))


def table(results: list[Result], batch_sizes: tuple[int, ...], markdown: bool = False) -> str:
    """All figures as Markdown; the terminal gets the columns that fit 100 characters."""
    drawn = _drawn_names(results)
    if markdown:
        head = [
            "format",
            "runtime",
            "thr",
            "status",
            "acc %",
            "robust %",
            *[f"{d} %" for d in drawn],
            "p50 µs",
            "p99 µs",
            "invoke p50 µs",
            *[f"img/s @{b}" for b in batch_sizes],
            "load ms",
            "cold ms",
            "RSS MB",
            "KB",
        ]
    else:
        head = [
            "format",
            "runtime",
            "thr",
            "acc %",
            "robust%",
            "drawn%",
            "p50 µs",
            "RSS MB",
            "KB",
            "status",
        ]
    body = []
    for r in results:
        status = r.status + (f": {r.reason}" if r.reason else "")
        drawn_mean = sum(r.drawn.values()) / len(r.drawn) if r.drawn else None
        common = [r.format, r.runtime, _fmt(r.threads, "d")]
        if markdown:
            body.append(
                [
                    *common,
                    status,
                    _pct(r.accuracy),
                    _pct(r.robust_accuracy),
                    *[_pct(r.drawn.get(d)) for d in drawn],
                    _fmt(r.latency_us.get("p50"), ".0f"),
                    _fmt(r.latency_us.get("p99"), ".0f"),
                    _fmt(r.invoke_us.get("p50"), ".0f"),
                    *[_fmt(r.throughput_ips.get(str(b)), ",.0f") for b in batch_sizes],
                    _fmt(r.load_ms, ".1f"),
                    _fmt(r.cold_start_ms, ".0f"),
                    _fmt(r.peak_rss_mb, ".0f"),
                    _fmt(r.bytes / 1024 if r.bytes else None, ".1f"),
                ]
            )
        else:
            body.append(
                [
                    *common,
                    _pct(r.accuracy),
                    _pct(r.robust_accuracy),
                    _pct(drawn_mean),
                    _fmt(r.latency_us.get("p50"), ".0f"),
                    _fmt(r.peak_rss_mb, ".0f"),
                    _fmt(r.bytes / 1024 if r.bytes else None, ".0f"),
                    status,
                ]
            )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    widths[-1] = len(head[-1])  # the status column takes what is left of 100
    room = max(12, 100 - sum(w + 2 for w in widths[:-1]))
    out = [
        "  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
        "  ".join("-" * w for w in widths[:-1]) + "  " + "-" * min(room, 20),
    ]
    for row in body:
        status = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "…"
        out.append("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths)) + "  " + status)
    return "\n".join(line if len(line) <= 100 else line[:99] + "…" for line in out)


def learning_table(results: list[Result]) -> str:
    """On-device learning per model and file (Markdown): online accuracy without and with a
    simulated person correcting every misreading, and what a correction costs. Empty when no
    row measured it (models without an embedding output, or the reference runtime)."""
    rows = [r for r in results if r.ok and r.learning]
    if not rows:
        return ""
    head = [
        "model",
        "runtime",
        "file",
        "writers",
        "without %",
        "with %",
        "per-writer gain",
        "worst writer",
        "misreads (repeats)",
        "read / add µs",
        "bytes per correction",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cost = r.learning_costs
        for name, got in r.learning.items():
            lines.append(
                f"| {r.model} | {r.runtime} | {name} | {got['writers']} | "
                f"{_pct(got['without'])} | {_pct(got['with'])} | "
                f"{got['mean_gain_points']:+.2f} pts | {got['worst_writer_delta_samples']:+d} "
                f"samples | {got.get('misreads', '-')} ({got.get('repeated_misreads', '-')}) | "
                f"{_fmt(cost.get('read_us'), '.0f')} / {_fmt(cost.get('add_us'), '.0f')} | "
                f"{_fmt(cost.get('bytes_per_correction'), ',.0f')} |"
            )
    return "\n".join(lines)


def _tta_rows(results: list[Result]) -> list[Result]:
    return [r for r in results if r.ok and r.tta_accuracy is not None]


def _tta_figures(r: Result, drawn: list[str]) -> list[tuple[str, str, str]]:
    """(set, reading once, reading the variants) for MNIST and each drawn file, then time."""
    return [
        ("MNIST", _pct(r.accuracy), _pct(r.tta_accuracy)),
        *[(d, _pct(r.drawn.get(d)), _pct(r.tta_drawn.get(d))) for d in drawn],
        ("µs", _fmt(r.latency_us.get("p50"), ".0f"), _fmt(r.tta_latency_us.get("p50"), ".0f")),
    ]


def tta_table(results: list[Result], tta: int) -> str:
    """Reading once vs averaging ``tta`` variants (Markdown): accuracy on MNIST and each drawn
    file, and the time of one reading both ways. Empty when no row measured it."""
    rows = _tta_rows(results)
    if not rows:
        return ""
    drawn = _drawn_names(rows)
    head = ["model", "runtime", "MNIST %", *[f"{d} %" for d in drawn], "µs p50: call -> reading"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"{once} -> {many}" for _, once, many in _tta_figures(r, drawn)]
        lines.append(f"| {r.model} | {r.runtime} | " + " | ".join(cells) + " |")
    return (
        f"Reading once -> averaging {tta} variants (`--tta {tta}`); time: one model call -> "
        "one averaged reading (variants, one batched call, the mean):\n\n" + "\n".join(lines)
    )


def tta_lines(results: list[Result], tta: int) -> list[str]:
    """``tta_table`` for the terminal: one entry per row, wrapped (never cut) at 100 columns."""
    import textwrap

    rows = _tta_rows(results)
    lines = [f"reading once -> averaging {tta} variants (--tta {tta}):"] if rows else []
    for r in rows:
        *accuracy, (_, call, reading) = _tta_figures(r, _drawn_names(rows))
        parts = [f"{name} {once} -> {many} %" for name, once, many in accuracy]
        parts.append(f"{call} µs per call -> {reading} µs per reading")
        text = f"{r.model} on {r.runtime}: " + ", ".join(parts)
        lines += textwrap.wrap(text, width=100, subsequent_indent="    ", break_on_hyphens=False)
    return lines


def _tta_md(results: list[Result], tta: int) -> str:
    body = tta_table(results, tta)
    return f"\n## Test-time augmentation\n\n{body}\n" if body else ""


def _csv(results: list[Result], batch_sizes: tuple[int, ...]) -> str:
    drawn = _drawn_names(results)
    fields = [
        "model",
        "format",
        "precision",
        "runtime",
        "threads",
        "status",
        "reason",
        "accuracy",
        "robust_accuracy",
        *[f"drawn_{d}" for d in drawn],
        *[f"latency_{s}_us" for s in STATS],
        *[f"invoke_{s}_us" for s in STATS],
        *[f"throughput_ips_b{b}" for b in batch_sizes],
        "load_ms",
        "first_inference_ms",
        "cold_start_ms",
        "peak_rss_mb",
        "bytes",
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for r in results:
        flat = r.to_json()
        for name, stats in (("latency", r.latency_us), ("invoke", r.invoke_us)):
            for s in STATS:
                flat[f"{name}_{s}_us"] = stats.get(s)
        for b in batch_sizes:
            flat[f"throughput_ips_b{b}"] = r.throughput_ips.get(str(b))
        for d in drawn:
            flat[f"drawn_{d}"] = r.drawn.get(d)
        writer.writerow(flat)
    return buf.getvalue()


def write_all(
    out: Path,
    environment: dict[str, Any],
    results: list[Result],
    batch_sizes: tuple[int, ...],
    meta: dict[str, Any],
) -> list[str]:
    """results.json/.csv/.md and, where matplotlib is installed, the plots."""
    write_json_atomic(
        out / "results.json",
        {"environment": environment, **meta, "results": [r.to_json() for r in results]},
    )
    write_text_atomic(out / "results.csv", _csv(results, batch_sizes))
    env_lines = "\n".join(f"- **{k}**: {v}" for k, v in environment.items())
    write_text_atomic(
        out / "results.md",
        f"# mnist-edge benchmark\n\n{env_lines}\n\n"
        f"Images: {meta.get('images')} (accuracy), single-image latency over "
        f"real test digits.\n\n{table(results, batch_sizes, markdown=True)}\n"
        + _tta_md(results, meta.get("settings", {}).get("tta", 1))
        + _learning_md(results),
    )
    written = ["results.json", "results.csv", "results.md"]
    if matplotlib_or_none() is None:  # the edge extra has no matplotlib: tables only
        return written
    return written + plots(out, results)


def learning_lines(results: list[Result]) -> list[str]:
    """The learning figures for the terminal, each line within 100 characters."""
    lines = []
    for r in results:
        if not (r.ok and r.learning):
            continue
        cost = r.learning_costs
        lines.append(
            f"{r.name}: read {_fmt(cost.get('read_us'), '.0f')} µs with "
            f"{cost.get('stored', '?')} stored, add {_fmt(cost.get('add_us'), '.0f')} µs, "
            f"{_fmt(cost.get('bytes_per_correction'), ',.0f')} B per correction"
        )
        for name, got in r.learning.items():
            lines.append(
                f"  {name[:28]}: {_pct(got['without'])} -> {_pct(got['with'])} %, "
                f"{got['mean_gain_points']:+.2f} pts/writer, worst "
                f"{got['worst_writer_delta_samples']:+d}, {got.get('repeated_misreads', '-')} "
                f"of {got.get('misreads', '-')} misreads repeat"
            )
    return [line if len(line) <= 100 else line[:99] + "…" for line in lines]


def _learning_md(results: list[Result]) -> str:
    body = learning_table(results)
    if not body:
        return ""
    return (
        "\n## On-device learning\n\nEach writer's digits in order, every misreading corrected "
        "(one profile per writer); a repeat is a misread the same writer already made (same "
        "digit, same wrong answer), roughly what learning can fix.\n\n" + body + "\n"
    )


def _spread_labels(points: list[tuple[float, float]], step: float) -> list[float]:
    """Vertical text offsets (points) so labels of points at the same spot do not overprint."""
    offsets, seen = [], {}
    for x, y in points:
        key = (round(y, 3), round(x / 10))  # same accuracy, latency within ~10 µs
        n = seen.get(key, 0)
        seen[key] = n + 1
        offsets.append(3 + n * step)
    return offsets


def plots(out: Path, results: list[Result]) -> list[str]:
    import matplotlib.pyplot as plt

    ok = [
        (i, r)
        for i, r in enumerate(results)
        if r.ok and r.p50 is not None and r.accuracy is not None
    ]
    if not ok:
        return []
    front = pareto(results)
    fig, ax = plt.subplots(figsize=(8, 5))
    points = [(r.p50, r.accuracy * 100) for _, r in ok]  # type: ignore[operator]
    for (i, r), (x, y), dy in zip(ok, points, _spread_labels(points, 9)):
        on = i in front
        ax.scatter(x, y, s=60 if on else 30, color="tab:red" if on else "tab:blue", zorder=3)
        ax.annotate(r.name, (x, y), fontsize=7, xytext=(4, dy), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("single-image latency p50 (µs, log)")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.set_title("Latency vs accuracy (red: Pareto front)")
    ax.grid(alpha=0.3, which="both")
    save_figure(fig, out / "latency_vs_accuracy.png")

    fig, ax = plt.subplots(figsize=(9, 0.45 * len(ok) + 1.5))
    data = [r.samples_us or [r.p50] for _, r in ok]
    ax.boxplot(data, vert=False, showfliers=False)
    ax.set_yticks(range(1, len(ok) + 1), [r.name for _, r in ok], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("single-image latency (µs, log; whiskers 1.5 IQR)")
    ax.set_title("Latency distribution per row")
    ax.grid(alpha=0.3, axis="x", which="both")
    save_figure(fig, out / "latency_distribution.png")

    sizes: dict[str, float] = {}
    for _, r in ok:
        sizes.setdefault(r.format, r.bytes / 1024)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(list(sizes), list(sizes.values()), color="tab:green")
    ax.set_ylabel("KB")
    ax.set_title("File size per format")
    ax.tick_params(axis="x", rotation=30)
    for i, v in enumerate(sizes.values()):
        ax.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)
    save_figure(fig, out / "size.png")
    return ["latency_vs_accuracy.png", "latency_distribution.png", "size.png"]
