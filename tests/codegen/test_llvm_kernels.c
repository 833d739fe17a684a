/* test_llvm_kernels.c — the LLVM CPU backend's POINTWISE and ROWWISE kernels
 * against the kernel-IR interpreter: every expression op in every dtype it
 * takes, casts with rounding, wrapping and saturation, broadcast and
 * transposed index maps, awkward sizes and vector tails, LOAD_AT and integer
 * division errors, and every row op over rows of 1 … 4097 elements. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_harness.h"
#include "test.h"

static void tol_of(enum ts_dtype t, double *atol, double *rtol) {
    *atol = 1e-5, *rtol = 1.3e-6;
    if (t == TS_F16) *atol = 1e-4, *rtol = 1e-3;
    if (t == TS_BF16) *atol = 1e-3, *rtol = 1.6e-2;
    if (!ts_dtype_is_float(t)) *atol = 0, *rtol = 0;
}

/* A pointwise kernel over dims whose output (dtype ot) is row-major. */
static void pointwise(struct ts_kh *h, int rank, const int64_t *dims, enum ts_dtype ot) {
    h->k.kind = TS_KERNEL_POINTWISE;
    h->k.rank = rank;
    memcpy(h->k.dims, dims, sizeof(int64_t) * (size_t)rank);
    int o = ts_kh_output(h, ot, rank, dims);
    h->k.output = ts_kh_operand(h, o, NULL);
}

static void run_check(struct ts_kh *h, enum ts_dtype t, const char *label) {
    double atol, rtol;
    tol_of(t, &atol, &rtol);
    struct ts_kh_result r;
    ts_kh_run(h, atol, rtol, label, &r);
    if (!ts_kh_ok(&r))
        fprintf(stderr, "%s: ref %s%s%s, compile %s, codes %d/%d, %lld bad\n", label, ts_status_name(r.ref),
                r.ref != TS_OK ? ": " : "", r.ref != TS_OK ? r.ref_msg : "", ts_status_name(r.compile),
                r.code1, r.code3, (long long)r.bad);
    CHECK(ts_kh_ok(&r));
}

/* ---- every op ---------------------------------------------------------------- */

static const enum ts_kx_op float_unary[] = {TS_KX_NEG,  TS_KX_EXP,     TS_KX_LOG,  TS_KX_SQRT, TS_KX_RSQRT,
                                            TS_KX_TANH, TS_KX_ERF,     TS_KX_SIGMOID, TS_KX_RELU, TS_KX_SILU,
                                            TS_KX_ABS,  TS_KX_GELU,    TS_KX_GELU_TANH, TS_KX_COS, TS_KX_SIN};
static const enum ts_kx_op float_binary[] = {TS_KX_ADD, TS_KX_SUB, TS_KX_MUL, TS_KX_DIV,
                                             TS_KX_POW, TS_KX_MAX, TS_KX_MIN};
static const enum ts_kx_op int_unary[] = {TS_KX_NEG, TS_KX_ABS, TS_KX_RELU};
static const enum ts_kx_op int_binary[] = {TS_KX_ADD, TS_KX_SUB, TS_KX_MUL, TS_KX_DIV, TS_KX_MAX, TS_KX_MIN};

