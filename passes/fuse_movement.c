/* fuse_movement.c — the ops that move data rather than compute it: gather (a
 * LOAD_AT entry, inlined into its consumer like any element-wise node), rope
 * (one POINTWISE kernel over [rows…, 2, half] computing both halves, angles in
 * F64 as the reference does, plus a copy of the pass-through part) and concat
 * (a copy per input into the output's part, none where the producer already
 * wrote there).
 *   %e = gather(%wte, %tok)  →  load_at(wte, index = load tok) with a range check */
#include <string.h>

#include "passes/internal.h"

/* The dtype field of F64 entries, which no graph dtype describes. */
#define F64_DTYPE TS_F32

int ts_fuse_gather_entry(struct ts_kb *kb, int node, const int *axis) {
    const struct ts_graph *g = kb->f->g;
    const struct ts_node *n = &g->nodes[node];
    int t = n->inputs[0], ix = n->inputs[1];
    int64_t td[TS_MAX_RANK], id[TS_MAX_RANK];
    int tr = ts_fuse_value_rank(g, t, td), ir = ts_fuse_value_rank(g, ix, id), ax;
    bool ok = ts_fuse_axis_norm(ts_node_attr(n, "axis")->i, tr, &ax);
    TS_ASSERT(ok);
    /* out = table.shape[:ax] + indices.shape + table.shape[ax+1:] */
    int t_axis[TS_MAX_RANK], i_axis[TS_MAX_RANK];
    for (int j = 0; j < tr; j++) t_axis[j] = j < ax ? axis[j] : j == ax ? -1 : axis[j - 1 + ir];
    for (int j = 0; j < ir; j++) i_axis[j] = id[j] == 1 ? -1 : axis[ax + j];
    struct ts_koperand op = ts_kb_operand(kb, t, t_axis);
    op.gather_stride = kb->f->views[t].strides[ax];
    op.gather_size = td[ax];
    int a = ts_kb_input(kb, &op);
    int e = ts_kb_value(kb, ix, i_axis);
    char where[300], msg[900];
    ts_fuse_node_where(g, node, where, sizeof where);
    snprintf(msg, sizeof msg, "%s: an index in '%s' is out of range [%lld, %lld) for axis %d of '%s'", where,
             g->values[ix].name, -(long long)td[ax], (long long)td[ax], ax, g->values[t].name);
    enum ts_dtype dt = g->values[t].dtype;
    struct ts_kx x = ts_kx_make(TS_KX_LOAD_AT, ts_scalar_of_dtype(dt), dt, a, e, 0);
    x.i = ts_kb_error(kb, msg);
    return ts_kb_emit(kb, x);
}

/* ---- rope ---------------------------------------------------------------- */

static int f64_const(struct ts_kb *kb, double v) {
    struct ts_kx x = ts_kx_make(TS_KX_CONST, TS_SCALAR_F64, F64_DTYPE, 0, 0, 0);
    x.f = v;
    return ts_kb_emit(kb, x);
}
static int to_f64(struct ts_kb *kb, int e) {
    return ts_kb_emit(kb, ts_kx_make(TS_KX_CAST, TS_SCALAR_F64, F64_DTYPE, e, 0, 0));
}
static int f64_op(struct ts_kb *kb, enum ts_kx_op op, int a, int b) {
    return ts_kb_emit(kb, ts_kx_make(op, TS_SCALAR_F64, F64_DTYPE, a, b, 0));
}
static int index_f64(struct ts_kb *kb, int dim) {
    return to_f64(kb, ts_kb_emit(kb, ts_kx_make(TS_KX_INDEX, TS_SCALAR_I64, TS_I64, dim, 0, 0)));
}

/* One rotation kernel. j_fixed -1: dim jd runs over both halves (sign 2j-1);
 * 0 or 1: this kernel does that half only (rank TS_MAX_RANK inputs). */
