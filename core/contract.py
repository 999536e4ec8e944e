"""The model contract: what goes in, what comes out, and how a model file describes itself.

Training builds models to it, export writes it into each file's metadata, and the runtime
wrapper checks files against it. Numbers only; no framework is imported here.
"""

from __future__ import annotations

INPUT_NAME = "image"
INPUT_SHAPE = (28, 28, 1)  # per image; the batch dimension is dynamic
PROBABILITIES = "probabilities"  # softmax over the ten digits
EMBEDDING = "embedding"  # the features the classifier reads (on-device learning)
NUM_CLASSES = 10
LABELS = tuple(str(d) for d in range(NUM_CLASSES))

#: Name of the metadata entry (TFLite metadata buffer, ONNX metadata_props key).
METADATA_KEY = "mnist_edge"
#: Version of the JSON description stored there.
SCHEMA = "mnist-edge-model/1"
MANIFEST_SCHEMA = "mnist-edge-manifest/1"
#: The "not sure" threshold for a model that carries no calibrated one (calibration replaces it).
DEFAULT_THRESHOLD = 0.6

PREPROCESSING = (
    "mnist_edge.ink.preprocess.to_mnist: ink 255 on 0; crop to the ink, fit the longer side "
    "into 20 px with anti-aliasing, centre by centre of mass in 28x28 (as MNIST was made); the "
    "model scales pixels to [0, 1] itself"
)


def input_description() -> dict[str, object]:
    """The input contract as it is written into model metadata and the manifest."""
    return {
        "name": INPUT_NAME,
        "shape": [-1, *INPUT_SHAPE],
        "dtype": "uint8",
        "range": [0, 255],
        "layout": "NHWC",
        "ink": "255 on 0",
        "preprocessing": "mnist_edge.ink.preprocess.to_mnist",
    }
