/* emit_gemm.h — what the files of the GEMM emitter share: the kernel's
 * shape and strides as compile-time constants, and the per-task values
 * (tile origin and extent, batch offsets) the packing, micro-kernel and
 * direct small-M code read. Only emit_gemm.c, emit_gemm_pack.c,
 * emit_gemm_micro.c and emit_gemv.c include it. */
#ifndef TESSERA_CODEGEN_LLVM_EMIT_GEMM_H
#define TESSERA_CODEGEN_LLVM_EMIT_GEMM_H

#include "codegen/llvm/internal.h"

/* The largest register block the packed path takes (accumulator vectors). */
#define TS_GEMM_MAX_MR 16
#define TS_GEMM_MAX_NV 4
#define TS_GEMM_MAX_ACC 32

/* The largest M (per batch) the direct path (emit_gemv.c) takes, for B
 * given as [N, K] and as [K, N]: below it, packing B costs about as much as
 * the product itself. (With B [K, N] the accumulators of more rows leave
 * room for fewer vectors of each row of B, so its bound is lower.) */
#define TS_GEMV_MAX_M 8
#define TS_GEMV_MAX_M_KN 4

struct ts_gemm {
    struct ts_llvm *L;
    const struct ts_kernel *k;
    const struct ts_koperand *a, *b, *c;  /* A, B and the output */
    int nbatch;                  /* batch dims [0, nbatch); M is dim nbatch, N dim nbatch+1 */
    int64_t m, n, kdim;          /* M, N, K */
    int64_t sam, sak, sbk, sbn, scm, scn;  /* strides of A (m, k), B (k, n), C (m, n) */
    int mc, nc, kc, mr, nr;      /* the schedule */
    int vw, nv;                  /* f32 lanes per vector; vectors per row of a micro-tile (nr / vw) */
    LLVMTypeRef t_vec;           /* <vw x float> */
    const char *fma;             /* "llvm.fma", or "llvm.fmuladd" on CPUs without FMA */

    /* Per task (valid inside the task loop). */
    LLVMValueRef index[TS_MAX_RANK];     /* batch indices (dims [0, nbatch)) */
    LLVMValueRef off_a, off_b, off_c;    /* element offsets of this batch in A, B, C */
    LLVMValueRef i0, j0, mcur, ncur;     /* the task's rows [i0, i0+mcur), columns [j0, j0+ncur) */

    /* Scratch and stack (created in the entry block). */
    LLVMValueRef apack, bpack;           /* packed A (roundup(mc,mr)×kc) and B (kc×roundup(nc,nr)) */
    LLVMValueRef tile;                   /* [mr·nr] floats: edge tiles spill here */
    LLVMValueRef part;                   /* a narrow output's f32 partial sums between K panels,
                                            roundup(mc,mr) × part_ld, from the task's (i0, j0);
                                            NULL: they live in C itself (an f32 output) */
    int64_t part_ld;                     /* roundup(nc, nr) */
    LLVMValueRef acc[TS_GEMM_MAX_ACC];   /* <vw x float> accumulators, row-major over (r, v) */
};

/* emit_gemm_pack.c: pack the task's panel [pc, pc+kcur) of B into bpack as
 * nr-wide column slivers, and of A into apack as mr-tall row slivers, both
 * converted to f32 and zero-padded past the tile's edge. */
void ts_gemm_pack_b(struct ts_gemm *G, LLVMValueRef pc, LLVMValueRef kcur);
void ts_gemm_pack_a(struct ts_gemm *G, LLVMValueRef pc, LLVMValueRef kcur);

/* emit_gemm_micro.c: the macro-kernel over the packed panels: every
 * (mr × nr) micro-tile accumulated over kcur in registers, then added to the
 * partial sums in C (unless first), and, when last, run through the epilogue
 * and stored in the output's dtype. */
void ts_gemm_macro(struct ts_gemm *G, LLVMValueRef kcur, LLVMValueRef first, LLVMValueRef last);

/* emit_gemv.c: the direct path for small M (ts_llvm_emit_gemm checks that it
 * applies: float operands, B with unit stride along n or along k, M at most
 * TS_GEMV_MAX_M, K > 0, no operand aliasing the output): every output
 * element's whole dot product in registers, read straight from A and B, then
 * the epilogue and the store. Emits the whole body, task loop and ret. */
void ts_gemm_emit_gemv(struct ts_gemm *G);
/* Whether the direct path reads B as [N, K] (k its unit stride, and n not or
 * N narrower than a vector); else as [K, N] (n its unit stride). */
bool ts_gemm_gemv_nk(const struct ts_gemm *G);

/* emit_gemm.c: the task loop of ts_kernel_ntasks ("for t in [begin, end)"
 * with G's per-task values set; close it with ts_llvm_loop_end), and an
 * alloca in the entry block (where SROA promotes it to registers). */
void ts_gemm_task_begin(struct ts_gemm *G, struct ts_llvm_loop *lp);
LLVMValueRef ts_gemm_entry_alloca(struct ts_llvm *L, LLVMTypeRef t, const char *name);

/* emit_gemm.c: small arithmetic helpers shared by the files. */
LLVMValueRef ts_gemm_mul(struct ts_gemm *G, LLVMValueRef x, int64_t c);
LLVMValueRef ts_gemm_min(struct ts_gemm *G, LLVMValueRef x, LLVMValueRef y);
/* The address of A(row, k) / B(k, col) / C(row, col) of this task's batch;
 * row, col and k are i64 values counted from the matrix origin. */
LLVMValueRef ts_gemm_a_ptr(struct ts_gemm *G, LLVMValueRef row, LLVMValueRef k);
LLVMValueRef ts_gemm_b_ptr(struct ts_gemm *G, LLVMValueRef k, LLVMValueRef col);
LLVMValueRef ts_gemm_c_ptr(struct ts_gemm *G, LLVMValueRef row, LLVMValueRef col);
/* The epilogue at (row, col) with ACC = acc (a scalar, or vw lanes along N). */
LLVMValueRef ts_gemm_epilogue(struct ts_gemm *G, LLVMValueRef row, LLVMValueRef col, LLVMValueRef acc,
                              int width);

#endif
