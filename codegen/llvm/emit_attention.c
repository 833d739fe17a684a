/* emit_attention.c — the ATTENTION emitter: softmax(q·kᵀ·scale + mask)·v for
 * one block of query rows per task, walking the keys in blocks with an online
 * softmax (flash-attention style). q, k and v tiles are converted to f32 in the
 * worker's scratch; scores, exponentials and p·v are vectorized, in f32. */
#include <math.h>

#include "internal.h"

/* The scratch layout in f32 elements (ts_kernel_scratch_bytes gives its size):
 *   S   [bq][bk]  scores, then probabilities, of the current key block
 *   Q   [bq][d]   the query rows, pre-multiplied by scale
 *   ACC [bq][dv]  un-normalized outputs
 *   M   [bq]      running max of each row
 *   SUM [bq]      running sum of exp(score − max) of each row
 *   KT  [d][bk]   the key block transposed, so that scores vectorize along keys
 *   V   [bk][dv]  the value block */
enum {
    MAXROWS = 4, /* query rows of a register block */
    MAXVEC = 8,  /* vectors per row of a register block */
};

struct attn {
    struct ts_llvm *L;
    const struct ts_kernel *k;
    LLVMBuilderRef entry;      /* allocas go at the top of the entry block */
    int vw;                    /* f32 lanes of the target */
    int64_t bq, bk, hd, dv;    /* block sizes, head dims */
    LLVMValueRef S, Q, ACC, M, SUM, KT, V;
    /* per task */
    LLVMValueRef b, h, kh, i0, nq;
    LLVMValueRef qbase, kbase, vbase, mbase, obase; /* operand offsets of (b, head) */
    /* per key block */
    LLVMValueRef j0;
    int vecs_k, vecs_v;        /* register block: vectors per row for scores, for p·v */
    /* per row (piece_q, piece_out), or per group of rows [r, r + rows) */
    LLVMValueRef r, i, l;
    int rows, rr;              /* rows in the group; the row being updated */
    LLVMValueRef ri[MAXROWS];  /* query index of each row of the group */
    LLVMValueRef nvmax, mnew;  /* keys the group's last row sees; the row's new max */
    LLVMValueRef alpha[MAXROWS]; /* slots: exp(old max − new max) of each row */
    LLVMValueRef mx[2], sum[2];  /* reduction slots: [0] scalar, [1] vector */
};

/* ---- small builders ------------------------------------------------------ */

static LLVMTypeRef fty(struct attn *A, int w) {
    return w > 1 ? LLVMVectorType(A->L->t_f32, (unsigned)w) : A->L->t_f32;
}

static LLVMValueRef cst(struct attn *A, int64_t v) { return ts_llvm_i64(A->L, v); }

static LLVMValueRef add(struct attn *A, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildNSWAdd(A->L->b, x, y, "");
}
static LLVMValueRef sub(struct attn *A, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildNSWSub(A->L->b, x, y, "");
}
static LLVMValueRef mul(struct attn *A, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildNSWMul(A->L->b, x, y, "");
}
static LLVMValueRef mulc(struct attn *A, LLVMValueRef x, int64_t c) {
    return c == 0 ? cst(A, 0) : c == 1 ? x : mul(A, x, cst(A, c));
}
static LLVMValueRef smin(struct attn *A, LLVMValueRef x, LLVMValueRef y) {
    LLVMValueRef lt = LLVMBuildICmp(A->L->b, LLVMIntSLT, x, y, "");
    return LLVMBuildSelect(A->L->b, lt, x, y, "");
}
static LLVMValueRef smax(struct attn *A, LLVMValueRef x, LLVMValueRef y) {
    LLVMValueRef gt = LLVMBuildICmp(A->L->b, LLVMIntSGT, x, y, "");
    return LLVMBuildSelect(A->L->b, gt, x, y, "");
}

