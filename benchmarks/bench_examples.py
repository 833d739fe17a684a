#!/usr/bin/env python3
"""bench_examples.py — latency of the three example models on this CPU:
tessera's CPU backend (1 and 2 threads) against the reference interpreter and
onnxruntime, on the same inputs, each output checked before its time counts;
plus compile time (fusion + LLVM + JIT). Prints a table; --csv FILE writes it.

    python3 benchmarks/bench_examples.py [--tessera build/tessera] [--repeat 200]
        [--python build/venv/bin/python3] [--csv FILE] [MODEL ...]

Every figure is a median of --repeat runs after warm-up runs, measured in one
sitting; ratios compare numbers from the same run of this script.
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"bench_examples: {' '.join(cmd)} failed (exit {p.returncode}):\n{p.stderr.strip()}")
    return p.stdout


def tessera_time(tessera, model, inputs, target, repeat, threads=None, outputs=None):
    cmd = [tessera, "run", model, "--target", target, "--inputs", inputs, "--repeat", str(repeat)]
    if threads:
        cmd += ["--threads", str(threads)]
    if target == "cpu":
        cmd += ["--check"]
    if outputs:
        cmd += ["--outputs", outputs]
    out = run(cmd)
    median = float(re.search(r"time\s+median ([0-9.]+) ms", out).group(1))
    compile_ms = None
    m = re.search(r"in ([0-9.]+) ms; (\d+) threads", out)
    if m:
        compile_ms = float(m.group(1))
    return median, compile_ms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", default=[os.path.join(ROOT, "examples", m, "graph.json")
                                                  for m in ("gpt", "bert", "llama")])
    ap.add_argument("--tessera", default=os.path.join(ROOT, "build", "tessera"))
    ap.add_argument("--python", default=os.path.join(ROOT, "build", "venv", "bin", "python3"))
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--ref-repeat", type=int, default=20)
    ap.add_argument("--csv")
    opt = ap.parse_args()

    have_ort = os.path.exists(opt.python) and subprocess.run(
        [opt.python, "-c", "import onnxruntime, onnx, numpy"], capture_output=True).returncode == 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in opt.models:
            name = os.path.basename(os.path.dirname(model))
            inputs = os.path.join(tmp, name + ".inputs.safetensors")
            outputs = os.path.join(tmp, name + ".outputs.safetensors")
            run([opt.tessera, "run", model, "--save-inputs", inputs, "--seed", "1"])
            ref_ms, _ = tessera_time(opt.tessera, model, inputs, "ref", opt.ref_repeat)
            cpu1, compile_ms = tessera_time(opt.tessera, model, inputs, "cpu", opt.repeat, threads=1)
            cpu2, _ = tessera_time(opt.tessera, model, inputs, "cpu", opt.repeat, threads=2, outputs=outputs)
            ort1 = ort2 = None
            if have_ort:
                for threads in (1, 2):
                    out = run([opt.python, os.path.join(ROOT, "benchmarks", "ort_examples.py"), model, "--inputs",
                               inputs, "--expect", outputs, "--threads", str(threads), "--repeat", str(opt.repeat)])
                    ms = float(re.search(r"ort_ms=([0-9.]+)", out).group(1))
                    if threads == 1:
                        ort1 = ms
                    else:
                        ort2 = ms
            rows.append(dict(model=name, compile_ms=compile_ms, ref_ms=ref_ms, cpu1_ms=cpu1, cpu2_ms=cpu2,
                             ort1_ms=ort1, ort2_ms=ort2))

    def f(x, fmt="{:.3f}"):
        return "n/a" if x is None else fmt.format(x)

    print("| model | compile | ref | cpu 1 thr | cpu 2 thr | ort 1 thr | ort 2 thr | cpu vs ref | cpu vs ort (1 thr) | cpu vs ort (2 thr) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {f(r['compile_ms'], '{:.0f}')} ms | {f(r['ref_ms'])} ms | {f(r['cpu1_ms'])} ms | "
              f"{f(r['cpu2_ms'])} ms | {f(r['ort1_ms'])} ms | {f(r['ort2_ms'])} ms | "
              f"{r['ref_ms'] / min(r['cpu1_ms'], r['cpu2_ms']):.1f}x faster | "
              f"{f(r['ort1_ms'] / r['cpu1_ms'] if r['ort1_ms'] else None, '{:.2f}x')} | "
              f"{f(r['ort2_ms'] / r['cpu2_ms'] if r['ort2_ms'] else None, '{:.2f}x')} |")
    print("(ratios > 1 mean tessera is faster; every cpu run passed --check against the reference, and "
          "onnxruntime's outputs were compared with tessera's)" if have_ort else
          "(onnxruntime not available: run scripts/setup.sh for build/venv)")
    if opt.csv:
        with open(opt.csv, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
