/* ops_movement.c — data movement: transpose, reshape, slice, concat, split and
 * gather. Each op has a shape rule (checks dtypes, shapes and attribute values,
 * sets the outputs) and a reference kernel. The kernels copy whole elements as
 * bytes, so every dtype (i64 beyond 2^53, bool, NaN payloads, -0) moves exactly. */
#include <string.h>

#include "internal.h"

/* ---- small helpers ------------------------------------------------------ */

/* a * b into *out; false on overflow (sizes come from user input). */
static bool mul_ok(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

static int64_t prod(const int64_t *dims, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= dims[i]; /* fits: the tensor's numel does */
    return p;
}

/* Copies count consecutive elements; byte copies keep every dtype exact and
 * tolerate the unaligned data of mmapped weights. */
static void copy_elems(struct ts_tensor *dst, int64_t di, const struct ts_tensor *src, int64_t si,
                       int64_t count) {
    size_t es = ts_dtype_size(src->dtype);
    if (count <= 0) return;
    memcpy((char *)dst->data + (size_t)di * es, (const char *)src->data + (size_t)si * es,
           (size_t)count * es);
}

/* The axis attribute normalized against the rank of input 0 (called 'role'). */
static enum ts_status axis_of(struct ts_graph *g, struct ts_node *n, const char *role, int rank,
                              int *axis, struct ts_diag *d) {
    int64_t a = ts_node_attr(n, "axis")->i;
    char x[TS_IN_LABEL_SIZE];
    if (!ts_axis_normalize(a, rank, axis))
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "axis %lld is out of range for %s of rank %d",
                            (long long)a, ts_node_in_label(g, n, 0, role, x, sizeof x), rank);
    return TS_OK;
}

/* The axis of a node whose shape rule already accepted it. */
static int ref_axis(const struct ts_node *n, int rank) {
    int axis = 0;
    bool ok = ts_axis_normalize(ts_node_attr(n, "axis")->i, rank, &axis);
    TS_ASSERT(ok);
    return axis;
}

/* ---- transpose ---------------------------------------------------------- */

/* perm with its entries normalized (an entry may count from the end, like any
 * axis); false unless it names each of the rank axes exactly once. */
static bool perm_axes(const struct ts_attr *perm, int rank, int *axes) {
    bool seen[TS_MAX_RANK] = {false};
    if (perm->n != rank) return false;
    for (int i = 0; i < rank; i++) {
        if (!ts_axis_normalize(perm->ints[i], rank, &axes[i]) || seen[axes[i]]) return false;
        seen[axes[i]] = true;
    }
    return true;
}

enum ts_status ts_shape_transpose(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    int64_t dims[TS_MAX_RANK], out[TS_MAX_RANK];
    int rank = ts_node_in_dims(g, n, 0, dims), axes[TS_MAX_RANK];
    const struct ts_attr *perm = ts_node_attr(n, "perm");
    if (!perm_axes(perm, rank, axes)) {
        char buf[128], x[TS_IN_LABEL_SIZE];
        ts_dims_str(perm->n, perm->ints, buf, sizeof buf);
        ts_node_in_label(g, n, 0, "x", x, sizeof x);
        if (rank == 0)
            return ts_diag_node(d, g, n, TS_ERR_GRAPH, "perm %s must be empty for %s of rank 0",
                                buf, x);
        if (perm->n != rank)
            return ts_diag_node(d, g, n, TS_ERR_GRAPH, "perm %s has length %d, but %s has rank %d",
                                buf, perm->n, x, rank);
        return ts_diag_node(d, g, n, TS_ERR_GRAPH,
                            "perm %s does not name each axis of %s of rank %d exactly once (the "
                            "axes are 0..%d, or -%d..-1 counting from the end)",
                            buf, x, rank, rank - 1, rank);
    }
    for (int i = 0; i < rank; i++) out[i] = dims[axes[i]];
    struct ts_value *x = ts_node_in(g, n, 0);
    ts_value_set_shape(ts_node_out(g, n, 0), x->dtype, rank, out);
    return TS_OK;
}

