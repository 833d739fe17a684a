"""check_bench_model.py — benchmarks/bench_model.py (`tessera bench model`) on the
tiny models against onnxruntime and the reference interpreter: rows with real
numbers and real error figures, PASSED, the CSV and the chart; the broken-output
switch reported as FAILED with the error and where, exit 1 (through the
launcher); a peer named in --peers that cannot be imported as one line with
exit 1, and a missing default peer as a warning and a '-' column; bad usage as
one line with exit 2, from the script and from the launcher. Speeds are never asserted, only that they are numbers. Exit 77
(skipped) when the given Python lacks numpy or onnxruntime."""
import argparse
import csv
import os
import pathlib
import shutil
import subprocess
import sys

from harness import check, run, summary

ap = argparse.ArgumentParser()
ap.add_argument("--tessera", required=True)
ap.add_argument("--python", required=True, help="a Python with numpy, onnx and onnxruntime (build/venv's)")
ap.add_argument("--workdir", required=True)
args = ap.parse_args()
work = pathlib.Path(args.workdir)
work.mkdir(parents=True, exist_ok=True)
SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "bench_model.py"
probe = subprocess.run([args.python, "-c", "import numpy, onnx, onnxruntime"], capture_output=True, text=True)
if probe.returncode != 0:
    print(f"check_bench_model: skipped: {args.python} cannot import numpy, onnx and onnxruntime "
          "(run scripts/setup.sh)")
    sys.exit(77)

# torch hidden whatever the Python has: a module named torch that fails to import.
notorch = work / "notorch"
notorch.mkdir(exist_ok=True)
(notorch / "torch.py").write_text('raise ImportError("torch hidden by check_bench_model.py")\n')
ENV = dict(os.environ, PYTHONPATH=str(notorch))
ENV.pop("TESSERA_BENCH_BREAK", None)
MODELS = ["tiny-gpt2", "tiny-bert", "tiny-llama"]
HEADER = ["model", "family", "batch", "seq", "target", "threads", "peer", "tessera_ms", "peer_ms", "ratio",
          "tessera_tokens_per_s", "peer_tokens_per_s", "tessera_gflops", "tessera_min_ms", "peer_min_ms",
          "max_abs_err", "max_rel_err", "err_at", "disposition"]


def bench(*argv, env=ENV, timeout=120):
    """The script itself, as the launcher would start it."""
    return run(args.python, SCRIPT, "--tessera", args.tessera, *argv, env=env, timeout=timeout)


def launcher(*argv, env=ENV, timeout=120):
    """`tessera bench model ARGS`, with the Python given."""
    return run(args.tessera, "bench", "model", *argv, env=dict(env, TESSERA_PYTHON=args.python), timeout=timeout)


def rows_of(out):
    """{model: fields} of the table's rows."""
    return {f[0]: f for f in (line.split() for line in out.splitlines()) if f and f[0] in MODELS}


def number(s):
    try:
        return float(s)
    except ValueError:
        return None


# 1. The tiny models against onnxruntime and the interpreter: PASSED, numbers, CSV, chart.
csv_path, png = work / "tiny.csv", work / "tiny.png"
for p in (csv_path, png):
    p.unlink(missing_ok=True)
r = bench("--model", "tiny", "--peers", "ort,ref", "--repeats", "2", "--threads", "1", "--workdir", work / "models",
          "--csv", csv_path, "--plot", png)
lines = r.stdout.strip().splitlines()
check(r.returncode == 0 and lines and lines[-1] == "PASSED",
      f"tiny: exit {r.returncode}, last line {lines[-1:]}: {r.stdout[-800:]} {r.stderr[-800:]}")
check(any(l.startswith("tessera: tessera ") for l in lines), f"tessera version line: {lines[:3]}")
check(any(l.startswith("peers: ") and "onnxruntime" in l for l in lines), f"peers line: {lines[:3]}")
rows = rows_of(r.stdout)
check(sorted(rows) == sorted(MODELS), f"one row per tiny model: {sorted(rows)}")
for name, f in rows.items():
    # model batch seq tessera tok/s GFLOP/s ort ratio ref ratio ok
    vals = [number(x) for x in f[1:10]]
    check(len(f) == 11 and f[10] == "ok" and f[1:3] == ["2", "32"], f"{name}: row {f}")
    check(all(v is not None and v > 0 for v in vals), f"{name}: numbers in {f}")
for peer in ("ort", "ref"):
    check(any(l.startswith(f"geomean ratio vs {peer}: ") for l in lines), f"geomean vs {peer}")
check("max abs err" in r.stderr and "against ort" in r.stderr and "against ref" in r.stderr,
      f"the comparisons on stderr: {r.stderr[-500:]}")
