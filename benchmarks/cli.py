"""``mnist-edge bench``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from mnist_edge.benchmarks.results import FAILED
from mnist_edge.core.errors import UserError
from mnist_edge.core.signals import sigterm_stops
from mnist_edge.core.text import wrapped


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mnist_edge.benchmarks.config import BenchConfig
    from mnist_edge.core.config import add_options

    add_options(parser, BenchConfig)


def run(args: argparse.Namespace) -> int:
    from mnist_edge.benchmarks.config import BenchConfig
    from mnist_edge.core.config import build_config

    config = build_config(BenchConfig, vars(args), args.config, section="bench")
    from mnist_edge.benchmarks import environment, pen, report, report_pen, runner
    from mnist_edge.benchmarks.report_numbers import numbers_table
    from mnist_edge.core.fsutil import output_dir

    pen_files = pen.discover(config.pen)  # a bad --pen file is one line, before any row runs

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    # SIGTERM (a CI timeout, kill) ends the run cleanly: its workers killed, its folder's
    # lock and temporary files removed, nothing half-written.
    with (
        sigterm_stops(),
        output_dir(
            config.out or f"runs/bench-{stamp}", force=config.force, what="benchmark"
        ) as out,
    ):
        measured = runner.measure_all(config, pen_files)  # one plan: digit rows, then pen rows
        results, inputs, pen_results = measured.results, measured.counts, measured.pen
        assert inputs is not None
        env = environment.describe()
        env["runtime_python"] = config.runtime_python or None
        meta = {
            "images": inputs.images,
            "settings": config.settings(),
            **({"no_accuracy": inputs.no_accuracy} if inputs.no_accuracy else {}),
        }
        written = report.write_all(out, env, results, config.batch_sizes, meta, pen=pen_results)
    print(report.table(results, config.batch_sizes))
    print("\n" + "\n".join(report.legend_lines()))
    if inputs.no_accuracy:
        print("\n" + wrapped(
            f"no accuracy measured: {inputs.no_accuracy}. Latency, size and memory are "
            f"measured on {inputs.images} digits typeset in OpenCV's fonts; for accuracy pass "
            "--data-dir DIR with the MNIST test files (t10k-*), e.g. from 'mnist-edge data "
            "--copy-to DIR' on a machine with network"
        ))  # fmt: skip
    print("\n" + "\n".join(wrapped(line) for line in report.recommendation_lines(results)))
    if tta := report.tta_lines(results, config.tta):
        print("\n" + "\n".join(tta))
    if pen_lines := report_pen.pen_lines(pen_results):
        print("\n" + "\n".join(pen_lines))
    if numbers := numbers_table(results):
        print("\nnumbers of the --drawn-eval files, read as 'draw --multi' reads them:")
        print(numbers)
    if learned := report.learning_lines(results):
        print("\non-device learning, every misreading corrected (one profile per writer):")
        print("\n".join(learned))
    print(f"wrote {', '.join(written)} to {out}")
    if not any(name.endswith(".png") for name in written):
        print(f"mnist-edge: no plots written; {report.PLOTS_HINT}", file=sys.stderr)
    failed = [r for r in (*results, *pen_results) if r.status == FAILED]
    low: list[str] = []
    if config.min_accuracy is not None:
        low = [
            f"{r.format}/{r.runtime} {r.accuracy:.2%}"
            for r in results
            if r.ok and r.accuracy is not None and r.accuracy < config.min_accuracy
        ]
        if not any(r.ok and r.accuracy is not None for r in results) and not failed:
            raise UserError(
                f"--min-accuracy {config.min_accuracy:.2%}: no accuracy was measured ("
                + (inputs.no_accuracy or "all rows skipped")
                + "); pass --data-dir DIR with MNIST, install a runtime for these models, "
                "or drop the flag"
            )
        if low:
            print(
                f"below --min-accuracy {config.min_accuracy:.2%}: {', '.join(low)}", file=sys.stderr
            )
    if failed:  # bad input (a model that cannot run): 2, before any accuracy verdict
        named = "; ".join(f"{r.model} on {r.runtime}: {r.reason[:160]}" for r in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise UserError(
            f"{len(failed)} of {len(results) + len(pen_results)} benchmark rows failed "
            f"({named}{more}); the rows that ran are in {out}"
        )
    return 1 if low else 0
