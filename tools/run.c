/* run.c — `tessera run`: load a model, bind its symbols, run it on the
 * reference interpreter, compiled for the CPU (JIT) or for the GPU (NVRTC,
 * CUDA graph), optionally check it against the reference, print or write its
 * outputs, and time repeated runs. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "autotune/autotune.h"
#include "runtime/runtime.h"
#include "tools/cli.h"

static const char run_usage[] =
    "usage: tessera run MODEL.json [options]\n"
    "\n"
    "Runs a model and prints each output's name, dtype, shape and a summary.\n"
    "\n"
    "options:\n"
    "  --target ref|cpu|cuda   where to run (default ref: the reference interpreter;\n"
    "                          cpu: kernels compiled by LLVM for this CPU, run by the\n"
    "                          thread pool; cuda: kernels compiled by NVRTC for the\n"
    "                          GPU, replayed as one CUDA graph)\n"
    "  --threads N             CPU worker threads (default: one per core)\n"
    "  --cpu NAME              CPU to compile for: native (default), portable\n"
    "                          (x86-64-v3), x86-64-v2, x86-64-v4\n"
    "  --arch sm_XY[a]         GPU architecture to compile for (default: the GPU's\n"
    "                          own; sm_80 and up); a cubin that does not fit the GPU\n"
    "                          falls back to JIT-compiled PTX\n"
    "  --strict-f32            f32 matrix products without tf32 tensor cores\n"
    "  --device N              CUDA device ordinal (default 0)\n"
    "  --inputs FILE           read inputs from a safetensors file (tensor name = input\n"
    "                          name); their shapes bind the graph's symbols\n"
    "  --fill random|zeros|ones  make inputs instead (default random: floats uniform in\n"
    "                          [-1, 1] after rounding, integers inside what they index)\n"
    "  --seed N                seed for --fill random (default 0)\n"
    "  --bind SYMBOL=N         size of a symbolic dim (repeatable)\n"
    "  --outputs FILE          write the outputs to a safetensors file\n"
    "  --save-inputs FILE      write the inputs used (filled or read) to a safetensors\n"
    "                          file, to rerun with --inputs or feed another tool\n"
    "  --repeat N              run N times; print median, min and max time\n"
    "  --json                  print one JSON object instead of text\n"
    "  --check                 also run the reference interpreter; print the largest\n"
    "                          absolute and relative error per output and fail beyond\n"
    "                          tolerance (f32 1e-4, f16 1e-2, bf16 5e-2 abs and rel;\n"
    "                          integers and bools exact; cuda without --strict-f32:\n"
    "                          f32 3e-2, for tf32 tensor cores)\n"
    "  --rtol X, --atol X      override --check's tolerance (|got-ref| <= atol + rtol*|ref|)\n"
    "  --db FILE               cpu, cuda: use the fastest schedules this tuning\n"
    "                          database holds for this machine (tessera tune);\n"
    "                          kernels without a record keep their defaults\n"
    "  -h, --help              this help\n";

struct run_opts {
    const char *model, *inputs, *outputs, *save_inputs, *db;
    enum ts_target target;
    enum ts_cli_fill fill;
    const char *fill_name;
    bool fill_given, seed_given;
    int64_t seed, repeat;
    bool json, check;
    struct ts_cli_machine m;
    double rtol, atol; /* < 0: per-dtype defaults */
    struct ts_cli_binds binds;
};

