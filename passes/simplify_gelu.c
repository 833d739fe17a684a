/* simplify_gelu.c — gelu written out, in its two forms, for the simplify pass:
 *   erf:  0.5 · x · (1 + erf(x / sqrt(2)))                          (x · 0.70710678 also)
 *   tanh: 0.5 · x · (1 + tanh(sqrt(2/pi) · (x + 0.044715 · x³)))    (x³: pow(x, 3) or x·x·x)
 * The three factors may be multiplied in any grouping and order: PyTorch
 * writes (0.5·x)·(1 + …), ONNX exports (x·(1 + …))·0.5. */
#include "internal.h"

#define SQRT2 1.4142135623730951
#define SQRT1_2 0.7071067811865476
#define SQRT_2_OVER_PI 0.7978845608028654
#define GELU_CUBE 0.044715

/* v = x / sqrt(2) or x · (1/sqrt(2)) */
static bool erf_arg(struct ts_match *m, int v, int x) {
    int save = m->nnodes;
    struct ts_node *n = ts_match_take(m, v, TS_OP_DIV);
    if (n && n->inputs[0] == x && ts_match_const(m, n->inputs[1], SQRT2)) return true;
    m->nnodes = save;
    n = ts_match_take(m, v, TS_OP_MUL);
    for (int s = 0; n && s < 2; s++)
        if (n->inputs[s] == x && ts_match_const(m, n->inputs[1 - s], SQRT1_2)) return true;
    m->nnodes = save;
    return false;
}

/* v = x³: pow(x, 3), (x·x)·x or x·(x·x) */
static bool cube(struct ts_match *m, int v, int x) {
    int save = m->nnodes;
    struct ts_node *n = ts_match_take(m, v, TS_OP_POW);
    if (n && n->inputs[0] == x && ts_match_const(m, n->inputs[1], 3.0)) return true;
    m->nnodes = save;
    n = ts_match_take(m, v, TS_OP_MUL);
    for (int s = 0; n && s < 2; s++) {
        int save2 = m->nnodes;
        if (n->inputs[1 - s] == x && ts_match_square(m, n->inputs[s], x)) return true;
        m->nnodes = save2;
    }
    m->nnodes = save;
    return false;
}

/* v = sqrt(2/pi) · (x + 0.044715 · x³), each product and sum in either order */
static bool tanh_arg(struct ts_match *m, int v, int x) {
    int save = m->nnodes;
    struct ts_node *scaled = ts_match_take(m, v, TS_OP_MUL);
    for (int s = 0; scaled && s < 2; s++) {
        if (!ts_match_const(m, scaled->inputs[1 - s], SQRT_2_OVER_PI)) continue;
        int save2 = m->nnodes;
        struct ts_node *sum = ts_match_take(m, scaled->inputs[s], TS_OP_ADD);
        for (int t = 0; sum && t < 2; t++) {
            if (sum->inputs[t] != x) continue;
            int save3 = m->nnodes;
            struct ts_node *k = ts_match_take(m, sum->inputs[1 - t], TS_OP_MUL);
            for (int u = 0; k && u < 2; u++) {
                int save4 = m->nnodes;
                if (ts_match_const(m, k->inputs[1 - u], GELU_CUBE) && cube(m, k->inputs[u], x)) return true;
                m->nnodes = save4;
            }
            m->nnodes = save3;
        }
        m->nnodes = save2;
    }
    m->nnodes = save;
    return false;
}

/* v = 1 + f(arg), f erf or tanh, with the argument right for x */
static bool one_plus(struct ts_match *m, int v, int x, enum ts_op f) {
    int save = m->nnodes;
    struct ts_node *add = ts_match_take(m, v, TS_OP_ADD);
    for (int s = 0; add && s < 2; s++) {
        if (!ts_match_const(m, add->inputs[1 - s], 1.0)) continue;
        int save2 = m->nnodes;
        struct ts_node *fn = ts_match_take(m, add->inputs[s], f);
        if (fn && (f == TS_OP_ERF ? erf_arg(m, fn->inputs[0], x) : tanh_arg(m, fn->inputs[0], x)))
            return true;
        m->nnodes = save2;
    }
    m->nnodes = save;
    return false;
}

/* The factors {0.5, x, 1 + f(…)} in any order. */
static bool three_factors(struct ts_match *m, const int t[3], enum ts_op f) {
    static const int roles[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int r = 0; r < 6; r++) {
        int half = t[roles[r][0]], x = t[roles[r][1]], inner = t[roles[r][2]];
        int save = m->nnodes;
        if (ts_match_const(m, half, 0.5) && one_plus(m, inner, x, f) && ts_match_same_type(m, x, inner)) {
            ts_match_replace(m, TS_OP_GELU, 1, &x);
            m->attr = "approximate";
            m->attr_s = f == TS_OP_ERF ? "none" : "tanh";
            return true;
        }
        m->nnodes = save;
    }
    return false;
}

/* The final node is a product of two values, one of them a product itself. */
static bool gelu(struct ts_match *m, enum ts_op f) {
    const struct ts_node *n = &m->g->nodes[m->final];
    if (n->op != TS_OP_MUL) return false;
    for (int s = 0; s < 2; s++) {
        int save = m->nnodes;
        struct ts_node *inner = ts_match_take(m, n->inputs[s], TS_OP_MUL);
        if (inner) {
            int t[3] = {inner->inputs[0], inner->inputs[1], n->inputs[1 - s]};
            if (three_factors(m, t, f)) return true;
        }
        m->nnodes = save;
    }
    return false;
}

bool ts_match_gelu_erf(struct ts_match *m) { return gelu(m, TS_OP_ERF); }
bool ts_match_gelu_tanh(struct ts_match *m) { return gelu(m, TS_OP_TANH); }
