/* emit_gemm_pack.c — packing for the GEMM emitter: the task's KC×NC panel of
 * B into nr-wide column slivers (row k of a sliver is nr consecutive floats)
 * and its MC×KC block of A into mr-tall row slivers (column k is mr
 * consecutive floats), converted to f32 (f16 and bf16 on the fly) and
 * zero-padded past the tile's edge, so the micro-kernel never checks bounds. */
#include "codegen/llvm/emit_gemm.h"

static LLVMValueRef gep_f32(struct ts_llvm *L, LLVMValueRef p, LLVMValueRef i) {
    return LLVMBuildGEP2(L->b, L->t_f32, p, &i, 1, "");
}

/* p + i elements of the operand's storage type. */
static LLVMValueRef gep_elem(struct ts_llvm *L, const struct ts_koperand *op, LLVMValueRef p, LLVMValueRef i) {
    return LLVMBuildGEP2(L->b, ts_llvm_storage_type(L, op->dtype), p, &i, 1, "");
}

static void store_f32(struct ts_llvm *L, LLVMValueRef v, LLVMValueRef p, unsigned align) {
    LLVMValueRef s = LLVMBuildStore(L->b, v, p);
    LLVMSetAlignment(s, align);
}

/* Element 'lane' of a partial sliver: in range, the element itself; past the
 * edge, a clamped (always valid) address whose value is then replaced by 0. */
struct lane {
    LLVMValueRef valid, at;
};

static struct lane lane_at(struct ts_gemm *G, int lane, LLVMValueRef rem) {
    struct ts_llvm *L = G->L;
    LLVMValueRef c = ts_llvm_i64(L, lane);
    struct lane ln;
    ln.valid = LLVMBuildICmp(L->b, LLVMIntSLT, c, rem, "valid");
    ln.at = LLVMBuildSelect(L->b, ln.valid, c, LLVMBuildNSWSub(L->b, rem, ts_llvm_i64(L, 1), ""), "");
    return ln;
}

/* Columns [0, nr) of a B sliver for k in [k0, kcur), one column at a time
 * along k (memory order when B is [N, K]); any strides. */
static void pack_b_columns(struct ts_gemm *G, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef k0,
                           LLVMValueRef kcur, LLVMValueRef nrem) {
    struct ts_llvm *L = G->L;
    LLVMValueRef one = ts_llvm_i64(L, 1), fzero = ts_llvm_f32(L, 0);
    struct ts_llvm_loop cl;
    LLVMValueRef c = ts_llvm_loop_begin(L, &cl, ts_llvm_i64(L, 0), ts_llvm_i64(L, G->nr), one, "bc");
    LLVMValueRef valid = LLVMBuildICmp(L->b, LLVMIntSLT, c, nrem, "valid");
    LLVMValueRef at = LLVMBuildSelect(L->b, valid, c, LLVMBuildNSWSub(L->b, nrem, one, ""), "");
    LLVMValueRef col = gep_elem(L, G->b, src, ts_gemm_mul(G, at, G->sbn));
    LLVMValueRef dcol = gep_f32(L, dst, c);
    struct ts_llvm_loop kl;
    LLVMValueRef kk = ts_llvm_loop_begin(L, &kl, k0, kcur, one, "kk");
    LLVMValueRef x = ts_llvm_load(L, G->b->dtype, gep_elem(L, G->b, col, ts_gemm_mul(G, kk, G->sbk)), 1, 1);
    x = LLVMBuildSelect(L->b, valid, x, fzero, "");
    store_f32(L, x, gep_f32(L, dcol, ts_gemm_mul(G, kk, G->nr)), 4);
    ts_llvm_loop_end(L, &kl);
    ts_llvm_loop_end(L, &cl);
}

static LLVMValueRef shuffle8(struct ts_llvm *L, LLVMValueRef x, LLVMValueRef y, const int m[8]) {
    LLVMValueRef mask[8];
    for (int i = 0; i < 8; i++) mask[i] = ts_llvm_i32(L, m[i]);
    return LLVMBuildShuffleVector(L->b, x, y, LLVMConstVector(mask, 8), "");
}

/* Transposes 8 vectors of 8 floats in place: r[i][j] becomes r[j][i]. The
 * masks are those of AVX's unpcklps/unpckhps, shufps and vperm2f128, so the
 * backend emits 24 in-lane shuffles rather than cross-lane permutes. */
