/* cuda_stub.c — the CUDA runtime of a tessera built without the CUDA
 * toolkit's headers: the same functions (runtime.h), each failing with one
 * line that says so, so that `run --target cuda` and CUDA artifacts explain
 * themselves instead of failing to link. */
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

static int ts_cu_unbuilt(char *err, size_t errsize) {
    snprintf(err, errsize,
             "no CUDA support: this tessera was built without the CUDA toolkit headers (cuda.h); install "
             "the toolkit and rebuild");
    return 1;
}

int ts_rt_cuda_probe(int ordinal, struct ts_rt_cuda_info *out, char *err, size_t errsize) {
    (void)ordinal;
    memset(out, 0, sizeof *out);
    return ts_cu_unbuilt(err, errsize);
}

int ts_rt_cuda_session_init(const struct ts_rt_plan *plan, const struct ts_rt_cuda_image *image,
                            const void *const *weights, int ordinal, struct ts_rt_cuda_session **out, char *err,
                            size_t errsize) {
    (void)plan, (void)image, (void)weights, (void)ordinal;
    *out = NULL;
    return ts_cu_unbuilt(err, errsize);
}

/* No session can exist: these are never reached with one. */
int ts_rt_cuda_session_run(struct ts_rt_cuda_session *s, const void *const *inputs, void *const *outputs,
                           char *err, size_t errsize) {
    (void)s, (void)inputs, (void)outputs;
    return ts_cu_unbuilt(err, errsize);
}

int ts_rt_cuda_session_time(struct ts_rt_cuda_session *s, int repeats, double *ms, char *err, size_t errsize) {
    (void)s, (void)repeats;
    *ms = 0;
    return ts_cu_unbuilt(err, errsize);
}

const struct ts_rt_cuda_info *ts_rt_cuda_session_info(const struct ts_rt_cuda_session *s) {
    (void)s;
    static const struct ts_rt_cuda_info none;
    return &none;
}

bool ts_rt_cuda_session_used_ptx(const struct ts_rt_cuda_session *s) {
    (void)s;
    return false;
}

void ts_rt_cuda_session_free(struct ts_rt_cuda_session *s) { (void)s; }

int ts_rt_cuda_session_time_each(struct ts_rt_cuda_session *s, int repeats, bool flush_l2, double *ms, char *err,
                                 size_t errsize) {
    (void)s, (void)repeats, (void)flush_l2, (void)ms;
    return ts_cu_unbuilt(err, errsize);
}

int ts_rt_cuda_keep_context(int ordinal, char *err, size_t errsize) {
    (void)ordinal;
    return ts_cu_unbuilt(err, errsize);
}

enum ts_rt_cuda_fault ts_rt_cuda_last_fault(void) { return TS_RT_CUDA_FAULT_OTHER; }

bool ts_rt_cuda_driver_loaded(void) { return false; }
