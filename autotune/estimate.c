/* estimate.c — the analytical model that ranks candidates before any is
 * measured: the machine's ceilings (clock, FMA peak, copy bandwidth, waking
 * the pool) and, per kernel kind, a roofline time with what the schedule
 * does to it (register-block occupancy, edge waste, packing, cache fit,
 * load balance; GPU: tile efficiency, waves, occupancy). Only the order
 * matters: the search measures what the model ranks high. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"

static int64_t cdiv(int64_t a, int64_t b) { return b > 0 ? (a + b - 1) / b : 0; }
static int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* ---- ceilings ------------------------------------------------------------------ */

/* The core clock from a chain of dependent register-to-register adds (one
 * per cycle): the best of 20 runs of 4M adds (~1 ms each), so that a
 * neighbour taking the core for a moment only makes one run slower. Not
 * "add $1": Golden Cove and later cores fold chains of immediate adds at
 * rename (measured: 11-14 "GHz" on a Sapphire Rapids class Xeon). 0 where
 * there is no such chain to time. */
double ts_tune_measure_ghz(void) {
#if defined(__x86_64__)
    double best = 0;
    for (int rep = 0; rep < 20; rep++) {
        long n = 4000000, x = 0, one = 1;
        double t = ts_rt_now_seconds();
        __asm__ volatile("1: addq %2, %0\n\taddq %2, %0\n\taddq %2, %0\n\taddq %2, %0\n\t"
                         "subq $4, %1\n\tjnz 1b"
                         : "+r"(x), "+r"(n)
                         : "r"(one));
        t = ts_rt_now_seconds() - t;
        double ghz = t > 0 ? 4000000 / t / 1e9 : 0;
        if (ghz > best) best = ghz;
    }
    return best;
#else
    return 0;
#endif
}

/* Bytes read plus bytes written per second by one thread copying 64 MiB
 * (past any cache), the best of 3. */
static double measure_copy_gbps(void) {
    size_t size = (size_t)64 << 20;
    char *src = malloc(size), *dst = malloc(size);
    double best = 0;
    if (src && dst) {
        memset(src, 1, size);
        memset(dst, 0, size);
        for (int rep = 0; rep < 3; rep++) {
            double t = ts_rt_now_seconds();
            memcpy(dst, src, size);
            t = ts_rt_now_seconds() - t;
            /* the copy's result is read, so it is not optimized away */
            src[rep] = dst[size - 1 - (size_t)rep];
            if (t > 0 && 2.0 * (double)size / t / 1e9 > best) best = 2.0 * (double)size / t / 1e9;
        }
    }
    free(src);
    free(dst);
    return best;
}

static int32_t empty_task(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)ctx, (void)worker, (void)begin, (void)end;
    return 0;
}

/* Seconds per launch of a pool of the target's workers, back to back (the
 * workers still spinning, as between a model's kernels): the best mean of 5
 * batches of 100 empty launches. */
static double measure_launch(int threads) {
    struct ts_rt_pool *pool;
    char err[256];
    if (threads <= 1 || ts_rt_pool_init(threads, &pool, err, sizeof err) != 0) return threads <= 1 ? 50e-9 : 2e-6;
    ts_rt_pool_run(pool, threads, 0, empty_task, NULL);
    double best = INFINITY;
    for (int batch = 0; batch < 5; batch++) {
        double t = ts_rt_now_seconds();
        for (int i = 0; i < 100; i++) ts_rt_pool_run(pool, threads, 0, empty_task, NULL);
        t = (ts_rt_now_seconds() - t) / 100;
        if (t < best) best = t;
    }
    ts_rt_pool_free(pool);
    return best > 0 && isfinite(best) ? best : 2e-6;
}

enum ts_status ts_tune_ceilings_cpu(const struct ts_tune_target *t, struct ts_tune_ceilings *c, struct ts_diag *d) {
    (void)d;
    memset(c, 0, sizeof *c);
    int threads = t->threads > 0 ? t->threads : 1, lanes = t->vector_bits >= 32 ? t->vector_bits / 32 : 1;
    c->ghz = ts_tune_measure_ghz();
    if (!(c->ghz > 0.5)) c->ghz = 2.6; /* not measurable here: a nominal clock */
    c->gflops = c->ghz * 2 * 2 * lanes * threads;
    c->gbps = measure_copy_gbps();
    if (!(c->gbps > 0)) c->gbps = 10;
    c->launch_s = measure_launch(threads);
    return TS_OK;
}

