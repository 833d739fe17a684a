/* nvrtc.c — NVRTC, loaded with dlopen on first use (no link-time dependency:
 * a tessera built with the toolkit's headers runs where NVRTC is absent and
 * says so only when asked to compile), and one whole-source compile to PTX and
 * cubin with NVRTC's (and ptxas's) log. nvrtc.h is used for its types only. */
#define _GNU_SOURCE /* dladdr: which file the loader picked */
#include <dlfcn.h>
#include <nvrtc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/* The options every compile gets besides the arch. Also part of the compile
 * cache's key (cache.c), so changing one here never reuses old entries.
 *  -std=c++17     the prelude's templates use if constexpr.
 *  --fmad=true    a·b + c contracts to one FFMA. The GEMM and attention main
 *                 loops on CUDA cores, the online softmax and the vector math
 *                 are FMA chains: without contraction they take two
 *                 instructions and two roundings where one does. One rounding
 *                 is never less accurate than two (≤ ½ ulp per FMA instead of
 *                 ≤ 1 ulp), well inside STYLE.md's tolerances, and the CPU
 *                 backend makes the same choice (llvm.fmuladd). Results then
 *                 differ in the last bits from the reference's separately
 *                 rounded a·b + c; code that needs the exact two-rounding
 *                 result must say so in the source (an explicitly rounded
 *                 primitive), not by turning contraction off for everything.
 *  -default-device  a helper written without __device__ is still device code
 *                 (the prelude has no host code). */
static const char *const fixed_options[] = {"-std=c++17", "--fmad=true", "-default-device"};
#define NFIXED ((int)(sizeof fixed_options / sizeof fixed_options[0]))

const char *const *tsc_nvrtc_fixed_options(int *n) {
    *n = NFIXED;
    return fixed_options;
}

/* ---- loading ------------------------------------------------------------- */

static struct {
    void *lib;
    char where[512];  /* what was tried, for the error message */
    nvrtcResult (*version)(int *, int *);
    nvrtcResult (*create)(nvrtcProgram *, const char *, const char *, int, const char *const *,
                          const char *const *);
    nvrtcResult (*destroy)(nvrtcProgram *);
    nvrtcResult (*compile)(nvrtcProgram, int, const char *const *);
    nvrtcResult (*ptx_size)(nvrtcProgram, size_t *);
    nvrtcResult (*ptx)(nvrtcProgram, char *);
    nvrtcResult (*cubin_size)(nvrtcProgram, size_t *);
    nvrtcResult (*cubin)(nvrtcProgram, char *);
    nvrtcResult (*log_size)(nvrtcProgram, size_t *);
    nvrtcResult (*log)(nvrtcProgram, char *);
    const char *(*error_string)(nvrtcResult);
    int major, minor;
    char identity[600];  /* the library file, its size and mtime (for the cache key) */
} nv;
static pthread_once_t nv_once = PTHREAD_ONCE_INIT;

static void note_tried(const char *what) {
    size_t len = strlen(nv.where);
    snprintf(nv.where + len, sizeof nv.where - len, "%s%s", len ? ", " : "", what);
}

static void *try_open(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) note_tried(path);
    return h;
}

static void *sym(const char *name, bool *ok) {
    void *p = dlsym(nv.lib, name);
    if (!p) *ok = false;
    return p;
}

/* Casts a dlsym result to a function pointer type (ISO C forbids the direct
 * conversion; POSIX guarantees it works). */
#define NV_BIND(field, name)                                                            \
    do {                                                                                \
        void *p_ = sym(name, &ok);                                                      \
        memcpy(&nv.field, &p_, sizeof p_);                                              \
    } while (0)

