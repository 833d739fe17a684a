/* mock_libcuda.c — a stand-in for libcuda.so.1 (tests load it through
 * $TESSERA_LIBCUDA): cuGetProcAddress and the entry points the runtime
 * resolves, with "device memory" in host memory, streams that run at once,
 * modules whose functions are the names found in the image, and graph
 * launches that call host functions registered per kernel name. Every call
 * is recorded in mock_state (mock_cuda.h) for the tests to check. */
#include <cuda.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_cuda.h"

#define MOCK_EXPORT __attribute__((visibility("default")))

struct CUctx_st {
    int dummy;
};
struct CUmod_st {
    char *image;
    size_t size;
};
struct CUfunc_st {
    char name[64];
    struct CUmod_st *module;
};
struct CUgraphNode_st {
    int index;
};
struct CUgraph_st {
    struct mock_node nodes[MOCK_MAX];
    struct CUgraphNode_st handles[MOCK_MAX];
    struct CUfunc_st *funcs[MOCK_MAX];
    int n;
};
struct CUgraphExec_st {
    struct mock_node nodes[MOCK_MAX];
    int n;
};
struct CUstream_st {
    int dummy;
};
struct CUevent_st {
    int dummy;
};

static struct mock_config config;
static struct mock_state state;
static struct CUctx_st primary;
static struct {
    char name[64];
    int nparams;
    mock_kernel_fn fn;
} registered[64];
static int nregistered;
static struct CUfunc_st funcs[MOCK_MAX];
static int nfuncs;
/* For the autotuner's tests (test_cuda_tune.c), which look these up with
 * dlsym: the module loaded last (its kernels are the candidate being
 * measured), and graph launches that fail. */
static struct CUmod_st *last_module;
static unsigned fail_block_x;  /* launches with a node of this blockDim.x fail … */
static CUresult fail_result;   /* … with this */
static CUresult sticky;        /* a sticky failure happened: every later call returns it */
#define MOCK_L2_BYTES (2 << 20)

MOCK_EXPORT void mock_cuda_reset(const struct mock_config *c) {
    memset(&state, 0, sizeof state);
    state.min_version_asked = 1 << 30;
    nregistered = 0;
    nfuncs = 0;
    last_module = NULL;
    fail_block_x = 0;
    fail_result = CUDA_SUCCESS;
    sticky = CUDA_SUCCESS;
    if (c) {
        config = *c;
    } else {
        memset(&config, 0, sizeof config);
        strcpy(config.name, "Mock GPU");
        config.ndevices = 1;
        config.cc_major = 9;
        config.sm_count = 132;
        config.max_shared_optin = 227 * 1024;
        config.driver_version = 13000;
        config.total_bytes = (size_t)80 << 30;
    }
}

MOCK_EXPORT struct mock_state *mock_cuda_state(void) { return &state; }

MOCK_EXPORT void mock_cuda_register(const char *name, int nparams, mock_kernel_fn fn) {
    if (nregistered >= 64) return;
    snprintf(registered[nregistered].name, sizeof registered[nregistered].name, "%s", name);
    registered[nregistered].nparams = nparams;
    registered[nregistered++].fn = fn;
}

/* The image of the module loaded last and not unloaded (NULL if none). */
MOCK_EXPORT const void *mock_cuda_last_module_image(size_t *size) {
    if (size) *size = last_module ? last_module->size : 0;
    return last_module ? last_module->image : NULL;
}

/* Graph launches of a kernel node with blockDim.x == block_x return result
 * (0: none fail). A sticky result (an illegal address …) poisons the
 * process as the driver does: every later call returns it, until the next
 * call of this function. */
MOCK_EXPORT void mock_cuda_fail_launches(unsigned block_x, int result) {
    fail_block_x = block_x;
    fail_result = (CUresult)result;
    sticky = CUDA_SUCCESS;
}

static bool is_sticky(CUresult r) {
    return r == CUDA_ERROR_ILLEGAL_ADDRESS || r == CUDA_ERROR_LAUNCH_FAILED || r == CUDA_ERROR_MISALIGNED_ADDRESS ||
           r == CUDA_ERROR_ILLEGAL_INSTRUCTION;
}

static int find_registered(const char *name) {
    for (int i = 0; i < nregistered; i++)
        if (strcmp(registered[i].name, name) == 0) return i;
    return -1;
}

