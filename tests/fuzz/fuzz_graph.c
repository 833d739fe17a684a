/* fuzz_graph.c — libFuzzer target for the JSON graph parser and everything a
 * parsed graph reaches: the pass pipeline, fusion and memory planning (whose
 * program must pass ts_program_check) and, for graphs small enough to run in
 * a moment, the reference interpreter and the kernel-IR interpreter, which
 * must agree bit for bit. Any input must end in TS_OK or an error status,
 * never a crash, a leak, a hang or an out-of-bounds access. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/passes.h"

/* The interpreter runs only when the whole graph costs at most this many
 * operations (ts_node_cost: matmul and attention count their inner loops), so
 * the fuzzer keeps thousands of runs a second; every value is also capped so
 * inputs stay cheap to fill. */
#define FUZZ_MAX_COST (1 << 20)
#define FUZZ_MAX_NUMEL (1 << 16)

static bool small_enough(const struct ts_graph *g) {
    if (!g->shaped) return false;
    for (int i = 0; i < g->nvalues; i++) {
        const struct ts_value *v = &g->values[i];
        if (v->removed) continue;
        if (ts_value_numel(v) > FUZZ_MAX_NUMEL) return false; /* every shaped value obeys ts_dims_fit */
    }
    int64_t cost = 0;
    for (int i = 0; i < g->nnodes; i++) {
        int64_t c = ts_node_cost(g, &g->nodes[i]);
        if (c > FUZZ_MAX_COST - cost) return false;
        cost += c;
    }
    return true;
}

/* Small non-zero values: zeros would hide division, log and rsqrt paths; ints
 * stay small so gather indices are often (not always) in range. */
static void fill(struct ts_tensor *t) {
    for (int64_t i = 0; i < t->numel; i++) {
        if (ts_dtype_is_float(t->dtype)) ts_tensor_set_f64(t, i, (double)(i % 7 + 1) * (i % 2 ? -0.25 : 0.375));
        else if (t->dtype == TS_BOOL) ts_tensor_set_i64(t, i, i % 3 != 0);
        else ts_tensor_set_i64(t, i, i % 3 + 1);
    }
}

/* Bit for bit, except that any NaN equals any NaN. */
static bool same_tensor(const struct ts_tensor *a, const struct ts_tensor *b) {
    if (a->dtype != b->dtype || a->numel != b->numel) return false;
    if (!ts_dtype_is_float(a->dtype)) return memcmp(a->data, b->data, a->nbytes) == 0;
    for (int64_t i = 0; i < a->numel; i++) {
        double x = ts_tensor_get_f64(a, i), y = ts_tensor_get_f64(b, i);
        if (!(x == y || (isnan(x) && isnan(y)))) return false;
        if (x == 0 && y == 0 && signbit(x) != signbit(y)) return false;
    }
    return true;
}

/* Runs the graph on the reference interpreter and, fused, on the kernel-IR
 * interpreter: both succeed with the same bits, or both fail. */
static void run_interpreters(const struct ts_graph *g, const struct ts_program *p) {
    struct ts_tensor *in = calloc((size_t)g->ninputs + 1, sizeof *in);
    struct ts_tensor *out = calloc((size_t)g->noutputs + 1, sizeof *out);
    struct ts_tensor *fused = calloc((size_t)g->noutputs + 1, sizeof *fused);
    struct ts_diag d;
    ts_diag_clear(&d);
    bool ok = in && out && fused;
    for (int i = 0; ok && i < g->ninputs; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        ok = ts_tensor_alloc(&in[i], v->dtype, rank, dims, v->name, &d) == TS_OK;
        if (ok) fill(&in[i]);
    }
    if (ok) {
        bool ref_ok = ts_interp_run(g, in, out, &d) == TS_OK;
        bool fused_ok = true;
        if (p) {
            ts_diag_clear(&d);
            fused_ok = ts_program_run_ref(p, in, fused, &d) == TS_OK;
            if (fused_ok != ref_ok) abort(); /* fusion changed whether the graph runs */
            for (int i = 0; fused_ok && i < g->noutputs; i++)
                if (!same_tensor(&out[i], &fused[i])) abort(); /* fusion changed a result */
        }
        for (int i = 0; ref_ok && i < g->noutputs; i++) ts_tensor_release(&out[i]);
        for (int i = 0; p && fused_ok && i < g->noutputs; i++) ts_tensor_release(&fused[i]);
    }
    for (int i = 0; in && i < g->ninputs; i++) ts_tensor_release(&in[i]);
    free(in);
    free(out);
    free(fused);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ts_graph *g = NULL;
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_graph_parse((const char *)data, size, "fuzz.json", ".", false, &g, &d) != TS_OK) {
        if (g) abort(); /* an error must not hand back a graph */
        if (d.status == TS_OK) abort(); /* an error must say what it was */
        return 0;
    }
    struct ts_pipeline_opts opts = {.stop_after = TS_PASS_COUNT};
    ts_diag_clear(&d);
    if (ts_pipeline_run(g, &opts, &d) == TS_OK) {
        struct ts_program *p = NULL;
        struct ts_fuse_opts fo = {.vector_width = 8};
        ts_diag_clear(&d);
        /* Fusion and planning of a valid graph never fail: their own checker
         * (ts_program_check) runs inside both. */
        if (ts_pass_fuse(g, &fo, &p, &d) != TS_OK || ts_pass_plan(p, &d) != TS_OK) abort();
        if (small_enough(g)) run_interpreters(g, p);
    }
    ts_graph_free(g);
    return 0;
}
