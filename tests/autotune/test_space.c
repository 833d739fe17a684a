/* test_space.c — search spaces and the legality check: for GEMMs of awkward
 * shapes, pointwise, rowwise and attention kernels on AVX2- and AVX-512-like
 * CPUs (and sm_80 / sm_90a GPUs, strict f32 or not, where this build has the
 * CUDA code generator): the default first, every candidate legal, none
 * twice, sizes in range, the same space twice; and illegal schedules refused
 * with the message naming the kernel and the rule. */
#include <stdlib.h>

#include "hand_kernels.h"
#include "test.h"

/* The target's fields of a and b are equal (the test's own comparison, so
 * that the space's deduplication is checked independently). */
static bool same(enum ts_kernel_kind kind, enum ts_target tg, const union ts_sched *a, const union ts_sched *b) {
    if (tg == TS_TARGET_CUDA) {
        switch (kind) {
        case TS_KERNEL_POINTWISE:
            return a->pointwise.gpu.threads == b->pointwise.gpu.threads && a->pointwise.gpu.vec == b->pointwise.gpu.vec;
        case TS_KERNEL_ROWWISE:
            return a->rowwise.gpu.threads == b->rowwise.gpu.threads && a->rowwise.gpu.vec == b->rowwise.gpu.vec;
        case TS_KERNEL_GEMM:
            return memcmp(&a->gemm.gpu, &b->gemm.gpu, sizeof a->gemm.gpu) == 0;
        default:
            return memcmp(&a->attention.gpu, &b->attention.gpu, sizeof a->attention.gpu) == 0;
        }
    }
    switch (kind) {
    case TS_KERNEL_POINTWISE:
        return a->pointwise.vector_width == b->pointwise.vector_width &&
               a->pointwise.rows_per_task == b->pointwise.rows_per_task && a->pointwise.threads == b->pointwise.threads;
    case TS_KERNEL_ROWWISE:
        return a->rowwise.vector_width == b->rowwise.vector_width &&
               a->rowwise.rows_per_task == b->rowwise.rows_per_task && a->rowwise.threads == b->rowwise.threads;
    case TS_KERNEL_GEMM: {
        const struct ts_sched_gemm *x = &a->gemm, *y = &b->gemm;
        return x->mc == y->mc && x->kc == y->kc && x->nc == y->nc && x->mr == y->mr && x->nr == y->nr &&
               x->threads == y->threads;
    }
    default:
        return a->attention.block_q == b->attention.block_q && a->attention.block_k == b->attention.block_k &&
               a->attention.threads == b->attention.threads;
    }
}

/* The default schedule as the contract defines it. */
static union ts_sched default_of(const struct ts_kernel *k, const struct ts_tune_target *t) {
    struct ts_kernel kk = *k;
    memset(&kk.sched, 0, sizeof kk.sched);
    if (t->kind == TS_TARGET_CPU) {
        ts_sched_default_cpu(&kk, t->vector_bits / 32);
    } else {
        struct ts_cuda_arch a;
        struct ts_diag d;
        ts_diag_clear(&d);
        CHECK(ts_cuda_arch_parse(t->arch, &a, &d) == TS_OK);
        ts_cuda_sched_default(&kk, &a, t->strict_f32);
    }
    return kk.sched;
}

static const char *target_name(const struct ts_tune_target *t) {
    static char buf[96];
    if (t->kind == TS_TARGET_CPU) snprintf(buf, sizeof buf, "cpu%d/t%d", t->vector_bits, t->threads);
    else snprintf(buf, sizeof buf, "%s%s", t->arch, t->strict_f32 ? "/strict" : "");
    return buf;
}

/* Builds k's space on t and checks what every space must satisfy; prints
 * its size; returns the size (the space in *out when given, else freed). */
