/* fuse_expr.c — building one kernel: operands (index maps from value views),
 * the expression (element-wise nodes of the group inlined, identical entries
 * and loads kept once, each node's result rounded where the reference rounds
 * it), and finishing: output operand, dims coalesced, arrays into the arena.
 *   %c = add(%a, %b)  %d = gelu(%c)  →  e0 = load 0; e1 = load 1; e2 = add e0 e1;
 *                                        e3 = cast e2; e4 = gelu e3   (stored: e4) */
#include <stdlib.h>
#include <string.h>

#include "passes/internal.h"

/* Grows a malloc'd array to hold n + 1 items; metadata exhaustion is fatal. */
static void *grow(void *p, int *cap, int n, size_t elem) {
    if (n < *cap) return p;
    int nc = *cap ? *cap * 2 : 16;
    void *q = realloc(p, (size_t)nc * elem);
    TS_ASSERT(q != NULL);
    *cap = nc;
    return q;
}

void ts_kb_init(struct ts_kb *kb, struct ts_fuse *f, enum ts_kernel_kind kind, int root) {
    memset(kb, 0, sizeof *kb);
    kb->f = f;
    kb->k.kind = kind;
    kb->k.x_root = -1;
    kb->k.out_root = -1;
    kb->root = root;
    kb->heavy = -1;
    kb->heavy_entry = -1;
}

static bool same_operand(const struct ts_koperand *a, const struct ts_koperand *b, int rank) {
    if (a->buffer != b->buffer || a->dtype != b->dtype || a->offset != b->offset || a->kstride != b->kstride ||
        a->gather_stride != b->gather_stride || a->gather_size != b->gather_size)
        return false;
    for (int i = 0; i < rank; i++)
        if (a->strides[i] != b->strides[i]) return false;
    return true;
}

int ts_kb_input(struct ts_kb *kb, const struct ts_koperand *op) {
    for (int i = kb->dedupe_from; i < kb->ninputs; i++)
        if (same_operand(&kb->inputs[i], op, TS_MAX_RANK)) return i;
    kb->inputs = grow(kb->inputs, &kb->cap_inputs, kb->ninputs, sizeof *kb->inputs);
    kb->inputs[kb->ninputs] = *op;
    return kb->ninputs++;
}

int ts_kb_emit(struct ts_kb *kb, struct ts_kx e) {
    for (int i = 0; i < kb->nexpr; i++) {
        const struct ts_kx *x = &kb->expr[i];
        if (x->op == e.op && x->type == e.type && x->dtype == e.dtype && x->a == e.a && x->b == e.b &&
            x->c == e.c && memcmp(&x->f, &e.f, sizeof e.f) == 0 && x->i == e.i)
            return i;
    }
    kb->expr = grow(kb->expr, &kb->cap_expr, kb->nexpr, sizeof *kb->expr);
    kb->expr[kb->nexpr] = e;
    return kb->nexpr++;
}

int ts_kb_error(struct ts_kb *kb, const char *msg) {
    kb->errors = grow(kb->errors, &kb->cap_errors, kb->nerrors, sizeof *kb->errors);
    kb->errors[kb->nerrors++] = ts_arena_strdup(kb->f->g->arena, msg);
    return kb->nerrors; /* numbered from 1 */
}

void ts_kb_absorb(struct ts_kb *kb, const char *name) {
    kb->absorbed = grow(kb->absorbed, &kb->cap_absorbed, kb->nabsorbed, sizeof *kb->absorbed);
    kb->absorbed[kb->nabsorbed++] = name;
}

struct ts_koperand ts_kb_view_operand(const struct ts_fview *view, enum ts_dtype dt, int rank,
                                      const int64_t *dims, const int *axis) {
    TS_ASSERT(view->ready);
    struct ts_koperand op;
    memset(&op, 0, sizeof op);
    op.buffer = view->buffer;
    op.dtype = dt;
    op.offset = view->offset;
    for (int j = 0; j < rank; j++)
        if (axis[j] >= 0 && dims[j] != 1) op.strides[axis[j]] += view->strides[j];
    return op;
}