enum ts_status ts_ref_transpose(const struct ts_graph *g, const struct ts_node *n,
                                const struct ts_tensor *const *in, struct ts_tensor *const *out,
                                struct ts_diag *d) {
    (void)g;
    (void)d;
    const struct ts_tensor *x = in[0];
    struct ts_tensor *y = out[0];
    int rank = x->rank, axes[TS_MAX_RANK];
    bool ok = perm_axes(ts_node_attr(n, "perm"), rank, axes); /* the shape rule checked it */
    TS_ASSERT(ok && y->rank == rank && y->dtype == x->dtype);
    if (y->numel == 0) return TS_OK;
    int64_t xs[TS_MAX_RANK], idx[TS_MAX_RANK] = {0};
    ts_shape_strides(rank, x->dims, xs);
    /* Walk the output in order; output axis i reads input axis perm[i]. */
    int64_t o = 0;
    do {
        int64_t src = 0;
        for (int i = 0; i < rank; i++) src += idx[i] * xs[axes[i]];
        copy_elems(y, o++, x, src, 1);
    } while (ts_index_next(rank, y->dims, idx));
    return TS_OK;
}

/* ---- reshape ------------------------------------------------------------ */

enum ts_status ts_shape_reshape(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    struct ts_value *x = ts_node_in(g, n, 0);
    const struct ts_attr *shape = ts_node_attr(n, "shape");
    int64_t out[TS_MAX_RANK];
    if (shape->n > TS_MAX_RANK)
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "shape has %d dims, more than the %d allowed",
                            shape->n, TS_MAX_RANK);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < shape->n; i++) {
        const struct ts_dim *dim = &shape->dims[i];
        int64_t s;
        TS_TRY(ts_node_attr_dim(g, n, dim, &s, d));
        if (dim->sym < 0 && s == -1) {
            if (infer >= 0)
                return ts_diag_node(d, g, n, TS_ERR_GRAPH,
                                    "shape has more than one -1 (entries %d and %d)", infer, i);
            infer = i;
            continue;
        } else if (dim->sym < 0 && s < 0) {
            return ts_diag_node(d, g, n, TS_ERR_GRAPH,
                                "shape entry %d is %lld; sizes must be >= 0, or -1 to infer", i,
                                (long long)s);
        }
        out[i] = s;
        if (!mul_ok(known, s, &known))
            return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                "shape has more elements than fit in 64 bits");
    }
    int64_t numel = ts_value_numel(x);
    char xs[160], xl[TS_IN_LABEL_SIZE];
    ts_value_shape_str(g, x, xs, sizeof xs);
    ts_node_in_label(g, n, 0, "x", xl, sizeof xl);
    if (infer >= 0) {
        /* As numpy: -1 cannot be inferred beside a zero-size dim. */
        if (known == 0)
            return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                "cannot infer the -1 in shape beside a dim of size 0");
        if (numel % known != 0)
            return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                "cannot infer the -1 in shape: %s of shape %s has %lld elements, "
                                "not a multiple of %lld",
                                xl, xs, (long long)numel, (long long)known);
        out[infer] = numel / known;
    } else if (known != numel) {
        char os[160];
        ts_dims_str(shape->n, out, os, sizeof os);
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "cannot reshape %s of shape %s (%lld elements) into %s (%lld elements)",
                            xl, xs, (long long)numel, os, (long long)known);
    }
    ts_value_set_shape(ts_node_out(g, n, 0), x->dtype, shape->n, out);
    return TS_OK;
}

enum ts_status ts_ref_reshape(const struct ts_graph *g, const struct ts_node *n,
                              const struct ts_tensor *const *in, struct ts_tensor *const *out,
                              struct ts_diag *d) {
    (void)g;
    (void)n;
    (void)d;
    TS_ASSERT(out[0]->numel == in[0]->numel && out[0]->dtype == in[0]->dtype);
    copy_elems(out[0], 0, in[0], 0, in[0]->numel); /* row-major order is unchanged */
    return TS_OK;
}

/* ---- slice -------------------------------------------------------------- */

/* Python's slice.indices for a dim of size len: the first index taken and the
 * count. Bounds clamp; negative start/end count from the end. step != 0. */
