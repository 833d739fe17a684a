/* test_simplify.c — the simplify pass on graphs written the way ONNX and
 * PyTorch exports spell gelu (erf and tanh), softmax, layernorm, rmsnorm and
 * attention: the IR after the pipeline holds the fused op and none of the
 * primitives, the reference interpreter gives the same outputs before and
 * after on random non-zero inputs (last dims 7, 17, 129), and near-misses
 * (a wrong constant, a non-last axis, an intermediate used elsewhere or
 * output, a broadcasting constant, grouped-query heads) stay as written. */
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"

/* Graphs are written with ' for "; stop_after: the last pass to run. */
static struct ts_graph *compile(const char *text, enum ts_pass_id stop_after) {
    size_t len = strlen(text);
    char *json = malloc(len + 1);
    for (size_t i = 0; i <= len; i++) json[i] = text[i] == '\'' ? '"' : text[i];
    struct ts_graph *g = NULL;
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_pipeline_opts o = {.stop_after = stop_after};
    if (ts_graph_parse(json, len, "t.json", ".", false, &g, &d) != TS_OK || ts_pipeline_run(g, &o, &d) != TS_OK) {
        ts_diag_print(&d, stderr);
        ts_graph_free(g);
        g = NULL;
    }
    free(json);
    CHECK(g != NULL);
    return g;
}

static char *print(const struct ts_graph *g) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    ts_graph_print(g, f);
    fclose(f);
    return buf;
}

static int count_op(const struct ts_graph *g, enum ts_op op) {
    int n = 0;
    for (int i = 0; i < g->nnodes; i++) n += g->nodes[i].op == op;
    return n;
}

/* Runs g on inputs drawn from seed: uniform in ±[0.1, 1], never zero. */
static bool run(const struct ts_graph *g, uint32_t seed, struct ts_tensor *out) {
    struct ts_tensor in[8];
    struct ts_diag d;
    ts_diag_clear(&d);
    TS_ASSERT(g->ninputs <= 8);
    for (int i = 0; i < g->ninputs; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        if (ts_tensor_alloc(&in[i], v->dtype, rank, dims, v->name, &d) != TS_OK) return false;
        for (int64_t k = 0; k < in[i].numel; k++) {
            seed = seed * 1664525u + 1013904223u;
            double u = (seed >> 8) / 16777216.0;
            ts_tensor_set_f64(&in[i], k, (u < 0.5 ? -1 : 1) * (0.1 + 1.8 * fabs(u - 0.5)));
        }
    }
    enum ts_status st = ts_interp_run(g, in, out, &d);
    if (st != TS_OK) ts_diag_print(&d, stderr);
    for (int i = 0; i < g->ninputs; i++) ts_tensor_release(&in[i]);
    return st == TS_OK;
}

/* The graph run as written (verified and shaped only) and after the whole
 * pipeline give the same outputs within tol (absolute and relative). */
static void check_same_outputs(const char *text, double tol) {
    struct ts_graph *before = compile(text, TS_PASS_SHAPES), *after = compile(text, TS_PASS_COUNT);
    struct ts_tensor a[4], b[4];
    if (before && after && before->noutputs <= 4) {
        CHECK(after->noutputs == before->noutputs);
        bool ok = run(before, 7, a) && run(after, 7, b);
        CHECK(ok);
        for (int i = 0; ok && i < before->noutputs; i++) {
            CHECK(a[i].numel == b[i].numel && a[i].dtype == b[i].dtype);
            double worst = 0;
            for (int64_t k = 0; k < a[i].numel && k < b[i].numel; k++) {
                double x = ts_tensor_get_f64(&a[i], k), y = ts_tensor_get_f64(&b[i], k);
                double err = fabs(x - y) / (1 + fabs(x));
                if (!(err <= worst)) worst = err; /* NaN sticks */
            }
            CHECK_NEAR(worst, 0, tol, 0);
            ts_tensor_release(&a[i]);
            ts_tensor_release(&b[i]);
        }
    }
    ts_graph_free(before);
    ts_graph_free(after);
}

/* After the pipeline, the IR holds want (a node line) and no node of the
 * primitives in gone[] (terminated by TS_OP_COUNT); outputs agree. */
static void check_fused(const char *text, const char *want, const enum ts_op *gone, double tol) {
    struct ts_graph *g = compile(text, TS_PASS_COUNT);
    if (!g) return;
    char *ir = print(g);
    CHECK_CONTAINS(ir, want);
    for (int i = 0; gone[i] != TS_OP_COUNT; i++) {
        if (count_op(g, gone[i]) == 0) {
            ts_test_passed++;
        } else {
            ts_test_failed++;
            fprintf(stderr, "%s: %s is still there in\n%s", want, ts_op_get(gone[i])->name, ir);
        }
    }
    free(ir);
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_pass_verify(g, &d) == TS_OK); /* still well formed and sorted */
    ts_graph_free(g);
    check_same_outputs(text, tol);
}

