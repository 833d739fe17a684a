/* emit_gemm.c — the GEMM kernel emitter: splits the tasks of ts_kernel_ntasks
 * (batch, row block, column block) and picks the code for them: the packed,
 * cache-blocked path (emit_gemm_pack.c, emit_gemm_micro.c) for float GEMMs,
 * the direct path (emit_gemv.c) for those with a small M (a decode step),
 * or a plain triple loop that handles every other case (integer matmul, K = 0,
 * an output that aliases an input, a schedule the packed path does not take). */
#include "codegen/llvm/emit_gemm.h"

/* ---- shared arithmetic and addressing ------------------------------------ */

LLVMValueRef ts_gemm_mul(struct ts_gemm *G, LLVMValueRef x, int64_t c) {
    struct ts_llvm *L = G->L;
    if (c == 0) return ts_llvm_i64(L, 0);
    if (c == 1) return x;
    return LLVMBuildNSWMul(L->b, x, ts_llvm_i64(L, c), "");
}

LLVMValueRef ts_gemm_min(struct ts_gemm *G, LLVMValueRef x, LLVMValueRef y) {
    struct ts_llvm *L = G->L;
    return LLVMBuildSelect(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, x, y, ""), x, y, "min");
}

static LLVMValueRef add(struct ts_gemm *G, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildNSWAdd(G->L->b, x, y, "");
}

LLVMValueRef ts_gemm_a_ptr(struct ts_gemm *G, LLVMValueRef row, LLVMValueRef k) {
    LLVMValueRef e = add(G, G->off_a, add(G, ts_gemm_mul(G, row, G->sam), ts_gemm_mul(G, k, G->sak)));
    return ts_llvm_elem_ptr(G->L, G->a, G->L->base[0], e);
}

LLVMValueRef ts_gemm_b_ptr(struct ts_gemm *G, LLVMValueRef k, LLVMValueRef col) {
    LLVMValueRef e = add(G, G->off_b, add(G, ts_gemm_mul(G, k, G->sbk), ts_gemm_mul(G, col, G->sbn)));
    return ts_llvm_elem_ptr(G->L, G->b, G->L->base[1], e);
}

LLVMValueRef ts_gemm_c_ptr(struct ts_gemm *G, LLVMValueRef row, LLVMValueRef col) {
    LLVMValueRef e = add(G, G->off_c, add(G, ts_gemm_mul(G, row, G->scm), ts_gemm_mul(G, col, G->scn)));
    return ts_llvm_elem_ptr(G->L, G->c, G->L->base[G->k->ninputs], e);
}

LLVMValueRef ts_gemm_epilogue(struct ts_gemm *G, LLVMValueRef row, LLVMValueRef col, LLVMValueRef acc,
                              int width) {
    const struct ts_kernel *k = G->k;
    if (k->out_root < 0) return acc;
    struct ts_llvm_env env = {.width = width, .vector_dim = G->nbatch + 1, .acc = acc};
    for (int d = 0; d < G->nbatch; d++) env.index[d] = G->index[d];
    env.index[G->nbatch] = row;
    env.index[G->nbatch + 1] = col;
    return ts_llvm_expr(G->L, k->out_root, &env);
}

/* ---- the task loop -------------------------------------------------------- */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Emits "for t in [begin, end)" and, inside it, the task's tile and batch
 * offsets (ts_kernel_ntasks: t = (b·mb + i)·nb + j); returns with the builder
 * in the loop body. */
