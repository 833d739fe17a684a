/* compile.c — `tessera compile MODEL.json --target cpu|cuda -o DIR`: fuses
 * the graph, generates its kernels for one CPU (object code) or one GPU arch
 * (cubin plus PTX, embedded as data), writes the plan as C data and links
 * DIR/libNAME.so and the executable DIR/NAME (no LLVM or NVRTC needed to run
 * them), in a temporary folder renamed into place at the end: a failure
 * leaves no partial files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact_info.h"
#include "autotune/autotune.h"
#include "runtime/runtime.h"
#include "tools/artifact/artifact.h"
#include "tools/cli.h"

static const char compile_usage[] =
    "usage: tessera compile MODEL.json [--target cpu|cuda] -o DIR [options]\n"
    "\n"
    "Compiles a model into a deployable artifact in DIR:\n"
    "  libNAME.so       the model as a shared library; its C interface is\n"
    "                   tessera_model.h (create from a weights file, run on your\n"
    "                   buffers, free). See examples/c_api/.\n"
    "  NAME             a standalone executable that runs the model: it reads and\n"
    "                   writes safetensors files like tessera run (NAME --help)\n"
    "  tessera_model.h  the header for libNAME.so\n"
    "At run time they need only libc, libm, libpthread and libcjson: no LLVM, no\n"
    "NVRTC, no compiler (a cuda model loads the NVIDIA driver, libcuda.so.1, when\n"
    "it starts). Shapes are fixed now: symbols take their default sizes or --bind.\n"
    "\n"
    "options:\n"
    "  --target cpu|cuda       what to compile for (default cpu; cuda: kernels for one\n"
    "                          GPU arch, compiled by NVRTC; no GPU needed to compile)\n"
    "  -o, --output DIR        the folder to write (created if missing)\n"
    "  --name NAME             the artifact's name (default: DIR's last component)\n"
    "  --bind SYMBOL=N         size of a symbolic dim (repeatable)\n"
    "  --cpu NAME              CPU to compile for: portable (default: x86-64-v3,\n"
    "                          AVX2 + FMA), native (this machine's CPU, all its\n"
    "                          features), x86-64-v2, x86-64-v4, or an LLVM CPU name\n"
    "  --arch sm_XY[a]         cuda: the GPU architecture of the embedded cubin\n"
    "                          (default: the GPU present, else " TS_CUDA_DEFAULT_ARCH "); its PTX\n"
    "                          is embedded too, JIT-compiled on other GPUs\n"
    "  --strict-f32            cuda: f32 matrix products without tf32 tensor cores\n"
    "  --db FILE               use the fastest schedules this tuning database holds\n"
    "                          (tessera tune); kernels without a record keep their\n"
    "                          defaults. cpu without --cpu: compiles for this\n"
    "                          machine's CPU (native) when the records were tuned\n"
    "                          for it\n"
    "  --embed-weights         put the weights inside the library and executable\n"
    "                          (default: read the weights file at load time; its\n"
    "                          absolute path is remembered as the default)\n"
    "  --save-temps            keep the generated sources and objects (DIR/.NAME.tmp-*)\n"
    "  -h, --help              this help\n"
    "\n"
    "The C compiler that links the artifact is $CC, else the one tessera was built with.\n";

struct compile_opts {
    const char *model, *out, *name, *cpu, *arch, *db;
    enum ts_target target;
    bool embed, save_temps, cpu_given, strict_f32;
    struct ts_cli_binds binds;
};

static bool name_ok(const char *s) {
    if (!s[0] || s[0] == '-' || strlen(s) > 64) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return false;
    return true;
}

static int parse_compile_args(int argc, char **argv, struct compile_opts *o) {
    memset(o, 0, sizeof *o);
    o->target = TS_TARGET_CPU;
    o->cpu = "portable";
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(compile_usage, stdout);
            return -1;
        } else if (ts_cli_is_option(a, "--target")) {
            if (!(v = ts_cli_option_value("compile", argc, argv, &i, "--target", &rc))) return rc;
            if (!ts_target_from_name(v, &o->target) || o->target == TS_TARGET_REF)
                return ts_cli_usage_error("compile", "--target", "expected cpu or cuda, got '%s'", v);
        } else if (strcmp(a, "-o") == 0 || ts_cli_is_option(a, "--output")) {
            if (!(o->out = ts_cli_option_value("compile", argc, argv, &i, a[1] == 'o' ? "-o" : "--output", &rc)))
                return rc;
        } else if (ts_cli_is_option(a, "--name")) {
            if (!(o->name = ts_cli_option_value("compile", argc, argv, &i, "--name", &rc))) return rc;
            if (!name_ok(o->name))
                return ts_cli_usage_error("compile", "--name",
                                          "expected letters, digits, '_' and '-' (at most 64, not starting with "
                                          "'-'), got '%s'", o->name);
        } else if (ts_cli_is_option(a, "--bind")) {
            if (!(v = ts_cli_option_value("compile", argc, argv, &i, "--bind", &rc))) return rc;
            if ((rc = ts_cli_parse_bind("compile", v, &o->binds))) return rc;
        } else if (ts_cli_is_option(a, "--cpu")) {
            if (!(o->cpu = ts_cli_option_value("compile", argc, argv, &i, "--cpu", &rc))) return rc;
            o->cpu_given = true;
        } else if (ts_cli_is_option(a, "--arch")) {
            if (!(o->arch = ts_cli_option_value("compile", argc, argv, &i, "--arch", &rc))) return rc;
            if ((rc = ts_cli_check_arch("compile", o->arch))) return rc;
        } else if (strcmp(a, "--strict-f32") == 0) {
            o->strict_f32 = true;
        } else if (ts_cli_is_option(a, "--db")) {
            if (!(o->db = ts_cli_option_value("compile", argc, argv, &i, "--db", &rc))) return rc;
            if ((rc = ts_cli_check_path("compile", "--db", o->db))) return rc;
        } else if (strcmp(a, "--embed-weights") == 0) {
            o->embed = true;
        } else if (strcmp(a, "--save-temps") == 0) {
            o->save_temps = true;
        } else if ((rc = ts_cli_model_arg("compile", a, &o->model))) {
            return rc;
        }
    }
    if (!o->model) return ts_cli_usage_error("compile", "", "no model given");
    if (!o->out) return ts_cli_usage_error("compile", "-o", "no output folder given (-o DIR)");
    if ((rc = ts_cli_check_path("compile", "-o", o->out))) return rc;
    if (o->cpu_given && o->target == TS_TARGET_CUDA)
        return ts_cli_usage_error("compile", "--cpu", "only --target cpu takes it");
    if ((o->arch || o->strict_f32) && o->target != TS_TARGET_CUDA)
        return ts_cli_usage_error("compile", o->arch ? "--arch" : "--strict-f32", "only --target cuda takes it");
    return 0;
}

/* The default name: DIR's last component, made into a valid name. */
static void default_name(const char *dir, char *buf, size_t size) {
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/') start--;
    size_t n = 0;
    for (size_t i = start; i < end && n + 1 < size && n < 64; i++) {
        char c = dir[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        buf[n++] = ok ? c : '_';
    }
    buf[n] = '\0';
    if (!name_ok(buf)) snprintf(buf, size, "model");
}

/* mkdir -p: every missing folder of path. */
static enum ts_status make_dirs(const char *path, struct ts_diag *d) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ts_diag_set(d, TS_ERR_USAGE, path, "-o", "the path is too long");
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ts_diag_set(d, TS_ERR_IO, buf, "-o", "cannot create the folder: %s", strerror(errno));
        *p = saved;
        if (!saved) break;
    }
    struct stat s;
    if (stat(path, &s) != 0 || !S_ISDIR(s.st_mode))
        return ts_diag_set(d, TS_ERR_IO, path, "-o", "exists and is not a folder");
    return TS_OK;
}

