/* test_fuse.c — fusion and memory planning: the kernel structure of small
 * graphs (epilogues, rowwise pre-expressions, attention reading strided views
 * with no copies, in-place reuse), and every op family run through
 * ts_compile_program + ts_program_run_ref against ts_interp_run on random
 * non-zero inputs with awkward sizes and every legal dtype, fused and with
 * no_fusion; then the three examples. Fusion keeps the reference's rounding
 * points, so results must agree bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"

struct fused {
    struct ts_graph *g;
    struct ts_program *p;
};

static uint64_t rng = 88172645463325252ull;
static double urand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Compiles graph JSON; NULL program (with the error printed) on failure. */
static struct fused compile(const char *json, bool no_fusion) {
    struct fused r = {NULL, NULL};
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_fuse_opts fo = {.vector_width = 8, .no_fusion = no_fusion};
    if (ts_graph_parse(json, strlen(json), "t.json", ".", false, &r.g, &d) != TS_OK ||
        ts_compile_program(r.g, NULL, &fo, &r.p, &d) != TS_OK) {
        ts_diag_print(&d, stderr);
        r.p = NULL;
    }
    return r;
}

/* Random non-zero inputs: floats in ±[0.25, 2], integers in ±[1, 3], bools. */
static void fill_inputs(const struct ts_graph *g, struct ts_tensor *in) {
    struct ts_diag d;
    ts_diag_clear(&d);
    for (int i = 0; i < g->ninputs; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        CHECK(ts_tensor_alloc(&in[i], v->dtype, rank, dims, v->name, &d) == TS_OK);
        for (int64_t j = 0; j < in[i].numel; j++) {
            double sign = urand() < 0.5 ? -1 : 1, x;
            if (ts_dtype_is_float(v->dtype)) x = sign * (0.25 + 1.75 * urand());
            else if (v->dtype == TS_BOOL) x = urand() < 0.5;
            else x = sign * (double)(1 + (int)(urand() * 3));
            ts_tensor_set_f64(&in[i], j, x);
        }
    }
}

/* Runs both ways and compares every output bit for bit (NaN equals NaN). */
static bool agree(const struct fused *c, const char *what) {
    const struct ts_graph *g = c->g;
    struct ts_tensor in[16], want[16], got[16];
    memset(got, 0, sizeof got);
    memset(want, 0, sizeof want);
    fill_inputs(g, in);
    struct ts_diag d;
    ts_diag_clear(&d);
    bool ok = ts_interp_run(g, in, want, &d) == TS_OK;
    if (!ok) ts_diag_print(&d, stderr);
    if (ok && ts_program_run_ref(c->p, in, got, &d) != TS_OK) {
        ts_diag_print(&d, stderr);
        ok = false;
    }
    for (int o = 0; ok && o < g->noutputs; o++) {
        for (int64_t j = 0; j < want[o].numel; j++) {
            bool same;
            if (ts_dtype_is_float(want[o].dtype)) {
                double a = ts_tensor_get_f64(&got[o], j), b = ts_tensor_get_f64(&want[o], j);
                same = a == b || (isnan(a) && isnan(b));
            } else {
                same = ts_tensor_get_i64(&got[o], j) == ts_tensor_get_i64(&want[o], j);
            }
            if (!same) {
                fprintf(stderr, "%s: output %d element %lld: got %.9g, want %.9g\n", what, o, (long long)j,
                        ts_tensor_get_f64(&got[o], j), ts_tensor_get_f64(&want[o], j));
                ok = false;
                break;
            }
        }
    }
    for (int i = 0; i < g->ninputs; i++) ts_tensor_release(&in[i]);
    for (int o = 0; o < g->noutputs; o++) {
        ts_tensor_release(&got[o]);
        ts_tensor_release(&want[o]);
    }
    return ok;
}

static int count_kind(const struct ts_program *p, enum ts_kernel_kind kind) {
    int n = 0;
    for (int i = 0; i < p->nkernels; i++) n += p->kernels[i].kind == kind;
    return n;
}

