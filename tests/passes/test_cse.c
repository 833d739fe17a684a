/* test_cse.c — common-subexpression elimination before → after on small
 * graphs: duplicate matmuls, commutative inputs, attributes that differ,
 * a chain collapsing in one pass, identical constants, graph outputs kept,
 * multi-output nodes; then a differential check that the reference
 * interpreter gives bit-identical outputs before and after the pass, on these
 * graphs and on the examples. */
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"

/* Graphs are written with ' for " to stay readable; verified and shaped. */
static struct ts_graph *parse(const char *text) {
    size_t len = strlen(text);
    char *json = malloc(len + 1);
    for (size_t i = 0; i <= len; i++) json[i] = text[i] == '\'' ? '"' : text[i];
    struct ts_graph *g = NULL;
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_graph_parse(json, len, "t.json", ".", false, &g, &d) != TS_OK || ts_pass_verify(g, &d) != TS_OK ||
        ts_pass_shapes(g, NULL, 0, &d) != TS_OK) {
        ts_diag_print(&d, stderr);
        ts_graph_free(g);
        g = NULL;
    }
    free(json);
    CHECK(g != NULL);
    return g;
}

/* The printed IR as a malloc'd string. */
static char *print(const struct ts_graph *g) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    ts_graph_print(g, f);
    fclose(f);
    return buf;
}

/* Runs the pass on text and checks the IR before and after. */
static void check_cse(const char *text, const char *before, const char *after) {
    struct ts_graph *g = parse(text);
    if (!g) return;
    char *ir = print(g);
    CHECK_STR(ir, before);
    free(ir);
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_pass_cse(g, &d) == TS_OK);
    CHECK(ts_pass_verify(g, &d) == TS_OK); /* still a well-formed graph */
    ir = print(g);
    CHECK_STR(ir, after);
    free(ir);
    ts_graph_free(g);
}

#define HEAD "{'format': 'tessera.graph', 'version': 1, 'name': 't',\n"

static const char *const g_matmul = HEAD
    " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [2, 3]}, {'name': 'w', 'dtype': 'f32', 'shape': [3, 3]}],\n"
    " 'nodes': [{'op': 'matmul', 'inputs': ['x', 'w'], 'outputs': ['a']},\n"
    "  {'op': 'matmul', 'inputs': ['x', 'w'], 'outputs': ['b']},\n"
    "  {'op': 'matmul', 'inputs': ['x', 'w'], 'outputs': ['c'], 'attrs': {'transpose_b': true}},\n"
    "  {'op': 'matmul', 'inputs': ['x', 'w'], 'outputs': ['d'], 'attrs': {'transpose_b': false}},\n"
    "  {'op': 'sub', 'inputs': ['a', 'b'], 'outputs': ['ab']},\n"
    "  {'op': 'sub', 'inputs': ['c', 'd'], 'outputs': ['cd']},\n"
    "  {'op': 'concat', 'inputs': ['ab', 'cd'], 'outputs': ['y'], 'attrs': {'axis': 0}}],\n"
    " 'outputs': ['y']}";

