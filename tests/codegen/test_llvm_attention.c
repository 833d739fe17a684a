/* test_llvm_attention.c — the LLVM CPU attention kernel against the graph
 * reference (ts_ref_attention through ts_interp_node): hand-built one-kernel
 * programs over awkward sizes, causal bottom-right alignment, GQA/MQA, every
 * mask broadcast, transposed and strided layouts, f16/bf16, an epilogue, and
 * a small set of block schedules that must all agree with the reference. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "runtime/runtime.h"
#include "test.h"

enum mask_kind {
    MASK_NONE,
    MASK_FULL,    /* [b, hq, sq, sk], some entries -inf, one row all -inf */
    MASK_2D,      /* [sq, sk] shared by every batch and head */
    MASK_PAD,     /* [b, 1, 1, sk]: key padding */
    MASK_COL,     /* [sq, 1]: one value per query row */
};

enum layout {
    LAYOUT_BHSD,  /* row-major as the roles say */
    LAYOUT_BSHD,  /* q, k, v and the output stored [b, s, h, d] */
    LAYOUT_KT,    /* k stored [b, hkv, d, s] (inner stride sk), q at an offset */
};

struct acase {
    int64_t b, hq, hkv, sq, sk, d, dv;
    bool causal;
    enum mask_kind mask;
    enum ts_dtype dtype;
    enum layout layout;
    double scale;   /* 0: the default 1/sqrt(d) */
    bool epilogue;  /* out = 0.5·attention + bias[e] */
};

/* The CPU the kernels are compiled for: the vector width changes the tails. */
static const char *cpu_name;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double urand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / (double)(1ull << 52) - 1.0;
}

static void put(enum ts_dtype t, void *buf, int64_t i, double v) {
    struct ts_tensor x;
    int64_t n = i + 1;
    ts_tensor_view(&x, t, 1, &n, buf);
    ts_tensor_set_f64(&x, i, v);
}
static double get(enum ts_dtype t, void *buf, int64_t i) {
    struct ts_tensor x;
    int64_t n = i + 1;
    ts_tensor_view(&x, t, 1, &n, buf);
    return ts_tensor_get_f64(&x, i);
}

/* A logical tensor's element at index [a0, a1, a2, a3] goes to physical
 * offset off + Σ strides·index in a buffer of 'numel' elements. */
struct phys {
    void *data;
    int64_t numel, off, strides[4];
};

static void scatter(const struct ts_tensor *t, int rank, struct phys *p) {
    int64_t idx[4] = {0}, dims[4] = {1, 1, 1, 1};
    for (int i = 0; i < rank; i++) dims[4 - rank + i] = t->dims[i];
    for (int64_t e = 0; e < t->numel; e++) {
        int64_t r = e, at = p->off;
        for (int i = 3; i >= 0; i--) {
            idx[i] = r % dims[i];
            r /= dims[i];
        }
        for (int i = 4 - rank; i < 4; i++) at += idx[i] * p->strides[i];
        put(t->dtype, p->data, at, ts_tensor_get_f64(t, e));
    }
}

enum { GUARD = 256 };
static bool guard_intact(const unsigned char *g) {
    for (int i = 0; i < GUARD; i++)
        if (g[i] != 0xa5) return false;
    return true;
}

static void alloc_phys(struct phys *p, enum ts_dtype t, int64_t numel, int64_t off,
                       int64_t s0, int64_t s1, int64_t s2, int64_t s3) {
    p->numel = numel + off;
    p->off = off;
    p->data = calloc(1, (size_t)p->numel * ts_dtype_size(t) + GUARD);
    int64_t s[4] = {s0, s1, s2, s3};
    memcpy(p->strides, s, sizeof s);
}

struct ref {
    struct ts_graph *g;
    struct ts_node *n;
    struct ts_tensor in[4], out;
    int mrank;
    int64_t mdims[4];
};

