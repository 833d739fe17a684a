/* tune.c — `tessera tune MODEL.json --target cpu|cuda --db FILE`: compiles
 * the model to its kernel program, then lets the autotuner (autotune/tune.c)
 * measure schedules of each distinct kernel (a task) on this machine,
 * appending every measurement to the database as it is made. Progress goes
 * to standard error (one line per task, redrawn in place on a terminal);
 * the summary table to standard output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "runtime/runtime.h"
#include "tools/cli.h"

static const char tune_usage[] =
    "usage: tessera tune MODEL.json --target cpu|cuda --db FILE [options]\n"
    "\n"
    "Searches each kernel's schedule (tiles, blocks, vector widths, threads) on\n"
    "this machine: every candidate is compiled, checked against the reference\n"
    "interpreter on random data, then timed. Each measurement is appended to the\n"
    "database FILE as soon as it is made, so an interrupted tune loses nothing and\n"
    "running the same command again resumes: schedules already recorded for this\n"
    "machine are never measured again. Identical layers are tuned once.\n"
    "compile, run and inspect take --db FILE to use the fastest records.\n"
    "\n"
    "options:\n"
    "  --target cpu|cuda       what to tune for (cuda: the GPU present; the\n"
    "                          compiles run on host threads while it measures)\n"
    "  --db FILE               the tuning database (JSON lines; created if missing)\n"
    "  --trials N              candidates measured per task at most (default 64;\n"
    "                          records already in the database count)\n"
    "  --budget SECONDS        wall-time budget for the whole model (default: none);\n"
    "                          each task gets an equal share of what is left\n"
    "  --patience N            stop a task after N measurements without a 1% gain\n"
    "                          (default max(16, trials/2))\n"
    "  --shard i/N             tune only tasks i, i+N, i+2N, ... (0-based), to split\n"
    "                          the work between processes or machines (merge the\n"
    "                          databases with tessera db merge)\n"
    "  --seed N                the search's random choices (default 0): the same\n"
    "                          seed on the same records makes the same choices\n"
    "  --timeout SECONDS       watchdog per candidate (default 60): past it the\n"
    "                          candidate is killed and recorded as hung\n"
    "  --bind SYMBOL=N         size of a symbolic dim (repeatable); tune with the\n"
    "                          sizes you will compile with\n"
    "  --cpu NAME              cpu: the CPU to tune for: native (default), portable\n"
    "                          (x86-64-v3), x86-64-v2, x86-64-v4\n"
    "  --threads N             cpu: worker threads (default: one per core); records\n"
    "                          are kept per thread count\n"
    "  --arch sm_XY[a]         cuda: the architecture (default: the GPU's own)\n"
    "  --strict-f32            cuda: f32 matrix products without tf32 tensor cores\n"
    "  --device N              cuda: device ordinal (default 0)\n"
    "  -h, --help              this help\n"
    "\n"
    "A candidate that fails to compile, exceeds resources, crashes, hangs or\n"
    "computes wrong numbers is recorded as failed and the search goes on.\n";

struct tune_opts {
    const char *model, *db;
    enum ts_target target;
    bool target_given;
    struct ts_cli_machine m;
    int64_t trials, patience, seed, shard, nshards;
    double budget, timeout;
    struct ts_cli_binds binds;
};

/* "i/N" with 0 <= i < N <= 4096. */
static int parse_shard(const char *v, struct tune_opts *o) {
    char *end;
    long i = strtol(v, &end, 10);
    if (end == v || *end != '/' || i < 0) goto bad;
    const char *n_str = end + 1;
    long n = strtol(n_str, &end, 10);
    if (end == n_str || *end || n < 1 || n > 4096 || i >= n) goto bad;
    o->shard = i;
    o->nshards = n;
    return 0;
bad:
    return ts_cli_usage_error("tune", "--shard", "expected i/N with 0 <= i < N (0-based), got '%s'", v);
}

static int parse_seconds(const char *opt, const char *v, double *out) {
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x > 0) || x > 1e7)
        return ts_cli_usage_error("tune", opt, "expected a positive number of seconds, got '%s'", v);
    *out = x;
    return 0;
}

