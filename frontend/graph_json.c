/* graph_json.c — the graph parser: FORMAT.md version 1, from JSON text to a
 * ts_graph. Reads the top level, symbols, inputs, weights, constants, nodes and
 * outputs, refusing anything the format does not allow with a message that
 * names the field or node; attributes are in graph_json_attrs.c. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/frontend.h"
#include "internal.h"

#define TS_GRAPH_MAX_FILE (1ull << 30) /* a graph is metadata: 1 GiB is far beyond any real one */

#define DTYPE_NAMES "f32, f16, bf16, i32, i64 or bool"

/* A typo like "attr" must not pass silently. */
enum ts_status ts_json_check_keys(struct ts_json_parser *p, const cJSON *obj, const char *const *allowed,
                                 const char *where, const char *kind) {
    char list[256], key[64];
    size_t used = 0;
    list[0] = 0;
    for (int i = 0; allowed[i]; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
    for (const cJSON *k = obj->child; k; k = k->next) {
        bool known = false;
        for (int i = 0; allowed[i] && !known; i++) known = strcmp(allowed[i], k->string) == 0;
        if (!known)
            return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where, "unknown %s '%s' (expected %s)", kind,
                               ts_json_clip(k->string, key, sizeof key), list);
        /* All keys before k are known ones, so this stays short. */
        for (const cJSON *j = obj->child; j != k; j = j->next)
            if (strcmp(j->string, k->string) == 0)
                return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where, "field '%s' is given twice",
                                   ts_json_clip(k->string, key, sizeof key));
    }
    return TS_OK;
}

static const cJSON *field(const cJSON *obj, const char *name) {
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static enum ts_status missing(struct ts_json_parser *p, const char *where, const char *name) {
    return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where, "missing required field '%s'", name);
}

enum ts_status ts_json_get_name(struct ts_json_parser *p, const cJSON *item, const char *where, const char *what,
                               const char **out) {
    char got[128];
    if (!cJSON_IsString(item) || !ts_json_name_ok(item->valuestring))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where,
                           "%s must be a non-empty UTF-8 string without control characters, got %s", what,
                           ts_json_describe(item, got, sizeof got));
    *out = item->valuestring;
    return TS_OK;
}

static enum ts_status get_dtype(struct ts_json_parser *p, const cJSON *item, const char *where, enum ts_dtype *out) {
    char got[128];
    if (!cJSON_IsString(item) || !ts_dtype_from_name(item->valuestring, out))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where, "expected a dtype name (" DTYPE_NAMES "), got %s",
                           ts_json_describe(item, got, sizeof got));
    return TS_OK;
}

/* A shape: non-negative integers, and symbol names where allowed (inputs;
 * constants have concrete shapes). New symbols are added without a default. */
static enum ts_status get_shape(struct ts_json_parser *p, const cJSON *item, const char *where, bool symbols,
                                struct ts_value *v) {
    char got[128], w[320];
    if (!cJSON_IsArray(item))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where, "expected an array of dims, got %s",
                           ts_json_describe(item, got, sizeof got));
    int rank = cJSON_GetArraySize(item), i = 0;
    if (rank > TS_MAX_RANK)
        return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where, "has %d dims; at most %d are supported", rank,
                           TS_MAX_RANK);
    v->rank = rank;
    for (const cJSON *e = item->child; e; e = e->next, i++) {
        snprintf(w, sizeof w, "%s[%d]", where, i);
        int64_t x;
        long long num;
        bool fits;
        if (symbols && cJSON_IsString(e) && ts_json_int_string(e->valuestring, &num, &fits)) {
            /* ["2", 3] would otherwise make a symbol named '2'. */
            char n[64];
            if (fits) snprintf(n, sizeof n, "%lld", num);
            else ts_json_clip(e->valuestring, n, sizeof n);
            return ts_diag_set(p->d, TS_ERR_PARSE, p->path, w,
                               "\"%s\" is a string: write the number %s for a fixed size, or a symbol name",
                               ts_json_clip(e->valuestring, got, sizeof got), n);
        } else if (symbols && cJSON_IsString(e)) {
            if (!ts_json_symbol_ok(e->valuestring))
                return ts_diag_set(p->d, TS_ERR_PARSE, p->path, w, TS_JSON_SYMBOL_RULE ", got %s",
                                   ts_json_describe(e, got, sizeof got));
            int sym = ts_graph_find_symbol(p->g, e->valuestring);
            if (sym < 0 && p->g->nsymbols >= TS_JSON_MAX_SYMBOLS)
                return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, w, "a graph may name at most %d symbols",
                                   TS_JSON_MAX_SYMBOLS);
            if (sym < 0) sym = ts_graph_add_symbol(p->g, e->valuestring, -1);
            v->dims[i] = (struct ts_dim){.size = -1, .sym = sym};
        } else if (ts_json_int(e, &x) && x >= 0) {
            v->dims[i] = (struct ts_dim){.size = x, .sym = -1};
        } else {
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, w, "expected a non-negative integer%s, got %s%s",
                               symbols ? " or a symbol name" : " (constants have concrete shapes)",
                               ts_json_describe(e, got, sizeof got), ts_json_int_note(e));
        }
    }
    return TS_OK;
}

