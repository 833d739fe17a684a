/* emit_pointwise.c — the POINTWISE kernel for the CPU: each task's rows (all
 * dims but the last), each row's last dim as a vector loop of
 * sched.vector_width lanes plus a scalar tail, the expression evaluated per
 * element and stored through the output's index map. */
#include "internal.h"

/* The row's outer indices: r decomposed over dims[0 .. n) (last fastest). */
static void split_row(struct ts_llvm *L, LLVMValueRef r, int n, struct ts_llvm_env *env) {
    const struct ts_kernel *k = L->k;
    LLVMValueRef rem = r;
    for (int d = n - 1; d >= 0; d--) {
        if (k->dims[d] == 1) {
            env->index[d] = ts_llvm_i64(L, 0);
        } else if (d == 0) {
            env->index[d] = rem;
        } else {
            /* r is non-negative: unsigned division by a constant is a multiply */
            LLVMValueRef dim = ts_llvm_i64(L, k->dims[d]);
            env->index[d] = LLVMBuildURem(L->b, rem, dim, "ix");
            rem = LLVMBuildUDiv(L->b, rem, dim, "");
        }
    }
}

/* Evaluates the output expression at env and stores it through the output
 * map (ts_llvm_store converts it to the output's dtype). */
static void store_out(struct ts_llvm *L, const struct ts_llvm_env *env) {
    const struct ts_kernel *k = L->k;
    const struct ts_koperand *o = &k->output;
    LLVMValueRef v = ts_llvm_expr(L, k->out_root, env);
    LLVMValueRef p = ts_llvm_elem_ptr(L, o, L->base[k->ninputs], ts_llvm_operand_index(L, o, env));
    int64_t stride = env->width > 1 ? o->strides[env->vector_dim] : 0;
    ts_llvm_store(L, o->dtype, p, stride, env->width, v);
}

enum ts_status ts_llvm_emit_pointwise(struct ts_llvm *L, struct ts_diag *d) {
    const struct ts_kernel *k = L->k;
    int rank = k->rank;
    if (k->out_root < 0 || k->out_root >= k->nexpr)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "pointwise kernel without an output expression");
    int vw = k->sched.pointwise.vector_width;
    if (vw < 1) vw = 1;
    if (vw > 64)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "vector width %d is above 64", vw);
    int64_t rpt = k->sched.pointwise.rows_per_task;
    TS_ASSERT(rpt > 0);

    int64_t rows = 1;
    for (int i = 0; i + 1 < rank; i++) rows *= k->dims[i];
    int64_t n = rank > 0 ? k->dims[rank - 1] : 1;

    /* rows [begin·rpt, min(end·rpt, rows)) */
    LLVMValueRef rpt_v = ts_llvm_i64(L, rpt), rows_v = ts_llvm_i64(L, rows);
    LLVMValueRef rb = LLVMBuildNSWMul(L->b, L->begin, rpt_v, "rb");
    LLVMValueRef re = LLVMBuildNSWMul(L->b, L->end, rpt_v, "");
    re = LLVMBuildSelect(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, re, rows_v, ""), re, rows_v, "re");

    struct ts_llvm_env env = {.width = 1, .vector_dim = rank > 0 ? rank - 1 : 0};
    struct ts_llvm_loop rl;
    LLVMValueRef r = ts_llvm_loop_begin(L, &rl, rb, re, ts_llvm_i64(L, 1), "row");
    if (rank == 0) {
        store_out(L, &env);
    } else {
        split_row(L, r, rank - 1, &env);
        /* Vector lanes only where the output is contiguous along the last
         * dim; inputs that are not are loaded lane by lane. */
        bool vec = vw > 1 && k->output.strides[rank - 1] == 1 && n >= vw;
        int64_t nvec = vec ? n / vw * vw : 0;
        if (nvec > 0) {
            struct ts_llvm_loop jl;
            env.width = vw;
            env.index[rank - 1] = ts_llvm_loop_begin(L, &jl, ts_llvm_i64(L, 0), ts_llvm_i64(L, nvec),
                                                     ts_llvm_i64(L, vw), "j");
            store_out(L, &env);
            ts_llvm_loop_end(L, &jl);
        }
        if (nvec < n) {
            struct ts_llvm_loop jl;
            env.width = 1;
            env.index[rank - 1] = ts_llvm_loop_begin(L, &jl, ts_llvm_i64(L, nvec), ts_llvm_i64(L, n),
                                                     ts_llvm_i64(L, 1), "jt");
            store_out(L, &env);
            ts_llvm_loop_end(L, &jl);
        }
    }
    ts_llvm_loop_end(L, &rl);
    LLVMBuildRet(L->b, ts_llvm_i32(L, 0));
    return TS_OK;
}
