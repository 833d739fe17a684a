/* test_ops_layout.c — shape rules and reference kernels of the layout ops
 * (transpose, reshape, slice, concat, split, gather) and the transformer ops
 * (rope, attention): one-node graphs built in memory, checked against values
 * computed by hand and against the exact error messages for bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "test.h"

/* One node under test: its graph, its input values and tensors, its outputs. */
struct tcase {
    struct ts_graph *g;
    struct ts_node *n;
    int nin;
    int ids[4];
    struct ts_tensor in[4];
    struct ts_tensor out[4];
    struct ts_diag d;
    char err[1100];
};

static void tc_init(struct tcase *c) {
    memset(c, 0, sizeof *c);
    c->g = ts_graph_init("");
}

static void tc_free(struct tcase *c) {
    for (int i = 0; i < 4; i++) {
        ts_tensor_release(&c->in[i]);
        ts_tensor_release(&c->out[i]);
    }
    ts_graph_free(c->g);
}

/* Adds an input value and its tensor, filled from vals (NULL: zeros). */
static void tc_in(struct tcase *c, const char *name, enum ts_dtype dt, int rank, const int64_t *dims,
                  const double *vals) {
    int id = -1;
    CHECK(ts_graph_add_value(c->g, name, TS_VALUE_INPUT, &id, &c->d) == TS_OK);
    ts_value_set_shape(&c->g->values[id], dt, rank, dims);
    struct ts_tensor *t = &c->in[c->nin];
    CHECK(ts_tensor_alloc(t, dt, rank, dims, name, &c->d) == TS_OK);
    for (int64_t i = 0; vals && i < t->numel; i++) {
        if (ts_dtype_is_float(dt)) ts_tensor_set_f64(t, i, vals[i]);
        else ts_tensor_set_i64(t, i, (int64_t)vals[i]);
    }
    c->ids[c->nin++] = id;
}

/* An omitted optional input ("" in the graph file). */
static void tc_omit(struct tcase *c) {
    c->ids[c->nin++] = -1;
}

/* Adds the node (named "t") with outputs y0, y1, …; attrs hold their defaults. */
static void tc_node(struct tcase *c, enum ts_op op, int nout) {
    int outs[4];
    for (int i = 0; i < nout; i++) {
        char name[16];
        snprintf(name, sizeof name, "y%d", i);
        CHECK(ts_graph_add_value(c->g, name, TS_VALUE_NODE, &outs[i], &c->d) == TS_OK);
    }
    c->n = ts_graph_add_node(c->g, op, "t", c->nin, c->ids, nout, outs);
}

static struct ts_attr *attr(struct tcase *c, const char *name) {
    int i = ts_op_attr_index(c->n->op, name);
    TS_ASSERT(i >= 0);
    c->n->attrs[i].present = true;
    return &c->n->attrs[i];
}

static void set_i(struct tcase *c, const char *name, int64_t v) {
    attr(c, name)->i = v;
}

static void set_f(struct tcase *c, const char *name, double v) {
    attr(c, name)->f = v;
}

static void set_ints(struct tcase *c, const char *name, const int64_t *v, int len) {
    struct ts_attr *a = attr(c, name);
    a->ints = ts_arena_alloc(c->g->arena, (size_t)(len ? len : 1) * sizeof *v);
    memcpy(a->ints, v, (size_t)len * sizeof *v);
    a->n = len;
}

/* Runs the shape rule, then the reference kernel through the interpreter. The
 * input array has exactly one entry per node input, so that a kernel reading
 * past it trips the address sanitizer. */
static enum ts_status tc_run(struct tcase *c) {
    const struct ts_tensor **in = malloc((size_t)c->nin * sizeof *in);
    TS_ASSERT(in);
    for (int i = 0; i < c->nin; i++) in[i] = c->ids[i] >= 0 ? &c->in[i] : NULL;
    enum ts_status st = ts_op_get(c->n->op)->shape(c->g, c->n, &c->d);
    if (st == TS_OK) st = ts_interp_node(c->g, c->n, in, c->out, &c->d);
    free(in);
    return st;
}

/* The message of the error tc_run must fail with, or a note that it did not. */
static const char *tc_err(struct tcase *c, enum ts_status want) {
    enum ts_status st = tc_run(c);
    if (st != want)
        snprintf(c->err, sizeof c->err, "(status %s, want %s) %s", ts_status_name(st),
                 ts_status_name(want), c->d.what);
    else snprintf(c->err, sizeof c->err, "%s", c->d.what);
    return c->err;
}

static const char *shape_str(const struct ts_tensor *t) {
    static char buf[128];
    return ts_dims_str(t->rank, t->dims, buf, sizeof buf);
}

/* Checks every element of t against want[] (as a compile-time array). */
#define CHECK_VALS(t, want, tol)                                                        \
    do {                                                                                \
        int64_t n_ = (int64_t)(sizeof(want) / sizeof((want)[0]));                       \
        CHECK((t)->numel == n_);                                                        \
        for (int64_t i_ = 0; i_ < n_ && i_ < (t)->numel; i_++)                          \
            CHECK_NEAR(ts_tensor_get_f64((t), i_), (want)[i_], (tol), 0);               \
    } while (0)

