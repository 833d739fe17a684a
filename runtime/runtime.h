/* runtime.h — the one public header of runtime/: executes compiled plans
 * (arena, ordered launches) on the CPU thread pool (and, with issue #4, through
 * the CUDA driver API). It knows nothing of graphs or compilers and includes
 * only its own headers: a plan is plain data, the kernels are function
 * pointers, and errors come back as a status plus a one-line message. */
#ifndef TESSERA_RUNTIME_H
#define TESSERA_RUNTIME_H

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

struct ts_rt_launch {
    int kernel;            /* index into the kernel function table */
    int64_t ntasks;        /* tasks [0, ntasks) are spread over the workers */
    int64_t scratch_bytes; /* per worker */
    int nargs;
    const int32_t *args;   /* buffer indices: inputs, then the output */
    const char *const *errors; /* messages for return values 1, 2, … */
    int nerrors;
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

/* ---- pool.c: the persistent thread pool --------------------------------- */

/* nthreads workers (the caller counts as one); 0 means one per online core. */
struct ts_rt_pool;
int ts_rt_pool_init(int nthreads, struct ts_rt_pool **out, char *err, size_t errsize);
int ts_rt_pool_threads(const struct ts_rt_pool *p);
/* Runs fn(ctx, worker, begin, end) over [0, ntasks) split into contiguous
 * ranges, one per worker, and waits for all; returns the first nonzero result. */
typedef int32_t (*ts_rt_pool_fn)(void *ctx, int worker, int64_t begin, int64_t end);
int32_t ts_rt_pool_run(struct ts_rt_pool *p, int64_t ntasks, ts_rt_pool_fn fn, void *ctx);
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
void ts_rt_session_free(struct ts_rt_session *s);

#endif
