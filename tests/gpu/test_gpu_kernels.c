/* test_gpu_kernels.c — every kernel kind on a real GPU against the reference
 * interpreter: small graphs (element-wise chains, casts, gathers, row
 * reductions and norms, matmuls with epilogues and batch broadcasts,
 * attention causal, masked and grouped-query) in f32 (tf32 and strict), f16,
 * bf16 and i32, at the awkward sizes 1, 7, 17, 127, 129 and 4097, compiled by
 * NVRTC for the GPU present and run through the CUDA runtime (CUDA graph
 * replay). ctest label "gpu": exits 77 (skipped) where no CUDA driver or GPU
 * is found, so CI (no GPU) does not run it; scripts/gpu-check.sh does.
 *
 *   test_gpu_kernels [--quick] [-k SUBSTRING]    (--quick: a subset, for compute-sanitizer) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static double urand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Random non-zero inputs: floats ±[0.1, 2), integers ±[1, 100] (gather
 * indices and the like come from the case's own fill). */
static void fill(struct ts_tensor *t, int64_t index_range) {
    for (int64_t i = 0; i < t->numel; i++) {
        double v;
        if (index_range > 0) v = (double)(int64_t)(urand() * (double)index_range);
        else if (t->dtype == TS_I32 || t->dtype == TS_I64) v = (double)(1 + (int64_t)(urand() * 100)) * (urand() < 0.5 ? -1 : 1);
        else if (t->dtype == TS_BOOL) v = urand() < 0.5;
        else v = (0.1 + 1.9 * urand()) * (urand() < 0.5 ? -1 : 1);
        ts_tensor_set_f64(t, i, v);
    }
}

struct tol {
    double rtol, atol; /* element-wise bound: |got - want| <= atol + rtol·|want| */
    double rel_max;    /* or, for reductions over k: max error / max |want| <= rel_max (0: unused) */
};

static struct tol tolerance(enum ts_dtype t, int64_t k, bool tf32) {
    double r = t == TS_BF16 ? 1.6e-2 : t == TS_F16 ? 1e-3 : 1.3e-6;
    double a = t == TS_BF16 ? 1.6e-2 : t == TS_F16 ? 1e-3 : 1e-5;
    if (t == TS_I32 || t == TS_I64 || t == TS_BOOL) return (struct tol){0, 0, 0};
    if (k <= 1) return (struct tol){r, a, 0};
    /* f32 accumulation in another order grows like sqrt(k); tf32 inputs keep
     * 10 mantissa bits (2^-11 relative each). */
    double rel = (tf32 && t == TS_F32 ? 2e-3 : 0) + r + 1e-5 * sqrt((double)k);
    return (struct tol){0, 0, rel};
}

struct gcase {
    char name[96];
    char json[4096];
    int64_t k;          /* reduction length for the tolerance (0 element-wise) */
    int64_t index_range;/* >0: input 1 holds indices in [0, range) */
};

static int compare(const char *label, const struct ts_tensor *got, const struct ts_tensor *want, struct tol tl) {
    if (got->numel != want->numel || got->dtype != want->dtype) {
        fprintf(stderr, "%s: output shape or dtype differs\n", label);
        return 1;
    }
    double maxw = 0, maxd = 0;
    int64_t bad = 0, worst = -1;
    for (int64_t i = 0; i < got->numel; i++) {
        double g = ts_tensor_get_f64(got, i), w = ts_tensor_get_f64(want, i);
        if (isnan(g) && isnan(w)) continue;
        if (isinf(w) || isinf(g)) {
            if (g != w) bad++, worst = i;
            continue;
        }
        double diff = fabs(g - w);
        if (fabs(w) > maxw) maxw = fabs(w);
        if (!(diff <= maxd)) maxd = diff, worst = i;
        if (tl.rel_max == 0 && !(diff <= tl.atol + tl.rtol * fabs(w))) bad++;
    }
    if (tl.rel_max > 0 && !(maxd <= tl.rel_max * (maxw > 0 ? maxw : 1))) bad++;
    if (bad) {
        fprintf(stderr, "%s: %lld elements out of tolerance; worst at %lld: got %.9g want %.9g\n", label,
                (long long)bad, (long long)worst, worst >= 0 ? ts_tensor_get_f64(got, worst) : 0.0,
                worst >= 0 ? ts_tensor_get_f64(want, worst) : 0.0);
        return 1;
    }
    return 0;
}

