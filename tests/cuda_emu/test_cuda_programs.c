/* test_cuda_programs.c — whole programs through the CUDA backend on the host
 * emulator against the kernel-IR reference: the example models (gpt, bert,
 * llama) and small op graphs covering each kernel kind with awkward sizes and
 * every float dtype, with tf32 GEMMs (loose tolerance) and strict f32 (tight);
 * then random graphs of every op (tests/passes/random_graph.c; strict f32,
 * tolerances as the CPU backend's in test_random_graphs.c).
 * Parsing and compilation as tools/run.c does: graph JSON → passes → fuse → plan.
 * TS_EMU_RANDOM_GRAPHS=N (default 12) and TS_SEED=S choose the random graphs;
 * argv[1] runs only the named cases whose label contains it. */
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"
#include "tests/cuda_emu/harness.h"
#include "tests/passes/random_graph.h"

/* Each case is one graph run once with tf32 allowed and once strict. */
struct pcase {
    const char *label;
    const char *path;   /* a graph file, or NULL for json */
    const char *json;   /* single quotes for double quotes */
    double atol, rtol;  /* strict f32 (and f16/bf16 graphs in both modes) */
    double tf32_atol, tf32_rtol;
};

static const struct pcase cases[] = {
    {"gpt", "examples/gpt/graph.json", NULL, 2e-4, 2e-4, 3e-2, 3e-2},
    {"bert", "examples/bert/graph.json", NULL, 2e-4, 2e-4, 3e-2, 3e-2},
    {"llama", "examples/llama/graph.json", NULL, 2e-4, 2e-4, 3e-2, 3e-2},
    /* GEMM with a bias + gelu epilogue, M, N, K not multiples of any tile */
    {"matmul_f32_gelu", NULL,
     "{'format':'tessera.graph','version':1,'inputs':[{'name':'a','dtype':'f32','shape':[17,129]},"
     "{'name':'b','dtype':'f32','shape':[129,33]},{'name':'c','dtype':'f32','shape':[33]}],"
     "'nodes':[{'op':'matmul','inputs':['a','b'],'outputs':['m']},{'op':'add','inputs':['m','c'],'outputs':['s']},"
     "{'op':'gelu','inputs':['s'],'outputs':['y']}],'outputs':['y']}",
     1e-4, 1e-4, 3e-2, 1e-2},
    {"matmul_f16_bt", NULL,
     "{'format':'tessera.graph','version':1,'inputs':[{'name':'a','dtype':'f16','shape':[2,7,72]},"
     "{'name':'b','dtype':'f16','shape':[2,40,72]}],"
     "'nodes':[{'op':'matmul','inputs':['a','b'],'outputs':['y'],'attrs':{'transpose_b':true}}],'outputs':['y']}",
     2e-2, 2e-3, 2e-2, 2e-3},
    {"matmul_bf16", NULL,
     "{'format':'tessera.graph','version':1,'inputs':[{'name':'a','dtype':'bf16','shape':[129,64]},"
     "{'name':'b','dtype':'bf16','shape':[64,24]}],"
     "'nodes':[{'op':'matmul','inputs':['a','b'],'outputs':['y']}],'outputs':['y']}",
     1e-1, 1.6e-2, 1e-1, 1.6e-2},
    {"softmax_layernorm_f32", NULL,
     "{'format':'tessera.graph','version':1,'inputs':[{'name':'x','dtype':'f32','shape':[7,129]},"
     "{'name':'w','dtype':'f32','shape':[129]}],"
     "'nodes':[{'op':'softmax','inputs':['x'],'outputs':['s']},{'op':'layernorm','inputs':['x','w'],'outputs':['l']},"
     "{'op':'add','inputs':['s','l'],'outputs':['y']}],'outputs':['y']}",
     2e-5, 2e-5, 2e-5, 2e-5},
    {"rmsnorm_reduce_bf16", NULL,
     "{'format':'tessera.graph','version':1,'inputs':[{'name':'x','dtype':'bf16','shape':[3,17,127]}],"
     "'nodes':[{'op':'rmsnorm','inputs':['x'],'outputs':['r']},"
     "{'op':'reduce_max','inputs':['r'],'outputs':['y'],'attrs':{'axes':[-1]}}],'outputs':['y']}",
     1e-2, 1.6e-2, 1e-2, 1.6e-2},
    {"pointwise_f32", NULL,
     "{'format':'tessera.graph','version':1,'inputs':[{'name':'x','dtype':'f32','shape':[3,7,17]},"
     "{'name':'z','dtype':'f32','shape':[17,7]}],"
     "'nodes':[{'op':'transpose','inputs':['z'],'outputs':['zt'],'attrs':{'perm':[1,0]}},"
     "{'op':'mul','inputs':['x','zt'],'outputs':['m']},{'op':'tanh','inputs':['m'],'outputs':['t']},"
     "{'op':'exp','inputs':['x'],'outputs':['e']},{'op':'add','inputs':['t','e'],'outputs':['y']}],"
     "'outputs':['y']}",
     1e-5, 2e-6, 1e-5, 2e-6},
    {"pointwise_f16_cast", NULL,
     "{'format':'tessera.graph','version':1,'inputs':[{'name':'x','dtype':'f16','shape':[1029]}],"
     "'nodes':[{'op':'silu','inputs':['x'],'outputs':['s']},{'op':'cast','inputs':['s'],'outputs':['y'],"
     "'attrs':{'to':'f32'}}],'outputs':['y']}",
     1e-3, 1e-3, 1e-3, 1e-3},
    {"attention_causal_gqa_f16", NULL,
     "{'format':'tessera.graph','version':1,'inputs':[{'name':'q','dtype':'f16','shape':[1,4,17,32]},"
     "{'name':'k','dtype':'f16','shape':[1,2,17,32]},{'name':'v','dtype':'f16','shape':[1,2,17,32]}],"
     "'nodes':[{'op':'attention','inputs':['q','k','v'],'outputs':['y'],'attrs':{'causal':true}}],"
     "'outputs':['y']}",
     5e-3, 5e-3, 5e-3, 5e-3},
    {"attention_mask_f32", NULL,
     "{'format':'tessera.graph','version':1,'inputs':[{'name':'q','dtype':'f32','shape':[2,2,7,16]},"
     "{'name':'k','dtype':'f32','shape':[2,2,33,16]},{'name':'v','dtype':'f32','shape':[2,2,33,8]},"
     "{'name':'m','dtype':'f32','shape':[2,1,1,33]}],"
     "'nodes':[{'op':'attention','inputs':['q','k','v','m'],'outputs':['y']}],'outputs':['y']}",
     1e-4, 1e-4, 2e-2, 2e-2},
    {"gather_i32", NULL,
     "{'format':'tessera.graph','version':1,'inputs':[{'name':'t','dtype':'f32','shape':[10,5]},"
     "{'name':'i','dtype':'i32','shape':[7]}],"
     "'nodes':[{'op':'gather','inputs':['t','i'],'outputs':['y']}],'outputs':['y']}",
     0, 0, 0, 0},
};

