/* bench_cublas.c — the GPU peers of `tessera bench gemm --target cuda`:
 * cublasGemmEx (followed, for the bias_gelu epilogue, by a separate
 * element-wise bias + GELU kernel that NVRTC compiles here) and
 * cublasLtMatmul with its own CUBLASLT_EPILOGUE_GELU_BIAS. cudart, cuBLAS
 * and cublasLt are loaded with dlopen, so that tessera runs where they are
 * absent; the toolkit's headers give only the types. Owns the peers' device
 * buffers; both peers are timed the way the runtime times tessera
 * (ts_rt_cuda_session_time_each): L2 flushed outside the timed interval,
 * CUDA events around each call, the median. */
#include <stdlib.h>
#include <string.h>

#include "tools/bench_internal.h"

/* TS_BENCH_CUBLAS_STUB: the tests build the stub, whose mock driver has no
 * CUDA runtime above it (tests/tools/test_cuda_bench.c). */
#if __has_include(<cublasLt.h>) && __has_include(<cuda_runtime_api.h>) && !defined(TS_BENCH_CUBLAS_STUB)
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

/* Each entry point as the header declares it, found with dlsym. */
#define TS_FN(name) __typeof__(&name) name
struct cudart {
    TS_FN(cudaSetDevice);
    TS_FN(cudaFree);
    TS_FN(cudaMalloc);
    TS_FN(cudaMemcpy);
    TS_FN(cudaMemsetAsync);
    TS_FN(cudaDeviceSynchronize);
    TS_FN(cudaDeviceGetAttribute);
    TS_FN(cudaRuntimeGetVersion);
    TS_FN(cudaGetErrorString);
    TS_FN(cudaEventCreate);
    TS_FN(cudaEventDestroy);
    TS_FN(cudaEventRecord);
    TS_FN(cudaEventSynchronize);
    TS_FN(cudaEventElapsedTime);
    TS_FN(cudaLibraryLoadData);
    TS_FN(cudaLibraryGetKernel);
    TS_FN(cudaLibraryUnload);
    TS_FN(cudaLaunchKernel);
    TS_FN(cudaGetLastError);
};
struct cublas {
    TS_FN(cublasCreate_v2);
    TS_FN(cublasDestroy_v2);
    TS_FN(cublasGetVersion_v2);
    TS_FN(cublasGemmEx);
};
struct cublaslt {
    TS_FN(cublasLtCreate);
    TS_FN(cublasLtDestroy);
    TS_FN(cublasLtGetVersion);
    TS_FN(cublasLtMatmulDescCreate);
    TS_FN(cublasLtMatmulDescDestroy);
    TS_FN(cublasLtMatmulDescSetAttribute);
    TS_FN(cublasLtMatrixLayoutCreate);
    TS_FN(cublasLtMatrixLayoutDestroy);
    TS_FN(cublasLtMatmulPreferenceCreate);
    TS_FN(cublasLtMatmulPreferenceDestroy);
    TS_FN(cublasLtMatmulPreferenceSetAttribute);
    TS_FN(cublasLtMatmulAlgoGetHeuristic);
    TS_FN(cublasLtMatmul);
};
#undef TS_FN

enum { LT_WORKSPACE = 32 << 20 };

struct ts_bench_cublas {
    const struct ts_bench_opts *o;
    void *lib_rt, *lib_blas, *lib_lt;
    struct cudart rt;
    struct cublas blas;
    struct cublaslt lt;
    int major;                       /* the CUDA major version of the libraries: 13 or 12 */
    bool has[2];
    char why[2][256];                /* why a peer is left out */
    cublasHandle_t handle;
    cublasLtHandle_t lt_handle;
    cudaLibrary_t gelu_lib;          /* the separate bias + GELU kernel (epilogue only) */
    cudaKernel_t gelu;
    int sm_count, clock_khz;
    void *flush, *workspace;
    size_t flush_bytes;
    cudaEvent_t start, stop;
    /* One problem: */
    const struct ts_bench_problem *pr;
    void *a, *b, *c, *bias;
    bool lt_ready;
    char lt_why[256];
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulHeuristicResult_t algo;
};

