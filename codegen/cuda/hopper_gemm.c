/* hopper_gemm.c — the sm_90a GEMM template of issue #8 as one CUDA C
 * translation unit with inline PTX: TMA (cp.async.bulk.tensor) fills a ring
 * of shared-memory stages completed on mbarriers; one producer warpgroup
 * (setmaxnreg.dec) issues the copies, 1-2 consumer warpgroups (setmaxnreg.inc)
 * multiply with wgmma.mma_async from 128B-swizzled shared memory; a
 * persistent loop walks the tiles in grouped order; the epilogue adds bias
 * and gelu in registers and stores straight to global memory. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static enum ts_status bad(struct ts_diag *d, const struct tsc_hopper_gemm_cfg *c, const char *rule) {
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", c->name,
                       "sm_90a GEMM template: %s", rule);
}

/* Zero fields take the defaults: the 128x128x64 tile, 4 stages, 2
 * consumers, groups of 8 tile rows (dtypes have none: 0 is f32). */
static struct tsc_hopper_gemm_cfg filled(const struct tsc_hopper_gemm_cfg *cfg) {
    struct tsc_hopper_gemm_cfg c = *cfg;
    if (!c.bm) c.bm = 128;
    if (!c.bn) c.bn = 128;
    if (!c.bk) c.bk = 64;
    if (!c.stages) c.stages = 4;
    if (!c.consumers) c.consumers = 2;
    if (!c.group_m) c.group_m = 8;
    if (!c.name) c.name = "ts_hopper_gemm";
    return c;
}

/* Accumulator floats per consumer thread: (bm/consumers/64) m64 tiles, each
 * bn/2 floats (an m64nN f32 fragment spread over 128 threads). */
static int acc_floats(const struct tsc_hopper_gemm_cfg *c) {
    return c->bm / c->consumers / 64 * (c->bn / 2);
}

int64_t tsc_hopper_gemm_shared_bytes(const struct tsc_hopper_gemm_cfg *cfg) {
    struct tsc_hopper_gemm_cfg f = filled(cfg), *c = &f;
    int64_t stage = (int64_t)(c->bm + c->bn) * c->bk * 2;
    /* The stages, a full and an empty mbarrier per stage, and 1 KiB of slack
     * to align the ring to the 1024 bytes the 128B swizzle repeats over. */
    return c->stages * stage + 16 * (int64_t)c->stages + 1024;
}

enum ts_status tsc_hopper_gemm_check(const struct tsc_hopper_gemm_cfg *cfg, struct ts_diag *d) {
    struct tsc_hopper_gemm_cfg f = filled(cfg), *c = &f;
    if (c->in != TS_F16 && c->in != TS_BF16) return bad(d, c, "inputs must be f16 or bf16");
    if (c->out != TS_F16 && c->out != TS_BF16 && c->out != TS_F32)
        return bad(d, c, "the output must be f16, bf16 or f32");
    if (c->consumers != 1 && c->consumers != 2) return bad(d, c, "consumers must be 1 or 2");
    if (c->bk != 64) return bad(d, c, "bk must be 64 (one 128-byte swizzle row of 16-bit elements)");
    if (c->bn < 64 || c->bn > 256 || c->bn % 64)
        return bad(d, c, "bn must be 64, 128, 192 or 256 (one wgmma n, one TMA box)");
    if (c->bm < 64 || c->bm % (64 * c->consumers) || c->bm / (64 * c->consumers) > 2)
        return bad(d, c, "bm must be 64 or 128 rows per consumer warpgroup");
    if (acc_floats(c) > 128)
        return bad(d, c, "more than 128 accumulators per thread (bm/consumers/64 * bn/2) would spill");
    if (c->stages < 2 || c->stages > 8) return bad(d, c, "stages must be 2..8");
    if (c->group_m < 1) return bad(d, c, "group_m must be at least 1");
    struct ts_cuda_arch a = {.sm = 90, .specific = true};
    if (tsc_hopper_gemm_shared_bytes(c) > tsc_arch_max_shared(&a))
        return bad(d, c, "the stages need more shared memory than sm_90's 227 KiB");
    return TS_OK;
}

