/* run.c — replaying a CUDA session's graph: inputs copied in, the graph
 * launched, outputs and the launches' error words copied back, one
 * synchronization; a raised error becomes "kernel 'NAME': MESSAGE" from that
 * launch's error table, and the words are reset for the next run. Timing
 * replays the graph between CUDA events (for the autotuner, one replay at a
 * time after flushing the L2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/internal.h"

static int ts_cu_check_caller(const char *what, const struct ts_rt_tensor *t, int n, const void *const *ptrs,
                              char *err, size_t errsize) {
    if (n > 0 && !ptrs) {
        snprintf(err, errsize, "run: the plan takes %d %ss but none were given", n, what);
        return 1;
    }
    for (int i = 0; i < n; i++)
        if (!ptrs[i] && t[i].nbytes > 0) {
            snprintf(err, errsize, "run: %s %d ('%s') is a null pointer", what, i, t[i].name ? t[i].name : "?");
            return 1;
        }
    return 0;
}

/* Copies the error words back (after the work queued on the stream), waits,
 * and reports the first launch, in plan order, that raised an error. */
static int ts_cu_finish(struct ts_rt_cuda_session *s, const char *what, char *err, size_t errsize) {
    const struct ts_cu *cu = s->cu;
    const struct ts_rt_plan *plan = s->plan;
    size_t nbytes = sizeof(int32_t) * (size_t)plan->nlaunches;
    CUresult r = CUDA_SUCCESS;
    if (nbytes > 0) r = cu->MemcpyDtoHAsync(s->host_errors, s->base + (CUdeviceptr)s->errors_off, nbytes, s->stream);
    if (r == CUDA_SUCCESS) r = cu->StreamSynchronize(s->stream);
    if (r != CUDA_SUCCESS) return ts_cu_fail(cu, r, err, errsize, "%s on %s", what, s->info.name);
    for (int i = 0; i < plan->nlaunches; i++) {
        int32_t e = s->host_errors[i];
        if (e == 0) continue;
        const struct ts_rt_launch *l = &plan->launches[i];
        char label[160];
        ts_cu_kernel_label(plan, l->kernel, label, sizeof label);
        if (e >= 1 && e <= l->nerrors && l->errors[e - 1])
            snprintf(err, errsize, "kernel %s: %s", label, l->errors[e - 1]);
        else
            snprintf(err, errsize, "kernel %s: error code %d", label, (int)e);
        ts_cu_fault_set(TS_RT_CUDA_FAULT_KERNEL);
        /* The next run starts clean. */
        r = cu->MemsetD8Async(s->base + (CUdeviceptr)s->errors_off, 0, nbytes, s->stream);
        if (r == CUDA_SUCCESS) r = cu->StreamSynchronize(s->stream);
        if (r != CUDA_SUCCESS) {
            char first[768];
            snprintf(first, sizeof first, "%s", err);
            ts_cu_fail(cu, r, err, errsize, "%s; then resetting the error words", first);
        }
        return 1;
    }
    return 0;
}

static int ts_cu_run_steps(struct ts_rt_cuda_session *s, const void *const *inputs, void *const *outputs, char *err,
                           size_t errsize) {
    const struct ts_cu *cu = s->cu;
    const struct ts_rt_plan *plan = s->plan;
    CUresult r;
    for (int i = 0; i < plan->ninputs; i++)
        if (plan->inputs[i].nbytes > 0 &&
            (r = cu->MemcpyHtoDAsync(s->base + (CUdeviceptr)s->in_off[i], inputs[i], (size_t)plan->inputs[i].nbytes,
                                     s->stream)) != CUDA_SUCCESS)
            return ts_cu_fail(cu, r, err, errsize, "copying input '%s' to the GPU",
                              plan->inputs[i].name ? plan->inputs[i].name : "?");
    if ((r = cu->GraphLaunch(s->exec, s->stream)) != CUDA_SUCCESS)
        return ts_cu_fail(cu, r, err, errsize, "launching the CUDA graph");
    for (int i = 0; i < plan->noutputs; i++)
        if (plan->outputs[i].nbytes > 0 &&
            (r = cu->MemcpyDtoHAsync(outputs[i], s->base + (CUdeviceptr)s->out_off[i],
                                     (size_t)plan->outputs[i].nbytes, s->stream)) != CUDA_SUCCESS)
            return ts_cu_fail(cu, r, err, errsize, "copying output '%s' from the GPU",
                              plan->outputs[i].name ? plan->outputs[i].name : "?");
    return ts_cu_finish(s, "running the kernels", err, errsize);
}