/* ---- loading ------------------------------------------------------------------ */

/* The library of this major version: its soname, then the toolkit's folders. */
static void *open_lib(const char *base, int major) {
    char name[64], path[512];
    snprintf(name, sizeof name, "%s.so.%d", base, major);
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    const char *home = getenv("CUDA_HOME");
    const char *dirs[] = {home && *home ? home : NULL, "/usr/local/cuda"};
    for (int i = 0; i < 2 && !h; i++) {
        if (!dirs[i]) continue;
        snprintf(path, sizeof path, "%s/lib64/%s", dirs[i], name);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    return h;
}

/* Resolves every field of a table of function pointers, in declaration order. */
static bool bind(void *lib, void *table, const char *const *names, int n, char *why, size_t size) {
    for (int i = 0; i < n; i++) {
        void *p = dlsym(lib, names[i]);
        if (!p) {
            snprintf(why, size, "%s not found in its library", names[i]);
            return false;
        }
        memcpy((char *)table + (size_t)i * sizeof p, &p, sizeof p);
    }
    return true;
}

static const char *const rt_names[] = {
    "cudaSetDevice", "cudaFree", "cudaMalloc", "cudaMemcpy", "cudaMemsetAsync", "cudaDeviceSynchronize",
    "cudaDeviceGetAttribute", "cudaRuntimeGetVersion", "cudaGetErrorString", "cudaEventCreate",
    "cudaEventDestroy", "cudaEventRecord", "cudaEventSynchronize", "cudaEventElapsedTime", "cudaLibraryLoadData",
    "cudaLibraryGetKernel", "cudaLibraryUnload", "cudaLaunchKernel", "cudaGetLastError"};
static const char *const blas_names[] = {"cublasCreate_v2", "cublasDestroy_v2", "cublasGetVersion_v2", "cublasGemmEx"};
static const char *const lt_names[] = {
    "cublasLtCreate", "cublasLtDestroy", "cublasLtGetVersion", "cublasLtMatmulDescCreate",
    "cublasLtMatmulDescDestroy", "cublasLtMatmulDescSetAttribute", "cublasLtMatrixLayoutCreate",
    "cublasLtMatrixLayoutDestroy", "cublasLtMatmulPreferenceCreate", "cublasLtMatmulPreferenceDestroy",
    "cublasLtMatmulPreferenceSetAttribute", "cublasLtMatmulAlgoGetHeuristic", "cublasLtMatmul"};
#define COUNT(a) ((int)(sizeof a / sizeof a[0]))
_Static_assert(sizeof(struct cudart) == sizeof rt_names, "a name per cudart entry point");
_Static_assert(sizeof(struct cublas) == sizeof blas_names, "a name per cuBLAS entry point");
_Static_assert(sizeof(struct cublaslt) == sizeof lt_names, "a name per cublasLt entry point");

static bool rt_ok(struct ts_bench_cublas *c, cudaError_t e, const char *what, char *why, size_t size) {
    if (e == cudaSuccess) return true;
    snprintf(why, size, "%s: %s", what, c->rt.cudaGetErrorString(e));
    return false;
}

/* The element-wise pass that follows cublasGemmEx: c = gelu(c + bias[col]) in
 * the dtype, the tanh GELU of cublasLt's epilogue, f32 arithmetic, one
 * rounding at the store. Rows go over blockIdx.y so that each thread loads
 * its bias element once; a plain kernel, as a framework's would be. */
static const char gelu_source[] =
    "#if TS_DT == 0\n"
    "typedef float T;\n"
    "static __device__ float ld(T x) { return x; }\n"
    "static __device__ T st(float y) { return y; }\n"
    "#else\n"
    "typedef unsigned short T;\n"
    "#if TS_DT == 1\n"
    "static __device__ float ld(T x) { float f; asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(x)); return f; }\n"
    "static __device__ T st(float y) { T h; asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(y)); return h; }\n"
    "#else\n"
    "static __device__ float ld(T x) { return __uint_as_float((unsigned)x << 16); }\n"
    "static __device__ T st(float y) { T h; asm(\"cvt.rn.bf16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(y)); return h; }\n"
    "#endif\n"
    "#endif\n"
    "extern \"C\" __global__ void ts_bench_bias_gelu(T *c, const T *bias, int m, int n) {\n"
    "    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < n; j += gridDim.x * blockDim.x) {\n"
    "        float b = ld(bias[j]);\n"
    "        for (int r = blockIdx.y; r < m; r += gridDim.y) {\n"
    "            size_t i = (size_t)r * (size_t)n + (size_t)j;\n"
    "            float x = ld(c[i]) + b;\n"
    "            c[i] = st(0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))));\n"
    "        }\n"
    "    }\n"
    "}\n";

static bool gelu_init(struct ts_bench_cublas *c, const char *arch, char *why, size_t size) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_cuda_arch a;
    if (ts_cuda_arch_parse(arch, &a, &d) != TS_OK) {
        snprintf(why, size, "the bias + GELU kernel: %.200s", d.what);
        return false;
    }
    const char *opt = c->o->dtype == TS_F16 ? "-DTS_DT=1" : c->o->dtype == TS_BF16 ? "-DTS_DT=2" : "-DTS_DT=0";
    struct ts_nvrtc_result r;
    memset(&r, 0, sizeof r);
    if (ts_nvrtc_compile(gelu_source, "bench_bias_gelu.cu", &a, &opt, 1, true, &r, &d) != TS_OK) {
        snprintf(why, size, "the bias + GELU kernel does not compile: %.200s", d.what);
        ts_nvrtc_result_free(&r);
        return false;
    }
    /* The cubin, or the PTX when it does not fit this device. */
    cudaError_t e = c->rt.cudaLibraryLoadData(&c->gelu_lib, r.cubin, NULL, NULL, 0, NULL, NULL, 0);
    if (e != cudaSuccess) {
        c->rt.cudaGetLastError();
        e = c->rt.cudaLibraryLoadData(&c->gelu_lib, r.ptx, NULL, NULL, 0, NULL, NULL, 0);
    }
    ts_nvrtc_result_free(&r);
    bool ok = rt_ok(c, e, "loading the bias + GELU kernel", why, size) &&
              rt_ok(c, c->rt.cudaLibraryGetKernel(&c->gelu, c->gelu_lib, "ts_bench_bias_gelu"), "finding its symbol", why,
                    size);
    if (!ok) c->gelu_lib = NULL;
    return ok;
}

