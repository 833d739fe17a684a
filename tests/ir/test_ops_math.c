/* test_ops_math.c — the math ops' shape rules and reference kernels: builds
 * one-node graphs in memory, runs the op's shape rule and reference kernel, and
 * checks hand-computed values, output shapes, and the exact error message for
 * bad dtypes, shapes and attributes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "ir/ir.h"
#include "test.h"

/* One input of a case: name NULL means omitted. data points to int64_t values
 * for i32/i64 (exact beyond 2^53), to doubles for floats and bool; it is read
 * only when the shape rule passes. */
struct in_spec {
    const char *name;
    enum ts_dtype dtype;
    int rank;
    int64_t dims[TS_MAX_RANK];
    const void *data;
};

struct tcase {
    struct ts_graph *g;
    struct ts_diag d;
    int nin;
    struct in_spec in[4];
    struct ts_tensor out; /* the output after a successful run */
    enum ts_status st;
};

static void tc_free(struct tcase *t) {
    ts_tensor_release(&t->out);
    ts_graph_free(t->g);
    t->g = NULL;
}

/* Starts a case, ending the previous one held in t (if any). */
static void tc_init(struct tcase *t, enum ts_op op, int nin, const struct in_spec *ins) {
    if (t->g) tc_free(t);
    memset(t, 0, sizeof *t);
    t->g = ts_graph_init("");
    t->nin = nin;
    int ids[4], out;
    for (int k = 0; k < nin; k++) {
        t->in[k] = ins[k];
        ids[k] = -1;
        if (!ins[k].name) continue;
        CHECK(ts_graph_add_value(t->g, ins[k].name, TS_VALUE_INPUT, &ids[k], &t->d) == TS_OK);
        ts_value_set_shape(&t->g->values[ids[k]], ins[k].dtype, ins[k].rank, ins[k].dims);
    }
    CHECK(ts_graph_add_value(t->g, "y", TS_VALUE_NODE, &out, &t->d) == TS_OK);
    ts_graph_add_node(t->g, op, NULL, nin, ids, 1, &out);
}

static struct ts_node *tc_node(struct tcase *t) { return &t->g->nodes[0]; }

static struct ts_attr *tc_attr(struct tcase *t, const char *name) {
    struct ts_node *n = tc_node(t);
    int k = ts_op_attr_index(n->op, name);
    TS_ASSERT(k >= 0);
    n->attrs[k].present = true;
    return &n->attrs[k];
}

static void set_i(struct tcase *t, const char *name, int64_t v) { tc_attr(t, name)->i = v; }
static void set_f(struct tcase *t, const char *name, double v) { tc_attr(t, name)->f = v; }
static void set_s(struct tcase *t, const char *name, const char *v) { tc_attr(t, name)->s = v; }
static void set_dtype(struct tcase *t, const char *name, enum ts_dtype v) { tc_attr(t, name)->dtype = v; }
static void set_ints(struct tcase *t, const char *name, int count, const int64_t *v) {
    struct ts_attr *a = tc_attr(t, name);
    a->ints = ts_arena_alloc(t->g->arena, sizeof(int64_t) * (size_t)(count ? count : 1));
    if (count) memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
    a->n = count;
}

/* Runs the shape rule, then (if it passed) the reference kernel on the inputs. */
static enum ts_status tc_run(struct tcase *t) {
    struct ts_node *n = tc_node(t);
    const struct ts_op_info *info = ts_op_get(n->op);
    ts_tensor_release(&t->out);
    t->st = info->shape(t->g, n, &t->d);
    if (t->st != TS_OK) return t->st;
    struct ts_tensor ins[4];
    const struct ts_tensor *inp[4];
    memset(ins, 0, sizeof ins);
    for (int k = 0; k < t->nin; k++) {
        inp[k] = NULL;
        const struct in_spec *s = &t->in[k];
        if (!s->name) continue;
        CHECK(ts_tensor_alloc(&ins[k], s->dtype, s->rank, s->dims, s->name, &t->d) == TS_OK);
        for (int64_t e = 0; e < ins[k].numel; e++) {
            if (ts_dtype_is_int(s->dtype))
                ts_tensor_set_i64(&ins[k], e, ((const int64_t *)s->data)[e]);
            else
                ts_tensor_set_f64(&ins[k], e, ((const double *)s->data)[e]);
        }
        inp[k] = &ins[k];
    }
    const struct ts_value *ov = ts_node_out(t->g, n, 0);
    int64_t dims[TS_MAX_RANK];
    int rank = ts_value_dims(ov, dims);
    CHECK(ts_tensor_alloc(&t->out, ov->dtype, rank, dims, "y", &t->d) == TS_OK);
    struct ts_tensor *outp[1] = {&t->out};
    t->st = info->ref(t->g, n, inp, outp, &t->d);
    for (int k = 0; k < t->nin; k++) ts_tensor_release(&ins[k]);
    return t->st;
}

/* A case with the op's default attributes: build and run. */
static void tc_case(struct tcase *t, enum ts_op op, int nin, const struct in_spec *ins) {
    tc_init(t, op, nin, ins);
    tc_run(t);
}

static void count(bool ok) {
    if (ok)
        ts_test_passed++;
    else
        ts_test_failed++;
}

/* The checks take the caller's line so that a failure points at the case. */
static void expect_ok(int line, struct tcase *t, enum ts_dtype dtype, int rank, const int64_t *dims) {
    bool ok = t->st == TS_OK && t->out.dtype == dtype && t->out.rank == rank;
    for (int k = 0; ok && k < rank; k++) ok = t->out.dims[k] == dims[k];
    count(ok);
    if (!ok) {
        char want[128], got[128];
        fprintf(stderr, "%s:%d: status %s (%s), output %s %s, want %s %s\n", __FILE__, line,
                ts_status_name(t->st), t->d.what, ts_dtype_name(t->out.dtype),
                ts_dims_str(t->out.rank, t->out.dims, got, sizeof got), ts_dtype_name(dtype),
                ts_dims_str(rank, dims, want, sizeof want));
    }
}

