/* cli.h — private to tools/: the verbs of the tessera command and the helpers
 * they share (option parsing, inputs, output summaries). */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "passes/passes.h"

/* Exit statuses: 0 success, 1 error, 2 bad usage. */
int ts_cli_exit_status(enum ts_status st);
/* Prints d as the one error line and returns the exit status for it. */
int ts_cli_fail(const struct ts_diag *d);
/* A usage error about one option: prints "tessera: error: OPT: WHAT (see tessera VERB --help)"; returns 2. */
int ts_cli_usage_error(const char *verb, const char *opt, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Options shared by run and inspect. */
struct ts_cli_binds {
    struct ts_bind items[64];
    char symbols[64][128]; /* storage for items[i].symbol */
    char sources[64][512]; /* storage for items[i].source */
    int n;
};
/* Appends a bind, copying the strings; returns false when full. */
bool ts_cli_binds_add(struct ts_cli_binds *b, const char *symbol, int64_t size, const char *source);
/* Parses "sym=N" into binds; returns 0 or the usage exit status. */
int ts_cli_parse_bind(const char *verb, const char *arg, struct ts_cli_binds *b);
/* Parses a non-negative integer option value; returns 0 or the usage exit status. */
int ts_cli_parse_count(const char *verb, const char *opt, const char *arg, int64_t min, int64_t max, int64_t *out);

/* inputs.c: the run's inputs, from a tensor file or filled. */
enum ts_cli_fill { TS_FILL_RANDOM, TS_FILL_ZEROS, TS_FILL_ONES };
/* Reads the inputs file and appends the symbol sizes its shapes fix to binds. */
enum ts_status ts_cli_inputs_open(const struct ts_graph *g, const char *path, struct ts_safetensors **out,
                                  struct ts_cli_binds *binds, struct ts_diag *d);
/* After shapes are bound: one tensor per graph input (views into st, or filled). */
enum ts_status ts_cli_inputs_make(const struct ts_graph *g, const struct ts_safetensors *st, enum ts_cli_fill fill,
                                  uint64_t seed, struct ts_tensor *inputs, struct ts_diag *d);
/* Random integers for graph input i are drawn from [0, bound): inside the
 * table it gathers from, the sequence it gives rope positions for, else 16. */
int64_t ts_cli_input_int_bound(const struct ts_graph *g, int input);

/* summary.c: what run prints about each output. */
struct ts_cli_timing {
    double median_ms, min_ms, max_ms; /* whole runs: for cuda, copies in and out included */
    int repeat;
    double device_median_ms;          /* cuda: the CUDA graph alone (events), or < 0 when not measured */
};
/* Where the inputs came from, for --json. */
struct ts_cli_source {
    const char *inputs_file; /* NULL when filled */
    const char *fill;        /* "random", "zeros", "ones" */
    uint64_t seed;
};
void ts_cli_print_outputs(const struct ts_graph *g, const struct ts_tensor *outs, const struct ts_cli_timing *t,
                          const char *target, FILE *f);
void ts_cli_print_outputs_json(const struct ts_graph *g, const struct ts_tensor *outs, const struct ts_cli_timing *t,
                               const char *target, const struct ts_cli_source *src, FILE *f);

/* check.c: --check, a backend's outputs against the reference interpreter's. */
struct ts_cli_check_result {
    double max_abs, max_rel; /* largest |got - ref|, and that over max(|ref|, atol) */
    int64_t worst;           /* the element furthest beyond tolerance (or with max_abs) */
    double got, want;        /* its values */
    double rtol, atol;       /* the tolerance applied */
    int64_t bad;             /* elements beyond tolerance */
};
struct ts_cli_check {
    double rtol, atol;       /* < 0: per-dtype defaults */
    bool tf32;               /* f32 matrix products ran on tf32 tensor cores: f32 defaults 3e-2 */
    struct ts_cli_check_result *results; /* one per graph output */
    int n;
};
/* Compares every output; returns whether all are within tolerance. */
bool ts_cli_check_outputs(const struct ts_graph *g, const struct ts_tensor *got, const struct ts_tensor *want,
                          struct ts_cli_check *c);
/* One line per output; frees the results. */
void ts_cli_print_check(const struct ts_graph *g, struct ts_cli_check *c, FILE *f);

/* Whether progress may be redrawn in place. */
bool ts_cli_stderr_is_tty(void);

/* progress.c: progress of long work on standard error. */
struct ts_cli_progress {
    bool enabled, tty, shown;
    double start, last;
};
void ts_cli_progress_start(struct ts_cli_progress *p, bool enabled);
void ts_cli_progress_show(struct ts_cli_progress *p, const char *text); /* rate-limited */
void ts_cli_progress_end(struct ts_cli_progress *p);

/* The last branch of every verb's argument loop: an unknown option is a usage
 * error, else arg is the model (a second one is an error). 0 or the status. */
int ts_cli_model_arg(const char *verb, const char *arg, const char **model);
/* Whether arg is option name, as "--name" or "--name=value". */
bool ts_cli_is_option(const char *arg, const char *name);
/* The value of option argv[*i] ("--name v", advancing *i, or "--name=v"); NULL
 * with *rc set to the usage exit status (after printing why) when missing. */
const char *ts_cli_option_value(const char *verb, int argc, char **argv, int *i, const char *name, int *rc);

/* Refuses (usage error) an --arch that is not a GPU architecture tessera
 * compiles for (ts_cuda_arch_parse's message); returns 0 or the exit status. */
int ts_cli_check_arch(const char *verb, const char *arch);

/* The options naming the machine to compile for: --cpu and --threads
 * (--target cpu), --arch, --device and --strict-f32 (--target cuda). */
struct ts_cli_machine {
    const char *cpu, *arch;  /* NULL: native; the GPU's own */
    int64_t threads, device; /* threads 0: one per core */
    bool strict_f32, device_given;
};
/* When argv[*i] is one of them: parses it (advancing *i past a value), sets
 * *rc to 0 or the usage exit status, and returns true. */
bool ts_cli_parse_machine(const char *verb, int argc, char **argv, int *i, struct ts_cli_machine *m, int *rc);
/* Refuses (usage error) CPU options without --target cpu, GPU ones without
 * --target cuda, and a --cpu that names no CPU; returns 0 or the status. */
int ts_cli_check_machine(const char *verb, enum ts_target target, const struct ts_cli_machine *m);

/* Refuses (usage error) an option whose file path is empty. */
int ts_cli_check_path(const char *verb, const char *opt, const char *path);

/* compile_emit.c, compile_cc.c: the artifact `tessera compile` writes. */
struct ts_rt_plan;
struct ts_compile_artifact {
    const char *name;            /* libNAME.so, NAME */
    const char *model;           /* the graph file */
    const char *bindings;        /* "batch=1, seq=16" */
    const char *cpu;             /* compiled for */
    const char *cpu_features;    /* checked when the model is loaded */
    const char *weights_path;    /* absolute, or "" */
    const char *embed_path;      /* --embed-weights: the weights file to embed, else NULL */
    const int64_t *input_bounds; /* per graph input, for random integers */
    /* --target cuda (target NULL or "cpu" otherwise): */
    const char *target;          /* "cpu" or "cuda" */
    const char *arch;            /* the cubin's arch: "sm_90a" */
    const void *cubin;           /* embedded with the PTX as its fallback */
    size_t cubin_size;
    const char *ptx;             /* NUL-terminated */
    const char *const *symbols;  /* each plan kernel's __global__ function */
};
/* The files of one compilation: sources and objects in a temporary folder,
 * then the three results, also there until renamed into place. */
struct ts_compile_paths {
    char plan_c[4096], data_s[4096], consts_bin[4096], exports[4096], kernels_o[4096];
    char plan_o[4096], data_o[4096], log[4096];
    char cubin[4096], ptx[4096];      /* cuda: the kernels, embedded by data_s */
    char so[4096], exe[4096], header[4096];
    char out_so[4096], out_exe[4096]; /* the final names, for messages */
};
/* Writes plan_c, data_s, consts_bin and exports (and, for cuda, where code
 * is NULL, the cubin and PTX files); consts_bytes gets the constants' size. */
enum ts_status ts_compile_emit(const struct ts_rt_plan *plan, const struct ts_cpu_code *code,
                               const struct ts_compile_artifact *a, const struct ts_compile_paths *paths,
                               int64_t *consts_bytes, struct ts_diag *d);
/* Runs the C compiler ($CC, else the one tessera was built with) to build so
 * and exe from the generated files, kernels_o (none when it is "": cuda) and
 * the artifact libraries.
 * step (may be NULL) is told what runs next. */
enum ts_status ts_compile_build(const struct ts_compile_paths *paths, const char *name,
                                void (*step)(void *ctx, const char *what), void *ctx, struct ts_diag *d);
/* compile_cuda.c: for --target cuda, the program as CUDA C compiled by NVRTC
 * for arch (NULL: the GPU present, else TS_CUDA_DEFAULT_ARCH), its launch
 * geometry put into plan, and each kernel's symbol (free *symbols). */
enum ts_status ts_compile_cuda_code(const struct ts_program *p, const char *arch, bool strict_f32,
                                    struct ts_rt_plan *plan, struct ts_cuda_code **code, const char ***symbols,
                                    struct ts_diag *d);
/* The compiler command that ts_compile_build runs. */
const char *ts_compile_cc(void);

/* tuned.c: --db FILE on compile, run and inspect. */
struct ts_tune_target;
/* The CPU target for cpu (NULL: native) with threads workers (0: every core). */
enum ts_status ts_cli_cpu_target(const char *cpu, int threads, struct ts_tune_target *t, struct ts_diag *d);
/* The GPU target: the device's (need_gpu: an error when there is none), or,
 * compiling without that GPU, the arch alone (records match on it). tuning:
 * probe from a child process (ts_tune_cuda_probe), as the tuner needs. */
enum ts_status ts_cli_cuda_target(const char *arch, int device, bool strict_f32, bool need_gpu, bool tuning,
                                  struct ts_tune_target *t, struct ts_diag *d);
/* Whether the database holds a record of the target key (unreadable: false). */
bool ts_cli_db_has_target(const char *db_path, const char *key);
/* Applies the database's best records to p (ts_tune_apply) and says on
 * standard error how many kernels got one (unless quiet). */
enum ts_status ts_cli_apply_db(struct ts_program *p, const char *db_path, const struct ts_tune_target *t, bool quiet,
                               struct ts_diag *d);

/* bench_blas.c: the CPU peer of bench gemm, cblas_sgemm loaded with dlopen
 * (libopenblas.so.0, libopenblas.so, then libblas.so.3). */
struct ts_cli_blas {
    void *lib;
    void (*sgemm)(void);           /* cblas_sgemm, called through its own type */
    void (*set_threads)(int);      /* openblas_set_num_threads, or NULL */
    char name[16];                 /* "OpenBLAS", or "BLAS" for another library */
    char desc[128];                /* which library and core, for the header */
};
/* Loads the first library that has cblas_sgemm; false with why set when none does. */
bool ts_cli_blas_open(struct ts_cli_blas *b, char *why, size_t size);
void ts_cli_blas_threads(const struct ts_cli_blas *b, int threads);
/* C[m,n] = A[m,k]·B, row-major, B [k,n] or (trans_b) [n,k]. */
void ts_cli_blas_sgemm(const struct ts_cli_blas *b, bool trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                       const float *bm, float *c);
void ts_cli_blas_close(struct ts_cli_blas *b);

/* run.c: the graph through the passes (binds), the tuning database's records
 * (db may be NULL) and the backend, as `run` compiles it: for the CPU (LLVM,
 * JIT, a thread pool) or the GPU (NVRTC, a CUDA session; without a driver or
 * GPU, says so). */
struct ts_cpu_exec;
struct ts_cuda_exec;
enum ts_status ts_cli_compile_cpu(struct ts_graph *g, const struct ts_cli_binds *b, const struct ts_cli_machine *m,
                                  const char *db, struct ts_program **prog, struct ts_cpu_exec **exec,
                                  struct ts_diag *d);
enum ts_status ts_cli_compile_cuda(struct ts_graph *g, const struct ts_cli_binds *b, const struct ts_cli_machine *m,
                                   const char *db, struct ts_program **prog, struct ts_cuda_exec **exec,
                                   struct ts_diag *d);

int ts_cli_bench(int argc, char **argv);
int ts_cli_generate(int argc, char **argv);
int ts_cli_compile(int argc, char **argv);
int ts_cli_db(int argc, char **argv);
int ts_cli_run(int argc, char **argv);
int ts_cli_inspect(int argc, char **argv);
int ts_cli_tune(int argc, char **argv);

#endif
