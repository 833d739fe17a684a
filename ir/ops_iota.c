/* ops_iota.c — iota: a tensor of a given (possibly symbolic) shape counting
 * along one axis, out[idx] = start + step·idx[axis]. It has no inputs, so once
 * symbols are bound the fold pass turns it into a constant; what it is for is
 * index tensors whose size is a symbol (ONNX's Range over a sequence length,
 * the key positions of a cache of max_seq rows), which no inline constant can
 * hold. Values are checked to be exact in the dtype, so every backend (the
 * fused kernel computes in I64 and casts once) agrees with this reference. */
#include <string.h>

#include "internal.h"

/* Largest |value| kept exact: i32's range, or 2^24 for the float dtypes
 * (f32's integer range; f16/bf16 then round once, from an exact double). */
static int64_t iota_limit(enum ts_dtype dt) {
    if (dt == TS_I64) return INT64_MAX;
    if (dt == TS_I32) return INT32_MAX;
    return (int64_t)1 << 24;
}

enum ts_status ts_shape_iota(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    const struct ts_attr *shape = ts_node_attr(n, "shape");
    const struct ts_attr *dta = ts_node_attr(n, "dtype");
    enum ts_dtype dt = dta->present ? dta->dtype : TS_I32;
    if (dt == TS_BOOL) return ts_diag_node(d, g, n, TS_ERR_GRAPH, "dtype bool cannot count; use i32, i64 or a float");
    if (shape->n < 1 || shape->n > TS_MAX_RANK)
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "shape has %d dims; iota needs 1 to %d", shape->n, TS_MAX_RANK);
    int64_t dims[TS_MAX_RANK];
    for (int i = 0; i < shape->n; i++) {
        const struct ts_dim *dim = &shape->dims[i];
        int64_t s;
        TS_TRY(ts_node_attr_dim(g, n, dim, &s, d));
        if (s < 0) {
            return ts_diag_node(d, g, n, TS_ERR_GRAPH, "shape entry %d is %lld; sizes must be >= 0", i, (long long)s);
        }
        dims[i] = s;
    }
    int axis;
    int64_t a = ts_node_attr(n, "axis")->i;
    if (!ts_axis_normalize(a, shape->n, &axis))
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "axis %lld is outside a shape of rank %d", (long long)a, shape->n);
    int64_t start = ts_node_attr(n, "start")->i, step = ts_node_attr(n, "step")->i, last = start, span;
    if (dims[axis] > 0 && (__builtin_mul_overflow(step, dims[axis] - 1, &span) ||
                           __builtin_add_overflow(start, span, &last)))
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "start %lld + step %lld x %lld leaves the 64-bit range",
                            (long long)start, (long long)step, (long long)(dims[axis] - 1));
    int64_t lim = iota_limit(dt);
    if (dt != TS_I64 && (start > lim || start < -lim || last > lim || last < -lim))
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "values %lld .. %lld are not all exact in %s (|v| <= %lld)",
                            (long long)start, (long long)last, ts_dtype_name(dt), (long long)lim);
    ts_value_set_shape(ts_node_out(g, n, 0), dt, shape->n, dims);
    return TS_OK;
}

enum ts_status ts_ref_iota(const struct ts_graph *g, const struct ts_node *n, const struct ts_tensor *const *in,
                           struct ts_tensor *const *out, struct ts_diag *d) {
    (void)g;
    (void)in;
    (void)d;
    struct ts_tensor *o = out[0];
    int axis = 0;
    bool ok = ts_axis_normalize(ts_node_attr(n, "axis")->i, o->rank, &axis);
    TS_ASSERT(ok); /* the shape rule checked it */
    (void)ok;
    int64_t inner = 1;
    for (int i = axis + 1; i < o->rank; i++) inner *= o->dims[i];
    int64_t len = o->dims[axis], start = ts_node_attr(n, "start")->i, step = ts_node_attr(n, "step")->i;
    bool ints = !ts_dtype_is_float(o->dtype);
    for (int64_t i = 0; i < o->numel; i++) {
        int64_t v = start + step * ((i / inner) % len); /* no overflow: checked by the shape rule */
        if (ints) ts_tensor_set_i64(o, i, v);
        else ts_tensor_set_f64(o, i, (double)v); /* exact: |v| <= 2^24 */
    }
    return TS_OK;
}
