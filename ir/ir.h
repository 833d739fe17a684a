/* ir.h — the one public header of ir/: status and diagnostics, the arena,
 * dtypes, host tensors, the graph IR, the op table, the verifier, the printer
 * and the reference interpreter. ir/ depends on libc alone.
 *
 * Grouped by defining file, the way QBE keeps its interface in one header. */
#ifndef TESSERA_IR_H
#define TESSERA_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TS_VERSION "0.1.0"
#define TS_MAX_RANK 8    /* the most dims a value may have */
#define TS_MAX_ATTRS 6   /* the most attributes an op declares */

/* ---- status.c: status codes and the diagnostics record ------------------ */

enum ts_status {
    TS_OK,              /* success */
    TS_ERR_USAGE,       /* bad command-line usage (exit status 2) */
    TS_ERR_IO,          /* a file could not be opened, read, mapped or written */
    TS_ERR_PARSE,       /* malformed JSON or safetensors structure */
    TS_ERR_GRAPH,       /* a structurally invalid graph: undefined values, cycles, bad attrs */
    TS_ERR_SHAPE,       /* dtypes or shapes that do not fit an op's rule */
    TS_ERR_RUNTIME,     /* an error found while computing: index out of range, division by zero */
    TS_ERR_UNSUPPORTED, /* a valid request this build cannot do (yet) */
    TS_ERR_NOMEM,       /* an allocation failed or a size overflowed */
    TS_STATUS_COUNT
};

/* The first error of an operation, kept for the caller as SQLite keeps a parse
 * error: later errors never overwrite it. Printed as
 * "tessera: error: FILE: WHERE: WHAT" (parts that are empty are left out). */
struct ts_diag {
    enum ts_status status;
    char file[256];  /* the file the error is about, or "" */
    char where[256]; /* node, field, byte offset, line:column … or "" */
    char what[768];  /* what is wrong and what was expected */
};

