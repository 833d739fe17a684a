/* hopper_attention.c — FlashAttention-3-style forward attention for sm_90a
 * (issue #8) as one CUDA C translation unit with inline PTX. A producer
 * warpgroup (setmaxnreg.dec) loads the Q tile once and K/V tiles into an
 * mbarrier ring with TMA (cp.async.bulk.tensor, 3-D maps); 1-2 consumer
 * warpgroups (setmaxnreg.inc) compute S = Q·Kᵀ with wgmma from shared memory,
 * the online softmax in registers (base 2, the scale folded in), and
 * O += P·V with wgmma taking P from registers. Each consumer overlaps the
 * previous tile's P·V with this tile's softmax; with pingpong the two
 * consumers also alternate tensor-core windows through named barriers.
 * Causal (bottom-right aligned) and grouped-query heads. Nothing in the
 * default paths uses it; it compiles offline (tests/codegen/
 * test_cuda_hopper_attention.c) and has not run on a GPU. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static enum ts_status bad(struct ts_diag *d, const struct tsc_hopper_attention_cfg *c, const char *rule) {
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", c->name, "sm_90a attention template: %s", rule);
}

/* Zero fields take the defaults (FA3's head_dim-128 shape): 128 query rows
 * in 2 consumers, 128 keys per tile, 2 stages (dtypes have none: 0 is f32). */
static struct tsc_hopper_attention_cfg filled(const struct tsc_hopper_attention_cfg *cfg) {
    struct tsc_hopper_attention_cfg c = *cfg;
    if (!c.head_dim) c.head_dim = 128;
    if (!c.bn) c.bn = 128;
    if (!c.stages) c.stages = 2;
    if (!c.consumers) c.consumers = 2;
    if (!c.name) c.name = "ts_hopper_attention";
    return c;
}

int64_t tsc_hopper_attention_shared_bytes(const struct tsc_hopper_attention_cfg *cfg) {
    struct tsc_hopper_attention_cfg f = filled(cfg), *c = &f;
    int64_t q = 64LL * c->consumers * c->head_dim * 2, kv = (int64_t)c->bn * c->head_dim * 2;
    /* Q, the K and V stages, barriers (Q's, then full K, full V and empty
     * per stage), and 1 KiB of slack to align to the swizzle's 1024 bytes. */
    return q + 2 * kv * c->stages + 8 + 24 * (int64_t)c->stages + 1024;
}

enum ts_status tsc_hopper_attention_check(const struct tsc_hopper_attention_cfg *cfg, struct ts_diag *d) {
    struct tsc_hopper_attention_cfg f = filled(cfg), *c = &f;
    if (c->dtype != TS_F16 && c->dtype != TS_BF16) return bad(d, c, "q, k and v must be f16 or bf16");
    if (c->head_dim != 64 && c->head_dim != 128) return bad(d, c, "head_dim must be 64 or 128");
    if (c->bn != 64 && c->bn != 128) return bad(d, c, "bn must be 64 or 128 keys per tile");
    if (c->consumers != 1 && c->consumers != 2) return bad(d, c, "consumers must be 1 or 2");
    if (c->stages < 2 || c->stages > 4) return bad(d, c, "stages must be 2..4");
    if (c->pingpong && c->consumers != 2) return bad(d, c, "pingpong needs 2 consumers");
    struct ts_cuda_arch a = {.sm = 90, .specific = true};
    if (tsc_hopper_attention_shared_bytes(c) > tsc_arch_max_shared(&a))
        return bad(d, c, "the stages need more shared memory than sm_90's 227 KiB");
    return TS_OK;
}

