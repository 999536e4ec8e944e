"""Benchmark output: the terminal table, results.json/.csv/.md and the plots."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from mnist_edge.fsutil import atomic_path, write_json_atomic, write_text_atomic

STATS = ("p50", "p90", "p99", "mean", "std", "min", "max")


def _fmt(value: Any, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def _row_name(r: dict[str, Any]) -> str:
    threads = f" t{r['threads']}" if r.get("threads") else ""
    return f"{r.get('format', '?')} / {r.get('runtime', '?')}{threads}"


def pareto(results: list[dict[str, Any]]) -> set[int]:
    """Indices of ok rows no other row beats on both latency (p50) and accuracy."""
    ok = [(i, r["latency_us"]["p50"], r["accuracy"]) for i, r in enumerate(results)
          if r.get("status") == "ok"]
    front = set()
    for i, lat, acc in ok:
        dominated = any((l2 <= lat and a2 >= acc) and (l2 < lat or a2 > acc)
                        for j, l2, a2 in ok if j != i)
        if not dominated:
            front.add(i)
    return front


def table(results: list[dict[str, Any]], batch_sizes: tuple[int, ...], markdown: bool = False
          ) -> str:
    head = ["format", "runtime", "thr", "status", "acc %", "robust %", "p50 µs", "p99 µs",
            "invoke p50 µs", *[f"img/s @{b}" for b in batch_sizes], "load ms", "cold ms",
            "RSS MB", "KB"]
    body = []
    for r in results:
        lat, inv = r.get("latency_us") or {}, r.get("invoke_us") or {}
        ips = r.get("throughput_ips") or {}
        status = r.get("status", "?") + (f": {r['reason']}" if r.get("reason") else "")
        body.append([
            r.get("format", "?"), r.get("runtime", "?"), _fmt(r.get("threads"), "d"),
            status if markdown else status[:60],
            _fmt(r.get("accuracy") and r["accuracy"] * 100, ".2f"),
            _fmt(r.get("robust_accuracy") and r["robust_accuracy"] * 100, ".2f"),
            _fmt(lat.get("p50"), ".0f"), _fmt(lat.get("p99"), ".0f"), _fmt(inv.get("p50"), ".0f"),
            *[_fmt(ips.get(str(b)), ",.0f") for b in batch_sizes],
            _fmt(r.get("load_ms"), ".1f"), _fmt(r.get("cold_start_ms"), ".0f"),
            _fmt(r.get("peak_rss_mb"), ".0f"), _fmt(r.get("bytes") and r["bytes"] / 1024, ".1f"),
        ])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body]
    return "\n".join(out)


def _csv(results: list[dict[str, Any]], batch_sizes: tuple[int, ...]) -> str:
    fields = ["model", "format", "precision", "runtime", "threads", "status", "reason",
              "accuracy", "robust_accuracy", *[f"latency_{s}_us" for s in STATS],
              *[f"invoke_{s}_us" for s in STATS], *[f"throughput_ips_b{b}" for b in batch_sizes],
              "load_ms", "first_inference_ms", "cold_start_ms", "peak_rss_mb", "bytes"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for r in results:
        flat = dict(r)
        for name in ("latency", "invoke"):
            for s in STATS:
                flat[f"{name}_{s}_us"] = (r.get(f"{name}_us") or {}).get(s)
        for b in batch_sizes:
            flat[f"throughput_ips_b{b}"] = (r.get("throughput_ips") or {}).get(str(b))
        writer.writerow(flat)
    return buf.getvalue()


def write_all(out: Path, environment: dict[str, Any], results: list[dict[str, Any]],
              batch_sizes: tuple[int, ...], meta: dict[str, Any]) -> list[str]:
    clean = [{k: v for k, v in r.items() if k not in ("samples_us", "traceback")}
             for r in results]
    write_json_atomic(out / "results.json", {"environment": environment, **meta,
                                             "results": clean})
    write_text_atomic(out / "results.csv", _csv(clean, batch_sizes))
    env_lines = "\n".join(f"- **{k}**: {v}" for k, v in environment.items())
    write_text_atomic(out / "results.md", f"# mnist-edge benchmark\n\n{env_lines}\n\n"
                      f"Images: {meta.get('images')} (accuracy), single-image latency over "
                      f"real test digits.\n\n{table(clean, batch_sizes, markdown=True)}\n")
    written = ["results.json", "results.csv", "results.md"]
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:  # the edge extra has no matplotlib: tables only
        return written
    written += plots(out, results)
    return written


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plots(out: Path, results: list[dict[str, Any]]) -> list[str]:
    import matplotlib.pyplot as plt

    ok = [(i, r) for i, r in enumerate(results) if r.get("status") == "ok"]
    if not ok:
        return []
    front = pareto(results)
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, r in ok:
        on = i in front
        ax.scatter(r["latency_us"]["p50"], r["accuracy"] * 100, s=60 if on else 30,
                   color="tab:red" if on else "tab:blue", zorder=3)
        ax.annotate(_row_name(r), (r["latency_us"]["p50"], r["accuracy"] * 100), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("single-image latency p50 (µs, log)")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.set_title("Latency vs accuracy (red: Pareto front)")
    ax.grid(alpha=0.3, which="both")
    _save(fig, out / "latency_vs_accuracy.png")

    fig, ax = plt.subplots(figsize=(9, 0.45 * len(ok) + 1.5))
    data = [r.get("samples_us") or [r["latency_us"]["p50"]] for _, r in ok]
    ax.boxplot(data, vert=False, showfliers=False)
    ax.set_yticks(range(1, len(ok) + 1), [_row_name(r) for _, r in ok], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("single-image latency (µs, log; whiskers 1.5 IQR)")
    ax.set_title("Latency distribution per row")
    ax.grid(alpha=0.3, axis="x", which="both")
    _save(fig, out / "latency_distribution.png")

    sizes: dict[str, float] = {}
    for _, r in ok:
        sizes.setdefault(r["format"], r["bytes"] / 1024)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(list(sizes), list(sizes.values()), color="tab:green")
    ax.set_ylabel("KB")
    ax.set_title("File size per format")
    ax.tick_params(axis="x", rotation=30)
    for i, v in enumerate(sizes.values()):
        ax.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)
    _save(fig, out / "size.png")
    return ["latency_vs_accuracy.png", "latency_distribution.png", "size.png"]
