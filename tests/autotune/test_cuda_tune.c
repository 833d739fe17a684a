/* test_cuda_tune.c — the autotuner's GPU measurement without a GPU: the bench
 * (measure_cuda.c) on the mock driver (tests/cuda_mock), whose graph launches
 * run the candidate's CUDA C on the host emulator (tests/cuda_emu). Small
 * GEMMs (f16, f32), a softmax and a pointwise kernel: the default and other
 * legal schedules compile, check against the reference (tf32's tolerance
 * only for the f32 GEMM) and time; an illegal one is refused before
 * compiling; an injected crash, hang and exit without a result, a refused
 * launch and a lost context are each recorded while the next candidate
 * measures in a fresh child; no child is left behind. Also the runtime's
 * cold-L2 timing, failure sorting and kept context, and the refusals: no
 * driver, a target that is not the device, and a driver already
 * initialized in the tuner's own process. */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "autotune/autotune.h"
#include "autotune/bench_internal.h"
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"
#include "tests/cuda_emu/harness.h"
#include "cuda_mock/mock_cuda.h"
#include "tests/cuda_emu/mock_emu.h"

#ifdef TS_MOCK_LIBCUDA

#define MOCK_LAUNCH_OUT_OF_RESOURCES 701 /* cuda.h's CUresults */
#define MOCK_ILLEGAL_ADDRESS 700

static void (*mock_reset)(const struct mock_config *);
static struct mock_state *(*mock_state)(void);
static void (*mock_register)(const char *, int, mock_kernel_fn);
static const void *(*mock_image)(size_t *);
static void (*mock_fail)(unsigned, int);

static struct ts_tune_target target;
static struct ts_cuda_arch arch;
static const char *cache_dir;

/* ---- the emulator behind the mock -------------------------------------------- */

/* Compiles candidate c of the kernel as the bench will (its subprogram, the
 * same options: the bench then finds it in NVRTC's cache) and readies its
 * emulator module. *spills gets ptxas's spill bytes (no module then: the
 * bench must not measure it). */
static void prepare(const struct ts_program *p, int kernel, const union ts_sched *c, int64_t *spills) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_program *sub = NULL;
    struct ts_cuda_code *code = NULL;
    enum ts_status st = ts_tune_subprogram(p, kernel, &sub, &d);
    if (st == TS_OK) {
        ts_tune_sched_copy(sub->kernels[0].kind, TS_TARGET_CUDA, &sub->kernels[0].sched, c);
        struct ts_cuda_opts co = {.arch = target.arch, .strict_f32 = target.strict_f32, .cache_dir = cache_dir,
                                  .ptxas_verbose = true};
        st = ts_cuda_codegen(sub, &co, &code, &d);
    }
    if (st == TS_OK) st = ts_cuda_code_compile(code, &d);
    size_t size = 0;
    const void *cubin = st == TS_OK ? ts_cuda_code_cubin(code, &size) : NULL;
    CHECK(st == TS_OK && cubin && size > 0);
    if (st != TS_OK || !cubin) {
        ts_diag_print(&d, stderr);
    } else {
        const char *sym = ts_cuda_code_symbol(code, 0);
        int regs = 0;
        int64_t stack = 0;
        *spills = 0;
        ts_ptxas_report(ts_cuda_code_log(code), sym, &regs, spills, &stack);
        if (*spills > 0) {
            ts_cuda_code_free(code);
            ts_graph_free((struct ts_graph *)(uintptr_t)sub->graph);
            return;
        }
        st = ts_mock_emu_add(cubin, size, ts_cuda_code_source(code), &d);
        CHECK(st == TS_OK);
        if (st != TS_OK) ts_diag_print(&d, stderr);
        mock_register(sym, sub->kernels[0].ninputs + 3, ts_mock_emu_kernel);
    }
    ts_cuda_code_free(code);
    if (sub) ts_graph_free((struct ts_graph *)(uintptr_t)sub->graph);
}

/* ---- programs and schedules ---------------------------------------------------- */

