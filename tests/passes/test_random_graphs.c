/* test_random_graphs.c — differential test on random valid graphs: each graph
 * is run through the whole pipeline (verify, shapes, fold, cse, simplify, dce)
 * on every target of 'targets' and compared with the same graph after verify
 * and shapes alone on the reference interpreter. The targets: the reference
 * interpreter itself, and the kernel program (fused, and one kernel per node)
 * on the kernel-IR interpreter; a backend adds a row.
 *
 * The generator keeps, for each value, its dtype and shape (checked against
 * the shapes pass: a mismatch is a generator or shape-rule bug), an interval
 * holding its elements (so log, sqrt, rsqrt, div and pow see safe domains and
 * magnitudes stay bounded) and a tolerance multiplier k: 0 for values that no
 * rewritten pattern reaches, compared bit for bit (fold and cse evaluate with
 * the same kernels, so they must not move a bit), else grown along the path
 * by each op's worst-case error gain, with STYLE.md's per-dtype tolerances.
 *
 * TS_RANDOM_GRAPHS=N (default 1000) and TS_SEED=S (default 20240611) choose
 * the run; graph i uses seed S+i, so TS_SEED=S+i TS_RANDOM_GRAPHS=1 replays
 * it. A failure prints the seed and the graph as JSON, and writes the graph
 * and its inputs to $TMPDIR for `tessera run G.json --inputs G.safetensors`. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"
#include "tests/passes/random_graph.h"

/* ---- targets: "run this graph" ------------------------------------------- */

/* Runs graph JSON on some target with the given inputs (graph input order),
 * filling outputs (owned; ts_tensor_release). A backend adds a row to targets. */
typedef enum ts_status (*target_fn)(const char *json, size_t len, const struct ts_tensor *inputs,
                                    struct ts_tensor *outputs, struct ts_diag *d);

/* Parses, runs the pipeline up to stop_after, then the reference interpreter. */
static enum ts_status run_reference(const char *json, size_t len, unsigned stop_after, const struct ts_tensor *inputs,
                                    struct ts_tensor *outputs, struct ts_graph **keep, struct ts_diag *d) {
    struct ts_graph *gr = NULL;
    enum ts_status st = ts_graph_parse(json, len, "random.json", ".", false, &gr, d);
    struct ts_pipeline_opts o = {.stop_after = stop_after};
    if (st == TS_OK) st = ts_pipeline_run(gr, &o, d);
    if (st == TS_OK) st = ts_interp_run(gr, inputs, outputs, d);
    if (keep && st == TS_OK)
        *keep = gr;
    else
        ts_graph_free(gr);
    return st;
}
static enum ts_status run_optimized(const char *json, size_t len, const struct ts_tensor *inputs,
                                    struct ts_tensor *outputs, struct ts_diag *d) {
    return run_reference(json, len, TS_PASS_COUNT, inputs, outputs, NULL, d);
}
/* Compiles to a kernel program (fused, or one kernel per node) and runs it on
 * the kernel-IR interpreter, with TEMP buffers at their planned offsets. */
static enum ts_status run_program(const char *json, size_t len, bool no_fusion, const struct ts_tensor *inputs,
                                  struct ts_tensor *outputs, struct ts_diag *d) {
    struct ts_graph *gr = NULL;
    struct ts_program *p = NULL;
    struct ts_fuse_opts fo = {.vector_width = 8, .no_fusion = no_fusion};
    enum ts_status st = ts_graph_parse(json, len, "random.json", ".", false, &gr, d);
    if (st == TS_OK) st = ts_compile_program(gr, NULL, &fo, &p, d);
    if (st == TS_OK) st = ts_program_run_ref(p, inputs, outputs, d);
    ts_graph_free(gr);
    return st;
}
static enum ts_status run_fused(const char *json, size_t len, const struct ts_tensor *inputs,
                                struct ts_tensor *outputs, struct ts_diag *d) {
    return run_program(json, len, false, inputs, outputs, d);
}
static enum ts_status run_unfused(const char *json, size_t len, const struct ts_tensor *inputs,
                                  struct ts_tensor *outputs, struct ts_diag *d) {
    return run_program(json, len, true, inputs, outputs, d);
}
/* Compiles for this CPU (LLVM at O3, JIT) and runs on the thread pool with 2
 * threads, so that task splits are exercised too. */
