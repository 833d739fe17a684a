/* test_kernel_ir.c — the kernel IR without fusion: hand-built programs of each
 * kind run by the kernel-IR interpreter against hand-computed values and the
 * graph's reference kernels (ts_interp_node), run-time errors, task
 * decomposition and default schedules, ts_program_check's rejections, and
 * the printers' text. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "ir/ir.h"
#include "test.h"

/* ---- building programs by hand ------------------------------------------ */

/* A graph (for names, inputs and outputs) and the program under test. */
struct tb {
    struct ts_graph *g;
    struct ts_program *p;
    struct ts_diag d;
};

static void *tb_alloc(struct tb *t, size_t size) { return ts_arena_alloc(t->g->arena, size); }

static void tb_init(struct tb *t) {
    memset(t, 0, sizeof *t);
    t->g = ts_graph_init("");
    t->g->name = "t";
    t->g->inputs = tb_alloc(t, 8 * sizeof(int));
    t->g->outputs = tb_alloc(t, 8 * sizeof(int));
    t->g->shaped = true;
    struct ts_program *p = tb_alloc(t, sizeof *p);
    p->graph = t->g;
    p->buffers = tb_alloc(t, 16 * sizeof *p->buffers);
    p->kernels = tb_alloc(t, 8 * sizeof *p->kernels);
    p->input_buffers = tb_alloc(t, 8 * sizeof(int));
    p->output_buffers = tb_alloc(t, 8 * sizeof(int));
    t->p = p;
}

static int tb_value(struct tb *t, const char *name, enum ts_value_kind kind, enum ts_dtype dt, int rank,
                    const int64_t *dims) {
    int id;
    CHECK(ts_graph_add_value(t->g, name, kind, &id, &t->d) == TS_OK);
    ts_value_set_shape(&t->g->values[id], dt, rank, dims);
    t->g->values[id].producer = -1;
    return id;
}

static int tb_buffer(struct tb *t, int value, enum ts_kbuffer_kind kind, int index) {
    struct ts_program *p = t->p;
    const struct ts_value *v = &t->g->values[value];
    struct ts_kbuffer *b = &p->buffers[p->nbuffers];
    b->kind = kind;
    b->name = v->name;
    b->value = value;
    b->dtype = v->dtype;
    b->nbytes = ts_value_numel(v) * (int64_t)ts_dtype_size(v->dtype);
    b->index = index;
    b->data = v->data;
    b->first = b->last = b->reuses = -1;
    return p->nbuffers++;
}

static int tb_input(struct tb *t, const char *name, enum ts_dtype dt, int rank, const int64_t *dims) {
    int v = tb_value(t, name, TS_VALUE_INPUT, dt, rank, dims), i = t->g->ninputs++;
    t->g->inputs[i] = v;
    return t->p->input_buffers[i] = tb_buffer(t, v, TS_KBUF_INPUT, i);
}

static int tb_output(struct tb *t, const char *name, enum ts_dtype dt, int rank, const int64_t *dims) {
    int v = tb_value(t, name, TS_VALUE_NODE, dt, rank, dims), i = t->g->noutputs++;
    t->g->outputs[i] = v;
    return t->p->output_buffers[i] = tb_buffer(t, v, TS_KBUF_OUTPUT, i);
}

/* A weight whose data starts one byte into its block: every access must be unaligned-safe. */
static int tb_weight(struct tb *t, const char *name, int rank, const int64_t *dims, const float *vals) {
    int v = tb_value(t, name, TS_VALUE_WEIGHT, TS_F32, rank, dims);
    struct ts_value *val = &t->g->values[v];
    size_t nbytes = (size_t)ts_value_numel(val) * 4;
    char *block = tb_alloc(t, nbytes + 1);
    memcpy(block + 1, vals, nbytes);
    val->data = block + 1;
    val->nbytes = nbytes;
    return tb_buffer(t, v, TS_KBUF_WEIGHT, -1);
}

static int tb_temp(struct tb *t, const char *name, enum ts_dtype dt, int rank, const int64_t *dims) {
    int v = tb_value(t, name, TS_VALUE_NODE, dt, rank, dims);
    return tb_buffer(t, v, TS_KBUF_TEMP, -1);
}

static struct ts_kernel *tb_kernel(struct tb *t, enum ts_kernel_kind kind, const char *name, int rank,
                                   const int64_t *dims) {
    struct ts_kernel *k = &t->p->kernels[t->p->nkernels++];
    k->kind = kind;
    k->name = name;
    k->rank = rank;
    for (int i = 0; i < rank; i++) k->dims[i] = dims[i];
    k->inputs = tb_alloc(t, 8 * sizeof *k->inputs);
    k->expr = tb_alloc(t, 32 * sizeof *k->expr);
    k->errors = tb_alloc(t, 4 * sizeof *k->errors);
    k->absorbed = tb_alloc(t, 4 * sizeof *k->absorbed);
    k->x_root = k->out_root = -1;
    return k;
}

static struct ts_koperand operand(const struct tb *t, int buffer, int64_t offset, int n, const int64_t *strides) {
    struct ts_koperand o = {.buffer = buffer, .dtype = t->p->buffers[buffer].dtype, .offset = offset};
    for (int i = 0; i < n; i++) o.strides[i] = strides[i];
    return o;
}

/* Adds input operand of buffer with strides over the kernel's rank (4 for attention); returns its number. */
static int k_in(const struct tb *t, struct ts_kernel *k, int buffer, int64_t offset, const int64_t *strides) {
    k->inputs[k->ninputs] = operand(t, buffer, offset, k->kind == TS_KERNEL_ATTENTION ? 4 : k->rank, strides);
    return k->ninputs++;
}

static void k_out(const struct tb *t, struct ts_kernel *k, int buffer, const int64_t *strides) {
    k->output = operand(t, buffer, 0, k->rank, strides);
}

static int k_x(struct ts_kernel *k, enum ts_kx_op op, enum ts_scalar type, int a, int b, int c) {
    struct ts_kx *e = &k->expr[k->nexpr];
    *e = (struct ts_kx){.op = op, .type = type, .dtype = TS_F32, .a = a, .b = b, .c = c};
    return k->nexpr++;
}

