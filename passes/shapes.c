/* shapes.c — binds every symbol to a size and infers every value's dtype and
 * concrete shape with the ops' shape rules.
 *   before: input x: f32[batch, seq]   %y: ?[?] = softmax(x)
 *   after:  input x: f32[batch=2, seq=16]   %y: f32[2, 16] = softmax(x)
 * A symbol's size comes from the binds (--bind, or the shapes of run's
 * inputs), which must agree, else from the graph's default. */
#include <string.h>

#include "passes/passes.h"

static enum ts_status bind_symbols(struct ts_graph *g, const struct ts_bind *binds, int nbinds, struct ts_diag *d) {
    const struct ts_bind **chosen = ts_arena_alloc(g->arena, (size_t)(g->nsymbols + 1) * sizeof *chosen);
    for (int i = 0; i < nbinds; i++) {
        const struct ts_bind *b = &binds[i];
        int s = ts_graph_find_symbol(g, b->symbol);
        if (s < 0) {
            char names[512] = "";
            size_t used = 0;
            for (int k = 0; k < g->nsymbols && used < sizeof names; k++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "", g->symbols[k].name);
            return ts_diag_set(d, TS_ERR_USAGE, g->path, b->source, "the graph has no symbol '%s' (%s%s)", b->symbol,
                               g->nsymbols ? "its symbols: " : "it has no symbols", names);
        }
        if (b->size < 0) /* 0 is a size: an empty key/value cache, say */
            return ts_diag_set(d, TS_ERR_USAGE, g->path, b->source, "symbol '%s' must be a size of 0 or more, got %lld",
                               b->symbol, (long long)b->size);
        if (chosen[s] && chosen[s]->size != b->size)
            return ts_diag_set(d, TS_ERR_SHAPE, g->path, "", "symbol '%s' is %lld from %s but %lld from %s", b->symbol,
                               (long long)chosen[s]->size, chosen[s]->source, (long long)b->size, b->source);
        if (!chosen[s]) chosen[s] = b;
    }
    for (int s = 0; s < g->nsymbols; s++) {
        struct ts_symbol *sym = &g->symbols[s];
        if (chosen[s])
            sym->size = chosen[s]->size;
        else if (sym->def > 0)
            sym->size = sym->def;
        else
            return ts_diag_set(d, TS_ERR_SHAPE, g->path, "symbols",
                               "symbol '%s' has no size: give it a default in \"symbols\", or --bind %s=N, or an "
                               "input that fixes it",
                               sym->name, sym->name);
    }
    return TS_OK;
}

/* Fills symbolic dims of a value from the bound symbols. */
static void resolve_dims(struct ts_graph *g, struct ts_value *v) {
    for (int i = 0; i < v->rank; i++)
        if (v->dims[i].sym >= 0) v->dims[i].size = g->symbols[v->dims[i].sym].size;
}

/* Every value obeys ts_dims_fit, so kernels can multiply dims and strides
 * freely. Node outputs are checked after their shape rule; inputs after their
 * symbols are bound (two large symbols can overflow together). */
static enum ts_status check_size(struct ts_graph *g, const struct ts_node *n, const struct ts_value *v,
                                 struct ts_diag *d) {
    int64_t dims[TS_MAX_RANK];
    int rank = ts_value_dims(v, dims);
    if (ts_dims_fit(rank, dims, ts_dtype_size(v->dtype), NULL)) return TS_OK;
    char shape[256];
    ts_value_shape_str(g, v, shape, sizeof shape);
    if (n)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "output '%s' %s is too large: its size in bytes overflows 64 bits",
                            v->name, shape);
    char where[300];
    snprintf(where, sizeof where, "%s '%s'", v->kind == TS_VALUE_INPUT ? "input" : "value", v->name);
    return ts_diag_set(d, TS_ERR_SHAPE, g->path, where, "%s %s is too large: its size in bytes overflows 64 bits",
                       ts_dtype_name(v->dtype), shape);
}

enum ts_status ts_pass_shapes(struct ts_graph *g, const struct ts_bind *binds, int nbinds, struct ts_diag *d) {
    TS_TRY(bind_symbols(g, binds, nbinds, d));
    for (int i = 0; i < g->nvalues; i++) {
        struct ts_value *v = &g->values[i];
        if (v->kind == TS_VALUE_NODE) {
            v->rank = -1; /* re-inferred below */
            v->dtype = TS_DTYPE_COUNT;
        } else {
            resolve_dims(g, v);
            if (!v->removed) TS_TRY(check_size(g, NULL, v, d));
        }
    }
    for (int i = 0; i < g->nnodes; i++) {
        struct ts_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            const struct ts_value *in = ts_node_in(g, n, k);
            TS_ASSERT(!in || in->rank >= 0); /* topological order */
        }
        TS_TRY(ts_op_get(n->op)->shape(g, n, d));
        for (int k = 0; k < n->noutputs; k++) {
            const struct ts_value *v = ts_node_out(g, n, k);
            TS_ASSERT(v->rank >= 0 && v->dtype < TS_DTYPE_COUNT); /* the shape rule set it */
            TS_TRY(check_size(g, n, v, d));
        }
    }
    g->shaped = true;
    return TS_OK;
}
