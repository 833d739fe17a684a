/* test_cuda_nvrtc.c — NVRTC, the compile cache and ptxas's report (on tiny
 * handwritten kernels), then the CI check of issue #4: every kernel kind and
 * dtype, in representative schedules, from the examples and the graphs of
 * tests/cuda/graphs, compiles through NVRTC for sm_80 and sm_90a with no
 * spills and no stack in any function; and the toolkit's ptxas agrees.
 * TESSERA_TEST_GRAPHS=gemm_f16 limits the CI check to matching graphs;
 * TESSERA_TEST_DUMP_DIR=folder keeps each translation unit and its log. */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "codegen/cuda/internal.h"
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"

static char tmp[256]; /* this run's temp folder: every cache lives under it */

static void remove_tree(const char *path) {
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[512];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(dir);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* The number of cache entries (*.tsc) in dir; the last one's path in last. */
static int count_entries(const char *dir, char *last, size_t n) {
    DIR *dd = opendir(dir);
    int count = 0;
    if (!dd) return 0;
    struct dirent *e;
    while ((e = readdir(dd))) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".tsc")) {
            count++;
            if (last) snprintf(last, n, "%s/%s", dir, e->d_name);
        }
    }
    closedir(dd);
    return count;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* ---- part 1: NVRTC, the cache and the report on handwritten kernels ------ */

static const char tiny_src[] =
    "extern \"C\" __global__ void k0_scale(float *a, int n) {\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i < n) a[i] = a[i] * 2.0f + 1.0f;\n"
    "}\n"
    "extern \"C\" __global__ void k0_scale_stack(float *a) {\n"
    "    float loc[256];\n"
    "    for (int i = 0; i < 256; i++) loc[i] = a[i * threadIdx.x];\n"
    "    a[threadIdx.x] = loc[a[0] > 0 ? 3 : (int)a[1]];\n"
    "}\n";

/* 96 live accumulators under launch bounds that allow 32 registers. */
static const char spill_src[] =
    "extern \"C\" __global__ void __launch_bounds__(1024, 2) k1_spill(float *a, int n) {\n"
    "    float acc[96];\n"
    "    for (int j = 0; j < 96; j++) acc[j] = a[j * n + threadIdx.x];\n"
    "    for (int it = 0; it < n; it++)\n"
    "        for (int j = 0; j < 96; j++) acc[j] = acc[j] * acc[j] + a[it + j];\n"
    "    float s = 0;\n"
    "    for (int j = 0; j < 96; j++) s += acc[j] * (float)j;\n"
    "    a[threadIdx.x] = s;\n"
    "}\n";

static struct ts_cuda_arch arch_of(const char *name) {
    struct ts_cuda_arch a;
    memset(&a, 0, sizeof a);
    a.sm = atoi(name + 3);
    a.specific = name[strlen(name) - 1] == 'a';
    snprintf(a.name, sizeof a.name, "%s", name);
    return a;
}

/* A code object around a handwritten source, the way code.c makes one. */
static struct ts_cuda_code *hand_code(const char *src, const char *arch, const char *cache_dir,
                                      bool verbose) {
    struct ts_cuda_code *c = calloc(1, sizeof *c);
    c->arch = arch_of(arch);
    c->source = strdup(src);
    c->cache_dir = cache_dir ? strdup(cache_dir) : NULL;
    c->ptxas_verbose = verbose;
    return c;
}
static void hand_free(struct ts_cuda_code *c) {
    ts_nvrtc_result_free(&c->nv);
    free(c->source);
    free(c->cache_dir);
    free(c);
}

/* Compiles src once with a fresh code object; returns whether it was a hit. */
static bool compile_once(const char *src, const char *arch, const char *cache_dir, bool verbose,
                         char **ptx_copy) {
    struct ts_cuda_code *c = hand_code(src, arch, cache_dir, verbose);
    struct ts_diag d;
    ts_diag_clear(&d);
    enum ts_status st = ts_cuda_code_compile(c, &d);
    if (st != TS_OK) ts_diag_print(&d, stderr);
    CHECK(st == TS_OK);
    size_t n = 0, nc = 0;
    const char *ptx = ts_cuda_code_ptx(c, &n);
    const unsigned char *cubin = ts_cuda_code_cubin(c, &nc);
    CHECK(ptx && n > 0 && strlen(ptx) == n);
    CHECK(cubin && nc > 4 && !memcmp(cubin, "\x7f" "ELF", 4));
    if (verbose) CHECK_CONTAINS(ts_cuda_code_log(c), "Function properties for k0_scale");
    CHECK(ts_cuda_code_compile_seconds(c) >= 0);
    if (ptx_copy) *ptx_copy = ptx ? strdup(ptx) : NULL;
    bool hit = ts_cuda_code_cache_hit(c);
    hand_free(c);
    return hit;
}

