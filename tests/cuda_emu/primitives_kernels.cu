/* primitives_kernels.cu — hand-written kernels for test_emu_primitives.c: each
 * exercises one primitive of primitives.cuh the way its comment documents it,
 * so the test can check the emulator against independent expectations.
 * Compiled only for the emulator (each has its own TS_EMULATE trampoline). */

/* One mma per instruction kind: A row-major (16×K), B row-major K×8 (read
 * here column-wise as the fragment rules say), D row-major 16×8, accumulated
 * onto D's initial values. kind: 0 f16, 1 bf16 (A, B as ts_u16 bits), 2 tf32 (f32). */
extern "C" __global__ void mma_one(const void *A, const void *B, float *D, int kind) {
    ts_u32 l = ts_lane(), g = l / 4, t = l % 4;
    ts_u32 a[4], b[2];
    if (kind < 2) {
        const ts_u16 *a16 = (const ts_u16 *)A, *b16 = (const ts_u16 *)B;
#define AH(r, c) ((ts_u32)a16[(r)*16 + (c)])
#define BH(r, c) ((ts_u32)b16[(r)*8 + (c)])
        a[0] = AH(g, 2 * t) | AH(g, 2 * t + 1) << 16;
        a[1] = AH(g + 8, 2 * t) | AH(g + 8, 2 * t + 1) << 16;
        a[2] = AH(g, 2 * t + 8) | AH(g, 2 * t + 9) << 16;
        a[3] = AH(g + 8, 2 * t + 8) | AH(g + 8, 2 * t + 9) << 16;
        b[0] = BH(2 * t, g) | BH(2 * t + 1, g) << 16;
        b[1] = BH(2 * t + 8, g) | BH(2 * t + 9, g) << 16;
    } else {
        const float *af = (const float *)A, *bf = (const float *)B;
        a[0] = ts_f32_to_tf32(af[g * 8 + t]);
        a[1] = ts_f32_to_tf32(af[(g + 8) * 8 + t]);
        a[2] = ts_f32_to_tf32(af[g * 8 + t + 4]);
        a[3] = ts_f32_to_tf32(af[(g + 8) * 8 + t + 4]);
        b[0] = ts_f32_to_tf32(bf[t * 8 + g]);
        b[1] = ts_f32_to_tf32(bf[(t + 4) * 8 + g]);
    }
    float d[4] = {D[g * 8 + 2 * t], D[g * 8 + 2 * t + 1], D[(g + 8) * 8 + 2 * t], D[(g + 8) * 8 + 2 * t + 1]};
    if (kind == 0) ts_mma_m16n8k16_f16(d, a, b);
    else if (kind == 1) ts_mma_m16n8k16_bf16(d, a, b);
    else ts_mma_m16n8k8_tf32(d, a, b);
    D[g * 8 + 2 * t] = d[0];
    D[g * 8 + 2 * t + 1] = d[1];
    D[(g + 8) * 8 + 2 * t] = d[2];
    D[(g + 8) * 8 + 2 * t + 1] = d[3];
}
extern "C" void mma_one_emu(void **p) { mma_one(p[0], p[1], (float *)p[2], (int)(long long)p[3]); }

/* ldmatrix: four 8×8 b16 matrices in shared memory, row r of matrix j at
 * 8·(8j + r) elements, holding bits 64j + 8r + c. Lane l passes the address
 * of row l%8 of matrix l/8; lanes whose address the instruction does not read
 * pass a misaligned one. out[lane·4 + j] = register j. which: 0 x1, 1 x2,
 * 2 x4, 3 x2.trans, 4 x4.trans. */
