/* fold.c — constant folding: a node whose inputs are all constants is
 * evaluated once with its reference kernel and its outputs become constants.
 *   before: const c: f32[2] = [1, 4]   %s: f32[2] = sqrt(c)   %y = mul(x, s)
 *   after:  const s: f32[2] = [1, 2]   %y = mul(x, s)
 * Weights are not folded (they stay views of the mapped file), and nor is a
 * result above TS_FOLD_MAX_BYTES (a broadcast could make a small input huge). */
#include <string.h>

#include "passes/passes.h"

static bool foldable(const struct ts_graph *g, const struct ts_node *n) {
    for (int k = 0; k < n->ninputs; k++) {
        const struct ts_value *v = ts_node_in(g, n, k);
        if (v && v->kind != TS_VALUE_CONSTANT) return false;
    }
    for (int k = 0; k < n->noutputs; k++) {
        const struct ts_value *v = ts_node_out(g, n, k);
        if ((uint64_t)ts_value_numel(v) * ts_dtype_size(v->dtype) > TS_FOLD_MAX_BYTES) return false;
    }
    return true;
}

static enum ts_status fold_node(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    struct ts_tensor in_t[64], out_t[64];
    const struct ts_tensor *in[64];
    if (n->ninputs > 64 || n->noutputs > 64) return TS_OK; /* not worth folding */
    for (int k = 0; k < n->ninputs; k++) {
        const struct ts_value *v = ts_node_in(g, n, k);
        in[k] = NULL;
        if (!v) continue;
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        ts_tensor_view(&in_t[k], v->dtype, rank, dims, (void *)v->data);
        in[k] = &in_t[k];
    }
    TS_TRY(ts_interp_node(g, n, in, out_t, d));
    for (int k = 0; k < n->noutputs; k++) {
        struct ts_value *v = ts_node_out(g, n, k);
        void *data = ts_arena_alloc(g->arena, out_t[k].nbytes ? out_t[k].nbytes : 1);
        if (out_t[k].nbytes) memcpy(data, out_t[k].data, out_t[k].nbytes);
        ts_tensor_release(&out_t[k]);
        v->kind = TS_VALUE_CONSTANT;
        v->producer = -1;
        v->data = data;
        v->nbytes = out_t[k].nbytes;
    }
    return TS_OK;
}

enum ts_status ts_pass_fold(struct ts_graph *g, struct ts_diag *d) {
    TS_ASSERT(g->shaped);
    int kept = 0;
    for (int i = 0; i < g->nnodes; i++) {
        struct ts_node *n = &g->nodes[i];
        if (foldable(g, n)) {
            TS_TRY(fold_node(g, n, d));
            continue;
        }
        g->nodes[kept] = *n;
        for (int k = 0; k < n->noutputs; k++) g->values[n->outputs[k]].producer = kept;
        kept++;
    }
    g->nnodes = kept;
    return TS_OK;
}
