/* test_cuda_gemm.c — GPU GEMM kernels (emit_gemm.c on prelude/gemm.cuh) run
 * on the host emulator against ts_program_run_ref: every dtype, layout,
 * awkward size, batch broadcast, split-K, epilogue and representative
 * schedule; the legality check's refusals; NVRTC + ptxas -v (no spills). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/cuda/internal.h"
#include "ir/ir.h"
#include "kernel_harness.h"
#include "test.h"
#include "cuda_emu/harness.h"

enum epi {
    EPI_NONE,        /* out = ACC */
    EPI_BIAS_GELU,   /* gelu(ACC + bias[n]) */
    EPI_SCALE_RES,   /* ACC·0.5 + residual[b, m, n] */
    EPI_BIAS_SILU,   /* silu(ACC + bias[n]) */
    EPI_INT_BIAS,    /* integer: ACC + bias[n] (wrapping) */
};

struct sch {
    int bm, bn, bk, wm, wn, stages, split, swizzle;
    enum ts_gemm_instr instr;
};

struct gcase {
    const char *label;
    int nbatch;
    int64_t batch[2];
    bool bcast_b;          /* B shared by every batch (stride 0) */
    int64_t m, n, k;
    enum ts_dtype ta, tc;  /* B has A's dtype */
    bool trans_a, trans_b; /* A stored [K, M]; B stored [N, K] */
    bool strided;          /* A and B contiguous in neither dim (every other element) */
    int pad;               /* A rows padded by this many elements and A offset by as many: copies
                              of 16 bytes impossible, narrower ones (or none, pad 1) instead */
    bool big_ints;         /* integer operands near 2^40: products wrap */
    enum epi epi;
    bool strict;
    struct sch s;          /* zero: the default schedule */
};

