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

/* Bytes per element of a tensor map's dtype (0: not a dtype). */
static uint32_t ts_cu_tmap_esize(int32_t dtype) {
    switch (dtype) {
    case TS_RT_TMAP_F16:
    case TS_RT_TMAP_BF16: return 2;
    case TS_RT_TMAP_F32: return 4;
    default: return 0;
    }
}

/* The rules cuTensorMapEncodeTiled enforces (its documentation), checked
 * here so that a bad map is a line naming its field rather than the
 * driver's CUDA_ERROR_INVALID_VALUE; and the map must lie inside its
 * buffer, or TMA would read past it. */
static int ts_cu_check_tmap(const struct ts_rt_plan *plan, const struct ts_rt_launch *l, int m, char *err,
                            size_t errsize) {
    const struct ts_rt_tmap *t = &l->tmaps[m];
    if (t->arg < 0 || t->arg >= l->nargs) TS_CU_FAIL("covers arg %d, but the launch has %d args", t->arg, l->nargs);
    uint32_t esize = ts_cu_tmap_esize(t->dtype);
    if (esize == 0) TS_CU_FAIL("dtype %d is not 1 (f16), 2 (bf16) or 3 (f32)", t->dtype);
    if (t->rank != 2 && t->rank != 3) TS_CU_FAIL("rank %d is not 2 or 3", t->rank);
    if (t->swizzle != 0 && t->swizzle != 32 && t->swizzle != 64 && t->swizzle != 128)
        TS_CU_FAIL("swizzle %d is not 0, 32, 64 or 128 bytes", t->swizzle);
    if (t->offset < 0 || t->offset % 16 != 0)
        TS_CU_FAIL("offset %lld is not a non-negative multiple of 16", (long long)t->offset);
    const struct ts_rt_buffer *buf = &plan->buffers[l->args[t->arg]];
    if (buf->kind == TS_RT_BUF_ARENA && buf->offset % 16 != 0) /* other buffers start 256-aligned */
        TS_CU_FAIL("its buffer (arena offset %lld) is not 16-byte aligned", (long long)buf->offset);
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] < 1 || t->dims[i] > ((uint64_t)1 << 32))
            TS_CU_FAIL("dims[%d] = %llu is not in 1..2^32", i, (unsigned long long)t->dims[i]);
    for (int i = 0; i < t->rank - 1; i++)
        if (t->strides[i] == 0 || t->strides[i] % 16 != 0 || t->strides[i] >= ((uint64_t)1 << 40))
            TS_CU_FAIL("strides[%d] = %llu is not a positive multiple of 16 below 2^40", i,
                       (unsigned long long)t->strides[i]);
    for (int i = 0; i < t->rank; i++)
        if (t->box[i] < 1 || t->box[i] > 256) TS_CU_FAIL("box[%d] = %u is not in 1..256", i, t->box[i]);
    uint64_t row = (uint64_t)t->box[0] * esize;
    if (row % 16 != 0) TS_CU_FAIL("box[0] = %u elements is %llu bytes, not a multiple of 16", t->box[0],
                                  (unsigned long long)row);
    if (t->swizzle > 0 && row > (uint64_t)t->swizzle)
        TS_CU_FAIL("box[0] = %u elements is %llu bytes, more than the %d-byte swizzle", t->box[0],
                   (unsigned long long)row, t->swizzle);
    /* The end of the last element: offset + Σ (dims[i]-1)·strides[i-1] + dims[0]·esize
     * (dims up to 2^32 times strides below 2^40 can overflow 64 bits). */
    uint64_t end = (uint64_t)t->offset, term;
    bool overflow = __builtin_mul_overflow(t->dims[0], (uint64_t)esize, &term) ||
                    __builtin_add_overflow(end, term, &end);
    for (int i = 1; i < t->rank && !overflow; i++)
        overflow = __builtin_mul_overflow(t->dims[i] - 1, t->strides[i - 1], &term) ||
                   __builtin_add_overflow(end, term, &end);
    if (overflow) TS_CU_FAIL("its last element lies past 2^64 bytes");
    if (end > (uint64_t)buf->nbytes)
        TS_CU_FAIL("its last element ends at byte %llu, past the %lld bytes of its buffer (arg %d, buffer %d)",
                   (unsigned long long)end, (long long)buf->nbytes, t->arg, l->args[t->arg]);
    return 0;
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
        if (l->ntmaps < 0 || l->ntmaps > TS_RT_MAX_TMAPS)
            TS_CU_FAIL("plan: launch %d (kernel %s) has %d tensor maps (0 to %d)", i, label, l->ntmaps,
                       TS_RT_MAX_TMAPS);
        for (int m = 0; m < l->ntmaps; m++) {
            char why[400];
            if (ts_cu_check_tmap(plan, l, m, why, sizeof why))
                TS_CU_FAIL("plan: launch %d (kernel %s): tensor map %d: %s", i, label, m, why);
        }
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

/* Tensor map m of launch i, encoded over its buffer's device memory. The
 * out-of-bounds fill NONE reads zeros past dims: a partial tile adds
 * nothing to a GEMM's sums. */
