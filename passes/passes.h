/* passes.h — the one public header of passes/: graph → graph passes and the
 * pipeline that runs them in order. */
#ifndef TESSERA_PASSES_H
#define TESSERA_PASSES_H

#include "ir/ir.h"

/* The passes, in pipeline order. X(id, name, what it does) */
#define TS_PASS_LIST(X)                                                                 \
    X(VERIFY, "verify", "check structure and sort nodes topologically")                 \
    X(SHAPES, "shapes", "bind symbols to sizes and infer every dtype and shape")        \
    X(FOLD, "fold", "evaluate nodes whose inputs are all constants")                    \
    X(CSE, "cse", "merge nodes and constants that compute the same thing")              \
    X(SIMPLIFY, "simplify", "rewrite gelu, layernorm, rmsnorm, softmax and attention "   \
                            "written in primitives to the fused ops")                   \
    X(DCE, "dce", "remove nodes that no graph output depends on")

enum ts_pass_id {
#define X(id, name, what) TS_PASS_##id,
    TS_PASS_LIST(X)
#undef X
    TS_PASS_COUNT
};

const char *ts_pass_name(enum ts_pass_id p);
const char *ts_pass_description(enum ts_pass_id p);
bool ts_pass_from_name(const char *name, enum ts_pass_id *out);

/* A symbol's size and where it came from ("--bind", "input 'tokens' in x.safetensors"). */
struct ts_bind {
    const char *symbol;
    int64_t size;
    const char *source;
};

/* verify.c */
enum ts_status ts_pass_verify(struct ts_graph *g, struct ts_diag *d);
/* shapes.c: sizes from binds (which must agree with each other), else the
 * graph's defaults; then every node's shape rule in topological order. */
enum ts_status ts_pass_shapes(struct ts_graph *g, const struct ts_bind *binds, int nbinds,
                              struct ts_diag *d);
/* fold.c: nodes whose inputs are all constants (inline or folded) become
 * constants, within bounds on compile-time work: per node, a result of at most
 * TS_FOLD_MAX_BYTES and at most TS_FOLD_MAX_WORK operations (ts_node_cost); per
 * pass, the BUDGET totals. Weights are not folded: they stay views of the
 * mapped file. */
#define TS_FOLD_MAX_BYTES (1 << 20)
#define TS_FOLD_MAX_WORK (1 << 24)
#define TS_FOLD_BUDGET_BYTES ((int64_t)16 << 20)
#define TS_FOLD_BUDGET_WORK ((int64_t)1 << 26)
enum ts_status ts_pass_fold(struct ts_graph *g, struct ts_diag *d);
/* cse.c: identical constants, then nodes with the same op, inputs and attrs,
 * are kept once; a node or constant defining a graph output is never removed. */
enum ts_status ts_pass_cse(struct ts_graph *g, struct ts_diag *d);
/* simplify.c: gelu (erf and tanh forms), layernorm, rmsnorm, softmax and
 * attention written out in primitive ops become the fused ops, where every
 * intermediate is private to the pattern. Runs on a shaped graph. */
enum ts_status ts_pass_simplify(struct ts_graph *g, struct ts_diag *d);
/* dce.c */
enum ts_status ts_pass_dce(struct ts_graph *g, struct ts_diag *d);

struct ts_pipeline_opts {
    const struct ts_bind *binds;
    int nbinds;
    unsigned dump_mask;  /* bit (1u << pass): print the graph after that pass */
    unsigned stop_after; /* run passes up to and including this one (TS_PASS_COUNT: all) */
    FILE *dump;          /* where dumps go (stdout when NULL) */
};

/* pipeline.c: the flat list of passes. */
enum ts_status ts_pipeline_run(struct ts_graph *g, const struct ts_pipeline_opts *o,
                               struct ts_diag *d);

/* ---- graph → kernels ---------------------------------------------------- */

struct ts_fuse_opts {
    int vector_width;  /* f32 lanes of the target's vectors, for default schedules (8: AVX2) */
    bool no_fusion;    /* one kernel per node (tests: fusion must not change results) */
};

/* fuse.c: groups the nodes of a shaped, simplified graph into POINTWISE,
 * ROWWISE, GEMM and ATTENTION kernels (the kernel IR of ir.h), folding
 * transposes, reshapes, slices and broadcasts into index maps, and gives each
 * kernel its default schedule. The program lives in the graph's arena. */
enum ts_status ts_pass_fuse(const struct ts_graph *g, const struct ts_fuse_opts *o,
                            struct ts_program **out, struct ts_diag *d);
/* plan.c: liveness-based offsets for every TEMP buffer in one arena, reusing
 * memory once a buffer is dead and in place where an element-wise kernel may
 * overwrite its input; sets arena_bytes and naive_bytes. */
enum ts_status ts_pass_plan(struct ts_program *p, struct ts_diag *d);

/* inplace.c: whether graph output 'output' may be handed the same memory as
 * graph input 'input' (a key/value cache updated in place): the input is read
 * only by the one element-wise kernel that alone writes the output, at the
 * index it writes. When not, why says which kernel stands in the way. */
bool ts_program_output_may_alias_input(const struct ts_program *p, int input, int output, char *why, size_t size);

/* The whole compilation up to the kernel program: ts_pipeline_run, fuse, plan.
 * dump_mask bits TS_DUMP_FUSE and TS_DUMP_PLAN print the program after those steps. */
#define TS_DUMP_FUSE (1u << TS_PASS_COUNT)
#define TS_DUMP_PLAN (1u << (TS_PASS_COUNT + 1))
enum ts_status ts_compile_program(struct ts_graph *g, const struct ts_pipeline_opts *o,
                                  const struct ts_fuse_opts *fo, struct ts_program **out,
                                  struct ts_diag *d);

#endif