/* A near-miss: after the pipeline, the graph still holds 'kept' and no node
 * of op 'fused'; outputs agree. */
static void check_kept(const char *text, enum ts_op kept, enum ts_op fused) {
    struct ts_graph *g = compile(text, TS_PASS_COUNT);
    if (!g) return;
    CHECK(count_op(g, kept) > 0);
    CHECK(count_op(g, fused) == 0);
    if (count_op(g, fused)) {
        char *ir = print(g);
        fprintf(stderr, "rewritten to %s:\n%s", ts_op_get(fused)->name, ir);
        free(ir);
    }
    ts_graph_free(g);
    check_same_outputs(text, 1e-6);
}

#define HEAD "{'format': 'tessera.graph', 'version': 1, 'name': 't',\n"
#define F32 1e-5

/* ---- gelu ---------------------------------------------------------------- */

static const enum ts_op gelu_gone[] = {TS_OP_MUL, TS_OP_ADD, TS_OP_DIV, TS_OP_ERF, TS_OP_TANH, TS_OP_POW,
                                       TS_OP_COUNT};

/* PyTorch: 0.5 * x * (1 + erf(x / sqrt(2))); half is a format slot for the near-miss. */
static const char *const gelu_torch =
    HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, 129]}],\n"
    " 'constants': [{'name': 'half', 'dtype': 'f32', 'shape': [], 'data': [%s]},\n"
    "  {'name': 'one', 'dtype': 'f32', 'shape': [], 'data': [1.0]},\n"
    "  {'name': 'r2', 'dtype': 'f32', 'shape': [], 'data': [1.4142135623730951]}],\n"
    " 'nodes': [{'op': 'mul', 'inputs': ['half', 'x'], 'outputs': ['a']},\n"
    "  {'op': 'div', 'inputs': ['x', 'r2'], 'outputs': ['b']},\n"
    "  {'op': 'erf', 'inputs': ['b'], 'outputs': ['c']},\n"
    "  {'op': 'add', 'inputs': ['one', 'c'], 'outputs': ['e']},\n"
    "  {'op': 'mul', 'inputs': ['a', 'e'], 'outputs': ['y']}],\n"
    " 'outputs': ['y']}\n";

static void test_gelu_erf(void) {
    char text[2048];
    snprintf(text, sizeof text, gelu_torch, "0.5");
    struct ts_graph *g = compile(text, TS_PASS_COUNT);
    if (g) {
        char *ir = print(g);
        CHECK_STR(ir,
                  "graph \"t\"  (t.json)\n"
                  "  input  x: f32[3, 129]\n"
                  "  %y: f32[3, 129] = gelu(x) {approximate=\"none\"}\n"
                  "  outputs: y\n");
        free(ir);
        ts_graph_free(g);
    }
    check_fused(text, "= gelu(x) {approximate=\"none\"}", gelu_gone, F32);

    /* ONNX: Div → Erf → Add → Mul(x, ·) → Mul(·, 0.5), constants of shape [1],
     * and a named last node that keeps its name. */
    check_fused(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [2, 17]}],\n"
                " 'constants': [{'name': 'half', 'dtype': 'f32', 'shape': [1], 'data': [0.5]},\n"
                "  {'name': 'one', 'dtype': 'f32', 'shape': [1], 'data': [1.0]},\n"
                "  {'name': 'r2', 'dtype': 'f32', 'shape': [1], 'data': [1.4142135]}],\n"
                " 'nodes': [{'op': 'div', 'inputs': ['x', 'r2'], 'outputs': ['b']},\n"
                "  {'op': 'erf', 'inputs': ['b'], 'outputs': ['c']},\n"
                "  {'op': 'add', 'inputs': ['c', 'one'], 'outputs': ['e']},\n"
                "  {'op': 'mul', 'inputs': ['x', 'e'], 'outputs': ['xe']},\n"
                "  {'op': 'mul', 'inputs': ['xe', 'half'], 'outputs': ['y'], 'name': 'act'}],\n"
                " 'outputs': ['y']}\n",
                "%y: f32[2, 17] = gelu(x) {approximate=\"none\"}  # act\n", gelu_gone, F32);

    /* x · 0.70710678 for x / sqrt(2), and x · (0.5 · (1 + erf)). */
    check_fused(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [7]}],\n"
                " 'constants': [{'name': 'half', 'dtype': 'f32', 'shape': [], 'data': [0.5]},\n"
                "  {'name': 'one', 'dtype': 'f32', 'shape': [], 'data': [1]},\n"
                "  {'name': 'r', 'dtype': 'f32', 'shape': [1], 'data': [0.70710678]}],\n"
                " 'nodes': [{'op': 'mul', 'inputs': ['r', 'x'], 'outputs': ['b']},\n"
                "  {'op': 'erf', 'inputs': ['b'], 'outputs': ['c']},\n"
                "  {'op': 'add', 'inputs': ['c', 'one'], 'outputs': ['e']},\n"
                "  {'op': 'mul', 'inputs': ['half', 'e'], 'outputs': ['he']},\n"
                "  {'op': 'mul', 'inputs': ['x', 'he'], 'outputs': ['y']}],\n"
                " 'outputs': ['y']}\n",
                "= gelu(x) {approximate=\"none\"}", (const enum ts_op[]){TS_OP_ERF, TS_OP_COUNT}, F32);
}

