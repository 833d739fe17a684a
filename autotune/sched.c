/* sched.c — a schedule's fields on one target, as one table per kind and
 * target: what a record stores, compares and prints. Only the fields that
 * target's code generator reads are in it (CPU: the top-level fields; GPU:
 * the 'gpu' ones), so a record never carries a value that means nothing. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "autotune/autotune.h"

enum field_type {
    F_INT,    /* int */
    F_I64,    /* int64_t */
    F_INSTR,  /* enum ts_gemm_instr, written as its name */
};

struct field {
    const char *name;   /* the JSON key */
    const char *label;  /* how ts_tune_sched_format shows it: CPU "mc" → "mc 516" ("t" → "t0");
                           GPU labels carry their own spacing: "", "x", "x", " w" → "128x128x32 w…" */
    size_t offset;      /* into union ts_sched */
    enum field_type type;
    int64_t min, max;   /* the values a record may hold (legality is check.c's) */
};

#define FIELD(name, label, member, type, min, max) {name, label, offsetof(union ts_sched, member), type, min, max}
#define MAXT 1024          /* the thread pool's limit */
#define BIG (1LL << 30)    /* blocks: anything larger is a corrupt record */

static const struct field cpu_pointwise[] = {
    FIELD("vector_width", "vw", pointwise.vector_width, F_INT, 1, 64),
    FIELD("rows_per_task", "rpt", pointwise.rows_per_task, F_I64, 1, 1LL << 50),
    FIELD("threads", "t", pointwise.threads, F_INT, 0, MAXT),
};
static const struct field cpu_rowwise[] = {
    FIELD("vector_width", "vw", rowwise.vector_width, F_INT, 1, 64),
    FIELD("rows_per_task", "rpt", rowwise.rows_per_task, F_I64, 1, 1LL << 50),
    FIELD("threads", "t", rowwise.threads, F_INT, 0, MAXT),
};
static const struct field cpu_gemm[] = {
    FIELD("mc", "mc", gemm.mc, F_INT, 1, BIG),
    FIELD("kc", "kc", gemm.kc, F_INT, 1, BIG),
    FIELD("nc", "nc", gemm.nc, F_INT, 1, BIG),
    FIELD("mr", "mr", gemm.mr, F_INT, 1, 256),
    FIELD("nr", "nr", gemm.nr, F_INT, 1, 1024),
    FIELD("threads", "t", gemm.threads, F_INT, 0, MAXT),
};
static const struct field cpu_attention[] = {
    FIELD("block_q", "bq", attention.block_q, F_INT, 1, BIG),
    FIELD("block_k", "bk", attention.block_k, F_INT, 1, BIG),
    FIELD("threads", "t", attention.threads, F_INT, 0, MAXT),
};
static const struct field gpu_pointwise[] = {
    FIELD("threads", "t", pointwise.gpu.threads, F_INT, 1, 1024),
    FIELD("vec", " v", pointwise.gpu.vec, F_INT, 1, 16),
};
static const struct field gpu_rowwise[] = {
    FIELD("threads", "t", rowwise.gpu.threads, F_INT, 1, 1024),
    FIELD("vec", " v", rowwise.gpu.vec, F_INT, 1, 16),
};
static const struct field gpu_gemm[] = {
    FIELD("bm", "", gemm.gpu.bm, F_INT, 1, 1024),
    FIELD("bn", "x", gemm.gpu.bn, F_INT, 1, 1024),
    FIELD("bk", "x", gemm.gpu.bk, F_INT, 1, 1024),
    FIELD("wm", " w", gemm.gpu.wm, F_INT, 1, 1024),
    FIELD("wn", "x", gemm.gpu.wn, F_INT, 1, 1024),
    FIELD("stages", " s", gemm.gpu.stages, F_INT, 1, 32),
    FIELD("split_k", " k", gemm.gpu.split_k, F_INT, 1, 1024),
    FIELD("swizzle", " z", gemm.gpu.swizzle, F_INT, 1, 1024),
    FIELD("instr", " ", gemm.gpu.instr, F_INSTR, 0, TS_GEMM_INSTR_COUNT - 1),
};
static const struct field gpu_attention[] = {
    FIELD("block_q", "bq", attention.gpu.block_q, F_INT, 1, 1024),
    FIELD("block_k", " bk", attention.gpu.block_k, F_INT, 1, 1024),
    FIELD("warps", " w", attention.gpu.warps, F_INT, 1, 32),
    FIELD("stages", " s", attention.gpu.stages, F_INT, 1, 32),
};

