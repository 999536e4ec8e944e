"""Workstation training of the mnist-edge CNNs (TensorFlow/Keras)."""
