/* task.c — what is tuned: a kernel's canonical description (everything that
 * decides its code except the schedule, names and buffer numbers) hashed into
 * a task id, with a readable signature, a short shape, and FLOP and byte
 * counts for tables and the roofline. Identical layers are one task. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"

/* ---- the canonical text, hashed as it is written --------------------------- */

/* Each item ends with a space, so that "1 23" and "12 3" never meet. */
struct canon {
    uint64_t h;
};

__attribute__((format(printf, 2, 3))) static void put(struct canon *c, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = ' ';
    c->h = ts_fnv64(c->h, buf, (size_t)n);
}

/* Operand i of k: inputs, then the output at ninputs. */
static const struct ts_koperand *operand(const struct ts_kernel *k, int i) {
    return i < k->ninputs ? &k->inputs[i] : &k->output;
}

/* An attention kernel's operands have four role-ordered strides whatever its rank. */
static int operand_rank(const struct ts_kernel *k) { return k->kind == TS_KERNEL_ATTENTION ? 4 : k->rank; }

static void put_operand(struct canon *c, const struct ts_kernel *k, int i) {
    const struct ts_koperand *op = operand(k, i);
    /* Which operands alias one buffer decides in-place and overlap code paths,
     * while the buffer's number does not: name the first operand sharing it. */
    int first = i;
    for (int j = 0; j < i; j++)
        if (operand(k, j)->buffer == op->buffer) {
            first = j;
            break;
        }
    put(c, "op %s off %lld shared %d", ts_dtype_name(op->dtype), (long long)op->offset, first);
    int r = operand_rank(k);
    for (int d = 0; d < r && d < TS_MAX_RANK; d++) put(c, "%lld", (long long)op->strides[d]);
    put(c, "k %lld g %lld %lld", (long long)op->kstride, (long long)op->gather_stride, (long long)op->gather_size);
}

static uint64_t canonical_hash(const struct ts_kernel *k) {
    /* The version tag lets a later tessera change the description on purpose. */
    struct canon c = {TS_FNV64_INIT};
    put(&c, "tessera-task-1 %s rank %d", ts_kernel_kind_name(k->kind), k->rank);
    for (int i = 0; i < k->rank && i < TS_MAX_RANK; i++) put(&c, "%lld", (long long)k->dims[i]);
    switch (k->kind) {
    case TS_KERNEL_ROWWISE:
        put(&c, "rows %d x %d row %s eps %.17g", k->nouter, k->x_root, ts_row_op_name(k->row_op), k->eps);
        break;
    case TS_KERNEL_GEMM: put(&c, "k %lld acc %s", (long long)k->k, ts_scalar_name(k->acc_type)); break;
    case TS_KERNEL_ATTENTION:
        put(&c, "attn %lld %lld %lld %lld %lld %lld %lld scale %.17g causal %d mask %d", (long long)k->attn.batch,
            (long long)k->attn.hq, (long long)k->attn.hkv, (long long)k->attn.sq, (long long)k->attn.sk,
            (long long)k->attn.d, (long long)k->attn.dv, k->attn.scale, (int)k->attn.causal,
            (int)k->attn.has_mask);
        break;
    default: break;
    }
    put(&c, "inputs %d", k->ninputs);
    for (int i = 0; i <= k->ninputs; i++) put_operand(&c, k, i);
    put(&c, "expr %d out %d", k->nexpr, k->out_root);
    for (int i = 0; i < k->nexpr; i++) {
        const struct ts_kx *x = &k->expr[i];
        put(&c, "%s %s %s %d %d %d %.17g %lld", ts_kx_op_name(x->op), ts_scalar_name(x->type),
            ts_dtype_name(x->dtype), x->a, x->b, x->c, x->f, (long long)x->i);
    }
    return c.h;
}

/* ---- the readable parts ------------------------------------------------------- */