void ts_gemm_task_begin(struct ts_gemm *G, struct ts_llvm_loop *lp) {
    struct ts_llvm *L = G->L;
    const struct ts_kernel *k = G->k;
    int64_t mb = ceil_div(G->m, G->mc), nb = ceil_div(G->n, G->nc);
    LLVMValueRef t = ts_llvm_loop_begin(L, lp, L->begin, L->end, ts_llvm_i64(L, 1), "task");
    LLVMValueRef bt = LLVMBuildUDiv(L->b, t, ts_llvm_i64(L, mb * nb), "batch");
    LLVMValueRef rest = LLVMBuildURem(L->b, t, ts_llvm_i64(L, mb * nb), "");
    LLVMValueRef ib = LLVMBuildUDiv(L->b, rest, ts_llvm_i64(L, nb), "");
    LLVMValueRef jb = LLVMBuildURem(L->b, rest, ts_llvm_i64(L, nb), "");
    G->i0 = ts_gemm_mul(G, ib, G->mc);
    G->j0 = ts_gemm_mul(G, jb, G->nc);
    G->mcur = ts_gemm_min(G, ts_llvm_i64(L, G->mc), LLVMBuildNSWSub(L->b, ts_llvm_i64(L, G->m), G->i0, ""));
    G->ncur = ts_gemm_min(G, ts_llvm_i64(L, G->nc), LLVMBuildNSWSub(L->b, ts_llvm_i64(L, G->n), G->j0, ""));
    /* The batch number as indices of the batch dims, innermost last. */
    G->off_a = G->off_b = G->off_c = ts_llvm_i64(L, 0);
    for (int d = G->nbatch - 1; d >= 0; d--) {
        LLVMValueRef dim = ts_llvm_i64(L, k->dims[d]);
        G->index[d] = d == 0 ? bt : LLVMBuildURem(L->b, bt, dim, "bi");
        if (d > 0) bt = LLVMBuildUDiv(L->b, bt, dim, "");
        G->off_a = add(G, G->off_a, ts_gemm_mul(G, G->index[d], G->a->strides[d]));
        G->off_b = add(G, G->off_b, ts_gemm_mul(G, G->index[d], G->b->strides[d]));
        G->off_c = add(G, G->off_c, ts_gemm_mul(G, G->index[d], G->c->strides[d]));
    }
}

LLVMValueRef ts_gemm_entry_alloca(struct ts_llvm *L, LLVMTypeRef t, const char *name) {
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(L->fn);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(L->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first) LLVMPositionBuilderBefore(b, first);
    else LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef v = LLVMBuildAlloca(b, t, name);
    LLVMDisposeBuilder(b);
    return v;
}

/* ---- the packed path ------------------------------------------------------ */

static void emit_packed(struct ts_gemm *G) {
    struct ts_llvm *L = G->L;
    G->t_vec = LLVMVectorType(L->t_f32, (unsigned)G->vw);
    for (int i = 0; i < G->mr * G->nv; i++) {
        G->acc[i] = ts_gemm_entry_alloca(L, G->t_vec, "acc");
        LLVMSetAlignment(G->acc[i], (unsigned)(4 * G->vw));
    }
    G->tile = ts_gemm_entry_alloca(L, LLVMArrayType(L->t_f32, (unsigned)(G->mr * G->nr)), "tile");
    LLVMSetAlignment(G->tile, 64);
    /* Scratch (64-byte aligned): B's panel first, then A's block on the next
     * 64-byte boundary; ts_kernel_scratch_bytes leaves 128 bytes for that. */
    int64_t bfloats = (int64_t)G->kc * ceil_div(G->nc, G->nr) * G->nr;
    int64_t aoff = (bfloats * 4 + 63) / 64 * 16;
    G->bpack = L->scratch;
    LLVMValueRef off = ts_llvm_i64(L, aoff);
    G->apack = LLVMBuildGEP2(L->b, L->t_f32, L->scratch, &off, 1, "apack");
    if (ts_kernel_gemm_needs_partials(G->k)) {
        /* After A's block, on the next 64-byte boundary (ts_kernel_scratch_bytes). */
        int64_t afloats = (int64_t)ceil_div(G->mc, G->mr) * G->mr * G->kc;
        LLVMValueRef poff = ts_llvm_i64(L, aoff + (afloats * 4 + 63) / 64 * 16);
        G->part = LLVMBuildGEP2(L->b, L->t_f32, L->scratch, &poff, 1, "part");
        G->part_ld = (int64_t)ceil_div(G->nc, G->nr) * G->nr;
    }

    struct ts_llvm_loop tl;
    ts_gemm_task_begin(G, &tl);
    struct ts_llvm_loop pl;
    LLVMValueRef kdim = ts_llvm_i64(L, G->kdim);
    LLVMValueRef pc = ts_llvm_loop_begin(L, &pl, ts_llvm_i64(L, 0), kdim, ts_llvm_i64(L, G->kc), "pc");
    LLVMValueRef kcur = ts_gemm_min(G, ts_llvm_i64(L, G->kc), LLVMBuildNSWSub(L->b, kdim, pc, ""));
    LLVMValueRef first = LLVMBuildICmp(L->b, LLVMIntEQ, pc, ts_llvm_i64(L, 0), "first");
    LLVMValueRef last = LLVMBuildICmp(L->b, LLVMIntSGE, LLVMBuildNSWAdd(L->b, pc, kcur, ""), kdim, "last");
    ts_gemm_pack_b(G, pc, kcur);
    ts_gemm_pack_a(G, pc, kcur);
    ts_gemm_macro(G, kcur, first, last);
    ts_llvm_loop_end(L, &pl);
    ts_llvm_loop_end(L, &tl);
    LLVMBuildRet(L->b, ts_llvm_i32(L, 0));
}

