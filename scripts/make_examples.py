#!/usr/bin/env python3
"""make_examples.py — writes the example models examples/{gpt,bert,llama}/, each
a graph.json and a weights.safetensors, from fixed seeds: the output is the
same byte for byte on every run (the oracle test oracle/examples-reproducible
checks that the committed files are what this script writes).

    scripts/make_examples.py [--out DIR]      write DIR/{gpt,bert,llama}/ (default: examples/)
    scripts/make_examples.py --check [--out DIR]
                                             compare DIR with what would be written;
                                             exit 1 on a difference

The models (random weights, f32, each under 2 MB):
  gpt    GPT-2-style decoder: 2 pre-layernorm blocks, d=128, 4 heads of 32,
         vocab 256, learned positions (wpe: 64 rows), causal attention, tanh-GELU
         MLP of 512, final layernorm, logits through the tied embedding wte.
         Inputs: tokens and positions, i32 [batch, seq]: the positions come in as
         an input, as position_ids do in Hugging Face's GPT-2; pass 0..seq-1
         (or an offset range when decoding with a cache). Every position must
         be < 64. Output: logits [batch, seq, 256]. decoder.json is the same
         model and weights in the key/value-cache form of docs/FORMAT.md that
         `tessera generate` runs.
  bert   one BERT encoder block: q/k/v projections, non-causal attention with an
         additive mask input [batch, 1, 1, seq] (0 to keep a key, -10000 or -inf
         to drop it), post-layernorm (eps 1e-12), erf-GELU FFN of 512.
         Inputs: x f32 [batch, seq, 128], mask. Output: y [batch, seq, 128].
  llama  one LLaMA block: rmsnorm (eps 1e-5), grouped-query attention with 4
         query heads and 2 key/value heads of 32, rotate-half rope (theta 10000)
         on q and k, causal attention, SwiGLU MLP of 352 (silu(x W1) * (x W3)) W2,
         no biases. Input: x f32 [batch, seq, 128]. Output: y [batch, seq, 128].

Weights follow the Hugging Face names and layouts (linear weights [out, in],
applied with matmul transpose_b). Only the standard library and numpy are used.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import stio  # noqa: E402


class GraphBuilder:
    """Collects a graph's inputs, weights and nodes; node outputs are named after
    the node, so a value's name says where it comes from."""

    def __init__(self, name, symbols, seed):
        self.name = name
        self.symbols = symbols
        self.rng = np.random.default_rng(seed)
        self.inputs = []
        self.weights = {}
        self.nodes = []
        self.outputs = []
        self.constants = []
        self.cache = None  # kv_cache_attention's shared nodes, made on first use
        self.cache_outputs = []  # present.* in layer order

    def input(self, name, dtype, shape):
        self.inputs.append({"name": name, "dtype": dtype, "shape": shape})
        return name

    def weight(self, name, shape, std, mean=0.0):
        """A random f32 weight: mean + std * N(0, 1)."""
        w = (mean + std * self.rng.standard_normal(shape)).astype(np.float32)
        self.weights[name] = ("f32", w)
        return name

    def node(self, name, op, inputs, attrs=None, outputs=None):
        """Adds a node; returns its output name (or names, when given)."""
        outs = outputs or [name]
        n = {"name": name, "op": op, "inputs": list(inputs), "outputs": outs}
        if attrs:
            n["attrs"] = attrs
        self.nodes.append(n)
        return outs if outputs else name

    def constant(self, name, dtype, value):
        """An inline scalar constant."""
        self.constants.append({"name": name, "dtype": dtype, "shape": [], "data": [value]})
        return name

    def kv_cache_attention(self, layer, q, k, v, dtype="f32"):
        """Attention over a key/value cache, as docs/FORMAT.md's "Decoder models
        with a key/value cache" lays it out: this call's k and v [batch, kv, seq,
        hd] go into rows positions[0] .. positions[-1] of the inputs
        past.{layer}.key/value [batch, kv, max_seq, hd], giving the outputs
        present.{layer}.key/value (which tessera generate binds to the same
        memory), and q attends to that cache, each query seeing the keys at or
        before its position. k and v must have their heads' shape known:
        n_kv and hd come from the caller."""
        if self.cache is None:
            self.cache = self._cache_nodes()
        rows, outside, mask = self.cache
        outs = []
        for part, new in (("key", k), ("value", v)):
            past, present = f"past.{layer}.{part}", f"present.{layer}.{part}"
            new_rows = self.node(f"cache.{layer}.{part}_rows", "gather", [new, rows], {"axis": 2})
            self.node(present, "where", [outside, past, new_rows])
            outs.append(present)
            self.cache_outputs.append(present)
        return self.node(f"cache.{layer}.attention", "attention", [q, outs[0], outs[1], mask])

    def cache_inputs(self, layers, n_kv, head_dim, dtype="f32"):
        """past.{i}.key/value inputs [batch, n_kv, max_seq, head_dim] of every layer."""
        for i in range(layers):
            for part in ("key", "value"):
                self.input(f"past.{i}.{part}", dtype, ["batch", n_kv, "max_seq", head_dim])

    def _cache_nodes(self):
        """What every layer's cache update and mask share, from the positions
        input (row 0: every batch row decodes the same positions):
        rows [max_seq]: which new row lands in cache row j (clamped);
        outside [max_seq, 1]: cache row j keeps its past value;
        mask [seq, max_seq]: 0 where key j <= query i's position, else -1e30."""
        p0 = self.node("cache.positions0", "slice", ["positions"], {"axis": 0, "start": 0, "end": 1})
        first = self.node("cache.first", "reshape",
                          [self.node("cache.first_1x1", "slice", [p0], {"axis": 1, "start": 0, "end": 1})],
                          {"shape": [1]})
        last = self.node("cache.last", "reshape",
                         [self.node("cache.last_1x1", "slice", [p0], {"axis": 1, "start": -1, "end": 2 ** 31})],
                         {"shape": [1]})
        kv_pos = self.node("cache.kv_positions", "iota", [], {"shape": ["max_seq"]})
        clamped = self.node("cache.clamped", "minimum",
                            [self.node("cache.at_least_first", "maximum", [kv_pos, first]), last])
        rows = self.node("cache.rows", "sub", [clamped, first])
        outside = self.node("cache.outside", "reshape",
                            [self.node("cache.outside_flat", "cast",
                                       [self.node("cache.off_window", "sub", [kv_pos, clamped])], {"to": "bool"})],
                            {"shape": ["max_seq", 1]})
        q_pos = self.node("cache.query_positions", "reshape", [p0], {"shape": ["seq", 1]})
        ahead = self.node("cache.ahead", "cast",
                          [self.node("cache.ahead_by", "maximum",
                                     [self.node("cache.key_minus_query", "sub", [kv_pos, q_pos]),
                                      self.constant("cache.zero_i32", "i32", 0)])], {"to": "bool"})
        mask = self.node("cache.mask", "where", [ahead, self.constant("cache.masked", "f32", -1e30),
                                                  self.constant("cache.visible", "f32", 0.0)])
        return rows, outside, mask

    def linear(self, name, x, weight, bias=None):
        """x · weightᵀ (+ bias): a Hugging Face linear layer."""
        y = self.node(name + ("_mm" if bias else ""), "matmul", [x, weight],
                      {"transpose_b": True})
        return self.node(name, "add", [y, bias]) if bias else y

    def heads(self, name, x, n_heads, head_dim):
        """[batch, seq, n·hd] -> [batch, seq, n, hd] (NAME_bshd) -> [batch, n, seq, hd] (NAME)."""
        y = self.node(name + "_bshd", "reshape", [x],
                      {"shape": ["batch", "seq", n_heads, head_dim]})
        return self.node(name, "transpose", [y], {"perm": [0, 2, 1, 3]})

    def merge_heads(self, name, x, width):
        """[batch, n, seq, hd] -> [batch, seq, n·hd]."""
        y = self.node(name + "_t", "transpose", [x], {"perm": [0, 2, 1, 3]})
        return self.node(name, "reshape", [y], {"shape": ["batch", "seq", width]})

    def graph_json(self):
        """The graph file's text: one input, node or output per line."""
        def line(v):
            return json.dumps(v, separators=(", ", ": "))
        head = [
            '  "format": "tessera.graph"',
            '  "version": 1',
            f'  "name": {json.dumps(self.name)}',
            '  "weights": "weights.safetensors"',
            f'  "symbols": {line(self.symbols)}',
        ]
        parts = head + [
            '  "inputs": [\n' + ",\n".join("    " + line(i) for i in self.inputs) + "\n  ]",
        ] + ([
            '  "constants": [\n' + ",\n".join("    " + line(c) for c in self.constants) + "\n  ]",
        ] if self.constants else []) + [
            '  "nodes": [\n' + ",\n".join("    " + line(n) for n in self.nodes) + "\n  ]",
            f'  "outputs": {line(self.outputs)}',
        ]
        return "{\n" + ",\n".join(parts) + "\n}\n"


