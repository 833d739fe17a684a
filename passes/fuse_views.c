/* fuse_views.c — value layouts for fusion: where each graph value lives
 * (buffer, offset, strides), the views that transpose, slice, split and
 * reshape make without a kernel, and the layout a root kernel writes, chosen
 * by its consumers so that the head merge after attention, a GEMM feeding a
 * transpose or a concat's parts need no copy.
 *   %t = transpose(%y, [0,2,1,3])  →  %y written with permuted strides; %t is a view */
#include <stdlib.h>
#include <string.h>

#include "passes/internal.h"

void ts_fuse_view_contiguous(struct ts_fuse *f, int v, int buffer, int64_t offset) {
    int64_t dims[TS_MAX_RANK];
    int rank = ts_fuse_value_rank(f->g, v, dims);
    struct ts_fview *w = &f->views[v];
    memset(w, 0, sizeof *w);
    w->ready = true;
    w->buffer = buffer;
    w->offset = offset;
    ts_shape_strides(rank, dims, w->strides);
}

/* Row-major over the dims that matter (size-1 dims may have any stride). */
static bool strides_contiguous(int rank, const int64_t *dims, const int64_t *strides) {
    int64_t want = 1;
    for (int i = rank - 1; i >= 0; i--) {
        if (dims[i] == 1) continue;
        if (dims[i] == 0) return true;
        if (strides[i] != want) return false;
        want *= dims[i];
    }
    return true;
}

bool ts_fuse_view_is_contiguous(const struct ts_fuse *f, int v) {
    int64_t dims[TS_MAX_RANK];
    int rank = ts_fuse_value_rank(f->g, v, dims);
    return strides_contiguous(rank, dims, f->views[v].strides);
}

/* Two views of one value's dims name the same elements. */
static bool same_view(const struct ts_fview *a, const struct ts_fview *b, int rank, const int64_t *dims) {
    if (a->buffer != b->buffer || a->offset != b->offset) return false;
    for (int i = 0; i < rank; i++)
        if (dims[i] > 1 && a->strides[i] != b->strides[i]) return false;
    return true;
}

/* numpy's no-copy reshape (attempt_nocopy_reshape): runs of old dims that are
 * contiguous among themselves map onto runs of new dims with the same product. */
bool ts_fuse_reshape_strides(int rank, const int64_t *dims, const int64_t *strides, int nrank,
                             const int64_t *ndims, int64_t *nstrides) {
    int64_t od[TS_MAX_RANK], os[TS_MAX_RANK], numel = 1;
    int on = 0;
    for (int i = 0; i < rank; i++) {
        numel *= dims[i];
        if (dims[i] != 1) od[on] = dims[i], os[on++] = strides[i];
    }
    for (int i = 0; i < nrank; i++) nstrides[i] = 0;
    if (numel == 0) { /* nothing is ever read: row-major strides keep the checker's bounds simple */
        ts_shape_strides(nrank, ndims, nstrides);
        for (int i = 0; i < nrank; i++) nstrides[i] = 0;
        return true;
    }
    int oi = 0, oj = 1, ni = 0, nj = 1;
    while (ni < nrank && oi < on) {
        if (ndims[ni] == 1) { /* a new dim of 1 takes no part in the runs */
            nstrides[ni] = 0;
            ni++, nj = ni + 1;
            continue;
        }
        int64_t np = ndims[ni], op = od[oi];
        while (np != op) {
            if (np < op) {
                if (nj >= nrank) return false;
                np *= ndims[nj++];
            } else {
                if (oj >= on) return false;
                op *= od[oj++];
            }
        }
        for (int k = oi; k < oj - 1; k++)
            if (os[k] != od[k + 1] * os[k + 1]) return false;
        nstrides[nj - 1] = os[oj - 1];
        for (int k = nj - 1; k > ni; k--) nstrides[k - 1] = nstrides[k] * ndims[k];
        ni = nj++;
        oi = oj++;
    }
    return true;
}

