/* emit_gemm_micro.c — the GEMM macro-kernel: for every nr-wide B sliver and
 * mr-tall A sliver of the packed panels, the register-blocked micro-kernel
 * (mr × nr/vw accumulator vectors; each k loads nr/vw vectors of B, broadcasts
 * mr elements of A and issues llvm.fma), then the tile's update of C: partial
 * sums between KC panels, the epilogue after the last one. */
#include "codegen/llvm/emit_gemm.h"

/* How many k steps one trip of the micro-kernel's main loop does. */
#define TS_GEMM_UNROLL 4

static LLVMValueRef gep_f32(struct ts_llvm *L, LLVMValueRef p, LLVMValueRef i) {
    return LLVMBuildGEP2(L->b, L->t_f32, p, &i, 1, "");
}

static LLVMValueRef splat(struct ts_gemm *G, LLVMValueRef x) {
    struct ts_llvm *L = G->L;
    LLVMValueRef one = LLVMBuildInsertElement(L->b, LLVMGetPoison(G->t_vec), x, ts_llvm_i32(L, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(L->t_i32, (unsigned)G->vw));
    return LLVMBuildShuffleVector(L->b, one, LLVMGetPoison(G->t_vec), zeros, "bcast");
}

static LLVMValueRef load_acc(struct ts_gemm *G, int i) {
    LLVMValueRef v = LLVMBuildLoad2(G->L->b, G->t_vec, G->acc[i], "");
    LLVMSetAlignment(v, (unsigned)(4 * G->vw));
    return v;
}

static void store_acc(struct ts_gemm *G, int i, LLVMValueRef v) {
    LLVMValueRef s = LLVMBuildStore(G->L->b, v, G->acc[i]);
    LLVMSetAlignment(s, (unsigned)(4 * G->vw));
}

/* One k step: acc[r][v] += A[k][r] · B[k][v·vw …]. */
static void k_step(struct ts_gemm *G, LLVMValueRef asl, LLVMValueRef bsl, LLVMValueRef kk) {
    struct ts_llvm *L = G->L;
    LLVMValueRef bp = gep_f32(L, bsl, ts_gemm_mul(G, kk, G->nr));
    LLVMValueRef bv[TS_GEMM_MAX_NV];
    for (int v = 0; v < G->nv; v++) {
        bv[v] = LLVMBuildLoad2(L->b, G->t_vec, gep_f32(L, bp, ts_llvm_i64(L, v * G->vw)), "b");
        LLVMSetAlignment(bv[v], (unsigned)(4 * G->vw)); /* slivers start on vector boundaries */
    }
    LLVMValueRef ap = gep_f32(L, asl, ts_gemm_mul(G, kk, G->mr));
    for (int r = 0; r < G->mr; r++) {
        LLVMValueRef a = LLVMBuildLoad2(L->b, L->t_f32, gep_f32(L, ap, ts_llvm_i64(L, r)), "a");
        LLVMSetAlignment(a, 4);
        LLVMValueRef as = splat(G, a);
        for (int v = 0; v < G->nv; v++) {
            int i = r * G->nv + v;
            LLVMValueRef args[3] = {as, bv[v], load_acc(G, i)};
            store_acc(G, i, ts_llvm_call_intrinsic(L, G->fma, &G->t_vec, 1, args, 3));
        }
    }
}

/* The micro-kernel: accumulators (promoted to registers by SROA) zeroed, then
 * kcur k steps, TS_GEMM_UNROLL at a time and the rest one by one. */
static void micro(struct ts_gemm *G, LLVMValueRef asl, LLVMValueRef bsl, LLVMValueRef kcur) {
    struct ts_llvm *L = G->L;
    LLVMValueRef zero = ts_llvm_i64(L, 0);
    for (int i = 0; i < G->mr * G->nv; i++) store_acc(G, i, LLVMConstNull(G->t_vec));
    LLVMValueRef kmain = LLVMBuildAnd(L->b, kcur, ts_llvm_i64(L, -TS_GEMM_UNROLL), "kmain");
    struct ts_llvm_loop ml;
    LLVMValueRef kk = ts_llvm_loop_begin(L, &ml, zero, kmain, ts_llvm_i64(L, TS_GEMM_UNROLL), "k");
    for (int u = 0; u < TS_GEMM_UNROLL; u++) k_step(G, asl, bsl, LLVMBuildNSWAdd(L->b, kk, ts_llvm_i64(L, u), ""));
    ts_llvm_loop_end(L, &ml);
    struct ts_llvm_loop rl;
    LLVMValueRef kr = ts_llvm_loop_begin(L, &rl, kmain, kcur, ts_llvm_i64(L, 1), "kr");
    k_step(G, asl, bsl, kr);
    ts_llvm_loop_end(L, &rl);
}

/* C(row, col …) for 'width' lanes along N: on the last panel, the partial
 * sum so far (if K spans several panels) plus val through the epilogue, in
 * the output's dtype; before that, val (first panel) or val plus the partial
 * sum, as f32. */
static void update(struct ts_gemm *G, bool last, LLVMValueRef first, LLVMValueRef row, LLVMValueRef col,
                   LLVMValueRef val, int width) {
    struct ts_llvm *L = G->L;
    LLVMValueRef p = ts_gemm_c_ptr(G, row, col);
    /* Where the partial sums are: C itself (f32), or the f32 block in scratch. */
    LLVMValueRef pp = p;
    int64_t ps = G->scn;
    if (G->part) {
        LLVMValueRef e = LLVMBuildNSWAdd(L->b, LLVMBuildNSWMul(L->b, LLVMBuildNSWSub(L->b, row, G->i0, ""),
                                                                ts_llvm_i64(L, G->part_ld), ""),
                                         LLVMBuildNSWSub(L->b, col, G->j0, ""), "");
        pp = LLVMBuildGEP2(L->b, L->t_f32, G->part, &e, 1, "pp");
        ps = 1;
    }
    if (last) {
        if (G->kdim > G->kc) val = LLVMBuildFAdd(L->b, ts_llvm_load(L, TS_F32, pp, ps, width), val, "");
        ts_llvm_store(L, G->c->dtype, p, G->scn, width, ts_gemm_epilogue(G, row, col, val, width));
    } else {
        LLVMValueRef sum = LLVMBuildFAdd(L->b, ts_llvm_load(L, TS_F32, pp, ps, width), val, "");
        ts_llvm_store(L, TS_F32, pp, ps, width, LLVMBuildSelect(L->b, first, val, sum, ""));
    }
}

/* The whole mr × nr tile from the accumulators, vector by vector. */
static void tile_full(struct ts_gemm *G, bool last, LLVMValueRef first, LLVMValueRef row0, LLVMValueRef col0) {
    struct ts_llvm *L = G->L;
    for (int r = 0; r < G->mr; r++) {
        LLVMValueRef row = LLVMBuildNSWAdd(L->b, row0, ts_llvm_i64(L, r), "");
        for (int v = 0; v < G->nv; v++) {
            LLVMValueRef col = LLVMBuildNSWAdd(L->b, col0, ts_llvm_i64(L, v * G->vw), "");
            update(G, last, first, row, col, load_acc(G, r * G->nv + v), G->vw);
        }
    }
}

/* The valid mrem × nrem corner of a tile at the matrix edge: the
 * accumulators go through the stack, then element by element. */
static void tile_edge(struct ts_gemm *G, bool last, LLVMValueRef first, LLVMValueRef row0, LLVMValueRef col0,
                      LLVMValueRef mrem, LLVMValueRef nrem) {
    struct ts_llvm *L = G->L;
    for (int r = 0; r < G->mr; r++)
        for (int v = 0; v < G->nv; v++) {
            LLVMValueRef s = LLVMBuildStore(L->b, load_acc(G, r * G->nv + v),
                                            gep_f32(L, G->tile, ts_llvm_i64(L, r * G->nr + v * G->vw)));
            LLVMSetAlignment(s, 4);
        }
    LLVMValueRef zero = ts_llvm_i64(L, 0), one = ts_llvm_i64(L, 1);
    struct ts_llvm_loop rl, cl;
    LLVMValueRef r = ts_llvm_loop_begin(L, &rl, zero, mrem, one, "er");
    LLVMValueRef c = ts_llvm_loop_begin(L, &cl, zero, nrem, one, "ec");
    LLVMValueRef at = LLVMBuildNSWAdd(L->b, ts_gemm_mul(G, r, G->nr), c, "");
    LLVMValueRef val = LLVMBuildLoad2(L->b, L->t_f32, gep_f32(L, G->tile, at), "");
    update(G, last, first, LLVMBuildNSWAdd(L->b, row0, r, ""), LLVMBuildNSWAdd(L->b, col0, c, ""), val, 1);
    ts_llvm_loop_end(L, &cl);
    ts_llvm_loop_end(L, &rl);
}

/* After the micro-kernel: full or edge tile, last panel or not (the latter
 * only exists when K spans several panels). */
static void tile_store(struct ts_gemm *G, LLVMValueRef first, LLVMValueRef last, LLVMValueRef row0,
                       LLVMValueRef col0, LLVMValueRef mrem, LLVMValueRef nrem) {
    struct ts_llvm *L = G->L;
    LLVMValueRef full = LLVMBuildAnd(L->b, LLVMBuildICmp(L->b, LLVMIntEQ, mrem, ts_llvm_i64(L, G->mr), ""),
                                     LLVMBuildICmp(L->b, LLVMIntEQ, nrem, ts_llvm_i64(L, G->nr), ""), "full");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "tdone");
    int nmodes = G->kdim > G->kc ? 2 : 1;
    LLVMBasicBlockRef mode_bb[2];
    for (int m = 0; m < nmodes; m++) mode_bb[m] = LLVMAppendBasicBlockInContext(L->ctx, L->fn, m ? "tmid" : "tlast");
    if (nmodes == 2) LLVMBuildCondBr(L->b, last, mode_bb[0], mode_bb[1]);
    else LLVMBuildBr(L->b, mode_bb[0]);
    for (int m = 0; m < nmodes; m++) {
        LLVMPositionBuilderAtEnd(L->b, mode_bb[m]);
        LLVMBasicBlockRef fb = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "tfull");
        LLVMBasicBlockRef eb = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "tedge");
        LLVMBuildCondBr(L->b, full, fb, eb);
        LLVMPositionBuilderAtEnd(L->b, fb);
        tile_full(G, m == 0, first, row0, col0);
        LLVMBuildBr(L->b, done);
        LLVMPositionBuilderAtEnd(L->b, eb);
        tile_edge(G, m == 0, first, row0, col0, mrem, nrem);
        LLVMBuildBr(L->b, done);
    }
    LLVMPositionBuilderAtEnd(L->b, done);
}

