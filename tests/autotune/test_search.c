/* test_search.c — the search strategies on synthetic spaces and landscapes
 * (a noisy bowl with failing regions, an estimate that ranks it with
 * Spearman ρ ≈ 0.7): exhaustive order, quality at 20% of the space,
 * determinism, resume, failures, budget, patience. Nothing is compiled. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "test.h"

/* ---- synthetic landscapes --------------------------------------------------- */

struct land {
    struct ts_tune_space sp;
    double *cost;   /* the "measured" seconds; INFINITY: fails */
    double *est;    /* the analytical estimate */
    double best_s;  /* the true best */
    int best;
};

static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* Uniform in [-1, 1), a function of (i, salt). */
static double unoise(int i, uint64_t salt) {
    return (double)(mix((uint64_t)i * 1000003u + salt) >> 11) / 9007199254740992.0 * 2 - 1;
}
/* Roughly normal, unit variance. */
static double gnoise(int i, uint64_t salt) {
    return (unoise(i, salt) + unoise(i, salt + 7) + unoise(i, salt + 13)) * 1.0;
}

static void land_finish(struct land *l) {
    l->best = -1;
    l->best_s = INFINITY;
    for (int i = 0; i < l->sp.n; i++)
        if (l->cost[i] < l->best_s) {
            l->best_s = l->cost[i];
            l->best = i;
        }
}

static void land_alloc(struct land *l, int n) {
    memset(l, 0, sizeof *l);
    l->sp.n = n;
    l->sp.cands = calloc((size_t)n, sizeof *l->sp.cands);  /* zeroed: padding too */
    l->cost = calloc((size_t)n, sizeof *l->cost);
    l->est = calloc((size_t)n, sizeof *l->est);
}
static void land_free(struct land *l) {
    free(l->sp.cands);
    free(l->cost);
    free(l->est);
}

/* The CPU GEMM grid: 6 mr×nr × 6 kc × 6 mc × 6 nc = 1296, the default first.
 * Cost: a bowl over the value positions with a kc·mc interaction, ±4% noise,
 * blocks too big for the cache (kc + mc positions ≥ 9) and 2% scattered
 * crashes failing. Estimate: the bowl with its centre misplaced, times
 * log-normal noise. */
static void land_gemm(struct land *l) {
    static const int pairs[6][2] = {{4, 16}, {6, 16}, {8, 16}, {4, 24}, {6, 24}, {4, 32}};
    static const double pair_pen[6] = {0.30, 0.00, 0.25, 0.20, 0.10, 0.45};
    static const double pair_est[6] = {0.20, 0.10, 0.05, 0.30, 0.00, 0.35};
    static const int kcs[6] = {64, 128, 192, 256, 384, 512}, mcs[6] = {48, 96, 144, 192, 288, 384},
                     ncs[6] = {96, 192, 384, 768, 1536, 3072};
    land_alloc(l, 6 * 6 * 6 * 6);
    int n = 1;
    for (int p = 0; p < 6; p++)
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++)
                for (int c = 0; c < 6; c++) {
                    bool dflt = p == 1 && a == 3 && b == 2 && c == 2;
                    int i = dflt ? 0 : n++;
                    struct ts_sched_gemm *g = &l->sp.cands[i].gemm;
                    g->mr = pairs[p][0];
                    g->nr = pairs[p][1];
                    g->kc = kcs[a];
                    g->mc = mcs[b];
                    g->nc = ncs[c];
                    double dk = a - 2.6, dm = b - 3.3, dn = c - 1.7;
                    double bowl = 1 + pair_pen[p] + 0.06 * dk * dk + 0.05 * dm * dm + 0.04 * dn * dn + 0.03 * dk * dm;
                    /* a second basin, 2% shallower, far away: hill climbing alone is caught */
                    double qk = a - 0.8, qm = b - 0.6, qn = c - 4.6;
                    double bowl2 = 1.02 + pair_pen[5 - p] + 0.07 * qk * qk + 0.06 * qm * qm + 0.05 * qn * qn;
                    if (bowl2 < bowl) bowl = bowl2;
                    l->cost[i] = 1e-3 * bowl * (1 + 0.04 * unoise(i, 1));
                    if (a + b >= 9 || unoise(i, 2) > 0.96) l->cost[i] = INFINITY;
                    double ek = a - 3.0, em = b - 2.8, en = c - 2.2;
                    double ebowl = 1 + pair_est[p] + 0.05 * ek * ek + 0.05 * em * em + 0.05 * en * en;
                    double fk = a - 1.5, fm = b - 0.2, fn = c - 4.0;
                    double ebowl2 = 1.0 + pair_est[5 - p] + 0.06 * fk * fk + 0.05 * fm * fm + 0.05 * fn * fn;
                    if (ebowl2 < ebowl) ebowl = ebowl2;
                    l->est[i] = 0.8e-3 * ebowl * exp(0.05 * gnoise(i, 3));
                }
    TS_ASSERT(n == l->sp.n);
    land_finish(l);
}

