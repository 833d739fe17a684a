/* test_runtime.c — the CPU runtime with hand-written C kernels: the pool does
 * every task exactly once in contiguous per-worker ranges and returns the first
 * error; sessions run multi-launch plans over inputs, arena, weights and consts,
 * turn kernel errors into named messages, and reject malformed plans. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "test.h"

/* ---- the pool ----------------------------------------------------------- */

struct count_ctx {
    atomic_int *done;   /* times each task ran */
    atomic_int *worker; /* which worker ran it */
    int nthreads;
    atomic_int bad_worker;
};

static int32_t count_fn(void *ctx, int worker, int64_t begin, int64_t end) {
    struct count_ctx *c = ctx;
    if (worker < 0 || worker >= c->nthreads || begin >= end)
        atomic_store(&c->bad_worker, 1);
    for (int64_t i = begin; i < end; i++) {
        atomic_fetch_add(&c->done[i], 1);
        atomic_store(&c->worker[i], worker);
    }
    return 0;
}

static void test_pool_every_task_once(void) {
    static const int64_t sizes[] = {0, 1, 7, 1000};
    for (int nthreads = 1; nthreads <= 4; nthreads++) {
        char err[256] = "";
        struct ts_rt_pool *p = NULL;
        CHECK(ts_rt_pool_init(nthreads, &p, err, sizeof err) == 0);
        if (!p)
            continue;
        CHECK(ts_rt_pool_threads(p) == nthreads);
        for (int repeat = 0; repeat < 3; repeat++) {
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                int64_t n = sizes[s];
                struct count_ctx c = {.nthreads = nthreads};
                c.done = calloc((size_t)n + 1, sizeof *c.done);
                c.worker = calloc((size_t)n + 1, sizeof *c.worker);
                atomic_init(&c.bad_worker, 0);
                CHECK(ts_rt_pool_run(p, n, 0, count_fn, &c) == 0);
                int once = 1, ordered = 1, used = 0;
                for (int64_t i = 0; i < n; i++) {
                    once &= atomic_load(&c.done[i]) == 1;
                    /* Contiguous ranges in worker order: worker ids never go down. */
                    if (i > 0)
                        ordered &= atomic_load(&c.worker[i]) >= atomic_load(&c.worker[i - 1]);
                    if (i == 0 || atomic_load(&c.worker[i]) != atomic_load(&c.worker[i - 1]))
                        used++;
                }
                CHECK(once);
                CHECK(ordered);
                CHECK(atomic_load(&c.bad_worker) == 0);
                /* Every worker gets a share when there are enough tasks. */
                CHECK(used == (n < nthreads ? (int)n : nthreads));
                free(c.done);
                free(c.worker);
            }
        }
        ts_rt_pool_free(p);
    }
}

/* Fails for the tasks 600 and 900: whichever workers hold them, the run must
 * report the error of the earlier range (7), never the later one (9). */
static int32_t error_fn(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)ctx;
    (void)worker;
    if (begin <= 600 && 600 < end)
        return 7;
    if (begin <= 900 && 900 < end)
        return 9;
    return 0;
}

static void test_pool_first_error(void) {
    for (int nthreads = 1; nthreads <= 4; nthreads++) {
        char err[256];
        struct ts_rt_pool *p = NULL;
        CHECK(ts_rt_pool_init(nthreads, &p, err, sizeof err) == 0);
        for (int repeat = 0; repeat < 20; repeat++) {
            CHECK(ts_rt_pool_run(p, 1000, 0, error_fn, NULL) == 7);
            CHECK(ts_rt_pool_run(p, 500, 0, error_fn, NULL) == 0); /* and it recovers */
        }
        ts_rt_pool_free(p);
    }
}

struct sum_ctx {
    atomic_llong sum;
};

static int32_t sum_fn(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker;
    struct sum_ctx *c = ctx;
    long long s = 0;
    for (int64_t i = begin; i < end; i++)
        s += i + 1;
    atomic_fetch_add(&c->sum, s);
    return 0;
}