static void test_nvrtc(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    int major = 0, minor = -1;
    CHECK(ts_nvrtc_version(&major, &minor, &d) == TS_OK);
    CHECK(major >= 12 && minor >= 0);
    printf("NVRTC %d.%d\n", major, minor);

    const char *archs[] = {"sm_80", "sm_90a"};
    for (int a = 0; a < 2; a++) {
        struct ts_cuda_arch arch = arch_of(archs[a]);
        struct ts_nvrtc_result r;
        const char *opts[] = {"-Xptxas=-v"};
        CHECK(ts_nvrtc_compile(tiny_src, "tiny.cu", &arch, opts, 1, true, &r, &d) == TS_OK);
        char target[32];
        snprintf(target, sizeof target, ".target %s", archs[a]);
        CHECK(r.ptx && r.ptx_size == strlen(r.ptx));
        CHECK_CONTAINS(r.ptx, target);
        CHECK_CONTAINS(r.ptx, ".entry k0_scale(");
        /* An ELF file for EM_CUDA (190). */
        const unsigned char *e = r.cubin;
        CHECK(r.cubin_size > 64 && e && !memcmp(e, "\x7f" "ELF", 4) && e[18] == 190 && e[19] == 0);
        int regs = 0;
        int64_t spill = -1, stack = -1;
        CHECK(ts_ptxas_report(r.log, "k0_scale", &regs, &spill, &stack));
        CHECK(regs > 0 && regs < 32 && spill == 0 && stack == 0);
        CHECK(ts_ptxas_report(r.log, "k0_scale_stack", &regs, &spill, &stack));
        CHECK(stack == 1024 && spill == 0 && regs > 0);
        CHECK(!ts_ptxas_report(r.log, "k0_scal", &regs, &spill, &stack));
        CHECK(!ts_ptxas_report(r.log, "nothing", &regs, &spill, &stack));
        ts_nvrtc_result_free(&r);

        /* PTX alone: the virtual arch, no cubin. */
        CHECK(ts_nvrtc_compile(tiny_src, "tiny.cu", &arch, NULL, 0, false, &r, &d) == TS_OK);
        CHECK(r.ptx && !r.cubin && r.cubin_size == 0);
        CHECK_CONTAINS(r.ptx, target);
        ts_nvrtc_result_free(&r);
    }
    CHECK(d.status == TS_OK);

    /* A spilling kernel: the report's numbers are ptxas's. */
    struct ts_cuda_arch sm80 = arch_of("sm_80");
    struct ts_nvrtc_result r;
    const char *opts[] = {"-Xptxas=-v"};
    CHECK(ts_nvrtc_compile(spill_src, "spill.cu", &sm80, opts, 1, true, &r, &d) == TS_OK);
    int regs = 0;
    int64_t spill = 0, stack = 0;
    CHECK(ts_ptxas_report(r.log, "k1_spill", &regs, &spill, &stack));
    CHECK(regs > 0 && regs <= 32 && spill > 0 && stack > 0);
    ts_nvrtc_result_free(&r);

    /* libdevice's cos keeps its slow path's table on the stack (40 bytes with
     * NVRTC 13.0: a kernel calling it has a stack frame), and the helper it
     * does not inline gets a report of its own with no "Used" line. */
    const char *trig = "extern \"C\" __global__ void k2_cos(double *a) { a[threadIdx.x] = cos(a[threadIdx.x]); }\n";
    CHECK(ts_nvrtc_compile(trig, "trig.cu", &sm80, opts, 1, true, &r, &d) == TS_OK);
    CHECK(ts_ptxas_report(r.log, "k2_cos", &regs, &spill, &stack));
    CHECK(regs > 0 && spill == 0 && stack >= 0);
    CHECK(ts_ptxas_report(r.log, "__internal_trig_reduction_slowpathd", &regs, &spill, &stack));
    CHECK(regs == 0 && spill == 0 && stack == 0);
    ts_nvrtc_result_free(&r);

    /* A report written out: exact numbers, the whole name. */
    const char *log = "ptxas info    : Compiling entry function 'k3' for 'sm_90a'\n"
                      "ptxas info    : Function properties for k3_gemm\n"
                      "ptxas         .     8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads\n"
                      "ptxas info    : Used 168 registers, used 1 barriers, 8 bytes cumulative stack size\n"
                      "ptxas info    : Function properties for k3\n"
                      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
                      "ptxas info    : Used 40 registers, used 0 barriers\n";
    CHECK(ts_ptxas_report(log, "k3_gemm", &regs, &spill, &stack));
    CHECK(regs == 168 && spill == 16 && stack == 8);
    CHECK(ts_ptxas_report(log, "k3", &regs, &spill, &stack));
    CHECK(regs == 40 && spill == 0 && stack == 0);

    /* Errors: the failing kernel is named and the first error quoted. */
    const char *bad = "extern \"C\" __global__ void k6_good(float *a) { a[0] = 1; }\n"
                      "extern \"C\" __global__ void __launch_bounds__(256) k7_bad(float *a) {\n"
                      "    a[0] = undefined_thing + 1;\n"
                      "}\n";
    ts_diag_clear(&d);
    CHECK(ts_nvrtc_compile(bad, "bad.cu", &sm80, NULL, 0, true, &r, &d) == TS_ERR_UNSUPPORTED);
    CHECK_STR(d.where, "k7_bad");
    CHECK_CONTAINS(d.what, "bad.cu(3): error: identifier \"undefined_thing\" is undefined");
    CHECK_CONTAINS(d.what, "sm_80");
    CHECK(r.log && !r.ptx && !r.cubin);
    CHECK_CONTAINS(r.log, "1 error detected");
    ts_nvrtc_result_free(&r);
    /* An error inside a template is blamed on the kernel instantiating it. */
    const char *inst = "template <class T> __device__ float f(T *x) { return x[0].foo; }\n"
                       "extern \"C\" __global__ void k1_ok(float *a) { a[0] = 1; }\n"
                       "extern \"C\" __global__ void k9_inst(float *a) {\n"
                       "    a[0] = f<float>(a);\n"
                       "}\n";
    ts_diag_clear(&d);
    CHECK(ts_nvrtc_compile(inst, "inst.cu", &sm80, NULL, 0, false, &r, &d) == TS_ERR_UNSUPPORTED);
    CHECK_STR(d.where, "k9_inst");
    CHECK_CONTAINS(d.what, "error: expression must have class type");
    ts_nvrtc_result_free(&r);
    /* ptxas fails without a message for static shared memory over 48 KB. */
    const char *big = "extern \"C\" __global__ void k5_big(float *a) {\n"
                      "    __shared__ float big[100000];\n"
                      "    big[threadIdx.x] = a[threadIdx.x];\n"
                      "    __syncthreads();\n"
                      "    a[threadIdx.x] = big[threadIdx.x ^ 1];\n"
                      "}\n";
    ts_diag_clear(&d);
    CHECK(ts_nvrtc_compile(big, "big.cu", &sm80, opts, 1, true, &r, &d) == TS_ERR_UNSUPPORTED);
    CHECK_CONTAINS(d.what, "NVRTC");
    CHECK(r.log != NULL);
    ts_nvrtc_result_free(&r);
    /* Through a code object: the status, and the whole log kept. */
    struct ts_cuda_code *c = hand_code(bad, "sm_90a", NULL, false);
    c->no_cache = true;
    ts_diag_clear(&d);
    CHECK(ts_cuda_code_compile(c, &d) == TS_ERR_UNSUPPORTED);
    CHECK_STR(d.where, "k7_bad");
    CHECK_CONTAINS(ts_cuda_code_log(c), "undefined_thing");
    CHECK(ts_cuda_code_ptx(c, NULL) == NULL && ts_cuda_code_cubin(c, NULL) == NULL);
    hand_free(c);
}