void ts_diag_clear(struct ts_diag *d);
/* Records an error unless one is recorded already; returns d->status (the first one). */
enum ts_status ts_diag_set(struct ts_diag *d, enum ts_status st, const char *file,
                           const char *where, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Writes the one-line message into buf. */
void ts_diag_format(const struct ts_diag *d, char *buf, size_t size);
/* Prints "tessera: error: …" and a newline to f. */
void ts_diag_print(const struct ts_diag *d, FILE *f);
const char *ts_status_name(enum ts_status st);

/* For our own invariants only: a failure is a bug in tessera, never bad input. */
#define TS_ASSERT(cond)                                                                 \
    do {                                                                                \
        if (!(cond)) ts_assert_fail(__FILE__, __LINE__, #cond);                         \
    } while (0)
_Noreturn void ts_assert_fail(const char *file, int line, const char *cond);

/* Propagates a failed status from a call. */
#define TS_TRY(expr)                                                                    \
    do {                                                                                \
        enum ts_status ts_try_st_ = (expr);                                             \
        if (ts_try_st_ != TS_OK) return ts_try_st_;                                     \
    } while (0)

/* ---- arena.c: one arena per compilation -------------------------------- */

/* A chunked bump allocator; everything in it is freed by one ts_arena_free.
 * Running out of memory for metadata is fatal (like gcc's xmalloc); sizes that
 * come from input (tensor data) never go through the arena unchecked. */
struct ts_arena;

struct ts_arena *ts_arena_init(void);
void ts_arena_free(struct ts_arena *a);
void *ts_arena_alloc(struct ts_arena *a, size_t size);  /* zeroed, 16-byte aligned */
char *ts_arena_strdup(struct ts_arena *a, const char *s);
char *ts_arena_strndup(struct ts_arena *a, const char *s, size_t n);
char *ts_arena_printf(struct ts_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t ts_arena_bytes_used(const struct ts_arena *a);

/* ---- dtype.c: element types and f16/bf16 conversion --------------------- */

#define TS_DTYPE_LIST(X)                                                                \
    X(F32, "f32", 4, true)   /* IEEE binary32 */                                        \
    X(F16, "f16", 2, true)   /* IEEE binary16 */                                        \
    X(BF16, "bf16", 2, true) /* bfloat16: binary32's top 16 bits */                     \
    X(I32, "i32", 4, false)  /* two's complement 32-bit */                              \
    X(I64, "i64", 8, false)  /* two's complement 64-bit */                              \
    X(BOOL, "bool", 1, false) /* one byte, 0 or 1 */

enum ts_dtype {
#define X(id, name, size, is_float) TS_##id,
    TS_DTYPE_LIST(X)
#undef X
    TS_DTYPE_COUNT /* also "not yet known" on a value before shape inference */
};

const char *ts_dtype_name(enum ts_dtype t);     /* "f32" …; "?" for TS_DTYPE_COUNT */
size_t ts_dtype_size(enum ts_dtype t);          /* bytes per element */
bool ts_dtype_is_float(enum ts_dtype t);
bool ts_dtype_is_int(enum ts_dtype t);          /* i32, i64 (not bool) */
bool ts_dtype_from_name(const char *name, enum ts_dtype *out);

/* Round to nearest, ties to even, directly from double (no double rounding);
 * overflow gives ±inf, NaN stays NaN. */
uint16_t ts_f16_from_f64(double x);
double ts_f16_to_f64(uint16_t h);
uint16_t ts_bf16_from_f64(double x);
double ts_bf16_to_f64(uint16_t b);

/* ---- tensor.c: dense row-major host tensors ----------------------------- */

struct ts_tensor {
    enum ts_dtype dtype;
    int rank;
    int64_t dims[TS_MAX_RANK];
    int64_t numel;   /* product of dims (1 for rank 0) */
    size_t nbytes;   /* numel * dtype size */
    void *data;      /* may be unaligned (mmapped weights): access through the getters */
    bool owns_data;  /* ts_tensor_release frees data */
};

/* The size rule every shape obeys: the product of its non-zero dims, times the
 * element size, fits in int64. (Counting only non-zero dims matters: an empty
 * [0, 2^53, 2^53] would still overflow its strides.) numel_out gets the real
 * element count (0 when a dim is 0). */
bool ts_dims_fit(int rank, const int64_t *dims, size_t elem_size, int64_t *numel_out);

/* Computes numel and nbytes under ts_dims_fit; 'what' names the tensor in the error. */
enum ts_status ts_tensor_set_shape(struct ts_tensor *t, enum ts_dtype dtype, int rank,
                                   const int64_t *dims, const char *what, struct ts_diag *d);
/* Sets the shape and allocates zeroed data (TS_ERR_NOMEM with a message on failure). */
enum ts_status ts_tensor_alloc(struct ts_tensor *t, enum ts_dtype dtype, int rank,
                               const int64_t *dims, const char *what, struct ts_diag *d);
/* A non-owning view of existing data; the caller checked that size fits. */
void ts_tensor_view(struct ts_tensor *t, enum ts_dtype dtype, int rank, const int64_t *dims,
                    void *data);
void ts_tensor_release(struct ts_tensor *t);

/* Element access by flat row-major index, converting from and to any dtype.
 * set_f64 rounds to nearest even for floats; for integers it truncates toward
 * zero and saturates (NaN gives 0); for bool it stores x != 0. */
double ts_tensor_get_f64(const struct ts_tensor *t, int64_t i);
void ts_tensor_set_f64(struct ts_tensor *t, int64_t i, double v);
/* Exact integer access (i64 values beyond 2^53 survive); floats truncate/saturate. */
int64_t ts_tensor_get_i64(const struct ts_tensor *t, int64_t i);
void ts_tensor_set_i64(struct ts_tensor *t, int64_t i, int64_t v); /* wraps to i32 */

/* Row-major strides (in elements) of a shape; and the strides for reading a
 * tensor of shape 'in' broadcast to the rank-'rank' shape 'out' (numpy rules:
 * aligned from the right, stretched dims get stride 0). */
void ts_shape_strides(int rank, const int64_t *dims, int64_t *strides);
void ts_broadcast_strides(int in_rank, const int64_t *in_dims, int rank, const int64_t *out_dims,
                          int64_t *strides);
/* Advances a multi-index over dims (last dim fastest); returns false after the last one. */
bool ts_index_next(int rank, const int64_t *dims, int64_t *index);

/* ---- tensor_stats.c: what output listings print -------------------------- */

struct ts_tensor_stats {
    double min, max, mean, std; /* over finite values; NaN when there are none */
    int64_t imin, imax;         /* exact, for integer dtypes */
    int64_t finite, nan, inf;
};
struct ts_tensor_stats ts_tensor_stats(const struct ts_tensor *t);
/* "%.6g", or "nan", "inf", "-inf" whatever libc does with a NaN's sign. */
void ts_print_double(double x, FILE *f);
/* Element i: ts_print_double for floats, exact for integers. */
void ts_tensor_print_element(const struct ts_tensor *t, int64_t i, FILE *f);
/* One line: NAME (padded to width)  DTYPE[SHAPE]  min … max … mean … std …
 * (nan/inf counts)  first [the first 6 elements, ...]; "(empty)" for no elements. */
void ts_tensor_print_summary(const char *name, int width, const struct ts_tensor *t, FILE *f);
/* The same as one JSON object: {"name", "dtype", "shape", "summary": {min, max,
 * mean, std, nan, inf, first}}; non-finite numbers are null, integers exact. */
void ts_tensor_print_summary_json(const char *name, const struct ts_tensor *t, FILE *f);
/* A JSON string literal (control bytes escaped), and a number (null unless finite). */
void ts_json_print_string(const char *s, FILE *f);
void ts_json_print_number(double x, FILE *f);

/* ---- op table: ops.def + op_table.c ------------------------------------- */

enum ts_op {
#define TS_OP(id, name, min_in, max_in, min_out, max_out, attrs, shape_fn, ref_fn) TS_OP_##id,
#include "ops.def"
#undef TS_OP
    TS_OP_COUNT
};

enum ts_attr_type {
    TS_ATTR_FLOAT,   /* a JSON number */
    TS_ATTR_INT,     /* a JSON number with an integral value */
    TS_ATTR_BOOL,    /* true / false */
    TS_ATTR_STRING,  /* a string, optionally one of spec->choices */
    TS_ATTR_INTS,    /* an array of integers */
    TS_ATTR_DIMS,    /* an array of integers and symbol names (reshape's shape) */
    TS_ATTR_DTYPE,   /* a string naming a dtype */
    TS_ATTR_TYPE_COUNT
};

/* One attribute an op accepts. An optional attribute without a default is
 * "absent" (present == false) unless given: e.g. attention's scale. */
struct ts_attr_spec {
    const char *name;
    enum ts_attr_type type;
    bool required;
    bool has_default;
    double def_f;         /* FLOAT default */
    int64_t def_i;        /* INT and BOOL default */
    const char *def_s;    /* STRING default */
    const char *choices;  /* STRING: comma-separated allowed values, or NULL */
};

/* A dim of a shape: a size, or a symbol (sym >= 0) whose size is filled in
 * when symbols are bound. In reshape's shape attribute, size -1 means "infer". */
struct ts_dim {
    int64_t size; /* the size; -1 while a symbol is unbound */
    int sym;      /* index into graph->symbols, or -1 */
};

struct ts_attr {
    bool present;         /* given in the graph or filled from a default */
    enum ts_attr_type type;
    double f;             /* FLOAT */
    int64_t i;            /* INT, BOOL (0/1) */
    const char *s;        /* STRING */
    enum ts_dtype dtype;  /* DTYPE */
    int64_t *ints;        /* INTS */
    struct ts_dim *dims;  /* DIMS */
    int n;                /* length of ints / dims */
};

struct ts_graph;
struct ts_node;

/* Checks a node's input dtypes, shapes and attribute values and sets its output
 * values' dtype and concrete shape. Runs after symbols are bound, so every input
 * has a concrete shape. Errors name the node (ts_diag_node). */
typedef enum ts_status (*ts_shape_fn)(struct ts_graph *g, struct ts_node *n, struct ts_diag *d);
/* Computes a node's outputs from its inputs in plain C, accumulating in double.
 * 'in' has one tensor per node input (NULL for an omitted optional input);
 * 'out' tensors are already allocated with the shapes the shape rule gave. */
typedef enum ts_status (*ts_ref_fn)(const struct ts_graph *g, const struct ts_node *n,
                                    const struct ts_tensor *const *in, struct ts_tensor *const *out,
                                    struct ts_diag *d);

struct ts_op_info {
    const char *name;
    int min_inputs, max_inputs;    /* max -1: any number (concat) */
    int min_outputs, max_outputs;  /* max -1: any number (split) */
    const struct ts_attr_spec *attrs;
    int nattrs;
    ts_shape_fn shape;
    ts_ref_fn ref;
};

const struct ts_op_info *ts_op_get(enum ts_op op);
bool ts_op_from_name(const char *name, enum ts_op *out);
/* Index of attribute 'name' in op's schema, or -1. */
int ts_op_attr_index(enum ts_op op, const char *name);
/* Whether op takes nin inputs and gives nout outputs; if not, why holds the
 * reason ("attention takes 3 to 4 inputs, got 2"). */
bool ts_op_check_arity(enum ts_op op, int nin, int nout, char *why, size_t size);

/* ---- graph.c: the graph IR ---------------------------------------------- */

enum ts_value_kind {
    TS_VALUE_INPUT,    /* a graph input, given at run time */
    TS_VALUE_WEIGHT,   /* a tensor of the weights file (data is a view of the mapping) */
    TS_VALUE_CONSTANT, /* inline data from the graph, or folded by a pass (data in the arena) */
    TS_VALUE_NODE,     /* the output of a node */
    TS_VALUE_KIND_COUNT
};

struct ts_value {
    const char *name;
    enum ts_value_kind kind;
    enum ts_dtype dtype;   /* TS_DTYPE_COUNT until inferred (node outputs) */
    int rank;              /* -1 until inferred */
    struct ts_dim dims[TS_MAX_RANK];
    const void *data;      /* WEIGHT and CONSTANT: row-major data, possibly unaligned */
    size_t nbytes;         /* size of data */
    int producer;          /* NODE: index of the producing node; else -1 */
    bool removed;          /* retired by a pass (its producer was removed, or nothing uses it) */
};

struct ts_node {
    enum ts_op op;
    const char *name;      /* user-given, or "op#index" in the file's node list */
    bool named;            /* the name came from the graph file */
    int ninputs, noutputs;
    int *inputs;           /* value ids; -1 for an omitted optional input */
    int *outputs;          /* value ids */
    struct ts_attr attrs[TS_MAX_ATTRS]; /* in the order of the op's schema */
};

struct ts_symbol {
    const char *name;
    int64_t def;           /* default size from "symbols", or -1 */
    int64_t size;          /* bound size, or -1 while unbound */
};

/* Cleanup that the graph runs when freed (the weights file's mapping). */
struct ts_graph_release {
    void (*fn)(void *ctx);
    void *ctx;
    struct ts_graph_release *next;
};

struct ts_graph {
    struct ts_arena *arena;     /* owns everything below */
    const char *path;           /* the graph file, for messages ("" if built in memory) */
    const char *weights_path;   /* the weights file it maps, or "" */
    const char *name;
    struct ts_value *values;
    int nvalues, cap_values;
    struct ts_node *nodes;      /* topologically sorted once verified */
    int nnodes, cap_nodes;
    struct ts_symbol *symbols;
    int nsymbols, cap_symbols;
    int *inputs, ninputs;       /* value ids of the graph inputs, in file order */
    int *outputs, noutputs;     /* value ids of the graph outputs, in file order */
    int *value_index;           /* open-addressing hash of value names → id + 1 */
    int value_index_cap;
    bool shaped;                /* symbols bound and every value has a concrete shape */
    struct ts_graph_release *releases;
};

struct ts_graph *ts_graph_init(const char *path);
void ts_graph_free(struct ts_graph *g);
void ts_graph_on_free(struct ts_graph *g, void (*fn)(void *ctx), void *ctx);

/* Adds a value; TS_ERR_GRAPH if the name is taken (the message names both definitions' kinds). */
enum ts_status ts_graph_add_value(struct ts_graph *g, const char *name, enum ts_value_kind kind,
                                  int *id_out, struct ts_diag *d);
int ts_graph_find_value(const struct ts_graph *g, const char *name); /* id or -1 */
/* Adds a node; name NULL gives "op#index". Input/output arrays are copied. */
struct ts_node *ts_graph_add_node(struct ts_graph *g, enum ts_op op, const char *name,
                                  int ninputs, const int *inputs, int noutputs, const int *outputs);
int ts_graph_add_symbol(struct ts_graph *g, const char *name, int64_t def); /* id */
int ts_graph_find_symbol(const struct ts_graph *g, const char *name);      /* id or -1 */
/* Fills a node's attrs with the defaults of its op's schema (present where a default exists). */
void ts_node_set_defaults(struct ts_node *n);

/* Helpers for shape rules and reference kernels. */
struct ts_value *ts_node_in(const struct ts_graph *g, const struct ts_node *n, int i); /* NULL if omitted */
struct ts_value *ts_node_out(const struct ts_graph *g, const struct ts_node *n, int i);
const struct ts_attr *ts_node_attr(const struct ts_node *n, const char *name); /* asserts the op has it */
/* Sets a value's dtype and concrete shape (dims not symbolic). */
void ts_value_set_shape(struct ts_value *v, enum ts_dtype dtype, int rank, const int64_t *dims);
/* Concrete dims of a shaped value into out[]; returns rank. */
int ts_value_dims(const struct ts_value *v, int64_t *out);
int64_t ts_value_numel(const struct ts_value *v); /* the value obeys ts_dims_fit (shapes pass) */
/* Where messages about a node point: "node 'NAME' (op)" for a name from the
 * file, "node 'op#3'" for a default one. */
const char *ts_node_where(const char *name, bool named, enum ts_op op, char *buf, size_t size);
/* Records a TS_ERR_SHAPE (or st) error at "node 'NAME'" in the graph's file. */
enum ts_status ts_diag_node(struct ts_diag *d, const struct ts_graph *g, const struct ts_node *n,
                            enum ts_status st, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* "[1, 16, 128]" (bound symbols print as "seq=16", unbound as "seq") into buf. */
const char *ts_value_shape_str(const struct ts_graph *g, const struct ts_value *v, char *buf, size_t size);
const char *ts_dims_str(int rank, const int64_t *dims, char *buf, size_t size);

/* ---- cost.c ------------------------------------------------------------- */

/* A rough count of the scalar operations a node's reference kernel performs
 * (saturating at INT64_MAX): M·N·K for matmul, b·hq·sq·sk·(d+dv) for
 * attention, the elements read and written for everything else. Used to bound
 * work done at compile time (constant folding) and by the fuzz targets. */
int64_t ts_node_cost(const struct ts_graph *g, const struct ts_node *n);

/* ---- verify.c ----------------------------------------------------------- */

/* Structure: arities, attribute presence and types, graph outputs defined, no
 * cycles; sorts nodes topologically (stable: file order where free). */
enum ts_status ts_graph_verify(struct ts_graph *g, struct ts_diag *d);

/* ---- print.c ------------------------------------------------------------ */

void ts_graph_print(const struct ts_graph *g, FILE *f);

/* ---- interp.c: the reference interpreter -------------------------------- */

/* Runs a shaped graph. inputs[i] is for graph input i (dtype and shape must
 * match the bound graph; checked). On success outputs[i] (caller-provided
 * array of g->noutputs) hold owned tensors; release them with ts_tensor_release. */
enum ts_status ts_interp_run(const struct ts_graph *g, const struct ts_tensor *inputs,
                             struct ts_tensor *outputs, struct ts_diag *d);
/* Progress of long work: fn(ctx, done, total, what) after each step. */
struct ts_progress {
    void (*fn)(void *ctx, int64_t done, int64_t total, const char *what);
    void *ctx;
};
/* ts_interp_run, reporting each node as it completes. */
enum ts_status ts_interp_run_progress(const struct ts_graph *g, const struct ts_tensor *inputs,
                                      struct ts_tensor *outputs, const struct ts_progress *progress,
                                      struct ts_diag *d);
/* Checks inputs[i] against graph input i of a bound graph: same dtype and shape. */
enum ts_status ts_graph_check_input(const struct ts_graph *g, int i, const struct ts_tensor *t,
                                    struct ts_diag *d);
/* Evaluates one node on given input tensors into freshly allocated outputs
 * (used by constant folding). */
enum ts_status ts_interp_node(const struct ts_graph *g, const struct ts_node *n,
                              const struct ts_tensor *const *in, struct ts_tensor *out,
                              struct ts_diag *d);

/* ---- kernel.c: the kernel IR -------------------------------------------- */

/* Fusion (passes/fuse.c) turns a shaped graph into a ts_program: buffers and an
 * ordered list of kernels of four kinds. Both emitters (codegen/llvm now,
 * codegen/cuda with issue #4) read the same kernels and schedules; the
 * kernel-IR interpreter (kernel_interp.c) runs them in plain C.
 *
 * Index maps. Every kernel has an iteration space (rank, dims). An operand is
 * a buffer read (or, for the output, written) at the element
 *     offset + sum_d strides[d] * i_d  (+ kstride * k for GEMM's reduction index)
 * so broadcasts (stride 0), transposes (permuted strides), slices (offset and
 * stride), reshapes of contiguous data and concat/split pieces are all index
 * maps: no kernel exists just to move data unless a graph output needs it. */

#define TS_KERNEL_KIND_LIST(X)                                                          \
    X(POINTWISE, "pointwise") /* element-wise chains, broadcasts, casts, index maps, gathers */ \
    X(ROWWISE, "rowwise")     /* a reduction over the inner dims with work before and after */ \
    X(GEMM, "gemm")           /* batched matmul with a fused epilogue */                \
    X(ATTENTION, "attention") /* softmax(q·kᵀ·scale + mask)·v with an online softmax */

enum ts_kernel_kind {
#define X(id, name) TS_KERNEL_##id,
    TS_KERNEL_KIND_LIST(X)
#undef X
    TS_KERNEL_KIND_COUNT
};
const char *ts_kernel_kind_name(enum ts_kernel_kind k);

/* Scalar types inside a kernel's expression. f16/bf16 are loaded as F32 and
 * stored rounded from F32; i32 is held as I64 and wrapped where the graph's
 * dtype says so (CAST), so integer work follows the reference bit for bit. */
enum ts_scalar {
    TS_SCALAR_F32,  /* f32, f16 and bf16 values */
    TS_SCALAR_F64,  /* used where the reference's precision matters (rope angles) */
    TS_SCALAR_I64,  /* i32 and i64 values */
    TS_SCALAR_BOOL, /* bool values */
    TS_SCALAR_COUNT
};
const char *ts_scalar_name(enum ts_scalar s);
enum ts_scalar ts_scalar_of_dtype(enum ts_dtype t);

/* The operations of a kernel's expression: a small SSA list in which each entry
 * refers only to earlier ones. X(id, name, number of expression operands) */
#define TS_KX_LIST(X)                                                                   \
    X(LOAD, "load", 0)         /* input[a] at the current index */                     \
    X(LOAD_AT, "load_at", 1)   /* input[a] with expr b (I64) as the index of its gather dim */ \
    X(CONST, "const", 0)       /* f (floats) or i (integers and bools) */              \
    X(INDEX, "index", 0)       /* the iteration index of dim a, as I64 */              \
    X(ACC, "acc", 0)           /* GEMM, ATTENTION: the accumulated result at this index */ \
    X(ROW, "row", 0)           /* ROWWISE: the row operation's result at this index */ \
    X(NEG, "neg", 1)                                                                    \
    X(EXP, "exp", 1)                                                                    \
    X(LOG, "log", 1)                                                                    \
    X(SQRT, "sqrt", 1)                                                                  \
    X(RSQRT, "rsqrt", 1)                                                                \
    X(TANH, "tanh", 1)                                                                  \
    X(ERF, "erf", 1)                                                                    \
    X(SIGMOID, "sigmoid", 1)                                                            \
    X(RELU, "relu", 1)          /* NaN stays NaN */                                     \
    X(SILU, "silu", 1)                                                                  \
    X(ABS, "abs", 1)                                                                    \
    X(GELU, "gelu", 1)          /* erf form */                                          \
    X(GELU_TANH, "gelu_tanh", 1)                                                        \
    X(COS, "cos", 1)                                                                    \
    X(SIN, "sin", 1)                                                                    \
    X(ADD, "add", 2)            /* integers wrap (two's complement) */                  \
    X(SUB, "sub", 2)                                                                    \
    X(MUL, "mul", 2)                                                                    \
    X(DIV, "div", 2)            /* integers: toward zero; a zero divisor fails with error a */ \
    X(POW, "pow", 2)                                                                    \
    X(MAX, "max", 2)            /* NaN propagates */                                    \
    X(MIN, "min", 2)                                                                    \
    X(SELECT, "select", 3)      /* a (BOOL) ? b : c */                                  \
    X(CAST, "cast", 1)          /* to type, with dtype's rounding, wrapping or saturation */

enum ts_kx_op {
#define X(id, name, nargs) TS_KX_##id,
    TS_KX_LIST(X)
#undef X
    TS_KX_COUNT
};
const char *ts_kx_op_name(enum ts_kx_op op);
int ts_kx_op_nargs(enum ts_kx_op op); /* expression operands (a, b, c) it reads */

/* One expression entry. Operand fields name earlier entries, except where the
 * op says otherwise (LOAD's a is an input number, INDEX's a a dim). */
struct ts_kx {
    enum ts_kx_op op;
    enum ts_scalar type;  /* result type */
    enum ts_dtype dtype;  /* CAST: the graph dtype whose rules apply (f16 rounding, i32 wrapping);
                             LOAD/LOAD_AT: the operand's dtype; else the node's dtype */
    int a, b, c;
    double f;             /* CONST of a float type */
    int64_t i;            /* CONST of an integer or bool type; DIV: error number for a zero divisor;
                             LOAD_AT: error number for an index out of range */
};

/* A buffer read or written at an index map (see above). */
struct ts_koperand {
    int buffer;                    /* index into program->buffers */
    enum ts_dtype dtype;
    int64_t offset;                /* elements from the buffer's start */
    int64_t strides[TS_MAX_RANK];  /* elements per step of each iteration dim (0 broadcasts) */
    int64_t kstride;               /* GEMM: elements per step of k (A and B; 0 for the epilogue) */
    int64_t gather_stride;         /* LOAD_AT: elements per step of the gathered index */
    int64_t gather_size;           /* LOAD_AT: the valid index range [-size, size) */
};

/* ROWWISE: what is computed over the inner (reduced) dims of each row. */
#define TS_ROW_OP_LIST(X)                                                               \
    X(SOFTMAX, "softmax")     /* ROW = exp(x - max) / sum, per element */               \
    X(LAYERNORM, "layernorm") /* ROW = (x - mean) / sqrt(var + eps), per element */     \
    X(RMSNORM, "rmsnorm")     /* ROW = x / sqrt(mean(x²) + eps), per element */         \
    X(SUM, "sum")             /* ROW = sum of x, per row */                             \
    X(MEAN, "mean")           /* ROW = mean of x, per row */                            \
    X(MAX, "max")             /* ROW = max of x (NaN propagates), per row */

enum ts_row_op {
#define X(id, name) TS_ROW_##id,
    TS_ROW_OP_LIST(X)
#undef X
    TS_ROW_OP_COUNT
};
const char *ts_row_op_name(enum ts_row_op op);
/* Whether the row op gives one value per element (softmax, norms) or per row. */
bool ts_row_op_is_elementwise(enum ts_row_op op);

/* Schedules: plain structs per kind, chosen by ts_sched_default_cpu,
 * ts_cuda_sched_default (codegen.h) or the autotuner. The CPU emitter reads the
 * top-level fields, the CUDA emitter the 'gpu' ones; a zero gpu field means
 * "not chosen yet" and the CUDA code generator fills in its default. */
enum ts_gemm_instr {
    TS_GEMM_INSTR_AUTO = 0,  /* the code generator picks from the dtypes and options */
    TS_GEMM_INSTR_SIMT,      /* plain FMA on CUDA cores (strict f32, integers, odd layouts) */
    TS_GEMM_INSTR_MMA_F16,   /* mma.sync m16n8k16, f16 or bf16 operands, f32 accumulation */
    TS_GEMM_INSTR_MMA_TF32,  /* mma.sync m16n8k8 on tf32-rounded f32 operands */
    TS_GEMM_INSTR_WGMMA,     /* sm_90a: TMA + wgmma.mma_async, warp-specialized and persistent
                                (codegen/cuda/hopper_gemm.c; only with TESSERA_HOPPER=1). bk is 64,
                                wm the rows per consumer warpgroup (bm/wm of them), wn = bn,
                                swizzle the group of tile rows of the persistent order */
    TS_GEMM_INSTR_COUNT
};
const char *ts_gemm_instr_name(enum ts_gemm_instr i);

struct ts_sched_pointwise {
    int vector_width;       /* elements per vector operation (CPU: 8 for AVX2 f32) */
    int64_t rows_per_task;  /* outer rows (all dims but the last) per thread-pool task */
    int threads;            /* CPU workers its tasks spread over (0: all of the session's) */
    struct {
        int threads;        /* threads per block */
        int vec;            /* consecutive last-dim elements per thread (1, 2, 4, 8):
                               16-byte accesses where the index maps allow */
    } gpu;
};
struct ts_sched_rowwise {
    int vector_width;
    int64_t rows_per_task;
    int threads;            /* as for pointwise */
    struct {
        int threads;        /* threads per block; one block per row */
        int vec;            /* consecutive inner elements per thread per access */
    } gpu;
};
struct ts_sched_gemm {
    int mc, kc, nc;         /* cache blocks: rows of A, depth, columns of B packed at a time */
    int mr, nr;             /* register block of the micro-kernel (nr a multiple of the vector width) */
    int threads;            /* as for pointwise */
    struct {
        int bm, bn, bk;     /* block tile: C rows, C columns, k per pipeline stage */
        int wm, wn;         /* warp tile: a block has (bm/wm)·(bn/wn) warps */
        int stages;         /* shared-memory pipeline depth (cp.async), >= 2 */
        int split_k;        /* blocks sharing one C tile's k range (1: none) */
        int swizzle;        /* block rasterization: C-tile columns per group for L2 reuse (1: none) */
        enum ts_gemm_instr instr;
    } gpu;
};
struct ts_sched_attention {
    int block_q, block_k;   /* query rows per task, keys per online-softmax step */
    int threads;            /* as for pointwise */
    struct {
        int block_q, block_k;  /* query rows per block, keys per step */
        int warps;             /* warps per block */
        int stages;            /* k/v tiles in flight (cp.async), >= 1 */
    } gpu;
};

/* A kernel's schedule, whichever its kind: what the autotuner searches and records. */
union ts_sched {
    struct ts_sched_pointwise pointwise;
    struct ts_sched_rowwise rowwise;
    struct ts_sched_gemm gemm;
    struct ts_sched_attention attention;
};

struct ts_kernel {
    enum ts_kernel_kind kind;
    const char *name;            /* unique C identifier: "k3_gemm" */
    int rank;                    /* iteration space; ATTENTION: [batch, hq, sq, dv] */
    int64_t dims[TS_MAX_RANK];
    int nouter;                  /* ROWWISE: dims [0, nouter) are rows, the rest is reduced */
    int64_t k;                   /* GEMM: reduction length */
    enum ts_scalar acc_type;     /* GEMM: F32 for float operands, I64 for integer ones */
    struct ts_koperand *inputs;  /* GEMM: [0] = A, [1] = B, then epilogue loads;
                                    ATTENTION: q, k, v, then the mask if has_mask */
    int ninputs;
    struct ts_koperand output;   /* ROWWISE per-row ops: strides of the inner dims are 0 */
    struct ts_kx *expr;
    int nexpr;
    int x_root;                  /* ROWWISE: the expression entry reduced (before the row op) */
    int out_root;                /* the value stored; -1 for a plain copy of ACC (GEMM/ATTENTION) */
    enum ts_row_op row_op;       /* ROWWISE */
    double eps;                  /* ROWWISE norms */
    /* ATTENTION: q, k, v, mask and output strides are in role order
     * q [b, h, s, d], k [b, hkv, s, d], v [b, hkv, s, dv], mask [b, h, sq, sk],
     * output [b, h, sq, dv] (strides[0..3] of each operand). */
    struct {
        int64_t batch, hq, hkv, sq, sk, d, dv;
        double scale;
        bool causal;
        bool has_mask;
    } attn;
    union ts_sched sched;
    bool tuned;                  /* sched came from a tuning record (inspect says so) */
    const char **absorbed;       /* names of the graph nodes it computes (for inspect) */
    int nabsorbed;
    const char **errors;         /* run-time error messages, numbered from 1 (DIV, LOAD_AT) */
    int nerrors;
};

/* How the thread pool splits a kernel: tasks [0, ntasks). Every emitter uses
 * exactly these meanings (rows = product of the dims named, 1 if none):
 *  POINTWISE  rows = dims[0 .. rank-1); task t does rows [t·rpt, min((t+1)·rpt, rows)),
 *             each row the whole last dim (rank 0: one row of one element).
 *  ROWWISE    rows = dims[0 .. nouter); the same split by rows_per_task.
 *  GEMM       dims = [batch dims…, M, N]; B = product of the batch dims,
 *             mb = ceil(M/mc), nb = ceil(N/nc); t = (b·mb + i)·nb + j computes
 *             C rows [i·mc, …) × columns [j·nc, …) of batch b over the whole k.
 *  ATTENTION  qb = ceil(sq/block_q); t = (b·hq + h)·qb + qi: query rows
 *             [qi·block_q, …) of head h of batch b, every key.
 * A kernel with no elements has ntasks 0. */
int64_t ts_kernel_ntasks(const struct ts_kernel *k);
/* Per-worker scratch bytes, 64-byte aligned; 0 if none:
 *  ROWWISE    4·(inner element count) + 64: one row of x as f32.
 *  GEMM       4·(roundup(mc, mr)·kc + kc·roundup(nc, nr)) + 128: packed A and B panels;
 *             when K spans several kc panels and the output is not f32 (f16, bf16),
 *             + 4·roundup(mc, mr)·roundup(nc, nr) + 64: the block's f32 partial sums.
 *  ATTENTION  4·(block_q·block_k + block_q·(d + dv + 2) + block_k·(d + dv)) + 256:
 *             scores, q tile, accumulators, running max and sum, k and v tiles as f32. */
int64_t ts_kernel_scratch_bytes(const struct ts_kernel *k);
/* A float GEMM whose K spans several kc panels and whose output is narrower
 * than f32: its partial sums live in scratch, not in the output. */
bool ts_kernel_gemm_needs_partials(const struct ts_kernel *k);
/* Fills k->sched with the default schedule for the CPU (vector width in f32 lanes). */
void ts_sched_default_cpu(struct ts_kernel *k, int vector_width);
/* The CPU workers k's schedule asks for (0: all of the session's). */
int ts_kernel_cpu_threads(const struct ts_kernel *k);

enum ts_kbuffer_kind {
    TS_KBUF_INPUT,   /* a graph input: the caller's memory */
    TS_KBUF_OUTPUT,  /* a graph output: the caller's memory */
    TS_KBUF_WEIGHT,  /* a weight: the mapped file, used in place */
    TS_KBUF_CONST,   /* an inline or folded constant: data in the graph's arena */
    TS_KBUF_TEMP,    /* an intermediate: a slice of the runtime's arena */
    TS_KBUF_KIND_COUNT
};

struct ts_kbuffer {
    enum ts_kbuffer_kind kind;
    const char *name;     /* the graph value it was made for */
    int value;            /* that value's id */
    enum ts_dtype dtype;
    int64_t nbytes;
    int index;            /* INPUT/OUTPUT: position in the graph's input/output list */
    const void *data;     /* WEIGHT/CONST */
    int64_t offset;       /* TEMP: byte offset in the arena (memory planning); 64-byte aligned */
    int first, last;      /* TEMP: the first kernel writing it and the last reading it */
    int reuses;           /* TEMP: the buffer whose memory it takes over in place, or -1 */
};

struct ts_program {
    const struct ts_graph *graph;  /* shaped; owns the arena everything here lives in */
    struct ts_kbuffer *buffers;
    int nbuffers;
    struct ts_kernel *kernels;     /* in execution order */
    int nkernels;
    int *input_buffers;            /* graph input i → buffer */
    int *output_buffers;           /* graph output i → buffer */
    int64_t arena_bytes;           /* memory planning: the arena's size (peak) */
    int64_t naive_bytes;           /* the sum of every TEMP buffer's size */
};

/* Checks a program's invariants: every operand's index map stays inside its
 * buffer for the whole iteration space (and the gather range), expressions are
 * well-typed SSA with operands in range, schedules are legal (positive blocks,
 * nr a multiple of the vector width …), TEMP buffers planned without overlap
 * between live ones. A failure is a tessera bug (TS_ERR_GRAPH naming the
 * kernel); the fusion tests and the emitters call it. */
enum ts_status ts_program_check(const struct ts_program *p, struct ts_diag *d);

/* --dump fuse: kernels, their index maps, expressions and what each absorbed. */
void ts_program_print(const struct ts_program *p, FILE *f);
/* --dump plan: each buffer's offset, size and lifetime; peak against the naive sum. */
void ts_program_print_plan(const struct ts_program *p, FILE *f);

/* ---- kernel_interp.c: the kernel-IR interpreter ------------------------- */

/* Runs a program's kernels one by one in plain C (double accumulation): checks
 * fusion independently of any code generator. TEMP buffers live in one arena
 * at their planned offsets once memory planning has run (arena_bytes > 0), so a
 * wrong plan shows up as wrong numbers. Inputs and outputs as for ts_interp_run. */
enum ts_status ts_program_run_ref(const struct ts_program *p, const struct ts_tensor *inputs,
                                  struct ts_tensor *outputs, struct ts_diag *d);

#endif