static void transpose8(struct ts_llvm *L, LLVMValueRef r[8]) {
    static const int lo[8] = {0, 8, 1, 9, 4, 12, 5, 13}, hi[8] = {2, 10, 3, 11, 6, 14, 7, 15};
    static const int s0[8] = {0, 1, 8, 9, 4, 5, 12, 13}, s1[8] = {2, 3, 10, 11, 6, 7, 14, 15};
    static const int p0[8] = {0, 1, 2, 3, 8, 9, 10, 11}, p1[8] = {4, 5, 6, 7, 12, 13, 14, 15};
    LLVMValueRef t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = shuffle8(L, r[2 * i], r[2 * i + 1], lo);
        t[2 * i + 1] = shuffle8(L, r[2 * i], r[2 * i + 1], hi);
    }
    for (int h = 0; h < 2; h++) {
        u[4 * h + 0] = shuffle8(L, t[4 * h + 0], t[4 * h + 2], s0);
        u[4 * h + 1] = shuffle8(L, t[4 * h + 0], t[4 * h + 2], s1);
        u[4 * h + 2] = shuffle8(L, t[4 * h + 1], t[4 * h + 3], s0);
        u[4 * h + 3] = shuffle8(L, t[4 * h + 1], t[4 * h + 3], s1);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = shuffle8(L, u[i], u[4 + i], p0);
        r[4 + i] = shuffle8(L, u[i], u[4 + i], p1);
    }
}

/* A sliver of B given as [N, K] (sbk = 1): 8 columns × 8 k at a time are
 * loaded as 8 vectors along k, transposed in registers and stored as 8 rows;
 * the last kcur % 8 k go column by column. nrem NULL: a full sliver (column
 * offsets are constants); else columns past nrem read the last valid column
 * and store 0. */
static void pack_b_transposed(struct ts_gemm *G, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef kcur,
                              LLVMValueRef nrem) {
    struct ts_llvm *L = G->L;
    LLVMTypeRef v8 = LLVMVectorType(L->t_f32, 8);
    LLVMValueRef cols[TS_GEMM_MAX_NV * 16], valid[TS_GEMM_MAX_NV * 16];
    for (int c = 0; c < G->nr; c++) {
        valid[c] = NULL;
        LLVMValueRef at = ts_llvm_i64(L, c);
        if (nrem) {
            struct lane ln = lane_at(G, c, nrem);
            valid[c] = ln.valid;
            at = ln.at;
        }
        cols[c] = gep_elem(L, G->b, src, ts_gemm_mul(G, at, G->sbn));
    }
    LLVMValueRef k8 = LLVMBuildAnd(L->b, kcur, ts_llvm_i64(L, -8), "k8");
    struct ts_llvm_loop kl;
    LLVMValueRef kk = ts_llvm_loop_begin(L, &kl, ts_llvm_i64(L, 0), k8, ts_llvm_i64(L, 8), "kk");
    for (int g = 0; g < G->nr / 8; g++) {
        LLVMValueRef r[8];
        for (int i = 0; i < 8; i++) {
            r[i] = ts_llvm_load(L, G->b->dtype, gep_elem(L, G->b, cols[8 * g + i], kk), 1, 8);
            if (valid[8 * g + i]) r[i] = LLVMBuildSelect(L->b, valid[8 * g + i], r[i], LLVMConstNull(v8), "");
        }
        transpose8(L, r);
        for (int j = 0; j < 8; j++) {
            LLVMValueRef row = LLVMBuildNSWAdd(L->b, kk, ts_llvm_i64(L, j), "");
            LLVMValueRef at = LLVMBuildNSWAdd(L->b, ts_gemm_mul(G, row, G->nr), ts_llvm_i64(L, 8 * g), "");
            store_f32(L, r[j], gep_f32(L, dst, at), 32);
        }
    }
    ts_llvm_loop_end(L, &kl);
    pack_b_columns(G, src, dst, k8, kcur, nrem ? nrem : ts_llvm_i64(L, G->nr));
}

/* Full slivers of B given with contiguous rows (sbn = 1) are copied row by
 * row across groups of this many slivers: each k reads one contiguous run of
 * B (which the prefetcher follows) instead of 64 bytes from each of kc rows
 * per sliver, which measured 5–10% slower overall on [K, N] GEMMs. */
#define TS_GEMM_PACK_GROUP 8

