/* tensor_stats.c — the summary every output listing prints (`tessera run`
 * and a compiled model's executable), as a text line or a JSON object:
 * min/max/mean/std of the finite values, NaN and Inf counts, exact integer
 * extremes, the first elements, one spelling per value. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ir/ir.h"

struct ts_tensor_stats ts_tensor_stats(const struct ts_tensor *t) {
    struct ts_tensor_stats s = {NAN, NAN, NAN, NAN, INT64_MAX, INT64_MIN, 0, 0, 0};
    bool is_int = !ts_dtype_is_float(t->dtype);
    double sum = 0, sumsq = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        if (is_int) {
            int64_t v = ts_tensor_get_i64(t, i);
            if (v < s.imin) s.imin = v;
            if (v > s.imax) s.imax = v;
        }
        double x = ts_tensor_get_f64(t, i);
        if (isnan(x)) { s.nan++; continue; }
        if (isinf(x)) { s.inf++; continue; }
        if (!s.finite || x < s.min) s.min = x;
        if (!s.finite || x > s.max) s.max = x;
        s.finite++;
        sum += x;
        sumsq += x * x;
    }
    if (s.finite) {
        s.mean = sum / (double)s.finite;
        double var = sumsq / (double)s.finite - s.mean * s.mean;
        s.std = var > 0 ? sqrt(var) : 0;
    }
    return s;
}

/* One spelling for non-finite values ("nan", "inf", "-inf"), whatever libc's printf does with a NaN's sign. */
void ts_print_double(double x, FILE *f) {
    if (isnan(x)) fputs("nan", f);
    else if (isinf(x)) fputs(x > 0 ? "inf" : "-inf", f);
    else fprintf(f, "%.6g", x);
}

void ts_tensor_print_element(const struct ts_tensor *t, int64_t i, FILE *f) {
    if (ts_dtype_is_float(t->dtype)) ts_print_double(ts_tensor_get_f64(t, i), f);
    else fprintf(f, "%" PRId64, ts_tensor_get_i64(t, i));
}

/* How many leading elements a summary line shows. */
#define FIRST_SHOWN 6

void ts_tensor_print_summary(const char *name, int width, const struct ts_tensor *o, FILE *f) {
    char shape[256];
    fprintf(f, "%-*s  %s%s", width, name, ts_dtype_name(o->dtype), ts_dims_str(o->rank, o->dims, shape, sizeof shape));
    if (o->numel == 0) {
        fprintf(f, "  (empty)\n");
        return;
    }
    struct ts_tensor_stats s = ts_tensor_stats(o);
    if (!ts_dtype_is_float(o->dtype)) {
        fprintf(f, "  min %" PRId64 "  max %" PRId64 "  mean ", s.imin, s.imax);
        ts_print_double(s.mean, f);
    } else {
        fputs("  min ", f);
        ts_print_double(s.min, f);
        fputs("  max ", f);
        ts_print_double(s.max, f);
        fputs("  mean ", f);
        ts_print_double(s.mean, f);
        fputs("  std ", f);
        ts_print_double(s.std, f);
        if (s.nan || s.inf) fprintf(f, "  nan %" PRId64 "  inf %" PRId64, s.nan, s.inf);
    }
    fprintf(f, "  first [");
    for (int64_t k = 0; k < o->numel && k < FIRST_SHOWN; k++) {
        if (k) fprintf(f, ", ");
        ts_tensor_print_element(o, k, f);
    }
    fprintf(f, "%s]\n", o->numel > FIRST_SHOWN ? ", ..." : "");
}

void ts_json_print_string(const char *s, FILE *f) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void ts_json_print_number(double x, FILE *f) {
    if (isfinite(x)) fprintf(f, "%.9g", x);
    else fprintf(f, "null");
}

static void json_element(const struct ts_tensor *t, int64_t i, FILE *f) {
    if (ts_dtype_is_float(t->dtype)) ts_json_print_number(ts_tensor_get_f64(t, i), f);
    else fprintf(f, "%" PRId64, ts_tensor_get_i64(t, i)); /* exact, even past 2^53 */
}

void ts_tensor_print_summary_json(const char *name, const struct ts_tensor *o, FILE *f) {
    struct ts_tensor_stats s = ts_tensor_stats(o);
    bool is_int = !ts_dtype_is_float(o->dtype);
    fprintf(f, "{\"name\": ");
    ts_json_print_string(name, f);
    fprintf(f, ", \"dtype\": \"%s\", \"shape\": [", ts_dtype_name(o->dtype));
    for (int k = 0; k < o->rank; k++) fprintf(f, "%s%" PRId64, k ? ", " : "", o->dims[k]);
    fprintf(f, "], \"summary\": {\"min\": ");
    if (is_int && o->numel) fprintf(f, "%" PRId64, s.imin);
    else ts_json_print_number(s.min, f);
    fprintf(f, ", \"max\": ");
    if (is_int && o->numel) fprintf(f, "%" PRId64, s.imax);
    else ts_json_print_number(s.max, f);
    fprintf(f, ", \"mean\": ");
    ts_json_print_number(s.mean, f);
    fprintf(f, ", \"std\": ");
    ts_json_print_number(s.std, f);
    fprintf(f, ", \"nan\": %" PRId64 ", \"inf\": %" PRId64 ", \"first\": [", s.nan, s.inf);
    for (int64_t k = 0; k < o->numel && k < FIRST_SHOWN; k++) {
        if (k) fprintf(f, ", ");
        json_element(o, k, f);
    }
    fprintf(f, "]}}");
}
