/* safetensors_write.c — writes tensors as a safetensors file, the way the
 * reference implementation lays it out (compact JSON header padded with spaces
 * to a multiple of 8, data contiguous in the order given). A file is replaced
 * atomically: a temporary file beside it is synced and renamed over it (a
 * symbolic link is followed to the file it names, and stays a link). A
 * device, FIFO or socket (/dev/null, /dev/stdout) is written straight through,
 * never replaced. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "internal.h"

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
        if (!ts_utf8_valid(name)) /* a header is JSON: readers other than cJSON refuse anything else */
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

/* What writing to a path means. */
struct sw_target {
    char *file;   /* the file to replace or write through (malloc'd) */
    bool through; /* an existing device, FIFO or socket: written in place */
};

/* The directory part of path ("." when it has none), malloc'd. */
static char *sw_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Where a dangling symbolic link leads: its chain of links followed to the
 * first path that does not exist, which writing creates if its directory is
 * there. */
static enum ts_status sw_follow_dangling(const char *path, char **out, struct ts_diag *d) {
    char *cur = strdup(path);
    for (int hops = 0; cur && hops < 40; hops++) { /* 40: Linux's own limit on a chain */
        struct stat sb;
        if (lstat(cur, &sb) != 0) {
            int err = errno;
            char *dir = sw_dirname(cur);
            bool dir_ok = dir && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
            free(dir);
            if (err == ENOENT && dir_ok) {
                *out = cur;
                return TS_OK;
            }
            enum ts_status st = ts_diag_set(d, TS_ERR_IO, path, "",
                                            "is a symbolic link to '%.300s', which cannot be created: %s", cur,
                                            err == ENOENT ? "its directory does not exist" : strerror(err));
            free(cur);
            return st;
        }
        if (!S_ISLNK(sb.st_mode)) { /* created meanwhile: write to it as to any existing file */
            *out = cur;
            return TS_OK;
        }
        size_t cap = (size_t)sb.st_size + 2; /* one byte more than the link says: a link that grew shows */
        char *link = malloc(cap);
        ssize_t n = link ? readlink(cur, link, cap) : -1;
        if (n < 0 || (size_t)n >= cap) {
            int err = n < 0 && link ? errno : EAGAIN;
            free(link);
            free(cur);
            return ts_diag_set(d, TS_ERR_IO, path, "", "cannot read the symbolic link: %s", strerror(err));
        }
        link[n] = '\0';
        char *next = NULL;
        if (link[0] == '/') {
            next = link;
        } else { /* relative to the directory the link is in */
            char *dir = sw_dirname(cur);
            size_t size = dir ? strlen(dir) + (size_t)n + 2 : 0;
            next = dir ? malloc(size) : NULL;
            if (next) snprintf(next, size, "%s/%s", dir, link);
            free(dir);
            free(link);
        }
        free(cur);
        cur = next;
    }
    if (!cur) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory following the symbolic link");
    free(cur);
    return ts_diag_set(d, TS_ERR_IO, path, "", "cannot follow the symbolic link: %s", strerror(ELOOP));
}

/* Decides how to write path: replace the regular file it is or leads to (or
 * create one), or write through an existing device, FIFO or socket. Refuses a
 * directory. */
static enum ts_status sw_resolve(const char *path, struct sw_target *t, struct ts_diag *d) {
    struct stat sb;
    t->file = NULL;
    t->through = false;
    if (lstat(path, &sb) != 0) {
        /* Nothing there (or nothing we may see): create it; a missing
         * directory is reported when the temporary file cannot be made. */
        t->file = strdup(path);
    } else if (S_ISLNK(sb.st_mode)) {
        if (stat(path, &sb) != 0) {
            if (errno != ENOENT)
                return ts_diag_set(d, TS_ERR_IO, path, "", "cannot follow the symbolic link: %s", strerror(errno));
            return sw_follow_dangling(path, &t->file, d);
        }
        if (S_ISDIR(sb.st_mode))
            return ts_diag_set(d, TS_ERR_IO, path, "", "is a directory (through a symbolic link)");
        if (!S_ISREG(sb.st_mode)) {
            /* /dev/stdout leads to /proc/self/fd/1 and on to "pipe:[N]", a
             * name no path resolves: open the link itself. */
            t->through = true;
            t->file = strdup(path);
        } else {
            t->file = realpath(path, NULL); /* replace the file, keep the link */
            if (!t->file)
                return ts_diag_set(d, TS_ERR_IO, path, "", "cannot resolve the symbolic link: %s", strerror(errno));
        }
    } else if (S_ISDIR(sb.st_mode)) {
        return ts_diag_set(d, TS_ERR_IO, path, "", "is a directory");
    } else {
        t->through = !S_ISREG(sb.st_mode);
        t->file = strdup(path);
    }
    if (!t->file) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory");
    return TS_OK;
}

