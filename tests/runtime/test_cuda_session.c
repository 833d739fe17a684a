/* test_cuda_session.c — the CUDA runtime's control flow without a GPU: the
 * driver messages (no library, the toolkit's stub, a driver lacking an entry
 * point, no device), the probe, and sessions on the mock driver
 * (tests/cuda_mock, loaded through $TESSERA_LIBCUDA): one 256-byte-aligned
 * allocation, weights uploaded once, the graph built and instantiated once
 * and replayed by every run, the shared-memory opt-in, the PTX fallback, the
 * error word naming its kernel and reset, bad plans refused, clean teardown;
 * and TMA tensor maps (sm_90 kernels): encoded once, passed first, checked
 * field by field, refused by a driver without cuTensorMapEncodeTiled. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "test.h"
#include "cuda_mock/mock_cuda.h"

#define N 7 /* elements per tensor: not a multiple of anything */
#define MOCK_ERROR_NO_DEVICE 100       /* cuda.h: CUDA_ERROR_NO_DEVICE */
#define MOCK_ATTR_MAX_DYNAMIC_SHARED 8 /* cuda.h: CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
#define MOCK_TMAP_FLOAT16 6            /* cuda.h: CU_TENSOR_MAP_DATA_TYPE_FLOAT16 */
#define MOCK_TMAP_FLOAT32 7            /* CU_TENSOR_MAP_DATA_TYPE_FLOAT32 */
#define MOCK_TMAP_BFLOAT16 9           /* CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 */
#define MOCK_TMAP_SWIZZLE_128B 3       /* CU_TENSOR_MAP_SWIZZLE_128B */
#define MOCK_TMAP_L2_256B 3            /* CU_TENSOR_MAP_L2_PROMOTION_L2_256B */

#ifdef TS_MOCK_LIBCUDA /* the build has the CUDA headers, hence the mock (tests/CMakeLists.txt) */

static void (*mock_reset)(const struct mock_config *);
static struct mock_state *(*mock_state)(void);
static void (*mock_register)(const char *, int, mock_kernel_fn);

/* ---- the kernels, as host functions the mock runs ------------------------ */

static void k_add(void **a, const struct mock_node *g) { /* (in0, in1, out, ws, err) */
    (void)g;
    const float *x = a[0], *y = a[1];
    float *o = a[2];
    for (int i = 0; i < N; i++) o[i] = x[i] + y[i];
}

static void k_mul(void **a, const struct mock_node *g) { /* (t, y, c, out, ws, err) */
    (void)g;
    const float *t = a[0], *y = a[1], *c = a[2];
    float *o = a[3];
    unsigned char *ws = a[4];
    int *err = a[5];
    for (int i = 0; i < 1000; i++)
        if (ws[i] != 0 && *err == 0) *err = 1; /* the workspace must come zeroed */
    for (int i = 0; i < 1000; i++) ws[i] = 0;
    for (int i = 0; i < N; i++) o[i] = t[i] * y[i] + c[0];
}

static void k_guard(void **a, const struct mock_node *g) { /* (x, out, ws, err) */
    (void)g;
    const float *x = a[0];
    float *o = a[1];
    int *err = a[3];
    if (x[0] > 100 && *err == 0) *err = 2;
    o[0] = x[0];
}

/* ---- the plan ------------------------------------------------------------ */

static const struct ts_rt_tensor inputs[2] = {
    {.name = "x", .dtype = "f32", .rank = 1, .dims = {N}, .nbytes = 4 * N},
    {.name = "y", .dtype = "f32", .rank = 1, .dims = {N}, .nbytes = 4 * N},
};
static const struct ts_rt_tensor outputs[2] = {
    {.name = "z", .dtype = "f32", .rank = 1, .dims = {N}, .nbytes = 4 * N},
    {.name = "z2", .dtype = "f32", .rank = 1, .dims = {N}, .nbytes = 4 * N},
};
static const struct ts_rt_tensor weights_desc[1] = {
    {.name = "w", .dtype = "f32", .rank = 1, .dims = {N}, .nbytes = 4 * N},
};
static const struct ts_rt_buffer buffers[8] = {
    {.kind = TS_RT_BUF_INPUT, .index = 0, .nbytes = 4 * N},  {.kind = TS_RT_BUF_INPUT, .index = 1, .nbytes = 4 * N},
    {.kind = TS_RT_BUF_WEIGHT, .index = 0, .nbytes = 4 * N}, {.kind = TS_RT_BUF_CONST, .index = 0, .nbytes = 4},
    {.kind = TS_RT_BUF_ARENA, .offset = 0, .nbytes = 4 * N}, {.kind = TS_RT_BUF_OUTPUT, .index = 0, .nbytes = 4 * N},
    {.kind = TS_RT_BUF_OUTPUT, .index = 1, .nbytes = 4 * N}, {.kind = TS_RT_BUF_ARENA, .offset = 64, .nbytes = 4},
};
static const int32_t args0[] = {0, 2, 4}, args1[] = {4, 1, 3, 5}, args2[] = {4, 2, 6}, args3[] = {0, 7};
static const char *const guard_errors[] = {"first message", "index out of range in gather"};
static const char *const kernel_names[5] = {"add", "mul", "add2", "guard", "empty"};
static const char *const symbols[5] = {"ts_k_add", "ts_k_mul", "ts_k_add", "ts_k_guard", "ts_k_add"};
static const float const_c = 0.5f;
static const void *const consts[1] = {&const_c};
static float w[N];

static struct ts_rt_launch launches[5];
static struct ts_rt_plan plan;

