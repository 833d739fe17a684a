/* internal.h — helpers private to frontend/'s JSON graph parser: locating JSON
 * syntax errors, describing JSON values in messages, reading integers exactly,
 * and parsing a node's attributes against its op's schema. */
#ifndef TESSERA_FRONTEND_INTERNAL_H
#define TESSERA_FRONTEND_INTERNAL_H

#include <cjson/cJSON.h>

#include "ir/ir.h"

/* Symbols are looked up by name in a short list; real models name a handful. */
#define TS_JSON_MAX_SYMBOLS 256

/* Integers travel through JSON as doubles: beyond 2^53 they are no longer
 * exact, so the parser refuses them rather than silently rounding. */
#define TS_JSON_MAX_INT 9007199254740992.0 /* 2^53 */

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
/* A value or node name: a non-empty string without control characters. */
enum ts_status ts_json_get_name(struct ts_json_parser *p, const cJSON *item, const char *where,
                                const char *what, const char **out);
/* Adds value 'name', refusing a second definition with a message that says
 * where the first one was ('what' names it: "value", "output"; current_node
 * is the node being read, whose outputs are not in the graph yet). */
enum ts_status ts_json_define(struct ts_json_parser *p, const char *name, enum ts_value_kind kind,
                              const char *where, const char *what, const char *current_node, int *id);

/* ---- graph_json_nodes.c ------------------------------------------------- */

/* "node 'NAME'", or "node 'NAME' (op)" for a name given in the file: the
 * WHERE that ts_diag_node writes, for messages about a node not yet added. */
const char *ts_json_node_where(const char *name, bool named, enum ts_op op, char *buf, size_t size);

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

/* ---- graph_json_attrs.c ------------------------------------------------- */

/* "the number 1.5", "the string \"x\"", "true", "an array" … for "got …". */
const char *ts_json_describe(const cJSON *item, char *buf, size_t size);
/* s cut to 40 bytes ("..." after) with control characters shown as '?', so
 * any string from the file fits a one-line message. */
const char *ts_json_clip(const char *s, char *buf, size_t size);
/* The shortest decimal that reads back as x. */
const char *ts_json_number_str(double x, char *buf, size_t size);
/* An integral JSON number of magnitude at most 2^53 into *out. */
bool ts_json_int(const cJSON *item, int64_t *out);
/* What ts_json_int expected, for messages: "an integer" or, when the number
 * is integral but too large, "an integer of magnitude at most 2^53". */
const char *ts_json_int_expected(const cJSON *item);
/* True if s is non-empty and free of control characters (names end up in
 * one-line messages and in the printed IR). */
bool ts_json_name_ok(const char *s);

/* Fills node n's attributes: its op's defaults first, then each entry of
 * 'attrs' (a JSON object, or NULL when the node has none), checked against
 * the schema; then every required attribute must be present. Errors are at
 * "node 'NAME'" in g's file. */
enum ts_status ts_json_parse_attrs(struct ts_graph *g, struct ts_node *n, const cJSON *attrs,
                                   struct ts_diag *d);

#endif
