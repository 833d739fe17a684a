/* emit_gemm_wgmma.c — a program's GEMM kernel on the sm_90a template of
 * hopper_gemm.c (schedule instr wgmma, chosen only with TESSERA_HOPPER=1):
 * the template's TMA ring, producer/consumer warpgroups and persistent tile
 * loop, behind the kernel ABI of codegen.h with two tensor maps in front,
 * and the program's fused epilogue emitted per accumulator through
 * tsc_emit_output, as emit_gemm.c does for mma.sync. The launch carries the
 * maps the runtime encodes (A over {K, M}, B over {K, N}, 128B swizzle) and
 * is persistent: the runtime lowers the grid to the GPU's SM count. */
#include "gemm_plan.h"

/* A map over operand 'arg' (a [rows, K] matrix, K contiguous, row stride
 * 'ld' elements) read in boxes of 'box_rows' rows by bk columns. */
static struct ts_cuda_tmap operand_map(const struct ts_koperand *op, int arg, int64_t rows, int64_t kdim, int64_t ld,
                                       int box_rows, int bk) {
    int64_t lead = rows > 1 ? ld : kdim; /* a single row: any stride works, keep it legal */
    return (struct ts_cuda_tmap){
        .arg = arg,
        .dtype = op->dtype == TS_BF16 ? 2 : 1,
        .rank = 2,
        .swizzle = 128,
        .offset = op->offset * 2,
        .dims = {(uint64_t)kdim, (uint64_t)rows, 1},
        .strides = {(uint64_t)(lead < 8 ? 8 : (lead + 7) / 8 * 8) * 2, 0},
        .box = {(uint32_t)bk, (uint32_t)box_rows, 1},
    };
}

enum ts_status tsc_emit_gemm_wgmma(struct tsc_emit *e, const struct tsc_gemm_plan *p, struct ts_diag *d) {
    (void)d;
    const struct ts_kernel *k = e->k;
    struct tsc_src *s = e->src;
    struct tsc_hopper_gemm_cfg cfg;
    tsc_gemm_wgmma_cfg(k, &cfg);
    int r = k->rank;

    tsc_printf(s,
               "/* GEMM %lld×%lld×%lld, wgmma (sm_90a, TMA), %d×%d×%d tiles, %d consumer warpgroup%s, "
               "%d stages, persistent, group %d */\n",
               (long long)p->m, (long long)p->n, (long long)p->kdim, cfg.bm, cfg.bn, cfg.bk, cfg.consumers,
               cfg.consumers > 1 ? "s" : "", cfg.stages, cfg.group_m);
    /* The host emulator (tests/cuda_emu) cannot run TMA or wgmma: it sees
     * no such kernel, and the code generator writes it no trampoline. */
    tsc_puts(s, "#ifndef TS_EMULATE\n");
    tsc_hopper_gemm_emit_defs(s, &cfg);
    tsc_printf(s, "extern \"C\" __global__ void __launch_bounds__(%d, 1) %s", p->threads, e->sym);
    struct tsc_src params = {0};
    tsc_emit_params(&params, k);
    tsc_printf(s, "(const __grid_constant__ TsTensorMap tma_a, const __grid_constant__ TsTensorMap tma_b,\n    %s {\n",
               params.data ? params.data + 1 : ")");
    if (params.oom) s->oom = true;
    tsc_src_free(&params);
    tsc_printf(s, "    const int M = %lld, N = %lld, K = %lld;\n    (void)workspace;\n", (long long)p->m,
               (long long)p->n, (long long)p->kdim);
    tsc_puts(s, tsc_hopper_gemm_mainloop);
    /* The accumulators' coordinates are those of the template's m64nN
     * fragment (hopper.h); a row or column past the edge is padding. */
    tsc_puts(s, "#pragma unroll\n"
                "            for (int mi = 0; mi < TSH_MI; mi++)\n"
                "#pragma unroll\n"
                "                for (int i = 0; i < TSH_BN / 2; i++) {\n"
                "                    const long long row = row0 + mi * 64 + ((i >> 1) & 1) * 8;\n"
                "                    const long long col = col0 + (i >> 2) * 8 + (i & 1);\n"
                "                    if (row >= M || col >= N) continue;\n");
    tsc_printf(s, "                    const %s g_acc = (%s)acc[mi][i];\n", tsc_scalar_type(k->acc_type),
               tsc_scalar_type(k->acc_type));
    struct tsc_env env = {.acc = "g_acc", .prefix = "v"};
    for (int dd = 0; dd + 2 < r; dd++) env.index[dd] = "0LL"; /* batch dims, all of extent 1 */
    if (r >= 2) env.index[r - 2] = "row";
    if (r >= 1) env.index[r - 1] = "col";
    tsc_puts(s, "                    {\n");
    tsc_emit_output(s, k, &env);
    tsc_puts(s, "                    }\n                }\n");
    tsc_puts(s, tsc_hopper_gemm_close);
    tsc_hopper_gemm_emit_undefs(s);
    tsc_puts(s, "#endif\n");

    const struct ts_koperand *A = &k->inputs[0], *B = &k->inputs[1];
    int64_t tiles = p->tiles_m * p->tiles_n;
    e->launch = (struct ts_cuda_launch){
        .grid = {(uint32_t)(tiles < 1 ? 1 : tiles > INT32_MAX ? INT32_MAX : tiles), 1, 1},
        .block = {(uint32_t)p->threads, 1, 1},
        .shared_bytes = (uint32_t)p->smem,
        .tmaps = {operand_map(A, 0, p->m, p->kdim, p->sam, cfg.bm, cfg.bk),
                  operand_map(B, 1, p->n, p->kdim, p->sbn, cfg.bn, cfg.bk)},
        .ntmaps = 2,
        .persistent = true,
    };
    return TS_OK;
}
