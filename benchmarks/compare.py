"""Compare trained runs side by side.

    mnist-edge compare RUN... --dev FILE --out MD

Each RUN is a ``mnist-edge train`` folder with an ``export/`` inside (at least tflite-fp32 and
tflite-int8). Per run: params, MACs, float and int8 test accuracy, int8 size, single-image
latency and robust accuracy from the benchmark (LiteRT, 1 thread), and the share of a replay
file (the drawn dev set) that the app reads correctly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mnist_edge.benchmarks.drawn import replay_accuracy
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import read_capped
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
        done = subprocess.run(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        if done.returncode != 0:  # its own one line, without its prefix (ours comes on top)
            why = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise UserError(f"the benchmark of {model} failed: {why.removeprefix('mnist-edge: ')}")
        return json.loads((Path(tmp) / "results.json").read_text())["results"][0]


def _json(path: Path, hint: str = "pass a 'mnist-edge train' folder") -> Any:
    raw = read_capped(path, 16 << 20, "run file", hint=hint)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UserError(f"{path} is not JSON; pass a 'mnist-edge train' folder") from None


def row(run: Path, replay: Path | None, data_dir: str | None) -> dict[str, Any]:
    metrics = _json(run / "metrics.json")
    manifest = _json(  # a training run not exported yet: say how to export it
        run / "export" / "manifest.json",
        f"export it first: mnist-edge export --model {run}/model.keras --out {run}/export",
    )
    try:
        by_format = {m["format"]: m for m in manifest["models"]}
        int8 = by_format["tflite-int8"]
        keys = ("arch", "params", "macs", "epochs_run", "train_seconds", "test_accuracy")
        missing = [k for k in keys if k not in metrics]
    except (KeyError, TypeError):
        raise UserError(
            f"{run}/export/manifest.json lists no tflite-int8 file; export it"
        ) from None
    if missing:
        raise UserError(f"{run}/metrics.json lacks {', '.join(missing)}; is it a training run?")
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
