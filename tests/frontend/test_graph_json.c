/* test_graph_json.c — the JSON graph parser (FORMAT.md version 1): the exact
 * structure it builds (values, kinds, dtypes, symbol dims, constant data,
 * attributes with defaults filled, node names), weights loaded beside the
 * graph file, and the exact message of each kind of malformed graph. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "test.h"

/* Graphs are written with ' for " so they read as JSON; q() swaps them back. */
static char *q(const char *s) {
    char *out = strdup(s);
    for (char *p = out; *p; p++)
        if (*p == '\'') *p = '"';
    return out;
}

static enum ts_status parse(const char *quoted, struct ts_graph **g, struct ts_diag *d) {
    char *text = q(quoted);
    ts_diag_clear(d);
    enum ts_status st = ts_graph_parse(text, strlen(text), "t.json", ".", false, g, d);
    free(text);
    return st;
}

/* The one-line message a graph that must fail produces ("FILE: WHERE: WHAT"). */
static const char *error_of(const char *quoted) {
    static char msg[1400];
    struct ts_graph *g = NULL;
    struct ts_diag d;
    if (parse(quoted, &g, &d) == TS_OK) {
        ts_graph_free(g);
        return "(no error)";
    }
    if (g) return "(a graph was returned with the error)";
    ts_diag_format(&d, msg, sizeof msg);
    return msg;
}

#define HEAD "{'format': 'tessera.graph', 'version': 1, "
#define X_IN "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [2, 3]}], "
/* A graph with input x [2, 3] and the given nodes, whose output is y. */
#define WITH_NODES(nodes) HEAD X_IN "'nodes': [" nodes "], 'outputs': ['y']}"
#define NODE(op, ins, attrs) "{'op': '" op "', 'inputs': " ins ", 'outputs': ['y'], 'attrs': " attrs "}"

static const struct ts_value *value(const struct ts_graph *g, const char *name) {
    int id = ts_graph_find_value(g, name);
    return id >= 0 ? &g->values[id] : NULL;
}

/* ---- a graph that parses -------------------------------------------------- */

static const char *full_graph =
    HEAD "'name': 'tiny', 'symbols': {'batch': 2, 'seq': 4},"
    "'inputs': [{'name': 'tokens', 'dtype': 'i32', 'shape': ['batch', 'seq']},"
    "           {'name': 'x', 'dtype': 'f16', 'shape': ['batch', 'heads', 'seq', 8]},"
    "           {'name': 'pos', 'dtype': 'i64', 'shape': []}],"
    "'constants': [{'name': 'half', 'dtype': 'f32', 'shape': [], 'data': [0.5]},"
    "              {'name': 'ids', 'dtype': 'i32', 'shape': [2, 2], 'data': [1, -2, 2147483647, -2147483648]},"
    "              {'name': 'big', 'dtype': 'i64', 'shape': [2], 'data': [9007199254740991, -9007199254740991]},"
    "              {'name': 'mask', 'dtype': 'bool', 'shape': [3], 'data': [true, false, true]},"
    "              {'name': 'h16', 'dtype': 'f16', 'shape': [2], 'data': [0.1, 65504]},"
    "              {'name': 'b16', 'dtype': 'bf16', 'shape': [1], 'data': [1.00390625]},"
    "              {'name': 'none', 'dtype': 'f32', 'shape': [0, 3], 'data': []}],"
    "'nodes': ["
    /* 0: uses a value that a later node defines (nodes may come in any order) */
    "  {'op': 'mul', 'inputs': ['h', 'half'], 'outputs': ['y']},"
    "  {'op': 'layernorm', 'inputs': ['x', '', 'x'], 'outputs': ['n'], 'attrs': {'eps': 0.001}},"
    "  {'op': 'matmul', 'name': 'proj', 'inputs': ['n', 'n'], 'outputs': ['h'], 'attrs': {'transpose_b': true}},"
    "  {'op': 'reshape', 'inputs': ['n'], 'outputs': ['r'], 'attrs': {'shape': ['batch', -1, 0, 'seq']}},"
    "  {'op': 'gelu', 'inputs': ['r'], 'outputs': ['g1']},"
    "  {'op': 'gelu', 'inputs': ['r'], 'outputs': ['g2'], 'attrs': {'approximate': 'tanh'}},"
    "  {'op': 'cast', 'inputs': ['g2'], 'outputs': ['c'], 'attrs': {'to': 'bf16'}},"
    "  {'op': 'reduce_sum', 'inputs': ['c'], 'outputs': ['s'], 'attrs': {'axes': [-1, 0], 'keepdims': true}},"
    "  {'op': 'split', 'inputs': ['s'], 'outputs': ['s1', 's2'], 'attrs': {'axis': 0, 'sizes': [1, 1]}},"
    "  {'op': 'attention', 'inputs': ['x', 'x', 'x'], 'outputs': ['a'], 'attrs': {'causal': true}},"
    "  {'op': 'concat', 'inputs': ['s1', 's2', 's1'], 'outputs': ['cc'], 'attrs': {'axis': -1}}],"
    "'outputs': ['y', 'cc', 'tokens']}";

