/* emit_rowwise.c — the ROWWISE kernel for the CPU. Per row of the task: x
 * (the expression at x_root) over the inner dims is gathered into the f32
 * scratch row; reductions run over that contiguous copy with several vector
 * accumulators (softmax: max, then exp and sum, storing the exps back;
 * layernorm: mean, then the variance around it; rmsnorm: mean of squares);
 * then ROW and the output expression are evaluated and stored per element
 * (softmax, norms) or once per row (sum, mean, max). */
#include <math.h>

#include "internal.h"

#define TS_UNROLL 4 /* independent vector accumulators in a reduction */

/* ---- walking the inner dims ------------------------------------------------------- */

typedef void (*ts_row_visit)(struct ts_llvm *L, struct ts_llvm_env *env, LLVMValueRef p, void *ctx);

/* Calls visit for every element of the inner dims [nouter, rank), with env's
 * inner indices set and p the element's flat position in the row; the last
 * dim advances vw lanes at a time (env->width), then one at a time. */
static void walk_inner(struct ts_llvm *L, struct ts_llvm_env *env, int vw, ts_row_visit visit, void *ctx) {
    const struct ts_kernel *k = L->k;
    int rank = k->rank;
    if (k->nouter == rank) {
        env->width = 1;
        visit(L, env, ts_llvm_i64(L, 0), ctx);
        return;
    }
    struct ts_llvm_loop loops[TS_MAX_RANK];
    LLVMValueRef p = ts_llvm_i64(L, 0);
    int64_t stride = k->dims[rank - 1];
    int64_t istride[TS_MAX_RANK];
    for (int dd = rank - 2; dd >= k->nouter; dd--) {
        istride[dd] = stride;
        stride *= k->dims[dd];
    }
    for (int dd = k->nouter; dd < rank - 1; dd++) {
        env->index[dd] = ts_llvm_loop_begin(L, &loops[dd], ts_llvm_i64(L, 0), ts_llvm_i64(L, k->dims[dd]),
                                            ts_llvm_i64(L, 1), "in");
        p = LLVMBuildNSWAdd(L->b, p, LLVMBuildNSWMul(L->b, env->index[dd], ts_llvm_i64(L, istride[dd]), ""), "");
    }
    int64_t n = k->dims[rank - 1];
    int64_t nvec = vw > 1 && n >= vw ? n / vw * vw : 0;
    env->vector_dim = rank - 1;
    if (nvec > 0) {
        struct ts_llvm_loop jl;
        env->width = vw;
        LLVMValueRef j = ts_llvm_loop_begin(L, &jl, ts_llvm_i64(L, 0), ts_llvm_i64(L, nvec), ts_llvm_i64(L, vw), "j");
        env->index[rank - 1] = j;
        visit(L, env, LLVMBuildNSWAdd(L->b, p, j, "p"), ctx);
        ts_llvm_loop_end(L, &jl);
    }
    if (nvec < n) {
        struct ts_llvm_loop jl;
        env->width = 1;
        LLVMValueRef j = ts_llvm_loop_begin(L, &jl, ts_llvm_i64(L, nvec), ts_llvm_i64(L, n), ts_llvm_i64(L, 1), "jt");
        env->index[rank - 1] = j;
        visit(L, env, LLVMBuildNSWAdd(L->b, p, j, "p"), ctx);
        ts_llvm_loop_end(L, &jl);
    }
    for (int dd = rank - 2; dd >= k->nouter; dd--) ts_llvm_loop_end(L, &loops[dd]);
}

static LLVMValueRef scratch_ptr(struct ts_llvm *L, LLVMValueRef p) {
    return LLVMBuildGEP2(L->b, L->t_f32, L->scratch, &p, 1, "s");
}

static LLVMValueRef fvec(struct ts_llvm *L, double v, int w) {
    LLVMValueRef c = ts_llvm_f32(L, v), lanes[64];
    if (w <= 1) return c;
    for (int i = 0; i < w; i++) lanes[i] = c;
    return LLVMConstVector(lanes, (unsigned)w);
}

