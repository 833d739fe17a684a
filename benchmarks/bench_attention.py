#!/usr/bin/env python3
"""bench_attention.py — tessera's attention op against PyTorch's
scaled_dot_product_attention on the same inputs and the same device
(BENCHMARKS.md, "Attention"); usually run as `tessera bench attention ...`.

For each configuration [batch, heads, seq, head_dim] q, k and v are drawn once
(seeded, uniform in [-1, 1], rounded to --dtype), written with a one-op graph
(FORMAT.md's attention) to a work folder, run by
`tessera run GRAPH --target T --inputs IN --outputs OUT --repeat N --json`
and by the peer. tessera's output is compared with the peer's before any time
counts; a configuration that differs gets no speed. FLOPs = 4·B·H·S²·D (H the
query heads), half when causal. The last line is PASSED or FAILED.
"""
import argparse
import json
import math
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
if HERE not in sys.path:  # bench_chart.py beside this script, whichever way Python was started
    sys.path.insert(0, HERE)

import bench_chart  # noqa: E402

PROG = os.environ.get("TESSERA_BENCH_PROG", "bench_attention.py")

# [batch, query heads, kv heads, seq, head_dim]; every one runs causal and not.
SUITES = {
    # BENCHMARKS.md's GPU suites (an H100).
    ("cuda", "full"): [(1, 12, 12, s, 64) for s in (128, 256, 512, 1024, 2048)]
    + [(1, 32, 32, s, 128) for s in (512, 1024, 2048, 4096, 8192)]
    + [(8, 32, 32, 1024, 128), (1, 32, 8, 1024, 128), (1, 32, 8, 4096, 128)],
    ("cuda", "quick"): [(1, 12, 12, 128, 64), (1, 12, 12, 1024, 64), (1, 32, 32, 1024, 128),
                        (1, 32, 32, 4096, 128), (8, 32, 32, 1024, 128), (1, 32, 8, 2048, 128)],
    # Scaled to what a 2-core CPU does in minutes: quick well under one, full
    # BENCHMARKS.md's suite without seq 8192 (several).
    ("cpu", "quick"): [(1, 12, 12, s, 64) for s in (128, 512, 1024, 2048)]
    + [(1, 32, 32, 512, 128), (1, 32, 32, 1024, 128), (1, 32, 8, 1024, 128)],
    ("cpu", "full"): [(1, 12, 12, s, 64) for s in (128, 256, 512, 1024, 2048)]
    + [(1, 32, 32, s, 128) for s in (512, 1024, 2048, 4096)]
    + [(8, 32, 32, 1024, 128), (1, 32, 8, 1024, 128), (1, 32, 8, 4096, 128)],
}

# |tessera - peer| <= atol + rtol·|peer|
TOLERANCE = {"f32": (1e-3, 1e-4), "f16": (1e-2, 1e-3), "bf16": (3e-2, 1e-2)}
ST_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16"}

EPILOG = """\
suites (each configuration runs non-causal and causal; hq/hkv = grouped-query):
  cuda quick  (1,12,{128,1024},64) (1,32,{1024,4096},128) (8,32,1024,128) (1,32/8,2048,128)
  cuda full   (1,12,128..2048,64) (1,32,512..8192,128) (8,32,1024,128) (1,32/8,{1024,4096},128)
              — BENCHMARKS.md's attention suite
  cpu quick   (1,12,{128,512,1024,2048},64) (1,32,{512,1024},128) (1,32/8,1024,128)
              — under a minute on 2 cores
  cpu full    (1,12,128..2048,64) (1,32,512..4096,128) (8,32,1024,128) (1,32/8,{1024,4096},128)
              — BENCHMARKS.md's suite without seq 8192: several minutes on 2 cores

timing (median of --repeats):
  tessera cpu   `tessera run --repeat N`: whole runs of the compiled kernels on inputs
                already in memory (the first run is one of the N)
  tessera cuda  `tessera run --repeat N`: replays of the compiled CUDA graph timed by CUDA
                events, inputs already on the GPU (f32 runs with --strict-f32: no tf32)
  torch cpu     time.perf_counter around each call after 3 warm-up calls,
                torch.set_num_threads(--threads)
  torch cuda    CUDA events around each call after 3 warm-up calls
  numpy         a float64 reference (the correctness check when PyTorch is absent), timed
                over min(N, 3) calls and labelled "numpy": not a speed peer
tolerances (|tessera - peer| <= atol + rtol·|peer|): f32 1e-3/1e-4, f16 1e-2/1e-3, bf16 3e-2/1e-2.
TESSERA_BENCH_BREAK=1 perturbs tessera's output (a test switch): every configuration FAILS.
exit status: 0 PASSED, 1 FAILED or error, 2 bad usage."""


