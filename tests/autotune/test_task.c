/* test_task.c — tuning tasks: identical kernels (the GPT example's repeated
 * layers, the same graph compiled twice, a kernel renamed or its buffers
 * renumbered) share a hash; a different shape, dtype, layout, buffer sharing
 * or expression does not; the schedule does not count; signatures, shapes,
 * FLOP and byte counts read as documented; the FNV-1a hash and the target key. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autotune/autotune.h"
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "test.h"

struct compiled {
    struct ts_graph *g;
    struct ts_program *p;
};

static struct compiled compile_json(const char *json) {
    struct compiled c = {NULL, NULL};
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_fuse_opts fo = {.vector_width = 8};
    if (ts_graph_parse(json, strlen(json), "t.json", ".", false, &c.g, &d) != TS_OK ||
        ts_compile_program(c.g, NULL, &fo, &c.p, &d) != TS_OK) {
        ts_diag_print(&d, stderr);
        c.p = NULL;
    }
    return c;
}

static struct compiled compile_example(const char *path, int64_t seq) {
    struct compiled c = {NULL, NULL};
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_bind bind = {"seq", seq, "test"};
    struct ts_pipeline_opts po = {.binds = &bind, .nbinds = 1, .stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = 8};
    if (ts_graph_load(path, &c.g, &d) != TS_OK || ts_compile_program(c.g, &po, &fo, &c.p, &d) != TS_OK) {
        ts_diag_print(&d, stderr);
        c.p = NULL;
    }
    return c;
}

static void hash_of(const struct ts_program *p, int kernel, char out[17]) {
    struct ts_tune_task t;
    ts_tune_task_of(p, kernel, &t);
    memcpy(out, t.hash, 17);
}

static void test_fnv(void) {
    /* The published FNV-1a 64 test vectors. */
    CHECK(ts_fnv64(TS_FNV64_INIT, "", 0) == 0xcbf29ce484222325ull);
    CHECK(ts_fnv64(TS_FNV64_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
    CHECK(ts_fnv64(TS_FNV64_INIT, "foobar", 6) == 0x85944171f73967e8ull);
    /* Continuing from a hash is hashing the concatenation. */
    CHECK(ts_fnv64(ts_fnv64(TS_FNV64_INIT, "foo", 3), "bar", 3) == 0x85944171f73967e8ull);
}

static void test_gpt(void) {
    struct compiled a = compile_example("examples/gpt/graph.json", 16);
    struct compiled b = compile_example("examples/gpt/graph.json", 16);
    struct compiled c = compile_example("examples/gpt/graph.json", 17);
    CHECK(a.p && b.p && c.p);
    if (!a.p || !b.p || !c.p) goto done;
    struct ts_tune_task *ta = NULL, *tb = NULL, *tc = NULL;
    int na = 0, nb = 0, nc = 0;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_tune_tasks(a.p, &ta, &na, &d) == TS_OK);
    CHECK(ts_tune_tasks(b.p, &tb, &nb, &d) == TS_OK);
    CHECK(ts_tune_tasks(c.p, &tc, &nc, &d) == TS_OK);
    int working = 0;
    for (int i = 0; i < a.p->nkernels; i++) working += ts_kernel_ntasks(&a.p->kernels[i]) > 0;
    int counted = 0, repeated = 0;
    for (int i = 0; i < na; i++) {
        counted += ta[i].count;
        repeated += ta[i].count > 1;
        /* Every kernel of the task has its hash, and kernel is the first one. */
        int first = -1, same = 0;
        for (int k = 0; k < a.p->nkernels; k++) {
            char h[17];
            if (ts_kernel_ntasks(&a.p->kernels[k]) == 0) continue;
            hash_of(a.p, k, h);
            if (strcmp(h, ta[i].hash) != 0) continue;
            if (first < 0) first = k;
            same++;
        }
        CHECK(first == ta[i].kernel && same == ta[i].count);
        CHECK(ta[i].kind == a.p->kernels[ta[i].kernel].kind);
        CHECK(strlen(ta[i].hash) == 16 && ta[i].signature[0] && ta[i].shape[0]);
        CHECK(ta[i].flops >= 0 && ta[i].bytes > 0);
        for (int j = 0; j < i; j++) CHECK(strcmp(ta[i].hash, ta[j].hash) != 0);
        printf("  %s x%d %s [%s] %.3g flops %.3g bytes\n", ta[i].hash, ta[i].count, ta[i].signature, ta[i].shape,
               ta[i].flops, ta[i].bytes);
    }
    CHECK(counted == working);
    /* Two decoder blocks: their layers are one task each. */
    CHECK(repeated >= 4);
    CHECK(na < working);
    /* The same graph compiled again: the same tasks in the same order. */
    CHECK(na == nb);
    for (int i = 0; i < na && i < nb; i++) {
        CHECK_STR(ta[i].hash, tb[i].hash);
        CHECK_STR(ta[i].signature, tb[i].signature);
        CHECK(ta[i].count == tb[i].count);
    }
    /* Another sequence length: every task that depends on it differs. The
     * GEMM signatures show the new M (16 → 17). */
    int gemms = 0;
    for (int i = 0; i < nc; i++) {
        bool found = false;
        for (int j = 0; j < na; j++) found |= strcmp(tc[i].hash, ta[j].hash) == 0;
        CHECK(!found);
        if (tc[i].kind == TS_KERNEL_GEMM) {
            gemms++;
            CHECK(strncmp(tc[i].signature, "gemm f32 17x", 12) == 0);
        }
    }
    CHECK(gemms >= 3);
    /* The LM head reads the embedding table transposed: B[N,K], K = 128. */
    bool head = false;
    for (int i = 0; i < na; i++) head |= strcmp(ta[i].signature, "gemm f32 16x256x128 B[N,K]") == 0;
    CHECK(head);
    /* Attention: 4 heads of 32, causal. */
    bool attn = false;
    for (int i = 0; i < na; i++)
        if (ta[i].kind == TS_KERNEL_ATTENTION) {
            CHECK_STR(ta[i].signature, "attention f32 b1 h4/4 sq16 sk16 d32 causal");
            CHECK_STR(ta[i].shape, "1x4x16x16x32");
            /* causal: 16·17/2 query-key pairs per head, 2·(d + dv) each */
            CHECK_NEAR(ta[i].flops, 4.0 * (16 * 17 / 2) * 2 * 64, 0, 1e-12);
            attn = true;
        }
    CHECK(attn);

    /* Renamed, renumbered, rescheduled: the same task. Another sharing
     * pattern: another task. */
    int g = ta[0].kernel;
    for (int i = 0; i < na; i++)
        if (ta[i].kind == TS_KERNEL_GEMM) {
            g = ta[i].kernel;
            break;
        }
    struct ts_kernel *k = &a.p->kernels[g];
    char before[17], after[17];
    hash_of(a.p, g, before);
    const char *name = k->name;
    int nbuf = a.p->nbuffers;
    int *saved = malloc((size_t)(k->ninputs + 1) * sizeof *saved);
    for (int i = 0; i < k->ninputs; i++) saved[i] = k->inputs[i].buffer;
    saved[k->ninputs] = k->output.buffer;
    union ts_sched sched = k->sched;
    k->name = "k999_renamed";
    for (int i = 0; i < k->ninputs; i++) k->inputs[i].buffer = (k->inputs[i].buffer + 7) % nbuf;
    k->output.buffer = (k->output.buffer + 7) % nbuf;
    k->sched.gemm.mc = 3;
    k->sched.gemm.threads = 1;
    k->sched.gemm.gpu.bm = 64;
    hash_of(a.p, g, after);
    CHECK_STR(after, before);
    k->inputs[1].buffer = k->inputs[0].buffer;  /* A and B now one buffer */
    hash_of(a.p, g, after);
    CHECK(strcmp(after, before) != 0);
    k->inputs[1].buffer = (saved[1] + 7) % nbuf;
    k->inputs[0].dtype = TS_F16;
    hash_of(a.p, g, after);
    CHECK(strcmp(after, before) != 0);
    k->inputs[0].dtype = TS_F32;
    k->inputs[1].offset += 1;
    hash_of(a.p, g, after);
    CHECK(strcmp(after, before) != 0);
    k->inputs[1].offset -= 1;
    hash_of(a.p, g, after);
    CHECK_STR(after, before);
    k->name = name;
    for (int i = 0; i < k->ninputs; i++) k->inputs[i].buffer = saved[i];
    k->output.buffer = saved[k->ninputs];
    k->sched = sched;
    free(saved);
    free(ta);
    free(tb);
    free(tc);
done:
    ts_graph_free(a.g);
    ts_graph_free(b.g);
    ts_graph_free(c.g);
}