static void make_plan(void) {
    memset(launches, 0, sizeof launches);
    launches[0] = (struct ts_rt_launch){.kernel = 0, .nargs = 3, .args = args0, .grid = {1, 1, 1}, .block = {128, 1, 1}};
    launches[1] = (struct ts_rt_launch){.kernel = 1, .nargs = 4, .args = args1, .grid = {2, 1, 1}, .block = {64, 1, 1},
                                        .shared_bytes = 64 * 1024, .workspace_bytes = 1000};
    launches[2] = (struct ts_rt_launch){.kernel = 2, .nargs = 3, .args = args2, .grid = {1, 1, 1}, .block = {32, 1, 1}};
    launches[3] = (struct ts_rt_launch){.kernel = 3, .nargs = 2, .args = args3, .grid = {1, 3, 1}, .block = {32, 1, 1},
                                        .errors = guard_errors, .nerrors = 2};
    launches[4] = (struct ts_rt_launch){.kernel = 4, .nargs = 3, .args = args0, .grid = {0, 1, 1}, .block = {32, 1, 1}};
    plan = (struct ts_rt_plan){
        .arena_bytes = 128, .buffers = buffers, .nbuffers = 8, .launches = launches, .nlaunches = 5,
        .kernel_names = kernel_names, .nkernels = 5, .inputs = inputs, .ninputs = 2, .outputs = outputs,
        .noutputs = 2, .weights = weights_desc, .nweights = 1, .consts = consts, .nconsts = 1,
    };
    for (int i = 0; i < N; i++) w[i] = 0.25f * (float)(i + 1);
}

/* A fake cubin: an ELF header for machine 190 (CUDA) with the SM in e_flags,
 * followed by the function names; the mock reads it as the driver would. */
static unsigned char cubin[512];
static size_t make_cubin(int sm) {
    memset(cubin, 0, sizeof cubin);
    memcpy(cubin, "\177ELF", 4);
    cubin[4] = 2;
    cubin[5] = 1;
    uint16_t machine = 190;
    uint32_t flags = (uint32_t)sm << 8;
    memcpy(cubin + 18, &machine, 2);
    memcpy(cubin + 48, &flags, 4);
    static const char names[] = "ts_k_add\0ts_k_mul\0ts_k_guard\0ts_k_tma\0ts_k_tma3";
    memcpy(cubin + 64, names, sizeof names);
    uint64_t size = 64 + sizeof names;
    memcpy(cubin + 40, &size, 8); /* no section headers: the image ends here */
    return (size_t)size;
}
static const char ptx[] = ".version 9.0\n.target sm_80\n.entry ts_k_add(\n.entry ts_k_mul(\n.entry ts_k_guard(\n";

static void register_kernels(void) {
    mock_register("ts_k_add", 5, k_add);
    mock_register("ts_k_mul", 6, k_mul);
    mock_register("ts_k_guard", 4, k_guard);
}

/* ---- a plan with TMA tensor maps ------------------------------------------
 * Launch 0 ('gemm', persistent, 1000 tiles): an f16 input A (100x64 after a
 * 256-byte offset) and a bf16 weight B (96x64, rows 144 bytes apart, after
 * 32 bytes), both 128B-swizzled and each filling its buffer to the last
 * byte. Launch 1 ('gather3'): one 3-D f32 map over an arena buffer. */

static const struct ts_rt_tensor tma_inputs[1] = {
    {.name = "a", .dtype = "f16", .rank = 1, .dims = {6528}, .nbytes = 13056},
};
static const struct ts_rt_tensor tma_weights_desc[1] = {
    {.name = "b", .dtype = "bf16", .rank = 1, .dims = {6920}, .nbytes = 13840},
};
static const struct ts_rt_tensor tma_outputs[1] = {
    {.name = "c", .dtype = "f32", .rank = 1, .dims = {9600}, .nbytes = 38400},
};
static struct ts_rt_buffer tma_buffers[4];
static const int32_t tma_args0[] = {0, 1, 2}, tma_args1[] = {3, 2};
static const char *const tma_names[2] = {"gemm", "gather3"};
static const char *const tma_symbols[2] = {"ts_k_tma", "ts_k_tma3"};
static unsigned char tma_w[13840];
static struct ts_rt_launch tma_launches[2];
static struct ts_rt_plan tma_plan;

static void make_tma_plan(void) {
    tma_buffers[0] = (struct ts_rt_buffer){.kind = TS_RT_BUF_INPUT, .index = 0, .nbytes = 13056};
    tma_buffers[1] = (struct ts_rt_buffer){.kind = TS_RT_BUF_WEIGHT, .index = 0, .nbytes = 13840};
    tma_buffers[2] = (struct ts_rt_buffer){.kind = TS_RT_BUF_OUTPUT, .index = 0, .nbytes = 38400};
    tma_buffers[3] = (struct ts_rt_buffer){.kind = TS_RT_BUF_ARENA, .offset = 0, .nbytes = 752};
    memset(tma_launches, 0, sizeof tma_launches);
    tma_launches[0] = (struct ts_rt_launch){
        .kernel = 0, .nargs = 3, .args = tma_args0, .grid = {1000, 1, 1}, .block = {384, 1, 1},
        .shared_bytes = 200 * 1024, .persistent = true, .ntmaps = 2,
        .tmaps = {
            /* ends at 256 + 99·128 + 64·2 = 13056 */
            {.arg = 0, .dtype = TS_RT_TMAP_F16, .rank = 2, .swizzle = 128, .offset = 256, .dims = {64, 100},
             .strides = {128}, .box = {64, 128}},
            /* ends at 32 + 95·144 + 64·2 = 13840 */
            {.arg = 1, .dtype = TS_RT_TMAP_BF16, .rank = 2, .swizzle = 128, .offset = 32, .dims = {64, 96},
             .strides = {144}, .box = {64, 64}},
        }};
    /* ends at 16 + 4·48 + 2·256 + 8·4 = 752 */
    tma_launches[1] = (struct ts_rt_launch){
        .kernel = 1, .nargs = 2, .args = tma_args1, .grid = {4, 1, 1}, .block = {128, 1, 1}, .ntmaps = 1,
        .tmaps = {{.arg = 0, .dtype = TS_RT_TMAP_F32, .rank = 3, .swizzle = 0, .offset = 16, .dims = {8, 5, 3},
                   .strides = {48, 256}, .box = {8, 5, 1}}}};
    tma_plan = (struct ts_rt_plan){
        .arena_bytes = 1024, .buffers = tma_buffers, .nbuffers = 4, .launches = tma_launches, .nlaunches = 2,
        .kernel_names = tma_names, .nkernels = 2, .inputs = tma_inputs, .ninputs = 1, .outputs = tma_outputs,
        .noutputs = 1, .weights = tma_weights_desc, .nweights = 1,
    };
}

