/* safetensors.c — the safetensors reader: maps a file read-only (or takes
 * bytes already in memory), checks every rule of FORMAT.md's "Tensor files for
 * run", and hands back each tensor as a view of those bytes. A struct
 * ts_safetensors owns its arena (names, tensor array) and its mapping. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "internal.h"

/* JSON numbers are doubles: beyond 2^53 they stop being exact, so a dim or an
 * offset there is refused rather than silently rounded. */
#define ST_MAX_INT 9007199254740992.0 /* 2^53: integers must stay below it to be exact in JSON */

/* The public struct plus a by-name index, so ts_safetensors_find is a binary
 * search even for models with thousands of tensors. */
struct st_impl {
    struct ts_safetensors pub; /* first: the pointer we hand out points here */
    const struct ts_st_tensor **by_name; /* sorted by strcmp of the name */
};

/* One tensor entry while checking: its offsets and its place in the header. */
struct st_entry {
    uint64_t begin, end;       /* data_offsets, relative to the data section */
    int order;                 /* index in header order (ties sort stably) */
    struct ts_st_tensor t;
};

/* Writes s into buf for a one-line message: control bytes and bytes that are
 * not UTF-8 become \xNN, and a long string is cut with "...". Names and
 * dtypes come from the file, so they may hold anything. */
