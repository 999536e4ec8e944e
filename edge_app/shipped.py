"""Find the models shipped with mnist-edge and pick the default one for a runtime."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from edge_app.runtime import RUNTIMES, choose_runtime, installed_runtimes
from mnist_edge.errors import UserError

ENV_MODELS = "MNIST_EDGE_MODELS"
MANIFEST = "manifest.json"

#: Preferred shipped format per family, best first: what the pipeline's report recommends for
#: the shipped model (models/README.md): int8 is as fast as the others within noise, the most
#: accurate, the smallest, and tflite-int8 also loads on tflite-runtime 2.14.
PREFERRED = {
    "tflite": ("tflite-int8", "tflite-dynamic", "tflite-fp16", "tflite-fp32"),
    "onnx": ("onnx-int8", "onnx-fp32"),
}


def models_dir() -> Path:
    """$MNIST_EDGE_MODELS, else models/ of a source checkout, else the installed share folder."""
    env = os.environ.get(ENV_MODELS)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent / "models"
    if (checkout / MANIFEST).is_file():
        return checkout
    return Path(sys.prefix) / "share" / "mnist-edge" / "models"


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"no shipped models: {path} not found; pass --model PATH or set "
                        f"{ENV_MODELS} to a folder written by 'mnist-edge export'") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not a readable manifest ({exc}); export the models again") \
            from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), list):
        raise UserError(f"{path} has no 'models' list; export the models again")
    return manifest


def default_model(runtime: str = "auto", directory: Path | None = None) -> tuple[Path, str]:
    """(model file, runtime) for ``runtime``: ``auto`` tries LiteRT, tflite-runtime, onnxruntime."""
    directory = directory or models_dir()
    entries = {m.get("format"): m for m in read_manifest(directory)["models"]}
    if runtime == "auto":
        candidates = installed_runtimes()
        if not candidates:
            raise UserError("no runtime installed; pip install ai-edge-litert (or "
                            "'mnist-edge[edge]'), or tflite-runtime, or onnxruntime")
    else:
        candidates = [runtime]
    for name in candidates:
        family = RUNTIMES[name].family if name in RUNTIMES else None
        if family is None:
            choose_runtime("tflite", name)  # raises the standard unknown-runtime message
        for key in PREFERRED[family]:
            if key in entries:
                choose_runtime(family, name)  # raises if an explicitly named one is missing
                return directory / entries[key]["file"], name
    raise UserError(f"{directory / MANIFEST} lists no model that {' or '.join(candidates)} "
                    "can run; export one or pass --model PATH")
