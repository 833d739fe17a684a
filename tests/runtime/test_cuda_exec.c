/* test_cuda_exec.c — the whole `run --target cuda` path without a GPU:
 * ts_cuda_exec (probe → CUDA C → NVRTC → plan with geometry → session) on the
 * mock driver, whose graph launches run each kernel node on the host
 * emulator (tests/cuda_emu) from the same CUDA C. The outputs must equal,
 * bit for bit, those of the emulator harness's own model of the runtime
 * (ts_emu_run_program): the session's layout, parameters, workspaces and
 * graph order are then what the kernels expect. Also: replays reuse the one
 * graph, a kernel's raised error comes back named, teardown is clean. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"
#include "tests/cuda_emu/harness.h"
#include "cuda_mock/mock_cuda.h"

#ifdef TS_MOCK_LIBCUDA

static void (*mock_reset)(const struct mock_config *);
static struct mock_state *(*mock_state)(void);
static void (*mock_register)(const char *, int, mock_kernel_fn);

static struct ts_emu_module *module; /* the program being run */
static char launch_error[1024];      /* the first emulator failure */

/* A graph node: the kernel of that name on the emulator, with the node's geometry. */
static void emu_kernel(void **args, const struct mock_node *g) {
    struct ts_cuda_launch l = {.grid = {g->grid[0], g->grid[1], g->grid[2]},
                               .block = {g->block[0], g->block[1], g->block[2]},
                               .shared_bytes = g->shared};
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_emu_module_launch(module, g->func, args, &l, &d) != TS_OK && !launch_error[0])
        ts_diag_format(&d, launch_error, sizeof launch_error);
}

static bool same_outputs(const struct ts_graph *g, const struct ts_tensor *a, const struct ts_tensor *b) {
    for (int i = 0; i < g->noutputs; i++)
        if (a[i].nbytes != b[i].nbytes || memcmp(a[i].data, b[i].data, a[i].nbytes) != 0) return false;
    return true;
}

