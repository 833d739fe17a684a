/* gemm.cuh — the GEMM main loops emit_gemm.c instantiates: tensor cores
 * (mma.sync m16n8k16 f16/bf16 via ldmatrix, or m16n8k8 tf32) over a
 * multi-stage cp.async pipeline, a SIMT loop (FMA, or wrapping integer
 * multiply-add), block rasterization and the deterministic split-K reduction.
 *
 * A configuration C (a struct the emitter writes) gives, as compile-time
 * constants: TA, TB (storage types), ACC (SIMT accumulator), ADT/BDT
 * (TS_GEMM_DT_*), INSTR (TS_GEMM_*), BM BN BK WM WN STAGES SPLIT SWZ NTHREADS,
 * ALAY/BLAY and AVEC/BVEC (shared layout, elements per global copy), SMEM
 * (the dynamic shared bytes launched, the last 16 for the split-K flag), and
 * the long long M N K BATCH TILES_M TILES_N SAM SAK SBN SBK: A's element
 * (m, k) is A[oa + m·SAM + k·SAK], B's (n, k) is B[ob + n·SBN + k·SBK]. The
 * generated kernel applies the epilogue to each accumulator (coord() says
 * where it belongs). */

#ifdef TS_EMULATE
#define TS_GEMM_UNROLL
#define TS_GEMM_UNROLL4
#define TS_GEMM_NO_UNROLL
#else
#define TS_GEMM_UNROLL _Pragma("unroll")
#define TS_GEMM_UNROLL4 _Pragma("unroll 4")
#define TS_GEMM_NO_UNROLL _Pragma("unroll 1")
#endif
/* Member functions (TS_DEVICE is static, which members cannot be). */
#define TS_GEMM_FN __device__ __forceinline__

/* Operand dtypes (how a stored element becomes a value). */
#define TS_GEMM_DT_F32 0
#define TS_GEMM_DT_F16 1
#define TS_GEMM_DT_BF16 2
#define TS_GEMM_DT_I32 3
#define TS_GEMM_DT_I64 4
#define TS_GEMM_DT_BOOL 5
/* Main loops (values of ts_gemm_instr). */
#define TS_GEMM_SIMT 1
#define TS_GEMM_MMA_F16 2
#define TS_GEMM_MMA_TF32 3
/* Shared layouts of an operand tile: k contiguous ([rows][BK + pad]) or the
 * rows (m for A, n for B) contiguous ([BK][rows + pad]). */
#define TS_GEMM_KMAJOR 0
#define TS_GEMM_RMAJOR 1

template <class T> TS_DEVICE T ts_gemm_min(T a, T b) { return a < b ? a : b; }
template <class T> TS_DEVICE T ts_gemm_max(T a, T b) { return a > b ? a : b; }

/* One operand tile (ROWS × BK elements of ES bytes) in shared memory. The
 * padding makes the row pitch an odd multiple of 16 bytes for b16 (each 8×8
 * ldmatrix reads 8 rows in 8 distinct bank quads) and ≡ 4 or 8 words mod 32
 * for the scalar tf32 fragment loads, so neither has bank conflicts. */
template <int LAY, int ROWS, int BK, int ES> struct ts_gemm_tile {
    enum {
        PAD = ES == 2 ? 8 : (LAY == TS_GEMM_KMAJOR ? 4 : 8),
        LD = LAY == TS_GEMM_KMAJOR ? BK + PAD : ROWS + PAD,
        BYTES = (LAY == TS_GEMM_KMAJOR ? ROWS : BK) * LD * ES
    };
    static TS_GEMM_FN int at(int r, int k) { return LAY == TS_GEMM_KMAJOR ? r * LD + k : k * LD + r; }
};

/* Starts copying the ROWS × BK tile whose element (r, k) is g[off + r·SR +
 * k·SK] into dst: rows >= nrows and k >= nk become zero (cp.async zero-fill;
 * the source address is then g itself, which is valid and aligned). VEC
 * consecutive elements along the contiguous dim per copy: VEC·sizeof(T) of
 * 16, 8 or 4 bytes goes through cp.async, a lone b16 through registers. The
 * emitter picks VEC so every copy's source is VEC-aligned. */
