/* bench.c — `tessera bench gemm --target cpu`: tessera's GEMM kernel against
 * OpenBLAS (bench_blas.c) in the same process on the same data. Every
 * problem is verified before its time counts: a wrong result is reported
 * FAILED with its largest error and where, never as a speed. Timing: a
 * warm-up, then the median of ≥ 5 runs and ≥ 0.2 s, the inputs rotated
 * through copies that together exceed the L2 cache so no run finds its
 * operands warm from the previous one. The last line is PASSED or FAILED.
 * (bench attention and bench model are later.c's until issue #6 has them.) */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autotune/autotune.h"
#include "ir/ir.h"
#include "runtime/runtime.h"
#include "tools/cli.h"

static const char bench_usage[] =
    "usage: tessera bench gemm --target cpu [--suite quick|full | --m LIST --n LIST --k LIST]\n"
    "                          [--transpose-b] [--threads N] [--cpu NAME] [--db FILE] [--tune]\n"
    "                          [--csv FILE] [--plot FILE]\n"
    "       tessera bench attention|model   (not available yet: issue #6)\n"
    "\n"
    "Times tessera's f32 GEMM C[M,N] = A[M,K]·B against OpenBLAS's cblas_sgemm\n"
    "(loaded at run time; without it tessera runs alone, checked against a plain\n"
    "loop) on the same random data. Each result is verified before it is timed.\n"
    "\n"
    "options:\n"
    "  --target cpu          what to benchmark (cuda: not yet)\n"
    "  --suite quick|full    the CPU problems of BENCHMARKS.md (default quick)\n"
    "  --m/--n/--k LIST      comma-separated sizes instead: every combination\n"
    "  --transpose-b         B given as [N,K] (a linear layer's weight), else [K,N]\n"
    "  --threads N           worker threads for both libraries (default: one per core)\n"
    "  --cpu NAME            the CPU to compile for (default native)\n"
    "  --db FILE             use the database's best schedule for each problem\n"
    "  --tune                first tune problems the database lacks into it\n"
    "                        (default database $TMPDIR/tessera-bench.jsonl)\n"
    "  --csv FILE            also write the table as CSV\n"
    "  --plot FILE           a PNG bar chart of the ratios (needs gnuplot)\n"
    "  -h, --help            this help\n"
    "\n"
    "TESSERA_BENCH_BREAK=1 perturbs tessera's result (a test switch): every problem FAILS.\n"
    "Exit status: 0 PASSED, 1 FAILED or error, 2 bad usage.\n";

struct problem {
    int64_t m, n, k;
    const char *family;
};

#define MAX_PROBLEMS 512

struct bench_opts {
    const char *suite, *db, *csv, *plot;
    const char *lists[3]; /* --m, --n, --k */
    bool trans_b, tune;
    struct ts_cli_machine m;
};

/* ---- options and problems --------------------------------------------------- */

static int parse_list(const char *opt, const char *v, int64_t *out, int *n) {
    *n = 0;
    const char *s = v;
    for (;;) {
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (end == s || errno || x < 1 || x > 65536 || (*end && *end != ',') || *n >= 16)
            return ts_cli_usage_error("bench", opt, "expected up to 16 sizes from 1 to 65536 separated by commas, "
                                                    "got '%s'", v);
        out[(*n)++] = x;
        if (!*end) return 0;
        s = end + 1;
    }
}

static int add(struct problem *p, int n, int64_t m, int64_t nn, int64_t k, const char *family) {
    if (n < MAX_PROBLEMS) p[n++] = (struct problem){m, nn, k, family};
    return n;
}

/* BENCHMARKS.md's CPU problems: M from {1, 32, 128, 512} on the d=768 and
 * d=4096 layer shapes, squares 256 to 2048, awkward sizes; quick: a few. */
