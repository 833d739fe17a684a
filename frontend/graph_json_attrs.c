/* graph_json_attrs.c — a node's "attrs" object checked against its op's schema
 * (ir/op_table.c), and the small JSON helpers the parser shares: describing
 * what was found, reading integers exactly, the rules for names. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *ts_json_number_str(double x, char *buf, size_t size) {
    if (!isfinite(x)) {
        snprintf(buf, size, "%s", x > 0 ? "1e999 (beyond a double's range)" : "-1e999 (beyond a double's range)");
        return buf;
    }
    if (floor(x) == x && fabs(x) < 1e16) { /* integers read best in full: 70000, not 7e+04 */
        snprintf(buf, size, "%.0f", x);
        return buf;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    return buf;
}

const char *ts_json_clip(const char *s, char *buf, size_t size) {
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, used = 0; /* bytes written to buf, bytes of s consumed */
    if (size < 4) { /* no room for anything useful; callers pass more */
        if (size) buf[0] = 0;
        return buf;
    }
    while (*p && used < 40) {
        size_t n = ts_utf8_len(p);
        char piece[8];
        size_t len;
        if (n == 0) {
            len = (size_t)snprintf(piece, sizeof piece, "\\x%02X", *p);
            n = 1;
        } else if (*p < 32 || *p == 127) {
            piece[0] = '?';
            len = 1;
        } else {
            memcpy(piece, p, n);
            len = n;
        }
        if (o + len + 4 > size) break; /* keep room for "..." and the NUL */
        memcpy(buf + o, piece, len);
        o += len;
        used += n;
        p += n;
    }
    if (*p) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = 0;
    return buf;
}

const char *ts_json_describe(const cJSON *item, char *buf, size_t size) {
    char num[64];
    if (!item) snprintf(buf, size, "nothing");
    else if (cJSON_IsNumber(item))
        snprintf(buf, size, "the number %s", ts_json_number_str(item->valuedouble, num, sizeof num));
    else if (cJSON_IsTrue(item)) snprintf(buf, size, "true");
    else if (cJSON_IsFalse(item)) snprintf(buf, size, "false");
    else if (cJSON_IsNull(item)) snprintf(buf, size, "null");
    else if (cJSON_IsArray(item)) snprintf(buf, size, item->child ? "an array" : "an empty array");
    else if (cJSON_IsObject(item)) snprintf(buf, size, "an object");
    else if (cJSON_IsString(item) && item->valuestring) {
        char s[64];
        snprintf(buf, size, "the string \"%s\"", ts_json_clip(item->valuestring, s, sizeof s));
    } else snprintf(buf, size, "an invalid value");
    return buf;
}

bool ts_json_int(const cJSON *item, int64_t *out) {
    if (!cJSON_IsNumber(item)) return false;
    double x = item->valuedouble;
    if (!isfinite(x) || fabs(x) > TS_JSON_MAX_INT || floor(x) != x) return false;
    *out = (int64_t)x;
    return true;
}

const char *ts_json_int_note(const cJSON *item) {
    if (cJSON_IsNumber(item) && !(fabs(item->valuedouble) <= TS_JSON_MAX_INT)) return " (" TS_JSON_INT_RULE ")";
    return "";
}

bool ts_json_name_ok(const char *s) {
    if (!s || !*s) return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 32 || *c == 127) return false;
    return ts_utf8_valid(s);
}

bool ts_json_symbol_ok(const char *s) {
    return ts_json_name_ok(s) && !(s[0] >= '0' && s[0] <= '9') && !strchr(s, '=');
}

bool ts_json_int_string(const char *s, long long *value, bool *fits) {
    const char *digits = s[0] == '-' ? s + 1 : s;
    size_t n = strspn(digits, "0123456789");
    if (n == 0 || digits[n]) return false;
    *fits = n <= 18; /* strtoll cannot overflow */
    *value = *fits ? strtoll(s, NULL, 10) : 0;
    return true;
}

/* ---- attributes --------------------------------------------------------- */

static const char *type_desc(enum ts_attr_type t) {
    switch (t) {
    case TS_ATTR_FLOAT: return "a number";
    case TS_ATTR_INT: return "an integer";
    case TS_ATTR_BOOL: return "a boolean (true or false)";
    case TS_ATTR_STRING: return "a string";
    case TS_ATTR_INTS: return "an array of integers";
    case TS_ATTR_DIMS: return "an array of integers and symbol names";
    case TS_ATTR_DTYPE: return "a dtype name (f32, f16, bf16, i32, i64 or bool)";
    case TS_ATTR_TYPE_COUNT: break;
    }
    return "?";
}