static void test_gelu_erf_near_misses(void) {
    char text[2048];
    /* 0.45 is not gelu's 0.5 */
    snprintf(text, sizeof text, gelu_torch, "0.45");
    check_kept(text, TS_OP_ERF, TS_OP_GELU);
    /* an intermediate read by another node too */
    check_kept(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, 17]}],\n"
               " 'constants': [{'name': 'half', 'dtype': 'f32', 'shape': [], 'data': [0.5]},\n"
               "  {'name': 'one', 'dtype': 'f32', 'shape': [], 'data': [1.0]},\n"
               "  {'name': 'r2', 'dtype': 'f32', 'shape': [], 'data': [1.4142135]}],\n"
               " 'nodes': [{'op': 'mul', 'inputs': ['half', 'x'], 'outputs': ['a']},\n"
               "  {'op': 'div', 'inputs': ['x', 'r2'], 'outputs': ['b']},\n"
               "  {'op': 'erf', 'inputs': ['b'], 'outputs': ['c']},\n"
               "  {'op': 'add', 'inputs': ['one', 'c'], 'outputs': ['e']},\n"
               "  {'op': 'mul', 'inputs': ['a', 'e'], 'outputs': ['y']},\n"
               "  {'op': 'add', 'inputs': ['c', 'x'], 'outputs': ['z']}],\n"
               " 'outputs': ['y', 'z']}\n",
               TS_OP_ERF, TS_OP_GELU);
    /* an intermediate that is a graph output */
    check_kept(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, 17]}],\n"
               " 'constants': [{'name': 'half', 'dtype': 'f32', 'shape': [], 'data': [0.5]},\n"
               "  {'name': 'one', 'dtype': 'f32', 'shape': [], 'data': [1.0]},\n"
               "  {'name': 'r2', 'dtype': 'f32', 'shape': [], 'data': [1.4142135]}],\n"
               " 'nodes': [{'op': 'mul', 'inputs': ['half', 'x'], 'outputs': ['a']},\n"
               "  {'op': 'div', 'inputs': ['x', 'r2'], 'outputs': ['b']},\n"
               "  {'op': 'erf', 'inputs': ['b'], 'outputs': ['c']},\n"
               "  {'op': 'add', 'inputs': ['one', 'c'], 'outputs': ['e']},\n"
               "  {'op': 'mul', 'inputs': ['a', 'e'], 'outputs': ['y']}],\n"
               " 'outputs': ['y', 'e']}\n",
               TS_OP_ERF, TS_OP_GELU);
    /* a 0.5 of shape [2, 1, 1] broadcasts x [3, 7] to [2, 3, 7]: gelu(x) would not */
    check_kept(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, 7]}],\n"
               " 'constants': [{'name': 'half', 'dtype': 'f32', 'shape': [2, 1, 1], 'data': [0.5, 0.5]},\n"
               "  {'name': 'one', 'dtype': 'f32', 'shape': [], 'data': [1.0]},\n"
               "  {'name': 'r2', 'dtype': 'f32', 'shape': [], 'data': [1.4142135]}],\n"
               " 'nodes': [{'op': 'mul', 'inputs': ['half', 'x'], 'outputs': ['a']},\n"
               "  {'op': 'div', 'inputs': ['x', 'r2'], 'outputs': ['b']},\n"
               "  {'op': 'erf', 'inputs': ['b'], 'outputs': ['c']},\n"
               "  {'op': 'add', 'inputs': ['one', 'c'], 'outputs': ['e']},\n"
               "  {'op': 'mul', 'inputs': ['a', 'e'], 'outputs': ['y']}],\n"
               " 'outputs': ['y']}\n",
               TS_OP_ERF, TS_OP_GELU);
}