/* y = op(x[, z]) in dtype t (as scalar type s: F32, or F64 after a cast up). */
static void op_case(enum ts_dtype t, enum ts_kx_op op, int nargs, bool via_f64, int rank, const int64_t *dims) {
    struct ts_kh h;
    ts_kh_init(&h);
    int x = ts_kh_input(&h, t, rank, dims), z = nargs > 1 ? ts_kh_input(&h, t, rank, dims) : -1;
    pointwise(&h, rank, dims, t);
    enum ts_scalar s = ts_scalar_of_dtype(t);
    if (!ts_dtype_is_float(t) && (op == TS_KX_MAX || op == TS_KX_MIN || op == TS_KX_SUB)) {
        /* some equal pairs */
        for (int64_t e = 0; e < h.in[0].numel; e += 3) ts_tensor_set_i64(&h.in[1], e, ts_tensor_get_i64(&h.in[0], e));
    }
    h.k.ninputs = nargs;
    h.ops[0] = ts_kh_operand(&h, x, NULL);
    if (z >= 0) h.ops[1] = ts_kh_operand(&h, z, NULL);
    int a = ts_kh_kx(&h, TS_KX_LOAD, s, t, 0, 0, 0), b = -1;
    if (nargs > 1) b = ts_kh_kx(&h, TS_KX_LOAD, s, t, 1, 0, 0);
    enum ts_scalar cs = s;
    if (via_f64) {
        cs = TS_SCALAR_F64;
        a = ts_kh_kx(&h, TS_KX_CAST, cs, t, a, 0, 0);
        if (b >= 0) b = ts_kh_kx(&h, TS_KX_CAST, cs, t, b, 0, 0);
    }
    int r = ts_kh_kx(&h, op, cs, t, a, b, 0);
    if (op == TS_KX_DIV && !ts_dtype_is_float(t)) h.expr[r].i = ts_kh_error(&h, "division by zero");
    if (via_f64) r = ts_kh_kx(&h, TS_KX_CAST, s, t, r, 0, 0);
    h.k.out_root = r;
    char label[128];
    snprintf(label, sizeof label, "%s.%s%s n=%lld", ts_kx_op_name(op), ts_dtype_name(t), via_f64 ? " via f64" : "",
             (long long)dims[rank - 1]);
    run_check(&h, t, label);
    ts_kh_free(&h);
}

static void test_ops(void) {
    const enum ts_dtype floats[] = {TS_F32, TS_F16, TS_BF16};
    int64_t dims[2] = {3, 21}; /* two vectors of 8 and a tail of 5 */
    for (int i = 0; i < 3; i++) {
        for (size_t j = 0; j < sizeof float_unary / sizeof float_unary[0]; j++)
            op_case(floats[i], float_unary[j], 1, false, 2, dims);
        for (size_t j = 0; j < sizeof float_binary / sizeof float_binary[0]; j++)
            op_case(floats[i], float_binary[j], 2, false, 2, dims);
    }
    for (size_t j = 0; j < sizeof float_unary / sizeof float_unary[0]; j++)
        op_case(TS_F32, float_unary[j], 1, true, 2, dims);
    for (size_t j = 0; j < sizeof float_binary / sizeof float_binary[0]; j++)
        op_case(TS_F32, float_binary[j], 2, true, 2, dims);
    const enum ts_dtype ints[] = {TS_I32, TS_I64};
    for (int i = 0; i < 2; i++) {
        for (size_t j = 0; j < sizeof int_unary / sizeof int_unary[0]; j++) op_case(ints[i], int_unary[j], 1, false, 2, dims);
        for (size_t j = 0; j < sizeof int_binary / sizeof int_binary[0]; j++)
            op_case(ints[i], int_binary[j], 2, false, 2, dims);
    }
}

/* NaN through relu (kept), max/min (propagated) and the other ops. */
static void test_nan(void) {
    int64_t dims[1] = {19};
    const enum ts_kx_op ops[] = {TS_KX_RELU, TS_KX_MAX, TS_KX_MIN, TS_KX_ADD, TS_KX_EXP, TS_KX_SIGMOID};
    for (size_t j = 0; j < sizeof ops / sizeof ops[0]; j++) {
        struct ts_kh h;
        ts_kh_init(&h);
        bool bin = ts_kx_op_nargs(ops[j]) == 2;
        ts_kh_input(&h, TS_F32, 1, dims);
        if (bin) ts_kh_input(&h, TS_F32, 1, dims);
        for (int64_t e = 0; e < dims[0]; e += 4) ts_tensor_set_f64(&h.in[e % 8 == 0 || !bin ? 0 : 1], e, NAN);
        ts_tensor_set_f64(&h.in[0], 1, INFINITY);
        ts_tensor_set_f64(&h.in[0], 2, -INFINITY);
        ts_tensor_set_f64(&h.in[0], 3, -0.0);
        pointwise(&h, 1, dims, TS_F32);
        h.k.ninputs = bin ? 2 : 1;
        h.ops[0] = ts_kh_operand(&h, 0, NULL);
        if (bin) h.ops[1] = ts_kh_operand(&h, 1, NULL);
        int a = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, TS_F32, 0, 0, 0);
        int b = bin ? ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, TS_F32, 1, 0, 0) : 0;
        h.k.out_root = ts_kh_kx(&h, ops[j], TS_SCALAR_F32, TS_F32, a, b, 0);
        char label[64];
        snprintf(label, sizeof label, "nan %s", ts_kx_op_name(ops[j]));
        run_check(&h, TS_F32, label);
        ts_kh_free(&h);
    }
}

