/* kernel_interp.c — ts_program_run_ref: runs a program's kernels one by one in
 * plain C, evaluating each expression per element with the kernel IR's scalar
 * types emulated (F32 rounded after every op, I64 wrapping, casts with the
 * reference's rules) and reductions in double, so fusion and memory planning
 * are checked independently of any code generator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#define TS_PI 3.14159265358979323846

/* One expression value: f for F32/F64, i for I64 and BOOL (0 or 1). */
union kval {
    double f;
    int64_t i;
};

struct run {
    const struct ts_program *p;
    unsigned char **base;  /* per buffer */
    int64_t *nelems;       /* per buffer: elements of its dtype */
    struct ts_diag *d;
};

/* The state of one kernel's evaluation at one point of its iteration space. */
struct eval {
    const struct run *r;
    const struct ts_kernel *k;
    union kval *v;               /* one per expression entry */
    int64_t idx[TS_MAX_RANK];    /* the iteration index */
    double acc;                  /* ACC (float kernels) */
    int64_t acc_i;               /* ACC (I64 GEMM) */
    double row;                  /* ROW */
    bool *need;                  /* the entries root 'need_root' reads */
    int need_root;               /* -1 until computed; recomputed only when the root changes */
};

/* ---- scalar rules (as ir/tensor.c and ir/ops_elementwise.c) ------------- */

static double round_to(enum ts_scalar t, double x) { return t == TS_SCALAR_F32 ? (double)(float)x : x; }

/* Float to integer: truncate toward zero, saturate, NaN gives 0. */
static int64_t f64_to_int(double v, int64_t lo, int64_t hi) {
    if (isnan(v)) return 0;
    v = trunc(v);
    if (v <= (double)lo) return lo;
    if (v >= (double)hi) return hi;
    return (int64_t)v;
}

/* An integer as a double rounded to odd, so that one more rounding to a
 * narrower float is correct (see ts_ref_cast). */
static double i64_to_f64_odd(int64_t v) {
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int shift = 0;
    while ((m >> shift) >= ((uint64_t)1 << 53)) shift++;
    uint64_t kept = m >> shift;
    if (shift > 0 && (m & (((uint64_t)1 << shift) - 1)) != 0) kept |= 1;
    double r = ldexp((double)kept, shift);
    return v < 0 ? -r : r;
}

/* A double rounded to a float dtype's precision. */
static double round_dtype(enum ts_dtype dt, double x) {
    switch (dt) {
    case TS_F16: return ts_f16_to_f64(ts_f16_from_f64(x));
    case TS_BF16: return ts_bf16_to_f64(ts_bf16_from_f64(x));
    default: return (double)(float)x;
    }
}

static bool is_float(enum ts_scalar t) { return t == TS_SCALAR_F32 || t == TS_SCALAR_F64; }

/* CAST: x of type 'from' to type 'to' under dtype dt's rules. A cast to F64
 * is exact (rope's angles); a cast to F32 rounds to dt (f32, f16 or bf16). */
static union kval cast(union kval x, enum ts_scalar from, enum ts_scalar to, enum ts_dtype dt) {
    union kval r;
    if (to == TS_SCALAR_BOOL) {
        r.i = is_float(from) ? x.f != 0 : x.i != 0; /* NaN is nonzero */
    } else if (is_float(to)) {
        double v = is_float(from) ? x.f : from == TS_SCALAR_I64 ? i64_to_f64_odd(x.i) : (double)x.i;
        if (to == TS_SCALAR_F64) r.f = from == TS_SCALAR_I64 ? (double)x.i : v;
        else r.f = round_dtype(dt, v);
    } else if (dt == TS_I32) {
        int64_t v = is_float(from) ? f64_to_int(x.f, INT32_MIN, INT32_MAX) : x.i;
        r.i = (int32_t)(uint32_t)(uint64_t)v; /* wraps */
    } else {
        r.i = is_float(from) ? f64_to_int(x.f, INT64_MIN, INT64_MAX) : x.i;
    }
    return r;
}

/* ---- raw buffer access -------------------------------------------------- */

