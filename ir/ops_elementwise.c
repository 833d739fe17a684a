/* ops_elementwise.c — shape rules and reference kernels of the element-wise ops:
 * binary arithmetic (add … minimum, numpy broadcasting, one dtype), the unary
 * ops (neg … gelu), cast and where. Kernels compute in double, or exactly in
 * 64-bit two's complement for i32/i64. */
#include <math.h>
#include <string.h>

#include "internal.h"

#define TS_PI 3.14159265358979323846

static const char *const FLOATS = "f32, f16 or bf16";
static const char *const NUMBERS = "f32, f16, bf16, i32 or i64";

/* Arithmetic takes floats and integers; bool is a truth value, not a number. */
static bool dtype_is_number(enum ts_dtype t) {
    return ts_dtype_is_float(t) || ts_dtype_is_int(t);
}

/* The first dim pair, from the right, that keeps two shapes from broadcasting
 * (for the message); false if they broadcast. */
static bool broadcast_conflict(int ra, const int64_t *da, int rb, const int64_t *db, int64_t *x,
                               int64_t *y) {
    for (int k = 1; k <= ra && k <= rb; k++) {
        int64_t p = da[ra - k], q = db[rb - k];
        if (p != q && p != 1 && q != 1) {
            *x = p;
            *y = q;
            return true;
        }
    }
    return false;
}

/* Flat offset of a multi-index under (possibly broadcast) strides. */
static int64_t offset_of(int rank, const int64_t *index, const int64_t *strides) {
    int64_t off = 0;
    for (int k = 0; k < rank; k++) off += index[k] * strides[k];
    return off;
}

/* ---- binary: add sub mul div pow maximum minimum ----------------------- */

enum ts_status ts_shape_binary(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    const char *op = ts_op_get(n->op)->name;
    TS_TRY(ts_node_need_inputs(g, n, 2, d));
    const struct ts_value *a = ts_node_in(g, n, 0), *b = ts_node_in(g, n, 1);
    if (a->dtype != b->dtype)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "inputs '%s' (%s) and '%s' (%s) differ in dtype: %s takes one "
                            "dtype for both (no implicit promotion)",
                            a->name, ts_dtype_name(a->dtype), b->name, ts_dtype_name(b->dtype), op);
    bool float_only = n->op == TS_OP_POW;
    if (float_only ? !ts_dtype_is_float(a->dtype) : !dtype_is_number(a->dtype))
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "inputs '%s' and '%s' have dtype %s: %s takes %s",
                            a->name, b->name, ts_dtype_name(a->dtype), op,
                            float_only ? FLOATS : NUMBERS);

    int64_t da[TS_MAX_RANK], db[TS_MAX_RANK], dout[TS_MAX_RANK];
    int ra = ts_value_dims(a, da), rb = ts_value_dims(b, db), rout;
    if (!ts_broadcast_shapes(ra, da, rb, db, &rout, dout)) {
        char sa[256], sb[256];
        int64_t x = 0, y = 0;
        broadcast_conflict(ra, da, rb, db, &x, &y);
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "inputs '%s' %s and '%s' %s do not broadcast: dims %lld and %lld differ",
                            a->name, ts_value_shape_str(g, a, sa, sizeof sa), b->name,
                            ts_value_shape_str(g, b, sb, sizeof sb), (long long)x, (long long)y);
    }
    ts_value_set_shape(ts_node_out(g, n, 0), a->dtype, rout, dout);
    return TS_OK;
}

static double binary_f64(enum ts_op op, double x, double y) {
    switch (op) {
    case TS_OP_ADD: return x + y;
    case TS_OP_SUB: return x - y;
    case TS_OP_MUL: return x * y;
    case TS_OP_DIV: return x / y;
    case TS_OP_POW: return pow(x, y);
    /* NaN propagates, as in torch.maximum and numpy.maximum (not fmax). */
    case TS_OP_MAXIMUM: return isnan(x) || isnan(y) ? NAN : (x > y ? x : y);
    case TS_OP_MINIMUM: return isnan(x) || isnan(y) ? NAN : (x < y ? x : y);
    default: break;
    }
    TS_ASSERT(!"not a float binary op");
    return 0;
}

/* Integer add, sub and mul wrap in two's complement (done in uint64_t, where C
 * defines wrapping); storing to i32 keeps the low 32 bits, so i32 wraps too.
 * Division truncates toward zero; the caller has refused y == 0. */
