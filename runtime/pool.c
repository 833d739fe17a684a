/* pool.c — the persistent CPU thread pool: workers are created once and wait
 * between runs (spinning briefly, then sleeping on a condition variable); each
 * run splits [0, ntasks) into contiguous ranges, one per worker, the caller
 * doing range 0. One caller at a time; fn must not call back into the pool. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/runtime.h"

/* More workers than this is a mistake in the caller, not a machine. */
#define TS_POOL_MAX_THREADS 1024
/* How long a waiter spins before it sleeps: long enough to cover the gap
 * between two launches of a model (so that the next run needs no system call
 * to wake anybody), short enough not to burn a core for long when the pool
 * sits idle. Time-bounded because a pause instruction costs from 10 to 150
 * cycles depending on the processor. */
#define TS_POOL_SPIN_SECONDS 100e-6
/* After this long a spinning waiter yields its core instead of pausing: when
 * there are more threads than free cores, the thread it waits for may be
 * the one that needs the core. */
#define TS_POOL_YIELD_AFTER_SECONDS 5e-6

/* One per worker, on its own cache line so that results do not false-share. */
struct ts_pool_slot {
    _Alignas(64) int32_t result;
    pthread_t thread;
    struct ts_rt_pool *pool;
    int worker;
};

struct ts_rt_pool {
    int nthreads;
    struct ts_pool_slot *slots; /* nthreads of them; slot 0 is the caller */
    int nstarted;               /* workers 1 … nstarted have a thread */

    /* The current job, written by the caller before it bumps 'generation'. */
    ts_rt_pool_fn fn;
    void *ctx;
    int64_t ntasks;
    int active; /* workers with a nonempty range: 0 … active-1 */

    _Alignas(64) atomic_uint generation; /* bumped once per run that wakes workers */
    atomic_int stop;
    /* Helpers (every worker but the caller) that have not yet finished with
     * the current job. All of them count, even those with an empty range, so
     * that none still reads the job's fields when the next run rewrites them. */
    _Alignas(64) atomic_int remaining;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* generation changed, or stop */
    pthread_cond_t done; /* remaining reached 0 */
};

static inline void ts_pool_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* One step of a bounded spin that started at *t0 (0 before the first step):
 * pauses, later yields, and returns 0 once the waiter should go to sleep. */
static int ts_pool_spin_step(double *t0) {
    double t = ts_rt_now_seconds();
    if (*t0 == 0)
        *t0 = t;
    double waited = t - *t0;
    if (waited > TS_POOL_SPIN_SECONDS)
        return 0;
    if (waited > TS_POOL_YIELD_AFTER_SECONDS) {
        sched_yield();
    } else {
        for (int i = 0; i < 16; i++)
            ts_pool_pause();
    }
    return 1;
}

/* Worker w's share of [0, ntasks) among 'active' workers: balanced, contiguous,
 * and the same every run (no multiplication that could overflow). */
static void ts_pool_range(int64_t ntasks, int active, int w, int64_t *begin, int64_t *end) {
    int64_t chunk = ntasks / active, rem = ntasks % active;
    *begin = (int64_t)w * chunk + (w < rem ? w : rem);
    *end = *begin + chunk + (w < rem ? 1 : 0);
}

static void ts_pool_do_share(struct ts_rt_pool *p, int w) {
    int64_t begin, end;
    ts_pool_range(p->ntasks, p->active, w, &begin, &end);
    p->slots[w].result = begin < end ? p->fn(p->ctx, w, begin, end) : 0;
}