static int parse_tune_args(int argc, char **argv, struct tune_opts *o) {
    memset(o, 0, sizeof *o);
    o->target = TS_TARGET_CPU;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(tune_usage, stdout);
            return -1;
        } else if (ts_cli_is_option(a, "--target")) {
            if (!(v = ts_cli_option_value("tune", argc, argv, &i, "--target", &rc))) return rc;
            if (!ts_target_from_name(v, &o->target) || o->target == TS_TARGET_REF)
                return ts_cli_usage_error("tune", "--target", "expected cpu or cuda, got '%s'", v);
            o->target_given = true;
        } else if (ts_cli_is_option(a, "--db")) {
            if (!(o->db = ts_cli_option_value("tune", argc, argv, &i, "--db", &rc))) return rc;
        } else if (ts_cli_is_option(a, "--trials")) {
            if (!(v = ts_cli_option_value("tune", argc, argv, &i, "--trials", &rc))) return rc;
            if ((rc = ts_cli_parse_count("tune", "--trials", v, 1, 1000000, &o->trials))) return rc;
        } else if (ts_cli_is_option(a, "--patience")) {
            if (!(v = ts_cli_option_value("tune", argc, argv, &i, "--patience", &rc))) return rc;
            if ((rc = ts_cli_parse_count("tune", "--patience", v, 1, 1000000, &o->patience))) return rc;
        } else if (ts_cli_is_option(a, "--budget")) {
            if (!(v = ts_cli_option_value("tune", argc, argv, &i, "--budget", &rc))) return rc;
            if ((rc = parse_seconds("--budget", v, &o->budget))) return rc;
        } else if (ts_cli_is_option(a, "--timeout")) {
            if (!(v = ts_cli_option_value("tune", argc, argv, &i, "--timeout", &rc))) return rc;
            if ((rc = parse_seconds("--timeout", v, &o->timeout))) return rc;
        } else if (ts_cli_is_option(a, "--shard")) {
            if (!(v = ts_cli_option_value("tune", argc, argv, &i, "--shard", &rc))) return rc;
            if ((rc = parse_shard(v, o))) return rc;
        } else if (ts_cli_is_option(a, "--seed")) {
            if (!(v = ts_cli_option_value("tune", argc, argv, &i, "--seed", &rc))) return rc;
            if ((rc = ts_cli_parse_count("tune", "--seed", v, 0, INT64_MAX, &o->seed))) return rc;
        } else if (ts_cli_is_option(a, "--bind")) {
            if (!(v = ts_cli_option_value("tune", argc, argv, &i, "--bind", &rc))) return rc;
            if ((rc = ts_cli_parse_bind("tune", v, &o->binds))) return rc;
        } else if (ts_cli_parse_machine("tune", argc, argv, &i, &o->m, &rc)) {
            if (rc) return rc;
        } else if ((rc = ts_cli_model_arg("tune", a, &o->model))) {
            return rc;
        }
    }
    if (!o->model) return ts_cli_usage_error("tune", "", "no model given");
    if (!o->target_given) return ts_cli_usage_error("tune", "--target", "say what to tune for: --target cpu or cuda");
    if (!o->db) return ts_cli_usage_error("tune", "--db", "no database given (--db FILE: where the records go)");
    if ((rc = ts_cli_check_path("tune", "--db", o->db))) return rc;
    if ((rc = ts_cli_check_machine("tune", o->target, &o->m))) return rc;
    return 0;
}

/* "12.3 us", "1.23 ms", "-" when not measured. */
static const char *fmt_time(double s, char *buf, size_t size) {
    if (!isfinite(s)) snprintf(buf, size, "-");
    else if (s < 1e-3) snprintf(buf, size, "%.1f us", s * 1e6);
    else if (s < 1) snprintf(buf, size, "%.3f ms", s * 1e3);
    else snprintf(buf, size, "%.3f s", s);
    return buf;
}

static double speedup(const struct ts_tune_report *r) {
    return isfinite(r->default_s) && isfinite(r->best_s) && r->best_s > 0 ? r->default_s / r->best_s : NAN;
}

/* The live progress: the current task's line, redrawn on a terminal; each
 * finished task's line printed for good (the only lines off a terminal). */