/* Device helpers of the GEMM alone (the shared ones: hopper_ptx.c). */
static const char helpers[] =
    "#ifndef TSH_GEMM_HELPERS\n"
    "#define TSH_GEMM_HELPERS\n"
    "/* A 2-D TMA tile load: box at (c0 = inner/K, c1 = row) into dst, its bytes\n"
    " * counted on bar; out-of-range elements arrive as zeros. */\n"
    "static __device__ __forceinline__ void tsh_tma_load(tsh_u32 dst, const TsTensorMap *map, tsh_u32 bar,\n"
    "                                                    int c0, int c1) {\n"
    "    asm volatile(\"cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes\"\n"
    "                 \" [%0], [%1, {%3, %4}], [%2];\"\n"
    "                 ::\"r\"(dst), \"l\"((tsh_u64)map), \"r\"(bar), \"r\"(c0), \"r\"(c1) : \"memory\");\n"
    "}\n"
    "\n"
    "/* The tile at position t of the grouped order: group_m tile rows at a\n"
    " * time sweep the columns, so neighbouring blocks share A and B in L2. */\n"
    "static __device__ __forceinline__ void tsh_tile(int t, int tiles_m, int tiles_n, int group_m, int &tm,\n"
    "                                                int &tn) {\n"
    "    const int per_group = group_m * tiles_n;\n"
    "    const int group = t / per_group, first = group * group_m;\n"
    "    const int rows = min(tiles_m - first, group_m), at = t - group * per_group;\n"
    "    tm = first + at % rows;\n"
    "    tn = at / rows;\n"
    "}\n"
    "#endif\n";

/* The wgmma for this cfg: one m64nBNk16 with bn/2 accumulators, A and B
 * from shared memory (descriptors), both K-major (no transpose). */
static void emit_wgmma(struct tsc_src *s, const struct tsc_hopper_gemm_cfg *c) {
    const char *ab = c->in == TS_BF16 ? "bf16" : "f16";
    int n = c->bn / 2;
    /* One per dtype and n in a translation unit of several kernels. */
    tsc_printf(s, "#define TSH_WGMMA tsh_wgmma_%s_n%d\n#ifndef TSH_WGMMA_%s_N%d\n#define TSH_WGMMA_%s_N%d\n", ab,
               c->bn, ab, c->bn, ab, c->bn);
    tsc_printf(s, "static __device__ __forceinline__ void TSH_WGMMA(float *d, tsh_u64 da, tsh_u64 db) {\n"
                  "    asm volatile(\"{ .reg .pred p; setp.ne.b32 p, %%%d, 0;\\n\"\n"
                  "                 \"wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {\"\n",
               n + 2, c->bn, ab, ab);
    for (int i = 0; i < n; i += 8) {
        tsc_puts(s, "                 \"");
        for (int j = i; j < i + 8 && j < n; j++) tsc_printf(s, "%%%d%s", j, j + 1 < n ? ", " : "");
        tsc_puts(s, "\"\n");
    }
    tsc_printf(s, "                 \"}, %%%d, %%%d, p, 1, 1, 0, 0; }\\n\"\n", n, n + 1);
    for (int i = 0; i < n; i += 8) {
        tsc_puts(s, i == 0 ? "                 : " : "                   ");
        for (int j = i; j < i + 8 && j < n; j++)
            tsc_printf(s, "\"+f\"(d[%d])%s", j, j + 1 == n ? "" : (j + 1) % 8 ? ", " : ",");
        tsc_puts(s, "\n");
    }
    tsc_puts(s, "                 : \"l\"(da), \"l\"(db), \"n\"(1));\n}\n#endif\n\n");
}

/* Conversions between the output dtype and f32, only those the epilogue
 * uses (NVRTC warns about unused static functions). */
static const char f16_to[] =
    "static __device__ __forceinline__ float tsh_to_f32(unsigned short h) {\n"
    "    float f;\n"
    "    asm(\"{ .reg .f16 t; mov.b16 t, %1; cvt.f32.f16 %0, t; }\" : \"=f\"(f) : \"h\"(h));\n"
    "    return f;\n"
    "}\n";