/* Compiles fused and unfused, checks both against the reference; returns the fused one. */
static struct fused check_both(const char *json, const char *what) {
    struct fused u = compile(json, true);
    CHECK(u.p != NULL);
    if (u.p) {
        bool ok = agree(&u, what);
        CHECK(ok);
        if (!ok) fprintf(stderr, "  (no_fusion) %s\n", json);
    }
    ts_graph_free(u.g);
    struct fused c = compile(json, false);
    CHECK(c.p != NULL);
    if (c.p) {
        bool ok = agree(&c, what);
        CHECK(ok);
        if (!ok) {
            fprintf(stderr, "  (fused) %s\n", json);
            ts_program_print(c.p, stderr);
        }
    }
    return c;
}

#define HEAD "{\"format\": \"tessera.graph\", \"version\": 1, \"name\": \"t\", "

static char buf[8192];

/* ---- structure ------------------------------------------------------------ */

static void test_gemm_epilogue(void) {
    snprintf(buf, sizeof buf,
             HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [7, 17]},"
                  "{\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [129, 17]},"
                  "{\"name\": \"b\", \"dtype\": \"f32\", \"shape\": [129]}],"
                  "\"nodes\": [{\"op\": \"matmul\", \"inputs\": [\"x\", \"w\"], \"outputs\": [\"y\"], "
                  "\"attrs\": {\"transpose_b\": true}},"
                  "{\"op\": \"add\", \"inputs\": [\"y\", \"b\"], \"outputs\": [\"z\"]},"
                  "{\"op\": \"gelu\", \"inputs\": [\"z\"], \"outputs\": [\"o\"]}], \"outputs\": [\"o\"]}");
    struct fused c = check_both(buf, "matmul+bias+gelu");
    if (c.p) {
        CHECK(c.p->nkernels == 1);
        const struct ts_kernel *k = &c.p->kernels[0];
        CHECK(k->kind == TS_KERNEL_GEMM && k->nabsorbed == 3);
        CHECK_STR(k->name, "k0_gemm");
        /* w is read as [N, K] through strides: no copy */
        CHECK(k->inputs[1].strides[1] == 17 && k->inputs[1].kstride == 1 && k->k == 17);
        CHECK(c.p->naive_bytes == 0);
    }
    ts_graph_free(c.g);
}

static void test_residual_and_layernorm(void) {
    snprintf(buf, sizeof buf,
             HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [2, 7, 17]},"
                  "{\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [17, 17]},"
                  "{\"name\": \"r\", \"dtype\": \"f32\", \"shape\": [2, 7, 17]},"
                  "{\"name\": \"g\", \"dtype\": \"f32\", \"shape\": [17]},"
                  "{\"name\": \"c\", \"dtype\": \"f32\", \"shape\": [17]}],"
                  "\"nodes\": [{\"op\": \"matmul\", \"inputs\": [\"x\", \"w\"], \"outputs\": [\"y\"]},"
                  "{\"op\": \"add\", \"inputs\": [\"r\", \"y\"], \"outputs\": [\"h\"]},"
                  "{\"op\": \"mul\", \"inputs\": [\"h\", \"r\"], \"outputs\": [\"a\"]},"
                  "{\"op\": \"add\", \"inputs\": [\"a\", \"x\"], \"outputs\": [\"s\"]},"
                  "{\"op\": \"layernorm\", \"inputs\": [\"s\", \"g\", \"c\"], \"outputs\": [\"n\"]}],"
                  "\"outputs\": [\"n\", \"h\"]}");
    struct fused c = check_both(buf, "residual + layernorm(a + b)");
    if (c.p) {
        /* h = r + x·w is a GEMM epilogue (and an output, so it stays); a and s
         * go into the layernorm's x. */
        CHECK(c.p->nkernels == 2);
        CHECK(c.p->kernels[0].kind == TS_KERNEL_GEMM && c.p->kernels[0].nabsorbed == 2);
        CHECK(c.p->kernels[1].kind == TS_KERNEL_ROWWISE && c.p->kernels[1].nabsorbed == 3);
    }
    ts_graph_free(c.g);
}

/* qkv [b, s, 3·h·d] → split → reshape → transpose → attention → head merge:
 * one kernel, reading q, k, v through strides and writing the merged layout. */
