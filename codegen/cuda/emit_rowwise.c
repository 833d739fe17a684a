/* emit_rowwise.c — the ROWWISE kernel in CUDA C: one block per row (a
 * grid-stride loop over rows). Each thread walks the row's inner elements
 * p = (threadIdx.x + t·threads)·vec + j, evaluating x (x_root) per element.
 * Softmax: max, then the sum of exp(x - max); layernorm: the mean, then the
 * variance around it (two passes, no cancellation); rmsnorm: the mean of
 * squares; sum, mean, max. Partial results meet in ts_block_reduce
 * (prelude/rowwise.cuh), accumulated in f32 (f64 where x is F64). Rows whose
 * x fits in 48 KiB keep it in shared memory between passes, each thread
 * reading back only what it wrote; longer rows evaluate x again. Then ROW and
 * the output expression per element, or once per row by thread 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TSC_ROW_CACHE_BYTES (48 * 1024)

/* What a pass does with each element's x (its value in 'x_'). */
enum pass {
    PASS_SUM,    /* a_ += x */
    PASS_SUMSQ,  /* a_ += x² */
    PASS_SUMDEV, /* a_ += (x - mean_)² */
    PASS_MAX,    /* a_ = max(a_, x) */
    PASS_EXPSUM, /* e = exp(x - max_), a_ += e (cached: e replaces x) */
    PASS_OUT,    /* ROW and the output */
};

struct row_ctx {
    struct tsc_src *s;
    const struct ts_kernel *k;
    struct tsc_env env;
    const char *acc;   /* "float" or "double" */
    const char *fsuf;  /* "f" or "" (math function suffix) */
    int T, vec;
    int64_t cnt;
    bool cache;        /* x kept in shared memory xs_[p] */
    bool cached_now;   /* xs_ holds x (pass 1 done) */
    bool aligned;      /* vec > 1 divides the last inner dim: a thread's lanes share one run of it */
    const struct ts_kernel *kx; /* k, or its copy whose vector operands read lane j of w<i> / wo */
};

/* Declares i<lo> … i<hi-1> from variable r (last dim fastest). */
static void split(struct tsc_src *s, const struct ts_kernel *k, int lo, int hi, const char *r, const char *ind) {
    if (lo >= hi) return;
    tsc_printf(s, "%slong long r_ = %s;\n", ind, r);
    for (int d = hi - 1; d >= lo; d--) {
        if (k->dims[d] == 1) {
            tsc_printf(s, "%sconst long long i%d = 0;\n", ind, d);
        } else if (d == lo) {
            tsc_printf(s, "%sconst long long i%d = r_;\n", ind, d);
        } else {
            tsc_printf(s, "%sconst long long i%d = r_ %% %lldLL;\n", ind, d, (long long)k->dims[d]);
            tsc_printf(s, "%sr_ /= %lldLL;\n", ind, (long long)k->dims[d]);
        }
    }
    tsc_printf(s, "%s(void)r_;\n", ind);
}

/* x at the inner element p_ (already split into indices) into "x_". */
static void emit_x(struct row_ctx *c, bool first_pass) {
    struct tsc_src *s = c->s;
    if (c->cached_now) {
        tsc_printf(s, "            const %s x_ = xs_[p_];\n", c->acc);
        return;
    }
    char name[64];
    c->env.prefix = "v";
    tsc_emit_expr(s, c->kx, &c->env, c->k->x_root, name, sizeof name);
    tsc_printf(s, "            const %s x_ = (%s)%s;\n", c->acc, c->acc, name);
    if (c->cache && first_pass) tsc_puts(s, "            xs_[p_] = x_;\n");
}

/* Aligned lanes: loads each vectorizable input the pass reads as w<i> (at
 * the thread's lane 0, whose inner indices are declared) and points kk's
 * operand at it; with 'out', the output goes through wo. */
