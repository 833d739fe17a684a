/* emit_gemm.c — tsc_emit_gemm: a GEMM kernel as CUDA C. Writes the
 * configuration struct (tile shape, dtypes, strides and layouts as
 * compile-time constants) that instantiates a main loop of prelude/gemm.cuh,
 * and the __global__ wrapper of the codegen.h ABI: block → C tile
 * (rasterized), batch → operand offsets, split-K reduction, then the fused
 * epilogue per accumulator through tsc_emit_output, and fills the launch. */
#include <stdio.h>

#include "gemm_plan.h"

static const char *dt_macro(int dt) {
    static const char *const names[] = {"TS_GEMM_DT_F32", "TS_GEMM_DT_F16", "TS_GEMM_DT_BF16",
                                        "TS_GEMM_DT_I32", "TS_GEMM_DT_I64", "TS_GEMM_DT_BOOL"};
    return names[dt];
}

static void emit_config(struct tsc_src *s, const struct tsc_emit *e, const struct tsc_gemm_plan *p) {
    const struct ts_kernel *k = e->k;
    const struct ts_sched_gemm *g = &k->sched.gemm;
    bool simt = p->instr == TS_GEMM_INSTR_SIMT;
    tsc_printf(s, "struct %s_cfg {\n", e->sym);
    tsc_printf(s, "    typedef %s TA;\n    typedef %s TB;\n", tsc_storage_type(k->inputs[0].dtype),
               tsc_storage_type(k->inputs[1].dtype));
    tsc_printf(s, "    typedef %s ACC;\n", k->acc_type == TS_SCALAR_I64 ? "ts_u64" : "float");
    tsc_printf(s,
               "    enum { INSTR = %d, ADT = %s, BDT = %s, BM = %d, BN = %d, BK = %d, WM = %d, WN = %d,\n"
               "           STAGES = %d, SPLIT = %d, SWZ = %d, NTHREADS = %d, ALAY = %d, AVEC = %d, BLAY = %d,\n"
               "           BVEC = %d, SMEM = %lld };\n",
               simt ? 1 : p->instr == TS_GEMM_INSTR_MMA_F16 ? 2 : 3, dt_macro(p->adt), dt_macro(p->bdt), g->gpu.bm,
               g->gpu.bn, g->gpu.bk, g->gpu.wm, g->gpu.wn, g->gpu.stages, g->gpu.split_k, g->gpu.swizzle,
               p->threads, p->alay, simt ? 1 : p->avec, p->blay, simt ? 1 : p->bvec, (long long)p->smem);
    tsc_printf(s,
               "    static constexpr long long M = %lldLL, N = %lldLL, K = %lldLL, BATCH = %lldLL,\n"
               "        TILES_M = %lldLL, TILES_N = %lldLL, SAM = %lldLL, SAK = %lldLL, SBN = %lldLL, SBK = %lldLL;\n"
               "};\n",
               (long long)p->m, (long long)p->n, (long long)p->kdim, (long long)p->batch, (long long)p->tiles_m,
               (long long)p->tiles_n, (long long)p->sam, (long long)p->sak, (long long)p->sbn, (long long)p->sbk);
}

/* "off + Σ b_d·stride_d" over the batch dims of operand op. */
static void batch_offset(struct tsc_src *s, const struct ts_koperand *op, int nbatch) {
    tsc_printf(s, "%lldLL", (long long)op->offset);
    for (int d = 0; d < nbatch; d++)
        if (op->strides[d] != 0) tsc_printf(s, " + %lldLL * b%d", (long long)op->strides[d], d);
}

enum ts_status tsc_emit_gemm(struct tsc_emit *e, struct ts_diag *d) {
    const struct ts_kernel *k = e->k;
    struct tsc_gemm_plan p;
    TS_TRY(tsc_gemm_plan(k, e->arch, e->strict_f32, &p, d));
    if (p.instr == TS_GEMM_INSTR_WGMMA) return tsc_emit_gemm_wgmma(e, &p, d);
    struct tsc_src *s = e->src;
    const struct ts_sched_gemm *g = &k->sched.gemm;
    bool simt = p.instr == TS_GEMM_INSTR_SIMT;
    int r = k->rank;

