/* kernel.c — the kernel IR's tables (kind, scalar, expression-op and row-op
 * names), how the thread pool splits each kind of kernel into tasks, each
 * kind's per-worker scratch size, and the default CPU schedules. The checker,
 * printer and interpreter of the kernel IR live in kernel_check.c,
 * kernel_print.c and kernel_interp.c. */
#include "ir.h"

static const char *const kind_names[] = {
#define X(id, name) name,
    TS_KERNEL_KIND_LIST(X)
#undef X
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == TS_KERNEL_KIND_COUNT, "kernel kinds out of step");

static const char *const scalar_names[] = {"f32", "f64", "i64", "bool"};
_Static_assert(sizeof scalar_names / sizeof scalar_names[0] == TS_SCALAR_COUNT, "scalar names out of step");

static const struct {
    const char *name;
    int nargs;
} kx_ops[] = {
#define X(id, name, nargs) {name, nargs},
    TS_KX_LIST(X)
#undef X
};
_Static_assert(sizeof kx_ops / sizeof kx_ops[0] == TS_KX_COUNT, "expression ops out of step");

static const char *const row_op_names[] = {
#define X(id, name) name,
    TS_ROW_OP_LIST(X)
#undef X
};
_Static_assert(sizeof row_op_names / sizeof row_op_names[0] == TS_ROW_OP_COUNT, "row ops out of step");

const char *ts_kernel_kind_name(enum ts_kernel_kind k) {
    return k >= 0 && k < TS_KERNEL_KIND_COUNT ? kind_names[k] : "?";
}

const char *ts_gemm_instr_name(enum ts_gemm_instr i) {
    static const char *const names[TS_GEMM_INSTR_COUNT] = {"auto", "simt", "mma_f16", "mma_tf32", "wgmma"};
    return i >= 0 && i < TS_GEMM_INSTR_COUNT ? names[i] : "?";
}

const char *ts_scalar_name(enum ts_scalar s) {
    return s >= 0 && s < TS_SCALAR_COUNT ? scalar_names[s] : "?";
}

enum ts_scalar ts_scalar_of_dtype(enum ts_dtype t) {
    switch (t) {
    case TS_F32:
    case TS_F16:
    case TS_BF16: return TS_SCALAR_F32;
    case TS_I32:
    case TS_I64: return TS_SCALAR_I64;
    case TS_BOOL: return TS_SCALAR_BOOL;
    default: break;
    }
    TS_ASSERT(!"not a dtype");
    return TS_SCALAR_COUNT;
}

const char *ts_kx_op_name(enum ts_kx_op op) { return op >= 0 && op < TS_KX_COUNT ? kx_ops[op].name : "?"; }

int ts_kx_op_nargs(enum ts_kx_op op) {
    TS_ASSERT(op >= 0 && op < TS_KX_COUNT);
    return kx_ops[op].nargs;
}

const char *ts_row_op_name(enum ts_row_op op) {
    return op >= 0 && op < TS_ROW_OP_COUNT ? row_op_names[op] : "?";
}

bool ts_row_op_is_elementwise(enum ts_row_op op) {
    return op == TS_ROW_SOFTMAX || op == TS_ROW_LAYERNORM || op == TS_ROW_RMSNORM;
}

/* ---- task decomposition and scratch ------------------------------------- */

/* a * b, saturating at INT64_MAX (sizes are non-negative). A program that
 * passed ts_program_check never gets near it; the saturation only keeps
 * unchecked kernels from overflowing. */