static enum ts_status run_cpu(const char *json, size_t len, const struct ts_tensor *inputs,
                              struct ts_tensor *outputs, struct ts_diag *d) {
    struct ts_graph *gr = NULL;
    struct ts_program *p = NULL;
    struct ts_cpu_exec *e = NULL;
    struct ts_cpu_info cpu;
    enum ts_status st = ts_cpu_info_init(NULL, &cpu, d);
    struct ts_fuse_opts fo = {.vector_width = cpu.vector_width};
    if (st == TS_OK) st = ts_graph_parse(json, len, "random.json", ".", false, &gr, d);
    if (st == TS_OK) st = ts_compile_program(gr, NULL, &fo, &p, d);
    struct ts_cpu_exec_opts eo = {.threads = 2};
    if (st == TS_OK) st = ts_cpu_exec_init(p, &eo, &e, d);
    if (st == TS_OK) st = ts_cpu_exec_run(e, inputs, outputs, d);
    ts_cpu_exec_free(e);
    ts_graph_free(gr);
    return st;
}

/* approx: the target computes in f32 with its own operation order and libm,
 * so outputs compare within tolerance even where the interpreters agree to
 * the bit. every: run it on every n-th graph only (LLVM compiles take time). */
static const struct {
    const char *name;
    target_fn run;
    bool approx;
    int every;
} targets[] = {
    {"ref (fold, cse, simplify, dce)", run_optimized, false, 1},
    {"fused (kernel-IR interpreter)", run_fused, false, 1},
    {"one kernel per node (no_fusion)", run_unfused, false, 1},
    {"cpu (LLVM JIT, 2 threads)", run_cpu, true, 4},
};

/* ---- the test ---------------------------------------------------------- */

static int fused[TS_OP_COUNT], generated[TS_OP_COUNT], failures, invalid, folded, merged, exact, loose;

/* The shapes pass must agree with the generator on every value. */
static bool shapes_agree(const struct rg_gen *g, const struct ts_graph *gr) {
    for (int i = 0; i < g->nv; i++) {
        int id = ts_graph_find_value(gr, g->v[i].name);
        const struct ts_value *v = id < 0 ? NULL : &gr->values[id];
        bool ok = v && v->dtype == g->v[i].dt && v->rank == g->v[i].rank;
        for (int k = 0; ok && k < v->rank; k++) ok = v->dims[k].size == g->v[i].dims[k];
        if (!ok) {
            char got[160] = "?";
            if (v) ts_value_shape_str(gr, v, got, sizeof got);
            fprintf(stderr, "value %s: tessera says %s %s, the generator %s rank %d (first dim %lld)\n", g->v[i].name,
                    v ? ts_dtype_name(v->dtype) : "?", got, ts_dtype_name(g->v[i].dt), g->v[i].rank,
                    (long long)(g->v[i].rank ? g->v[i].dims[0] : 0));
            return false;
        }
    }
    return true;
}

/* Counts what each pass did, running them one by one on a fresh parse. */
static void count_rewrites(const char *json, size_t len) {
    struct ts_graph *gr = NULL;
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_graph_parse(json, len, "random.json", ".", false, &gr, &d) != TS_OK) return;
    int before[TS_OP_COUNT] = {0}, n0, n1, n2;
    if (ts_pass_verify(gr, &d) == TS_OK && ts_pass_shapes(gr, NULL, 0, &d) == TS_OK) {
        for (int i = 0; i < gr->nnodes; i++) before[gr->nodes[i].op]++;
        n0 = gr->nnodes;
        CHECK(ts_pass_fold(gr, &d) == TS_OK);
        n1 = gr->nnodes;
        CHECK(ts_pass_cse(gr, &d) == TS_OK);
        n2 = gr->nnodes;
        CHECK(ts_pass_simplify(gr, &d) == TS_OK && ts_pass_dce(gr, &d) == TS_OK);
        folded += n0 > n1, merged += n1 > n2;
        for (int i = 0; i < gr->nnodes; i++) before[gr->nodes[i].op]--;
        for (int op = 0; op < TS_OP_COUNT; op++) fused[op] += before[op] < 0 ? -before[op] : 0;
    }
    ts_graph_free(gr);
}

