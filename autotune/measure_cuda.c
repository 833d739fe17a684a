/* measure_cuda.c — times GPU candidates, the tuner's side: NVRTC compiles a
 * batch on up to four host threads while one measuring child process
 * (measure_cuda_child.c), the only one that ever touches the CUDA driver,
 * loads, checks and times the candidates compiled before, one at a time,
 * with CUDA events. The L2 is flushed before each timed run
 * (ts_rt_cuda_session_time_each: a 2×L2 memset outside the timed interval,
 * rather than rotated input buffers). A crash, a lost context or a hang costs
 * that child and its candidate; a fresh child is forked for the rest.
 *
 * Why a child: a sticky CUDA error (an illegal address) poisons the driver
 * for the life of the process, and the driver does not survive fork(), so the
 * tuner itself never initializes it (tsb_cuda_init refuses if it has: build
 * the target with ts_tune_cuda_probe, which asks a child). A child is forked
 * while no compile thread works (at init; mid-batch, after pausing them), so
 * it copies a moment when no other thread holds a lock. Each candidate
 * travels over a socketpair (a dead child's end fails a write with EPIPE, it
 * raises no SIGPIPE) as its cubin and PTX bytes, kernel symbol and launch
 * geometry; the child already has the subprogram, inputs and reference. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autotune/measure_cuda_internal.h"

#define TSM_MAX_THREADS 4               /* NVRTC compiles at once */
#define TSM_SM_REGISTERS 65536          /* per SM (and so per block) on every sm_80+ GPU … */
#define TSM_REGISTER_UNIT 8             /* … given out per thread in multiples of 8 */
#define TSM_EXIT_WAIT_S 5.0             /* for a child told to exit, before SIGKILL */

/* The tuner's state, b->cuda. */
struct tsm {
    pid_t pid;                          /* the measuring child, 0 when none */
    int fd;                             /* our end of its socket */
    struct ts_rt_cuda_info info;        /* its device */
    struct ts_cuda_arch arch;           /* what candidates are compiled for */
    pthread_mutex_t sub_lock;           /* b->sub's schedule while a candidate is rendered */
};

/* ---- the child's life ---------------------------------------------------- */

/* Waits for the child to end (up to wait_s, then SIGKILL); its status. */
static int child_stop(struct tsm *st, bool kill_now, double wait_s) {
    if (st->fd >= 0) close(st->fd);
    st->fd = -1;
    if (st->pid <= 0) return 0;
    if (kill_now) kill(st->pid, SIGKILL);
    int status = 0;
    double until = ts_rt_now_seconds() + wait_s;
    for (;;) {
        pid_t w = waitpid(st->pid, &status, kill_now ? 0 : WNOHANG);
        if (w == st->pid || (w < 0 && errno != EINTR)) break;
        if (w == 0 && ts_rt_now_seconds() > until) {
            kill(st->pid, SIGKILL);
            kill_now = true;
        } else if (w == 0) {
            usleep(1000);
        }
    }
    st->pid = 0;
    return status;
}

/* Whether the child still waits for work: one that died idle (killed from
 * outside, or with the thread that forked it) is reaped here, so that the
 * next candidate is not blamed for it. */
static bool child_alive(struct tsm *st) {
    int status;
    if (st->pid > 0 && waitpid(st->pid, &status, WNOHANG) == st->pid) {
        st->pid = 0;
        close(st->fd);
        st->fd = -1;
    }
    return st->pid > 0;
}

/* Forks a measuring child and reads its hello: 0, or 1 with why in err
 * (no driver, no device: the runtime's line). */
static int child_start(struct ts_tune_bench *b, struct tsm *st, char *err, size_t errsize) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errsize, "socketpair: %s", strerror(errno));
        return 1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errsize, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return 1;
    }
    if (pid == 0) {
        close(sv[0]);
        tsm_child_main(b, sv[1], parent);
    }
    close(sv[1]);
    st->pid = pid;
    st->fd = sv[0];
    struct tsm_hello h;
    int rc = tsm_io(st->fd, &h, sizeof h, false, ts_rt_now_seconds() + b->opts.timeout_s);
    if (rc == 0 && h.magic == TSM_MAGIC && h.ok) {
        st->info = h.info;
        return 0;
    }
    if (rc == 0 && h.magic == TSM_MAGIC) {
        h.error[sizeof h.error - 1] = '\0';
        snprintf(err, errsize, "%s", h.error);
        child_stop(st, false, TSM_EXIT_WAIT_S);
    } else if (rc == 2) {
        snprintf(err, errsize, "the measuring process did not reach the GPU within %g s", b->opts.timeout_s);
        child_stop(st, true, 0);
    } else {
        tsb_describe_end(child_stop(st, false, TSM_EXIT_WAIT_S), err, errsize);
    }
    return 1;
}

