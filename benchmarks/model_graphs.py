"""model_graphs.py — the benchmark's models (GPT-2, BERT, LLaMA and their tiny
versions) as tessera graphs with random weights, through make_examples.py's
GraphBuilder, and their inputs and FLOP counts."""
import math
import os
import sys
import time

import numpy as np

from model_common import ROOT, note, st_header

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


def build_graph(name, cfg, seed, cache=False):
    """The model's graph; with cache (gpt2, llama), its key/value cache form
    for tessera generate (docs/FORMAT.md), with the same weights."""
    symbols = {"batch": 1, "seq": 16}
    if cache:
        symbols = {"batch": 1, "seq": 1, "max_seq": cfg.get("positions", 2048)}
    g = graph_builder_class()(f"{name}: {describe(cfg)} (random weights, bench_model.py)"
                              + (", key/value cache form" if cache else ""), symbols, seed=seed)
    build = {"gpt2": build_gpt2, "bert": build_bert, "llama": build_llama}[cfg["family"]]
    if cache:
        build(g, cfg, cache=True)
    else:
        build(g, cfg)
    return g


def describe(cfg):
    kv = f"/{cfg['kv_heads']}" if "kv_heads" in cfg else ""
    return (f"{cfg['family']}, {cfg['layers']} layers, d {cfg['d']}, {cfg['heads']}{kv} heads, "
            f"ffn {cfg['ffn']}, vocab {cfg['vocab']}")


def layernorm(g, name, x, prefix, d, eps):
    return g.node(name, "layernorm", [x, g.weight(prefix + ".weight", (d,), 0.1, 1.0),
                                      g.weight(prefix + ".bias", (d,), 0.1)], {"eps": eps})


def build_gpt2(g, c, cache=False):
    d, nh, f = c["d"], c["heads"], c["ffn"]
    hd = d // nh
    tokens = g.input("tokens", "i32", ["batch", "seq"])
    positions = g.input("positions", "i32", ["batch", "seq"])
    if cache:
        g.cache_inputs(c["layers"], nh, hd)
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
        core = (g.kv_cache_attention(i, q, k, v) if cache
                else g.node(h + "attn.core", "attention", [q, k, v], {"causal": True}))
        a = g.merge_heads(h + "attn.merge", core, d)
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
    g.outputs = ["logits"] + g.cache_outputs


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


def build_llama(g, c, cache=False):
    d, nh, nkv, f = c["d"], c["heads"], c["kv_heads"], c["ffn"]
    hd = d // nh
    tokens = g.input("tokens", "i32", ["batch", "seq"])
    rope_in = []
    if cache:
        g.input("positions", "i32", ["batch", "seq"])
        g.cache_inputs(c["layers"], nkv, hd)
        rope_in = [g.node("rope_positions", "reshape", ["positions"], {"shape": ["batch", 1, "seq"]})]
    x = g.node("embed", "gather", [g.weight("model.embed_tokens.weight", (c["vocab"], d), 0.5), tokens])
    rope = {"theta": 10000.0, "interleaved": False}
    for i in range(c["layers"]):
        p, h = f"model.layers.{i}.", f"l{i}."
        n = g.node(h + "attn.norm", "rmsnorm", [x, g.weight(p + "input_layernorm.weight", (d,), 0.1, 1.0)],
                   {"eps": 1e-5})
        q = g.linear(h + "attn.q_proj", n, g.weight(p + "self_attn.q_proj.weight", (d, d), 1.5 / math.sqrt(d)))
        k = g.linear(h + "attn.k_proj", n, g.weight(p + "self_attn.k_proj.weight", (nkv * hd, d), 1.5 / math.sqrt(d)))
        v = g.linear(h + "attn.v_proj", n, g.weight(p + "self_attn.v_proj.weight", (nkv * hd, d), 1.0 / math.sqrt(d)))
        q = g.node(h + "attn.q_rope", "rope", [g.heads(h + "attn.q_heads", q, nh, hd)] + rope_in, rope)
        k = g.node(h + "attn.k_rope", "rope", [g.heads(h + "attn.k_heads", k, nkv, hd)] + rope_in, rope)
        v = g.heads(h + "attn.v_heads", v, nkv, hd)
        core = (g.kv_cache_attention(i, q, k, v) if cache
                else g.node(h + "attn.core", "attention", [q, k, v], {"causal": True}))
        a = g.merge_heads(h + "attn.merge", core, d)
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
    g.outputs = ["logits"] + g.cache_outputs


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

