/* main.c — the standalone executable of a compiled model (DIR/NAME): reads
 * inputs from a safetensors file or makes them (same seed, same values as
 * `tessera run`), runs the model through tessera_model.h, prints a summary and
 * the time, writes the outputs; --info says what it carries. Errors are one
 * line "NAME: error: ...". */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/frontend.h"
#include "tools/artifact/artifact.h"
#include "tools/artifact/main.h"
#include "tools/artifact/tessera_model.h"

static const char usage[] =
    "usage: %s [options]\n"
    "\n"
    "Runs the model '%s' and prints each output's name, dtype, shape and a summary.\n"
    "Compiled by tessera %s from %s%s%s%s for %s.\n"
    "\n"
    "options:\n"
    "  --weights FILE          the weights (safetensors); default: %s\n"
    "  --inputs FILE           read inputs from a safetensors file (tensor name = input name)\n"
    "  --fill random|zeros|ones  make inputs instead (default random: floats uniform in\n"
    "                          [-1, 1], integers inside what they index)\n"
    "  --seed N                seed for --fill random (default 0; the same inputs as\n"
    "                          tessera run --seed N)\n"
    "  --outputs FILE          write the outputs to a safetensors file\n"
    "  --save-inputs FILE      write the inputs used to a safetensors file\n"
    "  --repeat N              run N times; print median, min and max time\n"
    "  --threads N             worker threads (default: one per core; CPU models only)\n"
    "  --json                  print one JSON object instead of text\n"
    "  --info                  print what this program carries (target, arch, kernels) and exit\n"
    "  -h, --help              this help\n";

struct exe_opts {
    const char *weights, *inputs, *outputs, *save_inputs;
    enum ts_artifact_fill fill;
    const char *fill_name;
    bool fill_given, seed_given, json;
    uint64_t seed;
    long long repeat, threads;
};

static const char *prog_name(void) { return ts_artifact_model.name; }

static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: error: ", prog_name());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

static int fail_diag(const struct ts_diag *d) {
    char buf[sizeof d->file + sizeof d->where + sizeof d->what + 8];
    ts_diag_format(d, buf, sizeof buf);
    return fail(1, "%s", buf);
}

static bool is_option(const char *arg, const char *name) {
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* "--name v" (advancing *i) or "--name=v"; NULL when missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name) {
    const char *a = argv[*i];
    const char *v = a[strlen(name)] == '=' ? a + strlen(name) + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    if (!v || !v[0]) fail(2, "%s: expects a value (see %s --help)", name, prog_name());
    return v && v[0] ? v : NULL;
}

static bool parse_count(const char *name, const char *v, long long min, long long max, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max) {
        fail(2, "%s: expected an integer in [%lld, %lld], got '%s'", name, min, max, v);
        return false;
    }
    *out = x;
    return true;
}

/* The SM a cubin's ELF header names (e_flags bits 8-15 for the CUDA 12+ ABI), or 0. */
static int cubin_sm(const unsigned char *b, size_t n) {
    if (!b || n < 64 || memcmp(b, "\177ELF", 4) != 0 || b[18] != 190 || b[19] != 0) return 0;
    return b[49];
}

/* What the program carries, one "key: value" per line (stable for scripts). */
static void print_info(const struct ts_artifact *a) {
    printf("name: %s\ntessera: %s\nmodel: %s\nbindings: %s\ntarget: %s\n", a->name, a->version, a->model,
           a->bindings, a->target);
    if (a->cuda) {
        printf("arch: %s\n", a->arch);
        printf("cubin: %zu bytes, ELF for sm_%d\n", a->cuda->cubin_size,
               cubin_sm(a->cuda->cubin, a->cuda->cubin_size));
        printf("ptx: %zu bytes\n", a->cuda->ptx ? strlen(a->cuda->ptx) : (size_t)0);
    } else {
        printf("cpu: %s\ncpu features: %s\n", a->cpu, a->cpu_features);
    }
    printf("kernels: %d\nlaunches: %d\ninputs: %d\noutputs: %d\nweights: %s\n", a->plan->nkernels,
           a->plan->nlaunches, a->plan->ninputs, a->plan->noutputs,
           a->embedded ? "embedded" : a->weights_path[0] ? a->weights_path : "none");
}

