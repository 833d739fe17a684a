/* session.c — a plan bound to its kernels and weights: checks the plan (a bad
 * plan is a message, never a crash), owns the arena, the per-worker scratch and
 * each launch's argument pointers, and runs the launches in order on the pool.
 * Only the caller's input and output pointers change between runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* An argument slot that points into a caller's buffer, patched every run. */
struct ts_rt_patch {
    int64_t slot;  /* index into the session's argv */
    int output;    /* 0: inputs[index], 1: outputs[index] */
    int index;
};

struct ts_rt_session {
    const struct ts_rt_plan *plan;
    const ts_rt_kernel_fn *kernels;
    struct ts_rt_pool *pool;
    void *arena;
    char *scratch;          /* one block per worker, 'scratch_stride' bytes apart */
    size_t scratch_stride;
    void **argv;            /* every launch's argument pointers, one after another */
    int64_t *arg_start;     /* launch i's arguments start at argv[arg_start[i]] */
    struct ts_rt_patch *patches;
    int64_t npatches;
};

/* What one launch hands the pool: the trampoline turns a pool task range into
 * a kernel call with that worker's scratch. */
struct ts_rt_launch_ctx {
    ts_rt_kernel_fn fn;
    void *const *args;
    char *scratch;
    size_t stride;
};

static int32_t ts_rt_launch_trampoline(void *ctx, int worker, int64_t begin, int64_t end) {
    const struct ts_rt_launch_ctx *c = ctx;
    return c->fn(c->args, begin, end, c->scratch + (size_t)worker * c->stride);
}

/* "'name'" for kernel k, or "#k" when the plan carries no name for it. */
static const char *ts_rt_kernel_label(const struct ts_rt_plan *plan, int k, char *buf,
                                      size_t size) {
    if (plan->kernel_names && k >= 0 && k < plan->nkernels && plan->kernel_names[k])
        snprintf(buf, size, "'%s'", plan->kernel_names[k]);
    else
        snprintf(buf, size, "#%d", k);
    return buf;
}

static const char *ts_rt_tensor_name(const struct ts_rt_tensor *t) {
    return t->name ? t->name : "?";
}

static const char *const ts_rt_kind_names[TS_RT_BUF_KIND_COUNT] = {
    "arena", "input", "output", "weight", "const",
};

#define TS_RT_FAIL(...)                          \
    do {                                         \
        snprintf(err, errsize, __VA_ARGS__);     \
        return 1;                                \
    } while (0)

static int ts_rt_check_tensors(const char *what, const struct ts_rt_tensor *t, int n, char *err,
                               size_t errsize) {
    if (n < 0)
        TS_RT_FAIL("plan: %s count %d is negative", what, n);
    if (n > 0 && !t)
        TS_RT_FAIL("plan: %d %ss but no %s table", n, what, what);
    for (int i = 0; i < n; i++)
        if (t[i].nbytes < 0)
            TS_RT_FAIL("plan: %s %d ('%s') has a negative size (%lld bytes)", what, i,
                       ts_rt_tensor_name(&t[i]), (long long)t[i].nbytes);
    return 0;
}

/* A caller tensor (input, output, weight) that a buffer names: the buffer may
 * not reach past the tensor's bytes. */
static int ts_rt_check_tensor_ref(int b, const struct ts_rt_buffer *buf,
                                  const struct ts_rt_tensor *t, int n, char *err,
                                  size_t errsize) {
    const char *kind = ts_rt_kind_names[buf->kind];
    if (buf->index < 0 || buf->index >= n)
        TS_RT_FAIL("plan: buffer %d names %s %d, but the plan has %d %ss", b, kind, buf->index,
                   n, kind);
    if (buf->nbytes > t[buf->index].nbytes)
        TS_RT_FAIL("plan: buffer %d (%lld bytes) is larger than %s %d ('%s', %lld bytes)", b,
                   (long long)buf->nbytes, kind, buf->index, ts_rt_tensor_name(&t[buf->index]),
                   (long long)t[buf->index].nbytes);
    return 0;
}

