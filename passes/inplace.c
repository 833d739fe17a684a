/* inplace.c — whether a graph output may live in the same memory as a graph
 * input. A decoder's key/value cache is an input (past) and an output
 * (present: the past with this call's rows written in): when the caller hands
 * both the same buffer, the cache is updated in place instead of copied every
 * token. That is safe only if, in the compiled program, the input is read by
 * exactly one kernel, that kernel alone writes the output, it is POINTWISE,
 * and it reads each input element at exactly the index it writes (no gather
 * across it): each element is then read before it is overwritten, by the same
 * task, whatever the thread split and vector width.
 *   %present = where(outside, %past, gather(%k, rows))   → safe
 *   %present = concat(slice(%past, 1..), %k)              → not (it shifts) */
#include <stdio.h>
#include <string.h>

#include "passes/passes.h"

static bool same_index_map(const struct ts_koperand *a, const struct ts_koperand *b, int rank) {
    if (a->offset != b->offset || a->kstride != 0 || a->gather_size != 0 || a->gather_stride != 0) return false;
    for (int i = 0; i < rank; i++)
        if (a->strides[i] != b->strides[i]) return false;
    return true;
}

/* Whether input operand k of kernel ker is read through LOAD_AT (a gather). */
static bool gathered(const struct ts_kernel *ker, int k) {
    for (int i = 0; i < ker->nexpr; i++)
        if (ker->expr[i].op == TS_KX_LOAD_AT && ker->expr[i].a == k) return true;
    return false;
}

bool ts_program_output_may_alias_input(const struct ts_program *p, int input, int output, char *why, size_t size) {
    const struct ts_graph *g = p->graph;
    TS_ASSERT(input >= 0 && input < g->ninputs && output >= 0 && output < g->noutputs);
    int ib = p->input_buffers[input], ob = p->output_buffers[output], reader = -1, writer = -1;
    const char *in_name = g->values[g->inputs[input]].name, *out_name = g->values[g->outputs[output]].name;
    if (p->buffers[ib].nbytes != p->buffers[ob].nbytes) {
        snprintf(why, size, "'%s' and '%s' differ in size", in_name, out_name);
        return false;
    }
    for (int k = 0; k < p->nkernels; k++) {
        const struct ts_kernel *ker = &p->kernels[k];
        bool reads = false;
        for (int i = 0; i < ker->ninputs; i++) reads |= ker->inputs[i].buffer == ib;
        if (reads && reader >= 0) {
            snprintf(why, size, "'%s' is read by two kernels (%s, %s)", in_name, p->kernels[reader].name, ker->name);
            return false;
        }
        if (reads) reader = k;
        if (ker->output.buffer == ob && writer >= 0) {
            snprintf(why, size, "'%s' is written by two kernels (%s, %s)", out_name, p->kernels[writer].name,
                     ker->name);
            return false;
        }
        if (ker->output.buffer == ob) writer = k;
    }
    if (reader < 0) return true; /* nothing reads the input: the output may take its memory */
    const struct ts_kernel *ker = &p->kernels[reader];
    if (writer != reader || ker->kind != TS_KERNEL_POINTWISE) {
        snprintf(why, size, "'%s' is read by kernel %s, which is not the element-wise kernel writing '%s'", in_name,
                 ker->name, out_name);
        return false;
    }
    for (int i = 0; i < ker->ninputs; i++) {
        if (ker->inputs[i].buffer != ib) continue;
        if (gathered(ker, i) || !same_index_map(&ker->inputs[i], &ker->output, ker->rank)) {
            snprintf(why, size, "kernel %s reads '%s' at other indices than it writes '%s'", ker->name, in_name,
                     out_name);
            return false;
        }
    }
    return true;
}