static const char f16_from[] =
    "static __device__ __forceinline__ unsigned short tsh_from_f32(float f) {\n"
    "    unsigned short h;\n"
    "    asm(\"{ .reg .f16 t; cvt.rn.f16.f32 t, %1; mov.b16 %0, t; }\" : \"=h\"(h) : \"f\"(f));\n"
    "    return h;\n"
    "}\n"
    "/* lo | hi << 16 (cvt.rn.f16x2.f32 d, a, b puts a in the upper half). */\n"
    "static __device__ __forceinline__ tsh_u32 tsh_pack(float lo, float hi) {\n"
    "    tsh_u32 r;\n"
    "    asm(\"cvt.rn.f16x2.f32 %0, %1, %2;\" : \"=r\"(r) : \"f\"(hi), \"f\"(lo));\n"
    "    return r;\n"
    "}\n";
static const char bf16_to[] =
    "static __device__ __forceinline__ float tsh_to_f32(unsigned short h) {\n"
    "    return __uint_as_float((tsh_u32)h << 16);\n"
    "}\n";
static const char bf16_from[] =
    "static __device__ __forceinline__ unsigned short tsh_from_f32(float f) {\n"
    "    unsigned short h;\n"
    "    asm(\"{ .reg .b16 t; cvt.rn.bf16.f32 t, %1; mov.b16 %0, t; }\" : \"=h\"(h) : \"f\"(f));\n"
    "    return h;\n"
    "}\n"
    "/* lo | hi << 16 (cvt.rn.bf16x2.f32 d, a, b puts a in the upper half). */\n"
    "static __device__ __forceinline__ tsh_u32 tsh_pack(float lo, float hi) {\n"
    "    tsh_u32 r;\n"
    "    asm(\"cvt.rn.bf16x2.f32 %0, %1, %2;\" : \"=r\"(r) : \"f\"(hi), \"f\"(lo));\n"
    "    return r;\n"
    "}\n";
static const char gelu_fn[] =
    "/* math.cuh's ts_gelu_tanh: x / (1 + exp(-2u)) = 0.5·x·(1 + tanh(u)). */\n"
    "static __device__ __forceinline__ float tsh_gelu_tanh(float x) {\n"
    "    float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);\n"
    "    return x / (1.0f + expf(-2.0f * u));\n"
    "}\n";

/* The epilogue's per-element work: bias, gelu, and the stores of a pair of
 * adjacent columns (4 or 8 bytes when N is even and both are in range). */
static void emit_store(struct tsc_src *s, const struct tsc_hopper_gemm_cfg *c) {
    bool f32 = c->out == TS_F32;
    tsc_printf(s, "typedef %s tsh_out;\n", f32 ? "float" : "unsigned short");
    if (!f32) tsc_puts(s, c->out == TS_BF16 ? bf16_from : f16_from);
    if (!f32 && c->bias) tsc_puts(s, c->out == TS_BF16 ? bf16_to : f16_to);
    if (c->gelu) tsc_puts(s, gelu_fn);
    if (c->bias)
        tsc_printf(s, "static __device__ __forceinline__ float tsh_bias(const tsh_out *bias, int col, int N) {\n"
                      "    return col < N ? %s(bias[col]) : 0.0f;\n}\n", f32 ? "" : "tsh_to_f32");
    tsc_puts(s, "static __device__ __forceinline__ void tsh_store(tsh_out *c, long long row, int col, int M, int N,\n"
                "                                                 float v0, float v1) {\n"
                "    if (row >= M) return;\n");
    if (c->gelu) tsc_puts(s, "    v0 = tsh_gelu_tanh(v0);\n    v1 = tsh_gelu_tanh(v1);\n");
    tsc_puts(s, "    tsh_out *p = c + row * N + col;\n"
                "    if ((N & 1) == 0 && col + 1 < N) {\n");
    tsc_puts(s, f32 ? "        *(float2 *)p = make_float2(v0, v1);\n" : "        *(tsh_u32 *)p = tsh_pack(v0, v1);\n");
    tsc_printf(s, "    } else {\n"
                  "        if (col < N) p[0] = %s(v0);\n"
                  "        if (col + 1 < N) p[1] = %s(v1);\n"
                  "    }\n}\n\n", f32 ? "" : "tsh_from_f32", f32 ? "" : "tsh_from_f32");
}

