/* expr.c — emits a kernel's expression (the SSA list of ts_kx entries) as
 * LLVM IR, for one element or a vector of lanes: loads through index maps,
 * gathers, math with the reference's NaN, wrapping and rounding rules
 * (ir/ops_elementwise.c, ir/tensor.c), casts, and the DIV / LOAD_AT checks. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

#define TS_PI 3.14159265358979323846

struct ts_expr_ctx {
    struct ts_llvm *L;
    const struct ts_llvm_env *env;
    int w;                 /* lanes: 1 for scalars */
    LLVMValueRef *vals;    /* emitted entries, NULL where not (yet) needed */
};

/* ---- small builders -------------------------------------------------------- */

/* A constant, or a constant vector of w copies. */
static LLVMValueRef cvec(LLVMValueRef c, int w) {
    if (w <= 1) return c;
    LLVMValueRef lanes[64];
    TS_ASSERT(w <= 64);
    for (int i = 0; i < w; i++) lanes[i] = c;
    return LLVMConstVector(lanes, (unsigned)w);
}

/* w copies of a run-time value. */
static LLVMValueRef vsplat(struct ts_llvm *L, LLVMValueRef v, int w) {
    if (w <= 1) return v;
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(v), (unsigned)w);
    LLVMValueRef one = LLVMBuildInsertElement(L->b, LLVMGetPoison(vt), v, ts_llvm_i32(L, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(L->t_i32, (unsigned)w));
    return LLVMBuildShuffleVector(L->b, one, LLVMGetPoison(vt), zeros, "splat");
}

static LLVMValueRef fconst(struct ts_llvm *L, enum ts_scalar s, double v, int w) {
    return cvec(LLVMConstReal(s == TS_SCALAR_F64 ? L->t_f64 : L->t_f32, v), w);
}

static LLVMValueRef iconst(struct ts_llvm *L, int64_t v, int w) { return cvec(ts_llvm_i64(L, v), w); }

/* Whether any lane of the i1 (vector) c is set, as one i1. */
static LLVMValueRef any_lane(struct ts_llvm *L, LLVMValueRef c, int w) {
    if (w <= 1) return c;
    LLVMTypeRef it = LLVMIntTypeInContext(L->ctx, (unsigned)w);
    LLVMValueRef bits = LLVMBuildBitCast(L->b, c, it, "");
    return LLVMBuildICmp(L->b, LLVMIntNE, bits, LLVMConstNull(it), "any");
}

static LLVMValueRef lane(struct ts_llvm *L, LLVMValueRef v, int i) {
    return LLVMBuildExtractElement(L->b, v, ts_llvm_i32(L, i), "");
}

/* Calls the libm function (float or double flavour by s) on each lane. */
static LLVMValueRef libm_call(struct ts_llvm *L, const char *fname, const char *dname, enum ts_scalar s,
                              int w, LLVMValueRef x, LLVMValueRef y) {
    LLVMTypeRef t = s == TS_SCALAR_F64 ? L->t_f64 : L->t_f32;
    LLVMTypeRef params[2] = {t, t};
    int n = y ? 2 : 1;
    LLVMValueRef fn = ts_llvm_libm(L, s == TS_SCALAR_F64 ? dname : fname, t, params, n);
    LLVMTypeRef ft = LLVMFunctionType(t, params, (unsigned)n, 0);
    if (w <= 1) {
        LLVMValueRef args[2] = {x, y};
        return LLVMBuildCall2(L->b, ft, fn, args, (unsigned)n, "");
    }
    LLVMValueRef r = LLVMGetPoison(LLVMVectorType(t, (unsigned)w));
    for (int i = 0; i < w; i++) {
        LLVMValueRef args[2] = {lane(L, x, i), y ? lane(L, y, i) : NULL};
        LLVMValueRef c = LLVMBuildCall2(L->b, ft, fn, args, (unsigned)n, "");
        r = LLVMBuildInsertElement(L->b, r, c, ts_llvm_i32(L, i), "");
    }
    return r;
}

static LLVMValueRef unary_intrinsic(struct ts_llvm *L, const char *name, LLVMValueRef x) {
    LLVMTypeRef t = LLVMTypeOf(x);
    return ts_llvm_call_intrinsic(L, name, &t, 1, &x, 1);
}

/* ---- float math ----------------------------------------------------------------- */

/* F32 goes to vmath.c's inline code (vectors stay vectors, and scalar tails
 * compute exactly what the lanes do); F64 calls libm. */