extern "C" __global__ void ldmatrix_test(ts_u32 *out, int which) {
    TS_SMEM_DECLARE(smem);
    ts_u16 *m = (ts_u16 *)smem;
    ts_u32 l = ts_lane();
    for (int i = 0; i < 8; i++) m[l * 8 + i] = (ts_u16)(l * 8 + i);
    ts_syncthreads();
    int used = which == 0 ? 8 : which == 1 || which == 3 ? 16 : 32;
    const void *addr = (int)l < used ? (const void *)(m + 8 * l) : (const void *)(smem + 1);
    ts_u32 r[4] = {0, 0, 0, 0};
    if (which == 0) ts_ldmatrix_x1(r, addr);
    if (which == 1) ts_ldmatrix_x2(r, addr);
    if (which == 2) ts_ldmatrix_x4(r, addr);
    if (which == 3) ts_ldmatrix_x2_trans(r, addr);
    if (which == 4) ts_ldmatrix_x4_trans(r, addr);
    for (int j = 0; j < 4; j++) out[l * 4 + j] = r[j];
}
extern "C" void ldmatrix_test_emu(void **p) { ldmatrix_test((ts_u32 *)p[0], (int)(long long)p[1]); }

/* cp.async: each thread copies 16 bytes of src (copy A: all 16 bytes; copy B:
 * src_bytes = threadIdx.x % 17, the rest zero-filled) and records what its
 * destination holds before any wait, after wait<1> and after wait<0>.
 * out: 3 snapshots × 2 copies × 16 bytes per thread. */
extern "C" __global__ void cp_async_test(const unsigned char *src, unsigned char *out) {
    TS_SMEM_DECLARE(smem);
    ts_u32 t = threadIdx.x;
    unsigned char *da = smem + 32 * t, *db = smem + 32 * t + 16;
    ts_cp_async_16(da, src + 16 * t, 16);
    ts_cp_async_commit();
    ts_cp_async_16(db, src + 16 * (t + blockDim.x), (int)(t % 17));
    ts_cp_async_commit();
    unsigned char *o = out + 96 * t;
    for (int i = 0; i < 32; i++) o[i] = da[i];
    ts_cp_async_wait<1>();
    for (int i = 0; i < 32; i++) o[32 + i] = da[i];
    ts_cp_async_wait<0>();
    for (int i = 0; i < 32; i++) o[64 + i] = da[i];
}
extern "C" void cp_async_test_emu(void **p) { cp_async_test((const unsigned char *)p[0], (unsigned char *)p[1]); }

/* 8- and 4-byte cp.async; a copy never committed is not completed by wait<0>. */
extern "C" __global__ void cp_async_small(const unsigned char *src, unsigned char *out) {
    TS_SMEM_DECLARE(smem);
    ts_cp_async_8(smem, src, 8);
    ts_cp_async_4(smem + 8, src + 8, 3);
    ts_cp_async_commit();
    ts_cp_async_4(smem + 12, src + 12, 4); /* never committed */
    ts_cp_async_wait<0>();
    for (int i = 0; i < 16; i++) out[i] = smem[i];
}
extern "C" void cp_async_small_emu(void **p) { cp_async_small((const unsigned char *)p[0], (unsigned char *)p[1]); }

/* Shuffles: per lane, the xor-1, xor-16, xor-31 partners (f32), an f64 and
 * an i64 butterfly sum, and lane (31 - l)'s value through the indexed form. */
extern "C" __global__ void shfl_test(float *f, double *dd, long long *ii) {
    ts_u32 l = ts_lane(), w = ts_warp();
    float v = (float)(100 * w + l);
    float *o = f + 4 * threadIdx.x;
    o[0] = ts_shfl_xor_f32(v, 1);
    o[1] = ts_shfl_xor_f32(v, 16);
    o[2] = ts_shfl_xor_f32(v, 31);
    o[3] = ts_shfl_idx_f32(v, (int)(31 - l) + 64); /* the source lane is taken mod 32 */
    double s = 0.5 + l;
    long long si = (1ll << 40) + l;
    for (int m = 16; m; m >>= 1) {
        s += ts_shfl_xor_f64(s, m);
        si += ts_shfl_xor_i64(si, m);
    }
    dd[threadIdx.x] = s;
    ii[threadIdx.x] = si;
}
extern "C" void shfl_test_emu(void **p) { shfl_test((float *)p[0], (double *)p[1], (long long *)p[2]); }

/* Conversions of n values: f32→f16, f32→bf16, f32→tf32 (bits), f64→f16;
 * back_h/back_b decode the bits i; packs gets (1, -2) packed as f16x2, bf16x2. */
