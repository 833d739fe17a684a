/* kernel_check.c — ts_program_check: the invariants every emitter and the
 * kernel-IR interpreter rely on. Index maps stay inside their buffers over the
 * whole iteration space, expressions are well-typed SSA, schedules are legal
 * and planned TEMP buffers that are live together do not share bytes. A
 * failure is a bug in fusion or planning, reported as TS_ERR_GRAPH naming the
 * kernel (or buffer) and the operand. */
#include <math.h>
#include <stdarg.h>

#include "ir.h"

struct checker {
    const struct ts_program *p;
    struct ts_diag *d;
    const struct ts_kernel *k; /* the kernel being checked, or NULL */
};

static enum ts_status fail(const struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum ts_status fail(const struct checker *c, const char *fmt, ...) {
    char what[700], where[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->k)
        snprintf(where, sizeof where, "kernel '%s'", c->k->name ? c->k->name : "?");
    else
        snprintf(where, sizeof where, "program");
    const char *file = c->p->graph && c->p->graph->path ? c->p->graph->path : "";
    return ts_diag_set(c->d, TS_ERR_GRAPH, file, where, "%s", what);
}

static const char *buf_name(const struct ts_program *p, int b) {
    return b >= 0 && b < p->nbuffers && p->buffers[b].name ? p->buffers[b].name : "?";
}

/* ---- buffers ------------------------------------------------------------ */

static bool ranges_meet(int64_t a0, int64_t a1, int64_t b0, int64_t b1) { return a0 <= b1 && b0 <= a1; }

static enum ts_status check_buffer(const struct checker *c, int i) {
    const struct ts_program *p = c->p;
    const struct ts_graph *g = p->graph;
    const struct ts_kbuffer *b = &p->buffers[i];
    const char *name = buf_name(p, i);
    if (b->kind < 0 || b->kind >= TS_KBUF_KIND_COUNT)
        return fail(c, "buffer %d '%s' has bad kind %d", i, name, (int)b->kind);
    if (b->dtype < 0 || b->dtype >= TS_DTYPE_COUNT)
        return fail(c, "buffer %d '%s' has bad dtype %d", i, name, (int)b->dtype);
    if (b->nbytes < 0 || b->nbytes % (int64_t)ts_dtype_size(b->dtype) != 0)
        return fail(c, "buffer %d '%s' has %lld bytes, not a whole number of %s elements", i, name,
                    (long long)b->nbytes, ts_dtype_name(b->dtype));
    if (b->kind == TS_KBUF_INPUT || b->kind == TS_KBUF_OUTPUT) {
        bool in = b->kind == TS_KBUF_INPUT;
        int count = in ? g->ninputs : g->noutputs;
        if (b->index < 0 || b->index >= count)
            return fail(c, "buffer %d '%s' is graph %s %d of %d", i, name, in ? "input" : "output", b->index, count);
        int vid = in ? g->inputs[b->index] : g->outputs[b->index];
        const struct ts_value *v = &g->values[vid];
        int64_t want = ts_value_numel(v) * (int64_t)ts_dtype_size(v->dtype);
        if (v->dtype != b->dtype || want != b->nbytes)
            return fail(c, "buffer %d '%s' is %s of %lld bytes, but graph %s '%s' is %s of %lld bytes", i, name,
                        ts_dtype_name(b->dtype), (long long)b->nbytes, in ? "input" : "output", v->name,
                        ts_dtype_name(v->dtype), (long long)want);
        int back = in ? p->input_buffers[b->index] : p->output_buffers[b->index];
        if (back != i)
            return fail(c, "buffer %d '%s' is graph %s %d, which maps to buffer %d", i, name, in ? "input" : "output",
                        b->index, back);
    }
    if ((b->kind == TS_KBUF_WEIGHT || b->kind == TS_KBUF_CONST) && b->nbytes > 0 && !b->data)
        return fail(c, "buffer %d '%s' has no data", i, name);
    if (b->kind == TS_KBUF_TEMP && p->arena_bytes > 0) {
        if (b->offset < 0 || b->offset % 64 != 0 || b->offset > p->arena_bytes - b->nbytes)
            return fail(c,
                        "buffer %d '%s' at offset %lld (%lld bytes) is not a 64-byte aligned slice of the "
                        "%lld-byte arena",
                        i, name, (long long)b->offset, (long long)b->nbytes, (long long)p->arena_bytes);
        if (b->first < 0 || b->first > b->last || b->last >= p->nkernels)
            return fail(c, "buffer %d '%s' has live range [%d, %d] outside kernels [0, %d)", i, name, b->first, b->last,
                        p->nkernels);
        if (b->reuses != -1 &&
            (b->reuses < 0 || b->reuses >= p->nbuffers || p->buffers[b->reuses].kind != TS_KBUF_TEMP || b->reuses == i))
            return fail(c, "buffer %d '%s' reuses %d, which is not another TEMP buffer", i, name, b->reuses);
    }
    return TS_OK;
}

/* Two planned TEMP buffers live at the same time must not share bytes, unless
 * one takes over the other's memory in place: it is first written by the
 * kernel that last reads the other (an element-wise kernel reading and
 * writing the same element). */
static enum ts_status check_overlap(const struct checker *c) {
    const struct ts_program *p = c->p;
    for (int i = 0; i < p->nbuffers; i++) {
        const struct ts_kbuffer *a = &p->buffers[i];
        if (a->kind != TS_KBUF_TEMP || a->nbytes == 0) continue;
        for (int j = i + 1; j < p->nbuffers; j++) {
            const struct ts_kbuffer *b = &p->buffers[j];
            if (b->kind != TS_KBUF_TEMP || b->nbytes == 0) continue;
            /* in place: the kernel that last reads one writes the other */
            if ((a->reuses == j && a->first >= b->last) || (b->reuses == i && b->first >= a->last)) continue;
            if (!ranges_meet(a->first, a->last, b->first, b->last)) continue;
            if (!ranges_meet(a->offset, a->offset + a->nbytes - 1, b->offset, b->offset + b->nbytes - 1)) continue;
            return fail(c,
                        "buffers %d '%s' (bytes [%lld, %lld), kernels %d..%d) and %d '%s' (bytes [%lld, %lld), "
                        "kernels %d..%d) overlap while both are live",
                        i, buf_name(p, i), (long long)a->offset, (long long)(a->offset + a->nbytes), a->first,
                        a->last, j, buf_name(p, j), (long long)b->offset, (long long)(b->offset + b->nbytes),
                        b->first, b->last);
        }
    }
    return TS_OK;
}

/* ---- index maps --------------------------------------------------------- */

/* The operand's element range: offset plus, for each (count, stride) term,
 * stride·(0 … count-1). Nothing is touched if some count is 0. */
struct span {
    int n;
    int64_t count[TS_MAX_RANK + 2], stride[TS_MAX_RANK + 2];
};

static void span_add(struct span *s, int64_t count, int64_t stride) {
    s->count[s->n] = count;
    s->stride[s->n] = stride;
    s->n++;
}

static enum ts_status check_operand(const struct checker *c, const char *role, const struct ts_koperand *o,
                                    const struct span *s) {
    const struct ts_program *p = c->p;
    if (o->buffer < 0 || o->buffer >= p->nbuffers)
        return fail(c, "%s names buffer %d of %d", role, o->buffer, p->nbuffers);
    const struct ts_kbuffer *b = &p->buffers[o->buffer];
    if (o->dtype != b->dtype)
        return fail(c, "%s (buffer '%s') is %s, but the buffer is %s", role, b->name, ts_dtype_name(o->dtype),
                    ts_dtype_name(b->dtype));
    int ki = (int)(c->k - p->kernels);
    if (b->kind == TS_KBUF_TEMP && p->arena_bytes > 0 && (ki < b->first || ki > b->last))
        return fail(c, "%s (buffer '%s') is used by kernel %d, outside its live range %d..%d", role, b->name, ki,
                    b->first, b->last);
    for (int i = 0; i < s->n; i++)
        if (s->count[i] < 0) return fail(c, "%s has a negative extent %lld", role, (long long)s->count[i]);
    for (int i = 0; i < s->n; i++)
        if (s->count[i] == 0) return TS_OK;
    int64_t lo = o->offset, hi = o->offset, t;
    bool overflow = false;
    for (int i = 0; i < s->n; i++) {
        overflow |= __builtin_mul_overflow(s->stride[i], s->count[i] - 1, &t);
        overflow |= t < 0 ? __builtin_add_overflow(lo, t, &lo) : __builtin_add_overflow(hi, t, &hi);
    }
    int64_t elems = b->nbytes / (int64_t)ts_dtype_size(b->dtype);
    if (overflow || lo < 0 || hi >= elems) {
        char st[256];
        int64_t strides[TS_MAX_RANK + 2];
        for (int i = 0; i < s->n; i++) strides[i] = s->stride[i];
        ts_dims_str(s->n, strides, st, sizeof st);
        if (overflow)
            return fail(c, "%s (buffer '%s'): index map offset %lld strides %s overflows", role, b->name,
                        (long long)o->offset, st);
        return fail(c, "%s (buffer '%s'): index map offset %lld strides %s reaches elements [%lld, %lld], but the "
                    "buffer holds %lld %s elements",
                    role, b->name, (long long)o->offset, st, (long long)lo, (long long)hi, (long long)elems,
                    ts_dtype_name(b->dtype));
    }
    return TS_OK;
}

/* Every operand against the dims it is addressed over (see ir.h). */
static enum ts_status check_maps(const struct checker *c) {
    const struct ts_kernel *k = c->k;
    int nroles = k->kind == TS_KERNEL_ATTENTION ? 3 + (k->attn.has_mask ? 1 : 0) : 0;
    for (int i = 0; i <= k->ninputs; i++) {
        bool out = i == k->ninputs;
        const struct ts_koperand *o = out ? &k->output : &k->inputs[i];
        char role[64];
        if (out)
            snprintf(role, sizeof role, "the output");
        else
            snprintf(role, sizeof role, "input %d", i);
        struct span s = {0};
        if (!out && i < nroles) {
            static const char *const names[4] = {"q", "k", "v", "mask"};
            int64_t last = i == 0 || i == 1 ? k->attn.d : i == 2 ? k->attn.dv : k->attn.sk;
            int64_t dims[4] = {k->attn.batch, i == 0 || i == 3 ? k->attn.hq : k->attn.hkv,
                               i == 0 || i == 3 ? k->attn.sq : k->attn.sk, last};
            snprintf(role, sizeof role, "input %d (%s)", i, names[i]);
            for (int j = 0; j < 4; j++) span_add(&s, dims[j], o->strides[j]);
        } else {
            /* a per-row result is stored once per row, even for an empty row */
            bool per_row = out && k->kind == TS_KERNEL_ROWWISE && !ts_row_op_is_elementwise(k->row_op);
            for (int j = 0; j < k->rank; j++) span_add(&s, per_row && j >= k->nouter ? 1 : k->dims[j], o->strides[j]);
        }
        if (k->kind == TS_KERNEL_GEMM) span_add(&s, k->k, o->kstride);
        else if (o->kstride != 0) return fail(c, "%s has kstride %lld outside a GEMM", role, (long long)o->kstride);
        if (o->gather_size != 0 || o->gather_stride != 0) {
            if (out) return fail(c, "the output has a gather");
            if (o->gather_size < 0) return fail(c, "%s has gather size %lld", role, (long long)o->gather_size);
            span_add(&s, o->gather_size, o->gather_stride);
        }
        TS_TRY(check_operand(c, role, o, &s));
    }
    const struct ts_kbuffer *ob = &c->p->buffers[k->output.buffer];
    if (ob->kind != TS_KBUF_OUTPUT && ob->kind != TS_KBUF_TEMP)
        return fail(c, "the output writes buffer '%s', which is read-only", ob->name);
    return TS_OK;
}

/* ---- expressions -------------------------------------------------------- */

static bool is_float(enum ts_scalar t) { return t == TS_SCALAR_F32 || t == TS_SCALAR_F64; }
static bool is_number(enum ts_scalar t) { return is_float(t) || t == TS_SCALAR_I64; }

/* The scalar type a load or cast of dtype may give: its own, or F64 for floats. */
static bool scalar_fits(enum ts_scalar t, enum ts_dtype dt) {
    return t == ts_scalar_of_dtype(dt) || (t == TS_SCALAR_F64 && ts_dtype_is_float(dt));
}

static enum ts_status check_entry(const struct checker *c, int i) {
    const struct ts_kernel *k = c->k;
    const struct ts_kx *e = &k->expr[i];
    if (e->op < 0 || e->op >= TS_KX_COUNT) return fail(c, "expression %%%d has bad op %d", i, (int)e->op);
    const char *op = ts_kx_op_name(e->op);
    if (e->type < 0 || e->type >= TS_SCALAR_COUNT) return fail(c, "%%%d = %s has bad type %d", i, op, (int)e->type);
    const char *ty = ts_scalar_name(e->type);
    int args[3] = {e->a, e->b, e->c}, nargs = ts_kx_op_nargs(e->op);
    if (e->op == TS_KX_LOAD_AT) nargs = 0; /* its a is an input; b is checked below */
    for (int j = 0; j < nargs; j++)
        if (args[j] < 0 || args[j] >= i)
            return fail(c, "%%%d = %s.%s reads %%%d, which is not an earlier entry", i, op, ty, args[j]);
    enum ts_scalar ta = nargs > 0 ? k->expr[e->a].type : TS_SCALAR_COUNT;
    enum ts_scalar tb = nargs > 1 ? k->expr[e->b].type : TS_SCALAR_COUNT;
    enum ts_scalar tc = nargs > 2 ? k->expr[e->c].type : TS_SCALAR_COUNT;
    switch (e->op) {
    case TS_KX_LOAD:
    case TS_KX_LOAD_AT: {
        int first = k->kind == TS_KERNEL_GEMM ? 2 : k->kind == TS_KERNEL_ATTENTION ? 3 + (k->attn.has_mask ? 1 : 0) : 0;
        if (e->a < first || e->a >= k->ninputs)
            return fail(c, "%%%d = %s.%s reads input %d, not one of the expression's inputs [%d, %d)", i, op, ty, e->a,
                        first, k->ninputs);
        const struct ts_koperand *o = &k->inputs[e->a];
        if (e->dtype != o->dtype || !scalar_fits(e->type, o->dtype))
            return fail(c, "%%%d = %s.%s of %s reads input %d of dtype %s", i, op, ty, ts_dtype_name(e->dtype), e->a,
                        ts_dtype_name(o->dtype));
        if (e->op == TS_KX_LOAD_AT) {
            if (e->b < 0 || e->b >= i || k->expr[e->b].type != TS_SCALAR_I64)
                return fail(c, "%%%d = %s.%s takes an earlier i64 entry as its index, got %%%d", i, op, ty, e->b);
            if (e->i < 1 || e->i > k->nerrors)
                return fail(c, "%%%d = %s.%s names error %lld of %d", i, op, ty, (long long)e->i, k->nerrors);
        }
        return TS_OK;
    }
    case TS_KX_CONST:
        if (e->type == TS_SCALAR_BOOL && e->i != 0 && e->i != 1)
            return fail(c, "%%%d = const.bool holds %lld", i, (long long)e->i);
        return TS_OK;
    case TS_KX_INDEX:
        if (e->a < 0 || e->a >= k->rank) return fail(c, "%%%d = index of dim %d of %d", i, e->a, k->rank);
        if (e->type != TS_SCALAR_I64) return fail(c, "%%%d = index.%s: an index is i64", i, ty);
        return TS_OK;
    case TS_KX_ACC:
        if (k->kind == TS_KERNEL_GEMM) {
            if (k->acc_type == TS_SCALAR_I64 ? e->type != TS_SCALAR_I64 : !is_float(e->type))
                return fail(c, "%%%d = acc.%s in a GEMM accumulating %s", i, ty, ts_scalar_name(k->acc_type));
        } else if (k->kind == TS_KERNEL_ATTENTION) {
            if (!is_float(e->type)) return fail(c, "%%%d = acc.%s: attention gives floats", i, ty);
        } else {
            return fail(c, "%%%d = acc in a %s kernel (only gemm and attention accumulate)", i,
                        ts_kernel_kind_name(k->kind));
        }
        return TS_OK;
    case TS_KX_ROW:
        if (k->kind != TS_KERNEL_ROWWISE || i <= k->x_root)
            return fail(c, "%%%d = row: the row result exists only in a rowwise kernel after x (%%%d)", i, k->x_root);
        if (!is_float(e->type)) return fail(c, "%%%d = row.%s: row results are floats", i, ty);
        return TS_OK;
    case TS_KX_NEG:
    case TS_KX_ABS:
    case TS_KX_RELU:
        if (!is_number(e->type) || ta != e->type) goto types;
        return TS_OK;
    case TS_KX_ADD:
    case TS_KX_SUB:
    case TS_KX_MUL:
    case TS_KX_DIV:
    case TS_KX_MAX:
    case TS_KX_MIN:
        if (!is_number(e->type) || ta != e->type || tb != e->type) goto types;
        if (e->op == TS_KX_DIV && e->type == TS_SCALAR_I64 && (e->i < 1 || e->i > k->nerrors))
            return fail(c, "%%%d = div.i64 names error %lld of %d", i, (long long)e->i, k->nerrors);
        return TS_OK;
    case TS_KX_POW:
        if (!is_float(e->type) || ta != e->type || tb != e->type) goto types;
        return TS_OK;
    case TS_KX_SELECT:
        if (ta != TS_SCALAR_BOOL || tb != e->type || tc != e->type) goto types;
        return TS_OK;
    case TS_KX_CAST:
        if (e->dtype < 0 || e->dtype >= TS_DTYPE_COUNT || !scalar_fits(e->type, e->dtype))
            return fail(c, "%%%d = cast.%s to dtype %s", i, ty, ts_dtype_name(e->dtype));
        return TS_OK;
    default: /* the float functions */
        if (!is_float(e->type) || ta != e->type) goto types;
        return TS_OK;
    }
types:
    return fail(c, "%%%d = %s.%s has operands of types %s%s%s%s%s", i, op, ty, ts_scalar_name(ta),
                nargs > 1 ? ", " : "", nargs > 1 ? ts_scalar_name(tb) : "", nargs > 2 ? ", " : "",
                nargs > 2 ? ts_scalar_name(tc) : "");
}

static enum ts_status check_expr(const struct checker *c) {
    const struct ts_kernel *k = c->k;
    if (k->nexpr < 0 || (k->nexpr > 0 && !k->expr)) return fail(c, "bad expression list (%d entries)", k->nexpr);
    for (int i = 0; i < k->nerrors; i++)
        if (!k->errors || !k->errors[i]) return fail(c, "error message %d is missing", i + 1);
    for (int i = 0; i < k->nexpr; i++) TS_TRY(check_entry(c, i));
    bool fused = k->kind == TS_KERNEL_GEMM || k->kind == TS_KERNEL_ATTENTION || k->kind == TS_KERNEL_ROWWISE;
    if (k->out_root < (fused ? -1 : 0) || k->out_root >= k->nexpr)
        return fail(c, "out_root %d is not an entry of %d%s", k->out_root, k->nexpr, fused ? " (or -1)" : "");
    if (k->kind == TS_KERNEL_ROWWISE &&
        (k->x_root < 0 || k->x_root >= k->nexpr || !is_float(k->expr[k->x_root].type)))
        return fail(c, "x_root %d is not a float entry of %d", k->x_root, k->nexpr);
    return TS_OK;
}

/* ---- kinds and schedules ------------------------------------------------ */

static enum ts_status check_kind(const struct checker *c) {
    const struct ts_kernel *k = c->k;
    switch (k->kind) {
    case TS_KERNEL_POINTWISE:
        if (k->sched.pointwise.vector_width < 1 || k->sched.pointwise.rows_per_task < 1)
            return fail(c, "schedule vector_width %d rows_per_task %lld: both must be positive",
                        k->sched.pointwise.vector_width, (long long)k->sched.pointwise.rows_per_task);
        return TS_OK;
    case TS_KERNEL_ROWWISE:
        if (k->nouter < 0 || k->nouter > k->rank) return fail(c, "nouter %d for rank %d", k->nouter, k->rank);
        if (k->row_op < 0 || k->row_op >= TS_ROW_OP_COUNT) return fail(c, "bad row op %d", (int)k->row_op);
        if (!(k->eps >= 0) || isinf(k->eps)) return fail(c, "eps %g must be finite and >= 0", k->eps);
        if (!ts_row_op_is_elementwise(k->row_op))
            for (int j = k->nouter; j < k->rank; j++)
                if (k->output.strides[j] != 0 && k->dims[j] > 1)
                    return fail(c, "the output of per-row op %s has stride %lld on reduced dim %d (must be 0)",
                                ts_row_op_name(k->row_op), (long long)k->output.strides[j], j);
        if (k->sched.rowwise.vector_width < 1 || k->sched.rowwise.rows_per_task < 1)
            return fail(c, "schedule vector_width %d rows_per_task %lld: both must be positive",
                        k->sched.rowwise.vector_width, (long long)k->sched.rowwise.rows_per_task);
        return TS_OK;
    case TS_KERNEL_GEMM: {
        if (k->rank < 2 || k->ninputs < 2) return fail(c, "a gemm needs rank >= 2 and inputs A and B");
        if (k->k < 0) return fail(c, "reduction length %lld", (long long)k->k);
        bool ints = !ts_dtype_is_float(k->inputs[0].dtype);
        if (k->inputs[0].dtype != k->inputs[1].dtype || (ints ? k->acc_type != TS_SCALAR_I64 : !is_float(k->acc_type)))
            return fail(c, "A (%s) and B (%s) do not fit accumulator type %s", ts_dtype_name(k->inputs[0].dtype),
                        ts_dtype_name(k->inputs[1].dtype), ts_scalar_name(k->acc_type));
        const struct ts_sched_gemm *s = &k->sched.gemm;
        if (s->mr < 1 || s->nr < 1 || s->kc < 1 || s->mc < s->mr || s->nc < s->nr || s->mc % s->mr ||
            s->nc % s->nr)
            return fail(c, "schedule mc %d kc %d nc %d mr %d nr %d: blocks must be positive, mc a multiple of mr "
                        "and nc of nr", s->mc, s->kc, s->nc, s->mr, s->nr);
        return TS_OK;
    }
    case TS_KERNEL_ATTENTION: {
        int64_t b = k->attn.batch, hq = k->attn.hq, hkv = k->attn.hkv, sq = k->attn.sq, sk = k->attn.sk;
        int64_t hd = k->attn.d, dv = k->attn.dv;
        int need = 3 + (k->attn.has_mask ? 1 : 0);
        if (k->rank != 4 || k->ninputs < need) return fail(c, "attention needs rank 4 and %d inputs", need);
        if (b < 0 || hq < 0 || hkv < 0 || sq < 0 || sk < 0 || hd < 0 || dv < 0 || (hkv == 0 ? hq != 0 : hq % hkv != 0))
            return fail(c, "bad attention sizes: batch %lld, heads %lld/%lld, seq %lld/%lld, dims %lld/%lld",
                        (long long)b, (long long)hq, (long long)hkv, (long long)sq, (long long)sk, (long long)hd,
                        (long long)dv);
        if (k->dims[0] != b || k->dims[1] != hq || k->dims[2] != sq || k->dims[3] != dv)
            return fail(c, "iteration dims differ from [batch, hq, sq, dv]");
        if (!isfinite(k->attn.scale)) return fail(c, "scale %g is not finite", k->attn.scale);
        for (int i = 0; i < need; i++)
            if (!ts_dtype_is_float(k->inputs[i].dtype)) return fail(c, "input %d is not a float", i);
        if (k->sched.attention.block_q < 1 || k->sched.attention.block_k < 1)
            return fail(c, "schedule block_q %d block_k %d: both must be positive", k->sched.attention.block_q,
                        k->sched.attention.block_k);
        return TS_OK;
    }
    default: break;
    }
    return fail(c, "bad kernel kind %d", (int)k->kind);
}

static enum ts_status check_kernel(struct checker *c) {
    const struct ts_kernel *k = c->k;
    if (!k->name) return fail(c, "a kernel has no name");
    if (ts_kernel_cpu_threads(k) < 0) return fail(c, "schedule threads %d is negative", ts_kernel_cpu_threads(k));
    if (k->rank < 0 || k->rank > TS_MAX_RANK) return fail(c, "rank %d", k->rank);
    for (int j = 0; j < k->rank; j++)
        if (k->dims[j] < 0) return fail(c, "dim %d is %lld", j, (long long)k->dims[j]);
    if (k->ninputs < 0 || (k->ninputs > 0 && !k->inputs)) return fail(c, "bad input list (%d)", k->ninputs);
    TS_TRY(check_kind(c));
    TS_TRY(check_maps(c));
    return check_expr(c);
}

enum ts_status ts_program_check(const struct ts_program *p, struct ts_diag *d) {
    struct checker c = {p, d, NULL};
    const struct ts_graph *g = p->graph;
    if (p->nbuffers < 0 || p->nkernels < 0 || (p->nbuffers && !p->buffers) || (p->nkernels && !p->kernels))
        return fail(&c, "bad buffer or kernel list");
    for (int i = 0; i < g->ninputs; i++)
        if (p->input_buffers[i] < 0 || p->input_buffers[i] >= p->nbuffers ||
            p->buffers[p->input_buffers[i]].kind != TS_KBUF_INPUT)
            return fail(&c, "graph input %d maps to buffer %d, not an input buffer", i, p->input_buffers[i]);
    for (int i = 0; i < g->noutputs; i++)
        if (p->output_buffers[i] < 0 || p->output_buffers[i] >= p->nbuffers)
            return fail(&c, "graph output %d maps to buffer %d of %d", i, p->output_buffers[i], p->nbuffers);
    for (int i = 0; i < g->noutputs; i++) {
        const struct ts_value *v = &g->values[g->outputs[i]];
        const struct ts_kbuffer *b = &p->buffers[p->output_buffers[i]];
        if (b->dtype != v->dtype || b->nbytes != ts_value_numel(v) * (int64_t)ts_dtype_size(v->dtype))
            return fail(&c, "graph output %d '%s' maps to buffer '%s' of another dtype or size", i, v->name,
                        buf_name(p, p->output_buffers[i]));
    }
    for (int i = 0; i < p->nbuffers; i++) TS_TRY(check_buffer(&c, i));
    if (p->arena_bytes > 0) TS_TRY(check_overlap(&c));
    for (int i = 0; i < p->nkernels; i++) {
        c.k = &p->kernels[i];
        TS_TRY(check_kernel(&c));
    }
    return TS_OK;
}
