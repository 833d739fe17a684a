/* kernel_print.c — text forms of a ts_program for `tessera inspect`: --dump
 * fuse prints each kernel (iteration space, operands as index maps, the
 * expression as SSA lines, schedule, absorbed nodes); --dump plan prints the
 * buffer table and the arena's peak against the naive sum. The output is
 * stable (tests compare it). */
#include <string.h>

#include "ir.h"

static const char *const kbuf_kind_names[] = {"input", "output", "weight", "const", "temp"};
_Static_assert(sizeof kbuf_kind_names / sizeof kbuf_kind_names[0] == TS_KBUF_KIND_COUNT,
               "buffer kinds out of step");

static const char *kbuf_kind_name(enum ts_kbuffer_kind k) {
    return k >= 0 && k < TS_KBUF_KIND_COUNT ? kbuf_kind_names[k] : "?";
}

static const char *buf_name(const struct ts_program *p, int b) {
    return b >= 0 && b < p->nbuffers && p->buffers[b].name ? p->buffers[b].name : "?";
}

static void print_ints(FILE *f, int n, const int64_t *v) {
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)v[i]);
    fputc(']', f);
}

/* How many strides an operand has: attention's role operands have 4. */
static void print_operand(FILE *f, const struct ts_program *p, const struct ts_kernel *k, const char *label,
                          const struct ts_koperand *o) {
    fprintf(f, "  %-5s '%s' %s offset %lld strides ", label, buf_name(p, o->buffer), ts_dtype_name(o->dtype),
            (long long)o->offset);
    print_ints(f, k->kind == TS_KERNEL_ATTENTION ? 4 : k->rank, o->strides);
    if (o->kstride != 0 || (k->kind == TS_KERNEL_GEMM && o != &k->output && o - k->inputs < 2))
        fprintf(f, " kstride %lld", (long long)o->kstride);
    if (o->gather_size != 0 || o->gather_stride != 0)
        fprintf(f, " gather stride %lld size %lld", (long long)o->gather_stride, (long long)o->gather_size);
    fputc('\n', f);
}

static void print_entry(FILE *f, const struct ts_kernel *k, int i) {
    const struct ts_kx *e = &k->expr[i];
    fprintf(f, "  %%%d = %s.%s", i, ts_kx_op_name(e->op), ts_scalar_name(e->type));
    switch (e->op) {
    case TS_KX_LOAD: fprintf(f, " in%d", e->a); break;
    case TS_KX_LOAD_AT: fprintf(f, " in%d[%%%d] (error %lld)", e->a, e->b, (long long)e->i); break;
    case TS_KX_CONST:
        if (e->type == TS_SCALAR_F32) fprintf(f, " %.9g", e->f);
        else if (e->type == TS_SCALAR_F64) fprintf(f, " %.17g", e->f);
        else if (e->type == TS_SCALAR_BOOL) fprintf(f, " %s", e->i ? "true" : "false");
        else fprintf(f, " %lld", (long long)e->i);
        break;
    case TS_KX_INDEX: fprintf(f, " dim %d", e->a); break;
    case TS_KX_ACC:
    case TS_KX_ROW: break;
    case TS_KX_CAST: fprintf(f, " %%%d to %s", e->a, ts_dtype_name(e->dtype)); break;
    default: {
        int n = ts_kx_op_nargs(e->op);
        int args[3] = {e->a, e->b, e->c};
        for (int j = 0; j < n; j++) fprintf(f, "%s%%%d", j ? ", " : " ", args[j]);
        if (e->op == TS_KX_DIV && e->type == TS_SCALAR_I64) fprintf(f, " (error %lld)", (long long)e->i);
    }
    }
    fputc('\n', f);
}

static void print_schedule(FILE *f, const struct ts_kernel *k) {
    int64_t tasks = ts_kernel_ntasks(k), scratch = ts_kernel_scratch_bytes(k);
    fprintf(f, "  schedule: ");
    switch (k->kind) {
    case TS_KERNEL_POINTWISE:
        fprintf(f, "vector_width %d, rows_per_task %lld", k->sched.pointwise.vector_width,
                (long long)k->sched.pointwise.rows_per_task);
        break;
    case TS_KERNEL_ROWWISE:
        fprintf(f, "vector_width %d, rows_per_task %lld", k->sched.rowwise.vector_width,
                (long long)k->sched.rowwise.rows_per_task);
        break;
    case TS_KERNEL_GEMM:
        fprintf(f, "mc %d, kc %d, nc %d, mr %d, nr %d", k->sched.gemm.mc, k->sched.gemm.kc, k->sched.gemm.nc,
                k->sched.gemm.mr, k->sched.gemm.nr);
        break;
    case TS_KERNEL_ATTENTION:
        fprintf(f, "block_q %d, block_k %d", k->sched.attention.block_q, k->sched.attention.block_k);
        break;
    default: break;
    }
    if (ts_kernel_cpu_threads(k) > 0) fprintf(f, ", threads %d", ts_kernel_cpu_threads(k));
    if (k->tuned) fprintf(f, " [tuned]");
    fprintf(f, " (%lld task%s", (long long)tasks, tasks == 1 ? "" : "s");
    if (scratch) fprintf(f, ", scratch %lld bytes", (long long)scratch);
    fprintf(f, ")\n");
}