static void nv_load(void) {
    /* The soname first (what the loader's cache knows), then the toolkit's
     * own folders for installs that are not on the library path. */
    static const char *const names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    for (int i = 0; i < 3 && !nv.lib; i++) nv.lib = try_open(names[i]);
    const char *home = getenv("CUDA_HOME");
    const char *dirs[] = {home && *home ? home : NULL, "/usr/local/cuda"};
    for (int d = 0; d < 2 && !nv.lib; d++) {
        if (!dirs[d]) continue;
        for (int i = 0; i < 3 && !nv.lib; i++) {
            char path[400];
            snprintf(path, sizeof path, "%s/lib64/%s", dirs[d], names[i]);
            nv.lib = try_open(path);
        }
    }
    if (!nv.lib) return;
    bool ok = true;
    NV_BIND(version, "nvrtcVersion");
    NV_BIND(create, "nvrtcCreateProgram");
    NV_BIND(destroy, "nvrtcDestroyProgram");
    NV_BIND(compile, "nvrtcCompileProgram");
    NV_BIND(ptx_size, "nvrtcGetPTXSize");
    NV_BIND(ptx, "nvrtcGetPTX");
    NV_BIND(cubin_size, "nvrtcGetCUBINSize");
    NV_BIND(cubin, "nvrtcGetCUBIN");
    NV_BIND(log_size, "nvrtcGetProgramLogSize");
    NV_BIND(log, "nvrtcGetProgramLog");
    NV_BIND(error_string, "nvrtcGetErrorString");
    if (!ok || nv.version(&nv.major, &nv.minor) != NVRTC_SUCCESS) {
        snprintf(nv.where, sizeof nv.where, "a libnvrtc without the entry points of NVRTC 11.1+");
        dlclose(nv.lib);
        nv.lib = NULL;
        return;
    }
    /* nvrtcVersion says 13.0 for every 13.0.x: a patch release (a ptxas
     * fix) is told apart by its file, so that cached code compiled by the
     * old one is not reused. */
    Dl_info info;
    void *fn;
    memcpy(&fn, &nv.version, sizeof fn);
    struct stat st;
    if (dladdr(fn, &info) && info.dli_fname && stat(info.dli_fname, &st) == 0)
        snprintf(nv.identity, sizeof nv.identity, "%s %lld %lld.%09ld", info.dli_fname,
                 (long long)st.st_size, (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
}

static enum ts_status nv_ready(struct ts_diag *d) {
    pthread_once(&nv_once, nv_load);
    if (nv.lib) return TS_OK;
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "",
                       "CUDA target: NVRTC could not be loaded (tried %s): install the CUDA "
                       "toolkit's NVRTC or set CUDA_HOME",
                       nv.where);
}

const char *tsc_nvrtc_identity(void) { return nv.identity; }

enum ts_status ts_nvrtc_version(int *major, int *minor, struct ts_diag *d) {
    TS_TRY(nv_ready(d));
    *major = nv.major;
    *minor = nv.minor;
    return TS_OK;
}

/* ---- naming the failing function ------------------------------------------ */

static bool is_ident(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Whether the len bytes at p contain word. */
static bool line_has(const char *p, size_t len, const char *word) {
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= len; i++)
        if (memcmp(p + i, word, wl) == 0) return true;
    return false;
}

/* The function named on a line: the identifier in front of the first '('
 * that is not an attribute's (__launch_bounds__(…), __align__(…)). */
static bool name_on_line(const char *p, size_t len, const char **b, const char **e) {
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '(') continue;
        const char *end = p + i;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
        const char *beg = end;
        while (beg > p && is_ident(beg[-1])) beg--;
        if (beg == end || (end - beg > 2 && beg[0] == '_' && beg[1] == '_')) continue;
        *b = beg, *e = end;
        return true;
    }
    return false;
}

/* The name of the function defined on or before source line 'line' (1-based):
 * the nearest earlier line with __global__ (a kernel), __device__ or
 * TS_DEVICE (a kernel's helper, named after it, or a prelude function).
 * False if none. */