void ts_gemm_macro(struct ts_gemm *G, LLVMValueRef kcur, LLVMValueRef first, LLVMValueRef last) {
    struct ts_llvm *L = G->L;
    LLVMValueRef zero = ts_llvm_i64(L, 0), one = ts_llvm_i64(L, 1);
    LLVMValueRef ns = LLVMBuildUDiv(L->b, LLVMBuildNSWAdd(L->b, G->ncur, ts_llvm_i64(L, G->nr - 1), ""),
                                    ts_llvm_i64(L, G->nr), "ns");
    LLVMValueRef ms = LLVMBuildUDiv(L->b, LLVMBuildNSWAdd(L->b, G->mcur, ts_llvm_i64(L, G->mr - 1), ""),
                                    ts_llvm_i64(L, G->mr), "ms");
    /* B's sliver (kc × nr floats) stays in L1 while A's slivers stream past it. */
    struct ts_llvm_loop sl, ql;
    LLVMValueRef s = ts_llvm_loop_begin(L, &sl, zero, ns, one, "js");
    LLVMValueRef c0 = ts_gemm_mul(G, s, G->nr);
    LLVMValueRef nrem = ts_gemm_min(G, ts_llvm_i64(L, G->nr), LLVMBuildNSWSub(L->b, G->ncur, c0, ""));
    LLVMValueRef bsl = gep_f32(L, G->bpack, ts_gemm_mul(G, s, (int64_t)G->kc * G->nr));
    LLVMValueRef col0 = LLVMBuildNSWAdd(L->b, G->j0, c0, "");
    LLVMValueRef q = ts_llvm_loop_begin(L, &ql, zero, ms, one, "iq");
    LLVMValueRef r0 = ts_gemm_mul(G, q, G->mr);
    LLVMValueRef mrem = ts_gemm_min(G, ts_llvm_i64(L, G->mr), LLVMBuildNSWSub(L->b, G->mcur, r0, ""));
    LLVMValueRef asl = gep_f32(L, G->apack, ts_gemm_mul(G, q, (int64_t)G->kc * G->mr));
    micro(G, asl, bsl, kcur);
    tile_store(G, first, last, LLVMBuildNSWAdd(L->b, G->i0, r0, ""), col0, mrem, nrem);
    ts_llvm_loop_end(L, &ql);
    ts_llvm_loop_end(L, &sl);
}