static const char *st_quote(const char *s, char *buf, size_t size) {
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (*p) {
        size_t n = ts_utf8_len(p);
        bool escape = n == 0 || *p < 0x20 || *p == 0x7F;
        if (o + (escape ? 4 : n) + 4 > size) { /* keep room for "..." and the NUL */
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (escape) {
            o += (size_t)snprintf(buf + o, size - o, "\\x%02X", *p);
            p++;
        } else {
            memcpy(buf + o, p, n);
            o += n;
            p += n;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* "tensor 'NAME'" for the WHERE part of a message. */
static const char *st_where(const char *name, char *buf, size_t size) {
    char q[160];
    snprintf(buf, size, "tensor '%s'", st_quote(name, q, sizeof q));
    return buf;
}

/* "a string", "an array" … for "found …" in messages. */
static const char *st_kind(const cJSON *j) {
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    return "an invalid value";
}

/* A JSON number as written in a message: integers exactly, others with %g. */
static const char *st_number(double v, char *buf, size_t size) {
    if (v >= -9223372036854775808.0 && v < 9223372036854775808.0 && (double)(long long)v == v)
        snprintf(buf, size, "%lld", (long long)v);
    else
        snprintf(buf, size, "%.17g", v);
    return buf;
}

/* An exact non-negative integer of at most 2^53. */
static bool st_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return false;
    double v = j->valuedouble;
    if (!(v >= 0.0 && v < ST_MAX_INT)) return false; /* also refuses NaN */
    if ((double)(uint64_t)v != v) return false;
    *out = (uint64_t)v;
    return true;
}

/* Why j is not what st_uint accepts, as "is -3", "is a string" … */
static const char *st_not_uint(const cJSON *j, char *buf, size_t size) {
    char num[64];
    if (cJSON_IsNumber(j))
        snprintf(buf, size, "is %s", st_number(j->valuedouble, num, sizeof num));
    else
        snprintf(buf, size, "is %s", st_kind(j));
    return buf;
}

/* The safetensors name of a dtype is its tessera name in capitals ("BF16"),
 * so the one dtype list in ir.h serves both. */
static bool st_dtype_from_name(const char *s, enum ts_dtype *out) {
    for (int t = 0; t < TS_DTYPE_COUNT; t++) {
        const char *n = ts_dtype_name((enum ts_dtype)t);
        size_t i = 0;
        while (n[i] && s[i] && s[i] == (n[i] >= 'a' && n[i] <= 'z' ? n[i] - 'a' + 'A' : n[i])) i++;
        if (!n[i] && !s[i]) {
            *out = (enum ts_dtype)t;
            return true;
        }
    }
    return false;
}

/* "F32, F16, BF16, I32, I64, BOOL" for messages. */
static const char *st_dtype_list(char *buf, size_t size) {
    size_t o = 0;
    buf[0] = '\0';
    for (int t = 0; t < TS_DTYPE_COUNT && o < size; t++) {
        const char *n = ts_dtype_name((enum ts_dtype)t);
        if (t && o + 2 < size) {
            buf[o++] = ',';
            buf[o++] = ' ';
        }
        for (size_t i = 0; n[i] && o + 1 < size; i++) buf[o++] = (char)(n[i] >= 'a' && n[i] <= 'z' ? n[i] - 'a' + 'A' : n[i]);
        buf[o] = '\0';
    }
    return buf;
}

/* Checks one tensor entry of the header into e (everything that does not
 * depend on the other tensors). */
static enum ts_status st_check_entry(const cJSON *item, const char *name, const char *path,
                                     struct st_entry *e, struct ts_diag *d) {
    char where[256], why[96], list[64], q[64];
    st_where(name, where, sizeof where);
    if (!cJSON_IsObject(item))
        return ts_diag_set(d, TS_ERR_PARSE, path, where,
                           "must be an object with dtype, shape and data_offsets, found %s", st_kind(item));
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");

    if (!dtype)
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "has no dtype (expected one of %s)",
                           st_dtype_list(list, sizeof list));
    if (!cJSON_IsString(dtype) || !dtype->valuestring)
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "dtype must be a string such as \"F32\", found %s",
                           st_kind(dtype));
    if (!st_dtype_from_name(dtype->valuestring, &e->t.dtype))
        return ts_diag_set(d, TS_ERR_PARSE, path, where,
                           "dtype %s is not supported (tessera reads %s)",
                           dtype->valuestring[0] ? st_quote(dtype->valuestring, q, sizeof q) : "\"\"",
                           st_dtype_list(list, sizeof list));

    if (!shape) return ts_diag_set(d, TS_ERR_PARSE, path, where, "has no shape (expected an array of dims)");
    if (!cJSON_IsArray(shape))
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "shape must be an array of dims, found %s",
                           st_kind(shape));
    int rank = cJSON_GetArraySize(shape);
    if (rank > TS_MAX_RANK)
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "shape has %d dims, more than the %d tessera supports",
                           rank, TS_MAX_RANK);
    e->t.rank = rank;
    int i = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, i++) {
        uint64_t v;
        if (!st_uint(dim, &v))
            return ts_diag_set(d, TS_ERR_PARSE, path, where, "shape[%d] %s, not an integer in [0, 2^53)", i,
                               st_not_uint(dim, why, sizeof why));
        e->t.dims[i] = (int64_t)v;
    }

    if (!offsets)
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "has no data_offsets (expected [begin, end])");
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2) {
        if (cJSON_IsArray(offsets))
            return ts_diag_set(d, TS_ERR_PARSE, path, where,
                               "data_offsets must be [begin, end], found an array of %d items",
                               cJSON_GetArraySize(offsets));
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "data_offsets must be [begin, end], found %s",
                           st_kind(offsets));
    }
    uint64_t be[2];
    i = 0;
    for (const cJSON *o = offsets->child; o; o = o->next, i++)
        if (!st_uint(o, &be[i]))
            return ts_diag_set(d, TS_ERR_PARSE, path, where, "data_offsets[%d] %s, not an integer in [0, 2^53)",
                               i, st_not_uint(o, why, sizeof why));
    e->begin = be[0];
    e->end = be[1];
    if (e->begin > e->end)
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "data_offsets [%llu, %llu] begin after they end",
                           (unsigned long long)e->begin, (unsigned long long)e->end);

    /* Multiplied in dim order with signed 64-bit checks, the way ts_tensor
     * counts elements, so every shape accepted here is one a ts_tensor can
     * hold (the reference implementation also refuses a running overflow,
     * even when a later dim is 0). */
    char shp[256];
    int64_t numel = 1, bytes;
    bool overflow = false;
    for (i = 0; i < rank && !overflow; i++) overflow = __builtin_mul_overflow(numel, e->t.dims[i], &numel);
    if (overflow || __builtin_mul_overflow(numel, (int64_t)ts_dtype_size(e->t.dtype), &bytes))
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "%s %s is too large: its size in bytes overflows 64 bits",
                           ts_dtype_name(e->t.dtype), ts_dims_str(rank, e->t.dims, shp, sizeof shp));
    if (e->end - e->begin != (uint64_t)bytes)
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "data_offsets [%llu, %llu] hold %llu bytes, but %s %s needs %lld",
                           (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)(e->end - e->begin), ts_dtype_name(e->t.dtype),
                           ts_dims_str(rank, e->t.dims, shp, sizeof shp), (long long)bytes);
    e->t.nbytes = (size_t)bytes;
    return TS_OK;
}

