/* bench_gemm.c — the CPU GEMM suite of BENCHMARKS.md: tessera's LLVM GEMM
 * kernel against OpenBLAS cblas_sgemm in the same run on the same data
 * (f32, row-major A[M,K], B as [K,N] or transposed [N,K]). Each result is
 * checked against the other before its timing counts; each is then timed
 * (warm-up, median of ≥ 5 runs and ≥ --min-time seconds); the table gives
 * GFLOP/s, the ratio, the fraction of peak and geometric means. Other load
 * on the machine shows up as halved 2-thread figures: rerun with --only.
 *
 * With --db (or --tune) each problem is also tuned by the autotuner into that
 * database (issue #5) and timed a second time with the tuned schedule: the
 * table then has default, tuned and OpenBLAS side by side.
 *
 *   bench_gemm [--threads N] [--quick] [--csv FILE] [--cpu NAME] [--only MxNxK]
 *              [--sched mc,kc,nc,mr,nr] [--min-time S] [--dump-ir FILE]
 *              [--db FILE] [--tune] [--trials N] [--seed N] [--rounds N] */
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
    const char *db;             /* the tuning database: NULL, no tuned column */
    bool tune;                  /* run the tuner on problems the database already has too (it resumes) */
    int trials;
    uint64_t seed;
    int rounds;                 /* timing blocks per library, best kept (1: one block each) */
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

/* ---- the kernel, and the program the tuner takes ---------------------------- */

/* C[M,N] = A[M,K]·B with B [K,N] or [N,K]: buffers 0 (A), 1 (B), 2 (C). */
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

/* ---- running tessera's kernel on the pool -------------------------------- */

typedef int32_t (*kernel_fn)(void *const *args, int64_t begin, int64_t end, void *scratch);

struct job {
    kernel_fn fn;
    void *args[3];
    char *scratch;        /* one slice per worker */
    int64_t scratch_bytes;
    int64_t ntasks;
    int workers;          /* the schedule's thread cap (0: every worker of the pool) */
    struct ts_cpu_code *code;
};

static int32_t run_share(void *ctx, int worker, int64_t begin, int64_t end) {
    struct job *j = ctx;
    return j->fn(j->args, begin, end, j->scratch + (size_t)worker * (size_t)j->scratch_bytes);
}

static void job_run(struct ts_rt_pool *pool, struct job *j) {
    ts_rt_pool_run(pool, j->ntasks, j->workers, run_share, j);
}

/* Compiles kernel k (its schedule as it is) into a job computing c = a·b. */
static bool job_init(const struct ts_kernel *k, const struct opts *o, FILE *dump, struct ts_rt_pool *pool, float *a,
                     float *b, float *c, struct job *j) {
    memset(j, 0, sizeof *j);
    struct ts_program prog = {.kernels = (struct ts_kernel *)(uintptr_t)k, .nkernels = 1};
    struct ts_cpu_opts co = {.cpu = o->cpu, .opt_level = 3, .dump_ir = dump};
    struct ts_diag d = {0};
    void *addr = NULL;
    enum ts_status st = ts_cpu_codegen(&prog, &co, &j->code, &d);
    if (st == TS_OK) st = ts_cpu_code_jit(j->code, &addr, &d);
    if (st != TS_OK) {
        fprintf(stderr, "bench_gemm: error: %s\n", d.what);
        ts_cpu_code_free(j->code);
        j->code = NULL;
        return false;
    }
    memcpy(&j->fn, &addr, sizeof j->fn);
    j->args[0] = a, j->args[1] = b, j->args[2] = c;
    j->scratch_bytes = ts_kernel_scratch_bytes(k);
    j->scratch = aligned_alloc(64, (size_t)(j->scratch_bytes * ts_rt_pool_threads(pool) + 64));
    j->ntasks = ts_kernel_ntasks(k);
    j->workers = ts_kernel_cpu_threads(k);
    return true;
}

static void job_free(struct job *j) {
    free(j->scratch);
    ts_cpu_code_free(j->code);
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
    double ts_gflops, tuned_gflops, ob_gflops;
    double max_err;
    bool ok;
    struct ts_sched_gemm sched, tuned;
    bool same;      /* the tuned schedule is the default: one measurement for both */
};

