"""The one registry of export formats. It drives ``export``, ``bench`` and the README table.

Exporters are named as ``"module:function"`` strings so that reading the registry (on a Pi,
in the benchmark) never imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFormat:
    key: str  # what users type: --formats tflite-int8,onnx-fp32
    suffix: str  # file suffix
    family: str  # "tflite" or "onnx": which runtimes can load it
    precision: str  # fp32, fp16, dynamic, int8
    exporter: str  # "module:function" in the export package
    min_agreement: float  # top-1 agreement with the Keras source required to pass validation
    description: str

    def filename(self, stem: str) -> str:
        return f"{stem}-{self.precision}{self.suffix}"


FORMATS: dict[str, ExportFormat] = {
    f.key: f
    for f in (
        ExportFormat("tflite-fp32", ".tflite", "tflite", "fp32", "export.to_tflite:convert_fp32",
                     0.999, "float32 TFLite"),
        ExportFormat("tflite-fp16", ".tflite", "tflite", "fp16", "export.to_tflite:convert_fp16",
                     0.999, "float16 weights, float compute"),
        ExportFormat("tflite-dynamic", ".tflite", "tflite", "dynamic",
                     "export.to_tflite:convert_dynamic", 0.995,
                     "dynamic-range quantization: int8 weights, float activations"),
        ExportFormat("tflite-int8", ".tflite", "tflite", "int8", "export.to_tflite:convert_int8",
                     0.995, "full integer quantization, uint8 input and output"),
        ExportFormat("onnx-fp32", ".onnx", "onnx", "fp32", "export.to_onnx:convert_fp32",
                     0.999, "ONNX via tf2onnx with an explicit input signature"),
        ExportFormat("onnx-int8", ".onnx", "onnx", "int8", "export.to_onnx:convert_int8",
                     0.995, "onnxruntime static QDQ quantization, per-channel"),
    )
}

#: Which runtimes load which family; the order is the preference of runtime ``auto``.
RUNTIMES_BY_FAMILY: dict[str, tuple[str, ...]] = {
    "tflite": ("litert", "tflite-runtime"),
    "onnx": ("onnxruntime",),
}


def family_of(path: str) -> str | None:
    """The model family a file belongs to, by suffix; None for anything else."""
    lowered = path.lower()
    for fmt in FORMATS.values():
        if lowered.endswith(fmt.suffix):
            return fmt.family
    return None


def markdown_table() -> str:
    """The README's format table, generated from the registry (a test keeps them in sync)."""
    lines = ["| key | file | precision | runs on | validation: top-1 agreement with Keras | what |",
             "|---|---|---|---|---|---|"]
    for f in FORMATS.values():
        runtimes = ", ".join(RUNTIMES_BY_FAMILY[f.family])
        lines.append(f"| `{f.key}` | `{f.filename('edge')}` | {f.precision} | {runtimes} | "
                     f">= {f.min_agreement:.1%} | {f.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
