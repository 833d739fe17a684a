/* internal.h — private to passes/: the pattern matching that the simplify
 * pass's files share (simplify.c drives it; simplify_*.c hold one family of
 * patterns each). Nothing outside passes/ includes this. */
#ifndef TESSERA_PASSES_INTERNAL_H
#define TESSERA_PASSES_INTERNAL_H

#include "passes/passes.h"

#define TS_MATCH_MAX_NODES 32 /* the most nodes one pattern spans (attention: 7) */

/* One attempt to match a pattern whose last node is 'final'. Matchers record
 * every node they walk through in nodes[]; on a dead end they restore nnodes
 * to what it was (backtracking), so the list is exactly the matched nodes. */
struct ts_match {
    struct ts_graph *g;
    const int *uses;  /* per value: reads by live nodes, plus one per graph output slot */
    const bool *dead; /* per node: replaced by an earlier rewrite */
    int final;        /* index of the pattern's last node: it becomes the fused node */
    int nodes[TS_MATCH_MAX_NODES];
    int nnodes;
    /* The replacement, filled in by a matcher that succeeds. */
    enum ts_op op;
    int inputs[4];      /* value ids; -1 for an omitted optional input */
    int ninputs;
    const char *attr;   /* the one attribute to set (NULL: defaults only) */
    double attr_f;      /* its value if FLOAT or INT */
    const char *attr_s; /* its value if STRING */
};

/* A matcher: true when the pattern ends at m->final (m filled in). */
typedef bool (*ts_matcher)(struct ts_match *m);

/* simplify_gelu.c, simplify_norm.c, simplify_softmax.c */
bool ts_match_gelu_erf(struct ts_match *m);
bool ts_match_gelu_tanh(struct ts_match *m);
bool ts_match_layernorm(struct ts_match *m);
bool ts_match_rmsnorm(struct ts_match *m);
bool ts_match_softmax(struct ts_match *m);
bool ts_match_attention(struct ts_match *m);

/* simplify.c: the helpers matchers are written with. */
/* The live node of op 'op' producing value v, appended to m->nodes; NULL if
 * v is not such a node's output. */
struct ts_node *ts_match_take(struct ts_match *m, int v, enum ts_op op);
/* Value v is a float constant whose every element is within a small relative
 * tolerance of 'want' (1e-4 for f32; the dtype's precision for f16, bf16). */
bool ts_match_const(const struct ts_match *m, int v, double want);
/* Value v is a float constant with all elements (nearly) equal: *out gets the first. */
bool ts_match_const_value(const struct ts_match *m, int v, double *out);
/* n is a reduction over the last axis of its input with keepdims (any op);
 * reduce_axis returns the one normalized axis of a keepdims reduction, or -1. */
bool ts_match_reduce_last(const struct ts_match *m, const struct ts_node *n);
int ts_match_reduce_axis(const struct ts_match *m, const struct ts_node *n);
/* Value v is x·x (mul with both inputs x) or pow(x, 2). */
bool ts_match_square(struct ts_match *m, int v, int x);
/* Values a and b have the same dtype and shape. */
bool ts_match_same_type(const struct ts_match *m, int a, int b);
/* Sets the replacement: op and its inputs (-1 for omitted). */
void ts_match_replace(struct ts_match *m, enum ts_op op, int ninputs, const int *inputs);

/* ---- fusion (fuse.c, fuse_*.c) and memory planning (plan.c) ------------- */

/* Where a graph value lives once computed: a buffer, an element offset and a
 * stride per dim of the value (0 for a dim of size 1 or a broadcast), so
 * transposes, slices, splits and most reshapes are views, never copies. */
struct ts_fview {
    bool ready;  /* materialized (or its place chosen by a consumer in advance) */
    int buffer;
    int64_t offset;
    int64_t strides[TS_MAX_RANK];
};

/* The state of one fusion run. Nodes are grouped first (next/owner), then
 * walked in order: a group's kernel is emitted at its root, its last node. */
struct ts_fuse {
    const struct ts_graph *g;
    const struct ts_fuse_opts *o;
    struct ts_diag *d;
    struct ts_fview *views;   /* per value */
    int *uses;                /* per value: reads by nodes plus one per graph output slot */
    int *consumer;            /* per value: the node reading it when uses == 1, else -1 */
    int *next;                /* per node: the node it is fused into, or -1 */
    int *owner;               /* per node: the root of its group (itself when -1 == next) */
    int *heavy;               /* per node (a root): its group's GEMM/ROWWISE/ATTENTION node, or -1 */
    struct ts_kbuffer *buffers; /* malloc'd while fusing; copied into the arena at the end */
    int nbuffers, cap_buffers;
    struct ts_kernel *kernels;
    int nkernels, cap_kernels;
    int *input_buffers, *output_buffers;
};

/* A kernel under construction (malloc'd arrays, copied to the arena when done). */
struct ts_kb {
    struct ts_fuse *f;
    struct ts_kernel k;          /* kind, rank, dims, output and the kind's fields */
    int root, heavy;             /* the group's root and heavy node (-1: none) */
    int heavy_entry;             /* the heavy node's result in expr, once built (-1) */
    int dedupe_from;             /* inputs before this index are fixed (GEMM A, B …) */
    struct ts_koperand *inputs;
    int ninputs, cap_inputs;
    struct ts_kx *expr;
    int nexpr, cap_expr;
    const char **absorbed;
    int nabsorbed, cap_absorbed;
    const char **errors;
    int nerrors, cap_errors;
};

