/* ops_reduce.c — shape rules and reference kernels of the reductions: softmax
 * along any axis, layernorm and rmsnorm over the last dim, and reduce_sum /
 * reduce_mean / reduce_max over a list of axes. Float dtypes only; every sum,
 * mean, variance and softmax denominator accumulates in double. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

/* How messages name input x (see ts_node_in_label). */
static const char *x_label(const struct ts_graph *g, const struct ts_node *n, char *buf) {
    return ts_node_in_label(g, n, 0, "x", buf, TS_IN_LABEL_SIZE);
}

/* All of these ops take one float input x and refuse the rest. */
static enum ts_status need_float_x(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    TS_TRY(ts_node_need_inputs(g, n, 1, d));
    const struct ts_value *x = ts_node_in(g, n, 0);
    char xl[TS_IN_LABEL_SIZE];
    if (!ts_dtype_is_float(x->dtype))
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "%s has dtype %s: %s takes f32, f16 or bf16",
                            x_label(g, n, xl), ts_dtype_name(x->dtype), ts_op_get(n->op)->name);
    return TS_OK;
}

/* Output = x's dtype and shape. */
static void set_like_x(struct ts_graph *g, struct ts_node *n) {
    const struct ts_value *x = ts_node_in(g, n, 0);
    int64_t dims[TS_MAX_RANK];
    int rank = ts_value_dims(x, dims);
    ts_value_set_shape(ts_node_out(g, n, 0), x->dtype, rank, dims);
}

/* ---- softmax ------------------------------------------------------------- */

enum ts_status ts_shape_softmax(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    TS_TRY(need_float_x(g, n, d));
    const struct ts_value *x = ts_node_in(g, n, 0);
    int64_t axis = ts_node_attr(n, "axis")->i;
    int ax;
    char xl[TS_IN_LABEL_SIZE];
    if (!ts_axis_normalize(axis, x->rank, &ax))
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "axis %lld is out of range for %s of rank %d",
                            (long long)axis, x_label(g, n, xl), x->rank);
    set_like_x(g, n);
    return TS_OK;
}

/* A tensor seen as [outer, len, inner] around one axis: element (o, j, i) is
 * at (o * len + j) * inner + i. */
static void split_at_axis(const struct ts_tensor *t, int axis, int64_t *outer, int64_t *len,
                          int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int k = 0; k < axis; k++) *outer *= t->dims[k];
    for (int k = axis + 1; k < t->rank; k++) *inner *= t->dims[k];
    *len = t->dims[axis];
}

enum ts_status ts_ref_softmax(const struct ts_graph *g, const struct ts_node *n,
                              const struct ts_tensor *const *in, struct ts_tensor *const *out,
                              struct ts_diag *d) {
    (void)g;
    (void)d;
    const struct ts_tensor *x = in[0];
    struct ts_tensor *o = out[0];
    if (x->numel == 0) return TS_OK;
    int ax;
    bool axis_ok = ts_axis_normalize(ts_node_attr(n, "axis")->i, x->rank, &ax);
    TS_ASSERT(axis_ok); /* the shape rule checked it */
    int64_t outer, len, inner;
    split_at_axis(x, ax, &outer, &len, &inner);
    for (int64_t p = 0; p < outer; p++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = p * len * inner + i;
            /* Subtracting the max keeps exp from overflowing; it cancels out.
             * A NaN in the row makes the sum, and so the whole row, NaN. */
            double max = -INFINITY, sum = 0;
            for (int64_t j = 0; j < len; j++) max = fmax(max, ts_tensor_get_f64(x, base + j * inner));
            for (int64_t j = 0; j < len; j++) sum += exp(ts_tensor_get_f64(x, base + j * inner) - max);
            for (int64_t j = 0; j < len; j++) {
                int64_t at = base + j * inner;
                ts_tensor_set_f64(o, at, exp(ts_tensor_get_f64(x, at) - max) / sum);
            }
        }
    }
    return TS_OK;
}

/* ---- layernorm, rmsnorm ------------------------------------------------------ */