struct ts_koperand ts_kb_operand(struct ts_kb *kb, int v, const int *axis) {
    int64_t dims[TS_MAX_RANK];
    int rank = ts_fuse_value_rank(kb->f->g, v, dims);
    return ts_kb_view_operand(&kb->f->views[v], kb->f->g->values[v].dtype, rank, dims, axis);
}

struct ts_kx ts_kx_make(enum ts_kx_op op, enum ts_scalar type, enum ts_dtype dt, int a, int b, int c) {
    struct ts_kx e;
    memset(&e, 0, sizeof e);
    e.op = op, e.type = type, e.dtype = dt, e.a = a, e.b = b, e.c = c;
    return e;
}

/* Ops whose result is one of their (already rounded) operands, or exact. */
static bool exact_op(enum ts_kx_op op) {
    return op == TS_KX_LOAD || op == TS_KX_LOAD_AT || op == TS_KX_SELECT || op == TS_KX_MAX || op == TS_KX_MIN ||
           op == TS_KX_RELU || op == TS_KX_NEG || op == TS_KX_ABS || op == TS_KX_CONST;
}

int ts_kb_convert(struct ts_kb *kb, int e, enum ts_scalar type, enum ts_dtype dtype) {
    const struct ts_kx *x = &kb->expr[e];
    if (x->type == type) return e;
    if (x->op == TS_KX_LOAD && type == TS_SCALAR_F64 && ts_dtype_is_float(x->dtype)) { /* load it wider */
        struct ts_kx w = *x;
        w.type = type;
        return ts_kb_emit(kb, w);
    }
    return ts_kb_emit(kb, ts_kx_make(TS_KX_CAST, type, dtype, e, 0, 0));
}

/* Node results are held in their dtype's scalar type, rounded as the
 * reference stores them: float math of f16/bf16 nodes (and ACC, ROW) is F64,
 * rounded once from double; F32 ops already round to f32; i32 wraps. */
int ts_kb_round(struct ts_kb *kb, int e, enum ts_dtype dtype) {
    const struct ts_kx *x = &kb->expr[e];
    if (ts_dtype_is_float(dtype)) {
        if (x->type == TS_SCALAR_F32 && (dtype == TS_F32 || exact_op(x->op) || (x->op == TS_KX_CAST && x->dtype == dtype)))
            return e;
        return ts_kb_emit(kb, ts_kx_make(TS_KX_CAST, TS_SCALAR_F32, dtype, e, 0, 0));
    }
    /* i32: what may leave the i32 range (add, sub, mul, div, neg and abs of the most negative) wraps */
    bool may_overflow = x->op == TS_KX_ADD || x->op == TS_KX_SUB || x->op == TS_KX_MUL || x->op == TS_KX_DIV ||
                        x->op == TS_KX_NEG || x->op == TS_KX_ABS || x->op == TS_KX_ACC;
    if (dtype == TS_I32 && x->type == TS_SCALAR_I64 && may_overflow)
        return ts_kb_emit(kb, ts_kx_make(TS_KX_CAST, TS_SCALAR_I64, TS_I32, e, 0, 0));
    return e;
}

/* Input slot k of node n, broadcast to n's output (numpy rules), as an axis map. */
static void input_axis(const struct ts_graph *g, const struct ts_node *n, int k, const int *axis, int *in_axis) {
    int64_t od[TS_MAX_RANK], id[TS_MAX_RANK];
    int orank = ts_fuse_value_rank(g, n->outputs[0], od), irank = ts_fuse_value_rank(g, n->inputs[k], id);
    for (int j = 0; j < irank; j++) in_axis[j] = id[j] == 1 ? -1 : axis[j + orank - irank];
}