static LLVMValueRef splat(struct attn *A, LLVMValueRef v, int w) {
    struct ts_llvm *L = A->L;
    if (w <= 1) return v;
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(v), (unsigned)w);
    LLVMValueRef one = LLVMBuildInsertElement(L->b, LLVMGetPoison(vt), v, ts_llvm_i32(L, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(L->t_i32, (unsigned)w));
    return LLVMBuildShuffleVector(L->b, one, LLVMGetPoison(vt), zeros, "");
}
static LLVMValueRef fc(struct attn *A, double v, int w) { return splat(A, ts_llvm_f32(A->L, v), w); }

/* &base[at] for an f32 scratch array. */
static LLVMValueRef fptr(struct attn *A, LLVMValueRef base, LLVMValueRef at) {
    return LLVMBuildInBoundsGEP2(A->L->b, A->L->t_f32, base, &at, 1, "");
}
/* Scratch loads and stores: element-aligned (the regions are not padded). */
static LLVMValueRef ldf(struct attn *A, LLVMValueRef ptr, int w) {
    LLVMValueRef v = LLVMBuildLoad2(A->L->b, fty(A, w), ptr, "");
    LLVMSetAlignment(v, 4);
    return v;
}
static void stf(struct attn *A, LLVMValueRef ptr, LLVMValueRef v) {
    LLVMSetAlignment(LLVMBuildStore(A->L->b, v, ptr), 4);
}

/* A stack slot of type t, placed in the entry block so that SROA turns it into
 * registers (accumulators carried around loops). */
static LLVMValueRef slot(struct attn *A, LLVMTypeRef t) {
    return LLVMBuildAlloca(A->entry, t, "acc");
}
static LLVMValueRef ldslot(struct attn *A, LLVMValueRef s, int w) {
    return LLVMBuildLoad2(A->L->b, fty(A, w), s, "");
}

static LLVMValueRef intr2(struct attn *A, const char *name, LLVMValueRef x, LLVMValueRef y) {
    LLVMTypeRef t = LLVMTypeOf(x);
    return ts_llvm_call_intrinsic(A->L, name, &t, 1, (LLVMValueRef[]){x, y}, 2);
}
/* x·y + z, fused where the target has FMA. */
static LLVMValueRef fmuladd(struct attn *A, LLVMValueRef x, LLVMValueRef y, LLVMValueRef z) {
    LLVMTypeRef t = LLVMTypeOf(x);
    return ts_llvm_call_intrinsic(A->L, "llvm.fmuladd", &t, 1, (LLVMValueRef[]){x, y, z}, 3);
}
/* max that propagates NaN (as the reference's max does). */
static LLVMValueRef fmaximum(struct attn *A, LLVMValueRef x, LLVMValueRef y) {
    return intr2(A, "llvm.maximum", x, y);
}

/* exp(x) for x <= 0 or NaN (all this kernel needs: score − running max, and
 * old max − new max), vectorized: vmath.c's exp (within 1 ulp, −inf gives 0). */
static LLVMValueRef vexp(struct attn *A, LLVMValueRef x, int w) {
    (void)w;
    return ts_llvm_vexp(A->L, x);
}

/* Horizontal reductions of a vector v (w lanes) to a scalar. */
static LLVMValueRef hmax(struct attn *A, LLVMValueRef v, int w) {
    if (w <= 1) return v;
    LLVMTypeRef t = LLVMTypeOf(v);
    return ts_llvm_call_intrinsic(A->L, "llvm.vector.reduce.fmaximum", &t, 1, &v, 1);
}
static LLVMValueRef hsum(struct attn *A, LLVMValueRef v, int w) {
    if (w <= 1) return v;
    LLVMTypeRef t = LLVMTypeOf(v);
    return ts_llvm_call_intrinsic(A->L, "llvm.vector.reduce.fadd", &t, 1,
                                  (LLVMValueRef[]){ts_llvm_f32(A->L, -0.0), v}, 2);
}

/* if (cond) { … } : returns the block to close with end_if. */
static LLVMBasicBlockRef begin_if(struct attn *A, LLVMValueRef cond) {
    struct ts_llvm *L = A->L;
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "then");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "join");
    LLVMBuildCondBr(L->b, cond, then, join);
    LLVMPositionBuilderAtEnd(L->b, then);
    return join;
}
static void end_if(struct attn *A, LLVMBasicBlockRef join) {
    LLVMBuildBr(A->L->b, join);
    LLVMPositionBuilderAtEnd(A->L->b, join);
}