static void test_matmul(void) {
    /* b repeats a; d spells out a's default; c transposes w and stays. */
    check_cse(g_matmul,
              "graph \"t\"  (t.json)\n"
              "  input  x: f32[2, 3]\n"
              "  input  w: f32[3, 3]\n"
              "  %a: f32[2, 3] = matmul(x, w) {transpose_a=false, transpose_b=false}  # matmul#0\n"
              "  %b: f32[2, 3] = matmul(x, w) {transpose_a=false, transpose_b=false}  # matmul#1\n"
              "  %c: f32[2, 3] = matmul(x, w) {transpose_a=false, transpose_b=true}  # matmul#2\n"
              "  %d: f32[2, 3] = matmul(x, w) {transpose_a=false, transpose_b=false}  # matmul#3\n"
              "  %ab: f32[2, 3] = sub(a, b)  # sub#4\n"
              "  %cd: f32[2, 3] = sub(c, d)  # sub#5\n"
              "  %y: f32[4, 3] = concat(ab, cd) {axis=0}  # concat#6\n"
              "  outputs: y\n",
              "graph \"t\"  (t.json)\n"
              "  input  x: f32[2, 3]\n"
              "  input  w: f32[3, 3]\n"
              "  %a: f32[2, 3] = matmul(x, w) {transpose_a=false, transpose_b=false}  # matmul#0\n"
              "  %c: f32[2, 3] = matmul(x, w) {transpose_a=false, transpose_b=true}  # matmul#2\n"
              "  %ab: f32[2, 3] = sub(a, a)  # sub#4\n"
              "  %cd: f32[2, 3] = sub(c, a)  # sub#5\n"
              "  %y: f32[4, 3] = concat(ab, cd) {axis=0}  # concat#6\n"
              "  outputs: y\n");
}

/* add and mul merge either way round; sub never; float maximum and minimum
 * neither (maximum(-0, +0) is +0 but maximum(+0, -0) is -0); on integers they do. */
static const char *const g_commute = HEAD
    " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [4]}, {'name': 'z', 'dtype': 'f32', 'shape': [4]},\n"
    "            {'name': 'i', 'dtype': 'i32', 'shape': [4]}, {'name': 'j', 'dtype': 'i32', 'shape': [4]}],\n"
    " 'nodes': [{'op': 'add', 'inputs': ['x', 'z'], 'outputs': ['p1']},\n"
    "  {'op': 'add', 'inputs': ['z', 'x'], 'outputs': ['p2']},\n"
    "  {'op': 'mul', 'inputs': ['z', 'x'], 'outputs': ['m1']},\n"
    "  {'op': 'mul', 'inputs': ['x', 'z'], 'outputs': ['m2']},\n"
    "  {'op': 'sub', 'inputs': ['x', 'z'], 'outputs': ['s1']},\n"
    "  {'op': 'sub', 'inputs': ['z', 'x'], 'outputs': ['s2']},\n"
    "  {'op': 'maximum', 'inputs': ['x', 'z'], 'outputs': ['h1']},\n"
    "  {'op': 'maximum', 'inputs': ['z', 'x'], 'outputs': ['h2']},\n"
    "  {'op': 'minimum', 'inputs': ['x', 'z'], 'outputs': ['l1']},\n"
    "  {'op': 'minimum', 'inputs': ['z', 'x'], 'outputs': ['l2']},\n"
    "  {'op': 'maximum', 'inputs': ['i', 'j'], 'outputs': ['hi1']},\n"
    "  {'op': 'maximum', 'inputs': ['j', 'i'], 'outputs': ['hi2']},\n"
    "  {'op': 'minimum', 'inputs': ['j', 'i'], 'outputs': ['li1']},\n"
    "  {'op': 'minimum', 'inputs': ['i', 'j'], 'outputs': ['li2']},\n"
    "  {'op': 'concat', 'inputs': ['p1', 'p2', 'm1', 'm2', 's1', 's2', 'h1', 'h2', 'l1', 'l2'],\n"
    "   'outputs': ['y'], 'attrs': {'axis': 0}},\n"
    "  {'op': 'concat', 'inputs': ['hi1', 'hi2', 'li1', 'li2'], 'outputs': ['yi'], 'attrs': {'axis': 0}}],\n"
    " 'outputs': ['y', 'yi']}";

