"""Registry of CNN architectures by name.

Every model takes raw pixels, uint8 [N, 28, 28, 1] named ``image`` (scaling to [0, 1] is the
first layer), and returns ten softmax probabilities named ``probabilities``. Augmentation never
lives here: it is applied in the input pipeline (``train.augment``), so exported graphs hold
inference ops only. Keras is imported inside the builders so listing names stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mnist_edge.core.contract import INPUT_NAME, INPUT_SHAPE, NUM_CLASSES
from mnist_edge.core.contract import PROBABILITIES as OUTPUT_NAME


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Callable[[], Any]  # () -> keras.Model
    augmentation: str  # default policy name in train.augment.POLICIES
    description: str


def _keras() -> tuple[Any, Any]:
    import keras
    from keras import layers

    return keras, layers


def _head(keras: Any, layers: Any, x: Any, inputs: Any, name: str) -> Any:
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name=name)


def _stem(keras: Any, layers: Any) -> tuple[Any, Any]:
    inputs = keras.Input(shape=INPUT_SHAPE, dtype="uint8", name=INPUT_NAME)
    return inputs, layers.Rescaling(1.0 / 255.0, name="scale")(inputs)


def build_edge() -> Any:
    """The edge model: 4 small convolutions, ~53k parameters, ~1.6M multiply-adds.

    Why this shape: a full-width 3x3 conv at 28x28 costs 9*Cin*Cout MACs per pixel, so the
    wide layers run only after pooling (14x14, then 7x7 and 5x5 'valid' convs that shrink the
    map instead of pooling again). BatchNorm folds into the convs at export, so int8 costs
    nothing extra; plain ReLU and per-channel int8 weights quantize with ~0 accuracy loss.
    Flatten (not global pooling) keeps where strokes are, which separates 1/7 and 4/9.
    """
    keras, layers = _keras()
    inputs, x = _stem(keras, layers)
    for i, (filters, padding, pool) in enumerate(
        [(16, "same", True), (32, "same", True), (48, "valid", False), (64, "valid", False)], 1
    ):
        x = layers.Conv2D(filters, 3, padding=padding, use_bias=False, name=f"conv{i}")(x)
        # momentum 0.9: moving statistics settle within ~50 steps, so short runs infer well too.
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        if pool:
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    return _head(keras, layers, x, inputs, "edge")


def build_seed_3conv() -> Any:
    """TensorFlow's CNN tutorial: Conv32 -> pool -> Conv64 -> pool -> Conv64 -> Dense64."""
    keras, layers = _keras()
    inputs, x = _stem(keras, layers)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="fc1")(x)
    return _head(keras, layers, x, inputs, "seed-3conv")


def _seed_2conv(dropout: float | None, name: str) -> Any:
    keras, layers = _keras()
    inputs, x = _stem(keras, layers)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="fc1")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return _head(keras, layers, x, inputs, name)


def build_seed_2conv() -> Any:
    """The Keras MNIST example: Conv32 -> pool -> Conv64 -> pool -> Dense128."""
    return _seed_2conv(None, "seed-2conv")


def build_seed_2conv_dropout() -> Any:
    """``seed-2conv`` with Dropout(0.5) before the output layer."""
    return _seed_2conv(0.5, "seed-2conv-dropout")


