/* test_core.c — the core of ir/: f16/bf16 rounding, tensors and broadcasting,
 * the arena, diagnostics, the graph's value index, the verifier's
 * topological sort and cycle report, and the printer. */
#include <math.h>
#include <stdlib.h>

#include "ir/ir.h"
#include "test.h"

static void test_f16(void) {
    CHECK(ts_f16_from_f64(1.0) == 0x3c00);
    CHECK(ts_f16_from_f64(-2.0) == 0xc000);
    CHECK(ts_f16_from_f64(65504.0) == 0x7bff);
    CHECK(ts_f16_from_f64(65519.99) == 0x7bff); /* below the rounding boundary */
    CHECK(ts_f16_from_f64(65520.0) == 0x7c00);  /* ties to even → overflow to inf */
    CHECK(ts_f16_from_f64(INFINITY) == 0x7c00);
    CHECK((ts_f16_from_f64(NAN) & 0x7c00) == 0x7c00 && (ts_f16_from_f64(NAN) & 0x3ff));
    CHECK(ts_f16_from_f64(ldexp(1, -24)) == 0x0001);      /* smallest subnormal */
    CHECK(ts_f16_from_f64(ldexp(1, -25)) == 0x0000);      /* half of it: tie to even → 0 */
    CHECK(ts_f16_from_f64(ldexp(3, -25)) == 0x0002);      /* 1.5 quanta: tie to even → 2 */
    CHECK(ts_f16_from_f64(ldexp(1, -14)) == 0x0400);      /* smallest normal */
    CHECK(ts_f16_from_f64(1.0 + ldexp(1, -11)) == 0x3c00); /* tie: to even (down) */
    CHECK(ts_f16_from_f64(1.0 + ldexp(3, -11)) == 0x3c02); /* tie: to even (up) */
    CHECK(ts_f16_from_f64(1.0 + ldexp(1, -11) + ldexp(1, -30)) == 0x3c01); /* above tie: up (no double rounding) */
    CHECK(ts_f16_from_f64(-0.0) == 0x8000);
    CHECK_NEAR(ts_f16_to_f64(0x3555), 0.333251953125, 0, 0);
    CHECK_NEAR(ts_f16_to_f64(0x0001), ldexp(1, -24), 0, 0);
    CHECK(isinf(ts_f16_to_f64(0xfc00)) && ts_f16_to_f64(0xfc00) < 0);
    /* Every finite f16 round-trips exactly. */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        if (ts_f16_from_f64(ts_f16_to_f64((uint16_t)h)) != h) bad++;
    }
    CHECK(bad == 0);
}

static void test_bf16(void) {
    CHECK(ts_bf16_from_f64(1.0) == 0x3f80);
    CHECK(ts_bf16_from_f64(-1.5) == 0xbfc0);
    CHECK(ts_bf16_from_f64(1.0 + ldexp(1, -8)) == 0x3f80);  /* tie: to even (down) */
    CHECK(ts_bf16_from_f64(1.0 + ldexp(3, -8)) == 0x3f82);  /* tie: to even (up) */
    CHECK(ts_bf16_from_f64(3.4e38) == 0x7f80);              /* above max finite → inf */
    CHECK(ts_bf16_from_f64(ldexp(255, 120)) == 0x7f7f);     /* max finite */
    CHECK(ts_bf16_from_f64(ldexp(1, -133)) == 0x0001);      /* smallest subnormal */
    int bad = 0;
    for (uint32_t b = 0; b < 0x10000; b++) {
        if ((b & 0x7f80) == 0x7f80) continue;
        if (ts_bf16_from_f64(ts_bf16_to_f64((uint16_t)b)) != b) bad++;
    }
    CHECK(bad == 0);
}

