/* test_llvm_gemm.c — GEMM kernels from the LLVM CPU backend against a direct
 * double-precision loop: awkward shapes (1, 7, 17, 127, 129, K = 0), A and B
 * transposed through their strides, batches with a broadcast B, f16/bf16
 * operands and outputs, bias+gelu and residual epilogues, integer matmul, a
 * set of schedules that must all give the same numbers, and the direct path
 * for small M with both B layouts (up to M = 4 for B [K, N], 8 for B [N, K];
 * 5 and 9 cross into the packed path). */
#include <stdint.h>
#include <stdlib.h>

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "test.h"

enum epi { EPI_NONE, EPI_BIAS_GELU, EPI_RESIDUAL };

struct gcase {
    int nbatch;              /* 0, 1 or 2 batch dims */
    int64_t batch[2];
    bool bcast_b;            /* B shared by every batch (stride 0) */
    int64_t m, n, k;
    enum ts_dtype ta, tb, tc;
    bool trans_a, trans_b;   /* A stored [K, M]; B stored [N, K] */
    enum epi epi;
    bool in_place;           /* the residual is read from the output buffer itself */
    struct ts_sched_gemm sched; /* all zero: the default schedule */
    const char *cpu;         /* NULL: the host */
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(rng_state >> 11) / 9007199254740992.0; /* [0, 1) */
    double v = 2 * u - 1;
    return v >= 0 ? v + 0.05 : v - 0.05; /* never zero */
}

/* Writes x to element i of a buffer of dtype t and returns the stored value. */
static double put(void *buf, enum ts_dtype t, int64_t i, double x) {
    switch (t) {
    case TS_F32: ((float *)buf)[i] = (float)x; return (float)x;
    case TS_F16: ((uint16_t *)buf)[i] = ts_f16_from_f64(x); return ts_f16_to_f64(((uint16_t *)buf)[i]);
    case TS_BF16: ((uint16_t *)buf)[i] = ts_bf16_from_f64(x); return ts_bf16_to_f64(((uint16_t *)buf)[i]);
    case TS_I32: ((int32_t *)buf)[i] = (int32_t)x; return (int32_t)x;
    case TS_I64: ((int64_t *)buf)[i] = (int64_t)x; return (double)(int64_t)x;
    default: TS_ASSERT(!"dtype");
    }
    return 0;
}

static double get(const void *buf, enum ts_dtype t, int64_t i) {
    switch (t) {
    case TS_F32: return ((const float *)buf)[i];
    case TS_F16: return ts_f16_to_f64(((const uint16_t *)buf)[i]);
    case TS_BF16: return ts_bf16_to_f64(((const uint16_t *)buf)[i]);
    case TS_I32: return ((const int32_t *)buf)[i];
    case TS_I64: return (double)((const int64_t *)buf)[i];
    default: TS_ASSERT(!"dtype");
    }
    return 0;
}

static int64_t get_i(const void *buf, enum ts_dtype t, int64_t i) {
    return t == TS_I32 ? ((const int32_t *)buf)[i] : ((const int64_t *)buf)[i];
}

static bool is_int(enum ts_dtype t) { return t == TS_I32 || t == TS_I64; }

static double rel_tol(enum ts_dtype t) {
    return t == TS_F16 ? 1e-3 : t == TS_BF16 ? 1.6e-2 : 1.3e-6;
}

/* Builds the one-kernel program of case c, runs it (tasks split in two
 * ranges with separate scratch, as two workers would) and compares. Returns
 * the number of mismatching elements. */
