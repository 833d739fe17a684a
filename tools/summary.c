/* summary.c — what `tessera run` prints about each output: name, dtype,
 * shape, min/max/mean/std, NaN and Inf counts and the first values; as text
 * or as one JSON object (--json). */
#include <math.h>
#include <string.h>

#include "tools/cli.h"

#define FIRST_SHOWN 6

struct stats {
    double min, max, mean, std;
    int64_t finite, nan, inf;
};

static struct stats compute_stats(const struct ts_tensor *t) {
    struct stats s = {INFINITY, -INFINITY, 0, 0, 0, 0, 0};
    double sum = 0, sumsq = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        double x = ts_tensor_get_f64(t, i);
        if (isnan(x)) { s.nan++; continue; }
        if (isinf(x)) { s.inf++; continue; }
        s.finite++;
        if (x < s.min) s.min = x;
        if (x > s.max) s.max = x;
        sum += x;
        sumsq += x * x;
    }
    if (s.finite) {
        s.mean = sum / (double)s.finite;
        double var = sumsq / (double)s.finite - s.mean * s.mean;
        s.std = var > 0 ? sqrt(var) : 0;
    } else {
        s.min = s.max = NAN;
    }
    return s;
}

static void print_value(const struct ts_tensor *t, int64_t i, FILE *f) {
    if (ts_dtype_is_float(t->dtype))
        fprintf(f, "%.6g", ts_tensor_get_f64(t, i));
    else
        fprintf(f, "%lld", (long long)ts_tensor_get_i64(t, i));
}

void ts_cli_print_outputs(const struct ts_graph *g, const struct ts_tensor *outs, const struct ts_cli_timing *t,
                          const char *target, FILE *f) {
    size_t width = 4;
    for (int i = 0; i < g->noutputs; i++) {
        size_t n = strlen(g->values[g->outputs[i]].name);
        if (n > width) width = n;
    }
    for (int i = 0; i < g->noutputs; i++) {
        const struct ts_tensor *o = &outs[i];
        char shape[256];
        struct stats s = compute_stats(o);
        if (o->numel == 0) {
            fprintf(f, "%-*s  %s%s  (empty)\n", (int)width, g->values[g->outputs[i]].name, ts_dtype_name(o->dtype),
                    ts_dims_str(o->rank, o->dims, shape, sizeof shape));
            continue;
        }
        fprintf(f, "%-*s  %s%s  min %.6g  max %.6g  mean %.6g  std %.6g", (int)width, g->values[g->outputs[i]].name,
                ts_dtype_name(o->dtype), ts_dims_str(o->rank, o->dims, shape, sizeof shape), s.min, s.max, s.mean,
                s.std);
        if (s.nan || s.inf) fprintf(f, "  nan %lld  inf %lld", (long long)s.nan, (long long)s.inf);
        fprintf(f, "  first [");
        for (int64_t k = 0; k < o->numel && k < FIRST_SHOWN; k++) {
            if (k) fprintf(f, ", ");
            print_value(o, k, f);
        }
        fprintf(f, "%s]\n", o->numel > FIRST_SHOWN ? ", ..." : "");
    }
    if (t->repeat > 1)
        fprintf(f, "time  median %.3f ms  min %.3f ms  max %.3f ms  (%d runs, target %s)\n", t->median_ms, t->min_ms,
                t->max_ms, t->repeat, target);
    else
        fprintf(f, "time  %.3f ms  (1 run, target %s)\n", t->median_ms, target);
}

static void json_string(const char *s, FILE *f) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* JSON has no NaN or Inf: those become null. */
static void json_number(double x, FILE *f) {
    if (isfinite(x))
        fprintf(f, "%.9g", x);
    else
        fprintf(f, "null");
}

void ts_cli_print_outputs_json(const struct ts_graph *g, const struct ts_tensor *outs, const struct ts_cli_timing *t,
                               const char *target, FILE *f) {
    fprintf(f, "{\"model\": ");
    json_string(g->path, f);
    fprintf(f, ", \"target\": ");
    json_string(target, f);
    fprintf(f, ", \"outputs\": [");
    for (int i = 0; i < g->noutputs; i++) {
        const struct ts_tensor *o = &outs[i];
        struct stats s = compute_stats(o);
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_string(g->values[g->outputs[i]].name, f);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": [", ts_dtype_name(o->dtype));
        for (int k = 0; k < o->rank; k++) fprintf(f, "%s%lld", k ? ", " : "", (long long)o->dims[k]);
        fprintf(f, "], \"summary\": {\"min\": ");
        json_number(s.min, f);
        fprintf(f, ", \"max\": ");
        json_number(s.max, f);
        fprintf(f, ", \"mean\": ");
        json_number(s.mean, f);
        fprintf(f, ", \"std\": ");
        json_number(s.std, f);
        fprintf(f, ", \"nan\": %lld, \"inf\": %lld, \"first\": [", (long long)s.nan, (long long)s.inf);
        for (int64_t k = 0; k < o->numel && k < FIRST_SHOWN; k++) {
            if (k) fprintf(f, ", ");
            json_number(ts_tensor_get_f64(o, k), f);
        }
        fprintf(f, "]}}");
    }
    fprintf(f, "], \"timing\": {\"median_ms\": ");
    json_number(t->median_ms, f);
    fprintf(f, ", \"min_ms\": ");
    json_number(t->min_ms, f);
    fprintf(f, ", \"max_ms\": ");
    json_number(t->max_ms, f);
    fprintf(f, ", \"repeat\": %d}}\n", t->repeat);
}
