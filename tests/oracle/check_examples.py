#!/usr/bin/env python3
"""check_examples.py — runs the example models (examples/{gpt,bert,llama}) through
`tessera run --target ref` (or --target cpu) and compares their outputs with
models_np.py, the numpy implementations written from the architectures.

    check_examples.py --tessera PATH --workdir DIR [--target ref|cpu|cuda] [--examples DIR]
                      [-k SUBSTRING] [-v]

Each run uses random inputs from a fixed seed (tokens in [0, 256)), at the
graph's default sizes and at other bindings (given with --bind, or taken from
the inputs' shapes): one token (decode), 129 tokens (several query blocks and
GEMM tasks on the cpu), every position GPT's table has. Outputs must have the
graph's dtype (f32) and the bound shape, and values within
    |got - want| <= 2e-6·L·max|want| + 2e-6·L·|want|
where L counts the model's blocks plus one (embeddings, final norm): f32
rounding after every op, growing with depth. That is a bound for f32
arithmetic, so --target cpu (f32 throughout, its own summation order, f32
libm) is held to it too: its worst run uses 14% of it (bert at seq 129; the
reference, computing in float64 and rounding each op's output to f32, 3%).
The last line is `examples oracle (TARGET): N passed, M failed`; the exit
status is 1 on any failure, and also when tessera was built without the target.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, HERE)
import models_np  # noqa: E402
import stio  # noqa: E402
from run_op_cases import (EXIT_SKIP, TARGETS, gpu_absent, require_target,  # noqa: E402
                          sanitizer_report, target_args)

ROOT = os.path.dirname(os.path.dirname(HERE))
TIMEOUT_S = 600


def gpt_inputs(rng, batch, seq, offset=0):
    tokens = rng.integers(0, 256, size=(batch, seq), dtype=np.int64)
    positions = np.broadcast_to(np.arange(offset, offset + seq, dtype=np.int64), (batch, seq))
    return {"tokens": ("i32", tokens), "positions": ("i32", positions.copy())}


def bert_inputs(rng, batch, seq, masked, fill, amplitude=2.0):
    """x uniform in ±amplitude; in each batch row after the first, the last
    `masked` keys are dropped with `fill` (-10000 or -inf)."""
    x = stio.to_dtype(rng.uniform(-amplitude, amplitude, size=(batch, seq, 128)), "f32")
    mask = np.zeros((batch, 1, 1, seq), dtype=np.float32)
    for b in range(1, batch):
        mask[b, ..., seq - masked:] = fill
    return {"x": ("f32", x), "mask": ("f32", mask)}


def llama_inputs(rng, batch, seq):
    return {"x": ("f32", stio.to_dtype(rng.uniform(-2, 2, size=(batch, seq, 128)), "f32"))}


# (run name, example, output name, blocks L, bind args, inputs(rng), reference(weights, inputs))
RUNS = [
    ("gpt-default", "gpt", "logits", 3, [], lambda r: gpt_inputs(r, 1, 16),
     lambda w, i: models_np.gpt(w, i["tokens"], i["positions"])),
    ("gpt-bind-seq7-batch2-offset40", "gpt", "logits", 3, ["seq=7"],
     lambda r: gpt_inputs(r, 2, 7, offset=40),
     lambda w, i: models_np.gpt(w, i["tokens"], i["positions"])),
    ("bert-default-mask-10000", "bert", "y", 2, [], lambda r: bert_inputs(r, 2, 16, 5, -10000.0),
     lambda w, i: models_np.bert(w, i["x"], i["mask"])),
    ("bert-batch3-seq17-mask-inf", "bert", "y", 2, [],
     lambda r: bert_inputs(r, 3, 17, 6, -np.inf),
     lambda w, i: models_np.bert(w, i["x"], i["mask"])),
    # Small activations make the layernorms' eps (1e-12) visible.
    ("bert-batch1-seq9-small-x", "bert", "y", 2, [],
     lambda r: bert_inputs(r, 1, 9, 0, 0.0, amplitude=0.01),
     lambda w, i: models_np.bert(w, i["x"], i["mask"])),
    ("llama-default", "llama", "y", 2, [], lambda r: llama_inputs(r, 1, 16),
     lambda w, i: models_np.llama(w, i["x"])),
    ("llama-bind-batch2-seq5", "llama", "y", 2, ["batch=2", "seq=5"],
     lambda r: llama_inputs(r, 2, 5), lambda w, i: models_np.llama(w, i["x"])),
    # Decoding one token at GPT's last position (its table holds 64), and all 64.
    ("gpt-bind-seq1-batch3-offset63", "gpt", "logits", 3, ["seq=1", "batch=3"],
     lambda r: gpt_inputs(r, 3, 1, offset=63),
     lambda w, i: models_np.gpt(w, i["tokens"], i["positions"])),
    ("gpt-seq64-every-position", "gpt", "logits", 3, [], lambda r: gpt_inputs(r, 1, 64),
     lambda w, i: models_np.gpt(w, i["tokens"], i["positions"])),
    ("bert-batch2-seq129-mask-10000", "bert", "y", 2, [],
     lambda r: bert_inputs(r, 2, 129, 40, -10000.0),
     lambda w, i: models_np.bert(w, i["x"], i["mask"])),
    ("llama-bind-seq129", "llama", "y", 2, ["seq=129"], lambda r: llama_inputs(r, 1, 129),
     lambda w, i: models_np.llama(w, i["x"])),
    ("llama-batch3-seq1", "llama", "y", 2, [], lambda r: llama_inputs(r, 3, 1),
     lambda w, i: models_np.llama(w, i["x"])),
]


def check_run(run, tessera, examples, workdir, keep, target="ref"):
    """Runs one example; returns (ok, message)."""
    name, model, out_name, blocks, binds, make_inputs, reference = run
    d = os.path.join(workdir, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rng = np.random.default_rng(sum(map(ord, name)))
    inputs = make_inputs(rng)
    in_path = os.path.join(d, "inputs.safetensors")
    out_path = os.path.join(d, "out.safetensors")
    stio.write(in_path, inputs)
    graph = os.path.join(examples, model, "graph.json")
    cmd = [tessera, "run", graph, "--target", target, *target_args(target), "--inputs", in_path,
           "--outputs", out_path]
    for b in binds:
        cmd += ["--bind", b]
    repro = " ".join(shlex.quote(c) for c in cmd)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {TIMEOUT_S} s\n    repro: {repro}"
    report = sanitizer_report(p.stderr)
    if report:
        return False, f"sanitizer: {report}\n    repro: {repro}"
    if p.returncode != 0:
        err = p.stderr.strip().splitlines() or ["(no message)"]
        return False, f"exit {p.returncode}: {err[0]}\n    repro: {repro}"
    try:
        got = stio.read(out_path)
    except (OSError, ValueError) as e:
        return False, f"cannot read outputs: {e}\n    repro: {repro}"
    weights = models_np.load(os.path.join(examples, model, "weights.safetensors"))
    want = reference(weights, {k: a.astype(np.float64) if dt == "f32" else a
                               for k, (dt, a) in inputs.items()})
    if out_name not in got:
        return False, f"output {out_name} missing (have {sorted(got)})\n    repro: {repro}"
    gdt, g = got[out_name]
    if gdt != "f32" or g.shape != want.shape:
        return False, (f"{out_name}: {gdt} {list(g.shape)}, want f32 {list(want.shape)}"
                       f"\n    repro: {repro}")
    g = g.astype(np.float64)
    tol = 2e-6 * blocks
    atol = tol * float(np.max(np.abs(want)))
    err = np.abs(g - want)
    err = np.where(np.isfinite(g), err, np.inf)
    excess = err / (atol + tol * np.abs(want))
    i = np.unravel_index(int(np.argmax(excess)), want.shape)
    msg = (f"{out_name}{list(map(int, i))}: got {g[i]:.9g}, want {want[i]:.9g}, "
           f"max |err| {np.max(err):.3g} (atol {atol:.3g}, rtol {tol:.3g})")
    if excess[i] > 1.0:
        return False, f"{msg}; {int(np.sum(excess > 1))} of {want.size} out of tolerance" \
                      f"\n    repro: {repro}"
    if not keep:
        shutil.rmtree(d, ignore_errors=True)
    return True, msg


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tessera", required=True, help="the tessera binary")
    ap.add_argument("--workdir", required=True, help="folder for inputs and outputs")
    ap.add_argument("--target", choices=TARGETS, default="ref",
                    help="the target `tessera run` runs the models on (default ref)")
    ap.add_argument("--examples", default=os.path.join(ROOT, "examples"),
                    help="the examples folder (default: the repository's)")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTRING",
                    help="only runs whose name contains SUBSTRING")
    ap.add_argument("--keep", action="store_true", help="keep passing runs' files")
    ap.add_argument("-v", "--verbose", action="store_true")
    opt = ap.parse_args()
    tessera = os.path.abspath(opt.tessera)
    workdir = os.path.abspath(opt.workdir)
    os.makedirs(workdir, exist_ok=True)
    missing = require_target(tessera, opt.target, "examples oracle")
    if missing:
        print(missing)
        print(f"examples oracle ({opt.target}): 0 passed, 1 failed")
        return 1
    if opt.target == "cuda":
        absent = gpu_absent(tessera)
        if absent:
            print(f"examples oracle (cuda): SKIPPED: no GPU here: {absent}")
            return EXIT_SKIP
    passed = failed = 0
    for run in RUNS:
        if opt.k and not any(s in run[0] for s in opt.k):
            continue
        try:
            ok, msg = check_run(run, tessera, os.path.abspath(opt.examples), workdir, opt.keep,
                                opt.target)
        except Exception as e:  # a bug in the checker: report it, go on
            ok, msg = False, f"oracle error: {type(e).__name__}: {e}"
        if ok:
            passed += 1
            if opt.verbose:
                print(f"ok   {run[0]}: {msg}")
        else:
            failed += 1
            print(f"FAIL {run[0]}: {msg}")
        sys.stdout.flush()
    print(f"examples oracle ({opt.target}): {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
