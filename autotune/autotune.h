/* autotune.h — the one public header of autotune/: search spaces, search
 * strategies, measurement and the tuning database (issue #5), and what
 * measurement stands on: turning a kernel program into a runtime plan and
 * running it compiled for the CPU. */
#ifndef TESSERA_AUTOTUNE_H
#define TESSERA_AUTOTUNE_H

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "runtime/runtime.h"

/* ---- target.c: the machine tuning records belong to ---------------------- */

/* A record is only used on the target it was measured on. The fields are
 * read off the machine; key joins them into the one line compared when a
 * database is read ("cpu|AMD EPYC 9R45|znver5|f=1a2b3c4d5e6f7a8b|512|t2",
 * "cuda|NVIDIA H100 80GB HBM3|sm_90a|132sm|drv13000|nvrtc13.0|tf32"). */
struct ts_tune_target {
    enum ts_target kind;    /* TS_TARGET_CPU or TS_TARGET_CUDA */
    char device[256];       /* CPU model ("model name" of /proc/cpuinfo) or GPU name */
    char arch[64];          /* LLVM CPU name ("znver5") or GPU arch ("sm_90a") */
    char features[17];      /* CPU: FNV-1a 64 of the LLVM feature string, 16 hex digits; GPU: "" */
    int vector_bits;        /* CPU: 128, 256, 512 */
    int vector_regs;        /* CPU: 16 (AVX2) or 32 (AVX-512) vector registers */
    int threads;            /* CPU: the session's workers */
    int64_t l1_bytes, l2_bytes, l3_bytes;  /* CPU data caches per core (L3: shared); 0 if unknown */
    int sm_count;           /* GPU */
    int driver_version;     /* GPU: 13000 = 13.0 */
    char nvrtc[16];         /* GPU: "13.0" */
    bool strict_f32;        /* GPU: f32 products without tf32 (a different kernel) */
    char key[640];
};
/* The CPU target: cpu as ts_cpu_info_init chose it, threads the workers
 * (0: one per online core, resolved here). Caches from sysconf, else
 * /sys/devices/system/cpu/cpu0/cache. */
enum ts_status ts_tune_target_cpu(const struct ts_cpu_info *cpu, int threads, struct ts_tune_target *out,
                                  struct ts_diag *d);
/* The GPU target from a probed device, the arch compiled for and NVRTC's version. */
void ts_tune_target_cuda(const struct ts_rt_cuda_info *gpu, const struct ts_cuda_arch *arch, int nvrtc_major,
                         int nvrtc_minor, bool strict_f32, struct ts_tune_target *out);
/* The GPU as the tuner must see it: ts_rt_cuda_probe run in a short-lived
 * child process, so that the tuning process never initializes the driver
 * itself (a process that has cannot use the GPU from the measuring child it
 * forks). Build the target of `tune --target cuda` from this, not from
 * ts_rt_cuda_probe. */
enum ts_status ts_tune_cuda_probe(int device, struct ts_rt_cuda_info *out, struct ts_diag *d);
/* Fills t->key from the other fields. */
void ts_tune_target_key(struct ts_tune_target *t);
/* 64-bit FNV-1a of n bytes, continuing from h (start with TS_FNV64_INIT). */
#define TS_FNV64_INIT 0xcbf29ce484222325ull
uint64_t ts_fnv64(uint64_t h, const void *data, size_t n);

/* ---- task.c: what is tuned ---------------------------------------------- */

/* A tuning task: what determines a kernel's code apart from its schedule:
 * kind, iteration space, reduction length, every operand's dtype, offset,
 * strides and which operands share a buffer, the expression, the row op and
 * the attention parameters (not names, buffer numbers or the schedule).
 * Identical layers are one task. */
