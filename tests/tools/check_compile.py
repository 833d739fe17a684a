#!/usr/bin/env python3
"""check_compile.py — `tessera compile --target cpu`: the artifacts run and
agree with `tessera run`, and need nothing but libc, libm, libpthread, libdl and
libcjson. For each example (gpt, bert, llama): the executable's outputs on the
inputs `run --target ref` saved are bit-identical to `run --target cpu --cpu
portable`'s and within tolerance of the reference interpreter's; --fill random
--seed gives what `run --seed` gives. For gpt also: the shared library through
a C program built here and through examples/c_api, --embed-weights running
with the weights file moved away, and one-line errors (exit 1) for a missing,
truncated or foreign weights file. And `compile --target cuda` offline (no GPU):
examples/gpt for sm_80 and sm_90a gives the library and executable, needing no
NVRTC, LLVM or libcuda, carrying a cubin for the arch (its ELF header says so)
and the PTX; without a driver the executable says so in one line (exit 1); on
the mock driver (tests/cuda_mock) it loads and runs.
Stdlib only. Usage: check_compile.py --tessera PATH --workdir DIR"""
import argparse
import json
import os
import re
import shutil
import struct
import sys

import harness
from harness import check, read_safetensors, run

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = ("gpt", "bert", "llama")
ALLOWED_NEEDED = re.compile(r"^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|libcjson\.so\.1|"
                            r"ld-linux-x86-64\.so\.2)$")
SANITIZER_NEEDED = re.compile(r"^lib(asan|ubsan)\.so(\.\d+)*$")
FORBIDDEN = re.compile(r"llvm|nvrtc|cuda|stdc\+\+", re.IGNORECASE)

def close_f32(got, want, rtol=1e-4, atol=1e-4):
    """(ok, worst |got - want|) for two F32 tensors' bytes."""
    a = struct.unpack(f"<{len(got) // 4}f", got)
    b = struct.unpack(f"<{len(want) // 4}f", want)
    worst, ok = 0.0, len(a) == len(b)
    for x, y in zip(a, b):
        err = abs(x - y)
        worst = max(worst, err)
        if not err <= atol + rtol * abs(y):
            ok = False
    return ok, worst


def needed(path):
    p = run("readelf", "-d", path)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", p.stdout) if p.returncode == 0 else None


def one_error_line(p, what, must_contain):
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 1, f"{what}: exit status 1, got {p.returncode}: {p.stderr}")
    check(len(lines) == 1 and ": error: " in lines[0] and must_contain in lines[0],
          f"{what}: one error line containing {must_contain!r}: {p.stderr!r}")
    check(p.stdout == "", f"{what}: nothing on standard output: {p.stdout!r}")


