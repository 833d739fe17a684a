/* test_cuda_codegen.c — the core of the CUDA C generator (codegen/cuda: arch
 * parsing, POINTWISE and ROWWISE schedules and their checks, deduplication of
 * identical kernels, the kernel ABI), NVRTC compiles of representative
 * pointwise and rowwise kernels for sm_80 and sm_90a with no local memory, and
 * (through the host emulator, tests/cuda_emu) the same kernels against
 * ts_program_run_ref for every dtype at sizes 1, 7, 17, 127, 129 and 4097. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/codegen.h"
#include "codegen/cuda/internal.h"
#include "cuda_emu/harness.h"
#include "test.h"

/* ---- a program of several hand-built kernels -------------------------------- */

#define TP_MAX_BUF 512
#define TP_MAX_K 128
#define TP_MAX_X 64

struct tp {
    struct ts_graph *g;
    struct ts_kbuffer bufs[TP_MAX_BUF];
    int nbufs;
    struct ts_tensor in[TP_MAX_BUF];
    int nin, nout;
    int in_buffers[TP_MAX_BUF], out_buffers[TP_MAX_BUF];
    struct ts_kernel ks[TP_MAX_K];
    int nk;
    struct ts_koperand ops[TP_MAX_K][6];
    struct ts_kx ex[TP_MAX_K][TP_MAX_X];
    const char *errs[TP_MAX_K][2];
    char names[TP_MAX_K][32];
    uint64_t rng;
};

static void tp_init(struct tp *t);

/* A new, empty program (large: on the heap). */
static struct tp *tp_new(void) {
    struct tp *t = malloc(sizeof *t);
    TS_ASSERT(t != NULL);
    tp_init(t);
    return t;
}

static double tp_rand(struct tp *t, double lo, double hi) {
    t->rng = t->rng * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * ((double)(t->rng >> 11) / 9007199254740992.0);
}

static void tp_init(struct tp *t) {
    memset(t, 0, sizeof *t);
    t->g = ts_graph_init("");
    t->g->inputs = ts_arena_alloc(t->g->arena, sizeof(int) * TP_MAX_BUF);
    t->g->outputs = ts_arena_alloc(t->g->arena, sizeof(int) * TP_MAX_BUF);
    t->rng = 0x9e3779b97f4a7c15ull;
}

static void tp_free(struct tp *t) {
    for (int i = 0; i < t->nin; i++) ts_tensor_release(&t->in[i]);
    ts_graph_free(t->g);
    free(t);
}

static int tp_value(struct tp *t, enum ts_value_kind kind, enum ts_dtype dt, int rank, const int64_t *dims) {
    char name[24];
    snprintf(name, sizeof name, "v%d", t->nbufs);
    struct ts_diag d;
    ts_diag_clear(&d);
    int id = -1;
    TS_ASSERT(ts_graph_add_value(t->g, name, kind, &id, &d) == TS_OK);
    ts_value_set_shape(&t->g->values[id], dt, rank, dims);
    TS_ASSERT(t->nbufs < TP_MAX_BUF);
    struct ts_kbuffer *b = &t->bufs[t->nbufs];
    memset(b, 0, sizeof *b);
    b->name = t->g->values[id].name;
    b->value = id;
    b->dtype = dt;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    b->nbytes = n * (int64_t)ts_dtype_size(dt);
    b->reuses = -1;
    return id;
}

/* A graph input with random non-zero data: floats ±[0.1, 2), integers in
 * [lo, hi) (gather indices) or ±[1, 9), bools mixed. */
static int tp_input_range(struct tp *t, enum ts_dtype dt, int rank, const int64_t *dims, int64_t lo, int64_t hi) {
    int id = tp_value(t, TS_VALUE_INPUT, dt, rank, dims);
    int b = t->nbufs++;
    t->bufs[b].kind = TS_KBUF_INPUT;
    t->bufs[b].index = t->nin;
    t->in_buffers[t->nin] = b;
    t->g->inputs[t->g->ninputs++] = id;
    struct ts_tensor *x = &t->in[t->nin++];
    struct ts_diag d;
    ts_diag_clear(&d);
    TS_ASSERT(ts_tensor_alloc(x, dt, rank, dims, t->bufs[b].name, &d) == TS_OK);
    for (int64_t e = 0; e < x->numel; e++) {
        double sign = tp_rand(t, 0, 1) < 0.5 ? -1 : 1;
        if (ts_dtype_is_float(dt)) ts_tensor_set_f64(x, e, sign * tp_rand(t, 0.1, 2.0));
        else if (dt == TS_BOOL) ts_tensor_set_i64(x, e, tp_rand(t, 0, 1) < 0.5);
        else if (hi > lo) ts_tensor_set_i64(x, e, lo + (int64_t)floor(tp_rand(t, 0, (double)(hi - lo))));
        else ts_tensor_set_i64(x, e, (int64_t)(sign * floor(tp_rand(t, 1, 9))));
    }
    return b;
}

static int tp_input(struct tp *t, enum ts_dtype dt, int rank, const int64_t *dims) {
    return tp_input_range(t, dt, rank, dims, 0, 0);
}

/* Starts a kernel of the given kind over dims (operands added after). */
static struct ts_kernel *tp_kernel(struct tp *t, enum ts_kernel_kind kind, int rank, const int64_t *dims) {
    TS_ASSERT(t->nk < TP_MAX_K);
    int i = t->nk++;
    struct ts_kernel *k = &t->ks[i];
    memset(k, 0, sizeof *k);
    k->kind = kind;
    snprintf(t->names[i], sizeof t->names[i], "k%d_%s", i, ts_kernel_kind_name(kind));
    k->name = t->names[i];
    k->rank = rank;
    if (rank > 0) memcpy(k->dims, dims, sizeof(int64_t) * (size_t)rank);
    k->inputs = t->ops[i];
    k->expr = t->ex[i];
    k->errors = t->errs[i];
    k->x_root = -1;
    k->out_root = -1;
    return k;
}

/* Row-major strides of buffer b's value aligned from the right over k's rank
 * (a broadcast of fewer dims), or the strides given. */
