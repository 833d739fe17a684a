/* internal.h — what the LLVM CPU emitters share: the per-module emission
 * context, the kernel function ABI, and helpers for loops, operand addressing,
 * loads and stores with dtype conversion, and expression emission. Only
 * codegen/llvm/ includes it. */
#ifndef TESSERA_CODEGEN_LLVM_INTERNAL_H
#define TESSERA_CODEGEN_LLVM_INTERNAL_H

#include <llvm-c/Core.h>

#include "codegen/codegen.h"

/* One module being built: types, the builder, and the kernel in progress.
 * Every kernel is a function
 *     i32 @name(ptr %args, i64 %begin, i64 %end, ptr %scratch)
 * (runtime.h's ts_rt_kernel_fn): args[i] is the base address of operand i
 * (the kernel's inputs in order, then its output), [begin, end) the tasks to do
 * (ts_kernel_ntasks gives their meaning), scratch the worker's private
 * ts_kernel_scratch_bytes. It returns 0, or e > 0 for the kernel's error e. */
struct ts_llvm {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    const struct ts_cpu_info *cpu;
    LLVMTypeRef t_void, t_i1, t_i8, t_i16, t_i32, t_i64, t_f16, t_f32, t_f64, t_ptr;
    LLVMTypeRef t_kernel;          /* the kernel function type above */
    /* The kernel being emitted (set by module.c before calling an emitter). */
    const struct ts_kernel *k;
    LLVMValueRef fn;
    LLVMValueRef args, begin, end, scratch;  /* the function's parameters */
    LLVMValueRef base[64];         /* operand base pointers loaded in the entry block;
                                      base[ninputs] is the output's */
};

/* ---- cpu.c, module.c ----------------------------------------------------- */

/* Initializes LLVM's native target once per process. */
enum ts_status ts_llvm_init_targets(struct ts_diag *d);

/* Emitters, one per kind: fill L->fn (whose entry block the builder is at,
 * with L->base loaded) with the kernel's whole body, ending in ret. An
 * emitter that cannot handle a kernel returns TS_ERR_UNSUPPORTED naming it. */
enum ts_status ts_llvm_emit_pointwise(struct ts_llvm *L, struct ts_diag *d);
enum ts_status ts_llvm_emit_rowwise(struct ts_llvm *L, struct ts_diag *d);
enum ts_status ts_llvm_emit_gemm(struct ts_llvm *L, struct ts_diag *d);
enum ts_status ts_llvm_emit_attention(struct ts_llvm *L, struct ts_diag *d);

/* Declares (once) and returns an intrinsic such as "llvm.fma" overloaded on
 * the given types, or a libm function such as "expf" (when ntys is 0 and the
 * name has no "llvm." prefix, ret/params describe it). */
LLVMValueRef ts_llvm_intrinsic(struct ts_llvm *L, const char *name, LLVMTypeRef *tys, int ntys);
LLVMValueRef ts_llvm_call_intrinsic(struct ts_llvm *L, const char *name, LLVMTypeRef *tys, int ntys,
                                    LLVMValueRef *args, int nargs);
LLVMValueRef ts_llvm_libm(struct ts_llvm *L, const char *name, LLVMTypeRef ret,
                          LLVMTypeRef *params, int nparams);

/* ---- util.c: loops, addressing, loads and stores -------------------------- */

/* A counted loop: for (i = from; i < to; i += step). Usage:
 *   struct ts_llvm_loop lp; LLVMValueRef i = ts_llvm_loop_begin(L, &lp, from, to, step, "i");
 *   … body at the builder …
 *   ts_llvm_loop_end(L, &lp);
 * All values i64. The body may create blocks; the latch is where the builder is. */
struct ts_llvm_loop {
    LLVMBasicBlockRef header, body, exit;
    LLVMValueRef phi, step;
};
LLVMValueRef ts_llvm_loop_begin(struct ts_llvm *L, struct ts_llvm_loop *lp, LLVMValueRef from,
                                LLVMValueRef to, LLVMValueRef step, const char *name);
void ts_llvm_loop_end(struct ts_llvm *L, struct ts_llvm_loop *lp);

LLVMValueRef ts_llvm_i64(struct ts_llvm *L, int64_t v);
LLVMValueRef ts_llvm_i32(struct ts_llvm *L, int32_t v);
LLVMValueRef ts_llvm_f32(struct ts_llvm *L, double v);

/* The LLVM type a dtype is stored as (f16 → half, bf16 → i16, bool → i8). */
LLVMTypeRef ts_llvm_storage_type(struct ts_llvm *L, enum ts_dtype t);
/* The LLVM type of a scalar (F32 → float, F64 → double, I64 → i64, BOOL → i1),
 * or a vector of 'width' of them when width > 1. */
