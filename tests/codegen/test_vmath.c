/* test_vmath.c — codegen/llvm/vmath.c's f32 exp, log, tanh, erf, sigmoid,
 * silu, gelu and gelu_tanh, each compiled as a pointwise kernel (8 lanes and a
 * scalar tail) and run over about a million inputs (dense sweeps, random
 * magnitudes, the special values): the largest error in ulp against the same
 * function in double must stay within the bound vmath.c claims, and every
 * element within tessera's f32 tolerance. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_harness.h"
#include "runtime/runtime.h"
#include "test.h"

#define N ((1 << 20) + 5) /* not a multiple of 8: the scalar tail runs too */

static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* The reference: ir/kernel_interp.c's formulas, in double. */
static double ref_of(enum ts_kx_op op, double x) {
    switch (op) {
    case TS_KX_EXP: return exp(x);
    case TS_KX_LOG: return log(x);
    case TS_KX_TANH: return tanh(x);
    case TS_KX_ERF: return erf(x);
    case TS_KX_SIGMOID: return sigmoid(x);
    case TS_KX_SILU: return x * sigmoid(x);
    case TS_KX_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case TS_KX_GELU_TANH: return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
    default: break;
    }
    TS_ASSERT(!"not a vmath op");
    return 0;
}

/* The function itself, in long double and in forms without the reference's
 * cancellation (1 + erf(z) and 1 + tanh(u) lose all bits in double once the
 * result is below 1e-16 of x): what the ulp are counted against. */
static double exact_of(enum ts_kx_op op, double x) {
    long double lx = x;
    switch (op) {
    case TS_KX_GELU: return (double)(0.5L * lx * erfcl(-lx / sqrtl(2.0L)));
    case TS_KX_GELU_TANH: {
        long double u = sqrtl(2.0L / 3.14159265358979323846264338327950288L) * (lx + 0.044715L * lx * lx * lx);
        return (double)(lx / (1.0L + expl(-2.0L * u)));
    }
    default: return ref_of(op, x);
    }
}

/* One function's sweep and the bound it must meet. Errors are measured in
 * ulp of the double result (2^(exponent − 23); the subnormals' 2^-149 below
 * FLT_MIN where 'sub' is set; elsewhere results below FLT_MIN get only the
 * tolerance check): at most max_ulp for inputs >= ulp_lo; below it (where
 * silu's and gelu_tanh's x·e^−|x| and gelu's t·e^−z² have a subnormal factor,
 * for results under 1e-30) only the tolerance. */
struct fcase {
    enum ts_kx_op op;
    double lo, hi;        /* the dense sweep */
    int emin, emax;       /* random magnitudes 2^emin … 2^emax, both signs */
    double ulp_lo;
    bool sub;             /* measure ulp in the subnormal results too */
    double max_ulp;       /* the bound */
};

static const struct fcase cases[] = {
    {TS_KX_EXP, -104, 89, -40, 7, -INFINITY, true, 2},
    {TS_KX_LOG, 0, 4, -149, 127, -INFINITY, false, 2},
    {TS_KX_TANH, -10, 10, -40, 6, -INFINITY, false, 2},
    {TS_KX_ERF, -5, 5, -40, 4, -INFINITY, false, 2},
    {TS_KX_SIGMOID, -105, 90, -40, 7, -INFINITY, true, 3},
    {TS_KX_SILU, -105, 90, -40, 7, -87, false, 3},
    {TS_KX_GELU, -14, 14, -40, 7, -12.5, false, 6},
    {TS_KX_GELU_TANH, -14, 14, -40, 7, -9.5, false, 3},
};

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t next32(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 32);
}
static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Fills x: the special values, then random magnitudes, then the sweep. */
static void fill(const struct fcase *c, float *x) {
    const float sp[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1.0f, -1.0f, FLT_MAX, -FLT_MAX, FLT_MIN,
                        -FLT_MIN, 0x1p-149f, -0x1p-149f, 0x1.fffffcp-127f, 88.7228f, 88.72284f, 88.7229f, -87.33655f,
                        -103.9721f, -103.97208f, -104.0f, 89.0f, 0.625f, -0.625f, 0.62499994f, 0.62500006f,
                        0.70710677f, 0.70710683f, 1.4142135f, 1.4142137f, 0.99999994f, 1.0000001f, 3.92f, 3.93f,
                        9.1f, 10.0f, 44.0f, 1e13f, -1e13f, 1.4142135f, -1.4142135f, 1.4142137f, -1.4142137f};
    int64_t i = 0, nsp = (int64_t)(sizeof sp / sizeof sp[0]);
    for (; i < nsp; i++) x[i] = sp[i];
    int64_t nrand = N * 2 / 5;
    for (; i < nsp + nrand; i++) {
        if (c->op == TS_KX_LOG) {
            x[i] = from_bits(next32() % 0x7f800000u); /* every positive float */
        } else {
            int e = c->emin + (int)(next32() % (uint32_t)(c->emax - c->emin + 1));
            float m = 1.0f + (float)(next32() >> 9) * 0x1p-23f;
            x[i] = ldexpf(next32() & 1 ? -m : m, e);
        }
    }
    int64_t left = N - i;
    for (int64_t j = 0; j < left; j++, i++) x[i] = (float)(c->lo + (c->hi - c->lo) * (double)j / (double)(left - 1));
}

