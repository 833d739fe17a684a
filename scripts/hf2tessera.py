#!/usr/bin/env python3
"""hf2tessera.py — Hugging Face `transformers` GPT-2, BERT and LLaMA models as
tessera graphs: builds the transformers model (random weights from a seed, or a
local pretrained folder), maps its state_dict onto the weight names that
benchmarks/model_graphs.py's builders use, builds the graph with those builders
and writes DIR/graph.json + DIR/weights.safetensors (+ DIR/decoder.json, the
key/value-cache graph, for gpt2 and llama). With --check it then runs
transformers and `tessera run` on the same tokens and compares the outputs.

    scripts/hf2tessera.py {gpt2,bert,llama} -o DIR [--config tiny|small|base|PATH.json]
                          [--seed N] [--dtype f32] [--from-pretrained DIR] [--init spread|hf]
                          [--check [--lengths 1,7,17,127] [--batch N] [--targets cpu,ref]]
                          [--generate N [--prompt 1,2,3]] [--tessera PATH]

Models: GPT2LMHeadModel (output logits), BertModel (output last_hidden_state;
the pooler is not part of the graph), LlamaForCausalLM (output logits).
A config the graph cannot express (rope_scaling, biases in LLaMA attention,
another activation, untied GPT-2 embeddings, ...) is refused with a one-line
error naming the setting (exit 2).

Random weights (--init spread, the default): the model is built by transformers
under torch.manual_seed(seed), then every parameter is redrawn from the seed so
that nothing is trivially 0 or 1: linear weights N(0, 1/fan_in), embeddings
N(0, 0.2^2), norm weights 1 + N(0, 0.1^2), biases N(0, 0.1^2). (--init hf keeps
transformers' own initialisation: std 0.02, norms exactly 1 and 0, which hides a
wrongly mapped norm weight or bias.)

--check: for each length L (default 1, 7, 17, 127, clipped to the model's
positions) and batch 2, random tokens (and for BERT a key mask that drops the
last (b mod 4)*L/8 keys of batch row b) go through transformers (torch, f32,
eval, no grad) and `tessera run --target T` for each target (cpu; also ref for
the tiny config). For each output: abs = max|tessera - transformers| and
rel = abs / max|transformers|. PASS when rel <= tolerance:
    f32 on cpu and ref: 1e-4;  f32 on cuda: 3e-2 (tf32 tensor cores).
--generate N (gpt2, llama): greedy decoding of a prompt (--prompt, else 5
random tokens), transformers generate(do_sample=False, max_new_tokens=N, eos
off) against `tessera generate DIR/decoder.json --target T`, token for token.
A difference passes only where transformers' own top-2 logit margin at that
step is within the tolerance times max|logit| (a near tie), and says so.
Exit 0 on PASS, 1 on FAIL, 2 on an error (a refused config, transformers missing).

Needs numpy, torch and transformers (e.g. /work/torchvenv/bin/python here).
"""
import argparse
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print(f"hf2tessera.py: error: {sys.executable} cannot import numpy (needs numpy, torch and transformers)",
          file=sys.stderr)
    sys.exit(2)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import model_graphs  # noqa: E402
import stio  # noqa: E402
from make_examples import GraphBuilder  # noqa: E402
from model_common import st_header  # noqa: E402

PROG = "hf2tessera.py"
FAMILIES = ("gpt2", "bert", "llama")
DTYPES = ("f32",)
# Per dtype and target: the largest rel = max|got-ref| / max|ref| that passes.
TOLERANCE = {("f32", "cpu"): 1e-4, ("f32", "ref"): 1e-4, ("f32", "cuda"): 3e-2}
OUTPUT = {"gpt2": "logits", "bert": "last_hidden_state", "llama": "logits"}

