/* gemm_program.c — one f32 GEMM, C[M,N] = A[M,K]·B with B stored [K,N] or
 * [N,K], as a whole kernel program: graph inputs a and b, output c, three
 * buffers and one kernel with the default CPU schedule, all in the graph's
 * arena. The benchmarks tune and time GEMMs this way, because the tuner
 * lifts each kernel out of a program together with its graph's names and
 * sizes (ts_tune_subprogram). */
#include <string.h>

#include "autotune/autotune.h"

enum ts_status ts_tune_gemm_program(int64_t m, int64_t n, int64_t k, bool trans_b, int vector_width,
                                    struct ts_program **out, struct ts_diag *d) {
    *out = NULL;
    if (m < 1 || n < 1 || k < 1)
        return ts_diag_set(d, TS_ERR_USAGE, "", "gemm", "dimensions must be positive, got %lldx%lldx%lld",
                           (long long)m, (long long)n, (long long)k);
    struct ts_graph *g = ts_graph_init("");
    struct ts_arena *a = g->arena;
    g->name = ts_arena_printf(a, "gemm %lldx%lldx%lld%s", (long long)m, (long long)n, (long long)k,
                              trans_b ? " B[N,K]" : "");
    struct ts_program *p = ts_arena_alloc(a, sizeof *p);
    p->graph = g;
    p->nbuffers = 3;
    p->buffers = ts_arena_alloc(a, 3 * sizeof *p->buffers);
    g->inputs = ts_arena_alloc(a, 2 * sizeof *g->inputs);
    g->outputs = ts_arena_alloc(a, sizeof *g->outputs);
    static const char *const names[3] = {"a", "b", "c"};
    int64_t shapes[3][2] = {{m, k}, {trans_b ? n : k, trans_b ? k : n}, {m, n}};
    for (int i = 0; i < 3; i++) {
        int id = -1;
        if (ts_graph_add_value(g, names[i], i < 2 ? TS_VALUE_INPUT : TS_VALUE_NODE, &id, d) != TS_OK) {
            ts_graph_free(g);
            return d->status;
        }
        ts_value_set_shape(&g->values[id], TS_F32, 2, shapes[i]);
        if (i < 2) g->inputs[g->ninputs++] = id;
        else g->outputs[g->noutputs++] = id;
        p->buffers[i] = (struct ts_kbuffer){.kind = i < 2 ? TS_KBUF_INPUT : TS_KBUF_OUTPUT,
                                            .name = g->values[id].name, .value = id, .dtype = TS_F32,
                                            .nbytes = shapes[i][0] * shapes[i][1] * 4, .index = i < 2 ? i : 0,
                                            .reuses = -1};
    }
    g->shaped = true;
    p->input_buffers = ts_arena_alloc(a, 2 * sizeof *p->input_buffers);
    p->input_buffers[0] = 0;
    p->input_buffers[1] = 1;
    p->output_buffers = ts_arena_alloc(a, sizeof *p->output_buffers);
    p->output_buffers[0] = 2;
    struct ts_koperand *ops = ts_arena_alloc(a, 2 * sizeof *ops);
    memset(ops, 0, 2 * sizeof *ops);
    ops[0] = (struct ts_koperand){.buffer = 0, .dtype = TS_F32, .strides = {k, 0}, .kstride = 1};
    ops[1] = (struct ts_koperand){.buffer = 1, .dtype = TS_F32};
    ops[1].strides[1] = trans_b ? k : 1;
    ops[1].kstride = trans_b ? 1 : n;
    p->kernels = ts_arena_alloc(a, sizeof *p->kernels);
    p->kernels[0] = (struct ts_kernel){.kind = TS_KERNEL_GEMM, .name = "gemm", .rank = 2, .dims = {m, n}, .k = k,
                                       .acc_type = TS_SCALAR_F32, .inputs = ops, .ninputs = 2,
                                       .output = {.buffer = 2, .dtype = TS_F32, .strides = {n, 1}},
                                       .out_root = -1};
    p->nkernels = 1;
    /* The default schedule: the tuner's candidate 0 too. */
    ts_sched_default_cpu(&p->kernels[0], vector_width);
    enum ts_status st = ts_program_check(p, d);
    if (st != TS_OK) {
        ts_graph_free(g);
        return st;
    }
    *out = p;
    return TS_OK;
}
