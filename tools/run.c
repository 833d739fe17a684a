/* run.c — `tessera run`: load a model, bind its symbols, run it (the
 * reference interpreter until the backends land), print or write its outputs,
 * and time repeated runs. */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "tools/cli.h"

static const char run_usage[] =
    "usage: tessera run MODEL.json [options]\n"
    "\n"
    "Runs a model and prints each output's name, dtype, shape and a summary.\n"
    "\n"
    "options:\n"
    "  --target ref|cpu|cuda   where to run (default ref: the reference interpreter;\n"
    "                          cpu and cuda come with the backends, issues #3 and #4)\n"
    "  --inputs FILE           read inputs from a safetensors file (tensor name = input\n"
    "                          name); their shapes bind the graph's symbols\n"
    "  --fill random|zeros|ones  make inputs instead (default random: floats uniform in\n"
    "                          [-1, 1), integers inside what they index)\n"
    "  --seed N                seed for --fill random (default 0)\n"
    "  --bind SYMBOL=N         size of a symbolic dim (repeatable)\n"
    "  --outputs FILE          write the outputs to a safetensors file\n"
    "  --repeat N              run N times; print median, min and max time\n"
    "  --json                  print one JSON object instead of text\n"
    "  --check                 compare with the reference interpreter (comes with --target cpu)\n"
    "  -h, --help              this help\n";

struct run_opts {
    const char *model, *inputs, *outputs;
    enum ts_target target;
    enum ts_cli_fill fill;
    int64_t seed, repeat;
    bool json, check;
    struct ts_cli_binds binds;
};

