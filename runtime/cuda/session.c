/* session.c — a plan bound to a GPU: the primary context, the kernels' module
 * (the cubin, or the PTX JIT-compiled when the cubin does not fit the device),
 * one device allocation for everything the plan touches (laid out by
 * ts_cu_layout), weights and constants uploaded once, and the whole plan as
 * one CUDA graph of kernel nodes instantiated once. run.c replays it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/internal.h"

#define TS_CU_FAIL(...)                          \
    do {                                         \
        snprintf(err, errsize, __VA_ARGS__);     \
        return 1;                                \
    } while (0)

const char *ts_cu_kernel_label(const struct ts_rt_plan *plan, int k, char *buf, size_t size) {
    if (plan->kernel_names && k >= 0 && k < plan->nkernels && plan->kernel_names[k])
        snprintf(buf, size, "'%s'", plan->kernel_names[k]);
    else
        snprintf(buf, size, "#%d", k);
    return buf;
}

/* The size of constant c: the largest buffer that views it (the plan keeps
 * no separate size for constants). */
static int64_t ts_cu_const_bytes(const struct ts_rt_plan *plan, int c) {
    int64_t n = 0;
    for (int b = 0; b < plan->nbuffers; b++)
        if (plan->buffers[b].kind == TS_RT_BUF_CONST && plan->buffers[b].index == c && plan->buffers[b].nbytes > n)
            n = plan->buffers[b].nbytes;
    return n;
}

/* What init relies on: a wrong plan or image is a message, never a wild
 * pointer on the device. */
static int ts_cu_check_plan(const struct ts_rt_plan *plan, const struct ts_rt_cuda_image *image,
                            const void *const *weights, char *err, size_t errsize) {
    if (!plan) TS_CU_FAIL("plan: no plan");
    if (!image || (!image->cubin && !image->ptx)) TS_CU_FAIL("plan: no CUDA code (neither cubin nor PTX)");
    if (image->cubin && image->cubin_size == 0) TS_CU_FAIL("plan: the cubin is empty");
    if (plan->nkernels > 0 && !image->symbols) TS_CU_FAIL("plan: %d kernels but no kernel symbols", plan->nkernels);
    if (ts_rt_plan_check(plan, weights, err, errsize)) return 1;
    char label[160];
    for (int i = 0; i < plan->nlaunches; i++) {
        const struct ts_rt_launch *l = &plan->launches[i];
        ts_cu_kernel_label(plan, l->kernel, label, sizeof label);
        if (!image->symbols[l->kernel] || !image->symbols[l->kernel][0])
            TS_CU_FAIL("plan: launch %d: kernel %s has no CUDA symbol", i, label);
        if (l->workspace_bytes < 0 || l->workspace_bytes > ((int64_t)1 << 40))
            TS_CU_FAIL("plan: launch %d (kernel %s) asks for %lld workspace bytes", i, label,
                       (long long)l->workspace_bytes);
        uint64_t blocks = (uint64_t)l->grid[0] * l->grid[1] * l->grid[2];
        uint64_t threads = (uint64_t)l->block[0] * l->block[1] * l->block[2];
        if (blocks > 0 && (threads == 0 || threads > 1024 || l->grid[1] > 65535 || l->grid[2] > 65535))
            TS_CU_FAIL("plan: launch %d (kernel %s) has bad geometry: grid %ux%ux%u, block %ux%ux%u", i, label,
                       l->grid[0], l->grid[1], l->grid[2], l->block[0], l->block[1], l->block[2]);
    }
    return 0;
}

static int64_t ts_cu_align(int64_t n) { return (n + TS_CU_ALIGN - 1) / TS_CU_ALIGN * TS_CU_ALIGN; }

/* Places every piece in the one allocation, each TS_CU_ALIGN-aligned, in
 * this order: arena, weights, constants, workspaces, inputs, outputs, error
 * words (one int32 per launch). */