/* ---- pieces: a range [0, n) covered by vectors, then scalars ------------- */

/* fn(A, j, nvec, w) handles elements [j, j + nvec·w): nvec vectors of w lanes
 * (w is the target's width, or 1 for the scalar tail), covering [from, n). */
typedef void (*piece_fn)(struct attn *A, LLVMValueRef j, int nvec, int w);

static void pieces(struct attn *A, LLVMValueRef from, LLVMValueRef n, int maxvec, piece_fn fn) {
    struct ts_llvm *L = A->L;
    LLVMValueRef start = from;
    struct ts_llvm_loop lp;
    if (A->vw > 1) {
        int64_t steps[2] = {(int64_t)maxvec * A->vw, A->vw};
        for (int s = maxvec > 1 ? 0 : 1; s < 2; s++) {
            LLVMValueRef end = sub(A, n, LLVMBuildSRem(L->b, sub(A, n, start), cst(A, steps[s]), ""));
            LLVMValueRef j = ts_llvm_loop_begin(L, &lp, start, end, cst(A, steps[s]), "j");
            fn(A, j, s == 0 ? maxvec : 1, A->vw);
            ts_llvm_loop_end(L, &lp);
            start = end;
        }
    }
    LLVMValueRef j = ts_llvm_loop_begin(L, &lp, start, n, cst(A, 1), "j");
    fn(A, j, 1, 1);
    ts_llvm_loop_end(L, &lp);
}

/* Element offset of operand op at (b-or-head offset base, row, col). */
static LLVMValueRef opnd_at(struct attn *A, const struct ts_koperand *op, LLVMValueRef base,
                            LLVMValueRef row, LLVMValueRef col) {
    return add(A, base, add(A, mulc(A, row, op->strides[2]), mulc(A, col, op->strides[3])));
}
/* Loads w elements of input 'in' (converted to f32) at (row, col..col+w). */
static LLVMValueRef load_in(struct attn *A, int in, LLVMValueRef base, LLVMValueRef row,
                            LLVMValueRef col, int w) {
    const struct ts_koperand *op = &A->k->inputs[in];
    LLVMValueRef p = ts_llvm_elem_ptr(A->L, op, A->L->base[in], opnd_at(A, op, base, row, col));
    return ts_llvm_load(A->L, op->dtype, p, op->strides[3], w);
}

/* ---- the steps of a task ------------------------------------------------- */

static void piece_init(struct attn *A, LLVMValueRef j, int nvec, int w) {
    for (int c = 0; c < nvec; c++) stf(A, fptr(A, A->ACC, add(A, j, cst(A, (int64_t)c * w))), fc(A, 0, w));
}

/* Q[r][t] = q[b, h, i0 + r, t] · scale */
static void piece_q(struct attn *A, LLVMValueRef t, int nvec, int w) {
    (void)nvec;
    LLVMValueRef v = load_in(A, 0, A->qbase, A->i, t, w);
    v = LLVMBuildFMul(A->L->b, v, fc(A, A->k->attn.scale, w), "");
    stf(A, fptr(A, A->Q, add(A, mulc(A, A->r, A->hd), t)), v);
}

/* KT[t][j] = k[b, kh, j0 + j, t] (A->r holds j here) */
static void piece_k(struct attn *A, LLVMValueRef t, int nvec, int w) {
    (void)nvec;
    struct ts_llvm *L = A->L;
    LLVMValueRef v = load_in(A, 1, A->kbase, add(A, A->j0, A->r), t, w);
    for (int l = 0; l < w; l++) {
        LLVMValueRef x = w > 1 ? LLVMBuildExtractElement(L->b, v, ts_llvm_i32(L, l), "") : v;
        LLVMValueRef at = add(A, mulc(A, add(A, t, cst(A, l)), A->bk), A->r);
        stf(A, fptr(A, A->KT, at), x);
    }
}

