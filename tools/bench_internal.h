/* bench_internal.h — what the targets of `tessera bench gemm` share: the
 * options, the problems, verification and the report (table, CSV, chart,
 * PASSED/FAILED). bench.c parses and dispatches; bench_cpu.c runs the CPU
 * target against OpenBLAS, bench_cuda.c the GPU one against cuBLAS and
 * cublasLt; bench_report.c prints. bench_script.c hands `bench attention`
 * and `bench model` to their Python drivers under benchmarks/. */
#ifndef TESSERA_TOOLS_BENCH_INTERNAL_H
#define TESSERA_TOOLS_BENCH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/ir.h"
#include "tools/cli.h"

struct ts_bench_problem {
    int64_t m, n, k;
    const char *family; /* "d768", "square", "awkward", "list" ... */
};

enum { TS_BENCH_MAX_PROBLEMS = 512 };

enum ts_bench_epilogue {
    TS_BENCH_EPI_NONE,
    TS_BENCH_EPI_BIAS_GELU, /* C = gelu(A·B + bias[N]): erf GELU on the CPU, tanh on the GPU (cublasLt's) */
};

struct ts_bench_opts {
    enum ts_target target;
    const char *suite, *db, *csv, *plot;
    const char *lists[3];      /* --m, --n, --k */
    enum ts_dtype dtype;       /* TS_F32, TS_F16 or TS_BF16: A, B, bias and C */
    bool tf32;                 /* --dtype tf32: f32 data, tf32 products (GPU only) */
    enum ts_bench_epilogue epilogue;
    bool trans_b, tune;
    struct ts_cli_machine m;
};

/* --dtype's name for the options: "f32", "tf32", "f16", "bf16". */
const char *ts_bench_dtype_name(const struct ts_bench_opts *o);

/* The problems: --m/--n/--k's combinations when given, else the target's
 * suite (BENCHMARKS.md). Returns the count, or -(usage exit status) after
 * printing a usage error. */
int ts_bench_problems(const struct ts_bench_opts *o, struct ts_bench_problem *p, int max);

/* bench_program.c: the problem as a user's graph — inputs a [M,K] and b ([K,N],
 * or [N,K] with --transpose-b), with the epilogue an input bias [N] and
 * gelu(a·b + bias) (erf GELU, or tanh when gelu_tanh: cublasLt's) — all in
 * the dtype, compiled through the passes into one GEMM kernel with its
 * default schedule for vector_width (the CPU's f32 lanes; any for CUDA).
 * What is benchmarked is what `tessera run` would run. Fails (diag set) if
 * fusion does not give one kernel. */
enum ts_status ts_bench_gemm_program(const struct ts_bench_opts *o, const struct ts_bench_problem *pr, bool gelu_tanh,
                                     int vector_width, struct ts_program **out, struct ts_diag *d);
/* Frees a program from ts_bench_gemm_program (its graph owns it). */
void ts_bench_program_free(struct ts_program *p);

/* ---- verification ----------------------------------------------------------- */

struct ts_bench_verdict {
    bool ok;
    double max_err;   /* largest |got - want|; INFINITY for a NaN */
    int64_t row, col; /* where it is */
};

/* got against want (both f32, row-major [rows, cols]; the lower precision
 * results widened), within a bound for a K-term dot product in dtype (and
 * tf32 products when tf32): abs 4e-5·√K and rel 1e-4 for f32, rel 2e-3 for
 * tf32 and f16, 1.6e-2 for bf16 (an output rounding plus accumulation). */
void ts_bench_verify(const float *got, const float *want, int64_t rows, int64_t cols, int64_t k, enum ts_dtype dtype,
                     bool tf32, struct ts_bench_verdict *v);

/* ---- the report --------------------------------------------------------------- */

enum { TS_BENCH_MAX_PEERS = 2 };

/* One problem's result. Rates in FLOP/s (2·M·N·K over the median time);
 * NAN where not measured (no peer, or verification failed). */
struct ts_bench_row {
    struct ts_bench_problem pr;
    double tessera, peer[TS_BENCH_MAX_PEERS];
    struct ts_bench_verdict v;
    bool from_db; /* tessera's schedule came from --db */
};

struct ts_bench_report {
    /* Set by the caller before ts_bench_report_begin: */
    const struct ts_bench_opts *o;
    int npeers;                                /* 0 when no peer could be loaded */
    const char *peer_names[TS_BENCH_MAX_PEERS]; /* short column names: "OpenBLAS", "cuBLAS", "cublasLt" */
    double ceiling;                            /* FLOP/s the fraction column divides by; 0: no column */
    double unit;                               /* 1e9 (GFLOP/s, CPU) or 1e12 (TFLOP/s, GPU) */
    int threads;                               /* CPU threads (CSV), 0 on the GPU */
    /* Kept by the report: */
    FILE *csv;
    struct ts_bench_row *rows;
    int nrows, failed;
};