static int tp_operand(struct tp *t, struct ts_kernel *k, int b, const int64_t *strides) {
    struct ts_koperand *o = &k->inputs[k->ninputs];
    memset(o, 0, sizeof *o);
    o->buffer = b;
    o->dtype = t->bufs[b].dtype;
    if (strides) {
        memcpy(o->strides, strides, sizeof(int64_t) * (size_t)k->rank);
    } else {
        int64_t dims[TS_MAX_RANK], own[TS_MAX_RANK];
        int rank = ts_value_dims(&t->g->values[t->bufs[b].value], dims);
        ts_shape_strides(rank, dims, own);
        for (int i = 0; i < rank && i < k->rank; i++) o->strides[k->rank - 1 - i] = own[rank - 1 - i];
    }
    return k->ninputs++;
}

static int kx(struct ts_kernel *k, enum ts_kx_op op, enum ts_scalar type, enum ts_dtype dt, int a, int b, int c) {
    TS_ASSERT(k->nexpr < TP_MAX_X);
    struct ts_kx *e = &k->expr[k->nexpr];
    memset(e, 0, sizeof *e);
    e->op = op;
    e->type = type;
    e->dtype = dt;
    e->a = a;
    e->b = b;
    e->c = c;
    return k->nexpr++;
}

static int kconst_f(struct ts_kernel *k, enum ts_scalar s, double v) {
    int i = kx(k, TS_KX_CONST, s, s == TS_SCALAR_F64 ? TS_F32 : TS_F32, 0, 0, 0);
    k->expr[i].f = v;
    return i;
}

static int kconst_i(struct ts_kernel *k, int64_t v) {
    int i = kx(k, TS_KX_CONST, TS_SCALAR_I64, TS_I64, 0, 0, 0);
    k->expr[i].i = v;
    return i;
}

static int kload(struct ts_kernel *k, int operand) {
    enum ts_dtype dt = k->inputs[operand].dtype;
    return kx(k, TS_KX_LOAD, ts_scalar_of_dtype(dt), dt, operand, 0, 0);
}

/* Declares the kernel's output: a new graph output of dtype dt over the
 * kernel's dims (per-row ROWWISE outputs: the outer dims only). */
static void tp_output(struct tp *t, struct ts_kernel *k, enum ts_dtype dt, int rank, const int64_t *dims) {
    int id = tp_value(t, TS_VALUE_NODE, dt, rank, dims);
    int b = t->nbufs++;
    t->bufs[b].kind = TS_KBUF_OUTPUT;
    t->bufs[b].index = t->nout;
    t->out_buffers[t->nout++] = b;
    t->g->outputs[t->g->noutputs++] = id;
    memset(&k->output, 0, sizeof k->output);
    k->output.buffer = b;
    k->output.dtype = dt;
    int64_t own[TS_MAX_RANK];
    ts_shape_strides(rank, dims, own);
    for (int i = 0; i < rank; i++) k->output.strides[i] = own[i];
}

static struct ts_program tp_program(struct tp *t) {
    for (int i = 0; i < t->nk; i++)
        if (t->ks[i].sched.pointwise.vector_width == 0) ts_sched_default_cpu(&t->ks[i], 8);
    struct ts_program p = {.graph = t->g,
                           .buffers = t->bufs,
                           .nbuffers = t->nbufs,
                           .kernels = t->ks,
                           .nkernels = t->nk,
                           .input_buffers = t->in_buffers,
                           .output_buffers = t->out_buffers};
    return p;
}

/* ---- the kernels ------------------------------------------------------------------ */

static enum ts_scalar sc(enum ts_dtype t) { return ts_scalar_of_dtype(t); }

/* out[r, c] = a chain of float math on x[r, c] and a row-broadcast y[c] in
 * type F (F64: as fusion does f16/bf16 math), rounded through CAST to dt
 * between steps. */
static void add_pw_math_in(struct tp *t, enum ts_dtype dt, int64_t rows, int64_t n, enum ts_scalar F) {
    int64_t dims[2] = {rows, n};
    int xb = tp_input(t, dt, 2, dims), yb = tp_input(t, dt, 1, &n);
    struct ts_kernel *k = tp_kernel(t, TS_KERNEL_POINTWISE, 2, dims);
    int x = kload(k, tp_operand(t, k, xb, NULL)), y = kload(k, tp_operand(t, k, yb, NULL));
    if (F == TS_SCALAR_F64) {
        x = kx(k, TS_KX_CAST, F, dt, x, 0, 0);
        y = kx(k, TS_KX_CAST, F, dt, y, 0, 0);
    }
    int a = kx(k, TS_KX_GELU, F, dt, x, 0, 0);
    int b = kx(k, TS_KX_SIGMOID, F, dt, y, 0, 0);
    int c = kx(k, TS_KX_MUL, F, dt, a, b, 0);
    c = kx(k, TS_KX_CAST, TS_SCALAR_F32, dt, c, 0, 0); /* rounded to dt */
    if (F == TS_SCALAR_F64) c = kx(k, TS_KX_CAST, F, dt, c, 0, 0);
    int s = kx(k, TS_KX_SILU, F, dt, x, 0, 0);
    int g = kx(k, TS_KX_GELU_TANH, F, dt, y, 0, 0);
    int e = kx(k, TS_KX_EXP, F, dt, kx(k, TS_KX_NEG, F, dt, kx(k, TS_KX_ABS, F, dt, x, 0, 0), 0, 0), 0, 0);
    int l = kx(k, TS_KX_LOG, F, dt, kx(k, TS_KX_ADD, F, dt, e, kconst_f(k, F, 1.5), 0), 0, 0);
    int r = kx(k, TS_KX_RSQRT, F, dt, kx(k, TS_KX_SQRT, F, dt, kx(k, TS_KX_ABS, F, dt, y, 0, 0), 0, 0), 0, 0);
    int m = kx(k, TS_KX_MAX, F, dt, kx(k, TS_KX_TANH, F, dt, x, 0, 0), kx(k, TS_KX_ERF, F, dt, y, 0, 0), 0);
    int mn = kx(k, TS_KX_MIN, F, dt, kx(k, TS_KX_RELU, F, dt, x, 0, 0), kx(k, TS_KX_SIN, F, dt, y, 0, 0), 0);
    int pw = kx(k, TS_KX_POW, F, dt, kx(k, TS_KX_ABS, F, dt, x, 0, 0), kconst_f(k, F, 1.7), 0);
    int cs = kx(k, TS_KX_COS, F, dt, x, 0, 0);
    int sum = kx(k, TS_KX_ADD, F, dt, c, s, 0);
    sum = kx(k, TS_KX_SUB, F, dt, sum, g, 0);
    sum = kx(k, TS_KX_ADD, F, dt, sum, kx(k, TS_KX_DIV, F, dt, l, r, 0), 0);
    sum = kx(k, TS_KX_ADD, F, dt, sum, kx(k, TS_KX_MUL, F, dt, m, mn, 0), 0);
    sum = kx(k, TS_KX_ADD, F, dt, sum, kx(k, TS_KX_MUL, F, dt, pw, cs, 0), 0);
    k->out_root = sum;
    tp_output(t, k, dt, 2, dims);
}