/* Rewrites byte 'at' of path (negative: from the end) to x, or truncates it to
 * 'at' bytes when x < 0, or replaces the whole file with text. */
static void damage(const char *path, long at, int x, const char *text) {
    long size = file_size(path);
    if (text) {
        FILE *f = fopen(path, "wb");
        fputs(text, f);
        fclose(f);
    } else if (x < 0) {
        CHECK(truncate(path, at) == 0);
    } else {
        FILE *f = fopen(path, "r+b");
        CHECK(f != NULL);
        if (!f) return;
        fseek(f, at < 0 ? size + at : at, SEEK_SET);
        int old = fgetc(f);
        fseek(f, at < 0 ? size + at : at, SEEK_SET);
        fputc(x == old ? x ^ 1 : x, f);
        fclose(f);
    }
}

struct race {
    const char *dir;
    bool ok;
};
static void *race_compile(void *arg) {
    struct race *r = arg;
    struct ts_cuda_code *c = hand_code(tiny_src, "sm_80", r->dir, true);
    struct ts_diag d;
    ts_diag_clear(&d);
    r->ok = ts_cuda_code_compile(c, &d) == TS_OK && ts_cuda_code_cubin(c, NULL);
    hand_free(c);
    return NULL;
}

static void test_cache(void) {
    char dir[300], entry[600], other[600];
    snprintf(dir, sizeof dir, "%s/cache/nested", tmp);
    /* Miss, then hit with the same PTX. */
    char *ptx1 = NULL, *ptx2 = NULL;
    CHECK(!compile_once(tiny_src, "sm_90a", dir, true, &ptx1));
    CHECK(count_entries(dir, entry, sizeof entry) == 1);
    long size = file_size(entry);
    CHECK(compile_once(tiny_src, "sm_90a", dir, true, &ptx2));
    CHECK(ptx1 && ptx2 && !strcmp(ptx1, ptx2));
    free(ptx1);
    free(ptx2);

    /* Damaged entries are misses, recompiled and replaced whole. */
    struct {
        const char *what;
        long at;
        int x;
        const char *text;
    } cases[] = {
        {"truncated to half", size / 2, -1, NULL}, {"truncated to the header", 112, -1, NULL},
        {"empty", 0, -1, NULL},                    {"a payload byte flipped", size / 2, 0x55, NULL},
        {"the last byte flipped", -1, 0x55, NULL}, {"wrong magic", 0, 'X', NULL},
        {"a key byte flipped", 20, 0x55, NULL},    {"a size field changed", 49, 0x7f, NULL},
        {"a foreign file", 0, 0, "not a tessera cache entry\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        damage(entry, cases[i].at, cases[i].x, cases[i].text);
        bool hit = compile_once(tiny_src, "sm_90a", dir, true, NULL);
        if (hit) fprintf(stderr, "cache: %s entry was trusted\n", cases[i].what);
        CHECK(!hit);
        CHECK(file_size(entry) > 112); /* replaced (ptxas's timings make sizes vary) */
        CHECK(compile_once(tiny_src, "sm_90a", dir, true, NULL));
    }
    CHECK(count_entries(dir, NULL, 0) == 1);

    /* Another arch, other options, another source: other keys. */
    CHECK(!compile_once(tiny_src, "sm_80", dir, true, NULL));
    CHECK(count_entries(dir, NULL, 0) == 2);
    CHECK(!compile_once(tiny_src, "sm_90a", dir, false, NULL));
    CHECK(count_entries(dir, NULL, 0) == 3);
    char src2[sizeof tiny_src];
    memcpy(src2, tiny_src, sizeof tiny_src);
    *strstr(src2, "2.0f") = '3';
    CHECK(!compile_once(src2, "sm_90a", dir, true, NULL));
    CHECK(count_entries(dir, NULL, 0) == 4);
    CHECK(compile_once(tiny_src, "sm_80", dir, true, NULL));
    CHECK(compile_once(tiny_src, "sm_90a", dir, false, NULL));
    CHECK(compile_once(src2, "sm_90a", dir, true, NULL));

    /* Concurrent writers of one key: both compile, the entry is whole. */
    char rdir[300];
    snprintf(rdir, sizeof rdir, "%s/race", tmp);
    struct race races[2] = {{rdir, false}, {rdir, false}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, race_compile, &races[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(races[0].ok && races[1].ok);
    CHECK(count_entries(rdir, NULL, 0) == 1);
    CHECK(compile_once(tiny_src, "sm_80", rdir, true, NULL));

    /* no_cache: neither read nor written. */
    struct ts_cuda_code *c = hand_code(tiny_src, "sm_80", rdir, true);
    c->no_cache = true;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_cuda_code_compile(c, &d) == TS_OK && !ts_cuda_code_cache_hit(c));
    hand_free(c);

    /* An unusable folder (under a regular file, so even root cannot write
     * it): no cache, no error. */
    char file[300], bad[400];
    snprintf(file, sizeof file, "%s/plainfile", tmp);
    damage(file, 0, 0, "x");
    snprintf(bad, sizeof bad, "%s/sub", file);
    CHECK(!compile_once(tiny_src, "sm_80", bad, true, NULL));
    CHECK(!compile_once(tiny_src, "sm_80", bad, true, NULL));

    /* The default folder: $TESSERA_CACHE_DIR, $XDG_CACHE_HOME/tessera, ~/.cache/tessera. */
    snprintf(dir, sizeof dir, "%s/env", tmp);
    setenv("TESSERA_CACHE_DIR", dir, 1);
    CHECK(!compile_once(tiny_src, "sm_80", NULL, true, NULL));
    CHECK(count_entries(dir, NULL, 0) == 1);
    unsetenv("TESSERA_CACHE_DIR");
    snprintf(dir, sizeof dir, "%s/xdg", tmp);
    setenv("XDG_CACHE_HOME", dir, 1);
    CHECK(!compile_once(tiny_src, "sm_80", NULL, true, NULL));
    snprintf(other, sizeof other, "%s/tessera", dir);
    CHECK(count_entries(other, NULL, 0) == 1);
    unsetenv("XDG_CACHE_HOME");
    snprintf(dir, sizeof dir, "%s/home", tmp);
    setenv("HOME", dir, 1);
    CHECK(!compile_once(tiny_src, "sm_80", NULL, true, NULL));
    snprintf(other, sizeof other, "%s/.cache/tessera", dir);
    CHECK(count_entries(other, NULL, 0) == 1);
    /* From here on nothing may reach a real home. */
    snprintf(dir, sizeof dir, "%s/default", tmp);
    setenv("TESSERA_CACHE_DIR", dir, 1);
}

/* ---- part 2: the CI check on real programs ------------------------------ */

/* Schedules set on the kernels of tests/cuda/graphs (zero: the default). The
 * n-th kernel of a kind takes entry n % count of its table, so each graph
 * puts every entry on some problem. */
struct gemm_variant {
    int bm, bn, bk, wm, wn, stages, split_k;
    enum ts_gemm_instr instr;
};
static const struct gemm_variant gemm_f16_variants[] = {
    {0, 0, 0, 0, 0, 0, 0, TS_GEMM_INSTR_AUTO},
    {64, 64, 32, 32, 32, 2, 1, TS_GEMM_INSTR_MMA_F16},
    {128, 128, 32, 64, 64, 3, 1, TS_GEMM_INSTR_MMA_F16},
    {128, 256, 32, 64, 64, 4, 1, TS_GEMM_INSTR_MMA_F16},
    {128, 128, 32, 64, 64, 3, 4, TS_GEMM_INSTR_MMA_F16},
    {64, 64, 16, 32, 32, 2, 1, TS_GEMM_INSTR_SIMT},
    {128, 128, 16, 32, 64, 3, 4, TS_GEMM_INSTR_SIMT},
};
static const struct gemm_variant gemm_f32_variants[] = {
    {0, 0, 0, 0, 0, 0, 0, TS_GEMM_INSTR_AUTO},
    {64, 64, 16, 32, 32, 2, 1, TS_GEMM_INSTR_MMA_TF32},
    {128, 128, 16, 64, 64, 3, 1, TS_GEMM_INSTR_MMA_TF32},
    {128, 256, 16, 64, 64, 4, 1, TS_GEMM_INSTR_MMA_TF32},
    {128, 128, 32, 64, 64, 3, 4, TS_GEMM_INSTR_MMA_TF32},
    {64, 64, 16, 32, 32, 2, 1, TS_GEMM_INSTR_SIMT},
    {128, 128, 16, 32, 64, 4, 4, TS_GEMM_INSTR_SIMT},
};
static const struct gemm_variant gemm_int_variants[] = {
    {0, 0, 0, 0, 0, 0, 0, TS_GEMM_INSTR_AUTO},
    {64, 64, 16, 32, 32, 2, 1, TS_GEMM_INSTR_SIMT},
    {128, 128, 16, 32, 32, 3, 1, TS_GEMM_INSTR_SIMT},
    {32, 32, 16, 16, 16, 3, 4, TS_GEMM_INSTR_SIMT},
};
struct attn_variant {
    int block_q, block_k, warps, stages;
};
static const struct attn_variant attn_variants[] = {
    {0, 0, 0, 0}, {64, 64, 4, 2}, {128, 64, 8, 2}, {64, 32, 4, 3}, {128, 32, 8, 1},
};
/* f32 tiles take twice the shared memory: half the keys per step. */
static const struct attn_variant attn_f32_variants[] = {
    {0, 0, 0, 0}, {64, 32, 4, 2}, {128, 32, 8, 2}, {64, 16, 4, 3}, {128, 16, 8, 1},
};
struct simple_variant {
    int threads, vec;  /* vec halved until it fits one 16-byte access */
};
static const struct simple_variant pointwise_variants[] = {
    {0, 0}, {64, 1}, {128, 2}, {256, 4}, {512, 8}, {1024, 4}, {32, 16},
};
static const struct simple_variant rowwise_variants[] = {
    {0, 0}, {32, 1}, {64, 2}, {128, 4}, {256, 8}, {512, 1}, {1024, 2},
};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The examples keep their default schedules; tests/cuda/graphs take the
 * tables above from entry 'first' on (gemm_bf16 has 4 GEMMs: entries 3-6,
 * the big tiles, split-K and SIMT; gemm_f16 covers all 7). The slowest to
 * compile come first, so that two workers finish together. */
static const struct {
    const char *path;
    int first;
} ci_graphs[] = {
    {"tests/cuda/graphs/gemm_f16.json", 0},
    {"tests/cuda/graphs/gemm_bf16.json", 3},
    {"tests/cuda/graphs/attention_f32.json", 0},
    {"tests/cuda/graphs/gemm_f32.json", 0},
    {"tests/cuda/graphs/attention_f16.json", 0},
    {"tests/cuda/graphs/attention_bf16.json", 0},
    {"tests/cuda/graphs/pointwise_rowwise.json", 0},
    {"examples/llama/graph.json", 0},
    {"examples/gpt/graph.json", 0},
    {"tests/cuda/graphs/gemm_i32.json", 0},
    {"examples/bert/graph.json", 0},
};
static const char *const ci_archs[] = {"sm_80", "sm_90a"};

static int widest_bytes(const struct ts_kernel *k) {
    int w = (int)ts_dtype_size(k->output.dtype);
    for (int i = 0; i < k->ninputs; i++)
        if ((int)ts_dtype_size(k->inputs[i].dtype) > w) w = (int)ts_dtype_size(k->inputs[i].dtype);
    return w;
}

/* Sets kernel k's gpu schedule to entry n of its kind's table. */
static void set_variant(struct ts_kernel *k, int n) {
    if (k->kind == TS_KERNEL_GEMM) {
        const struct gemm_variant *t = gemm_f16_variants;
        int cnt = COUNT(gemm_f16_variants);
        if (k->acc_type != TS_SCALAR_F32) t = gemm_int_variants, cnt = COUNT(gemm_int_variants);
        else if (k->inputs[0].dtype == TS_F32) t = gemm_f32_variants, cnt = COUNT(gemm_f32_variants);
        const struct gemm_variant *v = &t[n % cnt];
        k->sched.gemm.gpu.bm = v->bm, k->sched.gemm.gpu.bn = v->bn, k->sched.gemm.gpu.bk = v->bk;
        k->sched.gemm.gpu.wm = v->wm, k->sched.gemm.gpu.wn = v->wn;
        k->sched.gemm.gpu.stages = v->stages, k->sched.gemm.gpu.split_k = v->split_k;
        k->sched.gemm.gpu.instr = v->instr;
    } else if (k->kind == TS_KERNEL_ATTENTION) {
        bool f32 = k->inputs[0].dtype == TS_F32;
        const struct attn_variant *v = f32 ? &attn_f32_variants[n % COUNT(attn_f32_variants)]
                                           : &attn_variants[n % COUNT(attn_variants)];
        k->sched.attention.gpu.block_q = v->block_q, k->sched.attention.gpu.block_k = v->block_k;
        k->sched.attention.gpu.warps = v->warps, k->sched.attention.gpu.stages = v->stages;
    } else {
        bool pw = k->kind == TS_KERNEL_POINTWISE;
        const struct simple_variant *v = pw ? &pointwise_variants[n % COUNT(pointwise_variants)]
                                            : &rowwise_variants[n % COUNT(rowwise_variants)];
        int vec = v->vec;
        while (vec > 1 && vec * widest_bytes(k) > 16) vec /= 2;
        if (pw) k->sched.pointwise.gpu.threads = v->threads, k->sched.pointwise.gpu.vec = vec;
        else k->sched.rowwise.gpu.threads = v->threads, k->sched.rowwise.gpu.vec = vec;
    }
}

static void describe(const struct ts_kernel *k, char *out, size_t n) {
    switch (k->kind) {
    case TS_KERNEL_GEMM: {
        const struct ts_sched_gemm *s = &k->sched.gemm;
        snprintf(out, n, "%dx%dx%d w%dx%d s%d k%d %s", s->gpu.bm, s->gpu.bn, s->gpu.bk, s->gpu.wm, s->gpu.wn,
                 s->gpu.stages, s->gpu.split_k, ts_gemm_instr_name(s->gpu.instr));
        break;
    }
    case TS_KERNEL_ATTENTION: {
        const struct ts_sched_attention *s = &k->sched.attention;
        snprintf(out, n, "q%d k%d w%d s%d%s%s", s->gpu.block_q, s->gpu.block_k, s->gpu.warps, s->gpu.stages,
                 k->attn.causal ? " causal" : "", k->attn.hkv != k->attn.hq ? " gqa" : "");
        break;
    }
    case TS_KERNEL_POINTWISE:
        snprintf(out, n, "t%d v%d", k->sched.pointwise.gpu.threads, k->sched.pointwise.gpu.vec);
        break;
    default: snprintf(out, n, "t%d v%d", k->sched.rowwise.gpu.threads, k->sched.rowwise.gpu.vec); break;
    }
}

/* "examples/gpt/graph.json" → "gpt", "tests/cuda/graphs/gemm_f16.json" → "gemm_f16". */
static void short_name(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!strcmp(b, "graph.json") && b - path >= 2) {
        const char *e = b - 1, *s = e;
        while (s > path && s[-1] != '/') s--;
        snprintf(out, n, "%.*s", (int)(e - s), s);
    } else {
        snprintf(out, n, "%.*s", (int)strcspn(b, "."), b);
    }
}

/* One translation unit for one arch. */
struct job {
    const char *graph, *arch;
    int first;  /* the graph's first schedule entry */
    struct ts_graph *g;
    struct ts_program *p;
    struct ts_cuda_code *code;
    enum ts_status st;
    struct ts_diag d;
};

static struct job jobs[COUNT(ci_graphs) * COUNT(ci_archs)];
static int njobs, next_job;
static pthread_mutex_t job_mu = PTHREAD_MUTEX_INITIALIZER;

/* NVRTC is thread-safe across programs: two compiles at a time (CI has 2 cores). */
static void *compile_worker(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&job_mu);
        int i = next_job < njobs ? next_job++ : -1;
        pthread_mutex_unlock(&job_mu);
        if (i < 0) return NULL;
        ts_diag_clear(&jobs[i].d);
        jobs[i].st = ts_cuda_code_compile(jobs[i].code, &jobs[i].d);
    }
}

