/* bench_tune_search.c — does the autotuner's search find the best schedule
 * of the real CPU GEMM space with a fifth of the measurements? Each shape's
 * whole space (ts_tune_space_build) is measured for real with the tuner's
 * own bench (a child process per candidate, rotated inputs, checked against
 * the reference); those times are then the landscape on which ts_tune_search
 * runs again and again (seeds 1..N, trials 10%, 20% and 30% of the space,
 * with the roofline estimates tune.c gives it), each of its measurements
 * answered from the landscape. The space is measured in --passes sweeps (2)
 * and each candidate keeps its least time, so that a neighbour's burst of
 * work does not make the landscape. The table gives, per trial fraction, the
 * median and worst of best-found / exhaustive-best over the seeds, how many
 * seeds land within 5%, and what measuring cost: the whole space against the
 * candidates the search took (each candidate's own measured wall time).
 *
 *   bench_tune_search [--shape MxNxK]... [--bt] [--cpu NAME] [--threads N] [--seeds N]
 *                     [--passes N] [--csv FILE] [--db FILE] [--save FILE | --load FILE]
 *
 * Without --shape: 512x768x768, 128x2304x768 and 32x3072x768. --db appends
 * every measurement as a tuning record (read it with `tessera db show`);
 * --save keeps the measured landscapes, --load replays the searches on them. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autotune/autotune.h"
#include "codegen/codegen.h"
#include "ir/ir.h"
#include "runtime/runtime.h"

struct opts {
    const char *cpu;
    int threads;
    bool trans_b;
    int seeds;
    int passes;     /* sweeps over the space; the landscape keeps each candidate's least time */
    const char *csv;
    const char *db;
    const char *save, *load;  /* landscapes written to, or read from (no measuring) */
    FILE *save_f;
};

/* ---- the landscape ---------------------------------------------------------------- */

struct landscape {
    int n;
    double *time;   /* median seconds per run, the least over the passes (INFINITY: failed) */
    double *worst;  /* the same, the greatest over the passes */
    double *cost;   /* wall seconds one measurement took (compile, check, timing, the child), mean over passes */
    int best;
    double setup;   /* the bench's setup: inputs, reference, input copies */
    double total;   /* measuring the whole space once, setup included */
    double dev_median, dev_p90;  /* slowest / fastest pass − 1 per candidate: median and 90th percentile */
    int dev_over10; /* candidates whose passes differ by more than 10% */
    int passes;     /* sweeps it was measured in (0: not known, an older --save file) */
};