static int k_load(struct ts_kernel *k, int input, enum ts_scalar type) {
    int i = k_x(k, TS_KX_LOAD, type, input, -1, -1);
    k->expr[i].dtype = k->inputs[input].dtype;
    return i;
}

static int k_const(struct ts_kernel *k, enum ts_scalar type, double f) {
    int i = k_x(k, TS_KX_CONST, type, -1, -1, -1);
    k->expr[i].f = f;
    k->expr[i].i = (int64_t)f;
    return i;
}

static int k_error(struct ts_kernel *k, const char *msg) {
    k->errors[k->nerrors] = msg;
    return ++k->nerrors;
}

/* ---- data --------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Uniform in [-2, 2], never 0. */
static double rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(rng_state >> 11) / 9007199254740992.0;
    double v = 4.0 * u - 2.0;
    return v == 0 ? 0.5 : v;
}

static void fill(struct ts_tensor *x) {
    for (int64_t i = 0; i < x->numel; i++) ts_tensor_set_f64(x, i, rnd());
}

static struct ts_tensor tensor(enum ts_dtype dt, int rank, const int64_t *dims) {
    struct ts_tensor x;
    struct ts_diag d;
    ts_diag_clear(&d);
    enum ts_status st = ts_tensor_alloc(&x, dt, rank, dims, "t", &d);
    TS_ASSERT(st == TS_OK);
    return x;
}

static double f32(double x) { return (double)(float)x; }

/* What every GEMM schedule must satisfy (ts_program_check's rule). */
static bool gemm_sched_legal(const struct ts_kernel *k) {
    const struct ts_sched_gemm *s = &k->sched.gemm;
    return s->mr >= 1 && s->nr >= 1 && s->kc >= 1 && s->mc >= s->mr && s->nc >= s->nr && s->mc % s->mr == 0 &&
           s->nc % s->nr == 0;
}

/* ---- POINTWISE ---------------------------------------------------------- */

/* y[i, j] = f32(cast_f16(x[i, j] * w[j, i] + b[j]) * 3): a transposed read, a
 * broadcast weight (unaligned) and f16 rounding in the middle. */
static void test_pointwise(void) {
    struct tb t;
    tb_init(&t);
    int64_t xd[2] = {3, 5}, wd[2] = {5, 3}, bd[1] = {5};
    int bx = tb_input(&t, "x", TS_F32, 2, xd), bw = tb_input(&t, "w", TS_F32, 2, wd);
    float bias[5];
    for (int j = 0; j < 5; j++) bias[j] = (float)rnd();
    int bb = tb_weight(&t, "b", 1, bd, bias);
    int by = tb_output(&t, "y", TS_F32, 2, xd);
    struct ts_kernel *k = tb_kernel(&t, TS_KERNEL_POINTWISE, "k0_pointwise", 2, xd);
    int ix = k_in(&t, k, bx, 0, (int64_t[]){5, 1});
    int iw = k_in(&t, k, bw, 0, (int64_t[]){1, 3});
    int ib = k_in(&t, k, bb, 0, (int64_t[]){0, 1});
    k_out(&t, k, by, (int64_t[]){5, 1});
    int e0 = k_load(k, ix, TS_SCALAR_F32), e1 = k_load(k, iw, TS_SCALAR_F32);
    int e2 = k_x(k, TS_KX_MUL, TS_SCALAR_F32, e0, e1, -1);
    int e3 = k_load(k, ib, TS_SCALAR_F32);
    int e4 = k_x(k, TS_KX_ADD, TS_SCALAR_F32, e2, e3, -1);
    int e5 = k_x(k, TS_KX_CAST, TS_SCALAR_F32, e4, -1, -1);
    k->expr[e5].dtype = TS_F16;
    int e6 = k_const(k, TS_SCALAR_F32, 3.0);
    k->out_root = k_x(k, TS_KX_MUL, TS_SCALAR_F32, e5, e6, -1);
    ts_sched_default_cpu(k, 8);
    CHECK(k->sched.pointwise.vector_width == 8 && k->sched.pointwise.rows_per_task == 3277);
    CHECK(ts_kernel_ntasks(k) == 1);

    struct ts_tensor in[2] = {tensor(TS_F32, 2, xd), tensor(TS_F32, 2, wd)}, out[1];
    fill(&in[0]);
    fill(&in[1]);
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, in, out, &t.d) == TS_OK);
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 5; j++) {
            double v = f32(f32(ts_tensor_get_f64(&in[0], i * 5 + j) * ts_tensor_get_f64(&in[1], j * 3 + i)) + bias[j]);
            double want = f32(ts_f16_to_f64(ts_f16_from_f64(v)) * 3.0);
            if (ts_tensor_get_f64(&out[0], i * 5 + j) != want) bad++;
        }
    }
    CHECK(bad == 0);
    ts_tensor_release(&out[0]);

    /* The check rejects a stride that walks off w: 3·4 + 3·2 = 18 ≥ 15 elements. */
    k->inputs[iw].strides[0] = 3;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH);
    CHECK_STR(t.d.where, "kernel 'k0_pointwise'");
    CHECK_CONTAINS(t.d.what, "input 1 (buffer 'w')");
    CHECK_CONTAINS(t.d.what, "reaches elements [0, 18], but the buffer holds 15 f32 elements");
    CHECK(ts_program_run_ref(t.p, in, out, &t.d) == TS_ERR_GRAPH);
    k->inputs[iw].strides[0] = 1;
    /* … and operands out of SSA order or with mixed types. */
    k->expr[e2].b = e2;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH);
    CHECK_CONTAINS(t.d.what, "%2 = mul.f32 reads %2, which is not an earlier entry");
    k->expr[e2].b = e1;
    k->expr[e6].type = TS_SCALAR_I64;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH);
    CHECK_CONTAINS(t.d.what, "%7 = mul.f32 has operands of types f32, i64");
    k->expr[e6].type = TS_SCALAR_F32;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_OK);

    ts_tensor_release(&in[0]);
    ts_tensor_release(&in[1]);
    ts_graph_free(t.g);
}