if check(csv_path.exists(), "--csv wrote the file"):
    with open(csv_path) as fh:
        rd = list(csv.reader(fh))
    check(rd and rd[0] == HEADER, f"CSV header {rd[:1]}")
    body = [dict(zip(HEADER, row)) for row in rd[1:]]
    check(sorted((b["model"], b["peer"]) for b in body) == sorted((m, p) for m in MODELS for p in ("ort", "ref")),
          f"CSV rows {[(b['model'], b['peer']) for b in body]}")
    for b in body:
        err = number(b["max_abs_err"])
        # Real values compared: a nonzero error (different summation orders), far inside f32 tolerance.
        check(b["disposition"] == "ok" and err is not None and 0 < err < 1e-3 and len(b["err_at"].split()) == 3,
              f"CSV errors {b}")
        check(0 < number(b["tessera_min_ms"]) <= number(b["tessera_ms"])
              and 0 < number(b["peer_min_ms"]) <= number(b["peer_ms"]), f"CSV min <= median: {b}")
        check(number(b["ratio"]) and abs(number(b["ratio"]) - number(b["peer_ms"]) / number(b["tessera_ms"])) < 1e-2
              * number(b["ratio"]), f"CSV ratio = peer_ms / tessera_ms: {b}")
if shutil.which("gnuplot") or subprocess.run([args.python, "-c", "import matplotlib"]).returncode == 0:
    check(png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"--plot wrote a PNG: {r.stderr[-300:]}")
else:
    check("gnuplot-nox" in r.stderr and not png.exists(), f"--plot without a plotter warns: {r.stderr[-300:]}")
check(not (work / "models").exists() or not any((work / "models").iterdir()),
      f"models removed without --keep: {list((work / 'models').iterdir()) if (work / 'models').exists() else ''}")

# 2. The broken-output switch: every model FAILED with the error and where, no speed, exit 1.
r = launcher("--model", "tiny-gpt2,tiny-llama", "--peers", "ort", "--repeats", "1", "--threads", "1",
          "--csv", work / "broken.csv", env=dict(ENV, TESSERA_BENCH_BREAK="1"))
lines = r.stdout.strip().splitlines()
check(r.returncode == 1 and lines and lines[-1] == "FAILED", f"broken: exit {r.returncode}, {lines[-1:]}")
rows = rows_of(r.stdout)
check(sorted(rows) == ["tiny-gpt2", "tiny-llama"], f"broken: rows {sorted(rows)}")
for name, f in rows.items():
    text = " ".join(f)
    check(f[3] == "-" and "FAILED (logits differs from ort: max abs err" in text and " at [1, 0, 0]" in text,
          f"broken {name}: {f}")
with open(work / "broken.csv") as fh:
    body = list(csv.DictReader(fh))
check(len(body) == 2 and all(b["disposition"] == "FAILED" and b["tessera_ms"] == b["peer_ms"] == "-" and
                             float(b["max_abs_err"]) > 1e-2 and b["err_at"] == "1 0 0" for b in body),
      f"broken CSV {body}")

# 3. A peer named in --peers that cannot be imported: one line, exit 1, before any work.
r = bench("--model", "tiny-gpt2", "--peers", "torch", "--workdir", work / "never")
err = r.stderr.strip().splitlines()
check(r.returncode == 1 and len(err) == 1 and err[0].startswith("bench_model.py: error: peer torch: ")
      and "cannot import torch" in err[0]
      and not r.stdout and not (work / "never").exists(), f"--peers torch without torch: {r.returncode} {err}")
# Not named: a warning and a '-' column, still PASSED.
r = bench("--model", "tiny-bert", "--repeats", "1", "--threads", "1")
rows = rows_of(r.stdout)
check(r.returncode == 0 and r.stdout.strip().endswith("PASSED") and "warning: peer torch" in r.stderr
      and "tiny-bert" in rows and rows["tiny-bert"][6:8] == ["-", "-"], f"torch missing by default: {r.stdout[-600:]}")

# 4. Bad usage: one line, exit 2.
for argv in (["--model", "gpt3"], ["--peers", "tvm"], ["--seq", "0"], ["--model", "tiny-gpt2", "--seq", "4096"],
             ["--target", "cuda", "--peers", "ort"], ["--repeats", "0"], ["--csv", work / "no" / "such.csv"]):
    r = bench(*argv, timeout=60)
    err = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(err) == 1 and err[0].startswith("bench_model.py: error:") and not r.stdout,
          f"usage {argv}: exit {r.returncode}, {err}")
r = bench("--help", timeout=60)
check(r.returncode == 0 and "--peers" in r.stdout and "tiny" in r.stdout, "--help")

# 5. Through the launcher: its help, its error lines, and the broken switch above.
r = launcher("--help", timeout=60)
check(r.returncode == 0 and r.stdout.startswith("usage: tessera bench model") and "--peers" in r.stdout,
      f"tessera bench model --help: {r.returncode} {r.stdout[:200]} {r.stderr[-300:]}")
r = launcher("--peers", "tvm", timeout=60)
check(r.returncode == 2 and r.stderr.strip().startswith("tessera: error: bench model: --peers: unknown peer 'tvm'")
      and len(r.stderr.strip().splitlines()) == 1, f"launcher usage error: {r.returncode} {r.stderr!r}")

sys.exit(summary("check_bench_model"))
