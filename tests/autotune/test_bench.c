/* test_bench.c — measuring candidates: one-kernel subprograms of the tiny GPT
 * (each kind) check and run like any program, the embedding gather's inputs
 * stay in range and its reference is the gather by hand, the default and an
 * alternative schedule time sanely in child processes, injected crash, hang,
 * wrong result, error and exit without a result are each recorded while the
 * bench goes on, an illegal schedule never forks, the verification
 * tolerances follow the kernel kind and target, and no child is left behind. */
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

static struct ts_tune_target target;
static struct ts_graph *graph;
static struct ts_program *prog;

static int first_kernel(enum ts_kernel_kind kind) {
    for (int i = 0; i < prog->nkernels; i++)
        if (prog->kernels[i].kind == kind) return i;
    return -1;
}

/* The kernel's default CPU schedule on the target (threads 0), as a candidate. */
static union ts_sched default_sched(int kernel) {
    struct ts_kernel k = prog->kernels[kernel];
    ts_sched_default_cpu(&k, target.vector_bits / 32);
    return k.sched;
}

static bool timings_sane(const struct ts_tune_result *r, int min_runs) {
    return r->status == TS_TUNE_OK && r->count >= min_runs && r->min_s > 0 && r->min_s <= r->median_s &&
           r->median_s <= r->max_s && isfinite(r->max_s) && r->compile_s > 0 && r->error[0] == '\0';
}

static void report(const char *what, const struct ts_tune_result *r) {
    if (r->status == TS_TUNE_OK)
        fprintf(stderr, "  %-22s ok: median %.3g us (min %.3g, max %.3g, %d runs), compile %.3g s\n", what,
                r->median_s * 1e6, r->min_s * 1e6, r->max_s * 1e6, r->count, r->compile_s);
    else
        fprintf(stderr, "  %-22s status %d: %s\n", what, (int)r->status, r->error);
}

/* Every kernel's subprogram: one kernel, inputs = the distinct buffers
 * read, a separate output; it checks. The first of each kind also runs:
 * the JIT agrees with the reference and the bench measures it. */
static void test_subprograms(void) {
    bool seen[TS_KERNEL_KIND_COUNT] = {false};
    for (int ki = 0; ki < prog->nkernels; ki++) {
        const struct ts_kernel *k = &prog->kernels[ki];
        bool run = !seen[k->kind];
        seen[k->kind] = true;
        struct ts_diag d;
        ts_diag_clear(&d);
        struct ts_program *sub = NULL;
        CHECK(ts_tune_subprogram(prog, ki, &sub, &d) == TS_OK);
        if (!sub) {
            ts_diag_print(&d, stderr);
            continue;
        }
        CHECK(sub->graph != prog->graph && sub->nkernels == 1 && sub->graph->noutputs == 1);
        CHECK(ts_program_check(sub, &d) == TS_OK);
        const struct ts_kernel *sk = &sub->kernels[0];
        CHECK(sk->kind == k->kind && sk->nexpr == k->nexpr && sk->ninputs == k->ninputs);
        CHECK(memcmp(&sk->sched, &k->sched, sizeof sk->sched) == 0);
        CHECK(sk->output.buffer == sub->nbuffers - 1 && sub->buffers[sk->output.buffer].kind == TS_KBUF_OUTPUT);
        for (int i = 0; i < sk->ninputs; i++) {
            CHECK(sub->buffers[sk->inputs[i].buffer].kind == TS_KBUF_INPUT);
            CHECK(sk->inputs[i].offset == k->inputs[i].offset && sk->inputs[i].strides[0] == k->inputs[i].strides[0]);
            CHECK(sub->buffers[sk->inputs[i].buffer].nbytes == prog->buffers[k->inputs[i].buffer].nbytes);
        }
        CHECK(sub->buffers[sk->output.buffer].nbytes == prog->buffers[k->output.buffer].nbytes);
        int distinct = 0;
        for (int i = 0; i < k->ninputs; i++) {
            bool first = true;
            for (int j = 0; j < i; j++) first &= k->inputs[j].buffer != k->inputs[i].buffer;
            distinct += first;
        }
        CHECK(sub->graph->ninputs == distinct && sub->nbuffers == distinct + 1);
        if (!run) {
            ts_graph_free((struct ts_graph *)(uintptr_t)sub->graph);
            continue;
        }
        /* Runs like any program: reference and JIT on the same random data. */
        struct ts_tune_bench *b = NULL;
        struct ts_tune_bench_opts o = {.timeout_s = 10, .min_time_s = 0.002, .min_runs = 3, .max_runs = 20,
                                       .seed = 7};
        CHECK(ts_tune_bench_init(prog, ki, &target, &o, &b, &d) == TS_OK);
        if (b) {
            struct ts_cpu_exec *e = NULL;
            struct ts_cpu_exec_opts eo = {.threads = 1};
            struct ts_tensor got;
            memset(&got, 0, sizeof got);
            CHECK(ts_cpu_exec_init(b->sub, &eo, &e, &d) == TS_OK);
            CHECK(e && ts_cpu_exec_run(e, b->inputs, &got, &d) == TS_OK);
            char why[256] = "";
            CHECK(got.data && tsb_verify(b, got.data, why, sizeof why));
            if (why[0]) fprintf(stderr, "  %s: %s\n", k->name, why);
            if (got.data) ts_tensor_release(&got);
            ts_cpu_exec_free(e);
            /* …and the bench measures its default schedule. */
            union ts_sched c = default_sched(ki);
            struct ts_tune_result r;
            double t0 = ts_rt_now_seconds();
            ts_tune_bench_run(b, &c, 1, &r);
            char what[64];
            snprintf(what, sizeof what, "%s default", k->name);
            report(what, &r);
            fprintf(stderr, "  %-22s end to end %.3f s (%d input copies)\n", "", ts_rt_now_seconds() - t0,
                    b->ncopies);
            CHECK(timings_sane(&r, 3));
            CHECK(r.count <= 20);
            if (b->pin_error[0]) fprintf(stderr, "  (not pinned: %s)\n", b->pin_error);
        }
        if (d.status) ts_diag_print(&d, stderr);
        ts_tune_bench_free(b);
        ts_graph_free((struct ts_graph *)(uintptr_t)sub->graph);
    }
}

