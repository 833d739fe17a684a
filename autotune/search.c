/* search.c — which candidate schedules to measure, and in what order: every
 * one for small spaces; otherwise the default, the best by estimate, random
 * samples and generations of one-step mutations of the best measured, until
 * trials, budget or patience run out. Pure logic over candidate indices:
 * measuring is the caller's callback, and known results stand in for it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"

/* Resume rests on one rule: the order in which candidates are taken depends
 * only on the seed, the space, the estimates and the times seen so far, never
 * on trials (except the switch to exhaustive) or on which results are known.
 * A known result is taken where the order reaches it, exactly as if measure
 * had returned it, so a run cut off after m candidates (or one with fewer
 * trials or less patience) holds the first m of a longer run's order, and
 * resuming with them as known ends as that longer run does. */

enum {
    TS_BATCH = 8,          /* candidates per call to measure */
    TS_EXPLORE_EST = 6,    /* an exploring batch: the next best by estimate … */
    TS_PARENTS = 4,        /* generations mutate the best this many */
    TS_TWO_STEP = 2,       /* two-field mutations drawn per parent */
    /* union ts_sched seen as 32-bit words (see 'Neighbours') */
    TS_WORDS = sizeof(union ts_sched) / sizeof(uint32_t),
};
_Static_assert(sizeof(union ts_sched) % sizeof(uint32_t) == 0, "union ts_sched is a whole number of words");

/* ---- randomness: splitmix64, local so that nothing else shifts its stream -- */

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int rng_below(uint64_t *s, int n) { return (int)(rng_next(s) % (uint64_t)n); }

/* ---- neighbours ----------------------------------------------------------- */

/* The search does not know the kernel's kind, so it reads a candidate as the
 * 32-bit words of the whole union: every schedule field is an int, an enum or
 * an int64 (rows_per_task, whose low word carries the value below 2^32), and
 * spaces build candidates from zeroed unions, so padding words are zero and
 * fields of the other kinds and target are constant across a space. Two
 * candidates are neighbours along word f when they differ in that word only;
 * along each varying word a candidate has a next smaller and a next larger
 * value (compared unsigned, as fields are never negative), found by sorting
 * the candidates by (every other word, word f) so that each line of
 * candidates differing only in f is one sorted run. O(n log n) per word. */
struct nbr {
    int nf;             /* words that vary across the space */
    int *nb;            /* [i·nf·2 + f·2 + 0/1]: next smaller / larger along f, or -1 */
};
struct row { uint32_t w[TS_WORDS + 1]; };  /* the other words, word f, then the index */

static int row_cmp(const void *a, const void *b) {
    const struct row *x = a, *y = b;
    for (int i = 0; i <= TS_WORDS; i++)
        if (x->w[i] != y->w[i]) return x->w[i] < y->w[i] ? -1 : 1;
    return 0;
}
static bool same_line(const struct row *x, const struct row *y) {
    return memcmp(x->w, y->w, (TS_WORDS - 1) * sizeof(uint32_t)) == 0;
}

static void nbr_build(const struct ts_tune_space *sp, struct nbr *nb) {
    int n = sp->n;
    uint32_t (*w)[TS_WORDS] = malloc((size_t)n * sizeof *w);
    TS_ASSERT(w);
    for (int i = 0; i < n; i++) memcpy(w[i], &sp->cands[i], sizeof w[i]);
    int vary[TS_WORDS];
    nb->nf = 0;
    for (int f = 0; f < (int)TS_WORDS; f++) {
        int i = 1;
        while (i < n && w[i][f] == w[0][f]) i++;
        if (i < n) vary[nb->nf++] = f;
    }
    nb->nb = malloc((size_t)n * (size_t)(nb->nf > 0 ? nb->nf : 1) * 2 * sizeof(int));
    struct row *rows = malloc((size_t)n * sizeof *rows);
    TS_ASSERT(nb->nb && rows);
    for (int vf = 0; vf < nb->nf; vf++) {
        int f = vary[vf];
        for (int i = 0; i < n; i++) {
            int o = 0;
            for (int j = 0; j < (int)TS_WORDS; j++)
                if (j != f) rows[i].w[o++] = w[i][j];
            rows[i].w[o++] = w[i][f];
            rows[i].w[o] = (uint32_t)i;
        }
        qsort(rows, (size_t)n, sizeof *rows, row_cmp);
        for (int p = 0; p < n; p++) {
            int i = (int)rows[p].w[TS_WORDS], *out = &nb->nb[((size_t)i * (size_t)nb->nf + (size_t)vf) * 2];
            uint32_t v = rows[p].w[TS_WORDS - 1];
            int q = p - 1;  /* duplicates (equal in every word) are skipped over */
            while (q >= 0 && same_line(&rows[q], &rows[p]) && rows[q].w[TS_WORDS - 1] == v) q--;
            out[0] = q >= 0 && same_line(&rows[q], &rows[p]) ? (int)rows[q].w[TS_WORDS] : -1;
            q = p + 1;
            while (q < n && same_line(&rows[q], &rows[p]) && rows[q].w[TS_WORDS - 1] == v) q++;
            out[1] = q < n && same_line(&rows[q], &rows[p]) ? (int)rows[q].w[TS_WORDS] : -1;
        }
    }
    free(rows);
    free(w);
}
static int nbr_of(const struct nbr *nb, int i, int f, int dir) {
    return nb->nb[((size_t)i * (size_t)nb->nf + (size_t)f) * 2 + (size_t)dir];
}

