/* codegen.h — the one public header of codegen/: kernel emitters for the CPU
 * (LLVM IR through the LLVM C API, issue #3) and the GPU (CUDA C through
 * NVRTC, issue #4). Until they land, this reports what is not built yet. */
#ifndef TESSERA_CODEGEN_H
#define TESSERA_CODEGEN_H

#include "ir/ir.h"

/* Targets a graph can be compiled for. */
enum ts_target {
    TS_TARGET_REF,  /* the reference interpreter (no code generation) */
    TS_TARGET_CPU,  /* LLVM-generated CPU kernels */
    TS_TARGET_CUDA, /* NVRTC-generated CUDA kernels */
    TS_TARGET_COUNT
};

const char *ts_target_name(enum ts_target t);
bool ts_target_from_name(const char *name, enum ts_target *out);
/* TS_OK if this build can generate code for t; otherwise TS_ERR_UNSUPPORTED
 * with a one-line reason in d. */
enum ts_status ts_codegen_check_target(enum ts_target t, struct ts_diag *d);

#endif
