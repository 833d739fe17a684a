/* sched.c — GPU schedules: ts_cuda_sched_default / ts_cuda_sched_check
 * dispatch by kernel kind (GEMM and ATTENTION live in sched_gemm.c and
 * sched_attention.c), and the POINTWISE and ROWWISE defaults and rules. */
#include "internal.h"

void ts_cuda_sched_default(struct ts_kernel *k, const struct ts_cuda_arch *arch, bool strict_f32) {
    switch (k->kind) {
    case TS_KERNEL_POINTWISE: tsc_sched_default_pointwise(k, arch); break;
    case TS_KERNEL_ROWWISE: tsc_sched_default_rowwise(k, arch); break;
    case TS_KERNEL_GEMM: tsc_sched_default_gemm(k, arch, strict_f32); break;
    case TS_KERNEL_ATTENTION: tsc_sched_default_attention(k, arch, strict_f32); break;
    default: break;
    }
}

enum ts_status ts_cuda_sched_check(const struct ts_kernel *k, const struct ts_cuda_arch *arch, struct ts_diag *d) {
    switch (k->kind) {
    case TS_KERNEL_POINTWISE: return tsc_sched_check_pointwise(k, arch, d);
    case TS_KERNEL_ROWWISE: return tsc_sched_check_rowwise(k, arch, d);
    case TS_KERNEL_GEMM: return tsc_sched_check_gemm(k, arch, d);
    case TS_KERNEL_ATTENTION: return tsc_sched_check_attention(k, arch, d);
    default: break;
    }
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name ? k->name : "?", "kernel kind %d has no CUDA schedule",
                       (int)k->kind);
}

/* The widest element (bytes) of the kernel's operands. */
static int widest(const struct ts_kernel *k) {
    int w = (int)ts_dtype_size(k->output.dtype);
    for (int i = 0; i < k->ninputs; i++)
        if ((int)ts_dtype_size(k->inputs[i].dtype) > w) w = (int)ts_dtype_size(k->inputs[i].dtype);
    return w > 0 ? w : 1;
}

bool tsc_vec_ok(const struct ts_kernel *k, const struct ts_koperand *op, int vec) {
    int last = k->rank - 1;
    if (last < 0 || op->strides[last] != 1 || op->offset % vec != 0 || k->dims[last] % vec != 0) return false;
    for (int d = 0; d < last; d++)
        if (k->dims[d] > 1 && op->strides[d] % vec != 0) return false;
    return true;
}

static bool pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

/* ---- POINTWISE ---------------------------------------------------------------- */

void tsc_sched_default_pointwise(struct ts_kernel *k, const struct ts_cuda_arch *a) {
    (void)a;
    if (k->sched.pointwise.gpu.threads == 0) k->sched.pointwise.gpu.threads = 256;
    if (k->sched.pointwise.gpu.vec == 0) {
        /* 16 bytes of the widest operand per thread, where some operand
         * (preferably the output) can use it */
        int vec = 16 / widest(k);
        for (; vec > 1; vec /= 2) {
            bool any = tsc_vec_ok(k, &k->output, vec);
            for (int i = 0; i < k->ninputs && !any; i++) any = tsc_vec_ok(k, &k->inputs[i], vec);
            if (any) break;
        }
        k->sched.pointwise.gpu.vec = vec;
    }
}

enum ts_status tsc_sched_check_pointwise(const struct ts_kernel *k, const struct ts_cuda_arch *a, struct ts_diag *d) {
    (void)a;
    int t = k->sched.pointwise.gpu.threads, v = k->sched.pointwise.gpu.vec;
    if (t < 32 || t > 1024 || t % 32 != 0)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                           "pointwise schedule: threads %d is not a multiple of 32 in [32, 1024]", t);
    if (!pow2(v) || v > 16)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "pointwise schedule: vec %d is not 1, 2, 4, 8 or 16", v);
    if (v * widest(k) > 16)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                           "pointwise schedule: vec %d of %d-byte elements exceeds one 16-byte access", v, widest(k));
    return TS_OK;
}

/* ---- ROWWISE ------------------------------------------------------------------ */

void tsc_sched_default_rowwise(struct ts_kernel *k, const struct ts_cuda_arch *a) {
    (void)a;
    int64_t cnt = 1;
    for (int i = k->nouter; i < k->rank; i++) cnt *= k->dims[i];
    if (k->sched.rowwise.gpu.vec == 0) {
        /* 16-byte accesses where the last inner dim allows them for an operand */
        int vec = 16 / widest(k);
        if (vec > 8) vec = 8;
        for (; vec > 1; vec /= 2) {
            if (k->nouter >= k->rank || cnt < 32 * vec) continue;
            bool any = tsc_vec_ok(k, &k->output, vec);
            for (int i = 0; i < k->ninputs && !any; i++) any = tsc_vec_ok(k, &k->inputs[i], vec);
            if (any) break;
        }
        k->sched.rowwise.gpu.vec = vec;
    }
    if (k->sched.rowwise.gpu.threads == 0) {
        /* enough threads for the row's vec-element groups, a power of two
         * from one warp to 256 (512 and 1024 for very long rows) */
        int64_t groups = (cnt + k->sched.rowwise.gpu.vec - 1) / k->sched.rowwise.gpu.vec;
        int t = 32;
        while (t < 256 && t < groups) t *= 2;
        if (groups >= 8192) t = 512;
        if (groups >= 32768) t = 1024;
        k->sched.rowwise.gpu.threads = t;
    }
}

enum ts_status tsc_sched_check_rowwise(const struct ts_kernel *k, const struct ts_cuda_arch *a, struct ts_diag *d) {
    (void)a;
    int t = k->sched.rowwise.gpu.threads, v = k->sched.rowwise.gpu.vec;
    if (!pow2(t) || t < 32 || t > 1024)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                           "rowwise schedule: threads %d is not a power of two in [32, 1024]", t);
    if (!pow2(v) || v > 8)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "rowwise schedule: vec %d is not 1, 2, 4 or 8", v);
    if (v * widest(k) > 16)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                           "rowwise schedule: vec %d of %d-byte elements exceeds one 16-byte access", v, widest(k));
    return TS_OK;
}
