/* fuse.c — fusion: groups the nodes of a shaped graph into kernels and walks
 * them in order, emitting each group's kernel at its root (its last node).
 * A GEMM, ATTENTION or ROWWISE node takes the chain of single-use element-wise
 * nodes after it as its epilogue; an element-wise node (or gather) whose one
 * consumer is element-wise, or a rowwise op's x, is inlined there; movement
 * ops are views (fuse_views.c).
 *   %y = matmul(%x, %w)  %z = add(%y, %b)  %o = gelu(%z)   →  k0_gemm (absorbs 3 nodes)
 *   %s = add(%a, %r)  %n = layernorm(%s, %g, %c)          →  k1_rowwise (absorbs 2) */
#include <stdlib.h>
#include <string.h>

#include "passes/internal.h"

int ts_fuse_value_rank(const struct ts_graph *g, int v, int64_t *dims) {
    return ts_value_dims(&g->values[v], dims);
}

const char *ts_fuse_node_where(const struct ts_graph *g, int node, char *buf, size_t size) {
    const struct ts_node *n = &g->nodes[node];
    return ts_node_where(n->name, n->named, n->op, buf, size);
}

_Static_assert(TS_OP_GELU - TS_OP_ADD == 18, "the element-wise ops are ADD … GELU in ops.def");
bool ts_fuse_is_elementwise(enum ts_op op) {
    return (op >= TS_OP_ADD && op <= TS_OP_GELU) || op == TS_OP_CAST || op == TS_OP_WHERE || op == TS_OP_IOTA;
}

bool ts_fuse_axis_norm(int64_t axis, int rank, int *out) {
    if (axis < -(int64_t)rank || axis >= rank) return false;
    *out = (int)(axis < 0 ? axis + rank : axis);
    return true;
}

static bool is_rowwise(enum ts_op op) {
    return op == TS_OP_SOFTMAX || op == TS_OP_LAYERNORM || op == TS_OP_RMSNORM || op == TS_OP_REDUCE_SUM ||
           op == TS_OP_REDUCE_MEAN || op == TS_OP_REDUCE_MAX;
}

static bool is_heavy(enum ts_op op) {
    return op == TS_OP_MATMUL || op == TS_OP_ATTENTION || is_rowwise(op);
}

int ts_fuse_add_buffer(struct ts_fuse *f, enum ts_kbuffer_kind kind, int value, int index) {
    if (f->nbuffers == f->cap_buffers) {
        f->cap_buffers = f->cap_buffers ? 2 * f->cap_buffers : 32;
        f->buffers = realloc(f->buffers, (size_t)f->cap_buffers * sizeof *f->buffers);
        TS_ASSERT(f->buffers != NULL);
    }
    const struct ts_value *v = &f->g->values[value];
    struct ts_kbuffer *b = &f->buffers[f->nbuffers];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->name = v->name;
    b->value = value;
    b->dtype = v->dtype;
    b->nbytes = ts_value_numel(v) * (int64_t)ts_dtype_size(v->dtype);
    b->index = index;
    b->data = kind == TS_KBUF_WEIGHT || kind == TS_KBUF_CONST ? v->data : NULL;
    b->first = b->last = -1;
    b->reuses = -1;
    return f->nbuffers++;
}

/* ---- grouping ------------------------------------------------------------ */

static bool same_dims(const struct ts_graph *g, int a, int b) {
    int64_t da[TS_MAX_RANK], db[TS_MAX_RANK];
    int ra = ts_fuse_value_rank(g, a, da), rb = ts_fuse_value_rank(g, b, db);
    return ra == rb && memcmp(da, db, (size_t)ra * sizeof da[0]) == 0;
}

