/* sched_gemm.c — GPU schedules of GEMM kernels: the default per problem size
 * (tile, warp tile, pipeline depth, split-K, rasterization, instruction from
 * the dtypes), the legality check the autotuner relies on, and the plan
 * (gemm_plan.h) that turns a schedule into layouts, copy widths, threads,
 * shared memory and workspace for emit_gemm.c. */
#include <stdlib.h>
#include <string.h>

#include "gemm_plan.h"

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Split-K workspace is kept below this (the runtime allocates it once). */
#define MAX_WORKSPACE ((int64_t)64 << 20)

static void shape(const struct ts_kernel *k, int64_t *batch, int64_t *m, int64_t *n) {
    int r = k->rank;
    *batch = 1;
    for (int d = 0; d + 2 < r; d++) *batch *= k->dims[d];
    *m = r >= 2 ? k->dims[r - 2] : 1;
    *n = r >= 1 ? k->dims[r - 1] : 1;
}

static int gemm_dt(enum ts_dtype t) {
    switch (t) {
    case TS_F32: return 0;
    case TS_F16: return 1;
    case TS_BF16: return 2;
    case TS_I32: return 3;
    case TS_I64: return 4;
    default: return 5;
    }
}

/* The instruction AUTO stands for: tensor cores when both operands have
 * the same 16-bit float dtype (m16n8k16) or are both f32 (tf32, unless
 * strict), CUDA cores otherwise. */
static enum ts_gemm_instr auto_instr(const struct ts_kernel *k, bool strict_f32) {
    if (k->ninputs < 2 || k->acc_type != TS_SCALAR_F32) return TS_GEMM_INSTR_SIMT;
    enum ts_dtype a = k->inputs[0].dtype, b = k->inputs[1].dtype;
    if (a == b && (a == TS_F16 || a == TS_BF16)) return TS_GEMM_INSTR_MMA_F16;
    if (a == TS_F32 && b == TS_F32 && !strict_f32) return TS_GEMM_INSTR_MMA_TF32;
    return TS_GEMM_INSTR_SIMT;
}

bool ts_cuda_hopper_enabled(void) {
    const char *v = getenv("TESSERA_HOPPER");
    return v && strcmp(v, "1") == 0;
}

/* Why the sm_90a wgmma template cannot compute k on arch (NULL: it can):
 * TMA reads both operands as 2-D row-major tiles with K contiguous. */
static const char *wgmma_refusal(const struct ts_kernel *k, const struct ts_cuda_arch *a) {
    if (!ts_cuda_hopper_enabled()) return "instr wgmma is off (set TESSERA_HOPPER=1 to use the sm_90a templates)";
    if (a->sm != 90 || !a->specific) return "instr wgmma needs sm_90a";
    if (k->ninputs < 2 || k->acc_type != TS_SCALAR_F32) return "instr wgmma needs A and B with f32 accumulation";
    const struct ts_koperand *A = &k->inputs[0], *B = &k->inputs[1];
    if (A->dtype != B->dtype || (A->dtype != TS_F16 && A->dtype != TS_BF16))
        return "instr wgmma needs A and B both f16 or both bf16";
    int r = k->rank;
    int64_t batch, m, n;
    shape(k, &batch, &m, &n);
    if (batch != 1) return "instr wgmma has no batch dims (batched GEMMs stay on mma_f16)";
    if (A->kstride != 1 || B->kstride != 1)
        return "instr wgmma needs K contiguous in A and B (B given as [N, K]; others stay on mma_f16)";
    int64_t sam = r >= 2 ? A->strides[r - 2] : 0, sbn = r >= 1 ? B->strides[r - 1] : 0;
    /* TMA: 16-byte aligned start and row strides (buffers are 256-byte aligned). */
    if (A->offset % 8 || B->offset % 8 || (m > 1 && (sam % 8 || sam < k->k)) || (n > 1 && (sbn % 8 || sbn < k->k)))
        return "instr wgmma needs 16-byte aligned operand rows (offsets and row strides multiples of 8 elements)";
    if (m >= INT32_MAX || n >= INT32_MAX || k->k >= INT32_MAX || k->k < 1)
        return "instr wgmma needs M, N and K below 2^31";
    return NULL;
}