static int ts_cu_layout(struct ts_rt_cuda_session *s, char *err, size_t errsize) {
    const struct ts_rt_plan *plan = s->plan;
    s->weight_off = calloc((size_t)plan->nweights + 1, sizeof *s->weight_off);
    s->const_off = calloc((size_t)plan->nconsts + 1, sizeof *s->const_off);
    s->work_off = calloc((size_t)plan->nlaunches + 1, sizeof *s->work_off);
    s->in_off = calloc((size_t)plan->ninputs + 1, sizeof *s->in_off);
    s->out_off = calloc((size_t)plan->noutputs + 1, sizeof *s->out_off);
    s->host_errors = calloc((size_t)plan->nlaunches + 1, sizeof *s->host_errors);
    if (!s->weight_off || !s->const_off || !s->work_off || !s->in_off || !s->out_off || !s->host_errors)
        TS_CU_FAIL("out of memory creating a CUDA session");
    int64_t at = ts_cu_align(plan->arena_bytes);
    for (int i = 0; i < plan->nweights; i++) {
        s->weight_off[i] = at;
        at += ts_cu_align(plan->weights[i].nbytes);
    }
    for (int i = 0; i < plan->nconsts; i++) {
        s->const_off[i] = at;
        at += ts_cu_align(ts_cu_const_bytes(plan, i));
    }
    s->work_begin = at;
    for (int i = 0; i < plan->nlaunches; i++) {
        s->work_off[i] = plan->launches[i].workspace_bytes > 0 ? at : -1;
        at += ts_cu_align(plan->launches[i].workspace_bytes);
    }
    s->work_end = at;
    for (int i = 0; i < plan->ninputs; i++) {
        s->in_off[i] = at;
        at += ts_cu_align(plan->inputs[i].nbytes);
    }
    for (int i = 0; i < plan->noutputs; i++) {
        s->out_off[i] = at;
        at += ts_cu_align(plan->outputs[i].nbytes);
    }
    s->errors_off = at;
    at += ts_cu_align((int64_t)sizeof(int32_t) * (plan->nlaunches > 0 ? plan->nlaunches : 1));
    s->total_bytes = at;
    return 0;
}

/* The device address of plan buffer b. */
static CUdeviceptr ts_cu_buffer_ptr(const struct ts_rt_cuda_session *s, int b) {
    const struct ts_rt_buffer *buf = &s->plan->buffers[b];
    int64_t off = 0;
    switch (buf->kind) {
    case TS_RT_BUF_ARENA: off = buf->offset; break;
    case TS_RT_BUF_INPUT: off = s->in_off[buf->index]; break;
    case TS_RT_BUF_OUTPUT: off = s->out_off[buf->index]; break;
    case TS_RT_BUF_WEIGHT: off = s->weight_off[buf->index]; break;
    case TS_RT_BUF_CONST: off = s->const_off[buf->index]; break;
    default: break;
    }
    return s->base + (CUdeviceptr)off;
}

/* The first line of a JIT log, for a one-line message. */
static void ts_cu_first_line(const char *log, char *out, size_t size) {
    size_t n = strcspn(log, "\r\n");
    snprintf(out, size, "%.*s", (int)(n < 300 ? n : 300), log);
}

/* Whether the PTX can be JIT-compiled for this GPU: its ".target sm_XY[a]"
 * must not be newer than the device, and an arch-specific one ("a") must be
 * the device's own. Writes the reason into err when not. */
static int ts_cu_check_ptx_target(const struct ts_rt_cuda_session *s, const char *ptx, char *err, size_t errsize) {
    const char *t = strstr(ptx, ".target sm_");
    if (!t) return 0; /* let the driver judge */
    t += strlen(".target sm_");
    int sm = 0, n = 0;
    while (t[n] >= '0' && t[n] <= '9' && n < 4) sm = sm * 10 + (t[n++] - '0');
    bool specific = t[n] == 'a';
    int dev = s->info.cc_major * 10 + s->info.cc_minor;
    if (n == 0 || (sm <= dev && (!specific || sm == dev))) return 0;
    snprintf(err, errsize,
             "the kernels were compiled for sm_%d%s, which %s; %s is %s (compute capability %d.%d): recompile "
             "with --arch %s",
             sm, specific ? "a" : "", specific ? "runs only on that architecture" : "is newer than this GPU",
             s->info.name, s->info.arch, s->info.cc_major, s->info.cc_minor, s->info.arch);
    return 1;
}

static int ts_cu_load_module(struct ts_rt_cuda_session *s, const struct ts_rt_cuda_image *image, char *err,
                             size_t errsize) {
    const struct ts_cu *cu = s->cu;
    CUresult r = CUDA_ERROR_NO_BINARY_FOR_GPU;
    if (image->cubin) {
        r = cu->ModuleLoadDataEx(&s->module, image->cubin, 0, NULL, NULL);
        if (r == CUDA_SUCCESS) return 0;
        s->module = NULL;
        if (!image->ptx || (r != CUDA_ERROR_NO_BINARY_FOR_GPU && r != CUDA_ERROR_INVALID_IMAGE))
            return ts_cu_fail(cu, r, err, errsize, "loading the kernels' cubin on %s (%s)", s->info.name,
                              s->info.arch);
    }
    /* The cubin is for another arch (or there is none): JIT the PTX. */
    if (ts_cu_check_ptx_target(s, image->ptx, err, errsize)) return 1;
    char log[4096] = "";
    CUjit_option opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *values[2] = {log, (void *)(uintptr_t)sizeof log};
    r = cu->ModuleLoadDataEx(&s->module, image->ptx, 2, opts, values);
    if (r != CUDA_SUCCESS) {
        s->module = NULL;
        log[sizeof log - 1] = '\0';
        char first[320];
        ts_cu_first_line(log, first, sizeof first);
        char what[1024];
        snprintf(what, sizeof what, "JIT-compiling the kernels' PTX for %s (%s)%s%s", s->info.name, s->info.arch,
                 first[0] ? ": " : "", first);
        return ts_cu_fail(cu, r, err, errsize, "%s", what);
    }
    s->used_ptx = true;
    return 0;
}