/* Parses the program of graph for arch with its schedule variants, checks
 * every schedule, and renders the CUDA C; false (reported) on failure. */
static bool prepare(struct job *j) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_fuse_opts fo = {.vector_width = 8};
    if (ts_graph_load(j->graph, &j->g, &d) != TS_OK ||
        ts_compile_program(j->g, NULL, &fo, &j->p, &d) != TS_OK) {
        ts_diag_print(&d, stderr);
        CHECK(!"graph compiles to a program");
        return false;
    }
    struct ts_cuda_arch arch;
    CHECK(ts_cuda_arch_parse(j->arch, &arch, &d) == TS_OK);
    bool ours = strncmp(j->graph, "examples/", 9) != 0;
    int nth[TS_KERNEL_KIND_COUNT] = {0};
    for (int i = 0; i < j->p->nkernels; i++) {
        struct ts_kernel *k = &j->p->kernels[i];
        if (ours) set_variant(k, j->first + nth[k->kind]++);
        struct ts_kernel filled = *k;
        ts_cuda_sched_default(&filled, &arch, false);
        ts_diag_clear(&d);
        if (ts_cuda_sched_check(&filled, &arch, &d) != TS_OK) {
            fprintf(stderr, "%s (%s): ", j->graph, j->arch);
            ts_diag_print(&d, stderr);
            CHECK(!"every CI schedule is legal");
            return false;
        }
    }
    struct ts_cuda_opts o = {.arch = j->arch, .no_cache = true, .ptxas_verbose = true};
    ts_diag_clear(&d);
    if (ts_cuda_codegen(j->p, &o, &j->code, &d) != TS_OK) {
        fprintf(stderr, "%s (%s): ", j->graph, j->arch);
        ts_diag_print(&d, stderr);
        CHECK(!"CUDA codegen succeeds");
        return false;
    }
    /* The schedules chosen here are the ones rendered. */
    for (int i = 0; i < j->p->nkernels; i++) {
        const struct ts_kernel *k = &j->p->kernels[i], *r = ts_cuda_code_kernel(j->code, i);
        if (k->kind == TS_KERNEL_GEMM && k->sched.gemm.gpu.bm)
            CHECK(r->sched.gemm.gpu.bm == k->sched.gemm.gpu.bm &&
                  r->sched.gemm.gpu.stages == k->sched.gemm.gpu.stages &&
                  r->sched.gemm.gpu.split_k == k->sched.gemm.gpu.split_k);
        if (k->kind == TS_KERNEL_ATTENTION && k->sched.attention.gpu.block_q)
            CHECK(r->sched.attention.gpu.block_q == k->sched.attention.gpu.block_q);
    }
    return true;
}

