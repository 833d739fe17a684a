/* interp.c — the reference interpreter: runs a shaped graph node by node with
 * each op's reference kernel (op table), freeing intermediates after their
 * last use. Simple on purpose: it is the oracle every backend is checked
 * against. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

enum ts_status ts_interp_node(const struct ts_graph *g, const struct ts_node *n, const struct ts_tensor *const *in,
                              struct ts_tensor *out, struct ts_diag *d) {
    const struct ts_op_info *info = ts_op_get(n->op);
    struct ts_tensor **outp = calloc((size_t)n->noutputs + 1, sizeof *outp);
    if (!outp) return ts_diag_node(d, g, n, TS_ERR_NOMEM, "out of memory");
    enum ts_status st = TS_OK;
    int made = 0;
    for (; made < n->noutputs && st == TS_OK; made++) {
        const struct ts_value *v = &g->values[n->outputs[made]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        struct ts_diag why;
        ts_diag_clear(&why);
        st = ts_tensor_alloc(&out[made], v->dtype, rank, dims, v->name, &why);
        if (st != TS_OK) ts_diag_node(d, g, n, st, "output '%s': %s", v->name, why.what);
        outp[made] = &out[made];
    }
    if (st == TS_OK) st = info->ref(g, n, in, outp, d);
    if (st != TS_OK)
        for (int k = 0; k < made; k++) ts_tensor_release(&out[k]);
    free(outp);
    return st;
}

enum ts_status ts_graph_check_input(const struct ts_graph *g, int input, const struct ts_tensor *t,
                                    struct ts_diag *d) {
    const struct ts_value *v = &g->values[g->inputs[input]];
    char where[300], want[256], got[256];
    snprintf(where, sizeof where, "input '%s'", v->name);
    int64_t dims[TS_MAX_RANK];
    int rank = ts_value_dims(v, dims);
    if (t->dtype != v->dtype)
        return ts_diag_set(d, TS_ERR_SHAPE, g->path, where, "got dtype %s, the graph declares %s",
                           ts_dtype_name(t->dtype), ts_dtype_name(v->dtype));
    bool same = t->rank == rank;
    for (int i = 0; same && i < rank; i++) same = t->dims[i] == dims[i];
    if (!same)
        return ts_diag_set(d, TS_ERR_SHAPE, g->path, where, "got shape %s, the graph needs %s",
                           ts_dims_str(t->rank, t->dims, got, sizeof got), ts_value_shape_str(g, v, want, sizeof want));
    return TS_OK;
}

enum ts_status ts_interp_run(const struct ts_graph *g, const struct ts_tensor *inputs, struct ts_tensor *outputs,
                             struct ts_diag *d) {
    return ts_interp_run_progress(g, inputs, outputs, NULL, d);
}

enum ts_status ts_interp_run_progress(const struct ts_graph *g, const struct ts_tensor *inputs,
                                      struct ts_tensor *outputs, const struct ts_progress *progress,
                                      struct ts_diag *d) {
    TS_ASSERT(g->shaped);
    enum ts_status st = TS_OK;
    struct ts_tensor *vals = calloc((size_t)g->nvalues + 1, sizeof *vals);
    int *uses = calloc((size_t)g->nvalues + 1, sizeof *uses);
    int max_in = 1, max_out = 1;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].ninputs > max_in) max_in = g->nodes[i].ninputs;
        if (g->nodes[i].noutputs > max_out) max_out = g->nodes[i].noutputs;
    }
    const struct ts_tensor **in = calloc((size_t)max_in, sizeof *in);
    struct ts_tensor *outs = calloc((size_t)max_out, sizeof *outs);
    if (!vals || !uses || !in || !outs) {
        st = ts_diag_set(d, TS_ERR_NOMEM, g->path, "", "out of memory starting the interpreter");
        goto done;
    }
    for (int i = 0; i < g->ninputs; i++) {
        if ((st = ts_graph_check_input(g, i, &inputs[i], d)) != TS_OK) goto done;
        vals[g->inputs[i]] = inputs[i];
        vals[g->inputs[i]].owns_data = false;
    }
    for (int i = 0; i < g->nvalues; i++) {
        const struct ts_value *v = &g->values[i];
        if (v->kind != TS_VALUE_WEIGHT && v->kind != TS_VALUE_CONSTANT) continue;
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        ts_tensor_view(&vals[i], v->dtype, rank, dims, (void *)v->data);
        TS_ASSERT(vals[i].nbytes == v->nbytes);
    }
    /* Count the remaining uses of each node output; graph outputs are pinned. */
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].ninputs; k++)
            if (g->nodes[i].inputs[k] >= 0) uses[g->nodes[i].inputs[k]]++;
    for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]] += 1 << 20;

    for (int i = 0; i < g->nnodes; i++) {
        const struct ts_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) in[k] = n->inputs[k] >= 0 ? &vals[n->inputs[k]] : NULL;
        if ((st = ts_interp_node(g, n, in, outs, d)) != TS_OK) goto done;
        if (progress && progress->fn) progress->fn(progress->ctx, i + 1, g->nnodes, n->name);
        for (int k = 0; k < n->noutputs; k++) vals[n->outputs[k]] = outs[k];
        for (int k = 0; k < n->ninputs; k++) {
            int id = n->inputs[k];
            if (id >= 0 && g->values[id].kind == TS_VALUE_NODE && --uses[id] == 0) ts_tensor_release(&vals[id]);
        }
    }
    for (int i = 0; i < g->noutputs; i++) {
        const struct ts_tensor *src = &vals[g->outputs[i]];
        const struct ts_value *v = &g->values[g->outputs[i]];
        struct ts_diag why;
        ts_diag_clear(&why);
        if ((st = ts_tensor_alloc(&outputs[i], src->dtype, src->rank, src->dims, v->name, &why)) != TS_OK) {
            ts_diag_set(d, st, g->path, "outputs", "output '%s': %s", v->name, why.what);
            for (int j = 0; j < i; j++) ts_tensor_release(&outputs[j]);
            goto done;
        }
        if (src->nbytes) memcpy(outputs[i].data, src->data, src->nbytes);
    }
done:
    if (vals)
        for (int i = 0; i < g->nvalues; i++)
            if (g->values[i].kind == TS_VALUE_NODE) ts_tensor_release(&vals[i]);
    free(vals);
    free(uses);
    free(in);
    free(outs);
    return st;
}