static void report(const char *what, uint64_t seed, const char *json, const struct rg_gen *g,
                   const struct ts_tensor *in, int nin) {
    failures++;
    fprintf(stderr, "random graph FAILED (%s): TS_SEED=%llu TS_RANDOM_GRAPHS=1 replays it\n%s", what,
            (unsigned long long)seed, json);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[512], spath[512];
    snprintf(path, sizeof path, "%s/tessera-random-%llu.json", tmp, (unsigned long long)seed);
    snprintf(spath, sizeof spath, "%s/tessera-random-%llu.safetensors", tmp, (unsigned long long)seed);
    FILE *f = fopen(path, "w");
    if (f) fputs(json, f), fclose(f);
    const char *names[MAXV];
    for (int i = 0, k = 0; i < g->nv; i++)
        if (g->v[i].kind == 0) names[k++] = g->v[i].name;
    struct ts_diag d;
    ts_diag_clear(&d);
    if (f && ts_safetensors_write(spath, nin, names, in, &d) == TS_OK)
        fprintf(stderr, "reproduce: tessera run %s --inputs %s; tessera inspect %s --dump all\n", path, spath,
                path);
}

/* The tolerance multiplier of a compiled target where the interpreters must
 * agree to the bit: f32 arithmetic in another order, libm's f32 functions. */
#define APPROX_K 64

/* Compares one output; k == 0 means bit for bit. */
static bool agree(const struct rg_val *v, bool approx, const struct ts_tensor *got, const struct ts_tensor *want,
                  char *msg, size_t size) {
    if (got->dtype != want->dtype || got->rank != want->rank || got->numel != want->numel) {
        snprintf(msg, size, "output %s: dtype or shape differs", v->name);
        return false;
    }
    double k = approx && v->k < APPROX_K ? APPROX_K : v->k;
    double rt = k * v->tr, at = k * 8 * v->tr;
    for (int64_t i = 0; i < got->numel; i++) {
        bool ok;
        if (!ts_dtype_is_float(got->dtype)) {
            ok = ts_tensor_get_i64(got, i) == ts_tensor_get_i64(want, i);
        } else {
            double a = ts_tensor_get_f64(got, i), b = ts_tensor_get_f64(want, i);
            ok = a == b || (isnan(a) && isnan(b)) || fabs(a - b) <= at + rt * fabs(b);
        }
        if (!ok) {
            snprintf(msg, size, "output %s [%lld]: got %.9g, want %.9g (k %g: %s)", v->name, (long long)i,
                     ts_tensor_get_f64(got, i), ts_tensor_get_f64(want, i), k,
                     k > 0 ? "beyond tolerance" : "must be bit-identical");
            return false;
        }
    }
    return true;
}

