/* ops_matmul.c — matmul's shape rule and reference kernel: numpy matmul on the
 * last two dims of operands of rank >= 2, leading (batch) dims broadcast, and
 * transpose_a / transpose_b swapping an operand's last two dims. Float dot
 * products accumulate in double; integer ones wrap in 64 bits. */
#include <stdlib.h>

#include "internal.h"

enum ts_status ts_shape_matmul(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    TS_TRY(ts_node_need_inputs(g, n, 2, d));
    const struct ts_value *a = ts_node_in(g, n, 0), *b = ts_node_in(g, n, 1);
    char sa[256], sb[256];
    ts_value_shape_str(g, a, sa, sizeof sa);
    ts_value_shape_str(g, b, sb, sizeof sb);
    if (a->dtype != b->dtype)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "inputs '%s' (%s) and '%s' (%s) differ in dtype: matmul takes one "
                            "dtype for both (no implicit promotion)",
                            a->name, ts_dtype_name(a->dtype), b->name, ts_dtype_name(b->dtype));
    if (!ts_dtype_is_float(a->dtype) && !ts_dtype_is_int(a->dtype))
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "inputs '%s' and '%s' have dtype %s: matmul takes f32, f16, bf16, "
                            "i32 or i64",
                            a->name, b->name, ts_dtype_name(a->dtype));

    int64_t da[TS_MAX_RANK], db[TS_MAX_RANK], dout[TS_MAX_RANK];
    int ra = ts_value_dims(a, da), rb = ts_value_dims(b, db), rout;
    if (ra < 2)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "input '%s' %s has rank %d: matmul takes operands of rank 2 or more",
                            a->name, sa, ra);
    if (rb < 2)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "input '%s' %s has rank %d: matmul takes operands of rank 2 or more",
                            b->name, sb, rb);

    bool ta = ts_node_attr(n, "transpose_a")->i != 0, tb = ts_node_attr(n, "transpose_b")->i != 0;
    int64_t m = ta ? da[ra - 1] : da[ra - 2], ka = ta ? da[ra - 2] : da[ra - 1];
    int64_t kb = tb ? db[rb - 1] : db[rb - 2], nn = tb ? db[rb - 2] : db[rb - 1];
    if (ka != kb)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "inputs '%s' %s and '%s' %s do not contract: K is %lld in '%s' and "
                            "%lld in '%s' (transpose_a %s, transpose_b %s)",
                            a->name, sa, b->name, sb, (long long)ka, a->name, (long long)kb, b->name,
                            ta ? "true" : "false", tb ? "true" : "false");

    if (!ts_broadcast_shapes(ra - 2, da, rb - 2, db, &rout, dout)) {
        int64_t x = 0, y = 0;
        for (int k = 1; k <= ra - 2 && k <= rb - 2; k++) {
            x = da[ra - 2 - k];
            y = db[rb - 2 - k];
            if (x != y && x != 1 && y != 1) break;
        }
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "batch dims of inputs '%s' %s and '%s' %s do not broadcast: dims "
                            "%lld and %lld differ",
                            a->name, sa, b->name, sb, (long long)x, (long long)y);
    }
    /* broadcast batch rank <= max(ra, rb) - 2, so two more dims still fit */
    dout[rout] = m;
    dout[rout + 1] = nn;
    ts_value_set_shape(ts_node_out(g, n, 0), a->dtype, rout + 2, dout);
    return TS_OK;
}

/* One batch of the product reads an M×K matrix of a and a K×N matrix of b,
 * each at a matrix index found by broadcasting the batch dims. */
struct matmul_dims {
    int64_t m, n, k;
    bool ta, tb;
};

/* Element (row, col) of a's M×K view (or b's K×N view) in the stored matrix
 * starting at base, whose stored layout is [rows, cols] or, transposed, [cols, rows]. */
static int64_t at(int64_t base, bool transposed, int64_t row, int64_t col, int64_t rows, int64_t cols) {
    return transposed ? base + col * rows + row : base + row * cols + col;
}

/* Copies each operand matrix to double once per batch so that the O(MNK) loop
 * is plain arithmetic; the i-k-j order keeps it streaming over rows of B and C
 * while each output still sums its products in k order. */
static void matmul_batch_f64(const struct ts_tensor *a, int64_t abase, const struct ts_tensor *b,
                             int64_t bbase, struct ts_tensor *o, int64_t obase,
                             const struct matmul_dims *s, double *A, double *B, double *C) {
    for (int64_t i = 0; i < s->m; i++)
        for (int64_t p = 0; p < s->k; p++)
            A[i * s->k + p] = ts_tensor_get_f64(a, at(abase, s->ta, i, p, s->m, s->k));
    for (int64_t p = 0; p < s->k; p++)
        for (int64_t j = 0; j < s->n; j++)
            B[p * s->n + j] = ts_tensor_get_f64(b, at(bbase, s->tb, p, j, s->k, s->n));
    for (int64_t i = 0; i < s->m; i++) {
        for (int64_t j = 0; j < s->n; j++) C[j] = 0;
        for (int64_t p = 0; p < s->k; p++) {
            double av = A[i * s->k + p];
            const double *brow = B + p * s->n;
            for (int64_t j = 0; j < s->n; j++) C[j] += av * brow[j];
        }
        for (int64_t j = 0; j < s->n; j++) ts_tensor_set_f64(o, obase + i * s->n + j, C[j]);
    }
}

