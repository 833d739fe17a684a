/* space.c — search spaces: a kernel's candidate schedules on a target, the
 * default first, every one legal (ts_tune_check) and no two alike, in a
 * fixed order. Here the builder and the CPU spaces; space_cuda.c has the GPU
 * ones. Spaces are sized to be measured, each candidate costing a compile:
 * a few hundred GEMM candidates, a few tens for the other kinds. */
#include <stdlib.h>
#include <string.h>

#include "autotune/space_internal.h"

static int64_t cdiv(int64_t a, int64_t b) { return b > 0 ? (a + b - 1) / b : 0; }
static int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Counts a refusal, keeping the first one's message. */
static void reject(struct ts_space_builder *b, const struct ts_diag *d) {
    if (b->out->rejected++ == 0) ts_diag_format(d, b->out->first_reject, sizeof b->out->first_reject);
}

bool ts_space_add(struct ts_space_builder *b, const union ts_sched *s) {
    if (b->nomem) return false;
    struct ts_tune_space *out = b->out;
    for (int i = 0; i < out->n; i++)
        if (ts_tune_sched_equal(b->k->kind, b->t->kind, s, &out->cands[i])) return false;
    /* The other target's fields stay the kernel's own, so that a candidate
     * assigned whole still passes ts_program_check (which reads the CPU
     * fields even when compiling for the GPU). */
    union ts_sched full = b->k->sched;
    ts_tune_sched_copy(b->k->kind, b->t->kind, &full, s);
    b->probe.sched = full;
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_tune_check(&b->probe, b->t, &d) != TS_OK) {
        reject(b, &d);
        return false;
    }
    if (out->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        union ts_sched *c = realloc(out->cands, (size_t)cap * sizeof *c);
        if (!c) {
            b->nomem = true;
            return false;
        }
        out->cands = c;
        b->cap = cap;
    }
    out->cands[out->n++] = full;
    return true;
}

/* ---- CPU ------------------------------------------------------------------- */

static int lanes(const struct ts_tune_target *t) { return t->vector_bits >= 32 ? t->vector_bits / 32 : 1; }

/* Adds v to a small list unless it is there already. */
static void push_unique(int64_t *list, int *n, int64_t v) {
    for (int i = 0; i < *n; i++)
        if (list[i] == v) return;
    list[(*n)++] = v;
}

/* n split into equal blocks of at most max_block (a multiple of unit): the
 * block size, as ir/kernel.c balances the default's (K = 300 is two panels
 * of 150, not 256 + 44). */
static int64_t balanced(int64_t n, int64_t max_block, int64_t unit) {
    max_block = max64(unit, max_block / unit * unit);
    int64_t nb = cdiv(n, max_block);
    return round_up(cdiv(n, nb), unit);
}

/* The CPU workers field of a candidate's kind. */
static void set_threads(enum ts_kernel_kind kind, union ts_sched *s, int threads) {
    switch (kind) {
    case TS_KERNEL_POINTWISE: s->pointwise.threads = threads; break;
    case TS_KERNEL_ROWWISE: s->rowwise.threads = threads; break;
    case TS_KERNEL_GEMM: s->gemm.threads = threads; break;
    case TS_KERNEL_ATTENTION: s->attention.threads = threads; break;
    default: break;
    }
}

/* Worker counts tried: all (0), and one when the target has more, for the
 * small kernels where waking the pool costs more than it saves. */
static int thread_options(const struct ts_tune_target *t, bool small, int *out) {
    int n = 0;
    out[n++] = 0;
    if (t->threads > 1 && small) out[n++] = 1;
    return n;
}

/* GEMM register blocks (mr, vectors per row), best-known shapes first:
 * 6×2 and 4×3 fill AVX2's 16 registers, 8×3, 6×4, 12×2 and 14×2 AVX-512's
 * 32; tall 1-vector blocks (8, 12, 14 rows) suit narrow N; ts_tune_check
 * drops those the target's registers cannot hold. */
static const int gemm_blocks[][2] = {
    {6, 2}, {4, 3}, {8, 3}, {6, 4}, {12, 2}, {14, 2}, {8, 2}, {5, 4}, {4, 4}, {14, 1},
    {12, 1}, {8, 1}, {5, 2}, {3, 4}, {4, 2}, {16, 1}, {6, 3}, {10, 2}, {2, 4}, {3, 3},
};
/* Register blocks per space: with ~5 kc, ~2 mc and ~4 nc values each this
 * keeps a 512×768×768 GEMM near 350 candidates. */
#define MAX_BLOCKS 10
/* GEMMs with at most this many FLOPs also try one worker (~100 µs on one
 * core): below it the pool's wake-up and the split are worth measuring. */
#define SMALL_GEMM_FLOPS (16.0 * 1024 * 1024)

static void gemm_shape(const struct ts_kernel *k, int64_t *batch, int64_t *m, int64_t *n) {
    int r = k->rank;
    *batch = 1;
    for (int i = 0; i + 2 < r; i++) *batch *= max64(k->dims[i], 1);
    *m = max64(r >= 2 ? k->dims[r - 2] : 1, 1);
    *n = max64(r >= 1 ? k->dims[r - 1] : 1, 1);
}