static unsigned char *elem(const struct run *r, int buffer, int64_t e) {
    /* ts_program_check bounded every index map; a miss here is our bug */
    TS_ASSERT(e >= 0 && e < r->nelems[buffer]);
    return r->base[buffer] + (size_t)e * ts_dtype_size(r->p->buffers[buffer].dtype);
}

static double load_f(const struct run *r, int buffer, int64_t e) {
    const unsigned char *q = elem(r, buffer, e);
    switch (r->p->buffers[buffer].dtype) {
    case TS_F32: { float v; memcpy(&v, q, 4); return v; }
    case TS_F16: { uint16_t v; memcpy(&v, q, 2); return ts_f16_to_f64(v); }
    case TS_BF16: { uint16_t v; memcpy(&v, q, 2); return ts_bf16_to_f64(v); }
    case TS_I32: { int32_t v; memcpy(&v, q, 4); return v; }
    case TS_I64: { int64_t v; memcpy(&v, q, 8); return (double)v; }
    case TS_BOOL: return *q ? 1.0 : 0.0;
    default: TS_ASSERT(!"bad dtype");
    }
}

static int64_t load_i(const struct run *r, int buffer, int64_t e) {
    const unsigned char *q = elem(r, buffer, e);
    switch (r->p->buffers[buffer].dtype) {
    case TS_I32: { int32_t v; memcpy(&v, q, 4); return v; }
    case TS_I64: { int64_t v; memcpy(&v, q, 8); return v; }
    case TS_BOOL: return *q ? 1 : 0;
    default: return f64_to_int(load_f(r, buffer, e), INT64_MIN, INT64_MAX);
    }
}

/* Stores a value of scalar type t with ts_tensor_set_f64's rules (floats
 * round to nearest even, integers truncate and saturate, bool is x != 0);
 * integer values wrap to i32 and round once (to odd, then to the dtype) to floats. */
static void store(const struct run *r, int buffer, int64_t e, enum ts_scalar t, union kval v) {
    unsigned char *q = elem(r, buffer, e);
    enum ts_dtype dt = r->p->buffers[buffer].dtype;
    double f = is_float(t) ? v.f : t == TS_SCALAR_I64 ? i64_to_f64_odd(v.i) : (double)v.i;
    switch (dt) {
    case TS_F32: { float x = (float)f; memcpy(q, &x, 4); break; }
    case TS_F16: { uint16_t x = ts_f16_from_f64(f); memcpy(q, &x, 2); break; }
    case TS_BF16: { uint16_t x = ts_bf16_from_f64(f); memcpy(q, &x, 2); break; }
    case TS_I32: {
        int32_t x = is_float(t) ? (int32_t)f64_to_int(f, INT32_MIN, INT32_MAX) : (int32_t)(uint32_t)(uint64_t)v.i;
        memcpy(q, &x, 4);
        break;
    }
    case TS_I64: {
        int64_t x = is_float(t) ? f64_to_int(f, INT64_MIN, INT64_MAX) : v.i;
        memcpy(q, &x, 8);
        break;
    }
    case TS_BOOL: *q = is_float(t) ? f != 0 : v.i != 0; break;
    default: TS_ASSERT(!"bad dtype");
    }
}

/* Element of operand o at the first n entries of idx (offset + Σ strides·idx). */
static int64_t at(const struct ts_koperand *o, int n, const int64_t *idx) {
    int64_t e = o->offset;
    for (int d = 0; d < n; d++) e += o->strides[d] * idx[d];
    return e;
}

static enum ts_status run_error(const struct run *r, const struct ts_kernel *k, int64_t num) {
    char where[300];
    snprintf(where, sizeof where, "kernel '%s'", k->name);
    TS_ASSERT(num >= 1 && num <= k->nerrors);
    const char *file = r->p->graph->path ? r->p->graph->path : "";
    return ts_diag_set(r->d, TS_ERR_RUNTIME, file, where, "%s", k->errors[num - 1]);
}

/* ---- expressions -------------------------------------------------------- */

