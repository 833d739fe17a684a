/* primitives.cuh — the device operations every generated kernel is written in:
 * types, thread and warp indices, barriers, shuffles, atomics, the error word,
 * f16/bf16/tf32 conversions, cp.async, ldmatrix and mma.sync. Each is one
 * inline-PTX or CUDA built-in line whose meaning is the PTX ISA's.
 *
 * Kernels use nothing device-specific outside this file and threadIdx,
 * blockIdx, blockDim, gridDim. tests/cuda_emu/emu.h defines the same names
 * with the same meaning for the host (TS_EMULATE), so the emulator runs the
 * very text NVRTC compiles. Blocks are one-dimensional (threadIdx.x only).
 * No standard header is included: NVRTC has none by default. */
#ifndef TS_EMULATE

typedef unsigned char ts_u8;
typedef unsigned short ts_u16;
typedef unsigned int ts_u32;
typedef int ts_i32;
typedef long long ts_i64;
typedef unsigned long long ts_u64;

#define TS_DEVICE static __device__ __forceinline__
/* The block's dynamic shared memory (ts_cuda_launch.shared_bytes of it). */
#define TS_SMEM_DECLARE(name) extern __shared__ __align__(128) unsigned char name[]

TS_DEVICE ts_u32 ts_lane(void) { return threadIdx.x & 31u; }
TS_DEVICE ts_u32 ts_warp(void) { return threadIdx.x >> 5; }
TS_DEVICE void ts_syncthreads(void) { __syncthreads(); }

/* Butterfly and indexed shuffles over the full warp (every lane takes part). */
TS_DEVICE float ts_shfl_xor_f32(float v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }
TS_DEVICE double ts_shfl_xor_f64(double v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }
TS_DEVICE ts_i64 ts_shfl_xor_i64(ts_i64 v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }
TS_DEVICE float ts_shfl_idx_f32(float v, int src) { return __shfl_sync(0xffffffffu, v, src); }

TS_DEVICE float ts_as_f32(ts_u32 u) { return __uint_as_float(u); }
TS_DEVICE ts_u32 ts_as_u32(float f) { return __float_as_uint(f); }
TS_DEVICE double ts_as_f64(ts_u64 u) { return __longlong_as_double((long long)u); }
TS_DEVICE ts_u64 ts_as_u64(double f) { return (ts_u64)__double_as_longlong(f); }

/* Global-memory atomics and ordering (split-K tile counters). */
TS_DEVICE int ts_atomic_add_i32(int *p, int v) { return atomicAdd(p, v); }
TS_DEVICE int ts_atomic_cas_i32(int *p, int compare, int v) { return atomicCAS(p, compare, v); }
TS_DEVICE void ts_threadfence(void) { __threadfence(); }
/* Records run-time error e (> 0) unless an earlier one is recorded. */
TS_DEVICE void ts_raise(int *error, int e) {
    if (error) atomicCAS(error, 0, e);
}

/* f16 and bf16 are carried as raw bits (ts_u16). Conversions round to
 * nearest even; NaN stays NaN. */
TS_DEVICE float ts_f16_to_f32(ts_u16 h) {
    float f;
    asm("{ .reg .f16 t; mov.b16 t, %1; cvt.f32.f16 %0, t; }" : "=f"(f) : "h"(h));
    return f;
}
TS_DEVICE ts_u16 ts_f32_to_f16(float f) {
    ts_u16 h;
    asm("{ .reg .f16 t; cvt.rn.f16.f32 t, %1; mov.b16 %0, t; }" : "=h"(h) : "f"(f));
    return h;
}
TS_DEVICE ts_u16 ts_f64_to_f16(double f) {
    ts_u16 h;
    asm("{ .reg .f16 t; cvt.rn.f16.f64 t, %1; mov.b16 %0, t; }" : "=h"(h) : "d"(f));
    return h;
}
TS_DEVICE float ts_bf16_to_f32(ts_u16 h) { return __uint_as_float((ts_u32)h << 16); }
TS_DEVICE ts_u16 ts_f32_to_bf16(float f) {
    ts_u16 h;
    asm("{ .reg .b16 t; cvt.rn.bf16.f32 t, %1; mov.b16 %0, t; }" : "=h"(h) : "f"(f));
    return h;
}
/* Two values into one register as mma operands: lo in bits 0-15, hi in 16-31
 * (cvt.rn.f16x2.f32 d, a, b puts a in the upper half). */
