/* bench.c — measuring candidate schedules of one kernel: what the CPU and
 * GPU backends share (the one-kernel program, random inputs with gather
 * indices kept in range, the reference output, verification with the
 * tolerances of `run --check`, fault injection for tests) and the dispatch
 * of each batch of candidates to the target's backend after the legality check. */
#define _GNU_SOURCE /* strsignal */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "autotune/bench_internal.h"

/* ---- statuses ------------------------------------------------------------- */

static const char *const status_names[TS_TUNE_STATUS_COUNT] = {
    [TS_TUNE_OK] = "ok",           [TS_TUNE_ILLEGAL] = "illegal", [TS_TUNE_COMPILE] = "compile",
    [TS_TUNE_RESOURCES] = "resources", [TS_TUNE_CRASH] = "crash", [TS_TUNE_HANG] = "hang",
    [TS_TUNE_WRONG] = "wrong",     [TS_TUNE_ERROR] = "error"};

const char *ts_tune_status_name(enum ts_tune_status s) {
    return s >= 0 && s < TS_TUNE_STATUS_COUNT ? status_names[s] : "?";
}

bool ts_tune_status_from_name(const char *name, enum ts_tune_status *out) {
    for (int i = 0; i < TS_TUNE_STATUS_COUNT; i++)
        if (name && !strcmp(name, status_names[i])) {
            *out = (enum ts_tune_status)i;
            return true;
        }
    return false;
}

/* ---- fault injection ----------------------------------------------------- */

/* $TESSERA_TUNE_FAULT: "crash@2,hang@3,wrong@4,error@5,exit@6". Malformed items are
 * ignored: this is a test hook, never user input that must be diagnosed. */
static void parse_faults(struct ts_tune_bench *b) {
    static const char *const names[TSB_FAULT_COUNT] = {NULL, "crash", "hang", "wrong", "error", "exit"};
    const char *env = getenv("TESSERA_TUNE_FAULT");
    if (!env) return;
    const char *s = env;
    while (*s && b->nfaults < TSB_MAX_FAULTS) {
        size_t len = strcspn(s, ",");
        for (int f = 1; f < TSB_FAULT_COUNT; f++) {
            size_t nl = strlen(names[f]);
            if (len > nl + 1 && strncmp(s, names[f], nl) == 0 && s[nl] == '@') {
                char *end;
                long n = strtol(s + nl + 1, &end, 10);
                if (end == s + len && n >= 1 && n <= 1000000) {
                    b->fault_at[b->nfaults] = (enum tsb_fault)f;
                    b->fault_n[b->nfaults++] = (int)n;
                }
            }
        }
        s += len;
        if (*s == ',') s++;
    }
}

static enum tsb_fault fault_of(const struct ts_tune_bench *b, int ordinal) {
    for (int j = 0; j < b->nfaults; j++)
        if (b->fault_n[j] == ordinal) return b->fault_at[j];
    return TSB_FAULT_NONE;
}

/* ---- inputs ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double uniform(uint64_t *s) { return (double)(splitmix64(s) >> 11) / 9007199254740992.0; }

/* Per graph input of the subprogram, the smallest gather range its values
 * index (0: not used as an index): every LOAD or LOAD_AT whose value flows
 * into a LOAD_AT's index expression. */
static void gather_bounds(const struct ts_kernel *k, int64_t *bound) {
    bool *need = calloc((size_t)k->nexpr + 1, sizeof *need);
    TS_ASSERT(need);
    for (int g = 0; g < k->nexpr; g++) {
        const struct ts_kx *x = &k->expr[g];
        if (x->op != TS_KX_LOAD_AT) continue;
        int64_t size = k->inputs[x->a].gather_size;
        memset(need, 0, sizeof *need * (size_t)k->nexpr);
        need[x->b] = true;
        for (int e = x->b; e >= 0; e--) {
            if (!need[e]) continue;
            const struct ts_kx *y = &k->expr[e];
            if (y->op == TS_KX_LOAD || y->op == TS_KX_LOAD_AT) {
                int buf = k->inputs[y->a].buffer;
                if (ts_dtype_is_int(y->dtype) && size > 0 && (bound[buf] == 0 || size < bound[buf]))
                    bound[buf] = size;
                if (y->op == TS_KX_LOAD_AT) need[y->b] = true;
                continue;
            }
            int nargs = ts_kx_op_nargs(y->op);
            if (y->op == TS_KX_INDEX || y->op == TS_KX_CONST || y->op == TS_KX_ACC || y->op == TS_KX_ROW) nargs = 0;
            if (nargs > 0) need[y->a] = true;
            if (nargs > 1) need[y->b] = true;
            if (nargs > 2) need[y->c] = true;
        }
    }
    free(need);
}

