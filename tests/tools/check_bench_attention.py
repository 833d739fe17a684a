"""check_bench_attention.py — benchmarks/bench_attention.py (tessera bench
attention) with a numpy-only Python and --peer numpy on tiny configurations of
awkward sizes: every row checked and timed, PASSED, the CSV; the broken-output
switch reported as FAILED with the error and where, exit 1; --peer torch
without PyTorch as one line, exit 1; usage errors as one line, exit 2; --help
through the tessera launcher. The speeds themselves are never asserted: only
that they are numbers."""
import argparse
import csv
import os
import pathlib
import re
import sys

from harness import check, run, summary

ap = argparse.ArgumentParser()
ap.add_argument("--tessera", required=True)
ap.add_argument("--python", required=True, help="a Python with numpy (without torch: --peer torch must fail)")
ap.add_argument("--script", required=True, help="benchmarks/bench_attention.py")
ap.add_argument("--workdir", required=True)
args = ap.parse_args()
work = pathlib.Path(args.workdir)
work.mkdir(parents=True, exist_ok=True)
T, PY, SCRIPT = args.tessera, args.python, args.script

has_torch = run(PY, "-c", "import torch", timeout=60).returncode == 0
if has_torch:
    print(f"note: {PY} has torch: the --peer torch-without-torch check is skipped")

# seq 1, 7, 17, 129 with head_dim 64; causal, grouped-query, multi-query, batch 2.
CONFIGS = {"1x2x1x64": "1,2,1,64", "1x4x7x64-kv1-causal": "1,4,7,64,causal,1", "2x2x17x64": "2,2,17,64",
           "1x4x17x64-kv2-causal": "1,4,17,64,causal,2", "1x2x129x64-causal": "1,2,129,64,causal",
           "1x4x129x64-kv2": "1,4,129,64,2"}
CFG_ARGS = [a for c in CONFIGS.values() for a in ("--config", c)]
COMMON = ["--tessera", T, "--peer", "numpy", "--repeats", "3", "--threads", "1"]
NAME = re.compile(r"^\d+x\d+x\d+x\d+(-kv\d+)?(-causal)?$")
HEADER = ["config", "batch", "heads", "kv_heads", "seq", "head_dim", "causal", "dtype", "target", "threads", "flops",
          "tessera_ms", "tessera_flops_per_s", "peer", "peer_ms", "peer_flops_per_s", "ratio", "max_abs_err",
          "err_at", "disposition"]


def rows_of(out):
    """{config: [config, tessera, peer, ratio, check...]} from the table."""
    return {f[0]: f for f in (line.split() for line in out.splitlines()) if f and NAME.match(f[0])}


def number(s):
    try:
        return float(s)
    except ValueError:
        return None


# 1. f32, passing: every config a row with numbers, geomean, CSV with the real error figures.
csv_path = work / "attn.csv"
csv_path.unlink(missing_ok=True)
r = run(PY, SCRIPT, *COMMON, *CFG_ARGS, "--csv", csv_path, timeout=120)
lines = r.stdout.strip().splitlines()
check(r.returncode == 0 and lines and lines[-1] == "PASSED", f"f32: exit {r.returncode}: {r.stdout[-900:]} "
      f"{r.stderr[-400:]}")
check(any(l.startswith("peer: numpy") and "NOT PyTorch" in l for l in lines), "f32: the peer is labelled numpy")
check(any(l.startswith("tessera: tessera ") for l in lines), "f32: tessera version in the header")
rows = rows_of(r.stdout)
check(set(rows) == set(CONFIGS), f"f32: one row per config: {sorted(rows)}")
for name, f in sorted(rows.items()):
    ts, peer, ratio = (number(x) for x in f[1:4])
    check(len(f) == 5 and f[4] == "ok" and ts and ts > 0 and peer and peer > 0 and ratio and ratio > 0,
          f"f32 {name}: row {f}")
check(any(l.startswith("geomean ratio (tessera / numpy): ") and l.endswith(f"over {len(CONFIGS)} configs")
          for l in lines), "f32: geomean line")
if check(csv_path.exists(), "--csv wrote the file"):
    with open(csv_path) as fh:
        rd = list(csv.reader(fh))
    check(rd and rd[0] == HEADER, f"CSV header {rd[:1]}")
    body = [dict(zip(HEADER, x)) for x in rd[1:]]
    check(len(body) == len(CONFIGS), f"CSV rows {len(body)}")
    for d in body:
        b, h, s, hd = (int(d[k]) for k in ("batch", "heads", "seq", "head_dim"))
        flops = 4.0 * b * h * s * s * hd * (0.5 if d["causal"] == "1" else 1.0)
        check(d["config"] in CONFIGS and d["disposition"] == "ok" and d["peer"] == "numpy" and d["dtype"] == "f32"
              and d["threads"] == "1" and abs(float(d["flops"]) - flops) <= 1e-5 * flops, f"CSV row {d}")
        # The real check: f32 within 1e-3 relative of the float64 reference, and not bit-identical by accident
        # of a zero output (the inputs are never zero).
        err = float(d["max_abs_err"])
        check(0 <= err < 1e-4, f"CSV {d['config']}: max_abs_err {err}")
        ms, rate = float(d["tessera_ms"]), float(d["tessera_flops_per_s"])
        check(ms > 0 and abs(rate - flops / (ms * 1e-3)) <= 1e-3 * rate + 1, f"CSV {d['config']}: rate {rate}")