/* ---- casts ----------------------------------------------------------------------- */

/* y (dtype to) = cast(x (dtype from)) with the kernel IR's CAST (type of 'to',
 * or F32 with dtype f16/bf16 for a rounding step that stays f32). */
static void cast_case(enum ts_dtype from, enum ts_dtype to, enum ts_dtype round_through, const double *vals, int nvals) {
    struct ts_kh h;
    ts_kh_init(&h);
    int64_t dims[1] = {nvals > 0 ? nvals : 23};
    ts_kh_input(&h, from, 1, dims);
    for (int i = 0; i < nvals; i++) ts_tensor_set_f64(&h.in[0], i, vals[i]);
    pointwise(&h, 1, dims, to);
    h.k.ninputs = 1;
    h.ops[0] = ts_kh_operand(&h, 0, NULL);
    int a = ts_kh_kx(&h, TS_KX_LOAD, ts_scalar_of_dtype(from), from, 0, 0, 0);
    if (round_through != TS_DTYPE_COUNT) a = ts_kh_kx(&h, TS_KX_CAST, TS_SCALAR_F32, round_through, a, 0, 0);
    h.k.out_root = ts_kh_kx(&h, TS_KX_CAST, ts_scalar_of_dtype(to), to, a, 0, 0);
    char label[96];
    snprintf(label, sizeof label, "cast %s -> %s%s%s", ts_dtype_name(from), ts_dtype_name(to),
             round_through != TS_DTYPE_COUNT ? " through " : "",
             round_through != TS_DTYPE_COUNT ? ts_dtype_name(round_through) : "");
    /* exact: the cast's rounding is the thing tested */
    struct ts_kh_result r;
    ts_kh_run(&h, 0, 0, label, &r);
    CHECK(ts_kh_ok(&r));
    ts_kh_free(&h);
}

static void test_casts(void) {
    /* saturation, truncation toward zero, NaN → 0, ±0, values near the i32 edge */
    const double fv[] = {2.7, -2.7, 0.5, -0.5, 3e9, -3e9, 1e19, -1e19, NAN, INFINITY, -INFINITY, 0.0, -0.0,
                         2147483520.0, -2147483648.0, 1.0, 65519.0, 65520.0, 1e-8, 1.00390625, 1.01171875,
                         3.4e38, 100.25};
    int nf = (int)(sizeof fv / sizeof fv[0]);
    const enum ts_dtype all[] = {TS_F32, TS_F16, TS_BF16, TS_I32, TS_I64, TS_BOOL};
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 6; j++) {
            bool ffrom = ts_dtype_is_float(all[i]);
            /* random data for every pair; the edge values for float sources */
            cast_case(all[i], all[j], TS_DTYPE_COUNT, NULL, 0);
            if (ffrom && all[i] == TS_F32) cast_case(all[i], all[j], TS_DTYPE_COUNT, fv, nf);
        }
    }
    /* f32 rounded to f16 / bf16 inside the expression, stored as f32 */
    cast_case(TS_F32, TS_F32, TS_F16, fv, nf);
    cast_case(TS_F32, TS_F32, TS_BF16, fv, nf);
    /* i64 → i32 wraps */
    const double iv[] = {4294967297.0, -4294967297.0, 2147483648.0, -2147483649.0, 1e15, 7, -7};
    cast_case(TS_I64, TS_I32, TS_DTYPE_COUNT, iv, 7);
    cast_case(TS_I64, TS_F16, TS_DTYPE_COUNT, iv, 7);
    /* bf16 stores: ties to even, overflow to inf, NaN quiet */
    const double bv[] = {1.00390625, 1.01171875, -1.00390625, 3.3961e38, NAN, -NAN, 1e-40, -1e-40};
    cast_case(TS_F32, TS_BF16, TS_DTYPE_COUNT, bv, 8);
}