static int parse_run_args(int argc, char **argv, struct run_opts *o) {
    memset(o, 0, sizeof *o);
    o->target = TS_TARGET_REF;
    o->repeat = 1;
    o->fill_name = "random";
    o->rtol = -1;
    o->atol = -1;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(run_usage, stdout);
            return -1;
        } else if (ts_cli_is_option(a, "--target")) {
            if (!(v = ts_cli_option_value("run", argc, argv, &i, "--target", &rc))) return rc;
            if (!ts_target_from_name(v, &o->target))
                return ts_cli_usage_error("run", "--target", "expected ref, cpu or cuda, got '%s'", v);
        } else if (ts_cli_is_option(a, "--inputs")) {
            if (!(o->inputs = ts_cli_option_value("run", argc, argv, &i, "--inputs", &rc))) return rc;
        } else if (ts_cli_is_option(a, "--outputs")) {
            if (!(o->outputs = ts_cli_option_value("run", argc, argv, &i, "--outputs", &rc))) return rc;
        } else if (ts_cli_is_option(a, "--db")) {
            if (!(o->db = ts_cli_option_value("run", argc, argv, &i, "--db", &rc))) return rc;
        } else if (ts_cli_is_option(a, "--save-inputs")) {
            if (!(o->save_inputs = ts_cli_option_value("run", argc, argv, &i, "--save-inputs", &rc))) return rc;
        } else if (ts_cli_is_option(a, "--fill")) {
            if (!(v = ts_cli_option_value("run", argc, argv, &i, "--fill", &rc))) return rc;
            o->fill_given = true;
            o->fill_name = v;
            if (strcmp(v, "random") == 0) o->fill = TS_FILL_RANDOM;
            else if (strcmp(v, "zeros") == 0) o->fill = TS_FILL_ZEROS;
            else if (strcmp(v, "ones") == 0) o->fill = TS_FILL_ONES;
            else return ts_cli_usage_error("run", "--fill", "expected random, zeros or ones, got '%s'", v);
        } else if (ts_cli_is_option(a, "--seed")) {
            if (!(v = ts_cli_option_value("run", argc, argv, &i, "--seed", &rc))) return rc;
            if ((rc = ts_cli_parse_count("run", "--seed", v, 0, INT64_MAX, &o->seed))) return rc;
            o->seed_given = true;
        } else if (ts_cli_is_option(a, "--repeat")) {
            if (!(v = ts_cli_option_value("run", argc, argv, &i, "--repeat", &rc))) return rc;
            if ((rc = ts_cli_parse_count("run", "--repeat", v, 1, 1000000, &o->repeat))) return rc;
        } else if (ts_cli_is_option(a, "--bind")) {
            if (!(v = ts_cli_option_value("run", argc, argv, &i, "--bind", &rc))) return rc;
            if ((rc = ts_cli_parse_bind("run", v, &o->binds))) return rc;
        } else if (ts_cli_parse_machine("run", argc, argv, &i, &o->m, &rc)) {
            if (rc) return rc;
        } else if (ts_cli_is_option(a, "--rtol") || ts_cli_is_option(a, "--atol")) {
            bool r = ts_cli_is_option(a, "--rtol");
            const char *name = r ? "--rtol" : "--atol";
            if (!(v = ts_cli_option_value("run", argc, argv, &i, name, &rc))) return rc;
            char *end;
            double x = strtod(v, &end);
            if (end == v || *end || !(x >= 0) || x > 1e30)
                return ts_cli_usage_error("run", name, "expected a non-negative number, got '%s'", v);
            if (r) o->rtol = x;
            else o->atol = x;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--check") == 0) {
            o->check = true;
        } else if ((rc = ts_cli_model_arg("run", a, &o->model))) {
            return rc;
        }
    }
    if (!o->model) return ts_cli_usage_error("run", "", "no model given");
    if ((rc = ts_cli_check_path("run", "--inputs", o->inputs)) || (rc = ts_cli_check_path("run", "--outputs", o->outputs)) ||
        (rc = ts_cli_check_path("run", "--save-inputs", o->save_inputs)) ||
        (rc = ts_cli_check_path("run", "--db", o->db)))
        return rc;
    if (o->db && o->target == TS_TARGET_REF)
        return ts_cli_usage_error("run", "--db", "tuned schedules are for compiled kernels: give --target cpu or cuda");
    if ((rc = ts_cli_check_machine("run", o->target, &o->m))) return rc;
    if ((o->rtol >= 0 || o->atol >= 0) && !o->check)
        return ts_cli_usage_error("run", o->rtol >= 0 ? "--rtol" : "--atol", "only --check takes it");
    if (o->check && o->target == TS_TARGET_REF)
        return ts_cli_usage_error("run", "--check", "compares a backend with the reference: give --target cpu");
    if (o->inputs && (o->fill_given || o->seed_given))
        return ts_cli_usage_error("run", o->fill_given ? "--fill" : "--seed",
                                  "the inputs come from --inputs %s; --fill and --seed make inputs instead", o->inputs);
    return 0;
}