static void add_pw_math(struct tp *t, enum ts_dtype dt, int64_t rows, int64_t n) {
    add_pw_math_in(t, dt, rows, n, TS_SCALAR_F32);
}

/* out[i, j] = x[j, i] · 2 + z (transposed read, scalar broadcast of rank 0). */
static void add_pw_transpose(struct tp *t, enum ts_dtype dt, int64_t n) {
    int64_t xd[2] = {n, 3}, dims[2] = {3, n};
    int xb = tp_input(t, dt, 2, xd), zb = tp_input(t, dt, 0, NULL);
    struct ts_kernel *k = tp_kernel(t, TS_KERNEL_POINTWISE, 2, dims);
    int64_t tr[2] = {1, 3}, zero[2] = {0, 0};
    int x = kload(k, tp_operand(t, k, xb, tr)), z = kload(k, tp_operand(t, k, zb, zero));
    enum ts_scalar F = TS_SCALAR_F32;
    k->out_root = kx(k, TS_KX_ADD, F, dt, kx(k, TS_KX_MUL, F, dt, x, kconst_f(k, F, 2.0), 0), z, 0);
    tp_output(t, k, dt, 2, dims);
}

/* Integer and bool work: q = (x - 8) / (|x| + 1) toward zero, x·x wrapping to
 * i32, max/min/neg, a select on a bool input, casts to the float dtypes. */
static void add_pw_int(struct tp *t, enum ts_dtype it, enum ts_dtype out, int64_t n) {
    int64_t dims[2] = {2, n};
    int xb = tp_input(t, it, 2, dims), bb = tp_input(t, TS_BOOL, 2, dims);
    struct ts_kernel *k = tp_kernel(t, TS_KERNEL_POINTWISE, 2, dims);
    enum ts_scalar I = TS_SCALAR_I64;
    int x = kload(k, tp_operand(t, k, xb, NULL)), b = kload(k, tp_operand(t, k, bb, NULL));
    k->errors[0] = "division by zero";
    k->nerrors = 1;
    int num = kx(k, TS_KX_SUB, I, it, x, kconst_i(k, 8), 0);
    int den = kx(k, TS_KX_ADD, I, it, kx(k, TS_KX_ABS, I, it, x, 0, 0), kconst_i(k, 1), 0);
    int q = kx(k, TS_KX_DIV, I, it, num, den, 0);
    k->expr[q].i = 1;
    int sq = kx(k, TS_KX_MUL, I, it, kx(k, TS_KX_MUL, I, it, x, kconst_i(k, 123456789), 0), x, 0);
    sq = kx(k, TS_KX_CAST, I, TS_I32, sq, 0, 0);
    int mx = kx(k, TS_KX_MAX, I, it, q, kx(k, TS_KX_NEG, I, it, x, 0, 0), 0);
    int mn = kx(k, TS_KX_MIN, I, it, sq, kx(k, TS_KX_RELU, I, it, num, 0, 0), 0);
    int idx = kx(k, TS_KX_INDEX, I, TS_I64, 1, 0, 0);
    int sel = kx(k, TS_KX_SELECT, I, it, b, kx(k, TS_KX_ADD, I, it, mx, idx, 0), mn);
    if (ts_dtype_is_float(out)) {
        int f = kx(k, TS_KX_CAST, TS_SCALAR_F32, out, sel, 0, 0);
        k->out_root = kx(k, TS_KX_MUL, TS_SCALAR_F32, out, f, kconst_f(k, TS_SCALAR_F32, 0.37), 0);
    } else if (out == TS_BOOL) {
        k->out_root = kx(k, TS_KX_CAST, TS_SCALAR_BOOL, TS_BOOL, kx(k, TS_KX_SUB, I, it, sel, q, 0), 0, 0);
    } else {
        k->out_root = sel;
    }
    tp_output(t, k, out, 2, dims);
}

/* Float → integer and float → narrower float casts, F64 rope-style math. */
static void add_pw_cast(struct tp *t, enum ts_dtype dt, enum ts_dtype out, int64_t n) {
    int64_t dims[1] = {n};
    int xb = tp_input(t, dt, 1, dims);
    struct ts_kernel *k = tp_kernel(t, TS_KERNEL_POINTWISE, 1, dims);
    int x = kload(k, tp_operand(t, k, xb, NULL));
    enum ts_scalar F = TS_SCALAR_F32, D = TS_SCALAR_F64;
    int big = kx(k, TS_KX_MUL, F, dt, x, kconst_f(k, F, 1e3), 0);
    int i32 = kx(k, TS_KX_CAST, TS_SCALAR_I64, TS_I32, big, 0, 0);
    int pos = kx(k, TS_KX_CAST, D, TS_F32, kx(k, TS_KX_INDEX, TS_SCALAR_I64, TS_I64, 0, 0, 0), 0, 0);
    int ang = kx(k, TS_KX_MUL, D, TS_F32, pos, kx(k, TS_KX_CAST, D, TS_F32, x, 0, 0), 0);
    int rope = kx(k, TS_KX_ADD, D, TS_F32, kx(k, TS_KX_COS, D, TS_F32, ang, 0, 0), kx(k, TS_KX_SIN, D, TS_F32, ang, 0, 0), 0);
    int back = kx(k, TS_KX_CAST, F, out == TS_BF16 ? TS_BF16 : TS_F16, rope, 0, 0);
    int fi = kx(k, TS_KX_CAST, F, TS_F32, i32, 0, 0);
    int bo = kx(k, TS_KX_CAST, F, TS_F32, kx(k, TS_KX_CAST, TS_SCALAR_BOOL, TS_BOOL, x, 0, 0), 0, 0);
    int s = kx(k, TS_KX_ADD, F, out, kx(k, TS_KX_MUL, F, out, fi, kconst_f(k, F, 1e-3), 0), back, 0);
    k->out_root = kx(k, TS_KX_ADD, F, out, s, bo, 0);
    tp_output(t, k, out, 1, dims);
}