struct live {
    bool tty, shown;
    const struct ts_tune_report *rep; /* the task shown */
    int task, ntasks, trials;
    double start, drawn;
};

static void task_line(const struct live *l, bool done, char *buf, size_t size) {
    const struct ts_tune_report *r = l->rep;
    char best[32], def[32];
    int n = snprintf(buf, size, "task %d/%d %s %s: %s %d/%d", l->task + 1, l->ntasks,
                     ts_kernel_kind_name(r->task.kind), r->task.shape, done ? "trials" : "trial",
                     r->measured + r->known, l->trials);
    if (r->failed && n < (int)size) n += snprintf(buf + n, size - (size_t)n, " (%d failed)", r->failed);
    if (isfinite(r->best_s) && n < (int)size) {
        double x = speedup(r);
        n += snprintf(buf + n, size - (size_t)n, ", best %s", fmt_time(r->best_s, best, sizeof best));
        if (isfinite(x) && n < (int)size)
            n += snprintf(buf + n, size - (size_t)n, " (%.2fx the default %s)", x,
                          fmt_time(r->default_s, def, sizeof def));
    }
    if (n < (int)size) snprintf(buf + n, size - (size_t)n, ", %.1f s", ts_rt_now_seconds() - l->start);
}

static void live_finish(struct live *l) {
    if (!l->rep) return;
    char line[512];
    task_line(l, true, line, sizeof line);
    const struct ts_tune_report *r = l->rep;
    const char *why = r->error[0] ? "" : r->exhaustive ? " [whole space]" : r->early_stop ? " [no more gains]"
                                         : r->out_of_budget ? " [budget]" : "";
    fprintf(stderr, "%s%s%s\n", l->shown ? "\r\033[K" : "", line, why);
    fflush(stderr);
    l->shown = false;
    l->rep = NULL;
}

static void on_progress(void *ctx, const struct ts_tune_progress *p) {
    struct live *l = ctx;
    if (l->rep && p->report != l->rep) live_finish(l);
    l->rep = p->report;
    l->task = p->task;
    l->ntasks = p->ntasks;
    l->trials = p->trials;
    if (!l->tty) return;
    double now = ts_rt_now_seconds();
    if (l->shown && now - l->drawn < 0.1) return;
    l->drawn = now;
    char line[512];
    task_line(l, false, line, sizeof line);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    l->shown = true;
}

/* Prints the table; returns how many tasks could not be tuned at all. */
static int print_summary(const struct ts_tune_report *reps, int n, const struct ts_tune_target *t, double seconds) {
    printf("%-4s %-10s %-22s %7s %11s %11s %8s %12s  %s\n", "task", "kind", "shape", "kernels", "default", "best",
           "speed-up", "trials", "best schedule");
    double total_def = 0, total_best = 0;
    int measured = 0, known = 0, failed = 0, tuned = 0, mine = 0, errors = 0;
    bool complete = true;
    for (int i = 0; i < n; i++) {
        const struct ts_tune_report *r = &reps[i];
        if (r->skipped_shard) continue;
        mine++;
        char def[32], best[32], trials[32], sched[160] = "", x[16] = "-";
        double s = speedup(r);
        if (isfinite(s)) snprintf(x, sizeof x, "%.2fx", s);
        if (r->known) snprintf(trials, sizeof trials, "%d+%d known", r->measured, r->known);
        else snprintf(trials, sizeof trials, "%d", r->measured);
        if (r->error[0]) snprintf(sched, sizeof sched, "not tuned: %s", r->error);
        else if (isfinite(r->best_s)) ts_tune_sched_format(r->task.kind, t->kind, &r->best, sched, sizeof sched);
        else if (r->out_of_budget && r->measured + r->known == 0) snprintf(sched, sizeof sched, "not reached: budget");
        else snprintf(sched, sizeof sched, "every candidate failed");
        printf("%-4d %-10s %-22s %7d %11s %11s %8s %12s  %s\n", i + 1, ts_kernel_kind_name(r->task.kind),
               r->task.shape, r->task.count, fmt_time(r->default_s, def, sizeof def),
               fmt_time(r->best_s, best, sizeof best), x, trials, sched);
        measured += r->measured;
        known += r->known;
        failed += r->failed;
        errors += r->error[0] != 0;
        tuned += isfinite(r->best_s);
        if (isfinite(r->default_s) && isfinite(r->best_s)) {
            total_def += r->task.count * r->default_s;
            total_best += r->task.count * r->best_s;
        } else {
            complete = false;
        }
    }
    char a[32], b[32];
    if (total_def > 0)
        printf("model: kernel time %s with the default schedules, %s tuned (%.2fx)%s\n",
               fmt_time(total_def, a, sizeof a), fmt_time(total_best, b, sizeof b), total_def / total_best,
               complete ? "" : " over the tasks measured both ways");
    printf("%d of %d tasks tuned in %.1f s: %d candidates measured (%d failed), %d taken from the database\n", tuned,
           mine, seconds, measured, failed, known);
    return errors;
}

