/* math.cuh — the scalar rules of the kernel IR (ir/kernel_interp.c) as
 * device functions: NaN-propagating max/min, relu keeping NaN, sigmoid, silu,
 * the gelu forms, integer division toward zero, i32 wrapping, saturating
 * float-to-integer casts and the f64 → f16/bf16 roundings the reference does.
 * Plain C++ on the ts_* primitives, so the emulator (TS_EMULATE) runs it too. */

/* ---- constants ----------------------------------------------------------- */

TS_DEVICE float ts_f32_inf(void) { return ts_as_f32(0x7f800000u); }
TS_DEVICE float ts_f32_nan(void) { return ts_as_f32(0x7fc00000u); }
TS_DEVICE double ts_f64_inf(void) { return ts_as_f64(0x7ff0000000000000ull); }
TS_DEVICE double ts_f64_nan(void) { return ts_as_f64(0x7ff8000000000000ull); }

/* ---- float ops ------------------------------------------------------------- */

/* NaN in either propagates; otherwise x > y ? x : y (equal zeros take y's
 * sign, as the reference does). */
TS_DEVICE float ts_max(float x, float y) { return (x != x || y != y) ? x + y : (x > y ? x : y); }
TS_DEVICE double ts_max(double x, double y) { return (x != x || y != y) ? x + y : (x > y ? x : y); }
TS_DEVICE float ts_min(float x, float y) { return (x != x || y != y) ? x + y : (x < y ? x : y); }
TS_DEVICE double ts_min(double x, double y) { return (x != x || y != y) ? x + y : (x < y ? x : y); }

/* x > 0 ? x : 0, NaN stays NaN, -0 gives +0. */
TS_DEVICE float ts_relu(float x) { return x > 0.0f ? x : (x != x ? x : 0.0f); }
TS_DEVICE double ts_relu(double x) { return x > 0.0 ? x : (x != x ? x : 0.0); }

/* The reference's two-branch sigmoid: no overflow to NaN for large |x|. */
TS_DEVICE float ts_sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
TS_DEVICE double ts_sigmoid(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
TS_DEVICE float ts_silu(float x) { return x * ts_sigmoid(x); }
TS_DEVICE double ts_silu(double x) { return x * ts_sigmoid(x); }

/* 0.5·x·(1 + erf(x/√2)) written with erfc, which keeps its accuracy where
 * 1 + erf cancels (x well below 0). */
TS_DEVICE float ts_gelu(float x) { return 0.5f * x * erfcf(-x * 0.70710678118654752f); }
TS_DEVICE double ts_gelu(double x) { return 0.5 * x * erfc(-x / 1.41421356237309505); }

/* 0.5·x·(1 + tanh(u)) = x / (1 + exp(-2u)) with u = √(2/π)·(x + 0.044715·x³):
 * the same value without the cancellation of 1 + tanh(u) for u < 0. */
TS_DEVICE float ts_gelu_tanh(float x) {
    float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return x / (1.0f + expf(-2.0f * u));
}
TS_DEVICE double ts_gelu_tanh(double x) {
    double u = 0.79788456080286536 * (x + 0.044715 * x * x * x);
    return 0.5 * x * (1.0 + tanh(u));
}

/* sin and cos of a double without the library's Payne-Hanek path, whose
 * 40-byte local array would put every rope kernel on the stack: x reduced by
 * π/2 in two parts with fma (exact products; within a few ulp for |x| below
 * 2^40, far above any rope angle), then fdlibm's kernel polynomials on
 * [-π/4, π/4]. Infinity and NaN give NaN. */
TS_DEVICE double ts_trig_reduce(double x, int *quadrant) {
    double n = rint(x * 0.63661977236758134);
    double r = fma(-n, 1.5707963267948966, x);
    r = fma(-n, 6.123233995736766e-17, r);
    double q = n - 4.0 * floor(n * 0.25); /* n mod 4, exact */
    *quadrant = q == q ? (int)q : 0;
    return r;
}
TS_DEVICE double ts_sin_kernel(double r) {
    double z = r * r;
    double p = -1.66666666666666324348e-01 +
               z * (8.33333333332248946124e-03 +
                    z * (-1.98412698298579493134e-04 +
                         z * (2.75573137070700676789e-06 + z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10))));
    return r + r * z * p;
}
TS_DEVICE double ts_cos_kernel(double r) {
    double z = r * r;
    double p = 4.16666666666666019037e-02 +
               z * (-1.38888888888741095749e-03 +
                    z * (2.48015872894767294178e-05 +
                         z * (-2.75573143513906633035e-07 + z * (2.08757232129817482790e-09 - z * 1.13596475577881948265e-11))));
    return (1.0 - 0.5 * z) + z * z * p;
}
TS_DEVICE double ts_sin(double x) {
    if (x == 0.0) return x; /* keeps -0 */
    int q;
    double r = ts_trig_reduce(x, &q);
    double v = (q & 1) ? ts_cos_kernel(r) : ts_sin_kernel(r);
    return (q & 2) ? -v : v;
}
TS_DEVICE double ts_cos(double x) {
    int q;
    double r = ts_trig_reduce(x, &q);
    double v = (q & 1) ? ts_sin_kernel(r) : ts_cos_kernel(r);
    return ((q + 1) & 2) ? -v : v;
}

/* ---- integers ------------------------------------------------------------ */

