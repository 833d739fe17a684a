/* expr.c — a kernel's expression (the SSA list of ts_kx entries) as CUDA C
 * statements, one "const T v<i> = …;" per entry the root needs: loads through
 * index maps and gathers, math with the reference's NaN, wrapping and rounding
 * rules (ir/kernel_interp.c; helpers in prelude/math.cuh), casts, the DIV and
 * LOAD_AT checks, and the store converting a value to the output's dtype. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TSC_EXPR_MAX 256 /* characters of one entry's C expression, beyond its operands' names */

static bool is_float(enum ts_scalar s) { return s == TS_SCALAR_F32 || s == TS_SCALAR_F64; }

static const char *pick(const char *given, const char *dflt) { return given ? given : dflt; }

void tsc_operand_offset(const struct ts_koperand *op, int rank, const struct tsc_env *e, char *out, size_t n) {
    size_t len = 0;
    len += (size_t)snprintf(out, n, "(%lldLL", (long long)op->offset);
    for (int d = 0; d < rank && len < n; d++) {
        if (op->strides[d] == 0) continue;
        TS_ASSERT(e->index[d]);
        if (op->strides[d] == 1)
            len += (size_t)snprintf(out + len, n - len, " + (%s)", e->index[d]);
        else
            len += (size_t)snprintf(out + len, n - len, " + %lldLL * (%s)", (long long)op->strides[d], e->index[d]);
    }
    if (len < n) len += (size_t)snprintf(out + len, n - len, ")");
    TS_ASSERT(len < n);
}

/* A float constant as a C literal of type s that reads back exactly. */
static void float_literal(char *out, size_t n, enum ts_scalar s, double v) {
    if (s == TS_SCALAR_F32) {
        float f = (float)v;
        if (isnan(f)) snprintf(out, n, "ts_f32_nan()");
        else if (isinf(f)) snprintf(out, n, "(%sts_f32_inf())", f < 0 ? "-" : "");
        else snprintf(out, n, "(%.9ef)", (double)f);
    } else {
        if (isnan(v)) snprintf(out, n, "ts_f64_nan()");
        else if (isinf(v)) snprintf(out, n, "(%sts_f64_inf())", v < 0 ? "-" : "");
        else snprintf(out, n, "(%.17e)", v);
    }
}

static void int_literal(char *out, size_t n, int64_t v) {
    if (v == INT64_MIN) snprintf(out, n, "(-9223372036854775807LL - 1)");
    else snprintf(out, n, "(%lldLL)", (long long)v);
}

/* A stored element 'raw' of dtype dt as a value of type s (the reference's
 * load_f / load_i). */
static void load_conv(char *out, size_t n, enum ts_dtype dt, enum ts_scalar s, const char *raw) {
    char f[TSC_EXPR_MAX * 8];
    /* the element as an exact float (f32 for float dtypes) or integer */
    switch (dt) {
    case TS_F32: snprintf(f, sizeof f, "%s", raw); break;
    case TS_F16: snprintf(f, sizeof f, "ts_f16_to_f32(%s)", raw); break;
    case TS_BF16: snprintf(f, sizeof f, "ts_bf16_to_f32(%s)", raw); break;
    case TS_I32:
    case TS_I64: snprintf(f, sizeof f, "(long long)(%s)", raw); break;
    case TS_BOOL: snprintf(f, sizeof f, "(long long)(%s != 0)", raw); break;
    default: TS_ASSERT(!"bad dtype");
    }
    bool fdt = ts_dtype_is_float(dt);
    switch (s) {
    case TS_SCALAR_F32: snprintf(out, n, fdt ? "%s" : "(float)(double)%s", f); break;
    case TS_SCALAR_F64: snprintf(out, n, "(double)%s", f); break;
    case TS_SCALAR_I64: snprintf(out, n, fdt ? "ts_f2i64_sat(%s)" : "%s", f); break;
    case TS_SCALAR_BOOL: snprintf(out, n, fdt ? "(ts_f2i64_sat(%s) != 0)" : "(%s != 0)", f); break;
    default: TS_ASSERT(!"bad scalar");
    }
}

