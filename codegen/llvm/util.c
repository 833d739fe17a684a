/* util.c — the small pieces every LLVM emitter builds with: counted loops,
 * constants, the LLVM types of dtypes and scalars, element addresses, and
 * loads and stores that convert between a dtype's storage and its scalar type
 * (f16/bf16 ↔ f32 with round-to-nearest-even, i32 ↔ i64, bool ↔ i1). */
#include "internal.h"

LLVMValueRef ts_llvm_loop_begin(struct ts_llvm *L, struct ts_llvm_loop *lp, LLVMValueRef from,
                                LLVMValueRef to, LLVMValueRef step, const char *name) {
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(L->b);
    lp->header = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "loop");
    lp->body = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "body");
    lp->exit = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "done");
    lp->step = step;
    LLVMBuildBr(L->b, lp->header);
    /* The test sits at the top, so an empty range (from >= to) skips the body. */
    LLVMPositionBuilderAtEnd(L->b, lp->header);
    lp->phi = LLVMBuildPhi(L->b, L->t_i64, name);
    LLVMAddIncoming(lp->phi, &from, &pre, 1);
    LLVMValueRef more = LLVMBuildICmp(L->b, LLVMIntSLT, lp->phi, to, "more");
    LLVMBuildCondBr(L->b, more, lp->body, lp->exit);
    LLVMPositionBuilderAtEnd(L->b, lp->body);
    return lp->phi;
}

