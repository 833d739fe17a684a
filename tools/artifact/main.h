/* main.h — private to the standalone executable of a compiled model (main.c,
 * report.c): what it prints about a run. */
#ifndef TESSERA_ARTIFACT_MAIN_H
#define TESSERA_ARTIFACT_MAIN_H

#include <stdio.h>

#include "ir/ir.h"

struct ts_exe_report {
    const char *model;              /* the artifact's name */
    const char *cpu;                /* what its kernels were compiled for (the GPU arch for cuda) */
    bool cuda;                      /* a --target cuda model: no threads */
    int threads;
    const char *const *names;       /* output names */
    const struct ts_tensor *outputs;
    int n;
    const char *inputs_file;        /* NULL when filled */
    const char *fill;               /* "random", "zeros", "ones" */
    uint64_t seed;
    double median_ms, min_ms, max_ms;
    int repeat;
};

void ts_exe_print_outputs(const struct ts_exe_report *r, FILE *f);
void ts_exe_print_outputs_json(const struct ts_exe_report *r, FILE *f);

#endif