static void pack_b_rows(struct ts_gemm *G, LLVMValueRef pc, LLVMValueRef kcur) {
    struct ts_llvm *L = G->L;
    LLVMValueRef one = ts_llvm_i64(L, 1), zero = ts_llvm_i64(L, 0), fzero = ts_llvm_f32(L, 0);
    LLVMValueRef nr = ts_llvm_i64(L, G->nr);
    LLVMValueRef nfull = LLVMBuildUDiv(L->b, G->ncur, nr, "nfull");

    struct ts_llvm_loop gl, kl, sl;
    LLVMValueRef g = ts_llvm_loop_begin(L, &gl, zero, nfull, ts_llvm_i64(L, TS_GEMM_PACK_GROUP), "bg");
    LLVMValueRef gend = ts_gemm_min(G, LLVMBuildNSWAdd(L->b, g, ts_llvm_i64(L, TS_GEMM_PACK_GROUP), ""), nfull);
    LLVMValueRef kk = ts_llvm_loop_begin(L, &kl, zero, kcur, one, "kk");
    LLVMValueRef row = ts_gemm_b_ptr(G, LLVMBuildNSWAdd(L->b, pc, kk, ""), G->j0);
    LLVMValueRef s = ts_llvm_loop_begin(L, &sl, g, gend, one, "bs");
    LLVMValueRef src = gep_elem(L, G->b, row, ts_gemm_mul(G, s, G->nr));
    LLVMValueRef dst = gep_f32(L, G->bpack, LLVMBuildNSWAdd(L->b, ts_gemm_mul(G, s, (int64_t)G->kc * G->nr),
                                                           ts_gemm_mul(G, kk, G->nr), ""));
    for (int v = 0; v < G->nv; v++) {
        LLVMValueRef x = ts_llvm_load(L, G->b->dtype, gep_elem(L, G->b, src, ts_llvm_i64(L, v * G->vw)), 1, G->vw);
        store_f32(L, x, gep_f32(L, dst, ts_llvm_i64(L, v * G->vw)), (unsigned)(4 * G->vw));
    }
    ts_llvm_loop_end(L, &sl);
    ts_llvm_loop_end(L, &kl);
    ts_llvm_loop_end(L, &gl);

    /* The partial sliver at the edge, if any, lane by lane. */
    LLVMValueRef c0 = ts_gemm_mul(G, nfull, G->nr);
    LLVMValueRef nrem = LLVMBuildNSWSub(L->b, G->ncur, c0, "nrem");
    LLVMBasicBlockRef edge = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "bedge");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "bdone");
    LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSGT, nrem, zero, ""), edge, done);
    LLVMPositionBuilderAtEnd(L->b, edge);
    LLVMValueRef esrc = ts_gemm_b_ptr(G, pc, LLVMBuildNSWAdd(L->b, G->j0, c0, ""));
    LLVMValueRef edst = gep_f32(L, G->bpack, ts_gemm_mul(G, nfull, (int64_t)G->kc * G->nr));
    struct lane ln[TS_GEMM_MAX_NV * 16];
    for (int c = 0; c < G->nr; c++) ln[c] = lane_at(G, c, nrem);
    struct ts_llvm_loop el;
    LLVMValueRef ek = ts_llvm_loop_begin(L, &el, zero, kcur, one, "kk");
    LLVMValueRef erow = gep_elem(L, G->b, esrc, ts_gemm_mul(G, ek, G->sbk));
    LLVMValueRef edrow = gep_f32(L, edst, ts_gemm_mul(G, ek, G->nr));
    for (int c = 0; c < G->nr; c++) {
        LLVMValueRef x = ts_llvm_load(L, G->b->dtype, gep_elem(L, G->b, erow, ln[c].at), 1, 1);
        x = LLVMBuildSelect(L->b, ln[c].valid, x, fzero, "");
        store_f32(L, x, gep_f32(L, edrow, ts_llvm_i64(L, c)), 4);
    }
    ts_llvm_loop_end(L, &el);
    LLVMBuildBr(L->b, done);
    LLVMPositionBuilderAtEnd(L->b, done);
}

/* B sliver s: bpack[s·kc·nr + kk·nr + c] = B(pc + kk, j0 + s·nr + c). With
 * contiguous rows (sbn = 1) see pack_b_rows; B given as [N, K] (sbk = 1) is
 * transposed 8 × 8 in registers; any other strides walk each column along k. */
