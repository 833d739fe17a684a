/* measure_cuda_child.c — the autotuner's GPU measuring process, the only
 * one that touches the CUDA driver: it probes the device and keeps its
 * context, then for each candidate the tuner sends (cubin, PTX, symbol,
 * geometry) builds a session on the subprogram's plan, runs it once against
 * the reference, and times replays with CUDA events after flushing the L2. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "autotune/measure_cuda_internal.h"

int tsm_io(int fd, void *buf, size_t n, bool out, double deadline) {
    char *p = buf;
    while (n > 0) {
        int flags = out ? MSG_NOSIGNAL : 0;
        if (deadline > 0) {
            double left = deadline - ts_rt_now_seconds();
            if (left <= 0) return 2;
            struct pollfd pfd = {.fd = fd, .events = out ? POLLOUT : POLLIN};
            int pr = poll(&pfd, 1, left > 1000 ? 1000000 : (int)ceil(left * 1000));
            if (pr < 0 && errno != EINTR) return 1;
            if (pr <= 0) continue;
            flags |= MSG_DONTWAIT;
        }
        ssize_t k = out ? send(fd, p, n, flags) : recv(fd, p, n, flags);
        if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        if (k <= 0) return 1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* What the child keeps between jobs. */
struct tsm_child {
    struct ts_tune_bench *b;
    int fd;
    struct ts_rt_plan plan;
    const void **weights;
    const char **symbols;               /* plan.nkernels, every one the job's symbol */
    const void **in;                    /* the bench's inputs, plan order */
    void *out;
};

/* A failed runtime call: the driver's own sorting decides the status. */
static void child_fail(struct tsm_reply *m, bool loading, const char *err) {
    enum ts_rt_cuda_fault f = ts_rt_cuda_last_fault();
    if (f == TS_RT_CUDA_FAULT_LOST) {
        m->lost = 1;
        tsb_fail(&m->r, TS_TUNE_CRASH, "the CUDA context was lost: %s", err);
    } else if (loading || f == TS_RT_CUDA_FAULT_RESOURCES) {
        tsb_fail(&m->r, TS_TUNE_RESOURCES, "%s", err);
    } else {
        tsb_fail(&m->r, TS_TUNE_ERROR, "%s", err);
    }
}

/* The number of timed runs: min_time_s worth by the first run's time,
 * within [min_runs, max_runs]. */
static int child_runs(const struct ts_tune_bench_opts *o, double first_s) {
    double want = first_s > 0 ? ceil(o->min_time_s / first_s) : o->max_runs;
    if (want < o->min_runs) want = o->min_runs;
    if (want > o->max_runs) want = o->max_runs;
    return (int)want;
}

static void child_time(struct tsm_child *ch, struct ts_rt_cuda_session *s, struct tsm_reply *m) {
    char err[1024];
    double first = 0;
    /* The first timed run also finds how many fit in min_time_s. */
    if (ts_rt_cuda_session_time_each(s, 1, true, &first, err, sizeof err) != 0) {
        child_fail(m, false, err);
        return;
    }
    int n = child_runs(&ch->b->opts, first * 1e-3);
    double *ms = calloc((size_t)n, sizeof *ms);
    if (!ms) {
        tsb_fail(&m->r, TS_TUNE_ERROR, "out of memory");
        return;
    }
    if (ts_rt_cuda_session_time_each(s, n, true, ms, err, sizeof err) != 0) {
        child_fail(m, false, err);
    } else {
        for (int i = 0; i < n; i++) ms[i] *= 1e-3;
        m->r.status = TS_TUNE_OK;
        m->r.error[0] = '\0';
        tsb_times(&m->r, ms, n);
    }
    free(ms);
}

