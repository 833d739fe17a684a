/* vmath.c — f32 exp, log, tanh, erf, sigmoid, silu, gelu and gelu_tanh as
 * inline LLVM IR (range reduction on the bits, polynomials, selects) for a
 * scalar or a vector of any width, so that vector loops never call libm lane
 * by lane. The coefficients are our own weighted-minimax fits (see each one). */
#include <math.h>

#include "internal.h"

/* Where the code goes: the builder, and the float (vector) type of x with its
 * same-width i32 type. */
struct vm {
    struct ts_llvm *L;
    LLVMBuilderRef b;
    int w;              /* lanes; 1 for a scalar */
    LLVMTypeRef ft, it; /* float or <w x float>; i32 or <w x i32> */
};

static struct vm vm_of(struct ts_llvm *L, LLVMValueRef x) {
    struct vm v = {L, L->b, 1, L->t_f32, L->t_i32};
    LLVMTypeRef t = LLVMTypeOf(x);
    if (LLVMGetTypeKind(t) == LLVMVectorTypeKind) {
        v.w = (int)LLVMGetVectorSize(t);
        v.it = LLVMVectorType(L->t_i32, (unsigned)v.w);
    }
    TS_ASSERT((v.w == 1 ? t : LLVMGetElementType(t)) == L->t_f32);
    v.ft = t;
    return v;
}

static LLVMValueRef splat(const struct vm *v, LLVMValueRef c) {
    if (v->w == 1) return c;
    LLVMValueRef lanes[64];
    TS_ASSERT(v->w <= 64);
    for (int i = 0; i < v->w; i++) lanes[i] = c;
    return LLVMConstVector(lanes, (unsigned)v->w);
}
/* A float constant (the double rounded to nearest f32), an i32 constant. */
static LLVMValueRef fc(const struct vm *v, double c) { return splat(v, LLVMConstReal(v->L->t_f32, c)); }
static LLVMValueRef ic(const struct vm *v, int32_t c) { return splat(v, ts_llvm_i32(v->L, c)); }

static LLVMValueRef add(const struct vm *v, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFAdd(v->b, x, y, ""); }
static LLVMValueRef sub(const struct vm *v, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFSub(v->b, x, y, ""); }
static LLVMValueRef mul(const struct vm *v, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFMul(v->b, x, y, ""); }
static LLVMValueRef fdiv(const struct vm *v, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFDiv(v->b, x, y, ""); }
static LLVMValueRef sel(const struct vm *v, LLVMValueRef c, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildSelect(v->b, c, x, y, "");
}
static LLVMValueRef cmp(const struct vm *v, LLVMRealPredicate p, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildFCmp(v->b, p, x, y, "");
}
static LLVMValueRef bits(const struct vm *v, LLVMValueRef x) { return LLVMBuildBitCast(v->b, x, v->it, ""); }
static LLVMValueRef flt(const struct vm *v, LLVMValueRef i) { return LLVMBuildBitCast(v->b, i, v->ft, ""); }

/* x·y + z, fused where the target has FMA. Without FMA (x86-64-v2) exp, log,
 * tanh, erf, sigmoid and silu keep their bounds; gelu and gelu_tanh lose their
 * double-float exp arguments, which costs up to ~100 ulp on results below
 * 1e-3 (still far inside the f32 tolerance's atol). */
static LLVMValueRef fma3(const struct vm *v, LLVMValueRef x, LLVMValueRef y, LLVMValueRef z) {
    LLVMTypeRef t = v->ft;
    return ts_llvm_call_intrinsic(v->L, "llvm.fmuladd", &t, 1, (LLVMValueRef[]){x, y, z}, 3);
}
static LLVMValueRef intr1(const struct vm *v, const char *name, LLVMValueRef x) {
    LLVMTypeRef t = v->ft;
    return ts_llvm_call_intrinsic(v->L, name, &t, 1, &x, 1);
}
static LLVMValueRef copysign_(const struct vm *v, LLVMValueRef mag, LLVMValueRef sgn) {
    LLVMTypeRef t = v->ft;
    return ts_llvm_call_intrinsic(v->L, "llvm.copysign", &t, 1, (LLVMValueRef[]){mag, sgn}, 2);
}

/* c[0] + c[1]·x + … + c[n-1]·x^(n-1), Horner. */
static LLVMValueRef poly(const struct vm *v, LLVMValueRef x, const double *c, int n) {
    LLVMValueRef p = fc(v, c[n - 1]);
    for (int i = n - 2; i >= 0; i--) p = fma3(v, p, x, fc(v, c[i]));
    return p;
}

