#!/usr/bin/env python3
"""check_generate.py — `tessera generate` (greedy decoding with a key/value
cache) on examples/gpt/decoder.json, token for token against greedy decoding
by models_np.gpt: a float64 numpy GPT-2 that recomputes the whole sequence at
every step, never sees the graph and has no cache. Also: tessera's own --check
(the interpreter without a cache) at every step, the cache updated in place,
the copy-back path when the program does not allow that, --eos, and the
errors a user can cause (a graph without a cache, bad options, tokens or
positions outside the model's tables), each one line with a nonzero exit.

    check_generate.py --tessera PATH --workdir DIR [--target ref|cpu] [-v]
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import models_np  # noqa: E402
import stio  # noqa: E402

MODEL = os.path.join(ROOT, "examples", "gpt", "decoder.json")
WEIGHTS = os.path.join(ROOT, "examples", "gpt", "weights.safetensors")

# (prompt, max_new): prompt lengths 1, 7 and 17; the last fills all 64 positions.
CASES = [
    ([42], 30),
    ([3, 141, 59, 26, 53, 58, 97], 20),
    ([int(x) for x in np.random.default_rng(8).integers(0, 256, 17)], 47),
]


def greedy_numpy(w, prompt, max_new, eos=None):
    """Tokens and, per step, the gap between the best and second-best logit."""
    ids, gaps = list(prompt), []
    for _ in range(max_new):
        t = np.array([ids])
        logits = models_np.gpt(w, t, np.arange(len(ids))[None])[0, -1]
        order = np.argsort(-logits, kind="stable")
        gaps.append(float(logits[order[0]] - logits[order[1]]))
        ids.append(int(order[0]))
        if eos is not None and ids[-1] == eos:
            break
    return ids[len(prompt):], gaps


def run(tessera, args):
    p = subprocess.run([tessera, "generate"] + args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def generated(out):
    m = re.search(r"^generated\s+\d+ tokens?:(.*)$", out, re.M)
    return [int(x) for x in m.group(1).split()] if m else None


class Checker:
    def __init__(self, verbose):
        self.passed = self.failed = 0
        self.verbose = verbose

    def check(self, name, ok, msg=""):
        if ok:
            self.passed += 1
            if self.verbose:
                print(f"ok   {name} {msg}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {msg}")
        sys.stdout.flush()


def one_line_error(rc, err, want_rc, pattern):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return (rc == want_rc and len(lines) == 1 and lines[0].startswith("tessera: error:")
            and re.search(pattern, lines[0]) is not None), f"rc {rc}, stderr {err.strip()!r}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--target", choices=("ref", "cpu"), default="cpu")
    ap.add_argument("-v", "--verbose", action="store_true")
    opt = ap.parse_args()
    tessera = os.path.abspath(opt.tessera)
    os.makedirs(opt.workdir, exist_ok=True)
    w = {k: a.astype(np.float64) for k, (_, a) in stio.read(WEIGHTS).items()}
    c = Checker(opt.verbose)
    tgt = ["--target", opt.target]

    for prompt, max_new in CASES:
        name = f"prompt{len(prompt)}-new{max_new}"
        want, gaps = greedy_numpy(w, prompt, max_new)
        rc, out, err = run(tessera, [MODEL, "--tokens", ",".join(map(str, prompt)),
                                     "--max-new", str(max_new), "--check"] + tgt)
        got = generated(out)
        c.check(f"{name}: exit 0", rc == 0, f"rc {rc}: {err.strip()}")
        first_bad = next((i for i, (a, b) in enumerate(zip(got or [], want)) if a != b), None)
        c.check(f"{name}: tokens equal numpy's greedy decoding", got == want,
                f"got {got}, want {want}" + (f"; first difference at step {first_bad}, numpy's margin there "
                                             f"{gaps[first_bad]:.3g}" if first_bad is not None else ""))
        c.check(f"{name}: distinct tokens", len(set(want)) > 1, f"numpy's sequence {want} repeats one token; "
                "pick another prompt so the comparison means something")
        m = re.search(r"^check\s+(\d+) of (\d+) tokens match.*max abs err ([0-9.e+-]+)", out, re.M)
        c.check(f"{name}: --check matched every step", m is not None and m.group(1) == m.group(2) == str(max_new)
                and float(m.group(3)) < 1e-3, out.strip().splitlines()[-1] if out.strip() else err)
        if opt.target == "cpu":
            c.check(f"{name}: cache updated in place", re.search(r"^cache .*updated in place", out, re.M) is not None,
                    out)
            c.check(f"{name}: tokens/s reported", re.search(r"^decode .* tokens/s$", out, re.M) is not None, out)

    # --eos: stops right after the first time that token is generated
    prompt, max_new = CASES[1]
    want, _ = greedy_numpy(w, prompt, max_new)
    eos = want[3]
    cut = want[: want.index(eos) + 1]
    rc, out, err = run(tessera, [MODEL, "--tokens", " ".join(map(str, prompt)), "--max-new", str(max_new),
                                 "--eos", str(eos)] + tgt)
    c.check("eos: stops after the eos token", rc == 0 and generated(out) == cut, f"got {generated(out)}, want {cut}")

    # A program that reads the past twice (an extra output summing it) cannot
    # update the cache in place: generate copies it back, with the same tokens.
    g = json.load(open(MODEL))
    g["weights"] = WEIGHTS
    g["nodes"].append({"name": "debug.sum", "op": "reduce_sum", "inputs": ["past.0.key"], "outputs": ["debug.sum"],
                       "attrs": {"axes": [2, 3]}})
    g["outputs"].append("debug.sum")
    copied = os.path.join(opt.workdir, "decoder-reads-past-twice.json")
    with open(copied, "w") as f:
        json.dump(g, f)
    prompt, max_new = CASES[0]
    want, _ = greedy_numpy(w, prompt, max_new)
    rc, out, err = run(tessera, [copied, "--tokens", str(prompt[0]), "--max-new", str(max_new)] + tgt)
    c.check("copy-back: same tokens", rc == 0 and generated(out) == want, f"rc {rc} {err.strip()} got {generated(out)}")
    if opt.target == "cpu":
        c.check("copy-back: says why", re.search(r"^cache .*copied back after each call \(.*past\.0\.key", out, re.M)
                is not None, out)

    # errors: one line each, exit 1 (model or run) or 2 (usage)
    graph = os.path.join(ROOT, "examples", "gpt", "graph.json")
    errors = [
        ("no cache in the graph", [graph, "--tokens", "1", "--max-new", "2"], 1, r"key/value cache"),
        ("empty prompt", [MODEL, "--tokens", ",", "--max-new", "2"], 2, r"--tokens: the prompt is empty"),
        ("bad token", [MODEL, "--tokens", "1,x", "--max-new", "2"], 2, r"--tokens: expected token ids"),
        ("no max-new", [MODEL, "--tokens", "1"], 2, r"--max-new"),
        ("max-seq too short", [MODEL, "--tokens", "1,2", "--max-new", "5", "--max-seq", "6"], 2,
         r"--max-seq: 6 is shorter"),
        ("token outside the vocabulary", [MODEL, "--tokens", "1,256", "--max-new", "2"], 1, r"index|outside|range"),
        ("positions past the table", [MODEL, "--tokens", "5", "--max-new", "70"], 1, r"index|outside|range"),
        ("missing model", [os.path.join(opt.workdir, "nope.json"), "--tokens", "1", "--max-new", "1"], 1,
         r"nope\.json"),
    ]
    for name, args, want_rc, pattern in errors:
        rc, out, err = run(tessera, args + tgt)
        ok, msg = one_line_error(rc, err, want_rc, pattern)
        c.check(f"error: {name}", ok, msg)

    print(f"generate oracle ({opt.target}): {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