static void register_tma_kernels(void) {
    mock_register("ts_k_tma", 2 + 3 + 2, NULL); /* maps, buffers, workspace, error word; no body */
    mock_register("ts_k_tma3", 1 + 2 + 2, NULL);
}

/* ---- the driver's messages ---------------------------------------------- */

static void test_no_driver(void) {
    char err[512];
    struct ts_rt_cuda_info info;
    setenv("TESSERA_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
    CHECK(ts_rt_cuda_probe(0, &info, err, sizeof err) != 0);
    CHECK_STR(err, "no CUDA driver: cannot load /nonexistent/libcuda.so.1 ($TESSERA_LIBCUDA): cannot open shared "
                   "object file: No such file or directory");
    const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
    void *h = dlopen(stub, RTLD_NOW | RTLD_LOCAL);
    if (h) {
        dlclose(h);
        setenv("TESSERA_LIBCUDA", stub, 1);
        CHECK(ts_rt_cuda_probe(0, &info, err, sizeof err) != 0);
        CHECK_STR(err, "no CUDA driver: /usr/local/cuda/lib64/stubs/libcuda.so is the CUDA toolkit's stub library "
                       "(CUDA_ERROR_STUB_LIBRARY), not a driver: this machine has no NVIDIA driver installed");
    } else {
        printf("test_cuda_session: no toolkit stub at %s: its case is skipped\n", stub);
    }
}

/* Before the mock is loaded for good: each failure leaves it unloaded. */
static void test_bad_mock_drivers(void) {
    char err[512];
    struct ts_rt_cuda_info info;
    setenv("TESSERA_LIBCUDA", TS_MOCK_LIBCUDA, 1);
    struct mock_config c = {.ndevices = 1, .cc_major = 9, .missing_symbol = "cuGraphInstantiateWithFlags"};
    mock_reset(&c);
    CHECK(ts_rt_cuda_probe(0, &info, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "lacks cuGraphInstantiateWithFlags (CUDA 11.4 ABI");
    CHECK_CONTAINS(err, "it needs CUDA 12.0 or newer");
    c.missing_symbol = NULL;
    c.init_result = MOCK_ERROR_NO_DEVICE;
    mock_reset(&c);
    CHECK(ts_rt_cuda_probe(0, &info, err, sizeof err) != 0);
    CHECK_STR(err, "no CUDA device: the driver (" TS_MOCK_LIBCUDA ") sees no GPU");
    CHECK(mock_state()->init_calls == 1);
    CHECK(mock_state()->min_version_asked >= 2000);
}

static void test_probe(void) {
    char err[512];
    struct ts_rt_cuda_info info;
    mock_reset(NULL);
    CHECK(ts_rt_cuda_probe(0, &info, err, sizeof err) == 0);
    CHECK_STR(info.name, "Mock GPU");
    CHECK_STR(info.arch, "sm_90a");
    CHECK(info.cc_major == 9 && info.cc_minor == 0 && info.sm_count == 132);
    CHECK(info.driver_version == 13000 && info.max_shared_optin == 227 * 1024);
    CHECK(info.total_bytes == (int64_t)80 << 30);
    struct mock_config c = {.name = "Mock A100", .ndevices = 2, .cc_major = 8, .sm_count = 108,
                            .max_shared_optin = 163 * 1024, .driver_version = 12040, .total_bytes = 1 << 30};
    mock_reset(&c);
    CHECK(ts_rt_cuda_probe(1, &info, err, sizeof err) == 0);
    CHECK_STR(info.arch, "sm_80");
    CHECK(info.ordinal == 1);
    CHECK(ts_rt_cuda_probe(2, &info, err, sizeof err) != 0);
    CHECK_STR(err, "no CUDA device 2: the driver sees 2 GPUs (0 to 1)");
    c.cc_major = 8, c.cc_minor = 6;
    mock_reset(&c);
    CHECK(ts_rt_cuda_probe(0, &info, err, sizeof err) == 0);
    CHECK_STR(info.arch, "sm_86");
}

/* ---- sessions ----------------------------------------------------------- */

static bool aligned_in_alloc(uint64_t p) {
    const struct mock_state *m = mock_state();
    return p >= m->alloc_base && p < m->alloc_base + m->alloc_bytes && (p - m->alloc_base) % 256 == 0;
}

static void check_teardown(void) {
    const struct mock_state *m = mock_state();
    CHECK(m->live_allocs == 0 && m->allocs == m->frees);
    CHECK(m->ctx_retains == m->ctx_releases);
    CHECK(m->ctx_depth == 0 && m->ctx_pushes == m->ctx_pops);
    CHECK(m->module_loads == m->module_unloads);
    CHECK(m->graph_creates == m->graph_destroys && m->instantiates == m->exec_destroys);
    CHECK(m->streams == m->stream_destroys && m->events == m->event_destroys);
    CHECK(m->no_context_calls == 0);
}

static void test_session_runs(void) {
    char err[512];
    mock_reset(NULL);
    register_kernels();
    make_plan();
    struct ts_rt_cuda_image image = {.cubin = cubin, .cubin_size = make_cubin(90), .ptx = ptx, .symbols = symbols};
    const void *wp[1] = {w};
    struct ts_rt_cuda_session *s = NULL;
    int rc = ts_rt_cuda_session_init(&plan, &image, wp, 0, &s, err, sizeof err);
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "session_init: %s\n", err);
        return;
    }
    const struct mock_state *m = mock_state();
    CHECK(!ts_rt_cuda_session_used_ptx(s));
    CHECK_STR(ts_rt_cuda_session_info(s)->arch, "sm_90a");
    CHECK(m->module_loads == 1 && m->module_loads_ptx == 0);
    /* One allocation, zeroed once as a whole, then the weight and the constant. */
    CHECK(m->allocs == 1);
    CHECK(m->memsets == 1 && m->memset_log[0].dst_offset == 0 && m->memset_log[0].bytes == m->alloc_bytes &&
          m->memset_log[0].value == 0);
    CHECK(m->htod == 2);
    CHECK(m->htod_log[0].bytes == 4 * N && m->htod_log[0].dst_offset % 256 == 0 && m->htod_log[0].dst_offset >= 128);
    CHECK(m->htod_log[1].bytes == 4 && m->htod_log[1].dst_offset % 256 == 0);
    /* The opt-in for the one kernel above 48 KiB, set once. */
    CHECK(m->nattrs == 1);
    CHECK_STR(m->attrs[0].func, "ts_k_mul");
    CHECK(m->attrs[0].attr == MOCK_ATTR_MAX_DYNAMIC_SHARED && m->attrs[0].value == 64 * 1024);
    /* The graph: one chain of four kernel nodes (the empty launch has none). */
    CHECK(m->graph_creates == 1 && m->instantiates == 1 && m->graph_launches == 0);
    CHECK(m->nnodes == 4);
    static const char *const funcs[4] = {"ts_k_add", "ts_k_mul", "ts_k_add", "ts_k_guard"};
    for (int i = 0; i < m->nnodes && i < 4; i++) {
        CHECK_STR(m->nodes[i].func, funcs[i]);
        CHECK(m->nodes[i].dep == i - 1 && m->nodes[i].ndeps == (i > 0));
        const struct ts_rt_launch *l = &launches[i];
        CHECK(m->nodes[i].nparams == l->nargs + 2);
        for (int k = 0; k < l->nargs; k++) {
            const struct ts_rt_buffer *b = &buffers[l->args[k]];
            if (b->kind == TS_RT_BUF_ARENA) CHECK(m->nodes[i].params[k] == m->alloc_base + (uint64_t)b->offset);
            else CHECK(aligned_in_alloc(m->nodes[i].params[k]));
        }
        uint64_t ws = m->nodes[i].params[l->nargs], error = m->nodes[i].params[l->nargs + 1];
        CHECK(l->workspace_bytes ? aligned_in_alloc(ws) : ws == 0);
        /* Error words: one int32 per launch, after everything else. */
        CHECK(error == m->nodes[0].params[launches[0].nargs + 1] + 4 * (uint64_t)i);
        CHECK(aligned_in_alloc(error - 4 * (uint64_t)i) && error + 4 <= m->alloc_base + m->alloc_bytes);
    }
    CHECK(m->nodes[1].shared == 64 * 1024 && m->nodes[1].grid[0] == 2 && m->nodes[1].block[0] == 64);
    CHECK(m->nodes[3].grid[1] == 3 && m->nodes[3].block[0] == 32);
    /* Arena buffers keep their offsets from the base; inputs and outputs have their own places. */
    CHECK(m->nodes[0].params[2] == m->alloc_base);      /* t at arena offset 0 */
    CHECK(m->nodes[3].params[1] == m->alloc_base + 64); /* g at arena offset 64 */
    CHECK(m->nodes[1].params[0] == m->nodes[0].params[2]);
    /* Distinct error words, one per launch. */
    CHECK(m->nodes[0].params[4] + 4 == m->nodes[1].params[5]);

    /* Runs: the graph replayed, the weights never uploaded again. */
    float x[N], y[N], z[N], z2[N];
    for (int run = 0; run < 3; run++) {
        for (int i = 0; i < N; i++) {
            x[i] = (float)(i * 3 - 7) * 0.5f + (float)run;
            y[i] = 1.0f - 0.125f * (float)i;
        }
        const void *in[2] = {x, y};
        void *out[2] = {z, z2};
        memset(z, 0, sizeof z);
        rc = ts_rt_cuda_session_run(s, in, out, err, sizeof err);
        CHECK(rc == 0);
        if (rc) fprintf(stderr, "run: %s\n", err);
        for (int i = 0; i < N; i++) {
            CHECK_NEAR(z[i], (x[i] + w[i]) * y[i] + 0.5f, 1e-6, 1e-6);
            CHECK_NEAR(z2[i], x[i] + 2 * w[i], 1e-6, 1e-6);
        }
    }
    CHECK(m->graph_launches == 3 && m->graph_creates == 1 && m->instantiates == 1);
    CHECK(m->htod == 2 + 3 * 2);
    CHECK(m->kernel_runs == 3 * 4);

    /* A raised error names its launch's kernel and message; the next run is clean. */
    x[0] = 1000;
    const void *in[2] = {x, y};
    void *out[2] = {z, z2};
    CHECK(ts_rt_cuda_session_run(s, in, out, err, sizeof err) != 0);
    CHECK_STR(err, "kernel 'guard': index out of range in gather");
    x[0] = 1;
    CHECK(ts_rt_cuda_session_run(s, in, out, err, sizeof err) == 0);
    CHECK(ts_rt_cuda_session_run(s, in, NULL, err, sizeof err) != 0);
    CHECK_STR(err, "run: the plan takes 2 outputs but none were given");

    double ms = -1;
    int before = m->graph_launches;
    CHECK(ts_rt_cuda_session_time(s, 5, &ms, err, sizeof err) == 0);
    CHECK_NEAR(ms, 0.25, 1e-9, 0);
    CHECK(m->graph_launches == before + 6); /* a warm-up and five timed */
    CHECK(m->graph_creates == 1);
    ts_rt_cuda_session_free(s);
    check_teardown();
}

