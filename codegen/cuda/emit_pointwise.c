/* emit_pointwise.c — the POINTWISE kernel in CUDA C. The iteration space is
 * flattened; each thread takes sched.gpu.vec consecutive elements of the last
 * dim per step of a grid-stride loop (no grid-size limit in y or z, 64-bit
 * indices). Where the last dim divides by vec, an operand that is contiguous
 * and aligned along it is read or written as one ts_vec access (16 bytes at
 * most); every other operand, and any gather, goes element by element.
 * Buffers are assumed at least 16-byte aligned (the runtime's allocations are). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Inputs out_root reads with a plain LOAD and never with LOAD_AT (a gather
 * adds an offset per element, so it cannot use a vector of the row). */
static void loaded_inputs(const struct ts_kernel *k, bool *plain) {
    bool gathered[64] = {false};
    for (int i = 0; i < k->ninputs; i++) plain[i] = false;
    tsc_expr_loads(k, k->out_root, plain, gathered);
    for (int i = 0; i < k->ninputs; i++) plain[i] = plain[i] && !gathered[i];
}

/* Declares i0 … i{n-1} from the flat row number in variable 'r' (last dim fastest). */
static void split_index(struct tsc_src *s, const struct ts_kernel *k, int n, const char *r, const char *ind) {
    tsc_printf(s, "%s    long long r_ = %s;\n", ind, r);
    for (int d = n - 1; d >= 0; d--) {
        if (k->dims[d] == 1) {
            tsc_printf(s, "%s    const long long i%d = 0;\n", ind, d);
        } else if (d == 0) {
            tsc_printf(s, "%s    const long long i%d = r_;\n", ind, d);
        } else {
            tsc_printf(s, "%s    const long long i%d = r_ %% %lldLL;\n", ind, d, (long long)k->dims[d]);
            tsc_printf(s, "%s    r_ /= %lldLL;\n", ind, (long long)k->dims[d]);
        }
    }
    tsc_printf(s, "%s    (void)r_;\n", ind);
}

enum ts_status tsc_emit_pointwise(struct tsc_emit *em, struct ts_diag *d) {
    const struct ts_kernel *k = em->k;
    struct tsc_src *s = em->src;
    if (k->out_root < 0 || k->out_root >= k->nexpr || k->ninputs > 64)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                           "pointwise kernel without an output expression, or with more than 64 inputs");
    int T = k->sched.pointwise.gpu.threads, vec = k->sched.pointwise.gpu.vec;
    int rank = k->rank, last = rank - 1;
    int64_t total = 1;
    for (int i = 0; i < rank; i++) total *= k->dims[i];
    int64_t n = rank > 0 ? k->dims[last] : 1;
    bool aligned = vec > 1 && rank > 0 && n % vec == 0; /* a thread's lanes share one row */
    int64_t units = (total + vec - 1) / vec;

    /* at least 1024 threads' worth of blocks per SM: a 64-register budget,
     * where ptxas would otherwise pick its own (and spill below it) */
    tsc_printf(s, "extern \"C\" __global__ void __launch_bounds__(%d, %d) %s", T, 1024 / T, em->sym);
    tsc_emit_params(s, k);
    tsc_puts(s, " {\n    (void)workspace;\n    (void)error;\n");
    tsc_printf(s, "    for (long long u = (long long)blockIdx.x * %d + threadIdx.x; u < %lldLL; u += (long long)gridDim.x * %d) {\n",
               T, (long long)units, T);
    struct tsc_env env;
    memset(&env, 0, sizeof env);
    char names[TS_MAX_RANK][16], lane_idx[32];
    for (int i = 0; i < rank; i++) {
        snprintf(names[i], sizeof names[i], "i%d", i);
        env.index[i] = names[i];
    }
    if (!aligned) {
        /* element by element: lane j is flat element u·vec + j */
        for (int j = 0; j < vec; j++) {
            tsc_printf(s, "        {\n            const long long e_ = u * %d + %d;\n", vec, j);
            if (vec > 1 && total % vec != 0) tsc_printf(s, "            if (e_ < %lldLL) {\n", (long long)total);
            else tsc_puts(s, "            {\n");
            split_index(s, k, rank, "e_", "            ");
            tsc_emit_output(s, k, &env);
            tsc_puts(s, "            }\n        }\n");
        }
        tsc_puts(s, "    }\n}\n");
    } else {
        tsc_printf(s, "        const long long c0 = (u * %d) %% %lldLL;\n", vec, (long long)n);
        tsc_printf(s, "        const long long row = (u * %d) / %lldLL;\n", vec, (long long)n);
        split_index(s, k, last, "row", "    ");
        /* the vector loads, at lane 0 of the thread's columns */
        env.index[last] = "c0";
        bool plain[64];
        loaded_inputs(k, plain);
        struct ts_kernel kk = *k;
        struct ts_koperand ins[64];
        char vin[64][24];
        for (int i = 0; i < k->ninputs; i++) {
            ins[i] = k->inputs[i];
            if (!plain[i] || !tsc_vec_ok(k, &k->inputs[i], vec)) continue;
            char off[1024];
            tsc_operand_offset(&k->inputs[i], rank, &env, off, sizeof off);
            const char *st = tsc_storage_type(k->inputs[i].dtype);
            tsc_printf(s, "        const ts_vec<%s, %d> w%d = *(const ts_vec<%s, %d> *)(in%d + %s);\n", st, vec, i, st,
                       vec, i, off);
            snprintf(vin[i], sizeof vin[i], "w%d.v", i);
            env.in[i] = vin[i];
            memset(ins[i].strides, 0, sizeof ins[i].strides);
        }
        kk.inputs = ins;
        bool vout = tsc_vec_ok(k, &k->output, vec);
        const char *ost = tsc_storage_type(k->output.dtype);
        if (vout) {
            tsc_printf(s, "        ts_vec<%s, %d> wo;\n", ost, vec);
            memset(kk.output.strides, 0, sizeof kk.output.strides);
            env.out = "wo.v";
        }
        char prefix[24];
        for (int j = 0; j < vec; j++) {
            /* vector operands read element j of their vector */
            for (int i = 0; i < k->ninputs; i++)
                if (env.in[i]) ins[i].offset = j;
            if (vout) kk.output.offset = j;
            snprintf(lane_idx, sizeof lane_idx, "(c0 + %d)", j);
            env.index[last] = lane_idx;
            snprintf(prefix, sizeof prefix, "l%d_v", j);
            env.prefix = prefix;
            tsc_emit_output(s, &kk, &env);
        }
        if (vout) {
            char off[1024];
            env.index[last] = "c0";
            tsc_operand_offset(&k->output, rank, &env, off, sizeof off);
            tsc_printf(s, "        *(ts_vec<%s, %d> *)(out + %s) = wo;\n", ost, vec, off);
        }
        tsc_puts(s, "    }\n}\n");
    }
    int64_t blocks = (units + T - 1) / T;
    if (blocks < 1) blocks = 1;
    if (blocks > 0x7fffffff) blocks = 0x7fffffff;
    memset(&em->launch, 0, sizeof em->launch);
    em->launch.grid[0] = (uint32_t)blocks;
    em->launch.grid[1] = em->launch.grid[2] = 1;
    em->launch.block[0] = (uint32_t)T;
    em->launch.block[1] = em->launch.block[2] = 1;
    return TS_OK;
}
