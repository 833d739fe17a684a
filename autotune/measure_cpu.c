/* measure_cpu.c — times CPU candidates, each in a child process of its own:
 * the child compiles the subprogram with the candidate's schedule (LLVM JIT),
 * pins its pool, checks one run against the reference, then times runs that
 * rotate over copies of the inputs larger than the workers' private caches
 * (L2), so each run finds its data in the shared cache or memory. The
 * parent only waits with a watchdog, so a crash or a hang costs one candidate.
 *
 * fork() and threads: the parent of the bench (the tuner) runs no thread pool
 * and no LLVM of its own while measuring (LLVM is only used in the child, and
 * the bench starts no threads), so the child is an exact copy of a
 * single-threaded process. If ts_tune_bench_run is ever called while other
 * threads are live, the child still holds only a copy of the calling thread:
 * it goes on to do async-signal-unsafe work (malloc, LLVM, pthread_create), so
 * a lock some other thread held at the fork (an LLVM global, a stdio lock)
 * would stay held forever in the child. That shows up as TS_TUNE_HANG from
 * the watchdog, never as a wrong timing; callers must keep the constraint. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autotune/bench_internal.h"

#define MAX_COPY_BYTES ((int64_t)512 << 20)
#define DEFAULT_L2_BYTES ((int64_t)1 << 20)
#define WARMUP_RUNS 2

/* What the child sends back: one write, well under PIPE_BUF, so atomic. */
struct child_msg {
    struct ts_tune_result r;
    char pin_error[128];   /* why pinning failed ("": pinned) */
};
_Static_assert(sizeof(struct child_msg) <= 4096, "one atomic pipe write");

static int64_t input_set_bytes(const struct ts_tune_bench *b) {
    int64_t n = 0;
    for (int i = 0; i < b->ninputs; i++) n += (int64_t)b->inputs[i].nbytes;
    return n + (int64_t)b->ref.nbytes;
}

static void *alloc64(size_t n) {
    n = (n + 63) / 64 * 64;
    return aligned_alloc(64, n ? n : 64);
}

enum ts_status tsb_cpu_init(struct ts_tune_bench *b, struct ts_diag *d) {
    const char *path = b->sub->graph->path;
    struct ts_cpu_info info;
    TS_TRY(ts_cpu_info_init(b->opts.cpu, &info, d)); /* a bad CPU name fails here, not per candidate */
    /* Enough sets (inputs and output) to exceed twice the private caches of
     * the workers, so each timed run finds its data where a kernel inside a
     * model does: in the shared L3 (the previous kernel wrote it there) or,
     * beyond it, in memory; never in its own L1/L2 from the last run.
     * Rotating past the whole L3 instead (measured on the ViT example, an
     * L3 of 480 MiB) made every kernel memory-bound: the kernel times summed
     * to 1.6x the model's real latency and the schedules chosen gained the
     * model 2-3%; past L2, the sum is within 5% of the model and the model
     * gains 5-8%. */
    int64_t l2 = b->target.l2_bytes > 0 ? b->target.l2_bytes : DEFAULT_L2_BYTES;
    int64_t priv = l2 * (b->target.threads > 0 ? b->target.threads : 1);
    int64_t set = input_set_bytes(b);
    int64_t want = set > 0 ? (2 * priv + set - 1) / set : 1;
    int64_t cap = set > 0 ? MAX_COPY_BYTES / set : 1;
    if (want > cap) want = cap;
    if (want < 1) want = 1;
    b->ncopies = (int)(want > 4096 ? 4096 : want);
    b->copies = calloc((size_t)b->ncopies * (size_t)(b->ninputs + 1), sizeof *b->copies);
    if (!b->copies) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory");
    for (int c = 0; c < b->ncopies; c++)
        for (int i = 0; i < b->ninputs; i++) {
            void *q = alloc64(b->inputs[i].nbytes);
            if (!q)
                return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory for %d copies of the inputs",
                                   b->ncopies);
            memcpy(q, b->inputs[i].data, b->inputs[i].nbytes);
            b->copies[(size_t)c * (size_t)b->ninputs + (size_t)i] = q;
        }
    return TS_OK;
}