static int ts_cu_run(struct ts_rt_cuda_session *s, const void *const *inputs, void *const *outputs, char *err,
                     size_t errsize) {
    const struct ts_rt_plan *plan = s->plan;
    if (ts_cu_check_caller("input", plan->inputs, plan->ninputs, inputs, err, errsize) ||
        ts_cu_check_caller("output", plan->outputs, plan->noutputs, (const void *const *)outputs, err, errsize))
        return 1;
    CUresult r = s->cu->CtxPushCurrent(s->ctx);
    if (r != CUDA_SUCCESS) return ts_cu_fail(s->cu, r, err, errsize, "making the CUDA context current");
    int rc = ts_cu_run_steps(s, inputs, outputs, err, errsize);
    CUcontext popped;
    s->cu->CtxPopCurrent(&popped);
    return rc;
}

int ts_rt_cuda_session_run(struct ts_rt_cuda_session *s, const void *const *inputs, void *const *outputs,
                           char *err, size_t errsize) {
    ts_cu_fault_set(TS_RT_CUDA_FAULT_NONE);
    return ts_cu_fault_done(ts_cu_run(s, inputs, outputs, err, errsize));
}

static int ts_cu_compare_floats(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int ts_cu_time_steps(struct ts_rt_cuda_session *s, int repeats, float *times, char *err, size_t errsize) {
    const struct ts_cu *cu = s->cu;
    CUresult r = cu->GraphLaunch(s->exec, s->stream); /* warm-up: caches, clocks, lazy loading */
    if (r == CUDA_SUCCESS) r = cu->StreamSynchronize(s->stream);
    if (r != CUDA_SUCCESS) return ts_cu_fail(cu, r, err, errsize, "warming up the CUDA graph");
    for (int i = 0; i < repeats; i++) {
        r = cu->EventRecord(s->start, s->stream);
        if (r == CUDA_SUCCESS) r = cu->GraphLaunch(s->exec, s->stream);
        if (r == CUDA_SUCCESS) r = cu->EventRecord(s->end, s->stream);
        if (r == CUDA_SUCCESS) r = cu->EventSynchronize(s->end);
        if (r == CUDA_SUCCESS) r = cu->EventElapsedTime(&times[i], s->start, s->end);
        if (r != CUDA_SUCCESS) return ts_cu_fail(cu, r, err, errsize, "timing run %d of the CUDA graph", i + 1);
    }
    return ts_cu_finish(s, "timing the kernels", err, errsize);
}

static int ts_cu_time(struct ts_rt_cuda_session *s, int repeats, double *ms, char *err, size_t errsize) {
    *ms = 0;
    if (repeats < 1) {
        snprintf(err, errsize, "time: repeats must be 1 or more, got %d", repeats);
        return 1;
    }
    float *times = calloc((size_t)repeats, sizeof *times);
    if (!times) {
        snprintf(err, errsize, "out of memory");
        return 1;
    }
    CUresult r = s->cu->CtxPushCurrent(s->ctx);
    int rc = r == CUDA_SUCCESS ? ts_cu_time_steps(s, repeats, times, err, errsize)
                               : ts_cu_fail(s->cu, r, err, errsize, "making the CUDA context current");
    if (r == CUDA_SUCCESS) {
        CUcontext popped;
        s->cu->CtxPopCurrent(&popped);
    }
    if (rc == 0) {
        qsort(times, (size_t)repeats, sizeof *times, ts_cu_compare_floats);
        *ms = repeats % 2 ? times[repeats / 2] : 0.5 * ((double)times[repeats / 2 - 1] + times[repeats / 2]);
    }
    free(times);
    return rc;
}

int ts_rt_cuda_session_time(struct ts_rt_cuda_session *s, int repeats, double *ms, char *err, size_t errsize) {
    ts_cu_fault_set(TS_RT_CUDA_FAULT_NONE);
    return ts_cu_fault_done(ts_cu_time(s, repeats, ms, err, errsize));
}

/* ---- one replay at a time, from a cold L2 (the autotuner's timing) ---------- */

#define TS_CU_FLUSH_UNKNOWN_L2 ((size_t)128 << 20) /* twice this when the driver does not say */

/* The flush buffer: twice the L2, so that whatever the replay before left
 * there is surely evicted whatever the replacement policy. */
static int ts_cu_flush_buffer(struct ts_rt_cuda_session *s, char *err, size_t errsize) {
    if (s->flush) return 0;
    const struct ts_cu *cu = s->cu;
    int l2 = 0;
    if (cu->DeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, s->dev) != CUDA_SUCCESS) l2 = 0;
    size_t bytes = 2 * (l2 > 0 ? (size_t)l2 : TS_CU_FLUSH_UNKNOWN_L2);
    CUresult r = cu->MemAlloc(&s->flush, bytes);
    if (r != CUDA_SUCCESS) {
        s->flush = 0;
        return ts_cu_fail(cu, r, err, errsize, "allocating %zu bytes on %s to flush its L2 between timed runs",
                          bytes, s->info.name);
    }
    s->flush_bytes = bytes;
    return 0;
}