# Configurations in model_graphs' terms. tiny = model_graphs' tiny-*; base = the
# full-size ones (GPT-2 124M, BERT-base, a TinyLlama-1.1B-shaped LLaMA); small sits
# between, with a LLaMA that has rms eps 1e-6 and rope theta 500000 so the
# config-derived attributes are exercised, not just the builders' defaults.
CONFIGS = {
    "tiny": {f: dict(model_graphs.CONFIGS["tiny-" + f]) for f in FAMILIES},
    "small": {
        "gpt2": dict(family="gpt2", layers=3, d=192, heads=6, ffn=768, vocab=1000, positions=256),
        "bert": dict(family="bert", layers=3, d=192, heads=6, ffn=768, vocab=1000, positions=256),
        "llama": dict(family="llama", layers=3, d=192, heads=6, kv_heads=2, ffn=520, vocab=1000,
                      rms_eps=1e-6, rope_theta=500000.0),
    },
    "base": {f: dict(model_graphs.CONFIGS[f]) for f in FAMILIES},
}


class Refused(Exception):
    """A config or checkpoint the tessera graph cannot express, or bad usage: one line, exit 2."""


def fail(msg, code=2):
    print(f"{PROG}: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def note(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def import_transformers():
    # Keep stdout to the comparison: no progress bars or advisory warnings.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import torch
        import transformers
    except ImportError as e:
        raise Refused(f"{sys.executable} cannot import {e.name}: this needs torch and transformers "
                      "(pip install transformers)") from None
    return torch, transformers


# ---------------------------------------------------------------------------
# Hugging Face config <-> model_graphs config


def rope_of(hf):
    """(theta, scaling) of a LLaMA config: transformers 5 keeps them in
    rope_parameters, 4.x in rope_theta and rope_scaling."""
    params = getattr(hf, "rope_parameters", None)
    if isinstance(params, dict):
        kind = params.get("rope_type", params.get("type", "default"))
        extra = {k: v for k, v in params.items() if k not in ("rope_type", "type", "rope_theta")}
        scaling = None if kind == "default" and not extra else params
        return float(params.get("rope_theta", getattr(hf, "rope_theta", 10000.0))), scaling
    return float(getattr(hf, "rope_theta", 10000.0)), getattr(hf, "rope_scaling", None)


def hf_config(transformers, cfg):
    """The transformers config of a model_graphs-style cfg (dropout off)."""
    fam = cfg["family"]
    if fam == "gpt2":
        return transformers.GPT2Config(
            vocab_size=cfg["vocab"], n_positions=cfg["positions"], n_embd=cfg["d"], n_layer=cfg["layers"],
            n_head=cfg["heads"], n_inner=cfg["ffn"], activation_function="gelu_new", layer_norm_epsilon=1e-5,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True,
            # GPT-2's 50256 lies outside a small vocabulary (transformers warns)
            **({} if cfg["vocab"] > 50256 else {"bos_token_id": None, "eos_token_id": None}))
    if fam == "bert":
        return transformers.BertConfig(
            vocab_size=cfg["vocab"], hidden_size=cfg["d"], num_hidden_layers=cfg["layers"],
            num_attention_heads=cfg["heads"], intermediate_size=cfg["ffn"], hidden_act="gelu",
            max_position_embeddings=cfg["positions"], type_vocab_size=2, layer_norm_eps=1e-12,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    theta = float(cfg.get("rope_theta", 10000.0))
    kw = dict(vocab_size=cfg["vocab"], hidden_size=cfg["d"], intermediate_size=cfg["ffn"],
              num_hidden_layers=cfg["layers"], num_attention_heads=cfg["heads"],
              num_key_value_heads=cfg["kv_heads"], max_position_embeddings=cfg.get("positions", 2048),
              rms_norm_eps=float(cfg.get("rms_eps", 1e-5)), hidden_act="silu", attention_bias=False,
              mlp_bias=False, tie_word_embeddings=False)
    if isinstance(getattr(transformers.LlamaConfig(), "rope_parameters", None), dict):
        kw["rope_parameters"] = {"rope_type": "default", "rope_theta": theta}
    else:
        kw["rope_theta"] = theta
    return transformers.LlamaConfig(**kw)


def require(ok, what):
    if not ok:
        raise Refused(f"the tessera graph cannot express {what}")


def graph_config(family, hf):
    """(cfg for model_graphs' builder, attrs to set on its nodes) from a transformers
    config; refuses what the builder's graph does not compute."""
    mt = getattr(hf, "model_type", family)
    require(mt == family, f"model_type '{mt}' as {family}")
    if family == "gpt2":
        act = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}.get(hf.activation_function)
        require(act is not None, f"activation_function '{hf.activation_function}' (gelu_new, "
                                 "gelu_pytorch_tanh and gelu only)")
        require(getattr(hf, "scale_attn_weights", True), "scale_attn_weights=false (unscaled attention)")
        require(not getattr(hf, "scale_attn_by_inverse_layer_idx", False), "scale_attn_by_inverse_layer_idx")
        require(not getattr(hf, "add_cross_attention", False), "add_cross_attention")
        require(getattr(hf, "tie_word_embeddings", True), "tie_word_embeddings=false (the graph's logits use wte)")
        cfg = dict(family="gpt2", layers=hf.n_layer, d=hf.n_embd, heads=hf.n_head,
                   ffn=hf.n_inner or 4 * hf.n_embd, vocab=hf.vocab_size, positions=hf.n_positions)
        attrs = {"layernorm": {"eps": float(hf.layer_norm_epsilon)}, "gelu": {"approximate": act}}
    elif family == "bert":
        act = {"gelu": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh"}.get(hf.hidden_act)
        require(act is not None, f"hidden_act '{hf.hidden_act}' (gelu, gelu_new, gelu_pytorch_tanh only)")
        pet = getattr(hf, "position_embedding_type", "absolute") or "absolute"
        require(pet == "absolute", f"position_embedding_type '{pet}' (absolute only)")
        require(not getattr(hf, "is_decoder", False), "is_decoder (BERT as a causal decoder)")
        require(hf.type_vocab_size == 2, f"type_vocab_size {hf.type_vocab_size} (the builder's table has 2 rows)")
        cfg = dict(family="bert", layers=hf.num_hidden_layers, d=hf.hidden_size, heads=hf.num_attention_heads,
                   ffn=hf.intermediate_size, vocab=hf.vocab_size, positions=hf.max_position_embeddings)
        attrs = {"layernorm": {"eps": float(hf.layer_norm_eps)}, "gelu": {"approximate": act}}
    else:
        require(hf.hidden_act == "silu", f"hidden_act '{hf.hidden_act}' (silu only)")
        require(not getattr(hf, "attention_bias", False), "attention_bias=true")
        require(not getattr(hf, "mlp_bias", False), "mlp_bias=true")
        theta, scaling = rope_of(hf)
        require(not scaling, f"rope scaling {json.dumps(scaling)} (plain rope only)")
        hd = getattr(hf, "head_dim", None) or hf.hidden_size // hf.num_attention_heads
        require(hd * hf.num_attention_heads == hf.hidden_size,
                f"head_dim {hd} with {hf.num_attention_heads} heads and hidden_size {hf.hidden_size} "
                "(the builder's heads are hidden_size/heads wide)")
        kv = getattr(hf, "num_key_value_heads", None) or hf.num_attention_heads
        require(hf.num_attention_heads % kv == 0, f"{kv} key/value heads for {hf.num_attention_heads} heads")
        cfg = dict(family="llama", layers=hf.num_hidden_layers, d=hf.hidden_size, heads=hf.num_attention_heads,
                   kv_heads=kv, ffn=hf.intermediate_size, vocab=hf.vocab_size,
                   positions=hf.max_position_embeddings)
        attrs = {"rmsnorm": {"eps": float(hf.rms_norm_eps)}, "rope": {"theta": theta, "interleaved": False}}
    require(cfg["d"] % cfg["heads"] == 0, f"hidden size {cfg['d']} not a multiple of {cfg['heads']} heads")
    return cfg, attrs


# ---------------------------------------------------------------------------
# The transformers model and its weights


def make_model(torch, transformers, family, hf, seed, init):
    cls = {"gpt2": transformers.GPT2LMHeadModel, "bert": transformers.BertModel,
           "llama": transformers.LlamaForCausalLM}[family]
    torch.manual_seed(seed)
    model = cls(hf)
    if init == "spread":
        spread_init(torch, transformers, model, seed)
    return model.float().eval()


def load_pretrained(torch, transformers, family, folder):
    cls = {"gpt2": transformers.GPT2LMHeadModel, "bert": transformers.BertModel,
           "llama": transformers.LlamaForCausalLM}[family]
    if not os.path.isdir(folder):
        raise Refused(f"--from-pretrained {folder}: not a folder")
    try:
        # No dtype argument (torch_dtype in 4.x, dtype in 5): .float() below makes it f32.
        model = cls.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as e:
        raise Refused(f"--from-pretrained {folder}: {str(e).splitlines()[0]}") from None
    return model.float().eval()


def spread_init(torch, transformers, model, seed):
    """Redraws every parameter from seed (see the module docstring): each tensor once,
    so tied embeddings stay tied."""
    conv1d = getattr(getattr(transformers, "pytorch_utils", None), "Conv1D", None)
    if conv1d is None:
        from transformers.pytorch_utils import Conv1D as conv1d
    gen = torch.Generator().manual_seed(seed + 1)
    seen = set()

    def draw(p, std, mean=0.0):
        if p is None or id(p) in seen:
            return
        seen.add(id(p))
        with torch.no_grad():
            p.copy_(mean + std * torch.randn(p.shape, generator=gen, dtype=torch.float32))

    for m in model.modules():
        if isinstance(m, torch.nn.Embedding):
            draw(m.weight, 0.2)
        elif isinstance(m, torch.nn.Linear):
            draw(m.weight, m.in_features ** -0.5)
            draw(m.bias, 0.1)
        elif isinstance(m, conv1d):  # GPT-2's: weight [in, out]
            draw(m.weight, m.weight.shape[0] ** -0.5)
            draw(m.bias, 0.1)
        else:  # LayerNorm, LlamaRMSNorm: their own 1-D weight and bias
            own = dict(m.named_parameters(recurse=False))
            if own.get("weight") is not None and own["weight"].dim() == 1:
                draw(own["weight"], 0.1, 1.0)
            if own.get("bias") is not None and own["bias"].dim() == 1:
                draw(own["bias"], 0.1)
    left = [n for n, p in model.named_parameters() if id(p) not in seen]
    if left:
        raise Refused(f"spread init: no rule for parameters {left[:4]}")


def graph_weights(family, model):
    """{builder weight name: float32 array} from the model's state_dict."""
    sd = {k: v.detach().to("cpu").float().numpy() for k, v in model.state_dict().items()}
    out = {}
    for k, v in sd.items():
        name = k
        if family == "gpt2":
            if k == "lm_head.weight":  # tied to wte: the graph's logits read wte
                if "transformer.wte.weight" in sd and not np.array_equal(v, sd["transformer.wte.weight"]):
                    raise Refused("lm_head.weight differs from transformer.wte.weight (untied GPT-2)")
                continue
            name = k[len("transformer."):] if k.startswith("transformer.") else k
            if name in ("wte.weight", "wpe.weight"):
                name = name[:3]  # the builder's names for the two tables
            # Conv1D stores [in, out]; the builder's linear weights are [out, in].
            if re.search(r"\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$", name):
                v = v.T
        if family == "gpt2" and re.search(r"\.attn\.(masked_)?bias$", name):
            continue  # old transformers' causal-mask buffers
        out[name] = np.ascontiguousarray(v, dtype=np.float32)
    if family == "llama" and "lm_head.weight" not in out and "model.embed_tokens.weight" in out:
        out["lm_head.weight"] = out["model.embed_tokens.weight"]  # tied embeddings
    return out


class MappedBuilder(GraphBuilder):
    """GraphBuilder whose weights come from a transformers state_dict, under the
    names model_graphs' builders ask for, with their shapes checked."""

    def __init__(self, name, symbols, tensors):
        super().__init__(name, symbols, seed=0)
        self.tensors = tensors

    def weight(self, name, shape, std=None, mean=0.0):
        if name not in self.tensors:
            raise Refused(f"the checkpoint has no tensor for the graph's weight '{name}'")
        a = self.tensors[name]
        if tuple(a.shape) != tuple(int(s) for s in shape):
            raise Refused(f"weight '{name}': the checkpoint's shape {list(a.shape)} is not the graph's "
                          f"{[int(s) for s in shape]}")
        self.weights[name] = ("f32", a)
        return name


def set_attrs(g, attrs):
    """Sets config-derived attributes (eps, rope theta, gelu's approximation) on every
    node of those ops: the builders write the usual defaults."""
    for n in g.nodes:
        for k, v in attrs.get(n["op"], {}).items():
            n.setdefault("attrs", {})[k] = v


def has_cache_builder():
    return "cache" in inspect.signature(model_graphs.build_gpt2).parameters


def build(family, cfg, attrs, tensors, title, cache=False):
    builder = {"gpt2": model_graphs.build_gpt2, "bert": model_graphs.build_bert,
               "llama": model_graphs.build_llama}[family]
    symbols = {"batch": 1, "seq": 16}
    if cache:  # as model_graphs.build_graph's; tessera generate binds max_seq itself
        symbols = {"batch": 1, "seq": 1, "max_seq": min(int(cfg.get("positions", 2048)), 2048)}
    g = MappedBuilder(title, symbols, tensors)
    if cache:
        builder(g, cfg, cache=True)
    else:
        builder(g, cfg)
    set_attrs(g, attrs)
    return g


def write_weights(path, weights):
    """Streams {name: ("f32", array)} into a safetensors file, in the graph's order."""
    head = st_header([(k, "f32", a.shape) for k, (_, a) in weights.items()])
    with open(path + ".part", "wb") as f:
        f.write(head)
        for _, a in weights.values():
            np.ascontiguousarray(a, dtype="<f4").tofile(f)
    os.replace(path + ".part", path)


def convert(args, torch, transformers):
    """Builds the model and writes the files; returns (model, cfg)."""
    if args.from_pretrained:
        model = load_pretrained(torch, transformers, args.family, args.from_pretrained)
        hf, origin = model.config, f"pretrained {os.path.abspath(args.from_pretrained)}"
    else:
        if args.config in CONFIGS:
            hf = hf_config(transformers, CONFIGS[args.config][args.family])
        else:
            cls = {"gpt2": transformers.GPT2Config, "bert": transformers.BertConfig,
                   "llama": transformers.LlamaConfig}[args.family]
            try:
                hf = cls.from_json_file(args.config)
            except (OSError, ValueError) as e:
                raise Refused(f"--config {args.config}: {str(e).splitlines()[0]} "
                              "(tiny, small, base or a config.json)") from None
        origin = f"random weights, seed {args.seed}, init {args.init}"
        graph_config(args.family, hf)  # refuse before building a big model
        model = make_model(torch, transformers, args.family, hf, args.seed, args.init)
    cfg, attrs = graph_config(args.family, hf)
    tensors = graph_weights(args.family, model)
    title = (f"{args.family} from transformers {transformers.__version__} ({origin}): "
             f"{model_graphs.describe(cfg)}")
    g = build(args.family, cfg, attrs, tensors, title)
    unused = sorted(set(tensors) - set(g.weights))
    if unused:
        note(f"not in the graph: {', '.join(unused[:6])}{' ...' if len(unused) > 6 else ''}")
    os.makedirs(args.out, exist_ok=True)
    write_weights(os.path.join(args.out, "weights.safetensors"), g.weights)
    with open(os.path.join(args.out, "graph.json"), "w") as f:
        f.write(g.graph_json())
    wrote = ["graph.json", "weights.safetensors"]
    if args.family in ("gpt2", "llama"):
        if has_cache_builder():
            dg = build(args.family, cfg, attrs, tensors, title + " (decoder with a key/value cache)", cache=True)
            extra = sorted(set(dg.weights) - set(g.weights))
            if extra:
                raise Refused(f"decoder.json needs weights graph.json does not: {extra[:4]}")
            with open(os.path.join(args.out, "decoder.json"), "w") as f:
                f.write(dg.graph_json())
            wrote.append("decoder.json")
        else:
            # TODO(#7): model_graphs.build_gpt2/build_llama have no `cache` flag yet;
            # once they do, decoder.json is written here with no other change.
            note("decoder.json not written: model_graphs.build_gpt2 has no `cache` parameter yet")
    note(f"wrote {', '.join(os.path.join(args.out, w) for w in wrote)} ({model_graphs.describe(cfg)})")
    return model, cfg


# ---------------------------------------------------------------------------
# --check: transformers against tessera run


def find_tessera(given):
    if given:
        return given
    if os.environ.get("TESSERA"):
        return os.environ["TESSERA"]
    for rel in ("build/tessera", "build-lead/tessera"):
        p = os.path.join(ROOT, rel)
        if os.access(p, os.X_OK):
            return p
    raise Refused("no tessera binary: pass --tessera PATH or set TESSERA")


def hf_forward(torch, family, model, inputs):
    tok = torch.from_numpy(inputs[{"bert": "input_ids"}.get(family, "tokens")][1].astype(np.int64))
    pos = torch.arange(tok.shape[1]).expand(tok.shape)
    with torch.no_grad():
        if family == "bert":
            keep = torch.from_numpy((inputs["mask"][1][:, 0, 0, :] == 0).astype(np.int64))
            out = model(input_ids=tok, attention_mask=keep, token_type_ids=torch.zeros_like(tok),
                        position_ids=pos)
            return out.last_hidden_state.float().numpy()
        return model(input_ids=tok, position_ids=pos).logits.float().numpy()


def tessera_run(tessera, graph, inputs, target, batch, seq, tmp):
    src, dst = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
    stio.write(src, inputs)
    if os.path.exists(dst):
        os.remove(dst)
    cmd = [tessera, "run", graph, "--inputs", src, "--outputs", dst, "--target", target,
           "--bind", f"batch={batch}", "--bind", f"seq={seq}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
        return None, f"tessera run --target {target} exited {r.returncode}: {msg[-1] if msg else ''}"
    return stio.read(dst), None


def compare(got, ref):
    if got.shape != ref.shape:
        return None, None, f"shape {list(got.shape)} vs {list(ref.shape)}"
    if not np.all(np.isfinite(got)):
        return None, None, "non-finite values"
    d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    abs_err = float(d.max()) if d.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    return abs_err, abs_err / max(scale, 1e-30), None


def default_targets(args):
    """--targets, else cpu, and the reference interpreter too for the tiny config."""
    return args.targets or (["cpu", "ref"] if args.config == "tiny" and not args.from_pretrained else ["cpu"])


def check(args, torch, model, cfg):
    tessera = find_tessera(args.tessera)
    graph = os.path.join(args.out, "graph.json")
    targets = default_targets(args)
    limit = cfg.get("positions", 1 << 30)
    lengths = [n for n in args.lengths if n <= limit]
    if len(lengths) < len(args.lengths):
        note(f"lengths above the model's {limit} positions skipped")
    out_name = OUTPUT[args.family]
    ok = True
    print(f"{args.family} {args.config if not args.from_pretrained else args.from_pretrained}: "
          f"{model_graphs.describe(cfg)}, batch {args.batch}, dtype {args.dtype}; "
          f"pass when max|tessera-transformers|/max|transformers| <= "
          + ", ".join(f"{TOLERANCE[(args.dtype, t)]:g} ({t})" for t in targets))
    with tempfile.TemporaryDirectory(prefix="hf2tessera.") as tmp:
        for n, seq in enumerate(lengths):
            inputs = model_graphs.make_inputs(cfg, seq, args.batch, args.seed * 1000 + n)
            ref = hf_forward(torch, args.family, model, inputs)
            for t in targets:
                got, err = tessera_run(tessera, graph, inputs, t, args.batch, seq, tmp)
                if err is None:
                    abs_err, rel, err = compare(got[out_name][1], ref)
                if err is not None:
                    print(f"  seq {seq:4d}  {t:4s}  {out_name}: FAIL ({err})")
                    ok = False
                    continue
                tol = TOLERANCE[(args.dtype, t)]
                verdict = "PASS" if rel <= tol else "FAIL"
                ok &= verdict == "PASS"
                print(f"  seq {seq:4d}  {t:4s}  {out_name}: max abs {abs_err:.3e}  rel {rel:.3e}  "
                      f"(max|ref| {float(np.abs(ref).max()):.3g})  {verdict}", flush=True)
    return ok


# ---------------------------------------------------------------------------
# --generate: greedy decoding, token for token


def hf_generate(torch, model, prompt, n):
    ids = torch.tensor([prompt], dtype=torch.int64)
    gc = model.generation_config
    gc.eos_token_id = None  # a random model may emit the eos id; decode exactly n tokens
    gc.pad_token_id = 0
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=1,
                             max_new_tokens=n, min_new_tokens=n, generation_config=gc)
    return [int(t) for t in out[0, len(prompt):]]


def hf_margins(torch, model, prompt, tokens):
    """The top-1 minus top-2 logit of transformers at each generated step, to tell a
    real mismatch from a near tie."""
    ids = torch.tensor([prompt + tokens[:-1]], dtype=torch.int64) if tokens else None
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt) - 1:].float()
    top = torch.topk(logits, 2, dim=-1).values
    return (top[:, 0] - top[:, 1]).tolist(), float(logits.abs().max())


