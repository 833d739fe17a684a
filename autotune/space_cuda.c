/* space_cuda.c — the GPU search spaces (the 'gpu' fields of each schedule):
 * GEMM block and warp tiles, k step, pipeline depth, split-K, rasterization
 * and instruction (with TESSERA_HOPPER=1 on sm_90a, the wgmma template's tiles,
 * consumers, stages and tile groups); pointwise and rowwise block shapes and vector widths;
 * attention blocks, warps and stages. Lists are fitted to the problem (no
 * 256-row tile for 16 rows) and ts_tune_check (ts_cuda_sched_check) refuses
 * the rest: shared memory, accumulator registers, divisibility. */
#include "autotune/space_internal.h"

static int64_t cdiv(int64_t a, int64_t b) { return b > 0 ? (a + b - 1) / b : 0; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* ---- GEMM -------------------------------------------------------------------- */

/* Block sides tried for a matrix side of n: 32 only for sides up to 64, and a
 * side no larger than twice what n needs (a tile mostly of padding only
 * wastes the GPU). */
static int tile_sides(int64_t n, const int *sides, int nsides, int *out) {
    int k = 0;
    for (int i = 0; i < nsides; i++) {
        int v = sides[i];
        if (v == 32 ? n <= 64 : v / 2 < n) out[k++] = v;
    }
    if (k == 0) out[k++] = sides[0];
    return k;
}

/* Warp tiles of a bm × bn block with 4 or 8 warps, no narrower than min_side
 * and at most 2:1 (long thin warp tiles reload one operand's fragments). */
static int warp_tiles(int bm, int bn, int min_side, int (*out)[2]) {
    int k = 0;
    for (int warps = 4; warps <= 8; warps *= 2)
        for (int wm = bm; wm >= min_side; wm /= 2)
            for (int wn = bn; wn >= min_side; wn /= 2) {
                if (bm % wm || bn % wn || (bm / wm) * (bn / wn) != warps) continue;
                if (wm > 2 * wn || wn > 2 * wm) continue;
                out[k][0] = wm;
                out[k][1] = wn;
                k++;
            }
    return k;
}

/* The sm_90a wgmma template (issue #8, only with TESSERA_HOPPER=1): 64 or
 * 128 rows per tile in 1 or 2 consumer warpgroups of 64 or 128 rows, one
 * wgmma n of 64–256 columns, 3–6 stages, the persistent order in groups of
 * 1 or 8 tile rows. ts_tune_check drops what the template or the operands
 * refuse (accumulators past 128 a thread, shared memory, K not contiguous). */
static void space_gemm_wgmma(struct ts_space_builder *b, int64_t m, int64_t n) {
    static const int bns[] = {64, 128, 192, 256};
    static const int shapes[][2] = {{64, 64}, {128, 64}, {128, 128}}; /* bm, rows per consumer */
    for (int si = 0; si < 3; si++) {
        int bm = shapes[si][0], wm = shapes[si][1];
        if (bm == 128 && m <= 64) continue;
        for (int ni = 0; ni < 4; ni++) {
            int bn = bns[ni];
            if (bn > 64 && bn / 2 >= n) continue;
            for (int st = 3; st <= 6; st++)
                for (int group = 1; group <= 8; group += 7) {
                    union ts_sched s = {0};
                    s.gemm.gpu.bm = bm;
                    s.gemm.gpu.bn = bn;
                    s.gemm.gpu.bk = 64;
                    s.gemm.gpu.wm = wm;
                    s.gemm.gpu.wn = bn;
                    s.gemm.gpu.stages = st;
                    s.gemm.gpu.split_k = 1;
                    s.gemm.gpu.swizzle = group;
                    s.gemm.gpu.instr = TS_GEMM_INSTR_WGMMA;
                    ts_space_add(b, &s);
                }
        }
    }
}

static void space_gemm_cuda(struct ts_space_builder *b, const struct ts_cuda_arch *arch) {
    const struct ts_kernel *k = b->k;
    const struct ts_tune_target *t = b->t;
    const struct ts_sched_gemm *def = &b->out->cands[0].gemm;
    int r = k->rank;
    int64_t batch = 1;
    for (int i = 0; i + 2 < r; i++) batch *= max64(k->dims[i], 1);
    int64_t m = max64(r >= 2 ? k->dims[r - 2] : 1, 1), n = max64(r >= 1 ? k->dims[r - 1] : 1, 1);
    int64_t kd = max64(k->k, 1);
    int sms = t->sm_count > 0 ? t->sm_count : arch->sm >= 90 ? 132 : 108;

    /* Instructions the dtypes allow, the default's first: tensor cores for
     * f16/bf16 pairs and (unless strict) f32 pairs as tf32; CUDA cores for
     * f32 as well (exact f32 products), and for everything else. */
    enum ts_gemm_instr instrs[3];
    int ninstr = 0;
    instrs[ninstr++] = def->gpu.instr;
    enum ts_dtype da = k->ninputs >= 2 ? k->inputs[0].dtype : TS_F32, db = k->ninputs >= 2 ? k->inputs[1].dtype : da;
    bool f32acc = k->acc_type == TS_SCALAR_F32;
    if (f32acc && da == db && (da == TS_F16 || da == TS_BF16)) {
        if (def->gpu.instr != TS_GEMM_INSTR_MMA_F16) instrs[ninstr++] = TS_GEMM_INSTR_MMA_F16;
    } else if (f32acc && da == TS_F32 && db == TS_F32 && !t->strict_f32) {
        if (def->gpu.instr != TS_GEMM_INSTR_MMA_TF32) instrs[ninstr++] = TS_GEMM_INSTR_MMA_TF32;
        if (def->gpu.instr != TS_GEMM_INSTR_SIMT) instrs[ninstr++] = TS_GEMM_INSTR_SIMT;
    } else if (def->gpu.instr != TS_GEMM_INSTR_SIMT) {
        instrs[ninstr++] = TS_GEMM_INSTR_SIMT;
    }

    if (ts_cuda_hopper_enabled() && arch->sm == 90 && arch->specific && f32acc && da == db &&
        (da == TS_F16 || da == TS_BF16))
        space_gemm_wgmma(b, m, n);

    static const int mma_sides[] = {32, 64, 128, 256}, simt_sides[] = {32, 64, 128};
    for (int ii = 0; ii < ninstr; ii++) {
        enum ts_gemm_instr in = instrs[ii];
        bool simt = in == TS_GEMM_INSTR_SIMT;
        int bms[4], bns[4];
        int nbm = tile_sides(m, simt ? simt_sides : mma_sides, simt ? 3 : 4, bms);
        int nbn = tile_sides(n, simt ? simt_sides : mma_sides, simt ? 3 : 4, bns);
        /* k per stage: 32 and 64 f16 elements (64–128 bytes a row), 16 and
         * 32 for tf32 and the CUDA-core path. */
        int bks[2] = {32, 64}, nbk = 2;
        if (in != TS_GEMM_INSTR_MMA_F16) bks[0] = 16, bks[1] = 32;
        /* Pipelines of 2–4 stages (5 and more only fill shared memory for
         * mma.sync tiles); the CUDA-core path beside tf32 is the exact-f32
         * alternative, tried at its default depth and k step only. */
        int stages_lo = 2, stages_hi = simt ? 3 : 4;
        if (simt && ii > 0) nbk = 1, stages_hi = 2;
        for (int mi = 0; mi < nbm; mi++)
            for (int ni = 0; ni < nbn; ni++) {
                int bm = bms[mi], bn = bns[ni];
                int wt[16][2];
                int nwt = warp_tiles(bm, bn, 16, wt);
                /* tf32 fragments are converted in registers: 64×64 warp tiles
                 * reach ptxas's 255-register ceiling (sched_gemm.c), so
                 * at most 64×32. */
                if (in == TS_GEMM_INSTR_MMA_TF32) {
                    int keep = 0;
                    for (int w = 0; w < nwt; w++)
                        if (wt[w][0] * wt[w][1] <= 2048) wt[keep][0] = wt[w][0], wt[keep++][1] = wt[w][1];
                    nwt = keep;
                }
                int64_t tm = cdiv(m, bm), tn = cdiv(n, bn), tiles = batch * tm * tn;
                /* Rasterized in groups of 8 C-tile columns (4 on narrower
                 * grids) for L2 reuse, or not at all. */
                int swz[2], nswz = 0;
                swz[nswz++] = 1;
                if (tm >= 4 && tn >= 4) swz[nswz++] = tn >= 8 ? 8 : 4;
                for (int ki = 0; ki < nbk; ki++) {
                    int bk = bks[ki];
                    /* Split K only when the C tiles leave SMs idle and each
                     * split still has 8 k steps. */
                    int splits[3], nsplit = 0;
                    splits[nsplit++] = 1;
                    if (tiles < sms && kd / bk >= 16) splits[nsplit++] = 2;
                    if (2 * tiles < sms && kd / bk >= 32) splits[nsplit++] = 4;
                    for (int wi = 0; wi < nwt; wi++)
                        for (int st = stages_lo; st <= stages_hi; st++)
                            for (int si = 0; si < nsplit; si++)
                                for (int zi = 0; zi < nswz; zi++) {
                                    union ts_sched s = {0};
                                    s.gemm.gpu.bm = bm;
                                    s.gemm.gpu.bn = bn;
                                    s.gemm.gpu.bk = bk;
                                    s.gemm.gpu.wm = wt[wi][0];
                                    s.gemm.gpu.wn = wt[wi][1];
                                    s.gemm.gpu.stages = st;
                                    s.gemm.gpu.split_k = splits[si];
                                    s.gemm.gpu.swizzle = swz[zi];
                                    s.gemm.gpu.instr = in;
                                    ts_space_add(b, &s);
                                }
                }
            }
    }
}

/* ---- pointwise, rowwise, attention ------------------------------------------- */

static void space_rows_cuda(struct ts_space_builder *b) {
    static const int threads[] = {64, 128, 256, 512}, vecs[] = {1, 2, 4, 8};
    for (int ti = 0; ti < 4; ti++)
        for (int vi = 0; vi < 4; vi++) {
            union ts_sched s = {0};
            if (b->k->kind == TS_KERNEL_POINTWISE) {
                s.pointwise.gpu.threads = threads[ti];
                s.pointwise.gpu.vec = vecs[vi];
            } else {
                s.rowwise.gpu.threads = threads[ti];
                s.rowwise.gpu.vec = vecs[vi];
            }
            ts_space_add(b, &s);
        }
}

/* Warps of 16 query rows each (block_q = 16·warps), no more rows than twice
 * the queries; key steps up to twice the keys; a deeper k/v ring only when
 * there is more than one key step. */
static void space_attention_cuda(struct ts_space_builder *b) {
    const struct ts_kernel *k = b->k;
    int64_t sq = max64(k->attn.sq, 1), sk = max64(k->attn.sk, 1);
    static const int warps[] = {1, 2, 4, 8}, bks[] = {16, 32, 64, 128};
    for (int wi = 0; wi < 4; wi++) {
        int w = warps[wi];
        if (w == 1 ? sq > 32 : 8 * w >= sq) continue;
        for (int ki = 0; ki < 4; ki++) {
            int bk = bks[ki];
            if (bk == 16 ? sk > 16 : bk / 2 >= sk) continue;
            for (int st = 1; st <= 3; st++) {
                if (st > 1 && sk <= bk) continue;
                union ts_sched s = {0};
                s.attention.gpu.warps = w;
                s.attention.gpu.block_q = 16 * w;
                s.attention.gpu.block_k = bk;
                s.attention.gpu.stages = st;
                ts_space_add(b, &s);
            }
        }
    }
}

void ts_space_cuda(struct ts_space_builder *b, const struct ts_cuda_arch *arch) {
    switch (b->k->kind) {
    case TS_KERNEL_POINTWISE:
    case TS_KERNEL_ROWWISE: space_rows_cuda(b); break;
    case TS_KERNEL_GEMM: space_gemm_cuda(b, arch); break;
    case TS_KERNEL_ATTENTION: space_attention_cuda(b); break;
    default: break;
    }
}