static enum ts_kx_op kx_of_op(enum ts_op op) {
    switch (op) {
    case TS_OP_ADD: return TS_KX_ADD;
    case TS_OP_SUB: return TS_KX_SUB;
    case TS_OP_MUL: return TS_KX_MUL;
    case TS_OP_DIV: return TS_KX_DIV;
    case TS_OP_POW: return TS_KX_POW;
    case TS_OP_MAXIMUM: return TS_KX_MAX;
    case TS_OP_MINIMUM: return TS_KX_MIN;
    case TS_OP_NEG: return TS_KX_NEG;
    case TS_OP_EXP: return TS_KX_EXP;
    case TS_OP_LOG: return TS_KX_LOG;
    case TS_OP_SQRT: return TS_KX_SQRT;
    case TS_OP_RSQRT: return TS_KX_RSQRT;
    case TS_OP_TANH: return TS_KX_TANH;
    case TS_OP_ERF: return TS_KX_ERF;
    case TS_OP_SIGMOID: return TS_KX_SIGMOID;
    case TS_OP_RELU: return TS_KX_RELU;
    case TS_OP_SILU: return TS_KX_SILU;
    case TS_OP_ABS: return TS_KX_ABS;
    case TS_OP_GELU: return TS_KX_GELU;
    default: break;
    }
    TS_ASSERT(!"not an element-wise op");
    return TS_KX_COUNT;
}

/* An iota the fold pass left (above its budget): start + step·INDEX of the
 * kernel dim its axis maps to, in I64, cast once to the dtype (the shape rule
 * keeps the values exact there, as the reference computes them). */
static int iota_entry(struct ts_kb *kb, const struct ts_node *n, const int *axis) {
    const struct ts_graph *g = kb->f->g;
    enum ts_dtype dt = g->values[n->outputs[0]].dtype;
    int64_t dims[TS_MAX_RANK];
    int rank = ts_fuse_value_rank(g, n->outputs[0], dims), ax = 0;
    bool ok = ts_fuse_axis_norm(ts_node_attr(n, "axis")->i, rank, &ax);
    TS_ASSERT(ok); /* the shape rule checked it */
    int64_t start = ts_node_attr(n, "start")->i, step = ts_node_attr(n, "step")->i;
    struct ts_kx c = ts_kx_make(TS_KX_CONST, TS_SCALAR_I64, TS_I64, 0, 0, 0);
    int e;
    if (axis[ax] >= 0 && dims[ax] != 1 && step != 0) {
        e = ts_kb_emit(kb, ts_kx_make(TS_KX_INDEX, TS_SCALAR_I64, TS_I64, axis[ax], 0, 0));
        if (step != 1) {
            c.i = step;
            e = ts_kb_emit(kb, ts_kx_make(TS_KX_MUL, TS_SCALAR_I64, TS_I64, e, ts_kb_emit(kb, c), 0));
        }
        if (start != 0) {
            c.i = start;
            e = ts_kb_emit(kb, ts_kx_make(TS_KX_ADD, TS_SCALAR_I64, TS_I64, e, ts_kb_emit(kb, c), 0));
        }
    } else {
        c.i = start;
        e = ts_kb_emit(kb, c);
    }
    if (ts_dtype_is_float(dt)) return ts_kb_emit(kb, ts_kx_make(TS_KX_CAST, TS_SCALAR_F32, dt, e, 0, 0));
    return e;
}

