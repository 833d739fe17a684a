/* kernel_harness.c — one hand-built kernel run through the kernel-IR
 * interpreter and the LLVM JIT, or the CUDA emulator, and compared (see
 * kernel_harness.h). Shared by the codegen tests; it makes no CHECKs of its
 * own, the tests judge the result. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_harness.h"
#include "runtime/runtime.h"
#include "tests/cuda_emu/harness.h"

void ts_kh_init(struct ts_kh *h) {
    memset(h, 0, sizeof *h);
    h->g = ts_graph_init("");
    h->g->inputs = ts_arena_alloc(h->g->arena, sizeof(int) * TS_KH_MAX_BUFFERS);
    h->g->outputs = ts_arena_alloc(h->g->arena, sizeof(int));
    h->out_id = -1;
    h->rng = 0x9e3779b97f4a7c15ull;
    h->k.x_root = -1;
    h->k.out_root = -1;
    h->k.name = "k0_test";
}

void ts_kh_free(struct ts_kh *h) {
    for (int i = 0; i < h->nin; i++) ts_tensor_release(&h->in[i]);
    ts_graph_free(h->g);
    memset(h, 0, sizeof *h);
}

double ts_kh_rand(struct ts_kh *h, double lo, double hi) {
    h->rng = h->rng * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(h->rng >> 11) / 9007199254740992.0;
    return lo + (hi - lo) * u;
}

static int add_value(struct ts_kh *h, const char *name, enum ts_value_kind kind, enum ts_dtype t, int rank,
                     const int64_t *dims) {
    struct ts_diag d;
    ts_diag_clear(&d);
    int id = -1;
    TS_ASSERT(ts_graph_add_value(h->g, name, kind, &id, &d) == TS_OK);
    ts_value_set_shape(&h->g->values[id], t, rank, dims);
    return id;
}

int ts_kh_input(struct ts_kh *h, enum ts_dtype t, int rank, const int64_t *dims) {
    TS_ASSERT(h->nin < TS_KH_MAX_BUFFERS && h->out_id < 0);
    char name[16];
    snprintf(name, sizeof name, "x%d", h->nin);
    int i = h->nin;
    h->in_ids[i] = add_value(h, name, TS_VALUE_INPUT, t, rank, dims);
    h->g->inputs[h->g->ninputs++] = h->in_ids[i];
    struct ts_diag d;
    ts_diag_clear(&d);
    TS_ASSERT(ts_tensor_alloc(&h->in[i], t, rank, dims, name, &d) == TS_OK);
    for (int64_t e = 0; e < h->in[i].numel; e++) {
        double sign = ts_kh_rand(h, 0, 1) < 0.5 ? -1 : 1;
        if (ts_dtype_is_float(t))
            ts_tensor_set_f64(&h->in[i], e, sign * ts_kh_rand(h, 0.1, 2.0));
        else if (t == TS_BOOL)
            ts_tensor_set_i64(&h->in[i], e, ts_kh_rand(h, 0, 1) < 0.5);
        else
            ts_tensor_set_i64(&h->in[i], e, (int64_t)(sign * floor(ts_kh_rand(h, 1, 101))));
    }
    struct ts_kbuffer *b = &h->bufs[i];
    b->kind = TS_KBUF_INPUT;
    b->name = h->g->values[h->in_ids[i]].name;
    b->value = h->in_ids[i];
    b->dtype = t;
    b->nbytes = (int64_t)h->in[i].nbytes;
    b->index = i;
    b->reuses = -1;
    h->nin++;
    h->nbufs = h->nin;
    return i;
}

int ts_kh_output(struct ts_kh *h, enum ts_dtype t, int rank, const int64_t *dims) {
    TS_ASSERT(h->out_id < 0);
    h->out_id = add_value(h, "y", TS_VALUE_NODE, t, rank, dims);
    h->g->outputs[0] = h->out_id;
    h->g->noutputs = 1;
    h->g->shaped = true;
    struct ts_kbuffer *b = &h->bufs[h->nin];
    b->kind = TS_KBUF_OUTPUT;
    b->name = "y";
    b->value = h->out_id;
    b->dtype = t;
    b->nbytes = ts_value_numel(&h->g->values[h->out_id]) * (int64_t)ts_dtype_size(t);
    b->index = 0;
    b->reuses = -1;
    h->nbufs = h->nin + 1;
    return h->nin;
}

struct ts_koperand ts_kh_operand(const struct ts_kh *h, int b, const int64_t *strides) {
    struct ts_koperand o;
    memset(&o, 0, sizeof o);
    o.buffer = b;
    o.dtype = h->bufs[b].dtype;
    if (strides) {
        memcpy(o.strides, strides, sizeof(int64_t) * (size_t)h->k.rank);
    } else {
        const struct ts_value *v = &h->g->values[b < h->nin ? h->in_ids[b] : h->out_id];
        int64_t dims[TS_MAX_RANK], own[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        ts_shape_strides(rank, dims, own);
        /* aligned from the right, like a broadcast of the same rank */
        for (int i = 0; i < rank && i < h->k.rank; i++) o.strides[h->k.rank - 1 - i] = own[rank - 1 - i];
    }
    return o;
}

