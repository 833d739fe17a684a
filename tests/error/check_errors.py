#!/usr/bin/env python3
"""check_errors.py — runs every malformed input in tests/error/ and checks the
one-line error it must produce.

Each case is a file NAME.expect under tests/error/ (any depth), holding:
    args: run graphs/NAME.json --target ref --fill random   (optional)
    env: NAME=VALUE      (optional, repeatable: set for the run, e.g. a driver path)
    status: 1                                                (optional, default 1)
    match: prefix        (optional: the expected line is a prefix, for messages
                          that name something of the machine, like its CPU)
    build: cuda          (optional: the case is about a build with (cuda) or
           no-cuda        without (no-cuda) the GPU backend, as `tessera version`'s
                          targets say; in the other kind of build it does not apply)
    tessera: error: graphs/NAME.json: node 'add#0': ...      (the expected line)
Blank lines and lines starting with '#' are ignored. Without "args:", the case
runs `tessera run <NAME.json beside the .expect> --target ref --fill random`.
Paths in args are relative to tests/error/ (the command runs there).

A case passes when tessera exits with the status, prints nothing on stdout,
and prints exactly the expected line (and nothing else) on stderr: no signal,
no hang (10 s limit), no sanitizer report.
"""
import argparse
import os
import shlex
import subprocess
import sys


def load_case(path, root):
    args, status, expect, prefix, env, build = None, 1, None, False, {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("args:"):
                args = shlex.split(line[len("args:"):])
            elif line.startswith("env:"):
                name, _, value = line[len("env:"):].strip().partition("=")
                env[name] = value
            elif line.startswith("status:"):
                status = int(line[len("status:"):])
            elif line.strip() == "match: prefix":
                prefix = True
            elif line.startswith("build:"):
                build = line[len("build:"):].strip()
                if build not in ("cuda", "no-cuda"):
                    raise ValueError(f"{path}: build: must be cuda or no-cuda")
            elif expect is None:
                expect = line
            else:
                raise ValueError(f"{path}: more than one expected line")
    if expect is None:
        raise ValueError(f"{path}: no expected error line")
    if args is None:
        graph = os.path.relpath(path[: -len(".expect")] + ".json", root)
        args = ["run", graph, "--target", "ref", "--fill", "random"]
    return args, status, expect, prefix, env, build


def built_with_cuda(tessera):
    p = subprocess.run([tessera, "version"], capture_output=True, text=True, timeout=30)
    for line in p.stdout.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "targets":
            return "cuda" in [t.strip() for t in value.split(",")]
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("-v", "--verbose", action="store_true")
    opt = ap.parse_args()
    root = os.path.abspath(opt.dir)
    cases = []
    for d, _, files in os.walk(root):
        for name in sorted(files):
            if name.endswith(".expect"):
                cases.append(os.path.join(d, name))
    cases.sort()
    passed = failed = other = 0
    this_build = "cuda" if built_with_cuda(opt.tessera) else "no-cuda"
    for path in cases:
        rel = os.path.relpath(path, root)
        try:
            args, status, expect, prefix, env, build = load_case(path, root)
        except ValueError as e:
            print(f"FAIL {rel}: {e}")
            failed += 1
            continue
        if build is not None and build != this_build:
            other += 1  # a case about the other kind of build: not run here
            continue
        try:
            p = subprocess.run([opt.tessera] + args, cwd=root, capture_output=True,
                               text=True, timeout=10, stdin=subprocess.DEVNULL,
                               env=dict(os.environ, **env) if env else None)
        except subprocess.TimeoutExpired:
            print(f"FAIL {rel}: timed out (hang) running {' '.join(args)}")
            failed += 1
            continue
        problems = []
        if p.returncode < 0:
            problems.append(f"killed by signal {-p.returncode}")
        elif p.returncode != status:
            problems.append(f"exit status {p.returncode}, want {status}")
        if p.stdout:
            problems.append(f"unexpected stdout: {p.stdout[:200]!r}")
        err = p.stderr.rstrip("\n")
        if (not err.startswith(expect) or "\n" in err) if prefix else err != expect:
            problems.append(f"stderr\n    got:  {err[:2000]!r}\n    want: {expect!r}")
        if problems:
            failed += 1
            print(f"FAIL {rel}: tessera {' '.join(args)}: " + "; ".join(problems))
        else:
            passed += 1
            if opt.verbose:
                print(f"ok   {rel}")
    if not cases:
        print("no cases found")
        failed += 1
    tail = f" ({other} cases are for builds {'without' if this_build == 'cuda' else 'with'} the GPU backend)" \
        if other else ""
    print(f"error corpus: {passed} passed, {failed} failed{tail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