/* Builds the graph node and its random inputs, and runs the reference. */
static void make_ref(const struct acase *c, struct ref *R) {
    struct ts_diag d;
    ts_diag_clear(&d);
    memset(R, 0, sizeof *R);
    R->g = ts_graph_init("");
    const char *names[5] = {"q", "k", "v", "mask", "y"};
    int ids[5];
    int nin = c->mask != MASK_NONE ? 4 : 3;
    for (int i = 0; i < 5; i++) {
        if (i == 3 && nin == 3) continue;
        ts_graph_add_value(R->g, names[i], i < 4 ? TS_VALUE_INPUT : TS_VALUE_NODE, &ids[i], &d);
    }
    int64_t dq[4] = {c->b, c->hq, c->sq, c->d}, dk[4] = {c->b, c->hkv, c->sk, c->d};
    int64_t dvv[4] = {c->b, c->hkv, c->sk, c->dv}, dy[4] = {c->b, c->hq, c->sq, c->dv};
    switch (c->mask) {
    case MASK_FULL: R->mrank = 4; memcpy(R->mdims, (int64_t[]){c->b, c->hq, c->sq, c->sk}, 32); break;
    case MASK_2D: R->mrank = 2; memcpy(R->mdims, (int64_t[]){c->sq, c->sk}, 16); break;
    case MASK_PAD: R->mrank = 4; memcpy(R->mdims, (int64_t[]){c->b, 1, 1, c->sk}, 32); break;
    case MASK_COL: R->mrank = 2; memcpy(R->mdims, (int64_t[]){c->sq, 1}, 16); break;
    default: break;
    }
    const int64_t *dims[4] = {dq, dk, dvv, R->mdims};
    int ranks[4] = {4, 4, 4, R->mrank};
    for (int i = 0; i < nin; i++) {
        ts_value_set_shape(&R->g->values[ids[i]], c->dtype, ranks[i], dims[i]);
        CHECK(ts_tensor_alloc(&R->in[i], c->dtype, ranks[i], dims[i], names[i], &d) == TS_OK);
        for (int64_t e = 0; e < R->in[i].numel; e++) {
            double v = i < 2 ? 1.5 * urand() : urand();
            ts_tensor_set_f64(&R->in[i], e, v);
        }
    }
    if (c->mask == MASK_FULL) {
        /* Some keys masked out, and the whole first row of the first head. */
        for (int64_t e = 0; e < R->in[3].numel; e++)
            if (e % 5 == 2 || e < c->sk) ts_tensor_set_f64(&R->in[3], e, -INFINITY);
    }
    ts_value_set_shape(&R->g->values[ids[4]], c->dtype, 4, dy);
    int ins[4] = {ids[0], ids[1], ids[2], nin == 4 ? ids[3] : -1};
    R->n = ts_graph_add_node(R->g, TS_OP_ATTENTION, "attn", nin, ins, 1, &ids[4]);
    ts_node_set_defaults(R->n);
    struct ts_attr *causal = &R->n->attrs[ts_op_attr_index(TS_OP_ATTENTION, "causal")];
    causal->present = true;
    causal->i = c->causal;
    if (c->scale != 0) {
        struct ts_attr *s = &R->n->attrs[ts_op_attr_index(TS_OP_ATTENTION, "scale")];
        s->present = true;
        s->type = TS_ATTR_FLOAT;
        s->f = c->scale;
    }
    const struct ts_tensor *in[4] = {&R->in[0], &R->in[1], &R->in[2], nin == 4 ? &R->in[3] : NULL};
    CHECK(ts_interp_node(R->g, R->n, in, &R->out, &d) == TS_OK);
}

static void free_ref(struct ref *R) {
    for (int i = 0; i < 4; i++) ts_tensor_release(&R->in[i]);
    ts_tensor_release(&R->out);
    ts_graph_free(R->g);
}

/* Runs the case through the JIT with each schedule of 'scheds' (all kernels in
 * one program) and compares every output with the reference. */