int ts_kh_kx(struct ts_kh *h, enum ts_kx_op op, enum ts_scalar type, enum ts_dtype dtype, int a, int b, int c) {
    TS_ASSERT(h->k.nexpr < TS_KH_MAX_EXPR);
    struct ts_kx *e = &h->expr[h->k.nexpr];
    memset(e, 0, sizeof *e);
    e->op = op;
    e->type = type;
    e->dtype = dtype;
    e->a = a;
    e->b = b;
    e->c = c;
    h->k.expr = h->expr;
    return h->k.nexpr++;
}

int ts_kh_error(struct ts_kh *h, const char *msg) {
    TS_ASSERT(h->k.nerrors < 8);
    h->errors[h->k.nerrors++] = msg;
    h->k.errors = h->errors;
    return h->k.nerrors;
}

static bool sched_unset(const struct ts_kernel *k) {
    switch (k->kind) {
    case TS_KERNEL_POINTWISE: return k->sched.pointwise.vector_width == 0;
    case TS_KERNEL_ROWWISE: return k->sched.rowwise.vector_width == 0;
    case TS_KERNEL_GEMM: return k->sched.gemm.mc == 0;
    case TS_KERNEL_ATTENTION: return k->sched.attention.block_q == 0;
    default: return false;
    }
}

/* Compares the JIT's output buffer with the reference's output tensor. */
static void compare(const struct ts_kh *h, const void *got_data, const struct ts_tensor *want, double atol,
                    double rtol, const char *label, const char *run, struct ts_kh_result *r) {
    struct ts_tensor got = *want;
    got.data = (void *)(uintptr_t)got_data;
    got.owns_data = false;
    (void)h;
    for (int64_t i = 0; i < want->numel; i++) {
        bool ok;
        double err = 0, g, w;
        if (ts_dtype_is_float(want->dtype)) {
            g = ts_tensor_get_f64(&got, i);
            w = ts_tensor_get_f64(want, i);
            if (isnan(w) || isnan(g)) {
                ok = isnan(w) && isnan(g);
            } else if (isinf(w) || isinf(g)) {
                ok = g == w;
            } else {
                err = fabs(g - w);
                ok = err <= atol + rtol * fabs(w);
            }
        } else {
            int64_t gi = ts_tensor_get_i64(&got, i), wi = ts_tensor_get_i64(want, i);
            g = (double)gi;
            w = (double)wi;
            ok = gi == wi;
            err = ok ? 0 : fabs(g - w);
        }
        if (err > r->worst) r->worst = err;
        if (!ok && r->bad++ < 4)
            fprintf(stderr, "  %s (%s): element %lld: got %.9g, want %.9g\n", label, run, (long long)i, g, w);
    }
}

static void *alloc_bytes(int64_t n) {
    void *p = malloc((size_t)(n > 0 ? n : 1));
    TS_ASSERT(p != NULL);
    return p;
}

/* The one-kernel program of h (k's arrays and CPU schedule filled in). */
static struct ts_program make_program(struct ts_kh *h, int *input_buffers, int *output_buffer) {
    struct ts_kernel *k = &h->k;
    TS_ASSERT(h->out_id >= 0);
    if (!k->inputs) k->inputs = h->ops;
    if (!k->expr) k->expr = h->expr;
    if (!k->errors) k->errors = h->errors;
    if (sched_unset(k)) ts_sched_default_cpu(k, 8);
    *output_buffer = h->nin;
    for (int i = 0; i < h->nin; i++) input_buffers[i] = i;
    struct ts_program p = {.graph = h->g,
                           .buffers = h->bufs,
                           .nbuffers = h->nbufs,
                           .kernels = k,
                           .nkernels = 1,
                           .input_buffers = input_buffers,
                           .output_buffers = output_buffer};
    return p;
}

