/* exec_cuda.c — a kernel program compiled for the GPU and bound to a CUDA
 * session: the path `tessera run --target cuda`, the tests and the benchmarks
 * share (probe → arch → CUDA C → NVRTC → plan with launch geometry →
 * session with the weights uploaded once). */
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"

struct ts_cuda_exec {
    const struct ts_program *program;
    struct ts_rt_cuda_info info;
    struct ts_cuda_code *code;
    const char **symbols;
    struct ts_rt_plan plan;
    const void **weights;
    struct ts_rt_cuda_session *session;
    double compile_seconds;
};

void ts_plan_set_cuda_launches(struct ts_rt_plan *plan, const struct ts_cuda_code *c) {
    /* ts_plan_from_program built the launches in the graph's arena: they are ours to fill. */
    struct ts_rt_launch *ls = (struct ts_rt_launch *)plan->launches;
    for (int i = 0; i < plan->nlaunches; i++) {
        struct ts_cuda_launch g;
        ts_cuda_code_launch(c, ls[i].kernel, &g);
        memcpy(ls[i].grid, g.grid, sizeof g.grid);
        memcpy(ls[i].block, g.block, sizeof g.block);
        ls[i].shared_bytes = g.shared_bytes;
        ls[i].workspace_bytes = g.workspace_bytes;
        ls[i].ntmaps = g.ntmaps;
        ls[i].persistent = g.persistent;
        /* Field by field: the two structs agree by contract, not by type. */
        for (int m = 0; m < TS_RT_MAX_TMAPS && m < TS_CUDA_MAX_TMAPS; m++) {
            struct ts_rt_tmap *t = &ls[i].tmaps[m];
            const struct ts_cuda_tmap *src = &g.tmaps[m];
            t->arg = src->arg, t->dtype = src->dtype, t->rank = src->rank, t->swizzle = src->swizzle;
            t->offset = src->offset;
            memcpy(t->dims, src->dims, sizeof t->dims);
            memcpy(t->strides, src->strides, sizeof t->strides);
            memcpy(t->box, src->box, sizeof t->box);
        }
    }
}

void ts_cuda_exec_free(struct ts_cuda_exec *e) {
    if (!e) return;
    ts_rt_cuda_session_free(e->session);
    ts_cuda_code_free(e->code);
    free(e->symbols);
    free(e);
}

enum ts_status ts_cuda_exec_init(const struct ts_program *p, const struct ts_cuda_exec_opts *o,
                                 struct ts_cuda_exec **out, struct ts_diag *d) {
    static const struct ts_cuda_exec_opts defaults = {0};
    if (!o) o = &defaults;
    *out = NULL;
    struct ts_cuda_exec *e = calloc(1, sizeof *e);
    if (!e) return ts_diag_set(d, TS_ERR_NOMEM, p->graph->path, "", "out of memory");
    e->program = p;
    char err[1024];
    /* The GPU first: without a driver or device nothing else is worth doing. */
    if (ts_rt_cuda_probe(o->device, &e->info, err, sizeof err) != 0) {
        ts_cuda_exec_free(e);
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "", "%s", err);
    }
    double t0 = ts_rt_now_seconds();
    struct ts_cuda_opts co = {
        .arch = o->arch ? o->arch : e->info.arch, .strict_f32 = o->strict_f32, .no_cache = o->no_cache,
        .cache_dir = o->cache_dir, .dump_source = o->dump_source,
    };
    enum ts_status st = ts_cuda_codegen(p, &co, &e->code, d);
    if (st == TS_OK) st = ts_cuda_code_compile(e->code, d);
    e->compile_seconds = ts_rt_now_seconds() - t0;
    if (st == TS_OK) st = ts_plan_from_program(p, &e->plan, &e->weights, d);
    if (st == TS_OK) {
        ts_plan_set_cuda_launches(&e->plan, e->code);
        e->symbols = calloc((size_t)p->nkernels + 1, sizeof *e->symbols);
        if (!e->symbols) st = ts_diag_set(d, TS_ERR_NOMEM, p->graph->path, "", "out of memory");
    }
    if (st == TS_OK) {
        for (int i = 0; i < p->nkernels; i++) e->symbols[i] = ts_cuda_code_symbol(e->code, i);
        struct ts_rt_cuda_image image = {.symbols = e->symbols};
        image.cubin = ts_cuda_code_cubin(e->code, &image.cubin_size);
        size_t ptx_size;
        image.ptx = ts_cuda_code_ptx(e->code, &ptx_size);
        if (ts_rt_cuda_session_init(&e->plan, &image, e->weights, o->device, &e->session, err, sizeof err) != 0)
            st = ts_diag_set(d, TS_ERR_RUNTIME, p->graph->path, "", "%s", err);
    }
    if (st != TS_OK) {
        ts_cuda_exec_free(e);
        return st;
    }
    *out = e;
    return TS_OK;
}

enum ts_status ts_cuda_exec_run_raw(struct ts_cuda_exec *e, const void *const *inputs, void *const *outputs,
                                    struct ts_diag *d) {
    char err[1024];
    if (ts_rt_cuda_session_run(e->session, inputs, outputs, err, sizeof err) != 0)
        return ts_diag_set(d, TS_ERR_RUNTIME, e->program->graph->path, "", "%s", err);
    return TS_OK;
}

static enum ts_status run_raw(void *ctx, const void *const *inputs, void *const *outputs, struct ts_diag *d) {
    return ts_cuda_exec_run_raw(ctx, inputs, outputs, d);
}

enum ts_status ts_cuda_exec_run(struct ts_cuda_exec *e, const struct ts_tensor *inputs, struct ts_tensor *outputs,
                                struct ts_diag *d) {
    return ts_exec_run_tensors(e->program->graph, inputs, outputs, run_raw, e, d);
}

enum ts_status ts_cuda_exec_time(struct ts_cuda_exec *e, int repeats, double *ms, struct ts_diag *d) {
    char err[1024];
    if (ts_rt_cuda_session_time(e->session, repeats, ms, err, sizeof err) != 0)
        return ts_diag_set(d, TS_ERR_RUNTIME, e->program->graph->path, "", "%s", err);
    return TS_OK;
}

double ts_cuda_exec_compile_seconds(const struct ts_cuda_exec *e) { return e->compile_seconds; }
const struct ts_cuda_code *ts_cuda_exec_code(const struct ts_cuda_exec *e) { return e->code; }
const struct ts_rt_cuda_info *ts_cuda_exec_device(const struct ts_cuda_exec *e) { return &e->info; }
