"""Measure one (model, runtime, threads) row in this process; print one JSON object.

Run by the benchmark as ``python -m mnist_edge.benchmarks.worker SPEC_JSON``, possibly with another
interpreter (tflite-runtime needs numpy < 2). Imports only numpy, the runtime layer and, for the
Keras reference row, TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import platform
import sys
import time
import traceback
from typing import Any

import numpy as np

from mnist_edge.benchmarks.stats import downsample, summarize, time_loop
from mnist_edge.core.registry import REFERENCE_RUNTIME
from mnist_edge.edge_app.runtime import Outputs


def _accuracy(
    model: Any, images: np.ndarray, labels: np.ndarray, blank: np.ndarray | None = None
) -> float:
    """Share read right; a ``blank`` sample (the app reads nothing there) is a miss."""
    right = model.run(images).probabilities.argmax(1) == labels
    return float((right & ~_blank(blank, len(right))).mean())


def _blank(blank: np.ndarray | None, n: int) -> np.ndarray:
    return np.zeros(n, bool) if blank is None else np.asarray(blank, bool)


def _drawn_blank(data: Any, i: int) -> np.ndarray | None:
    return data.get(f"drawn{i}_blank")  # absent in inputs made before blanks were marked


class _KerasModel:
    """The reference: a Keras model called the way the seed apps did, ``model.predict``."""

    runtime = "keras"

    def __init__(self, path: str) -> None:
        from mnist_edge.core.quiet import load_keras_model

        # quietly, and a torn file is one line ("not a .keras file"), not "File not found"
        self.model = load_keras_model(path, "pass --keras-model the model.keras of a run")
        self._x: np.ndarray | None = None
        self._out: np.ndarray | None = None

    def run(self, images: np.ndarray) -> Outputs:
        x = np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28, 1)
        return Outputs(np.asarray(self.model.predict(x, verbose=0)), None)

    def bind(self, images: np.ndarray) -> None:
        self._x = np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28, 1)

    def invoke(self) -> None:
        self._out = np.asarray(self.model(self._x, training=False))

    def read(self) -> np.ndarray:
        return self._out if self._out is not None else np.zeros((0, 10), np.float32)


def _call(model: Any, images: np.ndarray) -> np.ndarray:
    """One whole call as the benchmark times it: bind, invoke, read the probabilities."""
    model.bind(images)
    model.invoke()
    return model.read()


def _versions(runtime: str) -> dict[str, str]:
    import importlib.metadata as md

    from mnist_edge.core.registry import RUNTIMES

    found = {"python": platform.python_version(), "numpy": np.__version__}
    distribution = RUNTIMES[runtime].distribution
    with contextlib.suppress(md.PackageNotFoundError):
        found[distribution] = md.version(distribution)
    return found


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    data = np.load(spec["inputs"])
    images = data["images"]
    labels = data.get("labels")  # none: timed on typeset digits (no MNIST at hand)
    result: dict[str, Any] = {"versions": _versions(spec["runtime"])}
    t0 = time.perf_counter_ns()
    if spec["runtime"] == REFERENCE_RUNTIME:
        model: Any = _KerasModel(spec["model"])
    else:
        from mnist_edge.edge_app.runtime import load_model

        model = load_model(spec["model"], spec["runtime"], spec["threads"])
    t1 = time.perf_counter_ns()
    _call(model, images[:1])
    t2 = time.perf_counter_ns()
    if spec.get("latency_only"):  # a later timing round (bench --repeats): the timing alone
        return {"latency_round_us": _latency(model, images, spec)["p50"], "status": "ok"}
    result["load_ms"] = (t1 - t0) / 1e6
    result["first_inference_ms"] = (t2 - t1) / 1e6
    if labels is not None:
        result["accuracy"] = _accuracy(model, images, labels)
    if "robust_images" in data:
        result["robust_accuracy"] = _accuracy(model, data["robust_images"], data["robust_labels"])
    result["drawn"] = (
        {
            str(name): _accuracy(
                model, data[f"drawn{i}_images"], data[f"drawn{i}_labels"], _drawn_blank(data, i)
            )
            for i, name in enumerate(data["drawn_names"])
        }
        if "drawn_names" in data
        else {}
    )
    if spec.get("numbers") and spec["runtime"] != REFERENCE_RUNTIME:
        # Numbers as the app reads them (its recognizer, TTA, threshold): the edge rows only.
        from mnist_edge.benchmarks.numbers import score_in_process

        limit = spec.get("numbers_limit")
        result["numbers"] = {
            str(name): score_in_process(model, str(path), limit).to_json()
            for name, path in spec["numbers"]
        }
    if getattr(model, "embedding", None) is not None and labels is not None:
        result.update(_learning(model, images, labels, data))
    # Single-image latency on real test digits, cycling through them (never zeros).
    singles = _singles(images)
    loops = _loops(spec)
    whole = time_loop(lambda i: _call(model, singles[i % len(singles)]), **loops)
    invoke = time_loop(
        lambda i: model.invoke(), prepare=lambda i: model.bind(singles[i % len(singles)]), **loops
    )
    result["latency_us"] = summarize(whole)
    result["latency_rounds_us"] = [result["latency_us"]["p50"]]
    result["invoke_us"] = summarize(invoke)
    result["samples_us"] = downsample(whole)
    throughput = {}
    for size in spec["batch_sizes"]:
        batch = np.resize(images, (size, 28, 28))
        runs = time_loop(
            lambda i, b=batch: _call(model, b),
            warmup=3,
            min_runs=10,
            min_time=spec["min_time"] / 2,
        )
        throughput[str(size)] = size / (np.mean(runs) / 1e9)
    result["throughput_ips"] = throughput
    if spec.get("tta", 1) > 1 and spec["runtime"] != REFERENCE_RUNTIME and labels is not None:
        result.update(_tta(model, images, labels, data, spec, loops))
    result["status"] = "ok"
    return result


def _singles(images: np.ndarray) -> list[np.ndarray]:
    return [images[i : i + 1] for i in range(min(len(images), 1000))]


def _loops(spec: dict[str, Any]) -> dict[str, Any]:
    return {"warmup": spec["warmup"], "min_runs": spec["min_runs"], "min_time": spec["min_time"]}


def _latency(model: Any, images: np.ndarray, spec: dict[str, Any]) -> dict[str, float]:
    """One timing round of whole single-image calls, as the first round times them."""
    singles = _singles(images)
    return summarize(time_loop(lambda i: _call(model, singles[i % len(singles)]), **_loops(spec)))


def _learning(model: Any, images: np.ndarray, labels: np.ndarray, data: Any) -> dict[str, Any]:
    """The learning gain per writer on drawn files, its cost on MNIST (one writer), and what a
    correction costs in time and bytes."""
    from mnist_edge.benchmarks import learning

    probs, emb = learning.outputs(model, images)
    found: dict[str, Any] = {"learning": {}, "learning_costs": learning.costs(emb)}
    mnist = learning.simulate(probs, emb, labels, np.array(["mnist"] * len(labels)))
    mnist.pop("per_writer")
    found["learning"]["MNIST test (one writer)"] = mnist
    for i, name in enumerate(data.get("drawn_names", [])):
        writers = data[f"drawn{i}_writers"]
        if len(set(writers.tolist())) > 1 or writers[0] != "?":
            p, e = learning.outputs(model, data[f"drawn{i}_images"])
            found["learning"][str(name)] = learning.simulate(
                p, e, data[f"drawn{i}_labels"], writers, blank=_drawn_blank(data, i)
            )
    return found


def _tta(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    data: Any,
    spec: dict[str, Any],
    loops: dict[str, Any],
) -> dict[str, Any]:
    """Accuracy and per-digit latency with test-time augmentation (the app's reading path)."""
    from mnist_edge.edge_app.recognizer import Recognizer

    recognizer = Recognizer(model, tta=spec["tta"])

    def accuracy(x: np.ndarray, y: np.ndarray, blank: np.ndarray | None = None) -> float:
        right = np.array([recognizer.read_image(im).prediction.digit for im in x]) == y
        return float((right & ~_blank(blank, len(right))).mean())

    found: dict[str, Any] = {"tta_accuracy": accuracy(images, labels)}
    if "drawn_names" in data:
        found["tta_drawn"] = {
            str(name): accuracy(
                data[f"drawn{i}_images"], data[f"drawn{i}_labels"], _drawn_blank(data, i)
            )
            for i, name in enumerate(data["drawn_names"])
        }
    singles = images[: min(len(images), 1000)]
    samples = time_loop(lambda i: recognizer.read_image(singles[i % len(singles)]), **loops)
    found["tta_latency_us"] = summarize(samples)
    return found


def run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """``measure``, with any failure turned into a failed row (the suite goes on)."""
    try:
        return measure(spec)
    except Exception as exc:
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        reason = (lines[-1] if lines else type(exc).__name__)[:300]
        return {
            "status": "failed",
            "reason": reason,
            "traceback": traceback.format_exc(limit=3)[-1500:],
        }


def main() -> int:
    result = run_spec(json.loads(sys.argv[1]))
    sys.stdout.write("\n@@RESULT@@" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
