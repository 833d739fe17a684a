/* test_cuda_bench.c — `tessera bench gemm --target cuda` (tools/bench_cuda.c)
 * without a GPU: the mock driver (tests/cuda_mock), whose graph launches run
 * tessera's generated CUDA C on the host emulator (tests/cuda_emu). There is
 * no CUDA runtime above the mock (bench_cublas.c is built as its stub here),
 * so tessera runs alone, checked against the host f64 loop: awkward sizes
 * (1, 7, 17, 127, 129) PASS in f32, in bf16 with B as [N,K] and the bias +
 * GELU epilogue, in f16 with the epilogue and in tf32 with B as [N,K];
 * TESSERA_BENCH_BREAK=1 makes every row FAIL (exit 1).
 * Speeds are the mock's (every event 0.25 ms): only their presence is checked. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "tests/cuda_emu/harness.h"
#include "cuda_mock/mock_cuda.h"
#include "tests/cuda_emu/mock_emu.h"
#include "tools/bench_internal.h"

#ifdef TS_MOCK_LIBCUDA

static void (*mock_reset)(const struct mock_config *);
static void (*mock_register)(const char *, int, mock_kernel_fn);
static const void *(*mock_image)(size_t *);

/* Compiles pr's kernel as the bench will (same program, same options: the
 * bench then finds it in NVRTC's cache) and readies its emulator module. */
static void prepare(const struct ts_bench_opts *o, const struct ts_bench_problem *pr) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_program *p = NULL;
    struct ts_cuda_code *code = NULL;
    enum ts_status st = ts_bench_gemm_program(o, pr, true, 8, &p, &d);
    if (st == TS_OK) {
        struct ts_cuda_opts co = {.arch = "sm_90a", .strict_f32 = o->dtype == TS_F32 && !o->tf32};
        st = ts_cuda_codegen(p, &co, &code, &d);
    }
    if (st == TS_OK) st = ts_cuda_code_compile(code, &d);
    size_t size = 0;
    const void *cubin = st == TS_OK ? ts_cuda_code_cubin(code, &size) : NULL;
    CHECK(st == TS_OK && cubin);
    if (st == TS_OK && cubin) {
        st = ts_mock_emu_add(cubin, size, ts_cuda_code_source(code), &d);
        CHECK(st == TS_OK);
        mock_register(ts_cuda_code_symbol(code, 0), p->kernels[0].ninputs + 3, ts_mock_emu_kernel);
    }
    if (st != TS_OK) ts_diag_print(&d, stderr);
    ts_cuda_code_free(code);
    ts_bench_program_free(p);
}

/* Runs the target with standard output in a file; returns its exit status
 * and what it printed (malloc'd). */
static int bench(const struct ts_bench_opts *o, const struct ts_bench_problem *probs, int np, char **out) {
    char path[] = "/tmp/test_cuda_bench_XXXXXX";
    int fd = mkstemp(path);
    TS_ASSERT(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    int rc = ts_bench_gemm_cuda(o, probs, np);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    *out = calloc((size_t)n + 1, 1);
    TS_ASSERT(*out);
    if (pread(fd, *out, (size_t)n, 0) != n) (*out)[0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

/* The table line of problem MxNxK, or NULL. */
static const char *row_of(const char *out, const struct ts_bench_problem *pr) {
    char name[64];
    snprintf(name, sizeof name, "\n%lldx%lldx%lld ", (long long)pr->m, (long long)pr->n, (long long)pr->k);
    const char *s = strstr(out, name);
    return s ? s + 1 : NULL;
}

static bool row_says(const char *row, const char *what) {
    const char *end = row ? strchr(row, '\n') : NULL;
    const char *hit = row ? strstr(row, what) : NULL;
    return hit && end && hit < end;
}

/* The last line. */
static bool ends_with(const char *out, const char *line) {
    size_t n = strlen(out), l = strlen(line);
    return n > l && out[n - 1] == '\n' && strncmp(out + n - 1 - l, line, l) == 0 && out[n - 2 - l] == '\n';
}

static void run_case(const char *label, const struct ts_bench_opts *o, const struct ts_bench_problem *probs, int np,
                     bool broken) {
    mock_reset(NULL);
    ts_mock_emu_clear();
    int before = ts_test_failed;
    for (int i = 0; i < np; i++) prepare(o, &probs[i]);
    if (broken) setenv("TESSERA_BENCH_BREAK", "1", 1);
    char *out = NULL;
    int rc = bench(o, probs, np, &out);
    unsetenv("TESSERA_BENCH_BREAK");
    CHECK(rc == (broken ? 1 : 0));
    CHECK(ends_with(out, broken ? "FAILED" : "PASSED"));
    CHECK_CONTAINS(out, "# GPU Mock GPU (sm_90a, 132 SMs)");
    CHECK_CONTAINS(out, "no peer: tessera alone, checked against a host f64 loop");
    for (int i = 0; i < np; i++) {
        const char *row = row_of(out, &probs[i]);
        CHECK(row != NULL);
        if (broken) {
            CHECK(row_says(row, "FAILED (max error"));
        } else {
            CHECK(row_says(row, " ok"));
            CHECK(!row_says(row, " - ")); /* a speed, not "-" */
        }
    }
    if (ts_test_failed > before) fprintf(stderr, "test_cuda_bench: %s printed:\n%s", label, out);
    free(out);
}

int main(void) {
    setenv("TESSERA_LIBCUDA", TS_MOCK_LIBCUDA, 1);
    void *h = dlopen(TS_MOCK_LIBCUDA, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    if (!h) return ts_test_finish("test_cuda_bench");
    *(void **)&mock_reset = dlsym(h, "mock_cuda_reset");
    *(void **)&mock_register = dlsym(h, "mock_cuda_register");
    *(void **)&mock_image = dlsym(h, "mock_cuda_last_module_image");
    ts_mock_emu_init(mock_image, "test_cuda_bench");
    CHECK(mock_reset && mock_register && mock_image);
    if (!mock_reset || !mock_register || !mock_image) return ts_test_finish("test_cuda_bench");

    static const struct ts_bench_problem awkward[] = {
        {1, 7, 17, "awkward"}, {7, 17, 127, "awkward"}, {17, 129, 7, "awkward"}, {129, 127, 1, "awkward"},
        {127, 1, 129, "awkward"}};
    struct ts_bench_opts f32 = {.target = TS_TARGET_CUDA, .dtype = TS_F32};
    run_case("f32", &f32, awkward, 5, false);
    run_case("f32 broken", &f32, awkward, 2, true);
    struct ts_bench_opts bf16 = {.target = TS_TARGET_CUDA, .dtype = TS_BF16, .trans_b = true,
                                 .epilogue = TS_BENCH_EPI_BIAS_GELU};
    run_case("bf16 B[N,K] bias_gelu", &bf16, awkward + 1, 3, false);
    struct ts_bench_opts f16 = {.target = TS_TARGET_CUDA, .dtype = TS_F16, .epilogue = TS_BENCH_EPI_BIAS_GELU};
    run_case("f16 bias_gelu", &f16, awkward, 2, false);
    struct ts_bench_opts tf32 = {.target = TS_TARGET_CUDA, .dtype = TS_F32, .tf32 = true, .trans_b = true};
    run_case("tf32 B[N,K]", &tf32, awkward + 3, 2, false);

    ts_mock_emu_clear();
    dlclose(h);
    return ts_test_finish("test_cuda_bench");
}

#else

int main(void) {
    printf("test_cuda_bench: skipped (built without the CUDA headers: no mock driver)\n");
    return 0;
}

#endif /* TS_MOCK_LIBCUDA */
