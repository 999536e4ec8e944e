"""``mnist-edge pipeline``: train -> export -> benchmark -> report (-> promote into models/).

Each stage writes into its own folder under ``--out`` and is complete only when its last file
(metrics.json, manifest.json, results.json) exists, so ``--resume`` skips finished stages and a
failure never leaves a model that looks finished. ``--promote`` copies the result into
``models/`` file by file, atomically, manifest last.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_edge.config import require
from mnist_edge.errors import UserError
from mnist_edge.fsutil import atomic_path, prepare_out_dir, write_json_atomic, write_text_atomic

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PipelineConfig:
    arch: str = "edge"
    epochs: int = 45  # the shipped model's recipe
    out: str = "runs/pipeline"
    data_dir: str | None = None
    seed: int = 0
    limit: int | None = None
    promote: bool = False
    models_dir: str | None = None  # where --promote writes (default: models/ of this checkout)
    resume: bool = False
    force: bool = False
    bench_min_time: float = 2.0
    bench_min_runs: int = 300
    runtime_python: tuple[str, ...] = ()
    dev: str | None = None  # a labelled replay file: drawn-digit accuracy through the app

    def __post_init__(self) -> None:
        object.__setattr__(self, "runtime_python", tuple(self.runtime_python))
        require(not (self.resume and self.force), "--resume and --force exclude each other: "
                "--resume keeps finished stages, --force redoes them")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", help="architecture to train (default edge)")
    parser.add_argument("--epochs", type=int, help="training epochs (default 45)")
    parser.add_argument("--out", help="working folder (default runs/pipeline)")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (or $MNIST_EDGE_DATA;"
                        " downloaded and verified when absent)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--limit", type=int, help="train on the first N images (quick runs)")
    parser.add_argument("--promote", action="store_true", default=None,
                        help="copy the exported models, manifest and model card into models/")
    parser.add_argument("--models-dir", help="where --promote writes (default: ./models)")
    parser.add_argument("--resume", action="store_true", default=None,
                        help="keep the stages a previous run finished")
    parser.add_argument("--force", action="store_true", default=None,
                        help="redo every stage in an existing --out")
    parser.add_argument("--bench-min-time", type=float,
                        help="seconds of timed calls per benchmark row (default 2)")
    parser.add_argument("--dev", metavar="REPLAY", help="labelled strokes (mnist-edge-strokes/1)"
                        " to replay through the app for a drawn-digit accuracy")
    parser.add_argument("--bench-min-runs", type=int,
                        help="timed calls per benchmark row, at least (default 300)")
    parser.add_argument("--runtime-python", action="append", metavar="RUNTIME=PYTHON",
                        help="benchmark RUNTIME with another interpreter (see 'bench')")
    parser.add_argument("--config", help="TOML file with any of these options; flags win")


def _stage(number: int, name: str) -> float:
    print(f"\n== [{number}/3] {name}", file=sys.stderr, flush=True)
    return time.perf_counter()


def run(args: argparse.Namespace) -> int:
    from mnist_edge.config import build_config

    config = build_config(PipelineConfig, vars(args), args.config, section="pipeline")
    report = run_pipeline(config)
    print(f"\nreport: {report}")
    return 0


def run_pipeline(config: PipelineConfig) -> Path:
    from train.config import TrainConfig  # validates --arch/--epochs before any work

    out = Path(config.out)
    train_cfg = TrainConfig(arch=config.arch, epochs=config.epochs, data_dir=config.data_dir,
                            out=str(out / "train"), seed=config.seed, limit=config.limit,
                            force=True)
    if not config.resume:
        prepare_out_dir(out, force=config.force, what="pipeline")
    timings: dict[str, float] = {}

    started = _stage(1, f"train {config.arch}")
    if config.resume and (out / "train" / "metrics.json").is_file():
        print("already trained: keeping runs' model.keras", file=sys.stderr)
    else:
        from train.trainer import train

        train(train_cfg)
    timings["train"] = time.perf_counter() - started
    metrics = json.loads((out / "train" / "metrics.json").read_text())

    started = _stage(2, "export")
    if config.resume and (out / "export" / "manifest.json").is_file():
        print("already exported: keeping manifest.json", file=sys.stderr)
    else:
        from export.config import ExportConfig
        from export.exporter import format_table, run_export

        outcomes = run_export(ExportConfig(model=str(out / "train" / "model.keras"),
                                           out=str(out / "export"), data_dir=config.data_dir,
                                           force=True))
        print(format_table(outcomes), file=sys.stderr)
        failed = [o.fmt.key for o in outcomes if o.status != "ok"]
        if len(failed) == len(outcomes):
            raise UserError("every format failed to export; see the table above")
        if failed:  # the others go on; the report and manifest show what passed
            print(f"warning: {', '.join(failed)} failed validation and are left out",
                  file=sys.stderr)
    shutil.copy2(out / "train" / "model.keras", out / "export" / "model.keras")
    timings["export"] = time.perf_counter() - started

    started = _stage(3, "benchmark")
    if config.resume and (out / "bench" / "results.json").is_file():
        print("already benchmarked: keeping results.json", file=sys.stderr)
    else:
        run_bench(out, config)
    timings["bench"] = time.perf_counter() - started

    bench = json.loads((out / "bench" / "results.json").read_text())
    manifest = json.loads((out / "export" / "manifest.json").read_text())
    if config.dev:
        from benchmarks.drawn import replay_accuracy

        started = time.perf_counter()
        print(f"replaying {config.dev} through the app ...", file=sys.stderr, flush=True)
        bench["drawn"] = {"file": Path(config.dev).name,
                          "accuracy": replay_accuracy(out / "export", Path(config.dev))}
        write_json_atomic(out / "bench" / "drawn.json", bench["drawn"])
        timings["drawn"] = time.perf_counter() - started
    elif (out / "bench" / "drawn.json").is_file():
        bench["drawn"] = json.loads((out / "bench" / "drawn.json").read_text())
    report = out / "REPORT.md"
    write_text_atomic(report, render_report(metrics, manifest, bench, timings, config))
    write_json_atomic(out / "timings.json", timings)
    if config.promote:
        target = promote(out, Path(config.models_dir) if config.models_dir else ROOT / "models",
                         metrics, manifest, bench, config)
        print(f"promoted into {target}", file=sys.stderr)
    return report


def run_bench(out: Path, config: PipelineConfig) -> None:
    from benchmarks import environment, report, runner
    from benchmarks.config import BenchConfig

    bench_cfg = BenchConfig(models=(str(out / "export"),), data_dir=config.data_dir,
                            out=str(out / "bench"), min_time=config.bench_min_time,
                            min_runs=config.bench_min_runs,
                            runtime_python=list(config.runtime_python))
    prepare_out_dir(out / "bench", force=True, what="benchmark")
    results, counts = runner.run(bench_cfg)
    env = environment.describe()
    report.write_all(out / "bench", env, results, bench_cfg.batch_sizes,
                     {"images": counts["images"]})
    print(report.table(results, bench_cfg.batch_sizes), file=sys.stderr)


def recommend(results: list[dict[str, Any]], tolerance: float = 0.001,
              same_speed: float = 0.10) -> dict[str, dict[str, Any]]:
    """Per runtime family, the file to deploy.

    Candidates: files that ran on every runtime measured for their family (a Pi may only have
    the fallback runtime), within ``tolerance`` of the best accuracy. Among them the fastest,
    where latencies within ``same_speed`` of the fastest count as equal and the more accurate,
    then the smaller file wins: a 2 µs gap is noise, not a reason to deploy a worse model.
    """
    picks: dict[str, dict[str, Any]] = {}
    measured = [r for r in results if r.get("runtime") != "keras" and r.get("status") != "skipped"]
    for family, runtimes in (("tflite", ("litert", "tflite-runtime")), ("onnx", ("onnxruntime",))):
        rows = [r for r in measured if r["runtime"] in runtimes and (r.get("threads") or 1) == 1]
        broken = {r["model"] for r in rows if r["status"] != "ok"}
        ok = [r for r in rows if r["status"] == "ok"]
        portable = [r for r in ok if r["model"] not in broken] or ok
        if not portable:
            continue
        best = max(r["accuracy"] for r in portable)
        near = [r for r in portable if r["accuracy"] >= best - tolerance]
        # One row per file: its fastest runtime (LiteRT, where both ran).
        fastest: dict[str, dict[str, Any]] = {}
        for r in near:
            if r["model"] not in fastest or \
                    r["latency_us"]["p50"] < fastest[r["model"]]["latency_us"]["p50"]:
                fastest[r["model"]] = r
        quickest = min(r["latency_us"]["p50"] for r in fastest.values())
        tied = [r for r in fastest.values()
                if r["latency_us"]["p50"] <= quickest * (1 + same_speed)]
        picks[family] = max(tied, key=lambda r: (r["accuracy"], -r["bytes"]))
    return picks


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2%}"


def _drawn_line(bench: dict[str, Any]) -> list[str]:
    drawn = bench.get("drawn")
    if not drawn:
        return []
    return [f"- drawn digits: {_pct(drawn['accuracy'])} of `{drawn['file']}` read correctly, "
            "replayed stroke by stroke through the app (`mnist-edge draw --headless --replay`) "
            "with the recommended model"]


def export_table(manifest: dict[str, Any], fp32_bytes: int | None = None) -> str:
    rows = ["| format | file | KB | vs fp32 | accuracy | agreement | max abs diff | export s |",
            "|---|---|---|---|---|---|---|---|"]
    fp32 = fp32_bytes or next((m["bytes"] for m in manifest["models"]
                               if m["format"] == "tflite-fp32"), None)
    for m in manifest["models"]:
        ratio = f"{m['bytes'] / fp32:.2f}x" if fp32 else "-"
        rows.append(f"| {m['format']} | {m['file']} | {m['bytes'] / 1024:.1f} | {ratio} | "
                    f"{_pct(m['accuracy'])} | {_pct(m['agreement'])} | "
                    f"{m['max_abs_diff']:.4f} | {m.get('export_seconds', 0):.1f} |")
    return "\n".join(rows)


def render_report(metrics: dict[str, Any], manifest: dict[str, Any], bench: dict[str, Any],
                  timings: dict[str, float], config: PipelineConfig) -> str:
    from benchmarks.report import table

    picks = recommend(bench["results"])
    lines = [f"# mnist-edge pipeline report: `{metrics['arch']}`", ""]
    if "tflite" in picks:
        p = picks["tflite"]
        lines += [f"**Deploy `{p['model']}` on {p['runtime']}**: {_pct(p['accuracy'])} on the "
                  f"MNIST test set, {p['bytes'] / 1024:.0f} KB, {p['latency_us']['p50']:.0f} µs "
                  "per digit (p50, 1 thread, this machine)."]
    if "onnx" in picks:
        p = picks["onnx"]
        lines += ["", f"Where only onnxruntime is available: `{p['model']}` "
                  f"({_pct(p['accuracy'])}, {p['latency_us']['p50']:.0f} µs)."]
    lines += ["", "Rule: per runtime family, among files that ran on every runtime measured "
              "for it and are within 0.1 points of the most accurate, the fastest; latencies "
              "within 10 % count as equal, and then accuracy and size decide.", "",
              "## Training", "",
              f"- architecture `{metrics['arch']}`: {metrics['params']:,} parameters, "
              f"{metrics['macs']:,} multiply-adds per digit",
              f"- {metrics['epochs_run']} epochs (best {metrics['best_epoch']}), "
              f"{metrics['train_seconds']:.0f} s of training; augmentation "
              f"`{metrics['config']['augment']}`",
              f"- float test accuracy {_pct(metrics['test_accuracy'])} "
              f"({metrics['test_errors']} errors of {metrics['test_images']:,})",
              *_drawn_line(bench),
              "", "![curves](train/curves.png)", "", "![confusion](train/confusion.png)", "",
              "## Export", "", export_table(manifest), "", "## Benchmark", "",
              f"Environment: {bench['environment']['cpu']}, {bench['environment']['cores']} "
              f"cores, Python {bench['environment']['python']}.", "",
              table(bench["results"], (1, 32), markdown=True), "",
              "![latency vs accuracy](bench/latency_vs_accuracy.png)", "",
              "## Time", "", *[f"- {k}: {v:.0f} s" for k, v in timings.items()], ""]
    return "\n".join(lines)


def promote(out: Path, target: Path, metrics: dict[str, Any], manifest: dict[str, Any],
            bench: dict[str, Any], config: PipelineConfig) -> Path:
    """Copy the models into ``target`` atomically (manifest last) and write its model card."""
    if not any(m["family"] == "tflite" for m in manifest["models"]):
        raise UserError("not promoting: no TFLite model passed validation, and the app's "
                        "default runtime needs one")
    target.mkdir(parents=True, exist_ok=True)
    files = [m["file"] for m in manifest["models"]] + ["model.keras"]
    for name in files:
        with atomic_path(target / name) as tmp:
            shutil.copyfile(out / "export" / name, tmp)
    for name in ("results.json", "results.md"):
        with atomic_path(target / f"benchmark-{name}") as tmp:
            shutil.copyfile(out / "bench" / name, tmp)
    write_text_atomic(target / "README.md", model_card(metrics, manifest, bench, config))
    with atomic_path(target / "manifest.json") as tmp:
        shutil.copyfile(out / "export" / "manifest.json", tmp)
    return target


def model_card(metrics: dict[str, Any], manifest: dict[str, Any], bench: dict[str, Any],
               config: PipelineConfig) -> str:
    from benchmarks.report import table

    command = ["mnist-edge", "pipeline", "--arch", config.arch, "--epochs", str(config.epochs),
               "--seed", str(config.seed), "--promote"]
    if config.dev:
        command += ["--dev", config.dev]
    train_cfg = metrics["config"]
    picks = recommend(bench["results"])
    pick = picks.get("tflite")
    env = bench["environment"]
    return "\n".join([
        f"# Model card: mnist-edge `{metrics['arch']}`", "",
        "Handwritten-digit classifier for touchscreens on Raspberry Pi-class devices. Input: "
        "raw 28x28 uint8 pixels, ink 255 on 0, prepared by `edge_app.preprocess.to_mnist` "
        "(crop, fit 20 px, centre of mass at 14,14, as MNIST was made); scaling to [0, 1] is "
        "inside the model. Output: ten softmax probabilities, labels 0-9. Every file carries "
        "this description in its own metadata.", "",
        "## Architecture", "",
        f"`{metrics['arch']}`: {metrics['params']:,} parameters, {metrics['macs']:,} "
        "multiply-adds per digit. Conv3x3(16)+BN+ReLU -> MaxPool -> Conv3x3(32)+BN+ReLU -> "
        "MaxPool -> Conv3x3(48, valid)+BN+ReLU -> Conv3x3(64, valid)+BN+ReLU -> Flatten(576) -> "
        "Dropout(0.3) -> Dense(10, softmax). Wide layers only run after pooling; valid "
        "convolutions shrink 7x7 -> 5x5 -> 3x3 instead of pooling again; BatchNorm folds into "
        "the convolutions at export, so int8 costs nothing extra.", "",
        "## Training", "",
        f"- Data: MNIST training set, {metrics['train_images']:,} images for training and "
        f"{metrics['val_images']:,} held out for validation (seeded split); the test set is "
        "used once, for the figures below. Checksums of the files used are in "
        "`metrics.json` of the run.",
        f"- Augmentation `{train_cfg['augment']}` in the input pipeline (never in the exported "
        "graph): rotation +-12 deg, shear 0.25, scale 0.85-1.1, aspect 0.8-1.2, shift +-2.5 px, "
        "stroke thickness (blend towards 3x3 dilation, or up to 40 % towards erosion), and two "
        "writing styles MNIST's US census writers rarely used: the slashed zero and the "
        "European one with a long flag (30 % of 0s and 1s).",
        f"- Adam, cosine schedule with one warm-up epoch, peak LR {train_cfg['lr']}, batch "
        f"{train_cfg['batch_size']}; the best epoch by validation accuracy (ties to the later "
        f"epoch) is kept, and training stops after {train_cfg['patience']} epochs without a "
        "gain, counted from mid-schedule.",
        f"- Command: `{shlex.join(command)}` (with `--data-dir` or `MNIST_EDGE_DATA` pointing "
        "at MNIST, else it is downloaded and verified).",
        f"- {metrics['epochs_run']} epochs, best epoch {metrics['best_epoch']}, "
        f"{metrics['train_seconds'] / 60:.1f} min of training on {env['cpu']} "
        f"({env['cores']} cores, no GPU).",
        f"- Float test accuracy: {_pct(metrics['test_accuracy'])} "
        f"({metrics['test_errors']} errors).", *_drawn_line(bench), "",
        "## Files and accuracy (full MNIST test set, 10,000 images, slim runtimes)", "",
        export_table(manifest), "",
        "## Benchmark (this machine; `mnist-edge bench --models models`)", "",
        f"Environment: {env['cpu']}, {env['cores']} cores, {env['os']}, Python "
        f"{env['python']}. Single-image latency over real test digits; robust accuracy: test "
        "digits re-drawn on a large canvas (moved, scaled, stretched, thicker or thinner) and "
        "read back through the app's preprocessing.", "",
        table(bench["results"], (1, 32), markdown=True), "",
        (f"Deploy `{pick['model']}` on {pick['runtime']} ({_pct(pick['accuracy'])}, "
         f"{pick['bytes'] / 1024:.0f} KB, {pick['latency_us']['p50']:.0f} µs)." if pick else ""),
        "",
        "## Known limits", "",
        "- One digit per canvas unless the app runs with `--multi` (connected ink, left to "
        "right); touching digits are read as one.",
        "- Trained on MNIST only: styles neither MNIST nor the synthesized variants cover "
        "(e.g. crossed sevens with unusual shapes, very stylised fours) are read less "
        "reliably; the app then shows low confidence.",
        "- No \"not a digit\" class: letters and scribbles get a digit, usually with low "
        "confidence (the app's threshold, default 0.6, says \"not sure\").",
        "- Latency figures are for the machine named above; see docs/raspberry-pi.md for Pi "
        "estimates and how to measure there.", ""])


def main(argv: list[str] | None = None) -> int:
    from mnist_edge.cli import run_standalone

    return run_standalone("pipeline", argv)
