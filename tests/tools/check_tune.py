#!/usr/bin/env python3
"""check_tune.py — `tessera tune` on the GPT example for the CPU, end to end,
asserted on real values: the table (a row per task, the totals), one database
record per measured candidate, a second run that resumes and measures nothing,
shards that merge into the whole, a budget that stops early; candidates made
to crash, hang or compute wrong numbers ($TESSERA_TUNE_FAULT) recorded as
failed while the search goes on; `inspect --db` / `run --db` / `compile --db`
using the fastest legal record (a faster illegal one is refused), the
compiled artifact agreeing with run --db bit for bit; a corrupted database
still loading with one warning per bad line; and the one-line errors of bad
usage. Stdlib only. Usage: check_tune.py --tessera PATH --workdir DIR"""
import argparse
import json
import os
import re
import shutil
import sys

import harness
from harness import check, read_safetensors, run

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GPT = os.path.join(ROOT, "examples", "gpt", "graph.json")
TASKS = 8  # the GPT example's distinct kernels (identical layers are one task)
TIMEOUT = 900  # a sanitizer build measures slowly


def tune(t, db, *args, env=None):
    e = dict(os.environ)
    e.pop("TESSERA_TUNE_FAULT", None)
    e.update(env or {})
    return run(t, "tune", GPT, "--target", "cpu", "--db", db, *args, env=e, timeout=TIMEOUT)


