/* peak_cpu.c — the CPU's f32 FMA ceiling, measured rather than assumed.
 * "cores × GHz × 2 FMA pipes × lanes" is wrong often enough to mislead: Zen 4
 * runs 512-bit FMAs on two 256-bit pipes (half the formula), some Xeons have
 * one 512-bit FMA port, and two vCPUs of a VM may be one core's hyperthreads.
 * So every worker of the pool runs independent FMA chains at once (12 of
 * them, more than latency × pipes on any current core) for about 5 ms, and
 * the ceiling is the FLOP/s they reach together, the best of 20 runs. */
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "autotune/autotune.h"
#include "runtime/runtime.h"

/* ITERS: ~5 ms per run on a 4 GHz core with one 512-bit FMA a cycle, long
 * enough that the workers' staggered wake-ups (tens of µs) do not count. */
enum { CHAINS = 12, ITERS = 2000000 };

#if defined(__x86_64__)
/* Each iteration: CHAINS FMAs of `lanes` floats, 2 FLOP per lane. The chains
 * multiply by ~1 and add ~0, so the values stay finite and normal. */
__attribute__((target("avx512f"))) static float fma_chains_512(void) {
    __m512 acc[CHAINS], m = _mm512_set1_ps(0.9999999f), a = _mm512_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps(1.0f + (float)c);
    for (int i = 0; i < ITERS; i++) {
        /* Unrolled whole, so the chains live in registers, not in memory. */
#pragma GCC unroll 12
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
    }
    __m512 s = acc[0];
    for (int c = 1; c < CHAINS; c++) s = _mm512_add_ps(s, acc[c]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_chains_256(void) {
    __m256 acc[CHAINS], m = _mm256_set1_ps(0.9999999f), a = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps(1.0f + (float)c);
    for (int i = 0; i < ITERS; i++) {
        /* Unrolled whole, so the chains live in registers, not in memory. */
#pragma GCC unroll 12
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
    }
    __m256 s = acc[0];
    for (int c = 1; c < CHAINS; c++) s = _mm256_add_ps(s, acc[c]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}
#endif

struct peak_job {
    int vector_bits;
    volatile float sink;
};

static int32_t peak_task(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker, (void)begin, (void)end;
    struct peak_job *j = ctx;
#if defined(__x86_64__)
    j->sink = j->vector_bits >= 512 ? fma_chains_512() : fma_chains_256();
#else
    (void)j;
#endif
    return 0;
}

double ts_tune_measure_cpu_peak(int vector_bits, struct ts_rt_pool *pool, int max_workers) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (vector_bits >= 512 ? !__builtin_cpu_supports("avx512f")
                           : !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return 0;
    int workers = ts_rt_pool_threads(pool), lanes = vector_bits >= 512 ? 16 : 8;
    if (max_workers > 0 && max_workers < workers) workers = max_workers;
    struct peak_job job = {.vector_bits = vector_bits};
    double best = 0;
    ts_rt_pool_run(pool, workers, workers, peak_task, &job); /* wake the workers, raise the clocks */
    /* Best of 20 (~0.1 s): the workers are not pinned, and the kernel's load
     * balancer can leave two of them on one CPU for a few runs. */
    for (int rep = 0; rep < 20; rep++) {
        double t = ts_rt_now_seconds();
        ts_rt_pool_run(pool, workers, workers, peak_task, &job);
        t = ts_rt_now_seconds() - t;
        double flops = (double)workers * CHAINS * (double)ITERS * lanes * 2;
        if (t > 0 && flops / t > best) best = flops / t;
    }
    return best;
#else
    (void)vector_bits, (void)pool, (void)max_workers;
    return 0;
#endif
}