static void test_full_graph(void) {
    struct ts_graph *g = NULL;
    struct ts_diag d;
    CHECK(parse(full_graph, &g, &d) == TS_OK);
    if (!g) {
        char msg[1400];
        ts_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "full graph: %s\n", msg);
        ts_test_failed++;
        return;
    }
    CHECK_STR(g->name, "tiny");
    CHECK_STR(g->path, "t.json");

    /* Symbols: declared ones with their defaults, then 'heads' (used, not declared). */
    CHECK(g->nsymbols == 3);
    CHECK_STR(g->symbols[0].name, "batch");
    CHECK(g->symbols[0].def == 2);
    CHECK_STR(g->symbols[1].name, "seq");
    CHECK(g->symbols[1].def == 4);
    CHECK_STR(g->symbols[2].name, "heads");
    CHECK(g->symbols[2].def == -1);
    CHECK(g->symbols[2].size == -1);

    /* Inputs, in file order, with symbolic and concrete dims. */
    CHECK(g->ninputs == 3);
    const struct ts_value *tokens = value(g, "tokens"), *x = value(g, "x"), *pos = value(g, "pos");
    CHECK(tokens && x && pos);
    CHECK(g->inputs[0] == ts_graph_find_value(g, "tokens"));
    CHECK(g->inputs[1] == ts_graph_find_value(g, "x"));
    CHECK(g->inputs[2] == ts_graph_find_value(g, "pos"));
    CHECK(tokens->kind == TS_VALUE_INPUT && tokens->dtype == TS_I32 && tokens->rank == 2);
    CHECK(tokens->dims[0].sym == 0 && tokens->dims[0].size == -1);
    CHECK(tokens->dims[1].sym == 1 && tokens->dims[1].size == -1);
    CHECK(x->dtype == TS_F16 && x->rank == 4);
    CHECK(x->dims[1].sym == 2);
    CHECK(x->dims[3].sym == -1 && x->dims[3].size == 8);
    CHECK(pos->dtype == TS_I64 && pos->rank == 0 && pos->producer == -1);

    /* Constants: converted to their dtype, row-major. */
    const struct ts_value *half = value(g, "half"), *ids = value(g, "ids"), *big = value(g, "big");
    const struct ts_value *mask = value(g, "mask"), *h16 = value(g, "h16"), *b16 = value(g, "b16");
    const struct ts_value *none = value(g, "none");
    CHECK(half && half->kind == TS_VALUE_CONSTANT && half->dtype == TS_F32 && half->rank == 0);
    CHECK(half && half->nbytes == 4);
    float hf;
    memcpy(&hf, half->data, 4);
    CHECK(hf == 0.5f);
    int32_t iv[4];
    CHECK(ids->nbytes == 16 && ids->rank == 2 && ids->dims[0].size == 2 && ids->dims[1].sym == -1);
    memcpy(iv, ids->data, 16);
    CHECK(iv[0] == 1 && iv[1] == -2 && iv[2] == INT32_MAX && iv[3] == INT32_MIN);
    int64_t bv[2];
    memcpy(bv, big->data, 16);
    CHECK(bv[0] == (INT64_C(1) << 53) - 1 && bv[1] == 1 - (INT64_C(1) << 53)); /* the largest exact integers */
    const unsigned char *mb = mask->data;
    CHECK(mask->nbytes == 3 && mb[0] == 1 && mb[1] == 0 && mb[2] == 1);
    uint16_t hv[2], bfv;
    memcpy(hv, h16->data, 4);
    CHECK(hv[0] == ts_f16_from_f64(0.1) && hv[1] == 0x7BFF); /* 65504: the largest f16 */
    memcpy(&bfv, b16->data, 2);
    CHECK(bfv == 0x3F80); /* 1 + 2^-8 is a tie: rounds to even, 1.0 */
    CHECK(none->nbytes == 0 && none->rank == 2 && none->dims[0].size == 0);

    /* Nodes: in file order, default names "op#index", inputs resolved by name. */
    CHECK(g->nnodes == 11);
    const struct ts_node *mul = &g->nodes[0], *ln = &g->nodes[1], *mm = &g->nodes[2];
    CHECK(mul->op == TS_OP_MUL);
    CHECK_STR(mul->name, "mul#0");
    CHECK(!mul->named);
    CHECK(mul->inputs[0] == ts_graph_find_value(g, "h"));
    CHECK(mul->inputs[1] == ts_graph_find_value(g, "half"));
    CHECK(mul->outputs[0] == ts_graph_find_value(g, "y"));
    CHECK_STR(mm->name, "proj");
    CHECK(mm->named);
    CHECK(value(g, "h")->kind == TS_VALUE_NODE && value(g, "h")->producer == 2);
    CHECK(value(g, "y")->producer == 0);
    CHECK(value(g, "h")->dtype == TS_DTYPE_COUNT && value(g, "h")->rank == -1);
    CHECK_STR(ln->name, "layernorm#1");
    CHECK(ln->ninputs == 3 && ln->inputs[1] == -1 && ln->inputs[2] == ts_graph_find_value(g, "x"));

    /* Attributes: given values, defaults filled, absent optional ones absent. */
    const struct ts_attr *a = ts_node_attr(ln, "eps");
    CHECK(a->present && a->type == TS_ATTR_FLOAT && a->f == 0.001);
    a = ts_node_attr(ln, "axis");
    CHECK(a->present && a->type == TS_ATTR_INT && a->i == -1);
    CHECK(ts_node_attr(mm, "transpose_a")->present && ts_node_attr(mm, "transpose_a")->i == 0);
    CHECK(ts_node_attr(mm, "transpose_b")->present && ts_node_attr(mm, "transpose_b")->i == 1);
    const struct ts_node *rs = &g->nodes[3];
    a = ts_node_attr(rs, "shape");
    CHECK(a->present && a->type == TS_ATTR_DIMS && a->n == 4);
    CHECK(a->dims[0].sym == 0 && a->dims[0].size == -1);
    CHECK(a->dims[1].sym == -1 && a->dims[1].size == -1);
    CHECK(a->dims[2].sym == -1 && a->dims[2].size == 0);
    CHECK(a->dims[3].sym == 1);
    CHECK_STR(ts_node_attr(&g->nodes[4], "approximate")->s, "none");
    CHECK_STR(ts_node_attr(&g->nodes[5], "approximate")->s, "tanh");
    CHECK(ts_node_attr(&g->nodes[6], "to")->dtype == TS_BF16 && ts_node_attr(&g->nodes[6], "to")->present);
    a = ts_node_attr(&g->nodes[7], "axes");
    CHECK(a->present && a->n == 2 && a->ints[0] == -1 && a->ints[1] == 0);
    CHECK(ts_node_attr(&g->nodes[7], "keepdims")->i == 1);
    const struct ts_node *sp = &g->nodes[8];
    CHECK(sp->noutputs == 2 && sp->outputs[1] == ts_graph_find_value(g, "s2"));
    CHECK(value(g, "s2")->producer == 8);
    const struct ts_node *att = &g->nodes[9];
    CHECK(att->ninputs == 3 && ts_node_attr(att, "causal")->i == 1);
    CHECK(!ts_node_attr(att, "scale")->present);
    CHECK(g->nodes[10].ninputs == 3 && ts_node_attr(&g->nodes[10], "axis")->i == -1);

    /* Graph outputs, in file order (a graph input may be one). */
    CHECK(g->noutputs == 3);
    CHECK(g->outputs[0] == ts_graph_find_value(g, "y"));
    CHECK(g->outputs[1] == ts_graph_find_value(g, "cc"));
    CHECK(g->outputs[2] == ts_graph_find_value(g, "tokens"));
    ts_graph_free(g);
}