static double ulp_of(double r) {
    if (r == 0 || fabs(r) < FLT_MIN) return 0x1p-149;
    return ldexp(1.0, ilogb(r) - 23);
}

/* Compiles y = op(x) over n elements; returns the kernel or NULL. */
static ts_rt_kernel_fn compile(struct ts_kh *h, enum ts_kx_op op, int64_t n, struct ts_cpu_code **code) {
    int64_t dims[1] = {n};
    int x = ts_kh_input(h, TS_F32, 1, dims);
    h->k.kind = TS_KERNEL_POINTWISE;
    h->k.rank = 1;
    h->k.dims[0] = n;
    int o = ts_kh_output(h, TS_F32, 1, dims);
    h->k.output = ts_kh_operand(h, o, NULL);
    h->k.ninputs = 1;
    h->ops[0] = ts_kh_operand(h, x, NULL);
    h->k.inputs = h->ops;
    int l = ts_kh_kx(h, TS_KX_LOAD, TS_SCALAR_F32, TS_F32, 0, 0, 0);
    h->k.out_root = ts_kh_kx(h, op, TS_SCALAR_F32, TS_F32, l, 0, 0);
    ts_sched_default_cpu(&h->k, 8);
    int inb = 0, outb = 1;
    struct ts_program p = {.graph = h->g, .buffers = h->bufs, .nbuffers = h->nbufs, .kernels = &h->k,
                           .nkernels = 1, .input_buffers = &inb, .output_buffers = &outb};
    struct ts_cpu_opts opts = {.cpu = getenv("TS_VMATH_CPU"), .opt_level = 3};
    struct ts_diag d;
    ts_diag_clear(&d);
    void *fn = NULL;
    enum ts_status st = ts_cpu_codegen(&p, &opts, code, &d);
    if (st == TS_OK) st = ts_cpu_code_jit(*code, &fn, &d);
    if (st != TS_OK) {
        char msg[1024];
        ts_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "%s: %s\n", ts_kx_op_name(op), msg);
        return NULL;
    }
    return (ts_rt_kernel_fn)fn;
}

