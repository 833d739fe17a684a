/* measure_cuda_internal.h — private to measure_cuda.c (the tuner's side)
 * and measure_cuda_child.c (the measuring process): the messages they
 * exchange over their socketpair and the process's entry point. */
#ifndef TESSERA_AUTOTUNE_MEASURE_CUDA_INTERNAL_H
#define TESSERA_AUTOTUNE_MEASURE_CUDA_INTERNAL_H

#include <sys/types.h>

#include "autotune/bench_internal.h"

#define TSM_MAGIC 0x54534d31u          /* "TSM1" */
#define TSM_MAX_IMAGE ((uint64_t)1 << 30)

/* One binary on both ends: plain structs. */
struct tsm_hello {                      /* child → parent, once */
    uint32_t magic;
    int32_t ok;
    struct ts_rt_cuda_info info;
    char error[512];                    /* why not ok: the runtime's line */
};
struct tsm_job {                        /* parent → child, then the cubin and PTX bytes */
    uint32_t magic;
    int32_t fault;                      /* enum tsb_fault */
    struct ts_cuda_launch launch;       /* the candidate's (kernel 0's) launch, tensor maps included */
    uint64_t cubin_size, ptx_size;      /* ptx_size counts its NUL */
    char symbol[256];
};
struct tsm_reply {                      /* child → parent, per job */
    uint32_t magic;
    int32_t lost;                       /* the context is lost: the child exits after this */
    struct ts_tune_result r;
};

/* Reads (out false) or writes n bytes. deadline > 0: never past it (the
 * tuner); else blocking (the child). 0 done, 1 the other end is gone, 2
 * past the deadline. Writes never raise SIGPIPE (MSG_NOSIGNAL). */
int tsm_io(int fd, void *buf, size_t n, bool out, double deadline);

/* The measuring process (forked by the tuner, parent its pid): says hello
 * (its device, or why there is none), then measures each job sent on fd
 * until the tuner closes it. Never returns. */
_Noreturn void tsm_child_main(struct ts_tune_bench *b, int fd, pid_t parent);

#endif