/* ---- CPU ------------------------------------------------------------------------- */

/* What the CPU estimates share: the machine per worker and the task split. */
struct cpu_model {
    double hz;       /* cycles per second */
    int lanes;       /* f32 lanes per vector */
    int workers;     /* workers the kernel's tasks spread over */
    int64_t ntasks;
    double share;    /* the busiest worker's fraction of the tasks */
    double bw;       /* bytes per second for the workers used */
    double fixed;    /* launch and per-task cost, seconds */
    int64_t l1, l2, l3;
    int regs;        /* vector registers */
};

static void cpu_model_init(const struct ts_kernel *k, const struct ts_tune_target *t, const struct ts_tune_ceilings *c,
                           struct cpu_model *m) {
    int all = t->threads > 0 ? t->threads : 1, asked = ts_kernel_cpu_threads(k);
    m->hz = (c->ghz > 0 ? c->ghz : 2.6) * 1e9;
    m->lanes = t->vector_bits >= 32 ? t->vector_bits / 32 : 1;
    m->ntasks = ts_kernel_ntasks(k);
    int64_t w = min64(asked > 0 && asked < all ? asked : all, max64(m->ntasks, 1));
    m->workers = (int)w;
    /* The pool gives each worker one contiguous range of tasks. */
    m->share = m->ntasks > 0 ? (double)cdiv(m->ntasks, w) / (double)m->ntasks : 1;
    /* More cores draw more bandwidth, though not proportionally. */
    m->bw = (c->gbps > 0 ? c->gbps : 10) * 1e9 * (1 + 0.6 * (double)(w - 1));
    m->fixed = (w > 1 ? c->launch_s : 50e-9) + 50e-9 * (double)m->ntasks / (double)w;
    m->l1 = t->l1_bytes > 0 ? t->l1_bytes : 32 << 10;
    m->l2 = t->l2_bytes > 0 ? t->l2_bytes : 512 << 10;
    m->l3 = t->l3_bytes > 0 ? t->l3_bytes : 8 << 20;
    m->regs = t->vector_regs > 0 ? t->vector_regs : t->vector_bits >= 512 ? 32 : 16;
}

/* A penalty growing with log2 of how far need exceeds room, up to 1 + most. */
static double overflow(double need, double room, double most) {
    return need > room && room > 0 ? 1 + most * clampd(log2(need / room), 0, 1) : 1;
}