/* w copies of a run-time f32 */
static LLVMValueRef fsplat(struct ts_llvm *L, LLVMValueRef v, int w) {
    if (w <= 1) return v;
    LLVMTypeRef vt = LLVMVectorType(L->t_f32, (unsigned)w);
    LLVMValueRef one = LLVMBuildInsertElement(L->b, LLVMGetPoison(vt), v, ts_llvm_i32(L, 0), "");
    return LLVMBuildShuffleVector(L->b, one, LLVMGetPoison(vt), LLVMConstNull(LLVMVectorType(L->t_i32, (unsigned)w)), "");
}

/* Pass 1: x → scratch[p] as f32. */
static void visit_gather(struct ts_llvm *L, struct ts_llvm_env *env, LLVMValueRef p, void *ctx) {
    (void)ctx;
    const struct ts_kernel *k = L->k;
    LLVMValueRef x = ts_llvm_expr(L, k->x_root, env);
    if (k->expr[k->x_root].type == TS_SCALAR_F64)
        x = LLVMBuildFPTrunc(L->b, x, ts_llvm_scalar_type(L, TS_SCALAR_F32, env->width), "");
    ts_llvm_store(L, TS_F32, scratch_ptr(L, p), 1, env->width, x);
}

/* ---- reductions over the scratch row ----------------------------------------------- */

enum ts_red {
    TS_RED_SUM,    /* Σ x */
    TS_RED_SUMSQ,  /* Σ x² */
    TS_RED_SUMDEV, /* Σ (x - c)² */
    TS_RED_MAX,    /* max x, NaN propagating */
    TS_RED_EXPSUM, /* Σ exp(x - c), storing each exp back to the scratch row */
};

/* max with NaN propagation (the reference's "v > acc || isnan(v)") */
static LLVMValueRef fmax_nan(struct ts_llvm *L, LLVMValueRef a, LLVMValueRef b) {
    LLVMValueRef gt = LLVMBuildFCmp(L->b, LLVMRealOGT, a, b, "");
    LLVMValueRef r = LLVMBuildSelect(L->b, gt, a, b, "");
    LLVMValueRef nan = LLVMBuildFCmp(L->b, LLVMRealUNO, a, b, "");
    return LLVMBuildSelect(L->b, nan, LLVMBuildFAdd(L->b, a, b, ""), r, "max");
}

static LLVMValueRef combine(struct ts_llvm *L, enum ts_red red, LLVMValueRef acc, LLVMValueRef v) {
    return red == TS_RED_MAX ? fmax_nan(L, acc, v) : LLVMBuildFAdd(L->b, acc, v, "");
}

/* exp of every lane, with the vectorized exp of vmath.c (the scalar tail
 * computes exactly what a lane does). */
static LLVMValueRef exp_lanes(struct ts_llvm *L, LLVMValueRef x, int w) {
    (void)w;
    return ts_llvm_vexp(L, x);
}

/* The element value a reduction adds: x, x², (x - c)² or exp(x - c). */
static LLVMValueRef red_term(struct ts_llvm *L, enum ts_red red, LLVMValueRef ptr, LLVMValueRef c, int w) {
    LLVMValueRef x = ts_llvm_load(L, TS_F32, ptr, 1, w);
    switch (red) {
    case TS_RED_SUM:
    case TS_RED_MAX: return x;
    case TS_RED_SUMSQ: return LLVMBuildFMul(L->b, x, x, "");
    case TS_RED_SUMDEV: {
        LLVMValueRef dv = LLVMBuildFSub(L->b, x, fsplat(L, c, w), "");
        return LLVMBuildFMul(L->b, dv, dv, "");
    }
    case TS_RED_EXPSUM: {
        LLVMValueRef e = exp_lanes(L, LLVMBuildFSub(L->b, x, fsplat(L, c, w), ""), w);
        ts_llvm_store(L, TS_F32, ptr, 1, w, e);
        return e;
    }
    }
    TS_ASSERT(!"bad reduction");
    return NULL;
}