/* CAST of x (type from) to e->type under e->dtype's rules (kernel_interp.c's cast). */
static void cast_expr(char *out, size_t n, const struct ts_kx *e, enum ts_scalar from, const char *x) {
    enum ts_scalar to = e->type;
    bool ff = is_float(from);
    switch (to) {
    case TS_SCALAR_BOOL:
        if (from == TS_SCALAR_BOOL) snprintf(out, n, "%s", x);
        else snprintf(out, n, ff ? "(%s != 0)" : "(%s != 0LL)", x); /* NaN is nonzero */
        return;
    case TS_SCALAR_I64:
        if (from == TS_SCALAR_BOOL) snprintf(out, n, "(long long)%s", x);
        else if (from == TS_SCALAR_I64) snprintf(out, n, e->dtype == TS_I32 ? "ts_wrap_i32(%s)" : "%s", x);
        else snprintf(out, n, e->dtype == TS_I32 ? "ts_f2i32_sat((double)%s)" : "ts_f2i64_sat((double)%s)", x);
        return;
    case TS_SCALAR_F64:
        if (from == TS_SCALAR_BOOL) snprintf(out, n, "(%s ? 1.0 : 0.0)", x);
        else snprintf(out, n, "(double)%s", x);
        return;
    case TS_SCALAR_F32:
        if (from == TS_SCALAR_BOOL) {
            snprintf(out, n, "(%s ? 1.0f : 0.0f)", x);
        } else if (e->dtype == TS_F16 || e->dtype == TS_BF16) {
            const char *fn = e->dtype == TS_F16 ? "ts_round_f16" : "ts_round_bf16";
            if (from == TS_SCALAR_I64) snprintf(out, n, "%s(ts_i64_to_f64_odd(%s))", fn, x);
            else snprintf(out, n, "%s(%s)", fn, x);
        } else {
            snprintf(out, n, "(float)%s", x);
        }
        return;
    default: break;
    }
    TS_ASSERT(!"bad cast");
}

/* The needed entries of root (entries refer only to earlier ones). */
static bool *mark_needed(const struct ts_kernel *k, int root) {
    bool *need = calloc((size_t)root + 1, sizeof *need);
    TS_ASSERT(need);
    need[root] = true;
    for (int i = root; i >= 0; i--) {
        if (!need[i]) continue;
        const struct ts_kx *x = &k->expr[i];
        int nargs = ts_kx_op_nargs(x->op);
        if (x->op == TS_KX_LOAD_AT) {
            need[x->b] = true;
            continue;
        }
        if (nargs >= 1) need[x->a] = true;
        if (nargs >= 2) need[x->b] = true;
        if (nargs >= 3) need[x->c] = true;
    }
    return need;
}

void tsc_expr_loads(const struct ts_kernel *k, int root, bool *plain, bool *gathered) {
    if (root < 0) return;
    bool *need = mark_needed(k, root);
    for (int i = 0; i <= root; i++) {
        if (!need[i]) continue;
        if (k->expr[i].op == TS_KX_LOAD) plain[k->expr[i].a] = true;
        if (k->expr[i].op == TS_KX_LOAD_AT) gathered[k->expr[i].a] = true;
    }
    free(need);
}

/* C's name for a float math function of type s: "expf" or "exp". */
static void fname(char *out, size_t n, const char *base, enum ts_scalar s) {
    snprintf(out, n, "%s%s", base, s == TS_SCALAR_F32 ? "f" : "");
}