static void test_ptx_fallback(void) {
    char err[512];
    struct mock_config c = {.name = "Mock A100", .ndevices = 1, .cc_major = 8, .sm_count = 108,
                            .max_shared_optin = 163 * 1024, .driver_version = 13000, .total_bytes = 1 << 30};
    mock_reset(&c);
    register_kernels();
    make_plan();
    const void *wp[1] = {w};
    struct ts_rt_cuda_image image = {.cubin = cubin, .cubin_size = make_cubin(90), .ptx = ptx, .symbols = symbols};
    struct ts_rt_cuda_session *s = NULL;
    CHECK(ts_rt_cuda_session_init(&plan, &image, wp, 0, &s, err, sizeof err) == 0);
    CHECK(s && ts_rt_cuda_session_used_ptx(s));
    CHECK(mock_state()->module_load_failures == 1 && mock_state()->module_loads_ptx == 1);
    float x[N] = {1, 2, 3, 4, 5, 6, 7}, y[N] = {1, 1, 1, 1, 1, 1, 1}, z[N], z2[N];
    const void *in[2] = {x, y};
    void *out[2] = {z, z2};
    if (s) CHECK(ts_rt_cuda_session_run(s, in, out, err, sizeof err) == 0);
    CHECK_NEAR(z[6], 7 + w[6] + 0.5f, 1e-6, 1e-6);
    ts_rt_cuda_session_free(s);
    check_teardown();

    /* Without PTX the wrong cubin is the error. */
    mock_reset(&c);
    register_kernels();
    image.ptx = NULL;
    CHECK(ts_rt_cuda_session_init(&plan, &image, wp, 0, &s, err, sizeof err) != 0 && !s);
    CHECK_STR(err, "loading the kernels' cubin on Mock A100 (sm_80): CUDA_ERROR_NO_BINARY_FOR_GPU (no kernel image "
                   "is available for execution on the device)");
    check_teardown();
    /* PTX for a newer or another arch-specific target cannot be JIT-compiled: say what to do. */
    mock_reset(&c);
    register_kernels();
    image.ptx = ".version 9.0\n.target sm_90a\n.entry ts_k_add(\n";
    CHECK(ts_rt_cuda_session_init(&plan, &image, wp, 0, &s, err, sizeof err) != 0 && !s);
    CHECK_STR(err, "the kernels were compiled for sm_90a, which runs only on that architecture; Mock A100 is sm_80 "
                   "(compute capability 8.0): recompile with --arch sm_80");
    image.ptx = ".version 9.0\n.target sm_86\n.entry ts_k_add(\n";
    CHECK(ts_rt_cuda_session_init(&plan, &image, wp, 0, &s, err, sizeof err) != 0 && !s);
    CHECK_CONTAINS(err, "compiled for sm_86, which is newer than this GPU; Mock A100 is sm_80");
    check_teardown();
    /* A failed JIT carries the first line of its log. */
    c.fail_ptx = 1;
    mock_reset(&c);
    register_kernels();
    image.ptx = ptx;
    CHECK(ts_rt_cuda_session_init(&plan, &image, wp, 0, &s, err, sizeof err) != 0 && !s);
    CHECK_STR(err, "JIT-compiling the kernels' PTX for Mock A100 (sm_80): ptxas fatal   : mock JIT failure: "
                   "CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed)");
    check_teardown();
}