/* Checks every function ptxas reports in log: no spills, no stack. Returns
 * how many it reports; *bad counts those using local memory. */
static int check_all_functions(const char *log, const char *what, int *bad) {
    int n = 0;
    *bad = 0;
    for (const char *p = log; (p = strstr(p, "Function properties for ")); p++) {
        char sym[256];
        const char *name = p + strlen("Function properties for ");
        size_t len = strcspn(name, "\r\n");
        snprintf(sym, sizeof sym, "%.*s", (int)(len < 255 ? len : 255), name);
        int regs;
        int64_t spill = -1, stack = -1;
        CHECK(ts_ptxas_report(log, sym, &regs, &spill, &stack));
        if (spill != 0 || stack != 0) {
            /* Quote ptxas's lines for the report. */
            const char *e = strstr(name, "registers");
            fprintf(stderr, "%s: %s uses local memory:\n%.*s\n", what, sym, (int)(e ? e - p + 9 : 200), p);
        }
        CHECK(spill == 0 && stack == 0);
        *bad += spill != 0 || stack != 0;
        n++;
    }
    return n;
}

/* The toolkit's ptxas: false if there is none. */
static bool find_ptxas(char *out, size_t n) {
    const char *home = getenv("CUDA_HOME");
    if (home && *home) {
        snprintf(out, n, "%s/bin/ptxas", home);
        if (access(out, X_OK) == 0) return true;
    }
    snprintf(out, n, "/usr/local/cuda/bin/ptxas");
    if (access(out, X_OK) == 0) return true;
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t len = strcspn(path, ":");
        snprintf(out, n, "%.*s/ptxas", (int)len, path);
        if (len && access(out, X_OK) == 0) return true;
        path += len + (path[len] == ':');
    }
    return false;
}