static void slice_range(int64_t len, int64_t start, int64_t end, int64_t step, int64_t *first,
                        int64_t *count) {
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? len : len - 1;
    if (start < 0) start = start + len < lo ? lo : start + len; /* len >= 0: no overflow */
    else if (start > hi) start = hi;
    if (end < 0) end = end + len < lo ? lo : end + len;
    else if (end > hi) end = hi;
    /* Unsigned step magnitude: -INT64_MIN does not fit an int64_t. */
    uint64_t mag = step > 0 ? (uint64_t)step : (uint64_t)0 - (uint64_t)step;
    uint64_t span = step > 0 ? (end > start ? (uint64_t)(end - start) : 0)
                             : (start > end ? (uint64_t)(start - end) : 0);
    *first = start;
    *count = span ? (int64_t)((span - 1) / mag + 1) : 0;
}

enum ts_status ts_shape_slice(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    int64_t dims[TS_MAX_RANK];
    int rank = ts_node_in_dims(g, n, 0, dims), axis;
    int64_t step = ts_node_attr(n, "step")->i;
    if (step == 0) return ts_diag_node(d, g, n, TS_ERR_GRAPH, "step must not be 0");
    TS_TRY(axis_of(g, n, "x", rank, &axis, d));
    int64_t first, count;
    slice_range(dims[axis], ts_node_attr(n, "start")->i, ts_node_attr(n, "end")->i, step, &first,
                &count);
    dims[axis] = count;
    ts_value_set_shape(ts_node_out(g, n, 0), ts_node_in(g, n, 0)->dtype, rank, dims);
    return TS_OK;
}

enum ts_status ts_ref_slice(const struct ts_graph *g, const struct ts_node *n,
                            const struct ts_tensor *const *in, struct ts_tensor *const *out,
                            struct ts_diag *d) {
    (void)g;
    (void)d;
    const struct ts_tensor *x = in[0];
    struct ts_tensor *y = out[0];
    int axis = ref_axis(n, x->rank);
    int64_t step = ts_node_attr(n, "step")->i, first, count;
    slice_range(x->dims[axis], ts_node_attr(n, "start")->i, ts_node_attr(n, "end")->i, step, &first,
                &count);
    TS_ASSERT(y->dims[axis] == count && y->dtype == x->dtype);
    /* x viewed as [outer, len, inner]: y[o, j, :] = x[o, first + j*step, :]. */
    int64_t outer = prod(x->dims, 0, axis), inner = prod(x->dims, axis + 1, x->rank);
    int64_t len = x->dims[axis];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < count; j++)
            copy_elems(y, (o * count + j) * inner, x, (o * len + first + j * step) * inner, inner);
    return TS_OK;
}

/* ---- concat ------------------------------------------------------------- */

enum ts_status ts_shape_concat(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    int64_t first[TS_MAX_RANK], dims[TS_MAX_RANK];
    for (int i = 0; i < n->ninputs; i++)
        if (!ts_node_in(g, n, i))
            return ts_diag_node(d, g, n, TS_ERR_GRAPH, "input x%d is omitted: concat needs them all",
                                i + 1);
    struct ts_value *x1 = ts_node_in(g, n, 0);
    int rank = ts_node_in_dims(g, n, 0, first), axis;
    TS_TRY(axis_of(g, n, "x1", rank, &axis, d));
    int64_t total = first[axis];
    for (int i = 1; i < n->ninputs; i++) {
        struct ts_value *xi = ts_node_in(g, n, i);
        int ri = ts_node_in_dims(g, n, i, dims);
        char s1[160], si[160], l1[TS_IN_LABEL_SIZE], li[TS_IN_LABEL_SIZE], role[16];
        snprintf(role, sizeof role, "x%d", i + 1);
        ts_node_in_label(g, n, 0, "x1", l1, sizeof l1);
        ts_node_in_label(g, n, i, role, li, sizeof li);
        if (xi->dtype != x1->dtype)
            return ts_diag_node(d, g, n, TS_ERR_SHAPE, "%s has dtype %s, but %s has %s", li,
                                ts_dtype_name(xi->dtype), l1, ts_dtype_name(x1->dtype));
        bool ok = ri == rank;
        for (int k = 0; ok && k < rank; k++) ok = k == axis || dims[k] == first[k];
        if (!ok)
            return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                "%s has shape %s, which does not match %s of shape %s outside "
                                "axis %d",
                                li, ts_value_shape_str(g, xi, si, sizeof si), l1,
                                ts_value_shape_str(g, x1, s1, sizeof s1), axis);
        if (__builtin_add_overflow(total, dims[axis], &total))
            return ts_diag_node(d, g, n, TS_ERR_SHAPE, "the concatenated axis overflows 64 bits");
    }
    first[axis] = total;
    ts_value_set_shape(ts_node_out(g, n, 0), x1->dtype, rank, first);
    return TS_OK;
}