static LLVMValueRef f_exp(struct ts_llvm *L, enum ts_scalar s, int w, LLVMValueRef x) {
    if (s == TS_SCALAR_F32) return ts_llvm_vexp(L, x);
    return libm_call(L, "expf", "exp", s, w, x, NULL);
}

/* 1 / (1 + exp(-x)): exp(1000) is inf and gives 0, never NaN. */
static LLVMValueRef f_sigmoid(struct ts_llvm *L, enum ts_scalar s, int w, LLVMValueRef x) {
    if (s == TS_SCALAR_F32) return ts_llvm_vsigmoid(L, x);
    LLVMValueRef e = f_exp(L, s, w, LLVMBuildFNeg(L->b, x, ""));
    LLVMValueRef one = fconst(L, s, 1.0, w);
    return LLVMBuildFDiv(L->b, one, LLVMBuildFAdd(L->b, one, e, ""), "sigmoid");
}

/* max / min with the reference's rule: NaN in either propagates, otherwise
 * x > y ? x : y (so the sign of equal zeros follows y, like the reference). */
static LLVMValueRef f_minmax(struct ts_llvm *L, bool is_max, LLVMValueRef x, LLVMValueRef y) {
    LLVMValueRef gt = LLVMBuildFCmp(L->b, is_max ? LLVMRealOGT : LLVMRealOLT, x, y, "");
    LLVMValueRef r = LLVMBuildSelect(L->b, gt, x, y, "");
    LLVMValueRef nan = LLVMBuildFCmp(L->b, LLVMRealUNO, x, y, "");
    return LLVMBuildSelect(L->b, nan, LLVMBuildFAdd(L->b, x, y, ""), r, is_max ? "max" : "min");
}

/* f32 rounded to bf16 and back: round to nearest even on the bits, low half cleared. */
static LLVMValueRef f32_round_bf16(struct ts_llvm *L, LLVMValueRef v, int w) {
    LLVMTypeRef i32t = w > 1 ? LLVMVectorType(L->t_i32, (unsigned)w) : L->t_i32;
    LLVMValueRef u = LLVMBuildBitCast(L->b, v, i32t, "");
    LLVMValueRef lsb = LLVMBuildAnd(L->b, LLVMBuildLShr(L->b, u, cvec(ts_llvm_i32(L, 16), w), ""),
                                    cvec(ts_llvm_i32(L, 1), w), "");
    LLVMValueRef r = LLVMBuildAdd(L->b, u, LLVMBuildAdd(L->b, lsb, cvec(ts_llvm_i32(L, 0x7fff), w), ""), "");
    r = LLVMBuildAnd(L->b, r, cvec(ts_llvm_i32(L, (int32_t)0xffff0000u), w), "");
    LLVMValueRef f = LLVMBuildBitCast(L->b, r, LLVMTypeOf(v), "");
    LLVMValueRef nan = LLVMBuildFCmp(L->b, LLVMRealUNO, v, v, "");
    return LLVMBuildSelect(L->b, nan, v, f, "bf16r");
}

/* ---- casts ------------------------------------------------------------------------ */

