#!/usr/bin/env python3
"""bench_model.py — whole models (BENCHMARKS.md, "Whole models"): tessera against
PyTorch, onnxruntime and its own reference interpreter, on the same random
weights and the same inputs, every output compared before its time counts.
`tessera bench model ARGS` runs this script as `bench_model.py --tessera PATH ARGS`.

    bench_model.py --tessera PATH [--target cpu|cuda] [--model NAME ...] [--seq LIST]
                   [--batch LIST] [--peers LIST] [--repeats N] [--threads N]
                   [--workdir DIR] [--keep] [--csv FILE] [--plot FILE] [--quick]

Models (random weights, seeded, f32; Hugging Face names, linear weights [out, in]):
  gpt2   GPT-2 small: 12 pre-LN layers, d 768, 12 heads, vocab 50257, 1024 learned
         positions, tanh-GELU MLP 3072, logits through the tied embedding
  bert   BERT-base: embeddings (word 30522, 512 positions, token type 0) + LayerNorm,
         12 post-LN layers, d 768, 12 heads, erf-GELU FFN 3072, additive key mask;
         output the last hidden state
  llama  LLaMA-style ~0.85B: 16 layers, d 2048, 32 query / 8 key-value heads of 64,
         RMSNorm, rotary (rotate-half, theta 10000), SwiGLU 5632, vocab 32000, untied lm_head
  tiny   the three families at 2 layers, d 64 (tiny-gpt2, tiny-bert, tiny-llama)
Shapes (seq x batch): on cuda, gpt2 128/512/1024 x 1/8, bert 128/512 x 1/32,
llama 512/2048 x 1 (--quick: the CPU default). On the CPU (2 cores finish in a
few minutes): gpt2 128 x 1, bert 128 x 1, llama 512 x 1; --quick: seq 128 x 1
for each. tiny: 32 x 2. --seq and --batch replace the lists.

Peers: torch (an nn.Module written here, eager; f32, and tf32 matmuls on cuda
like tessera's default), torch-compile (torch.compile mode="max-autotune", cuda
default only), ort (onnxruntime, CPU, on benchmarks/onnx_export.py's export of
the same graph, its initializers read in place from the weights file), ref
(`tessera run --target ref`, tiny models only). Default: torch,ort on cpu,
torch,torch-compile on cuda, and ref when a tiny model is in the run. Each peer
runs in its own process under the first Python that imports what it needs: this
one (`tessera bench model` takes $TESSERA_PYTHON, else build/venv's), then
build/venv's, or --peer-python PEER=PATH. A peer found nowhere is a warning and
a "-" column, or, when named in --peers, a one-line error and exit 1.

Timing: tessera by `tessera run --repeat N --json` (the median of N runs
including the first, as it has no separate warm-up; on cuda the CUDA-graph
replay time, copies excluded); peers by one untimed warm-up run (three for
torch-compile) then the median of N. Latency is ms per forward, tokens/s is
batch*seq / latency, ratio is peer_ms / tessera_ms (> 1: tessera faster),
geomean over the models that passed. The CSV also gives each side's fastest run:
on a machine that other work shares, the medians move with its load.

Check: each output of each peer against tessera's, |tessera - peer| <= rtol*|peer|
+ atol*scale, with f32 rtol 1e-3 and atol 1e-4, and scale = RMS(peer output) *
max(1, layers/2): summation-order differences grow with the size of the terms
summed (not with an output that cancels near zero) and add up layer after layer
through the residual stream. On cuda with tf32 (tessera's default), rtol 3e-2
and atol 1e-2. A mismatch marks the model FAILED with the largest error and
where, and no speed. TESSERA_BENCH_BREAK=1 perturbs one element of tessera's
outputs (a test switch: every model FAILS). The last line is PASSED or FAILED;
exit 0, 1 on FAILED or an error, 2 on bad usage.
"""
import argparse
import csv
import json
import math
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
VENV = os.path.join(ROOT, "build", "venv")  # scripts/setup.sh's: numpy, onnx, onnxruntime
VENV_PYTHON = os.path.join(VENV, "bin", "python3")
IN_VENV = os.path.realpath(sys.prefix) == os.path.realpath(VENV)
# `tessera bench model` sets this: usage and error lines name the command typed.
PROG = os.environ.get("TESSERA_BENCH_PROG", "bench_model.py")
WHO = "tessera" if PROG.startswith("tessera ") else PROG


def error_line(msg):
    return f"tessera: error: {PROG[len('tessera '):]}: {msg}" if WHO == "tessera" else f"{PROG}: error: {msg}"


def note(msg):
    """A progress line on stderr (stdout is the table, PASSED or FAILED last)."""
    print(f"{WHO}: {msg}", file=sys.stderr, flush=True)


def warn(msg):
    print(f"{WHO}: warning: {msg}", file=sys.stderr, flush=True)


try:
    import numpy as np
except ImportError:
    # The launcher may start us with a Python that lacks numpy: try the project's venv.
    if os.path.exists(VENV_PYTHON) and not IN_VENV and not os.environ.get("TESSERA_BENCH_MODEL_REEXEC"):
        os.environ["TESSERA_BENCH_MODEL_REEXEC"] = "1"
        os.execv(VENV_PYTHON, [VENV_PYTHON] + sys.argv)
    sys.exit(error_line(f"{sys.executable} cannot import numpy: run scripts/setup.sh (it makes build/venv) "
                        "or set TESSERA_PYTHON to a Python that has numpy"))

FAMILIES = ("gpt2", "bert", "llama")
CONFIGS = {
    "gpt2": dict(family="gpt2", layers=12, d=768, heads=12, ffn=3072, vocab=50257, positions=1024),
    "bert": dict(family="bert", layers=12, d=768, heads=12, ffn=3072, vocab=30522, positions=512),
    "llama": dict(family="llama", layers=16, d=2048, heads=32, kv_heads=8, ffn=5632, vocab=32000),
    "tiny-gpt2": dict(family="gpt2", layers=2, d=64, heads=4, ffn=256, vocab=512, positions=128),
    "tiny-bert": dict(family="bert", layers=2, d=64, heads=4, ffn=256, vocab=512, positions=128),
    "tiny-llama": dict(family="llama", layers=2, d=64, heads=4, kv_heads=2, ffn=176, vocab=512),
}
SEEDS = {"gpt2": 20240201, "bert": 20240202, "llama": 20240203}
SHAPES = {  # (seqs, batches)
    "cuda": {"gpt2": ([128, 512, 1024], [1, 8]), "bert": ([128, 512], [1, 32]), "llama": ([512, 2048], [1])},
    "cpu": {"gpt2": ([128], [1]), "bert": ([128], [1]), "llama": ([512], [1])},
    "quick": {"gpt2": ([128], [1]), "bert": ([128], [1]), "llama": ([128], [1])},
    "tiny": {"gpt2": ([32], [2]), "bert": ([32], [2]), "llama": ([32], [2])},
}
PEERS = ("torch", "torch-compile", "ort", "ref")
PEER_MODULES = {"torch": "torch", "torch-compile": "torch", "ort": "onnxruntime"}
TOL = {"f32": (1e-3, 1e-4), "tf32": (3e-2, 1e-2)}  # (rtol, atol)


class BenchError(Exception):
    """An error that ends the run: one line, exit 1."""


# ---------------------------------------------------------------------------
# Safetensors: a streaming writer and an mmap reader (weights reach 3.4 GB)

