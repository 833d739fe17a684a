"""check_bench.py — tessera bench gemm --target cpu: a small list of problems
verified and timed against OpenBLAS (rows with real numbers, PASSED, the CSV),
f16 and bf16 operands and the fused bias+GELU epilogue on awkward sizes, the
broken-kernel switch reported as FAILED with an error figure and exit 1,
usage errors as one line with exit 2, and --plot writing a PNG when gnuplot
is installed. The speeds themselves are never asserted: only that they are
numbers."""
import argparse
import csv
import os
import pathlib
import shutil
import sys

from harness import check, run, summary

ap = argparse.ArgumentParser()
ap.add_argument("--tessera", required=True)
ap.add_argument("--workdir", required=True)
args = ap.parse_args()
work = pathlib.Path(args.workdir)
work.mkdir(parents=True, exist_ok=True)
T = args.tessera
SMALL = ["--m", "1,7,129", "--n", "17,127", "--k", "129", "--threads", "1"]
HEADER = ["family", "m", "n", "k", "dtype", "b_layout", "epilogue", "threads", "tessera_flops", "peer1",
          "peer1_flops", "ratio1", "fraction_of_ceiling", "max_abs_err", "err_row", "err_col", "from_db", "disposition"]


def rows_of(out):
    """The table's rows: {problem: fields} (problem, B, tessera, peer, ratio, peak, check...)."""
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if f and f[0].count("x") == 2 and f[0].replace("x", "").isdigit():
            rows[f[0]] = f
    return rows


def number(s):
    try:
        return float(s.rstrip("%"))
    except ValueError:
        return None


want = {f"{m}x{n}x129" for m in (1, 7, 129) for n in (17, 127)}

# 1. A passing run: every row verified and timed, CSV and (with gnuplot) a chart.
csv_path, png = work / "bench.csv", work / "bench.png"
for p in (csv_path, png):
    p.unlink(missing_ok=True)
r = run(T, "bench", "gemm", "--target", "cpu", *SMALL, "--csv", csv_path, "--plot", png, timeout=120)
check(r.returncode == 0, f"bench exit {r.returncode}: {r.stdout[-800:]} {r.stderr[-400:]}")
lines = r.stdout.strip().splitlines()
check(lines and lines[-1] == "PASSED", f"last line PASSED: {lines[-1:] if lines else r.stdout}")
rows = rows_of(r.stdout)
check(set(rows) == want, f"one row per problem: {sorted(rows)}")
have_peer = "OpenBLAS" in r.stdout.splitlines()[0] if lines else False
for name, f in sorted(rows.items()):
    check(len(f) == 7 and f[1] == "[K,N]" and f[6] == "ok", f"{name}: row {f}")
    ts = number(f[2])
    check(ts is not None and ts > 0, f"{name}: tessera GFLOP/s {f[2]}")
    pk = number(f[5])
    check(pk is not None and 0 < pk < 1000, f"{name}: fraction of peak {f[5]}")
    if have_peer:
        ob, ratio = number(f[3]), number(f[4])
        check(ob is not None and ob > 0 and ratio is not None and ratio > 0, f"{name}: peer and ratio {f[3:5]}")
check(not have_peer or any(l.startswith("geomean ratio") for l in lines), "geomean line")
if check(csv_path.exists(), "--csv wrote the file"):
    with open(csv_path) as fh:
        rd = list(csv.reader(fh))
    check(rd and rd[0] == HEADER, f"CSV header {rd[:1]}")
    body = rd[1:]
    check(len(body) == 6, f"CSV rows {len(body)}")
    for row in body:
        d = dict(zip(HEADER, row))
        check(len(row) == len(HEADER) and d["disposition"] == "ok" and float(d["tessera_flops"]) > 1e6,
              f"CSV row {row}")
        check(f"{d['m']}x{d['n']}x{d['k']}" in want and d["b_layout"] == "KN" and d["threads"] == "1"
              and d["dtype"] == "f32" and d["epilogue"] == "none", f"CSV {row}")
        if have_peer:
            check(d["peer1"] == "OpenBLAS" and float(d["ratio1"]) > 0, f"CSV peer {row}")
if shutil.which("gnuplot"):
    ok = png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    check(ok, f"--plot wrote a PNG: {r.stderr[-300:]}")
else:
    print("note: gnuplot is not installed (Debian gnuplot-nox): the --plot check is skipped")
    check("gnuplot-nox" in r.stderr, f"--plot without gnuplot warns naming the package: {r.stderr[-300:]}")

# Without gnuplot on PATH: a one-line warning naming the package, no chart, still PASSED.
png2 = work / "nognuplot.png"
png2.unlink(missing_ok=True)
r = run(T, "bench", "gemm", "--target", "cpu", "--m", "7", "--n", "17", "--k", "129", "--threads", "1",
        "--plot", png2, env=dict(os.environ, PATH=str(work / "empty-path")), timeout=60)
warn = [l for l in r.stderr.splitlines() if "gnuplot" in l]
check(r.returncode == 0 and r.stdout.strip().endswith("PASSED") and not png2.exists() and len(warn) == 1
      and "gnuplot-nox" in warn[0], f"--plot without gnuplot: {r.returncode} {r.stderr!r}")