/* "an input", "the output of node 'mm'" … : how value id was defined. */
static const char *definition_str(struct ts_json_parser *p, int id, const char *current_node, char *buf,
                                  size_t size) {
    const struct ts_value *v = &p->g->values[id];
    switch (v->kind) {
    case TS_VALUE_INPUT: return "an input";
    case TS_VALUE_WEIGHT:
        snprintf(buf, size, "a weight in %s", p->weights ? p->weights : "the weights file");
        return buf;
    case TS_VALUE_CONSTANT: return "a constant";
    case TS_VALUE_NODE:
        snprintf(buf, size, "the output of node '%s'",
                 v->producer >= 0 && v->producer < p->g->nnodes ? p->g->nodes[v->producer].name : current_node);
        return buf;
    case TS_VALUE_KIND_COUNT: break;
    }
    return "?";
}

enum ts_status ts_json_define(struct ts_json_parser *p, const char *name, enum ts_value_kind kind, const char *where,
                             const char *what, const char *current_node, int *id) {
    int prev = ts_graph_find_value(p->g, name);
    if (prev >= 0) {
        char def[320];
        return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where, "%s '%s' is already defined (as %s)", what, name,
                           definition_str(p, prev, current_node, def, sizeof def));
    }
    return ts_graph_add_value(p->g, name, kind, id, p->d); /* dtype and shape still unknown */
}

/* ---- symbols and inputs -------------------------------------------------- */

static enum ts_status parse_symbols(struct ts_json_parser *p, const cJSON *syms) {
    char got[128], where[320];
    if (!syms) return TS_OK;
    if (!cJSON_IsObject(syms))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "symbols",
                           "expected an object mapping symbol names to default sizes, got %s",
                           ts_json_describe(syms, got, sizeof got));
    for (const cJSON *s = syms->child; s; s = s->next) {
        snprintf(where, sizeof where, "symbols.%s", s->string);
        if (!ts_json_symbol_ok(s->string))
            return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "symbols", TS_JSON_SYMBOL_RULE ", got \"%s\"",
                               ts_json_clip(s->string, got, sizeof got));
        if (p->g->nsymbols >= TS_JSON_MAX_SYMBOLS)
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, "symbols", "a graph may name at most %d symbols",
                               TS_JSON_MAX_SYMBOLS);
        if (ts_graph_find_symbol(p->g, s->string) >= 0)
            return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "symbols", "symbol '%s' is given twice", s->string);
        int64_t def;
        if (!ts_json_int(s, &def) || def <= 0)
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where,
                               "the default size must be a positive integer, got %s%s",
                               ts_json_describe(s, got, sizeof got), ts_json_int_note(s));
        ts_graph_add_symbol(p->g, s->string, def);
    }
    return TS_OK;
}

/* The declaration shared by an input and a constant: an object with exactly
 * 'keys', whose name defines a value of 'kind' with its dtype and shape (an
 * input's dims may be symbols; a constant's are integers). */
