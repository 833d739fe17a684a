#!/usr/bin/env python3
"""run_op_cases.py — the op oracle: runs every case of op_cases.py through
`tessera run --target ref` (or --target cpu) and compares the outputs with numpy's.

    run_op_cases.py --tessera PATH --workdir DIR [--target ref|cpu|cuda] [--op NAME]...
                    [--family NAME]... [-k SUBSTRING]... [-j N] [--keep] [--list] [-v]
    run_op_cases.py --check-families NAME...   (do these families cover every op?)

--op, --family and -k select cases (a case must match each kind given; within a
kind, any value).

Each case is written to DIR/<case name>/ (graph.json, inputs.safetensors) and
run as
    tessera run graph.json --target T --inputs inputs.safetensors --outputs out.safetensors
with T = ref (the reference interpreter, the default) or cpu (the graph fused,
compiled by LLVM and run by the thread pool: one process per case, since the
JIT takes tens of milliseconds, less than starting the process and writing the
files), or cuda (compiled by NVRTC and run on the GPU, in strict f32; where
`tessera version` reports no GPU the run is skipped with exit status 77). A
--target the binary was built without fails every case up front.
A case passes when tessera exits 0 and every output has the expected dtype and
shape and values within tolerance. A failing case prints one line with its
worst element and the command that reproduces it, and its folder is kept (a
passing case's folder is removed unless --keep). The last line is
`op oracle (TARGET): N passed, M failed`; the exit status is 1 when any case failed.

Tolerances (STYLE.md, "Tests"), for a float output with reduction length k
(k = 0 for element-wise and data-movement ops, the summed length for
reductions, matmul and attention):
    |got - want| <= atol + rtol * |want|
    element-wise:  rtol = R[dtype],                     atol = A[dtype]
    k > 1:         rtol = R[dtype] + 1.3e-6 * sqrt(k),
                   atol = (A[dtype] + 1e-5 * sqrt(k)) * max|want|
with R = {f32: 1.3e-6, f16: 1e-3, bf16: 1.6e-2} and A = {f32: 1e-5, f16: 1e-3,
bf16: 1.6e-2}: the output's own rounding, plus an f32-accumulation error that
grows like sqrt(k), relative to the output's magnitude. The expected values
are exact float64 results rounded once to the output dtype; NaN and ±inf must
match exactly. Integers and bools must be equal.

--target cpu is held to the same bounds, because they are already those of f32
arithmetic, not of the reference's float64 (which lands within half an output
ulp of the exact result):
    f32  rtol 1.3e-6 is ~11 ulps (2^-23 = 1.19e-7 at the bottom of a binade):
         the output's rounding, f32 libm (exp, log, tanh, erf: a few ulps) and
         the handful of roundings inside a composite op (gelu, silu, sigmoid);
         atol 1e-5 covers the cancellation where such a result is tiny
         (1 + erf(x) for x << 0 in gelu);
    k>1  the f32 accumulation order of a vectorised, blocked reduction, GEMM or
         online softmax differs from the float64 sum; its rounding errors add
         up like sqrt(k) for random data, which the sqrt(k) terms allow;
    f16  rtol 1e-3 is one f16 ulp at the bottom of a binade (2^-10): a result
         computed in f32 and rounded once may round the other way from the
         exact one when it lies near a rounding boundary;
    bf16 rtol 1.6e-2 is two bf16 ulps (2^-7 = 7.8e-3), the same reasoning.
Measured (znver5; --cpu native, x86-64-v2 and portable alike), the worst cpu
case uses 16% of its bound (softmax/f16), and no f32 element-wise case more
than 8% (exp), so nothing is loosened for cpu.
"""
import argparse
import concurrent.futures
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import op_cases  # noqa: E402
import stio  # noqa: E402

RTOL = {"f32": 1.3e-6, "f16": 1e-3, "bf16": 1.6e-2}
ATOL = {"f32": 1e-5, "f16": 1e-3, "bf16": 1.6e-2}
TIMEOUT_S = 300  # generous: sanitizer builds are several times slower
TARGETS = ("ref", "cpu", "cuda")
# Exit status of a run that could not happen here: --target cuda without a GPU
# (ctest SKIP_RETURN_CODE; the "gpu" tests run only in scripts/gpu-check.sh).
EXIT_SKIP = 77


def tolerance(dtype, k, want):
    """(atol, rtol) for a float output of dtype with reduction length k."""
    if k <= 1:
        return ATOL[dtype], RTOL[dtype]
    finite = want[np.isfinite(want)]
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    scale = scale if scale > 0 else 1.0
    s = math.sqrt(k)
    return (ATOL[dtype] + 1e-5 * s) * scale, RTOL[dtype] + 1.3e-6 * s


def _fmt_index(shape, flat):
    if not shape:
        return "[]"
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"


