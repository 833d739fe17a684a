/* artifact.h — private to tools/artifact/ and tools/compile*.c: what the file
 * `tessera compile` generates defines (one struct ts_artifact: the plan as
 * static data, the kernel table, where the weights are), and the input
 * filling that `tessera run` and the standalone executable share. */
#ifndef TESSERA_ARTIFACT_H
#define TESSERA_ARTIFACT_H

#include "ir/ir.h"
#include "runtime/runtime.h"

/* Bumped when struct ts_artifact changes: the generated file records it. */
#define TS_ARTIFACT_FORMAT 2

struct ts_artifact {
    int format;                     /* TS_ARTIFACT_FORMAT of the tessera that wrote it */
    const char *name;               /* the artifact's name (libNAME.so) */
    const char *version;            /* tessera version that compiled it */
    const char *model;              /* the graph file it was compiled from */
    const char *bindings;           /* "batch=1, seq=16", or "" */
    const char *cpu;                /* the CPU compiled for ("x86-64-v3", "znver3"); "" for cuda */
    const char *cpu_features;       /* comma-separated: what ts_artifact_cpu_check needs */
    const struct ts_rt_plan *plan;
    const ts_rt_kernel_fn *kernels; /* one per plan kernel (identical kernels share one) */
    const char *weights_path;       /* the weights file at compile time (absolute), or "" */
    const unsigned char *embedded;  /* --embed-weights: the whole safetensors file, else NULL */
    const unsigned char *embedded_end;
    const int64_t *input_bounds;    /* per input: random integers are drawn from [0, bound) */
    const char *target;             /* "cpu" or "cuda" */
    const char *arch;               /* cuda: the cubin's GPU arch ("sm_90a"); "" for cpu */
    const struct ts_rt_cuda_image *cuda; /* cuda: cubin, PTX fallback, symbols; NULL for cpu */
};

/* Defined by the generated NAME.plan.c (hidden inside libNAME.so). */
extern const struct ts_artifact ts_artifact_model;

/* ---- cpu.c: does this CPU run the kernels? ------------------------------- */

/* The features ts_artifact_cpu_check knows, in the spelling of LLVM's feature
 * strings (and of __builtin_cpu_supports). */
extern const char *const ts_artifact_cpu_feature_names[];
/* 0 when the host has every feature in the comma-separated list; otherwise 1
 * with the missing ones (comma-separated) in missing. */
int ts_artifact_cpu_check(const char *features, char *missing, size_t size);

/* ---- fill.c: made-up inputs, identical in `tessera run` and artifacts ---- */

enum ts_artifact_fill {
    TS_ARTIFACT_FILL_RANDOM, /* floats uniform in [-1, 1), integers in [0, bound), bools 0/1 */
    TS_ARTIFACT_FILL_ZEROS,  /* leaves the (zeroed) tensor as it is */
    TS_ARTIFACT_FILL_ONES,   /* 1 in the tensor's dtype */
    TS_ARTIFACT_FILL_COUNT
};
/* Fills t; rng is the splitmix64 state, advanced per element drawn, so
 * filling inputs one after another from one seed gives the same values as
 * `tessera run --seed`. */
void ts_artifact_fill(struct ts_tensor *t, enum ts_artifact_fill how, int64_t bound, uint64_t *rng);

#endif
