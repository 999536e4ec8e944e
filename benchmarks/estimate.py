"""Estimate single-image latency on a Raspberry Pi 4 / 5 from a benchmark run on another CPU.

    mnist-edge estimate RESULTS_JSON [--macs N] [--out FILE.md] [--pen]
    mnist-edge estimate --numbers SPEED_JSON [--out FILE.md]

An *estimate*, not a measurement: each row's measured invoke time is scaled by the ratio of
per-core peak multiply-accumulate throughput for its arithmetic (fp32 or int8) between the
measuring CPU and the Pi's, and the measured Python-layer time (whole call minus invoke) by the
ratio of scalar single-thread speed. Measure on the device with the command printed below.
"""

from __future__ import annotations

from dataclasses import dataclass

from mnist_edge.benchmarks.number_speed import NumberSpeed
from mnist_edge.benchmarks.results import Result
from mnist_edge.core.errors import UserError
from mnist_edge.core.registry import EDGE_RUNTIMES, FORMATS
from mnist_edge.core.text import markdown_table


@dataclass(frozen=True)
class CpuProfile:
    name: str
    ghz: float
    fp32_macs_per_cycle: int  # per core, SIMD FMA lanes x pipes
    int8_macs_per_cycle: int  # per core, with the best int8 instruction XNNPACK/MLAS use
    scalar_vs_reference: float  # single-thread speed relative to the reference CPU (1.0)

    def peak(self, arithmetic: str) -> float:
        per_cycle = self.int8_macs_per_cycle if arithmetic == "int8" else self.fp32_macs_per_cycle
        return self.ghz * 1e9 * per_cycle


# The measuring machine of this repository's figures: AMD EPYC (Zen 4), AVX-512 + VNNI, 2.6 GHz.
REFERENCE = CpuProfile("AMD EPYC (Zen 4) 2.6 GHz", 2.6, 32, 64, 1.0)
TARGETS = (
    # Cortex-A72: 2x128-bit NEON FMA; no dot-product, int8 via widening multiply-add (SMLAL).
    CpuProfile("Raspberry Pi 4 (Cortex-A72, 1.8 GHz)", 1.8, 8, 16, 0.25),
    # Cortex-A76: 2x128-bit NEON FMA, SDOT int8 dot product (ARMv8.2).
    CpuProfile("Raspberry Pi 5 (Cortex-A76, 2.4 GHz)", 2.4, 8, 32, 0.5),
)


def _arithmetic(row: Result) -> str:
    fmt = FORMATS.get(row.format)
    return fmt.arithmetic if fmt else "fp32"


def estimate(row: Result, target: CpuProfile, reference: CpuProfile = REFERENCE) -> float:
    """Estimated whole-call p50 in µs on ``target``."""
    arithmetic = _arithmetic(row)
    invoke = row.invoke_us["p50"]
    python_layer = max(row.latency_us["p50"] - invoke, 0.0)
    return (
        invoke * reference.peak(arithmetic) / target.peak(arithmetic)
        + python_layer / target.scalar_vs_reference
    )


def estimable(results: list[Result]) -> list[Result]:
    """The rows an estimate scales: measured, on an edge runtime, one thread. Each needs its
    whole-call and invoke p50 (``Result.from_json`` has checked any it has are times)."""
    rows = [r for r in results if r.ok and r.runtime in EDGE_RUNTIMES and (r.threads or 1) == 1]
    for r in rows:
        for name, stats in (("latency_us", r.latency_us), ("invoke_us", r.invoke_us)):
            if "p50" not in stats:
                raise UserError(
                    f"not a bench results file ({name} of {r.model}, {r.name}, has no p50); "
                    "make one with 'mnist-edge bench'"
                )
    return rows


def table(results: list[Result], macs: int | None) -> str:
    rows = estimable(results)
    head = [
        "format",
        "runtime",
        "measured here p50 µs",
        *[f"{t.name.split(' (')[0]} estimate µs" for t in TARGETS],
    ]
    body = [
        [r.format, r.runtime, f"{r.latency_us['p50']:.0f}"]
        + [f"~{estimate(r, t):.0f}" for t in TARGETS]
        for r in rows
    ]
    lines = [markdown_table(head, body)]
    notes = ["", "Assumptions (per core, single thread):", ""]
    for p in (REFERENCE, *TARGETS):
        notes.append(
            f"- {p.name}: fp32 {p.fp32_macs_per_cycle} MAC/cycle "
            f"({p.peak('fp32') / 1e9:.0f} GMAC/s peak), int8 {p.int8_macs_per_cycle} "
            f"MAC/cycle ({p.peak('int8') / 1e9:.0f} GMAC/s), scalar speed "
            f"{p.scalar_vs_reference:g}x of the reference"
        )
    if macs:
        notes.append(f"- the model: {macs:,} multiply-adds per digit")
    notes += [
        "- fp16 files compute in fp32 on these CPUs; dynamic-range files use int8 kernels",
        "- estimate = invoke x (peak here / peak there) + (whole call - invoke) / scalar "
        "speed; real kernels reach a different share of peak on each CPU, so expect "
        "+-50 %",
    ]
    return "\n".join(lines + notes)


def number_table(speed: NumberSpeed) -> str:
    """Reading a 5-digit number on the Pis: the model calls scaled by arithmetic throughput,
    the rest (rendering candidates, ``to_mnist``, features, the path) by scalar speed."""
    fmt = FORMATS.get(speed.format)
    arithmetic = fmt.arithmetic if fmt else "fp32"

    def p50(whole: float, model: float, target: CpuProfile) -> float:
        ratio = REFERENCE.peak(arithmetic) / target.peak(arithmetic)
        return model * ratio + max(whole - model, 0.0) / target.scalar_vs_reference

    rows = [
        ("cold read", speed.cold, speed.cold_model.p50),
        ("read after the last stroke (the app)", speed.last, speed.last_model.p50),
        ("frame with input", speed.frames, 0.0),
    ]
    head = ["reading", "measured here p50 / p99 ms"]
    for t in TARGETS:
        head.append(f"{t.name.split(' (')[0]} estimate p50 / p99 ms")
    body = [
        [name, f"{timing.p50:.1f} / {timing.p99:.1f}"]
        + [
            f"~{p50(timing.p50, model, t):.0f} / ~{timing.p99 / t.scalar_vs_reference:.0f}"
            for t in TARGETS
        ]
        for name, timing, model in rows
    ]
    notes = [
        "",
        f"- {speed.model} on {speed.runtime}, TTA {speed.tta}, {speed.numbers} numbers of 5 "
        "digits; CPU time of the reading thread",
        "- p50 = model calls x (peak here / peak there) + the rest / scalar speed; p99 = all of "
        "it at scalar speed (an upper bound); frames are drawing and reading, all scalar",
        "- "
        + "; ".join(f"{p.name}: scalar {p.scalar_vs_reference:g}x" for p in (REFERENCE, *TARGETS)),
        "- an estimate, +-50 %: measure on the device with `mnist-edge numbers speed FILE`",
    ]
    return "\n".join([markdown_table(head, body), *notes])