/* Many back-to-back runs of varying sizes (the spinning hand-off), then a few
 * with pauses long enough that the workers fall asleep between runs. */
static void test_pool_repeated_runs(void) {
    char err[256];
    struct ts_rt_pool *p = NULL;
    CHECK(ts_rt_pool_init(3, &p, err, sizeof err) == 0);
    int all_right = 1;
    for (int r = 0; r < 3000; r++) {
        int64_t n = r % 11;
        struct sum_ctx c;
        atomic_init(&c.sum, 0);
        all_right &= ts_rt_pool_run(p, n, 0, sum_fn, &c) == 0;
        all_right &= atomic_load(&c.sum) == n * (n + 1) / 2;
    }
    CHECK(all_right);
    for (int r = 0; r < 5; r++) {
        struct timespec nap = {0, 2000000}; /* 2 ms: past the spin */
        nanosleep(&nap, NULL);
        struct sum_ctx c;
        atomic_init(&c.sum, 0);
        CHECK(ts_rt_pool_run(p, 100, 0, sum_fn, &c) == 0);
        CHECK(atomic_load(&c.sum) == 5050);
    }
    ts_rt_pool_free(p);
}

static void test_pool_thread_counts(void) {
    char err[256] = "";
    struct ts_rt_pool *p = NULL;
    CHECK(ts_rt_pool_init(0, &p, err, sizeof err) == 0);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(p && ts_rt_pool_threads(p) == (ncpu < 1 ? 1 : ncpu));
    ts_rt_pool_free(p);
    ts_rt_pool_free(NULL);

    p = (struct ts_rt_pool *)&err; /* must be cleared on failure */
    CHECK(ts_rt_pool_init(-2, &p, err, sizeof err) != 0);
    CHECK(p == NULL);
    CHECK_STR(err, "thread count -2 is out of range (0 for one per core, or 1 to 1024)");
}

/* ---- sessions ----------------------------------------------------------- */

#define N 129    /* elements: an awkward size */
#define CHUNK 8  /* elements per task */
#define NTASKS ((N + CHUNK - 1) / CHUNK)

static uint32_t rng_state = 12345;
static float rand_float(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    float f = (float)((rng_state >> 8) & 0xffff) / 65536.0f; /* [0, 1) */
    return f + 0.25f;                                        /* never 0 */
}

/* Kernel A: tmp = x + y + w (inputs, weight → arena). */
static int32_t kernel_add(void *const *args, int64_t begin, int64_t end, void *scratch) {
    (void)scratch;
    const float *x = args[0], *y = args[1], *w = args[2];
    float *tmp = args[3];
    for (int64_t t = begin; t < end; t++)
        for (int64_t i = t * CHUNK; i < (t + 1) * CHUNK && i < N; i++)
            tmp[i] = x[i] + y[i] + w[i];
    return 0;
}

/* Kernel B: out = tmp * c[0], staged through the worker's scratch (which must
 * be 64-byte aligned and private: another worker writing it would show). */
static int32_t kernel_scale(void *const *args, int64_t begin, int64_t end, void *scratch) {
    const float *tmp = args[0], *c = args[1];
    float *out = args[2], *stage = scratch;
    if ((uintptr_t)scratch % 64 != 0)
        return 1;
    for (int64_t t = begin; t < end; t++) {
        int64_t lo = t * CHUNK, hi = lo + CHUNK < N ? lo + CHUNK : N;
        for (int64_t i = lo; i < hi; i++)
            stage[i - lo] = tmp[i] * c[0];
        for (int64_t i = lo; i < hi; i++)
            out[i] = stage[i - lo];
    }
    return 0;
}

static atomic_int never_calls;
static int32_t kernel_never(void *const *args, int64_t begin, int64_t end, void *scratch) {
    (void)args, (void)begin, (void)end, (void)scratch;
    atomic_fetch_add(&never_calls, 1);
    return 3;
}