/* The embedding kernel: tokens and positions are gather indices, so they
 * are drawn inside the tables, and the reference is the gather by hand. */
static void test_gather(void) {
    int ki = 0;
    const struct ts_kernel *k = &prog->kernels[ki];
    bool gathers = false;
    for (int e = 0; e < k->nexpr; e++) gathers |= k->expr[e].op == TS_KX_LOAD_AT;
    CHECK(gathers);
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tune_bench *b = NULL;
    struct ts_tune_bench_opts o = {.timeout_s = 10, .seed = 11};
    CHECK(ts_tune_bench_init(prog, ki, &target, &o, &b, &d) == TS_OK);
    if (!b) {
        ts_diag_print(&d, stderr);
        return;
    }
    const struct ts_graph *g = b->sub->graph;
    const struct ts_tensor *tok = NULL, *pos = NULL, *wte = NULL, *wpe = NULL;
    for (int i = 0; i < g->ninputs; i++) {
        const char *name = g->values[g->inputs[i]].name;
        if (!strcmp(name, "tokens")) tok = &b->inputs[i];
        if (!strcmp(name, "positions")) pos = &b->inputs[i];
        if (!strcmp(name, "wte")) wte = &b->inputs[i];
        if (!strcmp(name, "wpe")) wpe = &b->inputs[i];
    }
    CHECK(g->ninputs == 4 && tok && pos && wte && wpe);
    if (!(tok && pos && wte && wpe)) goto done;
    CHECK(tok->numel == 16 && pos->numel == 16 && wte->numel == 256 * 128 && wpe->numel == 64 * 128);
    bool in_range = true, varied = false;
    for (int s = 0; s < 16; s++) {
        int64_t t = ts_tensor_get_i64(tok, s), p = ts_tensor_get_i64(pos, s);
        in_range &= t >= 0 && t < 256 && p >= 0 && p < 64;
        varied |= t != ts_tensor_get_i64(tok, 0);
    }
    CHECK(in_range && varied);
    bool nonzero = true;
    for (int64_t i = 0; i < wte->numel; i++) nonzero &= ts_tensor_get_f64(wte, i) != 0;
    CHECK(nonzero);
    int bad = 0;
    for (int s = 0; s < 16; s++)
        for (int j = 0; j < 128; j++) {
            double want = (double)(float)(ts_tensor_get_f64(wte, ts_tensor_get_i64(tok, s) * 128 + j) +
                                          ts_tensor_get_f64(wpe, ts_tensor_get_i64(pos, s) * 128 + j));
            bad += ts_tensor_get_f64(&b->ref, s * 128 + j) != want;
        }
    CHECK(bad == 0);
    CHECK(b->ref.dtype == TS_F32 && b->rtol == 1e-4);
    /* Verification catches one wrong element, and names it. */
    void *copy = malloc(b->ref.nbytes);
    memcpy(copy, b->ref.data, b->ref.nbytes);
    char why[256];
    CHECK(tsb_verify(b, copy, why, sizeof why) && why[0] == '\0');
    tsb_corrupt(b, copy);
    CHECK(!tsb_verify(b, copy, why, sizeof why));
    CHECK_CONTAINS(why, "1 of 2048 elements beyond tolerance");
    CHECK_CONTAINS(why, "worst at element 1024");
    free(copy);
done:
    ts_tune_bench_free(b);
}

