/* sched_attention.c — the GPU schedule of ATTENTION kernels: the default
 * (warps of 16 query rows each, 64-key steps, a two-slot cp.async ring,
 * shrunk until the tiles fit the arch's shared memory) and the rules a
 * schedule must obey for the template of prelude/attention.cuh. */
#include "internal.h"

enum {
    TSC_ATTN_MAX_WARPS = 8, /* 256 threads: the accumulators leave no registers for more */
    TSC_ATTN_MAX_DV = 256,  /* padded dv: the output accumulators live in registers (dv/2 per lane) */
    TSC_ATTN_MAX_STAGES = 8,
};

static int64_t dvp_of(const struct ts_kernel *k) {
    int64_t m = k->inputs[0].dtype == TS_F32 ? 8 : 16, dv = k->attn.dv > 0 ? k->attn.dv : 1;
    return (dv + m - 1) / m * m;
}

void tsc_sched_default_attention(struct ts_kernel *k, const struct ts_cuda_arch *a, bool strict_f32) {
    struct ts_sched_attention *s = &k->sched.attention;
    bool pick_w = s->gpu.warps == 0, pick_q = s->gpu.block_q == 0;
    bool pick_k = s->gpu.block_k == 0, pick_s = s->gpu.stages == 0;
    if (pick_w) {
        /* four warps (64 rows), fewer when the queries are fewer (decode) */
        int64_t w = pick_q ? (k->attn.sq + 15) / 16 : s->gpu.block_q / 16;
        s->gpu.warps = w < 1 ? 1 : w > 4 ? 4 : (int)w;
    }
    if (pick_q) s->gpu.block_q = 16 * s->gpu.warps;
    if (pick_k) {
        /* 64 keys a step; 32 with wide values (score and output fragments
         * share the registers), and on the strict f32 path past dv 64 (its
         * unrolled FMA loops need more of them: 254 at dv 128); no more than
         * the keys, rounded to 16 */
        bool strict = strict_f32 && k->inputs[0].dtype == TS_F32;
        int64_t bk = dvp_of(k) > 128 || (strict && dvp_of(k) > 64) ? 32 : 64;
        int64_t need = (k->attn.sk + 15) / 16 * 16;
        if (need < 16) need = 16;
        s->gpu.block_k = (int)(need < bk ? need : bk);
    }
    if (pick_s) s->gpu.stages = k->attn.sk > s->gpu.block_k ? 2 : 1;
    /* Shrink what was not given until the tiles fit: keys per step, then
     * the ring, then query rows. */
    int64_t max = tsc_arch_max_shared(a);
    while (tsc_attn_shared_bytes(k, s->gpu.block_q, s->gpu.block_k, s->gpu.stages) > max) {
        if (pick_k && s->gpu.block_k > 16) s->gpu.block_k = s->gpu.block_k / 32 * 16 > 16 ? s->gpu.block_k / 32 * 16 : 16;
        else if (pick_s && s->gpu.stages > 1) s->gpu.stages--;
        else if (pick_w && pick_q && s->gpu.warps > 1) s->gpu.block_q = 16 * --s->gpu.warps;
        else break; /* too big for any block: the check says so */
    }
}

static enum ts_status bad(const struct ts_kernel *k, struct ts_diag *d, const char *why) {
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "attention schedule: %s", why);
}

enum ts_status tsc_sched_check_attention(const struct ts_kernel *k, const struct ts_cuda_arch *a, struct ts_diag *d) {
    const struct ts_sched_attention *s = &k->sched.attention;
    char why[256];
    int nin = 3 + (k->attn.has_mask ? 1 : 0);
    if (k->rank != 4 || k->ninputs < nin) return bad(k, d, "not an attention kernel (a tessera bug)");
    for (int i = 0; i < nin; i++) {
        enum ts_dtype t = k->inputs[i].dtype;
        if (t != TS_F32 && t != TS_F16 && t != TS_BF16) {
            snprintf(why, sizeof why, "operand %d has dtype %s; the CUDA kernel takes f32, f16 and bf16", i,
                     ts_dtype_name(t));
            return bad(k, d, why);
        }
    }
    if (k->inputs[1].dtype != k->inputs[0].dtype || k->inputs[2].dtype != k->inputs[0].dtype)
        return bad(k, d, "q, k and v must share one dtype");
    if (k->attn.hkv < 1 || k->attn.hq % k->attn.hkv != 0) {
        snprintf(why, sizeof why, "%lld kv heads do not divide %lld query heads", (long long)k->attn.hkv,
                 (long long)k->attn.hq);
        return bad(k, d, why);
    }
    if (s->gpu.warps < 1 || s->gpu.warps > TSC_ATTN_MAX_WARPS) {
        snprintf(why, sizeof why, "warps %d is not in [1, %d]", s->gpu.warps, TSC_ATTN_MAX_WARPS);
        return bad(k, d, why);
    }
    if (s->gpu.block_q != 16 * s->gpu.warps) {
        snprintf(why, sizeof why, "block_q %d must be 16·warps = %d (each warp owns 16 query rows of the mma)",
                 s->gpu.block_q, 16 * s->gpu.warps);
        return bad(k, d, why);
    }
    if (s->gpu.block_k < 16 || s->gpu.block_k > 128 || s->gpu.block_k % 16 != 0) {
        snprintf(why, sizeof why, "block_k %d is not a multiple of 16 in [16, 128]", s->gpu.block_k);
        return bad(k, d, why);
    }
    if (s->gpu.stages < 1 || s->gpu.stages > TSC_ATTN_MAX_STAGES) {
        snprintf(why, sizeof why, "stages %d is not in [1, %d]", s->gpu.stages, TSC_ATTN_MAX_STAGES);
        return bad(k, d, why);
    }
    if (dvp_of(k) > TSC_ATTN_MAX_DV) {
        snprintf(why, sizeof why, "dv %lld exceeds %d (the output rows are held in registers)", (long long)k->attn.dv,
                 TSC_ATTN_MAX_DV);
        return bad(k, d, why);
    }
    int64_t smem = tsc_attn_shared_bytes(k, s->gpu.block_q, s->gpu.block_k, s->gpu.stages);
    if (smem > tsc_arch_max_shared(a)) {
        snprintf(why, sizeof why, "%lld bytes of shared memory (block %d×%d, %d stages, d %lld, dv %lld) exceed %s's %d",
                 (long long)smem, s->gpu.block_q, s->gpu.block_k, s->gpu.stages, (long long)k->attn.d,
                 (long long)k->attn.dv, a->name, tsc_arch_max_shared(a));
        return bad(k, d, why);
    }
    int64_t nqb = (k->attn.sq + s->gpu.block_q - 1) / s->gpu.block_q;
    if (k->attn.batch * k->attn.hq * nqb > 0x7fffffff) return bad(k, d, "more than 2^31-1 blocks");
    return TS_OK;
}
