"""The ONNX family on onnxruntime (CPU): one inference session per model file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.contract import EMBEDDING, PROBABILITIES
from mnist_edge.core.text import error_line
from mnist_edge.edge_app.runtime.metadata import onnx_description
from mnist_edge.edge_app.runtime.model import (
    Model,
    ModelError,
    Outputs,
    TensorSpec,
    fixed_batches,
    read_model_file,
    rows,
)

_ORT_TYPES = {
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
}


class OnnxModel(Model):
    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        content = read_model_file(path)
        super().__init__(path, content)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                content, options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph classes
            raise ModelError(
                f"{path} is not a valid ONNX model ({error_line(exc)}); "
                "it may be truncated or corrupt: export it again"
            ) from None
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise ModelError(
                f"{path} has {len(inputs)} inputs and {len(outputs)} outputs; "
                "mnist-edge models take one image input"
            )
        inp = inputs[0]
        if inp.type not in _ORT_TYPES:
            raise ModelError(
                f"{path} takes {inp.type} input; mnist-edge models take uint8 "
                "pixels (or int8/float versions of them)"
            )
        self.input = TensorSpec(inp.name, _dims(inp.shape), np.dtype(_ORT_TYPES[inp.type]))
        named = {o.name: o for o in outputs}
        out = named.get(PROBABILITIES, outputs[0])
        self.output = TensorSpec(out.name, _dims(out.shape), np.dtype(np.float32))
        emb = named.get(EMBEDDING)
        self.embedding = (
            None if emb is None else TensorSpec(emb.name, _dims(emb.shape), np.dtype(np.float32))
        )
        self._names = [out.name] + ([emb.name] if emb is not None else [])
        self.description = onnx_description(self._session.get_modelmeta().custom_metadata_map)
        self._check_signature()
        # A batch fixed in the graph (e.g. exported for batch 1) is fed that many rows per run,
        # as TFLite fixed-batch models are: TTA and --multi read several digits at once.
        first = self.input.shape[0] if self.input.shape else -1
        self._fixed_batch = first if first > 0 else None
        self._feed: dict[str, np.ndarray] = {}
        self._result: list[np.ndarray] | None = None

    def bind(self, images: np.ndarray) -> None:
        self._feed = {self.input.name: self.to_input(images)}

    def invoke(self) -> None:
        x = self._feed.get(self.input.name)
        batch = self._fixed_batch
        if batch is None or x is None or len(x) == batch:
            self._result = self._session.run(self._names, self._feed)
            return
        runs = [
            self._session.run(self._names, {self.input.name: part})
            for part in fixed_batches(x, batch)
        ]
        shapes = [self.output.shape] + ([self.embedding.shape] if self.embedding else [])
        self._result = [
            rows([np.asarray(r[k]) for r in runs], len(x), shapes[k])
            for k in range(len(self._names))
        ]

    def read(self) -> np.ndarray:
        if self._result is None:
            raise RuntimeError("read() before invoke()")
        return self.output.dequantize(np.asarray(self._result[0]))

    def read_outputs(self) -> Outputs:
        if self._result is None:
            raise RuntimeError("read() before invoke()")
        probs = self.output.dequantize(np.asarray(self._result[0]))
        emb = (
            None
            if self.embedding is None
            else self.embedding.dequantize(np.asarray(self._result[1]))
        )
        return Outputs(probs, emb)


def _dims(shape: list[Any]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else -1 for d in shape)
