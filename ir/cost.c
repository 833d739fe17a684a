/* cost.c — a rough operation count per node, so that work done at compile
 * time (constant folding) and in the fuzz targets stays bounded. It need not
 * be accurate, only never far below the truth. */
#include "internal.h"

static int64_t sat_mul(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t dim_or_1(const struct ts_value *v, int from_end) {
    return v && v->rank >= from_end ? v->dims[v->rank - from_end].size : 1;
}

int64_t ts_node_cost(const struct ts_graph *g, const struct ts_node *n) {
    int64_t cost = 0;
    for (int k = 0; k < n->ninputs; k++) {
        const struct ts_value *v = ts_node_in(g, n, k);
        if (v && v->rank >= 0) cost = sat_add(cost, ts_value_numel(v));
    }
    for (int k = 0; k < n->noutputs; k++) {
        const struct ts_value *v = ts_node_out(g, n, k);
        if (v->rank >= 0) cost = sat_add(cost, ts_value_numel(v));
    }
    const struct ts_value *out = ts_node_out(g, n, 0);
    if (out->rank < 0) return cost;
    if (n->op == TS_OP_MATMUL) {
        /* each output element is a K-long dot product */
        const struct ts_value *a = ts_node_in(g, n, 0);
        int64_t k = ts_node_attr(n, "transpose_a")->i ? dim_or_1(a, 2) : dim_or_1(a, 1);
        cost = sat_add(cost, sat_mul(ts_value_numel(out), k));
    } else if (n->op == TS_OP_ATTENTION) {
        /* every query row scores sk keys over d and mixes sk values over dv */
        const struct ts_value *q = ts_node_in(g, n, 0), *k = ts_node_in(g, n, 1), *v = ts_node_in(g, n, 2);
        int64_t rows = sat_mul(sat_mul(dim_or_1(q, 4), dim_or_1(q, 3)), dim_or_1(q, 2));
        int64_t per_row = sat_mul(dim_or_1(k, 2), sat_add(dim_or_1(q, 1), dim_or_1(v, 1)));
        cost = sat_add(cost, sat_mul(rows, per_row));
    }
    return cost;
}