static void utc_now(char *buf, size_t size) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The record tune.c would append for candidate i. */
static void append_record(const char *db, const struct ts_tune_task *task, const struct ts_tune_target *t,
                          const struct ts_tune_space *sp, int i, const struct ts_tune_result *res) {
    struct ts_tune_record rec;
    memset(&rec, 0, sizeof rec);
    rec.kind = task->kind;
    snprintf(rec.task, sizeof rec.task, "%s", task->hash);
    snprintf(rec.signature, sizeof rec.signature, "%s", task->signature);
    rec.target = *t;
    rec.sched = sp->cands[i];
    rec.is_default = i == 0;
    rec.status = res->status;
    snprintf(rec.error, sizeof rec.error, "%s", res->error);
    rec.median_s = res->median_s;
    rec.min_s = res->min_s;
    rec.max_s = res->max_s;
    rec.count = res->count;
    rec.flops = task->flops;
    snprintf(rec.version, sizeof rec.version, "%s", TS_VERSION);
    utc_now(rec.time, sizeof rec.time);
    struct ts_diag d = {0};
    if (ts_tune_db_append(db, &rec, &d) != TS_OK) fprintf(stderr, "bench_tune_search: warning: %s\n", d.what);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best candidate, measuring time of the whole space and how much the passes
 * disagree, from time, worst and cost. */
static bool landscape_finish(struct landscape *L, double setup) {
    double *dev = malloc((size_t)L->n * sizeof *dev);
    double measuring = 0;
    int ndev = 0;
    L->best = -1;
    for (int i = 0; i < L->n; i++) {
        measuring += L->cost[i];
        if (isfinite(L->time[i]) && (L->best < 0 || L->time[i] < L->time[L->best])) L->best = i;
        if (isfinite(L->worst[i])) dev[ndev++] = L->worst[i] / L->time[i] - 1;
    }
    L->total = setup + measuring;
    if (ndev > 0) {
        qsort(dev, (size_t)ndev, sizeof *dev, cmp_double);
        L->dev_median = dev[ndev / 2];
        L->dev_p90 = dev[(int)(0.9 * (ndev - 1))];
        for (int i = 0; i < ndev; i++) L->dev_over10 += dev[i] > 0.10;
    }
    free(dev);
    return L->best >= 0;
}

static void landscape_alloc(struct landscape *L, int n) {
    L->n = n;
    L->time = malloc((size_t)n * sizeof *L->time);
    L->worst = malloc((size_t)n * sizeof *L->worst);
    L->cost = calloc((size_t)n, sizeof *L->cost);
    TS_ASSERT(L->time && L->worst && L->cost);
}

/* Measures every candidate of the space, one at a time, timing each, in
 * o->passes sweeps over the whole space. Another job taking the core only
 * ever makes a measurement slower and lasts a while, so the least of sweeps
 * made minutes apart is the candidate's own time; how much the sweeps
 * disagree says how noisy one measurement (what the tuner takes) is. */
static bool measure_all(const struct ts_program *p, const struct ts_tune_target *t, const struct ts_tune_space *sp,
                        const struct opts *o, const struct ts_tune_task *task, struct ts_tune_bench **bench,
                        struct landscape *L) {
    int n = sp->n;
    landscape_alloc(L, n);
    struct ts_tune_bench_opts bo = {.cpu = o->cpu};
    struct ts_diag d = {0};
    double t0 = ts_rt_now_seconds();
    if (ts_tune_bench_init(p, 0, t, &bo, bench, &d) != TS_OK) {
        fprintf(stderr, "bench_tune_search: error: %s\n", d.what);
        return false;
    }
    double setup = ts_rt_now_seconds() - t0;
    for (int pass = 0; pass < o->passes; pass++)
        for (int i = 0; i < n; i++) {
            struct ts_tune_result r;
            double c0 = ts_rt_now_seconds();
            ts_tune_bench_run(*bench, &sp->cands[i], 1, &r);
            L->cost[i] += (ts_rt_now_seconds() - c0) / o->passes;
            double s = r.status == TS_TUNE_OK && isfinite(r.median_s) ? r.median_s : INFINITY;
            if (pass == 0 || s < L->time[i]) L->time[i] = s;
            if (pass == 0 || s > L->worst[i]) L->worst[i] = s;
            if (o->db) append_record(o->db, task, t, sp, i, &r);
            if (r.status != TS_TUNE_OK)
                fprintf(stderr, "bench_tune_search: candidate %d failed (%s): %s\n", i, ts_tune_status_name(r.status),
                        r.error);
            if ((i + 1) % 50 == 0 || i + 1 == n)
                fprintf(stderr, "bench_tune_search: %s: pass %d: measured %d of %d (%.0f s)\n", task->shape, pass + 1,
                        i + 1, n, ts_rt_now_seconds() - t0);
        }
    L->setup = setup;
    L->passes = o->passes;
    return landscape_finish(L, setup);
}

/* --save writes each landscape as lines "task,index,mc,kc,nc,mr,nr,threads,
 * time,worst,cost" (a header line "task,setup,SECONDS,passes,N" first) so
 * that --load can replay the searches on it without measuring again. */
static void landscape_save(FILE *f, const struct ts_tune_task *task, const struct ts_tune_space *sp,
                           const struct landscape *L) {
    fprintf(f, "%s,setup,%.6f,passes,%d\n", task->hash, L->setup, L->passes);
    for (int i = 0; i < sp->n; i++) {
        const struct ts_sched_gemm *g = &sp->cands[i].gemm;
        fprintf(f, "%s,%d,%d,%d,%d,%d,%d,%d,%.9g,%.9g,%.6f\n", task->hash, i, g->mc, g->kc, g->nc, g->mr, g->nr,
                g->threads, L->time[i], L->worst[i], L->cost[i]);
    }
    fflush(f);
}

/* The landscape of task from a --save file; false when it lacks the task or
 * its candidates are not this space's (another tessera, another machine). */
static bool landscape_load(const char *path, const struct ts_tune_task *task, const struct ts_tune_space *sp,
                           struct landscape *L) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_tune_search: error: cannot read %s\n", path);
        return false;
    }
    landscape_alloc(L, sp->n);
    char line[512], hash[32];
    int got = 0;
    bool bad = false;
    while (fgets(line, sizeof line, f)) {
        double setup;
        int passes = 0;
        if (sscanf(line, "%31[^,],setup,%lf,passes,%d", hash, &setup, &passes) >= 2) {
            if (!strcmp(hash, task->hash)) L->setup = setup, L->passes = passes;
            continue;
        }
        int i, mc, kc, nc, mr, nr, th;
        double tm, wo, co;
        if (sscanf(line, "%31[^,],%d,%d,%d,%d,%d,%d,%d,%lf,%lf,%lf", hash, &i, &mc, &kc, &nc, &mr, &nr, &th, &tm, &wo,
                   &co) != 11 || strcmp(hash, task->hash) != 0)
            continue;
        const struct ts_sched_gemm *g = i >= 0 && i < sp->n ? &sp->cands[i].gemm : NULL;
        if (!g || g->mc != mc || g->kc != kc || g->nc != nc || g->mr != mr || g->nr != nr || g->threads != th) {
            bad = true;
            continue;
        }
        L->time[i] = tm, L->worst[i] = wo, L->cost[i] = co;
        got++;
    }
    fclose(f);
    if (bad || got != sp->n) {
        fprintf(stderr, "bench_tune_search: error: %s: %d of the %d candidates of task %s%s\n", path, got, sp->n,
                task->hash, bad ? ", others not of this space" : "");
        return false;
    }
    return landscape_finish(L, L->setup);
}