struct ts_tune_task {
    enum ts_kernel_kind kind;
    char hash[17];          /* FNV-1a 64 of the canonical description, 16 hex digits */
    char signature[256];    /* readable: "gemm f32 16x2304x768 B[N,K] +add,gelu" */
    char shape[64];         /* short, for tables: "16x2304x768" */
    int kernel;             /* the program's first kernel with this task */
    int count;              /* the program's kernels with this task */
    double flops;           /* arithmetic operations (GEMM 2·M·N·K·batch, attention 4·b·h·sq·sk·d …) */
    double bytes;           /* compulsory traffic: each operand element read or written once */
};
void ts_tune_task_of(const struct ts_program *p, int kernel, struct ts_tune_task *out);
/* The distinct tasks of a program in first-use order (malloc'd; free()).
 * Kernels without work (ts_kernel_ntasks 0) are left out. */
enum ts_status ts_tune_tasks(const struct ts_program *p, struct ts_tune_task **out, int *n, struct ts_diag *d);

/* ---- sched.c: a schedule's fields on one target --------------------------- */

/* Only the fields the target's code generator reads: CPU, the top-level
 * fields (gemm mc kc nc mr nr threads …); GPU, the 'gpu' ones. */
/* Readable: CPU gemm "mc 516 kc 256 nc 384 mr 6 nr 32 t0"; GPU gemm
 * "128x128x32 w64x64 s3 k1 z8 mma_f16"; others "vw 16 rpt 64 t1" … */
void ts_tune_sched_format(enum ts_kernel_kind kind, enum ts_target t, const union ts_sched *s, char *buf,
                          size_t size);
/* As a JSON object: {"mc":516,"kc":256,…} (GPU instr as its name). */
void ts_tune_sched_to_json(enum ts_kernel_kind kind, enum ts_target t, const union ts_sched *s, char *buf,
                           size_t size);
/* Parses that object's text into the target's fields of *s (other fields
 * zero); false with why in err when a field is missing, not an integer in
 * range, or unknown. */
bool ts_tune_sched_from_json(enum ts_kernel_kind kind, enum ts_target t, const char *json, union ts_sched *s,
                             char *err, size_t errsize);
bool ts_tune_sched_equal(enum ts_kernel_kind kind, enum ts_target t, const union ts_sched *a,
                         const union ts_sched *b);
/* Copies the target's fields of src into dst, leaving dst's others alone. */
void ts_tune_sched_copy(enum ts_kernel_kind kind, enum ts_target t, union ts_sched *dst, const union ts_sched *src);

/* ---- check.c: legality ----------------------------------------------------- */

/* Whether k's schedule (its target fields) is legal on t. CPU: blocks
 * positive, mc a multiple of mr and nc of nr, nr a multiple of the vector
 * width (t->vector_bits / 32), the micro-kernel's mr·(nr/vw) accumulators +
 * nr/vw B vectors + 1 broadcast within t->vector_regs, mr ≤ 16, nr/vw ≤ 4,
 * per-worker scratch ≤ 64 MiB, 0 ≤ threads ≤ t->threads, vector widths
 * 1–64 and a power of two, rows_per_task ≥ 1. GPU: ts_cuda_sched_check for
 * t->arch. TS_ERR_UNSUPPORTED naming the kernel and the rule otherwise. */
enum ts_status ts_tune_check(const struct ts_kernel *k, const struct ts_tune_target *t, struct ts_diag *d);

/* ---- space.c: search spaces ------------------------------------------------ */

/* A kernel's legal candidate schedules on a target, default first. */
struct ts_tune_space {
    union ts_sched *cands;  /* malloc'd; cands[0] is the default schedule */
    int n;
    int rejected;           /* combinations ts_tune_check refused */
    char first_reject[256]; /* the first refusal's message, for reports */
};
/* The kind's dimensions, each value list fitted to the kernel's shape,
 * every combination checked with ts_tune_check; deterministic order.
 *  CPU  gemm: mr×nr register blocks, kc, mc, nc, threads (1 or all);
 *       pointwise/rowwise: vector width, rows per task, threads;
 *       attention: block_q, block_k, threads.
 *  GPU  gemm: bm×bn, bk, wm×wn, stages, split_k, swizzle, instr;
 *       pointwise/rowwise: threads, vec; attention: block_q, block_k, warps, stages.
 * The default is ts_sched_default_cpu (threads 0), or ts_cuda_sched_default
 * for t->arch and t->strict_f32. */