template <class T, int LAY, int ROWS, int BK, int VEC, int NT>
TS_DEVICE void ts_gemm_load_tile(T *dst, const T *g, long long off, long long SR, long long SK, long long nrows,
                                 long long nk) {
    typedef ts_gemm_tile<LAY, ROWS, BK, (int)sizeof(T)> L;
    enum {
        PER = (LAY == TS_GEMM_KMAJOR ? BK : ROWS) / VEC, /* copies per contiguous line */
        TOTAL = (LAY == TS_GEMM_KMAJOR ? ROWS : BK) * PER,
        ITERS = (TOTAL + NT - 1) / NT,
        BYTES = VEC * (int)sizeof(T)
    };
    /* A tile wholly inside the operand needs no per-copy bounds (the usual
     * case: only edge tiles pay for them). */
    const bool inside = nrows >= ROWS && nk >= BK;
    const int tid = (int)threadIdx.x;
    TS_GEMM_UNROLL
    for (int j = 0; j < ITERS; j++) {
        const int c = tid + j * NT;
        if (TOTAL % NT != 0 && c >= TOTAL) break;
        /* NT a multiple of PER (the usual case): x is the same for every j
         * and line steps by a constant, so no division per copy */
        const int line = NT % PER == 0 ? tid / PER + j * (NT / PER) : c / PER;
        const int x = (NT % PER == 0 ? tid % PER : c % PER) * VEC;
        const int r = LAY == TS_GEMM_KMAJOR ? line : x, k = LAY == TS_GEMM_KMAJOR ? x : line;
        int n = VEC;
        if (!inside) {
            long long left = LAY == TS_GEMM_KMAJOR ? (r < nrows ? nk - k : 0) : (k < nk ? nrows - r : 0);
            n = (int)ts_gemm_max(0LL, ts_gemm_min((long long)VEC, left));
        }
        const T *src = n > 0 ? g + off + r * SR + k * SK : g;
        T *d = dst + L::at(r, k);
        if (BYTES == 16) ts_cp_async_16(d, src, n * (int)sizeof(T));
        else if (BYTES == 8) ts_cp_async_8(d, src, n * (int)sizeof(T));
        else if (BYTES == 4) ts_cp_async_4(d, src, n * (int)sizeof(T));
        else *d = n > 0 ? *src : (T)0;
    }
}

/* Block rasterization: tile t of TILES_M × TILES_N walks column groups of
 * SWZ tile columns, top to bottom within a group, so blocks running at the
 * same time share A rows and B columns in L2. False past the last tile. */
template <class C> TS_DEVICE bool ts_gemm_tile_of(long long t, long long *tm, long long *tn) {
    if (t >= C::TILES_M * C::TILES_N) return false;
    const long long G = C::SWZ, group = t / (G * C::TILES_M), first = group * G;
    const long long gs = ts_gemm_min(C::TILES_N - first, G), local = t - group * G * C::TILES_M;
    *tm = local / gs;
    *tn = first + local % gs;
    return true;
}

/* The k tiles [kt0, kt1) split s of SPLIT handles. */
template <class C> TS_DEVICE void ts_gemm_k_range(int s, long long *kt0, long long *kt1) {
    const long long kt = (C::K + C::BK - 1) / C::BK, per = (kt + C::SPLIT - 1) / C::SPLIT;
    *kt0 = ts_gemm_min(kt, s * per);
    *kt1 = ts_gemm_min(kt, *kt0 + per);
}

/* ---- the tensor-core main loop ------------------------------------------- */

/* Fragment maps (g = lane/4, t = lane%4), checked against the PTX ISA
 * text: 9.7.14.5.7 "Matrix Fragments for mma.m16n8k8" (.tf32: a0 (g, t),
 * a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4)), 9.7.14.5.8 "Matrix Fragments
 * for mma.m16n8k16 with floating point type" (.f16/.bf16 elements a0,a1
 * row g cols 2t,2t+1; a2,a3 row g+8; a4..a7 the same 8 columns on) and
 * 9.7.14.5.15 "ldmatrix" (lanes 8j..8j+7 give the row addresses of matrix
 * j). B (rows 2t,2t+1 and +8, column g; tf32 rows t, t+4) and the
 * accumulators (c0,c1 row g cols 2t,2t+1; c2,c3 row g+8) as primitives.cuh
 * restates them per register; the emulator tests cover every path. The lane
 * addresses below follow: for A (16×16 block, row-major fragments) matrix j
 * must be rows m (j&1)·8.., k (j>>1)·8..; for B (k×8 column-major) matrix j
 * of an x4 is n (j>>1)·8.., k (j&1)·8.., giving b[0], b[1] of two n tiles.
 * Where the tile is stored with the other dim contiguous, .trans reads the
 * same 8×8 blocks from their transposed rows. */
