#!/usr/bin/env python3
"""bench_cuda_attention.py — tessera's attention kernel against PyTorch's
scaled_dot_product_attention, on the same GPU and the same inputs
(BENCHMARKS.md, "Attention"). Runs where torch has CUDA (the lent GPU machine).

    bench_cuda_attention.py --tessera PATH [--dtype bf16|f16] [--quick] [--repeats N]
                            [--csv FILE] [--workdir DIR]

For each configuration [batch, heads, seq, head_dim] (causal and not, and
grouped-query 32 over 8 heads), q, k and v are drawn once (seeded, never zero),
written to a safetensors file and given to both sides. PyTorch is timed with
CUDA events around each call after a warm-up; tessera with
`tessera run --target cuda --repeat N --json`, whose timing for cuda is the
replay of the compiled CUDA graph on inputs already on the device (copies
excluded, as for PyTorch). The outputs are compared before any time counts.
FLOPs = 4·batch·heads·seq²·head_dim, half when causal. The last line is
PASSED or FAILED; exit status 0, 1 on FAILED, 77 when torch has no GPU.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile


def write_safetensors(path, tensors):
    """tensors: name -> torch tensor (contiguous, on the CPU)."""
    import torch
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dtype != torch.float32 \
            else t.contiguous().numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    import torch
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    kinds = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        buf = bytearray(data[8 + n + lo:8 + n + hi])
        t = torch.frombuffer(buf, dtype=torch.uint8).view(kinds[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


def configs(quick):
    rows = []
    for seq in ([128, 1024] if quick else [128, 512, 1024, 2048]):
        rows.append((1, 12, 12, seq, 64))
    for seq in ([1024, 4096] if quick else [512, 1024, 2048, 4096, 8192]):
        rows.append((1, 32, 32, seq, 128))
    rows.append((8, 32, 32, 1024, 128))
    rows.append((1, 32, 8, 2048 if quick else 4096, 128))  # grouped-query
    return rows


def graph_json(b, hq, hkv, s, d, dtype, causal):
    return {
        "format": "tessera.graph", "version": 1, "name": "attention",
        "inputs": [{"name": "q", "dtype": dtype, "shape": [b, hq, s, d]},
                   {"name": "k", "dtype": dtype, "shape": [b, hkv, s, d]},
                   {"name": "v", "dtype": dtype, "shape": [b, hkv, s, d]}],
        "nodes": [{"name": "attn", "op": "attention", "inputs": ["q", "k", "v"], "outputs": ["o"],
                   "attrs": {"causal": causal}}],
        "outputs": ["o"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--dtype", choices=["bf16", "f16"], default="bf16")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--csv")
    ap.add_argument("--workdir")
    opt = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("bench_cuda_attention: SKIPPED: torch is not installed")
        return 77
    if not torch.cuda.is_available():
        print("bench_cuda_attention: SKIPPED: torch sees no CUDA GPU")
        return 77
    dt = torch.bfloat16 if opt.dtype == "bf16" else torch.float16
    work = opt.workdir or tempfile.mkdtemp(prefix="tessera-attn-")
    os.makedirs(work, exist_ok=True)
    dev = torch.cuda.get_device_name(0)
    print(f"attention forward {opt.dtype} on {dev}: tessera vs torch SDPA ({opt.repeats} repeats, median)")
    print(f"{'batch':>5} {'hq':>3} {'hkv':>3} {'seq':>5} {'d':>4} {'causal':>6}  "
          f"{'tessera':>10} {'torch':>10} {'ratio':>6}  check")
    csv = open(opt.csv, "w") if opt.csv else None
    if csv:
        csv.write("batch,hq,hkv,seq,head_dim,causal,dtype,tessera_tflops,torch_tflops,ratio,status\n")
    failed = 0
    gen = torch.Generator().manual_seed(1)
    for (b, hq, hkv, s, d) in configs(opt.quick):
        for causal in (False, True):
            q = (torch.rand(b, hq, s, d, generator=gen) * 2 - 1).clamp_min(1e-3).to(dt)
            k = (torch.rand(b, hkv, s, d, generator=gen) * 2 - 1).clamp_min(1e-3).to(dt)
            v = (torch.rand(b, hkv, s, d, generator=gen) * 2 - 1).clamp_min(1e-3).to(dt)
            qd, kd, vd = q.cuda(), k.cuda(), v.cuda()
            gqa = hq != hkv

            def peer():
                return F.scaled_dot_product_attention(qd, kd, vd, is_causal=causal, enable_gqa=gqa)
            want = peer()
            for _ in range(3):
                peer()
            times = []
            for _ in range(opt.repeats):
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                peer()
                e1.record()
                e1.synchronize()
                times.append(e0.elapsed_time(e1))
            times.sort()
            torch_ms = times[len(times) // 2]

            name = f"b{b}_h{hq}_{hkv}_s{s}_d{d}_{'causal' if causal else 'full'}"
            gpath, ipath, opath = (os.path.join(work, f"{name}.{x}") for x in ("json", "in.safetensors",
                                                                               "out.safetensors"))
            with open(gpath, "w") as f:
                json.dump(graph_json(b, hq, hkv, s, d, opt.dtype, causal), f)
            write_safetensors(ipath, {"q": q, "k": k, "v": v})
            r = subprocess.run([opt.tessera, "run", gpath, "--target", "cuda", "--inputs", ipath,
                                "--outputs", opath, "--repeat", str(opt.repeats), "--json"],
                               capture_output=True, text=True)
            flops = 4.0 * b * hq * s * s * d * (0.5 if causal else 1.0)
            status, ts_ms, why = "passed", None, ""
            if r.returncode != 0:
                status, why = "failed", (r.stderr.strip().splitlines() or ["?"])[-1]
            else:
                timing = json.loads(r.stdout).get("timing", {})
                ts_ms = timing.get("device_median_ms", timing.get("median_ms"))
                got = read_safetensors(opath)["o"].float()
                ref = want.float().cpu()
                err = (got - ref).abs().max().item() / max(ref.abs().max().item(), 1e-30)
                tol = 2e-2 if opt.dtype == "bf16" else 4e-3
                if not err <= tol:
                    status, why = "failed", f"max error {err:.3g} of max |o| > {tol}"
            ts_tf = flops / (ts_ms * 1e-3) / 1e12 if ts_ms and status == "passed" else 0.0
            th_tf = flops / (torch_ms * 1e-3) / 1e12
            ratio = ts_tf / th_tf if th_tf else 0.0
            print(f"{b:>5} {hq:>3} {hkv:>3} {s:>5} {d:>4} {str(causal):>6}  {ts_tf:8.1f} T {th_tf:8.1f} T "
                  f"{ratio:5.2f}x  {status}{': ' + why if why else ''}", flush=True)
            if csv:
                csv.write(f"{b},{hq},{hkv},{s},{d},{int(causal)},{opt.dtype},{ts_tf:.2f},{th_tf:.2f},"
                          f"{ratio:.3f},{status}\n")
            failed += status != "passed"
    if csv:
        csv.close()
    print("FAILED" if failed else "PASSED", f"({failed} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
