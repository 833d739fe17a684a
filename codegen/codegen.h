/* codegen.h — the one public header of codegen/: kernel emitters for the CPU
 * (llvm/: LLVM IR through the LLVM C API, optimized at O3, JIT-compiled or
 * written as an object file) and the GPU (cuda/: CUDA C through NVRTC, issue
 * #4). Emitters read the kernel IR of ir.h; nothing here runs a kernel. */
#ifndef TESSERA_CODEGEN_H
#define TESSERA_CODEGEN_H

#include "ir/ir.h"

/* Targets a graph can be compiled for. */
enum ts_target {
    TS_TARGET_REF,  /* the reference interpreter (no code generation) */
    TS_TARGET_CPU,  /* LLVM-generated CPU kernels */
    TS_TARGET_CUDA, /* NVRTC-generated CUDA kernels */
    TS_TARGET_COUNT
};

const char *ts_target_name(enum ts_target t);
bool ts_target_from_name(const char *name, enum ts_target *out);
/* TS_OK if this build can generate code for t; otherwise TS_ERR_UNSUPPORTED
 * with a one-line reason in d. */
enum ts_status ts_codegen_check_target(enum ts_target t, struct ts_diag *d);

/* ---- llvm/cpu.c: the CPU to generate code for --------------------------- */

struct ts_cpu_info {
    char triple[96];     /* "x86_64-pc-linux-gnu" */
    char name[64];       /* LLVM CPU name: "znver3", "x86-64-v3" */
    char features[2048]; /* LLVM feature string: "+avx2,+fma,…" ("" for a named level) */
    int vector_bits;     /* widest vector register: 128, 256 or 512 */
    int vector_width;    /* f32 lanes: vector_bits / 32 */
    bool fma;            /* fused multiply-add available */
};

/* cpu: NULL or "native" detects the host; "portable" means x86-64-v3 (AVX2 +
 * FMA, what the CI machine class has); any other string is taken as an LLVM
 * CPU name and checked against the target. */
enum ts_status ts_cpu_info_init(const char *cpu, struct ts_cpu_info *out, struct ts_diag *d);

/* ---- llvm/module.c, jit.c, object.c: compiling a program ---------------- */

struct ts_cpu_opts {
    const char *cpu;     /* as for ts_cpu_info_init */
    int opt_level;       /* 0 or 3 (default 3: LLVMRunPasses "default<O3>") */
    FILE *dump_ir;       /* print the optimized module here, or NULL */
};

/* A program's kernels compiled into one LLVM module for one CPU. Kernels with
 * identical code (same kind, index maps, expression and schedule) share one
 * function, which keeps repeated transformer layers cheap to compile. */
struct ts_cpu_code;
enum ts_status ts_cpu_codegen(const struct ts_program *p, const struct ts_cpu_opts *o,
                              struct ts_cpu_code **out, struct ts_diag *d);
const struct ts_cpu_info *ts_cpu_code_info(const struct ts_cpu_code *c);
/* The symbol of kernel i's function (shared by identical kernels). */
const char *ts_cpu_code_symbol(const struct ts_cpu_code *c, int kernel);
int ts_cpu_code_nfunctions(const struct ts_cpu_code *c);  /* distinct functions */
/* JIT-compiles the module through ORC LLJIT (once; the module is consumed) and
 * writes each kernel's address (ts_rt_kernel_fn ABI of runtime.h) to fns[i]. */
enum ts_status ts_cpu_code_jit(struct ts_cpu_code *c, void **fns, struct ts_diag *d);
/* Writes the module as a relocatable, position-independent ELF object. */
enum ts_status ts_cpu_code_write_object(struct ts_cpu_code *c, const char *path, struct ts_diag *d);
/* Frees the module or the JIT and with it the compiled code. */
void ts_cpu_code_free(struct ts_cpu_code *c);

/* ---- cuda/: CUDA C through NVRTC ----------------------------------------- */