# 2. B as [N,K].
r = run(T, "bench", "gemm", "--target", "cpu", "--m", "7", "--n", "127", "--k", "129", "--transpose-b",
        "--threads", "1", timeout=60)
rows = rows_of(r.stdout)
check(r.returncode == 0 and r.stdout.strip().endswith("PASSED") and rows.get("7x127x129", [""] * 7)[1] == "[N,K]"
      and rows["7x127x129"][6] == "ok", f"--transpose-b: {r.returncode} {r.stdout[-500:]} {r.stderr[-300:]}")

# 2b. f16 and bf16 operands, the fused bias+GELU epilogue, both layouts, awkward sizes:
#     each checked against sgemm (+ the separate epilogue) on the same values.
for extra in (["--dtype", "f16"], ["--dtype", "bf16", "--transpose-b"], ["--epilogue", "bias_gelu"],
              ["--dtype", "bf16", "--epilogue", "bias_gelu", "--transpose-b"]):
    r = run(T, "bench", "gemm", "--target", "cpu", "--m", "1,17", "--n", "7,129", "--k", "127", "--threads", "2",
            "--csv", work / "dt.csv", *extra, timeout=120)
    rows = rows_of(r.stdout)
    check(r.returncode == 0 and r.stdout.strip().endswith("PASSED") and len(rows) == 4
          and all(f[6] == "ok" and number(f[2]) for f in rows.values()),
          f"{extra}: {r.returncode} {r.stdout[-600:]} {r.stderr[-300:]}")
    with open(work / "dt.csv") as fh:
        body = list(csv.DictReader(fh))
    dt = extra[1] if extra[0] == "--dtype" else "f32"
    epi = "bias_gelu" if "--epilogue" in extra else "none"
    check(len(body) == 4 and all(b["dtype"] == dt and b["epilogue"] == epi and b["disposition"] == "ok"
                                 for b in body), f"{extra}: CSV {body[:1]}")
    if epi != "none":
        check("bias + GELU (fused)" in r.stdout.splitlines()[0], f"{extra}: header {r.stdout.splitlines()[:1]}")

# 3. The broken kernel: FAILED with the error and where, no speed, exit 1.
env = dict(os.environ, TESSERA_BENCH_BREAK="1")
r = run(T, "bench", "gemm", "--target", "cpu", "--m", "7", "--n", "17,127", "--k", "129", "--threads", "1",
        "--csv", work / "broken.csv", env=env, timeout=60)
check(r.returncode == 1, f"broken: exit {r.returncode}")
lines = r.stdout.strip().splitlines()
check(lines and lines[-1] == "FAILED", f"broken: last line FAILED: {lines[-1:]}")
rows = rows_of(r.stdout)
check(len(rows) == 2, f"broken: rows {sorted(rows)}")
for name, f in rows.items():
    text = " ".join(f[6:])
    check(f[2] == "-" and "FAILED" in text and "max error 1 at (" in text, f"broken {name}: {f}")
with open(work / "broken.csv") as fh:
    body = list(csv.DictReader(fh))
check(len(body) == 2 and all(b["disposition"] == "FAILED" and float(b["max_abs_err"]) >= 0.5 for b in body),
      f"broken CSV {body}")

# 4. Usage errors: one line, exit 2.
for argv in (["gemm"], ["gemm", "--target", "cpu", "--m", "1"], ["gemm", "--target", "cpu", "--suite", "huge"],
             ["gemm", "--target", "cpu", "--m", "0", "--n", "1", "--k", "1"], ["gemm", "--target", "cpu", "--bogus"],
             ["gemm", "--target", "cpu", "--suite", "quick", "--m", "1", "--n", "1", "--k", "1"], ["nonsense"], [],
             ["gemm", "--target", "cpu", "--dtype", "f64"], ["gemm", "--target", "cpu", "--epilogue", "relu"],
             ["gemm", "--target", "gpu"], ["gemm", "--target", "cuda", "--suite", "d768,bogus"]):
    r = run(T, "bench", *argv, timeout=30)
    err = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(err) == 1 and err[0].startswith("tessera: error:") and not r.stdout,
          f"usage {argv}: exit {r.returncode}, {err}")
# tf32 is a GPU mode: refused on the CPU with a reason.
r = run(T, "bench", "gemm", "--target", "cpu", "--dtype", "tf32", timeout=30)
check(r.returncode == 2 and "tf32 is a GPU" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
      f"--dtype tf32 on cpu: {r.returncode} {r.stderr!r}")
# The broken switch with a narrow dtype and the epilogue still FAILS.
r = run(T, "bench", "gemm", "--target", "cpu", "--m", "17", "--n", "127", "--k", "129", "--dtype", "f16",
        "--epilogue", "bias_gelu", "--threads", "1", env=env, timeout=60)
check(r.returncode == 1 and r.stdout.strip().endswith("FAILED") and "max error 1 at (" in r.stdout,
      f"broken f16 epilogue: {r.returncode} {r.stdout[-300:]}")
r = run(T, "bench", "gemm", "--help", timeout=30)
check(r.returncode == 0 and r.stdout.startswith("usage: tessera bench gemm"), "bench gemm --help")

sys.exit(summary("check_bench"))