static int64_t binary_i64(enum ts_op op, int64_t x, int64_t y) {
    uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
    switch (op) {
    case TS_OP_ADD: return (int64_t)(ux + uy);
    case TS_OP_SUB: return (int64_t)(ux - uy);
    case TS_OP_MUL: return (int64_t)(ux * uy);
    case TS_OP_DIV: return x == INT64_MIN && y == -1 ? INT64_MIN : x / y; /* the one overflow wraps */
    case TS_OP_MAXIMUM: return x > y ? x : y;
    case TS_OP_MINIMUM: return x < y ? x : y;
    default: break;
    }
    TS_ASSERT(!"not an integer binary op");
    return 0;
}

enum ts_status ts_ref_binary(const struct ts_graph *g, const struct ts_node *n,
                             const struct ts_tensor *const *in, struct ts_tensor *const *out,
                             struct ts_diag *d) {
    const struct ts_tensor *a = in[0], *b = in[1];
    struct ts_tensor *o = out[0];
    int64_t sa[TS_MAX_RANK], sb[TS_MAX_RANK], index[TS_MAX_RANK] = {0};
    ts_broadcast_strides(a->rank, a->dims, o->rank, o->dims, sa);
    ts_broadcast_strides(b->rank, b->dims, o->rank, o->dims, sb);
    bool integer = ts_dtype_is_int(o->dtype);
    for (int64_t i = 0; i < o->numel; i++) {
        int64_t ia = offset_of(o->rank, index, sa), ib = offset_of(o->rank, index, sb);
        if (integer) {
            int64_t x = ts_tensor_get_i64(a, ia), y = ts_tensor_get_i64(b, ib);
            if (n->op == TS_OP_DIV && y == 0) {
                char where[256];
                return ts_diag_node(d, g, n, TS_ERR_RUNTIME,
                                    "division by zero at element %lld (index %s) of the output: "
                                    "the divisor '%s' is 0 there",
                                    (long long)i, ts_dims_str(o->rank, index, where, sizeof where),
                                    ts_node_in(g, n, 1)->name);
            }
            ts_tensor_set_i64(o, i, binary_i64(n->op, x, y));
        } else {
            ts_tensor_set_f64(o, i, binary_f64(n->op, ts_tensor_get_f64(a, ia), ts_tensor_get_f64(b, ib)));
        }
        ts_index_next(o->rank, o->dims, index);
    }
    return TS_OK;
}

/* ---- unary: neg exp log sqrt rsqrt tanh erf sigmoid relu silu abs gelu -- */

/* neg, abs and relu make sense for integers; the rest are transcendental. */
static bool unary_takes_int(enum ts_op op) {
    return op == TS_OP_NEG || op == TS_OP_ABS || op == TS_OP_RELU;
}

enum ts_status ts_shape_unary(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    const char *op = ts_op_get(n->op)->name;
    TS_TRY(ts_node_need_inputs(g, n, 1, d));
    const struct ts_value *x = ts_node_in(g, n, 0);
    bool ints = unary_takes_int(n->op);
    if (ints ? !dtype_is_number(x->dtype) : !ts_dtype_is_float(x->dtype))
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "input '%s' has dtype %s: %s takes %s", x->name,
                            ts_dtype_name(x->dtype), op, ints ? NUMBERS : FLOATS);
    if (n->op == TS_OP_GELU) {
        const struct ts_attr *ap = ts_node_attr(n, "approximate");
        TS_ASSERT(ap->present); /* ts_node_set_defaults fills it */
        if (strcmp(ap->s, "none") != 0 && strcmp(ap->s, "tanh") != 0)
            return ts_diag_node(d, g, n, TS_ERR_GRAPH,
                                "attribute approximate is \"%s\": gelu takes \"none\" or \"tanh\"", ap->s);
    }
    int64_t dims[TS_MAX_RANK];
    int rank = ts_value_dims(x, dims);
    ts_value_set_shape(ts_node_out(g, n, 0), x->dtype, rank, dims);
    return TS_OK;
}

