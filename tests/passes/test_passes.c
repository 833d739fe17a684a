/* test_passes.c — each pass before → after on small graphs written in the
 * graph format: verify (topological sort), shapes (binding and inference),
 * fold (constants evaluated), dce (dead nodes removed), and the pipeline's
 * dump and stop options. Asserts the printed IR. */
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"

static struct ts_graph *parse(const char *json) {
    struct ts_graph *g = NULL;
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_graph_parse(json, strlen(json), "t.json", ".", false, &g, &d) != TS_OK) {
        ts_diag_print(&d, stderr);
        return NULL;
    }
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

static const char *const chain =
    "{\"format\": \"tessera.graph\", \"version\": 1, \"name\": \"chain\",\n"
    " \"symbols\": {\"n\": 4},\n"
    " \"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [\"batch\", \"n\"]}],\n"
    " \"constants\": [{\"name\": \"c\", \"dtype\": \"f32\", \"shape\": [2], \"data\": [1, 4]},\n"
    "               {\"name\": \"k\", \"dtype\": \"f32\", \"shape\": [], \"data\": [0.5]}],\n"
    " \"nodes\": [\n"
    "  {\"op\": \"mul\", \"inputs\": [\"r\", \"k\"], \"outputs\": [\"y\"]},\n"
    "  {\"op\": \"relu\", \"inputs\": [\"x\"], \"outputs\": [\"r\"]},\n"
    "  {\"op\": \"sqrt\", \"inputs\": [\"c\"], \"outputs\": [\"s\"]},\n"
    "  {\"op\": \"exp\", \"inputs\": [\"x\"], \"outputs\": [\"unused\"], \"name\": \"dead\"}\n"
    " ],\n"
    " \"outputs\": [\"y\", \"s\"]}\n";

static void test_verify_sorts(void) {
    struct ts_graph *g = parse(chain);
    CHECK(g != NULL);
    if (!g) return;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_pass_verify(g, &d) == TS_OK);
    char *ir = print(g);
    CHECK_STR(ir,
              "graph \"chain\"  (t.json)\n"
              "  symbols: n (default 4) batch (unbound)\n"
              "  input  x: f32[batch, n]\n"
              "  const  c: f32[2] = [1, 4]\n"
              "  const  k: f32[] = 0.5\n"
              "  %r: ? = relu(x)  # relu#1\n"
              "  %y: ? = mul(r, k)  # mul#0\n"
              "  %s: ? = sqrt(c)  # sqrt#2\n"
              "  %unused: ? = exp(x)  # dead\n"
              "  outputs: y s\n");
    free(ir);
    ts_graph_free(g);
}

static void test_shapes(void) {
    struct ts_graph *g = parse(chain);
    if (!g) return;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_pass_verify(g, &d) == TS_OK);
    /* batch has no default: without a bind it is an error that says how to fix it */
    CHECK(ts_pass_shapes(g, NULL, 0, &d) == TS_ERR_SHAPE);
    char buf[1024];
    ts_diag_format(&d, buf, sizeof buf);
    CHECK_STR(buf, "t.json: symbols: symbol 'batch' has no size: give it a default in \"symbols\", or --bind "
                   "batch=N, or an input that fixes it");
    struct ts_bind binds[2] = {{"batch", 3, "--bind batch=3"}, {"batch", 5, "input 'x' in in.safetensors"}};
    ts_diag_clear(&d);
    CHECK(ts_pass_shapes(g, binds, 2, &d) == TS_ERR_SHAPE);
    ts_diag_format(&d, buf, sizeof buf);
    CHECK_STR(buf, "t.json: symbol 'batch' is 3 from --bind batch=3 but 5 from input 'x' in in.safetensors");
    struct ts_bind unknown = {"seq", 3, "--bind seq=3"};
    ts_diag_clear(&d);
    CHECK(ts_pass_shapes(g, &unknown, 1, &d) == TS_ERR_USAGE);
    ts_diag_format(&d, buf, sizeof buf);
    CHECK_STR(buf, "t.json: --bind seq=3: the graph has no symbol 'seq' (its symbols: n, batch)");
    ts_diag_clear(&d);
    CHECK(ts_pass_shapes(g, binds, 1, &d) == TS_OK);
    CHECK(g->shaped);
    char *ir = print(g);
    CHECK_STR(ir,
              "graph \"chain\"  (t.json)\n"
              "  symbols: n=4 batch=3\n"
              "  input  x: f32[batch=3, n=4]\n"
              "  const  c: f32[2] = [1, 4]\n"
              "  const  k: f32[] = 0.5\n"
              "  %r: f32[3, 4] = relu(x)  # relu#1\n"
              "  %y: f32[3, 4] = mul(r, k)  # mul#0\n"
              "  %s: f32[2] = sqrt(c)  # sqrt#2\n"
              "  %unused: f32[3, 4] = exp(x)  # dead\n"
              "  outputs: y s\n");
    free(ir);
    ts_graph_free(g);
}

