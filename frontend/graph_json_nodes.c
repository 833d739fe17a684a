/* graph_json_nodes.c — a graph file's "nodes" and "outputs": each node's op,
 * name, input and output counts (against the op table), output definitions and
 * attributes; then, once every value exists, node inputs by name (nodes may
 * come in any order) and the graph outputs. */
#include <string.h>

#include "internal.h"

#define NOT_DEFINED "is not defined (no input, weight, constant or node output has that name)"

static const cJSON *field(const cJSON *obj, const char *name) {
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* Levenshtein distance of short strings (longer ones get a large number):
 * enough for "did you mean 'matmul'?". */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32) return 99;
    int row[33];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *closest_op(const char *name) {
    const char *best = NULL;
    int best_dist = 3; /* further than 2 edits is another word, not a typo */
    for (int i = 0; i < TS_OP_COUNT; i++) {
        const char *op = ts_op_get((enum ts_op)i)->name;
        int dist = edit_distance(name, op);
        if (dist < best_dist) {
            best_dist = dist;
            best = op;
        }
    }
    return best;
}

/* Node names, given or "op#index", must be unique or messages would be
 * ambiguous: an open-addressing set of name → node index. */
struct name_set {
    const char **names;
    int *nodes;
    size_t cap; /* a power of two, at least twice the node count */
};

static size_t hash_str(const char *s) {
    size_t h = 14695981039346656037ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The node already named 'name', or -1 after recording it for 'node'. */
static int name_set_add(struct name_set *set, const char *name, int node) {
    for (size_t i = hash_str(name) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (!set->names[i]) {
            set->names[i] = name;
            set->nodes[i] = node;
            return -1;
        }
        if (strcmp(set->names[i], name) == 0) return set->nodes[i];
    }
}

static enum ts_status parse_node(struct ts_json_parser *p, const cJSON *e, int index, struct name_set *names) {
    static const char *const keys[] = {"op", "name", "inputs", "outputs", "attrs", NULL};
    struct ts_graph *g = p->g;
    char where[64], nwhere[320], got[128], what[64], why[256];
    snprintf(where, sizeof where, "nodes[%d]", index);
    if (!cJSON_IsObject(e))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where, "expected an object with op, inputs and outputs, got %s",
                           ts_json_describe(e, got, sizeof got));
    const char *given = NULL;
    if (field(e, "name")) TS_TRY(ts_json_get_name(p, field(e, "name"), where, "\"name\"", &given));

    const cJSON *opj = field(e, "op");
    enum ts_op op;
    if (!opj) return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where, "missing required field 'op'");
    if (!cJSON_IsString(opj))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where, "\"op\" must be an op name (a string), got %s",
                           ts_json_describe(opj, got, sizeof got));
    if (!ts_op_from_name(opj->valuestring, &op)) {
        const char *near = closest_op(opj->valuestring);
        char hint[64] = "";
        if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
        ts_json_clip(opj->valuestring, got, sizeof got);
        if (given)
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where, "node '%s': unknown op '%s'%s", given, got, hint);
        return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where, "unknown op '%s'%s", got, hint);
    }
    const struct ts_op_info *info = ts_op_get(op);
    const char *name = given ? given : ts_arena_printf(g->arena, "%s#%d", info->name, index);
    ts_node_where(name, given != NULL, op, nwhere, sizeof nwhere);
    int other = name_set_add(names, name, index);
    if (other >= 0)
        return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, nwhere, "the node name is also used by nodes[%d]", other);
    TS_TRY(ts_json_check_keys(p, e, keys, nwhere, "field"));

    const cJSON *ins = field(e, "inputs"), *outs = field(e, "outputs");
    if (!ins) return ts_diag_set(p->d, TS_ERR_PARSE, p->path, nwhere, "missing required field 'inputs'");
    if (!cJSON_IsArray(ins))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, nwhere, "\"inputs\" must be an array of value names, got %s",
                           ts_json_describe(ins, got, sizeof got));
    if (!outs) return ts_diag_set(p->d, TS_ERR_PARSE, p->path, nwhere, "missing required field 'outputs'");
    if (!cJSON_IsArray(outs))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, nwhere, "\"outputs\" must be an array of value names, got %s",
                           ts_json_describe(outs, got, sizeof got));
    int nin = cJSON_GetArraySize(ins), nout = cJSON_GetArraySize(outs);
    if (!ts_op_check_arity(op, nin, nout, why, sizeof why))
        return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, nwhere, "%s", why);

    int j = 0;
    for (const cJSON *in = ins->child; in; in = in->next, j++) {
        if (!cJSON_IsString(in))
            return ts_diag_set(p->d, TS_ERR_PARSE, p->path, nwhere,
                               "input %d must be a value name (a string; \"\" omits an optional input), got %s", j,
                               ts_json_describe(in, got, sizeof got));
        /* Only trailing optional inputs of a fixed-arity op may be left out. */
        if (!in->valuestring[0] && (j < info->min_inputs || info->max_inputs < 0))
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, nwhere,
                               "input %d of %s cannot be omitted (\"\" is only for optional inputs)", j, info->name);
    }
    int *in_ids = ts_arena_alloc(g->arena, sizeof(int) * (size_t)(nin ? nin : 1));
    int *out_ids = ts_arena_alloc(g->arena, sizeof(int) * (size_t)(nout ? nout : 1));
    for (int k = 0; k < nin; k++) in_ids[k] = -1; /* resolved once every value is defined */
    j = 0;
    for (const cJSON *o = outs->child; o; o = o->next, j++) {
        const char *oname;
        snprintf(what, sizeof what, "output %d", j);
        TS_TRY(ts_json_get_name(p, o, nwhere, what, &oname));
        TS_TRY(ts_json_define(p, oname, TS_VALUE_NODE, nwhere, "output", name, &out_ids[j]));
        g->values[out_ids[j]].producer = g->nnodes; /* the index this node is about to get */
    }
    TS_ASSERT(g->nnodes == index);
    struct ts_node *n = ts_graph_add_node(g, op, given, nin, in_ids, nout, out_ids);
    TS_ASSERT(strcmp(n->name, name) == 0);
    return ts_json_parse_attrs(g, n, field(e, "attrs"), p->d);
}

