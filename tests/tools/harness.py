"""harness.py — what the checks of tests/tools/ share: counting assertions
(each failure printed as "FAIL what"), running a command with a timeout and
no standard input, and reading safetensors files. Stdlib only."""
import json
import struct
import subprocess

passed = failed = 0


def check(cond, what):
    """Counts one assertion; prints what failed. Returns cond."""
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}", flush=True)
    return cond


def summary(name):
    """Prints "NAME: P passed, F failed"; the exit status (1 on a failure or when nothing was checked)."""
    print(f"{name}: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


def run(*args, cwd=None, env=None, timeout=120):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL)


def read_safetensors(path):
    """{name: (dtype, shape, bytes)}"""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = (e["dtype"], e["shape"], blob[8 + n + b:8 + n + end])
    return out
