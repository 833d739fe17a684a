/* fuzz_db.c — libFuzzer target for the tuning-database reader: any bytes, read
 * as a database file, must load (lines that cannot be trusted skipped, never a
 * crash, leak or wild read); the same file filtered by a target keeps exactly
 * that target's records; best and find agree with a scan of what was read; and
 * every record written back as its JSON line reads back equal, line for line. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "autotune/autotune.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A bug found: say what and stop, so libFuzzer saves the input. */
static void fail(const char *why, const struct ts_diag *d) {
    char msg[1400] = "";
    if (d && d->status != TS_OK) ts_diag_format(d, msg, sizeof msg);
    fprintf(stderr, "fuzz_db: %s %s\n", why, msg);
    abort();
}

/* The loader takes a path: an in-memory file (memfd) under /proc/self/fd,
 * one per use, rewritten for each input, so the fuzzer never touches the disk. */
struct memfile {
    int fd;
    char path[64];
};

static void memfile_write(struct memfile *m, const char *name, const void *data, size_t size) {
    if (m->fd <= 0) {
        m->fd = memfd_create(name, MFD_CLOEXEC);
        if (m->fd < 0) fail("memfd_create failed", NULL);
        snprintf(m->path, sizeof m->path, "/proc/self/fd/%d", m->fd);
    }
    if (ftruncate(m->fd, 0) != 0) fail("ftruncate failed", NULL);
    const char *p = data;
    for (size_t done = 0; done < size;) {
        ssize_t w = pwrite(m->fd, p + done, size - done, (off_t)done);
        if (w <= 0) fail("pwrite failed", NULL);
        done += (size_t)w;
    }
}

static bool same_seconds(double a, double b) { return a == b || (isinf(a) && isinf(b) && a > 0 && b > 0); }

/* Every field a line carries, and the key recomputed from them. */
static bool same_record(const struct ts_tune_record *a, const struct ts_tune_record *b) {
    const struct ts_tune_target *s = &a->target, *t = &b->target;
    return a->kind == b->kind && !strcmp(a->task, b->task) && !strcmp(a->signature, b->signature) &&
           s->kind == t->kind && !strcmp(s->device, t->device) && !strcmp(s->arch, t->arch) &&
           !strcmp(s->features, t->features) && s->vector_bits == t->vector_bits &&
           s->vector_regs == t->vector_regs && s->threads == t->threads && s->l1_bytes == t->l1_bytes &&
           s->l2_bytes == t->l2_bytes && s->l3_bytes == t->l3_bytes && s->sm_count == t->sm_count &&
           s->driver_version == t->driver_version && !strcmp(s->nvrtc, t->nvrtc) && s->strict_f32 == t->strict_f32 &&
           !strcmp(s->key, t->key) && ts_tune_sched_equal(a->kind, s->kind, &a->sched, &b->sched) &&
           a->is_default == b->is_default && a->status == b->status && !strcmp(a->error, b->error) &&
           same_seconds(a->median_s, b->median_s) && same_seconds(a->min_s, b->min_s) &&
           same_seconds(a->max_s, b->max_s) && a->count == b->count && a->flops == b->flops &&
           !strcmp(a->version, b->version) && !strcmp(a->time, b->time);
}