/* 2^k for integer k in [-126, 127], built in the exponent bits. */
static LLVMValueRef pow2i(const struct vm *v, LLVMValueRef k) {
    return flt(v, LLVMBuildShl(v->b, LLVMBuildAdd(v->b, k, ic(v, 127), ""), ic(v, 23), ""));
}

/* ---- exp ---------------------------------------------------------------------- */

/* exp(r) = 1 + r + r²·P(r) on |r| <= 1.02·ln2/2: relative error 6e-11. */
static const double EXP_P[] = {0.50000000759208148, 0.16666665768088401, 0.041666265044113016,
                               0.0083335107131394309, 0.001394687241083643, 0.00019788173812234576};

/* exp(x) = 2^n · exp(r), n = round(x/ln2), r = x − n·ln2 in two pieces
 * (Cody–Waite: n·LN2_HI is exact, its 9 bits times |n| <= 150). n is rounded by
 * adding 1.5·2^23, whose low mantissa bits then hold n, so no float→int
 * conversion sees NaN. x is clamped to [-104, 89] (exp underflows below −103.97,
 * overflows above 88.73) and 2^n applied as two halves, so that results down
 * to the subnormals round once and overflow reaches inf. NaN stays NaN (the
 * clamps are ordered compares, and NaN·anything is NaN). lo, when not NULL,
 * is a small correction to x (x + lo as a double-float argument), added to r
 * so that the rounding of an argument of magnitude ~10 (1e-6 absolute, so
 * 1e-6 relative in the result) does not count. It is dropped where x is
 * clamped (lo is then as large as x's ulp, or NaN next to an infinite x). */
static LLVMValueRef exp_f32(const struct vm *v, LLVMValueRef x, LLVMValueRef lo) {
    const double LN2_HI = 0.693359375, LN2_LO = -2.12194440054690582e-4, SHIFT = 12582912.0;
    if (lo) lo = sel(v, cmp(v, LLVMRealOLT, intr1(v, "llvm.fabs", x), fc(v, 88.0)), lo, fc(v, 0.0));
    x = sel(v, cmp(v, LLVMRealOLT, x, fc(v, -104.0)), fc(v, -104.0), x);
    x = sel(v, cmp(v, LLVMRealOGT, x, fc(v, 89.0)), fc(v, 89.0), x);
    LLVMValueRef t = fma3(v, x, fc(v, 1.44269504088896341), fc(v, SHIFT));
    LLVMValueRef n = sub(v, t, fc(v, SHIFT));
    LLVMValueRef ni = LLVMBuildSub(v->b, bits(v, t), bits(v, fc(v, SHIFT)), "");
    LLVMValueRef r = fma3(v, n, fc(v, -LN2_HI), x);
    r = fma3(v, n, fc(v, -LN2_LO), r);
    if (lo) r = add(v, r, lo);
    LLVMValueRef p = poly(v, r, EXP_P, 6);
    LLVMValueRef y = add(v, fma3(v, mul(v, r, r), p, r), fc(v, 1.0));
    /* n in [-150, 128]: halves in [-75, 64] */
    LLVMValueRef n1 = LLVMBuildAShr(v->b, ni, ic(v, 1), "");
    LLVMValueRef n2 = LLVMBuildSub(v->b, ni, n1, "");
    return mul(v, mul(v, y, pow2i(v, n1)), pow2i(v, n2));
}

LLVMValueRef ts_llvm_vexp(struct ts_llvm *L, LLVMValueRef x) {
    struct vm v = vm_of(L, x);
    return exp_f32(&v, x, NULL);
}

/* ---- log ---------------------------------------------------------------------- */

/* log(1+f) = f − f²/2 + f³·P(f) on f in [√½−1, √2−1]: relative error 6e-9. */
static const double LOG_P[] = {0.3333333170385662,    -0.25000821261423486, 0.20001227437818054,
                               -0.16623349248843003,  0.14201737998490801,  -0.13160244856021677,
                               0.12761760330122351,   -0.076345637529655528};

/* log(x) = k·ln2 + log(m), x = 2^k·m with m in [√½, √2) read off the bits
 * (subnormals scaled by 2^23 first), so f = m − 1 is exact. The k·ln2 term is
 * added in two pieces last; there is no cancellation, since |log m| < ln2/2. */
