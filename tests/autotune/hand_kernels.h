/* hand_kernels.h — hand-built kernels of each kind for the autotuner's tests
 * (no graph or program needed: the space, the check and the estimate read
 * only the kernel), and hand-filled CPU and GPU targets. Header-only. */
#ifndef TESSERA_TESTS_AUTOTUNE_HAND_KERNELS_H
#define TESSERA_TESTS_AUTOTUNE_HAND_KERNELS_H

#include <string.h>

#include "autotune/autotune.h"

/* A kernel with the storage its pointers refer to: do not copy it. */
struct tk {
    struct ts_kernel k;
    struct ts_koperand in[4];
    struct ts_kx expr[8];
};

static inline void tk_clear(struct tk *t, enum ts_kernel_kind kind, const char *name) {
    memset(t, 0, sizeof *t);
    t->k.kind = kind;
    t->k.name = name;
    t->k.inputs = t->in;
    t->k.expr = t->expr;
    t->k.x_root = t->k.out_root = -1;
}

/* C[b, m, n] = A[b, m, :] · B[b, :, n], A row-major [M, K], B [K, N] (or
 * [N, K] when bt), all of dtype dt (integers accumulate in i64). */
static inline void tk_gemm(struct tk *t, const char *name, int64_t batch, int64_t m, int64_t n, int64_t k,
                           enum ts_dtype dt, bool bt) {
    tk_clear(t, TS_KERNEL_GEMM, name);
    struct ts_kernel *K = &t->k;
    int r = batch > 1 ? 3 : 2, im = r - 2, in = r - 1;
    K->rank = r;
    if (batch > 1) K->dims[0] = batch;
    K->dims[im] = m;
    K->dims[in] = n;
    K->k = k;
    K->acc_type = ts_dtype_is_float(dt) ? TS_SCALAR_F32 : TS_SCALAR_I64;
    K->ninputs = 2;
    struct ts_koperand *A = &t->in[0], *B = &t->in[1], *C = &K->output;
    *A = (struct ts_koperand){.buffer = 0, .dtype = dt, .kstride = 1};
    *B = (struct ts_koperand){.buffer = 1, .dtype = dt, .kstride = bt ? 1 : n};
    *C = (struct ts_koperand){.buffer = 2, .dtype = dt};
    if (batch > 1) {
        A->strides[0] = m * k;
        B->strides[0] = k * n;
        C->strides[0] = m * n;
    }
    A->strides[im] = k;
    B->strides[in] = bt ? k : 1;
    C->strides[im] = n;
    C->strides[in] = 1;
}

/* y[r, c] = x[r, c] · 2 + 1 over [rows, cols] of dtype dt. */
static inline void tk_pointwise(struct tk *t, const char *name, int64_t rows, int64_t cols, enum ts_dtype dt) {
    tk_clear(t, TS_KERNEL_POINTWISE, name);
    struct ts_kernel *K = &t->k;
    K->rank = 2;
    K->dims[0] = rows;
    K->dims[1] = cols;
    K->ninputs = 1;
    t->in[0] = (struct ts_koperand){.buffer = 0, .dtype = dt, .strides = {cols, 1}};
    K->output = (struct ts_koperand){.buffer = 1, .dtype = dt, .strides = {cols, 1}};
    t->expr[0] = (struct ts_kx){.op = TS_KX_LOAD, .type = TS_SCALAR_F32, .dtype = dt, .a = 0};
    t->expr[1] = (struct ts_kx){.op = TS_KX_CONST, .type = TS_SCALAR_F32, .dtype = dt, .f = 2};
    t->expr[2] = (struct ts_kx){.op = TS_KX_MUL, .type = TS_SCALAR_F32, .dtype = dt, .a = 0, .b = 1};
    t->expr[3] = (struct ts_kx){.op = TS_KX_CONST, .type = TS_SCALAR_F32, .dtype = dt, .f = 1};
    t->expr[4] = (struct ts_kx){.op = TS_KX_ADD, .type = TS_SCALAR_F32, .dtype = dt, .a = 2, .b = 3};
    K->nexpr = 5;
    K->out_root = 4;
}

