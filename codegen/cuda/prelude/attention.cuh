/* attention.cuh — the flash-attention template: one block computes BQ query
 * rows of one (batch, head) in one pass over the keys with an online softmax
 * (running max and sum in f32); every warp owns 16 query rows. K/V tiles of
 * BK keys stream through a cp.async ring of STAGES shared-memory slots.
 *
 * Three paths (C::PATH):
 *   0  f16/bf16: mma.sync m16n8k16, Q and K fragments by ldmatrix, V by
 *      ldmatrix.trans, P re-packed from the score accumulators in registers;
 *   1  f32 on tensor cores: mma.sync m16n8k8 on tf32-rounded operands;
 *   2  f32 on CUDA cores (strict f32): the same accumulator layout, exact FMAs.
 * The emitter (codegen/cuda/emit_attention.c) writes the config struct C with
 * every size, stride and flag as a compile-time constant, calls
 * ts_attn_block<C>, and stores the normalized accumulators itself through the
 * kernel's epilogue.
 *
 * Fragment layouts: PTX ISA 9.0 §9.7.14.5.8 "Matrix Fragments for
 * mma.m16n8k16 with floating point type" (A: a0,a1 row g cols 2t,2t+1; a2,a3
 * row g+8; a4..a7 the same at cols +8. B: b0,b1 rows 2t,2t+1 col g; b2,b3 rows
 * +8. C/D: c0,c1 row g cols 2t,2t+1; c2,c3 row g+8), §9.7.14.5.7 for m16n8k8
 * .tf32, and §9.7.14.5.15 ldmatrix (lane l gets row l/4, elements 2(l%4),
 * 2(l%4)+1 of each 8×8 matrix; .trans of the transpose). g = lane/4, t = lane%4.
 * primitives.cuh restates them next to the instructions. */

/* -inf without a header (NVRTC has none). */
TS_DEVICE float ts_attn_neg_inf(void) { return ts_as_f32(0xff800000u); }

/* max that propagates NaN as the reference does (fmaxf would drop it). */
TS_DEVICE float ts_attn_max(float a, float b) { return (a > b || a != a) ? a : b; }

/* Element types by dtype code (0 f32, 1 f16, 2 bf16): storage and load as f32. */
template <int DT> struct ts_attn_dt;
template <> struct ts_attn_dt<0> {
    typedef float T;
    TS_DEVICE float f32(float x) { return x; }
};
template <> struct ts_attn_dt<1> {
    typedef ts_u16 T;
    TS_DEVICE float f32(ts_u16 x) { return ts_f16_to_f32(x); }
    TS_DEVICE ts_u32 pack(float lo, float hi) { return ts_pack_f16x2(lo, hi); }
    TS_DEVICE void mma(float d[4], const ts_u32 a[4], const ts_u32 b[2]) { ts_mma_m16n8k16_f16(d, a, b); }
};
template <> struct ts_attn_dt<2> {
    typedef ts_u16 T;
    TS_DEVICE float f32(ts_u16 x) { return ts_bf16_to_f32(x); }
    TS_DEVICE ts_u32 pack(float lo, float hi) { return ts_pack_bf16x2(lo, hi); }
    TS_DEVICE void mma(float d[4], const ts_u32 a[4], const ts_u32 b[2]) { ts_mma_m16n8k16_bf16(d, a, b); }
};

/* What a thread holds when the pass is over: its accumulator fragments
 * (rows row0 and row0 + 8, columns nt·8 + col0 + {0, 1}) and the row sums. */
template <class C> struct ts_attn_result {
    float o[C::DVP / 8][4];
    float l[2];            /* softmax denominators of rows row0, row0 + 8 (0: no key seen) */
    long long b, h, row0;  /* batch, query head, first query row of the fragment */
    int col0;              /* 2·(lane % 4) */
};

/* Rows [0, ROWS) × columns [0, COLS) of a tile into shared memory (row pitch
 * PITCH elements) from src (element (r, c) at src[r·rs + c·cs]); rows from
 * 'valid' and columns from 'cols' on are zero-filled, so padding contributes
 * exact zeros to every dot product. ASYNC: 16-byte cp.async copies (src and
 * rs 16-byte aligned, cs 1: the emitter proved it), else element loads. */
