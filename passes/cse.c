/* cse.c — common-subexpression elimination: identical inline constants are
 * kept once, then nodes that compute the same thing are computed once.
 *   before: const c1: f32[2] = [1, 2]   const c2: f32[2] = [1, 2]
 *           %a = matmul(x, w)   %b = matmul(x, w)
 *           %s = add(a, c1)     %t = add(c2, b)     %y = div(s, t)   outputs: y
 *   after:  const c1: f32[2] = [1, 2]
 *           %a = matmul(x, w)   %s = add(a, c1)     %y = div(s, s)   outputs: y
 * Two constants match when dtype, shape and bytes are equal (weights are never
 * merged: they are views of the file). Two nodes match when they have the same
 * op, the same input values in order and equal attributes: every attribute of
 * the op's schema, its presence and its value (floats by bits, so NaN equals
 * NaN and -0 differs from 0). add and mul take their two inputs unordered;
 * maximum and minimum too, but only on integers and bools: on floats the
 * reference gives maximum(-0, +0) = +0 and maximum(+0, -0) = -0. (NaN payloads
 * are not kept apart; no op promises them.) The later of two matching nodes
 * goes, its outputs are marked removed and every use of them reads the
 * earlier node's outputs, value by value.
 *
 * Graph outputs are reported and written under their value's name, so a node
 * or constant that defines a graph output is never removed (redirecting the
 * output would rename it). It may be the survivor later duplicates merge into;
 * and when it is itself a duplicate it stays, but the nodes after it read the
 * earlier copy, so what they compute can still merge.
 *
 * One hash table keyed by (op, inputs, attrs) keeps the pass linear in the
 * graph's size; nodes are visited in topological order, so a node whose inputs
 * were just redirected can match in turn and a chain collapses in one pass. */
#include <string.h>

#include "passes/passes.h"

/* ---- hashing ----------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t x) {
    h ^= x + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdu;
    return h ^ (h >> 33);
}

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t f = 0xcbf29ce484222325u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) f = (f ^ b[i]) * 0x100000001b3u;
    return mix(h, f);
}

static uint64_t float_bits(double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* Open addressing over ids: slot holds id + 1, 0 when empty. */
struct table {
    int *slot;
    size_t mask;
};

static struct table table_init(struct ts_arena *a, int count) {
    size_t cap = 16;
    while (cap < 2 * (size_t)count) cap *= 2;
    struct table t = {ts_arena_alloc(a, cap * sizeof(int)), cap - 1};
    return t;
}

/* ---- constants ---------------------------------------------------------- */

static uint64_t const_hash(const struct ts_value *v) {
    uint64_t h = mix(mix(0, (uint64_t)v->dtype), (uint64_t)v->rank);
    for (int k = 0; k < v->rank; k++) h = mix(mix(h, (uint64_t)v->dims[k].size), (uint64_t)v->dims[k].sym);
    return mix_bytes(h, v->data, v->nbytes);
}

static bool const_equal(const struct ts_value *a, const struct ts_value *b) {
    if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes) return false;
    for (int k = 0; k < a->rank; k++)
        if (a->dims[k].size != b->dims[k].size || a->dims[k].sym != b->dims[k].sym) return false;
    return a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0;
}

/* The later of two identical constants reads as the earlier one (repl) and
 * goes, unless it is a graph output. */
static void merge_constants(struct ts_graph *g, int *repl, const bool *is_output) {
    int count = 0;
    for (int i = 0; i < g->nvalues; i++) count += g->values[i].kind == TS_VALUE_CONSTANT;
    struct table t = table_init(g->arena, count);
    for (int i = 0; i < g->nvalues; i++) {
        struct ts_value *v = &g->values[i];
        if (v->kind != TS_VALUE_CONSTANT || v->removed) continue;
        size_t s = const_hash(v) & t.mask;
        for (; t.slot[s]; s = (s + 1) & t.mask)
            if (const_equal(&g->values[t.slot[s] - 1], v)) break;
        if (!t.slot[s]) {
            t.slot[s] = i + 1;
        } else {
            repl[i] = t.slot[s] - 1;
            v->removed = !is_output[i];
        }
    }
}

/* ---- nodes -------------------------------------------------------------- */

/* Whether the result does not depend on the order of the two inputs. */
static bool unordered(const struct ts_graph *g, const struct ts_node *n) {
    switch (n->op) {
    case TS_OP_ADD:
    case TS_OP_MUL: return true;
    case TS_OP_MAXIMUM:
    case TS_OP_MINIMUM: {
        enum ts_dtype t = ts_node_in(g, n, 0)->dtype; /* TS_DTYPE_COUNT before shapes */
        return t < TS_DTYPE_COUNT && !ts_dtype_is_float(t);
    }
    default: return false;
    }
}

static uint64_t attr_hash(uint64_t h, enum ts_attr_type type, const struct ts_attr *a) {
    h = mix(h, a->present);
    if (!a->present) return h;
    switch (type) {
    case TS_ATTR_FLOAT: return mix(h, float_bits(a->f));
    case TS_ATTR_INT:
    case TS_ATTR_BOOL: return mix(h, (uint64_t)a->i);
    case TS_ATTR_STRING: return a->s ? mix_bytes(h, a->s, strlen(a->s)) : h;
    case TS_ATTR_DTYPE: return mix(h, (uint64_t)a->dtype);
    case TS_ATTR_INTS:
        h = mix(h, (uint64_t)a->n);
        for (int k = 0; k < a->n; k++) h = mix(h, (uint64_t)a->ints[k]);
        return h;
    case TS_ATTR_DIMS:
        h = mix(h, (uint64_t)a->n);
        for (int k = 0; k < a->n; k++) h = mix(mix(h, (uint64_t)a->dims[k].size), (uint64_t)a->dims[k].sym);
        return h;
    default: TS_ASSERT(!"bad attr type");
    }
    return h;
}

