/* check.c — `run --check`: compares a backend's outputs with the reference
 * interpreter's, element by element, with per-dtype tolerances, and reports
 * the largest absolute and relative error of each output. */
#include <math.h>
#include <stdlib.h>

#include "tools/cli.h"

/* Whole-model defaults: looser than the per-op tolerances of the tests,
 * because errors of f32 accumulation compound over layers. */
static void default_tolerance(enum ts_dtype t, double *rtol, double *atol) {
    switch (t) {
    case TS_F32: *rtol = 1e-4; *atol = 1e-4; break;
    case TS_F16: *rtol = 1e-2; *atol = 1e-2; break;
    case TS_BF16: *rtol = 5e-2; *atol = 5e-2; break;
    default: *rtol = 0; *atol = 0; break; /* integers and bools: exact */
    }
}

bool ts_cli_check_outputs(const struct ts_graph *g, const struct ts_tensor *got, const struct ts_tensor *want,
                          struct ts_cli_check *c) {
    c->n = g->noutputs;
    c->results = calloc((size_t)g->noutputs + 1, sizeof *c->results);
    if (!c->results) return false;
    bool all = true;
    for (int o = 0; o < g->noutputs; o++) {
        struct ts_cli_check_result *r = &c->results[o];
        double rtol, atol;
        default_tolerance(want[o].dtype, &rtol, &atol);
        /* tf32 tensor cores keep 10 mantissa bits of each f32 product's inputs. */
        if (c->tf32 && want[o].dtype == TS_F32) rtol = atol = 3e-2;
        if (c->rtol >= 0) rtol = c->rtol;
        if (c->atol >= 0) atol = c->atol;
        r->rtol = rtol;
        r->atol = atol;
        r->worst = -1;
        double worst_excess = -INFINITY;
        bool integer = !ts_dtype_is_float(want[o].dtype);
        for (int64_t i = 0; i < want[o].numel; i++) {
            double x, y;
            if (integer) {
                int64_t a = ts_tensor_get_i64(&got[o], i), b = ts_tensor_get_i64(&want[o], i);
                x = (double)a;
                y = (double)b;
                if (a != b) {
                    r->bad++;
                    if (r->worst < 0) r->worst = i, r->got = x, r->want = y;
                }
                double e = fabs(x - y);
                if (e > r->max_abs) r->max_abs = e;
                continue;
            }
            x = ts_tensor_get_f64(&got[o], i);
            y = ts_tensor_get_f64(&want[o], i);
            double e;
            if (isnan(x) || isnan(y)) e = isnan(x) && isnan(y) ? 0 : INFINITY;
            else if (isinf(x) || isinf(y)) e = x == y ? 0 : INFINITY;
            else e = fabs(x - y);
            double rel = e / fmax(fabs(y), atol > 0 ? atol : 1e-30);
            if (e > r->max_abs) r->max_abs = e;
            if (rel > r->max_rel) r->max_rel = rel;
            double excess = e - (atol + rtol * fabs(y));
            if (excess > 0) r->bad++;
            if (excess > worst_excess) {
                worst_excess = excess;
                r->worst = i;
                r->got = x;
                r->want = y;
            }
        }
        if (r->bad) all = false;
    }
    return all;
}

void ts_cli_print_check(const struct ts_graph *g, struct ts_cli_check *c, FILE *f) {
    for (int o = 0; o < c->n && c->results; o++) {
        const struct ts_cli_check_result *r = &c->results[o];
        const struct ts_value *v = &g->values[g->outputs[o]];
        fprintf(f, "check %s: max abs err %.3g, max rel err %.3g (rtol %g, atol %g): ", v->name, r->max_abs,
                r->max_rel, r->rtol, r->atol);
        if (r->bad == 0)
            fprintf(f, "ok\n");
        else
            fprintf(f, "FAILED, %lld elements beyond tolerance; worst at element %lld: got %.9g, reference %.9g\n",
                    (long long)r->bad, (long long)r->worst, r->got, r->want);
    }
    free(c->results);
    c->results = NULL;
}
