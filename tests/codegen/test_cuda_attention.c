/* test_cuda_attention.c — the CUDA attention kernel (emit_attention.c and
 * prelude/attention.cuh): every representative schedule compiles through
 * NVRTC for sm_80 and sm_90a without local-memory spills, the legality check
 * names the broken rule, and (through the host emulator, tests/cuda_emu) the
 * kernels agree with ts_program_run_ref on f16, bf16, f32 (tf32 and strict),
 * causal and not, masks, GQA, awkward sizes, odd head dims and a fused qkv
 * buffer whose heads are interleaved. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/cuda/internal.h"
#include "kernel_harness.h"
#include "test.h"

enum mask_kind {
    MASK_NONE,
    MASK_FULL, /* [b, hq, sq, sk] with -inf entries and one row all -inf */
    MASK_PAD,  /* [b, 1, 1, sk] broadcast over heads and queries (stride 0) */
};

enum layout {
    LAYOUT_BHSD, /* q, k, v, out each row-major [b, h, s, d] */
    LAYOUT_QKV,  /* one fused [b, s, hq + 2·hkv, d] buffer, heads interleaved; out [b, s, hq, dv] */
    LAYOUT_KT,   /* k stored [b, hkv, d, s]: not contiguous along d (element loads) */
};

struct acase {
    int64_t b, hq, hkv, sq, sk, d, dv;
    bool causal;
    enum mask_kind mask;
    enum ts_dtype dtype;
    enum layout layout;
    bool epilogue; /* out = 0.5·attention + bias[e] (f32 output) */
    double scale;  /* 0: 1/sqrt(d) */
};

/* Builds the one-kernel program of case c in h (schedule left zero). */
static void build(struct ts_kh *h, const struct acase *c) {
    ts_kh_init(h);
    struct ts_kernel *k = &h->k;
    enum ts_dtype t = c->dtype;
    int64_t B = c->b, hq = c->hq, hkv = c->hkv, sq = c->sq, sk = c->sk, d = c->d, dv = c->dv;
    k->kind = TS_KERNEL_ATTENTION;
    k->name = "k0_attention";
    k->rank = 4;
    int64_t dims[4] = {B, hq, sq, dv};
    memcpy(k->dims, dims, sizeof dims);
    if (c->layout == LAYOUT_QKV) {
        TS_ASSERT(sq == sk && d == dv);
        int64_t w = (hq + 2 * hkv) * d;
        int x = ts_kh_input(h, t, 3, (int64_t[]){B, sq, w});
        int64_t s[4] = {sq * w, d, w, 1};
        h->ops[0] = ts_kh_operand(h, x, s);
        h->ops[1] = ts_kh_operand(h, x, s);
        h->ops[1].offset = hq * d;
        h->ops[2] = ts_kh_operand(h, x, s);
        h->ops[2].offset = (hq + hkv) * d;
    } else {
        int xq = ts_kh_input(h, t, 4, (int64_t[]){B, hq, sq, d});
        int xk = c->layout == LAYOUT_KT ? ts_kh_input(h, t, 4, (int64_t[]){B, hkv, d, sk})
                                        : ts_kh_input(h, t, 4, (int64_t[]){B, hkv, sk, d});
        int xv = ts_kh_input(h, t, 4, (int64_t[]){B, hkv, sk, dv});
        h->ops[0] = ts_kh_operand(h, xq, NULL);
        h->ops[1] = c->layout == LAYOUT_KT ? ts_kh_operand(h, xk, (int64_t[]){hkv * d * sk, d * sk, 1, sk})
                                           : ts_kh_operand(h, xk, NULL);
        h->ops[2] = ts_kh_operand(h, xv, NULL);
    }
    int n = 3;
    if (c->mask != MASK_NONE) {
        int xm;
        if (c->mask == MASK_FULL) {
            xm = ts_kh_input(h, t, 4, (int64_t[]){B, hq, sq, sk});
            h->ops[n] = ts_kh_operand(h, xm, NULL);
            /* some keys hidden, and the whole first row of the first head */
            for (int64_t e = 0; e < h->in[xm].numel; e++)
                if (e % 5 == 2 || e < sk) ts_tensor_set_f64(&h->in[xm], e, -INFINITY);
        } else {
            xm = ts_kh_input(h, t, 4, (int64_t[]){B, 1, 1, sk});
            h->ops[n] = ts_kh_operand(h, xm, (int64_t[]){sk, 0, 0, 1});
        }
        n++;
    }
    /* the usual 1/sqrt(d) unless the case sharpens the softmax */
    k->attn.batch = B;
    k->attn.hq = hq;
    k->attn.hkv = hkv;
    k->attn.sq = sq;
    k->attn.sk = sk;
    k->attn.d = d;
    k->attn.dv = dv;
    k->attn.scale = c->scale != 0 ? c->scale : d > 0 ? 1.0 / sqrt((double)d) : 1.0;
    k->attn.causal = c->causal;
    k->attn.has_mask = c->mask != MASK_NONE;
    if (c->epilogue) {
        int xb = ts_kh_input(h, TS_F32, 1, (int64_t[]){dv});
        h->ops[n] = ts_kh_operand(h, xb, (int64_t[]){0, 0, 0, 1});
        int a = ts_kh_kx(h, TS_KX_ACC, TS_SCALAR_F32, TS_F32, 0, 0, 0);
        int half = ts_kh_kx(h, TS_KX_CONST, TS_SCALAR_F32, TS_F32, 0, 0, 0);
        h->expr[half].f = 0.5;
        int m = ts_kh_kx(h, TS_KX_MUL, TS_SCALAR_F32, TS_F32, a, half, 0);
        int l = ts_kh_kx(h, TS_KX_LOAD, TS_SCALAR_F32, TS_F32, n, 0, 0);
        k->out_root = ts_kh_kx(h, TS_KX_ADD, TS_SCALAR_F32, TS_F32, m, l, 0);
        n++;
    }
    k->inputs = h->ops;
    k->ninputs = n;
    enum ts_dtype ot = c->epilogue ? TS_F32 : t;
    if (c->layout == LAYOUT_QKV) {
        int y = ts_kh_output(h, ot, 4, (int64_t[]){B, sq, hq, dv});
        k->output = ts_kh_operand(h, y, (int64_t[]){sq * hq * dv, dv, hq * dv, 1});
    } else {
        int y = ts_kh_output(h, ot, 4, dims);
        k->output = ts_kh_operand(h, y, NULL);
    }
    /* the CPU schedule, for the reference's program check */
    ts_sched_default_cpu(k, 8);
}

