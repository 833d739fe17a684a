/* test_cuda_wgmma.c — the sm_90a GEMM template wired into the code generator
 * (schedule instr wgmma, emit_gemm_wgmma.c), offline: off unless
 * TESSERA_HOPPER=1; what the default schedule picks with it on and where it
 * refuses; the launch (two tensor maps, persistent, 384 threads); a program
 * with two wgmma kernels and an mma.sync kernel in one translation unit,
 * compiled by NVRTC for sm_90a with no spills and HGMMA (no HMMA) in its
 * SASS. Nothing here runs the kernel: that needs an H100 (issue #8). */
#include <stdlib.h>
#include <string.h>

#include "codegen/cuda/internal.h"
#include "kernel_harness.h"
#include "sm90_offline.h"
#include "test.h"

/* C[m, n] = gelu(A[m, k] · B[n, k]ᵀ + bias[n]) (bias: false gives C = A·Bᵀ),
 * A padded by 'pad' elements per row; inputs of dtype t, output 'out'. */
static void build(struct ts_kh *h, const char *name, enum ts_dtype t, enum ts_dtype out, int64_t M, int64_t N,
                  int64_t K, int64_t pad, bool bias) {
    ts_kh_init(h);
    h->k.name = name;
    int ia = ts_kh_input(h, t, 2, (int64_t[]){M, K + pad});
    int ib = ts_kh_input(h, t, 2, (int64_t[]){N, K});
    int ix = bias ? ts_kh_input(h, TS_F32, 1, &N) : -1;
    int io = ts_kh_output(h, out, 2, (int64_t[]){M, N});
    struct ts_kernel *k = &h->k;
    k->kind = TS_KERNEL_GEMM;
    k->rank = 2;
    k->dims[0] = M;
    k->dims[1] = N;
    k->k = K;
    k->acc_type = TS_SCALAR_F32;
    h->ops[0] = ts_kh_operand(h, ia, NULL);
    h->ops[0].strides[0] = K + pad;
    h->ops[0].strides[1] = 0;
    h->ops[0].kstride = 1;
    h->ops[1] = ts_kh_operand(h, ib, NULL);
    h->ops[1].strides[0] = 0;
    h->ops[1].strides[1] = K;
    h->ops[1].kstride = 1;
    k->ninputs = 2;
    if (bias) {
        h->ops[2] = ts_kh_operand(h, ix, NULL);
        k->ninputs = 3;
        int acc = ts_kh_kx(h, TS_KX_ACC, TS_SCALAR_F32, TS_F32, 0, 0, 0);
        int x = ts_kh_kx(h, TS_KX_LOAD, TS_SCALAR_F32, TS_F32, 2, 0, 0);
        int sum = ts_kh_kx(h, TS_KX_ADD, TS_SCALAR_F32, TS_F32, acc, x, 0);
        k->out_root = ts_kh_kx(h, TS_KX_GELU, TS_SCALAR_F32, TS_F32, sum, 0, 0);
    }
    h->k.output = ts_kh_operand(h, io, NULL);
    k->inputs = h->ops;
    ts_sched_default_cpu(k, 8);
}

static struct ts_cuda_arch arch_of(const char *name) {
    struct ts_cuda_arch a;
    struct ts_diag d = {0};
    TS_ASSERT(ts_cuda_arch_parse(name, &a, &d) == TS_OK);
    return a;
}

/* k's default gpu schedule on arch (the gpu fields cleared first). */
static struct ts_sched_gemm default_on(struct ts_kernel *k, const char *arch) {
    struct ts_cuda_arch a = arch_of(arch);
    memset(&k->sched.gemm.gpu, 0, sizeof k->sched.gemm.gpu);
    ts_cuda_sched_default(k, &a, false);
    return k->sched.gemm;
}

static void set_wgmma(struct ts_kernel *k, int bm, int bn, int wm, int stages, int split, int group) {
    struct ts_sched_gemm *g = &k->sched.gemm;
    memset(&g->gpu, 0, sizeof g->gpu);
    g->gpu.bm = bm;
    g->gpu.bn = bn;
    g->gpu.bk = 64;
    g->gpu.wm = wm;
    g->gpu.wn = bn;
    g->gpu.stages = stages;
    g->gpu.split_k = split;
    g->gpu.swizzle = group;
    g->gpu.instr = TS_GEMM_INSTR_WGMMA;
}

/* ts_cuda_sched_check's verdict on k for sm_90a: "" when legal, else its message. */
static const char *verdict(const struct ts_kernel *k, struct ts_diag *d) {
    struct ts_cuda_arch a = arch_of("sm_90a");
    ts_diag_clear(d);
    return ts_cuda_sched_check(k, &a, d) == TS_OK ? "" : d->what;
}

