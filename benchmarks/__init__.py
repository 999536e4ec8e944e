"""Latency, accuracy, size, memory and load time per model format, runtime and thread count.

Runs with the ``edge`` extra alone (numpy + runtimes); TensorFlow only adds the Keras reference
row when it is installed. Each measurement runs in a worker subprocess, so one runtime crashing
or hanging never stops the others, and a runtime that needs another environment (tflite-runtime
wants numpy < 2) runs there through ``--runtime-python``.
"""