enum ts_status ts_shape_norm(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    const char *op = ts_op_get(n->op)->name;
    TS_TRY(need_float_x(g, n, d));
    const struct ts_value *x = ts_node_in(g, n, 0);
    char sx[256], xl[TS_IN_LABEL_SIZE];
    ts_value_shape_str(g, x, sx, sizeof sx);
    x_label(g, n, xl);
    if (x->rank < 1)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "%s is a scalar: %s normalizes over the last dim, so it takes rank 1 "
                            "or more",
                            xl, op);
    /* The last dim, written either way (FORMAT.md: negative axes count from the end). */
    int64_t axis = ts_node_attr(n, "axis")->i;
    if (axis != -1 && axis != x->rank - 1)
        return ts_diag_node(d, g, n, TS_ERR_GRAPH,
                            "axis %lld is not supported: %s normalizes over the last dim only "
                            "(axis -1 or %d for %s of rank %d)",
                            (long long)axis, op, x->rank - 1, xl, x->rank);
    double eps = ts_node_attr(n, "eps")->f;
    if (!(eps >= 0) || isinf(eps))
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "eps %g is invalid: %s takes a finite eps >= 0", eps, op);

    int64_t dx[TS_MAX_RANK];
    ts_value_dims(x, dx);
    int64_t c = dx[x->rank - 1];
    static const char *roles[] = {"x", "weight", "bias"};
    for (int i = 1; i < n->ninputs && i < 3; i++) {
        const struct ts_value *w = ts_node_in(g, n, i);
        if (!w) continue; /* an omitted weight is 1, an omitted bias 0 */
        char sw[256], wl[TS_IN_LABEL_SIZE];
        ts_node_in_label(g, n, i, roles[i], wl, sizeof wl);
        if (w->dtype != x->dtype)
            return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                "%s has dtype %s but %s has %s: %s takes one dtype for all its "
                                "inputs",
                                wl, ts_dtype_name(w->dtype), xl, ts_dtype_name(x->dtype), op);
        if (w->rank != 1 || w->dims[0].size != c)
            return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                "%s has shape %s: %s takes a %s of shape [%lld], the last dim of "
                                "%s of shape %s",
                                wl, ts_value_shape_str(g, w, sw, sizeof sw), op, roles[i],
                                (long long)c, xl, sx);
    }
    set_like_x(g, n);
    return TS_OK;
}

enum ts_status ts_ref_norm(const struct ts_graph *g, const struct ts_node *n,
                           const struct ts_tensor *const *in, struct ts_tensor *const *out,
                           struct ts_diag *d) {
    (void)g;
    (void)d;
    const struct ts_tensor *x = in[0];
    const struct ts_tensor *w = n->ninputs > 1 ? in[1] : NULL;
    const struct ts_tensor *b = n->op == TS_OP_LAYERNORM && n->ninputs > 2 ? in[2] : NULL;
    struct ts_tensor *o = out[0];
    if (x->numel == 0) return TS_OK; /* also covers a last dim of 0 */
    bool layer = n->op == TS_OP_LAYERNORM;
    double eps = ts_node_attr(n, "eps")->f;
    int64_t c = x->dims[x->rank - 1], rows = x->numel / c;
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = r * c;
        /* layernorm: mean, then the biased variance around it (two passes, so
         * a large mean does not cancel the variance away); rmsnorm: mean(x²) */
        double mean = 0, var = 0;
        if (layer) {
            for (int64_t j = 0; j < c; j++) mean += ts_tensor_get_f64(x, base + j);
            mean /= (double)c;
        }
        for (int64_t j = 0; j < c; j++) {
            double v = ts_tensor_get_f64(x, base + j) - mean;
            var += v * v;
        }
        var /= (double)c;
        double inv = 1.0 / sqrt(var + eps);
        for (int64_t j = 0; j < c; j++) {
            double y = (ts_tensor_get_f64(x, base + j) - mean) * inv;
            if (w) y *= ts_tensor_get_f64(w, j);
            if (b) y += ts_tensor_get_f64(b, j);
            ts_tensor_set_f64(o, base + j, y);
        }
    }
    return TS_OK;
}

/* ---- reduce_sum, reduce_mean, reduce_max ------------------------------------- */

/* Marks the axes the node reduces; TS_ERR_GRAPH for an axis out of range or
 * named twice. */