static void one_graph(struct rg_gen *g, uint64_t seed, int index) {
    rg_generate(g, seed);
    size_t len = 0;
    char *json = rg_to_json(g, seed, &len);
    for (int i = 0; i < g->nn; i++) {
        enum ts_op op;
        if (ts_op_from_name(g->nd[i].op, &op)) generated[op]++;
    }
    if (getenv("TS_RANDOM_PRINT")) printf("TS_SEED=%llu\n%s", (unsigned long long)seed, json);
    struct ts_tensor in[MAXV], want[MAXV], got[MAXV];
    int nin = 0;
    struct ts_diag d;
    ts_diag_clear(&d);
    for (int i = 0; i < g->nv; i++) {
        const struct rg_val *v = &g->v[i];
        if (v->kind != 0) continue;
        CHECK(ts_tensor_alloc(&in[nin], v->dt, v->rank, v->dims, v->name, &d) == TS_OK);
        for (int64_t j = 0; j < v->n; j++) ts_tensor_set_f64(&in[nin], j, v->data[j]);
        nin++;
    }
    struct ts_graph *base = NULL;
    enum ts_status st = run_reference(json, len, TS_PASS_SHAPES, in, want, &base, &d);
    if (st != TS_OK || !shapes_agree(g, base)) {
        char msg[1200];
        ts_diag_format(&d, msg, sizeof msg);
        invalid++;
        report(st != TS_OK ? msg : "the generator and the shapes pass disagree", seed, json, g, in, nin);
    } else {
        count_rewrites(json, len);
        for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
            if (index % targets[t].every != 0 && !getenv("TS_RANDOM_ALL_TARGETS")) continue;
            ts_diag_clear(&d);
            if (targets[t].run(json, len, in, got, &d) != TS_OK) {
                char msg[1200];
                ts_diag_format(&d, msg, sizeof msg);
                report(msg, seed, json, g, in, nin);
                continue;
            }
            for (int o = 0; o < g->nouts; o++) {
                char msg[400];
                *(g->v[g->outs[o]].k > 0 ? &loose : &exact) += 1;
                if (!agree(&g->v[g->outs[o]], targets[t].approx, &got[o], &want[o], msg, sizeof msg)) {
                    fprintf(stderr, "%s vs ref (verify, shapes): %s\n", targets[t].name, msg);
                    report(targets[t].name, seed, json, g, in, nin);
                    o = g->nouts; /* one report per graph and target */
                }
            }
            for (int o = 0; o < g->nouts; o++) ts_tensor_release(&got[o]);
        }
        for (int o = 0; o < g->nouts; o++) ts_tensor_release(&want[o]);
    }
    ts_graph_free(base);
    for (int i = 0; i < nin; i++) ts_tensor_release(&in[i]);
    free(json);
}

int main(void) {
    const char *ns = getenv("TS_RANDOM_GRAPHS"), *ss = getenv("TS_SEED");
    int n = ns ? atoi(ns) : 1000;
    uint64_t seed = ss ? strtoull(ss, NULL, 10) : 20240611;
    printf("random graphs: %d graphs, TS_SEED=%llu\n", n, (unsigned long long)seed);
    static struct rg_gen g;
    for (int i = 0; i < n && failures < 3; i++) one_graph(&g, seed + (uint64_t)i, i);
    rg_free(&g);
    CHECK(invalid == 0);
    CHECK(failures == 0);
    if (n >= 100) { /* the run must reach every op and every rewrite */
        for (int op = 0; op < TS_OP_COUNT; op++) {
            CHECK(generated[op] > 0);
            if (!generated[op]) fprintf(stderr, "no graph used op %s\n", ts_op_get((enum ts_op)op)->name);
        }
        const enum ts_op rewrites[] = {TS_OP_GELU, TS_OP_SOFTMAX, TS_OP_LAYERNORM, TS_OP_RMSNORM, TS_OP_ATTENTION};
        for (int i = 0; i < 5; i++) {
            CHECK(fused[rewrites[i]] > 0);
            if (!fused[rewrites[i]]) fprintf(stderr, "simplify never made a %s\n", ts_op_get(rewrites[i])->name);
        }
        CHECK(folded > 0 && merged > 0);
    }
    printf("random graphs: %d outputs compared bit for bit, %d within tolerance\n", exact, loose);
    printf("random graphs: %d invalid, %d failed; fold acted in %d, cse in %d; simplify made gelu %d, softmax %d, "
           "layernorm %d, rmsnorm %d, attention %d\n",
           invalid, failures, folded, merged, fused[TS_OP_GELU], fused[TS_OP_SOFTMAX], fused[TS_OP_LAYERNORM],
           fused[TS_OP_RMSNORM], fused[TS_OP_ATTENTION]);
    for (int f = 0; f < rg_nfamilies(); f++)
        printf("%s%s %d", f ? ", " : "random graphs: made ", rg_family_name(f), rg_family_made(f));
    printf("\n");
    return ts_test_finish("random_graphs");
}