static int ts_cu_time_each_steps(struct ts_rt_cuda_session *s, int repeats, bool flush_l2, double *ms, char *err,
                                 size_t errsize) {
    const struct ts_cu *cu = s->cu;
    if (flush_l2 && ts_cu_flush_buffer(s, err, errsize)) return 1;
    for (int i = 0; i < repeats; i++) {
        CUresult r = CUDA_SUCCESS;
        /* Queued before the start event: stream order keeps it out of the interval. */
        if (flush_l2) r = cu->MemsetD8Async(s->flush, (unsigned char)i, s->flush_bytes, s->stream);
        if (r == CUDA_SUCCESS) r = cu->EventRecord(s->start, s->stream);
        if (r == CUDA_SUCCESS) r = cu->GraphLaunch(s->exec, s->stream);
        if (r == CUDA_SUCCESS) r = cu->EventRecord(s->end, s->stream);
        if (r == CUDA_SUCCESS) r = cu->EventSynchronize(s->end);
        float t = 0;
        if (r == CUDA_SUCCESS) r = cu->EventElapsedTime(&t, s->start, s->end);
        if (r != CUDA_SUCCESS) return ts_cu_fail(cu, r, err, errsize, "timing run %d of the CUDA graph", i + 1);
        ms[i] = t;
    }
    return ts_cu_finish(s, "timing the kernels", err, errsize);
}

int ts_rt_cuda_session_time_each(struct ts_rt_cuda_session *s, int repeats, bool flush_l2, double *ms, char *err,
                                 size_t errsize) {
    ts_cu_fault_set(TS_RT_CUDA_FAULT_NONE);
    if (repeats < 1) {
        snprintf(err, errsize, "time: repeats must be 1 or more, got %d", repeats);
        return ts_cu_fault_done(1);
    }
    CUresult r = s->cu->CtxPushCurrent(s->ctx);
    if (r != CUDA_SUCCESS) {
        ts_cu_fail(s->cu, r, err, errsize, "making the CUDA context current");
        return ts_cu_fault_done(1);
    }
    int rc = ts_cu_time_each_steps(s, repeats, flush_l2, ms, err, errsize);
    CUcontext popped;
    s->cu->CtxPopCurrent(&popped);
    return ts_cu_fault_done(rc);
}