/* Split at 0 so neither branch overflows exp: sigmoid(-1000) is 0, not NaN. */
static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static double unary_f64(enum ts_op op, double x, bool gelu_tanh) {
    switch (op) {
    case TS_OP_NEG: return -x;
    case TS_OP_EXP: return exp(x);
    case TS_OP_LOG: return log(x);
    case TS_OP_SQRT: return sqrt(x);
    case TS_OP_RSQRT: return 1.0 / sqrt(x);
    case TS_OP_TANH: return tanh(x);
    case TS_OP_ERF: return erf(x);
    case TS_OP_SIGMOID: return sigmoid(x);
    case TS_OP_RELU: return x > 0 ? x : (isnan(x) ? x : 0.0);
    case TS_OP_SILU: return x * sigmoid(x);
    case TS_OP_ABS: return fabs(x);
    case TS_OP_GELU:
        if (gelu_tanh) return 0.5 * x * (1.0 + tanh(sqrt(2.0 / TS_PI) * (x + 0.044715 * x * x * x)));
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    default: break;
    }
    TS_ASSERT(!"not a unary op");
    return 0;
}

/* Wraps like the binary ops: neg and abs of the most negative value give itself. */
static int64_t unary_i64(enum ts_op op, int64_t x) {
    switch (op) {
    case TS_OP_NEG: return (int64_t)(0 - (uint64_t)x);
    case TS_OP_ABS: return x < 0 ? (int64_t)(0 - (uint64_t)x) : x;
    case TS_OP_RELU: return x > 0 ? x : 0;
    default: break;
    }
    TS_ASSERT(!"not an integer unary op");
    return 0;
}

enum ts_status ts_ref_unary(const struct ts_graph *g, const struct ts_node *n,
                            const struct ts_tensor *const *in, struct ts_tensor *const *out,
                            struct ts_diag *d) {
    (void)g;
    (void)d;
    const struct ts_tensor *x = in[0];
    struct ts_tensor *o = out[0];
    bool gelu_tanh = n->op == TS_OP_GELU && strcmp(ts_node_attr(n, "approximate")->s, "tanh") == 0;
    bool integer = ts_dtype_is_int(o->dtype);
    for (int64_t i = 0; i < o->numel; i++) {
        if (integer)
            ts_tensor_set_i64(o, i, unary_i64(n->op, ts_tensor_get_i64(x, i)));
        else
            ts_tensor_set_f64(o, i, unary_f64(n->op, ts_tensor_get_f64(x, i), gelu_tanh));
    }
    return TS_OK;
}

/* ---- cast --------------------------------------------------------------- */

enum ts_status ts_shape_cast(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    TS_TRY(ts_node_need_inputs(g, n, 1, d));
    const struct ts_value *x = ts_node_in(g, n, 0);
    const struct ts_attr *to = ts_node_attr(n, "to");
    if (!to->present)
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "attribute 'to' is missing: cast needs the dtype to convert to");
    if ((unsigned)to->dtype >= (unsigned)TS_DTYPE_COUNT)
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "attribute 'to' is not a dtype (code %d)", (int)to->dtype);
    int64_t dims[TS_MAX_RANK];
    int rank = ts_value_dims(x, dims);
    ts_value_set_shape(ts_node_out(g, n, 0), to->dtype, rank, dims);
    return TS_OK;
}

/* An integer as a double rounded to odd: exact up to 2^53, and above that the
 * lowest kept bit is set when bits were dropped. Rounding that once more to
 * f32, f16 or bf16 (at most 24 bits) then gives the correctly rounded result,
 * where a plain (double) conversion would round twice and can land on the
 * wrong side of a tie (bf16 of 2^62 + 2^54 + 1). */
static double i64_to_f64_odd(int64_t v) {
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int shift = 0;
    while ((m >> shift) >= ((uint64_t)1 << 53)) shift++;
    uint64_t kept = m >> shift;
    if (shift > 0 && (m & (((uint64_t)1 << shift) - 1)) != 0) kept |= 1;
    double r = ldexp((double)kept, shift);
    return v < 0 ? -r : r;
}