/* A pointwise grid of 300 (int64 rows_per_task, padding words in the union):
 * 6 vector widths × 10 rows per task × 5 thread counts, the default first. */
static void land_pointwise(struct land *l) {
    static const int vws[6] = {1, 2, 4, 8, 16, 32}, ths[5] = {1, 2, 4, 8, 16};
    land_alloc(l, 300);
    int n = 1;
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 10; b++)
            for (int c = 0; c < 5; c++) {
                bool dflt = a == 3 && b == 6 && c == 4;
                int i = dflt ? 0 : n++;
                struct ts_sched_pointwise *pw = &l->sp.cands[i].pointwise;
                pw->vector_width = vws[a];
                pw->rows_per_task = (int64_t)1 << b;
                pw->threads = ths[c];
                double da = a - 3.4, db = b - 4.2, dc = c - 2.8;
                double bowl = 1 + 0.08 * da * da + 0.04 * db * db + 0.10 * dc * dc;
                l->cost[i] = 2e-5 * bowl * (1 + 0.04 * unoise(i, 11));
                if ((a == 5 && c >= 3) || unoise(i, 12) > 0.96) l->cost[i] = INFINITY;
                double ea = a - 4.0, eb = b - 3.5, ec = c - 2.2;
                l->est[i] = 1e-5 * (1 + 0.06 * ea * ea + 0.05 * eb * eb + 0.08 * ec * ec) * exp(0.16 * gnoise(i, 13));
            }
    TS_ASSERT(n == l->sp.n);
    land_finish(l);
}

/* Spearman's rank correlation of cost and estimate over the candidates that work. */
static const double *rank_key;
static int rank_cmp(const void *a, const void *b) {
    double x = rank_key[*(const int *)a], y = rank_key[*(const int *)b];
    return x < y ? -1 : x > y;
}
static double spearman(const struct land *l) {
    int n = 0, *ia = malloc((size_t)l->sp.n * sizeof *ia), *ib = malloc((size_t)l->sp.n * sizeof *ib);
    double *ra = calloc((size_t)l->sp.n, sizeof *ra), *rb = calloc((size_t)l->sp.n, sizeof *rb);
    for (int i = 0; i < l->sp.n; i++)
        if (isfinite(l->cost[i])) ia[n] = ib[n] = i, n++;
    rank_key = l->cost;
    qsort(ia, (size_t)n, sizeof *ia, rank_cmp);
    rank_key = l->est;
    qsort(ib, (size_t)n, sizeof *ib, rank_cmp);
    for (int r = 0; r < n; r++) ra[ia[r]] = r, rb[ib[r]] = r;
    double d2 = 0;
    for (int i = 0; i < l->sp.n; i++)
        if (isfinite(l->cost[i])) d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
    free(ia), free(ib), free(ra), free(rb);
    return 1 - 6 * d2 / ((double)n * ((double)n * n - 1));
}

/* ---- the measuring side --------------------------------------------------- */

struct meter {
    const struct land *l;
    const double *known;   /* must never be measured */
    int *count;            /* measurements per candidate */
    int *order;            /* candidates in the order measured */
    int norder;
    int calls, bad_batch;
    double clock;          /* the fake clock: one second per measurement */
    bool flat;             /* every candidate takes 1 ms */
};
static struct meter *fake_clock_owner;
static double fake_now(void) { return fake_clock_owner->clock; }

