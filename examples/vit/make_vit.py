#!/usr/bin/env python3
"""Writes a small Vision-Transformer encoder in the tessera graph format, and
computes its output in numpy so tessera can be checked against an independent
implementation.

Written against the format contract (docs/FORMAT.md) alone: nothing here is
taken from tessera's own example generators or tests.

  python3 make_vit.py --out DIR                     DIR/graph.json, DIR/weights.safetensors
  python3 make_vit.py --out DIR --primitives        the same model from primitive ops
  python3 make_vit.py --out DIR --make-inputs IN.safetensors [--batch N]
  python3 make_vit.py --out DIR --reference IN.safetensors OUT.safetensors

--reference reads the weights from DIR (so it checks the files tessera reads)
and the pixels from IN, and writes every graph output, computed in float64 and
rounded to float32, under the graph's output names.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np

# The model. 64 patches of 4x4x3 pixels, already flattened to 48 values each:
# a 32x32 RGB image cut into an 8x8 grid.
PATCHES = 64
PATCH_DIM = 48
DIM = 192
HEADS = 6
HEAD_DIM = 32
MLP_DIM = 768
BLOCKS = 2
CLASSES = 10
LN_EPS = 1e-6  # what ViT implementations use (timm, the original JAX code)
SEED = 20240611

assert HEADS * HEAD_DIM == DIM

# numpy dtype <-> safetensors dtype name, for the tensors this script touches.
ST_DTYPES = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64}


# ---------------------------------------------------------------- safetensors

def write_safetensors(path, tensors):
    """tensors: list of (name, array). Writes the 8-byte little-endian header
    length, the JSON header (padded with spaces to a multiple of 8 so the data
    starts aligned, as the reference writer does) and the raw data, contiguous
    from offset 0 in the order given."""
    header = {}
    blobs = []
    offset = 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        kind = {np.dtype(v): k for k, v in ST_DTYPES.items()}[arr.dtype]
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": kind, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """Returns {name: array}. Checks what this script relies on, nothing more."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in ST_DTYPES:
            sys.exit(f"{path}: tensor {name}: dtype {info['dtype']} not handled here")
        dt = np.dtype(ST_DTYPES[info["dtype"]]).newbyteorder("<")
        lo, hi = info["data_offsets"]
        arr = np.frombuffer(data[base + lo:base + hi], dtype=dt)
        out[name] = arr.reshape(info["shape"]).astype(dt.newbyteorder("="))
    return out


# ---------------------------------------------------------------- weights

def make_weights():
    """Fixed seed. Matrices ~N(0, 0.02) in PyTorch's nn.Linear layout
    [out, in] (so the graph multiplies with transpose_b, as an imported
    checkpoint would); biases small and non-zero; layernorm scales near 1."""
    rng = np.random.default_rng(SEED)

    def normal(*shape, std=0.02):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def bias(n):
        return (rng.uniform(-0.05, 0.05, n)).astype(np.float32)

    def ln(prefix):
        return [(prefix + ".weight", (1.0 + normal(DIM, std=0.1)).astype(np.float32)),
                (prefix + ".bias", normal(DIM))]

    w = [("patch_embed.weight", normal(DIM, PATCH_DIM)),
         ("patch_embed.bias", bias(DIM)),
         ("pos_embed", normal(1, PATCHES, DIM))]
    for i in range(BLOCKS):
        p = f"blocks.{i}."
        w += ln(p + "norm1")
        w += [(p + "attn.qkv.weight", normal(3 * DIM, DIM)),
              (p + "attn.qkv.bias", bias(3 * DIM)),
              (p + "attn.proj.weight", normal(DIM, DIM)),
              (p + "attn.proj.bias", bias(DIM))]
        w += ln(p + "norm2")
        w += [(p + "mlp.fc1.weight", normal(MLP_DIM, DIM)),
              (p + "mlp.fc1.bias", bias(MLP_DIM)),
              (p + "mlp.fc2.weight", normal(DIM, MLP_DIM)),
              (p + "mlp.fc2.bias", bias(DIM))]
    w += ln("norm")
    w += [("head.weight", normal(CLASSES, DIM)),
          ("head.bias", bias(CLASSES))]
    return w


# ---------------------------------------------------------------- graph

