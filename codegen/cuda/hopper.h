/* hopper.h — sm_90a kernel templates (issue #8): a warp-specialized GEMM fed
 * by TMA into an mbarrier ring and multiplied with wgmma. Generated as a
 * self-contained CUDA C translation unit; nothing in the default GEMM path
 * uses it yet (TESSERA_HOPPER=1 is reserved for the wiring, read nowhere). */
#ifndef TESSERA_CODEGEN_CUDA_HOPPER_H
#define TESSERA_CODEGEN_CUDA_HOPPER_H

#include "codegen/codegen.h"

/* C[M,N] = A[M,K] · B[N,K]ᵀ (+ bias[N]) (→ gelu_tanh), f32 accumulation.
 * A row-major, B given as [N,K] (K contiguous: the K-major layout wgmma reads
 * for both operands), C row-major [M,N]. */
struct tsc_hopper_gemm_cfg {
    int bm;            /* rows per tile: 64 · consumers · {1,2} (default 128) */
    int bn;            /* columns per tile: 64, 128, 192 or 256 (one wgmma n) */
    int bk;            /* 64: one 128-byte swizzle row of 16-bit elements */
    int stages;        /* shared-memory ring depth, 2..8 (within 227 KiB) */
    int consumers;     /* consumer warpgroups, 1 or 2 (+ one producer) */
    int group_m;       /* tile rows per group of the swizzled order (default 8) */
    enum ts_dtype in;  /* TS_F16 or TS_BF16: A and B */
    enum ts_dtype out; /* TS_F16, TS_BF16 or TS_F32: C, and the bias's dtype */
    bool bias;         /* add bias[col] */
    bool gelu;         /* then gelu (tanh form, as math.cuh's ts_gelu_tanh) */
    const char *name;  /* the kernel's symbol (default "ts_hopper_gemm") */
};

/* Kernel ABI of the generated source:
 *   extern "C" __global__ void NAME(const __grid_constant__ TsTensorMap tma_a,
 *       const __grid_constant__ TsTensorMap tma_b, OUT *c, const OUT *bias,
 *       int M, int N, int K)
 * TsTensorMap is CUtensorMap (128 bytes, 128-byte aligned as in CUDA 13's
 * cuda.h). OUT is float or unsigned short (f16/bf16 bits); bias may be NULL
 * when cfg.bias is false.
 * The runtime builds the maps with cuTensorMapEncodeTiled: 2-D, the input
 * dtype, dims {K, M} / {K, N}, row stride K·2 bytes (so K % 8 == 0), box
 * {bk, bm} / {bk, bn}, element strides {1, 1}, interleave none, swizzle 128B,
 * L2 promotion 256B, OOB fill zeros (edges in M, N and K need nothing else).
 * Launch: persistent, grid = min(#SMs, tiles), block = launch.block[0]
 * threads, launch.shared_bytes of dynamic shared memory (raise the limit with
 * cuFuncSetAttribute first). */
enum ts_status tsc_hopper_gemm_check(const struct tsc_hopper_gemm_cfg *cfg, struct ts_diag *d);
int64_t tsc_hopper_gemm_shared_bytes(const struct tsc_hopper_gemm_cfg *cfg);
/* Writes the translation unit to *out (malloc'd) and the block size and
 * dynamic shared memory to launch (grid left 0: it depends on M, N and the
 * GPU). TS_ERR_UNSUPPORTED naming the broken rule for an illegal cfg. */
enum ts_status tsc_hopper_gemm_source(const struct tsc_hopper_gemm_cfg *cfg, char **out,
                                      struct ts_cuda_launch *launch, struct ts_diag *d);

#endif