static void test_attention_views(void) {
    snprintf(buf, sizeof buf,
             HEAD "\"inputs\": [{\"name\": \"qkv\", \"dtype\": \"f32\", \"shape\": [2, 7, 96]}],"
                  "\"nodes\": [{\"op\": \"split\", \"inputs\": [\"qkv\"], \"outputs\": [\"q\", \"k\", \"v\"], "
                  "\"attrs\": {\"axis\": -1, \"sizes\": [32, 32, 32]}},"
                  "{\"op\": \"reshape\", \"inputs\": [\"q\"], \"outputs\": [\"q4\"], \"attrs\": {\"shape\": [2, 7, 4, 8]}},"
                  "{\"op\": \"reshape\", \"inputs\": [\"k\"], \"outputs\": [\"k4\"], \"attrs\": {\"shape\": [2, 7, 4, 8]}},"
                  "{\"op\": \"reshape\", \"inputs\": [\"v\"], \"outputs\": [\"v4\"], \"attrs\": {\"shape\": [2, 7, 4, 8]}},"
                  "{\"op\": \"transpose\", \"inputs\": [\"q4\"], \"outputs\": [\"qh\"], \"attrs\": {\"perm\": [0, 2, 1, 3]}},"
                  "{\"op\": \"transpose\", \"inputs\": [\"k4\"], \"outputs\": [\"kh\"], \"attrs\": {\"perm\": [0, 2, 1, 3]}},"
                  "{\"op\": \"transpose\", \"inputs\": [\"v4\"], \"outputs\": [\"vh\"], \"attrs\": {\"perm\": [0, 2, 1, 3]}},"
                  "{\"op\": \"attention\", \"inputs\": [\"qh\", \"kh\", \"vh\"], \"outputs\": [\"o\"], "
                  "\"attrs\": {\"causal\": true}},"
                  "{\"op\": \"transpose\", \"inputs\": [\"o\"], \"outputs\": [\"ot\"], \"attrs\": {\"perm\": [0, 2, 1, 3]}},"
                  "{\"op\": \"reshape\", \"inputs\": [\"ot\"], \"outputs\": [\"y\"], \"attrs\": {\"shape\": [2, 7, 32]}}],"
                  "\"outputs\": [\"y\"]}");
    struct fused c = check_both(buf, "attention views");
    if (c.p) {
        CHECK(c.p->nkernels == 1);
        const struct ts_kernel *k = &c.p->kernels[0];
        CHECK(k->kind == TS_KERNEL_ATTENTION);
        /* k starts 32 elements in, heads 8 apart, positions 96 apart */
        CHECK(k->inputs[1].offset == 32 && k->inputs[1].strides[1] == 8 && k->inputs[1].strides[2] == 96);
        /* the output is written as [b, s, h, d]: head stride 8, position stride 32 */
        CHECK(k->output.strides[1] == 8 && k->output.strides[2] == 32);
    }
    ts_graph_free(c.g);
}

/* A chain of element-wise kernels (each forced by a broadcast) reuses memory in place. */
static void test_plan_in_place(void) {
    snprintf(buf, sizeof buf,
             HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [17, 129]}],"
                  "\"nodes\": [{\"op\": \"exp\", \"inputs\": [\"x\"], \"outputs\": [\"a\"]},"
                  "{\"op\": \"softmax\", \"inputs\": [\"a\"], \"outputs\": [\"b\"]},"
                  "{\"op\": \"softmax\", \"inputs\": [\"b\"], \"outputs\": [\"c\"], \"attrs\": {\"axis\": 0}},"
                  "{\"op\": \"tanh\", \"inputs\": [\"c\"], \"outputs\": [\"d\"]},"
                  "{\"op\": \"reduce_sum\", \"inputs\": [\"d\"], \"outputs\": [\"e\"], \"attrs\": {\"axes\": [0]}},"
                  "{\"op\": \"sub\", \"inputs\": [\"d\", \"e\"], \"outputs\": [\"f\"]}],"
                  "\"outputs\": [\"f\"]}");
    struct fused c = check_both(buf, "plan");
    if (c.p) {
        /* exp into the first softmax's x; tanh after the second; the sum; the sub */
        CHECK(c.p->nkernels == 4);
        CHECK(count_kind(c.p, TS_KERNEL_ROWWISE) == 3);
        CHECK(c.p->arena_bytes < c.p->naive_bytes);
    }
    ts_graph_free(c.g);
}


