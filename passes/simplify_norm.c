/* simplify_norm.c — layernorm and rmsnorm written out, for the simplify pass:
 *   layernorm: m = mean(x); d = x − m; y = d / sqrt(mean(d²) + eps)  [· weight] [+ bias]
 *   rmsnorm:   y = x / sqrt(mean(x²) + eps)                           [· weight]
 * Means are reduce_mean over the last axis with keepdims; d² is d·d or
 * pow(d, 2); "/ sqrt(v)" may be "· rsqrt(v)"; weight and bias are 1-D of the
 * last dim. Products and sums are matched in either operand order. */
#include "internal.h"

/* v = num / sqrt(var + eps) or num · rsqrt(var + eps) */
static bool normalized(struct ts_match *m, int v, int *num, int *var, double *eps) {
    int save = m->nnodes;
    int den = -1;
    struct ts_node *n = ts_match_take(m, v, TS_OP_DIV);
    struct ts_node *root;
    if (n && (root = ts_match_take(m, n->inputs[1], TS_OP_SQRT))) {
        *num = n->inputs[0];
        den = root->inputs[0];
    }
    if (den < 0) {
        m->nnodes = save;
        n = ts_match_take(m, v, TS_OP_MUL);
        for (int s = 0; n && s < 2 && den < 0; s++) {
            int save2 = m->nnodes;
            if ((root = ts_match_take(m, n->inputs[1 - s], TS_OP_RSQRT))) {
                *num = n->inputs[s];
                den = root->inputs[0];
            } else {
                m->nnodes = save2;
            }
        }
    }
    struct ts_node *add = den >= 0 ? ts_match_take(m, den, TS_OP_ADD) : NULL;
    for (int s = 0; add && s < 2; s++) {
        if (ts_match_const_value(m, add->inputs[1 - s], eps) && *eps >= 0) {
            *var = add->inputs[s];
            return true;
        }
    }
    m->nnodes = save;
    return false;
}

/* v = mean(sq) over the last axis, sq = x² */
static bool mean_square(struct ts_match *m, int v, int x) {
    int save = m->nnodes;
    struct ts_node *mean = ts_match_take(m, v, TS_OP_REDUCE_MEAN);
    if (mean && ts_match_reduce_last(m, mean) && ts_match_square(m, mean->inputs[0], x)) return true;
    m->nnodes = save;
    return false;
}

/* The normalization itself, ending at value v: layernorm's gives x (the
 * value whose mean is subtracted), rmsnorm's x is the numerator. */
static bool norm_core(struct ts_match *m, enum ts_op op, int v, int *x, double *eps) {
    int save = m->nnodes, num, var;
    if (!normalized(m, v, &num, &var, eps)) return false;
    if (op == TS_OP_RMSNORM) {
        *x = num;
        if (mean_square(m, var, num)) return true;
    } else {
        struct ts_node *d = ts_match_take(m, num, TS_OP_SUB);
        struct ts_node *mean = d ? ts_match_take(m, d->inputs[1], TS_OP_REDUCE_MEAN) : NULL;
        if (mean && mean->inputs[0] == d->inputs[0] && ts_match_reduce_last(m, mean) &&
            mean_square(m, var, num)) {
            *x = d->inputs[0];
            return true;
        }
    }
    m->nnodes = save;
    return false;
}

/* A weight or bias: 1-D of the last dim of the output, in its dtype. */
static bool affine_param(const struct ts_match *m, int p) {
    const struct ts_value *w = &m->g->values[p], *out = &m->g->values[m->g->nodes[m->final].outputs[0]];
    return w->rank == 1 && out->rank >= 1 && w->dtype == out->dtype &&
           w->dims[0].size == out->dims[out->rank - 1].size;
}

static bool found(struct ts_match *m, enum ts_op op, int x, int weight, int bias, double eps) {
    int in[3] = {x, weight, bias};
    ts_match_replace(m, op, op == TS_OP_LAYERNORM ? (bias >= 0 ? 3 : weight >= 0 ? 2 : 1) : (weight >= 0 ? 2 : 1),
                     in);
    m->attr = "eps";
    m->attr_f = eps;
    return true;
}

/* The final node is core [· weight] [+ bias] (bias: layernorm only); the
 * biggest reading is tried first. */
static bool norm(struct ts_match *m, enum ts_op op) {
    const struct ts_node *f = &m->g->nodes[m->final];
    int y = f->outputs[0], x;
    double eps;
    if (f->op == TS_OP_ADD && op == TS_OP_LAYERNORM) {
        for (int s = 0; s < 2; s++) {
            int a = f->inputs[s], bias = f->inputs[1 - s];
            if (!affine_param(m, bias)) continue;
            int save = m->nnodes;
            struct ts_node *scaled = ts_match_take(m, a, TS_OP_MUL);
            for (int t = 0; scaled && t < 2; t++) {
                int weight = scaled->inputs[1 - t];
                if (affine_param(m, weight) && norm_core(m, op, scaled->inputs[t], &x, &eps))
                    return found(m, op, x, weight, bias, eps);
            }
            m->nnodes = save;
            if (norm_core(m, op, a, &x, &eps)) return found(m, op, x, -1, bias, eps);
        }
    }
    if (f->op == TS_OP_MUL) {
        for (int s = 0; s < 2; s++) {
            int weight = f->inputs[1 - s];
            if (affine_param(m, weight) && norm_core(m, op, f->inputs[s], &x, &eps))
                return found(m, op, x, weight, -1, eps);
        }
    }
    /* The bare normalization: its last node is the final node itself. */
    if (norm_core(m, op, y, &x, &eps)) return found(m, op, x, -1, -1, eps);
    return false;
}

bool ts_match_layernorm(struct ts_match *m) { return norm(m, TS_OP_LAYERNORM); }
bool ts_match_rmsnorm(struct ts_match *m) { return norm(m, TS_OP_RMSNORM); }