/* Random non-zero data: floats uniform in ±[0.125, 1], gather indices in
 * [0, range), other integers in [1, 16], bools mostly true (a fully masked
 * attention row is an edge case, not what is being timed). */
static void fill_input(struct ts_tensor *t, int64_t bound, uint64_t *rng) {
    for (int64_t i = 0; i < t->numel; i++) {
        double u = uniform(rng);
        if (ts_dtype_is_float(t->dtype)) {
            double sign = splitmix64(rng) & 1 ? -1.0 : 1.0;
            ts_tensor_set_f64(t, i, sign * (0.125 + 0.875 * u));
        } else if (t->dtype == TS_BOOL) {
            ts_tensor_set_i64(t, i, u < 0.75);
        } else if (bound > 0) {
            ts_tensor_set_i64(t, i, (int64_t)(u * (double)bound) % bound);
        } else {
            ts_tensor_set_i64(t, i, 1 + (int64_t)(u * 16) % 16);
        }
    }
}

static enum ts_status make_inputs(struct ts_tune_bench *b, struct ts_diag *d) {
    const struct ts_graph *g = b->sub->graph;
    b->inputs = calloc((size_t)g->ninputs + 1, sizeof *b->inputs);
    if (!b->inputs) return ts_diag_set(d, TS_ERR_NOMEM, g->path, "", "out of memory");
    int64_t *bound = calloc((size_t)b->sub->nbuffers + 1, sizeof *bound);
    if (!bound) return ts_diag_set(d, TS_ERR_NOMEM, g->path, "", "out of memory");
    gather_bounds(&b->sub->kernels[0], bound);
    uint64_t rng = b->opts.seed ^ 0x5eed5eed5eed5eedull;
    enum ts_status st = TS_OK;
    for (int i = 0; i < g->ninputs && st == TS_OK; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        st = ts_tensor_alloc(&b->inputs[i], v->dtype, rank, dims, v->name, d);
        if (st == TS_OK) {
            b->ninputs = i + 1;
            fill_input(&b->inputs[i], bound[b->sub->input_buffers[i]], &rng);
        }
    }
    free(bound);
    return st;
}

/* ---- verification ------------------------------------------------------------ */

/* Whether k runs on tf32 tensor cores on t: f32 GEMMs (both factors f32,
 * as codegen/cuda's automatic choice) and f32 attention, unless strict_f32.
 * Candidates that pick SIMT instead are only more exact. */
static bool uses_tf32(const struct ts_kernel *k, const struct ts_tune_target *t) {
    if (t->kind != TS_TARGET_CUDA || t->strict_f32) return false;
    if (k->kind == TS_KERNEL_GEMM)
        return k->ninputs >= 2 && k->inputs[0].dtype == TS_F32 && k->inputs[1].dtype == TS_F32;
    if (k->kind == TS_KERNEL_ATTENTION) return k->ninputs >= 1 && k->inputs[0].dtype == TS_F32;
    return false;
}

/* `run --check`'s whole-model tolerances, widened with the square root of
 * the reduction length past 64 (a GEMM's k, a row's length, attention's
 * keys or head size): f32 round-off grows with it while the reference sums
 * in double. tf32 kernels with an f32 output get `run --check`'s 3e-2. */
void tsb_tolerances(const struct ts_kernel *k, enum ts_dtype out, const struct ts_tune_target *t, double *rtol,
                    double *atol) {
    double tol = 0;
    switch (out) {
    case TS_F32: tol = 1e-4; break;
    case TS_F16: tol = 1e-2; break;
    case TS_BF16: tol = 5e-2; break;
    default: break; /* integers and bools: exact */
    }
    double red = 1;
    if (k->kind == TS_KERNEL_GEMM) red = (double)k->k;
    else if (k->kind == TS_KERNEL_ATTENTION) red = (double)(k->attn.sk > k->attn.d ? k->attn.sk : k->attn.d);
    else if (k->kind == TS_KERNEL_ROWWISE)
        for (int i = k->nouter; i < k->rank; i++) red *= (double)k->dims[i];
    double scale = red > 64 ? sqrt(red / 64) : 1;
    /* tf32 tensor cores keep 10 mantissa bits of each f32 product's inputs. */
    if (out == TS_F32 && uses_tf32(k, t)) tol = 3e-2;
    else if (ts_dtype_is_float(out)) tol *= scale;
    *rtol = *atol = tol;
}