/* The 8-byte length, the header, then each tensor's bytes, in order. */
static bool sw_write_contents(int fd, const struct sw_buf *h, int n, const struct ts_tensor *tensors) {
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h->len >> (8 * i)); /* little-endian */
    if (!(sw_write_all(fd, len8, 8) && sw_write_all(fd, h->p, h->len))) return false;
    for (int i = 0; i < n; i++)
        if (!sw_write_all(fd, tensors[i].data, tensors[i].nbytes)) return false;
    return true;
}

/* Writes into an existing device, FIFO or socket as it is: no temporary file,
 * no truncation, no rename (which would put a regular file in its place).
 * *regular is set instead when the path turns out to hold a regular file
 * after all (replaced since it was looked at): that one is replaced. */
static enum ts_status sw_write_through(const char *path, const char *file, const struct sw_buf *h, int n,
                                       const struct ts_tensor *tensors, bool *regular, struct ts_diag *d) {
    *regular = false;
    int fd = open(file, O_WRONLY | O_CLOEXEC | O_NOCTTY); /* a FIFO waits here for its reader */
    if (fd < 0) return ts_diag_set(d, TS_ERR_IO, path, "", "cannot open for writing: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        close(fd);
        *regular = true;
        return TS_OK;
    }
    const char *step = NULL;
    int err = 0;
    if (!sw_write_contents(fd, h, n, tensors)) {
        step = "write";
        err = errno;
    }
    if (close(fd) != 0 && !step) {
        step = "close";
        err = errno;
    }
    if (step) return ts_diag_set(d, TS_ERR_IO, path, "", "cannot %s: %s", step, strerror(err));
    return TS_OK;
}

/* Writes a temporary file beside 'file', syncs it and renames it over file:
 * on any error the temporary file goes and file is untouched. */
static enum ts_status sw_write_atomic(const char *path, const char *file, const struct sw_buf *h, int n,
                                      const struct ts_tensor *tensors, struct ts_diag *d) {
    size_t flen = strlen(file);
    char *tmp = malloc(flen + sizeof ".tmp.XXXXXX");
    if (!tmp) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "cannot allocate a temporary name");
    memcpy(tmp, file, flen);
    memcpy(tmp + flen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(tmp); /* in the target's directory, so rename stays atomic */
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return ts_diag_set(d, TS_ERR_IO, path, "", "cannot create a temporary file beside it: %s", strerror(err));
    }

    /* Each step names itself for the message; the first failure stops the rest. */
    const char *step = NULL;
    int err = 0;
    if (fchmod(fd, sw_mode(file)) != 0) step = "set the mode of the temporary file";
    if (!step && !sw_write_contents(fd, h, n, tensors)) step = "write the temporary file";
    if (!step && fsync(fd) != 0) step = "sync the temporary file";
    if (step) err = errno;
    if (close(fd) != 0 && !step) {
        err = errno;
        step = "close the temporary file";
    }
    if (!step && rename(tmp, file) != 0) {
        err = errno;
        step = "rename the temporary file over it";
    }
    enum ts_status st = TS_OK;
    if (step) {
        unlink(tmp); /* the target, if any, is untouched */
        st = ts_diag_set(d, TS_ERR_IO, path, "", "cannot %s: %s", step, strerror(err));
    } else {
        /* Sync the directory so the rename itself survives a crash; a failure
         * here (some filesystems refuse) does not undo a complete write. */
        char *dir = sw_dirname(tmp);
        int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    free(tmp);
    return st;
}

enum ts_status ts_safetensors_write(const char *path, int n, const char *const *names,
                                    const struct ts_tensor *tensors, struct ts_diag *d) {
    if (n < 0) return ts_diag_set(d, TS_ERR_IO, path, "", "cannot write %d tensors", n);
    struct sw_buf h = {0};
    struct sw_target t = {0};
    enum ts_status st = sw_header(path, n, names, tensors, &h, d);
    if (st == TS_OK) st = sw_resolve(path, &t, d);
    bool regular = !t.through;
    if (st == TS_OK && t.through) {
        st = sw_write_through(path, t.file, &h, n, tensors, &regular, d);
        char *real = st == TS_OK && regular ? realpath(t.file, NULL) : NULL;
        if (real) { /* replaced by a file since: replace that file, not a link to it */
            free(t.file);
            t.file = real;
        }
    }
    if (st == TS_OK && regular) st = sw_write_atomic(path, t.file, &h, n, tensors, d);
    free(t.file);
    free(h.p);
    return st;
}