static void test_refusals(void) {
    char err[512];
    struct mock_config c = {.name = "Small", .ndevices = 1, .cc_major = 8, .cc_minor = 6, .sm_count = 8,
                            .max_shared_optin = 48 * 1024 + 1024, .driver_version = 13000, .total_bytes = 1 << 30};
    mock_reset(&c);
    register_kernels();
    make_plan();
    const void *wp[1] = {w};
    struct ts_rt_cuda_image image = {.cubin = cubin, .cubin_size = make_cubin(86), .ptx = ptx, .symbols = symbols};
    struct ts_rt_cuda_session *s = NULL;
    CHECK(ts_rt_cuda_session_init(&plan, &image, wp, 0, &s, err, sizeof err) != 0 && !s);
    CHECK_STR(err, "kernel 'mul' needs 65536 bytes of shared memory per block; Small (sm_86) allows 50176");
    check_teardown();

    mock_reset(NULL);
    register_kernels();
    make_cubin(90);
    static const char *const bad_symbols[5] = {"ts_k_add", "ts_k_missing", "ts_k_add", "ts_k_guard", "ts_k_add"};
    image.symbols = bad_symbols;
    CHECK(ts_rt_cuda_session_init(&plan, &image, wp, 0, &s, err, sizeof err) != 0);
    CHECK_STR(err, "kernel 'mul': function 'ts_k_missing' is not in the module: CUDA_ERROR_NOT_FOUND (named symbol "
                   "not found)");
    check_teardown();
    image.symbols = symbols;

    /* Malformed plans never reach the device. */
    launches[1].kernel = 9;
    CHECK(ts_rt_cuda_session_init(&plan, &image, wp, 0, &s, err, sizeof err) != 0);
    CHECK_STR(err, "plan: launch 1 names kernel 9, but the plan has 5 kernels");
    make_plan();
    launches[2].block[0] = 2048;
    CHECK(ts_rt_cuda_session_init(&plan, &image, wp, 0, &s, err, sizeof err) != 0);
    CHECK_STR(err, "plan: launch 2 (kernel 'add2') has bad geometry: grid 1x1x1, block 2048x1x1");
    make_plan();
    CHECK(ts_rt_cuda_session_init(&plan, &image, NULL, 0, &s, err, sizeof err) != 0);
    CHECK_STR(err, "plan: 1 weights but no weight pointers");
    struct ts_rt_cuda_image empty = {.symbols = symbols};
    CHECK(ts_rt_cuda_session_init(&plan, &empty, wp, 0, &s, err, sizeof err) != 0);
    CHECK_STR(err, "plan: no CUDA code (neither cubin nor PTX)");
    CHECK(mock_state()->allocs == 0);
}

