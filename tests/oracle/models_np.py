"""models_np.py — numpy (float64) implementations of the three example models
of scripts/make_examples.py, written from the architectures themselves: they
read the weights by name with stio and never look at graph.json, so they are an
independent check of the graphs and of tessera's interpreter.

    gpt(weights, tokens, positions) -> logits [batch, seq, 256]
    bert(weights, x, mask)          -> y [batch, seq, 128]
    llama(weights, x)               -> y [batch, seq, 128]

weights is a dict name -> array (stio.read's arrays, without the dtypes).
Only the standard library and numpy are used.
"""
import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])


def load(path):
    """Reads a weights file into name -> float64 array."""
    import stio
    return {k: a.astype(np.float64) for k, (_, a) in stio.read(path).items()}


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_erf(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def linear(x, w, b=None):
    """A Hugging Face linear layer: w is [out, in]."""
    y = x @ w.T
    return y if b is None else y + b


def split_heads(x, n):
    """[batch, seq, n*hd] -> [batch, n, seq, hd]."""
    b, s, width = x.shape
    return x.reshape(b, s, n, width // n).transpose(0, 2, 1, 3)


def merge_heads(x):
    b, n, s, hd = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, n * hd)


def sdpa(q, k, v, additive_mask=None, causal=False):
    """Scaled dot-product attention over [batch, heads, seq, hd]; k and v may
    have fewer heads (each serves a contiguous group of query heads)."""
    group = q.shape[1] // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    if additive_mask is not None:
        scores = scores + additive_mask
    if causal:
        s = q.shape[2]
        scores = np.where(np.tril(np.ones((s, s), dtype=bool)), scores, -np.inf)
    scores = scores - scores.max(-1, keepdims=True)
    p = np.exp(scores)
    p = p / p.sum(-1, keepdims=True)
    return p @ v


def rotate_half_rope(x, theta=10000.0):
    """LLaMA's rotary embedding at positions 0..seq-1 on [batch, heads, seq, hd]."""
    s, hd = x.shape[-2], x.shape[-1]
    inv_freq = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = np.outer(np.arange(s, dtype=np.float64), inv_freq)  # [seq, hd/2]
    cos = np.concatenate([np.cos(ang)] * 2, axis=-1)
    sin = np.concatenate([np.sin(ang)] * 2, axis=-1)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    rotated = np.concatenate([-x2, x1], axis=-1)
    return x * cos + rotated * sin


def gpt(w, tokens, positions, n_layers=2, n_heads=4):
    """GPT-2: learned token + position embeddings, pre-LN blocks, tied logits."""
    x = w["wte"][tokens] + w["wpe"][positions]
    d = x.shape[-1]
    for i in range(n_layers):
        p = f"h.{i}."
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
        qkv = linear(h, w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"])
        q, k, v = (split_heads(qkv[..., j * d : (j + 1) * d], n_heads) for j in range(3))
        a = merge_heads(sdpa(q, k, v, causal=True))
        x = x + linear(a, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])
        h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
        h = gelu_tanh(linear(h, w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]))
        x = x + linear(h, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], 1e-5)
    return x @ w["wte"].T


def bert(w, x, mask, n_heads=4):
    """One BERT encoder layer (post-LN), additive mask [batch, 1, 1, seq]."""
    p = "encoder.layer.0."
    q, k, v = (split_heads(linear(x, w[f"{p}attention.self.{n}.weight"],
                                  w[f"{p}attention.self.{n}.bias"]), n_heads)
               for n in ("query", "key", "value"))
    a = merge_heads(sdpa(q, k, v, additive_mask=mask))
    a = linear(a, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"])
    x1 = layer_norm(a + x, w[p + "attention.output.LayerNorm.weight"],
                    w[p + "attention.output.LayerNorm.bias"], 1e-12)
    f = gelu_erf(linear(x1, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]))
    f = linear(f, w[p + "output.dense.weight"], w[p + "output.dense.bias"])
    return layer_norm(f + x1, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"],
                      1e-12)


def llama(w, x, n_heads=4, n_kv_heads=2):
    """One LLaMA decoder layer: RMSNorm, GQA with rotate-half rope, SwiGLU."""
    p = "model.layers.0."
    h = rms_norm(x, w[p + "input_layernorm.weight"], 1e-5)
    q = split_heads(linear(h, w[p + "self_attn.q_proj.weight"]), n_heads)
    k = split_heads(linear(h, w[p + "self_attn.k_proj.weight"]), n_kv_heads)
    v = split_heads(linear(h, w[p + "self_attn.v_proj.weight"]), n_kv_heads)
    a = sdpa(rotate_half_rope(q), rotate_half_rope(k), v, causal=True)
    x = x + linear(merge_heads(a), w[p + "self_attn.o_proj.weight"])
    h = rms_norm(x, w[p + "post_attention_layernorm.weight"], 1e-5)
    m = silu(linear(h, w[p + "mlp.gate_proj.weight"])) * linear(h, w[p + "mlp.up_proj.weight"])
    return x + linear(m, w[p + "mlp.down_proj.weight"])