/* ---- the search on the landscape ---------------------------------------------------- */

struct replay {
    const struct landscape *L;
    double spent;   /* the measured cost of the candidates the search took */
};

static void replay_measure(void *ctx, const int *idx, int n, double *seconds) {
    struct replay *r = ctx;
    for (int i = 0; i < n; i++) {
        seconds[i] = r->L->time[idx[i]];
        r->spent += r->L->cost[idx[i]];
    }
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct sim {
    int trials;
    double median_ratio, worst_ratio, mean_measured, median_spent;
    int within5, early;
};

static void simulate(const struct ts_tune_space *sp, const struct landscape *L, const double *est, int trials,
                     int patience, int seeds, struct sim *out) {
    double *ratio = malloc((size_t)seeds * sizeof *ratio), *spent = malloc((size_t)seeds * sizeof *spent);
    memset(out, 0, sizeof *out);
    out->trials = trials;
    double measured = 0;
    for (int s = 1; s <= seeds; s++) {
        struct replay rp = {.L = L};
        struct ts_tune_search_opts so = {.trials = trials, .seed = (uint64_t)s, .patience = patience};
        struct ts_tune_search_result r;
        ts_tune_search(sp, est, NULL, &so, replay_measure, &rp, NULL, &r);
        ratio[s - 1] = r.best >= 0 ? r.best_s / L->time[L->best] : INFINITY;
        spent[s - 1] = rp.spent;
        out->within5 += ratio[s - 1] <= 1.05;
        out->early += r.early_stop;
        measured += r.measured;
    }
    out->mean_measured = measured / seeds;
    out->median_ratio = median(ratio, seeds);
    out->worst_ratio = ratio[seeds - 1];
    out->median_spent = median(spent, seeds);
    free(ratio);
    free(spent);
}

/* Estimates for every candidate, as tune.c computes them (NULL c: none). */
static double *estimates(const struct ts_kernel *k, const struct ts_tune_space *sp, const struct ts_tune_target *t,
                         const struct ts_tune_ceilings *c) {
    if (!c) return NULL;
    double *e = malloc((size_t)sp->n * sizeof *e);
    struct ts_kernel tmp = *k;
    for (int i = 0; i < sp->n; i++) {
        tmp.sched = sp->cands[i];
        e[i] = ts_tune_estimate(&tmp, &sp->cands[i], t, c);
    }
    return e;
}

/* The candidate the estimate ranks first. */
static int est_top(const double *e, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (e[i] < e[best]) best = i;
    return best;
}

/* ---- one shape ---------------------------------------------------------------------- */

static const double fractions[] = {0.10, 0.20, 0.30};
/* The search as tune.c runs it, then variants that say where its misses
 * come from: no early stop (patience = trials), no estimates. */
enum { NFRAC = 3, NVAR = 3 };
static const char *const var_names[NVAR] = {"tuner", "no-stop", "no-est"};

static bool run_shape(int64_t M, int64_t N, int64_t K, const struct opts *o, const struct ts_cpu_info *info,
                      const struct ts_tune_target *t, const struct ts_tune_ceilings *ceil, FILE *csv) {
    struct ts_diag d = {0};
    struct ts_program *p = NULL;
    if (ts_tune_gemm_program(M, N, K, o->trans_b, info->vector_width, &p, &d) != TS_OK) {
        fprintf(stderr, "bench_tune_search: error: %s\n", d.what);
        return false;
    }
    const struct ts_kernel *k = &p->kernels[0];
    struct ts_tune_task task;
    ts_tune_task_of(p, 0, &task);
    struct ts_tune_space sp = {0};
    if (ts_tune_space_build(k, t, &sp, &d) != TS_OK) {
        fprintf(stderr, "bench_tune_search: error: %s\n", d.what);
        ts_graph_free((struct ts_graph *)(uintptr_t)p->graph);
        return false;
    }
    struct landscape L = {0};
    struct ts_tune_bench *bench = NULL;
    bool ok = o->load ? landscape_load(o->load, &task, &sp, &L) : measure_all(p, t, &sp, o, &task, &bench, &L);
    if (!ok) goto done;
    if (o->save_f) landscape_save(o->save_f, &task, &sp, &L);

    /* How repeatable the best is: the five fastest and the default once more. */
    int order[6], nre = 0;
    if (bench) {
        double *sorted = malloc((size_t)sp.n * sizeof *sorted);
        memcpy(sorted, L.time, (size_t)sp.n * sizeof *sorted);
        qsort(sorted, (size_t)sp.n, sizeof *sorted, cmp_double);
        for (int r = 0; r < 5 && r < sp.n && isfinite(sorted[r]); r++)
            for (int i = 0; i < sp.n; i++)
                if (L.time[i] == sorted[r]) {
                    bool dup = false;
                    for (int j = 0; j < nre; j++) dup |= order[j] == i;
                    if (!dup) order[nre++] = i;
                    break;
                }
        free(sorted);
        bool have_default = false;
        for (int j = 0; j < nre; j++) have_default |= order[j] == 0;
        if (!have_default) order[nre++] = 0;
    }
    double spread = bench ? 0 : NAN, again_best = INFINITY;
    for (int j = 0; j < nre; j++) {
        struct ts_tune_result r;
        ts_tune_bench_run(bench, &sp.cands[order[j]], 1, &r);
        if (r.status != TS_TUNE_OK) continue;
        double dev = fabs(r.median_s / L.time[order[j]] - 1);
        if (dev > spread) spread = dev;
        if (j < 5 && r.median_s < again_best) again_best = r.median_s;
    }
    int within5 = 0, failed = 0;
    for (int i = 0; i < sp.n; i++) {
        within5 += L.time[i] <= 1.05 * L.time[L.best];
        failed += !isfinite(L.time[i]);
    }
    double best = L.time[L.best];
    char bs[128], ds[128];
    ts_tune_sched_format(TS_KERNEL_GEMM, TS_TARGET_CPU, &sp.cands[L.best], bs, sizeof bs);
    ts_tune_sched_format(TS_KERNEL_GEMM, TS_TARGET_CPU, &sp.cands[0], ds, sizeof ds);
    printf("\n## %s %s, f32, task %s\n", task.shape, o->trans_b ? "B[N,K]" : "B[K,N]", task.hash);
    printf("space %d candidates (%d combinations refused), %d failed; exhaustive measurement %.1f s (%.2f s per "
           "candidate, one pass)\n",
           sp.n, sp.rejected, failed, L.total, L.total / sp.n);
    if (L.passes > 0) printf("%d passes", L.passes);
    else printf("passes (number not in %s)", o->load);
    printf(": slowest/fastest pass - 1 per candidate: median %.1f%%, 90th percentile %.1f%%, %d candidates over 10%%\n",
           100 * L.dev_median, 100 * L.dev_p90, L.dev_over10);
    printf("exhaustive best %.1f us = %.1f GFLOP/s (%s); default %.1f GFLOP/s = %.3fx the best (%s)\n", best * 1e6,
           task.flops / best / 1e9, bs, task.flops / L.time[0] / 1e9, L.time[0] / best, ds);
    printf("%d candidates (%.0f%%) within 5%% of the best", within5, 100.0 * within5 / sp.n);
    if (bench)
        printf("; re-measuring the 5 fastest and the default: worst change %.1f%%, best of the 5 again %.3fx the "
               "first best\n",
               100 * spread, again_best / best);
    else
        printf(" (landscape from %s: not re-measured)\n", o->load);
    printf("%-10s %-6s %7s %13s %8s %8s %9s %9s %6s %10s %10s\n", "search", "frac", "trials", "est top-1",
           "median", "worst", "within5%", "measured", "early", "search s", "exhaust s");
    const struct ts_tune_ceilings *cs[NVAR] = {ceil, ceil, NULL};
    for (int v = 0; v < NVAR; v++) {
        double *est = estimates(k, &sp, t, cs[v]);
        double top = est ? L.time[est_top(est, sp.n)] / best : NAN;
        for (int f = 0; f < NFRAC; f++) {
            int trials = (int)(fractions[f] * sp.n);
            if (trials < 1) trials = 1;
            struct sim s;
            simulate(&sp, &L, est, trials, v == 1 ? trials : 0, o->seeds, &s);
            char topbuf[16];
            if (est) snprintf(topbuf, sizeof topbuf, "%.3f", top);
            else snprintf(topbuf, sizeof topbuf, "-");
            printf("%-10s %5.0f%% %7d %13s %8.3f %8.3f %6d/%-2d %9.1f %6d %10.1f %10.1f\n", var_names[v],
                   100 * fractions[f], trials, topbuf, s.median_ratio, s.worst_ratio, s.within5, o->seeds,
                   s.mean_measured, s.early, s.median_spent, L.total);
            if (csv)
                fprintf(csv,
                        "%s,%s,%d,%d,%d,%.3f,%.2f,%.4f,%d,%.4f,%.4f,%.4f,%.1f,%s,%.2f,%d,%d,%.4f,%.4f,%.4f,%d,%.1f,"
                        "%d,%.1f\n",
                        task.shape, o->trans_b ? "NK" : "KN", t->threads, sp.n, failed, best * 1e6,
                        task.flops / best / 1e9, L.time[0] / best, within5, spread, L.dev_median, L.dev_p90, L.total,
                        var_names[v], fractions[f], trials, o->seeds, est ? top : NAN, s.median_ratio, s.worst_ratio,
                        s.within5, s.mean_measured, s.early, s.median_spent);
        }
        free(est);
    }
    fflush(stdout);
done:
    ts_tune_bench_free(bench);
    free(L.time);
    free(L.worst);
    free(L.cost);
    ts_tune_space_free(&sp);
    ts_graph_free((struct ts_graph *)(uintptr_t)p->graph);
    return ok;
}

/* The "ceilings,GHZ,GFLOPS,GBPS,LAUNCH_S" line of a --save file. */
static bool ceilings_load(const char *path, struct ts_tune_ceilings *c) {
    FILE *f = fopen(path, "r");
    char line[512];
    bool ok = false;
    memset(c, 0, sizeof *c);
    while (f && !ok && fgets(line, sizeof line, f))
        ok = sscanf(line, "ceilings,%lf,%lf,%lf,%lf", &c->ghz, &c->gflops, &c->gbps, &c->launch_s) == 4;
    if (f) fclose(f);
    if (!ok) fprintf(stderr, "bench_tune_search: error: %s: no ceilings line (not a --save file)\n", path);
    return ok;
}

/* ---- main ----------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr, "usage: bench_tune_search [--shape MxNxK]... [--bt] [--cpu NAME] [--threads N] [--seeds N]\n"
                    "                         [--passes N] [--csv FILE] [--db FILE] [--save FILE | --load FILE]\n");
}

int main(int argc, char **argv) {
    struct opts o = {.threads = 1, .seeds = 50, .passes = 2};
    enum { MAX_SHAPES = 16 };
    int64_t shapes[MAX_SHAPES][3];
    int nshapes = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--bt") == 0) {
            o.trans_b = true;
            continue;
        }
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(arg, "--shape") == 0) {
            long long m, n, k;
            if (nshapes == MAX_SHAPES || sscanf(val, "%lldx%lldx%lld", &m, &n, &k) != 3 || m < 1 || n < 1 || k < 1) {
                fprintf(stderr, "bench_tune_search: error: --shape wants MxNxK (at most %d shapes)\n", MAX_SHAPES);
                return 2;
            }
            shapes[nshapes][0] = m, shapes[nshapes][1] = n, shapes[nshapes][2] = k;
            nshapes++;
        } else if (strcmp(arg, "--cpu") == 0) {
            o.cpu = val;
        } else if (strcmp(arg, "--threads") == 0) {
            o.threads = atoi(val);
        } else if (strcmp(arg, "--seeds") == 0) {
            o.seeds = atoi(val);
        } else if (strcmp(arg, "--passes") == 0) {
            o.passes = atoi(val);
        } else if (strcmp(arg, "--csv") == 0) {
            o.csv = val;
        } else if (strcmp(arg, "--db") == 0) {
            o.db = val;
        } else if (strcmp(arg, "--save") == 0) {
            o.save = val;
        } else if (strcmp(arg, "--load") == 0) {
            o.load = val;
        } else {
            usage();
            return 2;
        }
    }
    if (o.threads < 1 || o.seeds < 1 || o.passes < 1) {
        fprintf(stderr, "bench_tune_search: error: --threads, --seeds and --passes want positive counts\n");
        return 2;
    }
    if (nshapes == 0) {
        static const int64_t def[3][3] = {{512, 768, 768}, {128, 2304, 768}, {32, 3072, 768}};
        memcpy(shapes, def, sizeof def);
        nshapes = 3;
    }
    struct ts_diag d = {0};
    struct ts_cpu_info info;
    struct ts_tune_target t;
    if (ts_cpu_info_init(o.cpu, &info, &d) != TS_OK || ts_tune_target_cpu(&info, o.threads, &t, &d) != TS_OK) {
        fprintf(stderr, "bench_tune_search: error: %s\n", d.what);
        return 1;
    }
    /* The ceilings as tune.c measures them, once: the estimates of every search. */
    struct ts_tune_ceilings ceil;
    if (o.load) {
        /* The ceilings the landscape's run measured: the same estimates, the same searches. */
        if (!ceilings_load(o.load, &ceil)) return 1;
    } else if (ts_tune_ceilings_cpu(&t, &ceil, &d) != TS_OK) {
        fprintf(stderr, "bench_tune_search: error: %s\n", d.what);
        return 1;
    }
    printf("# bench_tune_search: the search on measured landscapes of the CPU GEMM space\n");
    printf("# target %s; L1 %lld KiB, L2 %lld KiB, L3 %lld MiB\n", t.key, (long long)(t.l1_bytes >> 10),
           (long long)(t.l2_bytes >> 10), (long long)(t.l3_bytes >> 20));
    printf("# ceilings (ts_tune_ceilings_cpu): %.2f GHz, %.0f GFLOP/s, %.1f GB/s copy, %.2f us launch\n", ceil.ghz,
           ceil.gflops, ceil.gbps, ceil.launch_s * 1e6);
    printf("# rows: 'tuner' the search as tune.c runs it (its estimates, default patience); 'no-stop' the same with "
           "patience = trials; 'no-est' without estimates\n");
    if (o.load)
        printf("# landscape: read from %s (measured earlier by --save)\n", o.load);
    else
        printf("# landscape: every candidate measured by the tuner's bench in %d sweep%s over the space, its least "
               "median kept\n",
               o.passes, o.passes > 1 ? "s" : "");
    printf("# each search: ts_tune_search over the space with trials = fraction x space, seeds 1..%d, default "
           "patience; ratios are best-found / exhaustive-best; 'search s' the median over seeds of the measuring "
           "time of the candidates it took; 'est top-1' the estimate's first choice / best\n",
           o.seeds);
    FILE *csv = NULL;
    if (o.csv) {
        csv = fopen(o.csv, "w");
        if (!csv) {
            fprintf(stderr, "bench_tune_search: error: cannot write %s\n", o.csv);
            return 1;
        }
        fprintf(csv, "shape,b_layout,threads,space,failed,best_us,best_gflops,default_ratio,within5_candidates,"
                     "remeasure_spread,pass_dev_median,pass_dev_p90,exhaustive_s,search,fraction,trials,seeds,"
                     "est_top1_ratio,median_ratio,"
                     "worst_ratio,within5_seeds,mean_measured,early_stops,median_search_s\n");
    }
    if (o.save && !(o.save_f = fopen(o.save, "w"))) {
        fprintf(stderr, "bench_tune_search: error: cannot write %s\n", o.save);
        return 1;
    }
    if (o.save_f)
        fprintf(o.save_f, "ceilings,%.9g,%.9g,%.9g,%.9g\n", ceil.ghz, ceil.gflops, ceil.gbps, ceil.launch_s);
    int failed = 0;
    for (int i = 0; i < nshapes; i++)
        if (!run_shape(shapes[i][0], shapes[i][1], shapes[i][2], &o, &info, &t, &ceil, csv))
            failed++;
    if (csv) fclose(csv);
    if (o.save_f) fclose(o.save_f);
    return failed ? 1 : 0;
}
