/* fold.c — constant folding: a node whose inputs are all constants is
 * evaluated once with its reference kernel and its outputs become constants.
 *   before: const c: f32[2] = [1, 4]   %s: f32[2] = sqrt(c)   %y = mul(x, s)
 *   after:  const s: f32[2] = [1, 2]   %y = mul(x, s)
 * Folding is work done at compile time, so it is bounded: a result above
 * TS_FOLD_MAX_BYTES (a broadcast can make a small input huge), a node above
 * TS_FOLD_MAX_WORK operations (an attention over constants), or anything past
 * the pass's total budget is left to run time. So is a node whose evaluation
 * fails (a division by zero, an index out of range): it may be dead code, and
 * if it is not, it fails at run time with the same message. Weights are not
 * folded: they stay views of the mapped file. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

struct budget {
    int64_t work, bytes; /* what is left */
};

static bool foldable(const struct ts_graph *g, const struct ts_node *n, const struct budget *b, int64_t *work,
                     int64_t *bytes) {
    for (int k = 0; k < n->ninputs; k++) {
        const struct ts_value *v = ts_node_in(g, n, k);
        if (v && v->kind != TS_VALUE_CONSTANT) return false;
    }
    *bytes = 0;
    for (int k = 0; k < n->noutputs; k++) {
        const struct ts_value *v = ts_node_out(g, n, k);
        int64_t size = ts_value_numel(v) * (int64_t)ts_dtype_size(v->dtype); /* fits: shapes pass */
        if (size > (int64_t)TS_FOLD_MAX_BYTES - *bytes) return false;
        *bytes += size;
    }
    *work = ts_node_cost(g, n);
    return *work <= TS_FOLD_MAX_WORK && *work <= b->work && *bytes <= b->bytes;
}

/* Evaluates n and turns its outputs into constants; false (and nothing
 * changed) if evaluating it failed. */
static bool fold_node(struct ts_graph *g, struct ts_node *n) {
    struct ts_tensor *in_t = calloc((size_t)n->ninputs + 1, sizeof *in_t);
    const struct ts_tensor **in = calloc((size_t)n->ninputs + 1, sizeof *in);
    struct ts_tensor *out_t = calloc((size_t)n->noutputs + 1, sizeof *out_t);
    bool folded = false;
    struct ts_diag why; /* discarded: the error, if real, recurs at run time */
    ts_diag_clear(&why);
    if (!in_t || !in || !out_t) goto done;
    for (int k = 0; k < n->ninputs; k++) {
        const struct ts_value *v = ts_node_in(g, n, k);
        if (!v) continue;
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        ts_tensor_view(&in_t[k], v->dtype, rank, dims, (void *)v->data);
        in[k] = &in_t[k];
    }
    if (ts_interp_node(g, n, in, out_t, &why) != TS_OK) goto done;
    folded = true;
    for (int k = 0; k < n->noutputs; k++) {
        struct ts_value *v = ts_node_out(g, n, k);
        void *data = ts_arena_alloc(g->arena, out_t[k].nbytes ? out_t[k].nbytes : 1);
        if (out_t[k].nbytes) memcpy(data, out_t[k].data, out_t[k].nbytes);
        v->kind = TS_VALUE_CONSTANT;
        v->producer = -1;
        v->data = data;
        v->nbytes = out_t[k].nbytes;
        ts_tensor_release(&out_t[k]);
    }
done:
    free(in_t);
    free(in);
    free(out_t);
    return folded;
}

enum ts_status ts_pass_fold(struct ts_graph *g, struct ts_diag *d) {
    (void)d; /* folding never fails: what cannot be folded runs later */
    TS_ASSERT(g->shaped);
    struct budget b = {TS_FOLD_BUDGET_WORK, TS_FOLD_BUDGET_BYTES};
    int kept = 0;
    for (int i = 0; i < g->nnodes; i++) {
        struct ts_node *n = &g->nodes[i];
        int64_t work, bytes;
        if (foldable(g, n, &b, &work, &bytes)) {
            b.work -= work; /* spent even when evaluation fails */
            if (fold_node(g, n)) {
                b.bytes -= bytes;
                continue;
            }
        }
        g->nodes[kept] = *n;
        for (int k = 0; k < n->noutputs; k++) g->values[n->outputs[k]].producer = kept;
        kept++;
    }
    g->nnodes = kept;
    return TS_OK;
}
