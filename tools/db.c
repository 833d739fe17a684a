/* db.c — `tessera db show|best|merge`: the tuning database for people. show
 * lists records by target and task, best picks each task's fastest schedule
 * with its speed-up over the default, merge joins databases (tuning shards,
 * machines) into one without duplicates, written atomically. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autotune/autotune.h"
#include "tools/cli.h"

/* Also in cli.h once the verb is dispatched; repeating a prototype is harmless. */
int ts_cli_db(int argc, char **argv);

static const char db_usage[] =
    "usage: tessera db show FILE [--task HASH] [--json]\n"
    "       tessera db best FILE [--target-key KEY]\n"
    "       tessera db merge OUT IN...\n"
    "\n"
    "The tuning database: JSON lines written by `tessera tune` (docs/TUNING.md).\n"
    "Lines that cannot be used (torn, malformed, missing fields) are skipped with a\n"
    "warning on standard error naming FILE:LINE.\n"
    "\n"
    "verbs:\n"
    "  show    every record, grouped by target then task: schedule, status, median\n"
    "          time, GFLOP/s, and * on the kernel's default schedule\n"
    "  best    per task and target, the fastest successful record and its speed-up\n"
    "          over the default schedule's record\n"
    "  merge   the records of every IN (duplicates of one task, target and schedule\n"
    "          keep the one with more timed runs, then the later), written to OUT\n"
    "          atomically; OUT may be one of the INs\n"
    "\n"
    "options:\n"
    "  --task HASH        show: only this task (its 16-digit hash)\n"
    "  --json             show: one JSON object with the records and the counts\n"
    "  --target-key KEY   best: only this target (as `db show` prints it)\n"
    "  -h, --help         this help\n";

static int usage_error(const char *opt, const char *what) { return ts_cli_usage_error("db", opt, "%s", what); }

/* Distinct target keys in first-appearance order (indices of a record with each). */
static int list_targets(const struct ts_tune_db *db, int *first) {
    int n = 0;
    for (int i = 0; i < db->n; i++) {
        bool seen = false;
        for (int j = 0; j < n && !seen; j++) seen = strcmp(db->recs[first[j]].target.key, db->recs[i].target.key) == 0;
        if (!seen) first[n++] = i;
    }
    return n;
}

/* Distinct tasks of one target in first-appearance order. */
static int list_tasks(const struct ts_tune_db *db, const char *key, int *first) {
    int n = 0;
    for (int i = 0; i < db->n; i++) {
        if (strcmp(db->recs[i].target.key, key) != 0) continue;
        bool seen = false;
        for (int j = 0; j < n && !seen; j++) seen = strcmp(db->recs[first[j]].task, db->recs[i].task) == 0;
        if (!seen) first[n++] = i;
    }
    return n;
}

static double gflops(const struct ts_tune_record *r) {
    return r->status == TS_TUNE_OK && r->median_s > 0 && isfinite(r->median_s) ? r->flops / r->median_s * 1e-9 : 0;
}

/* "gemm f32 16x2304x768 B[N,K] +add,…": at most width characters. */
static const char *clip(const char *s, int width, char *buf, size_t size) {
    if ((int)strlen(s) <= width) return s;
    snprintf(buf, size, "%.*s...", width - 3, s);
    return buf;
}

static void print_record_row(const struct ts_tune_record *r) {
    char sched[160], sig[64];
    ts_tune_sched_format(r->kind, r->target.kind, &r->sched, sched, sizeof sched);
    printf("  %-16s %-9s %-36s %-38s %-9s", r->task, ts_kernel_kind_name(r->kind),
           clip(r->signature, 36, sig, sizeof sig), sched, ts_tune_status_name(r->status));
    if (r->status == TS_TUNE_OK)
        printf(" %11.2f %9.1f", r->median_s * 1e6, gflops(r));
    else
        printf(" %11s %9s", "-", "-");
    printf("%s\n", r->is_default ? " *" : "");
}

static int show_json(const char *path, const struct ts_tune_db *db, const char *task, int ntasks, int ntargets,
                     int failed, int shown) {
    printf("{\"file\":");
    ts_json_print_string(path, stdout);
    printf(",\"records\":[");
    int k = 0;
    for (int i = 0; i < db->n; i++) {
        if (task && strcmp(db->recs[i].task, task) != 0) continue;
        char *line = ts_tune_record_to_json(&db->recs[i]);
        if (!line) {
            fprintf(stderr, "tessera: error: out of memory printing tuning records\n");
            return 1;
        }
        printf("%s%s", k++ ? "," : "", line);
        free(line);
    }
    printf("],\"count\":%d,\"tasks\":%d,\"targets\":%d,\"failed\":%d,\"skipped\":%d}\n", shown, ntasks, ntargets,
           failed, db->skipped);
    return 0;
}

