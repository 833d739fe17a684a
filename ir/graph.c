/* graph.c — the graph IR: values, nodes and symbols held in the compilation's
 * arena, a hash index of value names, and the small accessors that shape rules
 * and kernels use. */
#include <stdarg.h>
#include <string.h>

#include "ir.h"

static const char *const kind_names[TS_VALUE_KIND_COUNT] = {"input", "weight", "constant", "node output"};

struct ts_graph *ts_graph_init(const char *path) {
    struct ts_arena *a = ts_arena_init();
    struct ts_graph *g = ts_arena_alloc(a, sizeof *g);
    g->arena = a;
    g->path = ts_arena_strdup(a, path ? path : "");
    g->name = "";
    g->weights_path = "";
    return g;
}

void ts_graph_free(struct ts_graph *g) {
    if (!g) return;
    for (struct ts_graph_release *r = g->releases; r; r = r->next) r->fn(r->ctx);
    ts_arena_free(g->arena);
}

void ts_graph_on_free(struct ts_graph *g, void (*fn)(void *ctx), void *ctx) {
    struct ts_graph_release *r = ts_arena_alloc(g->arena, sizeof *r);
    r->fn = fn;
    r->ctx = ctx;
    r->next = g->releases;
    g->releases = r;
}

/* Grows an arena array to hold at least need elements (the old block stays in
 * the arena: growth is geometric, so the waste is bounded by the final size). */
static void *grow(struct ts_arena *a, void *old, int count, int *cap, int need, size_t elem) {
    if (need <= *cap) return old;
    int ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) ncap *= 2;
    void *p = ts_arena_alloc(a, (size_t)ncap * elem);
    if (old) memcpy(p, old, (size_t)count * elem);
    *cap = ncap;
    return p;
}

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void index_insert(struct ts_graph *g, int id) {
    int mask = g->value_index_cap - 1;
    for (int i = (int)(hash_name(g->values[id].name) & (uint64_t)mask);; i = (i + 1) & mask) {
        if (!g->value_index[i]) {
            g->value_index[i] = id + 1;
            return;
        }
    }
}

int ts_graph_find_value(const struct ts_graph *g, const char *name) {
    if (!g->value_index_cap) return -1;
    int mask = g->value_index_cap - 1;
    for (int i = (int)(hash_name(name) & (uint64_t)mask);; i = (i + 1) & mask) {
        int id = g->value_index[i] - 1;
        if (id < 0) return -1;
        if (strcmp(g->values[id].name, name) == 0) return id;
    }
}

enum ts_status ts_graph_add_value(struct ts_graph *g, const char *name, enum ts_value_kind kind, int *id_out,
                                  struct ts_diag *d) {
    int old = ts_graph_find_value(g, name);
    if (old >= 0) {
        const struct ts_value *v = &g->values[old];
        if (v->kind == TS_VALUE_NODE && kind == TS_VALUE_NODE)
            return ts_diag_set(d, TS_ERR_GRAPH, g->path, "", "value '%s' is defined twice: as an output of "
                               "node '%s' and of another node", name,
                               v->producer >= 0 ? g->nodes[v->producer].name : "?");
        return ts_diag_set(d, TS_ERR_GRAPH, g->path, "", "value '%s' is defined twice: as %s %s and as %s %s",
                           name, v->kind == TS_VALUE_INPUT ? "an" : "a", kind_names[v->kind],
                           kind == TS_VALUE_INPUT ? "an" : "a", kind_names[kind]);
    }
    g->values = grow(g->arena, g->values, g->nvalues, &g->cap_values, g->nvalues + 1, sizeof *g->values);
    int id = g->nvalues++;
    struct ts_value *v = &g->values[id];
    memset(v, 0, sizeof *v);
    v->name = ts_arena_strdup(g->arena, name);
    v->kind = kind;
    v->dtype = TS_DTYPE_COUNT;
    v->rank = -1;
    v->producer = -1;
    /* Keep the index at most half full. */
    if (g->nvalues * 2 > g->value_index_cap) {
        int cap = g->value_index_cap ? g->value_index_cap * 2 : 64;
        while (g->nvalues * 2 > cap) cap *= 2;
        g->value_index = ts_arena_alloc(g->arena, (size_t)cap * sizeof *g->value_index);
        g->value_index_cap = cap;
        for (int i = 0; i < g->nvalues; i++) index_insert(g, i);
    } else {
        index_insert(g, id);
    }
    *id_out = id;
    return TS_OK;
}