static char *quote(const char *s) {
    char *out = strdup(s);
    TS_ASSERT(out);
    for (char *p = out; *p; p++)
        if (*p == '\'') *p = '"';
    return out;
}

static enum ts_status load(const struct pcase *c, struct ts_graph **g, struct ts_diag *d) {
    if (c->path) return ts_graph_load(c->path, g, d);
    char *text = quote(c->json);
    enum ts_status st = ts_graph_parse(text, strlen(text), c->label, ".", false, g, d);
    free(text);
    return st;
}

/* Runs one case in both modes; returns false where anything failed. */
static bool run_case(const struct pcase *c, const char *only) {
    if (only && !strstr(c->label, only)) return true;
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_graph *g = NULL;
    struct ts_program *prog = NULL;
    enum ts_status st = load(c, &g, &d);
    struct ts_pipeline_opts popts = {.stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = 8};
    if (st == TS_OK) st = ts_compile_program(g, &popts, &fo, &prog, &d);
    struct ts_tensor inputs[8];
    if (st == TS_OK) {
        TS_ASSERT(g->ninputs <= 8);
        st = ts_emu_random_inputs(g, 7, inputs, &d);
    }
    if (st != TS_OK) {
        char msg[1024];
        ts_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "%s: %s\n", c->label, msg);
        CHECK(st == TS_OK);
        ts_graph_free(g);
        return false;
    }
    bool ok = true;
    for (int strict = 0; strict < 2; strict++) {
        struct ts_cuda_opts o = {.strict_f32 = strict, .dump_source = getenv("TS_EMU_DUMP") ? stderr : NULL};
        struct ts_emu_check r;
        char label[128];
        snprintf(label, sizeof label, "%s (%s)", c->label, strict ? "strict f32" : "tf32");
        double atol = strict ? c->atol : c->tf32_atol, rtol = strict ? c->rtol : c->tf32_rtol;
        ts_emu_check_program(prog, &o, inputs, atol, rtol, label, &r);
        bool good = ts_emu_check_ok(&r);
        printf("%-40s %s  worst abs %.3g, worst/tolerance %.3g%s%s\n", label, good ? "ok  " : "FAIL", r.worst,
               r.worst_rel, r.emu != TS_OK ? ": " : "", r.emu != TS_OK ? r.emu_msg : "");
        CHECK(good);
        ok = ok && good;
    }
    for (int i = 0; i < g->ninputs; i++) ts_tensor_release(&inputs[i]);
    ts_graph_free(g);
    return ok;
}

