/* print.c — the graph as text, for `tessera inspect` and pass tests:
 * symbols, inputs, weights, constants, then one line per node:
 *   %h: f32[batch=1, seq=16, 128] = layernorm(x, ln.weight, ln.bias) {axis=-1, eps=1e-05}  # ln_f */
#include <string.h>

#include "ir.h"

static const char *const kind_labels[TS_VALUE_KIND_COUNT] = {"input", "weight", "const", "node"};

static void print_type(const struct ts_graph *g, const struct ts_value *v, FILE *f) {
    char shape[512];
    if (v->rank < 0) { /* not inferred yet */
        fputc('?', f);
        return;
    }
    fprintf(f, "%s%s", ts_dtype_name(v->dtype), ts_value_shape_str(g, v, shape, sizeof shape));
}

static void print_attr(const struct ts_graph *g, const struct ts_attr *a, FILE *f) {
    switch (a->type) {
    case TS_ATTR_FLOAT: fprintf(f, "%.9g", a->f); break;
    case TS_ATTR_INT: fprintf(f, "%lld", (long long)a->i); break;
    case TS_ATTR_BOOL: fprintf(f, "%s", a->i ? "true" : "false"); break;
    case TS_ATTR_STRING: fprintf(f, "\"%s\"", a->s ? a->s : ""); break;
    case TS_ATTR_DTYPE: fprintf(f, "%s", ts_dtype_name(a->dtype)); break;
    case TS_ATTR_INTS:
        fputc('[', f);
        for (int i = 0; i < a->n; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)a->ints[i]);
        fputc(']', f);
        break;
    case TS_ATTR_DIMS:
        fputc('[', f);
        for (int i = 0; i < a->n; i++) {
            if (a->dims[i].sym >= 0)
                fprintf(f, "%s%s", i ? ", " : "", g->symbols[a->dims[i].sym].name);
            else
                fprintf(f, "%s%lld", i ? ", " : "", (long long)a->dims[i].size);
        }
        fputc(']', f);
        break;
    default: TS_ASSERT(!"bad attr type");
    }
}

/* The first few elements of inline constant data. */
static void print_data(const struct ts_value *v, FILE *f) {
    if (!v->data || v->rank < 0 || v->dtype >= TS_DTYPE_COUNT) return;
    int64_t dims[TS_MAX_RANK];
    ts_value_dims(v, dims);
    struct ts_tensor t;
    ts_tensor_view(&t, v->dtype, v->rank, dims, (void *)v->data);
    fprintf(f, " = ");
    if (t.rank > 0) fputc('[', f);
    int64_t shown = t.numel < 8 ? t.numel : 8;
    for (int64_t i = 0; i < shown; i++) {
        if (ts_dtype_is_float(t.dtype))
            fprintf(f, "%s%.6g", i ? ", " : "", ts_tensor_get_f64(&t, i));
        else
            fprintf(f, "%s%lld", i ? ", " : "", (long long)ts_tensor_get_i64(&t, i));
    }
    if (t.numel > shown) fprintf(f, ", ... (%lld elements)", (long long)t.numel);
    if (t.rank > 0) fputc(']', f);
}

void ts_graph_print(const struct ts_graph *g, FILE *f) {
    fprintf(f, "graph \"%s\"", g->name);
    if (g->path[0]) fprintf(f, "  (%s)", g->path);
    fputc('\n', f);
    if (g->nsymbols) {
        fprintf(f, "  symbols:");
        for (int i = 0; i < g->nsymbols; i++) {
            const struct ts_symbol *s = &g->symbols[i];
            if (s->size >= 0)
                fprintf(f, " %s=%lld", s->name, (long long)s->size);
            else if (s->def >= 0)
                fprintf(f, " %s (default %lld)", s->name, (long long)s->def);
            else
                fprintf(f, " %s (unbound)", s->name);
        }
        fputc('\n', f);
    }
    for (int k = TS_VALUE_INPUT; k <= TS_VALUE_CONSTANT; k++) {
        for (int i = 0; i < g->nvalues; i++) {
            const struct ts_value *v = &g->values[i];
            if ((int)v->kind != k || v->removed) continue;
            fprintf(f, "  %-6s %s: ", kind_labels[k], v->name);
            print_type(g, v, f);
            if (k == TS_VALUE_CONSTANT) print_data(v, f);
            fputc('\n', f);
        }
    }
    for (int i = 0; i < g->nnodes; i++) {
        const struct ts_node *n = &g->nodes[i];
        const struct ts_op_info *info = ts_op_get(n->op);
        fprintf(f, "  ");
        for (int k = 0; k < n->noutputs; k++) {
            const struct ts_value *v = &g->values[n->outputs[k]];
            fprintf(f, "%s%%%s: ", k ? ", " : "", v->name);
            print_type(g, v, f);
        }
        fprintf(f, " = %s(", info->name);
        for (int k = 0; k < n->ninputs; k++)
            fprintf(f, "%s%s", k ? ", " : "", n->inputs[k] >= 0 ? g->values[n->inputs[k]].name : "\"\"");
        fputc(')', f);
        bool any = false;
        for (int k = 0; k < info->nattrs; k++) {
            if (!n->attrs[k].present) continue;
            fprintf(f, "%s%s=", any ? ", " : " {", info->attrs[k].name);
            print_attr(g, &n->attrs[k], f);
            any = true;
        }
        if (any) fputc('}', f);
        /* The node's name adds nothing when it is its (first) output's name. */
        if (strcmp(n->name, g->values[n->outputs[0]].name) != 0) fprintf(f, "  # %s", n->name);
        fputc('\n', f);
    }
    fprintf(f, "  outputs:");
    for (int i = 0; i < g->noutputs; i++) fprintf(f, " %s", g->values[g->outputs[i]].name);
    fputc('\n', f);
}
