#!/usr/bin/env python3
"""bench_model.py — whole models (BENCHMARKS.md, "Whole models"): tessera against
PyTorch, onnxruntime and its own reference interpreter, on the same random
weights and the same inputs, every output compared before its time counts.
`tessera bench model ARGS` runs this script as `bench_model.py --tessera PATH ARGS`.

    bench_model.py --tessera PATH [--target cpu|cuda] [--model NAME ...] [--seq LIST]
                   [--batch LIST] [--peers LIST] [--repeats N] [--threads N]
                   [--workdir DIR] [--keep] [--csv FILE] [--plot FILE] [--quick]

Models (random weights, seeded, f32; Hugging Face names, linear weights [out, in]):
  gpt2   GPT-2 small: 12 pre-LN layers, d 768, 12 heads, vocab 50257, 1024 learned
         positions, tanh-GELU MLP 3072, logits through the tied embedding
  bert   BERT-base: embeddings (word 30522, 512 positions, token type 0) + LayerNorm,
         12 post-LN layers, d 768, 12 heads, erf-GELU FFN 3072, additive key mask;
         output the last hidden state
  llama  LLaMA-style ~0.85B: 16 layers, d 2048, 32 query / 8 key-value heads of 64,
         RMSNorm, rotary (rotate-half, theta 10000), SwiGLU 5632, vocab 32000, untied lm_head
  tiny   the three families at 2 layers, d 64 (tiny-gpt2, tiny-bert, tiny-llama)
Shapes (seq x batch): on cuda, gpt2 128/512/1024 x 1/8, bert 128/512 x 1/32,
llama 512/2048 x 1 (--quick: the CPU default). On the CPU (2 cores finish in a
few minutes): gpt2 128 x 1, bert 128 x 1, llama 512 x 1; --quick: seq 128 x 1
for each. tiny: 32 x 2. --seq and --batch replace the lists.

Peers: torch (an nn.Module written here, eager; f32, and tf32 matmuls on cuda
like tessera's default), torch-compile (torch.compile mode="max-autotune", cuda
default only), ort (onnxruntime, CPU, on benchmarks/onnx_export.py's export of
the same graph, its initializers read in place from the weights file), ref
(`tessera run --target ref`, tiny models only). Default: torch,ort on cpu,
torch,torch-compile on cuda, and ref when a tiny model is in the run. Each peer
runs in its own process under the first Python that imports what it needs: this
one (`tessera bench model` takes $TESSERA_PYTHON, else build/venv's), then
build/venv's, or --peer-python PEER=PATH. A peer found nowhere is a warning and
a "-" column, or, when named in --peers, a one-line error and exit 1.

Timing: tessera by `tessera run --repeat N --json` (the median of N runs
including the first, as it has no separate warm-up; on cuda the CUDA-graph
replay time, copies excluded); peers by one untimed warm-up run (three for
torch-compile) then the median of N. Latency is ms per forward, tokens/s is
batch*seq / latency, ratio is peer_ms / tessera_ms (> 1: tessera faster),
geomean over the models that passed. The CSV also gives each side's fastest run:
on a machine that other work shares, the medians move with its load.

Check: each output of each peer against tessera's, |tessera - peer| <= rtol*|peer|
+ atol*scale, with f32 rtol 1e-3 and atol 1e-4, and scale = RMS(peer output) *
max(1, layers/2): summation-order differences grow with the size of the terms
summed (not with an output that cancels near zero) and add up layer after layer
through the residual stream. On cuda with tf32 (tessera's default), rtol 3e-2
and atol 1e-2. A mismatch marks the model FAILED with the largest error and
where, and no speed. TESSERA_BENCH_BREAK=1 perturbs one element of tessera's
outputs (a test switch: every model FAILS). The last line is PASSED or FAILED;
exit 0, 1 on FAILED or an error, 2 on bad usage.
"""
import argparse
import csv
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
if HERE not in sys.path:  # the modules beside this script, whichever way Python was started
    sys.path.insert(0, HERE)

