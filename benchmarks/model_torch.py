"""model_torch.py — the PyTorch peer: the three families as nn.Modules whose
parameter names are the graph's weights, and the worker that loads tessera's
weights file into one, runs it (eager or torch.compile) and times it."""
import time

import numpy as np

from model_common import BenchError, note, st_read


# ---------------------------------------------------------------------------
# PyTorch versions of the three families (parameter names = the graph's weights)


def torch_model(cfg):
    import torch
    import torch.nn.functional as F
    from torch import nn

    d, nh, L = cfg["d"], cfg["heads"], cfg["layers"]
    hd = d // nh

    def split(x, n):
        b, s, _ = x.shape
        return x.view(b, s, n, hd).transpose(1, 2)

    def merge(x):
        b, n, s, _ = x.shape
        return x.transpose(1, 2).reshape(b, s, n * hd)

    def box(**mods):
        m = nn.Module()
        for k, v in mods.items():
            m.add_module(k, v)
        return m

    class GPT2(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Parameter(torch.empty(cfg["vocab"], d))
            self.wpe = nn.Parameter(torch.empty(cfg["positions"], d))
            self.h = nn.ModuleList(box(ln_1=nn.LayerNorm(d), ln_2=nn.LayerNorm(d),
                                       attn=box(c_attn=nn.Linear(d, 3 * d), c_proj=nn.Linear(d, d)),
                                       mlp=box(c_fc=nn.Linear(d, cfg["ffn"]), c_proj=nn.Linear(cfg["ffn"], d)))
                                   for _ in range(L))
            self.ln_f = nn.LayerNorm(d)

        def forward(self, tokens, positions):
            x = F.embedding(tokens, self.wte) + F.embedding(positions, self.wpe)
            for b in self.h:
                q, k, v = b.attn.c_attn(b.ln_1(x)).split(d, dim=-1)
                a = F.scaled_dot_product_attention(split(q, nh), split(k, nh), split(v, nh), is_causal=True)
                x = x + b.attn.c_proj(merge(a))
                x = x + b.mlp.c_proj(F.gelu(b.mlp.c_fc(b.ln_2(x)), approximate="tanh"))
            return F.linear(self.ln_f(x), self.wte)

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = box(word_embeddings=nn.Embedding(cfg["vocab"], d),
                                  position_embeddings=nn.Embedding(cfg["positions"], d),
                                  token_type_embeddings=nn.Embedding(2, d), LayerNorm=nn.LayerNorm(d, eps=1e-12))
            layer = lambda: box(  # noqa: E731
                attention=box(self=box(query=nn.Linear(d, d), key=nn.Linear(d, d), value=nn.Linear(d, d)),
                              output=box(dense=nn.Linear(d, d), LayerNorm=nn.LayerNorm(d, eps=1e-12))),
                intermediate=box(dense=nn.Linear(d, cfg["ffn"])),
                output=box(dense=nn.Linear(cfg["ffn"], d), LayerNorm=nn.LayerNorm(d, eps=1e-12)))
            self.encoder = box(layer=nn.ModuleList(layer() for _ in range(L)))

        def forward(self, input_ids, positions, mask):
            e = self.embeddings
            x = e.LayerNorm(e.word_embeddings(input_ids) + e.position_embeddings(positions)
                            + e.token_type_embeddings.weight[0])
            for b in self.encoder.layer:
                s = getattr(b.attention, "self")
                a = F.scaled_dot_product_attention(split(s.query(x), nh), split(s.key(x), nh),
                                                   split(s.value(x), nh), attn_mask=mask)
                x = b.attention.output.LayerNorm(b.attention.output.dense(merge(a)) + x)
                x = b.output.LayerNorm(b.output.dense(F.gelu(b.intermediate.dense(x))) + x)
            return x

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(d))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            nkv, f = cfg["kv_heads"], cfg["ffn"]
            lin = lambda i, o: nn.Linear(i, o, bias=False)  # noqa: E731
            self.model = box(
                embed_tokens=nn.Embedding(cfg["vocab"], d), norm=RMSNorm(),
                layers=nn.ModuleList(box(
                    input_layernorm=RMSNorm(), post_attention_layernorm=RMSNorm(),
                    self_attn=box(q_proj=lin(d, d), k_proj=lin(d, nkv * hd), v_proj=lin(d, nkv * hd),
                                  o_proj=lin(d, d)),
                    mlp=box(gate_proj=lin(d, f), up_proj=lin(d, f), down_proj=lin(f, d))) for _ in range(L)))
            self.lm_head = lin(d, cfg["vocab"])

        def forward(self, tokens):
            s, nkv = tokens.shape[1], cfg["kv_heads"]
            # Rotate-half tables in double, as onnx_export.py makes them.
            inv = 10000.0 ** (-torch.arange(0, hd, 2, dtype=torch.float64, device=tokens.device) / hd)
            ang = torch.outer(torch.arange(s, dtype=torch.float64, device=tokens.device), inv)
            cos, sin = torch.cat([ang.cos()] * 2, -1).float(), torch.cat([ang.sin()] * 2, -1).float()

            def rope(x):
                x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
                return x * cos + torch.cat([-x2, x1], -1) * sin

            x = self.model.embed_tokens(tokens)
            for b in self.model.layers:
                a, n = b.self_attn, b.input_layernorm(x)
                o = F.scaled_dot_product_attention(rope(split(a.q_proj(n), nh)), rope(split(a.k_proj(n), nkv)),
                                                   split(a.v_proj(n), nkv), is_causal=True, enable_gqa=True)
                x = x + a.o_proj(merge(o))
                n = b.post_attention_layernorm(x)
                x = x + b.mlp.down_proj(F.silu(b.mlp.gate_proj(n)) * b.mlp.up_proj(n))
            return self.lm_head(self.model.norm(x))

    return {"gpt2": GPT2, "bert": Bert, "llama": Llama}[cfg["family"]]