enum ts_status ts_ref_concat(const struct ts_graph *g, const struct ts_node *n,
                             const struct ts_tensor *const *in, struct ts_tensor *const *out,
                             struct ts_diag *d) {
    (void)g;
    (void)d;
    struct ts_tensor *y = out[0];
    int axis = ref_axis(n, y->rank);
    /* Each input is [outer, len_i, inner]; output row o is the inputs' rows o, in order. */
    int64_t outer = prod(y->dims, 0, axis), inner = prod(y->dims, axis + 1, y->rank);
    int64_t o_row = y->dims[axis] * inner, at = 0;
    for (int i = 0; i < n->ninputs; i++) {
        const struct ts_tensor *x = in[i];
        TS_ASSERT(x->dtype == y->dtype);
        int64_t row = x->dims[axis] * inner;
        for (int64_t o = 0; o < outer; o++) copy_elems(y, o * o_row + at, x, o * row, row);
        at += row;
    }
    return TS_OK;
}

/* ---- split -------------------------------------------------------------- */

enum ts_status ts_shape_split(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    int64_t dims[TS_MAX_RANK];
    int rank = ts_node_in_dims(g, n, 0, dims), axis;
    const struct ts_attr *sizes = ts_node_attr(n, "sizes");
    char buf[128];
    ts_dims_str(sizes->n, sizes->ints, buf, sizeof buf);
    if (sizes->n != n->noutputs)
        return ts_diag_node(d, g, n, TS_ERR_GRAPH,
                            "sizes %s has %d entries, but the node has %d outputs", buf, sizes->n,
                            n->noutputs);
    TS_TRY(axis_of(g, n, "x", rank, &axis, d));
    int64_t sum = 0;
    bool fits = true;
    for (int i = 0; i < sizes->n; i++) {
        if (sizes->ints[i] < 0)
            return ts_diag_node(d, g, n, TS_ERR_GRAPH, "sizes %s has the negative entry %lld", buf,
                                (long long)sizes->ints[i]);
        if (__builtin_add_overflow(sum, sizes->ints[i], &sum)) fits = false;
    }
    char x[TS_IN_LABEL_SIZE];
    if (!fits || sum != dims[axis])
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "sizes %s do not sum to %lld, the size of axis %d of %s", buf,
                            (long long)dims[axis], axis, ts_node_in_label(g, n, 0, "x", x, sizeof x));
    enum ts_dtype dt = ts_node_in(g, n, 0)->dtype;
    for (int i = 0; i < n->noutputs; i++) {
        dims[axis] = sizes->ints[i];
        ts_value_set_shape(ts_node_out(g, n, i), dt, rank, dims);
    }
    return TS_OK;
}

enum ts_status ts_ref_split(const struct ts_graph *g, const struct ts_node *n,
                            const struct ts_tensor *const *in, struct ts_tensor *const *out,
                            struct ts_diag *d) {
    (void)g;
    (void)d;
    const struct ts_tensor *x = in[0];
    int axis = ref_axis(n, x->rank);
    /* The mirror of concat: output i takes a column block of each [outer, len*inner] row. */
    int64_t outer = prod(x->dims, 0, axis), inner = prod(x->dims, axis + 1, x->rank);
    int64_t x_row = x->dims[axis] * inner, at = 0;
    for (int i = 0; i < n->noutputs; i++) {
        struct ts_tensor *y = out[i];
        TS_ASSERT(y->dtype == x->dtype);
        int64_t row = y->dims[axis] * inner;
        for (int64_t o = 0; o < outer; o++) copy_elems(y, o * row, x, o * x_row + at, row);
        at += row;
    }
    return TS_OK;
}

