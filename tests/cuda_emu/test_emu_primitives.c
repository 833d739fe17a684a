/* test_emu_primitives.c — checks the CUDA emulator itself against independent
 * expectations: mma.sync of each kind against a plain matmul, ldmatrix's
 * register distribution, cp.async visible only after its wait (with
 * zero-fill), shuffles, f16/bf16/tf32 rounding on edge values and exhaustively
 * against ir/'s converters, barriers over a 3-D grid, the error word, and
 * misuse (divergence, deadlock, misalignment) reported instead of hanging. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "tests/cuda_emu/harness.h"

static struct ts_emu_module *mod;

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t rnd32(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 32);
}

static enum ts_status launch(const char *sym, void **params, unsigned grid, unsigned block, unsigned smem,
                             char *msg, size_t n) {
    struct ts_cuda_launch l = {.grid = {grid, 1, 1}, .block = {block, 1, 1}, .shared_bytes = smem};
    struct ts_diag d;
    ts_diag_clear(&d);
    enum ts_status st = ts_emu_module_launch(mod, sym, params, &l, &d);
    if (msg) ts_diag_format(&d, msg, n);
    if (st != TS_OK && !msg) {
        char buf[1024];
        ts_diag_format(&d, buf, sizeof buf);
        fprintf(stderr, "%s: %s\n", sym, buf);
    }
    return st;
}

static float f32_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* tf32 rounding, written independently of the emulator: 11 significant bits
 * (a multiple of 2^-136 below 2^-126), ties away from zero. */
static float tf32_ref(float x) {
    if (isnan(x) || isinf(x) || x == 0) return x;
    double ax = fabs((double)x), r;
    if (ax < ldexp(1, -126)) {
        r = ldexp(round(ax / ldexp(1, -136)), -136);
    } else {
        int e;
        double m = frexp(ax, &e);
        r = ldexp(round(m * 2048), e - 11);
    }
    if (r >= ldexp(1, 128)) r = INFINITY;
    return (float)(x < 0 ? -r : r);
}

static void test_mma(void) {
    for (int kind = 0; kind < 3; kind++) {
        int K = kind == 2 ? 8 : 16;
        uint16_t a16[16 * 16], b16[16 * 8];
        float af[16 * 8], bf[8 * 8], D[16 * 8];
        double A[16][16], B[16][8], want[16][8];
        for (int i = 0; i < 16; i++)
            for (int k = 0; k < K; k++) {
                double v = ((int)(rnd32() % 33) - 16) / 8.0 + (kind == 2 ? (rnd32() % 1000) * 1e-6 : 0);
                if (kind == 2) {
                    af[i * 8 + k] = (float)v;
                    A[i][k] = tf32_ref((float)v);
                } else {
                    a16[i * 16 + k] = kind == 0 ? ts_f16_from_f64(v) : ts_bf16_from_f64(v);
                    A[i][k] = v;
                }
            }
        for (int k = 0; k < K; k++)
            for (int j = 0; j < 8; j++) {
                double v = ((int)(rnd32() % 17) - 8) / 4.0 + (kind == 2 ? (rnd32() % 1000) * 1e-6 : 0);
                if (kind == 2) {
                    bf[k * 8 + j] = (float)v;
                    B[k][j] = tf32_ref((float)v);
                } else {
                    b16[k * 8 + j] = kind == 0 ? ts_f16_from_f64(v) : ts_bf16_from_f64(v);
                    B[k][j] = v;
                }
            }
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++) {
                D[i * 8 + j] = (float)(i - j) * 0.25f;
                want[i][j] = D[i * 8 + j];
                for (int k = 0; k < K; k++) want[i][j] += A[i][k] * B[k][j];
            }
        void *p[4] = {kind == 2 ? (void *)af : (void *)a16, kind == 2 ? (void *)bf : (void *)b16, D,
                      (void *)(intptr_t)kind};
        CHECK(launch("mma_one", p, 1, 32, 0, NULL, 0) == TS_OK);
        int bad = 0;
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
                if (fabs(D[i * 8 + j] - want[i][j]) > 1e-5 * (1 + fabs(want[i][j])) && bad++ < 3)
                    fprintf(stderr, "mma kind %d: D[%d][%d] = %g, want %g\n", kind, i, j, D[i * 8 + j], want[i][j]);
        CHECK(bad == 0);
    }
}

