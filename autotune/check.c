/* check.c — ts_tune_check: whether a kernel's schedule is legal on a target,
 * decided before anything is compiled. The CPU rules are what codegen/llvm
 * takes (the register-block limits of emit_gemm.h, vector widths of the
 * pointwise and rowwise emitters) plus the target's registers and workers;
 * the GPU rules are ts_cuda_sched_check's plus two only the tuner needs. */
#include <stdarg.h>
#include <stdio.h>

#include "autotune/autotune.h"

/* emit_gemm.h's limits on the packed micro-kernel (codegen/llvm's private
 * header: restated here, the numbers the emitter checks in packed_ok). */
enum {
    GEMM_MAX_MR = 16,  /* rows of a register block */
    GEMM_MAX_NV = 4,   /* vectors per row of a register block */
    GEMM_MAX_ACC = 32, /* accumulator vectors */
};
/* Per-worker scratch above this is a schedule mistake, not a wish: the
 * runtime allocates it for every worker. */
#define MAX_SCRATCH ((int64_t)64 << 20)
/* The split-K workspace the GPU default keeps below (sched_gemm.c). */
#define MAX_WORKSPACE ((int64_t)64 << 20)

static bool pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

static enum ts_status bad(const struct ts_kernel *k, struct ts_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum ts_status bad(const struct ts_kernel *k, struct ts_diag *d, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name ? k->name : "kernel", "%s", why);
}

/* f32 lanes of the target's vectors, and its vector registers (16 for AVX2,
 * 32 for AVX-512 when the target does not say). */
static int lanes(const struct ts_tune_target *t) { return t->vector_bits >= 32 ? t->vector_bits / 32 : 1; }
static int vregs(const struct ts_tune_target *t) {
    return t->vector_regs > 0 ? t->vector_regs : t->vector_bits >= 512 ? 32 : 16;
}

static enum ts_status check_vector(const struct ts_kernel *k, int vw, int64_t rpt, struct ts_diag *d) {
    if (vw < 1 || vw > 64 || !pow2(vw))
        return bad(k, d, "vector width %d is not a power of two in [1, 64]", vw);
    if (rpt < 1) return bad(k, d, "rows_per_task %lld must be at least 1", (long long)rpt);
    return TS_OK;
}

static enum ts_status check_gemm_cpu(const struct ts_kernel *k, const struct ts_tune_target *t, struct ts_diag *d) {
    const struct ts_sched_gemm *s = &k->sched.gemm;
    int vw = lanes(t), regs = vregs(t);
    if (s->mc < 1 || s->kc < 1 || s->nc < 1 || s->mr < 1 || s->nr < 1)
        return bad(k, d, "blocks must be positive (mc %d kc %d nc %d mr %d nr %d)", s->mc, s->kc, s->nc, s->mr,
                   s->nr);
    if (s->nr % vw != 0)
        return bad(k, d, "nr %d is not a multiple of the vector width %d (%d-bit vectors)", s->nr, vw,
                   t->vector_bits);
    if (s->mc % s->mr != 0) return bad(k, d, "mc %d is not a multiple of mr %d", s->mc, s->mr);
    if (s->nc % s->nr != 0) return bad(k, d, "nc %d is not a multiple of nr %d", s->nc, s->nr);
    int nv = s->nr / vw;
    if (s->mr > GEMM_MAX_MR) return bad(k, d, "mr %d exceeds the micro-kernel's %d rows", s->mr, GEMM_MAX_MR);
    if (nv > GEMM_MAX_NV)
        return bad(k, d, "nr/vw %d (nr %d, %d lanes) exceeds the micro-kernel's %d vectors per row", nv, s->nr, vw,
                   GEMM_MAX_NV);
    /* The micro-kernel holds mr·nv accumulators, one row of nv B vectors
     * and the broadcast A element at once: more spills inside the k loop. */
    int need = s->mr * nv + nv + 1;
    if (s->mr * nv > GEMM_MAX_ACC || need > regs)
        return bad(k, d, "mr %d × nr/vw %d accumulators + %d B vectors + 1 need %d vector registers, the CPU has %d",
                   s->mr, nv, nv, need, regs);
    int64_t scratch = ts_kernel_scratch_bytes(k);
    if (scratch > MAX_SCRATCH)
        return bad(k, d, "packed panels of mc %d × kc %d and kc %d × nc %d take %lld bytes per worker, above %lld",
                   s->mc, s->kc, s->kc, s->nc, (long long)scratch, (long long)MAX_SCRATCH);
    return TS_OK;
}