static void test_defaults(void) {
    struct ts_graph *g = NULL;
    struct ts_diag d;
    char *text = q(HEAD X_IN "'outputs': ['x']}");
    ts_diag_clear(&d);
    CHECK(ts_graph_parse(text, strlen(text), "models/tiny-gpt.json", "models", false, &g, &d) == TS_OK);
    CHECK(g && strcmp(g->name, "tiny-gpt") == 0);
    CHECK(g && g->nnodes == 0 && g->nsymbols == 0 && g->noutputs == 1);
    ts_graph_free(g);
    /* A byte-order mark and surrounding whitespace are fine. */
    g = NULL;
    char with_bom[256];
    snprintf(with_bom, sizeof with_bom, "\xEF\xBB\xBF\n  %s \n\n", text);
    CHECK(ts_graph_parse(with_bom, strlen(with_bom), "g", ".", false, &g, &d) == TS_OK);
    CHECK(g && strcmp(g->name, "g") == 0);
    ts_graph_free(g);
    free(text);
}

/* ---- malformed graphs: the exact message of each -------------------------- */

struct error_case {
    const char *graph; /* ' stands for " */
    const char *message;
};

static const struct error_case syntax_cases[] = {
    {"", "t.json: the file is empty: expected a JSON object"},
    {" \n\t", "t.json: the file holds no JSON value: expected a JSON object"},
    {"{'format': 'tessera.graph',\n 'version': 1 'nodes': []}",
     "t.json: line 2, column 15: invalid JSON: expected ',' or '}' after an object member, got '\"'"},
    {"{'format': 'tessera.graph', 'version': 1, 'outputs': ['x',]}",
     "t.json: line 1, column 59: invalid JSON: expected a value (object, array, string, number, true, false or "
     "null), got ']'"},
    {"{'a': tru}", "t.json: line 1, column 7: invalid JSON: expected a value (object, array, string, number, "
                   "true, false or null), got 'tru'"},
    {"{'format': 'tessera.graph', 've", "t.json: line 1, column 32: the file ends early (truncated?): expected "
                                        "the closing '\"' of a string"},
    {"{'format': 'tessera.graph', 'version': 1,\n", "t.json: line 2, column 1: the file ends early (truncated?): "
                                                   "expected a string naming an object member"},
    {"{'a': 'b\\q'}", "t.json: line 1, column 9: invalid JSON: expected a valid escape (\\\" \\\\ \\/ \\b \\f \\n "
                      "\\r \\t \\uXXXX) in the string, got '\\q'"},
    {"{'a' 1}", "t.json: line 1, column 6: invalid JSON: expected ':' after an object member's name, got '1'"},
    {"{'a': 1} {}", "t.json: line 1, column 10: invalid JSON: text after the end of the top-level value"},
    {"{'a': [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]}",
     "t.json: line 1, column 1006: invalid JSON: arrays and objects nested more than 1000 deep"},
    {"{'é': x}", "t.json: line 1, column 7: invalid JSON: expected a value (object, array, string, number, true, "
                 "false or null), got 'x'"},
};

static const struct error_case top_cases[] = {
    {"[1, 2]", "t.json: the top level must be a JSON object, got an array"},
    {"{'version': 1, 'outputs': ['x']}",
     "t.json: missing required field 'format' (a tessera graph has \"format\": \"tessera.graph\")"},
    {"{'format': 'onnx', 'version': 1}", "t.json: format: expected \"tessera.graph\", got the string \"onnx\""},
    {"{'format': 'tessera.graph'}", "t.json: missing required field 'version' (expected \"version\": 1)"},
    {"{'format': 'tessera.graph', 'version': 2, 'future': true}",
     "t.json: version: version 2 is not supported: this tessera reads version 1"},
    {"{'format': 'tessera.graph', 'version': '1'}", "t.json: version: expected the number 1, got the string \"1\""},
    {HEAD "'attr': {}, 'outputs': ['x']}", "t.json: unknown top-level field 'attr' (expected format, version, "
                                           "name, metadata, weights, symbols, inputs, constants, nodes, outputs)"},
    {HEAD "'name': 'a', 'name': 'b'}", "t.json: field 'name' is given twice"},
    {HEAD "'name': 7, 'outputs': ['x']}",
     "t.json: name: the graph name must be a non-empty UTF-8 string without control characters, got the number 7"},
    {HEAD "'nodes': []}", "t.json: missing required field 'outputs' (a non-empty array of value names)"},
    {HEAD X_IN "'outputs': []}", "t.json: outputs: expected a non-empty array of value names, got an empty array"},
    {HEAD X_IN "'outputs': ['x', 'z']}",
     "t.json: outputs[1]: 'z' is not defined (no input, weight, constant or node output has that name)"},
    {HEAD X_IN "'outputs': ['x', 'x']}", "t.json: outputs[1]: 'x' is listed twice"},
    {HEAD X_IN "'outputs': [3]}", "t.json: outputs[0]: expected a value name, got the number 3"},
    {HEAD "'weights': 'w.safetensors', 'outputs': ['x']}", "t.json: weights: weights are not loaded here"},
};