/* A GPU architecture to compile for: sm_80 and up. "sm_90a" is sm_90 with
 * Hopper's arch-specific instructions (wgmma, setmaxnreg) allowed; its cubin
 * runs only on compute capability 9.0. */
struct ts_cuda_arch {
    int sm;             /* 80, 86, 89, 90, 100, 120 … (major·10 + minor) */
    bool specific;      /* the "a" suffix */
    char name[16];      /* "sm_90a": as given to NVRTC's --gpu-architecture */
};
/* Parses "sm_80", "sm_90a", "90", "9.0" … ; TS_ERR_USAGE naming the string and
 * the supported range otherwise. */
enum ts_status ts_cuda_arch_parse(const char *s, struct ts_cuda_arch *out, struct ts_diag *d);
/* The arch used when none is given and no GPU says otherwise. */
#define TS_CUDA_DEFAULT_ARCH "sm_90a"

/* Whether the sm_90a templates of issue #8 (TMA + wgmma, codegen/cuda/hopper_*.c)
 * may be chosen: TESSERA_HOPPER=1 in the environment. Off by default until
 * they have been checked on a GPU; with it off, a schedule naming instr
 * wgmma is refused (a tuning record made with it on included). */
bool ts_cuda_hopper_enabled(void);

/* Fills the zero 'gpu' fields of k->sched with the default schedule for arch
 * (strict_f32: f32 GEMMs on CUDA cores instead of tf32 tensor cores). */
void ts_cuda_sched_default(struct ts_kernel *k, const struct ts_cuda_arch *arch, bool strict_f32);
/* TS_OK if k's gpu schedule is legal for arch (tile divisibility, warp counts,
 * shared memory within the arch's limit, instruction available for the
 * dtypes, alignment the chosen loads need); else TS_ERR_UNSUPPORTED naming the
 * kernel and the broken rule. The autotuner rejects candidates with it. */
enum ts_status ts_cuda_sched_check(const struct ts_kernel *k, const struct ts_cuda_arch *arch,
                                   struct ts_diag *d);

/* How the runtime launches kernel i: grid and block dims, dynamic shared
 * memory, and a device workspace (split-K partial sums and tile counters; the
 * runtime zeroes it once, the kernel leaves it zeroed again). */
struct ts_cuda_tmap {     /* as runtime.h's struct ts_rt_tmap, field for field */
    int32_t arg, dtype, rank, swizzle; /* dtype: 1 f16, 2 bf16, 3 f32; swizzle in bytes */
    int64_t offset;
    uint64_t dims[3], strides[2];
    uint32_t box[3];
};
#define TS_CUDA_MAX_TMAPS 3
struct ts_cuda_launch {
    uint32_t grid[3], block[3];
    uint32_t shared_bytes;
    int64_t workspace_bytes;
    /* sm_90 templates (issue #8): TMA tensor maps the runtime encodes over
     * operand buffers and passes first, by value; persistent: grid[0] is
     * the tile count, lowered by the runtime to the GPU's SM count. */
    struct ts_cuda_tmap tmaps[TS_CUDA_MAX_TMAPS];
    int ntmaps;
    bool persistent;
};

struct ts_cuda_opts {
    const char *arch;        /* NULL: TS_CUDA_DEFAULT_ARCH (callers pass the GPU's own when one is present) */
    bool strict_f32;         /* f32 GEMM and attention without tf32 */
    bool no_cache;           /* neither read nor write the compile cache */
    const char *cache_dir;   /* NULL: $TESSERA_CACHE_DIR, else $XDG_CACHE_HOME/tessera,
                                else ~/.cache/tessera (unwritable: no caching, no error) */
    bool ptxas_verbose;      /* keep ptxas's -v report (registers, spills) in the log */
    FILE *dump_source;       /* print the CUDA C here, or NULL */
};