template <class C> struct ts_gemm_tc {
    typedef typename C::TA T;
    typedef float ACC;
    enum {
        ES = (int)sizeof(T),
        KSTEP = C::INSTR == TS_GEMM_MMA_TF32 ? 8 : 16,
        WARPS_N = C::BN / C::WN,
        MT = C::WM / 16,
        NT8 = C::WN / 8,
        NACC = MT * NT8 * 4
    };
    typedef ts_gemm_tile<C::ALAY, C::BM, C::BK, ES> LA;
    typedef ts_gemm_tile<C::BLAY, C::BN, C::BK, ES> LB;
    enum { STAGE_BYTES = LA::BYTES + LB::BYTES };
    static_assert(C::SMEM >= C::STAGES * STAGE_BYTES + 16, "shared memory size");
    static_assert(C::WM % 16 == 0 && C::WN % 8 == 0 && C::BK % KSTEP == 0, "tile shape");
    static_assert(C::INSTR == TS_GEMM_MMA_TF32 || C::WN % 16 == 0, "b16 B fragments come in pairs");

    float acc[NACC];

    TS_GEMM_FN void load_stage(unsigned char *st, const T *A, const T *B, long long oa, long long ob, long long m0,
                              long long n0, long long kt) {
        const long long k0 = kt * C::BK;
        ts_gemm_load_tile<T, C::ALAY, C::BM, C::BK, C::AVEC, C::NTHREADS>(
            (T *)st, A, oa + m0 * C::SAM + k0 * C::SAK, C::SAM, C::SAK, C::M - m0, C::K - k0);
        ts_gemm_load_tile<T, C::BLAY, C::BN, C::BK, C::BVEC, C::NTHREADS>(
            (T *)(st + LA::BYTES), B, ob + n0 * C::SBN + k0 * C::SBK, C::SBN, C::SBK, C::N - n0, C::K - k0);
    }

    /* One BK slice of the warp's tile from shared memory. */
    TS_GEMM_FN void compute_stage(const unsigned char *st, int wm0, int wn0) {
        const T *As = (const T *)st, *Bs = (const T *)(st + LA::BYTES);
        const int lane = (int)ts_lane(), g = lane >> 2, t = lane & 3, j = lane >> 3, r = lane & 7;
        /* All of A's fragments for the k step, then B's a pair of n tiles
         * at a time with their MMAs: B's fragments live briefly, which keeps
         * 64×64 warp tiles clear of ptxas's register ceiling. */
        if (C::INSTR == TS_GEMM_MMA_TF32) {
            /* Not unrolled over kk: with every k8 step's fragment addresses
             * in flight at once, 64×32 and larger warp tiles spilled (255
             * registers on sm_80). One step at a time keeps them clear. */
            TS_GEMM_NO_UNROLL
            for (int kk = 0; kk < C::BK; kk += KSTEP) {
                ts_u32 af[MT][4];
                TS_GEMM_UNROLL
                for (int mt = 0; mt < MT; mt++) {
                    const int m = wm0 + mt * 16 + g;
                    af[mt][0] = ts_f32_to_tf32((float)As[LA::at(m, kk + t)]);
                    af[mt][1] = ts_f32_to_tf32((float)As[LA::at(m + 8, kk + t)]);
                    af[mt][2] = ts_f32_to_tf32((float)As[LA::at(m, kk + t + 4)]);
                    af[mt][3] = ts_f32_to_tf32((float)As[LA::at(m + 8, kk + t + 4)]);
                }
                TS_GEMM_UNROLL
                for (int nt = 0; nt < NT8; nt++) {
                    const int n = wn0 + nt * 8 + g;
                    ts_u32 bf[2];
                    bf[0] = ts_f32_to_tf32((float)Bs[LB::at(n, kk + t)]);
                    bf[1] = ts_f32_to_tf32((float)Bs[LB::at(n, kk + t + 4)]);
                    TS_GEMM_UNROLL
                    for (int mt = 0; mt < MT; mt++) ts_mma_m16n8k8_tf32(&acc[(mt * NT8 + nt) * 4], af[mt], bf);
                }
            }
            return;
        }
        TS_GEMM_UNROLL
        for (int kk = 0; kk < C::BK; kk += KSTEP) {
            ts_u32 af[MT][4];
            {
                TS_GEMM_UNROLL
                for (int mt = 0; mt < MT; mt++) {
                    /* matrix j: rows m (j&1)·8.., k (j>>1)·8.. of the 16×16 A block */
                    if (C::ALAY == TS_GEMM_KMAJOR)
                        ts_ldmatrix_x4(af[mt], As + LA::at(wm0 + mt * 16 + (lane & 15), kk + (lane >> 4) * 8));
                    else
                        ts_ldmatrix_x4_trans(af[mt], As + LA::at(wm0 + mt * 16 + (j & 1) * 8, kk + (j >> 1) * 8 + r));
                }
                TS_GEMM_UNROLL
                for (int np = 0; np < NT8 / 2; np++) {
                    /* matrix j: n (j>>1)·8.., k (j&1)·8..: b[0], b[1] of n tile 2np, then of 2np+1 */
                    ts_u32 q[4];
                    if (C::BLAY == TS_GEMM_KMAJOR)
                        ts_ldmatrix_x4(q, Bs + LB::at(wn0 + np * 16 + (j >> 1) * 8 + r, kk + (j & 1) * 8));
                    else
                        ts_ldmatrix_x4_trans(q, Bs + LB::at(wn0 + np * 16 + (j >> 1) * 8, kk + (j & 1) * 8 + r));
                    TS_GEMM_UNROLL
                    for (int h = 0; h < 2; h++)
                        TS_GEMM_UNROLL
                        for (int mt = 0; mt < MT; mt++) {
                            float *d = &acc[(mt * NT8 + 2 * np + h) * 4];
                            if (C::ADT == TS_GEMM_DT_BF16) ts_mma_m16n8k16_bf16(d, af[mt], q + 2 * h);
                            else ts_mma_m16n8k16_f16(d, af[mt], q + 2 * h);
                        }
                }
            }
        }
    }

    /* acc = A[m0.., k]·B[n0.., k] over split s's k tiles. Every thread of
     * the block calls it; shared memory is free again when it returns. */
    TS_GEMM_FN void run(const T *A, const T *B, long long oa, long long ob, long long m0, long long n0, int s,
                       unsigned char *smem) {
        TS_GEMM_UNROLL
        for (int q = 0; q < NACC; q++) acc[q] = 0.0f;
        long long kt0, kt1;
        ts_gemm_k_range<C>(s, &kt0, &kt1);
        const long long nkt = kt1 - kt0;
        const int w = (int)ts_warp(), wm0 = (w / WARPS_N) * C::WM, wn0 = (w % WARPS_N) * C::WN;
        /* Stage i holds k tile kt0 + i, kt0 + i + STAGES, …; one commit
         * group per tile (empty past the end), so wait<STAGES-2> at step i
         * means tile i has landed. */
        for (int i = 0; i < C::STAGES - 1; i++) {
            if (i < nkt) load_stage(smem + i * STAGE_BYTES, A, B, oa, ob, m0, n0, kt0 + i);
            ts_cp_async_commit();
        }
        for (long long i = 0; i < nkt; i++) {
            ts_cp_async_wait<C::STAGES - 2>();
            ts_syncthreads(); /* tile i visible; every warp is done with tile i-1's stage */
            const long long nx = i + C::STAGES - 1;
            if (nx < nkt) load_stage(smem + (int)(nx % C::STAGES) * STAGE_BYTES, A, B, oa, ob, m0, n0, kt0 + nx);
            ts_cp_async_commit();
            compute_stage(smem + (int)(i % C::STAGES) * STAGE_BYTES, wm0, wn0);
        }
        ts_cp_async_wait<0>();
        ts_syncthreads();
    }

    /* Where accumulator q of this thread belongs (d[] map of primitives.cuh). */
    static TS_GEMM_FN void coord(int q, long long m0, long long n0, long long *row, long long *col) {
        const int lane = (int)ts_lane(), w = (int)ts_warp(), i = q & 3, nt = (q >> 2) % NT8, mt = (q >> 2) / NT8;
        *row = m0 + (w / WARPS_N) * C::WM + mt * 16 + (lane >> 2) + (i >> 1) * 8;
        *col = n0 + (w % WARPS_N) * C::WN + nt * 8 + (lane & 3) * 2 + (i & 1);
    }
};