static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static double unary_f(enum ts_kx_op op, double x) {
    switch (op) {
    case TS_KX_NEG: return -x;
    case TS_KX_EXP: return exp(x);
    case TS_KX_LOG: return log(x);
    case TS_KX_SQRT: return sqrt(x);
    case TS_KX_RSQRT: return 1.0 / sqrt(x);
    case TS_KX_TANH: return tanh(x);
    case TS_KX_ERF: return erf(x);
    case TS_KX_SIGMOID: return sigmoid(x);
    case TS_KX_RELU: return x > 0 ? x : (isnan(x) ? x : 0.0);
    case TS_KX_SILU: return x * sigmoid(x);
    case TS_KX_ABS: return fabs(x);
    case TS_KX_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case TS_KX_GELU_TANH: return 0.5 * x * (1.0 + tanh(sqrt(2.0 / TS_PI) * (x + 0.044715 * x * x * x)));
    case TS_KX_COS: return cos(x);
    case TS_KX_SIN: return sin(x);
    default: break;
    }
    TS_ASSERT(!"not a float unary op");
    return 0;
}

static double binary_f(enum ts_kx_op op, double x, double y) {
    switch (op) {
    case TS_KX_ADD: return x + y;
    case TS_KX_SUB: return x - y;
    case TS_KX_MUL: return x * y;
    case TS_KX_DIV: return x / y;
    case TS_KX_POW: return pow(x, y);
    case TS_KX_MAX: return isnan(x) || isnan(y) ? NAN : (x > y ? x : y);
    case TS_KX_MIN: return isnan(x) || isnan(y) ? NAN : (x < y ? x : y);
    default: break;
    }
    TS_ASSERT(!"not a float binary op");
    return 0;
}

/* Marks the entries root depends on. Only those are evaluated: a ROWWISE
 * per-row result must not evaluate x's loads, which an empty row would have
 * nowhere to read. */
static void mark_needed(const struct ts_kernel *k, int root, bool *need) {
    memset(need, 0, (size_t)(root + 1) * sizeof *need);
    need[root] = true;
    for (int i = root; i >= 0; i--) {
        if (!need[i]) continue;
        const struct ts_kx *e = &k->expr[i];
        int nargs = ts_kx_op_nargs(e->op);
        if (e->op == TS_KX_LOAD_AT) need[e->b] = true;
        else if (nargs > 0) need[e->a] = true;
        if (nargs > 1 && e->op != TS_KX_LOAD_AT) need[e->b] = true;
        if (nargs > 2) need[e->c] = true;
    }
}