/* ---- NVRTC: compiles, no spills ------------------------------------------ */

struct sched {
    int warps, block_k, stages;
};

/* The kernels of the NVRTC check: one translation unit per arch holds them
 * all (one NVRTC call each: compile time is what this test spends). */
enum { MAX_NV = 48 };
static struct {
    struct ts_kh *h[MAX_NV];
    struct ts_kernel k[MAX_NV];
    bool strict[MAX_NV];
    char name[MAX_NV][32];
    char what[MAX_NV][96];
    int n;
} nv;

static void add_kernels(const struct acase *c, bool strict, const struct sched *sc, int nsc) {
    struct ts_kh *h = malloc(sizeof *h);
    TS_ASSERT(h != NULL);
    build(h, c);
    for (int i = 0; i < nsc; i++) {
        TS_ASSERT(nv.n < MAX_NV);
        int j = nv.n++;
        nv.h[j] = i == 0 ? h : NULL; /* freed once */
        nv.k[j] = h->k;
        nv.strict[j] = strict;
        snprintf(nv.name[j], sizeof nv.name[j], "k%d_attention", j);
        snprintf(nv.what[j], sizeof nv.what[j], "%s%s d%lld dv%lld%s", ts_dtype_name(c->dtype),
                 strict ? " strict" : "", (long long)c->d, (long long)c->dv, c->causal ? " causal" : "");
        nv.k[j].name = nv.name[j];
        memset(&nv.k[j].sched.attention.gpu, 0, sizeof nv.k[j].sched.attention.gpu);
        nv.k[j].sched.attention.gpu.warps = sc[i].warps;
        nv.k[j].sched.attention.gpu.block_q = 16 * sc[i].warps;
        nv.k[j].sched.attention.gpu.block_k = sc[i].block_k;
        nv.k[j].sched.attention.gpu.stages = sc[i].stages;
    }
}