/* The entry computing element-wise node 'node' (or a gather) at axis. */
static int node_entry(struct ts_kb *kb, int node, const int *axis) {
    const struct ts_graph *g = kb->f->g;
    const struct ts_node *n = &g->nodes[node];
    if (n->op == TS_OP_GATHER) return ts_fuse_gather_entry(kb, node, axis);
    if (n->op == TS_OP_IOTA) return iota_entry(kb, n, axis);
    enum ts_dtype dt = g->values[n->outputs[0]].dtype;
    enum ts_scalar st = ts_scalar_of_dtype(dt);
    int e[3] = {0, 0, 0};
    for (int k = 0; k < n->ninputs && k < 3; k++) {
        int in_axis[TS_MAX_RANK];
        input_axis(g, n, k, axis, in_axis);
        e[k] = ts_kb_value(kb, n->inputs[k], in_axis);
    }
    if (n->op == TS_OP_WHERE) return ts_kb_emit(kb, ts_kx_make(TS_KX_SELECT, st, dt, e[0], e[1], e[2]));
    if (n->op == TS_OP_CAST) {
        enum ts_dtype from = g->values[n->inputs[0]].dtype;
        if (from == dt || (from == TS_I32 && dt == TS_I64)) return e[0]; /* exact */
        return ts_kb_emit(kb, ts_kx_make(TS_KX_CAST, st, dt, e[0], 0, 0));
    }
    enum ts_kx_op op = kx_of_op(n->op);
    if (n->op == TS_OP_GELU && strcmp(ts_node_attr(n, "approximate")->s, "tanh") == 0) op = TS_KX_GELU_TANH;
    int nargs = ts_kx_op_nargs(op);
    /* f16/bf16 math in F64, so that the one rounding to the dtype is from double */
    if (ts_dtype_is_float(dt) && dt != TS_F32 && !exact_op(op)) {
        st = TS_SCALAR_F64;
        for (int k = 0; k < nargs; k++) e[k] = ts_kb_convert(kb, e[k], st, dt);
    }
    struct ts_kx x = ts_kx_make(op, st, dt, e[0], nargs > 1 ? e[1] : 0, 0);
    if (op == TS_KX_DIV && !ts_dtype_is_float(dt)) {
        char where[300], msg[700];
        ts_fuse_node_where(g, node, where, sizeof where);
        snprintf(msg, sizeof msg, "%s: division by zero: the divisor '%s' is 0 at some element", where,
                 g->values[n->inputs[1]].name);
        x.i = ts_kb_error(kb, msg);
    }
    return ts_kb_round(kb, ts_kb_emit(kb, x), dt);
}

int ts_kb_value(struct ts_kb *kb, int v, const int *axis) {
    const struct ts_fuse *f = kb->f;
    const struct ts_value *val = &f->g->values[v];
    int p = val->kind == TS_VALUE_NODE ? val->producer : -1;
    if (p >= 0 && kb->root >= 0 && f->owner[p] == kb->root) {
        if (p == kb->heavy) return ts_fuse_heavy_entry(kb, axis);
        return node_entry(kb, p, axis);
    }
    struct ts_koperand op = ts_kb_operand(kb, v, axis);
    int a = ts_kb_input(kb, &op);
    return ts_kb_emit(kb, ts_kx_make(TS_KX_LOAD, ts_scalar_of_dtype(val->dtype), val->dtype, a, 0, 0));
}

/* ---- finishing ----------------------------------------------------------- */

/* Each operand's strides, for coalescing: inputs then the output. */
static int all_operands(struct ts_kb *kb, struct ts_koperand **ops) {
    int n = 0;
    for (int i = 0; i < kb->ninputs; i++) ops[n++] = &kb->inputs[i];
    ops[n++] = &kb->k.output;
    return n;
}

/* Compacts dims [lo, hi) of the iteration space: drops dims of size 1 and
 * merges neighbours that every operand walks as one. Returns the new hi. */
static int compact(struct ts_kernel *k, struct ts_koperand **ops, int nops, int lo, int hi) {
    int r = lo;
    for (int d = lo; d < hi; d++) {
        if (k->dims[d] == 1) continue;
        if (r > lo) {
            bool merge = true;
            for (int o = 0; o < nops && merge; o++) merge = ops[o]->strides[r - 1] == ops[o]->strides[d] * k->dims[d];
            if (merge) {
                k->dims[r - 1] *= k->dims[d];
                for (int o = 0; o < nops; o++) ops[o]->strides[r - 1] = ops[o]->strides[d];
                continue;
            }
        }
        k->dims[r] = k->dims[d];
        for (int o = 0; o < nops; o++) ops[o]->strides[r] = ops[o]->strides[d];
        r++;
    }
    /* shift what follows down */
    int gone = hi - r;
    for (int d = hi; d < k->rank; d++) {
        k->dims[d - gone] = k->dims[d];
        for (int o = 0; o < nops; o++) ops[o]->strides[d - gone] = ops[o]->strides[d];
    }
    for (int d = k->rank - gone; d < TS_MAX_RANK; d++) {
        k->dims[d] = 0;
        for (int o = 0; o < nops; o++) ops[o]->strides[d] = 0;
    }
    k->rank -= gone;
    return r;
}