/* Appends to buf (always terminated, truncating). */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t size, const char *fmt, ...) {
    size_t used = strlen(buf);
    if (used + 1 >= size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

static int64_t prod(const int64_t *dims, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= dims[i] > 0 ? dims[i] : 0;
    return p;
}

/* "16x768": dims [from, to), "1" when none. */
static void append_dims(char *buf, size_t size, const int64_t *dims, int from, int to) {
    if (from >= to) append(buf, size, "1");
    for (int i = from; i < to; i++) append(buf, size, "%s%lld", i > from ? "x" : "", (long long)dims[i]);
}

/* What the expression computes beyond moving data: its distinct operations
 * in first-use order ("add,gelu"); gathers show as "gather". Returns how
 * many arithmetic entries there are (for the FLOP count). */
static int expr_ops(const struct ts_kernel *k, char *buf, size_t size) {
    bool seen[TS_KX_COUNT] = {false};
    int arith = 0;
    buf[0] = '\0';
    for (int i = 0; i < k->nexpr; i++) {
        enum ts_kx_op op = k->expr[i].op;
        if (op == TS_KX_LOAD || op == TS_KX_ACC || op == TS_KX_CAST || op == TS_KX_CONST || op == TS_KX_INDEX ||
            op == TS_KX_ROW)
            continue;
        if (op != TS_KX_LOAD_AT) arith++;
        if (seen[op]) continue;
        seen[op] = true;
        append(buf, size, "%s%s", buf[0] ? "," : "", op == TS_KX_LOAD_AT ? "gather" : ts_kx_op_name(op));
    }
    return arith;
}

/* Elements an operand touches: the dims it moves along (stride not 0), and k. */
static double operand_elements(const struct ts_koperand *op, const int64_t *dims, int rank, int64_t kdim) {
    double n = 1;
    for (int d = 0; d < rank; d++)
        if (op->strides[d] != 0) n *= (double)(dims[d] > 0 ? dims[d] : 0);
    if (op->kstride != 0) n *= (double)(kdim > 0 ? kdim : 0);
    return n;
}

/* Compulsory traffic: every operand's elements once; an operand reading
 * exactly what an earlier one reads is not counted again. */
static double traffic(const struct ts_kernel *k, const int64_t *dims, int rank, int64_t kdim,
                      const int64_t *const *role_dims) {
    double bytes = 0;
    for (int i = 0; i <= k->ninputs; i++) {
        const struct ts_koperand *op = operand(k, i);
        bool dup = false;
        for (int j = 0; j < i && !dup; j++) {
            const struct ts_koperand *o = operand(k, j);
            dup = o->buffer == op->buffer && o->offset == op->offset && o->kstride == op->kstride &&
                  memcmp(o->strides, op->strides, sizeof o->strides) == 0;
        }
        if (dup) continue;
        const int64_t *rd = role_dims ? role_dims[i] : dims;
        bytes += operand_elements(op, rd, rank, kdim) * (double)ts_dtype_size(op->dtype);
    }
    return bytes;
}

/* Query-key pairs attention visits: causal masks are aligned bottom-right,
 * so query row i sees keys [0, i + sk - sq]. */
static double attention_pairs(const struct ts_kernel *k) {
    int64_t sq = k->attn.sq, sk = k->attn.sk;
    if (!k->attn.causal) return (double)sq * (double)sk;
    double pairs = 0;
    for (int64_t i = 0; i < sq; i++) {
        int64_t seen = i + sk - sq + 1;
        pairs += (double)(seen < 0 ? 0 : seen > sk ? sk : seen);
    }
    return pairs;
}

static void describe_gemm(const struct ts_kernel *k, struct ts_tune_task *t, const char *ops, int arith) {
    int r = k->rank;
    int64_t batch = r >= 2 ? prod(k->dims, 0, r - 2) : 1, m = r >= 2 ? k->dims[r - 2] : 1,
            n = r >= 1 ? k->dims[r - 1] : 1;
    if (batch != 1) append(t->shape, sizeof t->shape, "%lldx", (long long)batch);
    append(t->shape, sizeof t->shape, "%lldx%lldx%lld", (long long)m, (long long)n, (long long)k->k);
    const struct ts_koperand *a = &k->inputs[0], *b = &k->inputs[1];
    /* B [N,K] is a linear layer's weight as stored (k contiguous); [K,N] the plain matmul's. */
    const char *bl = b->kstride == 1 && k->k > 1 ? "B[N,K]"
                     : r >= 1 && b->strides[r - 1] == 1 ? "B[K,N]"
                     : b->kstride == 1 ? "B[N,K]" : "B[strided]";
    bool a_t = r >= 2 && a->kstride != 1 && a->strides[r - 2] == 1 && k->k > 1;
    snprintf(t->signature, sizeof t->signature, "gemm %s %s%s %s", ts_dtype_name(a->dtype), t->shape,
             a_t ? " A[K,M]" : "", bl);
    if (ops[0]) append(t->signature, sizeof t->signature, " +%s", ops);
    double mn = (double)batch * (double)m * (double)n;
    t->flops = 2 * mn * (double)k->k + mn * arith;
    t->bytes = traffic(k, k->dims, k->rank, k->k, NULL);
}

static void describe_attention(const struct ts_kernel *k, struct ts_tune_task *t) {
    snprintf(t->shape, sizeof t->shape, "%lldx%lldx%lldx%lldx%lld", (long long)k->attn.batch, (long long)k->attn.hq,
             (long long)k->attn.sq, (long long)k->attn.sk, (long long)k->attn.d);
    snprintf(t->signature, sizeof t->signature, "attention %s b%lld h%lld/%lld sq%lld sk%lld d%lld",
             ts_dtype_name(k->inputs[0].dtype), (long long)k->attn.batch, (long long)k->attn.hq,
             (long long)k->attn.hkv, (long long)k->attn.sq, (long long)k->attn.sk, (long long)k->attn.d);
    if (k->attn.dv != k->attn.d) append(t->signature, sizeof t->signature, " dv%lld", (long long)k->attn.dv);
    if (k->attn.causal) append(t->signature, sizeof t->signature, " causal");
    if (k->attn.has_mask) append(t->signature, sizeof t->signature, " mask");
    double bh = (double)k->attn.batch * (double)k->attn.hq;
    t->flops = 2 * bh * attention_pairs(k) * (double)(k->attn.d + k->attn.dv);
    /* Role-ordered dims of q, k, v, the mask and the output. */
    const int64_t q[4] = {k->attn.batch, k->attn.hq, k->attn.sq, k->attn.d},
                  kk[4] = {k->attn.batch, k->attn.hkv, k->attn.sk, k->attn.d},
                  v[4] = {k->attn.batch, k->attn.hkv, k->attn.sk, k->attn.dv},
                  mask[4] = {k->attn.batch, k->attn.hq, k->attn.sq, k->attn.sk},
                  out[4] = {k->attn.batch, k->attn.hq, k->attn.sq, k->attn.dv};
    const int64_t *roles[TS_MAX_RANK + 2];
    int n = 0;
    for (int i = 0; i < k->ninputs && n < TS_MAX_RANK + 1; i++)
        roles[n++] = i == 0 ? q : i == 1 ? kk : i == 2 ? v : mask;
    roles[n] = out;
    if (n == k->ninputs) t->bytes = traffic(k, NULL, 4, 0, roles);
}

void ts_tune_task_of(const struct ts_program *p, int kernel, struct ts_tune_task *out) {
    TS_ASSERT(p && kernel >= 0 && kernel < p->nkernels && out);
    const struct ts_kernel *k = &p->kernels[kernel];
    memset(out, 0, sizeof *out);
    out->kind = k->kind;
    out->kernel = kernel;
    out->count = 1;
    snprintf(out->hash, sizeof out->hash, "%016llx", (unsigned long long)canonical_hash(k));
    char ops[160];
    int arith = expr_ops(k, ops, sizeof ops);
    switch (k->kind) {
    case TS_KERNEL_GEMM: describe_gemm(k, out, ops, arith); break;
    case TS_KERNEL_ATTENTION: describe_attention(k, out); break;
    case TS_KERNEL_ROWWISE: {
        int64_t rows = prod(k->dims, 0, k->nouter), inner = prod(k->dims, k->nouter, k->rank);
        snprintf(out->shape, sizeof out->shape, "%lldx%lld", (long long)rows, (long long)inner);
        enum ts_dtype dt = k->ninputs > 0 ? k->inputs[0].dtype : k->output.dtype;
        snprintf(out->signature, sizeof out->signature, "rowwise %s %s %s", ts_row_op_name(k->row_op),
                 ts_dtype_name(dt), out->shape);
        if (ops[0]) append(out->signature, sizeof out->signature, " +%s", ops);
        /* The row op reads each element about four times (max or mean, sum, normalize, scale). */
        out->flops = (double)rows * (double)inner * (4.0 + arith);
        out->bytes = traffic(k, k->dims, k->rank, 0, NULL);
        break;
    }
    case TS_KERNEL_POINTWISE:
    default: {
        append_dims(out->shape, sizeof out->shape, k->dims, 0, k->rank);
        snprintf(out->signature, sizeof out->signature, "%s %s %s %s", ts_kernel_kind_name(k->kind),
                 ts_dtype_name(k->output.dtype), out->shape, ops[0] ? ops : "copy");
        out->flops = (double)prod(k->dims, 0, k->rank) * arith;
        out->bytes = traffic(k, k->dims, k->rank, 0, NULL);
        break;
    }
    }
}

enum ts_status ts_tune_tasks(const struct ts_program *p, struct ts_tune_task **out, int *n, struct ts_diag *d) {
    *out = NULL;
    *n = 0;
    struct ts_tune_task *tasks = malloc((size_t)(p->nkernels > 0 ? p->nkernels : 1) * sizeof *tasks);
    if (!tasks) return ts_diag_set(d, TS_ERR_NOMEM, "", "autotune", "out of memory listing %d tasks", p->nkernels);
    int count = 0;
    for (int i = 0; i < p->nkernels; i++) {
        if (ts_kernel_ntasks(&p->kernels[i]) == 0) continue;
        struct ts_tune_task t;
        ts_tune_task_of(p, i, &t);
        int same = -1;
        for (int j = 0; j < count && same < 0; j++)
            if (strcmp(tasks[j].hash, t.hash) == 0) same = j;
        if (same >= 0)
            tasks[same].count++;
        else
            tasks[count++] = t;
    }
    *out = tasks;
    *n = count;
    return TS_OK;
}