static void test_commutative(void) {
    struct ts_graph *g = parse(g_commute);
    if (!g) return;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_pass_cse(g, &d) == TS_OK);
    char *ir = print(g);
    CHECK_CONTAINS(ir, "  %p1: f32[4] = add(x, z)  # add#0\n"
                       "  %m1: f32[4] = mul(z, x)  # mul#2\n"
                       "  %s1: f32[4] = sub(x, z)  # sub#4\n"
                       "  %s2: f32[4] = sub(z, x)  # sub#5\n"
                       "  %h1: f32[4] = maximum(x, z)  # maximum#6\n"
                       "  %h2: f32[4] = maximum(z, x)  # maximum#7\n"
                       "  %l1: f32[4] = minimum(x, z)  # minimum#8\n"
                       "  %l2: f32[4] = minimum(z, x)  # minimum#9\n"
                       "  %hi1: i32[4] = maximum(i, j)  # maximum#10\n"
                       "  %li1: i32[4] = minimum(j, i)  # minimum#12\n"
                       "  %y: f32[40] = concat(p1, p1, m1, m1, s1, s2, h1, h2, l1, l2) {axis=0}  # concat#14\n"
                       "  %yi: i32[16] = concat(hi1, hi1, li1, li1) {axis=0}  # concat#15\n"
                       "  outputs: y yi\n");
    CHECK(g->nnodes == 12);
    free(ir);
    ts_graph_free(g);
}

static const char *const g_attrs = HEAD
    " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [2]}],\n"
    " 'nodes': [{'op': 'gelu', 'inputs': ['x'], 'outputs': ['g1']},\n"
    "  {'op': 'gelu', 'inputs': ['x'], 'outputs': ['g2'], 'attrs': {'approximate': 'tanh'}},\n"
    "  {'op': 'gelu', 'inputs': ['x'], 'outputs': ['g3'], 'attrs': {'approximate': 'tanh'}},\n"
    "  {'op': 'cast', 'inputs': ['x'], 'outputs': ['h1'], 'attrs': {'to': 'f16'}},\n"
    "  {'op': 'cast', 'inputs': ['x'], 'outputs': ['b1'], 'attrs': {'to': 'bf16'}},\n"
    "  {'op': 'cast', 'inputs': ['x'], 'outputs': ['h2'], 'attrs': {'to': 'f16'}},\n"
    "  {'op': 'concat', 'inputs': ['g1', 'g2', 'g3'], 'outputs': ['y'], 'attrs': {'axis': 0}},\n"
    "  {'op': 'concat', 'inputs': ['h1', 'h2'], 'outputs': ['yh'], 'attrs': {'axis': 0}}],\n"
    " 'outputs': ['y', 'yh', 'b1']}";

static void test_attrs(void) {
    struct ts_graph *g = parse(g_attrs);
    if (!g) return;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_pass_cse(g, &d) == TS_OK);
    char *ir = print(g);
    CHECK_STR(ir, "graph \"t\"  (t.json)\n"
                  "  input  x: f32[2]\n"
                  "  %g1: f32[2] = gelu(x) {approximate=\"none\"}  # gelu#0\n"
                  "  %g2: f32[2] = gelu(x) {approximate=\"tanh\"}  # gelu#1\n"
                  "  %h1: f16[2] = cast(x) {to=f16}  # cast#3\n"
                  "  %b1: bf16[2] = cast(x) {to=bf16}  # cast#4\n"
                  "  %y: f32[6] = concat(g1, g2, g2) {axis=0}  # concat#6\n"
                  "  %yh: f16[4] = concat(h1, h1) {axis=0}  # concat#7\n"
                  "  outputs: y yh b1\n");
    free(ir);
    ts_graph_free(g);

    /* Float attributes compare by bits: NaN matches NaN, -0 does not match 0;
     * an absent attribute matches only an absent one. */
    static const char *const norms = HEAD
        " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [2, 4]}],\n"
        " 'nodes': [{'op': 'layernorm', 'inputs': ['x'], 'outputs': ['a']},\n"
        "  {'op': 'layernorm', 'inputs': ['x'], 'outputs': ['b']},\n"
        "  {'op': 'concat', 'inputs': ['a', 'b'], 'outputs': ['y'], 'attrs': {'axis': 0}}],\n"
        " 'outputs': ['y']}";
    struct {
        double a, b;
        bool a_present, merged;
    } cases[] = {{NAN, NAN, true, true}, {0.0, -0.0, true, false}, {1e-5, 1e-5, true, true},
                 {1e-5, 1e-5, false, false}, {1e-5, 1e-6, true, false}};
    int eps = ts_op_attr_index(TS_OP_LAYERNORM, "eps");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        g = parse(norms);
        if (!g) return;
        g->nodes[0].attrs[eps].f = cases[c].a;
        g->nodes[0].attrs[eps].present = cases[c].a_present;
        g->nodes[1].attrs[eps].f = cases[c].b;
        CHECK(ts_pass_cse(g, &d) == TS_OK);
        CHECK(g->nnodes == (cases[c].merged ? 2 : 3));
        ts_graph_free(g);
    }
}