static struct ts_tensor view_of(const struct ts_tune_bench *b, const void *out) {
    struct ts_tensor t = b->ref;
    t.data = (void *)(uintptr_t)out;
    t.owns_data = false;
    return t;
}

bool tsb_verify(const struct ts_tune_bench *b, const void *out, char *why, size_t size) {
    struct ts_tensor got = view_of(b, out);
    const struct ts_tensor *want = &b->ref;
    bool integer = !ts_dtype_is_float(want->dtype);
    int64_t bad = 0, worst = -1;
    double worst_excess = -INFINITY, wg = 0, ww = 0;
    for (int64_t i = 0; i < want->numel; i++) {
        double x, y, excess;
        if (integer) {
            int64_t p = ts_tensor_get_i64(&got, i), q = ts_tensor_get_i64(want, i);
            x = (double)p;
            y = (double)q;
            excess = p == q ? -1 : fabs(x - y) + 1;
        } else {
            x = ts_tensor_get_f64(&got, i);
            y = ts_tensor_get_f64(want, i);
            double e;
            if (isnan(x) || isnan(y)) e = isnan(x) && isnan(y) ? 0 : INFINITY;
            else if (isinf(x) || isinf(y)) e = x == y ? 0 : INFINITY;
            else e = fabs(x - y);
            excess = e - (b->atol + b->rtol * (isfinite(y) ? fabs(y) : 0));
        }
        if (excess > 0) bad++;
        if (excess > worst_excess) worst_excess = excess, worst = i, wg = x, ww = y;
    }
    if (!bad) {
        if (size) why[0] = '\0';
        return true;
    }
    snprintf(why, size,
             "%lld of %lld elements beyond tolerance (rtol %g, atol %g); worst at element %lld: got %.9g, "
             "reference %.9g",
             (long long)bad, (long long)want->numel, b->rtol, b->atol, (long long)worst, wg, ww);
    return false;
}

void tsb_corrupt(const struct ts_tune_bench *b, void *out) {
    if (b->ref.numel == 0) return;
    struct ts_tensor got = view_of(b, out);
    int64_t i = b->ref.numel / 2;
    if (ts_dtype_is_float(got.dtype)) {
        double y = ts_tensor_get_f64(&b->ref, i);
        ts_tensor_set_f64(&got, i, isfinite(y) ? y + 1 + 4 * fabs(y) : 1.0);
    } else if (got.dtype == TS_BOOL) {
        ts_tensor_set_i64(&got, i, !ts_tensor_get_i64(&b->ref, i));
    } else {
        ts_tensor_set_i64(&got, i, ts_tensor_get_i64(&b->ref, i) ^ 1);
    }
}

void tsb_fail(struct ts_tune_result *r, enum ts_tune_status s, const char *fmt, ...) {
    double compile_s = r->compile_s;
    memset(r, 0, sizeof *r);
    r->status = s;
    r->compile_s = compile_s;
    r->median_s = r->min_s = r->max_s = INFINITY;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
}

