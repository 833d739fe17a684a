/* compile_cuda.c — the GPU half of `tessera compile --target cuda`: picks the
 * arch (--arch, else the GPU present, else TS_CUDA_DEFAULT_ARCH: compiling
 * needs no GPU), renders the program as CUDA C, compiles it with NVRTC to a
 * cubin and PTX, and puts each kernel's launch geometry into the plan. */
#include <stdlib.h>

#include "autotune/autotune.h"
#include "runtime/runtime.h"
#include "tools/cli.h"

enum ts_status ts_compile_cuda_code(const struct ts_program *p, const char *arch, bool strict_f32,
                                    struct ts_rt_plan *plan, struct ts_cuda_code **code, const char ***symbols,
                                    struct ts_diag *d) {
    *code = NULL;
    *symbols = NULL;
    struct ts_rt_cuda_info gpu;
    char err[512];
    if (!arch) arch = ts_rt_cuda_probe(0, &gpu, err, sizeof err) == 0 ? gpu.arch : TS_CUDA_DEFAULT_ARCH;
    struct ts_cuda_opts co = {.arch = arch, .strict_f32 = strict_f32};
    TS_TRY(ts_cuda_codegen(p, &co, code, d));
    TS_TRY(ts_cuda_code_compile(*code, d));
    size_t n = 0;
    if (!ts_cuda_code_cubin(*code, &n) || n == 0 || !ts_cuda_code_ptx(*code, &n))
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, p->graph->path, "--target cuda",
                           "NVRTC gave no cubin or no PTX for %s (a tessera bug)", ts_cuda_code_arch(*code)->name);
    ts_plan_set_cuda_launches(plan, *code);
    *symbols = calloc((size_t)p->nkernels + 1, sizeof **symbols);
    if (!*symbols) return ts_diag_set(d, TS_ERR_NOMEM, p->graph->path, "", "out of memory");
    for (int i = 0; i < p->nkernels; i++) (*symbols)[i] = ts_cuda_code_symbol(*code, i);
    return TS_OK;
}