/* Runs one graph on the reference and on the GPU (tf32 allowed or strict). */
static void run_case(const struct gcase *c, bool strict) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_graph *g = NULL;
    struct ts_program *p = NULL;
    struct ts_cuda_exec *e = NULL;
    struct ts_tensor in[8], want[4], got[4];
    memset(in, 0, sizeof in), memset(want, 0, sizeof want), memset(got, 0, sizeof got);
    char label[160];
    snprintf(label, sizeof label, "%s%s", c->name, strict ? " (strict f32)" : "");
    enum ts_status st = ts_graph_parse(c->json, strlen(c->json), c->name, ".", false, &g, &d);
    if (st == TS_OK) st = ts_pipeline_run(g, &(struct ts_pipeline_opts){.stop_after = TS_PASS_COUNT}, &d);
    for (int i = 0; st == TS_OK && i < g->ninputs; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        st = ts_tensor_alloc(&in[i], v->dtype, rank, dims, v->name, &d);
        if (st == TS_OK) fill(&in[i], i == 1 ? c->index_range : 0);
    }
    if (st == TS_OK) st = ts_interp_run(g, in, want, &d);
    ts_graph_free(g);
    g = NULL;
    /* A fresh graph for compilation (the pipeline above already ran on the first). */
    if (st == TS_OK) st = ts_graph_parse(c->json, strlen(c->json), c->name, ".", false, &g, &d);
    struct ts_fuse_opts fo = {.vector_width = 8};
    if (st == TS_OK) st = ts_compile_program(g, NULL, &fo, &p, &d);
    struct ts_cuda_exec_opts eo = {.strict_f32 = strict};
    if (st == TS_OK) st = ts_cuda_exec_init(p, &eo, &e, &d);
    if (st == TS_OK) st = ts_cuda_exec_run(e, in, got, &d);
    if (st != TS_OK) {
        char msg[1024];
        ts_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "%s: %s\n", label, msg);
        CHECK(st == TS_OK);
    } else {
        int bad = 0;
        for (int i = 0; i < g->noutputs; i++)
            bad += compare(label, &got[i], &want[i], tolerance(want[i].dtype, c->k, !strict));
        CHECK(bad == 0);
    }
    ts_cuda_exec_free(e);
    ts_graph_free(g);
    for (int i = 0; i < 8; i++) ts_tensor_release(&in[i]);
    for (int i = 0; i < 4; i++) ts_tensor_release(&want[i]), ts_tensor_release(&got[i]);
}

/* ---- the cases ------------------------------------------------------------ */

#define HEAD "{\"format\": \"tessera.graph\", \"version\": 1, \"name\": \"gpu-case\", "

static int add_pointwise(struct gcase *cs, int n, const char *dt, int64_t r, int64_t c) {
    struct gcase *g = &cs[n];
    snprintf(g->name, sizeof g->name, "pointwise %s [%lld,%lld]", dt, (long long)r, (long long)c);
    snprintf(g->json, sizeof g->json,
             HEAD "\"inputs\": [{\"name\": \"a\", \"dtype\": \"%s\", \"shape\": [%lld, %lld]},"
                  " {\"name\": \"b\", \"dtype\": \"%s\", \"shape\": [%lld]}],"
                  " \"nodes\": [{\"name\": \"n1\", \"op\": \"mul\", \"inputs\": [\"a\", \"b\"], \"outputs\": [\"m\"]},"
                  " {\"name\": \"n2\", \"op\": \"%s\", \"inputs\": [\"m\"], \"outputs\": [\"y\"]}],"
                  " \"outputs\": [\"y\"]}",
             dt, (long long)r, (long long)c, dt, (long long)c, strcmp(dt, "i32") == 0 ? "neg" : "gelu");
    return n + 1;
}