/* The same file (device and inode), when both exist. */
static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return a && b && a[0] && b[0] && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* --outputs and --save-inputs must never write over what the run reads. */
static enum ts_status check_targets(const struct run_opts *o, const struct ts_graph *g, struct ts_diag *d) {
    const char *targets[2][2] = {{"--outputs", o->outputs}, {"--save-inputs", o->save_inputs}};
    const char *sources[3][2] = {{"the model", o->model}, {"the model's weights", g->weights_path},
                                 {"the inputs file", o->inputs}};
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 3; k++)
            if (same_file(targets[t][1], sources[k][1]))
                return ts_diag_set(d, TS_ERR_USAGE, targets[t][1], targets[t][0],
                                   "this is %s: refusing to write over it", sources[k][0]);
    if (o->outputs && o->save_inputs && (strcmp(o->outputs, o->save_inputs) == 0 || same_file(o->outputs, o->save_inputs)))
        return ts_diag_set(d, TS_ERR_USAGE, o->outputs, "--save-inputs", "is also the --outputs file");
    return TS_OK;
}

/* Progress of the runs and of the nodes within one. */
struct run_progress {
    struct ts_cli_progress bar;
    int64_t run, runs;
};

static void on_node(void *ctx, int64_t done, int64_t total, const char *what) {
    struct run_progress *p = ctx;
    char text[256];
    if (p->runs > 1)
        snprintf(text, sizeof text, "run %lld/%lld, node %lld/%lld (%s)", (long long)p->run + 1, (long long)p->runs,
                 (long long)done, (long long)total, what);
    else
        snprintf(text, sizeof text, "node %lld/%lld (%s)", (long long)done, (long long)total, what);
    ts_cli_progress_show(&p->bar, text);
}