def make_graph(weights_file, extra_outputs, primitives):
    """primitives: write layernorm, gelu and attention out of element-wise ops,
    reductions, softmax and matmul, the way an exporter that lacks fused ops
    would (tessera's simplify pass is meant to find the fused ops again)."""
    nodes = []

    def node(op, inputs, output, name, **attrs):
        n = {"op": op, "inputs": inputs, "outputs": [output], "name": name}
        if attrs:
            n["attrs"] = attrs
        nodes.append(n)
        return output

    def linear(x, prefix, out=None):
        y = node("matmul", [x, prefix + ".weight"], prefix + ".mm", prefix + ".mm",
                 transpose_b=True)
        return node("add", [y, prefix + ".bias"], out or prefix + ".out",
                    prefix + ".add_bias")

    def layernorm(x, prefix):
        if not primitives:
            return node("layernorm", [x, prefix + ".weight", prefix + ".bias"],
                        prefix + ".out", prefix, eps=LN_EPS)
        mu = node("reduce_mean", [x], prefix + ".mean", prefix + ".mean",
                  axes=[-1], keepdims=True)
        d = node("sub", [x, mu], prefix + ".centered", prefix + ".centered")
        var = node("reduce_mean", [node("mul", [d, d], prefix + ".sq", prefix + ".sq")],
                   prefix + ".var", prefix + ".var", axes=[-1], keepdims=True)
        var = node("add", [var, "ln_eps"], prefix + ".var_eps", prefix + ".var_eps")
        r = node("rsqrt", [var], prefix + ".rstd", prefix + ".rstd")
        y = node("mul", [d, r], prefix + ".normed", prefix + ".normed")
        y = node("mul", [y, prefix + ".weight"], prefix + ".scaled", prefix + ".scaled")
        return node("add", [y, prefix + ".bias"], prefix + ".out", prefix + ".shift")

    def gelu(x, p):
        if not primitives:
            return node("gelu", [x], p, p, approximate="none")
        t = node("mul", [x, "inv_sqrt2"], p + ".scaled", p + ".scaled")
        t = node("erf", [t], p + ".erf", p + ".erf")
        t = node("add", [t, "one"], p + ".erf1", p + ".erf1")
        t = node("mul", [x, t], p + ".xerf1", p + ".xerf1")
        return node("mul", [t, "half"], p, p + ".half")

    def attention(q, k, v, p):
        if not primitives:
            return node("attention", [q, k, v], p, p)
        s = node("matmul", [q, k], p + ".scores", p + ".scores", transpose_b=True)
        s = node("mul", [s, "attn_scale"], p + ".scaled", p + ".scaled")
        s = node("softmax", [s], p + ".probs", p + ".softmax", axis=-1)
        return node("matmul", [s, v], p, p + ".pv")

    # Patch embedding and learned positions: [batch, 64, 48] -> [batch, 64, 192].
    x = linear("pixels", "patch_embed")
    x = node("add", [x, "pos_embed"], "embed", "add_pos_embed")

    block_outputs = []
    for i in range(BLOCKS):
        p = f"blocks.{i}."
        # Attention: one qkv projection, heads split out by reshape/transpose.
        h = layernorm(x, p + "norm1")
        qkv = linear(h, p + "attn.qkv")                                   # [b, 64, 576]
        # The batch dim is written by its symbol here and as -1 below: the
        # contract allows both.
        qkv = node("reshape", [qkv], p + "attn.qkv_heads", p + "attn.qkv_heads",
                   shape=["batch", PATCHES, 3 * HEADS, HEAD_DIM])         # [b, 64, 18, 32]
        qkv = node("transpose", [qkv], p + "attn.qkv_t", p + "attn.qkv_t",
                   perm=[0, 2, 1, 3])                                     # [b, 18, 64, 32]
        nodes.append({"op": "split", "inputs": [qkv],
                      "outputs": [p + "attn.q", p + "attn.k", p + "attn.v"],
                      "name": p + "attn.split_qkv",
                      "attrs": {"axis": 1, "sizes": [HEADS, HEADS, HEADS]}})
        a = attention(p + "attn.q", p + "attn.k", p + "attn.v",
                      p + "attn.heads")                                   # [b, 6, 64, 32]
        a = node("transpose", [a], p + "attn.heads_t", p + "attn.heads_t",
                 perm=[0, 2, 1, 3])                                       # [b, 64, 6, 32]
        a = node("reshape", [a], p + "attn.merged", p + "attn.merge_heads",
                 shape=[-1, PATCHES, DIM])                                # [b, 64, 192]
        a = linear(a, p + "attn.proj")
        x = node("add", [x, a], p + "resid1", p + "resid1")
        # MLP.
        h = layernorm(x, p + "norm2")
        h = linear(h, p + "mlp.fc1")
        h = gelu(h, p + "mlp.gelu")
        h = linear(h, p + "mlp.fc2")
        x = node("add", [x, h], p + "out", p + "resid2")
        block_outputs.append(x)

    x = layernorm(x, "norm")
    # Mean-pool over patches: reduce_mean is in the contract, nothing to emulate.
    pooled = node("reduce_mean", [x], "pooled", "mean_pool", axes=[1], keepdims=False)
    linear(pooled, "head", out="logits")

    constants = []
    if primitives:
        for name, value in [("ln_eps", LN_EPS), ("one", 1.0), ("half", 0.5),
                            ("inv_sqrt2", 1.0 / math.sqrt(2.0)),
                            ("attn_scale", 1.0 / math.sqrt(HEAD_DIM))]:
            constants.append({"name": name, "dtype": "f32", "shape": [], "data": [value]})

    outputs = ["logits"]
    if extra_outputs:
        outputs = ["embed"] + block_outputs + ["pooled", "logits"]
    return {
        "format": "tessera.graph",
        "version": 1,
        "name": "vit-tiny-2",
        "weights": weights_file,
        "symbols": {"batch": 1},
        "inputs": [{"name": "pixels", "dtype": "f32",
                    "shape": ["batch", PATCHES, PATCH_DIM]}],
        "constants": constants,
        "nodes": nodes,
        "outputs": outputs,
    }