/* An index out of range: the kernel raises the error and the run fails with
 * the same message as the reference. */
static void test_gather_error(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_graph *g = NULL;
    struct ts_program *prog = NULL;
    const struct pcase *c = &cases[sizeof cases / sizeof cases[0] - 1];
    CHECK(load(c, &g, &d) == TS_OK);
    struct ts_pipeline_opts popts = {.stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = 8};
    CHECK(ts_compile_program(g, &popts, &fo, &prog, &d) == TS_OK);
    struct ts_tensor inputs[2];
    CHECK(ts_emu_random_inputs(g, 3, inputs, &d) == TS_OK);
    ts_tensor_set_i64(&inputs[1], 5, 10);
    struct ts_emu_check r;
    struct ts_cuda_opts o = {0};
    ts_emu_check_program(prog, &o, inputs, 0, 0, "gather out of range", &r);
    CHECK(r.ref == TS_ERR_RUNTIME && r.emu == TS_ERR_RUNTIME);
    CHECK(ts_emu_check_ok(&r));
    if (!ts_emu_check_ok(&r)) fprintf(stderr, "reference: %s\nemulator: %s\n", r.ref_msg, r.emu_msg);
    for (int i = 0; i < 2; i++) ts_tensor_release(&inputs[i]);
    ts_graph_free(g);
}

/* ---- random graphs --------------------------------------------------------- */

/* One random graph (its inputs as the generator made them) on the reference
 * program and the emulator; per-output tolerance as test_random_graphs.c gives
 * a compiled target: k·rtol of the value's dtype, k at least 64. */
