/* runtime.h — the one public header of runtime/: executes compiled plans
 * (arena, ordered launches) on the CPU thread pool (and, with issue #4, through
 * the CUDA driver API). It knows nothing of graphs or compilers and includes
 * only its own headers: a plan is plain data, the kernels are function
 * pointers, and errors come back as a status plus a one-line message. */
#ifndef TESSERA_RUNTIME_H
#define TESSERA_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Seconds from an arbitrary fixed point, from CLOCK_MONOTONIC. */
double ts_rt_now_seconds(void);

/* ---- plan.c: the plan format -------------------------------------------- */

/* The ABI of every compiled CPU kernel: args[i] is the base address of the
 * kernel's i-th operand buffer (inputs in order, then the output); the kernel
 * does tasks [begin, end) of its launch with 'scratch' (the launch's
 * scratch_bytes, 64-byte aligned, private to the calling worker). It returns 0,
 * or e > 0 for the launch's error e (an index out of range, a zero divisor). */
typedef int32_t (*ts_rt_kernel_fn)(void *const *args, int64_t begin, int64_t end, void *scratch);

enum ts_rt_buffer_kind {
    TS_RT_BUF_ARENA,   /* offset bytes into the session's arena */
    TS_RT_BUF_INPUT,   /* the caller's input 'index' */
    TS_RT_BUF_OUTPUT,  /* the caller's output 'index' */
    TS_RT_BUF_WEIGHT,  /* weight 'index' (the loader's pointer: mapped file or embedded) */
    TS_RT_BUF_CONST,   /* constant 'index' of the plan */
    TS_RT_BUF_KIND_COUNT
};

struct ts_rt_buffer {
    enum ts_rt_buffer_kind kind;
    int index;       /* INPUT, OUTPUT, WEIGHT, CONST: which one */
    int64_t offset;  /* ARENA: byte offset */
    int64_t nbytes;
};

/* A tensor the plan exchanges with its caller or loads: name, dtype name
 * ("f32" …, as in FORMAT.md) and shape, so that loaders can check files. */
struct ts_rt_tensor {
    const char *name;
    const char *dtype;
    int rank;
    int64_t dims[8];
    int64_t nbytes;
};

/* A TMA tensor map (sm_90 kernels, issue #8): the CUDA runtime encodes it
 * once per session with cuTensorMapEncodeTiled over the device memory of one
 * of the launch's operand buffers, and passes it by value (a 128-byte
 * CUtensorMap) ahead of the launch's other parameters. */
#define TS_RT_MAX_TMAPS 3
enum ts_rt_tmap_dtype { TS_RT_TMAP_F16 = 1, TS_RT_TMAP_BF16 = 2, TS_RT_TMAP_F32 = 3 };
struct ts_rt_tmap {
    int32_t arg;         /* which of the launch's args (index into args) it covers */
    int32_t dtype;       /* enum ts_rt_tmap_dtype */
    int32_t rank;        /* 2 or 3 */
    int32_t swizzle;     /* bytes: 0 (none), 32, 64 or 128 */
    int64_t offset;      /* bytes from the buffer's start to element (0, 0, 0); a multiple of 16 */
    uint64_t dims[3];    /* elements, innermost first */
    uint64_t strides[2]; /* bytes from one index of dims[1] (then dims[2]) to the next; multiples of 16 */
    uint32_t box[3];     /* elements one copy moves, innermost first (1..256 each) */
};

struct ts_rt_launch {
    int kernel;            /* index into the kernel function table */
    int64_t ntasks;        /* tasks [0, ntasks) are spread over the workers */
    int64_t scratch_bytes; /* per worker */
    int nargs;
    const int32_t *args;   /* buffer indices: inputs, then the output */
    const char *const *errors; /* messages for return values 1, 2, … */
    int nerrors;
    int threads;           /* CPU: at most this many workers take its tasks (0: all) */
    /* CUDA only (zero for CPU plans): launch geometry, dynamic shared memory,
     * and a device workspace private to this launch (zeroed once at session
     * start; the kernel leaves it zeroed). */
    uint32_t grid[3], block[3];
    uint32_t shared_bytes;
    int64_t workspace_bytes;
    /* CUDA only: tensor maps passed ahead of the kernel's other parameters
     * (0..TS_RT_MAX_TMAPS), and a persistent kernel whose grid[0] the
     * runtime lowers to the device's SM count (its blocks loop over tiles). */
    struct ts_rt_tmap tmaps[TS_RT_MAX_TMAPS];
    int ntmaps;
    bool persistent;
};