static enum ts_status parse_value_decl(struct ts_json_parser *p, const cJSON *item, const char *where,
                                       const char *const *keys, const char *fields, enum ts_value_kind kind,
                                       int *id_out) {
    char got[128], w[96];
    if (!cJSON_IsObject(item))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, where, "expected an object with %s, got %s", fields,
                           ts_json_describe(item, got, sizeof got));
    TS_TRY(ts_json_check_keys(p, item, keys, where, "field"));
    for (int k = 0; keys[k]; k++)
        if (!field(item, keys[k])) return missing(p, where, keys[k]);
    const char *name = NULL;
    snprintf(w, sizeof w, "%s.name", where);
    TS_TRY(ts_json_get_name(p, field(item, "name"), w, "the name", &name));
    TS_TRY(ts_json_define(p, name, kind, where, "value", NULL, id_out));
    struct ts_value *v = &p->g->values[*id_out];
    snprintf(w, sizeof w, "%s.dtype", where);
    TS_TRY(get_dtype(p, field(item, "dtype"), w, &v->dtype));
    snprintf(w, sizeof w, "%s.shape", where);
    return get_shape(p, field(item, "shape"), w, kind == TS_VALUE_INPUT, v);
}

static enum ts_status parse_inputs(struct ts_json_parser *p, const cJSON *inputs) {
    static const char *const keys[] = {"name", "dtype", "shape", NULL};
    char got[128], where[64];
    if (!inputs) return TS_OK;
    if (!cJSON_IsArray(inputs))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "inputs", "expected an array of inputs, got %s",
                           ts_json_describe(inputs, got, sizeof got));
    int n = cJSON_GetArraySize(inputs), i = 0;
    p->g->inputs = ts_arena_alloc(p->g->arena, sizeof(int) * (size_t)(n ? n : 1));
    p->g->ninputs = 0;
    for (const cJSON *in = inputs->child; in; in = in->next, i++) {
        snprintf(where, sizeof where, "inputs[%d]", i);
        int id;
        TS_TRY(parse_value_decl(p, in, where, keys, "name, dtype and shape", TS_VALUE_INPUT, &id));
        p->g->inputs[p->g->ninputs++] = id;
    }
    return TS_OK;
}

/* ---- weights and constants ---------------------------------------------- */

static void free_safetensors(void *ctx) { ts_safetensors_free(ctx); }

/* A file name: non-empty, no control characters (unlike names, a path on
 * disk need not be UTF-8). */
static bool path_ok(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if ((unsigned char)*s < 32 || *s == 127) return false;
    return true;
}

static enum ts_status parse_weights(struct ts_json_parser *p, const cJSON *w) {
    char got[128];
    if (!w) return TS_OK;
    if (!cJSON_IsString(w) || !path_ok(w->valuestring))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "weights", "expected a file name, got %s",
                           ts_json_describe(w, got, sizeof got));
    if (!p->load_weights)
        return ts_diag_set(p->d, TS_ERR_UNSUPPORTED, p->path, "weights", "weights are not loaded here");
    const char *file = w->valuestring;
    const char *full = file[0] == '/' || !p->base_dir || !*p->base_dir
                           ? file
                           : ts_arena_printf(p->g->arena, "%s/%s", p->base_dir, file);
    p->weights = full;
    p->g->weights_path = full;
    struct ts_safetensors *st = NULL;
    enum ts_status st_open = ts_safetensors_open(full, &st, p->d);
    if (st_open == TS_ERR_IO) {
        /* "cannot open" alone would not say which graph wanted the file. */
        size_t len = strlen(p->d->what);
        snprintf(p->d->what + len, sizeof p->d->what - len, " (the weights file of %s)", p->path);
    }
    if (st_open != TS_OK) return st_open;
    ts_graph_on_free(p->g, free_safetensors, st);
    for (int i = 0; i < st->ntensors; i++) {
        const struct ts_st_tensor *t = &st->tensors[i];
        if (!ts_json_name_ok(t->name)) {
            char q[64];
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, "weights",
                               "tensor %d of %s is named \"%s\": a value name must be a non-empty UTF-8 string "
                               "without control characters", i, full, ts_json_clip(t->name, q, sizeof q));
        }
        int id;
        TS_TRY(ts_json_define(p, t->name, TS_VALUE_WEIGHT, "weights", "weights tensor", NULL, &id));
        struct ts_value *v = &p->g->values[id];
        v->dtype = t->dtype;
        v->rank = t->rank;
        for (int k = 0; k < t->rank; k++) v->dims[k] = (struct ts_dim){.size = t->dims[k], .sym = -1};
        v->data = t->data;
        v->nbytes = t->nbytes;
    }
    return TS_OK;
}