/* A gather: out[r, c] = table[idx[r], c] (negative indices count from the end). */
static void add_pw_gather(struct tp *t, enum ts_dtype dt, int64_t n) {
    int64_t V = 5, R = 4, td[2] = {V, n}, dims[2] = {R, n};
    int tb = tp_input(t, dt, 2, td), ib = tp_input_range(t, TS_I64, 1, &R, -V, V);
    struct ts_kernel *k = tp_kernel(t, TS_KERNEL_POINTWISE, 2, dims);
    int64_t ts[2] = {0, 1}, is[2] = {1, 0};
    int to = tp_operand(t, k, tb, ts);
    k->inputs[to].gather_stride = n;
    k->inputs[to].gather_size = V;
    int idx = kload(k, tp_operand(t, k, ib, is));
    k->errors[0] = "index out of range";
    k->nerrors = 1;
    int g = kx(k, TS_KX_LOAD_AT, sc(dt), dt, to, idx, 0);
    k->expr[g].i = 1;
    k->out_root = g;
    tp_output(t, k, dt, 2, dims);
}

/* ROWWISE op over x = a·1.25 + b (b broadcast over rows); norms: out =
 * ROW·gamma + beta; per-row ops: out = ROW (or ROW·0.5 when out_root used). */
static void add_row(struct tp *t, enum ts_dtype dt, enum ts_row_op op, int64_t rows, int64_t n, bool f64) {
    int64_t dims[2] = {rows, n};
    int ab = tp_input(t, dt, 2, dims), bb = tp_input(t, dt, 1, &n), gb = tp_input(t, dt, 1, &n);
    struct ts_kernel *k = tp_kernel(t, TS_KERNEL_ROWWISE, 2, dims);
    k->nouter = 1;
    k->row_op = op;
    k->eps = 1e-5;
    enum ts_scalar F = f64 ? TS_SCALAR_F64 : TS_SCALAR_F32;
    int a = kload(k, tp_operand(t, k, ab, NULL)), b = kload(k, tp_operand(t, k, bb, NULL));
    if (f64) {
        a = kx(k, TS_KX_CAST, F, TS_F32, a, 0, 0);
        b = kx(k, TS_KX_CAST, F, TS_F32, b, 0, 0);
    }
    k->x_root = kx(k, TS_KX_ADD, F, dt, kx(k, TS_KX_MUL, F, dt, a, kconst_f(k, F, 1.25), 0), b, 0);
    if (ts_row_op_is_elementwise(op)) {
        int g = kload(k, tp_operand(t, k, gb, NULL));
        int row = kx(k, TS_KX_ROW, TS_SCALAR_F32, dt, 0, 0, 0);
        k->out_root = kx(k, TS_KX_ADD, TS_SCALAR_F32, dt, kx(k, TS_KX_MUL, TS_SCALAR_F32, dt, row, g, 0), g, 0);
        tp_output(t, k, dt, 2, dims);
    } else {
        if (op == TS_ROW_MEAN) {
            int row = kx(k, TS_KX_ROW, TS_SCALAR_F32, dt, 0, 0, 0);
            k->out_root = kx(k, TS_KX_MUL, TS_SCALAR_F32, dt, row, kconst_f(k, TS_SCALAR_F32, 0.5), 0);
        }
        tp_output(t, k, dt, 1, dims);
        k->output.strides[1] = 0;
    }
}

/* Softmax over two inner dims [4, n] of x[2, 4, n] read transposed from [2, n, 4]. */
static void add_row_inner2(struct tp *t, enum ts_dtype dt, int64_t n) {
    int64_t xd[3] = {2, n, 4}, dims[3] = {2, 4, n};
    int xb = tp_input(t, dt, 3, xd);
    struct ts_kernel *k = tp_kernel(t, TS_KERNEL_ROWWISE, 3, dims);
    k->nouter = 1;
    k->row_op = TS_ROW_SOFTMAX;
    int64_t st[3] = {4 * n, 1, 4};
    k->x_root = kload(k, tp_operand(t, k, xb, st));
    tp_output(t, k, dt, 3, dims);
}

static const enum ts_dtype fdts[] = {TS_F32, TS_F16, TS_BF16};

/* The kernel cases at size n for every dtype: all of them (full), or the
 * cheaper ones to compile (index maps, gathers, the row ops). */
static void add_all(struct tp *t, int64_t n, bool full, bool inner2) {
    for (int i = 0; i < 3; i++) {
        enum ts_dtype dt = fdts[i];
        if (full || dt == TS_F32) add_pw_math(t, dt, 3, n);
        if (full && dt != TS_F32) add_pw_math_in(t, dt, 2, n, TS_SCALAR_F64);
        add_pw_transpose(t, dt, n);
        add_pw_gather(t, dt, n);
        if (full) add_pw_cast(t, dt, dt == TS_F32 ? TS_F16 : dt, n);
        for (int op = 0; op < TS_ROW_OP_COUNT; op++)
            if (full || op == TS_ROW_SOFTMAX || op == TS_ROW_LAYERNORM || op == TS_ROW_MAX)
                add_row(t, dt, (enum ts_row_op)op, 3, n, false);
        if (inner2) add_row_inner2(t, dt, n);
    }
    add_pw_int(t, TS_I32, TS_I32, n);
    add_pw_int(t, TS_I64, TS_BF16, n);
    if (full) {
        add_pw_int(t, TS_I64, TS_I64, n);
        add_pw_int(t, TS_I32, TS_F16, n);
        add_pw_int(t, TS_I32, TS_BOOL, n);
        add_pw_int(t, TS_I64, TS_F32, n);
        add_row(t, TS_F32, TS_ROW_SUM, 2, n, true);
    }
    add_row(t, TS_F32, TS_ROW_LAYERNORM, 2, n, true);
}

/* Shapes at the edges: rank 0, rank 5 with broadcasts and unit dims, an
 * empty kernel, a row over the whole tensor (nouter 0) and rows of nothing
 * reduced (nouter = rank). */