void ts_gemm_pack_b(struct ts_gemm *G, LLVMValueRef pc, LLVMValueRef kcur) {
    if (G->sbn == 1) {
        pack_b_rows(G, pc, kcur);
        return;
    }
    struct ts_llvm *L = G->L;
    LLVMValueRef one = ts_llvm_i64(L, 1), zero = ts_llvm_i64(L, 0);
    LLVMValueRef nslivers = LLVMBuildUDiv(L->b, LLVMBuildNSWAdd(L->b, G->ncur, ts_llvm_i64(L, G->nr - 1), ""),
                                          ts_llvm_i64(L, G->nr), "ns");
    struct ts_llvm_loop sl;
    LLVMValueRef s = ts_llvm_loop_begin(L, &sl, zero, nslivers, one, "bs");
    LLVMValueRef c0 = ts_gemm_mul(G, s, G->nr);
    LLVMValueRef dst = gep_f32(L, G->bpack, ts_gemm_mul(G, s, (int64_t)G->kc * G->nr));
    LLVMValueRef nrem = ts_gemm_min(G, ts_llvm_i64(L, G->nr), LLVMBuildNSWSub(L->b, G->ncur, c0, ""));
    LLVMValueRef col0 = LLVMBuildNSWAdd(L->b, G->j0, c0, "col0");
    LLVMValueRef src = ts_gemm_b_ptr(G, pc, col0);
    if (G->sbk == 1 && G->nr % 8 == 0) {
        LLVMBasicBlockRef full = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "bfull");
        LLVMBasicBlockRef edge = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "bedge");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "bdone");
        LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntEQ, nrem, ts_llvm_i64(L, G->nr), ""), full, edge);
        LLVMPositionBuilderAtEnd(L->b, full);
        pack_b_transposed(G, src, dst, kcur, NULL);
        LLVMBuildBr(L->b, done);
        LLVMPositionBuilderAtEnd(L->b, edge);
        pack_b_transposed(G, src, dst, kcur, nrem);
        LLVMBuildBr(L->b, done);
        LLVMPositionBuilderAtEnd(L->b, done);
    } else {
        pack_b_columns(G, src, dst, zero, kcur, nrem);
    }
    ts_llvm_loop_end(L, &sl);
}

/* A sliver q: apack[q·kc·mr + kk·mr + r] = A(i0 + q·mr + r, pc + kk). The mr
 * row pointers are set up once per sliver (rows past the edge read the last
 * valid row and store 0), then each k stores one column of mr floats. */
void ts_gemm_pack_a(struct ts_gemm *G, LLVMValueRef pc, LLVMValueRef kcur) {
    struct ts_llvm *L = G->L;
    LLVMValueRef one = ts_llvm_i64(L, 1), zero = ts_llvm_i64(L, 0), fzero = ts_llvm_f32(L, 0);
    LLVMValueRef nslivers = LLVMBuildUDiv(L->b, LLVMBuildNSWAdd(L->b, G->mcur, ts_llvm_i64(L, G->mr - 1), ""),
                                          ts_llvm_i64(L, G->mr), "ms");
    struct ts_llvm_loop ql;
    LLVMValueRef q = ts_llvm_loop_begin(L, &ql, zero, nslivers, one, "aq");
    LLVMValueRef r0 = ts_gemm_mul(G, q, G->mr);
    LLVMValueRef dst = gep_f32(L, G->apack, ts_gemm_mul(G, q, (int64_t)G->kc * G->mr));
    LLVMValueRef mrem = ts_gemm_min(G, ts_llvm_i64(L, G->mr), LLVMBuildNSWSub(L->b, G->mcur, r0, ""));
    LLVMValueRef rows[TS_GEMM_MAX_MR], valid[TS_GEMM_MAX_MR];
    for (int r = 0; r < G->mr; r++) {
        struct lane ln = lane_at(G, r, mrem);
        valid[r] = ln.valid;
        LLVMValueRef row = LLVMBuildNSWAdd(L->b, G->i0, LLVMBuildNSWAdd(L->b, r0, ln.at, ""), "");
        rows[r] = ts_gemm_a_ptr(G, row, pc);
    }
    struct ts_llvm_loop kl;
    LLVMValueRef kk = ts_llvm_loop_begin(L, &kl, zero, kcur, one, "kk");
    LLVMValueRef koff = ts_gemm_mul(G, kk, G->sak);
    LLVMValueRef dcol = gep_f32(L, dst, ts_gemm_mul(G, kk, G->mr));
    for (int r = 0; r < G->mr; r++) {
        LLVMValueRef x = ts_llvm_load(L, G->a->dtype, gep_elem(L, G->a, rows[r], koff), 1, 1);
        x = LLVMBuildSelect(L->b, valid[r], x, fzero, "");
        store_f32(L, x, gep_f32(L, dcol, ts_llvm_i64(L, r)), 4);
    }
    ts_llvm_loop_end(L, &kl);
    ts_llvm_loop_end(L, &ql);
}
