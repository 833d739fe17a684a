/* safetensors_write.c — writes tensors as a safetensors file, the way the
 * reference implementation lays it out (compact JSON header padded with spaces
 * to a multiple of 8, data contiguous in the order given), and atomically: a
 * temporary file beside the target is synced and renamed over it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"

/* A growing byte buffer for the header. */
struct sw_buf {
    char *p;
    size_t len, cap;
    bool failed; /* an allocation failed; later appends do nothing */
};

static void sw_put(struct sw_buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sw_puts(struct sw_buf *b, const char *s) { sw_put(b, s, strlen(s)); }

/* A JSON string literal: quotes, backslashes and control bytes are escaped;
 * other bytes (UTF-8, checked by the caller) go through as they are. */
static void sw_put_json_string(struct sw_buf *b, const char *s) {
    sw_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': sw_put(b, "\\\"", 2); break;
        case '\\': sw_put(b, "\\\\", 2); break;
        case '\n': sw_put(b, "\\n", 2); break;
        case '\r': sw_put(b, "\\r", 2); break;
        case '\t': sw_put(b, "\\t", 2); break;
        case '\b': sw_put(b, "\\b", 2); break;
        case '\f': sw_put(b, "\\f", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                sw_puts(b, esc);
            } else {
                sw_put(b, (const char *)p, 1);
            }
        }
    }
    sw_put(b, "\"", 1);
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF): a
 * header is JSON, and JSON readers other than cJSON refuse anything else. */
static bool sw_utf8_ok(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, n;
        uint32_t cp;
        if (c < 0x80) { p++; continue; }
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return false;
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) return false; /* also stops at the NUL */
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

static int sw_cmp_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks the names and tensors and builds the padded header JSON. */
static enum ts_status sw_header(const char *path, int n, const char *const *names, const struct ts_tensor *ts,
                                struct sw_buf *h, struct ts_diag *d) {
    char where[256];
    for (int i = 0; i < n; i++) {
        const char *name = names[i];
        if (!name) return ts_diag_set(d, TS_ERR_IO, path, "", "cannot write tensor %d: it has no name", i);
        snprintf(where, sizeof where, "tensor '%.200s'", name);
        if (!sw_utf8_ok(name))
            return ts_diag_set(d, TS_ERR_IO, path, where, "cannot write: the name is not valid UTF-8");
        if (strcmp(name, "__metadata__") == 0)
            return ts_diag_set(d, TS_ERR_IO, path, where, "cannot write: the name is reserved for metadata");
        const struct ts_tensor *t = &ts[i];
        if (t->dtype < 0 || t->dtype >= TS_DTYPE_COUNT || t->rank < 0 || t->rank > TS_MAX_RANK)
            return ts_diag_set(d, TS_ERR_IO, path, where, "cannot write: dtype %d, rank %d", (int)t->dtype, t->rank);
        int64_t numel = 1, bytes;
        bool overflow = false;
        for (int k = 0; k < t->rank && !overflow; k++)
            overflow = t->dims[k] < 0 || __builtin_mul_overflow(numel, t->dims[k], &numel);
        if (overflow || __builtin_mul_overflow(numel, (int64_t)ts_dtype_size(t->dtype), &bytes) ||
            (uint64_t)bytes != (uint64_t)t->nbytes || (bytes && !t->data)) {
            char shp[256];
            return ts_diag_set(d, TS_ERR_IO, path, where, "cannot write: %s %s does not match its %zu bytes of data",
                               ts_dtype_name(t->dtype), ts_dims_str(t->rank, t->dims, shp, sizeof shp), t->nbytes);
        }
    }

    /* Each name once: a reader cannot tell two tensors of one name apart. */
    if (n > 1) {
        const char **sorted = malloc((size_t)n * sizeof *sorted);
        if (!sorted) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "cannot allocate an index of %d names", n);
        memcpy(sorted, names, (size_t)n * sizeof *sorted);
        qsort(sorted, (size_t)n, sizeof *sorted, sw_cmp_name);
        for (int i = 1; i < n; i++) {
            if (strcmp(sorted[i - 1], sorted[i]) != 0) continue;
            snprintf(where, sizeof where, "tensor '%.200s'", sorted[i]);
            free(sorted);
            return ts_diag_set(d, TS_ERR_IO, path, where,
                               "cannot write: the name is given twice (a safetensors file holds each name once)");
        }
        free(sorted);
    }

    uint64_t at = 0;
    sw_puts(h, "{");
    for (int i = 0; i < n; i++) {
        const struct ts_tensor *t = &ts[i];
        char num[64], dtype[16];
        const char *dn = ts_dtype_name(t->dtype);
        size_t k = 0;
        for (; dn[k] && k + 1 < sizeof dtype; k++) dtype[k] = (char)(dn[k] >= 'a' && dn[k] <= 'z' ? dn[k] - 'a' + 'A' : dn[k]);
        dtype[k] = '\0';
        if (i) sw_puts(h, ",");
        sw_put_json_string(h, names[i]);
        sw_puts(h, ":{\"dtype\":\"");
        sw_puts(h, dtype);
        sw_puts(h, "\",\"shape\":[");
        for (int r = 0; r < t->rank; r++) {
            snprintf(num, sizeof num, "%s%lld", r ? "," : "", (long long)t->dims[r]);
            sw_puts(h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                 (unsigned long long)(at + t->nbytes));
        sw_puts(h, num);
        at += t->nbytes;
    }
    sw_puts(h, "}");
    while (!h->failed && h->len % 8) sw_puts(h, " ");
    if (h->failed) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "cannot allocate the header of %d tensors", n);
    if (h->len > TS_SAFETENSORS_MAX_HEADER)
        return ts_diag_set(d, TS_ERR_IO, path, "", "cannot write: the header would take %zu bytes, over the limit of %u",
                           h->len, TS_SAFETENSORS_MAX_HEADER);
    return TS_OK;
}

