/* emit_gemv.c — the direct GEMM path for a small M (a decode step: A [M, K]
 * with M of 1 to TS_GEMV_MAX_M, or TS_GEMV_MAX_M_KN for B [K, N], against a
 * weight B). The packed path copies
 * B's panel before its micro-kernel reads it; with so few rows of A that copy
 * is a full extra read and write of B, as much memory traffic as the product
 * itself. Here every output element's whole dot product is accumulated in
 * registers straight from A and B (converted to f32 on load), then goes
 * through the epilogue and is stored in the output's dtype:
 *  - B [K, N] (unit stride along n): a block of columns, several vectors
 *    wide, per pass; each k loads that run of B's row k (several cache lines
 *    in flight) and broadcasts A(m, k).
 *  - B [N, K] (unit stride along k, the linear layer's weight): several
 *    columns n per pass, each a dot product vectorized along k sharing A's
 *    vector, reduced across lanes at the end; the k tail is scalar.
 * Tails (columns past the last whole block, rows past the last whole group)
 * use the same code with fewer vectors, then scalars. Tasks are those of
 * ts_kernel_ntasks, as for the packed path, so threads split N. */
#include "codegen/llvm/emit_gemm.h"

/* Vectors of B's row one k step of the [K, N] kernel reads (at most). */
#define TS_GEMV_KN_VECS 16
/* Columns of B one pass of the [N, K] kernel reads side by side (at most). */
#define TS_GEMV_NK_COLS 8
/* The most accumulators a pass keeps (rows × vectors or columns). */
#define TS_GEMV_MAX_ACC 32
/* The widest vector it uses (f32 lanes: AVX-512's 16, with room). */
#define TS_GEMV_MAX_LANES 64

static LLVMValueRef i64c(struct ts_gemm *G, int64_t v) { return ts_llvm_i64(G->L, v); }

static LLVMValueRef add(struct ts_gemm *G, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildNSWAdd(G->L->b, x, y, "");
}

/* p + i elements of the operand's storage type. */
static LLVMValueRef gep_elem(struct ts_llvm *L, const struct ts_koperand *op, LLVMValueRef p, LLVMValueRef i) {
    return LLVMBuildGEP2(L->b, ts_llvm_storage_type(L, op->dtype), p, &i, 1, "");
}

static LLVMTypeRef acc_type(struct ts_gemm *G, int width) {
    return width > 1 ? LLVMVectorType(G->L->t_f32, (unsigned)width) : G->L->t_f32;
}