D, HEADS, HEAD_DIM = 128, 4, 32


def make_gpt(cache=False):
    """The gpt example; with cache, its decoder.json (same weights): the
    key/value cache form that tessera generate runs."""
    if cache:
        g = GraphBuilder(
            "tiny-gpt2 with a key/value cache (for tessera generate): the gpt example's weights; inputs "
            "tokens and positions (i32 [batch, seq]) and past.{0,1}.key/value [batch, 4, max_seq, 32]; "
            "outputs logits and present.{0,1}.key/value; max_seq <= 64",
            {"batch": 1, "seq": 1, "max_seq": 64}, seed=20240101)
    else:
        g = GraphBuilder(
            "tiny-gpt2: 2 pre-LN decoder blocks, d=128, 4 heads, vocab 256; inputs tokens "
            "and positions (i32 [batch, seq], positions 0..seq-1, each < 64); output logits",
            {"batch": 1, "seq": 16}, seed=20240101)
    tokens = g.input("tokens", "i32", ["batch", "seq"])
    positions = g.input("positions", "i32", ["batch", "seq"])
    if cache:
        g.cache_inputs(2, HEADS, HEAD_DIM)
    wte = g.weight("wte", (256, D), 0.5)
    wpe = g.weight("wpe", (64, D), 0.3)
    tok = g.node("embed.tokens", "gather", [wte, tokens])
    pos = g.node("embed.positions", "gather", [wpe, positions])
    x = g.node("embed", "add", [tok, pos])
    for i in range(2):
        p, h = f"h.{i}.", f"h{i}."
        ln1 = g.node(h + "ln_1", "layernorm",
                     [x, g.weight(p + "ln_1.weight", (D,), 0.1, 1.0),
                      g.weight(p + "ln_1.bias", (D,), 0.1)], {"eps": 1e-5})
        qkv = g.linear(h + "attn.qkv", ln1,
                       g.weight(p + "attn.c_attn.weight", (3 * D, D), 1.5 / np.sqrt(D)),
                       g.weight(p + "attn.c_attn.bias", (3 * D,), 0.1))
        q, k, v = g.node(h + "attn.split", "split", [qkv], {"axis": -1, "sizes": [D, D, D]},
                         outputs=[h + "attn.q", h + "attn.k", h + "attn.v"])
        q = g.heads(h + "attn.q_heads", q, HEADS, HEAD_DIM)
        k = g.heads(h + "attn.k_heads", k, HEADS, HEAD_DIM)
        v = g.heads(h + "attn.v_heads", v, HEADS, HEAD_DIM)
        if cache:
            a = g.kv_cache_attention(i, q, k, v)
        else:
            a = g.node(h + "attn.core", "attention", [q, k, v], {"causal": True})
        a = g.merge_heads(h + "attn.merge", a, D)
        a = g.linear(h + "attn.proj", a,
                     g.weight(p + "attn.c_proj.weight", (D, D), 1.0 / np.sqrt(D)),
                     g.weight(p + "attn.c_proj.bias", (D,), 0.1))
        x = g.node(h + "resid_1", "add", [x, a])
        ln2 = g.node(h + "ln_2", "layernorm",
                     [x, g.weight(p + "ln_2.weight", (D,), 0.1, 1.0),
                      g.weight(p + "ln_2.bias", (D,), 0.1)], {"eps": 1e-5})
        m = g.linear(h + "mlp.fc", ln2,
                     g.weight(p + "mlp.c_fc.weight", (4 * D, D), 1.0 / np.sqrt(D)),
                     g.weight(p + "mlp.c_fc.bias", (4 * D,), 0.1))
        m = g.node(h + "mlp.gelu", "gelu", [m], {"approximate": "tanh"})
        m = g.linear(h + "mlp.proj", m,
                     g.weight(p + "mlp.c_proj.weight", (D, 4 * D), 1.0 / np.sqrt(4 * D)),
                     g.weight(p + "mlp.c_proj.bias", (D,), 0.1))
        x = g.node(h + "resid_2", "add", [x, m])
    x = g.node("ln_f", "layernorm",
               [x, g.weight("ln_f.weight", (D,), 0.1, 1.0), g.weight("ln_f.bias", (D,), 0.1)],
               {"eps": 1e-5})
    g.node("logits", "matmul", [x, wte], {"transpose_b": True})
    g.outputs = ["logits"] + g.cache_outputs
    return g