/* Emits entry i as "const T P<i> = …;" (LOAD_AT: a few statements). */
static void emit_entry(struct tsc_src *s, const struct ts_kernel *k, const struct tsc_env *env, int i) {
    const struct ts_kx *x = &k->expr[i];
    const char *P = pick(env->prefix, "v");
    const char *err = pick(env->error, "error");
    const char *T = tsc_scalar_type(x->type);
    enum ts_scalar st = x->type;
    bool isf = is_float(st);
    char a[64] = "", b[64] = "", c[64] = "", rhs[TSC_EXPR_MAX * 16], fn[16];
    int nargs = ts_kx_op_nargs(x->op);
    if (x->op != TS_KX_LOAD_AT) {
        if (nargs >= 1) snprintf(a, sizeof a, "%s%d", P, x->a);
        if (nargs >= 2) snprintf(b, sizeof b, "%s%d", P, x->b);
        if (nargs >= 3) snprintf(c, sizeof c, "%s%d", P, x->c);
    }
    switch (x->op) {
    case TS_KX_LOAD:
    case TS_KX_LOAD_AT: {
        TS_ASSERT(x->a >= 0 && x->a < k->ninputs && x->a < 64);
        const struct ts_koperand *op = &k->inputs[x->a];
        char base[32], off[TSC_EXPR_MAX * 4], raw[TSC_EXPR_MAX * 5];
        snprintf(base, sizeof base, "in%d", x->a);
        tsc_operand_offset(op, k->rank, env, off, sizeof off);
        const char *ptr = pick(env->in[x->a], base);
        if (x->op == TS_KX_LOAD) {
            snprintf(raw, sizeof raw, "%s[%s]", ptr, off);
            load_conv(rhs, sizeof rhs, op->dtype, st, raw);
            break;
        }
        /* gather: negative counts from the end; out of range raises and
         * reads nothing (the value is 0) */
        long long size = (long long)op->gather_size;
        tsc_printf(s, "    const long long %s%d_j = %s%d < 0 ? %s%d + %lldLL : %s%d;\n", P, i, P, x->b, P, x->b,
                   size, P, x->b);
        tsc_printf(s, "    const bool %s%d_ok = (unsigned long long)%s%d_j < %lluULL;\n", P, i, P, i,
                   (unsigned long long)size);
        tsc_printf(s, "    if (!%s%d_ok) ts_raise(%s, %lld);\n", P, i, err, (long long)x->i);
        snprintf(raw, sizeof raw, "%s[%s + %lldLL * %s%d_j]", ptr, off, (long long)op->gather_stride, P, i);
        char val[TSC_EXPR_MAX * 8];
        load_conv(val, sizeof val, op->dtype, st, raw);
        snprintf(rhs, sizeof rhs, "%s%d_ok ? (%s)%s : (%s)0", P, i, T, val, T);
        break;
    }
    case TS_KX_CONST:
        if (isf) float_literal(rhs, sizeof rhs, st, x->f);
        else if (st == TS_SCALAR_BOOL) snprintf(rhs, sizeof rhs, "%s", x->i ? "true" : "false");
        else int_literal(rhs, sizeof rhs, x->i);
        break;
    case TS_KX_INDEX:
        TS_ASSERT(x->a >= 0 && x->a < k->rank && env->index[x->a]);
        snprintf(rhs, sizeof rhs, "(long long)(%s)", env->index[x->a]);
        break;
    case TS_KX_ACC:
        TS_ASSERT(env->acc);
        snprintf(rhs, sizeof rhs, "(%s)(%s)", T, env->acc);
        break;
    case TS_KX_ROW:
        TS_ASSERT(env->row);
        snprintf(rhs, sizeof rhs, "(%s)(%s)", T, env->row);
        break;
    case TS_KX_NEG: snprintf(rhs, sizeof rhs, isf ? "-%s" : "ts_neg_i64(%s)", a); break;
    case TS_KX_EXP:
    case TS_KX_LOG:
    case TS_KX_SQRT:
    case TS_KX_TANH:
    case TS_KX_COS:
    case TS_KX_SIN: {
        if (st == TS_SCALAR_F64 && (x->op == TS_KX_COS || x->op == TS_KX_SIN)) {
            /* math.cuh's: no local memory (the library's large-argument path has) */
            snprintf(rhs, sizeof rhs, "ts_%s(%s)", x->op == TS_KX_COS ? "cos" : "sin", a);
            break;
        }
        const char *base = x->op == TS_KX_EXP    ? "exp"
                           : x->op == TS_KX_LOG  ? "log"
                           : x->op == TS_KX_SQRT ? "sqrt"
                           : x->op == TS_KX_TANH ? "tanh"
                           : x->op == TS_KX_COS  ? "cos"
                                                 : "sin";
        fname(fn, sizeof fn, base, st);
        snprintf(rhs, sizeof rhs, "%s(%s)", fn, a);
        break;
    }
    case TS_KX_RSQRT:
        /* 1 / sqrt: both correctly rounded (rsqrtf is not) */
        fname(fn, sizeof fn, "sqrt", st);
        snprintf(rhs, sizeof rhs, "%s / %s(%s)", st == TS_SCALAR_F32 ? "1.0f" : "1.0", fn, a);
        break;
    case TS_KX_ERF: fname(fn, sizeof fn, "erf", st); snprintf(rhs, sizeof rhs, "%s(%s)", fn, a); break;
    case TS_KX_SIGMOID: snprintf(rhs, sizeof rhs, "ts_sigmoid(%s)", a); break;
    case TS_KX_SILU: snprintf(rhs, sizeof rhs, "ts_silu(%s)", a); break;
    case TS_KX_GELU: snprintf(rhs, sizeof rhs, "ts_gelu(%s)", a); break;
    case TS_KX_GELU_TANH: snprintf(rhs, sizeof rhs, "ts_gelu_tanh(%s)", a); break;
    case TS_KX_RELU:
        if (isf) snprintf(rhs, sizeof rhs, "ts_relu(%s)", a);
        else snprintf(rhs, sizeof rhs, "(%s > 0 ? %s : (%s)0)", a, a, T);
        break;
    case TS_KX_ABS:
        if (isf) {
            fname(fn, sizeof fn, "fabs", st);
            snprintf(rhs, sizeof rhs, "%s(%s)", fn, a);
        } else {
            snprintf(rhs, sizeof rhs, "ts_abs_i64(%s)", a);
        }
        break;
    case TS_KX_ADD:
    case TS_KX_SUB:
    case TS_KX_MUL: {
        char opc = x->op == TS_KX_ADD ? '+' : x->op == TS_KX_SUB ? '-' : '*';
        const char *iname = x->op == TS_KX_ADD ? "add" : x->op == TS_KX_SUB ? "sub" : "mul";
        if (isf) snprintf(rhs, sizeof rhs, "%s %c %s", a, opc, b);
        else snprintf(rhs, sizeof rhs, "ts_%s_i64(%s, %s)", iname, a, b);
        break;
    }
    case TS_KX_DIV:
        if (isf) snprintf(rhs, sizeof rhs, "%s / %s", a, b);
        else snprintf(rhs, sizeof rhs, "ts_div_i64(%s, %s, %s, %lld)", a, b, err, (long long)x->i);
        break;
    case TS_KX_POW: fname(fn, sizeof fn, "pow", st); snprintf(rhs, sizeof rhs, "%s(%s, %s)", fn, a, b); break;
    case TS_KX_MAX:
    case TS_KX_MIN: {
        const char *m = x->op == TS_KX_MAX ? "max" : "min";
        if (isf) snprintf(rhs, sizeof rhs, "ts_%s(%s, %s)", m, a, b);
        else snprintf(rhs, sizeof rhs, "ts_%s_i64(%s, %s)", m, a, b);
        break;
    }
    case TS_KX_SELECT: snprintf(rhs, sizeof rhs, "%s ? %s : %s", a, b, c); break;
    case TS_KX_CAST: cast_expr(rhs, sizeof rhs, x, k->expr[x->a].type, a); break;
    default: TS_ASSERT(!"bad expression op");
    }
    /* integer ops on BOOL values (never made by fusion) go through long long */
    if (st == TS_SCALAR_BOOL && x->op != TS_KX_CONST && x->op != TS_KX_LOAD && x->op != TS_KX_LOAD_AT &&
        x->op != TS_KX_CAST && x->op != TS_KX_SELECT)
        tsc_printf(s, "    const bool %s%d = (%s) != 0;\n", P, i, rhs);
    else
        tsc_printf(s, "    const %s %s%d = %s;\n", T, P, i, rhs);
}

