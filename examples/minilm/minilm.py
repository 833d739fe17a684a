"""minilm.py — all-MiniLM-L6-v2 (sentence-transformers) in tessera: what
build_graph.py, similarity.py and tests/pretrained/check_pretrained.py share.

  - BERT WordPiece tokenization: the `tokenizers` package reading tokenizer.json
    when it imports, else WordPiece below (a re-implementation of tokenizers'
    BertNormalizer + BertPreTokenizer + WordPiece, checked against it by the test);
  - safetensors reading (numpy memmap) and writing;
  - the tessera graph: BERT encoder + attention-mask-aware mean pooling + L2
    normalization, all as graph ops (build_graph);
  - the padded inputs of a batch of token-id lists, and `tessera run`.

Only the standard library and numpy (plus `tokenizers` when present).
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

try:
    import numpy as np
except ImportError:
    # Started by a python3 without numpy (the scripts' shebang): use the
    # project's venv (scripts/setup.sh makes build/venv) when there is one.
    py = os.path.join(ROOT, "build", "venv", "bin", "python3")
    if __name__ != "__main__" and os.path.exists(py) and not os.environ.get("TESSERA_MINILM_REEXEC"):
        os.environ["TESSERA_MINILM_REEXEC"] = "1"
        os.execv(py, [py, os.path.abspath(sys.argv[0])] + sys.argv[1:])
    sys.exit(f"{os.path.basename(sys.argv[0])}: error: {sys.executable} has no numpy: run scripts/setup.sh "
             "(it makes build/venv) or use a Python that has numpy")

MODEL = "all-minilm-l6-v2"  # scripts/fetch_pretrained.py's name for it
MAX_SEQ = 256               # sentence_bert_config.json's max_seq_length (tokens, specials included)
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class MiniLMError(Exception):
    """A failure with a one-line message."""


def fetch_module():
    """scripts/fetch_pretrained.py as a module (cache location, require())."""
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        import fetch_pretrained
    finally:
        sys.path.pop(0)
    return fetch_pretrained


def model_dir(name=MODEL):
    """The cached model's folder, or MiniLMError saying to run fetch_pretrained.py."""
    fp = fetch_module()
    try:
        return fp.require(name)
    except fp.FetchError as e:
        raise MiniLMError(str(e))


# ---------------------------------------------------------------------------
# Tokenization


def _is_control(c):
    # tokenizers' BertNormalizer: the "Other" characters except \t \n \r, and
    # (unlike Google's BERT code) except unassigned ones (Cn), which it keeps.
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")


def _is_whitespace(c):
    # Rust's char::is_whitespace once controls are gone: Zs, Zl, Zp and \t \n \r.
    return c in "\t\n\r " or unicodedata.category(c) in ("Zs", "Zl", "Zp")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _is_punctuation(c):
    # ASCII punctuation (which counts $ + < = > ^ ` | ~) or Unicode P*.
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


class WordPiece:
    """BERT uncased WordPiece from vocab.txt, as tokenizers' BertNormalizer
    (clean text, space around CJK, strip accents, lowercase), BertPreTokenizer
    (split on whitespace and punctuation) and WordPiece (greedy longest match,
    "##" continuations, [UNK] for a word with no split or over 100 characters).
    Special tokens written in the text ("[SEP]") are kept whole, as tokenizers
    does for its added tokens."""

    name = "built-in WordPiece (vocab.txt)"

    def __init__(self, vocab_path):
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]

    def normalize(self, text):
        out = []
        for c in text:
            cp = ord(c)
            if cp == 0 or cp == 0xFFFD or _is_control(c):
                continue
            if _is_whitespace(c):
                out.append(" ")
            elif _is_cjk(cp):
                out.append(f" {c} ")
            else:
                out.append(c)
        text = unicodedata.normalize("NFD", "".join(out))
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        # Character by character, as tokenizers does: no final-sigma rule (Σ -> σ).
        return "".join(c.lower() for c in text)

    def pre_tokenize(self, text):
        words = []
        for chunk in text.split(" "):
            word = []
            for c in chunk:
                if _is_punctuation(c):
                    if word:
                        words.append("".join(word))
                        word = []
                    words.append(c)
                elif not _is_whitespace(c):
                    word.append(c)
            if word:
                words.append("".join(word))
        return words

    def word_ids(self, word):
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return ids

    def tokens(self, text):
        """Ids of the text without [CLS]/[SEP]."""
        ids, rest = [], text
        while rest:
            # The earliest special token in the raw text, matched before normalizing.
            hits = [(rest.find(s), s) for s in SPECIALS if s in rest]
            pos, special = min(hits) if hits else (len(rest), None)
            for word in self.pre_tokenize(self.normalize(rest[:pos])):
                ids.extend(self.word_ids(word))
            if special is None:
                break
            ids.append(self.vocab[special])
            rest = rest[pos + len(special):]
        return ids

    def encode(self, text, max_len=MAX_SEQ):
        """[CLS] ids [SEP], truncated to max_len tokens in all."""
        return [self.cls] + self.tokens(text)[:max_len - 2] + [self.sep]


