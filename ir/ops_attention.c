/* ops_attention.c — attention: softmax(q·kᵀ·scale + mask)·v over q [b, hq, sq, d],
 * k [b, hkv, sk, d], v [b, hkv, sk, dv], with grouped-query heads (query head h
 * reads kv head h / (hq/hkv)), an optional additive mask broadcast to
 * [b, hq, sq, sk] and causal masking aligned bottom-right (FORMAT.md "attention"). */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

static const char *const roles[4] = {"q", "k", "v", "mask"};

/* The scale: the attribute, or 1/sqrt(d) when absent (1 for d == 0, where
 * every score is 0 anyway and 1/sqrt(0) would turn it into NaN). */
static double attn_scale(const struct ts_node *n, int64_t d) {
    const struct ts_attr *a = ts_node_attr(n, "scale");
    if (a->present) return a->f;
    return d > 0 ? 1.0 / sqrt((double)d) : 1.0;
}

enum ts_status ts_shape_attention(struct ts_graph *g, struct ts_node *n, struct ts_diag *d) {
    int64_t dims[4][TS_MAX_RANK];
    struct ts_value *v[4];
    char buf[160], label[4][TS_IN_LABEL_SIZE];
    for (int i = 0; i < 4; i++) ts_node_in_label(g, n, i, roles[i], label[i], sizeof label[i]);
    for (int i = 0; i < 4; i++) {
        v[i] = ts_node_in(g, n, i);
        if (!v[i]) {
            if (i < 3)
                return ts_diag_node(d, g, n, TS_ERR_GRAPH, "%s is omitted: attention needs it",
                                    label[i]);
            continue;
        }
        int rank = ts_node_in_dims(g, n, i, dims[i]);
        if (!ts_dtype_is_float(v[i]->dtype))
            return ts_diag_node(d, g, n, TS_ERR_SHAPE, "%s has dtype %s, expected a float dtype",
                                label[i], ts_dtype_name(v[i]->dtype));
        if (v[i]->dtype != v[0]->dtype)
            return ts_diag_node(d, g, n, TS_ERR_SHAPE, "%s has dtype %s, but %s has %s", label[i],
                                ts_dtype_name(v[i]->dtype), label[0], ts_dtype_name(v[0]->dtype));
        if (i < 3 && rank != 4)
            return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                "%s has rank %d, expected 4 ([batch, heads, seq, head_dim])",
                                label[i], rank);
    }
    const int64_t *q = dims[0], *k = dims[1], *vv = dims[2];
    if (k[0] != q[0] || vv[0] != q[0]) {
        int i = k[0] != q[0] ? 1 : 2;
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "%s has batch %lld, but %s has batch %lld",
                            label[i], (long long)dims[i][0], label[0], (long long)q[0]);
    }
    /* hkv == 0 divides only hq == 0 (an empty output), and never by zero. */
    if (k[1] == 0 ? q[1] != 0 : q[1] % k[1] != 0)
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "%s has %lld heads, which does not divide the %lld heads of %s",
                            label[1], (long long)k[1], (long long)q[1], label[0]);
    if (k[3] != q[3])
        return ts_diag_node(d, g, n, TS_ERR_SHAPE, "%s has head_dim %lld, but %s has %lld",
                            label[1], (long long)k[3], label[0], (long long)q[3]);
    if (vv[1] != k[1] || vv[2] != k[2])
        return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                            "%s has shape %s, expected %lld heads and %lld keys as %s", label[2],
                            ts_value_shape_str(g, v[2], buf, sizeof buf), (long long)k[1],
                            (long long)k[2], label[1]);
    if (!isfinite(attn_scale(n, q[3])))
        return ts_diag_node(d, g, n, TS_ERR_GRAPH, "scale %g must be finite", attn_scale(n, q[3]));
    int64_t out[4] = {q[0], q[1], q[2], vv[3]};
    if (v[3]) {
        /* Broadcastable to [b, hq, sq, sk]: aligned from the right, each dim equal or 1. */
        int64_t full[4] = {q[0], q[1], q[2], k[2]};
        int mr = ts_node_in_dims(g, n, 3, dims[3]);
        bool ok = mr <= 4;
        for (int i = 0; ok && i < mr; i++) ok = dims[3][i] == 1 || dims[3][i] == full[4 - mr + i];
        if (!ok) {
            char fs[160];
            return ts_diag_node(d, g, n, TS_ERR_SHAPE,
                                "%s of shape %s does not broadcast to %s ([batch, q heads, q seq, "
                                "k seq])",
                                label[3], ts_value_shape_str(g, v[3], buf, sizeof buf),
                                ts_dims_str(4, full, fs, sizeof fs));
        }
    }
    ts_value_set_shape(ts_node_out(g, n, 0), v[0]->dtype, 4, out);
    return TS_OK;
}