def make_bert():
    g = GraphBuilder(
        "tiny-bert: one post-LN encoder block, d=128, 4 heads, FFN 512 (erf gelu); inputs "
        "x [batch, seq, 128] and an additive mask [batch, 1, 1, seq]; output y",
        {"batch": 2, "seq": 16}, seed=20240102)
    x = g.input("x", "f32", ["batch", "seq", D])
    mask = g.input("mask", "f32", ["batch", 1, 1, "seq"])
    p = "encoder.layer.0."
    proj = {}
    for part in ("query", "key", "value"):
        y = g.linear(f"attn.{part}", x,
                     g.weight(f"{p}attention.self.{part}.weight", (D, D), 1.5 / np.sqrt(D)),
                     g.weight(f"{p}attention.self.{part}.bias", (D,), 0.1))
        proj[part] = g.heads(f"attn.{part}_heads", y, HEADS, HEAD_DIM)
    a = g.node("attn.core", "attention", [proj["query"], proj["key"], proj["value"], mask])
    a = g.merge_heads("attn.merge", a, D)
    a = g.linear("attn.output", a,
                 g.weight(p + "attention.output.dense.weight", (D, D), 1.0 / np.sqrt(D)),
                 g.weight(p + "attention.output.dense.bias", (D,), 0.1))
    a = g.node("attn.residual", "add", [a, x])
    x1 = g.node("attn.layernorm", "layernorm",
                [a, g.weight(p + "attention.output.LayerNorm.weight", (D,), 0.1, 1.0),
                 g.weight(p + "attention.output.LayerNorm.bias", (D,), 0.1)], {"eps": 1e-12})
    f = g.linear("ffn.intermediate", x1,
                 g.weight(p + "intermediate.dense.weight", (4 * D, D), 1.0 / np.sqrt(D)),
                 g.weight(p + "intermediate.dense.bias", (4 * D,), 0.1))
    f = g.node("ffn.gelu", "gelu", [f])
    f = g.linear("ffn.output", f,
                 g.weight(p + "output.dense.weight", (D, 4 * D), 1.0 / np.sqrt(4 * D)),
                 g.weight(p + "output.dense.bias", (D,), 0.1))
    f = g.node("ffn.residual", "add", [f, x1])
    g.node("y", "layernorm",
           [f, g.weight(p + "output.LayerNorm.weight", (D,), 0.1, 1.0),
            g.weight(p + "output.LayerNorm.bias", (D,), 0.1)], {"eps": 1e-12})
    g.outputs = ["y"]
    return g