static enum ts_status check_cpu(const struct ts_kernel *k, const struct ts_tune_target *t, struct ts_diag *d) {
    int threads = ts_kernel_cpu_threads(k);
    if (threads < 0 || threads > t->threads)
        return bad(k, d, "threads %d is not in [0, %d] (0: all of the target's %d workers)", threads, t->threads,
                   t->threads);
    switch (k->kind) {
    case TS_KERNEL_POINTWISE:
        return check_vector(k, k->sched.pointwise.vector_width, k->sched.pointwise.rows_per_task, d);
    case TS_KERNEL_ROWWISE:
        /* (Its scratch, one row, does not depend on the schedule.) */
        return check_vector(k, k->sched.rowwise.vector_width, k->sched.rowwise.rows_per_task, d);
    case TS_KERNEL_GEMM: return check_gemm_cpu(k, t, d);
    case TS_KERNEL_ATTENTION: {
        const struct ts_sched_attention *s = &k->sched.attention;
        if (s->block_q < 1 || s->block_k < 1)
            return bad(k, d, "attention blocks %d×%d must be positive", s->block_q, s->block_k);
        int64_t scratch = ts_kernel_scratch_bytes(k);
        if (scratch > MAX_SCRATCH)
            return bad(k, d, "attention blocks %d×%d take %lld bytes of scratch per worker, above %lld", s->block_q,
                       s->block_k, (long long)scratch, (long long)MAX_SCRATCH);
        return TS_OK;
    }
    default: break;
    }
    return bad(k, d, "bad kernel kind %d", (int)k->kind);
}

/* Rules of the GPU path the code generator cannot see: it compiles an
 * explicit mma_tf32 as CUDA-core code under strict f32 (so the candidate
 * would not be what it says), and the split-K workspace is allocated once by
 * the runtime. */
static enum ts_status check_gpu_extra(const struct ts_kernel *k, const struct ts_tune_target *t, struct ts_diag *d) {
    if (k->kind != TS_KERNEL_GEMM) return TS_OK;
    const struct ts_sched_gemm *s = &k->sched.gemm;
    if (t->strict_f32 && s->gpu.instr == TS_GEMM_INSTR_MMA_TF32)
        return bad(k, d, "GPU GEMM schedule: instr mma_tf32 on a strict-f32 target (f32 products without tf32)");
    if (s->gpu.split_k > 1) {
        int64_t batch = 1, r = k->rank;
        for (int i = 0; i + 2 < r; i++) batch *= k->dims[i];
        int64_t m = r >= 2 ? k->dims[r - 2] : 1, n = r >= 1 ? k->dims[r - 1] : 1;
        int64_t tiles = batch * ((m + s->gpu.bm - 1) / s->gpu.bm) * ((n + s->gpu.bn - 1) / s->gpu.bn);
        int64_t accb = k->acc_type == TS_SCALAR_I64 ? 8 : 4;
        int64_t ws = tiles * s->gpu.split_k * s->gpu.bm * s->gpu.bn * accb;
        if (ws > MAX_WORKSPACE)
            return bad(k, d, "GPU GEMM schedule: split_k %d needs %lld bytes of workspace, above %lld",
                       s->gpu.split_k, (long long)ws, (long long)MAX_WORKSPACE);
    }
    return TS_OK;
}

enum ts_status ts_tune_check(const struct ts_kernel *k, const struct ts_tune_target *t, struct ts_diag *d) {
    if (t->kind == TS_TARGET_CPU) return check_cpu(k, t, d);
    if (t->kind != TS_TARGET_CUDA)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name ? k->name : "kernel",
                           "the autotuner tunes for cpu and cuda, not %s", ts_target_name(t->kind));
    struct ts_cuda_arch arch;
    TS_TRY(ts_cuda_arch_parse(t->arch, &arch, d));
    TS_TRY(ts_cuda_sched_check(k, &arch, d));
    return check_gpu_extra(k, t, d);
}
