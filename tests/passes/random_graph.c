/* random_graph.c — the generator behind random_graph.h: op families whose
 * shape rules hold by construction, primitive spellings of gelu, softmax,
 * layernorm, rmsnorm and attention, duplicates for cse, constant-only chains
 * for fold; and the JSON printer that makes a failure a `tessera run`. */
#include "tests/passes/random_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rnext(struct rg_gen *g) {
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int rnd(struct rg_gen *g, int n) { return (int)(rnext(g) % (uint64_t)n); }
static double frand(struct rg_gen *g) { return (double)(rnext(g) >> 11) / 9007199254740992.0; }
static bool chance(struct rg_gen *g, double p) { return frand(g) < p; }
static double amax(const struct rg_val *v) { return fmax(fabs(v->lo), fabs(v->hi)); }
static int64_t numel(int rank, const int64_t *d) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= d[i];
    return n;
}
static double dtype_rtol(enum ts_dtype t) { return t == TS_F16 ? 1e-3 : t == TS_BF16 ? 1.6e-2 : 1.3e-6; }
static const int small[] = {1, 2, 3, 4, 7, 8, 17};

static int add_val(struct rg_gen *g, enum ts_dtype dt, int rank, const int64_t *dims, int kind, double lo, double hi) {
    if (g->nv == MAXV || numel(rank, dims) > MAXEL) return -1;
    struct rg_val *v = &g->v[g->nv];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s%d", kind == 0 ? "x" : kind == 1 ? "c" : "v", g->nv);
    v->dt = dt, v->rank = rank, v->kind = kind, v->lo = lo, v->hi = hi, v->tr = dtype_rtol(dt);
    memcpy(v->dims, dims, sizeof(int64_t) * (size_t)rank);
    v->n = numel(rank, dims);
    v->cst = kind == 1;
    return g->nv++;
}

/* A new input or constant with random data in [lo, hi]: floats kept away from
 * zero, integers include zero, bools mixed. */
static int fresh(struct rg_gen *g, enum ts_dtype dt, int rank, const int64_t *dims, double lo, double hi, bool cst) {
    bool input = !cst && !g->const_only && chance(g, 0.4);
    int id = add_val(g, dt, rank, dims, input ? 0 : 1, lo, hi);
    if (id < 0) return -1;
    struct rg_val *v = &g->v[id];
    v->data = malloc(sizeof(double) * (size_t)(v->n ? v->n : 1));
    struct ts_tensor t;
    int64_t one = 1;
    uint8_t buf[8];
    ts_tensor_view(&t, dt, 1, &one, buf);
    for (int64_t i = 0; i < v->n; i++) {
        double x;
        if (dt == TS_BOOL)
            x = rnd(g, 2);
        else if (!ts_dtype_is_float(dt))
            x = floor(lo + frand(g) * (hi - lo + 1)), x = x > hi ? hi : x;
        else
            do x = lo + frand(g) * (hi - lo);
            while (fabs(x) < 0.05 * (hi - lo) && lo < 0 && hi > 0);
        ts_tensor_set_f64(&t, 0, x);
        v->data[i] = ts_tensor_get_f64(&t, 0);
    }
    return id;
}

static int pick(struct rg_gen *g, int cls, int minrank) { /* cls: 1 float, 2 int, 3 any, 4 bool */
    int c[MAXV], n = 0;
    for (int i = 0; i < g->nv; i++) {
        const struct rg_val *v = &g->v[i];
        bool f = ts_dtype_is_float(v->dt), in = ts_dtype_is_int(v->dt);
        bool ok = cls == 1 ? f : cls == 2 ? in : cls == 4 ? v->dt == TS_BOOL : true;
        if (ok && !v->hidden && v->n > 0 && v->rank >= minrank && (!g->const_only || v->cst)) c[n++] = i;
    }
    return n ? c[rnd(g, n)] : -1;
}

/* Adds a node with one output (or the first of nout outputs) of dtype/shape;
 * k, interval and constness are filled from the inputs by the caller. */
static int add_node(struct rg_gen *g, const char *op, int nin, const int *in, enum ts_dtype dt, int rank,
                    const int64_t *dims, double lo, double hi, const char *attrs) {
    for (int i = 0; i < nin; i++)
        if (in[i] < -1 || (in[i] >= 0 && g->v[in[i]].n > MAXEL)) return -1;
    if (g->nn == MAXN) return -1;
    int id = add_val(g, dt, rank, dims, 2, lo, hi);
    if (id < 0) return -1;
    struct rg_node *nd = &g->nd[g->nn++];
    nd->op = op, nd->nin = nin, nd->nout = 1, nd->out[0] = id;
    snprintf(nd->attrs, sizeof nd->attrs, "%s", attrs ? attrs : "");
    bool cst = true;
    double k = 0, tr = 0;
    for (int i = 0; i < nin; i++) {
        nd->in[i] = in[i];
        if (in[i] < 0) continue;
        struct rg_val *u = &g->v[in[i]];
        u->used = true, cst = cst && u->cst;
        if (u->k > k) k = u->k;
        if (u->k > 0 && u->tr > tr) tr = u->tr;
    }
    struct rg_val *v = &g->v[id];
    v->cst = cst, v->k = k, v->tr = fmax(tr, dtype_rtol(dt));
    return id;
}
/* The error model: out's k is gain·(inputs' k) + add where some input is
 * inexact; a rewritten pattern starts at k = add. */
static int grow(struct rg_gen *g, int id, double gain, double add) {
    if (id >= 0 && g->v[id].k > 0) g->v[id].k = g->v[id].k * gain + add;
    return id;
}
/* A spelled-out pattern's output: its input's k (kin) times the pattern's
 * gain, plus what rewriting it to the fused op may move. */
static int finish(struct rg_gen *g, int id, double kin, double gain, double add) {
    if (id >= 0) g->v[id].k = kin * gain + add, g->v[id].tr = fmax(g->v[id].tr, dtype_rtol(g->v[id].dt));
    return id;
}

static bool bcast(int ra, const int64_t *a, int rb, const int64_t *b, int *r, int64_t *out) {
    *r = ra > rb ? ra : rb;
    for (int i = 0; i < *r; i++) {
        int64_t x = i < *r - ra ? 1 : a[i - (*r - ra)], y = i < *r - rb ? 1 : b[i - (*r - rb)];
        if (x != y && x != 1 && y != 1) return false;
        out[i] = x > y ? x : y;
    }
    return numel(*r, out) <= MAXEL;
}

/* A second operand for a, broadcast-compatible: an existing value, or a new
 * one whose dims are a's, 1s, a suffix, or a stretched 1. */