/* ---- gather ------------------------------------------------------------- */

enum ts_status ts_shape_gather(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    int64_t td[TS_MAX_RANK], id[TS_MAX_RANK], out[TS_MAX_RANK];
    struct ts_value *table = ts_node_in(g, n, 0), *indices = ts_node_in(g, n, 1);
    int tr = ts_node_in_dims(g, n, 0, td), ir = ts_node_in_dims(g, n, 1, id), axis;
    char label[TS_IN_LABEL_SIZE];
    if (indices->dtype != TS_I32 && indices->dtype != TS_I64)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "%s has dtype %s, expected i32 or i64",
                            ts_node_in_label(g, n, 1, "indices", label, sizeof label),
                            ts_dtype_name(indices->dtype));
    TS_TRY(axis_of(g, n, "table", tr, &axis, d));
    int rank = tr - 1 + ir;
    if (rank > TS_MAX_RANK)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "the output would have rank %d (table rank %d - 1 + indices rank %d), "
                            "more than the %d allowed",
                            rank, tr, ir, TS_MAX_RANK);
    int k = 0;
    for (int i = 0; i < axis; i++) out[k++] = td[i];
    for (int i = 0; i < ir; i++) out[k++] = id[i];
    for (int i = axis + 1; i < tr; i++) out[k++] = td[i];
    ts_value_set_shape(ts_node_out(g, n, 0), table->dtype, rank, out);
    return TS_OK;
}

/* Checks every index before any is used, so a bad one is reported, never read through. */
static enum ts_status gather_check(const struct ts_graph *g, const struct ts_node *n,
                                   const struct ts_tensor *idx, int64_t len, int axis,
                                   struct ts_diag *d) {
    for (int64_t j = 0; j < idx->numel; j++) {
        int64_t v = ts_tensor_get_i64(idx, j);
        if (v >= -len && v < len) continue;
        int64_t pos[TS_MAX_RANK], rem = j;
        for (int i = idx->rank - 1; i >= 0; i--) {
            pos[i] = rem % idx->dims[i];
            rem /= idx->dims[i];
        }
        char ps[160], il[TS_IN_LABEL_SIZE], tl[TS_IN_LABEL_SIZE];
        ts_dims_str(idx->rank, pos, ps, sizeof ps);
        return ts_diag_node(d, g, n, TS_ERR_RUNTIME,
                            "index %lld at position %s of %s is out of range [%lld, %lld) for axis "
                            "%d of %s",
                            (long long)v, ps, ts_node_in_label(g, n, 1, "indices", il, sizeof il),
                            -(long long)len, (long long)len, axis,
                            ts_node_in_label(g, n, 0, "table", tl, sizeof tl));
    }
    return TS_OK;
}

enum ts_status ts_ref_gather(const struct ts_graph *g, const struct ts_node *n,
                             const struct ts_tensor *const *in, struct ts_tensor *const *out,
                             struct ts_diag *d) {
    const struct ts_tensor *table = in[0], *idx = in[1];
    struct ts_tensor *y = out[0];
    int axis = ref_axis(n, table->rank);
    TS_ASSERT(y->dtype == table->dtype);
    int64_t len = table->dims[axis];
    /* An empty result reads no index (the table's other dims hold no element),
     * so none can be out of range: the compiled kernels check exactly the
     * indices they read, and must agree. */
    if (y->numel == 0) return TS_OK;
    TS_TRY(gather_check(g, n, idx, len, axis, d));
    /* table as [outer, len, inner], y as [outer, nidx, inner]: y[o, j, :] = table[o, idx[j], :]. */
    int64_t outer = prod(table->dims, 0, axis), inner = prod(table->dims, axis + 1, table->rank);
    int64_t nidx = idx->numel;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < nidx; j++) {
            int64_t v = ts_tensor_get_i64(idx, j);
            if (v < 0) v += len;
            copy_elems(y, (o * nidx + j) * inner, table, (o * len + v) * inner, inner);
        }
    }
    return TS_OK;
}
