/* summary.c — what `tessera run` prints about each output: name, dtype,
 * shape, min/max/mean/std (of the finite values), NaN and Inf counts and the
 * first values; as text or as one JSON object (--json). Integers print exactly. */
#include <inttypes.h>
#include <string.h>

#include "tools/cli.h"

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

void ts_cli_print_outputs_json(const struct ts_graph *g, const struct ts_tensor *outs, const struct ts_cli_timing *t,
                               const char *target, const struct ts_cli_source *src, FILE *f) {
    fprintf(f, "{\"model\": ");
    ts_json_print_string(g->path, f);
    fprintf(f, ", \"target\": ");
    ts_json_print_string(target, f);
    fprintf(f, ", \"bindings\": {");
    for (int i = 0; i < g->nsymbols; i++) {
        fprintf(f, "%s", i ? ", " : "");
        ts_json_print_string(g->symbols[i].name, f);
        fprintf(f, ": %" PRId64, g->symbols[i].size);
    }
    fprintf(f, "}, \"inputs\": ");
    if (src->inputs_file) {
        fprintf(f, "{\"file\": ");
        ts_json_print_string(src->inputs_file, f);
        fprintf(f, "}");
    } else {
        fprintf(f, "{\"fill\": ");
        ts_json_print_string(src->fill, f);
        fprintf(f, ", \"seed\": %" PRIu64 "}", src->seed);
    }
    fprintf(f, ", \"outputs\": [");
    for (int i = 0; i < g->noutputs; i++) {
        if (i) fprintf(f, ", ");
        ts_tensor_print_summary_json(g->values[g->outputs[i]].name, &outs[i], f);
    }
    fprintf(f, "], \"timing\": {\"median_ms\": ");
    ts_json_print_number(t->median_ms, f);
    fprintf(f, ", \"min_ms\": ");
    ts_json_print_number(t->min_ms, f);
    fprintf(f, ", \"max_ms\": ");
    ts_json_print_number(t->max_ms, f);
    fprintf(f, ", \"repeat\": %d", t->repeat);
    if (t->device_median_ms >= 0) {
        fprintf(f, ", \"device_median_ms\": ");
        ts_json_print_number(t->device_median_ms, f);
    }
    fprintf(f, "}}\n");
}