static const char *const g_chain = HEAD
    " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3]}],\n"
    " 'nodes': [{'op': 'exp', 'inputs': ['x'], 'outputs': ['e1']},\n"
    "  {'op': 'exp', 'inputs': ['x'], 'outputs': ['e2']},\n"
    "  {'op': 'neg', 'inputs': ['e2'], 'outputs': ['n2']},\n"
    "  {'op': 'neg', 'inputs': ['e1'], 'outputs': ['n1']},\n"
    "  {'op': 'mul', 'inputs': ['n1', 'x'], 'outputs': ['m1']},\n"
    "  {'op': 'mul', 'inputs': ['x', 'n2'], 'outputs': ['m2']},\n"
    "  {'op': 'reshape', 'inputs': ['m1'], 'outputs': ['r1'], 'attrs': {'shape': [3, 1]}},\n"
    "  {'op': 'reshape', 'inputs': ['m2'], 'outputs': ['r2'], 'attrs': {'shape': [3, 1]}},\n"
    "  {'op': 'reshape', 'inputs': ['m2'], 'outputs': ['r3'], 'attrs': {'shape': [1, 3]}},\n"
    "  {'op': 'sub', 'inputs': ['r1', 'r2'], 'outputs': ['s']},\n"
    "  {'op': 'add', 'inputs': ['s', 'r3'], 'outputs': ['y']}],\n"
    " 'outputs': ['y']}";

static void test_chain(void) {
    /* Each merge makes the next pair identical; one pass takes them all. The
     * survivor is the first in topological order (n2, which reads e2 → e1). */
    check_cse(g_chain,
              "graph \"t\"  (t.json)\n"
              "  input  x: f32[3]\n"
              "  %e1: f32[3] = exp(x)  # exp#0\n"
              "  %e2: f32[3] = exp(x)  # exp#1\n"
              "  %n2: f32[3] = neg(e2)  # neg#2\n"
              "  %n1: f32[3] = neg(e1)  # neg#3\n"
              "  %m1: f32[3] = mul(n1, x)  # mul#4\n"
              "  %m2: f32[3] = mul(x, n2)  # mul#5\n"
              "  %r1: f32[3, 1] = reshape(m1) {shape=[3, 1]}  # reshape#6\n"
              "  %r2: f32[3, 1] = reshape(m2) {shape=[3, 1]}  # reshape#7\n"
              "  %r3: f32[1, 3] = reshape(m2) {shape=[1, 3]}  # reshape#8\n"
              "  %s: f32[3, 1] = sub(r1, r2)  # sub#9\n"
              "  %y: f32[3, 3] = add(s, r3)  # add#10\n"
              "  outputs: y\n",
              "graph \"t\"  (t.json)\n"
              "  input  x: f32[3]\n"
              "  %e1: f32[3] = exp(x)  # exp#0\n"
              "  %n2: f32[3] = neg(e1)  # neg#2\n"
              "  %m1: f32[3] = mul(n2, x)  # mul#4\n"
              "  %r1: f32[3, 1] = reshape(m1) {shape=[3, 1]}  # reshape#6\n"
              "  %r3: f32[1, 3] = reshape(m1) {shape=[1, 3]}  # reshape#8\n"
              "  %s: f32[3, 1] = sub(r1, r1)  # sub#9\n"
              "  %y: f32[3, 3] = add(s, r3)  # add#10\n"
              "  outputs: y\n");
}