/* Where a root writes is chosen by its consumers: through a transpose and a
 * reshape into the graph's output, or straight into a concat's parts. */
static void test_dest_layouts(void) {
    snprintf(buf, sizeof buf,
             HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [3, 7, 17]},"
                  "{\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [17, 6]},"
                  "{\"name\": \"y\", \"dtype\": \"f32\", \"shape\": [3, 7, 5]}],"
                  "\"nodes\": [{\"op\": \"matmul\", \"inputs\": [\"x\", \"w\"], \"outputs\": [\"m\"]},"
                  "{\"op\": \"transpose\", \"inputs\": [\"m\"], \"outputs\": [\"mt\"], \"attrs\": {\"perm\": [2, 0, 1]}},"
                  "{\"op\": \"reshape\", \"inputs\": [\"mt\"], \"outputs\": [\"o1\"], \"attrs\": {\"shape\": [6, 21]}},"
                  "{\"op\": \"exp\", \"inputs\": [\"y\"], \"outputs\": [\"e\"]},"
                  "{\"op\": \"tanh\", \"inputs\": [\"x\"], \"outputs\": [\"t\"]},"
                  "{\"op\": \"concat\", \"inputs\": [\"e\", \"t\", \"y\"], \"outputs\": [\"o2\"], \"attrs\": {\"axis\": 2}},"
                  "{\"op\": \"transpose\", \"inputs\": [\"x\"], \"outputs\": [\"xt\"], \"attrs\": {\"perm\": [1, 0, 2]}},"
                  "{\"op\": \"reshape\", \"inputs\": [\"xt\"], \"outputs\": [\"xr\"], \"attrs\": {\"shape\": [7, 51]}},"
                  "{\"op\": \"sigmoid\", \"inputs\": [\"xr\"], \"outputs\": [\"o3\"]},"
                  "{\"op\": \"reshape\", \"inputs\": [\"e\"], \"outputs\": [\"er\"], \"attrs\": {\"shape\": [105]}}],"
                  "\"outputs\": [\"o1\", \"o2\", \"o3\", \"y\", \"er\"]}");
    struct fused c = check_both(buf, "dest layouts");
    if (c.p) {
        /* gemm into o1 (permuted strides); tanh into o2's part; e (read
         * twice) and y copied into theirs; x transposed then reshaped is
         * copied first, then the sigmoid; y and er are copies of values
         * that live elsewhere */
        CHECK(count_kind(c.p, TS_KERNEL_GEMM) == 1);
        CHECK(c.p->kernels[0].output.buffer == c.p->output_buffers[0]);
        CHECK(c.p->kernels[0].output.strides[1] == 1 && c.p->kernels[0].output.strides[2] == 21);
        CHECK(c.p->nkernels == 9);
        CHECK(c.p->kernels[2].output.buffer == c.p->output_buffers[1] && c.p->kernels[2].output.offset == 5);
    }
    ts_graph_free(c.g);
}

/* ---- op families ------------------------------------------------------------ */

static const char *const float_types[] = {"f32", "f16", "bf16"};

