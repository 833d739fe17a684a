/* test_estimate.c — the analytical model: measured ceilings are positive and
 * plausible for this machine, estimates are positive and finite over whole
 * spaces, and they order the obvious cases (a 1-row, 1-vector register
 * block with a tiny depth panel is slower than the default; more work takes
 * longer; one worker loses on a big GEMM; a register block with too few
 * accumulators loses). Whether the ranking follows real timings is the
 * lead's benchmark, not this test. */
#include <math.h>

#include "hand_kernels.h"
#include "test.h"

static double est(const struct ts_kernel *k, const union ts_sched *s, const struct ts_tune_target *t,
                  const struct ts_tune_ceilings *c) {
    return ts_tune_estimate(k, s, t, c);
}

static union ts_sched default_cpu(const struct ts_kernel *k, const struct ts_tune_target *t) {
    struct ts_kernel kk = *k;
    memset(&kk.sched, 0, sizeof kk.sched);
    ts_sched_default_cpu(&kk, t->vector_bits / 32);
    return kk.sched;
}

static void test_ceilings(void) {
    double ghz = ts_tune_measure_ghz();
    printf("  measured clock %.2f GHz\n", ghz);
#if defined(__x86_64__)
    CHECK(ghz > 0.3 && ghz < 8);
#else
    CHECK(ghz >= 0);
#endif
    struct ts_tune_target t = tk_cpu(256, 2);
    struct ts_tune_ceilings c;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_tune_ceilings_cpu(&t, &c, &d) == TS_OK);
    printf("  ceilings: %.2f GHz, %.0f GFLOP/s (2 workers, 256-bit), %.1f GB/s copy, %.2f µs launch\n", c.ghz,
           c.gflops, c.gbps, c.launch_s * 1e6);
    CHECK(c.ghz > 0.3 && c.ghz < 8);
    CHECK_NEAR(c.gflops, c.ghz * 2 * 2 * 8 * 2, 1e-9, 1e-12); /* 2 pipes × FMA × 8 lanes × 2 workers */
    CHECK(c.gbps > 0.2 && c.gbps < 2000);
    CHECK(c.launch_s > 0 && c.launch_s < 1e-3);
}

/* Every candidate of k's space: a positive, finite estimate. */
static int check_space_estimates(const struct ts_kernel *k, const struct ts_tune_target *t,
                                 const struct ts_tune_ceilings *c, double *best, int *best_i) {
    struct ts_tune_space s;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_tune_space_build(k, t, &s, &d) == TS_OK);
    int bad = 0;
    *best = INFINITY;
    *best_i = -1;
    for (int i = 0; i < s.n; i++) {
        double e = est(k, &s.cands[i], t, c);
        bad += !(e > 0 && isfinite(e));
        if (e < *best) *best = e, *best_i = i;
    }
    CHECK(bad == 0);
    int n = s.n;
    ts_tune_space_free(&s);
    return n;
}