struct ts_bench_cublas *ts_bench_cublas_open(const struct ts_bench_opts *o, int device, const char *arch, char *why,
                                             size_t size) {
    struct ts_bench_cublas *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, size, "out of memory");
        return NULL;
    }
    c->o = o;
    /* cuBLAS and cublasLt of the same major version as the runtime they use. */
    static const int majors[] = {13, 12};
    for (int i = 0; i < 2 && !c->lib_rt; i++)
        if ((c->lib_rt = open_lib("libcudart", majors[i]))) c->major = majors[i];
    if (!c->lib_rt) {
        snprintf(why, size, "the CUDA runtime (libcudart.so.13 or .12) was not found");
        free(c);
        return NULL;
    }
    int clock = 0, l2 = 0;
    if (!bind(c->lib_rt, &c->rt, rt_names, COUNT(rt_names), why, size) ||
        !rt_ok(c, c->rt.cudaSetDevice(device), "cudaSetDevice", why, size) ||
        !rt_ok(c, c->rt.cudaFree(NULL), "initializing the CUDA runtime", why, size) ||
        !rt_ok(c, c->rt.cudaEventCreate(&c->start), "cudaEventCreate", why, size) ||
        !rt_ok(c, c->rt.cudaEventCreate(&c->stop), "cudaEventCreate", why, size)) {
        ts_bench_cublas_close(c);
        return NULL;
    }
    c->rt.cudaDeviceGetAttribute(&clock, cudaDevAttrClockRate, device);
    c->rt.cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device);
    c->rt.cudaDeviceGetAttribute(&c->sm_count, cudaDevAttrMultiProcessorCount, device);
    c->clock_khz = clock;
    /* As the runtime flushes before tessera's replays: twice the L2, 256 MiB when unknown. */
    c->flush_bytes = l2 > 0 ? 2 * (size_t)l2 : (size_t)256 << 20;
    if (!rt_ok(c, c->rt.cudaMalloc(&c->flush, c->flush_bytes), "allocating the L2 flush buffer", why, size)) {
        ts_bench_cublas_close(c);
        return NULL;
    }

    /* A peer that cannot be had is left out with why; the other may still run. */
    char *why_blas = c->why[TS_BENCH_CUBLAS], *why_lt = c->why[TS_BENCH_CUBLASLT];
    size_t wsize = sizeof c->why[0];
    if (!(c->lib_blas = open_lib("libcublas", c->major)))
        snprintf(why_blas, wsize, "libcublas.so.%d not found", c->major);
    else if (bind(c->lib_blas, &c->blas, blas_names, COUNT(blas_names), why_blas, wsize) &&
             c->blas.cublasCreate_v2(&c->handle) != CUBLAS_STATUS_SUCCESS)
        snprintf(why_blas, wsize, "cublasCreate failed");
    else if (c->handle)
        c->has[TS_BENCH_CUBLAS] = o->epilogue != TS_BENCH_EPI_BIAS_GELU || gelu_init(c, arch, why_blas, wsize);

    if (!(c->lib_lt = open_lib("libcublasLt", c->major)))
        snprintf(why_lt, wsize, "libcublasLt.so.%d not found", c->major);
    else if (bind(c->lib_lt, &c->lt, lt_names, COUNT(lt_names), why_lt, wsize) &&
             c->lt.cublasLtCreate(&c->lt_handle) != CUBLAS_STATUS_SUCCESS)
        snprintf(why_lt, wsize, "cublasLtCreate failed");
    else if (c->lt_handle)
        c->has[TS_BENCH_CUBLASLT] =
            rt_ok(c, c->rt.cudaMalloc(&c->workspace, LT_WORKSPACE), "allocating cublasLt's workspace", why_lt, wsize);
    return c;
}