static int ts_rt_check_buffers(const struct ts_rt_plan *plan, const void *const *weights,
                               char *err, size_t errsize) {
    if (plan->nbuffers < 0)
        TS_RT_FAIL("plan: buffer count %d is negative", plan->nbuffers);
    if (plan->nbuffers > 0 && !plan->buffers)
        TS_RT_FAIL("plan: %d buffers but no buffer table", plan->nbuffers);
    for (int b = 0; b < plan->nbuffers; b++) {
        const struct ts_rt_buffer *buf = &plan->buffers[b];
        if ((unsigned)buf->kind >= TS_RT_BUF_KIND_COUNT)
            TS_RT_FAIL("plan: buffer %d has unknown kind %d", b, (int)buf->kind);
        if (buf->nbytes < 0)
            TS_RT_FAIL("plan: buffer %d has a negative size (%lld bytes)", b,
                       (long long)buf->nbytes);
        switch (buf->kind) {
        case TS_RT_BUF_ARENA:
            /* Written so that offset + nbytes cannot overflow. */
            if (buf->offset < 0 || buf->offset > plan->arena_bytes ||
                buf->nbytes > plan->arena_bytes - buf->offset)
                TS_RT_FAIL("plan: buffer %d (%lld bytes at offset %lld) lies outside the arena "
                           "of %lld bytes",
                           b, (long long)buf->nbytes, (long long)buf->offset,
                           (long long)plan->arena_bytes);
            break;
        case TS_RT_BUF_INPUT:
            if (ts_rt_check_tensor_ref(b, buf, plan->inputs, plan->ninputs, err, errsize))
                return 1;
            break;
        case TS_RT_BUF_OUTPUT:
            if (ts_rt_check_tensor_ref(b, buf, plan->outputs, plan->noutputs, err, errsize))
                return 1;
            break;
        case TS_RT_BUF_WEIGHT:
            if (ts_rt_check_tensor_ref(b, buf, plan->weights, plan->nweights, err, errsize))
                return 1;
            if (buf->nbytes > 0 && !weights[buf->index])
                TS_RT_FAIL("plan: weight %d ('%s') has no data", buf->index,
                           ts_rt_tensor_name(&plan->weights[buf->index]));
            break;
        case TS_RT_BUF_CONST:
            if (buf->index < 0 || buf->index >= plan->nconsts)
                TS_RT_FAIL("plan: buffer %d names const %d, but the plan has %d consts", b,
                           buf->index, plan->nconsts);
            if (buf->nbytes > 0 && !plan->consts[buf->index])
                TS_RT_FAIL("plan: const %d has no data", buf->index);
            break;
        case TS_RT_BUF_KIND_COUNT:
            break;
        }
    }
    return 0;
}

static int ts_rt_check_launches(const struct ts_rt_plan *plan, char *err, size_t errsize) {
    char label[160];
    if (plan->nlaunches < 0)
        TS_RT_FAIL("plan: launch count %d is negative", plan->nlaunches);
    if (plan->nlaunches > 0 && !plan->launches)
        TS_RT_FAIL("plan: %d launches but no launch table", plan->nlaunches);
    for (int i = 0; i < plan->nlaunches; i++) {
        const struct ts_rt_launch *l = &plan->launches[i];
        if (l->kernel < 0 || l->kernel >= plan->nkernels)
            TS_RT_FAIL("plan: launch %d names kernel %d, but the plan has %d kernels", i,
                       l->kernel, plan->nkernels);
        ts_rt_kernel_label(plan, l->kernel, label, sizeof label);
        if (l->ntasks < 0)
            TS_RT_FAIL("plan: launch %d (kernel %s) has a negative task count (%lld)", i, label,
                       (long long)l->ntasks);
        if (l->scratch_bytes < 0 || l->scratch_bytes > ((int64_t)1 << 40))
            TS_RT_FAIL("plan: launch %d (kernel %s) asks for %lld scratch bytes", i, label,
                       (long long)l->scratch_bytes);
        if (l->nargs < 0 || (l->nargs > 0 && !l->args))
            TS_RT_FAIL("plan: launch %d (kernel %s) has a bad argument list (%d arguments)", i,
                       label, l->nargs);
        for (int a = 0; a < l->nargs; a++)
            if (l->args[a] < 0 || l->args[a] >= plan->nbuffers)
                TS_RT_FAIL("plan: launch %d (kernel %s): argument %d names buffer %d, but the "
                           "plan has %d buffers",
                           i, label, a, (int)l->args[a], plan->nbuffers);
        if (l->nerrors < 0 || (l->nerrors > 0 && !l->errors))
            TS_RT_FAIL("plan: launch %d (kernel %s) has a bad error table (%d messages)", i,
                       label, l->nerrors);
    }
    return 0;
}