static int suite(struct problem *p, bool full) {
    static const int64_t ms[] = {1, 32, 128, 512};
    static const int64_t d768[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
    static const int64_t d4096[][2] = {{4096, 4096}, {11008, 4096}, {6144, 4096}, {14336, 4096}};
    static const int64_t squares[] = {256, 512, 1024, 2048};
    static const int64_t awkward[][3] = {{1, 4097, 127}, {7, 1000, 129}, {17, 127, 4095}, {129, 129, 1000},
                                         {1000, 17, 4097}, {127, 4095, 7}, {1000, 1000, 1000}, {4097, 129, 17}};
    int n = 0;
    if (!full) {
        n = add(p, n, 1, 768, 768, "d768");
        n = add(p, n, 32, 2304, 768, "d768");
        n = add(p, n, 512, 2304, 768, "d768");
        n = add(p, n, 512, 768, 3072, "d768");
        for (int i = 0; i < 3; i++) n = add(p, n, squares[i], squares[i], squares[i], "square");
        n = add(p, n, 7, 1000, 129, "awkward");
        n = add(p, n, 129, 129, 1000, "awkward");
        return n;
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) n = add(p, n, ms[i], d768[j][0], d768[j][1], "d768");
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) n = add(p, n, ms[i], d4096[j][0], d4096[j][1], j >= 2 ? "gqa" : "d4096");
    for (int i = 0; i < 4; i++) n = add(p, n, squares[i], squares[i], squares[i], "square");
    for (int i = 0; i < 8; i++) n = add(p, n, awkward[i][0], awkward[i][1], awkward[i][2], "awkward");
    return n;
}

static int parse_bench_args(int argc, char **argv, struct bench_opts *o) {
    memset(o, 0, sizeof *o);
    int rc = 0;
    bool target_given = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(bench_usage, stdout);
            return -1;
        } else if (ts_cli_is_option(a, "--target")) {
            if (!(v = ts_cli_option_value("bench", argc, argv, &i, "--target", &rc))) return rc;
            if (strcmp(v, "cuda") == 0) {
                fprintf(stderr, "tessera: error: --target cuda: bench gemm on the GPU is not available yet: "
                                "issue #6\n");
                return 1;
            }
            if (strcmp(v, "cpu") != 0) return ts_cli_usage_error("bench", "--target", "expected cpu, got '%s'", v);
            target_given = true;
        } else if (ts_cli_is_option(a, "--suite")) {
            if (!(o->suite = ts_cli_option_value("bench", argc, argv, &i, "--suite", &rc))) return rc;
            if (strcmp(o->suite, "quick") != 0 && strcmp(o->suite, "full") != 0)
                return ts_cli_usage_error("bench", "--suite", "expected quick or full, got '%s'", o->suite);
        } else if (ts_cli_is_option(a, "--m") || ts_cli_is_option(a, "--n") || ts_cli_is_option(a, "--k")) {
            int which = a[2] == 'm' ? 0 : a[2] == 'n' ? 1 : 2;
            static const char *const names[] = {"--m", "--n", "--k"};
            if (!(o->lists[which] = ts_cli_option_value("bench", argc, argv, &i, names[which], &rc))) return rc;
        } else if (strcmp(a, "--transpose-b") == 0) {
            o->trans_b = true;
        } else if (strcmp(a, "--tune") == 0) {
            o->tune = true;
        } else if (ts_cli_is_option(a, "--db")) {
            if (!(o->db = ts_cli_option_value("bench", argc, argv, &i, "--db", &rc))) return rc;
            if ((rc = ts_cli_check_path("bench", "--db", o->db))) return rc;
        } else if (ts_cli_is_option(a, "--csv")) {
            if (!(o->csv = ts_cli_option_value("bench", argc, argv, &i, "--csv", &rc))) return rc;
            if ((rc = ts_cli_check_path("bench", "--csv", o->csv))) return rc;
        } else if (ts_cli_is_option(a, "--plot")) {
            if (!(o->plot = ts_cli_option_value("bench", argc, argv, &i, "--plot", &rc))) return rc;
            if ((rc = ts_cli_check_path("bench", "--plot", o->plot))) return rc;
        } else if (ts_cli_parse_machine("bench", argc, argv, &i, &o->m, &rc)) {
            if (rc) return rc;
        } else if (a[0] == '-' && a[1]) {
            return ts_cli_usage_error("bench", a, "unknown option");
        } else {
            return ts_cli_usage_error("bench", a, "unexpected argument");
        }
    }
    if (!target_given) return ts_cli_usage_error("bench", "--target", "say what to benchmark: --target cpu");
    int lists = (o->lists[0] != NULL) + (o->lists[1] != NULL) + (o->lists[2] != NULL);
    if (lists && lists < 3) return ts_cli_usage_error("bench", "--m", "--m, --n and --k go together");
    if (lists && o->suite) return ts_cli_usage_error("bench", "--suite", "either --suite or --m/--n/--k, not both");
    return ts_cli_check_machine("bench", TS_TARGET_CPU, &o->m);
}