static void vec_setup(struct row_ctx *c, bool x, bool out, struct ts_kernel *kk, struct ts_koperand *ins,
                      char (*vin)[24]) {
    struct tsc_src *s = c->s;
    const struct ts_kernel *k = c->k;
    bool plain[64] = {false}, gathered[64] = {false};
    if (x) tsc_expr_loads(k, k->x_root, plain, gathered);
    if (out) tsc_expr_loads(k, k->out_root, plain, gathered);
    *kk = *k;
    kk->inputs = ins;
    for (int i = 0; i < 64; i++) c->env.in[i] = NULL;
    c->env.out = NULL;
    for (int i = 0; i < k->ninputs; i++) {
        ins[i] = k->inputs[i];
        if (!plain[i] || gathered[i] || !tsc_vec_ok(k, &k->inputs[i], c->vec)) continue;
        char off[1024];
        tsc_operand_offset(&k->inputs[i], k->rank, &c->env, off, sizeof off);
        const char *st = tsc_storage_type(k->inputs[i].dtype);
        tsc_printf(s, "            const ts_vec<%s, %d> w%d = *(const ts_vec<%s, %d> *)(in%d + %s);\n", st, c->vec, i, st,
                   c->vec, i, off);
        snprintf(vin[i], 24, "w%d.v", i);
        c->env.in[i] = vin[i];
        memset(ins[i].strides, 0, sizeof ins[i].strides);
    }
    if (out && tsc_vec_ok(k, &k->output, c->vec)) {
        tsc_printf(s, "            ts_vec<%s, %d> wo;\n", tsc_storage_type(k->output.dtype), c->vec);
        memset(kk->output.strides, 0, sizeof kk->output.strides);
        c->env.out = "wo.v";
    }
    c->kx = kk;
}

/* Lane j's operands: element j of each vector. */
static void vec_lane(struct row_ctx *c, struct ts_kernel *kk, struct ts_koperand *ins, int j) {
    for (int i = 0; i < c->k->ninputs; i++)
        if (c->env.in[i]) ins[i].offset = j;
    if (c->env.out) kk->output.offset = j;
}

/* One pass over the row's elements. A reducing pass declares 'result', its
 * value reduced over the block; PASS_OUT runs 'post' (computing "row_" from
 * x_) and the output per element. */
static void emit_pass(struct row_ctx *c, enum pass what, const char *result, const char *post) {
    struct tsc_src *s = c->s;
    const struct ts_kernel *k = c->k;
    bool first = !c->cached_now;
    if (what != PASS_OUT)
        tsc_printf(s, "        %s %s;\n        {\n        %s a_ = %s;\n", c->acc, result, c->acc,
                   what == PASS_MAX ? (c->fsuf[0] ? "-ts_f32_inf()" : "-ts_f64_inf()") : (c->fsuf[0] ? "-0.0f" : "-0.0"));
    tsc_printf(s, "        for (long long q_ = (long long)threadIdx.x * %d; q_ < %lldLL; q_ += %lldLL) {\n", c->vec,
               (long long)c->cnt, (long long)c->T * c->vec);
    struct ts_kernel kk;
    struct ts_koperand ins[64];
    char vin[64][24], lane_idx[64];
    int last = k->rank - 1;
    const char *last_name = last >= 0 ? c->env.index[last] : NULL;
    c->kx = k;
    if (c->aligned) {
        /* the inner indices of lane 0; lane j is j further along the last dim */
        split(s, k, k->nouter, k->rank, "q_", "            ");
        vec_setup(c, !c->cached_now, what == PASS_OUT, &kk, ins, vin);
    }
    for (int j = 0; j < c->vec; j++) {
        tsc_printf(s, "          {\n            const long long p_ = q_ + %d;\n", j);
        if (c->vec > 1 && c->cnt % c->vec != 0) tsc_printf(s, "            if (p_ < %lldLL) {\n", (long long)c->cnt);
        else tsc_puts(s, "            {\n");
        if (c->aligned) {
            snprintf(lane_idx, sizeof lane_idx, "(i%d + %d)", last, j);
            c->env.index[last] = lane_idx;
            vec_lane(c, &kk, ins, j);
        } else {
            split(s, k, k->nouter, k->rank, "p_", "            ");
        }
        emit_x(c, first);
        switch (what) {
        case PASS_SUM: tsc_puts(s, "            a_ += x_;\n"); break;
        case PASS_SUMSQ: tsc_puts(s, "            a_ += x_ * x_;\n"); break;
        case PASS_SUMDEV: tsc_printf(s, "            { const %s d_ = x_ - mean_; a_ += d_ * d_; }\n", c->acc); break;
        case PASS_MAX: tsc_puts(s, "            a_ = ts_max(a_, x_);\n"); break;
        case PASS_EXPSUM:
            tsc_printf(s, "            const %s e_ = exp%s(x_ - max_);\n            a_ += e_;\n", c->acc, c->fsuf);
            if (c->cache) tsc_puts(s, "            xs_[p_] = e_;\n");
            break;
        case PASS_OUT:
            tsc_puts(s, post);
            c->env.prefix = "o"; /* x's entries are "v…" in this scope */
            tsc_emit_output(s, c->kx, &c->env);
            break;
        }
        tsc_puts(s, "            }\n          }\n");
    }
    if (c->aligned) {
        c->env.index[last] = last_name;
        if (c->env.out) {
            char off[1024];
            tsc_operand_offset(&k->output, k->rank, &c->env, off, sizeof off);
            tsc_printf(s, "            *(ts_vec<%s, %d> *)(out + %s) = wo;\n", tsc_storage_type(k->output.dtype), c->vec,
                       off);
        }
        for (int i = 0; i < 64; i++) c->env.in[i] = NULL;
        c->env.out = NULL;
    }
    c->kx = k;
    tsc_puts(s, "        }\n");
    if (what != PASS_OUT)
        tsc_printf(s, "        %s = ts_block_reduce<%s, %s>(a_, red_);\n        }\n", result,
                   what == PASS_MAX ? "TS_RED_MAX" : "TS_RED_SUM", c->acc);
    if (c->cache) c->cached_now = true;
}

