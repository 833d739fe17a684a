#!/usr/bin/env python3
"""check_hf.py — tessera against Hugging Face `transformers` on GPT-2, BERT and
LLaMA: scripts/hf2tessera.py --check over the three families at the tiny and
small configs, a local pretrained folder (save_pretrained, then
--from-pretrained), config.json files (multi-query LLaMA with tied embeddings,
BERT with tanh GELU), configs the graph cannot express (refused, exit 2), and,
where `tessera generate` exists, greedy generation token for token.

    tests/hf/check_hf.py [--tessera PATH] [--targets cpu,ref] [--quick]

Meant to run where transformers is importable (the GPU machine's python3, or
/work/torchvenv/bin/python). Without it: a one-line message and exit 2.
Exit 0 when every case passes, 1 otherwise. The tolerances are hf2tessera's:
max|tessera - transformers| / max|transformers| <= 1e-4 for f32 on cpu and ref.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
HF2TESSERA = os.path.join(ROOT, "scripts", "hf2tessera.py")
PROG = "check_hf.py"


def run(label, args, expect_rc=0, expect_text=None):
    """Runs hf2tessera.py with args; True when its exit status (and message) is the expected one."""
    r = subprocess.run([sys.executable, HF2TESSERA] + args, capture_output=True, text=True)
    body = (r.stdout + r.stderr).strip()
    ok = r.returncode == expect_rc and (expect_text is None or expect_text in body)
    print(f"== {label}: {'ok' if ok else 'FAILED'} (exit {r.returncode}, expected {expect_rc})", flush=True)
    keep = [ln for ln in body.splitlines() if not ln.startswith("[transformers]")]
    print("\n".join("   " + ln for ln in keep), flush=True)
    if not ok and expect_text is not None and expect_text not in body:
        print(f"   expected the message to contain {expect_text!r}")
    return ok


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--tessera", help="tessera binary (hf2tessera's default search otherwise)")
    ap.add_argument("--targets", help="tessera targets (hf2tessera's default: cpu, plus ref for tiny)")
    ap.add_argument("--quick", action="store_true", help="tiny configs only")
    ap.add_argument("--generate", type=int, default=8, help="greedy tokens to compare (8; 0: none)")
    args = ap.parse_args()
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # inherited by hf2tessera.py too
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import torch
        import transformers
    except ImportError as e:
        print(f"{PROG}: {sys.executable} cannot import {e.name}: transformers and torch are needed "
              "(the test is registered only where they are)", file=sys.stderr)
        return 2
    print(f"{PROG}: transformers {transformers.__version__}, torch {torch.__version__}", flush=True)
    common = (["--tessera", args.tessera] if args.tessera else []) + (["--targets", args.targets]
                                                                     if args.targets else [])
    results = []
    with tempfile.TemporaryDirectory(prefix="check_hf.") as tmp:
        def out(name):
            return ["-o", os.path.join(tmp, name)]

        # Random weights through the three families' builders.
        for config in ("tiny",) if args.quick else ("tiny", "small"):
            for fam, seed in (("gpt2", 11), ("bert", 12), ("llama", 13)):
                gen = ["--generate", str(args.generate)] if args.generate and fam != "bert" else []
                results.append(run(f"{fam} {config}", [fam, "--config", config, "--seed", str(seed), "--check"]
                                   + gen + out(f"{fam}-{config}") + common))

        # transformers' own initialisation (std 0.02, norms 1 and 0).
        results.append(run("llama tiny --init hf", ["llama", "--init", "hf", "--check", "--lengths", "7,17"]
                           + out("llama-hfinit") + common))

        # A pretrained folder: save_pretrained of random models, read back.
        for fam, cls, cfg in (
                ("gpt2", transformers.GPT2LMHeadModel, transformers.GPT2Config(
                    vocab_size=300, n_positions=64, n_embd=48, n_layer=2, n_head=3, bos_token_id=None,
                    eos_token_id=None)),
                ("llama", transformers.LlamaForCausalLM, transformers.LlamaConfig(
                    vocab_size=300, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=1, tie_word_embeddings=True,
                    rms_norm_eps=1e-6))):
            torch.manual_seed(5)
            folder = os.path.join(tmp, f"pretrained-{fam}")
            cls(cfg).save_pretrained(folder)
            results.append(run(f"{fam} --from-pretrained (save_pretrained of a random model)",
                               [fam, "--from-pretrained", folder, "--check", "--lengths", "1,17,63"]
                               + (["--generate", str(args.generate)] if args.generate else [])
                               + out(f"{fam}-pre") + common))

        # config.json files: what `--config PATH` reads.
        def config_file(name, d):
            p = os.path.join(tmp, name)
            with open(p, "w") as f:
                json.dump(d, f)
            return p
        llama = dict(model_type="llama", vocab_size=700, hidden_size=96, intermediate_size=200,
                     num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=1, rms_norm_eps=1e-6,
                     rope_theta=1000000.0, max_position_embeddings=512, tie_word_embeddings=True,
                     hidden_act="silu")
        results.append(run("llama config.json (multi-query, tied, theta 1e6)",
                           ["llama", "--config", config_file("llama.json", llama), "--check"]
                           + (["--generate", str(args.generate)] if args.generate else [])
                           + out("llama-json") + common))
        bert = dict(model_type="bert", vocab_size=400, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=128, hidden_act="gelu_new", layer_norm_eps=1e-7,
                    max_position_embeddings=160, type_vocab_size=2)
        results.append(run("bert config.json (tanh gelu, eps 1e-7)",
                           ["bert", "--config", config_file("bert.json", bert), "--check"]
                           + out("bert-json") + common))

        # What the graph cannot express is refused by name, exit 2.
        refusals = [
            ("llama", dict(llama, rope_scaling={"rope_type": "linear", "factor": 2.0}), "rope scaling"),
            ("llama", dict(llama, attention_bias=True), "attention_bias"),
            ("llama", dict(llama, hidden_act="gelu"), "hidden_act 'gelu'"),
            ("gpt2", dict(model_type="gpt2", n_embd=64, n_head=4, n_layer=1, vocab_size=100,
                          activation_function="relu"), "activation_function 'relu'"),
            ("bert", dict(bert, position_embedding_type="relative_key"), "position_embedding_type"),
        ]
        for i, (fam, cfg, text) in enumerate(refusals):
            results.append(run(f"refuse {fam} {text}", [fam, "--config", config_file(f"bad{i}.json", cfg)]
                               + out(f"bad{i}"), expect_rc=2, expect_text=text))

    failed = results.count(False)
    print(f"{PROG}: {len(results) - failed} of {len(results)} cases passed")
    print("PASSED" if not failed else "FAILED")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