enum ts_status ts_ref_attention(const struct ts_graph *g, const struct ts_node *n,
                                const struct ts_tensor *const *in, struct ts_tensor *const *out,
                                struct ts_diag *d) {
    const struct ts_tensor *q = in[0], *k = in[1], *v = in[2];
    const struct ts_tensor *mask = n->ninputs > 3 ? in[3] : NULL;
    struct ts_tensor *y = out[0];
    int64_t B = q->dims[0], hq = q->dims[1], sq = q->dims[2], hd = q->dims[3];
    int64_t hkv = k->dims[1], sk = k->dims[2], dv = v->dims[3];
    TS_ASSERT(y->numel == B * hq * sq * dv);
    if (y->numel == 0) return TS_OK;
    int64_t group = hq / hkv; /* hkv > 0 here: hkv == 0 forces hq == 0 and an empty output */
    bool causal = ts_node_attr(n, "causal")->i != 0;
    double scale = attn_scale(n, hd);
    int64_t ms[4] = {0};
    if (mask) {
        int64_t full[4] = {B, hq, sq, sk};
        ts_broadcast_strides(mask->rank, mask->dims, 4, full, ms);
    }
    /* One row of scores and one output accumulator, reused for every query. */
    double *score = malloc((size_t)(sk > 0 ? sk : 1) * sizeof(double));
    double *acc = malloc((size_t)dv * sizeof(double));
    if (!score || !acc) {
        free(score);
        free(acc);
        return ts_diag_node(d, g, n, TS_ERR_NOMEM, "out of memory for %lld scores", (long long)sk);
    }
    for (int64_t b = 0; b < B; b++) {
        for (int64_t h = 0; h < hq; h++) {
            int64_t kh = h / group;
            const int64_t q0 = (b * hq + h) * sq, k0 = (b * hkv + kh) * sk;
            for (int64_t i = 0; i < sq; i++) {
                /* Bottom-right alignment: the last query sees every key. */
                int64_t last = causal ? i + (sk - sq) : sk - 1;
                double max = -INFINITY;
                for (int64_t j = 0; j < sk; j++) {
                    score[j] = -INFINITY;
                    if (j > last) continue;
                    double dot = 0;
                    for (int64_t t = 0; t < hd; t++)
                        dot += ts_tensor_get_f64(q, (q0 + i) * hd + t) *
                               ts_tensor_get_f64(k, (k0 + j) * hd + t);
                    double s = dot * scale;
                    if (mask)
                        s += ts_tensor_get_f64(mask, b * ms[0] + h * ms[1] + i * ms[2] + j * ms[3]);
                    score[j] = s;
                    if (isnan(s) || s > max) max = s; /* a NaN stays: it must show */
                }
                for (int64_t e = 0; e < dv; e++) acc[e] = 0;
                /* A row that sees no key (all masked) stays zero rather than 0/0 = NaN. */
                if (max != -INFINITY) {
                    double sum = 0;
                    for (int64_t j = 0; j < sk; j++) {
                        if (score[j] == -INFINITY) continue;
                        double w = exp(score[j] - max); /* max subtracted: no overflow */
                        sum += w;
                        for (int64_t e = 0; e < dv; e++)
                            acc[e] += w * ts_tensor_get_f64(v, (k0 + j) * dv + e);
                    }
                    for (int64_t e = 0; e < dv; e++) acc[e] /= sum;
                }
                for (int64_t e = 0; e < dv; e++) ts_tensor_set_f64(y, (q0 + i) * dv + e, acc[e]);
            }
        }
    }
    free(score);
    free(acc);
    return TS_OK;
}