/* The view of w = reshape(v) from v's view, if the layout allows one. */
static bool reshape_view(const struct ts_fuse *f, int v, int w, struct ts_fview *out) {
    int64_t vd[TS_MAX_RANK], wd[TS_MAX_RANK];
    int vr = ts_fuse_value_rank(f->g, v, vd), wr = ts_fuse_value_rank(f->g, w, wd);
    const struct ts_fview *src = &f->views[v];
    *out = *src;
    return ts_fuse_reshape_strides(vr, vd, src->strides, wr, wd, out->strides);
}

static void perm_of(const struct ts_node *n, int rank, int *perm) {
    const struct ts_attr *p = ts_node_attr(n, "perm");
    for (int i = 0; i < rank; i++) {
        bool ok = ts_fuse_axis_norm(p->ints[i], rank, &perm[i]);
        TS_ASSERT(ok); /* the shape rule checked it */
    }
}

/* Python slice bounds, as ops_movement.c computes them. */
static void slice_range(int64_t len, int64_t start, int64_t end, int64_t step, int64_t *first) {
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? len : len - 1;
    if (start < 0) start = start + len < lo ? lo : start + len;
    else if (start > hi) start = hi;
    (void)end;
    *first = start;
}

void ts_fuse_dest(struct ts_fuse *f, int v) {
    struct ts_fview *vw = &f->views[v];
    if (vw->ready) return;
    const struct ts_graph *g = f->g;
    for (int i = 0; i < g->noutputs; i++) {
        if (g->outputs[i] == v) {
            ts_fuse_view_contiguous(f, v, f->output_buffers[i], 0);
            return;
        }
    }
    int64_t vd[TS_MAX_RANK];
    int vr = ts_fuse_value_rank(g, v, vd);
    if (f->uses[v] == 1 && f->consumer[v] >= 0) {
        const struct ts_node *c = &g->nodes[f->consumer[v]];
        int w = c->outputs[0];
        if (c->op == TS_OP_TRANSPOSE) {
            /* w[i] is v's dim perm[i]: v takes w's strides, permuted back. */
            ts_fuse_dest(f, w);
            int perm[TS_MAX_RANK];
            perm_of(c, vr, perm);
            struct ts_fview nv = f->views[w];
            for (int i = 0; i < vr; i++) nv.strides[perm[i]] = f->views[w].strides[i];
            *vw = nv;
            return;
        }
        if (c->op == TS_OP_RESHAPE) {
            /* Tentatively: if w's place cannot be seen with v's shape (a head
             * split written transposed), forget it; v gets a TEMP and the
             * reshape and what follows stay views of it. */
            size_t bytes = (size_t)g->nvalues * sizeof *f->views;
            struct ts_fview *saved = malloc(bytes);
            TS_ASSERT(saved != NULL);
            memcpy(saved, f->views, bytes);
            int saved_nbuffers = f->nbuffers;
            ts_fuse_dest(f, w);
            int64_t wd[TS_MAX_RANK];
            int wr = ts_fuse_value_rank(g, w, wd);
            struct ts_fview nv = f->views[w];
            bool ok = ts_fuse_reshape_strides(wr, wd, f->views[w].strides, vr, vd, nv.strides);
            if (ok) {
                *vw = nv;
            } else {
                memcpy(f->views, saved, bytes);
                f->nbuffers = saved_nbuffers;
            }
            free(saved);
            if (ok) return;
        }
        if (c->op == TS_OP_CONCAT) {
            ts_fuse_dest(f, w);
            int ax;
            bool ok = ts_fuse_axis_norm(ts_node_attr(c, "axis")->i, vr, &ax);
            TS_ASSERT(ok);
            int64_t start = 0;
            for (int i = 0; i < c->ninputs && c->inputs[i] != v; i++) {
                int64_t d[TS_MAX_RANK];
                ts_fuse_value_rank(g, c->inputs[i], d);
                start += d[ax];
            }
            struct ts_fview nv = f->views[w];
            nv.offset += start * nv.strides[ax];
            *vw = nv;
            return;
        }
    }
    ts_fuse_view_contiguous(f, v, ts_fuse_add_buffer(f, TS_KBUF_TEMP, v, -1), 0);
}

