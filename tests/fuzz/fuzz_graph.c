/* fuzz_graph.c — libFuzzer target for the JSON graph parser and everything a
 * parsed graph reaches: the pass pipeline and, for graphs small enough to run
 * in a moment, the reference interpreter. Any input must end in TS_OK or an
 * error status, never a crash, a leak, a hang or an out-of-bounds access. */
#include <stdint.h>
#include <stdlib.h>

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

static void run_interpreter(const struct ts_graph *g) {
    struct ts_tensor *in = calloc((size_t)g->ninputs + 1, sizeof *in);
    struct ts_tensor *out = calloc((size_t)g->noutputs + 1, sizeof *out);
    struct ts_diag d;
    ts_diag_clear(&d);
    bool ok = in && out;
    for (int i = 0; ok && i < g->ninputs; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        ok = ts_tensor_alloc(&in[i], v->dtype, rank, dims, v->name, &d) == TS_OK;
        if (ok) fill(&in[i]);
    }
    if (ok && ts_interp_run(g, in, out, &d) == TS_OK)
        for (int i = 0; i < g->noutputs; i++) ts_tensor_release(&out[i]);
    for (int i = 0; in && i < g->ninputs; i++) ts_tensor_release(&in[i]);
    free(in);
    free(out);
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
    if (ts_pipeline_run(g, &opts, &d) == TS_OK && small_enough(g)) run_interpreter(g);
    ts_graph_free(g);
    return 0;
}