/* Whether the register block alone (smallest cache blocks) is legal. */
static bool block_legal(struct ts_space_builder *b, int mr, int nr) {
    b->probe.sched = (union ts_sched){0};
    struct ts_sched_gemm *g = &b->probe.sched.gemm;
    g->mr = g->mc = mr;
    g->nr = g->nc = nr;
    g->kc = 1;
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_tune_check(&b->probe, b->t, &d) == TS_OK) return true;
    reject(b, &d);
    return false;
}

static void space_gemm_cpu(struct ts_space_builder *b) {
    const struct ts_kernel *k = b->k;
    const struct ts_tune_target *t = b->t;
    const struct ts_sched_gemm *def = &b->out->cands[0].gemm;
    int vw = lanes(t);
    int64_t batch, m, n, kd = max64(k->k, 1);
    gemm_shape(k, &batch, &m, &n);
    int64_t l2 = t->l2_bytes > 0 ? t->l2_bytes : vw >= 16 ? 1 << 20 : 512 << 10;

    /* Register blocks: the default's first, rows capped at M (a 1-row GEMM
     * is a matrix-vector product: padding rows only multiplies zeros) and
     * vectors at N's. The list's blocks have at least 8 accumulators (FMA
     * latency × pipes); only a small M leaves fewer. */
    int blocks[MAX_BLOCKS][2], nblocks = 0;
    int nvmax = (int)max64(1, cdiv(n, vw));
    int nlist = (int)(sizeof gemm_blocks / sizeof gemm_blocks[0]);
    for (int i = -1; i < nlist && nblocks < MAX_BLOCKS; i++) {
        int mr = i < 0 ? def->mr : (int)min64(gemm_blocks[i][0], m);
        int nv = i < 0 ? def->nr / vw : gemm_blocks[i][1];
        if (i >= 0 && nv > nvmax) continue;
        bool dup = false;
        for (int j = 0; j < nblocks; j++) dup = dup || (blocks[j][0] == mr && blocks[j][1] == nv);
        if (dup || nv < 1 || !block_legal(b, mr, nv * vw)) continue;
        blocks[nblocks][0] = mr;
        blocks[nblocks][1] = nv;
        nblocks++;
    }

    /* Depth panels, balanced: K = 4097 capped at 128 is 33 panels of 125 (the last 97), not 32 of 128 and one of 1. */
    static const int kc_max[] = {64, 128, 192, 256, 384, 512};
    int64_t kcs[6];
    int nkc = 0;
    for (int i = 0; i < 6; i++) push_unique(kcs, &nkc, balanced(kd, kc_max[i], 1));

    int threads[2];
    int nthreads = thread_options(t, 2.0 * (double)batch * (double)m * (double)n * (double)kd <= SMALL_GEMM_FLOPS,
                                  threads);
    static const int nc_max[] = {128, 256, 512, 1024, 2048};
    for (int bi = 0; bi < nblocks; bi++) {
        int mr = blocks[bi][0], nr = blocks[bi][1] * vw;
        /* Column blocks: the packed B panel (kc × nc) from L1-sized slivers to L3-sized panels. */
        int64_t ncs[5];
        int nnc = 0;
        for (int i = 0; i < 5; i++) push_unique(ncs, &nnc, balanced(n, max64(nc_max[i], nr), nr));
        for (int ki = 0; ki < nkc; ki++) {
            /* Row blocks: the packed A block (mc × kc) in a quarter or half of the L2. */
            int64_t mcs[2];
            int nmc = 0;
            for (int f = 4; f >= 2; f /= 2) {
                int64_t rows = max64(mr, min64(1024, l2 / f / (4 * kcs[ki])));
                push_unique(mcs, &nmc, balanced(m, rows, mr));
            }
            for (int mi = 0; mi < nmc; mi++)
                for (int ni = 0; ni < nnc; ni++)
                    for (int ti = 0; ti < nthreads; ti++) {
                        union ts_sched s = {0};
                        s.gemm = (struct ts_sched_gemm){.mc = (int)mcs[mi], .kc = (int)kcs[ki], .nc = (int)ncs[ni],
                                                        .mr = mr, .nr = nr, .threads = threads[ti]};
                        ts_space_add(b, &s);
                    }
        }
    }
}

/* Pointwise and rowwise: vector width around the target's, rows per task
 * giving one task, one per worker, and 2, 4 and 8 per worker (balance
 * against per-task cost), on all workers or one. */