/* Fails with error 1 when it meets a negative index, error 5 (no message for
 * it) when it meets 1000. */
static int32_t kernel_check(void *const *args, int64_t begin, int64_t end, void *scratch) {
    (void)scratch;
    const int32_t *idx = args[0];
    int32_t *out = args[1];
    for (int64_t i = begin; i < end; i++) {
        if (idx[i] < 0)
            return 1;
        if (idx[i] == 1000)
            return 5;
        out[i] = idx[i] * 2;
    }
    return 0;
}

static const ts_rt_kernel_fn kernels[] = {kernel_add, kernel_scale, kernel_never, kernel_check};
static const char *const kernel_names[] = {"add_xyw", "scale", "never", "check_index"};

/* Buffers: 0 x, 1 y, 2 w, 3 tmp (arena, after 64 unused bytes), 4 c, 5 out. */
static const struct ts_rt_buffer two_buffers[] = {
    {TS_RT_BUF_INPUT, 0, 0, N * 4},  {TS_RT_BUF_INPUT, 1, 0, N * 4},
    {TS_RT_BUF_WEIGHT, 0, 0, N * 4}, {TS_RT_BUF_ARENA, 0, 64, N * 4},
    {TS_RT_BUF_CONST, 0, 0, 4},      {TS_RT_BUF_OUTPUT, 0, 0, N * 4},
};
static const int32_t add_args[] = {0, 1, 2, 3};
static const int32_t scale_args[] = {3, 4, 5};
static const int32_t never_args[] = {5};
static const struct ts_rt_launch two_launches[] = {
    {.kernel = 0, .ntasks = NTASKS, .nargs = 4, .args = add_args},
    {.kernel = 2, .ntasks = 0, .nargs = 1, .args = never_args}, /* skipped */
    {.kernel = 1, .ntasks = NTASKS, .scratch_bytes = CHUNK * 4, .nargs = 3, .args = scale_args},
};
static const struct ts_rt_tensor two_inputs[] = {
    {"x", "f32", 1, {N}, N * 4},
    {"y", "f32", 1, {N}, N * 4},
};
static const struct ts_rt_tensor two_outputs[] = {{"out", "f32", 1, {N}, N * 4}};
static const struct ts_rt_tensor two_weights[] = {{"w", "f32", 1, {N}, N * 4}};
static const float scale_value = -1.5f;
static const void *const two_consts[] = {&scale_value};

static struct ts_rt_plan two_launch_plan(void) {
    return (struct ts_rt_plan){
        .arena_bytes = 64 + N * 4,
        .buffers = two_buffers,
        .nbuffers = 6,
        .launches = two_launches,
        .nlaunches = 3,
        .kernel_names = kernel_names,
        .nkernels = 4,
        .inputs = two_inputs,
        .ninputs = 2,
        .outputs = two_outputs,
        .noutputs = 1,
        .weights = two_weights,
        .nweights = 1,
        .consts = two_consts,
        .nconsts = 1,
    };
}

static void test_session_two_launches(void) {
    float w[N];
    for (int i = 0; i < N; i++)
        w[i] = rand_float();
    const void *weights[] = {w};
    struct ts_rt_plan plan = two_launch_plan();
    for (int nthreads = 1; nthreads <= 3; nthreads++) {
        char err[256] = "";
        struct ts_rt_session *s = NULL;
        CHECK(ts_rt_session_init(&plan, kernels, weights, nthreads, &s, err, sizeof err) == 0);
        CHECK_STR(err, "");
        if (!s)
            continue;
        CHECK(ts_rt_session_threads(s) == nthreads);
        /* Each run gets fresh caller buffers: pointers are resolved per call. */
        for (int run = 0; run < 3; run++) {
            float *x = malloc(N * 4), *y = malloc(N * 4), *out = malloc(N * 4);
            for (int i = 0; i < N; i++) {
                x[i] = rand_float();
                y[i] = -rand_float();
                out[i] = 0;
            }
            const void *ins[] = {x, y};
            void *outs[] = {out};
            CHECK(ts_rt_session_run(s, ins, outs, err, sizeof err) == 0);
            CHECK_STR(err, "");
            for (int i = 0; i < N; i++)
                CHECK_NEAR(out[i], ((double)x[i] + y[i] + w[i]) * scale_value, 1e-5, 1.3e-6);
            free(x);
            free(y);
            free(out);
        }
        ts_rt_session_free(s);
    }
    CHECK(atomic_load(&never_calls) == 0);
    ts_rt_session_free(NULL);
}

