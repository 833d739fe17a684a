#!/usr/bin/env python3
"""bench_tune_examples.py — what `tessera tune` buys whole models on this CPU:
for each model, tune it (default trials, a fresh database per model and
thread count), then time the model with its default schedules and with the
database's (`run --db`), interleaved in rounds so that drift on the machine
hits both alike, each run checked against the reference interpreter (--check)
before its time counts. Prints a table (tuning time, tasks, the tuner's
kernel-time estimate, measured latency default vs tuned); --csv FILE too.

    python3 benchmarks/bench_tune_examples.py [--tessera build/tessera] [--threads 1,2]
        [--repeat 200] [--rounds 3] [--trials N] [--workdir DIR] [--csv FILE]
        [MODEL.json[:SYM=N,...] ...]

Default models: examples/{gpt,bert,llama}/graph.json and the ViT of
examples/vit (generated into the work folder by examples/vit/make_vit.py,
with numpy) at batch 8. A model argument may carry binds: vit.json:batch=8.
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        sys.exit(f"bench_tune_examples: {' '.join(map(str, cmd))} failed (exit {p.returncode}):\n{p.stderr.strip()}")
    return p


def median_ms(tessera, model, binds, threads, repeat, db=None):
    cmd = [tessera, "run", model, "--target", "cpu", "--threads", threads, "--repeat", repeat, "--check",
           "--seed", "1"] + binds
    if db:
        cmd += ["--db", db]
    p = run(cmd)
    if db and "tuned schedules for" not in p.stderr:
        sys.exit(f"bench_tune_examples: run --db did not apply the database: {p.stderr}")
    return float(re.search(r"time\s+median ([0-9.]+) ms", p.stdout).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--tessera", default=os.path.join(ROOT, "build", "tessera"))
    ap.add_argument("--python", default=os.path.join(ROOT, "build", "venv", "bin", "python3"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=0, help="tune's --trials (default: tune's own)")
    ap.add_argument("--workdir", default="/tmp/tessera-bench-tune")
    ap.add_argument("--csv")
    o = ap.parse_args()
    os.makedirs(o.workdir, exist_ok=True)

    models = o.models
    if not models:
        models = [os.path.join(ROOT, "examples", m, "graph.json") for m in ("gpt", "bert", "llama")]
        vit = os.path.join(o.workdir, "vit")
        run([o.python, os.path.join(ROOT, "examples", "vit", "make_vit.py"), "--out", vit])
        models.append(os.path.join(vit, "graph.json") + ":batch=8")

    rows = []
    print(f"{'model':<16} {'threads':>7} {'tune s':>7} {'tasks':>5} {'measured':>8} {'est. default':>12} "
          f"{'est. tuned':>10} {'default ms':>10} {'tuned ms':>9} {'speed-up':>8}", flush=True)
    for spec in models:
        path, _, bind_text = spec.partition(":")
        binds = []
        for b in filter(None, bind_text.split(",")):
            binds += ["--bind", b]
        name = os.path.basename(os.path.dirname(path)) + (f" ({bind_text})" if bind_text else "")
        for threads in o.threads.split(","):
            db = os.path.join(o.workdir, f"{os.path.basename(os.path.dirname(path))}-t{threads}.jsonl")
            if os.path.exists(db):
                os.remove(db)
            cmd = [o.tessera, "tune", path, "--target", "cpu", "--threads", threads, "--db", db] + binds
            if o.trials:
                cmd += ["--trials", str(o.trials)]
            t0 = time.monotonic()
            p = run(cmd)
            tune_s = time.monotonic() - t0
            m = re.search(r"kernel time (\S+ \S+) with the default schedules, (\S+ \S+) tuned", p.stdout)
            est_def, est_tuned = (m.group(1), m.group(2)) if m else ("-", "-")
            m = re.search(r"(\d+) of (\d+) tasks tuned in [\d.]+ s: (\d+) candidates measured", p.stdout)
            tasks, measured = (m.group(2), m.group(3)) if m else ("-", "-")
            d, t = [], []
            for _ in range(o.rounds):
                d.append(median_ms(o.tessera, path, binds, threads, o.repeat))
                t.append(median_ms(o.tessera, path, binds, threads, o.repeat, db))
            dm, tm = sorted(d)[len(d) // 2], sorted(t)[len(t) // 2]
            row = {"model": name, "threads": threads, "tune_s": round(tune_s, 1), "tasks": tasks,
                   "measured": measured, "est_default": est_def, "est_tuned": est_tuned, "default_ms": dm,
                   "tuned_ms": tm, "speedup": round(dm / tm, 3)}
            rows.append(row)
            print(f"{name:<16} {threads:>7} {tune_s:>7.1f} {tasks:>5} {measured:>8} {est_def:>12} {est_tuned:>10} "
                  f"{dm:>10.3f} {tm:>9.3f} {dm / tm:>7.2f}x", flush=True)
    if o.csv:
        with open(o.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    print(f"(latency: median of {o.repeat} runs per round, the median of {o.rounds} interleaved rounds; "
          "every run checked against the reference)")


if __name__ == "__main__":
    main()