static int add_rowwise(struct gcase *cs, int n, const char *dt, const char *op, int64_t r, int64_t c) {
    struct gcase *g = &cs[n];
    snprintf(g->name, sizeof g->name, "%s %s [%lld,%lld]", op, dt, (long long)r, (long long)c);
    bool norm = strcmp(op, "layernorm") == 0 || strcmp(op, "rmsnorm") == 0;
    bool reduce = strncmp(op, "reduce", 6) == 0;
    char extra_in[256] = "", args[128];
    if (norm) {
        snprintf(extra_in, sizeof extra_in, ", {\"name\": \"w\", \"dtype\": \"%s\", \"shape\": [%lld]}%s", dt,
                 (long long)c, strcmp(op, "layernorm") == 0 ? "" : "");
        if (strcmp(op, "layernorm") == 0) {
            size_t len = strlen(extra_in);
            snprintf(extra_in + len, sizeof extra_in - len, ", {\"name\": \"bias\", \"dtype\": \"%s\", \"shape\": [%lld]}",
                     dt, (long long)c);
            snprintf(args, sizeof args, "\"x\", \"w\", \"bias\"");
        } else {
            snprintf(args, sizeof args, "\"x\", \"w\"");
        }
    } else {
        snprintf(args, sizeof args, "\"x\"");
    }
    snprintf(g->json, sizeof g->json,
             HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"%s\", \"shape\": [%lld, %lld]}%s],"
                  " \"nodes\": [{\"name\": \"n\", \"op\": \"%s\", \"inputs\": [%s], \"outputs\": [\"y\"]%s}],"
                  " \"outputs\": [\"y\"]}",
             dt, (long long)r, (long long)c, extra_in, op, args,
             reduce ? ", \"attrs\": {\"axes\": [-1]}" : norm ? ", \"attrs\": {\"eps\": 1e-5}" : "");
    g->k = c;
    return n + 1;
}

static int add_matmul(struct gcase *cs, int n, const char *dt, int64_t batch, int64_t m, int64_t nn, int64_t k,
                      bool tb, bool epilogue) {
    struct gcase *g = &cs[n];
    snprintf(g->name, sizeof g->name, "matmul %s b%lld %lldx%lldx%lld%s%s", dt, (long long)batch, (long long)m,
             (long long)nn, (long long)k, tb ? " tb" : "", epilogue ? " +bias+gelu" : "");
    char ashape[64], bshape[64];
    if (batch > 1) snprintf(ashape, sizeof ashape, "[%lld, %lld, %lld]", (long long)batch, (long long)m, (long long)k);
    else snprintf(ashape, sizeof ashape, "[%lld, %lld]", (long long)m, (long long)k);
    snprintf(bshape, sizeof bshape, "[%lld, %lld]", (long long)(tb ? nn : k), (long long)(tb ? k : nn));
    bool integer = strcmp(dt, "i32") == 0;
    snprintf(g->json, sizeof g->json,
             HEAD "\"inputs\": [{\"name\": \"a\", \"dtype\": \"%s\", \"shape\": %s},"
                  " {\"name\": \"b\", \"dtype\": \"%s\", \"shape\": %s},"
                  " {\"name\": \"bias\", \"dtype\": \"%s\", \"shape\": [%lld]}],"
                  " \"nodes\": [{\"name\": \"mm\", \"op\": \"matmul\", \"inputs\": [\"a\", \"b\"], \"outputs\": [\"%s\"],"
                  " \"attrs\": {\"transpose_b\": %s}}%s%s],"
                  " \"outputs\": [\"%s\"]}",
             dt, ashape, dt, bshape, dt, (long long)nn, epilogue ? "c" : "y", tb ? "true" : "false",
             epilogue ? ", {\"name\": \"add\", \"op\": \"add\", \"inputs\": [\"c\", \"bias\"], \"outputs\": [\"cb\"]}" : "",
             epilogue ? (integer ? ", {\"name\": \"act\", \"op\": \"neg\", \"inputs\": [\"cb\"], \"outputs\": [\"y\"]}"
                                 : ", {\"name\": \"act\", \"op\": \"gelu\", \"inputs\": [\"cb\"], \"outputs\": [\"y\"]}")
                      : "",
             epilogue ? "y" : "y");
    if (!epilogue) {
        /* bias unused: keep it an input anyway (graph inputs may be unused). */
    }
    g->k = k;
    return n + 1;
}

