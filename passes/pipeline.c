/* pipeline.c — the pass pipeline as one flat list, and the pass names that
 * `tessera inspect --dump` accepts. */
#include <string.h>

#include "passes/passes.h"

static const char *const pass_names[TS_PASS_COUNT] = {
#define X(id, name, what) name,
    TS_PASS_LIST(X)
#undef X
};
static const char *const pass_whats[TS_PASS_COUNT] = {
#define X(id, name, what) what,
    TS_PASS_LIST(X)
#undef X
};

const char *ts_pass_name(enum ts_pass_id p) {
    TS_ASSERT(p >= 0 && p < TS_PASS_COUNT);
    return pass_names[p];
}

const char *ts_pass_description(enum ts_pass_id p) {
    TS_ASSERT(p >= 0 && p < TS_PASS_COUNT);
    return pass_whats[p];
}

bool ts_pass_from_name(const char *name, enum ts_pass_id *out) {
    for (int i = 0; i < TS_PASS_COUNT; i++) {
        if (strcmp(name, pass_names[i]) == 0) {
            *out = (enum ts_pass_id)i;
            return true;
        }
    }
    return false;
}

/* After a pass: print the graph if asked; report whether to stop here. */
static bool after_pass(struct ts_graph *g, enum ts_pass_id p, const struct ts_pipeline_opts *o) {
    if (o->dump_mask & (1u << p)) {
        FILE *f = o->dump ? o->dump : stdout;
        fprintf(f, "; after %s (%s)\n", pass_names[p], pass_whats[p]);
        ts_graph_print(g, f);
    }
    return o->stop_after == (unsigned)p;
}

#define PASS(id, call)                                                                  \
    do {                                                                                \
        TS_TRY(call);                                                                   \
        if (after_pass(g, id, o)) return TS_OK;                                         \
    } while (0)

enum ts_status ts_pipeline_run(struct ts_graph *g, const struct ts_pipeline_opts *opts, struct ts_diag *d) {
    static const struct ts_pipeline_opts defaults = {.stop_after = TS_PASS_COUNT};
    const struct ts_pipeline_opts *o = opts ? opts : &defaults;
    PASS(TS_PASS_VERIFY, ts_pass_verify(g, d));
    PASS(TS_PASS_SHAPES, ts_pass_shapes(g, o->binds, o->nbinds, d));
    PASS(TS_PASS_FOLD, ts_pass_fold(g, d));
    PASS(TS_PASS_CSE, ts_pass_cse(g, d));
    PASS(TS_PASS_SIMPLIFY, ts_pass_simplify(g, d));
    PASS(TS_PASS_DCE, ts_pass_dce(g, d));
    return TS_OK;
}

/* The whole compilation up to the kernel program: every pass, then fusion
 * and memory planning, printing the program after either when asked. */
enum ts_status ts_compile_program(struct ts_graph *g, const struct ts_pipeline_opts *opts,
                                  const struct ts_fuse_opts *fo, struct ts_program **out, struct ts_diag *d) {
    struct ts_pipeline_opts o = {.stop_after = TS_PASS_COUNT};
    if (opts) o = *opts;
    o.stop_after = TS_PASS_COUNT; /* fusion needs the whole pipeline */
    FILE *f = o.dump ? o.dump : stdout;
    struct ts_program *p = NULL;
    *out = NULL;
    TS_TRY(ts_pipeline_run(g, &o, d));
    TS_TRY(ts_pass_fuse(g, fo, &p, d));
    if (o.dump_mask & TS_DUMP_FUSE) {
        fprintf(f, "; after fuse (group nodes into kernels)\n");
        ts_program_print(p, f);
    }
    TS_TRY(ts_pass_plan(p, d));
    if (o.dump_mask & TS_DUMP_PLAN) {
        fprintf(f, "; after plan (offsets of intermediate buffers in one arena)\n");
        ts_program_print_plan(p, f);
    }
    *out = p;
    return TS_OK;
}
