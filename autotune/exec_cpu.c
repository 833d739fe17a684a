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

enum ts_status ts_cpu_exec_run(struct ts_cpu_exec *e, const struct ts_tensor *inputs, struct ts_tensor *outputs,
                               struct ts_diag *d) {
    const struct ts_graph *g = e->program->graph;
    for (int i = 0; i < g->ninputs; i++) TS_TRY(ts_graph_check_input(g, i, &inputs[i], d));
    const void **in = calloc((size_t)g->ninputs + 1, sizeof *in);
    void **outp = calloc((size_t)g->noutputs + 1, sizeof *outp);
    enum ts_status st = TS_OK;
    if (!in || !outp) st = ts_diag_set(d, TS_ERR_NOMEM, g->path, "", "out of memory");
    for (int i = 0; st == TS_OK && i < g->ninputs; i++) in[i] = inputs[i].data;
    int made = 0;
    for (; st == TS_OK && made < g->noutputs; made++) {
        const struct ts_value *v = &g->values[g->outputs[made]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        st = ts_tensor_alloc(&outputs[made], v->dtype, rank, dims, v->name, d);
        if (st == TS_OK) outp[made] = outputs[made].data;
    }
    if (st == TS_OK) st = ts_cpu_exec_run_raw(e, in, outp, d);
    if (st != TS_OK)
        for (int i = 0; i < made; i++) ts_tensor_release(&outputs[i]);
    free(in);
    free(outp);
    return st;
}

double ts_cpu_exec_compile_seconds(const struct ts_cpu_exec *e) { return e->compile_seconds; }
int ts_cpu_exec_threads(const struct ts_cpu_exec *e) { return ts_rt_session_threads(e->session); }
const struct ts_cpu_code *ts_cpu_exec_code(const struct ts_cpu_exec *e) { return e->code; }