#define N(a) (int)(sizeof a / sizeof a[0])

/* The fields of kind on target t (none for the reference interpreter). */
static const struct field *fields_of(enum ts_kernel_kind kind, enum ts_target t, int *n) {
    static const struct {
        const struct field *f;
        int n;
    } cpu[TS_KERNEL_KIND_COUNT] = {{cpu_pointwise, N(cpu_pointwise)},
                                   {cpu_rowwise, N(cpu_rowwise)},
                                   {cpu_gemm, N(cpu_gemm)},
                                   {cpu_attention, N(cpu_attention)}},
      gpu[TS_KERNEL_KIND_COUNT] = {{gpu_pointwise, N(gpu_pointwise)},
                                   {gpu_rowwise, N(gpu_rowwise)},
                                   {gpu_gemm, N(gpu_gemm)},
                                   {gpu_attention, N(gpu_attention)}};
    _Static_assert(TS_KERNEL_KIND_COUNT == 4, "a schedule table per kernel kind");
    *n = 0;
    if (kind < 0 || kind >= TS_KERNEL_KIND_COUNT) return NULL;
    if (t == TS_TARGET_CPU) {
        *n = cpu[kind].n;
        return cpu[kind].f;
    }
    if (t == TS_TARGET_CUDA) {
        *n = gpu[kind].n;
        return gpu[kind].f;
    }
    return NULL;
}