/* 0: go on; -1: help printed; else the exit status. */
static int parse_args(int argc, char **argv, struct exe_opts *o) {
    const struct ts_artifact *a = &ts_artifact_model;
    memset(o, 0, sizeof *o);
    o->repeat = 1;
    o->fill_name = "random";
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v;
        long long n;
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            const char *weights = a->embedded            ? "the weights embedded in this program"
                                  : a->weights_path[0] ? a->weights_path
                                                       : "none";
            char target[96];
            if (a->cuda) snprintf(target, sizeof target, "CUDA %s (PTX fallback; GPU 0, or CUDA_VISIBLE_DEVICES)", a->arch);
            else snprintf(target, sizeof target, "%s", a->cpu);
            printf(usage, argv[0], a->name, a->version, a->model, a->bindings[0] ? " (" : "", a->bindings,
                   a->bindings[0] ? ")" : "", target, weights);
            return -1;
        } else if (strcmp(s, "--info") == 0) {
            print_info(a);
            return -1;
        } else if (is_option(s, "--weights")) {
            if (!(o->weights = option_value(argc, argv, &i, "--weights"))) return 2;
        } else if (is_option(s, "--inputs")) {
            if (!(o->inputs = option_value(argc, argv, &i, "--inputs"))) return 2;
        } else if (is_option(s, "--outputs")) {
            if (!(o->outputs = option_value(argc, argv, &i, "--outputs"))) return 2;
        } else if (is_option(s, "--save-inputs")) {
            if (!(o->save_inputs = option_value(argc, argv, &i, "--save-inputs"))) return 2;
        } else if (is_option(s, "--fill")) {
            if (!(v = option_value(argc, argv, &i, "--fill"))) return 2;
            o->fill_given = true;
            o->fill_name = v;
            if (strcmp(v, "random") == 0) o->fill = TS_ARTIFACT_FILL_RANDOM;
            else if (strcmp(v, "zeros") == 0) o->fill = TS_ARTIFACT_FILL_ZEROS;
            else if (strcmp(v, "ones") == 0) o->fill = TS_ARTIFACT_FILL_ONES;
            else return fail(2, "--fill: expected random, zeros or ones, got '%s'", v);
        } else if (is_option(s, "--seed")) {
            if (!(v = option_value(argc, argv, &i, "--seed")) || !parse_count("--seed", v, 0, INT64_MAX, &n)) return 2;
            o->seed = (uint64_t)n;
            o->seed_given = true;
        } else if (is_option(s, "--repeat")) {
            if (!(v = option_value(argc, argv, &i, "--repeat")) || !parse_count("--repeat", v, 1, 1000000, &o->repeat))
                return 2;
        } else if (is_option(s, "--threads")) {
            if (!(v = option_value(argc, argv, &i, "--threads")) || !parse_count("--threads", v, 1, 1024, &o->threads))
                return 2;
        } else if (strcmp(s, "--json") == 0) {
            o->json = true;
        } else {
            return fail(2, "%s: unknown %s (see %s --help)", s, s[0] == '-' ? "option" : "argument", prog_name());
        }
    }
    if (o->inputs && (o->fill_given || o->seed_given))
        return fail(2, "%s: the inputs come from --inputs %s; --fill and --seed make inputs instead",
                    o->fill_given ? "--fill" : "--seed", o->inputs);
    return 0;
}