static int add_attention(struct gcase *cs, int n, const char *dt, int64_t b, int64_t hq, int64_t hkv, int64_t s,
                         int64_t d, bool causal, bool mask) {
    struct gcase *g = &cs[n];
    snprintf(g->name, sizeof g->name, "attention %s b%lld h%lld/%lld s%lld d%lld%s%s", dt, (long long)b, (long long)hq,
             (long long)hkv, (long long)s, (long long)d, causal ? " causal" : "", mask ? " mask" : "");
    char mask_in[160] = "";
    if (mask)
        snprintf(mask_in, sizeof mask_in, ", {\"name\": \"mask\", \"dtype\": \"%s\", \"shape\": [%lld, 1, 1, %lld]}", dt,
                 (long long)b, (long long)s);
    snprintf(g->json, sizeof g->json,
             HEAD "\"inputs\": [{\"name\": \"q\", \"dtype\": \"%s\", \"shape\": [%lld, %lld, %lld, %lld]},"
                  " {\"name\": \"k\", \"dtype\": \"%s\", \"shape\": [%lld, %lld, %lld, %lld]},"
                  " {\"name\": \"v\", \"dtype\": \"%s\", \"shape\": [%lld, %lld, %lld, %lld]}%s],"
                  " \"nodes\": [{\"name\": \"attn\", \"op\": \"attention\", \"inputs\": [\"q\", \"k\", \"v\"%s],"
                  " \"outputs\": [\"y\"], \"attrs\": {\"causal\": %s}}],"
                  " \"outputs\": [\"y\"]}",
             dt, (long long)b, (long long)hq, (long long)s, (long long)d, dt, (long long)b, (long long)hkv, (long long)s,
             (long long)d, dt, (long long)b, (long long)hkv, (long long)s, (long long)d, mask_in, mask ? ", \"mask\"" : "",
             causal ? "true" : "false");
    g->k = s > d ? s : d;
    return n + 1;
}

static int add_gather(struct gcase *cs, int n, const char *dt, int64_t rows, int64_t width, int64_t count) {
    struct gcase *g = &cs[n];
    snprintf(g->name, sizeof g->name, "gather %s table %lldx%lld, %lld ids", dt, (long long)rows, (long long)width,
             (long long)count);
    snprintf(g->json, sizeof g->json,
             HEAD "\"inputs\": [{\"name\": \"table\", \"dtype\": \"%s\", \"shape\": [%lld, %lld]},"
                  " {\"name\": \"ids\", \"dtype\": \"i32\", \"shape\": [%lld]}],"
                  " \"nodes\": [{\"name\": \"g\", \"op\": \"gather\", \"inputs\": [\"table\", \"ids\"], \"outputs\": [\"y\"]}],"
                  " \"outputs\": [\"y\"]}",
             dt, (long long)rows, (long long)width, (long long)count);
    g->index_range = rows;
    return n + 1;
}