/* V[j][e] = v[b, kh, j0 + j, e] (A->r holds j here) */
static void piece_v(struct attn *A, LLVMValueRef e, int nvec, int w) {
    (void)nvec;
    LLVMValueRef v = load_in(A, 2, A->vbase, add(A, A->j0, A->r), e, w);
    stf(A, fptr(A, A->V, add(A, mulc(A, A->r, A->dv), e)), v);
}

/* S[r + rr][j..] = Q[r + rr]·KT[·][j..] (+ mask) for the rows of the group:
 * each key vector loaded once serves every row (register blocking). */
static void piece_scores(struct attn *A, LLVMValueRef j, int nvec, int w) {
    struct ts_llvm *L = A->L;
    LLVMValueRef acc[MAXROWS][MAXVEC], kv[MAXVEC];
    for (int rr = 0; rr < A->rows; rr++)
        for (int c = 0; c < nvec; c++) {
            acc[rr][c] = slot(A, fty(A, w));
            stf(A, acc[rr][c], fc(A, 0, w));
        }
    struct ts_llvm_loop lp;
    LLVMValueRef t = ts_llvm_loop_begin(L, &lp, cst(A, 0), cst(A, A->hd), cst(A, 1), "t");
    LLVMValueRef row = mulc(A, t, A->bk);
    for (int c = 0; c < nvec; c++)
        kv[c] = ldf(A, fptr(A, A->KT, add(A, row, add(A, j, cst(A, (int64_t)c * w)))), w);
    for (int rr = 0; rr < A->rows; rr++) {
        LLVMValueRef qa = add(A, mulc(A, add(A, A->r, cst(A, rr)), A->hd), t);
        LLVMValueRef q = splat(A, ldf(A, fptr(A, A->Q, qa), 1), w);
        for (int c = 0; c < nvec; c++) stf(A, acc[rr][c], fmuladd(A, q, kv[c], ldslot(A, acc[rr][c], w)));
    }
    ts_llvm_loop_end(L, &lp);
    for (int rr = 0; rr < A->rows; rr++)
        for (int c = 0; c < nvec; c++) {
            LLVMValueRef jj = add(A, j, cst(A, (int64_t)c * w));
            LLVMValueRef s = ldslot(A, acc[rr][c], w);
            if (A->k->attn.has_mask)
                s = LLVMBuildFAdd(L->b, s, load_in(A, 3, A->mbase, A->ri[rr], add(A, A->j0, jj), w), "");
            stf(A, fptr(A, A->S, add(A, mulc(A, add(A, A->r, cst(A, rr)), A->bk), jj)), s);
        }
}

/* The running max of row A->r + A->rr over S (NaN propagates). */
static void piece_max(struct attn *A, LLVMValueRef j, int nvec, int w) {
    LLVMValueRef mxs = A->mx[w > 1];
    LLVMValueRef mx = ldslot(A, mxs, w);
    LLVMValueRef srow = mulc(A, add(A, A->r, cst(A, A->rr)), A->bk);
    for (int c = 0; c < nvec; c++)
        mx = fmaximum(A, mx, ldf(A, fptr(A, A->S, add(A, srow, add(A, j, cst(A, (int64_t)c * w)))), w));
    stf(A, mxs, mx);
}

/* S[row][j..] = exp(S[row][j..] − m_new), summed. */
static void piece_exp(struct attn *A, LLVMValueRef j, int nvec, int w) {
    LLVMValueRef sums = A->sum[w > 1];
    LLVMValueRef sum = ldslot(A, sums, w);
    LLVMValueRef srow = mulc(A, add(A, A->r, cst(A, A->rr)), A->bk);
    for (int c = 0; c < nvec; c++) {
        LLVMValueRef p = fptr(A, A->S, add(A, srow, add(A, j, cst(A, (int64_t)c * w))));
        LLVMValueRef e = vexp(A, LLVMBuildFSub(A->L->b, ldf(A, p, w), splat(A, A->mnew, w), ""), w);
        stf(A, p, e);
        sum = LLVMBuildFAdd(A->L->b, sum, e, "");
    }
    stf(A, sums, sum);
}

