#!/usr/bin/env python3
"""bench_generate.py — greedy generation, tessera generate against Hugging Face
transformers' generate (PyTorch eager, the same weights), on the CPU or the GPU.

    bench_generate.py --tessera PATH [--family gpt2|llama] [--config tiny|small|base]
                      [--prompt-len 32] [--max-new 64] [--target cpu|cuda] [--threads N]
                      [--repeats 3]

The model is built by scripts/hf2tessera.py's code (random weights, seed 0),
written as tessera files once into --workdir, and timed in both: tessera's
prefill and per-token decode as `tessera generate` reports them (compilation
excluded), transformers' whole generate() call (prefill included) and its
per-token cost from a second run of one new token. The tokens must be equal
(else FAILED, no speed); ratios are transformers' time over tessera's (> 1:
tessera is faster). Needs torch and transformers.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def tessera_generate(tessera, decoder, prompt, n, target, threads):
    cmd = [tessera, "generate", decoder, "--tokens", ",".join(map(str, prompt)), "--max-new", str(n),
           "--target", target]
    if threads and target == "cpu":
        cmd += ["--threads", str(threads)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench_generate: tessera generate failed: {r.stderr.strip()}")
    out = r.stdout
    toks = [int(x) for x in re.search(r"^generated\s+\d+ tokens?:(.*)$", out, re.M).group(1).split()]
    pre = float(re.search(r"^prefill\s+\d+ tokens in ([0-9.]+) ms", out, re.M).group(1))
    m = re.search(r"^decode\s+(\d+) tokens in ([0-9.]+) ms", out, re.M)
    dec_n, dec_ms = (int(m.group(1)), float(m.group(2))) if m else (0, 0.0)
    return toks, pre, dec_n, dec_ms, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--family", choices=("gpt2", "llama"), default="gpt2")
    ap.add_argument("--config", default="base", help="hf2tessera's tiny, small or base (default base)")
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--max-new", type=int, default=64)
    ap.add_argument("--target", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for both (default: every core)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench-generate"))
    opt = ap.parse_args()

    import hf2tessera
    torch, transformers = hf2tessera.import_transformers()
    if opt.threads:
        torch.set_num_threads(opt.threads)
    dev = "cuda" if opt.target == "cuda" else "cpu"
    out = os.path.join(opt.workdir, f"{opt.family}-{opt.config}")
    args = argparse.Namespace(family=opt.family, out=out, config=opt.config, seed=0, init="spread",
                              from_pretrained=None, dtype="f32")
    model, cfg = hf2tessera.convert(args, torch, transformers)
    model = model.to(dev)
    g = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, cfg["vocab"], (opt.prompt_len,), generator=g).tolist()
    decoder = os.path.join(out, "decoder.json")

    def hf_run(n):
        ids = torch.tensor([prompt], dtype=torch.int64, device=dev)
        gc = model.generation_config
        gc.eos_token_id, gc.pad_token_id = None, 0
        if dev == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.no_grad():
            o = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=1,
                               max_new_tokens=n, min_new_tokens=n, generation_config=gc)
        if dev == "cuda":
            torch.cuda.synchronize()
        return [int(x) for x in o[0, len(prompt):]], (time.perf_counter() - t) * 1e3

    hf_run(2)  # warm-up
    hf_tok, hf_ms, hf_one = None, [], []
    for _ in range(opt.repeats):
        hf_tok, ms = hf_run(opt.max_new)
        hf_ms.append(ms)
        hf_one.append(hf_run(1)[1])
    ts = [tessera_generate(opt.tessera, decoder, prompt, opt.max_new, opt.target, opt.threads)
          for _ in range(opt.repeats)]
    ts_tok = ts[0][0]
    hf_total, hf_first = statistics.median(hf_ms), statistics.median(hf_one)
    hf_per_tok = (hf_total - hf_first) / max(opt.max_new - 1, 1)
    pre = statistics.median(t[1] for t in ts)
    dec_n = ts[0][2]
    per_tok = statistics.median(t[3] / max(t[2], 1) for t in ts)
    ts_total = pre + per_tok * dec_n
    print(f"# greedy generation, {opt.family} {opt.config} ({hf2tessera.model_graphs.describe(cfg)}), "
          f"prompt {opt.prompt_len}, {opt.max_new} new tokens, target {opt.target}"
          f"{f', {opt.threads} threads' if opt.threads else ''}; torch {torch.__version__}, "
          f"transformers {transformers.__version__}; medians of {opt.repeats}")
    print(f"{'':26}{'tessera':>12}{'transformers':>14}{'ratio':>8}")
    print(f"{'prompt+first token (ms)':26}{pre:12.2f}{hf_first:14.2f}{hf_first / pre:8.2f}")
    print(f"{'per next token (ms)':26}{per_tok:12.2f}{hf_per_tok:14.2f}{hf_per_tok / per_tok:8.2f}")
    print(f"{'tokens/s after the first':26}{1e3 / per_tok:12.1f}{1e3 / hf_per_tok:14.1f}")
    print(f"{'whole generation (ms)':26}{ts_total:12.1f}{hf_total:14.1f}{hf_total / ts_total:8.2f}")
    print(ts[0][4].strip().splitlines()[4])  # the cache line
    if ts_tok != hf_tok:
        first = next(i for i, (a, b) in enumerate(zip(ts_tok, hf_tok)) if a != b)
        print(f"tokens differ from step {first}: tessera {ts_tok[first:first + 5]}, "
              f"transformers {hf_tok[first:first + 5]}")
        print("FAILED")
        return 1
    print(f"tokens: all {len(ts_tok)} equal")
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