/* A driver without cuTensorMapEncodeTiled loads (the entry point is
 * optional) and runs plans without tensor maps, but refuses a plan with
 * them. In a child process: a loaded driver stays loaded, and the rest of
 * the tests need the full mock. */
static void test_no_tensor_map_driver(void) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char err[512];
        struct mock_config c = {.name = "Old driver", .ndevices = 1, .cc_major = 9, .sm_count = 132,
                                .max_shared_optin = 227 * 1024, .driver_version = 13000, .total_bytes = 1 << 30,
                                .missing_symbol = "cuTensorMapEncodeTiled"};
        mock_reset(&c);
        register_kernels();
        register_tma_kernels();
        make_tma_plan();
        struct ts_rt_cuda_image image = {.cubin = cubin, .cubin_size = make_cubin(90), .symbols = tma_symbols};
        const void *wp[1] = {tma_w};
        struct ts_rt_cuda_session *s = NULL;
        CHECK(ts_rt_cuda_session_init(&tma_plan, &image, wp, 0, &s, err, sizeof err) != 0 && !s);
        CHECK_STR(err, "kernel 'gemm' needs TMA tensor maps (sm_90 kernels) but the CUDA driver (13.0) lacks "
                       "cuTensorMapEncodeTiled");
        CHECK(mock_state()->allocs == 0 && mock_state()->ntmaps == 0);
        check_teardown();
        make_plan();
        image.symbols = symbols;
        const void *wp2[1] = {w};
        CHECK(ts_rt_cuda_session_init(&plan, &image, wp2, 0, &s, err, sizeof err) == 0 && s);
        float x[N] = {1, 2, 3, 4, 5, 6, 7}, y[N] = {1, 1, 1, 1, 1, 1, 1}, z[N], z2[N];
        const void *in[2] = {x, y};
        void *out[2] = {z, z2};
        if (s) CHECK(ts_rt_cuda_session_run(s, in, out, err, sizeof err) == 0);
        CHECK_NEAR(z2[6], 7 + 2 * w[6], 1e-6, 1e-6);
        ts_rt_cuda_session_free(s);
        check_teardown();
        fflush(stderr);
        _exit(ts_test_failed ? 1 : 0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* the child printed its failures */
}