/* S[row][j..] = 0: keys a row of the group does not see weigh nothing. */
static void piece_zero(struct attn *A, LLVMValueRef j, int nvec, int w) {
    LLVMValueRef srow = mulc(A, add(A, A->r, cst(A, A->rr)), A->bk);
    for (int c = 0; c < nvec; c++)
        stf(A, fptr(A, A->S, add(A, srow, add(A, j, cst(A, (int64_t)c * w)))), fc(A, 0, w));
}

/* ACC[row][e..] = ACC[row][e..]·alpha[row] + Σ_j S[row][j]·V[j][e..] for the
 * rows of the group, each value vector loaded once for every row. */
static void piece_pv(struct attn *A, LLVMValueRef e, int nvec, int w) {
    struct ts_llvm *L = A->L;
    LLVMValueRef acc[MAXROWS][MAXVEC], ptr[MAXROWS][MAXVEC], v[MAXVEC];
    for (int rr = 0; rr < A->rows; rr++) {
        LLVMValueRef arow = add(A, mulc(A, add(A, A->r, cst(A, rr)), A->dv), e);
        LLVMValueRef alpha = splat(A, ldslot(A, A->alpha[rr], 1), w);
        for (int c = 0; c < nvec; c++) {
            ptr[rr][c] = fptr(A, A->ACC, add(A, arow, cst(A, (int64_t)c * w)));
            acc[rr][c] = slot(A, fty(A, w));
            stf(A, acc[rr][c], LLVMBuildFMul(L->b, ldf(A, ptr[rr][c], w), alpha, ""));
        }
    }
    struct ts_llvm_loop lp;
    LLVMValueRef j = ts_llvm_loop_begin(L, &lp, cst(A, 0), A->nvmax, cst(A, 1), "j");
    LLVMValueRef vrow = add(A, mulc(A, j, A->dv), e);
    for (int c = 0; c < nvec; c++) v[c] = ldf(A, fptr(A, A->V, add(A, vrow, cst(A, (int64_t)c * w))), w);
    for (int rr = 0; rr < A->rows; rr++) {
        LLVMValueRef sa = add(A, mulc(A, add(A, A->r, cst(A, rr)), A->bk), j);
        LLVMValueRef p = splat(A, ldf(A, fptr(A, A->S, sa), 1), w);
        for (int c = 0; c < nvec; c++) stf(A, acc[rr][c], fmuladd(A, p, v[c], ldslot(A, acc[rr][c], w)));
    }
    ts_llvm_loop_end(L, &lp);
    for (int rr = 0; rr < A->rows; rr++)
        for (int c = 0; c < nvec; c++) stf(A, ptr[rr][c], ldslot(A, acc[rr][c], w));
}

/* The keys row i sees in the block at j0: causal rows stop at i + (sk − sq). */
static LLVMValueRef row_keys(struct attn *A, LLVMValueRef i, LLVMValueRef nk) {
    const struct ts_kernel *k = A->k;
    if (!k->attn.causal) return nk;
    LLVMValueRef lim = sub(A, add(A, i, cst(A, k->attn.sk - k->attn.sq + 1)), A->j0);
    return smax(A, smin(A, lim, nk), cst(A, 0));
}

/* Rows [r, r + rows) of the query block against the key block at j0: scores
 * for the group, then each row's online-softmax update of its max, sum and
 * probabilities, then p·v for the group. Rows see nondecreasing key counts,
 * so the last row's count bounds the group's work. */