static void test_ldmatrix(void) {
    for (int which = 0; which < 5; which++) {
        uint32_t out[128];
        memset(out, 0xab, sizeof out);
        void *p[2] = {out, (void *)(intptr_t)which};
        CHECK(launch("ldmatrix_test", p, 1, 32, 512, NULL, 0) == TS_OK);
        int nmat = which == 0 ? 1 : which == 1 || which == 3 ? 2 : 4;
        bool trans = which >= 3;
        int bad = 0;
        for (int l = 0; l < 32; l++)
            for (int j = 0; j < 4; j++) {
                uint32_t want = 0;
                if (j < nmat) {
                    int row = l / 4, col = 2 * (l % 4);
                    /* element (r, c) of matrix j holds 64j + 8r + c */
                    uint32_t lo = trans ? 64u * j + 8u * col + row : 64u * j + 8u * row + col;
                    uint32_t hi = trans ? 64u * j + 8u * (col + 1) + row : 64u * j + 8u * row + col + 1;
                    want = lo | hi << 16;
                }
                if (out[l * 4 + j] != want && bad++ < 3)
                    fprintf(stderr, "ldmatrix %d: lane %d reg %d = %#x, want %#x\n", which, l, j, out[l * 4 + j], want);
            }
        CHECK(bad == 0);
    }
}

static void test_cp_async(void) {
    enum { T = 64 };
    unsigned char src[16 * 2 * T], out[96 * T];
    for (int i = 0; i < (int)sizeof src; i++) src[i] = (unsigned char)(1 + i % 250);
    void *p[2] = {src, out};
    CHECK(launch("cp_async_test", p, 1, T, 32 * T, NULL, 0) == TS_OK);
    int bad = 0;
    for (int t = 0; t < T; t++)
        for (int snap = 0; snap < 3; snap++)
            for (int i = 0; i < 32; i++) {
                unsigned char want = 0xff; /* the emulator's uninitialized shared memory */
                if (i < 16 && snap >= 1) want = src[16 * t + i];
                if (i >= 16 && snap == 2) want = i - 16 < t % 17 ? src[16 * (t + T) + i - 16] : 0;
                if (out[96 * t + 32 * snap + i] != want && bad++ < 3)
                    fprintf(stderr, "cp.async: thread %d snapshot %d byte %d = %d, want %d\n", t, snap, i,
                            out[96 * t + 32 * snap + i], want);
            }
    CHECK(bad == 0);
    unsigned char small[16];
    void *q[2] = {src, small};
    CHECK(launch("cp_async_small", q, 1, 1, 64, NULL, 0) == TS_OK);
    for (int i = 0; i < 16; i++) CHECK(small[i] == (i < 11 ? src[i] : i == 11 ? 0 : 0xff));
}

static void test_shfl(void) {
    float f[64 * 4];
    double dd[64];
    long long ii[64];
    void *p[3] = {f, dd, ii};
    CHECK(launch("shfl_test", p, 1, 64, 0, NULL, 0) == TS_OK);
    int bad = 0;
    for (int t = 0; t < 64; t++) {
        int w = t / 32, l = t % 32;
        bad += f[4 * t] != 100 * w + (l ^ 1);
        bad += f[4 * t + 1] != 100 * w + (l ^ 16);
        bad += f[4 * t + 2] != 100 * w + (l ^ 31);
        bad += f[4 * t + 3] != 100 * w + (31 - l);
        bad += dd[t] != 512.0;
        bad += ii[t] != 32ll * (1ll << 40) + 496;
    }
    CHECK(bad == 0);
}

static bool same_f16(uint16_t got, uint16_t want) {
    bool gn = (got & 0x7c00) == 0x7c00 && (got & 0x3ff), wn = (want & 0x7c00) == 0x7c00 && (want & 0x3ff);
    return gn || wn ? gn && wn : got == want;
}
static bool same_bf16(uint16_t got, uint16_t want) {
    bool gn = (got & 0x7f80) == 0x7f80 && (got & 0x7f), wn = (want & 0x7f80) == 0x7f80 && (want & 0x7f);
    return gn || wn ? gn && wn : got == want;
}

