#!/usr/bin/env python3
"""similarity.py — sentence similarity with all-MiniLM-L6-v2 run by tessera:
embeds each sentence (one batch, one `tessera run`) and prints the cosine
similarity of every pair.

    examples/minilm/similarity.py "sentence a" "sentence b" [...]
        [--target cpu|ref] [--tessera PATH] [--graph-dir DIR] [--tokenizer auto|tokenizers|wordpiece]

Needs the model in the cache (scripts/fetch_pretrained.py all-minilm-l6-v2); the
tessera graph is built from it on first use into CACHE/all-minilm-l6-v2.tessera
(examples/minilm/build_graph.py). The tessera binary: --tessera, else $TESSERA,
else `tessera` on PATH, else build/tessera. Exit status 0, 1 on a failure (one
line), 2 on bad usage.
"""
import argparse
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import minilm  # noqa: E402


def table(sentences, emb):
    sim = emb @ emb.T  # the embeddings have length 1: dot product = cosine
    n = len(sentences)
    lines = [f"  [{i + 1}] {s}" for i, s in enumerate(sentences)]
    lines.append("")
    lines.append("cosine similarity")
    lines.append("      " + "".join(f"{f'[{j + 1}]':>8}" for j in range(n)))
    for i in range(n):
        lines.append(f"{f'[{i + 1}]':>6}" + "".join(f"{sim[i, j]:8.3f}" for j in range(n)))
    if n > 2:
        pairs = sorted(((sim[i, j], i, j) for i in range(n) for j in range(i + 1, n)), reverse=True)
        s, i, j = pairs[0]
        lines.append(f"most similar: [{i + 1}] and [{j + 1}] ({s:.3f})")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(prog="similarity.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("sentences", nargs="+", metavar="SENTENCE")
    ap.add_argument("--target", choices=("cpu", "ref"), default="cpu",
                    help="cpu: LLVM-compiled kernels (default); ref: the reference interpreter")
    ap.add_argument("--tessera", help="the tessera binary")
    ap.add_argument("--graph-dir", help="where the graph is (built there when missing; "
                                        "default CACHE/all-minilm-l6-v2.tessera)")
    ap.add_argument("--tokenizer", choices=("auto", "tokenizers", "wordpiece"), default="auto",
                    help="auto: the tokenizers package when installed, else the built-in WordPiece")
    args = ap.parse_args()
    if len(args.sentences) < 2:
        ap.error("give at least two sentences")
    try:
        tessera = minilm.find_tessera(args.tessera)
        tok = minilm.load_tokenizer(minilm.model_dir(), args.tokenizer)
        graph = minilm.ensure_graph(args.graph_dir)
        ids = [tok.encode(s) for s in args.sentences]
        t0 = time.monotonic()
        out = minilm.run_tessera(tessera, graph, minilm.batch_inputs(ids), args.target)
        took = time.monotonic() - t0
    except minilm.MiniLMError as e:
        print(f"similarity.py: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"similarity.py: error: {e.filename}: {e.strerror}", file=sys.stderr)
        return 1
    print(f"all-MiniLM-L6-v2 on tessera --target {args.target}: {len(ids)} sentences, "
          f"{max(map(len, ids))} tokens at most, {took:.2f} s (tokenizer: {tok.name})")
    print(table(args.sentences, out["sentence_embedding"].astype("float64")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