# This file is the driver (arguments, the run, the report); beside it model_common.py (paths,
# messages, safetensors), model_graphs.py (the models as tessera graphs), model_peers.py
# (finding, running and checking the peers; ort's worker) and model_torch.py (PyTorch's).
# model_common comes first: it checks numpy, and re-runs this script under build/venv's
# Python when numpy is missing.
from model_common import PROG, ROOT, BenchError, error_line, note, st_read, st_write, warn  # noqa: E402

import numpy as np  # noqa: E402

import bench_chart  # noqa: E402
from model_graphs import CONFIGS, FAMILIES, SEEDS, build_graph, make_inputs, model_flops  # noqa: E402
from model_peers import (PEER_MODULES, PEERS, compare, find_peers, load_tessera_outputs, run_peer,  # noqa: E402
                         run_tessera, worker_main)

SHAPES = {  # (seqs, batches)
    "cuda": {"gpt2": ([128, 512, 1024], [1, 8]), "bert": ([128, 512], [1, 32]), "llama": ([512, 2048], [1])},
    "cpu": {"gpt2": ([128], [1]), "bert": ([128], [1]), "llama": ([512], [1])},
    "quick": {"gpt2": ([128], [1]), "bert": ([128], [1]), "llama": ([128], [1])},
    "tiny": {"gpt2": ([32], [2]), "bert": ([32], [2]), "llama": ([32], [2])},
}
TOL = {"f32": (1e-3, 1e-4), "tf32": (3e-2, 1e-2)}  # (rtol, atol)


# ---------------------------------------------------------------------------
# One model: build, write, run everything, compare


def output_bytes(cfg, seq, batch):
    return 4 * batch * seq * (cfg["d"] if cfg["family"] == "bert" else cfg["vocab"])


def model_dir(opt, name, cfg, shapes):
    """Writes (or reuses, under --keep) the graph and weights; returns the folder."""
    seed = SEEDS[cfg["family"]] + opt.seed
    d = os.path.join(opt.workdir, f"{name}-seed{seed}")
    stamp = os.path.join(d, "stamp.json")
    want = json.dumps({"cfg": cfg, "seed": seed, "format": 1}, sort_keys=True)
    g = build_graph(name, cfg, seed)
    if os.path.exists(stamp) and open(stamp).read() == want:
        note(f"{name}: reusing {d}")
        return d
    os.makedirs(d, exist_ok=True)
    # The weights, and tessera's output with one peer's at a time beside it.
    need = g.nbytes() + 2 * max(output_bytes(cfg, s, b) for s, b in shapes) + (64 << 20)
    free = shutil.disk_usage(d).free
    if free < need:
        raise BenchError(f"{d}: {free >> 20} MiB free, {name} needs {need >> 20} MiB for its weights and "
                         "outputs (give --workdir elsewhere)")
    note(f"{name}: writing {len(g.weights)} random weights ({g.nbytes() / 1e6:.0f} MB, "
         f"{g.nbytes() / 4e6:.0f}M parameters) under {d}")
    t0 = time.perf_counter()
    with open(os.path.join(d, "graph.json"), "w") as f:
        f.write(g.graph_json())
    g.write_weights(os.path.join(d, "weights.safetensors"))
    with open(stamp, "w") as f:
        f.write(want)
    note(f"{name}: weights written in {time.perf_counter() - t0:.1f} s")
    return d


