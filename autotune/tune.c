/* tune.c — the whole tuning of a program: for each task of this shard, its
 * search space, the analytical estimates, what the database already holds,
 * the search itself, and one record appended per measured candidate as soon
 * as it is measured, so an interrupted run loses nothing and a second run
 * resumes where the first stopped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autotune/autotune.h"

/* What one task's measurements need (the search's measure callback). */
struct task_run {
    const struct ts_tune_target *t;
    const char *db_path;
    struct ts_tune_db *db;
    const struct ts_tune_space *space;
    struct ts_tune_bench *bench;
    struct ts_tune_report *rep;
    ts_tune_progress_fn progress;
    void *pctx;
    struct ts_tune_progress prog;
    double start;
    enum ts_status st;  /* the first database write failure: measuring stops */
    struct ts_diag *d;
};

static void utc_now(char *buf, size_t size) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fill_record(const struct task_run *r, int idx, const struct ts_tune_result *res,
                        struct ts_tune_record *rec) {
    memset(rec, 0, sizeof *rec);
    rec->kind = r->rep->task.kind;
    snprintf(rec->task, sizeof rec->task, "%s", r->rep->task.hash);
    snprintf(rec->signature, sizeof rec->signature, "%s", r->rep->task.signature);
    rec->target = *r->t;
    rec->sched = r->space->cands[idx];
    rec->is_default = idx == 0;
    rec->status = res->status;
    snprintf(rec->error, sizeof rec->error, "%s", res->error);
    rec->median_s = res->median_s;
    rec->min_s = res->min_s;
    rec->max_s = res->max_s;
    rec->count = res->count;
    rec->flops = r->rep->task.flops;
    snprintf(rec->version, sizeof rec->version, "%s", TS_VERSION);
    utc_now(rec->time, sizeof rec->time);
}

static void note_time(struct ts_tune_report *rep, const struct ts_tune_space *space, int idx, double s) {
    if (idx == 0) rep->default_s = s;
    if (isfinite(s) && s < rep->best_s) {
        rep->best_s = s;
        rep->best = space->cands[idx];
    }
}

static void measure_batch(void *vctx, const int *idx, int n, double *seconds) {
    struct task_run *r = vctx;
    union ts_sched cands[8];
    struct ts_tune_result res[8];
    for (int done = 0; done < n;) {
        int m = n - done < 8 ? n - done : 8;
        for (int i = 0; i < m; i++) cands[i] = r->space->cands[idx[done + i]];
        if (r->st == TS_OK) {
            ts_tune_bench_run(r->bench, cands, m, res);
        } else {
            for (int i = 0; i < m; i++) seconds[done + i] = INFINITY;
            done += m;
            continue;
        }
        for (int i = 0; i < m; i++) {
            int c = idx[done + i];
            struct ts_tune_record rec;
            fill_record(r, c, &res[i], &rec);
            if (r->st == TS_OK) r->st = ts_tune_db_append(r->db_path, &rec, r->d);
            ts_tune_db_add(r->db, &rec);
            bool ok = res[i].status == TS_TUNE_OK && isfinite(res[i].median_s);
            seconds[done + i] = ok ? res[i].median_s : INFINITY;
            r->rep->measured++;
            if (!ok) r->rep->failed++;
            note_time(r->rep, r->space, c, seconds[done + i]);
            if (r->progress) {
                r->prog.elapsed_s = ts_rt_now_seconds() - r->start;
                r->progress(r->pctx, &r->prog);
            }
        }
        done += m;
    }
}

/* Earlier measurements of this task's candidates on this target. */
static double *known_times(const struct ts_tune_db *db, const struct ts_tune_target *t, const struct ts_tune_task *task,
                           const struct ts_tune_space *space, struct ts_tune_report *rep) {
    double *known = malloc((size_t)space->n * sizeof *known);
    if (!known) return NULL;
    for (int i = 0; i < space->n; i++) {
        const struct ts_tune_record *rec = ts_tune_db_find(db, task->hash, t->key, &space->cands[i]);
        known[i] = !rec ? NAN : rec->status == TS_TUNE_OK && isfinite(rec->median_s) ? rec->median_s : INFINITY;
        if (rec) {
            rep->known++;
            note_time(rep, space, i, known[i]);
        }
    }
    return known;
}

static double *estimates(const struct ts_kernel *k, const struct ts_tune_space *space, const struct ts_tune_target *t,
                         const struct ts_tune_ceilings *c) {
    if (!c) return NULL;
    double *e = malloc((size_t)space->n * sizeof *e);
    if (!e) return NULL;
    struct ts_kernel tmp = *k;
    for (int i = 0; i < space->n; i++) {
        tmp.sched = space->cands[i];
        e[i] = ts_tune_estimate(&tmp, &space->cands[i], t, c);
    }
    return e;
}

static uint64_t task_seed(uint64_t seed, const char *hash) {
    return ts_fnv64(seed ^ TS_FNV64_INIT, hash, strlen(hash));
}