LLVMTypeRef ts_llvm_scalar_type(struct ts_llvm *L, enum ts_scalar s, int width);

/* Element address: base + (op->offset + elem) elements of op->dtype. 'elem'
 * is an i64 element index relative to the operand's offset. */
LLVMValueRef ts_llvm_elem_ptr(struct ts_llvm *L, const struct ts_koperand *op, LLVMValueRef base,
                              LLVMValueRef elem);
/* Loads 'width' elements at ptr, 'stride' elements apart (stride 0: one
 * element broadcast; 1: one contiguous vector load; else lane by lane), and
 * converts them to the dtype's scalar type (f16/bf16 → F32, i32 → I64 sign-
 * extended, bool → i1). Loads are unaligned-safe (align 1): weights are views
 * of a mapped file. */
LLVMValueRef ts_llvm_load(struct ts_llvm *L, enum ts_dtype t, LLVMValueRef ptr, int64_t stride, int width);
/* Converts v (of the dtype's scalar type) to the dtype (f16 and bf16 rounded
 * to nearest even, i64 → i32 truncated, i1 → i8) and stores 'width' elements
 * 'stride' apart (1: one vector store). */
void ts_llvm_store(struct ts_llvm *L, enum ts_dtype t, LLVMValueRef ptr, int64_t stride, int width,
                   LLVMValueRef v);
/* Returns from the kernel with error e when cond (i1) holds. */
void ts_llvm_fail_if(struct ts_llvm *L, LLVMValueRef cond, int e);

/* ---- expr.c: expression emission ----------------------------------------- */

/* Where an expression is evaluated: the iteration index of each dim (i64; for
 * vectors, the first lane's), how many lanes advance along vector_dim, and
 * the values ACC and ROW stand for (scalars, or vectors of 'width'). */
struct ts_llvm_env {
    int width;                       /* 1: scalar; > 1: lanes along vector_dim */
    int vector_dim;                  /* the dim lanes advance along (when width > 1) */
    LLVMValueRef index[TS_MAX_RANK];
    LLVMValueRef acc;                /* ACC */
    LLVMValueRef row;                /* ROW */
};
/* Emits expression entries up to and including 'root' (each at most once per
 * call) and returns root's value: loads follow each operand's index map,
 * math follows ir/ops_elementwise.c (NaN rules, integer wrapping, CAST
 * rounding and saturation), DIV and LOAD_AT checks return their error. */
LLVMValueRef ts_llvm_expr(struct ts_llvm *L, int root, const struct ts_llvm_env *env);
/* The element offset of operand 'op' at the env's index (without op->offset). */
LLVMValueRef ts_llvm_operand_index(struct ts_llvm *L, const struct ts_koperand *op,
                                   const struct ts_llvm_env *env);

/* ---- vmath.c: f32 transcendentals as inline IR ----------------------------- */

/* Each takes x as float or <w x float> and returns the same type, computed
 * with range reduction, polynomials and selects instead of libm calls, so
 * vector loops stay vectors (scalar tails use the same code and agree with the
 * lanes). Special values follow libm: NaN propagates, exp overflows to inf
 * and underflows through the subnormals to 0, log(0) = −inf, log(x < 0) = NaN,
 * tanh and erf saturate to ±1. Bounds on FMA targets, which
 * tests/codegen/test_vmath.c checks against the exact function: exp, log,
 * tanh, erf 2 ulp (measured ≤ 1.3); sigmoid, silu, gelu_tanh 3 ulp; gelu 6
 * ulp (its x < −0.7 side, through erfc); results under 1e-30 only within the
 * f32 tolerance. */
LLVMValueRef ts_llvm_vexp(struct ts_llvm *L, LLVMValueRef x);
LLVMValueRef ts_llvm_vlog(struct ts_llvm *L, LLVMValueRef x);
LLVMValueRef ts_llvm_vtanh(struct ts_llvm *L, LLVMValueRef x);
LLVMValueRef ts_llvm_verf(struct ts_llvm *L, LLVMValueRef x);
LLVMValueRef ts_llvm_vsigmoid(struct ts_llvm *L, LLVMValueRef x);    /* 1/(1+exp(−x)) */
LLVMValueRef ts_llvm_vsilu(struct ts_llvm *L, LLVMValueRef x);       /* x·sigmoid(x) */
LLVMValueRef ts_llvm_vgelu(struct ts_llvm *L, LLVMValueRef x);       /* 0.5·x·(1+erf(x/√2)) */
LLVMValueRef ts_llvm_vgelu_tanh(struct ts_llvm *L, LLVMValueRef x);  /* tanh approximation */

#endif