/* Sends one compiled candidate and waits for its result, with the
 * watchdog: a child killed by a signal is CRASH, one that exits without a
 * reply ERROR, one past timeout_s is killed (HANG). */
static void child_measure_remote(struct ts_tune_bench *b, struct tsm *st, const struct ts_cuda_code *code,
                                 enum tsb_fault fault, struct ts_tune_result *r) {
    struct tsm_job j;
    memset(&j, 0, sizeof j);
    j.magic = TSM_MAGIC;
    j.fault = (int32_t)fault;
    ts_cuda_code_launch(code, 0, &j.launch);
    snprintf(j.symbol, sizeof j.symbol, "%s", ts_cuda_code_symbol(code, 0));
    size_t cubin_size = 0, ptx_size = 0;
    const void *cubin = ts_cuda_code_cubin(code, &cubin_size);
    const char *ptx = ts_cuda_code_ptx(code, &ptx_size);
    j.cubin_size = cubin ? cubin_size : 0;
    j.ptx_size = ptx ? ptx_size + 1 : 0;
    double deadline = ts_rt_now_seconds() + b->opts.timeout_s;
    struct tsm_reply m;
    int rc = tsm_io(st->fd, &j, sizeof j, true, deadline);
    if (rc == 0 && j.cubin_size) rc = tsm_io(st->fd, (void *)(uintptr_t)cubin, j.cubin_size, true, deadline);
    if (rc == 0 && j.ptx_size) rc = tsm_io(st->fd, (void *)(uintptr_t)ptx, j.ptx_size, true, deadline);
    if (rc == 0) rc = tsm_io(st->fd, &m, sizeof m, false, deadline);
    if (rc == 0 && m.magic != TSM_MAGIC) rc = 1;
    double compile_s = r->compile_s;
    if (rc == 0) {
        *r = m.r;
        r->error[sizeof r->error - 1] = '\0';
        if (m.lost) child_stop(st, false, TSM_EXIT_WAIT_S); /* it exits: a fresh one measures the next */
    } else if (rc == 2) {
        child_stop(st, true, 0);
        tsb_fail(r, TS_TUNE_HANG, "killed after the %g s timeout", b->opts.timeout_s);
    } else {
        /* Gone without a reply: CRASH if a signal killed it, else ERROR (as on the CPU). */
        char why[256];
        enum ts_tune_status s = tsb_describe_end(child_stop(st, false, TSM_EXIT_WAIT_S), why, sizeof why);
        tsb_fail(r, s, "%s", why);
    }
    r->compile_s = compile_s;
}

/* ---- compiling on host threads ------------------------------------------- */

struct tsm_compiled {
    struct ts_cuda_code *code;
    enum ts_tune_status status;         /* OK: to be measured; else why not (COMPILE, RESOURCES) */
    char error[256];
    double compile_s;
    bool done;
};

struct tsm_batch {
    struct ts_tune_bench *b;
    struct tsm *st;
    const union ts_sched *cands;
    int n;
    struct tsm_compiled *jobs;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int next;                           /* the next job a worker takes */
    int active;                         /* jobs being compiled */
    bool paused;                        /* no new job starts (a child is being forked) */
};

/* ptxas's errors that are about what the code asks of the GPU. */
static bool resource_log(const char *log) {
    return strstr(log, "too much shared data") || strstr(log, "too much local data") ||
           strstr(log, "too many resources") || strstr(log, "registers exceed");
}

/* Renders and compiles candidate i: COMPILE when either fails, RESOURCES
 * when ptxas reports spills or more registers than a block may have. */