/* ---- index maps, sizes, tails ---------------------------------------------------- */

/* y[i, j, k] = silu(a[i, 0, k]) + b[k, j] (a broadcast, b transposed), with
 * the output row-major or itself transposed. */
static void map_case(int64_t n0, int64_t n1, int64_t n2, bool out_transposed, int vw, enum ts_dtype t) {
    struct ts_kh h;
    ts_kh_init(&h);
    int64_t dims[3] = {n0, n1, n2};
    int a = ts_kh_input(&h, t, 3, (int64_t[]){n0, 1, n2});
    int b = ts_kh_input(&h, t, 2, (int64_t[]){n2, n1});
    h.k.kind = TS_KERNEL_POINTWISE;
    h.k.rank = 3;
    memcpy(h.k.dims, dims, sizeof dims);
    int o;
    if (out_transposed) {
        /* y stored as [n2, n1, n0]: strides {1, n0, n0·n1} */
        o = ts_kh_output(&h, t, 3, (int64_t[]){n2, n1, n0});
        h.k.output = ts_kh_operand(&h, o, (int64_t[]){1, n0, n0 * n1});
    } else {
        o = ts_kh_output(&h, t, 3, dims);
        h.k.output = ts_kh_operand(&h, o, NULL);
    }
    h.k.ninputs = 2;
    h.ops[a] = ts_kh_operand(&h, a, (int64_t[]){n2, 0, 1});
    h.ops[b] = ts_kh_operand(&h, b, (int64_t[]){0, 1, n1});
    int la = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, t, 0, 0, 0);
    int s = ts_kh_kx(&h, TS_KX_SILU, TS_SCALAR_F32, t, la, 0, 0);
    int lb = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, t, 1, 0, 0);
    h.k.out_root = ts_kh_kx(&h, TS_KX_ADD, TS_SCALAR_F32, t, s, lb, 0);
    h.k.sched.pointwise.vector_width = vw;
    h.k.sched.pointwise.rows_per_task = 2;
    char label[128];
    snprintf(label, sizeof label, "map [%lld,%lld,%lld]%s vw%d %s", (long long)n0, (long long)n1, (long long)n2,
             out_transposed ? " out^T" : "", vw, ts_dtype_name(t));
    run_check(&h, t, label);
    ts_kh_free(&h);
}

/* A rank-r copy with an index-dependent value: y = x·2 + index(last) (f32),
 * covering rank 0 and awkward sizes. */
static void size_case(int rank, const int64_t *dims, int vw, int64_t rpt) {
    struct ts_kh h;
    ts_kh_init(&h);
    ts_kh_input(&h, TS_F32, rank, dims);
    pointwise(&h, rank, dims, TS_F32);
    h.k.ninputs = 1;
    h.ops[0] = ts_kh_operand(&h, 0, NULL);
    int l = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, TS_F32, 0, 0, 0);
    int c = ts_kh_kx(&h, TS_KX_CONST, TS_SCALAR_F32, TS_F32, 0, 0, 0);
    h.expr[c].f = 2.0;
    int m = ts_kh_kx(&h, TS_KX_MUL, TS_SCALAR_F32, TS_F32, l, c, 0);
    if (rank > 0) {
        int ix = ts_kh_kx(&h, TS_KX_INDEX, TS_SCALAR_I64, TS_I64, rank - 1, 0, 0);
        int f = ts_kh_kx(&h, TS_KX_CAST, TS_SCALAR_F32, TS_F32, ix, 0, 0);
        m = ts_kh_kx(&h, TS_KX_ADD, TS_SCALAR_F32, TS_F32, m, f, 0);
    }
    h.k.out_root = m;
    h.k.sched.pointwise.vector_width = vw;
    h.k.sched.pointwise.rows_per_task = rpt;
    char label[128], ds[128];
    snprintf(label, sizeof label, "size %s vw%d rpt%lld", ts_dims_str(rank, dims, ds, sizeof ds), vw, (long long)rpt);
    run_check(&h, TS_F32, label);
    ts_kh_free(&h);
}