/* y[i, j] = table[idx[i], j] with LOAD_AT: negative indices count from the
 * end; one out of range fails with the kernel's message. */
static void test_gather(void) {
    struct tb t;
    tb_init(&t);
    int64_t td[2] = {5, 4}, id[1] = {3}, yd[2] = {3, 4};
    float table[20];
    for (int i = 0; i < 20; i++) table[i] = (float)rnd();
    int bt = tb_weight(&t, "table", 2, td, table);
    int bi = tb_input(&t, "idx", TS_I64, 1, id);
    int by = tb_output(&t, "y", TS_F32, 2, yd);
    struct ts_kernel *k = tb_kernel(&t, TS_KERNEL_POINTWISE, "k0_gather", 2, yd);
    int ii = k_in(&t, k, bi, 0, (int64_t[]){1, 0});
    int it = k_in(&t, k, bt, 0, (int64_t[]){0, 1});
    k->inputs[it].gather_stride = 4;
    k->inputs[it].gather_size = 5;
    k_out(&t, k, by, (int64_t[]){4, 1});
    int e0 = k_load(k, ii, TS_SCALAR_I64);
    int e1 = k_x(k, TS_KX_LOAD_AT, TS_SCALAR_F32, it, e0, -1);
    k->expr[e1].i = k_error(k, "node 'g' (gather): an index is out of range [-5, 5) for 'table'");
    k->out_root = e1;
    ts_sched_default_cpu(k, 8);

    struct ts_tensor in = tensor(TS_I64, 1, id), out;
    int64_t good[3] = {1, -1, 4};
    for (int i = 0; i < 3; i++) ts_tensor_set_i64(&in, i, good[i]);
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, &in, &out, &t.d) == TS_OK);
    int bad = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            if (ts_tensor_get_f64(&out, i * 4 + j) != table[(good[i] + 5) % 5 * 4 + j]) bad++;
    CHECK(bad == 0);
    ts_tensor_release(&out);

    ts_tensor_set_i64(&in, 1, 5);
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, &in, &out, &t.d) == TS_ERR_RUNTIME);
    CHECK_STR(t.d.where, "kernel 'k0_gather'");
    CHECK_STR(t.d.what, "node 'g' (gather): an index is out of range [-5, 5) for 'table'");
    ts_tensor_set_i64(&in, 1, -6);
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, &in, &out, &t.d) == TS_ERR_RUNTIME);

    /* The gather range is part of the bounds check. */
    k->inputs[it].gather_size = 6;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH);
    CHECK_CONTAINS(t.d.what, "input 1 (buffer 'table')");
    ts_tensor_release(&in);
    ts_graph_free(t.g);
}

/* i32 division: toward zero, INT32_MIN / -1 wraps on the store, 0 fails. */
static void test_int_div(void) {
    struct tb t;
    tb_init(&t);
    int64_t dims[1] = {7};
    int ba = tb_input(&t, "a", TS_I32, 1, dims), bb = tb_input(&t, "b", TS_I32, 1, dims);
    int by = tb_output(&t, "y", TS_I32, 1, dims);
    struct ts_kernel *k = tb_kernel(&t, TS_KERNEL_POINTWISE, "k0_div", 1, dims);
    int ia = k_in(&t, k, ba, 0, (int64_t[]){1}), ib = k_in(&t, k, bb, 0, (int64_t[]){1});
    k_out(&t, k, by, (int64_t[]){1});
    int e0 = k_load(k, ia, TS_SCALAR_I64), e1 = k_load(k, ib, TS_SCALAR_I64);
    k->out_root = k_x(k, TS_KX_DIV, TS_SCALAR_I64, e0, e1, -1);
    k->expr[k->out_root].i = k_error(k, "node 'd' (div): division by zero");
    ts_sched_default_cpu(k, 8);

    int64_t av[7] = {7, -7, 7, -7, INT32_MIN, 123456789, 5}, bv[7] = {2, 2, -2, -2, -1, 1000, 7};
    int64_t want[7] = {3, -3, -3, 3, INT32_MIN, 123456, 0};
    struct ts_tensor in[2] = {tensor(TS_I32, 1, dims), tensor(TS_I32, 1, dims)}, out;
    for (int i = 0; i < 7; i++) {
        ts_tensor_set_i64(&in[0], i, av[i]);
        ts_tensor_set_i64(&in[1], i, bv[i]);
    }
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, in, &out, &t.d) == TS_OK);
    int bad = 0;
    for (int i = 0; i < 7; i++) bad += ts_tensor_get_i64(&out, i) != want[i];
    CHECK(bad == 0);
    ts_tensor_release(&out);
    ts_tensor_set_i64(&in[1], 6, 0);
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, in, &out, &t.d) == TS_ERR_RUNTIME);
    CHECK_STR(t.d.what, "node 'd' (div): division by zero");
    /* A DIV naming an error the kernel does not have is refused up front. */
    k->expr[k->out_root].i = 2;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH);
    CHECK_CONTAINS(t.d.what, "%2 = div.i64 names error 2 of 1");
    ts_tensor_release(&in[0]);
    ts_tensor_release(&in[1]);
    ts_graph_free(t.g);
}

/* ---- ROWWISE ------------------------------------------------------------ */

/* Runs node n of t's graph with the reference kernel on in (n's inputs). */
static struct ts_tensor ref_node(struct tb *t, int node, const struct ts_tensor *const *in) {
    struct ts_tensor out;
    struct ts_diag d;
    ts_diag_clear(&d);
    enum ts_status st = ts_interp_node(t->g, &t->g->nodes[node], in, &out, &d);
    TS_ASSERT(st == TS_OK);
    return out;
}

/* softmax(x) over rows of n, and layernorm(a + r)·w + b, each against the
 * reference kernel of the graph op. */