static const struct error_case value_cases[] = {
    {HEAD "'inputs': {'x': 1}, 'outputs': ['x']}", "t.json: inputs: expected an array of inputs, got an object"},
    {HEAD "'inputs': [{'name': 'x', 'shape': [1]}], 'outputs': ['x']}",
     "t.json: inputs[0]: missing required field 'dtype'"},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [1], 'dims': 1}], 'outputs': ['x']}",
     "t.json: inputs[0]: unknown field 'dims' (expected name, dtype, shape)"},
    {HEAD "'inputs': [{'name': '', 'dtype': 'f32', 'shape': [1]}], 'outputs': ['x']}",
     "t.json: inputs[0].name: the name must be a non-empty UTF-8 string without control characters, got the string \"\""},
    {HEAD "'inputs': [{'name': 'x\\n', 'dtype': 'f32', 'shape': [1]}], 'outputs': ['x']}",
     "t.json: inputs[0].name: the name must be a non-empty UTF-8 string without control characters, got the string "
     "\"x?\""},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f64', 'shape': [1]}], 'outputs': ['x']}",
     "t.json: inputs[0].dtype: expected a dtype name (f32, f16, bf16, i32, i64 or bool), got the string \"f64\""},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [2, -3]}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[1]: expected a non-negative integer or a symbol name, got the number -3"},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [2.5]}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[0]: expected a non-negative integer or a symbol name, got the number 2.5"},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [1e16]}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[0]: expected a non-negative integer or a symbol name, got the number 1e+16 "
     "(integers must be smaller than 2^53 in magnitude to be exact in JSON)"},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [1,1,1,1,1,1,1,1,1]}], 'outputs': ['x']}",
     "t.json: inputs[0].shape: has 9 dims; at most 8 are supported"},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': 3}], 'outputs': ['x']}",
     "t.json: inputs[0].shape: expected an array of dims, got the number 3"},
    {HEAD "'symbols': {'seq': 0}, 'outputs': []}",
     "t.json: symbols.seq: the default size must be a positive integer, got the number 0"},
    {HEAD "'symbols': ['seq'], 'outputs': []}",
     "t.json: symbols: expected an object mapping symbol names to default sizes, got an array"},
    {HEAD "'symbols': {'seq': 1, 'seq': 2}, 'outputs': []}", "t.json: symbols: symbol 'seq' is given twice"},
    {HEAD X_IN "'constants': [{'name': 'x', 'dtype': 'f32', 'shape': [], 'data': [1]}], 'outputs': ['x']}",
     "t.json: constants[0]: value 'x' is already defined (as an input)"},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'f32', 'shape': [2, 2], 'data': [1, 2, 3]}], 'outputs': ['c']}",
     "t.json: constants[0].data: has 3 elements; shape [2, 2] needs 4"},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'f32', 'shape': [], 'data': 1}], 'outputs': ['c']}",
     "t.json: constants[0].data: expected an array of numbers in row-major order, got the number 1"},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'i32', 'shape': [2], 'data': [1, 2147483648]}], 'outputs': ['c']}",
     "t.json: constants[0].data[1]: 2147483648 is out of range for i32 (-2147483648 to 2147483647)"},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'i64', 'shape': [1], 'data': [0.5]}], 'outputs': ['c']}",
     "t.json: constants[0].data[0]: expected an integer for i64 data, got the number 0.5"},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'i64', 'shape': [1], 'data': [9007199254740994]}], 'outputs': ['c']}",
     "t.json: constants[0].data[0]: expected an integer for i64 data, got the number 9007199254740994 (integers "
     "must be smaller than 2^53 in magnitude to be exact in JSON)"},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'f16', 'shape': [1], 'data': [70000]}], 'outputs': ['c']}",
     "t.json: constants[0].data[0]: 70000 is out of range for f16 (it would be infinite)"},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'f32', 'shape': [1], 'data': [1e999]}], 'outputs': ['c']}",
     "t.json: constants[0].data[0]: expected a finite number for f32 data, got the number 1e999 (beyond a "
     "double's range)"},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'bool', 'shape': [1], 'data': [1]}], 'outputs': ['c']}",
     "t.json: constants[0].data[0]: expected true or false for bool data, got the number 1"},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'f32', 'shape': ['n'], 'data': [1]}], 'outputs': ['c']}",
     "t.json: constants[0].shape[0]: expected a non-negative integer (constants have concrete shapes), got the "
     "string \"n\""},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'f32', 'shape': [4294967296, 4294967296, 0], 'data': []}], "
          "'outputs': ['c']}",
     "t.json: constants[0].shape: the size of f32 [4294967296, 4294967296, 0] in bytes overflows 64 bits"},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'f32', 'shape': [1]}], 'outputs': ['c']}",
     "t.json: constants[0]: missing required field 'data'"},
};

static const struct error_case node_cases[] = {
    {WITH_NODES("{'op': 'relu', 'inputs': ['x'], 'outputs': ['x']}"),
     "t.json: node 'relu#0': output 'x' is already defined (as an input)"},
    {WITH_NODES("{'op': 'relu', 'inputs': ['x'], 'outputs': ['y']}, {'op': 'exp', 'inputs': ['x'], 'outputs': "
                "['y']}"),
     "t.json: node 'exp#1': output 'y' is already defined (as the output of node 'relu#0')"},
    {WITH_NODES("{'op': 'split', 'name': 'sp', 'inputs': ['x'], 'outputs': ['y', 'y'], 'attrs': {'axis': 0, "
                "'sizes': [1, 1]}}"),
     "t.json: node 'sp' (split): output 'y' is already defined (as the output of node 'sp')"},
    {WITH_NODES("{'op': 'relu', 'inputs': ['q'], 'outputs': ['y']}"),
     "t.json: node 'relu#0': input 'q' is not defined (no input, weight, constant or node output has that name)"},
    {WITH_NODES("{'op': 'matmull', 'inputs': ['x', 'x'], 'outputs': ['y']}"),
     "t.json: nodes[0]: unknown op 'matmull' (did you mean 'matmul'?)"},
    {WITH_NODES("{'op': 'conv2d', 'name': 'c1', 'inputs': ['x'], 'outputs': ['y']}"),
     "t.json: nodes[0]: node 'c1': unknown op 'conv2d'"},
    {WITH_NODES("{'inputs': ['x'], 'outputs': ['y']}"), "t.json: nodes[0]: missing required field 'op'"},
    {WITH_NODES("{'op': 1, 'inputs': ['x'], 'outputs': ['y']}"),
     "t.json: nodes[0]: \"op\" must be an op name (a string), got the number 1"},
    {WITH_NODES("['relu']"), "t.json: nodes[0]: expected an object with op, inputs and outputs, got an array"},
    {WITH_NODES("{'op': 'relu', 'inputs': ['x'], 'outputs': ['y'], 'attr': {}}"),
     "t.json: node 'relu#0': unknown field 'attr' (expected op, name, inputs, outputs, attrs)"},
    {WITH_NODES("{'op': 'relu', 'inputs': 'x', 'outputs': ['y']}"),
     "t.json: node 'relu#0': \"inputs\" must be an array of value names, got the string \"x\""},
    {WITH_NODES("{'op': 'relu', 'inputs': [1], 'outputs': ['y']}"),
     "t.json: node 'relu#0': input 0 must be a value name (a string; \"\" omits an optional input), got the number 1"},
    {WITH_NODES("{'op': 'relu', 'inputs': ['x']}"), "t.json: node 'relu#0': missing required field 'outputs'"},
    {WITH_NODES("{'op': 'attention', 'inputs': ['x', 'x'], 'outputs': ['y']}"),
     "t.json: node 'attention#0': attention takes 3 to 4 inputs, got 2"},
    {WITH_NODES("{'op': 'matmul', 'inputs': ['x', 'x'], 'outputs': ['y', 'z']}"),
     "t.json: node 'matmul#0': matmul gives 1 output, got 2"},
    {WITH_NODES("{'op': 'concat', 'inputs': [], 'outputs': ['y'], 'attrs': {'axis': 0}}"),
     "t.json: node 'concat#0': concat takes at least 1 input, got 0"},
    {WITH_NODES("{'op': 'matmul', 'inputs': ['', 'x'], 'outputs': ['y']}"),
     "t.json: node 'matmul#0': input 0 of matmul cannot be omitted (\"\" is only for optional inputs)"},
    {WITH_NODES("{'op': 'relu', 'inputs': ['x'], 'outputs': ['']}"),
     "t.json: node 'relu#0': output 0 must be a non-empty UTF-8 string without control characters, got the string \"\""},
    {WITH_NODES("{'op': 'relu', 'name': 'a', 'inputs': ['x'], 'outputs': ['z']}, {'op': 'exp', 'name': 'a', "
                "'inputs': ['x'], 'outputs': ['y']}"),
     "t.json: node 'a' (exp): the node name is also used by nodes[0]"},
    {WITH_NODES("{'op': 'relu', 'name': '', 'inputs': ['x'], 'outputs': ['y']}"),
     "t.json: nodes[0]: \"name\" must be a non-empty UTF-8 string without control characters, got the string \"\""},
};