/* What show and best start with: every record of the file (warnings on
 * stderr) and room for the index lists of list_targets and list_tasks.
 * 0, or the exit status after the error line (nothing left to free). */
static int open_listing(const char *path, struct ts_tune_db *db, int **targets, int **tasks) {
    struct ts_diag d;
    ts_diag_clear(&d);
    *targets = *tasks = NULL;
    if (ts_tune_db_load(path, NULL, false, stderr, db, &d) != TS_OK) return ts_cli_fail(&d);
    *targets = malloc((size_t)(db->n + 1) * sizeof **targets);
    *tasks = malloc((size_t)(db->n + 1) * sizeof **tasks);
    if (!*targets || !*tasks) {
        free(*targets);
        free(*tasks);
        ts_tune_db_free(db);
        fprintf(stderr, "tessera: error: out of memory listing tuning records\n");
        return 1;
    }
    return 0;
}

static void close_listing(struct ts_tune_db *db, int *targets, int *tasks) {
    free(targets);
    free(tasks);
    ts_tune_db_free(db);
}

static int show(const char *path, const char *task, bool json) {
    struct ts_tune_db db;
    int *targets, *tasks;
    int rc = open_listing(path, &db, &targets, &tasks);
    if (rc) return rc;
    int ntargets = list_targets(&db, targets), shown_targets = 0, ntasks = 0, shown = 0, failed = 0;
    /* Counts first, so that the text and the JSON say the same. */
    for (int t = 0; t < ntargets; t++) {
        const char *key = db.recs[targets[t]].target.key;
        int n = list_tasks(&db, key, tasks), here = 0;
        for (int j = 0; j < n; j++)
            if (!task || strcmp(db.recs[tasks[j]].task, task) == 0) here++;
        ntasks += here;
        shown_targets += here > 0;
    }
    for (int i = 0; i < db.n; i++) {
        if (task && strcmp(db.recs[i].task, task) != 0) continue;
        shown++;
        failed += db.recs[i].status != TS_TUNE_OK;
    }
    if (json) {
        rc = show_json(path, &db, task, ntasks, shown_targets, failed, shown);
    } else {
        for (int t = 0; t < ntargets; t++) {
            const char *key = db.recs[targets[t]].target.key;
            int n = list_tasks(&db, key, tasks);
            bool header = false;
            for (int j = 0; j < n; j++) {
                const char *h = db.recs[tasks[j]].task;
                if (task && strcmp(h, task) != 0) continue;
                if (!header) {
                    printf("%starget %s\n", t ? "\n" : "", key);
                    printf("  %-16s %-9s %-36s %-38s %-9s %11s %9s\n", "task", "kind", "signature", "schedule",
                           "status", "median_us", "GFLOP/s");
                    header = true;
                }
                for (int i = 0; i < db.n; i++)
                    if (strcmp(db.recs[i].task, h) == 0 && strcmp(db.recs[i].target.key, key) == 0)
                        print_record_row(&db.recs[i]);
            }
        }
        printf("%s%d record%s, %d task%s, %d target%s, %d failed, %d skipped line%s (* default schedule)\n",
               shown ? "\n" : "", shown, shown == 1 ? "" : "s", ntasks, ntasks == 1 ? "" : "s", shown_targets,
               shown_targets == 1 ? "" : "s", failed, db.skipped, db.skipped == 1 ? "" : "s");
    }
    close_listing(&db, targets, tasks);
    return rc;
}

/* The latest successful record of the task's default schedule, or NULL. */
static const struct ts_tune_record *default_record(const struct ts_tune_db *db, const char *task, const char *key) {
    for (int i = db->n - 1; i >= 0; i--) {
        const struct ts_tune_record *r = &db->recs[i];
        if (r->is_default && r->status == TS_TUNE_OK && strcmp(r->task, task) == 0 && strcmp(r->target.key, key) == 0)
            return r;
    }
    return NULL;
}