/* write(2) until done: it may write less than asked, or be interrupted. */
static bool sw_write_all(int fd, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        ssize_t w = write(fd, p, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* The mode a new file would get: 0666 less the umask, or the mode of the file
 * we replace. mkstemp makes 0600 files, which would surprise a user. */
static mode_t sw_mode(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) return sb.st_mode & 07777;
    mode_t mask = umask(022); /* umask can only be read by setting it */
    umask(mask);
    return 0666 & ~mask;
}

enum ts_status ts_safetensors_write(const char *path, int n, const char *const *names,
                                    const struct ts_tensor *tensors, struct ts_diag *d) {
    if (n < 0) return ts_diag_set(d, TS_ERR_IO, path, "", "cannot write %d tensors", n);
    struct sw_buf h = {0};
    enum ts_status st = sw_header(path, n, names, tensors, &h, d);
    if (st != TS_OK) {
        free(h.p);
        return st;
    }

    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp) {
        free(h.p);
        return ts_diag_set(d, TS_ERR_NOMEM, path, "", "cannot allocate a temporary name");
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(tmp); /* in the target's directory, so rename stays atomic */
    if (fd < 0) {
        int err = errno;
        free(h.p);
        free(tmp);
        return ts_diag_set(d, TS_ERR_IO, path, "", "cannot create a temporary file beside it: %s", strerror(err));
    }

    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i)); /* little-endian */
    /* Each step names itself for the message; the first failure stops the rest. */
    const char *step = NULL;
    int err = 0;
    if (fchmod(fd, sw_mode(path)) != 0) step = "set the mode of the temporary file";
    if (!step && !(sw_write_all(fd, len8, 8) && sw_write_all(fd, h.p, h.len))) step = "write the temporary file";
    for (int i = 0; !step && i < n; i++)
        if (!sw_write_all(fd, tensors[i].data, tensors[i].nbytes)) step = "write the temporary file";
    if (!step && fsync(fd) != 0) step = "sync the temporary file";
    if (step) err = errno;
    if (close(fd) != 0 && !step) {
        err = errno;
        step = "close the temporary file";
    }
    if (!step && rename(tmp, path) != 0) {
        err = errno;
        step = "rename the temporary file over it";
    }
    bool ok = step == NULL;
    if (!ok) {
        unlink(tmp); /* the target, if any, is untouched */
        st = ts_diag_set(d, TS_ERR_IO, path, "", "cannot %s: %s", step, strerror(err));
    } else {
        /* Sync the directory so the rename itself survives a crash; a failure
         * here (some filesystems refuse) does not undo a complete write. */
        char *slash = strrchr(tmp, '/');
        if (slash) *slash = '\0';
        int dfd = open(slash ? (tmp[0] ? tmp : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    free(h.p);
    free(tmp);
    return st;
}