enum ts_status ts_tune_space_build(const struct ts_kernel *k, const struct ts_tune_target *t,
                                   struct ts_tune_space *out, struct ts_diag *d);
void ts_tune_space_free(struct ts_tune_space *s);

/* ---- estimate.c: the analytical model ------------------------------------- */

/* What the machine can do, measured: the ceilings of the roofline. */
struct ts_tune_ceilings {
    double ghz;          /* CPU clock, measured with a dependent add chain */
    double gflops;       /* f32 peak of all t->threads workers: ghz · 2 FMA pipes · 2 · vector lanes */
    double gbps;         /* memory copy bandwidth (CPU: one thread, a 64 MiB copy; GPU: from the device) */
    double launch_s;     /* fixed cost per kernel launch (CPU: waking the pool) */
};
enum ts_status ts_tune_ceilings_cpu(const struct ts_tune_target *t, struct ts_tune_ceilings *c, struct ts_diag *d);
/* CPU GHz measured over about 20 ms (also what bench_gemm prints). */
double ts_tune_measure_ghz(void);
/* peak_cpu.c: f32 FLOP/s the pool's workers (at most max_workers; 0: all)
 * reach together running independent FMA chains of vector_bits (512:
 * AVX-512, else AVX2+FMA) at once: the measured compute ceiling. 0 where the
 * CPU lacks those vectors. */
struct ts_rt_pool;
double ts_tune_measure_cpu_peak(int vector_bits, struct ts_rt_pool *pool, int max_workers);
/* Predicted seconds of k with schedule s on t: max(flops / effective peak,
 * bytes / bandwidth) + launch cost, where the effective peak accounts for
 * the schedule: micro-kernel occupancy of the FMA pipes, edge waste of
 * partial tiles, packing traffic, cache fit of the blocks, and load balance
 * of tasks over threads. Only the ranking matters; it prunes the search. */
double ts_tune_estimate(const struct ts_kernel *k, const union ts_sched *s, const struct ts_tune_target *t,
                        const struct ts_tune_ceilings *c);

/* ---- search.c: strategies --------------------------------------------------- */

struct ts_tune_search_opts {
    int trials;          /* candidates measured at most, known ones included (≥ 1) */
    double budget_s;     /* seconds of measuring for this task at most (0: no limit) */
    uint64_t seed;       /* same seed, same results: same choices */
    int patience;        /* stop after this many measurements without a 1% gain (0: max(16, trials/2)) */
};
/* Measures candidates idx[0..n) of the space, writing seconds (INFINITY
 * when it failed) to seconds[0..n). Called with batches of up to 8. */
typedef void (*ts_tune_measure_fn)(void *ctx, const int *idx, int n, double *seconds);
struct ts_tune_search_result {
    int best;            /* index into the space, or -1 if every candidate failed */
    double best_s;
    int measured;        /* new measurements made */
    int known;           /* earlier measurements used (resume) */
    int failed;
    bool exhaustive;     /* the whole space fitted in the trials */
    bool early_stop;     /* stopped by patience */
    bool out_of_budget;  /* stopped by budget_s */
};
/* Exhaustive when space->n ≤ trials; otherwise the default, the best
 * candidates by estimate (when given: estimate[i] seconds per candidate),
 * random samples, then generations of mutations of the best measured
 * (one dimension moved to a neighbouring value), ranked by estimate,
 * until trials, budget or patience run out. known[i] (may be NULL: none)
 * is an earlier measurement (NAN: none; INFINITY: failed) counted as
 * measured without calling measure. now() gives seconds for the budget. */