LLVMValueRef ts_llvm_vlog(struct ts_llvm *L, LLVMValueRef x) {
    struct vm vv = vm_of(L, x), *v = &vv;
    const int32_t SQRT_HALF = 0x3f3504f3;
    LLVMValueRef tiny = cmp(v, LLVMRealOLT, x, fc(v, 0x1p-126));
    LLVMValueRef xs = sel(v, tiny, mul(v, x, fc(v, 0x1p23)), x);
    LLVMValueRef ix = LLVMBuildSub(v->b, bits(v, xs), ic(v, SQRT_HALF), "");
    LLVMValueRef k = LLVMBuildAShr(v->b, ix, ic(v, 23), "");
    k = LLVMBuildSub(v->b, k, sel(v, tiny, ic(v, 23), ic(v, 0)), "");
    LLVMValueRef m = flt(v, LLVMBuildAdd(v->b, LLVMBuildAnd(v->b, ix, ic(v, 0x7fffff), ""), ic(v, SQRT_HALF), ""));
    LLVMValueRef f = sub(v, m, fc(v, 1.0));
    LLVMValueRef kf = LLVMBuildSIToFP(v->b, k, v->ft, "");
    LLVMValueRef z = mul(v, f, f);
    LLVMValueRef y = mul(v, mul(v, z, f), poly(v, f, LOG_P, 8));
    y = fma3(v, kf, fc(v, -2.12194440054690582e-4), y);
    y = fma3(v, z, fc(v, -0.5), y);
    y = add(v, f, y);
    y = fma3(v, kf, fc(v, 0.693359375), y);
    /* log(+inf) = inf, log(±0) = −inf, log(x < 0) = NaN, NaN stays */
    y = sel(v, cmp(v, LLVMRealOEQ, x, fc(v, INFINITY)), fc(v, INFINITY), y);
    y = sel(v, cmp(v, LLVMRealOEQ, x, fc(v, 0.0)), fc(v, -INFINITY), y);
    y = sel(v, cmp(v, LLVMRealOLT, x, fc(v, 0.0)), fc(v, NAN), y);
    return sel(v, cmp(v, LLVMRealUNO, x, x), x, y);
}

/* ---- tanh --------------------------------------------------------------------- */

/* tanh(x) = x + x³·P(x²) on |x| < 0.625: relative error 4e-9. */
static const double TANH_P[] = {-0.33333281932403564, 0.13331441932933256, -0.053739692385356718,
                                0.02063901116448349, -0.0057048996906816131};

/* On a = |x|: below 0.625 the odd polynomial (1 − 2/(e^2a + 1) would lose
 * bits to cancellation there), above it the exp formula, which saturates to 1
 * (e^2a is inf past 44). The sign is copied last, so tanh(−0) = −0. */
LLVMValueRef ts_llvm_vtanh(struct ts_llvm *L, LLVMValueRef x) {
    struct vm vv = vm_of(L, x), *v = &vv;
    LLVMValueRef a = intr1(v, "llvm.fabs", x);
    LLVMValueRef z = mul(v, a, a);
    LLVMValueRef small = fma3(v, mul(v, a, z), poly(v, z, TANH_P, 5), a);
    LLVMValueRef e = exp_f32(v, add(v, a, a), NULL);
    LLVMValueRef big = sub(v, fc(v, 1.0), fdiv(v, fc(v, 2.0), add(v, e, fc(v, 1.0))));
    return copysign_(v, sel(v, cmp(v, LLVMRealOLT, a, fc(v, 0.625)), small, big), x);
}

/* Double-float pieces. p·q − fl(p·q), exact with FMA (without FMA, fmuladd
 * gives 0 and the double-floats below degrade to plain rounding). */
static LLVMValueRef prod_err(const struct vm *v, LLVMValueRef p, LLVMValueRef q, LLVMValueRef pq) {
    return fma3(v, p, q, LLVMBuildFNeg(v->b, pq, ""));
}
/* s = fl(a + b) and a + b − s exactly (Knuth's branch-free two-sum). */
static LLVMValueRef two_sum(const struct vm *v, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *err) {
    LLVMValueRef s = add(v, a, b);
    LLVMValueRef bb = sub(v, s, a);
    *err = add(v, sub(v, a, sub(v, s, bb)), sub(v, b, bb));
    return s;
}
/* hi + lo = p·q + c, to about 2^-45 relative. */
static LLVMValueRef mul_add_df(const struct vm *v, LLVMValueRef p, LLVMValueRef q, LLVMValueRef c,
                               LLVMValueRef *lo) {
    LLVMValueRef ph = mul(v, p, q), err;
    LLVMValueRef s = two_sum(v, ph, c, &err);
    *lo = add(v, err, prod_err(v, p, q, ph));
    return s;
}