/* GPT-2's gelu_new; cube and the constant are format slots. */
static const char *const gelu_new =
    HEAD " 'inputs': [{'name': 'x', 'dtype': '%s', 'shape': [4, 17]}],\n"
    " 'constants': [{'name': 'half', 'dtype': '%s', 'shape': [], 'data': [0.5]},\n"
    "  {'name': 'one', 'dtype': '%s', 'shape': [], 'data': [1.0]},\n"
    "  {'name': 'three', 'dtype': '%s', 'shape': [], 'data': [3.0]},\n"
    "  {'name': 'k', 'dtype': '%s', 'shape': [], 'data': [%s]},\n"
    "  {'name': 's', 'dtype': '%s', 'shape': [], 'data': [0.7978845608028654]}],\n"
    " 'nodes': [%s\n"
    "  {'op': 'mul', 'inputs': ['k', 'p'], 'outputs': ['kp']},\n"
    "  {'op': 'add', 'inputs': ['x', 'kp'], 'outputs': ['inner']},\n"
    "  {'op': 'mul', 'inputs': ['s', 'inner'], 'outputs': ['u']},\n"
    "  {'op': 'tanh', 'inputs': ['u'], 'outputs': ['t']},\n"
    "  {'op': 'add', 'inputs': ['one', 't'], 'outputs': ['e']},\n"
    "  {'op': 'mul', 'inputs': ['x', 'half'], 'outputs': ['a']},\n"
    "  {'op': 'mul', 'inputs': ['e', 'a'], 'outputs': ['y']}],\n"
    " 'outputs': ['y']}\n";

static void gelu_new_text(char *buf, size_t size, const char *dt, const char *k, const char *cube) {
    snprintf(buf, size, gelu_new, dt, dt, dt, dt, dt, k, dt, cube);
}

static void test_gelu_tanh(void) {
    char text[4096];
    const char *pow3 = "{'op': 'pow', 'inputs': ['x', 'three'], 'outputs': ['p']},";
    const char *xxx = "{'op': 'mul', 'inputs': ['x', 'x'], 'outputs': ['xx']},\n"
                      "  {'op': 'mul', 'inputs': ['xx', 'x'], 'outputs': ['p']},";
    const char *x_xx = "{'op': 'mul', 'inputs': ['x', 'x'], 'outputs': ['xx']},\n"
                       "  {'op': 'mul', 'inputs': ['x', 'xx'], 'outputs': ['p']},";
    gelu_new_text(text, sizeof text, "f32", "0.044715", pow3);
    check_fused(text, "%y: f32[4, 17] = gelu(x) {approximate=\"tanh\"}\n", gelu_gone, F32);
    gelu_new_text(text, sizeof text, "f32", "0.044715", xxx);
    check_fused(text, "%y: f32[4, 17] = gelu(x) {approximate=\"tanh\"}\n", gelu_gone, F32);
    gelu_new_text(text, sizeof text, "f32", "0.044715", x_xx);
    check_fused(text, "%y: f32[4, 17] = gelu(x) {approximate=\"tanh\"}\n", gelu_gone, F32);
    /* f16 holds 0.044715 and sqrt(2/pi) only to about 1e-4: still gelu;
     * the fused op rounds once where the primitives rounded eight times. */
    gelu_new_text(text, sizeof text, "f16", "0.044715", pow3);
    check_fused(text, "%y: f16[4, 17] = gelu(x) {approximate=\"tanh\"}\n", gelu_gone, 4e-3);
    /* near-miss: 0.04 is not 0.044715 */
    gelu_new_text(text, sizeof text, "f32", "0.04", pow3);
    check_kept(text, TS_OP_TANH, TS_OP_GELU);
}

/* ---- softmax ------------------------------------------------------------- */

static const enum ts_op softmax_gone[] = {TS_OP_EXP, TS_OP_SUB, TS_OP_DIV, TS_OP_REDUCE_MAX, TS_OP_REDUCE_SUM,
                                          TS_OP_COUNT};