static LLVMValueRef emit_cast(struct ts_llvm *L, const struct ts_kx *e, enum ts_scalar from, int w,
                              LLVMValueRef x) {
    enum ts_scalar to = e->type;
    LLVMTypeRef tt = ts_llvm_scalar_type(L, to, w);
    bool ffloat = from == TS_SCALAR_F32 || from == TS_SCALAR_F64;
    switch (to) {
    case TS_SCALAR_BOOL:
        if (from == TS_SCALAR_BOOL) return x;
        /* x != 0; NaN is nonzero (une) */
        if (ffloat) return LLVMBuildFCmp(L->b, LLVMRealUNE, x, LLVMConstNull(LLVMTypeOf(x)), "tobool");
        return LLVMBuildICmp(L->b, LLVMIntNE, x, LLVMConstNull(LLVMTypeOf(x)), "tobool");
    case TS_SCALAR_I64: {
        if (from == TS_SCALAR_BOOL) return LLVMBuildZExt(L->b, x, tt, "");
        if (from == TS_SCALAR_I64) {
            if (e->dtype != TS_I32) return x;
            LLVMTypeRef t32 = ts_llvm_storage_type(L, TS_I32);
            if (w > 1) t32 = LLVMVectorType(t32, (unsigned)w);
            return LLVMBuildSExt(L->b, LLVMBuildTrunc(L->b, x, t32, ""), tt, "wrap32");
        }
        /* Truncate toward zero, saturate to the dtype's range, NaN → 0:
         * exactly llvm.fptosi.sat. */
        LLVMTypeRef it = e->dtype == TS_I32 ? L->t_i32 : L->t_i64;
        if (w > 1) it = LLVMVectorType(it, (unsigned)w);
        LLVMTypeRef tys[2] = {it, LLVMTypeOf(x)};
        LLVMValueRef r = ts_llvm_call_intrinsic(L, "llvm.fptosi.sat", tys, 2, &x, 1);
        return e->dtype == TS_I32 ? LLVMBuildSExt(L->b, r, tt, "") : r;
    }
    case TS_SCALAR_F64:
        if (from == TS_SCALAR_F64) return x;
        if (from == TS_SCALAR_F32) return LLVMBuildFPExt(L->b, x, tt, "");
        if (from == TS_SCALAR_BOOL) return LLVMBuildUIToFP(L->b, x, tt, "");
        return LLVMBuildSIToFP(L->b, x, tt, "");
    case TS_SCALAR_F32: {
        LLVMValueRef v;
        if (e->dtype == TS_F16 && from != TS_SCALAR_BOOL) {
            /* one rounding straight to half, then exactly back to f32 */
            LLVMTypeRef ht = w > 1 ? LLVMVectorType(L->t_f16, (unsigned)w) : L->t_f16;
            LLVMValueRef h = ffloat ? LLVMBuildFPTrunc(L->b, x, ht, "") : LLVMBuildSIToFP(L->b, x, ht, "");
            return LLVMBuildFPExt(L->b, h, tt, "f16r");
        }
        if (from == TS_SCALAR_F32) v = x;
        else if (from == TS_SCALAR_F64) v = LLVMBuildFPTrunc(L->b, x, tt, "");
        else if (from == TS_SCALAR_BOOL) v = LLVMBuildUIToFP(L->b, x, tt, "");
        else v = LLVMBuildSIToFP(L->b, x, tt, "");
        return e->dtype == TS_BF16 ? f32_round_bf16(L, v, w) : v;
    }
    default: break;
    }
    TS_ASSERT(!"bad cast");
    return NULL;
}

/* ---- loads ------------------------------------------------------------------------ */

/* A float value as type s (F32 or F64): loads of float dtypes may be F64, and
 * ACC and ROW arrive as the emitter holds them. Exact widening, or rounding. */
static LLVMValueRef to_type(struct ts_llvm *L, LLVMValueRef v, enum ts_scalar s, int w) {
    LLVMTypeRef want = ts_llvm_scalar_type(L, s, w);
    if (LLVMTypeOf(v) == want) return v;
    TS_ASSERT(s == TS_SCALAR_F32 || s == TS_SCALAR_F64);
    return s == TS_SCALAR_F64 ? LLVMBuildFPExt(L->b, v, want, "") : LLVMBuildFPTrunc(L->b, v, want, "");
}

LLVMValueRef ts_llvm_operand_index(struct ts_llvm *L, const struct ts_koperand *op,
                                   const struct ts_llvm_env *env) {
    LLVMValueRef off = NULL;
    for (int d = 0; d < L->k->rank; d++) {
        if (op->strides[d] == 0) continue;
        TS_ASSERT(env->index[d]);
        LLVMValueRef t = env->index[d];
        if (op->strides[d] != 1) t = LLVMBuildNSWMul(L->b, t, ts_llvm_i64(L, op->strides[d]), "");
        off = off ? LLVMBuildNSWAdd(L->b, off, t, "") : t;
    }
    return off ? off : ts_llvm_i64(L, 0);
}

static LLVMValueRef emit_load(struct ts_expr_ctx *c, const struct ts_kx *e) {
    struct ts_llvm *L = c->L;
    TS_ASSERT(e->a >= 0 && e->a < L->k->ninputs);
    const struct ts_koperand *op = &L->k->inputs[e->a];
    LLVMValueRef p = ts_llvm_elem_ptr(L, op, L->base[e->a], ts_llvm_operand_index(L, op, c->env));
    int64_t stride = c->w > 1 ? op->strides[c->env->vector_dim] : 0;
    return to_type(L, ts_llvm_load(L, op->dtype, p, stride, c->w), e->type, c->w);
}

