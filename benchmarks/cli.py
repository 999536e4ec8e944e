"""``mnist-edge bench``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from mnist_edge.benchmarks.config import ALL_RUNTIMES
from mnist_edge.benchmarks.results import FAILED
from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.tta import DEFAULT_TTA


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="DIR_OR_FILE",
        help="model files, or folders with manifest.json (default: shipped)",
    )
    parser.add_argument(
        "--runtimes",
        help=f"comma-separated: {','.join(ALL_RUNTIMES)} "
        "(default: every installed runtime that can run each model)",
    )
    parser.add_argument("--threads", help="comma-separated thread counts (default 1)")
    parser.add_argument("--batch-sizes", help="batch sizes for throughput (default 1,32)")
    parser.add_argument("--warmup", type=int, help="warm-up calls per row (default 50)")
    parser.add_argument(
        "--min-runs", type=int, help="timed single-image calls, at least (default 300)"
    )
    parser.add_argument(
        "--min-time", type=float, help="seconds of timed calls, at least (default 2)"
    )
    parser.add_argument("--limit", type=int, help="accuracy on the first N test images only")
    parser.add_argument(
        "--drawn-eval",
        action="append",
        metavar="REPLAY",
        help="labelled drawn digits (mnist-edge-strokes/1): accuracy per file, "
        "rendered as the app renders them; repeatable",
    )
    parser.add_argument(
        "--tta",
        type=int,
        help="also measure reading N variants per digit, averaged, as the app does "
        f"(accuracy and time per reading; default {DEFAULT_TTA}, the app's; 1 skips it)",
    )
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (or $MNIST_EDGE_DATA)")
    parser.add_argument("--out", help="output directory (default runs/bench-TIMESTAMP)")
    parser.add_argument(
        "--force", action="store_true", default=None, help="write into an existing output directory"
    )
    parser.add_argument(
        "--min-accuracy",
        type=float,
        help="exit 1 if any ok row's accuracy is below this (0-1); any failed row exits 2",
    )
    parser.add_argument("--keras-model", help=".keras file for the TensorFlow reference row")
    parser.add_argument(
        "--runtime-python",
        action="append",
        metavar="RUNTIME=PYTHON",
        help="run RUNTIME's rows with another interpreter, e.g. "
        "tflite-runtime=.venv-tflite/bin/python",
    )
    parser.add_argument(
        "--no-cold-start",
        dest="cold_start",
        action="store_false",
        default=None,
        help="skip the fresh-process cold-start measurement",
    )
    parser.add_argument(
        "--no-robust",
        dest="robust",
        action="store_false",
        default=None,
        help="skip the re-drawn (robust) accuracy",
    )
    parser.add_argument("--timeout", type=float, help="seconds before a row is abandoned")
    parser.add_argument(
        "--isolation",
        choices=("process", "none"),
        help="process (default): each row in a fresh worker process; none: "
        "in this process, for emulators that cannot start another interpreter",
    )
    parser.add_argument("--config", help="TOML file with any of these options; flags win")


def run(args: argparse.Namespace) -> int:
    from mnist_edge.benchmarks.config import BenchConfig
    from mnist_edge.core.config import build_config

    config = build_config(BenchConfig, vars(args), args.config, section="bench")
    from mnist_edge.benchmarks import environment, report, runner
    from mnist_edge.core.fsutil import output_dir

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    with output_dir(
        config.out or f"runs/bench-{stamp}", force=config.force, what="benchmark"
    ) as out:
        results, counts = runner.run(config)
        env = environment.describe()
        env["runtime_python"] = config.runtime_python or None
        meta = {
            "images": counts["images"],
            "settings": config.settings(),
        }
        written = report.write_all(out, env, results, config.batch_sizes, meta)
    print(report.table(results, config.batch_sizes))
    if tta := report.tta_lines(results, config.tta):
        print("\n" + "\n".join(tta))
    if learned := report.learning_lines(results):
        print("\non-device learning, every misreading corrected (one profile per writer):")
        print("\n".join(learned))
    print(f"wrote {', '.join(written)} to {out}")
    if not any(name.endswith(".png") for name in written):
        print(f"mnist-edge: no plots written; {report.PLOTS_HINT}", file=sys.stderr)
    failed = [r for r in results if r.status == FAILED]
    low: list[str] = []
    if config.min_accuracy is not None:
        low = [
            f"{r.format}/{r.runtime} {r.accuracy:.2%}"
            for r in results
            if r.ok and r.accuracy is not None and r.accuracy < config.min_accuracy
        ]
        if not any(r.ok and r.accuracy is not None for r in results) and not failed:
            raise UserError(
                f"--min-accuracy {config.min_accuracy:.2%}: no row was measured (all skipped); "
                "install a runtime for these models or drop the flag"
            )
        if low:
            print(
                f"below --min-accuracy {config.min_accuracy:.2%}: {', '.join(low)}", file=sys.stderr
            )
    if failed:  # bad input (a model that cannot run): 2, before any accuracy verdict
        named = "; ".join(f"{r.model} on {r.runtime}: {r.reason[:160]}" for r in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise UserError(
            f"{len(failed)} of {len(results)} benchmark rows failed ({named}{more}); the "
            f"rows that ran are in {out}"
        )
    return 1 if low else 0
