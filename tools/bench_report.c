/* bench_report.c — how `tessera bench gemm` checks and reports, whatever the
 * target: a verdict per problem (the largest error and where), one table
 * line per problem as soon as it is measured, the same rows as CSV, a PNG
 * chart of the ratios drawn by gnuplot, the geomean ratio against each peer,
 * and PASSED or FAILED as the last line. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/bench_internal.h"

bool ts_bench_break_requested(void) {
    const char *s = getenv("TESSERA_BENCH_BREAK");
    return s && strcmp(s, "1") == 0;
}

const char *ts_bench_dtype_name(const struct ts_bench_opts *o) {
    return o->tf32 ? "tf32" : ts_dtype_name(o->dtype);
}

/* ---- verification ----------------------------------------------------------- */

void ts_bench_verify(const float *got, const float *want, int64_t rows, int64_t cols, int64_t k, enum ts_dtype dtype,
                     bool tf32, struct ts_bench_verdict *v) {
    /* f32: K products summed in a different order, each step rounding at
     * 2^-24 relative; random signs make the error grow like √K. tf32 products
     * keep 10 bits of each operand; f16 and bf16 round the output itself. */
    double tol_abs = 4e-5 * sqrt((double)k), tol_rel = 1e-4;
    if (tf32 || dtype == TS_F16) tol_abs = 2e-3 * sqrt((double)k), tol_rel = 2e-3;
    if (dtype == TS_BF16) tol_abs = 1e-2 * sqrt((double)k), tol_rel = 1.6e-2;
    *v = (struct ts_bench_verdict){.ok = true};
    for (int64_t i = 0; i < rows * cols; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (isnan(e)) e = INFINITY;
        if (e > v->max_err || (i == 0 && e == v->max_err)) {
            v->max_err = e;
            v->row = i / cols, v->col = i % cols;
        }
        if (!(e <= tol_abs + tol_rel * fabs((double)want[i]))) v->ok = false;
    }
}

/* ---- the table ----------------------------------------------------------------- */

static const char *layout(const struct ts_bench_opts *o) { return o->trans_b ? "[N,K]" : "[K,N]"; }

int ts_bench_report_begin(struct ts_bench_report *r) {
    r->rows = calloc(TS_BENCH_MAX_PROBLEMS, sizeof *r->rows);
    r->nrows = r->failed = 0;
    r->csv = NULL;
    if (!r->rows) {
        fprintf(stderr, "tessera: error: bench: out of memory\n");
        return 1;
    }
    if (r->o->csv) {
        r->csv = fopen(r->o->csv, "w");
        if (!r->csv) {
            fprintf(stderr, "tessera: error: %s: cannot write: %s\n", r->o->csv, strerror(errno));
            free(r->rows);
            r->rows = NULL;
            return 1;
        }
        fprintf(r->csv, "family,m,n,k,dtype,b_layout,epilogue,threads,tessera_flops");
        for (int p = 0; p < r->npeers; p++)
            fprintf(r->csv, ",peer%d,peer%d_flops,ratio%d", p + 1, p + 1, p + 1);
        fprintf(r->csv, ",fraction_of_ceiling,max_abs_err,err_row,err_col,from_db,disposition\n");
    }
    printf("%-20s %-5s %9s", "problem", "B", "tessera");
    for (int p = 0; p < r->npeers; p++) printf(" %9s %6s", r->peer_names[p], "ratio");
    if (r->ceiling > 0) printf(" %6s", "ceil");
    printf("  check\n");
    fflush(stdout);
    return 0;
}

static void fmt(char *s, size_t n, const char *f, double x) {
    if (isfinite(x)) snprintf(s, n, f, x);
    else snprintf(s, n, "-");
}

void ts_bench_report_row(struct ts_bench_report *r, const struct ts_bench_row *row) {
    if (r->nrows < TS_BENCH_MAX_PROBLEMS) r->rows[r->nrows++] = *row;
    const struct ts_bench_problem *pr = &row->pr;
    char name[64], cell[32];
    snprintf(name, sizeof name, "%lldx%lldx%lld", (long long)pr->m, (long long)pr->n, (long long)pr->k);
    printf("%-20s %-5s", name, layout(r->o));
    fmt(cell, sizeof cell, "%.1f", row->tessera / r->unit);
    printf(" %9s", cell);
    for (int p = 0; p < r->npeers; p++) {
        fmt(cell, sizeof cell, "%.1f", row->peer[p] / r->unit);
        printf(" %9s", cell);
        fmt(cell, sizeof cell, "%.2f", row->tessera / row->peer[p]);
        printf(" %6s", cell);
    }
    if (r->ceiling > 0) {
        fmt(cell, sizeof cell, "%.0f%%", 100 * row->tessera / r->ceiling);
        printf(" %6s", cell);
    }
    if (row->v.ok)
        printf("  ok%s\n", row->from_db ? " (tuned)" : "");
    else
        printf("  FAILED (max error %.3g at (%lld, %lld))\n", row->v.max_err, (long long)row->v.row,
               (long long)row->v.col);
    fflush(stdout);
    if (!row->v.ok) r->failed++;
    if (r->csv) {
        static const char *const epi[] = {"none", "bias_gelu"};
        fprintf(r->csv, "%s,%lld,%lld,%lld,%s,%s,%s,%d,%.6g", pr->family, (long long)pr->m, (long long)pr->n,
                (long long)pr->k, ts_bench_dtype_name(r->o), r->o->trans_b ? "NK" : "KN", epi[r->o->epilogue],
                r->threads, row->tessera);
        for (int p = 0; p < r->npeers; p++)
            fprintf(r->csv, ",%s,%.6g,%.4f", r->peer_names[p], row->peer[p], row->tessera / row->peer[p]);
        fprintf(r->csv, ",%.4f,%.6g,%lld,%lld,%d,%s\n", r->ceiling > 0 ? row->tessera / r->ceiling : NAN,
                row->v.max_err, (long long)row->v.row, (long long)row->v.col, row->from_db,
                row->v.ok ? "ok" : "FAILED");
    }
}

