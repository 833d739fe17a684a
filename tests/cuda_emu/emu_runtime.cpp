/* emu_runtime.cpp — the CUDA emulator's runtime: every thread of a block is a
 * cooperative fiber; blocks run one after another. Owns the fibers, the
 * scheduler, __syncthreads and the launch (ts_emu_launch); a barrier that can
 * never complete is reported as a deadlock naming who waits where instead of
 * hanging. Warp collectives and cp.async are emu_warp.cpp's. Linked with it
 * into each emulated module (harness.c builds them). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "emu_internal.h"

#ifdef TS_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

ts_emu_dim3 ts_emu_thread_idx, ts_emu_block_idx, ts_emu_block_dim, ts_emu_grid_dim;
unsigned char *ts_emu_smem;
unsigned ts_emu_smem_bytes;

namespace tsemu {

state E;

/* ---- context switching ------------------------------------------------------ */
#if defined(__x86_64__)
/* ts_emu_switch(void **save, void *load): saves the callee-saved registers on
 * this stack, stores the stack pointer in *save and resumes 'load'. */
extern "C" void ts_emu_switch(void **save, void *load);
asm(R"(
    .text
    .p2align 4
    .type ts_emu_switch,@function
ts_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size ts_emu_switch, .-ts_emu_switch
)");
#endif

void fiber_main(void);

void to_fiber(fiber *f) {
    E.cur = f;
    ts_emu_thread_idx.x = (unsigned)f->tid;
#ifdef TS_EMU_ASAN
    __sanitizer_start_switch_fiber(&E.sched_fake, f->stack, stack_bytes);
#endif
#if defined(__x86_64__)
    ts_emu_switch(&E.sched_sp, f->sp);
#else
    swapcontext(&E.sched_uc, &f->uc);
#endif
#ifdef TS_EMU_ASAN
    __sanitizer_finish_switch_fiber(E.sched_fake, nullptr, nullptr);
#endif
}

/* From the running fiber back to the scheduler (for good when it is done). */
void to_scheduler(void) {
    fiber *f = E.cur;
#ifdef TS_EMU_ASAN
    bool ending = f->state == DONE || f->state == FAILED;
    __sanitizer_start_switch_fiber(ending ? nullptr : &f->fake_stack, E.sched_bottom, E.sched_size);
#endif
#if defined(__x86_64__)
    ts_emu_switch(&f->sp, E.sched_sp);
#else
    swapcontext(&f->uc, &E.sched_uc);
#endif
#ifdef TS_EMU_ASAN
    __sanitizer_finish_switch_fiber(f->fake_stack, nullptr, nullptr);
#endif
}

void fiber_start(fiber *f) {
    f->state = READY;
    f->ncp = 0;
    f->group = 0;
#if defined(__x86_64__)
    /* ts_emu_switch pops six registers and returns into fiber_main, which
     * then sees the stack as if called (rsp ≡ 8 mod 16). */
    void **top = (void **)(f->stack + stack_bytes);
    void **sp = top - 8;
    for (int i = 0; i < 6; i++) sp[i] = nullptr;
    sp[6] = (void *)fiber_main;
    sp[7] = nullptr;
    f->sp = sp;
#else
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = f->stack;
    f->uc.uc_stack.ss_size = stack_bytes;
    f->uc.uc_link = nullptr;
    makecontext(&f->uc, fiber_main, 0);
#endif
}

void fiber_main(void) {
#ifdef TS_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &E.sched_bottom, &E.sched_size);
#endif
    E.fn(E.params);
    fiber *f = E.cur;
    f->state = DONE;
    f->ncp = 0; /* copies never waited for are dropped: nobody may read them */
    E.done++;
    to_scheduler();
    __builtin_trap(); /* a finished fiber is never resumed */
}

/* ---- errors ------------------------------------------------------------------- */

void vfail(const char *fmt, va_list ap) {
    if (E.failed) return;
    E.failed = true;
    int n = snprintf(E.err, E.errsize, "block (%u,%u,%u): ", ts_emu_block_idx.x, ts_emu_block_idx.y,
                     ts_emu_block_idx.z);
    if (n < 0 || (size_t)n >= E.errsize) return;
    vsnprintf(E.err + n, E.errsize - (size_t)n, fmt, ap);
}

void fail_here(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(fmt, ap);
    va_end(ap);
}

/* Called on a fiber: records the error and never returns to the kernel. */
[[noreturn]] void fiber_fail(void) {
    E.cur->state = FAILED;
    to_scheduler();
    __builtin_trap();
}

/* ---- the scheduler ----------------------------------------------------------------- */

