#!/usr/bin/env python3
"""check_db.py — `tessera db show|best|merge` on crafted databases, asserted
on real values: the table's rows, times, GFLOP/s and default marker, --task
and --json; best's pick (failed records never win) and its speed-up over the
default; merge's de-duplication (more timed runs, then the later), written
atomically, also onto one of its inputs; a corrupted database still read,
with one warning per bad line naming FILE:LINE on stderr and exit 0; the
error lines of unreadable and missing files (exit 1) and of bad usage (exit 2).
Stdlib only. Usage: check_db.py --tessera PATH --workdir DIR"""
import argparse
import json
import os
import shutil
import sys

import harness
from harness import check

def run(tessera, *args):
    return harness.run(tessera, "db", *args, timeout=60)


CPU = {"kind": "cpu", "device": "Test CPU 9000", "arch": "znver4", "features": "0123456789abcdef",
       "vector_bits": 512, "vector_regs": 32, "threads": 2, "l1": 49152, "l2": 1048576, "l3": 33554432,
       "sm_count": 0, "driver": 0, "nvrtc": "", "strict_f32": False}
CPU_KEY = "cpu|Test CPU 9000|znver4|f=0123456789abcdef|512|t2"
GPU = {"kind": "cuda", "device": "NVIDIA H100 80GB HBM3", "arch": "sm_90a", "features": "", "vector_bits": 0,
       "vector_regs": 0, "threads": 0, "l1": 0, "l2": 0, "l3": 0, "sm_count": 132, "driver": 13000,
       "nvrtc": "13.0", "strict_f32": False}
GPU_KEY = "cuda|NVIDIA H100 80GB HBM3|sm_90a|132sm|drv13000|nvrtc13.0|tf32"

GEMM_TASK, NORM_TASK = "00000000000000a1", "00000000000000b2"
GEMM_SIG = "gemm f32 16x2304x768 B[N,K] +add,gelu"
GEMM_FLOPS = 2.0 * 16 * 2304 * 768


def gemm(mc, kc, nc, mr=6, nr=32, threads=0):
    return {"mc": mc, "kc": kc, "nc": nc, "mr": mr, "nr": nr, "threads": threads}


def record(task, kind, sig, target, sched, median, count=10, status="ok", default=False, time="2026-11-23T12:00:00Z",
           flops=GEMM_FLOPS, error=""):
    failed_run = status != "ok"
    return {"task": task, "kind": kind, "signature": sig, "target": target, "schedule": sched, "default": default,
            "status": status, "error": error, "median_s": None if failed_run else median,
            "min_s": None if failed_run else median * 0.9, "max_s": None if failed_run else median * 1.5,
            "count": 0 if failed_run else count, "flops": flops, "version": "0.1.0", "time": time}


def write_lines(path, lines, end="\n"):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + end)


def dumps(r):
    return json.dumps(r, separators=(",", ":"))


