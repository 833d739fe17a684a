/* bench_cuda.c — `tessera bench gemm --target cuda`: each problem as the graph
 * a user would write (bench_program.c), compiled by NVRTC and replayed as a
 * CUDA graph by the runtime, against cublasGemmEx and cublasLtMatmul
 * (bench_cublas.c) on the same data in the same process. Every problem is
 * checked against cuBLAS (else cublasLt, else a host f64 loop) before its
 * time counts; all sides are timed alike: CUDA events around each run, the
 * L2 flushed before it, the median of many after a warm-up. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "runtime/runtime.h"
#include "tools/bench_internal.h"

static const char *const peer_names[TS_BENCH_MAX_PEERS] = {"cuBLAS", "cublasLt"};

/* What every problem shares. */
struct gpu_bench {
    const struct ts_bench_opts *o;
    bool strict;                 /* f32 products without tf32: --dtype f32 */
    int device;
    const char *arch;            /* tessera compiles for it */
    struct ts_tune_target target;
    struct ts_tune_db db;        /* --db's records (empty without) */
    struct ts_bench_cublas *peers; /* the CUDA runtime and the libraries found (NULL: no runtime) */
    bool any_peer;               /* cuBLAS or cublasLt can run: else tessera alone */
    bool broken;                 /* TESSERA_BENCH_BREAK=1 */
    bool lost;                   /* a sticky CUDA error: nothing more can run */
};

/* ---- operands ------------------------------------------------------------------ */

/* A, B and bias in the dtype (f16/bf16 as their bits), from a fixed seed per
 * problem so that any subset of a suite gets the same data; values in
 * ±[1/64, 1), never zero, exact in every dtype's rounding of them. */
struct operands {
    void *a, *b, *bias;
    size_t es;
};

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static void *fill(const struct ts_bench_opts *o, int64_t count, uint64_t seed) {
    size_t es = o->dtype == TS_F32 ? 4 : 2;
    void *p = malloc((size_t)(count > 0 ? count : 1) * es);
    uint64_t s = seed | 1;
    for (int64_t i = 0; p && i < count; i++) {
        uint64_t r = next(&s);
        double v = (1.0 / 64 + 63.0 / 64 * (double)(r >> 11) / 9007199254740992.0) * (r & 1 ? -1 : 1);
        if (o->dtype == TS_F32) ((float *)p)[i] = (float)v;
        else if (o->dtype == TS_F16) ((uint16_t *)p)[i] = ts_f16_from_f64(v);
        else ((uint16_t *)p)[i] = ts_bf16_from_f64(v);
    }
    return p;
}

static bool operands_init(const struct ts_bench_opts *o, const struct ts_bench_problem *pr, struct operands *x) {
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(pr->m * 1000003 + pr->n * 1009 + pr->k);
    x->es = o->dtype == TS_F32 ? 4 : 2;
    x->a = fill(o, pr->m * pr->k, seed * 3);
    x->b = fill(o, pr->k * pr->n, seed * 5);
    x->bias = o->epilogue == TS_BENCH_EPI_BIAS_GELU ? fill(o, pr->n, seed * 7) : NULL;
    return x->a && x->b && (x->bias || o->epilogue != TS_BENCH_EPI_BIAS_GELU);
}

static void operands_free(struct operands *x) {
    free(x->a), free(x->b), free(x->bias);
    memset(x, 0, sizeof *x);
}

static double value(const struct ts_bench_opts *o, const void *p, int64_t i) {
    if (o->dtype == TS_F32) return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return o->dtype == TS_F16 ? ts_f16_to_f64(h) : ts_bf16_to_f64(h);
}

static void widen(const struct ts_bench_opts *o, const void *p, int64_t count, float *out) {
    for (int64_t i = 0; i < count; i++) out[i] = (float)value(o, p, i);
}