static int make_cases(struct gcase *cs, bool quick) {
    static const char *const floats[] = {"f32", "f16", "bf16"};
    static const int64_t sizes[] = {1, 7, 17, 127, 129, 4097};
    int n = 0;
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < 6; i += quick ? 3 : 1) n = add_pointwise(cs, n, floats[t], sizes[(i + 2) % 6], sizes[i]);
    n = add_pointwise(cs, n, "i32", 17, 129);
    static const char *const rows[] = {"softmax", "layernorm", "rmsnorm", "reduce_sum", "reduce_mean", "reduce_max"};
    for (int t = 0; t < 3; t++)
        for (int o = 0; o < 6; o++)
            for (int i = 0; i < 6; i += quick ? 5 : 2) n = add_rowwise(cs, n, floats[t], rows[o], sizes[(i + 1) % 6], sizes[i]);
    for (int t = 0; t < 3; t++) {
        n = add_matmul(cs, n, floats[t], 1, 129, 127, 17, false, false);
        n = add_matmul(cs, n, floats[t], 1, 7, 129, 4097, true, true);
        /* shapes the sm_90a wgmma template takes with TESSERA_HOPPER=1 (B [N, K],
         * rows of a multiple of 8 elements): edge tiles in M and N, a K tail */
        n = add_matmul(cs, n, floats[t], 1, 129, 200, 136, true, true);
        if (quick) continue;
        n = add_matmul(cs, n, floats[t], 1, 1, 64, 8, true, false);
        n = add_matmul(cs, n, floats[t], 1, 300, 520, 1032, true, true);
        n = add_matmul(cs, n, floats[t], 1, 1, 17, 129, true, false);
        n = add_matmul(cs, n, floats[t], 3, 17, 7, 127, false, true);
        n = add_matmul(cs, n, floats[t], 1, 256, 384, 512, true, true);
        n = add_matmul(cs, n, floats[t], 2, 129, 129, 129, true, false);
    }
    n = add_matmul(cs, n, "i32", 1, 17, 7, 129, false, true);
    for (int t = 0; t < 3; t++) {
        n = add_attention(cs, n, floats[t], 1, 2, 2, 17, 64, true, false);
        n = add_attention(cs, n, floats[t], 2, 4, 2, 129, 128, false, true);
        if (quick) continue;
        n = add_attention(cs, n, floats[t], 1, 1, 1, 1, 7, false, false);
        n = add_attention(cs, n, floats[t], 1, 8, 2, 127, 64, true, false);
        n = add_attention(cs, n, floats[t], 1, 2, 1, 7, 128, true, true);
    }
    for (int t = 0; t < 3; t++) n = add_gather(cs, n, floats[t], 129, 17, quick ? 7 : 4097);
    return n;
}

int main(int argc, char **argv) {
    bool quick = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = true;
        else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: test_gpu_kernels [--quick] [-k SUBSTRING]\n");
            return 2;
        }
    }
    struct ts_rt_cuda_info info;
    char err[512];
    if (ts_rt_cuda_probe(0, &info, err, sizeof err) != 0) {
        printf("SKIPPED: %s\n", err);
        return 77;
    }
    printf("GPU: %s (%s, %d SMs, driver %d)\n", info.name, info.arch, info.sm_count, info.driver_version);
    static struct gcase cases[400];
    int n = make_cases(cases, quick);
    for (int i = 0; i < n; i++) {
        if (only && !strstr(cases[i].name, only)) continue;
        int before = ts_test_failed;
        run_case(&cases[i], true);
        /* tf32 matters only where f32 products are summed on tensor cores. */
        if (strstr(cases[i].name, "f32") && (strstr(cases[i].name, "matmul") || strstr(cases[i].name, "attention")))
            run_case(&cases[i], false);
        printf("%-60s %s\n", cases[i].name, ts_test_failed == before ? "ok" : "FAILED");
        fflush(stdout);
    }
    return ts_test_finish("test_gpu_kernels");
}