/* The target the records are made for. */
static enum ts_status make_target(const struct tune_opts *o, struct ts_tune_target *t, struct ts_diag *d) {
    if (o->target == TS_TARGET_CUDA)
        return ts_cli_cuda_target(o->m.arch, (int)o->m.device, o->m.strict_f32, true, true, t, d);
    return ts_cli_cpu_target(o->m.cpu, (int)o->m.threads, t, d);
}

int ts_cli_tune(int argc, char **argv) {
    struct tune_opts o;
    int rc = parse_tune_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_codegen_check_target(o.target, &d) != TS_OK) return ts_cli_fail(&d);

    struct ts_graph *g = NULL;
    struct ts_tune_report *reps = NULL;
    int nreps = 0, status = 1;
    struct ts_tune_target t;
    if (ts_graph_load(o.model, &g, &d) != TS_OK) goto fail;
    if (make_target(&o, &t, &d) != TS_OK) goto fail;
    struct ts_cpu_info cpu = {.vector_width = 8}; /* cuda: the CPU schedules go unused */
    if (o.target == TS_TARGET_CPU && ts_cpu_info_init(o.m.cpu, &cpu, &d) != TS_OK) goto fail;
    struct ts_pipeline_opts popts = {.binds = o.binds.items, .nbinds = o.binds.n, .stop_after = TS_PASS_COUNT};
    struct ts_fuse_opts fo = {.vector_width = cpu.vector_width};
    struct ts_program *prog = NULL;
    if (ts_compile_program(g, &popts, &fo, &prog, &d) != TS_OK) goto fail;

    struct ts_tune_opts to = {
        .trials = (int)o.trials, .budget_s = o.budget, .seed = (uint64_t)o.seed, .patience = (int)o.patience,
        .shard = (int)o.shard, .nshards = (int)o.nshards,
        .bench = {.cpu = o.m.cpu, .timeout_s = o.timeout, .seed = (uint64_t)o.seed, .device = (int)o.m.device},
    };
    fprintf(stderr, "tessera: tuning %s (%d kernels) for %s; records in %s\n", o.model, prog->nkernels, t.key, o.db);
    if (o.nshards > 1) fprintf(stderr, "tessera: shard %lld of %lld (0-based)\n", (long long)o.shard, (long long)o.nshards);
    struct live live = {.tty = ts_cli_stderr_is_tty(), .start = ts_rt_now_seconds()};
    enum ts_status st = ts_tune_program(prog, &t, o.db, &to, on_progress, &live, &reps, &nreps, stderr, &d);
    live_finish(&live);
    if (st != TS_OK) goto fail;
    int errors = print_summary(reps, nreps, &t, ts_rt_now_seconds() - live.start);
    printf("use them: tessera compile %s --db %s%s%s%s -o DIR (run and inspect take --db too)\n", o.model, o.db,
           o.target == TS_TARGET_CUDA ? " --target cuda" : "", o.m.cpu ? " --cpu " : "", o.m.cpu ? o.m.cpu : "");
    if (errors) {
        fprintf(stderr, "tessera: error: %s: %d of the tasks could not be tuned (see 'not tuned' in the table)\n",
                o.model, errors);
        goto done;
    }
    status = 0;
    goto done;
fail:
    status = ts_cli_fail(&d);
done:
    free(reps);
    ts_graph_free(g);
    return status;
}