# 2. bf16 through the same path (rounding of inputs, bf16 outputs read back).
r = run(PY, SCRIPT, *COMMON, "--dtype", "bf16", "--config", "1,4,17,64,causal,2", "--config", "1,2,129,64",
        timeout=60)
rows = rows_of(r.stdout)
check(r.returncode == 0 and r.stdout.strip().endswith("PASSED") and len(rows) == 2
      and all(f[4] == "ok" for f in rows.values()), f"bf16: {r.returncode} {r.stdout[-600:]} {r.stderr[-300:]}")

# 3. The broken output: every config FAILED with the error and where, no speed, exit 1.
env = dict(os.environ, TESSERA_BENCH_BREAK="1")
r = run(PY, SCRIPT, *COMMON, "--config", "1,2,7,64", "--config", "1,4,17,64,causal,2", "--csv", work / "broken.csv",
        env=env, timeout=60)
lines = r.stdout.strip().splitlines()
check(r.returncode == 1 and lines and lines[-1] == "FAILED", f"broken: exit {r.returncode}, {lines[-2:]}")
rows = rows_of(r.stdout)
check(len(rows) == 2, f"broken: rows {sorted(rows)}")
for name, f in rows.items():
    text = " ".join(f[4:])
    check(f[1:4] == ["-", "-", "-"] and re.match(r"FAILED \(max error 1 at \(0, \d+, \d+, \d+\): ", text),
          f"broken {name}: {f}")
with open(work / "broken.csv") as fh:
    body = list(csv.DictReader(fh))
check(len(body) == 2 and all(b["disposition"] == "FAILED" and b["tessera_ms"] == "" and
                             0.99 < float(b["max_abs_err"]) < 1.01 for b in body), f"broken CSV {body}")

# 4. --peer torch without PyTorch: one line naming the fallback, exit 1.
if not has_torch:
    r = run(PY, SCRIPT, "--tessera", T, "--peer", "torch", "--config", "1,2,7,64", timeout=60)
    err = r.stderr.strip().splitlines()
    check(r.returncode == 1 and len(err) == 1 and "PyTorch is missing" in err[0] and "--peer numpy" in err[0]
          and not r.stdout, f"--peer torch without torch: {r.returncode} {r.stderr!r} {r.stdout[-200:]!r}")

# 5. Usage errors: one line, exit 2, nothing on stdout.
for bad in (["--config", "1,2,7"], ["--config", "1,2,7,64,sideways"], ["--config", "1,3,7,64,2"],
            ["--config", "0,2,7,64"], ["--suite", "quick", "--config", "1,2,7,64"], ["--repeats", "0"],
            ["--target", "tpu"], ["--bogus"]):
    r = run(PY, SCRIPT, "--tessera", T, "--peer", "numpy", *bad, timeout=60)
    err = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(err) == 1 and "error:" in err[0] and not r.stdout,
          f"usage {bad}: exit {r.returncode}, {err}")

# 6. Through the tessera launcher: --help, a usage error in tessera's own form, a run.
env = dict(os.environ, TESSERA_PYTHON=PY, TESSERA_BENCHMARKS=str(pathlib.Path(SCRIPT).parent))
r = run(T, "bench", "attention", "--help", env=env, timeout=60)
check(r.returncode == 0 and r.stdout.startswith("usage: tessera bench attention") and "cpu quick" in r.stdout
      and "--peer" in r.stdout, f"bench attention --help: {r.returncode} {r.stdout[:300]!r} {r.stderr[-300:]!r}")
r = run(T, "bench", "attention", "--config", "1,2", env=env, timeout=60)
check(r.returncode == 2 and r.stderr.strip().startswith("tessera: error: bench attention: --config 1,2:")
      and len(r.stderr.strip().splitlines()) == 1, f"bench attention bad --config: {r.returncode} {r.stderr!r}")
r = run(T, "bench", "attention", "--peer", "numpy", "--repeats", "2", "--config", "1,2,17,64,causal", env=env,
        timeout=60)
check(r.returncode == 0 and r.stdout.strip().endswith("PASSED") and "1x2x17x64-causal" in rows_of(r.stdout)
      and f"({os.path.realpath(T)})" in r.stdout, f"bench attention run: {r.returncode} {r.stdout[-500:]!r}")
# The launcher's own failures: one line, exit 1.
r = run(T, "bench", "attention", "--help", env=dict(env, TESSERA_BENCHMARKS=str(work / "nowhere")), timeout=30)
err = r.stderr.strip().splitlines()
check(r.returncode == 1 and len(err) == 1 and err[0].startswith("tessera: error: bench attention: cannot read ")
      and "bench_attention.py" in err[0], f"no script: {r.returncode} {err}")
r = run(T, "bench", "attention", "--help", env=dict(env, TESSERA_PYTHON=str(work / "no-python")), timeout=30)
err = r.stderr.strip().splitlines()
check(r.returncode == 1 and len(err) == 1 and err[0].startswith("tessera: error: bench attention: cannot run ")
      and "no-python" in err[0], f"no python: {r.returncode} {err}")

sys.exit(summary("check_bench_attention"))