static void test_cpu_gemm(void) {
    /* Fixed ceilings (Zen 5-like, one core's copy bandwidth), so the test does not depend on the machine. */
    struct ts_tune_ceilings c = {.ghz = 3.7, .gflops = 3.7 * 4 * 16 * 2, .gbps = 30, .launch_s = 1e-6};
    struct ts_tune_target t = tk_cpu(512, 2);
    struct tk g;
    tk_gemm(&g, "k3_gemm", 1, 512, 768, 768, TS_F32, false);
    union ts_sched def = default_cpu(&g.k, &t);
    double e_def = est(&g.k, &def, &t, &c);
    double peak_s = 2.0 * 512 * 768 * 768 / (c.gflops * 1e9);
    printf("  gemm 512x768x768 default: %.3f ms estimated (peak %.3f ms)\n", e_def * 1e3, peak_s * 1e3);
    CHECK(e_def > peak_s && e_def < 4 * peak_s);

    /* The bad schedule: 1 × 1 vector register block, 8-deep panels. */
    union ts_sched bad = {0};
    bad.gemm = (struct ts_sched_gemm){.mc = 64, .kc = 8, .nc = 128, .mr = 1, .nr = 16};
    double e_bad = est(&g.k, &bad, &t, &c);
    printf("  gemm 512x768x768 mr 1 nr 16 kc 8: %.3f ms estimated\n", e_bad * 1e3);
    CHECK(e_bad > 3 * e_def);
    /* Too few accumulators (2 × 1 vector) alone, at the default's cache blocks. */
    union ts_sched few = def;
    few.gemm.mr = 2;
    few.gemm.nr = 16;
    few.gemm.mc = def.gemm.mc / 6 * 2;
    CHECK(est(&g.k, &few, &t, &c) > 1.5 * e_def);
    /* One worker of two on a big GEMM. */
    union ts_sched one = def;
    one.gemm.threads = 1;
    CHECK(est(&g.k, &one, &t, &c) > 1.6 * e_def);
    /* A tiny depth panel, the rest the default's. */
    union ts_sched thin = def;
    thin.gemm.kc = 16;
    CHECK(est(&g.k, &thin, &t, &c) > 1.1 * e_def);
    /* A block of A far past the L2. */
    union ts_sched fat = def;
    fat.gemm.kc = 768;
    fat.gemm.mc = 516;
    CHECK(est(&g.k, &fat, &t, &c) > e_def);
    /* An illegal schedule has no estimate. */
    union ts_sched ill = def;
    ill.gemm.nr = 12;
    CHECK(isinf(est(&g.k, &ill, &t, &c)));

    /* More work takes longer: M, N, K and the batch. */
    struct tk big;
    tk_gemm(&big, "k3_gemm", 1, 1024, 768, 768, TS_F32, false);
    union ts_sched dbig = default_cpu(&big.k, &t);
    CHECK(est(&big.k, &dbig, &t, &c) > 1.6 * e_def);
    tk_gemm(&big, "k3_gemm", 4, 512, 768, 768, TS_F32, false);
    dbig = default_cpu(&big.k, &t);
    CHECK(est(&big.k, &dbig, &t, &c) > 3 * e_def);
    tk_gemm(&big, "k3_gemm", 1, 512, 768, 3072, TS_F32, false);
    dbig = default_cpu(&big.k, &t);
    CHECK(est(&big.k, &dbig, &t, &c) > 3 * e_def);

    /* Over whole spaces: finite and positive; the best is no slower than the default. */
    static const int64_t shapes[][4] = {{1, 512, 768, 768}, {1, 1, 768, 768}, {1, 7, 17, 33}, {1, 129, 127, 4097},
                                        {4, 16, 64, 64}};
    struct ts_tune_target targets[] = {tk_cpu(256, 2), tk_cpu(512, 2), tk_cpu(512, 1)};
    for (int ti = 0; ti < 3; ti++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            tk_gemm(&g, "k3_gemm", shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], TS_F32, false);
            double best;
            int bi;
            int n = check_space_estimates(&g.k, &targets[ti], &c, &best, &bi);
            union ts_sched d0 = default_cpu(&g.k, &targets[ti]);
            CHECK(n > 0 && best <= est(&g.k, &d0, &targets[ti], &c));
        }
    /* M = 1 (matrix-vector): memory-bound, near the bytes over bandwidth. */
    tk_gemm(&g, "k3_gemm", 1, 1, 4096, 4096, TS_F32, false);
    union ts_sched dv = default_cpu(&g.k, &t);
    double mem_s = 4.0 * 4096 * 4096 / (c.gbps * 1e9 * 1.6);
    CHECK(est(&g.k, &dv, &t, &c) >= mem_s * 0.99);
}