/* input[a] at the current index with expr b as the gathered index: negative
 * counts from the end, out of range fails with error e->i. */
static LLVMValueRef emit_load_at(struct ts_expr_ctx *c, const struct ts_kx *e) {
    struct ts_llvm *L = c->L;
    int w = c->w;
    TS_ASSERT(e->a >= 0 && e->a < L->k->ninputs);
    const struct ts_koperand *op = &L->k->inputs[e->a];
    LLVMValueRef idx = c->vals[e->b];
    LLVMValueRef neg = LLVMBuildICmp(L->b, LLVMIntSLT, idx, iconst(L, 0, w), "");
    idx = LLVMBuildSelect(L->b, neg, LLVMBuildAdd(L->b, idx, iconst(L, op->gather_size, w), ""), idx, "");
    /* unsigned >= size catches what is still negative too */
    LLVMValueRef bad = LLVMBuildICmp(L->b, LLVMIntUGE, idx, iconst(L, op->gather_size, w), "oob");
    ts_llvm_fail_if(L, any_lane(L, bad, w), (int)e->i);
    LLVMValueRef off = ts_llvm_operand_index(L, op, c->env);
    if (w <= 1) {
        LLVMValueRef at = LLVMBuildNSWAdd(L->b, off, LLVMBuildNSWMul(L->b, idx, ts_llvm_i64(L, op->gather_stride), ""), "");
        return to_type(L, ts_llvm_load(L, op->dtype, ts_llvm_elem_ptr(L, op, L->base[e->a], at), 0, 1), e->type, 1);
    }
    int64_t vs = op->strides[c->env->vector_dim];
    LLVMValueRef r = LLVMGetPoison(ts_llvm_scalar_type(L, e->type, w));
    for (int i = 0; i < w; i++) {
        LLVMValueRef at = LLVMBuildNSWAdd(L->b, off, ts_llvm_i64(L, i * vs), "");
        at = LLVMBuildNSWAdd(L->b, at, LLVMBuildNSWMul(L->b, lane(L, idx, i), ts_llvm_i64(L, op->gather_stride), ""), "");
        LLVMValueRef v = to_type(L, ts_llvm_load(L, op->dtype, ts_llvm_elem_ptr(L, op, L->base[e->a], at), 0, 1),
                                 e->type, 1);
        r = LLVMBuildInsertElement(L->b, r, v, ts_llvm_i32(L, i), "");
    }
    return r;
}

/* ACC or ROW as an entry of type s: a scalar is broadcast to the lanes
 * (a per-row value), a float widened or rounded to s. */
static LLVMValueRef env_value(struct ts_llvm *L, LLVMValueRef v, enum ts_scalar s, int w) {
    if (w > 1 && LLVMGetTypeKind(LLVMTypeOf(v)) != LLVMVectorTypeKind) v = vsplat(L, v, w);
    return to_type(L, v, s, w);
}

/* ---- integer division ------------------------------------------------------------- */

/* Toward zero; INT64_MIN / -1 wraps to INT64_MIN (x86's idiv would trap), a
 * zero divisor fails with error e->i. */
static LLVMValueRef emit_idiv(struct ts_expr_ctx *c, const struct ts_kx *e, LLVMValueRef x, LLVMValueRef y) {
    struct ts_llvm *L = c->L;
    int w = c->w;
    LLVMValueRef zero = LLVMBuildICmp(L->b, LLVMIntEQ, y, iconst(L, 0, w), "");
    ts_llvm_fail_if(L, any_lane(L, zero, w), (int)e->i);
    LLVMValueRef m1 = LLVMBuildICmp(L->b, LLVMIntEQ, y, iconst(L, -1, w), "");
    /* a divisor that cannot trap in any lane */
    LLVMValueRef safe = LLVMBuildSelect(L->b, LLVMBuildOr(L->b, zero, m1, ""), iconst(L, 1, w), y, "");
    LLVMValueRef q = LLVMBuildSDiv(L->b, x, safe, "");
    return LLVMBuildSelect(L->b, m1, LLVMBuildSub(L->b, iconst(L, 0, w), x, ""), q, "div");
}

/* ---- one entry ---------------------------------------------------------------------- */

