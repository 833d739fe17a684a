/* bench_cuda_gemm.c — the GPU GEMM suite of BENCHMARKS.md: tessera's generated
 * GEMM (one matmul graph, fused and compiled by NVRTC, replayed as a CUDA
 * graph) against cuBLAS cublasGemmEx, in the same process on the same data.
 * Every problem is checked against cuBLAS before its time counts. cudart and
 * cuBLAS are loaded with dlopen, so the program builds without them and says
 * what is missing where they (or a GPU) are absent.
 *
 *   bench_cuda_gemm [--suite d768,d4096,gqa,square,awkward] [--m LIST] [--dtype bf16|f16|f32|tf32]
 *                   [--transpose-b] [--epilogue bias_gelu] [--repeats N] [--csv FILE] [--quick]
 *
 * Both sides are timed the same way: CUDA events around each call after a
 * warm-up, the median of --repeats, on one set of buffers (B of the d=4096
 * problems is larger than the 50 MB L2; A and C of the small-M problems are
 * not, for either side). The last line is PASSED or FAILED (any problem
 * outside the tolerance or failing to run). Exit status 0, 1 on FAILED, 77
 * when there is no GPU or no cuBLAS. */
#include <cublas_api.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "frontend/frontend.h"
#include "passes/passes.h"

/* ---- cudart and cuBLAS through dlopen ------------------------------------ */

struct peer {
    void *rt, *blas;
    int (*malloc_)(void **, size_t);
    int (*free_)(void *);
    int (*memcpy_)(void *, const void *, size_t, int);
    int (*sync)(void);
    int (*event_create)(void **);
    int (*event_record)(void *, void *);
    int (*event_sync)(void *);
    int (*event_elapsed)(float *, void *, void *);
    int (*create)(cublasHandle_t *);
    int (*destroy)(cublasHandle_t);
    int (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,
                   const void *, cudaDataType, int, const void *, cudaDataType, int, const void *, void *,
                   cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
    cublasHandle_t handle;
};

static void *open_first(const char *const *names) {
    for (int i = 0; names[i]; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) return h;
    }
    return NULL;
}