template <class C, int ROWS, int COLS, int PITCH, bool ASYNC>
TS_DEVICE void ts_attn_load_tile(typename ts_attn_dt<C::DT>::T *dst, const typename ts_attn_dt<C::DT>::T *src,
                                 long long rs, long long cs, int valid, int cols) {
    typedef typename ts_attn_dt<C::DT>::T T;
    const int nt = C::WARPS * 32;
    if (ASYNC) {
        const int per = 16 / (int)sizeof(T), chunks = COLS / per;
        for (int i = (int)threadIdx.x; i < ROWS * chunks; i += nt) {
            const int r = i / chunks, c = (i - r * chunks) * per;
            int n = cols - c;
            n = r < valid ? (n < 0 ? 0 : n > per ? per : n) : 0;
            /* a zero-byte copy still needs a valid address: row 0 exists */
            const T *g = n > 0 ? src + r * rs + c : src;
            ts_cp_async_16(dst + r * PITCH + c, g, n * (int)sizeof(T));
        }
    } else {
        for (int i = (int)threadIdx.x; i < ROWS * COLS; i += nt) {
            const int r = i / COLS, c = i - r * COLS;
            T x = 0;
            if (r < valid && c < cols) x = src[r * rs + c * cs];
            dst[r * PITCH + c] = x;
        }
    }
}

/* S += Q·Kᵀ for the warp's 16 rows against the BK keys of the K slot. */
template <class C>
TS_DEVICE void ts_attn_scores(float s[C::BK / 8][4], const typename ts_attn_dt<C::DT>::T *sq,
                              const typename ts_attn_dt<C::DT>::T *sk) {
    const int lane = (int)ts_lane(), g = lane >> 2, t = lane & 3;
    if constexpr (C::PATH == 0) {
        /* A (x4): matrices rows 0-7/8-15 × cols 0-7/8-15, lane l addresses row
         * l%8 of matrix l/8. B (x4): keys n0..7 and n0+8..15 × d 0-7/8-15. */
        const int arow = (lane & 7) + ((lane >> 3) & 1) * 8, acol = (lane >> 4) * 8;
        const int brow = (lane & 7) + (lane >> 4) * 8, bcol = ((lane >> 3) & 1) * 8;
#pragma unroll
        for (int kc = 0; kc < C::DP / 16; kc++) {
            ts_u32 a[4];
            ts_ldmatrix_x4(a, sq + arow * C::QPITCH + kc * 16 + acol);
#pragma unroll
            for (int np = 0; np < C::BK / 16; np++) {
                ts_u32 b[4];
                ts_ldmatrix_x4(b, sk + (np * 16 + brow) * C::QPITCH + kc * 16 + bcol);
                ts_attn_dt<C::DT>::mma(s[2 * np], a, b);
                ts_attn_dt<C::DT>::mma(s[2 * np + 1], a, b + 2);
            }
        }
    } else if constexpr (C::PATH == 1) {
        /* tf32 k8 steps. The head-dim order inside a step is free as long as
         * A's columns and B's rows agree: column t ↔ d 2t, column t+4 ↔ d
         * 2t+1, so each lane reads adjacent pairs. */
        const float *q0 = (const float *)sq + g * C::QPITCH + 2 * t, *q1 = q0 + 8 * C::QPITCH;
#pragma unroll 2
        for (int kc = 0; kc < C::DP / 8; kc++) {
            ts_u32 a[4];
            a[0] = ts_f32_to_tf32(q0[kc * 8]);
            a[2] = ts_f32_to_tf32(q0[kc * 8 + 1]);
            a[1] = ts_f32_to_tf32(q1[kc * 8]);
            a[3] = ts_f32_to_tf32(q1[kc * 8 + 1]);
#pragma unroll
            for (int nt = 0; nt < C::BK / 8; nt++) {
                const float *kr = (const float *)sk + (nt * 8 + g) * C::QPITCH + kc * 8 + 2 * t;
                ts_u32 b[2];
                b[0] = ts_f32_to_tf32(kr[0]);
                b[1] = ts_f32_to_tf32(kr[1]);
                ts_mma_m16n8k8_tf32(s[nt], a, b);
            }
        }
    } else {
        /* Exact f32: the lane computes its own accumulator entries
         * (rows g, g+8 × keys nt·8 + 2t, +1) as plain dot products. */
        const float *q0 = (const float *)sq + g * C::QPITCH, *q1 = q0 + 8 * C::QPITCH;
        const float *kb = (const float *)sk + 2 * t * C::QPITCH;
#pragma unroll 2
        for (int d = 0; d < C::DP; d++) {
            const float x0 = q0[d], x1 = q1[d];
#pragma unroll
            for (int nt = 0; nt < C::BK / 8; nt++) {
                const float k0 = kb[nt * 8 * C::QPITCH + d], k1 = kb[(nt * 8 + 1) * C::QPITCH + d];
                s[nt][0] = fmaf(x0, k0, s[nt][0]);
                s[nt][1] = fmaf(x0, k1, s[nt][1]);
                s[nt][2] = fmaf(x1, k0, s[nt][2]);
                s[nt][3] = fmaf(x1, k1, s[nt][3]);
            }
        }
    }
}