/* ---- erf ---------------------------------------------------------------------- */

/* erf(x) = x + x·P(x²) on |x| <= 1: relative error 1.2e-9. (The leading
 * 2/√π − 1 keeps x itself out of the rounding of the polynomial.) */
static const double ERF_P[] = {0.1283791657297333,   -0.3761262583105864,  0.11283585191426776,
                               -0.026853813026664323, 0.0051883289079217725, -0.0008010198800464248,
                               7.8538635008130944e-5};
/* erfc(a) = t·exp(−a² + R(t − 1/2)), t = 1/(1 + a/2), fitted on a in
 * [0.5, 10] (t in [1/6, 4/5]): |R − exact| <= 1.2e-9, i.e. the relative error
 * of erfc. Centering t keeps the terms small (their sum below 1.2), so that
 * the f32 evaluation adds under an ulp of R. */
static const double ERFC_R[] = {-0.67179408456234322, 1.3452864116758868,  0.18937352335959089,
                                -0.37515783717339991, -0.15799079276634703, 0.28201278127622941,
                                0.11350768520409159,  -0.29156328892162152, -0.051416607208348444,
                                0.25664097809944922};

/* erf(x) for |x| <= 1, and erfc(a) for a = |x| (meant for a > 1; at a = inf
 * t = 0 and the exp is 0, so erfc is 0; NaN gives NaN). erfc takes a² as the
 * product p·q: gelu passes x and x/2 rather than the rounded a = |x|/√2, whose
 * error exp would multiply by 2a², and wants the argument −a² + R in two
 * pieces (df), since erfc itself is its result there, not 1 − erfc. */
static LLVMValueRef erf_small(const struct vm *v, LLVMValueRef x) {
    return fma3(v, x, poly(v, mul(v, x, x), ERF_P, 7), x);
}
static LLVMValueRef erfc_big(const struct vm *v, LLVMValueRef a, LLVMValueRef p, LLVMValueRef q, bool df) {
    LLVMValueRef t = fdiv(v, fc(v, 2.0), add(v, a, fc(v, 2.0)));
    LLVMValueRef r = poly(v, sub(v, t, fc(v, 0.5)), ERFC_R, 10), np = LLVMBuildFNeg(v->b, p, ""), lo = NULL;
    LLVMValueRef arg = df ? mul_add_df(v, np, q, r, &lo) : fma3(v, np, q, r);
    return mul(v, t, exp_f32(v, arg, lo));
}

/* On a = |x|: the polynomial up to 1, 1 − erfc(a) beyond (erf is within
 * 0.16 of 1 there, so erfc's relative error shrinks); 1 − erfc rounds to 1
 * past 3.92 and is 1 at inf. The sign is copied last. */
LLVMValueRef ts_llvm_verf(struct ts_llvm *L, LLVMValueRef x) {
    struct vm vv = vm_of(L, x), *v = &vv;
    LLVMValueRef a = intr1(v, "llvm.fabs", x);
    LLVMValueRef big = sub(v, fc(v, 1.0), erfc_big(v, a, a, a, false));
    return copysign_(v, sel(v, cmp(v, LLVMRealOLE, a, fc(v, 1.0)), erf_small(v, a), big), x);
}

/* ---- activations ----------------------------------------------------------------- */

/* With e = exp(−|x|) (never inf): 1/(1 + e) for x >= 0, e/(1 + e) below,
 * the reference's split, so that tiny results keep their relative accuracy
 * down into the subnormals instead of flushing to 0 once exp(−x) overflows. */
LLVMValueRef ts_llvm_vsigmoid(struct ts_llvm *L, LLVMValueRef x) {
    struct vm vv = vm_of(L, x), *v = &vv;
    LLVMValueRef e = exp_f32(v, LLVMBuildFNeg(v->b, intr1(v, "llvm.fabs", x), ""), NULL);
    LLVMValueRef num = sel(v, cmp(v, LLVMRealOGE, x, fc(v, 0.0)), fc(v, 1.0), e);
    return fdiv(v, num, add(v, fc(v, 1.0), e));
}