void tsc_emit_expr(struct tsc_src *s, const struct ts_kernel *k, const struct tsc_env *e, int root, char *name,
                   size_t n) {
    TS_ASSERT(root >= 0 && root < k->nexpr);
    bool *need = mark_needed(k, root);
    for (int i = 0; i <= root; i++)
        if (need[i]) emit_entry(s, k, e, i);
    free(need);
    snprintf(name, n, "%s%d", pick(e->prefix, "v"), root);
}

/* 'value' of type t as the stored element of dtype dt (the reference's store). */
static void store_conv(char *out, size_t n, enum ts_dtype dt, enum ts_scalar t, const char *v) {
    bool f = is_float(t);
    switch (dt) {
    case TS_F32:
        if (t == TS_SCALAR_BOOL) snprintf(out, n, "(%s ? 1.0f : 0.0f)", v);
        else snprintf(out, n, "(float)%s", v);
        return;
    case TS_F16:
    case TS_BF16: {
        const char *nm = dt == TS_F16 ? "f16" : "bf16";
        if (t == TS_SCALAR_F32) snprintf(out, n, "ts_f32_to_%s(%s)", nm, v);
        else if (t == TS_SCALAR_F64) snprintf(out, n, "ts_f64_to_%s(%s)", nm, v);
        else if (t == TS_SCALAR_I64) snprintf(out, n, "ts_f64_to_%s(ts_i64_to_f64_odd(%s))", nm, v);
        else snprintf(out, n, "(unsigned short)(%s ? %s : 0)", v, dt == TS_F16 ? "0x3c00" : "0x3f80");
        return;
    }
    case TS_I32:
        if (f) snprintf(out, n, "(int)ts_f2i32_sat((double)%s)", v);
        else snprintf(out, n, "(int)ts_wrap_i32((long long)%s)", v);
        return;
    case TS_I64:
        if (f) snprintf(out, n, "ts_f2i64_sat((double)%s)", v);
        else snprintf(out, n, "(long long)%s", v);
        return;
    case TS_BOOL: snprintf(out, n, "(unsigned char)(%s != 0)", v); return;
    default: break;
    }
    TS_ASSERT(!"bad dtype");
}