/* c2 repeats c1 and goes; c3 (another dtype), c4 (another shape) and c5
 * (other bytes) stay; c6 repeats c1 but is a graph output: it stays, and the
 * add that read it now reads c1 and merges. */
static const char *const g_consts = HEAD
    " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [2]}],\n"
    " 'constants': [{'name': 'c1', 'dtype': 'f32', 'shape': [2], 'data': [1, 2]},\n"
    "  {'name': 'c2', 'dtype': 'f32', 'shape': [2], 'data': [1, 2]},\n"
    "  {'name': 'c3', 'dtype': 'f16', 'shape': [2], 'data': [1, 2]},\n"
    "  {'name': 'c4', 'dtype': 'f32', 'shape': [2, 1], 'data': [1, 2]},\n"
    "  {'name': 'c5', 'dtype': 'f32', 'shape': [2], 'data': [2, 1]},\n"
    "  {'name': 'c6', 'dtype': 'f32', 'shape': [2], 'data': [1, 2]},\n"
    "  {'name': 'k1', 'dtype': 'i32', 'shape': [2], 'data': [1, 2]},\n"
    "  {'name': 'k2', 'dtype': 'i32', 'shape': [2], 'data': [1, 2]}],\n"
    " 'nodes': [{'op': 'add', 'inputs': ['x', 'c1'], 'outputs': ['a1']},\n"
    "  {'op': 'add', 'inputs': ['x', 'c2'], 'outputs': ['a2']},\n"
    "  {'op': 'add', 'inputs': ['x', 'c5'], 'outputs': ['a3']},\n"
    "  {'op': 'add', 'inputs': ['x', 'c4'], 'outputs': ['a4']},\n"
    "  {'op': 'add', 'inputs': ['c6', 'x'], 'outputs': ['a5']},\n"
    "  {'op': 'cast', 'inputs': ['c3'], 'outputs': ['h'], 'attrs': {'to': 'f32'}},\n"
    "  {'op': 'sub', 'inputs': ['k1', 'k2'], 'outputs': ['k']},\n"
    "  {'op': 'concat', 'inputs': ['a1', 'a2', 'a3', 'a5', 'h'], 'outputs': ['y'], 'attrs': {'axis': 0}}],\n"
    " 'outputs': ['y', 'a4', 'c6', 'k']}";

static void test_constants(void) {
    struct ts_graph *g = parse(g_consts);
    if (!g) return;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_pass_cse(g, &d) == TS_OK);
    char *ir = print(g);
    CHECK_STR(ir, "graph \"t\"  (t.json)\n"
                  "  input  x: f32[2]\n"
                  "  const  c1: f32[2] = [1, 2]\n"
                  "  const  c3: f16[2] = [1, 2]\n"
                  "  const  c4: f32[2, 1] = [1, 2]\n"
                  "  const  c5: f32[2] = [2, 1]\n"
                  "  const  c6: f32[2] = [1, 2]\n"
                  "  const  k1: i32[2] = [1, 2]\n"
                  "  %a1: f32[2] = add(x, c1)  # add#0\n"
                  "  %a3: f32[2] = add(x, c5)  # add#2\n"
                  "  %a4: f32[2, 2] = add(x, c4)  # add#3\n"
                  "  %h: f32[2] = cast(c3) {to=f32}  # cast#5\n"
                  "  %k: i32[2] = sub(k1, k1)  # sub#6\n"
                  "  %y: f32[10] = concat(a1, a1, a3, a1, h) {axis=0}  # concat#7\n"
                  "  outputs: y a4 c6 k\n");
    free(ir);
    ts_graph_free(g);
}