/* Calls that need a current context check for one, as the driver does. */
#define NEED_CONTEXT()                                  \
    do {                                                \
        if (sticky != CUDA_SUCCESS) return sticky;      \
        if (state.ctx_depth <= 0) {                     \
            state.no_context_calls++;                   \
            return CUDA_ERROR_INVALID_CONTEXT;          \
        }                                               \
    } while (0)

static CUresult mInit(unsigned int flags) {
    (void)flags;
    state.init_calls++;
    return (CUresult)config.init_result;
}
static CUresult mDriverGetVersion(int *v) {
    *v = config.driver_version;
    return CUDA_SUCCESS;
}

static const struct {
    CUresult r;
    const char *name, *text;
} errors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {CUDA_ERROR_NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
};
static CUresult mGetErrorName(CUresult r, const char **s) {
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++)
        if (errors[i].r == r) {
            *s = errors[i].name;
            return CUDA_SUCCESS;
        }
    *s = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}
static CUresult mGetErrorString(CUresult r, const char **s) {
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++)
        if (errors[i].r == r) {
            *s = errors[i].text;
            return CUDA_SUCCESS;
        }
    *s = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}
static CUresult mDeviceGetCount(int *n) {
    *n = config.ndevices;
    return CUDA_SUCCESS;
}
static CUresult mDeviceGet(CUdevice *d, int ordinal) {
    if (ordinal < 0 || ordinal >= config.ndevices) return CUDA_ERROR_INVALID_VALUE;
    *d = ordinal;
    return CUDA_SUCCESS;
}
static CUresult mDeviceGetName(char *name, int len, CUdevice d) {
    (void)d;
    snprintf(name, (size_t)len, "%s", config.name);
    return CUDA_SUCCESS;
}
static CUresult mDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
    (void)d;
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = config.cc_major; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = config.cc_minor; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = config.sm_count; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *v = config.max_shared_optin; break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: *v = MOCK_L2_BYTES; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}
static CUresult mDeviceTotalMem(size_t *b, CUdevice d) {
    (void)d;
    *b = config.total_bytes;
    return CUDA_SUCCESS;
}
static CUresult mPrimaryCtxRetain(CUcontext *c, CUdevice d) {
    (void)d;
    state.ctx_retains++;
    *c = &primary;
    return CUDA_SUCCESS;
}
static CUresult mPrimaryCtxRelease(CUdevice d) {
    (void)d;
    state.ctx_releases++;
    return CUDA_SUCCESS;
}
static CUresult mCtxPushCurrent(CUcontext c) {
    if (c != &primary) return CUDA_ERROR_INVALID_CONTEXT;
    state.ctx_pushes++;
    state.ctx_depth++;
    return CUDA_SUCCESS;
}
static CUresult mCtxPopCurrent(CUcontext *c) {
    if (state.ctx_depth <= 0) return CUDA_ERROR_INVALID_CONTEXT;
    state.ctx_pops++;
    state.ctx_depth--;
    if (c) *c = &primary;
    return CUDA_SUCCESS;
}

/* An image is a cubin (ELF, machine 190, SM in e_flags bits 8-15, the size
 * up to the end of its section headers) or NUL-terminated PTX text. */