/* "\"none\" or \"tanh\"" from "none,tanh". */
static const char *choices_str(const char *choices, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = 0;
    const char *p = choices;
    while (*p && used + 1 < size) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *sep = p == choices ? "" : comma ? ", " : " or ";
        int w = snprintf(buf + used, size - used, "%s\"%.*s\"", sep, (int)n, p);
        if (w < 0) break;
        used += (size_t)w;
        p += n + (comma ? 1 : 0);
    }
    return buf;
}

static bool in_choices(const char *choices, const char *s) {
    size_t len = strlen(s);
    for (const char *p = choices; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == len && memcmp(p, s, n) == 0) return true;
        if (!comma) break;
        p = comma + 1;
    }
    return false;
}

/* Reshape's shape: integers ≥ -1 (one -1 at most) and names of known symbols. */
static enum ts_status parse_dims(struct ts_graph *g, const char *where, const char *name, const cJSON *v,
                                 struct ts_attr *a, struct ts_diag *d) {
    char got[128];
    int len = cJSON_GetArraySize(v);
    if (len > TS_MAX_RANK)
        return ts_diag_set(d, TS_ERR_GRAPH, g->path, where,
                           "attribute '%s' has %d dims; at most %d are supported", name, len, TS_MAX_RANK);
    a->dims = ts_arena_alloc(g->arena, sizeof(struct ts_dim) * (size_t)(len ? len : 1));
    a->n = len;
    int i = 0, infer = -1;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        struct ts_dim *dim = &a->dims[i];
        int64_t x;
        long long num;
        bool fits;
        if (cJSON_IsString(e) && ts_json_int_string(e->valuestring, &num, &fits)) {
            char n[64];
            if (fits) snprintf(n, sizeof n, "%lld", num);
            else ts_json_clip(e->valuestring, n, sizeof n);
            return ts_diag_set(d, TS_ERR_GRAPH, g->path, where,
                               "attribute '%s': element %d is the string \"%s\": write the number %s for a fixed "
                               "size, or a symbol name",
                               name, i, ts_json_clip(e->valuestring, got, sizeof got), n);
        } else if (cJSON_IsString(e)) {
            int sym = ts_graph_find_symbol(g, e->valuestring);
            if (sym < 0)
                return ts_diag_set(d, TS_ERR_GRAPH, g->path, where,
                                   "attribute '%s': element %d names the unknown symbol '%s' "
                                   "(a symbol must be declared in \"symbols\" or used in an input's shape)",
                                   name, i, ts_json_clip(e->valuestring, got, sizeof got));
            dim->size = -1;
            dim->sym = sym;
        } else if (ts_json_int(e, &x) && x >= -1) {
            if (x == -1 && infer >= 0)
                return ts_diag_set(d, TS_ERR_GRAPH, g->path, where,
                                   "attribute '%s' has -1 at elements %d and %d; at most one dim may be inferred",
                                   name, infer, i);
            if (x == -1) infer = i;
            dim->size = x;
            dim->sym = -1;
        } else {
            return ts_diag_set(d, TS_ERR_GRAPH, g->path, where,
                               "attribute '%s': element %d must be an integer >= -1 or a symbol name, got %s%s",
                               name, i, ts_json_describe(e, got, sizeof got), ts_json_int_note(e));
        }
    }
    return TS_OK;
}

