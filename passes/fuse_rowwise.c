/* fuse_rowwise.c — ROWWISE kernels: softmax along any axis, layernorm,
 * rmsnorm and reduce_sum/mean/max over any axes, as an iteration space of
 * [kept dims…, reduced dims…] (the reduced axis moved innermost by the index
 * maps, never by a copy). The pre-expression x and the post-expression over
 * ROW come from the group's element-wise nodes; also the heavy node's entry
 * (ACC or ROW) of every kind.
 *   %s = add(%a, %b)  %y = layernorm(%s, %w, %c)
 *     →  ROWWISE [rows, C]: x = load a + load b; out = row·load w + load c */
#include <string.h>

#include "passes/internal.h"

static enum ts_row_op row_op_of(enum ts_op op) {
    switch (op) {
    case TS_OP_SOFTMAX: return TS_ROW_SOFTMAX;
    case TS_OP_LAYERNORM: return TS_ROW_LAYERNORM;
    case TS_OP_RMSNORM: return TS_ROW_RMSNORM;
    case TS_OP_REDUCE_SUM: return TS_ROW_SUM;
    case TS_OP_REDUCE_MEAN: return TS_ROW_MEAN;
    case TS_OP_REDUCE_MAX: return TS_ROW_MAX;
    default: break;
    }
    TS_ASSERT(!"not a rowwise op");
    return TS_ROW_OP_COUNT;
}

void ts_fuse_rowwise(struct ts_kb *kb, int node, int *axis_out) {
    const struct ts_graph *g = kb->f->g;
    const struct ts_node *n = &g->nodes[node];
    struct ts_kernel *k = &kb->k;
    int x = n->inputs[0];
    int64_t xd[TS_MAX_RANK];
    int xr = ts_fuse_value_rank(g, x, xd);
    bool reduced[TS_MAX_RANK] = {false};
    k->row_op = row_op_of(n->op);
    switch (n->op) {
    case TS_OP_SOFTMAX: {
        int ax;
        bool ok = ts_fuse_axis_norm(ts_node_attr(n, "axis")->i, xr, &ax);
        TS_ASSERT(ok);
        reduced[ax] = true;
        break;
    }
    case TS_OP_LAYERNORM:
    case TS_OP_RMSNORM:
        reduced[xr - 1] = true;
        k->eps = ts_node_attr(n, "eps")->f;
        break;
    default: {
        const struct ts_attr *axes = ts_node_attr(n, "axes");
        for (int i = 0; i < axes->n; i++) {
            int ax;
            bool ok = ts_fuse_axis_norm(axes->ints[i], xr, &ax);
            TS_ASSERT(ok);
            reduced[ax] = true;
        }
        break;
    }
    }
    /* Iteration order: kept dims, then reduced dims, each in x's order. */
    int x_axis[TS_MAX_RANK], pos = 0;
    for (int j = 0; j < xr; j++)
        if (!reduced[j]) x_axis[j] = pos, k->dims[pos++] = xd[j];
    k->nouter = pos;
    for (int j = 0; j < xr; j++)
        if (reduced[j]) x_axis[j] = pos, k->dims[pos++] = xd[j];
    k->rank = xr;
    /* The output's dims: x's (softmax, norms), or the kept ones (with 1s for keepdims). */
    if (ts_row_op_is_elementwise(k->row_op)) {
        memcpy(axis_out, x_axis, sizeof x_axis);
    } else {
        bool keep = ts_node_attr(n, "keepdims")->i != 0;
        int o = 0;
        for (int j = 0; j < xr; j++) {
            if (!reduced[j]) axis_out[o++] = x_axis[j];
            else if (keep) axis_out[o++] = -1;
        }
    }
    k->x_root = ts_kb_value(kb, x, x_axis);
}

int ts_fuse_heavy_entry(struct ts_kb *kb, const int *axis) {
    if (kb->heavy_entry >= 0) return kb->heavy_entry;
    const struct ts_graph *g = kb->f->g;
    const struct ts_node *n = &g->nodes[kb->heavy];
    enum ts_dtype dt = g->values[n->outputs[0]].dtype;
    int e;
    if (kb->k.kind == TS_KERNEL_ROWWISE) {
        e = ts_kb_emit(kb, ts_kx_make(TS_KX_ROW, TS_SCALAR_F64, dt, 0, 0, 0));
        /* layernorm and rmsnorm: weight, then bias, over the last dim, before the one rounding */
        int64_t od[TS_MAX_RANK];
        int orank = ts_fuse_value_rank(g, n->outputs[0], od);
        bool norm = n->op == TS_OP_LAYERNORM || n->op == TS_OP_RMSNORM;
        for (int i = 1; norm && i < n->ninputs && i < 3; i++) {
            if (n->inputs[i] < 0) continue;
            int w_axis[1] = {axis[orank - 1]};
            int w = ts_kb_convert(kb, ts_kb_value(kb, n->inputs[i], w_axis), TS_SCALAR_F64, dt);
            e = ts_kb_emit(kb, ts_kx_make(i == 1 ? TS_KX_MUL : TS_KX_ADD, TS_SCALAR_F64, dt, e, w, 0));
        }
    } else {
        /* F64: the accumulated value before its one rounding (the reference rounds the double sum) */
        enum ts_scalar t = kb->k.acc_type == TS_SCALAR_I64 ? TS_SCALAR_I64 : TS_SCALAR_F64;
        e = ts_kb_emit(kb, ts_kx_make(TS_KX_ACC, t, dt, 0, 0, 0));
    }
    kb->heavy_entry = ts_kb_round(kb, e, dt);
    return kb->heavy_entry;
}