static CUresult mModuleLoadDataEx(CUmodule *m, const void *image, unsigned int n, CUjit_option *opts, void **vals) {
    NEED_CONTEXT();
    const unsigned char *b = image;
    size_t size;
    bool ptx = memcmp(b, "\177ELF", 4) != 0;
    if (!ptx) {
        uint16_t machine;
        uint32_t flags;
        uint64_t shoff;
        uint16_t shentsize, shnum;
        memcpy(&machine, b + 18, 2);
        memcpy(&flags, b + 48, 4);
        memcpy(&shoff, b + 40, 8);
        memcpy(&shentsize, b + 58, 2);
        memcpy(&shnum, b + 60, 2);
        if (machine != 190) {
            state.module_load_failures++;
            return CUDA_ERROR_INVALID_IMAGE;
        }
        if ((int)((flags >> 8) & 0xff) != config.cc_major * 10 + config.cc_minor) {
            state.module_load_failures++;
            return CUDA_ERROR_NO_BINARY_FOR_GPU;
        }
        size = (size_t)shoff + (size_t)shentsize * shnum;
    } else {
        size = strlen((const char *)b);
        if (config.fail_ptx) {
            for (unsigned i = 0; i < n; i++)
                if (opts[i] == CU_JIT_ERROR_LOG_BUFFER)
                    snprintf(vals[i], 64, "ptxas fatal   : mock JIT failure\nsecond line");
            state.module_load_failures++;
            return CUDA_ERROR_INVALID_PTX;
        }
    }
    struct CUmod_st *mod = calloc(1, sizeof *mod);
    mod->image = malloc(size + 1);
    memcpy(mod->image, b, size);
    mod->image[size] = '\0';
    mod->size = size;
    state.module_loads++;
    state.module_loads_ptx += ptx;
    last_module = mod;
    *m = mod;
    return CUDA_SUCCESS;
}
static CUresult mModuleUnload(CUmodule m) {
    NEED_CONTEXT();
    state.module_unloads++;
    if (m == last_module) last_module = NULL;
    free(m->image);
    free(m);
    return CUDA_SUCCESS;
}
static CUresult mModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
    NEED_CONTEXT();
    size_t n = strlen(name);
    bool found = false;
    for (size_t i = 0; i + n <= m->size && !found; i++) found = memcmp(m->image + i, name, n) == 0;
    if (!found || nfuncs >= MOCK_MAX) return CUDA_ERROR_NOT_FOUND;
    struct CUfunc_st *fn = &funcs[nfuncs++];
    snprintf(fn->name, sizeof fn->name, "%s", name);
    fn->module = m;
    *f = fn;
    return CUDA_SUCCESS;
}
static CUresult mFuncSetAttribute(CUfunction f, CUfunction_attribute a, int v) {
    NEED_CONTEXT();
    if (a == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES && v > config.max_shared_optin)
        return CUDA_ERROR_INVALID_VALUE;
    if (state.nattrs < MOCK_MAX) {
        struct mock_attr *r = &state.attrs[state.nattrs++];
        snprintf(r->func, sizeof r->func, "%s", f->name);
        r->attr = (int)a;
        r->value = v;
    }
    return CUDA_SUCCESS;
}
static CUresult mMemAlloc(CUdeviceptr *p, size_t bytes) {
    NEED_CONTEXT();
    void *mem = NULL;
    if (bytes == 0 || posix_memalign(&mem, 4096, bytes) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
    memset(mem, 0xa5, bytes); /* device memory starts as garbage */
    state.allocs++;
    state.live_allocs++;
    state.alloc_base = (uint64_t)(uintptr_t)mem;
    state.alloc_bytes = bytes;
    *p = (CUdeviceptr)(uintptr_t)mem;
    return CUDA_SUCCESS;
}
static CUresult mMemFree(CUdeviceptr p) {
    NEED_CONTEXT();
    state.frees++;
    state.live_allocs--;
    free((void *)(uintptr_t)p);
    return CUDA_SUCCESS;
}
static CUresult mMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t n, CUstream s) {
    NEED_CONTEXT();
    (void)s;
    if (state.htod < MOCK_MAX) state.htod_log[state.htod] = (struct mock_copy){dst - state.alloc_base, n, 0};
    state.htod++;
    memcpy((void *)(uintptr_t)dst, src, n);
    return CUDA_SUCCESS;
}
static CUresult mMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t n, CUstream s) {
    NEED_CONTEXT();
    (void)s;
    state.dtoh++;
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return CUDA_SUCCESS;
}
static CUresult mMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s) {
    NEED_CONTEXT();
    (void)s;
    if (state.memsets < MOCK_MAX) state.memset_log[state.memsets] = (struct mock_copy){dst - state.alloc_base, n, v};
    state.memsets++;
    memset((void *)(uintptr_t)dst, v, n);
    return CUDA_SUCCESS;
}
static CUresult mStreamCreate(CUstream *s, unsigned int flags) {
    NEED_CONTEXT();
    (void)flags;
    state.streams++;
    *s = calloc(1, sizeof **s);
    return CUDA_SUCCESS;
}
static CUresult mStreamDestroy(CUstream s) {
    NEED_CONTEXT();
    state.stream_destroys++;
    free(s);
    return CUDA_SUCCESS;
}
static CUresult mStreamSynchronize(CUstream s) {
    NEED_CONTEXT();
    (void)s;
    return CUDA_SUCCESS;
}
static CUresult mGraphCreate(CUgraph *g, unsigned int flags) {
    (void)flags;
    state.graph_creates++;
    *g = calloc(1, sizeof **g);
    return CUDA_SUCCESS;
}
static CUresult mGraphAddKernelNode(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t ndeps,
                                    const CUDA_KERNEL_NODE_PARAMS *p) {
    NEED_CONTEXT();
    if (g->n >= MOCK_MAX || !p->func || p->blockDimX * p->blockDimY * p->blockDimZ == 0) return CUDA_ERROR_INVALID_VALUE;
    struct mock_node *m = &g->nodes[g->n];
    memset(m, 0, sizeof *m);
    snprintf(m->func, sizeof m->func, "%s", p->func->name);
    m->grid[0] = p->gridDimX, m->grid[1] = p->gridDimY, m->grid[2] = p->gridDimZ;
    m->block[0] = p->blockDimX, m->block[1] = p->blockDimY, m->block[2] = p->blockDimZ;
    m->shared = p->sharedMemBytes;
    int r = find_registered(m->func);
    m->nparams = r >= 0 ? registered[r].nparams : 0;
    /* The driver copies the parameter values now, as the real one does. */
    for (int i = 0; i < m->nparams && i < 16; i++) memcpy(&m->params[i], p->kernelParams[i], sizeof(CUdeviceptr));
    m->ndeps = (int)ndeps;
    m->dep = ndeps ? deps[0]->index : -1;
    g->handles[g->n].index = g->n;
    *node = &g->handles[g->n];
    g->n++;
    return CUDA_SUCCESS;
}
static CUresult mGraphInstantiateWithFlags(CUgraphExec *e, CUgraph g, unsigned long long flags) {
    (void)flags;
    state.instantiates++;
    struct CUgraphExec_st *x = calloc(1, sizeof *x);
    memcpy(x->nodes, g->nodes, sizeof x->nodes);
    x->n = g->n;
    memcpy(state.nodes, g->nodes, sizeof state.nodes);
    state.nnodes = g->n;
    *e = x;
    return CUDA_SUCCESS;
}
static CUresult mGraphLaunch(CUgraphExec e, CUstream s) {
    NEED_CONTEXT();
    (void)s;
    state.graph_launches++;
    for (int i = 0; i < e->n && fail_result != CUDA_SUCCESS; i++)
        if (e->nodes[i].block[0] == fail_block_x) {
            if (is_sticky(fail_result)) sticky = fail_result;
            return fail_result;
        }
    for (int i = 0; i < e->n; i++) {
        int r = find_registered(e->nodes[i].func);
        if (r < 0 || !registered[r].fn) continue; /* an unknown kernel does nothing */
        void *args[16];
        for (int k = 0; k < e->nodes[i].nparams; k++) args[k] = (void *)(uintptr_t)e->nodes[i].params[k];
        registered[r].fn(args, &e->nodes[i]);
        state.kernel_runs++;
    }
    return CUDA_SUCCESS;
}
static CUresult mGraphExecDestroy(CUgraphExec e) {
    state.exec_destroys++;
    free(e);
    return CUDA_SUCCESS;
}
static CUresult mGraphDestroy(CUgraph g) {
    state.graph_destroys++;
    free(g);
    return CUDA_SUCCESS;
}
static CUresult mEventCreate(CUevent *e, unsigned int flags) {
    NEED_CONTEXT();
    (void)flags;
    state.events++;
    *e = calloc(1, sizeof **e);
    return CUDA_SUCCESS;
}
static CUresult mEventRecord(CUevent e, CUstream s) {
    NEED_CONTEXT();
    (void)e, (void)s;
    return CUDA_SUCCESS;
}
static CUresult mEventSynchronize(CUevent e) {
    (void)e;
    return CUDA_SUCCESS;
}
static CUresult mEventElapsedTime(float *ms, CUevent a, CUevent b) {
    (void)a, (void)b;
    *ms = 0.25f;
    return CUDA_SUCCESS;
}
static CUresult mEventDestroy(CUevent e) {
    state.event_destroys++;
    free(e);
    return CUDA_SUCCESS;
}