static void test_fold_and_dce(void) {
    struct ts_graph *g = parse(chain);
    if (!g) return;
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_bind b = {"batch", 2, "--bind batch=2"};
    CHECK(ts_pass_verify(g, &d) == TS_OK);
    CHECK(ts_pass_shapes(g, &b, 1, &d) == TS_OK);
    CHECK(ts_pass_fold(g, &d) == TS_OK);
    char *ir = print(g);
    CHECK_STR(ir,
              "graph \"chain\"  (t.json)\n"
              "  symbols: n=4 batch=2\n"
              "  input  x: f32[batch=2, n=4]\n"
              "  const  c: f32[2] = [1, 4]\n"
              "  const  k: f32[] = 0.5\n"
              "  const  s: f32[2] = [1, 2]\n"
              "  %r: f32[2, 4] = relu(x)  # relu#1\n"
              "  %y: f32[2, 4] = mul(r, k)  # mul#0\n"
              "  %unused: f32[2, 4] = exp(x)  # dead\n"
              "  outputs: y s\n");
    free(ir);
    CHECK(ts_pass_dce(g, &d) == TS_OK);
    ir = print(g);
    CHECK_STR(ir,
              "graph \"chain\"  (t.json)\n"
              "  symbols: n=4 batch=2\n"
              "  input  x: f32[batch=2, n=4]\n"
              "  const  k: f32[] = 0.5\n"
              "  const  s: f32[2] = [1, 2]\n"
              "  %r: f32[2, 4] = relu(x)  # relu#1\n"
              "  %y: f32[2, 4] = mul(r, k)  # mul#0\n"
              "  outputs: y s\n");
    free(ir);
    /* The result still runs and computes y = relu(x) * 0.5. */
    struct ts_tensor in, out[2];
    int64_t dims[2] = {2, 4};
    CHECK(ts_tensor_alloc(&in, TS_F32, 2, dims, "x", &d) == TS_OK);
    for (int i = 0; i < 8; i++) ts_tensor_set_f64(&in, i, i - 3.5);
    CHECK(ts_interp_run(g, &in, out, &d) == TS_OK);
    if (d.status == TS_OK) {
        for (int i = 0; i < 8; i++) CHECK_NEAR(ts_tensor_get_f64(&out[0], i), i > 3 ? (i - 3.5) * 0.5 : 0, 0, 0);
        CHECK_NEAR(ts_tensor_get_f64(&out[1], 1), 2.0, 0, 0);
        ts_tensor_release(&out[0]);
        ts_tensor_release(&out[1]);
    }
    ts_tensor_release(&in);
    ts_graph_free(g);
}

