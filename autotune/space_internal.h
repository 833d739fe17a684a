/* space_internal.h — what space.c (the driver and the CPU spaces) and
 * space_cuda.c (the GPU spaces) share: a builder that checks each candidate
 * with ts_tune_check, drops duplicates and counts refusals. */
#ifndef TESSERA_AUTOTUNE_SPACE_INTERNAL_H
#define TESSERA_AUTOTUNE_SPACE_INTERNAL_H

#include "autotune/autotune.h"

struct ts_space_builder {
    const struct ts_kernel *k;        /* the kernel the space is for */
    struct ts_kernel probe;           /* a copy of it carrying the candidate being checked */
    const struct ts_tune_target *t;
    struct ts_tune_space *out;
    int cap;                          /* allocated entries of out->cands */
    bool nomem;                       /* an allocation failed: the build fails */
};

/* Appends s (its target's fields; the others the kernel's own) unless it
 * equals a candidate already there in the target's fields; checks it first
 * with ts_tune_check, counting a refusal in out->rejected (the first
 * message kept). Returns whether it was added. */
bool ts_space_add(struct ts_space_builder *b, const union ts_sched *s);

/* The GPU space of b->k (space_cuda.c); the default is already at index 0. */
void ts_space_cuda(struct ts_space_builder *b, const struct ts_cuda_arch *arch);

#endif