static void print_kernel(FILE *f, const struct ts_program *p, const struct ts_kernel *k) {
    fprintf(f, "kernel %s: %s ", k->name ? k->name : "?", ts_kernel_kind_name(k->kind));
    print_ints(f, k->rank, k->dims);
    if (k->kind == TS_KERNEL_ROWWISE) {
        fprintf(f, ", rows ");
        print_ints(f, k->nouter, k->dims);
    }
    if (k->kind == TS_KERNEL_GEMM) fprintf(f, ", k %lld, acc %s", (long long)k->k, ts_scalar_name(k->acc_type));
    fputc('\n', f);
    if (k->kind == TS_KERNEL_ROWWISE) {
        fprintf(f, "  row: %s", ts_row_op_name(k->row_op));
        if (k->row_op == TS_ROW_LAYERNORM || k->row_op == TS_ROW_RMSNORM) fprintf(f, " eps %g", k->eps);
        fputc('\n', f);
    }
    if (k->kind == TS_KERNEL_ATTENTION)
        fprintf(f, "  attention: batch %lld, heads %lld/%lld, seq %lld/%lld, d %lld, dv %lld, scale %.9g%s%s\n",
                (long long)k->attn.batch, (long long)k->attn.hq, (long long)k->attn.hkv, (long long)k->attn.sq,
                (long long)k->attn.sk, (long long)k->attn.d, (long long)k->attn.dv, k->attn.scale,
                k->attn.causal ? ", causal" : "", k->attn.has_mask ? ", mask" : "");
    for (int i = 0; i < k->ninputs; i++) {
        char label[16];
        snprintf(label, sizeof label, "in%d", i);
        print_operand(f, p, k, label, &k->inputs[i]);
    }
    print_operand(f, p, k, "out", &k->output);
    for (int i = 0; i < k->nexpr; i++) {
        print_entry(f, k, i);
        if (k->kind == TS_KERNEL_ROWWISE && i == k->x_root) fprintf(f, "  x = %%%d\n", i);
    }
    if (k->out_root >= 0)
        fprintf(f, "  store %%%d\n", k->out_root);
    else
        fprintf(f, "  store %s\n", k->kind == TS_KERNEL_ROWWISE ? "row" : "acc");
    for (int i = 0; i < k->nerrors; i++) fprintf(f, "  error %d: %s\n", i + 1, k->errors[i]);
    print_schedule(f, k);
    if (k->nabsorbed > 0) {
        fprintf(f, "  absorbs:");
        for (int i = 0; i < k->nabsorbed; i++) fprintf(f, "%s %s", i ? "," : "", k->absorbed[i]);
        fputc('\n', f);
    }
}

void ts_program_print(const struct ts_program *p, FILE *f) {
    const char *name = p->graph && p->graph->name ? p->graph->name : "";
    fprintf(f, "program '%s': %d kernel%s, %d buffer%s\n", name, p->nkernels, p->nkernels == 1 ? "" : "s",
            p->nbuffers, p->nbuffers == 1 ? "" : "s");
    for (int i = 0; i < p->nkernels; i++) {
        fputc('\n', f);
        print_kernel(f, p, &p->kernels[i]);
    }
}

void ts_program_print_plan(const struct ts_program *p, FILE *f) {
    int w = 4;
    for (int i = 0; i < p->nbuffers; i++) {
        int len = (int)strlen(buf_name(p, i));
        if (len > w) w = len;
    }
    if (w > 40) w = 40; /* a very long name shifts its own row only */
    bool planned = p->arena_bytes > 0;
    fprintf(f, "%3s  %-*s  %-6s  %-5s  %10s  %10s  %-9s  %s\n", "#", w, "name", "kind", "dtype", "bytes", "offset",
            "live", "reuses");
    for (int i = 0; i < p->nbuffers; i++) {
        const struct ts_kbuffer *b = &p->buffers[i];
        bool temp = b->kind == TS_KBUF_TEMP;
        char offset[32] = "-", live[32] = "-";
        if (temp && planned) snprintf(offset, sizeof offset, "%lld", (long long)b->offset);
        if (temp) snprintf(live, sizeof live, "%d..%d", b->first, b->last);
        fprintf(f, "%3d  %-*s  %-6s  %-5s  %10lld  %10s  %-9s  %s\n", i, w, buf_name(p, i), kbuf_kind_name(b->kind),
                ts_dtype_name(b->dtype), (long long)b->nbytes, offset, live,
                temp && b->reuses >= 0 ? buf_name(p, b->reuses) : "-");
    }
    fprintf(f, "peak %lld bytes (%.2f MiB) vs naive sum %lld bytes: ", (long long)p->arena_bytes,
            (double)p->arena_bytes / (1024.0 * 1024.0), (long long)p->naive_bytes);
    if (p->naive_bytes > 0)
        fprintf(f, "%.1f%%\n", 100.0 * (double)p->arena_bytes / (double)p->naive_bytes);
    else
        fprintf(f, "n/a\n");
}