static const struct error_case attr_cases[] = {
    {WITH_NODES(NODE("matmul", "['x', 'x']", "{'transpose_b': 1}")),
     "t.json: node 'matmul#0': attribute 'transpose_b' must be a boolean (true or false), got the number 1"},
    {WITH_NODES(NODE("matmul", "['x', 'x']", "{'transpose': true}")),
     "t.json: node 'matmul#0': unknown attribute 'transpose' (matmul accepts transpose_a, transpose_b)"},
    {WITH_NODES(NODE("relu", "['x']", "{'axis': 0}")),
     "t.json: node 'relu#0': unknown attribute 'axis' (relu takes no attributes)"},
    {WITH_NODES(NODE("softmax", "['x']", "{'axis': 1.5}")),
     "t.json: node 'softmax#0': attribute 'axis' must be an integer, got the number 1.5"},
    {WITH_NODES(NODE("softmax", "['x']", "{'axis': 1e300}")),
     "t.json: node 'softmax#0': attribute 'axis' must be an integer, got the number 1e+300 (integers must be "
     "smaller than 2^53 in magnitude to be exact in JSON)"},
    {WITH_NODES(NODE("softmax", "['x']", "{'axis': 0, 'axis': 1}")),
     "t.json: node 'softmax#0': attribute 'axis' is given twice"},
    {WITH_NODES(NODE("transpose", "['x']", "{}")),
     "t.json: node 'transpose#0': missing required attribute 'perm' (an array of integers)"},
    {WITH_NODES(NODE("transpose", "['x']", "{'perm': [1, 0.5]}")),
     "t.json: node 'transpose#0': attribute 'perm': element 1 must be an integer, got the number 0.5"},
    {WITH_NODES(NODE("transpose", "['x']", "{'perm': 1}")),
     "t.json: node 'transpose#0': attribute 'perm' must be an array of integers, got the number 1"},
    {WITH_NODES(NODE("gelu", "['x']", "{'approximate': 'fast'}")),
     "t.json: node 'gelu#0': attribute 'approximate' must be \"none\" or \"tanh\", got the string \"fast\""},
    {WITH_NODES(NODE("cast", "['x']", "{'to': 'float32'}")),
     "t.json: node 'cast#0': attribute 'to' must be a dtype name (f32, f16, bf16, i32, i64 or bool), got the "
     "string \"float32\""},
    {WITH_NODES(NODE("layernorm", "['x']", "{'eps': '1e-5'}")),
     "t.json: node 'layernorm#0': attribute 'eps' must be a number, got the string \"1e-5\""},
    {WITH_NODES(NODE("reshape", "['x']", "{'shape': ['seq', 3]}")),
     "t.json: node 'reshape#0': attribute 'shape': element 0 names the unknown symbol 'seq' (a symbol must be "
     "declared in \"symbols\" or used in an input's shape)"},
    {WITH_NODES(NODE("reshape", "['x']", "{'shape': [-1, -1]}")),
     "t.json: node 'reshape#0': attribute 'shape' has -1 at elements 0 and 1; at most one dim may be inferred"},
    {WITH_NODES(NODE("reshape", "['x']", "{'shape': [6, -2]}")),
     "t.json: node 'reshape#0': attribute 'shape': element 1 must be an integer >= -1 or a symbol name, got the "
     "number -2"},
    {WITH_NODES("{'op': 'relu', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], 'attrs': []}"),
     "t.json: node 'r' (relu): \"attrs\" must be an object, got an empty array"},
};

/* Integers read exactly: JSON numbers are doubles, and from 2^53 on a double
 * no longer tells neighbours apart (2^53 + 1 reads as 2^53). */
#define INT_RULE "(integers must be smaller than 2^53 in magnitude to be exact in JSON)"
static const struct error_case int_cases[] = {
    {HEAD "'constants': [{'name': 'c', 'dtype': 'i64', 'shape': [1], 'data': [9007199254740993]}], 'outputs': ['c']}",
     "t.json: constants[0].data[0]: expected an integer for i64 data, got the number 9007199254740992 " INT_RULE},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'i64', 'shape': [1], 'data': [-9007199254740992]}], 'outputs': ['c']}",
     "t.json: constants[0].data[0]: expected an integer for i64 data, got the number -9007199254740992 " INT_RULE},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [0, 9007199254740992]}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[1]: expected a non-negative integer or a symbol name, got the number "
     "9007199254740992 " INT_RULE},
    {HEAD "'constants': [{'name': 'c', 'dtype': 'f32', 'shape': [9007199254740993, 0], 'data': []}], 'outputs': ['c']}",
     "t.json: constants[0].shape[0]: expected a non-negative integer (constants have concrete shapes), got the "
     "number 9007199254740992 " INT_RULE},
    {HEAD "'symbols': {'n': 9007199254740993}, 'outputs': []}",
     "t.json: symbols.n: the default size must be a positive integer, got the number 9007199254740992 " INT_RULE},
    {WITH_NODES(NODE("softmax", "['x']", "{'axis': -9007199254740993}")),
     "t.json: node 'softmax#0': attribute 'axis' must be an integer, got the number -9007199254740992 " INT_RULE},
    {WITH_NODES(NODE("transpose", "['x']", "{'perm': [1, 9007199254740992]}")),
     "t.json: node 'transpose#0': attribute 'perm': element 1 must be an integer, got the number "
     "9007199254740992 " INT_RULE},
    {WITH_NODES(NODE("reshape", "['x']", "{'shape': [9007199254740993, -1]}")),
     "t.json: node 'reshape#0': attribute 'shape': element 0 must be an integer >= -1 or a symbol name, got the "
     "number 9007199254740992 " INT_RULE},
    {"{'format': 'tessera.graph', 'version': 9007199254740993}",
     "t.json: version: expected the number 1, got the number 9007199254740992"},
};