void tsc_gemm_wgmma_cfg(const struct ts_kernel *k, struct tsc_hopper_gemm_cfg *cfg) {
    const struct ts_sched_gemm *s = &k->sched.gemm;
    *cfg = (struct tsc_hopper_gemm_cfg){
        .bm = s->gpu.bm,
        .bn = s->gpu.bn,
        .bk = s->gpu.bk,
        .stages = s->gpu.stages,
        .consumers = s->gpu.wm > 0 ? s->gpu.bm / s->gpu.wm : 0,
        .group_m = s->gpu.swizzle,
        .in = k->ninputs >= 1 ? k->inputs[0].dtype : TS_F32,
        .out = TS_F32, /* unused: the program's epilogue stores */
        .name = k->name,
    };
}

static int sm_count(const struct ts_cuda_arch *a) { return a->sm >= 90 ? 132 : a->sm == 80 ? 108 : 84; }

void tsc_sched_default_gemm(struct ts_kernel *k, const struct ts_cuda_arch *a, bool strict_f32) {
    struct ts_sched_gemm *s = &k->sched.gemm;
    int64_t batch, m, n;
    shape(k, &batch, &m, &n);
    if (s->gpu.instr == TS_GEMM_INSTR_AUTO) {
        s->gpu.instr = auto_instr(k, strict_f32);
        if (s->gpu.instr == TS_GEMM_INSTR_MMA_F16 && !wgmma_refusal(k, a)) s->gpu.instr = TS_GEMM_INSTR_WGMMA;
    }
    if (s->gpu.instr == TS_GEMM_INSTR_WGMMA) {
        /* fast.cu's and CUTLASS's shape: 128 rows (two consumer warpgroups
         * of 64) by 128 columns, k 64 (one 128-byte swizzle row), 4 stages
         * (128 KiB), groups of 8 tile rows; 64 where a side is small. */
        if (!s->gpu.bm) s->gpu.bm = m <= 64 ? 64 : 128;
        if (!s->gpu.bn) s->gpu.bn = n <= 64 ? 64 : 128;
        if (!s->gpu.bk) s->gpu.bk = 64;
        if (!s->gpu.wm) s->gpu.wm = 64;
        if (!s->gpu.wn) s->gpu.wn = s->gpu.bn;
        if (!s->gpu.stages) s->gpu.stages = 4;
        if (!s->gpu.split_k) s->gpu.split_k = 1;
        if (!s->gpu.swizzle) s->gpu.swizzle = 8;
        return;
    }
    bool simt = s->gpu.instr == TS_GEMM_INSTR_SIMT;
    if (simt) {
        /* 64×64 tiles of 4 warps (8×4 per thread); 32 for thin sides */
        if (!s->gpu.bm) s->gpu.bm = m <= 32 ? 32 : 64;
        if (!s->gpu.bn) s->gpu.bn = n <= 32 ? 32 : 64;
        if (!s->gpu.bk) s->gpu.bk = 16;
        if (!s->gpu.wm) s->gpu.wm = s->gpu.bm / 2;
        if (!s->gpu.wn) s->gpu.wn = s->gpu.bn / 2;
        if (!s->gpu.stages) s->gpu.stages = 2;
    } else {
        /* 128×128 of four 64×64 warps for big problems; 64 and 32 (warps of
         * half the tile) where M or N is small, so fewer rows are wasted */
        if (!s->gpu.bm) s->gpu.bm = m <= 32 ? 32 : m <= 64 ? 64 : 128;
        if (!s->gpu.bn) s->gpu.bn = n <= 32 ? 32 : n <= 64 ? 64 : 128;
        if (!s->gpu.bk) s->gpu.bk = s->gpu.instr == TS_GEMM_INSTR_MMA_TF32 ? 16 : 32;
        if (!s->gpu.wm) s->gpu.wm = s->gpu.bm >= 128 ? 64 : s->gpu.bm / 2;
        /* tf32 fragments are loaded element-wise and converted: 64×64 warps
         * reach ptxas's 255-register ceiling, so 64×32 (eight warps) */
        bool tf32 = s->gpu.instr == TS_GEMM_INSTR_MMA_TF32;
        if (!s->gpu.wn) s->gpu.wn = s->gpu.bn >= 128 ? (tf32 ? 32 : 64) : s->gpu.bn / 2;
        if (!s->gpu.stages)
            s->gpu.stages = s->gpu.bm >= 128 && s->gpu.bn >= 128 && k->k >= 8 * s->gpu.bk ? 4 : 3;
    }
    int64_t tm = cdiv(m, s->gpu.bm > 0 ? s->gpu.bm : 1), tn = cdiv(n, s->gpu.bn > 0 ? s->gpu.bn : 1);
    if (!s->gpu.split_k) {
        /* Split K when the C tiles cannot fill half the GPU and K is long:
         * each split keeps at least 4 k tiles. */
        int64_t tiles = batch * tm * tn, kt = cdiv(k->k, s->gpu.bk > 0 ? s->gpu.bk : 1);
        int64_t sp = 1, nsm = sm_count(a);
        if (tiles > 0 && tiles * 2 <= nsm && kt >= 8) {
            sp = nsm / tiles;
            if (sp > kt / 4) sp = kt / 4;
            if (sp > 16) sp = 16;
            int64_t per = (int64_t)s->gpu.bm * s->gpu.bn * (simt && k->acc_type == TS_SCALAR_I64 ? 8 : 4);
            while (sp > 1 && tiles * sp * per > MAX_WORKSPACE) sp--;
            if (sp < 1) sp = 1;
        }
        s->gpu.split_k = (int)sp;
    }
    if (!s->gpu.swizzle) s->gpu.swizzle = tm >= 8 && tn >= 8 ? 8 : 1;
}