static void test_rowwise_norms(int64_t n) {
    for (int which = 0; which < 2; which++) {
        bool layer = which == 1;
        struct tb t;
        tb_init(&t);
        int64_t xd[2] = {3, n}, wd[1] = {n};
        int ba = tb_input(&t, "a", TS_F32, 2, xd), br = layer ? tb_input(&t, "r", TS_F32, 2, xd) : -1;
        float *w = tb_alloc(&t, (size_t)n * 4), *b = tb_alloc(&t, (size_t)n * 4);
        for (int64_t j = 0; j < n; j++) w[j] = (float)rnd(), b[j] = (float)rnd();
        int bw = layer ? tb_weight(&t, "w", 1, wd, w) : -1, bb = layer ? tb_weight(&t, "b", 1, wd, b) : -1;
        int by = tb_output(&t, "y", TS_F32, 2, xd);
        struct ts_kernel *k = tb_kernel(&t, TS_KERNEL_ROWWISE, "k0_rowwise", 2, xd);
        k->nouter = 1;
        k->row_op = layer ? TS_ROW_LAYERNORM : TS_ROW_SOFTMAX;
        k->eps = 1e-5;
        int64_t rows[2] = {n, 1}, vec[2] = {0, 1};
        int e = k_load(k, k_in(&t, k, ba, 0, rows), TS_SCALAR_F32);
        if (layer) e = k_x(k, TS_KX_ADD, TS_SCALAR_F32, e, k_load(k, k_in(&t, k, br, 0, rows), TS_SCALAR_F32), -1);
        k->x_root = e;
        k_out(&t, k, by, rows);
        if (layer) {
            int row = k_x(k, TS_KX_ROW, TS_SCALAR_F32, -1, -1, -1);
            int m = k_x(k, TS_KX_MUL, TS_SCALAR_F32, row, k_load(k, k_in(&t, k, bw, 0, vec), TS_SCALAR_F32), -1);
            k->out_root = k_x(k, TS_KX_ADD, TS_SCALAR_F32, m, k_load(k, k_in(&t, k, bb, 0, vec), TS_SCALAR_F32), -1);
        }
        ts_sched_default_cpu(k, 8);
        CHECK(k->sched.rowwise.rows_per_task == (8192 / n > 0 ? 8192 / n : 1));
        CHECK(ts_kernel_scratch_bytes(k) == (4 * n + 64 + 63) / 64 * 64);

        struct ts_tensor in[2] = {tensor(TS_F32, 2, xd), tensor(TS_F32, 2, xd)}, out;
        fill(&in[0]);
        fill(&in[1]);
        ts_diag_clear(&t.d);
        CHECK(ts_program_run_ref(t.p, in, &out, &t.d) == TS_OK);

        /* The reference: the graph op on x = f32(a + r), with w and b. */
        int vx = tb_value(&t, "x", TS_VALUE_INPUT, TS_F32, 2, xd), vy;
        CHECK(ts_graph_add_value(t.g, "ref", TS_VALUE_NODE, &vy, &t.d) == TS_OK);
        int ins[3] = {vx, layer ? t.p->buffers[bw].value : -1,
                      layer ? t.p->buffers[bb].value : -1};
        ts_graph_add_node(t.g, layer ? TS_OP_LAYERNORM : TS_OP_SOFTMAX, "n", layer ? 3 : 1, ins, 1, &vy);
        ts_value_set_shape(&t.g->values[vy], TS_F32, 2, xd);
        struct ts_tensor x = tensor(TS_F32, 2, xd), wt, bt;
        for (int64_t i = 0; i < x.numel; i++)
            ts_tensor_set_f64(&x, i, ts_tensor_get_f64(&in[0], i) + (layer ? ts_tensor_get_f64(&in[1], i) : 0));
        ts_tensor_view(&wt, TS_F32, 1, wd, w);
        ts_tensor_view(&bt, TS_F32, 1, wd, b);
        const struct ts_tensor *rin[3] = {&x, &wt, &bt};
        struct ts_tensor want = ref_node(&t, t.g->nnodes - 1, rin);
        int bad = 0;
        for (int64_t i = 0; i < out.numel; i++) {
            double g = ts_tensor_get_f64(&out, i), r = ts_tensor_get_f64(&want, i);
            if (!(fabs(g - r) <= 1e-5 + 4e-6 * fabs(r))) bad++;
        }
        CHECK(bad == 0);
        if (bad) fprintf(stderr, "  (%s, n = %lld)\n", layer ? "layernorm" : "softmax", (long long)n);
        ts_tensor_release(&want);
        ts_tensor_release(&x);
        ts_tensor_release(&out);
        ts_tensor_release(&in[0]);
        ts_tensor_release(&in[1]);
        ts_graph_free(t.g);
    }
}

/* Per-row ops: y[r] = 0.5·sum(x[r, :]) and max with a NaN. */
static void test_rowwise_reduce(void) {
    for (int which = 0; which < 2; which++) {
        bool is_max = which == 1;
        struct tb t;
        tb_init(&t);
        int64_t xd[2] = {2, 7}, yd[2] = {2, 1};
        int bx = tb_input(&t, "x", TS_F32, 2, xd), by = tb_output(&t, "y", TS_F32, 2, yd);
        struct ts_kernel *k = tb_kernel(&t, TS_KERNEL_ROWWISE, "k0_reduce", 2, xd);
        k->nouter = 1;
        k->row_op = is_max ? TS_ROW_MAX : TS_ROW_SUM;
        k->x_root = k_load(k, k_in(&t, k, bx, 0, (int64_t[]){7, 1}), TS_SCALAR_F32);
        k_out(&t, k, by, (int64_t[]){1, 0});
        if (!is_max) {
            int row = k_x(k, TS_KX_ROW, TS_SCALAR_F32, -1, -1, -1);
            k->out_root = k_x(k, TS_KX_MUL, TS_SCALAR_F32, row, k_const(k, TS_SCALAR_F32, 0.5), -1);
        }
        ts_sched_default_cpu(k, 8);
        struct ts_tensor in = tensor(TS_F32, 2, xd), out;
        fill(&in);
        if (is_max) ts_tensor_set_f64(&in, 9, NAN);
        ts_diag_clear(&t.d);
        CHECK(ts_program_run_ref(t.p, &in, &out, &t.d) == TS_OK);
        for (int r = 0; r < 2; r++) {
            double acc = is_max ? -INFINITY : 0;
            for (int j = 0; j < 7; j++) {
                double v = ts_tensor_get_f64(&in, r * 7 + j);
                acc = is_max ? (v > acc || isnan(v) ? v : acc) : acc + v;
            }
            double want = is_max ? acc : f32(f32(acc) * 0.5);
            if (is_max && r == 1) CHECK(isnan(ts_tensor_get_f64(&out, r)));
            else CHECK_NEAR(ts_tensor_get_f64(&out, r), want, 0, 0);
        }
        /* A per-row result must not advance along the reduced dim. */
        k->output.strides[1] = 1;
        ts_diag_clear(&t.d);
        CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH);
        CHECK_CONTAINS(t.d.what, "stride 1 on reduced dim 1");
        ts_tensor_release(&in);
        ts_tensor_release(&out);
        ts_graph_free(t.g);
    }
}