struct ts_node *ts_graph_add_node(struct ts_graph *g, enum ts_op op, const char *name, int ninputs,
                                  const int *inputs, int noutputs, const int *outputs) {
    g->nodes = grow(g->arena, g->nodes, g->nnodes, &g->cap_nodes, g->nnodes + 1, sizeof *g->nodes);
    int idx = g->nnodes++;
    struct ts_node *n = &g->nodes[idx];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->named = name != NULL;
    n->name = name ? ts_arena_strdup(g->arena, name) : ts_arena_printf(g->arena, "%s#%d", ts_op_get(op)->name, idx);
    n->ninputs = ninputs;
    n->noutputs = noutputs;
    n->inputs = ts_arena_alloc(g->arena, (size_t)(ninputs ? ninputs : 1) * sizeof(int));
    n->outputs = ts_arena_alloc(g->arena, (size_t)(noutputs ? noutputs : 1) * sizeof(int));
    if (ninputs) memcpy(n->inputs, inputs, (size_t)ninputs * sizeof(int));
    if (noutputs) memcpy(n->outputs, outputs, (size_t)noutputs * sizeof(int));
    for (int i = 0; i < noutputs; i++) {
        TS_ASSERT(outputs[i] >= 0 && outputs[i] < g->nvalues);
        g->values[outputs[i]].producer = idx;
    }
    ts_node_set_defaults(n);
    return n;
}

int ts_graph_add_symbol(struct ts_graph *g, const char *name, int64_t def) {
    int id = ts_graph_find_symbol(g, name);
    if (id >= 0) return id;
    g->symbols = grow(g->arena, g->symbols, g->nsymbols, &g->cap_symbols, g->nsymbols + 1, sizeof *g->symbols);
    id = g->nsymbols++;
    g->symbols[id].name = ts_arena_strdup(g->arena, name);
    g->symbols[id].def = def;
    g->symbols[id].size = -1;
    return id;
}

int ts_graph_find_symbol(const struct ts_graph *g, const char *name) {
    for (int i = 0; i < g->nsymbols; i++)
        if (strcmp(g->symbols[i].name, name) == 0) return i;
    return -1;
}

void ts_node_set_defaults(struct ts_node *n) {
    const struct ts_op_info *info = ts_op_get(n->op);
    for (int i = 0; i < info->nattrs; i++) {
        const struct ts_attr_spec *s = &info->attrs[i];
        struct ts_attr *a = &n->attrs[i];
        memset(a, 0, sizeof *a);
        a->type = s->type;
        a->dtype = TS_DTYPE_COUNT;
        if (!s->has_default) continue;
        a->present = true;
        a->f = s->def_f;
        a->i = s->def_i;
        a->s = s->def_s;
    }
}

struct ts_value *ts_node_in(const struct ts_graph *g, const struct ts_node *n, int i) {
    if (i >= n->ninputs || n->inputs[i] < 0) return NULL;
    return &g->values[n->inputs[i]];
}

struct ts_value *ts_node_out(const struct ts_graph *g, const struct ts_node *n, int i) {
    TS_ASSERT(i >= 0 && i < n->noutputs);
    return &g->values[n->outputs[i]];
}

const struct ts_attr *ts_node_attr(const struct ts_node *n, const char *name) {
    int i = ts_op_attr_index(n->op, name);
    TS_ASSERT(i >= 0);
    return &n->attrs[i];
}

void ts_value_set_shape(struct ts_value *v, enum ts_dtype dtype, int rank, const int64_t *dims) {
    TS_ASSERT(rank >= 0 && rank <= TS_MAX_RANK);
    v->dtype = dtype;
    v->rank = rank;
    for (int i = 0; i < rank; i++) {
        v->dims[i].size = dims[i];
        v->dims[i].sym = -1;
    }
}

int ts_value_dims(const struct ts_value *v, int64_t *out) {
    TS_ASSERT(v->rank >= 0);
    for (int i = 0; i < v->rank; i++) {
        TS_ASSERT(v->dims[i].size >= 0);
        out[i] = v->dims[i].size;
    }
    return v->rank;
}

int64_t ts_value_numel(const struct ts_value *v) {
    int64_t dims[TS_MAX_RANK], n;
    int rank = ts_value_dims(v, dims);
    bool fits = ts_dims_fit(rank, dims, 1, &n);
    TS_ASSERT(fits); /* the shapes pass refuses values that do not */
    return n;
}

const char *ts_node_where(const char *name, bool named, enum ts_op op, char *buf, size_t size) {
    if (named) snprintf(buf, size, "node '%s' (%s)", name, ts_op_get(op)->name);
    else snprintf(buf, size, "node '%s'", name);
    return buf;
}

enum ts_status ts_diag_node(struct ts_diag *d, const struct ts_graph *g, const struct ts_node *n,
                            enum ts_status st, const char *fmt, ...) {
    char where[256], what[768];
    ts_node_where(n->name, n->named, n->op, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ts_diag_set(d, st, g->path, where, "%s", what);
}

const char *ts_dims_str(int rank, const int64_t *dims, char *buf, size_t size) {
    size_t used = 0;
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

const char *ts_value_shape_str(const struct ts_graph *g, const struct ts_value *v, char *buf, size_t size) {
    if (v->rank < 0) {
        snprintf(buf, size, "?");
        return buf;
    }
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < v->rank && used < size; i++) {
        const struct ts_dim *dm = &v->dims[i];
        const char *sep = i ? ", " : "";
        if (dm->sym >= 0 && dm->size >= 0)
            used += (size_t)snprintf(buf + used, size - used, "%s%s=%lld", sep, g->symbols[dm->sym].name,
                                     (long long)dm->size);
        else if (dm->sym >= 0)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, g->symbols[dm->sym].name);
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%lld", sep, (long long)dm->size);
    }
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}