class HFTokenizer:
    """The `tokenizers` package on tokenizer.json (its fixed 128-token padding
    and truncation replaced by sentence-transformers' 256-token truncation)."""

    name = "tokenizers (tokenizer.json)"

    def __init__(self, path):
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(path)
        self.tok.no_padding()
        self.tok.enable_truncation(MAX_SEQ)

    def encode(self, text, max_len=MAX_SEQ):
        if max_len != MAX_SEQ:
            self.tok.enable_truncation(max_len)
        ids = self.tok.encode(text).ids
        if max_len != MAX_SEQ:
            self.tok.enable_truncation(MAX_SEQ)
        return ids


def load_tokenizer(mdir, which="auto"):
    """which: "auto" (tokenizers when it imports), "tokenizers" or "wordpiece"."""
    if which in ("auto", "tokenizers"):
        try:
            return HFTokenizer(os.path.join(mdir, "tokenizer.json"))
        except ImportError:
            if which == "tokenizers":
                raise MiniLMError("the tokenizers package is not installed (pip install tokenizers)")
    return WordPiece(os.path.join(mdir, "vocab.txt"))


# ---------------------------------------------------------------------------
# safetensors

_ST_NP = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "I64": "<i8", "BOOL": "u1"}
_NP_ST = {"float32": "F32", "float16": "F16", "int32": "I32", "int64": "I64", "bool": "BOOL"}