static void test_pointwise_family(void) {
    static const int64_t sizes[] = {1, 7, 17, 129};
    for (int t = 0; t < 4; t++) {
        const char *dt = t < 3 ? float_types[t] : "i32";
        for (int s = 0; s < 4; s++) {
            int64_t n = sizes[s];
            char name[64];
            snprintf(name, sizeof name, "pointwise %s n=%lld", dt, (long long)n);
            if (t < 3)
                snprintf(buf, sizeof buf,
                         HEAD "\"inputs\": [{\"name\": \"a\", \"dtype\": \"%s\", \"shape\": [3, %lld]},"
                              "{\"name\": \"b\", \"dtype\": \"%s\", \"shape\": [%lld]},"
                              "{\"name\": \"m\", \"dtype\": \"bool\", \"shape\": [3, 1]}],"
                              "\"nodes\": [{\"op\": \"mul\", \"inputs\": [\"a\", \"b\"], \"outputs\": [\"c\"]},"
                              "{\"op\": \"div\", \"inputs\": [\"c\", \"a\"], \"outputs\": [\"e\"]},"
                              "{\"op\": \"exp\", \"inputs\": [\"e\"], \"outputs\": [\"f\"]},"
                              "{\"op\": \"sub\", \"inputs\": [\"f\", \"b\"], \"outputs\": [\"g\"]},"
                              "{\"op\": \"gelu\", \"inputs\": [\"g\"], \"outputs\": [\"h\"], \"attrs\": {\"approximate\": \"tanh\"}},"
                              "{\"op\": \"where\", \"inputs\": [\"m\", \"h\", \"a\"], \"outputs\": [\"i\"]},"
                              "{\"op\": \"cast\", \"inputs\": [\"i\"], \"outputs\": [\"j\"], \"attrs\": {\"to\": \"f16\"}},"
                              "{\"op\": \"abs\", \"inputs\": [\"j\"], \"outputs\": [\"k\"]},"
                              "{\"op\": \"sqrt\", \"inputs\": [\"k\"], \"outputs\": [\"l\"]},"
                              "{\"op\": \"silu\", \"inputs\": [\"a\"], \"outputs\": [\"p\"]},"
                              "{\"op\": \"pow\", \"inputs\": [\"k\", \"l\"], \"outputs\": [\"q\"]},"
                              "{\"op\": \"transpose\", \"inputs\": [\"q\"], \"outputs\": [\"qt\"], \"attrs\": {\"perm\": [1, 0]}},"
                              "{\"op\": \"cast\", \"inputs\": [\"p\"], \"outputs\": [\"pi\"], \"attrs\": {\"to\": \"i32\"}}],"
                              "\"outputs\": [\"qt\", \"g\", \"pi\"]}",
                         dt, (long long)n, dt, (long long)n);
            else
                snprintf(buf, sizeof buf,
                         HEAD "\"inputs\": [{\"name\": \"a\", \"dtype\": \"i32\", \"shape\": [3, %lld]},"
                              "{\"name\": \"b\", \"dtype\": \"i32\", \"shape\": [%lld]}],"
                              "\"constants\": [{\"name\": \"big\", \"dtype\": \"i32\", \"shape\": [], \"data\": [2147483647]}],"
                              "\"nodes\": [{\"op\": \"mul\", \"inputs\": [\"a\", \"big\"], \"outputs\": [\"c\"]},"
                              "{\"op\": \"add\", \"inputs\": [\"c\", \"b\"], \"outputs\": [\"d\"]},"
                              "{\"op\": \"div\", \"inputs\": [\"d\", \"b\"], \"outputs\": [\"e\"]},"
                              "{\"op\": \"neg\", \"inputs\": [\"e\"], \"outputs\": [\"f\"]},"
                              "{\"op\": \"maximum\", \"inputs\": [\"f\", \"a\"], \"outputs\": [\"g\"]},"
                              "{\"op\": \"cast\", \"inputs\": [\"g\"], \"outputs\": [\"h\"], \"attrs\": {\"to\": \"bf16\"}},"
                              "{\"op\": \"cast\", \"inputs\": [\"e\"], \"outputs\": [\"i\"], \"attrs\": {\"to\": \"i64\"}}],"
                              "\"outputs\": [\"h\", \"i\"]}",
                         (long long)n, (long long)n);
            struct fused c = check_both(buf, name);
            ts_graph_free(c.g);
        }
    }
}