static int best(const char *path, const char *target_key) {
    struct ts_tune_db db;
    int *targets, *tasks;
    int rc = open_listing(path, &db, &targets, &tasks);
    if (rc) return rc;
    int ntargets = list_targets(&db, targets), found = 0, untuned = 0, shown_targets = 0;
    for (int t = 0; t < ntargets; t++) {
        const char *key = db.recs[targets[t]].target.key;
        if (target_key && strcmp(key, target_key) != 0) continue;
        printf("%starget %s\n", shown_targets++ ? "\n" : "", key);
        printf("  %-16s %-9s %-36s %-38s %11s %11s %8s\n", "task", "kind", "signature", "best schedule", "best_us",
               "default_us", "speedup");
        int n = list_tasks(&db, key, tasks);
        for (int j = 0; j < n; j++) {
            const struct ts_tune_record *any = &db.recs[tasks[j]];
            const struct ts_tune_record *b = ts_tune_db_best(&db, any->task, key);
            const struct ts_tune_record *def = default_record(&db, any->task, key);
            char sched[160], sig[64];
            printf("  %-16s %-9s %-36s ", any->task, ts_kernel_kind_name(any->kind),
                   clip(any->signature, 36, sig, sizeof sig));
            if (!b) {
                untuned++;
                printf("%-38s %11s %11s %8s\n", "(no successful record)", "-", "-", "-");
                continue;
            }
            found++;
            ts_tune_sched_format(b->kind, b->target.kind, &b->sched, sched, sizeof sched);
            printf("%-38s %11.2f ", sched, b->median_s * 1e6);
            if (def)
                printf("%11.2f %7.2fx\n", def->median_s * 1e6, b->median_s > 0 ? def->median_s / b->median_s : 1.0);
            else
                printf("%11s %8s\n", "-", "-");
        }
    }
    if (target_key && !shown_targets) {
        close_listing(&db, targets, tasks);
        struct ts_diag d;
        ts_diag_clear(&d);
        ts_diag_set(&d, TS_ERR_USAGE, path, "--target-key", "no record of target '%s'", target_key);
        return ts_cli_fail(&d);
    }
    printf("%s%d task%s with a best record, %d without; %d skipped line%s\n", shown_targets ? "\n" : "", found,
           found == 1 ? "" : "s", untuned, db.skipped, db.skipped == 1 ? "" : "s");
    close_listing(&db, targets, tasks);
    return 0;
}

/* ---- merge ------------------------------------------------------------------- */

/* Whether a should be kept over b (same task, target and schedule). */
static bool better(const struct ts_tune_record *a, const struct ts_tune_record *b) {
    if (a->count != b->count) return a->count > b->count;
    return strcmp(a->time, b->time) >= 0;  /* ISO 8601 UTC sorts as text; a tie: the later read */
}

static uint64_t record_hash(const struct ts_tune_record *r) {
    char sched[512];
    ts_tune_sched_to_json(r->kind, r->target.kind, &r->sched, sched, sizeof sched);
    uint64_t h = ts_fnv64(TS_FNV64_INIT, r->task, strlen(r->task) + 1);
    h = ts_fnv64(h, r->target.key, strlen(r->target.key) + 1);
    return ts_fnv64(h, sched, strlen(sched));
}

/* Writes db to path through a temporary file renamed into place, so that a
 * reader (or a crash) never sees half a database. */
static enum ts_status write_atomic(const char *path, const struct ts_tune_db *db, struct ts_diag *d) {
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory");
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return ts_diag_set(d, TS_ERR_IO, path, "", "cannot create a temporary file next to it: %s", strerror(e));
    }
    FILE *f = fdopen(fd, "w");
    enum ts_status st = TS_OK;
    if (!f) {
        close(fd);
        st = ts_diag_set(d, TS_ERR_IO, path, "", "cannot write: %s", strerror(errno));
    }
    for (int i = 0; st == TS_OK && i < db->n; i++) {
        char *line = ts_tune_record_to_json(&db->recs[i]);
        if (!line) st = ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory writing a tuning record");
        else if (fprintf(f, "%s\n", line) < 0)
            st = ts_diag_set(d, TS_ERR_IO, path, "", "cannot write: %s", strerror(errno));
        free(line);
    }
    if (f) {
        if (st == TS_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
            st = ts_diag_set(d, TS_ERR_IO, path, "", "cannot write: %s", strerror(errno));
        if (fclose(f) != 0 && st == TS_OK)
            st = ts_diag_set(d, TS_ERR_IO, path, "", "cannot write: %s", strerror(errno));
    }
    if (st == TS_OK && rename(tmp, path) != 0)
        st = ts_diag_set(d, TS_ERR_IO, path, "", "cannot replace it with the merged database: %s", strerror(errno));
    if (st != TS_OK) unlink(tmp);
    free(tmp);
    return st;
}

