/* bench_cpu.c — `tessera bench gemm --target cpu`: tessera's GEMM kernel (as
 * fusion makes it from the problem's graph, bench_program.c) against OpenBLAS
 * (bench_blas.c) in the same process on the same data. Every problem is
 * verified before its time counts: a wrong result is reported FAILED with its
 * largest error and where, never as a speed. Timing: a warm-up, then the
 * median of ≥ 5 runs and ≥ 0.2 s, the inputs rotated through copies that
 * together exceed the L2 cache so no run finds its operands warm.
 *
 * f16 and bf16: tessera reads and writes the narrow type (f32 accumulation);
 * OpenBLAS has no such GEMM here, so the peer is cblas_sgemm on f32 copies of
 * the same values — what a user without tessera would run. The fused
 * epilogue's peer is cblas_sgemm followed by a bias+GELU pass over C, split
 * over the same worker threads. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autotune/autotune.h"
#include "runtime/runtime.h"
#include "tools/bench_internal.h"

/* ---- tessera's kernel ------------------------------------------------------------ */

typedef int32_t (*kernel_fn)(void *const *args, int64_t begin, int64_t end, void *scratch);

enum { MAX_ARGS = 8 };

/* The problem's operands, named as in its graph (bench_program.c). */
enum { OP_A, OP_B, OP_BIAS, OP_C, NOPS };
static const char *const op_names[NOPS] = {"a", "b", "bias", "c"};

struct job {
    kernel_fn fn;
    int nargs;
    int arg_op[MAX_ARGS];     /* the operand (OP_A …) each argument is */
    void *args[MAX_ARGS];
    char *scratch;            /* one slice per worker */
    int64_t scratch_bytes, ntasks;
    int workers;
    struct ts_cpu_code *code;
};

static int32_t run_share(void *ctx, int worker, int64_t begin, int64_t end) {
    struct job *j = ctx;
    return j->fn(j->args, begin, end, j->scratch + (size_t)worker * (size_t)j->scratch_bytes);
}

static enum ts_status job_init(const struct ts_program *p, const char *cpu, struct ts_rt_pool *pool, struct job *j,
                               struct ts_diag *d) {
    memset(j, 0, sizeof *j);
    const struct ts_kernel *k = &p->kernels[0];
    if (k->ninputs + 1 > MAX_ARGS)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "<bench>", p->graph->name, "kernel has %d operands", k->ninputs);
    struct ts_cpu_opts co = {.cpu = cpu, .opt_level = 3};
    void *addr = NULL;
    enum ts_status st = ts_cpu_codegen(p, &co, &j->code, d);
    if (st == TS_OK) st = ts_cpu_code_jit(j->code, &addr, d);
    if (st != TS_OK) {
        ts_cpu_code_free(j->code);
        j->code = NULL;
        return st;
    }
    memcpy(&j->fn, &addr, sizeof j->fn);
    j->nargs = k->ninputs + 1;
    for (int i = 0; i < j->nargs; i++) {
        int buf = i < k->ninputs ? k->inputs[i].buffer : k->output.buffer;
        j->arg_op[i] = -1;
        for (int w = 0; w < NOPS; w++)
            if (strcmp(p->buffers[buf].name, op_names[w]) == 0) j->arg_op[i] = w;
        if (j->arg_op[i] < 0)
            return ts_diag_set(d, TS_ERR_UNSUPPORTED, "<bench>", p->graph->name,
                               "the kernel reads buffer '%s', which is no operand of the problem",
                               p->buffers[buf].name);
    }
    j->scratch_bytes = ts_kernel_scratch_bytes(k);
    j->scratch = aligned_alloc(64, (size_t)(j->scratch_bytes * ts_rt_pool_threads(pool) + 64));
    j->ntasks = ts_kernel_ntasks(k);
    j->workers = ts_kernel_cpu_threads(k);
    if (!j->scratch) return ts_diag_set(d, TS_ERR_NOMEM, "", "bench", "out of memory for the kernel's scratch");
    return TS_OK;
}

