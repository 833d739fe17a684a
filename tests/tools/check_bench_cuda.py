"""check_bench_cuda.py — tessera bench gemm --target cuda from the command
line, without a GPU: no CUDA driver is one error line and exit 1 (also with
--tune, whose probe runs in a child process); the CUDA target's usage errors
are one line and exit 2; and on the mock driver (tests/cuda_mock), whose
launches run no kernel, every problem FAILS verification (exit 1, CSV rows
marked FAILED): an output no kernel wrote never passes. Passing runs on the
emulator are tests/tools/test_cuda_bench.c's."""
import argparse
import csv
import os
import pathlib
import sys

from harness import check, run, summary

ap = argparse.ArgumentParser()
ap.add_argument("--tessera", required=True)
ap.add_argument("--mock", help="the mock libcuda (tests/cuda_mock); absent in builds without the CUDA headers")
ap.add_argument("--workdir", required=True)
args = ap.parse_args()
work = pathlib.Path(args.workdir)
work.mkdir(parents=True, exist_ok=True)
T = args.tessera
SMALL = ["--m", "7", "--n", "17", "--k", "33"]


def env_with(**kv):
    env = dict(os.environ)
    env.pop("TESSERA_BENCH_BREAK", None)
    env.update(kv)
    return env


def one_error_line(r, what, status, needle):
    lines = r.stderr.strip().splitlines()
    check(r.returncode == status, f"{what}: exit {r.returncode}, want {status}: {r.stdout[-400:]} {r.stderr[-400:]}")
    check(len(lines) == 1 and lines[0].startswith("tessera: error: ") and needle in lines[0],
          f"{what}: one error line containing {needle!r}: {r.stderr!r}")
    check(r.stdout == "", f"{what}: nothing on stdout: {r.stdout[-400:]!r}")


# 1. No driver: one line, exit 1, with and without --tune.
no_driver = env_with(TESSERA_LIBCUDA=str(work / "nonexistent" / "libcuda.so.1"))
built_with_cuda = args.mock is not None
needle = "no CUDA driver" if built_with_cuda else "--target cuda"
for extra in ([], ["--tune", "--db", str(work / "tune.jsonl")], ["--epilogue", "bias_gelu", "--dtype", "bf16"]):
    r = run(T, "bench", "gemm", "--target", "cuda", *SMALL, *extra, env=no_driver)
    one_error_line(r, f"no driver {extra}", 1, needle)
check(not (work / "tune.jsonl").exists() or (work / "tune.jsonl").stat().st_size == 0,
      "no driver: --tune wrote no records")

# 2. The CUDA target's usage errors: one line, exit 2, before any driver.
r = run(T, "bench", "gemm", "--target", "cuda", "--dtype", "tf32", "--strict-f32", *SMALL, env=no_driver)
one_error_line(r, "--strict-f32 with --dtype tf32", 2, "--strict-f32")
r = run(T, "bench", "gemm", "--target", "cuda", "--threads", "2", *SMALL, env=no_driver)
one_error_line(r, "--threads on cuda", 2, "--threads")

# 3. The mock driver runs no kernel: each problem FAILS, the table and CSV say so.
if built_with_cuda:
    out_csv = work / "mock.csv"
    out_csv.unlink(missing_ok=True)
    mock = env_with(TESSERA_LIBCUDA=args.mock)
    r = run(T, "bench", "gemm", "--target", "cuda", "--m", "7,17", "--n", "17", "--k", "33", "--csv", out_csv,
            env=mock, timeout=300)
    lines = r.stdout.strip().splitlines()
    check(r.returncode == 1, f"mock: exit {r.returncode}: {r.stdout[-800:]} {r.stderr[-400:]}")
    check(lines and lines[-1] == "FAILED", f"mock: last line FAILED: {lines[-1:]}")
    check(any(line.startswith("# GPU Mock GPU (sm_90a") for line in lines), f"mock: the GPU header line: {lines[:6]}")
    for p in ("7x17x33", "17x17x33"):
        row = [line for line in lines if line.startswith(p + " ")]
        check(len(row) == 1 and "FAILED (max error" in row[0], f"mock: {p} FAILED: {row}")
    check("2 of 2 problems FAILED verification" in r.stdout, "mock: the failure count")
    if out_csv.exists():
        with open(out_csv) as f:
            rows = list(csv.DictReader(f))
        check(len(rows) == 2 and all(x["disposition"] == "FAILED" and x["dtype"] == "f32" for x in rows),
              f"mock: CSV rows {rows}")
    else:
        check(False, "mock: --csv written")

sys.exit(summary("check_bench_cuda"))
