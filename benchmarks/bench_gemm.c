/* bench_gemm.c — the CPU GEMM suite of BENCHMARKS.md: tessera's LLVM GEMM
 * kernel against OpenBLAS cblas_sgemm in the same run on the same data
 * (f32, row-major A[M,K], B as [K,N] or transposed [N,K]). Each result is
 * checked against the other before its timing counts; each is then timed
 * (warm-up, median of ≥ 5 runs and ≥ --min-time seconds); the table gives
 * GFLOP/s, the ratio, the fraction of peak and geometric means. Other load
 * on the machine shows up as halved 2-thread figures: rerun with --only.
 *
 *   bench_gemm [--threads N] [--quick] [--csv FILE] [--cpu NAME] [--only MxNxK]
 *              [--sched mc,kc,nc,mr,nr] [--min-time S] [--dump-ir FILE] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "autotune/autotune.h"
#include "runtime/runtime.h"

struct problem {
    int64_t m, n, k;
    bool trans_b;   /* B stored [N, K] (a linear layer's weight) */
    const char *family;
};

struct opts {
    int threads;
    bool quick;
    const char *csv;
    const char *cpu;
    const char *only;
    struct ts_sched_gemm sched; /* mr = 0: the default schedule */
    double min_time;
    const char *dump_ir;
};

/* ---- the problem list ---------------------------------------------------- */

#define MAX_PROBLEMS 256

static int add(struct problem *p, int n, int64_t m, int64_t nn, int64_t k, const char *family) {
    for (int t = 0; t < 2 && n < MAX_PROBLEMS; t++)
        p[n++] = (struct problem){.m = m, .n = nn, .k = k, .trans_b = t == 1, .family = family};
    return n;
}

static int suite(struct problem *p, bool quick) {
    static const int64_t ms[] = {1, 32, 128, 512};
    static const int64_t d768[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
    static const int64_t d4096[][2] = {{4096, 4096}, {11008, 4096}};
    static const int64_t squares[] = {256, 512, 1024, 2048};
    int n = 0;
    if (quick) {
        n = add(p, n, 1, 768, 768, "d768");
        n = add(p, n, 32, 2304, 768, "d768");
        n = add(p, n, 512, 2304, 768, "d768");
        n = add(p, n, 512, 768, 3072, "d768");
        for (int i = 0; i < 3; i++) n = add(p, n, squares[i], squares[i], squares[i], "square");
        return n;
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) n = add(p, n, ms[i], d768[j][0], d768[j][1], "d768");
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++) n = add(p, n, ms[i], d4096[j][0], d4096[j][1], "d4096");
    for (int i = 0; i < 4; i++) n = add(p, n, squares[i], squares[i], squares[i], "square");
    return n;
}

/* ---- running tessera's kernel on the pool -------------------------------- */

typedef int32_t (*kernel_fn)(void *const *args, int64_t begin, int64_t end, void *scratch);

struct job {
    kernel_fn fn;
    void *args[3];
    char *scratch;        /* one slice per worker */
    int64_t scratch_bytes;
};

static int32_t run_share(void *ctx, int worker, int64_t begin, int64_t end) {
    struct job *j = ctx;
    return j->fn(j->args, begin, end, j->scratch + (size_t)worker * (size_t)j->scratch_bytes);
}

/* A one-kernel program: C[M,N] = A[M,K]·B with B [K,N] or [N,K]. */
static void make_kernel(const struct problem *pr, struct ts_koperand ops[2], struct ts_kernel *k) {
    memset(ops, 0, 2 * sizeof *ops);
    ops[0] = (struct ts_koperand){.buffer = 0, .dtype = TS_F32, .strides = {pr->k, 0}, .kstride = 1};
    ops[1] = (struct ts_koperand){.buffer = 1, .dtype = TS_F32};
    ops[1].strides[1] = pr->trans_b ? pr->k : 1;
    ops[1].kstride = pr->trans_b ? 1 : pr->n;
    *k = (struct ts_kernel){.kind = TS_KERNEL_GEMM, .name = "gemm", .rank = 2, .dims = {pr->m, pr->n},
                            .k = pr->k, .acc_type = TS_SCALAR_F32, .inputs = ops, .ninputs = 2,
                            .output = {.buffer = 2, .dtype = TS_F32, .strides = {pr->n, 1}},
                            .out_root = -1};
}