static int partner(struct rg_gen *g, int a, double lo, double hi) {
    const struct rg_val *va = &g->v[a];
    if (chance(g, 0.4)) {
        for (int t = 0; t < 6; t++) {
            int b = pick(g, ts_dtype_is_float(va->dt) ? 1 : 2, 0), r;
            int64_t o[TS_MAX_RANK];
            if (b >= 0 && g->v[b].dt == va->dt && g->v[b].lo >= lo && g->v[b].hi <= hi &&
                bcast(va->rank, va->dims, g->v[b].rank, g->v[b].dims, &r, o))
                return b;
        }
    }
    int64_t d[TS_MAX_RANK];
    int skip = chance(g, 0.3) ? rnd(g, va->rank + 1) : 0, r = va->rank - skip;
    for (int i = 0; i < r; i++) {
        int64_t x = va->dims[skip + i];
        d[i] = x == 1 && chance(g, 0.2) ? small[3 + rnd(g, 3)] : chance(g, 0.25) ? 1 : x;
    }
    return fresh(g, va->dt, r, d, lo, hi, false);
}

static int binary_of(struct rg_gen *g, const char *op, int a, int b) {
    if (a < 0 || b < 0) return -1;
    const struct rg_val *x = &g->v[a], *y = &g->v[b];
    int r;
    int64_t o[TS_MAX_RANK];
    if (!bcast(x->rank, x->dims, y->rank, y->dims, &r, o)) return -1;
    double c[4] = {x->lo * y->lo, x->lo * y->hi, x->hi * y->lo, x->hi * y->hi}, lo, hi, gain = 1.2;
    if (!strcmp(op, "add"))
        lo = x->lo + y->lo, hi = x->hi + y->hi;
    else if (!strcmp(op, "sub"))
        lo = x->lo - y->hi, hi = x->hi - y->lo;
    else if (!strcmp(op, "maximum"))
        lo = fmax(x->lo, y->lo), hi = fmax(x->hi, y->hi);
    else if (!strcmp(op, "minimum"))
        lo = fmin(x->lo, y->lo), hi = fmin(x->hi, y->hi);
    else if (!strcmp(op, "mul")) {
        lo = fmin(fmin(c[0], c[1]), fmin(c[2], c[3])), hi = fmax(fmax(c[0], c[1]), fmax(c[2], c[3]));
        gain = fmax(1, fmax(amax(x), amax(y)));
    } else if (!strcmp(op, "div")) {
        if (ts_dtype_is_float(y->dt) ? y->lo < 0.25 : (y->lo <= 0 && y->hi >= 0)) return -1;
        if (ts_dtype_is_float(y->dt))
            lo = fmin(x->lo / y->lo, x->lo / y->hi), hi = fmax(x->hi / y->lo, x->hi / y->hi);
        else
            lo = -amax(x), hi = amax(x);
        gain = (1 + amax(x) / fabs(y->lo)) / fabs(y->lo) + 1;
    } else { /* pow: base in [lo > 0.1, hi], exponent an exact value in [-2, 3] */
        if (x->lo < 0.1 || y->lo < -2 || y->hi > 3 || y->k > 0) return -1;
        double bl = fmin(x->lo, 1), bh = fmax(x->hi, 1);
        lo = fmin(pow(bl, y->hi), pow(bh, y->lo)), hi = fmax(pow(bh, y->hi), pow(bl, y->lo));
        gain = 3 * fmax(1, hi / x->lo) + fabs(log(bh)) * hi;
    }
    if (fmax(fabs(lo), fabs(hi)) > 1e4) return -1;
    int ins[2] = {a, b};
    if (ts_dtype_is_float(x->dt) && chance(g, 0.5) && strcmp(op, "sub") && strcmp(op, "div") && strcmp(op, "pow"))
        ins[0] = b, ins[1] = a;
    return grow(g, add_node(g, op, 2, ins, x->dt, r, o, lo, hi, NULL), gain, 1);
}

static int unary_of(struct rg_gen *g, const char *op, int a, const char *attrs) {
    if (a < 0) return -1;
    const struct rg_val *x = &g->v[a];
    double lo = x->lo, hi = x->hi, gain = 1.2;
    if (!strcmp(op, "neg"))
        lo = -x->hi, hi = -x->lo;
    else if (!strcmp(op, "abs"))
        lo = x->lo > 0 ? x->lo : x->hi < 0 ? -x->hi : 0, hi = amax(x);
    else if (!strcmp(op, "relu"))
        lo = fmax(x->lo, 0), hi = fmax(x->hi, 0);
    else if (!strcmp(op, "exp")) {
        if (x->hi > 6) return -1;
        lo = exp(x->lo), hi = exp(x->hi), gain = hi + 1;
    } else if (!strcmp(op, "log") || !strcmp(op, "rsqrt") || !strcmp(op, "sqrt")) {
        if (x->lo < 0.05) return -1;
        if (op[0] == 'l')
            lo = log(x->lo), hi = log(x->hi), gain = 1 / x->lo + 1;
        else if (op[0] == 's')
            lo = sqrt(x->lo), hi = sqrt(x->hi), gain = 0.5 / lo + 1;
        else
            lo = 1 / sqrt(x->hi), hi = 1 / sqrt(x->lo), gain = 0.5 * pow(x->lo, -1.5) + 1;
    } else if (!strcmp(op, "tanh") || !strcmp(op, "erf"))
        lo = -1, hi = 1;
    else if (!strcmp(op, "sigmoid"))
        lo = 0, hi = 1;
    else
        lo = fmin(x->lo, -0.3), hi = fmax(x->hi, 0); /* silu, gelu */
    return grow(g, add_node(g, op, 1, &a, x->dt, x->rank, x->dims, lo, hi, attrs), gain, 1);
}

/* A float value with every element in [0.25, …]: |x| + 0.25 when needed. */
static int positive(struct rg_gen *g, int a) {
    if (a < 0) return -1;
    if (g->v[a].lo >= 0.25) return a;
    int b = unary_of(g, "abs", a, NULL);
    int64_t one = 1;
    int c = b < 0 ? -1 : fresh(g, g->v[a].dt, chance(g, 0.5) ? 0 : 1, &one, 0.25, 0.25, true);
    return c < 0 ? -1 : binary_of(g, "add", b, c);
}

static int scalar(struct rg_gen *g, enum ts_dtype dt, double x) {
    int64_t one = 1;
    return fresh(g, dt, chance(g, 0.7) ? 0 : 1, &one, x, x, true);
}