static LLVMValueRef emit_entry(struct ts_expr_ctx *c, int at) {
    struct ts_llvm *L = c->L;
    const struct ts_kx *e = &L->k->expr[at];
    const struct ts_llvm_env *env = c->env;
    int w = c->w;
    enum ts_scalar s = e->type;
    bool isf = s == TS_SCALAR_F32 || s == TS_SCALAR_F64;
    int nargs = ts_kx_op_nargs(e->op);
    LLVMValueRef x = NULL, y = NULL, z = NULL;
    if (e->op != TS_KX_LOAD_AT) {
        if (nargs >= 1) x = c->vals[e->a];
        if (nargs >= 2) y = c->vals[e->b];
        if (nargs >= 3) z = c->vals[e->c];
    }
    switch (e->op) {
    case TS_KX_LOAD: return emit_load(c, e);
    case TS_KX_LOAD_AT: return emit_load_at(c, e);
    case TS_KX_CONST:
        if (isf) return fconst(L, s, e->f, w);
        if (s == TS_SCALAR_BOOL) return cvec(LLVMConstInt(L->t_i1, e->i != 0, 0), w);
        return iconst(L, e->i, w);
    case TS_KX_INDEX: {
        TS_ASSERT(e->a >= 0 && e->a < L->k->rank && env->index[e->a]);
        LLVMValueRef v = vsplat(L, env->index[e->a], w);
        if (w > 1 && e->a == env->vector_dim) {
            LLVMValueRef lanes[64];
            for (int i = 0; i < w; i++) lanes[i] = ts_llvm_i64(L, i);
            v = LLVMBuildAdd(L->b, v, LLVMConstVector(lanes, (unsigned)w), "");
        }
        return v;
    }
    case TS_KX_ACC: TS_ASSERT(env->acc); return env_value(L, env->acc, s, w);
    case TS_KX_ROW: TS_ASSERT(env->row); return env_value(L, env->row, s, w);
    case TS_KX_NEG: return isf ? LLVMBuildFNeg(L->b, x, "") : LLVMBuildSub(L->b, iconst(L, 0, w), x, "");
    case TS_KX_EXP: return f_exp(L, s, w, x);
    case TS_KX_LOG: return s == TS_SCALAR_F32 ? ts_llvm_vlog(L, x) : libm_call(L, "logf", "log", s, w, x, NULL);
    case TS_KX_SQRT: return unary_intrinsic(L, "llvm.sqrt", x);
    case TS_KX_RSQRT: return LLVMBuildFDiv(L->b, fconst(L, s, 1.0, w), unary_intrinsic(L, "llvm.sqrt", x), "");
    case TS_KX_TANH: return s == TS_SCALAR_F32 ? ts_llvm_vtanh(L, x) : libm_call(L, "tanhf", "tanh", s, w, x, NULL);
    case TS_KX_ERF: return s == TS_SCALAR_F32 ? ts_llvm_verf(L, x) : libm_call(L, "erff", "erf", s, w, x, NULL);
    case TS_KX_SIGMOID: return f_sigmoid(L, s, w, x);
    case TS_KX_RELU: {
        if (!isf) {
            LLVMValueRef pos = LLVMBuildICmp(L->b, LLVMIntSGT, x, iconst(L, 0, w), "");
            return LLVMBuildSelect(L->b, pos, x, iconst(L, 0, w), "relu");
        }
        /* x > 0 ? x : (NaN ? x : 0) — NaN stays NaN */
        LLVMValueRef keep = LLVMBuildFCmp(L->b, LLVMRealUGT, x, fconst(L, s, 0.0, w), "");
        return LLVMBuildSelect(L->b, keep, x, fconst(L, s, 0.0, w), "relu");
    }
    case TS_KX_SILU:
        if (s == TS_SCALAR_F32) return ts_llvm_vsilu(L, x);
        return LLVMBuildFMul(L->b, x, f_sigmoid(L, s, w, x), "silu");
    case TS_KX_ABS: {
        if (isf) return unary_intrinsic(L, "llvm.fabs", x);
        /* wraps: abs(INT64_MIN) is INT64_MIN */
        LLVMValueRef neg = LLVMBuildICmp(L->b, LLVMIntSLT, x, iconst(L, 0, w), "");
        return LLVMBuildSelect(L->b, neg, LLVMBuildSub(L->b, iconst(L, 0, w), x, ""), x, "abs");
    }
    case TS_KX_GELU: {
        if (s == TS_SCALAR_F32) return ts_llvm_vgelu(L, x);
        LLVMValueRef t = s == TS_SCALAR_F64 ? LLVMBuildFDiv(L->b, x, fconst(L, s, sqrt(2.0), w), "")
                                            : LLVMBuildFMul(L->b, x, fconst(L, s, 1.0 / sqrt(2.0), w), "");
        LLVMValueRef er = libm_call(L, "erff", "erf", s, w, t, NULL);
        LLVMValueRef hx = LLVMBuildFMul(L->b, fconst(L, s, 0.5, w), x, "");
        return LLVMBuildFMul(L->b, hx, LLVMBuildFAdd(L->b, fconst(L, s, 1.0, w), er, ""), "gelu");
    }
    case TS_KX_GELU_TANH: {
        if (s == TS_SCALAR_F32) return ts_llvm_vgelu_tanh(L, x);
        /* 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) */
        LLVMValueRef x3 = LLVMBuildFMul(L->b, LLVMBuildFMul(L->b, x, x, ""), x, "");
        LLVMValueRef in = LLVMBuildFAdd(L->b, x, LLVMBuildFMul(L->b, fconst(L, s, 0.044715, w), x3, ""), "");
        in = LLVMBuildFMul(L->b, fconst(L, s, sqrt(2.0 / TS_PI), w), in, "");
        LLVMValueRef th = libm_call(L, "tanhf", "tanh", s, w, in, NULL);
        LLVMValueRef hx = LLVMBuildFMul(L->b, fconst(L, s, 0.5, w), x, "");
        return LLVMBuildFMul(L->b, hx, LLVMBuildFAdd(L->b, fconst(L, s, 1.0, w), th, ""), "gelu_tanh");
    }
    case TS_KX_COS: return libm_call(L, "cosf", "cos", s, w, x, NULL);
    case TS_KX_SIN: return libm_call(L, "sinf", "sin", s, w, x, NULL);
    case TS_KX_ADD: return isf ? LLVMBuildFAdd(L->b, x, y, "") : LLVMBuildAdd(L->b, x, y, "");
    case TS_KX_SUB: return isf ? LLVMBuildFSub(L->b, x, y, "") : LLVMBuildSub(L->b, x, y, "");
    case TS_KX_MUL: return isf ? LLVMBuildFMul(L->b, x, y, "") : LLVMBuildMul(L->b, x, y, "");
    case TS_KX_DIV: return isf ? LLVMBuildFDiv(L->b, x, y, "") : emit_idiv(c, e, x, y);
    case TS_KX_POW: return libm_call(L, "powf", "pow", s, w, x, y);
    case TS_KX_MAX:
    case TS_KX_MIN: {
        bool is_max = e->op == TS_KX_MAX;
        if (isf) return f_minmax(L, is_max, x, y);
        LLVMValueRef gt = LLVMBuildICmp(L->b, is_max ? LLVMIntSGT : LLVMIntSLT, x, y, "");
        return LLVMBuildSelect(L->b, gt, x, y, is_max ? "max" : "min");
    }
    case TS_KX_SELECT: return LLVMBuildSelect(L->b, x, y, z, "sel");
    case TS_KX_CAST: return emit_cast(L, e, L->k->expr[e->a].type, w, x);
    default: break;
    }
    TS_ASSERT(!"bad expression op");
    return NULL;
}