static double gemm_cpu(const struct ts_kernel *k, const struct cpu_model *m) {
    const struct ts_sched_gemm *s = &k->sched.gemm;
    int r = k->rank;
    int64_t batch = 1;
    for (int i = 0; i + 2 < r; i++) batch *= max64(k->dims[i], 1);
    int64_t M = max64(k->dims[r - 2], 1), N = max64(k->dims[r - 1], 1), K = max64(k->k, 1);
    /* The emitter narrows its vectors until they divide nr. */
    int vw = m->lanes;
    while (vw > 1 && s->nr % vw) vw /= 2;
    int64_t mr = s->mr, nr = s->nr, nv = max64(1, nr / vw);
    double narrow = (double)m->lanes / vw;
    /* Cycles per k step of a micro-tile: mr·nv FMAs on two pipes, mr
     * broadcasts plus nv B loads on two load ports; the pipes stay full
     * only with enough independent accumulators: FMA latency (4) × 2
     * pipes, and more to cover the broadcasts' load latency: about 16 with
     * 512-bit vectors (Zen 5: 8×2, 4×4, 5×4 beat 6×2 by 10–15%), 12 with
     * 256-bit ones (6×2 reaches 93–97% of AVX2's peak). Blocks that fill
     * the register file lose a little to spills around the loop. */
    double acc = (double)(mr * nv), need = vw >= 16 ? 16 : 12;
    double step = fmax(acc / 2, (double)(mr + nv) / 2) / sqrt(fmin(1, acc / need)) * narrow;
    double regs = m->regs, used = acc + (double)nv + 1;
    if (used > 0.8 * regs) step *= 1 + 0.2 * (used - 0.8 * regs) / (0.2 * regs);
    int64_t npanels = cdiv(K, s->kc);
    /* Edge tiles are computed whole (padded). */
    double tiles = (double)batch * (double)(round_up(M, mr) / mr) * (double)(round_up(N, nr) / nr);
    /* Per tile and panel: C loaded, added and stored, loop set-up. */
    double micro = tiles * ((double)K * step + (double)npanels * (acc + 10));
    /* Cache fit: the B sliver in L1 (streaming it from L2 costs little),
     * the A block in L2, the B panel in L2, then in this worker's share of
     * L3 (3072 columns, in L3, measured up to 20% slower than 1024). */
    double kc = s->kc, mc = s->mc, nc = s->nc;
    double pen = overflow(kc * (double)nr * 4, (double)m->l1 / 2, 0.05) *
                 overflow(mc * kc * 4, 0.75 * (double)m->l2, 0.35) *
                 overflow(kc * nc * 4, (double)m->l2, 0.2) *
                 overflow(kc * nc * 4, (double)m->l3 / m->workers, 0.35);
    /* Packing: every task packs its A block (A re-packed per column
     * block) and its B panel (B re-packed per row block). */
    int64_t mb = cdiv(M, s->mc), nb = cdiv(N, s->nc);
    double packed = (double)batch * ((double)nb * (double)M * (double)K + (double)mb * (double)N * (double)K);
    double cycles = micro * pen + 0.5 * packed;
    double t_compute = cycles / m->hz * m->share;
    /* Memory: A and B once, or once per re-pack when they do not fit the
     * L3; C's partial sums per panel when the task's C block leaves the L2. */
    double ea = (double)ts_dtype_size(k->inputs[0].dtype), eb = (double)ts_dtype_size(k->inputs[1].dtype);
    double ec = (double)ts_dtype_size(k->output.dtype);
    double a = (double)batch * M * K * ea, b = (double)batch * K * N * eb, cbytes = (double)batch * M * N * ec;
    if (a > (double)m->l3) a *= (double)nb;
    if (b > (double)m->l3) b *= (double)mb;
    if (mc * nc * 4 > (double)m->l2) cbytes *= (double)(2 * npanels - 1);
    double t_mem = (a + b + cbytes) / m->bw;
    return fmax(t_compute, t_mem) + m->fixed;
}

/* Cycles of one vector operation of an expression entry (transcendentals
 * are inline polynomials: about a dozen operations). */
static double op_cost(enum ts_kx_op op) {
    switch (op) {
    case TS_KX_CONST:
    case TS_KX_ACC:
    case TS_KX_ROW: return 0;
    case TS_KX_DIV:
    case TS_KX_SQRT:
    case TS_KX_RSQRT: return 4;
    case TS_KX_EXP:
    case TS_KX_LOG:
    case TS_KX_TANH:
    case TS_KX_ERF:
    case TS_KX_SIGMOID:
    case TS_KX_SILU:
    case TS_KX_GELU:
    case TS_KX_GELU_TANH:
    case TS_KX_COS:
    case TS_KX_SIN:
    case TS_KX_POW: return 12;
    default: return 1;
    }
}

/* Vector-op cycles of the expression per element group, with loads of
 * operands that are not contiguous along the last dim done lane by lane. */
static double expr_cost(const struct ts_kernel *k, int vw) {
    double ops = 1; /* the store */
    for (int i = 0; i < k->nexpr; i++) {
        const struct ts_kx *x = &k->expr[i];
        double c = op_cost(x->op);
        if ((x->op == TS_KX_LOAD || x->op == TS_KX_LOAD_AT) && x->a >= 0 && x->a < k->ninputs && k->rank > 0) {
            int64_t st = k->inputs[x->a].strides[k->rank - 1];
            if (x->op == TS_KX_LOAD_AT || (st != 0 && st != 1)) c = vw;
        }
        ops += c;
    }
    return ops;
}

/* Bytes an operand's index map touches: its extent over the dims it moves along. */
static double operand_bytes(const struct ts_kernel *k, const struct ts_koperand *o) {
    double n = 1;
    for (int i = 0; i < k->rank; i++)
        if (o->strides[i] != 0) n *= (double)max64(k->dims[i], 1);
    return n * (double)ts_dtype_size(o->dtype);
}