static enum ts_status parse_one(struct ts_graph *g, const char *where, const struct ts_attr_spec *spec,
                                struct ts_attr *a, const cJSON *v, struct ts_diag *d) {
    char got[128], buf[128];
    const char *name = spec->name;
    a->type = spec->type;
    switch (spec->type) {
    case TS_ATTR_FLOAT:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) goto wrong_type;
        a->f = v->valuedouble;
        break;
    case TS_ATTR_INT:
        if (!ts_json_int(v, &a->i))
            return ts_diag_set(d, TS_ERR_GRAPH, g->path, where, "attribute '%s' must be an integer, got %s%s", name,
                               ts_json_describe(v, got, sizeof got), ts_json_int_note(v));
        break;
    case TS_ATTR_BOOL:
        if (!cJSON_IsBool(v)) goto wrong_type;
        a->i = cJSON_IsTrue(v) ? 1 : 0;
        break;
    case TS_ATTR_STRING:
        if (!cJSON_IsString(v)) goto wrong_type;
        if (spec->choices && !in_choices(spec->choices, v->valuestring))
            return ts_diag_set(d, TS_ERR_GRAPH, g->path, where, "attribute '%s' must be %s, got %s", name,
                               choices_str(spec->choices, buf, sizeof buf), ts_json_describe(v, got, sizeof got));
        a->s = ts_arena_strdup(g->arena, v->valuestring);
        break;
    case TS_ATTR_DTYPE:
        if (!cJSON_IsString(v) || !ts_dtype_from_name(v->valuestring, &a->dtype)) goto wrong_type;
        break;
    case TS_ATTR_INTS: {
        if (!cJSON_IsArray(v)) goto wrong_type;
        int len = cJSON_GetArraySize(v), i = 0;
        a->ints = ts_arena_alloc(g->arena, sizeof(int64_t) * (size_t)(len ? len : 1));
        a->n = len;
        for (const cJSON *e = v->child; e; e = e->next, i++)
            if (!ts_json_int(e, &a->ints[i]))
                return ts_diag_set(d, TS_ERR_GRAPH, g->path, where,
                                   "attribute '%s': element %d must be an integer, got %s%s", name, i,
                                   ts_json_describe(e, got, sizeof got), ts_json_int_note(e));
        break;
    }
    case TS_ATTR_DIMS:
        if (!cJSON_IsArray(v)) goto wrong_type;
        TS_TRY(parse_dims(g, where, name, v, a, d));
        break;
    case TS_ATTR_TYPE_COUNT:
        TS_ASSERT(!"attribute type out of range");
    }
    a->present = true;
    return TS_OK;
wrong_type:
    return ts_diag_set(d, TS_ERR_GRAPH, g->path, where, "attribute '%s' must be %s, got %s", name,
                       type_desc(spec->type), ts_json_describe(v, got, sizeof got));
}

/* "transpose_a, transpose_b" for "unknown attribute" messages. */
static const char *accepted_str(const struct ts_op_info *info, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < info->nattrs && used + 1 < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", info->attrs[i].name);
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}

enum ts_status ts_json_parse_attrs(struct ts_graph *g, struct ts_node *n, const cJSON *attrs,
                                   struct ts_diag *d) {
    const struct ts_op_info *info = ts_op_get(n->op);
    char where[300], got[128], list[256], key[64];
    ts_node_where(n->name, n->named, n->op, where, sizeof where);
    ts_node_set_defaults(n);
    if (attrs && !cJSON_IsObject(attrs))
        return ts_diag_set(d, TS_ERR_PARSE, g->path, where, "\"attrs\" must be an object, got %s",
                           ts_json_describe(attrs, got, sizeof got));
    for (const cJSON *a = attrs ? attrs->child : NULL; a; a = a->next) {
        int idx = ts_op_attr_index(n->op, a->string);
        if (idx < 0) {
            if (info->nattrs == 0)
                return ts_diag_set(d, TS_ERR_GRAPH, g->path, where, "unknown attribute '%s' (%s takes no attributes)",
                                   ts_json_clip(a->string, key, sizeof key), info->name);
            return ts_diag_set(d, TS_ERR_GRAPH, g->path, where, "unknown attribute '%s' (%s accepts %s)",
                               ts_json_clip(a->string, key, sizeof key), info->name,
                               accepted_str(info, list, sizeof list));
        }
        /* Every key so far is a known one, so this loop stays short. */
        for (const cJSON *b = attrs->child; b != a; b = b->next)
            if (strcmp(b->string, a->string) == 0)
                return ts_diag_set(d, TS_ERR_GRAPH, g->path, where, "attribute '%s' is given twice", a->string);
        TS_TRY(parse_one(g, where, &info->attrs[idx], &n->attrs[idx], a, d));
    }
    for (int i = 0; i < info->nattrs; i++) {
        const struct ts_attr_spec *spec = &info->attrs[i];
        if (spec->required && !n->attrs[i].present)
            return ts_diag_set(d, TS_ERR_GRAPH, g->path, where, "missing required attribute '%s' (%s)", spec->name,
                               type_desc(spec->type));
    }
    return TS_OK;
}