/* Part 3: the PTX of one program through the toolkit's ptxas agrees. */
static void ptxas_cross_check(struct job *j) {
    char ptxas[512];
    if (!find_ptxas(ptxas, sizeof ptxas)) {
        printf("SKIP ptxas cross-check: no ptxas in $CUDA_HOME/bin, /usr/local/cuda/bin or PATH\n");
        return;
    }
    char ptx_path[300], cubin_path[300], cmd[1400];
    snprintf(ptx_path, sizeof ptx_path, "%s/cross.ptx", tmp);
    snprintf(cubin_path, sizeof cubin_path, "%s/cross.cubin", tmp);
    size_t n = 0;
    const char *ptx = ts_cuda_code_ptx(j->code, &n);
    FILE *f = fopen(ptx_path, "wb");
    CHECK(f && ptx && fwrite(ptx, 1, n, f) == n);
    if (f) fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' -arch=%s -v '%s' -o '%s' 2>&1", ptxas, j->arch, ptx_path, cubin_path);
    FILE *pp = popen(cmd, "r");
    CHECK(pp != NULL);
    if (!pp) return;
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    for (size_t r; (r = fread(out + len, 1, cap - len - 1, pp)) > 0;) {
        len += r;
        if (cap - len < 2) out = realloc(out, cap *= 2);
    }
    out[len] = 0;
    int rc = pclose(pp);
    CHECK(rc == 0);
    int bad, nf = check_all_functions(out, "ptxas", &bad);
    CHECK(nf >= ts_cuda_code_nfunctions(j->code));
    /* Same registers as NVRTC's built-in ptxas (when versions match). */
    int same = 0;
    for (int i = 0; i < ts_cuda_code_nfunctions(j->code); i++) {
        const char *sym = ts_cuda_code_symbol(j->code, i);
        int r1 = -1, r2 = -2;
        ts_ptxas_report(ts_cuda_code_log(j->code), sym, &r1, NULL, NULL);
        ts_ptxas_report(out, sym, &r2, NULL, NULL);
        same += r1 == r2;
    }
    printf("ptxas cross-check (%s, %s): %d functions, %d using local memory; registers as NVRTC's for %d of %d\n",
           j->graph, j->arch, nf, bad, same, ts_cuda_code_nfunctions(j->code));
    if (rc != 0) fprintf(stderr, "%s\n", out);
    free(out);
}