def make_llama():
    hidden, kv_heads = 352, 2
    g = GraphBuilder(
        "tiny-llama: one block, d=128, 4 query heads and 2 key/value heads of 32, rope "
        "(rotate-half, theta 10000), causal, SwiGLU 352; input x [batch, seq, 128]; output y",
        {"batch": 1, "seq": 16}, seed=20240103)
    x = g.input("x", "f32", ["batch", "seq", D])
    p = "model.layers.0."
    h = g.node("attn.norm", "rmsnorm",
               [x, g.weight(p + "input_layernorm.weight", (D,), 0.1, 1.0)], {"eps": 1e-5})
    q = g.linear("attn.q_proj", h, g.weight(p + "self_attn.q_proj.weight", (D, D),
                                            1.5 / np.sqrt(D)))
    k = g.linear("attn.k_proj", h, g.weight(p + "self_attn.k_proj.weight",
                                            (kv_heads * HEAD_DIM, D), 1.5 / np.sqrt(D)))
    v = g.linear("attn.v_proj", h, g.weight(p + "self_attn.v_proj.weight",
                                            (kv_heads * HEAD_DIM, D), 1.0 / np.sqrt(D)))
    q = g.heads("attn.q_heads", q, HEADS, HEAD_DIM)
    k = g.heads("attn.k_heads", k, kv_heads, HEAD_DIM)
    v = g.heads("attn.v_heads", v, kv_heads, HEAD_DIM)
    rope = {"theta": 10000.0, "interleaved": False}
    q = g.node("attn.q_rope", "rope", [q], rope)
    k = g.node("attn.k_rope", "rope", [k], rope)
    a = g.node("attn.core", "attention", [q, k, v], {"causal": True})
    a = g.merge_heads("attn.merge", a, D)
    a = g.linear("attn.o_proj", a, g.weight(p + "self_attn.o_proj.weight", (D, D),
                                            1.0 / np.sqrt(D)))
    x = g.node("attn.residual", "add", [x, a])
    h = g.node("mlp.norm", "rmsnorm",
               [x, g.weight(p + "post_attention_layernorm.weight", (D,), 0.1, 1.0)],
               {"eps": 1e-5})
    gate = g.linear("mlp.gate_proj", h, g.weight(p + "mlp.gate_proj.weight", (hidden, D),
                                                 1.0 / np.sqrt(D)))
    up = g.linear("mlp.up_proj", h, g.weight(p + "mlp.up_proj.weight", (hidden, D),
                                             1.0 / np.sqrt(D)))
    gate = g.node("mlp.silu", "silu", [gate])
    m = g.node("mlp.gated", "mul", [gate, up])
    m = g.linear("mlp.down_proj", m, g.weight(p + "mlp.down_proj.weight", (D, hidden),
                                              1.0 / np.sqrt(hidden)))
    g.node("y", "add", [x, m])
    g.outputs = ["y"]
    return g