void ts_tune_search(const struct ts_tune_space *space, const double *estimate, const double *known,
                    const struct ts_tune_search_opts *o, ts_tune_measure_fn measure, void *ctx,
                    double (*now)(void), struct ts_tune_search_result *r);

/* ---- subprogram.c, bench.c: measuring candidates ----------------------------- */

/* Kernel 'kernel' of p alone, as a program of its own: every distinct buffer
 * it reads becomes a graph input of the same dtype and size, what it writes
 * the one output (never aliased with an input), with the same index maps,
 * under a graph of its own in a fresh arena (ts_graph_free(out->graph)
 * frees it), so that the executors and ts_program_run_ref take it as any
 * program. Weight data is not copied: inputs are filled by the bench. */
enum ts_status ts_tune_subprogram(const struct ts_program *p, int kernel, struct ts_program **out,
                                  struct ts_diag *d);

/* gemm_program.c: C[M,N] = A[M,K]·B (B stored [K,N], or [N,K] when
 * trans_b) in f32 as a one-kernel program with graph inputs a, b and output
 * c, the kernel on its default CPU schedule for vector_width lanes: what the
 * GEMM benchmarks tune and time. ts_graph_free((*out)->graph) frees it. */
enum ts_status ts_tune_gemm_program(int64_t m, int64_t n, int64_t k, bool trans_b, int vector_width,
                                    struct ts_program **out, struct ts_diag *d);

enum ts_tune_status {
    TS_TUNE_OK,
    TS_TUNE_ILLEGAL,     /* refused by ts_tune_check before compiling */
    TS_TUNE_COMPILE,     /* code generation or compilation failed */
    TS_TUNE_RESOURCES,   /* too many registers, spills, shared memory, launch refused */
    TS_TUNE_CRASH,       /* the measuring process died (signal) */
    TS_TUNE_HANG,        /* past the watchdog's timeout: killed */
    TS_TUNE_WRONG,       /* its first run disagreed with the reference */
    TS_TUNE_ERROR,       /* it ran and reported an error, or its measuring process exited without a result */
    TS_TUNE_STATUS_COUNT
};
const char *ts_tune_status_name(enum ts_tune_status s); /* "ok", "illegal", "compile", … */
bool ts_tune_status_from_name(const char *name, enum ts_tune_status *out);

struct ts_tune_result {
    enum ts_tune_status status;
    char error[256];     /* why it failed ("" when ok) */
    double median_s, min_s, max_s;  /* per run of the kernel */
    int count;           /* timed runs */
    double compile_s;
};

struct ts_tune_bench_opts {
    const char *cpu;       /* CPU: as ts_cpu_info_init; NULL host */
    double timeout_s;      /* watchdog per candidate (compile + check + timing); 0: 60 */
    double min_time_s;     /* time each candidate at least this long (0: 0.05 s) … */
    int min_runs, max_runs;/* … with at least min_runs (0: 5) and at most max_runs (0: 1000) timed runs */
    uint64_t seed;         /* input data */
    int device;            /* GPU ordinal */
    const char *cache_dir; /* GPU: NVRTC cache */
};
/* One task's measuring setup: its one-kernel program, random non-zero
 * inputs (integers inside the index ranges the kernel gathers from), the
 * reference output (ts_program_run_ref, computed once), and for the CPU
 * copies of the inputs rotated between runs so that together they exceed
 * twice the workers' private L2 caches (each run finds its data in L3 or
 * memory, as inside a model), for the GPU buffers rotated past the L2. Each
 * candidate is compiled with its schedule, run once and compared with the
 * reference (the tolerances of `run --check`), then timed: warm-up, then
 * runs until min_time_s and min_runs, the median kept.
 *  CPU: each candidate in a child process (fork) with the pool's threads
 *       pinned; a crash or a child past timeout_s (killed) is recorded
 *       and the next candidate goes on.
 *  GPU: NVRTC compiles the batch on host threads while a measuring child
 *       process (the only one that touches the driver, so a crashed
 *       context costs one restart) times the earlier ones with CUDA events.
 * Fault injection for tests: $TESSERA_TUNE_FAULT = "crash@N", "hang@N",
 * "wrong@N", "error@N" or "exit@N" (the measuring process exits without a
 * result; comma-separated) makes the bench's N-th
 * candidate (from 1) fail that way. */