static void test_tensor_maps(void) {
    char err[512];
    mock_reset(NULL); /* 132 SMs */
    register_tma_kernels();
    make_tma_plan();
    for (size_t i = 0; i < sizeof tma_w; i++) tma_w[i] = (unsigned char)(i * 7);
    struct ts_rt_cuda_image image = {.cubin = cubin, .cubin_size = make_cubin(90), .symbols = tma_symbols};
    const void *wp[1] = {tma_w};
    struct ts_rt_cuda_session *s = NULL;
    int rc = ts_rt_cuda_session_init(&tma_plan, &image, wp, 0, &s, err, sizeof err);
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "session_init: %s\n", err);
        return;
    }
    const struct mock_state *m = mock_state();
    CHECK(m->nnodes == 2);
    /* Launch 0: persistent, so one block per SM; the maps first, then the buffers, no workspace, the error word. */
    const struct mock_node *g = &m->nodes[0];
    CHECK_STR(g->func, "ts_k_tma");
    CHECK(g->grid[0] == 132 && g->grid[1] == 1 && g->grid[2] == 1);
    CHECK(g->block[0] == 384 && g->shared == 200 * 1024);
    CHECK(g->nparams == 7);
    CHECK(g->params[0] == (MOCK_TMAP_MAGIC | 0) && g->params[1] == (MOCK_TMAP_MAGIC | 1));
    for (int k = 2; k < 5; k++) CHECK(aligned_in_alloc(g->params[k]));
    CHECK(g->params[2] != g->params[3] && g->params[3] != g->params[4]);
    CHECK(g->params[5] == 0);
    CHECK(aligned_in_alloc(g->params[6]));
    /* Launch 1: not persistent (grid as given); its map is the third encoded. */
    const struct mock_node *h = &m->nodes[1];
    CHECK_STR(h->func, "ts_k_tma3");
    CHECK(h->grid[0] == 4 && h->dep == 0);
    CHECK(h->params[0] == (MOCK_TMAP_MAGIC | 2));
    CHECK(h->params[1] == m->alloc_base); /* the arena buffer at offset 0 */
    CHECK(h->params[2] == g->params[4]);  /* the output */
    CHECK(h->params[3] == 0 && h->params[4] == g->params[6] + 4);
    /* The encodings: address = the buffer's + the map's offset, and the fields as given. */
    CHECK(m->ntmaps == 3);
    const struct mock_tmap *a = &m->tmaps[0], *b = &m->tmaps[1], *c = &m->tmaps[2];
    CHECK(a->addr == g->params[2] + 256 && a->dtype == MOCK_TMAP_FLOAT16 && a->rank == 2);
    CHECK(a->dims[0] == 64 && a->dims[1] == 100 && a->strides[0] == 128 && a->box[0] == 64 && a->box[1] == 128);
    CHECK(b->addr == g->params[3] + 32 && b->dtype == MOCK_TMAP_BFLOAT16 && b->rank == 2);
    CHECK(b->dims[0] == 64 && b->dims[1] == 96 && b->strides[0] == 144 && b->box[0] == 64 && b->box[1] == 64);
    for (int t = 0; t < 2; t++) {
        const struct mock_tmap *x = &m->tmaps[t];
        CHECK(x->swizzle == MOCK_TMAP_SWIZZLE_128B && x->interleave == 0 && x->oob == 0 &&
              x->l2 == MOCK_TMAP_L2_256B);
        CHECK(x->estrides[0] == 1 && x->estrides[1] == 1);
    }
    CHECK(c->addr == m->alloc_base + 16 && c->dtype == MOCK_TMAP_FLOAT32 && c->rank == 3 && c->swizzle == 0);
    CHECK(c->dims[0] == 8 && c->dims[1] == 5 && c->dims[2] == 3 && c->strides[0] == 48 && c->strides[1] == 256);
    CHECK(c->box[0] == 8 && c->box[1] == 5 && c->box[2] == 1);
    CHECK(c->estrides[0] == 1 && c->estrides[1] == 1 && c->estrides[2] == 1);
    CHECK(c->interleave == 0 && c->oob == 0 && c->l2 == MOCK_TMAP_L2_256B);
    /* The shared-memory opt-in for the 200 KiB launch. */
    CHECK(m->nattrs == 1);
    CHECK_STR(m->attrs[0].func, "ts_k_tma");
    CHECK(m->attrs[0].attr == MOCK_ATTR_MAX_DYNAMIC_SHARED && m->attrs[0].value == 200 * 1024);
    /* Runs replay the graph: the maps are encoded once. */
    static unsigned char ain[13056];
    static float cout[9600];
    const void *in[1] = {ain};
    void *out[1] = {cout};
    CHECK(ts_rt_cuda_session_run(s, in, out, err, sizeof err) == 0);
    CHECK(ts_rt_cuda_session_run(s, in, out, err, sizeof err) == 0);
    CHECK(m->graph_launches == 2 && m->ntmaps == 3);
    ts_rt_cuda_session_free(s);
    check_teardown();

    /* Fewer tiles than SMs: the grid as given. */
    mock_reset(NULL);
    register_tma_kernels();
    tma_launches[0].grid[0] = 100;
    CHECK(ts_rt_cuda_session_init(&tma_plan, &image, wp, 0, &s, err, sizeof err) == 0);
    CHECK(mock_state()->nnodes == 2 && mock_state()->nodes[0].grid[0] == 100);
    ts_rt_cuda_session_free(s);
    check_teardown();

    /* The driver refuses an encoding: the line names kernel, launch and map. */
    struct mock_config fail = {.name = "Mock GPU", .ndevices = 1, .cc_major = 9, .sm_count = 132,
                               .max_shared_optin = 227 * 1024, .driver_version = 13000, .total_bytes = 1 << 30,
                               .fail_tmaps = 1};
    mock_reset(&fail);
    register_tma_kernels();
    make_tma_plan();
    CHECK(ts_rt_cuda_session_init(&tma_plan, &image, wp, 0, &s, err, sizeof err) != 0 && !s);
    CHECK_STR(err, "kernel 'gemm': launch 0: encoding tensor map 0: CUDA_ERROR_INVALID_VALUE (invalid argument)");
    check_teardown();
}