static void test_softmax(void) {
    check_fused(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, 129]}],\n"
                " 'nodes': [{'op': 'reduce_max', 'inputs': ['x'], 'outputs': ['m'], 'attrs': {'axes': [-1], "
                "'keepdims': true}},\n"
                "  {'op': 'sub', 'inputs': ['x', 'm'], 'outputs': ['d']},\n"
                "  {'op': 'exp', 'inputs': ['d'], 'outputs': ['e']},\n"
                "  {'op': 'reduce_sum', 'inputs': ['e'], 'outputs': ['s'], 'attrs': {'axes': [1], "
                "'keepdims': true}},\n"
                "  {'op': 'div', 'inputs': ['e', 's'], 'outputs': ['y']}],\n"
                " 'outputs': ['y']}\n",
                "%y: f32[3, 129] = softmax(x) {axis=-1}\n", softmax_gone, F32);
    /* without the max, over the first axis */
    check_fused(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [7, 5]}],\n"
                " 'nodes': [{'op': 'exp', 'inputs': ['x'], 'outputs': ['e']},\n"
                "  {'op': 'reduce_sum', 'inputs': ['e'], 'outputs': ['s'], 'attrs': {'axes': [0], "
                "'keepdims': true}},\n"
                "  {'op': 'div', 'inputs': ['e', 's'], 'outputs': ['y']}],\n"
                " 'outputs': ['y']}\n",
                "%y: f32[7, 5] = softmax(x) {axis=0}\n", softmax_gone, F32);
    /* near-misses: the sum over another axis than the max (softmax of x − max
     * is still recognized, the max stays); exp read elsewhere */
    check_fused(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, 7]}],\n"
                " 'nodes': [{'op': 'reduce_max', 'inputs': ['x'], 'outputs': ['m'], 'attrs': {'axes': [0], "
                "'keepdims': true}},\n"
                "  {'op': 'sub', 'inputs': ['x', 'm'], 'outputs': ['d']},\n"
                "  {'op': 'exp', 'inputs': ['d'], 'outputs': ['e']},\n"
                "  {'op': 'reduce_sum', 'inputs': ['e'], 'outputs': ['s'], 'attrs': {'axes': [1], "
                "'keepdims': true}},\n"
                "  {'op': 'div', 'inputs': ['e', 's'], 'outputs': ['y']}],\n"
                " 'outputs': ['y']}\n",
                "%y: f32[3, 7] = softmax(d) {axis=-1}\n", (const enum ts_op[]){TS_OP_EXP, TS_OP_COUNT}, F32);
    check_kept(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, 7]}],\n"
               " 'nodes': [{'op': 'exp', 'inputs': ['x'], 'outputs': ['e']},\n"
               "  {'op': 'reduce_sum', 'inputs': ['e'], 'outputs': ['s'], 'attrs': {'axes': [-1], "
               "'keepdims': true}},\n"
               "  {'op': 'div', 'inputs': ['e', 's'], 'outputs': ['y']},\n"
               "  {'op': 'neg', 'inputs': ['e'], 'outputs': ['z']}],\n"
               " 'outputs': ['y', 'z']}\n",
               TS_OP_EXP, TS_OP_SOFTMAX);
}

/* ---- layernorm and rmsnorm ----------------------------------------------- */

static const enum ts_op norm_gone[] = {TS_OP_REDUCE_MEAN, TS_OP_SUB, TS_OP_MUL, TS_OP_POW,  TS_OP_ADD,
                                       TS_OP_SQRT,        TS_OP_RSQRT, TS_OP_DIV, TS_OP_COUNT};

/* ONNX before opset 17: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add.
 * Slots: the axis of both means, and which value is an extra output. */
static const char *const layernorm_onnx =
    HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [2, 5, 17]},\n"
    "  {'name': 'w', 'dtype': 'f32', 'shape': [17]}, {'name': 'b', 'dtype': 'f32', 'shape': [17]}],\n"
    " 'constants': [{'name': 'two', 'dtype': 'f32', 'shape': [], 'data': [2]},\n"
    "  {'name': 'eps', 'dtype': 'f32', 'shape': [], 'data': [1e-5]}],\n"
    " 'nodes': [{'op': 'reduce_mean', 'inputs': ['x'], 'outputs': ['mean'], 'attrs': {'axes': [%d], "
    "'keepdims': true}},\n"
    "  {'op': 'sub', 'inputs': ['x', 'mean'], 'outputs': ['d']},\n"
    "  {'op': 'pow', 'inputs': ['d', 'two'], 'outputs': ['sq']},\n"
    "  {'op': 'reduce_mean', 'inputs': ['sq'], 'outputs': ['var'], 'attrs': {'axes': [%d], "
    "'keepdims': true}},\n"
    "  {'op': 'add', 'inputs': ['var', 'eps'], 'outputs': ['ve']},\n"
    "  {'op': 'sqrt', 'inputs': ['ve'], 'outputs': ['sd']},\n"
    "  {'op': 'div', 'inputs': ['d', 'sd'], 'outputs': ['n']},\n"
    "  {'op': 'mul', 'inputs': ['n', 'w'], 'outputs': ['nw']},\n"
    "  {'op': 'add', 'inputs': ['nw', 'b'], 'outputs': ['y']}],\n"
    " 'outputs': ['y'%s]}\n";