struct ts_tune_bench;
enum ts_status ts_tune_bench_init(const struct ts_program *p, int kernel, const struct ts_tune_target *t,
                                  const struct ts_tune_bench_opts *o, struct ts_tune_bench **out,
                                  struct ts_diag *d);
/* Measures n candidates (results[i] for cands[i]); never fails as a whole. */
void ts_tune_bench_run(struct ts_tune_bench *b, const union ts_sched *cands, int n, struct ts_tune_result *results);
void ts_tune_bench_free(struct ts_tune_bench *b);

/* ---- db.c: the tuning database ------------------------------------------- */

/* One measured candidate: one JSON line (schema: docs/TUNING.md). */
struct ts_tune_record {
    enum ts_kernel_kind kind;
    char task[17];            /* ts_tune_task.hash */
    char signature[256];
    struct ts_tune_target target;  /* read back: every field the line carries, key recomputed */
    union ts_sched sched;     /* the target's fields */
    bool is_default;          /* the kernel's default schedule (the speed-up's baseline) */
    enum ts_tune_status status;
    char error[256];
    double median_s, min_s, max_s;
    int count;
    double flops;             /* the task's, so tables can show GFLOP/s */
    char version[32];         /* tessera's */
    char time[32];            /* UTC, ISO 8601: "2026-11-23T12:00:00Z" */
};
struct ts_tune_db {
    struct ts_tune_record *recs;  /* malloc'd, in file order */
    int n, cap;
    int skipped;                  /* lines skipped with a warning */
    int foreign;                  /* records of other targets (skipped when filtered) */
};
/* Reads a JSON-lines database. A missing file is an empty database when
 * missing_ok. A torn last line (no newline: an interrupted write), a line
 * that is not a JSON object, a record with a missing or bad field, or a
 * record of another target (when target is not NULL) is skipped with a
 * warning "tessera: warning: FILE:LINE: skipped: WHY" on warn (NULL:
 * silent; after 10 warnings one line says how many more). An unreadable
 * file is an error. */
enum ts_status ts_tune_db_load(const char *path, const struct ts_tune_target *target, bool missing_ok,
                               FILE *warn, struct ts_tune_db *db, struct ts_diag *d);
/* Appends one record as one line with a single write(2) on an O_APPEND
 * descriptor (a newline first if the file ends in a torn line), so
 * concurrent tuners and crashes never interleave or lose earlier lines. */
enum ts_status ts_tune_db_append(const char *path, const struct ts_tune_record *r, struct ts_diag *d);
/* The record line for r (no newline), malloc'd. */
char *ts_tune_record_to_json(const struct ts_tune_record *r);
/* The fastest OK record of task on the target key, or NULL. */
const struct ts_tune_record *ts_tune_db_best(const struct ts_tune_db *db, const char *task, const char *target_key);
/* The record of this exact schedule (any status), the latest, or NULL. */
const struct ts_tune_record *ts_tune_db_find(const struct ts_tune_db *db, const char *task, const char *target_key,
                                             const union ts_sched *s);
void ts_tune_db_add(struct ts_tune_db *db, const struct ts_tune_record *r);  /* in memory */
void ts_tune_db_free(struct ts_tune_db *db);

/* ---- apply.c, tune.c: using and making records ------------------------------ */

