/* plan.c — turns a planned kernel program into the runtime's plan: plain data
 * (buffers, launches with their task counts and scratch, tensor descriptions)
 * that the runtime executes without knowing graphs or compilers, and that
 * `tessera compile` writes into artifacts. */
#include <string.h>

#include "autotune/autotune.h"

static void describe(const struct ts_graph *g, const struct ts_kbuffer *b, struct ts_rt_tensor *t) {
    const struct ts_value *v = &g->values[b->value];
    t->name = b->name;
    t->dtype = ts_dtype_name(b->dtype);
    t->rank = ts_value_dims(v, t->dims);
    t->nbytes = b->nbytes;
}

enum ts_status ts_plan_from_program(const struct ts_program *p, struct ts_rt_plan *plan,
                                    const void ***weights_out, struct ts_diag *d) {
    const struct ts_graph *g = p->graph;
    struct ts_arena *a = g->arena;
    memset(plan, 0, sizeof *plan);
    if (p->nbuffers > 0 && p->arena_bytes == 0) {
        for (int i = 0; i < p->nbuffers; i++)
            if (p->buffers[i].kind == TS_KBUF_TEMP && p->buffers[i].nbytes > 0)
                return ts_diag_set(d, TS_ERR_GRAPH, g->path, "plan",
                                   "the program has no memory plan (a tessera bug: run ts_pass_plan)");
    }
    plan->arena_bytes = p->arena_bytes;
    struct ts_rt_buffer *bufs = ts_arena_alloc(a, sizeof *bufs * (size_t)(p->nbuffers + 1));
    struct ts_rt_tensor *weights = ts_arena_alloc(a, sizeof *weights * (size_t)(p->nbuffers + 1));
    const void **wdata = ts_arena_alloc(a, sizeof *wdata * (size_t)(p->nbuffers + 1));
    const void **consts = ts_arena_alloc(a, sizeof *consts * (size_t)(p->nbuffers + 1));
    struct ts_rt_tensor *ins = ts_arena_alloc(a, sizeof *ins * (size_t)(g->ninputs + 1));
    struct ts_rt_tensor *outs = ts_arena_alloc(a, sizeof *outs * (size_t)(g->noutputs + 1));
    int nw = 0, nc = 0;
    for (int i = 0; i < p->nbuffers; i++) {
        const struct ts_kbuffer *b = &p->buffers[i];
        struct ts_rt_buffer *r = &bufs[i];
        r->nbytes = b->nbytes;
        switch (b->kind) {
        case TS_KBUF_INPUT:
            r->kind = TS_RT_BUF_INPUT;
            r->index = b->index;
            describe(g, b, &ins[b->index]);
            break;
        case TS_KBUF_OUTPUT:
            r->kind = TS_RT_BUF_OUTPUT;
            r->index = b->index;
            describe(g, b, &outs[b->index]);
            break;
        case TS_KBUF_WEIGHT:
            r->kind = TS_RT_BUF_WEIGHT;
            r->index = nw;
            describe(g, b, &weights[nw]);
            wdata[nw++] = b->data;
            break;
        case TS_KBUF_CONST:
            r->kind = TS_RT_BUF_CONST;
            r->index = nc;
            consts[nc++] = b->data;
            break;
        case TS_KBUF_TEMP:
            r->kind = TS_RT_BUF_ARENA;
            r->offset = b->offset;
            break;
        default:
            TS_ASSERT(!"unknown buffer kind");
        }
    }
    /* Graph inputs that no kernel reads still need a description. */
    for (int i = 0; i < g->ninputs; i++) {
        if (ins[i].name) continue;
        const struct ts_value *v = &g->values[g->inputs[i]];
        ins[i].name = v->name;
        ins[i].dtype = ts_dtype_name(v->dtype);
        ins[i].rank = ts_value_dims(v, ins[i].dims);
        ins[i].nbytes = (int64_t)ts_dtype_size(v->dtype) * ts_value_numel(v);
    }
    struct ts_rt_launch *ls = ts_arena_alloc(a, sizeof *ls * (size_t)(p->nkernels + 1));
    const char **names = ts_arena_alloc(a, sizeof *names * (size_t)(p->nkernels + 1));
    for (int i = 0; i < p->nkernels; i++) {
        const struct ts_kernel *k = &p->kernels[i];
        struct ts_rt_launch *l = &ls[i];
        int32_t *args = ts_arena_alloc(a, sizeof *args * (size_t)(k->ninputs + 1));
        for (int j = 0; j < k->ninputs; j++) args[j] = k->inputs[j].buffer;
        args[k->ninputs] = k->output.buffer;
        l->kernel = i;
        l->ntasks = ts_kernel_ntasks(k);
        l->scratch_bytes = ts_kernel_scratch_bytes(k);
        l->threads = ts_kernel_cpu_threads(k);
        l->nargs = k->ninputs + 1;
        l->args = args;
        l->errors = k->errors;
        l->nerrors = k->nerrors;
        names[i] = k->name;
    }
    plan->buffers = bufs;
    plan->nbuffers = p->nbuffers;
    plan->launches = ls;
    plan->nlaunches = p->nkernels;
    plan->kernel_names = names;
    plan->nkernels = p->nkernels;
    plan->inputs = ins;
    plan->ninputs = g->ninputs;
    plan->outputs = outs;
    plan->noutputs = g->noutputs;
    plan->weights = weights;
    plan->nweights = nw;
    plan->consts = consts;
    plan->nconsts = nc;
    if (weights_out) *weights_out = wdata;
    return TS_OK;
}