static void *ts_pool_worker_main(void *arg) {
    struct ts_pool_slot *slot = arg;
    struct ts_rt_pool *p = slot->pool;
    /* Not a load of 'generation': the first run may bump it before this
     * thread gets here. Every worker is started before any run, at 0. */
    unsigned seen = 0;
    for (;;) {
        unsigned gen = seen;
        double t0 = 0;
        while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed) && ts_pool_spin_step(&t0))
            ;
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
                   !atomic_load_explicit(&p->stop, memory_order_relaxed))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            return NULL;
        seen = gen;
        if (slot->worker < p->active)
            ts_pool_do_share(p, slot->worker);
        /* The last helper to finish wakes the caller if it went to sleep; the
         * lock makes sure the caller is either before its check or waiting. */
        if (atomic_fetch_sub_explicit(&p->remaining, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void ts_pool_stop_workers(struct ts_rt_pool *p) {
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->stop, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int w = 1; w <= p->nstarted; w++)
        pthread_join(p->slots[w].thread, NULL);
    p->nstarted = 0;
}

int ts_rt_pool_init(int nthreads, struct ts_rt_pool **out, char *err, size_t errsize) {
    *out = NULL;
    if (nthreads < 0 || nthreads > TS_POOL_MAX_THREADS) {
        snprintf(err, errsize, "thread count %d is out of range (0 for one per core, or 1 to %d)",
                 nthreads, TS_POOL_MAX_THREADS);
        return 1;
    }
    if (nthreads == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = ncpu < 1 ? 1 : ncpu > TS_POOL_MAX_THREADS ? TS_POOL_MAX_THREADS : (int)ncpu;
    }
    struct ts_rt_pool *p = calloc(1, sizeof *p);
    void *slots = NULL;
    if (!p || posix_memalign(&slots, 64, (size_t)nthreads * sizeof(struct ts_pool_slot)) != 0) {
        free(p);
        snprintf(err, errsize, "out of memory creating a pool of %d threads", nthreads);
        return 1;
    }
    memset(slots, 0, (size_t)nthreads * sizeof(struct ts_pool_slot));
    p->slots = slots;
    p->nthreads = nthreads;
    atomic_init(&p->generation, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->remaining, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int w = 0; w < nthreads; w++) {
        p->slots[w].pool = p;
        p->slots[w].worker = w;
    }
    for (int w = 1; w < nthreads; w++) {
        int rc = pthread_create(&p->slots[w].thread, NULL, ts_pool_worker_main, &p->slots[w]);
        if (rc != 0) {
            snprintf(err, errsize, "cannot start worker thread %d of %d: %s", w, nthreads,
                     strerror(rc));
            ts_rt_pool_free(p);
            return 1;
        }
        p->nstarted = w;
    }
    *out = p;
    return 0;
}

int ts_rt_pool_threads(const struct ts_rt_pool *p) {
    return p->nthreads;
}

int32_t ts_rt_pool_run(struct ts_rt_pool *p, int64_t ntasks, int max_workers, ts_rt_pool_fn fn, void *ctx) {
    if (ntasks <= 0)
        return 0;
    int active = ntasks < p->nthreads ? (int)ntasks : p->nthreads;
    if (max_workers > 0 && active > max_workers)
        active = max_workers;
    if (active == 1)
        return fn(ctx, 0, 0, ntasks); /* wakes nobody */

    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    p->active = active;
    atomic_store_explicit(&p->remaining, p->nthreads - 1, memory_order_relaxed);
    /* The release publishes the job to spinning workers; the lock and the
     * broadcast reach those that went to sleep. */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    ts_pool_do_share(p, 0);

    double t0 = 0;
    while (atomic_load_explicit(&p->remaining, memory_order_acquire) != 0 &&
           ts_pool_spin_step(&t0))
        ;
    if (atomic_load_explicit(&p->remaining, memory_order_acquire) != 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->remaining, memory_order_acquire) != 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    /* The lowest worker's error wins, so that the result does not depend on
     * which thread happened to finish first. */
    for (int w = 0; w < active; w++)
        if (p->slots[w].result != 0)
            return p->slots[w].result;
    return 0;
}

int ts_rt_pool_pin(struct ts_rt_pool *p, char *err, size_t errsize) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
        snprintf(err, errsize, "cannot read the CPUs this process may use: %s", strerror(errno));
        return 1;
    }
    int cpu = -1;
    for (int w = 0; w < p->nthreads; w++) {
        /* the next allowed CPU, wrapping around when there are more workers */
        for (int tries = 0; tries < CPU_SETSIZE; tries++) {
            cpu = (cpu + 1) % CPU_SETSIZE;
            if (CPU_ISSET(cpu, &allowed)) break;
        }
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_t t = w == 0 ? pthread_self() : p->slots[w].thread;
        int rc = pthread_setaffinity_np(t, sizeof one, &one);
        if (rc != 0) {
            snprintf(err, errsize, "cannot pin worker %d to CPU %d: %s", w, cpu, strerror(rc));
            return 1;
        }
    }
    return 0;
}

void ts_rt_pool_free(struct ts_rt_pool *p) {
    if (!p)
        return;
    ts_pool_stop_workers(p);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p);
}