static void emit_row_group(struct attn *A, LLVMValueRef r, int rows, LLVMValueRef nk) {
    struct ts_llvm *L = A->L;
    LLVMBuilderRef b = L->b;
    A->r = r;
    A->rows = rows;
    LLVMValueRef nv[MAXROWS];
    for (int rr = 0; rr < rows; rr++) {
        A->ri[rr] = add(A, A->i0, add(A, r, cst(A, rr)));
        nv[rr] = row_keys(A, A->ri[rr], nk);
    }
    A->nvmax = nv[rows - 1];
    LLVMBasicBlockRef some = begin_if(A, LLVMBuildICmp(b, LLVMIntSGT, A->nvmax, cst(A, 0), ""));
    pieces(A, cst(A, 0), A->nvmax, A->vecs_k, piece_scores);
    for (int rr = 0; rr < rows; rr++) {
        A->rr = rr;
        for (int s = 0; s < 2; s++) {
            stf(A, A->mx[s], fc(A, -INFINITY, s ? A->vw : 1));
            stf(A, A->sum[s], fc(A, 0, s ? A->vw : 1));
        }
        stf(A, A->alpha[rr], ts_llvm_f32(L, 1.0));
        pieces(A, cst(A, 0), nv[rr], 4, piece_max);
        LLVMValueRef mblk = ldslot(A, A->mx[0], 1);
        if (A->vw > 1) mblk = fmaximum(A, mblk, hmax(A, ldslot(A, A->mx[1], A->vw), A->vw));
        LLVMValueRef row = add(A, r, cst(A, rr));
        LLVMValueRef mptr = fptr(A, A->M, row), lptr = fptr(A, A->SUM, row);
        LLVMValueRef mold = ldf(A, mptr, 1);
        A->mnew = fmaximum(A, mold, mblk);
        /* Every score so far −inf (masked): nothing to add, and exp(−inf − −inf)
         * would be NaN; the row's probabilities are all zero. */
        LLVMValueRef live = LLVMBuildFCmp(b, LLVMRealUNE, A->mnew, ts_llvm_f32(L, -INFINITY), "");
        LLVMBasicBlockRef join = begin_if(A, live);
        stf(A, A->alpha[rr], vexp(A, LLVMBuildFSub(b, mold, A->mnew, ""), 1));
        pieces(A, cst(A, 0), nv[rr], 2, piece_exp);
        LLVMValueRef psum = ldslot(A, A->sum[0], 1);
        if (A->vw > 1) psum = LLVMBuildFAdd(b, psum, hsum(A, ldslot(A, A->sum[1], A->vw), A->vw), "");
        stf(A, lptr, fmuladd(A, ldf(A, lptr, 1), ldslot(A, A->alpha[rr], 1), psum));
        stf(A, mptr, A->mnew);
        end_if(A, join);
        LLVMValueRef from = LLVMBuildSelect(b, live, nv[rr], cst(A, 0), "");
        pieces(A, from, A->nvmax, 1, piece_zero);
    }
    pieces(A, cst(A, 0), cst(A, A->dv), A->vecs_v, piece_pv);
    end_if(A, some);
}

/* out[b, h, i, e..] = epilogue(ACC[r][e..] / sum), 0 for a row that saw no key. */
static void piece_out(struct attn *A, LLVMValueRef e, int nvec, int w) {
    struct ts_llvm *L = A->L;
    const struct ts_kernel *k = A->k;
    (void)nvec;
    LLVMValueRef a = ldf(A, fptr(A, A->ACC, add(A, mulc(A, A->r, A->dv), e)), w);
    LLVMValueRef lv = splat(A, A->l, w);
    LLVMValueRef empty = LLVMBuildFCmp(L->b, LLVMRealOEQ, lv, fc(A, 0, w), "");
    LLVMValueRef v = LLVMBuildSelect(L->b, empty, fc(A, 0, w), LLVMBuildFDiv(L->b, a, lv, ""), "");
    if (k->out_root >= 0) {
        struct ts_llvm_env env = {.width = w, .vector_dim = 3, .acc = v};
        env.index[0] = A->b;
        env.index[1] = A->h;
        env.index[2] = A->i;
        env.index[3] = e;
        v = ts_llvm_expr(L, k->out_root, &env);
    }
    const struct ts_koperand *o = &k->output;
    LLVMValueRef p = ts_llvm_elem_ptr(L, o, L->base[k->ninputs], opnd_at(A, o, A->obase, A->i, e));
    ts_llvm_store(L, o->dtype, p, o->strides[3], w, v);
}