/* ---- the SIMT main loop --------------------------------------------------- */

/* An operand element as the accumulator type: f32 for float GEMMs, and
 * unsigned 64-bit for integer ones so that products and sums wrap exactly
 * as the reference's (two's complement, no undefined overflow). */
template <class ACC, int DT, class T> TS_DEVICE ACC ts_gemm_value(T x) {
    if (DT == TS_GEMM_DT_F16) return (ACC)ts_f16_to_f32((ts_u16)x);
    if (DT == TS_GEMM_DT_BF16) return (ACC)ts_bf16_to_f32((ts_u16)x);
    if (DT == TS_GEMM_DT_F32) return (ACC)x;
    if (DT == TS_GEMM_DT_BOOL) return (ACC)(x != 0);
    return (ACC)(long long)x;
}
template <class ACC> struct ts_gemm_madd {
    static TS_GEMM_FN ACC f(ACC c, ACC a, ACC b) { return c + a * b; }
};
template <> struct ts_gemm_madd<float> {
    static TS_GEMM_FN float f(float c, float a, float b) { return fmaf(a, b, c); }
};

/* Warp (WM × WN) lanes as 4 rows × 8 columns; a thread owns rows ly + 4i and
 * columns lx + 8j of its warp's tile (its shared reads are broadcasts or
 * consecutive words). One stage: tiles are loaded through registers. */