def compare(name, got, want, k, signed_zeros=False):
    """Returns None when output `name` matches, else a one-line description of
    the mismatch (the worst element for values). got, want: (dtype, array);
    signed_zeros: a zero must also have the expected sign."""
    gdt, g = got
    wdt, w = want
    if gdt != wdt:
        return f"{name}: dtype {gdt}, want {wdt}"
    if tuple(g.shape) != tuple(w.shape):
        return f"{name}: shape {list(g.shape)}, want {list(w.shape)}"
    if g.size == 0:
        return None
    if wdt not in stio.FLOAT_DTYPES:
        bad = np.flatnonzero(g.ravel() != w.ravel())
        if bad.size == 0:
            return None
        i = int(bad[0])
        return (f"{name}{_fmt_index(w.shape, i)}: got {g.ravel()[i].item()!r}, "
                f"want {w.ravel()[i].item()!r} "
                f"({bad.size} of {w.size} differ)")
    g = g.astype(np.float64).ravel()
    w = w.astype(np.float64).ravel()
    atol, rtol = tolerance(wdt, k, w)
    wf = np.isfinite(w)
    special = ~wf & ~((np.isnan(w) & np.isnan(g)) | (g == w))
    if special.any():
        i = int(np.flatnonzero(special)[0])
        return (f"{name}{_fmt_index(want[1].shape, i)}: got {float(g[i])!r}, want {float(w[i])!r} "
                f"({int(special.sum())} non-finite mismatches)")
    if signed_zeros:
        flipped = (w == 0) & (g == 0) & (np.signbit(w) != np.signbit(g))
        if flipped.any():
            i = int(np.flatnonzero(flipped)[0])
            return (f"{name}{_fmt_index(want[1].shape, i)}: got {float(g[i])!r}, "
                    f"want {float(w[i])!r} (sign of zero)")
    with np.errstate(invalid="ignore"):
        err = np.where(wf, np.abs(g - w), 0.0)
        err = np.where(wf & ~np.isfinite(g), np.inf, err)
        excess = err / (atol + rtol * np.abs(np.where(wf, w, 0.0)))
    i = int(np.argmax(excess))
    if excess[i] <= 1.0:
        return None
    nbad = int(np.sum(excess > 1.0))
    return (f"{name}{_fmt_index(want[1].shape, i)}: got {g[i]:.9g}, want {w[i]:.9g} "
            f"(|err| {err[i]:.3g} > atol {atol:.3g} + rtol {rtol:.3g}*|want|; "
            f"{nbad} of {w.size} out of tolerance)")


def sanitizer_report(stderr):
    """The first line of an AddressSanitizer / UBSan / LeakSanitizer report in
    stderr, or None: a sanitizer build must fail a case even when it exits 0."""
    for line in stderr.splitlines():
        if "runtime error:" in line or "Sanitizer" in line:
            return line.strip()
    return None