def bench_one(opt, name, cfg, d, seq, batch, peers, found):
    """One row: {peer: ms}, tessera ms, and the check."""
    tag = f"s{seq}-b{batch}"
    row = {"model": name, "family": cfg["family"], "seq": seq, "batch": batch, "tessera_ms": None,
           "peers": {}, "min_ms": {}, "checks": {}, "status": "ok", "why": "", "flops": model_flops(cfg, seq, batch)}
    graph, weights = os.path.join(d, "graph.json"), os.path.join(d, "weights.safetensors")
    inputs = os.path.join(d, f"inputs-{tag}.safetensors")
    st_write(inputs, make_inputs(cfg, seq, batch, seed=opt.seed + seq * 1000 + batch))
    out_fmt = os.path.join(d, f"out-{tag}-%s")
    tess_out = out_fmt % "tessera" + ".safetensors"
    tiny = name.startswith("tiny-")
    note(f"{name} seq {seq} batch {batch}: tessera --target {opt.target} ({opt.repeats} runs)")
    try:
        row["tessera_ms"], row["min_ms"]["tessera"] = run_tessera(opt, graph, inputs, tess_out, opt.target,
                                                                  opt.repeats)
        tess = load_tessera_outputs(tess_out)
    except BenchError as e:
        row.update(status="FAILED", why=f"tessera: {e}")
        return row
    rtol, atol = TOL["tf32" if opt.target == "cuda" and not opt.strict_f32 else "f32"]
    for peer in peers:
        if peer not in found:
            continue  # '-' in the table (warned about at the start)
        if peer == "ref" and not tiny:
            note(f"{name}: ref runs the tiny models only (the interpreter does ~0.2 GFLOP/s): '-'")
            continue
        note(f"{name} seq {seq} batch {batch}: {peer}")
        try:
            if peer == "ref":
                ref_out = out_fmt % "ref" + ".safetensors"
                ms, low = run_tessera(opt, graph, inputs, ref_out, "ref", min(opt.repeats, 3))
                theirs = {k: a for k, (_, a) in st_read(ref_out).items()}
            else:
                job = {"peer": peer, "cfg": cfg, "target": opt.target, "threads": opt.threads,
                       "repeats": opt.repeats, "tf32": opt.target == "cuda" and not opt.strict_f32,
                       "graph": graph, "weights": weights, "inputs": inputs, "tag": tag,
                       "out": out_fmt % peer + "-%s.npy", "outputs": list(tess)}
                ms, low = run_peer(opt, peer, found[peer][0], job)
                theirs = {k: np.load(job["out"] % k, mmap_mode="r") for k in tess}
        except (BenchError, OSError) as e:
            row["peers"][peer] = None
            if row["status"] == "ok":
                row.update(status="FAILED", why=f"{peer}: {e}")
            continue
        checks = {k: compare(tess[k], theirs[k], rtol, atol, cfg["layers"]) for k in tess}
        row["checks"][peer] = checks
        bad = [(k, c) for k, c in checks.items() if not c["ok"]]
        if bad:
            k, c = bad[0]
            where = ", ".join(str(int(i)) for i in c["where"])
            if row["status"] == "ok":  # the first mismatch is the one reported
                row.update(status="FAILED", why=c.get("why") or (
                    f"{k} differs from {peer}: max abs err {c['max_abs']:.3g} at [{where}], "
                    f"{c['bad']} elements beyond tolerance"))
        row["peers"][peer], row["min_ms"][peer] = ms, low
        for k, c in checks.items():
            note(f"  {k} against {peer}: max abs err {c['max_abs']:.3g}, max rel err {c['max_rel']:.3g}, "
                 f"{c['excess']:.3g} of the tolerance" if "excess" in c else f"  {k}: {c.get('why')}")
        for f in os.listdir(d):
            if f.startswith(f"out-{tag}-{peer}"):
                os.unlink(os.path.join(d, f))
    for f in (tess_out, inputs):
        os.unlink(f)
    return row


# ---------------------------------------------------------------------------
# Report: table, geomean, CSV, chart


def fmt(x, f="{:.3f}"):
    return "-" if x is None or not math.isfinite(x) else f.format(x)


def print_header_row(peers):
    cols = f"{'model':<11} {'batch':>5} {'seq':>5} {'tessera ms':>11} {'tok/s':>9} {'GFLOP/s':>8}"
    for p in peers:
        cols += f" {p + ' ms':>12} {'ratio':>6}"
    print(cols + "  check", flush=True)


def print_row(row, peers):
    ok = row["status"] == "ok"
    ms = row["tessera_ms"] if ok else None
    line = (f"{row['model']:<11} {row['batch']:>5} {row['seq']:>5} {fmt(ms):>11} "
            f"{fmt(row['batch'] * row['seq'] * 1e3 / ms if ms else None, '{:.0f}'):>9} "
            f"{fmt(row['flops'] / ms / 1e6 if ms else None, '{:.1f}'):>8}")
    for p in peers:
        pm = row["peers"].get(p) if ok else None
        line += f" {fmt(pm):>12} {fmt(pm / ms if pm and ms else None, '{:.2f}'):>6}"
    print(line + ("  ok" if ok else f"  FAILED ({row['why']})"), flush=True)