static int check_space(const struct ts_kernel *k0, const struct ts_tune_target *t, const char *what,
                       struct ts_tune_space *out) {
    /* The kernel as fusion leaves it: CPU fields filled (AVX2's widths,
     * whatever the target), GPU fields not yet chosen. */
    struct ts_kernel base = *k0;
    const struct ts_kernel *k = &base;
    memset(&base.sched, 0, sizeof base.sched);
    ts_sched_default_cpu(&base, 8);
    struct ts_tune_space s, s2;
    struct ts_diag d;
    ts_diag_clear(&d);
    enum ts_status st = ts_tune_space_build(k, t, &s, &d);
    CHECK(st == TS_OK);
    if (st != TS_OK) {
        ts_diag_print(&d, stderr);
        return 0;
    }
    printf("  %-10s %-30s %4d candidates, %3d rejected%s%s\n", target_name(t), what, s.n, s.rejected,
           s.rejected ? ": " : "", s.first_reject);
    CHECK(s.n >= 1);
    union ts_sched def = default_of(k, t);
    CHECK(same(k->kind, t->kind, &s.cands[0], &def));
    int bad = 0, dups = 0, others = 0;
    enum ts_target other = t->kind == TS_TARGET_CPU ? TS_TARGET_CUDA : TS_TARGET_CPU;
    struct ts_kernel kk = *k;
    for (int i = 0; i < s.n; i++) {
        /* the other target's fields are the kernel's own: a candidate can be assigned whole */
        others += !ts_tune_sched_equal(k->kind, other, &s.cands[i], &k->sched);
        kk.sched = s.cands[i];
        ts_diag_clear(&d);
        if (ts_tune_check(&kk, t, &d) != TS_OK) {
            if (bad++ == 0) ts_diag_print(&d, stderr);
        }
        for (int j = 0; j < i; j++) dups += same(k->kind, t->kind, &s.cands[i], &s.cands[j]);
    }
    CHECK(bad == 0);
    CHECK(dups == 0);
    CHECK(others == 0);
    /* Deterministic: the same space again. */
    ts_diag_clear(&d);
    CHECK(ts_tune_space_build(k, t, &s2, &d) == TS_OK);
    CHECK(s2.n == s.n && s2.rejected == s.rejected);
    int differ = 0;
    for (int i = 0; i < s.n && i < s2.n; i++) differ += !same(k->kind, t->kind, &s.cands[i], &s2.cands[i]);
    CHECK(differ == 0);
    ts_tune_space_free(&s2);
    int n = s.n;
    if (out) *out = s;
    else ts_tune_space_free(&s);
    return n;
}

/* ---- CPU spaces ----------------------------------------------------------------- */

