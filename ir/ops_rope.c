/* ops_rope.c — rope: rotary position embedding on x [..., seq, head_dim], in the
 * rotate-half layout (GPT-NeoX, LLaMA) or the interleaved one (GPT-J), with
 * positions 0..seq-1 or from an integer tensor broadcast to x's shape without
 * its last dim. FORMAT.md "rope" is the definition this follows. */
#include <math.h>

#include "internal.h"

/* rotary_dim, with its default (head_dim) applied. */
static int64_t rotary_dim(const struct ts_node *n, int64_t head_dim) {
    const struct ts_attr *a = ts_node_attr(n, "rotary_dim");
    return a->present ? a->i : head_dim;
}

enum ts_status ts_shape_rope(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    struct ts_value *x = ts_node_in(g, n, 0), *pos = ts_node_in(g, n, 1);
    int64_t xd[TS_MAX_RANK], pd[TS_MAX_RANK];
    int rank = ts_node_in_dims(g, n, 0, xd);
    char xs[160], ps[160], xl[TS_IN_LABEL_SIZE], pl[TS_IN_LABEL_SIZE];
    ts_node_in_label(g, n, 0, "x", xl, sizeof xl);
    ts_node_in_label(g, n, 1, "positions", pl, sizeof pl);
    if (!ts_dtype_is_float(x->dtype))
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "%s has dtype %s, expected a float dtype", xl,
                            ts_dtype_name(x->dtype));
    if (rank < 2)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "%s has rank %d, expected rank >= 2 ([..., seq, head_dim])", xl, rank);
    double theta = ts_node_attr(n, "theta")->f;
    if (!(theta > 0) || isinf(theta))
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "theta %g must be positive and finite", theta);
    int64_t head_dim = xd[rank - 1], r = rotary_dim(n, head_dim);
    if (r <= 0 || r % 2 != 0) {
        bool given = ts_node_attr(n, "rotary_dim")->present;
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "rotary_dim %lld must be even and positive%s",
                            (long long)r, given ? "" : " (it defaults to head_dim)");
    }
    if (r > head_dim)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "rotary_dim %lld is larger than head_dim %lld of %s",
                            (long long)r, (long long)head_dim, xl);
    if (pos) {
        int pr = ts_node_in_dims(g, n, 1, pd);
        if (!ts_dtype_is_int(pos->dtype))
            return ts_diag_node(d, g, n, TS_ERR_SHAPE, "%s has dtype %s, expected i32 or i64", pl,
                                ts_dtype_name(pos->dtype));
        /* Broadcastable to x.shape[:-1]: aligned from the right, each dim equal or 1. */
        bool ok = pr <= rank - 1;
        for (int i = 0; ok && i < pr; i++) {
            int64_t want = xd[rank - 1 - pr + i];
            ok = pd[i] == want || pd[i] == 1;
        }
        if (!ok)
            return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                "%s of shape %s does not broadcast to %s, the shape of %s without "
                                "its last dim",
                                pl, ts_value_shape_str(g, pos, ps, sizeof ps),
                                ts_dims_str(rank - 1, xd, xs, sizeof xs), xl);
    }
    ts_value_set_shape(ts_node_out(g, n, 0), x->dtype, rank, xd);
    return TS_OK;
}

enum ts_status ts_ref_rope(const struct ts_graph *g, const struct ts_node *n,
                           const struct ts_tensor *const *in, struct ts_tensor *const *out,
                           struct ts_diag *d) {
    (void)g;
    (void)d;
    const struct ts_tensor *x = in[0], *pos = n->ninputs > 1 ? in[1] : NULL;
    struct ts_tensor *y = out[0];
    int rank = x->rank, rows_rank = rank - 1;
    int64_t head_dim = x->dims[rank - 1], r = rotary_dim(n, head_dim), half = r / 2;
    double theta = ts_node_attr(n, "theta")->f;
    bool interleaved = ts_node_attr(n, "interleaved")->i != 0;
    TS_ASSERT(rank >= 2 && r > 0 && r % 2 == 0 && r <= head_dim && y->numel == x->numel);
    if (x->numel == 0) return TS_OK;

    /* A "row" is one head_dim vector; idx walks x.shape[:-1]. */
    int64_t ps[TS_MAX_RANK] = {0}, idx[TS_MAX_RANK] = {0};
    if (pos) ts_broadcast_strides(pos->rank, pos->dims, rows_rank, x->dims, ps);
    int64_t row = 0;
    do {
        int64_t p = idx[rows_rank - 1]; /* default: the index along seq */
        if (pos) {
            int64_t off = 0;
            for (int i = 0; i < rows_rank; i++) off += idx[i] * ps[i];
            p = ts_tensor_get_i64(pos, off);
        }
        int64_t base = row * head_dim;
        for (int64_t i = 0; i < half; i++) {
            double angle = (double)p * pow(theta, -2.0 * (double)i / (double)r);
            double c = cos(angle), s = sin(angle);
            /* The pair (a, b) that rotates together. */
            int64_t ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
            double a = ts_tensor_get_f64(x, base + ia), b = ts_tensor_get_f64(x, base + ib);
            ts_tensor_set_f64(y, base + ia, a * c - b * s);
            ts_tensor_set_f64(y, base + ib, b * c + a * s);
        }
        for (int64_t i = r; i < head_dim; i++) /* past rotary_dim: unchanged */
            ts_tensor_set_f64(y, base + i, ts_tensor_get_f64(x, base + i));
        row++;
    } while (ts_index_next(rows_rank, x->dims, idx));
    return TS_OK;
}