static void test_layernorm(void) {
    char text[4096];
    snprintf(text, sizeof text, layernorm_onnx, -1, 2, "");
    check_fused(text, "%y: f32[2, 5, 17] = layernorm(x, w, b) {axis=-1, eps=9.99999975e-06}\n", norm_gone, F32);
    /* PyTorch-style: d·d, rsqrt, weight first, a constant weight, no bias */
    check_fused(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [4, 7]}],\n"
                " 'constants': [{'name': 'g', 'dtype': 'f32', 'shape': [7], 'data': [1, 2, 3, -1, 0.5, 4, 0.25]},\n"
                "  {'name': 'eps', 'dtype': 'f32', 'shape': [1], 'data': [1e-6]}],\n"
                " 'nodes': [{'op': 'reduce_mean', 'inputs': ['x'], 'outputs': ['mean'], 'attrs': {'axes': [1], "
                "'keepdims': true}},\n"
                "  {'op': 'sub', 'inputs': ['x', 'mean'], 'outputs': ['d']},\n"
                "  {'op': 'mul', 'inputs': ['d', 'd'], 'outputs': ['sq']},\n"
                "  {'op': 'reduce_mean', 'inputs': ['sq'], 'outputs': ['var'], 'attrs': {'axes': [-1], "
                "'keepdims': true}},\n"
                "  {'op': 'add', 'inputs': ['eps', 'var'], 'outputs': ['ve']},\n"
                "  {'op': 'rsqrt', 'inputs': ['ve'], 'outputs': ['r']},\n"
                "  {'op': 'mul', 'inputs': ['r', 'd'], 'outputs': ['n']},\n"
                "  {'op': 'mul', 'inputs': ['g', 'n'], 'outputs': ['y']}],\n"
                " 'outputs': ['y']}\n",
                "%y: f32[4, 7] = layernorm(x, g) {axis=-1, eps=9.99999997e-07}\n", norm_gone, F32);
    /* x − mean written twice (once for the variance, once normalized): cse
     * merges the two, then the pattern is whole */
    check_fused(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [2, 17]}],\n"
                " 'constants': [{'name': 'eps', 'dtype': 'f32', 'shape': [], 'data': [1e-5]}],\n"
                " 'nodes': [{'op': 'reduce_mean', 'inputs': ['x'], 'outputs': ['mean'], 'attrs': {'axes': [-1], "
                "'keepdims': true}},\n"
                "  {'op': 'sub', 'inputs': ['x', 'mean'], 'outputs': ['d1']},\n"
                "  {'op': 'mul', 'inputs': ['d1', 'd1'], 'outputs': ['sq']},\n"
                "  {'op': 'reduce_mean', 'inputs': ['sq'], 'outputs': ['var'], 'attrs': {'axes': [-1], "
                "'keepdims': true}},\n"
                "  {'op': 'add', 'inputs': ['var', 'eps'], 'outputs': ['ve']},\n"
                "  {'op': 'rsqrt', 'inputs': ['ve'], 'outputs': ['r']},\n"
                "  {'op': 'sub', 'inputs': ['x', 'mean'], 'outputs': ['d2']},\n"
                "  {'op': 'mul', 'inputs': ['d2', 'r'], 'outputs': ['y']}],\n"
                " 'outputs': ['y']}\n",
                "%y: f32[2, 17] = layernorm(x) {axis=-1, eps=9.99999975e-06}\n", norm_gone, F32);
    /* bare, last dim 129 */
    check_fused(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, 129]}],\n"
                " 'constants': [{'name': 'eps', 'dtype': 'f32', 'shape': [], 'data': [1e-5]}],\n"
                " 'nodes': [{'op': 'reduce_mean', 'inputs': ['x'], 'outputs': ['mean'], 'attrs': {'axes': [-1], "
                "'keepdims': true}},\n"
                "  {'op': 'sub', 'inputs': ['x', 'mean'], 'outputs': ['d']},\n"
                "  {'op': 'mul', 'inputs': ['d', 'd'], 'outputs': ['sq']},\n"
                "  {'op': 'reduce_mean', 'inputs': ['sq'], 'outputs': ['var'], 'attrs': {'axes': [-1], "
                "'keepdims': true}},\n"
                "  {'op': 'add', 'inputs': ['var', 'eps'], 'outputs': ['ve']},\n"
                "  {'op': 'sqrt', 'inputs': ['ve'], 'outputs': ['sd']},\n"
                "  {'op': 'div', 'inputs': ['d', 'sd'], 'outputs': ['y']}],\n"
                " 'outputs': ['y']}\n",
                "%y: f32[3, 129] = layernorm(x) {axis=-1, eps=9.99999975e-06}\n", norm_gone, F32);
}

static void test_layernorm_near_misses(void) {
    char text[4096];
    /* normalizing over axis 1 of three: neither layernorm nor rmsnorm */
    snprintf(text, sizeof text, layernorm_onnx, 1, 1, "");
    check_kept(text, TS_OP_REDUCE_MEAN, TS_OP_LAYERNORM);
    struct ts_graph *g = compile(text, TS_PASS_COUNT);
    if (g) CHECK(count_op(g, TS_OP_RMSNORM) == 0);
    ts_graph_free(g);
    /* the variance is a graph output */
    snprintf(text, sizeof text, layernorm_onnx, -1, -1, ", 'var'");
    check_kept(text, TS_OP_REDUCE_MEAN, TS_OP_LAYERNORM);
    g = compile(text, TS_PASS_COUNT);
    if (g) CHECK(count_op(g, TS_OP_RMSNORM) == 0);
    ts_graph_free(g);
    /* the normalized value is an output: layernorm without the affine part,
     * whose multiply and add stay */
    snprintf(text, sizeof text, layernorm_onnx, -1, -1, ", 'n'");
    check_fused(text, "%n: f32[2, 5, 17] = layernorm(x) {axis=-1, eps=9.99999975e-06}\n",
                (const enum ts_op[]){TS_OP_SQRT, TS_OP_POW, TS_OP_COUNT}, F32);
}