/* Evaluates the entries root reads, and root, at s->idx into s->v. */
static enum ts_status eval(struct eval *s, int upto) {
    const struct ts_kernel *k = s->k;
    const struct run *r = s->r;
    if (s->need_root != upto) {
        mark_needed(k, upto, s->need);
        s->need_root = upto;
    }
    for (int i = 0; i <= upto; i++) {
        if (!s->need[i]) continue;
        const struct ts_kx *e = &k->expr[i];
        union kval *out = &s->v[i], a = {0}, b = {0};
        int nargs = ts_kx_op_nargs(e->op);
        if (nargs > 0 && e->op != TS_KX_LOAD_AT) a = s->v[e->a];
        if (nargs > 1) b = s->v[e->b];
        switch (e->op) {
        case TS_KX_LOAD:
        case TS_KX_LOAD_AT: {
            const struct ts_koperand *o = &k->inputs[e->a];
            int64_t at_e = at(o, k->rank, s->idx);
            if (e->op == TS_KX_LOAD_AT) {
                int64_t j = s->v[e->b].i, size = o->gather_size;
                if (j < -size || j >= size) return run_error(r, k, e->i);
                at_e += o->gather_stride * (j < 0 ? j + size : j);
            }
            if (is_float(e->type)) out->f = load_f(r, o->buffer, at_e);
            else out->i = load_i(r, o->buffer, at_e);
            break;
        }
        case TS_KX_CONST:
            if (is_float(e->type)) out->f = round_to(e->type, e->f);
            else out->i = e->type == TS_SCALAR_BOOL ? e->i != 0 : e->i;
            break;
        case TS_KX_INDEX: out->i = s->idx[e->a]; break;
        case TS_KX_ACC:
            if (is_float(e->type)) out->f = round_to(e->type, s->acc);
            else out->i = s->acc_i;
            break;
        case TS_KX_ROW: out->f = round_to(e->type, s->row); break;
        case TS_KX_SELECT: *out = a.i ? b : s->v[e->c]; break;
        case TS_KX_CAST: *out = cast(a, k->expr[e->a].type, e->type, e->dtype); break;
        default:
            if (is_float(e->type)) {
                double x = nargs == 1 ? unary_f(e->op, a.f) : binary_f(e->op, a.f, b.f);
                out->f = round_to(e->type, x);
                break;
            }
            /* I64: wrapping two's complement, done in uint64_t */
            uint64_t ux = (uint64_t)a.i, uy = (uint64_t)b.i;
            switch (e->op) {
            case TS_KX_NEG: out->i = (int64_t)(0 - ux); break;
            case TS_KX_ABS: out->i = a.i < 0 ? (int64_t)(0 - ux) : a.i; break;
            case TS_KX_RELU: out->i = a.i > 0 ? a.i : 0; break;
            case TS_KX_ADD: out->i = (int64_t)(ux + uy); break;
            case TS_KX_SUB: out->i = (int64_t)(ux - uy); break;
            case TS_KX_MUL: out->i = (int64_t)(ux * uy); break;
            case TS_KX_DIV:
                if (b.i == 0) return run_error(r, k, e->i);
                out->i = a.i == INT64_MIN && b.i == -1 ? INT64_MIN : a.i / b.i;
                break;
            case TS_KX_MAX: out->i = a.i > b.i ? a.i : b.i; break;
            case TS_KX_MIN: out->i = a.i < b.i ? a.i : b.i; break;
            default: TS_ASSERT(!"not an integer op");
            }
        }
    }
    return TS_OK;
}

/* Stores the kernel's result at s->idx: entry out_root, or (out_root -1) the
 * plain value given (ACC or ROW) of type t. */
static enum ts_status finish(struct eval *s, enum ts_scalar t, union kval plain) {
    const struct ts_kernel *k = s->k;
    if (k->out_root >= 0) {
        TS_TRY(eval(s, k->out_root));
        t = k->expr[k->out_root].type;
        plain = s->v[k->out_root];
    }
    store(s->r, k->output.buffer, at(&k->output, k->rank, s->idx), t, plain);
    return TS_OK;
}

static int64_t numel(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return n;
}

/* ---- the four kinds ----------------------------------------------------- */

static enum ts_status run_pointwise(struct eval *s) {
    const struct ts_kernel *k = s->k;
    int64_t n = numel(k->rank, k->dims);
    for (int64_t t = 0; t < n; t++) {
        TS_TRY(finish(s, TS_SCALAR_F32, (union kval){0}));
        ts_index_next(k->rank, k->dims, s->idx);
    }
    return TS_OK;
}

/* Softmax, norms and reductions over one row of x, as ops_reduce.c computes them. */
struct row_stats {
    double max, sum, mean, inv;
};

static struct row_stats row_stats(enum ts_row_op op, const double *x, int64_t n, double eps) {
    struct row_stats st = {-INFINITY, -0.0, 0, 0};
    switch (op) {
    case TS_ROW_SOFTMAX:
        for (int64_t j = 0; j < n; j++) st.max = fmax(st.max, x[j]);
        st.sum = 0;
        for (int64_t j = 0; j < n; j++) st.sum += exp(x[j] - st.max);
        break;
    case TS_ROW_LAYERNORM:
    case TS_ROW_RMSNORM: {
        double var = 0;
        if (op == TS_ROW_LAYERNORM) {
            for (int64_t j = 0; j < n; j++) st.mean += x[j];
            st.mean /= (double)n;
        }
        for (int64_t j = 0; j < n; j++) var += (x[j] - st.mean) * (x[j] - st.mean);
        var /= (double)n;
        st.inv = 1.0 / sqrt(var + eps);
        break;
    }
    case TS_ROW_SUM:
    case TS_ROW_MEAN:
        for (int64_t j = 0; j < n; j++) st.sum += x[j];
        if (n == 0) st.sum = 0;
        st.mean = st.sum / (double)n;
        break;
    case TS_ROW_MAX:
        for (int64_t j = 0; j < n; j++)
            if (x[j] > st.max || isnan(x[j])) st.max = x[j];
        break;
    default: TS_ASSERT(!"bad row op");
    }
    return st;
}