/* path: a graph; bad_index >= 0: input 1 gets an out-of-range value there. */
static void run_case(const char *path, int bad_index) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_graph *g = NULL;
    struct ts_program *prog = NULL;
    struct ts_cuda_code *code = NULL;
    struct ts_cuda_exec *e = NULL;
    struct ts_tensor *inputs = NULL, *want = NULL, *got = NULL;
    int ninputs = 0;
    launch_error[0] = '\0';
    struct ts_pipeline_opts popts = {.stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = 8};
    enum ts_status st = ts_graph_load(path, &g, &d);
    if (st == TS_OK) st = ts_compile_program(g, &popts, &fo, &prog, &d);
    if (st == TS_OK) {
        inputs = calloc((size_t)g->ninputs + 1, sizeof *inputs);
        want = calloc((size_t)g->noutputs + 1, sizeof *want);
        got = calloc((size_t)g->noutputs + 1, sizeof *got);
        TS_ASSERT(inputs && want && got);
        st = ts_emu_random_inputs(g, 5, inputs, &d);
    }
    if (st == TS_OK) ninputs = g->ninputs;
    if (st == TS_OK && bad_index >= 0) ts_tensor_set_i64(&inputs[1], bad_index, 1000);
    /* What the kernels give under the harness's model of the runtime. */
    struct ts_cuda_opts o = {.arch = "sm_90a"};
    enum ts_status want_st = TS_OK;
    char want_msg[1024] = "";
    if (st == TS_OK) {
        struct ts_diag wd;
        ts_diag_clear(&wd);
        want_st = ts_emu_run_program(prog, &o, inputs, want, &wd);
        snprintf(want_msg, sizeof want_msg, "%s", wd.what);
    }
    /* The same CUDA C on the emulator, behind the mock driver (a 9.0 device: sm_90a). */
    if (st == TS_OK) st = ts_cuda_codegen(prog, &o, &code, &d);
    if (st == TS_OK) st = ts_emu_module_build(ts_cuda_code_source(code), &module, &d);
    mock_reset(NULL);
    for (int k = 0; st == TS_OK && k < prog->nkernels; k++)
        mock_register(ts_cuda_code_symbol(code, k), prog->kernels[k].ninputs + 3, emu_kernel);
    if (st == TS_OK) st = ts_cuda_exec_init(prog, &(struct ts_cuda_exec_opts){0}, &e, &d);
    if (st != TS_OK) {
        char msg[1024];
        ts_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "%s: %s\n", path, msg);
        CHECK(st == TS_OK);
    } else {
        CHECK_STR(ts_cuda_exec_device(e)->arch, "sm_90a");
        for (int run = 0; run < 2; run++) {
            struct ts_diag rd;
            ts_diag_clear(&rd);
            enum ts_status rst = ts_cuda_exec_run(e, inputs, got, &rd);
            CHECK(!launch_error[0]);
            if (launch_error[0]) fprintf(stderr, "%s: emulator: %s\n", path, launch_error);
            CHECK(rst == want_st);
            if (want_st != TS_OK) {
                /* The runtime names the kernel, as the CPU runtime does, before the reference's words. */
                CHECK(strncmp(rd.what, "kernel 'k", 9) == 0);
                CHECK_CONTAINS(rd.what, want_msg);
            } else if (rst == TS_OK) {
                bool same = same_outputs(g, got, want);
                CHECK(same);
                if (!same) fprintf(stderr, "%s: run %d: outputs differ from ts_emu_run_program's\n", path, run);
                for (int i = 0; i < g->noutputs; i++) ts_tensor_release(&got[i]);
            } else {
                fprintf(stderr, "%s: %s\n", path, rd.what);
            }
        }
        const struct mock_state *m = mock_state();
        CHECK(m->graph_creates == 1 && m->instantiates == 1 && m->graph_launches == 2);
        if (m->graph_launches != 2)
            fprintf(stderr, "%s: %d graphs, %d instantiated, %d launches\n", path, m->graph_creates, m->instantiates,
                    m->graph_launches);
        CHECK(m->allocs == 1 && m->module_loads == 1 && m->module_loads_ptx == 0);
        CHECK(m->kernel_runs >= 2 * m->nnodes && m->nnodes > 0);
        double ms = 0;
        if (want_st == TS_OK) CHECK(ts_cuda_exec_time(e, 3, &ms, &d) == TS_OK && ms > 0);
        ts_cuda_exec_free(e);
        CHECK(m->live_allocs == 0 && m->ctx_retains == m->ctx_releases && m->ctx_depth == 0);
        CHECK(m->module_unloads == 1 && m->graph_destroys == 1 && m->exec_destroys == 1);
        CHECK(m->no_context_calls == 0);
    }
    if (want_st == TS_OK)
        for (int i = 0; g && i < g->noutputs; i++) ts_tensor_release(&want[i]);
    for (int i = 0; i < ninputs; i++) ts_tensor_release(&inputs[i]);
    free(inputs);
    free(want);
    free(got);
    ts_emu_module_free(module);
    module = NULL;
    ts_cuda_code_free(code);
    ts_graph_free(g);
}

int main(void) {
    setenv("TESSERA_LIBCUDA", TS_MOCK_LIBCUDA, 1);
    void *h = dlopen(TS_MOCK_LIBCUDA, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    if (!h) return ts_test_finish("test_cuda_exec");
    *(void **)&mock_reset = dlsym(h, "mock_cuda_reset");
    *(void **)&mock_state = dlsym(h, "mock_cuda_state");
    *(void **)&mock_register = dlsym(h, "mock_cuda_register");
    CHECK(mock_reset && mock_state && mock_register);
    if (!mock_reset || !mock_state || !mock_register) return ts_test_finish("test_cuda_exec");
    run_case("examples/gpt/graph.json", -1);         /* every kernel kind */
    run_case("tests/cuda/graphs/pointwise_rowwise.json", -1);
    run_case("tests/error/cli/graph.json", 1);       /* gather: an index out of range */
    dlclose(h);
    return ts_test_finish("test_cuda_exec");
}

#else

int main(void) {
    printf("test_cuda_exec: skipped (built without the CUDA headers: no mock driver)\n");
    return 0;
}

#endif