static enum ts_status reduced_axes(const struct ts_graph *g, const struct ts_node *n, int rank,
                                   bool *reduced, struct ts_diag *d) {
    const struct ts_attr *axes = ts_node_attr(n, "axes");
    if (!axes->present)
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "attribute 'axes' is missing: %s needs the axes to reduce",
                            ts_op_get(n->op)->name);
    for (int k = 0; k < rank; k++) reduced[k] = false;
    for (int i = 0; i < axes->n; i++) {
        int ax;
        char xl[TS_IN_LABEL_SIZE];
        if (!ts_axis_normalize(axes->ints[i], rank, &ax))
            return ts_diag_node(d, g, n, TS_ERR_GRAPH, "axes: %lld is out of range for %s of rank %d",
                                (long long)axes->ints[i], x_label(g, n, xl), rank);
        if (reduced[ax]) {
            int64_t first = 0;
            for (int j = 0; j < i; j++) {
                int other;
                if (ts_axis_normalize(axes->ints[j], rank, &other) && other == ax) {
                    first = axes->ints[j];
                    break;
                }
            }
            return ts_diag_node(d, g, n, TS_ERR_GRAPH, "axes: %lld and %lld both name axis %d",
                                (long long)first, (long long)axes->ints[i], ax);
        }
        reduced[ax] = true;
    }
    return TS_OK;
}

enum ts_status ts_shape_reduce(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    const char *op = ts_op_get(n->op)->name;
    TS_TRY(need_float_x(g, n, d));
    const struct ts_value *x = ts_node_in(g, n, 0);
    int64_t dx[TS_MAX_RANK], dout[TS_MAX_RANK];
    int rx = ts_value_dims(x, dx), rout = 0;
    bool reduced[TS_MAX_RANK];
    TS_TRY(reduced_axes(g, n, rx, reduced, d));
    bool keepdims = ts_node_attr(n, "keepdims")->i != 0;
    for (int k = 0; k < rx; k++) {
        /* A sum of nothing is 0; a mean or max of nothing has no value. */
        if (reduced[k] && dx[k] == 0 && n->op != TS_OP_REDUCE_SUM) {
            char sx[256], xl[TS_IN_LABEL_SIZE];
            return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                "%s of shape %s has size 0 on reduced axis %d: %s of no elements "
                                "is undefined",
                                x_label(g, n, xl), ts_value_shape_str(g, x, sx, sizeof sx), k, op);
        }
        if (!reduced[k])
            dout[rout++] = dx[k];
        else if (keepdims)
            dout[rout++] = 1;
    }
    ts_value_set_shape(ts_node_out(g, n, 0), x->dtype, rout, dout);
    return TS_OK;
}

/* One pass over x, adding each element into its output's accumulator: an
 * output's flat index is x's multi-index under the keepdims shape's strides,
 * with stride 0 on the reduced axes. */
enum ts_status ts_ref_reduce(const struct ts_graph *g, const struct ts_node *n,
                             const struct ts_tensor *const *in, struct ts_tensor *const *out,
                             struct ts_diag *d) {
    const struct ts_tensor *x = in[0];
    struct ts_tensor *o = out[0];
    if (o->numel == 0) return TS_OK;
    bool reduced[TS_MAX_RANK];
    TS_TRY(reduced_axes(g, n, x->rank, reduced, d));
    int64_t kept[TS_MAX_RANK], ostride[TS_MAX_RANK], index[TS_MAX_RANK] = {0}, count = 1;
    for (int k = 0; k < x->rank; k++) {
        kept[k] = reduced[k] ? 1 : x->dims[k];
        if (reduced[k]) count *= x->dims[k];
    }
    ts_shape_strides(x->rank, kept, ostride);
    for (int k = 0; k < x->rank; k++)
        if (reduced[k]) ostride[k] = 0;

    double *acc = malloc((size_t)o->numel * sizeof(double));
    if (!acc)
        return ts_diag_node(d, g, n, TS_ERR_NOMEM, "out of memory for %lld reduction accumulators",
                            (long long)o->numel);
    bool is_max = n->op == TS_OP_REDUCE_MAX;
    /* -0.0 is the exact identity of IEEE addition: a reduction over size-1
     * axes then copies x bit for bit, -0.0 included. */
    for (int64_t j = 0; j < o->numel; j++) acc[j] = is_max ? -INFINITY : -0.0;
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t j = 0;
        for (int k = 0; k < x->rank; k++) j += index[k] * ostride[k];
        double v = ts_tensor_get_f64(x, i);
        if (!is_max)
            acc[j] += v;
        else if (v > acc[j] || isnan(v)) /* NaN propagates: once there, nothing exceeds it */
            acc[j] = v;
        ts_index_next(x->rank, x->dims, index);
    }
    for (int64_t j = 0; j < o->numel; j++) {
        double v = acc[j];
        if (count == 0) v = 0; /* reduce_sum of nothing (the shape rule refused the others) */
        else if (n->op == TS_OP_REDUCE_MEAN) v /= (double)count;
        ts_tensor_set_f64(o, j, v);
    }
    free(acc);
    return TS_OK;
}