const char *state_name(const fiber *f) {
    switch (f->state) {
    case READY: return "ready";
    case AT_BARRIER: return "at a barrier";
    case AT_WARP: return "at a warp collective";
    case DONE: return "exited";
    default: return "failed";
    }
}

/* No fiber can run and some have not finished: say who waits where. */
void report_deadlock(void) {
    int waiting = -1, other = -1;
    for (int i = 0; i < E.nthreads; i++) {
        if (E.fibers[i].state == AT_BARRIER || E.fibers[i].state == AT_WARP) {
            if (waiting < 0) waiting = i;
        }
    }
    if (waiting < 0) {
        fail_here("no thread can run (emulator bug)");
        return;
    }
    const fiber *w = &E.fibers[waiting];
    if (w->state == AT_BARRIER) {
        for (int i = 0; i < E.nthreads && other < 0; i++)
            if (E.fibers[i].state != AT_BARRIER) other = i;
        fail_here("deadlock: __syncthreads at line %d never completes: %d of %d threads arrived; thread %d "
                  "is %s%s", w->line, E.bar_arrived, E.nthreads, other, state_name(&E.fibers[other]),
                  E.fibers[other].state == AT_WARP ? " (a warp collective another lane never reached)" : "");
        return;
    }
    int base = w->tid / 32 * 32;
    for (int i = base; i < base + 32 && other < 0; i++)
        if (E.fibers[i].state != AT_WARP) other = i;
    const warp *wp = &E.warps[w->tid / 32];
    fail_here("deadlock: %s at line %d in warp %d: %d of 32 lanes arrived; thread %d is %s%s",
              collective_names[wp->what], wp->line, w->tid / 32, wp->arrived, other,
              other >= 0 ? state_name(&E.fibers[other]) : "?",
              other >= 0 && E.fibers[other].state == AT_BARRIER ? " (divergent warp)" : "");
}

