/* emu_internal.h — what the emulator's two halves share: the fibers (one per
 * thread of the running block), the warps and the state of the launch being
 * run. emu_runtime.cpp owns the fibers and the scheduler, emu_warp.cpp the
 * warp collectives and cp.async. Included by those two files only. */
#ifndef TS_EMU_INTERNAL_H
#define TS_EMU_INTERNAL_H

#include <stddef.h>

#include "emu.h"

#if defined(__SANITIZE_ADDRESS__)
#define TS_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TS_EMU_ASAN 1
#endif
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace tsemu {

enum fiber_state { READY, AT_BARRIER, AT_WARP, DONE, FAILED };
enum collective { C_NONE, C_SHFL, C_LDMATRIX, C_MMA };
extern const char *const collective_names[];

struct cp_op {
    void *dst;
    const void *src;
    int size, src_bytes;
    unsigned group;
};

struct fiber {
#if defined(__x86_64__)
    void *sp;
#else
    ucontext_t uc;
#endif
    char *stack;
    int tid;
    fiber_state state;
    int line;            /* where it waits */
    /* cp.async: copies issued, in order; group = commit count at issue */
    cp_op *cp;
    int ncp, capcp;
    unsigned group;
    /* the operands of the warp collective it waits at */
    uint64_t val, result;
    int arg;
    const void *addr;
    ts_u32 *regs;
    float *d;
    const ts_u32 *a, *b;
    int kind, nmat;
    bool trans;
#ifdef TS_EMU_ASAN
    void *fake_stack;
#endif
};

struct warp {
    int nlanes, arrived;
    collective what;
    int kind, line, first_lane;
};

const size_t stack_bytes = 256 * 1024, guard_bytes = 4096;

/* The launch being run. */
struct state {
    void (*fn)(void **);
    void **params;
    fiber *fibers;
    int nfibers_alloc;
    char *stacks;
    size_t stacks_bytes;
    warp warps[32];
    int nthreads, done;
    int bar_arrived, bar_line, bar_first;
    fiber *cur;
    bool failed;
    char *err;
    size_t errsize;
#if defined(__x86_64__)
    void *sched_sp;
#else
    ucontext_t sched_uc;
#endif
#ifdef TS_EMU_ASAN
    void *sched_fake;
    const void *sched_bottom;
    size_t sched_size;
#endif
};
extern TS_EMU_HIDDEN state E;

/* emu_runtime.cpp: back to the scheduler from the running fiber; the first
 * error of the launch (prefixed with the block); the running fiber stops for
 * good after an error. */
void to_scheduler(void);
void fail_here(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void fiber_fail(void);

} // namespace tsemu

#endif
