/* simplify.c — recognizes gelu, layernorm, rmsnorm, softmax and attention
 * written out in primitive ops (the way ONNX and PyTorch exports spell them)
 * and rewrites each to its fused op.
 *   before: const r2: f32[] = 1.41421   const one: f32[] = 1   const half: f32[] = 0.5
 *           %b = div(x, r2)   %c = erf(b)   %e = add(c, one)   %a = mul(x, e)   %y = mul(a, half)
 *   after:  %y = gelu(x) {approximate="none"}
 * The patterns live in simplify_gelu.c, simplify_norm.c and simplify_softmax.c;
 * this file drives them and holds the matching helpers (internal.h).
 *
 * A pattern is rewritten only when every intermediate value is read by the
 * pattern alone and is no graph output, and when the fused op's shape rule
 * gives the pattern's own dtype and shape (so a constant that broadcasts a
 * value bigger, or a weight of the wrong size, leaves the graph as it was).
 * The fused node takes the place and the output value of the pattern's last
 * node; the other matched nodes are removed here, their outputs marked
 * removed as dce does. Constants only they read are left to dce.
 * A fused op computes in double and rounds once, so results move by rounding;
 * where the primitives overflow or give NaN (exp(x) / sum(exp(x)) on large x,
 * an attention row masked out entirely), the fused op gives its own answer. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* ---- matching helpers -------------------------------------------------- */

struct ts_node *ts_match_take(struct ts_match *m, int v, enum ts_op op) {
    if (v < 0) return NULL;
    const struct ts_value *val = &m->g->values[v];
    if (val->kind != TS_VALUE_NODE || val->producer < 0 || m->dead[val->producer]) return NULL;
    struct ts_node *n = &m->g->nodes[val->producer];
    if (n->op != op || n->noutputs != 1 || m->nnodes == TS_MATCH_MAX_NODES) return NULL;
    m->nodes[m->nnodes++] = val->producer;
    return n;
}

/* Constants are compared with the precision their dtype can hold: exporters
 * write 0.7071 for 1/sqrt(2), and an f16 graph stores sqrt(2) as 1.4140625. */
static double const_tolerance(enum ts_dtype t) {
    switch (t) {
    case TS_F16: return 1e-3;
    case TS_BF16: return 8e-3;
    default: return 1e-4;
    }
}

static bool near(double a, double b, double rtol) { return fabs(a - b) <= rtol * fabs(b); }

bool ts_match_const_value(const struct ts_match *m, int v, double *out) {
    if (v < 0) return false;
    const struct ts_value *val = &m->g->values[v];
    if (val->kind != TS_VALUE_CONSTANT || !val->data || !ts_dtype_is_float(val->dtype)) return false;
    int64_t dims[TS_MAX_RANK];
    int rank = ts_value_dims(val, dims);
    struct ts_tensor t;
    ts_tensor_view(&t, val->dtype, rank, dims, (void *)val->data);
    if (t.numel < 1) return false;
    double first = ts_tensor_get_f64(&t, 0), rtol = const_tolerance(val->dtype);
    if (!isfinite(first)) return false;
    for (int64_t i = 1; i < t.numel; i++)
        if (!near(ts_tensor_get_f64(&t, i), first, rtol)) return false;
    *out = first;
    return true;
}

bool ts_match_const(const struct ts_match *m, int v, double want) {
    double got;
    return ts_match_const_value(m, v, &got) && near(got, want, const_tolerance(m->g->values[v].dtype));
}

int ts_match_reduce_axis(const struct ts_match *m, const struct ts_node *n) {
    if (n->op != TS_OP_REDUCE_SUM && n->op != TS_OP_REDUCE_MEAN && n->op != TS_OP_REDUCE_MAX) return -1;
    const struct ts_attr *axes = ts_node_attr(n, "axes");
    int rank = m->g->values[n->inputs[0]].rank;
    if (!ts_node_attr(n, "keepdims")->i || axes->n != 1) return -1;
    int64_t a = axes->ints[0] < 0 ? axes->ints[0] + rank : axes->ints[0];
    return a >= 0 && a < rank ? (int)a : -1;
}

bool ts_match_reduce_last(const struct ts_match *m, const struct ts_node *n) {
    int rank = m->g->values[n->inputs[0]].rank;
    return rank >= 1 && ts_match_reduce_axis(m, n) == rank - 1;
}

bool ts_match_square(struct ts_match *m, int v, int x) {
    int save = m->nnodes;
    struct ts_node *n = ts_match_take(m, v, TS_OP_MUL);
    if (n && n->inputs[0] == x && n->inputs[1] == x) return true;
    m->nnodes = save;
    n = ts_match_take(m, v, TS_OP_POW);
    if (n && n->inputs[0] == x && ts_match_const(m, n->inputs[1], 2.0)) return true;
    m->nnodes = save;
    return false;
}

bool ts_match_same_type(const struct ts_match *m, int a, int b) {
    const struct ts_value *x = &m->g->values[a], *y = &m->g->values[b];
    if (x->dtype != y->dtype || x->rank != y->rank) return false;
    for (int i = 0; i < x->rank; i++)
        if (x->dims[i].size != y->dims[i].size) return false;
    return true;
}

void ts_match_replace(struct ts_match *m, enum ts_op op, int ninputs, const int *inputs) {
    TS_ASSERT(ninputs <= 4);
    m->op = op;
    m->ninputs = ninputs;
    memcpy(m->inputs, inputs, (size_t)ninputs * sizeof *inputs);
    m->attr = NULL;
}

