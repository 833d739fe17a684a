/* test_cuda_hopper_attention.c — the sm_90a attention template of issue #8
 * without a GPU: the legality rules with their exact messages, then
 * representative configs (head_dim 64/128, causal or not, bf16/f16, ping-pong)
 * compiled through NVRTC for sm_90a: ptxas's report (no spills, no stack,
 * setmaxnreg honoured, no warning), the PTX's wgmma (from shared memory and
 * with A from registers), TMA, setmaxnreg and mbarriers, and the cubin's SASS:
 * HGMMA and no HMMA, UTMALDG, USETMAXREG, no local memory. The disassembler
 * is found by sm90_offline.c (none found fails), and NVRTC missing is
 * a failure, not a skip: this test exists for CI machines without a GPU. */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/cuda/internal.h"
#include "test.h"
#include "tests/codegen/sm90_offline.h"

/* ---- legality ------------------------------------------------------------ */

static void expect_bad(struct tsc_hopper_attention_cfg c, const char *msg) {
    struct ts_diag d;
    ts_diag_clear(&d);
    char *src = (char *)"untouched";
    CHECK(tsc_hopper_attention_source(&c, &src, NULL, &d) == TS_ERR_UNSUPPORTED);
    CHECK(src == NULL);
    CHECK_STR(d.what, msg);
    CHECK_STR(d.where, "k_rules");
}

static void test_rules(void) {
    struct tsc_hopper_attention_cfg ok = {.dtype = TS_BF16, .name = "k_rules"};
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(tsc_hopper_attention_check(&ok, &d) == TS_OK);
    /* Defaults: head_dim 128, Q 128x128, 2 stages of K and V 128x128, the
     * barriers, 1 KiB of alignment slack. */
    CHECK(tsc_hopper_attention_shared_bytes(&ok) == 32768 + 2 * 2 * 32768 + 8 + 48 + 1024);
    struct tsc_hopper_attention_cfg c = ok;
    c.dtype = TS_F32;
    expect_bad(c, "sm_90a attention template: q, k and v must be f16 or bf16");
    c = ok;
    c.head_dim = 96;
    expect_bad(c, "sm_90a attention template: head_dim must be 64 or 128");
    c = ok;
    c.bn = 176;
    expect_bad(c, "sm_90a attention template: bn must be 64 or 128 keys per tile");
    c = ok;
    c.consumers = 3;
    expect_bad(c, "sm_90a attention template: consumers must be 1 or 2");
    c = ok;
    c.stages = 1;
    expect_bad(c, "sm_90a attention template: stages must be 2..4");
    c.stages = 5;
    expect_bad(c, "sm_90a attention template: stages must be 2..4");
    c = ok;
    c.consumers = 1;
    c.pingpong = true;
    expect_bad(c, "sm_90a attention template: pingpong needs 2 consumers");
    /* head_dim 128: 4 stages (32 + 256 KiB) overflow 227 KiB, 3 fit;
     * head_dim 64 fits 4. */
    c = ok;
    c.stages = 3;
    CHECK(tsc_hopper_attention_check(&c, &d) == TS_OK);
    c.stages = 4;
    expect_bad(c, "sm_90a attention template: the stages need more shared memory than sm_90's 227 KiB");
    c.head_dim = 64;
    c.stages = 4;
    ts_diag_clear(&d);
    CHECK(tsc_hopper_attention_check(&c, &d) == TS_OK);
    CHECK_STR(d.where, "");
}

/* ---- the configs through NVRTC ------------------------------------------- */

struct acase {
    int head_dim, bn, stages, consumers;
    enum ts_dtype dtype;
    bool causal, pingpong;
};

static const struct acase cases[] = {
    /* FA3's head_dim-128 shape: 2 consumers ping-ponging, 2 stages */
    {128, 128, 2, 2, TS_BF16, false, true},
    {128, 128, 2, 2, TS_F16, true, true},
    {64, 128, 3, 2, TS_BF16, true, false},
    {64, 64, 4, 1, TS_F16, false, false},
};