enum ts_status tsc_emit_rowwise(struct tsc_emit *em, struct ts_diag *d) {
    const struct ts_kernel *k = em->k;
    struct tsc_src *s = em->src;
    if (k->x_root < 0 || k->x_root >= k->nexpr ||
        (k->expr[k->x_root].type != TS_SCALAR_F32 && k->expr[k->x_root].type != TS_SCALAR_F64))
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "rowwise kernel reduces a value that is not a float");
    if (k->nouter < 0 || k->nouter > k->rank || k->row_op < 0 || k->row_op >= TS_ROW_OP_COUNT)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "rowwise kernel with a bad row op or nouter");
    struct row_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.k = k;
    bool f64 = k->expr[k->x_root].type == TS_SCALAR_F64;
    c.acc = f64 ? "double" : "float";
    c.fsuf = f64 ? "" : "f";
    c.T = k->sched.rowwise.gpu.threads;
    c.vec = k->sched.rowwise.gpu.vec;
    c.kx = k;
    if (k->ninputs > 64) return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "more than 64 inputs");
    int64_t rows = 1;
    c.cnt = 1;
    for (int i = 0; i < k->nouter; i++) rows *= k->dims[i];
    for (int i = k->nouter; i < k->rank; i++) c.cnt *= k->dims[i];
    bool per_elem = ts_row_op_is_elementwise(k->row_op);
    c.aligned = c.vec > 1 && k->nouter < k->rank && k->dims[k->rank - 1] % c.vec == 0;
    int64_t xbytes = c.cnt * (f64 ? 8 : 4);
    c.cache = per_elem && xbytes <= TSC_ROW_CACHE_BYTES;

    char names[TS_MAX_RANK][16];
    for (int i = 0; i < TS_MAX_RANK; i++) snprintf(names[i], sizeof names[i], "i%d", i);
    for (int i = 0; i < k->rank; i++) c.env.index[i] = names[i];
    c.env.row = "row_";

    /* at least 1024 threads' worth of blocks per SM: a 64-register budget,
     * where ptxas would otherwise pick its own (and spill below it) */
    tsc_printf(s, "extern \"C\" __global__ void __launch_bounds__(%d, %d) %s", c.T, 1024 / c.T, em->sym);
    tsc_emit_params(s, k);
    tsc_puts(s, " {\n    (void)workspace;\n    (void)error;\n");
    tsc_printf(s, "    __shared__ %s red_[32];\n", c.acc);
    if (c.cache) tsc_printf(s, "    TS_SMEM_DECLARE(smem_);\n    %s *xs_ = (%s *)smem_;\n", c.acc, c.acc);
    tsc_printf(s, "    for (long long row = blockIdx.x; row < %lldLL; row += gridDim.x) {\n", (long long)rows);
    split(s, k, 0, k->nouter, "row", "        ");

    char lit[64], post[512];
    double n = (double)c.cnt;
    const char *F = c.fsuf;
    switch (k->row_op) {
    case TS_ROW_SOFTMAX:
        emit_pass(&c, PASS_MAX, "max_", NULL);
        emit_pass(&c, PASS_EXPSUM, "sum_", NULL);
        if (c.cache) snprintf(post, sizeof post, "            const %s row_ = x_ / sum_;\n", c.acc);
        else snprintf(post, sizeof post, "            const %s row_ = exp%s(x_ - max_) / sum_;\n", c.acc, F);
        emit_pass(&c, PASS_OUT, NULL, post);
        break;
    case TS_ROW_LAYERNORM:
    case TS_ROW_RMSNORM:
        if (k->row_op == TS_ROW_LAYERNORM) {
            emit_pass(&c, PASS_SUM, "sum_", NULL);
            tsc_printf(s, "        const %s mean_ = sum_ / (%s)%.1f;\n", c.acc, c.acc, n);
            emit_pass(&c, PASS_SUMDEV, "var_", NULL);
        } else {
            tsc_printf(s, "        const %s mean_ = 0;\n", c.acc);
            emit_pass(&c, PASS_SUMSQ, "var_", NULL);
        }
        if (f64) snprintf(lit, sizeof lit, "%.17e", k->eps);
        else snprintf(lit, sizeof lit, "%.9ef", (double)(float)k->eps);
        tsc_printf(s, "        const %s inv_ = (%s)1 / sqrt%s(var_ / (%s)%.1f + %s);\n", c.acc, c.acc, F, c.acc, n, lit);
        snprintf(post, sizeof post, "            const %s row_ = (x_ - mean_) * inv_;\n", c.acc);
        emit_pass(&c, PASS_OUT, NULL, post);
        break;
    case TS_ROW_SUM:
    case TS_ROW_MEAN:
    case TS_ROW_MAX: {
        bool mx = k->row_op == TS_ROW_MAX;
        emit_pass(&c, mx ? PASS_MAX : PASS_SUM, "red_v", NULL);
        if (k->row_op == TS_ROW_SUM)
            tsc_printf(s, "        const %s row_ = %s;\n", c.acc, c.cnt > 0 ? "red_v" : "0"); /* an empty sum is +0 */
        else if (k->row_op == TS_ROW_MEAN)
            tsc_printf(s, "        const %s row_ = red_v / (%s)%.1f;\n", c.acc, c.acc, n);
        else
            tsc_printf(s, "        const %s row_ = red_v;\n", c.acc);
        /* one value per row: the output's inner strides are 0 */
        tsc_puts(s, "        if (threadIdx.x == 0) {\n");
        for (int i = k->nouter; i < k->rank; i++) tsc_printf(s, "            const long long i%d = 0;\n", i);
        c.env.prefix = "o";
        tsc_emit_output(s, k, &c.env);
        tsc_puts(s, "        }\n");
        break;
    }
    default: return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "row op %d is not supported", (int)k->row_op);
    }
    tsc_puts(s, "    }\n}\n");

    int64_t blocks = rows < 1 ? 1 : rows > 0x7fffffff ? 0x7fffffff : rows;
    memset(&em->launch, 0, sizeof em->launch);
    em->launch.grid[0] = (uint32_t)blocks;
    em->launch.grid[1] = em->launch.grid[2] = 1;
    em->launch.block[0] = (uint32_t)c.T;
    em->launch.block[1] = em->launch.block[2] = 1;
    em->launch.shared_bytes = c.cache ? (uint32_t)xbytes : 0;
    return TS_OK;
}