/* ---- the rewrite --------------------------------------------------------- */

static void count_uses(const struct ts_graph *g, const bool *dead, int *uses) {
    memset(uses, 0, (size_t)g->nvalues * sizeof *uses);
    for (int i = 0; i < g->nnodes; i++) {
        if (dead[i]) continue;
        const struct ts_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) uses[n->inputs[k]]++;
    }
    for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]]++;
}

static bool is_graph_output(const struct ts_graph *g, int v) {
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v) return true;
    return false;
}

/* Removes duplicates from m->nodes (a value read twice is walked twice) and
 * checks that the intermediates are private to the pattern and that the
 * replacement reads none of them. */
static bool intermediates_private(struct ts_match *m) {
    const struct ts_graph *g = m->g;
    int n = 0;
    for (int i = 0; i < m->nnodes; i++) {
        bool seen = m->nodes[i] == m->final;
        for (int j = 0; j < n && !seen; j++) seen = m->nodes[j] == m->nodes[i];
        if (!seen) m->nodes[n++] = m->nodes[i];
    }
    m->nnodes = n;
    for (int i = 0; i < n; i++) {
        int v = g->nodes[m->nodes[i]].outputs[0];
        if (is_graph_output(g, v)) return false;
        for (int k = 0; k < m->ninputs; k++)
            if (m->inputs[k] == v) return false;
        int reads = 0;
        for (int j = 0; j <= n; j++) { /* j == n: the final node */
            const struct ts_node *u = &g->nodes[j < n ? m->nodes[j] : m->final];
            for (int k = 0; k < u->ninputs; k++) reads += u->inputs[k] == v;
        }
        if (reads != m->uses[v]) return false;
    }
    return true;
}

/* Turns the final node into the replacement if the fused op's shape rule
 * accepts it and gives the same dtype and shape; else leaves it as it was. */
static bool rewrite(struct ts_match *m, bool *dead) {
    struct ts_graph *g = m->g;
    struct ts_node *n = &g->nodes[m->final];
    struct ts_value *out = &g->values[n->outputs[0]];
    struct ts_node saved = *n;
    struct ts_value saved_out = *out;
    n->op = m->op;
    n->ninputs = m->ninputs;
    n->inputs = ts_arena_alloc(g->arena, (size_t)m->ninputs * sizeof *n->inputs);
    memcpy(n->inputs, m->inputs, (size_t)m->ninputs * sizeof *n->inputs);
    ts_node_set_defaults(n);
    if (m->attr) {
        struct ts_attr *a = &n->attrs[ts_op_attr_index(n->op, m->attr)];
        a->present = true;
        if (a->type == TS_ATTR_STRING) a->s = m->attr_s;
        else if (a->type == TS_ATTR_INT) a->i = (int64_t)m->attr_f;
        else a->f = m->attr_f;
    }
    struct ts_diag why; /* a refusal only means the pattern does not apply */
    ts_diag_clear(&why);
    bool ok = ts_op_get(n->op)->shape(g, n, &why) == TS_OK && out->dtype == saved_out.dtype &&
              out->rank == saved_out.rank;
    for (int i = 0; ok && i < out->rank; i++) ok = out->dims[i].size == saved_out.dims[i].size;
    if (!ok) {
        *n = saved;
        *out = saved_out;
        return false;
    }
    *out = saved_out; /* keeps the symbols its dims were written with */
    /* A default name ("mul#12") would now mislabel the node: it takes its output's. */
    if (!n->named) n->name = out->name;
    for (int i = 0; i < m->nnodes; i++) {
        dead[m->nodes[i]] = true;
        struct ts_value *v = &g->values[g->nodes[m->nodes[i]].outputs[0]];
        v->removed = true;
        v->producer = -1;
    }
    return true;
}

enum ts_status ts_pass_simplify(struct ts_graph *g, struct ts_diag *d) {
    (void)d; /* a pattern that does not fit is simply left alone */
    TS_ASSERT(g->shaped);
    /* Attention matches the softmax op, so it runs after softmax has been
     * recognized. Within a phase, nodes are visited last first, so the
     * biggest pattern wins: layernorm with its weight and bias before the
     * bare normalization, layernorm before the rmsnorm hiding inside it. */
    static const ts_matcher phases[2][5] = {
        {ts_match_layernorm, ts_match_rmsnorm, ts_match_gelu_erf, ts_match_gelu_tanh, ts_match_softmax},
        {ts_match_attention},
    };
    int *uses = ts_arena_alloc(g->arena, ((size_t)g->nvalues + 1) * sizeof *uses);
    bool *dead = ts_arena_alloc(g->arena, (size_t)g->nnodes + 1);
    count_uses(g, dead, uses);
    struct ts_match m = {.g = g, .uses = uses, .dead = dead};
    for (int p = 0; p < 2; p++) {
        for (int i = g->nnodes - 1; i >= 0; i--) {
            for (int k = 0; k < 5 && phases[p][k] && !dead[i]; k++) {
                m.final = i;
                m.nnodes = 0;
                if (phases[p][k](&m) && intermediates_private(&m) && rewrite(&m, dead)) {
                    count_uses(g, dead, uses);
                    break;
                }
            }
        }
    }
    int kept = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (dead[i]) continue;
        struct ts_node *n = &g->nodes[i];
        g->nodes[kept] = *n;
        for (int k = 0; k < n->noutputs; k++) g->values[n->outputs[k]].producer = kept;
        kept++;
    }
    g->nnodes = kept;
    return TS_OK;
}
