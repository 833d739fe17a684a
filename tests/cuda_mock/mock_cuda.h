/* mock_cuda.h — the test-side interface of the mock CUDA driver
 * (mock_libcuda.c, built as a shared library that tests hand to the runtime
 * through $TESSERA_LIBCUDA). The mock keeps "device memory" in host memory,
 * runs graph launches by calling host functions registered per kernel name,
 * and records every call so that tests can check the runtime's control flow
 * without a GPU. Tests dlopen the same file and look these functions up. */
#ifndef TESSERA_MOCK_CUDA_H
#define TESSERA_MOCK_CUDA_H

#include <stddef.h>
#include <stdint.h>

#define MOCK_MAX 256

struct mock_config {
    char name[64];            /* cuDeviceGetName */
    int ndevices;             /* cuDeviceGetCount */
    int cc_major, cc_minor;
    int sm_count;
    int max_shared_optin;     /* bytes */
    int driver_version;       /* 13000 */
    size_t total_bytes;
    int init_result;          /* what cuInit returns (0: success) */
    const char *missing_symbol; /* cuGetProcAddress does not find it (NULL: none) */
    int fail_ptx;             /* JIT compilation fails with a log */
    int fail_tmaps;           /* cuTensorMapEncodeTiled returns CUDA_ERROR_INVALID_VALUE */
};

/* The geometry and parameters of one kernel node. */
struct mock_node {
    char func[64];
    unsigned grid[3], block[3], shared;
    int nparams;              /* as registered for the function (0 if not) */
    uint64_t params[16];      /* each parameter's first 8 bytes: a device pointer's value, or for a tensor
                               * map (passed by value) its word 0, MOCK_TMAP_MAGIC | its index in tmaps */
    int ndeps;
    int dep;                  /* index of the node it depends on, -1 if none */
};

/* One cuTensorMapEncodeTiled call, as passed (enums as their cuda.h values).
 * The encoded map's word 0 is MOCK_TMAP_MAGIC | the call's index in
 * mock_state.tmaps, word 1 the address, the rest zero. */
#define MOCK_TMAP_MAGIC 0x544d415000000000ull /* "TMAP" */
struct mock_tmap {
    uint64_t addr;
    int dtype, rank, interleave, swizzle, l2, oob;
    uint64_t dims[5], strides[4];
    uint32_t box[5], estrides[5];
};

struct mock_copy {
    uint64_t dst_offset;      /* from the allocation's base */
    size_t bytes;
    int value;                /* memsets: the byte */
};

struct mock_state {
    int init_calls;
    int ctx_retains, ctx_releases, ctx_depth, ctx_pushes, ctx_pops;
    int no_context_calls;     /* calls that needed a current context and had none */
    int module_loads, module_loads_ptx, module_load_failures, module_unloads;
    int allocs, frees;
    uint64_t alloc_base;      /* the last allocation */
    size_t alloc_bytes;
    int live_allocs;
    int htod, dtoh, memsets;
    struct mock_copy htod_log[MOCK_MAX], memset_log[MOCK_MAX];
    struct mock_attr {
        char func[64];
        int attr, value;
    } attrs[MOCK_MAX];
    int nattrs;
    int graph_creates, graph_destroys, instantiates, exec_destroys, graph_launches;
    struct mock_node nodes[MOCK_MAX]; /* of the last graph built */
    int nnodes;
    int kernel_runs;          /* registered kernel functions called */
    int streams, stream_destroys, events, event_destroys;
    int proc_lookups;         /* cuGetProcAddress calls */
    int min_version_asked;    /* smallest cudaVersion passed to cuGetProcAddress */
    struct mock_tmap tmaps[MOCK_MAX]; /* cuTensorMapEncodeTiled calls (no context needed, as in the driver) */
    int ntmaps;
};

/* A kernel's host implementation: args[i] is parameter i's value (a device
 * pointer, which here is a host address); g is its node. */
typedef void (*mock_kernel_fn)(void **args, const struct mock_node *g);

/* Clears the state and every registered kernel, and sets the device (NULL:
 * one "Mock GPU" of compute capability 9.0 with 132 SMs, 227 KiB opt-in). */
void mock_cuda_reset(const struct mock_config *c);
struct mock_state *mock_cuda_state(void);
/* A function named 'name' exists in a loaded module when the image's bytes
 * contain the name; registering gives it nparams parameters and a body. */
void mock_cuda_register(const char *name, int nparams, mock_kernel_fn fn);
/* The image (cubin or PTX) of the module loaded last and not yet unloaded,
 * NULL if none: whose code a kernel body is asked to run. */
const void *mock_cuda_last_module_image(size_t *size);
/* Graph launches of a kernel node whose blockDim.x is block_x return the
 * CUresult 'result' (0: none fail); a sticky one (an illegal address, a
 * launch failure) makes every later call return it, as the driver does,
 * until this is called again. */
void mock_cuda_fail_launches(unsigned block_x, int result);

#endif
