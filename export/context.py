"""What every exporter needs, built once per export run: the model, a SavedModel, calibration."""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

from mnist_edge.core.contract import EMBEDDING, INPUT_NAME, INPUT_SHAPE, PROBABILITIES
from mnist_edge.export.representative import CalibrationReader

WORK_PREFIX = "mnist-edge-export-"


def _remove_stale_work_dirs() -> None:
    """Work folders of exports that were killed (SIGKILL skips cleanup): their pid is gone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*"):
        pid = folder.name.removeprefix(WORK_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


class ExportContext:
    def __init__(self, model: Any, calibration: CalibrationReader, opset: int) -> None:
        self.model = model
        self.calibration = calibration
        self.opset = opset
        self.cache: dict[str, bytes] = {}
        _remove_stale_work_dirs()
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{WORK_PREFIX}{os.getpid()}-")
        self.tmp = Path(self._tmp.name)

    def close(self) -> None:
        self._tmp.cleanup()

    @cached_property
    def input_signature(self) -> list[Any]:
        import tensorflow as tf

        return [tf.TensorSpec([None, *INPUT_SHAPE], tf.uint8, name=INPUT_NAME)]

    @cached_property
    def outputs_model(self) -> Any:
        """The model with both outputs: the probabilities and the embedding the head reads."""
        import keras

        head = self.model.get_layer(PROBABILITIES)
        return keras.Model(
            self.model.inputs,
            {PROBABILITIES: self.model.output, EMBEDDING: head.input},
            name=self.model.name,
        )

    @cached_property
    def serving_function(self) -> Any:
        """Inference-only graph (training=False): dropout and friends never reach the export."""
        import tensorflow as tf

        model = self.outputs_model

        @tf.function(input_signature=self.input_signature)
        def serve(image: Any) -> dict[str, Any]:
            outputs = model(image, training=False)
            return {PROBABILITIES: outputs[PROBABILITIES], EMBEDDING: outputs[EMBEDDING]}

        return serve

    @cached_property
    def saved_model_dir(self) -> str:
        """A SavedModel with frozen-able variables, the converter's most reliable Keras 3 input."""
        import keras

        path = self.tmp / "saved_model"
        archive = keras.export.ExportArchive()
        archive.track(self.outputs_model)
        archive.add_endpoint(
            name="serving_default", fn=self.serving_function, input_signature=self.input_signature
        )
        archive.write_out(str(path), verbose=False)
        return str(path)