static void add_shapes(struct tp *t, int64_t n) {
    enum ts_scalar F = TS_SCALAR_F32;
    {
        int xb = tp_input(t, TS_F32, 0, NULL);
        struct ts_kernel *k = tp_kernel(t, TS_KERNEL_POINTWISE, 0, NULL);
        int x = kload(k, tp_operand(t, k, xb, NULL));
        k->out_root = kx(k, TS_KX_EXP, F, TS_F32, x, 0, 0);
        tp_output(t, k, TS_F32, 0, NULL);
    }
    {
        int64_t dims[5] = {2, 1, 3, 1, n}, bd[3] = {3, 1, 1};
        int xb = tp_input(t, TS_F16, 5, dims), bb = tp_input(t, TS_F32, 3, bd);
        struct ts_kernel *k = tp_kernel(t, TS_KERNEL_POINTWISE, 5, dims);
        int64_t bs[5] = {0, 0, 1, 0, 0};
        int x = kload(k, tp_operand(t, k, xb, NULL)), b = kload(k, tp_operand(t, k, bb, bs));
        k->out_root = kx(k, TS_KX_SUB, F, TS_F16, x, kx(k, TS_KX_MUL, F, TS_F16, b, x, 0), 0);
        tp_output(t, k, TS_F16, 5, dims);
    }
    {
        int64_t dims[2] = {0, n};
        int xb = tp_input(t, TS_F32, 2, dims);
        struct ts_kernel *k = tp_kernel(t, TS_KERNEL_POINTWISE, 2, dims);
        k->out_root = kx(k, TS_KX_NEG, F, TS_F32, kload(k, tp_operand(t, k, xb, NULL)), 0, 0);
        tp_output(t, k, TS_F32, 2, dims);
    }
    for (int nouter = 0; nouter <= 2; nouter += 2) {
        int64_t dims[2] = {3, n};
        int xb = tp_input(t, TS_BF16, 2, dims);
        struct ts_kernel *k = tp_kernel(t, TS_KERNEL_ROWWISE, 2, dims);
        k->nouter = nouter;
        k->row_op = nouter == 0 ? TS_ROW_MEAN : TS_ROW_SOFTMAX;
        k->x_root = kload(k, tp_operand(t, k, xb, NULL));
        if (nouter == 0) {
            tp_output(t, k, TS_F32, 0, NULL);
        } else {
            tp_output(t, k, TS_BF16, 2, dims);
        }
    }
}

/* Schedules other than the defaults: lanes that cross rows (vec with a last
 * dim it does not divide), several lanes per thread in a row, small blocks,
 * and rows longer than the shared-memory cache (x evaluated again). */
static void add_schedules(struct tp *t) {
    add_pw_math(t, TS_F32, 3, 127);
    t->ks[t->nk - 1].sched.pointwise.gpu.threads = 32;
    t->ks[t->nk - 1].sched.pointwise.gpu.vec = 4;
    add_pw_transpose(t, TS_F16, 130);
    t->ks[t->nk - 1].sched.pointwise.gpu.threads = 64;
    t->ks[t->nk - 1].sched.pointwise.gpu.vec = 2;
    add_pw_gather(t, TS_BF16, 64);
    t->ks[t->nk - 1].sched.pointwise.gpu.vec = 2;
    enum ts_row_op ops[3] = {TS_ROW_SOFTMAX, TS_ROW_LAYERNORM, TS_ROW_SUM};
    for (int i = 0; i < 3; i++) {
        add_row(t, TS_F32, ops[i], 3, 1001, false);
        t->ks[t->nk - 1].sched.rowwise.gpu.threads = 64;
        t->ks[t->nk - 1].sched.rowwise.gpu.vec = 4;
        add_row(t, TS_F16, ops[i], 2, 100, false);
        t->ks[t->nk - 1].sched.rowwise.gpu.threads = 32;
        t->ks[t->nk - 1].sched.rowwise.gpu.vec = 8;
    }
    add_row(t, TS_F32, TS_ROW_LAYERNORM, 2, 13000, false);
    add_row(t, TS_F16, TS_ROW_SOFTMAX, 1, 25000, false);
    add_row(t, TS_BF16, TS_ROW_RMSNORM, 1, 20000, false);
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_arch(void) {
    struct { const char *s, *name; int sm; } good[] = {
        {"sm_80", "sm_80", 80},     {"sm_86", "sm_86", 86},     {"sm_87", "sm_87", 87},   {"sm_89", "sm_89", 89},
        {"sm_90", "sm_90", 90},     {"sm_90a", "sm_90a", 90},   {"sm_100", "sm_100", 100}, {"sm_100a", "sm_100a", 100},
        {"sm_103", "sm_103", 103},  {"sm_120", "sm_120", 120},  {"90", "sm_90", 90},      {"9.0", "sm_90", 90},
        {"8.6", "sm_86", 86},       {"90a", "sm_90a", 90},      {"compute_80", "sm_80", 80},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct ts_cuda_arch a;
        struct ts_diag d;
        ts_diag_clear(&d);
        CHECK(ts_cuda_arch_parse(good[i].s, &a, &d) == TS_OK);
        CHECK_STR(a.name, good[i].name);
        CHECK(a.sm == good[i].sm);
        CHECK(a.specific == (strchr(good[i].name, 'a') != NULL));
    }
    const char *bad[] = {"sm_75", "sm_70", "7.5", "75", "sm_86a", "sm_80a", "foo", "", "sm_", "sm_999", "sm_90ab", "9.0a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ts_cuda_arch a;
        struct ts_diag d;
        ts_diag_clear(&d);
        CHECK(ts_cuda_arch_parse(bad[i], &a, &d) == TS_ERR_USAGE);
        CHECK(strstr(d.what, "sm_80") != NULL);
        if (bad[i][0]) CHECK(strstr(d.what, bad[i]) != NULL);
    }
    struct ts_cuda_arch a;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_cuda_arch_parse("sm_75", &a, &d) == TS_ERR_USAGE);
    CHECK_CONTAINS(d.what, "older than sm_80");
    CHECK(ts_cuda_arch_parse("sm_80", &a, &d) == TS_OK && tsc_arch_max_shared(&a) == 163 * 1024);
    CHECK(ts_cuda_arch_parse("sm_89", &a, &d) == TS_OK && tsc_arch_max_shared(&a) == 99 * 1024);
    CHECK(ts_cuda_arch_parse("sm_90a", &a, &d) == TS_OK && tsc_arch_max_shared(&a) == 227 * 1024);
}