/* One CUfunction per kernel (kernels with the same symbol share one), with
 * the dynamic shared memory opt-in its largest launch needs. */
static int ts_cu_load_functions(struct ts_rt_cuda_session *s, const struct ts_rt_cuda_image *image, char *err,
                                size_t errsize) {
    const struct ts_rt_plan *plan = s->plan;
    const struct ts_cu *cu = s->cu;
    char label[160];
    s->funcs = calloc((size_t)plan->nkernels + 1, sizeof *s->funcs);
    if (!s->funcs) TS_CU_FAIL("out of memory creating a CUDA session");
    for (int i = 0; i < plan->nlaunches; i++) {
        int k = plan->launches[i].kernel;
        if (s->funcs[k]) continue;
        const char *sym = image->symbols[k];
        for (int j = 0; j < plan->nkernels && !s->funcs[k]; j++)
            if (j != k && s->funcs[j] && image->symbols[j] && strcmp(image->symbols[j], sym) == 0)
                s->funcs[k] = s->funcs[j];
        if (s->funcs[k]) continue;
        CUresult r = cu->ModuleGetFunction(&s->funcs[k], s->module, sym);
        if (r != CUDA_SUCCESS)
            return ts_cu_fail(cu, r, err, errsize, "kernel %s: function '%s' is not in the module",
                              ts_cu_kernel_label(plan, k, label, sizeof label), sym);
    }
    for (int k = 0; k < plan->nkernels; k++) {
        if (!s->funcs[k]) continue;
        bool first = true; /* set each shared function once, with the largest need */
        for (int j = 0; j < k && first; j++) first = s->funcs[j] != s->funcs[k];
        if (!first) continue;
        uint32_t need = 0;
        for (int i = 0; i < plan->nlaunches; i++) {
            const struct ts_rt_launch *l = &plan->launches[i];
            if (s->funcs[l->kernel] == s->funcs[k] && l->shared_bytes > need) need = l->shared_bytes;
        }
        if (need <= TS_CU_STATIC_SHARED_LIMIT) continue;
        ts_cu_kernel_label(plan, k, label, sizeof label);
        if ((int64_t)need > s->info.max_shared_optin) {
            ts_cu_fault_set(TS_RT_CUDA_FAULT_RESOURCES);
            TS_CU_FAIL("kernel %s needs %u bytes of shared memory per block; %s (%s) allows %d", label, need,
                       s->info.name, s->info.arch, s->info.max_shared_optin);
        }
        CUresult r = cu->FuncSetAttribute(s->funcs[k], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)need);
        if (r != CUDA_SUCCESS)
            return ts_cu_fail(cu, r, err, errsize, "kernel %s: allowing %u bytes of dynamic shared memory", label,
                              need);
    }
    return 0;
}

/* Memory: one allocation, zeroed (arena, workspaces and error words start at
 * zero), then the weights and constants copied in, once. */
