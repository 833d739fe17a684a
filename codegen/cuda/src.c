/* src.c — the growable text buffer the CUDA C emitters write into. An
 * allocation failure marks the buffer (oom) instead of failing each call, so
 * emitters print freely and the caller checks once at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool reserve(struct tsc_src *s, size_t extra) {
    if (s->oom) return false;
    if (s->len + extra + 1 <= s->cap) return true;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + extra + 1) cap *= 2;
    char *p = realloc(s->data, cap);
    if (!p) {
        s->oom = true;
        return false;
    }
    s->data = p;
    s->cap = cap;
    return true;
}

void tsc_vprintf(struct tsc_src *s, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        s->oom = true;
        return;
    }
    if (!reserve(s, (size_t)n)) return;
    vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
    s->len += (size_t)n;
}

void tsc_printf(struct tsc_src *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tsc_vprintf(s, fmt, ap);
    va_end(ap);
}

void tsc_puts(struct tsc_src *s, const char *text) {
    size_t n = strlen(text);
    if (!reserve(s, n)) return;
    memcpy(s->data + s->len, text, n + 1);
    s->len += n;
}

void tsc_src_free(struct tsc_src *s) {
    free(s->data);
    memset(s, 0, sizeof *s);
}
