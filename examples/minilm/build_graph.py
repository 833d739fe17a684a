#!/usr/bin/env python3
"""build_graph.py — writes the tessera graph of all-MiniLM-L6-v2 from the
checkpoint that scripts/fetch_pretrained.py caches: OUT/graph.json and
OUT/weights.safetensors (87 MB, the checkpoint's f32 tensors under their
Hugging Face BertModel names).

    examples/minilm/build_graph.py [-o OUT] [--model-dir DIR]

OUT defaults to CACHE/all-minilm-l6-v2.tessera (CACHE: $TESSERA_PRETRAINED, else
~/.cache/tessera/pretrained), where similarity.py looks. The graph is the BERT
encoder, attention-mask-aware mean pooling and L2 normalization, all as graph
ops; inputs input_ids, attention_mask (i32 [batch, seq]),
outputs sentence_embedding [batch, 384] and last_hidden_state [batch, seq, 384].
Exit status 0, 1 on a failure (one line), 2 on bad usage.
"""
import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import minilm  # noqa: E402


def main():
    ap = argparse.ArgumentParser(prog="build_graph.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", help="output folder (default: CACHE/all-minilm-l6-v2.tessera)")
    ap.add_argument("--model-dir", help="the checkpoint folder (default: the cached all-minilm-l6-v2)")
    args = ap.parse_args()
    try:
        mdir = args.model_dir or minilm.model_dir()
        out = args.out or minilm.default_graph_dir()
        path = minilm.build_graph(mdir, out)
    except minilm.MiniLMError as e:
        print(f"build_graph.py: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"build_graph.py: error: {e.filename}: {e.strerror}", file=sys.stderr)
        return 1
    print(f"build_graph.py: wrote {path} and {os.path.join(os.path.dirname(path), 'weights.safetensors')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