/* A kernel that also reads the buffer it writes (as in-place planning
 * makes element-wise kernels do) gets an output of its own. Made here by
 * pointing the embedding's output at its table, which fits the index map. */
static void test_in_place(void) {
    struct ts_program p = *prog;
    struct ts_kernel k0 = prog->kernels[0];
    int wte = k0.inputs[0].buffer;
    CHECK(!strcmp(prog->buffers[wte].name, "wte"));
    k0.output.buffer = wte;
    p.kernels = &k0;
    p.nkernels = 1;
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tune_bench *b = NULL;
    struct ts_tune_bench_opts o = {.timeout_s = 10, .min_time_s = 0.002, .min_runs = 3, .max_runs = 10};
    CHECK(ts_tune_bench_init(&p, 0, &target, &o, &b, &d) == TS_OK);
    if (!b) {
        ts_diag_print(&d, stderr);
        return;
    }
    const struct ts_graph *g = b->sub->graph;
    CHECK(g->ninputs == 4 && b->sub->nbuffers == 5);
    CHECK_STR(g->values[g->outputs[0]].name, "wte.out");
    CHECK(b->ref.numel == 256 * 128 && ts_tensor_get_f64(&b->ref, 16 * 128) == 0);
    CHECK(ts_tensor_get_f64(&b->ref, 16 * 128 - 1) != 0);
    union ts_sched c = default_sched(0);
    struct ts_tune_result r;
    ts_tune_bench_run(b, &c, 1, &r);
    report("in place → own output", &r);
    CHECK(timings_sane(&r, 3));
    ts_tune_bench_free(b);
}

/* A GEMM: the default and an alternative blocking both measured. */
static void test_gemm_schedules(void) {
    int ki = first_kernel(TS_KERNEL_GEMM);
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tune_bench *b = NULL;
    struct ts_tune_bench_opts o = {.timeout_s = 20, .min_time_s = 0.01, .min_runs = 5, .max_runs = 200, .seed = 3};
    CHECK(ts_tune_bench_init(prog, ki, &target, &o, &b, &d) == TS_OK);
    if (!b) {
        ts_diag_print(&d, stderr);
        return;
    }
    int vw = target.vector_bits / 32;
    union ts_sched c[3];
    c[0] = default_sched(ki);
    c[1] = c[0];
    c[1].gemm.mr = 4, c[1].gemm.nr = 2 * vw, c[1].gemm.mc = 8, c[1].gemm.nc = 4 * vw, c[1].gemm.kc = 64;
    c[1].gemm.threads = 1;
    c[2] = c[0];
    c[2].gemm.mr = 0; /* illegal: refused before any process is started */
    struct ts_tune_result r[3];
    double t0 = ts_rt_now_seconds();
    ts_tune_bench_run(b, c, 3, r);
    double t1 = ts_rt_now_seconds();
    report("gemm default", &r[0]);
    report("gemm mr4 kc64 t1", &r[1]);
    report("gemm mr 0", &r[2]);
    fprintf(stderr, "  gemm: 2 candidates end to end %.3f s (fork + compile + verify + time)\n", t1 - t0);
    CHECK(timings_sane(&r[0], 5) && timings_sane(&r[1], 5));
    CHECK(r[2].status == TS_TUNE_ILLEGAL && isinf(r[2].median_s) && r[2].count == 0);
    CHECK_CONTAINS(r[2].error, "mr");
    CHECK(b->counter == 3);
    ts_tune_bench_free(b);
}