static void run_case(const struct fcase *c) {
    struct ts_kh h;
    ts_kh_init(&h);
    struct ts_cpu_code *code = NULL;
    ts_rt_kernel_fn fn = compile(&h, c->op, N, &code);
    CHECK(fn != NULL);
    if (!fn) {
        ts_cpu_code_free(code);
        ts_kh_free(&h);
        return;
    }
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    TS_ASSERT(x && y);
    fill(c, x);
    void *args[2] = {x, y};
    int64_t sb = ts_kernel_scratch_bytes(&h.k);
    void *scratch = aligned_alloc(64, (size_t)(sb > 0 ? sb : 64));
    CHECK(fn((void *const *)args, 0, ts_kernel_ntasks(&h.k), scratch) == 0);

    double worst = 0;
    float worst_x = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < N; i++) {
        double r = ref_of(c->op, x[i]), g = y[i], ex = exact_of(c->op, x[i]);
        bool ok;
        double ulps = 0;
        if (isnan(r) || isnan(g)) {
            ok = isnan(r) && isnan(g);
        } else if (fabs(r) > FLT_MAX) {
            ok = g == (r > 0 ? INFINITY : -INFINITY); /* overflow: inf exactly */
        } else if (isinf(g)) {
            ok = false;
        } else {
            double err = fabs(g - r);
            ok = err <= 1e-5 + 1.3e-6 * fabs(r); /* tessera's f32 tolerance */
            if (x[i] >= c->ulp_lo && (c->sub || fabs(ex) >= FLT_MIN)) {
                ulps = fabs(g - ex) / ulp_of(ex);
                ok = ok && ulps <= c->max_ulp;
            }
        }
        if (ulps > worst) worst = ulps, worst_x = x[i];
        if (!ok && bad++ < 5)
            fprintf(stderr, "  %s(%.9g) = %.9g, want %.17g (%.2f ulp)\n", ts_kx_op_name(c->op), (double)x[i], g, r,
                    ulps);
    }
    printf("%-10s max %.3f ulp (at x = %.9g), bound %g\n", ts_kx_op_name(c->op), worst, (double)worst_x, c->max_ulp);
    CHECK(bad == 0);
    CHECK(worst <= c->max_ulp);
    free(scratch);
    free(x);
    free(y);
    ts_cpu_code_free(code);
    ts_kh_free(&h);
}

/* Exact special values: the ones libm documents. */
static void test_specials(void) {
    const struct { enum ts_kx_op op; float x, want; } s[] = {
        {TS_KX_EXP, -INFINITY, 0.0f}, {TS_KX_EXP, INFINITY, INFINITY}, {TS_KX_EXP, 89.0f, INFINITY},
        {TS_KX_EXP, -104.0f, 0.0f},   {TS_KX_EXP, 0.0f, 1.0f},         {TS_KX_EXP, -0.0f, 1.0f},
        {TS_KX_LOG, 0.0f, -INFINITY}, {TS_KX_LOG, -0.0f, -INFINITY},   {TS_KX_LOG, INFINITY, INFINITY},
        {TS_KX_LOG, 1.0f, 0.0f},      {TS_KX_TANH, INFINITY, 1.0f},    {TS_KX_TANH, -INFINITY, -1.0f},
        {TS_KX_TANH, 20.0f, 1.0f},    {TS_KX_TANH, -0.0f, -0.0f},      {TS_KX_ERF, INFINITY, 1.0f},
        {TS_KX_ERF, -INFINITY, -1.0f}, {TS_KX_ERF, 5.0f, 1.0f},        {TS_KX_ERF, -0.0f, -0.0f},
        {TS_KX_SIGMOID, -INFINITY, 0.0f}, {TS_KX_SIGMOID, INFINITY, 1.0f}, {TS_KX_SILU, INFINITY, INFINITY},
        {TS_KX_GELU, INFINITY, INFINITY}, {TS_KX_GELU_TANH, INFINITY, INFINITY},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        struct ts_kh h;
        ts_kh_init(&h);
        struct ts_cpu_code *code = NULL;
        ts_rt_kernel_fn fn = compile(&h, s[i].op, 19, &code);
        CHECK(fn != NULL);
        if (fn) {
            /* 19 copies: two vectors of 8 and a scalar tail all answer */
            float x[19], y[19];
            for (int e = 0; e < 19; e++) x[e] = s[i].x;
            void *args[2] = {x, y};
            CHECK(fn((void *const *)args, 0, ts_kernel_ntasks(&h.k), NULL) == 0);
            bool same = true;
            for (int e = 0; e < 19; e++)
                same = same && y[e] == s[i].want && signbit(y[e]) == signbit(s[i].want);
            if (!same)
                fprintf(stderr, "  %s(%g) = %g, want %g\n", ts_kx_op_name(s[i].op), (double)s[i].x, (double)y[0],
                        (double)s[i].want);
            CHECK(same);
        }
        ts_cpu_code_free(code);
        ts_kh_free(&h);
    }
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
    test_specials();
    return ts_test_finish("test_vmath");
}