static void test_sched(void) {
    struct ts_cuda_arch a;
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_cuda_arch_parse("sm_90a", &a, &d) == TS_OK);
    struct tp *t = tp_new();
    add_pw_math(t, TS_F32, 3, 128);   /* k0: vec 4 */
    add_pw_math(t, TS_F16, 3, 128);   /* k1: vec 8 */
    add_pw_math(t, TS_F32, 3, 127);   /* k2: vec 1 */
    add_pw_transpose(t, TS_F32, 64);  /* k3: output contiguous: vec 4 */
    add_row(t, TS_F32, TS_ROW_SOFTMAX, 2, 7, false);    /* k4: 32 threads */
    add_row(t, TS_F32, TS_ROW_SOFTMAX, 2, 4096, false); /* k5: 256 */
    add_row(t, TS_F32, TS_ROW_SUM, 2, 100, false);      /* k6: 64 threads, vec 2 */
    add_pw_int(t, TS_I64, TS_I64, 64);                  /* k7: vec 2 */
    int want_vec[] = {4, 8, 1, 4}, want_rt[] = {32, 256, 64}, want_rv[] = {1, 4, 2};
    for (int i = 0; i < t->nk; i++) {
        struct ts_kernel k = t->ks[i];
        ts_cuda_sched_default(&k, &a, false);
        CHECK(ts_cuda_sched_check(&k, &a, &d) == TS_OK);
        if (i < 4) {
            CHECK(k.sched.pointwise.gpu.threads == 256);
            CHECK(k.sched.pointwise.gpu.vec == want_vec[i]);
        } else if (i < 7) {
            CHECK(k.sched.rowwise.gpu.threads == want_rt[i - 4]);
            CHECK(k.sched.rowwise.gpu.vec == want_rv[i - 4]);
        } else {
            CHECK(k.sched.pointwise.gpu.vec == 2);
        }
    }
    /* chosen fields stay */
    struct ts_kernel k = t->ks[0];
    k.sched.pointwise.gpu.threads = 128;
    ts_cuda_sched_default(&k, &a, false);
    CHECK(k.sched.pointwise.gpu.threads == 128 && k.sched.pointwise.gpu.vec == 4);
    /* illegal ones are rejected, naming the kernel and the rule */
    struct { int kernel, threads, vec; const char *rule; } bad[] = {
        {0, 48, 1, "threads 48"}, {0, 2048, 1, "threads 2048"}, {0, 0, 1, "threads 0"}, {0, 256, 3, "vec 3"},
        {0, 256, 8, "16-byte"},   {1, 256, 32, "vec 32"},       {4, 96, 1, "threads 96"}, {4, 2048, 1, "threads 2048"},
        {4, 256, 16, "vec 16"},   {4, 256, 8, "16-byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ts_kernel kb = t->ks[bad[i].kernel];
        if (kb.kind == TS_KERNEL_POINTWISE) {
            kb.sched.pointwise.gpu.threads = bad[i].threads;
            kb.sched.pointwise.gpu.vec = bad[i].vec;
        } else {
            kb.sched.rowwise.gpu.threads = bad[i].threads;
            kb.sched.rowwise.gpu.vec = bad[i].vec;
        }
        ts_diag_clear(&d);
        CHECK(ts_cuda_sched_check(&kb, &a, &d) == TS_ERR_UNSUPPORTED);
        CHECK_CONTAINS(d.what, bad[i].rule);
        CHECK_CONTAINS(d.where, kb.name);
    }
    tp_free(t);
}

/* Identical kernels share one function; the ABI signature and trampoline. */
static void test_source(void) {
    struct tp *t = tp_new();
    add_pw_math(t, TS_F32, 3, 128);
    add_pw_math(t, TS_F32, 3, 128); /* the same code on other buffers */
    add_row(t, TS_F16, TS_ROW_LAYERNORM, 4, 64, false);
    add_row(t, TS_F16, TS_ROW_LAYERNORM, 4, 64, false);
    add_row(t, TS_F16, TS_ROW_LAYERNORM, 4, 65, false); /* differs */
    struct ts_program p = tp_program(t);
    struct ts_cuda_code *c = NULL;
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_cuda_opts o = {.arch = "sm_80"};
    CHECK(ts_cuda_codegen(&p, &o, &c, &d) == TS_OK);
    if (!c) fprintf(stderr, "  %s: %s\n", d.where, d.what);
    if (c) {
        CHECK(ts_cuda_code_nfunctions(c) == 3);
        CHECK_STR(ts_cuda_code_symbol(c, 0), "k0_pointwise");
        CHECK_STR(ts_cuda_code_symbol(c, 1), "k0_pointwise");
        CHECK_STR(ts_cuda_code_symbol(c, 2), "k2_rowwise");
        CHECK_STR(ts_cuda_code_symbol(c, 3), "k2_rowwise");
        CHECK_STR(ts_cuda_code_symbol(c, 4), "k4_rowwise");
        CHECK_STR(ts_cuda_code_arch(c)->name, "sm_80");
        const char *src = ts_cuda_code_source(c);
        CHECK_CONTAINS(src, "extern \"C\" __global__ void __launch_bounds__(256, 4) k0_pointwise(const float *__restrict__ in0, "
                            "const float *__restrict__ in1, float *__restrict__ out, void *workspace, int *error)");
        CHECK_CONTAINS(src, "k2_rowwise(const unsigned short *__restrict__ in0, ");
        CHECK_CONTAINS(src, "extern \"C\" void k0_pointwise_emu(void **params)");
        CHECK(strstr(src, "k1_pointwise") == NULL);
        CHECK(strstr(src, "TSC_KERNEL_SYMBOL_") == NULL);
        struct ts_cuda_launch l;
        ts_cuda_code_launch(c, 0, &l);
        CHECK(l.block[0] == 256 && l.grid[0] == 1 && l.grid[1] == 1 && l.shared_bytes == 0);
        ts_cuda_code_launch(c, 2, &l);
        CHECK(l.block[0] == 32 && l.grid[0] == 4 && l.shared_bytes == 64 * 4);
        CHECK(ts_cuda_code_kernel(c, 2)->sched.rowwise.gpu.threads == 32);
        CHECK(ts_cuda_code_kernel(c, 2)->sched.rowwise.gpu.vec == 2);
    }
    ts_cuda_code_free(c);
    /* a bad arch or schedule fails cleanly */
    c = NULL;
    o.arch = "sm_70";
    CHECK(ts_cuda_codegen(&p, &o, &c, &d) == TS_ERR_USAGE && c == NULL);
    o.arch = "sm_90a";
    t->ks[1].sched.pointwise.gpu.threads = 33;
    ts_diag_clear(&d);
    CHECK(ts_cuda_codegen(&p, &o, &c, &d) == TS_ERR_UNSUPPORTED && c == NULL);
    CHECK_CONTAINS(d.where, "k1_pointwise");
    t->ks[1].sched.pointwise.gpu.threads = 0;
    /* an expression the emitter cannot type: EXP of an integer */
    struct ts_kx saved = t->ks[0].expr[2];
    t->ks[0].expr[2].type = TS_SCALAR_I64;
    ts_diag_clear(&d);
    enum ts_status st = ts_cuda_codegen(&p, &o, &c, &d);
    CHECK(st != TS_OK && c == NULL);
    t->ks[0].expr[2] = saved;
    tp_free(t);
}