/* Injected faults, one per candidate, each recorded; the bench goes on. */
static void test_faults(void) {
    setenv("TESSERA_TUNE_FAULT", "crash@1,hang@2,wrong@3,error@4,exit@5,bogus@6,crash@x", 1);
    int ki = first_kernel(TS_KERNEL_ROWWISE);
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tune_bench *b = NULL;
    struct ts_tune_bench_opts o = {.timeout_s = 5, .min_time_s = 0.002, .min_runs = 3, .max_runs = 10, .seed = 5};
    CHECK(ts_tune_bench_init(prog, ki, &target, &o, &b, &d) == TS_OK);
    unsetenv("TESSERA_TUNE_FAULT");
    if (!b) {
        ts_diag_print(&d, stderr);
        return;
    }
    CHECK(b->nfaults == 5);
    union ts_sched c = default_sched(ki);
    struct ts_tune_result r[7];
    for (int i = 0; i < 7; i++) {
        b->opts.timeout_s = i == 1 ? 1 : 5; /* the hang waits for the watchdog */
        double t0 = ts_rt_now_seconds();
        ts_tune_bench_run(b, &c, 1, &r[i]);
        char what[32];
        snprintf(what, sizeof what, "fault candidate %d", i + 1);
        report(what, &r[i]);
        if (i == 1) CHECK(ts_rt_now_seconds() - t0 < 4);
    }
    /* Died of a signal: a crash; exited without a result: an error, with its status. */
    CHECK(r[0].status == TS_TUNE_CRASH);
    CHECK_CONTAINS(r[0].error, "the measuring process died of signal 11");
    CHECK(r[1].status == TS_TUNE_HANG);
    CHECK_CONTAINS(r[1].error, "timeout");
    CHECK(r[2].status == TS_TUNE_WRONG);
    CHECK_CONTAINS(r[2].error, "beyond tolerance");
    CHECK(r[3].status == TS_TUNE_ERROR);
    CHECK_CONTAINS(r[3].error, "injected");
    CHECK(r[4].status == TS_TUNE_ERROR);
    CHECK_STR(r[4].error, "the measuring process exited with status 7 without a result");
    for (int i = 0; i < 5; i++) CHECK(isinf(r[i].median_s) && r[i].count == 0);
    CHECK(timings_sane(&r[5], 3) && timings_sane(&r[6], 3));
    ts_tune_bench_free(b);
}

/* The verification tolerances per kernel kind and target: tf32's 3e-2
 * only for f32 GEMM and attention on a CUDA target without strict_f32;
 * pointwise and rowwise kernels keep f32's, as every kernel on the CPU. */