static char *quote(const char *s) {
    char *out = strdup(s);
    TS_ASSERT(out);
    for (char *p = out; *p; p++)
        if (*p == '\'') *p = '"';
    return out;
}

/* A graph compiled as tools/run.c does; *kernel gets its first kernel of kind. */
static struct ts_program *load(const char *label, const char *json, enum ts_kernel_kind kind, int *kernel) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_graph *g = NULL;
    struct ts_program *p = NULL;
    char *text = quote(json);
    enum ts_status st = ts_graph_parse(text, strlen(text), label, ".", false, &g, &d);
    free(text);
    struct ts_pipeline_opts popts = {.stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = 8};
    if (st == TS_OK) st = ts_compile_program(g, &popts, &fo, &p, &d);
    CHECK(st == TS_OK);
    if (st != TS_OK) {
        ts_diag_print(&d, stderr);
        ts_graph_free(g);
        return NULL;
    }
    *kernel = -1;
    for (int i = 0; i < p->nkernels && *kernel < 0; i++)
        if (p->kernels[i].kind == kind) *kernel = i;
    CHECK(*kernel >= 0);
    return *kernel >= 0 ? p : NULL;
}

static void unload(struct ts_program *p) {
    if (p) ts_graph_free((struct ts_graph *)(uintptr_t)p->graph);
}

/* The kernel's default GPU schedule: zero gpu fields, then the code generator's choice. */
static union ts_sched default_sched(const struct ts_program *p, int kernel) {
    struct ts_kernel k = p->kernels[kernel];
    union ts_sched zero;
    memset(&zero, 0, sizeof zero);
    ts_tune_sched_copy(k.kind, TS_TARGET_CUDA, &k.sched, &zero);
    ts_cuda_sched_default(&k, &arch, target.strict_f32);
    return k.sched;
}

static union ts_sched gemm(int bm, int bn, int bk, int wm, int wn, int stages, int split_k, enum ts_gemm_instr in) {
    union ts_sched s;
    memset(&s, 0, sizeof s);
    s.gemm.gpu.bm = bm, s.gemm.gpu.bn = bn, s.gemm.gpu.bk = bk, s.gemm.gpu.wm = wm, s.gemm.gpu.wn = wn;
    s.gemm.gpu.stages = stages, s.gemm.gpu.split_k = split_k, s.gemm.gpu.swizzle = 1, s.gemm.gpu.instr = in;
    return s;
}

static union ts_sched rowwise(int threads, int vec) {
    union ts_sched s;
    memset(&s, 0, sizeof s);
    s.rowwise.gpu.threads = threads, s.rowwise.gpu.vec = vec;
    return s;
}

static union ts_sched pointwise(int threads, int vec) {
    union ts_sched s;
    memset(&s, 0, sizeof s);
    s.pointwise.gpu.threads = threads, s.pointwise.gpu.vec = vec;
    return s;
}

/* ---- checks -------------------------------------------------------------------- */

#define MIN_RUNS 3
#define MAX_RUNS 5
#define MOCK_EVENT_MS 0.25 /* what the mock's cuEventElapsedTime says, every time */

static struct ts_tune_bench_opts bench_opts(double timeout_s) {
    /* min_time_s / the mock's 0.25 ms: 4 timed runs, inside [MIN_RUNS, MAX_RUNS] */
    return (struct ts_tune_bench_opts){.timeout_s = timeout_s, .min_time_s = 0.001, .min_runs = MIN_RUNS,
                                       .max_runs = MAX_RUNS, .seed = 7, .cache_dir = cache_dir};
}

static void report(const char *label, int i, const struct ts_tune_result *r) {
    static const char *const names[TS_TUNE_STATUS_COUNT] = {"ok",    "illegal", "compile", "resources",
                                                            "crash", "hang",    "wrong",   "error"};
    fprintf(stderr, "  %s #%d: %s%s%s (median %.3g ms, %d runs, compile %.3g s)\n", label, i, names[r->status],
            r->error[0] ? ": " : "", r->error, r->median_s * 1e3, r->count, r->compile_s);
}