/* The prelude and every kernel, with defaults filled and checked for arch. */
static char *make_source(const struct ts_cuda_arch *arch, struct ts_kernel *ks) {
    struct tsc_src s = {0};
    tsc_puts(&s, ts_cuda_prelude);
    for (int i = 0; i < nv.n; i++) {
        struct ts_diag d;
        ts_diag_clear(&d);
        ks[i] = nv.k[i];
        ts_cuda_sched_default(&ks[i], arch, nv.strict[i]);
        enum ts_status st = ts_cuda_sched_check(&ks[i], arch, &d);
        CHECK(st == TS_OK);
        if (st != TS_OK) {
            ts_diag_print(&d, stderr);
            continue;
        }
        struct tsc_emit e = {.src = &s, .k = &ks[i], .arch = arch, .strict_f32 = nv.strict[i], .sym = ks[i].name};
        CHECK(tsc_emit_attention(&e, &d) == TS_OK);
        tsc_emit_trampoline(&s, &ks[i], ks[i].name);
    }
    CHECK(!s.oom);
    return s.data;
}

static void compile_all(const char *archname) {
    struct ts_cuda_arch arch;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_cuda_arch_parse(archname, &arch, &d) == TS_OK);
    struct ts_kernel ks[MAX_NV];
    char *src = make_source(&arch, ks);
    if (getenv("TS_DUMP_CUDA")) fputs(src, stderr);
    struct ts_nvrtc_result res;
    const char *opts[] = {"-Xptxas=-v"};
    enum ts_status st = ts_nvrtc_compile(src, "attention.cu", &arch, opts, 1, true, &res, &d);
    CHECK(st == TS_OK);
    if (st != TS_OK) {
        ts_diag_print(&d, stderr);
        if (res.log) fprintf(stderr, "%.4000s\n", res.log);
    }
    for (int i = 0; st == TS_OK && i < nv.n; i++) {
        int regs = 0;
        int64_t spill = -1, stack = -1;
        CHECK(ts_ptxas_report(res.log, nv.name[i], &regs, &spill, &stack));
        CHECK(spill == 0);
        const struct ts_sched_attention *sc = &ks[i].sched.attention;
        if (getenv("TS_VERBOSE") || spill != 0)
            fprintf(stderr, "%s %s %s: warps %d bk %d stages %d: %d registers, %lld spill, %lld stack\n", archname,
                    nv.name[i], nv.what[i], sc->gpu.warps, sc->gpu.block_k, sc->gpu.stages, regs, (long long)spill,
                    (long long)stack);
    }
    ts_nvrtc_result_free(&res);
    free(src);
}

/* Defaults and representative schedules for d 64 and 128 of every path, a
 * wide and an odd head dim; TS_CUDA_FULL=1 adds every schedule to every case. */
static void test_nvrtc(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    int major, minor;
    if (ts_nvrtc_version(&major, &minor, &d) != TS_OK) {
        printf("test_cuda_attention: NVRTC checks skipped (%s)\n", d.what);
        return;
    }
    bool full = getenv("TS_CUDA_FULL") != NULL;
    static const struct sched sched16[] = {{0, 0, 0}, {4, 32, 3}, {8, 64, 2}, {2, 64, 1}, {4, 128, 2}};
    static const struct sched sched32[] = {{0, 0, 0}, {4, 32, 2}, {2, 64, 2}};
    for (int i = 0; i < 2; i++) {
        int64_t hd = i == 0 ? 64 : 128;
        struct acase f16 = {2, 8, 2, 256, 256, hd, hd, true, MASK_NONE, TS_F16, LAYOUT_BHSD, false, 0};
        struct acase bf16 = {2, 8, 8, 200, 200, hd, hd, false, MASK_FULL, TS_BF16, LAYOUT_QKV, true, 0};
        struct acase f32 = {1, 4, 4, 130, 130, hd, hd, true, MASK_PAD, TS_F32, LAYOUT_BHSD, false, 0};
        /* f16: the default, and 3 stages of 32 keys at d 64; everything when full */
        add_kernels(&f16, false, sched16, 1);
        if (full || i == 0) add_kernels(&f16, false, sched16 + 1, full ? 4 : 1);
        if (full || i == 1) add_kernels(&bf16, false, sched16, full ? 5 : 1);
        add_kernels(&f32, false, sched32, full ? 3 : 1);
        if (full || i == 1) add_kernels(&f32, true, sched32, full ? 3 : 1);
    }
    if (full) {
        struct acase wide = {1, 2, 1, 100, 100, 256, 256, true, MASK_NONE, TS_F16, LAYOUT_BHSD, false, 0};
        add_kernels(&wide, false, sched16, 1);
    }
    struct acase odd = {1, 2, 2, 17, 33, 7, 9, false, MASK_NONE, TS_F32, LAYOUT_KT, false, 0};
    add_kernels(&odd, false, sched32, 1);
    compile_all("sm_80");
    compile_all("sm_90a");
    for (int i = 0; i < nv.n; i++)
        if (nv.h[i]) {
            ts_kh_free(nv.h[i]);
            free(nv.h[i]);
        }
}

