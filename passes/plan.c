/* plan.c — memory planning: every TEMP buffer gets a 64-byte aligned offset
 * in one arena. A buffer lives from the first kernel writing it to the last
 * kernel reading it (views name buffers directly, so a view keeps its buffer
 * alive); buffers whose lives overlap never share bytes, except that an
 * element-wise kernel may write its output over an input that dies there and
 * is read at exactly the output's index map ('reuses').
 *   k0 writes t0; k1 reads t0, writes t1; k2 reads t1, writes t2
 *     →  t0 @0, t1 @0 (reuses t0 in place), t2 @0 (reuses t1): arena = one buffer */
#include <stdlib.h>
#include <string.h>

#include "passes/internal.h"

static int64_t align64(int64_t x) { return (x + 63) & ~(int64_t)63; }

/* Operand o reads (or writes) exactly the elements the output writes, in the same order. */
static bool same_map(const struct ts_kernel *k, const struct ts_koperand *o) {
    const struct ts_koperand *w = &k->output;
    if (o->offset != w->offset || ts_dtype_size(o->dtype) != ts_dtype_size(w->dtype) || o->kstride ||
        o->gather_size || o->gather_stride)
        return false;
    for (int i = 0; i < k->rank; i++)
        if (o->strides[i] != w->strides[i] && k->dims[i] != 1) return false;
    return true;
}

static void liveness(struct ts_program *p) {
    for (int b = 0; b < p->nbuffers; b++) p->buffers[b].first = p->buffers[b].last = -1, p->buffers[b].reuses = -1;
    for (int t = 0; t < p->nkernels; t++) {
        const struct ts_kernel *k = &p->kernels[t];
        for (int i = 0; i <= k->ninputs; i++) {
            const struct ts_koperand *o = i < k->ninputs ? &k->inputs[i] : &k->output;
            struct ts_kbuffer *b = &p->buffers[o->buffer];
            if (b->kind != TS_KBUF_TEMP) continue;
            bool write = i == k->ninputs;
            if (write && (b->first < 0 || b->first > t)) b->first = t;
            if (b->last < t) b->last = t;
        }
    }
    for (int b = 0; b < p->nbuffers; b++) { /* read but never written: cannot happen; keep it sane */
        struct ts_kbuffer *kb = &p->buffers[b];
        if (kb->kind == TS_KBUF_TEMP && kb->first < 0) kb->first = kb->last < 0 ? 0 : kb->last;
        if (kb->kind == TS_KBUF_TEMP && kb->last < kb->first) kb->last = kb->first;
    }
}

/* In place: an element-wise kernel's output takes over an input's memory. */
static void in_place(struct ts_program *p, bool *taken) {
    for (int t = 0; t < p->nkernels; t++) {
        const struct ts_kernel *k = &p->kernels[t];
        bool elementwise = k->kind == TS_KERNEL_POINTWISE ||
                           (k->kind == TS_KERNEL_ROWWISE && ts_row_op_is_elementwise(k->row_op));
        struct ts_kbuffer *o = &p->buffers[k->output.buffer];
        if (!elementwise || o->kind != TS_KBUF_TEMP || o->first != t || o->reuses >= 0) continue;
        for (int i = 0; i < k->ninputs; i++) {
            int b = k->inputs[i].buffer;
            const struct ts_kbuffer *in = &p->buffers[b];
            if (b == k->output.buffer || in->kind != TS_KBUF_TEMP || in->last != t || taken[b] ||
                in->nbytes != o->nbytes)
                continue;
            bool ok = true;
            for (int j = 0; j < k->ninputs && ok; j++)
                if (k->inputs[j].buffer == b) ok = same_map(k, &k->inputs[j]);
            if (!ok) continue;
            o->reuses = b;
            taken[b] = true;
            break;
        }
    }
}

struct group {
    int64_t size;
    int first, last;
    int64_t offset;
    bool placed;
};

static int by_size(const void *a, const void *b) {
    const struct group *x = *(const struct group *const *)a, *y = *(const struct group *const *)b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return x->first - y->first;
}

struct span {
    int64_t lo, hi;
};
static int by_lo(const void *a, const void *b) {
    const struct span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Best fit among the gaps left by placed groups whose lives overlap g's. */
static int64_t place(struct group **order, int n, const struct group *g, struct span *spans) {
    int ns = 0;
    for (int i = 0; i < n; i++) {
        const struct group *o = order[i];
        if (!o->placed || o->size == 0 || o->last < g->first || o->first > g->last) continue;
        spans[ns++] = (struct span){o->offset, o->offset + o->size};
    }
    qsort(spans, (size_t)ns, sizeof *spans, by_lo);
    int64_t cursor = 0, best = -1, best_gap = INT64_MAX;
    for (int i = 0; i < ns; i++) {
        int64_t gap = spans[i].lo - cursor;
        if (gap >= g->size && gap < best_gap) best = cursor, best_gap = gap;
        if (align64(spans[i].hi) > cursor) cursor = align64(spans[i].hi);
    }
    return best >= 0 ? best : cursor;
}

enum ts_status ts_pass_plan(struct ts_program *p, struct ts_diag *d) {
    int nb = p->nbuffers;
    bool *taken = calloc((size_t)nb + 1, sizeof *taken);
    int *root = malloc(((size_t)nb + 1) * sizeof *root);
    struct group *groups = calloc((size_t)nb + 1, sizeof *groups);
    struct group **order = malloc(((size_t)nb + 1) * sizeof *order);
    struct span *spans = malloc(((size_t)nb + 1) * sizeof *spans);
    TS_ASSERT(taken && root && groups && order && spans);
    liveness(p);
    in_place(p, taken);
    /* A chain of in-place buffers is one group: one offset, the union of their lives. */
    int ng = 0;
    p->naive_bytes = 0;
    for (int b = 0; b < nb; b++) root[b] = -1;
    for (int b = 0; b < nb; b++) {
        if (p->buffers[b].kind != TS_KBUF_TEMP) continue;
        p->naive_bytes += p->buffers[b].nbytes;
        /* walk back to the chain's start (its buffer index may be larger) */
        int s = b;
        while (p->buffers[s].reuses >= 0 && root[s] < 0) s = p->buffers[s].reuses;
        if (root[s] < 0) {
            root[s] = ng;
            groups[ng++] = (struct group){align64(p->buffers[s].nbytes), p->buffers[s].first, p->buffers[s].last, 0,
                                          false};
        }
        int gi = root[s];
        for (int c = b; root[c] < 0; c = p->buffers[c].reuses) {
            root[c] = gi;
            struct group *g = &groups[gi];
            const struct ts_kbuffer *kb = &p->buffers[c];
            if (align64(kb->nbytes) > g->size) g->size = align64(kb->nbytes);
            if (kb->first < g->first) g->first = kb->first;
            if (kb->last > g->last) g->last = kb->last;
        }
    }
    for (int i = 0; i < ng; i++) order[i] = &groups[i];
    qsort(order, (size_t)ng, sizeof *order, by_size);
    int64_t arena = 0;
    for (int i = 0; i < ng; i++) {
        struct group *g = order[i];
        g->offset = g->size ? place(order, ng, g, spans) : 0;
        g->placed = true;
        if (g->offset + g->size > arena) arena = g->offset + g->size;
    }
    for (int b = 0; b < nb; b++)
        if (root[b] >= 0) p->buffers[b].offset = groups[root[b]].offset;
    p->arena_bytes = arena;
    free(taken);
    free(root);
    free(groups);
    free(order);
    free(spans);
    return ts_program_check(p, d);
}