static void job_free(struct job *j) {
    free(j->scratch);
    ts_cpu_code_free(j->code);
}

/* ---- data -------------------------------------------------------------------------- */


/* One copy of the operands: tessera's in the dtype (raw), the peer's in f32
 * (the same values; the very same memory when the dtype is f32). */
struct copy {
    void *raw[NOPS];
    float *f32[NOPS];
};

struct operands {
    int copies;
    struct copy *c;
    int64_t count[NOPS];
    enum ts_dtype dtype;
};

static uint64_t rng_state;
static float rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    float u = (float)((rng_state >> 40) * (1.0 / 16777216.0)); /* [0, 1) */
    return u < 0.5f ? u - 0.55f : u - 0.45f;                   /* never zero */
}

static float widen(enum ts_dtype t, const void *raw, int64_t i) {
    if (t == TS_F16) return (float)ts_f16_to_f64(((const uint16_t *)raw)[i]);
    if (t == TS_BF16) return (float)ts_bf16_to_f64(((const uint16_t *)raw)[i]);
    return ((const float *)raw)[i];
}

/* Enough copies that one pass over them all is ≥ 4 MiB: past the L2, so
 * each run reads its operands cold. Values are drawn in f32, rounded to the
 * dtype, and the peer gets exactly the rounded values. */
static bool operands_init(const struct ts_bench_problem *pr, const struct ts_bench_opts *o, struct operands *ops) {
    memset(ops, 0, sizeof *ops);
    ops->dtype = o->dtype;
    ops->count[OP_A] = pr->m * pr->k, ops->count[OP_B] = pr->k * pr->n, ops->count[OP_C] = pr->m * pr->n;
    ops->count[OP_BIAS] = o->epilogue == TS_BENCH_EPI_BIAS_GELU ? pr->n : 0;
    size_t es = ts_dtype_size(o->dtype), bytes = 0;
    for (int i = 0; i < NOPS; i++) bytes += (size_t)ops->count[i] * (es + (o->dtype == TS_F32 ? 0 : 4));
    size_t want = ((size_t)4 << 20) / bytes + 1;
    ops->copies = want > 32 ? 32 : (int)want;
    ops->c = calloc((size_t)ops->copies, sizeof *ops->c);
    if (!ops->c) return false;
    rng_state = 0x243f6a8885a308d3ull; /* the fixed seed: the same data every run */
    for (int c = 0; c < ops->copies; c++) {
        for (int i = 0; i < NOPS; i++) {
            size_t n = (size_t)ops->count[i];
            if (!n) continue;
            struct copy *cp = &ops->c[c];
            cp->raw[i] = malloc(n * es);
            cp->f32[i] = o->dtype == TS_F32 ? cp->raw[i] : malloc(n * 4);
            if (!cp->raw[i] || !cp->f32[i]) return false;
            if (i == OP_C) continue;
            for (size_t x = 0; x < n; x++) {
                float v = rnd();
                if (o->dtype == TS_F16) ((uint16_t *)cp->raw[i])[x] = ts_f16_from_f64(v);
                else if (o->dtype == TS_BF16) ((uint16_t *)cp->raw[i])[x] = ts_bf16_from_f64(v);
                else ((float *)cp->raw[i])[x] = v;
                cp->f32[i][x] = widen(o->dtype, cp->raw[i], (int64_t)x);
            }
        }
    }
    return true;
}

static void operands_free(struct operands *ops) {
    for (int c = 0; ops->c && c < ops->copies; c++)
        for (int i = 0; i < NOPS; i++) {
            if (ops->c[c].f32[i] != ops->c[c].raw[i]) free(ops->c[c].f32[i]);
            free(ops->c[c].raw[i]);
        }
    free(ops->c);
}

