/* tuned.c — what compile, run and inspect share to use a tuning database
 * (--db FILE): the target the records must match, and applying the best
 * record of each kernel's task to the program before code generation. */
#include <string.h>

#include "autotune/autotune.h"
#include "tools/cli.h"

enum ts_status ts_cli_cpu_target(const char *cpu, int threads, struct ts_tune_target *t, struct ts_diag *d) {
    struct ts_cpu_info info;
    TS_TRY(ts_cpu_info_init(cpu, &info, d));
    return ts_tune_target_cpu(&info, threads, t, d);
}

enum ts_status ts_cli_cuda_target(const char *arch, int device, bool strict_f32, bool need_gpu, bool tuning,
                                  struct ts_tune_target *t, struct ts_diag *d) {
    struct ts_rt_cuda_info gpu;
    memset(&gpu, 0, sizeof gpu);
    char err[sizeof(struct ts_diag){0}.what];
    struct ts_diag pd;
    ts_diag_clear(&pd);
    /* The tuner measures in a child process that must be the first to
     * initialize the driver: it asks a short-lived child instead. */
    bool present = tuning ? ts_tune_cuda_probe(device, &gpu, &pd) == TS_OK
                          : ts_rt_cuda_probe(device, &gpu, err, sizeof err) == 0;
    if (tuning && !present) snprintf(err, sizeof err, "%s", pd.what);
    if (!present && need_gpu) return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "--target cuda", "%s", err);
    if (!present) memset(&gpu, 0, sizeof gpu); /* compiling elsewhere: records match on the arch */
    struct ts_cuda_arch a;
    TS_TRY(ts_cuda_arch_parse(arch ? arch : present ? gpu.arch : TS_CUDA_DEFAULT_ARCH, &a, d));
    int major = 0, minor = 0;
    struct ts_diag nd;
    ts_diag_clear(&nd);
    if (ts_nvrtc_version(&major, &minor, &nd) != TS_OK && need_gpu) {
        *d = nd;
        return d->status;
    }
    ts_tune_target_cuda(&gpu, &a, major, minor, strict_f32, t);
    return TS_OK;
}

bool ts_cli_db_has_target(const char *db_path, const char *key) {
    struct ts_tune_db db = {0};
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_tune_db_load(db_path, NULL, true, NULL, &db, &d) != TS_OK) return false;
    bool found = false;
    for (int i = 0; i < db.n && !found; i++) found = strcmp(db.recs[i].target.key, key) == 0;
    ts_tune_db_free(&db);
    return found;
}

enum ts_status ts_cli_apply_db(struct ts_program *p, const char *db_path, const struct ts_tune_target *t, bool quiet,
                               struct ts_diag *d) {
    struct ts_tune_db db = {0};
    /* Records of other machines are expected in a shared database: count
     * them rather than warn about each. */
    TS_TRY(ts_tune_db_load(db_path, NULL, false, quiet ? NULL : stderr, &db, d));
    int applied = 0, foreign = 0;
    for (int i = 0; i < db.n; i++) foreign += strcmp(db.recs[i].target.key, t->key) != 0;
    enum ts_status st = ts_tune_apply(p, &db, t, &applied, d);
    if (st == TS_OK && !quiet) {
        fprintf(stderr, "tessera: %s: tuned schedules for %d of %d kernels", db_path, applied, p->nkernels);
        if (applied < p->nkernels) fprintf(stderr, " (the others keep their defaults)");
        fprintf(stderr, "\n");
        if (applied == 0 && foreign > 0)
            fprintf(stderr, "tessera: warning: %s: none of its %d records is for this target (%s): tune here, or "
                            "match the --cpu/--threads (--arch) it was tuned with\n", db_path, db.n, t->key);
    }
    ts_tune_db_free(&db);
    return st;
}