static void meter_init(struct meter *m, const struct land *l) {
    memset(m, 0, sizeof *m);
    m->l = l;
    m->count = calloc((size_t)l->sp.n, sizeof *m->count);
    m->order = calloc((size_t)l->sp.n, sizeof *m->order);
}
static void meter_free(struct meter *m) {
    free(m->count);
    free(m->order);
}

static void measure(void *ctx, const int *idx, int n, double *seconds) {
    struct meter *m = ctx;
    m->calls++;
    if (n < 1 || n > 8) m->bad_batch++;
    for (int j = 0; j < n; j++) {
        int i = idx[j];
        if (i < 0 || i >= m->l->sp.n || (m->known && !isnan(m->known[i]))) {
            m->bad_batch++;
            seconds[j] = INFINITY;
            continue;
        }
        m->count[i]++;
        m->order[m->norder++] = i;
        m->clock += 1;
        seconds[j] = m->flat ? 1e-3 : m->l->cost[i];
    }
}

static void search(const struct land *l, struct meter *m, const double *est, const double *known, int trials,
                   uint64_t seed, struct ts_tune_search_result *r) {
    struct ts_tune_search_opts o = {.trials = trials, .seed = seed};
    m->known = known;
    ts_tune_search(&l->sp, est, known, &o, measure, m, NULL, r);
}

static bool measured_once(const struct meter *m) {
    for (int i = 0; i < m->l->sp.n; i++)
        if (m->count[i] > 1) return false;
    return m->bad_batch == 0;
}

/* ---- the tests -------------------------------------------------------------- */

static void test_landscapes(void) {
    struct land g, p;
    land_gemm(&g);
    land_pointwise(&p);
    double rg = spearman(&g), rp = spearman(&p);
    int close_g = 0, close_p = 0;
    for (int i = 0; i < g.sp.n; i++) close_g += g.cost[i] <= 1.05 * g.best_s;
    for (int i = 0; i < p.sp.n; i++) close_p += p.cost[i] <= 1.05 * p.best_s;
    printf("within 5%% of the best: gemm %d, pointwise %d\n", close_g, close_p);
    printf("landscapes: gemm n=%d best %.4g ms (#%d) rho=%.2f; pointwise n=%d best %.4g us (#%d) rho=%.2f\n", g.sp.n,
           g.best_s * 1e3, g.best, rg, p.sp.n, p.best_s * 1e6, p.best, rp);
    CHECK(rg > 0.6 && rg < 0.8);
    CHECK(rp > 0.6 && rp < 0.8);
    land_free(&g);
    land_free(&p);
}

static void test_exhaustive(void) {
    struct land l;
    land_pointwise(&l);
    for (int t = 0; t < 2; t++) {
        struct meter m;
        meter_init(&m, &l);
        struct ts_tune_search_result r;
        search(&l, &m, t ? l.est : NULL, NULL, t ? 1000 : l.sp.n, 5, &r);
        CHECK(r.exhaustive && !r.early_stop && !r.out_of_budget);
        CHECK(r.measured == l.sp.n && m.norder == l.sp.n && r.known == 0);
        bool in_order = true;
        for (int i = 0; i < m.norder; i++) in_order &= m.order[i] == i;
        CHECK(in_order);
        CHECK(measured_once(&m));
        CHECK(r.best == l.best && r.best_s == l.best_s);
        int failed = 0;
        for (int i = 0; i < l.sp.n; i++) failed += isinf(l.cost[i]);
        CHECK(r.failed == failed && failed > 0);
        CHECK(m.calls == (l.sp.n + 7) / 8);
        meter_free(&m);
    }
    /* With known results: those are skipped, the rest measured in order, and
     * the best may be a known one. */
    double *known = malloc((size_t)l.sp.n * sizeof *known);
    for (int i = 0; i < l.sp.n; i++) known[i] = i % 3 == 1 ? l.cost[i] : NAN;
    known[l.best] = l.cost[l.best];
    known[2] = INFINITY;
    int nknown = 0;
    for (int i = 0; i < l.sp.n; i++) nknown += !isnan(known[i]);
    struct meter m;
    meter_init(&m, &l);
    struct ts_tune_search_result r;
    search(&l, &m, NULL, known, l.sp.n, 5, &r);
    CHECK(r.exhaustive && r.known == nknown && r.measured == l.sp.n - nknown && measured_once(&m));
    CHECK(r.best == l.best && m.count[l.best] == 0);
    CHECK(m.order[0] == 0 && m.count[2] == 0);
    bool ascending = true;
    for (int i = 1; i < m.norder; i++) ascending &= m.order[i] > m.order[i - 1];
    CHECK(ascending);
    meter_free(&m);
    free(known);
    land_free(&l);
}