# ---------------------------------------------------------------- reference

def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def reference(weights, pixels):
    """The model in float64 numpy, written from the model's definition (not
    from the graph), returning the values the graph can output."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    x = pixels.astype(np.float64)
    b = x.shape[0]

    def linear(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    def layernorm(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + LN_EPS) * w[p + ".weight"] + w[p + ".bias"]

    out = {}
    x = linear(x, "patch_embed") + w["pos_embed"]
    out["embed"] = x
    for i in range(BLOCKS):
        p = f"blocks.{i}."
        h = layernorm(x, p + "norm1")
        qkv = linear(h, p + "attn.qkv")                      # [b, n, 3*dim]
        q, k, v = np.split(qkv, 3, axis=-1)                  # [b, n, dim] each

        def heads(t):
            return t.reshape(b, PATCHES, HEADS, HEAD_DIM).transpose(0, 2, 1, 3)
        q, k, v = heads(q), heads(k), heads(v)
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(HEAD_DIM)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(0, 2, 1, 3).reshape(b, PATCHES, DIM)
        x = x + linear(a, p + "attn.proj")
        h = layernorm(x, p + "norm2")
        h = linear(h, p + "mlp.fc1")
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
        x = x + linear(h, p + "mlp.fc2")
        out[p + "out"] = x
    x = layernorm(x, "norm")
    out["pooled"] = x.mean(axis=1)
    out["logits"] = linear(out["pooled"], "head")
    return out


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory for graph.json and weights")
    ap.add_argument("--extra-outputs", action="store_true",
                    help="also output the embedding, each block's output and the "
                         "pooled features (to locate a mismatch)")
    ap.add_argument("--primitives", action="store_true",
                    help="write layernorm, gelu and attention from primitive ops "
                         "instead of the fused ops (same model, same weights)")
    ap.add_argument("--make-inputs", metavar="FILE",
                    help="write random pixels in [-1, 1] to FILE (safetensors)")
    ap.add_argument("--batch", type=int, default=1, help="batch for --make-inputs")
    ap.add_argument("--input-seed", type=int, default=1, help="seed for --make-inputs")
    ap.add_argument("--reference", nargs=2, metavar=("INPUTS", "OUTPUTS"),
                    help="compute the outputs of INPUTS in numpy into OUTPUTS")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    weights_path = os.path.join(args.out, "weights.safetensors")
    graph_path = os.path.join(args.out, "graph.json")
    graph = make_graph("weights.safetensors", args.extra_outputs, args.primitives)

    if not args.reference:
        write_safetensors(weights_path, make_weights())
        with open(graph_path, "w") as f:
            json.dump(graph, f, indent=1)
            f.write("\n")
        print(f"wrote {graph_path} ({len(graph['nodes'])} nodes) and {weights_path}")

    if args.make_inputs:
        rng = np.random.default_rng(args.input_seed)
        px = rng.uniform(-1, 1, (args.batch, PATCHES, PATCH_DIM)).astype(np.float32)
        write_safetensors(args.make_inputs, [("pixels", px)])
        print(f"wrote {args.make_inputs} (pixels {list(px.shape)})")

    if args.reference:
        inputs_path, outputs_path = args.reference
        weights = read_safetensors(weights_path)
        pixels = read_safetensors(inputs_path)["pixels"]
        if pixels.ndim != 3 or pixels.shape[1:] != (PATCHES, PATCH_DIM):
            sys.exit(f"{inputs_path}: pixels must be [batch, {PATCHES}, {PATCH_DIM}], "
                     f"got {list(pixels.shape)}")
        out = reference(weights, pixels)
        write_safetensors(outputs_path,
                          [(n, out[n].astype(np.float32)) for n in graph["outputs"]])
        print(f"wrote {outputs_path} ({', '.join(graph['outputs'])})")


if __name__ == "__main__":
    main()