/* NULs: cJSON would cut "a\u0000b" to "a"; raw NUL bytes are in tests below. */
static const struct error_case nul_cases[] = {
    {HEAD "'inputs': [{'name': 'a\\u0000b', 'dtype': 'f32', 'shape': [1]}], 'outputs': ['a']}",
     "t.json: line 1, column 65: \\u0000 (a NUL character) is not allowed in a string"},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [1]}],\n 'outputs': ['x'], 'nam\\u0000e': 1}",
     "t.json: line 2, column 24: \\u0000 (a NUL character) is not allowed in a string"},
    /* Everywhere, metadata included: a graph file never holds a NUL. */
    {HEAD "'metadata': {'note': '\\\\\\u0000'}, 'outputs': ['x']}",
     "t.json: line 1, column 67: \\u0000 (a NUL character) is not allowed in a string"},
    /* The first fault in the text wins: a syntax error before the NUL. */
    {HEAD "'outputs': ['x',], 'x': '\\u0000'}",
     "t.json: line 1, column 59: invalid JSON: expected a value (object, array, string, number, true, false or "
     "null), got ']'"},
};

/* Names are UTF-8: they end up in safetensors headers, which must be. */
static const struct error_case utf8_cases[] = {
    {HEAD "'inputs': [{'name': 'bad\xff', 'dtype': 'f32', 'shape': [1]}], 'outputs': ['x']}",
     "t.json: inputs[0].name: the name must be a non-empty UTF-8 string without control characters, got the string "
     "\"bad\\xFF\""},
    {HEAD "'inputs': [{'name': 'x\xc3(', 'dtype': 'f32', 'shape': [1]}], 'outputs': ['x']}",
     "t.json: inputs[0].name: the name must be a non-empty UTF-8 string without control characters, got the string "
     "\"x\\xC3(\""},
    /* An overlong '/' and a UTF-16 surrogate written as UTF-8. */
    {HEAD "'constants': [{'name': '\xc0\xaf', 'dtype': 'f32', 'shape': [], 'data': [1]}], 'outputs': ['x']}",
     "t.json: constants[0].name: the name must be a non-empty UTF-8 string without control characters, got the "
     "string \"\\xC0\\xAF\""},
    {WITH_NODES("{'op': 'relu', 'inputs': ['x'], 'outputs': ['\xed\xa0\x80']}"),
     "t.json: node 'relu#0': output 0 must be a non-empty UTF-8 string without control characters, got the string "
     "\"\\xED\\xA0\\x80\""},
    {WITH_NODES("{'op': 'relu', 'name': 'r\xfe', 'inputs': ['x'], 'outputs': ['y']}"),
     "t.json: nodes[0]: \"name\" must be a non-empty UTF-8 string without control characters, got the string "
     "\"r\\xFE\""},
    {HEAD "'name': '\xf5\x80\x80\x80', 'outputs': ['x']}",
     "t.json: name: the graph name must be a non-empty UTF-8 string without control characters, got the string "
     "\"\\xF5\\x80\\x80\\x80\""},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': ['s\xff']}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[0]: a symbol name must be a non-empty UTF-8 string without control characters or '=' "
     "that does not start with a digit (--bind takes SYMBOL=N), got the string \"s\\xFF\""},
    {HEAD "'symbols': {'\xff': 2}, 'outputs': ['x']}",
     "t.json: symbols: a symbol name must be a non-empty UTF-8 string without control characters or '=' that does "
     "not start with a digit (--bind takes SYMBOL=N), got \"\\xFF\""},
    /* A name is quoted whole or cut between characters, never inside one. */
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [1]}], "
          "'outputs': ['\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x\xc3\xa9\xc3\xa9']}",
     "t.json: outputs[0]: '\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x\xc3\xa9...' is not defined "
     "(no input, weight, constant or node output has that name)"},
};

/* A dim or symbol that reads as a number is a mistake, not a symbol. */
#define SYMBOL_RULE                                                                                           \
    "a symbol name must be a non-empty UTF-8 string without control characters or '=' that does not start " \
    "with a digit (--bind takes SYMBOL=N)"
static const struct error_case symbol_cases[] = {
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': ['2', 3]}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[0]: \"2\" is a string: write the number 2 for a fixed size, or a symbol name"},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': [3, '-1']}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[1]: \"-1\" is a string: write the number -1 for a fixed size, or a symbol name"},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': ['007']}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[0]: \"007\" is a string: write the number 7 for a fixed size, or a symbol name"},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': ['123456789012345678901234']}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[0]: \"123456789012345678901234\" is a string: write the number "
     "123456789012345678901234 for a fixed size, or a symbol name"},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': ['2x']}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[0]: " SYMBOL_RULE ", got the string \"2x\""},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': ['seq=4']}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[0]: " SYMBOL_RULE ", got the string \"seq=4\""},
    {HEAD "'inputs': [{'name': 'x', 'dtype': 'f32', 'shape': ['']}], 'outputs': ['x']}",
     "t.json: inputs[0].shape[0]: " SYMBOL_RULE ", got the string \"\""},
    {HEAD "'symbols': {'seq': 4, '1st': 2}, 'outputs': ['x']}", "t.json: symbols: " SYMBOL_RULE ", got \"1st\""},
    {HEAD "'symbols': {'a=b': 2}, 'outputs': ['x']}", "t.json: symbols: " SYMBOL_RULE ", got \"a=b\""},
    {HEAD "'symbols': {'8': 2}, 'outputs': ['x']}", "t.json: symbols: " SYMBOL_RULE ", got \"8\""},
    {WITH_NODES(NODE("reshape", "['x']", "{'shape': ['6']}")),
     "t.json: node 'reshape#0': attribute 'shape': element 0 is the string \"6\": write the number 6 for a fixed "
     "size, or a symbol name"},
};