static void test_maps_and_sizes(void) {
    const int64_t sizes[] = {1, 7, 17, 127, 129};
    for (int i = 0; i < 5; i++) {
        size_case(1, &sizes[i], 8, 1);
        size_case(2, (int64_t[]){sizes[i], 3}, 8, 2);
        size_case(2, (int64_t[]){5, sizes[i]}, 4, 3);
        size_case(2, (int64_t[]){2, sizes[i]}, 16, 1);
        map_case(2, 3, sizes[i], false, 8, TS_F32);
        map_case(3, sizes[i] > 17 ? 5 : sizes[i], 9, true, 8, TS_F32);
    }
    size_case(0, (int64_t[]){1}, 8, 1);
    size_case(3, (int64_t[]){2, 3, 4}, 1, 5);
    size_case(4, (int64_t[]){2, 3, 1, 33}, 8, 4);
    map_case(2, 3, 17, false, 8, TS_F16);
    map_case(2, 3, 17, false, 8, TS_BF16);
    map_case(2, 3, 17, true, 8, TS_BF16);
    map_case(1, 1, 1, false, 8, TS_F32);
}

/* ---- bools and select ------------------------------------------------------------- */

/* y = select(c, a, b) for values of dtype t, and y = (a > 0) as bool. */
static void test_select(void) {
    const enum ts_dtype ts[] = {TS_F32, TS_F16, TS_BF16, TS_I32, TS_I64, TS_BOOL};
    int64_t dims[2] = {4, 19};
    for (int i = 0; i < 6; i++) {
        struct ts_kh h;
        ts_kh_init(&h);
        enum ts_dtype t = ts[i];
        enum ts_scalar s = ts_scalar_of_dtype(t);
        ts_kh_input(&h, TS_BOOL, 2, dims);
        ts_kh_input(&h, t, 2, dims);
        ts_kh_input(&h, t, 1, &dims[1]); /* broadcast along rows */
        pointwise(&h, 2, dims, t);
        h.k.ninputs = 3;
        for (int j = 0; j < 3; j++) h.ops[j] = ts_kh_operand(&h, j, NULL);
        int c = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_BOOL, TS_BOOL, 0, 0, 0);
        int a = ts_kh_kx(&h, TS_KX_LOAD, s, t, 1, 0, 0);
        int b = ts_kh_kx(&h, TS_KX_LOAD, s, t, 2, 0, 0);
        h.k.out_root = ts_kh_kx(&h, TS_KX_SELECT, s, t, c, a, b);
        char label[64];
        snprintf(label, sizeof label, "select %s", ts_dtype_name(t));
        run_check(&h, t, label);
        ts_kh_free(&h);
    }
    /* bool result of a comparison-like chain: (max(x, 0) != 0) stored as bool */
    struct ts_kh h;
    ts_kh_init(&h);
    ts_kh_input(&h, TS_F32, 2, dims);
    pointwise(&h, 2, dims, TS_BOOL);
    h.k.ninputs = 1;
    h.ops[0] = ts_kh_operand(&h, 0, NULL);
    int x = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, TS_F32, 0, 0, 0);
    int r = ts_kh_kx(&h, TS_KX_RELU, TS_SCALAR_F32, TS_F32, x, 0, 0);
    h.k.out_root = ts_kh_kx(&h, TS_KX_CAST, TS_SCALAR_BOOL, TS_BOOL, r, 0, 0);
    run_check(&h, TS_BOOL, "relu != 0");
    ts_kh_free(&h);
}

/* ---- errors: gathers and integer division --------------------------------------------- */

/* y[n, d] = table[idx[n], d] (or, transposed, y[d, n] = table[idx[n], d]):
 * idx counts from the end when negative; 'bad' plants an out-of-range one. */