static void compile_one(struct tsm_batch *bt, int i) {
    struct ts_tune_bench *b = bt->b;
    struct tsm_compiled *c = &bt->jobs[i];
    struct ts_cuda_opts co = {.arch = bt->st->arch.name,
                              .strict_f32 = b->target.strict_f32,
                              .cache_dir = b->opts.cache_dir,
                              .ptxas_verbose = true};
    struct ts_diag d;
    ts_diag_clear(&d);
    double t0 = ts_rt_now_seconds();
    /* Rendering reads the schedule from b->sub (the code keeps copies of the
     * kernels); NVRTC, the slow part, runs unlocked. */
    pthread_mutex_lock(&bt->st->sub_lock);
    tsb_apply(b, &bt->cands[i]);
    enum ts_status s = ts_cuda_codegen(b->sub, &co, &c->code, &d);
    pthread_mutex_unlock(&bt->st->sub_lock);
    if (s == TS_OK) s = ts_cuda_code_compile(c->code, &d);
    c->compile_s = ts_rt_now_seconds() - t0;
    c->status = TS_TUNE_OK;
    if (s != TS_OK) {
        c->status = c->code && resource_log(ts_cuda_code_log(c->code)) ? TS_TUNE_RESOURCES : TS_TUNE_COMPILE;
        ts_diag_format(&d, c->error, sizeof c->error);
        return;
    }
    const char *sym = ts_cuda_code_symbol(c->code, 0);
    int regs = 0;
    int64_t spills = 0, stack = 0;
    struct ts_cuda_launch l;
    ts_cuda_code_launch(c->code, 0, &l);
    int64_t threads = (int64_t)l.block[0] * l.block[1] * l.block[2];
    if (ts_ptxas_report(ts_cuda_code_log(c->code), sym, &regs, &spills, &stack) && spills > 0) {
        c->status = TS_TUNE_RESOURCES;
        snprintf(c->error, sizeof c->error, "%s: ptxas spills %lld bytes to local memory (%d registers)", sym,
                 (long long)spills, regs);
    } else if ((int64_t)(regs + TSM_REGISTER_UNIT - 1) / TSM_REGISTER_UNIT * TSM_REGISTER_UNIT * threads >
               TSM_SM_REGISTERS) {
        /* the launch would be refused (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES): no need to try */
        c->status = TS_TUNE_RESOURCES;
        snprintf(c->error, sizeof c->error,
                 "%s: %d registers per thread × %lld threads exceed the %d registers of a block", sym, regs,
                 (long long)threads, TSM_SM_REGISTERS);
    }
}

static void *compile_worker(void *arg) {
    struct tsm_batch *bt = arg;
    pthread_mutex_lock(&bt->lock);
    for (;;) {
        while (bt->paused) pthread_cond_wait(&bt->cond, &bt->lock);
        if (bt->next >= bt->n) break;
        int i = bt->next++;
        bt->active++;
        pthread_mutex_unlock(&bt->lock);
        compile_one(bt, i);
        pthread_mutex_lock(&bt->lock);
        bt->active--;
        bt->jobs[i].done = true;
        pthread_cond_broadcast(&bt->cond);
    }
    pthread_mutex_unlock(&bt->lock);
    return NULL;
}

/* A fresh child, forked while no worker compiles (fork copies only the
 * calling thread: a lock another thread held would stay held in the child). */
static int child_restart(struct tsm_batch *bt, char *err, size_t errsize) {
    pthread_mutex_lock(&bt->lock);
    bt->paused = true;
    while (bt->active > 0) pthread_cond_wait(&bt->cond, &bt->lock);
    int rc = child_start(bt->b, bt->st, err, errsize);
    bt->paused = false;
    pthread_cond_broadcast(&bt->cond);
    pthread_mutex_unlock(&bt->lock);
    return rc;
}

void tsb_cuda_run(struct ts_tune_bench *b, const union ts_sched *c, const enum tsb_fault *faults, int n,
                  struct ts_tune_result *results) {
    struct tsm *st = b->cuda;
    struct tsm_batch bt = {.b = b, .st = st, .cands = c, .n = n};
    bt.jobs = calloc((size_t)n + 1, sizeof *bt.jobs);
    if (!bt.jobs) {
        for (int i = 0; i < n; i++) tsb_fail(&results[i], TS_TUNE_ERROR, "out of memory");
        return;
    }
    pthread_mutex_init(&bt.lock, NULL);
    pthread_cond_init(&bt.cond, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int want = n < TSM_MAX_THREADS ? n : TSM_MAX_THREADS;
    if (cpus >= 1 && want > cpus) want = (int)cpus;
    pthread_t threads[TSM_MAX_THREADS];
    int nthreads = 0;
    while (nthreads < want && pthread_create(&threads[nthreads], NULL, compile_worker, &bt) == 0) nthreads++;
    if (nthreads == 0) compile_worker(&bt); /* no thread to be had: compile everything first, here */

    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&bt.lock);
        while (!bt.jobs[i].done) pthread_cond_wait(&bt.cond, &bt.lock);
        pthread_mutex_unlock(&bt.lock);
        struct tsm_compiled *job = &bt.jobs[i];
        struct ts_tune_result *r = &results[i];
        memset(r, 0, sizeof *r);
        r->compile_s = job->compile_s;
        char err[512];
        if (job->status != TS_TUNE_OK) tsb_fail(r, job->status, "%s", job->error);
        else if (!child_alive(st) && child_restart(&bt, err, sizeof err) != 0)
            tsb_fail(r, TS_TUNE_ERROR, "starting a measuring process: %s", err);
        else child_measure_remote(b, st, job->code, faults[i], r);
        ts_cuda_code_free(job->code);
        job->code = NULL;
    }
    for (int t = 0; t < nthreads; t++) pthread_join(threads[t], NULL);
    pthread_cond_destroy(&bt.cond);
    pthread_mutex_destroy(&bt.lock);
    free(bt.jobs);
}