/* ---- measuring ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static float rnd(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    float u = (float)((rng >> 40) * (1.0 / 16777216.0)); /* [0, 1) */
    return u < 0.5f ? u - 0.55f : u - 0.45f;                /* never zero */
}

struct result {
    double ts_gflops, ob_gflops;
    double max_err;
    bool ok;
    struct ts_sched_gemm sched;
};

static void sgemm_openblas(const struct problem *pr, const float *a, const float *b, float *c) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, pr->trans_b ? CblasTrans : CblasNoTrans, (int)pr->m,
                (int)pr->n, (int)pr->k, 1.0f, a, (int)pr->k, b, pr->trans_b ? (int)pr->k : (int)pr->n, 0.0f,
                c, (int)pr->n);
}

static bool bench_one(const struct problem *pr, const struct opts *o, const struct ts_cpu_info *info,
                      struct ts_rt_pool *pool, struct result *res) {
    int64_t M = pr->m, N = pr->n, K = pr->k;
    float *a = malloc(sizeof(float) * (size_t)(M * K)), *b = malloc(sizeof(float) * (size_t)(K * N));
    float *c1 = malloc(sizeof(float) * (size_t)(M * N)), *c2 = malloc(sizeof(float) * (size_t)(M * N));
    for (int64_t i = 0; i < M * K; i++) a[i] = rnd();
    for (int64_t i = 0; i < K * N; i++) b[i] = rnd();

    struct ts_koperand ops[2];
    struct ts_kernel k;
    make_kernel(pr, ops, &k);
    if (o->sched.mr) k.sched.gemm = o->sched;
    else ts_sched_default_cpu(&k, info->vector_width);
    res->sched = k.sched.gemm;
    struct ts_program prog = {.kernels = &k, .nkernels = 1};
    FILE *dump = o->dump_ir ? fopen(o->dump_ir, "w") : NULL;
    struct ts_cpu_opts co = {.cpu = o->cpu, .opt_level = 3, .dump_ir = dump};
    struct ts_cpu_code *code = NULL;
    struct ts_diag d = {0};
    void *addr = NULL;
    enum ts_status st = ts_cpu_codegen(&prog, &co, &code, &d);
    if (dump) fclose(dump);
    if (st == TS_OK) st = ts_cpu_code_jit(code, &addr, &d);
    if (st != TS_OK) {
        fprintf(stderr, "bench_gemm: error: %s\n", d.what);
        ts_cpu_code_free(code);
        free(a), free(b), free(c1), free(c2);
        return false;
    }
    struct job job = {.args = {a, b, c1}, .scratch_bytes = ts_kernel_scratch_bytes(&k)};
    memcpy(&job.fn, &addr, sizeof job.fn);
    job.scratch = aligned_alloc(64, (size_t)(job.scratch_bytes * ts_rt_pool_threads(pool) + 64));
    int64_t ntasks = ts_kernel_ntasks(&k);

    /* Check first: each against the other, with a bound that grows with K. */
    ts_rt_pool_run(pool, ntasks, 0, run_share, &job);
    sgemm_openblas(pr, a, b, c2);
    double max_err = 0;
    bool ok = true;
    double tol_abs = 1e-5 * sqrt((double)K) * 4, tol_rel = 1e-4;
    for (int64_t i = 0; i < M * N; i++) {
        double e = fabs((double)c1[i] - (double)c2[i]);
        if (e > max_err || isnan(e)) max_err = isnan(e) ? INFINITY : e;
        if (!(e <= tol_abs + tol_rel * fabs((double)c2[i]))) ok = false;
    }
    res->ok = ok;
    res->max_err = max_err;

    /* Each library in its own block, warm-up first. Not interleaved: after
     * a call, OpenBLAS's idle threads keep spinning for a while (its
     * THREAD_TIMEOUT) and would take a core from our pool's worker; the pause
     * lets them go to sleep first. */
    double flops = 2.0 * (double)M * (double)N * (double)K;
    if (ts_rt_pool_threads(pool) > 1) nanosleep(&(struct timespec){.tv_nsec = 200000000}, NULL);
    enum { MAXREP = 101 };
    double t1[MAXREP], t2[MAXREP];
    int reps = 0;
    double spent = 0;
    ts_rt_pool_run(pool, ntasks, 0, run_share, &job);
    while (reps < MAXREP && (reps < 5 || spent < o->min_time)) {
        double t = ts_rt_now_seconds();
        ts_rt_pool_run(pool, ntasks, 0, run_share, &job);
        t1[reps] = ts_rt_now_seconds() - t;
        spent += t1[reps++];
    }
    int reps2 = 0;
    spent = 0;
    sgemm_openblas(pr, a, b, c2);
    while (reps2 < MAXREP && (reps2 < 5 || spent < o->min_time)) {
        double t = ts_rt_now_seconds();
        sgemm_openblas(pr, a, b, c2);
        t2[reps2] = ts_rt_now_seconds() - t;
        spent += t2[reps2++];
    }
    qsort(t1, (size_t)reps, sizeof *t1, cmp_double);
    qsort(t2, (size_t)reps2, sizeof *t2, cmp_double);
    res->ts_gflops = flops / t1[reps / 2] / 1e9;
    res->ob_gflops = flops / t2[reps2 / 2] / 1e9;
    free(job.scratch);
    ts_cpu_code_free(code);
    free(a), free(b), free(c1), free(c2);
    return true;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(void) {
    fprintf(stderr, "usage: bench_gemm [--threads N] [--quick] [--csv FILE] [--cpu NAME] [--only MxNxK]\n"
                    "                  [--sched mc,kc,nc,mr,nr] [--min-time SECONDS] [--dump-ir FILE]\n");
}

int main(int argc, char **argv) {
    struct opts o = {.threads = 1, .min_time = 0.3};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--quick") == 0) {
            o.quick = true;
            continue;
        }
        if (!val) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(arg, "--threads") == 0) o.threads = atoi(val);
        else if (strcmp(arg, "--csv") == 0) o.csv = val;
        else if (strcmp(arg, "--cpu") == 0) o.cpu = val;
        else if (strcmp(arg, "--only") == 0) o.only = val;
        else if (strcmp(arg, "--min-time") == 0) o.min_time = atof(val);
        else if (strcmp(arg, "--dump-ir") == 0) o.dump_ir = val;
        else if (strcmp(arg, "--sched") == 0) {
            struct ts_sched_gemm *s = &o.sched;
            if (sscanf(val, "%d,%d,%d,%d,%d", &s->mc, &s->kc, &s->nc, &s->mr, &s->nr) != 5 || s->mc < 1 ||
                s->kc < 1 || s->nc < 1 || s->mr < 1 || s->nr < 1) {
                fprintf(stderr, "bench_gemm: error: --sched wants mc,kc,nc,mr,nr (positive)\n");
                return 2;
            }
        } else {
            usage();
            return 2;
        }
    }
    if (o.threads < 1) {
        fprintf(stderr, "bench_gemm: error: --threads wants a positive count\n");
        return 2;
    }
    struct ts_diag d = {0};
    struct ts_cpu_info info;
    if (ts_cpu_info_init(o.cpu, &info, &d) != TS_OK) {
        fprintf(stderr, "bench_gemm: error: %s\n", d.what);
        return 1;
    }
    struct ts_rt_pool *pool = NULL;
    char err[256];
    if (ts_rt_pool_init(o.threads, &pool, err, sizeof err) != 0) {
        fprintf(stderr, "bench_gemm: error: %s\n", err);
        return 1;
    }
    openblas_set_num_threads(o.threads);

    struct problem probs[MAX_PROBLEMS];
    int np = 0;
    if (o.only) {
        long long m, n, k;
        if (sscanf(o.only, "%lldx%lldx%lld", &m, &n, &k) != 3 || m < 1 || n < 1 || k < 1) {
            fprintf(stderr, "bench_gemm: error: --only wants MxNxK\n");
            return 2;
        }
        np = add(probs, 0, m, n, k, "only");
    } else {
        np = suite(probs, o.quick);
    }

    /* Peak: two FMA pipes of vector_width f32 lanes per core (32 FLOP/cycle
     * with AVX2, 64 with AVX-512 on Zen 4/5) at the measured clock. */
    double ghz = ts_tune_measure_ghz(); /* autotune/estimate.c: a dependent add chain */
    bool measured = ghz > 0.5;
    if (!measured) ghz = 2.6;
    double fpc = 4.0 * info.vector_width;
    double peak = fpc * o.threads * ghz;
    printf("# tessera GEMM vs OpenBLAS %s (%s), f32, %d thread%s\n", openblas_get_corename(),
           openblas_get_config(), o.threads, o.threads > 1 ? "s" : "");
    printf("# CPU %s (%d-bit vectors); peak %.0f FLOP/cycle × %d × %.2f GHz (%s) = %.0f GFLOP/s"
           " (AVX2 peak, 32 FLOP/cycle: %.0f)\n",
           info.name, info.vector_bits, fpc, o.threads, ghz, measured ? "measured" : "nominal", peak,
           32.0 * o.threads * ghz);
    printf("%-24s %-5s %-20s %9s %9s %6s %6s  %s\n", "problem", "B", "mc/kc/nc/mr/nr", "tessera", "OpenBLAS",
           "ratio", "peak", "check");
    FILE *csv = o.csv ? fopen(o.csv, "w") : NULL;
    if (o.csv && !csv) {
        fprintf(stderr, "bench_gemm: error: cannot write %s\n", o.csv);
        return 1;
    }
    if (csv)
        fprintf(csv, "family,m,n,k,b_layout,threads,mc,kc,nc,mr,nr,tessera_gflops,openblas_gflops,ratio,"
                     "fraction_of_peak,max_abs_diff,check\n");
    double logsum = 0, logsum_big = 0;
    int counted = 0, counted_big = 0, failed = 0;
    for (int i = 0; i < np; i++) {
        const struct problem *p = &probs[i];
        struct result r;
        if (!bench_one(p, &o, &info, pool, &r)) {
            failed++;
            continue;
        }
        char name[64], sched[32];
        snprintf(name, sizeof name, "%s %lldx%lldx%lld", p->family, (long long)p->m, (long long)p->n,
                 (long long)p->k);
        snprintf(sched, sizeof sched, "%d/%d/%d/%d/%d", r.sched.mc, r.sched.kc, r.sched.nc, r.sched.mr,
                 r.sched.nr);
        double ratio = r.ts_gflops / r.ob_gflops;
        printf("%-24s %-5s %-20s %9.1f %9.1f %6.2f %5.0f%%  %s", name, p->trans_b ? "[N,K]" : "[K,N]", sched,
               r.ts_gflops, r.ob_gflops, ratio, 100 * r.ts_gflops / peak, r.ok ? "ok" : "MISMATCH");
        if (!r.ok) printf(" (max diff %.3g)", r.max_err);
        printf("\n");
        fflush(stdout);
        if (csv)
            fprintf(csv, "%s,%lld,%lld,%lld,%s,%d,%d,%d,%d,%d,%d,%.2f,%.2f,%.4f,%.4f,%.3g,%s\n", p->family,
                    (long long)p->m, (long long)p->n, (long long)p->k, p->trans_b ? "NK" : "KN", o.threads,
                    r.sched.mc, r.sched.kc, r.sched.nc, r.sched.mr, r.sched.nr, r.ts_gflops, r.ob_gflops, ratio,
                    r.ts_gflops / peak, r.max_err, r.ok ? "ok" : "mismatch");
        if (!r.ok) {
            failed++;
            continue;
        }
        logsum += log(ratio);
        counted++;
        if (p->m >= 512 && p->n >= 512 && p->k >= 512) {
            logsum_big += log(ratio);
            counted_big++;
        }
    }
    if (counted) printf("geomean ratio (all %d checked problems): %.3f\n", counted, exp(logsum / counted));
    if (counted_big)
        printf("geomean ratio (M, N, K >= 512, %d problems): %.3f\n", counted_big, exp(logsum_big / counted_big));
    if (failed) printf("%d problem%s failed or mismatched\n", failed, failed > 1 ? "s" : "");
    if (csv) fclose(csv);
    ts_rt_pool_free(pool);
    return failed ? 1 : 0;
}