/* The tanh GELU, cublasLt's (CUBLASLT_EPILOGUE_GELU_BIAS): every side computes it. */
static double gelu_tanh(double x) { return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

/* ---- the host reference (no peer) --------------------------------------------- */

/* Rows checked by the f64 loop: all of them up to 2^30 multiply-adds, else an
 * even sample of rows (first and last among them) within that. */
static int64_t reference_rows(const struct ts_bench_problem *pr) {
    int64_t per_row = pr->n * pr->k, rows = ((int64_t)1 << 30) / (per_row > 0 ? per_row : 1);
    return rows < 1 ? 1 : rows > pr->m ? pr->m : rows;
}
static int64_t reference_row(const struct ts_bench_problem *pr, int64_t i, int64_t nrows) {
    return nrows < 2 ? 0 : i * (pr->m - 1) / (nrows - 1);
}

/* Verifies got against the f64 loop on the sampled rows; the verdict's row is
 * the problem's. */
static bool verify_host(const struct ts_bench_opts *o, const struct ts_bench_problem *pr, const struct operands *x,
                        const float *got, struct ts_bench_verdict *v) {
    int64_t nrows = reference_rows(pr), n = pr->n, k = pr->k;
    float *want = malloc(sizeof(float) * (size_t)(nrows * n)), *mine = malloc(sizeof(float) * (size_t)(nrows * n));
    double *brow = malloc(sizeof(double) * (size_t)(k * n));
    if (!want || !mine || !brow) {
        free(want), free(mine), free(brow);
        return false;
    }
    /* B as [K,N] doubles, whatever its layout. */
    for (int64_t kk = 0; kk < k; kk++)
        for (int64_t j = 0; j < n; j++) brow[kk * n + j] = value(o, x->b, o->trans_b ? j * k + kk : kk * n + j);
    for (int64_t i = 0; i < nrows; i++) {
        int64_t r = reference_row(pr, i, nrows);
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t kk = 0; kk < k; kk++) s += value(o, x->a, r * k + kk) * brow[kk * n + j];
            if (x->bias) s = gelu_tanh(s + value(o, x->bias, j));
            want[i * n + j] = (float)s;
            mine[i * n + j] = got[r * n + j];
        }
    }
    ts_bench_verify(mine, want, nrows, n, k, o->dtype, o->tf32, v);
    v->row = reference_row(pr, v->row, nrows);
    free(want), free(mine), free(brow);
    return true;
}

/* ---- tessera's side: the program on a CUDA session ------------------------------ */

/* As exec_cuda.c builds it, but keeping the session, whose time_each flushes
 * the L2 between replays as the peers' timing does. */
struct tessera_side {
    struct ts_cuda_code *code;
    const char **symbols;
    struct ts_rt_plan plan;
    const void **weights;
    struct ts_rt_cuda_session *s;
};

static void side_free(struct tessera_side *x) {
    ts_rt_cuda_session_free(x->s);
    ts_cuda_code_free(x->code);
    free(x->symbols);
    memset(x, 0, sizeof *x);
}

static enum ts_status side_init(const struct gpu_bench *b, const struct ts_program *p, struct tessera_side *x,
                                struct ts_diag *d) {
    memset(x, 0, sizeof *x);
    struct ts_cuda_opts co = {.arch = b->arch, .strict_f32 = b->strict};
    TS_TRY(ts_cuda_codegen(p, &co, &x->code, d));
    TS_TRY(ts_cuda_code_compile(x->code, d));
    TS_TRY(ts_plan_from_program(p, &x->plan, &x->weights, d));
    ts_plan_set_cuda_launches(&x->plan, x->code);
    if (!(x->symbols = calloc((size_t)p->nkernels + 1, sizeof *x->symbols)))
        return ts_diag_set(d, TS_ERR_NOMEM, "", "bench", "out of memory");
    for (int i = 0; i < p->nkernels; i++) x->symbols[i] = ts_cuda_code_symbol(x->code, i);
    struct ts_rt_cuda_image image = {.symbols = x->symbols};
    size_t ptx_size;
    image.cubin = ts_cuda_code_cubin(x->code, &image.cubin_size);
    image.ptx = ts_cuda_code_ptx(x->code, &ptx_size);
    char err[1024];
    if (ts_rt_cuda_session_init(&x->plan, &image, x->weights, b->device, &x->s, err, sizeof err) != 0)
        return ts_diag_set(d, TS_ERR_RUNTIME, "", "bench", "%s", err);
    return TS_OK;
}