/* Within 5% of the true best with 20% of the space, for several seeds, with
 * the default patience and with none (every trial used). */
static void quality(const char *name, const struct land *l, bool with_est, bool patient, double tol) {
    int trials = l->sp.n / 5;
    double worst = 0, sum = 0;
    int used = 0, hits = 0, nseeds = 8;
    for (uint64_t seed = 1; seed <= (uint64_t)nseeds; seed++) {
        struct meter m;
        meter_init(&m, l);
        struct ts_tune_search_result r;
        struct ts_tune_search_opts o = {.trials = trials, .seed = seed, .patience = patient ? trials : 0};
        ts_tune_search(&l->sp, with_est ? l->est : NULL, NULL, &o, measure, &m, NULL, &r);
        double ratio = r.best_s / l->best_s;
        worst = fmax(worst, ratio);
        sum += ratio;
        used += r.measured;
        hits += r.best == l->best;
        CHECK(!r.exhaustive && r.measured <= trials && r.measured == m.norder && measured_once(&m));
        CHECK(patient ? r.measured == trials && !r.early_stop : r.measured == trials || r.early_stop);
        CHECK(m.order[0] == 0);
        CHECK(r.best >= 0 && r.best_s == l->cost[r.best]);
        CHECK(ratio <= 1 + tol);
        meter_free(&m);
    }
    printf("%-9s %-11s %-10s trials %3d of %4d, mean used %5.1f, best/true mean %.4f worst %.4f, true best %d/%d\n",
           name, with_est ? "estimate" : "no estimate", patient ? "patient" : "patience", trials, l->sp.n, (double)used / nseeds, sum / nseeds, worst,
           hits, nseeds);
}

static void test_quality(void) {
    struct land g, p;
    land_gemm(&g);
    land_pointwise(&p);
    for (int patient = 0; patient < 2; patient++)
        for (int e = 1; e >= 0; e--) {
            quality("gemm", &g, e, patient, 0.05);
            quality("pointwise", &p, e, patient, 0.05);
        }
    land_free(&g);
    land_free(&p);
}

static void test_determinism(void) {
    struct land l;
    land_gemm(&l);
    for (int e = 0; e < 2; e++) {
        struct meter a, b, c;
        meter_init(&a, &l);
        meter_init(&b, &l);
        meter_init(&c, &l);
        struct ts_tune_search_result ra, rb, rc;
        const double *est = e ? l.est : NULL;
        search(&l, &a, est, NULL, 200, 42, &ra);
        search(&l, &b, est, NULL, 200, 42, &rb);
        search(&l, &c, est, NULL, 200, 43, &rc);
        CHECK(a.norder == b.norder && memcmp(a.order, b.order, (size_t)a.norder * sizeof *a.order) == 0);
        CHECK(ra.best == rb.best && ra.measured == rb.measured);
        bool differ = a.norder != c.norder || memcmp(a.order, c.order, (size_t)a.norder * sizeof *a.order) != 0;
        CHECK(differ);
        meter_free(&a);
        meter_free(&b);
        meter_free(&c);
    }
    land_free(&l);
}

/* Resuming with the first results of a run as known finishes as that run:
 * the same candidates, the same best, none measured twice. */