template <class C> struct ts_gemm_simt {
    typedef typename C::ACC ACC;
    enum { WARPS_N = C::BN / C::WN, TM = C::WM / 4, TN = C::WN / 8, NACC = TM * TN };
    static_assert(C::WM % 4 == 0 && C::WN % 8 == 0, "SIMT warp tile");
    static_assert(C::SMEM >= C::BK * (C::BM + C::BN) * (int)sizeof(ACC) + 16, "shared memory size");

    ACC acc[NACC];

    TS_GEMM_FN void run(const typename C::TA *A, const typename C::TB *B, long long oa, long long ob, long long m0,
                       long long n0, int s, unsigned char *smem) {
        ACC *As = (ACC *)smem, *Bs = As + C::BK * C::BM; /* [BK][BM], [BK][BN] */
        TS_GEMM_UNROLL
        for (int q = 0; q < NACC; q++) acc[q] = (ACC)0;
        long long kt0, kt1;
        ts_gemm_k_range<C>(s, &kt0, &kt1);
        const int lane = (int)ts_lane(), w = (int)ts_warp();
        const int rm = (w / WARPS_N) * C::WM + (lane >> 3), rn = (w % WARPS_N) * C::WN + (lane & 7);
        for (long long kt = kt0; kt < kt1; kt++) {
            const long long k0 = kt * C::BK;
            ts_syncthreads(); /* the previous tile is consumed */
            /* k fastest when that is the contiguous direction, else rows */
            for (int c = (int)threadIdx.x; c < C::BK * C::BM; c += C::NTHREADS) {
                const int k = C::SAK == 1 ? c % C::BK : c / C::BM, r = C::SAK == 1 ? c / C::BK : c % C::BM;
                const bool ok = m0 + r < C::M && k0 + k < C::K;
                As[k * C::BM + r] =
                    ok ? ts_gemm_value<ACC, C::ADT>(A[oa + (m0 + r) * C::SAM + (k0 + k) * C::SAK]) : (ACC)0;
            }
            for (int c = (int)threadIdx.x; c < C::BK * C::BN; c += C::NTHREADS) {
                const int k = C::SBK == 1 ? c % C::BK : c / C::BN, r = C::SBK == 1 ? c / C::BK : c % C::BN;
                const bool ok = n0 + r < C::N && k0 + k < C::K;
                Bs[k * C::BN + r] =
                    ok ? ts_gemm_value<ACC, C::BDT>(B[ob + (n0 + r) * C::SBN + (k0 + k) * C::SBK]) : (ACC)0;
            }
            ts_syncthreads();
            /* partly unrolled: fully, ptxas hoists every k's operands at once */
            TS_GEMM_UNROLL4
            for (int k = 0; k < C::BK; k++) {
                ACC a[TM], b[TN];
                TS_GEMM_UNROLL
                for (int i = 0; i < TM; i++) a[i] = As[k * C::BM + rm + 4 * i];
                TS_GEMM_UNROLL
                for (int j = 0; j < TN; j++) b[j] = Bs[k * C::BN + rn + 8 * j];
                TS_GEMM_UNROLL
                for (int i = 0; i < TM; i++)
                    TS_GEMM_UNROLL
                    for (int j = 0; j < TN; j++) acc[i * TN + j] = ts_gemm_madd<ACC>::f(acc[i * TN + j], a[i], b[j]);
            }
        }
        ts_syncthreads();
    }

    static TS_GEMM_FN void coord(int q, long long m0, long long n0, long long *row, long long *col) {
        const int lane = (int)ts_lane(), w = (int)ts_warp();
        *row = m0 + (w / WARPS_N) * C::WM + (lane >> 3) + 4 * (q / TN);
        *col = n0 + (w % WARPS_N) * C::WN + (lane & 7) + 8 * (q % TN);
    }
};