/* Fewer, longer dims for the emitters: POINTWISE as a whole (then one huge
 * row is split so the thread pool still has rows to share), ROWWISE rows and
 * reduced dims apart, GEMM batch dims. Kernels that read INDEX keep their
 * dims (the index has a meaning); empty kernels stay as they are. */
static void coalesce(struct ts_kb *kb) {
    struct ts_kernel *k = &kb->k;
    for (int i = 0; i < kb->nexpr; i++)
        if (kb->expr[i].op == TS_KX_INDEX) return;
    for (int d = 0; d < k->rank; d++)
        if (k->dims[d] == 0) return;
    struct ts_koperand **ops = malloc((size_t)(kb->ninputs + 1) * sizeof *ops);
    TS_ASSERT(ops != NULL);
    int nops = all_operands(kb, ops);
    switch (k->kind) {
    case TS_KERNEL_POINTWISE: {
        int r = compact(k, ops, nops, 0, k->rank);
        int64_t rows = 1;
        for (int d = 0; d + 1 < r; d++) rows *= k->dims[d];
        if (r >= 1 && r < TS_MAX_RANK && rows < 8 && k->dims[r - 1] > 4096) {
            int64_t n = k->dims[r - 1], c = 4096;
            while (c >= 256 && n % c) c--;
            if (c >= 256) {
                k->dims[r - 1] = n / c;
                k->dims[r] = c;
                for (int o = 0; o < nops; o++) {
                    ops[o]->strides[r] = ops[o]->strides[r - 1];
                    ops[o]->strides[r - 1] *= c;
                }
                k->rank = r + 1;
            }
        }
        break;
    }
    case TS_KERNEL_ROWWISE:
        k->nouter = compact(k, ops, nops, 0, k->nouter);
        compact(k, ops, nops, k->nouter, k->rank);
        break;
    case TS_KERNEL_GEMM: compact(k, ops, nops, 0, k->rank - 2); break;
    default: break;
    }
    free(ops);
}

static void *arena_copy(struct ts_arena *a, const void *p, size_t bytes) {
    void *q = ts_arena_alloc(a, bytes ? bytes : 1);
    if (bytes) memcpy(q, p, bytes);
    return q;
}

/* Drops entries no root reads (a load replaced by a wider one, a cast the
 * store repeats), keeping the order, so ROW still follows x. */
static void drop_dead(struct ts_kb *kb) {
    struct ts_kernel *k = &kb->k;
    int n = kb->nexpr;
    if (n == 0) return;
    int *map = calloc((size_t)n, sizeof *map);
    TS_ASSERT(map != NULL);
    if (k->out_root >= 0) map[k->out_root] = 1;
    if (k->x_root >= 0) map[k->x_root] = 1;
    for (int i = n - 1; i >= 0; i--) {
        if (!map[i]) continue;
        const struct ts_kx *x = &kb->expr[i];
        int nargs = ts_kx_op_nargs(x->op);
        if (x->op == TS_KX_LOAD_AT) map[x->b] = 1;
        else {
            if (nargs > 0) map[x->a] = 1;
            if (nargs > 1) map[x->b] = 1;
            if (nargs > 2) map[x->c] = 1;
        }
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!map[i]) continue;
        struct ts_kx x = kb->expr[i];
        int nargs = ts_kx_op_nargs(x.op);
        if (x.op == TS_KX_LOAD_AT) x.b = map[x.b] - 1;
        else {
            if (nargs > 0) x.a = map[x.a] - 1;
            if (nargs > 1) x.b = map[x.b] - 1;
            if (nargs > 2) x.c = map[x.c] - 1;
        }
        kb->expr[m] = x;
        map[i] = ++m; /* new index + 1 */
    }
    if (k->out_root >= 0) k->out_root = map[k->out_root] - 1;
    if (k->x_root >= 0) k->x_root = map[k->x_root] - 1;
    kb->nexpr = m;
    free(map);
}