def base_records():
    return [
        record(GEMM_TASK, "gemm", GEMM_SIG, CPU, gemm(516, 256, 384), 200e-6, default=True),
        record(GEMM_TASK, "gemm", GEMM_SIG, CPU, gemm(96, 512, 768, 4, 32, 1), 100e-6),
        # faster on paper, but it crashed: never the best
        record(GEMM_TASK, "gemm", GEMM_SIG, CPU, gemm(48, 128, 96), 1e-9, status="crash", error="signal 11"),
        record(GEMM_TASK, "gemm", GEMM_SIG, CPU, gemm(192, 256, 384), 150e-6),
        record(NORM_TASK, "rowwise", "rowwise layernorm f32 16x768", CPU,
               {"vector_width": 16, "rows_per_task": 4, "threads": 0}, 5e-6, default=True, flops=16 * 768 * 6.0),
        record(GEMM_TASK, "gemm", GEMM_SIG, GPU,
               {"bm": 128, "bn": 128, "bk": 32, "wm": 64, "wn": 64, "stages": 3, "split_k": 1, "swizzle": 8,
                "instr": "mma_tf32"}, 20e-6, default=True),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--workdir", required=True)
    opt = ap.parse_args()
    t = os.path.abspath(opt.tessera)
    w = os.path.abspath(opt.workdir)
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    recs = base_records()
    db = os.path.join(w, "db.jsonl")
    write_lines(db, [dumps(r) for r in recs])

    # ---- show ----
    p = run(t, "show", db)
    check(p.returncode == 0 and p.stderr == "", f"show: {p.returncode} {p.stderr}")
    out = p.stdout
    check(f"target {CPU_KEY}\n" in out and f"target {GPU_KEY}\n" in out, f"show: target headers\n{out}")
    check(out.index(CPU_KEY) < out.index(GPU_KEY), "show: targets in file order")
    rows = [line.split() for line in out.splitlines() if line.startswith("  " + GEMM_TASK)]
    check(len(rows) == 5, f"show: 5 gemm rows\n{out}")
    default_row = next((line for line in out.splitlines() if "mc 516 kc 256 nc 384 mr 6 nr 32 t0" in line), "")
    # 200 µs, 2·16·2304·768 / 200e-6 = 283.1 GFLOP/s, and the default marker
    check(default_row.split()[-4:] == ["ok", "200.00", "283.1", "*"], f"show: default row '{default_row}'")
    best_row = next((line for line in out.splitlines() if "mc 96 kc 512 nc 768 mr 4 nr 32 t1" in line), "")
    check(best_row.split()[-3:] == ["ok", "100.00", "566.2"], f"show: best row '{best_row}'")
    crash_row = next((line for line in out.splitlines() if "mc 48 kc 128" in line), "")
    check(crash_row.split()[-3:] == ["crash", "-", "-"], f"show: crash row '{crash_row}'")
    check("gemm f32 16x2304x768 B[N,K] +add,..." in out, "show: signature clipped to its column")
    check("128x128x32 w64x64 s3 k1 z8 mma_tf32" in out, "show: GPU schedule")
    check(out.rstrip().endswith("6 records, 3 tasks, 2 targets, 1 failed, 0 skipped lines (* default schedule)"),
          f"show: footer\n{out}")

    p = run(t, "show", db, "--task", NORM_TASK)
    check(p.returncode == 0 and GEMM_TASK not in p.stdout and "vw 16 rpt 4 t0" in p.stdout and
          p.stdout.rstrip().endswith("1 record, 1 task, 1 target, 0 failed, 0 skipped lines (* default schedule)"),
          f"show --task: {p.stdout}")

    p = run(t, "show", db, "--json")
    try:
        j = json.loads(p.stdout)
    except ValueError:
        j = {}
    check(p.returncode == 0 and j.get("count") == 6 and j.get("tasks") == 3 and j.get("targets") == 2 and
          j.get("failed") == 1 and j.get("skipped") == 0 and j.get("file") == db, f"show --json counts: {p.stdout}")
    check(j.get("records") == recs, "show --json: the records as written")
    p = run(t, "show", db, "--json", "--task=" + GEMM_TASK)
    j = json.loads(p.stdout) if p.returncode == 0 else {}
    check(j.get("count") == 5 and j.get("tasks") == 2 and j.get("targets") == 2, f"show --json --task: {p.stdout}")

    # ---- best ----
    p = run(t, "best", db)
    check(p.returncode == 0 and p.stderr == "", f"best: {p.stderr}")
    lines = p.stdout.splitlines()
    cpu_gemm = next((line for line in lines if line.startswith("  " + GEMM_TASK) and "mc " in line), "")
    check("mc 96 kc 512 nc 768 mr 4 nr 32 t1" in cpu_gemm and
          cpu_gemm.split()[-3:] == ["100.00", "200.00", "2.00x"], f"best: cpu gemm '{cpu_gemm}'\n{p.stdout}")
    norm = next((line for line in lines if line.startswith("  " + NORM_TASK)), "")
    check(norm.split()[-3:] == ["5.00", "5.00", "1.00x"], f"best: layernorm '{norm}'")
    check(p.stdout.rstrip().endswith("3 tasks with a best record, 0 without; 0 skipped lines"),
          f"best: footer {p.stdout}")
    p = run(t, "best", db, "--target-key", GPU_KEY)
    check(p.returncode == 0 and CPU_KEY not in p.stdout and "mma_tf32" in p.stdout and
          p.stdout.rstrip().endswith("1 task with a best record, 0 without; 0 skipped lines"),
          f"best --target-key: {p.stdout}")
    p = run(t, "best", db, "--target-key", "cpu|nowhere")
    check(p.returncode == 2 and
          p.stderr == f"tessera: error: {db}: --target-key: no record of target 'cpu|nowhere'\n",
          f"best --target-key unknown: {p.returncode} {p.stderr}")
    # A task whose every record failed has no best.
    only_failed = os.path.join(w, "failed.jsonl")
    write_lines(only_failed, [dumps(recs[2])])
    p = run(t, "best", only_failed)
    check(p.returncode == 0 and "(no successful record)" in p.stdout and
          p.stdout.rstrip().endswith("0 tasks with a best record, 1 without; 0 skipped lines"),
          f"best failed: {p.stdout}")

    # ---- a corrupted database: warnings naming FILE:LINE, exit 0 ----
    bad = os.path.join(w, "bad.jsonl")
    missing_field = dict(recs[3])
    del missing_field["median_s"]
    bad_status = dict(recs[3], status="splendid")
    lines = [dumps(recs[0]), "{\"task\": oops", dumps(missing_field), dumps(recs[1]), dumps(bad_status),
             dumps(recs[4]), dumps(recs[5])[:40]]
    write_lines(bad, lines, end="")
    p = run(t, "show", bad)
    check(p.returncode == 0, f"show corrupted: exit {p.returncode}")
    want = [f"tessera: warning: {bad}:2: skipped: malformed JSON at column ",
            f"tessera: warning: {bad}:3: skipped: missing field 'median_s'",
            f"tessera: warning: {bad}:5: skipped: field 'status': unknown status 'splendid'",
            f"tessera: warning: {bad}:7: skipped: the last line has no newline: a write was interrupted"]
    errs = p.stderr.splitlines()
    check(len(errs) == 4 and all(e.startswith(wl) for e, wl in zip(errs, want)),
          f"show corrupted: warnings\n{p.stderr}")
    check(p.stdout.rstrip().endswith("3 records, 2 tasks, 1 target, 0 failed, 4 skipped lines (* default schedule)"),
          f"show corrupted: footer\n{p.stdout}")
    p = run(t, "best", bad)
    check(p.returncode == 0 and len(p.stderr.splitlines()) == 4 and
          p.stdout.rstrip().endswith("2 tasks with a best record, 0 without; 4 skipped lines"),
          f"best corrupted: {p.stdout}")

    # ---- merge ----
    shard1, shard2, merged = (os.path.join(w, n) for n in ("shard1.jsonl", "shard2.jsonl", "merged.jsonl"))
    write_lines(shard1, [dumps(r) for r in recs[:4]])
    dup_more = dict(recs[1], count=40, median_s=90e-6, min_s=80e-6, max_s=95e-6)  # more timed runs: kept
    dup_later = dict(recs[3], time="2026-11-24T08:00:00Z", median_s=140e-6)       # same count, later: kept
    dup_older = dict(recs[0], time="2026-01-01T00:00:00Z", median_s=1.0)          # same count, older: dropped
    write_lines(shard2, [dumps(dup_more), dumps(dup_later), dumps(dup_older), dumps(recs[4]), dumps(recs[5])])
    p = run(t, "merge", merged, shard1, shard2)
    check(p.returncode == 0 and p.stderr == "" and
          p.stdout == f"merged 2 files: 9 records read, 3 duplicates dropped, 6 written to {merged}; 0 skipped lines\n",
          f"merge: {p.returncode} {p.stdout} {p.stderr}")
    got = [json.loads(line) for line in open(merged, encoding="utf-8")]
    check(got == [recs[0], dup_more, recs[2], dup_later, recs[4], recs[5]], f"merge: records kept\n{got}")
    check(sorted(os.listdir(w)) == sorted(["db.jsonl", "failed.jsonl", "bad.jsonl", "shard1.jsonl", "shard2.jsonl",
                                           "merged.jsonl"]), f"merge: no temporary file left: {os.listdir(w)}")
    p = run(t, "best", merged)
    check(any(line.split()[-3:] == ["90.00", "200.00", "2.22x"] for line in p.stdout.splitlines()),
          f"best after merge: {p.stdout}")
    # Merging onto an input, with a corrupted one: warnings, the good records kept.
    p = run(t, "merge", shard1, shard1, bad)
    check(p.returncode == 0 and len(p.stderr.splitlines()) == 4 and
          p.stdout == f"merged 2 files: 7 records read, 2 duplicates dropped, 5 written to {shard1}; 4 skipped lines\n",
          f"merge onto input: {p.stdout} {p.stderr}")
    got = [json.loads(line) for line in open(shard1, encoding="utf-8")]
    check(got == recs[:5] and open(shard1, encoding="utf-8").read().endswith("\n"), "merge onto input: content")
    # A missing input: the error, and OUT never written.
    gone = os.path.join(w, "gone.jsonl")
    out2 = os.path.join(w, "out2.jsonl")
    p = run(t, "merge", out2, shard2, gone)
    check(p.returncode == 1 and
          p.stderr == f"tessera: error: {gone}: cannot open the tuning database: No such file or directory\n" and
          not os.path.exists(out2), f"merge missing input: {p.returncode} {p.stderr}")
    # OUT in a folder that does not exist.
    p = run(t, "merge", os.path.join(w, "no", "out.jsonl"), shard2)
    check(p.returncode == 1 and p.stderr.startswith(f"tessera: error: {os.path.join(w, 'no', 'out.jsonl')}: "
                                                    "cannot create a temporary file next to it: "),
          f"merge into a missing folder: {p.stderr}")

    # ---- unreadable and missing files ----
    p = run(t, "show", w)
    check(p.returncode == 1 and p.stderr == f"tessera: error: {w}: cannot read the tuning database: Is a directory\n",
          f"show a folder: {p.returncode} {p.stderr}")
    p = run(t, "best", gone)
    check(p.returncode == 1 and
          p.stderr == f"tessera: error: {gone}: cannot open the tuning database: No such file or directory\n",
          f"best missing: {p.stderr}")
    if os.geteuid() != 0:  # root reads anything
        locked = os.path.join(w, "locked.jsonl")
        write_lines(locked, [dumps(recs[0])])
        os.chmod(locked, 0)
        p = run(t, "show", locked)
        check(p.returncode == 1 and
              p.stderr == f"tessera: error: {locked}: cannot open the tuning database: Permission denied\n",
              f"show unreadable: {p.stderr}")
        os.chmod(locked, 0o644)
    empty = os.path.join(w, "empty.jsonl")
    open(empty, "w").close()
    p = run(t, "show", empty)
    check(p.returncode == 0 and p.stdout == "0 records, 0 tasks, 0 targets, 0 failed, 0 skipped lines "
                                            "(* default schedule)\n", f"show empty: {p.stdout}")

    # ---- usage ----
    for args, what in (((), "no verb"), (("frob", db), "unknown verb"), (("show",), "no file"),
                       (("show", db, db), "two files"), (("show", db, "--bogus"), "unknown option"),
                       (("best", db, "--json"), "show's option on best"), (("merge", merged), "merge without IN"),
                       (("show", db, "--task"), "--task without a value"), (("show", ""), "empty path")):
        p = run(t, *args)
        check(p.returncode == 2 and p.stderr.startswith("tessera: error: ") and "tessera db --help" in p.stderr and
              p.stdout == "", f"usage {what}: {p.returncode} {p.stderr}")
    p = run(t, "--help")
    check(p.returncode == 0 and p.stdout.startswith("usage: tessera db show FILE"), "db --help")
    p = run(t, "merge", "--help")
    check(p.returncode == 0 and p.stdout.startswith("usage: tessera db"), "db merge --help")

    return harness.summary("db")


if __name__ == "__main__":
    sys.exit(main())