def error(msg, status=1):
    """One line on stderr, in the form the tessera command uses when it launched us."""
    if PROG.startswith("tessera "):
        print(f"tessera: error: {PROG[len('tessera '):]}: {msg}", file=sys.stderr)
    else:
        print(f"{PROG}: error: {msg}", file=sys.stderr)
    sys.exit(status)


def warn(msg):
    print(f"{'tessera' if PROG.startswith('tessera ') else PROG}: warning: {msg}", file=sys.stderr)


def note(msg):
    print(f"{'tessera' if PROG.startswith('tessera ') else PROG}: {msg}", file=sys.stderr)


try:
    import numpy as np
except ImportError as _e:
    error(f"numpy is missing ({_e}; python {sys.executable}): run with a Python that has it, e.g. "
          f"TESSERA_PYTHON=build/venv/bin/python (scripts/setup.sh makes it)")


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, not argparse's usage block
        error(f"{message} (see --help)", 2)


def parse_config(text):
    """B,H,S,D[,causal][,kvH] -> (b, hq, hkv, s, d, causal or None)."""
    f = [x.strip() for x in text.split(",")]
    try:
        b, h, s, d = (int(x) for x in f[:4])
    except ValueError:
        b = None
    if len(f) < 4 or b is None or min(b, h, s, d) < 1:
        error(f"--config {text}: expected B,H,S,D[,causal][,kvH] with positive integers", 2)
    causal, hkv = False, h
    for x in f[4:]:
        if x in ("causal", "full"):
            causal = x == "causal"
        elif x.isdigit() and int(x) >= 1:
            hkv = int(x)
        else:
            error(f"--config {text}: '{x}' is neither 'causal', 'full' nor a key/value head count", 2)
    if h % hkv:
        error(f"--config {text}: {hkv} key/value heads do not divide {h} query heads", 2)
    return (b, h, hkv, s, d, causal)


def config_name(c):
    b, hq, hkv, s, d, causal = c
    return f"{b}x{hq}x{s}x{d}" + (f"-kv{hkv}" if hkv != hq else "") + ("-causal" if causal else "")


# ---- tensors -------------------------------------------------------------------------

def round_to(x, dtype):
    """x (f32) rounded to dtype: (the f32 values, the raw bytes for safetensors)."""
    if dtype == "f32":
        return x, x.tobytes()
    if dtype == "f16":
        h = x.astype(np.float16)
        return h.astype(np.float32), h.tobytes()
    bits = x.view(np.uint32)
    bf = ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    return (bf.astype(np.uint32) << np.uint32(16)).view(np.float32), bf.tobytes()