def geomeans(rows, peers):
    out = {}
    for p in peers:
        r = [row["peers"][p] / row["tessera_ms"] for row in rows
             if row["status"] == "ok" and row["peers"].get(p) and row["tessera_ms"]]
        if r:
            out[p] = (math.exp(sum(map(math.log, r)) / len(r)), len(r))
    return out


CSV_FIELDS = ["model", "family", "batch", "seq", "target", "threads", "peer", "tessera_ms", "peer_ms", "ratio",
              "tessera_tokens_per_s", "peer_tokens_per_s", "tessera_gflops", "tessera_min_ms", "peer_min_ms",
              "max_abs_err", "max_rel_err", "err_at", "disposition"]


def write_csv(path, rows, peers, opt):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for row in rows:
            ok, tok = row["status"] == "ok", row["batch"] * row["seq"]
            ms = row["tessera_ms"] if ok else None
            for p in ([p for p in peers if p in row["peers"]] or ["-"]):
                pm = row["peers"].get(p) if ok else None  # a FAILED model has no speed
                worst = max(row["checks"].get(p, {}).values(), key=lambda c: c["max_abs"], default=None)
                w.writerow({"model": row["model"], "family": row["family"], "batch": row["batch"],
                            "seq": row["seq"], "target": opt.target, "threads": opt.threads, "peer": p,
                            "tessera_ms": fmt(ms, "{:.4f}"), "peer_ms": fmt(pm, "{:.4f}"),
                            "ratio": fmt(pm / ms if pm and ms else None, "{:.4f}"),
                            "tessera_tokens_per_s": fmt(tok * 1e3 / ms if ms else None, "{:.1f}"),
                            "peer_tokens_per_s": fmt(tok * 1e3 / pm if pm else None, "{:.1f}"),
                            "tessera_gflops": fmt(row["flops"] / ms / 1e6 if ms else None, "{:.2f}"),
                            "tessera_min_ms": fmt(row["min_ms"].get("tessera") if ok else None, "{:.4f}"),
                            "peer_min_ms": fmt(row["min_ms"].get(p) if ok else None, "{:.4f}"),
                            "max_abs_err": fmt(worst["max_abs"], "{:.4g}") if worst else "-",
                            "max_rel_err": fmt(worst["max_rel"], "{:.4g}") if worst else "-",
                            "err_at": " ".join(str(int(i)) for i in worst["where"]) if worst else "",
                            "disposition": "ok" if ok else "FAILED"})


def plot(path, rows, peers, title):
    """A PNG bar chart of the ratios against each peer (bench_chart.py: matplotlib, else gnuplot)."""
    labels = [f"{r['model']} b{r['batch']} s{r['seq']}" for r in rows]
    peers = [p for p in peers if any(r["peers"].get(p) for r in rows)]
    if not peers:
        warn("--plot: no peer measured, no ratios to draw; no chart")
        return
    # A ratio per bar on a log axis (the interpreter is ~100x slower); NaN: no bar.
    data = [[(r["peers"].get(p) or math.nan) / r["tessera_ms"] if r["status"] == "ok" and r["tessera_ms"]
             else math.nan for p in peers] for r in rows]
    bench_chart.ratio_chart(path, labels, [f"vs {p}" for p in peers], data, title, "peer ms / tessera ms",
                            log=True, rotate=30, note=note, warn=warn)


# ---------------------------------------------------------------------------
# Command line


def machine_line(opt, found):
    if opt.target == "cuda":
        gpu = next((i.get("gpu") for _, i in found.values() if i.get("gpu")), "")
        try:
            r = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30)
            gpu = r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else gpu
        except (OSError, subprocess.TimeoutExpired):
            pass
        return f"GPU {gpu or 'unknown'}"
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    load = ", load average %.2f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else ""
    return f"CPU {cpu}, {os.cpu_count()} cores{load}, {opt.threads} threads for every side"