static void test_rowwise_family(void) {
    static const int64_t sizes[] = {1, 7, 129};
    for (int t = 0; t < 3; t++) {
        for (int s = 0; s < 3; s++) {
            const char *dt = float_types[t];
            int64_t n = sizes[s];
            char name[64];
            snprintf(name, sizeof name, "rowwise %s n=%lld", dt, (long long)n);
            snprintf(buf, sizeof buf,
                     HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"%s\", \"shape\": [3, 5, %lld]},"
                          "{\"name\": \"w\", \"dtype\": \"%s\", \"shape\": [%lld]},"
                          "{\"name\": \"b\", \"dtype\": \"%s\", \"shape\": [%lld]}],"
                          "\"nodes\": [{\"op\": \"softmax\", \"inputs\": [\"x\"], \"outputs\": [\"s0\"], \"attrs\": {\"axis\": 1}},"
                          "{\"op\": \"softmax\", \"inputs\": [\"s0\"], \"outputs\": [\"s1\"]},"
                          "{\"op\": \"layernorm\", \"inputs\": [\"s1\", \"w\", \"b\"], \"outputs\": [\"l\"]},"
                          "{\"op\": \"rmsnorm\", \"inputs\": [\"l\", \"w\"], \"outputs\": [\"r\"], \"attrs\": {\"eps\": 0.001}},"
                          "{\"op\": \"layernorm\", \"inputs\": [\"x\"], \"outputs\": [\"l2\"]},"
                          "{\"op\": \"reduce_sum\", \"inputs\": [\"r\"], \"outputs\": [\"r0\"], \"attrs\": {\"axes\": [0, 2], \"keepdims\": true}},"
                          "{\"op\": \"reduce_mean\", \"inputs\": [\"l2\"], \"outputs\": [\"r1\"], \"attrs\": {\"axes\": [1]}},"
                          "{\"op\": \"reduce_max\", \"inputs\": [\"x\"], \"outputs\": [\"r2\"], \"attrs\": {\"axes\": [0, 1, 2]}},"
                          "{\"op\": \"exp\", \"inputs\": [\"r1\"], \"outputs\": [\"e1\"]},"
                          "{\"op\": \"add\", \"inputs\": [\"e1\", \"r2\"], \"outputs\": [\"e2\"]}],"
                          "\"outputs\": [\"r0\", \"e2\", \"s0\"]}",
                     dt, (long long)n, dt, (long long)n, dt, (long long)n);
            struct fused c = check_both(buf, name);
            ts_graph_free(c.g);
        }
    }
}

static void test_matmul_family(void) {
    const char *types[] = {"f32", "f16", "bf16", "i32"};
    for (int t = 0; t < 4; t++) {
        for (int s = 0; s < 2; s++) {
            int64_t m = s ? 17 : 1, k = s ? 7 : 129, n = s ? 129 : 7;
            char name[64];
            snprintf(name, sizeof name, "matmul %s m=%lld", types[t], (long long)m);
            snprintf(buf, sizeof buf,
                     HEAD "\"inputs\": [{\"name\": \"a\", \"dtype\": \"%s\", \"shape\": [2, 1, %lld, %lld]},"
                          "{\"name\": \"b\", \"dtype\": \"%s\", \"shape\": [3, %lld, %lld]},"
                          "{\"name\": \"c\", \"dtype\": \"%s\", \"shape\": [%lld, %lld]}],"
                          "\"nodes\": [{\"op\": \"matmul\", \"inputs\": [\"a\", \"b\"], \"outputs\": [\"y\"], "
                          "\"attrs\": {\"transpose_a\": true}},"
                          "{\"op\": \"transpose\", \"inputs\": [\"y\"], \"outputs\": [\"yt\"], \"attrs\": {\"perm\": [0, 1, 3, 2]}},"
                          "{\"op\": \"matmul\", \"inputs\": [\"yt\", \"c\"], \"outputs\": [\"z\"], \"attrs\": {\"transpose_b\": true}},"
                          "{\"op\": \"relu\", \"inputs\": [\"z\"], \"outputs\": [\"o\"]}],"
                          "\"outputs\": [\"o\"]}",
                     types[t], (long long)k, (long long)m, types[t], (long long)k, (long long)n, types[t], (long long)m, (long long)m);
            struct fused c = check_both(buf, name);
            if (c.p) CHECK(count_kind(c.p, TS_KERNEL_GEMM) == 2 && c.p->nkernels == 2);
            ts_graph_free(c.g);
        }
    }
}