/* One NVRTC compile with ptxas -v (runs on its own thread: NVRTC is thread-safe). */
struct nv_job {
    const char *source;
    struct ts_cuda_arch arch;
    struct ts_nvrtc_result r;
    struct ts_diag d;
    enum ts_status st;
};

static void *nv_compile(void *arg) {
    struct nv_job *j = arg;
    const char *opts[] = {"-Xptxas=-v"};
    ts_diag_clear(&j->d);
    memset(&j->r, 0, sizeof j->r);
    j->st = ts_nvrtc_compile(j->source, "codegen.cu", &j->arch, opts, 1, true, &j->r, &j->d);
    return NULL;
}

/* Compiles a program for sm_80 and sm_90a (at once) and checks every
 * function's ptxas report: found, no spills. */
static void compile_program(const struct ts_program *p, const char *label) {
    const char *archs[2] = {"sm_80", "sm_90a"};
    struct ts_cuda_code *c[2] = {NULL, NULL};
    struct nv_job jobs[2];
    pthread_t th[2];
    bool threaded[2] = {false, false};
    for (int ai = 0; ai < 2; ai++) {
        struct ts_cuda_opts o = {.arch = archs[ai]};
        struct ts_diag d;
        ts_diag_clear(&d);
        CHECK(ts_cuda_codegen(p, &o, &c[ai], &d) == TS_OK);
        if (!c[ai]) {
            fprintf(stderr, "  %s: %s\n", label, d.what);
            continue;
        }
        if (getenv("TS_DUMP")) {
            FILE *f = fopen(getenv("TS_DUMP"), "w");
            if (f) fputs(ts_cuda_code_source(c[ai]), f), fclose(f);
        }
        jobs[ai].source = ts_cuda_code_source(c[ai]);
        jobs[ai].arch = *ts_cuda_code_arch(c[ai]);
        threaded[ai] = pthread_create(&th[ai], NULL, nv_compile, &jobs[ai]) == 0;
        if (!threaded[ai]) nv_compile(&jobs[ai]);
    }
    for (int ai = 0; ai < 2; ai++) {
        if (!c[ai]) continue;
        if (threaded[ai]) pthread_join(th[ai], NULL);
        struct nv_job *j = &jobs[ai];
        if (j->st == TS_ERR_UNSUPPORTED && strstr(j->d.what, "libnvrtc")) {
            fprintf(stderr, "  %s: NVRTC not available, compile skipped\n", label);
        } else {
            CHECK(j->st == TS_OK);
            if (j->st != TS_OK) fprintf(stderr, "  %s %s: %s\n%s\n", label, archs[ai], j->d.what, j->r.log ? j->r.log : "");
            for (int i = 0; j->st == TS_OK && i < p->nkernels; i++) {
                const char *sym = ts_cuda_code_symbol(c[ai], i);
                int regs = -1;
                int64_t spill = -1, stack = -1;
                bool found = ts_ptxas_report(j->r.log, sym, &regs, &spill, &stack);
                CHECK(found);
                CHECK(spill == 0 && stack == 0); /* no local memory at all */
                if (getenv("TS_VERBOSE") || !found || spill != 0 || stack != 0)
                    fprintf(stderr, "  %s %s %s: %d registers, %lld spill, %lld stack\n", label, archs[ai], sym, regs,
                            (long long)spill, (long long)stack);
            }
        }
        ts_nvrtc_result_free(&j->r);
        ts_cuda_code_free(c[ai]);
    }
}

static void test_nvrtc(void) {
    struct tp *t = tp_new();
    /* every pointwise case in f32, element by element and with vector accesses */
    add_pw_math(t, TS_F32, 3, 4097);
    add_pw_math(t, TS_F32, 3, 128);
    add_pw_math_in(t, TS_F16, 3, 128, TS_SCALAR_F64); /* f16/bf16 math in F64, as fusion does */
    add_pw_math_in(t, TS_BF16, 3, 4097, TS_SCALAR_F64);
    add_pw_transpose(t, TS_F32, 4097);
    add_pw_transpose(t, TS_F16, 128);
    add_pw_gather(t, TS_F32, 128);
    add_pw_gather(t, TS_BF16, 4097);
    add_pw_cast(t, TS_F32, TS_F16, 4097);
    add_pw_cast(t, TS_BF16, TS_BF16, 128);
    add_pw_int(t, TS_I64, TS_I64, 128);
    add_pw_int(t, TS_I32, TS_BOOL, 4097);
    add_pw_int(t, TS_I32, TS_F16, 128);
    /* every row op; rows in shared memory, rows recomputed, two inner dims, f64 */
    for (int op = 0; op < TS_ROW_OP_COUNT; op++) add_row(t, TS_F32, (enum ts_row_op)op, 3, 4097, false);
    add_row(t, TS_F16, TS_ROW_LAYERNORM, 3, 4097, false);
    add_row(t, TS_BF16, TS_ROW_RMSNORM, 3, 4097, false);
    add_row(t, TS_F32, TS_ROW_LAYERNORM, 2, 20000, false);
    add_row(t, TS_F16, TS_ROW_SOFTMAX, 2, 20000, false);
    add_row_inner2(t, TS_F32, 129);
    add_row(t, TS_F32, TS_ROW_LAYERNORM, 2, 4097, true);
    struct ts_program p = tp_program(t);
    compile_program(&p, "nvrtc");
    tp_free(t);
}

/* Compares output o (written by kernel o) with tolerances by dtype: f32
 * element-wise ones with atol 1e-5, f16 rtol 1e-3, bf16 1.6e-2 (one rounding
 * of the last step may differ), integers and bools exactly. */
