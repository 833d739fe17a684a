/* gemm_plan.h — what a GEMM kernel's gpu schedule implies for the code
 * (main loop, shared layouts, copy widths, threads, shared memory, split-K
 * workspace): computed once by sched_gemm.c for both the legality check and
 * emit_gemm.c, so the launch the emitter reports matches the templates of
 * prelude/gemm.cuh. Only sched_gemm.c and emit_gemm.c include it. */
#ifndef TESSERA_CODEGEN_CUDA_GEMM_PLAN_H
#define TESSERA_CODEGEN_CUDA_GEMM_PLAN_H

#include "internal.h"

/* Values of the TS_GEMM_DT_*, TS_GEMM_KMAJOR/RMAJOR macros of gemm.cuh. */
enum { TSC_GEMM_KMAJOR = 0, TSC_GEMM_RMAJOR = 1 };

struct tsc_gemm_plan {
    enum ts_gemm_instr instr;     /* resolved: never AUTO */
    int nbatch;                   /* rank - 2 (0 for rank < 2) */
    int64_t batch, m, n, kdim;    /* batch = product of the batch dims */
    int64_t sam, sak, sbn, sbk;   /* A (m, k) and B (n, k) element strides */
    int adt, bdt;                 /* TS_GEMM_DT_* of A and B */
    int alay, blay;               /* shared layouts (tensor-core path) */
    int avec, bvec;               /* elements per global copy (tensor-core path) */
    int threads, nacc;            /* block size; accumulators per thread */
    int64_t tiles_m, tiles_n;
    int64_t smem;                 /* dynamic shared bytes (16 for the split-K flag included) */
    int64_t workspace;            /* split-K bytes, 0 without split-K */
};

/* The sm_90a template configuration (hopper.h) of a wgmma schedule: bm, bn,
 * bk and stages as given, consumers = bm / wm, group_m = swizzle, the
 * operands' dtype; no bias or gelu of its own (the program's epilogue is
 * emitted per accumulator). */
void tsc_gemm_wgmma_cfg(const struct ts_kernel *k, struct tsc_hopper_gemm_cfg *cfg);
/* emit_gemm_wgmma.c: the kernel for a plan whose instr is wgmma. */
enum ts_status tsc_emit_gemm_wgmma(struct tsc_emit *e, const struct tsc_gemm_plan *p, struct ts_diag *d);

/* The plan for k's gpu schedule (instr AUTO resolved from the dtypes; TF32
 * becomes SIMT when strict_f32). TS_ERR_UNSUPPORTED naming the kernel and
 * the rule when the schedule or the operands cannot be compiled. */
enum ts_status tsc_gemm_plan(const struct ts_kernel *k, const struct ts_cuda_arch *a, bool strict_f32,
                             struct tsc_gemm_plan *p, struct ts_diag *d);

#endif
