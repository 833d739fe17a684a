/* shape_util.c — helpers shared by the shape rules: axis normalization, numpy
 * broadcasting of concrete shapes, and how their messages name a node's inputs. */
#include <string.h>

#include "internal.h"

bool ts_axis_normalize(int64_t axis, int rank, int *out) {
    if (axis < -(int64_t)rank || axis >= rank) return false;
    *out = (int)(axis < 0 ? axis + rank : axis);
    return true;
}

bool ts_broadcast_shapes(int ra, const int64_t *da, int rb, const int64_t *db, int *rank_out, int64_t *dims_out) {
    int rank = ra > rb ? ra : rb;
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - ra), ib = i - (rank - rb);
        int64_t a = ia >= 0 ? da[ia] : 1, b = ib >= 0 ? db[ib] : 1;
        if (a != b && a != 1 && b != 1) return false;
        dims_out[i] = a == 1 ? b : a;
    }
    *rank_out = rank;
    return true;
}

int ts_node_in_dims(const struct ts_graph *g, const struct ts_node *n, int i, int64_t *out) {
    const struct ts_value *v = ts_node_in(g, n, i);
    TS_ASSERT(v);
    return ts_value_dims(v, out);
}

enum ts_status ts_node_need_inputs(struct ts_graph *g, struct ts_node *n, int count, struct ts_diag *d) {
    for (int i = 0; i < count; i++)
        if (i >= n->ninputs || !ts_node_in(g, n, i))
            return ts_diag_node(d, g, n, TS_ERR_GRAPH, "input %d is omitted: %s needs it", i, ts_op_get(n->op)->name);
    return TS_OK;
}

const char *ts_node_in_label(const struct ts_graph *g, const struct ts_node *n, int i, const char *role,
                             char *buf, size_t size) {
    const struct ts_value *v = ts_node_in(g, n, i);
    if (!v) snprintf(buf, size, "input %s", role);
    else if (strcmp(v->name, role) == 0) snprintf(buf, size, "input '%s'", v->name);
    else snprintf(buf, size, "'%s' (input %s)", v->name, role);
    return buf;
}

enum ts_status ts_node_attr_dim(struct ts_graph *g, struct ts_node *n, const struct ts_dim *dim, int64_t *out,
                                struct ts_diag *d) {
    *out = dim->size;
    if (dim->sym < 0) return TS_OK;
    TS_ASSERT(dim->sym < g->nsymbols);
    *out = g->symbols[dim->sym].size;
    if (*out < 0)
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "shape uses symbol '%s', which is unbound",
                            g->symbols[dim->sym].name);
    return TS_OK;
}