/* ---- split-K -------------------------------------------------------------- */

/* Workspace: an int counter per (batch, tile) on 256 bytes, then each
 * (batch, tile)'s SPLIT partial tiles, thread-major so stores coalesce. */
template <class C, class G> struct ts_gemm_splitk {
    typedef typename G::ACC ACC;
    static constexpr long long NT_ALL = C::BATCH * C::TILES_M * C::TILES_N;
    static constexpr long long COUNTER_BYTES = (NT_ALL * 4 + 255) / 256 * 256;
    static constexpr long long BYTES =
        COUNTER_BYTES + NT_ALL * C::SPLIT * G::NACC * C::NTHREADS * (long long)sizeof(ACC);

    /* Publishes split s's partial sums of tile 'tile'; the block that
     * arrives last gets the sum over s = 0 … SPLIT-1 in that fixed order
     * (so the result does not depend on arrival order), leaves the tile's
     * workspace (partials and counter) zero for the next launch and returns
     * true; the others return false. */
    static TS_GEMM_FN bool reduce(ACC *acc, void *ws, long long tile, int s, unsigned char *flag_smem) {
        int *cnt = (int *)ws + tile;
        ACC *part = (ACC *)((unsigned char *)ws + COUNTER_BYTES) + tile * (C::SPLIT * G::NACC * C::NTHREADS);
        volatile int *last = (volatile int *)flag_smem;
        const int tid = (int)threadIdx.x;
        ACC *mine_part = part + (long long)s * (G::NACC * C::NTHREADS) + tid;
        TS_GEMM_UNROLL
        for (int q = 0; q < G::NACC; q++) mine_part[q * C::NTHREADS] = acc[q];
        ts_threadfence(); /* each thread's partials are visible device-wide … */
        ts_syncthreads(); /* … before thread 0 counts the block as arrived */
        if (tid == 0) *last = ts_atomic_add_i32(cnt, 1) == C::SPLIT - 1;
        ts_syncthreads();
        const bool mine = *last != 0;
        ts_syncthreads(); /* everyone has read the flag before it is reused */
        if (!mine) return false;
        ts_threadfence();
        /* volatile: bypass L1, other SMs wrote these. Each partial is
         * zeroed once read: the workspace must be all zero for the next
         * launch (CUDA-graph replays reuse it without clearing). */
        volatile ACC *vp = part + tid;
        TS_GEMM_UNROLL
        for (int q = 0; q < G::NACC; q++) acc[q] = (ACC)0;
        for (int p = 0; p < C::SPLIT; p++, vp += G::NACC * C::NTHREADS) {
            TS_GEMM_UNROLL
            for (int q = 0; q < G::NACC; q++) {
                acc[q] += vp[q * C::NTHREADS];
                vp[q * C::NTHREADS] = (ACC)0;
            }
        }
        if (tid == 0) *cnt = 0;
        return true;
    }
};