/* r2 repeats r1 but is a graph output: it stays under its name, and what
 * reads it reads r1 (so n2 merges into n1); r3 goes. o1 and o2 are both
 * outputs: both stay. The split's outputs are redirected value by value. */
static const char *const g_outputs = HEAD
    " 'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [4]}],\n"
    " 'nodes': [{'op': 'relu', 'inputs': ['x'], 'outputs': ['r1']},\n"
    "  {'op': 'relu', 'inputs': ['x'], 'outputs': ['r2']},\n"
    "  {'op': 'relu', 'inputs': ['x'], 'outputs': ['r3']},\n"
    "  {'op': 'neg', 'inputs': ['r1'], 'outputs': ['n1']},\n"
    "  {'op': 'neg', 'inputs': ['r2'], 'outputs': ['n2']},\n"
    "  {'op': 'neg', 'inputs': ['r3'], 'outputs': ['n3']},\n"
    "  {'op': 'sigmoid', 'inputs': ['x'], 'outputs': ['o1']},\n"
    "  {'op': 'sigmoid', 'inputs': ['x'], 'outputs': ['o2']},\n"
    "  {'op': 'split', 'inputs': ['x'], 'outputs': ['sa', 'sb'], 'attrs': {'axis': 0, 'sizes': [1, 3]}},\n"
    "  {'op': 'split', 'inputs': ['x'], 'outputs': ['ta', 'tb'], 'attrs': {'axis': 0, 'sizes': [1, 3]}},\n"
    "  {'op': 'concat', 'inputs': ['n1', 'n2', 'n3', 'tb', 'ta', 'sb'], 'outputs': ['out'], 'attrs': {'axis': 0}}],\n"
    " 'outputs': ['r2', 'out', 'o1', 'o2']}";

static void test_outputs_kept(void) {
    struct ts_graph *g = parse(g_outputs);
    if (!g) return;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_pass_cse(g, &d) == TS_OK);
    char *ir = print(g);
    CHECK_STR(ir, "graph \"t\"  (t.json)\n"
                  "  input  x: f32[4]\n"
                  "  %r1: f32[4] = relu(x)  # relu#0\n"
                  "  %r2: f32[4] = relu(x)  # relu#1\n"
                  "  %n1: f32[4] = neg(r1)  # neg#3\n"
                  "  %o1: f32[4] = sigmoid(x)  # sigmoid#6\n"
                  "  %o2: f32[4] = sigmoid(x)  # sigmoid#7\n"
                  "  %sa: f32[1], %sb: f32[3] = split(x) {axis=0, sizes=[1, 3]}  # split#8\n"
                  "  %out: f32[19] = concat(n1, n1, n1, sb, sa, sb) {axis=0}  # concat#10\n"
                  "  outputs: r2 out o1 o2\n");
    free(ir);
    ts_graph_free(g);
}

/* Fills every input with values that tell orderings apart: signed zeros,
 * NaN and infinities among ordinary numbers; integers in [0, 16). */
static void fill_inputs(const struct ts_graph *g, struct ts_tensor *in) {
    static const double special[] = {-0.0, 0.0, 0.0, -0.0, NAN, INFINITY, -1.5, 2.25};
    struct ts_diag d;
    ts_diag_clear(&d);
    uint32_t seed = 12345;
    for (int i = 0; i < g->ninputs; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        CHECK(ts_tensor_alloc(&in[i], v->dtype, rank, dims, v->name, &d) == TS_OK);
        for (int64_t e = 0; e < in[i].numel; e++) {
            seed = seed * 1664525u + 1013904223u;
            double r = (double)(seed >> 8) / (1 << 24) * 4 - 2;
            if (!ts_dtype_is_float(v->dtype))
                ts_tensor_set_f64(&in[i], e, (double)((seed >> 8) % 16));
            else if (i == 0 && e < 8 && in[i].numel <= 16)
                ts_tensor_set_f64(&in[i], e, special[e]);
            else
                ts_tensor_set_f64(&in[i], e, i == 1 && e < 4 && in[i].numel <= 16 ? special[e ^ 1] : r);
        }
    }
}