static int64_t compare_output(const struct tp *t, int o, const struct ts_tensor *got, const struct ts_tensor *want,
                              const char *label) {
    int64_t bad = 0;
    double rtol = want->dtype == TS_F32 ? 2e-6 : want->dtype == TS_F16 ? 1e-3 : 1.6e-2, atol = 1e-5;
    for (int64_t i = 0; i < want->numel; i++) {
        bool ok;
        double g, w;
        if (ts_dtype_is_float(want->dtype)) {
            g = ts_tensor_get_f64(got, i);
            w = ts_tensor_get_f64(want, i);
            ok = (isnan(g) && isnan(w)) || g == w || fabs(g - w) <= atol + rtol * fabs(w);
        } else {
            g = (double)ts_tensor_get_i64(got, i);
            w = (double)ts_tensor_get_i64(want, i);
            ok = ts_tensor_get_i64(got, i) == ts_tensor_get_i64(want, i);
        }
        if (!ok && bad++ < 3)
            fprintf(stderr, "  %s %s (%s): element %lld: got %.9g, want %.9g\n", label, t->ks[o].name,
                    ts_dtype_name(want->dtype), (long long)i, g, w);
    }
    return bad;
}

/* Reference and emulator on every case of program t. */
static void run_emulated(struct tp *t, const char *label) {
    struct ts_program p = tp_program(t);
    struct ts_tensor want[TP_MAX_BUF], got[TP_MAX_BUF];
    memset(want, 0, sizeof want);
    memset(got, 0, sizeof got);
    struct ts_diag d;
    ts_diag_clear(&d);
    enum ts_status rs = ts_program_run_ref(&p, t->in, want, &d);
    CHECK(rs == TS_OK);
    if (rs != TS_OK) fprintf(stderr, "  %s: reference: %s\n", label, d.what);
    ts_diag_clear(&d);
    struct ts_cuda_opts o = {.arch = "sm_90a"};
    enum ts_status es = ts_emu_run_program(&p, &o, t->in, got, &d);
    CHECK(es == TS_OK);
    if (es != TS_OK) fprintf(stderr, "  %s: emulator: %s\n", label, d.what);
    if (rs == TS_OK && es == TS_OK)
        for (int i = 0; i < t->nout; i++) CHECK(compare_output(t, i, &got[i], &want[i], label) == 0);
    if (rs == TS_OK)
        for (int i = 0; i < t->nout; i++) ts_tensor_release(&want[i]);
    if (es == TS_OK)
        for (int i = 0; i < t->nout; i++) ts_tensor_release(&got[i]);
}

/* Every case for every dtype at 7, 128 (vector accesses) and 4097 (rows in
 * shared memory); the cheaper cases at 1, 17, 127, 129 and 4096, all in one
 * program (one emulator module to compile). */
static void test_emulated(void) {
    const int64_t full[] = {7, 128, 4097}, light[] = {1, 17, 127, 129, 4096};
    for (int g = 0; g <= 3; g++) {
        struct tp *t = tp_new();
        char label[64];
        if (g < 3) {
            add_all(t, full[g], true, full[g] <= 129);
            if (full[g] == 4097) add_schedules(t);
            snprintf(label, sizeof label, "n=%lld", (long long)full[g]);
        } else {
            for (int i = 0; i < 5; i++) add_all(t, light[i], false, light[i] <= 129);
            add_shapes(t, 7);
            add_shapes(t, 128);
            snprintf(label, sizeof label, "n=1,17,127,129,4096");
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        run_emulated(t, label);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (getenv("TS_VERBOSE"))
            fprintf(stderr, "  %s: %d kernels, %.2f s\n", label, t->nk,
                    (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
        tp_free(t);
    }
}

/* A zero divisor and a gather index out of range: the emulated kernels
 * raise the kernel's error, as the reference does. */
static void test_errors(void) {
    for (int which = 0; which < 2; which++) {
        struct tp *t = tp_new();
        int64_t n = 9, dims[1] = {n};
        struct ts_kernel *k;
        if (which == 0) {
            int xb = tp_input_range(t, TS_I32, 1, dims, 0, 3); /* zeros among them */
            k = tp_kernel(t, TS_KERNEL_POINTWISE, 1, dims);
            int x = kload(k, tp_operand(t, k, xb, NULL));
            k->errors[0] = "integer division by zero";
            k->nerrors = 1;
            k->out_root = kx(k, TS_KX_DIV, TS_SCALAR_I64, TS_I32, kconst_i(k, 7), x, 0);
            k->expr[k->out_root].i = 1;
            tp_output(t, k, TS_I32, 1, dims);
        } else {
            int64_t V = 3, td[2] = {V, 4}, od[2] = {n, 4};
            int tb = tp_input(t, TS_F32, 2, td), ib = tp_input_range(t, TS_I64, 1, dims, -5, 5);
            k = tp_kernel(t, TS_KERNEL_POINTWISE, 2, od);
            int64_t ts[2] = {0, 1}, is[2] = {1, 0};
            int to = tp_operand(t, k, tb, ts);
            k->inputs[to].gather_stride = 4;
            k->inputs[to].gather_size = V;
            int idx = kload(k, tp_operand(t, k, ib, is));
            k->errors[0] = "gather: index out of range";
            k->nerrors = 1;
            k->out_root = kx(k, TS_KX_LOAD_AT, TS_SCALAR_F32, TS_F32, to, idx, 0);
            k->expr[k->out_root].i = 1;
            tp_output(t, k, TS_F32, 2, od);
        }
        struct ts_program p = tp_program(t);
        struct ts_tensor want[1], got[1];
        memset(want, 0, sizeof want);
        memset(got, 0, sizeof got);
        struct ts_diag d1, d2;
        ts_diag_clear(&d1);
        ts_diag_clear(&d2);
        enum ts_status rs = ts_program_run_ref(&p, t->in, want, &d1);
        enum ts_status es = ts_emu_run_program(&p, &(struct ts_cuda_opts){.arch = "sm_80"}, t->in, got, &d2);
        CHECK(rs == TS_ERR_RUNTIME);
        CHECK(es == TS_ERR_RUNTIME);
        CHECK_CONTAINS(d2.what, k->errors[0]);
        if (rs == TS_OK) ts_tensor_release(&want[0]);
        if (es == TS_OK) ts_tensor_release(&got[0]);
        tp_free(t);
    }
}

int main(void) {
    test_arch();
    test_sched();
    test_source();
    if (!getenv("TS_SKIP_NVRTC")) test_nvrtc();
    if (!getenv("TS_SKIP_EMU")) {
        test_emulated();
        test_errors();
    }
    return ts_test_finish("test_cuda_codegen");
}