static void test_movement_family(void) {
    snprintf(buf, sizeof buf,
             HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [3, 17, 7]},"
                  "{\"name\": \"t\", \"dtype\": \"bf16\", \"shape\": [5, 7]},"
                  "{\"name\": \"i\", \"dtype\": \"i64\", \"shape\": [2, 3]}],"
                  "\"nodes\": [{\"op\": \"transpose\", \"inputs\": [\"x\"], \"outputs\": [\"xt\"], \"attrs\": {\"perm\": [2, 0, 1]}},"
                  "{\"op\": \"slice\", \"inputs\": [\"xt\"], \"outputs\": [\"xs\"], \"attrs\": {\"axis\": 2, \"start\": 15, \"end\": 0, \"step\": -3}},"
                  "{\"op\": \"reshape\", \"inputs\": [\"xs\"], \"outputs\": [\"xr\"], \"attrs\": {\"shape\": [-1]}},"
                  "{\"op\": \"exp\", \"inputs\": [\"xr\"], \"outputs\": [\"xe\"]},"
                  "{\"op\": \"split\", \"inputs\": [\"x\"], \"outputs\": [\"p\", \"q\"], \"attrs\": {\"axis\": 1, \"sizes\": [10, 7]}},"
                  "{\"op\": \"neg\", \"inputs\": [\"q\"], \"outputs\": [\"qn\"]},"
                  "{\"op\": \"concat\", \"inputs\": [\"qn\", \"p\", \"q\"], \"outputs\": [\"c\"], \"attrs\": {\"axis\": 1}},"
                  "{\"op\": \"gather\", \"inputs\": [\"t\", \"i\"], \"outputs\": [\"g\"]},"
                  "{\"op\": \"gather\", \"inputs\": [\"t\", \"i\"], \"outputs\": [\"g1\"], \"attrs\": {\"axis\": 1}},"
                  "{\"op\": \"cast\", \"inputs\": [\"g1\"], \"outputs\": [\"g2\"], \"attrs\": {\"to\": \"f32\"}},"
                  "{\"op\": \"reshape\", \"inputs\": [\"g2\"], \"outputs\": [\"g3\"], \"attrs\": {\"shape\": [30]}}],"
                  "\"outputs\": [\"xe\", \"c\", \"g\", \"g3\", \"x\", \"xt\"]}");
    struct fused c = check_both(buf, "movement");
    ts_graph_free(c.g);
}

static void test_rope_family(void) {
    for (int il = 0; il < 2; il++) {
        for (int t = 0; t < 3; t++) {
            char name[64];
            snprintf(name, sizeof name, "rope %s interleaved %d", float_types[t], il);
            snprintf(buf, sizeof buf,
                     HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"%s\", \"shape\": [2, 3, 7, 10]},"
                          "{\"name\": \"pos\", \"dtype\": \"i32\", \"shape\": [2, 1, 7]}],"
                          "\"nodes\": [{\"op\": \"rope\", \"inputs\": [\"x\"], \"outputs\": [\"a\"], "
                          "\"attrs\": {\"interleaved\": %s, \"rotary_dim\": 6}},"
                          "{\"op\": \"rope\", \"inputs\": [\"x\", \"pos\"], \"outputs\": [\"b\"], "
                          "\"attrs\": {\"interleaved\": %s, \"theta\": 500}}],"
                          "\"outputs\": [\"a\", \"b\"]}",
                     float_types[t], il ? "true" : "false", il ? "true" : "false");
            struct fused c = check_both(buf, name);
            ts_graph_free(c.g);
        }
    }
}

static void test_attention_family(void) {
    for (int t = 0; t < 3; t++) {
        char name[64];
        snprintf(name, sizeof name, "attention %s", float_types[t]);
        snprintf(buf, sizeof buf,
                 HEAD "\"inputs\": [{\"name\": \"q\", \"dtype\": \"%s\", \"shape\": [2, 4, 7, 8]},"
                      "{\"name\": \"k\", \"dtype\": \"%s\", \"shape\": [2, 2, 17, 8]},"
                      "{\"name\": \"v\", \"dtype\": \"%s\", \"shape\": [2, 2, 17, 5]},"
                      "{\"name\": \"m\", \"dtype\": \"%s\", \"shape\": [2, 1, 1, 17]}],"
                      "\"nodes\": [{\"op\": \"attention\", \"inputs\": [\"q\", \"k\", \"v\", \"m\"], \"outputs\": [\"a\"], "
                      "\"attrs\": {\"causal\": true}},"
                      "{\"op\": \"attention\", \"inputs\": [\"q\", \"k\", \"v\"], \"outputs\": [\"b\"], \"attrs\": {\"scale\": 0.5}},"
                      "{\"op\": \"mul\", \"inputs\": [\"a\", \"b\"], \"outputs\": [\"c\"]}],"
                      "\"outputs\": [\"c\"]}",
                 float_types[t], float_types[t], float_types[t], float_types[t]);
        struct fused c = check_both(buf, name);
        if (c.p) CHECK(count_kind(c.p, TS_KERNEL_ATTENTION) == 2 && c.p->nkernels == 2);
        ts_graph_free(c.g);
    }
}

