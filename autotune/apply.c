/* apply.c — gives a compiled program the schedules a tuning database holds
 * for its tasks: the fastest record of each kernel's task on the target,
 * where that schedule is still legal; other kernels keep their default. */
#include <math.h>
#include <string.h>

#include "autotune/autotune.h"

/* Compiling for a GPU arch on a machine without that GPU (compile --target
 * cuda --arch sm_90a here, for a deployment there): the device fields are
 * unknown, so a record matches on the arch and the f32 mode alone. */
static bool matches(const struct ts_tune_record *rec, const struct ts_tune_target *t) {
    if (strcmp(rec->target.key, t->key) == 0) return true;
    return t->kind == TS_TARGET_CUDA && !t->device[0] && rec->target.kind == TS_TARGET_CUDA &&
           strcmp(rec->target.arch, t->arch) == 0 && rec->target.strict_f32 == t->strict_f32;
}

/* The fastest OK record of the task on t whose schedule is legal for k
 * now: a record made by an older tessera whose rules have changed since (or
 * written by hand) is passed over for the next fastest, never trusted. */
static const struct ts_tune_record *best_legal(const struct ts_tune_db *db, const struct ts_kernel *k,
                                               const char *task, const struct ts_tune_target *t,
                                               union ts_sched *sched) {
    const struct ts_tune_record *best = NULL;
    for (int i = 0; i < db->n; i++) {
        const struct ts_tune_record *rec = &db->recs[i];
        if (rec->status != TS_TUNE_OK || !isfinite(rec->median_s) || rec->kind != k->kind ||
            strcmp(rec->task, task) != 0 || !matches(rec, t))
            continue;
        if (best && rec->median_s >= best->median_s) continue;
        struct ts_kernel tuned = *k;
        ts_tune_sched_copy(k->kind, t->kind, &tuned.sched, &rec->sched);
        struct ts_diag why;
        ts_diag_clear(&why);
        if (ts_tune_check(&tuned, t, &why) != TS_OK) continue;
        best = rec;
        *sched = tuned.sched;
    }
    return best;
}

enum ts_status ts_tune_apply(struct ts_program *p, const struct ts_tune_db *db, const struct ts_tune_target *t,
                             int *applied, struct ts_diag *d) {
    (void)d;
    *applied = 0;
    for (int i = 0; i < p->nkernels; i++) {
        struct ts_kernel *k = &p->kernels[i];
        struct ts_tune_task task;
        ts_tune_task_of(p, i, &task);
        union ts_sched sched;
        if (!best_legal(db, k, task.hash, t, &sched)) continue;
        k->sched = sched;
        k->tuned = true;
        (*applied)++;
    }
    return TS_OK;
}