/* ---- the search's state --------------------------------------------------- */

struct search {
    const double *est, *known;
    ts_tune_measure_fn measure;
    void *ctx;
    struct ts_tune_search_result *r;
    uint64_t rng;
    int n;
    int allowed;        /* new measurements left: trials − known results − measured */
    double *time;       /* this run's result per candidate; NAN: not taken yet */
    char *mark;         /* 1: taken; 2: in the batch being built */
    int *taken;         /* candidates in the order taken */
    int ntaken;
    int since_gain;     /* candidates taken since the best last improved by > 1% */
    int *est_order;     /* candidates 1.. by estimate, best first */
    int est_next;
    struct nbr nb;
};

static bool is_known(const struct search *s, int i) { return s->known && !isnan(s->known[i]); }

/* Records one result in the order of the sequence. */
static void take(struct search *s, int i, double t) {
    s->time[i] = t;
    s->mark[i] = 1;
    s->taken[s->ntaken++] = i;
    struct ts_tune_search_result *r = s->r;
    if (t < r->best_s) {
        bool gain = !(t >= 0.99 * r->best_s);  /* best_s INFINITY: any time is a gain */
        r->best = i;
        r->best_s = t;
        s->since_gain = gain ? 0 : s->since_gain + 1;
    } else {
        s->since_gain++;
    }
}

/* Takes batch[0..n) in order: known ones from known[], the others measured
 * with one call, as many as the trials still allow. */
static void run_batch(struct search *s, const int *batch, int n) {
    int idx[TS_BATCH];
    double sec[TS_BATCH];
    int nm = 0;
    for (int b = 0; b < n; b++) {
        int i = batch[b];
        s->mark[i] = 0;
        if (is_known(s, i)) continue;
        if (nm < s->allowed && nm < TS_BATCH) idx[nm++] = i;
    }
    if (nm > 0) {
        for (int j = 0; j < nm; j++) sec[j] = NAN;
        s->measure(s->ctx, idx, nm, sec);
        s->allowed -= nm;
        s->r->measured += nm;
    }
    int j = 0;
    for (int b = 0; b < n; b++) {
        int i = batch[b];
        double t;
        if (is_known(s, i)) t = s->known[i];
        else if (j < nm && idx[j] == i) t = sec[j++];
        else continue;  /* past the trials */
        if (isnan(t) || t < 0) t = INFINITY;  /* a measure that gave no time failed */
        if (isinf(t) && !is_known(s, i)) s->r->failed++;  /* known failures were counted at the start */
        take(s, i, t);
    }
}

/* ---- what to take next ---------------------------------------------------- */

static int add(struct search *s, int *batch, int n, int i) {
    if (i < 0 || s->mark[i]) return n;
    s->mark[i] = 2;
    batch[n] = i;
    return n + 1;
}

/* A candidate not yet taken, uniformly. */
static int random_untaken(struct search *s) {
    for (int tries = 0; tries < 64; tries++) {
        int i = rng_below(&s->rng, s->n);
        if (!s->mark[i]) return i;
    }
    int start = rng_below(&s->rng, s->n);  /* a nearly exhausted space: scan */
    for (int k = 0; k < s->n; k++) {
        int i = (start + k) % s->n;
        if (!s->mark[i]) return i;
    }
    return -1;
}

/* Exploring: the next best by estimate, then random samples for diversity
 * (all random without estimates). */