MODELS = {"gpt": make_gpt, "bert": make_bert, "llama": make_llama}


def render(model):
    """{file name: bytes} of one example."""
    g = MODELS[model]()
    files = {"graph.json": g.graph_json().encode("utf-8"),
             "weights.safetensors": stio.encode(g.weights)}
    if model == "gpt":
        dec = make_gpt(cache=True)
        assert set(dec.weights) == set(g.weights)
        files["decoder.json"] = dec.graph_json().encode("utf-8")
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "examples"),
                    help="folder to write (default: examples/ of the repository)")
    ap.add_argument("--check", action="store_true",
                    help="compare --out with what would be written instead of writing")
    opt = ap.parse_args()
    differ = 0
    for model in MODELS:
        files = render(model)
        d = os.path.join(opt.out, model)
        for name, blob in files.items():
            path = os.path.join(d, name)
            if opt.check:
                try:
                    with open(path, "rb") as f:
                        have = f.read()
                except OSError as e:
                    print(f"{path}: cannot read: {e.strerror}")
                    differ += 1
                    continue
                if have != blob:
                    at = next((i for i, (a, b) in enumerate(zip(have, blob)) if a != b),
                              min(len(have), len(blob)))
                    print(f"{path}: differs from make_examples.py's output at byte {at} "
                          f"({len(have)} bytes, want {len(blob)}); rerun scripts/make_examples.py")
                    differ += 1
            else:
                os.makedirs(d, exist_ok=True)
                with open(path, "wb") as f:
                    f.write(blob)
                print(f"wrote {os.path.relpath(path)} ({len(blob)} bytes)")
    if opt.check:
        print(f"examples reproducible: {'no' if differ else 'yes'} ({differ} files differ)")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