const char tsc_hopper_gemm_mainloop[] =
    "    extern __shared__ unsigned char tsh_dyn[];\n"
    "    /* The ring starts at the next 1024-byte boundary (the swizzle's period). */\n"
    "    const tsh_u32 base = (tsh_smem(tsh_dyn) + 1023u) & ~1023u;\n"
    "    const tsh_u32 ring_a = base, ring_b = base + TSH_STAGES * TSH_A_BYTES;\n"
    "    const tsh_u32 full = ring_b + TSH_STAGES * TSH_B_BYTES, empty = full + 8 * TSH_STAGES;\n"
    "    const int wg = threadIdx.x / 128, t = threadIdx.x % 128;\n"
    "    const int tiles_m = (M + TSH_BM - 1) / TSH_BM, tiles_n = (N + TSH_BN - 1) / TSH_BN;\n"
    "    const int tiles = tiles_m * tiles_n, kblocks = (K + TSH_BK - 1) / TSH_BK;\n"
    "    if (threadIdx.x == 0) {\n"
    "        for (int s = 0; s < TSH_STAGES; s++) {\n"
    "            tsh_mbar_init(full + 8 * s, 1);                   /* the producer's expect_tx */\n"
    "            tsh_mbar_init(empty + 8 * s, TSH_CONSUMERS);      /* one arrive per consumer */\n"
    "        }\n"
    "        /* Make the initialized barriers visible to the copy engine. */\n"
    "        asm volatile(\"fence.mbarrier_init.release.cluster;\" ::: \"memory\");\n"
    "    }\n"
    "    __syncthreads();\n"
    "    if (wg == 0) {\n"
    "        /* Producer: one thread issues every copy; the warpgroup gives its\n"
    "         * registers to the consumers. */\n"
    "        asm volatile(\"setmaxnreg.dec.sync.aligned.u32 %0;\" ::\"n\"(TSH_PRODUCER_REGS));\n"
    "        if (t == 0) {\n"
    "            asm volatile(\"prefetch.tensormap [%0];\" ::\"l\"((tsh_u64)&tma_a) : \"memory\");\n"
    "            asm volatile(\"prefetch.tensormap [%0];\" ::\"l\"((tsh_u64)&tma_b) : \"memory\");\n"
    "            int s = 0;\n"
    "            tsh_u32 phase = 0;\n"
    "            for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {\n"
    "                int tm, tn;\n"
    "                tsh_tile(tile, tiles_m, tiles_n, TSH_GROUP_M, tm, tn);\n"
    "                for (int kb = 0; kb < kblocks; kb++) {\n"
    "                    tsh_mbar_wait(empty + 8 * s, phase ^ 1);\n"
    "                    tsh_mbar_expect_tx(full + 8 * s, TSH_A_BYTES + TSH_B_BYTES);\n"
    "                    tsh_tma_load(ring_a + s * TSH_A_BYTES, &tma_a, full + 8 * s, kb * TSH_BK, tm * TSH_BM);\n"
    "                    tsh_tma_load(ring_b + s * TSH_B_BYTES, &tma_b, full + 8 * s, kb * TSH_BK, tn * TSH_BN);\n"
    "                    if (++s == TSH_STAGES) {\n"
    "                        s = 0;\n"
    "                        phase ^= 1;\n"
    "                    }\n"
    "                }\n"
    "            }\n"
    "        }\n"
    "    } else {\n"
    "        asm volatile(\"setmaxnreg.inc.sync.aligned.u32 %0;\" ::\"n\"(TSH_CONSUMER_REGS));\n"
    "        /* Consumer wg-1 owns rows [(wg-1)·WM, wg·WM) of each tile. */\n"
    "        const int warp = t / 32, lane = t % 32;\n"
    "        const tsh_u32 a_off = (tsh_u32)(wg - 1) * TSH_WM * 128;\n"
    "        int s = 0;\n"
    "        tsh_u32 phase = 0;\n"
    "        for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {\n"
    "            int tm, tn;\n"
    "            tsh_tile(tile, tiles_m, tiles_n, TSH_GROUP_M, tm, tn);\n"
    "            float acc[TSH_MI][TSH_BN / 2];\n"
    "#pragma unroll\n"
    "            for (int mi = 0; mi < TSH_MI; mi++)\n"
    "#pragma unroll\n"
    "                for (int i = 0; i < TSH_BN / 2; i++) {\n"
    "                    acc[mi][i] = 0.0f;\n"
    "                    tsh_fence_reg(acc[mi][i]);\n"
    "                }\n"
    "            for (int kb = 0; kb < kblocks; kb++) {\n"
    "                tsh_mbar_wait(full + 8 * s, phase);\n"
    "                tsh_wgmma_fence();\n"
    "                const tsh_u32 sa = ring_a + s * TSH_A_BYTES + a_off, sb = ring_b + s * TSH_B_BYTES;\n"
    "#pragma unroll\n"
    "                for (int kk = 0; kk < TSH_BK / 16; kk++)\n"
    "#pragma unroll\n"
    "                    for (int mi = 0; mi < TSH_MI; mi++)\n"
    "                        /* k16 steps advance 32 bytes within the swizzled rows. */\n"
    "                        TSH_WGMMA(acc[mi], tsh_desc(sa + mi * 64 * 128 + kk * 32), tsh_desc(sb + kk * 32));\n"
    "                tsh_wgmma_commit();\n"
    "                tsh_wgmma_wait0();\n"
    "#pragma unroll\n"
    "                for (int mi = 0; mi < TSH_MI; mi++)\n"
    "#pragma unroll\n"
    "                    for (int i = 0; i < TSH_BN / 2; i++) tsh_fence_reg(acc[mi][i]);\n"
    "                /* The stage's wgmmas are complete: hand it back to the producer. */\n"
    "                if (t == 0) tsh_mbar_arrive(empty + 8 * s);\n"
    "                if (++s == TSH_STAGES) {\n"
    "                    s = 0;\n"
    "                    phase ^= 1;\n"
    "                }\n"
    "            }\n"
    "            /* Epilogue: accumulator i of an m64nN fragment is row\n"
    "             * warp·16 + lane/4 (+8 for i%4 >= 2), column (i/4)·8 + (lane%4)·2 (+1 for odd i). */\n"
    "            const long long row0 = (long long)tm * TSH_BM + (wg - 1) * TSH_WM + warp * 16 + lane / 4;\n"
    "            const int col0 = tn * TSH_BN + (lane % 4) * 2;\n"
    ;