static double io_bytes(const struct ts_kernel *k) {
    double bytes = operand_bytes(k, &k->output);
    for (int i = 0; i < k->ninputs; i++) bytes += operand_bytes(k, &k->inputs[i]);
    return bytes;
}

/* Cycles for n elements in vectors of vw (the schedule's) on a machine of
 * lanes: narrower vectors take as long per op, wider ones are split. */
static double vector_cycles(double n, int vw, int lanes, double ops, bool vectorize) {
    if (!vectorize || vw <= 1 || n < vw) return n * ops;
    double nvec = floor(n / vw), per = ceil((double)vw / lanes) * (vw > lanes ? 0.9 : 1);
    return nvec * per * ops + (n - nvec * vw) * ops;
}

static double rows_cpu(const struct ts_kernel *k, const struct cpu_model *m) {
    bool pw = k->kind == TS_KERNEL_POINTWISE;
    int vw = pw ? k->sched.pointwise.vector_width : k->sched.rowwise.vector_width;
    /* Pointwise rows are every dim but the last; rowwise rows the outer dims. */
    int nrowdims = pw ? k->rank - 1 : k->nouter;
    double rows = 1, inner = 1;
    for (int i = 0; i < nrowdims; i++) rows *= (double)max64(k->dims[i], 1);
    for (int i = nrowdims > 0 ? nrowdims : 0; i < k->rank; i++) inner *= (double)max64(k->dims[i], 1);
    bool vec = k->rank > 0 && (!pw || k->output.strides[k->rank - 1] == 1);
    double per_row;
    if (pw) {
        per_row = vector_cycles(inner, vw, m->lanes, expr_cost(k, vw), vec) + 5;
    } else {
        /* The row gathered as f32 into scratch, then the row op's passes. */
        double gather = vector_cycles(inner, vw, m->lanes, expr_cost(k, vw), vec);
        double passes;
        switch (k->row_op) {
        case TS_ROW_SOFTMAX: passes = 1 + 14 + 3; break;
        case TS_ROW_LAYERNORM: passes = 2 + 3 + 3; break;
        case TS_ROW_RMSNORM: passes = 2 + 3; break;
        default: passes = 1; break;
        }
        per_row = gather + vector_cycles(inner, vw, m->lanes, passes, vec) + 20;
        per_row *= overflow(4 * inner, (double)m->l2 / 2, 0.3);
    }
    double t_compute = rows * per_row / m->hz * m->share;
    return fmax(t_compute, io_bytes(k) / m->bw) + m->fixed;
}

/* q, k, v (and the mask) read once, the output written once: attention's
 * operands are indexed in role order, not over the iteration dims. */
static double attention_bytes(const struct ts_kernel *k) {
    double b = (double)k->attn.batch, hq = (double)k->attn.hq, hkv = (double)k->attn.hkv;
    double sq = (double)k->attn.sq, sk = (double)k->attn.sk, d = (double)k->attn.d, dv = (double)k->attn.dv;
    double bytes = b * hq * sq * d * (double)ts_dtype_size(k->inputs[0].dtype) +
                   b * hkv * sk * d * (double)ts_dtype_size(k->inputs[1].dtype) +
                   b * hkv * sk * dv * (double)ts_dtype_size(k->inputs[2].dtype) +
                   b * hq * sq * dv * (double)ts_dtype_size(k->output.dtype);
    if (k->attn.has_mask && k->ninputs > 3) bytes += b * hq * sq * sk * (double)ts_dtype_size(k->inputs[3].dtype);
    return bytes;
}