/* Device helpers of the attention alone (the shared ones: hopper_ptx.c). */
static const char helpers[] =
    "/* A 3-D TMA tile load: box at (c0 = column, c1 = sequence row, c2 =\n"
    " * batch·head) into dst, its bytes counted on bar; rows past the sequence\n"
    " * arrive as zeros (the map's third dimension keeps heads apart). */\n"
    "static __device__ __forceinline__ void tsh_tma_load3(tsh_u32 dst, const TsTensorMap *map, tsh_u32 bar,\n"
    "                                                     int c0, int c1, int c2) {\n"
    "    asm volatile(\"cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes\"\n"
    "                 \" [%0], [%1, {%3, %4, %5}], [%2];\"\n"
    "                 ::\"r\"(dst), \"l\"((tsh_u64)map), \"r\"(bar), \"r\"(c0), \"r\"(c1), \"r\"(c2) : \"memory\");\n"
    "}\n"
    "/* V as an MN-major B (rows are keys = wgmma's K, 64 columns of D per\n"
    " * 128-byte swizzled row): the leading offset steps between 64-column\n"
    " * chunks (BN rows · 128 B apart), the stride between 8-key groups (1024 B). */\n"
    "static __device__ __forceinline__ tsh_u64 tsh_desc_mn(tsh_u32 addr) {\n"
    "    return (tsh_u64)((addr & 0x3FFFF) >> 4) | ((tsh_u64)(TSH_BN * 128 / 16) << 16) |\n"
    "           ((tsh_u64)64 << 32) | ((tsh_u64)1 << 62);\n"
    "}\n"
    "static __device__ __forceinline__ void tsh_wgmma_wait1(void) {\n"
    "    asm volatile(\"wgmma.wait_group.sync.aligned 1;\" ::: \"memory\");\n"
    "}\n"
    "/* Keeps a P register the wgmma still reads from being reused. */\n"
    "static __device__ __forceinline__ void tsh_fence_u32(tsh_u32 &r) { asm volatile(\"\" : \"+r\"(r)::\"memory\"); }\n"
    "static __device__ __forceinline__ float tsh_ex2(float x) {\n"
    "    float y;\n"
    "    asm(\"ex2.approx.ftz.f32 %0, %1;\" : \"=f\"(y) : \"f\"(x));\n"
    "    return y;\n"
    "}\n";

/* lo | hi << 16 in the dtype (cvt.rn.{bf16,f16}x2.f32 d, a, b puts a in the
 * upper half). */
/* Named barriers 1 and 2 (0 is __syncthreads) over the two consumers' 256
 * threads: one warpgroup syncs, the other arrives (emitted only for
 * pingpong: NVRTC warns about unused static functions). */
static const char named_bars[] =
    "/* Named barriers 1 and 2 (0 is __syncthreads) over the two consumers'\n"
    " * 256 threads: one warpgroup syncs, the other arrives. */\n"
    "static __device__ __forceinline__ void tsh_bar_sync(int id) {\n"
    "    asm volatile(\"bar.sync %0, 256;\" ::\"r\"(id) : \"memory\");\n"
    "}\n"
    "static __device__ __forceinline__ void tsh_bar_arrive(int id) {\n"
    "    asm volatile(\"bar.arrive %0, 256;\" ::\"r\"(id) : \"memory\");\n"
    "}\n"
;

static void emit_pack(struct tsc_src *s, const char *ab) {
    tsc_printf(s, "static __device__ __forceinline__ tsh_u32 tsh_pack(float lo, float hi) {\n"
                  "    tsh_u32 r;\n"
                  "    asm(\"cvt.rn.%sx2.f32 %%0, %%1, %%2;\" : \"=r\"(r) : \"f\"(hi), \"f\"(lo));\n"
                  "    return r;\n}\n\n", ab);
}

/* The register list %first .. %first+n-1 of an asm, 8 to a line. */
static void emit_regs(struct tsc_src *s, int first, int n) {
    for (int i = 0; i < n; i += 8) {
        tsc_puts(s, "                 \"");
        for (int j = i; j < i + 8 && j < n; j++) tsc_printf(s, "%%%d%s", first + j, j + 1 < n ? ", " : "");
        tsc_puts(s, "\"\n");
    }
}

static void emit_outputs(struct tsc_src *s, const char *arr, int n, const char *mode) {
    for (int i = 0; i < n; i += 8) {
        tsc_puts(s, i == 0 ? "                 : " : "                   ");
        for (int j = i; j < i + 8 && j < n; j++)
            tsc_printf(s, "\"%sf\"(%s[%d])%s", mode, arr, j, j + 1 == n ? "" : (j + 1) % 8 ? ", " : ",");
        tsc_puts(s, "\n");
    }
}