/* "metadata" is the exporter's own: an object, whatever it holds. */
static const struct error_case metadata_cases[] = {
    {HEAD "'metadata': 'made by x', 'outputs': ['x']}",
     "t.json: metadata: expected an object (its contents are free-form and ignored), got the string \"made by x\""},
    {HEAD "'metadata': [], 'outputs': ['x']}",
     "t.json: metadata: expected an object (its contents are free-form and ignored), got an empty array"},
    {HEAD "'metadata': {}, 'metadata': {}, 'outputs': ['x']}", "t.json: field 'metadata' is given twice"},
    {HEAD "'metadata': {}, 'meta': {}, 'outputs': ['x']}",
     "t.json: unknown top-level field 'meta' (expected format, version, name, metadata, weights, symbols, inputs, "
     "constants, nodes, outputs)"},
};

static void check_cases(const struct error_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char *graph = q(cases[i].graph);
        const char *got = error_of(cases[i].graph);
        if (strcmp(got, cases[i].message) != 0) fprintf(stderr, "  graph: %s\n", graph);
        CHECK_STR(got, cases[i].message);
        free(graph);
    }
}

#define CHECK_CASES(cases) check_cases(cases, sizeof(cases) / sizeof((cases)[0]))

/* What the rules still let through: the largest exact integers, UTF-8
 * names, symbols with digits after the first character, a backslash before
 * "u0000", and metadata of any content. */
static void test_accepted(void) {
    struct ts_graph *g = NULL;
    struct ts_diag d;
    CHECK(parse(HEAD "'name': 'mod\xc3\xa8le \xe2\x86\x92 \xf0\x9f\x99\x82', "
                     "'metadata': {'exporter': {'name': 'x', 'version': [1, 2]}, 'n': 1e300, 'big': 9007199254740993,"
                     " 'none': null, 'ok': true, 'nested': [[{}], 'a\\\\u0000']},"
                     "'symbols': {'seq2': 3, '_': 1},"
                     "'inputs': [{'name': '\xce\xb1', 'dtype': 'f32', 'shape': ['seq2', '_', 9007199254740991]}],"
                     "'constants': [{'name': 'a\\\\u0000b', 'dtype': 'i64', 'shape': [2],"
                     "               'data': [9007199254740991, -9007199254740991]}],"
                     "'nodes': [{'op': 'reshape', 'inputs': ['\xce\xb1'], 'outputs': ['y'], "
                     "           'attrs': {'shape': ['seq2', -1, 9007199254740991]}}],"
                     "'outputs': ['y', 'a\\\\u0000b']}",
                &g, &d) == TS_OK);
    if (g) {
        CHECK_STR(g->name, "mod\xc3\xa8le \xe2\x86\x92 \xf0\x9f\x99\x82");
        CHECK(g->nsymbols == 2);
        CHECK_STR(g->symbols[0].name, "seq2");
        const struct ts_value *in = value(g, "\xce\xb1"), *c = value(g, "a\\u0000b");
        CHECK(in && in->rank == 3 && in->dims[2].size == (INT64_C(1) << 53) - 1);
        int64_t cv[2] = {0, 0};
        if (c) memcpy(cv, c->data, sizeof cv);
        CHECK(c && cv[0] == (INT64_C(1) << 53) - 1 && cv[1] == 1 - (INT64_C(1) << 53));
        const struct ts_attr *a = ts_node_attr(&g->nodes[0], "shape");
        CHECK(a->n == 3 && a->dims[2].size == (INT64_C(1) << 53) - 1);
    } else {
        char msg[1400];
        ts_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "test_accepted: %s\n", msg);
    }
    ts_graph_free(g);
}

/* Raw NUL bytes (which a C string literal cannot hold past its end): refused
 * wherever they are, with the line and column. */