/* An alloca in the entry block (SROA turns it into registers). */
static LLVMValueRef entry_alloca(struct ts_llvm *L, LLVMTypeRef t, const char *name) {
    LLVMBuilderRef b = LLVMCreateBuilderInContext(L->ctx);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(L->fn);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(b, first);
    else
        LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef a = LLVMBuildAlloca(b, t, name);
    LLVMDisposeBuilder(b);
    return a;
}

/* Folds a vector's lanes into one scalar, pairwise. */
static LLVMValueRef horizontal(struct ts_llvm *L, enum ts_red red, LLVMValueRef v, int w) {
    LLVMValueRef lanes[64];
    for (int i = 0; i < w; i++) lanes[i] = LLVMBuildExtractElement(L->b, v, ts_llvm_i32(L, i), "");
    for (int n = w; n > 1; n = (n + 1) / 2) {
        for (int i = 0; i < n / 2; i++) lanes[i] = combine(L, red, lanes[2 * i], lanes[2 * i + 1]);
        if (n % 2) lanes[n / 2] = lanes[n - 1];
    }
    return lanes[0];
}

/* Reduces scratch[0 .. cnt) to one f32: TS_UNROLL vector accumulators over
 * whole groups, then single vectors, then a scalar tail. */
static LLVMValueRef reduce_row(struct ts_llvm *L, enum ts_red red, int64_t cnt, int vw, LLVMValueRef c) {
    /* -0.0 is the exact identity of addition (a sum of one -0 stays -0) */
    double ident = red == TS_RED_MAX ? -INFINITY : -0.0;
    LLVMValueRef total = ts_llvm_f32(L, ident);
    int64_t done = 0;
    if (vw > 1 && cnt >= vw) {
        LLVMTypeRef vt = LLVMVectorType(L->t_f32, (unsigned)vw);
        LLVMValueRef acc[TS_UNROLL];
        for (int u = 0; u < TS_UNROLL; u++) {
            acc[u] = entry_alloca(L, vt, "acc");
            LLVMBuildStore(L->b, fvec(L, ident, vw), acc[u]);
        }
        int64_t group = (int64_t)vw * TS_UNROLL, ngroup = cnt / group * group, nvec = cnt / vw * vw;
        if (ngroup > 0) {
            struct ts_llvm_loop lp;
            LLVMValueRef i = ts_llvm_loop_begin(L, &lp, ts_llvm_i64(L, 0), ts_llvm_i64(L, ngroup),
                                                ts_llvm_i64(L, group), "ri");
            for (int u = 0; u < TS_UNROLL; u++) {
                LLVMValueRef at = LLVMBuildNSWAdd(L->b, i, ts_llvm_i64(L, (int64_t)u * vw), "");
                LLVMValueRef t = red_term(L, red, scratch_ptr(L, at), c, vw);
                LLVMBuildStore(L->b, combine(L, red, LLVMBuildLoad2(L->b, vt, acc[u], ""), t), acc[u]);
            }
            ts_llvm_loop_end(L, &lp);
        }
        if (nvec > ngroup) {
            struct ts_llvm_loop lp;
            LLVMValueRef i = ts_llvm_loop_begin(L, &lp, ts_llvm_i64(L, ngroup), ts_llvm_i64(L, nvec),
                                                ts_llvm_i64(L, vw), "rv");
            LLVMValueRef t = red_term(L, red, scratch_ptr(L, i), c, vw);
            LLVMBuildStore(L->b, combine(L, red, LLVMBuildLoad2(L->b, vt, acc[0], ""), t), acc[0]);
            ts_llvm_loop_end(L, &lp);
        }
        LLVMValueRef v = LLVMBuildLoad2(L->b, vt, acc[0], "");
        for (int u = 1; u < TS_UNROLL; u++) v = combine(L, red, v, LLVMBuildLoad2(L->b, vt, acc[u], ""));
        total = horizontal(L, red, v, vw);
        done = nvec;
    }
    if (done < cnt) {
        LLVMValueRef acc = entry_alloca(L, L->t_f32, "acc1");
        LLVMBuildStore(L->b, total, acc);
        struct ts_llvm_loop lp;
        LLVMValueRef i = ts_llvm_loop_begin(L, &lp, ts_llvm_i64(L, done), ts_llvm_i64(L, cnt),
                                            ts_llvm_i64(L, 1), "rt");
        LLVMValueRef t = red_term(L, red, scratch_ptr(L, i), c, 1);
        LLVMBuildStore(L->b, combine(L, red, LLVMBuildLoad2(L->b, L->t_f32, acc, ""), t), acc);
        ts_llvm_loop_end(L, &lp);
        total = LLVMBuildLoad2(L->b, L->t_f32, acc, "");
    }
    return total;
}