/* ---- the emulator: agreement with the reference --------------------------- */

/* Tolerances per path. f16/bf16: the probabilities enter P·V rounded to the
 * operand type (as in every flash attention), then the output rounds once
 * more. tf32: operands carry 10-bit mantissas. Strict f32: FMA chains of
 * length d and sk against the reference's double sums. */
static void tolerances(const struct acase *c, bool strict, double *atol, double *rtol) {
    /* f32 paths: a score's rounding error (tf32 operands, or f32 sums of d
     * products) grows with its size, and exp passes it on to p as a relative
     * error; scores reach about scale·sqrt(d) (1 by default, ~20 for a sharp
     * softmax). The CPU backend shows the same f32 errors. */
    double sharp = c->scale * sqrt((double)c->d) / 2;
    if (sharp < 1) sharp = 1;
    if (c->dtype == TS_F16) *atol = 1e-3, *rtol = 1e-3;
    else if (c->dtype == TS_BF16) *atol = 1.6e-2, *rtol = 1.6e-2;
    else if (strict) *atol = 1e-5 * sharp, *rtol = 4e-6 * sharp;
    else *atol = 3e-3 * sharp, *rtol = 3e-3 * sharp;
}

/* Runs case c with schedule sc (zeros: the default) through the emulator. */
static void run_case(const struct acase *c, bool strict, struct sched sc, const char *arch) {
    struct ts_kh h;
    build(&h, c);
    h.k.sched.attention.gpu.warps = sc.warps;
    h.k.sched.attention.gpu.block_q = 16 * sc.warps;
    h.k.sched.attention.gpu.block_k = sc.block_k;
    h.k.sched.attention.gpu.stages = sc.stages;
    char label[256];
    snprintf(label, sizeof label,
             "%s%s b%lld hq%lld hkv%lld sq%lld sk%lld d%lld dv%lld%s mask%d layout%d%s sched %d/%d/%d %s",
             ts_dtype_name(c->dtype), strict ? " strict" : "", (long long)c->b, (long long)c->hq, (long long)c->hkv,
             (long long)c->sq, (long long)c->sk, (long long)c->d, (long long)c->dv, c->causal ? " causal" : "",
             c->mask, c->layout, c->epilogue ? " epilogue" : "", sc.warps, sc.block_k, sc.stages, arch);
    double atol, rtol;
    tolerances(c, strict, &atol, &rtol);
    struct ts_cuda_opts o = {.arch = arch, .strict_f32 = strict};
    struct ts_kh_result r;
    ts_kh_run_cuda(&h, &o, atol, rtol, label, &r);
    if (!ts_kh_ok(&r) || getenv("TS_VERBOSE")) fprintf(stderr, "%s: %lld bad, worst %.3g\n", label, (long long)r.bad, r.worst);
    CHECK(ts_kh_ok(&r));
    ts_kh_free(&h);
}