static void test_cpu_gemm(const struct ts_tune_target *t) {
    static const int64_t shapes[][4] = {
        /* batch, M, N, K */
        {1, 512, 768, 768}, {1, 1, 768, 768}, {1, 7, 17, 33},    {1, 17, 2304, 768}, {1, 127, 129, 300},
        {1, 129, 127, 4097}, {4, 16, 64, 64},  {12, 128, 128, 64}, {1, 2048, 2048, 2048}, {1, 1, 1, 1},
    };
    int vw = t->vector_bits / 32;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t *sh = shapes[i];
        struct tk g;
        tk_gemm(&g, "k3_gemm", sh[0], sh[1], sh[2], sh[3], TS_F32, false);
        char what[64];
        snprintf(what, sizeof what, "gemm %lldx%lldx%lldx%lld", (long long)sh[0], (long long)sh[1],
                 (long long)sh[2], (long long)sh[3]);
        struct ts_tune_space s;
        int n = check_space(&g.k, t, what, &s);
        if (n == 0) continue;
        int mr_over = 0, threads1 = 0, blocks_bad = 0;
        for (int c = 0; c < s.n; c++) {
            const struct ts_sched_gemm *x = &s.cands[c].gemm;
            mr_over += x->mr > sh[1];
            threads1 += x->threads == 1;
            blocks_bad += x->nr % vw != 0 || x->mc % x->mr != 0 || x->nc % x->nr != 0;
        }
        CHECK(mr_over == 0); /* rows of the register block never beyond M */
        CHECK(blocks_bad == 0);
        if (sh[0] == 1 && sh[1] == 512 && sh[2] == 768) {
            /* The space the "within 5% using ≤ 20% of the trials" is measured on. */
            CHECK(n >= 200 && n <= 600);
            CHECK(threads1 == 0); /* big enough that one worker is never the answer */
        }
        if (sh[1] == 1 && sh[2] == 768) {
            /* M = 1: only 1-row blocks, every vector count, one worker tried too */
            CHECK(n >= 20 && n <= 400);
            for (int c = 0; c < s.n; c++) CHECK(s.cands[c].gemm.mr == 1);
            CHECK(t->threads == 1 || threads1 > 0);
        }
        if (sh[3] == 4097) {
            /* balanced depth panels: kc = ceil(K / ceil(K / cap)) for a cap of the list (the
             * default's own is such a panel too), so K = 4097 is 9 panels of 456, not 8 of 512 + 1 */
            static const int caps[] = {64, 128, 192, 256, 384, 512};
            int odd = 0;
            for (int c = 0; c < s.n; c++) {
                bool ok = false;
                for (int j = 0; j < 6; j++) {
                    int64_t nb = (4097 + caps[j] - 1) / caps[j];
                    ok |= s.cands[c].gemm.kc == (4097 + nb - 1) / nb;
                }
                odd += !ok;
            }
            CHECK(odd == 0);
        }
        if (sh[1] >= 16) CHECK(n >= 10);
        ts_tune_space_free(&s);
    }
}

static void test_cpu_other(const struct ts_tune_target *t) {
    struct tk k;
    struct ts_tune_space s;
    tk_pointwise(&k, "k1_pointwise", 129, 768, TS_F32);
    int n = check_space(&k.k, t, "pointwise 129x768", &s);
    CHECK(n >= 10 && n <= 60);
    bool has_one_task = false, has_vw2 = false;
    for (int i = 0; i < s.n; i++) {
        has_one_task |= s.cands[i].pointwise.rows_per_task == 129;
        has_vw2 |= s.cands[i].pointwise.vector_width == 2 * t->vector_bits / 32;
        CHECK(s.cands[i].pointwise.vector_width <= 64);
    }
    CHECK(has_one_task && has_vw2);
    ts_tune_space_free(&s);
    tk_pointwise(&k, "k1_pointwise", 1, 7, TS_F32);
    n = check_space(&k.k, t, "pointwise 1x7", NULL);
    CHECK(n >= 3 && n <= 60);

    tk_softmax(&k, "k2_softmax", 127, 129, TS_F32);
    n = check_space(&k.k, t, "rowwise softmax 127x129", NULL);
    CHECK(n >= 10 && n <= 60);
    tk_softmax(&k, "k2_softmax", 1, 17, TS_F32);
    n = check_space(&k.k, t, "rowwise softmax 1x17", NULL);
    CHECK(n >= 3 && n <= 60);

    tk_attention(&k, "k4_attention", 1, 12, 128, 128, 64, TS_F32, true);
    n = check_space(&k.k, t, "attention 1x12x128x128 d64", &s);
    CHECK(n >= 16 && n <= 60);
    ts_tune_space_free(&s);
    tk_attention(&k, "k4_attention", 2, 4, 1, 17, 64, TS_F32, false);
    n = check_space(&k.k, t, "attention decode sq 1 sk 17", &s);
    CHECK(n >= 2 && n <= 20);
    for (int i = 0; i < s.n; i++) CHECK(s.cands[i].attention.block_q == 1 && s.cands[i].attention.block_k <= 17);
    ts_tune_space_free(&s);
}

/* ---- illegal schedules ------------------------------------------------------------- */