/* ---- the post pass ------------------------------------------------------------------- */

/* ROW per element: (s[p] - shift) · scale  (softmax: shift 0, scale 1/sum is
 * done as a division instead, for accuracy). */
struct ts_post {
    enum ts_row_op op;
    LLVMValueRef shift, scale;  /* f32 scalars (NULL where unused) */
};

static void store_result(struct ts_llvm *L, struct ts_llvm_env *env) {
    const struct ts_kernel *k = L->k;
    const struct ts_koperand *o = &k->output;
    /* out_root -1: ROW itself is the result */
    LLVMValueRef v = k->out_root >= 0 ? ts_llvm_expr(L, k->out_root, env) : env->row;
    LLVMValueRef ptr = ts_llvm_elem_ptr(L, o, L->base[k->ninputs], ts_llvm_operand_index(L, o, env));
    int64_t stride = env->width > 1 ? o->strides[env->vector_dim] : 0;
    ts_llvm_store(L, o->dtype, ptr, stride, env->width, v);
}

static void visit_post(struct ts_llvm *L, struct ts_llvm_env *env, LLVMValueRef p, void *ctx) {
    const struct ts_post *post = ctx;
    int w = env->width;
    LLVMValueRef s = ts_llvm_load(L, TS_F32, scratch_ptr(L, p), 1, w);
    if (post->op == TS_ROW_SOFTMAX) {
        env->row = LLVMBuildFDiv(L->b, s, fsplat(L, post->scale, w), "row");
    } else {
        if (post->shift) s = LLVMBuildFSub(L->b, s, fsplat(L, post->shift, w), "");
        env->row = LLVMBuildFMul(L->b, s, fsplat(L, post->scale, w), "row");
    }
    store_result(L, env);
}

/* 1 / sqrt(v + eps) */
static LLVMValueRef inv_std(struct ts_llvm *L, LLVMValueRef v, double eps) {
    LLVMValueRef t = LLVMBuildFAdd(L->b, v, ts_llvm_f32(L, eps), "");
    LLVMTypeRef ft = L->t_f32;
    t = ts_llvm_call_intrinsic(L, "llvm.sqrt", &ft, 1, &t, 1);
    return LLVMBuildFDiv(L->b, ts_llvm_f32(L, 1.0), t, "inv");
}