static double attention_cpu(const struct ts_kernel *k, const struct cpu_model *m) {
    const struct ts_sched_attention *s = &k->sched.attention;
    double b = (double)max64(k->attn.batch, 1), h = (double)max64(k->attn.hq, 1);
    double sq = (double)max64(k->attn.sq, 1), sk = (double)max64(k->attn.sk, 1);
    double d = (double)max64(k->attn.d, 1), dv = (double)max64(k->attn.dv, 1);
    double bq = s->block_q, bk = s->block_k;
    /* (query, key) pairs computed: causal rows see keys up to their own
     * position (+ sk − sq); diagonal blocks are computed half wasted. */
    double pairs = sq * sk;
    if (k->attn.causal) pairs = fmin(sq * sk, sq * (sk - sq) + sq * (sq + 1) / 2 + sq * bk / 2);
    pairs += sq * (double)(round_up((int64_t)sk, (int64_t)bk) - (int64_t)sk) * 0.5;
    double lanes = m->lanes;
    /* Register blocks of up to 4 query rows share each k/v vector; keys
     * fill vectors of lanes. */
    double rows_eff = 0.55 + 0.45 * fmin(bq, 4) / 4;
    double lanes_eff = bk / (ceil(bk / lanes) * lanes);
    double dot = pairs * (d + dv) / (2 * lanes) / (rows_eff * lanes_eff); /* FMAs on 2 pipes */
    double softmax = pairs * 14 / lanes;
    /* Past 128 keys a step the kernel falls off a cliff (256 measured 3–7×
     * slower than 128 on Zen 5, d = 64; the tiles outgrow the L1). */
    if (bk > 128) dot *= 4, softmax *= 2;
    double nqb = ceil(sq / bq), nkb = ceil(sk / bk);
    /* Per row and key block the online-softmax bookkeeping (max, sum,
     * rescaling the accumulators: ~100 cycles measured); per task and key
     * block the k/v tiles converted (k transposed) into scratch, ~0.75
     * cycles an element. */
    double visited = fmin(1, pairs / (sq * sk)); /* key blocks a causal mask skips cost nothing */
    double rescale = sq * nkb * visited * (100 + 2 * dv / lanes);
    double tiles = nqb * sk * visited * (d + dv) * 0.75;
    double cycles = b * h * (dot + softmax + rescale + tiles);
    cycles *= overflow((double)ts_kernel_scratch_bytes(k), (double)m->l1, 0.15) *
              overflow((double)ts_kernel_scratch_bytes(k), (double)m->l2 / 2, 0.3);
    double t_compute = cycles / m->hz * m->share;
    return fmax(t_compute, attention_bytes(k) / m->bw) + m->fixed;
}

/* ---- GPU --------------------------------------------------------------------------- */

/* The GPU model reads c as: gflops the f32 CUDA-core peak of the device,
 * gbps its memory bandwidth, launch_s a (graph) launch. Tensor cores are
 * counted as multiples of the CUDA-core peak as mma.sync reaches them. */
struct gpu_model {
    double flops, bw, launch, hz;
    int sms;
};

static void gpu_model_init(const struct ts_tune_target *t, const struct ts_tune_ceilings *c, struct gpu_model *g) {
    struct ts_cuda_arch a = {0};
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_cuda_arch_parse(t->arch, &a, &d) != TS_OK) a.sm = 90;
    g->sms = t->sm_count > 0 ? t->sm_count : a.sm >= 90 ? 132 : 108;
    g->flops = c->gflops > 0 ? c->gflops * 1e9 : (a.sm >= 90 ? 67e12 : 19.5e12);
    g->bw = c->gbps > 0 ? c->gbps * 1e9 : (a.sm >= 90 ? 3.35e12 : 1.55e12);
    g->launch = c->launch_s > 0 ? c->launch_s : 3e-6;
    g->hz = 1.7e9;
}

/* Work units over the SMs: the fraction of the last wave's slots used. */
static double wave_eff(double blocks, double slots) {
    if (blocks <= 0 || slots <= 0) return 1;
    return blocks / (ceil(blocks / slots) * slots);
}