LLVMValueRef ts_llvm_expr(struct ts_llvm *L, int root, const struct ts_llvm_env *env) {
    const struct ts_kernel *k = L->k;
    TS_ASSERT(root >= 0 && root < k->nexpr);
    struct ts_expr_ctx c = {L, env, env->width > 1 ? env->width : 1, NULL};
    TS_ASSERT(c.w <= 64);
    c.vals = calloc((size_t)root + 1, sizeof *c.vals);
    bool *need = calloc((size_t)root + 1, sizeof *need);
    TS_ASSERT(c.vals && need);
    /* Mark what root depends on (entries refer only to earlier ones), then
     * emit those in order. */
    need[root] = true;
    for (int i = root; i >= 0; i--) {
        if (!need[i]) continue;
        const struct ts_kx *e = &k->expr[i];
        int n = ts_kx_op_nargs(e->op);
        if (e->op == TS_KX_LOAD_AT) {
            need[e->b] = true;
            continue;
        }
        if (n >= 1) need[e->a] = true;
        if (n >= 2) need[e->b] = true;
        if (n >= 3) need[e->c] = true;
    }
    for (int i = 0; i <= root; i++)
        if (need[i]) c.vals[i] = emit_entry(&c, i);
    LLVMValueRef r = c.vals[root];
    free(c.vals);
    free(need);
    return r;
}
