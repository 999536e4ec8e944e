"""``mnist-edge numbers bench|speed|pictures``, ``estimate``, ``collect-cost``, ``compare``: the
measuring tools beside ``bench``, each ``add_*(parser)`` and ``run_*(args)``.

Every output is checked before any measuring (a bad ``--out`` loses no minute of it, and never
lands on a file the run reads or on labelled drawings) and written atomically at the end.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mnist_edge.benchmarks.tools_config import (
    CollectCostConfig,
    CompareConfig,
    EstimateConfig,
    NumberBenchConfig,
    NumberSpeedConfig,
    PicturesConfig,
)
from mnist_edge.core.config import add_options, build_config
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import check_regular, read_capped
from mnist_edge.core.outputs import check_output, write_output

MAX_RESULTS_BYTES = 64 << 20  # a results.json of many rows is a few MB


def _inputs(files: tuple[str, ...], model: str | None) -> list[tuple[str, str]]:
    """What a run reads, as (flag, path): its output may be none of them."""
    named = [("input", path) for path in files]
    if model:
        check_regular(model, "--model", hint="pass a .tflite or .onnx model")
        named.append(("--model", model))
    return named


def _write(out: str | None, text: str) -> None:
    if out:
        write_output(out, text)


# ---- numbers bench


def add_numbers_bench(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="number files (replay format)")
    add_options(parser, NumberBenchConfig)


def run_numbers_bench(args: argparse.Namespace) -> int:
    from mnist_edge.benchmarks.numbers import score

    config = build_config(NumberBenchConfig, vars(args), args.config, section="numbers-bench")
    inputs = _inputs(config.files, config.model)
    if config.out:
        check_output("--out", config.out, inputs=inputs, force=config.force)
    parts = []
    for path in config.files:
        if not config.no_score:
            report = score(path, config.model)
            parts.append(f"### {report.file} ({report.model})\n\n{report.markdown()}")
        if config.speed:
            from mnist_edge.benchmarks.number_speed import measure

            parts.append(measure(path, config.model, config.speed).text() + "\n")
    text = "\n".join(parts)
    print(text)
    _write(config.out, text)
    return 0


# ---- numbers speed


def add_numbers_speed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a number file (replay format)")
    add_options(parser, NumberSpeedConfig)


def run_numbers_speed(args: argparse.Namespace) -> int:
    from mnist_edge.benchmarks.number_speed import measure

    config = build_config(NumberSpeedConfig, vars(args), args.config, section="numbers-speed")
    inputs = _inputs((config.file,), config.model)
    if config.out:
        check_output("--out", config.out, inputs=inputs, force=config.force)
    speed = measure(config.file, config.model, config.count, config.repeats)
    print(speed.text())
    _write(config.out, json.dumps(speed.to_json(), indent=1) + "\n")
    return 0


# ---- numbers pictures


def add_numbers_pictures(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="number files (replay format)")
    add_options(parser, PicturesConfig)


def run_numbers_pictures(args: argparse.Namespace) -> int:
    from mnist_edge.benchmarks.image_numbers import score

    config = build_config(PicturesConfig, vars(args), args.config, section="numbers-pictures")
    inputs = _inputs(config.files, config.model)
    if config.out:
        check_output("--out", config.out, inputs=inputs, force=config.force)
    text = "\n".join(score(path, config.model, config.limit) for path in config.files)
    print(text)
    _write(config.out, text)
    return 0


# ---- estimate


def add_estimate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results", nargs="?", metavar="RESULTS", help="results.json of 'mnist-edge bench'"
    )
    add_options(parser, EstimateConfig)


def _json(path: str, flag: str, limit: int) -> Any:
    raw = read_capped(path, limit, flag)  # a FIFO or /dev/zero: refused, never a hang
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{flag} {path} is not JSON ({exc}); check the path") from None
    except RecursionError:
        raise UserError(f"{flag} {path} is nested too deeply to be a record") from None


def run_estimate(args: argparse.Namespace) -> int:
    from mnist_edge.benchmarks.estimate import estimable, number_table, table
    from mnist_edge.benchmarks.number_speed import NumberSpeed
    from mnist_edge.benchmarks.results import Result

    config = build_config(EstimateConfig, vars(args), args.config, section="estimate")
    read = config.numbers or config.results
    if config.out:
        check_output("--out", config.out, inputs=[("input", str(read))], force=config.force)
    if config.numbers:
        data = _json(config.numbers, "--numbers", 1 << 20)
        if not isinstance(data, dict):
            raise UserError(f"--numbers {config.numbers} is not a number speed record")
        text = number_table(NumberSpeed.from_json(data))
    else:
        assert config.results is not None
        data = _json(config.results, "RESULTS", MAX_RESULTS_BYTES)
        key = "pen" if config.pen else "results"
        rows = data.get(key) if isinstance(data, dict) else None
        if not isinstance(rows, list):
            hint = "measure them with 'mnist-edge bench --pen'" if config.pen else "pass one"
            raise UserError(
                f"{config.results} has no {'pen rows' if config.pen else 'results'} of "
                f"'mnist-edge bench'; {hint}"
            )
        try:
            results = [Result.from_json(r) for r in rows]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(f"{config.results}: a row is not a benchmark result ({exc})") from None
        try:
            usable = estimable(results)
        except UserError as exc:  # a row without the times an estimate scales: name the file
            raise UserError(f"{config.results}: {exc}") from None
        if not usable:  # an empty table is no estimate
            raise UserError(
                f"{config.results} has no row measured on an edge runtime with one thread; "
                "pass the results.json of a 'mnist-edge bench' run that measured one"
            )
        text = table(results, config.macs)
    print(text)
    _write(config.out, text + "\n")
    return 0


# ---- collect-cost


def add_collect_cost(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a stroke file (mnist-edge-strokes/1)")
    add_options(parser, CollectCostConfig)


def run_collect_cost(args: argparse.Namespace) -> int:
    import statistics
    from pathlib import Path

    from mnist_edge.benchmarks.collect_cost import measure

    config = build_config(CollectCostConfig, vars(args), args.config, section="collect-cost")
    opened, times = measure(Path(config.file), config.saves)
    if not times:
        raise UserError(f"{config.file} has no labelled digits to save; pass a stroke file of them")
    if len(times) < config.saves:
        raise UserError(
            f"{config.file} has {len(times)} labelled digits, fewer than --saves "
            f"{config.saves}; pass --saves {len(times)} or a larger file"
        )
    print(
        f"{Path(config.file).name}: opened in {opened:.0f} ms; per save over {len(times)} saves: "
        f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms"
    )
    return 0


# ---- compare


def add_compare(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="'mnist-edge train' folders")
    add_options(parser, CompareConfig)


def run_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mnist_edge.benchmarks.compare import markdown, row
    from mnist_edge.ink.strokes import load_labelled

    config = build_config(CompareConfig, vars(args), args.config, section="compare")
    for run in config.runs:
        if not Path(run).is_dir():
            raise UserError(f"RUN {run} is not a folder; pass 'mnist-edge train' output folders")
    if config.dev:
        load_labelled(config.dev, "--dev")  # a bad file is one line before any benchmark runs
    if config.out:
        out = Path(config.out).resolve()
        for run in config.runs:  # its metrics, manifest and models are all read: --force or not
            if out.is_relative_to(Path(run).resolve()):
                raise UserError(
                    f"--out {config.out} is inside RUN {run}, which this run reads; "
                    "write the table elsewhere"
                )
        inputs = [("--dev", config.dev)] if config.dev else []
        check_output("--out", config.out, inputs=inputs, force=config.force)
    dev = Path(config.dev) if config.dev else None
    table = markdown([row(Path(run), dev, config.data_dir) for run in config.runs])
    print(table)
    _write(config.out, table + "\n")
    return 0