static int ts_cu_upload(struct ts_rt_cuda_session *s, const void *const *weights, char *err, size_t errsize) {
    const struct ts_rt_plan *plan = s->plan;
    const struct ts_cu *cu = s->cu;
    if (ts_cu_layout(s, err, errsize)) return 1;
    CUresult r = cu->MemAlloc(&s->base, (size_t)s->total_bytes);
    if (r != CUDA_SUCCESS) {
        s->base = 0;
        return ts_cu_fail(cu, r, err, errsize, "allocating %lld bytes on %s", (long long)s->total_bytes,
                          s->info.name);
    }
    if ((r = cu->MemsetD8Async(s->base, 0, (size_t)s->total_bytes, s->stream)) != CUDA_SUCCESS)
        return ts_cu_fail(cu, r, err, errsize, "zeroing the device memory");
    for (int i = 0; i < plan->nweights; i++)
        if (plan->weights[i].nbytes > 0 &&
            (r = cu->MemcpyHtoDAsync(s->base + (CUdeviceptr)s->weight_off[i], weights[i],
                                     (size_t)plan->weights[i].nbytes, s->stream)) != CUDA_SUCCESS)
            return ts_cu_fail(cu, r, err, errsize, "uploading weight '%s'",
                              plan->weights[i].name ? plan->weights[i].name : "?");
    for (int i = 0; i < plan->nconsts; i++) {
        int64_t n = ts_cu_const_bytes(plan, i);
        if (n > 0 && (r = cu->MemcpyHtoDAsync(s->base + (CUdeviceptr)s->const_off[i], plan->consts[i], (size_t)n,
                                              s->stream)) != CUDA_SUCCESS)
            return ts_cu_fail(cu, r, err, errsize, "uploading constant %d", i);
    }
    if ((r = cu->StreamSynchronize(s->stream)) != CUDA_SUCCESS)
        return ts_cu_fail(cu, r, err, errsize, "uploading the weights");
    return 0;
}

/* The plan as a graph: one kernel node per non-empty launch, each depending
 * on the one before (launches run in plan order, as on the CPU). */
static int ts_cu_build_graph(struct ts_rt_cuda_session *s, char *err, size_t errsize) {
    const struct ts_rt_plan *plan = s->plan;
    const struct ts_cu *cu = s->cu;
    int64_t nparams = 0;
    for (int i = 0; i < plan->nlaunches; i++) nparams += plan->launches[i].nargs + 2;
    s->param_values = calloc((size_t)nparams + 1, sizeof *s->param_values);
    s->param_ptrs = calloc((size_t)nparams + 1, sizeof *s->param_ptrs);
    if (!s->param_values || !s->param_ptrs) TS_CU_FAIL("out of memory creating a CUDA session");
    CUresult r = cu->GraphCreate(&s->graph, 0);
    if (r != CUDA_SUCCESS) {
        s->graph = NULL;
        return ts_cu_fail(cu, r, err, errsize, "cuGraphCreate");
    }
    CUgraphNode prev = NULL;
    int64_t slot = 0;
    char label[160];
    for (int i = 0; i < plan->nlaunches; i++) {
        const struct ts_rt_launch *l = &plan->launches[i];
        int64_t start = slot;
        /* Kernel ABI: the operand buffers, the workspace (0 if none), the error word. */
        for (int a = 0; a < l->nargs; a++) s->param_values[slot++] = ts_cu_buffer_ptr(s, l->args[a]);
        s->param_values[slot++] = s->work_off[i] >= 0 ? s->base + (CUdeviceptr)s->work_off[i] : 0;
        s->param_values[slot++] = s->base + (CUdeviceptr)(s->errors_off + (int64_t)sizeof(int32_t) * i);
        for (int64_t j = start; j < slot; j++) s->param_ptrs[j] = &s->param_values[j];
        if ((uint64_t)l->grid[0] * l->grid[1] * l->grid[2] == 0) continue; /* nothing to do (empty tensors) */
        CUDA_KERNEL_NODE_PARAMS p;
        memset(&p, 0, sizeof p);
        p.func = s->funcs[l->kernel];
        p.gridDimX = l->grid[0];
        p.gridDimY = l->grid[1];
        p.gridDimZ = l->grid[2];
        p.blockDimX = l->block[0];
        p.blockDimY = l->block[1];
        p.blockDimZ = l->block[2];
        p.sharedMemBytes = l->shared_bytes;
        p.kernelParams = &s->param_ptrs[start];
        CUgraphNode node;
        r = cu->GraphAddKernelNode(&node, s->graph, prev ? &prev : NULL, prev ? 1 : 0, &p);
        if (r != CUDA_SUCCESS)
            return ts_cu_fail(cu, r, err, errsize, "kernel %s: adding launch %d to the CUDA graph",
                              ts_cu_kernel_label(plan, l->kernel, label, sizeof label), i);
        prev = node;
    }
    if ((r = cu->GraphInstantiateWithFlags(&s->exec, s->graph, 0)) != CUDA_SUCCESS) {
        s->exec = NULL;
        return ts_cu_fail(cu, r, err, errsize, "instantiating the CUDA graph of %d launches", plan->nlaunches);
    }
    return 0;
}

