/* bench_blas.c — the CPU peer of `tessera bench gemm`: OpenBLAS's
 * cblas_sgemm, loaded with dlopen so that the tessera binary neither links
 * nor needs a BLAS (without one, bench runs tessera alone and says so). */
#include <dlfcn.h>
#include <string.h>

#include "tools/cli.h"

/* The CBLAS enumerators (cblas.h): fixed by the CBLAS standard. */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

typedef void (*sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                         int lda, const float *b, int ldb, float beta, float *c, int ldc);

bool ts_cli_blas_open(struct ts_cli_blas *b, char *why, size_t size) {
    /* OpenBLAS first; libblas.so.3 is whatever Debian's alternatives point
     * at (OpenBLAS when it is installed, which also exports cblas_sgemm). */
    static const char *const names[] = {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"};
    memset(b, 0, sizeof *b);
    why[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            snprintf(why, size, "%s", dlerror());
            continue;
        }
        void *f = dlsym(lib, "cblas_sgemm");
        if (!f) {
            snprintf(why, size, "%s has no cblas_sgemm", names[i]);
            dlclose(lib);
            continue;
        }
        b->lib = lib;
        memcpy(&b->sgemm, &f, sizeof f);
        void *set = dlsym(lib, "openblas_set_num_threads");
        memcpy(&b->set_threads, &set, sizeof set);
        void *core = dlsym(lib, "openblas_get_corename");
        char *(*corename)(void) = NULL;
        memcpy(&corename, &core, sizeof core);
        if (set && corename)
            snprintf(b->desc, sizeof b->desc, "OpenBLAS (%s, %s)", names[i], corename());
        else
            snprintf(b->desc, sizeof b->desc, "BLAS (%s)", names[i]);
        snprintf(b->name, sizeof b->name, "%s", set ? "OpenBLAS" : "BLAS");
        return true;
    }
    return false;
}

void ts_cli_blas_threads(const struct ts_cli_blas *b, int threads) {
    if (b->set_threads) b->set_threads(threads);
}

void ts_cli_blas_sgemm(const struct ts_cli_blas *b, bool trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                       const float *bm, float *c) {
    sgemm_fn f;
    memcpy(&f, &b->sgemm, sizeof f);
    f(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)m, (int)n, (int)k, 1.0f, a,
      (int)k, bm, trans_b ? (int)k : (int)n, 0.0f, c, (int)n);
}

void ts_cli_blas_close(struct ts_cli_blas *b) {
    if (b->lib) dlclose(b->lib);
    memset(b, 0, sizeof *b);
}
