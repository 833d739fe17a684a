#!/usr/bin/env python3
"""bench_cuda_examples.py — the example models (examples/gpt, bert, llama) on
the GPU: tessera (`run --target cuda`) against PyTorch eager on the same
weights and inputs. Runs where torch has CUDA (the lent GPU machine).

    bench_cuda_examples.py --tessera PATH [--repeats N] [--csv FILE] [--workdir DIR]

The PyTorch models are written here from the architectures (as
tests/oracle/models_np.py is for numpy), f32, reading the same safetensors
weights. Inputs come from tests/oracle/check_examples.py's generators. Both
outputs are compared (f32; tessera's default tf32 GEMMs allow ~1e-2 of the
output's range) before any time counts. PyTorch is timed with CUDA events per
forward after a warm-up, tessera by its CUDA-graph replay time (copies
excluded on both sides). The last line is PASSED or FAILED; exit status 0, 1
on FAILED, 77 when torch has no GPU.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))


def torch_models(torch, F):
    def ln(x, w, b, eps):
        return F.layer_norm(x, (x.shape[-1],), w, b, eps)

    def rms(x, w, eps):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w

    def linear(x, w, b=None):
        return F.linear(x, w, b)

    def split(x, n):
        b, s, width = x.shape
        return x.view(b, s, n, width // n).transpose(1, 2)

    def merge(x):
        b, n, s, hd = x.shape
        return x.transpose(1, 2).reshape(b, s, n * hd)

    def rope(x, theta=10000.0):
        s, hd = x.shape[-2], x.shape[-1]
        inv = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float64, device=x.device) / hd)
        ang = torch.outer(torch.arange(s, dtype=torch.float64, device=x.device), inv)
        cos = torch.cat([ang.cos()] * 2, -1).float()
        sin = torch.cat([ang.sin()] * 2, -1).float()
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def gpt(w, tokens, positions):
        x = w["wte"][tokens] + w["wpe"][positions]
        d = x.shape[-1]
        for i in range(2):
            p = f"h.{i}."
            h = ln(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
            qkv = linear(h, w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"])
            q, k, v = (split(qkv[..., j * d:(j + 1) * d], 4) for j in range(3))
            a = merge(F.scaled_dot_product_attention(q, k, v, is_causal=True))
            x = x + linear(a, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])
            h = ln(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
            h = F.gelu(linear(h, w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]), approximate="tanh")
            x = x + linear(h, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
        x = ln(x, w["ln_f.weight"], w["ln_f.bias"], 1e-5)
        return x @ w["wte"].T

    def bert(w, x, mask):
        p = "encoder.layer.0."
        q, k, v = (split(linear(x, w[f"{p}attention.self.{n}.weight"], w[f"{p}attention.self.{n}.bias"]), 4)
                   for n in ("query", "key", "value"))
        a = merge(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
        a = linear(a, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"])
        x1 = ln(a + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], 1e-12)
        f = F.gelu(linear(x1, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]))
        f = linear(f, w[p + "output.dense.weight"], w[p + "output.dense.bias"])
        return ln(f + x1, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], 1e-12)

    def llama(w, x):
        p = "model.layers.0."
        h = rms(x, w[p + "input_layernorm.weight"], 1e-5)
        q = split(linear(h, w[p + "self_attn.q_proj.weight"]), 4)
        k = split(linear(h, w[p + "self_attn.k_proj.weight"]), 2)
        v = split(linear(h, w[p + "self_attn.v_proj.weight"]), 2)
        a = F.scaled_dot_product_attention(rope(q), rope(k), v, is_causal=True, enable_gqa=True)
        x = x + linear(merge(a), w[p + "self_attn.o_proj.weight"])
        h = rms(x, w[p + "post_attention_layernorm.weight"], 1e-5)
        m = F.silu(linear(h, w[p + "mlp.gate_proj.weight"])) * linear(h, w[p + "mlp.up_proj.weight"])
        return x + linear(m, w[p + "mlp.down_proj.weight"])

    return {"gpt": gpt, "bert": bert, "llama": llama}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--csv")
    ap.add_argument("--workdir")
    opt = ap.parse_args()
    try:
        import numpy as np
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(f"bench_cuda_examples: SKIPPED: {e}")
        return 77
    if not torch.cuda.is_available():
        print("bench_cuda_examples: SKIPPED: torch sees no CUDA GPU")
        return 77
    import check_examples
    import stio
    work = opt.workdir or tempfile.mkdtemp(prefix="tessera-examples-")
    os.makedirs(work, exist_ok=True)
    models = torch_models(torch, F)
    rng = np.random.default_rng(1)
    runs = [("gpt", "logits", check_examples.gpt_inputs(rng, 1, 16), lambda i: (i["tokens"], i["positions"])),
            ("bert", "y", check_examples.bert_inputs(rng, 2, 16, 5, -10000.0), lambda i: (i["x"], i["mask"])),
            ("llama", "y", check_examples.llama_inputs(rng, 1, 16), lambda i: (i["x"],))]
    print(f"example models on {torch.cuda.get_device_name(0)}: tessera (cuda) vs PyTorch eager, f32 "
          f"({opt.repeats} repeats, median)")
    print(f"{'model':<6} {'tessera ms':>11} {'eager ms':>10} {'speed-up':>9}  check")
    csv = open(opt.csv, "w") if opt.csv else None
    if csv:
        csv.write("model,tessera_ms,eager_ms,speedup,status\n")
    failed = 0
    for name, out_name, inputs, order in runs:
        ex = os.path.join(ROOT, "examples", name)
        w = {k: torch.from_numpy(np.ascontiguousarray(a)).cuda()
             for k, (_, a) in stio.read(os.path.join(ex, "weights.safetensors")).items()}
        ipath = os.path.join(work, f"{name}.in.safetensors")
        opath = os.path.join(work, f"{name}.out.safetensors")
        stio.write(ipath, inputs)
        args = []
        for a in order({k: v[1] for k, v in inputs.items()}):
            t = torch.from_numpy(np.ascontiguousarray(a)).cuda()
            args.append(t.long() if t.dtype in (torch.int32, torch.int64) else t)
        fn = models[name]
        with torch.no_grad():
            want = fn(w, *args)
            for _ in range(5):
                fn(w, *args)
            times = []
            for _ in range(opt.repeats):
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                fn(w, *args)
                e1.record()
                e1.synchronize()
                times.append(e0.elapsed_time(e1))
        times.sort()
        eager_ms = times[len(times) // 2]
        r = subprocess.run([opt.tessera, "run", os.path.join(ex, "graph.json"), "--target", "cuda", "--inputs",
                            ipath, "--outputs", opath, "--repeat", str(opt.repeats), "--json"],
                           capture_output=True, text=True)
        status, why, ts_ms = "passed", "", None
        if r.returncode != 0:
            status, why = "failed", (r.stderr.strip().splitlines() or ["?"])[-1]
        else:
            timing = json.loads(r.stdout).get("timing", {})
            ts_ms = timing.get("device_median_ms", timing.get("median_ms"))
            got = stio.read(opath)[out_name][1].astype(np.float64)
            ref = want.double().cpu().numpy()
            err = float(np.max(np.abs(got - ref))) / max(float(np.max(np.abs(ref))), 1e-30)
            if not err <= 1e-2:
                status, why = "failed", f"max error {err:.3g} of max |y| > 1e-2"
        speed = eager_ms / ts_ms if ts_ms and status == "passed" else 0.0
        print(f"{name:<6} {ts_ms if ts_ms else math.nan:11.4f} {eager_ms:10.4f} {speed:8.2f}x  {status}"
              f"{': ' + why if why else ''}", flush=True)
        if csv:
            csv.write(f"{name},{ts_ms},{eager_ms:.5f},{speed:.3f},{status}\n")
        failed += status != "passed"
    if csv:
        csv.close()
    print("FAILED" if failed else "PASSED", f"({failed} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