/* The value of option argv[*i] ("--x v" or "--x=v"); NULL (and a usage error printed) if missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name, int *rc) {
    size_t n = strlen(name);
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (*i + 1 >= argc) {
        *rc = ts_cli_usage_error("run", name, "expects a value");
        return NULL;
    }
    return argv[++*i];
}

static bool is_option(const char *arg, const char *name) {
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static int parse_run_args(int argc, char **argv, struct run_opts *o) {
    memset(o, 0, sizeof *o);
    o->target = TS_TARGET_REF;
    o->repeat = 1;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(run_usage, stdout);
            return -1;
        } else if (is_option(a, "--target")) {
            if (!(v = option_value(argc, argv, &i, "--target", &rc))) return rc;
            if (!ts_target_from_name(v, &o->target))
                return ts_cli_usage_error("run", "--target", "expected ref, cpu or cuda, got '%s'", v);
        } else if (is_option(a, "--inputs")) {
            if (!(o->inputs = option_value(argc, argv, &i, "--inputs", &rc))) return rc;
        } else if (is_option(a, "--outputs")) {
            if (!(o->outputs = option_value(argc, argv, &i, "--outputs", &rc))) return rc;
        } else if (is_option(a, "--fill")) {
            if (!(v = option_value(argc, argv, &i, "--fill", &rc))) return rc;
            if (strcmp(v, "random") == 0) o->fill = TS_FILL_RANDOM;
            else if (strcmp(v, "zeros") == 0) o->fill = TS_FILL_ZEROS;
            else if (strcmp(v, "ones") == 0) o->fill = TS_FILL_ONES;
            else return ts_cli_usage_error("run", "--fill", "expected random, zeros or ones, got '%s'", v);
        } else if (is_option(a, "--seed")) {
            if (!(v = option_value(argc, argv, &i, "--seed", &rc))) return rc;
            if ((rc = ts_cli_parse_count("run", "--seed", v, 0, INT64_MAX, &o->seed))) return rc;
        } else if (is_option(a, "--repeat")) {
            if (!(v = option_value(argc, argv, &i, "--repeat", &rc))) return rc;
            if ((rc = ts_cli_parse_count("run", "--repeat", v, 1, 1000000, &o->repeat))) return rc;
        } else if (is_option(a, "--bind")) {
            if (!(v = option_value(argc, argv, &i, "--bind", &rc))) return rc;
            if ((rc = ts_cli_parse_bind("run", v, &o->binds))) return rc;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--check") == 0) {
            o->check = true;
        } else if (a[0] == '-' && a[1]) {
            return ts_cli_usage_error("run", a, "unknown option");
        } else if (!o->model) {
            o->model = a;
        } else {
            return ts_cli_usage_error("run", a, "unexpected argument (one model at a time)");
        }
    }
    if (!o->model) return ts_cli_usage_error("run", "", "no model given");
    return 0;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int ts_cli_run(int argc, char **argv) {
    struct run_opts o;
    int rc = parse_run_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;

    struct ts_diag d;
    ts_diag_clear(&d);
    if (o.check) {
        fprintf(stderr, "tessera: error: --check: it compares a backend with the reference interpreter and comes "
                        "with --target cpu (issue #3)\n");
        return 1;
    }
    if (ts_codegen_check_target(o.target, &d) != TS_OK) return ts_cli_fail(&d);

    struct ts_graph *g = NULL;
    struct ts_safetensors *st = NULL;
    struct ts_tensor *inputs = NULL, *outputs = NULL;
    double *times = NULL;
    int status = 1;
    if (ts_graph_load(o.model, &g, &d) != TS_OK) goto fail;
    if (o.inputs && ts_cli_inputs_open(g, o.inputs, &st, &o.binds, &d) != TS_OK) goto fail;
    struct ts_pipeline_opts popts = {.binds = o.binds.items, .nbinds = o.binds.n, .stop_after = TS_PASS_COUNT};
    if (ts_pipeline_run(g, &popts, &d) != TS_OK) goto fail;

    inputs = calloc((size_t)g->ninputs + 1, sizeof *inputs);
    outputs = calloc((size_t)g->noutputs + 1, sizeof *outputs);
    times = calloc((size_t)o.repeat, sizeof *times);
    if (!inputs || !outputs || !times) {
        ts_diag_set(&d, TS_ERR_NOMEM, o.model, "", "out of memory");
        goto fail;
    }
    if (ts_cli_inputs_make(g, st, o.fill, (uint64_t)o.seed, inputs, &d) != TS_OK) goto fail;
    for (int64_t r = 0; r < o.repeat; r++) {
        if (r > 0)
            for (int i = 0; i < g->noutputs; i++) ts_tensor_release(&outputs[i]);
        double t0 = ts_rt_now_seconds();
        if (ts_interp_run(g, inputs, outputs, &d) != TS_OK) goto fail;
        times[r] = (ts_rt_now_seconds() - t0) * 1e3;
        if (!o.json && o.repeat >= 10 && ts_cli_stderr_is_tty())
            fprintf(stderr, "\rrun %lld/%lld", (long long)r + 1, (long long)o.repeat);
    }
    if (!o.json && o.repeat >= 10 && ts_cli_stderr_is_tty()) fprintf(stderr, "\r\033[K");
    struct ts_cli_timing timing = {0, 0, 0, (int)o.repeat};
    timing.min_ms = times[0];
    timing.max_ms = times[0];
    for (int64_t r = 1; r < o.repeat; r++) {
        if (times[r] < timing.min_ms) timing.min_ms = times[r];
        if (times[r] > timing.max_ms) timing.max_ms = times[r];
    }
    qsort(times, (size_t)o.repeat, sizeof *times, compare_doubles);
    timing.median_ms = o.repeat % 2 ? times[o.repeat / 2] : 0.5 * (times[o.repeat / 2 - 1] + times[o.repeat / 2]);

    if (o.outputs) {
        const char **names = calloc((size_t)g->noutputs, sizeof *names);
        if (!names) {
            ts_diag_set(&d, TS_ERR_NOMEM, o.outputs, "", "out of memory");
            goto fail;
        }
        for (int i = 0; i < g->noutputs; i++) names[i] = g->values[g->outputs[i]].name;
        enum ts_status wst = ts_safetensors_write(o.outputs, g->noutputs, names, outputs, &d);
        free(names);
        if (wst != TS_OK) goto fail;
    }
    if (o.json)
        ts_cli_print_outputs_json(g, outputs, &timing, ts_target_name(o.target), stdout);
    else
        ts_cli_print_outputs(g, outputs, &timing, ts_target_name(o.target), stdout);
    status = 0;
    goto done;
fail:
    status = ts_cli_fail(&d);
done:
    if (g && inputs)
        for (int i = 0; i < g->ninputs; i++) ts_tensor_release(&inputs[i]);
    if (g && outputs)
        for (int i = 0; i < g->noutputs; i++) ts_tensor_release(&outputs[i]);
    free(inputs);
    free(outputs);
    free(times);
    if (st) ts_safetensors_free(st);
    ts_graph_free(g);
    return status;
}
