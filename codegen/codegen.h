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

#endif