/* Checks k with schedule s on t: refused, and the message contains want. */
static void expect_refused(const struct ts_kernel *k, const union ts_sched *s, const struct ts_tune_target *t,
                           const char *want) {
    struct ts_kernel kk = *k;
    kk.sched = *s;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_tune_check(&kk, t, &d) == TS_ERR_UNSUPPORTED);
    char msg[1024];
    ts_diag_format(&d, msg, sizeof msg);
    CHECK_CONTAINS(msg, want);
}

static void test_cpu_illegal(void) {
    struct ts_tune_target avx2 = tk_cpu(256, 2), avx512 = tk_cpu(512, 2);
    struct tk g;
    tk_gemm(&g, "k3_gemm", 1, 512, 768, 768, TS_F32, false);
    union ts_sched s = {0};
    s.gemm = (struct ts_sched_gemm){.mc = 96, .kc = 256, .nc = 384, .mr = 6, .nr = 32};
    expect_refused(&g.k, &s, &avx2,
                   "k3_gemm: mr 6 × nr/vw 4 accumulators + 4 B vectors + 1 need 29 vector registers, the CPU has 16");
    struct ts_kernel kk = g.k;
    kk.sched = s;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_tune_check(&kk, &avx512, &d) == TS_OK); /* 6 × 2 vectors of 16 */
    s.gemm.nr = 12;
    s.gemm.nc = 384;
    expect_refused(&g.k, &s, &avx2, "k3_gemm: nr 12 is not a multiple of the vector width 8");
    s.gemm = (struct ts_sched_gemm){.mc = 100, .kc = 256, .nc = 384, .mr = 6, .nr = 16};
    expect_refused(&g.k, &s, &avx2, "k3_gemm: mc 100 is not a multiple of mr 6");
    s.gemm.mc = 96;
    s.gemm.nc = 100;
    expect_refused(&g.k, &s, &avx2, "nc 100 is not a multiple of nr 16");
    s.gemm.nc = 384;
    s.gemm.threads = 3;
    expect_refused(&g.k, &s, &avx2, "k3_gemm: threads 3 is not in [0, 2]");
    s.gemm.threads = 0;
    s.gemm.kc = 0;
    expect_refused(&g.k, &s, &avx2, "blocks must be positive");
    s.gemm = (struct ts_sched_gemm){.mc = 17, .kc = 256, .nc = 384, .mr = 17, .nr = 16};
    expect_refused(&g.k, &s, &avx512, "mr 17 exceeds the micro-kernel's 16 rows");
    s.gemm = (struct ts_sched_gemm){.mc = 2, .kc = 256, .nc = 80, .mr = 1, .nr = 80};
    expect_refused(&g.k, &s, &avx512, "nr/vw 5 (nr 80, 16 lanes) exceeds the micro-kernel's 4 vectors per row");
    s.gemm = (struct ts_sched_gemm){.mc = 6000, .kc = 4096, .nc = 32, .mr = 6, .nr = 16};
    expect_refused(&g.k, &s, &avx512, "take 98828416 bytes per worker, above 67108864");

    struct tk p;
    tk_pointwise(&p, "k1_pointwise", 4, 768, TS_F32);
    s = (union ts_sched){0};
    s.pointwise.vector_width = 12;
    s.pointwise.rows_per_task = 1;
    expect_refused(&p.k, &s, &avx2, "k1_pointwise: vector width 12 is not a power of two in [1, 64]");
    s.pointwise.vector_width = 128;
    expect_refused(&p.k, &s, &avx2, "vector width 128 is not a power of two in [1, 64]");
    s.pointwise.vector_width = 8;
    s.pointwise.rows_per_task = 0;
    expect_refused(&p.k, &s, &avx2, "rows_per_task 0 must be at least 1");
    s.pointwise.rows_per_task = 2;
    s.pointwise.threads = -1;
    expect_refused(&p.k, &s, &avx2, "threads -1 is not in [0, 2]");
    struct tk r;
    tk_softmax(&r, "k2_softmax", 4, 768, TS_F32);
    s = (union ts_sched){0};
    s.rowwise.vector_width = 8;
    s.rowwise.rows_per_task = 1;
    s.rowwise.threads = 5;
    expect_refused(&r.k, &s, &avx512, "k2_softmax: threads 5 is not in [0, 2]");
    struct tk a;
    tk_attention(&a, "k4_attention", 1, 2, 64, 64, 64, TS_F32, false);
    s = (union ts_sched){0};
    s.attention.block_q = 0;
    s.attention.block_k = 64;
    expect_refused(&a.k, &s, &avx2, "k4_attention: attention blocks 0×64 must be positive");
    /* the space's refusals are counted: AVX2's registers refuse blocks of the list */
    struct ts_tune_space sp;
    ts_diag_clear(&d);
    CHECK(ts_tune_space_build(&g.k, &avx2, &sp, &d) == TS_OK);
    CHECK(sp.rejected > 0);
    CHECK_CONTAINS(sp.first_reject, "k3_gemm: mr ");
    CHECK_CONTAINS(sp.first_reject, "vector registers, the CPU has 16");
    ts_tune_space_free(&sp);
}