def tessera_version(opt):
    try:
        r = subprocess.run([opt.tessera, "version"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise BenchError(f"{opt.tessera}: cannot run: {e.strerror}")
    if r.returncode != 0:
        raise BenchError(f"{opt.tessera} version: exit {r.returncode}")
    lines = r.stdout.strip().splitlines()
    head = lines[0] if lines else "tessera ?"
    commit = next((l.strip() for l in lines if "commit" in l), "")
    if not commit:
        g = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "-uno"], capture_output=True, text=True)
        if g.returncode == 0:
            commit = f"source tree at {g.stdout.strip()}{' (modified)' if dirty.stdout.strip() else ''}"
    backend = next((l.strip() for l in lines if l.strip().startswith("LLVM" if opt.target == "cpu" else "NVRTC")), "")
    return ", ".join(x for x in (head, commit, backend) if x)


def parse_list(text, what):
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"{what}: expected a comma-separated list of positive integers, "
                                         f"got '{text}'")
    return out


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """Bad usage: one line, exit 2."""
        print(error_line(f"{message} (see --help)"), file=sys.stderr)
        sys.exit(2)


def parse_args(argv):
    ap = Parser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 epilog="\n\n".join(__doc__.split("\n\n")[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tessera", required=True, help="the tessera binary")
    ap.add_argument("--target", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--model", nargs="+", default=None, metavar="NAME",
                    help="gpt2, bert, llama, tiny (or tiny-gpt2 ...); commas allowed (default gpt2 bert llama)")
    ap.add_argument("--seq", type=lambda s: parse_list(s, "--seq"), help="sequence lengths, e.g. 128,512")
    ap.add_argument("--batch", type=lambda s: parse_list(s, "--batch"), help="batch sizes, e.g. 1,8")
    ap.add_argument("--peers", help=f"comma-separated, from {', '.join(PEERS)}; 'none' for tessera alone")
    ap.add_argument("--peer-python", action="append", default=[], metavar="PEER=PYTHON",
                    help="the Python that runs a peer (default: this one, then build/venv's)")
    ap.add_argument("--repeats", type=int, help="timed runs per side (default 5 on cpu, 30 on cuda, 3 with --quick)")
    ap.add_argument("--threads", type=int, help="CPU threads for every side (default: one per core)")
    ap.add_argument("--strict-f32", action="store_true", help="cuda: f32 matrix products without tf32, both sides")
    ap.add_argument("--seed", type=int, default=0, help="added to the weight and input seeds")
    ap.add_argument("--workdir", help="where weights, inputs and outputs go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the workdir's models (and reuse them next time)")
    ap.add_argument("--csv", help="also write the rows as CSV")
    ap.add_argument("--plot", help="a PNG bar chart of the ratios (matplotlib, else gnuplot)")
    ap.add_argument("--quick", action="store_true", help="fewer shapes and runs")
    opt = ap.parse_args(argv)
    names = [n for m in (opt.model or ["gpt2,bert,llama"]) for n in m.split(",") if n]
    opt.models = []
    for n in names:
        for m in ([f"tiny-{f}" for f in FAMILIES] if n == "tiny" else [n]):
            if m not in CONFIGS:
                ap.error(f"--model: unknown model '{n}' (gpt2, bert, llama, tiny, tiny-gpt2, tiny-bert, tiny-llama)")
            if m not in opt.models:
                opt.models.append(m)
    if opt.peers is not None:
        opt.peers = [] if opt.peers.strip() == "none" else [p for p in opt.peers.split(",") if p]
        for p in opt.peers:
            if p not in PEERS:
                ap.error(f"--peers: unknown peer '{p}' ({', '.join(PEERS)}, or none)")
        if opt.target == "cuda" and "ort" in opt.peers:
            ap.error("--peers: ort is a CPU peer; leave it out with --target cuda")
    pythons = {}
    for item in opt.peer_python:
        p, eq, py = item.partition("=")
        if not eq or p not in PEER_MODULES or not py:
            ap.error(f"--peer-python: expected PEER=PYTHON with PEER one of {', '.join(PEER_MODULES)}, "
                     f"got '{item}'")
        pythons[p] = py
    if "torch" in pythons:
        pythons.setdefault("torch-compile", pythons["torch"])
    opt.peer_python = pythons
    if opt.repeats is None:
        opt.repeats = 3 if opt.quick else (30 if opt.target == "cuda" else 5)
    opt.threads = opt.threads or os.cpu_count() or 1
    for what in ("csv", "plot"):
        where = os.path.dirname(os.path.abspath(getattr(opt, what) or "."))
        if getattr(opt, what) and not os.path.isdir(where):
            ap.error(f"--{what}: folder {where} does not exist")
    if opt.repeats < 1 or opt.threads < 1:
        ap.error("--repeats and --threads must be at least 1")
    return opt


def shapes_of(opt, name, cfg):
    table = SHAPES["tiny" if name.startswith("tiny-") else
                   "quick" if opt.quick and opt.target == "cpu" else
                   "cpu" if opt.quick or opt.target == "cpu" else "cuda"]
    seqs, batches = table[cfg["family"]]
    return [(s, b) for s in (opt.seq or seqs) for b in (opt.batch or batches)]


def main(argv):
    if argv[:1] == ["--worker"] and len(argv) == 2:
        return worker_main(argv[1])
    opt = parse_args(argv)
    for name in opt.models:
        cfg = CONFIGS[name]
        for seq, _ in shapes_of(opt, name, cfg):
            if seq > cfg.get("positions", 1 << 30):
                print(error_line(f"--seq {seq}: {name} has {cfg['positions']} positions"), file=sys.stderr)
                return 2
    tmp = None
    try:
        version = tessera_version(opt)
        peers, found = find_peers(opt)
        if opt.workdir:
            os.makedirs(opt.workdir, exist_ok=True)
        else:
            opt.workdir = tmp = tempfile.mkdtemp(prefix="tessera-bench-model-")
        dtype = "tf32 matmuls (f32 storage)" if opt.target == "cuda" and not opt.strict_f32 else "f32"
        print(f"bench model: whole models on {opt.target}, {dtype}; {machine_line(opt, found)}; "
              f"median of {opt.repeats} runs; {time.strftime('%Y-%m-%d %H:%M %Z')}")
        print(f"tessera: {version}")
        print("peers: " + ("; ".join(f"{p}: " + (found[p][1]["version"] if p == "ref" else
                                                 f"{PEER_MODULES[p]} {found[p][1]['version']} ({found[p][0]})")
                                     if p in found else f"{p}: not found" for p in peers) or "none"))
        rows = []
        print_header_row(peers)
        for name in opt.models:
            cfg = CONFIGS[name]
            shapes = shapes_of(opt, name, cfg)
            d = model_dir(opt, name, cfg, shapes)
            for seq, batch in shapes:
                row = bench_one(opt, name, cfg, d, seq, batch, peers, found)
                rows.append(row)
                print_row(row, peers)
            if not opt.keep:
                shutil.rmtree(d, ignore_errors=True)
        gm = geomeans(rows, peers)
        for p, (g, n) in gm.items():
            print(f"geomean ratio vs {p}: {g:.3f} over {n} model(s) (> 1: tessera faster)")
        if opt.csv:
            write_csv(opt.csv, rows, peers, opt)
        if opt.plot:
            plot(opt.plot, rows, peers, f"tessera whole models on {opt.target}: peer ms / tessera ms\n"
                                        f"(> 1: tessera faster; no bar: failed or not measured)")
        if opt.keep:
            note(f"models kept under {opt.workdir} (--keep: reused by the next run with the same --workdir)")
        if hasattr(os, "getloadavg") and opt.target == "cpu":
            print("load average at the end %.2f (other work on the machine moves the medians)" % os.getloadavg()[0])
        failed = sum(r["status"] != "ok" for r in rows)
        print("FAILED" if failed else "PASSED")
        return 1 if failed else 0
    except BenchError as e:
        print(error_line(str(e)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(error_line("interrupted"), file=sys.stderr)
        return 1
    finally:
        if tmp and not opt.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