/* One launch over two caller buffers and no arena (arena_bytes 0). */
static const struct ts_rt_buffer check_buffers[] = {
    {TS_RT_BUF_INPUT, 0, 0, 17 * 4},
    {TS_RT_BUF_OUTPUT, 0, 0, 17 * 4},
};
static const int32_t check_args[] = {0, 1};
static const char *const check_errors[] = {"index out of range [0, 17)"};
static const struct ts_rt_launch check_launches[] = {
    {.kernel = 3, .ntasks = 17, .nargs = 2, .args = check_args, .errors = check_errors,
     .nerrors = 1},
    {.kernel = 2, .ntasks = 4, .nargs = 1, .args = check_args}, /* fails if it ever runs */
};
static const struct ts_rt_tensor check_input[] = {{"idx", "i32", 1, {17}, 17 * 4}};
static const struct ts_rt_tensor check_output[] = {{"y", "i32", 1, {17}, 17 * 4}};

static struct ts_rt_plan check_plan(void) {
    return (struct ts_rt_plan){
        .buffers = check_buffers,
        .nbuffers = 2,
        .launches = check_launches,
        .nlaunches = 1,
        .kernel_names = kernel_names,
        .nkernels = 4,
        .inputs = check_input,
        .ninputs = 1,
        .outputs = check_output,
        .noutputs = 1,
    };
}

static void test_session_kernel_errors(void) {
    struct ts_rt_plan plan = check_plan();
    for (int nthreads = 1; nthreads <= 2; nthreads++) {
        char err[256] = "";
        struct ts_rt_session *s = NULL;
        CHECK(ts_rt_session_init(&plan, kernels, NULL, nthreads, &s, err, sizeof err) == 0);
        if (!s)
            continue;
        int32_t idx[17], out[17];
        for (int i = 0; i < 17; i++)
            idx[i] = i * 3 + 1;
        const void *ins[] = {idx};
        void *outs[] = {out};
        CHECK(ts_rt_session_run(s, ins, outs, err, sizeof err) == 0);
        CHECK(out[16] == 98);

        idx[11] = -4;
        CHECK(ts_rt_session_run(s, ins, outs, err, sizeof err) != 0);
        CHECK_STR(err, "kernel 'check_index': index out of range [0, 17)");
        idx[11] = 1000;
        CHECK(ts_rt_session_run(s, ins, outs, err, sizeof err) != 0);
        CHECK_STR(err, "kernel 'check_index': error code 5");
        idx[11] = 5;
        err[0] = 0;
        CHECK(ts_rt_session_run(s, ins, outs, err, sizeof err) == 0);
        CHECK(out[11] == 10);

        CHECK(ts_rt_session_run(s, NULL, outs, err, sizeof err) != 0);
        CHECK_STR(err, "run: the plan takes 1 inputs but none were given");
        void *no_out[] = {NULL};
        CHECK(ts_rt_session_run(s, ins, no_out, err, sizeof err) != 0);
        CHECK_STR(err, "run: output 0 ('y') is a null pointer");
        ts_rt_session_free(s);
    }

    /* An error stops the run: the launch after the failing one never starts. */
    plan.nlaunches = 2;
    char err[256] = "";
    struct ts_rt_session *s = NULL;
    CHECK(ts_rt_session_init(&plan, kernels, NULL, 2, &s, err, sizeof err) == 0);
    int32_t idx[17], out[17];
    for (int i = 0; i < 17; i++)
        idx[i] = i == 16 ? -1 : i;
    const void *ins[] = {idx};
    void *outs[] = {out};
    CHECK(ts_rt_session_run(s, ins, outs, err, sizeof err) != 0);
    CHECK_STR(err, "kernel 'check_index': index out of range [0, 17)");
    CHECK(atomic_load(&never_calls) == 0);
    /* And the second launch's own error, unnamed, when the first succeeds. */
    idx[16] = 3;
    CHECK(ts_rt_session_run(s, ins, outs, err, sizeof err) != 0);
    CHECK_STR(err, "kernel 'never': error code 3");
    CHECK(atomic_load(&never_calls) > 0);
    ts_rt_session_free(s);
}