/* Each rule of a tensor map, broken once; none of these reaches the device. */
static void test_tensor_map_refusals(void) {
    char err[512];
    mock_reset(NULL);
    register_tma_kernels();
    struct ts_rt_cuda_image image = {.cubin = cubin, .cubin_size = make_cubin(90), .symbols = tma_symbols};
    const void *wp[1] = {tma_w};
    struct ts_rt_tmap *a = &tma_launches[0].tmaps[0], *b = &tma_launches[0].tmaps[1];
    struct ts_rt_tmap *c = &tma_launches[1].tmaps[0];
    const char *l0 = "plan: launch 0 (kernel 'gemm'): tensor map ";
    const char *l1 = "plan: launch 1 (kernel 'gather3'): tensor map ";
    struct {
        const char *prefix, *rest;
    } want[] = {
        {"plan: launch 0 (kernel 'gemm') has 4 tensor maps (0 to 3)", ""},
        {l0, "1: covers arg 3, but the launch has 3 args"},
        {l0, "0: covers arg -1, but the launch has 3 args"},
        {l0, "1: dtype 4 is not 1 (f16), 2 (bf16) or 3 (f32)"},
        {l0, "0: rank 1 is not 2 or 3"},
        {l1, "0: rank 4 is not 2 or 3"},
        {l0, "1: swizzle 16 is not 0, 32, 64 or 128 bytes"},
        {l0, "0: offset 40 is not a non-negative multiple of 16"},
        {l0, "0: offset -16 is not a non-negative multiple of 16"},
        {l1, "0: its buffer (arena offset 8) is not 16-byte aligned"},
        {l0, "1: dims[1] = 0 is not in 1..2^32"},
        {l1, "0: dims[2] = 4294967297 is not in 1..2^32"},
        {l0, "0: strides[0] = 136 is not a positive multiple of 16 below 2^40"},
        {l1, "0: strides[1] = 0 is not a positive multiple of 16 below 2^40"},
        {l1, "0: strides[0] = 1099511627776 is not a positive multiple of 16 below 2^40"},
        {l0, "1: box[1] = 257 is not in 1..256"},
        {l1, "0: box[2] = 0 is not in 1..256"},
        {l0, "1: box[0] = 4 elements is 8 bytes, not a multiple of 16"},
        {l0, "1: box[0] = 64 elements is 128 bytes, more than the 64-byte swizzle"},
        {l0, "1: its last element ends at byte 13984, past the 13840 bytes of its buffer (arg 1, buffer 1)"},
        {l0, "0: its last element ends at byte 13072, past the 13056 bytes of its buffer (arg 0, buffer 0)"},
        {l1, "0: its last element ends at byte 1008, past the 752 bytes of its buffer (arg 0, buffer 3)"},
        {l0, "0: its last element lies past 2^64 bytes"},
    };
    int n = (int)(sizeof want / sizeof *want);
    for (int i = 0; i < n; i++) {
        make_tma_plan();
        switch (i) {
        case 0: tma_launches[0].ntmaps = 4; break;
        case 1: b->arg = 3; break;
        case 2: a->arg = -1; break;
        case 3: b->dtype = 4; break;
        case 4: a->rank = 1; break;
        case 5: c->rank = 4; break;
        case 6: b->swizzle = 16; break;
        case 7: a->offset = 40; break;
        case 8: a->offset = -16; break;
        case 9: tma_buffers[3].offset = 8; break;
        case 10: b->dims[1] = 0; break;
        case 11: c->dims[2] = ((uint64_t)1 << 32) + 1; break;
        case 12: a->strides[0] = 136; break;
        case 13: c->strides[1] = 0; break;
        case 14: c->strides[0] = (uint64_t)1 << 40; break;
        case 15: b->box[1] = 257; break;
        case 16: c->box[2] = 0; break;
        case 17: b->box[0] = 4; break;
        case 18: b->swizzle = 64; break;
        case 19: b->dims[1] = 97; break;                      /* one row too many */
        case 20: a->offset = 272; break;                      /* one 16-byte step too far */
        case 21: c->dims[2] = 4; break;                       /* the 3-D extent too */
        case 22: a->dims[1] = (uint64_t)1 << 32, a->strides[0] = ((uint64_t)1 << 40) - 16; break;
        }
        struct ts_rt_cuda_session *s = NULL;
        CHECK(ts_rt_cuda_session_init(&tma_plan, &image, wp, 0, &s, err, sizeof err) != 0 && !s);
        char full[512];
        snprintf(full, sizeof full, "%s%s", want[i].prefix, want[i].rest);
        CHECK_STR(err, full);
    }
    CHECK(mock_state()->allocs == 0 && mock_state()->ntmaps == 0);
    /* The edges themselves pass: every map of make_tma_plan ends on its buffer's last byte (or inside it). */
    make_tma_plan();
    tma_launches[0].tmaps[0].box[0] = 8; /* 16 bytes: the smallest row */
    struct ts_rt_cuda_session *s = NULL;
    CHECK(ts_rt_cuda_session_init(&tma_plan, &image, wp, 0, &s, err, sizeof err) == 0);
    ts_rt_cuda_session_free(s);
    check_teardown();
}

int main(void) {
    test_no_driver();
    void *h = dlopen(TS_MOCK_LIBCUDA, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    if (!h) {
        fprintf(stderr, "cannot load the mock driver: %s\n", dlerror());
        return ts_test_finish("test_cuda_session");
    }
    *(void **)&mock_reset = dlsym(h, "mock_cuda_reset");
    *(void **)&mock_state = dlsym(h, "mock_cuda_state");
    *(void **)&mock_register = dlsym(h, "mock_cuda_register");
    CHECK(mock_reset && mock_state && mock_register);
    if (!mock_reset || !mock_state || !mock_register) return ts_test_finish("test_cuda_session");
    test_bad_mock_drivers();
    test_no_tensor_map_driver();
    test_probe();
    test_session_runs();
    test_ptx_fallback();
    test_refusals();
    test_tensor_maps();
    test_tensor_map_refusals();
    dlclose(h);
    return ts_test_finish("test_cuda_session");
}

#else /* built without the CUDA headers: the stub says so */

int main(void) {
    char err[512];
    struct ts_rt_cuda_info info;
    CHECK(ts_rt_cuda_probe(0, &info, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "built without the CUDA toolkit headers");
    struct ts_rt_cuda_session *s = (struct ts_rt_cuda_session *)&info;
    struct ts_rt_plan plan = {0};
    struct ts_rt_cuda_image image = {0};
    CHECK(ts_rt_cuda_session_init(&plan, &image, NULL, 0, &s, err, sizeof err) != 0 && !s);
    return ts_test_finish("test_cuda_session");
}

#endif