static int64_t mul_sat(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t prod(const int64_t *dims, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p = mul_sat(p, dims[i] > 0 ? dims[i] : 0);
    return p;
}

static int64_t ceil_div(int64_t a, int64_t b) { return b > 0 ? a / b + (a % b != 0) : 0; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

static bool has_zero_dim(const struct ts_kernel *k) {
    for (int i = 0; i < k->rank; i++)
        if (k->dims[i] <= 0) return true;
    return false;
}

/* GEMM's dims as [batch…, M, N]: the batch product, M and N. */
static void gemm_shape(const struct ts_kernel *k, int64_t *batch, int64_t *m, int64_t *n) {
    int r = k->rank;
    *batch = r >= 2 ? prod(k->dims, 0, r - 2) : 1;
    *m = r >= 2 ? k->dims[r - 2] : 1;
    *n = r >= 1 ? k->dims[r - 1] : 1;
}

int64_t ts_kernel_ntasks(const struct ts_kernel *k) {
    switch (k->kind) {
    case TS_KERNEL_POINTWISE: {
        if (has_zero_dim(k)) return 0;
        int64_t rows = k->rank > 0 ? prod(k->dims, 0, k->rank - 1) : 1;
        return ceil_div(rows, k->sched.pointwise.rows_per_task);
    }
    case TS_KERNEL_ROWWISE: {
        /* Rows with an empty inner part still get their tasks: a sum over no
         * elements must still write its 0. */
        int64_t rows = prod(k->dims, 0, k->nouter);
        return ceil_div(rows, k->sched.rowwise.rows_per_task);
    }
    case TS_KERNEL_GEMM: {
        if (has_zero_dim(k)) return 0;
        int64_t b, m, n;
        gemm_shape(k, &b, &m, &n);
        return mul_sat(mul_sat(b, ceil_div(m, k->sched.gemm.mc)), ceil_div(n, k->sched.gemm.nc));
    }
    case TS_KERNEL_ATTENTION: {
        if (has_zero_dim(k)) return 0;
        int64_t qb = ceil_div(k->attn.sq, k->sched.attention.block_q);
        return mul_sat(mul_sat(k->attn.batch, k->attn.hq), qb);
    }
    default: break;
    }
    TS_ASSERT(!"bad kernel kind");
    return 0;
}

bool ts_kernel_gemm_needs_partials(const struct ts_kernel *k) {
    return k->kind == TS_KERNEL_GEMM && k->acc_type == TS_SCALAR_F32 && k->output.dtype != TS_F32 &&
           k->sched.gemm.kc >= 1 && k->k > k->sched.gemm.kc;
}

/* Sizes are rounded up to whole 64-byte lines, so that scratch areas laid end
 * to end stay aligned. */
int64_t ts_kernel_scratch_bytes(const struct ts_kernel *k) {
    int64_t bytes = 0;
    switch (k->kind) {
    case TS_KERNEL_POINTWISE: return 0;
    case TS_KERNEL_ROWWISE: bytes = mul_sat(4, prod(k->dims, k->nouter, k->rank)) + 64; break;
    case TS_KERNEL_GEMM: {
        const struct ts_sched_gemm *s = &k->sched.gemm;
        int64_t a = mul_sat(round_up(s->mc, s->mr), s->kc), b = mul_sat(s->kc, round_up(s->nc, s->nr));
        bytes = mul_sat(4, a + b) + 128;
        /* A narrow output cannot hold partial sums between K panels without
         * rounding them: an f32 block of them (emit_gemm.c). */
        if (ts_kernel_gemm_needs_partials(k))
            bytes = mul_sat(4, mul_sat(round_up(s->mc, s->mr), round_up(s->nc, s->nr))) + 64 + bytes;
        break;
    }
    case TS_KERNEL_ATTENTION: {
        int64_t bq = k->sched.attention.block_q, bk = k->sched.attention.block_k;
        int64_t d = k->attn.d, dv = k->attn.dv;
        int64_t f = mul_sat(bq, bk) + mul_sat(bq, d + dv + 2) + mul_sat(bk, d + dv);
        bytes = mul_sat(4, f) + 256;
        break;
    }
    default: TS_ASSERT(!"bad kernel kind");
    }
    return bytes > INT64_MAX - 63 ? INT64_MAX : round_up(bytes, 64);
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* GEMM: BLIS-style cache blocks around a register-blocked micro-kernel
 * (codegen/llvm/emit_gemm*.c), sized for Zen 3 (32 KiB L1d, 512 KiB L2 per
 * core) and larger:
 *  - mr × nr = 6 × 2 vectors: 12 accumulators, 2 B vectors and a broadcast
 *    fill 15 of AVX2's 16 registers; fewer rows when M is smaller (M = 1 is a
 *    matrix-vector product: padding rows would only multiply zeros).
 *  - kc ≤ 256 so that a B sliver (kc × nr floats: 16 KiB for AVX2) stays in
 *    L1 while A streams from L2; the K panels are balanced (K = 300 is two
 *    panels of 150, not 256 + 44).
 *  - mc as large as half the L2 allows for the packed A block (mc × kc
 *    floats: 256 KiB with 8 lanes; 512 KiB with 16, as AVX-512 parts — Zen
 *    4/5, Intel — have ≥ 1 MiB L2), at most 512 rows, with kc lowered to 128
 *    when that lets one block hold more rows: every task packs its own B
 *    panel, and on Zen 5 one 512-row block instead of three of 174 measured
 *    2–10% faster at 1 thread and up to 15% at 2 (K = 4096, B from DRAM).
 *  - nc ≤ 1024: the packed B panel (kc × nc floats, 0.5–1 MiB) mostly in L2;
 *    3072 (the panel in L3) measured up to 20% slower for B given as [K, N]
 *    on Zen 5 with N ≥ 2048.
 *  Blocks are balanced (M = 700 is 2 × 354, not 512 + 188), then the larger
 *  of mc and nc is split until there are at least 4 tasks and an even number
 *  of them below 16, so 1, 2 and 4 threads get equal shares. */
static int64_t balanced(int64_t n, int64_t max_block, int64_t unit, int64_t *nblocks) {
    int64_t nb = ceil_div(n, max_block);
    int64_t b = round_up(ceil_div(n, nb), unit);
    *nblocks = ceil_div(n, b);
    return b;
}

static void sched_gemm(struct ts_kernel *k, int vw) {
    struct ts_sched_gemm *s = &k->sched.gemm;
    int64_t batch, m, n;
    gemm_shape(k, &batch, &m, &n);
    m = max64(m, 1);
    n = max64(n, 1);
    batch = max64(batch, 1);
    int64_t mr = min64(6, m), nr = 2 * vw;
    int64_t nkp;
    int64_t a_floats = vw >= 16 ? 131072 : 65536; /* half the L2 */
    int64_t kc = balanced(max64(k->k, 1), 256, 1, &nkp);
    if (kc > 128 && ceil_div(m, min64(512, a_floats / 128)) < ceil_div(m, min64(512, a_floats / kc)))
        kc = balanced(max64(k->k, 1), 128, 1, &nkp);
    int64_t mb, nb;
    int64_t mc = balanced(m, min64(512, round_up(a_floats / kc, mr)), mr, &mb);
    int64_t nc = balanced(n, 1024, nr, &nb);
    for (;;) {
        int64_t tasks = mul_sat(mul_sat(batch, mb), nb);
        if (tasks >= 16 || (tasks >= 4 && tasks % 2 == 0)) break;
        /* Split the larger block: more tasks along N re-pack A (mc × k per
         * task), along M re-pack B (k × nc), so split where that is cheaper. */
        if (nc / nr >= 2 && (nc >= mc || mc / mr < 2)) {
            nc = balanced(n, round_up(ceil_div(nc, 2), nr), nr, &nb);
        } else if (mc / mr >= 2) {
            mc = balanced(m, round_up(ceil_div(mc, 2), mr), mr, &mb);
        } else {
            break; /* a tiny GEMM: one micro-tile per task already */
        }
    }
    s->mr = (int)mr;
    s->nr = (int)nr;
    s->mc = (int)mc;
    s->nc = (int)nc;
    s->kc = (int)kc;
}

void ts_sched_default_cpu(struct ts_kernel *k, int vector_width) {
    int vw = vector_width > 0 ? vector_width : 1;
    switch (k->kind) {
    case TS_KERNEL_POINTWISE: {
        /* About 16K elements per task: big enough to amortize a task, small
         * enough to spread a few-MB tensor over every core. */
        int64_t last = k->rank > 0 ? max64(k->dims[k->rank - 1], 1) : 1;
        k->sched.pointwise.vector_width = vw;
        k->sched.pointwise.rows_per_task = max64(1, ceil_div(16384, last));
        break;
    }
    case TS_KERNEL_ROWWISE: {
        int64_t inner = max64(prod(k->dims, k->nouter, k->rank), 1);
        k->sched.rowwise.vector_width = vw;
        k->sched.rowwise.rows_per_task = max64(1, 8192 / inner);
        break;
    }
    case TS_KERNEL_GEMM: sched_gemm(k, vw); break;
    case TS_KERNEL_ATTENTION:
        k->sched.attention.block_q = (int)min64(32, max64(k->attn.sq, 1));
        k->sched.attention.block_k = (int)min64(64, max64(k->attn.sk, 1));
        break;
    default: TS_ASSERT(!"bad kernel kind");
    }
}

int ts_kernel_cpu_threads(const struct ts_kernel *k) {
    switch (k->kind) {
    case TS_KERNEL_POINTWISE: return k->sched.pointwise.threads;
    case TS_KERNEL_ROWWISE: return k->sched.rowwise.threads;
    case TS_KERNEL_GEMM: return k->sched.gemm.threads;
    case TS_KERNEL_ATTENTION: return k->sched.attention.threads;
    default: return 0;
    }
}