/* A run-time error names the node, as the reference's does. */
static void test_errors(void) {
    snprintf(buf, sizeof buf,
             HEAD "\"inputs\": [{\"name\": \"t\", \"dtype\": \"f32\", \"shape\": [4, 3]},"
                  "{\"name\": \"i\", \"dtype\": \"i32\", \"shape\": [5]}],"
                  "\"nodes\": [{\"name\": \"emb\", \"op\": \"gather\", \"inputs\": [\"t\", \"i\"], \"outputs\": [\"g\"]}],"
                  "\"outputs\": [\"g\"]}");
    struct fused c = compile(buf, false);
    CHECK(c.p != NULL);
    if (c.p) {
        struct ts_tensor in[2], out[1];
        struct ts_diag d;
        ts_diag_clear(&d);
        int64_t td[2] = {4, 3}, id[1] = {5};
        ts_tensor_alloc(&in[0], TS_F32, 2, td, "t", &d);
        ts_tensor_alloc(&in[1], TS_I32, 1, id, "i", &d);
        ts_tensor_set_i64(&in[1], 3, 4);
        CHECK(ts_program_run_ref(c.p, in, out, &d) == TS_ERR_RUNTIME);
        CHECK_CONTAINS(d.what, "node 'emb' (gather)");
        CHECK_CONTAINS(d.what, "out of range [-4, 4)");
        for (int i = 0; i < 2; i++) ts_tensor_release(&in[i]);
    }
    ts_graph_free(c.g);
}

/* ---- the examples ------------------------------------------------------------ */

static void test_examples(void) {
    const char *names[] = {"gpt", "bert", "llama"};
    for (int e = 0; e < 3; e++) {
        for (int nf = 0; nf < 4; nf++) { /* fused, unfused, fused with seq 0 and 33 */
            struct ts_bind bind = {"seq", nf == 2 ? 0 : 33, "test"};
            struct ts_pipeline_opts po = {.binds = &bind, .nbinds = nf >= 2, .stop_after = TS_PASS_COUNT};
            char path[128];
            snprintf(path, sizeof path, "examples/%s/graph.json", names[e]);
            struct fused c = {NULL, NULL};
            struct ts_diag d;
            ts_diag_clear(&d);
            struct ts_fuse_opts fo = {.vector_width = 8, .no_fusion = nf == 1};
            enum ts_status st = ts_graph_load(path, &c.g, &d);
            if (st == TS_OK) st = ts_compile_program(c.g, &po, &fo, &c.p, &d);
            if (st != TS_OK) ts_diag_print(&d, stderr);
            CHECK(st == TS_OK);
            if (st == TS_OK) {
                /* token and position inputs must index the tables: small non-negative ids */
                bool ok = agree(&c, path);
                CHECK(ok);
                int counts[TS_KERNEL_KIND_COUNT] = {0};
                for (int i = 0; i < c.p->nkernels; i++) counts[c.p->kernels[i].kind]++;
                if (nf >= 2) {
                    ts_graph_free(c.g);
                    continue;
                }
                printf("%s%s: %d kernels (pointwise %d, rowwise %d, gemm %d, attention %d); peak %lld vs naive %lld "
                       "bytes (%.0f%%)\n",
                       names[e], nf ? " no_fusion" : "", c.p->nkernels, counts[0], counts[1], counts[2], counts[3],
                       (long long)c.p->arena_bytes, (long long)c.p->naive_bytes,
                       c.p->naive_bytes ? 100.0 * (double)c.p->arena_bytes / (double)c.p->naive_bytes : 0.0);
                if (e == 0 && !nf) CHECK(2 * c.p->arena_bytes <= c.p->naive_bytes);
            }
            ts_graph_free(c.g);
        }
    }
}

int main(void) {
    test_gemm_epilogue();
    test_residual_and_layernorm();
    test_attention_views();
    test_plan_in_place();
    test_dest_layouts();
    test_pointwise_family();
    test_rowwise_family();
    test_matmul_family();
    test_movement_family();
    test_rope_family();
    test_attention_family();
    test_errors();
    test_examples();
    return ts_test_finish("fuse");
}