void ts_kh_run(struct ts_kh *h, double atol, double rtol, const char *label, struct ts_kh_result *r) {
    memset(r, 0, sizeof *r);
    if (getenv("TS_KH_VERBOSE")) fprintf(stderr, "%s\n", label);
    struct ts_kernel *k = &h->k;
    int input_buffers[TS_KH_MAX_BUFFERS], output_buffer;
    struct ts_program p = make_program(h, input_buffers, &output_buffer);

    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tensor want;
    memset(&want, 0, sizeof want);
    r->ref = ts_program_run_ref(&p, h->in, &want, &d);
    if (r->ref != TS_OK) ts_diag_format(&d, r->ref_msg, sizeof r->ref_msg);

    ts_diag_clear(&d);
    struct ts_cpu_code *code = NULL;
    struct ts_cpu_opts opts = {.cpu = NULL, .opt_level = getenv("TS_KH_O0") ? 0 : 3, .dump_ir = getenv("TS_KH_DUMP") ? stderr : NULL};
    void *fn_ptr = NULL;
    r->compile = ts_cpu_codegen(&p, &opts, &code, &d);
    if (r->compile == TS_OK) r->compile = ts_cpu_code_jit(code, &fn_ptr, &d);
    if (r->compile != TS_OK) {
        ts_diag_format(&d, r->compile_msg, sizeof r->compile_msg);
        fprintf(stderr, "  %s: %s\n", label, r->compile_msg);
    } else {
        ts_rt_kernel_fn fn = (ts_rt_kernel_fn)fn_ptr;
        int64_t out_bytes = h->bufs[h->nin].nbytes;
        void *out = alloc_bytes(out_bytes);
        int64_t sb = ts_kernel_scratch_bytes(k);
        void *scratch = aligned_alloc(64, (size_t)(sb > 0 ? sb : 64));
        TS_ASSERT(scratch != NULL);
        void *args[TS_KH_MAX_BUFFERS + 1];
        for (int i = 0; i < k->ninputs; i++) {
            int b = k->inputs[i].buffer;
            args[i] = b < h->nin ? h->in[b].data : out;
        }
        args[k->ninputs] = out;
        int64_t ntasks = ts_kernel_ntasks(k);
        /* all at once; then three chunks, so that [begin, end) ranges compose */
        memset(out, 0xff, (size_t)out_bytes); /* NaN / -1 where nothing is written */
        r->code1 = fn((void *const *)args, 0, ntasks, scratch);
        if (r->ref == TS_OK && r->code1 == 0) compare(h, out, &want, atol, rtol, label, "1 chunk", r);
        memset(out, 0xff, (size_t)out_bytes);
        int64_t cut[4] = {0, ntasks / 3, 2 * ntasks / 3, ntasks};
        for (int c = 0; c < 3 && r->code3 == 0; c++) r->code3 = fn((void *const *)args, cut[c], cut[c + 1], scratch);
        if (r->ref == TS_OK && r->code3 == 0) compare(h, out, &want, atol, rtol, label, "3 chunks", r);
        free(scratch);
        free(out);
    }
    if (r->ref != TS_OK && r->compile == TS_OK && r->code1 == 0)
        fprintf(stderr, "  %s: reference failed (%s) but the kernel returned 0\n", label, r->ref_msg);
    if (r->ref == TS_OK && (r->code1 || r->code3))
        fprintf(stderr, "  %s: the kernel returned %d / %d, the reference succeeded\n", label, r->code1, r->code3);
    ts_cpu_code_free(code);
    if (r->ref == TS_OK) ts_tensor_release(&want);
}

bool ts_kh_ok(const struct ts_kh_result *r) {
    return r->ref == TS_OK && r->compile == TS_OK && r->code1 == 0 && r->code3 == 0 && r->bad == 0;
}

void ts_kh_run_cuda(struct ts_kh *h, const struct ts_cuda_opts *o, double atol, double rtol, const char *label,
                    struct ts_kh_result *r) {
    memset(r, 0, sizeof *r);
    if (getenv("TS_KH_VERBOSE")) fprintf(stderr, "%s (cuda)\n", label);
    struct ts_cuda_opts defaults = {0};
    if (!o) o = &defaults;
    int input_buffers[TS_KH_MAX_BUFFERS], output_buffer;
    struct ts_program p = make_program(h, input_buffers, &output_buffer);

    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tensor want, got;
    memset(&want, 0, sizeof want);
    memset(&got, 0, sizeof got);
    r->ref = ts_program_run_ref(&p, h->in, &want, &d);
    if (r->ref != TS_OK) ts_diag_format(&d, r->ref_msg, sizeof r->ref_msg);

    ts_diag_clear(&d);
    int raised = 0;
    enum ts_status st = ts_emu_run_program_raised(&p, o, h->in, &got, &raised, &d);
    if (st != TS_OK && raised) {
        r->code1 = raised; /* the kernel raised an error, as the CPU kernel returns one */
    } else if (st != TS_OK) {
        r->compile = st; /* codegen, the host compiler or the emulator (misuse, deadlock) failed */
        ts_diag_format(&d, r->compile_msg, sizeof r->compile_msg);
        fprintf(stderr, "  %s (cuda): %s\n", label, r->compile_msg);
    } else if (r->ref == TS_OK) {
        compare(h, got.data, &want, atol, rtol, label, "cuda emulator", r);
    }
    if (r->ref != TS_OK && r->compile == TS_OK && r->code1 == 0)
        fprintf(stderr, "  %s: reference failed (%s) but the CUDA kernel raised no error\n", label, r->ref_msg);
    if (r->ref == TS_OK && r->code1)
        fprintf(stderr, "  %s: the CUDA kernel raised error %d, the reference succeeded\n", label, r->code1);
    if (st == TS_OK) ts_tensor_release(&got);
    if (r->ref == TS_OK) ts_tensor_release(&want);
}