static void child_measure(struct tsm_child *ch, const struct tsm_job *j, const void *cubin, const char *ptx,
                          struct tsm_reply *m) {
    struct ts_tune_bench *b = ch->b;
    if (j->fault == TSB_FAULT_CRASH) raise(SIGSEGV);
    if (j->fault == TSB_FAULT_HANG)
        for (;;) pause();
    if (j->fault == TSB_FAULT_ERROR) {
        tsb_fail(&m->r, TS_TUNE_ERROR, "injected error ($TESSERA_TUNE_FAULT)");
        return;
    }
    if (j->fault == TSB_FAULT_EXIT) _exit(TSB_FAULT_EXIT_STATUS);
    /* ts_plan_from_program made the launches in the graph's arena: ours to fill. */
    struct ts_rt_launch *ls = (struct ts_rt_launch *)(uintptr_t)ch->plan.launches;
    const struct ts_cuda_launch *g = &j->launch;
    for (int i = 0; i < ch->plan.nlaunches; i++) {
        memcpy(ls[i].grid, g->grid, sizeof ls[i].grid);
        memcpy(ls[i].block, g->block, sizeof ls[i].block);
        ls[i].shared_bytes = g->shared_bytes;
        ls[i].workspace_bytes = g->workspace_bytes;
        /* The tensor maps (as exec_cuda.c's ts_plan_set_cuda_launches copies them): the
         * session checks each against its buffer before encoding it. */
        ls[i].ntmaps = g->ntmaps;
        ls[i].persistent = g->persistent;
        for (int k = 0; k < TS_RT_MAX_TMAPS && k < TS_CUDA_MAX_TMAPS; k++) {
            struct ts_rt_tmap *t = &ls[i].tmaps[k];
            const struct ts_cuda_tmap *c = &g->tmaps[k];
            t->arg = c->arg, t->dtype = c->dtype, t->rank = c->rank, t->swizzle = c->swizzle;
            t->offset = c->offset;
            memcpy(t->dims, c->dims, sizeof t->dims);
            memcpy(t->strides, c->strides, sizeof t->strides);
            memcpy(t->box, c->box, sizeof t->box);
        }
    }
    for (int k = 0; k < ch->plan.nkernels; k++) ch->symbols[k] = j->symbol;
    struct ts_rt_cuda_image image = {.cubin = j->cubin_size ? cubin : NULL,
                                     .cubin_size = j->cubin_size,
                                     .ptx = j->ptx_size ? ptx : NULL,
                                     .symbols = ch->symbols};
    char err[1024];
    struct ts_rt_cuda_session *s = NULL;
    if (ts_rt_cuda_session_init(&ch->plan, &image, ch->weights, b->opts.device, &s, err, sizeof err) != 0) {
        child_fail(m, true, err);
        return;
    }
    /* The check run: the session's memory starts zeroed, so elements the
     * kernel does not write read zero, as in the reference. */
    if (ts_rt_cuda_session_run(s, ch->in, &ch->out, err, sizeof err) != 0) {
        child_fail(m, false, err);
    } else {
        if (j->fault == TSB_FAULT_WRONG) tsb_corrupt(b, ch->out);
        char why[256];
        if (!tsb_verify(b, ch->out, why, sizeof why)) tsb_fail(&m->r, TS_TUNE_WRONG, "%s", why);
        else child_time(ch, s, m);
    }
    if (!m->lost) ts_rt_cuda_session_free(s); /* a lost context would only fail again */
}

_Noreturn void tsm_child_main(struct ts_tune_bench *b, int fd, pid_t parent) {
    /* A crash must end the child by its signal (TS_TUNE_CRASH), not in a
     * handler the parent installed (a sanitizer's exits with 1). */
    static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) signal(crash_signals[i], SIG_DFL);
    /* Ctrl-C is the tuner's to handle (its handler is no use here): the
     * child ends when the tuner closes the socket, or dies with it. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    /* No orphan outlives a killed tuner (a hung kernel would hold the GPU).
     * Linux sends it when the thread that forked ends: the bench's caller. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);

    struct tsm_child ch = {.b = b, .fd = fd};
    struct tsm_hello h = {.magic = TSM_MAGIC};
    struct ts_diag d;
    ts_diag_clear(&d);
    /* The context lives as long as the child: each candidate's session
     * would otherwise create it anew. */
    if (ts_rt_cuda_probe(b->opts.device, &h.info, h.error, sizeof h.error) != 0 ||
        ts_rt_cuda_keep_context(b->opts.device, h.error, sizeof h.error) != 0) {
        tsm_io(fd, &h, sizeof h, true, 0);
        _exit(0);
    }
    if (ts_plan_from_program(b->sub, &ch.plan, &ch.weights, &d) != TS_OK) {
        ts_diag_format(&d, h.error, sizeof h.error);
    } else if (ch.plan.ninputs != b->ninputs || ch.plan.noutputs != 1 ||
               ch.plan.outputs[0].nbytes != (int64_t)b->ref.nbytes) {
        snprintf(h.error, sizeof h.error, "the subprogram's plan does not match the bench's inputs and output");
    } else {
        ch.symbols = calloc((size_t)ch.plan.nkernels + 1, sizeof *ch.symbols);
        ch.in = calloc((size_t)b->ninputs + 1, sizeof *ch.in);
        ch.out = calloc(1, b->ref.nbytes + 1);
        if (!ch.symbols || !ch.in || !ch.out) snprintf(h.error, sizeof h.error, "out of memory");
        else h.ok = 1;
        for (int i = 0; h.ok && i < b->ninputs; i++) ch.in[i] = b->inputs[i].data;
    }
    if (tsm_io(fd, &h, sizeof h, true, 0) != 0 || !h.ok) _exit(0);
    for (;;) {
        struct tsm_job j;
        if (tsm_io(fd, &j, sizeof j, false, 0) != 0) _exit(0); /* the parent is done */
        if (j.magic != TSM_MAGIC || j.cubin_size > TSM_MAX_IMAGE || j.ptx_size > TSM_MAX_IMAGE) _exit(2);
        j.symbol[sizeof j.symbol - 1] = '\0';
        char *cubin = malloc(j.cubin_size + 1), *ptx = malloc(j.ptx_size + 1);
        if (!cubin || !ptx || tsm_io(fd, cubin, j.cubin_size, false, 0) != 0 ||
            tsm_io(fd, ptx, j.ptx_size, false, 0) != 0)
            _exit(3);
        ptx[j.ptx_size] = '\0';
        struct tsm_reply m;
        memset(&m, 0, sizeof m);
        m.magic = TSM_MAGIC;
        child_measure(&ch, &j, cubin, ptx, &m);
        free(cubin);
        free(ptx);
        if (tsm_io(fd, &m, sizeof m, true, 0) != 0 || m.lost) _exit(0);
    }
}
