/* summary.c — what `tessera run` prints about each output: name, dtype,
 * shape, min/max/mean/std (of the finite values), NaN and Inf counts and the
 * first values; as text or as one JSON object (--json). Integers print exactly. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "tools/cli.h"

#define FIRST_SHOWN 6

void ts_cli_print_outputs(const struct ts_graph *g, const struct ts_tensor *outs, const struct ts_cli_timing *t,
                          const char *target, FILE *f) {
    size_t width = 4;
    for (int i = 0; i < g->noutputs; i++) {
        size_t n = strlen(g->values[g->outputs[i]].name);
        if (n > width) width = n;
    }
    for (int i = 0; i < g->noutputs; i++)
        ts_tensor_print_summary(g->values[g->outputs[i]].name, (int)width, &outs[i], f);
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
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* JSON has no NaN or Inf: those become null (their counts are given apart). */
static void json_number(double x, FILE *f) {
    if (isfinite(x))
        fprintf(f, "%.9g", x);
    else
        fprintf(f, "null");
}

static void json_element(const struct ts_tensor *t, int64_t i, FILE *f) {
    if (ts_dtype_is_float(t->dtype)) json_number(ts_tensor_get_f64(t, i), f);
    else fprintf(f, "%" PRId64, ts_tensor_get_i64(t, i)); /* exact, even past 2^53 */
}

void ts_cli_print_outputs_json(const struct ts_graph *g, const struct ts_tensor *outs, const struct ts_cli_timing *t,
                               const char *target, const struct ts_cli_source *src, FILE *f) {
    fprintf(f, "{\"model\": ");
    json_string(g->path, f);
    fprintf(f, ", \"target\": ");
    json_string(target, f);
    fprintf(f, ", \"bindings\": {");
    for (int i = 0; i < g->nsymbols; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_string(g->symbols[i].name, f);
        fprintf(f, ": %" PRId64, g->symbols[i].size);
    }
    fprintf(f, "}, \"inputs\": ");
    if (src->inputs_file) {
        fprintf(f, "{\"file\": ");
        json_string(src->inputs_file, f);
        fprintf(f, "}");
    } else {
        fprintf(f, "{\"fill\": ");
        json_string(src->fill, f);
        fprintf(f, ", \"seed\": %" PRIu64 "}", src->seed);
    }
    fprintf(f, ", \"outputs\": [");
    for (int i = 0; i < g->noutputs; i++) {
        const struct ts_tensor *o = &outs[i];
        struct ts_tensor_stats s = ts_tensor_stats(o);
        bool is_int = !ts_dtype_is_float(o->dtype);
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_string(g->values[g->outputs[i]].name, f);
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
    json_number(t->median_ms, f);
    fprintf(f, ", \"min_ms\": ");
    json_number(t->min_ms, f);
    fprintf(f, ", \"max_ms\": ");
    json_number(t->max_ms, f);
    fprintf(f, ", \"repeat\": %d}}\n", t->repeat);
}
