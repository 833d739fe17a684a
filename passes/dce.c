/* dce.c — dead-code elimination: removes nodes that no graph output depends
 * on, and retires constants nothing reads any more.
 *   before: %a = exp(x)   %b = relu(x)   outputs: b
 *   after:  %b = relu(x)                 outputs: b
 * Inputs and weights stay: they are the graph's interface and file. */
#include <stdlib.h>

#include "passes/passes.h"

enum ts_status ts_pass_dce(struct ts_graph *g, struct ts_diag *d) {
    (void)d;
    bool *live = ts_arena_alloc(g->arena, (size_t)g->nvalues + 1);
    for (int i = 0; i < g->noutputs; i++) live[g->outputs[i]] = true;
    /* Nodes are in topological order: walking backwards sees users first. */
    bool *keep = ts_arena_alloc(g->arena, (size_t)g->nnodes + 1);
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const struct ts_node *n = &g->nodes[i];
        for (int k = 0; k < n->noutputs && !keep[i]; k++) keep[i] = live[n->outputs[k]];
        if (!keep[i]) continue;
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) live[n->inputs[k]] = true;
    }
    int kept = 0;
    for (int i = 0; i < g->nnodes; i++) {
        struct ts_node *n = &g->nodes[i];
        if (!keep[i]) {
            for (int k = 0; k < n->noutputs; k++) {
                struct ts_value *v = &g->values[n->outputs[k]];
                v->removed = true;
                v->producer = -1;
            }
            continue;
        }
        g->nodes[kept] = *n;
        for (int k = 0; k < n->noutputs; k++) g->values[n->outputs[k]].producer = kept;
        kept++;
    }
    g->nnodes = kept;
    for (int i = 0; i < g->nvalues; i++)
        if (g->values[i].kind == TS_VALUE_CONSTANT && !live[i]) g->values[i].removed = true;
    return TS_OK;
}