def read_safetensors(path):
    """{name: read-only numpy array (a view on a memmap)}."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
    except (OSError, struct.error, ValueError) as e:
        raise MiniLMError(f"{path}: not a readable safetensors file ({e})")
    header.pop("__metadata__", None)
    mm = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        out[name] = mm[a:b].view(_ST_NP[t["dtype"]]).reshape(t["shape"])
    return out


def write_safetensors(path, tensors):
    """tensors: {name: numpy array}; written to PATH.part, then renamed."""
    header, offset = {}, 0
    arrays = []
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        header[name] = {"dtype": _NP_ST[a.dtype.name], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        arrays.append(a)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".part", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for a in arrays:
            f.write(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    os.replace(path + ".part", path)


# ---------------------------------------------------------------------------
# The graph


def load_config(mdir):
    with open(os.path.join(mdir, "config.json")) as f:
        c = json.load(f)
    if c.get("model_type") != "bert" or c.get("hidden_act") != "gelu" \
            or c.get("position_embedding_type", "absolute") != "absolute":
        raise MiniLMError(f"{mdir}/config.json: expected a BERT with gelu and absolute positions")
    return c


def graph_builder_class():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        from make_examples import GraphBuilder
    finally:
        sys.path.pop(0)

    class Builder(GraphBuilder):
        """GraphBuilder with real weights (taken from the checkpoint by name)
        and inline scalar constants."""

        def __init__(self, name, symbols, params):
            super().__init__(name, symbols, seed=0)
            self.params = params
            self.scalars = []

        def weight(self, name, shape=None, std=None, mean=0.0):
            w = self.params[name]
            if shape is not None and tuple(w.shape) != tuple(shape):
                raise MiniLMError(f"weight {name} has shape {list(w.shape)}, expected {list(shape)}")
            self.weights[name] = ("f32", w)
            return name

        def scalar(self, name, value):
            """An inline f32 constant of shape []."""
            self.scalars.append({"name": name, "dtype": "f32", "shape": [], "data": [float(value)]})
            return name

        def graph_json(self):
            """The graph file's text, one input, constant or node per line (written
            here rather than by GraphBuilder, which knows no constants of ours)."""
            def block(key, items):
                rows = ",\n".join("    " + json.dumps(v, separators=(", ", ": ")) for v in items)
                return f'  "{key}": [\n{rows}\n  ]'
            parts = ['  "format": "tessera.graph"', '  "version": 1', f'  "name": {json.dumps(self.name)}',
                     '  "weights": "weights.safetensors"', f'  "symbols": {json.dumps(self.symbols)}',
                     block("inputs", self.inputs), block("constants", self.scalars), block("nodes", self.nodes),
                     f'  "outputs": {json.dumps(self.outputs)}']
            return "{\n" + ",\n".join(parts) + "\n}\n"

    return Builder


def build_graph(mdir, out_dir):
    """Writes OUT_DIR/graph.json and OUT_DIR/weights.safetensors for the model in
    MDIR (config.json + model.safetensors). Returns the graph's path.

    Inputs: input_ids and attention_mask (1 = token, 0 = padding), i32
    [batch, seq]; the positions 0..seq-1 are an iota in the graph.
    Outputs: sentence_embedding f32 [batch, hidden] (mean of the unmasked
    token states, L2-normalized: sentence-transformers' Pooling + Normalize)
    and last_hidden_state f32 [batch, seq, hidden]."""
    c = load_config(mdir)
    params = read_safetensors(os.path.join(mdir, "model.safetensors"))
    # Checkpoints saved from BertModel have bare names; from a task model, "bert.".
    if "embeddings.word_embeddings.weight" not in params:
        params = {k[5:]: v for k, v in params.items() if k.startswith("bert.")}
    params = {k: v for k, v in params.items() if v.dtype == np.float32}
    d, nh, f, eps = c["hidden_size"], c["num_attention_heads"], c["intermediate_size"], c["layer_norm_eps"]
    hd = d // nh
    g = graph_builder_class()(
        f"all-MiniLM-L6-v2 (sentence-transformers): BERT, {c['num_hidden_layers']} layers, d {d}, "
        f"{nh} heads, ffn {f}, vocab {c['vocab_size']}; mean pooling + L2 normalize "
        f"(examples/minilm/build_graph.py)", {"batch": 1, "seq": 16}, params)

    def layernorm(name, x, prefix):
        return g.node(name, "layernorm", [x, g.weight(prefix + ".weight", (d,)), g.weight(prefix + ".bias", (d,))],
                      {"eps": eps})

    ids = g.input("input_ids", "i32", ["batch", "seq"])
    positions = g.node("position_ids", "iota", [], {"shape": ["batch", "seq"], "axis": 1})
    amask = g.input("attention_mask", "i32", ["batch", "seq"])
    one, big = g.scalar("one", 1.0), g.scalar("mask_scale", 1e9)
    tiny, norm_eps = g.scalar("count_min", 1e-9), g.scalar("norm_min", 1e-12)

    # Additive key mask [batch, 1, 1, seq]: 0 for a token, -1e9 for padding
    # (exp underflows to exactly 0, as with BertModel's finfo.min).
    maskf = g.node("mask.f32", "cast", [amask], {"to": "f32"})
    m4 = g.node("mask.bhqk", "reshape", [maskf], {"shape": ["batch", 1, 1, "seq"]})
    key_bias = g.node("mask.bias", "mul", [g.node("mask.minus1", "sub", [m4, one]), big])

    e = "embeddings."
    x = g.node("embed.sum", "add", [
        g.node("embed.words", "gather", [g.weight(e + "word_embeddings.weight", (c["vocab_size"], d)), ids]),
        g.node("embed.positions", "gather",
               [g.weight(e + "position_embeddings.weight", (c["max_position_embeddings"], d)), positions])])
    # token_type_ids are all 0 for one sentence: row 0 of the type table.
    tt = g.node("embed.type0", "slice", [g.weight(e + "token_type_embeddings.weight", (c["type_vocab_size"], d))],
                {"axis": 0, "start": 0, "end": 1})
    x = layernorm("embed.layernorm", g.node("embed", "add", [x, tt]), e + "LayerNorm")
    for i in range(c["num_hidden_layers"]):
        p, h = f"encoder.layer.{i}.", f"l{i}."
        proj = {}
        for part in ("query", "key", "value"):
            y = g.linear(f"{h}attn.{part}", x, g.weight(f"{p}attention.self.{part}.weight", (d, d)),
                         g.weight(f"{p}attention.self.{part}.bias", (d,)))
            proj[part] = g.heads(f"{h}attn.{part}_heads", y, nh, hd)
        a = g.node(h + "attn.core", "attention", [proj["query"], proj["key"], proj["value"], key_bias])
        a = g.linear(h + "attn.output", g.merge_heads(h + "attn.merge", a, d),
                     g.weight(p + "attention.output.dense.weight", (d, d)),
                     g.weight(p + "attention.output.dense.bias", (d,)))
        x1 = layernorm(h + "attn.layernorm", g.node(h + "attn.residual", "add", [a, x]),
                       p + "attention.output.LayerNorm")
        m = g.linear(h + "ffn.intermediate", x1, g.weight(p + "intermediate.dense.weight", (f, d)),
                     g.weight(p + "intermediate.dense.bias", (f,)))
        m = g.linear(h + "ffn.output", g.node(h + "ffn.gelu", "gelu", [m]),
                     g.weight(p + "output.dense.weight", (d, f)), g.weight(p + "output.dense.bias", (d,)))
        x = layernorm(h + "ffn.layernorm" if i + 1 < c["num_hidden_layers"] else "last_hidden_state",
                      g.node(h + "ffn.residual", "add", [m, x1]), p + "output.LayerNorm")

    # Mean pooling over the tokens the mask keeps: sum(h * m) / max(sum(m), 1e-9).
    m3 = g.node("pool.mask", "reshape", [maskf], {"shape": ["batch", "seq", 1]})
    summed = g.node("pool.sum", "reduce_sum", [g.node("pool.masked", "mul", [x, m3])], {"axes": [1]})
    count = g.node("pool.count", "maximum",
                   [g.node("pool.count_raw", "reduce_sum", [m3], {"axes": [1]}), tiny])
    mean = g.node("pool.mean", "div", [summed, count])
    # L2 normalize: v / max(|v|, 1e-12) (torch.nn.functional.normalize).
    sq = g.node("norm.sumsq", "reduce_sum", [g.node("norm.sq", "mul", [mean, mean])], {"axes": [1], "keepdims": True})
    nrm = g.node("norm.len", "maximum", [g.node("norm.sqrt", "sqrt", [sq]), norm_eps])
    g.node("sentence_embedding", "div", [mean, nrm])
    g.outputs = ["sentence_embedding", "last_hidden_state"]

    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "weights.safetensors"), {k: w for k, (_, w) in g.weights.items()})
    path = os.path.join(out_dir, "graph.json")
    with open(path + ".part", "w") as fh:
        fh.write(g.graph_json())
    os.replace(path + ".part", path)
    return path


def default_graph_dir():
    """Where similarity.py keeps the built graph: beside the cached model."""
    return os.path.join(fetch_module().cache_root(), MODEL + ".tessera")


def ensure_graph(graph_dir=None):
    """The graph's path, building it from the cached model when it is missing."""
    graph_dir = graph_dir or default_graph_dir()
    path = os.path.join(graph_dir, "graph.json")
    weights = os.path.join(graph_dir, "weights.safetensors")
    # graph.json is written last, so its presence means a finished build; one
    # older than this file was written by an older build_graph.
    if not (os.path.isfile(path) and os.path.isfile(weights)) \
            or os.path.getmtime(path) < os.path.getmtime(os.path.abspath(__file__)):
        build_graph(model_dir(), graph_dir)
    return path


# ---------------------------------------------------------------------------
# Running


def batch_inputs(id_lists):
    """Right-padded input_ids (pad id 0) and attention_mask, i32 [n, longest]."""
    n, s = len(id_lists), max(len(t) for t in id_lists)
    ids = np.zeros((n, s), np.int32)
    mask = np.zeros((n, s), np.int32)
    for i, t in enumerate(id_lists):
        ids[i, :len(t)] = t
        mask[i, :len(t)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def find_tessera(given=None):
    import shutil
    for cand in (given, os.environ.get("TESSERA"), shutil.which("tessera"),
                 os.path.join(ROOT, "build", "tessera")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise MiniLMError("cannot find the tessera binary: build it (cmake -B build ... && ninja -C build tessera), "
                      "or pass --tessera PATH / set TESSERA")


def run_tessera(tessera, graph, inputs, target="cpu", extra=()):
    """Runs `tessera run` on the inputs ({name: array}); {output name: array}."""
    with tempfile.TemporaryDirectory(prefix="tessera-minilm-") as tmp:
        fin, fout = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
        write_safetensors(fin, inputs)
        cmd = [tessera, "run", graph, "--inputs", fin, "--outputs", fout, "--target", target, *extra]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            msg = (p.stderr.strip() or p.stdout.strip() or f"exit {p.returncode}").splitlines()[-1]
            raise MiniLMError(f"tessera run --target {target} failed: {msg}")
        return {k: np.array(v) for k, v in read_safetensors(fout).items()}