def build_seed_resnet() -> Any:
    """7x7 Conv64 stem, two residual blocks with BatchNorm, GAP, Dense 256 -> 128 with dropout."""
    keras, layers = _keras()
    inputs, x = _stem(keras, layers)
    x = layers.Conv2D(64, 7, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for block, filters in enumerate((64, 128), 1):
        shortcut = x
        stride = 1 if block == 1 else 2
        y = layers.Conv2D(
            filters, 3, strides=stride, padding="same", use_bias=False, name=f"res{block}_conv1"
        )(x)
        y = layers.BatchNormalization(name=f"res{block}_bn1")(y)
        y = layers.ReLU(name=f"res{block}_relu1")(y)
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"res{block}_conv2")(y)
        y = layers.BatchNormalization(name=f"res{block}_bn2")(y)
        if stride != 1 or shortcut.shape[-1] != filters:
            shortcut = layers.Conv2D(
                filters, 1, strides=stride, use_bias=False, name=f"res{block}_proj"
            )(shortcut)
            shortcut = layers.BatchNormalization(name=f"res{block}_proj_bn")(shortcut)
        x = layers.ReLU(name=f"res{block}_out")(layers.Add(name=f"res{block}_add")([y, shortcut]))
        x = layers.MaxPooling2D(2, name=f"res{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(256, activation="relu", name="fc1")(x)
    x = layers.Dropout(0.4, name="dropout1")(x)
    x = layers.Dense(128, activation="relu", name="fc2")(x)
    x = layers.Dropout(0.3, name="dropout2")(x)
    return _head(keras, layers, x, inputs, "seed-resnet")


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            "edge",
            build_edge,
            "touch",
            "default: 4 small convs, ~53k params, int8 < 100 KB, touch augmentation",
        ),
        Architecture("seed-3conv", build_seed_3conv, "none", "TensorFlow tutorial CNN"),
        Architecture("seed-2conv", build_seed_2conv, "none", "Keras MNIST example CNN"),
        Architecture(
            "seed-2conv-dropout", build_seed_2conv_dropout, "none", "seed-2conv with dropout 0.5"
        ),
        Architecture(
            "seed-resnet",
            build_seed_resnet,
            "seed",
            "residual CNN with BatchNorm and the seed's augmentation",
        ),
    )
}


def count_macs(model: Any) -> int:
    """Multiply-accumulates of one inference (convolutions and dense layers; BN folds away)."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            out_shape = layer.output.shape
            kernel = layer.kernel.shape
            spatial = 1
            for dim in out_shape[1:-1]:
                spatial *= int(dim)
            # Conv2D kernel: kh, kw, cin, cout; Dense: cin, cout; Depthwise: kh, kw, cin, mult.
            per_position = 1
            for dim in kernel:
                per_position *= int(dim)
            total += spatial * per_position
    return total


def describe_layers(model: Any) -> str:
    """The layer stack in one line, e.g. ``Conv3x3(16)+BN+ReLU -> MaxPool -> ... -> Dense(10)``,
    read from the built model (so the model card is right for any architecture)."""
    from keras import layers

    parts: list[str] = []
    for layer in model.layers:
        if isinstance(layer, (layers.InputLayer, layers.Rescaling)):
            continue
        if isinstance(layer, layers.Conv2D):
            k = "x".join(str(d) for d in layer.kernel_size)
            pad = ", valid" if layer.padding == "valid" else ""
            stride = f", stride {layer.strides[0]}" if layer.strides[0] != 1 else ""
            parts.append(f"Conv{k}({layer.filters}{pad}{stride})")
        elif isinstance(layer, layers.BatchNormalization) and parts:
            parts[-1] += "+BN"
        elif isinstance(layer, layers.ReLU) and parts:
            parts[-1] += "+ReLU"
        elif isinstance(layer, layers.MaxPooling2D):
            parts.append("MaxPool")
        elif isinstance(layer, layers.GlobalAveragePooling2D):
            parts.append("GlobalAvgPool")
        elif isinstance(layer, layers.Flatten):
            parts.append(f"Flatten({int(layer.output.shape[-1])})")
        elif isinstance(layer, layers.Dropout):
            parts.append(f"Dropout({layer.rate:g})")
        elif isinstance(layer, layers.Dense):
            parts.append(f"Dense({layer.units}, {layer.activation.__name__})")
        elif isinstance(layer, layers.Add):
            parts.append("Add")
    return " -> ".join(parts)


def design_notes(name: str) -> str:
    """Why the architecture looks as it does: its builder's docstring, as prose."""
    doc = ARCHITECTURES[name].build.__doc__ or ARCHITECTURES[name].description
    return " ".join(doc.split())