void tsc_emit_store(struct tsc_src *s, const struct ts_kernel *k, const struct tsc_env *e, const char *value,
                    enum ts_scalar type) {
    char off[TSC_EXPR_MAX * 4], conv[TSC_EXPR_MAX * 2];
    tsc_operand_offset(&k->output, k->rank, e, off, sizeof off);
    store_conv(conv, sizeof conv, k->output.dtype, type, value);
    tsc_printf(s, "    %s[%s] = %s;\n", pick(e->out, "out"), off, conv);
}

void tsc_emit_output(struct tsc_src *s, const struct ts_kernel *k, const struct tsc_env *e) {
    if (k->out_root >= 0) {
        char name[64];
        tsc_emit_expr(s, k, e, k->out_root, name, sizeof name);
        tsc_emit_store(s, k, e, name, k->expr[k->out_root].type);
        return;
    }
    /* a plain copy of ACC (GEMM, ATTENTION) or ROW (ROWWISE) */
    if (k->kind == TS_KERNEL_ROWWISE) {
        TS_ASSERT(e->row && k->x_root >= 0);
        tsc_emit_store(s, k, e, e->row, k->expr[k->x_root].type);
        return;
    }
    TS_ASSERT(e->acc);
    tsc_emit_store(s, k, e, e->acc, k->kind == TS_KERNEL_GEMM ? k->acc_type : TS_SCALAR_F32);
}
