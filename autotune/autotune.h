/* autotune.h — the one public header of autotune/: search spaces, search
 * strategies, measurement and the tuning database (issue #5), and what
 * measurement stands on: turning a kernel program into a runtime plan and
 * running it compiled for the CPU. */
#ifndef TESSERA_AUTOTUNE_H
#define TESSERA_AUTOTUNE_H

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "runtime/runtime.h"

/* TS_ERR_UNSUPPORTED with the reason, until the tuner exists. */
enum ts_status ts_autotune_check_available(struct ts_diag *d);

/* ---- plan.c: kernel program → runtime plan ------------------------------ */

/* Fills a runtime plan (runtime.h) for a planned program, allocated in the
 * graph's arena: one launch per kernel (kernel i is function i), buffers as
 * the memory plan placed them, weights and constants by index. weights_out
 * (optional) gets the weight data pointers in plan order. */
enum ts_status ts_plan_from_program(const struct ts_program *p, struct ts_rt_plan *plan,
                                    const void ***weights_out, struct ts_diag *d);

/* ---- exec_tensors.c: running an executable on tensors --------------------- */

/* A backend's run on raw buffers in plan order (inputs, then outputs). */
typedef enum ts_status (*ts_exec_raw_fn)(void *ctx, const void *const *inputs, void *const *outputs,
                                         struct ts_diag *d);
/* Checks inputs against g's inputs, allocates outputs (release with
 * ts_tensor_release) and calls run on their data; on failure no output is
 * left allocated. */
enum ts_status ts_exec_run_tensors(const struct ts_graph *g, const struct ts_tensor *inputs,
                                   struct ts_tensor *outputs, ts_exec_raw_fn run, void *ctx,
                                   struct ts_diag *d);

/* ---- exec_cpu.c: a program compiled and bound for the CPU ---------------- */

struct ts_cpu_exec_opts {
    const char *cpu;   /* ts_cpu_info_init's choice: NULL = host */
    int threads;       /* 0: one per core */
    FILE *dump_ir;     /* print the optimized LLVM module, or NULL */
};

/* Compiles the program (LLVM, O3, JIT), builds its plan and a runtime session
 * with its weights used in place. The program must outlive it. */
struct ts_cpu_exec;
enum ts_status ts_cpu_exec_init(const struct ts_program *p, const struct ts_cpu_exec_opts *o,
                                struct ts_cpu_exec **out, struct ts_diag *d);
/* Runs on inputs (checked against the graph's inputs) into outputs it
 * allocates (release with ts_tensor_release), as ts_interp_run does. */
enum ts_status ts_cpu_exec_run(struct ts_cpu_exec *e, const struct ts_tensor *inputs,
                               struct ts_tensor *outputs, struct ts_diag *d);
/* Runs on raw caller buffers in plan order (no checks, no allocation): for timing. */
enum ts_status ts_cpu_exec_run_raw(struct ts_cpu_exec *e, const void *const *inputs,
                                   void *const *outputs, struct ts_diag *d);
double ts_cpu_exec_compile_seconds(const struct ts_cpu_exec *e); /* codegen + JIT */
int ts_cpu_exec_threads(const struct ts_cpu_exec *e);
const struct ts_cpu_code *ts_cpu_exec_code(const struct ts_cpu_exec *e);
void ts_cpu_exec_free(struct ts_cpu_exec *e);

/* ---- exec_cuda.c: a program compiled and bound for the GPU ---------------- */

/* Copies each kernel's CUDA launch geometry (ts_cuda_code_launch) into a plan
 * built by ts_plan_from_program for the same program. */
void ts_plan_set_cuda_launches(struct ts_rt_plan *plan, const struct ts_cuda_code *c);

struct ts_cuda_exec_opts {
    const char *arch;       /* NULL: the GPU's own (ts_rt_cuda_info.arch) */
    int device;             /* CUDA ordinal */
    bool strict_f32;        /* no tf32 */
    const char *cache_dir;  /* ts_cuda_opts' */
    bool no_cache;
    FILE *dump_source;      /* print the CUDA C, or NULL */
};
/* Probes the GPU (a clear error when there is no driver or device), renders
 * and compiles the program for its arch (NVRTC, compile cache), builds the
 * plan and a CUDA session with the weights uploaded once. */
struct ts_cuda_exec;
enum ts_status ts_cuda_exec_init(const struct ts_program *p, const struct ts_cuda_exec_opts *o,
                                 struct ts_cuda_exec **out, struct ts_diag *d);
enum ts_status ts_cuda_exec_run(struct ts_cuda_exec *e, const struct ts_tensor *inputs,
                                struct ts_tensor *outputs, struct ts_diag *d);
/* Times graph replays on the inputs of the last run: the median in ms. */
enum ts_status ts_cuda_exec_time(struct ts_cuda_exec *e, int repeats, double *ms, struct ts_diag *d);
double ts_cuda_exec_compile_seconds(const struct ts_cuda_exec *e);  /* codegen + NVRTC */
const struct ts_cuda_code *ts_cuda_exec_code(const struct ts_cuda_exec *e);
const struct ts_rt_cuda_info *ts_cuda_exec_device(const struct ts_cuda_exec *e);
void ts_cuda_exec_free(struct ts_cuda_exec *e);

#endif