static void space_rows_cpu(struct ts_space_builder *b) {
    const struct ts_kernel *k = b->k;
    const struct ts_tune_target *t = b->t;
    int vw = lanes(t);
    int64_t rows = 1;
    int nrowdims = k->kind == TS_KERNEL_ROWWISE ? k->nouter : k->rank - 1;
    for (int i = 0; i < nrowdims; i++) rows *= max64(k->dims[i], 1);
    int64_t vws[3];
    int nvw = 0;
    for (int v = vw / 2; v <= 2 * vw; v *= 2)
        if (v >= 1 && v <= 64) push_unique(vws, &nvw, v);
    int64_t rpts[5];
    int nrpt = 0, T = t->threads > 0 ? t->threads : 1;
    int64_t ntasks[] = {1, T, 2 * T, 4 * T, 8 * T};
    for (int i = 0; i < 5; i++) push_unique(rpts, &nrpt, max64(1, cdiv(rows, ntasks[i])));
    int threads[2];
    int nthreads = thread_options(t, true, threads);
    for (int vi = 0; vi < nvw; vi++)
        for (int ri = 0; ri < nrpt; ri++)
            for (int ti = 0; ti < nthreads; ti++) {
                union ts_sched s = {0};
                if (k->kind == TS_KERNEL_POINTWISE) {
                    s.pointwise.vector_width = (int)vws[vi];
                    s.pointwise.rows_per_task = rpts[ri];
                } else {
                    s.rowwise.vector_width = (int)vws[vi];
                    s.rowwise.rows_per_task = rpts[ri];
                }
                set_threads(k->kind, &s, threads[ti]);
                ts_space_add(b, &s);
            }
}

/* Attention: query rows per task and keys per online-softmax step, each
 * capped at the sequence lengths. (256 keys a step measured 3–7× slower
 * than 128 on Zen 5 with d = 64, whatever block_q: not worth measuring.) */
static void space_attention_cpu(struct ts_space_builder *b) {
    const struct ts_kernel *k = b->k;
    static const int bq_max[] = {8, 16, 32, 64}, bk_max[] = {16, 32, 64, 128};
    int64_t bqs[4], bks[4];
    int nbq = 0, nbk = 0;
    for (int i = 0; i < 4; i++) push_unique(bqs, &nbq, min64(bq_max[i], max64(k->attn.sq, 1)));
    for (int i = 0; i < 4; i++) push_unique(bks, &nbk, min64(bk_max[i], max64(k->attn.sk, 1)));
    int threads[2];
    int nthreads = thread_options(b->t, true, threads);
    for (int qi = 0; qi < nbq; qi++)
        for (int ki = 0; ki < nbk; ki++)
            for (int ti = 0; ti < nthreads; ti++) {
                union ts_sched s = {0};
                s.attention.block_q = (int)bqs[qi];
                s.attention.block_k = (int)bks[ki];
                s.attention.threads = threads[ti];
                ts_space_add(b, &s);
            }
}

/* ---- the driver ---------------------------------------------------------------- */

enum ts_status ts_tune_space_build(const struct ts_kernel *k, const struct ts_tune_target *t,
                                   struct ts_tune_space *out, struct ts_diag *d) {
    memset(out, 0, sizeof *out);
    if (k->kind < 0 || k->kind >= TS_KERNEL_KIND_COUNT)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name ? k->name : "kernel", "bad kernel kind %d",
                           (int)k->kind);
    struct ts_space_builder b = {.k = k, .probe = *k, .t = t, .out = out};
    struct ts_cuda_arch arch;
    b.probe.sched = (union ts_sched){0};
    if (t->kind == TS_TARGET_CPU) {
        ts_sched_default_cpu(&b.probe, lanes(t));
        set_threads(k->kind, &b.probe.sched, 0);
    } else if (t->kind == TS_TARGET_CUDA) {
        TS_TRY(ts_cuda_arch_parse(t->arch, &arch, d));
        ts_cuda_sched_default(&b.probe, &arch, t->strict_f32);
    } else {
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name ? k->name : "kernel",
                           "the autotuner tunes for cpu and cuda, not %s", ts_target_name(t->kind));
    }
    /* The default is the baseline every speed-up is measured against: when
     * it is illegal the kernel cannot be tuned (the message says why). */
    union ts_sched def = b.probe.sched;
    TS_TRY(ts_tune_check(&b.probe, t, d));
    ts_space_add(&b, &def);
    if (out->n == 1) {
        if (t->kind == TS_TARGET_CUDA) {
            ts_space_cuda(&b, &arch);
        } else {
            switch (k->kind) {
            case TS_KERNEL_POINTWISE:
            case TS_KERNEL_ROWWISE: space_rows_cpu(&b); break;
            case TS_KERNEL_GEMM: space_gemm_cpu(&b); break;
            case TS_KERNEL_ATTENTION: space_attention_cpu(&b); break;
            default: break;
            }
        }
    }
    if (b.nomem || out->n == 0) {
        ts_tune_space_free(out);
        return ts_diag_set(d, TS_ERR_NOMEM, "", k->name ? k->name : "kernel", "out of memory building its search space");
    }
    return TS_OK;
}

void ts_tune_space_free(struct ts_tune_space *s) {
    if (!s) return;
    free(s->cands);
    s->cands = NULL;
    s->n = 0;
}