static void test_emulated(void) {
    const struct sched dflt = {0, 0, 0};
    struct acase cs[] = {
        /* causal square, one kv head for two query heads */
        {1, 2, 1, 17, 17, 64, 64, true, MASK_NONE, TS_F16, LAYOUT_BHSD, false, 0},
        /* a fused qkv buffer (heads interleaved), full mask with a dead row, epilogue */
        {2, 4, 2, 33, 33, 64, 64, false, MASK_FULL, TS_BF16, LAYOUT_QKV, true, 0},
        /* decode: one query, many keys, MQA, d 128 */
        {1, 4, 1, 1, 129, 128, 128, true, MASK_NONE, TS_F16, LAYOUT_BHSD, false, 0},
        /* sq > sk causal: the first rows see no key and give zeros */
        {1, 2, 2, 129, 7, 16, 16, true, MASK_NONE, TS_F16, LAYOUT_BHSD, false, 0},
        /* bottom-right causal with sq < sk, padding mask, bf16, d 128 */
        {1, 2, 1, 65, 127, 128, 128, true, MASK_PAD, TS_BF16, LAYOUT_BHSD, false, 0},
        /* odd head dims: zero-filled padding, element loads */
        {1, 2, 2, 7, 17, 7, 9, false, MASK_NONE, TS_F16, LAYOUT_BHSD, false, 0},
        {1, 1, 1, 7, 1, 7, 7, false, MASK_NONE, TS_BF16, LAYOUT_BHSD, false, 0},
        /* k stored transposed: element loads for K, cp.async for the rest */
        {1, 2, 1, 17, 40, 32, 32, false, MASK_NONE, TS_F16, LAYOUT_KT, false, 0},
        /* no keys at all */
        {1, 2, 2, 5, 0, 16, 16, true, MASK_NONE, TS_F16, LAYOUT_BHSD, false, 0},
        /* a sharp softmax: the running max jumps between key blocks and rescales */
        {1, 3, 1, 40, 200, 32, 16, false, MASK_NONE, TS_F16, LAYOUT_BHSD, false, 4.0},
        /* sq > sk without causality */
        {2, 2, 2, 129, 17, 64, 64, false, MASK_PAD, TS_BF16, LAYOUT_BHSD, false, 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) run_case(&cs[i], false, dflt, "sm_90a");

    struct acase f32[] = {
        {1, 2, 1, 17, 17, 64, 64, true, MASK_NONE, TS_F32, LAYOUT_BHSD, false, 0},
        {1, 2, 2, 127, 129, 7, 9, false, MASK_PAD, TS_F32, LAYOUT_BHSD, false, 0},
        {2, 2, 1, 33, 33, 16, 16, true, MASK_FULL, TS_F32, LAYOUT_QKV, true, 0},
        {1, 1, 1, 1, 1, 1, 1, false, MASK_NONE, TS_F32, LAYOUT_KT, false, 0},
        {1, 2, 1, 7, 70, 128, 128, true, MASK_NONE, TS_F32, LAYOUT_BHSD, false, 0},
        {1, 3, 1, 40, 200, 32, 16, false, MASK_NONE, TS_F32, LAYOUT_BHSD, false, 4.0},
    };
    for (size_t i = 0; i < sizeof f32 / sizeof *f32; i++) {
        run_case(&f32[i], false, dflt, "sm_90a");
        run_case(&f32[i], true, dflt, "sm_80");
    }

    /* every representative schedule agrees on one awkward case per dtype */
    static const struct sched scheds[] = {{1, 16, 1}, {2, 32, 2}, {4, 64, 3}, {8, 64, 2}, {1, 128, 4}, {2, 16, 4}};
    struct acase sc16 = {1, 2, 1, 129, 127, 64, 64, true, MASK_FULL, TS_F16, LAYOUT_BHSD, false, 0};
    struct acase sc32 = {1, 2, 1, 129, 127, 17, 24, true, MASK_FULL, TS_F32, LAYOUT_BHSD, false, 0};
    for (int i = 0; i < 6; i++) {
        run_case(&sc16, false, scheds[i], "sm_80");
        run_case(&sc32, i % 2 == 0, scheds[i], "sm_90a");
    }
}

/* TS_ATTN_FUZZ=N: N random cases (shape, dtype, layout, mask, schedule), for
 * long runs; the seed is the case number. */
static void test_fuzz(int n) {
    static const enum ts_dtype dts[] = {TS_F16, TS_BF16, TS_F32, TS_F32};
    static const struct sched scheds[] = {{0, 0, 0}, {1, 16, 1}, {2, 32, 2}, {4, 64, 3}, {8, 64, 2}, {2, 16, 4}};
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < n; i++) {
#define RND(m) ((int64_t)((x = x * 6364136223846793005ull + 1442695040888963407ull) >> 33) % (m))
        struct acase c = {0};
        c.b = 1 + RND(2);
        c.hkv = 1 + RND(2);
        c.hq = c.hkv * (1 + RND(3));
        c.sq = 1 + RND(140);
        c.sk = RND(5) == 0 ? c.sq : RND(150);
        c.d = 1 + RND(80);
        c.dv = RND(3) == 0 ? c.d : 1 + RND(80);
        c.causal = RND(2);
        c.mask = (enum mask_kind)RND(3);
        int di = (int)RND(4);
        c.dtype = dts[di];
        c.layout = (enum layout)RND(3);
        if (c.layout == LAYOUT_QKV) c.sk = c.sq, c.dv = c.d;
        c.epilogue = RND(4) == 0;
        c.scale = RND(4) == 0 ? 2.0 : 0;
        struct sched sc = scheds[RND(6)];
        run_case(&c, di == 3, sc, RND(2) ? "sm_80" : "sm_90a");
#undef RND
    }
}

