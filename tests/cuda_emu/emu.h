/* emu.h — the device names of codegen/cuda/prelude/primitives.cuh defined for
 * the host, so that the CUDA C tessera generates compiles with g++ and runs on
 * the fiber emulator of emu_runtime.cpp (-DTS_EMULATE -include emu.h).
 * Semantics follow the PTX ISA as primitives.cuh documents them; warp
 * collectives, barriers and cp.async groups are checked for misuse. */
#ifndef TS_EMU_H
#define TS_EMU_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- CUDA keywords --------------------------------------------------------- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
/* One block runs at a time, so a block's static shared arrays are statics,
 * kept in a section of their own that each block starts by filling with
 * garbage (as it does the dynamic buffer). */
#define __shared__ static __attribute__((section("ts_emu_shared")))
#define __constant__ static

typedef unsigned char ts_u8;
typedef unsigned short ts_u16;
typedef unsigned int ts_u32;
typedef int ts_i32;
typedef long long ts_i64;
typedef unsigned long long ts_u64;

#define TS_DEVICE static inline
#define TS_EMU_HIDDEN __attribute__((visibility("hidden")))

/* ---- the runtime's state (emu_runtime.cpp) ----------------------------------- */
struct ts_emu_dim3 {
    unsigned x, y, z;
};
extern "C" {
/* threadIdx is rewritten by the scheduler on every fiber switch. */
extern TS_EMU_HIDDEN ts_emu_dim3 ts_emu_thread_idx, ts_emu_block_idx, ts_emu_block_dim, ts_emu_grid_dim;
extern TS_EMU_HIDDEN unsigned char *ts_emu_smem; /* the block's dynamic shared memory */
extern TS_EMU_HIDDEN unsigned ts_emu_smem_bytes;

TS_EMU_HIDDEN void ts_emu_syncthreads(int line);
TS_EMU_HIDDEN uint64_t ts_emu_shfl(uint64_t v, int idx_mode, int arg, int line);
TS_EMU_HIDDEN void ts_emu_ldmatrix(ts_u32 *r, int nmat, bool trans, const void *smem, int line);
enum { TS_EMU_MMA_F16, TS_EMU_MMA_BF16, TS_EMU_MMA_TF32 };
TS_EMU_HIDDEN void ts_emu_mma(int kind, float d[4], const ts_u32 a[4], const ts_u32 b[2], int line);
TS_EMU_HIDDEN void ts_emu_cp_async(void *smem, const void *gmem, int size, int src_bytes, int line);
TS_EMU_HIDDEN void ts_emu_cp_async_commit(void);
TS_EMU_HIDDEN void ts_emu_cp_async_wait(int n);
/* Stops the launch with a message (misuse the hardware would fault on). */
TS_EMU_HIDDEN void ts_emu_fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
}

static const ts_emu_dim3 &threadIdx = ts_emu_thread_idx;
static const ts_emu_dim3 &blockIdx = ts_emu_block_idx;
static const ts_emu_dim3 &blockDim = ts_emu_block_dim;
static const ts_emu_dim3 &gridDim = ts_emu_grid_dim;

/* extern __shared__ unsigned char name[]: a name for the block's buffer. */
#define TS_SMEM_DECLARE(name) unsigned char *const &name = ts_emu_smem

/* CUDA's device-side helpers that host libm lacks. */
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
static inline float __fdividef(float a, float b) { return a / b; }
/* CUDA's integer and float min/max overloads (mixed operand types promote). */
template <class A, class B> static inline auto min(A a, B b) -> decltype(a + b) { return a < b ? a : b; }
template <class A, class B> static inline auto max(A a, B b) -> decltype(a + b) { return a > b ? a : b; }

/* ---- indices, barrier, shuffles ------------------------------------------------ */
TS_DEVICE ts_u32 ts_lane(void) { return threadIdx.x & 31u; }
TS_DEVICE ts_u32 ts_warp(void) { return threadIdx.x >> 5; }
/* __builtin_LINE() as a default argument is the caller's line: messages name
 * the kernel's line and divergent barriers are told apart by it. */
TS_DEVICE void ts_syncthreads(int line = __builtin_LINE()) { ts_emu_syncthreads(line); }
#define __syncthreads() ts_emu_syncthreads(__LINE__)