/* ---- GEMM --------------------------------------------------------------- */

static double gelu(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

/* y[b] = gelu(A[b]·Wᵀ + bias): W stored [N, K] (B transposed by strides), shared by the batch. */
static void test_gemm(void) {
    enum { NB = 2, M = 7, N = 9, K = 17 };
    struct tb t;
    tb_init(&t);
    int64_t ad[3] = {NB, M, K}, wd[2] = {N, K}, bd[1] = {N}, yd[3] = {NB, M, N};
    int ba = tb_input(&t, "a", TS_F32, 3, ad), bw = tb_input(&t, "w", TS_F32, 2, wd);
    float bias[N];
    for (int j = 0; j < N; j++) bias[j] = (float)rnd();
    int bb = tb_weight(&t, "bias", 1, bd, bias);
    int by = tb_output(&t, "y", TS_F32, 3, yd);
    struct ts_kernel *k = tb_kernel(&t, TS_KERNEL_GEMM, "k0_gemm", 3, yd);
    k->k = K;
    k->acc_type = TS_SCALAR_F32;
    k_in(&t, k, ba, 0, (int64_t[]){M * K, K, 0});
    k->inputs[0].kstride = 1;
    k_in(&t, k, bw, 0, (int64_t[]){0, 0, K});
    k->inputs[1].kstride = 1;
    int ib = k_in(&t, k, bb, 0, (int64_t[]){0, 0, 1});
    k_out(&t, k, by, (int64_t[]){M * N, N, 1});
    int acc = k_x(k, TS_KX_ACC, TS_SCALAR_F32, -1, -1, -1);
    int add = k_x(k, TS_KX_ADD, TS_SCALAR_F32, acc, k_load(k, ib, TS_SCALAR_F32), -1);
    k->out_root = k_x(k, TS_KX_GELU, TS_SCALAR_F32, add, -1, -1);
    k->absorbed[k->nabsorbed++] = "matmul#0";
    k->absorbed[k->nabsorbed++] = "add#1";
    k->absorbed[k->nabsorbed++] = "gelu#2";
    ts_sched_default_cpu(k, 8);
    CHECK(gemm_sched_legal(k) && ts_kernel_ntasks(k) >= 2);
    /* A fixed schedule for the text below: 2 batches × 1 row block × 1 column block. */
    k->sched.gemm = (struct ts_sched_gemm){.mc = 12, .kc = K, .nc = 16, .mr = 6, .nr = 16};
    CHECK(ts_kernel_ntasks(k) == 2);

    struct ts_tensor in[2] = {tensor(TS_F32, 3, ad), tensor(TS_F32, 2, wd)}, out;
    fill(&in[0]);
    fill(&in[1]);
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, in, &out, &t.d) == TS_OK);
    int bad = 0;
    for (int b = 0; b < NB; b++) {
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                double dot = 0;
                for (int p = 0; p < K; p++)
                    dot += ts_tensor_get_f64(&in[0], (b * M + i) * K + p) * ts_tensor_get_f64(&in[1], j * K + p);
                double want = gelu(dot + bias[j]);
                double got = ts_tensor_get_f64(&out, (b * M + i) * N + j);
                if (!(fabs(got - want) <= 1e-5 + 1e-5 * fabs(want))) bad++;
            }
        }
    }
    CHECK(bad == 0);
    ts_tensor_release(&out);

    /* The text of --dump fuse. */
    FILE *f = tmpfile();
    ts_program_print(t.p, f);
    rewind(f);
    char text[4096] = {0};
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = 0;
    fclose(f);
    CHECK_CONTAINS(text, "program 't': 1 kernel, 4 buffers\n");
    CHECK_CONTAINS(text, "kernel k0_gemm: gemm [2, 7, 9], k 17, acc f32\n");
    CHECK_CONTAINS(text, "  in0   'a' f32 offset 0 strides [119, 17, 0] kstride 1\n");
    CHECK_CONTAINS(text, "  in1   'w' f32 offset 0 strides [0, 0, 17] kstride 1\n");
    CHECK_CONTAINS(text, "  in2   'bias' f32 offset 0 strides [0, 0, 1]\n");
    CHECK_CONTAINS(text, "  out   'y' f32 offset 0 strides [63, 9, 1]\n");
    CHECK_CONTAINS(text, "  %0 = acc.f32\n  %1 = load.f32 in2\n  %2 = add.f32 %0, %1\n  %3 = gelu.f32 %2\n");
    CHECK_CONTAINS(text, "  store %3\n");
    CHECK_CONTAINS(text, "  schedule: mc 12, kc 17, nc 16, mr 6, nr 16 (2 tasks, scratch 2048 bytes)\n");
    CHECK_CONTAINS(text, "  absorbs: matmul#0, add#1, gelu#2\n");

    /* A schedule with nc not a multiple of nr is illegal. */
    k->sched.gemm.nc = 20;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH);
    CHECK_CONTAINS(t.d.what, "nc of nr");
    ts_tensor_release(&in[0]);
    ts_tensor_release(&in[1]);
    ts_graph_free(t.g);
}