/* ---- movement ----------------------------------------------------------- */

static void test_transpose(void) {
    struct tcase c;
    tc_init(&c); /* the 2x3 case */
    tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    tc_node(&c, TS_OP_TRANSPOSE, 1);
    set_ints(&c, "perm", (int64_t[]){1, 0}, 2);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[3, 2]");
    CHECK_VALS(&c.out[0], ((double[]){1, 4, 2, 5, 3, 6}), 0);
    tc_free(&c);

    /* Rank 3, i64 values beyond 2^53 must move exactly: y[k, i, 0] = x[i, 0, k]. */
    int64_t big[4] = {(1LL << 53) + 1, -(1LL << 62) + 3, INT64_MAX, INT64_MIN};
    tc_init(&c);
    tc_in(&c, "a", TS_I64, 3, (int64_t[]){2, 1, 2}, NULL);
    for (int i = 0; i < 4; i++) ts_tensor_set_i64(&c.in[0], i, big[i]);
    tc_node(&c, TS_OP_TRANSPOSE, 1);
    set_ints(&c, "perm", (int64_t[]){2, 0, 1}, 3);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[2, 2, 1]");
    CHECK(ts_tensor_get_i64(&c.out[0], 0) == big[0]);
    CHECK(ts_tensor_get_i64(&c.out[0], 1) == big[2]);
    CHECK(ts_tensor_get_i64(&c.out[0], 2) == big[1]);
    CHECK(ts_tensor_get_i64(&c.out[0], 3) == big[3]);
    tc_free(&c);

    tc_init(&c);
    tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 3}, NULL);
    tc_node(&c, TS_OP_TRANSPOSE, 1);
    set_ints(&c, "perm", (int64_t[]){0, 0}, 2);
    CHECK_STR(tc_err(&c, TS_ERR_GRAPH),
              "perm [0, 0] does not name each axis of 'a' (input x) of rank 2 exactly once (the axes "
              "are 0..1, or -2..-1 counting from the end)");
    CHECK_STR(c.d.where, "node 't' (transpose)");
    tc_free(&c);

    tc_init(&c);
    tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 3}, NULL);
    tc_node(&c, TS_OP_TRANSPOSE, 1);
    set_ints(&c, "perm", (int64_t[]){1, 0, 2}, 3);
    CHECK_STR(tc_err(&c, TS_ERR_GRAPH), "perm [1, 0, 2] has length 3, but 'a' (input x) has rank 2");
    tc_free(&c);

    /* Entries may count from the end, like any axis (FORMAT.md): [-1, 0, 1, 2]
     * on [2, 1, 3, 2] moves the last axis first, as perm [3, 0, 1, 2] would. */
    tc_init(&c);
    tc_in(&c, "x", TS_F32, 4, (int64_t[]){2, 1, 3, 2},
          (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    tc_node(&c, TS_OP_TRANSPOSE, 1);
    set_ints(&c, "perm", (int64_t[]){-1, 0, 1, 2}, 4);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[2, 2, 1, 3]");
    CHECK_VALS(&c.out[0], ((double[]){1, 3, 5, 7, 9, 11, 2, 4, 6, 8, 10, 12}), 0);
    tc_free(&c);

    tc_init(&c); /* every entry negative: [-1, -2] is [1, 0] */
    tc_in(&c, "x", TS_I32, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    tc_node(&c, TS_OP_TRANSPOSE, 1);
    set_ints(&c, "perm", (int64_t[]){-1, -2}, 2);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[3, 2]");
    CHECK_VALS(&c.out[0], ((double[]){1, 4, 2, 5, 3, 6}), 0);
    tc_free(&c);

    /* An axis named twice, once from each end; and entries past either end. */
    static const struct {
        int64_t p0, p1;
        const char *msg;
    } bad[] = {
        {1, -1, "perm [1, -1] does not name each axis of input 'x' of rank 2 exactly once (the axes "
                "are 0..1, or -2..-1 counting from the end)"},
        {0, -3, "perm [0, -3] does not name each axis of input 'x' of rank 2 exactly once (the axes "
                "are 0..1, or -2..-1 counting from the end)"},
        {2, 0, "perm [2, 0] does not name each axis of input 'x' of rank 2 exactly once (the axes "
               "are 0..1, or -2..-1 counting from the end)"},
        {INT64_MIN, 0, "perm [-9223372036854775808, 0] does not name each axis of input 'x' of "
                       "rank 2 exactly once (the axes are 0..1, or -2..-1 counting from the end)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tc_init(&c);
        tc_in(&c, "x", TS_F32, 2, (int64_t[]){2, 3}, NULL);
        tc_node(&c, TS_OP_TRANSPOSE, 1);
        set_ints(&c, "perm", (int64_t[]){bad[i].p0, bad[i].p1}, 2);
        CHECK_STR(tc_err(&c, TS_ERR_GRAPH), bad[i].msg);
        tc_free(&c);
    }

    tc_init(&c); /* a scalar takes the empty perm only */
    tc_in(&c, "s", TS_F32, 0, (int64_t[]){0}, (double[]){7});
    tc_node(&c, TS_OP_TRANSPOSE, 1);
    set_ints(&c, "perm", (int64_t[]){0}, 0);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_VALS(&c.out[0], ((double[]){7}), 0);
    tc_free(&c);
    tc_init(&c);
    tc_in(&c, "s", TS_F32, 0, (int64_t[]){0}, NULL);
    tc_node(&c, TS_OP_TRANSPOSE, 1);
    set_ints(&c, "perm", (int64_t[]){-1}, 1);
    CHECK_STR(tc_err(&c, TS_ERR_GRAPH), "perm [-1] must be empty for 's' (input x) of rank 0");
    tc_free(&c);
}

static void test_reshape(void) {
    struct tcase c;
    tc_init(&c); /* [2, 3] → [seq, -1] with seq bound to 3; bool data moves as is */
    int seq = ts_graph_add_symbol(c.g, "seq", 4);
    c.g->symbols[seq].size = 3;
    tc_in(&c, "a", TS_BOOL, 2, (int64_t[]){2, 3}, (double[]){1, 0, 0, 1, 1, 0});
    tc_node(&c, TS_OP_RESHAPE, 1);
    struct ts_attr *a = attr(&c, "shape");
    a->dims = ts_arena_alloc(c.g->arena, 2 * sizeof *a->dims);
    a->dims[0] = (struct ts_dim){.size = -1, .sym = seq};
    a->dims[1] = (struct ts_dim){.size = -1, .sym = -1};
    a->n = 2;
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[3, 2]");
    CHECK(c.out[0].dtype == TS_BOOL);
    CHECK_VALS(&c.out[0], ((double[]){1, 0, 0, 1, 1, 0}), 0);
    tc_free(&c);

    /* Each bad shape attribute with its message. */
    static const struct {
        int64_t s0, s1;
        enum ts_status st;
        const char *msg;
    } bad[] = {
        {-1, -1, TS_ERR_GRAPH, "shape has more than one -1 (entries 0 and 1)"},
        {4, 2, TS_ERR_SHAPE,
         "cannot reshape 'a' (input x) of shape [2, 3] (6 elements) into [4, 2] (8 elements)"},
        {4, -1, TS_ERR_SHAPE,
         "cannot infer the -1 in shape: 'a' (input x) of shape [2, 3] has 6 elements, not a "
         "multiple of 4"},
        {0, -1, TS_ERR_SHAPE, "cannot infer the -1 in shape beside a dim of size 0"},
        {-2, 3, TS_ERR_GRAPH, "shape entry 0 is -2; sizes must be >= 0, or -1 to infer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tc_init(&c);
        tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 3}, NULL);
        tc_node(&c, TS_OP_RESHAPE, 1);
        a = attr(&c, "shape");
        a->dims = ts_arena_alloc(c.g->arena, 2 * sizeof *a->dims);
        a->dims[0] = (struct ts_dim){.size = bad[i].s0, .sym = -1};
        a->dims[1] = (struct ts_dim){.size = bad[i].s1, .sym = -1};
        a->n = 2;
        CHECK_STR(tc_err(&c, bad[i].st), bad[i].msg);
        tc_free(&c);
    }
}

static void test_slice(void) {
    struct tcase c;
    tc_init(&c); /* range(6)[-1:-7:-2] = [5, 3, 1]: end -7 clamps to "before 0" */
    tc_in(&c, "a", TS_I32, 1, (int64_t[]){6}, (double[]){0, 1, 2, 3, 4, 5});
    tc_node(&c, TS_OP_SLICE, 1);
    set_i(&c, "axis", 0);
    set_i(&c, "start", -1);
    set_i(&c, "end", -7);
    set_i(&c, "step", -2);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_VALS(&c.out[0], ((double[]){5, 3, 1}), 0);
    tc_free(&c);

    tc_init(&c); /* [[0,1,2,3],[4,5,6,7]][:, 1:100:2] along axis -1 */
    tc_in(&c, "a", TS_F16, 2, (int64_t[]){2, 4}, (double[]){0, 1, 2, 3, 4, 5, 6, 7});
    tc_node(&c, TS_OP_SLICE, 1);
    set_i(&c, "axis", -1);
    set_i(&c, "start", 1);
    set_i(&c, "end", 100);
    set_i(&c, "step", 2);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[2, 2]");
    CHECK_VALS(&c.out[0], ((double[]){1, 3, 5, 7}), 0);
    tc_free(&c);

    /* Output lengths against Python: len(range(n)[start:end:step]). */
    static const struct {
        int64_t n, start, end, step, len;
    } cases[] = {
        {6, 10, -10, -1, 6},         {6, 4, 2, 1, 0},  {6, -100, 100, 4, 2},
        {6, 2, -1, 1, 3},            {6, -2, -100, -3, 2}, {6, 5, 5, -1, 0},
        {0, 0, 5, 1, 0},             {6, 5, INT64_MIN, INT64_MIN, 1},
        {6, INT64_MIN, INT64_MAX, 1, 6}, {6, 6, 0, -1, 5}, {6, -7, 6, 1, 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tc_init(&c);
        tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, cases[i].n}, NULL);
        tc_node(&c, TS_OP_SLICE, 1);
        set_i(&c, "axis", 1);
        set_i(&c, "start", cases[i].start);
        set_i(&c, "end", cases[i].end);
        set_i(&c, "step", cases[i].step);
        CHECK(tc_run(&c) == TS_OK);
        CHECK(c.out[0].dims[1] == cases[i].len);
        tc_free(&c);
    }

    tc_init(&c);
    tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 4}, NULL);
    tc_node(&c, TS_OP_SLICE, 1);
    set_i(&c, "axis", 0);
    set_i(&c, "start", 0);
    set_i(&c, "end", 1);
    set_i(&c, "step", 0);
    CHECK_STR(tc_err(&c, TS_ERR_GRAPH), "step must not be 0");
    tc_free(&c);

    tc_init(&c);
    tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 4}, NULL);
    tc_node(&c, TS_OP_SLICE, 1);
    set_i(&c, "axis", 2);
    set_i(&c, "start", 0);
    set_i(&c, "end", 1);
    CHECK_STR(tc_err(&c, TS_ERR_SHAPE), "axis 2 is out of range for 'a' (input x) of rank 2");
    tc_free(&c);
}