static int compare_doubles(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The median ms of n replays, each from a flushed L2. */
static enum ts_status side_time(struct tessera_side *x, int n, double *ms, struct ts_diag *d) {
    double *t = malloc(sizeof *t * (size_t)n);
    char err[1024];
    if (!t) return ts_diag_set(d, TS_ERR_NOMEM, "", "bench", "out of memory");
    enum ts_status st = TS_OK;
    if (ts_rt_cuda_session_time_each(x->s, n, true, t, err, sizeof err) != 0)
        st = ts_diag_set(d, TS_ERR_RUNTIME, "", "bench", "%s", err);
    qsort(t, (size_t)n, sizeof *t, compare_doubles);
    *ms = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    free(t);
    return st;
}

/* ---- schedules -------------------------------------------------------------------- */

/* --tune: tunes the problems whose task the database lacks, before this
 * process touches the driver (the tuner measures in a child it forks, which
 * must be the first to initialize it). */
static enum ts_status tune_missing(const struct gpu_bench *b, const char *db, const struct ts_bench_problem *probs,
                                   int np, struct ts_diag *d) {
    struct ts_tune_db have = {0};
    TS_TRY(ts_tune_db_load(db, NULL, true, stderr, &have, d));
    enum ts_status st = TS_OK;
    for (int i = 0; i < np && st == TS_OK; i++) {
        struct ts_program *p = NULL;
        if ((st = ts_bench_gemm_program(b->o, &probs[i], true, 8, &p, d)) != TS_OK) break;
        struct ts_tune_task task;
        ts_tune_task_of(p, 0, &task);
        if (!ts_tune_db_best(&have, task.hash, b->target.key)) {
            struct ts_tune_opts to = {.trials = 32, .bench = {.device = b->device}};
            struct ts_tune_report *reps = NULL;
            int nreps = 0;
            fprintf(stderr, "tessera: tuning %s into %s\n", p->graph->name, db);
            st = ts_tune_program(p, &b->target, db, &to, NULL, NULL, &reps, &nreps, stderr, d);
            free(reps);
            ts_tune_db_free(&have);
            if (st == TS_OK) st = ts_tune_db_load(db, NULL, true, stderr, &have, d);
        }
        ts_bench_program_free(p);
    }
    ts_tune_db_free(&have);
    return st;
}

/* ---- one problem --------------------------------------------------------------------- */

static void warn(const struct ts_bench_problem *pr, const char *who, const char *why) {
    fprintf(stderr, "tessera: warning: %lldx%lldx%lld: %s: %s\n", (long long)pr->m, (long long)pr->n,
            (long long)pr->k, who, why);
}

/* The peers' results: the reference (cuBLAS, else cublasLt) in want; false
 * when neither ran. A peer that fails, or cublasLt disagreeing with cuBLAS,
 * is left out of this problem's timing (ok[p] false) with a warning. */
static bool run_peers(struct gpu_bench *b, const struct ts_bench_problem *pr, const struct operands *x, float *want,
                      bool ok[TS_BENCH_MAX_PEERS]) {
    char why[512];
    ok[0] = ok[1] = false;
    if (!b->any_peer) return false;
    if (!ts_bench_cublas_load(b->peers, pr, x->a, x->b, x->bias, why, sizeof why)) {
        warn(pr, "peers", why);
        return false;
    }
    size_t count = (size_t)(pr->m * pr->n);
    float *lt = malloc(sizeof(float) * count);
    for (int p = 0; p < TS_BENCH_MAX_PEERS && lt; p++) {
        if (!ts_bench_cublas_has(b->peers, p, NULL)) continue;
        ok[p] = ts_bench_cublas_run(b->peers, p, p == 0 || !ok[0] ? want : lt, why, sizeof why);
        if (!ok[p]) warn(pr, peer_names[p], why);
    }
    if (ok[0] && ok[1]) {
        struct ts_bench_verdict v;
        ts_bench_verify(lt, want, pr->m, pr->n, pr->k, b->o->dtype, b->o->tf32, &v);
        if (!v.ok) {
            snprintf(why, sizeof why, "differs from cuBLAS (max error %.3g at (%lld, %lld)); its time is not counted",
                     v.max_err, (long long)v.row, (long long)v.col);
            warn(pr, peer_names[1], why);
            ok[1] = false;
        }
    }
    free(lt);
    return ok[0] || ok[1];
}

static void fail_problem(const struct ts_bench_problem *pr, const struct ts_diag *d, struct ts_bench_row *row) {
    fprintf(stderr, "tessera: error: %lldx%lldx%lld: %s\n", (long long)pr->m, (long long)pr->n, (long long)pr->k,
            d->what);
    row->v = (struct ts_bench_verdict){.ok = false, .max_err = INFINITY};
}

static void bench_one(struct gpu_bench *b, const struct ts_bench_problem *pr, struct ts_bench_row *row) {
    const struct ts_bench_opts *o = b->o;
    *row = (struct ts_bench_row){.pr = *pr, .tessera = NAN, .peer = {NAN, NAN}};
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_program *p = NULL;
    struct tessera_side side = {0};
    struct operands x = {0};
    size_t count = (size_t)(pr->m * pr->n);
    float *got = malloc(sizeof(float) * count), *want = malloc(sizeof(float) * count);
    void *out = NULL;
    int applied = 0;
    enum ts_status st = ts_bench_gemm_program(o, pr, true, 8, &p, &d);
    if (st == TS_OK && b->db.n) st = ts_tune_apply(p, &b->db, &b->target, &applied, &d);
    row->from_db = applied == 1;
    if (st == TS_OK && (!got || !want || !operands_init(o, pr, &x) || !(out = malloc(count * x.es))))
        st = ts_diag_set(&d, TS_ERR_NOMEM, "", "bench", "out of memory");
    if (st == TS_OK) st = side_init(b, p, &side, &d);
    if (st == TS_OK) {
        const void *ins[3] = {x.a, x.b, x.bias};
        void *outs[1] = {out};
        char err[1024];
        if (ts_rt_cuda_session_run(side.s, ins, outs, err, sizeof err) != 0)
            st = ts_diag_set(&d, TS_ERR_RUNTIME, "", "bench", "%s", err);
    }
    if (st != TS_OK) {
        b->lost = ts_rt_cuda_last_fault() == TS_RT_CUDA_FAULT_LOST;
        fail_problem(pr, &d, row);
        goto done;
    }
    widen(o, out, (int64_t)count, got);
    if (b->broken) got[count / 2] += 1e4f; /* the test switch: one wrong element */

    bool peer_ok[TS_BENCH_MAX_PEERS];
    if (run_peers(b, pr, &x, want, peer_ok))
        ts_bench_verify(got, want, pr->m, pr->n, pr->k, o->dtype, o->tf32, &row->v);
    else if (!verify_host(o, pr, &x, got, &row->v))
        row->v = (struct ts_bench_verdict){.ok = false, .max_err = INFINITY};
    if (!row->v.ok) goto done;

    /* A few replays decide how many to time: about a quarter second each side. */
    double ms = 0, flops = 2.0 * (double)pr->m * (double)pr->n * (double)pr->k;
    if ((st = side_time(&side, 3, &ms, &d)) != TS_OK) {
        b->lost = ts_rt_cuda_last_fault() == TS_RT_CUDA_FAULT_LOST;
        fail_problem(pr, &d, row);
        goto done;
    }
    int reps = (int)(250.0 / (ms + 0.05));
    reps = reps < 20 ? 20 : reps > 200 ? 200 : reps;
    if ((st = side_time(&side, reps, &ms, &d)) != TS_OK) {
        fail_problem(pr, &d, row);
        goto done;
    }
    row->tessera = flops / (ms * 1e-3);
    side_free(&side); /* its memory back before the peers time */
    for (int i = 0; i < TS_BENCH_MAX_PEERS; i++) {
        char why[512];
        if (!peer_ok[i]) continue;
        if (ts_bench_cublas_time(b->peers, i, reps, &ms, why, sizeof why)) row->peer[i] = flops / (ms * 1e-3);
        else warn(pr, peer_names[i], why);
    }
done:
    if (b->peers) ts_bench_cublas_unload(b->peers);
    side_free(&side);
    ts_bench_program_free(p);
    operands_free(&x);
    free(got), free(want), free(out);
}

/* ---- the header ---------------------------------------------------------------------- */

/* What the fraction column divides by: the bf16 product measured on this
 * workplace's H100 (BENCHMARKS.md) for f16 and bf16 there, else the nominal
 * dense peak of SMs × clock × FLOP per cycle per SM (A100 and H100 figures). */
static double ceiling(const struct gpu_bench *b, const struct ts_rt_cuda_info *g, char *how, size_t size) {
    const struct ts_bench_opts *o = b->o;
    bool half = o->dtype != TS_F32;
    if (half && strstr(g->name, "H100")) {
        snprintf(how, size, "798 TFLOP/s, the bf16 matrix product measured on this workplace's H100 (BENCHMARKS.md)");
        return 798e12;
    }
    int cc = g->cc_major * 10 + g->cc_minor, per_sm = 0;
    if (cc == 90) per_sm = half ? 4096 : o->tf32 ? 2048 : 256;
    if (cc == 80) per_sm = half ? 2048 : o->tf32 ? 1024 : 128;
    int khz = b->peers ? ts_bench_cublas_clock_khz(b->peers) : 0;
    if (!per_sm || khz <= 0) {
        if (!per_sm) snprintf(how, size, "none (no dense %s figure for %s)", ts_bench_dtype_name(o), g->arch);
        else snprintf(how, size, "none (the clock of %.200s is unknown without the CUDA runtime)", g->name);
        return 0;
    }
    double peak = (double)g->sm_count * khz * 1e3 * per_sm;
    snprintf(how, size, "nominal %.0f TFLOP/s: %d SMs x %.2f GHz x %d dense %s FLOP per cycle per SM", peak / 1e12,
             g->sm_count, khz / 1e6, per_sm, ts_bench_dtype_name(o));
    return peak;
}

static void header(const struct gpu_bench *b, const struct ts_rt_cuda_info *g, const char *ceiling_how, int from_db,
                   int np) {
    const struct ts_bench_opts *o = b->o;
    int nv_major = 0, nv_minor = 0;
    struct ts_diag d;
    ts_diag_clear(&d);
    ts_nvrtc_version(&nv_major, &nv_minor, &d);
    printf("# tessera GEMM %s, %s%s, B %s, epilogue %s\n",
           b->any_peer ? "vs cuBLAS (cublasGemmEx) and cublasLt (cublasLtMatmul)" : "alone (no peer)",
           ts_bench_dtype_name(o), o->dtype == TS_F32 ? (o->tf32 ? " (tf32 products)" : " (no tf32)")
                                                      : " (f32 accumulation)",
           o->trans_b ? "[N,K]" : "[K,N]", o->epilogue == TS_BENCH_EPI_BIAS_GELU ? "bias_gelu" : "none");
    printf("# GPU %s (%s, %d SMs), driver %d.%d, NVRTC %d.%d; tessera compiles for %s\n", g->name, g->arch,
           g->sm_count, g->driver_version / 1000, g->driver_version % 1000 / 10, nv_major, nv_minor, b->arch);
    if (b->peers) ts_bench_cublas_describe(b->peers, stdout);
    if (!b->any_peer) printf("# no peer: tessera alone, checked against a host f64 loop (rows sampled past 2^30 multiply-adds)\n");
    if (o->epilogue == TS_BENCH_EPI_BIAS_GELU)
        printf("# epilogue: C = gelu(A.B + bias[N]) with the tanh GELU on every side (cublasLt's GELU_BIAS is the "
               "tanh form); tessera fuses it, cublasLt's epilogue fuses it, cuBLAS is followed by a separate "
               "bias + GELU kernel compiled by NVRTC, timed together\n");
    printf("# ceiling: %s\n", ceiling_how);
    if (o->db) printf("# schedules: %d of %d from %s (target %s), the others default\n", from_db, np, o->db,
                      b->target.key);
    printf("# checked against %s before timing; times: CUDA events, L2 flushed before each run, median of 20-200 "
           "runs after a warm-up\n",
           b->any_peer ? "cuBLAS (cublasLt where cuBLAS failed)" : "the host loop");
    fflush(stdout);
}

/* ---- the target ------------------------------------------------------------------------ */

int ts_bench_gemm_cuda(const struct ts_bench_opts *o, const struct ts_bench_problem *probs, int np) {
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_codegen_check_target(TS_TARGET_CUDA, &d) != TS_OK) return ts_cli_fail(&d);
    if (o->m.strict_f32 && o->tf32)
        return ts_cli_usage_error("bench", "--strict-f32", "contradicts --dtype tf32 (--dtype f32 is strict f32)");
    struct gpu_bench b = {.o = o, .strict = o->dtype == TS_F32 && !o->tf32, .device = (int)o->m.device,
                          .broken = ts_bench_break_requested()};
    char default_db[1024];
    const char *db = o->db;
    if (o->tune && !db) {
        const char *tmp = getenv("TMPDIR");
        snprintf(default_db, sizeof default_db, "%s/tessera-bench.jsonl", tmp && *tmp ? tmp : "/tmp");
        db = default_db;
    }
    /* No GPU or no driver: this is the one line (the probe runs in a child when tuning). */
    if (ts_cli_cuda_target(o->m.arch, b.device, b.strict, true, o->tune, &b.target, &d) != TS_OK)
        return ts_cli_fail(&d);
    if (o->tune && tune_missing(&b, db, probs, np, &d) != TS_OK) return ts_cli_fail(&d);
    if (db && ts_tune_db_load(db, NULL, true, stderr, &b.db, &d) != TS_OK) return ts_cli_fail(&d);

    struct ts_rt_cuda_info gpu;
    char err[1024];
    /* The context is kept for the whole run: sessions made one after another share it. */
    if (ts_rt_cuda_probe(b.device, &gpu, err, sizeof err) != 0 || ts_rt_cuda_keep_context(b.device, err, sizeof err)) {
        fprintf(stderr, "tessera: error: --target cuda: %s\n", err);
        ts_tune_db_free(&b.db);
        return 1;
    }
    b.arch = o->m.arch ? o->m.arch : gpu.arch;
    char why[512];
    b.peers = ts_bench_cublas_open(o, b.device, gpu.arch, why, sizeof why);
    if (!b.peers)
        fprintf(stderr, "tessera: warning: no cuBLAS to compare with (%s): tessera alone, checked against a host "
                        "loop\n", why);
    for (int p = 0; b.peers && p < TS_BENCH_MAX_PEERS; p++) {
        const char *reason;
        if (!ts_bench_cublas_has(b.peers, p, &reason))
            fprintf(stderr, "tessera: warning: %s left out: %s\n", peer_names[p], reason);
    }
    b.any_peer = b.peers && (ts_bench_cublas_has(b.peers, 0, NULL) || ts_bench_cublas_has(b.peers, 1, NULL));

    int from_db = 0;
    for (int i = 0; i < np && b.db.n; i++) {
        struct ts_program *p = NULL;
        int applied = 0;
        if (ts_bench_gemm_program(o, &probs[i], true, 8, &p, &d) == TS_OK &&
            ts_tune_apply(p, &b.db, &b.target, &applied, &d) == TS_OK)
            from_db += applied == 1;
        ts_bench_program_free(p);
        ts_diag_clear(&d); /* a problem that does not compile says so in its row */
    }
    char how[512];
    struct ts_bench_report r = {.o = o, .npeers = b.any_peer ? TS_BENCH_MAX_PEERS : 0,
                                .peer_names = {peer_names[0], peer_names[1]}, .unit = 1e12};
    r.ceiling = ceiling(&b, &gpu, how, sizeof how);
    header(&b, &gpu, how, from_db, np);
    int status = ts_bench_report_begin(&r);
    for (int i = 0; i < np && status == 0; i++) {
        struct ts_bench_row row;
        if (b.lost) {
            /* The context is gone: the rest cannot run, and say so as failures. */
            row = (struct ts_bench_row){.pr = probs[i], .tessera = NAN, .peer = {NAN, NAN},
                                        .v = {.ok = false, .max_err = INFINITY}};
        } else {
            bench_one(&b, &probs[i], &row);
            if (b.lost) fprintf(stderr, "tessera: error: the CUDA context is lost; the remaining problems FAIL\n");
        }
        ts_bench_report_row(&r, &row);
    }
    if (status == 0) status = ts_bench_report_end(&r);
    ts_bench_cublas_close(b.peers);
    ts_tune_db_free(&b.db);
    return status;
}