void tsb_cpu_free(struct ts_tune_bench *b) {
    if (!b->copies) return;
    for (size_t i = 0; i < (size_t)b->ncopies * (size_t)b->ninputs; i++) free(b->copies[i]);
    free(b->copies);
    b->copies = NULL;
}

/* ---- the child ----------------------------------------------------------------- */

static void send(int fd, const struct child_msg *m) {
    const char *p = (const char *)m;
    size_t left = sizeof *m;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        left -= (size_t)w;
    }
}

static void fail_diag(struct ts_tune_result *r, enum ts_tune_status s, const struct ts_diag *d) {
    char msg[1024];
    ts_diag_format(d, msg, sizeof msg);
    tsb_fail(r, s, "%s", msg);
}

/* The subprogram compiled with the candidate's schedule (ts_cpu_exec) and
 * its pool pinned; NULL with r failed: COMPILE, or ERROR when only the
 * runtime session could not be made. */
static struct ts_cpu_exec *compile(struct ts_tune_bench *b, struct child_msg *m) {
    struct ts_tune_result *r = &m->r;
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_cpu_exec_opts eo = {.cpu = b->opts.cpu, .threads = b->target.threads};
    struct ts_cpu_exec *e = NULL;
    double t0 = ts_rt_now_seconds();
    enum ts_status st = ts_cpu_exec_init(b->sub, &eo, &e, &d);
    if (st != TS_OK) {
        r->compile_s = ts_rt_now_seconds() - t0;
        /* TS_ERR_RUNTIME: only the session (threads, memory) failed, not the code. */
        fail_diag(r, st == TS_ERR_RUNTIME ? TS_TUNE_ERROR : TS_TUNE_COMPILE, &d);
        return NULL;
    }
    r->compile_s = ts_cpu_exec_compile_seconds(e);
    /* Unpinned timings are still timings: a refusal (a container's CPU
     * set, a sandbox) is noted, not fatal. */
    ts_diag_clear(&d);
    if (ts_cpu_exec_pin(e, &d) != TS_OK)
        snprintf(m->pin_error, sizeof m->pin_error, "%.*s", (int)sizeof m->pin_error - 1, d.what);
    return e;
}

/* Everything a candidate's measurement does; returns with m filled. */
static void measure(struct ts_tune_bench *b, enum tsb_fault fault, struct child_msg *m) {
    struct ts_tune_result *r = &m->r;
    const struct ts_tune_bench_opts *o = &b->opts;
    if (fault == TSB_FAULT_CRASH) raise(SIGSEGV);
    if (fault == TSB_FAULT_HANG)
        for (;;) pause();
    if (fault == TSB_FAULT_ERROR) {
        tsb_fail(r, TS_TUNE_ERROR, "injected error ($TESSERA_TUNE_FAULT)");
        return;
    }
    if (fault == TSB_FAULT_EXIT) _exit(TSB_FAULT_EXIT_STATUS);
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_cpu_exec *e = compile(b, m);
    if (!e) return;
    int nc = b->ncopies, ni = b->ninputs;
    void **outs = calloc((size_t)nc, sizeof *outs);
    double *times = calloc((size_t)o->max_runs, sizeof *times);
    if (!outs || !times) {
        tsb_fail(r, TS_TUNE_ERROR, "out of memory");
        return;
    }
    /* Outputs are made (and touched) here: written pages of the parent's
     * memory would be copied on first write, inside the timed runs. */
    for (int c = 0; c < nc; c++) {
        if (!(outs[c] = alloc64(b->ref.nbytes))) {
            tsb_fail(r, TS_TUNE_ERROR, "out of memory for the outputs");
            return;
        }
        memset(outs[c], 0, b->ref.nbytes);
    }
    /* The check run on copy 0 into a zeroed output: elements the kernel does
     * not write stay zero, as in the reference. */
    if (ts_cpu_exec_run_raw(e, (const void *const *)&b->copies[0], &outs[0], &d) != TS_OK) {
        tsb_fail(r, TS_TUNE_ERROR, "%s", d.what); /* the runtime's message alone */
        return;
    }
    if (fault == TSB_FAULT_WRONG) tsb_corrupt(b, outs[0]);
    char why[256];
    if (!tsb_verify(b, outs[0], why, sizeof why)) {
        tsb_fail(r, TS_TUNE_WRONG, "%s", why);
        return;
    }
    for (int w = 0; w < WARMUP_RUNS; w++) {
        int c = (w + 1) % nc;
        const void *const *in = (const void *const *)&b->copies[(size_t)c * (size_t)ni];
        if (ts_cpu_exec_run_raw(e, in, &outs[c], &d) != TS_OK) {
            tsb_fail(r, TS_TUNE_ERROR, "%s", d.what);
            return;
        }
    }
    int n = 0;
    double start = ts_rt_now_seconds();
    while (n < o->max_runs && (n < o->min_runs || ts_rt_now_seconds() - start < o->min_time_s)) {
        int c = (n + WARMUP_RUNS + 1) % nc;
        const void *const *in = (const void *const *)&b->copies[(size_t)c * (size_t)ni];
        double t0 = ts_rt_now_seconds();
        enum ts_status st = ts_cpu_exec_run_raw(e, in, &outs[c], &d);
        double t1 = ts_rt_now_seconds();
        if (st != TS_OK) {
            tsb_fail(r, TS_TUNE_ERROR, "%s", d.what);
            return;
        }
        times[n++] = t1 - t0;
    }
    r->status = TS_TUNE_OK;
    r->error[0] = '\0';
    tsb_times(r, times, n);
    /* Nothing is freed: the process ends with _exit. */
}