/* Gives every kernel of p the fastest record of its task on t whose
 * schedule is legal for it now (ts_tune_check): an illegal record (older
 * rules, a hand edit) is passed over for the next fastest. Kernels with no
 * such record keep their default. Marks applied kernels 'tuned'; *applied
 * counts them. */
enum ts_status ts_tune_apply(struct ts_program *p, const struct ts_tune_db *db, const struct ts_tune_target *t,
                             int *applied, struct ts_diag *d);

struct ts_tune_opts {
    int trials;            /* measured candidates per task at most (0: 64) */
    double budget_s;       /* seconds for the whole program (0: no limit): each task gets an
                              equal share of what is left when it starts */
    uint64_t seed;
    int patience;          /* ts_tune_search_opts' (0: its default) */
    int shard, nshards;    /* tune only tasks t with t % nshards == shard (nshards 0: all) */
    struct ts_tune_bench_opts bench;
};

/* What happened to one task. */
struct ts_tune_report {
    struct ts_tune_task task;
    int space;             /* legal candidates */
    int rejected;          /* illegal combinations */
    int measured, known, failed;
    double default_s, best_s;  /* INFINITY when not measured or failed */
    union ts_sched best;
    bool early_stop, out_of_budget, exhaustive, skipped_shard;
    double seconds;        /* wall time spent on it */
    char error[256];       /* when the task could not be tuned at all (bench setup failed) */
};

/* Progress after each measurement (and at each task's start). */
struct ts_tune_progress {
    int task, ntasks;      /* 0-based task number, tasks in this shard */
    const struct ts_tune_report *report;  /* the current task so far */
    int trials;            /* this task's trial limit */
    double elapsed_s;      /* since ts_tune_program started */
};
typedef void (*ts_tune_progress_fn)(void *ctx, const struct ts_tune_progress *p);

/* Tunes every task of p on t: space, estimates, search, measurement, and
 * one record appended to db_path per measured candidate as soon as it is
 * measured (an interrupted run loses nothing). Candidates the database
 * already holds for this target are not measured again: a second run
 * resumes where the first stopped. *reports (malloc'd, one per task of the
 * program, in task order) says what happened. Fails only when the database
 * cannot be read or written. */
enum ts_status ts_tune_program(const struct ts_program *p, const struct ts_tune_target *t, const char *db_path,
                               const struct ts_tune_opts *o, ts_tune_progress_fn progress, void *ctx,
                               struct ts_tune_report **reports, int *nreports, FILE *warn, struct ts_diag *d);

/* ---- plan.c: kernel program → runtime plan ------------------------------ */

/* Fills a runtime plan (runtime.h) for a planned program, allocated in the
 * graph's arena: one launch per kernel (kernel i is function i), buffers as
 * the memory plan placed them, weights and constants by index. weights_out
 * (optional) gets the weight data pointers in plan order. */
enum ts_status ts_plan_from_program(const struct ts_program *p, struct ts_rt_plan *plan,
                                    const void ***weights_out, struct ts_diag *d);

/* ---- exec_tensors.c: running an executable on tensors --------------------- */

/* A backend's run on raw buffers in plan order (inputs, then outputs). */
typedef enum ts_status (*ts_exec_raw_fn)(void *ctx, const void *const *inputs, void *const *outputs,
                                         struct ts_diag *d);
/* Checks inputs against g's inputs, allocates outputs (release with
 * ts_tensor_release) and calls run on their data; on failure no output is
 * left allocated. */
enum ts_status ts_exec_run_tensors(const struct ts_graph *g, const struct ts_tensor *inputs,
                                   struct ts_tensor *outputs, ts_exec_raw_fn run, void *ctx,
                                   struct ts_diag *d);

/* ---- exec_cpu.c: a program compiled and bound for the CPU ---------------- */

struct ts_cpu_exec_opts {
    const char *cpu;   /* ts_cpu_info_init's choice: NULL = host */
    int threads;       /* 0: one per core */
    FILE *dump_ir;     /* print the optimized LLVM module, or NULL */
};

