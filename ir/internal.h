/* internal.h — helpers private to ir/: the shape rules and reference kernels
 * that op_table.c points at, and small utilities they share. */
#ifndef TESSERA_IR_INTERNAL_H
#define TESSERA_IR_INTERNAL_H

#include "ir.h"

/* Every shape rule and reference kernel named in ops.def. */
#define TS_OP(id, name, min_in, max_in, min_out, max_out, attrs, shape_fn, ref_fn)              \
    enum ts_status shape_fn(struct ts_graph *g, struct ts_node *n, struct ts_diag *d);          \
    enum ts_status ref_fn(const struct ts_graph *g, const struct ts_node *n,                    \
                          const struct ts_tensor *const *in, struct ts_tensor *const *out,      \
                          struct ts_diag *d);
#include "ops.def"
#undef TS_OP

/* Normalizes a possibly negative axis against rank; false if out of [-rank, rank). */
bool ts_axis_normalize(int64_t axis, int rank, int *out);

/* numpy broadcast of two concrete shapes; false if some dim pair is neither
 * equal nor 1. */
bool ts_broadcast_shapes(int ra, const int64_t *da, int rb, const int64_t *db, int *rank_out,
                         int64_t *dims_out);

/* Checks that the first count inputs are given (not omitted with ""). The
 * verifier ensures this for pipelines; shape rules check again so they are
 * safe to call on their own (the op unit tests do). */
enum ts_status ts_node_need_inputs(struct ts_graph *g, struct ts_node *n, int count, struct ts_diag *d);

/* A dim of a DIMS attribute (reshape's and iota's shape): its size, or its
 * symbol's bound size (an unbound symbol is an error naming it). */
enum ts_status ts_node_attr_dim(struct ts_graph *g, struct ts_node *n, const struct ts_dim *dim, int64_t *out,
                                struct ts_diag *d);

/* Input i of node n as a concrete shape (rank returned, dims into out). */
int ts_node_in_dims(const struct ts_graph *g, const struct ts_node *n, int i, int64_t *out);

/* How a shape rule's message names input i of node n, whose role in FORMAT.md's
 * op table is 'role' ("x", "k", "weight" ...). Quotes always hold a value name,
 * as they do everywhere else in tessera's messages:
 *   input 'k'            the value is named after its role
 *   'keys' (input k)     otherwise: the name, then the role (as "node 'attn' (attention)")
 *   input k              the input is omitted, so it has no name
 * Writes into buf (TS_IN_LABEL_SIZE bytes is enough for names up to ~160
 * characters; longer ones are cut) and returns it. */
#define TS_IN_LABEL_SIZE 192
const char *ts_node_in_label(const struct ts_graph *g, const struct ts_node *n, int i, const char *role,
                             char *buf, size_t size);

#endif