/* One element of a constant's data, converted to its dtype at index i. */
static enum ts_status put_element(struct ts_json_parser *p, const cJSON *e, struct ts_tensor *t, int64_t i,
                                  const char *where) {
    char got[128];
    enum ts_dtype dt = t->dtype;
    if (dt == TS_BOOL) {
        if (!cJSON_IsBool(e))
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where, "expected true or false for bool data, got %s",
                               ts_json_describe(e, got, sizeof got));
        ts_tensor_set_i64(t, i, cJSON_IsTrue(e) ? 1 : 0);
    } else if (ts_dtype_is_float(dt)) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where, "expected a finite number for %s data, got %s",
                               ts_dtype_name(dt), ts_json_describe(e, got, sizeof got));
        ts_tensor_set_f64(t, i, e->valuedouble);
        if (isinf(ts_tensor_get_f64(t, i)))
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where, "%s is out of range for %s (it would be infinite)",
                               ts_json_number_str(e->valuedouble, got, sizeof got), ts_dtype_name(dt));
    } else {
        int64_t x;
        if (!ts_json_int(e, &x))
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where, "expected an integer for %s data, got %s%s",
                               ts_dtype_name(dt), ts_json_describe(e, got, sizeof got), ts_json_int_note(e));
        if (dt == TS_I32 && (x < INT32_MIN || x > INT32_MAX))
            return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, where,
                               "%lld is out of range for i32 (-2147483648 to 2147483647)", (long long)x);
        ts_tensor_set_i64(t, i, x);
    }
    return TS_OK;
}

static enum ts_status parse_constant(struct ts_json_parser *p, const cJSON *c, const char *where) {
    static const char *const keys[] = {"name", "dtype", "shape", "data", NULL};
    char got[128], w[96], shape[160];
    int id;
    TS_TRY(parse_value_decl(p, c, where, keys, "name, dtype, shape and data", TS_VALUE_CONSTANT, &id));
    struct ts_value *v = &p->g->values[id];

    /* The size rule of every shape (ts_dims_fit), checked before data is read. */
    snprintf(w, sizeof w, "%s.shape", where);
    int64_t dims[TS_MAX_RANK], numel;
    for (int k = 0; k < v->rank; k++) dims[k] = v->dims[k].size;
    if (!ts_dims_fit(v->rank, dims, ts_dtype_size(v->dtype), &numel))
        return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, w, "the size of %s %s in bytes overflows 64 bits",
                           ts_dtype_name(v->dtype), ts_dims_str(v->rank, dims, got, sizeof got));
    const cJSON *data = field(c, "data");
    snprintf(w, sizeof w, "%s.data", where);
    if (!cJSON_IsArray(data))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, w, "expected an array of %s in row-major order, got %s",
                           v->dtype == TS_BOOL ? "booleans" : "numbers", ts_json_describe(data, got, sizeof got));
    int len = cJSON_GetArraySize(data);
    if ((int64_t)len != numel)
        return ts_diag_set(p->d, TS_ERR_GRAPH, p->path, w, "has %d element%s; shape %s needs %lld", len,
                           len == 1 ? "" : "s", ts_dims_str(v->rank, dims, shape, sizeof shape), (long long)numel);
    /* numel equals the array's length here, so the size is bounded by the text. */
    size_t nbytes = (size_t)numel * ts_dtype_size(v->dtype);
    void *buf = ts_arena_alloc(p->g->arena, nbytes ? nbytes : 1);
    struct ts_tensor t;
    ts_tensor_view(&t, v->dtype, v->rank, dims, buf);
    int64_t i = 0;
    for (const cJSON *e = data->child; e; e = e->next, i++) {
        snprintf(w, sizeof w, "%s.data[%lld]", where, (long long)i);
        TS_TRY(put_element(p, e, &t, i, w));
    }
    v->data = buf;
    v->nbytes = nbytes;
    return TS_OK;
}