/* x·sigmoid(x) as x·num / (1 + e) (see sigmoid); −inf gives NaN (−inf·0),
 * as the reference does. */
LLVMValueRef ts_llvm_vsilu(struct ts_llvm *L, LLVMValueRef x) {
    struct vm vv = vm_of(L, x), *v = &vv;
    LLVMValueRef e = exp_f32(v, LLVMBuildFNeg(v->b, intr1(v, "llvm.fabs", x), ""), NULL);
    LLVMValueRef num = sel(v, cmp(v, LLVMRealOGE, x, fc(v, 0.0)), x, mul(v, x, e));
    return fdiv(v, num, add(v, fc(v, 1.0), e));
}

/* 0.5·x·(1 + erf(z)), z = x/√2. Below z = −0.5, 1 + erf(z) is erfc(|z|)
 * itself, taken straight from erfc_big: no cancellation (which 1 + erf(z)
 * would suffer near z = −1 already), so the result keeps its relative
 * accuracy down to where it underflows. Above z = 1, it is 2 − erfc(z). */
LLVMValueRef ts_llvm_vgelu(struct ts_llvm *L, LLVMValueRef x) {
    struct vm vv = vm_of(L, x), *v = &vv;
    LLVMValueRef z = mul(v, x, fc(v, 0.70710678118654752));
    LLVMValueRef a = intr1(v, "llvm.fabs", z);
    LLVMValueRef q = erfc_big(v, a, x, mul(v, x, fc(v, 0.5)), true);
    LLVMValueRef big = sel(v, cmp(v, LLVMRealOGT, z, fc(v, 0.0)), sub(v, fc(v, 2.0), q), q);
    LLVMValueRef small = add(v, fc(v, 1.0), erf_small(v, z));
    LLVMValueRef in = LLVMBuildAnd(v->b, cmp(v, LLVMRealOLE, z, fc(v, 1.0)), cmp(v, LLVMRealOGE, z, fc(v, -0.5)), "");
    LLVMValueRef s = sel(v, in, small, big);
    return mul(v, mul(v, fc(v, 0.5), x), s);
}

/* 0.5·x·(1 + tanh(u)) = x·sigmoid(2u), u = √(2/π)·(x + 0.044715·x³): the
 * same function, with one exp and no cancellation for negative x, split like
 * sigmoid (e = exp(−2|u|)). −2u = C·x + C3·x³ is built as a double-float
 * (constants, x³ and the products in two pieces): it reaches 25 at x = −6,
 * where its f32 rounding alone would cost 10 ulp of the result. */
LLVMValueRef ts_llvm_vgelu_tanh(struct ts_llvm *L, LLVMValueRef x) {
    struct vm vv = vm_of(L, x), *v = &vv;
    /* −2·√(2/π) and −2·√(2/π)·0.044715, each as f32 hi + lo */
    const double C_HI = -1.5957691669464111, C_LO = 4.5340680421052716e-8;
    const double C3_HI = -0.07135481387376785, C3_LO = -2.3988323959931356e-9;
    LLVMValueRef x2 = mul(v, x, x), x2l = prod_err(v, x, x, x2);
    LLVMValueRef x3 = mul(v, x2, x), x3l = fma3(v, x2l, x, prod_err(v, x2, x, x3));
    LLVMValueRef th = mul(v, fc(v, C3_HI), x3);
    LLVMValueRef tl = fma3(v, fc(v, C3_LO), x3, fma3(v, fc(v, C3_HI), x3l, prod_err(v, fc(v, C3_HI), x3, th)));
    LLVMValueRef lh = mul(v, fc(v, C_HI), x);
    LLVMValueRef ll = fma3(v, fc(v, C_LO), x, prod_err(v, fc(v, C_HI), x, lh));
    /* at x = ±inf lo is NaN; exp_f32 drops it there (|m2u| >= 88) */
    LLVMValueRef err, m2u = two_sum(v, lh, th, &err);
    LLVMValueRef lo = add(v, err, add(v, tl, ll));
    LLVMValueRef neg = cmp(v, LLVMRealOGT, m2u, fc(v, 0.0)); /* u < 0 */
    LLVMValueRef e = exp_f32(v, sel(v, neg, LLVMBuildFNeg(v->b, m2u, ""), m2u),
                             sel(v, neg, LLVMBuildFNeg(v->b, lo, ""), lo));
    LLVMValueRef num = sel(v, neg, mul(v, x, e), x);
    return fdiv(v, num, add(v, fc(v, 1.0), e));
}