/* Runs g, runs the pass, runs g again: the outputs must be bit for bit the same. */
static void check_same_outputs(struct ts_graph *g, const char *what) {
    struct ts_tensor *in = calloc((size_t)g->ninputs + 1, sizeof *in);
    struct ts_tensor *before = calloc((size_t)g->noutputs, sizeof *before);
    struct ts_tensor *after = calloc((size_t)g->noutputs, sizeof *after);
    struct ts_diag d;
    ts_diag_clear(&d);
    fill_inputs(g, in);
    int nodes = g->nnodes;
    CHECK(ts_interp_run(g, in, before, &d) == TS_OK);
    CHECK(ts_pass_cse(g, &d) == TS_OK);
    CHECK(ts_interp_run(g, in, after, &d) == TS_OK);
    if (d.status != TS_OK) ts_diag_print(&d, stderr);
    for (int i = 0; i < g->noutputs && d.status == TS_OK; i++) {
        bool same = before[i].dtype == after[i].dtype && before[i].nbytes == after[i].nbytes &&
                    memcmp(before[i].data, after[i].data, before[i].nbytes) == 0;
        if (!same) fprintf(stderr, "%s: output %d differs after cse\n", what, i);
        CHECK(same);
        ts_tensor_release(&before[i]);
        ts_tensor_release(&after[i]);
    }
    printf("%s: %d → %d nodes\n", what, nodes, g->nnodes);
    for (int i = 0; i < g->ninputs; i++) ts_tensor_release(&in[i]);
    free(in);
    free(before);
    free(after);
}

static void test_differential(void) {
    const char *const graphs[] = {g_matmul, g_commute, g_attrs, g_chain, g_consts, g_outputs};
    for (size_t i = 0; i < sizeof graphs / sizeof graphs[0]; i++) {
        struct ts_graph *g = parse(graphs[i]);
        if (!g) continue;
        char what[32];
        snprintf(what, sizeof what, "graph %zu", i);
        check_same_outputs(g, what);
        ts_graph_free(g);
    }
    /* The test has teeth: float maximum(x, z) and maximum(z, x) differ on
     * x = -0, z = +0, which is why they are not merged. */
    struct ts_graph *g = parse(g_commute);
    if (g) {
        struct ts_tensor in[4], out[2];
        struct ts_diag d;
        ts_diag_clear(&d);
        fill_inputs(g, in);
        CHECK(ts_interp_run(g, in, out, &d) == TS_OK);
        if (d.status == TS_OK) {
            CHECK(signbit(ts_tensor_get_f64(&out[0], 24)) != signbit(ts_tensor_get_f64(&out[0], 28)));
            ts_tensor_release(&out[0]);
            ts_tensor_release(&out[1]);
        }
        for (int i = 0; i < 4; i++) ts_tensor_release(&in[i]);
        ts_graph_free(g);
    }
    /* The examples, after folding as in the pipeline. */
    const char *const examples[] = {"examples/gpt/graph.json", "examples/bert/graph.json",
                                    "examples/llama/graph.json"};
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        struct ts_diag d;
        ts_diag_clear(&d);
        g = NULL;
        CHECK(ts_graph_load(examples[i], &g, &d) == TS_OK);
        if (g && ts_pass_verify(g, &d) == TS_OK && ts_pass_shapes(g, NULL, 0, &d) == TS_OK &&
            ts_pass_fold(g, &d) == TS_OK)
            check_same_outputs(g, examples[i]);
        CHECK(d.status == TS_OK);
        ts_graph_free(g);
    }
}

int main(void) {
    test_matmul();
    test_commutative();
    test_attrs();
    test_chain();
    test_constants();
    test_outputs_kept();
    test_differential();
    return ts_test_finish("cse");
}