void ts_llvm_loop_end(struct ts_llvm *L, struct ts_llvm_loop *lp) {
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(L->b);
    /* nsw: indices stay far below 2^63 (ts_dims_fit bounds every size). */
    LLVMValueRef next = LLVMBuildNSWAdd(L->b, lp->phi, lp->step, "next");
    LLVMBuildBr(L->b, lp->header);
    LLVMAddIncoming(lp->phi, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(L->b, lp->exit);
}

LLVMValueRef ts_llvm_i64(struct ts_llvm *L, int64_t v) {
    return LLVMConstInt(L->t_i64, (unsigned long long)v, 1);
}

LLVMValueRef ts_llvm_i32(struct ts_llvm *L, int32_t v) {
    return LLVMConstInt(L->t_i32, (unsigned long long)(int64_t)v, 1);
}

LLVMValueRef ts_llvm_f32(struct ts_llvm *L, double v) { return LLVMConstReal(L->t_f32, (float)v); }

LLVMTypeRef ts_llvm_storage_type(struct ts_llvm *L, enum ts_dtype t) {
    switch (t) {
    case TS_F32: return L->t_f32;
    case TS_F16: return L->t_f16;
    case TS_BF16: return L->t_i16;
    case TS_I32: return L->t_i32;
    case TS_I64: return L->t_i64;
    case TS_BOOL: return L->t_i8;
    default: break;
    }
    TS_ASSERT(!"bad dtype");
    return NULL;
}

LLVMTypeRef ts_llvm_scalar_type(struct ts_llvm *L, enum ts_scalar s, int width) {
    LLVMTypeRef t = NULL;
    switch (s) {
    case TS_SCALAR_F32: t = L->t_f32; break;
    case TS_SCALAR_F64: t = L->t_f64; break;
    case TS_SCALAR_I64: t = L->t_i64; break;
    case TS_SCALAR_BOOL: t = L->t_i1; break;
    default: TS_ASSERT(!"bad scalar type");
    }
    return width > 1 ? LLVMVectorType(t, (unsigned)width) : t;
}

LLVMValueRef ts_llvm_elem_ptr(struct ts_llvm *L, const struct ts_koperand *op, LLVMValueRef base,
                              LLVMValueRef elem) {
    LLVMValueRef at = op->offset ? LLVMBuildNSWAdd(L->b, elem, ts_llvm_i64(L, op->offset), "at") : elem;
    return LLVMBuildGEP2(L->b, ts_llvm_storage_type(L, op->dtype), base, &at, 1, "p");
}

/* A vector of 'width' copies of scalar v. */
static LLVMValueRef splat(struct ts_llvm *L, LLVMValueRef v, int width) {
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(v), (unsigned)width);
    LLVMValueRef one = LLVMBuildInsertElement(L->b, LLVMGetPoison(vt), v, ts_llvm_i32(L, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(L->t_i32, (unsigned)width));
    return LLVMBuildShuffleVector(L->b, one, LLVMGetPoison(vt), zeros, "splat");
}

/* Element i of a vector ptr walk: ptr + i·stride elements of type t. */
static LLVMValueRef lane_ptr(struct ts_llvm *L, LLVMTypeRef t, LLVMValueRef ptr, int64_t at) {
    LLVMValueRef off = ts_llvm_i64(L, at);
    return LLVMBuildGEP2(L->b, t, ptr, &off, 1, "lp");
}

static LLVMValueRef load1(struct ts_llvm *L, LLVMTypeRef t, LLVMValueRef ptr) {
    LLVMValueRef v = LLVMBuildLoad2(L->b, t, ptr, "ld");
    LLVMSetAlignment(v, 1); /* weights are views of a mapped file, possibly unaligned */
    return v;
}

static void store1(struct ts_llvm *L, LLVMValueRef v, LLVMValueRef ptr) {
    LLVMValueRef s = LLVMBuildStore(L->b, v, ptr);
    LLVMSetAlignment(s, 1);
}

LLVMValueRef ts_llvm_load(struct ts_llvm *L, enum ts_dtype t, LLVMValueRef ptr, int64_t stride, int width) {
    LLVMTypeRef st = ts_llvm_storage_type(L, t);
    LLVMValueRef raw;
    if (width <= 1) {
        raw = load1(L, st, ptr);
    } else if (stride == 1) {
        raw = load1(L, LLVMVectorType(st, (unsigned)width), ptr);
    } else if (stride == 0) {
        raw = splat(L, load1(L, st, ptr), width);
    } else {
        raw = LLVMGetPoison(LLVMVectorType(st, (unsigned)width));
        for (int i = 0; i < width; i++)
            raw = LLVMBuildInsertElement(L->b, raw, load1(L, st, lane_ptr(L, st, ptr, i * stride)),
                                         ts_llvm_i32(L, i), "");
    }
    int w = width > 1 ? width : 1;
#define VT(ty) (w > 1 ? LLVMVectorType((ty), (unsigned)w) : (ty))
    switch (t) {
    case TS_F32:
    case TS_I64: return raw;
    case TS_F16: return LLVMBuildFPExt(L->b, raw, VT(L->t_f32), "f16");
    case TS_BF16: {
        /* bf16 is the top half of an f32 */
        LLVMValueRef wide = LLVMBuildZExt(L->b, raw, VT(L->t_i32), "");
        LLVMValueRef sh = LLVMBuildShl(L->b, wide, w > 1 ? splat(L, ts_llvm_i32(L, 16), w) : ts_llvm_i32(L, 16), "");
        return LLVMBuildBitCast(L->b, sh, VT(L->t_f32), "bf16");
    }
    case TS_I32: return LLVMBuildSExt(L->b, raw, VT(L->t_i64), "i32");
    case TS_BOOL: return LLVMBuildICmp(L->b, LLVMIntNE, raw, LLVMConstNull(LLVMTypeOf(raw)), "bool");
    default: break;
    }
#undef VT
    TS_ASSERT(!"bad dtype");
    return NULL;
}

/* f32 → bf16 bits, round to nearest even on the integer bits (a carry into
 * the exponent is the correct rounding up, to inf at the top); NaN becomes
 * the quiet 0x7fc0 as in ts_bf16_from_f64. */
static LLVMValueRef f32_to_bf16(struct ts_llvm *L, LLVMValueRef v, int w) {
    LLVMTypeRef i32t = w > 1 ? LLVMVectorType(L->t_i32, (unsigned)w) : L->t_i32;
    LLVMTypeRef i16t = w > 1 ? LLVMVectorType(L->t_i16, (unsigned)w) : L->t_i16;
#define C32(x) (w > 1 ? splat(L, ts_llvm_i32(L, (x)), w) : ts_llvm_i32(L, (x)))
    LLVMValueRef u = LLVMBuildBitCast(L->b, v, i32t, "");
    LLVMValueRef lsb = LLVMBuildAnd(L->b, LLVMBuildLShr(L->b, u, C32(16), ""), C32(1), "");
    LLVMValueRef r = LLVMBuildAdd(L->b, u, LLVMBuildAdd(L->b, lsb, C32(0x7fff), ""), "");
    r = LLVMBuildTrunc(L->b, LLVMBuildLShr(L->b, r, C32(16), ""), i16t, "");
    LLVMValueRef nan = LLVMBuildFCmp(L->b, LLVMRealUNO, v, v, "nan");
    LLVMValueRef qnan = LLVMConstInt(L->t_i16, 0x7fc0, 0);
    if (w > 1) qnan = splat(L, qnan, w);
#undef C32
    return LLVMBuildSelect(L->b, nan, qnan, r, "bf16");
}

/* v, of whatever scalar type its LLVM type says (float, double, i64, i1),
 * as dtype t's scalar type under the interpreter's store rules (ts_tensor_set_f64):
 * floats to integers truncate toward zero and saturate (NaN → 0), integers to
 * floats round once, anything to bool is x != 0 (NaN is nonzero). */
static LLVMValueRef to_scalar_of(struct ts_llvm *L, enum ts_dtype t, LLVMValueRef v, int w) {
    LLVMTypeRef want = ts_llvm_scalar_type(L, ts_scalar_of_dtype(t), w);
    LLVMTypeRef have = LLVMTypeOf(v);
    if (have == want) return v;
    LLVMTypeRef he = w > 1 ? LLVMGetElementType(have) : have;
    bool from_float = he == L->t_f32 || he == L->t_f64;
    bool from_bool = he == L->t_i1;
#define VT(ty) (w > 1 ? LLVMVectorType((ty), (unsigned)w) : (ty))
    switch (t) {
    case TS_F32:
    case TS_BF16:
        if (from_float) return LLVMBuildFPTrunc(L->b, v, want, "");
        return from_bool ? LLVMBuildUIToFP(L->b, v, want, "") : LLVMBuildSIToFP(L->b, v, want, "");
    case TS_F16: {
        /* straight to half (one rounding); back to f32 is exact */
        LLVMValueRef h = from_float  ? LLVMBuildFPTrunc(L->b, v, VT(L->t_f16), "")
                         : from_bool ? LLVMBuildUIToFP(L->b, v, VT(L->t_f16), "")
                                     : LLVMBuildSIToFP(L->b, v, VT(L->t_f16), "");
        return LLVMBuildFPExt(L->b, h, want, "");
    }
    case TS_I32:
    case TS_I64: {
        if (from_bool) return LLVMBuildZExt(L->b, v, want, "");
        TS_ASSERT(from_float);
        LLVMTypeRef tys[2] = {VT(t == TS_I32 ? L->t_i32 : L->t_i64), have};
        LLVMValueRef r = ts_llvm_call_intrinsic(L, "llvm.fptosi.sat", tys, 2, &v, 1);
        return t == TS_I32 ? LLVMBuildSExt(L->b, r, want, "") : r;
    }
    case TS_BOOL:
        if (from_float) return LLVMBuildFCmp(L->b, LLVMRealUNE, v, LLVMConstNull(have), "");
        return LLVMBuildICmp(L->b, LLVMIntNE, v, LLVMConstNull(have), "");
    default: break;
    }
#undef VT
    TS_ASSERT(!"bad dtype");
    return NULL;
}

void ts_llvm_store(struct ts_llvm *L, enum ts_dtype t, LLVMValueRef ptr, int64_t stride, int width,
                   LLVMValueRef v) {
    int w = width > 1 ? width : 1;
    v = to_scalar_of(L, t, v, w);
    LLVMTypeRef st = ts_llvm_storage_type(L, t);
    LLVMTypeRef vst = w > 1 ? LLVMVectorType(st, (unsigned)w) : st;
    switch (t) {
    case TS_F32:
    case TS_I64: break;
    case TS_F16: v = LLVMBuildFPTrunc(L->b, v, vst, "f16"); break; /* IEEE round to nearest even */
    case TS_BF16: v = f32_to_bf16(L, v, w); break;
    case TS_I32: v = LLVMBuildTrunc(L->b, v, vst, "i32"); break;   /* wraps, like ts_tensor_set_i64 */
    case TS_BOOL: v = LLVMBuildZExt(L->b, v, vst, "bool"); break;
    default: TS_ASSERT(!"bad dtype");
    }
    if (w == 1) {
        store1(L, v, ptr);
    } else if (stride == 1) {
        store1(L, v, ptr);
    } else if (stride == 0) {
        /* every lane writes the same element: the last write wins */
        store1(L, LLVMBuildExtractElement(L->b, v, ts_llvm_i32(L, w - 1), ""), ptr);
    } else {
        for (int i = 0; i < w; i++)
            store1(L, LLVMBuildExtractElement(L->b, v, ts_llvm_i32(L, i), ""),
                   lane_ptr(L, st, ptr, i * stride));
    }
}

void ts_llvm_fail_if(struct ts_llvm *L, LLVMValueRef cond, int e) {
    LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "fail");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(L->ctx, L->fn, "ok");
    /* Errors are rare: tell the optimizer so the checks stay off the hot path. */
    LLVMValueRef expect = ts_llvm_call_intrinsic(L, "llvm.expect", &L->t_i1, 1,
                                                 (LLVMValueRef[]){cond, LLVMConstInt(L->t_i1, 0, 0)}, 2);
    LLVMBuildCondBr(L->b, expect, fail, ok);
    LLVMPositionBuilderAtEnd(L->b, fail);
    LLVMBuildRet(L->b, ts_llvm_i32(L, e));
    LLVMPositionBuilderAtEnd(L->b, ok);
}