static double row_value(enum ts_row_op op, const struct row_stats *st, double x) {
    switch (op) {
    case TS_ROW_SOFTMAX: return exp(x - st->max) / st->sum;
    case TS_ROW_LAYERNORM:
    case TS_ROW_RMSNORM: return (x - st->mean) * st->inv;
    case TS_ROW_SUM: return st->sum;
    case TS_ROW_MEAN: return st->mean;
    case TS_ROW_MAX: return st->max;
    default: break;
    }
    TS_ASSERT(!"bad row op");
    return 0;
}

static enum ts_status run_rowwise(struct eval *s) {
    const struct ts_kernel *k = s->k;
    int no = k->nouter, ni = k->rank - k->nouter;
    int64_t rows = numel(no, k->dims), inner = numel(ni, k->dims + no);
    bool per_element = ts_row_op_is_elementwise(k->row_op);
    enum ts_scalar row_type = k->out_root < 0 ? k->expr[k->x_root].type : TS_SCALAR_F32;
    double *x = malloc((size_t)(inner > 0 ? inner : 1) * sizeof *x);
    if (!x) return ts_diag_set(s->r->d, TS_ERR_NOMEM, "", k->name, "out of memory for a row of %lld", (long long)inner);
    enum ts_status st = TS_OK;
    for (int64_t r = 0; r < rows && st == TS_OK; r++) {
        int64_t *in = s->idx + no;
        for (int j = 0; j < ni; j++) in[j] = 0;
        for (int64_t j = 0; j < inner && st == TS_OK; j++) {
            st = eval(s, k->x_root);
            x[j] = s->v[k->x_root].f;
            ts_index_next(ni, k->dims + no, in);
        }
        if (st != TS_OK) break;
        struct row_stats rs = row_stats(k->row_op, x, inner, k->eps);
        if (per_element) {
            for (int64_t j = 0; j < inner && st == TS_OK; j++) {
                s->row = row_value(k->row_op, &rs, x[j]);
                st = finish(s, row_type, (union kval){.f = round_to(row_type, s->row)});
                ts_index_next(ni, k->dims + no, in);
            }
        } else {
            s->row = row_value(k->row_op, &rs, 0);
            st = finish(s, row_type, (union kval){.f = round_to(row_type, s->row)});
        }
        ts_index_next(no, k->dims, s->idx);
    }
    free(x);
    return st;
}

static enum ts_status run_gemm(struct eval *s) {
    const struct ts_kernel *k = s->k;
    const struct ts_koperand *A = &k->inputs[0], *B = &k->inputs[1];
    int64_t n = numel(k->rank, k->dims);
    bool ints = k->acc_type == TS_SCALAR_I64;
    for (int64_t t = 0; t < n; t++) {
        int64_t ea = at(A, k->rank, s->idx), eb = at(B, k->rank, s->idx);
        double acc = 0;
        uint64_t acc_i = 0;
        for (int64_t p = 0; p < k->k; p++) {
            if (ints)
                acc_i += (uint64_t)load_i(s->r, A->buffer, ea + p * A->kstride) *
                         (uint64_t)load_i(s->r, B->buffer, eb + p * B->kstride);
            else
                acc += load_f(s->r, A->buffer, ea + p * A->kstride) * load_f(s->r, B->buffer, eb + p * B->kstride);
        }
        s->acc = acc;
        s->acc_i = (int64_t)acc_i;
        TS_TRY(finish(s, k->acc_type, ints ? (union kval){.i = s->acc_i} : (union kval){.f = acc}));
        ts_index_next(k->rank, k->dims, s->idx);
    }
    return TS_OK;
}