struct ts_rt_plan {
    int64_t arena_bytes;
    const struct ts_rt_buffer *buffers;
    int nbuffers;
    const struct ts_rt_launch *launches;
    int nlaunches;
    const char *const *kernel_names;  /* for messages and profiles */
    int nkernels;
    const struct ts_rt_tensor *inputs;
    int ninputs;
    const struct ts_rt_tensor *outputs;
    int noutputs;
    const struct ts_rt_tensor *weights;
    int nweights;
    const void *const *consts;        /* constant data, 'nconsts' of them */
    int nconsts;
};

/* session.c: checks a plan's data for any executor: tensor and buffer
 * tables, arena bounds, weights and constants present, launches naming
 * existing kernels and buffers. 0, or 1 with "plan: …" in err. Executors add
 * their own checks (CPU: kernel code; CUDA: symbols, geometry). */
int ts_rt_plan_check(const struct ts_rt_plan *plan, const void *const *weights, char *err,
                     size_t errsize);

/* ---- pool.c: the persistent thread pool --------------------------------- */

/* nthreads workers (the caller counts as one); 0 means one per online core. */
struct ts_rt_pool;
int ts_rt_pool_init(int nthreads, struct ts_rt_pool **out, char *err, size_t errsize);
int ts_rt_pool_threads(const struct ts_rt_pool *p);
/* Runs fn(ctx, worker, begin, end) over [0, ntasks) split into contiguous
 * ranges, one per worker (at most max_workers of them; 0: every worker), and
 * waits for all; returns the first nonzero result. */
typedef int32_t (*ts_rt_pool_fn)(void *ctx, int worker, int64_t begin, int64_t end);
int32_t ts_rt_pool_run(struct ts_rt_pool *p, int64_t ntasks, int max_workers, ts_rt_pool_fn fn, void *ctx);
/* Pins worker w (the caller is worker 0) to the w-th CPU the process may run
 * on, so that timings do not move between cores: 0, or 1 with why in err. */
int ts_rt_pool_pin(struct ts_rt_pool *p, char *err, size_t errsize);
void ts_rt_pool_free(struct ts_rt_pool *p);

/* ---- session.c: executing a plan ---------------------------------------- */

/* A plan bound to its kernels and weights, with its arena, pool and scratch.
 * The plan, kernel table and weight pointers must outlive the session. */
struct ts_rt_session;
/* Status of the functions below: 0 on success, else nonzero with a one-line
 * message in err (no "tessera: error:" prefix). */
int ts_rt_session_init(const struct ts_rt_plan *plan, const ts_rt_kernel_fn *kernels,
                       const void *const *weights, int nthreads, struct ts_rt_session **out,
                       char *err, size_t errsize);
/* Runs every launch in order on caller buffers (inputs[i] holds plan->inputs[i].nbytes). */
int ts_rt_session_run(struct ts_rt_session *s, const void *const *inputs, void *const *outputs,
                      char *err, size_t errsize);
int ts_rt_session_threads(const struct ts_rt_session *s);
/* ts_rt_pool_pin for the session's pool (the autotuner measures pinned). */
int ts_rt_session_pin(struct ts_rt_session *s, char *err, size_t errsize);
void ts_rt_session_free(struct ts_rt_session *s);

/* ---- cuda/: executing a plan on an NVIDIA GPU ---------------------------- */

/* The driver is libcuda.so.1 loaded with dlopen (or the file named by
 * $TESSERA_LIBCUDA), its entry points resolved through cuGetProcAddress: no
 * link-time dependency, so a build or artifact runs where no driver exists
 * and says so. Every function returns 0, or nonzero with a one-line message
 * ("no CUDA driver: libcuda.so.1 not found (…)", "no CUDA device: …"). */
struct ts_rt_cuda_info {
    char name[256];          /* "NVIDIA H100 80GB HBM3" */
    int ordinal;
    int cc_major, cc_minor;  /* compute capability */
    char arch[16];           /* what to compile for: "sm_90a" on 9.0, else "sm_XY" */
    int sm_count;
    int driver_version;      /* cuDriverGetVersion: 13000 = 13.0 */
    int64_t total_bytes;     /* device memory */
    int max_shared_optin;    /* shared memory per block with opt-in */
};
int ts_rt_cuda_probe(int ordinal, struct ts_rt_cuda_info *out, char *err, size_t errsize);