static void test_concat_split(void) {
    struct tcase c;
    tc_init(&c); /* [[1],[2]] ++ [[3,4],[5,6]] along axis -1 */
    tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 1}, (double[]){1, 2});
    tc_in(&c, "b", TS_F32, 2, (int64_t[]){2, 2}, (double[]){3, 4, 5, 6});
    tc_in(&c, "e", TS_F32, 2, (int64_t[]){2, 0}, NULL); /* an empty input adds nothing */
    tc_node(&c, TS_OP_CONCAT, 1);
    set_i(&c, "axis", -1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[2, 3]");
    CHECK_VALS(&c.out[0], ((double[]){1, 3, 4, 2, 5, 6}), 0);
    tc_free(&c);

    tc_init(&c);
    tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 1}, NULL);
    tc_in(&c, "b", TS_F16, 2, (int64_t[]){2, 2}, NULL);
    tc_node(&c, TS_OP_CONCAT, 1);
    set_i(&c, "axis", 1);
    CHECK_STR(tc_err(&c, TS_ERR_SHAPE), "'b' (input x2) has dtype f16, but 'a' (input x1) has f32");
    tc_free(&c);

    tc_init(&c);
    tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 1}, NULL);
    tc_omit(&c);
    tc_node(&c, TS_OP_CONCAT, 1);
    set_i(&c, "axis", 1);
    CHECK_STR(tc_err(&c, TS_ERR_GRAPH), "input x2 is omitted: concat needs them all");
    tc_free(&c);

    tc_init(&c);
    tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 1}, NULL);
    tc_in(&c, "b", TS_F32, 2, (int64_t[]){3, 2}, NULL);
    tc_node(&c, TS_OP_CONCAT, 1);
    set_i(&c, "axis", 1);
    CHECK_STR(tc_err(&c, TS_ERR_SHAPE),
              "'b' (input x2) has shape [3, 2], which does not match 'a' (input x1) of shape [2, 1] "
              "outside axis 1");
    tc_free(&c);

    tc_init(&c); /* [[0,1,2],[3,4,5]] split into columns [1, 2] (and an empty third) */
    tc_in(&c, "a", TS_BF16, 2, (int64_t[]){2, 3}, (double[]){0, 1, 2, 3, 4, 5});
    tc_node(&c, TS_OP_SPLIT, 3);
    set_i(&c, "axis", 1);
    set_ints(&c, "sizes", (int64_t[]){1, 2, 0}, 3);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[2, 1]");
    CHECK_VALS(&c.out[0], ((double[]){0, 3}), 0);
    CHECK_STR(shape_str(&c.out[1]), "[2, 2]");
    CHECK_VALS(&c.out[1], ((double[]){1, 2, 4, 5}), 0);
    CHECK_STR(shape_str(&c.out[2]), "[2, 0]");
    tc_free(&c);

    static const struct {
        int64_t sizes[2];
        int nsizes;
        enum ts_status st;
        const char *msg;
    } bad[] = {
        {{2, 2}, 2, TS_ERR_SHAPE, "sizes [2, 2] do not sum to 3, the size of axis 1 of 'a' (input x)"},
        {{3}, 1, TS_ERR_GRAPH, "sizes [3] has 1 entries, but the node has 2 outputs"},
        {{4, -1}, 2, TS_ERR_GRAPH, "sizes [4, -1] has the negative entry -1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tc_init(&c);
        tc_in(&c, "a", TS_F32, 2, (int64_t[]){2, 3}, NULL);
        tc_node(&c, TS_OP_SPLIT, 2);
        set_i(&c, "axis", 1);
        set_ints(&c, "sizes", bad[i].sizes, bad[i].nsizes);
        CHECK_STR(tc_err(&c, bad[i].st), bad[i].msg);
        tc_free(&c);
    }
}