static double gemm_gpu(const struct ts_kernel *k, bool strict, const struct gpu_model *g) {
    const struct ts_sched_gemm *s = &k->sched.gemm;
    int r = k->rank;
    double batch = 1;
    for (int i = 0; i + 2 < r; i++) batch *= (double)max64(k->dims[i], 1);
    int64_t M = max64(k->dims[r - 2], 1), N = max64(k->dims[r - 1], 1), K = max64(k->k, 1);
    int bm = s->gpu.bm, bn = s->gpu.bn, bk = s->gpu.bk, split = s->gpu.split_k > 0 ? s->gpu.split_k : 1;
    if (bm < 1 || bn < 1 || bk < 1 || s->gpu.wm < 1 || s->gpu.wn < 1) return INFINITY;
    double peak = g->flops, es = 4;
    enum ts_gemm_instr in = s->gpu.instr;
    if (in == TS_GEMM_INSTR_AUTO) { /* as the code generator resolves it */
        enum ts_dtype a = k->inputs[0].dtype, b = k->inputs[1].dtype;
        bool f32acc = k->acc_type == TS_SCALAR_F32;
        in = f32acc && a == b && (a == TS_F16 || a == TS_BF16)  ? TS_GEMM_INSTR_MMA_F16
             : f32acc && a == TS_F32 && b == TS_F32 && !strict ? TS_GEMM_INSTR_MMA_TF32
                                                                : TS_GEMM_INSTR_SIMT;
    }
    switch (in) {
    case TS_GEMM_INSTR_MMA_F16: peak *= 10, es = 2; break;
    case TS_GEMM_INSTR_MMA_TF32: peak *= 5; break;
    case TS_GEMM_INSTR_WGMMA: peak *= 20, es = 2; break; /* wgmma: twice mma.sync's rate on sm_90 */
    default: peak *= 0.7; break;
    }
    double tm = (double)cdiv(M, bm), tn = (double)cdiv(N, bn);
    double flops = 2 * batch * tm * bm * tn * bn * (double)K;
    double warps = (double)(bm / s->gpu.wm) * (bn / s->gpu.wn);
    if (warps < 1) return INFINITY;
    if (in == TS_GEMM_INSTR_WGMMA) warps *= 4; /* the tiles are per consumer warpgroup of 4 warps */
    double smem = (double)s->gpu.stages * (bm + bn) * (bk + 8) * es;
    double per_sm = clampd(floor(200e3 / smem), 1, 2);
    double blocks = batch * tm * tn * split;
    double resident = fmin(blocks, per_sm * g->sms) / g->sms * warps; /* warps per SM */
    /* Reuse per loaded element, for the block (shared memory) and the warp (registers). */
    double ib = (double)bm * bn / (bm + bn), iw = (double)s->gpu.wm * s->gpu.wn / (s->gpu.wm + s->gpu.wn);
    double eff = ib / (ib + 16) * (iw / (iw + 8)) * fmin(1, resident / 8) * wave_eff(blocks, per_sm * g->sms);
    eff *= s->gpu.stages >= 3 ? 1 : 0.85;
    double ksteps = ceil((double)K / bk / split);
    eff *= ksteps / (ksteps + s->gpu.stages + 2); /* pipeline fill and epilogue per block */
    double ea = (double)ts_dtype_size(k->inputs[0].dtype), eb = (double)ts_dtype_size(k->inputs[1].dtype);
    double a = batch * M * K * ea, b = batch * K * N * eb, c = batch * M * N * (double)ts_dtype_size(k->output.dtype);
    if (s->gpu.swizzle <= 1 && tm >= 8 && tn >= 8) a *= 1.5, b *= 1.5; /* L2 misses without rasterization */
    if (split > 1) c += batch * tm * bm * tn * bn * 4 * (2.0 * split); /* partial sums through the workspace */
    return fmax(flops / (peak * eff), (a + b + c) / g->bw) + g->launch;
}

static double rows_gpu(const struct ts_kernel *k, const struct gpu_model *g) {
    bool pw = k->kind == TS_KERNEL_POINTWISE;
    int threads = pw ? k->sched.pointwise.gpu.threads : k->sched.rowwise.gpu.threads;
    int vec = pw ? k->sched.pointwise.gpu.vec : k->sched.rowwise.gpu.vec;
    if (threads < 1 || vec < 1) return INFINITY;
    int widest = (int)ts_dtype_size(k->output.dtype);
    for (int i = 0; i < k->ninputs; i++) widest = (int)fmax(widest, (double)ts_dtype_size(k->inputs[i].dtype));
    double total = 1, rows = 1, inner = 1;
    for (int i = 0; i < k->rank; i++) total *= (double)max64(k->dims[i], 1);
    if (!pw) {
        for (int i = 0; i < k->nouter; i++) rows *= (double)max64(k->dims[i], 1);
        inner = total / rows;
    }
    /* 16-byte accesses move memory best; a thread's lanes give it ILP. */
    double access = fmin(1, 0.6 + 0.4 * vec * widest / 16.0);
    double t_mem = io_bytes(k) / (g->bw * access);
    double t_compute;
    if (pw) {
        double blocks = ceil(total / ((double)threads * vec));
        double slots = (double)g->sms * fmax(1, floor(2048.0 / threads));
        t_compute = ceil(blocks / slots) * (vec * expr_cost(k, 1) + 40) / g->hz;
        t_mem /= fmin(1, blocks * threads / (g->sms * 1024.0)); /* too few threads to cover latency */
    } else {
        /* One block per row: idle lanes past the row, a tree reduction, waves of rows. */
        double iters = ceil(inner / ((double)threads * vec));
        double per_row = iters * vec * (expr_cost(k, 1) + 3) + 8 * log2((double)threads) + 40;
        double slots = (double)g->sms * fmax(1, floor(2048.0 / threads));
        t_compute = ceil(rows / slots) * per_row / g->hz;
        t_mem /= fmin(1, rows * threads / (g->sms * 1024.0));
    }
    return fmax(t_compute, t_mem) + g->launch;
}