static enum ts_status parse_constants(struct ts_json_parser *p, const cJSON *consts) {
    char got[128], where[64];
    if (!consts) return TS_OK;
    if (!cJSON_IsArray(consts))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "constants", "expected an array of constants, got %s",
                           ts_json_describe(consts, got, sizeof got));
    int i = 0;
    for (const cJSON *c = consts->child; c; c = c->next, i++) {
        snprintf(where, sizeof where, "constants[%d]", i);
        TS_TRY(parse_constant(p, c, where));
    }
    return TS_OK;
}

/* ---- the top level -------------------------------------------------------- */

/* "tiny-gpt" from "models/tiny-gpt.json". */
static const char *default_name(struct ts_arena *a, const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0) n -= 5;
    return n ? ts_arena_strndup(a, base, n) : "graph";
}

static enum ts_status parse_graph(struct ts_json_parser *p, const cJSON *root) {
    static const char *const keys[] = {"format",  "version", "name",      "metadata", "weights",
                                       "symbols", "inputs",  "constants", "nodes",    "outputs", NULL};
    char got[128];
    if (!cJSON_IsObject(root))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "", "the top level must be a JSON object, got %s",
                           ts_json_describe(root, got, sizeof got));
    /* format and version first: a file of another kind or version gets that
     * said, not a complaint about fields this version does not know. */
    const cJSON *format = field(root, "format"), *version = field(root, "version");
    if (!format)
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "",
                           "missing required field 'format' (a tessera graph has \"format\": \"tessera.graph\")");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, "tessera.graph") != 0)
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "format", "expected \"tessera.graph\", got %s",
                           ts_json_describe(format, got, sizeof got));
    if (!version)
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "",
                           "missing required field 'version' (expected \"version\": 1)");
    int64_t v;
    if (!ts_json_int(version, &v))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "version", "expected the number 1, got %s",
                           ts_json_describe(version, got, sizeof got));
    if (v != 1)
        return ts_diag_set(p->d, TS_ERR_UNSUPPORTED, p->path, "version",
                           "version %lld is not supported: this tessera reads version 1", (long long)v);
    TS_TRY(ts_json_check_keys(p, root, keys, "", "top-level field"));

    /* "metadata" is the exporter's: any object, not read. */
    const cJSON *metadata = field(root, "metadata");
    if (metadata && !cJSON_IsObject(metadata))
        return ts_diag_set(p->d, TS_ERR_PARSE, p->path, "metadata",
                           "expected an object (its contents are free-form and ignored), got %s",
                           ts_json_describe(metadata, got, sizeof got));
    const cJSON *name = field(root, "name");
    if (name) {
        const char *s = NULL;
        TS_TRY(ts_json_get_name(p, name, "name", "the graph name", &s));
        p->g->name = ts_arena_strdup(p->g->arena, s);
    } else {
        p->g->name = default_name(p->g->arena, p->path);
    }
    /* Every definition first (symbols before the shapes that use them), then
     * node inputs by name, so nodes may come in any order. */
    TS_TRY(parse_symbols(p, field(root, "symbols")));
    TS_TRY(parse_inputs(p, field(root, "inputs")));
    TS_TRY(parse_weights(p, field(root, "weights")));
    TS_TRY(parse_constants(p, field(root, "constants")));
    TS_TRY(ts_json_parse_nodes(p, field(root, "nodes")));
    TS_TRY(ts_json_resolve_inputs(p, field(root, "nodes")));
    return ts_json_parse_outputs(p, field(root, "outputs"));
}