/* softmax over the last dim of x[rows, cols]. */
static inline void tk_softmax(struct tk *t, const char *name, int64_t rows, int64_t cols, enum ts_dtype dt) {
    tk_clear(t, TS_KERNEL_ROWWISE, name);
    struct ts_kernel *K = &t->k;
    K->rank = 2;
    K->dims[0] = rows;
    K->dims[1] = cols;
    K->nouter = 1;
    K->row_op = TS_ROW_SOFTMAX;
    K->ninputs = 1;
    t->in[0] = (struct ts_koperand){.buffer = 0, .dtype = dt, .strides = {cols, 1}};
    K->output = (struct ts_koperand){.buffer = 1, .dtype = dt, .strides = {cols, 1}};
    t->expr[0] = (struct ts_kx){.op = TS_KX_LOAD, .type = TS_SCALAR_F32, .dtype = dt, .a = 0};
    t->expr[1] = (struct ts_kx){.op = TS_KX_ROW, .type = TS_SCALAR_F32, .dtype = dt};
    K->nexpr = 2;
    K->x_root = 0;
    K->out_root = 1;
}

/* softmax(q·kᵀ/√d)·v, q [b, h, sq, d], k and v [b, h, sk, d], contiguous. */
static inline void tk_attention(struct tk *t, const char *name, int64_t b, int64_t h, int64_t sq, int64_t sk,
                                int64_t d, enum ts_dtype dt, bool causal) {
    tk_clear(t, TS_KERNEL_ATTENTION, name);
    struct ts_kernel *K = &t->k;
    K->rank = 4;
    K->dims[0] = b;
    K->dims[1] = h;
    K->dims[2] = sq;
    K->dims[3] = d;
    K->attn.batch = b;
    K->attn.hq = K->attn.hkv = h;
    K->attn.sq = sq;
    K->attn.sk = sk;
    K->attn.d = K->attn.dv = d;
    K->attn.scale = 0.125;
    K->attn.causal = causal;
    K->ninputs = 3;
    t->in[0] = (struct ts_koperand){.buffer = 0, .dtype = dt, .strides = {h * sq * d, sq * d, d, 1}};
    t->in[1] = (struct ts_koperand){.buffer = 1, .dtype = dt, .strides = {h * sk * d, sk * d, d, 1}};
    t->in[2] = (struct ts_koperand){.buffer = 2, .dtype = dt, .strides = {h * sk * d, sk * d, d, 1}};
    K->output = (struct ts_koperand){.buffer = 3, .dtype = dt, .strides = {h * sq * d, sq * d, d, 1}};
}

/* A CPU with vector_bits-wide vectors (AVX2: 256, 16 registers; AVX-512:
 * 512, 32 registers) and the given workers, Zen-like caches. */
static inline struct ts_tune_target tk_cpu(int vector_bits, int threads) {
    struct ts_tune_target t = {.kind = TS_TARGET_CPU, .vector_bits = vector_bits,
                               .vector_regs = vector_bits >= 512 ? 32 : 16, .threads = threads};
    strcpy(t.device, "test CPU");
    strcpy(t.arch, vector_bits >= 512 ? "znver5" : "x86-64-v3");
    t.l1_bytes = vector_bits >= 512 ? 48 << 10 : 32 << 10;
    t.l2_bytes = vector_bits >= 512 ? 1 << 20 : 512 << 10;
    t.l3_bytes = 32 << 20;
    return t;
}

static inline struct ts_tune_target tk_gpu(const char *arch, bool strict) {
    struct ts_tune_target t = {.kind = TS_TARGET_CUDA, .strict_f32 = strict};
    strcpy(t.device, "test GPU");
    snprintf(t.arch, sizeof t.arch, "%s", arch);
    t.sm_count = strstr(arch, "90") ? 132 : 108;
    return t;
}

#endif
