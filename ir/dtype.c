/* dtype.c — element types: names, sizes, and f16/bf16 conversion rounding to
 * nearest even straight from double, so a value is rounded once. */
#include <math.h>
#include <string.h>

#include "ir.h"

static const struct {
    const char *name;
    size_t size;
    bool is_float;
} dtypes[TS_DTYPE_COUNT] = {
#define X(id, name, size, is_float) {name, size, is_float},
    TS_DTYPE_LIST(X)
#undef X
};

_Static_assert(sizeof dtypes / sizeof dtypes[0] == TS_DTYPE_COUNT, "dtype table out of step");

const char *ts_dtype_name(enum ts_dtype t) { return (t >= 0 && t < TS_DTYPE_COUNT) ? dtypes[t].name : "?"; }

size_t ts_dtype_size(enum ts_dtype t) {
    TS_ASSERT(t >= 0 && t < TS_DTYPE_COUNT);
    return dtypes[t].size;
}

bool ts_dtype_is_float(enum ts_dtype t) { return t >= 0 && t < TS_DTYPE_COUNT && dtypes[t].is_float; }
bool ts_dtype_is_int(enum ts_dtype t) { return t == TS_I32 || t == TS_I64; }

bool ts_dtype_from_name(const char *name, enum ts_dtype *out) {
    for (int i = 0; i < TS_DTYPE_COUNT; i++) {
        if (strcmp(name, dtypes[i].name) == 0) {
            *out = (enum ts_dtype)i;
            return true;
        }
    }
    return false;
}

/* Rounds |x| to a binary float with 'mant' fraction bits, minimum normal
 * exponent emin and maximum finite value maxv; returns the rounded magnitude
 * (inf on overflow). Scaling by a power of two is exact, so nearbyint (ties to
 * even in the default rounding mode) does the one rounding. */
static double round_to_format(double ax, int mant, int emin, double maxv) {
    int e;
    frexp(ax, &e); /* ax = f * 2^e, f in [0.5, 1): the leading bit is 2^(e-1) */
    int lead = e - 1;
    if (lead < emin) lead = emin; /* subnormal: fixed quantum */
    double quantum = ldexp(1.0, lead - mant);
    double r = nearbyint(ax / quantum) * quantum;
    return r > maxv ? INFINITY : r;
}

uint16_t ts_f16_from_f64(double x) {
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    if (isnan(x)) return 0x7e00;
    double ax = fabs(x);
    if (isinf(ax)) return sign | 0x7c00;
    double r = round_to_format(ax, 10, -14, 65504.0);
    if (isinf(r)) return sign | 0x7c00;
    if (r == 0.0) return sign;
    int e;
    double f = frexp(r, &e); /* r = f * 2^e */
    int exp = e - 1;         /* unbiased exponent of the leading bit */
    if (exp < -14) {         /* subnormal: r = m * 2^-24 */
        return sign | (uint16_t)ldexp(r, 24);
    }
    uint16_t m = (uint16_t)(ldexp(f, 11) - 1024.0); /* 10 fraction bits */
    return sign | (uint16_t)((exp + 15) << 10) | m;
}

double ts_f16_to_f64(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (exp == 0)
        v = ldexp(m, -24);
    else if (exp == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp(m + 1024, exp - 25);
    return sign ? -v : v;
}

uint16_t ts_bf16_from_f64(double x) {
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    if (isnan(x)) return 0x7fc0;
    double ax = fabs(x);
    if (isinf(ax)) return sign | 0x7f80;
    /* bf16 max finite: (2 - 2^-7) * 2^127 */
    double r = round_to_format(ax, 7, -126, ldexp(255.0, 120));
    if (isinf(r)) return sign | 0x7f80;
    if (r == 0.0) return sign;
    int e;
    double f = frexp(r, &e);
    int exp = e - 1;
    if (exp < -126) return sign | (uint16_t)ldexp(r, 133); /* subnormal: m * 2^-133 */
    uint16_t m = (uint16_t)(ldexp(f, 8) - 128.0);
    return sign | (uint16_t)((exp + 127) << 7) | m;
}

double ts_bf16_to_f64(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