/* Writes tensors named by values (graph inputs or outputs) to path. */
static enum ts_status write_tensors(const struct ts_graph *g, const char *path, int n, const int *ids,
                                    const struct ts_tensor *tensors, struct ts_diag *d) {
    const char **names = calloc((size_t)n + 1, sizeof *names);
    if (!names) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory");
    for (int i = 0; i < n; i++) names[i] = g->values[ids[i]].name;
    enum ts_status st = ts_safetensors_write(path, n, names, tensors, d);
    free(names);
    return st;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum ts_status ts_cli_compile_cpu(struct ts_graph *g, const struct ts_cli_binds *b, const struct ts_cli_machine *m,
                                  const char *db, struct ts_program **prog, struct ts_cpu_exec **exec,
                                  struct ts_diag *d) {
    struct ts_cpu_info cpu;
    TS_TRY(ts_cpu_info_init(m->cpu, &cpu, d));
    struct ts_pipeline_opts popts = {.binds = b->items, .nbinds = b->n, .stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = cpu.vector_width};
    TS_TRY(ts_compile_program(g, &popts, &fo, prog, d));
    if (db) {
        struct ts_tune_target t;
        TS_TRY(ts_cli_cpu_target(m->cpu, (int)m->threads, &t, d));
        TS_TRY(ts_cli_apply_db(*prog, db, &t, false, d));
    }
    struct ts_cpu_exec_opts eo = {.cpu = m->cpu, .threads = (int)m->threads};
    return ts_cpu_exec_init(*prog, &eo, exec, d);
}

enum ts_status ts_cli_compile_cuda(struct ts_graph *g, const struct ts_cli_binds *b, const struct ts_cli_machine *m,
                                   const char *db, struct ts_program **prog, struct ts_cuda_exec **exec,
                                   struct ts_diag *d) {
    struct ts_pipeline_opts popts = {.binds = b->items, .nbinds = b->n, .stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = 8}; /* CPU schedules only: the GPU's are codegen's */
    TS_TRY(ts_compile_program(g, &popts, &fo, prog, d));
    if (db) {
        struct ts_tune_target t;
        TS_TRY(ts_cli_cuda_target(m->arch, (int)m->device, m->strict_f32, true, false, &t, d));
        TS_TRY(ts_cli_apply_db(*prog, db, &t, false, d));
    }
    struct ts_cuda_exec_opts eo = {.arch = m->arch, .device = (int)m->device, .strict_f32 = m->strict_f32};
    return ts_cuda_exec_init(*prog, &eo, exec, d);
}

int ts_cli_run(int argc, char **argv) {
    struct run_opts o;
    int rc = parse_run_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;

    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_codegen_check_target(o.target, &d) != TS_OK) return ts_cli_fail(&d);

    struct ts_graph *g = NULL;
    struct ts_safetensors *st = NULL;
    struct ts_tensor *inputs = NULL, *outputs = NULL, *expected = NULL;
    struct ts_program *prog = NULL;
    struct ts_cpu_exec *exec = NULL;
    struct ts_cuda_exec *gpu = NULL;
    double *times = NULL;
    int status = 1;
    bool cpu = o.target == TS_TARGET_CPU, cuda = o.target == TS_TARGET_CUDA;
    if (ts_graph_load(o.model, &g, &d) != TS_OK) goto fail;
    if (check_targets(&o, g, &d) != TS_OK) goto fail;
    if (o.inputs && ts_cli_inputs_open(g, o.inputs, &st, &o.binds, &d) != TS_OK) goto fail;
    if (cpu) {
        struct ts_cli_progress bar;
        ts_cli_progress_start(&bar, !o.json);
        ts_cli_progress_show(&bar, "compiling for the CPU");
        enum ts_status cst = ts_cli_compile_cpu(g, &o.binds, &o.m, o.db, &prog, &exec, &d);
        ts_cli_progress_end(&bar);
        if (cst != TS_OK) goto fail;
    } else if (cuda) {
        struct ts_cli_progress bar;
        ts_cli_progress_start(&bar, !o.json);
        ts_cli_progress_show(&bar, "compiling for the GPU");
        enum ts_status cst = ts_cli_compile_cuda(g, &o.binds, &o.m, o.db, &prog, &gpu, &d);
        ts_cli_progress_end(&bar);
        if (cst != TS_OK) goto fail;
    } else {
        struct ts_pipeline_opts popts = {.binds = o.binds.items, .nbinds = o.binds.n, .stop_after = TS_PASS_COUNT};
        if (ts_pipeline_run(g, &popts, &d) != TS_OK) goto fail;
    }

    inputs = calloc((size_t)g->ninputs + 1, sizeof *inputs);
    outputs = calloc((size_t)g->noutputs + 1, sizeof *outputs);
    expected = calloc((size_t)g->noutputs + 1, sizeof *expected);
    times = calloc((size_t)o.repeat, sizeof *times);
    if (!inputs || !outputs || !expected || !times) {
        ts_diag_set(&d, TS_ERR_NOMEM, o.model, "", "out of memory");
        goto fail;
    }
    if (ts_cli_inputs_make(g, st, o.fill, (uint64_t)o.seed, inputs, &d) != TS_OK) goto fail;
    if (o.save_inputs && write_tensors(g, o.save_inputs, g->ninputs, g->inputs, inputs, &d) != TS_OK) goto fail;
    struct run_progress prog_bar = {.runs = o.repeat};
    ts_cli_progress_start(&prog_bar.bar, !o.json);
    struct ts_progress hook = {on_node, &prog_bar};
    for (int64_t r = 0; r < o.repeat; r++) {
        if (r > 0)
            for (int i = 0; i < g->noutputs; i++) ts_tensor_release(&outputs[i]);
        prog_bar.run = r;
        if ((cpu || cuda) && o.repeat > 1) {
            char text[64];
            snprintf(text, sizeof text, "run %lld/%lld", (long long)r + 1, (long long)o.repeat);
            ts_cli_progress_show(&prog_bar.bar, text);
        }
        double t0 = ts_rt_now_seconds();
        enum ts_status rst = cpu    ? ts_cpu_exec_run(exec, inputs, outputs, &d)
                             : cuda ? ts_cuda_exec_run(gpu, inputs, outputs, &d)
                                    : ts_interp_run_progress(g, inputs, outputs, &hook, &d);
        times[r] = (ts_rt_now_seconds() - t0) * 1e3;
        if (rst != TS_OK) {
            ts_cli_progress_end(&prog_bar.bar);
            goto fail;
        }
    }
    if (o.check) {
        ts_cli_progress_show(&prog_bar.bar, "running the reference interpreter for --check");
        enum ts_status rst = ts_interp_run(g, inputs, expected, &d);
        if (rst != TS_OK) {
            ts_cli_progress_end(&prog_bar.bar);
            goto fail;
        }
    }
    ts_cli_progress_end(&prog_bar.bar);
    struct ts_cli_timing timing = {0, 0, 0, (int)o.repeat, -1};
    timing.min_ms = times[0];
    timing.max_ms = times[0];
    for (int64_t r = 1; r < o.repeat; r++) {
        if (times[r] < timing.min_ms) timing.min_ms = times[r];
        if (times[r] > timing.max_ms) timing.max_ms = times[r];
    }
    qsort(times, (size_t)o.repeat, sizeof *times, compare_doubles);
    timing.median_ms = o.repeat % 2 ? times[o.repeat / 2] : 0.5 * (times[o.repeat / 2 - 1] + times[o.repeat / 2]);

    /* The times above include the copies in and out; the graph alone, timed by CUDA events: */
    if (cuda && o.repeat > 1 && ts_cuda_exec_time(gpu, (int)o.repeat, &timing.device_median_ms, &d) != TS_OK)
        goto fail;
    if (o.outputs && write_tensors(g, o.outputs, g->noutputs, g->outputs, outputs, &d) != TS_OK) goto fail;
    struct ts_cli_source source = {o.inputs, o.fill_name, (uint64_t)o.seed};
    struct ts_cli_check check = {.rtol = o.rtol, .atol = o.atol, .tf32 = cuda && !o.m.strict_f32};
    bool check_ok = true;
    if (o.check) check_ok = ts_cli_check_outputs(g, outputs, expected, &check);
    if (o.json)
        ts_cli_print_outputs_json(g, outputs, &timing, ts_target_name(o.target), &source, stdout);
    else
        ts_cli_print_outputs(g, outputs, &timing, ts_target_name(o.target), stdout);
    if (cpu && !o.json)
        printf("compiled %d kernels (%d distinct functions) for %s in %.0f ms; %d threads\n", prog->nkernels,
               ts_cpu_code_nfunctions(ts_cpu_exec_code(exec)), ts_cpu_code_info(ts_cpu_exec_code(exec))->name,
               ts_cpu_exec_compile_seconds(exec) * 1e3, ts_cpu_exec_threads(exec));
    if (cuda && !o.json) {
        const struct ts_rt_cuda_info *dev = ts_cuda_exec_device(gpu);
        const struct ts_cuda_code *code = ts_cuda_exec_code(gpu);
        printf("compiled %d kernels (%d distinct functions) for %s in %.0f ms%s; %s (%s, %d SMs), one CUDA graph\n",
               prog->nkernels, ts_cuda_code_nfunctions(code), ts_cuda_code_arch(code)->name,
               ts_cuda_exec_compile_seconds(gpu) * 1e3, ts_cuda_code_cache_hit(code) ? " (cached)" : "", dev->name,
               dev->arch, dev->sm_count);
        if (o.repeat > 1)
            printf("GPU time (graph replays, CUDA events): median %.3f ms over %lld\n", timing.device_median_ms,
                   (long long)o.repeat);
    }
    if (o.check) ts_cli_print_check(g, &check, o.json ? stderr : stdout);
    if (!check_ok) {
        fprintf(stderr, "tessera: error: %s: --check: the %s target differs from the reference beyond tolerance\n",
                o.model, ts_target_name(o.target));
        goto done;
    }
    status = 0;
    goto done;
fail:
    status = ts_cli_fail(&d);
done:
    if (g && inputs)
        for (int i = 0; i < g->ninputs; i++) ts_tensor_release(&inputs[i]);
    if (g && outputs)
        for (int i = 0; i < g->noutputs; i++) ts_tensor_release(&outputs[i]);
    if (g && expected)
        for (int i = 0; i < g->noutputs; i++) ts_tensor_release(&expected[i]);
    free(inputs);
    free(outputs);
    free(expected);
    free(times);
    ts_cpu_exec_free(exec);
    ts_cuda_exec_free(gpu);
    if (st) ts_safetensors_free(st);
    ts_graph_free(g);
    return status;
}