static void sgemm_openblas(const struct problem *pr, const float *a, const float *b, float *c) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, pr->trans_b ? CblasTrans : CblasNoTrans, (int)pr->m,
                (int)pr->n, (int)pr->k, 1.0f, a, (int)pr->k, b, pr->trans_b ? (int)pr->k : (int)pr->n, 0.0f,
                c, (int)pr->n);
}

/* Whether x and y agree within a bound that grows with K; *max_err gets the worst difference seen. */
static bool agree(const float *x, const float *y, int64_t n, int64_t K, double *max_err) {
    bool ok = true;
    double tol_abs = 1e-5 * sqrt((double)K) * 4, tol_rel = 1e-4;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)x[i] - (double)y[i]);
        if (e > *max_err || isnan(e)) *max_err = isnan(e) ? INFINITY : e;
        if (!(e <= tol_abs + tol_rel * fabs((double)y[i]))) ok = false;
    }
    return ok;
}

enum { MAXREP = 101 };

/* The median seconds of runs after a warm-up: ≥ 5 runs and ≥ min_time seconds. */
static double time_job(struct ts_rt_pool *pool, struct job *j, double min_time) {
    double t[MAXREP], spent = 0;
    int reps = 0;
    job_run(pool, j);
    while (reps < MAXREP && (reps < 5 || spent < min_time)) {
        double t0 = ts_rt_now_seconds();
        job_run(pool, j);
        t[reps] = ts_rt_now_seconds() - t0;
        spent += t[reps++];
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    return t[reps / 2];
}

static double time_openblas(const struct problem *pr, const float *a, const float *b, float *c, double min_time) {
    double t[MAXREP], spent = 0;
    int reps = 0;
    sgemm_openblas(pr, a, b, c);
    while (reps < MAXREP && (reps < 5 || spent < min_time)) {
        double t0 = ts_rt_now_seconds();
        sgemm_openblas(pr, a, b, c);
        t[reps] = ts_rt_now_seconds() - t0;
        spent += t[reps++];
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    return t[reps / 2];
}

/* Pauses before timing one library after another. After a call, OpenBLAS's
 * idle threads keep spinning for a while (its THREAD_TIMEOUT) and would take a
 * core from our pool's worker (and ours from it); the pause lets them sleep. */
static void settle(struct ts_rt_pool *pool) {
    if (ts_rt_pool_threads(pool) > 1) nanosleep(&(struct timespec){.tv_nsec = 200000000}, NULL);
}

/* Times the default schedule (or --sched), the tuned one when given (NULL:
 * none) and OpenBLAS, each checked against the others first. */
static bool bench_one(const struct problem *pr, const struct opts *o, const struct ts_cpu_info *info,
                      struct ts_rt_pool *pool, const struct ts_sched_gemm *tuned, struct result *res) {
    int64_t M = pr->m, N = pr->n, K = pr->k;
    memset(res, 0, sizeof *res);
    float *a = malloc(sizeof(float) * (size_t)(M * K)), *b = malloc(sizeof(float) * (size_t)(K * N));
    float *c1 = malloc(sizeof(float) * (size_t)(M * N)), *c2 = malloc(sizeof(float) * (size_t)(M * N));
    float *c3 = tuned ? malloc(sizeof(float) * (size_t)(M * N)) : NULL;
    for (int64_t i = 0; i < M * K; i++) a[i] = rnd();
    for (int64_t i = 0; i < K * N; i++) b[i] = rnd();

    struct ts_koperand ops[2];
    struct ts_kernel k;
    make_kernel(pr, ops, &k);
    if (o->sched.mr) k.sched.gemm = o->sched;
    else ts_sched_default_cpu(&k, info->vector_width);
    res->sched = k.sched.gemm;
    struct ts_kernel kt = k;
    if (tuned) {
        kt.sched.gemm = *tuned;
        res->tuned = *tuned;
        res->same = memcmp(&kt.sched.gemm, &k.sched.gemm, sizeof k.sched.gemm) == 0;
    }
    FILE *dump = o->dump_ir ? fopen(o->dump_ir, "w") : NULL;
    struct job j1, j3 = {0};
    bool ok = job_init(&k, o, dump, pool, a, b, c1, &j1);
    if (dump) fclose(dump);
    bool two = ok && tuned && !res->same;
    if (two && !job_init(&kt, o, NULL, pool, a, b, c3, &j3)) {
        job_free(&j1);
        ok = false;
    }
    if (!ok) {
        free(a), free(b), free(c1), free(c2), free(c3);
        return false;
    }

    /* Check first: each against the others, with a bound that grows with K. */
    job_run(pool, &j1);
    sgemm_openblas(pr, a, b, c2);
    double max_err = 0;
    res->ok = agree(c1, c2, M * N, K, &max_err);
    if (two) {
        job_run(pool, &j3);
        res->ok &= agree(c3, c2, M * N, K, &max_err);
        res->ok &= agree(c3, c1, M * N, K, &max_err);
    }
    res->max_err = max_err;

    /* Each in its own block, warm-up first (not interleaved: see settle);
     * with --rounds the blocks are repeated in turn and each keeps its best
     * median, so that all three see the same spells of a slower machine. */
    double flops = 2.0 * (double)M * (double)N * (double)K;
    double s1 = INFINITY, s3 = INFINITY, s2 = INFINITY;
    for (int round = 0; round < o->rounds; round++) {
        settle(pool);
        s1 = fmin(s1, time_job(pool, &j1, o->min_time));
        if (two) s3 = fmin(s3, time_job(pool, &j3, o->min_time));
        s2 = fmin(s2, time_openblas(pr, a, b, c2, o->min_time));
    }
    settle(pool);
    res->ts_gflops = flops / s1 / 1e9;
    if (two) res->tuned_gflops = flops / s3 / 1e9;
    else if (tuned) res->tuned_gflops = res->ts_gflops;
    res->ob_gflops = flops / s2 / 1e9;
    job_free(&j1);
    if (two) job_free(&j3);
    free(a), free(b), free(c1), free(c2), free(c3);
    return true;
}

/* ---- tuning --------------------------------------------------------------------- */

struct tuned {
    struct ts_sched_gemm sched;
    bool have;           /* a record applied (else the default stands) */
    bool tuned_now;      /* the tuner ran in this run (else the database had the task) */
    double seconds;      /* the tuner's wall time for this problem in this run */
    int measured, space; /* candidates measured in this run, legal candidates */
};

/* Tunes problem pr into o->db unless the database already has its task (or
 * with --tune, always: the tuner resumes, measuring only what it has not),
 * then applies the database's best to get the tuned schedule. */
static bool tune_one(const struct problem *pr, const struct opts *o, const struct ts_tune_target *t,
                     struct ts_tune_db *db, struct tuned *out) {
    memset(out, 0, sizeof *out);
    struct ts_diag d = {0};
    struct ts_program *p = NULL;
    if (ts_tune_gemm_program(pr->m, pr->n, pr->k, pr->trans_b, t->vector_bits / 32, &p, &d) != TS_OK) {
        fprintf(stderr, "bench_gemm: error: %s\n", d.what);
        return false;
    }
    out->sched = p->kernels[0].sched.gemm;
    struct ts_tune_task task;
    ts_tune_task_of(p, 0, &task);
    bool ok = true;
    if (o->tune || !ts_tune_db_best(db, task.hash, t->key)) {
        struct ts_tune_opts to = {.trials = o->trials, .seed = o->seed, .bench = {.cpu = o->cpu}};
        struct ts_tune_report *reps = NULL;
        int nreps = 0;
        double t0 = ts_rt_now_seconds();
        enum ts_status st = ts_tune_program(p, t, o->db, &to, NULL, NULL, &reps, &nreps, stderr, &d);
        out->seconds = ts_rt_now_seconds() - t0;
        out->tuned_now = true;
        if (st == TS_OK && nreps == 1) {
            const struct ts_tune_report *r = &reps[0];
            out->measured = r->measured;
            out->space = r->space;
            char best[128];
            ts_tune_sched_format(TS_KERNEL_GEMM, TS_TARGET_CPU, &r->best, best, sizeof best);
            fprintf(stderr,
                    "bench_gemm: tuned %-26s %s: space %d, measured %d (known %d, failed %d)%s%s, default %.1f "
                    "-> best %.1f GFLOP/s (%s), %.1f s%s%s\n",
                    p->graph->name, task.hash, r->space, r->measured, r->known, r->failed,
                    r->exhaustive ? ", exhaustive" : "", r->early_stop ? ", early stop" : "",
                    task.flops / r->default_s / 1e9, task.flops / r->best_s / 1e9, best, out->seconds,
                    r->error[0] ? ": " : "", r->error);
        }
        free(reps);
        if (st == TS_OK) {
            ts_tune_db_free(db);
            st = ts_tune_db_load(o->db, NULL, true, stderr, db, &d);
        }
        if (st != TS_OK) {
            fprintf(stderr, "bench_gemm: error: %s\n", d.what);
            ok = false;
        }
    }
    int applied = 0;
    if (ok && ts_tune_apply(p, db, t, &applied, &d) == TS_OK && applied == 1) {
        out->sched = p->kernels[0].sched.gemm;
        out->have = true;
    }
    ts_graph_free((struct ts_graph *)(uintptr_t)p->graph);
    return ok;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(void) {
    fprintf(stderr, "usage: bench_gemm [--threads N] [--quick] [--csv FILE] [--cpu NAME] [--only MxNxK]\n"
                    "                  [--sched mc,kc,nc,mr,nr] [--min-time SECONDS] [--dump-ir FILE]\n"
                    "                  [--db FILE] [--tune] [--trials N] [--seed N] [--rounds N]\n"
                    "  --db FILE   also time each problem's tuned schedule: the best record of FILE, after\n"
                    "              tuning problems FILE has no record of into it (it resumes: a second run\n"
                    "              measures nothing)\n"
                    "  --tune      run the tuner on every problem, also those FILE has (it measures only\n"
                    "              what its search has not measured yet, e.g. after raising --trials);\n"
                    "              without --db the database is $TMPDIR/bench_gemm-tune.jsonl\n"
                    "  --trials N  candidates measured per problem at most (64); --seed N the search's seed\n"
                    "  --rounds N  time each library in N blocks taken in turn, keeping each one's best (1)\n");
}

static void sched_str(const struct ts_sched_gemm *s, bool threads, char *buf, size_t size) {
    if (threads) snprintf(buf, size, "%d/%d/%d/%d/%d/%d", s->mc, s->kc, s->nc, s->mr, s->nr, s->threads);
    else snprintf(buf, size, "%d/%d/%d/%d/%d", s->mc, s->kc, s->nc, s->mr, s->nr);
}

int main(int argc, char **argv) {
    struct opts o = {.threads = 1, .min_time = 0.3, .trials = 64, .rounds = 1};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--quick") == 0 || strcmp(arg, "--tune") == 0) {
            if (arg[2] == 'q') o.quick = true;
            else o.tune = true;
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
        else if (strcmp(arg, "--db") == 0) o.db = val;
        else if (strcmp(arg, "--trials") == 0) o.trials = atoi(val);
        else if (strcmp(arg, "--seed") == 0) o.seed = strtoull(val, NULL, 10);
        else if (strcmp(arg, "--rounds") == 0) o.rounds = atoi(val);
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
    if (o.trials < 1 || o.rounds < 1) {
        fprintf(stderr, "bench_gemm: error: --trials and --rounds want positive counts\n");
        return 2;
    }
    char default_db[1024];
    if (o.tune && !o.db) {
        const char *tmp = getenv("TMPDIR");
        snprintf(default_db, sizeof default_db, "%s/bench_gemm-tune.jsonl", tmp && *tmp ? tmp : "/tmp");
        o.db = default_db;
    }
    bool tuning = o.db != NULL;
    struct ts_diag d = {0};
    struct ts_cpu_info info;
    if (ts_cpu_info_init(o.cpu, &info, &d) != TS_OK) {
        fprintf(stderr, "bench_gemm: error: %s\n", d.what);
        return 1;
    }

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

    /* Tuning first, before this process starts a pool of its own: the tuner
     * forks a measuring child per candidate, which must not inherit busy
     * threads (measure_cpu.c), and no timing of ours runs beside it. */
    static struct tuned tuned[MAX_PROBLEMS];
    struct ts_tune_target target;
    double tune_total = 0;
    int tuned_now = 0;
    if (tuning) {
        if (ts_tune_target_cpu(&info, o.threads, &target, &d) != TS_OK) {
            fprintf(stderr, "bench_gemm: error: %s\n", d.what);
            return 1;
        }
        struct ts_tune_db db = {0};
        if (ts_tune_db_load(o.db, NULL, true, stderr, &db, &d) != TS_OK) {
            fprintf(stderr, "bench_gemm: error: %s\n", d.what);
            return 1;
        }
        for (int i = 0; i < np; i++) {
            if (!tune_one(&probs[i], &o, &target, &db, &tuned[i])) {
                ts_tune_db_free(&db);
                return 1;
            }
            tune_total += tuned[i].seconds;
            tuned_now += tuned[i].tuned_now;
        }
        ts_tune_db_free(&db);
    }

    struct ts_rt_pool *pool = NULL;
    char err[256];
    if (ts_rt_pool_init(o.threads, &pool, err, sizeof err) != 0) {
        fprintf(stderr, "bench_gemm: error: %s\n", err);
        return 1;
    }
    openblas_set_num_threads(o.threads);

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
    if (o.rounds > 1)
        printf("# each timed in %d rounds taken in turn (default, tuned, OpenBLAS), each keeping its best median\n",
               o.rounds);
    if (tuning) {
        printf("# tuned: database %s, target %s, %d trials per problem at most, seed %llu; %d of %d problems "
               "tuned in this run (%.1f s)%s\n",
               o.db, target.key, o.trials, (unsigned long long)o.seed, tuned_now, np, tune_total,
               tuned_now < np ? ", the others from records already there" : "");
        printf("%-24s %-5s %9s %9s %9s %7s %7s  %-24s %7s  %s\n", "problem", "B", "default", "tuned", "OpenBLAS",
               "tun/OB", "def/OB", "tuned mc/kc/nc/mr/nr/t", "tune s", "check");
    } else {
        printf("%-24s %-5s %-20s %9s %9s %6s %6s  %s\n", "problem", "B", "mc/kc/nc/mr/nr", "tessera", "OpenBLAS",
               "ratio", "peak", "check");
    }
    FILE *csv = o.csv ? fopen(o.csv, "w") : NULL;
    if (o.csv && !csv) {
        fprintf(stderr, "bench_gemm: error: cannot write %s\n", o.csv);
        return 1;
    }
    if (csv && tuning)
        fprintf(csv, "family,m,n,k,b_layout,threads,default_gflops,tuned_gflops,openblas_gflops,tuned_ratio,"
                     "default_ratio,mc,kc,nc,mr,nr,tuned_mc,tuned_kc,tuned_nc,tuned_mr,tuned_nr,tuned_threads,"
                     "tuned_is_default,tune_seconds,tuned_now,measured,space,max_abs_diff,check\n");
    else if (csv)
        fprintf(csv, "family,m,n,k,b_layout,threads,mc,kc,nc,mr,nr,tessera_gflops,openblas_gflops,ratio,"
                     "fraction_of_peak,max_abs_diff,check\n");
    double logsum = 0, logsum_big = 0, logt = 0, logt_big = 0, logtd = 0;
    int counted = 0, counted_big = 0, failed = 0;
    for (int i = 0; i < np; i++) {
        const struct problem *p = &probs[i];
        struct result r;
        if (!bench_one(p, &o, &info, pool, tuning ? &tuned[i].sched : NULL, &r)) {
            failed++;
            continue;
        }
        char name[64], sched[32], tsched[48];
        snprintf(name, sizeof name, "%s %lldx%lldx%lld", p->family, (long long)p->m, (long long)p->n,
                 (long long)p->k);
        sched_str(&r.sched, false, sched, sizeof sched);
        double ratio = r.ts_gflops / r.ob_gflops, tratio = r.tuned_gflops / r.ob_gflops;
        const char *layout = p->trans_b ? "[N,K]" : "[K,N]";
        if (tuning) {
            const struct tuned *tu = &tuned[i];
            sched_str(&r.tuned, true, tsched, sizeof tsched);
            if (r.same) snprintf(tsched + strlen(tsched), sizeof tsched - strlen(tsched), " =def");
            char ts[16];
            if (tu->tuned_now) snprintf(ts, sizeof ts, "%.1f", tu->seconds);
            else snprintf(ts, sizeof ts, "db");
            printf("%-24s %-5s %9.1f %9.1f %9.1f %7.2f %7.2f  %-24s %7s  %s", name, layout, r.ts_gflops,
                   r.tuned_gflops, r.ob_gflops, tratio, ratio, tsched, ts, r.ok ? "ok" : "MISMATCH");
        } else {
            printf("%-24s %-5s %-20s %9.1f %9.1f %6.2f %5.0f%%  %s", name, layout, sched, r.ts_gflops, r.ob_gflops,
                   ratio, 100 * r.ts_gflops / peak, r.ok ? "ok" : "MISMATCH");
        }
        if (!r.ok) printf(" (max diff %.3g)", r.max_err);
        printf("\n");
        fflush(stdout);
        if (csv && tuning) {
            const struct tuned *tu = &tuned[i];
            fprintf(csv, "%s,%lld,%lld,%lld,%s,%d,%.2f,%.2f,%.2f,%.4f,%.4f,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%.2f,%d,"
                         "%d,%d,%.3g,%s\n",
                    p->family, (long long)p->m, (long long)p->n, (long long)p->k, p->trans_b ? "NK" : "KN", o.threads,
                    r.ts_gflops, r.tuned_gflops, r.ob_gflops, tratio, ratio, r.sched.mc, r.sched.kc, r.sched.nc,
                    r.sched.mr, r.sched.nr, r.tuned.mc, r.tuned.kc, r.tuned.nc, r.tuned.mr, r.tuned.nr, r.tuned.threads,
                    (int)r.same, tu->seconds, (int)tu->tuned_now, tu->measured, tu->space, r.max_err,
                    r.ok ? "ok" : "mismatch");
        } else if (csv) {
            fprintf(csv, "%s,%lld,%lld,%lld,%s,%d,%d,%d,%d,%d,%d,%.2f,%.2f,%.4f,%.4f,%.3g,%s\n", p->family,
                    (long long)p->m, (long long)p->n, (long long)p->k, p->trans_b ? "NK" : "KN", o.threads,
                    r.sched.mc, r.sched.kc, r.sched.nc, r.sched.mr, r.sched.nr, r.ts_gflops, r.ob_gflops, ratio,
                    r.ts_gflops / peak, r.max_err, r.ok ? "ok" : "mismatch");
        }
        if (!r.ok) {
            failed++;
            continue;
        }
        bool big = p->m >= 512 && p->n >= 512 && p->k >= 512;
        logsum += log(ratio);
        logt += log(tratio);
        logtd += log(r.tuned_gflops / r.ts_gflops);
        counted++;
        if (big) {
            logsum_big += log(ratio);
            logt_big += log(tratio);
            counted_big++;
        }
    }
    if (tuning) {
        if (counted)
            printf("geomean (all %d checked problems): tuned/OpenBLAS %.3f, default/OpenBLAS %.3f, "
                   "tuned/default %.3f\n",
                   counted, exp(logt / counted), exp(logsum / counted), exp(logtd / counted));
        if (counted_big)
            printf("geomean (M, N, K >= 512, %d problems): tuned/OpenBLAS %.3f, default/OpenBLAS %.3f\n", counted_big,
                   exp(logt_big / counted_big), exp(logsum_big / counted_big));
        printf("tuning time: %.1f s for the %d problem%s tuned in this run\n", tune_total, tuned_now,
               tuned_now == 1 ? "" : "s");
    } else {
        if (counted) printf("geomean ratio (all %d checked problems): %.3f\n", counted, exp(logsum / counted));
        if (counted_big)
            printf("geomean ratio (M, N, K >= 512, %d problems): %.3f\n", counted_big, exp(logsum_big / counted_big));
    }
    if (failed) printf("%d problem%s failed or mismatched\n", failed, failed > 1 ? "s" : "");
    if (csv) fclose(csv);
    ts_rt_pool_free(pool);
    return failed ? 1 : 0;
}