#define HEAD "{\"format\": \"tessera.graph\", \"version\": 1, \"name\": \"t\", "

/* One matmul (with bias and gelu when epilogue) of x [m, k] and w. */
static struct compiled matmul(const char *dtype, int m, int n, int kk, bool transpose_b, bool epilogue) {
    char json[2048];
    snprintf(json, sizeof json,
             HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"%s\", \"shape\": [%d, %d]},"
                  "{\"name\": \"w\", \"dtype\": \"%s\", \"shape\": [%d, %d]},"
                  "{\"name\": \"b\", \"dtype\": \"%s\", \"shape\": [%d]}],"
                  "\"nodes\": [{\"op\": \"matmul\", \"inputs\": [\"x\", \"w\"], \"outputs\": [\"y\"], "
                  "\"attrs\": {\"transpose_b\": %s}},"
                  "{\"op\": \"add\", \"inputs\": [\"y\", \"b\"], \"outputs\": [\"z\"]},"
                  "{\"op\": \"gelu\", \"inputs\": [\"z\"], \"outputs\": [\"o\"]}], \"outputs\": [\"%s\"]}",
             dtype, m, kk, dtype, transpose_b ? n : kk, transpose_b ? kk : n, dtype, n,
             transpose_b ? "true" : "false", epilogue ? "o" : "y");
    return compile_json(json);
}