TS_DEVICE ts_u32 ts_pack_f16x2(float lo, float hi) {
    ts_u32 r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
TS_DEVICE ts_u32 ts_pack_bf16x2(float lo, float hi) {
    ts_u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
/* f32 rounded to tf32 (10-bit mantissa, nearest, ties away from zero), as
 * the bits of an f32: the operand form of the tf32 mma. */
TS_DEVICE ts_u32 ts_f32_to_tf32(float f) {
    ts_u32 r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(f));
    return r;
}

/* cp.async: copies from global to shared memory without passing through
 * registers. 'src_bytes' (0 … size) are read from gmem and the rest of the
 * destination is zero-filled; gmem must be a valid address even when
 * src_bytes is 0. Sizes 4, 8 and 16; destinations and sources aligned to the
 * size. Copies issued since the last commit form one group; wait<N> blocks
 * until at most N of this thread's groups are still in flight. The copies
 * are visible to other threads only after wait and a barrier. */
TS_DEVICE ts_u32 ts_smem_addr(const void *p) { return (ts_u32)__cvta_generic_to_shared(p); }
TS_DEVICE void ts_cp_async_16(void *smem, const void *gmem, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(ts_smem_addr(smem)), "l"(gmem),
                 "r"(src_bytes));
}
TS_DEVICE void ts_cp_async_8(void *smem, const void *gmem, int src_bytes) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(ts_smem_addr(smem)), "l"(gmem),
                 "r"(src_bytes));
}
TS_DEVICE void ts_cp_async_4(void *smem, const void *gmem, int src_bytes) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(ts_smem_addr(smem)), "l"(gmem),
                 "r"(src_bytes));
}
TS_DEVICE void ts_cp_async_commit(void) { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> TS_DEVICE void ts_cp_async_wait(void) { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

/* ldmatrix: lanes 8j … 8j+7 give the row addresses (16 bytes each, 16-byte
 * aligned, shared memory) of 8×8 b16 matrix j; register j of lane l gets
 * row l/4, elements 2·(l%4) and 2·(l%4)+1 of matrix j (low half first), or
 * with _trans the same of the transposed matrix. x1 reads addresses from
 * lanes 0-7, x2 from lanes 0-15, x4 from all 32 (every lane must pass one). */
TS_DEVICE void ts_ldmatrix_x1(ts_u32 r[1], const void *smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(ts_smem_addr(smem)));
}
TS_DEVICE void ts_ldmatrix_x2(ts_u32 r[2], const void *smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(ts_smem_addr(smem)));
}
TS_DEVICE void ts_ldmatrix_x4(ts_u32 r[4], const void *smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(ts_smem_addr(smem)));
}
TS_DEVICE void ts_ldmatrix_x2_trans(ts_u32 r[2], const void *smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(ts_smem_addr(smem)));
}
TS_DEVICE void ts_ldmatrix_x4_trans(ts_u32 r[4], const void *smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(ts_smem_addr(smem)));
}

/* mma.sync, D = A·B + D, row-major A (16×k) and column-major B (k×8), f32 D.
 * With g = lane/4 and t = lane%4 (PTX ISA, "Matrix fragments for mma.m16n8k16"):
 *   m16n8k16 f16/bf16: a[0] = A[g][2t, 2t+1]   a[1] = A[g+8][2t, 2t+1]
 *                      a[2] = A[g][2t+8, +9]   a[3] = A[g+8][2t+8, +9]
 *                      b[0] = B[2t, 2t+1][g]   b[1] = B[2t+8, +9][g]   (low half = lower k)
 *   m16n8k8 tf32:      a[0] = A[g][t]  a[1] = A[g+8][t]  a[2] = A[g][t+4]  a[3] = A[g+8][t+4]
 *                      b[0] = B[t][g]  b[1] = B[t+4][g]
 *   D (both):          d[0] = D[g][2t]  d[1] = D[g][2t+1]  d[2] = D[g+8][2t]  d[3] = D[g+8][2t+1] */
TS_DEVICE void ts_mma_m16n8k16_f16(float d[4], const ts_u32 a[4], const ts_u32 b[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
TS_DEVICE void ts_mma_m16n8k16_bf16(float d[4], const ts_u32 a[4], const ts_u32 b[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
TS_DEVICE void ts_mma_m16n8k8_tf32(float d[4], const ts_u32 a[4], const ts_u32 b[2]) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

#endif /* TS_EMULATE */