/* Elements per global copy of an operand whose contiguous dim has stride 1:
 * the widest v <= maxv dividing its offset and every stride that moves the
 * copy's start (dims of extent 1 never move it). */
static int pick_vec(const struct ts_koperand *op, const struct ts_kernel *k, int nbatch, int64_t lead,
                    int64_t lead_extent, int maxv) {
    for (int v = maxv; v > 1; v /= 2) {
        bool ok = op->offset % v == 0 && (lead_extent <= 1 || lead % v == 0);
        for (int d = 0; d < nbatch; d++) ok = ok && (k->dims[d] <= 1 || op->strides[d] % v == 0);
        if (ok) return v;
    }
    return 1;
}

static enum ts_status fail(struct ts_diag *d, const struct ts_kernel *k, const char *rule) {
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "GPU GEMM schedule: %s", rule);
}

/* A wgmma schedule: the template's own rules (hopper_gemm.c) plus what
 * the program's operands must be; no split-K (the persistent blocks cover
 * every tile) and so no workspace. */
static enum ts_status wgmma_plan(const struct ts_kernel *k, const struct ts_cuda_arch *a, struct tsc_gemm_plan *p,
                                 struct ts_diag *d) {
    const struct ts_sched_gemm *s = &k->sched.gemm;
    const char *why = wgmma_refusal(k, a);
    if (why) return fail(d, k, why);
    if (s->gpu.split_k != 1) return fail(d, k, "instr wgmma has no split-K (split_k must be 1)");
    /* zero fields would take the template's defaults: the schedule must say */
    if (s->gpu.bm < 1 || s->gpu.bn < 1 || s->gpu.bk < 1 || s->gpu.stages < 1)
        return fail(d, k, "instr wgmma: bm, bn, bk and stages must be positive");
    if (s->gpu.swizzle < 1) return fail(d, k, "instr wgmma: swizzle (the group of tile rows) must be at least 1");
    if (s->gpu.wm < 1 || s->gpu.bm % s->gpu.wm || s->gpu.wn != s->gpu.bn)
        return fail(d, k, "instr wgmma: wm must divide bm (bm / wm consumer warpgroups) and wn must equal bn");
    struct tsc_hopper_gemm_cfg cfg;
    tsc_gemm_wgmma_cfg(k, &cfg);
    struct ts_diag why_d;
    ts_diag_clear(&why_d);
    if (tsc_hopper_gemm_check(&cfg, &why_d) != TS_OK) {
        const char *msg = strstr(why_d.what, "template: ");
        return fail(d, k, msg ? msg + strlen("template: ") : why_d.what);
    }
    p->threads = tsc_hopper_gemm_threads(&cfg);
    p->nacc = cfg.bm / cfg.consumers / 64 * (cfg.bn / 2);
    p->tiles_m = cdiv(p->m, cfg.bm);
    p->tiles_n = cdiv(p->n, cfg.bn);
    p->smem = tsc_hopper_gemm_shared_bytes(&cfg);
    p->workspace = 0;
    return TS_OK;
}

