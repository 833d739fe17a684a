/* rowwise.cuh — reductions across a block for ROWWISE kernels: a butterfly
 * within each warp (ts_shfl_xor_*), then the warps' partial results through
 * shared memory. Every thread gets the same result, so the whole block can
 * go on with the row's statistics. Sum and NaN-propagating max. */

TS_DEVICE float ts_shfl_xor(float v, int mask) { return ts_shfl_xor_f32(v, mask); }
TS_DEVICE double ts_shfl_xor(double v, int mask) { return ts_shfl_xor_f64(v, mask); }

#define TS_RED_SUM 0 /* a + b */
#define TS_RED_MAX 1 /* ts_max: NaN propagates */

template <int OP, typename T> TS_DEVICE T ts_red_op(T a, T b) { return OP == TS_RED_SUM ? a + b : ts_max(a, b); }

template <int OP, typename T> TS_DEVICE T ts_warp_reduce(T v) {
    for (int m = 16; m > 0; m >>= 1) v = ts_red_op<OP, T>(v, ts_shfl_xor(v, m));
    return v;
}

/* Reduces v over the block (blockDim.x a multiple of 32, every thread
 * calling). red: 32 elements of shared memory. Ends with a barrier, so red
 * may be used again at once. The warps' results are combined in warp order
 * by every thread: the same value everywhere, run after run. */
template <int OP, typename T> TS_DEVICE T ts_block_reduce(T v, T *red) {
    v = ts_warp_reduce<OP, T>(v);
    int nw = (int)(blockDim.x >> 5);
    if (nw == 1) return v;
    if (ts_lane() == 0) red[ts_warp()] = v;
    ts_syncthreads();
    T r = red[0];
    for (int w = 1; w < nw; w++) r = ts_red_op<OP, T>(r, red[w]);
    ts_syncthreads();
    return r;
}