_ST = {"f32": ("F32", "<f4"), "i32": ("I32", "<i4"), "i64": ("I64", "<i8")}
_ST_BACK = {v[0]: (k, v[1]) for k, v in _ST.items()}


def st_header(entries):
    """entries: [(name, dtype, shape)] -> the header's bytes, its length first; the
    tensors follow it back to back in the order given."""
    header, offset = {}, 0
    for name, dt, shape in entries:
        n = int(np.prod(shape, dtype=np.int64)) * np.dtype(_ST[dt][1]).itemsize
        header[name] = {"dtype": _ST[dt][0], "shape": [int(s) for s in shape],
                        "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def st_write(path, tensors):
    """tensors: {name: (dtype, array)}, small ones (inputs)."""
    head = st_header([(k, dt, a.shape) for k, (dt, a) in tensors.items()])
    with open(path, "wb") as f:
        f.write(head)
        for dt, a in tensors.values():
            f.write(np.ascontiguousarray(a, dtype=_ST[dt][1]).tobytes())


def st_layout(path):
    """{name: (dtype, shape, absolute file offset, nbytes)} of a safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] not in _ST_BACK:
            raise BenchError(f"{path}: tensor '{name}' has dtype {e['dtype']}, not F32/I32/I64")
        b, end = e["data_offsets"]
        out[name] = (_ST_BACK[e["dtype"]][0], list(e["shape"]), 8 + n + b, end - b)
    return out


def st_read(path):
    """{name: (dtype, read-only memmapped array)}."""
    out = {}
    for name, (dt, shape, off, nbytes) in st_layout(path).items():
        if nbytes == 0:
            out[name] = (dt, np.zeros(shape, dtype=_ST[dt][1]))
        else:
            out[name] = (dt, np.memmap(path, dtype=_ST[dt][1], mode="r", offset=off, shape=tuple(shape)))
    return out


# ---------------------------------------------------------------------------
# The models as tessera graphs, through make_examples.py's GraphBuilder


def graph_builder_class():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from make_examples import GraphBuilder  # noqa: E402

    class LazyBuilder(GraphBuilder):
        """GraphBuilder whose weights are drawn while they are written, one at a
        time, so a 3.4 GB model never sits in memory."""

        def weight(self, name, shape, std, mean=0.0):
            self.weights[name] = ("f32", (tuple(int(s) for s in shape), float(std), float(mean)))
            return name

        def nbytes(self):
            return sum(4 * int(np.prod(s)) for _, (s, _, _) in self.weights.values())

        def write_weights(self, path):
            head = st_header([(k, "f32", s) for k, (_, (s, _, _)) in self.weights.items()])
            total, done, shown = self.nbytes(), 0, time.monotonic()
            with open(path + ".part", "wb") as f:
                f.write(head)
                for _, (shape, std, mean) in self.weights.values():
                    w = self.rng.standard_normal(shape, dtype=np.float32)
                    w *= np.float32(std)
                    w += np.float32(mean)
                    w.tofile(f)
                    done += w.nbytes
                    if time.monotonic() - shown > 5:
                        note(f"  writing weights: {done >> 20} of {total >> 20} MiB")
                        shown = time.monotonic()
            os.replace(path + ".part", path)

    return LazyBuilder


def build_graph(name, cfg, seed):
    g = graph_builder_class()(f"{name}: {describe(cfg)} (random weights, bench_model.py)",
                              {"batch": 1, "seq": 16}, seed=seed)
    {"gpt2": build_gpt2, "bert": build_bert, "llama": build_llama}[cfg["family"]](g, cfg)
    return g


def describe(cfg):
    kv = f"/{cfg['kv_heads']}" if "kv_heads" in cfg else ""
    return (f"{cfg['family']}, {cfg['layers']} layers, d {cfg['d']}, {cfg['heads']}{kv} heads, "
            f"ffn {cfg['ffn']}, vocab {cfg['vocab']}")


def layernorm(g, name, x, prefix, d, eps):
    return g.node(name, "layernorm", [x, g.weight(prefix + ".weight", (d,), 0.1, 1.0),
                                      g.weight(prefix + ".bias", (d,), 0.1)], {"eps": eps})


def build_gpt2(g, c):
    d, nh, f = c["d"], c["heads"], c["ffn"]
    hd = d // nh
    tokens = g.input("tokens", "i32", ["batch", "seq"])
    positions = g.input("positions", "i32", ["batch", "seq"])
    wte = g.weight("wte", (c["vocab"], d), 0.1)
    x = g.node("embed", "add", [g.node("embed.tokens", "gather", [wte, tokens]),
                                g.node("embed.positions", "gather",
                                       [g.weight("wpe", (c["positions"], d), 0.1), positions])])
    for i in range(c["layers"]):
        p, h = f"h.{i}.", f"h{i}."
        ln1 = layernorm(g, h + "ln_1", x, p + "ln_1", d, 1e-5)
        qkv = g.linear(h + "attn.qkv", ln1, g.weight(p + "attn.c_attn.weight", (3 * d, d), 1.5 / math.sqrt(d)),
                       g.weight(p + "attn.c_attn.bias", (3 * d,), 0.1))
        q, k, v = g.node(h + "attn.split", "split", [qkv], {"axis": -1, "sizes": [d, d, d]},
                         outputs=[h + "attn.q", h + "attn.k", h + "attn.v"])
        q, k, v = (g.heads(f"{h}attn.{n}_heads", t, nh, hd) for n, t in (("q", q), ("k", k), ("v", v)))
        a = g.merge_heads(h + "attn.merge", g.node(h + "attn.core", "attention", [q, k, v], {"causal": True}), d)
        a = g.linear(h + "attn.proj", a, g.weight(p + "attn.c_proj.weight", (d, d), 1.0 / math.sqrt(d)),
                     g.weight(p + "attn.c_proj.bias", (d,), 0.1))
        x = g.node(h + "resid_1", "add", [x, a])
        ln2 = layernorm(g, h + "ln_2", x, p + "ln_2", d, 1e-5)
        m = g.linear(h + "mlp.fc", ln2, g.weight(p + "mlp.c_fc.weight", (f, d), 1.0 / math.sqrt(d)),
                     g.weight(p + "mlp.c_fc.bias", (f,), 0.1))
        m = g.node(h + "mlp.gelu", "gelu", [m], {"approximate": "tanh"})
        m = g.linear(h + "mlp.proj", m, g.weight(p + "mlp.c_proj.weight", (d, f), 1.0 / math.sqrt(f)),
                     g.weight(p + "mlp.c_proj.bias", (d,), 0.1))
        x = g.node(h + "resid_2", "add", [x, m])
    x = layernorm(g, "ln_f", x, "ln_f", d, 1e-5)
    g.node("logits", "matmul", [x, wte], {"transpose_b": True})
    g.outputs = ["logits"]


def build_bert(g, c):
    d, nh, f = c["d"], c["heads"], c["ffn"]
    hd = d // nh
    ids = g.input("input_ids", "i32", ["batch", "seq"])
    positions = g.input("positions", "i32", ["batch", "seq"])
    mask = g.input("mask", "f32", ["batch", 1, 1, "seq"])
    e = "embeddings."
    x = g.node("embed.sum", "add", [
        g.node("embed.words", "gather", [g.weight(e + "word_embeddings.weight", (c["vocab"], d), 0.5), ids]),
        g.node("embed.positions", "gather",
               [g.weight(e + "position_embeddings.weight", (c["positions"], d), 0.3), positions])])
    # Every token has type 0: row 0 of the type table, broadcast over [batch, seq].
    tt = g.node("embed.type0", "slice", [g.weight(e + "token_type_embeddings.weight", (2, d), 0.3)],
                {"axis": 0, "start": 0, "end": 1})
    x = layernorm(g, "embed.layernorm", g.node("embed", "add", [x, tt]), e + "LayerNorm", d, 1e-12)
    for i in range(c["layers"]):
        p, h = f"encoder.layer.{i}.", f"l{i}."
        proj = {}
        for part in ("query", "key", "value"):
            y = g.linear(f"{h}attn.{part}", x,
                         g.weight(f"{p}attention.self.{part}.weight", (d, d), 1.5 / math.sqrt(d)),
                         g.weight(f"{p}attention.self.{part}.bias", (d,), 0.1))
            proj[part] = g.heads(f"{h}attn.{part}_heads", y, nh, hd)
        a = g.node(h + "attn.core", "attention", [proj["query"], proj["key"], proj["value"], mask])
        a = g.linear(h + "attn.output", g.merge_heads(h + "attn.merge", a, d),
                     g.weight(p + "attention.output.dense.weight", (d, d), 1.0 / math.sqrt(d)),
                     g.weight(p + "attention.output.dense.bias", (d,), 0.1))
        x1 = layernorm(g, h + "attn.layernorm", g.node(h + "attn.residual", "add", [a, x]),
                       p + "attention.output.LayerNorm", d, 1e-12)
        m = g.linear(h + "ffn.intermediate", x1, g.weight(p + "intermediate.dense.weight", (f, d), 1.0 / math.sqrt(d)),
                     g.weight(p + "intermediate.dense.bias", (f,), 0.1))
        m = g.linear(h + "ffn.output", g.node(h + "ffn.gelu", "gelu", [m]),
                     g.weight(p + "output.dense.weight", (d, f), 1.0 / math.sqrt(f)),
                     g.weight(p + "output.dense.bias", (d,), 0.1))
        x = layernorm(g, h + "ffn.layernorm" if i + 1 < c["layers"] else "last_hidden_state",
                      g.node(h + "ffn.residual", "add", [m, x1]), p + "output.LayerNorm", d, 1e-12)
    g.outputs = ["last_hidden_state"]


def build_llama(g, c):
    d, nh, nkv, f = c["d"], c["heads"], c["kv_heads"], c["ffn"]
    hd = d // nh
    tokens = g.input("tokens", "i32", ["batch", "seq"])
    x = g.node("embed", "gather", [g.weight("model.embed_tokens.weight", (c["vocab"], d), 0.5), tokens])
    rope = {"theta": 10000.0, "interleaved": False}
    for i in range(c["layers"]):
        p, h = f"model.layers.{i}.", f"l{i}."
        n = g.node(h + "attn.norm", "rmsnorm", [x, g.weight(p + "input_layernorm.weight", (d,), 0.1, 1.0)],
                   {"eps": 1e-5})
        q = g.linear(h + "attn.q_proj", n, g.weight(p + "self_attn.q_proj.weight", (d, d), 1.5 / math.sqrt(d)))
        k = g.linear(h + "attn.k_proj", n, g.weight(p + "self_attn.k_proj.weight", (nkv * hd, d), 1.5 / math.sqrt(d)))
        v = g.linear(h + "attn.v_proj", n, g.weight(p + "self_attn.v_proj.weight", (nkv * hd, d), 1.0 / math.sqrt(d)))
        q = g.node(h + "attn.q_rope", "rope", [g.heads(h + "attn.q_heads", q, nh, hd)], rope)
        k = g.node(h + "attn.k_rope", "rope", [g.heads(h + "attn.k_heads", k, nkv, hd)], rope)
        v = g.heads(h + "attn.v_heads", v, nkv, hd)
        a = g.merge_heads(h + "attn.merge", g.node(h + "attn.core", "attention", [q, k, v], {"causal": True}), d)
        a = g.linear(h + "attn.o_proj", a, g.weight(p + "self_attn.o_proj.weight", (d, d), 1.0 / math.sqrt(d)))
        x = g.node(h + "attn.residual", "add", [x, a])
        n = g.node(h + "mlp.norm", "rmsnorm", [x, g.weight(p + "post_attention_layernorm.weight", (d,), 0.1, 1.0)],
                   {"eps": 1e-5})
        gate = g.linear(h + "mlp.gate_proj", n, g.weight(p + "mlp.gate_proj.weight", (f, d), 1.0 / math.sqrt(d)))
        up = g.linear(h + "mlp.up_proj", n, g.weight(p + "mlp.up_proj.weight", (f, d), 1.0 / math.sqrt(d)))
        m = g.node(h + "mlp.gated", "mul", [g.node(h + "mlp.silu", "silu", [gate]), up])
        m = g.linear(h + "mlp.down_proj", m, g.weight(p + "mlp.down_proj.weight", (d, f), 1.0 / math.sqrt(f)))
        x = g.node(h + "mlp.residual", "add", [x, m])
    x = g.node("final_norm", "rmsnorm", [x, g.weight("model.norm.weight", (d,), 0.1, 1.0)], {"eps": 1e-5})
    g.linear("logits", x, g.weight("lm_head.weight", (c["vocab"], d), 1.0 / math.sqrt(d)))
    g.outputs = ["logits"]


def make_inputs(cfg, seq, batch, seed):
    """{name: (dtype, array)}: random tokens, positions 0..seq-1, and for BERT a key mask
    that drops the last (b mod 4)*seq/8 keys of batch row b (row 0 sees every key)."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, cfg["vocab"], size=(batch, seq)).astype(np.int32)
    positions = np.broadcast_to(np.arange(seq, dtype=np.int32), (batch, seq)).copy()
    if cfg["family"] == "gpt2":
        return {"tokens": ("i32", tokens), "positions": ("i32", positions)}
    if cfg["family"] == "bert":
        mask = np.zeros((batch, 1, 1, seq), dtype=np.float32)
        for b in range(batch):
            drop = (b % 4) * seq // 8
            if drop:
                mask[b, ..., seq - drop:] = -10000.0
        return {"input_ids": ("i32", tokens), "positions": ("i32", positions), "mask": ("f32", mask)}
    return {"tokens": ("i32", tokens)}


def model_flops(cfg, seq, batch):
    """Matrix-product FLOPs of one forward (linear layers, attention, logits)."""
    d, L, f, t = cfg["d"], cfg["layers"], cfg["ffn"], seq * batch
    hd = d // cfg["heads"]
    kv = cfg.get("kv_heads", cfg["heads"]) * hd
    lin = d * (d + 2 * kv) + d * d + (3 if cfg["family"] == "llama" else 2) * d * f
    attn = 4 * batch * cfg["heads"] * seq * seq * hd * (0.5 if cfg["family"] != "bert" else 1.0)
    head = 0 if cfg["family"] == "bert" else 2 * t * d * cfg["vocab"]
    return L * (2 * t * lin + attn) + head


# ---------------------------------------------------------------------------
# PyTorch versions of the three families (parameter names = the graph's weights)


def torch_model(cfg):
    import torch
    import torch.nn.functional as F
    from torch import nn

    d, nh, L = cfg["d"], cfg["heads"], cfg["layers"]
    hd = d // nh

    def split(x, n):
        b, s, _ = x.shape
        return x.view(b, s, n, hd).transpose(1, 2)

    def merge(x):
        b, n, s, _ = x.shape
        return x.transpose(1, 2).reshape(b, s, n * hd)

    def box(**mods):
        m = nn.Module()
        for k, v in mods.items():
            m.add_module(k, v)
        return m

    class GPT2(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Parameter(torch.empty(cfg["vocab"], d))
            self.wpe = nn.Parameter(torch.empty(cfg["positions"], d))
            self.h = nn.ModuleList(box(ln_1=nn.LayerNorm(d), ln_2=nn.LayerNorm(d),
                                       attn=box(c_attn=nn.Linear(d, 3 * d), c_proj=nn.Linear(d, d)),
                                       mlp=box(c_fc=nn.Linear(d, cfg["ffn"]), c_proj=nn.Linear(cfg["ffn"], d)))
                                   for _ in range(L))
            self.ln_f = nn.LayerNorm(d)

        def forward(self, tokens, positions):
            x = F.embedding(tokens, self.wte) + F.embedding(positions, self.wpe)
            for b in self.h:
                q, k, v = b.attn.c_attn(b.ln_1(x)).split(d, dim=-1)
                a = F.scaled_dot_product_attention(split(q, nh), split(k, nh), split(v, nh), is_causal=True)
                x = x + b.attn.c_proj(merge(a))
                x = x + b.mlp.c_proj(F.gelu(b.mlp.c_fc(b.ln_2(x)), approximate="tanh"))
            return F.linear(self.ln_f(x), self.wte)

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = box(word_embeddings=nn.Embedding(cfg["vocab"], d),
                                  position_embeddings=nn.Embedding(cfg["positions"], d),
                                  token_type_embeddings=nn.Embedding(2, d), LayerNorm=nn.LayerNorm(d, eps=1e-12))
            layer = lambda: box(  # noqa: E731
                attention=box(self=box(query=nn.Linear(d, d), key=nn.Linear(d, d), value=nn.Linear(d, d)),
                              output=box(dense=nn.Linear(d, d), LayerNorm=nn.LayerNorm(d, eps=1e-12))),
                intermediate=box(dense=nn.Linear(d, cfg["ffn"])),
                output=box(dense=nn.Linear(cfg["ffn"], d), LayerNorm=nn.LayerNorm(d, eps=1e-12)))
            self.encoder = box(layer=nn.ModuleList(layer() for _ in range(L)))

        def forward(self, input_ids, positions, mask):
            e = self.embeddings
            x = e.LayerNorm(e.word_embeddings(input_ids) + e.position_embeddings(positions)
                            + e.token_type_embeddings.weight[0])
            for b in self.encoder.layer:
                s = getattr(b.attention, "self")
                a = F.scaled_dot_product_attention(split(s.query(x), nh), split(s.key(x), nh),
                                                   split(s.value(x), nh), attn_mask=mask)
                x = b.attention.output.LayerNorm(b.attention.output.dense(merge(a)) + x)
                x = b.output.LayerNorm(b.output.dense(F.gelu(b.intermediate.dense(x))) + x)
            return x

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(d))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            nkv, f = cfg["kv_heads"], cfg["ffn"]
            lin = lambda i, o: nn.Linear(i, o, bias=False)  # noqa: E731
            self.model = box(
                embed_tokens=nn.Embedding(cfg["vocab"], d), norm=RMSNorm(),
                layers=nn.ModuleList(box(
                    input_layernorm=RMSNorm(), post_attention_layernorm=RMSNorm(),
                    self_attn=box(q_proj=lin(d, d), k_proj=lin(d, nkv * hd), v_proj=lin(d, nkv * hd),
                                  o_proj=lin(d, d)),
                    mlp=box(gate_proj=lin(d, f), up_proj=lin(d, f), down_proj=lin(f, d))) for _ in range(L)))
            self.lm_head = lin(d, cfg["vocab"])

        def forward(self, tokens):
            s, nkv = tokens.shape[1], cfg["kv_heads"]
            # Rotate-half tables in double, as onnx_export.py makes them.
            inv = 10000.0 ** (-torch.arange(0, hd, 2, dtype=torch.float64, device=tokens.device) / hd)
            ang = torch.outer(torch.arange(s, dtype=torch.float64, device=tokens.device), inv)
            cos, sin = torch.cat([ang.cos()] * 2, -1).float(), torch.cat([ang.sin()] * 2, -1).float()

            def rope(x):
                x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
                return x * cos + torch.cat([-x2, x1], -1) * sin

            x = self.model.embed_tokens(tokens)
            for b in self.model.layers:
                a, n = b.self_attn, b.input_layernorm(x)
                o = F.scaled_dot_product_attention(rope(split(a.q_proj(n), nh)), rope(split(a.k_proj(n), nkv)),
                                                   split(a.v_proj(n), nkv), is_causal=True, enable_gqa=True)
                x = x + a.o_proj(merge(o))
                n = b.post_attention_layernorm(x)
                x = x + b.mlp.down_proj(F.silu(b.mlp.gate_proj(n)) * b.mlp.up_proj(n))
            return self.lm_head(self.model.norm(x))

    return {"gpt2": GPT2, "bert": Bert, "llama": Llama}[cfg["family"]]


# ---------------------------------------------------------------------------
# Peer workers: one process per peer and model, so each loads its own copy of
# the weights and gives the memory back; a job file in, outputs as .npy and a
# JSON line out.


def worker_torch(job):
    import torch
    cuda = job["target"] == "cuda"
    dev = "cuda" if cuda else "cpu"
    if cuda:
        if not torch.cuda.is_available():
            raise BenchError("torch sees no CUDA GPU")
        torch.backends.cuda.matmul.allow_tf32 = job["tf32"]
        torch.backends.cudnn.allow_tf32 = job["tf32"]
    else:
        torch.set_num_threads(job["threads"])
    note(f"  {job['peer']}: loading the weights")
    with torch.device("meta"):
        model = torch_model(job["cfg"])()
    state = {k: torch.from_numpy(np.array(a)).to(dev) for k, (_, a) in st_read(job["weights"]).items()}
    model.load_state_dict(state, strict=True, assign=True)
    del state
    model.eval()
    feeds = {}
    for k, (dt, a) in st_read(job["inputs"]).items():
        t = torch.from_numpy(np.array(a)).to(dev)
        feeds[k] = t.long() if dt in ("i32", "i64") else t
    # One warm-up run on the CPU (a LLaMA forward takes seconds); on the GPU
    # three, for cuBLAS's handles and workspaces.
    fn, warmups, step = model, 3 if cuda else 1, (lambda: None)
    if job["peer"] == "torch-compile":
        fn, warmups = torch.compile(model, mode="max-autotune"), 3
        # max-autotune replays CUDA graphs: mark each call a new step, so a
        # replay may reuse the previous call's output memory.
        step = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", step)
    times = []
    with torch.inference_mode():
        t0 = time.perf_counter()
        for _ in range(warmups):
            step()
            out = fn(**feeds)
        # Copied out now: a later replay may overwrite a CUDA graph's output.
        np.save(job["out"] % job["outputs"][0], out.float().cpu().numpy())
        del out
        note(f"  {job['peer']}: warm-up {time.perf_counter() - t0:.1f} s")
        for _ in range(job["repeats"]):
            step()
            if cuda:
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                fn(**feeds)
                e1.record()
                e1.synchronize()
                times.append(e0.elapsed_time(e1))
            else:
                t0 = time.perf_counter()
                fn(**feeds)
                times.append((time.perf_counter() - t0) * 1e3)
    return times


def worker_ort(job):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto
    sys.path.insert(0, HERE)
    import onnx_export

    class InPlaceExporter(onnx_export.Exporter):
        """The weights as external data pointing into the tessera weights file
        itself (raw little-endian at the offsets its header gives): nothing copied."""

        def __init__(self, graph, layout, symbols):
            super().__init__(graph, {}, symbols)
            for name, (dt, shape, off, nbytes) in layout.items():
                self.define(name, dt, shape)
                t = TensorProto(name=name, data_type=onnx_export.ONNX_DTYPE[dt], dims=shape)
                t.data_location = TensorProto.EXTERNAL
                for k, v in (("location", os.path.basename(job["weights"])), ("offset", str(off)),
                             ("length", str(nbytes))):
                    e = t.external_data.add()
                    e.key, e.value = k, v
                self.inits.append(t)

    note("  ort: exporting the graph to ONNX (weights read in place), then the session")
    graph = onnx_export.load_graph(job["graph"])
    feeds = {k: np.array(a) for k, (_, a) in st_read(job["inputs"]).items()}
    symbols = onnx_export.bind_symbols(graph, None, {k: list(a.shape) for k, a in feeds.items()}, job["graph"])
    model = InPlaceExporter(graph, st_layout(job["weights"]), symbols).export()
    # Beside the weights: external data is found relative to the model file.
    path = os.path.join(os.path.dirname(job["weights"]), f"model-{job['tag']}.onnx")
    onnx.save(model, path)
    del model
    so = ort.SessionOptions()
    so.intra_op_num_threads = job["threads"]
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    note(f"  ort: session {time.perf_counter() - t0:.1f} s")
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(names, feeds)
    times = []
    for _ in range(job["repeats"]):
        t0 = time.perf_counter()
        sess.run(names, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    for name, a in zip(names, outs):
        np.save(job["out"] % name, a)
    os.unlink(path)
    return times


def worker_main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    try:
        times = (worker_ort if job["peer"] == "ort" else worker_torch)(job)
    except Exception as e:  # reported as that peer's error, in one line
        print(json.dumps({"error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"}))
        return 1
    print(json.dumps({"median_ms": statistics.median(times), "times_ms": times}))
    return 0


# ---------------------------------------------------------------------------
# Finding the peers


def probe(python, peer):
    """{"version", "device"} when `python` imports the peer's module, else None, why."""
    mod = PEER_MODULES[peer]
    code = (f"import json, numpy, {mod} as m\n"
            "d = {'version': m.__version__}\n")
    if mod == "torch":
        code += "d['cuda'] = m.cuda.is_available()\nd['gpu'] = m.cuda.get_device_name(0) if d['cuda'] else ''\n"
    code += "print(json.dumps(d))"
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if r.returncode != 0:
        return None, (r.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(r.stdout.strip().splitlines()[-1]), ""


def find_peers(opt):
    """{peer: (python, info)} for the peers found; errors for the ones named but missing."""
    explicit = opt.peers is not None
    tiny = any(m.startswith("tiny-") for m in opt.models)
    peers = opt.peers if explicit else (["torch", "ort"] if opt.target == "cpu" else ["torch", "torch-compile"]) \
        + (["ref"] if tiny else [])
    found, cache = {}, {}
    for peer in peers:
        if peer == "ref":
            found[peer] = (None, {"version": "tessera --target ref"})
            continue
        pythons = [opt.peer_python[peer]] if peer in opt.peer_python else \
            [sys.executable] + ([VENV_PYTHON] if os.path.exists(VENV_PYTHON) and not IN_VENV else [])
        why = []
        for py in pythons:
            key = (py, PEER_MODULES[peer])
            if key not in cache:
                cache[key] = probe(py, peer)
            info, err = cache[key]
            if info is None:
                why.append(f"{py}: cannot import {PEER_MODULES[peer]} ({err})")
            elif opt.target == "cuda" and peer != "ort" and not info.get("cuda"):
                why.append(f"{py}: torch {info['version']} sees no CUDA GPU")
            else:
                found[peer] = (py, info)
                break
        if peer not in found:
            msg = f"peer {peer}: " + "; ".join(why)
            if explicit:
                raise BenchError(msg + "; give --peer-python " + peer + "=PYTHON")
            warn(f"{msg}: its column is '-'")
    return peers, found


# ---------------------------------------------------------------------------
# Running tessera and the peers


def run_tessera(opt, graph, inputs, outputs, target, repeats):
    cmd = [opt.tessera, "run", graph, "--target", target, "--inputs", inputs, "--outputs", outputs,
           "--repeat", str(repeats), "--json"]
    if target == "cpu":
        cmd += ["--threads", str(opt.threads)]
    if target == "cuda" and opt.strict_f32:
        cmd += ["--strict-f32"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise BenchError((r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1].removeprefix("tessera: "))
    timing = json.loads(r.stdout)["timing"]
    ms = timing.get("device_median_ms", -1)
    # (min over the same runs; on cuda the replays' median is all tessera reports)
    ms, low = (ms, ms) if ms and ms > 0 else (timing["median_ms"], timing["min_ms"])
    note(f"  tessera --target {target}: {time.perf_counter() - t0:.1f} s in all (compile, load, "
         f"{repeats} runs), median {ms:.3f} ms")
    return ms, low


def run_peer(opt, peer, python, job):
    path = job["out"].replace("-%s.npy", "-job.json")
    with open(path, "w") as f:
        json.dump(job, f)
    r = subprocess.run([python, os.path.abspath(__file__), "--worker", path], stdout=subprocess.PIPE,
                       text=True, stdin=subprocess.DEVNULL)
    lines = r.stdout.strip().splitlines()
    try:
        res = json.loads(lines[-1])
    except (IndexError, ValueError):
        res = {"error": f"worker exit {r.returncode}"}
    if "error" in res:
        raise BenchError(f"{peer}: {res['error']}")
    note(f"  {peer}: median {res['median_ms']:.3f} ms")
    return res["median_ms"], min(res["times_ms"])


# ---------------------------------------------------------------------------
# Checking outputs


def compare(got, want, rtol, atol, depth):
    """Largest error of got (tessera) against want (a peer), chunked over rows so a
    1.6 GB output is never copied whole. Returns a dict: ok, max_abs, max_rel, where, bad."""
    if got.shape != want.shape:
        return {"ok": False, "why": f"shape {list(got.shape)} against {list(want.shape)}", "max_abs": math.inf,
                "max_rel": math.inf, "where": ()}
    g2, w2 = got.reshape(-1, got.shape[-1]), want.reshape(-1, want.shape[-1])
    step = max(1, (1 << 24) // max(1, w2.shape[1]))
    ss = 0.0
    for i in range(0, w2.shape[0], step):
        ss += float(np.sum(np.square(w2[i:i + step], dtype=np.float64)))
    scale = math.sqrt(ss / max(1, want.size)) * max(1.0, depth / 2)
    tol_abs = atol * max(scale, 1e-30)
    res = {"ok": True, "max_abs": 0.0, "max_rel": 0.0, "where": (), "bad": 0, "excess": 0.0, "tol_abs": tol_abs}
    for i in range(0, w2.shape[0], step):
        g, w = g2[i:i + step].astype(np.float64), w2[i:i + step].astype(np.float64)
        err = np.abs(g - w)
        err[np.isnan(err)] = np.inf
        lim = tol_abs + rtol * np.abs(w)
        res["bad"] += int(np.count_nonzero(~(err <= lim)))
        k = int(np.argmax(err))
        if err.flat[k] > res["max_abs"] or not res["where"]:
            res["max_abs"] = float(err.flat[k])
            res["where"] = np.unravel_index(i * w2.shape[1] + k, got.shape)
        rel = err / np.maximum(np.abs(w), 1e-30)
        res["max_rel"] = max(res["max_rel"], float(np.max(np.where(err == 0, 0, rel))))
        res["excess"] = max(res["excess"], float(np.max(err / lim)))
    res["ok"] = res["bad"] == 0
    return res


def load_tessera_outputs(path):
    outs = {k: a for k, (_, a) in st_read(path).items()}
    if os.environ.get("TESSERA_BENCH_BREAK") == "1":
        # The test switch: one element of each output off by 1% of the output's range.
        for k, a in outs.items():
            a = np.array(a)
            a.flat[a.size // 2] += 0.01 * float(np.max(np.abs(a))) + 0.01
            outs[k] = a
    return outs


# ---------------------------------------------------------------------------
# One model: build, write, run everything, compare


def output_bytes(cfg, seq, batch):
    return 4 * batch * seq * (cfg["d"] if cfg["family"] == "bert" else cfg["vocab"])


def model_dir(opt, name, cfg, shapes):
    """Writes (or reuses, under --keep) the graph and weights; returns the folder."""
    seed = SEEDS[cfg["family"]] + opt.seed
    d = os.path.join(opt.workdir, f"{name}-seed{seed}")
    stamp = os.path.join(d, "stamp.json")
    want = json.dumps({"cfg": cfg, "seed": seed, "format": 1}, sort_keys=True)
    g = build_graph(name, cfg, seed)
    if os.path.exists(stamp) and open(stamp).read() == want:
        note(f"{name}: reusing {d}")
        return d
    os.makedirs(d, exist_ok=True)
    # The weights, and tessera's output with one peer's at a time beside it.
    need = g.nbytes() + 2 * max(output_bytes(cfg, s, b) for s, b in shapes) + (64 << 20)
    free = shutil.disk_usage(d).free
    if free < need:
        raise BenchError(f"{d}: {free >> 20} MiB free, {name} needs {need >> 20} MiB for its weights and "
                         "outputs (give --workdir elsewhere)")
    note(f"{name}: writing {len(g.weights)} random weights ({g.nbytes() / 1e6:.0f} MB, "
         f"{g.nbytes() / 4e6:.0f}M parameters) under {d}")
    t0 = time.perf_counter()
    with open(os.path.join(d, "graph.json"), "w") as f:
        f.write(g.graph_json())
    g.write_weights(os.path.join(d, "weights.safetensors"))
    with open(stamp, "w") as f:
        f.write(want)
    note(f"{name}: weights written in {time.perf_counter() - t0:.1f} s")
    return d


def bench_one(opt, name, cfg, d, seq, batch, peers, found):
    """One row: {peer: ms}, tessera ms, and the check."""
    tag = f"s{seq}-b{batch}"
    row = {"model": name, "family": cfg["family"], "seq": seq, "batch": batch, "tessera_ms": None,
           "peers": {}, "min_ms": {}, "checks": {}, "status": "ok", "why": "", "flops": model_flops(cfg, seq, batch)}
    graph, weights = os.path.join(d, "graph.json"), os.path.join(d, "weights.safetensors")
    inputs = os.path.join(d, f"inputs-{tag}.safetensors")
    st_write(inputs, make_inputs(cfg, seq, batch, seed=opt.seed + seq * 1000 + batch))
    out_fmt = os.path.join(d, f"out-{tag}-%s")
    tess_out = out_fmt % "tessera" + ".safetensors"
    tiny = name.startswith("tiny-")
    note(f"{name} seq {seq} batch {batch}: tessera --target {opt.target} ({opt.repeats} runs)")
    try:
        row["tessera_ms"], row["min_ms"]["tessera"] = run_tessera(opt, graph, inputs, tess_out, opt.target,
                                                                  opt.repeats)
        tess = load_tessera_outputs(tess_out)
    except BenchError as e:
        row.update(status="FAILED", why=f"tessera: {e}")
        return row
    rtol, atol = TOL["tf32" if opt.target == "cuda" and not opt.strict_f32 else "f32"]
    for peer in peers:
        if peer not in found:
            continue  # '-' in the table (warned about at the start)
        if peer == "ref" and not tiny:
            note(f"{name}: ref runs the tiny models only (the interpreter does ~0.2 GFLOP/s): '-'")
            continue
        note(f"{name} seq {seq} batch {batch}: {peer}")
        try:
            if peer == "ref":
                ref_out = out_fmt % "ref" + ".safetensors"
                ms, low = run_tessera(opt, graph, inputs, ref_out, "ref", min(opt.repeats, 3))
                theirs = {k: a for k, (_, a) in st_read(ref_out).items()}
            else:
                job = {"peer": peer, "cfg": cfg, "target": opt.target, "threads": opt.threads,
                       "repeats": opt.repeats, "tf32": opt.target == "cuda" and not opt.strict_f32,
                       "graph": graph, "weights": weights, "inputs": inputs, "tag": tag,
                       "out": out_fmt % peer + "-%s.npy", "outputs": list(tess)}
                ms, low = run_peer(opt, peer, found[peer][0], job)
                theirs = {k: np.load(job["out"] % k, mmap_mode="r") for k in tess}
        except (BenchError, OSError) as e:
            row["peers"][peer] = None
            if row["status"] == "ok":
                row.update(status="FAILED", why=f"{peer}: {e}")
            continue
        checks = {k: compare(tess[k], theirs[k], rtol, atol, cfg["layers"]) for k in tess}
        row["checks"][peer] = checks
        bad = [(k, c) for k, c in checks.items() if not c["ok"]]
        if bad:
            k, c = bad[0]
            where = ", ".join(str(int(i)) for i in c["where"])
            if row["status"] == "ok":  # the first mismatch is the one reported
                row.update(status="FAILED", why=c.get("why") or (
                    f"{k} differs from {peer}: max abs err {c['max_abs']:.3g} at [{where}], "
                    f"{c['bad']} elements beyond tolerance"))
        row["peers"][peer], row["min_ms"][peer] = ms, low
        for k, c in checks.items():
            note(f"  {k} against {peer}: max abs err {c['max_abs']:.3g}, max rel err {c['max_rel']:.3g}, "
                 f"{c['excess']:.3g} of the tolerance" if "excess" in c else f"  {k}: {c.get('why')}")
        for f in os.listdir(d):
            if f.startswith(f"out-{tag}-{peer}"):
                os.unlink(os.path.join(d, f))
    for f in (tess_out, inputs):
        os.unlink(f)
    return row


# ---------------------------------------------------------------------------
# Report: table, geomean, CSV, chart


def fmt(x, f="{:.3f}"):
    return "-" if x is None or not math.isfinite(x) else f.format(x)


def print_header_row(peers):
    cols = f"{'model':<11} {'batch':>5} {'seq':>5} {'tessera ms':>11} {'tok/s':>9} {'GFLOP/s':>8}"
    for p in peers:
        cols += f" {p + ' ms':>12} {'ratio':>6}"
    print(cols + "  check", flush=True)


def print_row(row, peers):
    ok = row["status"] == "ok"
    ms = row["tessera_ms"] if ok else None
    line = (f"{row['model']:<11} {row['batch']:>5} {row['seq']:>5} {fmt(ms):>11} "
            f"{fmt(row['batch'] * row['seq'] * 1e3 / ms if ms else None, '{:.0f}'):>9} "
            f"{fmt(row['flops'] / ms / 1e6 if ms else None, '{:.1f}'):>8}")
    for p in peers:
        pm = row["peers"].get(p) if ok else None
        line += f" {fmt(pm):>12} {fmt(pm / ms if pm and ms else None, '{:.2f}'):>6}"
    print(line + ("  ok" if ok else f"  FAILED ({row['why']})"), flush=True)


def geomeans(rows, peers):
    out = {}
    for p in peers:
        r = [row["peers"][p] / row["tessera_ms"] for row in rows
             if row["status"] == "ok" and row["peers"].get(p) and row["tessera_ms"]]
        if r:
            out[p] = (math.exp(sum(map(math.log, r)) / len(r)), len(r))
    return out


CSV_FIELDS = ["model", "family", "batch", "seq", "target", "threads", "peer", "tessera_ms", "peer_ms", "ratio",
              "tessera_tokens_per_s", "peer_tokens_per_s", "tessera_gflops", "tessera_min_ms", "peer_min_ms",
              "max_abs_err", "max_rel_err", "err_at", "disposition"]


def write_csv(path, rows, peers, opt):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for row in rows:
            ok, tok = row["status"] == "ok", row["batch"] * row["seq"]
            ms = row["tessera_ms"] if ok else None
            for p in ([p for p in peers if p in row["peers"]] or ["-"]):
                pm = row["peers"].get(p) if ok else None  # a FAILED model has no speed
                worst = max(row["checks"].get(p, {}).values(), key=lambda c: c["max_abs"], default=None)
                w.writerow({"model": row["model"], "family": row["family"], "batch": row["batch"],
                            "seq": row["seq"], "target": opt.target, "threads": opt.threads, "peer": p,
                            "tessera_ms": fmt(ms, "{:.4f}"), "peer_ms": fmt(pm, "{:.4f}"),
                            "ratio": fmt(pm / ms if pm and ms else None, "{:.4f}"),
                            "tessera_tokens_per_s": fmt(tok * 1e3 / ms if ms else None, "{:.1f}"),
                            "peer_tokens_per_s": fmt(tok * 1e3 / pm if pm else None, "{:.1f}"),
                            "tessera_gflops": fmt(row["flops"] / ms / 1e6 if ms else None, "{:.2f}"),
                            "tessera_min_ms": fmt(row["min_ms"].get("tessera") if ok else None, "{:.4f}"),
                            "peer_min_ms": fmt(row["min_ms"].get(p) if ok else None, "{:.4f}"),
                            "max_abs_err": fmt(worst["max_abs"], "{:.4g}") if worst else "-",
                            "max_rel_err": fmt(worst["max_rel"], "{:.4g}") if worst else "-",
                            "err_at": " ".join(str(int(i)) for i in worst["where"]) if worst else "",
                            "disposition": "ok" if ok else "FAILED"})


def plot(path, rows, peers, title):
    """A PNG bar chart of the ratios: matplotlib where it imports, else gnuplot."""
    labels = [f"{r['model']} b{r['batch']} s{r['seq']}" for r in rows]
    peers = [p for p in peers if any(r["peers"].get(p) for r in rows)]
    if not peers:
        warn("--plot: no peer measured, no ratios to draw; no chart")
        return
    # A ratio per bar on a log axis (the interpreter is ~100x slower); NaN: no bar.
    data = [[(r["peers"].get(p) or math.nan) / r["tessera_ms"] if r["status"] == "ok" and r["tessera_ms"]
             else math.nan for p in peers] for r in rows]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        fig, ax = plt.subplots(figsize=(max(6, 1 + 0.6 * len(rows) * len(peers)), 4.8))
        width = 0.8 / len(peers)
        for j, p in enumerate(peers):
            ax.bar([i + j * width for i in range(len(rows))], [d[j] for d in data], width, label=f"vs {p}")
        ax.axhline(1.0, color="black", linewidth=1)
        ax.set_yscale("log")
        finite = [x for d in data for x in d if math.isfinite(x) and x > 0]
        ax.set_ylim(bottom=min([0.5] + [x / 2 for x in finite]))  # bars grow from the bottom
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))], labels, rotation=30, ha="right")
        ax.set_ylabel("peer ms / tessera ms")
        ax.set_title(title, fontsize=9)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        note(f"chart written to {path}")
        return
    if not shutil.which("gnuplot"):
        warn("--plot: neither matplotlib nor gnuplot (Debian package gnuplot-nox) is there; no chart")
        return
    script = path + ".gp"
    with open(script, "w") as f:
        f.write("set datafile missing \"NaN\"\n$ratios << EOD\n")
        for label, d in zip(labels, data):
            f.write(f"\"{label}\" " + " ".join(f"{x:.4f}" if math.isfinite(x) else "NaN" for x in d) + "\n")
        f.write("EOD\n")
        f.write(f"set terminal pngcairo size {max(640, 400 + 40 * len(rows) * len(peers))},480 noenhanced\n")
        gp_title = title.replace("\n", "\\n")  # gnuplot's own escape inside "..."
        f.write(f"set output \"{path}\"\nset title \"{gp_title}\"\n")
        f.write("set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8\n"
                "set logscale y\nset grid ytics\nset xtics rotate by -30\nset ylabel \"peer ms / tessera ms\"\n"
                "set key top left\n")
        colours = ["#3b6ea5", "#d08a2c", "#5a9e4b", "#a04040"]
        f.write("plot " + ", ".join(f"$ratios using {j + 2}:xtic(1) title \"vs {p}\" lc rgb \"{colours[j % 4]}\""
                                    for j, p in enumerate(peers)) + ", 1 with lines lc rgb \"black\" notitle\n")
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    if r.returncode != 0 or '"' in path:
        warn(f"--plot: gnuplot failed on {script}: {r.stderr.strip()[-200:]}; no chart")
    else:
        note(f"chart written to {path} (gnuplot script {script})")


# ---------------------------------------------------------------------------
# Command line


def machine_line(opt, found):
    if opt.target == "cuda":
        gpu = next((i.get("gpu") for _, i in found.values() if i.get("gpu")), "")
        try:
            r = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30)
            gpu = r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else gpu
        except (OSError, subprocess.TimeoutExpired):
            pass
        return f"GPU {gpu or 'unknown'}"
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    load = ", load average %.2f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else ""
    return f"CPU {cpu}, {os.cpu_count()} cores{load}, {opt.threads} threads for every side"


def tessera_version(opt):
    try:
        r = subprocess.run([opt.tessera, "version"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise BenchError(f"{opt.tessera}: cannot run: {e.strerror}")
    if r.returncode != 0:
        raise BenchError(f"{opt.tessera} version: exit {r.returncode}")
    lines = r.stdout.strip().splitlines()
    head = lines[0] if lines else "tessera ?"
    commit = next((l.strip() for l in lines if "commit" in l), "")
    if not commit:
        g = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "-uno"], capture_output=True, text=True)
        if g.returncode == 0:
            commit = f"source tree at {g.stdout.strip()}{' (modified)' if dirty.stdout.strip() else ''}"
    backend = next((l.strip() for l in lines if l.strip().startswith("LLVM" if opt.target == "cpu" else "NVRTC")), "")
    return ", ".join(x for x in (head, commit, backend) if x)


def parse_list(text, what):
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"{what}: expected a comma-separated list of positive integers, "
                                         f"got '{text}'")
    return out


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """Bad usage: one line, exit 2."""
        print(error_line(f"{message} (see --help)"), file=sys.stderr)
        sys.exit(2)


