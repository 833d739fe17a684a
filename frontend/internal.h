/* internal.h — helpers private to frontend/: locating JSON syntax errors and
 * NUL characters, describing JSON values in messages, reading integers
 * exactly, the rules for names, parsing a node's attributes against its op's
 * schema, and the one UTF-8 check (also used by the safetensors reader and
 * writer). */
#ifndef TESSERA_FRONTEND_INTERNAL_H
#define TESSERA_FRONTEND_INTERNAL_H

#include <cjson/cJSON.h>

#include "ir/ir.h"

/* Symbols are looked up by name in a short list; real models name a handful. */
#define TS_JSON_MAX_SYMBOLS 256

/* Integers travel through JSON as doubles. 2^53 itself is a double, but so
 * is what 2^53 + 1 rounds to: only below 2^53 does every integer read back
 * as itself, so the parser refuses larger ones rather than silently rounding. */
#define TS_JSON_MAX_INT 9007199254740991.0 /* 2^53 - 1 */
#define TS_JSON_INT_RULE "integers must be smaller than 2^53 in magnitude to be exact in JSON"

/* What a symbol name may be, for messages: --bind takes SYMBOL=N, so a name
 * with '=' could not be bound, and one starting with a digit reads as a size. */
#define TS_JSON_SYMBOL_RULE                                                                          \
    "a symbol name must be a non-empty UTF-8 string without control characters or '=' that does " \
    "not start with a digit (--bind takes SYMBOL=N)"

/* ---- graph_json.c: what the parts of the parser share --------------------- */

struct ts_json_parser {
    struct ts_graph *g;
    struct ts_diag *d;
    const char *path;     /* the file, in messages */
    const char *base_dir; /* where "weights" is looked up */
    bool load_weights;
    const char *weights;  /* the weights file's path, for messages */
};

/* Refuses keys of obj outside 'allowed' (NULL-terminated) and keys given
 * twice; 'kind' names them in the message ("field", "top-level field"). */
enum ts_status ts_json_check_keys(struct ts_json_parser *p, const cJSON *obj, const char *const *allowed,
                                  const char *where, const char *kind);
/* A value or node name: a string that ts_json_name_ok accepts. */
enum ts_status ts_json_get_name(struct ts_json_parser *p, const cJSON *item, const char *where,
                                const char *what, const char **out);
/* Adds value 'name', refusing a second definition with a message that says
 * where the first one was ('what' names it: "value", "output"; current_node
 * is the node being read, whose outputs are not in the graph yet). */
enum ts_status ts_json_define(struct ts_json_parser *p, const char *name, enum ts_value_kind kind,
                              const char *where, const char *what, const char *current_node, int *id);

/* ---- graph_json_nodes.c ------------------------------------------------- */

/* "nodes": every node with its outputs defined, attributes set and inputs
 * left unresolved (-1); then ts_json_resolve_inputs, once all values exist. */
enum ts_status ts_json_parse_nodes(struct ts_json_parser *p, const cJSON *nodes);
enum ts_status ts_json_resolve_inputs(struct ts_json_parser *p, const cJSON *nodes);
/* "outputs": a non-empty array of defined value names, each listed once. */
enum ts_status ts_json_parse_outputs(struct ts_json_parser *p, const cJSON *outputs);

/* ---- graph_json_syntax.c ------------------------------------------------ */

/* Records a TS_ERR_PARSE for text that cJSON refused, at "line L, column C"
 * with what was expected there. cjson_end is where cJSON stopped (a fallback
 * when our own scan finds nothing wrong, e.g. a number cJSON cannot read). */
enum ts_status ts_json_syntax_error(const char *text, size_t len, const char *cjson_end,
                                    const char *path, struct ts_diag *d);
/* "line L, column C" of byte offset pos (columns count UTF-8 characters). */
void ts_json_line_col(const char *text, size_t pos, char *buf, size_t size);
/* cJSON reads "\u0000" in a string as a NUL, which ends the C string there
 * ("a\u0000b" would be taken as "a"), and lets raw NUL bytes through. Finds
 * the first of either in text[0..len): its byte offset and whether it is the
 * escape (a lexer that follows strings and escapes, so "\\u0000" is not one).
 * The text need not be valid JSON. */
bool ts_json_find_nul(const char *text, size_t len, size_t *pos, bool *escaped);
#define TS_JSON_RAW_NUL_MSG "invalid JSON: a NUL byte (0x00) is not allowed in JSON text"
#define TS_JSON_ESCAPED_NUL_MSG "\\u0000 (a NUL character) is not allowed in a string"

/* ---- graph_json_attrs.c ------------------------------------------------- */

/* "the number 1.5", "the string \"x\"", "true", "an array" … for "got …". */
const char *ts_json_describe(const cJSON *item, char *buf, size_t size);
/* s cut to 40 bytes ("..." after, never inside a UTF-8 character) with
 * control characters shown as '?' and bytes that are not UTF-8 as \xNN, so
 * any string from the file fits a readable one-line message. */
const char *ts_json_clip(const char *s, char *buf, size_t size);
/* The shortest decimal that reads back as x. */
const char *ts_json_number_str(double x, char *buf, size_t size);
/* An integral JSON number of magnitude below 2^53 into *out. */
bool ts_json_int(const cJSON *item, int64_t *out);
/* " (" TS_JSON_INT_RULE ")" when item is a number too large for ts_json_int,
 * else "": appended to a message that refuses item. */
const char *ts_json_int_note(const cJSON *item);
/* True if s is non-empty, valid UTF-8 and free of control characters (names
 * end up in one-line messages, in the printed IR and in safetensors headers,
 * which must be UTF-8). */
bool ts_json_name_ok(const char *s);
/* A name ts_json_name_ok accepts that also follows TS_JSON_SYMBOL_RULE. */
bool ts_json_symbol_ok(const char *s);
/* True if s is written like an integer ("2", "-1"): a dim that was meant as
 * a number; *value gets it when it fits (else the caller quotes s). */
bool ts_json_int_string(const char *s, long long *value, bool *fits);

/* Fills node n's attributes: its op's defaults first, then each entry of
 * 'attrs' (a JSON object, or NULL when the node has none), checked against
 * the schema; then every required attribute must be present. Errors are at
 * "node 'NAME'" in g's file. */
enum ts_status ts_json_parse_attrs(struct ts_graph *g, struct ts_node *n, const cJSON *attrs,
                                   struct ts_diag *d);

/* ---- utf8.c ------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (strict: no overlongs, surrogates
 * or code points past U+10FFFF), or 0 if there is none; 1 for the NUL. */
size_t ts_utf8_len(const unsigned char *p);
/* True if the NUL-terminated s is valid UTF-8 throughout. */
bool ts_utf8_valid(const char *s);

#endif