static int run_case(const struct gcase *c) {
    int nb = c->nbatch;
    int rank = nb + 2;
    int64_t bprod = 1;
    for (int i = 0; i < nb; i++) bprod *= c->batch[i];
    int64_t M = c->m, N = c->n, K = c->k;
    bool integer = is_int(c->ta);
    int64_t na = bprod * M * K, nbe = (c->bcast_b ? 1 : bprod) * K * N, nc = bprod * M * N;
    void *a = calloc((size_t)(na + 1), 8), *b = calloc((size_t)(nbe + 1), 8);
    void *x = calloc((size_t)(nc + N + 1), 8), *out = calloc((size_t)(nc + 1), 8);
    double *av = calloc((size_t)(na + 1), sizeof(double)), *bv = calloc((size_t)(nbe + 1), sizeof(double));
    double *xv = calloc((size_t)(nc + N + 1), sizeof(double));
    for (int64_t i = 0; i < na; i++) av[i] = put(a, c->ta, i, integer ? (double)(int)(rnd() * 1000) : rnd());
    for (int64_t i = 0; i < nbe; i++) bv[i] = put(b, c->tb, i, integer ? (double)(int)(rnd() * 1000) : rnd());
    for (int64_t i = 0; i < nc + N; i++) xv[i] = put(x, TS_F32, i, rnd());
    /* NaN marks every output element the kernel fails to write. */
    for (int64_t i = 0; i < nc; i++) put(out, c->tc, i, integer ? -7 : NAN);

    struct ts_koperand ops[3] = {0};
    struct ts_koperand *A = &ops[0], *B = &ops[1], *X = &ops[2];
    struct ts_koperand C = {.buffer = 3, .dtype = c->tc};
    A->buffer = 0;
    A->dtype = c->ta;
    B->buffer = 1;
    B->dtype = c->tb;
    X->buffer = c->in_place ? 3 : 2;
    X->dtype = TS_F32;
    if (c->in_place) {
        TS_ASSERT(c->tc == TS_F32 && c->epi == EPI_RESIDUAL);
        memcpy(out, x, sizeof(float) * (size_t)nc);
    }
    /* Row-major batch strides, innermost batch dim last. */
    int64_t sa = M * K, sb = K * N, sc = M * N;
    for (int d = nb - 1; d >= 0; d--) {
        A->strides[d] = sa;
        B->strides[d] = c->bcast_b ? 0 : sb;
        C.strides[d] = sc;
        sa *= c->batch[d];
        sb *= c->batch[d];
        sc *= c->batch[d];
    }
    A->strides[nb] = c->trans_a ? 1 : K;
    A->kstride = c->trans_a ? M : 1;
    B->strides[nb + 1] = c->trans_b ? K : 1;
    B->kstride = c->trans_b ? 1 : N;
    C.strides[nb] = N;
    C.strides[nb + 1] = 1;
    for (int d = 0; d < rank; d++) X->strides[d] = c->epi == EPI_BIAS_GELU ? 0 : C.strides[d];
    if (c->epi == EPI_BIAS_GELU) X->strides[nb + 1] = 1;

    struct ts_kx ex[8];
    int nex = 0, root = -1;
    if (c->epi != EPI_NONE) {
        ex[nex++] = (struct ts_kx){.op = TS_KX_ACC, .type = TS_SCALAR_F32, .dtype = TS_F32};
        ex[nex++] = (struct ts_kx){.op = TS_KX_LOAD, .type = TS_SCALAR_F32, .dtype = TS_F32, .a = 2};
        ex[nex++] = (struct ts_kx){.op = TS_KX_ADD, .type = TS_SCALAR_F32, .dtype = TS_F32, .a = 0, .b = 1};
        if (c->epi == EPI_BIAS_GELU)
            ex[nex++] = (struct ts_kx){.op = TS_KX_GELU, .type = TS_SCALAR_F32, .dtype = TS_F32, .a = 2};
        root = nex - 1;
    }
    struct ts_kernel kern = {
        .kind = TS_KERNEL_GEMM, .name = "g", .rank = rank, .k = K,
        .acc_type = integer ? TS_SCALAR_I64 : TS_SCALAR_F32,
        .inputs = ops, .ninputs = c->epi != EPI_NONE ? 3 : 2, .output = C,
        .expr = ex, .nexpr = nex, .out_root = root,
    };
    for (int d = 0; d < nb; d++) kern.dims[d] = c->batch[d];
    kern.dims[nb] = M;
    kern.dims[nb + 1] = N;

    struct ts_diag diag = {0};
    struct ts_cpu_info info;
    CHECK(ts_cpu_info_init(c->cpu, &info, &diag) == TS_OK);
    if (c->sched.mr) kern.sched.gemm = c->sched;
    else ts_sched_default_cpu(&kern, info.vector_width);

    struct ts_program prog = {.kernels = &kern, .nkernels = 1};
    struct ts_cpu_opts opts = {.cpu = c->cpu, .opt_level = 3};
    struct ts_cpu_code *code = NULL;
    void *fnp = NULL;
    int bad = 0;
    enum ts_status st = ts_cpu_codegen(&prog, &opts, &code, &diag);
    if (st == TS_OK) st = ts_cpu_code_jit(code, &fnp, &diag);
    if (st != TS_OK) {
        fprintf(stderr, "codegen failed: %s\n", diag.what);
        CHECK(st == TS_OK);
        ts_cpu_code_free(code);
        bad = 1;
        goto out;
    }
    {
        int32_t (*fn)(void *const *, int64_t, int64_t, void *);
        memcpy(&fn, &fnp, sizeof fn);
        int64_t ntasks = ts_kernel_ntasks(&kern), sbytes = ts_kernel_scratch_bytes(&kern);
        void *s0 = aligned_alloc(64, (size_t)(sbytes + 64)), *s1 = aligned_alloc(64, (size_t)(sbytes + 64));
        void *args[4] = {a, b, c->in_place ? out : x, out};
        if (c->epi == EPI_NONE) args[2] = out;
        int64_t half = ntasks / 2;
        CHECK(fn(args, 0, half, s0) == 0);
        CHECK(fn(args, half, ntasks, s1) == 0);
        free(s0);
        free(s1);
        ts_cpu_code_free(code);
    }

    /* The reference, element by element. */
    for (int64_t bi = 0; bi < bprod; bi++) {
        int64_t boa = 0, bob = 0, boc = 0, rest = bi;
        for (int d = nb - 1; d >= 0; d--) {
            int64_t idx = rest % c->batch[d];
            rest /= c->batch[d];
            boa += idx * A->strides[d];
            bob += idx * B->strides[d];
            boc += idx * C.strides[d];
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                int64_t ci = boc + i * N + j;
                if (integer) {
                    uint64_t acc = 0;
                    for (int64_t kk = 0; kk < K; kk++)
                        acc += (uint64_t)get_i(a, c->ta, boa + i * A->strides[nb] + kk * A->kstride) *
                               (uint64_t)get_i(b, c->tb, bob + j * B->strides[nb + 1] + kk * B->kstride);
                    int64_t want = c->tc == TS_I32 ? (int64_t)(int32_t)acc : (int64_t)acc;
                    if (get_i(out, c->tc, ci) != want && bad++ < 5)
                        fprintf(stderr, "  [%lld,%lld,%lld] = %lld, want %lld\n", (long long)bi, (long long)i,
                                (long long)j, (long long)get_i(out, c->tc, ci), (long long)want);
                    continue;
                }
                double acc = 0, sabs = 0;
                for (int64_t kk = 0; kk < K; kk++) {
                    double p = av[boa + i * A->strides[nb] + kk * A->kstride] *
                               bv[bob + j * B->strides[nb + 1] + kk * B->kstride];
                    acc += p;
                    sabs += fabs(p);
                }
                double want = acc, slope = 1;
                if (c->epi == EPI_RESIDUAL) want = acc + xv[ci];
                if (c->epi == EPI_BIAS_GELU) {
                    double t = acc + xv[j];
                    want = 0.5 * t * (1 + erf(t / sqrt(2.0)));
                    slope = 1.2;
                }
                double got = get(out, c->tc, ci);
                double tol = 1e-5 + slope * 1.2e-7 * (double)(K + 2) * sabs + rel_tol(c->tc) * fabs(want);
                if (!(fabs(got - want) <= tol) && bad++ < 5)
                    fprintf(stderr, "  [%lld,%lld,%lld] = %.9g, want %.9g (tol %.3g)\n", (long long)bi,
                            (long long)i, (long long)j, got, want, tol);
            }
    }
out:
    free(a);
    free(b);
    free(x);
    free(out);
    free(av);
    free(bv);
    free(xv);
    return bad;
}