# A C program on tessera_model.h: reads DIR/<input>.bin, runs, writes DIR/<output>.out.
LIB_CHECK_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tessera_model.h"
int main(int argc, char **argv) {
    char err[1024], path[4096];
    if (argc != 3) return 2;
    tessera_model *m = tessera_model_create(strcmp(argv[1], "-") ? argv[1] : NULL, 2, err, sizeof err);
    if (!m) { fprintf(stderr, "create: %s\n", err); return 1; }
    int nin = tessera_model_num_inputs(m), nout = tessera_model_num_outputs(m);
    void *in[16], *out[16];
    if (nin > 16 || nout > 16 || tessera_model_input_name(m, nin) != NULL || tessera_model_output_rank(m, -1) != -1)
        return 3;
    for (int i = 0; i < nin; i++) {
        size_t n = tessera_model_input_nbytes(m, i);
        in[i] = malloc(n + 1);
        snprintf(path, sizeof path, "%s/%s.bin", argv[2], tessera_model_input_name(m, i));
        FILE *f = fopen(path, "rb");
        if (!f || fread(in[i], 1, n + 1, f) != n) { fprintf(stderr, "bad input %s\n", path); return 4; }
        fclose(f);
    }
    for (int i = 0; i < nout; i++) out[i] = malloc(tessera_model_output_nbytes(m, i) + 1);
    for (int r = 0; r < 2; r++)
        if (tessera_model_run(m, (const void *const *)in, out, err, sizeof err)) { fprintf(stderr, "run: %s\n", err); return 1; }
    for (int i = 0; i < nout; i++) {
        snprintf(path, sizeof path, "%s/%s.out", argv[2], tessera_model_output_name(m, i));
        FILE *f = fopen(path, "wb");
        fwrite(out[i], 1, tessera_model_output_nbytes(m, i), f);
        fclose(f);
        printf("%s %s %d\n", tessera_model_output_name(m, i), tessera_model_output_dtype(m, i),
               tessera_model_output_rank(m, i));
        free(out[i]);
    }
    for (int i = 0; i < nin; i++) free(in[i]);
    tessera_model_free(m);
    return 0;
}
"""


def build_info(tessera):
    """(C compiler, sanitizer flags) from `tessera version`."""
    out = run(tessera, "version").stdout
    cc = re.search(r"C compiler for compiled models: (.+)", out)
    san = re.search(r"sanitizers ([\w,]+)", out)
    return (cc.group(1).strip() if cc else "cc"), ([f"-fsanitize={san.group(1)}"] if san else [])


def check_example(t, w, name, sanitized):
    graph = os.path.join(ROOT, "examples", name, "graph.json")
    out = os.path.join(w, name)
    p = run(t, "compile", graph, "--target", "cpu", "-o", out)
    if not check(p.returncode == 0, f"{name}: compile: {p.stderr}"):
        return
    exe, lib = os.path.join(out, name), os.path.join(out, f"lib{name}.so")
    check(sorted(os.listdir(out)) == sorted([name, f"lib{name}.so", "tessera_model.h"]),
          f"{name}: DIR holds the three results and nothing else: {os.listdir(out)}")
    check("x86-64-v3" in p.stdout and "kernels" in p.stdout, f"{name}: summary names the CPU: {p.stdout}")

    for f in (exe, lib):
        deps = needed(f)
        if not check(deps is not None, f"{name}: readelf -d {f}"):
            continue
        bad = [d for d in deps if not (ALLOWED_NEEDED.match(d) or (sanitized and SANITIZER_NEEDED.match(d)))]
        check(not bad and not any(FORBIDDEN.search(d) for d in deps), f"{name}: {f} NEEDED only libc & co: {deps}")

    ins, ref, cpu, got = (os.path.join(w, f"{name}.{k}.safetensors") for k in ("in", "ref", "cpu", "exe"))
    p = run(t, "run", graph, "--target", "ref", "--seed", "11", "--save-inputs", ins, "--outputs", ref)
    check(p.returncode == 0, f"{name}: run --target ref: {p.stderr}")
    p = run(t, "run", graph, "--target", "cpu", "--cpu", "portable", "--inputs", ins, "--outputs", cpu)
    check(p.returncode == 0, f"{name}: run --target cpu: {p.stderr}")
    p = run(exe, "--inputs", ins, "--outputs", got, "--repeat", "2", "--threads", "2")
    if not check(p.returncode == 0, f"{name}: the executable runs: {p.stderr}"):
        return
    check("time  median" in p.stdout, f"{name}: the executable prints the timing: {p.stdout}")
    g, c, r = read_safetensors(got), read_safetensors(cpu), read_safetensors(ref)
    check(g == c, f"{name}: the executable's outputs equal run --target cpu --cpu portable's, bit for bit")
    for out_name, (dtype, shape, data) in r.items():
        if out_name not in g or dtype != "F32":
            check(out_name in g and g[out_name] == r[out_name], f"{name}: output {out_name} matches the reference")
            continue
        ok, worst = close_f32(g[out_name][2], data)
        check(ok and g[out_name][1] == shape, f"{name}: {out_name} within tolerance of the reference (worst {worst})")

    # --fill random --seed N: the inputs run makes, so the same outputs.
    a, b = os.path.join(w, f"{name}.seed.exe"), os.path.join(w, f"{name}.seed.cpu")
    pa = run(exe, "--seed", "5", "--outputs", a, "--json")
    pb = run(t, "run", graph, "--target", "cpu", "--cpu", "portable", "--seed", "5", "--outputs", b)
    check(pa.returncode == 0 and pb.returncode == 0, f"{name}: --seed runs: {pa.stderr} {pb.stderr}")
    if pa.returncode == 0:
        check(read_safetensors(a) == read_safetensors(b), f"{name}: --seed 5 gives run's outputs")
        j = json.loads(pa.stdout)
        check(j["inputs"] == {"fill": "random", "seed": 5} and len(j["outputs"]) == len(r),
              f"{name}: --json describes the run: {pa.stdout[:200]}")


def check_gpt_extras(t, w, cc, san):
    gpt = os.path.join(w, "gpt")
    exe, ins = os.path.join(gpt, "gpt"), os.path.join(w, "gpt.in.safetensors")
    cpu = read_safetensors(os.path.join(w, "gpt.cpu.safetensors"))
    # The shared library through the C interface.
    src, prog, data = (os.path.join(w, n) for n in ("lib_check.c", "lib_check", "libdata"))
    with open(src, "w") as f:
        f.write(LIB_CHECK_C)
    p = run(*cc.split(), *san, "-std=c11", "-Wall", "-Werror", src, f"-I{gpt}", f"-L{gpt}", "-lgpt",
            f"-Wl,-rpath,{gpt}", "-o", prog)
    if check(p.returncode == 0, f"builds a C program on libgpt.so: {p.stderr}"):
        os.makedirs(data, exist_ok=True)
        for k, (_, _, b) in read_safetensors(ins).items():
            with open(os.path.join(data, k + ".bin"), "wb") as f:
                f.write(b)
        p = run(prog, "-", data)
        check(p.returncode == 0 and p.stdout.strip() == "logits f32 3", f"the C program runs: {p.stdout} {p.stderr}")
        if p.returncode == 0:
            with open(os.path.join(data, "logits.out"), "rb") as f:
                check(f.read() == cpu["logits"][2], "libgpt.so's logits equal run --target cpu's")
        p = run(prog, os.path.join(w, "missing.safetensors"), data)
        check(p.returncode == 1 and "missing.safetensors: cannot open" in p.stderr,
              f"tessera_model_create names a missing file: {p.stderr}")

    # The example in examples/c_api/ still builds and runs.
    demo = os.path.join(w, "gpt_demo")
    p = run(*cc.split(), *san, "-std=c11", "-Wall", "-Wextra", "-Werror", os.path.join(ROOT, "examples", "c_api", "main.c"),
            f"-I{gpt}", f"-L{gpt}", "-lgpt", f"-Wl,-rpath,{gpt}", "-o", demo)
    if check(p.returncode == 0, f"examples/c_api/main.c builds: {p.stderr}"):
        p = run(demo)
        check(p.returncode == 0 and "logits: argmax of the last row:" in p.stdout, f"gpt_demo runs: {p.stdout} {p.stderr}")

    # Weights errors from the executable: one line, exit 1.
    trunc = os.path.join(w, "trunc.safetensors")
    with open(os.path.join(ROOT, "examples", "gpt", "weights.safetensors"), "rb") as f:
        blob = f.read()
    with open(trunc, "wb") as f:
        f.write(blob[:len(blob) // 2])
    one_error_line(run(exe, "--weights", trunc), "truncated weights", "trunc.safetensors")
    one_error_line(run(exe, "--weights", os.path.join(w, "nope.safetensors")), "missing weights",
                   "nope.safetensors: cannot open")
    one_error_line(run(exe, "--weights", os.path.join(ROOT, "examples", "bert", "weights.safetensors")),
                   "another model's weights", "is missing from this file")

    # --embed-weights: runs with the weights file gone; the referencing build does not.
    copy = os.path.join(w, "gptcopy")
    os.makedirs(copy, exist_ok=True)
    for n in ("graph.json", "weights.safetensors"):
        shutil.copy(os.path.join(ROOT, "examples", "gpt", n), copy)
    emb, ref_only = os.path.join(w, "emb"), os.path.join(w, "refonly")
    p = run(t, "compile", os.path.join(copy, "graph.json"), "-o", emb, "--name", "gpt", "--embed-weights")
    check(p.returncode == 0 and "embedded" in p.stdout, f"compile --embed-weights: {p.stdout} {p.stderr}")
    p = run(t, "compile", os.path.join(copy, "graph.json"), "-o", ref_only, "--name", "gpt")
    check(p.returncode == 0, f"compile from the copy: {p.stderr}")
    moved = os.path.join(copy, "weights.moved")
    os.rename(os.path.join(copy, "weights.safetensors"), moved)
    out = os.path.join(w, "emb.safetensors")
    p = run(os.path.join(emb, "gpt"), "--inputs", ins, "--outputs", out)
    if check(p.returncode == 0, f"the embedded build runs without the weights file: {p.stderr}"):
        check(read_safetensors(out) == cpu, "embedded weights give the same logits")
    one_error_line(run(os.path.join(ref_only, "gpt"), "--inputs", ins), "weights file moved away",
                   "weights.safetensors: cannot open")
    p = run(os.path.join(ref_only, "gpt"), "--inputs", ins, "--weights", moved, "--outputs", out)
    check(p.returncode == 0 and read_safetensors(out) == cpu, f"--weights finds them again: {p.stderr}")
    if os.path.exists(prog):
        p = run(prog, "-", os.path.join(w, "libdata"), env=dict(os.environ, LD_LIBRARY_PATH=emb))
        check(p.returncode == 0, f"the C program runs on the embedded library too: {p.stderr}")

    # Usage.
    p = run(t, "compile", os.path.join(ROOT, "examples", "gpt", "graph.json"))
    check(p.returncode == 2 and "-o" in p.stderr, f"no -o is a usage error: {p.stderr}")
    p = run(t, "compile", "--help")
    check(p.returncode == 0 and "--embed-weights" in p.stdout, "compile --help")
    p = run(exe, "--help")
    check(p.returncode == 0 and "--weights FILE" in p.stdout, "the executable's --help")


def embedded_cubins(blob):
    """Offsets of the CUDA ELF images (e_machine 190) inside a file's bytes."""
    found, at = [], blob.find(b"\x7fELF", 1)
    while at > 0:
        if at + 64 <= len(blob) and struct.unpack_from("<H", blob, at + 18)[0] == 190:
            found.append(at)
        at = blob.find(b"\x7fELF", at + 1)
    return found