/* Two's-complement arithmetic on i64 without C++'s signed-overflow UB. */
TS_DEVICE ts_i64 ts_add_i64(ts_i64 a, ts_i64 b) { return (ts_i64)((ts_u64)a + (ts_u64)b); }
TS_DEVICE ts_i64 ts_sub_i64(ts_i64 a, ts_i64 b) { return (ts_i64)((ts_u64)a - (ts_u64)b); }
TS_DEVICE ts_i64 ts_mul_i64(ts_i64 a, ts_i64 b) { return (ts_i64)((ts_u64)a * (ts_u64)b); }
TS_DEVICE ts_i64 ts_neg_i64(ts_i64 a) { return (ts_i64)(0ull - (ts_u64)a); }
TS_DEVICE ts_i64 ts_abs_i64(ts_i64 a) { return a < 0 ? ts_neg_i64(a) : a; }
TS_DEVICE ts_i64 ts_max_i64(ts_i64 a, ts_i64 b) { return a > b ? a : b; }
TS_DEVICE ts_i64 ts_min_i64(ts_i64 a, ts_i64 b) { return a < b ? a : b; }

/* Toward zero; INT64_MIN / -1 wraps; a zero divisor raises error e and
 * gives 0. */
TS_DEVICE ts_i64 ts_div_i64(ts_i64 a, ts_i64 b, int *error, int e) {
    if (b == 0) {
        ts_raise(error, e);
        return 0;
    }
    if (b == -1) return ts_neg_i64(a);
    return a / b;
}

/* An integer wrapped to i32 (the low 32 bits, sign-extended). */
TS_DEVICE ts_i64 ts_wrap_i32(ts_i64 a) {
    ts_u32 lo = (ts_u32)(ts_u64)a;
    return lo >= 0x80000000u ? (ts_i64)lo - 0x100000000ll : (ts_i64)lo;
}

/* Float to integer: toward zero, saturating, NaN gives 0. */
TS_DEVICE ts_i64 ts_f2i32_sat(double v) {
    if (v != v) return 0;
    if (v <= -2147483648.0) return -2147483647ll - 1;
    if (v >= 2147483647.0) return 2147483647ll;
    return (ts_i64)v;
}
TS_DEVICE ts_i64 ts_f2i64_sat(double v) {
    if (v != v) return 0;
    if (v <= -9223372036854775808.0) return -9223372036854775807ll - 1;
    if (v >= 9223372036854775808.0) return 9223372036854775807ll;
    return (ts_i64)v;
}

/* An integer as a double rounded to odd, so that one more rounding to a
 * narrower float is correct (the reference's i64_to_f64_odd). */
TS_DEVICE double ts_i64_to_f64_odd(ts_i64 v) {
    ts_u64 m = v < 0 ? 0ull - (ts_u64)v : (ts_u64)v;
    if (m < (1ull << 53)) return (double)v;
    int shift = 0;
    while ((m >> shift) >= (1ull << 53)) shift++;
    ts_u64 kept = m >> shift;
    if ((m & ((1ull << shift) - 1)) != 0) kept |= 1;
    double r = (double)kept * ts_as_f64((ts_u64)(1023 + shift) << 52);
    return v < 0 ? -r : r;
}

/* ---- f16 and bf16 ---------------------------------------------------------- */

/* f64 to bf16, one rounding to nearest even (no f32 in between, which would
 * round twice). NaN becomes 0x7fc0 as in the reference. */
TS_DEVICE ts_u16 ts_f64_to_bf16(double x) {
    if (x != x) return 0x7fc0;
    ts_u64 u = ts_as_u64(x);
    ts_u16 sign = (ts_u16)((u >> 48) & 0x8000u);
    double ax = x < 0 ? -x : x;
    /* at and above (2 - 2^-8)·2^127 the nearest even is infinity */
    if (ax >= 3.3961775292304086e38) return (ts_u16)(sign | 0x7f80u);
    int e = (int)((u >> 52) & 0x7ff) - 1023; /* floor(log2 ax) for normal doubles */
    if (e < -134) return sign;               /* below half the smallest subnormal: ±0 */
    int ue = e < -126 ? -133 : e - 7;        /* exponent of one bf16 ulp at ax */
    double q = rint(ax * ts_as_f64((ts_u64)(1023 - ue) << 52));
    double r = q * ts_as_f64((ts_u64)(1023 + ue) << 52); /* exact, representable as bf16 */
    return (ts_u16)(sign | (ts_as_u32((float)r) >> 16));
}

/* f32 rounded to f16 or bf16 precision and back (CAST's rounding). */
TS_DEVICE float ts_round_f16(float x) { return ts_f16_to_f32(ts_f32_to_f16(x)); }
TS_DEVICE float ts_round_bf16(float x) { return ts_bf16_to_f32(ts_f32_to_bf16(x)); }
TS_DEVICE float ts_round_f16(double x) { return ts_f16_to_f32(ts_f64_to_f16(x)); }
TS_DEVICE float ts_round_bf16(double x) { return ts_bf16_to_f32(ts_f64_to_bf16(x)); }

/* ---- vector accesses ----------------------------------------------------------- */

/* N consecutive elements as one naturally aligned access (up to 16 bytes). */
template <typename T, int N> struct __align__(sizeof(T) * N) ts_vec {
    T v[N];
};