static bool attr_equal(enum ts_attr_type type, const struct ts_attr *a, const struct ts_attr *b) {
    if (a->present != b->present) return false;
    if (!a->present) return true;
    switch (type) {
    case TS_ATTR_FLOAT: return float_bits(a->f) == float_bits(b->f);
    case TS_ATTR_INT:
    case TS_ATTR_BOOL: return a->i == b->i;
    case TS_ATTR_STRING: return strcmp(a->s ? a->s : "", b->s ? b->s : "") == 0;
    case TS_ATTR_DTYPE: return a->dtype == b->dtype;
    case TS_ATTR_INTS:
        if (a->n != b->n) return false;
        for (int k = 0; k < a->n; k++)
            if (a->ints[k] != b->ints[k]) return false;
        return true;
    case TS_ATTR_DIMS:
        if (a->n != b->n) return false;
        for (int k = 0; k < a->n; k++)
            if (a->dims[k].size != b->dims[k].size || a->dims[k].sym != b->dims[k].sym) return false;
        return true;
    default: TS_ASSERT(!"bad attr type");
    }
    return false;
}

static uint64_t node_hash(const struct ts_graph *g, const struct ts_node *n) {
    const struct ts_op_info *info = ts_op_get(n->op);
    uint64_t h = mix(mix(mix(0, (uint64_t)n->op), (uint64_t)n->ninputs), (uint64_t)n->noutputs);
    if (unordered(g, n)) { /* the same hash both ways round */
        int a = n->inputs[0], b = n->inputs[1];
        h = mix(mix(h, (uint64_t)(a < b ? a : b)), (uint64_t)(a < b ? b : a));
    } else {
        for (int k = 0; k < n->ninputs; k++) h = mix(h, (uint64_t)n->inputs[k]);
    }
    for (int k = 0; k < info->nattrs; k++) h = attr_hash(h, info->attrs[k].type, &n->attrs[k]);
    return h;
}

static bool node_equal(const struct ts_graph *g, const struct ts_node *a, const struct ts_node *b) {
    if (a->op != b->op || a->ninputs != b->ninputs || a->noutputs != b->noutputs) return false;
    bool same = true;
    for (int k = 0; k < a->ninputs && same; k++) same = a->inputs[k] == b->inputs[k];
    if (!same && unordered(g, a))
        same = a->inputs[0] == b->inputs[1] && a->inputs[1] == b->inputs[0];
    if (!same) return false;
    const struct ts_op_info *info = ts_op_get(a->op);
    for (int k = 0; k < info->nattrs; k++)
        if (!attr_equal(info->attrs[k].type, &a->attrs[k], &b->attrs[k])) return false;
    return true;
}

static bool defines_output(const struct ts_node *n, const bool *is_output) {
    for (int k = 0; k < n->noutputs; k++)
        if (is_output[n->outputs[k]]) return true;
    return false;
}

/* Visits nodes in order, reading inputs through repl; a node that matches an
 * earlier one goes (unless it defines a graph output) and its outputs read as
 * that node's from then on. The table holds positions in the compacted node
 * list, which never move again. */
static void merge_nodes(struct ts_graph *g, int *repl, const bool *is_output) {
    struct table t = table_init(g->arena, g->nnodes);
    int kept = 0;
    for (int i = 0; i < g->nnodes; i++) {
        struct ts_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) n->inputs[k] = repl[n->inputs[k]];
        size_t s = node_hash(g, n) & t.mask;
        for (; t.slot[s]; s = (s + 1) & t.mask)
            if (node_equal(g, &g->nodes[t.slot[s] - 1], n)) break;
        if (t.slot[s]) {
            const struct ts_node *same = &g->nodes[t.slot[s] - 1];
            for (int k = 0; k < n->noutputs; k++) repl[n->outputs[k]] = same->outputs[k];
            if (!defines_output(n, is_output)) {
                for (int k = 0; k < n->noutputs; k++) {
                    struct ts_value *v = &g->values[n->outputs[k]];
                    v->removed = true;
                    v->producer = -1;
                }
                continue;
            }
        } else {
            t.slot[s] = kept + 1;
        }
        g->nodes[kept] = *n;
        for (int k = 0; k < n->noutputs; k++) g->values[n->outputs[k]].producer = kept;
        kept++;
    }
    g->nnodes = kept;
}

enum ts_status ts_pass_cse(struct ts_graph *g, struct ts_diag *d) {
    (void)d; /* merging never fails */
    int *repl = ts_arena_alloc(g->arena, ((size_t)g->nvalues + 1) * sizeof *repl);
    bool *is_output = ts_arena_alloc(g->arena, (size_t)g->nvalues + 1);
    for (int i = 0; i < g->nvalues; i++) repl[i] = i;
    for (int i = 0; i < g->noutputs; i++) is_output[g->outputs[i]] = true;
    merge_constants(g, repl, is_output);
    merge_nodes(g, repl, is_output);
    return TS_OK;
}