static void test_tolerances(void) {
    struct ts_tune_target cuda = {.kind = TS_TARGET_CUDA}, strict = {.kind = TS_TARGET_CUDA, .strict_f32 = true};
    const struct ts_kernel *gemm = &prog->kernels[first_kernel(TS_KERNEL_GEMM)];
    const struct ts_kernel *attn = &prog->kernels[first_kernel(TS_KERNEL_ATTENTION)];
    const struct ts_kernel *rows = &prog->kernels[first_kernel(TS_KERNEL_ROWWISE)];
    const struct ts_kernel *point = &prog->kernels[first_kernel(TS_KERNEL_POINTWISE)];
    /* The tiny GPT: a GEMM over k 128 and layer norms over rows of 128
     * (f32 widened by sqrt(128/64)); attention over 16 keys of head size 32. */
    CHECK(gemm->k == 128 && gemm->inputs[0].dtype == TS_F32 && gemm->inputs[1].dtype == TS_F32);
    CHECK(rows->dims[rows->rank - 1] == 128 && rows->rank - rows->nouter == 1);
    CHECK(attn->attn.sk <= 64 && attn->attn.d <= 64 && attn->inputs[0].dtype == TS_F32);
    const double f32_128 = 1e-4 * sqrt(2.0);
    struct {
        const char *what;
        const struct ts_kernel *k;
        const struct ts_tune_target *t;
        double want;
    } cases[] = {
        {"cpu gemm", gemm, &target, f32_128},        {"cpu attention", attn, &target, 1e-4},
        {"cpu rowwise", rows, &target, f32_128},     {"cpu pointwise", point, &target, 1e-4},
        {"cuda gemm", gemm, &cuda, 3e-2},            {"cuda attention", attn, &cuda, 3e-2},
        {"cuda rowwise", rows, &cuda, f32_128},      {"cuda pointwise", point, &cuda, 1e-4},
        {"strict gemm", gemm, &strict, f32_128},     {"strict attention", attn, &strict, 1e-4},
        {"strict rowwise", rows, &strict, f32_128},  {"strict pointwise", point, &strict, 1e-4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double rtol = -1, atol = -1;
        tsb_tolerances(cases[i].k, TS_F32, cases[i].t, &rtol, &atol);
        bool ok = fabs(rtol - cases[i].want) < 1e-15 && atol == rtol;
        CHECK(ok);
        if (!ok) fprintf(stderr, "  %s: rtol %g atol %g, want %g\n", cases[i].what, rtol, atol, cases[i].want);
    }
    /* A GEMM of f16 factors runs on f16 tensor cores, not tf32: f32's
     * tolerance for an f32 output, f16's for an f16 one; integers exact. */
    struct ts_kernel half = *gemm;
    struct ts_koperand ops[2] = {gemm->inputs[0], gemm->inputs[1]}; /* the program's stay f32 */
    ops[0].dtype = ops[1].dtype = TS_F16;
    half.inputs = ops;
    half.ninputs = 2;
    double rtol = -1, atol = -1;
    tsb_tolerances(&half, TS_F32, &cuda, &rtol, &atol);
    CHECK(fabs(rtol - f32_128) < 1e-15 && atol == rtol);
    tsb_tolerances(&half, TS_F16, &cuda, &rtol, &atol);
    CHECK(fabs(rtol - 1e-2 * sqrt(2.0)) < 1e-15 && atol == rtol);
    tsb_tolerances(gemm, TS_I32, &cuda, &rtol, &atol);
    CHECK(rtol == 0 && atol == 0);
}

static void test_status_names(void) {
    static const char *const want[] = {"ok", "illegal", "compile", "resources", "crash", "hang", "wrong", "error"};
    CHECK(sizeof want / sizeof want[0] == TS_TUNE_STATUS_COUNT);
    for (int i = 0; i < TS_TUNE_STATUS_COUNT; i++) {
        enum ts_tune_status s = TS_TUNE_STATUS_COUNT;
        CHECK_STR(ts_tune_status_name((enum ts_tune_status)i), want[i]);
        CHECK(ts_tune_status_from_name(want[i], &s) && s == (enum ts_tune_status)i);
    }
    enum ts_tune_status s;
    CHECK(!ts_tune_status_from_name("OK", &s) && !ts_tune_status_from_name("", &s));
    CHECK_STR(ts_tune_status_name(TS_TUNE_STATUS_COUNT), "?");
}

int main(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_cpu_info info;
    if (ts_cpu_info_init(NULL, &info, &d) != TS_OK || ts_tune_target_cpu(&info, 2, &target, &d) != TS_OK) {
        ts_diag_print(&d, stderr);
        return 1;
    }
    target.l3_bytes = 1 << 20; /* a few input copies only: the test is about behaviour */
    struct ts_pipeline_opts po = {.stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = info.vector_width};
    enum ts_status st = ts_graph_load("examples/gpt/graph.json", &graph, &d);
    if (st == TS_OK) st = ts_compile_program(graph, &po, &fo, &prog, &d);
    if (st != TS_OK) {
        ts_diag_print(&d, stderr);
        return 1;
    }
    for (int kind = 0; kind < TS_KERNEL_KIND_COUNT; kind++) CHECK(first_kernel((enum ts_kernel_kind)kind) >= 0);
    test_status_names();
    test_tolerances();
    test_subprograms();
    test_gather();
    test_in_place();
    test_gemm_schedules();
    test_faults();
    /* Every child was waited for. */
    int status;
    errno = 0;
    CHECK(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);
    ts_graph_free(graph);
    return ts_test_finish("test_bench");
}