/* A program's kernels rendered as one CUDA C translation unit. Kernels with
 * identical code share one __global__ function, as on the CPU.
 *
 * Kernel ABI: extern "C" __global__ void SYM([maps,] T0 *in0, …, Tn *out, void *workspace, int *error)
 * (maps: the launch's tensor maps, const __grid_constant__ CUtensorMap each)
 * with one typed pointer per operand buffer (inputs in order, then the output;
 * f16/bf16 as unsigned short), the launch's workspace (NULL when it has none)
 * and a device int the kernel sets with atomicCAS(error, 0, e) for its error e
 * (an index out of range, a zero divisor). */
struct ts_cuda_code;
enum ts_status ts_cuda_codegen(const struct ts_program *p, const struct ts_cuda_opts *o,
                               struct ts_cuda_code **out, struct ts_diag *d);
const struct ts_cuda_arch *ts_cuda_code_arch(const struct ts_cuda_code *c);
const char *ts_cuda_code_source(const struct ts_cuda_code *c);
const char *ts_cuda_code_symbol(const struct ts_cuda_code *c, int kernel);
int ts_cuda_code_nfunctions(const struct ts_cuda_code *c);
void ts_cuda_code_launch(const struct ts_cuda_code *c, int kernel, struct ts_cuda_launch *out);
/* The kernel schedule codegen used (defaults filled in). */
const struct ts_kernel *ts_cuda_code_kernel(const struct ts_cuda_code *c, int kernel);

/* Compiles the source with NVRTC (loaded with dlopen: no link-time
 * dependency) to PTX and, for the arch, cubin; consults and fills the compile
 * cache keyed by a hash of source, arch, options and NVRTC version. A failure
 * is TS_ERR_UNSUPPORTED carrying the first kernel NVRTC names and its log
 * (the full log stays in ts_cuda_code_log). */
enum ts_status ts_cuda_code_compile(struct ts_cuda_code *c, struct ts_diag *d);
const char *ts_cuda_code_ptx(const struct ts_cuda_code *c, size_t *size);      /* NUL-terminated */
const void *ts_cuda_code_cubin(const struct ts_cuda_code *c, size_t *size);
const char *ts_cuda_code_log(const struct ts_cuda_code *c);  /* NVRTC + ptxas report ("" if none) */
bool ts_cuda_code_cache_hit(const struct ts_cuda_code *c);
double ts_cuda_code_compile_seconds(const struct ts_cuda_code *c);
void ts_cuda_code_free(struct ts_cuda_code *c);

/* ---- cuda/nvrtc.c: the compiler itself ----------------------------------- */

/* NVRTC's version, or TS_ERR_UNSUPPORTED saying libnvrtc could not be loaded
 * (and where it was looked for). */
enum ts_status ts_nvrtc_version(int *major, int *minor, struct ts_diag *d);

/* One NVRTC compile of a whole source: PTX always, cubin when want_cubin
 * (then for sm_XX, with a ptxas report in the log when opts ask for -v;
 * without, for compute_XX and no ptxas). Options beyond the arch (e.g.
 * "-Xptxas=-v") in opts. The results are malloc'd; log holds NVRTC's and
 * ptxas's messages on success and on failure: free with
 * ts_nvrtc_result_free either way. */
struct ts_nvrtc_result {
    char *ptx;
    size_t ptx_size;   /* without the terminating NUL the text still has */
    void *cubin;
    size_t cubin_size;
    char *log;
};
enum ts_status ts_nvrtc_compile(const char *source, const char *name, const struct ts_cuda_arch *arch,
                                const char *const *opts, int nopts, bool want_cubin,
                                struct ts_nvrtc_result *out, struct ts_diag *d);
void ts_nvrtc_result_free(struct ts_nvrtc_result *r);

/* From a ptxas -v report: registers and spill bytes (stores + loads) of
 * function 'symbol'; false if the report does not name it. */
bool ts_ptxas_report(const char *log, const char *symbol, int *registers, int64_t *spill_bytes,
                     int64_t *stack_bytes);

#endif
