/* hopper.h — sm_90a kernel templates (issue #8): a warp-specialized GEMM fed
 * by TMA into an mbarrier ring and multiplied with wgmma, and a
 * FlashAttention-3-style attention. Each can be generated as a
 * self-contained CUDA C translation unit (the offline tests); the GEMM's
 * pieces also build program kernels (emit_gemm_wgmma.c) when a schedule
 * says instr wgmma, which only TESSERA_HOPPER=1 allows. The attention is
 * not reachable from a program yet. */
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

/* The pieces emit_gemm_wgmma.c builds a program's GEMM kernel from (the
 * template above is the same pieces around its own epilogue):
 * the TSH_* defines, device helpers (once per translation unit) and the
 * wgmma of cfg; the kernel body up to the epilogue, which expects
 * parameters tma_a, tma_b and ints M, N, K in scope and leaves, per tile,
 * acc[TSH_MI][TSH_BN / 2] with row0/col0 (accumulator i of m64 block mi is
 * row row0 + mi·64 + 8·((i >> 1) & 1), column col0 + 8·(i >> 2) + (i & 1));
 * the closing braces; and the #undefs that let another kernel follow. */
int tsc_hopper_gemm_threads(const struct tsc_hopper_gemm_cfg *cfg);
struct tsc_src;
void tsc_hopper_gemm_emit_defs(struct tsc_src *s, const struct tsc_hopper_gemm_cfg *cfg);
extern const char tsc_hopper_gemm_mainloop[];
extern const char tsc_hopper_gemm_close[];
void tsc_hopper_gemm_emit_undefs(struct tsc_src *s);

/* FlashAttention-3-style forward attention for sm_90a (issue #8): q [B, Hq,
 * Sq, D], k and v [B, Hkv, Sk, D] (D contiguous), o [B, Hq, Sq, D] in the
 * input dtype; f32 softmax state. Not wired into any default path. */
struct tsc_hopper_attention_cfg {
    int head_dim;      /* D: 64 or 128 */
    int bn;            /* keys per tile: 64 or 128 (default 128; one wgmma n) */
    int stages;        /* K/V ring depth, 2..4 (default 2; within 227 KiB) */
    int consumers;     /* consumer warpgroups, 1 or 2, 64 query rows each (default 2) */
    enum ts_dtype dtype; /* TS_F16 or TS_BF16: q, k, v and o */
    bool causal;       /* bottom-right: query i sees keys j <= i + (Sk - Sq) */
    bool pingpong;     /* the 2 consumers alternate tensor-core windows (named barriers) */
    const char *name;  /* the kernel's symbol (default "ts_hopper_attention") */
};

/* Kernel ABI of the generated source:
 *   extern "C" __global__ void NAME(const __grid_constant__ TsTensorMap tma_q,
 *       const __grid_constant__ TsTensorMap tma_k, const __grid_constant__
 *       TsTensorMap tma_v, unsigned short *o, int sq, int sk, int hq, int hkv,
 *       float scale_log2)
 * scale_log2 = softmax scale · log2(e) (> 0); hq % hkv == 0 (grouped query:
 * kv head = q head / (hq / hkv)). The maps are 3-D, the dtype, dims {D, S,
 * B·H}, strides {D·2, S·D·2} bytes, box {64, rows, 1} with rows = 64 ·
 * consumers for q and bn for k and v, swizzle 128B, OOB fill zeros.
 * Launch: grid {ceil(Sq / (64 · consumers)), Hq, B}, block launch.block[0],
 * launch.shared_bytes of dynamic shared memory (raise the limit first). */
enum ts_status tsc_hopper_attention_check(const struct tsc_hopper_attention_cfg *cfg, struct ts_diag *d);
int64_t tsc_hopper_attention_shared_bytes(const struct tsc_hopper_attention_cfg *cfg);
enum ts_status tsc_hopper_attention_source(const struct tsc_hopper_attention_cfg *cfg, char **out,
                                           struct ts_cuda_launch *launch, struct ts_diag *d);

/* hopper_ptx.c: device helpers both templates begin with (TsTensorMap,
 * mbarriers, the 128B-swizzled wgmma descriptor, wgmma fence/commit/wait). */
extern const char tsc_hopper_ptx_helpers[];
/* The generators' last step: the source into *out (or out of memory, freed)
 * and the launch's block and dynamic shared memory. */
enum ts_status tsc_hopper_finish(struct tsc_src *s, const char *name, const char *what, int threads,
                                 int64_t shared_bytes, char **out, struct ts_cuda_launch *launch, struct ts_diag *d);

#endif