static void test_gemm_tasks(void) {
    struct compiled base = matmul("f32", 7, 129, 17, true, true), same = matmul("f32", 7, 129, 17, true, true),
                    f16 = matmul("f16", 7, 129, 17, true, true), kn = matmul("f32", 7, 129, 17, false, true),
                    shape = matmul("f32", 1, 129, 17, true, true), plain = matmul("f32", 7, 129, 17, true, false);
    struct compiled all[] = {base, same, f16, kn, shape, plain};
    struct ts_tune_task t[6];
    bool ok = true;
    for (int i = 0; i < 6; i++) {
        ok &= all[i].p != NULL;
        if (all[i].p) {
            CHECK(all[i].p->nkernels >= 1 && all[i].p->kernels[0].kind == TS_KERNEL_GEMM);
            ts_tune_task_of(all[i].p, 0, &t[i]);
        }
    }
    CHECK(ok);
    if (ok) {
        CHECK_STR(t[0].signature, "gemm f32 7x129x17 B[N,K] +add,gelu");
        CHECK_STR(t[0].shape, "7x129x17");
        CHECK(t[0].kind == TS_KERNEL_GEMM && t[0].count == 1 && t[0].kernel == 0);
        /* 2·M·N·K for the product, one per element for each of add and gelu */
        CHECK_NEAR(t[0].flops, 2.0 * 7 * 129 * 17 + 2.0 * 7 * 129, 0, 1e-12);
        /* x, w, b and the output once each */
        CHECK_NEAR(t[0].bytes, 4.0 * (7 * 17 + 129 * 17 + 129 + 7 * 129), 0, 1e-12);
        CHECK_STR(t[1].hash, t[0].hash);
        CHECK_STR(t[2].signature, "gemm f16 7x129x17 B[N,K] +add,gelu");
        CHECK_STR(t[3].signature, "gemm f32 7x129x17 B[K,N] +add,gelu");
        CHECK_STR(t[4].signature, "gemm f32 1x129x17 B[N,K] +add,gelu");
        CHECK_STR(t[5].signature, "gemm f32 7x129x17 B[N,K]");
        for (int i = 2; i < 6; i++)
            for (int j = 0; j < i; j++) CHECK(strcmp(t[i].hash, t[j].hash) != 0);
    }
    for (int i = 0; i < 6; i++) ts_graph_free(all[i].g);
}