static void gather_case(int64_t V, int64_t D, int64_t N, bool transposed, int64_t bad, enum ts_dtype t) {
    struct ts_kh h;
    ts_kh_init(&h);
    int tab = ts_kh_input(&h, t, 2, (int64_t[]){V, D});
    int idx = ts_kh_input(&h, TS_I64, 1, (int64_t[]){N});
    for (int64_t e = 0; e < N; e++) ts_tensor_set_i64(&h.in[idx], e, (int64_t)floor(ts_kh_rand(&h, -(double)V, (double)V)));
    if (bad) ts_tensor_set_i64(&h.in[idx], N - 1, bad);
    h.k.kind = TS_KERNEL_POINTWISE;
    h.k.rank = 2;
    h.k.ninputs = 2;
    int o;
    if (transposed) {
        memcpy(h.k.dims, (int64_t[]){D, N}, 16);
        o = ts_kh_output(&h, t, 2, (int64_t[]){D, N});
        h.ops[0] = ts_kh_operand(&h, tab, (int64_t[]){1, 0});
        h.ops[1] = ts_kh_operand(&h, idx, (int64_t[]){0, 1});
    } else {
        memcpy(h.k.dims, (int64_t[]){N, D}, 16);
        o = ts_kh_output(&h, t, 2, (int64_t[]){N, D});
        h.ops[0] = ts_kh_operand(&h, tab, (int64_t[]){0, 1});
        h.ops[1] = ts_kh_operand(&h, idx, (int64_t[]){1, 0});
    }
    h.ops[0].gather_stride = D;
    h.ops[0].gather_size = V;
    h.k.output = ts_kh_operand(&h, o, NULL);
    int err = ts_kh_error(&h, "index out of range");
    int li = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_I64, TS_I64, 1, 0, 0);
    int g = ts_kh_kx(&h, TS_KX_LOAD_AT, ts_scalar_of_dtype(t), t, 0, li, 0);
    h.expr[g].i = err;
    h.k.out_root = g;
    char label[96];
    snprintf(label, sizeof label, "gather V%lld D%lld N%lld%s bad %lld %s", (long long)V, (long long)D, (long long)N,
             transposed ? " ^T" : "", (long long)bad, ts_dtype_name(t));
    struct ts_kh_result r;
    ts_kh_run(&h, 0, 0, label, &r);
    if (bad) {
        CHECK(r.ref == TS_ERR_RUNTIME);
        CHECK_CONTAINS(r.ref_msg, "index out of range");
        CHECK(r.compile == TS_OK && r.code1 == err && r.code3 == err);
    } else {
        CHECK(ts_kh_ok(&r));
    }
    ts_kh_free(&h);
}

/* x / y for integers: a zero divisor anywhere fails with the error number;
 * INT64_MIN / -1 wraps (and does not trap). */
static void div_case(enum ts_dtype t, int64_t n, int64_t zero_at, bool min_case) {
    struct ts_kh h;
    ts_kh_init(&h);
    int64_t dims[1] = {n};
    ts_kh_input(&h, t, 1, dims);
    ts_kh_input(&h, t, 1, dims);
    if (zero_at >= 0) ts_tensor_set_i64(&h.in[1], zero_at, 0);
    if (min_case) {
        ts_tensor_set_i64(&h.in[0], 0, INT64_MIN);
        ts_tensor_set_i64(&h.in[1], 0, -1);
        ts_tensor_set_i64(&h.in[0], n - 1, INT64_MIN);
        ts_tensor_set_i64(&h.in[1], n - 1, -1);
    }
    pointwise(&h, 1, dims, t);
    h.k.ninputs = 2;
    h.ops[0] = ts_kh_operand(&h, 0, NULL);
    h.ops[1] = ts_kh_operand(&h, 1, NULL);
    ts_kh_error(&h, "unused");
    int err = ts_kh_error(&h, "division by zero");
    int a = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_I64, t, 0, 0, 0);
    int b = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_I64, t, 1, 0, 0);
    int q = ts_kh_kx(&h, TS_KX_DIV, TS_SCALAR_I64, t, a, b, 0);
    h.expr[q].i = err;
    h.k.out_root = q;
    char label[64];
    snprintf(label, sizeof label, "div %s n%lld zero at %lld", ts_dtype_name(t), (long long)n, (long long)zero_at);
    struct ts_kh_result r;
    ts_kh_run(&h, 0, 0, label, &r);
    if (zero_at >= 0) {
        CHECK(r.ref == TS_ERR_RUNTIME);
        CHECK(r.compile == TS_OK && r.code1 == err && r.code3 == err);
    } else {
        CHECK(ts_kh_ok(&r));
    }
    ts_kh_free(&h);
}