def tessera_generate(tessera, decoder, prompt, n, target):
    cmd = [tessera, "generate", decoder, "--tokens", ",".join(map(str, prompt)), "--max-new", str(n),
           "--target", target]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
        return None, f"tessera generate exited {r.returncode}: {msg[-1] if msg else ''}"
    # tools/generate.c prints "generated  N tokens: a b c ..." (the prompt on its own line).
    for line in r.stdout.splitlines():
        if line.startswith("generated") and ":" in line:
            return [int(x) for x in line.split(":", 1)[1].split()], None
    return None, f"tessera generate printed no tokens: {r.stdout.strip()[-200:]!r}"


def check_generate(args, torch, model, cfg):
    tessera = find_tessera(args.tessera)
    decoder = os.path.join(args.out, "decoder.json")
    if not os.path.exists(decoder):
        print("  generate: SKIP (no decoder.json: model_graphs has no cache=True builder yet)")
        return True
    help_text = subprocess.run([tessera, "generate", "--help"], capture_output=True, text=True)
    if help_text.returncode != 0 and "unknown verb" in (help_text.stderr + help_text.stdout):
        print(f"  generate: SKIP ({tessera} has no generate verb)")
        return True
    prompt = args.prompt or [int(x) for x in np.random.default_rng(args.seed).integers(0, cfg["vocab"], 5)]
    if len(prompt) + args.generate > cfg.get("positions", 1 << 30):
        raise Refused(f"--generate: the prompt plus {args.generate} tokens pass the model's {cfg['positions']} positions")
    if not all(0 <= t < cfg["vocab"] for t in prompt):
        raise Refused(f"--prompt: token ids must lie in 0..{cfg['vocab'] - 1}")
    want = hf_generate(torch, model, prompt, args.generate)
    ok = True
    for t in default_targets(args):
        got, err = tessera_generate(tessera, decoder, prompt, args.generate, t)
        if err:
            print(f"  generate {t}: FAIL ({err})")
            ok = False
            continue
        if got == want:
            print(f"  generate {t}: prompt {prompt}, {len(want)} new tokens equal: {want}  PASS")
            continue
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        margins, scale = hf_margins(torch, model, prompt, want)
        m = margins[first] if first < len(margins) else float("nan")
        # A near tie in transformers' own logits is within f32 noise: say so, not FAIL.
        tie = first < len(margins) and m <= TOLERANCE[(args.dtype, t)] * scale and len(got) == len(want)
        print(f"  generate {t}: differs at new token {first}: tessera {got} vs transformers {want}; "
              f"transformers' top-2 margin there {m:.3g} (max|logit| {scale:.3g})  "
              f"{'PASS (near tie)' if tie else 'FAIL'}")
        ok &= tie
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("family", choices=FAMILIES)
    ap.add_argument("-o", "--out", required=True, help="folder for graph.json, weights.safetensors, decoder.json")
    ap.add_argument("--config", help="tiny, small, base or a transformers config.json (tiny)")
    ap.add_argument("--seed", type=int, default=0, help="weights and inputs seed (0)")
    ap.add_argument("--dtype", default="f32", help="model dtype: f32 only for now")
    ap.add_argument("--from-pretrained", metavar="DIR", help="load a local pretrained folder instead")
    ap.add_argument("--init", choices=("spread", "hf"), default="spread",
                    help="random weights: spread (default) or transformers' own initialisation")
    ap.add_argument("--check", action="store_true", help="compare tessera run with transformers")
    ap.add_argument("--lengths", default="1,7,17,127", help="sequence lengths for --check (1,7,17,127)")
    ap.add_argument("--batch", type=int, default=2, help="batch for --check (2)")
    ap.add_argument("--targets", help="tessera targets for --check (cpu, plus ref for tiny)")
    ap.add_argument("--generate", type=int, metavar="N", default=0,
                    help="also compare N greedy tokens with tessera generate (gpt2, llama)")
    ap.add_argument("--prompt", help="prompt tokens for --generate (5 random ones)")
    ap.add_argument("--tessera", help="tessera binary ($TESSERA, build/tessera, build-lead/tessera)")
    args = ap.parse_args(argv)
    try:
        if args.dtype not in DTYPES:
            raise Refused(f"--dtype {args.dtype}: only f32 (model_graphs' builders write f32 graphs; "
                          "BERT's mask input is f32)")
        if args.from_pretrained and args.config:
            raise Refused("--config and --from-pretrained exclude each other")
        args.config = args.config or "tiny"
        try:
            args.lengths = [int(x) for x in args.lengths.split(",") if x]
            args.prompt = [int(x) for x in args.prompt.split(",")] if args.prompt else None
        except ValueError:
            raise Refused("--lengths and --prompt take comma-separated integers") from None
        if any(n < 1 for n in args.lengths) or args.batch < 1:
            raise Refused("--lengths and --batch must be positive")
        if args.generate and args.family == "bert":
            raise Refused("--generate: BERT is an encoder (gpt2 and llama only)")
        if args.targets:
            args.targets = args.targets.split(",")
            bad = [t for t in args.targets if (args.dtype, t) not in TOLERANCE]
            if bad:
                raise Refused(f"--targets: unknown target {bad[0]} (cpu, ref, cuda)")
        if args.config not in CONFIGS and not args.from_pretrained and not os.path.isfile(args.config):
            raise Refused(f"--config {args.config}: not tiny, small, base or an existing config.json")
        torch, transformers = import_transformers()
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
        model, cfg = convert(args, torch, transformers)
        ok = True
        if args.check:
            ok = check(args, torch, model, cfg)
        if args.generate:
            ok &= check_generate(args, torch, model, cfg)
    except Refused as e:
        fail(str(e))
    if args.check or args.generate:
        print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