static const char *const rmsnorm_llama =
    HEAD " 'inputs': [{'name': 'x', 'dtype': '%s', 'shape': [4, 129]}, {'name': 'w', 'dtype': '%s', "
    "'shape': [129]}],\n"
    " 'constants': [{'name': 'eps', 'dtype': '%s', 'shape': [], 'data': [1e-6]}],\n"
    " 'nodes': [{'op': 'mul', 'inputs': ['x', 'x'], 'outputs': ['sq']},\n"
    "  {'op': 'reduce_mean', 'inputs': ['sq'], 'outputs': ['ms'], 'attrs': {'axes': [-1], 'keepdims': true}},\n"
    "  {'op': 'add', 'inputs': ['ms', 'eps'], 'outputs': ['ve']},\n"
    "  {'op': 'rsqrt', 'inputs': ['ve'], 'outputs': ['r']},\n"
    "  {'op': 'mul', 'inputs': ['x', 'r'], 'outputs': ['n']},\n"
    "  {'op': 'mul', 'inputs': ['w', 'n'], 'outputs': ['y']}],\n"
    " 'outputs': ['y']}\n";

static void test_rmsnorm(void) {
    char text[4096];
    snprintf(text, sizeof text, rmsnorm_llama, "f32", "f32", "f32");
    check_fused(text, "%y: f32[4, 129] = rmsnorm(x, w) {axis=-1, eps=9.99999997e-07}\n", norm_gone, F32);
    /* in f16, 1e-6 is a subnormal: 17 steps of 2^-24 */
    snprintf(text, sizeof text, rmsnorm_llama, "f16", "f16", "f16");
    check_fused(text, "%y: f16[4, 129] = rmsnorm(x, w) {axis=-1, eps=1.01327896e-06}\n", norm_gone, 4e-3);
    /* pow and x / sqrt(…), no weight, last dim 7 */
    check_fused(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, 7]}],\n"
                " 'constants': [{'name': 'two', 'dtype': 'f32', 'shape': [], 'data': [2]},\n"
                "  {'name': 'eps', 'dtype': 'f32', 'shape': [], 'data': [1e-5]}],\n"
                " 'nodes': [{'op': 'pow', 'inputs': ['x', 'two'], 'outputs': ['sq']},\n"
                "  {'op': 'reduce_mean', 'inputs': ['sq'], 'outputs': ['ms'], 'attrs': {'axes': [1], "
                "'keepdims': true}},\n"
                "  {'op': 'add', 'inputs': ['eps', 'ms'], 'outputs': ['ve']},\n"
                "  {'op': 'sqrt', 'inputs': ['ve'], 'outputs': ['sd']},\n"
                "  {'op': 'div', 'inputs': ['x', 'sd'], 'outputs': ['y']}],\n"
                " 'outputs': ['y']}\n",
                "%y: f32[3, 7] = rmsnorm(x) {axis=-1, eps=9.99999975e-06}\n", norm_gone, F32);
    /* near-miss: the mean of squares read elsewhere */
    check_kept(HEAD " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, 7]}],\n"
               " 'constants': [{'name': 'eps', 'dtype': 'f32', 'shape': [], 'data': [1e-5]}],\n"
               " 'nodes': [{'op': 'mul', 'inputs': ['x', 'x'], 'outputs': ['sq']},\n"
               "  {'op': 'reduce_mean', 'inputs': ['sq'], 'outputs': ['ms'], 'attrs': {'axes': [1], "
               "'keepdims': true}},\n"
               "  {'op': 'add', 'inputs': ['eps', 'ms'], 'outputs': ['ve']},\n"
               "  {'op': 'rsqrt', 'inputs': ['ve'], 'outputs': ['r']},\n"
               "  {'op': 'mul', 'inputs': ['x', 'r'], 'outputs': ['y']},\n"
               "  {'op': 'add', 'inputs': ['ms', 'x'], 'outputs': ['z']}],\n"
               " 'outputs': ['y', 'z']}\n",
               TS_OP_RSQRT, TS_OP_RMSNORM);
}

/* ---- attention ----------------------------------------------------------- */

static const enum ts_op attention_gone[] = {TS_OP_MATMUL, TS_OP_TRANSPOSE, TS_OP_SOFTMAX, TS_OP_EXP,
                                            TS_OP_DIV,    TS_OP_MUL,       TS_OP_ADD,     TS_OP_COUNT};