static void rope_kernel(struct ts_fuse *f, const struct ts_node *n, int64_t r, int j_fixed) {
    const struct ts_graph *g = f->g;
    int x = n->inputs[0], pos = n->ninputs > 1 ? n->inputs[1] : -1, y = n->outputs[0];
    int64_t xd[TS_MAX_RANK];
    int R = ts_fuse_value_rank(g, x, xd);
    int64_t half = r / 2;
    bool il = ts_node_attr(n, "interleaved")->i != 0;
    struct ts_kb kb;
    ts_kb_init(&kb, f, TS_KERNEL_POINTWISE, -1);
    ts_kb_absorb(&kb, n->name);
    struct ts_kernel *k = &kb.k;
    int id, jd = -1;
    for (int i = 0; i < R - 1; i++) k->dims[i] = xd[i];
    if (j_fixed >= 0) {
        id = R - 1;
        k->rank = R;
    } else {
        id = il ? R - 1 : R;
        jd = il ? R : R - 1;
        k->dims[jd] = 2;
        k->rank = R + 1;
    }
    k->dims[id] = half;
    /* Operands: self = x[j-th of the pair], other = the pair's other element. */
    struct ts_koperand ops[3];
    const struct ts_fview *views[3] = {&f->views[x], &f->views[x], &f->views[y]};
    for (int o = 0; o < 3; o++) {
        const struct ts_fview *v = views[o];
        int64_t last = v->strides[R - 1], jstep = il ? last : half * last, istep = il ? 2 * last : last;
        memset(&ops[o], 0, sizeof ops[o]);
        ops[o].buffer = v->buffer;
        ops[o].dtype = g->values[o < 2 ? x : y].dtype;
        ops[o].offset = v->offset;
        for (int i = 0; i < R - 1; i++) ops[o].strides[i] = xd[i] == 1 ? 0 : v->strides[i];
        ops[o].strides[id] = istep;
        bool other = o == 1;
        if (j_fixed >= 0) {
            int j = other ? 1 - j_fixed : j_fixed;
            ops[o].offset += j * jstep;
        } else {
            ops[o].strides[jd] = other ? -jstep : jstep;
            if (other) ops[o].offset += jstep;
        }
    }
    enum ts_dtype dt = g->values[x].dtype;
    int self = to_f64(&kb, ts_kb_emit(&kb, ts_kx_make(TS_KX_LOAD, TS_SCALAR_F32, dt, ts_kb_input(&kb, &ops[0]), 0, 0)));
    int oth = to_f64(&kb, ts_kb_emit(&kb, ts_kx_make(TS_KX_LOAD, TS_SCALAR_F32, dt, ts_kb_input(&kb, &ops[1]), 0, 0)));
    int p;
    if (pos >= 0) {
        int64_t pd[TS_MAX_RANK];
        int pr = ts_fuse_value_rank(g, pos, pd), axis[TS_MAX_RANK];
        for (int j = 0; j < pr; j++) axis[j] = pd[j] == 1 ? -1 : j + (R - 1) - pr;
        p = to_f64(&kb, ts_kb_value(&kb, pos, axis));
    } else {
        p = index_f64(&kb, R - 2);
    }
    /* angle = p · theta^(-2i/r), written as ops_rope.c computes it */
    int expo = f64_op(&kb, TS_KX_DIV, f64_op(&kb, TS_KX_MUL, f64_const(&kb, -2.0), index_f64(&kb, id)),
                      f64_const(&kb, (double)r));
    int angle = f64_op(&kb, TS_KX_MUL, p, f64_op(&kb, TS_KX_POW, f64_const(&kb, ts_node_attr(n, "theta")->f), expo));
    int c = ts_kb_emit(&kb, ts_kx_make(TS_KX_COS, TS_SCALAR_F64, F64_DTYPE, angle, 0, 0));
    int s = ts_kb_emit(&kb, ts_kx_make(TS_KX_SIN, TS_SCALAR_F64, F64_DTYPE, angle, 0, 0));
    int sign = j_fixed >= 0 ? f64_const(&kb, j_fixed ? 1.0 : -1.0)
                            : f64_op(&kb, TS_KX_SUB, f64_op(&kb, TS_KX_MUL, f64_const(&kb, 2.0), index_f64(&kb, jd)),
                                     f64_const(&kb, 1.0));
    int rot = f64_op(&kb, TS_KX_MUL, sign, f64_op(&kb, TS_KX_MUL, oth, s));
    int sum = f64_op(&kb, TS_KX_ADD, f64_op(&kb, TS_KX_MUL, self, c), rot);
    /* one rounding, straight from double to x's dtype */
    int out = ts_kb_emit(&kb, ts_kx_make(TS_KX_CAST, TS_SCALAR_F32, dt, sum, 0, 0));
    k->output = ops[2];
    ts_kb_commit(&kb, out);
}

void ts_fuse_rope(struct ts_fuse *f, int node) {
    const struct ts_graph *g = f->g;
    const struct ts_node *n = &g->nodes[node];
    int x = n->inputs[0], y = n->outputs[0];
    int64_t xd[TS_MAX_RANK];
    int R = ts_fuse_value_rank(g, x, xd);
    const struct ts_attr *ra = ts_node_attr(n, "rotary_dim");
    int64_t hd = xd[R - 1], r = ra->present ? ra->i : hd;
    ts_fuse_dest(f, y);
    if (R < TS_MAX_RANK) {
        rope_kernel(f, n, r, -1);
    } else {
        rope_kernel(f, n, r, 0);
        rope_kernel(f, n, r, 1);
    }
    if (r < hd) { /* the pass-through part */
        int64_t dims[TS_MAX_RANK];
        memcpy(dims, xd, sizeof dims);
        dims[R - 1] = hd - r;
        struct ts_fview src = f->views[x], dst = f->views[y];
        src.offset += r * src.strides[R - 1];
        dst.offset += r * dst.strides[R - 1];
        ts_fuse_copy(f, x, &src, &dst, R, dims, n->name);
    }
}

/* ---- concat -------------------------------------------------------------- */

void ts_fuse_concat(struct ts_fuse *f, int node) {
    const struct ts_graph *g = f->g;
    const struct ts_node *n = &g->nodes[node];
    int y = n->outputs[0];
    int64_t yd[TS_MAX_RANK];
    int rank = ts_fuse_value_rank(g, y, yd), ax;
    bool ok = ts_fuse_axis_norm(ts_node_attr(n, "axis")->i, rank, &ax);
    TS_ASSERT(ok);
    ts_fuse_dest(f, y);
    int64_t start = 0;
    for (int i = 0; i < n->ninputs; i++) {
        int x = n->inputs[i];
        int64_t xd[TS_MAX_RANK];
        ts_fuse_value_rank(g, x, xd);
        struct ts_fview part = f->views[y];
        part.offset += start * part.strides[ax];
        start += xd[ax];
        const struct ts_fview *have = &f->views[x];
        bool there = have->buffer == part.buffer && have->offset == part.offset;
        for (int j = 0; there && j < rank; j++) there = xd[j] <= 1 || have->strides[j] == part.strides[j];
        if (!there) ts_fuse_copy(f, x, have, &part, rank, xd, n->name);
    }
}
