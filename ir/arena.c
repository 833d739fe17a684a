/* arena.c — the per-compilation arena: a list of chunks, bump-allocated and
 * freed together. Large requests get a chunk of their own so nothing is wasted. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#define CHUNK_SIZE (64u * 1024u)
#define ALIGN 16u

struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

struct ts_arena {
    struct chunk *head;
    size_t total;
};

static _Noreturn void out_of_memory(size_t size) {
    fprintf(stderr, "tessera: error: out of memory (allocating %zu bytes of compiler metadata)\n", size);
    exit(1);
}

struct ts_arena *ts_arena_init(void) {
    struct ts_arena *a = calloc(1, sizeof *a);
    if (!a) out_of_memory(sizeof *a);
    return a;
}

void ts_arena_free(struct ts_arena *a) {
    if (!a) return;
    for (struct chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *ts_arena_alloc(struct ts_arena *a, size_t size) {
    size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < size) out_of_memory(size);
    struct chunk *c = a->head;
    if (!c || c->size - c->used < need) {
        size_t cap = need > CHUNK_SIZE / 4 ? need : CHUNK_SIZE;
        c = malloc(sizeof *c + cap);
        if (!c) out_of_memory(size);
        c->size = cap;
        c->used = 0;
        if (need > CHUNK_SIZE / 4 && a->head) {
            /* A big block: keep bump-allocating from the current chunk. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
        a->total += cap;
    }
    void *p = c->data + c->used;
    c->used += need;
    memset(p, 0, size);
    return p;
}

char *ts_arena_strndup(struct ts_arena *a, const char *s, size_t n) {
    char *p = ts_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ts_arena_strdup(struct ts_arena *a, const char *s) { return ts_arena_strndup(a, s, strlen(s)); }

char *ts_arena_printf(struct ts_arena *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    TS_ASSERT(n >= 0);
    char *p = ts_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t ts_arena_bytes_used(const struct ts_arena *a) { return a->total; }