/* The integer twin: products and sums wrap in uint64_t (two's complement);
 * storing to i32 keeps the low 32 bits, which is i32 wrapping arithmetic. */
static void matmul_batch_i64(const struct ts_tensor *a, int64_t abase, const struct ts_tensor *b,
                             int64_t bbase, struct ts_tensor *o, int64_t obase,
                             const struct matmul_dims *s, uint64_t *A, uint64_t *B, uint64_t *C) {
    for (int64_t i = 0; i < s->m; i++)
        for (int64_t p = 0; p < s->k; p++)
            A[i * s->k + p] = (uint64_t)ts_tensor_get_i64(a, at(abase, s->ta, i, p, s->m, s->k));
    for (int64_t p = 0; p < s->k; p++)
        for (int64_t j = 0; j < s->n; j++)
            B[p * s->n + j] = (uint64_t)ts_tensor_get_i64(b, at(bbase, s->tb, p, j, s->k, s->n));
    for (int64_t i = 0; i < s->m; i++) {
        for (int64_t j = 0; j < s->n; j++) C[j] = 0;
        for (int64_t p = 0; p < s->k; p++) {
            uint64_t av = A[i * s->k + p];
            const uint64_t *brow = B + p * s->n;
            for (int64_t j = 0; j < s->n; j++) C[j] += av * brow[j];
        }
        for (int64_t j = 0; j < s->n; j++) ts_tensor_set_i64(o, obase + i * s->n + j, (int64_t)C[j]);
    }
}

enum ts_status ts_ref_matmul(const struct ts_graph *g, const struct ts_node *n,
                             const struct ts_tensor *const *in, struct ts_tensor *const *out,
                             struct ts_diag *d) {
    const struct ts_tensor *a = in[0], *b = in[1];
    struct ts_tensor *o = out[0];
    if (o->numel == 0) return TS_OK;
    struct matmul_dims s = {
        .m = o->dims[o->rank - 2],
        .n = o->dims[o->rank - 1],
        .ta = ts_node_attr(n, "transpose_a")->i != 0,
        .tb = ts_node_attr(n, "transpose_b")->i != 0,
    };
    s.k = s.ta ? a->dims[a->rank - 2] : a->dims[a->rank - 1];

    /* Strides over the batch dims count whole matrices; stretched dims get 0.
     * Since o is not empty, no batch dim of a or b is 0, so an operand's
     * matrix (M*K or K*N elements) lies within its data and cannot overflow. */
    int nbatch_dims = o->rank - 2;
    int64_t astride[TS_MAX_RANK], bstride[TS_MAX_RANK], index[TS_MAX_RANK] = {0};
    ts_broadcast_strides(a->rank - 2, a->dims, nbatch_dims, o->dims, astride);
    ts_broadcast_strides(b->rank - 2, b->dims, nbatch_dims, o->dims, bstride);
    int64_t nbatch = o->numel / (s.m * s.n);

    bool integer = ts_dtype_is_int(o->dtype);
    size_t elem = integer ? sizeof(uint64_t) : sizeof(double);
    /* +1 so that K = 0 never asks malloc for nothing */
    void *A = malloc((size_t)(s.m * s.k + 1) * elem);
    void *B = malloc((size_t)(s.k * s.n + 1) * elem);
    void *C = malloc((size_t)(s.n + 1) * elem);
    if (!A || !B || !C) {
        free(A);
        free(B);
        free(C);
        return ts_diag_node(d, g, n, TS_ERR_NOMEM,
                            "out of memory for matmul scratch (M %lld, N %lld, K %lld)", (long long)s.m,
                            (long long)s.n, (long long)s.k);
    }
    for (int64_t t = 0; t < nbatch; t++) {
        int64_t abase = 0, bbase = 0;
        for (int k = 0; k < nbatch_dims; k++) {
            abase += index[k] * astride[k];
            bbase += index[k] * bstride[k];
        }
        abase *= s.m * s.k;
        bbase *= s.k * s.n;
        int64_t obase = t * s.m * s.n;
        if (integer)
            matmul_batch_i64(a, abase, b, bbase, o, obase, &s, A, B, C);
        else
            matmul_batch_f64(a, abase, b, bbase, o, obase, &s, A, B, C);
        ts_index_next(nbatch_dims, o->dims, index);
    }
    free(A);
    free(B);
    free(C);
    return TS_OK;
}