static int ts_cu_init_steps(struct ts_rt_cuda_session *s, const struct ts_rt_cuda_image *image,
                            const void *const *weights, char *err, size_t errsize) {
    const struct ts_cu *cu = s->cu;
    CUresult r;
    if ((r = cu->StreamCreate(&s->stream, CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS) {
        s->stream = NULL;
        return ts_cu_fail(cu, r, err, errsize, "cuStreamCreate");
    }
    if ((r = cu->EventCreate(&s->start, CU_EVENT_DEFAULT)) != CUDA_SUCCESS) {
        s->start = NULL;
        return ts_cu_fail(cu, r, err, errsize, "cuEventCreate");
    }
    if ((r = cu->EventCreate(&s->end, CU_EVENT_DEFAULT)) != CUDA_SUCCESS) {
        s->end = NULL;
        return ts_cu_fail(cu, r, err, errsize, "cuEventCreate");
    }
    if (ts_cu_load_module(s, image, err, errsize) || ts_cu_load_functions(s, image, err, errsize) ||
        ts_cu_upload(s, weights, err, errsize) || ts_cu_build_graph(s, err, errsize))
        return 1;
    return 0;
}

static int ts_cu_session_init(const struct ts_rt_plan *plan, const struct ts_rt_cuda_image *image,
                              const void *const *weights, int ordinal, struct ts_rt_cuda_session **out, char *err,
                              size_t errsize) {
    *out = NULL;
    if (ts_cu_check_plan(plan, image, weights, err, errsize)) return 1;
    struct ts_rt_cuda_session *s = calloc(1, sizeof *s);
    if (!s) TS_CU_FAIL("out of memory creating a CUDA session");
    s->plan = plan;
    if (ts_rt_cuda_probe(ordinal, &s->info, err, errsize)) {
        free(s);
        return 1;
    }
    s->cu = ts_cu_driver(err, errsize); /* loaded by the probe */
    const struct ts_cu *cu = s->cu;
    CUresult r = cu->DeviceGet(&s->dev, ordinal);
    if (r == CUDA_SUCCESS) r = cu->DevicePrimaryCtxRetain(&s->ctx, s->dev);
    if (r != CUDA_SUCCESS) {
        ts_cu_fail(cu, r, err, errsize, "CUDA device %d (%s): retaining its primary context", ordinal,
                   s->info.name);
        free(s);
        return 1;
    }
    s->retained = true;
    if ((r = cu->CtxPushCurrent(s->ctx)) != CUDA_SUCCESS) {
        ts_cu_fail(cu, r, err, errsize, "making the CUDA context current");
        ts_rt_cuda_session_free(s);
        return 1;
    }
    int rc = ts_cu_init_steps(s, image, weights, err, errsize);
    CUcontext popped;
    cu->CtxPopCurrent(&popped);
    if (rc) {
        ts_rt_cuda_session_free(s);
        return 1;
    }
    *out = s;
    return 0;
}

int ts_rt_cuda_session_init(const struct ts_rt_plan *plan, const struct ts_rt_cuda_image *image,
                            const void *const *weights, int ordinal, struct ts_rt_cuda_session **out, char *err,
                            size_t errsize) {
    ts_cu_fault_set(TS_RT_CUDA_FAULT_NONE);
    return ts_cu_fault_done(ts_cu_session_init(plan, image, weights, ordinal, out, err, errsize));
}

const struct ts_rt_cuda_info *ts_rt_cuda_session_info(const struct ts_rt_cuda_session *s) { return &s->info; }
bool ts_rt_cuda_session_used_ptx(const struct ts_rt_cuda_session *s) { return s->used_ptx; }

void ts_rt_cuda_session_free(struct ts_rt_cuda_session *s) {
    if (!s) return;
    const struct ts_cu *cu = s->cu;
    if (cu && s->retained && cu->CtxPushCurrent(s->ctx) == CUDA_SUCCESS) {
        /* Errors here have no one to go to: the session is gone either way. */
        if (s->stream) cu->StreamSynchronize(s->stream);
        if (s->exec) cu->GraphExecDestroy(s->exec);
        if (s->graph) cu->GraphDestroy(s->graph);
        if (s->start) cu->EventDestroy(s->start);
        if (s->end) cu->EventDestroy(s->end);
        if (s->stream) cu->StreamDestroy(s->stream);
        if (s->base) cu->MemFree(s->base);
        if (s->flush) cu->MemFree(s->flush);
        if (s->module) cu->ModuleUnload(s->module);
        CUcontext popped;
        cu->CtxPopCurrent(&popped);
    }
    if (cu && s->retained) cu->DevicePrimaryCtxRelease(s->dev);
    free(s->funcs);
    free(s->weight_off);
    free(s->const_off);
    free(s->work_off);
    free(s->in_off);
    free(s->out_off);
    free(s->host_errors);
    free(s->param_values);
    free(s->param_ptrs);
    free(s);
}
