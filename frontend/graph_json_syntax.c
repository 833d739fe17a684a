/* graph_json_syntax.c — turns "cJSON refused this text" into a message a user
 * can act on: "line 3, column 17: expected ',' or '}' after an object member".
 * cJSON only says where it gave up, so a small scanner that accepts what cJSON
 * accepts re-reads the text to find the first fault and name what was expected;
 * ts_json_find_nul finds the NULs cJSON lets through. */
#include <string.h>

#include "internal.h"

/* cJSON's own limit (cJSON.h); deeper text fails there, so it fails here too. */
#define TS_JSON_NESTING_LIMIT 1000

struct scan {
    const unsigned char *s;
    size_t len, pos;
    int depth;
    const char *expected; /* what the first fault expected, or NULL */
    bool too_deep;        /* the fault is nesting beyond cJSON's limit */
    size_t err_pos;
};

static bool fault(struct scan *sc, const char *expected) {
    sc->expected = expected;
    sc->err_pos = sc->pos;
    return false;
}

/* cJSON skips every byte up to and including space as whitespace. */
static void skip_ws(struct scan *sc) {
    while (sc->pos < sc->len && sc->s[sc->pos] <= 32) sc->pos++;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u" at pos; -1 if they are not there. */
static long read_u4(const struct scan *sc, size_t pos) {
    if (sc->len - pos < 6 || sc->s[pos] != '\\' || sc->s[pos + 1] != 'u') return -1;
    long v = 0;
    for (size_t i = pos + 2; i < pos + 6; i++) {
        int h = hex_value(sc->s[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static bool scan_string(struct scan *sc) {
    sc->pos++; /* the opening quote */
    while (sc->pos < sc->len) {
        unsigned char c = sc->s[sc->pos];
        if (c == '"') {
            sc->pos++;
            return true;
        }
        if (c != '\\') {
            sc->pos++;
            continue;
        }
        if (sc->pos + 1 >= sc->len) break;
        unsigned char e = sc->s[sc->pos + 1];
        if (e && strchr("\"\\/bfnrt", e)) {
            sc->pos += 2;
        } else if (e == 'u') {
            /* cJSON refuses lone low surrogates and high surrogates not
             * followed by a low one. */
            long u = read_u4(sc, sc->pos);
            if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
                return fault(sc, "a valid \\uXXXX escape in the string");
            if (u >= 0xD800 && u <= 0xDBFF) {
                long lo = read_u4(sc, sc->pos + 6);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fault(sc, "a \\uDC00-\\uDFFF escape completing the surrogate pair");
                sc->pos += 6;
            }
            sc->pos += 6;
        } else {
            return fault(sc, "a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX) in the string");
        }
    }
    sc->pos = sc->len;
    return fault(sc, "the closing '\"' of a string");
}

/* Accepts what strtod reads from cJSON's number characters; anything left
 * over (a lone 'e', a second '-') is then a fault in the enclosing structure. */
static bool scan_number(struct scan *sc) {
    size_t p = sc->pos;
    if (p < sc->len && sc->s[p] == '-') p++;
    size_t digits = p;
    while (p < sc->len && is_digit(sc->s[p])) p++;
    bool any = p > digits;
    if (p < sc->len && sc->s[p] == '.') {
        size_t frac = ++p;
        while (p < sc->len && is_digit(sc->s[p])) p++;
        any = any || p > frac;
    }
    if (!any) return fault(sc, "a number");
    if (p < sc->len && (sc->s[p] == 'e' || sc->s[p] == 'E')) {
        size_t q = p + 1;
        if (q < sc->len && (sc->s[q] == '+' || sc->s[q] == '-')) q++;
        if (q < sc->len && is_digit(sc->s[q])) {
            while (q < sc->len && is_digit(sc->s[q])) q++;
            p = q;
        }
    }
    sc->pos = p;
    return true;
}

static bool scan_value(struct scan *sc);

static bool scan_container(struct scan *sc, bool object) {
    if (sc->depth >= TS_JSON_NESTING_LIMIT)
        return sc->too_deep = true, fault(sc, "less nesting");
    sc->depth++;
    sc->pos++; /* '{' or '[' */
    skip_ws(sc);
    unsigned char close = object ? '}' : ']';
    if (sc->pos < sc->len && sc->s[sc->pos] == close) {
        sc->pos++;
        sc->depth--;
        return true;
    }
    for (;;) {
        if (object) {
            if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
                return fault(sc, "a string naming an object member");
            if (!scan_string(sc)) return false;
            skip_ws(sc);
            if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
                return fault(sc, "':' after an object member's name");
            sc->pos++;
            skip_ws(sc);
        }
        if (!scan_value(sc)) return false;
        skip_ws(sc);
        if (sc->pos < sc->len && sc->s[sc->pos] == ',') {
            sc->pos++;
            skip_ws(sc);
            continue;
        }
        if (sc->pos < sc->len && sc->s[sc->pos] == close) {
            sc->pos++;
            sc->depth--;
            return true;
        }
        return fault(sc, object ? "',' or '}' after an object member" : "',' or ']' after an array element");
    }
}

static bool scan_literal(struct scan *sc, const char *word) {
    size_t n = strlen(word);
    if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
        return fault(sc, "a value (object, array, string, number, true, false or null)");
    sc->pos += n;
    return true;
}

static bool scan_value(struct scan *sc) {
    if (sc->pos >= sc->len)
        return fault(sc, "a value (object, array, string, number, true, false or null)");
    unsigned char c = sc->s[sc->pos];
    switch (c) {
    case '{': return scan_container(sc, true);
    case '[': return scan_container(sc, false);
    case '"': return scan_string(sc);
    case 't': return scan_literal(sc, "true");
    case 'f': return scan_literal(sc, "false");
    case 'n': return scan_literal(sc, "null");
    default:
        if (c == '-' || is_digit(c)) return scan_number(sc);
        return fault(sc, "a value (object, array, string, number, true, false or null)");
    }
}

void ts_json_line_col(const char *text, size_t pos, char *buf, size_t size) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) { /* not a UTF-8 continuation byte */
            col++;
        }
    }
    snprintf(buf, size, "line %zu, column %zu", line, col);
}

/* "'tru'" or "byte 0x01": the token at pos, for "got …". */
static const char *token_str(const unsigned char *s, size_t len, size_t pos, char *buf, size_t size) {
    unsigned char c = s[pos];
    if (c < 32 || c >= 127) {
        snprintf(buf, size, "byte 0x%02x", c);
        return buf;
    }
    size_t n = 1;
    if (!strchr("{}[],:\"", c)) {
        while (pos + n < len && n < 20 && s[pos + n] > 32 && s[pos + n] < 127 &&
               !strchr("{}[],:\"", s[pos + n]))
            n++;
    }
    snprintf(buf, size, "'%.*s'", (int)n, (const char *)s + pos);
    return buf;
}

enum ts_status ts_json_syntax_error(const char *text, size_t len, const char *cjson_end,
                                    const char *path, struct ts_diag *d) {
    struct scan sc = {.s = (const unsigned char *)text, .len = len};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) sc.pos = 3; /* cJSON skips a BOM */
    skip_ws(&sc);
    char where[64], got[64];
    if (sc.pos >= len) {
        return ts_diag_set(d, TS_ERR_PARSE, path, "",
                           len == sc.pos && sc.pos == 0 ? "the file is empty: expected a JSON object"
                                                        : "the file holds no JSON value: expected a JSON object");
    }
    if (scan_value(&sc)) {
        /* Our scan accepts what cJSON refused (e.g. a number longer than
         * cJSON reads): fall back to where cJSON stopped. */
        size_t pos = cjson_end && cjson_end >= text && cjson_end <= text + len ? (size_t)(cjson_end - text) : 0;
        ts_json_line_col(text, pos, where, sizeof where);
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "invalid JSON here");
    }
    ts_json_line_col(text, sc.err_pos, where, sizeof where);
    if (sc.too_deep)
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "invalid JSON: arrays and objects nested more than %d deep",
                           TS_JSON_NESTING_LIMIT);
    if (sc.err_pos >= len)
        return ts_diag_set(d, TS_ERR_PARSE, path, where, "the file ends early (truncated?): expected %s",
                           sc.expected);
    return ts_diag_set(d, TS_ERR_PARSE, path, where, "invalid JSON: expected %s, got %s", sc.expected,
                       token_str(sc.s, len, sc.err_pos, got, sizeof got));
}

bool ts_json_find_nul(const char *text, size_t len, size_t *pos, bool *escaped) {
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == 0) {
            *pos = i;
            *escaped = false;
            return true;
        }
        if (!in_string) {
            in_string = c == '"';
        } else if (c == '"') {
            in_string = false;
        } else if (c == '\\' && i + 1 < len && text[i + 1]) {
            if (len - i >= 6 && memcmp(text + i + 1, "u0000", 5) == 0) {
                *pos = i;
                *escaped = true;
                return true;
            }
            i++; /* the escaped character: "\\" and "\"" end nothing */
        }
    }
    return false;
}
