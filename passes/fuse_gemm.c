/* fuse_gemm.c — the GEMM and ATTENTION kernels: operands as strided index
 * maps over the iteration space (transposes, broadcast batch dims, head
 * layouts cost nothing), the epilogue built by the caller over ACC.
 *   %y = matmul(%x, %w, transpose_b)  %z = add(%y, %b)  %o = gelu(%z)
 *     →  GEMM [M, N] k=K; A = x, B = w with strides [0, 1·K]; out_root = gelu(acc + load b) */
#include <math.h>
#include <string.h>

#include "passes/internal.h"

/* The operand of a matmul input: batch dims broadcast from the right onto
 * the output's batch dims; row_dim / col_dim of the stored matrix map to
 * iteration dim 'it' (M for A, N for B) and to k. */
static struct ts_koperand matrix_operand(struct ts_kb *kb, int v, int orank, bool is_a, bool transposed) {
    const struct ts_fuse *f = kb->f;
    int64_t vd[TS_MAX_RANK];
    int vr = ts_fuse_value_rank(f->g, v, vd);
    const struct ts_fview *view = &f->views[v];
    TS_ASSERT(view->ready);
    struct ts_koperand op;
    memset(&op, 0, sizeof op);
    op.buffer = view->buffer;
    op.dtype = f->g->values[v].dtype;
    op.offset = view->offset;
    int nb = orank - 2, vb = vr - 2;
    for (int j = 0; j < vb; j++)
        if (vd[j] != 1) op.strides[j + nb - vb] = view->strides[j];
    /* A is [M, K] (transposed: [K, M]); B is [K, N] (transposed: [N, K]). */
    int it_dim = is_a ? vr - 2 : vr - 1, k_dim = is_a ? vr - 1 : vr - 2;
    if (transposed) {
        int t = it_dim;
        it_dim = k_dim;
        k_dim = t;
    }
    op.strides[is_a ? orank - 2 : orank - 1] = vd[it_dim] == 1 ? 0 : view->strides[it_dim];
    op.kstride = vd[k_dim] == 1 ? 0 : view->strides[k_dim];
    return op;
}

void ts_fuse_gemm(struct ts_kb *kb, int node) {
    const struct ts_graph *g = kb->f->g;
    const struct ts_node *n = &g->nodes[node];
    struct ts_kernel *k = &kb->k;
    int64_t od[TS_MAX_RANK], ad[TS_MAX_RANK];
    int orank = ts_fuse_value_rank(g, n->outputs[0], od);
    int arank = ts_fuse_value_rank(g, n->inputs[0], ad);
    bool ta = ts_node_attr(n, "transpose_a")->i != 0, tb = ts_node_attr(n, "transpose_b")->i != 0;
    k->rank = orank;
    memcpy(k->dims, od, sizeof od);
    k->k = ta ? ad[arank - 2] : ad[arank - 1];
    k->acc_type = ts_dtype_is_float(g->values[n->outputs[0]].dtype) ? TS_SCALAR_F32 : TS_SCALAR_I64;
    struct ts_koperand a = matrix_operand(kb, n->inputs[0], orank, true, ta);
    struct ts_koperand b = matrix_operand(kb, n->inputs[1], orank, false, tb);
    kb->dedupe_from = 0;
    ts_kb_input(kb, &a);
    kb->dedupe_from = 1;
    ts_kb_input(kb, &b);
    kb->dedupe_from = 2; /* epilogue loads never merge into A or B */
}

/* q, k, v (and the mask, broadcast to [b, hq, sq, sk]) in role order. */
void ts_fuse_attention(struct ts_kb *kb, int node) {
    const struct ts_graph *g = kb->f->g;
    const struct ts_node *n = &g->nodes[node];
    struct ts_kernel *k = &kb->k;
    int64_t qd[TS_MAX_RANK], kd[TS_MAX_RANK], vd[TS_MAX_RANK];
    ts_fuse_value_rank(g, n->inputs[0], qd);
    ts_fuse_value_rank(g, n->inputs[1], kd);
    ts_fuse_value_rank(g, n->inputs[2], vd);
    k->rank = 4;
    k->dims[0] = qd[0], k->dims[1] = qd[1], k->dims[2] = qd[2], k->dims[3] = vd[3];
    k->acc_type = TS_SCALAR_F32;
    k->attn.batch = qd[0], k->attn.hq = qd[1], k->attn.hkv = kd[1];
    k->attn.sq = qd[2], k->attn.sk = kd[2], k->attn.d = qd[3], k->attn.dv = vd[3];
    const struct ts_attr *scale = ts_node_attr(n, "scale");
    k->attn.scale = scale->present ? scale->f : (qd[3] > 0 ? 1.0 / sqrt((double)qd[3]) : 1.0);
    k->attn.causal = ts_node_attr(n, "causal")->i != 0;
    int ident[4] = {0, 1, 2, 3};
    for (int i = 0; i < 3; i++) {
        struct ts_koperand op = ts_kb_operand(kb, n->inputs[i], ident);
        kb->dedupe_from = kb->ninputs;
        ts_kb_input(kb, &op);
    }
    int m = n->ninputs > 3 ? n->inputs[3] : -1;
    k->attn.has_mask = m >= 0;
    if (m >= 0) {
        int64_t md[TS_MAX_RANK];
        int mr = ts_fuse_value_rank(g, m, md), axis[TS_MAX_RANK];
        for (int j = 0; j < mr; j++) axis[j] = j + 4 - mr;
        struct ts_koperand op = ts_kb_operand(kb, m, axis);
        kb->dedupe_from = kb->ninputs;
        ts_kb_input(kb, &op);
    }
    kb->dedupe_from = kb->ninputs;
}
