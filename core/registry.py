"""The one registry of model families, runtimes and export formats.

Export, the benchmark, the app's choice of model and runtime, the pipeline's recommendation and
the README tables are all derived from these three tables; nothing else in the project holds
such a table (``tests/test_layout.py`` checks). Exporters and interpreters are named as
``"module:attribute"`` strings, so reading the registry (on a Pi, in the benchmark) imports
neither TensorFlow nor any runtime.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

from mnist_edge.core import text


@dataclass(frozen=True)
class Family:
    name: str
    suffix: str  # file suffix of its models
    runtimes: tuple[str, ...]  # runtimes that load it, in the order ``auto`` prefers them


@dataclass(frozen=True)
class Runtime:
    name: str  # what users type: --runtime litert
    family: str
    module: str  # importing it proves the runtime is installed
    distribution: str  # pip name, for versions and install hints
    interpreter: str | None = None  # "module:Class" of a TFLite-style Interpreter
    edge: bool = True  # a slim runtime the app may use (no TensorFlow)
    install_hint: str = ""  # how to get it when it is missing
    max_python: tuple[int, int] | None = None  # newest Python its wheels exist for

    def hint(self, python: tuple[int, int] | None = None) -> str:
        """How to get it here, or why it cannot be had on this Python."""
        python = python or sys.version_info[:2]
        if self.max_python and python > self.max_python:
            return (
                f"{self.distribution} has no wheel for Python {python[0]}.{python[1]} (its "
                f"last release stops at {self.max_python[0]}.{self.max_python[1]}); use "
                f"{EDGE_RUNTIMES[0]} instead"
            )
        return self.install_hint or f"pip install {self.distribution}"


@dataclass(frozen=True)
class ExportFormat:
    key: str  # what users type: --formats tflite-int8,onnx-fp32
    family: str
    precision: str  # fp32, fp16, dynamic, int8
    arithmetic: str  # what the CPU computes in: fp32 or int8 (Pi estimates)
    exporter: str  # "module:function" in the export package
    min_agreement: float  # top-1 agreement with the Keras source required to pass validation
    rank: int  # deployment preference inside the family, 0 = first choice
    description: str
    runtimes: tuple[str, ...] | None = None  # None: every runtime of the family

    @property
    def suffix(self) -> str:
        return FAMILIES[self.family].suffix

    @property
    def runs_on(self) -> tuple[str, ...]:
        return self.runtimes or FAMILIES[self.family].runtimes

    @property
    def portable(self) -> bool:
        """Runs on every runtime of its family (a Pi may only have the fallback)."""
        return set(self.runs_on) == set(FAMILIES[self.family].runtimes)

    def filename(self, stem: str) -> str:
        return f"{stem}-{self.precision}{self.suffix}"

    def load_exporter(self) -> Any:
        return resolve(self.exporter)


def resolve(target: str) -> Any:
    """Import ``"module:attribute"`` and return the attribute."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("tflite", ".tflite", ("litert", "tflite-runtime")),
        Family("onnx", ".onnx", ("onnxruntime",)),
        Family("keras", ".keras", ("keras",)),  # the training format: reference row only
    )
}

_TFLITE_RUNTIME_HINT = (
    "tflite-runtime 2.14 needs numpy < 2 and Python <= 3.11: install it in its own "
    "environment (docs/raspberry-pi.md) and run mnist-edge from there (bench: pass "
    "--runtime-python tflite-runtime=PYTHON)"
)

RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        Runtime(
            "litert",
            "tflite",
            "ai_edge_litert.interpreter",
            "ai-edge-litert",
            interpreter="ai_edge_litert.interpreter:Interpreter",
        ),
        Runtime(
            "tflite-runtime",
            "tflite",
            "tflite_runtime.interpreter",
            "tflite-runtime",
            interpreter="tflite_runtime.interpreter:Interpreter",
            install_hint=_TFLITE_RUNTIME_HINT,
            max_python=(3, 11),
        ),
        Runtime("onnxruntime", "onnx", "onnxruntime", "onnxruntime"),
        Runtime(
            "keras",
            "keras",
            "keras",
            "tensorflow",
            edge=False,
            install_hint="pip install 'mnist-edge[train]'",
        ),
    )
}

