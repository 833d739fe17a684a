/* report.c — what a compiled model's executable prints about each output:
 * name, dtype, shape, min/max/mean/std of the finite values, NaN and Inf
 * counts and the first values, then the timing; as text or one JSON object,
 * in the same layout as `tessera run`. */
#include <inttypes.h>
#include <string.h>

#include "tools/artifact/main.h"

void ts_exe_print_outputs(const struct ts_exe_report *r, FILE *f) {
    size_t width = 4;
    for (int i = 0; i < r->n; i++)
        if (strlen(r->names[i]) > width) width = strlen(r->names[i]);
    for (int i = 0; i < r->n; i++) ts_tensor_print_summary(r->names[i], (int)width, &r->outputs[i], f);
    char where[96];
    if (r->cuda) snprintf(where, sizeof where, "cuda %s", r->cpu);
    else snprintf(where, sizeof where, "%s, %d threads", r->cpu, r->threads);
    if (r->repeat > 1)
        fprintf(f, "time  median %.3f ms  min %.3f ms  max %.3f ms  (%d runs, %s)\n", r->median_ms, r->min_ms,
                r->max_ms, r->repeat, where);
    else
        fprintf(f, "time  %.3f ms  (1 run, %s)\n", r->median_ms, where);
}

void ts_exe_print_outputs_json(const struct ts_exe_report *r, FILE *f) {
    fprintf(f, "{\"model\": ");
    ts_json_print_string(r->model, f);
    fprintf(f, ", \"target\": \"%s\", \"%s\": ", r->cuda ? "cuda" : "cpu", r->cuda ? "arch" : "cpu");
    ts_json_print_string(r->cpu, f);
    fprintf(f, ", \"threads\": %d, \"inputs\": ", r->threads);
    if (r->inputs_file) {
        fprintf(f, "{\"file\": ");
        ts_json_print_string(r->inputs_file, f);
        fprintf(f, "}");
    } else {
        fprintf(f, "{\"fill\": ");
        ts_json_print_string(r->fill, f);
        fprintf(f, ", \"seed\": %" PRIu64 "}", r->seed);
    }
    fprintf(f, ", \"outputs\": [");
    for (int i = 0; i < r->n; i++) {
        if (i) fprintf(f, ", ");
        ts_tensor_print_summary_json(r->names[i], &r->outputs[i], f);
    }
    fprintf(f, "], \"timing\": {\"median_ms\": ");
    ts_json_print_number(r->median_ms, f);
    fprintf(f, ", \"min_ms\": ");
    ts_json_print_number(r->min_ms, f);
    fprintf(f, ", \"max_ms\": ");
    ts_json_print_number(r->max_ms, f);
    fprintf(f, ", \"repeat\": %d}}\n", r->repeat);
}