static void expect_f(int line, struct tcase *t, int count_, const double *want, double tol) {
    if (t->st != TS_OK || t->out.numel != count_) {
        count(false);
        fprintf(stderr, "%s:%d: no output to compare (status %s, numel %lld, want %d)\n", __FILE__, line,
                ts_status_name(t->st), (long long)t->out.numel, count_);
        return;
    }
    for (int e = 0; e < count_; e++) {
        double got = ts_tensor_get_f64(&t->out, e), w = want[e];
        bool ok = (isnan(w) && isnan(got)) || got == w || fabs(got - w) <= tol * (1 + fabs(w));
        count(ok);
        if (!ok) fprintf(stderr, "%s:%d: element %d = %.17g, want %.17g\n", __FILE__, line, e, got, w);
    }
}

static void expect_i(int line, struct tcase *t, int count_, const int64_t *want) {
    if (t->st != TS_OK || t->out.numel != count_) {
        count(false);
        fprintf(stderr, "%s:%d: no output to compare (status %s, numel %lld, want %d)\n", __FILE__, line,
                ts_status_name(t->st), (long long)t->out.numel, count_);
        return;
    }
    for (int e = 0; e < count_; e++) {
        int64_t got = ts_tensor_get_i64(&t->out, e);
        count(got == want[e]);
        if (got != want[e])
            fprintf(stderr, "%s:%d: element %d = %lld, want %lld\n", __FILE__, line, e, (long long)got,
                    (long long)want[e]);
    }
}

static void expect_err(int line, struct tcase *t, enum ts_status st, const char *what) {
    bool ok = t->st == st && t->d.status == st && strcmp(t->d.what, what) == 0;
    count(ok);
    if (!ok)
        fprintf(stderr, "%s:%d: got %s \"%s\"\n%*swant %s \"%s\"\n", __FILE__, line, ts_status_name(t->st),
                t->d.what, (int)strlen(__FILE__) + 3, "", ts_status_name(st), what);
}

#define INS(...) ((struct in_spec[]){__VA_ARGS__})
#define IN1(...) ((struct in_spec){__VA_ARGS__})
#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define F(...) ((const double[]){__VA_ARGS__})
#define I(...) ((const int64_t[]){__VA_ARGS__})
#define EXPECT_OK(t, dt, rank, ...) expect_ok(__LINE__, t, dt, rank, DIMS(__VA_ARGS__))
#define EXPECT_F(t, tol, ...) \
    expect_f(__LINE__, t, (int)(sizeof F(__VA_ARGS__) / sizeof(double)), F(__VA_ARGS__), tol)
#define EXPECT_I(t, ...) \
    expect_i(__LINE__, t, (int)(sizeof I(__VA_ARGS__) / sizeof(int64_t)), I(__VA_ARGS__))
#define EXPECT_ERR(t, st, what) expect_err(__LINE__, t, st, what)

/* Tolerances: f32 results are correctly rounded double results; f16/bf16 cases
 * compare exactly representable values. */
#define TOL32 1e-6
#define EXACT 0.0