static void check_resume(const struct land *l, const double *est, const double *known, const struct meter *whole,
                         const struct ts_tune_search_result *rw, int trials, uint64_t seed) {
    struct meter m;
    meter_init(&m, l);
    struct ts_tune_search_result r;
    search(l, &m, est, known, trials, seed, &r);
    int nknown = 0;
    bool same_set = true;
    for (int i = 0; i < l->sp.n; i++) {
        bool k = !isnan(known[i]);
        nknown += k;
        if (k && m.count[i]) same_set = false;
        if ((k || m.count[i]) != (whole->count[i] > 0)) same_set = false;
    }
    CHECK(measured_once(&m) && same_set);
    CHECK(r.known == nknown && r.measured + nknown == rw->measured);
    CHECK(r.best == rw->best && r.best_s == rw->best_s);
    CHECK(r.early_stop == rw->early_stop);
    meter_free(&m);
}

static void test_resume(void) {
    struct land l;
    land_gemm(&l);
    double *known = malloc((size_t)l.sp.n * sizeof *known);
    for (int e = 0; e < 2; e++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            const double *est = e ? l.est : NULL;
            struct meter whole;
            meter_init(&whole, &l);
            struct ts_tune_search_result rw;
            search(&l, &whole, est, NULL, 60, seed, &rw);
            CHECK(rw.measured == 60 || rw.early_stop);
            /* a run of 30 trials, its results fed back to one of 60 */
            struct meter part;
            meter_init(&part, &l);
            struct ts_tune_search_result rp;
            search(&l, &part, est, NULL, 30, seed, &rp);
            for (int i = 0; i < l.sp.n; i++) known[i] = part.count[i] ? l.cost[i] : NAN;
            check_resume(&l, est, known, &whole, &rw, 60, seed);
            /* a run of 60 cut off after 23 measurements (mid-batch) */
            for (int i = 0; i < l.sp.n; i++) known[i] = NAN;
            for (int j = 0; j < 23; j++) known[whole.order[j]] = l.cost[whole.order[j]];
            check_resume(&l, est, known, &whole, &rw, 60, seed);
            meter_free(&whole);
            meter_free(&part);
        }
    /* Known results the order never reaches count toward trials and the best. */
    for (int i = 0; i < l.sp.n; i++) known[i] = NAN;
    int far = l.sp.n - 1;
    known[far] = l.best_s * 0.5;
    known[far - 1] = INFINITY;
    struct meter m;
    meter_init(&m, &l);
    struct ts_tune_search_result r;
    search(&l, &m, l.est, known, 50, 9, &r);
    CHECK(r.known == 2 && r.measured <= 48 && m.count[far] == 0 && m.count[far - 1] == 0);
    CHECK(r.best == far && r.best_s == l.best_s * 0.5);
    meter_free(&m);
    /* Everything known: nothing measured. */
    for (int i = 0; i < l.sp.n; i++) known[i] = i < 40 ? l.cost[i] : NAN;
    meter_init(&m, &l);
    search(&l, &m, l.est, known, 40, 9, &r);
    CHECK(r.measured == 0 && m.calls == 0 && r.known == 40 && r.best >= 0 && r.best < 40);
    meter_free(&m);
    free(known);
    land_free(&l);
}

static void test_failures(void) {
    struct land l;
    land_gemm(&l);
    struct meter m;
    meter_init(&m, &l);
    struct ts_tune_search_result r;
    search(&l, &m, l.est, NULL, 250, 3, &r);
    int failed = 0;
    for (int j = 0; j < m.norder; j++) failed += isinf(l.cost[m.order[j]]);
    CHECK(failed > 0 && r.failed == failed && measured_once(&m));
    CHECK(r.best >= 0 && isfinite(r.best_s));
    meter_free(&m);
    /* a failing default, and a space where everything fails */
    for (int i = 0; i < l.sp.n; i++) l.cost[i] = i == 0 || i % 5 == 0 ? INFINITY : l.cost[i];
    meter_init(&m, &l);
    search(&l, &m, NULL, NULL, 100, 3, &r);
    CHECK(r.best > 0 && isfinite(r.best_s) && m.order[0] == 0);
    meter_free(&m);
    for (int i = 0; i < l.sp.n; i++) l.cost[i] = INFINITY;
    for (int t = 0; t < 2; t++) {
        meter_init(&m, &l);
        search(&l, &m, l.est, NULL, t ? 2000 : 100, 3, &r);
        CHECK(r.best == -1 && isinf(r.best_s) && r.failed == r.measured && r.measured > 0);
        CHECK(r.exhaustive == (t == 1) && measured_once(&m));
        meter_free(&m);
    }
    land_free(&l);
}