/* The standalone template's epilogue: bias, gelu and paired stores. */
static const char store_epilogue[] =
    "#pragma unroll\n"
    "            for (int j = 0; j < TSH_BN / 8; j++) {\n"
    "                const int col = col0 + j * 8;\n"
    "                float b0 = 0.0f, b1 = 0.0f;\n"
    "#if TSH_BIAS\n"
    "                b0 = tsh_bias(bias, col, N);\n"
    "                b1 = tsh_bias(bias, col + 1, N);\n"
    "#endif\n"
    "#pragma unroll\n"
    "                for (int mi = 0; mi < TSH_MI; mi++) {\n"
    "                    const long long row = row0 + mi * 64;\n"
    "                    tsh_store(c, row, col, M, N, acc[mi][4 * j] + b0, acc[mi][4 * j + 1] + b1);\n"
    "                    tsh_store(c, row + 8, col, M, N, acc[mi][4 * j + 2] + b0, acc[mi][4 * j + 3] + b1);\n"
    "                }\n"
    "            }\n"
    ;

const char tsc_hopper_gemm_close[] = "        }\n    }\n}\n";

/* Register split of the 64K-register file: __launch_bounds__(threads, 1)
 * caps the entry at 65536/threads (168 for 384); the producer drops to 40
 * and the consumers take what that frees (2·128·232 + 128·40 ≤ 65536). With
 * one consumer the entry cap is already 255 (checked against ptxas in the
 * test: the entry count must not exceed the consumers' new count). */