def parse_args(argv):
    ap = Parser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 epilog="\n\n".join(__doc__.split("\n\n")[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tessera", required=True, help="the tessera binary")
    ap.add_argument("--target", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--model", nargs="+", default=None, metavar="NAME",
                    help="gpt2, bert, llama, tiny (or tiny-gpt2 ...); commas allowed (default gpt2 bert llama)")
    ap.add_argument("--seq", type=lambda s: parse_list(s, "--seq"), help="sequence lengths, e.g. 128,512")
    ap.add_argument("--batch", type=lambda s: parse_list(s, "--batch"), help="batch sizes, e.g. 1,8")
    ap.add_argument("--peers", help=f"comma-separated, from {', '.join(PEERS)}; 'none' for tessera alone")
    ap.add_argument("--peer-python", action="append", default=[], metavar="PEER=PYTHON",
                    help="the Python that runs a peer (default: this one, then build/venv's)")
    ap.add_argument("--repeats", type=int, help="timed runs per side (default 5 on cpu, 30 on cuda, 3 with --quick)")
    ap.add_argument("--threads", type=int, help="CPU threads for every side (default: one per core)")
    ap.add_argument("--strict-f32", action="store_true", help="cuda: f32 matrix products without tf32, both sides")
    ap.add_argument("--seed", type=int, default=0, help="added to the weight and input seeds")
    ap.add_argument("--workdir", help="where weights, inputs and outputs go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the workdir's models (and reuse them next time)")
    ap.add_argument("--csv", help="also write the rows as CSV")
    ap.add_argument("--plot", help="a PNG bar chart of the ratios (matplotlib, else gnuplot)")
    ap.add_argument("--quick", action="store_true", help="fewer shapes and runs")
    opt = ap.parse_args(argv)
    names = [n for m in (opt.model or ["gpt2,bert,llama"]) for n in m.split(",") if n]
    opt.models = []
    for n in names:
        for m in ([f"tiny-{f}" for f in FAMILIES] if n == "tiny" else [n]):
            if m not in CONFIGS:
                ap.error(f"--model: unknown model '{n}' (gpt2, bert, llama, tiny, tiny-gpt2, tiny-bert, tiny-llama)")
            if m not in opt.models:
                opt.models.append(m)
    if opt.peers is not None:
        opt.peers = [] if opt.peers.strip() == "none" else [p for p in opt.peers.split(",") if p]
        for p in opt.peers:
            if p not in PEERS:
                ap.error(f"--peers: unknown peer '{p}' ({', '.join(PEERS)}, or none)")
        if opt.target == "cuda" and "ort" in opt.peers:
            ap.error("--peers: ort is a CPU peer; leave it out with --target cuda")
    pythons = {}
    for item in opt.peer_python:
        p, eq, py = item.partition("=")
        if not eq or p not in PEER_MODULES or not py:
            ap.error(f"--peer-python: expected PEER=PYTHON with PEER one of {', '.join(PEER_MODULES)}, "
                     f"got '{item}'")
        pythons[p] = py
    if "torch" in pythons:
        pythons.setdefault("torch-compile", pythons["torch"])
    opt.peer_python = pythons
    if opt.repeats is None:
        opt.repeats = 3 if opt.quick else (30 if opt.target == "cuda" else 5)
    opt.threads = opt.threads or os.cpu_count() or 1
    for what in ("csv", "plot"):
        where = os.path.dirname(os.path.abspath(getattr(opt, what) or "."))
        if getattr(opt, what) and not os.path.isdir(where):
            ap.error(f"--{what}: folder {where} does not exist")
    if opt.repeats < 1 or opt.threads < 1:
        ap.error("--repeats and --threads must be at least 1")
    return opt


def shapes_of(opt, name, cfg):
    table = SHAPES["tiny" if name.startswith("tiny-") else
                   "quick" if opt.quick and opt.target == "cpu" else
                   "cpu" if opt.quick or opt.target == "cpu" else "cuda"]
    seqs, batches = table[cfg["family"]]
    return [(s, b) for s in (opt.seq or seqs) for b in (opt.batch or batches)]


def main(argv):
    if argv[:1] == ["--worker"] and len(argv) == 2:
        return worker_main(argv[1])
    opt = parse_args(argv)
    for name in opt.models:
        cfg = CONFIGS[name]
        for seq, _ in shapes_of(opt, name, cfg):
            if seq > cfg.get("positions", 1 << 30):
                print(error_line(f"--seq {seq}: {name} has {cfg['positions']} positions"), file=sys.stderr)
                return 2
    tmp = None
    try:
        version = tessera_version(opt)
        peers, found = find_peers(opt)
        if opt.workdir:
            os.makedirs(opt.workdir, exist_ok=True)
        else:
            opt.workdir = tmp = tempfile.mkdtemp(prefix="tessera-bench-model-")
        dtype = "tf32 matmuls (f32 storage)" if opt.target == "cuda" and not opt.strict_f32 else "f32"
        print(f"bench model: whole models on {opt.target}, {dtype}; {machine_line(opt, found)}; "
              f"median of {opt.repeats} runs; {time.strftime('%Y-%m-%d %H:%M %Z')}")
        print(f"tessera: {version}")
        print("peers: " + ("; ".join(f"{p}: " + (found[p][1]["version"] if p == "ref" else
                                                 f"{PEER_MODULES[p]} {found[p][1]['version']} ({found[p][0]})")
                                     if p in found else f"{p}: not found" for p in peers) or "none"))
        rows = []
        print_header_row(peers)
        for name in opt.models:
            cfg = CONFIGS[name]
            shapes = shapes_of(opt, name, cfg)
            d = model_dir(opt, name, cfg, shapes)
            for seq, batch in shapes:
                row = bench_one(opt, name, cfg, d, seq, batch, peers, found)
                rows.append(row)
                print_row(row, peers)
            if not opt.keep:
                shutil.rmtree(d, ignore_errors=True)
        gm = geomeans(rows, peers)
        for p, (g, n) in gm.items():
            print(f"geomean ratio vs {p}: {g:.3f} over {n} model(s) (> 1: tessera faster)")
        if opt.csv:
            write_csv(opt.csv, rows, peers, opt)
        if opt.plot:
            plot(opt.plot, rows, peers, f"tessera whole models on {opt.target}: peer ms / tessera ms\n"
                                        f"(> 1: tessera faster; no bar: failed or not measured)")
        if opt.keep:
            note(f"models kept under {opt.workdir} (--keep: reused by the next run with the same --workdir)")
        if hasattr(os, "getloadavg") and opt.target == "cpu":
            print("load average at the end %.2f (other work on the machine moves the medians)" % os.getloadavg()[0])
        failed = sum(r["status"] != "ok" for r in rows)
        print("FAILED" if failed else "PASSED")
        return 1 if failed else 0
    except BenchError as e:
        print(error_line(str(e)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(error_line("interrupted"), file=sys.stderr)
        return 1
    finally:
        if tmp and not opt.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
