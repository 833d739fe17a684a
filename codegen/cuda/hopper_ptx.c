/* hopper_ptx.c — the device helpers both sm_90a templates (hopper_gemm.c,
 * hopper_attention.c) put at the top of their translation unit: one wrapper
 * apiece around the PTX of mbarriers, shared-memory addresses, the 128B
 * swizzled wgmma descriptor and the wgmma fence/commit/wait. Only what both
 * kernels call lives here: NVRTC warns about an unused static function, and
 * the tests require a clean log. And the last step both generators share. */
#include <string.h>

#include "internal.h"

const char tsc_hopper_ptx_helpers[] =
    "#ifndef TSH_PTX_HELPERS /* once in a translation unit of several kernels */\n"
    "#define TSH_PTX_HELPERS\n"
    "typedef unsigned int tsh_u32;\n"
    "typedef unsigned long long tsh_u64;\n"
    "/* CUtensorMap as cuda.h declares it (NVRTC has no cuda.h): the driver's\n"
    " * cuTensorMapEncodeTiled fills it, the kernel takes it by value. */\n"
    "struct __align__(128) TsTensorMap { tsh_u64 opaque[16]; };\n"
    "\n"
    "static __device__ __forceinline__ tsh_u32 tsh_smem(const void *p) {\n"
    "    return (tsh_u32)__cvta_generic_to_shared(p);\n"
    "}\n"
    "static __device__ __forceinline__ void tsh_mbar_init(tsh_u32 bar, tsh_u32 count) {\n"
    "    asm volatile(\"mbarrier.init.shared::cta.b64 [%0], %1;\" ::\"r\"(bar), \"r\"(count) : \"memory\");\n"
    "}\n"
    "static __device__ __forceinline__ void tsh_mbar_expect_tx(tsh_u32 bar, tsh_u32 bytes) {\n"
    "    asm volatile(\"mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\" ::\"r\"(bar), \"r\"(bytes)\n"
    "                 : \"memory\");\n"
    "}\n"
    "static __device__ __forceinline__ void tsh_mbar_arrive(tsh_u32 bar) {\n"
    "    asm volatile(\"mbarrier.arrive.shared::cta.b64 _, [%0];\" ::\"r\"(bar) : \"memory\");\n"
    "}\n"
    "/* Waits until the phase of the given parity has completed (a fresh\n"
    " * barrier counts the phase before its first, parity 1, as completed). */\n"
    "static __device__ __forceinline__ void tsh_mbar_wait(tsh_u32 bar, tsh_u32 parity) {\n"
    "    tsh_u32 done = 0;\n"
    "    while (!done)\n"
    "        asm volatile(\"{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\"\n"
    "                     \" selp.u32 %0, 1, 0, p; }\"\n"
    "                     : \"=r\"(done) : \"r\"(bar), \"r\"(parity) : \"memory\");\n"
    "}\n"
    "/* wgmma shared-memory descriptor of a K-major, 128B-swizzled tile whose\n"
    " * rows are 128 bytes: start address, leading offset 16 B (unused when\n"
    " * swizzled), stride 1024 B between 8-row groups, swizzle mode 1 (128B). */\n"
    "static __device__ __forceinline__ tsh_u64 tsh_desc(tsh_u32 addr) {\n"
    "    return (tsh_u64)((addr & 0x3FFFF) >> 4) | ((tsh_u64)1 << 16) | ((tsh_u64)64 << 32) |\n"
    "           ((tsh_u64)1 << 62);\n"
    "}\n"
    "static __device__ __forceinline__ void tsh_wgmma_fence(void) {\n"
    "    asm volatile(\"wgmma.fence.sync.aligned;\" ::: \"memory\");\n"
    "}\n"
    "static __device__ __forceinline__ void tsh_wgmma_commit(void) {\n"
    "    asm volatile(\"wgmma.commit_group.sync.aligned;\" ::: \"memory\");\n"
    "}\n"
    "static __device__ __forceinline__ void tsh_wgmma_wait0(void) {\n"
    "    asm volatile(\"wgmma.wait_group.sync.aligned 0;\" ::: \"memory\");\n"
    "}\n"
    "/* Keeps the compiler from moving accumulator reads or writes across the\n"
    " * asynchronous region (the wgmma asm says '+f' but writes them later). */\n"
    "static __device__ __forceinline__ void tsh_fence_reg(float &r) { asm volatile(\"\" : \"+f\"(r)::\"memory\"); }\n"
    "#endif\n";

enum ts_status tsc_hopper_finish(struct tsc_src *s, const char *name, const char *what, int threads,
                                 int64_t shared_bytes, char **out, struct ts_cuda_launch *launch, struct ts_diag *d) {
    if (s->oom) {
        tsc_src_free(s);
        return ts_diag_set(d, TS_ERR_NOMEM, "", name, "out of memory writing the sm_90a %s source", what);
    }
    *out = s->data;
    if (launch) {
        memset(launch, 0, sizeof *launch);
        launch->block[0] = (uint32_t)threads;
        launch->block[1] = launch->block[2] = 1;
        launch->shared_bytes = (uint32_t)shared_bytes;
    }
    return TS_OK;
}
