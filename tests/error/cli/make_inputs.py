#!/usr/bin/env python3
"""make_inputs.py — writes the small, well-formed inputs files that the CLI
error cases in this folder pair with graph.json (x: f32[batch, 3],
ids: i32[batch]). Each file is valid safetensors; what is wrong is how it fits
the graph. Stdlib only; run it from anywhere to regenerate."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = {"F32": 4, "F16": 2, "I32": 4, "I64": 8}


def write(name, tensors):
    """tensors: list of (name, dtype, shape); data is a non-zero byte pattern."""
    header, blobs, offset = {}, [], 0
    for tname, dtype, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        nbytes = n * SIZES[dtype]
        header[tname] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        if dtype == "F32":
            blobs.append(struct.pack(f"<{n}f", *[0.5 + i for i in range(n)]))
        elif dtype == "I32":
            blobs.append(struct.pack(f"<{n}i", *[i % 2 for i in range(n)]))
        else:
            blobs.append(bytes([1] * nbytes))
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


write("good.safetensors", [("x", "F32", [2, 3]), ("ids", "I32", [2])])
write("missing.safetensors", [("x", "F32", [2, 3])])
write("extra.safetensors", [("x", "F32", [2, 3]), ("ids", "I32", [2]), ("y", "F32", [1])])
write("dtype.safetensors", [("x", "F16", [2, 3]), ("ids", "I32", [2])])
write("rank.safetensors", [("x", "F32", [6]), ("ids", "I32", [2])])
write("fixed_dim.safetensors", [("x", "F32", [2, 4]), ("ids", "I32", [2])])
write("symbol_conflict.safetensors", [("x", "F32", [2, 3]), ("ids", "I32", [5])])
write("zero_dim.safetensors", [("x", "F32", [0, 3]), ("ids", "I32", [0])])
