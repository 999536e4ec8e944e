"""Compare trained runs side by side.

    python -m mnist_edge.benchmarks.compare RUN... --dev FILE --out MD

Each RUN is a ``mnist-edge train`` folder with an ``export/`` inside (at least tflite-fp32 and
tflite-int8). Per run: params, MACs, float and int8 test accuracy, int8 size, single-image
latency and robust accuracy from the benchmark (LiteRT, 1 thread), and the share of a replay
file (the drawn dev set) that the app reads correctly.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mnist_edge.benchmarks.drawn import replay_accuracy
from mnist_edge.core.fsutil import write_text_atomic
from mnist_edge.core.text import markdown_table, percent


def _bench(model: Path, data_dir: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "mnist_edge.benchmarks",
            "--models",
            str(model),
            "--runtimes",
            "litert",
            "--out",
            tmp,
            "--force",
            "--no-cold-start",
            "--batch-sizes",
            "1",
        ]
        if data_dir:
            cmd += ["--data-dir", data_dir]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        return json.loads((Path(tmp) / "results.json").read_text())["results"][0]


def row(run: Path, replay: Path | None, data_dir: str | None) -> dict[str, Any]:
    metrics = json.loads((run / "metrics.json").read_text())
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    by_format = {m["format"]: m for m in manifest["models"]}
    int8 = by_format["tflite-int8"]
    bench = _bench(run / "export" / int8["file"], data_dir)
    return {
        "arch": metrics["arch"],
        "params": metrics["params"],
        "macs": metrics["macs"],
        "epochs": metrics["epochs_run"],
        "train_s": metrics["train_seconds"],
        "float": metrics["test_accuracy"],
        "int8": int8["accuracy"],
        "int8_kb": int8["bytes"] / 1024,
        "p50_us": bench["latency_us"]["p50"],
        "min_us": bench["latency_us"]["min"],
        "robust": bench.get("robust_accuracy"),
        "dev": replay_accuracy(run / "export", replay) if replay else None,
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ["arch", "params", "MACs", "epochs", "train min", "float acc", "int8 acc", "int8 KB",
            "int8 LiteRT µs p50 / min", "robust acc", "drawn dev set"]  # fmt: skip
    body = [
        [
            f"`{r['arch']}`",
            f"{r['params']:,}",
            f"{r['macs'] / 1e6:.2f} M",
            r["epochs"],
            f"{r['train_s'] / 60:.1f}",
            percent(r["float"]),
            percent(r["int8"]),
            f"{r['int8_kb']:.1f}",
            f"{r['p50_us']:.0f} / {r['min_us']:.0f}",
            percent(r["robust"]),
            percent(r["dev"]),
        ]
        for r in rows
    ]
    return markdown_table(head, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_edge.benchmarks.compare", description=__doc__
    )
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--dev", type=Path, help="a labelled replay file (mnist-edge-strokes/1)")
    parser.add_argument("--data-dir")
    parser.add_argument("--out", type=Path, help="write the Markdown table here")
    args = parser.parse_args(argv)
    rows = [row(run, args.dev, args.data_dir) for run in args.runs]
    table = markdown(rows)
    if args.out:
        write_text_atomic(args.out, table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