static void test_other_kinds(void) {
    struct compiled c = compile_json(
        HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [3, 5, 17]},"
             "{\"name\": \"g\", \"dtype\": \"f32\", \"shape\": [17]},"
             "{\"name\": \"c\", \"dtype\": \"f32\", \"shape\": [17]}],"
             "\"nodes\": [{\"op\": \"layernorm\", \"inputs\": [\"x\", \"g\", \"c\"], \"outputs\": [\"n\"]},"
             "{\"op\": \"exp\", \"inputs\": [\"x\"], \"outputs\": [\"e\"]},"
             "{\"op\": \"add\", \"inputs\": [\"e\", \"x\"], \"outputs\": [\"s\"]}],"
             "\"outputs\": [\"n\", \"s\"]}");
    CHECK(c.p != NULL);
    if (c.p) {
        bool rowwise = false, pointwise = false;
        for (int i = 0; i < c.p->nkernels; i++) {
            struct ts_tune_task t;
            ts_tune_task_of(c.p, i, &t);
            printf("  %s %s [%s]\n", t.hash, t.signature, t.shape);
            if (t.kind == TS_KERNEL_ROWWISE) {
                CHECK(strncmp(t.signature, "rowwise layernorm f32 15x17", 27) == 0);
                CHECK_STR(t.shape, "15x17");
                rowwise = true;
            }
            if (t.kind == TS_KERNEL_POINTWISE) {
                /* fusion flattens the contiguous dims */
                CHECK_STR(t.signature, "pointwise f32 255 exp,add");
                CHECK_STR(t.shape, "255");
                CHECK_NEAR(t.flops, 2.0 * 3 * 5 * 17, 0, 1e-12);
                CHECK_NEAR(t.bytes, 4.0 * 2 * 3 * 5 * 17, 0, 1e-12);
                pointwise = true;
            }
        }
        CHECK(rowwise && pointwise);
    }
    ts_graph_free(c.g);
}

static void test_target(void) {
    struct ts_cpu_info cpu;
    memset(&cpu, 0, sizeof cpu);
    snprintf(cpu.name, sizeof cpu.name, "znver4");
    snprintf(cpu.features, sizeof cpu.features, "+avx2,+fma,+avx512f");
    cpu.vector_bits = 512;
    cpu.vector_width = 16;
    struct ts_tune_target t, t1;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_tune_target_cpu(&cpu, 2, &t, &d) == TS_OK);
    CHECK(t.kind == TS_TARGET_CPU && t.vector_bits == 512 && t.vector_regs == 32 && t.threads == 2);
    CHECK_STR(t.arch, "znver4");
    char want[17];
    snprintf(want, sizeof want, "%016llx",
             (unsigned long long)ts_fnv64(TS_FNV64_INIT, cpu.features, strlen(cpu.features)));
    CHECK_STR(t.features, want);
    CHECK(t.device[0] != '\0' && strchr(t.device, '|') == NULL);
    char key[640];
    snprintf(key, sizeof key, "cpu|%s|znver4|f=%s|512|t2", t.device, want);
    CHECK_STR(t.key, key);
    /* 0 threads: one per online core, resolved. */
    CHECK(ts_tune_target_cpu(&cpu, 0, &t1, &d) == TS_OK);
    CHECK(t1.threads == (int)sysconf(_SC_NPROCESSORS_ONLN));
    cpu.vector_bits = 256;
    CHECK(ts_tune_target_cpu(&cpu, 1, &t1, &d) == TS_OK);
    CHECK(t1.vector_regs == 16);
    CHECK(ts_tune_target_cpu(&cpu, -1, &t1, &d) == TS_ERR_USAGE);
    printf("  cpu key %s (l1 %lld, l2 %lld, l3 %lld)\n", t.key, (long long)t.l1_bytes, (long long)t.l2_bytes,
           (long long)t.l3_bytes);

    struct ts_rt_cuda_info gpu;
    memset(&gpu, 0, sizeof gpu);
    snprintf(gpu.name, sizeof gpu.name, "NVIDIA H100 80GB HBM3");
    gpu.sm_count = 132;
    gpu.driver_version = 13000;
    struct ts_cuda_arch arch = {90, true, "sm_90a"};
    ts_tune_target_cuda(&gpu, &arch, 13, 0, false, &t);
    CHECK_STR(t.key, "cuda|NVIDIA H100 80GB HBM3|sm_90a|132sm|drv13000|nvrtc13.0|tf32");
    ts_tune_target_cuda(&gpu, &arch, 13, 0, true, &t);
    CHECK_STR(t.key, "cuda|NVIDIA H100 80GB HBM3|sm_90a|132sm|drv13000|nvrtc13.0|strict_f32");
    CHECK(t.kind == TS_TARGET_CUDA && t.sm_count == 132 && t.strict_f32);
}

int main(void) {
    test_fnv();
    test_gpt();
    test_gemm_tasks();
    test_other_kinds();
    test_target();
    return ts_test_finish("task");
}