static void check_case(const char *what, struct gcase c) {
    int bad = run_case(&c);
    if (bad) {
        fprintf(stderr, "%s: M %lld N %lld K %lld %s×%s→%s%s%s epi %d sched %d/%d/%d/%d/%d cpu %s: %d wrong\n", what,
                (long long)c.m, (long long)c.n, (long long)c.k, ts_dtype_name(c.ta), ts_dtype_name(c.tb),
                ts_dtype_name(c.tc), c.trans_a ? " transA" : "", c.trans_b ? " transB" : "", (int)c.epi,
                c.sched.mc, c.sched.kc, c.sched.nc, c.sched.mr, c.sched.nr, c.cpu ? c.cpu : "native", bad);
    }
    CHECK(bad == 0);
}

int main(void) {
    struct ts_diag d = {0};
    if (ts_codegen_check_target(TS_TARGET_CPU, &d) != TS_OK) {
        printf("skipped: %s\n", d.what);
        return 0;
    }
    static const int64_t sizes[] = {1, 7, 17, 127, 129};
    /* Awkward shapes, both B layouts, default schedule. */
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            for (int t = 0; t < 2; t++) {
                int64_t kk = sizes[(i + 2 * j + t) % 5];
                check_case("shape", (struct gcase){.m = sizes[i], .n = sizes[j], .k = kk, .ta = TS_F32,
                                                   .tb = TS_F32, .tc = TS_F32, .trans_b = t});
            }
    /* Long K (several KC panels), K = 0, transposed A, 1000-sized dims. */
    check_case("long k", (struct gcase){.m = 33, .n = 47, .k = 1000, .ta = TS_F32, .tb = TS_F32, .tc = TS_F32});
    check_case("k=0", (struct gcase){.m = 7, .n = 17, .k = 0, .ta = TS_F32, .tb = TS_F32, .tc = TS_F32});
    check_case("k=0 epi", (struct gcase){.m = 7, .n = 17, .k = 0, .ta = TS_F32, .tb = TS_F32, .tc = TS_F32,
                                         .epi = EPI_BIAS_GELU});
    check_case("trans a", (struct gcase){.m = 129, .n = 40, .k = 300, .ta = TS_F32, .tb = TS_F32, .tc = TS_F32,
                                         .trans_a = true, .trans_b = true});
    check_case("big m", (struct gcase){.m = 1000, .n = 7, .k = 17, .ta = TS_F32, .tb = TS_F32, .tc = TS_F32});
    check_case("wide n", (struct gcase){.m = 13, .n = 1000, .k = 300, .ta = TS_F32, .tb = TS_BF16, .tc = TS_F32});
    check_case("wide n nc", (struct gcase){.m = 13, .n = 1000, .k = 300, .ta = TS_F16, .tb = TS_F32, .tc = TS_F32,
                                           .sched = {.mc = 12, .kc = 128, .nc = 960, .mr = 6, .nr = 16}});
    check_case("big n", (struct gcase){.m = 3, .n = 1000, .k = 129, .ta = TS_F32, .tb = TS_F32, .tc = TS_F32,
                                       .trans_b = true});
    /* Batches, B broadcast over them. */
    check_case("batch", (struct gcase){.nbatch = 2, .batch = {2, 3}, .m = 17, .n = 33, .k = 20, .ta = TS_F32,
                                       .tb = TS_F32, .tc = TS_F32, .bcast_b = true, .epi = EPI_RESIDUAL});
    check_case("batch t", (struct gcase){.nbatch = 1, .batch = {3}, .m = 7, .n = 129, .k = 300, .ta = TS_F32,
                                         .tb = TS_F32, .tc = TS_F32, .trans_b = true});
    /* f16 and bf16 operands and outputs. */
    static const enum ts_dtype halves[] = {TS_F16, TS_BF16};
    for (int h = 0; h < 2; h++) {
        check_case("half ab", (struct gcase){.m = 127, .n = 65, .k = 300, .ta = halves[h], .tb = halves[h],
                                             .tc = TS_F32, .trans_b = h});
        check_case("half c", (struct gcase){.m = 19, .n = 33, .k = 40, .ta = halves[h], .tb = TS_F32,
                                            .tc = halves[h], .epi = EPI_BIAS_GELU});
        check_case("half c long k", (struct gcase){.m = 19, .n = 33, .k = 700, .ta = TS_F32, .tb = halves[h],
                                                   .tc = halves[h], .trans_b = true});
        /* Several row and column blocks and K panels with a narrow output:
         * the packed path keeps the partial sums in an f32 scratch block. */
        check_case("half c blocks", (struct gcase){.m = 200, .n = 300, .k = 777, .ta = halves[h], .tb = halves[h],
                                                   .tc = halves[h], .trans_b = h, .epi = EPI_BIAS_GELU});
        check_case("half c edges", (struct gcase){.m = 129, .n = 17, .k = 4097, .ta = halves[h], .tb = TS_F32,
                                                  .tc = halves[h], .trans_b = !h});
    }
    /* Epilogues. */
    check_case("bias gelu", (struct gcase){.m = 129, .n = 127, .k = 520, .ta = TS_F32, .tb = TS_F32,
                                           .tc = TS_F32, .trans_b = true, .epi = EPI_BIAS_GELU});
    check_case("residual", (struct gcase){.m = 64, .n = 96, .k = 700, .ta = TS_F32, .tb = TS_F32,
                                          .tc = TS_F32, .epi = EPI_RESIDUAL});
    check_case("residual in place", (struct gcase){.m = 31, .n = 45, .k = 600, .ta = TS_F32, .tb = TS_F32,
                                                   .tc = TS_F32, .epi = EPI_RESIDUAL, .in_place = true});
    /* Integer matmul (wrapping i64 accumulation; i32 output wraps). */
    check_case("int", (struct gcase){.m = 17, .n = 9, .k = 129, .ta = TS_I32, .tb = TS_I32, .tc = TS_I32});
    check_case("int64", (struct gcase){.nbatch = 1, .batch = {2}, .m = 7, .n = 17, .k = 33, .ta = TS_I64,
                                       .tb = TS_I64, .tc = TS_I64, .trans_b = true});
    /* Every schedule gives the same numbers. */
    static const struct ts_sched_gemm scheds[] = {
        {.mc = 6, .kc = 4, .nc = 16, .mr = 6, .nr = 16},
        {.mc = 13, .kc = 7, .nc = 40, .mr = 3, .nr = 8},
        {.mc = 64, .kc = 32, .nc = 64, .mr = 4, .nr = 32},
        {.mc = 120, .kc = 256, .nc = 3072, .mr = 6, .nr = 16},
        {.mc = 24, .kc = 100, .nc = 48, .mr = 12, .nr = 16},
        {.mc = 14, .kc = 64, .nc = 64, .mr = 14, .nr = 32},
        {.mc = 5, .kc = 9, .nc = 24, .mr = 1, .nr = 8},
    };
    for (int s = 0; s < (int)(sizeof scheds / sizeof scheds[0]); s++)
        for (int t = 0; t < 2; t++) {
            check_case("sched", (struct gcase){.m = 29, .n = 71, .k = 131, .ta = TS_F32, .tb = TS_F32,
                                               .tc = TS_F32, .trans_b = t, .epi = t ? EPI_BIAS_GELU : EPI_NONE,
                                               .sched = scheds[s]});
            check_case("sched batch", (struct gcase){.nbatch = 1, .batch = {2}, .bcast_b = true, .m = 17,
                                                     .n = 40, .k = 33, .ta = TS_BF16, .tb = TS_F16,
                                                     .tc = TS_F32, .trans_a = t, .sched = scheds[s]});
        }
    /* Small M (the direct path up to M = 4 or 8, then the packed one): both
     * B layouts, awkward N and K (vector, block and k tails), bias+gelu. */
    static const int64_t gn[] = {1, 7, 17, 127, 129, 200};
    static const int64_t gk[] = {1, 7, 17, 127, 129, 4097};
    static const int64_t gm[] = {1, 2, 3, 4, 5, 8, 9};
    for (int mi = 0; mi < 7; mi++)
        for (int i = 0; i < 6; i++)
            for (int t = 0; t < 2; t++) {
                int64_t kk = gk[(i + mi + 1 + 3 * t) % 6];
                check_case("small m", (struct gcase){.m = gm[mi], .n = gn[i], .k = kk, .ta = TS_F32, .tb = TS_F32,
                                                     .tc = TS_F32, .trans_b = t,
                                                     .epi = (i + t) % 2 ? EPI_BIAS_GELU : EPI_NONE});
            }
    for (int t = 0; t < 2; t++) {
        /* N of several blocks and tasks, K of several panels. */
        check_case("gemv wide", (struct gcase){.m = 1, .n = 1000, .k = 300, .ta = TS_F32, .tb = TS_F32,
                                               .tc = TS_F32, .trans_b = t, .epi = EPI_BIAS_GELU});
        check_case("gemv 4097", (struct gcase){.m = 2, .n = 129, .k = 4097, .ta = TS_F32, .tb = TS_F32,
                                               .tc = TS_F32, .trans_b = t});
        /* Batch dims, B shared by the batches or not, residual epilogue. */
        check_case("gemv batch", (struct gcase){.nbatch = 2, .batch = {2, 3}, .m = 1, .n = 33, .k = 70,
                                                .ta = TS_F32, .tb = TS_F32, .tc = TS_F32, .trans_b = t,
                                                .bcast_b = t, .epi = EPI_RESIDUAL});
        check_case("gemv batch 3", (struct gcase){.nbatch = 1, .batch = {3}, .m = 3, .n = 47, .k = 129,
                                                  .ta = TS_F32, .tb = TS_F32, .tc = TS_F32, .trans_b = t,
                                                  .bcast_b = !t, .epi = EPI_BIAS_GELU});
        /* Transposed A (strided k), f16/bf16 operands and outputs. */
        check_case("gemv trans a", (struct gcase){.m = 4, .n = 65, .k = 131, .ta = TS_F32, .tb = TS_F32,
                                                  .tc = TS_F32, .trans_a = true, .trans_b = t});
        check_case("gemv half", (struct gcase){.m = 1, .n = 100, .k = 300, .ta = TS_F16, .tb = TS_BF16,
                                               .tc = TS_F32, .trans_b = t, .epi = EPI_BIAS_GELU});
        check_case("gemv half c", (struct gcase){.m = 2, .n = 77, .k = 700, .ta = TS_F32, .tb = TS_F16,
                                                 .tc = TS_BF16, .trans_b = t});
        /* In place: the output aliases the residual, so not the direct path. */
        check_case("gemv in place", (struct gcase){.m = 1, .n = 45, .k = 60, .ta = TS_F32, .tb = TS_F32,
                                                   .tc = TS_F32, .trans_b = t, .epi = EPI_RESIDUAL,
                                                   .in_place = true});
        /* Schedules with row blocks shorter than M (a short last one) and
         * narrow column blocks. */
        check_case("gemv sched", (struct gcase){.m = 4, .n = 71, .k = 131, .ta = TS_F32, .tb = TS_F32,
                                                .tc = TS_F32, .trans_b = t, .epi = EPI_BIAS_GELU,
                                                .sched = {.mc = 3, .kc = 64, .nc = 24, .mr = 3, .nr = 8}});
        check_case("gemv sched 2", (struct gcase){.nbatch = 1, .batch = {2}, .m = 3, .n = 40, .k = 33,
                                                  .ta = TS_F32, .tb = TS_F32, .tc = TS_F32, .trans_b = t,
                                                  .sched = {.mc = 2, .kc = 9, .nc = 16, .mr = 1, .nr = 16}});
        /* Other vector widths: AVX2 (16 registers) and SSE (4 lanes, no FMA). */
        check_case("gemv portable", (struct gcase){.m = 4, .n = 131, .k = 77, .ta = TS_F32, .tb = TS_F32,
                                                   .tc = TS_F32, .trans_b = t, .epi = EPI_BIAS_GELU,
                                                   .cpu = "portable"});
        check_case("gemv sse", (struct gcase){.m = 3, .n = 37, .k = 19, .ta = TS_F32, .tb = TS_BF16,
                                              .tc = TS_F32, .trans_b = t, .cpu = "x86-64"});
    }
    /* The portable (AVX2) code path, whatever the host. */
    check_case("portable", (struct gcase){.m = 127, .n = 129, .k = 300, .ta = TS_F32, .tb = TS_F32,
                                          .tc = TS_F32, .epi = EPI_BIAS_GELU, .cpu = "portable"});
    check_case("portable t", (struct gcase){.m = 17, .n = 33, .k = 7, .ta = TS_F16, .tb = TS_F32,
                                            .tc = TS_BF16, .trans_b = true, .cpu = "portable"});
    /* SSE only (4 lanes, no FMA): the same kernels in 128-bit vectors. */
    check_case("sse", (struct gcase){.m = 29, .n = 37, .k = 300, .ta = TS_F32, .tb = TS_BF16, .tc = TS_F32,
                                     .trans_b = true, .epi = EPI_BIAS_GELU, .cpu = "x86-64"});
    check_case("sse n", (struct gcase){.m = 13, .n = 41, .k = 17, .ta = TS_F32, .tb = TS_F32, .tc = TS_F32,
                                       .cpu = "x86-64"});
    return ts_test_finish("test_llvm_gemm");
}