TS_DEVICE ts_u32 ts_as_u32(float f) {
    ts_u32 u;
    memcpy(&u, &f, 4);
    return u;
}
TS_DEVICE float ts_as_f32(ts_u32 u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
TS_DEVICE ts_u64 ts_as_u64(double f) {
    ts_u64 u;
    memcpy(&u, &f, 8);
    return u;
}
TS_DEVICE double ts_as_f64(ts_u64 u) {
    double f;
    memcpy(&f, &u, 8);
    return f;
}

TS_DEVICE float ts_shfl_xor_f32(float v, int mask, int line = __builtin_LINE()) {
    return ts_as_f32((ts_u32)ts_emu_shfl(ts_as_u32(v), 0, mask, line));
}
TS_DEVICE double ts_shfl_xor_f64(double v, int mask, int line = __builtin_LINE()) {
    return ts_as_f64(ts_emu_shfl(ts_as_u64(v), 0, mask, line));
}
TS_DEVICE ts_i64 ts_shfl_xor_i64(ts_i64 v, int mask, int line = __builtin_LINE()) {
    return (ts_i64)ts_emu_shfl((uint64_t)v, 0, mask, line);
}
TS_DEVICE float ts_shfl_idx_f32(float v, int src, int line = __builtin_LINE()) {
    return ts_as_f32((ts_u32)ts_emu_shfl(ts_as_u32(v), 1, src, line));
}

/* ---- atomics (fibers are cooperative: plain operations are atomic) ------------ */
TS_DEVICE int ts_atomic_add_i32(int *p, int v) {
    int old = *p;
    *p = (int)((unsigned)old + (unsigned)v);
    return old;
}
TS_DEVICE int ts_atomic_cas_i32(int *p, int compare, int v) {
    int old = *p;
    if (old == compare) *p = v;
    return old;
}
TS_DEVICE void ts_threadfence(void) {}
TS_DEVICE void ts_raise(int *error, int e) {
    if (error) ts_atomic_cas_i32(error, 0, e);
}

/* ---- f16 / bf16 / tf32, in software (round to nearest even; NaN stays NaN) ----- */
TS_DEVICE float ts_f16_to_f32(ts_u16 h) {
    ts_u32 sign = (ts_u32)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) return sign ? -ldexpf((float)m, -24) : ldexpf((float)m, -24);
    if (e == 31) return ts_as_f32(sign | 0x7f800000u | (m << 13));
    return ts_as_f32(sign | ((e + 112u) << 23) | (m << 13));
}
/* Magnitude m·2^-shift rounded to nearest even (shift ≥ 1). */
TS_DEVICE ts_u64 ts_emu_rne_shift(ts_u64 m, int shift) {
    if (shift >= 64) return 0;
    ts_u64 q = m >> shift, rem = m & ((1ull << shift) - 1), half = 1ull << (shift - 1);
    return q + (rem > half || (rem == half && (q & 1)));
}
TS_DEVICE ts_u16 ts_f32_to_f16(float f) {
    ts_u32 x = ts_as_u32(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return 0x7fff;                 /* NaN */
    if (ax >= 0x477ff000u) return (ts_u16)(sign | 0x7c00u); /* ≥ 65520 rounds to inf */
    ts_u32 e = ax >> 23, m = ax & 0x7fffffu;
    if (e < 113) {                                       /* below 2^-14: f16 subnormal or 0 */
        if (e == 0) return (ts_u16)sign;
        return (ts_u16)(sign | ts_emu_rne_shift(m | 0x800000u, (int)(126 - e)));
    }
    return (ts_u16)(sign | ts_emu_rne_shift(((ts_u64)(e - 112) << 23) | m, 13));
}
TS_DEVICE ts_u16 ts_f64_to_f16(double f) {
    ts_u64 x = ts_as_u64(f), ax = x & 0x7fffffffffffffffull;
    ts_u32 sign = (ts_u32)(x >> 48) & 0x8000u;
    if (ax > 0x7ff0000000000000ull) return 0x7fff;
    if (ax >= 0x40effe0000000000ull) return (ts_u16)(sign | 0x7c00u); /* ≥ 65520 */
    ts_u64 e = ax >> 52, m = ax & 0xfffffffffffffull;
    if (e < 1009) {
        if (e == 0) return (ts_u16)sign;
        return (ts_u16)(sign | ts_emu_rne_shift(m | (1ull << 52), (int)(1051 - e)));
    }
    return (ts_u16)(sign | ts_emu_rne_shift(((e - 1008) << 52) | m, 42));
}
TS_DEVICE float ts_bf16_to_f32(ts_u16 h) { return ts_as_f32((ts_u32)h << 16); }
TS_DEVICE ts_u16 ts_f32_to_bf16(float f) {
    ts_u32 x = ts_as_u32(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
    return (ts_u16)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
TS_DEVICE ts_u32 ts_pack_f16x2(float lo, float hi) {
    return (ts_u32)ts_f32_to_f16(lo) | ((ts_u32)ts_f32_to_f16(hi) << 16);
}
TS_DEVICE ts_u32 ts_pack_bf16x2(float lo, float hi) {
    return (ts_u32)ts_f32_to_bf16(lo) | ((ts_u32)ts_f32_to_bf16(hi) << 16);
}
/* cvt.rna.tf32.f32: keep 10 mantissa bits, ties away from zero. */
TS_DEVICE ts_u32 ts_f32_to_tf32(float f) {
    ts_u32 x = ts_as_u32(f), ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return 0x7fffffffu;
    if (ax == 0x7f800000u) return x;
    return (x + 0x1000u) & 0xffffe000u;
}

/* ---- cp.async, ldmatrix, mma ------------------------------------------------ */
/* The emulator has no separate shared address space: the "address" is the
 * offset in the dynamic buffer (kernels should not need it). */
TS_DEVICE ts_u32 ts_smem_addr(const void *p) { return (ts_u32)((const unsigned char *)p - ts_emu_smem); }
TS_DEVICE void ts_cp_async_16(void *smem, const void *gmem, int src_bytes, int line = __builtin_LINE()) {
    ts_emu_cp_async(smem, gmem, 16, src_bytes, line);
}
TS_DEVICE void ts_cp_async_8(void *smem, const void *gmem, int src_bytes, int line = __builtin_LINE()) {
    ts_emu_cp_async(smem, gmem, 8, src_bytes, line);
}
TS_DEVICE void ts_cp_async_4(void *smem, const void *gmem, int src_bytes, int line = __builtin_LINE()) {
    ts_emu_cp_async(smem, gmem, 4, src_bytes, line);
}
TS_DEVICE void ts_cp_async_commit(void) { ts_emu_cp_async_commit(); }
template <int N> TS_DEVICE void ts_cp_async_wait(void) {
    static_assert(N >= 0, "cp.async.wait_group takes N >= 0");
    ts_emu_cp_async_wait(N);
}

TS_DEVICE void ts_ldmatrix_x1(ts_u32 r[1], const void *smem, int line = __builtin_LINE()) {
    ts_emu_ldmatrix(r, 1, false, smem, line);
}
TS_DEVICE void ts_ldmatrix_x2(ts_u32 r[2], const void *smem, int line = __builtin_LINE()) {
    ts_emu_ldmatrix(r, 2, false, smem, line);
}
TS_DEVICE void ts_ldmatrix_x4(ts_u32 r[4], const void *smem, int line = __builtin_LINE()) {
    ts_emu_ldmatrix(r, 4, false, smem, line);
}
TS_DEVICE void ts_ldmatrix_x2_trans(ts_u32 r[2], const void *smem, int line = __builtin_LINE()) {
    ts_emu_ldmatrix(r, 2, true, smem, line);
}
TS_DEVICE void ts_ldmatrix_x4_trans(ts_u32 r[4], const void *smem, int line = __builtin_LINE()) {
    ts_emu_ldmatrix(r, 4, true, smem, line);
}

TS_DEVICE void ts_mma_m16n8k16_f16(float d[4], const ts_u32 a[4], const ts_u32 b[2], int line = __builtin_LINE()) {
    ts_emu_mma(TS_EMU_MMA_F16, d, a, b, line);
}
TS_DEVICE void ts_mma_m16n8k16_bf16(float d[4], const ts_u32 a[4], const ts_u32 b[2], int line = __builtin_LINE()) {
    ts_emu_mma(TS_EMU_MMA_BF16, d, a, b, line);
}
TS_DEVICE void ts_mma_m16n8k8_tf32(float d[4], const ts_u32 a[4], const ts_u32 b[2], int line = __builtin_LINE()) {
    ts_emu_mma(TS_EMU_MMA_TF32, d, a, b, line);
}

#endif