/* Timed as the mock times: 4 runs of 0.25 ms each, after a compile. */
static bool measured_ok(const struct ts_tune_result *r) {
    return r->status == TS_TUNE_OK && r->error[0] == '\0' && r->count == 4 && r->min_s > 0 &&
           r->min_s <= r->median_s && r->median_s <= r->max_s && fabs(r->median_s - MOCK_EVENT_MS * 1e-3) < 1e-9 &&
           r->compile_s > 0;
}

static bool failed_as(const struct ts_tune_result *r, enum ts_tune_status s, const char *words) {
    return r->status == s && r->count == 0 && isinf(r->median_s) && strstr(r->error, words) != NULL;
}

/* CHECK(cond) on results[i], printing the result when it fails. */
#define EXPECT(label, results, i, cond)                   \
    do {                                                  \
        bool ok_ = (cond);                                \
        CHECK(ok_);                                       \
        if (!ok_) report(label, (i) + 1, &(results)[i]); \
    } while (0)

/* No measuring process is left, running or unreaped. */
static bool no_children(void) {
    errno = 0;
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

/* One kernel: its default and the other legal schedules measure OK (or are
 * refused for ptxas's spills, where the test's own compile spills), the
 * illegal one is refused before compiling. */
static void check_kernel(const char *label, const char *json, enum ts_kernel_kind kind, const union ts_sched *others,
                         int nothers, const union ts_sched *illegal, const char *illegal_words, double tolerance) {
    int kernel = -1;
    struct ts_program *p = load(label, json, kind, &kernel);
    if (!p) return;
    union ts_sched cands[8];
    int n = 0;
    cands[n++] = default_sched(p, kernel);
    for (int i = 0; i < nothers; i++) cands[n++] = others[i];
    int64_t spills[8] = {0};
    for (int i = 0; i < n; i++) prepare(p, kernel, &cands[i], &spills[i]);
    cands[n++] = *illegal;
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tune_bench *b = NULL;
    struct ts_tune_bench_opts o = bench_opts(60);
    CHECK(ts_tune_bench_init(p, kernel, &target, &o, &b, &d) == TS_OK);
    if (!b) {
        ts_diag_print(&d, stderr);
        unload(p);
        return;
    }
    /* The tolerance of the kernel's kind: tf32's only where tf32 runs. */
    bool tol_ok = fabs(b->rtol - tolerance) < 1e-15 && b->atol == b->rtol;
    CHECK(tol_ok);
    if (!tol_ok) fprintf(stderr, "  %s: tolerance %g, want %g\n", label, b->rtol, tolerance);
    struct ts_tune_result res[8];
    ts_tune_bench_run(b, cands, n, res);
    for (int i = 0; i < n - 1; i++) {
        bool ok = spills[i] > 0 ? failed_as(&res[i], TS_TUNE_RESOURCES, "spills") && res[i].compile_s > 0
                                : measured_ok(&res[i]);
        CHECK(ok);
        if (!ok || spills[i] > 0) report(label, i + 1, &res[i]);
    }
    bool refused = failed_as(&res[n - 1], TS_TUNE_ILLEGAL, illegal_words) && res[n - 1].compile_s == 0;
    CHECK(refused);
    if (!refused) report(label, n, &res[n - 1]);
    ts_tune_bench_free(b);
    CHECK(no_children());
    unload(p);
}

static const char gemm_f16[] =
    "{'format':'tessera.graph','version':1,'inputs':[{'name':'a','dtype':'f16','shape':[17,40]},"
    "{'name':'b','dtype':'f16','shape':[40,33]}],"
    "'nodes':[{'op':'matmul','inputs':['a','b'],'outputs':['y']}],'outputs':['y']}";
static const char gemm_f32[] =
    "{'format':'tessera.graph','version':1,'inputs':[{'name':'a','dtype':'f32','shape':[17,40]},"
    "{'name':'b','dtype':'f32','shape':[40,33]}],"
    "'nodes':[{'op':'matmul','inputs':['a','b'],'outputs':['y']}],'outputs':['y']}";
static const char softmax[] =
    "{'format':'tessera.graph','version':1,'inputs':[{'name':'x','dtype':'f32','shape':[7,129]}],"
    "'nodes':[{'op':'softmax','inputs':['x'],'outputs':['y']}],'outputs':['y']}";
static const char pointwise_graph[] =
    "{'format':'tessera.graph','version':1,'inputs':[{'name':'x','dtype':'f32','shape':[3,7,17]},"
    "{'name':'z','dtype':'f32','shape':[3,7,17]}],"
    "'nodes':[{'op':'mul','inputs':['x','z'],'outputs':['m']},{'op':'tanh','inputs':['m'],'outputs':['t']},"
    "{'op':'add','inputs':['t','x'],'outputs':['y']}],'outputs':['y']}";

static void test_kernels(void) {
    const union ts_sched f16[2] = {gemm(32, 32, 16, 16, 16, 2, 1, TS_GEMM_INSTR_MMA_F16),
                                   gemm(64, 64, 16, 32, 32, 2, 2, TS_GEMM_INSTR_MMA_F16)}; /* split-K */
    const union ts_sched f16_bad = gemm(32, 64, 32, 24, 32, 3, 1, TS_GEMM_INSTR_MMA_F16);
    check_kernel("gemm_f16", gemm_f16, TS_KERNEL_GEMM, f16, 2, &f16_bad, "bm % wm", 1e-2);
    /* The third is legal but spills (NVRTC 13.0: 468 bytes): tf32
     * fragments of a 64×64 warp tile with four stages. */
    const union ts_sched f32[3] = {gemm(32, 32, 16, 16, 16, 2, 1, TS_GEMM_INSTR_SIMT),
                                   gemm(32, 32, 16, 16, 16, 3, 2, TS_GEMM_INSTR_MMA_TF32), /* split-K */
                                   gemm(64, 64, 32, 64, 64, 4, 1, TS_GEMM_INSTR_MMA_TF32)};
    const union ts_sched f32_bad = gemm(32, 32, 16, 16, 16, 1, 1, TS_GEMM_INSTR_MMA_TF32);
    check_kernel("gemm_f32", gemm_f32, TS_KERNEL_GEMM, f32, 3, &f32_bad, "stages", 3e-2); /* tf32 */
    const union ts_sched rows[2] = {rowwise(32, 1), rowwise(64, 1)};
    const union ts_sched rows_bad = rowwise(48, 1);
    /* f32's 1e-4, widened for rows of 129 */
    check_kernel("softmax", softmax, TS_KERNEL_ROWWISE, rows, 2, &rows_bad, "threads 48", 1e-4 * sqrt(129.0 / 64));
}

/* A bench of the pointwise kernel with the mock's launches of block_x
 * threads failing with result (the knob is read by the children it forks). */
static struct ts_tune_bench *failing_bench(const struct ts_program *p, int kernel, const char *faults,
                                           unsigned block_x, int result) {
    if (faults) setenv("TESSERA_TUNE_FAULT", faults, 1);
    mock_fail(block_x, result);
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tune_bench *b = NULL;
    struct ts_tune_bench_opts o = bench_opts(2);
    CHECK(ts_tune_bench_init(p, kernel, &target, &o, &b, &d) == TS_OK);
    if (!b) ts_diag_print(&d, stderr);
    unsetenv("TESSERA_TUNE_FAULT");
    return b;
}

/* Injected crash and hang, a launch the GPU refuses and a lost context: each
 * costs its candidate only, and the next measures in a fresh child. */
static void test_failures(void) {
    int kernel = -1;
    struct ts_program *p = load("pointwise", pointwise_graph, TS_KERNEL_POINTWISE, &kernel);
    if (!p) return;
    const char *label = "pointwise";
    const union ts_sched def = default_sched(p, kernel), t128 = pointwise(128, 1), t64 = pointwise(64, 1),
                         t96 = pointwise(96, 1), bad = pointwise(48, 1);
    int64_t spills = 0;
    prepare(p, kernel, &def, &spills);
    prepare(p, kernel, &t128, &spills);
    prepare(p, kernel, &t64, &spills);
    prepare(p, kernel, &t96, &spills);
    struct ts_tune_result res[12];
    /* Ordinals from 1: 2 crashes, 4 hangs (2 s watchdog), 6 is refused (64
     * threads), 7 is illegal, 9 computes wrong, 10 reports an error, 11
     * exits without a result; the children that replace the dead ones
     * measure 3, 5, 8 and 12. */
    struct ts_tune_bench *b =
        failing_bench(p, kernel, "crash@2,hang@4,wrong@9,error@10,exit@11", 64, MOCK_LAUNCH_OUT_OF_RESOURCES);
    if (b) {
        /* Pointwise kernels keep f32's tolerance on tf32 targets. */
        CHECK(b->rtol == 1e-4 && b->atol == 1e-4);
        const union ts_sched cands[12] = {def, def, t128, def, t128, t64, bad, def, t128, def, t128, def};
        ts_tune_bench_run(b, cands, 6, res);
        ts_tune_bench_run(b, cands + 6, 6, res + 6); /* a second batch on the same child */
        EXPECT(label, res, 0, measured_ok(&res[0]));
        EXPECT(label, res, 1, failed_as(&res[1], TS_TUNE_CRASH, "the measuring process died of signal 11"));
        EXPECT(label, res, 2, measured_ok(&res[2]));
        EXPECT(label, res, 3, failed_as(&res[3], TS_TUNE_HANG, "timeout"));
        EXPECT(label, res, 4, measured_ok(&res[4]));
        EXPECT(label, res, 5, failed_as(&res[5], TS_TUNE_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"));
        EXPECT(label, res, 6, failed_as(&res[6], TS_TUNE_ILLEGAL, "threads 48"));
        EXPECT(label, res, 7, measured_ok(&res[7]));
        EXPECT(label, res, 8, failed_as(&res[8], TS_TUNE_WRONG, "1 of 357 elements beyond tolerance"));
        EXPECT(label, res, 9, failed_as(&res[9], TS_TUNE_ERROR, "injected error"));
        /* Exited without a reply: an error with its status, as on the CPU (a signal is a crash). */
        EXPECT(label, res, 10,
               failed_as(&res[10], TS_TUNE_ERROR, "the measuring process exited with status 7 without a result"));
        EXPECT(label, res, 11, measured_ok(&res[11]));
        ts_tune_bench_free(b);
    }
    /* A sticky error: the child reports and exits, a fresh one goes on. */
    b = failing_bench(p, kernel, NULL, 96, MOCK_ILLEGAL_ADDRESS);
    if (b) {
        const union ts_sched cands[3] = {t96, def, t96};
        ts_tune_bench_run(b, cands, 3, res);
        EXPECT(label, res, 0, failed_as(&res[0], TS_TUNE_CRASH, "the CUDA context was lost"));
        CHECK_CONTAINS(res[0].error, "CUDA_ERROR_ILLEGAL_ADDRESS");
        EXPECT(label, res, 1, measured_ok(&res[1]));
        EXPECT(label, res, 2, failed_as(&res[2], TS_TUNE_CRASH, "the CUDA context was lost"));
        ts_tune_bench_free(b);
    }
    mock_fail(0, 0);
    CHECK(no_children());
    unload(p);
}

/* The driver missing: the runtime's own line, from the child; the tuner's
 * process has still not loaded a driver. */
static void test_no_driver(void) {
    int kernel = -1;
    struct ts_program *p = load("pointwise", pointwise_graph, TS_KERNEL_POINTWISE, &kernel);
    if (!p) return;
    setenv("TESSERA_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_rt_cuda_info info;
    CHECK(ts_tune_cuda_probe(0, &info, &d) == TS_ERR_UNSUPPORTED);
    CHECK_CONTAINS(d.what, "no CUDA driver: cannot load /nonexistent/libcuda.so.1 ($TESSERA_LIBCUDA)");
    ts_diag_clear(&d);
    struct ts_tune_bench *b = NULL;
    struct ts_tune_bench_opts o = bench_opts(60);
    CHECK(ts_tune_bench_init(p, kernel, &target, &o, &b, &d) == TS_ERR_UNSUPPORTED && !b);
    CHECK(strncmp(d.what, "no CUDA driver: cannot load /nonexistent/libcuda.so.1", 53) == 0);
    CHECK(!ts_rt_cuda_driver_loaded());
    CHECK(no_children());
    setenv("TESSERA_LIBCUDA", TS_MOCK_LIBCUDA, 1);
    unload(p);
}

/* A target that is not the device: refused at init, the child stopped. */
static void test_wrong_target(void) {
    int kernel = -1;
    struct ts_program *p = load("pointwise", pointwise_graph, TS_KERNEL_POINTWISE, &kernel);
    if (!p) return;
    struct ts_tune_bench_opts o = bench_opts(60);
    struct ts_tune_target other = target;
    snprintf(other.device, sizeof other.device, "NVIDIA H100 80GB HBM3");
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tune_bench *b = NULL;
    CHECK(ts_tune_bench_init(p, kernel, &other, &o, &b, &d) == TS_ERR_UNSUPPORTED && !b);
    CHECK_CONTAINS(d.what, "the tuning target is 'NVIDIA H100 80GB HBM3' but CUDA device 0 is 'Mock GPU'");
    other = target;
    snprintf(other.arch, sizeof other.arch, "sm_100");
    ts_diag_clear(&d);
    CHECK(ts_tune_bench_init(p, kernel, &other, &o, &b, &d) == TS_ERR_UNSUPPORTED && !b);
    CHECK_CONTAINS(d.what, "code for sm_100 cannot run on CUDA device 0 (Mock GPU, sm_90a)");
    CHECK(no_children());
    unload(p);
}

/* A kernel body that, once asked, raises error 1 through its error word
 * (the last parameter). */
static int raise_at;
static bool raise_now;
static void k_raise(void **args, const struct mock_node *g) {
    (void)g;
    if (raise_now) *(int32_t *)args[raise_at] = 1;
}

/* The runtime's additions in this process (which loads the driver here,
 * so after every bench): replays timed one by one after a 2×L2 memset, and
 * failures sorted by kind. */
static void test_runtime(void) {
    int kernel = -1;
    struct ts_program *p = load("pointwise", pointwise_graph, TS_KERNEL_POINTWISE, &kernel);
    if (!p) return;
    mock_reset(NULL);
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_cuda_code *code = NULL;
    struct ts_rt_plan plan;
    const void **weights = NULL;
    struct ts_rt_cuda_session *s = NULL;
    struct ts_cuda_opts co = {.arch = target.arch, .cache_dir = cache_dir};
    enum ts_status st = ts_cuda_codegen(p, &co, &code, &d);
    if (st == TS_OK) st = ts_cuda_code_compile(code, &d);
    if (st == TS_OK) st = ts_plan_from_program(p, &plan, &weights, &d);
    CHECK(st == TS_OK);
    if (st != TS_OK) {
        ts_diag_print(&d, stderr);
        ts_cuda_code_free(code);
        unload(p);
        return;
    }
    ts_plan_set_cuda_launches(&plan, code);
    const char *symbols[8] = {0};
    for (int k = 0; k < p->nkernels && k < 8; k++) symbols[k] = ts_cuda_code_symbol(code, k);
    struct ts_rt_cuda_image image = {.symbols = symbols};
    image.cubin = ts_cuda_code_cubin(code, &image.cubin_size);
    char err[1024];
    raise_at = p->kernels[kernel].ninputs + 2;
    raise_now = false;
    mock_register(symbols[kernel], raise_at + 1, k_raise); /* before the graph: nodes copy their parameters */
    CHECK(!ts_rt_cuda_driver_loaded());
    CHECK(ts_rt_cuda_session_init(&plan, &image, weights, 0, &s, err, sizeof err) == 0);
    CHECK(ts_rt_cuda_driver_loaded());
    if (!s) {
        fprintf(stderr, "%s\n", err);
        ts_cuda_code_free(code);
        unload(p);
        return;
    }
    CHECK(ts_rt_cuda_last_fault() == TS_RT_CUDA_FAULT_NONE);
    void *bufs[8] = {0};
    const void *in[4] = {0};
    void *out[2] = {0};
    TS_ASSERT(plan.ninputs <= 4 && plan.noutputs <= 2);
    for (int i = 0; i < plan.ninputs; i++) in[i] = bufs[i] = calloc(1, (size_t)plan.inputs[i].nbytes);
    for (int i = 0; i < plan.noutputs; i++) out[i] = bufs[4 + i] = calloc(1, (size_t)plan.outputs[i].nbytes);
    CHECK(ts_rt_cuda_session_run(s, in, out, err, sizeof err) == 0);

    const struct mock_state *m = mock_state();
    int memsets = m->memsets, allocs = m->allocs, launches = m->graph_launches;
    double ms[4] = {0};
    CHECK(ts_rt_cuda_session_time_each(s, 3, true, ms, err, sizeof err) == 0);
    CHECK(ms[0] == MOCK_EVENT_MS && ms[1] == MOCK_EVENT_MS && ms[2] == MOCK_EVENT_MS);
    CHECK(m->graph_launches == launches + 3 && m->allocs == allocs + 1 && m->memsets == memsets + 3);
    for (int i = memsets; i < m->memsets && i < MOCK_MAX; i++) /* twice the mock's 2 MiB L2, at the buffer's start */
        CHECK(m->memset_log[i].bytes == (size_t)4 << 20 && m->memset_log[i].dst_offset == 0);
    CHECK(ts_rt_cuda_session_time_each(s, 2, false, ms, err, sizeof err) == 0);
    CHECK(ts_rt_cuda_session_time_each(s, 1, true, ms, err, sizeof err) == 0);
    CHECK(m->graph_launches == launches + 6 && m->allocs == allocs + 1 && m->memsets == memsets + 4);
    CHECK(ts_rt_cuda_session_time_each(s, 0, true, ms, err, sizeof err) != 0);
    CHECK(ts_rt_cuda_last_fault() == TS_RT_CUDA_FAULT_OTHER);
    CHECK_CONTAINS(err, "repeats must be 1 or more");

    /* A kernel's own error, a refused launch, a lost context. */
    raise_now = true;
    CHECK(ts_rt_cuda_session_run(s, in, out, err, sizeof err) != 0);
    CHECK(ts_rt_cuda_last_fault() == TS_RT_CUDA_FAULT_KERNEL);
    CHECK(strncmp(err, "kernel '", 8) == 0);
    unsigned threads = plan.launches[0].block[0];
    mock_fail(threads, MOCK_LAUNCH_OUT_OF_RESOURCES);
    CHECK(ts_rt_cuda_session_time_each(s, 2, true, ms, err, sizeof err) != 0);
    CHECK(ts_rt_cuda_last_fault() == TS_RT_CUDA_FAULT_RESOURCES);
    CHECK_CONTAINS(err, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES");
    mock_fail(threads, MOCK_ILLEGAL_ADDRESS);
    CHECK(ts_rt_cuda_session_run(s, in, out, err, sizeof err) != 0);
    CHECK(ts_rt_cuda_last_fault() == TS_RT_CUDA_FAULT_LOST);
    CHECK(ts_rt_cuda_session_time_each(s, 1, false, ms, err, sizeof err) != 0); /* sticky */
    CHECK(ts_rt_cuda_last_fault() == TS_RT_CUDA_FAULT_LOST);
    mock_fail(0, 0); /* the mock forgets the sticky error, so that teardown frees */
    CHECK(ts_rt_cuda_session_run(s, in, out, err, sizeof err) != 0); /* still raising */
    ts_rt_cuda_session_free(s);
    CHECK(m->live_allocs == 0 && m->ctx_depth == 0 && m->ctx_retains == m->ctx_releases);
    /* What the measuring child does first: the context outlives its sessions. */
    int retains = m->ctx_retains;
    CHECK(ts_rt_cuda_keep_context(0, err, sizeof err) == 0);
    CHECK(m->ctx_retains == retains + 1 && m->ctx_releases == retains);
    for (int i = 0; i < 8; i++) free(bufs[i]);
    ts_cuda_code_free(code);
    unload(p);
}

/* With the driver loaded in this process, a bench refuses to fork a GPU
 * child; the probe then asks here. */
static void test_driver_loaded(void) {
    int kernel = -1;
    struct ts_program *p = load("pointwise", pointwise_graph, TS_KERNEL_POINTWISE, &kernel);
    if (!p) return;
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tune_bench *b = NULL;
    struct ts_tune_bench_opts o = bench_opts(60);
    CHECK(ts_tune_bench_init(p, kernel, &target, &o, &b, &d) == TS_ERR_UNSUPPORTED && !b);
    CHECK_CONTAINS(d.what, "the CUDA driver is already initialized in this process");
    struct ts_rt_cuda_info info;
    CHECK(ts_tune_cuda_probe(0, &info, &d) == TS_OK);
    CHECK_STR(info.name, "Mock GPU");
    CHECK(no_children());
    unload(p);
}

int main(void) {
    setenv("TESSERA_LIBCUDA", TS_MOCK_LIBCUDA, 1);
    setenv("TESSERA_CACHE_DIR", TS_TUNE_CACHE_DIR, 0); /* ctest sets it: the build tree's either way */
    cache_dir = getenv("TESSERA_CACHE_DIR");
    void *h = dlopen(TS_MOCK_LIBCUDA, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    if (!h) return ts_test_finish("test_cuda_tune");
    *(void **)&mock_reset = dlsym(h, "mock_cuda_reset");
    *(void **)&mock_state = dlsym(h, "mock_cuda_state");
    *(void **)&mock_register = dlsym(h, "mock_cuda_register");
    *(void **)&mock_image = dlsym(h, "mock_cuda_last_module_image");
    ts_mock_emu_init(mock_image, "test_cuda_tune");
    *(void **)&mock_fail = dlsym(h, "mock_cuda_fail_launches");
    CHECK(mock_reset && mock_state && mock_register && mock_image && mock_fail);
    if (!mock_reset || !mock_state || !mock_register || !mock_image || !mock_fail)
        return ts_test_finish("test_cuda_tune");
    mock_reset(NULL);

    /* The target, from a probe in a child: this process never loads the driver. */
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_rt_cuda_info info;
    int major = 0, minor = 0;
    enum ts_status st = ts_tune_cuda_probe(0, &info, &d);
    if (st == TS_OK) st = ts_cuda_arch_parse(info.arch, &arch, &d);
    if (st == TS_OK) st = ts_nvrtc_version(&major, &minor, &d);
    CHECK(st == TS_OK);
    if (st != TS_OK) {
        ts_diag_print(&d, stderr);
        return ts_test_finish("test_cuda_tune");
    }
    CHECK_STR(info.name, "Mock GPU");
    CHECK_STR(info.arch, "sm_90a");
    CHECK(!ts_rt_cuda_driver_loaded() && no_children());
    ts_tune_target_cuda(&info, &arch, major, minor, false, &target);

    test_no_driver();
    test_kernels();
    test_failures();
    test_wrong_target();
    test_runtime();
    test_driver_loaded();

    ts_mock_emu_clear();
    dlclose(h);
    return ts_test_finish("test_cuda_tune");
}

#else

int main(void) {
    printf("test_cuda_tune: skipped (built without the CUDA headers: no mock driver)\n");
    return 0;
}

#endif /* TS_MOCK_LIBCUDA */