/* As ops_attention.c: scores in double, causal aligned bottom-right, an
 * additive mask, softmax with the max subtracted, zeros for a row with no
 * visible key; query head h reads kv head h / (hq / hkv). */
static enum ts_status run_attention(struct eval *s) {
    const struct ts_kernel *k = s->k;
    const struct run *r = s->r;
    int64_t B = k->attn.batch, hq = k->attn.hq, hkv = k->attn.hkv, sq = k->attn.sq, sk = k->attn.sk;
    int64_t hd = k->attn.d, dv = k->attn.dv;
    if (numel(4, k->dims) == 0) return TS_OK;
    const struct ts_koperand *Q = &k->inputs[0], *K = &k->inputs[1], *V = &k->inputs[2];
    const struct ts_koperand *M = k->attn.has_mask ? &k->inputs[3] : NULL;
    int64_t group = hq / hkv;
    double *score = malloc((size_t)(sk > 0 ? sk : 1) * sizeof *score);
    double *acc = malloc((size_t)dv * sizeof *acc);
    if (!score || !acc) {
        free(score);
        free(acc);
        return ts_diag_set(r->d, TS_ERR_NOMEM, "", k->name, "out of memory for %lld scores", (long long)sk);
    }
    enum ts_status st = TS_OK;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t h = 0; h < hq; h++) {
            int64_t kh = h / group;
            for (int64_t i = 0; i < sq; i++) {
                int64_t last = k->attn.causal ? i + (sk - sq) : sk - 1;
                double max = -INFINITY;
                for (int64_t j = 0; j < sk; j++) {
                    score[j] = -INFINITY;
                    if (j > last) continue;
                    int64_t qi[4] = {b, h, i, 0}, ki[4] = {b, kh, j, 0};
                    int64_t eq = at(Q, 4, qi), ek = at(K, 4, ki);
                    double dot = 0;
                    for (int64_t t = 0; t < hd; t++)
                        dot += load_f(r, Q->buffer, eq + t * Q->strides[3]) *
                               load_f(r, K->buffer, ek + t * K->strides[3]);
                    double sc = dot * k->attn.scale;
                    if (M) {
                        int64_t mi[4] = {b, h, i, j};
                        sc += load_f(r, M->buffer, at(M, 4, mi));
                    }
                    score[j] = sc;
                    if (isnan(sc) || sc > max) max = sc;
                }
                for (int64_t e = 0; e < dv; e++) acc[e] = 0;
                if (max != -INFINITY) {
                    double sum = 0;
                    for (int64_t j = 0; j < sk; j++) {
                        if (score[j] == -INFINITY) continue;
                        double w = exp(score[j] - max);
                        sum += w;
                        int64_t vi[4] = {b, kh, j, 0};
                        int64_t ev = at(V, 4, vi);
                        for (int64_t e = 0; e < dv; e++) acc[e] += w * load_f(r, V->buffer, ev + e * V->strides[3]);
                    }
                    for (int64_t e = 0; e < dv; e++) acc[e] /= sum;
                }
                for (int64_t e = 0; e < dv && st == TS_OK; e++) {
                    s->idx[0] = b, s->idx[1] = h, s->idx[2] = i, s->idx[3] = e;
                    s->acc = acc[e];
                    st = finish(s, TS_SCALAR_F32, (union kval){.f = acc[e]});
                }
                if (st != TS_OK) goto done;
            }
        }
    }
done:
    free(score);
    free(acc);
    return st;
}