static bool random_graph(struct rg_gen *g, uint64_t seed) {
    rg_generate(g, seed);
    size_t len = 0;
    char *json = rg_to_json(g, seed, &len);
    struct ts_tensor in[MAXV], want[MAXV], got[MAXV];
    int nin = 0;
    struct ts_diag d;
    ts_diag_clear(&d);
    for (int i = 0; i < g->nv; i++) {
        const struct rg_val *v = &g->v[i];
        if (v->kind != 0) continue;
        TS_ASSERT(ts_tensor_alloc(&in[nin], v->dt, v->rank, v->dims, v->name, &d) == TS_OK);
        for (int64_t j = 0; j < v->n; j++) ts_tensor_set_f64(&in[nin], j, v->data[j]);
        nin++;
    }
    struct ts_graph *gr = NULL;
    struct ts_program *p = NULL;
    struct ts_fuse_opts fo = {.vector_width = 8};
    bool ok = true;
    enum ts_status st = ts_graph_parse(json, len, "random.json", ".", false, &gr, &d);
    if (st == TS_OK) st = ts_compile_program(gr, NULL, &fo, &p, &d);
    if (st == TS_OK) st = ts_program_run_ref(p, in, want, &d);
    if (st != TS_OK) { /* the generator's or the passes' business (test_random_graphs) */
        ts_graph_free(gr);
        for (int i = 0; i < nin; i++) ts_tensor_release(&in[i]);
        free(json);
        return true;
    }
    struct ts_cuda_opts o = {.strict_f32 = true};
    ts_diag_clear(&d);
    if (ts_emu_run_program(p, &o, in, got, &d) != TS_OK) {
        char msg[1200];
        ts_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "random graph TS_SEED=%llu: %s\n", (unsigned long long)seed, msg);
        ok = false;
    } else {
        for (int out = 0; out < g->nouts && ok; out++) {
            const struct rg_val *v = &g->v[g->outs[out]];
            double k = v->k < 64 ? 64 : v->k, rt = k * v->tr, at = 8 * k * v->tr;
            for (int64_t i = 0; i < want[out].numel && ok; i++) {
                if (!ts_dtype_is_float(want[out].dtype)) {
                    ok = ts_tensor_get_i64(&got[out], i) == ts_tensor_get_i64(&want[out], i);
                } else {
                    double a = ts_tensor_get_f64(&got[out], i), b = ts_tensor_get_f64(&want[out], i);
                    ok = a == b || (isnan(a) && isnan(b)) || fabs(a - b) <= at + rt * fabs(b);
                }
                if (!ok)
                    fprintf(stderr, "random graph TS_SEED=%llu: output %s [%lld]: got %.9g, want %.9g\n",
                            (unsigned long long)seed, v->name, (long long)i, ts_tensor_get_f64(&got[out], i),
                            ts_tensor_get_f64(&want[out], i));
            }
        }
        for (int out = 0; out < gr->noutputs; out++) ts_tensor_release(&got[out]);
    }
    if (!ok) fprintf(stderr, "%s", json);
    for (int out = 0; out < gr->noutputs; out++) ts_tensor_release(&want[out]);
    ts_graph_free(gr);
    for (int i = 0; i < nin; i++) ts_tensor_release(&in[i]);
    free(json);
    return ok;
}

static void test_random_graphs(void) {
    const char *ns = getenv("TS_EMU_RANDOM_GRAPHS"), *ss = getenv("TS_SEED");
    int n = ns ? atoi(ns) : 12, failed = 0;
    uint64_t seed = ss ? strtoull(ss, NULL, 10) : 20251123;
    static struct rg_gen g;
    for (int i = 0; i < n; i++) {
        bool ok = random_graph(&g, seed + (uint64_t)i);
        CHECK(ok);
        failed += !ok;
    }
    rg_free(&g);
    printf("random graphs: %d of %d agree (TS_SEED=%llu)\n", n - failed, n, (unsigned long long)seed);
}

int main(int argc, char **argv) {
    /* argv[1]: run only the cases whose label contains it */
    const char *only = argc > 1 ? argv[1] : NULL;
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) failed += !run_case(&cases[i], only);
    if (!only) test_gather_error();
    if (!only || strstr("random", only)) test_random_graphs();
    if (failed) fprintf(stderr, "%d of %zu programs failed\n", failed, sizeof cases / sizeof cases[0]);
    return ts_test_finish("test_cuda_programs");
}