/* ---- the peer ---------------------------------------------------------------------- */

static float gelu(double x) { return (float)(0.5 * x * (1.0 + erf(x * 0.70710678118654752440))); }

/* The plain reference when no BLAS is there: f64 accumulation, the epilogue
 * in double. */
static void gemm_plain(const struct ts_bench_problem *pr, const struct ts_bench_opts *o, const struct copy *cp,
                       float *c) {
    const float *a = cp->f32[OP_A], *b = cp->f32[OP_B], *bias = cp->f32[OP_BIAS];
    for (int64_t i = 0; i < pr->m; i++)
        for (int64_t j = 0; j < pr->n; j++) {
            double s = 0;
            for (int64_t p = 0; p < pr->k; p++)
                s += (double)a[i * pr->k + p] * (double)(o->trans_b ? b[j * pr->k + p] : b[p * pr->n + j]);
            c[i * pr->n + j] = bias ? gelu(s + bias[j]) : (float)s;
        }
}

/* The peer's separate element-wise pass: C = gelu(C + bias), rows split
 * over the workers like a kernel's tasks (libm's erff per element). */
struct epilogue_job {
    float *c;
    const float *bias;
    int64_t n;
};

static int32_t epilogue_rows(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker;
    const struct epilogue_job *e = ctx;
    for (int64_t i = begin; i < end; i++) {
        float *row = e->c + i * e->n;
        for (int64_t j = 0; j < e->n; j++) {
            float x = row[j] + e->bias[j];
            row[j] = 0.5f * x * (1.0f + erff(x * 0.70710678f));
        }
    }
    return 0;
}

/* ---- timing ------------------------------------------------------------------------ */

struct runner {
    const struct ts_bench_problem *pr;
    const struct ts_bench_opts *o;
    struct operands *ops;
    struct ts_rt_pool *pool;
    struct job *job;                /* tessera, or NULL: the peer */
    const struct ts_cli_blas *blas;
};