/* S = Q·Kᵀ of one tile, and the online softmax that turns S into P in place. */
static const char qk_softmax[] =
    "/* S = Q·Kᵀ: k16 steps walk D, 32 bytes within each swizzled 128-byte row,\n"
    " * a new 64-column chunk (of TSH_BM or TSH_BN rows) every 4 steps. */\n"
    "static __device__ __forceinline__ void tsh_qk(float *acc_s, tsh_u32 q, tsh_u32 k) {\n"
    "#pragma unroll\n"
    "    for (int kk = 0; kk < TSH_D / 16; kk++) {\n"
    "        const tsh_u64 da = tsh_desc(q + (kk / 4) * TSH_BM * 128 + (kk % 4) * 32);\n"
    "        const tsh_u64 db = tsh_desc(k + (kk / 4) * TSH_BN * 128 + (kk % 4) * 32);\n"
    "        if (kk == 0) tsh_wgmma_s0(acc_s, da, db);\n"
    "        else tsh_wgmma_s(acc_s, da, db);\n"
    "    }\n"
    "}\n"
    "/* Masks keys past sk and, causal, right of row + sk - sq (only tiles that\n"
    " * reach either edge pay for it), then the online softmax in base 2 with the\n"
    " * scale folded into one FMA: p = 2^(s·scale_log2 - m·scale_log2), in place.\n"
    " * alpha rescales the old O and l; lsum is this thread's part of the new row\n"
    " * sums (reduced over the quad once, at the end). A row with no visible key\n"
    " * so far keeps m = -inf and contributes zeros. */\n"
    "static __device__ __forceinline__ void tsh_softmax(float *acc_s, float *m_run, float *alpha, float *lsum,\n"
    "                                                   int n0, int row_lo, int lane, int sq, int sk,\n"
    "                                                   float scale_log2) {\n"
    "    const float neg_inf = __int_as_float(0xff800000);\n"
    "    bool edge = n0 + TSH_BN > sk;\n"
    "#if TSH_CAUSAL\n"
    "    edge = edge || n0 + TSH_BN - 1 > row_lo + sk - sq;\n"
    "#endif\n"
    "    if (edge) {\n"
    "#pragma unroll\n"
    "        for (int i = 0; i < TSH_BN / 2; i++) {\n"
    "            const int col = n0 + (i / 4) * 8 + (lane % 4) * 2 + (i & 1);\n"
    "            bool off = col >= sk;\n"
    "#if TSH_CAUSAL\n"
    "            off = off || col > row_lo + 8 * ((i >> 1) & 1) + sk - sq;\n"
    "#endif\n"
    "            if (off) acc_s[i] = neg_inf;\n"
    "        }\n"
    "    }\n"
    "    float mx[2] = {neg_inf, neg_inf}, ms[2];\n"
    "#pragma unroll\n"
    "    for (int i = 0; i < TSH_BN / 2; i++) mx[(i >> 1) & 1] = fmaxf(mx[(i >> 1) & 1], acc_s[i]);\n"
    "#pragma unroll\n"
    "    for (int r = 0; r < 2; r++) {\n"
    "        /* The 4 lanes of a quad hold one row. */\n"
    "        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));\n"
    "        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));\n"
    "        const float m_new = fmaxf(m_run[r], mx[r]);\n"
    "        ms[r] = m_new == neg_inf ? 0.0f : m_new * scale_log2;\n"
    "        alpha[r] = tsh_ex2(m_run[r] * scale_log2 - ms[r]);\n"
    "        m_run[r] = m_new;\n"
    "        lsum[r] = 0.0f;\n"
    "    }\n"
    "#pragma unroll\n"
    "    for (int i = 0; i < TSH_BN / 2; i++) {\n"
    "        acc_s[i] = tsh_ex2(fmaf(acc_s[i], scale_log2, -ms[(i >> 1) & 1]));\n"
    "        lsum[(i >> 1) & 1] += acc_s[i];\n"
    "    }\n"
    "}\n\n";

