/* simplify_softmax.c — softmax and attention written out, for the simplify pass:
 *   softmax:   e = exp(x − reduce_max(x, [a])); y = e / reduce_sum(e, [a])   (or e = exp(x))
 *   attention: y = softmax(matmul(q, k, transpose_b) · scale + mask, -1) · v
 * Reductions keep their dims. In attention k may come through
 * transpose(k, [0, 1, 3, 2]); the scale is a product with a constant or a
 * division by one, or absent (1); the mask is optional. q, k and v must be
 * [batch, heads, seq, head_dim] with the same batch and heads: grouped-query
 * attention written with a broadcast is left alone. */
#include <math.h>

#include "internal.h"

bool ts_match_softmax(struct ts_match *m) {
    const struct ts_node *f = &m->g->nodes[m->final];
    if (f->op != TS_OP_DIV) return false;
    int e = f->inputs[0];
    struct ts_node *sum = ts_match_take(m, f->inputs[1], TS_OP_REDUCE_SUM);
    struct ts_node *ex = sum && sum->inputs[0] == e ? ts_match_take(m, e, TS_OP_EXP) : NULL;
    int axis = ex ? ts_match_reduce_axis(m, sum) : -1;
    if (axis < 0) return false;
    int x = ex->inputs[0], save = m->nnodes;
    struct ts_node *sub = ts_match_take(m, x, TS_OP_SUB);
    struct ts_node *max = sub ? ts_match_take(m, sub->inputs[1], TS_OP_REDUCE_MAX) : NULL;
    if (max && max->inputs[0] == sub->inputs[0] && ts_match_reduce_axis(m, max) == axis)
        x = sub->inputs[0];
    else
        m->nnodes = save; /* exp(t) / sum(exp(t)) is softmax(t) whatever t is */
    int rank = m->g->values[x].rank;
    ts_match_replace(m, TS_OP_SOFTMAX, 1, &x);
    m->attr = "axis";
    m->attr_f = axis == rank - 1 ? -1 : axis;
    return true;
}

/* v = transpose(k, perm swapping the last two of four dims): *k gets k. */
static bool swapped_last_two(struct ts_match *m, int v, int *k) {
    int save = m->nnodes;
    struct ts_node *t = ts_match_take(m, v, TS_OP_TRANSPOSE);
    const struct ts_attr *perm = t ? ts_node_attr(t, "perm") : NULL;
    if (perm && perm->n == 4) {
        static const int want[4] = {0, 1, 3, 2};
        bool ok = true;
        for (int i = 0; i < 4; i++) ok = ok && (perm->ints[i] < 0 ? perm->ints[i] + 4 : perm->ints[i]) == want[i];
        if (ok) {
            *k = t->inputs[0];
            return true;
        }
    }
    m->nnodes = save;
    return false;
}

/* v = q·kᵀ, optionally times a constant or divided by one. */
static bool scores(struct ts_match *m, int v, int *q, int *k, double *scale) {
    int save = m->nnodes, qk = -1;
    double c;
    *scale = 1.0;
    struct ts_node *n = ts_match_take(m, v, TS_OP_MUL);
    for (int s = 0; n && s < 2 && qk < 0; s++) {
        if (ts_match_const_value(m, n->inputs[1 - s], &c)) {
            qk = n->inputs[s];
            *scale = c;
        }
    }
    if (qk < 0) {
        m->nnodes = save;
        n = ts_match_take(m, v, TS_OP_DIV);
        if (n && ts_match_const_value(m, n->inputs[1], &c) && c != 0) {
            qk = n->inputs[0];
            *scale = 1.0 / c;
        } else {
            m->nnodes = save;
            qk = v;
        }
    }
    if (qk != v && !ts_match_same_type(m, qk, v)) goto fail; /* the constant broadcast it */
    struct ts_node *mm = ts_match_take(m, qk, TS_OP_MATMUL);
    if (!mm || ts_node_attr(mm, "transpose_a")->i) goto fail;
    *q = mm->inputs[0];
    if (ts_node_attr(mm, "transpose_b")->i) {
        *k = mm->inputs[1];
        return true;
    }
    if (swapped_last_two(m, mm->inputs[1], k)) return true;
fail:
    m->nnodes = save;
    return false;
}

/* q, k, v are [b, h, s, d] with one batch and one head count. */
static bool same_heads(const struct ts_match *m, int q, int k, int v) {
    const struct ts_value *a = &m->g->values[q], *b = &m->g->values[k], *c = &m->g->values[v];
    return a->rank == 4 && b->rank == 4 && c->rank == 4 && a->dims[0].size == b->dims[0].size &&
           a->dims[0].size == c->dims[0].size && a->dims[1].size == b->dims[1].size &&
           a->dims[1].size == c->dims[1].size;
}

bool ts_match_attention(struct ts_match *m) {
    const struct ts_node *f = &m->g->nodes[m->final];
    if (f->op != TS_OP_MATMUL || ts_node_attr(f, "transpose_a")->i || ts_node_attr(f, "transpose_b")->i)
        return false;
    int p = f->inputs[0], v = f->inputs[1], q, k, mask = -1;
    struct ts_node *sm = ts_match_take(m, p, TS_OP_SOFTMAX);
    if (!sm || m->g->values[p].rank != 4) return false;
    int64_t axis = ts_node_attr(sm, "axis")->i;
    if (axis != -1 && axis != 3) return false;
    int s = sm->inputs[0], save = m->nnodes;
    double scale;
    bool ok = false;
    struct ts_node *add = ts_match_take(m, s, TS_OP_ADD);
    for (int u = 0; add && u < 2 && !ok; u++) {
        ok = ts_match_same_type(m, add->inputs[u], s) && scores(m, add->inputs[u], &q, &k, &scale);
        if (ok) mask = add->inputs[1 - u];
    }
    if (!ok) {
        m->nnodes = save;
        ok = scores(m, s, &q, &k, &scale);
    }
    if (!ok || !isfinite(scale) || !same_heads(m, q, k, v)) return false;
    int in[4] = {q, k, v, mask};
    ts_match_replace(m, TS_OP_ATTENTION, mask >= 0 ? 4 : 3, in);
    m->attr = "scale";
    m->attr_f = scale;
    return true;
}