/* Tunes one task; a failure to set it up is noted in its report, not returned. */
static enum ts_status tune_task(const struct ts_program *p, struct task_run *r, const struct ts_tune_opts *o,
                                const struct ts_tune_ceilings *ceil, double budget_s, FILE *warn) {
    struct ts_tune_report *rep = r->rep;
    const struct ts_kernel *k = &p->kernels[rep->task.kernel];
    struct ts_tune_space space = {0};
    struct ts_diag d;
    ts_diag_clear(&d);
    double t0 = ts_rt_now_seconds();
    if (ts_tune_space_build(k, r->t, &space, &d) != TS_OK) {
        ts_diag_format(&d, rep->error, sizeof rep->error);
        return TS_OK;
    }
    rep->space = space.n;
    rep->rejected = space.rejected;
    double *known = known_times(r->db, r->t, &rep->task, &space, rep);
    double *est = estimates(k, &space, r->t, ceil);
    r->space = &space;
    struct ts_tune_search_opts so = {
        .trials = o->trials > 0 ? o->trials : 64,
        .budget_s = budget_s,
        .seed = task_seed(o->seed, rep->task.hash),
        .patience = o->patience,
    };
    r->prog.trials = so.trials;
    if (!known) {
        snprintf(rep->error, sizeof rep->error, "out of memory");
        goto out;
    }
    /* Everything already measured: no process to start. */
    int unknown = 0;
    for (int i = 0; i < space.n; i++) unknown += isnan(known[i]);
    if (unknown > 0 && rep->known < so.trials) {
        if (ts_tune_bench_init(p, rep->task.kernel, r->t, &o->bench, &r->bench, &d) != TS_OK) {
            ts_diag_format(&d, rep->error, sizeof rep->error);
            if (warn) fprintf(warn, "tessera: warning: task %s (%s): not tuned: %s\n", rep->task.hash,
                              rep->task.signature, rep->error);
            goto out;
        }
    }
    if (r->progress) {
        r->prog.elapsed_s = ts_rt_now_seconds() - r->start;
        r->progress(r->pctx, &r->prog);
    }
    struct ts_tune_search_result sr;
    ts_tune_search(&space, est, known, &so, measure_batch, r, ts_rt_now_seconds, &sr);
    rep->early_stop = sr.early_stop;
    rep->out_of_budget = sr.out_of_budget;
    rep->exhaustive = sr.exhaustive;
    if (sr.best >= 0) {
        rep->best = space.cands[sr.best];
        rep->best_s = sr.best_s;
    }
out:
    ts_tune_bench_free(r->bench);
    r->bench = NULL;
    r->space = NULL;
    free(known);
    free(est);
    ts_tune_space_free(&space);
    rep->seconds = ts_rt_now_seconds() - t0;
    return r->st;
}

enum ts_status ts_tune_program(const struct ts_program *p, const struct ts_tune_target *t, const char *db_path,
                               const struct ts_tune_opts *o, ts_tune_progress_fn progress, void *ctx,
                               struct ts_tune_report **reports, int *nreports, FILE *warn, struct ts_diag *d) {
    *reports = NULL;
    *nreports = 0;
    struct ts_tune_task *tasks = NULL;
    int ntasks = 0;
    TS_TRY(ts_tune_tasks(p, &tasks, &ntasks, d));
    struct ts_tune_db db = {0};
    /* Unfiltered: a database shared by several machines is normal; lookups match the target key. */
    if (ts_tune_db_load(db_path, NULL, true, warn, &db, d) != TS_OK) {
        free(tasks);
        return d->status;
    }
    struct ts_tune_report *reps = calloc((size_t)(ntasks > 0 ? ntasks : 1), sizeof *reps);
    if (!reps) {
        free(tasks);
        ts_tune_db_free(&db);
        return ts_diag_set(d, TS_ERR_NOMEM, db_path, "", "out of memory");
    }
    int nshards = o->nshards > 0 ? o->nshards : 1, mine = 0;
    for (int i = 0; i < ntasks; i++) {
        reps[i].task = tasks[i];
        reps[i].default_s = reps[i].best_s = INFINITY;
        reps[i].skipped_shard = i % nshards != o->shard;
        mine += !reps[i].skipped_shard;
    }
    free(tasks);

    /* The roofline's ceilings, measured once (CPU only: the GPU search goes
     * by measurement alone). */
    struct ts_tune_ceilings ceil, *cp = NULL;
    if (t->kind == TS_TARGET_CPU && mine > 0) {
        struct ts_diag cd;
        ts_diag_clear(&cd);
        if (ts_tune_ceilings_cpu(t, &ceil, &cd) == TS_OK) cp = &ceil;
        else if (warn) fprintf(warn, "tessera: warning: no roofline estimates (%s): searching without them\n", cd.what);
    }

    struct task_run r = {.t = t, .db_path = db_path, .db = &db, .progress = progress, .pctx = ctx,
                         .start = ts_rt_now_seconds(), .st = TS_OK, .d = d};
    r.prog.ntasks = mine;
    enum ts_status st = TS_OK;
    for (int i = 0, n = 0; i < ntasks && st == TS_OK; i++) {
        if (reps[i].skipped_shard) continue;
        double left = 0;
        if (o->budget_s > 0) {
            left = (o->budget_s - (ts_rt_now_seconds() - r.start)) / (mine - n);
            if (left <= 0) {
                reps[i].out_of_budget = true;
                n++;
                continue;
            }
        }
        r.rep = &reps[i];
        r.prog.task = n++;
        r.prog.report = &reps[i];
        st = tune_task(p, &r, o, cp, left, warn);
    }
    ts_tune_db_free(&db);
    *reports = reps;
    *nreports = ntasks;
    return st;
}