# The worker, in its own process (model_peers.py's worker_main): a job file in,
# the first output as .npy, the times back.


def worker_torch(job):
    import torch
    cuda = job["target"] == "cuda"
    dev = "cuda" if cuda else "cpu"
    if cuda:
        if not torch.cuda.is_available():
            raise BenchError("torch sees no CUDA GPU")
        torch.backends.cuda.matmul.allow_tf32 = job["tf32"]
        torch.backends.cudnn.allow_tf32 = job["tf32"]
    else:
        torch.set_num_threads(job["threads"])
    note(f"  {job['peer']}: loading the weights")
    with torch.device("meta"):
        model = torch_model(job["cfg"])()
    state = {k: torch.from_numpy(np.array(a)).to(dev) for k, (_, a) in st_read(job["weights"]).items()}
    model.load_state_dict(state, strict=True, assign=True)
    del state
    model.eval()
    feeds = {}
    for k, (dt, a) in st_read(job["inputs"]).items():
        t = torch.from_numpy(np.array(a)).to(dev)
        feeds[k] = t.long() if dt in ("i32", "i64") else t
    # One warm-up run on the CPU (a LLaMA forward takes seconds); on the GPU
    # three, for cuBLAS's handles and workspaces.
    fn, warmups, step = model, 3 if cuda else 1, (lambda: None)
    if job["peer"] == "torch-compile":
        fn, warmups = torch.compile(model, mode="max-autotune"), 3
        # max-autotune replays CUDA graphs: mark each call a new step, so a
        # replay may reuse the previous call's output memory.
        step = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", step)
    times = []
    with torch.inference_mode():
        t0 = time.perf_counter()
        for _ in range(warmups):
            step()
            out = fn(**feeds)
        # Copied out now: a later replay may overwrite a CUDA graph's output.
        np.save(job["out"] % job["outputs"][0], out.float().cpu().numpy())
        del out
        note(f"  {job['peer']}: warm-up {time.perf_counter() - t0:.1f} s")
        for _ in range(job["repeats"]):
            step()
            if cuda:
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                fn(**feeds)
                e1.record()
                e1.synchronize()
                times.append(e0.elapsed_time(e1))
            else:
                t0 = time.perf_counter()
                fn(**feeds)
                times.append((time.perf_counter() - t0) * 1e3)
    return times