static void test_gather(void) {
    static const double table[6] = {10, 11, 20, 21, 30, 31}; /* [3, 2] */
    struct tcase c;
    tc_init(&c); /* take rows [-1, 0] */
    tc_in(&c, "wte", TS_F32, 2, (int64_t[]){3, 2}, table);
    tc_in(&c, "tok", TS_I64, 1, (int64_t[]){2}, (double[]){-1, 0});
    tc_node(&c, TS_OP_GATHER, 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[2, 2]");
    CHECK_VALS(&c.out[0], ((double[]){30, 31, 10, 11}), 0);
    tc_free(&c);

    tc_init(&c); /* axis 1 with [2, 2] i32 indices: y[r, a, b] = table[r, idx[a, b]] */
    tc_in(&c, "wte", TS_F32, 2, (int64_t[]){3, 2}, table);
    tc_in(&c, "tok", TS_I32, 2, (int64_t[]){2, 2}, (double[]){1, 0, -2, 1});
    tc_node(&c, TS_OP_GATHER, 1);
    set_i(&c, "axis", 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[3, 2, 2]");
    CHECK_VALS(&c.out[0], ((double[]){11, 10, 10, 11, 21, 20, 20, 21, 31, 30, 30, 31}), 0);
    tc_free(&c);

    tc_init(&c); /* a scalar index drops the axis */
    tc_in(&c, "wte", TS_F32, 2, (int64_t[]){3, 2}, table);
    tc_in(&c, "tok", TS_I32, 0, NULL, (double[]){2});
    tc_node(&c, TS_OP_GATHER, 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[2]");
    CHECK_VALS(&c.out[0], ((double[]){30, 31}), 0);
    tc_free(&c);

    tc_init(&c); /* out of range: a run-time error naming the index and where it is */
    tc_in(&c, "wte", TS_F32, 2, (int64_t[]){3, 2}, table);
    tc_in(&c, "tok", TS_I32, 2, (int64_t[]){2, 2}, (double[]){0, 1, 3, 0});
    tc_node(&c, TS_OP_GATHER, 1);
    CHECK_STR(tc_err(&c, TS_ERR_RUNTIME),
              "index 3 at position [1, 0] of 'tok' (input indices) is out of range [-3, 3) for "
              "axis 0 of 'wte' (input table)");
    tc_free(&c);

    tc_init(&c);
    tc_in(&c, "wte", TS_F32, 2, (int64_t[]){3, 2}, table);
    tc_in(&c, "tok", TS_I64, 1, (int64_t[]){2}, (double[]){0, -4});
    tc_node(&c, TS_OP_GATHER, 1);
    CHECK_STR(tc_err(&c, TS_ERR_RUNTIME),
              "index -4 at position [1] of 'tok' (input indices) is out of range [-3, 3) for "
              "axis 0 of 'wte' (input table)");
    tc_free(&c);

    tc_init(&c); /* no indices: an empty output, nothing read */
    tc_in(&c, "wte", TS_F32, 2, (int64_t[]){3, 2}, table);
    tc_in(&c, "tok", TS_I64, 1, (int64_t[]){0}, NULL);
    tc_node(&c, TS_OP_GATHER, 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[0, 2]");
    tc_free(&c);

    tc_init(&c); /* an empty table has no valid index at all */
    tc_in(&c, "wte", TS_F32, 2, (int64_t[]){0, 2}, NULL);
    tc_in(&c, "tok", TS_I64, 1, (int64_t[]){1}, (double[]){0});
    tc_node(&c, TS_OP_GATHER, 1);
    CHECK_STR(tc_err(&c, TS_ERR_RUNTIME),
              "index 0 at position [0] of 'tok' (input indices) is out of range [0, 0) for "
              "axis 0 of 'wte' (input table)");
    tc_free(&c);

    tc_init(&c);
    tc_in(&c, "wte", TS_F32, 2, (int64_t[]){3, 2}, table);
    tc_in(&c, "tok", TS_F32, 1, (int64_t[]){2}, NULL);
    tc_node(&c, TS_OP_GATHER, 1);
    CHECK_STR(tc_err(&c, TS_ERR_SHAPE), "'tok' (input indices) has dtype f32, expected i32 or i64");
    tc_free(&c);
}

/* ---- rope --------------------------------------------------------------- */

static void test_rope(void) {
    struct tcase c;
    double c1 = cos(1.0), s1 = sin(1.0), c01 = cos(0.1), s01 = sin(0.1);

    tc_init(&c); /* head_dim 2, positions 0 and 1: row 0 unchanged, row 1 turns by 1 rad */
    tc_in(&c, "x", TS_F32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 2, 1, 2});
    tc_omit(&c);
    tc_node(&c, TS_OP_ROPE, 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_VALS(&c.out[0], ((double[]){1, 2, 1 * c1 - 2 * s1, 2 * c1 + 1 * s1}), 1e-6);
    tc_free(&c);

    /* head_dim 4, theta 100: θ0 = 1, θ1 = 100^(-1/2) = 0.1, p = 1 from a positions input. */
    for (int inter = 0; inter < 2; inter++) {
        tc_init(&c);
        tc_in(&c, "x", TS_F32, 2, (int64_t[]){1, 4}, (double[]){1, 2, 3, 4});
        tc_in(&c, "pos", TS_I64, 1, (int64_t[]){1}, (double[]){1});
        tc_node(&c, TS_OP_ROPE, 1);
        set_f(&c, "theta", 100);
        set_i(&c, "interleaved", inter);
        CHECK(tc_run(&c) == TS_OK);
        if (!inter) /* rotate half: pairs (x0, x2) and (x1, x3) */
            CHECK_VALS(&c.out[0], ((double[]){1 * c1 - 3 * s1, 2 * c01 - 4 * s01, 3 * c1 + 1 * s1,
                                              4 * c01 + 2 * s01}),
                       1e-6);
        else /* interleaved: pairs (x0, x1) and (x2, x3) */
            CHECK_VALS(&c.out[0], ((double[]){1 * c1 - 2 * s1, 2 * c1 + 1 * s1, 3 * c01 - 4 * s01,
                                              4 * c01 + 3 * s01}),
                       1e-6);
        tc_free(&c);
    }

    tc_init(&c); /* rotary_dim 2 of 4: only (x0, x1) turn, x2 and x3 pass through */
    tc_in(&c, "x", TS_F32, 2, (int64_t[]){2, 4}, (double[]){1, 2, 3, 4, 1, 2, 3, 4});
    tc_node(&c, TS_OP_ROPE, 1);
    set_i(&c, "rotary_dim", 2);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_VALS(&c.out[0], ((double[]){1, 2, 3, 4, 1 * c1 - 2 * s1, 2 * c1 + 1 * s1, 3, 4}), 1e-6);
    tc_free(&c);

    /* Per-batch positions [2, 1] broadcast over x [2, 1, 2]: p = 3 and p = -1. */
    tc_init(&c);
    tc_in(&c, "x", TS_F32, 3, (int64_t[]){2, 1, 2}, (double[]){1, 0, 1, 0});
    tc_in(&c, "pos", TS_I32, 2, (int64_t[]){2, 1}, (double[]){3, -1});
    tc_node(&c, TS_OP_ROPE, 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_VALS(&c.out[0], ((double[]){cos(3.0), sin(3.0), cos(-1.0), sin(-1.0)}), 1e-6);
    tc_free(&c);

    tc_init(&c); /* seq 0: nothing to do, and nothing read */
    tc_in(&c, "x", TS_F32, 3, (int64_t[]){2, 0, 4}, NULL);
    tc_omit(&c);
    tc_node(&c, TS_OP_ROPE, 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[2, 0, 4]");
    tc_free(&c);

    static const struct {
        enum ts_dtype xt, pt;
        int xrank, prank;
        int64_t xd[3], pd[2];
        int64_t rot;
        enum ts_status st;
        const char *msg;
    } bad[] = {
        {TS_F32, TS_DTYPE_COUNT, 2, 0, {2, 4}, {0}, 3, TS_ERR_GRAPH, "rotary_dim 3 must be even and positive"},
        {TS_F32, TS_DTYPE_COUNT, 2, 0, {2, 4}, {0}, 6, TS_ERR_SHAPE,
         "rotary_dim 6 is larger than head_dim 4 of input 'x'"},
        {TS_F32, TS_DTYPE_COUNT, 2, 0, {2, 5}, {0}, 0, TS_ERR_GRAPH,
         "rotary_dim 5 must be even and positive (it defaults to head_dim)"},
        {TS_F32, TS_DTYPE_COUNT, 1, 0, {4}, {0}, 0, TS_ERR_SHAPE,
         "input 'x' has rank 1, expected rank >= 2 ([..., seq, head_dim])"},
        {TS_I32, TS_DTYPE_COUNT, 2, 0, {2, 4}, {0}, 0, TS_ERR_SHAPE,
         "input 'x' has dtype i32, expected a float dtype"},
        {TS_F32, TS_F32, 2, 1, {2, 4}, {2}, 0, TS_ERR_SHAPE,
         "'pos' (input positions) has dtype f32, expected i32 or i64"},
        {TS_F32, TS_I32, 3, 2, {2, 3, 4}, {3, 2}, 0, TS_ERR_SHAPE,
         "'pos' (input positions) of shape [3, 2] does not broadcast to [2, 3], the shape of "
         "input 'x' without its last dim"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tc_init(&c);
        tc_in(&c, "x", bad[i].xt, bad[i].xrank, bad[i].xd, NULL);
        if (bad[i].pt != TS_DTYPE_COUNT) tc_in(&c, "pos", bad[i].pt, bad[i].prank, bad[i].pd, NULL);
        tc_node(&c, TS_OP_ROPE, 1);
        if (bad[i].rot) set_i(&c, "rotary_dim", bad[i].rot);
        CHECK_STR(tc_err(&c, bad[i].st), bad[i].msg);
        tc_free(&c);
    }
}

/* ---- attention ---------------------------------------------------------- */

/* q [1, hq, sq, d], k [1, hkv, sk, d], v [1, hkv, sk, dv], optional mask. */
static void attn_case(struct tcase *c, int64_t hq, int64_t hkv, int64_t sq, int64_t sk, int64_t d,
                      int64_t dv, const double *q, const double *k, const double *v) {
    tc_init(c);
    tc_in(c, "q", TS_F32, 4, (int64_t[]){1, hq, sq, d}, q);
    tc_in(c, "k", TS_F32, 4, (int64_t[]){1, hkv, sk, d}, k);
    tc_in(c, "v", TS_F32, 4, (int64_t[]){1, hkv, sk, dv}, v);
}

static void test_attention(void) {
    struct tcase c;
    /* One key: softmax over one score is 1, so the output is v whatever q and k are. */
    attn_case(&c, 1, 1, 1, 1, 2, 3, (double[]){0.3, -2}, (double[]){5, 1}, (double[]){1, 2, 3});
    tc_node(&c, TS_OP_ATTENTION, 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_STR(shape_str(&c.out[0]), "[1, 1, 1, 3]");
    CHECK_VALS(&c.out[0], ((double[]){1, 2, 3}), 1e-6);
    tc_free(&c);

    /* Two keys, default scale 1/sqrt(2): scores [1/√2, 0], out = w0·1 + w1·3. */
    attn_case(&c, 1, 1, 1, 2, 2, 1, (double[]){1, 0}, (double[]){1, 0, 0, 1}, (double[]){1, 3});
    tc_node(&c, TS_OP_ATTENTION, 1);
    CHECK(tc_run(&c) == TS_OK);
    double e = exp(1 / sqrt(2.0)), w0 = e / (e + 1);
    CHECK_VALS(&c.out[0], ((double[]){w0 * 1 + (1 - w0) * 3}), 1e-6);
    tc_free(&c);

    /* Explicit scale 2 and scores that would overflow exp without the max subtracted. */
    attn_case(&c, 1, 1, 1, 2, 1, 1, (double[]){100}, (double[]){100, 99}, (double[]){1, -1});
    tc_node(&c, TS_OP_ATTENTION, 1);
    set_f(&c, "scale", 2);
    CHECK(tc_run(&c) == TS_OK);
    double w = 1 / (1 + exp(-200.0));
    CHECK_VALS(&c.out[0], ((double[]){w - (1 - w)}), 1e-6);
    tc_free(&c);

    /* Causal, sq 2, sk 4, all scores equal: query 0 averages keys 0..2, query 1 keys 0..3
     * (top-left alignment would give 1 and 1.5). */
    attn_case(&c, 1, 1, 2, 4, 1, 1, (double[]){0.5, 0.5}, (double[]){0, 0, 0, 0}, (double[]){1, 2, 3, 4});
    tc_node(&c, TS_OP_ATTENTION, 1);
    set_i(&c, "causal", 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_VALS(&c.out[0], ((double[]){2, 2.5}), 1e-6);
    tc_free(&c);

    /* Causal with sq 4 > sk 2: queries 0 and 1 see no key and give zeros, not NaN. */
    attn_case(&c, 1, 1, 4, 2, 1, 1, (double[]){1, 1, 1, 1}, (double[]){0, 0}, (double[]){2, 4});
    tc_node(&c, TS_OP_ATTENTION, 1);
    set_i(&c, "causal", 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_VALS(&c.out[0], ((double[]){0, 0, 2, 3}), 1e-6);
    tc_free(&c);

    /* GQA: 4 query heads on 2 kv heads; heads 0, 1 read kv head 0 and heads 2, 3 kv head 1. */
    attn_case(&c, 4, 2, 1, 1, 1, 1, (double[]){1, 2, 3, 4}, (double[]){1, 1}, (double[]){10, 20});
    tc_node(&c, TS_OP_ATTENTION, 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_VALS(&c.out[0], ((double[]){10, 10, 20, 20}), 1e-6);
    tc_free(&c);

    /* Mask [2, 2] broadcast to [1, 1, 2, 2]: row 0 weighs keys 1:3 (log 3 added), row 1 is
     * fully masked and gives zeros. */
    attn_case(&c, 1, 1, 2, 2, 1, 1, (double[]){1, 1}, (double[]){0, 0}, (double[]){4, 8});
    tc_in(&c, "m", TS_F32, 2, (int64_t[]){2, 2}, (double[]){0, log(3.0), -INFINITY, -INFINITY});
    tc_node(&c, TS_OP_ATTENTION, 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK_VALS(&c.out[0], ((double[]){7, 0}), 1e-6);
    CHECK(!isnan(ts_tensor_get_f64(&c.out[0], 1)));
    tc_free(&c);

    /* f16 inputs give an f16 output, rounded once at the end. */
    tc_init(&c);
    tc_in(&c, "q", TS_F16, 4, (int64_t[]){1, 1, 1, 1}, (double[]){1});
    tc_in(&c, "k", TS_F16, 4, (int64_t[]){1, 1, 2, 1}, (double[]){0, 0});
    tc_in(&c, "v", TS_F16, 4, (int64_t[]){1, 1, 2, 1}, (double[]){1, 2});
    tc_node(&c, TS_OP_ATTENTION, 1);
    CHECK(tc_run(&c) == TS_OK);
    CHECK(c.out[0].dtype == TS_F16);
    CHECK_VALS(&c.out[0], ((double[]){1.5}), 0);
    tc_free(&c);

    static const struct {
        int64_t q[4], k[4], v[4], m[4];
        int mrank;
        enum ts_dtype kt;
        const char *msg;
    } bad[] = {
        {{1, 8, 1, 2}, {1, 3, 1, 2}, {1, 3, 1, 2}, {0}, 0, TS_F32,
         "input 'k' has 3 heads, which does not divide the 8 heads of input 'q'"},
        {{1, 2, 1, 2}, {1, 2, 1, 3}, {1, 2, 1, 2}, {0}, 0, TS_F32,
         "input 'k' has head_dim 3, but input 'q' has 2"},
        {{1, 2, 1, 2}, {1, 2, 3, 2}, {1, 2, 4, 2}, {0}, 0, TS_F32,
         "input 'v' has shape [1, 2, 4, 2], expected 2 heads and 3 keys as input 'k'"},
        {{1, 2, 1, 2}, {2, 2, 1, 2}, {2, 2, 1, 2}, {0}, 0, TS_F32,
         "input 'k' has batch 2, but input 'q' has batch 1"},
        {{1, 2, 1, 2}, {1, 2, 1, 2}, {1, 2, 1, 2}, {0}, 0, TS_F16,
         "input 'k' has dtype f16, but input 'q' has f32"},
        {{1, 2, 1, 2}, {1, 2, 1, 2}, {1, 2, 1, 2}, {0}, 0, TS_I32,
         "input 'k' has dtype i32, expected a float dtype"},
        {{1, 2, 3, 2}, {1, 2, 4, 2}, {1, 2, 4, 2}, {3, 3}, 2, TS_F32,
         "'m' (input mask) of shape [3, 3] does not broadcast to [1, 2, 3, 4] "
         "([batch, q heads, q seq, k seq])"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tc_init(&c);
        tc_in(&c, "q", TS_F32, 4, bad[i].q, NULL);
        tc_in(&c, "k", bad[i].kt, 4, bad[i].k, NULL);
        tc_in(&c, "v", TS_F32, 4, bad[i].v, NULL);
        if (bad[i].mrank) tc_in(&c, "m", TS_F32, bad[i].mrank, bad[i].m, NULL);
        tc_node(&c, TS_OP_ATTENTION, 1);
        CHECK_STR(tc_err(&c, TS_ERR_SHAPE), bad[i].msg);
        tc_free(&c);
    }

    tc_init(&c); /* q of rank 3 */
    tc_in(&c, "q", TS_F32, 3, (int64_t[]){1, 1, 2}, NULL);
    tc_in(&c, "k", TS_F32, 4, (int64_t[]){1, 1, 1, 2}, NULL);
    tc_in(&c, "v", TS_F32, 4, (int64_t[]){1, 1, 1, 2}, NULL);
    tc_node(&c, TS_OP_ATTENTION, 1);
    CHECK_STR(tc_err(&c, TS_ERR_SHAPE),
              "input 'q' has rank 3, expected 4 ([batch, heads, seq, head_dim])");
    tc_free(&c);

    /* Values not named after their roles: each name comes with its role. */
    tc_init(&c);
    tc_in(&c, "queries", TS_F32, 4, (int64_t[]){1, 4, 1, 2}, NULL);
    tc_in(&c, "keys", TS_F32, 4, (int64_t[]){1, 3, 1, 2}, NULL);
    tc_in(&c, "values", TS_F32, 4, (int64_t[]){1, 3, 1, 2}, NULL);
    tc_node(&c, TS_OP_ATTENTION, 1);
    CHECK_STR(tc_err(&c, TS_ERR_SHAPE),
              "'keys' (input k) has 3 heads, which does not divide the 4 heads of 'queries' (input q)");
    tc_free(&c);

    tc_init(&c); /* an omitted k has no name: the role alone */
    tc_in(&c, "q", TS_F32, 4, (int64_t[]){1, 1, 1, 2}, NULL);
    tc_omit(&c);
    tc_in(&c, "v", TS_F32, 4, (int64_t[]){1, 1, 1, 2}, NULL);
    tc_node(&c, TS_OP_ATTENTION, 1);
    CHECK_STR(tc_err(&c, TS_ERR_GRAPH), "input k is omitted: attention needs it");
    tc_free(&c);
}

int main(void) {
    test_transpose();
    test_reshape();
    test_slice();
    test_concat_split();
    test_gather();
    test_rope();
    test_attention();
    return ts_test_finish("test_ops_layout");
}
