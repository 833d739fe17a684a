"""onnx_import: the ONNX → tessera converter behind tools/onnx2tessera."""