/* ---- the legality check --------------------------------------------------- */

static void test_check(void) {
    struct ts_cuda_arch a80, a86;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_cuda_arch_parse("sm_80", &a80, &d) == TS_OK);
    CHECK(ts_cuda_arch_parse("sm_86", &a86, &d) == TS_OK);
    struct acase c = {1, 4, 2, 100, 100, 128, 128, true, MASK_NONE, TS_F32, LAYOUT_BHSD, false, 0};
    struct ts_kh h;
    build(&h, &c);
    struct ts_kernel k = h.k;
    /* the default fits every arch */
    ts_cuda_sched_default(&k, &a86, false);
    CHECK(ts_cuda_sched_check(&k, &a86, &d) == TS_OK);
    CHECK(k.sched.attention.gpu.block_q == 16 * k.sched.attention.gpu.warps);
    /* the default is legal on every arch for every head dim up to 256 */
    static const char *const archs[] = {"sm_80", "sm_86", "sm_90a"};
    static const int64_t hds[] = {1, 7, 64, 128, 200, 256}, sks[] = {0, 1, 40, 1000};
    for (int ai = 0; ai < 3; ai++)
        for (int di = 0; di < 6; di++)
            for (int si = 0; si < 4; si++)
                for (int strict = 0; strict < 2; strict++) {
                    struct ts_cuda_arch a;
                    struct ts_kernel x = h.k;
                    CHECK(ts_cuda_arch_parse(archs[ai], &a, &d) == TS_OK);
                    x.attn.d = x.attn.dv = hds[di];
                    x.attn.sk = sks[si];
                    x.inputs = (struct ts_koperand[3]){h.k.inputs[0], h.k.inputs[1], h.k.inputs[2]};
                    for (int i = 0; i < 3; i++) x.inputs[i].dtype = si % 2 ? TS_F32 : TS_BF16;
                    memset(&x.sched.attention.gpu, 0, sizeof x.sched.attention.gpu);
                    ts_cuda_sched_default(&x, &a, strict);
                    enum ts_status st = ts_cuda_sched_check(&x, &a, &d);
                    CHECK(st == TS_OK);
                    if (st != TS_OK) ts_diag_print(&d, stderr);
                }
    /* rows per warp */
    k.sched.attention.gpu.block_q = 48;
    CHECK(ts_cuda_sched_check(&k, &a80, &d) == TS_ERR_UNSUPPORTED);
    CHECK_CONTAINS(d.what, "16·warps");
    CHECK_STR(d.where, "k0_attention");
    /* shared memory: 128 query rows, 128 keys, 3 stages of f32 d 128 */
    ts_diag_clear(&d);
    memset(&k.sched.attention.gpu, 0, sizeof k.sched.attention.gpu);
    k.sched.attention.gpu.warps = 8;
    k.sched.attention.gpu.block_q = 128;
    k.sched.attention.gpu.block_k = 128;
    k.sched.attention.gpu.stages = 3;
    CHECK(ts_cuda_sched_check(&k, &a80, &d) == TS_ERR_UNSUPPORTED);
    CHECK_CONTAINS(d.what, "shared memory");
    CHECK_CONTAINS(d.what, "sm_80");
    ts_diag_clear(&d);
    k.sched.attention.gpu.block_k = 24;
    k.sched.attention.gpu.stages = 1;
    CHECK(ts_cuda_sched_check(&k, &a80, &d) == TS_ERR_UNSUPPORTED);
    CHECK_CONTAINS(d.what, "block_k 24");
    /* grouped-query heads must divide */
    ts_diag_clear(&d);
    k.sched.attention.gpu.block_k = 32;
    k.attn.hkv = 3;
    CHECK(ts_cuda_sched_check(&k, &a80, &d) == TS_ERR_UNSUPPORTED);
    CHECK_CONTAINS(d.what, "kv heads");
    ts_kh_free(&h);
}

int main(void) {
    test_check();
    /* TS_SKIP_EMU / TS_SKIP_NVRTC leave out one half (for quick runs) */
    if (!getenv("TS_SKIP_EMU")) test_emulated();
    if (getenv("TS_ATTN_FUZZ")) test_fuzz(atoi(getenv("TS_ATTN_FUZZ")));
    if (!getenv("TS_SKIP_NVRTC")) test_nvrtc();
    return ts_test_finish("test_cuda_attention");
}