static void test_binary(void) {
    struct tcase t = {0};
    /* [2, 3] + [3]: b stretches over rows */
    tc_case(&t, TS_OP_ADD, 2, INS(
        {"a", TS_F32, 2, {2, 3}, F(1, 2, 3, 4, 5, 6)}, {"b", TS_F32, 1, {3}, F(10, 20, 30)}));
    EXPECT_OK(&t, TS_F32, 2, 2, 3);
    EXPECT_F(&t, EXACT, 11, 22, 33, 14, 25, 36);

    /* [2, 1] - [1, 3] broadcasts both ways */
    tc_case(&t, TS_OP_SUB, 2, INS(
        {"a", TS_F32, 2, {2, 1}, F(1, 2)}, {"b", TS_F32, 2, {1, 3}, F(10, 20, 30)}));
    EXPECT_OK(&t, TS_F32, 2, 2, 3);
    EXPECT_F(&t, EXACT, -9, -19, -29, -8, -18, -28);

    /* a scalar against a vector */
    tc_case(&t, TS_OP_MUL, 2, INS(
        {"a", TS_F32, 0, {0}, F(1.5)}, {"b", TS_F32, 1, {3}, F(2, -4, 0.5)}));
    EXPECT_OK(&t, TS_F32, 1, 3);
    EXPECT_F(&t, EXACT, 3, -6, 0.75);

    /* f16 division rounds once, to nearest: 1/3 → 0x3555 = 0.333251953125 */
    tc_case(&t, TS_OP_DIV, 2, INS(
        {"a", TS_F16, 1, {4}, F(1, -7, 0, 1)}, {"b", TS_F16, 1, {4}, F(3, 2, 0, 0)}));
    EXPECT_OK(&t, TS_F16, 1, 4);
    EXPECT_F(&t, EXACT, 0.333251953125, -3.5, NAN, INFINITY);

    /* integer division truncates toward zero; INT32_MIN / -1 wraps */
    tc_case(&t, TS_OP_DIV, 2, INS(
        {"a", TS_I32, 1, {5}, I(7, -7, 7, -7, INT32_MIN)},
        {"b", TS_I32, 1, {5}, I(2, 2, -2, -2, -1)}));
    EXPECT_OK(&t, TS_I32, 1, 5);
    EXPECT_I(&t, 3, -3, -3, 3, INT32_MIN);

    /* i64 stays exact beyond 2^53; INT64_MIN / -1 wraps */
    tc_case(&t, TS_OP_DIV, 2, INS(
        {"a", TS_I64, 1, {2}, I(INT64_MIN, 9007199254740993)}, {"b", TS_I64, 1, {2}, I(-1, 1)}));
    EXPECT_I(&t, INT64_MIN, 9007199254740993);

    /* integer division by zero is a run-time error naming the element */
    tc_case(&t, TS_OP_DIV, 2, INS(
        {"num", TS_I32, 2, {2, 2}, I(1, 2, 3, 4)}, {"den", TS_I32, 1, {2}, I(1, 0)}));
    EXPECT_ERR(&t, TS_ERR_RUNTIME,
               "division by zero at element 1 (index [0, 1]) of the output: the divisor 'den' is 0 there");

    /* add, sub and mul wrap in two's complement */
    tc_case(&t, TS_OP_ADD, 2, INS(
        {"a", TS_I32, 1, {2}, I(INT32_MAX, -5)}, {"b", TS_I32, 1, {2}, I(1, 3)}));
    EXPECT_I(&t, INT32_MIN, -2);
    tc_case(&t, TS_OP_MUL, 2, INS(
        {"a", TS_I64, 1, {2}, I(INT64_MAX, 3037000499)}, {"b", TS_I64, 1, {2}, I(2, 3037000499)}));
    EXPECT_I(&t, -2, 9223372030926249001);
    tc_case(&t, TS_OP_SUB, 2, INS(
        {"a", TS_I64, 1, {2}, I(INT64_MIN, 9007199254740993)}, {"b", TS_I64, 0, {0}, I(1)}));
    EXPECT_I(&t, INT64_MAX, 9007199254740992);

    tc_case(&t, TS_OP_POW, 2, INS(
        {"a", TS_F32, 1, {3}, F(2, 9, 2)}, {"b", TS_F32, 1, {3}, F(10, 0.5, -1)}));
    EXPECT_F(&t, EXACT, 1024, 3, 0.5);

    /* maximum and minimum propagate NaN */
    tc_case(&t, TS_OP_MAXIMUM, 2, INS(
        {"a", TS_F32, 1, {3}, F(1, NAN, -3)}, {"b", TS_F32, 1, {3}, F(2, 0, -4)}));
    EXPECT_F(&t, EXACT, 2, NAN, -3);
    tc_case(&t, TS_OP_MINIMUM, 2, INS(
        {"a", TS_BF16, 1, {3}, F(1, 0, -3)}, {"b", TS_BF16, 1, {3}, F(2, NAN, -4)}));
    EXPECT_OK(&t, TS_BF16, 1, 3);
    EXPECT_F(&t, EXACT, 1, NAN, -4);
    tc_case(&t, TS_OP_MAXIMUM, 2, INS(
        {"a", TS_I64, 1, {2}, I(5, -9007199254740993)}, {"b", TS_I64, 1, {2}, I(3, -9007199254740994)}));
    EXPECT_I(&t, 5, -9007199254740993);

    /* zero-size dims broadcast like any other: [0, 3] + [3], [1] + [0] */
    tc_case(&t, TS_OP_ADD, 2, INS(
        {"a", TS_F32, 2, {0, 3}, F(0)}, {"b", TS_F32, 1, {3}, F(1, 2, 3)}));
    EXPECT_OK(&t, TS_F32, 2, 0, 3);
    tc_case(&t, TS_OP_ADD, 2, INS(
        {"a", TS_I32, 1, {1}, I(1)}, {"b", TS_I32, 1, {0}, I(0)}));
    EXPECT_OK(&t, TS_I32, 1, 0);

    /* errors */
    tc_case(&t, TS_OP_ADD, 2, INS(
        {"a", TS_F32, 1, {3}, F(0)}, {"b", TS_F16, 1, {3}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "inputs 'a' (f32) and 'b' (f16) differ in dtype: add takes one dtype for both (no "
               "implicit promotion)");
    tc_case(&t, TS_OP_ADD, 2, INS(
        {"p", TS_BOOL, 1, {3}, F(0)}, {"q", TS_BOOL, 1, {3}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "inputs 'p' and 'q' have dtype bool: add takes f32, f16, bf16, i32 or i64");
    tc_case(&t, TS_OP_POW, 2, INS(
        {"a", TS_I32, 1, {3}, F(0)}, {"b", TS_I32, 1, {3}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "inputs 'a' and 'b' have dtype i32: pow takes f32, f16 or bf16");
    tc_case(&t, TS_OP_MUL, 2, INS(
        {"a", TS_F32, 2, {2, 3}, F(0)}, {"b", TS_F32, 1, {4}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "inputs 'a' [2, 3] and 'b' [4] do not broadcast: dims 3 and 4 differ");
    tc_case(&t, TS_OP_ADD, 2, INS(
        {"a", TS_F32, 3, {5, 2, 1}, F(0)}, {"b", TS_F32, 2, {3, 7}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "inputs 'a' [5, 2, 1] and 'b' [3, 7] do not broadcast: dims 2 and 3 differ");
    tc_case(&t, TS_OP_ADD, 2, INS({"a", TS_F32, 1, {3}, F(0)}, {NULL, TS_F32, 0, {0}, NULL}));
    EXPECT_ERR(&t, TS_ERR_GRAPH, "input 1 is omitted: add needs it");
    tc_free(&t);
}

/* A one-input op with default attributes on one vector. */
static void unary(struct tcase *t, enum ts_op op, enum ts_dtype dt, int n, const void *data) {
    tc_case(t, op, 1, INS({"x", dt, 1, {n}, data}));
}

/* cast of one vector to dtype 'to'. */
static void cast(struct tcase *t, enum ts_dtype from, int n, const void *data, enum ts_dtype to) {
    tc_init(t, TS_OP_CAST, 1, INS({"x", from, 1, {n}, data}));
    set_dtype(t, "to", to);
    tc_run(t);
}

static void test_unary(void) {
    struct tcase t = {0};
    unary(&t, TS_OP_NEG, TS_F32, 3, F(1, -2.5, 0));
    EXPECT_OK(&t, TS_F32, 1, 3);
    EXPECT_F(&t, EXACT, -1, 2.5, -0.0);
    CHECK(signbit(ts_tensor_get_f64(&t.out, 2))); /* -0, not 0 */
    unary(&t, TS_OP_NEG, TS_I32, 2, I(INT32_MIN, 7));
    EXPECT_I(&t, INT32_MIN, -7);
    unary(&t, TS_OP_ABS, TS_I64, 3, I(-5, INT64_MIN, -9007199254740993));
    EXPECT_I(&t, 5, INT64_MIN, 9007199254740993);
    unary(&t, TS_OP_ABS, TS_F16, 2, F(-1.5, 2));
    EXPECT_F(&t, EXACT, 1.5, 2);
    unary(&t, TS_OP_RELU, TS_I32, 3, I(-3, 0, 4));
    EXPECT_I(&t, 0, 0, 4);
    unary(&t, TS_OP_RELU, TS_F32, 3, F(-1, 2, NAN));
    EXPECT_F(&t, EXACT, 0, 2, NAN);

    unary(&t, TS_OP_EXP, TS_F32, 2, F(0, 1));
    EXPECT_F(&t, TOL32, 1, 2.718281828459045);
    unary(&t, TS_OP_LOG, TS_F32, 3, F(1, 0, -1));
    EXPECT_F(&t, EXACT, 0, -INFINITY, NAN);
    unary(&t, TS_OP_SQRT, TS_F32, 2, F(4, 2));
    EXPECT_F(&t, TOL32, 2, 1.4142135623730951);
    unary(&t, TS_OP_RSQRT, TS_BF16, 2, F(4, 0.25));
    EXPECT_F(&t, EXACT, 0.5, 2);
    unary(&t, TS_OP_TANH, TS_F32, 2, F(0, 1));
    EXPECT_F(&t, TOL32, 0, 0.7615941559557649);
    unary(&t, TS_OP_ERF, TS_F32, 2, F(0, 1));
    EXPECT_F(&t, TOL32, 0, 0.8427007929497149);
    /* sigmoid(-1000) is 0, not NaN from exp overflowing */
    unary(&t, TS_OP_SIGMOID, TS_F32, 4, F(0, 2, -1000, 1000));
    EXPECT_F(&t, TOL32, 0.5, 0.8807970779778823, 0, 1);
    unary(&t, TS_OP_SILU, TS_F32, 2, F(1, -1));
    EXPECT_F(&t, TOL32, 0.7310585786300049, -0.2689414213699951);
    unary(&t, TS_OP_GELU, TS_F32, 2, F(1, -1));
    EXPECT_F(&t, TOL32, 0.8413447460685429, -0.15865525393145707);
    tc_init(&t, TS_OP_GELU, 1, INS({"x", TS_F32, 1, {2}, F(1, -2)}));
    set_s(&t, "approximate", "tanh");
    tc_run(&t);
    EXPECT_F(&t, TOL32, 0.8411919906082768, -0.04540230591222494);
    /* zero elements */
    unary(&t, TS_OP_EXP, TS_F32, 0, F(0));
    EXPECT_OK(&t, TS_F32, 1, 0);

    /* errors */
    unary(&t, TS_OP_EXP, TS_I32, 1, I(0));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "input 'x' has dtype i32: exp takes f32, f16 or bf16");
    unary(&t, TS_OP_SILU, TS_I64, 1, I(0));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "input 'x' has dtype i64: silu takes f32, f16 or bf16");
    unary(&t, TS_OP_NEG, TS_BOOL, 1, F(0));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "input 'x' has dtype bool: neg takes f32, f16, bf16, i32 or i64");
    tc_init(&t, TS_OP_GELU, 1, INS({"x", TS_F32, 1, {1}, F(0)}));
    set_s(&t, "approximate", "fast");
    tc_run(&t);
    EXPECT_ERR(&t, TS_ERR_GRAPH, "attribute approximate is \"fast\": gelu takes \"none\" or \"tanh\"");
    tc_free(&t);
}

static void test_cast(void) {
    struct tcase t = {0};
    /* float → integer truncates toward zero and saturates; NaN gives 0 */
    cast(&t, TS_F32, 4, F(2.7, -2.7, NAN, 1e10), TS_I32);
    EXPECT_OK(&t, TS_I32, 1, 4);
    EXPECT_I(&t, 2, -2, 0, INT32_MAX);
    /* f32 → f16 rounds to nearest even: 65519 → 65504, 65520 (a tie) → inf */
    cast(&t, TS_F32, 3, F(65519, 65520, 1.0 / 3), TS_F16);
    EXPECT_F(&t, EXACT, 65504, INFINITY, 0.333251953125);
    /* i64 → narrow floats round once: 2^62 + 2^54 + 1 lies just above a bf16
     * tie, and 2^60 + 2^36 + 1 just above an f32 tie; a detour through double
     * would land on the tie and round down */
    cast(&t, TS_I64, 2,
          I(((int64_t)1 << 62) + ((int64_t)1 << 54) + 1, -(((int64_t)1 << 62) + ((int64_t)1 << 54) + 1)), TS_BF16);
    EXPECT_F(&t, EXACT, ldexp(1, 62) + ldexp(1, 55), -(ldexp(1, 62) + ldexp(1, 55)));
    cast(&t, TS_I64, 3, I(((int64_t)1 << 60) + ((int64_t)1 << 36) + 1, 16777217, INT64_MIN), TS_F32);
    EXPECT_F(&t, EXACT, ldexp(1, 60) + ldexp(1, 37), 16777216, -ldexp(1, 63));
    /* bool ↔ number: x != 0 (NaN is nonzero), and 0/1 */
    cast(&t, TS_F32, 4, F(0, -0.0, 0.5, NAN), TS_BOOL);
    EXPECT_OK(&t, TS_BOOL, 1, 4);
    EXPECT_I(&t, 0, 0, 1, 1);
    cast(&t, TS_I64, 2, I(0, (int64_t)1 << 40), TS_BOOL);
    EXPECT_I(&t, 0, 1);
    cast(&t, TS_BOOL, 2, F(1, 0), TS_BF16);
    EXPECT_F(&t, EXACT, 1, 0);
    /* i64 → i32 wraps; i32 → i64 is exact */
    cast(&t, TS_I64, 2, I(((int64_t)1 << 32) + 5, -1), TS_I32);
    EXPECT_I(&t, 5, -1);
    cast(&t, TS_I32, 1, I(-7), TS_I64);
    EXPECT_OK(&t, TS_I64, 1, 1);
    EXPECT_I(&t, -7);

    unary(&t, TS_OP_CAST, TS_F32, 1, F(0));
    EXPECT_ERR(&t, TS_ERR_GRAPH, "attribute 'to' is missing: cast needs the dtype to convert to");
    tc_free(&t);
}

static void test_where(void) {
    struct tcase t = {0};
    /* cond [2, 1], a [3], b scalar → [2, 3] */
    tc_case(&t, TS_OP_WHERE, 3, INS(
        {"c", TS_BOOL, 2, {2, 1}, F(1, 0)}, {"a", TS_F32, 1, {3}, F(1, 2, 3)}, {"b", TS_F32, 0, {0}, F(-1)}));
    EXPECT_OK(&t, TS_F32, 2, 2, 3);
    EXPECT_F(&t, EXACT, 1, 2, 3, -1, -1, -1);
    /* integers are copied exactly */
    tc_case(&t, TS_OP_WHERE, 3, INS(
        {"c", TS_BOOL, 1, {2}, F(0, 1)}, {"a", TS_I64, 1, {2}, I(1, 9007199254740993)},
        {"b", TS_I64, 1, {2}, I(-9007199254740993, 2)}));
    EXPECT_I(&t, -9007199254740993, 9007199254740993);

    tc_case(&t, TS_OP_WHERE, 3, INS(
        {"c", TS_F32, 1, {2}, F(0)}, {"a", TS_F32, 1, {2}, F(0)}, {"b", TS_F32, 1, {2}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "'c' (input cond) has dtype f32: where takes a bool condition");
    tc_case(&t, TS_OP_WHERE, 3, INS(
        {"c", TS_BOOL, 1, {2}, F(0)}, {"a", TS_F32, 1, {2}, F(0)}, {"b", TS_I32, 1, {2}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "inputs 'a' (f32) and 'b' (i32) differ in dtype: where takes one dtype for both (no "
               "implicit promotion)");
    tc_case(&t, TS_OP_WHERE, 3, INS(
        {"c", TS_BOOL, 1, {2}, F(0)}, {"a", TS_F32, 1, {3}, F(0)}, {"b", TS_F32, 1, {1}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "inputs 'c' [2] and 'a' [3] do not broadcast: dims 2 and 3 differ");
    tc_case(&t, TS_OP_WHERE, 3, INS(
        {"c", TS_BOOL, 1, {1}, F(0)}, {"a", TS_F32, 1, {2}, F(0)}, {"b", TS_F32, 2, {4, 3}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "inputs 'a' [2] and 'b' [4, 3] do not broadcast: dims 2 and 3 differ");
    tc_free(&t);
}

/* An independent, obviously-right matmul for cross-checks: every index spelled out. */
static double naive_mm(const double *a, const double *b, int ba, int bb, int m, int n, int k, bool ta, bool tb,
                       int batch_a, int batch_b, int i, int j) {
    double s = 0;
    for (int p = 0; p < k; p++) {
        double x = ta ? a[ba % batch_a * k * m + p * m + i] : a[ba % batch_a * m * k + i * k + p];
        double y = tb ? b[bb % batch_b * n * k + j * k + p] : b[bb % batch_b * k * n + p * n + j];
        s += x * y;
    }
    return s;
}

static void test_matmul(void) {
    struct tcase t = {0};
    static const double want[] = {58, 64, 139, 154};
    /* [2, 3] @ [3, 2], and the same product from transposed storage */
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            tc_init(&t, TS_OP_MATMUL, 2, INS(
                {"a", TS_F32, 2, {ta ? 3 : 2, ta ? 2 : 3}, ta ? F(1, 4, 2, 5, 3, 6) : F(1, 2, 3, 4, 5, 6)},
                {"b", TS_F32, 2, {tb ? 2 : 3, tb ? 3 : 2}, tb ? F(7, 9, 11, 8, 10, 12) : F(7, 8, 9, 10, 11, 12)}));
            set_i(&t, "transpose_a", ta);
            set_i(&t, "transpose_b", tb);
            tc_run(&t);
            EXPECT_OK(&t, TS_F32, 2, 2, 2);
            expect_f(__LINE__, &t, 4, want, EXACT);
        }
    }
    /* batch dims broadcast: a [2, 1, 1, 2] @ b [3, 2, 1] → [2, 3, 1, 1] */
    tc_case(&t, TS_OP_MATMUL, 2, INS(
        {"a", TS_F32, 4, {2, 1, 1, 2}, F(1, 2, 3, 4)}, {"b", TS_F32, 3, {3, 2, 1}, F(1, 0, 0, 1, 1, 1)}));
    EXPECT_OK(&t, TS_F32, 4, 2, 3, 1, 1);
    EXPECT_F(&t, EXACT, 1, 2, 3, 3, 4, 7);
    /* f16 products accumulate in double: 2048 + 1 + 1 = 2050, where an f16
     * running sum would stay at 2048 */
    tc_case(&t, TS_OP_MATMUL, 2, INS(
        {"a", TS_F16, 2, {1, 3}, F(2048, 1, 1)}, {"b", TS_F16, 2, {3, 1}, F(1, 1, 1)}));
    EXPECT_OK(&t, TS_F16, 2, 1, 1);
    EXPECT_F(&t, EXACT, 2050);
    /* i32 wraps: 65536·65536 + 65536·1 = 2^32 + 65536 → 65536; i64 is exact */
    tc_case(&t, TS_OP_MATMUL, 2, INS(
        {"a", TS_I32, 2, {1, 2}, I(65536, 65536)}, {"b", TS_I32, 2, {2, 1}, I(65536, 1)}));
    EXPECT_I(&t, 65536);
    tc_case(&t, TS_OP_MATMUL, 2, INS(
        {"a", TS_I64, 2, {1, 2}, I(9007199254740993, 2)}, {"b", TS_I64, 2, {2, 1}, I(1, -3)}));
    EXPECT_I(&t, 9007199254740987);
    /* K = 0 gives zeros; M = 0 gives an empty result */
    tc_case(&t, TS_OP_MATMUL, 2, INS(
        {"a", TS_F32, 2, {2, 0}, F(0)}, {"b", TS_F32, 2, {0, 3}, F(0)}));
    EXPECT_OK(&t, TS_F32, 2, 2, 3);
    EXPECT_F(&t, EXACT, 0, 0, 0, 0, 0, 0);
    tc_case(&t, TS_OP_MATMUL, 2, INS(
        {"a", TS_F32, 3, {4, 0, 2}, F(0)}, {"b", TS_F32, 2, {2, 3}, F(1, 2, 3, 4, 5, 6)}));
    EXPECT_OK(&t, TS_F32, 3, 4, 0, 3);

    /* a larger case with every transpose and a broadcast batch against the naive loop */
    enum { BA = 2, BB = 3, M = 5, N = 6, K = 7 };
    double a[BA * M * K], b[BB * K * N];
    for (int e = 0; e < BA * M * K; e++) a[e] = (double)((e * 7 + 3) % 11) - 5;
    for (int e = 0; e < BB * K * N; e++) b[e] = (double)((e * 5 + 1) % 13) - 6;
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            /* a [2, 1, M, K] (or [.., K, M]), b [3, K, N] (or [.., N, K]) → [2, 3, M, N] */
            tc_init(&t, TS_OP_MATMUL, 2, INS(
                {"a", TS_F32, 4, {BA, 1, ta ? K : M, ta ? M : K}, a},
                {"b", TS_F32, 3, {BB, tb ? N : K, tb ? K : N}, b}));
            set_i(&t, "transpose_a", ta);
            set_i(&t, "transpose_b", tb);
            tc_run(&t);
            EXPECT_OK(&t, TS_F32, 4, BA, BB, M, N);
            bool same = t.st == TS_OK;
            for (int x = 0; same && x < BA; x++)
                for (int y = 0; y < BB; y++)
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++)
                            same = same && ts_tensor_get_f64(&t.out, ((x * BB + y) * M + i) * N + j) ==
                                               naive_mm(a, b, x, y, M, N, K, ta, tb, BA, BB, i, j);
            CHECK(same);
        }
    }

    /* 512³ in f32 must stay well within a test's time */
    {
        enum { S = 512 };
        double *big = malloc(sizeof(double) * S * S);
        for (int e = 0; e < S * S; e++) big[e] = (double)(e % 17) / 16.0;
        tc_init(&t, TS_OP_MATMUL, 2, INS({"a", TS_F32, 2, {S, S}, big}, {"b", TS_F32, 2, {S, S}, big}));
        clock_t t0 = clock();
        tc_run(&t);
        double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
        CHECK(t.st == TS_OK);
        CHECK(secs < 5.0);
        /* out[0][0] = Σ_p big[p]·big[p·S] */
        double s = 0;
        for (int p = 0; p < S; p++) s += big[p] * big[p * S];
        CHECK_NEAR(ts_tensor_get_f64(&t.out, 0), s, 0, 1e-6);
        free(big);
    }

    /* errors */
    tc_case(&t, TS_OP_MATMUL, 2, INS({"a", TS_F32, 1, {3}, F(0)}, {"b", TS_F32, 2, {3, 2}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "input 'a' [3] has rank 1: matmul takes operands of rank 2 or more");
    tc_case(&t, TS_OP_MATMUL, 2, INS({"a", TS_F32, 2, {3, 2}, F(0)}, {"w", TS_F32, 0, {0}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "input 'w' [] has rank 0: matmul takes operands of rank 2 or more");
    tc_case(&t, TS_OP_MATMUL, 2, INS({"a", TS_F32, 2, {2, 3}, F(0)}, {"b", TS_F32, 2, {4, 5}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "inputs 'a' [2, 3] and 'b' [4, 5] do not contract: K is 3 in 'a' and 4 in 'b' (transpose_a "
               "false, transpose_b false)");
    tc_init(&t, TS_OP_MATMUL, 2, INS({"a", TS_F32, 2, {2, 3}, F(0)}, {"b", TS_F32, 2, {3, 4}, F(0)}));
    set_i(&t, "transpose_a", 1);
    tc_run(&t);
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "inputs 'a' [2, 3] and 'b' [3, 4] do not contract: K is 2 in 'a' and 3 in 'b' (transpose_a "
               "true, transpose_b false)");
    tc_case(&t, TS_OP_MATMUL, 2, INS(
        {"a", TS_F32, 3, {2, 2, 3}, F(0)}, {"b", TS_F32, 3, {3, 3, 4}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "batch dims of inputs 'a' [2, 2, 3] and 'b' [3, 3, 4] do not broadcast: dims 2 and 3 differ");
    tc_case(&t, TS_OP_MATMUL, 2, INS({"a", TS_BOOL, 2, {2, 2}, F(0)}, {"b", TS_BOOL, 2, {2, 2}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "inputs 'a' and 'b' have dtype bool: matmul takes f32, f16, bf16, i32 or i64");
    tc_case(&t, TS_OP_MATMUL, 2, INS({"a", TS_F32, 2, {2, 2}, F(0)}, {"b", TS_BF16, 2, {2, 2}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "inputs 'a' (f32) and 'b' (bf16) differ in dtype: matmul takes one dtype for both (no "
               "implicit promotion)");
    tc_free(&t);
}

static void test_softmax(void) {
    struct tcase t = {0};
    /* rows of [2, 3] along axis -1; the second row is uniform */
    tc_case(&t, TS_OP_SOFTMAX, 1, INS({"x", TS_F32, 2, {2, 3}, F(1, 2, 3, 0, 0, 0)}));
    EXPECT_OK(&t, TS_F32, 2, 2, 3);
    EXPECT_F(&t, TOL32, 0.09003057317038046, 0.24472847105479764, 0.6652409557748218, 1.0 / 3, 1.0 / 3,
             1.0 / 3);
    /* along axis 0: columns {0, 0} and {0, ln 3} */
    tc_init(&t, TS_OP_SOFTMAX, 1, INS({"x", TS_F32, 2, {2, 2}, F(0, 0, 0, log(3.0))}));
    set_i(&t, "axis", 0);
    tc_run(&t);
    EXPECT_F(&t, TOL32, 0.5, 0.25, 0.5, 0.75);
    /* the max is subtracted first, so large logits do not overflow */
    tc_init(&t, TS_OP_SOFTMAX, 1, INS({"x", TS_F32, 3, {1, 2, 1}, F(1000, 1000)}));
    set_i(&t, "axis", 1);
    tc_run(&t);
    EXPECT_F(&t, EXACT, 0.5, 0.5);
    /* a NaN poisons its row only */
    tc_case(&t, TS_OP_SOFTMAX, 1, INS({"x", TS_F32, 2, {2, 2}, F(NAN, 1, 2, 2)}));
    EXPECT_F(&t, EXACT, NAN, NAN, 0.5, 0.5);
    tc_case(&t, TS_OP_SOFTMAX, 1, INS({"x", TS_F16, 2, {3, 0}, F(0)}));
    EXPECT_OK(&t, TS_F16, 2, 3, 0);

    /* a negative axis counts from the end: -2 of [2, 2] is axis 0 */
    tc_init(&t, TS_OP_SOFTMAX, 1, INS({"x", TS_F32, 2, {2, 2}, F(0, 0, 0, log(3.0))}));
    set_i(&t, "axis", -2);
    tc_run(&t);
    EXPECT_F(&t, TOL32, 0.5, 0.25, 0.5, 0.75);

    tc_init(&t, TS_OP_SOFTMAX, 1, INS({"x", TS_F32, 2, {2, 3}, F(0)}));
    set_i(&t, "axis", 2);
    tc_run(&t);
    EXPECT_ERR(&t, TS_ERR_GRAPH, "axis 2 is out of range for input 'x' of rank 2");
    tc_init(&t, TS_OP_SOFTMAX, 1, INS({"h", TS_F32, 2, {2, 3}, F(0)}));
    set_i(&t, "axis", -3);
    tc_run(&t);
    EXPECT_ERR(&t, TS_ERR_GRAPH, "axis -3 is out of range for 'h' (input x) of rank 2");
    tc_case(&t, TS_OP_SOFTMAX, 1, INS({"x", TS_I32, 1, {3}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "input 'x' has dtype i32: softmax takes f32, f16 or bf16");
    tc_free(&t);
}

static void test_norm(void) {
    struct tcase t = {0};
    /* row {1, 2, 3, 4}: mean 2.5, biased variance 1.25; row {5, 5, 5, 5} has
     * variance 0, so only eps keeps it finite and the output is the bias */
    const double inv = 1 / sqrt(1.25 + 1e-5);
    tc_case(&t, TS_OP_LAYERNORM, 3, INS(
        {"x", TS_F32, 2, {2, 4}, F(1, 2, 3, 4, 5, 5, 5, 5)}, {"w", TS_F32, 1, {4}, F(1, 2, 1, 2)},
        {"b", TS_F32, 1, {4}, F(0, 0, 1, 1)}));
    EXPECT_OK(&t, TS_F32, 2, 2, 4);
    EXPECT_F(&t, TOL32, -1.3416354199689269, -0.894423613312618, 1.447211806656309, 3.6832708399378538, 0, 0, 1, 1);
    /* no weight, a bias; axis given as rank - 1 */
    tc_init(&t, TS_OP_LAYERNORM, 3, INS(
        {"x", TS_F32, 1, {4}, F(1, 2, 3, 4)}, {NULL, TS_F32, 0, {0}, NULL}, {"b", TS_F32, 1, {4}, F(1, 1, 1, 1)}));
    set_i(&t, "axis", 0);
    tc_run(&t);
    EXPECT_F(&t, TOL32, 1 - 1.5 * inv, 1 - 0.5 * inv, 1 + 0.5 * inv, 1 + 1.5 * inv);
    /* no weight and no bias; a large mean does not cancel the variance */
    tc_init(&t, TS_OP_LAYERNORM, 1, INS({"x", TS_F32, 1, {2}, F(1e6 - 1, 1e6 + 1)}));
    set_f(&t, "eps", 0);
    tc_run(&t);
    EXPECT_F(&t, EXACT, -1, 1);
    /* rmsnorm of {3, 4}: mean(x²) = 12.5 */
    tc_case(&t, TS_OP_RMSNORM, 2, INS({"x", TS_F32, 2, {1, 2}, F(3, 4)}, {"w", TS_F32, 1, {2}, F(2, 0.5)}));
    EXPECT_OK(&t, TS_F32, 2, 1, 2);
    EXPECT_F(&t, TOL32, 1.6970562069654673, 0.5656854023218224);
    tc_init(&t, TS_OP_RMSNORM, 1, INS({"x", TS_BF16, 1, {2}, F(3, 4)}));
    set_f(&t, "eps", 0);
    tc_run(&t);
    EXPECT_F(&t, 4e-3, 0.848528137423857, 1.131370849898476);
    /* an empty last dim gives an empty output: there is no row to normalize,
     * so no mean of nothing is ever taken (unlike reduce_mean over an empty
     * axis, whose output has elements) */
    tc_case(&t, TS_OP_LAYERNORM, 2, INS({"x", TS_F32, 2, {3, 0}, F(0)}, {"w", TS_F32, 1, {0}, F(0)}));
    EXPECT_OK(&t, TS_F32, 2, 3, 0);
    tc_init(&t, TS_OP_RMSNORM, 1, INS({"x", TS_F16, 1, {0}, F(0)}));
    set_i(&t, "axis", 0);
    tc_run(&t);
    EXPECT_OK(&t, TS_F16, 1, 0);

    /* errors */
    tc_case(&t, TS_OP_LAYERNORM, 2, INS({"x", TS_F32, 2, {2, 4}, F(0)}, {"w", TS_F32, 1, {3}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "'w' (input weight) has shape [3]: layernorm takes a weight of shape [4], the last dim of "
               "input 'x' of shape [2, 4]");
    tc_case(&t, TS_OP_RMSNORM, 2, INS({"h", TS_F32, 2, {2, 4}, F(0)}, {"w", TS_F32, 2, {1, 4}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "'w' (input weight) has shape [1, 4]: rmsnorm takes a weight of shape [4], the last dim of "
               "'h' (input x) of shape [2, 4]");
    tc_case(&t, TS_OP_LAYERNORM, 3, INS(
        {"x", TS_F32, 1, {4}, F(0)}, {"w", TS_F32, 1, {4}, F(0)}, {"bias", TS_F16, 1, {4}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "input 'bias' has dtype f16 but input 'x' has f32: layernorm takes one dtype for all its inputs");
    tc_init(&t, TS_OP_LAYERNORM, 1, INS({"x", TS_F32, 2, {2, 4}, F(0)}));
    set_i(&t, "axis", 0);
    tc_run(&t);
    EXPECT_ERR(&t, TS_ERR_GRAPH,
               "axis 0 is not supported: layernorm normalizes over the last dim only (axis -1 or 1 for input "
               "'x' of rank 2)");
    tc_init(&t, TS_OP_RMSNORM, 1, INS({"x", TS_F32, 2, {2, 4}, F(0)}));
    set_i(&t, "axis", -2);
    tc_run(&t);
    EXPECT_ERR(&t, TS_ERR_GRAPH,
               "axis -2 is not supported: rmsnorm normalizes over the last dim only (axis -1 or 1 for input "
               "'x' of rank 2)");
    tc_case(&t, TS_OP_RMSNORM, 1, INS({"x", TS_F32, 0, {0}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "input 'x' is a scalar: rmsnorm normalizes over the last dim, so it takes rank 1 or more");
    tc_init(&t, TS_OP_LAYERNORM, 1, INS({"x", TS_F32, 1, {4}, F(0)}));
    set_f(&t, "eps", -1);
    tc_run(&t);
    EXPECT_ERR(&t, TS_ERR_GRAPH, "eps -1 is invalid: layernorm takes a finite eps >= 0");
    tc_case(&t, TS_OP_RMSNORM, 1, INS({"x", TS_I64, 1, {4}, F(0)}));
    EXPECT_ERR(&t, TS_ERR_SHAPE, "input 'x' has dtype i64: rmsnorm takes f32, f16 or bf16");
    tc_free(&t);
}

/* Runs a reduction of x over the given axes. */
static void reduce(struct tcase *t, enum ts_op op, struct in_spec x, int naxes, const int64_t *axes, bool keep) {
    tc_init(t, op, 1, &x);
    set_ints(t, "axes", naxes, axes);
    set_i(t, "keepdims", keep);
    tc_run(t);
}

static void test_reduce(void) {
    struct tcase t = {0};
    const struct in_spec x23 = {"x", TS_F32, 2, {2, 3}, F(1, 2, 3, 4, 5, 6)};
    reduce(&t, TS_OP_REDUCE_SUM, x23, 1, I(1), false);
    EXPECT_OK(&t, TS_F32, 1, 2);
    EXPECT_F(&t, EXACT, 6, 15);
    reduce(&t, TS_OP_REDUCE_SUM, x23, 1, I(0), true);
    EXPECT_OK(&t, TS_F32, 2, 1, 3);
    EXPECT_F(&t, EXACT, 5, 7, 9);
    reduce(&t, TS_OP_REDUCE_SUM, x23, 2, I(-1, 0), false);
    EXPECT_OK(&t, TS_F32, 0, 0);
    EXPECT_F(&t, EXACT, 21);
    reduce(&t, TS_OP_REDUCE_MEAN, x23, 1, I(-1), true);
    EXPECT_OK(&t, TS_F32, 2, 2, 1);
    EXPECT_F(&t, EXACT, 2, 5);
    reduce(&t, TS_OP_REDUCE_MAX, x23, 1, I(0), false);
    EXPECT_F(&t, EXACT, 4, 5, 6);
    /* no axes: a copy, -0.0 included */
    reduce(&t, TS_OP_REDUCE_SUM, IN1("x", TS_F32, 2, {1, 2}, F(-0.0, 2)), 0, NULL, false);
    EXPECT_OK(&t, TS_F32, 2, 1, 2);
    EXPECT_F(&t, EXACT, -0.0, 2);
    CHECK(signbit(ts_tensor_get_f64(&t.out, 0)));
    /* the middle axis of [2, 2, 2], and the outer two */
    const struct in_spec x222 = {"x", TS_F32, 3, {2, 2, 2}, F(1, 2, 3, 4, 5, 6, 7, 8)};
    reduce(&t, TS_OP_REDUCE_SUM, x222, 1, I(1), false);
    EXPECT_OK(&t, TS_F32, 2, 2, 2);
    EXPECT_F(&t, EXACT, 4, 6, 12, 14);
    reduce(&t, TS_OP_REDUCE_MEAN, x222, 2, I(2, 0), true);
    EXPECT_OK(&t, TS_F32, 3, 1, 2, 1);
    EXPECT_F(&t, EXACT, 3.5, 5.5);
    /* max propagates NaN and keeps -inf */
    reduce(&t, TS_OP_REDUCE_MAX, IN1("x", TS_F16, 2, {3, 2}, F(1, -INFINITY, NAN, -INFINITY, 3, -INFINITY)),
           1, I(0), false);
    EXPECT_F(&t, EXACT, NAN, -INFINITY);
    /* a sum over nothing is 0 (not -0) */
    reduce(&t, TS_OP_REDUCE_SUM, IN1("x", TS_F32, 2, {0, 3}, F(0)), 1, I(0), false);
    EXPECT_OK(&t, TS_F32, 1, 3);
    EXPECT_F(&t, EXACT, 0, 0, 0);
    CHECK(!signbit(ts_tensor_get_f64(&t.out, 0)));
    /* the mean over a reduced axis that is not empty, of an empty tensor */
    reduce(&t, TS_OP_REDUCE_MEAN, IN1("x", TS_F32, 2, {0, 3}, F(0)), 1, I(1), false);
    EXPECT_OK(&t, TS_F32, 1, 0);
    /* the sum in double: 2^24 + 1 + 1 in f32 would stay at 2^24 */
    reduce(&t, TS_OP_REDUCE_SUM, IN1("x", TS_F32, 1, {3}, F(16777216, 1, 1)), 1, I(0), false);
    EXPECT_F(&t, EXACT, 16777218);

    /* errors */
    reduce(&t, TS_OP_REDUCE_SUM, x23, 1, I(2), false);
    EXPECT_ERR(&t, TS_ERR_GRAPH, "axes: 2 is out of range for input 'x' of rank 2");
    reduce(&t, TS_OP_REDUCE_MAX, x23, 2, I(1, -1), false);
    EXPECT_ERR(&t, TS_ERR_GRAPH, "axes: 1 and -1 both name axis 1");
    reduce(&t, TS_OP_REDUCE_MEAN, IN1("x", TS_F32, 2, {0, 3}, F(0)), 1, I(0), false);
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "input 'x' of shape [0, 3] has size 0 on reduced axis 0: reduce_mean of no elements is "
               "undefined");
    reduce(&t, TS_OP_REDUCE_MAX, IN1("h", TS_F32, 2, {3, 0}, F(0)), 1, I(-1), true);
    EXPECT_ERR(&t, TS_ERR_SHAPE,
               "'h' (input x) of shape [3, 0] has size 0 on reduced axis 1: reduce_max of no elements is "
               "undefined");
    reduce(&t, TS_OP_REDUCE_SUM, x23, 1, I(-3), false);
    EXPECT_ERR(&t, TS_ERR_GRAPH, "axes: -3 is out of range for input 'x' of rank 2");
    reduce(&t, TS_OP_REDUCE_SUM, IN1("x", TS_I32, 1, {3}, I(1, 2, 3)), 1, I(0), false);
    EXPECT_ERR(&t, TS_ERR_SHAPE, "input 'x' has dtype i32: reduce_sum takes f32, f16 or bf16");
    tc_case(&t, TS_OP_REDUCE_SUM, 1, &x23);
    EXPECT_ERR(&t, TS_ERR_GRAPH, "attribute 'axes' is missing: reduce_sum needs the axes to reduce");
    tc_free(&t);
}

int main(void) {
    test_binary();
    test_unary();
    test_cast();
    test_where();
    test_matmul();
    test_softmax();
    test_norm();
    test_reduce();
    return ts_test_finish("test_ops_math");
}