static LLVMValueRef splat(struct ts_gemm *G, LLVMValueRef x, int width) {
    struct ts_llvm *L = G->L;
    LLVMTypeRef t = acc_type(G, width);
    LLVMValueRef one = LLVMBuildInsertElement(L->b, LLVMGetPoison(t), x, ts_llvm_i32(L, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(L->t_i32, (unsigned)width));
    return LLVMBuildShuffleVector(L->b, one, LLVMGetPoison(t), zeros, "bcast");
}

/* acc + x·y, through the slot (an alloca SROA turns into a register). */
static void fma_into(struct ts_gemm *G, LLVMValueRef slot, LLVMTypeRef t, LLVMValueRef x, LLVMValueRef y) {
    struct ts_llvm *L = G->L;
    LLVMValueRef args[3] = {x, y, LLVMBuildLoad2(L->b, t, slot, "")};
    LLVMBuildStore(L->b, ts_llvm_call_intrinsic(L, G->fma, &t, 1, args, 3), slot);
}

/* n zeroed accumulators of type t (slots in the entry block, zeroed here). */
static void zero_accs(struct ts_gemm *G, LLVMValueRef *acc, int n, LLVMTypeRef t) {
    for (int i = 0; i < n; i++) {
        acc[i] = ts_gemm_entry_alloca(G->L, t, "acc");
        LLVMBuildStore(G->L->b, LLVMConstNull(t), acc[i]);
    }
}

/* The sum of v's lanes, halving the vector each step. */
static LLVMValueRef hsum(struct ts_gemm *G, LLVMValueRef v, int width) {
    struct ts_llvm *L = G->L;
    while (width > 1) {
        int h = width / 2;
        LLVMValueRef lo[TS_GEMV_MAX_LANES], hi[TS_GEMV_MAX_LANES];
        for (int i = 0; i < h; i++) {
            lo[i] = ts_llvm_i32(L, i);
            hi[i] = ts_llvm_i32(L, h + i);
        }
        LLVMValueRef p = LLVMGetPoison(LLVMTypeOf(v));
        LLVMValueRef a = LLVMBuildShuffleVector(L->b, v, p, LLVMConstVector(lo, (unsigned)h), "");
        LLVMValueRef b = LLVMBuildShuffleVector(L->b, v, p, LLVMConstVector(hi, (unsigned)h), "");
        v = LLVMBuildFAdd(L->b, a, b, "");
        width = h;
    }
    return LLVMGetTypeKind(LLVMTypeOf(v)) == LLVMVectorTypeKind
               ? LLVMBuildExtractElement(L->b, v, ts_llvm_i32(L, 0), "")
               : v;
}

/* Output (row, col …) for 'width' lanes along N: the epilogue, then the store. */
static void put(struct ts_gemm *G, LLVMValueRef row, LLVMValueRef col, LLVMValueRef val, int width) {
    ts_llvm_store(G->L, G->c->dtype, ts_gemm_c_ptr(G, row, col), G->scn, width,
                  ts_gemm_epilogue(G, row, col, val, width));
}

/* ---- B [K, N] ------------------------------------------------------------- */

/* Rows [row0, row0+R) × columns [col, col + nvec·width): nvec accumulators
 * of 'width' lanes per row over all of K. */
static void kn_pass(struct ts_gemm *G, int R, LLVMValueRef row0, LLVMValueRef col, int nvec, int width) {
    struct ts_llvm *L = G->L;
    LLVMTypeRef t = acc_type(G, width);
    LLVMValueRef acc[TS_GEMV_MAX_ACC], rows[TS_GEMV_MAX_M];
    zero_accs(G, acc, R * nvec, t);
    for (int r = 0; r < R; r++) rows[r] = add(G, row0, i64c(G, r));
    struct ts_llvm_loop kl;
    LLVMValueRef kk = ts_llvm_loop_begin(L, &kl, i64c(G, 0), i64c(G, G->kdim), i64c(G, 1), "k");
    LLVMValueRef brow = ts_gemm_b_ptr(G, kk, col);
    LLVMValueRef bv[TS_GEMV_KN_VECS];
    for (int v = 0; v < nvec; v++)
        bv[v] = ts_llvm_load(L, G->b->dtype, gep_elem(L, G->b, brow, i64c(G, (int64_t)v * width)), 1, width);
    for (int r = 0; r < R; r++) {
        LLVMValueRef a = ts_llvm_load(L, G->a->dtype, ts_gemm_a_ptr(G, rows[r], kk), 1, 1);
        if (width > 1) a = splat(G, a, width);
        for (int v = 0; v < nvec; v++) fma_into(G, acc[r * nvec + v], t, a, bv[v]);
    }
    ts_llvm_loop_end(L, &kl);
    for (int r = 0; r < R; r++)
        for (int v = 0; v < nvec; v++) {
            LLVMValueRef c = add(G, col, i64c(G, (int64_t)v * width));
            put(G, rows[r], c, LLVMBuildLoad2(L->b, t, acc[r * nvec + v], ""), width);
        }
}

/* The task's columns for rows [row0, row0+R): blocks of V vectors, then
 * single vectors, then single columns. */
static void kn_rows(struct ts_gemm *G, int R, LLVMValueRef row0) {
    struct ts_llvm *L = G->L;
    int vw = G->vw;
    /* As many vectors per pass as the registers hold (R·V accumulators and R
     * broadcasts; B is an FMA's memory operand), at most TS_GEMV_KN_VECS,
     * balanced over the schedule's nc: the longer the run of B's row each k
     * step reads, the more cache lines are in flight and the better the
     * prefetcher follows. */
    int nregs = vw >= 16 ? 32 : 16;
    int64_t vmax = (nregs - 1 - R) / R, ncv = G->nc / vw;
    if (vmax > TS_GEMV_KN_VECS) vmax = TS_GEMV_KN_VECS;
    int V = 1;
    if (ncv > 1 && vmax > 1) {
        int64_t nblocks = (ncv + vmax - 1) / vmax;
        V = (int)(ncv / nblocks);
    }
    int64_t steps[3] = {(int64_t)V * vw, vw, 1};
    int nvecs[3] = {V, 1, 1}, widths[3] = {vw, vw, 1};
    LLVMValueRef from = i64c(G, 0);
    for (int s = 0; s < 3; s++) {
        if (s == 1 && V == 1) continue; /* the blocks were single vectors already */
        if (s < 2 && vw == 1) continue;
        LLVMValueRef step = i64c(G, steps[s]);
        /* c runs while c + step <= ncur; the next stage starts where it stopped. */
        LLVMValueRef end = LLVMBuildNSWSub(L->b, G->ncur, i64c(G, steps[s] - 1), "");
        struct ts_llvm_loop cl;
        LLVMValueRef c = ts_llvm_loop_begin(L, &cl, from, end, step, "jc");
        kn_pass(G, R, row0, add(G, G->j0, c), nvecs[s], widths[s]);
        ts_llvm_loop_end(L, &cl);
        LLVMValueRef left = LLVMBuildNSWSub(L->b, G->ncur, from, "");
        from = add(G, from, LLVMBuildMul(L->b, LLVMBuildUDiv(L->b, left, step, ""), step, ""));
    }
}

/* ---- B [N, K] ------------------------------------------------------------- */

/* Rows [row0, row0+R) × columns [col, col+C): R·C dot products along k, each
 * in a vector of vw partial sums (A's vectors shared by the C columns),
 * reduced across lanes, then the k tail scalar. */
static void nk_pass(struct ts_gemm *G, int R, LLVMValueRef row0, LLVMValueRef col, int C) {
    struct ts_llvm *L = G->L;
    int vw = G->vw;
    int64_t kv = vw > 1 ? G->kdim / vw * vw : 0;
    LLVMValueRef rows[TS_GEMV_MAX_M], cols[TS_GEMV_NK_COLS], sum[TS_GEMV_MAX_ACC];
    for (int r = 0; r < R; r++) rows[r] = add(G, row0, i64c(G, r));
    for (int c = 0; c < C; c++) cols[c] = add(G, col, i64c(G, c));
    zero_accs(G, sum, R * C, L->t_f32);
    if (kv > 0) {
        LLVMValueRef acc[TS_GEMV_MAX_ACC];
        zero_accs(G, acc, R * C, G->t_vec);
        struct ts_llvm_loop kl;
        LLVMValueRef kk = ts_llvm_loop_begin(L, &kl, i64c(G, 0), i64c(G, kv), i64c(G, vw), "k");
        LLVMValueRef av[TS_GEMV_MAX_M];
        for (int r = 0; r < R; r++)
            av[r] = ts_llvm_load(L, G->a->dtype, ts_gemm_a_ptr(G, rows[r], kk), G->sak, vw);
        for (int c = 0; c < C; c++) {
            LLVMValueRef b = ts_llvm_load(L, G->b->dtype, ts_gemm_b_ptr(G, kk, cols[c]), 1, vw);
            for (int r = 0; r < R; r++) fma_into(G, acc[r * C + c], G->t_vec, av[r], b);
        }
        ts_llvm_loop_end(L, &kl);
        for (int i = 0; i < R * C; i++)
            LLVMBuildStore(L->b, hsum(G, LLVMBuildLoad2(L->b, G->t_vec, acc[i], ""), vw), sum[i]);
    }
    if (kv < G->kdim) {
        struct ts_llvm_loop kl;
        LLVMValueRef kk = ts_llvm_loop_begin(L, &kl, i64c(G, kv), i64c(G, G->kdim), i64c(G, 1), "kt");
        LLVMValueRef a[TS_GEMV_MAX_M];
        for (int r = 0; r < R; r++) a[r] = ts_llvm_load(L, G->a->dtype, ts_gemm_a_ptr(G, rows[r], kk), 1, 1);
        for (int c = 0; c < C; c++) {
            LLVMValueRef b = ts_llvm_load(L, G->b->dtype, ts_gemm_b_ptr(G, kk, cols[c]), 1, 1);
            for (int r = 0; r < R; r++) fma_into(G, sum[r * C + c], L->t_f32, a[r], b);
        }
        ts_llvm_loop_end(L, &kl);
    }
    /* The C columns of a row side by side, so the epilogue runs on a vector. */
    for (int r = 0; r < R; r++) {
        LLVMValueRef v = LLVMGetPoison(acc_type(G, C));
        for (int c = 0; c < C; c++) {
            LLVMValueRef s = LLVMBuildLoad2(L->b, L->t_f32, sum[r * C + c], "");
            v = C > 1 ? LLVMBuildInsertElement(L->b, v, s, ts_llvm_i32(L, c), "") : s;
        }
        put(G, rows[r], col, v, C);
    }
}

static void nk_rows(struct ts_gemm *G, int R, LLVMValueRef row0) {
    struct ts_llvm *L = G->L;
    int nregs = G->vw >= 16 ? 32 : 16, C = 1;
    for (int c = TS_GEMV_NK_COLS; c > 1; c--)
        if (R * c + R + 1 <= nregs) {
            C = c;
            break;
        }
    LLVMValueRef from = i64c(G, 0);
    int widths[2] = {C, 1};
    for (int s = 0; s < 2; s++) {
        if (s == 1 && C == 1) continue;
        LLVMValueRef step = i64c(G, widths[s]);
        LLVMValueRef end = LLVMBuildNSWSub(L->b, G->ncur, i64c(G, widths[s] - 1), "");
        struct ts_llvm_loop cl;
        LLVMValueRef c = ts_llvm_loop_begin(L, &cl, from, end, step, "jc");
        nk_pass(G, R, row0, add(G, G->j0, c), widths[s]);
        ts_llvm_loop_end(L, &cl);
        LLVMValueRef left = LLVMBuildNSWSub(L->b, G->ncur, from, "");
        from = add(G, from, LLVMBuildMul(L->b, LLVMBuildUDiv(L->b, left, step, ""), step, ""));
    }
}

/* ---- the task loop -------------------------------------------------------- */

/* B [N, K] when k is its unit stride and n is not (or N is too narrow for
 * one vector along n); else B [K, N]. */
bool ts_gemm_gemv_nk(const struct ts_gemm *G) {
    int vw = G->L->cpu->vector_width > 0 ? G->L->cpu->vector_width : 1;
    return G->sbk == 1 && (G->sbn != 1 || G->n < vw);
}

static void rows(struct ts_gemm *G, int R, LLVMValueRef row0) {
    if (ts_gemm_gemv_nk(G)) nk_rows(G, R, row0);
    else kn_rows(G, R, row0);
}

void ts_gemm_emit_gemv(struct ts_gemm *G) {
    struct ts_llvm *L = G->L;
    /* The CPU's full vector width: this path does not use the schedule's nr,
     * whose divisors the packed path's vw is chosen among. */
    G->vw = L->cpu->vector_width > 0 ? L->cpu->vector_width : 1;
    if (G->vw > TS_GEMV_MAX_LANES) G->vw = TS_GEMV_MAX_LANES;
    G->t_vec = acc_type(G, G->vw);
    /* Rows R at a time (all of a task's rows with the default schedule, where
     * mc = M); a shorter last row block of a custom schedule row by row. */
    int R = (int)(G->m < G->mc ? G->m : G->mc);
    struct ts_llvm_loop tl, rl;
    ts_gemm_task_begin(G, &tl);
    LLVMValueRef end = LLVMBuildNSWSub(L->b, G->mcur, i64c(G, R - 1), "");
    LLVMValueRef q = ts_llvm_loop_begin(L, &rl, i64c(G, 0), end, i64c(G, R), "iq");
    rows(G, R, add(G, G->i0, q));
    ts_llvm_loop_end(L, &rl);
    if (R > 1) {
        LLVMValueRef from = LLVMBuildMul(L->b, LLVMBuildUDiv(L->b, G->mcur, i64c(G, R), ""), i64c(G, R), "");
        q = ts_llvm_loop_begin(L, &rl, from, G->mcur, i64c(G, 1), "ir");
        rows(G, 1, add(G, G->i0, q));
        ts_llvm_loop_end(L, &rl);
    }
    ts_llvm_loop_end(L, &tl);
    LLVMBuildRet(L->b, ts_llvm_i32(L, 0));
}