/* ---- the kernel ---------------------------------------------------------------- */

typedef int32_t (*kernel_fn)(void *const *args, int64_t begin, int64_t end, void *scratch);

struct job {
    kernel_fn fn;
    void *args[3];
    char *scratch; /* one slice per worker */
    int64_t scratch_bytes, ntasks;
    int workers;
    struct ts_cpu_code *code;
};

static int32_t run_share(void *ctx, int worker, int64_t begin, int64_t end) {
    struct job *j = ctx;
    return j->fn(j->args, begin, end, j->scratch + (size_t)worker * (size_t)j->scratch_bytes);
}

static enum ts_status job_init(const struct ts_kernel *k, const char *cpu, struct ts_rt_pool *pool, struct job *j,
                               struct ts_diag *d) {
    memset(j, 0, sizeof *j);
    struct ts_program prog = {.kernels = (struct ts_kernel *)(uintptr_t)k, .nkernels = 1};
    struct ts_cpu_opts co = {.cpu = cpu, .opt_level = 3};
    void *addr = NULL;
    enum ts_status st = ts_cpu_codegen(&prog, &co, &j->code, d);
    if (st == TS_OK) st = ts_cpu_code_jit(j->code, &addr, d);
    if (st != TS_OK) {
        ts_cpu_code_free(j->code);
        j->code = NULL;
        return st;
    }
    memcpy(&j->fn, &addr, sizeof j->fn);
    j->scratch_bytes = ts_kernel_scratch_bytes(k);
    j->scratch = aligned_alloc(64, (size_t)(j->scratch_bytes * ts_rt_pool_threads(pool) + 64));
    j->ntasks = ts_kernel_ntasks(k);
    j->workers = ts_kernel_cpu_threads(k);
    return TS_OK;
}

static void job_free(struct job *j) {
    free(j->scratch);
    ts_cpu_code_free(j->code);
}

/* ---- data, verification, timing ----------------------------------------------- */

/* The operands, in copies rotated between runs (set i: a[i], b[i], c[i]). */
struct operands {
    int copies;
    float **a, **b, **c;
};

static uint64_t rng_state;
static float rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    float u = (float)((rng_state >> 40) * (1.0 / 16777216.0)); /* [0, 1) */
    return u < 0.5f ? u - 0.55f : u - 0.45f;                   /* never zero */
}

/* Enough copies that one pass over them all is ≥ 4 MiB: past the L2 (and
 * most of a Zen 3 CCX's share of L3), so each run reads its operands cold. */
static bool operands_init(const struct problem *pr, struct operands *o) {
    size_t na = (size_t)(pr->m * pr->k), nb = (size_t)(pr->k * pr->n), nc = (size_t)(pr->m * pr->n);
    size_t bytes = 4 * (na + nb + nc);
    size_t want = ((size_t)4 << 20) / bytes + 1;
    o->copies = want > 32 ? 32 : (int)want;
    o->a = calloc((size_t)o->copies, sizeof *o->a);
    o->b = calloc((size_t)o->copies, sizeof *o->b);
    o->c = calloc((size_t)o->copies, sizeof *o->c);
    if (!o->a || !o->b || !o->c) return false;
    rng_state = 0x243f6a8885a308d3ull; /* the fixed seed: the same data every run */
    for (int i = 0; i < o->copies; i++) {
        o->a[i] = malloc(4 * na), o->b[i] = malloc(4 * nb), o->c[i] = malloc(4 * nc);
        if (!o->a[i] || !o->b[i] || !o->c[i]) return false;
        for (size_t x = 0; x < na; x++) o->a[i][x] = rnd();
        for (size_t x = 0; x < nb; x++) o->b[i][x] = rnd();
    }
    return true;
}

static void operands_free(struct operands *o) {
    for (int i = 0; i < o->copies; i++) {
        if (o->a) free(o->a[i]);
        if (o->b) free(o->b[i]);
        if (o->c) free(o->c[i]);
    }
    free(o->a), free(o->b), free(o->c);
}