static void test_tensor(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_tensor t;
    int64_t dims[2] = {2, 3};
    CHECK(ts_tensor_alloc(&t, TS_I32, 2, dims, "t", &d) == TS_OK);
    CHECK(t.numel == 6 && t.nbytes == 24);
    ts_tensor_set_f64(&t, 0, -2.7);  /* truncates toward zero */
    ts_tensor_set_f64(&t, 1, 1e12);  /* saturates */
    ts_tensor_set_f64(&t, 2, NAN);   /* NaN → 0 */
    ts_tensor_set_i64(&t, 3, (int64_t)1 << 32 | 5); /* wraps */
    CHECK(ts_tensor_get_i64(&t, 0) == -2);
    CHECK(ts_tensor_get_i64(&t, 1) == INT32_MAX);
    CHECK(ts_tensor_get_i64(&t, 2) == 0);
    CHECK(ts_tensor_get_i64(&t, 3) == 5);
    ts_tensor_release(&t);

    int64_t huge[3] = {1LL << 40, 1LL << 40, 1LL << 40};
    ts_diag_clear(&d);
    CHECK(ts_tensor_alloc(&t, TS_F32, 3, huge, "big", &d) == TS_ERR_NOMEM);
    CHECK_STR(d.where, "big");
    CHECK_CONTAINS(d.what, "overflows");

    /* A zero dim makes a tensor empty, but its other dims must still fit
     * together: the strides of [0, 2^40, 2^40, 2^40] would overflow. */
    int64_t empty_dims[4] = {1LL << 40, 1LL << 40, 1LL << 40, 0};
    ts_diag_clear(&d);
    CHECK(ts_tensor_alloc(&t, TS_F32, 4, empty_dims, "empty", &d) == TS_ERR_NOMEM);
    CHECK_STR(d.what, "f32 [1099511627776, 1099511627776, 1099511627776, 0] is too large: its size in bytes "
                      "overflows 64 bits");
    int64_t empty_ok[3] = {1LL << 20, 0, 1LL << 20};
    ts_diag_clear(&d);
    CHECK(ts_tensor_alloc(&t, TS_F32, 3, empty_ok, "empty", &d) == TS_OK);
    CHECK(t.numel == 0 && t.nbytes == 0);
    ts_tensor_release(&t);
    CHECK(ts_dims_fit(2, (int64_t[]){1LL << 30, 1LL << 30}, 4, NULL));
    CHECK(!ts_dims_fit(2, (int64_t[]){1LL << 31, 1LL << 31}, 4, NULL)); /* 2^64 bytes */

    int64_t out[3] = {4, 2, 3}, in[2] = {1, 3}, st[3];
    ts_broadcast_strides(2, in, 3, out, st);
    CHECK(st[0] == 0 && st[1] == 0 && st[2] == 1);
    int64_t idx[3] = {0, 0, 0}, count = 1;
    while (ts_index_next(3, out, idx)) count++;
    CHECK(count == 24);
}

static void test_diag_and_arena(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    ts_diag_set(&d, TS_ERR_GRAPH, "g.json", "node 'add#0'", "first %d", 1);
    ts_diag_set(&d, TS_ERR_SHAPE, "other.json", "x", "second"); /* ignored: the first error stays */
    char buf[512];
    ts_diag_format(&d, buf, sizeof buf);
    CHECK_STR(buf, "g.json: node 'add#0': first 1");
    CHECK(d.status == TS_ERR_GRAPH);
    ts_diag_clear(&d);
    ts_diag_set(&d, TS_ERR_IO, "f", "", "two\nlines");
    ts_diag_format(&d, buf, sizeof buf);
    CHECK_STR(buf, "f: two lines");

    struct ts_arena *a = ts_arena_init();
    char *s = ts_arena_printf(a, "%s-%d", "x", 7);
    CHECK_STR(s, "x-7");
    unsigned char *big = ts_arena_alloc(a, 1 << 20);
    CHECK(big[0] == 0 && big[(1 << 20) - 1] == 0);
    CHECK(((uintptr_t)ts_arena_alloc(a, 3) & 15) == 0);
    ts_arena_free(a);
}

static int add_input(struct ts_graph *g, const char *name) {
    int id;
    struct ts_diag d;
    ts_diag_clear(&d);
    enum ts_status st = ts_graph_add_value(g, name, TS_VALUE_INPUT, &id, &d);
    TS_ASSERT(st == TS_OK);
    g->values[id].dtype = TS_F32;
    g->values[id].rank = 1;
    g->values[id].dims[0] = (struct ts_dim){4, -1};
    return id;
}

static int add_node_value(struct ts_graph *g, const char *name) {
    int id;
    enum ts_status st = ts_graph_add_value(g, name, TS_VALUE_NODE, &id, NULL);
    TS_ASSERT(st == TS_OK);
    return id;
}

