/* subprogram.c — one kernel of a program lifted out as a program of its own,
 * so that it can be compiled, run and timed alone: each distinct buffer it
 * reads becomes a 1-D graph input, the buffer it writes the one output, and
 * the kernel keeps its index maps, expression and schedule. */
#include <string.h>

#include "autotune/autotune.h"

static const char *dup_str(struct ts_arena *a, const char *s) { return s ? ts_arena_strdup(a, s) : NULL; }

static const char **dup_strs(struct ts_arena *a, const char *const *s, int n) {
    if (n <= 0 || !s) return NULL;
    const char **r = ts_arena_alloc(a, sizeof *r * (size_t)n);
    for (int i = 0; i < n; i++) r[i] = dup_str(a, s[i]);
    return r;
}

/* A value named 'want' if free, else 'want#N': buffer names are value names
 * of the original graph and unique there, but the output's ".out" twin or an
 * odd program could still collide. */
static int add_value(struct ts_graph *g, const char *want, enum ts_value_kind kind, enum ts_dtype dt,
                     int64_t numel, struct ts_diag *d) {
    char name[512];
    snprintf(name, sizeof name, "%s", want);
    for (int n = 2; ts_graph_find_value(g, name) >= 0; n++) snprintf(name, sizeof name, "%s#%d", want, n);
    int id = -1;
    if (ts_graph_add_value(g, name, kind, &id, d) != TS_OK) return -1;
    ts_value_set_shape(&g->values[id], dt, 1, &numel);
    return id;
}

enum ts_status ts_tune_subprogram(const struct ts_program *p, int kernel, struct ts_program **out,
                                  struct ts_diag *d) {
    *out = NULL;
    const struct ts_graph *pg = p->graph;
    if (kernel < 0 || kernel >= p->nkernels)
        return ts_diag_set(d, TS_ERR_USAGE, pg->path, "", "kernel %d out of range [0, %d)", kernel, p->nkernels);
    const struct ts_kernel *k = &p->kernels[kernel];
    struct ts_graph *g = ts_graph_init(pg->path ? pg->path : "");
    struct ts_arena *a = g->arena;
    g->name = ts_arena_printf(a, "%s: kernel %s", pg->name ? pg->name : "", k->name ? k->name : "?");
    /* Distinct buffers read, in first-use order; map[old buffer] = new index + 1. */
    int *map = ts_arena_alloc(a, sizeof *map * (size_t)(p->nbuffers + 1));
    int *read = ts_arena_alloc(a, sizeof *read * (size_t)(k->ninputs + 1));
    int nread = 0;
    for (int i = 0; i < k->ninputs; i++) {
        int b = k->inputs[i].buffer;
        TS_ASSERT(b >= 0 && b < p->nbuffers);
        if (!map[b]) {
            read[nread] = b;
            map[b] = ++nread;
        }
    }
    int nb = nread + 1;
    struct ts_kbuffer *bufs = ts_arena_alloc(a, sizeof *bufs * (size_t)nb);
    g->inputs = ts_arena_alloc(a, sizeof *g->inputs * (size_t)(nread + 1));
    g->outputs = ts_arena_alloc(a, sizeof *g->outputs);
    enum ts_status st = TS_OK;
    for (int i = 0; i < nread && st == TS_OK; i++) {
        const struct ts_kbuffer *ob = &p->buffers[read[i]];
        int64_t numel = ob->nbytes / (int64_t)ts_dtype_size(ob->dtype);
        int id = add_value(g, ob->name ? ob->name : "in", TS_VALUE_INPUT, ob->dtype, numel, d);
        if (id < 0) st = d->status;
        g->inputs[g->ninputs++] = id;
        struct ts_kbuffer *b = &bufs[i];
        b->kind = TS_KBUF_INPUT;
        b->name = id >= 0 ? g->values[id].name : "";
        b->value = id;
        b->dtype = ob->dtype;
        b->nbytes = ob->nbytes;
        b->index = i;
        b->reuses = -1;
    }
    /* The output is never one of the inputs: where the kernel also reads the
     * buffer it writes, it is an element-wise kernel planned in place, and
     * reading the input copy gives the same values. */
    const struct ts_kbuffer *wb = &p->buffers[k->output.buffer];
    if (st == TS_OK) {
        char name[512];
        snprintf(name, sizeof name, "%s%s", wb->name ? wb->name : "out", map[k->output.buffer] ? ".out" : "");
        int id = add_value(g, name, TS_VALUE_NODE, wb->dtype, wb->nbytes / (int64_t)ts_dtype_size(wb->dtype), d);
        if (id < 0) st = d->status;
        g->outputs[0] = id;
        g->noutputs = 1;
        struct ts_kbuffer *b = &bufs[nread];
        b->kind = TS_KBUF_OUTPUT;
        b->name = id >= 0 ? g->values[id].name : "";
        b->value = id;
        b->dtype = wb->dtype;
        b->nbytes = wb->nbytes;
        b->index = 0;
        b->reuses = -1;
    }
    if (st != TS_OK) {
        ts_graph_free(g);
        return st;
    }
    g->shaped = true;

    /* The kernel, schedule included, with every array in the new arena. */
    struct ts_kernel *nk = ts_arena_alloc(a, sizeof *nk);
    *nk = *k;
    nk->name = dup_str(a, k->name);
    nk->inputs = ts_arena_alloc(a, sizeof *nk->inputs * (size_t)(k->ninputs + 1));
    for (int i = 0; i < k->ninputs; i++) {
        nk->inputs[i] = k->inputs[i];
        nk->inputs[i].buffer = map[k->inputs[i].buffer] - 1;
    }
    nk->output.buffer = nread;
    nk->expr = ts_arena_alloc(a, sizeof *nk->expr * (size_t)(k->nexpr + 1));
    if (k->nexpr > 0) memcpy(nk->expr, k->expr, sizeof *nk->expr * (size_t)k->nexpr);
    nk->absorbed = dup_strs(a, k->absorbed, k->nabsorbed);
    nk->errors = dup_strs(a, k->errors, k->nerrors);

    struct ts_program *np = ts_arena_alloc(a, sizeof *np);
    np->graph = g;
    np->buffers = bufs;
    np->nbuffers = nb;
    np->kernels = nk;
    np->nkernels = 1;
    np->input_buffers = ts_arena_alloc(a, sizeof *np->input_buffers * (size_t)(nread + 1));
    for (int i = 0; i < nread; i++) np->input_buffers[i] = i;
    np->output_buffers = ts_arena_alloc(a, sizeof *np->output_buffers);
    np->output_buffers[0] = nread;
    st = ts_program_check(np, d);
    if (st != TS_OK) {
        ts_graph_free(g);
        return st;
    }
    *out = np;
    return TS_OK;
}