/* The plain reference when no BLAS is there: f64 accumulation. */
static void gemm_plain(const struct problem *pr, bool trans_b, const float *a, const float *b, float *c) {
    for (int64_t i = 0; i < pr->m; i++)
        for (int64_t j = 0; j < pr->n; j++) {
            double s = 0;
            for (int64_t p = 0; p < pr->k; p++)
                s += (double)a[i * pr->k + p] * (double)(trans_b ? b[j * pr->k + p] : b[p * pr->n + j]);
            c[i * pr->n + j] = (float)s;
        }
}

struct verdict {
    bool ok;
    double max_err;
    int64_t row, col; /* where max_err is */
};

/* got against want, within a bound that grows with K (f32 sums of K terms). */
static void verify(const float *got, const float *want, const struct problem *pr, struct verdict *v) {
    double tol_abs = 4e-5 * sqrt((double)pr->k), tol_rel = 1e-4;
    *v = (struct verdict){.ok = true};
    for (int64_t i = 0; i < pr->m * pr->n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (isnan(e)) e = INFINITY;
        if (e > v->max_err || (i == 0 && e == v->max_err)) {
            v->max_err = e;
            v->row = i / pr->n, v->col = i % pr->n;
        }
        if (!(e <= tol_abs + tol_rel * fabs((double)want[i]))) v->ok = false;
    }
}

struct runner {
    const struct problem *pr;
    bool trans_b;
    struct operands *ops;
    struct ts_rt_pool *pool;
    struct job *job;                /* tessera, or NULL: the peer */
    const struct ts_cli_blas *blas;
};

static void run_once(struct runner *r, int copy) {
    struct operands *o = r->ops;
    if (r->job) {
        r->job->args[0] = o->a[copy], r->job->args[1] = o->b[copy], r->job->args[2] = o->c[copy];
        ts_rt_pool_run(r->pool, r->job->ntasks, r->job->workers, run_share, r->job);
    } else {
        ts_cli_blas_sgemm(r->blas, r->trans_b, r->pr->m, r->pr->n, r->pr->k, o->a[copy], o->b[copy], o->c[copy]);
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

/* ---- tuning --------------------------------------------------------------------- */

/* The schedule for pr: the database's best record (tuning pr into it first
 * when --tune and it has none), else the default. */
static enum ts_status schedule_for(const struct problem *pr, const struct bench_opts *o, const struct ts_tune_target *t,
                                   struct ts_tune_db *db, int vector_width, struct ts_sched_gemm *out, bool *from_db,
                                   struct ts_diag *d) {
    struct ts_program *p = NULL;
    TS_TRY(ts_tune_gemm_program(pr->m, pr->n, pr->k, o->trans_b, vector_width, &p, d));
    *out = p->kernels[0].sched.gemm;
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
            *out = p->kernels[0].sched.gemm;
            *from_db = true;
        }
    }
    ts_graph_free((struct ts_graph *)(uintptr_t)p->graph);
    return st;
}

/* ---- output --------------------------------------------------------------------- */

struct row {
    double ts_gflops, peer_gflops; /* NAN: not measured */
    struct verdict v;
    bool from_db;
};

static bool on_path(const char *prog) {
    const char *path = getenv("PATH");
    if (!path) return false;
    char buf[4096];
    for (const char *s = path; *s;) {
        const char *e = strchr(s, ':');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? s : ".", prog);
        if (access(buf, X_OK) == 0) return true;
        if (!e) break;
        s = e + 1;
    }
    return false;
}