static void test_graph_and_verify(void) {
    struct ts_graph *g = ts_graph_init("mem.json");
    struct ts_diag d;
    ts_diag_clear(&d);
    int x = add_input(g, "x");
    int y = add_node_value(g, "y"), z = add_node_value(g, "z");
    /* z = exp(y) comes before y = relu(x) in the "file". */
    ts_graph_add_node(g, TS_OP_EXP, NULL, 1, &y, 1, &z);
    ts_graph_add_node(g, TS_OP_RELU, NULL, 1, &x, 1, &y);
    int dup;
    CHECK(ts_graph_add_value(g, "x", TS_VALUE_CONSTANT, &dup, &d) == TS_ERR_GRAPH);
    CHECK_STR(d.what, "value 'x' is defined twice: as an input and as a constant");
    CHECK(ts_graph_find_value(g, "z") == z && ts_graph_find_value(g, "nope") == -1);
    g->outputs = &g->values[0].producer; /* any int storage */
    int outs[1] = {z};
    g->outputs = outs;
    g->noutputs = 1;
    ts_diag_clear(&d);
    CHECK(ts_graph_verify(g, &d) == TS_OK);
    CHECK(g->nodes[0].op == TS_OP_RELU && g->nodes[1].op == TS_OP_EXP);
    CHECK_STR(g->nodes[0].name, "relu#1"); /* names keep the file position */
    CHECK(g->values[y].producer == 0 && g->values[z].producer == 1);
    ts_graph_free(g);

    /* a cycle: a = add(x, b), b = exp(a) */
    g = ts_graph_init("cyc.json");
    x = add_input(g, "x");
    int a = add_node_value(g, "a"), b = add_node_value(g, "b");
    int ins[2] = {x, b};
    ts_graph_add_node(g, TS_OP_ADD, NULL, 2, ins, 1, &a);
    ts_graph_add_node(g, TS_OP_EXP, "e", 1, &a, 1, &b);
    g->outputs = outs;
    outs[0] = b;
    g->noutputs = 1;
    ts_diag_clear(&d);
    CHECK(ts_graph_verify(g, &d) == TS_ERR_GRAPH);
    char buf[512];
    ts_diag_format(&d, buf, sizeof buf);
    CHECK_STR(buf, "cyc.json: node 'add#0': the graph has a cycle: this node's input 'b' depends on its own output");
    ts_graph_free(g);

    /* wrong arity */
    g = ts_graph_init("ar.json");
    x = add_input(g, "x");
    a = add_node_value(g, "a");
    ts_graph_add_node(g, TS_OP_ADD, "sum", 1, &x, 1, &a);
    outs[0] = a;
    g->outputs = outs;
    g->noutputs = 1;
    ts_diag_clear(&d);
    CHECK(ts_graph_verify(g, &d) == TS_ERR_GRAPH);
    ts_diag_format(&d, buf, sizeof buf);
    CHECK_STR(buf, "ar.json: node 'sum' (add): add takes 2 inputs, got 1");
    ts_graph_free(g);
}

static void test_op_table(void) {
    enum ts_op op;
    CHECK(ts_op_from_name("attention", &op) && op == TS_OP_ATTENTION);
    CHECK(!ts_op_from_name("conv2d", &op));
    CHECK(ts_op_attr_index(TS_OP_MATMUL, "transpose_b") == 1);
    CHECK(ts_op_attr_index(TS_OP_MATMUL, "transpose") == -1);
    const struct ts_op_info *rope = ts_op_get(TS_OP_ROPE);
    CHECK(rope->nattrs == 3 && rope->min_inputs == 1 && rope->max_inputs == 2);
    CHECK(ts_op_get(TS_OP_ADD)->nattrs == 0);
    CHECK(ts_op_get(TS_OP_SPLIT)->max_outputs == -1);
    /* every op has a name, a shape rule and a reference kernel */
    int complete = 0;
    for (int i = 0; i < TS_OP_COUNT; i++) {
        const struct ts_op_info *info = ts_op_get((enum ts_op)i);
        complete += info->name && info->shape && info->ref;
    }
    CHECK(complete == TS_OP_COUNT);
    enum ts_dtype t;
    CHECK(ts_dtype_from_name("bf16", &t) && t == TS_BF16 && ts_dtype_size(t) == 2);
    CHECK(!ts_dtype_from_name("f64", &t));
}

int main(void) {
    test_f16();
    test_bf16();
    test_tensor();
    test_diag_and_arena();
    test_graph_and_verify();
    test_op_table();
    return ts_test_finish("ir core");
}