static bool is_hex16(const char *s) {
    if (strlen(s) != 16) return false;
    for (int i = 0; i < 16; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* What the reader promises of each record it keeps (docs/TUNING.md). */
static void check_record(const struct ts_tune_record *r) {
    if (r->kind < 0 || r->kind >= TS_KERNEL_KIND_COUNT) fail("a record with a bad kind", NULL);
    if (r->status < 0 || r->status >= TS_TUNE_STATUS_COUNT) fail("a record with a bad status", NULL);
    if (r->target.kind != TS_TARGET_CPU && r->target.kind != TS_TARGET_CUDA) fail("a record with a bad target", NULL);
    if (!is_hex16(r->task)) fail("a record whose task is not 16 hex digits", NULL);
    if (!r->target.key[0]) fail("a record without a target key", NULL);
    if (r->count < 0 || !(r->flops >= 0) || !isfinite(r->flops)) fail("a record with a bad count or flops", NULL);
    if (!(r->median_s >= 0) || !(r->min_s >= 0) || !(r->max_s >= 0)) fail("a record with negative or NaN times", NULL);
    if (r->status == TS_TUNE_OK && (!isfinite(r->median_s) || r->count < 1))
        fail("an ok record without a finite time and a count", NULL);
}

/* best: the fastest OK record of (task, key), found by scanning; find: the
 * latest record of the schedule, which exists (r itself is one). */
static void check_queries(const struct ts_tune_db *db, int i) {
    const struct ts_tune_record *r = &db->recs[i];
    const struct ts_tune_record *best = ts_tune_db_best(db, r->task, r->target.key);
    double fastest = INFINITY;
    bool any = false;
    for (int j = 0; j < db->n; j++) {
        const struct ts_tune_record *q = &db->recs[j];
        if (q->status != TS_TUNE_OK || strcmp(q->task, r->task) != 0 || strcmp(q->target.key, r->target.key) != 0)
            continue;
        any = true;
        if (q->median_s < fastest) fastest = q->median_s;
    }
    if (any != (best != NULL)) fail("best disagrees with a scan about whether there is an ok record", NULL);
    if (best && (best->status != TS_TUNE_OK || best->median_s != fastest || strcmp(best->task, r->task) != 0 ||
                 strcmp(best->target.key, r->target.key) != 0))
        fail("best is not the fastest ok record of its task and target", NULL);
    const struct ts_tune_record *found = ts_tune_db_find(db, r->task, r->target.key, &r->sched);
    if (!found || found < r || found >= db->recs + db->n) fail("find misses a record's own schedule", NULL);
    for (const struct ts_tune_record *q = found + 1; q < db->recs + db->n; q++)
        if (!strcmp(q->task, r->task) && !strcmp(q->target.key, r->target.key) &&
            ts_tune_sched_equal(q->kind, q->target.kind, &q->sched, &r->sched))
            fail("find is not the latest record of the schedule", NULL);
}

/* Each record as its JSON line, all of them as one file, read back: the same
 * records, none skipped, and the same lines when written again. */
static void check_round_trip(const struct ts_tune_db *db) {
    static struct memfile back;
    char **lines = calloc((size_t)db->n + 1, sizeof *lines);
    size_t total = 0;
    if (!lines) fail("out of memory", NULL);
    for (int i = 0; i < db->n; i++) {
        if (!(lines[i] = ts_tune_record_to_json(&db->recs[i]))) fail("out of memory writing a record", NULL);
        if (strchr(lines[i], '\n') || strchr(lines[i], '\r')) fail("a record line with a line break inside", NULL);
        total += strlen(lines[i]) + 1;
    }
    char *text = malloc(total + 1), *at = text;
    if (!text) fail("out of memory", NULL);
    for (int i = 0; i < db->n; i++) {
        size_t n = strlen(lines[i]);
        memcpy(at, lines[i], n);
        at[n] = '\n';
        at += n + 1;
    }
    memfile_write(&back, "fuzz_db_back", text, total);
    free(text);
    struct ts_tune_db again;
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_tune_db_load(back.path, NULL, false, NULL, &again, &d) != TS_OK)
        fail("cannot read back what was written:", &d);
    if (again.n != db->n || again.skipped != 0 || again.foreign != 0)
        fail("records were lost or skipped in the round trip", NULL);
    for (int i = 0; i < db->n; i++) {
        if (!same_record(&db->recs[i], &again.recs[i])) {
            fprintf(stderr, "fuzz_db: record %d changed:\n  %s\n", i, lines[i]);
            fail("a record changed in the round trip", NULL);
        }
        char *line = ts_tune_record_to_json(&again.recs[i]);
        if (!line) fail("out of memory writing a record", NULL);
        if (strcmp(line, lines[i]) != 0) {
            fprintf(stderr, "fuzz_db: record %d written twice differs:\n  %s\n  %s\n", i, lines[i], line);
            fail("a record's line changed in the round trip", NULL);
        }
        free(line);
    }
    ts_tune_db_free(&again);
    for (int i = 0; i < db->n; i++) free(lines[i]);
    free(lines);
}

/* Filtered by a target: exactly the unfiltered records of its key, in order;
 * the others counted as foreign, the skipped lines the same. */
static void check_filtered(const struct memfile *in, const struct ts_tune_db *all, const struct ts_tune_target *t) {
    struct ts_tune_db db;
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_tune_db_load(in->path, t, false, NULL, &db, &d) != TS_OK) fail("a filtered load failed:", &d);
    int j = 0, foreign = 0;
    for (int i = 0; i < all->n; i++) {
        if (strcmp(all->recs[i].target.key, t->key) != 0) {
            foreign++;
            continue;
        }
        if (j >= db.n || !same_record(&all->recs[i], &db.recs[j]))
            fail("a filtered load lost or changed a record", NULL);
        j++;
    }
    if (j != db.n || db.foreign != foreign || db.skipped != all->skipped)
        fail("a filtered load kept other records or counted differently", NULL);
    ts_tune_db_free(&db);
}

static FILE *devnull(void) {
    static FILE *f;
    if (!f) f = fopen("/dev/null", "w");
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct memfile in;
    memfile_write(&in, "fuzz_db_in", data, size);
    struct ts_tune_db db;
    struct ts_diag d;
    ts_diag_clear(&d);
    /* Warnings are formatted (into /dev/null): their text is part of the reader. */
    enum ts_status rc = ts_tune_db_load(in.path, NULL, false, devnull(), &db, &d);
    if (rc != TS_OK) {
        if (rc != TS_ERR_NOMEM || !d.what[0]) fail("an existing file refused:", &d);
        return 0;
    }
    if (db.n < 0 || db.skipped < 0 || db.foreign != 0 || (db.n > 0 && !db.recs))
        fail("bad counts from an unfiltered load", NULL);
    /* Each record and each skipped line used at least one line. */
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    if ((size_t)db.n + (size_t)db.skipped > lines) fail("more records and skipped lines than lines", NULL);
    for (int i = 0; i < db.n; i++) check_record(&db.recs[i]);
    for (int i = 0; i < db.n; i++) check_queries(&db, i);
    /* A target of the file (its first record's) and one no record has. */
    if (db.n > 0) check_filtered(&in, &db, &db.recs[0].target);
    struct ts_tune_target none;
    memset(&none, 0, sizeof none);
    none.kind = TS_TARGET_CUDA;
    snprintf(none.device, sizeof none.device, "no such device");
    ts_tune_target_key(&none);
    check_filtered(&in, &db, &none);
    check_round_trip(&db);
    ts_tune_db_free(&db);
    return 0;
}