static int explore(struct search *s, int *batch) {
    int n = 0;
    if (s->est) {
        while (n < TS_EXPLORE_EST && s->est_next < s->n - 1) n = add(s, batch, n, s->est_order[s->est_next++]);
    }
    while (n < TS_BATCH) {
        int i = random_untaken(s);
        if (i < 0) break;
        n = add(s, batch, n, i);
    }
    return n;
}

/* Proposals are ranked children of the best parent first (a greedy climb
 * from the best point, where the gains are), and among one parent's
 * children by estimate, else in random order. Ranking all children by
 * estimate alone, or by the parent's time scaled by the estimates' ratio,
 * let the estimate's noise pull batches towards worse parents (measured on
 * the landscapes of tests/autotune/test_search.c). */
struct proposal {
    double parent_s;  /* the best parent's measured seconds */
    double est;       /* the child's estimate (0 without estimates) */
    uint64_t key;     /* random tie-break */
    int i;
};
static int proposal_cmp(const void *a, const void *b) {
    const struct proposal *x = a, *y = b;
    if (x->parent_s != y->parent_s) return x->parent_s < y->parent_s ? -1 : 1;
    if (x->est != y->est) return x->est < y->est ? -1 : 1;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->i - y->i;
}

static void propose(struct search *s, struct proposal *prop, int *np, int *slot, int p, int c) {
    if (c < 0 || s->mark[c] == 1) return;
    if (slot[c] >= 0) {  /* proposed already, from a better parent or another move */
        if (s->time[p] < prop[slot[c]].parent_s) prop[slot[c]].parent_s = s->time[p];
        return;
    }
    double e = 0;
    if (s->est) e = isnan(s->est[c]) ? INFINITY : s->est[c];
    slot[c] = *np;
    prop[(*np)++] = (struct proposal){s->time[p], e, rng_next(&s->rng), c};
}

/* A generation: every one-step neighbour of the best k measured (a few
 * two-step ones too), not taken yet, ranked; up to a batch. */
static int generation(struct search *s, int k, int *batch, struct proposal *prop, int *slot) {
    int parents[64], np = 0, npar = 0;
    /* the best k successful ones so far (failed ones are never parents), in
     * order of time then of being taken */
    for (int t = 0; t < s->ntaken; t++) {
        int i = s->taken[t];
        if (!isfinite(s->time[i])) continue;
        int at = npar < k ? npar++ : k;
        while (at > 0 && s->time[parents[at - 1]] > s->time[i]) {
            if (at < k) parents[at] = parents[at - 1];
            at--;
        }
        if (at < k) parents[at] = i;
    }
    int nf = s->nb.nf;
    for (int a = 0; a < npar; a++) {
        int p = parents[a];
        for (int f = 0; f < nf; f++)
            for (int dir = 0; dir < 2; dir++) {
                /* past a failed neighbour to the next value: failures are
                 * often one value's (a compile error, a bad tile) */
                int c = nbr_of(&s->nb, p, f, dir);
                for (int hop = 0; hop < 2 && c >= 0 && s->mark[c] == 1 && isinf(s->time[c]); hop++)
                    c = nbr_of(&s->nb, c, f, dir);
                propose(s, prop, &np, slot, p, c);
            }
        for (int m = 0; m < TS_TWO_STEP && nf >= 2; m++) {
            int f = rng_below(&s->rng, nf), g = rng_below(&s->rng, nf - 1);
            if (g >= f) g++;
            uint64_t dirs = rng_next(&s->rng);
            int c = nbr_of(&s->nb, p, f, (int)(dirs & 1));
            if (c >= 0) propose(s, prop, &np, slot, p, nbr_of(&s->nb, c, g, (int)(dirs >> 1 & 1)));
        }
    }
    qsort(prop, (size_t)np, sizeof *prop, proposal_cmp);
    int n = 0;
    for (int j = 0; j < np; j++) {
        slot[prop[j].i] = -1;
        if (n < TS_BATCH) n = add(s, batch, n, prop[j].i);
    }
    return n;
}

struct est_entry {
    double e;
    int i;
};
static int est_cmp(const void *a, const void *b) {
    const struct est_entry *x = a, *y = b;
    if (x->e != y->e) return x->e < y->e ? -1 : 1;
    return x->i - y->i;
}

static void order_by_estimate(struct search *s) {
    int m = s->n - 1;
    struct est_entry *e = malloc((size_t)(m > 0 ? m : 1) * sizeof *e);
    s->est_order = malloc((size_t)(m > 0 ? m : 1) * sizeof *s->est_order);
    TS_ASSERT(e && s->est_order);
    for (int j = 0; j < m; j++) {
        double v = s->est[j + 1];
        e[j] = (struct est_entry){isnan(v) ? INFINITY : v, j + 1};
    }
    qsort(e, (size_t)m, sizeof *e, est_cmp);
    for (int j = 0; j < m; j++) s->est_order[j] = e[j].i;
    free(e);
}