static void run_case(const struct acase *c, const int (*scheds)[2], int nsched) {
    struct ref R;
    make_ref(c, &R);
    struct ts_diag d;
    ts_diag_clear(&d);
    int nin = c->mask != MASK_NONE ? 4 : 3;
    int nops = nin + (c->epilogue ? 1 : 0);
    enum ts_dtype t = c->dtype;

    /* Physical buffers in the case's layout. */
    struct phys ph[6];
    memset(ph, 0, sizeof ph);
    int64_t B = c->b, hq = c->hq, hkv = c->hkv, sq = c->sq, sk = c->sk, hd = c->d, dv = c->dv;
    if (c->layout == LAYOUT_BSHD) {
        alloc_phys(&ph[0], t, B * sq * hq * hd, 0, sq * hq * hd, hd, hq * hd, 1);
        alloc_phys(&ph[1], t, B * sk * hkv * hd, 0, sk * hkv * hd, hd, hkv * hd, 1);
        alloc_phys(&ph[2], t, B * sk * hkv * dv, 0, sk * hkv * dv, dv, hkv * dv, 1);
    } else {
        int64_t qoff = c->layout == LAYOUT_KT ? 5 : 0;
        alloc_phys(&ph[0], t, B * hq * sq * hd, qoff, hq * sq * hd, sq * hd, hd, 1);
        if (c->layout == LAYOUT_KT)
            alloc_phys(&ph[1], t, B * hkv * hd * sk, 0, hkv * hd * sk, hd * sk, 1, sk);
        else
            alloc_phys(&ph[1], t, B * hkv * sk * hd, 0, hkv * sk * hd, sk * hd, hd, 1);
        alloc_phys(&ph[2], t, B * hkv * sk * dv, 0, hkv * sk * dv, sk * dv, dv, 1);
    }
    for (int i = 0; i < 3; i++) scatter(&R.in[i], 4, &ph[i]);
    if (nin == 4) {
        int64_t full[4] = {B, hq, sq, sk}, ms[4];
        ts_broadcast_strides(R.mrank, R.mdims, 4, full, ms);
        alloc_phys(&ph[3], t, R.in[3].numel, 0, 0, 0, 0, 0);
        /* the mask's own row-major strides, for scattering it */
        int64_t own[4] = {0};
        ts_shape_strides(R.mrank, R.mdims, own + 4 - R.mrank);
        memcpy(ph[3].strides, own, sizeof own);
        scatter(&R.in[3], R.mrank, &ph[3]);
        memcpy(ph[3].strides, ms, sizeof ms); /* as the kernel reads it */
    }
    int bias = nin;
    if (c->epilogue) {
        alloc_phys(&ph[bias], TS_F32, dv, 0, 0, 0, 0, 1);
        for (int64_t e = 0; e < dv; e++) put(TS_F32, ph[bias].data, e, urand());
    }
    enum ts_dtype ot = c->epilogue ? TS_F32 : t;
    struct phys *out = &ph[5];
    if (c->layout == LAYOUT_BSHD)
        alloc_phys(out, ot, B * sq * hq * dv, 0, sq * hq * dv, dv, hq * dv, 1);
    else
        alloc_phys(out, ot, B * hq * sq * dv, 0, hq * sq * dv, sq * dv, dv, 1);

    /* One kernel per schedule, all in one program. */
    struct ts_kbuffer bufs[6];
    memset(bufs, 0, sizeof bufs);
    for (int i = 0; i < 6; i++) {
        bufs[i].kind = i == 5 ? TS_KBUF_OUTPUT : TS_KBUF_INPUT;
        bufs[i].dtype = i == 5 ? ot : i == bias && c->epilogue ? TS_F32 : t;
        bufs[i].nbytes = ph[i].numel * (int64_t)ts_dtype_size(bufs[i].dtype);
        bufs[i].value = -1;
        bufs[i].name = "x";
    }
    struct ts_koperand ops[6];
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < 6; i++) {
        ops[i].buffer = i;
        ops[i].dtype = bufs[i].dtype;
        ops[i].offset = ph[i].off;
        memcpy(ops[i].strides, ph[i].strides, sizeof ph[i].strides);
    }
    struct ts_kx ex[5] = {
        {.op = TS_KX_ACC, .type = TS_SCALAR_F32, .dtype = TS_F32},
        {.op = TS_KX_CONST, .type = TS_SCALAR_F32, .dtype = TS_F32, .f = 0.5},
        {.op = TS_KX_MUL, .type = TS_SCALAR_F32, .dtype = TS_F32, .a = 0, .b = 1},
        {.op = TS_KX_LOAD, .type = TS_SCALAR_F32, .dtype = TS_F32, .a = bias},
        {.op = TS_KX_ADD, .type = TS_SCALAR_F32, .dtype = TS_F32, .a = 2, .b = 3},
    };
    struct ts_koperand kin[5];
    for (int i = 0; i < nops; i++) kin[i] = ops[i];
    struct ts_kernel kern[16];
    char names[16][32];
    TS_ASSERT(nsched <= 16);
    memset(kern, 0, sizeof kern);
    for (int s = 0; s < nsched; s++) {
        struct ts_kernel *k = &kern[s];
        snprintf(names[s], sizeof names[s], "k%d_attention", s);
        k->kind = TS_KERNEL_ATTENTION;
        k->name = names[s];
        k->rank = 4;
        memcpy(k->dims, (int64_t[]){B, hq, sq, dv}, 32);
        k->inputs = kin;
        k->ninputs = nops;
        k->output = ops[5];
        k->output.buffer = 5;
        k->expr = c->epilogue ? ex : NULL;
        k->nexpr = c->epilogue ? 5 : 0;
        k->out_root = c->epilogue ? 4 : -1;
        k->x_root = -1;
        k->attn.batch = B;
        k->attn.hq = hq;
        k->attn.hkv = hkv;
        k->attn.sq = sq;
        k->attn.sk = sk;
        k->attn.d = hd;
        k->attn.dv = dv;
        k->attn.scale = c->scale != 0 ? c->scale : hd > 0 ? 1.0 / sqrt((double)hd) : 1.0;
        k->attn.causal = c->causal;
        k->attn.has_mask = nin == 4;
        k->sched.attention.block_q = scheds[s][0];
        k->sched.attention.block_k = scheds[s][1];
        if (scheds[s][0] == 0) ts_sched_default_cpu(k, 8);
    }
    struct ts_program p = {.graph = R.g, .buffers = bufs, .nbuffers = 6, .kernels = kern, .nkernels = nsched};
    struct ts_cpu_code *code = NULL;
    struct ts_cpu_opts opts = {.cpu = cpu_name, .opt_level = 3};
    void *fns[16] = {0};
    enum ts_status st = ts_cpu_codegen(&p, &opts, &code, &d);
    if (st == TS_OK) st = ts_cpu_code_jit(code, fns, &d);
    CHECK(st == TS_OK);
    if (st != TS_OK) ts_diag_print(&d, stderr);

    /* Tolerances: f32 (the observed error is ~3e-7 for these lengths); f16/bf16 one output rounding. */
    double atol = 1e-5, rtol = 1e-5;
    if (t == TS_F16) atol = 1e-4, rtol = 1e-3;
    if (t == TS_BF16) atol = 1e-3, rtol = 1.6e-2;
    void *args[6];
    for (int i = 0; i < 6; i++) args[i] = ph[i].data;
    args[nops] = out->data; /* the output follows the kernel's inputs */
    for (int s = 0; st == TS_OK && s < nsched; s++) {
        int64_t ntasks = ts_kernel_ntasks(&kern[s]);
        int64_t sb = ts_kernel_scratch_bytes(&kern[s]);
        /* JIT code is not instrumented by ASan: guard bytes after the scratch
         * and the output catch writes past their ends. */
        size_t obytes = (size_t)(out->numel * (int64_t)ts_dtype_size(ot));
        unsigned char *scratch = aligned_alloc(64, (size_t)sb + GUARD);
        memset(scratch + sb, 0xa5, GUARD);
        memset(out->data, 0xff, obytes); /* NaN everywhere */
        memset((char *)out->data + obytes, 0xa5, GUARD);
        ts_rt_kernel_fn fn = (ts_rt_kernel_fn)fns[s];
        /* Two calls, to check that [begin, end) ranges compose. */
        int64_t half = ntasks / 2;
        CHECK(fn((void *const *)args, 0, half, scratch) == 0);
        CHECK(fn((void *const *)args, half, ntasks, scratch) == 0);
        CHECK(guard_intact(scratch + sb));
        CHECK(guard_intact((unsigned char *)out->data + obytes));
        free(scratch);
        int bad = 0;
        double worst = 0;
        for (int64_t bb = 0; bb < B; bb++)
            for (int64_t h = 0; h < hq; h++)
                for (int64_t i = 0; i < sq; i++)
                    for (int64_t e = 0; e < dv; e++) {
                        int64_t li = ((bb * hq + h) * sq + i) * dv + e;
                        int64_t pi = bb * out->strides[0] + h * out->strides[1] + i * out->strides[2] +
                                     e * out->strides[3];
                        double want = ts_tensor_get_f64(&R.out, li);
                        if (c->epilogue) want = 0.5 * want + get(TS_F32, ph[bias].data, e);
                        double got = get(ot, out->data, pi);
                        double err = fabs(got - want);
                        if (!(err <= atol + rtol * fabs(want))) {
                            if (bad++ < 3)
                                fprintf(stderr, "  [%lld,%lld,%lld,%lld] got %.9g want %.9g\n", (long long)bb,
                                        (long long)h, (long long)i, (long long)e, got, want);
                        }
                        if (err > worst) worst = err;
                    }
        if (bad || getenv("TS_VERBOSE"))
            fprintf(stderr,
                    "case b%lld hq%lld hkv%lld sq%lld sk%lld d%lld dv%lld causal%d mask%d %s layout%d "
                    "sched %dx%d cpu %s: %d bad, worst %.3g\n",
                    (long long)B, (long long)hq, (long long)hkv, (long long)sq, (long long)sk, (long long)hd,
                    (long long)dv, c->causal, c->mask, ts_dtype_name(t), c->layout, kern[s].sched.attention.block_q,
                    kern[s].sched.attention.block_k, cpu_name, bad, worst);
        CHECK(bad == 0);
    }
    ts_cpu_code_free(code);
    for (int i = 0; i < 6; i++) free(ph[i].data);
    free_ref(&R);
}