static int ts_cu_encode_tmap(struct ts_rt_cuda_session *s, int i, int m, CUtensorMap *out, char *err,
                             size_t errsize) {
    const struct ts_rt_launch *l = &s->plan->launches[i];
    const struct ts_rt_tmap *t = &l->tmaps[m];
    static const CUtensorMapDataType dtypes[] = {
        [TS_RT_TMAP_F16] = CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
        [TS_RT_TMAP_BF16] = CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
        [TS_RT_TMAP_F32] = CU_TENSOR_MAP_DATA_TYPE_FLOAT32,
    };
    CUtensorMapSwizzle swizzle = t->swizzle == 128  ? CU_TENSOR_MAP_SWIZZLE_128B
                                 : t->swizzle == 64 ? CU_TENSOR_MAP_SWIZZLE_64B
                                 : t->swizzle == 32 ? CU_TENSOR_MAP_SWIZZLE_32B
                                                    : CU_TENSOR_MAP_SWIZZLE_NONE;
    cuuint64_t dims[3], strides[2];
    cuuint32_t box[3], ones[3] = {1, 1, 1};
    for (int k = 0; k < 3; k++) dims[k] = t->dims[k], box[k] = t->box[k];
    for (int k = 0; k < 2; k++) strides[k] = t->strides[k];
    CUdeviceptr at = ts_cu_buffer_ptr(s, l->args[t->arg]) + (CUdeviceptr)t->offset;
    CUresult r = s->cu->TensorMapEncodeTiled(out, dtypes[t->dtype], (cuuint32_t)t->rank, (void *)(uintptr_t)at,
                                             dims, strides, box, ones, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
                                             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) {
        char label[160];
        return ts_cu_fail(s->cu, r, err, errsize, "kernel %s: launch %d: encoding tensor map %d",
                          ts_cu_kernel_label(s->plan, l->kernel, label, sizeof label), i, m);
    }
    return 0;
}

/* The plan as a graph: one kernel node per non-empty launch, each depending
 * on the one before (launches run in plan order, as on the CPU). */
static int ts_cu_build_graph(struct ts_rt_cuda_session *s, char *err, size_t errsize) {
    const struct ts_rt_plan *plan = s->plan;
    const struct ts_cu *cu = s->cu;
    int64_t nvalues = 0, nmaps = 0;
    for (int i = 0; i < plan->nlaunches; i++) {
        nvalues += plan->launches[i].nargs + 2;
        nmaps += plan->launches[i].ntmaps;
    }
    s->param_values = calloc((size_t)nvalues + 1, sizeof *s->param_values);
    s->param_ptrs = calloc((size_t)(nvalues + nmaps) + 1, sizeof *s->param_ptrs);
    /* calloc aligns to 16 only; a CUtensorMap asks for more (cuda.h), and the
     * size is a multiple of it. */
    s->tmaps = aligned_alloc(_Alignof(CUtensorMap), (size_t)(nmaps > 0 ? nmaps : 1) * sizeof *s->tmaps);
    if (!s->param_values || !s->param_ptrs || !s->tmaps) TS_CU_FAIL("out of memory creating a CUDA session");
    CUresult r = cu->GraphCreate(&s->graph, 0);
    if (r != CUDA_SUCCESS) {
        s->graph = NULL;
        return ts_cu_fail(cu, r, err, errsize, "cuGraphCreate");
    }
    CUgraphNode prev = NULL;
    int64_t slot = 0, pslot = 0, map = 0;
    char label[160];
    for (int i = 0; i < plan->nlaunches; i++) {
        const struct ts_rt_launch *l = &plan->launches[i];
        int64_t start = pslot;
        /* Kernel ABI: the tensor maps (by value: the driver copies the 128
         * bytes each points to), the operand buffers, the workspace (0 if
         * none), the error word. */
        for (int m = 0; m < l->ntmaps; m++, map++) {
            if (ts_cu_encode_tmap(s, i, m, &s->tmaps[map], err, errsize)) return 1;
            s->param_ptrs[pslot++] = &s->tmaps[map];
        }
        int64_t first = slot;
        for (int a = 0; a < l->nargs; a++) s->param_values[slot++] = ts_cu_buffer_ptr(s, l->args[a]);
        s->param_values[slot++] = s->work_off[i] >= 0 ? s->base + (CUdeviceptr)s->work_off[i] : 0;
        s->param_values[slot++] = s->base + (CUdeviceptr)(s->errors_off + (int64_t)sizeof(int32_t) * i);
        for (int64_t j = first; j < slot; j++) s->param_ptrs[pslot++] = &s->param_values[j];
        if ((uint64_t)l->grid[0] * l->grid[1] * l->grid[2] == 0) continue; /* nothing to do (empty tensors) */
        CUDA_KERNEL_NODE_PARAMS p;
        memset(&p, 0, sizeof p);
        p.func = s->funcs[l->kernel];
        /* A persistent kernel's blocks loop over its grid[0] tiles: one block per SM. */
        p.gridDimX = l->persistent && s->info.sm_count > 0 && l->grid[0] > (uint32_t)s->info.sm_count
                         ? (unsigned)s->info.sm_count
                         : l->grid[0];
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
    for (int i = 0; i < plan->nlaunches && !cu->TensorMapEncodeTiled; i++) {
        if (plan->launches[i].ntmaps == 0) continue;
        char label[160];
        snprintf(err, errsize,
                 "kernel %s needs TMA tensor maps (sm_90 kernels) but the CUDA driver (%d.%d) lacks "
                 "cuTensorMapEncodeTiled",
                 ts_cu_kernel_label(plan, plan->launches[i].kernel, label, sizeof label),
                 s->info.driver_version / 1000, s->info.driver_version % 1000 / 10);
        free(s);
        return 1;
    }
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
    free(s->tmaps);
    free(s);
}