/* "__metadata__" holds free-form strings that tessera ignores, but its shape is
 * still checked: a file that breaks it is not a safetensors file. */
static enum ts_status st_check_metadata(const cJSON *item, const char *path, struct ts_diag *d) {
    char q[160];
    if (!cJSON_IsObject(item))
        return ts_diag_set(d, TS_ERR_PARSE, path, "header", "__metadata__ must be an object of strings, found %s",
                           st_kind(item));
    for (const cJSON *m = item->child; m; m = m->next)
        if (!cJSON_IsString(m))
            return ts_diag_set(d, TS_ERR_PARSE, path, "header", "__metadata__ entry '%s' is %s, not a string",
                               st_quote(m->string ? m->string : "", q, sizeof q), st_kind(m));
    return TS_OK;
}

static int st_cmp_key(const void *a, const void *b) {
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

static int st_cmp_offsets(const void *a, const void *b) {
    const struct st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

static int st_cmp_tensor_name(const void *a, const void *b) {
    return strcmp((*(const struct ts_st_tensor *const *)a)->name, (*(const struct ts_st_tensor *const *)b)->name);
}

/* A name appearing twice: cJSON keeps both members, so sort the keys and
 * compare neighbours (quadratic scans would let a large header stall us). */
static enum ts_status st_check_duplicates(const cJSON *root, int nkeys, const char *path, struct ts_diag *d) {
    if (nkeys < 2) return TS_OK;
    const cJSON **keys = malloc((size_t)nkeys * sizeof *keys);
    if (!keys) return ts_diag_set(d, TS_ERR_NOMEM, path, "header", "cannot allocate an index of %d names", nkeys);
    int n = 0;
    for (const cJSON *c = root->child; c; c = c->next) keys[n++] = c;
    qsort(keys, (size_t)n, sizeof *keys, st_cmp_key);
    enum ts_status st = TS_OK;
    for (int i = 1; i < n && st == TS_OK; i++) {
        const char *name = keys[i]->string ? keys[i]->string : "";
        if (strcmp(keys[i - 1]->string ? keys[i - 1]->string : "", name) != 0) continue;
        char where[256];
        if (strcmp(name, "__metadata__") == 0)
            st = ts_diag_set(d, TS_ERR_PARSE, path, "header", "__metadata__ appears twice");
        else
            st = ts_diag_set(d, TS_ERR_PARSE, path, st_where(name, where, sizeof where),
                             "appears twice in the header (each name must be unique)");
    }
    free(keys);
    return st;
}

/* Checks the layout of the data section: sorted by offset, tensors must tile
 * [0, data_size) exactly. */
static enum ts_status st_check_layout(struct st_entry *es, int n, uint64_t data_start, uint64_t data_size,
                                      const char *path, struct ts_diag *d) {
    char where[256], q[160];
    qsort(es, (size_t)n, sizeof *es, st_cmp_offsets);
    uint64_t at = 0; /* where the next tensor must begin */
    for (int i = 0; i < n; i++) {
        const struct st_entry *e = &es[i];
        st_where(e->t.name, where, sizeof where);
        if (e->begin > at && i == 0)
            return ts_diag_set(d, TS_ERR_PARSE, path, where,
                               "data_offsets [%llu, %llu] start at %llu, but the first tensor must start at 0",
                               (unsigned long long)e->begin, (unsigned long long)e->end,
                               (unsigned long long)e->begin);
        if (e->begin > at)
            return ts_diag_set(d, TS_ERR_PARSE, path, where,
                               "data_offsets [%llu, %llu] leave a hole of %llu bytes after tensor '%s', which ends at %llu",
                               (unsigned long long)e->begin, (unsigned long long)e->end,
                               (unsigned long long)(e->begin - at), st_quote(es[i - 1].t.name, q, sizeof q),
                               (unsigned long long)at);
        if (e->begin < at)
            return ts_diag_set(d, TS_ERR_PARSE, path, where, "data_offsets [%llu, %llu] overlap tensor '%s' at [%llu, %llu]",
                               (unsigned long long)e->begin, (unsigned long long)e->end,
                               st_quote(es[i - 1].t.name, q, sizeof q), (unsigned long long)es[i - 1].begin,
                               (unsigned long long)es[i - 1].end);
        at = e->end;
    }
    if (at > data_size) {
        const struct st_entry *e = &es[n - 1];
        return ts_diag_set(d, TS_ERR_PARSE, path, st_where(e->t.name, where, sizeof where),
                           "data_offsets [%llu, %llu] end at byte %llu of the file, but the file holds only %llu bytes",
                           (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)(data_start + e->end), (unsigned long long)(data_start + data_size));
    }
    if (at < data_size) {
        snprintf(where, sizeof where, "byte %llu", (unsigned long long)(data_start + at));
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "%llu bytes follow the end of the %s (the file must end there)",
                           (unsigned long long)(data_size - at), n ? "last tensor" : "header, which lists no tensors");
    }
    return TS_OK;
}

/* Everything after the JSON parse: names, entries, layout, then the result. */
static enum ts_status st_build(const cJSON *root, const unsigned char *bytes, size_t size, uint64_t hlen,
                               const char *path, struct ts_safetensors **out, struct ts_diag *d) {
    int nkeys = 0, ntensors = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        nkeys++;
        if (!c->string || strcmp(c->string, "__metadata__") != 0) ntensors++;
    }
    TS_TRY(st_check_duplicates(root, nkeys, path, d));

    struct st_entry *es = calloc(ntensors ? (size_t)ntensors : 1, sizeof *es);
    if (!es) return ts_diag_set(d, TS_ERR_NOMEM, path, "header", "cannot allocate room for %d tensors", ntensors);
    struct ts_arena *arena = ts_arena_init();
    enum ts_status st = TS_OK;
    int n = 0;
    for (const cJSON *c = root->child; c && st == TS_OK; c = c->next) {
        const char *name = c->string ? c->string : "";
        if (strcmp(name, "__metadata__") == 0) {
            st = st_check_metadata(c, path, d);
            continue;
        }
        es[n].order = n;
        es[n].t.name = ts_arena_strdup(arena, name);
        st = st_check_entry(c, es[n].t.name, path, &es[n], d);
        n++;
    }
    uint64_t data_start = 8 + hlen;
    if (st == TS_OK) st = st_check_layout(es, n, data_start, size - data_start, path, d);
    if (st != TS_OK) {
        free(es);
        ts_arena_free(arena);
        return st;
    }

    struct st_impl *impl = ts_arena_alloc(arena, sizeof *impl);
    struct ts_safetensors *s = &impl->pub;
    s->path = ts_arena_strdup(arena, path);
    s->arena = arena;
    s->ntensors = n;
    s->tensors = ts_arena_alloc(arena, (n ? (size_t)n : 1) * sizeof *s->tensors);
    impl->by_name = ts_arena_alloc(arena, (n ? (size_t)n : 1) * sizeof *impl->by_name);
    for (int i = 0; i < n; i++) {
        s->tensors[i] = es[i].t;
        s->tensors[i].data = bytes + data_start + es[i].begin;
        impl->by_name[i] = &s->tensors[i];
    }
    qsort(impl->by_name, (size_t)n, sizeof *impl->by_name, st_cmp_tensor_name);
    free(es);
    *out = s;
    return TS_OK;
}