def write_safetensors(path, tensors, dtype):
    """tensors: name -> (shape, raw bytes)."""
    header, offset = {}, 0
    for name, (shape, raw) in tensors.items():
        header[name] = {"dtype": ST_DTYPE[dtype], "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, raw in tensors.values():
            f.write(raw)


def read_safetensors_f32(path, name):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    e = json.loads(blob[8:8 + n])[name]
    lo, hi = e["data_offsets"]
    raw = np.frombuffer(blob, dtype=np.uint8, count=hi - lo, offset=8 + n + lo)
    if e["dtype"] == "F32":
        x = raw.view(np.float32)
    elif e["dtype"] == "F16":
        x = raw.view(np.float16).astype(np.float32)
    elif e["dtype"] == "BF16":
        x = (raw.view(np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)
    else:
        raise ValueError(f"{path}: {name} is {e['dtype']}")
    return x.reshape(e["shape"]).copy()


def graph_json(c, dtype):
    b, hq, hkv, s, d, causal = c
    return {
        "format": "tessera.graph", "version": 1, "name": "attention",
        "inputs": [{"name": "q", "dtype": dtype, "shape": [b, hq, s, d]},
                   {"name": "k", "dtype": dtype, "shape": [b, hkv, s, d]},
                   {"name": "v", "dtype": dtype, "shape": [b, hkv, s, d]}],
        "nodes": [{"name": "attn", "op": "attention", "inputs": ["q", "k", "v"], "outputs": ["o"],
                   "attrs": {"causal": causal}}],
        "outputs": ["o"],
    }


# ---- the peers -----------------------------------------------------------------------

def numpy_attention(q, k, v, causal):
    """float64 softmax(q·kᵀ/√d + causal mask)·v, one head and 512 query rows at a time
    (the scores of a whole 8192-long head would take 512 MB)."""
    b, hq, sq, d = q.shape
    hkv, sk = k.shape[1], k.shape[2]
    group, scale = hq // hkv, 1.0 / math.sqrt(d)
    out = np.empty((b, hq, sq, v.shape[3]), np.float64)
    for bi in range(b):
        for h in range(hq):
            qh = q[bi, h].astype(np.float64)
            kh, vh = k[bi, h // group].astype(np.float64), v[bi, h // group].astype(np.float64)
            for r0 in range(0, sq, 512):
                r1 = min(sq, r0 + 512)
                sc = (qh[r0:r1] @ kh.T) * scale
                if causal:  # query i sees keys j <= i + (sk - sq): FORMAT.md's bottom-right alignment
                    sc[np.arange(sk)[None, :] > np.arange(r0, r1)[:, None] + (sk - sq)] = -np.inf
                m = sc.max(axis=1, keepdims=True)
                m[~np.isfinite(m)] = 0.0
                p = np.exp(sc - m)
                tot = p.sum(axis=1, keepdims=True)
                tot[tot == 0] = 1.0  # a row that sees no key gives zeros
                out[bi, h, r0:r1] = (p / tot) @ vh
    return out


class NumpyPeer:
    name = "numpy"

    def __init__(self, opt):
        self.repeats = min(opt.repeats, 3)
        self.describe = f"numpy {np.__version__} float64 reference (a correctness check, NOT PyTorch)"

    def run(self, c, q, k, v):
        times, out = [], None
        for _ in range(self.repeats):
            t0 = time.perf_counter()
            out = numpy_attention(q, k, v, c[5])
            times.append((time.perf_counter() - t0) * 1e3)
        return out, statistics.median(times)


class TorchPeer:
    name = "PyTorch"

    def __init__(self, opt, torch):
        self.torch, self.opt = torch, opt
        self.cuda = opt.target == "cuda"
        self.dt = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[opt.dtype]
        where = torch.cuda.get_device_name(0) if self.cuda else f"CPU, {opt.threads} thread{'s' * (opt.threads != 1)}"
        self.describe = f"PyTorch {torch.__version__} scaled_dot_product_attention ({where})"
        if not self.cuda:
            torch.set_num_threads(opt.threads)
        else:  # f32 means f32 on both sides: no tf32 in torch either
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        # Start the thread pool (or the CUDA context and its libraries) before
        # the first configuration, whose 3 warm-up calls would not cover it.
        x = torch.ones(1, 4, 256, 64, device="cuda" if self.cuda else "cpu", dtype=self.dt)
        with torch.inference_mode():
            for _ in range(20):
                torch.nn.functional.scaled_dot_product_attention(x, x, x)
        if self.cuda:
            torch.cuda.synchronize()

    def run(self, c, q, k, v):
        torch = self.torch
        F = torch.nn.functional
        dev = "cuda" if self.cuda else "cpu"
        qt, kt, vt = (torch.from_numpy(x).to(device=dev, dtype=self.dt) for x in (q, k, v))
        causal, gqa = c[5], c[1] != c[2]
        try:
            F.scaled_dot_product_attention(qt[:, :1, :1], kt[:, :1, :1], vt[:, :1, :1], enable_gqa=False)
            kw = {"enable_gqa": gqa}
        except TypeError:  # torch before 2.5: repeat the key/value heads once, outside the timing
            kw = {}
            if gqa:
                kt, vt = (t.repeat_interleave(c[1] // c[2], dim=1) for t in (kt, vt))

        def call():
            return F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal, **kw)

        with torch.inference_mode():
            out = call()
            for _ in range(3):
                call()
            times = []
            for _ in range(self.opt.repeats):
                if self.cuda:
                    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    e0.record()
                    call()
                    e1.record()
                    e1.synchronize()
                    times.append(e0.elapsed_time(e1))
                else:
                    t0 = time.perf_counter()
                    call()
                    times.append((time.perf_counter() - t0) * 1e3)
        return out.float().cpu().numpy(), statistics.median(times)


def make_peer(opt):
    if opt.peer == "numpy":
        return NumpyPeer(opt)
    try:
        import torch
        why = None
        if opt.target == "cuda" and not torch.cuda.is_available():
            why = f"PyTorch {torch.__version__} sees no CUDA GPU"
    except Exception as e:  # ImportError, or a broken install failing to load its libraries
        why = f"PyTorch is missing ({type(e).__name__}: {e}; python {sys.executable})"
    if why is None:
        return TorchPeer(opt, torch)
    if opt.peer == "torch":
        error(f"{why}; --peer numpy checks against a numpy float64 reference instead")
    warn(f"{why}: comparing with a numpy float64 reference (--peer numpy); its times are not PyTorch's")
    return NumpyPeer(opt)


# ---- the run -------------------------------------------------------------------------

def run_tessera(opt, c, work):
    """(output as f32, median ms) or raises RuntimeError with tessera's error line."""
    name = config_name(c)
    gpath, ipath, opath = (os.path.join(work, f"{name}.{x}") for x in ("json", "in.safetensors", "out.safetensors"))
    cmd = [opt.tessera, "run", gpath, "--target", opt.target, "--inputs", ipath, "--outputs", opath,
           "--repeat", str(opt.repeats), "--json"]
    if opt.target == "cpu":
        cmd += ["--threads", str(opt.threads)]
    elif opt.dtype == "f32":
        cmd += ["--strict-f32"]
    r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError((r.stderr.strip().splitlines() or [f"tessera run exit {r.returncode}"])[-1])
    timing = json.loads(r.stdout).get("timing", {})
    ms = timing.get("device_median_ms", -1) if opt.target == "cuda" else timing.get("median_ms", -1)
    if ms is None or ms <= 0:
        ms = timing.get("median_ms")
    return read_safetensors_f32(opath, "o"), ms


def compare(got, want, dtype):
    """(ok, max |got - want|, its index, got there, want there); NaN counts as infinite."""
    rtol, atol = TOLERANCE[dtype]
    want = want.astype(np.float64)
    err = np.abs(got.astype(np.float64) - want)
    err[np.isnan(err)] = np.inf
    ok = bool(np.all(err <= atol + rtol * np.abs(want)))
    i = int(np.argmax(err))
    at = tuple(int(x) for x in np.unravel_index(i, got.shape))
    return ok, float(err.flat[i]), at, float(got.flat[i]), float(want.flat[i])


def fmt(x, nd=1):
    """A table cell: nd decimals, 3 significant digits where that would show 0.0; "-" where not measured."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.{nd}f}" if abs(x) >= 10 ** (1 - nd) or x == 0 else f"{x:.3g}"


def cnum(x, nd):
    """A CSV cell: empty where not measured."""
    return "" if x is None or not math.isfinite(x) else f"{x:.{nd}f}"


def header(opt, peer):
    if opt.target == "cpu":
        model = "unknown CPU"
        try:
            with open("/proc/cpuinfo") as f:
                model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), model)
        except OSError:
            pass
        device = f"{model}, {os.cpu_count()} cores; {opt.threads} thread{'s' * (opt.threads != 1)}"
    else:
        device = getattr(peer, "torch", None) and peer.torch.cuda.get_device_name(0)
        if not device:
            r = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                               capture_output=True, text=True) if shutil.which("nvidia-smi") else None
            device = r.stdout.strip().splitlines()[0] if r and r.returncode == 0 and r.stdout.strip() else "GPU"
    r = subprocess.run([opt.tessera, "version"], capture_output=True, text=True)
    version = r.stdout.splitlines()[0] if r.returncode == 0 and r.stdout else f"{opt.tessera} version failed"
    here = os.path.dirname(os.path.abspath(__file__))
    g = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True) \
        if shutil.which("git") else None
    commit = g.stdout.strip() if g and g.returncode == 0 else "unknown"
    if g and g.returncode == 0 and subprocess.run(["git", "-C", here, "diff", "--quiet", "HEAD"],
                                                  capture_output=True).returncode != 0:
        commit += " with local changes"
    print(f"attention forward, {opt.dtype}, target {opt.target}: tessera against {peer.name} "
          f"(median of {opt.repeats} repeats{'; numpy: ' + str(peer.repeats) if peer.name == 'numpy' else ''})")
    print(f"device: {device}")
    print(f"peer: {peer.describe}")
    print(f"tessera: {version} ({os.path.abspath(opt.tessera)}); source commit {commit}")
    unit = "GFLOP/s" if opt.target == "cpu" else "TFLOP/s"
    print(f"rates in {unit}; FLOPs = 4·B·H·S²·D, half when causal")
    print(f"{'config':<26} {'tessera':>9} {peer.name:>9} {'ratio':>6}  check", flush=True)


def plot(path, rows, opt, peer):
    """A PNG bar chart of the ratios (bench_chart.py: matplotlib, else gnuplot)."""
    data = [(r["config"], r["ratio"] if r["ratio"] is not None and math.isfinite(r["ratio"]) else 0.0)
            for r in rows]
    title = f"tessera attention / {peer.name}, {opt.dtype}, {opt.target} (1 = parity; 0 = failed)"
    bench_chart.ratio_chart(path, [n for n, _ in data], [None], [[x] for _, x in data], title, "ratio",
                            log=False, rotate=45, note=note, warn=warn)


def main():
    ap = Parser(prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                description="tessera's attention op against PyTorch's scaled_dot_product_attention on the same\n"
                "inputs and device (BENCHMARKS.md, \"Attention\"); outputs are checked before times count.")
    ap.add_argument("--tessera", required=True, metavar="PATH", help="the tessera executable")
    ap.add_argument("--target", choices=["cpu", "cuda"], default="cpu", help="where both run (default cpu)")
    ap.add_argument("--suite", choices=["quick", "full"], help="the target's suite (default quick; see below)")
    ap.add_argument("--config", action="append", default=[], metavar="B,H,S,D[,causal][,kvH]",
                    help="one configuration instead of a suite (repeatable); kvH: key/value heads")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], help="q, k, v and output (default f32 on cpu, "
                    "bf16 on cuda)")
    ap.add_argument("--peer", choices=["torch", "numpy"], help="default torch when importable, else numpy")
    ap.add_argument("--repeats", type=int, metavar="N", help="timed runs per side (default 10 on cpu, 30 on cuda)")
    ap.add_argument("--threads", type=int, metavar="N", help="cpu: threads for both sides (default: one per core)")
    ap.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    ap.add_argument("--plot", metavar="FILE", help="a PNG bar chart of the ratios (matplotlib, else gnuplot)")
    ap.add_argument("--workdir", metavar="DIR", help="keep graphs, inputs and outputs here (default: a "
                    "temporary folder, removed)")
    opt = ap.parse_args()
    if opt.suite and opt.config:
        error("--suite and --config exclude each other (see --help)", 2)
    if opt.repeats is not None and opt.repeats < 1:
        error(f"--repeats {opt.repeats}: must be at least 1 (see --help)", 2)
    if opt.threads is not None and opt.threads < 1:
        error(f"--threads {opt.threads}: must be at least 1 (see --help)", 2)
    opt.repeats = opt.repeats or (10 if opt.target == "cpu" else 30)
    opt.threads = opt.threads or len(os.sched_getaffinity(0))
    opt.dtype = opt.dtype or ("f32" if opt.target == "cpu" else "bf16")
    if opt.config:
        configs = [parse_config(t) for t in opt.config]
    else:
        configs = [(b, hq, hkv, s, d, causal) for (b, hq, hkv, s, d) in SUITES[(opt.target, opt.suite or "quick")]
                   for causal in (False, True)]
    if not os.access(opt.tessera, os.X_OK):
        error(f"--tessera {opt.tessera}: not an executable")
    peer = make_peer(opt)
    broken = os.environ.get("TESSERA_BENCH_BREAK") == "1"

    csv = None
    if opt.csv:
        try:
            csv = open(opt.csv, "w")
        except OSError as e:
            error(f"{opt.csv}: cannot write: {e.strerror}")
        csv.write("config,batch,heads,kv_heads,seq,head_dim,causal,dtype,target,threads,flops,tessera_ms,"
                  "tessera_flops_per_s,peer,peer_ms,peer_flops_per_s,ratio,max_abs_err,err_at,disposition\n")
    temp = None if opt.workdir else tempfile.mkdtemp(prefix="tessera-attention-")
    work = opt.workdir or temp
    os.makedirs(work, exist_ok=True)
    header(opt, peer)
    unit = 1e9 if opt.target == "cpu" else 1e12
    rows, failed = [], 0
    try:
        for c in configs:
            b, hq, hkv, s, d, causal = c
            name = config_name(c)
            rng = np.random.default_rng([b, hq, hkv, s, d, int(causal)])
            tensors, vals = {}, {}
            for t, h in (("q", hq), ("k", hkv), ("v", hkv)):
                x = rng.uniform(-1.0, 1.0, size=(b, h, s, d)).astype(np.float32)
                x[x == 0] = 0.5  # never zero
                vals[t], raw = round_to(x, opt.dtype)
                tensors[t] = (x.shape, raw)
            with open(os.path.join(work, f"{name}.json"), "w") as f:
                json.dump(graph_json(c, opt.dtype), f)
            write_safetensors(os.path.join(work, f"{name}.in.safetensors"), tensors, opt.dtype)
            del tensors
            flops = 4.0 * b * hq * s * s * d * (0.5 if causal else 1.0)
            row = {"config": name, "ts_ms": None, "peer_ms": None, "ratio": None, "err": None, "at": None}
            got = want = None
            try:
                got, ts_ms = run_tessera(opt, c, work)
            except (RuntimeError, OSError, ValueError, KeyError) as e:
                why = f"FAILED (tessera run: {str(e).removeprefix('tessera: error: ')})"
            if got is not None:
                try:
                    want, peer_ms = peer.run(c, vals["q"], vals["k"], vals["v"])
                except Exception as e:  # the peer's own failure (an unsupported dtype...): no verdict possible
                    why = f"FAILED ({peer.name}: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]})"
            if got is not None and want is not None:
                if broken:
                    got.flat[got.size // 2] += 1.0
                ok, err, at, g, w = compare(got, want, opt.dtype)
                row["err"], row["at"] = err, at
                if ok:
                    row["ts_ms"], row["peer_ms"] = ts_ms, peer_ms
                    row["ratio"] = peer_ms / ts_ms if ts_ms and peer_ms else None
                    why = "ok"
                else:
                    why = f"FAILED (max error {err:.3g} at {at}: {g:.6g} against {w:.6g})"
            rate = (lambda ms: flops / (ms * 1e-3) / unit if ms else None)
            ts_rate, peer_rate = rate(row["ts_ms"]), rate(row["peer_ms"])
            failed += why != "ok"
            rows.append(row)
            print(f"{name:<26} {fmt(ts_rate):>9} {fmt(peer_rate):>9} {fmt(row['ratio'], 2):>6}  {why}", flush=True)
            if csv:
                cells = [name, b, hq, hkv, s, d, int(causal), opt.dtype, opt.target,
                         opt.threads if opt.target == "cpu" else 0, f"{flops:.6g}",
                         cnum(row["ts_ms"], 6), cnum(ts_rate and ts_rate * unit, 0), peer.name,
                         cnum(row["peer_ms"], 6), cnum(peer_rate and peer_rate * unit, 0), cnum(row["ratio"], 4),
                         "" if row["err"] is None else f"{row['err']:.6g}",
                         "" if row["at"] is None else " ".join(map(str, row["at"])), "ok" if why == "ok" else "FAILED"]
                csv.write(",".join(str(x) for x in cells) + "\n")
            if temp:  # inputs of the large configurations take hundreds of MB
                for x in ("json", "in.safetensors", "out.safetensors"):
                    try:
                        os.remove(os.path.join(work, f"{name}.{x}"))
                    except FileNotFoundError:
                        pass
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
        if csv:
            csv.close()
    ratios = [r["ratio"] for r in rows if r["ratio"] and r["ratio"] > 0]
    if ratios:
        gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        print(f"geomean ratio (tessera / {peer.name}): {gm:.3f} over {len(ratios)} configs")
    if opt.plot:
        plot(opt.plot, rows, opt, peer)
    print(f"{failed} of {len(rows)} configs failed")
    print("FAILED" if failed else "PASSED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