int ts_rt_plan_check(const struct ts_rt_plan *plan, const void *const *weights, char *err,
                     size_t errsize) {
    if (!plan)
        TS_RT_FAIL("plan: no plan");
    if (plan->arena_bytes < 0)
        TS_RT_FAIL("plan: arena size %lld is negative", (long long)plan->arena_bytes);
    if (plan->nkernels < 0)
        TS_RT_FAIL("plan: %d kernels", plan->nkernels);
    if (ts_rt_check_tensors("input", plan->inputs, plan->ninputs, err, errsize) ||
        ts_rt_check_tensors("output", plan->outputs, plan->noutputs, err, errsize) ||
        ts_rt_check_tensors("weight", plan->weights, plan->nweights, err, errsize))
        return 1;
    if (plan->nweights > 0 && !weights)
        TS_RT_FAIL("plan: %d weights but no weight pointers", plan->nweights);
    if (plan->nconsts < 0 || (plan->nconsts > 0 && !plan->consts))
        TS_RT_FAIL("plan: %d consts but no const table", plan->nconsts);
    if (ts_rt_check_buffers(plan, weights, err, errsize))
        return 1;
    return ts_rt_check_launches(plan, err, errsize);
}

/* Everything session_init relies on, so that a hand-made or loaded plan that
 * is wrong gives a message instead of a wild pointer: the plan's data, then
 * code for every kernel a launch names. */
static int ts_rt_check_plan(const struct ts_rt_plan *plan, const ts_rt_kernel_fn *kernels,
                            const void *const *weights, char *err, size_t errsize) {
    if (plan && plan->nkernels > 0 && !kernels)
        TS_RT_FAIL("plan: %d kernels but no kernel table", plan->nkernels);
    if (ts_rt_plan_check(plan, weights, err, errsize))
        return 1;
    char label[160];
    for (int i = 0; i < plan->nlaunches; i++) {
        const struct ts_rt_launch *l = &plan->launches[i];
        ts_rt_kernel_label(plan, l->kernel, label, sizeof label);
        if (!kernels[l->kernel])
            TS_RT_FAIL("plan: launch %d: kernel %s has no code", i, label);
    }
    return 0;
}

/* 64-byte aligned memory of at least 'nbytes' (never NULL on success, even for
 * 0 bytes, so that no kernel is handed a null base), zeroed so that a kernel
 * that reads before it writes is at least reproducible. */
static void *ts_rt_alloc64(int64_t nbytes) {
    uint64_t size = ((uint64_t)nbytes + 63) & ~(uint64_t)63;
    if (size == 0)
        size = 64;
    if (size > SIZE_MAX)
        return NULL;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, (size_t)size) != 0)
        return NULL;
    memset(mem, 0, (size_t)size);
    return mem;
}

int ts_rt_session_init(const struct ts_rt_plan *plan, const ts_rt_kernel_fn *kernels,
                       const void *const *weights, int nthreads, struct ts_rt_session **out,
                       char *err, size_t errsize) {
    *out = NULL;
    if (ts_rt_check_plan(plan, kernels, weights, err, errsize))
        return 1;
    struct ts_rt_session *s = calloc(1, sizeof *s);
    if (!s)
        TS_RT_FAIL("out of memory creating a session");
    s->plan = plan;
    s->kernels = kernels;
    if (ts_rt_pool_init(nthreads, &s->pool, err, errsize)) {
        ts_rt_session_free(s);
        return 1;
    }

    int64_t max_scratch = 0, nargs = 0, npatches = 0;
    for (int i = 0; i < plan->nlaunches; i++) {
        const struct ts_rt_launch *l = &plan->launches[i];
        if (l->scratch_bytes > max_scratch)
            max_scratch = l->scratch_bytes;
        nargs += l->nargs;
        for (int a = 0; a < l->nargs; a++) {
            enum ts_rt_buffer_kind kind = plan->buffers[l->args[a]].kind;
            npatches += kind == TS_RT_BUF_INPUT || kind == TS_RT_BUF_OUTPUT;
        }
    }
    int nworkers = ts_rt_pool_threads(s->pool);
    s->scratch_stride = (size_t)((max_scratch + 63) & ~(int64_t)63);
    s->arena = ts_rt_alloc64(plan->arena_bytes);
    s->scratch = ts_rt_alloc64((int64_t)s->scratch_stride * nworkers);
    s->argv = calloc((size_t)nargs + 1, sizeof *s->argv);
    s->arg_start = calloc((size_t)plan->nlaunches + 1, sizeof *s->arg_start);
    s->patches = calloc((size_t)npatches + 1, sizeof *s->patches);
    if (!s->arena || !s->scratch || !s->argv || !s->arg_start || !s->patches) {
        ts_rt_session_free(s);
        TS_RT_FAIL("out of memory creating a session (arena of %lld bytes, %d x %lld scratch "
                   "bytes)",
                   (long long)plan->arena_bytes, nworkers, (long long)s->scratch_stride);
    }

    /* Arena, weight and const pointers never change: resolve them once. */
    int64_t slot = 0;
    for (int i = 0; i < plan->nlaunches; i++) {
        const struct ts_rt_launch *l = &plan->launches[i];
        s->arg_start[i] = slot;
        for (int a = 0; a < l->nargs; a++, slot++) {
            const struct ts_rt_buffer *buf = &plan->buffers[l->args[a]];
            switch (buf->kind) {
            case TS_RT_BUF_ARENA:
                s->argv[slot] = (char *)s->arena + buf->offset;
                break;
            case TS_RT_BUF_WEIGHT:
                s->argv[slot] = (void *)(uintptr_t)weights[buf->index];
                break;
            case TS_RT_BUF_CONST:
                s->argv[slot] = (void *)(uintptr_t)plan->consts[buf->index];
                break;
            case TS_RT_BUF_INPUT:
            case TS_RT_BUF_OUTPUT:
                s->patches[s->npatches++] = (struct ts_rt_patch){
                    .slot = slot,
                    .output = buf->kind == TS_RT_BUF_OUTPUT,
                    .index = buf->index,
                };
                break;
            case TS_RT_BUF_KIND_COUNT:
                break;
            }
        }
    }
    *out = s;
    return 0;
}