/* Initializes a session from a broken plan: it must fail with 'want'. */
static void check_rejected(const struct ts_rt_plan *plan, const void *const *weights,
                           const char *want) {
    char err[256] = "";
    struct ts_rt_session *s = (struct ts_rt_session *)&err;
    CHECK(ts_rt_session_init(plan, kernels, weights, 2, &s, err, sizeof err) != 0);
    CHECK(s == NULL);
    CHECK_STR(err, want);
}

static void test_session_bad_plans(void) {
    float w[N] = {1};
    const void *weights[] = {w};
    const void *no_weight[] = {NULL};
    struct ts_rt_plan plan;

    struct ts_rt_buffer bufs[6];
    memcpy(bufs, two_buffers, sizeof bufs);
    plan = two_launch_plan();
    plan.buffers = bufs;
    bufs[3].offset = 65; /* one byte past the arena's end */
    check_rejected(&plan, weights,
                   "plan: buffer 3 (516 bytes at offset 65) lies outside the arena of 580 bytes");
    bufs[3].offset = INT64_MAX; /* must not overflow */
    check_rejected(&plan, weights,
                   "plan: buffer 3 (516 bytes at offset 9223372036854775807) lies outside the "
                   "arena of 580 bytes");
    bufs[3].offset = -64;
    check_rejected(&plan, weights,
                   "plan: buffer 3 (516 bytes at offset -64) lies outside the arena of 580 bytes");
    memcpy(bufs, two_buffers, sizeof bufs);
    bufs[0].index = 2;
    check_rejected(&plan, weights, "plan: buffer 0 names input 2, but the plan has 2 inputs");
    memcpy(bufs, two_buffers, sizeof bufs);
    bufs[5].nbytes = N * 4 + 1;
    check_rejected(&plan, weights,
                   "plan: buffer 5 (517 bytes) is larger than output 0 ('out', 516 bytes)");
    memcpy(bufs, two_buffers, sizeof bufs);
    bufs[4].index = 1;
    check_rejected(&plan, weights, "plan: buffer 4 names const 1, but the plan has 1 consts");
    memcpy(bufs, two_buffers, sizeof bufs);
    bufs[2].kind = (enum ts_rt_buffer_kind)9;
    check_rejected(&plan, weights, "plan: buffer 2 has unknown kind 9");

    plan = two_launch_plan();
    check_rejected(&plan, no_weight, "plan: weight 0 ('w') has no data");
    check_rejected(&plan, NULL, "plan: 1 weights but no weight pointers");
    plan.arena_bytes = -1;
    check_rejected(&plan, weights, "plan: arena size -1 is negative");

    struct ts_rt_launch launches[3];
    memcpy(launches, two_launches, sizeof launches);
    plan = two_launch_plan();
    plan.launches = launches;
    static const int32_t bad_args[] = {3, 4, 9};
    launches[2].args = bad_args;
    check_rejected(&plan, weights,
                   "plan: launch 2 (kernel 'scale'): argument 2 names buffer 9, but the plan "
                   "has 6 buffers");
    memcpy(launches, two_launches, sizeof launches);
    launches[0].kernel = 4;
    check_rejected(&plan, weights, "plan: launch 0 names kernel 4, but the plan has 4 kernels");
    memcpy(launches, two_launches, sizeof launches);
    launches[1].ntasks = -1;
    check_rejected(&plan, weights, "plan: launch 1 (kernel 'never') has a negative task count (-1)");
    memcpy(launches, two_launches, sizeof launches);
    launches[0].nerrors = 2; /* but no table */
    check_rejected(&plan, weights,
                   "plan: launch 0 (kernel 'add_xyw') has a bad error table (2 messages)");

    ts_rt_kernel_fn holes[] = {kernel_add, NULL, kernel_never, kernel_check};
    plan = two_launch_plan();
    char err[256] = "";
    struct ts_rt_session *s = NULL;
    CHECK(ts_rt_session_init(&plan, holes, weights, 1, &s, err, sizeof err) != 0);
    CHECK_STR(err, "plan: launch 2: kernel 'scale' has no code");
    CHECK(ts_rt_session_init(NULL, kernels, weights, 1, &s, err, sizeof err) != 0);
    CHECK_STR(err, "plan: no plan");
    CHECK(ts_rt_session_init(&plan, kernels, weights, -1, &s, err, sizeof err) != 0);
    CHECK(s == NULL);
    CHECK_CONTAINS(err, "thread count -1 is out of range");
}