enum ts_status tsc_gemm_plan(const struct ts_kernel *k, const struct ts_cuda_arch *a, bool strict_f32,
                             struct tsc_gemm_plan *p, struct ts_diag *d) {
    const struct ts_sched_gemm *s = &k->sched.gemm;
    char why[256];
    *p = (struct tsc_gemm_plan){0};
    if (k->ninputs < 2) return fail(d, k, "a GEMM kernel needs A and B operands");
    if (k->acc_type != TS_SCALAR_F32 && k->acc_type != TS_SCALAR_I64)
        return fail(d, k, "the accumulator must be f32 or i64");
    for (int i = 0; i < 2; i++) {
        if (ts_scalar_of_dtype(k->inputs[i].dtype) != k->acc_type)
            return fail(d, k, "operand dtypes must match the accumulator (float with f32, integer with i64)");
        if (k->inputs[i].buffer == k->output.buffer)
            return fail(d, k, "the output must not alias operand A or B (other blocks still read them)");
    }
    int r = k->rank;
    p->nbatch = r >= 2 ? r - 2 : 0;
    shape(k, &p->batch, &p->m, &p->n);
    p->kdim = k->k;
    const struct ts_koperand *A = &k->inputs[0], *B = &k->inputs[1];
    /* A must not move with the column index, B not with the row index. */
    if ((r >= 1 && A->strides[r - 1] != 0 && p->n > 1) || (r >= 2 && B->strides[r - 2] != 0 && p->m > 1))
        return fail(d, k, "A's index map depends on the column or B's on the row");
    p->sam = r >= 2 ? A->strides[r - 2] : 0;
    p->sbn = r >= 1 ? B->strides[r - 1] : 0;
    p->sak = A->kstride;
    p->sbk = B->kstride;
    p->adt = gemm_dt(A->dtype);
    p->bdt = gemm_dt(B->dtype);

    enum ts_gemm_instr in = s->gpu.instr == TS_GEMM_INSTR_AUTO ? auto_instr(k, strict_f32) : s->gpu.instr;
    if (in == TS_GEMM_INSTR_MMA_TF32 && strict_f32) in = TS_GEMM_INSTR_SIMT;
    p->instr = in;
    if (in == TS_GEMM_INSTR_WGMMA) return wgmma_plan(k, a, p, d);
    int bm = s->gpu.bm, bn = s->gpu.bn, bk = s->gpu.bk, wm = s->gpu.wm, wn = s->gpu.wn;
    if (bm < 1 || bn < 1 || bk < 1 || wm < 1 || wn < 1) return fail(d, k, "bm, bn, bk, wm, wn must be positive");
    if (bm % wm || bn % wn) {
        snprintf(why, sizeof why, "bm %% wm and bn %% wn must be 0 (bm %d wm %d bn %d wn %d)", bm, wm, bn, wn);
        return fail(d, k, why);
    }
    int64_t warps = (int64_t)(bm / wm) * (bn / wn);
    if (warps * 32 > 1024) return fail(d, k, "more than 1024 threads per block");
    p->threads = (int)warps * 32;
    if (s->gpu.stages < 2 || s->gpu.stages > 8) return fail(d, k, "stages must be in [2, 8]");
    if (s->gpu.split_k < 1 || s->gpu.split_k > 64) return fail(d, k, "split_k must be in [1, 64]");
    if (s->gpu.swizzle < 1) return fail(d, k, "swizzle must be >= 1");
    p->tiles_m = cdiv(p->m, bm);
    p->tiles_n = cdiv(p->n, bn);

    if (in == TS_GEMM_INSTR_SIMT) {
        if (wm % 4 || wn % 8) return fail(d, k, "SIMT warp tile: wm % 4 and wn % 8 must be 0");
        p->nacc = (wm / 4) * (wn / 8);
        int accb = k->acc_type == TS_SCALAR_I64 ? 8 : 4;
        if (p->nacc * accb > 512)
            return fail(d, k, "SIMT warp tile holds more than 128 accumulator registers per thread");
        p->smem = (int64_t)bk * (bm + bn) * accb + 16;
    } else {
        if (a->sm < 80) return fail(d, k, "mma.sync with ldmatrix and cp.async needs sm_80 or newer");
        bool f16 = in == TS_GEMM_INSTR_MMA_F16;
        enum ts_dtype want = f16 ? A->dtype : TS_F32;
        if (A->dtype != B->dtype || A->dtype != want || (f16 && want != TS_F16 && want != TS_BF16))
            return fail(d, k, f16 ? "mma_f16 needs A and B both f16 or both bf16"
                                  : "mma_tf32 needs A and B both f32");
        int ks = f16 ? 16 : 8;
        if (wm % 16 || wn % (f16 ? 16 : 8) || bk % ks) {
            snprintf(why, sizeof why, "%s needs wm %% 16, wn %% %d and bk %% %d to be 0", ts_gemm_instr_name(in),
                     f16 ? 16 : 8, ks);
            return fail(d, k, why);
        }
        p->nacc = (wm / 16) * (wn / 8) * 4;
        if (p->nacc > 128) return fail(d, k, "warp tile holds more than 128 accumulators per thread (spills)");
        int es = f16 ? 2 : 4, maxv = 16 / es;
        /* Shared layout: k contiguous when the operand is (or when neither
         * dim is: element-wise loads), else rows contiguous (ldmatrix.trans). */
        p->alay = p->sak == 1 || p->sam != 1 ? TSC_GEMM_KMAJOR : TSC_GEMM_RMAJOR;
        p->blay = p->sbk == 1 || p->sbn != 1 ? TSC_GEMM_KMAJOR : TSC_GEMM_RMAJOR;
        if (p->alay == TSC_GEMM_KMAJOR)
            p->avec = p->sak == 1 ? pick_vec(A, k, p->nbatch, p->sam, p->m, maxv) : 1;
        else
            p->avec = pick_vec(A, k, p->nbatch, p->sak, p->kdim, maxv);
        if (p->blay == TSC_GEMM_KMAJOR)
            p->bvec = p->sbk == 1 ? pick_vec(B, k, p->nbatch, p->sbn, p->n, maxv) : 1;
        else
            p->bvec = pick_vec(B, k, p->nbatch, p->sbk, p->kdim, maxv);
        /* ts_gemm_tile of gemm.cuh */
        int64_t tb[2];
        for (int o = 0; o < 2; o++) {
            int lay = o ? p->blay : p->alay, rows = o ? bn : bm;
            int pad = es == 2 ? 8 : lay == TSC_GEMM_KMAJOR ? 4 : 8;
            tb[o] = lay == TSC_GEMM_KMAJOR ? (int64_t)rows * (bk + pad) * es : (int64_t)bk * (rows + pad) * es;
        }
        p->smem = (int64_t)s->gpu.stages * (tb[0] + tb[1]) + 16;
    }
    if (p->smem > tsc_arch_max_shared(a)) {
        snprintf(why, sizeof why, "%lld bytes of shared memory exceed %s's %d", (long long)p->smem, a->name,
                 tsc_arch_max_shared(a));
        return fail(d, k, why);
    }
    if (s->gpu.split_k > 1) {
        /* ts_gemm_splitk of gemm.cuh */
        int64_t nt = p->batch * p->tiles_m * p->tiles_n;
        int accb = in == TS_GEMM_INSTR_SIMT && k->acc_type == TS_SCALAR_I64 ? 8 : 4;
        p->workspace = (nt * 4 + 255) / 256 * 256 + nt * s->gpu.split_k * p->nacc * p->threads * accb;
    }
    return TS_OK;
}

enum ts_status tsc_sched_check_gemm(const struct ts_kernel *k, const struct ts_cuda_arch *a, struct ts_diag *d) {
    struct tsc_gemm_plan p;
    return tsc_gemm_plan(k, a, false, &p, d);
}
