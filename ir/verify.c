/* verify.c — structural checks of a graph (arities, inputs defined, required
 * attributes present with the right types, outputs defined, no cycles) and the
 * topological sort of its nodes, stable in file order where the order is free. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static enum ts_status check_node(struct ts_graph *g, int idx, struct ts_diag *d) {
    struct ts_node *n = &g->nodes[idx];
    const struct ts_op_info *info = ts_op_get(n->op);
    char why[256];
    if (!ts_op_check_arity(n->op, n->ninputs, n->noutputs, why, sizeof why))
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "%s", why);
    for (int i = 0; i < n->ninputs; i++) {
        int id = n->inputs[i];
        if (id < 0 && i < info->min_inputs)
            return ts_diag_node(d, g, n, TS_ERR_GRAPH, "input %d of %s is required, but it is omitted (\"\")", i,
                                info->name);
        TS_ASSERT(id < g->nvalues);
    }
    for (int i = 0; i < n->noutputs; i++) {
        int id = n->outputs[i];
        TS_ASSERT(id >= 0 && id < g->nvalues && g->values[id].kind == TS_VALUE_NODE);
        TS_ASSERT(g->values[id].producer == idx);
    }
    for (int i = 0; i < info->nattrs; i++) {
        const struct ts_attr_spec *s = &info->attrs[i];
        if (s->required && !n->attrs[i].present)
            return ts_diag_node(d, g, n, TS_ERR_GRAPH, "attribute '%s' is required", s->name);
        TS_ASSERT(!n->attrs[i].present || n->attrs[i].type == s->type);
    }
    return TS_OK;
}

/* A binary min-heap of node indices: Kahn's algorithm takes the ready node
 * that came first in the file, so the sorted order is deterministic. */
struct heap {
    int *a, n;
};

static void heap_push(struct heap *h, int v) {
    int i = h->n++;
    h->a[i] = v;
    while (i > 0 && h->a[(i - 1) / 2] > h->a[i]) {
        int p = (i - 1) / 2, t = h->a[p];
        h->a[p] = h->a[i];
        h->a[i] = t;
        i = p;
    }
}

static int heap_pop(struct heap *h) {
    int top = h->a[0];
    h->a[0] = h->a[--h->n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->a[l] < h->a[m]) m = l;
        if (r < h->n && h->a[r] < h->a[m]) m = r;
        if (m == i) break;
        int t = h->a[m];
        h->a[m] = h->a[i];
        h->a[i] = t;
        i = m;
    }
    return top;
}

/* Sorts g->nodes topologically and renumbers producers. */
static enum ts_status toposort(struct ts_graph *g, struct ts_diag *d) {
    int nn = g->nnodes;
    if (nn == 0) return TS_OK;
    int *indeg = ts_arena_alloc(g->arena, (size_t)nn * sizeof(int));
    int *order = ts_arena_alloc(g->arena, (size_t)nn * sizeof(int));
    /* users: CSR lists of nodes consuming each node's outputs */
    int *ucount = ts_arena_alloc(g->arena, (size_t)(nn + 1) * sizeof(int));
    int total = 0;
    for (int i = 0; i < nn; i++) {
        const struct ts_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            int id = n->inputs[k];
            if (id < 0 || g->values[id].kind != TS_VALUE_NODE) continue;
            int p = g->values[id].producer;
            TS_ASSERT(p >= 0 && p < nn);
            indeg[i]++;
            ucount[p + 1]++;
            total++;
        }
    }
    for (int i = 0; i < nn; i++) ucount[i + 1] += ucount[i];
    int *users = ts_arena_alloc(g->arena, (size_t)(total ? total : 1) * sizeof(int));
    int *fill = ts_arena_alloc(g->arena, (size_t)nn * sizeof(int));
    for (int i = 0; i < nn; i++) {
        const struct ts_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            int id = n->inputs[k];
            if (id < 0 || g->values[id].kind != TS_VALUE_NODE) continue;
            int p = g->values[id].producer;
            users[ucount[p] + fill[p]++] = i;
        }
    }
    struct heap h = {ts_arena_alloc(g->arena, (size_t)nn * sizeof(int)), 0};
    for (int i = 0; i < nn; i++)
        if (indeg[i] == 0) heap_push(&h, i);
    int done = 0;
    while (h.n > 0) {
        int i = heap_pop(&h);
        order[done++] = i;
        for (int u = ucount[i]; u < ucount[i + 1]; u++)
            if (--indeg[users[u]] == 0) heap_push(&h, users[u]);
    }
    if (done < nn) {
        /* Name the first node (in file order) that is still waiting on a cycle. */
        for (int i = 0; i < nn; i++) {
            if (indeg[i] == 0) continue;
            const struct ts_node *n = &g->nodes[i];
            for (int k = 0; k < n->ninputs; k++) {
                int id = n->inputs[k];
                if (id >= 0 && g->values[id].kind == TS_VALUE_NODE && indeg[g->values[id].producer] > 0)
                    return ts_diag_node(d, g, n, TS_ERR_GRAPH,
                                        "the graph has a cycle: this node's input '%s' depends on its own output",
                                        g->values[id].name);
            }
        }
        TS_ASSERT(!"cycle not found");
    }
    struct ts_node *sorted = ts_arena_alloc(g->arena, (size_t)nn * sizeof *sorted);
    for (int i = 0; i < nn; i++) sorted[i] = g->nodes[order[i]];
    for (int i = 0; i < nn; i++) g->nodes[i] = sorted[i];
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].noutputs; k++) g->values[g->nodes[i].outputs[k]].producer = i;
    return TS_OK;
}

enum ts_status ts_graph_verify(struct ts_graph *g, struct ts_diag *d) {
    for (int i = 0; i < g->nnodes; i++) TS_TRY(check_node(g, i, d));
    if (g->noutputs == 0) return ts_diag_set(d, TS_ERR_GRAPH, g->path, "outputs", "the graph has no outputs");
    for (int i = 0; i < g->noutputs; i++) TS_ASSERT(g->outputs[i] >= 0 && g->outputs[i] < g->nvalues);
    for (int i = 0; i < g->nvalues; i++) {
        const struct ts_value *v = &g->values[i];
        if (v->kind == TS_VALUE_NODE && v->producer < 0 && !v->removed)
            return ts_diag_set(d, TS_ERR_GRAPH, g->path, "", "value '%s' has no producing node", v->name);
    }
    return toposort(g, d);
}
