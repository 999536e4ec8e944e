"""Keras -> TFLite (fp32, fp16, dynamic, int8) and ONNX (fp32, int8), validated and described."""