static void group(struct ts_fuse *f) {
    const struct ts_graph *g = f->g;
    int nn = g->nnodes;
    for (int i = 0; i < nn; i++) f->next[i] = -1, f->heavy[i] = -1;
    if (!f->o->no_fusion) {
        int *claimed = malloc((size_t)(nn + 1) * sizeof *claimed);
        TS_ASSERT(claimed != NULL);
        for (int i = 0; i < nn; i++) claimed[i] = -1;
        /* Epilogues: the heavy node's output flows through single-use
         * element-wise nodes of the same shape. */
        for (int i = 0; i < nn; i++) {
            if (!is_heavy(g->nodes[i].op)) continue;
            int cur = i;
            for (;;) {
                int v = g->nodes[cur].outputs[0], c = f->consumer[v];
                if (f->uses[v] != 1 || c < 0 || !ts_fuse_is_elementwise(g->nodes[c].op) || claimed[c] >= 0 ||
                    !same_dims(g, g->nodes[c].outputs[0], g->nodes[i].outputs[0]))
                    break;
                f->next[cur] = c;
                claimed[c] = i;
                cur = c;
            }
        }
        /* Element-wise trees: inlined into an element-wise consumer of the same
         * size (no recomputation under broadcast), or a rowwise op's x. */
        for (int i = 0; i < nn; i++) {
            const struct ts_node *n = &g->nodes[i];
            if ((!ts_fuse_is_elementwise(n->op) && n->op != TS_OP_GATHER) || claimed[i] >= 0) continue;
            int v = n->outputs[0], c = f->consumer[v];
            if (f->uses[v] != 1 || c < 0) continue;
            const struct ts_node *cn = &g->nodes[c];
            if (ts_fuse_is_elementwise(cn->op) && ts_value_numel(&g->values[cn->outputs[0]]) == ts_value_numel(&g->values[v]))
                f->next[i] = c;
            else if (is_rowwise(cn->op) && cn->inputs[0] == v)
                f->next[i] = c;
        }
        free(claimed);
    }
    for (int i = nn - 1; i >= 0; i--) f->owner[i] = f->next[i] < 0 ? i : f->owner[f->next[i]];
    for (int i = 0; i < nn; i++)
        if (is_heavy(g->nodes[i].op)) f->heavy[f->owner[i]] = i;
}

/* ---- emission ------------------------------------------------------------ */

static void emit_group(struct ts_fuse *f, int root) {
    const struct ts_graph *g = f->g;
    int h = f->heavy[root];
    enum ts_kernel_kind kind = TS_KERNEL_POINTWISE;
    if (h >= 0) {
        enum ts_op op = g->nodes[h].op;
        kind = op == TS_OP_MATMUL ? TS_KERNEL_GEMM : op == TS_OP_ATTENTION ? TS_KERNEL_ATTENTION : TS_KERNEL_ROWWISE;
    }
    struct ts_kb kb;
    ts_kb_init(&kb, f, kind, root);
    kb.heavy = h;
    for (int i = 0; i <= root; i++)
        if (f->owner[i] == root) ts_kb_absorb(&kb, g->nodes[i].name);
    int v = g->nodes[root].outputs[0];
    ts_fuse_dest(f, v);
    int64_t dims[TS_MAX_RANK];
    int rank = ts_fuse_value_rank(g, v, dims), axis[TS_MAX_RANK];
    for (int i = 0; i < TS_MAX_RANK; i++) axis[i] = i;
    switch (kind) {
    case TS_KERNEL_POINTWISE:
        kb.k.rank = rank;
        memcpy(kb.k.dims, dims, sizeof dims);
        break;
    case TS_KERNEL_GEMM: ts_fuse_gemm(&kb, h); break;
    case TS_KERNEL_ATTENTION: ts_fuse_attention(&kb, h); break;
    default: ts_fuse_rowwise(&kb, h, axis); break;
    }
    int e = ts_kb_value(&kb, v, axis);
    ts_kb_finish(&kb, v, axis, e);
}

/* Graph outputs end contiguous in their OUTPUT buffers. */
static void finish_outputs(struct ts_fuse *f) {
    const struct ts_graph *g = f->g;
    for (int i = 0; i < g->noutputs; i++) {
        int u = g->outputs[i], ob = f->output_buffers[i];
        const struct ts_fview *have = &f->views[u];
        TS_ASSERT(have->ready);
        if (have->buffer == ob && have->offset == 0 && ts_fuse_view_is_contiguous(f, u)) continue;
        int64_t dims[TS_MAX_RANK];
        int rank = ts_fuse_value_rank(g, u, dims);
        struct ts_fview dst = {.ready = true, .buffer = ob};
        ts_shape_strides(rank, dims, dst.strides);
        ts_fuse_copy(f, u, have, &dst, rank, dims, NULL);
    }
}

static void *arena_copy(struct ts_arena *a, const void *p, size_t bytes) {
    void *q = ts_arena_alloc(a, bytes ? bytes : 1);
    if (bytes) memcpy(q, p, bytes);
    return q;
}