/* ---- GPU ------------------------------------------------------------------------------ */

static void gpu_gemm(union ts_sched *s, int bm, int bn, int bk, int wm, int wn, int stages, enum ts_gemm_instr in) {
    s->gemm.gpu.bm = bm;
    s->gemm.gpu.bn = bn;
    s->gemm.gpu.bk = bk;
    s->gemm.gpu.wm = wm;
    s->gemm.gpu.wn = wn;
    s->gemm.gpu.stages = stages;
    s->gemm.gpu.split_k = 1;
    s->gemm.gpu.swizzle = 1;
    s->gemm.gpu.instr = in;
}

static void test_gpu(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_codegen_check_target(TS_TARGET_CUDA, &d) != TS_OK) {
        printf("  (no CUDA code generator in this build: GPU spaces skipped)\n");
        return;
    }
    const char *archs[] = {"sm_80", "sm_90a"};
    for (int ai = 0; ai < 2; ai++)
        for (int strict = 0; strict < 2; strict++) {
            struct ts_tune_target t = tk_gpu(archs[ai], strict);
            struct tk k;
            struct ts_tune_space s;
            tk_gemm(&k, "k3_gemm", 1, 512, 768, 768, TS_F16, false);
            int n = check_space(&k.k, &t, "gemm f16 512x768x768", &s);
            CHECK(n >= 50 && n <= 1200);
            int f16 = 0;
            for (int i = 0; i < s.n; i++) f16 += s.cands[i].gemm.gpu.instr == TS_GEMM_INSTR_MMA_F16;
            CHECK(f16 == n);
            ts_tune_space_free(&s);

            tk_gemm(&k, "k3_gemm", 1, 512, 768, 768, TS_F32, false);
            n = check_space(&k.k, &t, "gemm f32 512x768x768", &s);
            CHECK(n >= 20 && n <= 1200);
            int tf32 = 0, simt = 0;
            for (int i = 0; i < s.n; i++) {
                tf32 += s.cands[i].gemm.gpu.instr == TS_GEMM_INSTR_MMA_TF32;
                simt += s.cands[i].gemm.gpu.instr == TS_GEMM_INSTR_SIMT;
            }
            CHECK(strict ? tf32 == 0 : tf32 > 0);
            CHECK(simt > 0);
            ts_tune_space_free(&s);

            tk_gemm(&k, "k3_gemm", 1, 1, 768, 4096, TS_BF16, true);
            n = check_space(&k.k, &t, "gemm bf16 1x768x4096 B[N,K]", &s);
            CHECK(n >= 10);
            int split = 0;
            for (int i = 0; i < s.n; i++) split += s.cands[i].gemm.gpu.split_k > 1;
            CHECK(split > 0); /* 24 C tiles on 108+ SMs: split K is worth trying */
            ts_tune_space_free(&s);

            tk_gemm(&k, "k3_gemm", 8, 127, 129, 300, TS_I32, false);
            n = check_space(&k.k, &t, "gemm i32 8x127x129x300", NULL);
            CHECK(n >= 10);

            tk_pointwise(&k, "k1_pointwise", 129, 768, TS_F32);
            n = check_space(&k.k, &t, "pointwise f32 129x768", NULL);
            CHECK(n >= 8 && n <= 16);
            tk_pointwise(&k, "k1_pointwise", 7, 17, TS_F16);
            n = check_space(&k.k, &t, "pointwise f16 7x17", NULL);
            CHECK(n >= 8 && n <= 16);
            tk_softmax(&k, "k2_softmax", 127, 129, TS_F32);
            n = check_space(&k.k, &t, "rowwise softmax f32 127x129", NULL);
            CHECK(n >= 8 && n <= 16);

            tk_attention(&k, "k4_attention", 1, 12, 1024, 1024, 128, TS_F16, true);
            n = check_space(&k.k, &t, "attention f16 1024 d128", NULL);
            CHECK(n >= 10 && n <= 40);
            tk_attention(&k, "k4_attention", 1, 12, 128, 128, 64, TS_F32, false);
            n = check_space(&k.k, &t, "attention f32 128 d64", NULL);
            CHECK(n >= 10 && n <= 40);
            tk_attention(&k, "k4_attention", 2, 4, 1, 17, 64, TS_BF16, false);
            n = check_space(&k.k, &t, "attention bf16 decode", NULL);
            CHECK(n >= 1 && n <= 10);
        }

    /* GPU refusals: shared memory, strict tf32, and ts_cuda_sched_check's own */
    struct ts_tune_target h100 = tk_gpu("sm_90a", false), strict = tk_gpu("sm_90a", true);
    struct tk g;
    tk_gemm(&g, "k3_gemm", 1, 512, 768, 768, TS_F16, false);
    union ts_sched s = {0};
    gpu_gemm(&s, 256, 256, 64, 64, 64, 8, TS_GEMM_INSTR_MMA_F16);
    expect_refused(&g.k, &s, &h100, "k3_gemm: GPU GEMM schedule: ");
    expect_refused(&g.k, &s, &h100, "bytes of shared memory exceed sm_90a's 232448");
    s.gemm.gpu.stages = 3;
    s.gemm.gpu.wm = 48;
    expect_refused(&g.k, &s, &h100, "bm % wm and bn % wn must be 0");
    tk_gemm(&g, "k3_gemm", 1, 512, 768, 768, TS_F32, false);
    gpu_gemm(&s, 128, 128, 16, 64, 32, 3, TS_GEMM_INSTR_MMA_TF32);
    struct ts_kernel kk = g.k;
    kk.sched = s;
    ts_diag_clear(&d);
    CHECK(ts_tune_check(&kk, &h100, &d) == TS_OK);
    expect_refused(&g.k, &s, &strict, "instr mma_tf32 on a strict-f32 target");
    struct tk a;
    tk_attention(&a, "k4_attention", 1, 12, 1024, 1024, 128, TS_F16, false);
    s = (union ts_sched){0};
    s.attention.gpu.warps = 4;
    s.attention.gpu.block_q = 32;
    s.attention.gpu.block_k = 64;
    s.attention.gpu.stages = 2;
    expect_refused(&a.k, &s, &h100, "block_q 32 must be 16·warps = 64");
    struct ts_tune_target bad = tk_gpu("sm_50", false);
    kk = a.k;
    ts_diag_clear(&d);
    CHECK(ts_tune_check(&kk, &bad, &d) == TS_ERR_USAGE); /* the arch itself */
}

int main(void) {
    struct ts_tune_target targets[] = {tk_cpu(256, 2), tk_cpu(512, 2), tk_cpu(512, 1)};
    for (int i = 0; i < 3; i++) {
        test_cpu_gemm(&targets[i]);
        test_cpu_other(&targets[i]);
    }
    test_cpu_illegal();
    test_gpu();
    return ts_test_finish("test_space");
}