static void test_budget_patience(void) {
    struct land l;
    land_gemm(&l);
    struct meter m;
    meter_init(&m, &l);
    fake_clock_owner = &m;
    struct ts_tune_search_result r;
    struct ts_tune_search_opts o = {.trials = 500, .budget_s = 20, .seed = 1};
    ts_tune_search(&l.sp, l.est, NULL, &o, measure, &m, fake_now, &r);
    CHECK(r.out_of_budget && !r.early_stop && r.measured >= 20 && r.measured < 28);
    meter_free(&m);
    meter_init(&m, &l);
    fake_clock_owner = &m;
    o.trials = 2000;  /* exhaustive: still within the budget */
    ts_tune_search(&l.sp, l.est, NULL, &o, measure, &m, fake_now, &r);
    CHECK(r.exhaustive && r.out_of_budget && r.measured >= 20 && r.measured < 28);
    meter_free(&m);

    /* A flat landscape: nothing beats the default by 1%. */
    meter_init(&m, &l);
    m.flat = true;
    o = (struct ts_tune_search_opts){.trials = 400, .seed = 1};  /* patience max(16, 200) */
    ts_tune_search(&l.sp, l.est, NULL, &o, measure, &m, NULL, &r);
    CHECK(r.early_stop && r.best == 0 && r.measured >= 201 && r.measured <= 208);
    meter_free(&m);
    meter_init(&m, &l);
    m.flat = true;
    o.patience = 10;
    ts_tune_search(&l.sp, NULL, NULL, &o, measure, &m, NULL, &r);
    CHECK(r.early_stop && r.measured >= 11 && r.measured <= 18);
    meter_free(&m);
    land_free(&l);
}

static void test_small(void) {
    /* one candidate; trials 1 on a larger space (the default alone) */
    struct land l;
    land_pointwise(&l);
    struct ts_tune_space one = {.cands = l.sp.cands, .n = 1};
    struct meter m;
    meter_init(&m, &l);
    struct ts_tune_search_opts o = {.trials = 1, .seed = 1};
    struct ts_tune_search_result r;
    ts_tune_search(&one, NULL, NULL, &o, measure, &m, NULL, &r);
    CHECK(r.exhaustive && r.measured == 1 && r.best == 0);
    meter_free(&m);
    meter_init(&m, &l);
    ts_tune_search(&l.sp, l.est, NULL, &o, measure, &m, NULL, &r);
    CHECK(!r.exhaustive && r.measured == 1 && m.order[0] == 0 && r.best == (isinf(l.cost[0]) ? -1 : 0));
    meter_free(&m);
    /* duplicates and a space with one dimension */
    for (int i = 0; i < 40; i++) {
        memset(&l.sp.cands[i], 0, sizeof l.sp.cands[i]);
        l.sp.cands[i].attention.block_q = 16 * (1 + i % 20);
        l.cost[i] = 1e-3 * (1 + 0.05 * fabs((double)(i % 20) - 13));
    }
    struct land sub = l;
    sub.sp.n = 40;
    meter_init(&m, &sub);
    o.trials = 30;
    ts_tune_search(&sub.sp, NULL, NULL, &o, measure, &m, NULL, &r);
    CHECK(measured_once(&m) && r.measured <= 30 && r.best >= 0 && r.best % 20 == 13);
    meter_free(&m);
    land_free(&l);
}

int main(void) {
    test_landscapes();
    test_exhaustive();
    test_quality();
    test_determinism();
    test_resume();
    test_failures();
    test_budget_patience();
    test_small();
    return ts_test_finish("test_search");
}