enum { PRODUCER_REGS = 40 };
static int consumer_regs(const struct tsc_hopper_gemm_cfg *c) { return c->consumers == 2 ? 232 : 240; }

int tsc_hopper_gemm_threads(const struct tsc_hopper_gemm_cfg *cfg) {
    struct tsc_hopper_gemm_cfg f = filled(cfg);
    return 128 * (f.consumers + 1);
}

void tsc_hopper_gemm_emit_defs(struct tsc_src *s, const struct tsc_hopper_gemm_cfg *cfg) {
    struct tsc_hopper_gemm_cfg f = filled(cfg), *c = &f;
    tsc_printf(s,
               "#define TSH_BM %d\n#define TSH_BN %d\n#define TSH_BK %d\n#define TSH_STAGES %d\n"
               "#define TSH_CONSUMERS %d\n#define TSH_WM %d\n#define TSH_MI %d\n#define TSH_GROUP_M %d\n"
               "#define TSH_A_BYTES %d\n#define TSH_B_BYTES %d\n#define TSH_BIAS %d\n"
               "#define TSH_PRODUCER_REGS %d\n#define TSH_CONSUMER_REGS %d\n\n",
               c->bm, c->bn, c->bk, c->stages, c->consumers, c->bm / c->consumers, c->bm / c->consumers / 64,
               c->group_m, c->bm * c->bk * 2, c->bn * c->bk * 2, c->bias ? 1 : 0, PRODUCER_REGS,
               consumer_regs(c));
    tsc_puts(s, tsc_hopper_ptx_helpers);
    tsc_puts(s, helpers);
    tsc_puts(s, "\n");
    emit_wgmma(s, c);
}

void tsc_hopper_gemm_emit_undefs(struct tsc_src *s) {
    static const char *const names[] = {"BM", "BN", "BK", "STAGES", "CONSUMERS", "WM", "MI", "GROUP_M", "A_BYTES",
                                        "B_BYTES", "BIAS", "PRODUCER_REGS", "CONSUMER_REGS", "WGMMA"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) tsc_printf(s, "#undef TSH_%s\n", names[i]);
}

enum ts_status tsc_hopper_gemm_source(const struct tsc_hopper_gemm_cfg *cfg, char **out,
                                      struct ts_cuda_launch *launch, struct ts_diag *d) {
    *out = NULL;
    enum ts_status st = tsc_hopper_gemm_check(cfg, d);
    if (st != TS_OK) return st;
    struct tsc_hopper_gemm_cfg f = filled(cfg), *c = &f;
    const char *name = c->name;
    int threads = tsc_hopper_gemm_threads(c);

    struct tsc_src s = {0};
    tsc_printf(&s,
               "/* %s: sm_90a GEMM (tessera, codegen/cuda/hopper_gemm.c): C = A·Bᵀ%s%s,\n"
               " * %s inputs, f32 accumulation, %s output; bm %d bn %d bk %d, %d stages,\n"
               " * %d consumer warpgroup%s + 1 producer, persistent, group_m %d. */\n",
               name, c->bias ? " + bias" : "", c->gelu ? " → gelu_tanh" : "", ts_dtype_name(c->in),
               ts_dtype_name(c->out), c->bm, c->bn, c->bk, c->stages, c->consumers,
               c->consumers > 1 ? "s" : "", c->group_m);
    tsc_hopper_gemm_emit_defs(&s, c);
    emit_store(&s, c);
    tsc_printf(&s,
               "extern \"C\" __global__ void __launch_bounds__(%d, 1)\n"
               "%s(const __grid_constant__ TsTensorMap tma_a, const __grid_constant__ TsTensorMap tma_b,\n"
               "    tsh_out *__restrict__ c, const tsh_out *__restrict__ bias, int M, int N, int K) {\n",
               threads, name);
    tsc_puts(&s, tsc_hopper_gemm_mainloop);
    tsc_puts(&s, store_epilogue);
    tsc_puts(&s, tsc_hopper_gemm_close);
    return tsc_hopper_finish(&s, name, "GEMM", threads, tsc_hopper_gemm_shared_bytes(c), out, launch, d);
}
