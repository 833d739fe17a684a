/* inputs.c — the inputs of `tessera run`: read from a safetensors file (whose
 * shapes also fix the graph's symbols), or filled with random, zero or one
 * values. Random integers are made useful: an input used as gather indices
 * stays inside the table, rope positions inside the sequence. */
#include <string.h>

#include "tools/artifact/artifact.h"
#include "tools/cli.h"

static void list_inputs(const struct ts_graph *g, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < g->ninputs && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", g->values[g->inputs[i]].name);
    if (!g->ninputs) snprintf(buf, size, "none");
}

enum ts_status ts_cli_inputs_open(const struct ts_graph *g, const char *path, struct ts_safetensors **out,
                                  struct ts_cli_binds *binds, struct ts_diag *d) {
    struct ts_safetensors *st = NULL;
    TS_TRY(ts_safetensors_open(path, &st, d));
    char where[300], names[1024];
    enum ts_status rc = TS_OK;
    for (int i = 0; i < st->ntensors && rc == TS_OK; i++) {
        int id = ts_graph_find_value(g, st->tensors[i].name);
        if (id < 0 || g->values[id].kind != TS_VALUE_INPUT) {
            list_inputs(g, names, sizeof names);
            snprintf(where, sizeof where, "tensor '%s'", st->tensors[i].name);
            rc = ts_diag_set(d, TS_ERR_SHAPE, path, where, "not an input of the graph (its inputs: %s)", names);
        }
    }
    for (int i = 0; i < g->ninputs && rc == TS_OK; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        const struct ts_st_tensor *t = ts_safetensors_find(st, v->name);
        char want[512], got[512];
        if (!t) {
            rc = ts_diag_set(d, TS_ERR_SHAPE, path, "", "the graph's input '%s' is missing from this file", v->name);
            break;
        }
        snprintf(where, sizeof where, "tensor '%s'", v->name);
        if (t->dtype != v->dtype) {
            rc = ts_diag_set(d, TS_ERR_SHAPE, path, where, "dtype is %s, but the graph's input '%s' is %s",
                             ts_dtype_name(t->dtype), v->name, ts_dtype_name(v->dtype));
            break;
        }
        ts_value_shape_str(g, v, want, sizeof want);
        ts_dims_str(t->rank, t->dims, got, sizeof got);
        if (t->rank != v->rank) {
            rc = ts_diag_set(d, TS_ERR_SHAPE, path, where, "shape is %s, but the graph's input '%s' is %s", got,
                             v->name, want);
            break;
        }
        for (int k = 0; k < v->rank && rc == TS_OK; k++) {
            const struct ts_dim *dm = &v->dims[k];
            if (dm->sym < 0 && dm->size != t->dims[k]) {
                rc = ts_diag_set(d, TS_ERR_SHAPE, path, where, "shape is %s, but the graph's input '%s' is %s (dim %d differs)", got, v->name, want, k);
            } else if (dm->sym >= 0) {
                char source[512];
                snprintf(source, sizeof source, "input '%s' (dim %d) in %s", v->name, k, path);
                if (!ts_cli_binds_add(binds, g->symbols[dm->sym].name, t->dims[k], source))
                    rc = ts_diag_set(d, TS_ERR_USAGE, path, where, "too many symbol bindings (at most 64)");
            }
        }
    }
    if (rc != TS_OK) {
        ts_safetensors_free(st);
        return rc;
    }
    *out = st;
    return TS_OK;
}

int64_t ts_cli_input_int_bound(const struct ts_graph *g, int input) {
    int id = g->inputs[input];
    int64_t bound = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const struct ts_node *n = &g->nodes[i];
        int64_t b = 0;
        if (n->op == TS_OP_GATHER && n->ninputs > 1 && n->inputs[1] == id) {
            const struct ts_value *table = ts_node_in(g, n, 0);
            int axis;
            int64_t a = ts_node_attr(n, "axis")->i;
            if (table->rank > 0 && a >= -table->rank && a < table->rank) {
                axis = (int)(a < 0 ? a + table->rank : a);
                b = table->dims[axis].size;
            }
        } else if (n->op == TS_OP_ROPE && n->ninputs > 1 && n->inputs[1] == id) {
            const struct ts_value *x = ts_node_in(g, n, 0);
            if (x->rank >= 2) b = x->dims[x->rank - 2].size;
        }
        if (b > 0 && (bound == 0 || b < bound)) bound = b;
    }
    return bound ? bound : 16;
}

enum ts_status ts_cli_inputs_make(const struct ts_graph *g, const struct ts_safetensors *st, enum ts_cli_fill fill,
                                  uint64_t seed, struct ts_tensor *inputs, struct ts_diag *d) {
    uint64_t rng = seed;
    for (int i = 0; i < g->ninputs; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        if (st) {
            const struct ts_st_tensor *t = ts_safetensors_find(st, v->name);
            TS_ASSERT(t); /* checked by ts_cli_inputs_open */
            ts_tensor_view(&inputs[i], t->dtype, t->rank, t->dims, (void *)t->data);
            continue;
        }
        struct ts_diag why;
        ts_diag_clear(&why);
        enum ts_status rc = ts_tensor_alloc(&inputs[i], v->dtype, rank, dims, v->name, &why);
        if (rc != TS_OK) {
            for (int j = 0; j < i; j++) ts_tensor_release(&inputs[j]);
            char where[300];
            snprintf(where, sizeof where, "input '%s'", v->name);
            return ts_diag_set(d, rc, g->path, where, "%s", why.what);
        }
        static const enum ts_artifact_fill how[] = {
            [TS_FILL_RANDOM] = TS_ARTIFACT_FILL_RANDOM, [TS_FILL_ZEROS] = TS_ARTIFACT_FILL_ZEROS,
            [TS_FILL_ONES] = TS_ARTIFACT_FILL_ONES};
        int64_t bound = ts_dtype_is_int(v->dtype) ? ts_cli_input_int_bound(g, i) : 0;
        ts_artifact_fill(&inputs[i], how[fill], bound, &rng); /* shared with compiled models' executables */
    }
    return TS_OK;
}