bool ts_bench_cublas_has(const struct ts_bench_cublas *c, int peer, const char **why) {
    if (why) *why = c->why[peer];
    return c->has[peer];
}

int ts_bench_cublas_clock_khz(const struct ts_bench_cublas *c) { return c->clock_khz; }

void ts_bench_cublas_describe(const struct ts_bench_cublas *c, FILE *f) {
    int rt = 0;
    c->rt.cudaRuntimeGetVersion(&rt);
    fprintf(f, "# CUDA runtime %d.%d", rt / 1000, rt % 1000 / 10);
    if (c->has[TS_BENCH_CUBLAS] || c->handle) {
        int v = 0;
        c->blas.cublasGetVersion_v2(c->handle, &v);
        fprintf(f, "; cuBLAS %d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    }
    if (c->has[TS_BENCH_CUBLASLT]) {
        size_t v = c->lt.cublasLtGetVersion();
        fprintf(f, "; cublasLt %zu.%zu.%zu", v / 10000, v / 100 % 100, v % 100);
    }
    fprintf(f, "\n");
}

void ts_bench_cublas_close(struct ts_bench_cublas *c) {
    if (!c) return;
    ts_bench_cublas_unload(c);
    if (c->handle) c->blas.cublasDestroy_v2(c->handle);
    if (c->lt_handle) c->lt.cublasLtDestroy(c->lt_handle);
    if (c->gelu_lib) c->rt.cudaLibraryUnload(c->gelu_lib);
    if (c->rt.cudaFree) {
        if (c->workspace) c->rt.cudaFree(c->workspace);
        if (c->flush) c->rt.cudaFree(c->flush);
        if (c->start) c->rt.cudaEventDestroy(c->start);
        if (c->stop) c->rt.cudaEventDestroy(c->stop);
    }
    /* The libraries stay loaded: cudart tears down at exit, not at dlclose. */
    free(c);
}

/* ---- one problem --------------------------------------------------------------- */

static size_t elem_size(const struct ts_bench_opts *o) { return o->dtype == TS_F32 ? 4 : 2; }
static cudaDataType data_type(const struct ts_bench_opts *o) {
    return o->dtype == TS_F16 ? CUDA_R_16F : o->dtype == TS_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}
/* f32 accumulation always; tf32 products only for --dtype tf32. */
static cublasComputeType_t compute_type(const struct ts_bench_opts *o) {
    return o->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

/* cublasLt's description of the problem, in its column-major terms: row-major
 * C[M,N] = A·B is Cᵀ[N,M] = Bᵀ·Aᵀ, so cublasLt's A is our B and its B our A. */
static bool lt_prepare(struct ts_bench_cublas *c, char *why, size_t size) {
    const struct ts_bench_opts *o = c->o;
    const struct ts_bench_problem *pr = c->pr;
    struct cublaslt *lt = &c->lt;
    cudaDataType t = data_type(o);
    cublasOperation_t opa = o->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, opb = CUBLAS_OP_N;
    uint32_t epi = o->epilogue == TS_BENCH_EPI_BIAS_GELU ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    uint64_t m = (uint64_t)pr->m, n = (uint64_t)pr->n, k = (uint64_t)pr->k;
    uint64_t ws = LT_WORKSPACE;
    cublasLtMatmulPreference_t pref = NULL;
    int found = 0;
    bool ok = lt->cublasLtMatmulDescCreate(&c->desc, compute_type(o), CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
              lt->cublasLtMatmulDescSetAttribute(c->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa) == 0 &&
              lt->cublasLtMatmulDescSetAttribute(c->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb) == 0 &&
              lt->cublasLtMatmulDescSetAttribute(c->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi) == 0 &&
              (!c->bias || lt->cublasLtMatmulDescSetAttribute(c->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &c->bias,
                                                              sizeof c->bias) == 0) &&
              lt->cublasLtMatrixLayoutCreate(&c->la, t, o->trans_b ? k : n, o->trans_b ? n : k,
                                             (int64_t)(o->trans_b ? k : n)) == 0 &&
              lt->cublasLtMatrixLayoutCreate(&c->lb, t, k, m, (int64_t)k) == 0 &&
              lt->cublasLtMatrixLayoutCreate(&c->lc, t, n, m, (int64_t)n) == 0 &&
              lt->cublasLtMatmulPreferenceCreate(&pref) == 0 &&
              lt->cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                       sizeof ws) == 0;
    if (!ok) snprintf(why, size, "cublasLt refused the problem's description");
    if (ok && (lt->cublasLtMatmulAlgoGetHeuristic(c->lt_handle, c->desc, c->la, c->lb, c->lc, c->lc, pref, 1,
                                                  &c->algo, &found) != CUBLAS_STATUS_SUCCESS ||
               found < 1)) {
        snprintf(why, size, "cublasLt's heuristic has no algorithm for it");
        ok = false;
    }
    if (pref) lt->cublasLtMatmulPreferenceDestroy(pref);
    return ok;
}

bool ts_bench_cublas_load(struct ts_bench_cublas *c, const struct ts_bench_problem *pr, const void *a, const void *b,
                          const void *bias, char *why, size_t size) {
    ts_bench_cublas_unload(c);
    c->pr = pr;
    size_t es = elem_size(c->o);
    size_t na = (size_t)(pr->m * pr->k) * es, nb = (size_t)(pr->k * pr->n) * es, nc = (size_t)(pr->m * pr->n) * es;
    bool ok = rt_ok(c, c->rt.cudaMalloc(&c->a, na), "cudaMalloc", why, size) &&
              rt_ok(c, c->rt.cudaMalloc(&c->b, nb), "cudaMalloc", why, size) &&
              rt_ok(c, c->rt.cudaMalloc(&c->c, nc), "cudaMalloc", why, size) &&
              rt_ok(c, c->rt.cudaMemcpy(c->a, a, na, cudaMemcpyHostToDevice), "cudaMemcpy", why, size) &&
              rt_ok(c, c->rt.cudaMemcpy(c->b, b, nb, cudaMemcpyHostToDevice), "cudaMemcpy", why, size);
    if (ok && bias)
        ok = rt_ok(c, c->rt.cudaMalloc(&c->bias, (size_t)pr->n * es), "cudaMalloc", why, size) &&
             rt_ok(c, c->rt.cudaMemcpy(c->bias, bias, (size_t)pr->n * es, cudaMemcpyHostToDevice), "cudaMemcpy",
                   why, size);
    if (ok && c->has[TS_BENCH_CUBLASLT]) c->lt_ready = lt_prepare(c, c->lt_why, sizeof c->lt_why);
    return ok;
}

void ts_bench_cublas_unload(struct ts_bench_cublas *c) {
    if (c->desc) c->lt.cublasLtMatmulDescDestroy(c->desc);
    if (c->la) c->lt.cublasLtMatrixLayoutDestroy(c->la);
    if (c->lb) c->lt.cublasLtMatrixLayoutDestroy(c->lb);
    if (c->lc) c->lt.cublasLtMatrixLayoutDestroy(c->lc);
    void *bufs[] = {c->a, c->b, c->c, c->bias};
    for (int i = 0; i < 4; i++)
        if (bufs[i]) c->rt.cudaFree(bufs[i]);
    c->desc = NULL, c->la = c->lb = c->lc = NULL;
    c->a = c->b = c->c = c->bias = NULL;
    c->lt_ready = false;
    c->lt_why[0] = '\0';
    c->pr = NULL;
}

/* One call of the peer on the default stream, asynchronous. */
static bool launch(struct ts_bench_cublas *c, int peer, char *why, size_t size) {
    const struct ts_bench_opts *o = c->o;
    const struct ts_bench_problem *pr = c->pr;
    const float alpha = 1.0f, beta = 0.0f;
    int m = (int)pr->m, n = (int)pr->n, k = (int)pr->k;
    if (peer == TS_BENCH_CUBLASLT) {
        if (!c->lt_ready) {
            snprintf(why, size, "%s", c->lt_why);
            return false;
        }
        cublasStatus_t s = c->lt.cublasLtMatmul(c->lt_handle, c->desc, &alpha, c->b, c->la, c->a, c->lb, &beta, c->c,
                                                c->lc, c->c, c->lc, &c->algo.algo, c->workspace, LT_WORKSPACE, NULL);
        if (s != CUBLAS_STATUS_SUCCESS) snprintf(why, size, "cublasLtMatmul failed (status %d)", (int)s);
        return s == CUBLAS_STATUS_SUCCESS;
    }
    cudaDataType t = data_type(o);
    cublasStatus_t s = c->blas.cublasGemmEx(c->handle, o->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, n, m, k,
                                            &alpha, c->b, t, o->trans_b ? k : n, c->a, t, k, &beta, c->c, t, n,
                                            compute_type(o), CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS) {
        snprintf(why, size, "cublasGemmEx failed (status %d)", (int)s);
        return false;
    }
    if (!c->bias) return true;
    unsigned gx = (unsigned)((n + 255) / 256), sms = c->sm_count > 0 ? (unsigned)c->sm_count : 132;
    unsigned gy = (16 * sms + gx - 1) / gx;
    if (gy > (unsigned)m) gy = (unsigned)m;
    if (gy > 65535) gy = 65535;
    void *args[] = {&c->c, &c->bias, &m, &n};
    dim3 grid = {gx, gy, 1}, block = {256, 1, 1};
    return rt_ok(c, c->rt.cudaLaunchKernel((const void *)c->gelu, grid, block, args, 0, NULL),
                 "launching the bias + GELU kernel", why, size);
}

bool ts_bench_cublas_run(struct ts_bench_cublas *c, int peer, float *out, char *why, size_t size) {
    const struct ts_bench_problem *pr = c->pr;
    size_t count = (size_t)(pr->m * pr->n), es = elem_size(c->o);
    void *host = malloc(count * es);
    if (!host) {
        snprintf(why, size, "out of memory");
        return false;
    }
    /* A result left over from the other peer must not pass for this one's. */
    bool ok = rt_ok(c, c->rt.cudaMemsetAsync(c->c, 0xff, count * es, NULL), "cudaMemsetAsync", why, size) &&
              launch(c, peer, why, size) &&
              rt_ok(c, c->rt.cudaDeviceSynchronize(), "running it", why, size) &&
              rt_ok(c, c->rt.cudaMemcpy(host, c->c, count * es, cudaMemcpyDeviceToHost), "cudaMemcpy", why, size);
    for (size_t i = 0; ok && i < count; i++)
        out[i] = c->o->dtype == TS_F32  ? ((const float *)host)[i]
                 : c->o->dtype == TS_F16 ? (float)ts_f16_to_f64(((const uint16_t *)host)[i])
                                         : (float)ts_bf16_to_f64(((const uint16_t *)host)[i]);
    free(host);
    return ok;
}

static int compare_floats(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

bool ts_bench_cublas_time(struct ts_bench_cublas *c, int peer, int repeats, double *ms, char *why, size_t size) {
    enum { WARMUP = 3 };
    float *t = malloc((size_t)repeats * sizeof *t);
    if (!t) {
        snprintf(why, size, "out of memory");
        return false;
    }
    bool ok = true;
    for (int r = -WARMUP; ok && r < repeats; r++) {
        float e = 0;
        ok = rt_ok(c, c->rt.cudaMemsetAsync(c->flush, r & 0xff, c->flush_bytes, NULL), "flushing the L2", why,
                   size) &&
             rt_ok(c, c->rt.cudaEventRecord(c->start, NULL), "cudaEventRecord", why, size) &&
             launch(c, peer, why, size) &&
             rt_ok(c, c->rt.cudaEventRecord(c->stop, NULL), "cudaEventRecord", why, size) &&
             rt_ok(c, c->rt.cudaEventSynchronize(c->stop), "running it", why, size) &&
             rt_ok(c, c->rt.cudaEventElapsedTime(&e, c->start, c->stop), "cudaEventElapsedTime", why, size);
        if (ok && r >= 0) t[r] = e;
    }
    if (ok) {
        qsort(t, (size_t)repeats, sizeof *t, compare_floats);
        *ms = repeats % 2 ? t[repeats / 2] : 0.5 * ((double)t[repeats / 2 - 1] + t[repeats / 2]);
    }
    free(t);
    return ok;
}

#else /* no CUDA toolkit headers at build time (or the tests' stub) */

struct ts_bench_cublas {
    int unused;
};
struct ts_bench_cublas *ts_bench_cublas_open(const struct ts_bench_opts *o, int device, const char *arch, char *why,
                                             size_t size) {
    (void)o, (void)device, (void)arch;
    snprintf(why, size, "this tessera was built without the CUDA toolkit's headers (cublasLt.h)");
    return NULL;
}
bool ts_bench_cublas_has(const struct ts_bench_cublas *c, int peer, const char **why) {
    (void)c, (void)peer;
    if (why) *why = "not built";
    return false;
}
int ts_bench_cublas_clock_khz(const struct ts_bench_cublas *c) { return (void)c, 0; }
void ts_bench_cublas_describe(const struct ts_bench_cublas *c, FILE *f) { (void)c, (void)f; }
void ts_bench_cublas_close(struct ts_bench_cublas *c) { (void)c; }
bool ts_bench_cublas_load(struct ts_bench_cublas *c, const struct ts_bench_problem *pr, const void *a, const void *b,
                          const void *bias, char *why, size_t size) {
    (void)c, (void)pr, (void)a, (void)b, (void)bias;
    snprintf(why, size, "not built");
    return false;
}
void ts_bench_cublas_unload(struct ts_bench_cublas *c) { (void)c; }
bool ts_bench_cublas_run(struct ts_bench_cublas *c, int peer, float *out, char *why, size_t size) {
    (void)c, (void)peer, (void)out;
    snprintf(why, size, "not built");
    return false;
}
bool ts_bench_cublas_time(struct ts_bench_cublas *c, int peer, int repeats, double *ms, char *why, size_t size) {
    (void)c, (void)peer, (void)repeats, (void)ms;
    snprintf(why, size, "not built");
    return false;
}
#endif