/* A PNG bar chart of the ratios, drawn by gnuplot from a script written beside FILE. */
static void plot(const char *file, const struct problem *probs, const struct row *rows, int n, const char *peer,
                 bool trans_b) {
    if (!on_path("gnuplot")) {
        fprintf(stderr, "tessera: warning: --plot: gnuplot is not on PATH (Debian package gnuplot-nox); no chart\n");
        return;
    }
    char script[4200];
    snprintf(script, sizeof script, "%s.gp", file);
    FILE *f = fopen(script, "w");
    if (!f) {
        fprintf(stderr, "tessera: warning: --plot: cannot write %s: %s; no chart\n", script, strerror(errno));
        return;
    }
    fprintf(f, "$ratios << EOD\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "\"%lldx%lldx%lld\" %.4f\n", (long long)probs[i].m, (long long)probs[i].n, (long long)probs[i].k,
                isfinite(rows[i].ts_gflops) && isfinite(rows[i].peer_gflops)
                    ? rows[i].ts_gflops / rows[i].peer_gflops : 0.0);
    fprintf(f, "EOD\n");
    fprintf(f, "set terminal pngcairo size %d,480 noenhanced\n", 400 + 40 * n);
    fprintf(f, "set output \"%s\"\n", file);
    fprintf(f, "set title \"tessera / %s GEMM, f32, B %s (1 = parity)\"\n", peer, trans_b ? "[N,K]" : "[K,N]");
    fprintf(f, "set style fill solid 0.8\nset boxwidth 0.7\nset yrange [0:*]\nset grid ytics\n"
               "set xtics rotate by -45\nset ylabel \"ratio\"\nunset key\n");
    fprintf(f, "plot $ratios using 0:2:xtic(1) with boxes lc rgb \"#3b6ea5\", 1 with lines lc rgb \"black\"\n");
    fclose(f);
    char cmd[8600];
    /* gnuplot's own messages go to stderr: stdout is the table, PASSED last. */
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 1>&2", script);
    if (strchr(script, '\'') || strchr(file, '"') || system(cmd) != 0) {
        fprintf(stderr, "tessera: warning: --plot: gnuplot failed on %s; no chart\n", script);
        return;
    }
    fprintf(stderr, "tessera: chart written to %s\n", file);
}

/* ---- the verb ----------------------------------------------------------------- */