def records(db):
    with open(db, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def table_rows(out):
    """{task number: row fields} of the summary table."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(\d+)\s+(gemm|rowwise|pointwise|attention)\s+(\S+)\s+(\d+)\s", line)
        if m:
            rows[int(m.group(1))] = line
    return rows


def totals(out):
    m = re.search(r"(\d+) of (\d+) tasks tuned in [\d.]+ s: (\d+) candidates measured \((\d+) failed\), (\d+) taken",
                  out)
    return tuple(int(x) for x in m.groups()) if m else None


def sched_text(s):
    """The schedule as inspect prints it."""
    if "mc" in s:
        text = f"mc {s['mc']}, kc {s['kc']}, nc {s['nc']}, mr {s['mr']}, nr {s['nr']}"
    elif "block_q" in s:
        text = f"block_q {s['block_q']}, block_k {s['block_k']}"
    else:
        text = f"vector_width {s['vector_width']}, rows_per_task {s['rows_per_task']}"
    return text + (f", threads {s['threads']}" if s.get("threads") else "")


def check_first_tune(t, w):
    db = os.path.join(w, "a.jsonl")
    p = tune(t, db, "--trials", "5", "--seed", "3")
    if not check(p.returncode == 0, f"tune: exit 0: {p.stderr[-2000:]}"):
        return None
    rows, tot = table_rows(p.stdout), totals(p.stdout)
    check(sorted(rows) == list(range(1, TASKS + 1)), f"tune: one table row per task: {p.stdout}")
    check(tot is not None and tot[0] == TASKS and tot[1] == TASKS and tot[4] == 0, f"tune: totals: {p.stdout}")
    check("model: kernel time" in p.stdout and "tuned (" in p.stdout, f"tune: model total: {p.stdout}")
    check(p.stderr.count("task ") >= TASKS and f"task {TASKS}/{TASKS} " in p.stderr,
          f"tune: a progress line per task on stderr: {p.stderr}")
    recs = records(db)
    check(tot is not None and len(recs) == tot[2], f"tune: one record per measured candidate ({len(recs)}, {tot})")
    check(all(r["status"] == "ok" and r["median_s"] > 0 and r["count"] >= 1 for r in recs),
          "tune: every record measured and ok")
    keys = {r["target"]["kind"] for r in recs}
    check(keys == {"cpu"}, f"tune: CPU records: {keys}")
    check(len({r["task"] for r in recs}) == TASKS, "tune: records for every task")
    check(sum(r["default"] for r in recs) == TASKS, "tune: each task's default schedule measured once")
    # At most 5 trials per task.
    per_task = {}
    for r in recs:
        per_task[r["task"]] = per_task.get(r["task"], 0) + 1
    check(max(per_task.values()) <= 5, f"tune: --trials 5 respected: {per_task}")

    # Again: everything is known, nothing measured, the file unchanged.
    before = open(db, "rb").read()
    p = tune(t, db, "--trials", "5", "--seed", "3")
    tot2 = totals(p.stdout)
    check(p.returncode == 0 and tot2 is not None and tot2[2] == 0 and tot2[4] == len(recs),
          f"tune again: resumes, measures nothing: {p.stdout}")
    check(open(db, "rb").read() == before, "tune again: the database is unchanged")
    # More trials: only the new candidates are measured.
    p = tune(t, db, "--trials", "7", "--seed", "3", "--shard", "2/8")
    tot3 = totals(p.stdout)
    new = records(db)[len(recs):]
    check(p.returncode == 0 and tot3 is not None and tot3[2] == len(new) and len(new) <= 2,
          f"tune --trials 7: measures only what is new ({len(new)}): {p.stdout}")
    seen = {(r["task"], json.dumps(r["schedule"], sort_keys=True)) for r in recs}
    check(all((r["task"], json.dumps(r["schedule"], sort_keys=True)) not in seen for r in new),
          "tune --trials 7: never re-measures a recorded schedule")
    return db


def check_shards_and_budget(t, w):
    a, b, merged = (os.path.join(w, n) for n in ("s0.jsonl", "s1.jsonl", "merged.jsonl"))
    pa = tune(t, a, "--trials", "3", "--shard", "0/2")
    pb = tune(t, b, "--trials", "3", "--shard", "1/2")
    check(pa.returncode == 0 and pb.returncode == 0, f"shards: exit 0: {pa.stderr[-500:]} {pb.stderr[-500:]}")
    ta, tb = {r["task"] for r in records(a)}, {r["task"] for r in records(b)}
    check(len(ta) == TASKS // 2 and len(tb) == TASKS // 2 and not ta & tb, f"shards: disjoint halves: {ta} {tb}")
    check(len(table_rows(pa.stdout)) == TASKS // 2, f"shards: the table lists the shard's tasks: {pa.stdout}")
    p = run(t, "db", "merge", merged, a, b)
    check(p.returncode == 0, f"shards: db merge: {p.stderr}")
    p = tune(t, merged, "--trials", "3")
    tot = totals(p.stdout)
    check(p.returncode == 0 and tot is not None and tot[2] == 0 and tot[0] == TASKS,
          f"shards: the merged database is the whole tuning: {p.stdout}")

    c = os.path.join(w, "budget.jsonl")
    p = tune(t, c, "--trials", "1000", "--budget", "3")
    tot = totals(p.stdout)
    check(p.returncode == 0 and tot is not None and tot[2] < 200, f"--budget 3 stops early: {p.stdout}")
    check("budget" in p.stdout + p.stderr, f"--budget: says the budget stopped it: {p.stdout} {p.stderr}")


def check_faults(t, w):
    db = os.path.join(w, "faults.jsonl")
    # Shard 2/8 is one GEMM task: its 2nd candidate crashes, the 3rd computes
    # wrong numbers, the 4th hangs past the watchdog, the 5th reports an error.
    p = tune(t, db, "--trials", "8", "--shard", "2/8", "--timeout", "3",
             env={"TESSERA_TUNE_FAULT": "crash@2,wrong@3,hang@4,error@5"})
    if not check(p.returncode == 0, f"faults: tune goes on, exit 0: {p.stderr[-2000:]}"):
        return
    recs = records(db)
    status = [r["status"] for r in recs]
    for s in ("crash", "wrong", "hang", "error"):
        check(status.count(s) == 1, f"faults: one '{s}' record: {status}")
    check(status.count("ok") >= 3, f"faults: the search went on after the failures: {status}")
    bad = [r for r in recs if r["status"] != "ok"]
    check(all(r["error"] and r["median_s"] is None for r in bad), f"faults: failures say why, no time: {bad}")
    wrong = [r for r in recs if r["status"] == "wrong"]
    check(wrong and ("reference" in wrong[0]["error"] or "tolerance" in wrong[0]["error"]),
          f"faults: the wrong candidate names the reference check: {wrong}")
    tot = totals(p.stdout)
    check(tot is not None and tot[3] == 4, f"faults: the table counts 4 failed: {p.stdout}")
    # The best is never a failed candidate.
    p = run(t, "db", "best", db)
    check(p.returncode == 0 and "crash" not in p.stdout and "hang" not in p.stdout, f"faults: best is ok: {p.stdout}")


def inspect_schedules(t, db=None, *extra):
    args = ["inspect", GPT, "--dump", "fuse"] + (["--db", db] if db else []) + list(extra)
    p = run(t, *args)
    return p, re.findall(r"^  schedule: (.*?)(?: \(\d+ tasks?.*)?$", p.stdout, re.M)


def check_using(t, w, db):
    recs = records(db)
    # A database of chosen records: for one GEMM task a legal non-default
    # schedule that is the fastest, and a faster illegal one (mc not a
    # multiple of mr) that must be refused.
    gemm = [r for r in recs if r["kind"] == "gemm" and not r["default"] and r["status"] == "ok"]
    if not check(gemm, "using: a measured non-default GEMM schedule to choose"):
        return
    pick = gemm[0]
    chosen = dict(pick, median_s=1e-9, min_s=1e-9, max_s=1e-9)
    illegal = dict(pick, median_s=1e-12, min_s=1e-12, max_s=1e-12,
                   schedule=dict(pick["schedule"], mc=pick["schedule"]["mr"] * 3 + 1))
    made = os.path.join(w, "made.jsonl")
    with open(made, "w") as f:
        for r in recs + [chosen, illegal]:
            f.write(json.dumps(r) + "\n")

    p0, plain = inspect_schedules(t)
    p1, tuned = inspect_schedules(t, made)
    check(p0.returncode == 0 and p1.returncode == 0, f"inspect --db: exit 0: {p1.stderr}")
    check(len(plain) == len(tuned) == 17, f"inspect --db: 17 kernels' schedules: {len(plain)} {len(tuned)}")
    check(all(s.endswith("[tuned]") for s in tuned) and not any("[tuned]" in s for s in plain),
          f"inspect --db: every kernel marked [tuned]: {tuned}")
    want = sched_text(pick["schedule"]) + " [tuned]"
    check(want in tuned, f"inspect --db: the chosen schedule '{want}' is used: {tuned}")
    bad = sched_text(illegal["schedule"])
    check(not any(s.startswith(bad) for s in tuned), "inspect --db: the faster illegal schedule is refused")
    check("tuned schedules for 17 of 17 kernels" in p1.stderr, f"inspect --db: says what it applied: {p1.stderr}")
    p = run(t, "inspect", GPT, "--db", made)
    check(p.returncode == 0 and "(17 with tuned schedules)" in p.stdout, f"inspect --db: kernel counts: {p.stdout}")

    # run --db and compile --db: the same numbers, close to the reference.
    ins, ref, got, exe_out = (os.path.join(w, f"{k}.safetensors") for k in ("in", "ref", "run", "exe"))
    p = run(t, "run", GPT, "--target", "ref", "--seed", "4", "--save-inputs", ins, "--outputs", ref)
    check(p.returncode == 0, f"run --target ref: {p.stderr}")
    p = run(t, "run", GPT, "--target", "cpu", "--db", made, "--inputs", ins, "--outputs", got, "--check")
    check(p.returncode == 0 and "ok" in p.stdout and "tuned schedules for 17 of 17" in p.stderr,
          f"run --db --check: {p.stdout} {p.stderr}")
    out = os.path.join(w, "gptc")
    p = run(t, "compile", GPT, "--db", made, "-o", out)
    check(p.returncode == 0 and "compiling for native" in p.stderr and "tuned schedules for 17 of 17" in p.stderr,
          f"compile --db: native for this machine's records: {p.stdout} {p.stderr}")
    if p.returncode == 0:
        p = run(os.path.join(out, "gptc"), "--inputs", ins, "--outputs", exe_out)
        check(p.returncode == 0, f"compile --db: the executable runs: {p.stderr}")
        if p.returncode == 0:
            check(read_safetensors(exe_out) == read_safetensors(got),
                  "compile --db: the artifact's outputs equal run --db's, bit for bit")
    p = run(t, "compile", GPT, "--db", made, "--cpu", "portable", "-o", os.path.join(w, "gptp"))
    check(p.returncode == 0 and "none of its" in p.stderr and "tuned schedules for 0 of 17" in p.stderr,
          f"compile --db --cpu portable: other-target records are not used, and it says why: {p.stderr}")

    # A corrupted database still loads: one warning per bad line, the rest used.
    bad_db = os.path.join(w, "corrupt.jsonl")
    with open(made) as f:
        lines = f.read().splitlines()
    lines[1:1] = ["{not json", '{"task": "0000000000000000"}', "[1, 2, 3]"]
    with open(bad_db, "w") as f:
        f.write("\n".join(lines) + "\n" + lines[-1][: len(lines[-1]) // 2])  # a torn last line
    p, tuned2 = inspect_schedules(t, bad_db)
    warnings = [l for l in p.stderr.splitlines() if l.startswith(f"tessera: warning: {bad_db}:")]
    check(p.returncode == 0 and len(warnings) == 4, f"corrupt db: 4 warnings naming FILE:LINE, exit 0: {p.stderr}")
    check(any(f"{bad_db}:{n}:" in p.stderr for n in (2, 3, 4)), f"corrupt db: warnings name the lines: {p.stderr}")
    check(want in tuned2, "corrupt db: the good records are still used")
    # Tuning appends to it safely: a newline after the torn line first.
    p = tune(t, bad_db, "--trials", "6", "--shard", "5/8")
    check(p.returncode == 0, f"tune on a corrupt db: {p.stderr[-1000:]}")
    p, _ = inspect_schedules(t, bad_db)
    check(p.returncode == 0 and len([l for l in p.stderr.splitlines() if "warning" in l]) == 4,
          f"corrupt db after tuning: no new bad lines: {p.stderr}")


def check_errors(t, w):
    db = os.path.join(w, "e.jsonl")
    usage = [
        (["tune", GPT, "--db", db], "--target"),
        (["tune", GPT, "--target", "cpu"], "--db"),
        (["tune", GPT, "--target", "ref", "--db", db], "--target"),
        (["tune", GPT, "--target", "cpu", "--db", db, "--shard", "2/2"], "--shard"),
        (["tune", GPT, "--target", "cpu", "--db", db, "--shard", "x"], "--shard"),
        (["tune", GPT, "--target", "cpu", "--db", db, "--trials", "0"], "--trials"),
        (["tune", GPT, "--target", "cpu", "--db", db, "--budget", "-1"], "--budget"),
        (["tune", GPT, "--target", "cpu", "--db", db, "--arch", "sm_90a"], "--arch"),
        (["tune", GPT, "--target", "cuda", "--db", db, "--threads", "2"], "--threads"),
        (["tune", GPT, "--target", "cpu", "--db", ""], "--db"),
        (["tune", GPT, "--target", "cpu", "--db", db, "--frob"], "--frob"),
        (["run", GPT, "--db", db], "--db"),
        (["inspect", GPT, "--cpu", "native"], "--cpu"),
    ]
    for args, opt in usage:
        p = run(t, *args)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 1 and lines[0].startswith("tessera: error: ") and opt in lines[0],
              f"usage {' '.join(args[2:])}: exit 2, one line naming {opt}: {p.returncode} {p.stderr}")
    check(not os.path.exists(db), "usage errors create no database")
    p = run(t, "tune", os.path.join(w, "missing.json"), "--target", "cpu", "--db", db)
    check(p.returncode == 1 and p.stderr.count("\n") == 1 and "missing.json" in p.stderr,
          f"missing model: one line: {p.stderr}")
    # An unreadable database path: an error naming it, no crash.
    p = tune(t, w, "--trials", "2")  # a directory
    check(p.returncode == 1 and p.stderr.strip().splitlines()[-1].startswith("tessera: error: ") and w in p.stderr,
          f"database is a directory: {p.stderr}")
    p = run(t, "inspect", GPT, "--db", os.path.join(w, "none.jsonl"))
    check(p.returncode == 1 and "none.jsonl" in p.stderr, f"inspect --db missing file: {p.stderr}")
    p = run(t, "tune", "--help")
    check(p.returncode == 0 and p.stdout.startswith("usage: tessera tune MODEL.json --target cpu|cuda --db FILE"),
          "tune --help")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    t, w = os.path.abspath(a.tessera), os.path.abspath(a.workdir)
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    check_errors(t, w)
    db = check_first_tune(t, w)
    if db:
        check_using(t, w, db)
    check_faults(t, w)
    check_shards_and_budget(t, w)
    rc = harness.summary("tune")
    if rc == 0:
        shutil.rmtree(w, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