#define ROW_FORMAT "%-38s %-6s %-10s %-30s %4s %6s %6"

/* The table row of kernel k of j's program, once per function. */
static void print_row(const struct job *j, const char *name, int k) {
    const char *sym = ts_cuda_code_symbol(j->code, k);
    for (int e = 0; e < k; e++)
        if (!strcmp(ts_cuda_code_symbol(j->code, e), sym)) return;
    const struct ts_kernel *kk = ts_cuda_code_kernel(j->code, k);
    int regs = -1;
    int64_t spill = -1, stack = -1;
    bool found = ts_ptxas_report(ts_cuda_code_log(j->code), sym, &regs, &spill, &stack);
    if (!found) fprintf(stderr, "%s (%s): ptxas reports nothing for %s\n", j->graph, j->arch, sym);
    CHECK(found);
    char sched[64], label[128], kind[32], nregs[16], nspill[24], nstack[24];
    describe(kk, sched, sizeof sched);
    snprintf(label, sizeof label, "%s:%s", name, sym);
    bool operands = kk->kind == TS_KERNEL_GEMM || kk->kind == TS_KERNEL_ATTENTION;
    snprintf(kind, sizeof kind, "%.4s %s", ts_kernel_kind_name(kk->kind),
             ts_dtype_name(operands ? kk->inputs[0].dtype : kk->output.dtype));
    snprintf(nregs, sizeof nregs, "%d", regs);
    snprintf(nspill, sizeof nspill, "%lld", (long long)spill);
    snprintf(nstack, sizeof nstack, "%lld", (long long)stack);
    printf(ROW_FORMAT "s%s\n", label, j->arch, kind, sched, nregs, nspill, nstack,
           spill || stack ? "  <-- local memory" : "");
}