static bool function_at_line(const char *src, long line, char *out, size_t n) {
    const char *p = src, *best_b = NULL, *best_e = NULL;
    for (long l = 1; *p && l <= line; l++) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        bool fn = line_has(p, len, "__global__") || line_has(p, len, "__device__") ||
                  line_has(p, len, "TS_DEVICE");
        const char *b, *e;
        if (fn && name_on_line(p, len, &b, &e)) best_b = b, best_e = e;
        if (!eol) break;
        p = eol + 1;
    }
    if (!best_b) return false;
    snprintf(out, n, "%.*s", (int)(best_e - best_b), best_b);
    return true;
}

/* Whether a log line reports an error: the front end's "NAME(LINE): error:"
 * (or "catastrophic error"), ptxas's and nvlink's "ptxas error   :". Source
 * lines quoted under a warning may contain the word (int *error): not those. */
static bool is_error_line(const char *b, size_t len) {
    return line_has(b, len, "): error") || line_has(b, len, "): catastrophic error") ||
           (len >= 11 && (!memcmp(b, "ptxas error", 11) || !memcmp(b, "ptxas fatal", 11))) ||
           (len >= 12 && !memcmp(b, "nvlink error", 12)) || (len >= 6 && !memcmp(b, "error:", 6));
}

/* From NVRTC's log: the first error line and the function to blame.
 * ptxas names functions in quotes ("Entry function 'k3_gemm' uses too much
 * shared data"); the front end gives "NAME(LINE): error: …", with
 * "detected during … at line N" notes for template instantiations, whose last
 * line number is the outermost instantiation: the kernel. Returns the
 * number of error lines. */
static int blame(const char *log, const char *name, const char *src, char *fn, size_t fnn,
                 char *first, size_t firstn) {
    fn[0] = first[0] = 0;
    const char *err = NULL, *end = NULL;
    int nerrors = 0;
    for (const char *p = log; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (is_error_line(p, len) && nerrors++ == 0) err = p, end = p + len;
        if (!eol) break;
        p = eol + 1;
    }
    if (!err) return 0;
    snprintf(first, firstn, "%.*s", (int)(end - err < 300 ? end - err : 300), err);
    for (const char *q = err; q + 10 < end; q++) {
        if (memcmp(q, "function '", 10) != 0) continue;
        const char *b = q + 10, *e = b;
        while (e < end && *e != '\'') e++;
        if (e < end && e > b && e - b < 200) {
            snprintf(fn, fnn, "%.*s", (int)(e - b), b);
            return nerrors;
        }
    }
    /* The error's line, or the last "at line N" before the next error. */
    long line = 0;
    size_t nl = strlen(name);
    if (!strncmp(err, name, nl) && err[nl] == '(') line = strtol(err + nl + 1, NULL, 10);
    const char *next = strstr(end, "): error");
    for (const char *s = end; (s = strstr(s, "at line ")) && (!next || s < next); s += 8)
        line = strtol(s + 8, NULL, 10);
    if (line > 0 && !function_at_line(src, line, fn, fnn)) fn[0] = 0;
    return nerrors;
}

/* ---- compiling ----------------------------------------------------------- */

void ts_nvrtc_result_free(struct ts_nvrtc_result *r) {
    free(r->ptx);
    free(r->cubin);
    free(r->log);
    memset(r, 0, sizeof *r);
}

static enum ts_status nv_fail(nvrtcResult rc, const char *what, const char *name, struct ts_diag *d) {
    return ts_diag_set(d, rc == NVRTC_ERROR_OUT_OF_MEMORY ? TS_ERR_NOMEM : TS_ERR_UNSUPPORTED, name,
                       "", "NVRTC %s failed: %s", what, nv.error_string(rc));
}