enum ts_status ts_pass_fuse(const struct ts_graph *g, const struct ts_fuse_opts *o, struct ts_program **out,
                            struct ts_diag *d) {
    static const struct ts_fuse_opts defaults = {.vector_width = 8};
    *out = NULL;
    if (!g->shaped)
        return ts_diag_set(d, TS_ERR_GRAPH, g->path, "", "fusion needs a shaped graph (run the shapes pass first)");
    struct ts_fuse f;
    memset(&f, 0, sizeof f);
    f.g = g;
    f.o = o ? o : &defaults;
    f.d = d;
    int nv = g->nvalues, nn = g->nnodes;
    f.views = calloc((size_t)nv + 1, sizeof *f.views);
    f.uses = calloc((size_t)nv + 1, sizeof *f.uses);
    f.consumer = calloc((size_t)nv + 1, sizeof *f.consumer);
    f.next = calloc((size_t)nn + 1, sizeof *f.next);
    f.owner = calloc((size_t)nn + 1, sizeof *f.owner);
    f.heavy = calloc((size_t)nn + 1, sizeof *f.heavy);
    f.input_buffers = ts_arena_alloc(g->arena, (size_t)(g->ninputs + 1) * sizeof(int));
    f.output_buffers = ts_arena_alloc(g->arena, (size_t)(g->noutputs + 1) * sizeof(int));
    TS_ASSERT(f.views && f.uses && f.consumer && f.next && f.owner && f.heavy);

    for (int v = 0; v < nv; v++) f.consumer[v] = -1;
    for (int i = 0; i < nn; i++) {
        const struct ts_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            int v = n->inputs[k];
            if (v < 0) continue;
            f.uses[v]++;
            f.consumer[v] = i;
        }
    }
    for (int i = 0; i < g->noutputs; i++) f.uses[g->outputs[i]]++;
    for (int v = 0; v < nv; v++)
        if (f.uses[v] != 1) f.consumer[v] = -1; /* an output slot alone is no consumer */
    for (int i = 0; i < g->noutputs; i++) f.consumer[g->outputs[i]] = -1;

    /* Buffers: inputs and outputs in the graph's order, then weights and constants that are read. */
    for (int i = 0; i < g->ninputs; i++) {
        f.input_buffers[i] = ts_fuse_add_buffer(&f, TS_KBUF_INPUT, g->inputs[i], i);
        ts_fuse_view_contiguous(&f, g->inputs[i], f.input_buffers[i], 0);
    }
    for (int i = 0; i < g->noutputs; i++) f.output_buffers[i] = ts_fuse_add_buffer(&f, TS_KBUF_OUTPUT, g->outputs[i], i);
    for (int v = 0; v < nv; v++) {
        const struct ts_value *val = &g->values[v];
        if (val->removed || !f.uses[v] || (val->kind != TS_VALUE_WEIGHT && val->kind != TS_VALUE_CONSTANT)) continue;
        int b = ts_fuse_add_buffer(&f, val->kind == TS_VALUE_WEIGHT ? TS_KBUF_WEIGHT : TS_KBUF_CONST, v, -1);
        ts_fuse_view_contiguous(&f, v, b, 0);
    }

    group(&f);
    for (int i = 0; i < nn; i++) {
        if (f.owner[i] != i) continue;
        switch (g->nodes[i].op) {
        case TS_OP_TRANSPOSE:
        case TS_OP_RESHAPE:
        case TS_OP_SLICE:
        case TS_OP_SPLIT: ts_fuse_movement(&f, i); break;
        case TS_OP_CONCAT: ts_fuse_concat(&f, i); break;
        case TS_OP_ROPE: ts_fuse_rope(&f, i); break;
        default: emit_group(&f, i); break;
        }
    }
    finish_outputs(&f);

    struct ts_program *p = ts_arena_alloc(g->arena, sizeof *p);
    p->graph = g;
    p->buffers = arena_copy(g->arena, f.buffers, (size_t)f.nbuffers * sizeof *f.buffers);
    p->nbuffers = f.nbuffers;
    p->kernels = arena_copy(g->arena, f.kernels, (size_t)f.nkernels * sizeof *f.kernels);
    p->nkernels = f.nkernels;
    p->input_buffers = f.input_buffers;
    p->output_buffers = f.output_buffers;
    for (int b = 0; b < p->nbuffers; b++)
        if (p->buffers[b].kind == TS_KBUF_TEMP) p->naive_bytes += p->buffers[b].nbytes;
    free(f.views);
    free(f.uses);
    free(f.consumer);
    free(f.next);
    free(f.owner);
    free(f.heavy);
    free(f.buffers);
    free(f.kernels);
    TS_TRY(ts_program_check(p, d));
    *out = p;
    return TS_OK;
}