/* ---- the strategies --------------------------------------------------------- */

static double mono_now(void) { return ts_rt_now_seconds(); }

void ts_tune_search(const struct ts_tune_space *space, const double *estimate, const double *known,
                    const struct ts_tune_search_opts *o, ts_tune_measure_fn measure, void *ctx,
                    double (*now)(void), struct ts_tune_search_result *r) {
    *r = (struct ts_tune_search_result){.best = -1, .best_s = INFINITY};
    int n = space->n;
    if (n <= 0) return;
    int trials = o->trials > 0 ? o->trials : 1;
    int patience = o->patience > 0 ? o->patience : (trials / 2 > 16 ? trials / 2 : 16);
    if (!now) now = mono_now;
    double start = o->budget_s > 0 ? now() : 0;

    struct search s = {.est = estimate, .known = known, .measure = measure, .ctx = ctx, .r = r,
                       .rng = o->seed, .n = n};
    for (int i = 0; known && i < n; i++) {
        if (isnan(known[i])) continue;
        r->known++;
        if (isinf(known[i]) || known[i] < 0) r->failed++;
    }
    s.allowed = trials - r->known;
    s.time = malloc((size_t)n * sizeof *s.time);
    s.mark = calloc((size_t)n, 1);
    s.taken = malloc((size_t)n * sizeof *s.taken);
    TS_ASSERT(s.time && s.mark && s.taken);
    for (int i = 0; i < n; i++) s.time[i] = NAN;

    int batch[TS_BATCH];
    if (n <= trials) {
        /* Exhaustive, in index order (the default first); patience does not
         * apply: the whole space was asked for. A batch is up to 8 candidates
         * to measure, with the known ones between them. */
        r->exhaustive = true;
        int run[8 * TS_BATCH];
        for (int i = 0; i < n;) {
            if (o->budget_s > 0 && now() - start >= o->budget_s) {
                r->out_of_budget = true;
                break;
            }
            int nr = 0, unknown = 0;
            while (i < n && nr < 8 * TS_BATCH && unknown < TS_BATCH) {
                unknown += !(known && !isnan(known[i]));
                run[nr++] = i++;
            }
            run_batch(&s, run, nr);
        }
    } else {
        nbr_build(space, &s.nb);
        if (estimate) order_by_estimate(&s);
        struct proposal *prop = malloc((size_t)n * sizeof *prop);
        int *slot = malloc((size_t)n * sizeof *slot);
        TS_ASSERT(prop && slot);
        for (int i = 0; i < n; i++) slot[i] = -1;

        batch[0] = 0;
        s.mark[0] = 2;
        int batches = 0;
        for (int nb = 1;; batches++) {
            run_batch(&s, batch, nb);
            if (s.allowed <= 0 || s.ntaken >= n) break;
            if (o->budget_s > 0 && now() - start >= o->budget_s) {
                r->out_of_budget = true;
                break;
            }
            if (s.since_gain >= patience) {
                r->early_stop = true;
                break;
            }
            /* With estimates, exploring and exploiting alternate batch by
             * batch: about 40% best by estimate, 10% random and 50%
             * mutations, and mutations start early (patience cannot run out
             * while the estimate's list is still being worked through).
             * Without, random samples rarely beat a climb once one is under
             * way: one exploring batch in four. A generation with nothing
             * new around the best 4 widens to the best 8, 16; then it
             * explores instead. */
            nb = 0;
            bool exploring = batches % (estimate ? 2 : 4) == 0;
            if (!exploring)
                for (int k = TS_PARENTS; nb == 0 && k <= 16; k *= 2) nb = generation(&s, k, batch, prop, slot);
            if (nb == 0) nb = explore(&s, batch);
            if (nb == 0) break;
        }
        free(prop);
        free(slot);
        free(s.nb.nb);
        free(s.est_order);
    }
    /* Known results the order never reached are still real measurements. */
    for (int i = 0; known && i < n; i++)
        if (s.mark[i] != 1 && !isnan(known[i]) && known[i] >= 0 && known[i] < r->best_s) {
            r->best = i;
            r->best_s = known[i];
        }
    free(s.time);
    free(s.mark);
    free(s.taken);
}