/* The same file (device and inode), when both exist. */
static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return a && b && a[0] && b[0] && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* --outputs and --save-inputs must never write over what the run reads. */
static int check_targets(const struct exe_opts *o) {
    const char *weights = o->weights ? o->weights : ts_artifact_model.embedded ? NULL : ts_artifact_model.weights_path;
    const char *targets[2][2] = {{"--outputs", o->outputs}, {"--save-inputs", o->save_inputs}};
    const char *sources[2][2] = {{"the model's weights", weights}, {"the inputs file", o->inputs}};
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 2; k++)
            if (same_file(targets[t][1], sources[k][1]))
                return fail(2, "%s: %s: this is %s: refusing to write over it", targets[t][1], targets[t][0],
                            sources[k][0]);
    if (o->outputs && o->save_inputs &&
        (strcmp(o->outputs, o->save_inputs) == 0 || same_file(o->outputs, o->save_inputs)))
        return fail(2, "%s: --save-inputs: is also the --outputs file", o->outputs);
    return 0;
}

/* Views of the inputs file's tensors, checked against the model's inputs. */
static enum ts_status read_inputs(const tessera_model *m, const char *path, struct ts_safetensors **out,
                                  struct ts_tensor *in, struct ts_diag *d) {
    TS_TRY(ts_safetensors_open(path, out, d));
    const struct ts_safetensors *st = *out;
    int n = tessera_model_num_inputs(m);
    char where[300], want[256], got[256];
    for (int i = 0; i < st->ntensors; i++) {
        bool known = false;
        for (int k = 0; k < n; k++) known = known || strcmp(st->tensors[i].name, tessera_model_input_name(m, k)) == 0;
        if (!known) {
            snprintf(where, sizeof where, "tensor '%s'", st->tensors[i].name);
            return ts_diag_set(d, TS_ERR_SHAPE, path, where, "not an input of the model %s", prog_name());
        }
    }
    for (int i = 0; i < n; i++) {
        const char *name = tessera_model_input_name(m, i);
        const struct ts_st_tensor *t = ts_safetensors_find(st, name);
        if (!t) return ts_diag_set(d, TS_ERR_SHAPE, path, "", "the model's input '%s' is missing from this file", name);
        snprintf(where, sizeof where, "tensor '%s'", name);
        int rank = tessera_model_input_rank(m, i);
        const int64_t *dims = tessera_model_input_dims(m, i);
        ts_dims_str(rank, dims, want, sizeof want);
        ts_dims_str(t->rank, t->dims, got, sizeof got);
        if (strcmp(ts_dtype_name(t->dtype), tessera_model_input_dtype(m, i)) != 0)
            return ts_diag_set(d, TS_ERR_SHAPE, path, where, "dtype is %s, but the model's input '%s' is %s",
                               ts_dtype_name(t->dtype), name, tessera_model_input_dtype(m, i));
        bool same = t->rank == rank;
        for (int k = 0; same && k < rank; k++) same = t->dims[k] == dims[k];
        if (!same)
            return ts_diag_set(d, TS_ERR_SHAPE, path, where,
                               "shape is %s, but the model was compiled for %s (recompile with other --bind sizes)",
                               got, want);
        ts_tensor_view(&in[i], t->dtype, t->rank, t->dims, (void *)t->data);
    }
    return TS_OK;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    struct exe_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    if ((rc = check_targets(&o))) return rc;

    char err[1024];
    tessera_model *m = tessera_model_create(o.weights, (int)o.threads, err, sizeof err);
    if (!m) return fail(1, "%s", err);
    int nin = tessera_model_num_inputs(m), nout = tessera_model_num_outputs(m);
    struct ts_tensor *in = calloc((size_t)nin + 1, sizeof *in), *out = calloc((size_t)nout + 1, sizeof *out);
    const void **inp = calloc((size_t)nin + 1, sizeof *inp);
    void **outp = calloc((size_t)nout + 1, sizeof *outp);
    const char **in_names = calloc((size_t)nin + 1, sizeof *in_names);
    const char **out_names = calloc((size_t)nout + 1, sizeof *out_names);
    double *times = calloc((size_t)o.repeat, sizeof *times);
    struct ts_safetensors *st = NULL;
    struct ts_diag d;
    ts_diag_clear(&d);
    int status = 1;
    if (!in || !out || !inp || !outp || !in_names || !out_names || !times) {
        fail(1, "out of memory");
        goto done;
    }
    if (o.inputs) {
        if (read_inputs(m, o.inputs, &st, in, &d) != TS_OK) goto diag;
    } else {
        uint64_t rng = o.seed;
        for (int i = 0; i < nin; i++) {
            enum ts_dtype dt;
            if (!ts_dtype_from_name(tessera_model_input_dtype(m, i), &dt)) TS_ASSERT(!"unknown dtype in the plan");
            if (ts_tensor_alloc(&in[i], dt, tessera_model_input_rank(m, i), tessera_model_input_dims(m, i),
                                tessera_model_input_name(m, i), &d) != TS_OK)
                goto diag;
            ts_artifact_fill(&in[i], o.fill, ts_artifact_model.input_bounds[i], &rng);
        }
    }
    for (int i = 0; i < nin; i++) {
        in_names[i] = tessera_model_input_name(m, i);
        inp[i] = in[i].data;
    }
    for (int i = 0; i < nout; i++) {
        enum ts_dtype dt;
        out_names[i] = tessera_model_output_name(m, i);
        if (!ts_dtype_from_name(tessera_model_output_dtype(m, i), &dt)) TS_ASSERT(!"unknown dtype in the plan");
        if (ts_tensor_alloc(&out[i], dt, tessera_model_output_rank(m, i), tessera_model_output_dims(m, i),
                            out_names[i], &d) != TS_OK)
            goto diag;
        outp[i] = out[i].data;
    }
    if (o.save_inputs && ts_safetensors_write(o.save_inputs, nin, in_names, in, &d) != TS_OK) goto diag;
    for (long long r = 0; r < o.repeat; r++) {
        double t0 = ts_rt_now_seconds();
        if (tessera_model_run(m, inp, outp, err, sizeof err) != 0) {
            fail(1, "%s", err);
            goto done;
        }
        times[r] = (ts_rt_now_seconds() - t0) * 1e3;
    }
    if (o.outputs && ts_safetensors_write(o.outputs, nout, out_names, out, &d) != TS_OK) goto diag;
    struct ts_exe_report rep = {
        .model = ts_artifact_model.name, .cpu = tessera_model_cpu(m), .cuda = ts_artifact_model.cuda != NULL,
        .threads = tessera_model_threads(m),
        .names = out_names, .outputs = out, .n = nout, .inputs_file = o.inputs, .fill = o.fill_name,
        .seed = o.seed, .repeat = (int)o.repeat, .min_ms = times[0], .max_ms = times[0],
    };
    for (long long r = 1; r < o.repeat; r++) {
        if (times[r] < rep.min_ms) rep.min_ms = times[r];
        if (times[r] > rep.max_ms) rep.max_ms = times[r];
    }
    qsort(times, (size_t)o.repeat, sizeof *times, compare_doubles);
    rep.median_ms = o.repeat % 2 ? times[o.repeat / 2] : 0.5 * (times[o.repeat / 2 - 1] + times[o.repeat / 2]);
    if (o.json) ts_exe_print_outputs_json(&rep, stdout);
    else ts_exe_print_outputs(&rep, stdout);
    if (fflush(stdout) != 0) {
        fail(1, "standard output: %s", strerror(errno));
        goto done;
    }
    status = 0;
    goto done;
diag:
    status = fail_diag(&d);
done:
    for (int i = 0; in && i < nin; i++) ts_tensor_release(&in[i]);
    for (int i = 0; out && i < nout; i++) ts_tensor_release(&out[i]);
    free(in);
    free(out);
    free(inp);
    free(outp);
    free(in_names);
    free(out_names);
    free(times);
    if (st) ts_safetensors_free(st);
    tessera_model_free(m);
    return status;
}