/* S += Q·Kᵀ, one m64nBNk16 from shared memory (both K-major). The first k16
 * step, tsh_wgmma_s0, overwrites S (scale-d 0) and declares it output only:
 * S is then no loop-carried wgmma input, so the softmax may rewrite it in
 * place while the previous P·V is in flight without ptxas serializing the
 * wgmmas (C7513), and O += P·V, one m64nDk16
 * with P's 4 registers as A and V transposed (MN-major) from shared memory. */
static void emit_wgmma(struct tsc_src *s, const struct tsc_hopper_attention_cfg *c) {
    const char *ab = c->dtype == TS_BF16 ? "bf16" : "f16";
    int n = c->bn / 2;
    for (int acc = 0; acc < 2; acc++) {
        tsc_printf(s, "static __device__ __forceinline__ void tsh_wgmma_s%s(float *d, tsh_u64 da, tsh_u64 db) {\n"
                      "    asm volatile(\"{ .reg .pred p; setp.ne.b32 p, %%%d, 0;\\n\"\n"
                      "                 \"wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {\"\n",
                   acc ? "" : "0", n + 2, c->bn, ab, ab);
        emit_regs(s, 0, n);
        tsc_printf(s, "                 \"}, %%%d, %%%d, p, 1, 1, 0, 0; }\\n\"\n", n, n + 1);
        emit_outputs(s, "d", n, acc ? "+" : "=");
        tsc_printf(s, "                 : \"l\"(da), \"l\"(db), \"n\"(%d));\n}\n\n", acc);
    }

    n = c->head_dim / 2;
    tsc_printf(s, "static __device__ __forceinline__ void tsh_wgmma_pv(float *d, const tsh_u32 *a, tsh_u64 db) {\n"
                  "    asm volatile(\"{ .reg .pred p; setp.ne.b32 p, %%%d, 0;\\n\"\n"
                  "                 \"wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {\"\n",
               n + 5, c->head_dim, ab, ab);
    emit_regs(s, 0, n);
    tsc_printf(s, "                 \"}, {%%%d, %%%d, %%%d, %%%d}, %%%d, p, 1, 1, 1; }\\n\"\n", n, n + 1, n + 2,
               n + 3, n + 4);
    emit_outputs(s, "d", n, "+");
    tsc_puts(s, "                 : \"r\"(a[0]), \"r\"(a[1]), \"r\"(a[2]), \"r\"(a[3]), \"l\"(db), \"n\"(1));\n}\n\n");
    /* One tile's P·V: k16 step kk takes P registers 4kk .. 4kk+3 and 16
     * keys of V (2 groups of 8 swizzled rows, 2048 bytes on). */
    tsc_puts(s, "static __device__ __forceinline__ void tsh_pv(float *o, const tsh_u32 *p, tsh_u32 v) {\n"
                "#pragma unroll\n"
                "    for (int kk = 0; kk < TSH_BN / 16; kk++)\n"
                "        tsh_wgmma_pv(o, p + 4 * kk, tsh_desc_mn(v + kk * 2048));\n"
                "}\n\n");
    tsc_puts(s, qk_softmax);
}