/* HF-style eager attention: q @ k.transpose(-1, -2) / sqrt(d) + mask, softmax
 * written out, @ v. Slots: k's heads, the softmax's axis. */
static const char *const attention_eager =
    HEAD " 'inputs': [{'name': 'q', 'dtype': 'f32', 'shape': [2, 3, 5, 17]},\n"
    "  {'name': 'k', 'dtype': 'f32', 'shape': [2, %d, 7, 17]},\n"
    "  {'name': 'v', 'dtype': 'f32', 'shape': [2, %d, 7, 9]},\n"
    "  {'name': 'mask', 'dtype': 'f32', 'shape': [1, 1, 5, 7]}],\n"
    " 'constants': [{'name': 'sqrt_d', 'dtype': 'f32', 'shape': [], 'data': [4.1231056256]}],\n"
    " 'nodes': [{'op': 'transpose', 'inputs': ['k'], 'outputs': ['kt'], 'attrs': {'perm': [0, 1, -1, -2]}},\n"
    "  {'op': 'matmul', 'inputs': ['q', 'kt'], 'outputs': ['qk']},\n"
    "  {'op': 'div', 'inputs': ['qk', 'sqrt_d'], 'outputs': ['sc']},\n"
    "  {'op': 'add', 'inputs': ['mask', 'sc'], 'outputs': ['sm']},\n"
    "  {'op': 'reduce_max', 'inputs': ['sm'], 'outputs': ['m'], 'attrs': {'axes': [%d], 'keepdims': true}},\n"
    "  {'op': 'sub', 'inputs': ['sm', 'm'], 'outputs': ['d']},\n"
    "  {'op': 'exp', 'inputs': ['d'], 'outputs': ['e']},\n"
    "  {'op': 'reduce_sum', 'inputs': ['e'], 'outputs': ['s'], 'attrs': {'axes': [%d], 'keepdims': true}},\n"
    "  {'op': 'div', 'inputs': ['e', 's'], 'outputs': ['p']},\n"
    "  {'op': 'matmul', 'inputs': ['p', 'v'], 'outputs': ['y']}],\n"
    " 'outputs': ['y']}\n";

static void test_attention(void) {
    char text[4096];
    snprintf(text, sizeof text, attention_eager, 3, 3, -1, -1);
    check_fused(text, "%y: f32[2, 3, 5, 9] = attention(q, k, v, mask) {causal=false, scale=0.242535631}\n",
                attention_gone, F32);
    /* transpose_b, a product with 0.125, the softmax op, no mask, last dim 129 */
    check_fused(HEAD " 'inputs': [{'name': 'q', 'dtype': 'f32', 'shape': [1, 2, 3, 129]},\n"
                "  {'name': 'k', 'dtype': 'f32', 'shape': [1, 2, 4, 129]},\n"
                "  {'name': 'v', 'dtype': 'f32', 'shape': [1, 2, 4, 7]}],\n"
                " 'constants': [{'name': 'c', 'dtype': 'f32', 'shape': [1], 'data': [0.125]}],\n"
                " 'nodes': [{'op': 'matmul', 'inputs': ['q', 'k'], 'outputs': ['qk'], "
                "'attrs': {'transpose_b': true}},\n"
                "  {'op': 'mul', 'inputs': ['c', 'qk'], 'outputs': ['sc']},\n"
                "  {'op': 'softmax', 'inputs': ['sc'], 'outputs': ['p'], 'attrs': {'axis': 3}},\n"
                "  {'op': 'matmul', 'inputs': ['p', 'v'], 'outputs': ['y']}],\n"
                " 'outputs': ['y']}\n",
                "%y: f32[1, 2, 3, 7] = attention(q, k, v) {causal=false, scale=0.125}\n", attention_gone, F32);
    /* near-misses: grouped-query heads by broadcast (the softmax is still
     * recognized); the softmax over the query axis */
    snprintf(text, sizeof text, attention_eager, 1, 1, -1, -1);
    check_fused(text, "%p: f32[2, 3, 5, 7] = softmax(sm) {axis=-1}\n",
                (const enum ts_op[]){TS_OP_ATTENTION, TS_OP_EXP, TS_OP_COUNT}, F32);
    snprintf(text, sizeof text, attention_eager, 3, 3, 2, 2);
    check_kept(text, TS_OP_MATMUL, TS_OP_ATTENTION);
}

int main(void) {
    enum ts_pass_id p;
    CHECK(ts_pass_from_name("simplify", &p) && p == TS_PASS_SIMPLIFY && p > TS_PASS_FOLD && p < TS_PASS_DCE);
    test_gelu_erf();
    test_gelu_erf_near_misses();
    test_gelu_tanh();
    test_softmax();
    test_layernorm();
    test_layernorm_near_misses();
    test_rmsnorm();
    test_attention();
    return ts_test_finish("simplify");
}
