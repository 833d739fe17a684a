#!/usr/bin/env python3
"""check_onnx_examples.py — onnxruntime as a second oracle for the example models:
each example runs through `tessera run --target ref` (random inputs, saved with
--save-inputs), is converted with benchmarks/onnx_export.py, runs through
onnxruntime on the CPU with the same weights and inputs, and the two outputs
must agree within |ort − tessera| <= 1e-4 + 1e-3·|tessera| (f32).

    check_onnx_examples.py --tessera PATH --workdir DIR [--examples DIR] [-k SUBSTRING] [-v]

Unlike check_examples.py (hand-written numpy models), this checks the graphs
as tessera reads them against an independent runtime's reading of the same ops:
a converter or interpreter that misreads an op's attributes disagrees here.
The last line is `onnx examples oracle: N passed, M failed`; exit 1 on any
failure, and when numpy, onnx or onnxruntime is missing (scripts/setup.sh
installs them).
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

TIMEOUT_S = 300
RTOL, ATOL = 1e-3, 1e-4
ORT_EXAMPLES = os.path.join(ROOT, "benchmarks", "ort_examples.py")

# (run name, example, tessera run options beyond the defaults)
RUNS = [
    ("gpt-default", "gpt", ["--seed", "1"]),
    ("gpt-seq7", "gpt", ["--seed", "2", "--bind", "seq=7"]),
    ("bert-default", "bert", ["--seed", "3"]),
    ("bert-batch3-seq17", "bert", ["--seed", "4", "--bind", "batch=3", "--bind", "seq=17"]),
    ("llama-default", "llama", ["--seed", "5"]),
    ("llama-batch2-seq5", "llama", ["--seed", "6", "--bind", "batch=2", "--bind", "seq=5"]),
]


def check_run(run, tessera, examples, workdir, keep):
    """Runs one example through both; returns (ok, message)."""
    import numpy as np
    import onnx_export
    import onnxruntime as ort
    from run_op_cases import sanitizer_report

    name, model, options = run
    d = os.path.join(workdir, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    graph = os.path.join(examples, model, "graph.json")
    in_path, out_path = os.path.join(d, "inputs.safetensors"), os.path.join(d, "out.safetensors")
    cmd = [tessera, "run", graph, "--target", "ref", "--save-inputs", in_path,
           "--outputs", out_path] + options
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
        return False, f"tessera exit {p.returncode}: {err[0]}\n    repro: {repro}"

    inputs = onnx_export.read_safetensors(in_path)
    want = onnx_export.read_safetensors(out_path)
    shapes = {k: list(a.shape) for k, (_, a) in inputs.items()}
    try:
        onnx_model, _ = onnx_export.export(graph, {}, shapes)
    except onnx_export.ExportError as e:
        return False, f"onnx_export: {e}"
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    got = sess.run(names, {k: a for k, (_, a) in inputs.items()})
    msgs = []
    for out_name, g in zip(names, got):
        if out_name not in want:
            return False, f"{out_name}: missing from tessera's outputs\n    repro: {repro}"
        dt, w = want[out_name]
        if dt != "f32" or g.shape != w.shape:
            return False, (f"{out_name}: tessera gives {dt} {list(w.shape)}, onnxruntime "
                           f"{g.dtype} {list(g.shape)}\n    repro: {repro}")
        g, w = g.astype(np.float64), w.astype(np.float64)
        # Outputs that say nothing would make agreement vacuous.
        if not np.all(np.isfinite(w)) or float(np.max(np.abs(w))) < 100 * ATOL:
            return False, (f"{out_name}: tessera's output is not finite or is near zero"
                           f"\n    repro: {repro}")
        err = np.abs(g - w)
        err = np.where(np.isnan(err), np.inf, err)
        excess = err / (ATOL + RTOL * np.abs(w))
        i = np.unravel_index(int(np.argmax(excess)), w.shape)
        msg = (f"{out_name}{list(map(int, i))}: onnxruntime {g[i]:.9g}, tessera {w[i]:.9g}; "
               f"max |err| {np.max(err):.3g} (max |tessera| {np.max(np.abs(w)):.3g})")
        if excess[i] > 1.0:
            return False, (f"{msg}; {int(np.sum(excess > 1))} of {w.size} beyond rtol {RTOL:g} "
                           f"atol {ATOL:g}\n    repro: {repro}\n    then: {ORT_EXAMPLES} "
                           f"{shlex.quote(graph)} --inputs {in_path} --expect {out_path}")
        msgs.append(msg)
    if not keep:
        shutil.rmtree(d, ignore_errors=True)
    return True, "; ".join(msgs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tessera", required=True, help="the tessera binary")
    ap.add_argument("--workdir", required=True, help="folder for inputs and outputs")
    ap.add_argument("--examples", default=os.path.join(ROOT, "examples"),
                    help="the examples folder (default: the repository's)")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTRING",
                    help="only runs whose name contains SUBSTRING")
    ap.add_argument("--keep", action="store_true", help="keep passing runs' files")
    ap.add_argument("-v", "--verbose", action="store_true")
    opt = ap.parse_args()
    try:
        import numpy  # noqa: F401
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        print(f"FAIL: {e}: this oracle needs numpy, onnx and onnxruntime; run scripts/setup.sh")
        return 1
    tessera = os.path.abspath(opt.tessera)
    workdir = os.path.abspath(opt.workdir)
    os.makedirs(workdir, exist_ok=True)
    passed = failed = 0
    for run in RUNS:
        if opt.k and not any(s in run[0] for s in opt.k):
            continue
        try:
            ok, msg = check_run(run, tessera, os.path.abspath(opt.examples), workdir, opt.keep)
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
    print(f"onnx examples oracle: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
