"""The TFLite family on LiteRT or tflite-runtime: one interpreter per model file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.contract import EMBEDDING, PROBABILITIES
from mnist_edge.core.quiet import quiet_stderr
from mnist_edge.core.text import error_line
from mnist_edge.edge_app.runtime.metadata import tflite_description
from mnist_edge.edge_app.runtime.model import (
    Model,
    ModelError,
    Outputs,
    TensorSpec,
    fixed_batches,
    read_model_file,
    rows,
)


class TFLiteModel(Model):
    def __init__(
        self, path: Path, interpreter_class: Any, runtime: str, threads: int | None = None
    ) -> None:
        content = read_model_file(path)
        super().__init__(path, content)
        self.runtime = runtime
        try:
            with quiet_stderr():  # LiteRT announces its XNNPACK delegate on fd 2
                self._interpreter = interpreter_class(model_content=content, num_threads=threads)
                self._interpreter.allocate_tensors()
            inputs, outputs = self._named_tensors()
        except (ValueError, RuntimeError) as exc:
            text = " ".join(str(exc).split())
            if "Didn't find op" in text:
                detail = text.split("Didn't find op", 1)[1].split(".")[0]
                raise ModelError(
                    f"{path} needs an operator this {runtime} version lacks "
                    f"(op{detail}); use ai-edge-litert or another format of the "
                    "model"
                ) from None
            raise ModelError(
                f"{path} is not a valid TFLite model ({error_line(exc)}); "
                "it may be truncated or corrupt: export it again"
            ) from None
        if len(inputs) != 1 or not outputs:
            raise ModelError(
                f"{path} has {len(inputs)} inputs and {len(outputs)} outputs; "
                "mnist-edge models take one image input"
            )
        ((self._input_index, self.input),) = inputs.values()
        self._output_index, self.output = outputs.get(PROBABILITIES) or next(iter(outputs.values()))
        self._embedding_index, self.embedding = outputs.get(EMBEDDING, (-1, None))
        self._batch = int(self._interpreter.get_input_details()[0]["shape"][0])
        self._dynamic_batch = self.input.shape[0] == -1
        # A fixed-batch model given another number of digits: the rows bound, and what the
        # per-batch invokes returned (None: the interpreter's own tensors hold the result).
        self._pending: np.ndarray | None = None
        self._chunked: tuple[np.ndarray, np.ndarray | None] | None = None
        self.description = tflite_description(content)
        self._check_signature()

    def _named_tensors(
        self,
    ) -> tuple[dict[str, tuple[int, TensorSpec]], dict[str, tuple[int, TensorSpec]]]:
        """Inputs and outputs by signature name; models without a signature by tensor name."""
        it = self._interpreter
        signatures = it.get_signature_list() if hasattr(it, "get_signature_list") else {}
        if len(signatures) == 1:
            runner = it.get_signature_runner(next(iter(signatures)))
            ins, outs = runner.get_input_details(), runner.get_output_details()
        else:
            ins = {d["name"]: d for d in it.get_input_details()}
            outs = {d["name"]: d for d in it.get_output_details()}
        # Signature details lack shape_signature: take it from the interpreter's own tensors.
        by_index = {d["index"]: d for d in [*it.get_input_details(), *it.get_output_details()]}
        return (
            {n: (d["index"], self._spec(n, by_index.get(d["index"], d))) for n, d in ins.items()},
            {n: (d["index"], self._spec(n, by_index.get(d["index"], d))) for n, d in outs.items()},
        )

    @staticmethod
    def _spec(name: str, detail: dict[str, Any]) -> TensorSpec:
        scale, zero_point = detail.get("quantization", (0.0, 0))
        signature = detail.get("shape_signature")
        shape = signature if signature is not None and len(signature) else detail["shape"]
        return TensorSpec(
            name,
            tuple(int(d) for d in shape),
            np.dtype(detail["dtype"]),
            float(scale),
            int(zero_point),
        )

    def bind(self, images: np.ndarray) -> None:
        x = self.to_input(images)
        self._pending = self._chunked = None
        if len(x) != self._batch:
            if not self._dynamic_batch:  # a fixed-batch export: invoked once per batch
                self._pending = x
                return
            self._interpreter.resize_tensor_input(self._input_index, x.shape, strict=True)
            self._interpreter.allocate_tensors()
            self._batch = len(x)
        self._interpreter.set_tensor(self._input_index, x)

    def invoke(self) -> None:
        if self._pending is None:
            self._interpreter.invoke()
            return
        it, n = self._interpreter, len(self._pending)
        probs, embs = [], []
        for part in fixed_batches(self._pending, self._batch):
            it.set_tensor(self._input_index, part)
            it.invoke()
            probs.append(it.get_tensor(self._output_index).copy())
            if self.embedding is not None:
                embs.append(it.get_tensor(self._embedding_index).copy())
        self._chunked = (
            rows(probs, n, self.output.shape),
            rows(embs, n, self.embedding.shape) if self.embedding is not None else None,
        )

    def _raw(self) -> tuple[np.ndarray, np.ndarray | None]:
        if self._chunked is not None:
            return self._chunked
        get = self._interpreter.get_tensor
        return get(self._output_index), (
            None if self.embedding is None else get(self._embedding_index)
        )

    def read(self) -> np.ndarray:
        """Probabilities only: the timed path never copies the embedding it does not use."""
        chunked = self._chunked
        raw = (
            chunked[0] if chunked is not None else self._interpreter.get_tensor(self._output_index)
        )
        return self.output.dequantize(raw)

    def read_outputs(self) -> Outputs:
        probs, emb = self._raw()
        return Outputs(
            self.output.dequantize(probs),
            None if emb is None or self.embedding is None else self.embedding.dequantize(emb),
        )