static double attention_gpu(const struct ts_kernel *k, const struct ts_tune_target *t, const struct gpu_model *g) {
    const struct ts_sched_attention *s = &k->sched.attention;
    int bq = s->gpu.block_q, bk = s->gpu.block_k, warps = s->gpu.warps, stages = s->gpu.stages;
    if (bq < 1 || bk < 1 || warps < 1 || stages < 1) return INFINITY;
    double b = (double)max64(k->attn.batch, 1), h = (double)max64(k->attn.hq, 1);
    double sq = (double)max64(k->attn.sq, 1), sk = (double)max64(k->attn.sk, 1);
    double d = (double)max64(k->attn.d, 1), dv = (double)max64(k->attn.dv, 1);
    enum ts_dtype dt = k->inputs[0].dtype;
    double peak = g->flops * (dt == TS_F32 ? (t->strict_f32 ? 0.7 : 5) : 10), es = dt == TS_F32 ? 4 : 2;
    double pairs = ceil(sq / bq) * bq * ceil(sk / bk) * bk;
    if (k->attn.causal) pairs = pairs / 2 + sq * bk / 2;
    double flops = 2 * b * h * pairs * (d + dv);
    double eff = bk >= 64 ? (bk > 64 ? 0.95 : 1) : bk >= 32 ? 0.9 : 0.75;
    eff *= stages >= 2 ? 1 : 0.85;
    double smem = (bq * d + stages * bk * (d + dv)) * es;
    double per_sm = clampd(floor(200e3 / smem), 1, 4);
    double blocks = b * h * ceil(sq / bq);
    double resident = fmin(blocks, per_sm * g->sms) / g->sms * warps;
    eff *= fmin(1, resident / 8) * wave_eff(blocks, per_sm * g->sms);
    return fmax(flops / (peak * eff), attention_bytes(k) / g->bw) + g->launch;
}

/* ---- the estimate ----------------------------------------------------------------------- */

double ts_tune_estimate(const struct ts_kernel *k, const union ts_sched *s, const struct ts_tune_target *t,
                        const struct ts_tune_ceilings *c) {
    struct ts_kernel kk = *k;
    kk.sched = *s;
    if (t->kind == TS_TARGET_CUDA) {
        struct gpu_model g;
        gpu_model_init(t, c, &g);
        switch (k->kind) {
        case TS_KERNEL_POINTWISE:
        case TS_KERNEL_ROWWISE: return rows_gpu(&kk, &g);
        case TS_KERNEL_GEMM: return k->rank >= 2 && k->ninputs >= 2 ? gemm_gpu(&kk, t->strict_f32, &g) : INFINITY;
        case TS_KERNEL_ATTENTION: return k->ninputs >= 3 ? attention_gpu(&kk, t, &g) : INFINITY;
        default: return INFINITY;
        }
    }
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_tune_check(&kk, t, &d) != TS_OK) return INFINITY; /* nothing to divide by in a bad schedule */
    struct cpu_model m;
    cpu_model_init(&kk, t, c, &m);
    if (m.ntasks == 0) return m.fixed;
    switch (k->kind) {
    case TS_KERNEL_POINTWISE:
    case TS_KERNEL_ROWWISE: return rows_cpu(&kk, &m);
    case TS_KERNEL_GEMM: return k->rank >= 2 && k->ninputs >= 2 ? gemm_cpu(&kk, &m) : INFINITY;
    case TS_KERNEL_ATTENTION: return k->ninputs >= 3 ? attention_cpu(&kk, &m) : INFINITY;
    default: return INFINITY;
    }
}
