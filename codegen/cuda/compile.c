/* compile.c — a code object's translation unit through NVRTC to PTX and cubin
 * for its arch, consulting the compile cache first (cache.c) and filling it
 * after, and the accessors for what came out. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum ts_status ts_cuda_code_compile(struct ts_cuda_code *c, struct ts_diag *d) {
    if (c->compiled) return TS_OK;
    if (!c->source) return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "", "CUDA target: no source to compile");
    double t0 = now_seconds();
    int major, minor;
    TS_TRY(ts_nvrtc_version(&major, &minor, d));
    /* Beyond the arch and nvrtc.c's fixed options: ptxas's report (registers,
     * stack, spills) when asked; it only adds to the log. */
    const char *opts[1];
    int nopts = 0;
    if (c->ptxas_verbose) opts[nopts++] = "-Xptxas=-v";
    /* Always cubin as well as PTX: the arch is a real one (sm_XX), the
     * runtime loads the cubin and keeps the PTX for newer GPUs. */
    const bool want_cubin = true;

    ts_nvrtc_result_free(&c->nv);
    c->cache_hit = false;
    char *dir = NULL;
    unsigned char key[32];
    if (!c->no_cache && tsc_cache_dir(c->cache_dir, &dir)) {
        tsc_cache_key(c->source, &c->arch, opts, nopts, want_cubin, major, minor, key);
        if (tsc_cache_load(dir, key, &c->nv)) c->cache_hit = true;
    }
    enum ts_status st = TS_OK;
    if (!c->cache_hit) {
        st = ts_nvrtc_compile(c->source, "tessera.cu", &c->arch, opts, nopts, want_cubin, &c->nv, d);
        if (st == TS_OK && dir) tsc_cache_store(dir, key, &c->nv);
    }
    free(dir);
    c->compile_seconds = now_seconds() - t0;
    c->compiled = st == TS_OK;
    return st;
}

const char *ts_cuda_code_ptx(const struct ts_cuda_code *c, size_t *size) {
    if (size) *size = c->compiled ? c->nv.ptx_size : 0;
    return c->compiled ? c->nv.ptx : NULL;
}

const void *ts_cuda_code_cubin(const struct ts_cuda_code *c, size_t *size) {
    if (size) *size = c->compiled ? c->nv.cubin_size : 0;
    return c->compiled ? c->nv.cubin : NULL;
}

/* After a failure too: NVRTC's log is the whole story of it. */
const char *ts_cuda_code_log(const struct ts_cuda_code *c) { return c->nv.log ? c->nv.log : ""; }

bool ts_cuda_code_cache_hit(const struct ts_cuda_code *c) { return c->cache_hit; }

double ts_cuda_code_compile_seconds(const struct ts_cuda_code *c) { return c->compile_seconds; }
