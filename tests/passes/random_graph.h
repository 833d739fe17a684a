/* random_graph.h — the random graph generator of test_random_graphs.c: valid
 * DAGs of every op, with the primitive spellings simplify rewrites, repeated
 * subexpressions and constant subgraphs, written out as graph JSON. Each value
 * carries its shape, an interval holding its elements and a tolerance. */
#ifndef TESSERA_TESTS_RANDOM_GRAPH_H
#define TESSERA_TESTS_RANDOM_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

#define MAXV  256
#define MAXN  160
#define MAXEL 4096

struct rg_val {
    char name[12];
    enum ts_dtype dt;
    int rank, kind; /* kind: 0 input, 1 constant, 2 node output */
    int64_t dims[TS_MAX_RANK], n;
    double *data;  /* inputs and constants, already rounded to dt */
    double lo, hi; /* every element lies in [lo, hi] */
    double k, tr;  /* tolerance multiplier (0: exact) and the dtype rtol it scales */
    bool hidden, cst, used;
};
struct rg_node {
    const char *op;
    int in[4], nin, out[8], nout;
    char attrs[200];
};
struct rg_gen {
    uint64_t s;
    struct rg_val v[MAXV];
    struct rg_node nd[MAXN];
    int outs[MAXV], nouts;
    int nv, nn, sym; /* sym: the size written as symbol "n" in input shapes */
    bool const_only; /* pick only constant-derived values (subgraphs fold evaluates) */
};

/* Replaces g's graph by the one of seed (freeing the old data). */
void rg_generate(struct rg_gen *g, uint64_t seed);
/* The graph as FORMAT.md JSON (malloc'd); picks the graph outputs into g->outs. */
char *rg_to_json(struct rg_gen *g, uint64_t seed, size_t *len);
void rg_free(struct rg_gen *g);
/* The op families and how many nodes each has made so far. */
int rg_nfamilies(void);
const char *rg_family_name(int f);
int rg_family_made(int f);

#endif