static const char kernel_body[] =
    "    extern __shared__ unsigned char tsh_dyn[];\n"
    "    /* Q, then the K and V rings, from the next 1024-byte boundary (the 128B\n"
    "     * swizzle's period); every tile chunk is a multiple of 1024 bytes. */\n"
    "    const tsh_u32 base = (tsh_smem(tsh_dyn) + 1023u) & ~1023u;\n"
    "    const tsh_u32 sm_q = base, ring_k = base + TSH_Q_BYTES, ring_v = ring_k + TSH_STAGES * TSH_KV_BYTES;\n"
    "    const tsh_u32 q_full = ring_v + TSH_STAGES * TSH_KV_BYTES, full_k = q_full + 8;\n"
    "    const tsh_u32 full_v = full_k + 8 * TSH_STAGES, empty = full_v + 8 * TSH_STAGES;\n"
    "    const int wg = threadIdx.x / 128, t = threadIdx.x % 128;\n"
    "    const int m0 = blockIdx.x * TSH_BM, bh_q = blockIdx.z * hq + blockIdx.y;\n"
    "    const int bh_kv = blockIdx.z * hkv + blockIdx.y / (hq / hkv);\n"
    "    /* Key tiles this block reads: all of sk, or under the causal mask only\n"
    "     * those up to the diagonal of its last row; fully masked tiles are never\n"
    "     * loaded nor multiplied (a block whose rows see no key does nothing). */\n"
    "    int nblocks = (sk + TSH_BN - 1) / TSH_BN;\n"
    "#if TSH_CAUSAL\n"
    "    {\n"
    "        const int last = min(m0 + TSH_BM, sq) - 1 + sk - sq;\n"
    "        nblocks = last < 0 ? 0 : min(nblocks, last / TSH_BN + 1);\n"
    "    }\n"
    "#endif\n"
    "    if (threadIdx.x == 0) {\n"
    "        tsh_mbar_init(q_full, 1);\n"
    "        for (int s = 0; s < TSH_STAGES; s++) {\n"
    "            tsh_mbar_init(full_k + 8 * s, 1);\n"
    "            tsh_mbar_init(full_v + 8 * s, 1);\n"
    "            tsh_mbar_init(empty + 8 * s, TSH_CONSUMERS); /* one arrive per consumer */\n"
    "        }\n"
    "        asm volatile(\"fence.mbarrier_init.release.cluster;\" ::: \"memory\");\n"
    "    }\n"
    "    __syncthreads();\n"
    "    if (wg == 0) {\n"
    "        /* Producer: one thread issues every copy; the warpgroup gives its\n"
    "         * registers to the consumers. */\n"
    "        asm volatile(\"setmaxnreg.dec.sync.aligned.u32 %0;\" ::\"n\"(TSH_PRODUCER_REGS));\n"
    "        if (t == 0 && nblocks > 0) {\n"
    "            asm volatile(\"prefetch.tensormap [%0];\" ::\"l\"((tsh_u64)&tma_q) : \"memory\");\n"
    "            asm volatile(\"prefetch.tensormap [%0];\" ::\"l\"((tsh_u64)&tma_k) : \"memory\");\n"
    "            asm volatile(\"prefetch.tensormap [%0];\" ::\"l\"((tsh_u64)&tma_v) : \"memory\");\n"
    "            /* Q once, as D/64 swizzled chunks of 64 columns. */\n"
    "            tsh_mbar_expect_tx(q_full, TSH_Q_BYTES);\n"
    "            for (int c = 0; c < TSH_CHUNKS; c++)\n"
    "                tsh_tma_load3(sm_q + c * TSH_BM * 128, &tma_q, q_full, c * 64, m0, bh_q);\n"
    "            int s = 0;\n"
    "            tsh_u32 phase = 0;\n"
    "            for (int n = 0; n < nblocks; n++) {\n"
    "                tsh_mbar_wait(empty + 8 * s, phase ^ 1);\n"
    "                /* K and V complete on their own barriers: S = Q·Kᵀ may start\n"
    "                 * while V is still arriving. */\n"
    "                tsh_mbar_expect_tx(full_k + 8 * s, TSH_KV_BYTES);\n"
    "                for (int c = 0; c < TSH_CHUNKS; c++)\n"
    "                    tsh_tma_load3(ring_k + s * TSH_KV_BYTES + c * TSH_BN * 128, &tma_k, full_k + 8 * s, c * 64,\n"
    "                                  n * TSH_BN, bh_kv);\n"
    "                tsh_mbar_expect_tx(full_v + 8 * s, TSH_KV_BYTES);\n"
    "                for (int c = 0; c < TSH_CHUNKS; c++)\n"
    "                    tsh_tma_load3(ring_v + s * TSH_KV_BYTES + c * TSH_BN * 128, &tma_v, full_v + 8 * s, c * 64,\n"
    "                                  n * TSH_BN, bh_kv);\n"
    "                if (++s == TSH_STAGES) {\n"
    "                    s = 0;\n"
    "                    phase ^= 1;\n"
    "                }\n"
    "            }\n"
    "        }\n"
    "    } else {\n"
    "        asm volatile(\"setmaxnreg.inc.sync.aligned.u32 %0;\" ::\"n\"(TSH_CONSUMER_REGS));\n"
    "        /* Consumer wg-1 owns query rows m0 + (wg-1)·64 .. +63. Accumulator i\n"
    "         * of an m64nN fragment is row warp·16 + lane/4 (+8 when i%4 >= 2),\n"
    "         * column (i/4)·8 + (lane%4)·2 (+1 for odd i): S, P and O alike. */\n"
    "        const int warp = t / 32, lane = t % 32;\n"
    "        const int row_lo = m0 + (wg - 1) * 64 + warp * 16 + lane / 4;\n"
    "        const float neg_inf = __int_as_float(0xff800000);\n"
    "        float acc_o[TSH_D / 2], acc_s[TSH_BN / 2];\n"
    "        tsh_u32 p[TSH_BN / 4];\n"
    "#pragma unroll\n"
    "        for (int i = 0; i < TSH_D / 2; i++) {\n"
    "            acc_o[i] = 0.0f;\n"
    "            tsh_fence_reg(acc_o[i]);\n"
    "        }\n"
    "#pragma unroll\n"
    "        for (int i = 0; i < TSH_BN / 4; i++) p[i] = 0u;\n"
    "        float m_run[2] = {neg_inf, neg_inf}, l_run[2] = {0.0f, 0.0f};\n"
    "        if (nblocks > 0) {\n"
    "            tsh_mbar_wait(q_full, 0);\n"
    "            const tsh_u32 qa = sm_q + (wg - 1) * 64 * 128;\n"
    "            int s = 0, prev = 0;\n"
    "            tsh_u32 phase = 0, prev_phase = 0;\n"
    "#if TSH_PINGPONG\n"
    "            /* Tensor-core windows alternate between the consumers: each\n"
    "             * waits on its own named barrier (1 or 2) before issuing and\n"
    "             * arrives on the other's after; consumer 1 goes first. */\n"
    "            if (wg == 2) tsh_bar_arrive(1);\n"
    "#endif\n"
    "            /* The first tile: S and its softmax, nothing to add to O yet. */\n"
    "            tsh_mbar_wait(full_k, 0);\n"
    "#if TSH_PINGPONG\n"
    "            tsh_bar_sync(wg);\n"
    "#endif\n"
    "            tsh_wgmma_fence();\n"
    "            tsh_qk(acc_s, qa, ring_k);\n"
    "            tsh_wgmma_commit();\n"
    "#if TSH_PINGPONG\n"
    "            tsh_bar_arrive(3 - wg);\n"
    "#endif\n"
    "            tsh_wgmma_wait0();\n"
    "            float alpha[2], lsum[2];\n"
    "            tsh_softmax(acc_s, m_run, alpha, lsum, 0, row_lo, lane, sq, sk, scale_log2);\n"
    "            l_run[0] = lsum[0];\n"
    "            l_run[1] = lsum[1];\n"
    "            /* P to 16-bit pairs in the A-fragment order of m64k16: k16 step\n"
    "             * kk takes accumulators 8kk .. 8kk+7 as (r, r+8, r c+8, r+8 c+8). */\n"
    "#pragma unroll\n"
    "            for (int i = 0; i < TSH_BN / 4; i++) p[i] = tsh_pack(acc_s[2 * i], acc_s[2 * i + 1]);\n"
    "            if (++s == TSH_STAGES) {\n"
    "                s = 0;\n"
    "                phase ^= 1;\n"
    "            }\n"
    "            /* Peeled so that every P·V issued in the loop is retired in the\n"
    "             * same iteration on every path: ptxas's pipeline analysis does\n"
    "             * not follow correlated branches and would serialize (C7513). */\n"
    "            for (int n = 1; n < nblocks; n++) {\n"
    "                tsh_mbar_wait(full_k + 8 * s, phase);\n"
    "#if TSH_PINGPONG\n"
    "                tsh_bar_sync(wg);\n"
    "#endif\n"
    "                /* Pin P and the rescaled O before the window: plain\n"
    "                 * instructions defining wgmma inputs inside it would make\n"
    "                 * ptxas serialize the wgmmas (C7513). */\n"
    "#pragma unroll\n"
    "                for (int i = 0; i < TSH_BN / 4; i++) tsh_fence_u32(p[i]);\n"
    "#pragma unroll\n"
    "                for (int i = 0; i < TSH_D / 2; i++) tsh_fence_reg(acc_o[i]);\n"
    "                tsh_wgmma_fence();\n"
    "                tsh_qk(acc_s, qa, ring_k + s * TSH_KV_BYTES);\n"
    "                tsh_wgmma_commit();\n"
    "                /* O += P·V of the previous tile overlaps this tile's softmax. */\n"
    "                tsh_mbar_wait(full_v + 8 * prev, prev_phase);\n"
    "                tsh_wgmma_fence();\n"
    "                tsh_pv(acc_o, p, ring_v + prev * TSH_KV_BYTES);\n"
    "                tsh_wgmma_commit();\n"
    "#if TSH_PINGPONG\n"
    "                tsh_bar_arrive(3 - wg);\n"
    "#endif\n"
    "                tsh_wgmma_wait1();\n"
    "#pragma unroll\n"
    "                for (int i = 0; i < TSH_BN / 2; i++) tsh_fence_reg(acc_s[i]);\n"
    "                tsh_softmax(acc_s, m_run, alpha, lsum, n * TSH_BN, row_lo, lane, sq, sk, scale_log2);\n"
    "                /* The previous P·V is done: its P registers and V stage are free. */\n"
    "                tsh_wgmma_wait0();\n"
    "#pragma unroll\n"
    "                for (int i = 0; i < TSH_BN / 4; i++) tsh_fence_u32(p[i]);\n"
    "#pragma unroll\n"
    "                for (int i = 0; i < TSH_D / 2; i++) tsh_fence_reg(acc_o[i]);\n"
    "                if (t == 0) tsh_mbar_arrive(empty + 8 * prev);\n"
    "#pragma unroll\n"
    "                for (int i = 0; i < TSH_D / 2; i++) acc_o[i] *= alpha[(i >> 1) & 1];\n"
    "                l_run[0] = l_run[0] * alpha[0] + lsum[0];\n"
    "                l_run[1] = l_run[1] * alpha[1] + lsum[1];\n"
    "#pragma unroll\n"
    "                for (int i = 0; i < TSH_BN / 4; i++) p[i] = tsh_pack(acc_s[2 * i], acc_s[2 * i + 1]);\n"
    "                prev = s;\n"
    "                prev_phase = phase;\n"
    "                if (++s == TSH_STAGES) {\n"
    "                    s = 0;\n"
    "                    phase ^= 1;\n"
    "                }\n"
    "            }\n"
    "            /* The last tile's O += P·V. */\n"
    "            tsh_mbar_wait(full_v + 8 * prev, prev_phase);\n"
    "#if TSH_PINGPONG\n"
    "            tsh_bar_sync(wg);\n"
    "#endif\n"
    "#pragma unroll\n"
    "            for (int i = 0; i < TSH_BN / 4; i++) tsh_fence_u32(p[i]);\n"
    "#pragma unroll\n"
    "            for (int i = 0; i < TSH_D / 2; i++) tsh_fence_reg(acc_o[i]);\n"
    "            tsh_wgmma_fence();\n"
    "            tsh_pv(acc_o, p, ring_v + prev * TSH_KV_BYTES);\n"
    "            tsh_wgmma_commit();\n"
    "#if TSH_PINGPONG\n"
    "            /* Consumer 2's last window has no successor to release. */\n"
    "            if (wg == 1) tsh_bar_arrive(2);\n"
    "#endif\n"
    "            tsh_wgmma_wait0();\n"
    "#pragma unroll\n"
    "            for (int i = 0; i < TSH_BN / 4; i++) tsh_fence_u32(p[i]);\n"
    "#pragma unroll\n"
    "            for (int i = 0; i < TSH_D / 2; i++) tsh_fence_reg(acc_o[i]);\n"
    "            if (t == 0) tsh_mbar_arrive(empty + 8 * prev);\n"
    "        }\n"
    "        /* Epilogue: the row sums were kept per thread; reduce them over the\n"
    "         * quad, normalize, store pairs of columns (rows that saw no key get 0). */\n"
    "        float inv[2];\n"
    "#pragma unroll\n"
    "        for (int r = 0; r < 2; r++) {\n"
    "            float l = l_run[r];\n"
    "            l += __shfl_xor_sync(0xffffffffu, l, 1);\n"
    "            l += __shfl_xor_sync(0xffffffffu, l, 2);\n"
    "            inv[r] = l > 0.0f ? 1.0f / l : 0.0f;\n"
    "        }\n"
    "#pragma unroll\n"
    "        for (int r = 0; r < 2; r++) {\n"
    "            const int row = row_lo + 8 * r;\n"
    "            if (row < sq) {\n"
    "                unsigned short *dst = o + ((long long)bh_q * sq + row) * TSH_D + (lane % 4) * 2;\n"
    "#pragma unroll\n"
    "                for (int j = 0; j < TSH_D / 8; j++)\n"
    "                    *(tsh_u32 *)(dst + j * 8) =\n"
    "                        tsh_pack(acc_o[4 * j + 2 * r] * inv[r], acc_o[4 * j + 2 * r + 1] * inv[r]);\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "}\n";