def built_targets(tessera):
    """The targets `tessera version` lists ("  targets: ref, cpu"), or None
    when it cannot say."""
    try:
        p = subprocess.run([tessera, "version"], capture_output=True, text=True,
                           timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in p.stdout.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "targets":
            return [t.strip() for t in value.split(",") if t.strip()]
    return None


def gpu_absent(tessera):
    """None when `tessera version` reports a usable GPU ("  GPU: NAME (…)"),
    else the reason it gives ("none usable (no CUDA driver: …)") or that it
    gives none."""
    try:
        p = subprocess.run([tessera, "version"], capture_output=True, text=True,
                           timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`tessera version` failed: {e}"
    for line in p.stdout.splitlines():
        key, _, value = line.strip().partition(":")
        if key.lower() == "gpu":
            value = value.strip()
            return value if value.startswith("none") else None
    return "`tessera version` prints no gpu line"


def target_args(target):
    """Extra `tessera run` arguments per target: cuda runs f32 matmuls and
    attention in strict f32 here, so the bounds below (those of f32
    arithmetic) hold; tf32 is checked by tests/gpu/test_gpu_kernels.c and the
    cuBLAS comparison."""
    return ["--strict-f32"] if target == "cuda" else []


def require_target(tessera, target, who):
    """None when tessera was built with target, else the message to fail with:
    a build without the backend must not pass its oracle by skipping it."""
    targets = built_targets(tessera)
    if targets is None:
        return f"{who}: `{tessera} version` does not list its targets"
    if target not in targets:
        return (f"{who}: {tessera} was built without --target {target} (its targets: "
                f"{', '.join(targets)}); for cpu, install LLVM 19 (llvm-19-dev) and rebuild")
    return None


def run_case(case, tessera, workdir, keep, target="ref"):
    """Builds, runs and checks one case. Returns (ok, message)."""
    d = os.path.join(workdir, case.name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    built = case.build()
    graph = os.path.join(d, "graph.json")
    inputs = os.path.join(d, "inputs.safetensors")
    outputs = os.path.join(d, "out.safetensors")
    with open(graph, "w", encoding="utf-8") as f:
        json.dump(built.graph, f, indent=1)
        f.write("\n")
    stio.write(inputs, built.inputs)
    cmd = [tessera, "run", graph, "--target", target, *target_args(target), "--inputs", inputs,
           "--outputs", outputs]
    repro = " ".join(shlex.quote(c) for c in cmd)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {TIMEOUT_S} s\n    repro: {repro}"
    report = sanitizer_report(p.stderr)
    if report:
        return False, f"sanitizer: {report}\n    repro: {repro}"
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or ["(no message)"])
        return False, f"exit {p.returncode}: {err[0]}\n    repro: {repro}"
    try:
        got = stio.read(outputs)
    except (OSError, ValueError) as e:
        return False, f"cannot read outputs: {e}\n    repro: {repro}"
    problems = []
    for name, want in built.want.items():
        if name not in got:
            problems.append(f"{name}: missing from the outputs")
            continue
        msg = compare(name, got[name], want, built.k[name], built.signed_zeros)
        if msg:
            problems.append(msg)
    if problems:
        return False, "; ".join(problems) + f"\n    repro: {repro}"
    if not keep:
        shutil.rmtree(d, ignore_errors=True)
    return True, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tessera", help="the tessera binary")
    ap.add_argument("--workdir", help="folder for the cases' files")
    ap.add_argument("--target", choices=TARGETS, default="ref",
                    help="the target `tessera run` runs the cases on (default ref)")
    ap.add_argument("--op", action="append", default=[], help="only this op (repeatable)")
    ap.add_argument("--family", action="append", default=[],
                    help="only the ops of this family of op_cases.FAMILIES (repeatable)")
    ap.add_argument("--check-families", nargs="+", metavar="NAME",
                    help="check that these families are exactly op_cases.FAMILIES, then exit")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTRING",
                    help="only cases whose name contains SUBSTRING (repeatable: any)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="cases run in parallel")
    ap.add_argument("--keep", action="store_true", help="keep passing cases' folders")
    ap.add_argument("--list", action="store_true", help="list the selected cases and exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case")
    opt = ap.parse_args()

    if opt.check_families:
        want = sorted(op_cases.FAMILIES)
        if sorted(opt.check_families) != want:
            print(f"op oracle: the ctests run families {sorted(opt.check_families)}, "
                  f"but op_cases.FAMILIES is {want}")
            return 1
        print(f"op oracle: {len(want)} families cover all {len(op_cases.OPS)} ops")
        return 0
    unknown = [o for o in opt.op if o not in op_cases.OPS]
    if unknown:
        ap.error(f"unknown op {unknown[0]!r}; ops: {' '.join(op_cases.OPS)}")
    unknown = [f for f in opt.family if f not in op_cases.FAMILIES]
    if unknown:
        ap.error(f"unknown family {unknown[0]!r}; families: {' '.join(op_cases.FAMILIES)}")
    fam_ops = {op for f in opt.family for op in op_cases.FAMILIES[f]}
    cases = [c for c in op_cases.CASES
             if (not opt.op or c.op in opt.op) and (not opt.family or c.op in fam_ops)
             and (not opt.k or any(s in c.name for s in opt.k))]
    if opt.list:
        for c in cases:
            print(c.name)
        print(f"{len(cases)} cases")
        return 0
    if not opt.tessera or not opt.workdir:
        ap.error("--tessera and --workdir are required")
    if not cases:
        print("op oracle: no case matches the filters", file=sys.stderr)
        print(f"op oracle ({opt.target}): 0 passed, 0 failed")
        return 1
    tessera = os.path.abspath(opt.tessera)
    workdir = os.path.abspath(opt.workdir)
    os.makedirs(workdir, exist_ok=True)
    missing = require_target(tessera, opt.target, "op oracle")
    if missing:
        print(missing)
        print(f"op oracle ({opt.target}): 0 passed, {len(cases)} failed")
        return 1
    if opt.target == "cuda":
        absent = gpu_absent(tessera)
        if absent:
            print(f"op oracle (cuda): SKIPPED: no GPU here: {absent}")
            return EXIT_SKIP

    t0 = time.monotonic()
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opt.jobs)) as pool:
        futures = [pool.submit(run_case, c, tessera, workdir, opt.keep, opt.target)
                   for c in cases]
        for case, fut in zip(cases, futures):
            try:
                ok, msg = fut.result()
            except Exception as e:  # a bug in a case: report it, go on
                ok, msg = False, f"oracle error: {type(e).__name__}: {e}"
            if ok:
                passed += 1
                if opt.verbose:
                    print(f"ok   {case.name}")
            else:
                failed += 1
                print(f"FAIL {case.name}: {msg}")
            sys.stdout.flush()
    if opt.verbose:
        print(f"({time.monotonic() - t0:.1f} s)")
    print(f"op oracle ({opt.target}): {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