enum ts_status ts_ref_cast(const struct ts_graph *g, const struct ts_node *n,
                           const struct ts_tensor *const *in, struct ts_tensor *const *out,
                           struct ts_diag *d) {
    (void)g;
    (void)n;
    (void)d;
    const struct ts_tensor *x = in[0];
    struct ts_tensor *o = out[0];
    bool from_float = ts_dtype_is_float(x->dtype);
    for (int64_t i = 0; i < o->numel; i++) {
        if (o->dtype == TS_BOOL) {
            /* x != 0; NaN is nonzero, as in numpy and torch */
            bool v = from_float ? ts_tensor_get_f64(x, i) != 0 : ts_tensor_get_i64(x, i) != 0;
            ts_tensor_set_i64(o, i, v);
        } else if (from_float) {
            /* set_f64 rounds to nearest even for floats and truncates toward
             * zero (saturating, NaN → 0) for integers: the rules of FORMAT.md */
            ts_tensor_set_f64(o, i, ts_tensor_get_f64(x, i));
        } else if (ts_dtype_is_float(o->dtype)) {
            ts_tensor_set_f64(o, i, i64_to_f64_odd(ts_tensor_get_i64(x, i)));
        } else {
            ts_tensor_set_i64(o, i, ts_tensor_get_i64(x, i)); /* i64 → i32 wraps */
        }
    }
    return TS_OK;
}

/* ---- where -------------------------------------------------------------- */

enum ts_status ts_shape_where(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    TS_TRY(ts_node_need_inputs(g, n, 3, d));
    const struct ts_value *v[3] = {ts_node_in(g, n, 0), ts_node_in(g, n, 1), ts_node_in(g, n, 2)};
    char cond[TS_IN_LABEL_SIZE];
    if (v[0]->dtype != TS_BOOL)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "%s has dtype %s: where takes a bool condition",
                            ts_node_in_label(g, n, 0, "cond", cond, sizeof cond), ts_dtype_name(v[0]->dtype));
    if (v[1]->dtype != v[2]->dtype)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "inputs '%s' (%s) and '%s' (%s) differ in dtype: where takes one "
                            "dtype for both (no implicit promotion)",
                            v[1]->name, ts_dtype_name(v[1]->dtype), v[2]->name,
                            ts_dtype_name(v[2]->dtype));

    int64_t dims[3][TS_MAX_RANK], acc[TS_MAX_RANK], next[TS_MAX_RANK];
    int rank[3], racc, rnext;
    for (int i = 0; i < 3; i++) rank[i] = ts_value_dims(v[i], dims[i]);
    bool ok = ts_broadcast_shapes(rank[0], dims[0], rank[1], dims[1], &racc, acc) &&
              ts_broadcast_shapes(racc, acc, rank[2], dims[2], &rnext, next);
    if (!ok) {
        /* Shapes that broadcast pairwise broadcast together, so some pair conflicts. */
        for (int i = 0; i < 3; i++) {
            for (int j = i + 1; j < 3; j++) {
                int64_t x, y;
                if (!broadcast_conflict(rank[i], dims[i], rank[j], dims[j], &x, &y)) continue;
                char si[256], sj[256];
                return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                    "inputs '%s' %s and '%s' %s do not broadcast: dims %lld and %lld differ",
                                    v[i]->name, ts_value_shape_str(g, v[i], si, sizeof si), v[j]->name,
                                    ts_value_shape_str(g, v[j], sj, sizeof sj),
                                    (long long)x, (long long)y);
            }
        }
        TS_ASSERT(!"shapes broadcast pairwise but not together");
    }
    ts_value_set_shape(ts_node_out(g, n, 0), v[1]->dtype, rnext, next);
    return TS_OK;
}

enum ts_status ts_ref_where(const struct ts_graph *g, const struct ts_node *n,
                            const struct ts_tensor *const *in, struct ts_tensor *const *out,
                            struct ts_diag *d) {
    (void)g;
    (void)n;
    (void)d;
    struct ts_tensor *o = out[0];
    int64_t strides[3][TS_MAX_RANK], index[TS_MAX_RANK] = {0};
    for (int k = 0; k < 3; k++) ts_broadcast_strides(in[k]->rank, in[k]->dims, o->rank, o->dims, strides[k]);
    bool is_float = ts_dtype_is_float(o->dtype);
    for (int64_t i = 0; i < o->numel; i++) {
        bool c = ts_tensor_get_i64(in[0], offset_of(o->rank, index, strides[0])) != 0;
        const struct ts_tensor *src = c ? in[1] : in[2];
        int64_t j = offset_of(o->rank, index, c ? strides[1] : strides[2]);
        /* Copy exactly: floats through double, integers (i64 beyond 2^53) as integers. */
        if (is_float)
            ts_tensor_set_f64(o, i, ts_tensor_get_f64(src, j));
        else
            ts_tensor_set_i64(o, i, ts_tensor_get_i64(src, j));
        ts_index_next(o->rank, o->dims, index);
    }
    return TS_OK;
}