static void test_programs(void) {
    const char *only = getenv("TESSERA_TEST_GRAPHS");
    for (int g = 0; g < COUNT(ci_graphs); g++)
        for (int a = 0; a < COUNT(ci_archs) && (!only || strstr(ci_graphs[g].path, only)); a++) {
            struct job *j = &jobs[njobs];
            memset(j, 0, sizeof *j);
            j->graph = ci_graphs[g].path, j->first = ci_graphs[g].first, j->arch = ci_archs[a];
            if (prepare(j)) njobs++;
            else if (j->g) ts_graph_free(j->g);
        }
    pthread_t th[2];
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, compile_worker, NULL);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);

    printf(ROW_FORMAT "s\n", "kernel", "arch", "kind", "schedule", "regs", "spill", "stack");
    struct job *cross = NULL;
    for (int i = 0; i < njobs; i++) {
        struct job *j = &jobs[i];
        const char *log = ts_cuda_code_log(j->code);
        char name[64];
        short_name(j->graph, name, sizeof name);
        const char *keep = getenv("TESSERA_TEST_DUMP_DIR");
        for (int w = 0; keep && *keep && w < 2; w++) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s_%s.%s", keep, name, j->arch, w ? "log" : "cu");
            FILE *f = fopen(path, "w");
            if (f) fputs(w ? log : ts_cuda_code_source(j->code), f);
            if (f) fclose(f);
        }
        if (j->st != TS_OK) {
            fprintf(stderr, "%s (%s): ", j->graph, j->arch);
            ts_diag_print(&j->d, stderr);
            fprintf(stderr, "%.2000s\n", log);
        }
        CHECK(j->st == TS_OK);
        if (j->st != TS_OK) continue;
        printf("-- %s for %s: %d functions, NVRTC %.1f s\n", name, j->arch, ts_cuda_code_nfunctions(j->code),
               ts_cuda_code_compile_seconds(j->code));
        for (int k = 0; k < j->p->nkernels; k++) print_row(j, name, k);
        int bad;
        check_all_functions(log, j->graph, &bad);
        /* The cross-check takes the f16 GEMMs if they compiled, else any program. */
        if (!strcmp(j->arch, "sm_90a") && (!cross || strstr(j->graph, "gemm_f16"))) cross = j;
    }
    if (cross) ptxas_cross_check(cross);
    else CHECK(only || !"a program for the ptxas cross-check");
    for (int i = 0; i < njobs; i++) {
        ts_cuda_code_free(jobs[i].code);
        ts_graph_free(jobs[i].g);
    }
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/ts_nvrtc_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char dflt[300];
    snprintf(dflt, sizeof dflt, "%s/default", tmp);
    setenv("TESSERA_CACHE_DIR", dflt, 1);
    struct ts_diag d;
    ts_diag_clear(&d);
    int major, minor;
    if (ts_nvrtc_version(&major, &minor, &d) != TS_OK) {
        /* A build with the headers on a machine without NVRTC. */
        ts_diag_print(&d, stderr);
        printf("SKIP: NVRTC is not installed\n");
        remove_tree(tmp);
        return 77;
    }
    test_nvrtc();
    test_cache();
    test_programs();
    remove_tree(tmp);
    return ts_test_finish("test_cuda_nvrtc");
}
