/* exec_tensors.c — what every compiled executable's run on tensors shares:
 * inputs checked against the graph, outputs allocated with the graph's
 * dtypes and shapes, the backend's raw run on their data, and the outputs
 * released again if it fails. */
#include <stdlib.h>

#include "autotune/autotune.h"

enum ts_status ts_exec_run_tensors(const struct ts_graph *g, const struct ts_tensor *inputs,
                                   struct ts_tensor *outputs, ts_exec_raw_fn run, void *ctx,
                                   struct ts_diag *d) {
    for (int i = 0; i < g->ninputs; i++) TS_TRY(ts_graph_check_input(g, i, &inputs[i], d));
    const void **in = calloc((size_t)g->ninputs + 1, sizeof *in);
    void **outp = calloc((size_t)g->noutputs + 1, sizeof *outp);
    enum ts_status st = TS_OK;
    if (!in || !outp) st = ts_diag_set(d, TS_ERR_NOMEM, g->path, "", "out of memory");
    for (int i = 0; st == TS_OK && i < g->ninputs; i++) in[i] = inputs[i].data;
    int made = 0;
    for (; st == TS_OK && made < g->noutputs; made++) {
        const struct ts_value *v = &g->values[g->outputs[made]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        st = ts_tensor_alloc(&outputs[made], v->dtype, rank, dims, v->name, d);
        if (st == TS_OK) outp[made] = outputs[made].data;
    }
    if (st == TS_OK) st = run(ctx, in, outp, d);
    if (st != TS_OK)
        for (int i = 0; i < made; i++) ts_tensor_release(&outputs[i]);
    free(in);
    free(outp);
    return st;
}
