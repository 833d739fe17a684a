/* fuzz_safetensors.c — libFuzzer target for the safetensors reader: any bytes
 * must either parse or be refused with a message (never a crash, leak or wild
 * read); a file that parses is touched byte by byte, written back through
 * ts_safetensors_write and read again with every tensor unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A bug found: say what and stop, so libFuzzer saves the input. */
static void fail(const char *why, const struct ts_diag *d) {
    char msg[1400] = "";
    if (d && d->status != TS_OK) ts_diag_format(d, msg, sizeof msg);
    fprintf(stderr, "fuzz_safetensors: %s %s\n", why, msg);
    abort();
}

/* Writes st's tensors to a file under /tmp, reads it back and compares. */
static void round_trip(const struct ts_safetensors *st) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_safetensors_%d.safetensors", (int)getpid());
    int n = st->ntensors;
    const char **names = calloc(n ? (size_t)n : 1, sizeof *names);
    struct ts_tensor *ts = calloc(n ? (size_t)n : 1, sizeof *ts);
    if (!names || !ts) fail("out of memory", NULL);
    for (int i = 0; i < n; i++) {
        const struct ts_st_tensor *t = &st->tensors[i];
        names[i] = t->name;
        /* The writer only reads the data; the view's type is not const. */
        ts_tensor_view(&ts[i], t->dtype, t->rank, t->dims, (void *)(uintptr_t)t->data);
        if (ts[i].nbytes != t->nbytes) fail("nbytes differs from numel x dtype size", NULL);
    }
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_safetensors_write(path, n, names, ts, &d) != TS_OK) {
        /* The one refusal a parsed file may earn: names that are not UTF-8
         * (cJSON takes any bytes; a JSON header must be UTF-8). */
        if (!strstr(d.what, "not valid UTF-8")) fail("write failed:", &d);
        free(names);
        free(ts);
        return;
    }
    struct ts_safetensors *back = NULL;
    if (ts_safetensors_open(path, &back, &d) != TS_OK) fail("cannot read back what was written:", &d);
    if (back->ntensors != n) fail("tensor count changed", NULL);
    for (int i = 0; i < n; i++) {
        const struct ts_st_tensor *a = &st->tensors[i], *b = &back->tensors[i];
        if (strcmp(a->name, b->name) != 0 || a->dtype != b->dtype || a->rank != b->rank ||
            memcmp(a->dims, b->dims, sizeof a->dims) != 0 || a->nbytes != b->nbytes ||
            (a->nbytes && memcmp(a->data, b->data, a->nbytes) != 0))
            fail("a tensor changed in the round trip", NULL);
        if (ts_safetensors_find(back, a->name) != b) fail("find misses a written tensor", NULL);
    }
    ts_safetensors_free(back);
    unlink(path);
    free(names);
    free(ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_safetensors *st = NULL;
    enum ts_status rc = ts_safetensors_parse(data, size, "fuzz.safetensors", &st, &d);
    if (rc != TS_OK) {
        if (st || d.status != rc || (rc != TS_ERR_PARSE && rc != TS_ERR_NOMEM) || !d.what[0])
            fail("a refusal without a proper status and message:", &d);
        return 0;
    }
    if (!st || d.status != TS_OK) fail("success without a result", &d);

    /* Every view lies inside the input, and reading all of it is safe. */
    unsigned sum = 0;
    const uint8_t *end = data + size;
    for (int i = 0; i < st->ntensors; i++) {
        const struct ts_st_tensor *t = &st->tensors[i];
        const uint8_t *p = t->data;
        if (p < data || p > end || t->nbytes > (size_t)(end - p)) fail("a view outside the input", NULL);
        if (t->rank < 0 || t->rank > TS_MAX_RANK || t->dtype < 0 || t->dtype >= TS_DTYPE_COUNT)
            fail("a bad rank or dtype", NULL);
        for (size_t j = 0; j < t->nbytes; j++) sum += p[j];
        if (ts_safetensors_find(st, t->name) != t) fail("find misses a tensor", NULL);
    }
    volatile unsigned sink = sum;
    (void)sink;
    round_trip(st);
    ts_safetensors_free(st);
    return 0;
}