/* Compiles the program (LLVM, O3, JIT), builds its plan and a runtime session
 * with its weights used in place. The program must outlive it. */
struct ts_cpu_exec;
enum ts_status ts_cpu_exec_init(const struct ts_program *p, const struct ts_cpu_exec_opts *o,
                                struct ts_cpu_exec **out, struct ts_diag *d);
/* Runs on inputs (checked against the graph's inputs) into outputs it
 * allocates (release with ts_tensor_release), as ts_interp_run does. */
enum ts_status ts_cpu_exec_run(struct ts_cpu_exec *e, const struct ts_tensor *inputs,
                               struct ts_tensor *outputs, struct ts_diag *d);
/* Runs on raw caller buffers in plan order (no checks, no allocation): for timing. */
enum ts_status ts_cpu_exec_run_raw(struct ts_cpu_exec *e, const void *const *inputs,
                                   void *const *outputs, struct ts_diag *d);
/* Pins the session's workers one to a CPU (ts_rt_session_pin), so that
 * timings do not move between cores; TS_ERR_RUNTIME with why when the
 * system refuses (a container's CPU set), the session still usable. */
enum ts_status ts_cpu_exec_pin(struct ts_cpu_exec *e, struct ts_diag *d);
double ts_cpu_exec_compile_seconds(const struct ts_cpu_exec *e); /* codegen + JIT */
int ts_cpu_exec_threads(const struct ts_cpu_exec *e);
const struct ts_cpu_code *ts_cpu_exec_code(const struct ts_cpu_exec *e);
void ts_cpu_exec_free(struct ts_cpu_exec *e);

/* ---- exec_cuda.c: a program compiled and bound for the GPU ---------------- */

/* Copies each kernel's CUDA launch geometry (ts_cuda_code_launch) into a plan
 * built by ts_plan_from_program for the same program. */
void ts_plan_set_cuda_launches(struct ts_rt_plan *plan, const struct ts_cuda_code *c);

struct ts_cuda_exec_opts {
    const char *arch;       /* NULL: the GPU's own (ts_rt_cuda_info.arch) */
    int device;             /* CUDA ordinal */
    bool strict_f32;        /* no tf32 */
    const char *cache_dir;  /* ts_cuda_opts' */
    bool no_cache;
    FILE *dump_source;      /* print the CUDA C, or NULL */
};
/* Probes the GPU (a clear error when there is no driver or device), renders
 * and compiles the program for its arch (NVRTC, compile cache), builds the
 * plan and a CUDA session with the weights uploaded once. */
struct ts_cuda_exec;
enum ts_status ts_cuda_exec_init(const struct ts_program *p, const struct ts_cuda_exec_opts *o,
                                 struct ts_cuda_exec **out, struct ts_diag *d);
enum ts_status ts_cuda_exec_run(struct ts_cuda_exec *e, const struct ts_tensor *inputs,
                                struct ts_tensor *outputs, struct ts_diag *d);
/* Runs on raw host buffers in graph order (no checks, no allocation): each
 * input is copied to the device, the graph replayed, each output copied back,
 * so an output may be the same host memory as an input. */
enum ts_status ts_cuda_exec_run_raw(struct ts_cuda_exec *e, const void *const *inputs, void *const *outputs,
                                    struct ts_diag *d);
/* Times graph replays on the inputs of the last run: the median in ms. */
enum ts_status ts_cuda_exec_time(struct ts_cuda_exec *e, int repeats, double *ms, struct ts_diag *d);
double ts_cuda_exec_compile_seconds(const struct ts_cuda_exec *e);  /* codegen + NVRTC */
const struct ts_cuda_code *ts_cuda_exec_code(const struct ts_cuda_exec *e);
const struct ts_rt_cuda_info *ts_cuda_exec_device(const struct ts_cuda_exec *e);
void ts_cuda_exec_free(struct ts_cuda_exec *e);

#endif