/* "+name" is in LLVM's comma-separated feature string. */
static bool llvm_has(const char *features, const char *name) {
    size_t n = strlen(name);
    for (const char *p = features; (p = strstr(p, name)) != NULL; p += n)
        if (p > features && p[-1] == '+' && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

/* What the loader checks before running kernels compiled for c. */
static void cpu_features(const struct ts_cpu_info *c, char *buf, size_t size) {
    static const char v2[] = "sse4.2", v3[] = "sse4.2,avx,avx2,fma,bmi2";
    static const char v4[] = "sse4.2,avx,avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl";
    buf[0] = '\0';
    if (c->features[0]) {
        size_t used = 0;
        for (int i = 0; ts_artifact_cpu_feature_names[i]; i++)
            if (llvm_has(c->features, ts_artifact_cpu_feature_names[i]) && used < size)
                used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "," : "",
                                         ts_artifact_cpu_feature_names[i]);
    } else if (strcmp(c->name, "x86-64-v2") == 0) {
        snprintf(buf, size, "%s", v2);
    } else if (strcmp(c->name, "x86-64-v3") == 0) {
        snprintf(buf, size, "%s", v3);
    } else if (strcmp(c->name, "x86-64-v4") == 0) {
        snprintf(buf, size, "%s", v4);
    } else if (strcmp(c->name, "x86-64") != 0) {
        /* Another named CPU: at least what its vector width and FMA imply. */
        snprintf(buf, size, "%s%s%s", c->vector_bits >= 256 ? "avx" : "", c->fma ? ",fma" : "",
                 c->vector_bits >= 512 ? ",avx512f" : "");
        if (buf[0] == ',') memmove(buf, buf + 1, strlen(buf));
    }
}

/* Every weight buffer must be a whole tensor of the weights file, used as is:
 * the artifact finds it again by name. */
static enum ts_status check_weights(const struct ts_program *p, struct ts_diag *d) {
    const struct ts_graph *g = p->graph;
    for (int i = 0; i < p->nbuffers; i++) {
        const struct ts_kbuffer *b = &p->buffers[i];
        if (b->kind != TS_KBUF_WEIGHT) continue;
        const struct ts_value *v = &g->values[b->value];
        if (v->kind != TS_VALUE_WEIGHT || v->data != b->data || (int64_t)v->nbytes != b->nbytes ||
            strcmp(v->name, b->name) != 0)
            return ts_diag_set(d, TS_ERR_UNSUPPORTED, g->path, b->name,
                               "this weight buffer is not a whole tensor of the weights file (a tessera bug)");
    }
    return TS_OK;
}

static enum ts_status copy_file(const char *from, const char *to, struct ts_diag *d) {
    FILE *in = fopen(from, "rb");
    if (!in) return ts_diag_set(d, TS_ERR_IO, from, "", "cannot open: %s (tessera's source folder)", strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return ts_diag_set(d, TS_ERR_IO, to, "", "cannot create: %s", strerror(errno));
    }
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    bool bad = ferror(in) || ferror(out);
    fclose(in);
    if (fclose(out) != 0 || bad) return ts_diag_set(d, TS_ERR_IO, to, "", "cannot write: %s", strerror(errno));
    return TS_OK;
}

/* Fills paths for the temporary folder tmp and the output folder out. */
static enum ts_status set_paths(struct ts_compile_paths *p, const char *tmp, const char *out, const char *name,
                                struct ts_diag *d) {
    struct {
        char *buf;
        const char *dir, *fmt;
    } items[] = {
        {p->plan_c, tmp, "%s/%s.plan.c"},   {p->data_s, tmp, "%s/%s.data.s"},
        {p->consts_bin, tmp, "%s/%s.consts.bin"}, {p->exports, tmp, "%s/%s.exports.map"},
        {p->kernels_o, tmp, "%s/%s.kernels.o"}, {p->plan_o, tmp, "%s/%s.plan.o"},
        {p->data_o, tmp, "%s/%s.data.o"},   {p->log, tmp, "%s/%s.cc.log"},
        {p->so, tmp, "%s/lib%s.so"},        {p->exe, tmp, "%s/%s"},
        {p->header, tmp, "%s/tessera_model.h%.0s"}, {p->out_so, out, "%s/lib%s.so"},
        {p->cubin, tmp, "%s/%s.cubin"},     {p->ptx, tmp, "%s/%s.ptx"},
        {p->out_exe, out, "%s/%s"},
    };
    for (size_t i = 0; i < sizeof items / sizeof *items; i++)
        if (snprintf(items[i].buf, 4096, items[i].fmt, items[i].dir, name) >= 4096)
            return ts_diag_set(d, TS_ERR_USAGE, out, "-o", "the path is too long");
    return TS_OK;
}

/* Removes the temporary folder and whatever of ours is left in it. */
static void remove_temps(const struct ts_compile_paths *p, const char *tmp) {
    const char *files[] = {p->plan_c, p->data_s, p->consts_bin, p->exports, p->kernels_o, p->plan_o,
                           p->data_o, p->log,    p->so,         p->exe,     p->header, p->cubin, p->ptx};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (files[i][0]) unlink(files[i]);
    rmdir(tmp);
}

static void on_step(void *ctx, const char *what) { ts_cli_progress_show(ctx, what); }

static void human_size(int64_t n, char *buf, size_t size) {
    if (n < 10 * 1024) snprintf(buf, size, "%lld B", (long long)n);
    else if (n < 10 * 1024 * 1024) snprintf(buf, size, "%.1f KB", (double)n / 1024);
    else snprintf(buf, size, "%.1f MB", (double)n / (1024.0 * 1024.0));
}

static int64_t file_size(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 ? (int64_t)s.st_size : -1;
}

/* The steps after the program is planned: generate, build, put in place. */
static enum ts_status write_artifact(const struct compile_opts *o, struct ts_cpu_code *code,
                                     const struct ts_rt_plan *plan, struct ts_compile_artifact *art,
                                     struct ts_compile_paths *paths, struct ts_cli_progress *bar, int64_t *consts_bytes,
                                     struct ts_diag *d) {
    TS_TRY(make_dirs(o->out, d));
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp-XXXXXX", o->out, art->name) >= (int)sizeof tmp)
        return ts_diag_set(d, TS_ERR_USAGE, o->out, "-o", "the path is too long");
    if (!mkdtemp(tmp))
        return ts_diag_set(d, TS_ERR_IO, o->out, "-o", "cannot create a temporary folder: %s", strerror(errno));
    enum ts_status st = set_paths(paths, tmp, o->out, art->name, d);
    if (st == TS_OK && code) {
        ts_cli_progress_show(bar, "writing the kernels' object file");
        st = ts_cpu_code_write_object(code, paths->kernels_o, d);
    } else if (st == TS_OK) {
        unlink(paths->kernels_o);
        paths->kernels_o[0] = '\0'; /* cuda: the kernels are the cubin and PTX, in data_s */
    }
    if (st == TS_OK) st = ts_compile_emit(plan, code, art, paths, consts_bytes, d);
    if (st == TS_OK) st = ts_compile_build(paths, art->name, on_step, bar, d);
    if (st == TS_OK) st = copy_file(TS_ARTIFACT_SOURCE_DIR "/tools/artifact/tessera_model.h", paths->header, d);
    /* All built: now put the three results in place, each whole. */
    const char *names[3][2] = {{paths->so, "lib%s.so"}, {paths->exe, "%s"}, {paths->header, "tessera_model.h%.0s"}};
    for (int i = 0; i < 3 && st == TS_OK; i++) {
        char final[4096];
        snprintf(final, sizeof final, "%s/", o->out);
        size_t n = strlen(final);
        snprintf(final + n, sizeof final - n, names[i][1], art->name);
        if (rename(names[i][0], final) != 0)
            st = ts_diag_set(d, TS_ERR_IO, final, "", "cannot move into place: %s", strerror(errno));
    }
    if (o->save_temps) printf("kept the generated files in %s\n", tmp);
    else remove_temps(paths, tmp);
    return st;
}

/* The target --db's records must match. Without --cpu, the CPU records were
 * tuned on is this machine's (native) when the database holds records of it:
 * tuning happens where the model will run, and portable code would not
 * match them. */
static enum ts_status tuning_target(struct compile_opts *o, struct ts_tune_target *t, struct ts_diag *d) {
    if (o->target == TS_TARGET_CUDA) return ts_cli_cuda_target(o->arch, 0, o->strict_f32, false, false, t, d);
    if (!o->cpu_given) {
        struct ts_tune_target native;
        if (ts_cli_cpu_target("native", 0, &native, d) == TS_OK && ts_cli_db_has_target(o->db, native.key)) {
            o->cpu = "native";
            fprintf(stderr, "tessera: %s holds records for this machine's CPU: compiling for native (--cpu "
                            "chooses another)\n", o->db);
            *t = native;
            return TS_OK;
        }
        ts_diag_clear(d);
    }
    return ts_cli_cpu_target(o->cpu, 0, t, d);
}

int ts_cli_compile(int argc, char **argv) {
    struct compile_opts o;
    int rc = parse_compile_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    struct ts_diag d;
    ts_diag_clear(&d);
    bool cuda = o.target == TS_TARGET_CUDA;
    if (ts_codegen_check_target(o.target, &d) != TS_OK) return ts_cli_fail(&d);

    double t0 = ts_rt_now_seconds();
    char name[80];
    if (o.name) snprintf(name, sizeof name, "%s", o.name);
    else default_name(o.out, name, sizeof name);

    struct ts_graph *g = NULL;
    struct ts_program *prog = NULL;
    struct ts_cpu_code *code = NULL;
    struct ts_cuda_code *gcode = NULL;
    const char **symbols = NULL;
    struct ts_compile_paths *paths = calloc(1, sizeof *paths);
    int64_t *bounds = NULL;
    char *weights_real = NULL, *model_real = NULL;
    int status = 1;
    struct ts_cli_progress bar;
    ts_cli_progress_start(&bar, true);
    if (!paths) {
        ts_diag_set(&d, TS_ERR_NOMEM, o.model, "", "out of memory");
        goto fail;
    }
    if (ts_graph_load(o.model, &g, &d) != TS_OK) goto fail;
    struct ts_tune_target tuned_for;
    if (o.db && tuning_target(&o, &tuned_for, &d) != TS_OK) goto fail;
    struct ts_cpu_info cpu = {.vector_width = 8}; /* cuda: the CPU schedules go unused */
    if (!cuda && ts_cpu_info_init(o.cpu, &cpu, &d) != TS_OK) goto fail;
    ts_cli_progress_show(&bar, "optimizing and fusing the graph");
    struct ts_pipeline_opts popts = {.binds = o.binds.items, .nbinds = o.binds.n, .stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = cpu.vector_width};
    if (ts_compile_program(g, &popts, &fo, &prog, &d) != TS_OK) goto fail;
    if (o.db && ts_cli_apply_db(prog, o.db, &tuned_for, false, &d) != TS_OK) goto fail;
    if (check_weights(prog, &d) != TS_OK) goto fail;
    struct ts_rt_plan plan;
    if (cuda) {
        ts_cli_progress_show(&bar, "generating the kernels (CUDA C, NVRTC)");
        if (ts_plan_from_program(prog, &plan, NULL, &d) != TS_OK) goto fail;
        if (ts_compile_cuda_code(prog, o.arch, o.strict_f32, &plan, &gcode, &symbols, &d) != TS_OK) goto fail;
    } else {
        ts_cli_progress_show(&bar, "generating the kernels (LLVM)");
        struct ts_cpu_opts co = {.cpu = o.cpu, .opt_level = 3};
        if (ts_cpu_codegen(prog, &co, &code, &d) != TS_OK) goto fail;
        if (ts_plan_from_program(prog, &plan, NULL, &d) != TS_OK) goto fail;
    }

    bounds = calloc((size_t)g->ninputs + 1, sizeof *bounds);
    if (!bounds) {
        ts_diag_set(&d, TS_ERR_NOMEM, o.model, "", "out of memory");
        goto fail;
    }
    for (int i = 0; i < g->ninputs; i++)
        bounds[i] = ts_dtype_is_int(g->values[g->inputs[i]].dtype) ? ts_cli_input_int_bound(g, i) : 0;
    char bindings[1024] = "", features[256] = "";
    for (int i = 0, used = 0; i < g->nsymbols && used < (int)sizeof bindings; i++)
        used += snprintf(bindings + used, sizeof bindings - (size_t)used, "%s%s=%lld", i ? ", " : "",
                         g->symbols[i].name, (long long)g->symbols[i].size);
    if (!cuda) cpu_features(ts_cpu_code_info(code), features, sizeof features);
    if (plan.nweights > 0 && g->weights_path && g->weights_path[0]) {
        weights_real = realpath(g->weights_path, NULL);
        if (!weights_real) {
            ts_diag_set(&d, TS_ERR_IO, g->weights_path, "", "cannot resolve the path: %s", strerror(errno));
            goto fail;
        }
    }
    model_real = realpath(o.model, NULL);
    struct ts_compile_artifact art = {
        .name = name, .model = model_real ? model_real : o.model, .bindings = bindings,
        .cpu = cuda ? "" : ts_cpu_code_info(code)->name, .cpu_features = features,
        .weights_path = weights_real ? weights_real : "", .embed_path = o.embed ? weights_real : NULL,
        .input_bounds = bounds, .target = cuda ? "cuda" : "cpu", .symbols = symbols,
    };
    size_t ptx_size = 0;
    if (cuda) {
        art.arch = ts_cuda_code_arch(gcode)->name;
        art.cubin = ts_cuda_code_cubin(gcode, &art.cubin_size);
        art.ptx = ts_cuda_code_ptx(gcode, &ptx_size);
    }
    int64_t consts_bytes = 0;
    if (write_artifact(&o, code, &plan, &art, paths, &bar, &consts_bytes, &d) != TS_OK) goto fail;
    ts_cli_progress_end(&bar);

    char s1[32], s2[32], s3[32], s4[32];
    human_size(file_size(paths->out_so), s1, sizeof s1);
    human_size(file_size(paths->out_exe), s2, sizeof s2);
    int64_t wbytes = weights_real ? file_size(weights_real) : 0;
    human_size(wbytes, s3, sizeof s3);
    human_size(consts_bytes, s4, sizeof s4);
    printf("wrote %s  (%s, shared library; C interface in %s/tessera_model.h)\n", paths->out_so, s1, o.out);
    printf("      %s  (%s, executable; %s --help)\n", paths->out_exe, s2, paths->out_exe);
    if (cuda) {
        char s5[32], s6[32];
        human_size((int64_t)art.cubin_size, s5, sizeof s5);
        human_size((int64_t)strlen(art.ptx), s6, sizeof s6);
        printf("%d kernels (%d distinct functions) for %s: cubin %s, PTX %s (JIT fallback); %d inputs, %d outputs; "
               "constants %s\n",
               prog->nkernels, ts_cuda_code_nfunctions(gcode), art.arch, s5, s6, plan.ninputs, plan.noutputs, s4);
    } else {
        printf("%d kernels (%d distinct functions) for %s; %d inputs, %d outputs; constants %s\n", prog->nkernels,
               ts_cpu_code_nfunctions(code), art.cpu, plan.ninputs, plan.noutputs, s4);
    }
    if (!weights_real)
        printf("weights: none needed\n");
    else if (o.embed)
        printf("weights: embedded (%s from %s)\n", s3, weights_real);
    else
        printf("weights: read at load time from %s (%s), or the file passed to tessera_model_create / --weights\n",
               weights_real, s3);
    if (bindings[0]) printf("shapes fixed at %s\n", bindings);
    printf("compiled in %.0f ms with %s\n", (ts_rt_now_seconds() - t0) * 1e3, ts_compile_cc());
    status = 0;
    goto done;
fail:
    ts_cli_progress_end(&bar);
    status = ts_cli_fail(&d);
done:
    free(bounds);
    free(weights_real);
    free(model_real);
    free(paths);
    ts_cpu_code_free(code);
    ts_cuda_code_free(gcode);
    free(symbols);
    ts_graph_free(g);
    return status;
}