/* The task loop: tasks t = (b·hq + h)·qb + qi of ts_kernel_ntasks. */
static void emit_tasks(struct attn *A) {
    struct ts_llvm *L = A->L;
    const struct ts_kernel *k = A->k;
    LLVMBuilderRef b = L->b;
    int64_t sq = k->attn.sq, sk = k->attn.sk, hq = k->attn.hq;
    int64_t qb = (sq + A->bq - 1) / A->bq, group = hq / k->attn.hkv;
    struct ts_llvm_loop lt, lr, lj;
    LLVMValueRef t = ts_llvm_loop_begin(L, &lt, L->begin, L->end, cst(A, 1), "task");
    LLVMValueRef qi = LLVMBuildSRem(b, t, cst(A, qb), "qi");
    LLVMValueRef bh = LLVMBuildSDiv(b, t, cst(A, qb), "");
    A->h = LLVMBuildSRem(b, bh, cst(A, hq), "h");
    A->b = LLVMBuildSDiv(b, bh, cst(A, hq), "b");
    A->kh = LLVMBuildSDiv(b, A->h, cst(A, group), "kh");
    A->i0 = mulc(A, qi, A->bq);
    A->nq = smin(A, cst(A, A->bq), sub(A, cst(A, sq), A->i0));
    const struct ts_koperand *in = k->inputs, *o = &k->output;
    A->qbase = add(A, mulc(A, A->b, in[0].strides[0]), mulc(A, A->h, in[0].strides[1]));
    A->kbase = add(A, mulc(A, A->b, in[1].strides[0]), mulc(A, A->kh, in[1].strides[1]));
    A->vbase = add(A, mulc(A, A->b, in[2].strides[0]), mulc(A, A->kh, in[2].strides[1]));
    if (k->attn.has_mask)
        A->mbase = add(A, mulc(A, A->b, in[3].strides[0]), mulc(A, A->h, in[3].strides[1]));
    A->obase = add(A, mulc(A, A->b, o->strides[0]), mulc(A, A->h, o->strides[1]));

    /* Reset the block's state and load its query rows. */
    A->r = ts_llvm_loop_begin(L, &lr, cst(A, 0), A->nq, cst(A, 1), "r");
    A->i = add(A, A->i0, A->r);
    stf(A, fptr(A, A->M, A->r), ts_llvm_f32(L, -INFINITY));
    stf(A, fptr(A, A->SUM, A->r), ts_llvm_f32(L, 0));
    pieces(A, cst(A, 0), cst(A, A->hd), 1, piece_q);
    ts_llvm_loop_end(L, &lr);
    pieces(A, cst(A, 0), mul(A, A->nq, cst(A, A->dv)), 1, piece_init);

    /* Key blocks up to the last key any row of the block sees. */
    LLVMValueRef kend = cst(A, sk);
    if (k->attn.causal)
        kend = smax(A, smin(A, add(A, A->i0, add(A, A->nq, cst(A, sk - sq))), kend), cst(A, 0));
    A->j0 = ts_llvm_loop_begin(L, &lj, cst(A, 0), kend, cst(A, A->bk), "j0");
    LLVMValueRef nk = smin(A, cst(A, A->bk), sub(A, kend, A->j0));
    A->r = ts_llvm_loop_begin(L, &lr, cst(A, 0), nk, cst(A, 1), "jk");
    pieces(A, cst(A, 0), cst(A, A->hd), 1, piece_k);
    pieces(A, cst(A, 0), cst(A, A->dv), 1, piece_v);
    ts_llvm_loop_end(L, &lr);
    /* Groups of MAXROWS rows, then the rows left one by one. */
    LLVMValueRef gend = sub(A, A->nq, LLVMBuildSRem(b, A->nq, cst(A, MAXROWS), ""));
    LLVMValueRef r = ts_llvm_loop_begin(L, &lr, cst(A, 0), gend, cst(A, MAXROWS), "r");
    emit_row_group(A, r, MAXROWS, nk);
    ts_llvm_loop_end(L, &lr);
    r = ts_llvm_loop_begin(L, &lr, gend, A->nq, cst(A, 1), "r");
    emit_row_group(A, r, 1, nk);
    ts_llvm_loop_end(L, &lr);
    ts_llvm_loop_end(L, &lj);

    /* Normalize and store. */
    A->r = ts_llvm_loop_begin(L, &lr, cst(A, 0), A->nq, cst(A, 1), "r");
    A->i = add(A, A->i0, A->r);
    A->l = ldf(A, fptr(A, A->SUM, A->r), 1);
    pieces(A, cst(A, 0), cst(A, A->dv), 1, piece_out);
    ts_llvm_loop_end(L, &lr);
    ts_llvm_loop_end(L, &lt);
}

