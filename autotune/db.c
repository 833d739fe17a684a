/* db.c — the tuning database: one record as one JSON line and back (the
 * schema of docs/TUNING.md), a file read whole (skipping what cannot be
 * trusted, with a warning naming FILE:LINE), appended one record per
 * write(2), and queried for a task's best record or a schedule's latest. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "autotune/autotune.h"

#define MAX_WARNINGS 10  /* then one line says how many more */

/* ---- a record as one line -------------------------------------------------- */

struct out {
    char *buf;
    size_t n, cap;
    bool failed;  /* out of memory */
};

static void out_grow(struct out *o, size_t extra) {
    if (o->failed || o->n + extra + 1 <= o->cap) return;
    size_t cap = o->cap ? o->cap : 1024;
    while (cap < o->n + extra + 1) cap *= 2;
    char *b = realloc(o->buf, cap);
    if (!b) {
        o->failed = true;
        return;
    }
    o->buf = b;
    o->cap = cap;
}

__attribute__((format(printf, 2, 3))) static void outf(struct out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    out_grow(o, (size_t)n);
    if (o->failed) return;
    va_start(ap, fmt);
    vsnprintf(o->buf + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    o->n += (size_t)n;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void out_str(struct out *o, const char *s) {
    outf(o, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            outf(o, "\\%c", *c);
        else if (*c == '\n')
            outf(o, "\\n");
        else if (*c == '\t')
            outf(o, "\\t");
        else if (*c < 0x20 || *c == 0x7f)
            outf(o, "\\u%04x", *c);
        else
            outf(o, "%c", *c);
    }
    outf(o, "\"");
}

/* The shortest of %.15g, %.16g, %.17g that reads back as x; null for a
 * non-finite x (JSON has no infinity: a failed candidate's times). */
static void out_num(struct out *o, double x) {
    if (!isfinite(x)) {
        outf(o, "null");
        return;
    }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    outf(o, "%s", buf);
}

char *ts_tune_record_to_json(const struct ts_tune_record *r) {
    struct out o = {0};
    const struct ts_tune_target *t = &r->target;
    outf(&o, "{\"task\":");
    out_str(&o, r->task);
    outf(&o, ",\"kind\":\"%s\",\"signature\":", ts_kernel_kind_name(r->kind));
    out_str(&o, r->signature);
    outf(&o, ",\"target\":{\"kind\":\"%s\",\"device\":", ts_target_name(t->kind));
    out_str(&o, t->device);
    outf(&o, ",\"arch\":");
    out_str(&o, t->arch);
    outf(&o, ",\"features\":");
    out_str(&o, t->features);
    outf(&o, ",\"vector_bits\":%d,\"vector_regs\":%d,\"threads\":%d,\"l1\":%lld,\"l2\":%lld,\"l3\":%lld",
         t->vector_bits, t->vector_regs, t->threads, (long long)t->l1_bytes, (long long)t->l2_bytes,
         (long long)t->l3_bytes);
    outf(&o, ",\"sm_count\":%d,\"driver\":%d,\"nvrtc\":", t->sm_count, t->driver_version);
    out_str(&o, t->nvrtc);
    outf(&o, ",\"strict_f32\":%s}", t->strict_f32 ? "true" : "false");
    char sched[512];
    ts_tune_sched_to_json(r->kind, t->kind, &r->sched, sched, sizeof sched);
    outf(&o, ",\"schedule\":%s,\"default\":%s,\"status\":\"%s\",\"error\":", sched, r->is_default ? "true" : "false",
         ts_tune_status_name(r->status));
    out_str(&o, r->error);
    outf(&o, ",\"median_s\":");
    out_num(&o, r->median_s);
    outf(&o, ",\"min_s\":");
    out_num(&o, r->min_s);
    outf(&o, ",\"max_s\":");
    out_num(&o, r->max_s);
    outf(&o, ",\"count\":%d,\"flops\":", r->count);
    out_num(&o, r->flops);
    outf(&o, ",\"version\":");
    out_str(&o, r->version);
    outf(&o, ",\"time\":");
    out_str(&o, r->time);
    outf(&o, "}");
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    return o.buf;
}

/* ---- a line as a record --------------------------------------------------- */

/* Field readers: each returns false with why set. */
struct reader {
    const cJSON *obj;
    const char *prefix;  /* "" or "target." */
    char *why;
    size_t whysize;
};

static const cJSON *field(struct reader *r, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->obj, name);
    if (!v) snprintf(r->why, r->whysize, "missing field '%s%s'", r->prefix, name);
    return v;
}

static bool bad(struct reader *r, const char *name, const char *expected) {
    snprintf(r->why, r->whysize, "field '%s%s': expected %s", r->prefix, name, expected);
    return false;
}

static bool get_str(struct reader *r, const char *name, char *out, size_t size) {
    const cJSON *v = field(r, name);
    if (!v) return false;
    if (!cJSON_IsString(v)) return bad(r, name, "a string");
    if (strlen(v->valuestring) >= size) {
        char what[64];
        snprintf(what, sizeof what, "a string of at most %zu bytes", size - 1);
        return bad(r, name, what);
    }
    snprintf(out, size, "%s", v->valuestring);
    return true;
}

static bool get_int(struct reader *r, const char *name, int64_t min, int64_t max, int64_t *out) {
    const cJSON *v = field(r, name);
    if (!v) return false;
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!isfinite(x) || x != floor(x) || x < (double)min || x > (double)max) {
        char what[96];
        snprintf(what, sizeof what, "an integer from %lld to %lld", (long long)min, (long long)max);
        return bad(r, name, what);
    }
    *out = (int64_t)x;
    return true;
}