/* i32 matmul wraps like the reference: products and sums in 64 bits, the store keeps 32. */
static void test_gemm_int(void) {
    struct tb t;
    tb_init(&t);
    int64_t ad[2] = {2, 3}, bd[2] = {3, 2}, yd[2] = {2, 2};
    int ba = tb_input(&t, "a", TS_I32, 2, ad), bb = tb_input(&t, "b", TS_I32, 2, bd);
    int by = tb_output(&t, "y", TS_I32, 2, yd);
    struct ts_kernel *k = tb_kernel(&t, TS_KERNEL_GEMM, "k0_gemm", 2, yd);
    k->k = 3;
    k->acc_type = TS_SCALAR_I64;
    k_in(&t, k, ba, 0, (int64_t[]){3, 0});
    k->inputs[0].kstride = 1;
    k_in(&t, k, bb, 0, (int64_t[]){0, 1});
    k->inputs[1].kstride = 2;
    k_out(&t, k, by, (int64_t[]){2, 1});
    ts_sched_default_cpu(k, 8);
    struct ts_tensor in[2] = {tensor(TS_I32, 2, ad), tensor(TS_I32, 2, bd)}, out;
    int64_t av[6] = {INT32_MAX, 2, -3, 4, -5, 6}, bv[6] = {INT32_MAX, 1, 2, -1, 3, 7};
    for (int i = 0; i < 6; i++) {
        ts_tensor_set_i64(&in[0], i, av[i]);
        ts_tensor_set_i64(&in[1], i, bv[i]);
    }
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, in, &out, &t.d) == TS_OK);
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            uint64_t s = 0;
            for (int p = 0; p < 3; p++) s += (uint64_t)av[i * 3 + p] * (uint64_t)bv[p * 2 + j];
            CHECK(ts_tensor_get_i64(&out, i * 2 + j) == (int32_t)(uint32_t)s);
        }
    }
    ts_tensor_release(&out);
    ts_tensor_release(&in[0]);
    ts_tensor_release(&in[1]);
    ts_graph_free(t.g);
}

/* ---- ATTENTION ---------------------------------------------------------- */

/* Causal attention with sq != sk, GQA (4 query heads on 2 kv heads) and an
 * optional [sq, sk] mask that hides every key of query 0 in the masked run;
 * q is read through a transposed layout [b, s, h, d]. Against the graph op. */
static void test_attention(bool masked) {
    enum { B = 2, HQ = 4, HKV = 2, SQ = 5, SK = 7, D = 8, DV = 6 };
    struct tb t;
    tb_init(&t);
    int64_t qd[4] = {B, SQ, HQ, D}, kd[4] = {B, HKV, SK, D}, vd[4] = {B, HKV, SK, DV}, md[2] = {SQ, SK};
    int64_t yd[4] = {B, HQ, SQ, DV};
    int bq = tb_input(&t, "q", TS_F32, 4, qd), bk = tb_input(&t, "k", TS_F32, 4, kd);
    int bv = tb_input(&t, "v", TS_F32, 4, vd), bm = masked ? tb_input(&t, "mask", TS_F32, 2, md) : -1;
    int by = tb_output(&t, "y", TS_F32, 4, yd);
    struct ts_kernel *k = tb_kernel(&t, TS_KERNEL_ATTENTION, "k0_attention", 4, yd);
    k->attn.batch = B, k->attn.hq = HQ, k->attn.hkv = HKV, k->attn.sq = SQ, k->attn.sk = SK;
    k->attn.d = D, k->attn.dv = DV, k->attn.scale = 0.3, k->attn.causal = true, k->attn.has_mask = masked;
    k_in(&t, k, bq, 0, (int64_t[]){SQ * HQ * D, D, HQ * D, 1});
    k_in(&t, k, bk, 0, (int64_t[]){HKV * SK * D, SK * D, D, 1});
    k_in(&t, k, bv, 0, (int64_t[]){HKV * SK * DV, SK * DV, DV, 1});
    if (masked) k_in(&t, k, bm, 0, (int64_t[]){0, 0, SK, 1});
    k_out(&t, k, by, (int64_t[]){HQ * SQ * DV, SQ * DV, DV, 1});
    ts_sched_default_cpu(k, 8);
    CHECK(k->sched.attention.block_q == SQ && k->sched.attention.block_k == SK);
    CHECK(ts_kernel_ntasks(k) == B * HQ);

    struct ts_tensor in[4] = {tensor(TS_F32, 4, qd), tensor(TS_F32, 4, kd), tensor(TS_F32, 4, vd),
                              tensor(TS_F32, 2, md)};
    for (int i = 0; i < 4; i++) fill(&in[i]);
    for (int j = 0; j < SK; j++) ts_tensor_set_f64(&in[3], j, -INFINITY); /* query 0 sees nothing */
    struct ts_tensor out;
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, in, &out, &t.d) == TS_OK);

    /* The reference takes q as [b, h, s, d]: transpose it by hand. */
    int64_t qr[4] = {B, HQ, SQ, D};
    struct ts_tensor q = tensor(TS_F32, 4, qr);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < HQ; h++)
            for (int s = 0; s < SQ; s++)
                for (int e = 0; e < D; e++)
                    ts_tensor_set_f64(&q, ((b * HQ + h) * SQ + s) * D + e,
                                      ts_tensor_get_f64(&in[0], ((b * SQ + s) * HQ + h) * D + e));
    int vq = tb_value(&t, "q_ref", TS_VALUE_INPUT, TS_F32, 4, qr), vy;
    CHECK(ts_graph_add_value(t.g, "ref", TS_VALUE_NODE, &vy, &t.d) == TS_OK);
    int ins[4] = {vq, t.p->buffers[bk].value, t.p->buffers[bv].value, masked ? t.p->buffers[bm].value : -1};
    struct ts_node *n = ts_graph_add_node(t.g, TS_OP_ATTENTION, "attn", masked ? 4 : 3, ins, 1, &vy);
    n->attrs[ts_op_attr_index(TS_OP_ATTENTION, "causal")].i = 1;
    struct ts_attr *sc = &n->attrs[ts_op_attr_index(TS_OP_ATTENTION, "scale")];
    sc->present = true;
    sc->f = 0.3;
    ts_value_set_shape(&t.g->values[vy], TS_F32, 4, yd);
    const struct ts_tensor *rin[4] = {&q, &in[1], &in[2], &in[3]};
    struct ts_tensor want = ref_node(&t, t.g->nnodes - 1, rin);
    int bad = 0, zeros = 0;
    for (int64_t i = 0; i < out.numel; i++) {
        double g = ts_tensor_get_f64(&out, i), r = ts_tensor_get_f64(&want, i);
        if (!(fabs(g - r) <= 1e-6 + 1e-6 * fabs(r))) bad++;
        zeros += g == 0;
    }
    CHECK(bad == 0);
    CHECK(zeros == (masked ? B * HQ * DV : 0)); /* the fully masked rows */
    ts_tensor_release(&want);
    ts_tensor_release(&q);
    ts_tensor_release(&out);
    for (int i = 0; i < 4; i++) ts_tensor_release(&in[i]);
    ts_graph_free(t.g);
}