#define SYM(lib, field, name)                                                                  \
    do {                                                                                       \
        *(void **)&pe->field = dlsym(pe->lib, name);                                           \
        if (!pe->field) {                                                                      \
            snprintf(err, errsize, "%s not found in %s", name, #lib);                          \
            return false;                                                                      \
        }                                                                                      \
    } while (0)

static bool peer_open(struct peer *pe, char *err, size_t errsize) {
    static const char *const rt[] = {"libcudart.so.13", "libcudart.so.12", "libcudart.so",
                                     "/usr/local/cuda/lib64/libcudart.so", NULL};
    static const char *const blas[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so",
                                       "/usr/local/cuda/lib64/libcublas.so", NULL};
    if (!(pe->rt = open_first(rt))) {
        snprintf(err, errsize, "cudart not found (libcudart.so.13/.12)");
        return false;
    }
    if (!(pe->blas = open_first(blas))) {
        snprintf(err, errsize, "cuBLAS not found (libcublas.so.13/.12)");
        return false;
    }
    SYM(rt, malloc_, "cudaMalloc");
    SYM(rt, free_, "cudaFree");
    SYM(rt, memcpy_, "cudaMemcpy");
    SYM(rt, sync, "cudaDeviceSynchronize");
    SYM(rt, event_create, "cudaEventCreate");
    SYM(rt, event_record, "cudaEventRecord");
    SYM(rt, event_sync, "cudaEventSynchronize");
    SYM(rt, event_elapsed, "cudaEventElapsedTime");
    SYM(blas, create, "cublasCreate_v2");
    SYM(blas, destroy, "cublasDestroy_v2");
    SYM(blas, gemm_ex, "cublasGemmEx");
    int rc = pe->create(&pe->handle);
    if (rc != 0) {
        snprintf(err, errsize, "cublasCreate failed (status %d)", rc);
        return false;
    }
    return true;
}

/* ---- problems ------------------------------------------------------------- */

struct problem {
    int64_t m, n, k;
    const char *family;
};
struct opts {
    const char *suites, *dtype, *epilogue, *csv;
    int64_t ms[16];
    int nms;
    bool transpose_b, quick, tf32;
    int repeats;
};

static int add_pairs(struct problem *p, int n, const struct opts *o, const char *family,
                     const int64_t (*pairs)[2], int npairs) {
    static const int64_t default_ms[] = {1, 16, 128, 512, 2048, 8192};
    static const int64_t quick_ms[] = {16, 2048};
    const int64_t *ms = o->nms ? o->ms : o->quick ? quick_ms : default_ms;
    int nms = o->nms ? o->nms : o->quick ? 2 : 6;
    for (int i = 0; i < npairs; i++)
        for (int j = 0; j < nms; j++) p[n++] = (struct problem){ms[j], pairs[i][0], pairs[i][1], family};
    return n;
}

static int make_suite(struct problem *p, const struct opts *o) {
    static const int64_t d768[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
    static const int64_t d4096[][2] = {{12288, 4096}, {4096, 4096}, {11008, 4096}, {4096, 11008}};
    static const int64_t gqa[][2] = {{6144, 4096}, {14336, 4096}, {4096, 14336}};
    int n = 0;
    if (strstr(o->suites, "d768")) n = add_pairs(p, n, o, "d=768", d768, 4);
    if (strstr(o->suites, "d4096")) n = add_pairs(p, n, o, "d=4096", d4096, 4);
    if (strstr(o->suites, "gqa")) n = add_pairs(p, n, o, "d=4096 GQA", gqa, 3);
    if (strstr(o->suites, "square")) {
        static const int64_t sq[] = {1024, 4096, 8192};
        for (int i = 0; i < 3; i++) p[n++] = (struct problem){sq[i], sq[i], sq[i], "square"};
    }
    if (strstr(o->suites, "awkward")) {
        static const int64_t aw[][3] = {{1, 4097, 129}, {7, 17, 4097}, {17, 127, 1000}, {127, 129, 4095},
                                        {129, 1000, 7}, {1000, 4095, 17}, {4095, 7, 127}, {4097, 4097, 129}};
        for (int i = 0; i < (o->quick ? 4 : 8); i++) p[n++] = (struct problem){aw[i][0], aw[i][1], aw[i][2], "awkward"};
    }
    return n;
}

/* The graph: c = a·b (b as [K,N], or [N,K] with transpose_b), optionally
 * followed by + bias and gelu (fused into the GEMM's epilogue). */
static char *graph_json(const struct problem *pr, const struct opts *o, const char *dt) {
    char *s = malloc(4096);
    bool epi = o->epilogue != NULL;
    snprintf(s, 4096,
             "{\"format\": \"tessera.graph\", \"version\": 1, \"name\": \"gemm\",\n"
             " \"inputs\": [{\"name\": \"a\", \"dtype\": \"%s\", \"shape\": [%lld, %lld]},\n"
             "            {\"name\": \"b\", \"dtype\": \"%s\", \"shape\": [%lld, %lld]}%s%s%s],\n"
             " \"nodes\": [{\"name\": \"mm\", \"op\": \"matmul\", \"inputs\": [\"a\", \"b\"], \"outputs\": [\"%s\"],"
             " \"attrs\": {\"transpose_b\": %s}}%s],\n"
             " \"outputs\": [\"c\"]}\n",
             dt, (long long)pr->m, (long long)pr->k, dt, (long long)(o->transpose_b ? pr->n : pr->k),
             (long long)(o->transpose_b ? pr->k : pr->n), epi ? ",\n            {\"name\": \"bias\", \"dtype\": \"" : "",
             epi ? dt : "", epi ? "\", \"shape\": [NNN]}" : "", epi ? "mm" : "c", o->transpose_b ? "true" : "false",
             epi ? ",\n  {\"name\": \"add\", \"op\": \"add\", \"inputs\": [\"mm\", \"bias\"], \"outputs\": [\"pre\"]},\n"
                   "  {\"name\": \"act\", \"op\": \"gelu\", \"inputs\": [\"pre\"], \"outputs\": [\"c\"]}"
                 : "");
    char *nnn = strstr(s, "NNN");
    if (nnn) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)pr->n);
        memmove(nnn + strlen(num), nnn + 3, strlen(nnn + 3) + 1);
        memcpy(nnn, num, strlen(num));
    }
    return s;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    float v = (float)((rng >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
    return v == 0.0f ? 0.5f : v;  /* never zero */
}
static uint16_t to_half_bits(float f, bool bf16) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if (bf16) return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
    /* f32 → f16, round to nearest even (inputs here are normal, |x| ≤ 1). */
    uint32_t sign = (u >> 16) & 0x8000, mant = u & 0x7fffff;
    int exp = (int)((u >> 23) & 0xff) - 127 + 15;
    if (exp <= 0) return (uint16_t)sign;
    uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)h;
}
static float from_half_bits(uint16_t h, bool bf16) {
    if (bf16) {
        uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, u;
    if (exp == 0) {
        float f = ldexpf((float)mant, -24);
        return sign ? -f : f;
    }
    u = sign | ((exp == 31 ? 255 : exp - 15 + 127) << 23) | (mant << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct result {
    double ts_ms, peer_ms, err;  /* err: max |ts - peer| / max |peer| */
    bool ok;
    char why[256];
};

/* cuBLAS on the same host data: returns its output (as floats) and median ms. */
static bool run_peer(struct peer *pe, const struct problem *pr, const struct opts *o, bool half, bool bf16,
                     const void *a, const void *b, size_t esz, float *c_out, double *ms, char *why) {
    void *da = NULL, *db = NULL, *dc = NULL;
    size_t na = (size_t)(pr->m * pr->k) * esz, nb = (size_t)(pr->k * pr->n) * esz, nc = (size_t)(pr->m * pr->n) * esz;
    bool ok = pe->malloc_(&da, na) == 0 && pe->malloc_(&db, nb) == 0 && pe->malloc_(&dc, nc) == 0;
    ok = ok && pe->memcpy_(da, a, na, 1) == 0 && pe->memcpy_(db, b, nb, 1) == 0;
    cudaDataType t = half ? (bf16 ? CUDA_R_16BF : CUDA_R_16F) : CUDA_R_32F;
    cublasComputeType_t ct = half ? CUBLAS_COMPUTE_32F : o->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    float alpha = 1, beta = 0;
    /* Row-major C[M,N] = A·B is column-major Cᵀ[N,M] = Bᵀ·Aᵀ. */
    int n = (int)pr->n, m = (int)pr->m, k = (int)pr->k;
    cublasOperation_t opb = o->transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    int ldb = o->transpose_b ? k : n;
    void *e0 = NULL, *e1 = NULL;
    ok = ok && pe->event_create(&e0) == 0 && pe->event_create(&e1) == 0;
    double times[1000];
    int reps = o->repeats;
    for (int r = -3; ok && r < reps; r++) {
        pe->event_record(e0, NULL);
        int st = pe->gemm_ex(pe->handle, opb, CUBLAS_OP_N, n, m, k, &alpha, db, t, ldb, da, t, k, &beta, dc, t, n,
                             ct, CUBLAS_GEMM_DEFAULT);
        pe->event_record(e1, NULL);
        pe->event_sync(e1);
        float t_ms = 0;
        pe->event_elapsed(&t_ms, e0, e1);
        if (st != 0) {
            snprintf(why, 256, "cublasGemmEx failed (status %d)", st);
            ok = false;
        }
        if (r >= 0) times[r] = t_ms;
    }
    if (ok) {
        void *hc = malloc(nc);
        ok = pe->memcpy_(hc, dc, nc, 2) == 0;
        for (int64_t i = 0; ok && i < pr->m * pr->n; i++)
            c_out[i] = half ? from_half_bits(((uint16_t *)hc)[i], bf16) : ((float *)hc)[i];
        free(hc);
        qsort(times, (size_t)reps, sizeof times[0], cmp_double);
        *ms = times[reps / 2];
    } else if (!why[0]) {
        snprintf(why, 256, "cuBLAS: allocation or copy failed");
    }
    pe->free_(da), pe->free_(db), pe->free_(dc);
    return ok;
}

static void gelu_rows(float *c, const float *bias, int64_t m, int64_t n) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double x = (double)c[i * n + j] + bias[j];
            c[i * n + j] = (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
        }
}

static bool bench_one(struct peer *pe, const struct problem *pr, const struct opts *o, struct result *res) {
    memset(res, 0, sizeof *res);
    bool half = strcmp(o->dtype, "bf16") == 0 || strcmp(o->dtype, "f16") == 0;
    bool bf16 = strcmp(o->dtype, "bf16") == 0;
    const char *dt = half ? o->dtype : "f32";
    size_t esz = half ? 2 : 4;
    int64_t na = pr->m * pr->k, nb = pr->k * pr->n, nc = pr->m * pr->n;
    void *a = malloc((size_t)na * esz), *b = malloc((size_t)nb * esz);
    float *bias = malloc((size_t)pr->n * sizeof(float)), *want = malloc((size_t)nc * sizeof(float));
    for (int64_t i = 0; i < na; i++) {
        float v = rnd();
        if (half) ((uint16_t *)a)[i] = to_half_bits(v, bf16);
        else ((float *)a)[i] = v;
    }
    for (int64_t i = 0; i < nb; i++) {
        float v = rnd();
        if (half) ((uint16_t *)b)[i] = to_half_bits(v, bf16);
        else ((float *)b)[i] = v;
    }
    for (int64_t i = 0; i < pr->n; i++) bias[i] = rnd();
    bool ok = run_peer(pe, pr, o, half, bf16, a, b, esz, want, &res->peer_ms, res->why);
    /* The peer's reference for the fused case: cuBLAS, then bias + gelu on the host. */
    if (ok && o->epilogue) gelu_rows(want, bias, pr->m, pr->n);

    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_graph *g = NULL;
    struct ts_program *p = NULL;
    struct ts_cuda_exec *e = NULL;
    struct ts_tensor in[3], out[1];
    memset(in, 0, sizeof in), memset(out, 0, sizeof out);
    char *json = graph_json(pr, o, dt);
    enum ts_status st = ok ? ts_graph_parse(json, strlen(json), "gemm.json", ".", false, &g, &d) : TS_ERR_RUNTIME;
    struct ts_fuse_opts fo = {.vector_width = 8};
    if (st == TS_OK) st = ts_compile_program(g, NULL, &fo, &p, &d);
    struct ts_cuda_exec_opts eo = {.strict_f32 = !half && !o->tf32};
    if (st == TS_OK) st = ts_cuda_exec_init(p, &eo, &e, &d);
    if (st == TS_OK) {
        /* Tensors borrow the host data: dtype and shape from the graph. */
        for (int i = 0; i < g->ninputs && st == TS_OK; i++) {
            const struct ts_value *v = &g->values[g->inputs[i]];
            int64_t dims[TS_MAX_RANK];
            int rank = ts_value_dims(v, dims);
            st = ts_tensor_alloc(&in[i], v->dtype, rank, dims, v->name, &d);
        }
    }
    if (st == TS_OK) {
        memcpy(in[0].data, a, (size_t)na * esz);
        memcpy(in[1].data, b, (size_t)nb * esz);
        if (o->epilogue) {
            for (int64_t j = 0; j < pr->n; j++) {
                if (half) ((uint16_t *)in[2].data)[j] = to_half_bits(bias[j], bf16);
                else ((float *)in[2].data)[j] = bias[j];
            }
        }
        st = ts_cuda_exec_run(e, in, out, &d);
    }
    if (st == TS_OK) st = ts_cuda_exec_time(e, o->repeats, &res->ts_ms, &d);
    if (st == TS_OK) {
        double maxd = 0, maxw = 0;
        for (int64_t i = 0; i < nc; i++) {
            float got = half ? from_half_bits(((uint16_t *)out[0].data)[i], bf16) : ((float *)out[0].data)[i];
            double w = want[i];
            if (o->epilogue && half) w = from_half_bits(to_half_bits((float)w, bf16), bf16);
            double diff = fabs((double)got - w);
            if (!(diff <= maxd)) maxd = isnan(diff) ? INFINITY : diff;
            if (fabs(w) > maxw) maxw = fabs(w);
        }
        res->err = maxw > 0 ? maxd / maxw : maxd;
        /* Both sides round the same f32 sums to the output; what differs is
         * the summation order (and, for tf32, rounding of inputs). */
        double tol = bf16 ? 2e-2 : half ? 4e-3 : o->tf32 ? 5e-3 : 1e-4;
        res->ok = res->err <= tol;
        if (!res->ok) snprintf(res->why, sizeof res->why, "max error %.3g of max |C| > %.3g", res->err, tol);
    } else if (ok) {
        char msg[1024];
        ts_diag_format(&d, msg, sizeof msg);
        snprintf(res->why, sizeof res->why, "%.250s", msg);
    }
    for (int i = 0; i < 3; i++) ts_tensor_release(&in[i]);
    ts_tensor_release(&out[0]);
    ts_cuda_exec_free(e);
    ts_graph_free(g);
    free(json), free(a), free(b), free(bias), free(want);
    return res->ok;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(void) {
    fprintf(stderr, "usage: bench_cuda_gemm [--suite d768,d4096,gqa,square,awkward] [--m LIST] "
                    "[--dtype bf16|f16|f32|tf32] [--transpose-b] [--epilogue bias_gelu] [--repeats N] "
                    "[--csv FILE] [--quick]\n");
}

int main(int argc, char **argv) {
    struct opts o = {.suites = "d4096,square", .dtype = "bf16", .repeats = 30};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--suite") && v) o.suites = v, i++;
        else if (!strcmp(a, "--dtype") && v) o.dtype = v, i++;
        else if (!strcmp(a, "--csv") && v) o.csv = v, i++;
        else if (!strcmp(a, "--epilogue") && v) o.epilogue = v, i++;
        else if (!strcmp(a, "--repeats") && v) o.repeats = atoi(v), i++;
        else if (!strcmp(a, "--transpose-b")) o.transpose_b = true;
        else if (!strcmp(a, "--quick")) o.quick = true;
        else if (!strcmp(a, "--m") && v) {
            for (char *s = (char *)v; *s && o.nms < 16;) {
                o.ms[o.nms++] = strtoll(s, &s, 10);
                if (*s == ',') s++;
            }
            i++;
        } else {
            usage();
            return 2;
        }
    }
    if (o.repeats < 1 || o.repeats > 1000) {
        fprintf(stderr, "bench_cuda_gemm: --repeats must be 1..1000\n");
        return 2;
    }
    if (strcmp(o.dtype, "tf32") == 0) o.tf32 = true;
    else if (strcmp(o.dtype, "bf16") && strcmp(o.dtype, "f16") && strcmp(o.dtype, "f32")) {
        fprintf(stderr, "bench_cuda_gemm: --dtype must be bf16, f16, f32 or tf32\n");
        return 2;
    }
    if (o.epilogue && strcmp(o.epilogue, "bias_gelu")) {
        fprintf(stderr, "bench_cuda_gemm: --epilogue must be bias_gelu\n");
        return 2;
    }
    struct peer pe = {0};
    char err[256];
    if (!peer_open(&pe, err, sizeof err)) {
        printf("bench_cuda_gemm: SKIPPED: %s\n", err);
        return 77;
    }
    struct problem probs[256];
    int np = make_suite(probs, &o);
    FILE *csv = o.csv ? fopen(o.csv, "w") : NULL;
    if (o.csv && !csv) {
        fprintf(stderr, "bench_cuda_gemm: %s: cannot write\n", o.csv);
        return 1;
    }
    if (csv) fprintf(csv, "family,m,n,k,dtype,transpose_b,epilogue,tessera_tflops,cublas_tflops,ratio,fraction_of_ceiling,status\n");
    /* The measured bf16/f16 ceiling (GPU.md): ~798 TFLOP/s on this workplace's H100. */
    double ceiling = (strcmp(o.dtype, "f32") == 0) ? 51.0 : (o.tf32 ? 378.0 : 798.0);
    printf("GEMM %s%s%s, tessera vs cublasGemmEx (%d repeats, median)\n", o.dtype, o.transpose_b ? ", B as [N,K]" : "",
           o.epilogue ? ", + bias + gelu (cuBLAS: GEMM, then host-side reference for the check; time of GEMM alone)" : "",
           o.repeats);
    printf("%-11s %6s %6s %6s  %10s %10s %7s %8s  %s\n", "family", "M", "N", "K", "tessera", "cuBLAS", "ratio",
           "ceiling", "check");
    int failed = 0;
    double logsum = 0;
    int nlog = 0;
    for (int i = 0; i < np; i++) {
        struct result r;
        bench_one(&pe, &probs[i], &o, &r);
        double flops = 2.0 * (double)probs[i].m * (double)probs[i].n * (double)probs[i].k;
        double ts = r.ok ? flops / (r.ts_ms * 1e-3) / 1e12 : 0, cb = r.peer_ms > 0 ? flops / (r.peer_ms * 1e-3) / 1e12 : 0;
        printf("%-11s %6lld %6lld %6lld  %8.2f T %8.2f T %6.3fx %7.1f%%  %s%s\n", probs[i].family, (long long)probs[i].m,
               (long long)probs[i].n, (long long)probs[i].k, ts, cb, r.ok && cb > 0 ? ts / cb : 0,
               100 * ts / ceiling, r.ok ? "passed" : "FAILED: ", r.ok ? "" : r.why);
        fflush(stdout);
        if (csv)
            fprintf(csv, "%s,%lld,%lld,%lld,%s,%d,%s,%.3f,%.3f,%.4f,%.4f,%s\n", probs[i].family, (long long)probs[i].m,
                    (long long)probs[i].n, (long long)probs[i].k, o.dtype, o.transpose_b, o.epilogue ? o.epilogue : "",
                    ts, cb, r.ok && cb > 0 ? ts / cb : 0, ts / ceiling, r.ok ? "passed" : "failed");
        if (!r.ok) failed++;
        else if (probs[i].m >= 2048 && cb > 0) logsum += log(ts / cb), nlog++;
    }
    if (nlog) printf("geomean ratio at M >= 2048: %.3fx over %d problems\n", exp(logsum / nlog), nlog);
    if (csv) fclose(csv);
    pe.destroy(pe.handle);
    printf("%s (%d of %d problems failed)\n", failed ? "FAILED" : "PASSED", failed, np);
    return failed ? 1 : 0;
}
