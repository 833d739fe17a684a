/* harness.h — runs tessera's generated CUDA C on the host emulator (emu.h,
 * emu_runtime.cpp), for tests on machines without a GPU.
 *
 * A module is a CUDA C translation unit compiled by the host C++ compiler
 * ($TS_EMU_CXX, else $CXX, else the build's C++ compiler) as
 *     c++ -x c++ -std=c++17 -O1 -DTS_EMULATE -include tests/cuda_emu/emu.h SRC + the emulator runtime
 * into a shared object, cached by a hash of everything that goes in under the
 * build's emu-cache/ ($TS_EMU_CACHE_DIR overrides), then dlopen'ed. Kernels
 * are called through their TS_EMULATE trampolines `extern "C" void SYM_emu(void **params)`
 * with params[i] the i-th kernel argument (pointers by value).
 * In sanitizer builds the module is built with the same sanitizers (and the
 * fibers annotated for ASan), so a kernel's out-of-bounds access to a buffer
 * or to shared memory is reported by ASan with the line of the saved source.
 * $TS_EMU_OPT (default -O1) sets the module's optimization level.
 *
 * What the emulator checks (emu.h, emu_runtime.cpp, emu_warp.cpp): barriers
 * and warp collectives (shuffles, ldmatrix, mma.sync) reached by every thread
 * or lane at the same source line, else a divergence or deadlock error naming
 * who waits where; warp collectives only in full warps; cp.async and ldmatrix
 * alignment, cp.async destinations inside the dynamic shared memory, copies
 * performed only when a wait retires their group; shared memory (dynamic and
 * static) filled with 0xff bytes at each block's start; threads of alternate
 * blocks run in opposite orders, so a missing barrier reads garbage. Not
 * checked: races that happen to read already-written data, register
 * pressure, __launch_bounds__.
 *
 * Whole programs (the usual entry for tests):
 *     struct ts_emu_check c;
 *     ts_emu_check_program(prog, &(struct ts_cuda_opts){0}, inputs, atol, rtol, "gpt", &c);
 *     CHECK(ts_emu_check_ok(&c));
 * Hand-written kernels (tests/cuda_emu/test_emu_primitives.c):
 *     ts_emu_module_build(src, &m, &d); ts_emu_module_launch(m, "kern", params, &launch, &d);
 */
#ifndef TESSERA_TESTS_CUDA_EMU_HARNESS_H
#define TESSERA_TESTS_CUDA_EMU_HARNESS_H

#include "codegen/codegen.h"

/* ---- modules ------------------------------------------------------------------ */

struct ts_emu_module;
/* Compiles (or finds in the cache) and loads source. A compiler error is
 * TS_ERR_UNSUPPORTED carrying the start of the compiler's log and the path of
 * the saved source. */
enum ts_status ts_emu_module_build(const char *source, struct ts_emu_module **out, struct ts_diag *d);
/* The saved source (for messages: emulator errors name its lines). */
const char *ts_emu_module_source_path(const struct ts_emu_module *m);
/* Runs kernel sym (its trampoline sym_emu) on launch's grid, block and
 * dynamic shared memory (workspace_bytes is the caller's business). A misuse
 * the emulator detects (divergent barrier or warp collective, deadlock, bad
 * cp.async or ldmatrix address, non-1-D block) is TS_ERR_RUNTIME naming the
 * kernel, block, thread and source line. */
enum ts_status ts_emu_module_launch(struct ts_emu_module *m, const char *sym, void **params,
                                    const struct ts_cuda_launch *launch, struct ts_diag *d);
void ts_emu_module_free(struct ts_emu_module *m);

/* ---- programs ------------------------------------------------------------------ */

/* Runs a planned program as the CUDA runtime would: ts_cuda_codegen(p, o),
 * one module, buffers laid out like the device session (inputs, outputs,
 * weights and constants each in their own allocation, TEMPs at their planned
 * offsets in one arena filled with garbage bytes, a zeroed workspace per
 * launch that must be zero again afterwards, one error word), every kernel
 * launched in order with its ts_cuda_launch geometry. A raised error is
 * TS_ERR_RUNTIME "kernel 'NAME': message" (k->errors[e-1]), worded as
 * ts_program_run_ref words it.
 * Inputs and outputs as for ts_program_run_ref (outputs allocated here). */
enum ts_status ts_emu_run_program(const struct ts_program *p, const struct ts_cuda_opts *o,
                                  const struct ts_tensor *inputs, struct ts_tensor *outputs,
                                  struct ts_diag *d);
/* The same; *raised gets the error number a kernel raised (0 if none), so a
 * test can tell a raised error from an emulator failure (both TS_ERR_RUNTIME). */
enum ts_status ts_emu_run_program_raised(const struct ts_program *p, const struct ts_cuda_opts *o,
                                         const struct ts_tensor *inputs, struct ts_tensor *outputs,
                                         int *raised, struct ts_diag *d);

struct ts_emu_check {
    enum ts_status ref, emu;  /* ts_program_run_ref's and ts_emu_run_program's status */
    char ref_msg[1024], emu_msg[1024];
    int64_t bad;              /* output elements outside atol + rtol·|want| */
    double worst;             /* largest absolute error */
    double worst_rel;         /* largest |got - want| / (atol + rtol·|want|): ≤ 1 passes */
};
/* Runs reference and emulator on the same inputs and compares every output
 * (floats within atol + rtol·|want|, NaN equal to NaN, infinities exactly;
 * integers and bools exactly). Prints failures and the first mismatches with
 * label to stderr. */
void ts_emu_check_program(const struct ts_program *p, const struct ts_cuda_opts *o,
                          const struct ts_tensor *inputs, double atol, double rtol, const char *label,
                          struct ts_emu_check *r);
/* Both ran and every element agreed; or both failed with the same message. */
bool ts_emu_check_ok(const struct ts_emu_check *r);

/* Random inputs for a bound graph (allocated; release each): floats in
 * ±[0.1, 2), integers valid as gather indices or rope positions where they
 * are used as such, else in [0, 16). */
enum ts_status ts_emu_random_inputs(const struct ts_graph *g, uint64_t seed, struct ts_tensor *inputs,
                                    struct ts_diag *d);

#endif