/* fuse.c: the buffer table, shared helpers. */
int ts_fuse_add_buffer(struct ts_fuse *f, enum ts_kbuffer_kind kind, int value, int index);
bool ts_fuse_is_elementwise(enum ts_op op);  /* binary, unary, gelu, cast, where, iota */
/* A possibly negative axis against rank (shape rules have checked it). */
bool ts_fuse_axis_norm(int64_t axis, int rank, int *out);
int ts_fuse_value_rank(const struct ts_graph *g, int v, int64_t *dims);
/* "node 'x' (op)" for messages. */
const char *ts_fuse_node_where(const struct ts_graph *g, int node, char *buf, size_t size);

/* fuse_views.c: value layouts. */
void ts_fuse_view_contiguous(struct ts_fuse *f, int v, int buffer, int64_t offset);
bool ts_fuse_view_is_contiguous(const struct ts_fuse *f, int v);
/* The layout of a value a root kernel writes: chosen by its consumers
 * (graph output buffer, a transposed or reshaped consumer, a concat's part),
 * else a new TEMP. Sets f->views[v]. */
void ts_fuse_dest(struct ts_fuse *f, int v);
/* The views made by transpose, slice, split and reshape (copying first where
 * a reshape cannot be a view). */
enum ts_status ts_fuse_movement(struct ts_fuse *f, int node);
/* New strides for viewing (rank, dims, strides) as (nrank, ndims) without a
 * copy; false when the layout does not allow it (numpy's rule). */
bool ts_fuse_reshape_strides(int rank, const int64_t *dims, const int64_t *strides, int nrank,
                             const int64_t *ndims, int64_t *nstrides);

/* fuse_expr.c: building kernels and their expressions. */
void ts_kb_init(struct ts_kb *kb, struct ts_fuse *f, enum ts_kernel_kind kind, int root);
int ts_kb_input(struct ts_kb *kb, const struct ts_koperand *op);
int ts_kb_emit(struct ts_kb *kb, struct ts_kx e);
struct ts_kx ts_kx_make(enum ts_kx_op op, enum ts_scalar type, enum ts_dtype dt, int a, int b, int c);
int ts_kb_error(struct ts_kb *kb, const char *msg);
void ts_kb_absorb(struct ts_kb *kb, const char *name);
/* An operand reading value v (its view) where v's dim j follows iteration
 * dim axis[j] (-1: a dim of size 1, or broadcast). */
struct ts_koperand ts_kb_operand(struct ts_kb *kb, int v, const int *axis);
/* The expression entry computing value v at the iteration index (axis as
 * above): nodes of the kernel's group are inlined, other values loaded. */
int ts_kb_value(struct ts_kb *kb, int v, const int *axis);
/* Entry e as scalar type 'type' (a value of 'dtype'; CAST only if needed). */
int ts_kb_convert(struct ts_kb *kb, int e, enum ts_scalar type, enum ts_dtype dtype);
/* Rounds a node's result as the reference stores it (f16, bf16, f32, i32). */
int ts_kb_round(struct ts_kb *kb, int e, enum ts_dtype dtype);
/* The output operand from v's view, the root entry (a final cast the store
 * repeats is dropped, then unread entries), dims coalesced, the name and
 * default schedule; appends the kernel to the program. */
void ts_kb_finish(struct ts_kb *kb, int out_value, const int *axis, int root_entry);
/* The same once kb->k.output is set. */
void ts_kb_commit(struct ts_kb *kb, int root_entry);
/* The operand for a view of a value of shape (rank, dims), axis as above. */
struct ts_koperand ts_kb_view_operand(const struct ts_fview *view, enum ts_dtype dt, int rank,
                                      const int64_t *dims, const int *axis);
/* A POINTWISE kernel copying (rank, dims) elements of value src_value's dtype
 * from view src to view dst; absorbed names the node it is for (or NULL). */
void ts_fuse_copy(struct ts_fuse *f, int src_value, const struct ts_fview *src, const struct ts_fview *dst,
                  int rank, const int64_t *dims, const char *absorbed);

/* fuse_gemm.c, fuse_rowwise.c, fuse_movement.c: one kind of group each.
 * They fill kb's fields; the heavy node's entry (ACC or ROW, rounded) comes
 * from ts_fuse_heavy_entry; gather is an entry any expression may inline. */
void ts_fuse_gemm(struct ts_kb *kb, int node);
void ts_fuse_attention(struct ts_kb *kb, int node);
void ts_fuse_rowwise(struct ts_kb *kb, int node, int *axis_out);
int ts_fuse_heavy_entry(struct ts_kb *kb, const int *axis);
int ts_fuse_gather_entry(struct ts_kb *kb, int node, const int *axis);
void ts_fuse_rope(struct ts_fuse *f, int node);
void ts_fuse_concat(struct ts_fuse *f, int node);

#endif