enum ts_status ts_safetensors_parse(const void *buf, size_t size, const char *path, struct ts_safetensors **out,
                                    struct ts_diag *d) {
    *out = NULL;
    if (!path) path = "";
    const unsigned char *bytes = buf;
    if (size == 0)
        return ts_diag_set(d, TS_ERR_PARSE, path, "",
                           "the file is empty (a safetensors file starts with an 8-byte header length)");
    if (size < 8)
        return ts_diag_set(d, TS_ERR_PARSE, path, "byte 0",
                           "the file holds %zu bytes, too few for the 8-byte header length", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | bytes[i]; /* little-endian on any host */
    if (hlen > TS_SAFETENSORS_MAX_HEADER)
        return ts_diag_set(d, TS_ERR_PARSE, path, "byte 0", "header length %llu is over the limit of %u bytes",
                           (unsigned long long)hlen, TS_SAFETENSORS_MAX_HEADER);
    if (hlen > size - 8)
        return ts_diag_set(d, TS_ERR_PARSE, path, "byte 0",
                           "header length %llu runs past the end of the file (8 + %llu bytes needed, the file holds %zu)",
                           (unsigned long long)hlen, (unsigned long long)hlen, size);
    if (hlen == 0)
        return ts_diag_set(d, TS_ERR_PARSE, path, "byte 0", "header length is 0, but the header must hold a JSON object");

    /* cJSON gets its own NUL-terminated copy of the header: the copy is small
     * next to the data, and a terminator guards against any read past 'hlen'. */
    char *text = malloc((size_t)hlen + 1);
    if (!text)
        return ts_diag_set(d, TS_ERR_NOMEM, path, "header", "cannot allocate %llu bytes for the header",
                           (unsigned long long)hlen);
    memcpy(text, bytes + 8, (size_t)hlen);
    text[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, false);
    enum ts_status st = TS_OK;
    if (!root) {
        /* The graph parser's scanner names the first fault and what was
         * expected there, independent of where this cJSON version gave up. */
        struct ts_diag why;
        ts_diag_clear(&why);
        ts_json_syntax_error(text, (size_t)hlen, end, path, &why);
        char where[300];
        snprintf(where, sizeof where, "header%s%s", why.where[0] ? ", " : "", why.where);
        st = ts_diag_set(d, TS_ERR_PARSE, path, where, "%s", why.what);
    } else {
        /* The reference writer pads the header with spaces to a multiple of 8. */
        size_t pos = (size_t)(end - text), nul;
        bool escaped;
        while (pos < hlen && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) pos++;
        /* cJSON cuts a name at "\u0000" or a raw NUL ("w\u0000x" would be
         * read as "w"); after the object, the padding check names the byte. */
        if (ts_json_find_nul(text, (size_t)(end - text), &nul, &escaped)) {
            char where[96];
            ts_json_line_col(text, nul, where + 8, sizeof where - 8);
            memcpy(where, "header, ", 8);
            st = ts_diag_set(d, TS_ERR_PARSE, path, where, "%s",
                             escaped ? TS_JSON_ESCAPED_NUL_MSG : TS_JSON_RAW_NUL_MSG);
        } else if (pos < hlen)
            st = ts_diag_set(d, TS_ERR_PARSE, path, "header",
                             "unexpected byte 0x%02X after the JSON object at byte %zu (only spaces may pad the header)",
                             (unsigned char)text[pos], 8 + pos);
        else if (!cJSON_IsObject(root))
            st = ts_diag_set(d, TS_ERR_PARSE, path, "header", "must be a JSON object of tensors, found %s",
                             st_kind(root));
        else
            st = st_build(root, bytes, size, hlen, path, out, d);
    }
    cJSON_Delete(root);
    free(text);
    return st;
}

enum ts_status ts_safetensors_open(const char *path, struct ts_safetensors **out, struct ts_diag *d) {
    *out = NULL;
    /* O_NONBLOCK so a FIFO does not hang the open; it is refused below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ts_diag_set(d, TS_ERR_IO, path, "", "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return ts_diag_set(d, TS_ERR_IO, path, "", "cannot stat: %s", strerror(err));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return ts_diag_set(d, TS_ERR_IO, path, "", "is a directory, not a safetensors file");
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ts_diag_set(d, TS_ERR_IO, path, "", "is not a regular file");
    }
    size_t size = (size_t)sb.st_size;
    if (size == 0) { /* mmap refuses 0 bytes; parse gives the message */
        close(fd);
        return ts_safetensors_parse("", 0, path, out, d);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd); /* the mapping stays valid without the descriptor */
    if (map == MAP_FAILED)
        return ts_diag_set(d, TS_ERR_IO, path, "", "cannot map %zu bytes: %s", size, strerror(err));
    enum ts_status st = ts_safetensors_parse(map, size, path, out, d);
    if (st != TS_OK) {
        munmap(map, size);
        return st;
    }
    (*out)->map = map;
    (*out)->map_size = size;
    return TS_OK;
}

void ts_safetensors_free(struct ts_safetensors *st) {
    if (!st) return;
    void *map = st->map;
    size_t map_size = st->map_size;
    ts_arena_free(st->arena); /* st itself lives in the arena */
    if (map) munmap(map, map_size);
}

const struct ts_st_tensor *ts_safetensors_find(const struct ts_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    const struct st_impl *impl = (const struct st_impl *)st;
    int lo = 0, hi = st->ntensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(impl->by_name[mid]->name, name);
        if (c == 0) return impl->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}