/* O += P·V for the warp's 16 rows; P is the probability fragment (the
 * accumulator layout of the scores). */
template <class C>
TS_DEVICE void ts_attn_pv(float o[C::DVP / 8][4], const float p[C::BK / 8][4], const typename ts_attn_dt<C::DT>::T *sv) {
    const int lane = (int)ts_lane(), g = lane >> 2, t = lane & 3;
    if constexpr (C::PATH == 0) {
        /* P's accumulator tiles 2kc, 2kc+1 are exactly the A fragment of
         * keys 16kc … 16kc+15. V (x4.trans): keys 0-7/8-15 × dv 0-7/8-15. */
        const int vrow = (lane & 7) + ((lane >> 3) & 1) * 8, vcol = (lane >> 4) * 8;
#pragma unroll
        for (int kc = 0; kc < C::BK / 16; kc++) {
            ts_u32 a[4];
            a[0] = ts_attn_dt<C::DT>::pack(p[2 * kc][0], p[2 * kc][1]);
            a[1] = ts_attn_dt<C::DT>::pack(p[2 * kc][2], p[2 * kc][3]);
            a[2] = ts_attn_dt<C::DT>::pack(p[2 * kc + 1][0], p[2 * kc + 1][1]);
            a[3] = ts_attn_dt<C::DT>::pack(p[2 * kc + 1][2], p[2 * kc + 1][3]);
#pragma unroll
            for (int np = 0; np < C::DVP / 16; np++) {
                ts_u32 b[4];
                ts_ldmatrix_x4_trans(b, sv + (kc * 16 + vrow) * C::VPITCH + np * 16 + vcol);
                ts_attn_dt<C::DT>::mma(o[2 * np], a, b);
                ts_attn_dt<C::DT>::mma(o[2 * np + 1], a, b + 2);
            }
        }
    } else if constexpr (C::PATH == 1) {
        /* One score tile per k8 step; key order as in ts_attn_scores: A
         * column t ↔ key 2t (p[.][0], p[.][2]), column t+4 ↔ key 2t+1. */
#pragma unroll
        for (int kc = 0; kc < C::BK / 8; kc++) {
            ts_u32 a[4];
            a[0] = ts_f32_to_tf32(p[kc][0]);
            a[1] = ts_f32_to_tf32(p[kc][2]);
            a[2] = ts_f32_to_tf32(p[kc][1]);
            a[3] = ts_f32_to_tf32(p[kc][3]);
            const float *v0 = (const float *)sv + (kc * 8 + 2 * t) * C::VPITCH + g, *v1 = v0 + C::VPITCH;
#pragma unroll
            for (int nd = 0; nd < C::DVP / 8; nd++) {
                ts_u32 b[2];
                b[0] = ts_f32_to_tf32(v0[nd * 8]);
                b[1] = ts_f32_to_tf32(v1[nd * 8]);
                ts_mma_m16n8k8_tf32(o[nd], a, b);
            }
        }
    } else {
        /* Each lane needs every key of its rows: the quad's lanes hold them
         * in pairs, so broadcast each pair within the quad. */
#pragma unroll
        for (int kc = 0; kc < C::BK / 8; kc++) {
#pragma unroll
            for (int tp = 0; tp < 4; tp++) {
                const int src = (lane & ~3) | tp;
                const float p00 = ts_shfl_idx_f32(p[kc][0], src), p01 = ts_shfl_idx_f32(p[kc][1], src);
                const float p10 = ts_shfl_idx_f32(p[kc][2], src), p11 = ts_shfl_idx_f32(p[kc][3], src);
                const float *v0 = (const float *)sv + (kc * 8 + 2 * tp) * C::VPITCH + 2 * t, *v1 = v0 + C::VPITCH;
#pragma unroll
                for (int nd = 0; nd < C::DVP / 8; nd++) {
                    const float a0 = v0[nd * 8], a1 = v0[nd * 8 + 1], b0 = v1[nd * 8], b1 = v1[nd * 8 + 1];
                    o[nd][0] = fmaf(p01, b0, fmaf(p00, a0, o[nd][0]));
                    o[nd][1] = fmaf(p01, b1, fmaf(p00, a1, o[nd][1]));
                    o[nd][2] = fmaf(p11, b0, fmaf(p10, a0, o[nd][2]));
                    o[nd][3] = fmaf(p11, b1, fmaf(p10, a1, o[nd][3]));
                }
            }
        }
    }
}

