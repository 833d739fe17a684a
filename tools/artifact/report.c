/* report.c — what a compiled model's executable prints about each output:
 * name, dtype, shape, min/max/mean/std of the finite values, NaN and Inf
 * counts and the first values, then the timing; as text or one JSON object,
 * in the same layout as `tessera run`. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "tools/artifact/main.h"

#define FIRST_SHOWN 6

void ts_exe_print_outputs(const struct ts_exe_report *r, FILE *f) {
    size_t width = 4;
    for (int i = 0; i < r->n; i++)
        if (strlen(r->names[i]) > width) width = strlen(r->names[i]);
    for (int i = 0; i < r->n; i++) ts_tensor_print_summary(r->names[i], (int)width, &r->outputs[i], f);
    if (r->repeat > 1)
        fprintf(f, "time  median %.3f ms  min %.3f ms  max %.3f ms  (%d runs, %s, %d threads)\n", r->median_ms,
                r->min_ms, r->max_ms, r->repeat, r->cpu, r->threads);
    else
        fprintf(f, "time  %.3f ms  (1 run, %s, %d threads)\n", r->median_ms, r->cpu, r->threads);
}

static void json_string(const char *s, FILE *f) {
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

/* JSON has no NaN or Inf: those become null (their counts are given apart). */
static void json_number(double x, FILE *f) {
    if (isfinite(x)) fprintf(f, "%.9g", x);
    else fprintf(f, "null");
}

static void json_element(const struct ts_tensor *t, int64_t i, FILE *f) {
    if (ts_dtype_is_float(t->dtype)) json_number(ts_tensor_get_f64(t, i), f);
    else fprintf(f, "%" PRId64, ts_tensor_get_i64(t, i));
}

void ts_exe_print_outputs_json(const struct ts_exe_report *r, FILE *f) {
    fprintf(f, "{\"model\": ");
    json_string(r->model, f);
    fprintf(f, ", \"target\": \"cpu\", \"cpu\": ");
    json_string(r->cpu, f);
    fprintf(f, ", \"threads\": %d, \"inputs\": ", r->threads);
    if (r->inputs_file) {
        fprintf(f, "{\"file\": ");
        json_string(r->inputs_file, f);
        fprintf(f, "}");
    } else {
        fprintf(f, "{\"fill\": ");
        json_string(r->fill, f);
        fprintf(f, ", \"seed\": %" PRIu64 "}", r->seed);
    }
    fprintf(f, ", \"outputs\": [");
    for (int i = 0; i < r->n; i++) {
        const struct ts_tensor *o = &r->outputs[i];
        struct ts_tensor_stats s = ts_tensor_stats(o);
        bool is_int = !ts_dtype_is_float(o->dtype);
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_string(r->names[i], f);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": [", ts_dtype_name(o->dtype));
        for (int k = 0; k < o->rank; k++) fprintf(f, "%s%" PRId64, k ? ", " : "", o->dims[k]);
        fprintf(f, "], \"summary\": {\"min\": ");
        if (is_int && o->numel) fprintf(f, "%" PRId64, s.imin);
        else json_number(s.min, f);
        fprintf(f, ", \"max\": ");
        if (is_int && o->numel) fprintf(f, "%" PRId64, s.imax);
        else json_number(s.max, f);
        fprintf(f, ", \"mean\": ");
        json_number(s.mean, f);
        fprintf(f, ", \"std\": ");
        json_number(s.std, f);
        fprintf(f, ", \"nan\": %" PRId64 ", \"inf\": %" PRId64 ", \"first\": [", s.nan, s.inf);
        for (int64_t k = 0; k < o->numel && k < FIRST_SHOWN; k++) {
            if (k) fprintf(f, ", ");
            json_element(o, k, f);
        }
        fprintf(f, "]}}");
    }
    fprintf(f, "], \"timing\": {\"median_ms\": ");
    json_number(r->median_ms, f);
    fprintf(f, ", \"min_ms\": ");
    json_number(r->min_ms, f);
    fprintf(f, ", \"max_ms\": ");
    json_number(r->max_ms, f);
    fprintf(f, ", \"repeat\": %d}}\n", r->repeat);
}
