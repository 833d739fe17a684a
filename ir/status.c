/* status.c — status codes and the diagnostics record: the first error of an
 * operation with the file, the place and what is wrong, printed as one line. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static const char *const status_names[TS_STATUS_COUNT] = {
    "ok", "usage", "io", "parse", "graph", "shape", "runtime", "unsupported", "nomem",
};

const char *ts_status_name(enum ts_status st) {
    if (st < 0 || st >= TS_STATUS_COUNT) return "?";
    return status_names[st];
}

void ts_diag_clear(struct ts_diag *d) {
    if (d) memset(d, 0, sizeof *d);
}

/* Copies src into a fixed buffer so that a message stays one line and safe to
 * print: newlines become spaces, other control bytes (a name read from a file
 * may hold an ESC sequence) become \xNN. */
static void copy_one_line(char *dst, size_t size, const char *src) {
    size_t o = 0;
    for (size_t i = 0; src && src[i] && o + 1 < size; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '\n' || c == '\r') {
            dst[o++] = ' ';
        } else if (c < 0x20 || c == 0x7f) {
            if (o + 5 > size) break;
            snprintf(dst + o, 5, "\\x%02X", c);
            o += 4;
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
}

enum ts_status ts_diag_set(struct ts_diag *d, enum ts_status st, const char *file, const char *where,
                           const char *fmt, ...) {
    TS_ASSERT(st != TS_OK);
    if (!d) return st;
    if (d->status != TS_OK) return d->status; /* keep the first error */
    d->status = st;
    copy_one_line(d->file, sizeof d->file, file ? file : "");
    copy_one_line(d->where, sizeof d->where, where ? where : "");
    char buf[sizeof d->what];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    copy_one_line(d->what, sizeof d->what, buf);
    return st;
}

void ts_diag_format(const struct ts_diag *d, char *buf, size_t size) {
    const char *what = d->what[0] ? d->what : ts_status_name(d->status);
    if (d->file[0] && d->where[0])
        snprintf(buf, size, "%s: %s: %s", d->file, d->where, what);
    else if (d->file[0])
        snprintf(buf, size, "%s: %s", d->file, what);
    else if (d->where[0])
        snprintf(buf, size, "%s: %s", d->where, what);
    else
        snprintf(buf, size, "%s", what);
}

void ts_diag_print(const struct ts_diag *d, FILE *f) {
    char buf[sizeof d->file + sizeof d->where + sizeof d->what + 8];
    ts_diag_format(d, buf, sizeof buf);
    fprintf(f, "tessera: error: %s\n", buf);
}

_Noreturn void ts_assert_fail(const char *file, int line, const char *cond) {
    fprintf(stderr, "tessera: internal error: %s:%d: assertion failed: %s (this is a bug in tessera)\n",
            file, line, cond);
    abort();
}