/* ---- the plain path ------------------------------------------------------- */

/* Every output element of the task as its own dot product over k, in the
 * accumulator type (integers wrap); the epilogue sees all iteration indices. */
static void emit_plain(struct ts_gemm *G) {
    struct ts_llvm *L = G->L;
    const struct ts_kernel *k = G->k;
    LLVMTypeRef at = ts_llvm_scalar_type(L, k->acc_type, 1);
    LLVMValueRef slot = ts_gemm_entry_alloca(L, at, "acc");
    LLVMValueRef zero = LLVMConstNull(at);

    struct ts_llvm_loop tl, ml, nl;
    ts_gemm_task_begin(G, &tl);
    LLVMValueRef mi = ts_llvm_loop_begin(L, &ml, ts_llvm_i64(L, 0), G->mcur, ts_llvm_i64(L, 1), "m");
    LLVMValueRef row = add(G, G->i0, mi);
    LLVMValueRef ni = ts_llvm_loop_begin(L, &nl, ts_llvm_i64(L, 0), G->ncur, ts_llvm_i64(L, 1), "n");
    LLVMValueRef col = add(G, G->j0, ni);
    struct ts_llvm_env env = {.width = 1};
    for (int d = 0; d < G->nbatch; d++) env.index[d] = G->index[d];
    if (k->rank >= 2) env.index[k->rank - 2] = row;
    if (k->rank >= 1) env.index[k->rank - 1] = col;
    LLVMValueRef acc = zero;
    if (G->kdim > 0) {
        LLVMBuildStore(L->b, zero, slot);
        LLVMValueRef ea = ts_llvm_operand_index(L, G->a, &env);
        LLVMValueRef eb = ts_llvm_operand_index(L, G->b, &env);
        struct ts_llvm_loop kl;
        LLVMValueRef kk = ts_llvm_loop_begin(L, &kl, ts_llvm_i64(L, 0), ts_llvm_i64(L, G->kdim),
                                             ts_llvm_i64(L, 1), "k");
        LLVMValueRef pa = ts_llvm_elem_ptr(L, G->a, L->base[0], add(G, ea, ts_gemm_mul(G, kk, G->a->kstride)));
        LLVMValueRef pb = ts_llvm_elem_ptr(L, G->b, L->base[1], add(G, eb, ts_gemm_mul(G, kk, G->b->kstride)));
        LLVMValueRef va = ts_llvm_load(L, G->a->dtype, pa, 1, 1);
        LLVMValueRef vb = ts_llvm_load(L, G->b->dtype, pb, 1, 1);
        LLVMValueRef cur = LLVMBuildLoad2(L->b, at, slot, "");
        LLVMValueRef next;
        if (k->acc_type == TS_SCALAR_I64) {
            next = LLVMBuildAdd(L->b, cur, LLVMBuildMul(L->b, va, vb, ""), ""); /* wraps */
        } else {
            next = ts_llvm_call_intrinsic(L, G->fma, &at, 1, (LLVMValueRef[]){va, vb, cur}, 3);
        }
        LLVMBuildStore(L->b, next, slot);
        ts_llvm_loop_end(L, &kl);
        acc = LLVMBuildLoad2(L->b, at, slot, "acc");
    }
    env.acc = acc;
    LLVMValueRef v = k->out_root >= 0 ? ts_llvm_expr(L, k->out_root, &env) : acc;
    LLVMValueRef pc = ts_llvm_elem_ptr(L, G->c, L->base[k->ninputs], ts_llvm_operand_index(L, G->c, &env));
    ts_llvm_store(L, G->c->dtype, pc, 1, 1, v);
    ts_llvm_loop_end(L, &nl);
    ts_llvm_loop_end(L, &ml);
    ts_llvm_loop_end(L, &tl);
    LLVMBuildRet(L->b, ts_llvm_i32(L, 0));
}

/* ---- choosing the path ---------------------------------------------------- */

static bool is_float(enum ts_dtype t) { return t == TS_F32 || t == TS_F16 || t == TS_BF16; }

/* What both fast paths ask of the operands: f32 accumulation of float A
 * and B, K > 0, A independent of n and B of m, and no operand sharing the
 * output's buffer (they read A and B while C is written). */
