#!/usr/bin/env python3
"""ort_examples.py — runs tessera models through onnxruntime on the CPU (via
onnx_export.py, same weights, same inputs) and times them: the baseline the CPU
benchmark compares tessera with, and a check that the outputs agree.

    ort_examples.py [MODEL ...] [--inputs FILE] [--expect FILE] [--bind SYMBOL=N]...
                    [--threads N] [--repeat N] [--warmup N] [--save-onnx FILE]

MODEL is a graph.json or a folder holding one (default: examples/gpt, bert and
llama). --inputs reads a safetensors file (`tessera run MODEL --save-inputs FILE`)
whose shapes bind the symbols; without it inputs are random (floats uniform in
[-1, 1], integers inside what they index). --expect compares with `tessera run
--outputs FILE`: max abs/rel error per output, and exit 1 where
|ort − tessera| > atol + rtol·|tessera| (f32: rtol 1e-3, atol 1e-4; f16: 1e-2,
1e-3; bf16: 3e-2, 1e-2). Each model prints a human line, then
`ort_ms=<median> threads=<n> model=<name>`.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import onnx_export  # noqa: E402
from onnx_export import ExportError  # noqa: E402

try:
    import onnxruntime as ort
except ImportError as e:
    sys.exit(f"ort_examples: cannot import onnxruntime ({e}): run scripts/setup.sh")

ROOT = os.path.dirname(HERE)
EXAMPLES = ("gpt", "bert", "llama")
TOLERANCE = {"f32": (1e-3, 1e-4), "f16": (1e-2, 1e-3), "bf16": (3e-2, 1e-2)}  # (rtol, atol)


def graph_path(model):
    return os.path.join(model, "graph.json") if os.path.isdir(model) else model


def model_name(path):
    path = os.path.abspath(path)
    base = os.path.basename(path)
    if base == "graph.json":
        return os.path.basename(os.path.dirname(path))
    return os.path.splitext(base)[0]


def random_inputs(graph, weights_path, symbols, seed):
    """Inputs like `tessera run --fill random`: floats in [-1, 1]; an integer
    input that a gather reads as indices stays inside every table it indexes
    (else inside [0, seq))."""
    rng = np.random.default_rng(seed)
    tables = onnx_export.read_safetensors(weights_path) if weights_path else {}
    limit = {}
    for n in graph["nodes"]:
        if n["op"] == "gather" and len(n["inputs"]) > 1 and n["inputs"][0] in tables:
            shape = tables[n["inputs"][0]][1].shape
            dim = shape[n.get("attrs", {}).get("axis", 0) % len(shape)]
            limit[n["inputs"][1]] = min(limit.get(n["inputs"][1], dim), dim)
    out = {}
    for i in graph["inputs"]:
        shape = onnx_export.resolve_dims(i["shape"], symbols, f"input {i['name']}")
        dt, np_dt = i["dtype"], onnx_export.NP_DTYPE[i["dtype"]]
        if dt in ("f32", "f16"):
            out[i["name"]] = rng.uniform(-1, 1, size=shape).astype(np_dt)
        elif dt in ("i32", "i64"):
            hi = limit.get(i["name"], symbols.get("seq", 16))
            out[i["name"]] = rng.integers(0, max(hi, 1), size=shape).astype(np_dt)
        elif dt == "bool":
            out[i["name"]] = rng.integers(0, 2, size=shape).astype(np.bool_)
        else:
            raise ExportError(f"input '{i['name']}': cannot hand random {dt} to onnxruntime")
    return out


def read_arrays(path):
    """A safetensors file as {name: (dtype, array)}; bf16 cannot go to onnxruntime
    from numpy, so it is refused."""
    tensors = onnx_export.read_safetensors(path)
    for name, (dt, _) in tensors.items():
        if dt == "bf16":
            raise ExportError(f"{path}: tensor '{name}' is bf16, which numpy cannot hand "
                              "to onnxruntime")
    return tensors


def compare(outputs, expect, names, where):
    """Prints each output's error against tessera's; returns True when all agree."""
    ok = True
    for name, got in zip(names, outputs):
        if name not in expect:
            print(f"  {name}: missing from the expected outputs ({where})")
            ok = False
            continue
        dt, want = expect[name]
        if got.shape != want.shape:
            print(f"  {name}: onnxruntime gives shape {list(got.shape)}, "
                  f"tessera {list(want.shape)}")
            ok = False
            continue
        rtol, atol = TOLERANCE.get(dt, (0.0, 0.0))
        g, w = got.astype(np.float64), want.astype(np.float64)
        err = np.abs(g - w)
        err = np.where(np.isnan(g) & np.isnan(w), 0.0, err)
        err = np.where((g == w), 0.0, err)  # equal infinities
        err = np.where(np.isnan(err), np.inf, err)
        rel = err / np.maximum(np.abs(w), np.finfo(np.float64).tiny)
        bad = int(np.sum(err > atol + rtol * np.abs(w)))
        max_abs = float(np.max(err)) if err.size else 0.0
        max_rel = float(np.max(np.where(err == 0, 0.0, rel))) if err.size else 0.0
        verdict = ("ok" if bad == 0
                   else f"FAIL: {bad} of {err.size} beyond rtol {rtol:g} atol {atol:g}")
        print(f"  {name}: max abs err {max_abs:.3g}, max rel err {max_rel:.3g} ({verdict})")
        ok = ok and bad == 0
    return ok


def run_model(path, opt, binds):
    """Converts, runs and times one model; returns True when it agrees with --expect."""
    name = model_name(path)
    graph = onnx_export.load_graph(path)
    weights_path = (os.path.join(os.path.dirname(os.path.abspath(path)), graph["weights"])
                    if graph.get("weights") else "")
    feeds, shapes = None, None
    if opt.inputs:
        tensors = read_arrays(opt.inputs)
        names = [i["name"] for i in graph["inputs"]]
        missing = [n for n in names if n not in tensors]
        if missing:
            raise ExportError(f"{opt.inputs}: no tensor for input(s) {', '.join(missing)}")
        feeds = {n: tensors[n][1] for n in names}
        for i in graph["inputs"]:
            if tensors[i["name"]][0] != i["dtype"]:
                raise ExportError(f"{opt.inputs}: input '{i['name']}' is {tensors[i['name']][0]}, "
                                  f"the graph says {i['dtype']}")
        shapes = {n: list(a.shape) for n, a in feeds.items()}
    model, symbols = onnx_export.export(path, binds, shapes)
    if feeds is None:
        feeds = random_inputs(graph, weights_path, symbols, opt.seed)
    if opt.save_onnx:
        import onnx
        onnx.save(model, opt.save_onnx)

    so = ort.SessionOptions()
    so.intra_op_num_threads = opt.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if opt.save_optimized:
        so.optimized_model_filepath = opt.save_optimized
    t0 = time.perf_counter()
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    out_names = [o.name for o in sess.get_outputs()]

    outputs = None
    for _ in range(max(opt.warmup, 1)):
        outputs = sess.run(out_names, feeds)
    times = []
    for _ in range(opt.repeat):
        t0 = time.perf_counter()
        sess.run(out_names, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    sym = " ".join(f"{k}={v}" for k, v in symbols.items())
    print(f"{name}: onnxruntime {ort.__version__} CPU, {opt.threads} thread(s), {sym}: "
          f"median {med:.3f} ms, min {min(times):.3f}, max {max(times):.3f} over {opt.repeat} runs "
          f"(session {load_ms:.0f} ms, {len(model.graph.node)} ONNX nodes)")
    ok = True
    if opt.expect:
        ok = compare(outputs, onnx_export.read_safetensors(opt.expect), out_names, opt.expect)
    print(f"ort_ms={med:.4f} threads={opt.threads} model={name}")
    sys.stdout.flush()
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help="graph.json files or folders (default: the examples)")
    ap.add_argument("--inputs",
                    help="safetensors inputs (tessera run --save-inputs); one model only")
    ap.add_argument("--expect", help="tessera's outputs to compare with (tessera run --outputs)")
    ap.add_argument("--bind", action="append", metavar="SYMBOL=N", help="size of a symbolic dim")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    ap.add_argument("--repeat", type=int, default=20, help="timed runs (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    ap.add_argument("--seed", type=int, default=0, help="seed for random inputs")
    ap.add_argument("--save-onnx", metavar="FILE",
                    help="write the converted model (one model only)")
    ap.add_argument("--save-optimized", metavar="FILE",
                    help="write onnxruntime's optimized model, to see what it fused "
                         "(one model only)")
    opt = ap.parse_args()
    models = opt.models or [os.path.join(ROOT, "examples", m) for m in EXAMPLES]
    one_only = [f for f in ("inputs", "expect", "save_onnx", "save_optimized") if getattr(opt, f)]
    if len(models) != 1 and one_only:
        ap.error(f"--{one_only[0].replace('_', '-')} needs exactly one model")
    if opt.threads < 1 or opt.repeat < 1:
        ap.error("--threads and --repeat must be at least 1")
    ok = True
    try:
        binds = onnx_export.parse_binds(opt.bind)
        for m in models:
            ok = run_model(graph_path(m), opt, binds) and ok
    except ExportError as e:
        print(f"ort_examples: {e}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