static enum ts_status run_kernel(const struct run *r, const struct ts_kernel *k) {
    struct eval s = {.r = r, .k = k, .need_root = -1};
    s.v = calloc((size_t)k->nexpr + 1, sizeof *s.v);
    s.need = calloc((size_t)k->nexpr + 1, sizeof *s.need);
    if (!s.v || !s.need) {
        free(s.v);
        free(s.need);
        return ts_diag_set(r->d, TS_ERR_NOMEM, "", k->name, "out of memory");
    }
    enum ts_status st = TS_OK;
    switch (k->kind) {
    case TS_KERNEL_POINTWISE: st = run_pointwise(&s); break;
    case TS_KERNEL_ROWWISE: st = run_rowwise(&s); break;
    case TS_KERNEL_GEMM: st = run_gemm(&s); break;
    case TS_KERNEL_ATTENTION: st = run_attention(&s); break;
    default: TS_ASSERT(!"bad kernel kind");
    }
    free(s.v);
    free(s.need);
    return st;
}

/* ---- the program -------------------------------------------------------- */

enum ts_status ts_program_run_ref(const struct ts_program *p, const struct ts_tensor *inputs,
                                  struct ts_tensor *outputs, struct ts_diag *d) {
    const struct ts_graph *g = p->graph;
    TS_TRY(ts_program_check(p, d));
    for (int i = 0; i < g->ninputs; i++) TS_TRY(ts_graph_check_input(g, i, &inputs[i], d));
    enum ts_status st = TS_OK;
    int made = 0;
    for (; made < g->noutputs && st == TS_OK; made++) {
        const struct ts_value *v = &g->values[g->outputs[made]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        struct ts_diag why;
        ts_diag_clear(&why);
        st = ts_tensor_alloc(&outputs[made], v->dtype, rank, dims, v->name, &why);
        if (st != TS_OK) {
            ts_diag_set(d, st, g->path, "outputs", "output '%s': %s", v->name, why.what);
            break;
        }
    }
    unsigned char **base = calloc((size_t)p->nbuffers + 1, sizeof *base);
    int64_t *nelems = calloc((size_t)p->nbuffers + 1, sizeof *nelems);
    unsigned char *arena = NULL;
    bool planned = p->arena_bytes > 0;
    if (st == TS_OK && (!base || !nelems || (planned && !(arena = calloc((size_t)p->arena_bytes, 1)))))
        st = ts_diag_set(d, TS_ERR_NOMEM, g->path, "", "out of memory for the program's %lld-byte arena",
                         (long long)p->arena_bytes);
    for (int i = 0; i < p->nbuffers && st == TS_OK; i++) {
        const struct ts_kbuffer *b = &p->buffers[i];
        nelems[i] = b->nbytes / (int64_t)ts_dtype_size(b->dtype);
        switch (b->kind) {
        case TS_KBUF_INPUT: base[i] = inputs[b->index].data; break;
        case TS_KBUF_OUTPUT: base[i] = outputs[b->index].data; break;
        case TS_KBUF_WEIGHT:
        case TS_KBUF_CONST: base[i] = (unsigned char *)(uintptr_t)b->data; break; /* never written: checked */
        case TS_KBUF_TEMP:
            if (planned) base[i] = arena + b->offset;
            else if (!(base[i] = calloc((size_t)b->nbytes + 1, 1)))
                st = ts_diag_set(d, TS_ERR_NOMEM, g->path, b->name, "out of memory for %lld bytes",
                                 (long long)b->nbytes);
            break;
        default: TS_ASSERT(!"bad buffer kind");
        }
    }
    struct run r = {p, base, nelems, d};
    for (int i = 0; i < p->nkernels && st == TS_OK; i++) st = run_kernel(&r, &p->kernels[i]);
    /* Outputs that are inputs, weights, constants or another output's buffer. */
    for (int i = 0; i < g->noutputs && st == TS_OK; i++) {
        const unsigned char *src = base[p->output_buffers[i]];
        if (src != outputs[i].data && outputs[i].nbytes) memcpy(outputs[i].data, src, outputs[i].nbytes);
    }
    if (base && !planned)
        for (int i = 0; i < p->nbuffers; i++)
            if (p->buffers[i].kind == TS_KBUF_TEMP) free(base[i]);
    free(arena);
    free(base);
    free(nelems);
    if (st != TS_OK)
        for (int i = 0; i < made; i++) ts_tensor_release(&outputs[i]);
    return st;
}