/* ---- tasks and default schedules ---------------------------------------- */

static void test_ntasks(void) {
    struct ts_kernel k;
    memset(&k, 0, sizeof k);
    k.kind = TS_KERNEL_POINTWISE;
    k.rank = 3;
    k.dims[0] = 3, k.dims[1] = 5, k.dims[2] = 100;
    k.sched.pointwise.rows_per_task = 4;
    CHECK(ts_kernel_ntasks(&k) == 4); /* 15 rows in 4s */
    CHECK(ts_kernel_scratch_bytes(&k) == 0);
    ts_sched_default_cpu(&k, 8);
    CHECK(k.sched.pointwise.rows_per_task == 164 && ts_kernel_ntasks(&k) == 1);
    k.dims[1] = 0;
    CHECK(ts_kernel_ntasks(&k) == 0);
    k.rank = 0;
    CHECK(ts_kernel_ntasks(&k) == 1); /* a scalar: one row of one element */

    memset(&k, 0, sizeof k);
    k.kind = TS_KERNEL_ROWWISE;
    k.rank = 3;
    k.nouter = 2;
    k.dims[0] = 4, k.dims[1] = 129, k.dims[2] = 1000;
    ts_sched_default_cpu(&k, 8);
    CHECK(k.sched.rowwise.rows_per_task == 8);
    CHECK(ts_kernel_ntasks(&k) == 65); /* 516 rows in 8s */
    CHECK(ts_kernel_scratch_bytes(&k) == 4096);
    k.dims[2] = 0;
    CHECK(ts_kernel_ntasks(&k) > 0); /* empty rows still store their results */

    memset(&k, 0, sizeof k);
    k.kind = TS_KERNEL_GEMM;
    k.rank = 2;
    k.dims[0] = 8, k.dims[1] = 64;
    k.k = 32;
    ts_sched_default_cpu(&k, 8);
    /* one row block of 8: the default still splits N = 64 into 4+ tasks */
    CHECK(gemm_sched_legal(&k) && k.sched.gemm.nr == 16 && ts_kernel_ntasks(&k) >= 4);
    k.rank = 3;
    k.dims[0] = 2, k.dims[1] = 300, k.dims[2] = 5000;
    k.k = 4096;
    ts_sched_default_cpu(&k, 8);
    CHECK(gemm_sched_legal(&k) && k.sched.gemm.kc <= 256);
    CHECK(ts_kernel_ntasks(&k) == 2 * ((300 + k.sched.gemm.mc - 1) / k.sched.gemm.mc) *
                                     ((5000 + k.sched.gemm.nc - 1) / k.sched.gemm.nc));
    k.sched.gemm = (struct ts_sched_gemm){.mc = 120, .kc = 256, .nc = 3072, .mr = 6, .nr = 16};
    CHECK(ts_kernel_ntasks(&k) == 2 * 3 * 2); /* t = (b·mb + i)·nb + j */
    CHECK(ts_kernel_scratch_bytes(&k) == 4 * (120 * 256 + 256 * 3072) + 128);
    k.sched.gemm.mc = 100; /* A rows padded to a multiple of mr: 102 */
    CHECK(ts_kernel_scratch_bytes(&k) == (4 * (102 * 256 + 256 * 3072) + 128 + 63) / 64 * 64);
    k.rank = 2;
    k.dims[0] = 1, k.dims[1] = 16;
    ts_sched_default_cpu(&k, 8);
    CHECK(gemm_sched_legal(&k) && ts_kernel_ntasks(&k) == 1); /* N allows no split */
    k.dims[0] = 1, k.dims[1] = 4096;
    ts_sched_default_cpu(&k, 8);
    CHECK(gemm_sched_legal(&k) && ts_kernel_ntasks(&k) >= 4); /* a matrix-vector product still splits */
    k.dims[0] = 0;
    CHECK(ts_kernel_ntasks(&k) == 0);

    memset(&k, 0, sizeof k);
    k.kind = TS_KERNEL_ATTENTION;
    k.rank = 4;
    k.attn.batch = 2, k.attn.hq = 4, k.attn.sq = 100, k.attn.sk = 300, k.attn.d = 64, k.attn.dv = 64;
    k.dims[0] = 2, k.dims[1] = 4, k.dims[2] = 100, k.dims[3] = 64;
    ts_sched_default_cpu(&k, 8);
    CHECK(k.sched.attention.block_q == 32 && k.sched.attention.block_k == 64);
    CHECK(ts_kernel_ntasks(&k) == 2 * 4 * 4);
    CHECK(ts_kernel_scratch_bytes(&k) == 4 * (32 * 64 + 32 * 130 + 64 * 128) + 256);
}

/* ---- TEMP buffers and the plan ------------------------------------------ */

/* y = (x·2 + 1)·3 in three kernels through TEMP buffers t1, t2: planned in
 * one arena, in place (t2 reuses t1) and, wrongly, overlapping. */