def write_safetensors(path, tensors):
    """tensors: name -> (safetensors dtype, shape, raw bytes)."""
    header, blob = {}, b""
    for name, (dt, shape, raw) in tensors.items():
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)


def check_cuda_spec_example(t, w):
    """The graph the format's authors wrote (the first JSON block of
    docs/FORMAT.md, verbatim) compiles for the GPU offline, for sm_80 and sm_90a."""
    with open(os.path.join(ROOT, "docs", "FORMAT.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"```json\n(.*?)```", text, re.S)
    if not check(m is not None, "docs/FORMAT.md has a JSON example"):
        return
    d = os.path.join(w, "spec-example")
    os.makedirs(d, exist_ok=True)
    graph = json.loads(m.group(1))
    with open(os.path.join(d, "graph.json"), "w") as f:
        f.write(m.group(1))
    vocab, width = 97, 32   # the example names the weights, not their sizes
    floats = lambda n, k: struct.pack(f"<{n}f", *[((i * k) % 17 - 8) / 16 + 0.03 for i in range(n)])
    write_safetensors(os.path.join(d, graph["weights"]),
                      {"wte": ("F32", [vocab, width], floats(vocab * width, 7)),
                       "ln.weight": ("F32", [width], floats(width, 3)),
                       "ln.bias": ("F32", [width], floats(width, 5))})
    for arch in ("sm_80", "sm_90a"):
        out = os.path.join(w, f"spec-cuda-{arch}")
        p = run(t, "compile", os.path.join(d, "graph.json"), "--target", "cuda", "--arch", arch, "-o", out)
        check(p.returncode == 0 and f"for {arch}" in p.stdout,
              f"FORMAT.md's example compiles for {arch}: {p.stdout} {p.stderr}")


def check_cuda(t, w, sanitized):
    """compile --target cuda of examples/gpt (a graph someone else wrote), offline."""
    graph = os.path.join(ROOT, "examples", "gpt", "graph.json")
    mock = os.path.join(os.path.dirname(t), "tests", "libts_mock_libcuda.so")
    stub = "/usr/local/cuda/lib64/stubs/libcuda.so"
    for arch, sm in (("sm_80", 80), ("sm_90a", 90)):
        out = os.path.join(w, f"cuda-{arch}")
        p = run(t, "compile", graph, "--target", "cuda", "--arch", arch, "-o", out, "--name", "gpt",
                "--embed-weights")
        if not check(p.returncode == 0, f"cuda {arch}: compile: {p.stderr}"):
            continue
        exe, lib = os.path.join(out, "gpt"), os.path.join(out, "libgpt.so")
        check(sorted(os.listdir(out)) == ["gpt", "libgpt.so", "tessera_model.h"],
              f"cuda {arch}: DIR holds the three results and nothing else: {os.listdir(out)}")
        check(arch in p.stdout and "cubin" in p.stdout and "PTX" in p.stdout,
              f"cuda {arch}: the summary names the arch, cubin and PTX: {p.stdout}")
        for f in (exe, lib):
            deps = needed(f)
            if not check(deps is not None, f"cuda {arch}: readelf -d {f}"):
                continue
            bad = [d for d in deps if not (ALLOWED_NEEDED.match(d) or (sanitized and SANITIZER_NEEDED.match(d)))]
            check(not bad and not any(FORBIDDEN.search(d) for d in deps),
                  f"cuda {arch}: {f} NEEDED has no nvrtc, llvm or libcuda: {deps}")
            with open(f, "rb") as fh:
                blob = fh.read()
            cubins = embedded_cubins(blob)
            check(len(cubins) == 1, f"cuda {arch}: {f} embeds one cubin, found {len(cubins)}")
            if cubins:
                flags = struct.unpack_from("<I", blob, cubins[0] + 48)[0]
                check((flags >> 8) & 0xff == sm, f"cuda {arch}: the cubin's ELF e_flags name sm_{sm}: {flags:#x}")
            check(b".target " + arch.encode() + b"\n" in blob and b".visible .entry" in blob,
                  f"cuda {arch}: {f} embeds the PTX for {arch}")
        p = run(exe, "--info")
        info = dict(line.split(": ", 1) for line in p.stdout.splitlines() if ": " in line)
        check(p.returncode == 0 and info.get("target") == "cuda" and info.get("arch") == arch and
              info.get("cubin", "").endswith(f"ELF for sm_{sm}") and int(info.get("ptx", "0 ").split()[0]) > 0 and
              info.get("weights") == "embedded", f"cuda {arch}: --info: {p.stdout} {p.stderr}")
        # No GPU: one line, exit 1, never a crash.
        env = dict(os.environ, TESSERA_LIBCUDA=os.path.join(w, "no-such-libcuda.so.1"))
        one_error_line(run(exe, env=env), f"cuda {arch}: no driver", "no CUDA driver: cannot load")
        if os.path.exists(stub):
            one_error_line(run(exe, env=dict(os.environ, TESSERA_LIBCUDA=stub)), f"cuda {arch}: the stub driver",
                           "the CUDA toolkit's stub library")
        p = run(exe)
        check(p.returncode == 0 or (p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and
                                    "CUDA" in p.stderr),
              f"cuda {arch}: plain run: results on a GPU, one line without: {p.stderr}")
        # The mock driver (cc 9.0): the sm_90 cubin loads, the sm_80 one falls back to the PTX; the
        # mock's kernels do nothing, so only the control flow is checked.
        if os.path.exists(mock):
            p = run(exe, "--repeat", "2", env=dict(os.environ, TESSERA_LIBCUDA=mock))
            check(p.returncode == 0 and "logits" in p.stdout and f"cuda {arch}" in p.stdout,
                  f"cuda {arch}: runs on the mock driver: {p.stdout} {p.stderr}")
    p = run(t, "compile", graph, "--target", "cuda", "--arch", "sm_70", "-o", os.path.join(w, "cuda-sm70"))
    check(p.returncode == 2 and "sm_70" in p.stderr and not os.path.exists(os.path.join(w, "cuda-sm70")),
          f"compile --arch sm_70 is a usage error: {p.stderr}")
    p = run(t, "compile", graph, "--target", "cuda", "--cpu", "native", "-o", os.path.join(w, "cuda-cpu"))
    check(p.returncode == 2 and "--cpu" in p.stderr, f"compile --target cuda --cpu is a usage error: {p.stderr}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--workdir", required=True)
    opt = ap.parse_args()
    t = os.path.abspath(opt.tessera)
    w = os.path.abspath(opt.workdir)
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    p = run(t, "compile", "--help")
    if p.returncode != 0:
        print(f"compile: skipped (tessera compile unavailable: {p.stderr.strip()})")
        return 0
    probe = run(t, "run", os.path.join(ROOT, "examples", "gpt", "graph.json"), "--target", "cpu")
    if probe.returncode != 0 and "LLVM" in probe.stderr:
        print(f"compile: skipped (no CPU backend in this build: {probe.stderr.strip()})")
        return 0
    cc, san = build_info(t)
    for name in EXAMPLES:
        check_example(t, w, name, bool(san))
    if os.path.exists(os.path.join(w, "gpt", "gpt")):
        check_gpt_extras(t, w, cc, san)
    if "targets: ref, cpu, cuda" in run(t, "version").stdout or "targets: ref, cuda" in run(t, "version").stdout:
        check_cuda(t, w, bool(san))
        check_cuda_spec_example(t, w)
    else:
        print("compile: --target cuda skipped (this build has no GPU backend)")
    if harness.failed == 0:
        shutil.rmtree(w, ignore_errors=True)
    return harness.summary("compile")


if __name__ == "__main__":
    sys.exit(main())
