"""The edge side: runtime wrappers, the canvas preprocessing, and the pygame drawing app.

Imports numpy, pygame, opencv and one slim runtime only: never TensorFlow.
"""