static void test_errors(void) {
    gather_case(5, 3, 7, false, 0, TS_F32);
    gather_case(5, 17, 4, false, 0, TS_F16);
    gather_case(9, 4, 17, true, 0, TS_F32);
    gather_case(5, 3, 7, false, 5, TS_F32);
    gather_case(5, 17, 4, false, -6, TS_F32);
    gather_case(9, 4, 17, true, 9, TS_I32);
    gather_case(9, 4, 17, true, -10, TS_BF16);
    div_case(TS_I64, 21, 20, false);
    div_case(TS_I32, 21, 3, false);
    div_case(TS_I32, 5, 4, false);
    div_case(TS_I64, 19, -1, true);
}

/* ---- ROWWISE ------------------------------------------------------------------------ */

/* out = row_op over the inner dims of x (= a, or a + b for the residual case),
 * then (elementwise ops) ROW·gamma + beta with gamma and beta over the last
 * dim, or (per-row ops) ROW·2. */
struct rcase {
    enum ts_row_op op;
    int rank, nouter;
    int64_t dims[4];
    enum ts_dtype t;
    bool residual, affine, plain;
    int vw;
    bool nans;
};

static void row_case(const struct rcase *c) {
    struct ts_kh h;
    ts_kh_init(&h);
    int rank = c->rank, no = c->nouter;
    bool per_el = ts_row_op_is_elementwise(c->op);
    int64_t inner = 1, rows = 1;
    for (int i = no; i < rank; i++) inner *= c->dims[i];
    for (int i = 0; i < no; i++) rows *= c->dims[i];
    int a = ts_kh_input(&h, c->t, rank, c->dims);
    int b = c->residual ? ts_kh_input(&h, c->t, rank, c->dims) : -1;
    int gm = -1, bt = -1;
    if (per_el && c->affine) {
        gm = ts_kh_input(&h, TS_F32, 1, &c->dims[rank - 1]);
        bt = ts_kh_input(&h, TS_F32, 1, &c->dims[rank - 1]);
    }
    if (c->nans && inner > 0) {
        ts_tensor_set_f64(&h.in[a], inner / 2, NAN); /* row 0 */
        if (rows > 2) ts_tensor_set_f64(&h.in[a], 2 * inner + inner - 1, NAN);
    }
    h.k.kind = TS_KERNEL_ROWWISE;
    h.k.rank = rank;
    h.k.nouter = no;
    h.k.row_op = c->op;
    h.k.eps = 1e-5;
    memcpy(h.k.dims, c->dims, sizeof(int64_t) * (size_t)rank);
    int o;
    if (per_el) {
        o = ts_kh_output(&h, c->t, rank, c->dims);
        h.k.output = ts_kh_operand(&h, o, NULL);
    } else {
        o = ts_kh_output(&h, c->t, no, c->dims);
        int64_t st[TS_MAX_RANK] = {0}, own[TS_MAX_RANK];
        ts_shape_strides(no, c->dims, own);
        for (int i = 0; i < no; i++) st[i] = own[i];
        h.k.output = ts_kh_operand(&h, o, st);
    }
    h.k.ninputs = h.nin;
    for (int i = 0; i < h.nin; i++) h.ops[i] = ts_kh_operand(&h, i, NULL);
    int x = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, c->t, a, 0, 0);
    if (b >= 0) x = ts_kh_kx(&h, TS_KX_ADD, TS_SCALAR_F32, c->t, x, ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, c->t, b, 0, 0), 0);
    h.k.x_root = x;
    if (c->plain) {
        h.k.out_root = -1;
    } else {
        int row = ts_kh_kx(&h, TS_KX_ROW, TS_SCALAR_F32, c->t, 0, 0, 0);
        if (per_el && c->affine) {
            int g = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, TS_F32, gm, 0, 0);
            int be = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, TS_F32, bt, 0, 0);
            h.k.out_root = ts_kh_kx(&h, TS_KX_ADD, TS_SCALAR_F32, c->t, ts_kh_kx(&h, TS_KX_MUL, TS_SCALAR_F32, c->t, row, g, 0), be, 0);
        } else {
            int two = ts_kh_kx(&h, TS_KX_CONST, TS_SCALAR_F32, c->t, 0, 0, 0);
            h.expr[two].f = 2.0;
            h.k.out_root = ts_kh_kx(&h, TS_KX_MUL, TS_SCALAR_F32, c->t, row, two, 0);
        }
    }
    if (c->vw) {
        h.k.sched.rowwise.vector_width = c->vw;
        h.k.sched.rowwise.rows_per_task = 1;
    }
    double atol, rtol;
    tol_of(c->t, &atol, &rtol);
    /* f32 accumulation: error grows with the row */
    if (c->t == TS_F32) rtol *= 1.0 + (double)inner / 256.0, atol *= 1.0 + (double)inner / 1024.0;
    char label[160], ds[128];
    snprintf(label, sizeof label, "%s %s nouter %d %s%s%s%s vw%d", ts_row_op_name(c->op),
             ts_dims_str(rank, c->dims, ds, sizeof ds), no, ts_dtype_name(c->t), c->residual ? " +res" : "",
             c->affine ? " affine" : "", c->plain ? " plain" : "", c->vw);
    struct ts_kh_result r;
    ts_kh_run(&h, atol, rtol, label, &r);
    if (!ts_kh_ok(&r))
        fprintf(stderr, "%s: ref %s %s, compile %s, codes %d/%d, %lld bad, worst %g\n", label, ts_status_name(r.ref),
                r.ref_msg, ts_status_name(r.compile), r.code1, r.code3, (long long)r.bad, r.worst);
    CHECK(ts_kh_ok(&r));
    ts_kh_free(&h);
}