/* Checks what the driver checks of its arguments (a few), records the call
 * and writes the magic and the index where the opaque map begins, which is
 * what a kernel node records of the parameter. */
static CUresult mTensorMapEncodeTiled(CUtensorMap *map, CUtensorMapDataType dtype, cuuint32_t rank, void *addr,
                                      const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *box,
                                      const cuuint32_t *estrides, CUtensorMapInterleave interleave,
                                      CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2,
                                      CUtensorMapFloatOOBfill oob) {
    if (sticky != CUDA_SUCCESS) return sticky;
    if (config.fail_tmaps || !map || rank < 1 || rank > 5 || ((uintptr_t)addr & 15) != 0 ||
        ((uintptr_t)map & 63) != 0 || state.ntmaps >= MOCK_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    int index = state.ntmaps++;
    struct mock_tmap *t = &state.tmaps[index];
    memset(t, 0, sizeof *t);
    t->addr = (uint64_t)(uintptr_t)addr;
    t->dtype = (int)dtype, t->rank = (int)rank, t->interleave = (int)interleave, t->swizzle = (int)swizzle;
    t->l2 = (int)l2, t->oob = (int)oob;
    for (cuuint32_t i = 0; i < rank; i++) {
        t->dims[i] = dims[i];
        t->box[i] = box[i];
        t->estrides[i] = estrides[i];
        if (i + 1 < rank) t->strides[i] = strides[i];
    }
    memset(map, 0, sizeof *map);
    map->opaque[0] = MOCK_TMAP_MAGIC | (uint64_t)index;
    map->opaque[1] = (uint64_t)(uintptr_t)addr;
    return CUDA_SUCCESS;
}

#define FN(name, impl) {name, (void *)impl}
static const struct {
    const char *name;
    void *fn;
} table[] = {
    FN("cuInit", mInit), FN("cuDriverGetVersion", mDriverGetVersion), FN("cuGetErrorName", mGetErrorName),
    FN("cuGetErrorString", mGetErrorString), FN("cuDeviceGetCount", mDeviceGetCount), FN("cuDeviceGet", mDeviceGet),
    FN("cuDeviceGetName", mDeviceGetName), FN("cuDeviceGetAttribute", mDeviceGetAttribute),
    FN("cuDeviceTotalMem", mDeviceTotalMem), FN("cuDevicePrimaryCtxRetain", mPrimaryCtxRetain),
    FN("cuDevicePrimaryCtxRelease", mPrimaryCtxRelease), FN("cuCtxPushCurrent", mCtxPushCurrent),
    FN("cuCtxPopCurrent", mCtxPopCurrent), FN("cuModuleLoadDataEx", mModuleLoadDataEx),
    FN("cuModuleUnload", mModuleUnload), FN("cuModuleGetFunction", mModuleGetFunction),
    FN("cuFuncSetAttribute", mFuncSetAttribute), FN("cuMemAlloc", mMemAlloc), FN("cuMemFree", mMemFree),
    FN("cuMemcpyHtoDAsync", mMemcpyHtoDAsync), FN("cuMemcpyDtoHAsync", mMemcpyDtoHAsync),
    FN("cuMemsetD8Async", mMemsetD8Async), FN("cuStreamCreate", mStreamCreate),
    FN("cuStreamDestroy", mStreamDestroy), FN("cuStreamSynchronize", mStreamSynchronize),
    FN("cuGraphCreate", mGraphCreate), FN("cuGraphAddKernelNode", mGraphAddKernelNode),
    FN("cuGraphInstantiateWithFlags", mGraphInstantiateWithFlags), FN("cuGraphLaunch", mGraphLaunch),
    FN("cuGraphExecDestroy", mGraphExecDestroy), FN("cuGraphDestroy", mGraphDestroy),
    FN("cuEventCreate", mEventCreate), FN("cuEventRecord", mEventRecord),
    FN("cuEventSynchronize", mEventSynchronize), FN("cuEventElapsedTime", mEventElapsedTime),
    FN("cuEventDestroy", mEventDestroy), FN("cuTensorMapEncodeTiled", mTensorMapEncodeTiled),
};

/* cuda.h maps cuGetProcAddress to cuGetProcAddress_v2: this is the _v2 export. */
MOCK_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags,
                                      CUdriverProcAddressQueryResult *status) {
    (void)flags;
    state.proc_lookups++;
    if (version < state.min_version_asked) state.min_version_asked = version;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcmp(table[i].name, symbol) == 0 &&
            !(config.missing_symbol && strcmp(config.missing_symbol, symbol) == 0)) {
            *pfn = table[i].fn;
            if (status) *status = CU_GET_PROC_ADDRESS_SUCCESS;
            return CUDA_SUCCESS;
        }
    *pfn = NULL;
    if (status) *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
}

/* The state starts as mock_cuda_reset(NULL) leaves it, for users that never
 * call it (a compiled model's executable run with this file as its driver). */
__attribute__((constructor)) static void mock_init(void) { mock_cuda_reset(NULL); }
