/* test_cuda_hopper.c — the sm_90a GEMM template of issue #8 without a GPU:
 * the legality rules, then representative configs compiled through NVRTC for
 * sm_90a with ptxas's report (no spills, no stack, setmaxnreg honoured), the
 * PTX's wgmma / TMA / setmaxnreg, and the cubin's SASS: HGMMA and no HMMA,
 * TMA and register reallocation, no local memory. A missing disassembler
 * (where to find one: sm90_offline.h) fails, as does a missing NVRTC:
 * this test exists for CI machines without a GPU. */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/cuda/internal.h"
#include "test.h"
#include "tests/codegen/sm90_offline.h"

/* ---- legality ------------------------------------------------------------ */

static void expect_bad(struct tsc_hopper_gemm_cfg c, const char *rule) {
    struct ts_diag d;
    ts_diag_clear(&d);
    char *src = (char *)"untouched";
    CHECK(tsc_hopper_gemm_source(&c, &src, NULL, &d) == TS_ERR_UNSUPPORTED);
    CHECK(src == NULL);
    CHECK_CONTAINS(d.what, rule);
}

static void test_rules(void) {
    struct tsc_hopper_gemm_cfg ok = {.in = TS_BF16, .out = TS_BF16, .name = "k_rules"};
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(tsc_hopper_gemm_check(&ok, &d) == TS_OK);
    /* Defaults: 128x128x64, 4 stages of 32 KiB, barriers, 1 KiB of alignment slack. */
    CHECK(tsc_hopper_gemm_shared_bytes(&ok) == 4 * 32768 + 64 + 1024);
    struct tsc_hopper_gemm_cfg c = ok;
    c.in = TS_F32;
    expect_bad(c, "inputs must be f16 or bf16");
    c = ok;
    c.out = TS_I32;
    expect_bad(c, "the output must be f16, bf16 or f32");
    c = ok;
    c.bk = 32;
    expect_bad(c, "bk must be 64");
    c = ok;
    c.bn = 96;
    expect_bad(c, "bn must be 64, 128, 192 or 256");
    c = ok;
    c.consumers = 3;
    expect_bad(c, "consumers must be 1 or 2");
    c = ok;
    c.bm = 192;
    expect_bad(c, "bm must be 64 or 128 rows per consumer warpgroup");
    /* One consumer with a 128x256 tile holds 256 accumulators per thread. */
    c = ok;
    c.consumers = 1;
    c.bn = 256;
    expect_bad(c, "more than 128 accumulators per thread");
    /* 5 stages of 48 KiB exceed 227 KiB; 4 fit. */
    c = ok;
    c.bn = 256;
    c.stages = 5;
    expect_bad(c, "more shared memory than sm_90's 227 KiB");
    c.stages = 4;
    CHECK(tsc_hopper_gemm_check(&c, &d) == TS_OK);
    CHECK_STR(d.where, "");
    /* The message names the kernel. */
    c.stages = 1;
    ts_diag_clear(&d);
    CHECK(tsc_hopper_gemm_check(&c, &d) == TS_ERR_UNSUPPORTED);
    CHECK_STR(d.where, "k_rules");
    CHECK_STR(d.what, "sm_90a GEMM template: stages must be 2..8");
}

/* ---- the configs through NVRTC ------------------------------------------- */

struct hcase {
    int bm, bn, stages, consumers;
    enum ts_dtype in, out;
    bool bias, gelu;
};

static const struct hcase cases[] = {
    /* fast.cu's shape: 2 consumers of m64n256, bias + gelu into bf16 */
    {128, 256, 4, 2, TS_BF16, TS_BF16, true, true},
    {128, 256, 3, 2, TS_BF16, TS_BF16, false, false},
    {128, 128, 5, 2, TS_BF16, TS_F32, false, false},
    {128, 128, 4, 1, TS_F16, TS_F16, true, false},
    {128, 192, 4, 2, TS_F16, TS_F32, true, true},
    {64, 256, 4, 1, TS_F16, TS_BF16, false, true},
};