static void test_flag(void) {
    struct ts_kh h;
    build(&h, "k_flag", TS_BF16, TS_BF16, 129, 200, 136, 0, true);
    struct ts_diag d;
    unsetenv("TESSERA_HOPPER");
    CHECK(!ts_cuda_hopper_enabled());
    CHECK(default_on(&h.k, "sm_90a").gpu.instr == TS_GEMM_INSTR_MMA_F16);
    set_wgmma(&h.k, 128, 128, 64, 4, 1, 8);
    CHECK_CONTAINS(verdict(&h.k, &d), "instr wgmma is off (set TESSERA_HOPPER=1");
    setenv("TESSERA_HOPPER", "0", 1);
    CHECK(!ts_cuda_hopper_enabled());
    setenv("TESSERA_HOPPER", "1", 1);
    CHECK(ts_cuda_hopper_enabled());
    CHECK_STR(verdict(&h.k, &d), "");
    ts_kh_free(&h);
}

/* With the flag on: what the default picks, and the refusals. */
static void test_schedules(void) {
    struct ts_kh h;
    struct ts_diag d;
    build(&h, "k_sched", TS_BF16, TS_BF16, 129, 200, 136, 0, true);
    struct ts_sched_gemm g = default_on(&h.k, "sm_90a");
    CHECK(g.gpu.instr == TS_GEMM_INSTR_WGMMA);
    CHECK(g.gpu.bm == 128 && g.gpu.bn == 128 && g.gpu.bk == 64 && g.gpu.wm == 64 && g.gpu.wn == 128);
    CHECK(g.gpu.stages == 4 && g.gpu.split_k == 1 && g.gpu.swizzle == 8);
    CHECK_STR(verdict(&h.k, &d), "");
    /* sm_90 without the a, and sm_80: mma.sync */
    CHECK(default_on(&h.k, "sm_90").gpu.instr == TS_GEMM_INSTR_MMA_F16);
    CHECK(default_on(&h.k, "sm_80").gpu.instr == TS_GEMM_INSTR_MMA_F16);
    /* small sides take 64-wide tiles (one consumer for 64 rows) */
    struct ts_kh small;
    build(&small, "k_small", TS_F16, TS_F32, 7, 17, 8, 0, false);
    g = default_on(&small.k, "sm_90a");
    CHECK(g.gpu.instr == TS_GEMM_INSTR_WGMMA && g.gpu.bm == 64 && g.gpu.bn == 64 && g.gpu.wm == 64);
    CHECK_STR(verdict(&small.k, &d), "");
    ts_kh_free(&small);

    static const struct {
        int bm, bn, wm, stages, split, group;
        const char *rule;
    } bad[] = {
        {128, 128, 64, 4, 2, 8, "instr wgmma has no split-K"},
        {128, 96, 64, 4, 1, 8, "bn must be 64, 128, 192 or 256"},
        {128, 128, 48, 4, 1, 8, "wm must divide bm"},
        {256, 128, 64, 4, 1, 8, "consumers must be 1 or 2"},
        {128, 256, 128, 4, 1, 8, "more than 128 accumulators per thread"},
        {128, 256, 64, 8, 1, 8, "more shared memory than sm_90's 227 KiB"},
        {128, 128, 64, 1, 1, 8, "stages must be 2..8"},
        {128, 128, 64, 4, 1, 0, "swizzle (the group of tile rows) must be at least 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set_wgmma(&h.k, bad[i].bm, bad[i].bn, bad[i].wm, bad[i].stages, bad[i].split, bad[i].group);
        const char *v = verdict(&h.k, &d);
        CHECK_CONTAINS(v, bad[i].rule);
        CHECK_CONTAINS(v, "GPU GEMM schedule");
        CHECK_STR(d.where, "k_sched");
    }
    /* operands the template cannot read: B with N contiguous ([K, N]), a
     * batch, rows not 16-byte aligned, f32 operands; the default stays on
     * mma.sync for each */
    struct {
        const char *what, *rule;
    } ops[] = {{"B [K, N]", "K contiguous in A and B"},
               {"batch 2", "no batch dims"},
               {"A padded by 3", "16-byte aligned operand rows"},
               {"f32", "A and B both f16 or both bf16"}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        struct ts_kh o;
        build(&o, "k_ops", i == 3 ? TS_F32 : TS_BF16, TS_F32, 64, 64, 64, i == 2 ? 3 : 0, false);
        if (i == 0) {
            o.ops[1].strides[1] = 1;
            o.ops[1].kstride = 64;
        }
        if (i == 1) { /* a leading dim of 2 over the same buffers (strides 0: the check is about the shape) */
            o.k.rank = 3;
            o.k.dims[2] = o.k.dims[1];
            o.k.dims[1] = o.k.dims[0];
            o.k.dims[0] = 2;
            for (int j = 0; j < 2; j++) {
                o.ops[j].strides[2] = o.ops[j].strides[1];
                o.ops[j].strides[1] = o.ops[j].strides[0];
                o.ops[j].strides[0] = 0;
            }
            o.k.output.strides[2] = o.k.output.strides[1];
            o.k.output.strides[1] = o.k.output.strides[0];
            o.k.output.strides[0] = 0;
        }
        enum ts_gemm_instr want = i == 3 ? TS_GEMM_INSTR_MMA_TF32 : TS_GEMM_INSTR_MMA_F16;
        CHECK(default_on(&o.k, "sm_90a").gpu.instr == want);
        set_wgmma(&o.k, 128, 128, 64, 4, 1, 8);
        const char *v = verdict(&o.k, &d);
        CHECK_CONTAINS(v, ops[i].rule);
        if (!strstr(v, ops[i].rule)) fprintf(stderr, "  %s: %s\n", ops[i].what, v);
        ts_kh_free(&o);
    }
    ts_kh_free(&h);
}

/* The SASS of function sym in nvdisasm's or cuobjdump's listing (malloc'd),
 * from its label to the next section's rule; NULL when it is not there. */
static char *function_sass(const char *sass, const char *sym) {
    char label[128];
    snprintf(label, sizeof label, "\n.text.%s:\n", sym);
    const char *p = strstr(sass, label);
    if (!p) { /* cuobjdump: "Function : sym" */
        snprintf(label, sizeof label, "Function : %s\n", sym);
        p = strstr(sass, label);
    }
    if (!p) return NULL;
    p += strlen(label);
    const char *end = strstr(p, "//----");
    const char *next = strstr(p, "Function : ");
    if (!end || (next && next < end)) end = next;
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* Three kernels over one set of buffers: the default wgmma schedule (bias +
 * gelu into bf16), an explicit 64×256 one-consumer wgmma schedule and an
 * mma.sync one; one translation unit. */
static void test_program(const char *tool, bool cuobjdump) {
    struct ts_kh h;
    const int64_t M = 129, N = 200, K = 136;
    build(&h, "k_wg", TS_BF16, TS_BF16, M, N, K, 0, true);
    struct ts_kernel ks[3] = {h.k, h.k, h.k};
    ks[1].name = "k_wg256";
    set_wgmma(&ks[1], 64, 256, 64, 5, 1, 4);
    ks[2].name = "k_mma";
    memset(&ks[2].sched.gemm.gpu, 0, sizeof ks[2].sched.gemm.gpu);
    ks[2].sched.gemm.gpu.instr = TS_GEMM_INSTR_MMA_F16;
    int input_buffers[TS_KH_MAX_BUFFERS], output_buffer = h.nin;
    for (int b = 0; b < h.nin; b++) input_buffers[b] = b;
    struct ts_program p = {.graph = h.g, .buffers = h.bufs, .nbuffers = h.nbufs, .kernels = ks, .nkernels = 3,
                           .input_buffers = input_buffers, .output_buffers = &output_buffer};
    struct ts_cuda_code *code = NULL;
    struct ts_diag d = {0};
    struct ts_cuda_opts o = {.arch = "sm_90a", .no_cache = true, .ptxas_verbose = true};
    enum ts_status st = ts_cuda_codegen(&p, &o, &code, &d);
    if (st != TS_OK) fprintf(stderr, "  program: %s\n", d.what);
    CHECK(st == TS_OK);
    if (st != TS_OK) {
        ts_kh_free(&h);
        return;
    }
    CHECK(ts_cuda_code_nfunctions(code) == 3);
    CHECK(ts_cuda_code_kernel(code, 0)->sched.gemm.gpu.instr == TS_GEMM_INSTR_WGMMA);
    struct ts_cuda_launch l;
    ts_cuda_code_launch(code, 0, &l);
    /* tiles 2 × 2, persistent; 2 consumers + 1 producer; 4 stages of (128 + 128) · 64 bf16 */
    CHECK(l.grid[0] == 4 && l.grid[1] == 1 && l.grid[2] == 1 && l.persistent);
    CHECK(l.block[0] == 384 && l.workspace_bytes == 0);
    CHECK(l.shared_bytes == 4 * 256 * 64 * 2 + 4 * 16 + 1024);
    CHECK(l.ntmaps == 2);
    const struct ts_cuda_tmap *a = &l.tmaps[0], *b = &l.tmaps[1];
    CHECK(a->arg == 0 && a->dtype == 2 && a->rank == 2 && a->swizzle == 128 && a->offset == 0);
    CHECK(a->dims[0] == (uint64_t)K && a->dims[1] == (uint64_t)M && a->strides[0] == (uint64_t)K * 2);
    CHECK(a->box[0] == 64 && a->box[1] == 128);
    CHECK(b->arg == 1 && b->dims[0] == (uint64_t)K && b->dims[1] == (uint64_t)N && b->strides[0] == (uint64_t)K * 2);
    CHECK(b->box[0] == 64 && b->box[1] == 128);
    ts_cuda_code_launch(code, 1, &l);
    CHECK(l.grid[0] == 3 && l.block[0] == 256 && l.ntmaps == 2 && l.tmaps[0].box[1] == 64 && l.tmaps[1].box[1] == 256);
    ts_cuda_code_launch(code, 2, &l);
    CHECK(l.ntmaps == 0 && !l.persistent && l.block[0] == 128);

    const char *src = ts_cuda_code_source(code);
    CHECK_CONTAINS(src, "#ifndef TS_EMULATE\n#define TSH_BM 128");
    CHECK_CONTAINS(src, "k_wg(const __grid_constant__ TsTensorMap tma_a, const __grid_constant__ TsTensorMap tma_b,");
    CHECK(!strstr(src, "k_wg_emu") && !strstr(src, "k_wg256_emu") && strstr(src, "k_mma_emu"));
    CHECK(tso_count(src, "#ifndef TSH_PTX_HELPERS") == 2); /* once per wgmma kernel, guarded */
    CHECK(tso_count(src, "#undef TSH_WGMMA") == 2);

    st = ts_cuda_code_compile(code, &d);
    if (st != TS_OK) {
        fprintf(stderr, "  program: does not compile: %s\n", d.what);
        if (getenv("TESSERA_TEST_DUMP_DIR")) fputs(src, stderr);
    }
    CHECK(st == TS_OK);
    if (st == TS_OK) {
        const char *log = ts_cuda_code_log(code);
        size_t nptx = 0, ncubin = 0;
        const char *ptx = ts_cuda_code_ptx(code, &nptx);
        const void *cubin = ts_cuda_code_cubin(code, &ncubin);
        static const char *const syms[] = {"k_wg", "k_wg256", "k_mma"};
        for (int i = 0; i < 3; i++) {
            int regs = 0;
            int64_t spill = -1, stack = -1;
            CHECK(ts_ptxas_report(log, syms[i], &regs, &spill, &stack));
            CHECK(spill == 0);
            if (i < 2) CHECK(stack == 0 && regs > 0 && regs <= 240);
        }
        CHECK(!strstr(log, "C7508") && !strstr(log, "Performance Loss"));
        CHECK_CONTAINS(ptx, "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16");
        CHECK_CONTAINS(ptx, "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16");
        CHECK_CONTAINS(ptx, "mma.sync.aligned.m16n8k16");
        CHECK(tool != NULL);
        if (tool && cubin) {
            char *sass = tso_disassemble(tool, cuobjdump, cubin, ncubin);
            CHECK(sass != NULL);
            if (sass) {
                /* Per function: 4 k16 steps of one m64 block per stage in
                 * both wgmma kernels (K = 136 is 3 stages: ptxas unrolls
                 * them), 2 TMA loads per stage; no mma.sync fallback. */
                for (int i = 0; i < 3; i++) {
                    char *f = function_sass(sass, syms[i]);
                    CHECK(f != NULL);
                    if (!f) continue;
                    int hg = tso_count(f, "HGMMA"), hm = tso_count(f, "HMMA"), tma = tso_count(f, "UTMALDG");
                    int local = tso_count(f, "LDL") + tso_count(f, "STL");
                    if (i < 2) CHECK(hg > 0 && hg % 4 == 0 && hm == 0 && tma == hg / 2 && local == 0);
                    else CHECK(hg == 0 && hm > 0 && tma == 0);
                    printf("  %s: SASS %d HGMMA, %d HMMA, %d UTMALDG, %d LDL/STL\n", syms[i], hg, hm, tma, local);
                    free(f);
                }
                free(sass);
            }
        }
    }
    ts_cuda_code_free(code);
    ts_kh_free(&h);
}

int main(void) {
    test_flag();
    test_schedules();
    if (!tso_nvrtc_ok("test_cuda_wgmma")) return 1;
    char tool[512];
    bool cuobjdump = false;
    bool have = tso_find_disassembler("test_cuda_wgmma", tool, sizeof tool, &cuobjdump);
    CHECK(have); /* none, or an unusable $TESSERA_NVDISASM: it said why */
    test_program(have ? tool : NULL, cuobjdump);
    return ts_test_finish("test_cuda_wgmma");
}