static int cast_of(struct rg_gen *g, int a, enum ts_dtype to) {
    if (a < 0) return -1;
    const struct rg_val *x = &g->v[a];
    if (x->k > 0 && !ts_dtype_is_float(to)) return -1; /* truncation would turn a rounding into a jump */
    if (to == TS_F16 && amax(x) > 6e4) return -1;
    char at[40];
    snprintf(at, sizeof at, "\"to\": \"%s\"", ts_dtype_name(to));
    double lo = to == TS_BOOL ? 0 : ts_dtype_is_int(to) ? trunc(x->lo) : x->lo;
    double hi = to == TS_BOOL ? 1 : ts_dtype_is_int(to) ? trunc(x->hi) : x->hi;
    return add_node(g, "cast", 1, &a, to, x->rank, x->dims, lo, hi, at);
}

static const char *const fbin[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum"};
static const char *const ibin[] = {"add", "sub", "mul", "div", "maximum", "minimum"};
static const char *const fun[] = {"neg", "exp",     "log",  "sqrt", "rsqrt", "tanh",
                                  "erf", "sigmoid", "relu", "silu", "abs",   "gelu"};

static int g_binary(struct rg_gen *g) {
    int a = pick(g, chance(g, 0.8) ? 1 : 2, 0);
    if (a < 0) return -1;
    bool f = ts_dtype_is_float(g->v[a].dt);
    const char *op = f ? fbin[rnd(g, 7)] : ibin[rnd(g, 6)];
    if (!strcmp(op, "pow")) {
        a = positive(g, a);
        int e = a < 0            ? -1
                : chance(g, 0.5) ? scalar(g, g->v[a].dt, (double)(rnd(g, 5) - 1) / (1 + rnd(g, 2)))
                                 : partner(g, a, -1, 2);
        return e < 0 ? -1 : binary_of(g, op, a, e);
    }
    int b = !strcmp(op, "div") ? (f ? partner(g, a, 0.5, 2) : partner(g, a, 1, 4)) : partner(g, a, -2, 2);
    if (b >= 0 && !strcmp(op, "div") && f && chance(g, 0.3)) b = positive(g, b);
    return b < 0 ? -1 : binary_of(g, op, a, b);
}

static int g_unary(struct rg_gen *g) {
    int a = pick(g, chance(g, 0.85) ? 1 : 2, 0);
    if (a < 0) return -1;
    if (!ts_dtype_is_float(g->v[a].dt)) return unary_of(g, (const char *[]){"neg", "abs", "relu"}[rnd(g, 3)], a, NULL);
    const char *op = fun[rnd(g, 12)];
    if (!strcmp(op, "log") || op[0] == 's' || op[0] == 'r') {
        if (strcmp(op, "relu") && strcmp(op, "silu") && strcmp(op, "sigmoid")) a = positive(g, a);
    }
    if (a >= 0 && !strcmp(op, "exp") && g->v[a].hi > 6) a = unary_of(g, "tanh", a, NULL);
    if (a < 0) return -1;
    return unary_of(g, op, a,
                    !strcmp(op, "gelu") ? (chance(g, 0.5) ? "\"approximate\": \"tanh\"" : "\"approximate\": \"none\"")
                                        : NULL);
}

static int g_cast(struct rg_gen *g) {
    int a = pick(g, 3, 0);
    if (a < 0) return -1;
    static const enum ts_dtype to[] = {TS_F32, TS_F16, TS_BF16, TS_I32, TS_I64, TS_BOOL};
    return cast_of(g, a, to[rnd(g, 6)]);
}

static int g_where(struct rg_gen *g) {
    int a = pick(g, chance(g, 0.8) ? 1 : 2, 0);
    if (a < 0) return -1;
    int b = partner(g, a, -2, 2), c = pick(g, 4, 0);
    if (b < 0) return -1;
    int r;
    int64_t o[TS_MAX_RANK], o2[TS_MAX_RANK];
    if (c < 0 || chance(g, 0.5)) { /* a bool made from an exact value that has zeros */
        int src = partner(g, a, -3, 3);
        if (src < 0 || g->v[src].k > 0) return -1;
        if (ts_dtype_is_float(g->v[src].dt)) src = unary_of(g, "relu", src, NULL);
        c = src < 0 ? -1 : cast_of(g, src, TS_BOOL);
    }
    if (c < 0 || !bcast(g->v[a].rank, g->v[a].dims, g->v[b].rank, g->v[b].dims, &r, o) ||
        !bcast(r, o, g->v[c].rank, g->v[c].dims, &r, o2))
        return -1;
    int in[3] = {c, a, b};
    double lo = fmin(g->v[a].lo, g->v[b].lo), hi = fmax(g->v[a].hi, g->v[b].hi);
    return grow(g, add_node(g, "where", 3, in, g->v[a].dt, r, o2, lo, hi, NULL), 1, 0);
}

static int g_matmul(struct rg_gen *g) {
    int a = pick(g, chance(g, 0.85) ? 1 : 2, 2);
    if (a < 0 || g->v[a].dt == TS_BOOL) return -1;
    const struct rg_val *x = &g->v[a];
    bool ta = chance(g, 0.3), tb = chance(g, 0.4);
    int64_t K = x->dims[x->rank - (ta ? 2 : 1)], M = x->dims[x->rank - (ta ? 1 : 2)], N = small[rnd(g, 7)];
    int64_t d[TS_MAX_RANK];
    int nb = rnd(g, x->rank - 1), r = nb + 2;
    for (int i = 0; i < nb; i++) d[i] = chance(g, 0.3) ? 1 : x->dims[x->rank - 2 - nb + i];
    d[nb] = tb ? N : K, d[nb + 1] = tb ? K : N;
    bool fl = ts_dtype_is_float(x->dt);
    int b = fresh(g, x->dt, r, d, fl ? -1 : -3, fl ? 1 : 3, false), ro;
    if (b < 0) return -1;
    int64_t o[TS_MAX_RANK];
    if (!bcast(x->rank - 2, x->dims, nb, d, &ro, o)) return -1;
    o[ro] = M, o[ro + 1] = N;
    double m = (double)K * amax(x) * amax(&g->v[b]);
    if (m > 1e4) return -1;
    char at[80];
    snprintf(at, sizeof at, "\"transpose_a\": %s, \"transpose_b\": %s", ta ? "true" : "false", tb ? "true" : "false");
    int in[2] = {a, b};
    return grow(g, add_node(g, "matmul", 2, in, x->dt, ro + 2, o, -m, m, at), (double)K * fmax(1, amax(&g->v[b])),
                (double)K);
}

static int g_softmax(struct rg_gen *g) {
    int a = pick(g, 1, 1);
    if (a < 0) return -1;
    int ax = rnd(g, g->v[a].rank);
    char at[32];
    snprintf(at, sizeof at, "\"axis\": %d", chance(g, 0.5) ? ax : ax - g->v[a].rank);
    return grow(g, add_node(g, "softmax", 1, &a, g->v[a].dt, g->v[a].rank, g->v[a].dims, 0, 1, at), 2, 2);
}

/* 1-D weight/bias constants of the last dim, for the fused and the spelled norms. */
static int norm_param(struct rg_gen *g, int a, double lo, double hi) {
    int64_t n = g->v[a].dims[g->v[a].rank - 1];
    return fresh(g, g->v[a].dt, 1, &n, lo, hi, chance(g, 0.7));
}

static int g_norm(struct rg_gen *g) {
    int a = pick(g, 1, 1);
    if (a < 0) return -1;
    bool ln = chance(g, 0.5);
    const struct rg_val *x = &g->v[a];
    int in[3] = {a, chance(g, 0.7) ? norm_param(g, a, 0.5, 1.5) : -1,
                 ln && chance(g, 0.6) ? norm_param(g, a, -1, 1) : -1};
    double eps = chance(g, 0.5) ? (ln ? 1e-5 : 1e-6) : 1e-3, n = (double)x->dims[x->rank - 1];
    char at[64];
    snprintf(at, sizeof at, "\"axis\": %d, \"eps\": %g", chance(g, 0.5) ? -1 : x->rank - 1, eps);
    double hi = sqrt(n) * 1.5 + 1;
    int id = add_node(g, ln ? "layernorm" : "rmsnorm", ln ? 3 : 2, in, x->dt, x->rank, x->dims, -hi, hi, at);
    return grow(g, id, 1.5 * (1 + 2 * amax(x) / sqrt(eps)), n + 4);
}

static int reduce_of(struct rg_gen *g, const char *op, int a, int naxes, const int *axes, bool keep) {
    if (a < 0) return -1;
    const struct rg_val *x = &g->v[a];
    int64_t o[TS_MAX_RANK];
    int r = 0;
    double cnt = 1;
    char at[96];
    int used = snprintf(at, sizeof at, "\"axes\": [");
    for (int i = 0; i < x->rank; i++) {
        bool red = false;
        for (int j = 0; j < naxes; j++) red = red || axes[j] == i || axes[j] == i - x->rank;
        if (red) cnt *= (double)x->dims[i];
        if (!red || keep) o[r++] = red ? 1 : x->dims[i];
    }
    for (int j = 0; j < naxes; j++)
        used += snprintf(at + used, sizeof at - (size_t)used, "%s%d", j ? ", " : "", axes[j]);
    snprintf(at + used, sizeof at - (size_t)used, "], \"keepdims\": %s", keep ? "true" : "false");
    bool sum = !strcmp(op, "reduce_sum");
    double lo = sum ? x->lo * cnt : x->lo, hi = sum ? x->hi * cnt : x->hi;
    if (fmax(fabs(lo), fabs(hi)) > 1e4) return -1;
    return grow(g, add_node(g, op, 1, &a, x->dt, r, o, lo, hi, at), sum ? cnt : 1, sum ? cnt : 1);
}

static int g_reduce(struct rg_gen *g) {
    int a = pick(g, 1, 0), axes[TS_MAX_RANK], n = 0;
    if (a < 0) return -1;
    for (int i = 0; i < g->v[a].rank; i++)
        if (chance(g, 0.4)) axes[n++] = chance(g, 0.5) ? i : i - g->v[a].rank;
    if (n == 0 && g->v[a].rank && chance(g, 0.8)) axes[n++] = -1;
    return reduce_of(g, (const char *[]){"reduce_sum", "reduce_mean", "reduce_max"}[rnd(g, 3)], a, n, axes,
                     chance(g, 0.5));
}

static int g_transpose(struct rg_gen *g) {
    int a = pick(g, 3, 1);
    if (a < 0) return -1;
    const struct rg_val *x = &g->v[a];
    int p[TS_MAX_RANK];
    int64_t o[TS_MAX_RANK];
    char at[80];
    int used = snprintf(at, sizeof at, "\"perm\": [");
    for (int i = 0; i < x->rank; i++) p[i] = i;
    for (int i = x->rank - 1; i > 0; i--) {
        int j = rnd(g, i + 1), t = p[i];
        p[i] = p[j], p[j] = t;
    }
    for (int i = 0; i < x->rank; i++) {
        o[i] = x->dims[p[i]];
        used += snprintf(at + used, sizeof at - (size_t)used, "%s%d", i ? ", " : "",
                         chance(g, 0.2) ? p[i] - x->rank : p[i]);
    }
    snprintf(at + used, sizeof at - (size_t)used, "]");
    return grow(g, add_node(g, "transpose", 1, &a, x->dt, x->rank, o, x->lo, x->hi, at), 1, 0);
}

static int g_reshape(struct rg_gen *g) {
    int a = pick(g, 3, 0);
    if (a < 0) return -1;
    const struct rg_val *x = &g->v[a];
    int64_t o[TS_MAX_RANK];
    int r = 0, kind = rnd(g, 3), at_i = x->rank ? rnd(g, x->rank) : 0;
    for (int i = 0; i < x->rank; i++) {
        if (kind == 0 && i == at_i && i + 1 < x->rank)
            o[r++] = x->dims[i] * x->dims[i + 1], i++; /* merge */
        else if (kind == 1 && i == at_i && x->dims[i] % 2 == 0 && r < 6)
            o[r++] = 2, o[r++] = x->dims[i] / 2; /* split */
        else
            o[r++] = x->dims[i];
    }
    if (kind == 2 && r < 6) { /* insert a 1 */
        int p = rnd(g, r + 1);
        memmove(o + p + 1, o + p, sizeof(int64_t) * (size_t)(r - p));
        o[p] = 1, r++;
    }
    int infer = r && chance(g, 0.4) ? rnd(g, r) : -1;
    char at[120];
    int used = snprintf(at, sizeof at, "\"shape\": [");
    for (int i = 0; i < r; i++)
        used +=
            snprintf(at + used, sizeof at - (size_t)used, "%s%lld", i ? ", " : "", i == infer ? -1LL : (long long)o[i]);
    snprintf(at + used, sizeof at - (size_t)used, "]");
    return grow(g, add_node(g, "reshape", 1, &a, x->dt, r, o, x->lo, x->hi, at), 1, 0);
}

static int g_slice(struct rg_gen *g) {
    int a = pick(g, 3, 1);
    if (a < 0) return -1;
    const struct rg_val *x = &g->v[a];
    int ax = rnd(g, x->rank);
    int64_t n = x->dims[ax], s = rnd(g, (int)n + 4) - (int)n - 2, e = rnd(g, (int)n + 4) - (int)n - 2;
    int64_t st = (int64_t[]){1, 1, 2, 3, -1, -2}[rnd(g, 6)], lo = st > 0 ? 0 : -1, hi = st > 0 ? n : n - 1;
    s = chance(g, 0.5) ? s + n : s, e = chance(g, 0.5) ? e + n : e;
    int64_t b = s < 0 ? (s + n < lo ? lo : s + n) : (s > hi ? hi : s),
            f = e < 0 ? (e + n < lo ? lo : e + n) : (e > hi ? hi : e);
    int64_t cnt = st > 0 ? (f > b ? (f - b + st - 1) / st : 0) : (b > f ? (b - f - st - 1) / -st : 0);
    if (cnt == 0 && chance(g, 0.8)) return -1;
    int64_t o[TS_MAX_RANK];
    memcpy(o, x->dims, sizeof o);
    o[ax] = cnt;
    char at[96];
    snprintf(at, sizeof at, "\"axis\": %d, \"start\": %lld, \"end\": %lld, \"step\": %lld",
             chance(g, 0.3) ? ax - x->rank : ax, (long long)s, (long long)e, (long long)st);
    return grow(g, add_node(g, "slice", 1, &a, x->dt, x->rank, o, x->lo, x->hi, at), 1, 0);
}

static int g_concat(struct rg_gen *g) {
    int a = pick(g, 3, 1), in[3] = {a}, n = 2 + rnd(g, 2);
    if (a < 0) return -1;
    const struct rg_val *x = &g->v[a];
    int ax = rnd(g, x->rank);
    int64_t o[TS_MAX_RANK];
    memcpy(o, x->dims, sizeof o);
    double lo = x->lo, hi = x->hi;
    for (int i = 1; i < n; i++) {
        int64_t d[TS_MAX_RANK];
        memcpy(d, x->dims, sizeof d);
        d[ax] = small[rnd(g, 5)];
        in[i] = chance(g, 0.3) ? a : fresh(g, x->dt, x->rank, d, x->dt == TS_BOOL ? 0 : -1, 1, false);
        if (in[i] < 0) return -1;
        if (i > 0 && in[i] != a) lo = fmin(lo, g->v[in[i]].lo), hi = fmax(hi, g->v[in[i]].hi);
        o[ax] += g->v[in[i]].dims[ax];
    }
    char at[32];
    snprintf(at, sizeof at, "\"axis\": %d", chance(g, 0.3) ? ax - x->rank : ax);
    return grow(g, add_node(g, "concat", n, in, x->dt, x->rank, o, lo, hi, at), 1, 0);
}

static int g_split(struct rg_gen *g) {
    int a = pick(g, 3, 1);
    if (a < 0) return -1;
    const struct rg_val *x = &g->v[a];
    int ax = rnd(g, x->rank), n = 0;
    int64_t left = x->dims[ax], sz[8];
    while (left > 0 && n < 7) sz[n] = n == 6 || chance(g, 0.3) ? left : 1 + rnd(g, (int)left), left -= sz[n++];
    if (left || n < 1) return -1;
    char at[120];
    int used = snprintf(at, sizeof at, "\"axis\": %d, \"sizes\": [", chance(g, 0.3) ? ax - x->rank : ax);
    for (int i = 0; i < n; i++)
        used += snprintf(at + used, sizeof at - (size_t)used, "%s%lld", i ? ", " : "", (long long)sz[i]);
    snprintf(at + used, sizeof at - (size_t)used, "]");
    int64_t o[TS_MAX_RANK];
    memcpy(o, x->dims, sizeof o);
    o[ax] = sz[0];
    int first = grow(g, add_node(g, "split", 1, &a, x->dt, x->rank, o, x->lo, x->hi, at), 1, 0);
    if (first < 0) return -1;
    struct rg_node *nd = &g->nd[g->nn - 1];
    for (int i = 1; i < n; i++) {
        o[ax] = sz[i];
        int id = add_val(g, x->dt, x->rank, o, 2, x->lo, x->hi);
        if (id < 0) return -1; /* the graph stays valid: the node keeps the outputs added so far */
        g->v[id].k = g->v[first].k, g->v[id].tr = g->v[first].tr, g->v[id].cst = g->v[first].cst;
        nd->out[nd->nout++] = id;
    }
    return first;
}

static int g_gather(struct rg_gen *g) {
    int a = pick(g, 3, 1);
    if (a < 0) return -1;
    const struct rg_val *x = &g->v[a];
    int ax = rnd(g, x->rank), ri = rnd(g, 3), r = 0;
    int64_t id[2] = {1 + rnd(g, 5), 1 + rnd(g, 3)}, o[TS_MAX_RANK], n = x->dims[ax];
    int idx = fresh(g, chance(g, 0.5) ? TS_I32 : TS_I64, ri, id, (double)-n, (double)n - 1, true);
    if (idx < 0 || x->rank - 1 + ri > TS_MAX_RANK) return -1;
    for (int i = 0; i < ax; i++) o[r++] = x->dims[i];
    for (int i = 0; i < ri; i++) o[r++] = id[i];
    for (int i = ax + 1; i < x->rank; i++) o[r++] = x->dims[i];
    char at[32];
    snprintf(at, sizeof at, "\"axis\": %d", chance(g, 0.3) ? ax - x->rank : ax);
    int in[2] = {a, idx};
    return grow(g, add_node(g, "gather", 2, in, x->dt, r, o, x->lo, x->hi, at), 1, 0);
}

/* iota: a counting tensor of a random shape, axis, dtype, start and step. */
static int g_iota(struct rg_gen *g) {
    static const enum ts_dtype dts[5] = {TS_I32, TS_I64, TS_F32, TS_F16, TS_BF16};
    enum ts_dtype dt = dts[rnd(g, 5)];
    int rank = 1 + rnd(g, 3), ax = rnd(g, rank);
    int64_t o[TS_MAX_RANK];
    for (int i = 0; i < rank; i++) o[i] = 1 + rnd(g, 8);
    int64_t start = rnd(g, 41) - 20, step = rnd(g, 7) - 3, last = start + step * (o[ax] - 1);
    char at[200];
    int used = snprintf(at, sizeof at, "\"shape\": [");
    for (int i = 0; i < rank; i++)
        used += snprintf(at + used, sizeof at - (size_t)used, "%s%lld", i ? ", " : "", (long long)o[i]);
    snprintf(at + used, sizeof at - (size_t)used, "], \"axis\": %d, \"dtype\": \"%s\", \"start\": %lld, \"step\": %lld",
             chance(g, 0.3) ? ax - rank : ax, ts_dtype_name(dt), (long long)start, (long long)step);
    return add_node(g, "iota", 0, NULL, dt, rank, o, (double)(start < last ? start : last),
                    (double)(start < last ? last : start), at);
}

static int g_rope(struct rg_gen *g) {
    int a = pick(g, 1, 2);
    if (a < 0 || g->v[a].dims[g->v[a].rank - 1] % 2 || g->v[a].dims[g->v[a].rank - 1] < 2) return -1;
    const struct rg_val *x = &g->v[a];
    int64_t hd = x->dims[x->rank - 1], seq = x->dims[x->rank - 2];
    int in[2] = {a, chance(g, 0.5) ? fresh(g, chance(g, 0.5) ? TS_I32 : TS_I64, 1, &seq, 0, 40, false) : -1};
    char at[96];
    int used = snprintf(at, sizeof at, "\"theta\": %g, \"interleaved\": %s", chance(g, 0.5) ? 10000.0 : 100.0,
                        chance(g, 0.5) ? "true" : "false");
    if (chance(g, 0.4))
        snprintf(at + used, sizeof at - (size_t)used, ", \"rotary_dim\": %lld",
                 (long long)(2 * (1 + rnd(g, (int)hd / 2))));
    double m = amax(x) * 1.5;
    return grow(g, add_node(g, "rope", in[1] < 0 ? 1 : 2, in, x->dt, x->rank, x->dims, -m, m, at), 2, 1);
}

/* q, k, v for attention: q an existing rank-4 value where one fits. */
static bool qkv(struct rg_gen *g, bool same_heads, int *q, int *k, int *v, int64_t *sk) {
    int64_t d[4] = {1 + rnd(g, 2), 1 + rnd(g, 3), small[rnd(g, 5)], 2 * (1 + rnd(g, 4))};
    *q = pick(g, 1, 4);
    if (*q >= 0 && g->v[*q].rank == 4 && g->v[*q].dt == TS_F32 && amax(&g->v[*q]) <= 4)
        memcpy(d, g->v[*q].dims, sizeof d);
    else
        *q = fresh(g, TS_F32, 4, d, -1, 1, false);
    int64_t hkv = same_heads || d[1] % 2 ? d[1] : d[1] / 2, kd[4] = {d[0], hkv, small[rnd(g, 7)], d[3]};
    *sk = kd[2];
    *k = fresh(g, TS_F32, 4, kd, -1, 1, false);
    kd[3] = 1 + rnd(g, 4);
    *v = fresh(g, TS_F32, 4, kd, -2, 2, false);
    return *q >= 0 && *k >= 0 && *v >= 0;
}

static int g_attention(struct rg_gen *g) {
    int q, k, v;
    int64_t sk;
    if (!qkv(g, chance(g, 0.4), &q, &k, &v, &sk)) return -1;
    int64_t md[2] = {g->v[q].dims[2], sk}, o[4] = {g->v[q].dims[0], g->v[q].dims[1], g->v[q].dims[2], g->v[v].dims[3]};
    int in[4] = {q, k, v, chance(g, 0.4) ? fresh(g, TS_F32, 2, md, -2, 0, false) : -1};
    char at[64];
    int used = snprintf(at, sizeof at, "\"causal\": %s", chance(g, 0.5) ? "true" : "false");
    if (chance(g, 0.4)) snprintf(at + used, sizeof at - (size_t)used, ", \"scale\": %g", 0.25 + rnd(g, 4) * 0.25);
    double m = fmax(amax(&g->v[v]), 0);
    double d = (double)g->v[q].dims[3], gain = 4 * d * amax(&g->v[q]) * amax(&g->v[k]) * m + 2 * m;
    return grow(g, add_node(g, "attention", in[3] < 0 ? 3 : 4, in, TS_F32, 4, o, -m, m, at), gain, (double)sk);
}

/* ---- primitive spellings that simplify rewrites ---------------------------- */

static int hide(struct rg_gen *g, int id) {
    if (id >= 0 && chance(g, 0.92)) g->v[id].hidden = true;
    return id;
}
#define H(expr) hide(g, (expr))

static int p_gelu(struct rg_gen *g) {
    int x = pick(g, 1, 0);
    if (x < 0 || amax(&g->v[x]) > 8) return -1;
    enum ts_dtype dt = g->v[x].dt;
    int inner;
    if (chance(g, 0.5)) { /* erf */
        int arg = chance(g, 0.5) ? binary_of(g, "div", x, scalar(g, dt, 1.4142135623730951))
                                 : binary_of(g, "mul", x, scalar(g, dt, 0.7071067811865476));
        inner = H(unary_of(g, "erf", H(arg), NULL));
    } else { /* tanh */
        int cube = chance(g, 0.5) ? binary_of(g, "pow", g->v[x].lo >= 0.1 ? x : -1, scalar(g, dt, 3))
                                  : binary_of(g, "mul", H(binary_of(g, "mul", x, x)), x);
        if (cube < 0) cube = binary_of(g, "mul", H(binary_of(g, "mul", x, x)), x);
        int k = H(binary_of(g, "mul", H(cube), scalar(g, dt, 0.044715)));
        int s = H(binary_of(g, "add", x, k));
        inner = H(unary_of(g, "tanh", H(binary_of(g, "mul", s, scalar(g, dt, 0.7978845608028654))), NULL));
    }
    int one = H(binary_of(g, "add", inner, scalar(g, dt, 1.0)));
    int y = chance(g, 0.5) ? binary_of(g, "mul", H(binary_of(g, "mul", x, scalar(g, dt, 0.5))), one)
                           : binary_of(g, "mul", H(binary_of(g, "mul", x, one)), scalar(g, dt, 0.5));
    if (y >= 0) g->v[y].lo = fmin(g->v[x].lo, -0.2), g->v[y].hi = fmax(g->v[x].hi, 0);
    return finish(g, y, g->v[x].k, 1.5, 16);
}

static int p_softmax(struct rg_gen *g) {
    int x = pick(g, 1, 1);
    if (x < 0) return -1;
    int ax = rnd(g, g->v[x].rank), axes[1] = {chance(g, 0.5) ? ax : ax - g->v[x].rank};
    int t = x;
    if (chance(g, 0.7) || g->v[x].hi > 6)
        t = H(binary_of(g, "sub", x, H(reduce_of(g, "reduce_max", x, 1, axes, true))));
    int e = t < 0 || g->v[t].hi > 6 ? -1 : H(unary_of(g, "exp", t, NULL));
    int y = e < 0 ? -1 : binary_of(g, "div", e, H(reduce_of(g, "reduce_sum", e, 1, axes, true)));
    if (y < 0) return -1;
    g->v[y].lo = 0, g->v[y].hi = 1;
    return finish(g, y, g->v[x].k, 2 * exp(g->v[t].hi) + 4, 8 + (double)g->v[x].dims[ax]);
}

static int p_norm(struct rg_gen *g) {
    int x = pick(g, 1, 1), axes[1] = {-1};
    if (x < 0) return -1;
    if (chance(g, 0.5)) axes[0] = g->v[x].rank - 1;
    enum ts_dtype dt = g->v[x].dt;
    bool ln = chance(g, 0.5);
    double eps = (double[]){1e-5, 1e-3, 0.01}[rnd(g, 3)], n = (double)g->v[x].dims[g->v[x].rank - 1];
    int d = ln ? H(binary_of(g, "sub", x, H(reduce_of(g, "reduce_mean", x, 1, axes, true)))) : x;
    if (d < 0) return -1;
    int sq = chance(g, 0.5) ? binary_of(g, "mul", d, d) : binary_of(g, "pow", d, scalar(g, dt, 2));
    if (sq < 0) sq = binary_of(g, "mul", d, d); /* pow needs a positive base: the product then */
    if (sq >= 0) g->v[sq].lo = 0;
    int var = H(binary_of(g, "add", H(reduce_of(g, "reduce_mean", H(sq), 1, axes, true)), scalar(g, dt, eps)));
    if (var < 0) return -1;
    /* var >= eps: the root and the quotient are safe whatever the interval says. */
    const struct rg_val *vv = &g->v[var];
    bool rs = chance(g, 0.5);
    int root = add_node(g, rs ? "rsqrt" : "sqrt", 1, &var, dt, vv->rank, vv->dims, 0, 0, NULL);
    if (root < 0) return -1;
    g->v[root].hidden = true;
    int in[2] = {d, root};
    if (rs && chance(g, 0.5)) in[0] = root, in[1] = d;
    int y = add_node(g, rs ? "mul" : "div", 2, in, dt, g->v[x].rank, g->v[x].dims, 0, 0, NULL);
    if (y < 0) return -1;
    /* Each stage (normalized, · weight, + bias) is a whole pattern simplify may
     * rewrite when the next stage's reader is not private: all are inexact. */
    double gain = 1.5 * (1 + 2 * amax(&g->v[x]) / sqrt(eps));
    g->v[y].lo = -sqrt(n) - 0.1, g->v[y].hi = sqrt(n) + 0.1;
    finish(g, y, g->v[x].k, gain, (n + 8) * gain);
    if (chance(g, 0.7)) y = binary_of(g, "mul", H(y), norm_param(g, x, 0.5, 1.5));
    if (y >= 0 && ln && chance(g, 0.6)) y = binary_of(g, "add", H(y), norm_param(g, x, -1, 1));
    return y;
}

static int p_attention(struct rg_gen *g) {
    int q, k, v;
    int64_t sk;
    if (!qkv(g, true, &q, &k, &v, &sk)) return -1;
    int s;
    double kin = fmax(g->v[q].k, fmax(g->v[k].k, g->v[v].k)), d = (double)g->v[q].dims[3];
    int64_t so[4] = {g->v[q].dims[0], g->v[q].dims[1], g->v[q].dims[2], sk};
    if (chance(g, 0.5)) {
        s = add_node(g, "matmul", 2, (int[]){q, k}, TS_F32, 4, so, -8, 8, "\"transpose_b\": true");
    } else {
        int64_t kt[4] = {g->v[k].dims[0], g->v[k].dims[1], g->v[k].dims[3], sk};
        int t = H(add_node(g, "transpose", 1, &k, TS_F32, 4, kt, -1, 1, "\"perm\": [0, 1, 3, 2]"));
        s = t < 0 ? -1 : add_node(g, "matmul", 2, (int[]){q, t}, TS_F32, 4, so, -8, 8, NULL);
    }
    if (s < 0) return -1;
    g->v[s].lo = -(double)g->v[q].dims[3] * amax(&g->v[q]), g->v[s].hi = -g->v[s].lo;
    double sc = 1 / sqrt((double)g->v[q].dims[3]);
    if (chance(g, 0.7))
        s = chance(g, 0.5) ? binary_of(g, "mul", H(s), scalar(g, TS_F32, sc))
                           : binary_of(g, "div", H(s), scalar(g, TS_F32, 1 / sc));
    int64_t md[2] = {g->v[q].dims[2], sk};
    if (s >= 0 && chance(g, 0.4)) s = binary_of(g, "add", H(s), fresh(g, TS_F32, 2, md, -2, 0, false));
    if (s < 0) return -1;
    int p = H(add_node(g, "softmax", 1, (int[]){H(s)}, TS_F32, 4, so, 0, 1, NULL));
    int64_t o[4] = {so[0], so[1], so[2], g->v[v].dims[3]};
    int y = p < 0 ? -1 : add_node(g, "matmul", 2, (int[]){p, v}, TS_F32, 4, o, -amax(&g->v[v]), amax(&g->v[v]), NULL);
    return finish(g, y, kin, 4 * d * amax(&g->v[q]) * amax(&g->v[k]) * amax(&g->v[v]) + 2 * amax(&g->v[v]),
                  16 * (d * amax(&g->v[q]) + (double)sk + 4));
}

/* ---- one graph --------------------------------------------------------- */

typedef int (*gen_fn)(struct rg_gen *g);
static const struct {
    const char *name;
    gen_fn fn;
    int weight;
} families[] = {
    {"binary", g_binary, 6},       {"unary", g_unary, 5},
    {"cast", g_cast, 2},           {"where", g_where, 2},
    {"matmul", g_matmul, 3},       {"softmax", g_softmax, 2},
    {"norm", g_norm, 2},           {"reduce", g_reduce, 3},
    {"transpose", g_transpose, 2}, {"reshape", g_reshape, 2},
    {"slice", g_slice, 2},         {"concat", g_concat, 2},
    {"split", g_split, 1},         {"gather", g_gather, 2},
    {"rope", g_rope, 1},           {"attention", g_attention, 1},
    {"iota", g_iota, 1},
    {"gelu-spelled", p_gelu, 2},   {"softmax-spelled", p_softmax, 2},
    {"norm-spelled", p_norm, 2},   {"attention-spelled", p_attention, 1},
};
#define NFAM ((int)(sizeof families / sizeof families[0]))

static int fam_made[NFAM];
int rg_nfamilies(void) { return NFAM; }
const char *rg_family_name(int f) { return families[f].name; }
int rg_family_made(int f) { return fam_made[f]; }

/* A node that repeats an earlier one (cse merges it), sometimes reading a
 * copy of one of its constants (cse merges the constants first). */
static int g_dup(struct rg_gen *g) {
    if (g->nn == 0 || g->nn == MAXN) return -1;
    struct rg_node src = g->nd[rnd(g, g->nn)];
    if (src.nout != 1) return -1;
    for (int i = 0; i < src.nin && chance(g, 0.5); i++) {
        const struct rg_val *c = src.in[i] < 0 ? NULL : &g->v[src.in[i]];
        if (!c || c->kind != 1) continue;
        int id = add_val(g, c->dt, c->rank, c->dims, 1, c->lo, c->hi);
        if (id < 0) return -1;
        g->v[id].cst = true, g->v[id].hidden = true;
        g->v[id].data = malloc(sizeof(double) * (size_t)(c->n ? c->n : 1));
        memcpy(g->v[id].data, g->v[src.in[i]].data, sizeof(double) * (size_t)c->n);
        src.in[i] = id;
    }
    const struct rg_val *o = &g->v[src.out[0]];
    int id = add_node(g, src.op, src.nin, src.in, o->dt, o->rank, o->dims, o->lo, o->hi, src.attrs);
    if (id >= 0) g->v[id].k = g->v[src.out[0]].k, g->v[id].tr = g->v[src.out[0]].tr;
    return id;
}

void rg_free(struct rg_gen *g) {
    for (int i = 0; i < g->nv; i++) free(g->v[i].data);
    memset(g, 0, sizeof *g);
}

void rg_generate(struct rg_gen *g, uint64_t seed) {
    rg_free(g);
    g->s = seed;
    int64_t base[4] = {small[rnd(g, 7)], small[rnd(g, 7)], small[rnd(g, 7)], small[1 + rnd(g, 6)]};
    int brank = 1 + rnd(g, 4);
    while (numel(brank, base + 4 - brank) > 512) base[4 - brank + rnd(g, brank)] = 1 + rnd(g, 3);
    g->sym = (int)base[3];
    for (int i = 0, n = 1 + rnd(g, 3); i < n; i++) {
        int64_t d[4];
        int r = brank - (chance(g, 0.3) ? rnd(g, brank) : 0);
        for (int j = 0; j < r; j++) d[j] = chance(g, 0.2) ? 1 : base[4 - r + j];
        fresh(g, i == 2 && chance(g, 0.5) ? TS_I32 : TS_F32, r, d, i == 2 ? -4 : -1, i == 2 ? 4 : 1, false);
    }
    int total = 0;
    for (int i = 0; i < NFAM; i++) total += families[i].weight;
    for (int made = 0, want = 3 + rnd(g, 18), tries = 0; made < want && tries < 300; tries++) {
        g->const_only = chance(g, 0.1);
        int r = rnd(g, total + 6), f = 0;
        if (r >= total) {
            if (g_dup(g) >= 0) made++;
            continue;
        }
        while (r >= families[f].weight) r -= families[f++].weight;
        if (families[f].fn(g) >= 0) made++, fam_made[f]++;
        g->const_only = false;
    }
    g->const_only = false;
}

static void print_dims(FILE *f, const struct rg_val *v, bool sym, int symsize) {
    fputc('[', f);
    for (int i = 0; i < v->rank; i++) {
        if (sym && v->dims[i] == symsize)
            fprintf(f, "%s\"n\"", i ? ", " : "");
        else
            fprintf(f, "%s%lld", i ? ", " : "", (long long)v->dims[i]);
    }
    fputc(']', f);
}

/* The graph as FORMAT.md JSON: what `tessera run` reads. Outputs: most values
 * nothing reads, a few that are read; some dead code is left for dce. */
char *rg_to_json(struct rg_gen *g, uint64_t seed, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    fprintf(f,
            "{\"format\": \"tessera.graph\", \"version\": 1, \"name\": \"random-%llu\",\n"
            " \"symbols\": {\"n\": %d},\n \"inputs\": [",
            (unsigned long long)seed, g->sym);
    int k = 0;
    for (int i = 0; i < g->nv; i++) {
        const struct rg_val *v = &g->v[i];
        if (v->kind != 0) continue;
        fprintf(f, "%s\n  {\"name\": \"%s\", \"dtype\": \"%s\", \"shape\": ", k++ ? "," : "", v->name,
                ts_dtype_name(v->dt));
        print_dims(f, v, true, g->sym);
        fputc('}', f);
    }
    fprintf(f, "],\n \"constants\": [");
    k = 0;
    for (int i = 0; i < g->nv; i++) {
        const struct rg_val *v = &g->v[i];
        if (v->kind != 1) continue;
        fprintf(f, "%s\n  {\"name\": \"%s\", \"dtype\": \"%s\", \"shape\": ", k++ ? "," : "", v->name,
                ts_dtype_name(v->dt));
        print_dims(f, v, false, 0);
        fprintf(f, ", \"data\": [");
        for (int64_t j = 0; j < v->n; j++) {
            const char *sep = j ? ", " : "";
            if (v->dt == TS_BOOL)
                fprintf(f, "%s%s", sep, v->data[j] != 0 ? "true" : "false");
            else if (ts_dtype_is_float(v->dt))
                fprintf(f, "%s%.9g", sep, v->data[j]);
            else
                fprintf(f, "%s%lld", sep, (long long)v->data[j]);
        }
        fprintf(f, "]}");
    }
    fprintf(f, "],\n \"nodes\": [");
    bool reverse = g->s % 3 == 0; /* file order need not be topological */
    for (int j = 0; j < g->nn; j++) {
        const struct rg_node *nd = &g->nd[reverse ? g->nn - 1 - j : j];
        fprintf(f, "%s\n  {\"op\": \"%s\", \"inputs\": [", j ? "," : "", nd->op);
        for (int i = 0; i < nd->nin; i++)
            fprintf(f, "%s\"%s\"", i ? ", " : "", nd->in[i] < 0 ? "" : g->v[nd->in[i]].name);
        fprintf(f, "], \"outputs\": [");
        for (int i = 0; i < nd->nout; i++) fprintf(f, "%s\"%s\"", i ? ", " : "", g->v[nd->out[i]].name);
        fprintf(f, "]%s%s%s}", nd->attrs[0] ? ", \"attrs\": {" : "", nd->attrs, nd->attrs[0] ? "}" : "");
    }
    fprintf(f, "],\n \"outputs\": [");
    k = 0;
    for (int i = 0; i < g->nv; i++) {
        struct rg_val *v = &g->v[i];
        v->hidden = v->hidden || v->kind != 2 || !(v->used ? rnext(g) % 12 == 0 : rnext(g) % 8 != 0);
        if (!v->hidden) fprintf(f, "%s\"%s\"", k++ ? ", " : "", v->name), g->outs[g->nouts++] = i;
    }
    if (!k && g->nn) {
        int last = g->nd[g->nn - 1].out[0];
        fprintf(f, "\"%s\"", g->v[last].name), g->outs[g->nouts++] = last;
    }
    fprintf(f, "]}\n");
    fclose(f);
    return buf;
}