static void test_compile(const char *tool, bool cuobjdump) {
    struct ts_cuda_arch arch = tso_sm90a();
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < ncases; i++) {
        const struct hcase *h = &cases[i];
        char name[64];
        snprintf(name, sizeof name, "k%d_hopper_gemm", i);
        struct tsc_hopper_gemm_cfg cfg = {.bm = h->bm, .bn = h->bn, .bk = 64, .stages = h->stages,
                                          .consumers = h->consumers, .in = h->in, .out = h->out,
                                          .bias = h->bias, .gelu = h->gelu, .name = name};
        char desc[160];
        snprintf(desc, sizeof desc, "%s: %s->%s bm %d bn %d stages %d consumers %d%s%s", name,
                 ts_dtype_name(h->in), ts_dtype_name(h->out), h->bm, h->bn, h->stages, h->consumers,
                 h->bias ? " +bias" : "", h->gelu ? " +gelu" : "");
        struct ts_diag d;
        ts_diag_clear(&d);
        char *src = NULL;
        struct ts_cuda_launch launch;
        CHECK(tsc_hopper_gemm_source(&cfg, &src, &launch, &d) == TS_OK);
        if (!src) {
            ts_diag_print(&d, stderr);
            continue;
        }
        CHECK(launch.block[0] == 128u * (unsigned)(h->consumers + 1) && launch.grid[0] == 0);
        CHECK(launch.shared_bytes == (uint32_t)tsc_hopper_gemm_shared_bytes(&cfg));
        CHECK(launch.shared_bytes <= 227 * 1024);
        char want[160];
        snprintf(want, sizeof want, "__launch_bounds__(%d, 1)", 128 * (h->consumers + 1));
        CHECK_CONTAINS(src, want);
        CHECK_CONTAINS(src, "const __grid_constant__ TsTensorMap tma_a");
        CHECK_CONTAINS(src, "struct __align__(128) TsTensorMap { tsh_u64 opaque[16]; }");

        const char *opts[] = {"-Xptxas=-v"};
        struct ts_nvrtc_result r;
        enum ts_status st = ts_nvrtc_compile(src, "hopper_gemm.cu", &arch, opts, 1, true, &r, &d);
        CHECK(st == TS_OK);
        if (st != TS_OK) {
            fprintf(stderr, "%s: does not compile\n", desc);
            ts_diag_print(&d, stderr);
            if (getenv("TESSERA_TEST_DUMP_DIR")) fputs(src, stderr);
            free(src);
            ts_nvrtc_result_free(&r);
            continue;
        }
        /* ptxas: no local memory, setmaxnreg honoured (C7508 says when not),
         * wgmma not serialized ("Potential Performance Loss", C7515 and
         * kin), no warning from NVRTC, and the entry count within both the
         * launch bound and the consumers' new count. */
        int regs = 0;
        int64_t spill = -1, stack = -1;
        CHECK(ts_ptxas_report(r.log, name, &regs, &spill, &stack));
        CHECK(spill == 0 && stack == 0);
        CHECK(regs > 0 && regs <= 65536 / (128 * (h->consumers + 1)) && regs <= 240);
        bool quiet = !strstr(r.log, "C7508") && !strstr(r.log, "arning") && !strstr(r.log, "Performance Loss");
        CHECK(quiet);
        if (!quiet) fprintf(stderr, "%s: ptxas log:\n%s\n", desc, r.log);
        /* The PTX: the instructions the template is about. */
        char mma[96];
        const char *ab = h->in == TS_BF16 ? "bf16" : "f16";
        snprintf(mma, sizeof mma, "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s", h->bn, ab, ab);
        CHECK_CONTAINS(r.ptx, mma);
        CHECK_CONTAINS(r.ptx, "cp.async.bulk.tensor.2d.shared::cluster.global");
        CHECK_CONTAINS(r.ptx, "setmaxnreg.dec.sync.aligned.u32");
        CHECK_CONTAINS(r.ptx, "setmaxnreg.inc.sync.aligned.u32");
        CHECK_CONTAINS(r.ptx, "mbarrier.try_wait.parity");
        CHECK_CONTAINS(r.ptx, "wgmma.wait_group.sync.aligned");
        CHECK(!strstr(r.ptx, "mma.sync"));
        /* The maps arrive by value in the parameter space, 128-byte aligned. */
        CHECK_CONTAINS(r.ptx, ".param .align 128 .b8 ");
        /* Four k16 steps per stage, MI m64 tiles each. */
        int mi = h->bm / h->consumers / 64;
        CHECK(tso_count(r.ptx, "wgmma.mma_async") == 4 * mi);
        char sass_note[120] = "SASS not checked";
        if (tool) {
            char *sass = tso_disassemble(tool, cuobjdump, r.cubin, r.cubin_size);
            CHECK(sass != NULL);
            if (sass) {
                int hg = tso_count(sass, "HGMMA"), hm = tso_count(sass, "HMMA");
                int tma = tso_count(sass, "UTMALDG"), reg = tso_count(sass, "USETMAXREG");
                int local = tso_count(sass, "LDL") + tso_count(sass, "STL");
                CHECK(hg == 4 * mi && hm == 0);
                CHECK(tma == 2 && reg == 2 && local == 0);
                snprintf(sass_note, sizeof sass_note, "SASS: %d HGMMA, %d HMMA, %d UTMALDG, %d USETMAXREG, %d LDL/STL",
                         hg, hm, tma, reg, local);
                if (getenv("TESSERA_TEST_DUMP_DIR")) fputs(sass, stdout);
                free(sass);
            }
        }
        printf("%s: %d registers, %lld spill, %lld stack, %u B shared; %s\n", desc, regs, (long long)spill,
               (long long)stack, launch.shared_bytes, sass_note);
        ts_nvrtc_result_free(&r);
        free(src);
    }
}

int main(void) {
    test_rules();
    if (!tso_nvrtc_ok("test_cuda_hopper")) return 1;
    char tool[512];
    bool cuobjdump = false;
    bool found = tso_find_disassembler("test_cuda_hopper", tool, sizeof tool, &cuobjdump);
    CHECK(found); /* none, or an unusable $TESSERA_NVDISASM: it said why */
    test_compile(found ? tool : NULL, cuobjdump);
    return ts_test_finish("test_cuda_hopper");
}
