/* internal.h — private to runtime/cuda/: the CUDA driver's entry points as
 * resolved at run time (driver.c) and the one-line messages made from a
 * CUresult. The only place in tessera that includes cuda.h; nothing links
 * against libcuda: driver.c loads it with dlopen. */
#ifndef TESSERA_RUNTIME_CUDA_INTERNAL_H
#define TESSERA_RUNTIME_CUDA_INTERNAL_H

#include <cuda.h>
#include <stdarg.h>

#include "runtime/runtime.h"

/* The driver functions tessera uses, each with the signature of the ABI
 * version it is resolved for (cudaTypedefs.h's PFN_<name>_v<version>; the
 * version is in driver.c's table). */
struct ts_cu {
    CUresult (*Init)(unsigned int flags);
    CUresult (*DriverGetVersion)(int *version);
    CUresult (*GetErrorName)(CUresult r, const char **s);
    CUresult (*GetErrorString)(CUresult r, const char **s);
    CUresult (*DeviceGetCount)(int *count);
    CUresult (*DeviceGet)(CUdevice *dev, int ordinal);
    CUresult (*DeviceGetName)(char *name, int len, CUdevice dev);
    CUresult (*DeviceGetAttribute)(int *value, CUdevice_attribute attr, CUdevice dev);
    CUresult (*DeviceTotalMem)(size_t *bytes, CUdevice dev);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev);
    CUresult (*DevicePrimaryCtxRelease)(CUdevice dev);
    CUresult (*CtxPushCurrent)(CUcontext ctx);
    CUresult (*CtxPopCurrent)(CUcontext *ctx);
    CUresult (*ModuleLoadDataEx)(CUmodule *mod, const void *image, unsigned int n, CUjit_option *opts,
                                 void **values);
    CUresult (*ModuleUnload)(CUmodule mod);
    CUresult (*ModuleGetFunction)(CUfunction *fn, CUmodule mod, const char *name);
    CUresult (*FuncSetAttribute)(CUfunction fn, CUfunction_attribute attr, int value);
    CUresult (*MemAlloc)(CUdeviceptr *ptr, size_t bytes);
    CUresult (*MemFree)(CUdeviceptr ptr);
    CUresult (*MemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream);
    CUresult (*MemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream stream);
    CUresult (*MemsetD8Async)(CUdeviceptr dst, unsigned char value, size_t n, CUstream stream);
    CUresult (*StreamCreate)(CUstream *stream, unsigned int flags);
    CUresult (*StreamDestroy)(CUstream stream);
    CUresult (*StreamSynchronize)(CUstream stream);
    CUresult (*GraphCreate)(CUgraph *graph, unsigned int flags);
    CUresult (*GraphAddKernelNode)(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps,
                                   const CUDA_KERNEL_NODE_PARAMS *params);
    CUresult (*GraphInstantiateWithFlags)(CUgraphExec *exec, CUgraph graph, unsigned long long flags);
    CUresult (*GraphLaunch)(CUgraphExec exec, CUstream stream);
    CUresult (*GraphExecDestroy)(CUgraphExec exec);
    CUresult (*GraphDestroy)(CUgraph graph);
    CUresult (*EventCreate)(CUevent *event, unsigned int flags);
    CUresult (*EventRecord)(CUevent event, CUstream stream);
    CUresult (*EventSynchronize)(CUevent event);
    CUresult (*EventElapsedTime)(float *ms, CUevent start, CUevent end);
    CUresult (*EventDestroy)(CUevent event);
    /* Optional (NULL when the driver lacks it): only plans whose launches
     * carry TMA tensor maps (sm_90 kernels) need it. */
    CUresult (*TensorMapEncodeTiled)(CUtensorMap *map, CUtensorMapDataType dtype, cuuint32_t rank, void *address,
                                     const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *box,
                                     const cuuint32_t *element_strides, CUtensorMapInterleave interleave,
                                     CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2,
                                     CUtensorMapFloatOOBfill oob);
};

/* The driver, loaded and initialized (cuInit) on first use; NULL with the
 * one-line reason in err when there is no usable driver. A failed load is
 * not remembered, so that a later call (another $TESSERA_LIBCUDA) retries;
 * a loaded driver stays loaded for the life of the process. */
const struct ts_cu *ts_cu_driver(char *err, size_t errsize);

/* Writes "WHAT: CUDA_ERROR_NAME (the driver's description)" into err and
 * returns 1; WHAT is printf-formatted. */
int ts_cu_fail(const struct ts_cu *cu, CUresult r, char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ts_rt_cuda_last_fault's record (driver.c; one per thread): ts_cu_fail
 * sorts its CUresult there (ts_cu_fault_of); the session's own checks set
 * theirs; each public session call starts with ts_cu_fault_set(NONE) and
 * ends with ts_cu_fault_done(rc), which makes an unsorted failure OTHER. */
void ts_cu_fault_set(enum ts_rt_cuda_fault f);
int ts_cu_fault_done(int rc);
enum ts_rt_cuda_fault ts_cu_fault_of(CUresult r);

/* ---- session.c, run.c: a plan on the GPU ---------------------------------- */

#define TS_CU_ALIGN 256                     /* every piece of the one allocation */
#define TS_CU_STATIC_SHARED_LIMIT (48 * 1024) /* more dynamic shared memory needs an opt-in */

struct ts_rt_cuda_session {
    const struct ts_cu *cu;
    const struct ts_rt_plan *plan;
    struct ts_rt_cuda_info info;
    CUdevice dev;
    CUcontext ctx;           /* the device's primary context, retained */
    bool retained;
    CUmodule module;
    bool used_ptx;           /* the cubin did not fit: the PTX was JIT-compiled */
    CUfunction *funcs;       /* per plan kernel (shared by kernels with one symbol) */
    CUstream stream;
    CUevent start, end;      /* for ts_rt_cuda_session_time */
    CUgraph graph;
    CUgraphExec exec;
    /* The one allocation and where each piece lies in it (byte offsets). */
    CUdeviceptr base;
    int64_t total_bytes;
    int64_t *weight_off, *const_off, *in_off, *out_off;
    int64_t *work_off;       /* per launch; -1 when it has no workspace */
    int64_t work_begin, work_end;
    int64_t errors_off;      /* one int32 error word per launch */
    int32_t *host_errors;    /* their copy after a run */
    CUdeviceptr *param_values; /* every launch's kernel parameters, one after another */
    void **param_ptrs;       /* what cuGraphAddKernelNode's kernelParams point to */
    CUtensorMap *tmaps;      /* every launch's tensor maps, encoded once (aligned as cuda.h asks) */
    /* ts_rt_cuda_session_time_each's L2 flush buffer (0 until first used). */
    CUdeviceptr flush;
    size_t flush_bytes;
};

/* "'name'" for plan kernel k, or "#k" when the plan carries no name. */
const char *ts_cu_kernel_label(const struct ts_rt_plan *plan, int k, char *buf, size_t size);

#endif