static bool get_i(struct reader *r, const char *name, int min, int max, int *out) {
    int64_t v;
    if (!get_int(r, name, min, max, &v)) return false;
    *out = (int)v;
    return true;
}

static bool get_bool(struct reader *r, const char *name, bool *out) {
    const cJSON *v = field(r, name);
    if (!v) return false;
    if (!cJSON_IsBool(v)) return bad(r, name, "true or false");
    *out = cJSON_IsTrue(v);
    return true;
}

/* Seconds: a non-negative number, or null (a failed candidate: infinity). */
static bool get_seconds(struct reader *r, const char *name, double *out) {
    const cJSON *v = field(r, name);
    if (!v) return false;
    if (cJSON_IsNull(v)) {
        *out = INFINITY;
        return true;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
        return bad(r, name, "a non-negative number of seconds or null");
    *out = v->valuedouble;
    return true;
}

static bool is_hex16(const char *s) {
    if (strlen(s) != 16) return false;
    for (int i = 0; i < 16; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static bool read_target(struct reader *top, struct ts_tune_target *t) {
    const cJSON *obj = field(top, "target");
    if (!obj) return false;
    if (!cJSON_IsObject(obj)) return bad(top, "target", "an object");
    struct reader r = {obj, "target.", top->why, top->whysize};
    char kind[16];
    if (!get_str(&r, "kind", kind, sizeof kind)) return false;
    if (strcmp(kind, "cpu") == 0)
        t->kind = TS_TARGET_CPU;
    else if (strcmp(kind, "cuda") == 0)
        t->kind = TS_TARGET_CUDA;
    else
        return bad(&r, "kind", "\"cpu\" or \"cuda\"");
    if (!get_str(&r, "device", t->device, sizeof t->device) || !get_str(&r, "arch", t->arch, sizeof t->arch) ||
        !get_str(&r, "features", t->features, sizeof t->features) ||
        !get_i(&r, "vector_bits", 0, 4096, &t->vector_bits) || !get_i(&r, "vector_regs", 0, 1024, &t->vector_regs) ||
        !get_i(&r, "threads", 0, 1 << 20, &t->threads) || !get_int(&r, "l1", 0, INT64_MAX / 2, &t->l1_bytes) ||
        !get_int(&r, "l2", 0, INT64_MAX / 2, &t->l2_bytes) || !get_int(&r, "l3", 0, INT64_MAX / 2, &t->l3_bytes) ||
        !get_i(&r, "sm_count", 0, 1 << 20, &t->sm_count) || !get_i(&r, "driver", 0, 1 << 30, &t->driver_version) ||
        !get_str(&r, "nvrtc", t->nvrtc, sizeof t->nvrtc) || !get_bool(&r, "strict_f32", &t->strict_f32))
        return false;
    if (t->kind == TS_TARGET_CPU && !is_hex16(t->features)) return bad(&r, "features", "16 hex digits");
    ts_tune_target_key(t);
    return true;
}

static bool record_from_json(const cJSON *obj, struct ts_tune_record *rec, char *why, size_t whysize) {
    memset(rec, 0, sizeof *rec);
    struct reader r = {obj, "", why, whysize};
    char kind[32], status[32];
    if (!get_str(&r, "task", rec->task, sizeof rec->task)) return false;
    if (!is_hex16(rec->task)) return bad(&r, "task", "16 hex digits");
    if (!get_str(&r, "kind", kind, sizeof kind)) return false;
    int k = 0;
    while (k < TS_KERNEL_KIND_COUNT && strcmp(ts_kernel_kind_name((enum ts_kernel_kind)k), kind) != 0) k++;
    if (k == TS_KERNEL_KIND_COUNT) return bad(&r, "kind", "\"pointwise\", \"rowwise\", \"gemm\" or \"attention\"");
    rec->kind = (enum ts_kernel_kind)k;
    if (!get_str(&r, "signature", rec->signature, sizeof rec->signature)) return false;
    if (!read_target(&r, &rec->target)) return false;
    const cJSON *sched = field(&r, "schedule");
    if (!sched) return false;
    char *text = cJSON_PrintUnformatted(sched);
    char err[256];
    bool printed = text != NULL;
    bool ok = printed && ts_tune_sched_from_json(rec->kind, rec->target.kind, text, &rec->sched, err, sizeof err);
    free(text);
    if (!ok) {
        snprintf(why, whysize, "field 'schedule': %s", printed ? err : "out of memory");
        return false;
    }
    if (!get_bool(&r, "default", &rec->is_default)) return false;
    if (!get_str(&r, "status", status, sizeof status)) return false;
    if (!ts_tune_status_from_name(status, &rec->status)) {
        char list[160] = "";
        for (int s = 0; s < TS_TUNE_STATUS_COUNT; s++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s\"%s\"", s ? ", " : "", ts_tune_status_name((enum ts_tune_status)s));
        }
        snprintf(why, whysize, "field 'status': unknown status '%.32s' (expected one of %s)", status, list);
        return false;
    }
    int64_t count;
    if (!get_str(&r, "error", rec->error, sizeof rec->error) || !get_seconds(&r, "median_s", &rec->median_s) ||
        !get_seconds(&r, "min_s", &rec->min_s) || !get_seconds(&r, "max_s", &rec->max_s) ||
        !get_int(&r, "count", 0, INT32_MAX, &count))
        return false;
    rec->count = (int)count;
    const cJSON *flops = field(&r, "flops");
    if (!flops) return false;
    if (!cJSON_IsNumber(flops) || !isfinite(flops->valuedouble) || flops->valuedouble < 0)
        return bad(&r, "flops", "a non-negative number");
    rec->flops = flops->valuedouble;
    if (!get_str(&r, "version", rec->version, sizeof rec->version) || !get_str(&r, "time", rec->time, sizeof rec->time))
        return false;
    /* An OK record is what the best schedule is chosen from: it must carry a time. */
    if (rec->status == TS_TUNE_OK && (!isfinite(rec->median_s) || rec->count < 1))
        return bad(&r, "median_s", "a finite time and a count of at least 1 for status \"ok\"");
    return true;
}

void ts_tune_db_add(struct ts_tune_db *db, const struct ts_tune_record *r) {
    if (db->n == db->cap) {
        int cap = db->cap ? db->cap * 2 : 64;
        struct ts_tune_record *recs = realloc(db->recs, (size_t)cap * sizeof *recs);
        if (!recs) {
            /* As the arena does: metadata that cannot be held is fatal. */
            fprintf(stderr, "tessera: error: out of memory (holding %d tuning records)\n", cap);
            exit(1);
        }
        db->recs = recs;
        db->cap = cap;
    }
    db->recs[db->n++] = *r;
}

void ts_tune_db_free(struct ts_tune_db *db) {
    free(db->recs);
    memset(db, 0, sizeof *db);
}

/* ---- loading ------------------------------------------------------------------ */

struct loader {
    const char *path;
    FILE *warn;
    int warnings;  /* printed or counted */
};

__attribute__((format(printf, 3, 4))) static void warn_line(struct loader *l, long line, const char *fmt, ...) {
    l->warnings++;
    if (!l->warn || l->warnings > MAX_WARNINGS) return;
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fprintf(l->warn, "tessera: warning: %s:%ld: skipped: %s\n", l->path, line, why);
}

/* The whole file in memory (a database is a few MB at most); NULL with the
 * error in d, or with *missing set when it does not exist. */
static char *read_all(const char *path, size_t *size, bool *missing, struct ts_diag *d) {
    *missing = false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            *missing = true;
            return NULL;
        }
        ts_diag_set(d, TS_ERR_IO, path, "", "cannot open the tuning database: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            char *b = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2 + 1) : NULL;
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (!buf) {
        fclose(f);
        ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory reading the tuning database");
        return NULL;
    }
    if (ferror(f)) {
        /* A folder given as the database reads as EISDIR here. */
        ts_diag_set(d, TS_ERR_IO, path, "", "cannot read the tuning database: %s", strerror(errno));
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *size = n;
    return buf;
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

/* One line: a record appended to db, or a warning. torn: it has no newline. */
static void load_line(struct loader *l, long lineno, const char *s, size_t n, bool torn,
                      const struct ts_tune_target *target, struct ts_tune_db *db) {
    if (blank(s, n)) return;
    if (memchr(s, '\0', n)) {
        db->skipped++;
        warn_line(l, lineno, "a NUL byte inside the line (binary data?)");
        return;
    }
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts(s, n, &end, false);
    /* Only whitespace may follow the object on its line. */
    bool trailing = obj && end && !blank(end, n - (size_t)(end - s));
    if (!obj || trailing || !cJSON_IsObject(obj)) {
        db->skipped++;
        if (torn)
            warn_line(l, lineno, "the last line has no newline: a write was interrupted");
        else if (obj && !cJSON_IsObject(obj))
            warn_line(l, lineno, "not a JSON object");
        else if (trailing)
            warn_line(l, lineno, "text after the record at column %ld", (long)(end - s) + 1);
        else {
            const char *at = cJSON_GetErrorPtr();
            long col = at && at >= s && at <= s + n ? (long)(at - s) + 1 : 1;
            warn_line(l, lineno, "malformed JSON at column %ld", col);
        }
        cJSON_Delete(obj);
        return;
    }
    struct ts_tune_record r;
    char why[400];
    bool ok = record_from_json(obj, &r, why, sizeof why);
    cJSON_Delete(obj);
    if (!ok) {
        db->skipped++;
        warn_line(l, lineno, "%s", why);
        return;
    }
    if (target && strcmp(r.target.key, target->key) != 0) {
        db->foreign++;
        warn_line(l, lineno, "a record of another target (%s; this is %s)", r.target.key, target->key);
        return;
    }
    ts_tune_db_add(db, &r);
}

enum ts_status ts_tune_db_load(const char *path, const struct ts_tune_target *target, bool missing_ok,
                               FILE *warn, struct ts_tune_db *db, struct ts_diag *d) {
    memset(db, 0, sizeof *db);
    size_t size = 0;
    bool missing;
    char *text = read_all(path, &size, &missing, d);
    if (!text) {
        if (!missing) return d->status;
        if (missing_ok) return TS_OK;
        return ts_diag_set(d, TS_ERR_IO, path, "", "cannot open the tuning database: %s", strerror(ENOENT));
    }
    struct loader l = {path, warn, 0};
    long lineno = 1;
    for (size_t at = 0; at < size; lineno++) {
        const char *nl = memchr(text + at, '\n', size - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : size - at;
        load_line(&l, lineno, text + at, n, !nl, target, db);
        at += n + 1;
    }
    if (warn && l.warnings > MAX_WARNINGS)
        fprintf(warn, "tessera: warning: %s: %d more lines skipped\n", path, l.warnings - MAX_WARNINGS);
    free(text);
    return TS_OK;
}

/* ---- appending ---------------------------------------------------------------- */

enum ts_status ts_tune_db_append(const char *path, const struct ts_tune_record *r, struct ts_diag *d) {
    char *json = ts_tune_record_to_json(r);
    if (!json) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory writing a tuning record");
    size_t n = strlen(json);
    /* Room for a leading and a trailing newline. */
    char *line = malloc(n + 3);
    if (!line) {
        free(json);
        return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory writing a tuning record");
    }
    /* O_APPEND makes each write(2) land whole at the end even with several
     * tuners on one file; reading the last byte tells whether an earlier
     * write was torn. */
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    bool readable = fd >= 0;
    if (fd < 0 && errno == EACCES) fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(json);
        free(line);
        return ts_diag_set(d, TS_ERR_IO, path, "", "cannot open the tuning database for appending: %s", strerror(e));
    }
    size_t len = 0;
    struct stat st;
    if (readable && fstat(fd, &st) == 0 && st.st_size > 0) {
        char last = '\n';
        /* Two tuners racing here may both add the newline: an empty line, which readers skip. */
        if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') line[len++] = '\n';
    }
    memcpy(line + len, json, n);
    len += n;
    line[len++] = '\n';
    free(json);
    ssize_t w;
    do
        w = write(fd, line, len);
    while (w < 0 && errno == EINTR);
    int e = errno;
    free(line);
    if (close(fd) != 0 && w >= 0) {
        e = errno;
        w = -1;
    }
    if (w < 0) return ts_diag_set(d, TS_ERR_IO, path, "", "cannot append a tuning record: %s", strerror(e));
    /* Never a second write: a short one leaves a torn line, which the next
     * append closes with its newline and readers skip. */
    if ((size_t)w != len)
        return ts_diag_set(d, TS_ERR_IO, path, "", "cannot append a tuning record: only %zd of %zu bytes written",
                           w, len);
    return TS_OK;
}

/* ---- queries ------------------------------------------------------------------ */

const struct ts_tune_record *ts_tune_db_best(const struct ts_tune_db *db, const char *task, const char *target_key) {
    const struct ts_tune_record *best = NULL;
    for (int i = 0; i < db->n; i++) {
        const struct ts_tune_record *r = &db->recs[i];
        if (r->status != TS_TUNE_OK || !isfinite(r->median_s) || strcmp(r->task, task) != 0 ||
            strcmp(r->target.key, target_key) != 0)
            continue;
        if (!best || r->median_s < best->median_s) best = r;
    }
    return best;
}

const struct ts_tune_record *ts_tune_db_find(const struct ts_tune_db *db, const char *task, const char *target_key,
                                             const union ts_sched *s) {
    for (int i = db->n - 1; i >= 0; i--) {
        const struct ts_tune_record *r = &db->recs[i];
        if (strcmp(r->task, task) == 0 && strcmp(r->target.key, target_key) == 0 &&
            ts_tune_sched_equal(r->kind, r->target.kind, &r->sched, s))
            return r;
    }
    return NULL;
}
