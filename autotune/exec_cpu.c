/* exec_cpu.c — a kernel program compiled for the CPU and bound to a runtime
 * session: the path `tessera run --target cpu`, the tests and the benchmarks
 * share (codegen → JIT → plan → session). */
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"

struct ts_cpu_exec {
    const struct ts_program *program;
    struct ts_cpu_code *code;
    ts_rt_kernel_fn *fns;
    struct ts_rt_plan plan;
    const void **weights;
    struct ts_rt_session *session;
    double compile_seconds;
};

void ts_cpu_exec_free(struct ts_cpu_exec *e) {
    if (!e) return;
    ts_rt_session_free(e->session);
    ts_cpu_code_free(e->code);
    free(e->fns);
    free(e);
}

enum ts_status ts_cpu_exec_init(const struct ts_program *p, const struct ts_cpu_exec_opts *o,
                                struct ts_cpu_exec **out, struct ts_diag *d) {
    static const struct ts_cpu_exec_opts defaults = {0};
    if (!o) o = &defaults;
    *out = NULL;
    struct ts_cpu_exec *e = calloc(1, sizeof *e);
    if (!e) return ts_diag_set(d, TS_ERR_NOMEM, p->graph->path, "", "out of memory");
    e->program = p;
    double t0 = ts_rt_now_seconds();
    struct ts_cpu_opts co = {.cpu = o->cpu, .opt_level = 3, .dump_ir = o->dump_ir};
    enum ts_status st = ts_cpu_codegen(p, &co, &e->code, d);
    void **addrs = NULL;
    if (st == TS_OK) {
        addrs = calloc((size_t)p->nkernels + 1, sizeof *addrs);
        e->fns = calloc((size_t)p->nkernels + 1, sizeof *e->fns);
        if (!addrs || !e->fns) st = ts_diag_set(d, TS_ERR_NOMEM, p->graph->path, "", "out of memory");
    }
    if (st == TS_OK) st = ts_cpu_code_jit(e->code, addrs, d);
    if (st == TS_OK) {
        /* A data pointer to a function pointer: the JIT hands out addresses. */
        for (int i = 0; i < p->nkernels; i++) memcpy(&e->fns[i], &addrs[i], sizeof e->fns[i]);
    }
    free(addrs);
    e->compile_seconds = ts_rt_now_seconds() - t0;
    if (st == TS_OK) st = ts_plan_from_program(p, &e->plan, &e->weights, d);
    if (st == TS_OK) {
        char err[512];
        if (ts_rt_session_init(&e->plan, e->fns, e->weights, o->threads, &e->session, err, sizeof err) != 0)
            st = ts_diag_set(d, TS_ERR_RUNTIME, p->graph->path, "runtime", "%s", err);
    }
    if (st != TS_OK) {
        ts_cpu_exec_free(e);
        return st;
    }
    *out = e;
    return TS_OK;
}

enum ts_status ts_cpu_exec_run_raw(struct ts_cpu_exec *e, const void *const *inputs, void *const *outputs,
                                   struct ts_diag *d) {
    char err[768];
    if (ts_rt_session_run(e->session, inputs, outputs, err, sizeof err) != 0)
        return ts_diag_set(d, TS_ERR_RUNTIME, e->program->graph->path, "", "%s", err);
    return TS_OK;
}

enum ts_status ts_cpu_exec_pin(struct ts_cpu_exec *e, struct ts_diag *d) {
    char err[256];
    if (ts_rt_session_pin(e->session, err, sizeof err) != 0)
        return ts_diag_set(d, TS_ERR_RUNTIME, e->program->graph->path, "", "%s", err);
    return TS_OK;
}

static enum ts_status run_raw(void *ctx, const void *const *inputs, void *const *outputs, struct ts_diag *d) {
    return ts_cpu_exec_run_raw(ctx, inputs, outputs, d);
}

enum ts_status ts_cpu_exec_run(struct ts_cpu_exec *e, const struct ts_tensor *inputs, struct ts_tensor *outputs,
                               struct ts_diag *d) {
    return ts_exec_run_tensors(e->program->graph, inputs, outputs, run_raw, e, d);
}

double ts_cpu_exec_compile_seconds(const struct ts_cpu_exec *e) { return e->compile_seconds; }
int ts_cpu_exec_threads(const struct ts_cpu_exec *e) { return ts_rt_session_threads(e->session); }
const struct ts_cpu_code *ts_cpu_exec_code(const struct ts_cpu_exec *e) { return e->code; }
