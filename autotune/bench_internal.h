/* bench_internal.h — private to autotune/'s measuring code: the measuring
 * setup bench.c builds once per task (subprogram, inputs, reference, fault
 * list) and the two backends that time candidates on it, measure_cpu.c
 * (fork per candidate) and measure_cuda.c (a measuring child process). */
#ifndef TESSERA_AUTOTUNE_BENCH_INTERNAL_H
#define TESSERA_AUTOTUNE_BENCH_INTERNAL_H

#include "autotune/autotune.h"

/* What $TESSERA_TUNE_FAULT asks a candidate to do instead of measuring. */
enum tsb_fault {
    TSB_FAULT_NONE,
    TSB_FAULT_CRASH,  /* the measuring process raises SIGSEGV → TS_TUNE_CRASH */
    TSB_FAULT_HANG,   /* it sleeps forever; the watchdog kills it → TS_TUNE_HANG */
    TSB_FAULT_WRONG,  /* one output element is perturbed before verifying → TS_TUNE_WRONG */
    TSB_FAULT_ERROR,  /* it reports a run error → TS_TUNE_ERROR */
    TSB_FAULT_EXIT,   /* it exits with TSB_FAULT_EXIT_STATUS, no result sent → TS_TUNE_ERROR */
    TSB_FAULT_COUNT
};
#define TSB_FAULT_EXIT_STATUS 7
#define TSB_MAX_FAULTS 32

struct ts_tune_bench {
    struct ts_program *sub;          /* the one-kernel program (ts_tune_subprogram); sub->kernels[0]
                                        carries the schedule of the candidate being measured */
    int kernel;                      /* its kernel's index in the original program */
    struct ts_tune_target target;
    struct ts_tune_bench_opts opts;  /* defaults resolved (timeout_s, min_time_s, min_runs, max_runs);
                                        cpu and cache_dir point at the copies below (or NULL) */
    char cpu_name[128];
    char cache_dir[1024];
    /* Host tensors, one per graph input of sub (sub->graph->inputs order),
     * random and non-zero, owned; ref is the one output computed by
     * ts_program_run_ref on them. */
    struct ts_tensor *inputs;
    int ninputs;
    struct ts_tensor ref;
    double rtol, atol;               /* verification tolerances for ref's dtype (tsb_verify) */
    /* CPU: ncopies sets of the inputs for rotation, each 64-byte aligned and
     * owned (measure_cpu.c): copy c of input i is copies[c * ninputs + i]. */
    void **copies;
    int ncopies;
    /* Fault injection, parsed once at init: fault_at[j] happens to the
     * candidate with ordinal fault_n[j]. */
    enum tsb_fault fault_at[TSB_MAX_FAULTS];
    int fault_n[TSB_MAX_FAULTS];
    int nfaults;
    char pin_error[128];             /* CPU: why pinning failed the first time it did ("": pinned) */
    int counter;                     /* candidates handed to ts_tune_bench_run so far */
    void *cuda;                      /* measure_cuda.c's state (NULL until tsb_cuda_init) */
};

/* ---- bench.c: shared by both backends ------------------------------------ */

/* Puts the target's fields of c into b->sub->kernels[0].sched (the others
 * keep the original kernel's). */
void tsb_apply(struct ts_tune_bench *b, const union ts_sched *c);
/* The tolerances tsb_verify uses for kernel k with an output of dtype out on
 * t: `run --check`'s per dtype (f32 1e-4, f16 1e-2, bf16 5e-2; integers and
 * bools 0: exact), times sqrt(reduction length / 64) past 64; f32 GEMM and
 * attention on tf32 tensor cores (a CUDA target without strict_f32) 3e-2. */
void tsb_tolerances(const struct ts_kernel *k, enum ts_dtype out, const struct ts_tune_target *t, double *rtol,
                    double *atol);
/* Compares out (ref's dtype and element count, raw, row-major) with the
 * reference: floats within atol + rtol·|ref| (NaN matches NaN, inf itself),
 * integers and bools exactly. On a mismatch returns false with why set to
 * "N elements beyond tolerance (rtol R, atol A); worst at element I: got G,
 * reference W". */
bool tsb_verify(const struct ts_tune_bench *b, const void *out, char *why, size_t size);
/* For TSB_FAULT_WRONG: changes one element of out (raw, as for tsb_verify)
 * far beyond the tolerance. */
void tsb_corrupt(const struct ts_tune_bench *b, void *out);
/* Sets r to a failure: status s, error formatted, times INFINITY, count 0. */
void tsb_fail(struct ts_tune_result *r, enum ts_tune_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* How a measuring process that sent no result ended, from its waitpid
 * status: TS_TUNE_CRASH when a signal killed it ("the measuring process died
 * of signal N (NAME)"), else TS_TUNE_ERROR ("the measuring process exited
 * with status N without a result"); the message in buf. Both backends. */
enum ts_tune_status tsb_describe_end(int status, char *buf, size_t size);
/* Sets r's times from n measured run times (sorted in place): min, median, max. */
void tsb_times(struct ts_tune_result *r, double *times, int n);

/* ---- the backends: called by bench.c ------------------------------------------
 * init after the bench's inputs and reference exist; run measures n legal
 * candidates (bench.c already applied ts_tune_check and counted them),
 * faults[i] being what candidate i must do instead (usually TSB_FAULT_NONE),
 * writing every results[i]; free releases what init made (called after a
 * failed init too). */
enum ts_status tsb_cpu_init(struct ts_tune_bench *b, struct ts_diag *d);
void tsb_cpu_run(struct ts_tune_bench *b, const union ts_sched *c, const enum tsb_fault *faults, int n,
                 struct ts_tune_result *results);
void tsb_cpu_free(struct ts_tune_bench *b);

enum ts_status tsb_cuda_init(struct ts_tune_bench *b, struct ts_diag *d);
void tsb_cuda_run(struct ts_tune_bench *b, const union ts_sched *c, const enum tsb_fault *faults, int n,
                  struct ts_tune_result *results);
void tsb_cuda_free(struct ts_tune_bench *b);

#endif
