#!/usr/bin/env python3
"""check_cli.py — what `tessera run` does when things go right, asserted on
real values: --save-inputs round-trips through --inputs, --seed is
deterministic, --json is valid and complete, integers print exactly, NaN
outputs are reported as such, zero-size symbols run, `help VERB` works.
Stdlib only. Usage: check_cli.py --tessera PATH --workdir DIR"""
import argparse
import json
import os
import shutil
import sys

import harness
from harness import check, read_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLI_GRAPH = os.path.join(ROOT, "tests", "error", "cli", "graph.json")  # x: f32[batch, 3], ids: i32[batch]



def run(tessera, *args, cwd=None):
    return harness.run(tessera, *args, cwd=cwd, timeout=60)


def write_graph(path, graph):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(graph, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--workdir", required=True)
    opt = ap.parse_args()
    t = os.path.abspath(opt.tessera)
    w = opt.workdir
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)

    # --save-inputs, then --inputs with that file: the same outputs, byte for byte.
    gpt = os.path.join(ROOT, "examples", "gpt", "graph.json")
    ins, out1, out2 = (os.path.join(w, n) for n in ("in.safetensors", "o1.safetensors", "o2.safetensors"))
    p = run(t, "run", gpt, "--seed", "7", "--save-inputs", ins, "--outputs", out1)
    check(p.returncode == 0, f"run --save-inputs: {p.stderr}")
    saved = read_safetensors(ins)
    check(sorted(saved) == ["positions", "tokens"], f"saved inputs are the graph's inputs: {sorted(saved)}")
    check(saved["tokens"][0] == "I32" and saved["tokens"][1] == [1, 16], "tokens saved as i32 [1, 16]")
    p = run(t, "run", gpt, "--inputs", ins, "--outputs", out2)
    check(p.returncode == 0, f"run --inputs: {p.stderr}")
    check(read_safetensors(out1) == read_safetensors(out2), "outputs from saved inputs match")

    # --seed: the same seed gives the same inputs, another seed others.
    a = run(t, "run", gpt, "--seed", "3", "--json").stdout
    b = run(t, "run", gpt, "--seed", "3", "--json").stdout
    c = run(t, "run", gpt, "--seed", "4", "--json").stdout
    first = lambda s: json.loads(s)["outputs"][0]["summary"]["first"]
    check(first(a) == first(b), "same seed, same outputs")
    check(first(a) != first(c), "other seed, other outputs")

    # --json: valid, with bindings, the input source and timing.
    j = json.loads(run(t, "run", CLI_GRAPH, "--bind", "batch=4", "--repeat", "3", "--json").stdout)
    check(j["bindings"] == {"batch": 4}, f"json bindings: {j.get('bindings')}")
    check(j["inputs"] == {"fill": "random", "seed": 0}, f"json inputs: {j.get('inputs')}")
    check(j["outputs"][0]["shape"] == [4, 3] and j["outputs"][0]["dtype"] == "f32", "json output shape")
    check(j["timing"]["repeat"] == 3 and j["timing"]["min_ms"] <= j["timing"]["median_ms"] <= j["timing"]["max_ms"],
          f"json timing: {j.get('timing')}")
    j = json.loads(run(t, "run", CLI_GRAPH, "--inputs", os.path.join(ROOT, "tests", "error", "cli", "good.safetensors"),
                       "--json").stdout)
    check(j["inputs"]["file"].endswith("good.safetensors"), "json names the inputs file")
    # good.safetensors: x = 0.5, 1.5, ..., ids = 0, 1 → y = x + table[ids]
    check(j["outputs"][0]["summary"]["first"] == [1.5, 3.5, 5.5, 7.5, 9.5, 11.5], f"values: {j['outputs'][0]}")

    # Integers print exactly, even past 2^53 where doubles cannot.
    big = 2**53 - 1
    g = os.path.join(w, "ints.json")
    write_graph(g, {"format": "tessera.graph", "version": 1,
                    "constants": [{"name": "c", "dtype": "i64", "shape": [3], "data": [big, -5, 7]}],
                    "nodes": [{"op": "mul", "inputs": ["c", "c"], "outputs": ["sq"]}], "outputs": ["c", "sq"]})
    p = run(t, "run", g, "--json")
    j = json.loads(p.stdout)
    check(j["outputs"][0]["summary"]["first"] == [big, -5, 7], f"exact i64: {j['outputs'][0]['summary']}")
    check(j["outputs"][0]["summary"]["max"] == big and j["outputs"][0]["summary"]["min"] == -5, "exact i64 min/max")
    wrapped = (big * big) % 2**64
    wrapped = wrapped - 2**64 if wrapped >= 2**63 else wrapped
    check(j["outputs"][1]["summary"]["first"][0] == wrapped, "i64 mul wraps")
    p = run(t, "run", g)
    check(f"max {big}" in p.stdout, f"text shows exact max: {p.stdout}")

    # An output that is all NaN says so: no made-up mean.
    g = os.path.join(w, "nan.json")
    write_graph(g, {"format": "tessera.graph", "version": 1,
                    "inputs": [{"name": "x", "dtype": "f32", "shape": [4]}],
                    "constants": [{"name": "m", "dtype": "f32", "shape": [4], "data": [-1, -2, -3, -4]}],
                    "nodes": [{"op": "sqrt", "inputs": ["m"], "outputs": ["s"]},
                              {"op": "add", "inputs": ["s", "x"], "outputs": ["y"]}],
                    "outputs": ["y"]})
    p = run(t, "run", g)
    check(p.returncode == 0 and "mean nan" in p.stdout and "nan 4" in p.stdout and "-nan" not in p.stdout,
          f"all-NaN text: {p.stdout}")
    s = json.loads(run(t, "run", g, "--json").stdout)["outputs"][0]["summary"]
    check(s["mean"] is None and s["nan"] == 4 and s["first"] == [None] * 4, f"all-NaN json: {s}")

    # A symbol may be 0 (an empty key/value cache): the run succeeds with empty outputs.
    p = run(t, "run", CLI_GRAPH, "--bind", "batch=0")
    check(p.returncode == 0 and "f32[0, 3]  (empty)" in p.stdout, f"zero-size bind: {p.stdout} {p.stderr}")
    p = run(t, "run", CLI_GRAPH, "--inputs", os.path.join(ROOT, "tests", "error", "cli", "zero_dim.safetensors"))
    check(p.returncode == 0 and "(empty)" in p.stdout, f"zero-size inputs: {p.stdout} {p.stderr}")

    # help VERB is VERB --help; every verb has help.
    check(run(t, "help", "run").stdout == run(t, "run", "--help").stdout, "help run")
    for verb in ("run", "inspect", "compile", "tune", "bench", "db"):
        p = run(t, verb, "--help")
        check(p.returncode == 0 and p.stdout.startswith("usage: tessera " + verb), f"{verb} --help")
    check(run(t, "version").stdout.startswith("tessera "), "version")

    return harness.summary("cli")


if __name__ == "__main__":
    sys.exit(main())