enum ts_status tsc_hopper_attention_source(const struct tsc_hopper_attention_cfg *cfg, char **out,
                                           struct ts_cuda_launch *launch, struct ts_diag *d) {
    *out = NULL;
    enum ts_status st = tsc_hopper_attention_check(cfg, d);
    if (st != TS_OK) return st;
    struct tsc_hopper_attention_cfg f = filled(cfg), *c = &f;
    const char *name = c->name, *ab = c->dtype == TS_BF16 ? "bf16" : "f16";
    int threads = 128 * (c->consumers + 1), bm = 64 * c->consumers;
    /* Register split as the GEMM's: __launch_bounds__(threads, 1) caps the
     * entry at 65536/threads; the producer drops to 40, the consumers take
     * what that frees (2·128·232 + 128·40 ≤ 65536; 240 with one consumer). */
    int producer_regs = 40, consumer_regs = c->consumers == 2 ? 232 : 240;

    struct tsc_src s = {0};
    tsc_printf(&s,
               "/* %s: sm_90a attention forward (tessera, codegen/cuda/hopper_attention.c):\n"
               " * O = softmax(Q·Kᵀ·scale)·V%s, %s, head_dim %d, %d query rows x %d keys per tile,\n"
               " * %d stages, %d consumer warpgroup%s + 1 producer%s, grouped-query heads. */\n",
               name, c->causal ? " causal (bottom-right)" : "", ab, c->head_dim, bm, c->bn, c->stages,
               c->consumers, c->consumers > 1 ? "s" : "", c->pingpong ? ", ping-pong" : "");
    tsc_printf(&s,
               "#define TSH_D %d\n#define TSH_BM %d\n#define TSH_BN %d\n#define TSH_STAGES %d\n"
               "#define TSH_CONSUMERS %d\n#define TSH_CHUNKS %d\n#define TSH_Q_BYTES %d\n#define TSH_KV_BYTES %d\n"
               "#define TSH_CAUSAL %d\n#define TSH_PINGPONG %d\n"
               "#define TSH_PRODUCER_REGS %d\n#define TSH_CONSUMER_REGS %d\n\n",
               c->head_dim, bm, c->bn, c->stages, c->consumers, c->head_dim / 64, bm * c->head_dim * 2,
               c->bn * c->head_dim * 2, c->causal ? 1 : 0, c->pingpong ? 1 : 0, producer_regs, consumer_regs);
    tsc_puts(&s, tsc_hopper_ptx_helpers);
    tsc_puts(&s, helpers);
    if (c->pingpong) tsc_puts(&s, named_bars);
    tsc_puts(&s, "\n");
    emit_pack(&s, ab);
    emit_wgmma(&s, c);
    tsc_printf(&s,
               "extern \"C\" __global__ void __launch_bounds__(%d, 1)\n"
               "%s(const __grid_constant__ TsTensorMap tma_q, const __grid_constant__ TsTensorMap tma_k,\n"
               "    const __grid_constant__ TsTensorMap tma_v, unsigned short *__restrict__ o, int sq, int sk,\n"
               "    int hq, int hkv, float scale_log2) {\n",
               threads, name);
    tsc_puts(&s, kernel_body);
    return tsc_hopper_finish(&s, name, "attention", threads, tsc_hopper_attention_shared_bytes(c), out, launch, d);
}
