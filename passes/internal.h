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

#endif