static int merge(const char *out, char **ins, int nins) {
    struct ts_tune_db all = {0}, merged = {0};
    struct ts_diag d;
    ts_diag_clear(&d);
    int skipped = 0;
    /* Every input is read before OUT is written: OUT may be one of them. */
    for (int i = 0; i < nins; i++) {
        struct ts_tune_db db;
        if (ts_tune_db_load(ins[i], NULL, false, stderr, &db, &d) != TS_OK) {
            ts_tune_db_free(&all);
            return ts_cli_fail(&d);
        }
        for (int j = 0; j < db.n; j++) ts_tune_db_add(&all, &db.recs[j]);
        skipped += db.skipped;
        ts_tune_db_free(&db);
    }
    /* Open addressing on (task, target, schedule); slots hold merged indices + 1. */
    size_t cap = 16;
    while (cap < (size_t)all.n * 2 + 16) cap *= 2;
    int *slots = calloc(cap, sizeof *slots);
    if (!slots) {
        ts_tune_db_free(&all);
        fprintf(stderr, "tessera: error: out of memory merging tuning records\n");
        return 1;
    }
    int dups = 0;
    for (int i = 0; i < all.n; i++) {
        const struct ts_tune_record *r = &all.recs[i];
        size_t s = (size_t)record_hash(r) & (cap - 1);
        for (; slots[s]; s = (s + 1) & (cap - 1)) {
            struct ts_tune_record *m = &merged.recs[slots[s] - 1];
            if (strcmp(m->task, r->task) == 0 && strcmp(m->target.key, r->target.key) == 0 && m->kind == r->kind &&
                ts_tune_sched_equal(r->kind, r->target.kind, &m->sched, &r->sched))
                break;
        }
        if (slots[s]) {
            dups++;
            struct ts_tune_record *m = &merged.recs[slots[s] - 1];
            if (better(r, m)) *m = *r;
            continue;
        }
        ts_tune_db_add(&merged, r);
        slots[s] = merged.n;
    }
    free(slots);
    enum ts_status st = write_atomic(out, &merged, &d);
    if (st == TS_OK)
        printf("merged %d file%s: %d records read, %d duplicate%s dropped, %d written to %s; %d skipped line%s\n", nins,
               nins == 1 ? "" : "s", all.n, dups, dups == 1 ? "" : "s", merged.n, out, skipped,
               skipped == 1 ? "" : "s");
    ts_tune_db_free(&all);
    ts_tune_db_free(&merged);
    return st == TS_OK ? 0 : ts_cli_fail(&d);
}

int ts_cli_db(int argc, char **argv) {
    /* argv[0] is "db". */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(db_usage, stdout);
            return 0;
        }
    if (argc < 2) return usage_error("", "expected show, best or merge");
    const char *verb = argv[1];
    const char *task = NULL, *target_key = NULL;
    bool json = false;
    char *files[4096];
    int nfiles = 0, rc = 0;
    bool is_show = strcmp(verb, "show") == 0, is_best = strcmp(verb, "best") == 0,
         is_merge = strcmp(verb, "merge") == 0;
    if (!is_show && !is_best && !is_merge) {
        char what[160];
        snprintf(what, sizeof what, "unknown db verb '%.64s' (expected show, best or merge)", verb);
        return usage_error("", what);
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (is_show && ts_cli_is_option(a, "--task")) {
            if (!(task = ts_cli_option_value("db", argc, argv, &i, "--task", &rc))) return rc;
        } else if (is_show && strcmp(a, "--json") == 0) {
            json = true;
        } else if (is_best && ts_cli_is_option(a, "--target-key")) {
            if (!(target_key = ts_cli_option_value("db", argc, argv, &i, "--target-key", &rc))) return rc;
        } else if (a[0] == '-' && a[1] != '\0') {
            char what[160];
            snprintf(what, sizeof what, "unknown option for db %s", verb);
            return usage_error(a, what);
        } else if (nfiles < (int)(sizeof files / sizeof files[0])) {
            files[nfiles++] = argv[i];
        } else {
            return usage_error(a, "too many files");
        }
    }
    for (int i = 0; i < nfiles; i++)
        if ((rc = ts_cli_check_path("db", "FILE", files[i]))) return rc;
    if (is_merge) {
        if (nfiles < 2) return usage_error("", "db merge expects OUT and at least one IN");
        return merge(files[0], files + 1, nfiles - 1);
    }
    if (nfiles != 1) return usage_error("", is_show ? "db show expects one FILE" : "db best expects one FILE");
    return is_show ? show(files[0], task, json) : best(files[0], target_key);
}