static const int all_scheds[][2] = {{1, 1},  {1, 16}, {1, 64}, {7, 1},  {7, 16},
                                    {7, 64}, {32, 1}, {32, 16}, {32, 64}, {0, 0}};
static const int few_scheds[][2] = {{0, 0}, {7, 16}};

/* Every schedule of the set on shapes that stress the block edges ('first'
 * to 'last' of them: fewer on the extra CPUs, to keep compile time down). */
static void test_schedules(int first, int last) {
    struct acase cs[] = {
        {1, 2, 1, 17, 17, 7, 9, true, MASK_NONE, TS_F32, LAYOUT_BHSD, 0, false},
        {1, 4, 2, 33, 129, 17, 16, false, MASK_FULL, TS_F32, LAYOUT_BSHD, 0, false},
        {2, 2, 2, 7, 70, 8, 8, true, MASK_PAD, TS_F16, LAYOUT_BHSD, 0, false},
    };
    for (int i = first; i <= last; i++) run_case(&cs[i], all_scheds, 10);
}

/* The shapes and features of the brief, with the default and one odd schedule. */
static void test_cases(int nsched) {
    struct acase cs[] = {
        /* decode: one query against many keys, causal sees all of them */
        {2, 4, 4, 1, 129, 64, 64, true, MASK_NONE, TS_F32, LAYOUT_BHSD, 0, false},
        {1, 1, 1, 1, 1, 1, 1, false, MASK_NONE, TS_F32, LAYOUT_BHSD, 0, false},
        {1, 3, 1, 7, 1, 5, 3, true, MASK_NONE, TS_F32, LAYOUT_BHSD, 0, false},   /* sk = 1, MQA */
        /* sq > sk causal: the first rows see no key and give zeros */
        {1, 2, 1, 17, 7, 16, 16, true, MASK_NONE, TS_F32, LAYOUT_BHSD, 0, false},
        /* sq < sk causal (bottom-right) with GQA */
        {1, 8, 2, 17, 127, 32, 24, true, MASK_2D, TS_F32, LAYOUT_BHSD, 0.3, false},
        {2, 3, 3, 127, 127, 64, 64, true, MASK_NONE, TS_F32, LAYOUT_BSHD, 0, false},
        {1, 2, 2, 129, 17, 9, 11, false, MASK_COL, TS_F32, LAYOUT_KT, 0, false},
        {1, 2, 1, 19, 33, 16, 20, false, MASK_FULL, TS_F32, LAYOUT_KT, 0, false},
        {2, 2, 1, 9, 40, 24, 8, false, MASK_PAD, TS_BF16, LAYOUT_BSHD, 0, false},
        {1, 4, 4, 64, 64, 64, 64, true, MASK_NONE, TS_F16, LAYOUT_BHSD, 0, false},
        {1, 4, 4, 64, 64, 64, 64, false, MASK_FULL, TS_BF16, LAYOUT_BHSD, 0, false},
        {1, 2, 2, 17, 23, 7, 129, true, MASK_NONE, TS_F32, LAYOUT_BHSD, 0, true}, /* epilogue */
        {1, 1, 1, 5, 6, 0, 4, false, MASK_NONE, TS_F32, LAYOUT_BHSD, 0, false},   /* d = 0 */
        {1, 2, 2, 5, 0, 8, 8, true, MASK_NONE, TS_F32, LAYOUT_BHSD, 0, false},    /* no keys: zeros */
        /* sharp softmax: large score swings between key blocks rescale the accumulators */
        {1, 2, 1, 33, 70, 16, 16, false, MASK_NONE, TS_F32, LAYOUT_BHSD, 5.0, false},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) run_case(&cs[i], few_scheds, nsched);
}

int main(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_codegen_check_target(TS_TARGET_CPU, &d) != TS_OK) {
        printf("test_llvm_attention: skipped (%s)\n", d.what);
        return 0;
    }
    /* The host (AVX-512, or AVX2 on CI) in full; AVX2 + FMA and SSE2 without
     * FMA (other vector widths and tails) on a subset. */
    cpu_name = "native";
    test_schedules(0, 2);
    test_cases(2);
    cpu_name = "portable";
    test_schedules(0, 0);
    test_cases(1);
    cpu_name = "x86-64";
    test_schedules(2, 2);
    return ts_test_finish("test_llvm_attention");
}