/* The compiled kernels of a plan: a cubin for one arch and PTX to JIT when
 * the cubin does not fit the device, and each kernel's function symbol.
 * Kernel ABI (codegen.h): params = the launch's tensor maps by value (if
 * any), one device pointer per launch arg, then the launch's workspace (0
 * when none), then a device int32 error word. */
struct ts_rt_cuda_image {
    const void *cubin;          /* may be NULL */
    size_t cubin_size;
    const char *ptx;            /* NUL-terminated; may be NULL if cubin is given */
    const char *const *symbols; /* plan->nkernels of them */
};

/* A plan on the GPU: primary context of device 'ordinal', one device
 * allocation holding the arena, weights (uploaded once), constants,
 * workspaces, inputs, outputs and the error word; the whole plan captured
 * once as a CUDA graph and replayed by every run. */
struct ts_rt_cuda_session;
int ts_rt_cuda_session_init(const struct ts_rt_plan *plan, const struct ts_rt_cuda_image *image,
                            const void *const *weights, int ordinal,
                            struct ts_rt_cuda_session **out, char *err, size_t errsize);
/* Copies inputs in, replays the graph, copies outputs back, then reports
 * the first kernel error raised (naming the launch's kernel and message). */
int ts_rt_cuda_session_run(struct ts_rt_cuda_session *s, const void *const *inputs,
                           void *const *outputs, char *err, size_t errsize);
/* Replays the graph on the inputs already on the device 'repeats' times
 * after a warm-up, timing each with CUDA events; *ms gets the median. */
int ts_rt_cuda_session_time(struct ts_rt_cuda_session *s, int repeats, double *ms, char *err,
                            size_t errsize);
const struct ts_rt_cuda_info *ts_rt_cuda_session_info(const struct ts_rt_cuda_session *s);
bool ts_rt_cuda_session_used_ptx(const struct ts_rt_cuda_session *s); /* the cubin did not fit */
void ts_rt_cuda_session_free(struct ts_rt_cuda_session *s);

/* For the autotuner, which times one kernel at a time: 'repeats' replays of
 * the graph on the inputs already on the device (no warm-up: run first),
 * each timed alone between CUDA events, ms[i] getting replay i's
 * milliseconds. With flush_l2, a device buffer of twice the GPU's L2
 * (CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE; 256 MiB when the driver does not say),
 * allocated on first use and kept by the session, is overwritten with
 * cuMemsetD8Async before each replay, outside the timed interval: every
 * replay then finds its operands in device memory, not in an L2 the
 * previous replay warmed, as a kernel inside a model does. */
int ts_rt_cuda_session_time_each(struct ts_rt_cuda_session *s, int repeats, bool flush_l2, double *ms, char *err,
                                 size_t errsize);

/* Retains device ordinal's primary context until the process ends, so that
 * sessions made and freed one after another (one per candidate, in the
 * autotuner's measuring process) share it instead of each creating it anew
 * (a tenth of a second or more: the last release destroys it). */
int ts_rt_cuda_keep_context(int ordinal, char *err, size_t errsize);

/* What the calling thread's last ts_rt_cuda_session_* call ran into, so that
 * a caller can sort failures without reading messages. */
enum ts_rt_cuda_fault {
    TS_RT_CUDA_FAULT_NONE,      /* it succeeded */
    TS_RT_CUDA_FAULT_KERNEL,    /* a kernel raised its error word (an index out of range, …) */
    TS_RT_CUDA_FAULT_RESOURCES, /* the GPU refused the code or its launch: module load, shared memory,
                                   registers or threads per block, device memory */
    TS_RT_CUDA_FAULT_LOST,      /* a sticky error (illegal address, trap, launch failure, …): the context,
                                   and the driver in this process, fail every later call */
    TS_RT_CUDA_FAULT_OTHER,     /* anything else: a bad plan or argument, an unexpected driver error */
};
enum ts_rt_cuda_fault ts_rt_cuda_last_fault(void);

/* Whether this process has loaded and initialized the driver (cuInit). The
 * driver does not survive fork(): a process that has initialized it cannot
 * use the GPU from a forked child, so code that forks GPU workers (the
 * autotuner) checks this first and leaves every driver call to the child. */
bool ts_rt_cuda_driver_loaded(void);

#endif