static void run_once(struct runner *r, int copy) {
    struct copy *cp = &r->ops->c[copy];
    if (r->job) {
        for (int i = 0; i < r->job->nargs; i++) r->job->args[i] = cp->raw[r->job->arg_op[i]];
        ts_rt_pool_run(r->pool, r->job->ntasks, r->job->workers, run_share, r->job);
        return;
    }
    ts_cli_blas_sgemm(r->blas, r->o->trans_b, r->pr->m, r->pr->n, r->pr->k, cp->f32[OP_A], cp->f32[OP_B],
                      cp->f32[OP_C]);
    if (r->o->epilogue == TS_BENCH_EPI_BIAS_GELU) {
        struct epilogue_job e = {cp->f32[OP_C], cp->f32[OP_BIAS], r->pr->n};
        ts_rt_pool_run(r->pool, r->pr->m, 0, epilogue_rows, &e);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { MAX_REPS = 1 << 20 }; /* 0.2 s of the smallest problems: ~1 µs a run */

/* The median seconds of ≥ 5 runs and ≥ 0.2 s after a warm-up pass over every copy. */
static double time_runs(struct runner *r, double *t) {
    for (int c = 0; c < r->ops->copies; c++) run_once(r, c);
    double spent = 0;
    int reps = 0;
    while (reps < MAX_REPS && (reps < 5 || spent < 0.2)) {
        double t0 = ts_rt_now_seconds();
        run_once(r, reps % r->ops->copies);
        t[reps] = ts_rt_now_seconds() - t0;
        spent += t[reps++];
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    return t[reps / 2];
}

/* OpenBLAS's idle threads spin for a while after a call and would take a
 * core from our pool (and ours from it): a pause between the two. */
static void settle(struct ts_rt_pool *pool) {
    if (ts_rt_pool_threads(pool) > 1) nanosleep(&(struct timespec){.tv_nsec = 200000000}, NULL);
}

/* ---- schedules ------------------------------------------------------------------- */

/* The schedule for pr's kernel: the database's best record (tuning pr into it
 * first when --tune and it has none), else the default. */
static enum ts_status schedule_for(const struct ts_bench_problem *pr, const struct ts_bench_opts *o,
                                   const struct ts_tune_target *t, struct ts_tune_db *db, int vector_width,
                                   union ts_sched *out, bool *from_db, struct ts_diag *d) {
    struct ts_program *p = NULL;
    TS_TRY(ts_bench_gemm_program(o, pr, false, vector_width, &p, d));
    *out = p->kernels[0].sched;
    *from_db = false;
    enum ts_status st = TS_OK;
    if (o->db) {
        struct ts_tune_task task;
        ts_tune_task_of(p, 0, &task);
        if (o->tune && !ts_tune_db_best(db, task.hash, t->key)) {
            struct ts_tune_opts to = {.trials = 32, .bench = {.cpu = o->m.cpu}};
            struct ts_tune_report *reps = NULL;
            int nreps = 0;
            fprintf(stderr, "tessera: tuning %s into %s\n", p->graph->name, o->db);
            st = ts_tune_program(p, t, o->db, &to, NULL, NULL, &reps, &nreps, stderr, d);
            free(reps);
            if (st == TS_OK) {
                ts_tune_db_free(db);
                st = ts_tune_db_load(o->db, NULL, true, stderr, db, d);
            }
        }
        int applied = 0;
        if (st == TS_OK) st = ts_tune_apply(p, db, t, &applied, d);
        if (st == TS_OK && applied == 1) {
            *out = p->kernels[0].sched;
            *from_db = true;
        }
    }
    ts_bench_program_free(p);
    return st;
}

/* ---- one problem --------------------------------------------------------------------- */

struct bench_ctx {
    const struct ts_bench_opts *o;
    struct ts_cpu_info info;
    struct ts_rt_pool *pool;
    struct ts_cli_blas blas;
    bool have_peer, broken;
    double *times;
};

/* Verifies and times one problem into row; false (diag set) on an error that
 * stops the whole run (out of memory, a compile failure). */
static bool bench_one(struct bench_ctx *x, const struct ts_bench_problem *pr, const union ts_sched *sched,
                      struct ts_bench_row *row, struct ts_diag *d) {
    const struct ts_bench_opts *o = x->o;
    row->tessera = row->peer[0] = NAN;
    struct operands ops;
    struct ts_program *p = NULL;
    struct job job = {0};
    bool ok = operands_init(pr, o, &ops);
    if (!ok) ts_diag_set(d, TS_ERR_NOMEM, "", "bench", "out of memory for %lldx%lldx%lld", (long long)pr->m,
                         (long long)pr->n, (long long)pr->k);
    if (ok) ok = ts_bench_gemm_program(o, pr, false, x->info.vector_width, &p, d) == TS_OK;
    if (ok) p->kernels[0].sched = *sched;
    if (ok) ok = job_init(p, o->m.cpu, x->pool, &job, d) == TS_OK;
    ts_bench_program_free(p);
    if (!ok) {
        job_free(&job);
        operands_free(&ops);
        return false;
    }
    struct runner ts_run = {pr, o, &ops, x->pool, &job, NULL};
    struct runner peer_run = {pr, o, &ops, x->pool, NULL, &x->blas};
    /* Verify first: tessera's result on copy 0 (widened) against the peer's. */
    size_t nc = (size_t)(pr->m * pr->n);
    float *got = malloc(sizeof(float) * nc), *want = malloc(sizeof(float) * nc);
    if (!got || !want) {
        free(got), free(want);
        job_free(&job);
        operands_free(&ops);
        ts_diag_set(d, TS_ERR_NOMEM, "", "bench", "out of memory");
        return false;
    }
    run_once(&ts_run, 0);
    for (size_t i = 0; i < nc; i++) got[i] = widen(o->dtype, ops.c[0].raw[OP_C], (int64_t)i);
    if (x->broken) got[nc / 2] += 1.0f; /* the test switch: a wrong element */
    if (x->have_peer) {
        run_once(&peer_run, 0);
        memcpy(want, ops.c[0].f32[OP_C], sizeof(float) * nc);
    } else {
        gemm_plain(pr, o, &ops.c[0], want);
    }
    ts_bench_verify(got, want, pr->m, pr->n, pr->k, o->dtype, false, &row->v);
    free(got), free(want);
    double flops = 2.0 * (double)pr->m * (double)pr->n * (double)pr->k;
    if (row->v.ok) {
        settle(x->pool);
        row->tessera = flops / time_runs(&ts_run, x->times);
        if (x->have_peer) {
            settle(x->pool);
            row->peer[0] = flops / time_runs(&peer_run, x->times);
        }
    }
    job_free(&job);
    operands_free(&ops);
    return true;
}

/* ---- the target ---------------------------------------------------------------------- */

int ts_bench_gemm_cpu(const struct ts_bench_opts *o, const struct ts_bench_problem *probs, int np) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct bench_ctx x = {.o = o, .broken = ts_bench_break_requested()};
    if (ts_cpu_info_init(o->m.cpu, &x.info, &d) != TS_OK) return ts_cli_fail(&d);
    struct ts_bench_opts oo = *o;
    char default_db[1024];
    if (oo.tune && !oo.db) {
        const char *tmp = getenv("TMPDIR");
        snprintf(default_db, sizeof default_db, "%s/tessera-bench.jsonl", tmp && *tmp ? tmp : "/tmp");
        oo.db = default_db;
    }
    x.o = &oo;

    /* Schedules (and tuning) first, before this process starts a pool: the
     * tuner forks measuring children that must not inherit busy threads. */
    union ts_sched *scheds = calloc((size_t)np + 1, sizeof *scheds);
    bool *from_db = calloc((size_t)np + 1, sizeof *from_db);
    struct ts_tune_target target;
    struct ts_tune_db db = {0};
    int nfrom_db = 0;
    if (!scheds || !from_db) {
        free(scheds), free(from_db);
        fprintf(stderr, "tessera: error: bench: out of memory\n");
        return 1;
    }
    if (ts_tune_target_cpu(&x.info, (int)oo.m.threads, &target, &d) != TS_OK ||
        (oo.db && ts_tune_db_load(oo.db, NULL, true, stderr, &db, &d) != TS_OK)) {
        free(scheds), free(from_db);
        return ts_cli_fail(&d);
    }
    for (int i = 0; i < np; i++) {
        if (schedule_for(&probs[i], &oo, &target, &db, x.info.vector_width, &scheds[i], &from_db[i], &d) != TS_OK) {
            ts_tune_db_free(&db);
            free(scheds), free(from_db);
            return ts_cli_fail(&d);
        }
        nfrom_db += from_db[i];
    }
    ts_tune_db_free(&db);

    char why[512], err[256];
    x.have_peer = ts_cli_blas_open(&x.blas, why, sizeof why);
    if (!x.have_peer)
        fprintf(stderr, "tessera: warning: no BLAS to compare with (%s): tessera alone, checked against a plain "
                        "loop\n", why);
    if (ts_rt_pool_init((int)oo.m.threads, &x.pool, err, sizeof err) != 0) {
        fprintf(stderr, "tessera: error: --threads: %s\n", err);
        ts_cli_blas_close(&x.blas);
        free(scheds), free(from_db);
        return 1;
    }
    int threads = ts_rt_pool_threads(x.pool);
    if (x.have_peer) ts_cli_blas_threads(&x.blas, threads);
    /* The ceiling: FMA chains on every worker at once, measured (f16 and
     * bf16 are widened to f32 before the FMAs: the same ceiling); failing
     * that, two FMA pipes of full vectors per core at the measured clock. */
    double ghz = ts_tune_measure_ghz(), peak = ts_tune_measure_cpu_peak(x.info.vector_bits, x.pool, 0);
    double one = threads > 1 ? ts_tune_measure_cpu_peak(x.info.vector_bits, x.pool, 1) : peak;
    bool measured = peak > 0;
    if (!measured) peak = 4.0 * x.info.vector_width * threads * (ghz > 0.5 ? ghz : 2.6) * 1e9;
    bool epi = oo.epilogue == TS_BENCH_EPI_BIAS_GELU;
    const char *dt = ts_bench_dtype_name(&oo);
    printf("# tessera GEMM%s vs %s, %s, B %s, %d thread%s\n", epi ? " + bias + GELU (fused)" : "",
           x.have_peer ? x.blas.desc : "nothing (no BLAS found)", dt, oo.trans_b ? "[N,K]" : "[K,N]", threads,
           threads > 1 ? "s" : "");
    if (x.have_peer && (oo.dtype != TS_F32 || epi))
        printf("# peer: cblas_sgemm%s%s\n", oo.dtype != TS_F32 ? " on f32 copies of the same values (no narrow GEMM)" : "",
               epi ? ", then a separate bias + erf-GELU pass (libm erff) over the same threads" : "");
    if (measured)
        printf("# CPU %s (%d-bit vectors), %.2f GHz: ceiling %.0f GFLOP/s measured (f32 FMA chains on %d worker%s "
               "at once: %.1f FLOP/cycle/worker)\n", x.info.name, x.info.vector_bits, ghz, peak / 1e9, threads,
               threads > 1 ? "s" : "", ghz > 0.5 ? peak / 1e9 / ghz / threads : 0.0);
    else
        printf("# CPU %s (%d-bit vectors), ceiling %.0f GFLOP/s nominal (2 FMA pipes x %d lanes x %d core%s at %.2f "
               "GHz)\n", x.info.name, x.info.vector_bits, peak / 1e9, x.info.vector_width, threads,
               threads > 1 ? "s" : "", ghz);
    /* Workers that together do no more than ~1.5 of them alone share CPUs:
     * other load, or one of this VM's spells (benchmarks/NOTES.md). */
    if (measured && threads > 1 && peak < 0.75 * threads * one)
        printf("# warning: %d workers reached only %.1fx one worker's FMA rate: the CPUs are shared right now "
               "(other load, or a VM spell); the speeds below are a shared machine's\n", threads, peak / one);
    if (oo.db)
        printf("# schedules: %d of %d from %s (target %s), the others default\n", nfrom_db, np, oo.db, target.key);
    printf("# checked against %s before timing; GFLOP/s of 2MNK over the median of >= 5 runs and >= 0.2 s\n",
           x.have_peer ? x.blas.name : "a plain loop");
    fflush(stdout);

    struct ts_bench_report rep = {.o = &oo, .npeers = x.have_peer ? 1 : 0, .peer_names = {x.blas.name},
                                  .ceiling = peak, .unit = 1e9, .threads = threads};
    x.times = malloc(MAX_REPS * sizeof *x.times);
    int rc = x.times ? ts_bench_report_begin(&rep) : 1;
    for (int i = 0; i < np && rc == 0; i++) {
        struct ts_bench_row row = {.pr = probs[i], .from_db = from_db[i]};
        if (!bench_one(&x, &probs[i], &scheds[i], &row, &d)) {
            rc = ts_cli_fail(&d);
            free(rep.rows);
            if (rep.csv) fclose(rep.csv);
            break;
        }
        ts_bench_report_row(&rep, &row);
    }
    if (rc == 0) rc = ts_bench_report_end(&rep);
    free(x.times);
    free(scheds), free(from_db);
    ts_rt_pool_free(x.pool);
    ts_cli_blas_close(&x.blas);
    return rc;
}