static void test_plan(void) {
    struct tb t;
    tb_init(&t);
    int64_t dims[1] = {17};
    int bx = tb_input(&t, "x", TS_F32, 1, dims), by = tb_output(&t, "y", TS_F32, 1, dims);
    int t1 = tb_temp(&t, "t1", TS_F32, 1, dims), t2 = tb_temp(&t, "t2", TS_F32, 1, dims);
    int src[3] = {bx, t1, t2}, dst[3] = {t1, t2, by};
    double c[3] = {2, 1, 3};
    enum ts_kx_op ops[3] = {TS_KX_MUL, TS_KX_ADD, TS_KX_MUL};
    const char *names[3] = {"k0_pointwise", "k1_pointwise", "k2_pointwise"};
    for (int i = 0; i < 3; i++) {
        struct ts_kernel *k = tb_kernel(&t, TS_KERNEL_POINTWISE, names[i], 1, dims);
        int e = k_load(k, k_in(&t, k, src[i], 0, (int64_t[]){1}), TS_SCALAR_F32);
        k->out_root = k_x(k, ops[i], TS_SCALAR_F32, e, k_const(k, TS_SCALAR_F32, c[i]), -1);
        k_out(&t, k, dst[i], (int64_t[]){1});
        ts_sched_default_cpu(k, 8);
    }
    struct ts_kbuffer *b1 = &t.p->buffers[t1], *b2 = &t.p->buffers[t2];
    b1->first = 0, b1->last = 1, b2->first = 1, b2->last = 2;
    b1->offset = b2->offset = 0;
    b2->reuses = t1;
    t.p->arena_bytes = 128;
    t.p->naive_bytes = 136;

    struct ts_tensor in = tensor(TS_F32, 1, dims), out;
    fill(&in);
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, &in, &out, &t.d) == TS_OK);
    int bad = 0;
    for (int i = 0; i < 17; i++)
        bad += ts_tensor_get_f64(&out, i) != f32(f32(f32(ts_tensor_get_f64(&in, i) * 2) + 1) * 3);
    CHECK(bad == 0);
    ts_tensor_release(&out);

    FILE *f = tmpfile();
    ts_program_print_plan(t.p, f);
    rewind(f);
    char text[2048] = {0};
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = 0;
    fclose(f);
    CHECK_CONTAINS(text, "  #  name  kind    dtype       bytes      offset  live       reuses\n");
    CHECK_CONTAINS(text, "  0  x     input   f32            68           -  -          -\n");
    CHECK_CONTAINS(text, "  3  t2    temp    f32            68           0  1..2       t1\n");
    CHECK_CONTAINS(text, "peak 128 bytes (0.00 MiB) vs naive sum 136 bytes: 94.1%\n");

    /* In place only works if nothing reads t1 after t2 is written. */
    b1->last = 2;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH);
    CHECK_CONTAINS(t.d.what, "kernels 0..2) and 3 't2' (bytes [0, 68), kernels 1..2) overlap while both are live");
    b1->last = 1;
    /* Without the in-place link the two live buffers collide. */
    b2->reuses = -1;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH);
    CHECK_STR(t.d.where, "program");
    CHECK_CONTAINS(t.d.what, "buffers 2 't1' (bytes [0, 68), kernels 0..1) and 3 't2' (bytes [0, 68), kernels 1..2) "
                             "overlap while both are live");
    b2->offset = 128;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH); /* 128 + 68 > 128 */
    CHECK_CONTAINS(t.d.what, "is not a 64-byte aligned slice of the 128-byte arena");
    t.p->arena_bytes = 256;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_OK);
    CHECK(ts_program_run_ref(t.p, &in, &out, &t.d) == TS_OK);
    CHECK_NEAR(ts_tensor_get_f64(&out, 16), f32(f32(f32(ts_tensor_get_f64(&in, 16) * 2) + 1) * 3), 0, 0);
    ts_tensor_release(&out);
    /* A kernel touching a buffer outside its live range is a planning bug. */
    b1->last = 0;
    ts_diag_clear(&t.d);
    CHECK(ts_program_check(t.p, &t.d) == TS_ERR_GRAPH);
    CHECK_CONTAINS(t.d.what, "input 0 (buffer 't1') is used by kernel 1, outside its live range 0..0");
    /* Unplanned: one allocation per TEMP buffer. */
    t.p->arena_bytes = 0;
    ts_diag_clear(&t.d);
    CHECK(ts_program_run_ref(t.p, &in, &out, &t.d) == TS_OK);
    CHECK_NEAR(ts_tensor_get_f64(&out, 3), f32(f32(f32(ts_tensor_get_f64(&in, 3) * 2) + 1) * 3), 0, 0);
    ts_tensor_release(&out);
    ts_tensor_release(&in);
    ts_graph_free(t.g);
}

static void test_names(void) {
    CHECK_STR(ts_kernel_kind_name(TS_KERNEL_ATTENTION), "attention");
    CHECK_STR(ts_scalar_name(TS_SCALAR_BOOL), "bool");
    CHECK(ts_scalar_of_dtype(TS_BF16) == TS_SCALAR_F32 && ts_scalar_of_dtype(TS_I32) == TS_SCALAR_I64);
    CHECK_STR(ts_kx_op_name(TS_KX_GELU_TANH), "gelu_tanh");
    CHECK(ts_kx_op_nargs(TS_KX_SELECT) == 3 && ts_kx_op_nargs(TS_KX_LOAD_AT) == 1 && ts_kx_op_nargs(TS_KX_ROW) == 0);
    CHECK_STR(ts_row_op_name(TS_ROW_RMSNORM), "rmsnorm");
    CHECK(ts_row_op_is_elementwise(TS_ROW_LAYERNORM) && !ts_row_op_is_elementwise(TS_ROW_MEAN));
}

int main(void) {
    test_names();
    test_pointwise();
    test_gather();
    test_int_div();
    static const int64_t sizes[] = {1, 7, 17, 129};
    for (int i = 0; i < 4; i++) test_rowwise_norms(sizes[i]);
    test_rowwise_reduce();
    test_gemm();
    test_gemm_int();
    test_attention(false);
    test_attention(true);
    test_ntasks();
    test_plan();
    return ts_test_finish("test_kernel_ir");
}