    /* (no kernel name in the text: identical kernels share one function) */
    tsc_printf(s, "/* GEMM [%lld×] %lld×%lld×%lld, %s, %d×%d×%d tiles of %d×%d warps, %d stages, split %d */\n",
               (long long)p.batch, (long long)p.m, (long long)p.n, (long long)p.kdim,
               ts_gemm_instr_name(p.instr), g->gpu.bm, g->gpu.bn, g->gpu.bk, g->gpu.wm, g->gpu.wn, g->gpu.stages,
               g->gpu.split_k);
    emit_config(s, e, &p);
    tsc_printf(s, "extern \"C\" __global__ void __launch_bounds__(%d, 1) %s", p.threads, e->sym);
    tsc_emit_params(s, k);
    tsc_printf(s, " {\n    typedef %s_cfg C;\n    typedef %s<C> G;\n", e->sym, simt ? "ts_gemm_simt" : "ts_gemm_tc");
    tsc_puts(s, "    TS_SMEM_DECLARE(ts_smem);\n    G g;\n    long long tm, tn;\n");
    tsc_puts(s, "    if (!ts_gemm_tile_of<C>((long long)blockIdx.x, &tm, &tn)) return;\n");
    tsc_puts(s, "    const long long m0 = tm * C::BM, n0 = tn * C::BN;\n");
    tsc_puts(s, "    for (long long bt = blockIdx.z; bt < C::BATCH; bt += gridDim.z) {\n");
    /* batch indices, innermost last */
    int64_t inner = 1;
    for (int dd = p.nbatch - 1; dd >= 0; dd--) {
        tsc_printf(s, "        const long long b%d = bt / %lldLL %% %lldLL;\n", dd, (long long)inner,
                   (long long)k->dims[dd]);
        inner *= k->dims[dd];
    }
    tsc_puts(s, "        const long long oa = ");
    batch_offset(s, &k->inputs[0], p.nbatch);
    tsc_puts(s, ", ob = ");
    batch_offset(s, &k->inputs[1], p.nbatch);
    tsc_puts(s, ";\n        g.run(in0, in1, oa, ob, m0, n0, (int)blockIdx.y, ts_smem);\n");
    if (g->gpu.split_k > 1)
        tsc_puts(s, "        if (!ts_gemm_splitk<C, G>::reduce(g.acc, workspace,\n"
                    "                (bt * C::TILES_M + tm) * C::TILES_N + tn, (int)blockIdx.y,\n"
                    "                ts_smem + C::SMEM - 16))\n"
                    "            continue;\n");
    else
        tsc_puts(s, "        (void)workspace;\n");
    tsc_puts(s, "        TS_GEMM_UNROLL\n        for (int q = 0; q < G::NACC; q++) {\n"
                "            long long row, col;\n            G::coord(q, m0, n0, &row, &col);\n"
                "            if (row >= C::M || col >= C::N) continue;\n");
    tsc_printf(s, "            const %s g_acc = (%s)g.acc[q];\n", tsc_scalar_type(k->acc_type),
               tsc_scalar_type(k->acc_type));
    struct tsc_env env = {.acc = "g_acc", .prefix = "v"};
    static const char *const bnames[TS_MAX_RANK] = {"b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"};
    for (int dd = 0; dd < p.nbatch; dd++) env.index[dd] = bnames[dd];
    if (r >= 2) env.index[r - 2] = "row";
    if (r >= 1) env.index[r - 1] = "col";
    tsc_puts(s, "            {\n");
    tsc_emit_output(s, k, &env);
    tsc_puts(s, "            }\n        }\n    }\n}\n");

    int64_t tiles = p.tiles_m * p.tiles_n, bz = p.batch < 1 ? 1 : p.batch > 65535 ? 65535 : p.batch;
    e->launch = (struct ts_cuda_launch){
        .grid = {(uint32_t)(tiles < 1 ? 1 : tiles), (uint32_t)g->gpu.split_k, (uint32_t)bz},
        .block = {(uint32_t)p.threads, 1, 1},
        .shared_bytes = (uint32_t)p.smem,
        .workspace_bytes = p.workspace,
    };
    return TS_OK;
}
