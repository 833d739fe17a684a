/* target.c — the compilation targets and whether this build can generate
 * code for each (the CPU backend needs LLVM 19; the CUDA backend the toolkit's
 * headers at build time). Whether a GPU and its driver exist is a question for
 * run time (runtime/cuda), not for this check: compiling needs neither. */
#include <string.h>

#include "codegen/codegen.h"

static const char *const target_names[TS_TARGET_COUNT] = {"ref", "cpu", "cuda"};

const char *ts_target_name(enum ts_target t) {
    TS_ASSERT(t >= 0 && t < TS_TARGET_COUNT);
    return target_names[t];
}

bool ts_target_from_name(const char *name, enum ts_target *out) {
    for (int i = 0; i < TS_TARGET_COUNT; i++) {
        if (strcmp(name, target_names[i]) == 0) {
            *out = (enum ts_target)i;
            return true;
        }
    }
    return false;
}

enum ts_status ts_codegen_check_target(enum ts_target t, struct ts_diag *d) {
    switch (t) {
    case TS_TARGET_REF:
        return TS_OK;
    case TS_TARGET_CPU:
        if (TESSERA_HAVE_LLVM) return TS_OK;
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "--target cpu",
                           "this tessera was built without LLVM 19: install llvm-19-dev "
                           "(scripts/setup.sh does) and rebuild, or use --target ref");
    case TS_TARGET_CUDA:
        if (TESSERA_HAVE_CUDA_HEADERS) return TS_OK;
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "--target cuda",
                           "this tessera was built without the CUDA toolkit headers (cuda.h, nvrtc.h): "
                           "install the toolkit and rebuild, or use --target cpu or ref");
    default:
        TS_ASSERT(!"unknown target");
    }
}