static const struct gcase cases[] = {
    /* f16 / bf16 on mma.sync m16n8k16 */
    {"f16 1x1x1", 0, {0}, false, 1, 1, 1, TS_F16, TS_F32, false, false, false, 0, false, EPI_NONE, false, {0}},
    {"f16 7x17x129 bias+gelu", 0, {0}, false, 7, 17, 129, TS_F16, TS_F16, false, false, false, 0, false,
     EPI_BIAS_GELU, false, {0}},
    {"f16 129x127x17 transA", 0, {0}, false, 129, 127, 17, TS_F16, TS_F32, true, false, false, 0, false,
     EPI_NONE, false, {0}},
    {"bf16 127x129x33 transB", 0, {0}, false, 127, 129, 33, TS_BF16, TS_BF16, false, true, false, 0, false,
     EPI_SCALE_RES, false, {0}},
    {"bf16 65x40x48 transA transB", 0, {0}, false, 65, 40, 48, TS_BF16, TS_F32, true, true, false, 0, false,
     EPI_BIAS_SILU, false, {0}},
    {"f16 batch 2x3 bcastB 17x24x40", 2, {2, 3}, true, 17, 24, 40, TS_F16, TS_F32, false, false, false, false,
     false, EPI_SCALE_RES, false, {0}},
    {"f16 strided 33x20x37", 0, {0}, false, 33, 20, 37, TS_F16, TS_F32, false, false, true, 0, false, EPI_NONE,
     false, {0}},
    {"f16 padded 20x33x37", 0, {0}, false, 20, 33, 37, TS_F16, TS_F32, false, true, false, 1, false, EPI_NONE,
     false, {0}},
    {"f16 pad 2 transA 40x24x18", 0, {0}, false, 40, 24, 18, TS_F16, TS_F32, true, false, false, 2, false,
     EPI_NONE, false, {0}},
    {"bf16 pad 4 32x16x50", 0, {0}, false, 32, 16, 50, TS_BF16, TS_F32, false, true, false, 4, false, EPI_NONE,
     false, {0}},
    {"f16 K=0", 0, {0}, false, 5, 9, 0, TS_F16, TS_F32, false, false, false, 0, false, EPI_BIAS_GELU, false, {0}},
    {"f16 K=4097 split-K 8", 0, {0}, false, 7, 24, 4097, TS_F16, TS_F32, false, false, false, 0, false,
     EPI_BIAS_GELU, false, {32, 32, 32, 16, 16, 3, 8, 1, TS_GEMM_INSTR_MMA_F16}},
    {"f16 128x128 tile 4 stages", 0, {0}, false, 129, 136, 160, TS_F16, TS_F32, false, false, false, 0, false,
     EPI_NONE, false, {128, 128, 32, 64, 64, 4, 1, 1, TS_GEMM_INSTR_MMA_F16}},
    {"bf16 64x128 tile swizzle split 3", 1, {2}, false, 70, 300, 200, TS_BF16, TS_BF16, true, false, false, false,
     false, EPI_BIAS_GELU, false, {64, 128, 64, 32, 64, 2, 3, 2, TS_GEMM_INSTR_MMA_F16}},
    /* f32: tf32 mma and the strict SIMT path */
    {"tf32 17x7x33", 0, {0}, false, 17, 7, 33, TS_F32, TS_F32, false, false, false, 0, false, EPI_BIAS_GELU,
     false, {0}},
    {"tf32 127x129x65 transA transB", 0, {0}, false, 127, 129, 65, TS_F32, TS_F32, true, true, false, false,
     false, EPI_SCALE_RES, false, {0}},
    {"tf32 padded batch 2 split 2", 1, {2}, false, 40, 24, 70, TS_F32, TS_F32, false, false, false, 1, false,
     EPI_NONE, false, {32, 32, 16, 16, 16, 3, 2, 1, TS_GEMM_INSTR_MMA_TF32}},
    {"strict f32 129x17x127", 0, {0}, false, 129, 17, 127, TS_F32, TS_F32, false, true, false, 0, false,
     EPI_BIAS_GELU, true, {0}},
    {"strict f32 K=4097 split-K", 0, {0}, false, 7, 17, 4097, TS_F32, TS_F32, true, false, false, 0, false,
     EPI_NONE, true, {0}},
    {"f16 strided out f16", 0, {0}, false, 9, 70, 31, TS_F16, TS_F16, false, false, true, 0, false,
     EPI_SCALE_RES, false, {0}},
    {"f16 on SIMT transB", 0, {0}, false, 9, 70, 31, TS_F16, TS_F32, false, true, false, 0, false,
     EPI_BIAS_GELU, false, {32, 64, 16, 16, 32, 2, 1, 1, TS_GEMM_INSTR_SIMT}},
    /* integers: exact, wrapping */
    {"i32 17x129x7", 0, {0}, false, 17, 129, 7, TS_I32, TS_I32, false, false, false, 0, false, EPI_INT_BIAS,
     false, {0}},
    {"i64 wrap 33x9x70 transA", 0, {0}, false, 33, 9, 70, TS_I64, TS_I64, true, false, false, 0, true,
     EPI_NONE, false, {0}},
    {"i32 wrap out batch bcast split 3", 1, {3}, true, 12, 40, 300, TS_I32, TS_I32, false, true, false, false,
     true, EPI_NONE, false, {32, 64, 16, 16, 32, 2, 3, 1, TS_GEMM_INSTR_SIMT}},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static bool is_int(enum ts_dtype t) { return t == TS_I32 || t == TS_I64; }

/* The kernel of case c in h (inputs: A, B, then the epilogue's). */
static void build(struct ts_kh *h, const struct gcase *c, int idx) {
    static char names[NCASES][32];
    ts_kh_init(h);
    snprintf(names[idx], sizeof names[idx], "k%d_gemm", idx);
    h->k.name = names[idx];
    int nb = c->nbatch, rank = nb + 2;
    int64_t M = c->m, N = c->n, K = c->k;
    int64_t adims[TS_MAX_RANK], bdims[TS_MAX_RANK];
    int ar = nb + 2, br = c->bcast_b ? 2 : nb + 2;
    for (int d = 0; d < nb; d++) adims[d] = bdims[d] = c->batch[d];
    int64_t astep = c->strided ? 2 : 1;
    int64_t a0 = c->trans_a ? K : M, a1 = (c->trans_a ? M : K) * astep + c->pad;
    adims[nb] = a0;
    adims[nb + 1] = a1;
    bdims[br - 2] = c->trans_b ? N : K;
    bdims[br - 1] = (c->trans_b ? K : N) * astep;
    int ia = ts_kh_input(h, c->ta, ar, adims);
    int ib = ts_kh_input(h, c->ta, br, bdims);
    if (c->big_ints)
        for (int i = 0; i < 2; i++)
            for (int64_t e = 0; e < h->in[i].numel; e++)
                ts_tensor_set_i64(&h->in[i], e, (int64_t)(ts_kh_rand(h, -1, 1) * (c->ta == TS_I64 ? 1e12 : 2e9)));
    int64_t odims[TS_MAX_RANK];
    for (int d = 0; d < nb; d++) odims[d] = c->batch[d];
    odims[nb] = M;
    odims[nb + 1] = N;
    int ix = -1;
    bool float_epi = c->epi == EPI_BIAS_GELU || c->epi == EPI_BIAS_SILU || c->epi == EPI_SCALE_RES;
    if (c->epi == EPI_BIAS_GELU || c->epi == EPI_BIAS_SILU) ix = ts_kh_input(h, TS_F32, 1, &N);
    if (c->epi == EPI_SCALE_RES) ix = ts_kh_input(h, TS_F32, rank, odims);
    if (c->epi == EPI_INT_BIAS) ix = ts_kh_input(h, TS_I64, 1, &N);
    int io = ts_kh_output(h, c->tc, rank, odims);
    (void)io;

    struct ts_kernel *k = &h->k;
    k->kind = TS_KERNEL_GEMM;
    k->rank = rank;
    for (int d = 0; d < rank; d++) k->dims[d] = odims[d];
    k->k = K;
    k->acc_type = is_int(c->ta) ? TS_SCALAR_I64 : TS_SCALAR_F32;
    struct ts_koperand *A = &h->ops[0], *B = &h->ops[1];
    *A = ts_kh_operand(h, ia, NULL); /* batch strides of the stored shape */
    *B = ts_kh_operand(h, ib, NULL);
    if (c->bcast_b)
        for (int d = 0; d < nb; d++) B->strides[d] = 0;
    /* the matrix dims: A (m, k), B (n, k) */
    A->strides[nb] = c->trans_a ? astep : a1;
    A->kstride = c->trans_a ? a1 : astep;
    A->strides[nb + 1] = 0;
    A->offset = c->pad;
    int64_t b1 = bdims[br - 1];
    B->strides[nb] = 0;
    B->strides[nb + 1] = c->trans_b ? b1 : astep;
    B->kstride = c->trans_b ? astep : b1;
    k->ninputs = 2;
    if (ix >= 0) {
        h->ops[2] = ts_kh_operand(h, ix, NULL);
        k->ninputs = 3;
    }
    h->k.output = ts_kh_operand(h, io, NULL);
    enum ts_scalar at = k->acc_type;
    if (c->epi != EPI_NONE) {
        int acc = ts_kh_kx(h, TS_KX_ACC, at, float_epi ? TS_F32 : TS_I64, 0, 0, 0);
        int x = ts_kh_kx(h, TS_KX_LOAD, float_epi ? TS_SCALAR_F32 : TS_SCALAR_I64, float_epi ? TS_F32 : TS_I64, 2,
                         0, 0);
        int root;
        if (c->epi == EPI_SCALE_RES) {
            int half = ts_kh_kx(h, TS_KX_CONST, TS_SCALAR_F32, TS_F32, 0, 0, 0);
            h->expr[half].f = 0.5;
            int sc = ts_kh_kx(h, TS_KX_MUL, TS_SCALAR_F32, TS_F32, acc, half, 0);
            root = ts_kh_kx(h, TS_KX_ADD, TS_SCALAR_F32, TS_F32, sc, x, 0);
        } else {
            int sum = ts_kh_kx(h, TS_KX_ADD, at, float_epi ? TS_F32 : TS_I64, acc, x, 0);
            root = c->epi == EPI_BIAS_GELU   ? ts_kh_kx(h, TS_KX_GELU, TS_SCALAR_F32, TS_F32, sum, 0, 0)
                   : c->epi == EPI_BIAS_SILU ? ts_kh_kx(h, TS_KX_SILU, TS_SCALAR_F32, TS_F32, sum, 0, 0)
                                             : sum;
        }
        k->out_root = root;
    }
    k->inputs = h->ops;
    ts_sched_default_cpu(k, 8); /* the reference checks the CPU fields too */
    struct ts_sched_gemm *g = &k->sched.gemm;
    g->gpu.bm = c->s.bm;
    g->gpu.bn = c->s.bn;
    g->gpu.bk = c->s.bk;
    g->gpu.wm = c->s.wm;
    g->gpu.wn = c->s.wn;
    g->gpu.stages = c->s.stages;
    g->gpu.split_k = c->s.split;
    g->gpu.swizzle = c->s.swizzle;
    g->gpu.instr = c->s.instr;
}

/* Tolerances: a K-long dot product of values of magnitude ~1 with random
 * signs has magnitude ~sqrt(K); f32 accumulation errs ~ K·2^-24 at worst,
 * tf32 operands ~ sqrt(K)·2^-11; the output dtype's rounding on top. */
static void tolerance(const struct gcase *c, const struct ts_kernel *k, double *atol, double *rtol) {
    double K = (double)(c->k > 0 ? c->k : 1);
    bool tf32 = k->sched.gemm.gpu.instr == TS_GEMM_INSTR_MMA_TF32 && !c->strict;
    *atol = tf32 ? 1e-3 * sqrt(K) : 1e-5 + 1e-7 * K;
    *rtol = c->tc == TS_F16 ? 1e-3 : c->tc == TS_BF16 ? 1.6e-2 : tf32 ? 1e-3 : 1.3e-6 * sqrt(K);
    if (is_int(c->ta)) *atol = *rtol = 0;
}

/* A copy of t's bytes in a 256-byte aligned block, as the runtime's buffers are. */
static void *dev_copy(const void *src, size_t n) {
    size_t cap = (n + 255) / 256 * 256 + 256;
    void *p = aligned_alloc(256, cap);
    TS_ASSERT(p);
    memset(p, 0, cap);
    if (src) memcpy(p, src, n);
    return p;
}

static void compare(const struct ts_tensor *want, const void *got_data, double atol, double rtol,
                    const char *label, int64_t *bad) {
    struct ts_tensor got = *want;
    got.data = (void *)(uintptr_t)got_data;
    got.owns_data = false;
    for (int64_t i = 0; i < want->numel; i++) {
        bool ok;
        double g, w;
        if (ts_dtype_is_float(want->dtype)) {
            g = ts_tensor_get_f64(&got, i);
            w = ts_tensor_get_f64(want, i);
            ok = (isnan(w) && isnan(g)) || fabs(g - w) <= atol + rtol * fabs(w);
        } else {
            int64_t gi = ts_tensor_get_i64(&got, i), wi = ts_tensor_get_i64(want, i);
            g = (double)gi;
            w = (double)wi;
            ok = gi == wi;
        }
        if (!ok && (*bad)++ < 4)
            fprintf(stderr, "  %s: element %lld: got %.9g, want %.9g\n", label, (long long)i, g, w);
    }
}

static struct ts_cuda_arch arch_of(const char *name) {
    struct ts_cuda_arch a;
    struct ts_diag d = {0};
    TS_ASSERT(ts_cuda_arch_parse(name, &a, &d) == TS_OK);
    return a;
}

/* Emits case i's kernel (default schedule filled, checked) into src. */
static bool emit_case(struct ts_kh *h, const struct gcase *c, const struct ts_cuda_arch *a, struct tsc_src *src,
                      struct ts_cuda_launch *launch) {
    struct ts_diag d = {0};
    tsc_sched_default_gemm(&h->k, a, c->strict);
    enum ts_status st = tsc_sched_check_gemm(&h->k, a, &d);
    if (st != TS_OK) fprintf(stderr, "  %s: %s\n", c->label, d.what);
    CHECK(st == TS_OK);
    if (st != TS_OK) return false;
    struct tsc_emit e = {.src = src, .k = &h->k, .arch = a, .strict_f32 = c->strict, .sym = h->k.name};
    st = tsc_emit_gemm(&e, &d);
    if (st != TS_OK) fprintf(stderr, "  %s: %s\n", c->label, d.what);
    CHECK(st == TS_OK);
    *launch = e.launch;
    if (st == TS_OK) tsc_emit_trampoline(src, &h->k, h->k.name); /* as code.c does */
    return st == TS_OK;
}

static void run_emulated(void) {
    struct ts_cuda_arch a = arch_of("sm_90a");
    struct ts_kh *hs = calloc(NCASES, sizeof *hs);
    struct ts_cuda_launch launch[NCASES];
    bool ok[NCASES];
    struct tsc_src src = {0};
    tsc_puts(&src, ts_cuda_prelude);
    for (int i = 0; i < NCASES; i++) {
        build(&hs[i], &cases[i], i);
        ok[i] = emit_case(&hs[i], &cases[i], &a, &src, &launch[i]);
    }
    CHECK(!src.oom);
    struct ts_emu_module *m = NULL;
    struct ts_diag d = {0};
    enum ts_status st = ts_emu_module_build(src.data, &m, &d);
    if (st != TS_OK) fprintf(stderr, "emulator build: %s\n", d.what);
    CHECK(st == TS_OK);
    for (int i = 0; i < NCASES && st == TS_OK; i++) {
        if (!ok[i]) continue;
        struct ts_kh *h = &hs[i];
        const struct gcase *c = &cases[i];
        const struct ts_kernel *k = &h->k;
        int input_buffers[TS_KH_MAX_BUFFERS], output_buffer = h->nin;
        for (int b = 0; b < h->nin; b++) input_buffers[b] = b;
        struct ts_program p = {.graph = h->g, .buffers = h->bufs, .nbuffers = h->nbufs, .kernels = &h->k,
                               .nkernels = 1, .input_buffers = input_buffers, .output_buffers = &output_buffer};
        struct ts_tensor want = {0};
        struct ts_diag rd = {0};
        enum ts_status rs = ts_program_run_ref(&p, h->in, &want, &rd);
        if (rs != TS_OK) fprintf(stderr, "  %s: reference: %s (%s)\n", c->label, rd.what, rd.where);
        CHECK(rs == TS_OK);
        if (rs != TS_OK) continue;
        void *params[TS_KH_MAX_BUFFERS + 3], *bufs[TS_KH_MAX_BUFFERS];
        for (int b = 0; b < h->nin; b++) bufs[b] = dev_copy(h->in[b].data, h->in[b].nbytes);
        int64_t out_bytes = h->bufs[h->nin].nbytes;
        void *out = dev_copy(NULL, (size_t)out_bytes);
        memset(out, 0xff, (size_t)out_bytes); /* NaN / -1 where nothing is written */
        for (int q = 0; q < k->ninputs; q++) params[q] = bufs[k->inputs[q].buffer];
        params[k->ninputs] = out;
        int64_t wsb = launch[i].workspace_bytes;
        void *ws = wsb > 0 ? dev_copy(NULL, (size_t)wsb) : NULL;
        int error = 0;
        params[k->ninputs + 1] = ws;
        params[k->ninputs + 2] = &error;
        double atol, rtol;
        tolerance(c, k, &atol, &rtol);
        int64_t bad = 0;
        /* twice: the second run finds the split-K counters reset */
        for (int rep = 0; rep < (wsb > 0 ? 2 : 1); rep++) {
            struct ts_diag ld = {0};
            enum ts_status ls = ts_emu_module_launch(m, k->name, params, &launch[i], &ld);
            if (ls != TS_OK) fprintf(stderr, "  %s: %s\n", c->label, ld.what);
            CHECK(ls == TS_OK);
            CHECK(error == 0);
            compare(&want, out, atol, rtol, c->label, &bad);
            int64_t nz = 0;
            for (int64_t b = 0; b < wsb; b++) nz += ((unsigned char *)ws)[b] != 0;
            if (nz) fprintf(stderr, "  %s: %lld workspace bytes left non-zero\n", c->label, (long long)nz);
            CHECK(nz == 0);
        }
        if (bad) fprintf(stderr, "  %s: %lld bad elements (schedule %s %dx%dx%d)\n", c->label, (long long)bad,
                         ts_gemm_instr_name(k->sched.gemm.gpu.instr), k->sched.gemm.gpu.bm, k->sched.gemm.gpu.bn,
                         k->sched.gemm.gpu.bk);
        CHECK(bad == 0);
        for (int b = 0; b < h->nin; b++) free(bufs[b]);
        free(out);
        free(ws);
        ts_tensor_release(&want);
    }
    ts_emu_module_free(m);
    for (int i = 0; i < NCASES; i++) ts_kh_free(&hs[i]);
    free(hs);
    tsc_src_free(&src);
}

/* A few cases end to end through ts_cuda_codegen and the emulator's program
 * runner (its workspace must be left zero): split-K, strict f32, integers. */
static void run_through_codegen(void) {
    static const char *const pick[] = {"f16 K=4097 split-K 8", "strict f32 K=4097 split-K",
                                       "i32 wrap out batch bcast split 3"};
    for (size_t i = 0; i < sizeof pick / sizeof pick[0]; i++) {
        int ci = 0;
        while (ci < NCASES && strcmp(cases[ci].label, pick[i]) != 0) ci++;
        TS_ASSERT(ci < NCASES);
        const struct gcase *c = &cases[ci];
        struct ts_kh h;
        build(&h, c, ci);
        struct ts_cuda_opts o = {.strict_f32 = c->strict, .no_cache = true};
        double atol, rtol;
        tolerance(c, &h.k, &atol, &rtol);
        struct ts_kh_result r;
        ts_kh_run_cuda(&h, &o, atol, rtol, c->label, &r);
        CHECK(ts_kh_ok(&r));
        ts_kh_free(&h);
    }
}

/* Two identical GEMM kernels (transformer layers) share one function. */
static void check_sharing(void) {
    struct ts_kh h;
    build(&h, &cases[1], 1);
    struct ts_kernel ks[2] = {h.k, h.k};
    ks[1].name = "k1_again";
    int input_buffers[TS_KH_MAX_BUFFERS], output_buffer = h.nin;
    for (int b = 0; b < h.nin; b++) input_buffers[b] = b;
    struct ts_program p = {.graph = h.g, .buffers = h.bufs, .nbuffers = h.nbufs, .kernels = ks, .nkernels = 2,
                           .input_buffers = input_buffers, .output_buffers = &output_buffer};
    struct ts_cuda_code *code = NULL;
    struct ts_diag d = {0};
    enum ts_status st = ts_cuda_codegen(&p, &(struct ts_cuda_opts){.no_cache = true}, &code, &d);
    if (st != TS_OK) fprintf(stderr, "  sharing: %s\n", d.what);
    CHECK(st == TS_OK);
    if (st == TS_OK) {
        CHECK(ts_cuda_code_nfunctions(code) == 1);
        CHECK(strcmp(ts_cuda_code_symbol(code, 0), ts_cuda_code_symbol(code, 1)) == 0);
        struct ts_cuda_launch l;
        ts_cuda_code_launch(code, 1, &l);
        CHECK(l.block[0] == 128 && l.grid[0] >= 1 && l.shared_bytes > 0);
    }
    ts_cuda_code_free(code);
    ts_kh_free(&h);
}

/* Schedules the check must refuse, each naming the kernel and the rule. */
static void check_rejections(void) {
    struct ts_cuda_arch a = arch_of("sm_80");
    static const struct {
        struct sch s;
        const char *rule;
    } bad[] = {
        {{128, 128, 32, 48, 64, 3, 1, 1, TS_GEMM_INSTR_MMA_F16}, "bm % wm"},
        {{128, 128, 24, 64, 64, 3, 1, 1, TS_GEMM_INSTR_MMA_F16}, "bk % 16"},
        {{128, 128, 32, 64, 64, 1, 1, 1, TS_GEMM_INSTR_MMA_F16}, "stages"},
        {{256, 256, 64, 64, 64, 8, 1, 1, TS_GEMM_INSTR_MMA_F16}, "shared memory"},
        {{512, 128, 32, 16, 16, 3, 1, 1, TS_GEMM_INSTR_MMA_F16}, "1024 threads"},
        {{128, 128, 32, 64, 64, 3, 1, 1, TS_GEMM_INSTR_MMA_TF32}, "mma_tf32 needs"},
        {{128, 128, 32, 128, 64, 3, 1, 1, TS_GEMM_INSTR_MMA_F16}, "128 accumulators"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ts_kh h;
        build(&h, &cases[1], 1);
        h.k.name = "k_reject";
        struct ts_sched_gemm *g = &h.k.sched.gemm;
        g->gpu.bm = bad[i].s.bm;
        g->gpu.bn = bad[i].s.bn;
        g->gpu.bk = bad[i].s.bk;
        g->gpu.wm = bad[i].s.wm;
        g->gpu.wn = bad[i].s.wn;
        g->gpu.stages = bad[i].s.stages;
        g->gpu.split_k = bad[i].s.split;
        g->gpu.swizzle = bad[i].s.swizzle;
        g->gpu.instr = bad[i].s.instr;
        struct ts_diag d = {0};
        CHECK(tsc_sched_check_gemm(&h.k, &a, &d) == TS_ERR_UNSUPPORTED);
        CHECK(strcmp(d.where, "k_reject") == 0);
        if (!strstr(d.what, bad[i].rule)) fprintf(stderr, "  rule '%s' not in: %s\n", bad[i].rule, d.what);
        CHECK(strstr(d.what, bad[i].rule) != NULL);
        ts_kh_free(&h);
    }
}

/* NVRTC for sm_80 and sm_90a with ptxas -v: the default schedules of a big
 * problem per instruction and of skinny split-K ones (the heaviest register
 * users: 64×64 warp tiles, split-K, epilogues), no spill bytes. Both arches
 * compile at once, one thread each. */
static const struct gcase reps[] = {
    {"f16 big", 0, {0}, false, 4096, 4096, 4096, TS_F16, TS_F16, false, true, false, 0, false, EPI_BIAS_GELU,
     false, {0}},
    {"bf16 skinny split-K", 0, {0}, false, 16, 4096, 4096, TS_BF16, TS_BF16, true, false, false, 0, false,
     EPI_SCALE_RES, false, {0}},
    {"tf32 big", 0, {0}, false, 2048, 2048, 1024, TS_F32, TS_F32, false, false, false, 0, false, EPI_BIAS_SILU,
     false, {0}},
    {"i64 split-K", 0, {0}, false, 17, 40, 5000, TS_I64, TS_I64, false, false, false, 0, false, EPI_INT_BIAS,
     false, {0}},
};
#define NREPS ((int)(sizeof reps / sizeof reps[0]))

struct nv_job {
    struct ts_cuda_arch arch;
    struct tsc_src src;
    struct ts_kh hs[NREPS];
    struct ts_nvrtc_result r;
    struct ts_diag d;
    enum ts_status st;
};

static void *nv_compile(void *arg) {
    struct nv_job *j = arg;
    const char *opts[] = {"-Xptxas=-v"};
    j->st = ts_nvrtc_compile(j->src.data, "gemm.cu", &j->arch, opts, 1, true, &j->r, &j->d);
    return NULL;
}

static void check_ptxas(void) {
    int major, minor;
    struct ts_diag d = {0};
    if (ts_nvrtc_version(&major, &minor, &d) != TS_OK) {
        fprintf(stderr, "skipping the NVRTC check: %s\n", d.what);
        return;
    }
    struct nv_job *jobs = calloc(2, sizeof *jobs);
    const char *archs[2] = {"sm_80", "sm_90a"};
    pthread_t th[2];
    for (int ai = 0; ai < 2; ai++) {
        struct nv_job *j = &jobs[ai];
        j->arch = arch_of(archs[ai]);
        tsc_puts(&j->src, ts_cuda_prelude);
        for (int i = 0; i < NREPS; i++) {
            struct ts_cuda_launch l;
            build(&j->hs[i], &reps[i], i);
            emit_case(&j->hs[i], &reps[i], &j->arch, &j->src, &l);
        }
        CHECK(pthread_create(&th[ai], NULL, nv_compile, j) == 0);
    }
    for (int ai = 0; ai < 2; ai++) {
        struct nv_job *j = &jobs[ai];
        pthread_join(th[ai], NULL);
        if (j->st != TS_OK) fprintf(stderr, "NVRTC %s: %s\n%s\n", j->arch.name, j->d.what, j->r.log ? j->r.log : "");
        CHECK(j->st == TS_OK);
        for (int i = 0; i < NREPS && j->st == TS_OK; i++) {
            int regs = 0;
            int64_t spill = -1, stack = -1;
            bool found = ts_ptxas_report(j->r.log, j->hs[i].k.name, &regs, &spill, &stack);
            CHECK(found);
            if (spill != 0 || getenv("TS_GEMM_VERBOSE"))
                fprintf(stderr, "  %s %s: %d registers, %lld spill bytes, %lld stack bytes\n", j->arch.name,
                        reps[i].label, regs, (long long)spill, (long long)stack);
            CHECK(spill == 0);
        }
        ts_nvrtc_result_free(&j->r);
        for (int i = 0; i < NREPS; i++) ts_kh_free(&j->hs[i]);
        tsc_src_free(&j->src);
    }
    free(jobs);
}

int main(void) {
    check_rejections();
    run_emulated();
    run_through_codegen();
    check_sharing();
    if (!getenv("TS_SKIP_NVRTC")) check_ptxas();
    return ts_test_finish("test_cuda_gemm");
}