static bool operands_ok(const struct ts_gemm *G) {
    const struct ts_kernel *k = G->k;
    if (k->acc_type != TS_SCALAR_F32 || k->rank < 2 || G->kdim <= 0) return false;
    if (!is_float(G->a->dtype) || !is_float(G->b->dtype)) return false;
    if (G->a->strides[k->rank - 1] != 0 || G->b->strides[k->rank - 2] != 0) return false;
    for (int i = 0; i < k->ninputs; i++)
        if (k->inputs[i].buffer == k->output.buffer) return false;
    return true;
}

static bool packed_ok(const struct ts_gemm *G) {
    if (!operands_ok(G)) return false;
    if (G->mr < 1 || G->mr > TS_GEMM_MAX_MR || G->nr < 1 || G->nr % G->vw != 0) return false;
    if (G->nv > TS_GEMM_MAX_NV || G->mr * G->nv > TS_GEMM_MAX_ACC) return false;
    return G->mc >= 1 && G->nc >= 1 && G->kc >= 1;
}

/* Whether the direct path (emit_gemv.c) applies: what packed_ok asks of the
 * operands (it too reads A and B as floats and must not see its output
 * change under it), a small M, and B with unit stride along k or n (the
 * bounds of emit_gemm.h, measured against the packed path on an AVX-512
 * Xeon). It needs no f32 output for long K: each dot product is whole before
 * it is stored. */
static bool gemv_ok(const struct ts_gemm *G) {
    if (!operands_ok(G)) return false;
    if (G->m > TS_GEMV_MAX_M) return false;
    if (ts_gemm_gemv_nk(G)) return true;
    return G->sbn == 1 && G->m <= TS_GEMV_MAX_M_KN;
}

enum ts_status ts_llvm_emit_gemm(struct ts_llvm *L, struct ts_diag *d) {
    const struct ts_kernel *k = L->k;
    if (k->ninputs < 2)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "a GEMM kernel needs A and B operands");
    const struct ts_sched_gemm *s = &k->sched.gemm;
    if (s->mc < 1 || s->nc < 1 || s->kc < 1 || s->mr < 1 || s->nr < 1)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                           "GEMM schedule has a non-positive block (mc %d, nc %d, kc %d, mr %d, nr %d)",
                           s->mc, s->nc, s->kc, s->mr, s->nr);
    if (k->acc_type != TS_SCALAR_F32 && k->acc_type != TS_SCALAR_I64)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "GEMM accumulates in %s, not f32 or i64",
                           ts_scalar_name(k->acc_type));
    for (int i = 0; i < 2; i++)
        if (ts_scalar_of_dtype(k->inputs[i].dtype) != k->acc_type)
            return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                               "GEMM operand %s is %s but it accumulates in %s", i ? "B" : "A",
                               ts_dtype_name(k->inputs[i].dtype), ts_scalar_name(k->acc_type));

    struct ts_gemm G = {.L = L, .k = k, .a = &k->inputs[0], .b = &k->inputs[1], .c = &k->output};
    int r = k->rank;
    G.nbatch = r >= 2 ? r - 2 : 0;
    G.m = r >= 2 ? k->dims[r - 2] : 1;
    G.n = r >= 1 ? k->dims[r - 1] : 1;
    G.kdim = k->k;
    if (r >= 2) {
        G.sam = G.a->strides[r - 2];
        G.scm = G.c->strides[r - 2];
    }
    if (r >= 1) {
        G.sbn = G.b->strides[r - 1];
        G.scn = G.c->strides[r - 1];
    }
    G.sak = G.a->kstride;
    G.sbk = G.b->kstride;
    G.mc = s->mc;
    G.nc = s->nc;
    G.kc = s->kc;
    G.mr = s->mr;
    G.nr = s->nr;
    /* The widest vector that divides nr (a schedule made for AVX2 still runs,
     * in 256-bit vectors, on an AVX-512 machine). */
    G.vw = L->cpu->vector_width > 0 ? L->cpu->vector_width : 1;
    while (G.vw > 1 && G.nr % G.vw != 0) G.vw /= 2;
    G.nv = G.nr / G.vw;
    /* Without FMA hardware llvm.fma is a libm call per element; fmuladd is a
     * multiply and an add there (and still one FMA where there is one). */
    G.fma = L->cpu->fma ? "llvm.fma" : "llvm.fmuladd";

    if (gemv_ok(&G)) ts_gemm_emit_gemv(&G);
    else if (packed_ok(&G)) emit_packed(&G);
    else emit_plain(&G);
    return TS_OK;
}