extern "C" __global__ void convert(const float *x, const double *xd, ts_u16 *h, ts_u16 *bh, ts_u32 *tf, ts_u16 *hd,
                                   float *back_h, float *back_b, ts_u32 *packs, int n) {
    int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    h[i] = ts_f32_to_f16(x[i]);
    bh[i] = ts_f32_to_bf16(x[i]);
    tf[i] = ts_f32_to_tf32(x[i]);
    hd[i] = ts_f64_to_f16(xd[i]);
    back_h[i] = ts_f16_to_f32((ts_u16)i);
    back_b[i] = ts_bf16_to_f32((ts_u16)i);
    if (i == 0) {
        packs[0] = ts_pack_f16x2(1.0f, -2.0f);
        packs[1] = ts_pack_bf16x2(1.0f, -2.0f);
    }
}
extern "C" void convert_emu(void **p) {
    convert((const float *)p[0], (const double *)p[1], (ts_u16 *)p[2], (ts_u16 *)p[3], (ts_u32 *)p[4], (ts_u16 *)p[5],
            (float *)p[6], (float *)p[7], (ts_u32 *)p[8], (int)(long long)p[9]);
}

/* A block-wide sum through shared memory and barriers, every grid dimension
 * used: out[block] = sum of (block·1000 + thread) over the block's threads. */
extern "C" __global__ __launch_bounds__(1024) void block_sum(long long *out, int *error) {
    __shared__ __align__(16) long long part[1024];
    long long b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    part[threadIdx.x] = b * 1000 + threadIdx.x;
    ts_syncthreads();
    for (unsigned s = 512; s; s >>= 1) {
        if (threadIdx.x < s && threadIdx.x + s < blockDim.x) part[threadIdx.x] += part[threadIdx.x + s];
        ts_syncthreads();
    }
    if (threadIdx.x == 0) out[b] = part[0];
    if (b == 5 && threadIdx.x == 7) ts_raise(error, 3);
    if (b == 6) ts_raise(error, 4); /* too late: the first error stays */
}
extern "C" void block_sum_emu(void **p) { block_sum((long long *)p[0], (int *)p[1]); }

/* Static shared memory starts each block as garbage: block 1 reads what block
 * 0 would have left there had it not been reset. */
extern "C" __global__ void static_smem(unsigned *out) {
    __shared__ unsigned box[4];
    if (blockIdx.x == 1) out[threadIdx.x] = box[threadIdx.x];
    box[threadIdx.x] = 7;
}
extern "C" void static_smem_emu(void **p) { static_smem((unsigned *)p[0]); }

/* Misuse the emulator must report (which): 0 half the block at a barrier;
 * 1 two different barriers; 2 half a warp at a shuffle; 3 a thread exits
 * before a barrier; 4 misaligned cp.async; 5 misaligned ldmatrix; 6 a warp
 * collective in a 48-thread block; 7 lanes of a warp at different collectives;
 * 8 a read one past the end of out (64 floats): ASan's to report. */
extern "C" __global__ void misuse(float *out, int which) {
    TS_SMEM_DECLARE(smem);
    ts_u32 t = threadIdx.x;
    float v = (float)t;
    if (which == 0 && t < 16) ts_syncthreads();
    if (which == 1) {
        if (t & 1) ts_syncthreads();
        else ts_syncthreads();
    }
    if (which == 2 && ts_lane() < 16) v = ts_shfl_xor_f32(v, 1);
    if (which == 3) {
        if (t == 5) return;
        ts_syncthreads();
    }
    if (which == 4) ts_cp_async_16(smem + 8, out, 16);
    if (which == 5) {
        ts_u32 r[4];
        ts_ldmatrix_x4(r, smem + 8 * (t == 9));
        v = (float)r[0];
    }
    if (which == 6) v = ts_shfl_xor_f32(v, 2);
    if (which == 7) {
        if (t == 3) v = ts_shfl_idx_f32(v, 0);
        else v = ts_shfl_xor_f32(v, 1);
    }
    if (which == 8) v = out[t + 1];
    out[t] = v;
}
extern "C" void misuse_emu(void **p) { misuse((float *)p[0], (int)(long long)p[1]); }