static void test_convert(void) {
    enum { N = 65536 };
    static const float edges[] = {65504.0f, 65519.996f, 65520.0f, 0x1p-24f, 0x1p-25f, 0x1.8p-24f, 0x1.4p-23f,
                                  1.0f + 0x1p-11f, 1.0f + 0x3p-11f, -0.0f, INFINITY, -INFINITY, NAN,
                                  1.0f + 0x1p-8f, 1.0f + 0x3p-8f, FLT_MAX, -(1.0f + 0x1p-11f), 0x1p-149f,
                                  0x1.001p-127f, 0x1p-14f, 0x1.ffcp-15f};
    static const uint16_t want_h[] = {0x7bff, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x0002, 0x0002,
                                      0x3c00, 0x3c02, 0x8000, 0x7c00, 0xfc00, 0x7e00};
    enum { NE = sizeof edges / sizeof edges[0] };
    float *x = malloc(sizeof(float) * N), *back_h = malloc(sizeof(float) * N), *back_b = malloc(sizeof(float) * N);
    double *xd = malloc(sizeof(double) * N);
    uint16_t *h = malloc(2 * N), *bh = malloc(2 * N), *hd = malloc(2 * N);
    uint32_t *tf = malloc(4 * N), packs[2];
    TS_ASSERT(x && back_h && back_b && xd && h && bh && hd && tf);
    for (int i = 0; i < N; i++) {
        x[i] = i < NE ? edges[i] : f32_of(rnd32());
        if (i >= NE && i % 3 == 0) x[i] = ldexpf((float)(rnd32() % 4096) + 0.5f, (int)(rnd32() % 40) - 40);
        uint64_t r = ((uint64_t)rnd32() << 32) | rnd32();
        /* doubles around the f16 range, including exact ties of f16 values */
        xd[i] = i < NE ? (double)edges[i]
                       : ldexp((double)(r >> 11) / 9007199254740992.0 + 1, (int)(r % 50) - 30) * (r & 1 ? -1 : 1);
        if (i >= NE && i % 4 == 0) xd[i] = ldexp((double)(r % 4096) + 0.5, (int)(r % 40) - 35);
    }
    void *p[10] = {x, xd, h, bh, tf, hd, back_h, back_b, packs, (void *)(intptr_t)N};
    CHECK(launch("convert", p, N / 256, 256, 0, NULL, 0) == TS_OK);
    /* hand-computed edges */
    for (int i = 0; i < (int)(sizeof want_h / sizeof want_h[0]); i++) {
        if (!same_f16(h[i], want_h[i])) fprintf(stderr, "f16(%a) = %#x, want %#x\n", edges[i], h[i], want_h[i]);
        CHECK(same_f16(h[i], want_h[i]));
    }
    CHECK(bh[13] == 0x3f80 && bh[14] == 0x3f82 && bh[15] == 0x7f80 && bh[10] == 0x7f80 && bh[9] == 0x8000);
    CHECK(tf[7] == 0x3f802000u && tf[16] == 0xbf802000u && tf[15] == 0x7f800000u);
    CHECK(isnan(f32_of(tf[12])) && same_bf16(bh[12], 0x7fc0));
    CHECK(packs[0] == 0xc0003c00u && packs[1] == 0xc0003f80u);
    /* everything against ir/'s converters and the tf32 rule above */
    int bad = 0;
    for (int i = 0; i < N; i++) {
        uint16_t wh = ts_f16_from_f64((double)x[i]), wb = ts_bf16_from_f64((double)x[i]), wd = ts_f16_from_f64(xd[i]);
        float wt = tf32_ref(x[i]);
        double bhw = ts_f16_to_f64((uint16_t)i), bbw = ts_bf16_to_f64((uint16_t)i);
        bool ok = same_f16(h[i], wh) && same_bf16(bh[i], wb) && same_f16(hd[i], wd) &&
                  (isnan(wt) ? isnan(f32_of(tf[i])) : bits_of(wt) == tf[i]) &&
                  (isnan(bhw) ? isnan(back_h[i]) : back_h[i] == bhw && !signbit(back_h[i]) == !signbit(bhw)) &&
                  (isnan(bbw) ? isnan(back_b[i]) : back_b[i] == bbw);
        if (!ok && bad++ < 5)
            fprintf(stderr, "convert %d: x %a: f16 %#x/%#x bf16 %#x/%#x tf32 %#x/%#x; xd %a: f16 %#x/%#x; "
                            "bits %#x: %a/%a %a/%a\n", i, x[i], h[i], wh, bh[i], wb, tf[i], bits_of(wt), xd[i],
                    hd[i], wd, i, back_h[i], bhw, back_b[i], bbw);
    }
    CHECK(bad == 0);
    free(x), free(back_h), free(back_b), free(xd), free(h), free(bh), free(hd), free(tf);
}