/* Parses text[0..len), which must be followed by a NUL (cJSON reads strings). */
static enum ts_status parse_text(const char *text, size_t len, const char *path, const char *base_dir,
                                 bool load_weights, struct ts_graph **out, struct ts_diag *d) {
    if (len == 0) return ts_diag_set(d, TS_ERR_PARSE, path, "", "the file is empty: expected a JSON object");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!root) return ts_json_syntax_error(text, len, end, path, d);
    /* cJSON stops after the first value, and takes in NULs on the way (raw
     * ones as whitespace, "\u0000" cutting a string short). A NUL anywhere,
     * or anything but whitespace after the value (a second object, a stray
     * brace), is a mistake in the file: the first of them is reported. */
    char where[64];
    size_t pos = end && end >= text && end <= text + len ? (size_t)(end - text) : len, nul;
    bool escaped;
    while (pos < len && (unsigned char)text[pos] <= 32 && text[pos]) pos++;
    if (ts_json_find_nul(text, len, &nul, &escaped) && nul <= pos) {
        ts_json_line_col(text, nul, where, sizeof where);
        cJSON_Delete(root);
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "%s",
                           escaped ? TS_JSON_ESCAPED_NUL_MSG : TS_JSON_RAW_NUL_MSG);
    }
    if (pos < len) {
        ts_json_line_col(text, pos, where, sizeof where);
        cJSON_Delete(root);
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "invalid JSON: text after the end of the top-level value");
    }
    struct ts_graph *g = ts_graph_init(path);
    struct ts_json_parser p = {.g = g, .d = d, .path = path, .base_dir = base_dir, .load_weights = load_weights};
    enum ts_status st = parse_graph(&p, root);
    cJSON_Delete(root);
    if (st != TS_OK) {
        ts_graph_free(g);
        return st;
    }
    *out = g;
    return TS_OK;
}

enum ts_status ts_graph_parse(const char *text, size_t len, const char *path, const char *base_dir,
                              bool load_weights, struct ts_graph **out, struct ts_diag *d) {
    *out = NULL;
    if (!path) path = "";
    char *copy = malloc(len + 1);
    if (!copy) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory reading %zu bytes of JSON", len);
    if (len) memcpy(copy, text, len);
    copy[len] = 0;
    enum ts_status st = parse_text(copy, len, path, base_dir, load_weights, out, d);
    free(copy);
    return st;
}

/* Reads a whole file into a NUL-terminated buffer of at most TS_GRAPH_MAX_FILE bytes. */
static enum ts_status read_file(const char *path, char **buf_out, size_t *len_out, struct ts_diag *d) {
    FILE *f = fopen(path, "rb");
    if (!f) return ts_diag_set(d, TS_ERR_IO, path, "", "cannot open: %s", strerror(errno));
    struct stat sb;
    size_t cap = 1 << 16;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) {
        if ((unsigned long long)sb.st_size > TS_GRAPH_MAX_FILE) {
            fclose(f);
            return ts_diag_set(d, TS_ERR_IO, path, "", "the file is %lld bytes; a graph file may be at most 1 GiB",
                               (long long)sb.st_size);
        }
        cap = (size_t)sb.st_size + 1;
    }
    char *buf = malloc(cap);
    size_t len = 0;
    for (;;) {
        if (!buf) {
            fclose(f);
            return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory reading the file");
        }
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (ferror(f)) {
            int err = errno;
            free(buf);
            fclose(f);
            return ts_diag_set(d, TS_ERR_IO, path, "", "cannot read: %s", strerror(err));
        }
        if (len > TS_GRAPH_MAX_FILE) {
            free(buf);
            fclose(f);
            return ts_diag_set(d, TS_ERR_IO, path, "", "the file is larger than 1 GiB, the most a graph file may be");
        }
        if (feof(f)) break;
        if (len < cap - 1) continue;
        /* A pipe, or a file that grew since fstat: read on, one byte past the
         * limit at most, so /dev/zero costs 1 GiB and not all memory. */
        size_t ncap = cap * 2 > TS_GRAPH_MAX_FILE + 2 ? TS_GRAPH_MAX_FILE + 2 : cap * 2;
        char *bigger = realloc(buf, ncap);
        if (!bigger) free(buf);
        buf = bigger;
        cap = ncap;
    }
    fclose(f);
    buf[len] = 0;
    *buf_out = buf;
    *len_out = len;
    return TS_OK;
}

enum ts_status ts_graph_load(const char *path, struct ts_graph **out, struct ts_diag *d) {
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    TS_TRY(read_file(path, &text, &len, d));
    /* Weights are found beside the graph file ("" when that is the current
     * directory, so messages name the weights file as the graph names it). */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup("");
    if (!dir) {
        free(text);
        return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory");
    }
    enum ts_status st = parse_text(text, len, path, dir, true, out, d);
    free(dir);
    free(text);
    return st;
}