static int64_t get(const union ts_sched *s, const struct field *f) {
    const char *p = (const char *)s + f->offset;
    switch (f->type) {
    case F_I64: {
        int64_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    case F_INSTR: {
        enum ts_gemm_instr v;
        memcpy(&v, p, sizeof v);
        return (int64_t)v;
    }
    case F_INT:
    default: {
        int v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    }
}

static void set(union ts_sched *s, const struct field *f, int64_t v) {
    char *p = (char *)s + f->offset;
    switch (f->type) {
    case F_I64: memcpy(p, &v, sizeof v); break;
    case F_INSTR: {
        enum ts_gemm_instr e = (enum ts_gemm_instr)v;
        memcpy(p, &e, sizeof e);
        break;
    }
    case F_INT:
    default: {
        int i = (int)v;
        memcpy(p, &i, sizeof i);
        break;
    }
    }
}

/* Appends to buf at *used, always terminated, truncating. */
__attribute__((format(printf, 4, 5))) static void append(char *buf, size_t size, size_t *used, const char *fmt, ...) {
    if (*used + 1 >= size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used += (size_t)n < size - *used ? (size_t)n : size - *used - 1;
}

void ts_tune_sched_format(enum ts_kernel_kind kind, enum ts_target t, const union ts_sched *s, char *buf,
                          size_t size) {
    if (size == 0) return;
    buf[0] = '\0';
    int n;
    const struct field *f = fields_of(kind, t, &n);
    size_t used = 0;
    bool cpu = t == TS_TARGET_CPU;
    /* CPU: "mc 516 kc 256 … t0"; GPU: the labels carry their own spacing
     * ("128x128x32 w64x64 s3 k1 z8 mma_f16", "t256 v4", "bq64 bk64 w4 s2"). */
    for (int i = 0; i < n; i++) {
        const char *sep = cpu && i > 0 ? " " : "";
        long long v = (long long)get(s, &f[i]);
        if (f[i].type == F_INSTR)
            append(buf, size, &used, "%s%s%s", sep, f[i].label, ts_gemm_instr_name((enum ts_gemm_instr)v));
        else if (cpu && strcmp(f[i].label, "t") != 0)
            append(buf, size, &used, "%s%s %lld", sep, f[i].label, v);
        else
            append(buf, size, &used, "%s%s%lld", sep, f[i].label, v);
    }
}

void ts_tune_sched_to_json(enum ts_kernel_kind kind, enum ts_target t, const union ts_sched *s, char *buf,
                           size_t size) {
    if (size == 0) return;
    int n;
    const struct field *f = fields_of(kind, t, &n);
    size_t used = 0;
    buf[0] = '\0';
    append(buf, size, &used, "{");
    for (int i = 0; i < n; i++) {
        long long v = (long long)get(s, &f[i]);
        if (f[i].type == F_INSTR)
            append(buf, size, &used, "%s\"%s\":\"%s\"", i ? "," : "", f[i].name,
                   ts_gemm_instr_name((enum ts_gemm_instr)v));
        else
            append(buf, size, &used, "%s\"%s\":%lld", i ? "," : "", f[i].name, v);
    }
    append(buf, size, &used, "}");
}

static bool instr_from_name(const char *name, enum ts_gemm_instr *out) {
    for (int i = 0; i < TS_GEMM_INSTR_COUNT; i++)
        if (strcmp(ts_gemm_instr_name((enum ts_gemm_instr)i), name) == 0) {
            *out = (enum ts_gemm_instr)i;
            return true;
        }
    return false;
}

/* One field's value from its JSON item; false with why in err. */
static bool read_field(const struct field *f, const cJSON *item, int64_t *v, char *err, size_t errsize) {
    if (f->type == F_INSTR) {
        enum ts_gemm_instr instr;
        if (!cJSON_IsString(item) || !instr_from_name(item->valuestring, &instr)) {
            snprintf(err, errsize, "schedule field 'instr' must be one of \"auto\", \"simt\", \"mma_f16\", "
                                   "\"mma_tf32\", \"wgmma\"");
            return false;
        }
        *v = instr;
        return true;
    }
    double x = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    if (!isfinite(x) || x != floor(x) || x < (double)f->min || x > (double)f->max) {
        snprintf(err, errsize, "schedule field '%s' must be an integer from %lld to %lld", f->name,
                 (long long)f->min, (long long)f->max);
        return false;
    }
    *v = (int64_t)x;
    return true;
}

bool ts_tune_sched_from_json(enum ts_kernel_kind kind, enum ts_target t, const char *json, union ts_sched *s,
                             char *err, size_t errsize) {
    memset(s, 0, sizeof *s);
    if (errsize) err[0] = '\0';
    int n;
    const struct field *f = fields_of(kind, t, &n);
    if (!f) {
        snprintf(err, errsize, "no schedule fields for a %s kernel on target %d", ts_kernel_kind_name(kind), (int)t);
        return false;
    }
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        snprintf(err, errsize, "the schedule is not a JSON object");
        cJSON_Delete(root);
        return false;
    }
    bool ok = true;
    for (const cJSON *item = root->child; ok && item; item = item->next) {
        bool known = false;
        for (int i = 0; i < n && !known; i++) known = item->string && strcmp(item->string, f[i].name) == 0;
        if (!known) {
            snprintf(err, errsize, "unknown schedule field '%.64s' for a %s kernel on %s",
                     item->string ? item->string : "", ts_kernel_kind_name(kind), ts_target_name(t));
            ok = false;
        }
    }
    for (int i = 0; ok && i < n; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, f[i].name);
        int64_t v = 0;
        if (!item) {
            snprintf(err, errsize, "schedule field '%s' is missing", f[i].name);
            ok = false;
        } else if (read_field(&f[i], item, &v, err, errsize)) {
            set(s, &f[i], v);
        } else {
            ok = false;
        }
    }
    cJSON_Delete(root);
    if (!ok) memset(s, 0, sizeof *s);
    return ok;
}

bool ts_tune_sched_equal(enum ts_kernel_kind kind, enum ts_target t, const union ts_sched *a,
                         const union ts_sched *b) {
    int n;
    const struct field *f = fields_of(kind, t, &n);
    for (int i = 0; i < n; i++)
        if (get(a, &f[i]) != get(b, &f[i])) return false;
    return true;
}

void ts_tune_sched_copy(enum ts_kernel_kind kind, enum ts_target t, union ts_sched *dst, const union ts_sched *src) {
    int n;
    const struct field *f = fields_of(kind, t, &n);
    for (int i = 0; i < n; i++) set(dst, &f[i], get(src, &f[i]));
}