/* The whole pass for block blockIdx.x: blocks run (batch, head) major and
 * query blocks from the last (longest under causal masking) to the first. */
template <class C>
TS_DEVICE void ts_attn_block(const void *qp, const void *kp, const void *vp, const void *mp, unsigned char *smem,
                             ts_attn_result<C> &r) {
    typedef typename ts_attn_dt<C::DT>::T T;
    const int lane = (int)ts_lane(), w = (int)ts_warp(), g = lane >> 2, t = lane & 3;
    const long long nqb = (C::SQ + C::BQ - 1) / C::BQ, x = (long long)blockIdx.x;
    const long long qi = nqb - 1 - x % nqb, bh = x / nqb;
    const long long h = bh % C::HQ, b = bh / C::HQ, kh = h / (C::HQ / C::HKV);
    const long long q0 = qi * C::BQ, wrow0 = q0 + w * 16;
    r.b = b;
    r.h = h;
    r.row0 = wrow0 + g;
    r.col0 = 2 * t;
    r.l[0] = r.l[1] = 0.f;
#pragma unroll
    for (int nd = 0; nd < C::DVP / 8; nd++) r.o[nd][0] = r.o[nd][1] = r.o[nd][2] = r.o[nd][3] = 0.f;

    /* Keys any row of the block sees (causal: bottom-right aligned), and
     * those the warp's last row sees: whole key blocks past them are skipped. */
    long long kend = C::SK;
    const long long qlast = (q0 + C::BQ < C::SQ ? q0 + C::BQ : C::SQ) - 1;
    if (C::CAUSAL) {
        const long long e = qlast + 1 + (C::SK - C::SQ);
        kend = e < 0 ? 0 : e < C::SK ? e : C::SK;
    }
    const long long wlast = (wrow0 + 15 < C::SQ ? wrow0 + 15 : C::SQ - 1) + (C::CAUSAL ? C::SK - C::SQ : C::SK);
    const bool wlive = wrow0 < C::SQ;
    const int nkb = (int)((kend + C::BK - 1) / C::BK);
    if (nkb == 0) return; /* no key: every row is zero, as in the reference */

    T *sQ = (T *)smem;
    T *sK = sQ + C::BQ * C::QPITCH;
    T *sV = sK + C::STAGES * C::BK * C::QPITCH;
    const T *gq = (const T *)qp + C::QO + b * C::QS0 + h * C::QS1;
    const T *gk = (const T *)kp + C::KO + b * C::KS0 + kh * C::KS1;
    const T *gv = (const T *)vp + C::VO + b * C::VS0 + kh * C::VS1;

    /* Prologue: Q, then K/V of the first STAGES-1 key blocks, one group each. */
    ts_attn_load_tile<C, C::BQ, C::DP, C::QPITCH, C::QASYNC>(sQ, gq + q0 * C::QS2, C::QS2, C::QS3,
                                                              (int)(C::SQ - q0), (int)C::D);
    ts_cp_async_commit();
#pragma unroll
    for (int st = 0; st < C::STAGES - 1; st++) {
        if (st < nkb) {
            const long long k0 = (long long)st * C::BK;
            ts_attn_load_tile<C, C::BK, C::DP, C::QPITCH, C::KASYNC>(sK + st * C::BK * C::QPITCH, gk + k0 * C::KS2,
                                                                      C::KS2, C::KS3, (int)(C::SK - k0), (int)C::D);
            ts_attn_load_tile<C, C::BK, C::DVP, C::VPITCH, C::VASYNC>(sV + st * C::BK * C::VPITCH, gv + k0 * C::VS2,
                                                                       C::VS2, C::VS3, (int)(C::SK - k0), (int)C::DV);
        }
        ts_cp_async_commit();
    }

    float m[2] = {ts_attn_neg_inf(), ts_attn_neg_inf()};
    for (int kb = 0; kb < nkb; kb++) {
        /* Refill the slot the previous iteration finished with. */
        const int pf = kb + C::STAGES - 1;
        if (pf < nkb) {
            const int st = pf % C::STAGES;
            const long long k0 = (long long)pf * C::BK;
            ts_attn_load_tile<C, C::BK, C::DP, C::QPITCH, C::KASYNC>(sK + st * C::BK * C::QPITCH, gk + k0 * C::KS2,
                                                                      C::KS2, C::KS3, (int)(C::SK - k0), (int)C::D);
            ts_attn_load_tile<C, C::BK, C::DVP, C::VPITCH, C::VASYNC>(sV + st * C::BK * C::VPITCH, gv + k0 * C::VS2,
                                                                       C::VS2, C::VS3, (int)(C::SK - k0), (int)C::DV);
        }
        ts_cp_async_commit();
        ts_cp_async_wait<C::STAGES - 1>();
        ts_syncthreads();

        const long long k0 = (long long)kb * C::BK;
        if (wlive && k0 <= wlast) {
            const int st = kb % C::STAGES;
            float s[C::BK / 8][4];
#pragma unroll
            for (int nt = 0; nt < C::BK / 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
            ts_attn_scores<C>(s, sQ + w * 16 * C::QPITCH, sK + st * C::BK * C::QPITCH);

            /* Scale, mask, and hide keys past the end or the diagonal (only
             * blocks that reach either need the test). Scores are kept in
             * base 2 (scaled by log2 e) so that each exponential is one ex2:
             * exp(x - m) = 2^(x·log2 e - m·log2 e). */
            const bool edge = k0 + C::BK > C::SK || (C::CAUSAL && k0 + C::BK - 1 > wrow0 + (C::SK - C::SQ));
            float mx[2] = {ts_attn_neg_inf(), ts_attn_neg_inf()};
#pragma unroll
            for (int nt = 0; nt < C::BK / 8; nt++) {
#pragma unroll
                for (int c = 0; c < 4; c++) {
                    const long long i = r.row0 + (c >> 1) * 8, j = k0 + nt * 8 + 2 * t + (c & 1);
                    float v = s[nt][c] * C::SCALE_LOG2E;
                    if (C::HAS_MASK && i < C::SQ && j < C::SK) {
                        const typename ts_attn_dt<C::MDT>::T *mk = (const typename ts_attn_dt<C::MDT>::T *)mp;
                        const float mv = ts_attn_dt<C::MDT>::f32(mk[C::MO + b * C::MS0 + h * C::MS1 + i * C::MS2 + j * C::MS3]);
                        v = fmaf(mv, 1.44269504088896341f, v);
                    }
                    if (edge && (j >= C::SK || (C::CAUSAL && j > i + (C::SK - C::SQ)))) v = ts_attn_neg_inf();
                    s[nt][c] = v;
                    mx[c >> 1] = ts_attn_max(mx[c >> 1], v);
                }
            }
            /* Online softmax: the quad (lanes 4g … 4g+3) shares a row. */
            float alpha[2], ms[2];
#pragma unroll
            for (int rr = 0; rr < 2; rr++) {
                mx[rr] = ts_attn_max(mx[rr], ts_shfl_xor_f32(mx[rr], 1));
                mx[rr] = ts_attn_max(mx[rr], ts_shfl_xor_f32(mx[rr], 2));
                const float mn = ts_attn_max(m[rr], mx[rr]);
                /* every score so far -inf: subtract 0, so exp gives 0, not NaN */
                ms[rr] = mn == ts_attn_neg_inf() ? 0.f : mn;
                alpha[rr] = exp2f(m[rr] - ms[rr]);
                m[rr] = mn;
            }
            float ps[2] = {0.f, 0.f};
#pragma unroll
            for (int nt = 0; nt < C::BK / 8; nt++) {
#pragma unroll
                for (int c = 0; c < 4; c++) {
                    s[nt][c] = exp2f(s[nt][c] - ms[c >> 1]);
                    ps[c >> 1] += s[nt][c];
                }
            }
            /* Lane-partial sums: every lane of the quad scales by the same
             * alpha, so the quad's total is summed once at the end. */
            r.l[0] = r.l[0] * alpha[0] + ps[0];
            r.l[1] = r.l[1] * alpha[1] + ps[1];
#pragma unroll
            for (int nd = 0; nd < C::DVP / 8; nd++) {
                r.o[nd][0] *= alpha[0];
                r.o[nd][1] *= alpha[0];
                r.o[nd][2] *= alpha[1];
                r.o[nd][3] *= alpha[1];
            }
            ts_attn_pv<C>(r.o, s, sV + st * C::BK * C::VPITCH);
        }
        ts_syncthreads(); /* the slot is refilled next iteration */
    }
    ts_cp_async_wait<0>();
#pragma unroll
    for (int rr = 0; rr < 2; rr++) {
        r.l[rr] += ts_shfl_xor_f32(r.l[rr], 1);
        r.l[rr] += ts_shfl_xor_f32(r.l[rr], 2);
    }
}