static int bench_gemm(const struct bench_opts *o) {
    struct ts_diag d;
    ts_diag_clear(&d);
    static struct problem probs[MAX_PROBLEMS];
    int np = 0;
    if (o->lists[0]) {
        int64_t v[3][16];
        int n[3];
        static const char *const names[] = {"--m", "--n", "--k"};
        for (int i = 0; i < 3; i++) {
            int rc = parse_list(names[i], o->lists[i], v[i], &n[i]);
            if (rc) return rc;
        }
        for (int i = 0; i < n[0]; i++)
            for (int j = 0; j < n[1]; j++)
                for (int k = 0; k < n[2]; k++) np = add(probs, np, v[0][i], v[1][j], v[2][k], "list");
    } else {
        np = suite(probs, o->suite && strcmp(o->suite, "full") == 0);
    }

    struct ts_cpu_info info;
    if (ts_cpu_info_init(o->m.cpu, &info, &d) != TS_OK) return ts_cli_fail(&d);
    struct bench_opts oo = *o;
    char default_db[1024];
    if (oo.tune && !oo.db) {
        const char *tmp = getenv("TMPDIR");
        snprintf(default_db, sizeof default_db, "%s/tessera-bench.jsonl", tmp && *tmp ? tmp : "/tmp");
        oo.db = default_db;
    }

    /* Schedules (and tuning) first, before this process starts a pool: the
     * tuner forks measuring children that must not inherit busy threads. */
    static struct ts_sched_gemm scheds[MAX_PROBLEMS];
    static struct row rows[MAX_PROBLEMS];
    struct ts_tune_target target;
    struct ts_tune_db db = {0};
    if (ts_tune_target_cpu(&info, (int)oo.m.threads, &target, &d) != TS_OK) return ts_cli_fail(&d);
    if (oo.db && ts_tune_db_load(oo.db, NULL, true, stderr, &db, &d) != TS_OK) return ts_cli_fail(&d);
    int from_db = 0;
    for (int i = 0; i < np; i++) {
        if (schedule_for(&probs[i], &oo, &target, &db, info.vector_width, &scheds[i], &rows[i].from_db, &d) !=
            TS_OK) {
            ts_tune_db_free(&db);
            return ts_cli_fail(&d);
        }
        from_db += rows[i].from_db;
    }
    ts_tune_db_free(&db);

    struct ts_cli_blas blas;
    char why[512];
    bool have_peer = ts_cli_blas_open(&blas, why, sizeof why);
    if (!have_peer)
        fprintf(stderr, "tessera: warning: no BLAS to compare with (%s): tessera alone, checked against a plain "
                        "loop\n", why);
    struct ts_rt_pool *pool = NULL;
    char err[256];
    if (ts_rt_pool_init((int)oo.m.threads, &pool, err, sizeof err) != 0) {
        fprintf(stderr, "tessera: error: --threads: %s\n", err);
        ts_cli_blas_close(&blas);
        return 1;
    }
    int threads = ts_rt_pool_threads(pool);
    if (have_peer) ts_cli_blas_threads(&blas, threads);
    double ghz = ts_tune_measure_ghz();
    bool measured = ghz > 0.5;
    if (!measured) ghz = 2.6;
    /* Two FMA pipes of vector_width f32 lanes, 2 FLOP each, per core. */
    double peak = 4.0 * info.vector_width * threads * ghz;
    const char *peer = have_peer ? blas.name : "peer";
    printf("# tessera GEMM vs %s, f32, B %s, %d thread%s\n", have_peer ? blas.desc : "nothing (no BLAS found)",
           oo.trans_b ? "[N,K]" : "[K,N]", threads, threads > 1 ? "s" : "");
    printf("# CPU %s (%d-bit vectors), peak %d FLOP/cycle x %d x %.2f GHz (%s) = %.0f GFLOP/s\n", info.name,
           info.vector_bits, 4 * info.vector_width, threads, ghz, measured ? "measured" : "nominal", peak);
    if (oo.db) printf("# schedules: %d of %d from %s (target %s), the others default\n", from_db, np, oo.db, target.key);
    printf("# checked against %s before timing; times: median of >= 5 runs and >= 0.2 s\n",
           have_peer ? peer : "a plain loop");
    printf("%-20s %-5s %9s %9s %6s %6s  %s\n", "problem", "B", "tessera", peer, "ratio", "peak", "check");
    FILE *csv = oo.csv ? fopen(oo.csv, "w") : NULL;
    if (oo.csv && !csv) {
        fprintf(stderr, "tessera: error: %s: cannot write: %s\n", oo.csv, strerror(errno));
        ts_rt_pool_free(pool);
        ts_cli_blas_close(&blas);
        return 1;
    }
    if (csv)
        fprintf(csv, "family,m,n,k,b_layout,threads,tessera_gflops,peer,peer_gflops,ratio,fraction_of_peak,"
                     "max_abs_err,err_row,err_col,disposition\n");
    bool broken = getenv("TESSERA_BENCH_BREAK") && strcmp(getenv("TESSERA_BENCH_BREAK"), "1") == 0;
    double *times = malloc(MAX_REPS * sizeof *times);
    double logsum = 0;
    int counted = 0, failed = 0;
    for (int i = 0; i < np && times; i++) {
        const struct problem *pr = &probs[i];
        struct row *r = &rows[i];
        r->ts_gflops = r->peer_gflops = NAN;
        struct operands ops = {0};
        struct job job;
        bool ok = operands_init(pr, &ops);
        if (!ok) {
            ts_diag_set(&d, TS_ERR_NOMEM, "", "bench", "out of memory for %lldx%lldx%lld", (long long)pr->m,
                        (long long)pr->n, (long long)pr->k);
        } else {
            struct ts_program *p = NULL;
            ok = ts_tune_gemm_program(pr->m, pr->n, pr->k, oo.trans_b, info.vector_width, &p, &d) == TS_OK;
            if (ok) {
                p->kernels[0].sched.gemm = scheds[i];
                ok = job_init(&p->kernels[0], oo.m.cpu, pool, &job, &d) == TS_OK;
                ts_graph_free((struct ts_graph *)(uintptr_t)p->graph);
            }
        }
        if (!ok) {
            operands_free(&ops);
            free(times);
            ts_rt_pool_free(pool);
            ts_cli_blas_close(&blas);
            if (csv) fclose(csv);
            return ts_cli_fail(&d);
        }
        struct runner ts_run = {pr, oo.trans_b, &ops, pool, &job, NULL};
        struct runner peer_run = {pr, oo.trans_b, &ops, pool, NULL, &blas};
        /* Verify first: tessera's result on copy 0 against the peer's. */
        float *want = malloc(sizeof(float) * (size_t)(pr->m * pr->n));
        run_once(&ts_run, 0);
        if (broken) ops.c[0][(pr->m * pr->n) / 2] += 1.0f; /* the test switch: a wrong element */
        if (have_peer) ts_cli_blas_sgemm(&blas, oo.trans_b, pr->m, pr->n, pr->k, ops.a[0], ops.b[0], want);
        else gemm_plain(pr, oo.trans_b, ops.a[0], ops.b[0], want);
        verify(ops.c[0], want, pr, &r->v);
        free(want);
        double flops = 2.0 * (double)pr->m * (double)pr->n * (double)pr->k;
        if (r->v.ok) {
            settle(pool);
            r->ts_gflops = flops / time_runs(&ts_run, times) / 1e9;
            if (have_peer) {
                settle(pool);
                r->peer_gflops = flops / time_runs(&peer_run, times) / 1e9;
            }
        }
        job_free(&job);
        operands_free(&ops);

        char name[64], ts_s[16] = "-", peer_s[16] = "-", ratio_s[16] = "-", peak_s[16] = "-", check[128];
        snprintf(name, sizeof name, "%lldx%lldx%lld", (long long)pr->m, (long long)pr->n, (long long)pr->k);
        double ratio = r->ts_gflops / r->peer_gflops;
        if (isfinite(r->ts_gflops)) {
            snprintf(ts_s, sizeof ts_s, "%.1f", r->ts_gflops);
            snprintf(peak_s, sizeof peak_s, "%.0f%%", 100 * r->ts_gflops / peak);
        }
        if (isfinite(r->peer_gflops)) snprintf(peer_s, sizeof peer_s, "%.1f", r->peer_gflops);
        if (isfinite(ratio)) snprintf(ratio_s, sizeof ratio_s, "%.2f", ratio);
        if (r->v.ok)
            snprintf(check, sizeof check, "ok");
        else
            snprintf(check, sizeof check, "FAILED (max error %.3g at (%lld, %lld))", r->v.max_err,
                     (long long)r->v.row, (long long)r->v.col);
        printf("%-20s %-5s %9s %9s %6s %6s  %s\n", name, oo.trans_b ? "[N,K]" : "[K,N]", ts_s, peer_s, ratio_s, peak_s,
               check);
        fflush(stdout);
        if (csv)
            fprintf(csv, "%s,%lld,%lld,%lld,%s,%d,%.3f,%s,%.3f,%.4f,%.4f,%.6g,%lld,%lld,%s\n", pr->family,
                    (long long)pr->m, (long long)pr->n, (long long)pr->k, oo.trans_b ? "NK" : "KN", threads,
                    r->ts_gflops, have_peer ? blas.name : "", r->peer_gflops, ratio, r->ts_gflops / peak,
                    r->v.max_err, (long long)r->v.row, (long long)r->v.col, r->v.ok ? "ok" : "FAILED");
        if (!r->v.ok) failed++;
        else if (isfinite(ratio)) logsum += log(ratio), counted++;
    }
    free(times);
    if (csv) fclose(csv);
    if (counted) printf("geomean ratio tessera/%s (%d problems): %.3f\n", peer, counted, exp(logsum / counted));
    else if (!have_peer) printf("geomean ratio: - (no peer)\n");
    if (oo.plot) plot(oo.plot, probs, rows, np, peer, oo.trans_b);
    ts_rt_pool_free(pool);
    ts_cli_blas_close(&blas);
    if (failed) printf("%d of %d problems FAILED verification\n", failed, np);
    printf("%s\n", failed ? "FAILED" : "PASSED");
    return failed ? 1 : 0;
}

int ts_cli_bench(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (strcmp(what, "-h") == 0 || strcmp(what, "--help") == 0) {
        fputs(bench_usage, stdout);
        return 0;
    }
    if (strcmp(what, "attention") == 0) return ts_cli_later("bench attention", argc - 1, argv + 1);
    if (strcmp(what, "model") == 0) return ts_cli_later("bench model", argc - 1, argv + 1);
    if (strcmp(what, "gemm") != 0)
        return ts_cli_usage_error("bench", what, "%s", what[0] ? "unknown benchmark (gemm, attention, model)"
                                                               : "say which: gemm, attention or model");
    struct bench_opts o;
    int rc = parse_bench_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    return bench_gemm(&o);
}