static void test_block_sum(void) {
    long long out[12];
    int error = 0;
    void *p[2] = {out, &error};
    struct ts_cuda_launch l = {.grid = {3, 2, 2}, .block = {1000, 1, 1}};
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_emu_module_launch(mod, "block_sum", p, &l, &d) == TS_OK);
    for (int b = 0; b < 12; b++) CHECK(out[b] == b * 1000000ll + 499500);
    CHECK(error == 3);
    /* two-dimensional blocks are not tessera's */
    struct ts_cuda_launch l2 = {.grid = {1, 1, 1}, .block = {32, 2, 1}};
    ts_diag_clear(&d);
    CHECK(ts_emu_module_launch(mod, "block_sum", p, &l2, &d) == TS_ERR_RUNTIME);
    CHECK_CONTAINS(d.what, "1-D blocks");
}

static void test_static_smem(void) {
    unsigned out[4] = {0, 0, 0, 0};
    void *p[1] = {out};
    CHECK(launch("static_smem", p, 2, 4, 0, NULL, 0) == TS_OK);
    for (int i = 0; i < 4; i++) CHECK(out[i] == 0xffffffffu);
}

static void test_misuse(void) {
    static const char *const want[] = {
        "deadlock: __syncthreads at line",  "divergent __syncthreads",    "deadlock: shuffle at line",
        "is exited",                        "must be 16-byte aligned",    "is not 16-byte aligned",
        "in a warp of 16 threads",          "divergent warp"};
    for (int which = 0; which < 8; which++) {
        float out[64];
        char msg[1024];
        void *p[2] = {out, (void *)(intptr_t)which};
        CHECK(launch("misuse", p, 2, which == 6 ? 48 : 64, 1024, msg, sizeof msg) == TS_ERR_RUNTIME);
        CHECK_CONTAINS(msg, want[which]);
        CHECK_CONTAINS(msg, "block (0,0,0)");
        if (getenv("TS_EMU_VERBOSE")) fprintf(stderr, "misuse %d: %s\n", which, msg);
    }
    test_block_sum(); /* the module still works after aborted launches */
}

/* In sanitizer builds the module is instrumented too: a kernel reading past
 * a buffer must be reported (in a child process, which ASan ends). */
static void test_out_of_bounds(void) {
#if defined(__SANITIZE_ADDRESS__)
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!getenv("TS_EMU_VERBOSE") && !freopen("/dev/null", "w", stderr)) _exit(3);
        float *out = malloc(64 * sizeof(float));
        void *p[2] = {out, (void *)(intptr_t)8};
        launch("misuse", p, 1, 64, 0, NULL, 0);
        _exit(0); /* not reported */
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
#endif
}

int main(void) {
    char *src = NULL;
    FILE *f = fopen("tests/cuda_emu/primitives_kernels.cu", "rb");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        src = calloc(1, (size_t)n + 1);
        CHECK(src && fread(src, 1, (size_t)n, f) == (size_t)n);
        fclose(f);
    }
    struct ts_diag d;
    ts_diag_clear(&d);
    enum ts_status st = src ? ts_emu_module_build(src, &mod, &d) : TS_ERR_IO;
    free(src);
    if (st != TS_OK) {
        char buf[1024];
        ts_diag_format(&d, buf, sizeof buf);
        fprintf(stderr, "building the fixture: %s\n", buf);
    }
    CHECK(st == TS_OK);
    if (st == TS_OK) {
        test_mma();
        test_ldmatrix();
        test_cp_async();
        test_shfl();
        test_convert();
        test_block_sum();
        test_static_smem();
        test_misuse();
        test_out_of_bounds();
        ts_emu_module_free(mod);
    }
    return ts_test_finish("test_emu_primitives");
}