enum ts_status ts_llvm_emit_rowwise(struct ts_llvm *L, struct ts_diag *d) {
    const struct ts_kernel *k = L->k;
    if (k->x_root < 0 || k->x_root >= k->nexpr ||
        (k->expr[k->x_root].type != TS_SCALAR_F32 && k->expr[k->x_root].type != TS_SCALAR_F64))
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                           "rowwise kernel reduces a value that is not a float (%s)",
                           k->x_root >= 0 && k->x_root < k->nexpr ? ts_scalar_name(k->expr[k->x_root].type) : "?");
    int vw = k->sched.rowwise.vector_width;
    if (vw < 1) vw = 1;
    if (vw > 64) return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "vector width %d is above 64", vw);
    int64_t rpt = k->sched.rowwise.rows_per_task;
    TS_ASSERT(rpt > 0 && k->nouter >= 0 && k->nouter <= k->rank);

    int64_t rows = 1, cnt = 1;
    for (int i = 0; i < k->nouter; i++) rows *= k->dims[i];
    for (int i = k->nouter; i < k->rank; i++) cnt *= k->dims[i];

    LLVMValueRef rpt_v = ts_llvm_i64(L, rpt), rows_v = ts_llvm_i64(L, rows);
    LLVMValueRef rb = LLVMBuildNSWMul(L->b, L->begin, rpt_v, "rb");
    LLVMValueRef re = LLVMBuildNSWMul(L->b, L->end, rpt_v, "");
    re = LLVMBuildSelect(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, re, rows_v, ""), re, rows_v, "re");

    struct ts_llvm_env env = {.width = 1, .vector_dim = k->rank > 0 ? k->rank - 1 : 0};
    struct ts_llvm_loop rl;
    LLVMValueRef r = ts_llvm_loop_begin(L, &rl, rb, re, ts_llvm_i64(L, 1), "row");
    /* the row's outer indices */
    LLVMValueRef rem = r;
    for (int dd = k->nouter - 1; dd >= 0; dd--) {
        if (k->dims[dd] == 1) {
            env.index[dd] = ts_llvm_i64(L, 0);
        } else if (dd == 0) {
            env.index[dd] = rem;
        } else {
            LLVMValueRef dim = ts_llvm_i64(L, k->dims[dd]);
            env.index[dd] = LLVMBuildURem(L->b, rem, dim, "ix");
            rem = LLVMBuildUDiv(L->b, rem, dim, "");
        }
    }

    if (cnt > 0) walk_inner(L, &env, vw, visit_gather, NULL);
    LLVMValueRef n_v = ts_llvm_f32(L, (double)cnt);
    struct ts_post post = {k->row_op, NULL, NULL};
    LLVMValueRef row = NULL;
    switch (k->row_op) {
    case TS_ROW_SOFTMAX: {
        LLVMValueRef mx = reduce_row(L, TS_RED_MAX, cnt, vw, NULL);
        post.scale = reduce_row(L, TS_RED_EXPSUM, cnt, vw, mx);
        break;
    }
    case TS_ROW_LAYERNORM: {
        LLVMValueRef mean = LLVMBuildFDiv(L->b, reduce_row(L, TS_RED_SUM, cnt, vw, NULL), n_v, "mean");
        LLVMValueRef var = LLVMBuildFDiv(L->b, reduce_row(L, TS_RED_SUMDEV, cnt, vw, mean), n_v, "var");
        post.shift = mean;
        post.scale = inv_std(L, var, k->eps);
        break;
    }
    case TS_ROW_RMSNORM: {
        LLVMValueRef ms = LLVMBuildFDiv(L->b, reduce_row(L, TS_RED_SUMSQ, cnt, vw, NULL), n_v, "ms");
        post.scale = inv_std(L, ms, k->eps);
        break;
    }
    case TS_ROW_SUM:
        /* a sum of nothing is 0 (not the -0 identity) */
        row = cnt > 0 ? reduce_row(L, TS_RED_SUM, cnt, vw, NULL) : ts_llvm_f32(L, 0.0);
        break;
    case TS_ROW_MEAN: row = LLVMBuildFDiv(L->b, reduce_row(L, TS_RED_SUM, cnt, vw, NULL), n_v, "mean"); break;
    case TS_ROW_MAX: row = reduce_row(L, TS_RED_MAX, cnt, vw, NULL); break;
    default:
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "row op %s is not supported",
                           ts_row_op_name(k->row_op));
    }

    if (ts_row_op_is_elementwise(k->row_op)) {
        if (cnt > 0) walk_inner(L, &env, vw, visit_post, &post);
    } else {
        /* one value per row: the output's inner strides are 0, so the
         * expression runs once, at inner index 0 */
        env.width = 1;
        for (int dd = k->nouter; dd < k->rank; dd++) env.index[dd] = ts_llvm_i64(L, 0);
        env.row = row;
        store_result(L, &env);
    }
    ts_llvm_loop_end(L, &rl);
    LLVMBuildRet(L->b, ts_llvm_i32(L, 0));
    return TS_OK;
}
