"""``mnist-edge pipeline``: train -> export -> benchmark -> report (-> promote into models/).

Each stage writes into its own folder under ``--out`` and is complete only when its last file
(metrics.json, manifest.json, results.json) exists, so ``--resume`` skips finished stages and a
failure never leaves a model that looks finished. ``--promote`` copies the result into
``models/`` file by file, atomically, manifest last.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from mnist_edge.benchmarks.policy import RULE, headline, recommend
from mnist_edge.benchmarks.results import Result
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import (
    atomic_path,
    output_dir,
    write_json_atomic,
    write_text_atomic,
)
from mnist_edge.core.outputs import check_new_folders
from mnist_edge.core.paths import checkout_models_dir
from mnist_edge.edge_app.runtime.shipped import MANIFEST, pen_section
from mnist_edge.edge_app.tta import DEFAULT_TTA
from mnist_edge.export.exporter import other_sections
from mnist_edge.pipeline.card import model_card
from mnist_edge.pipeline.config import PipelineConfig
from mnist_edge.pipeline.config import add_arguments as add_arguments
from mnist_edge.pipeline.report import render_report
from mnist_edge.train.metrics import TrainMetrics

STAGES = 3


def _stage(number: int, name: str) -> float:
    print(f"\n== [{number}/{STAGES}] {name}", file=sys.stderr, flush=True)
    return time.perf_counter()


def run(args: argparse.Namespace) -> int:
    from mnist_edge.core.config import build_config

    config = build_config(PipelineConfig, vars(args), args.config, section="pipeline")
    report, pick = run_pipeline(config)
    print(f"\nreport: {report}")
    if pick is not None:
        print(f"recommended: deploy {headline(pick)}")
    return 0


def _models_target(config: PipelineConfig) -> Path:
    """Where --promote writes, checked before any work (a training may take hours)."""
    if config.models_dir:
        target = Path(config.models_dir)
        if target.exists() and not target.is_dir():
            raise UserError(f"--models-dir {target} is not a folder; name a folder to promote into")
        # a new folder: its nearest existing parent must take it; an existing one, its manifest
        check_new_folders("--models-dir", target / MANIFEST if target.is_dir() else target)
        return target
    target = checkout_models_dir()
    if target is None:
        raise UserError(
            "--promote needs --models-dir DIR outside a source checkout (where "
            "should the models go?)"
        )
    return target


def _bench_results(path: Path) -> tuple[dict[str, Any], list[Result]]:
    """The benchmark stage's record and its rows; a row that is not one (an older or edited
    file) is one line, before --resume does any work."""
    bench = _read_json(path)
    try:
        return bench, [Result.from_json(r) for r in bench["results"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(
            f"{path}: a row is not a benchmark result ({exc}); run the pipeline again with --force"
        ) from None


def run_pipeline(config: PipelineConfig) -> tuple[Path, Result | None]:
    config.validate_stages()  # every stage's settings, before any work
    if config.resume:  # what a previous run left must be readable before anything starts
        for stage_file in ("train/metrics.json", "export/manifest.json", "bench/results.json"):
            if (config.out_dir / stage_file).is_file():
                _read_json(config.out_dir / stage_file)
        if (config.out_dir / "bench" / "results.json").is_file():
            _bench_results(config.out_dir / "bench" / "results.json")
    target = _models_target(config) if config.promote else None
    out = config.out_dir
    timings: dict[str, float] = {}
    with output_dir(
        out, force=config.force or config.resume, what="pipeline", keep_existing=config.resume
    ):
        from mnist_edge.core.quiet import import_keras

        import_keras()  # TensorFlow's start-up chatter stays hidden (--verbose shows it)
        started = _stage(1, f"train {config.arch}")
        if config.resume and (out / "train" / "metrics.json").is_file():
            print("already trained: keeping its model.keras", file=sys.stderr)
        else:
            from mnist_edge.train.trainer import train

            train(config.train_config())
        timings["train"] = time.perf_counter() - started
        metrics = TrainMetrics.from_json(_read_json(out / "train" / "metrics.json"))

        started = _stage(2, "export")
        if config.resume and (out / "export" / "manifest.json").is_file():
            print("already exported: keeping manifest.json", file=sys.stderr)
        else:
            run_export_stage(config)
        shutil.copy2(out / "train" / "model.keras", out / "export" / "model.keras")
        timings["export"] = time.perf_counter() - started

        started = _stage(3, "benchmark")
        if config.resume and (out / "bench" / "results.json").is_file():
            print("already benchmarked: keeping results.json", file=sys.stderr)
        else:
            run_bench_stage(config)
        timings["bench"] = time.perf_counter() - started

        bench, results = _bench_results(out / "bench" / "results.json")
        manifest = _read_json(out / "export" / "manifest.json")
        replays = replay_stage(config, timings, recommend(results).get("tflite"))
        report = out / "REPORT.md"
        pen = pen_manifest(target)
        write_text_atomic(
            report,
            render_report(
                metrics, manifest, results, bench["environment"], replays, timings, pen=pen
            ),
        )
        write_json_atomic(out / "timings.json", timings)
        if target is not None:
            promote(
                out,
                target,
                model_card(
                    metrics,
                    manifest,
                    results,
                    bench["environment"],
                    replays,
                    command(config),
                    pen=pen,
                ),
                recommend(results).get("tflite"),
            )
            print(f"promoted into {target}", file=sys.stderr)
    return report, recommend(results).get("tflite")


def pen_manifest(target: Path | None) -> dict[str, Any] | None:
    """The pen section of the manifest (docs/pen.md) of the models folder promoted into (else
    this checkout's models/), for the report's and card's pen section; None where there is
    none. The pipeline neither trains nor copies the pen models."""
    folder = target or checkout_models_dir()
    if folder is None:
        return None
    try:  # a section of the report: an unreadable file leaves it without the table, no more
        return pen_section(folder)
    except UserError:
        return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(
            f"{path} is unreadable ({exc}); run the pipeline again with --force instead of --resume"
        ) from None
    if not isinstance(value, dict):
        raise UserError(f"{path} is not what the pipeline wrote; run again with --force")
    return value


def run_export_stage(config: PipelineConfig) -> None:
    from mnist_edge.export.exporter import format_table, run_export

    outcomes = run_export(config.export_config())
    print(format_table(outcomes), file=sys.stderr)
    failed = [o.fmt.key for o in outcomes if o.status != "ok"]
    if len(failed) == len(outcomes):
        raise UserError("every format failed to export; see the table above")
    if failed:  # the others go on; the report and manifest show what passed
        print(f"warning: {', '.join(failed)} failed validation and are left out", file=sys.stderr)


def run_bench_stage(config: PipelineConfig) -> None:
    from mnist_edge.benchmarks import environment, report, runner

    bench_cfg = config.bench_config()
    with output_dir(config.out_dir / "bench", force=True, what="benchmark"):
        results, counts = runner.run(bench_cfg)
        report.write_all(
            config.out_dir / "bench",
            environment.describe(),
            results,
            bench_cfg.batch_sizes,
            {"images": counts.images, "settings": bench_cfg.settings()},
        )
    print(report.table(results, bench_cfg.batch_sizes), file=sys.stderr)


def replay_stage(
    config: PipelineConfig, timings: dict[str, float], pick: Result | None = None
) -> dict[str, Any]:
    """Each --drawn-eval file replayed stroke by stroke through the app, headless, with the
    recommended file (else the app's default for the export folder)."""
    path = config.out_dir / "bench" / "replays.json"
    if not config.drawn_eval:
        return _read_json(path) if path.is_file() else {}
    from mnist_edge.benchmarks.drawn import replay_accuracy
    from mnist_edge.benchmarks.inputs import number_files

    started = time.perf_counter()
    replays = {}
    with_numbers = {path for _, path in number_files(config.drawn_eval)}
    for file in config.drawn_eval:
        if file in with_numbers:  # its numbers: the bench stage reads them per model row
            from mnist_edge.ink.strokes import load_samples, save_samples

            digits = [s for s in load_samples(file) if isinstance(s.label, int)]
            if not digits:
                print(f"{file} holds numbers only: see the bench's numbers rows", file=sys.stderr)
                continue
            # The single-digit replay refuses numbers: replay this file's digits alone.
            only = config.out_dir / "bench" / f"{Path(file).stem}-digits.json"
            only.parent.mkdir(parents=True, exist_ok=True)
            save_samples(only, digits)
            name, file = Path(file).name, str(only)
        else:
            name = Path(file).name
        print(f"replaying {file} through the app ...", file=sys.stderr, flush=True)
        model = config.out_dir / "export" / pick.model if pick is not None else None
        replays[name] = {
            "accuracy": replay_accuracy(
                config.out_dir / "export", Path(file), model=model, tta=DEFAULT_TTA
            ),
            "model": model.name if model is not None else None,
            "tta": DEFAULT_TTA,  # the app's default reading
        }
    write_json_atomic(path, replays)
    timings["replay"] = time.perf_counter() - started
    return replays


def command(config: PipelineConfig) -> list[str]:
    words = [
        "mnist-edge",
        "pipeline",
        "--arch",
        config.arch,
        "--epochs",
        str(config.epochs),
        "--patience",
        str(config.patience),
        "--seed",
        str(config.seed),
        "--drawn-share",
        f"{config.drawn_share:g}",
    ]
    if config.styles:
        words += ["--styles", f"{config.styles:g}"]
    for flag, files in (("--drawn", config.drawn), ("--drawn-eval", config.drawn_eval)):
        for file in files:
            words += [flag, _shown(file)]
    return [*words, "--promote"]


def _shown(file: str) -> str:
    """A path as the card shows it: under the home folder as ``~/...`` (no user's name)."""
    path, home = Path(file).expanduser().absolute(), Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else file


def promote(out: Path, target: Path, card: str, pick: Result | None = None) -> Path:
    """Copy the models into ``target`` atomically (manifest last) and write its model card.

    The manifest records the pipeline's recommendation, which the app's default choice follows.
    """
    # The pen channel's files and the fitted number scores stay listed: promoting replaces the
    # image models, not them (a fitted entry names its model, so the reader sees the change).
    manifest = {**_read_json(out / "export" / "manifest.json"), **other_sections(target)}
    if not any(m["family"] == "tflite" for m in manifest["models"]):
        raise UserError(
            "not promoting: no TFLite model passed validation, and the app's "
            "default runtime needs one"
        )
    target.mkdir(parents=True, exist_ok=True)
    files = [m["file"] for m in manifest["models"]] + ["model.keras"]
    for name in files:
        with atomic_path(target / name) as tmp:
            shutil.copyfile(out / "export" / name, tmp)
    for name in ("results.json", "results.md"):
        with atomic_path(target / f"benchmark-{name}") as tmp:
            shutil.copyfile(out / "bench" / name, tmp)
    write_text_atomic(target / "README.md", card)
    if pick is not None:
        manifest["recommended"] = {
            "format": pick.format,
            "runtime": pick.runtime,
            "why": headline(pick),
            "rule": RULE,
        }
    write_json_atomic(target / "manifest.json", manifest)
    return target