enum ts_tune_status tsb_describe_end(int status, char *buf, size_t size) {
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(buf, size, "the measuring process died of signal %d (%s)", sig, strsignal(sig));
        return TS_TUNE_CRASH;
    }
    snprintf(buf, size, "the measuring process exited with status %d without a result",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return TS_TUNE_ERROR;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void tsb_times(struct ts_tune_result *r, double *times, int n) {
    r->count = n;
    if (n <= 0) {
        r->median_s = r->min_s = r->max_s = INFINITY;
        return;
    }
    qsort(times, (size_t)n, sizeof *times, cmp_double);
    r->min_s = times[0];
    r->max_s = times[n - 1];
    r->median_s = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

/* ---- the bench ---------------------------------------------------------------- */

void tsb_apply(struct ts_tune_bench *b, const union ts_sched *c) {
    struct ts_kernel *k = &b->sub->kernels[0];
    ts_tune_sched_copy(k->kind, b->target.kind, &k->sched, c);
}

enum ts_status ts_tune_bench_init(const struct ts_program *p, int kernel, const struct ts_tune_target *t,
                                  const struct ts_tune_bench_opts *o, struct ts_tune_bench **out,
                                  struct ts_diag *d) {
    static const struct ts_tune_bench_opts defaults = {0};
    *out = NULL;
    if (!o) o = &defaults;
    if (t->kind != TS_TARGET_CPU && t->kind != TS_TARGET_CUDA)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, p->graph->path, "", "tuning needs a CPU or CUDA target");
    struct ts_tune_bench *b = calloc(1, sizeof *b);
    if (!b) return ts_diag_set(d, TS_ERR_NOMEM, p->graph->path, "", "out of memory");
    b->kernel = kernel;
    b->target = *t;
    b->opts = *o;
    if (o->cpu) snprintf(b->cpu_name, sizeof b->cpu_name, "%s", o->cpu);
    if (o->cache_dir) snprintf(b->cache_dir, sizeof b->cache_dir, "%s", o->cache_dir);
    b->opts.cpu = o->cpu ? b->cpu_name : NULL;
    b->opts.cache_dir = o->cache_dir ? b->cache_dir : NULL;
    if (!(b->opts.timeout_s > 0)) b->opts.timeout_s = 60;
    if (!(b->opts.min_time_s > 0)) b->opts.min_time_s = 0.05;
    if (b->opts.min_runs <= 0) b->opts.min_runs = 5;
    if (b->opts.max_runs <= 0) b->opts.max_runs = 1000;
    if (b->opts.max_runs < b->opts.min_runs) b->opts.max_runs = b->opts.min_runs;
    parse_faults(b);
    enum ts_status st = ts_tune_subprogram(p, kernel, &b->sub, d);
    if (st == TS_OK) st = make_inputs(b, d);
    if (st == TS_OK) st = ts_program_run_ref(b->sub, b->inputs, &b->ref, d);
    if (st == TS_OK) {
        tsb_tolerances(&b->sub->kernels[0], b->ref.dtype, &b->target, &b->rtol, &b->atol);
        st = t->kind == TS_TARGET_CPU ? tsb_cpu_init(b, d) : tsb_cuda_init(b, d);
    }
    if (st != TS_OK) {
        ts_tune_bench_free(b);
        return st;
    }
    *out = b;
    return TS_OK;
}

void ts_tune_bench_run(struct ts_tune_bench *b, const union ts_sched *cands, int n, struct ts_tune_result *results) {
    if (n <= 0) return;
    union ts_sched *legal = calloc((size_t)n, sizeof *legal);
    enum tsb_fault *faults = calloc((size_t)n, sizeof *faults);
    int *where = calloc((size_t)n, sizeof *where);
    struct ts_tune_result *res = calloc((size_t)n, sizeof *res);
    if (!legal || !faults || !where || !res) {
        for (int i = 0; i < n; i++) tsb_fail(&results[i], TS_TUNE_ERROR, "out of memory");
        free(legal), free(faults), free(where), free(res);
        return;
    }
    int nl = 0;
    for (int i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof results[i]);
        int ordinal = ++b->counter;
        /* The legality check on a copy of the kernel: no process is started
         * for a schedule the code generator would refuse. */
        struct ts_kernel k = b->sub->kernels[0];
        ts_tune_sched_copy(k.kind, b->target.kind, &k.sched, &cands[i]);
        struct ts_diag d;
        ts_diag_clear(&d);
        if (ts_tune_check(&k, &b->target, &d) != TS_OK) {
            char msg[1024];
            ts_diag_format(&d, msg, sizeof msg);
            tsb_fail(&results[i], TS_TUNE_ILLEGAL, "%s", msg);
            continue;
        }
        legal[nl] = k.sched;
        faults[nl] = fault_of(b, ordinal);
        where[nl++] = i;
    }
    if (nl > 0) {
        if (b->target.kind == TS_TARGET_CPU) tsb_cpu_run(b, legal, faults, nl, res);
        else tsb_cuda_run(b, legal, faults, nl, res);
    }
    for (int j = 0; j < nl; j++) results[where[j]] = res[j];
    free(legal), free(faults), free(where), free(res);
}

void ts_tune_bench_free(struct ts_tune_bench *b) {
    if (!b) return;
    if (b->target.kind == TS_TARGET_CPU) tsb_cpu_free(b);
    else tsb_cuda_free(b);
    for (int i = 0; i < b->ninputs; i++) ts_tensor_release(&b->inputs[i]);
    free(b->inputs);
    if (b->ref.data) ts_tensor_release(&b->ref);
    if (b->sub) ts_graph_free((struct ts_graph *)(uintptr_t)b->sub->graph);
    free(b);
}