static int ts_rt_check_caller_buffers(const char *what, const struct ts_rt_tensor *t, int n,
                                      const void *const *ptrs, char *err, size_t errsize) {
    if (n > 0 && !ptrs)
        TS_RT_FAIL("run: the plan takes %d %ss but none were given", n, what);
    for (int i = 0; i < n; i++)
        if (!ptrs[i] && t[i].nbytes > 0)
            TS_RT_FAIL("run: %s %d ('%s') is a null pointer", what, i, ts_rt_tensor_name(&t[i]));
    return 0;
}

int ts_rt_session_run(struct ts_rt_session *s, const void *const *inputs, void *const *outputs,
                      char *err, size_t errsize) {
    const struct ts_rt_plan *plan = s->plan;
    if (ts_rt_check_caller_buffers("input", plan->inputs, plan->ninputs, inputs, err, errsize) ||
        ts_rt_check_caller_buffers("output", plan->outputs, plan->noutputs,
                                   (const void *const *)outputs, err, errsize))
        return 1;
    for (int64_t i = 0; i < s->npatches; i++) {
        const struct ts_rt_patch *pt = &s->patches[i];
        s->argv[pt->slot] =
            pt->output ? outputs[pt->index] : (void *)(uintptr_t)inputs[pt->index];
    }

    for (int i = 0; i < plan->nlaunches; i++) {
        const struct ts_rt_launch *l = &plan->launches[i];
        if (l->ntasks == 0)
            continue;
        struct ts_rt_launch_ctx ctx = {
            .fn = s->kernels[l->kernel],
            .args = s->argv + s->arg_start[i],
            .scratch = s->scratch,
            .stride = s->scratch_stride,
        };
        int32_t e = ts_rt_pool_run(s->pool, l->ntasks, l->threads, ts_rt_launch_trampoline, &ctx);
        if (e != 0) {
            char label[160];
            ts_rt_kernel_label(plan, l->kernel, label, sizeof label);
            if (e >= 1 && e <= l->nerrors && l->errors[e - 1])
                snprintf(err, errsize, "kernel %s: %s", label, l->errors[e - 1]);
            else
                snprintf(err, errsize, "kernel %s: error code %d", label, (int)e);
            return 1;
        }
    }
    return 0;
}

int ts_rt_session_threads(const struct ts_rt_session *s) {
    return ts_rt_pool_threads(s->pool);
}

int ts_rt_session_pin(struct ts_rt_session *s, char *err, size_t errsize) {
    return ts_rt_pool_pin(s->pool, err, errsize);
}

void ts_rt_session_free(struct ts_rt_session *s) {
    if (!s)
        return;
    ts_rt_pool_free(s->pool);
    free(s->arena);
    free(s->scratch);
    free(s->argv);
    free(s->arg_start);
    free(s->patches);
    free(s);
}