static void test_raw_nul(void) {
    static const struct {
        const char *before, *after; /* the text is before, a NUL byte, after */
        const char *message;
    } cases[] = {
        /* In a key, cJSON would read "outputs" and then miss the field. */
        {HEAD X_IN "'outputs", "': ['x']}", "t.json: line 1, column 111: "},
        {HEAD X_IN "'outputs': ['x'", "]}", "t.json: line 1, column 118: "},
        {HEAD X_IN "'outputs': ['x']}\n", "", "t.json: line 2, column 1: "},
        {"\n\n", HEAD X_IN "'outputs': ['x']}", "t.json: line 3, column 1: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *before = q(cases[i].before), *after = q(cases[i].after);
        size_t nb = strlen(before), na = strlen(after);
        char *text = malloc(nb + 1 + na);
        memcpy(text, before, nb);
        text[nb] = '\0';
        memcpy(text + nb + 1, after, na);
        struct ts_graph *g = NULL;
        struct ts_diag d;
        ts_diag_clear(&d);
        CHECK(ts_graph_parse(text, nb + 1 + na, "t.json", ".", false, &g, &d) == TS_ERR_PARSE && !g);
        char msg[1400], want[256];
        ts_diag_format(&d, msg, sizeof msg);
        snprintf(want, sizeof want, "%sinvalid JSON: a NUL byte (0x00) is not allowed in JSON text", cases[i].message);
        CHECK_STR(msg, want);
        ts_graph_free(g);
        free(text);
        free(before);
        free(after);
    }
}

/* ---- files: ts_graph_load and weights beside the graph ------------------- */

static char tmpdir[64];

static void write_text(const char *path, const char *quoted) {
    char *text = q(quoted);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    free(text);
}

static void test_load(void) {
    char path[128], wpath[128], msg[1400];
    struct ts_graph *g = NULL;
    struct ts_diag d;

    /* Weights: each tensor a value viewed in place, with the file's dtype and shape. */
    struct ts_tensor w[2];
    int64_t dims0[2] = {2, 3}, dims1[1] = {4};
    ts_diag_clear(&d);
    CHECK(ts_tensor_alloc(&w[0], TS_F32, 2, dims0, "w0", &d) == TS_OK);
    CHECK(ts_tensor_alloc(&w[1], TS_I64, 1, dims1, "w1", &d) == TS_OK);
    for (int i = 0; i < 6; i++) ts_tensor_set_f64(&w[0], i, i * 1.5 - 2);
    for (int i = 0; i < 4; i++) ts_tensor_set_i64(&w[1], i, (INT64_C(1) << 60) + i);
    const char *names[2] = {"wte", "ln.bias"};
    snprintf(wpath, sizeof wpath, "%s/w.safetensors", tmpdir);
    CHECK(ts_safetensors_write(wpath, 2, names, w, &d) == TS_OK);
    snprintf(path, sizeof path, "%s/model.json", tmpdir);
    write_text(path, HEAD "'weights': 'w.safetensors', 'nodes': [{'op': 'add', 'inputs': ['wte', 'wte'], "
                          "'outputs': ['y']}], 'outputs': ['y', 'ln.bias']}");
    CHECK(ts_graph_load(path, &g, &d) == TS_OK);
    if (g) {
        const struct ts_value *wte = value(g, "wte"), *bias = value(g, "ln.bias");
        CHECK_STR(g->name, "model");
        CHECK(wte && wte->kind == TS_VALUE_WEIGHT && wte->dtype == TS_F32 && wte->rank == 2);
        CHECK(wte && wte->dims[0].size == 2 && wte->dims[1].size == 3 && wte->dims[1].sym == -1);
        CHECK(wte && wte->nbytes == 24 && memcmp(wte->data, w[0].data, 24) == 0);
        CHECK(bias && bias->kind == TS_VALUE_WEIGHT && bias->dtype == TS_I64 && bias->nbytes == 32);
        CHECK(bias && memcmp(bias->data, w[1].data, 32) == 0);
        CHECK(g->noutputs == 2 && g->nodes[0].inputs[1] == ts_graph_find_value(g, "wte"));
    }
    ts_graph_free(g);
    g = NULL;

    /* A weight named like an input is defined twice. */
    write_text(path, HEAD "'weights': 'w.safetensors', 'inputs': [{'name': 'wte', 'dtype': 'f32', 'shape': [1]}],"
                          "'outputs': ['wte']}");
    ts_diag_clear(&d);
    CHECK(ts_graph_load(path, &g, &d) == TS_ERR_GRAPH && !g);
    ts_diag_format(&d, msg, sizeof msg);
    char want[512];
    snprintf(want, sizeof want, "%s: weights: weights tensor 'wte' is already defined (as an input)", path);
    CHECK_STR(msg, want);

    /* Files that cannot be read. */
    snprintf(path, sizeof path, "%s/missing.json", tmpdir);
    ts_diag_clear(&d);
    CHECK(ts_graph_load(path, &g, &d) == TS_ERR_IO && !g);
    ts_diag_format(&d, msg, sizeof msg);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    CHECK_STR(msg, want);
    ts_diag_clear(&d);
    CHECK(ts_graph_load(tmpdir, &g, &d) == TS_ERR_IO && !g);
    ts_diag_format(&d, msg, sizeof msg);
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", tmpdir);
    CHECK_STR(msg, want);

    /* A weights tensor whose name is not UTF-8 (the reader takes any bytes;
     * a value name must be UTF-8). Written by hand: the writer refuses it. */
    {
        const char hdr[] = "{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
        size_t hl = (sizeof hdr - 1 + 7) / 8 * 8;
        unsigned char file[128] = {(unsigned char)hl};
        memset(file + 8, ' ', hl);
        memcpy(file + 8, hdr, sizeof hdr - 1);
        memset(file + 8 + hl, 0, 4);
        FILE *f = fopen(wpath, "wb");
        fwrite(file, 1, 8 + hl + 4, f);
        fclose(f);
        snprintf(path, sizeof path, "%s/model.json", tmpdir);
        write_text(path, HEAD "'weights': 'w.safetensors', 'outputs': ['x']}");
        ts_diag_clear(&d);
        CHECK(ts_graph_load(path, &g, &d) == TS_ERR_GRAPH && !g);
        ts_diag_format(&d, msg, sizeof msg);
        snprintf(want, sizeof want,
                 "%s: weights: tensor 0 of %s is named \"w\\xFF\": a value name must be a non-empty UTF-8 string "
                 "without control characters",
                 path, wpath);
        CHECK_STR(msg, want);
    }

    /* An empty file. */
    snprintf(path, sizeof path, "%s/empty.json", tmpdir);
    write_text(path, "");
    ts_diag_clear(&d);
    CHECK(ts_graph_load(path, &g, &d) == TS_ERR_PARSE && !g);
    ts_diag_format(&d, msg, sizeof msg);
    snprintf(want, sizeof want, "%s: the file is empty: expected a JSON object", path);
    CHECK_STR(msg, want);

    ts_tensor_release(&w[0]);
    ts_tensor_release(&w[1]);
    unlink(wpath);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.json", tmpdir);
    unlink(path);
}

/* Memory passed in is read within len: no NUL needed, nothing past the end. */
static void test_unterminated_buffer(void) {
    char *text = q(HEAD X_IN "'outputs': ['x']}");
    size_t len = strlen(text);
    char *exact = malloc(len);
    memcpy(exact, text, len);
    struct ts_graph *g = NULL;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_graph_parse(exact, len, "t.json", ".", false, &g, &d) == TS_OK);
    ts_graph_free(g);
    g = NULL;
    /* The same bytes cut short: truncated, whatever follows in memory. */
    CHECK(ts_graph_parse(exact, len - 3, "t.json", ".", false, &g, &d) == TS_ERR_PARSE && !g);
    free(exact);
    free(text);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ts_graph_json_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_full_graph();
    test_defaults();
    CHECK_CASES(syntax_cases);
    CHECK_CASES(top_cases);
    CHECK_CASES(value_cases);
    CHECK_CASES(node_cases);
    CHECK_CASES(attr_cases);
    CHECK_CASES(int_cases);
    CHECK_CASES(nul_cases);
    CHECK_CASES(utf8_cases);
    CHECK_CASES(symbol_cases);
    CHECK_CASES(metadata_cases);
    test_accepted();
    test_raw_nul();
    test_load();
    test_unterminated_buffer();
    rmdir(tmpdir);
    return ts_test_finish("test_graph_json");
}