enum ts_status ts_json_parse_nodes(struct ts_json_parser *p, const cJSON *nodes) {
    char got[128];
    if (!nodes) return TS_OK;
    if (!cJSON_IsArray(nodes))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "nodes", "expected an array of nodes, got %s",
                           ts_json_describe(nodes, got, sizeof got));
    size_t count = (size_t)cJSON_GetArraySize(nodes), cap = 16;
    while (cap < 2 * count) cap *= 2;
    struct name_set names = {.names = ts_arena_alloc(p->g->arena, cap * sizeof(char *)),
                             .nodes = ts_arena_alloc(p->g->arena, cap * sizeof(int)),
                             .cap = cap};
    int i = 0;
    for (const cJSON *e = nodes->child; e; e = e->next, i++) TS_TRY(parse_node(p, e, i, &names));
    return TS_OK;
}

enum ts_status ts_json_resolve_inputs(struct ts_json_parser *p, const cJSON *nodes) {
    char name[64];
    if (!nodes) return TS_OK;
    int i = 0;
    for (const cJSON *e = nodes->child; e; e = e->next, i++) {
        struct ts_node *n = &p->g->nodes[i];
        int j = 0;
        for (const cJSON *in = field(e, "inputs")->child; in; in = in->next, j++) {
            if (!in->valuestring[0]) continue; /* omitted: stays -1 */
            int id = ts_graph_find_value(p->g, in->valuestring);
            if (id < 0)
                return ts_diag_node(p->d, p->g, n, TS_ERR_GRAPH, "input '%s' " NOT_DEFINED,
                                    ts_json_clip(in->valuestring, name, sizeof name));
            n->inputs[j] = id;
        }
    }
    return TS_OK;
}

enum ts_status ts_json_parse_outputs(struct ts_json_parser *p, const cJSON *outputs) {
    struct ts_graph *g = p->g;
    char got[128], where[64];
    if (!outputs)
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "",
                           "missing required field 'outputs' (a non-empty array of value names)");
    if (!cJSON_IsArray(outputs) || !outputs->child)
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "outputs", "expected a non-empty array of value names, got %s",
                           ts_json_describe(outputs, got, sizeof got));
    int n = cJSON_GetArraySize(outputs), i = 0;
    bool *listed = ts_arena_alloc(g->arena, (size_t)g->nvalues + 1);
    g->outputs = ts_arena_alloc(g->arena, sizeof(int) * (size_t)n);
    g->noutputs = 0;
    for (const cJSON *o = outputs->child; o; o = o->next, i++) {
        snprintf(where, sizeof where, "outputs[%d]", i);
        if (!cJSON_IsString(o) || !o->valuestring[0])
            return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where, "expected a value name, got %s",
                               ts_json_describe(o, got, sizeof got));
        int id = ts_graph_find_value(g, o->valuestring);
        if (id < 0)
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where, "'%s' " NOT_DEFINED,
                               ts_json_clip(o->valuestring, got, sizeof got));
        if (listed[id]) return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where, "'%s' is listed twice", o->valuestring);
        listed[id] = true;
        g->outputs[g->noutputs++] = id;
    }
    return TS_OK;
}
