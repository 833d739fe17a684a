"""model_peers.py — the peers beside tessera: finding a Python that imports each,
running tessera and each peer (a worker process per peer and model, started as
`bench_model.py --worker JOB`), the onnxruntime worker, and checking outputs."""
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from model_common import HERE, IN_VENV, VENV_PYTHON, BenchError, note, st_layout, st_read, warn
from model_torch import worker_torch

PEERS = ("torch", "torch-compile", "ort", "ref")
PEER_MODULES = {"torch": "torch", "torch-compile": "torch", "ort": "onnxruntime"}
DRIVER = os.path.join(HERE, "bench_model.py")  # the worker processes' entry point


# ---------------------------------------------------------------------------
# Peer workers: one process per peer and model, so each loads its own copy of
# the weights and gives the memory back; a job file in, outputs as .npy and a
# JSON line out. (worker_torch is in model_torch.py.)


def worker_ort(job):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto
    sys.path.insert(0, HERE)
    import onnx_export

    class InPlaceExporter(onnx_export.Exporter):
        """The weights as external data pointing into the tessera weights file
        itself (raw little-endian at the offsets its header gives): nothing copied."""

        def __init__(self, graph, layout, symbols):
            super().__init__(graph, {}, symbols)
            for name, (dt, shape, off, nbytes) in layout.items():
                self.define(name, dt, shape)
                t = TensorProto(name=name, data_type=onnx_export.ONNX_DTYPE[dt], dims=shape)
                t.data_location = TensorProto.EXTERNAL
                for k, v in (("location", os.path.basename(job["weights"])), ("offset", str(off)),
                             ("length", str(nbytes))):
                    e = t.external_data.add()
                    e.key, e.value = k, v
                self.inits.append(t)

    note("  ort: exporting the graph to ONNX (weights read in place), then the session")
    graph = onnx_export.load_graph(job["graph"])
    feeds = {k: np.array(a) for k, (_, a) in st_read(job["inputs"]).items()}
    symbols = onnx_export.bind_symbols(graph, None, {k: list(a.shape) for k, a in feeds.items()}, job["graph"])
    model = InPlaceExporter(graph, st_layout(job["weights"]), symbols).export()
    # Beside the weights: external data is found relative to the model file.
    path = os.path.join(os.path.dirname(job["weights"]), f"model-{job['tag']}.onnx")
    onnx.save(model, path)
    del model
    so = ort.SessionOptions()
    so.intra_op_num_threads = job["threads"]
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    note(f"  ort: session {time.perf_counter() - t0:.1f} s")
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(names, feeds)
    times = []
    for _ in range(job["repeats"]):
        t0 = time.perf_counter()
        sess.run(names, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    for name, a in zip(names, outs):
        np.save(job["out"] % name, a)
    os.unlink(path)
    return times


def worker_main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    try:
        times = (worker_ort if job["peer"] == "ort" else worker_torch)(job)
    except Exception as e:  # reported as that peer's error, in one line
        print(json.dumps({"error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"}))
        return 1
    print(json.dumps({"median_ms": statistics.median(times), "times_ms": times}))
    return 0


# ---------------------------------------------------------------------------
# Finding the peers


def probe(python, peer):
    """{"version", "device"} when `python` imports the peer's module, else None, why."""
    mod = PEER_MODULES[peer]
    code = (f"import json, numpy, {mod} as m\n"
            "d = {'version': m.__version__}\n")
    if mod == "torch":
        code += "d['cuda'] = m.cuda.is_available()\nd['gpu'] = m.cuda.get_device_name(0) if d['cuda'] else ''\n"
    code += "print(json.dumps(d))"
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if r.returncode != 0:
        return None, (r.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(r.stdout.strip().splitlines()[-1]), ""


def find_peers(opt):
    """{peer: (python, info)} for the peers found; errors for the ones named but missing."""
    explicit = opt.peers is not None
    tiny = any(m.startswith("tiny-") for m in opt.models)
    peers = opt.peers if explicit else (["torch", "ort"] if opt.target == "cpu" else ["torch", "torch-compile"]) \
        + (["ref"] if tiny else [])
    found, cache = {}, {}
    for peer in peers:
        if peer == "ref":
            found[peer] = (None, {"version": "tessera --target ref"})
            continue
        pythons = [opt.peer_python[peer]] if peer in opt.peer_python else \
            [sys.executable] + ([VENV_PYTHON] if os.path.exists(VENV_PYTHON) and not IN_VENV else [])
        why = []
        for py in pythons:
            key = (py, PEER_MODULES[peer])
            if key not in cache:
                cache[key] = probe(py, peer)
            info, err = cache[key]
            if info is None:
                why.append(f"{py}: cannot import {PEER_MODULES[peer]} ({err})")
            elif opt.target == "cuda" and peer != "ort" and not info.get("cuda"):
                why.append(f"{py}: torch {info['version']} sees no CUDA GPU")
            else:
                found[peer] = (py, info)
                break
        if peer not in found:
            msg = f"peer {peer}: " + "; ".join(why)
            if explicit:
                raise BenchError(msg + "; give --peer-python " + peer + "=PYTHON")
            warn(f"{msg}: its column is '-'")
    return peers, found


# ---------------------------------------------------------------------------
# Running tessera and the peers


def run_tessera(opt, graph, inputs, outputs, target, repeats):
    cmd = [opt.tessera, "run", graph, "--target", target, "--inputs", inputs, "--outputs", outputs,
           "--repeat", str(repeats), "--json"]
    if target == "cpu":
        cmd += ["--threads", str(opt.threads)]
    if target == "cuda" and opt.strict_f32:
        cmd += ["--strict-f32"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise BenchError((r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1].removeprefix("tessera: "))
    timing = json.loads(r.stdout)["timing"]
    ms = timing.get("device_median_ms", -1)
    # (min over the same runs; on cuda the replays' median is all tessera reports)
    ms, low = (ms, ms) if ms and ms > 0 else (timing["median_ms"], timing["min_ms"])
    note(f"  tessera --target {target}: {time.perf_counter() - t0:.1f} s in all (compile, load, "
         f"{repeats} runs), median {ms:.3f} ms")
    return ms, low


def run_peer(opt, peer, python, job):
    path = job["out"].replace("-%s.npy", "-job.json")
    with open(path, "w") as f:
        json.dump(job, f)
    r = subprocess.run([python, DRIVER, "--worker", path], stdout=subprocess.PIPE,
                       text=True, stdin=subprocess.DEVNULL)
    lines = r.stdout.strip().splitlines()
    try:
        res = json.loads(lines[-1])
    except (IndexError, ValueError):
        res = {"error": f"worker exit {r.returncode}"}
    if "error" in res:
        raise BenchError(f"{peer}: {res['error']}")
    note(f"  {peer}: median {res['median_ms']:.3f} ms")
    return res["median_ms"], min(res["times_ms"])


# ---------------------------------------------------------------------------
# Checking outputs


def compare(got, want, rtol, atol, depth):
    """Largest error of got (tessera) against want (a peer), chunked over rows so a
    1.6 GB output is never copied whole. Returns a dict: ok, max_abs, max_rel, where, bad."""
    if got.shape != want.shape:
        return {"ok": False, "why": f"shape {list(got.shape)} against {list(want.shape)}", "max_abs": math.inf,
                "max_rel": math.inf, "where": ()}
    g2, w2 = got.reshape(-1, got.shape[-1]), want.reshape(-1, want.shape[-1])
    step = max(1, (1 << 24) // max(1, w2.shape[1]))
    ss = 0.0
    for i in range(0, w2.shape[0], step):
        ss += float(np.sum(np.square(w2[i:i + step], dtype=np.float64)))
    scale = math.sqrt(ss / max(1, want.size)) * max(1.0, depth / 2)
    tol_abs = atol * max(scale, 1e-30)
    res = {"ok": True, "max_abs": 0.0, "max_rel": 0.0, "where": (), "bad": 0, "excess": 0.0, "tol_abs": tol_abs}
    for i in range(0, w2.shape[0], step):
        g, w = g2[i:i + step].astype(np.float64), w2[i:i + step].astype(np.float64)
        err = np.abs(g - w)
        err[np.isnan(err)] = np.inf
        lim = tol_abs + rtol * np.abs(w)
        res["bad"] += int(np.count_nonzero(~(err <= lim)))
        k = int(np.argmax(err))
        if err.flat[k] > res["max_abs"] or not res["where"]:
            res["max_abs"] = float(err.flat[k])
            res["where"] = np.unravel_index(i * w2.shape[1] + k, got.shape)
        rel = err / np.maximum(np.abs(w), 1e-30)
        res["max_rel"] = max(res["max_rel"], float(np.max(np.where(err == 0, 0, rel))))
        res["excess"] = max(res["excess"], float(np.max(err / lim)))
    res["ok"] = res["bad"] == 0
    return res


def load_tessera_outputs(path):
    outs = {k: a for k, (_, a) in st_read(path).items()}
    if os.environ.get("TESSERA_BENCH_BREAK") == "1":
        # The test switch: one element of each output off by 1% of the output's range.
        for k, a in outs.items():
            a = np.array(a)
            a.flat[a.size // 2] += 0.01 * float(np.max(np.abs(a))) + 0.01
            outs[k] = a
    return outs