void ts_kb_commit(struct ts_kb *kb, int root_entry) {
    struct ts_fuse *f = kb->f;
    struct ts_kernel *k = &kb->k;
    int root = root_entry;
    /* The store rounds (or wraps) to the output's dtype: a final cast to it is redundant. */
    if (root >= 0 && root != k->x_root) {
        const struct ts_kx *x = &kb->expr[root];
        enum ts_scalar from = kb->expr[x->a].type;
        bool floats = x->type == TS_SCALAR_F32 && (from == TS_SCALAR_F32 || from == TS_SCALAR_F64);
        if (x->op == TS_KX_CAST && x->dtype == k->output.dtype && (floats || (from == x->type && from == TS_SCALAR_I64))) {
            root = x->a;
        }
    }
    k->out_root = root;
    drop_dead(kb);
    if ((k->kind == TS_KERNEL_GEMM || k->kind == TS_KERNEL_ATTENTION) && kb->nexpr == 1 &&
        kb->expr[0].op == TS_KX_ACC) {
        k->out_root = -1;
        kb->nexpr = 0;
    }
    coalesce(kb);

    struct ts_arena *a = f->g->arena;
    k->inputs = arena_copy(a, kb->inputs, (size_t)kb->ninputs * sizeof *kb->inputs);
    k->ninputs = kb->ninputs;
    k->expr = arena_copy(a, kb->expr, (size_t)kb->nexpr * sizeof *kb->expr);
    k->nexpr = kb->nexpr;
    k->absorbed = arena_copy(a, kb->absorbed, (size_t)kb->nabsorbed * sizeof *kb->absorbed);
    k->nabsorbed = kb->nabsorbed;
    k->errors = arena_copy(a, kb->errors, (size_t)kb->nerrors * sizeof *kb->errors);
    k->nerrors = kb->nerrors;
    k->name = ts_arena_printf(a, "k%d_%s", f->nkernels, ts_kernel_kind_name(k->kind));
    ts_sched_default_cpu(k, f->o->vector_width);
    free(kb->inputs);
    free(kb->expr);
    free(kb->absorbed);
    free(kb->errors);
    f->kernels = grow(f->kernels, &f->cap_kernels, f->nkernels, sizeof *f->kernels);
    f->kernels[f->nkernels++] = *k;
}

void ts_kb_finish(struct ts_kb *kb, int out_value, const int *axis, int root_entry) {
    kb->k.output = ts_kb_operand(kb, out_value, axis);
    ts_kb_commit(kb, root_entry);
}

void ts_fuse_copy(struct ts_fuse *f, int src_value, const struct ts_fview *src, const struct ts_fview *dst,
                  int rank, const int64_t *dims, const char *absorbed) {
    struct ts_kb kb;
    ts_kb_init(&kb, f, TS_KERNEL_POINTWISE, -1);
    enum ts_dtype dt = f->g->values[src_value].dtype;
    int axis[TS_MAX_RANK];
    for (int i = 0; i < rank; i++) axis[i] = i;
    kb.k.rank = rank;
    for (int i = 0; i < rank; i++) kb.k.dims[i] = dims[i];
    struct ts_koperand in = ts_kb_view_operand(src, dt, rank, dims, axis);
    int a = ts_kb_input(&kb, &in);
    int e = ts_kb_emit(&kb, ts_kx_make(TS_KX_LOAD, ts_scalar_of_dtype(dt), dt, a, 0, 0));
    if (absorbed) ts_kb_absorb(&kb, absorbed);
    kb.k.output = ts_kb_view_operand(dst, dt, rank, dims, axis);
    ts_kb_commit(&kb, e);
}
