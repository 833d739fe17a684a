/* driver.c — the CUDA driver at run time: libcuda.so.1 (or $TESSERA_LIBCUDA)
 * loaded with dlopen, cuGetProcAddress found with dlsym and every other entry
 * point resolved through it at the ABI version tessera was written for, then
 * cuInit. No driver, the toolkit's stub library or no device each become one
 * clear line; the GPU probe (name, arch, SMs, memory) lives here too, and the
 * sorting of failures by kind (ts_rt_cuda_last_fault). */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/internal.h"

/* Each entry point and the CUDA version whose signature struct ts_cu uses
 * (cudaTypedefs.h: PFN_cuMemAlloc_v3020 is cuMemAlloc_v2, and so on). The
 * driver returns the newest version of the symbol not newer than asked. */
#define TS_CU_ENTRY(field, name, version) {name, version, offsetof(struct ts_cu, field), false}
/* An optional entry point may be missing: its field stays NULL, and only
 * the plans that need it are refused (session.c says which). */
#define TS_CU_OPTIONAL(field, name, version) {name, version, offsetof(struct ts_cu, field), true}
static const struct {
    const char *name;
    int version;
    size_t offset;
    bool optional;
} ts_cu_entries[] = {
    TS_CU_ENTRY(Init, "cuInit", 2000),
    TS_CU_ENTRY(DriverGetVersion, "cuDriverGetVersion", 2020),
    TS_CU_ENTRY(GetErrorName, "cuGetErrorName", 6000),
    TS_CU_ENTRY(GetErrorString, "cuGetErrorString", 6000),
    TS_CU_ENTRY(DeviceGetCount, "cuDeviceGetCount", 2000),
    TS_CU_ENTRY(DeviceGet, "cuDeviceGet", 2000),
    TS_CU_ENTRY(DeviceGetName, "cuDeviceGetName", 2000),
    TS_CU_ENTRY(DeviceGetAttribute, "cuDeviceGetAttribute", 2000),
    TS_CU_ENTRY(DeviceTotalMem, "cuDeviceTotalMem", 3020),
    TS_CU_ENTRY(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", 7000),
    TS_CU_ENTRY(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease", 11000),
    TS_CU_ENTRY(CtxPushCurrent, "cuCtxPushCurrent", 4000),
    TS_CU_ENTRY(CtxPopCurrent, "cuCtxPopCurrent", 4000),
    TS_CU_ENTRY(ModuleLoadDataEx, "cuModuleLoadDataEx", 2010),
    TS_CU_ENTRY(ModuleUnload, "cuModuleUnload", 2000),
    TS_CU_ENTRY(ModuleGetFunction, "cuModuleGetFunction", 2000),
    TS_CU_ENTRY(FuncSetAttribute, "cuFuncSetAttribute", 9000),
    TS_CU_ENTRY(MemAlloc, "cuMemAlloc", 3020),
    TS_CU_ENTRY(MemFree, "cuMemFree", 3020),
    TS_CU_ENTRY(MemcpyHtoDAsync, "cuMemcpyHtoDAsync", 3020),
    TS_CU_ENTRY(MemcpyDtoHAsync, "cuMemcpyDtoHAsync", 3020),
    TS_CU_ENTRY(MemsetD8Async, "cuMemsetD8Async", 3020),
    TS_CU_ENTRY(StreamCreate, "cuStreamCreate", 2000),
    TS_CU_ENTRY(StreamDestroy, "cuStreamDestroy", 4000),
    TS_CU_ENTRY(StreamSynchronize, "cuStreamSynchronize", 2000),
    TS_CU_ENTRY(GraphCreate, "cuGraphCreate", 10000),
    TS_CU_ENTRY(GraphAddKernelNode, "cuGraphAddKernelNode", 12000),
    TS_CU_ENTRY(GraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", 11040),
    TS_CU_ENTRY(GraphLaunch, "cuGraphLaunch", 10000),
    TS_CU_ENTRY(GraphExecDestroy, "cuGraphExecDestroy", 10000),
    TS_CU_ENTRY(GraphDestroy, "cuGraphDestroy", 10000),
    TS_CU_ENTRY(EventCreate, "cuEventCreate", 2000),
    TS_CU_ENTRY(EventRecord, "cuEventRecord", 2000),
    TS_CU_ENTRY(EventSynchronize, "cuEventSynchronize", 2000),
    TS_CU_ENTRY(EventElapsedTime, "cuEventElapsedTime", 12080),
    TS_CU_ENTRY(EventDestroy, "cuEventDestroy", 4000),
    TS_CU_OPTIONAL(TensorMapEncodeTiled, "cuTensorMapEncodeTiled", 12000),
};

typedef CUresult (*ts_cu_gpa_v2)(const char *symbol, void **pfn, int version, cuuint64_t flags,
                                 CUdriverProcAddressQueryResult *status);
typedef CUresult (*ts_cu_gpa_v1)(const char *symbol, void **pfn, int version, cuuint64_t flags);

static pthread_mutex_t ts_cu_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ts_cu ts_cu_table;
static bool ts_cu_loaded;

#define TS_CU_NO_DRIVER "no CUDA driver: "

/* dlerror() names the file first ("PATH: cannot open shared object file: …"):
 * the message names it already. */
static const char *ts_cu_dlerror_reason(const char *path) {
    const char *e = dlerror();
    if (!e) return "unknown dlopen error";
    size_t n = strlen(path);
    if (strncmp(e, path, n) == 0 && e[n] == ':' && e[n + 1] == ' ') return e + n + 2;
    return e;
}

static int ts_cu_stub_message(const char *path, char *err, size_t errsize) {
    snprintf(err, errsize,
             TS_CU_NO_DRIVER "%s is the CUDA toolkit's stub library (CUDA_ERROR_STUB_LIBRARY), not a "
                             "driver: this machine has no NVIDIA driver installed",
             path);
    return 1;
}

/* Resolves every entry point of ts_cu_entries into t (flags DEFAULT: the
 * legacy default stream, which tessera never uses: it has its own stream). */
static int ts_cu_resolve(void *lib, const char *path, struct ts_cu *t, char *err, size_t errsize) {
    ts_cu_gpa_v2 gpa2 = NULL;
    ts_cu_gpa_v1 gpa1 = NULL;
    void *sym = dlsym(lib, "cuGetProcAddress_v2"); /* CUDA 12.0 and later */
    if (sym) memcpy(&gpa2, &sym, sizeof gpa2);
    else if ((sym = dlsym(lib, "cuGetProcAddress")) != NULL) memcpy(&gpa1, &sym, sizeof gpa1);
    if (!sym) {
        snprintf(err, errsize,
                 TS_CU_NO_DRIVER "%s has no cuGetProcAddress: it is not a CUDA driver, or one older "
                                 "than CUDA 11.3",
                 path);
        return 1;
    }
    for (size_t i = 0; i < sizeof ts_cu_entries / sizeof *ts_cu_entries; i++) {
        void *fn = NULL;
        CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SUCCESS;
        CUresult r = gpa2 ? gpa2(ts_cu_entries[i].name, &fn, ts_cu_entries[i].version,
                                 CU_GET_PROC_ADDRESS_DEFAULT, &found)
                          : gpa1(ts_cu_entries[i].name, &fn, ts_cu_entries[i].version,
                                 CU_GET_PROC_ADDRESS_DEFAULT);
        if (r == CUDA_ERROR_STUB_LIBRARY) return ts_cu_stub_message(path, err, errsize);
        bool missing = r != CUDA_SUCCESS || !fn || found != CU_GET_PROC_ADDRESS_SUCCESS;
        if (missing && ts_cu_entries[i].optional) continue; /* t was zeroed: the field stays NULL */
        if (missing) {
            snprintf(err, errsize,
                     TS_CU_NO_DRIVER "%s lacks %s (CUDA %d.%d ABI; error %d): the driver is too old "
                                     "for tessera (it needs CUDA 12.0 or newer)",
                     path, ts_cu_entries[i].name, ts_cu_entries[i].version / 1000,
                     ts_cu_entries[i].version % 1000 / 10, (int)r);
            return 1;
        }
        memcpy((char *)t + ts_cu_entries[i].offset, &fn, sizeof fn);
    }
    return 0;
}

const struct ts_cu *ts_cu_driver(char *err, size_t errsize) {
    pthread_mutex_lock(&ts_cu_lock);
    if (ts_cu_loaded) {
        pthread_mutex_unlock(&ts_cu_lock);
        return &ts_cu_table;
    }
    const char *env = getenv("TESSERA_LIBCUDA");
    const char *path = env && env[0] ? env : "libcuda.so.1";
    int rc = 1;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    struct ts_cu t;
    memset(&t, 0, sizeof t);
    if (!lib) {
        snprintf(err, errsize, TS_CU_NO_DRIVER "cannot load %s%s: %s", path,
                 env && env[0] ? " ($TESSERA_LIBCUDA)" : "", ts_cu_dlerror_reason(path));
    } else if (ts_cu_resolve(lib, path, &t, err, errsize) == 0) {
        CUresult r = t.Init(0);
        if (r == CUDA_SUCCESS) rc = 0;
        else if (r == CUDA_ERROR_STUB_LIBRARY) ts_cu_stub_message(path, err, errsize);
        else if (r == CUDA_ERROR_NO_DEVICE) snprintf(err, errsize, "no CUDA device: the driver (%s) sees no GPU", path);
        else ts_cu_fail(&t, r, err, errsize, TS_CU_NO_DRIVER "cuInit failed (%s)", path);
    }
    if (rc == 0) {
        ts_cu_table = t;
        ts_cu_loaded = true;
    } else if (lib) {
        dlclose(lib);
    }
    pthread_mutex_unlock(&ts_cu_lock);
    return rc == 0 ? &ts_cu_table : NULL;
}

int ts_rt_cuda_keep_context(int ordinal, char *err, size_t errsize) {
    struct ts_rt_cuda_info info;
    if (ts_rt_cuda_probe(ordinal, &info, err, errsize)) return 1;
    const struct ts_cu *cu = ts_cu_driver(err, errsize); /* loaded by the probe */
    CUdevice dev;
    CUcontext ctx;
    CUresult r = cu->DeviceGet(&dev, ordinal);
    if (r == CUDA_SUCCESS) r = cu->DevicePrimaryCtxRetain(&ctx, dev); /* never released */
    if (r != CUDA_SUCCESS)
        return ts_cu_fail(cu, r, err, errsize, "CUDA device %d (%s): retaining its primary context", ordinal,
                          info.name);
    return 0;
}

bool ts_rt_cuda_driver_loaded(void) {
    pthread_mutex_lock(&ts_cu_lock);
    bool loaded = ts_cu_loaded;
    pthread_mutex_unlock(&ts_cu_lock);
    return loaded;
}

/* ---- sorting failures (ts_rt_cuda_last_fault) ------------------------------ */

static _Thread_local enum ts_rt_cuda_fault ts_cu_fault;

enum ts_rt_cuda_fault ts_rt_cuda_last_fault(void) { return ts_cu_fault; }
void ts_cu_fault_set(enum ts_rt_cuda_fault f) { ts_cu_fault = f; }

int ts_cu_fault_done(int rc) {
    if (rc == 0) ts_cu_fault = TS_RT_CUDA_FAULT_NONE;
    else if (ts_cu_fault == TS_RT_CUDA_FAULT_NONE) ts_cu_fault = TS_RT_CUDA_FAULT_OTHER;
    return rc;
}

/* The driver's documentation says which errors leave "the process in an
 * inconsistent state" where "any further CUDA work will return the same
 * error" (the sticky ones), and which refuse code or a launch for what it
 * asks of the GPU. */
enum ts_rt_cuda_fault ts_cu_fault_of(CUresult r) {
    switch (r) {
    case CUDA_SUCCESS: return TS_RT_CUDA_FAULT_NONE;
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_CONTEXT_IS_DESTROYED:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_NVLINK_UNCORRECTABLE:
    case CUDA_ERROR_CONTAINED:
    case CUDA_ERROR_TENSOR_MEMORY_LEAK:
    case CUDA_ERROR_NOT_INITIALIZED:
    case CUDA_ERROR_DEINITIALIZED:
    case CUDA_ERROR_UNKNOWN: return TS_RT_CUDA_FAULT_LOST;
    case CUDA_ERROR_OUT_OF_MEMORY:
    case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
    case CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE:
    case CUDA_ERROR_INVALID_IMAGE:
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
    case CUDA_ERROR_INVALID_PTX:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    case CUDA_ERROR_JIT_COMPILER_NOT_FOUND:
    case CUDA_ERROR_INVALID_CLUSTER_SIZE: return TS_RT_CUDA_FAULT_RESOURCES;
    default: return TS_RT_CUDA_FAULT_OTHER;
    }
}

int ts_cu_fail(const struct ts_cu *cu, CUresult r, char *err, size_t errsize, const char *fmt, ...) {
    /* The first failure of a call decides its kind (a later one may be the
     * cleanup's), except that a lost context is always said. */
    enum ts_rt_cuda_fault f = ts_cu_fault_of(r);
    if (ts_cu_fault == TS_RT_CUDA_FAULT_NONE || f == TS_RT_CUDA_FAULT_LOST) ts_cu_fault = f;
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *name = NULL, *text = NULL;
    if (cu && cu->GetErrorName && cu->GetErrorName(r, &name) != CUDA_SUCCESS) name = NULL;
    if (cu && cu->GetErrorString && cu->GetErrorString(r, &text) != CUDA_SUCCESS) text = NULL;
    if (name && text) snprintf(err, errsize, "%s: %s (%s)", what, name, text);
    else if (name) snprintf(err, errsize, "%s: %s", what, name);
    else snprintf(err, errsize, "%s: CUDA error %d", what, (int)r);
    return 1;
}

int ts_rt_cuda_probe(int ordinal, struct ts_rt_cuda_info *out, char *err, size_t errsize) {
    memset(out, 0, sizeof *out);
    const struct ts_cu *cu = ts_cu_driver(err, errsize);
    if (!cu) return 1;
    int count = 0;
    CUresult r = cu->DeviceGetCount(&count);
    if (r != CUDA_SUCCESS) return ts_cu_fail(cu, r, err, errsize, "no CUDA device: cuDeviceGetCount");
    if (count == 0) {
        snprintf(err, errsize, "no CUDA device: the driver sees no GPU");
        return 1;
    }
    if (ordinal < 0 || ordinal >= count) {
        snprintf(err, errsize, "no CUDA device %d: the driver sees %d GPU%s (0 to %d)", ordinal, count,
                 count == 1 ? "" : "s", count - 1);
        return 1;
    }
    CUdevice dev;
    if ((r = cu->DeviceGet(&dev, ordinal)) != CUDA_SUCCESS)
        return ts_cu_fail(cu, r, err, errsize, "CUDA device %d: cuDeviceGet", ordinal);
    out->ordinal = ordinal;
    if ((r = cu->DeviceGetName(out->name, (int)sizeof out->name, dev)) != CUDA_SUCCESS)
        return ts_cu_fail(cu, r, err, errsize, "CUDA device %d: cuDeviceGetName", ordinal);
    out->name[sizeof out->name - 1] = '\0';
    const struct {
        CUdevice_attribute attr;
        int *value;
    } attrs[] = {
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &out->cc_major},
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &out->cc_minor},
        {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &out->sm_count},
        {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &out->max_shared_optin},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++)
        if ((r = cu->DeviceGetAttribute(attrs[i].value, attrs[i].attr, dev)) != CUDA_SUCCESS)
            return ts_cu_fail(cu, r, err, errsize, "CUDA device %d: cuDeviceGetAttribute(%d)", ordinal,
                              (int)attrs[i].attr);
    size_t total = 0;
    if ((r = cu->DeviceTotalMem(&total, dev)) != CUDA_SUCCESS)
        return ts_cu_fail(cu, r, err, errsize, "CUDA device %d: cuDeviceTotalMem", ordinal);
    out->total_bytes = (int64_t)total;
    if ((r = cu->DriverGetVersion(&out->driver_version)) != CUDA_SUCCESS)
        return ts_cu_fail(cu, r, err, errsize, "cuDriverGetVersion");
    /* Hopper's arch-specific instructions (wgmma) need the "a" target, and a
     * 9.0 cubin runs only on 9.0 anyway. */
    snprintf(out->arch, sizeof out->arch, "sm_%d%d%s", out->cc_major, out->cc_minor,
             out->cc_major == 9 && out->cc_minor == 0 ? "a" : "");
    return 0;
}
