"""Representative data for int8 quantization: one reader for both quantizers (TFLite, onnxruntime).

Images come from the training set only (a seeded random sample), never from the test set.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from mnist_edge.core.data import load_split


class CalibrationReader:
    """Yields single raw uint8 images [1, 28, 28, 1] keyed by the model's input name.

    Call it for the TFLite converter's ``representative_dataset``; use ``get_next``/``rewind``
    as onnxruntime's ``CalibrationDataReader`` (duck-typed: ORT only calls these methods).
    """

    def __init__(self, images: np.ndarray, input_name: str = "image") -> None:
        self.images = np.asarray(images, dtype=np.uint8)[..., None]
        self.input_name = input_name
        self._iter: Iterator[dict[str, np.ndarray]] | None = None

    @classmethod
    def from_training_set(
        cls, count: int, data_dir: str | None, seed: int, input_name: str = "image"
    ) -> CalibrationReader:
        train = load_split("train", data_dir)
        pick = np.random.default_rng(seed).choice(len(train), size=count, replace=False)
        return cls(train.images[np.sort(pick)], input_name)

    def __len__(self) -> int:
        return len(self.images)

    def _samples(self) -> Iterator[dict[str, np.ndarray]]:
        for i in range(len(self.images)):
            yield {self.input_name: self.images[i : i + 1]}

    def __call__(self) -> Iterator[dict[str, np.ndarray]]:
        return self._samples()

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._iter is None:
            self._iter = self._samples()
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = None