static void test_cpu_other(void) {
    struct ts_tune_ceilings c = {.ghz = 3.7, .gflops = 3.7 * 4 * 8 * 2, .gbps = 30, .launch_s = 1e-6};
    struct ts_tune_target t = tk_cpu(256, 2);
    struct tk k, k2;
    double best;
    int bi;

    tk_pointwise(&k, "k1_pointwise", 1024, 1024, TS_F32);
    tk_pointwise(&k2, "k1_pointwise", 4096, 1024, TS_F32);
    union ts_sched s = default_cpu(&k.k, &t), s2 = default_cpu(&k2.k, &t);
    double e1 = est(&k.k, &s, &t, &c), e2 = est(&k2.k, &s2, &t, &c);
    CHECK(e1 > 0 && e2 > 3 * e1);
    /* scalar code is slower than vectors of the machine's width (a compute-heavy
     * row: the 8 MiB of traffic at 48 GB/s hide a cheap expression) */
    union ts_sched scalar = s;
    scalar.pointwise.vector_width = 1;
    CHECK(est(&k.k, &scalar, &t, &c) >= e1);
    /* one task on two workers is slower than two tasks */
    union ts_sched one_task = s;
    one_task.pointwise.rows_per_task = 1024;
    union ts_sched two_tasks = s;
    two_tasks.pointwise.rows_per_task = 512;
    CHECK(est(&k.k, &one_task, &t, &c) > est(&k.k, &two_tasks, &t, &c));
    CHECK(check_space_estimates(&k.k, &t, &c, &best, &bi) > 0);
    /* a tiny kernel: the launch dominates, one worker is estimated faster */
    tk_pointwise(&k, "k1_pointwise", 1, 7, TS_F32);
    s = default_cpu(&k.k, &t);
    union ts_sched s1 = s;
    s1.pointwise.threads = 1;
    CHECK(est(&k.k, &s1, &t, &c) <= est(&k.k, &s, &t, &c));
    CHECK(check_space_estimates(&k.k, &t, &c, &best, &bi) > 0);

    tk_softmax(&k, "k2_softmax", 127, 129, TS_F32);
    tk_softmax(&k2, "k2_softmax", 1270, 129, TS_F32);
    s = default_cpu(&k.k, &t);
    s2 = default_cpu(&k2.k, &t);
    CHECK(est(&k2.k, &s2, &t, &c) > 3 * est(&k.k, &s, &t, &c));
    CHECK(check_space_estimates(&k.k, &t, &c, &best, &bi) > 0);

    tk_attention(&k, "k4_attention", 1, 12, 256, 256, 64, TS_F32, false);
    s = default_cpu(&k.k, &t);
    double ea = est(&k.k, &s, &t, &c);
    double flops = 4.0 * 12 * 256 * 256 * 64;
    printf("  attention 1x12x256x256 d64 default: %.3f ms estimated (peak %.3f ms)\n", ea * 1e3,
           flops / (c.gflops * 1e9) * 1e3);
    CHECK(ea > flops / (c.gflops * 1e9) && ea < 10 * flops / (c.gflops * 1e9));
    union ts_sched tiny = s;
    tiny.attention.block_q = 1;
    tiny.attention.block_k = 4;
    CHECK(est(&k.k, &tiny, &t, &c) > 1.5 * ea);
    /* causal does about half the work */
    tk_attention(&k2, "k4_attention", 1, 12, 256, 256, 64, TS_F32, true);
    double ec = est(&k2.k, &s, &t, &c);
    CHECK(ec < 0.75 * ea && ec > 0.4 * ea);
    CHECK(check_space_estimates(&k.k, &t, &c, &best, &bi) > 0);
}

static void test_gpu(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_codegen_check_target(TS_TARGET_CUDA, &d) != TS_OK) {
        printf("  (no CUDA code generator in this build: GPU estimates skipped)\n");
        return;
    }
    /* H100-like: f32 CUDA-core peak, HBM bandwidth, a graph launch. */
    struct ts_tune_ceilings c = {.ghz = 1.7, .gflops = 67e3, .gbps = 3350, .launch_s = 3e-6};
    struct ts_tune_target t = tk_gpu("sm_90a", false);
    struct tk k;
    double best;
    int bi;
    tk_gemm(&k, "k3_gemm", 1, 4096, 4096, 4096, TS_BF16, false);
    CHECK(check_space_estimates(&k.k, &t, &c, &best, &bi) > 0);
    double flops = 2.0 * 4096 * 4096 * 4096;
    printf("  gpu gemm bf16 4096³: best estimate %.3f ms (%.0f TFLOP/s)\n", best * 1e3, flops / best / 1e12);
    CHECK(flops / best > 100e12 && flops / best < 1000e12);
    tk_gemm(&k, "k3_gemm", 1, 512, 768, 768, TS_F32, false);
    CHECK(check_space_estimates(&k.k, &t, &c, &best, &bi) > 0);
    tk_pointwise(&k, "k1_pointwise", 4096, 4096, TS_F16);
    CHECK(check_space_estimates(&k.k, &t, &c, &best, &bi) > 0);
    /* memory-bound: about the bytes over the bandwidth */
    CHECK(best > 2.0 * 2 * 4096 * 4096 / 3350e9 && best < 3 * 2.0 * 2 * 4096 * 4096 / 3350e9 + 3e-6);
    tk_softmax(&k, "k2_softmax", 4096, 1024, TS_F32);
    CHECK(check_space_estimates(&k.k, &t, &c, &best, &bi) > 0);
    tk_attention(&k, "k4_attention", 1, 12, 1024, 1024, 128, TS_F16, true);
    CHECK(check_space_estimates(&k.k, &t, &c, &best, &bi) > 0);
}

int main(void) {
    test_ceilings();
    test_cpu_gemm();
    test_cpu_other();
    test_gpu();
    return ts_test_finish("test_estimate");
}