static void test_rowwise(void) {
    const enum ts_row_op ops[] = {TS_ROW_SOFTMAX, TS_ROW_LAYERNORM, TS_ROW_RMSNORM,
                                  TS_ROW_SUM,     TS_ROW_MEAN,      TS_ROW_MAX};
    const int64_t lens[] = {1, 7, 17, 129, 4097};
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 5; j++) {
            struct rcase c = {.op = ops[i], .rank = 2, .nouter = 1, .dims = {lens[j] > 1000 ? 2 : 3, lens[j]},
                              .t = TS_F32, .affine = j % 2 == 0, .residual = j == 2};
            row_case(&c);
        }
        /* several inner dims, several outer dims, other dtypes and widths */
        row_case(&(struct rcase){.op = ops[i], .rank = 3, .nouter = 1, .dims = {3, 4, 9}, .t = TS_F32});
        row_case(&(struct rcase){.op = ops[i], .rank = 4, .nouter = 2, .dims = {2, 3, 5, 3}, .t = TS_F32, .affine = true});
        row_case(&(struct rcase){.op = ops[i], .rank = 2, .nouter = 1, .dims = {3, 33}, .t = TS_F16, .affine = true});
        row_case(&(struct rcase){.op = ops[i], .rank = 2, .nouter = 1, .dims = {4, 70}, .t = TS_BF16, .residual = true});
        row_case(&(struct rcase){.op = ops[i], .rank = 2, .nouter = 1, .dims = {3, 70}, .t = TS_F32, .vw = 4});
        row_case(&(struct rcase){.op = ops[i], .rank = 2, .nouter = 1, .dims = {3, 19}, .t = TS_F32, .vw = 1});
        row_case(&(struct rcase){.op = ops[i], .rank = 2, .nouter = 1, .dims = {3, 21}, .t = TS_F32, .plain = true});
        row_case(&(struct rcase){.op = ops[i], .rank = 1, .nouter = 0, .dims = {50}, .t = TS_F32});
        row_case(&(struct rcase){.op = ops[i], .rank = 2, .nouter = 2, .dims = {3, 5}, .t = TS_F32});
        row_case(&(struct rcase){.op = ops[i], .rank = 2, .nouter = 1, .dims = {5, 40}, .t = TS_F32, .nans = true});
    }
    /* A sum over nothing is 0. */
    row_case(&(struct rcase){.op = TS_ROW_SUM, .rank = 2, .nouter = 1, .dims = {3, 0}, .t = TS_F32});
}

int main(void) {
    test_ops();
    test_nan();
    test_casts();
    test_maps_and_sizes();
    test_select();
    test_errors();
    test_rowwise();
    return ts_test_finish("test_llvm_kernels");
}