/* ---- the chart ------------------------------------------------------------------ */

static bool on_path(const char *prog) {
    const char *path = getenv("PATH");
    if (!path) return false;
    char buf[4096];
    for (const char *s = path; *s;) {
        const char *e = strchr(s, ':');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? s : ".", prog);
        if (access(buf, X_OK) == 0) return true;
        if (!e) break;
        s = e + 1;
    }
    return false;
}

/* A PNG bar chart of the ratios (one bar per problem and peer), drawn by
 * gnuplot from a script written beside FILE, which stays for re-drawing. */
static void plot(const struct ts_bench_report *r) {
    const char *file = r->o->plot;
    if (!on_path("gnuplot")) {
        fprintf(stderr, "tessera: warning: --plot: gnuplot is not on PATH (Debian package gnuplot-nox); no chart\n");
        return;
    }
    if (r->npeers == 0) {
        fprintf(stderr, "tessera: warning: --plot: no peer, no ratios to draw; no chart\n");
        return;
    }
    char script[4200];
    snprintf(script, sizeof script, "%s.gp", file);
    FILE *f = fopen(script, "w");
    if (!f) {
        fprintf(stderr, "tessera: warning: --plot: cannot write %s: %s; no chart\n", script, strerror(errno));
        return;
    }
    fprintf(f, "$ratios << EOD\n");
    for (int i = 0; i < r->nrows; i++) {
        const struct ts_bench_row *row = &r->rows[i];
        fprintf(f, "\"%lldx%lldx%lld\"", (long long)row->pr.m, (long long)row->pr.n, (long long)row->pr.k);
        for (int p = 0; p < r->npeers; p++) {
            double x = row->tessera / row->peer[p];
            fprintf(f, " %.4f", isfinite(x) ? x : 0.0);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "EOD\n");
    int width = 400 + 40 * r->npeers * r->nrows;
    fprintf(f, "set terminal pngcairo size %d,480 noenhanced\n", width < 640 ? 640 : width);
    fprintf(f, "set output \"%s\"\n", file);
    fprintf(f, "set title \"tessera GEMM / peer, %s, B %s%s\"\n", ts_bench_dtype_name(r->o), layout(r->o),
            r->o->epilogue == TS_BENCH_EPI_BIAS_GELU ? ", + bias + GELU" : "");
    fprintf(f, "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8\n"
               "set yrange [0:*]\nset grid ytics\nset xtics rotate by -45\n"
               "set ylabel \"ratio (1 = parity; 0 = failed)\"\n");
    fprintf(f, "%s\n", r->npeers > 1 ? "set key top left" : "unset key");
    static const char *const colours[] = {"#3b6ea5", "#d08a2c"};
    fprintf(f, "plot");
    for (int p = 0; p < r->npeers; p++)
        fprintf(f, "%s $ratios using %d:xtic(1) title \"vs %s\" lc rgb \"%s\"", p ? "," : "", p + 2,
                r->peer_names[p], colours[p]);
    fprintf(f, ", 1 with lines lc rgb \"black\" notitle\n");
    fclose(f);
    char cmd[8600];
    /* gnuplot's own messages go to stderr: stdout is the table, PASSED last. */
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 1>&2", script);
    if (strchr(script, '\'') || strchr(file, '"') || system(cmd) != 0) {
        fprintf(stderr, "tessera: warning: --plot: gnuplot failed on %s; no chart\n", script);
        return;
    }
    fprintf(stderr, "tessera: chart written to %s\n", file);
}

int ts_bench_report_end(struct ts_bench_report *r) {
    for (int p = 0; p < r->npeers; p++) {
        double logsum = 0;
        int counted = 0;
        for (int i = 0; i < r->nrows; i++) {
            double x = r->rows[i].tessera / r->rows[i].peer[p];
            if (r->rows[i].v.ok && isfinite(x) && x > 0) logsum += log(x), counted++;
        }
        if (counted)
            printf("geomean ratio tessera/%s (%d problems): %.3f\n", r->peer_names[p], counted,
                   exp(logsum / counted));
    }
    if (r->npeers == 0) printf("geomean ratio: - (no peer)\n");
    if (r->csv) fclose(r->csv);
    if (r->o->plot) plot(r);
    if (r->failed) printf("%d of %d problems FAILED verification\n", r->failed, r->nrows);
    printf("%s\n", r->failed ? "FAILED" : "PASSED");
    free(r->rows);
    r->rows = NULL;
    return r->failed ? 1 : 0;
}