static void test_fold_size_limit_and_errors(void) {
    /* A broadcast that would make a 4 MB constant is left to run time. */
    const char *json =
        "{\"format\": \"tessera.graph\", \"version\": 1,\n"
        " \"constants\": [{\"name\": \"a\", \"dtype\": \"f32\", \"shape\": [1024, 1], \"data\": [%s]},\n"
        "               {\"name\": \"b\", \"dtype\": \"f32\", \"shape\": [1024], \"data\": [%s]}],\n"
        " \"nodes\": [{\"op\": \"add\", \"inputs\": [\"a\", \"b\"], \"outputs\": [\"y\"]}],\n"
        " \"outputs\": [\"y\"]}\n";
    size_t cap = 1024 * 4 + 64;
    char *ones = malloc(cap);
    size_t used = 0;
    for (int i = 0; i < 1024; i++) used += (size_t)snprintf(ones + used, cap - used, "%s1", i ? "," : "");
    char *text = malloc(strlen(json) + 2 * used + 1);
    sprintf(text, json, ones, ones);
    struct ts_graph *g = parse(text);
    free(ones);
    free(text);
    if (!g) return;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_pipeline_run(g, NULL, &d) == TS_OK);
    CHECK(g->nnodes == 1); /* not folded: 1024 × 1024 × 4 bytes > TS_FOLD_MAX_BYTES */
    ts_graph_free(g);

    /* An error found while folding leaves the node to run time, where it
     * fails with a message naming the node (a dead node would simply go). */
    const char *bad =
        "{\"format\": \"tessera.graph\", \"version\": 1,\n"
        " \"constants\": [{\"name\": \"t\", \"dtype\": \"f32\", \"shape\": [3], \"data\": [1, 2, 3]},\n"
        "               {\"name\": \"i\", \"dtype\": \"i32\", \"shape\": [1], \"data\": [7]}],\n"
        " \"nodes\": [{\"op\": \"gather\", \"inputs\": [\"t\", \"i\"], \"outputs\": [\"y\"], \"name\": \"pick\"}],\n"
        " \"outputs\": [\"y\"]}\n";
    g = parse(bad);
    if (!g) return;
    ts_diag_clear(&d);
    CHECK(ts_pipeline_run(g, NULL, &d) == TS_OK);
    CHECK(g->nnodes == 1); /* not folded */
    struct ts_tensor out;
    CHECK(ts_interp_run(g, NULL, &out, &d) == TS_ERR_RUNTIME);
    CHECK_STR(d.where, "node 'pick' (gather)");
    ts_graph_free(g);

    /* The same error in a node nothing uses is no error at all. */
    const char *dead =
        "{\"format\": \"tessera.graph\", \"version\": 1,\n"
        " \"constants\": [{\"name\": \"k\", \"dtype\": \"i32\", \"shape\": [2], \"data\": [4, 6]},\n"
        "               {\"name\": \"z\", \"dtype\": \"i32\", \"shape\": [2], \"data\": [1, 0]}],\n"
        " \"nodes\": [{\"op\": \"div\", \"inputs\": [\"k\", \"z\"], \"outputs\": [\"q\"]},\n"
        "           {\"op\": \"add\", \"inputs\": [\"k\", \"k\"], \"outputs\": [\"y\"]}],\n"
        " \"outputs\": [\"y\"]}\n";
    g = parse(dead);
    if (!g) return;
    ts_diag_clear(&d);
    CHECK(ts_pipeline_run(g, NULL, &d) == TS_OK);
    CHECK(g->nnodes == 0); /* y folded, the division removed as dead code */
    ts_graph_free(g);
}

static void test_pipeline_dump(void) {
    struct ts_graph *g = parse(chain);
    if (!g) return;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    struct ts_bind b = {"batch", 1, "--bind batch=1"};
    struct ts_pipeline_opts o = {.binds = &b, .nbinds = 1, .dump_mask = 1u << TS_PASS_FOLD,
                                 .stop_after = TS_PASS_FOLD, .dump = f};
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_pipeline_run(g, &o, &d) == TS_OK);
    fclose(f);
    CHECK(strncmp(buf, "; after fold (evaluate nodes whose inputs are all constants)\n", 61) == 0);
    CHECK_CONTAINS(buf, "const  s: f32[2] = [1, 2]");
    CHECK_CONTAINS(buf, "# dead"); /* stopped before dce */
    CHECK(g->nnodes == 3);
    free(buf);
    enum ts_pass_id p;
    CHECK(ts_pass_from_name("dce", &p) && p == TS_PASS_DCE);
    CHECK(!ts_pass_from_name("fuse", &p));
    ts_graph_free(g);
}

int main(void) {
    test_verify_sorts();
    test_shapes();
    test_fold_and_dce();
    test_fold_size_limit_and_errors();
    test_pipeline_dump();
    return ts_test_finish("passes");
}