bool ensure_fibers(int n) {
    if (n <= E.nfibers_alloc) return true;
    size_t per = stack_bytes + guard_bytes;
    if (E.stacks) munmap(E.stacks, E.stacks_bytes);
    for (int i = 0; i < E.nfibers_alloc; i++) free(E.fibers[i].cp);
    free(E.fibers);
    E.stacks_bytes = per * (size_t)n;
    void *m = mmap(nullptr, E.stacks_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    E.fibers = (fiber *)calloc((size_t)n, sizeof(fiber));
    if (m == MAP_FAILED || !E.fibers) {
        if (m != MAP_FAILED) munmap(m, E.stacks_bytes);
        E.stacks = nullptr;
        E.nfibers_alloc = 0;
        return false;
    }
    E.stacks = (char *)m;
    for (int i = 0; i < n; i++) {
        char *base = E.stacks + per * (size_t)i;
        mprotect(base, guard_bytes, PROT_NONE); /* a stack overflow faults instead of corrupting */
        E.fibers[i].stack = base + guard_bytes;
        E.fibers[i].tid = i;
    }
    E.nfibers_alloc = n;
    return true;
}

/* Threads run until they block, in increasing order in even blocks and
 * decreasing order in odd ones (the parity flips with every launch), so that
 * a missing barrier shows up as a read of data not yet written. */
/* The static __shared__ arrays (emu.h); the linker names the section's ends. */
extern "C" char __start_ts_emu_shared[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_ts_emu_shared[] __attribute__((weak, visibility("hidden")));

/* Not instrumented: the section may hold ASan's redzones between arrays. */
__attribute__((no_sanitize_address, noinline)) void fill_static_shared(void) {
    if (!__start_ts_emu_shared) return;
    for (volatile char *p = __start_ts_emu_shared; p < __stop_ts_emu_shared; p++) *p = (char)0xff;
}

bool run_block(bool reverse) {
    memset(ts_emu_smem, 0xff, ts_emu_smem_bytes); /* garbage (NaN, -1) where nothing was written */
    fill_static_shared();
    for (int i = 0; i < E.nthreads; i++) fiber_start(&E.fibers[i]);
    for (int w = 0; w < 32; w++) {
        int n = E.nthreads - 32 * w;
        E.warps[w].nlanes = n < 0 ? 0 : n > 32 ? 32 : n;
        E.warps[w].arrived = 0;
    }
    E.done = 0;
    E.bar_arrived = 0;
    while (E.done < E.nthreads) {
        bool progress = false;
        for (int n = 0; n < E.nthreads; n++) {
            int i = reverse ? E.nthreads - 1 - n : n;
            if (E.fibers[i].state != READY) continue;
            progress = true;
            to_fiber(&E.fibers[i]);
            if (E.failed) return false;
        }
        if (!progress) {
            report_deadlock();
            return false;
        }
    }
    return true;
}

} // namespace tsemu

using namespace tsemu;

/* ---- what kernels call (emu.h) --------------------------------------------------- */

void ts_emu_fail(int line, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_here("thread %d: line %d: %s", E.cur->tid, line, msg);
    fiber_fail();
}

void ts_emu_syncthreads(int line) {
    fiber *f = E.cur;
    f->line = line;
    if (E.bar_arrived == 0) {
        E.bar_line = line;
        E.bar_first = f->tid;
    } else if (line != E.bar_line) {
        fail_here("divergent __syncthreads: thread %d at line %d while thread %d waits at line %d", f->tid, line,
                  E.bar_first, E.bar_line);
        fiber_fail();
    }
    if (++E.bar_arrived < E.nthreads) {
        f->state = AT_BARRIER;
        to_scheduler();
        return;
    }
    E.bar_arrived = 0;
    for (int i = 0; i < E.nthreads; i++)
        if (E.fibers[i].state == AT_BARRIER) E.fibers[i].state = READY;
}

/* ---- the entry point -------------------------------------------------------------- */

/* dlclose: the fibers and their stacks go with the module. */
__attribute__((destructor)) static void ts_emu_unload(void) {
    for (int i = 0; i < E.nfibers_alloc; i++) free(E.fibers[i].cp);
    free(E.fibers);
    if (E.stacks) munmap(E.stacks, E.stacks_bytes);
    E.fibers = nullptr;
    E.stacks = nullptr;
    E.nfibers_alloc = 0;
}

/* Runs fn(params) on a grid × block launch with shared_bytes of dynamic shared
 * memory. Returns 0, or 1 with a message in err (misuse, deadlock). */
extern "C" __attribute__((visibility("default"))) int ts_emu_launch(void (*fn)(void **), void **params,
                                                                     const unsigned grid[3],
                                                                     const unsigned block[3],
                                                                     unsigned shared_bytes, char *err,
                                                                     size_t errsize) {
    E.failed = false;
    E.err = err;
    E.errsize = errsize;
    if (errsize) err[0] = 0;
    ts_emu_block_idx = ts_emu_dim3{0, 0, 0};
    if (block[1] != 1 || block[2] != 1 || block[0] < 1 || block[0] > 1024) {
        fail_here("block (%u,%u,%u): tessera's kernels use 1-D blocks of 1 … 1024 threads", block[0], block[1],
                  block[2]);
        return 1;
    }
    if (grid[0] < 1 || grid[1] < 1 || grid[2] < 1 || grid[1] > 65535 || grid[2] > 65535 ||
        grid[0] > 2147483647u) {
        fail_here("grid (%u,%u,%u) is out of CUDA's range", grid[0], grid[1], grid[2]);
        return 1;
    }
    if (!ensure_fibers((int)block[0])) {
        fail_here("out of memory for %u fiber stacks", block[0]);
        return 1;
    }
    E.fn = fn;
    E.params = params;
    E.nthreads = (int)block[0];
    ts_emu_block_dim = ts_emu_dim3{block[0], 1, 1};
    ts_emu_grid_dim = ts_emu_dim3{grid[0], grid[1], grid[2]};
    ts_emu_thread_idx = ts_emu_dim3{0, 0, 0};
    ts_emu_smem_bytes = shared_bytes;
    /* exactly the size asked for, so that ASan sees accesses past its end */
    void *smem = nullptr;
    if (posix_memalign(&smem, 128, shared_bytes ? shared_bytes : 1) != 0) smem = nullptr;
    ts_emu_smem = (unsigned char *)smem;
    if (!ts_emu_smem) {
        fail_here("out of memory for %u bytes of shared memory", shared_bytes);
        return 1;
    }
    static unsigned launches;
    bool ok = true, reverse = (launches++ & 1) != 0;
    for (unsigned z = 0; z < grid[2] && ok; z++)
        for (unsigned y = 0; y < grid[1] && ok; y++)
            for (unsigned x = 0; x < grid[0] && ok; x++) {
                ts_emu_block_idx = ts_emu_dim3{x, y, z};
                ok = run_block(reverse);
                reverse = !reverse;
            }
    free(ts_emu_smem);
    ts_emu_smem = nullptr;
    for (int i = 0; i < E.nfibers_alloc; i++) {
        free(E.fibers[i].cp);
        E.fibers[i].cp = nullptr;
        E.fibers[i].capcp = E.fibers[i].ncp = 0;
    }
    return ok ? 0 : 1;
}