#: The slim runtimes, in the order ``--runtime auto`` tries them.
EDGE_RUNTIMES: tuple[str, ...] = tuple(r.name for r in RUNTIMES.values() if r.edge)
#: The benchmark's reference: the Keras model as training left it.
REFERENCE_RUNTIME: str = next(r.name for r in RUNTIMES.values() if not r.edge)

FORMATS: dict[str, ExportFormat] = {
    f.key: f
    for f in (
        ExportFormat(
            "tflite-fp32",
            "tflite",
            "fp32",
            "fp32",
            "mnist_edge.export.to_tflite:convert_fp32",
            0.999,
            3,
            "float32 TFLite",
        ),
        ExportFormat(
            "tflite-fp16",
            "tflite",
            "fp16",
            "fp32",
            "mnist_edge.export.to_tflite:convert_fp16",
            0.999,
            2,
            "float16 weights, float compute",
        ),
        ExportFormat(
            "tflite-dynamic",
            "tflite",
            "dynamic",
            "int8",
            "mnist_edge.export.to_tflite:convert_dynamic",
            0.995,
            1,
            "dynamic-range quantization: int8 weights, float activations; its "
            "FULLY_CONNECTED version is newer than tflite-runtime 2.14",
            runtimes=("litert",),
        ),
        ExportFormat(
            "tflite-int8",
            "tflite",
            "int8",
            "int8",
            "mnist_edge.export.to_tflite:convert_int8",
            0.995,
            0,
            "full integer quantization, uint8 input and outputs",
        ),
        ExportFormat(
            "onnx-fp32",
            "onnx",
            "fp32",
            "fp32",
            "mnist_edge.export.to_onnx:convert_fp32",
            0.999,
            1,
            "ONNX via tf2onnx with an explicit input signature",
        ),
        ExportFormat(
            "onnx-int8",
            "onnx",
            "int8",
            "int8",
            "mnist_edge.export.to_onnx:convert_int8",
            0.995,
            0,
            "onnxruntime static QDQ quantization, per-channel",
        ),
    )
}

PRECISIONS: tuple[str, ...] = tuple(sorted({f.precision for f in FORMATS.values()}))


def family_of(path: str) -> str | None:
    """The export family a model file belongs to, by suffix; None for anything else."""
    lowered = path.lower()
    for family in FAMILIES.values():
        if family.name != "keras" and lowered.endswith(family.suffix):
            return family.name
    return None


def formats_by_preference(family: str) -> list[ExportFormat]:
    """The family's formats, the one to deploy first."""
    return sorted((f for f in FORMATS.values() if f.family == family), key=lambda f: f.rank)


def format_runs_on(key: str, runtime: str) -> bool:
    fmt = FORMATS.get(key)
    return fmt is None or runtime in fmt.runs_on


def markdown_table() -> str:
    """The README's format table, generated from the registry (a test keeps them in sync)."""
    formats = text.markdown_table(
        ("key", "file", "precision", "runs on", "validation: top-1 agreement with Keras", "what"),
        (
            (
                f"`{f.key}`",
                f"`{f.filename('edge')}`",
                f.precision,
                ", ".join(f.runs_on),
                f">= {f.min_agreement:.1%}",
                f.description,
            )
            for f in FORMATS.values()
        ),
    )
    runtimes = text.markdown_table(
        ("runtime", "loads", "pip", "on the Pi"),
        (
            (
                f"`{r.name}`",
                f"`{FAMILIES[r.family].suffix}`",
                f"`{r.distribution}`",
                "yes" if r.edge else "no (reference row of the benchmark)",
            )
            for r in RUNTIMES.values()
        ),
    )
    return formats + "\n\n" + runtimes


if __name__ == "__main__":
    print(markdown_table())