/* Prints the column header and opens --csv (writing its header line).
 * Returns 0, or 1 after printing an error (the CSV file cannot be written). */
int ts_bench_report_begin(struct ts_bench_report *r);
/* Prints one problem's line (and CSV row) as soon as it is measured. */
void ts_bench_report_row(struct ts_bench_report *r, const struct ts_bench_row *row);
/* Prints the geomean ratio per peer, draws --plot, closes the CSV, prints
 * the failure count and PASSED or FAILED last. Returns the exit status: 0
 * PASSED, 1 FAILED. Frees what the report kept. */
int ts_bench_report_end(struct ts_bench_report *r);

/* TESSERA_BENCH_BREAK=1: the test switch that perturbs tessera's result so
 * every problem must FAIL verification. */
bool ts_bench_break_requested(void);

/* ---- the targets ---------------------------------------------------------------- */

int ts_bench_gemm_cpu(const struct ts_bench_opts *o, const struct ts_bench_problem *probs, int np);
/* The GPU target: tessera's generated GEMM against cublasGemmEx and (with an
 * epilogue, or always when available) cublasLt, both loaded with dlopen.
 * Without a GPU or without cuBLAS it says which in one line and returns 1. */
int ts_bench_gemm_cuda(const struct ts_bench_opts *o, const struct ts_bench_problem *probs, int np);

/* bench_script.c: `tessera bench attention|model ARGS`: runs
 * benchmarks/bench_{attention,model}.py with python3 (or $TESSERA_PYTHON),
 * passing --tessera with this executable's path and ARGS; the script's exit
 * status is returned. The folder is $TESSERA_BENCHMARKS, else the source
 * tree's benchmarks/ this binary was built from. */
int ts_bench_script(const char *what, int argc, char **argv);

/* ---- bench_cublas.c: the GPU peers of bench_cuda.c --------------------------------- */

/* cuBLAS (cublasGemmEx; with the bias_gelu epilogue followed by a separate
 * bias + tanh-GELU kernel compiled by NVRTC) and cublasLt (cublasLtMatmul
 * with CUBLASLT_EPILOGUE_GELU_BIAS or _DEFAULT, its heuristic's algorithm, a
 * 32 MiB workspace), with the CUDA runtime under them, loaded with dlopen.
 * Row-major C = A·B is computed as the column-major Cᵀ = Bᵀ·Aᵀ. */
enum { TS_BENCH_CUBLAS, TS_BENCH_CUBLASLT }; /* peer numbers */
struct ts_bench_cublas;
/* Opens what can be opened for o on device (arch: the device's, for the
 * bias + GELU kernel). NULL with why when the CUDA runtime cannot be loaded
 * or used; a peer that cannot be is left out (ts_bench_cublas_has says why). */
struct ts_bench_cublas *ts_bench_cublas_open(const struct ts_bench_opts *o, int device, const char *arch, char *why,
                                             size_t size);
bool ts_bench_cublas_has(const struct ts_bench_cublas *c, int peer, const char **why);
int ts_bench_cublas_clock_khz(const struct ts_bench_cublas *c); /* 0: unknown */
/* One header line: the CUDA runtime's, cuBLAS's and cublasLt's versions. */
void ts_bench_cublas_describe(const struct ts_bench_cublas *c, FILE *f);
void ts_bench_cublas_close(struct ts_bench_cublas *c);
/* Uploads one problem's operands, in o's dtype (f16 and bf16 as their bits;
 * bias NULL without the epilogue); false with why. */
bool ts_bench_cublas_load(struct ts_bench_cublas *c, const struct ts_bench_problem *pr, const void *a, const void *b,
                          const void *bias, char *why, size_t size);
void ts_bench_cublas_unload(struct ts_bench_cublas *c);
/* Runs the peer once: C[M,N] widened to f32 in out; false with why. */
bool ts_bench_cublas_run(struct ts_bench_cublas *c, int peer, float *out, char *why, size_t size);
/* The median ms of repeats runs after a warm-up, each between CUDA events
 * with the L2 flushed before it (as ts_rt_cuda_session_time_each). */
bool ts_bench_cublas_time(struct ts_bench_cublas *c, int peer, int repeats, double *ms, char *why, size_t size);

#endif