/* ---- the parent ------------------------------------------------------------------ */

static void measure_one(struct ts_tune_bench *b, enum tsb_fault fault, struct ts_tune_result *r) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        tsb_fail(r, TS_TUNE_ERROR, "pipe: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        tsb_fail(r, TS_TUNE_ERROR, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        /* A crash must end the child by its signal (TS_TUNE_CRASH), not in
         * a handler the parent installed (a sanitizer's exits with 1). */
        static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
        for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) signal(crash_signals[i], SIG_DFL);
        struct child_msg m;
        memset(&m, 0, sizeof m);
        measure(b, fault, &m);
        send(fds[1], &m);
        _exit(0); /* no atexit handlers, no stdio flush of the parent's buffers */
    }
    close(fds[1]);
    struct child_msg m;
    memset(&m, 0, sizeof m);
    size_t got = 0;
    bool timed_out = false;
    double deadline = ts_rt_now_seconds() + b->opts.timeout_s;
    while (got < sizeof m) {
        double left = deadline - ts_rt_now_seconds();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&pfd, 1, (int)ceil(left * 1000));
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) break;
        if (pr == 0) continue; /* the loop's deadline test decides */
        ssize_t rd = read(fds[0], (char *)&m + got, sizeof m - got);
        if (rd < 0 && errno == EINTR) continue;
        if (rd <= 0) break; /* EOF: the child ended without (all of) a result */
        got += (size_t)rd;
    }
    close(fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        tsb_fail(r, TS_TUNE_HANG, "killed after the %g s timeout", b->opts.timeout_s);
    } else if (got == sizeof m) {
        *r = m.r;
        if (m.pin_error[0] && !b->pin_error[0]) snprintf(b->pin_error, sizeof b->pin_error, "%s", m.pin_error);
    } else {
        /* No (whole) result: CRASH if a signal killed it, else ERROR. */
        char why[256];
        enum ts_tune_status s = tsb_describe_end(status, why, sizeof why);
        tsb_fail(r, s, "%s", why);
    }
}

void tsb_cpu_run(struct ts_tune_bench *b, const union ts_sched *c, const enum tsb_fault *faults, int n,
                 struct ts_tune_result *results) {
    for (int i = 0; i < n; i++) {
        tsb_apply(b, &c[i]);
        memset(&results[i], 0, sizeof results[i]);
        measure_one(b, faults[i], &results[i]);
    }
}
