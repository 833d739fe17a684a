/* bench_program.c — the GEMM a benchmark problem stands for, written as the
 * graph a user would write (matmul, and for the fused case add and gelu) and
 * compiled by the same passes as `tessera run`: the timed kernel is the one
 * users get, fusion included, not a hand-assembled kernel. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/passes.h"
#include "tools/bench_internal.h"

enum ts_status ts_bench_gemm_program(const struct ts_bench_opts *o, const struct ts_bench_problem *pr, bool gelu_tanh,
                                     int vector_width, struct ts_program **out, struct ts_diag *d) {
    *out = NULL;
    const char *dt = ts_dtype_name(o->dtype);
    long long m = pr->m, n = pr->n, k = pr->k;
    char text[2048];
    int len;
    if (o->epilogue == TS_BENCH_EPI_BIAS_GELU)
        len = snprintf(text, sizeof text,
                       "{\"format\": \"tessera.graph\", \"version\": 1, \"name\": \"gemm %lldx%lldx%lld%s %s bias_gelu\",\n"
                       " \"inputs\": [{\"name\": \"a\", \"dtype\": \"%s\", \"shape\": [%lld, %lld]},\n"
                       "            {\"name\": \"b\", \"dtype\": \"%s\", \"shape\": [%lld, %lld]},\n"
                       "            {\"name\": \"bias\", \"dtype\": \"%s\", \"shape\": [%lld]}],\n"
                       " \"nodes\": [{\"op\": \"matmul\", \"inputs\": [\"a\", \"b\"], \"outputs\": [\"ab\"],"
                       " \"attrs\": {\"transpose_b\": %s}},\n"
                       "           {\"op\": \"add\", \"inputs\": [\"ab\", \"bias\"], \"outputs\": [\"pre\"]},\n"
                       "           {\"op\": \"gelu\", \"inputs\": [\"pre\"], \"outputs\": [\"c\"],"
                       " \"attrs\": {\"approximate\": \"%s\"}}],\n"
                       " \"outputs\": [\"c\"]}\n",
                       m, n, k, o->trans_b ? " B[N,K]" : "", dt, dt, m, k, dt, o->trans_b ? n : k, o->trans_b ? k : n,
                       dt, n, o->trans_b ? "true" : "false", gelu_tanh ? "tanh" : "none");
    else
        len = snprintf(text, sizeof text,
                       "{\"format\": \"tessera.graph\", \"version\": 1, \"name\": \"gemm %lldx%lldx%lld%s %s\",\n"
                       " \"inputs\": [{\"name\": \"a\", \"dtype\": \"%s\", \"shape\": [%lld, %lld]},\n"
                       "            {\"name\": \"b\", \"dtype\": \"%s\", \"shape\": [%lld, %lld]}],\n"
                       " \"nodes\": [{\"op\": \"matmul\", \"inputs\": [\"a\", \"b\"], \"outputs\": [\"c\"],"
                       " \"attrs\": {\"transpose_b\": %s}}],\n"
                       " \"outputs\": [\"c\"]}\n",
                       m, n, k, o->trans_b ? " B[N,K]" : "", dt, dt, m, k, dt, o->trans_b ? n : k, o->trans_b ? k : n,
                       o->trans_b ? "true" : "false");
    struct ts_graph *g = NULL;
    TS_TRY(ts_graph_parse(text, (size_t)len, "<bench>", ".", false, &g, d));
    struct ts_pipeline_opts po = {.stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = vector_width};
    struct ts_program *p = NULL;
    enum ts_status st = ts_compile_program(g, &po, &fo, &p, d);
    if (st == TS_OK && (p->nkernels != 1 || p->kernels[0].kind != TS_KERNEL_GEMM))
        st = ts_diag_set(d, TS_ERR_UNSUPPORTED, "<bench>", g->name,
                         "fusion gave %d kernels, not one GEMM: the benchmark would time something else",
                         p->nkernels);
    if (st != TS_OK) {
        ts_graph_free(g);
        return st;
    }
    *out = p;
    return TS_OK;
}

void ts_bench_program_free(struct ts_program *p) {
    if (p) ts_graph_free((struct ts_graph *)(uintptr_t)p->graph);
}