static bool is_float(enum ts_dtype t) { return t == TS_F32 || t == TS_F16 || t == TS_BF16; }

enum ts_status ts_llvm_emit_attention(struct ts_llvm *L, struct ts_diag *d) {
    const struct ts_kernel *k = L->k;
    int nin = 3 + (k->attn.has_mask ? 1 : 0);
    const struct ts_sched_attention *s = &k->sched.attention;
    if (k->kind != TS_KERNEL_ATTENTION || k->rank != 4 || k->ninputs < nin)
        return ts_diag_set(d, TS_ERR_GRAPH, "", k->name, "not an attention kernel (a tessera bug)");
    for (int i = 0; i < nin; i++)
        if (!is_float(k->inputs[i].dtype))
            return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                               "attention operand %d has dtype %s; the CPU backend takes f32, f16 and bf16",
                               i, ts_dtype_name(k->inputs[i].dtype));
    if (k->out_root < 0 && !is_float(k->output.dtype))
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "attention output has dtype %s",
                           ts_dtype_name(k->output.dtype));
    if (s->block_q < 1 || s->block_k < 1)
        return ts_diag_set(d, TS_ERR_GRAPH, "", k->name, "attention blocks %d×%d must be positive",
                           s->block_q, s->block_k);
    if (k->attn.hq > 0 && (k->attn.hkv < 1 || k->attn.hq % k->attn.hkv != 0))
        return ts_diag_set(d, TS_ERR_GRAPH, "", k->name, "%lld kv heads do not divide %lld q heads",
                           (long long)k->attn.hkv, (long long)k->attn.hq);
    if (ts_kernel_ntasks(k) == 0) {
        LLVMBuildRet(L->b, ts_llvm_i32(L, 0));
        return TS_OK;
    }

    /* The register blocking is explicit above; optsize keeps LLVM from
     * unrolling every block variant further, which halves compile time
     * (~150 ms a kernel) at the same speed. */
    unsigned optsize = LLVMGetEnumAttributeKindForName("optsize", 7);
    LLVMAddAttributeAtIndex(L->fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(L->ctx, optsize, 0));
    struct attn A = {.L = L, .k = k};
    A.vw = L->cpu && L->cpu->vector_width > 1 ? L->cpu->vector_width : 1;
    A.bq = s->block_q;
    A.bk = s->block_k;
    A.hd = k->attn.d;
    A.dv = k->attn.dv;
    A.entry = LLVMCreateBuilderInContext(L->ctx);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(L->fn);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first) LLVMPositionBuilderBefore(A.entry, first);
    else LLVMPositionBuilderAtEnd(A.entry, entry);

    int64_t off = 0;
    LLVMValueRef *regions[7] = {&A.S, &A.Q, &A.ACC, &A.M, &A.SUM, &A.KT, &A.V};
    int64_t sizes[7] = {A.bq * A.bk, A.bq * A.hd, A.bq * A.dv, A.bq, A.bq, A.hd * A.bk, A.bk * A.dv};
    for (int i = 0; i < 7; i++) {
        *regions[i] = fptr(&A, L->scratch, cst(&A, off));
        off += sizes[i];
    }
    /* Register blocks of MAXROWS rows × vecs vectors: about half the vector
     * registers (16 of AVX-512's 32, 8 of AVX2's 16) hold accumulators. */
    int budget = A.vw >= 16 ? 16 : 8;
    A.vecs_k = A.vecs_v = budget / MAXROWS;
    for (int i = 0; i < MAXROWS; i++) A.alpha[i] = slot(&A, L->t_f32);
    for (int i = 0; i < 2; i++) {
        A.mx[i] = slot(&A, fty(&A, i ? A.vw : 1));
        A.sum[i] = slot(&A, fty(&A, i ? A.vw : 1));
    }
    emit_tasks(&A);
    LLVMBuildRet(L->b, ts_llvm_i32(L, 0));
    LLVMDisposeBuilder(A.entry);
    return TS_OK;
}