/* ---- overhead (printed, not asserted) ----------------------------------- */

static int32_t kernel_empty(void *const *args, int64_t begin, int64_t end, void *scratch) {
    (void)args, (void)begin, (void)end, (void)scratch;
    return 0;
}

static void bench_empty_launches(void) {
    enum { NL = 100, RUNS = 200 };
    static const ts_rt_kernel_fn empty[] = {kernel_empty};
    static const char *const empty_name[] = {"empty"};
    static const struct ts_rt_buffer buf[] = {{TS_RT_BUF_ARENA, 0, 0, 64}};
    static const int32_t args[] = {0};
    struct ts_rt_launch launches[NL];
    for (int i = 0; i < NL; i++)
        launches[i] = (struct ts_rt_launch){.kernel = 0, .ntasks = 2, .nargs = 1, .args = args};
    struct ts_rt_plan plan = {.arena_bytes = 64, .buffers = buf, .nbuffers = 1,
                              .launches = launches, .nlaunches = NL,
                              .kernel_names = empty_name, .nkernels = 1};
    char err[256] = "";
    struct ts_rt_session *s = NULL;
    CHECK(ts_rt_session_init(&plan, empty, NULL, 2, &s, err, sizeof err) == 0);
    if (!s)
        return;
    for (int r = 0; r < 10; r++) /* warm up */
        ts_rt_session_run(s, NULL, NULL, err, sizeof err);
    double best = 1e9;
    for (int r = 0; r < RUNS; r++) {
        double t0 = ts_rt_now_seconds();
        CHECK(ts_rt_session_run(s, NULL, NULL, err, sizeof err) == 0);
        double t = ts_rt_now_seconds() - t0;
        best = t < best ? t : best;
    }
    printf("overhead: %d empty launches on 2 threads: best %.1f us per run (%.2f us per launch)\n",
           NL, best * 1e6, best * 1e6 / NL);
    ts_rt_session_free(s);
}

int main(void) {
    atomic_init(&never_calls, 0);
    test_pool_every_task_once();
    test_pool_first_error();
    test_pool_repeated_runs();
    test_pool_thread_counts();
    test_session_two_launches();
    test_session_kernel_errors();
    test_session_bad_plans();
    bench_empty_launches();
    return ts_test_finish("test_runtime");
}