/* ---- init and free ------------------------------------------------------- */

enum ts_status tsb_cuda_init(struct ts_tune_bench *b, struct ts_diag *d) {
    const char *path = b->sub->graph->path;
    struct ts_cuda_arch arch;
    struct ts_diag nd;
    ts_diag_clear(&nd);
    /* The stub code generator refuses every arch: no CUDA headers at build time. */
    if (ts_cuda_arch_parse(TS_CUDA_DEFAULT_ARCH, &arch, &nd) != TS_OK)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, path, "--target cuda",
                           "this tessera was built without the CUDA headers: it cannot measure on the GPU");
    TS_TRY(ts_cuda_arch_parse(b->target.arch[0] ? b->target.arch : TS_CUDA_DEFAULT_ARCH, &arch, d));
    if (ts_rt_cuda_driver_loaded())
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, path, "--target cuda",
                           "the CUDA driver is already initialized in this process, and a forked measuring "
                           "process cannot use it: build the target with ts_tune_cuda_probe, not "
                           "ts_rt_cuda_probe");
    int major, minor;
    TS_TRY(ts_nvrtc_version(&major, &minor, d)); /* no NVRTC: its message, before any process starts */
    struct tsm *st = calloc(1, sizeof *st);
    if (!st) return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory");
    st->fd = -1;
    st->arch = arch;
    pthread_mutex_init(&st->sub_lock, NULL);
    b->cuda = st;
    char err[512];
    if (child_start(b, st, err, sizeof err) != 0) return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "", "%s", err);
    /* Records carry the target's device: measuring another one would file them wrongly. */
    if (b->target.device[0] && strcmp(b->target.device, st->info.name) != 0)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, path, "--target cuda",
                           "the tuning target is '%s' but CUDA device %d is '%s'", b->target.device,
                           b->opts.device, st->info.name);
    /* Code for a newer GPU (or another "a" arch) would fail every candidate. */
    int sm = st->info.cc_major * 10 + st->info.cc_minor;
    if (arch.sm > sm || (arch.specific && arch.sm != sm))
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, path, "--target cuda",
                           "code for %s cannot run on CUDA device %d (%s, %s)", arch.name, b->opts.device,
                           st->info.name, st->info.arch);
    return TS_OK;
}

void tsb_cuda_free(struct ts_tune_bench *b) {
    struct tsm *st = b->cuda;
    if (!st) return;
    child_stop(st, false, TSM_EXIT_WAIT_S); /* closing the socket ends its loop */
    pthread_mutex_destroy(&st->sub_lock);
    free(st);
    b->cuda = NULL;
}

/* ---- the GPU probe, from a child ----------------------------------------- */

enum ts_status ts_tune_cuda_probe(int device, struct ts_rt_cuda_info *out, struct ts_diag *d) {
    memset(out, 0, sizeof *out);
    char err[512];
    if (ts_rt_cuda_driver_loaded()) { /* the harm is done: ask here */
        if (ts_rt_cuda_probe(device, out, err, sizeof err) != 0)
            return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "--target cuda", "%s", err);
        return TS_OK;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return ts_diag_set(d, TS_ERR_RUNTIME, "", "--target cuda", "socketpair: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return ts_diag_set(d, TS_ERR_RUNTIME, "", "--target cuda", "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(sv[0]);
        struct tsm_hello h = {.magic = TSM_MAGIC};
        h.ok = ts_rt_cuda_probe(device, &h.info, h.error, sizeof h.error) == 0;
        tsm_io(sv[1], &h, sizeof h, true, 0);
        _exit(0);
    }
    close(sv[1]);
    struct tsm st = {.pid = pid, .fd = sv[0]};
    struct tsm_hello h;
    int rc = tsm_io(st.fd, &h, sizeof h, false, ts_rt_now_seconds() + 60);
    int status = child_stop(&st, rc == 2, TSM_EXIT_WAIT_S);
    if (rc == 0 && h.magic == TSM_MAGIC && h.ok) {
        *out = h.info;
        return TS_OK;
    }
    if (rc == 0 && h.magic == TSM_MAGIC) {
        h.error[sizeof h.error - 1] = '\0';
        snprintf(err, sizeof err, "%s", h.error);
    } else if (rc == 2) {
        snprintf(err, sizeof err, "probing CUDA device %d took longer than 60 s", device);
    } else {
        tsb_describe_end(status, err, sizeof err);
    }
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "--target cuda", "%s", err);
}