static void test_compile(const char *tool, bool cuobjdump) {
    struct ts_cuda_arch arch = tso_sm90a();
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < ncases; i++) {
        const struct acase *h = &cases[i];
        char name[64];
        snprintf(name, sizeof name, "k%d_hopper_attention", i);
        struct tsc_hopper_attention_cfg cfg = {.head_dim = h->head_dim, .bn = h->bn, .stages = h->stages,
                                               .consumers = h->consumers, .dtype = h->dtype,
                                               .causal = h->causal, .pingpong = h->pingpong, .name = name};
        char desc[160];
        snprintf(desc, sizeof desc, "%s: %s d %d bn %d stages %d consumers %d%s%s", name, ts_dtype_name(h->dtype),
                 h->head_dim, h->bn, h->stages, h->consumers, h->causal ? " causal" : "",
                 h->pingpong ? " pingpong" : "");
        struct ts_diag d;
        ts_diag_clear(&d);
        char *src = NULL;
        struct ts_cuda_launch launch;
        CHECK(tsc_hopper_attention_source(&cfg, &src, &launch, &d) == TS_OK);
        if (!src) {
            ts_diag_print(&d, stderr);
            continue;
        }
        int threads = 128 * (h->consumers + 1);
        CHECK(launch.block[0] == (unsigned)threads && launch.grid[0] == 0);
        CHECK(launch.shared_bytes == (uint32_t)tsc_hopper_attention_shared_bytes(&cfg));
        CHECK(launch.shared_bytes <= 227 * 1024);
        char want[160];
        snprintf(want, sizeof want, "__launch_bounds__(%d, 1)", threads);
        CHECK_CONTAINS(src, want);
        CHECK_CONTAINS(src, "const __grid_constant__ TsTensorMap tma_v");
        if (getenv("TESSERA_TEST_DUMP_DIR")) {
            char path[600];
            snprintf(path, sizeof path, "%s/%s.cu", getenv("TESSERA_TEST_DUMP_DIR"), name);
            FILE *f = fopen(path, "w");
            if (f) {
                fputs(src, f);
                fclose(f);
            }
        }

        const char *opts[] = {"-Xptxas=-v"};
        struct ts_nvrtc_result r;
        enum ts_status st = ts_nvrtc_compile(src, "hopper_attention.cu", &arch, opts, 1, true, &r, &d);
        CHECK(st == TS_OK);
        if (st != TS_OK) {
            fprintf(stderr, "%s: does not compile\n", desc);
            ts_diag_print(&d, stderr);
            free(src);
            ts_nvrtc_result_free(&r);
            continue;
        }
        if (getenv("TESSERA_TEST_DUMP_DIR")) {
            char path[600];
            snprintf(path, sizeof path, "%s/%s.ptx", getenv("TESSERA_TEST_DUMP_DIR"), name);
            FILE *f = fopen(path, "w");
            if (f) {
                fputs(r.ptx, f);
                fclose(f);
            }
        }
        /* ptxas: no local memory, setmaxnreg honoured (C7508), wgmma not
         * serialized ("Performance Loss"), no warning, and the entry count
         * within the launch bound and the consumers' new count. */
        int regs = 0;
        int64_t spill = -1, stack = -1;
        CHECK(ts_ptxas_report(r.log, name, &regs, &spill, &stack));
        CHECK(spill == 0 && stack == 0);
        CHECK(regs > 0 && regs <= 65536 / threads && regs <= (h->consumers == 2 ? 232 : 240));
        bool quiet = !strstr(r.log, "C7508") && !strstr(r.log, "arning") && !strstr(r.log, "Performance Loss");
        CHECK(quiet);
        if (!quiet) fprintf(stderr, "%s: ptxas log:\n%s\n", desc, r.log);
        /* The PTX: both products on wgmma, P·V with A from registers. */
        const char *ab = h->dtype == TS_BF16 ? "bf16" : "f16";
        char mma[128];
        snprintf(mma, sizeof mma, "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s", h->bn, ab, ab);
        CHECK_CONTAINS(r.ptx, mma);
        snprintf(mma, sizeof mma, "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s", h->head_dim, ab, ab);
        CHECK_CONTAINS(r.ptx, mma);
        CHECK_CONTAINS(r.ptx, "}, {%r");
        CHECK_CONTAINS(r.ptx, "cp.async.bulk.tensor.3d.shared::cluster.global");
        CHECK_CONTAINS(r.ptx, "setmaxnreg.dec.sync.aligned.u32");
        CHECK_CONTAINS(r.ptx, "setmaxnreg.inc.sync.aligned.u32");
        CHECK_CONTAINS(r.ptx, "mbarrier.try_wait.parity");
        CHECK_CONTAINS(r.ptx, "wgmma.wait_group.sync.aligned 1");
        CHECK_CONTAINS(r.ptx, "ex2.approx.ftz.f32");
        CHECK(!strstr(r.ptx, "mma.sync"));
        CHECK(h->pingpong == (strstr(r.ptx, "bar.arrive") != NULL));
        CHECK_CONTAINS(r.ptx, ".param .align 128 .b8 ");
        /* D/16 k16 steps of S and BN/16 of P·V, each emitted twice: S for
         * the peeled first tile and in the loop, P·V in the loop and for
         * the last tile. */
        int nwg = 2 * (h->head_dim / 16) + 2 * (h->bn / 16);
        CHECK(tso_count(r.ptx, "wgmma.mma_async") == nwg);
        char sass_note[160] = "SASS not checked";
        if (tool) {
            char *sass = tso_disassemble(tool, cuobjdump, r.cubin, r.cubin_size);
            CHECK(sass != NULL);
            if (sass) {
                int hg = tso_count(sass, "HGMMA"), hm = tso_count(sass, "HMMA");
                int tma = tso_count(sass, "UTMALDG"), reg = tso_count(sass, "USETMAXREG");
                int local = tso_count(sass, "LDL") + tso_count(sass, "STL");
                CHECK(hg == nwg && hm == 0);
                CHECK(tma == 3 * (h->head_dim / 64) && reg == 2 && local == 0);
                if (!(tma == 3 * (h->head_dim / 64) && reg == 2 && local == 0 && hg == nwg && hm == 0))
                    fprintf(stderr, "%s: %d HGMMA (want %d), %d HMMA, %d UTMALDG, %d USETMAXREG, %d LDL/STL\n", desc,
                            hg, nwg, hm, tma, reg, local);
                snprintf(sass_note, sizeof sass_note,
                         "SASS: %d HGMMA, %d HMMA, %d UTMALDG, %d USETMAXREG, %d LDL/STL", hg, hm, tma, reg, local);
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
    if (!tso_nvrtc_ok("test_cuda_hopper_attention")) return 1;
    char tool[512];
    bool cuobjdump = false;
    bool found = tso_find_disassembler("test_cuda_hopper_attention", tool, sizeof tool, &cuobjdump);
    CHECK(found); /* none, or an unusable $TESSERA_NVDISASM: it said why */
    test_compile(found ? tool : NULL, cuobjdump);
    return ts_test_finish("test_cuda_hopper_attention");
}