/* reshape: a view where the layout allows; else a copy into w's place. */
static void reshape(struct ts_fuse *f, const struct ts_node *n) {
    int v = n->inputs[0], w = n->outputs[0];
    int64_t vd[TS_MAX_RANK], wd[TS_MAX_RANK];
    int vr = ts_fuse_value_rank(f->g, v, vd), wr = ts_fuse_value_rank(f->g, w, wd);
    struct ts_fview view;
    bool can = reshape_view(f, v, w, &view);
    if (!f->views[w].ready && can) {
        f->views[w] = view;
        return;
    }
    if (f->views[w].ready && can && same_view(&view, &f->views[w], wr, wd)) return;
    ts_fuse_dest(f, w);
    const struct ts_fview *dst = &f->views[w];
    if (can) { /* v seen with w's shape, copied into w's place */
        ts_fuse_copy(f, v, &view, dst, wr, wd, n->name);
        return;
    }
    /* Copy over v's dims when w's place can be seen with v's shape; else go
     * through a contiguous TEMP that can be seen with any shape. */
    struct ts_fview as_v = *dst;
    if (ts_fuse_reshape_strides(wr, wd, dst->strides, vr, vd, as_v.strides)) {
        ts_fuse_copy(f, v, &f->views[v], &as_v, vr, vd, n->name);
        return;
    }
    struct ts_fview tmp = {.ready = true, .buffer = ts_fuse_add_buffer(f, TS_KBUF_TEMP, v, -1)};
    ts_shape_strides(vr, vd, tmp.strides);
    ts_fuse_copy(f, v, &f->views[v], &tmp, vr, vd, n->name);
    struct ts_fview tw = tmp;
    ts_shape_strides(wr, wd, tw.strides);
    ts_fuse_copy(f, w, &tw, dst, wr, wd, n->name);
}

enum ts_status ts_fuse_movement(struct ts_fuse *f, int node) {
    const struct ts_graph *g = f->g;
    const struct ts_node *n = &g->nodes[node];
    int v = n->inputs[0];
    TS_ASSERT(f->views[v].ready);
    const struct ts_fview *src = &f->views[v];
    int64_t vd[TS_MAX_RANK];
    int vr = ts_fuse_value_rank(g, v, vd);
    switch (n->op) {
    case TS_OP_TRANSPOSE: {
        struct ts_fview *w = &f->views[n->outputs[0]];
        if (w->ready) return TS_OK; /* v was written transposed for it */
        int perm[TS_MAX_RANK];
        perm_of(n, vr, perm);
        *w = *src;
        for (int i = 0; i < vr; i++) w->strides[i] = src->strides[perm[i]];
        return TS_OK;
    }
    case TS_OP_RESHAPE: reshape(f, n); return TS_OK;
    case TS_OP_SLICE: {
        int ax;
        bool ok = ts_fuse_axis_norm(ts_node_attr(n, "axis")->i, vr, &ax);
        TS_ASSERT(ok);
        int64_t step = ts_node_attr(n, "step")->i, first;
        slice_range(vd[ax], ts_node_attr(n, "start")->i, ts_node_attr(n, "end")->i, step, &first);
        struct ts_fview *w = &f->views[n->outputs[0]];
        TS_ASSERT(!w->ready);
        *w = *src;
        int64_t wd[TS_MAX_RANK];
        ts_fuse_value_rank(g, n->outputs[0], wd);
        if (wd[ax] > 0) w->offset += first * src->strides[ax];
        w->strides[ax] = src->strides[ax] * step;
        return TS_OK;
    }
    case TS_OP_SPLIT: {
        int ax;
        bool ok = ts_fuse_axis_norm(ts_node_attr(n, "axis")->i, vr, &ax);
        TS_ASSERT(ok);
        int64_t start = 0;
        for (int i = 0; i < n->noutputs; i++) {
            struct ts_fview *w = &f->views[n->outputs[i]];
            TS_ASSERT(!w->ready);
            *w = *src;
            w->offset += start * src->strides[ax];
            start += ts_node_attr(n, "sizes")->ints[i];
        }
        return TS_OK;
    }
    default: break;
    }
    TS_ASSERT(!"not a movement op");
    return TS_OK;
}
