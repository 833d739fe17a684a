/* emit_attention.c — the ATTENTION emitter for CUDA: a config struct holding
 * the kernel's sizes, strides, tile shape and path as compile-time constants,
 * and a __global__ function that runs the flash-attention template of
 * prelude/attention.cuh for its block and stores the normalized rows through
 * the kernel's epilogue (tsc_emit_output). Also the tile geometry that the
 * schedule check (sched_attention.c) measures shared memory with. */
#include <stdio.h>

#include "internal.h"

/* The template's paths (attention.cuh, C::PATH). */
enum {
    TSC_ATTN_MMA16, /* f16/bf16: mma.sync m16n8k16 */
    TSC_ATTN_TF32,  /* f32 on tensor cores: mma.sync m16n8k8 on tf32 */
    TSC_ATTN_SIMT,  /* f32 exactly, on CUDA cores (strict f32) */
};

static int64_t roundup(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/* Padded tile widths and row pitches (elements). Head dims are padded with
 * zeros to the mma's k (16 for f16/bf16, 8 for tf32) and n multiples. Pitches
 * add 16 bytes (f16) so that ldmatrix's eight row addresses fall in distinct
 * bank groups; for f32, 8 words on Q/K rows (float2 fragment reads) and 4 on
 * V rows (column reads) keep a warp's accesses on distinct banks. */
struct geom {
    int path;
    int dp, dvp, qpitch, vpitch, esize;
};

static void geometry(const struct ts_kernel *k, bool strict_f32, struct geom *g) {
    bool half = k->inputs[0].dtype != TS_F32;
    g->path = half ? TSC_ATTN_MMA16 : strict_f32 ? TSC_ATTN_SIMT : TSC_ATTN_TF32;
    int64_t mult = half ? 16 : 8;
    g->dp = (int)roundup(k->attn.d > 0 ? k->attn.d : 1, mult);
    g->dvp = (int)roundup(k->attn.dv > 0 ? k->attn.dv : 1, mult);
    g->qpitch = g->dp + 8;
    g->vpitch = g->dvp + (half ? 8 : 4);
    g->esize = half ? 2 : 4;
}

int64_t tsc_attn_shared_bytes(const struct ts_kernel *k, int bq, int bk, int stages) {
    struct geom g;
    geometry(k, false, &g);
    return (int64_t)g.esize * ((int64_t)bq * g.qpitch + (int64_t)stages * bk * (g.qpitch + g.vpitch));
}

/* Whether the rows of operand op (dims [0, 3) of sizes n0, n1, n2, then
 * 'cols' elements along dim 3) can be copied with 16-byte cp.async: every
 * row starts 16-byte aligned (given a 16-byte aligned buffer, which the
 * runtime's allocations are) and the columns are contiguous. */
static bool async_ok(const struct ts_koperand *op, int64_t n0, int64_t n1, int64_t n2, int64_t cols) {
    int64_t per = 16 / (int64_t)ts_dtype_size(op->dtype);
    int64_t n[3] = {n0, n1, n2};
    if (cols > 1 && op->strides[3] != 1) return false;
    if (op->offset % per != 0) return false;
    for (int i = 0; i < 3; i++)
        if (n[i] > 1 && op->strides[i] % per != 0) return false;
    return true;
}

static int dtype_code(enum ts_dtype t) { return t == TS_F16 ? 1 : t == TS_BF16 ? 2 : 0; }

static void emit_operand(struct tsc_src *s, const char *p, const struct ts_koperand *op) {
    tsc_printf(s, "    static constexpr long long %sO = %lldLL, %sS0 = %lldLL, %sS1 = %lldLL, %sS2 = %lldLL, %sS3 = %lldLL;\n",
               p, (long long)op->offset, p, (long long)op->strides[0], p, (long long)op->strides[1], p,
               (long long)op->strides[2], p, (long long)op->strides[3]);
}

/* A kernel with nothing to compute (an empty batch, head, query or value
 * dim) still gets a function, launched as one idle warp. */
static enum ts_status emit_empty(struct tsc_emit *e) {
    tsc_printf(e->src, "extern \"C\" __global__ void %s", e->sym);
    tsc_emit_params(e->src, e->k);
    tsc_puts(e->src, " {\n    (void)workspace;\n    (void)error;\n}\n\n");
    e->launch = (struct ts_cuda_launch){.grid = {1, 1, 1}, .block = {32, 1, 1}};
    return TS_OK;
}

enum ts_status tsc_emit_attention(struct tsc_emit *e, struct ts_diag *d) {
    const struct ts_kernel *k = e->k;
    const struct ts_sched_attention *sc = &k->sched.attention;
    struct tsc_src *s = e->src;
    int nin = 3 + (k->attn.has_mask ? 1 : 0);
    if (k->kind != TS_KERNEL_ATTENTION || k->rank != 4 || k->ninputs < nin)
        return ts_diag_set(d, TS_ERR_GRAPH, "", k->name, "not an attention kernel (a tessera bug)");
    if (k->attn.batch * k->attn.hq * k->attn.sq * k->attn.dv == 0) return emit_empty(e);
    TS_ASSERT(sc->gpu.warps >= 1 && sc->gpu.block_q == 16 * sc->gpu.warps && sc->gpu.block_k % 16 == 0 &&
              sc->gpu.stages >= 1);

    struct geom g;
    geometry(k, e->strict_f32, &g);
    const struct ts_koperand *q = &k->inputs[0], *kk = &k->inputs[1], *v = &k->inputs[2];
    bool qa = async_ok(q, k->attn.batch, k->attn.hq, k->attn.sq, k->attn.d) && k->attn.d > 0;
    bool ka = async_ok(kk, k->attn.batch, k->attn.hkv, k->attn.sk, k->attn.d) && k->attn.d > 0;
    bool va = async_ok(v, k->attn.batch, k->attn.hkv, k->attn.sk, k->attn.dv);
    int64_t nqb = (k->attn.sq + sc->gpu.block_q - 1) / sc->gpu.block_q;
    int64_t blocks = k->attn.batch * k->attn.hq * nqb;
    int64_t smem = tsc_attn_shared_bytes(k, sc->gpu.block_q, sc->gpu.block_k, sc->gpu.stages);

    tsc_printf(s, "/* %s: attention [%lld, %lld(kv %lld), %lld×%lld, d %lld, dv %lld]%s%s, %s path, "
                  "block %d×%d, %d warps, %d stages */\n",
               k->name, (long long)k->attn.batch, (long long)k->attn.hq, (long long)k->attn.hkv,
               (long long)k->attn.sq, (long long)k->attn.sk, (long long)k->attn.d, (long long)k->attn.dv,
               k->attn.causal ? " causal" : "", k->attn.has_mask ? " masked" : "",
               g.path == TSC_ATTN_MMA16 ? "mma.m16n8k16" : g.path == TSC_ATTN_TF32 ? "mma.m16n8k8.tf32" : "simt f32",
               sc->gpu.block_q, sc->gpu.block_k, sc->gpu.warps, sc->gpu.stages);
    tsc_printf(s, "struct %s_cfg {\n", e->sym);
    tsc_printf(s, "    static constexpr int DT = %d, MDT = %d, PATH = %d;\n", dtype_code(q->dtype),
               k->attn.has_mask ? dtype_code(k->inputs[3].dtype) : 0, g.path);
    tsc_printf(s, "    static constexpr int BQ = %d, BK = %d, WARPS = %d, STAGES = %d;\n", sc->gpu.block_q,
               sc->gpu.block_k, sc->gpu.warps, sc->gpu.stages);
    tsc_printf(s, "    static constexpr int DP = %d, DVP = %d, QPITCH = %d, VPITCH = %d;\n", g.dp, g.dvp, g.qpitch,
               g.vpitch);
    tsc_printf(s, "    static constexpr bool CAUSAL = %s, HAS_MASK = %s, QASYNC = %s, KASYNC = %s, VASYNC = %s;\n",
               k->attn.causal ? "true" : "false", k->attn.has_mask ? "true" : "false", qa ? "true" : "false",
               ka ? "true" : "false", va ? "true" : "false");
    tsc_printf(s, "    static constexpr long long B = %lldLL, HQ = %lldLL, HKV = %lldLL, SQ = %lldLL, SK = %lldLL, "
                  "D = %lldLL, DV = %lldLL;\n",
               (long long)k->attn.batch, (long long)k->attn.hq, (long long)k->attn.hkv, (long long)k->attn.sq,
               (long long)k->attn.sk, (long long)k->attn.d, (long long)k->attn.dv);
    emit_operand(s, "Q", q);
    emit_operand(s, "K", kk);
    emit_operand(s, "V", v);
    static const struct ts_koperand none;
    emit_operand(s, "M", k->attn.has_mask ? &k->inputs[3] : &none);
    /* scores in base 2 (attention.cuh): scale·log2(e), rounded once */
    tsc_printf(s, "    static constexpr float SCALE_LOG2E = (float)%.17g;\n};\n", k->attn.scale * 1.4426950408889634);

    tsc_printf(s, "extern \"C\" __global__ void __launch_bounds__(%d, 1) %s", sc->gpu.warps * 32, e->sym);
    tsc_emit_params(s, k);
    tsc_printf(s, " {\n    typedef %s_cfg C;\n", e->sym);
    tsc_puts(s, "    TS_SMEM_DECLARE(ts_smem);\n    ts_attn_result<C> r;\n");
    tsc_printf(s, "    ts_attn_block<C>(in0, in1, in2, %s, ts_smem, r);\n", k->attn.has_mask ? "in3" : "(const void *)0");
    tsc_puts(s, "    (void)workspace;\n"
                "#pragma unroll\n"
                "    for (int nd = 0; nd < C::DVP / 8; nd++) {\n"
                "#pragma unroll\n"
                "        for (int c = 0; c < 4; c++) {\n"
                "            const long long i0 = r.b, i1 = r.h, i2 = r.row0 + (c >> 1) * 8, i3 = nd * 8 + r.col0 + (c & 1);\n"
                "            (void)i0;\n            (void)i1;\n"
                "            if (i2 < C::SQ && i3 < C::DV) {\n"
                "                /* l is 0 only for a row that saw no key: zeros, as in the reference */\n"
                "                const float l = r.l[c >> 1];\n"
                "                const float acc = l != 0.f ? r.o[nd][c] / l : 0.f;\n"
                "                {\n");
    struct tsc_env env = {.index = {"i0", "i1", "i2", "i3"}, .acc = "acc", .prefix = "ep"};
    tsc_emit_output(s, k, &env);
    tsc_puts(s, "                }\n            }\n        }\n    }\n}\n\n");

    e->launch = (struct ts_cuda_launch){
        .grid = {(uint32_t)blocks, 1, 1},
        .block = {(uint32_t)(sc->gpu.warps * 32), 1, 1},
        .shared_bytes = (uint32_t)smem,
    };
    return s->oom ? ts_diag_set(d, TS_ERR_NOMEM, "", k->name, "out of memory for the CUDA source") : TS_OK;
}