/* Copies one NVRTC output (size from sizefn, bytes from getfn) into *out. */
static enum ts_status fetch(nvrtcProgram prog, nvrtcResult (*sizefn)(nvrtcProgram, size_t *),
                            nvrtcResult (*getfn)(nvrtcProgram, char *), const char *what,
                            const char *name, char **out, size_t *size, struct ts_diag *d) {
    size_t n = 0;
    nvrtcResult rc = sizefn(prog, &n);
    if (rc != NVRTC_SUCCESS) return nv_fail(rc, what, name, d);
    char *buf = malloc(n + 1);
    if (!buf) return ts_diag_set(d, TS_ERR_NOMEM, name, "", "out of memory for NVRTC's %s", what);
    rc = n ? getfn(prog, buf) : NVRTC_SUCCESS;
    if (rc != NVRTC_SUCCESS) {
        free(buf);
        return nv_fail(rc, what, name, d);
    }
    buf[n] = 0;
    *out = buf;
    *size = n;
    return TS_OK;
}

enum ts_status ts_nvrtc_compile(const char *source, const char *name, const struct ts_cuda_arch *arch,
                                const char *const *opts, int nopts, bool want_cubin,
                                struct ts_nvrtc_result *out, struct ts_diag *d) {
    memset(out, 0, sizeof *out);
    TS_TRY(nv_ready(d));
    if (!name || !*name) name = "tessera.cu";
    /* PTX alone needs no ptxas: the virtual arch (compute_90a) is enough. A
     * real arch (sm_90a) gives cubin, and the PTX stays available. */
    char archopt[64];
    snprintf(archopt, sizeof archopt, "--gpu-architecture=%s%s", want_cubin ? "sm_" : "compute_",
             arch->name + 3);
    int n = 0;
    const char **all = malloc(sizeof *all * (size_t)(1 + NFIXED + (nopts > 0 ? nopts : 0)));
    if (!all) return ts_diag_set(d, TS_ERR_NOMEM, name, "", "out of memory");
    all[n++] = archopt;
    for (int i = 0; i < NFIXED; i++) all[n++] = fixed_options[i];
    for (int i = 0; i < nopts; i++) all[n++] = opts[i];

    nvrtcProgram prog;
    nvrtcResult rc = nv.create(&prog, source, name, 0, NULL, NULL);
    if (rc != NVRTC_SUCCESS) {
        free(all);
        return nv_fail(rc, "program creation", name, d);
    }
    nvrtcResult crc = nv.compile(prog, n, all);
    free(all);
    size_t loglen;
    enum ts_status st = fetch(prog, nv.log_size, nv.log, "log", name, &out->log, &loglen, d);
    if (st == TS_OK && crc != NVRTC_SUCCESS) {
        char fn[200], first[320], more[160] = "";
        int nerr = blame(out->log, name, source, fn, sizeof fn, first, sizeof first);
        if (nerr > 1) snprintf(more, sizeof more, " (and %d more errors in NVRTC's log)", nerr - 1);
        if (nerr == 0)
            snprintf(more, sizeof more, ", with no error in its log (a limit ptxas enforces "
                                        "silently, e.g. over 48 KB of static shared memory)");
        st = ts_diag_set(d, crc == NVRTC_ERROR_OUT_OF_MEMORY ? TS_ERR_NOMEM : TS_ERR_UNSUPPORTED,
                         name, fn, "NVRTC %d.%d (%s) failed: %s%s", nv.major, nv.minor, arch->name,
                         nerr ? first : nv.error_string(crc), more);
    }
    if (st == TS_OK) st = fetch(prog, nv.ptx_size, nv.ptx, "PTX", name, &out->ptx, &out->ptx_size, d);
    /* NVRTC counts the PTX's terminating NUL; our size does not. */
    if (st == TS_OK) out->ptx_size = strlen(out->ptx);
    if (st == TS_OK && want_cubin) {
        char *cubin = NULL;
        st = fetch(prog, nv.cubin_size, nv.cubin, "cubin", name, &cubin, &out->cubin_size, d);
        out->cubin = cubin;
    }
    nv.destroy(&prog);
    if (st != TS_OK) {
        /* Keep the log for the caller: it is the whole story of a failure. */
        char *log = out->log;
        out->log = NULL;
        ts_nvrtc_result_free(out);
        out->log = log;
    }
    return st;
}
