/* tensor.c — dense row-major host tensors for the reference interpreter and
 * tensor files: checked shapes and allocation, element access in any dtype,
 * strides and broadcasting. Data may be unaligned (mmapped), so every access
 * goes through memcpy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

bool ts_dims_fit(int rank, const int64_t *dims, size_t elem_size, int64_t *numel_out) {
    int64_t product = (int64_t)elem_size, numel = 1;
    bool empty = false;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return false;
        if (dims[i] == 0) {
            empty = true;
            continue;
        }
        if (__builtin_mul_overflow(product, dims[i], &product)) return false;
        numel *= dims[i]; /* ≤ product */
    }
    if (numel_out) *numel_out = empty ? 0 : numel;
    return true;
}

enum ts_status ts_tensor_set_shape(struct ts_tensor *t, enum ts_dtype dtype, int rank, const int64_t *dims,
                                   const char *what, struct ts_diag *d) {
    TS_ASSERT(rank >= 0 && rank <= TS_MAX_RANK && dtype >= 0 && dtype < TS_DTYPE_COUNT);
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return ts_diag_set(d, TS_ERR_SHAPE, "", what, "negative dim %lld", (long long)dims[i]);
        t->dims[i] = dims[i];
    }
    int64_t n;
    if (!ts_dims_fit(rank, dims, ts_dtype_size(dtype), &n)) {
        char shape[256];
        return ts_diag_set(d, TS_ERR_NOMEM, "", what, "%s %s is too large: its size in bytes overflows 64 bits",
                           ts_dtype_name(dtype), ts_dims_str(rank, dims, shape, sizeof shape));
    }
    t->numel = n;
    t->nbytes = (size_t)n * ts_dtype_size(dtype);
    return TS_OK;
}

enum ts_status ts_tensor_alloc(struct ts_tensor *t, enum ts_dtype dtype, int rank, const int64_t *dims,
                               const char *what, struct ts_diag *d) {
    TS_TRY(ts_tensor_set_shape(t, dtype, rank, dims, what, d));
    t->data = calloc(t->nbytes ? t->nbytes : 1, 1);
    if (!t->data) {
        char shape[128];
        return ts_diag_set(d, TS_ERR_NOMEM, "", what, "cannot allocate %zu bytes for %s %s", t->nbytes,
                           ts_dtype_name(dtype), ts_dims_str(rank, dims, shape, sizeof shape));
    }
    t->owns_data = true;
    return TS_OK;
}

void ts_tensor_view(struct ts_tensor *t, enum ts_dtype dtype, int rank, const int64_t *dims, void *data) {
    enum ts_status st = ts_tensor_set_shape(t, dtype, rank, dims, "", NULL);
    TS_ASSERT(st == TS_OK);
    t->data = data;
    t->owns_data = false;
}

void ts_tensor_release(struct ts_tensor *t) {
    if (t->owns_data) free(t->data);
    t->data = NULL;
    t->owns_data = false;
}

double ts_tensor_get_f64(const struct ts_tensor *t, int64_t i) {
    const unsigned char *p = (const unsigned char *)t->data + (size_t)i * ts_dtype_size(t->dtype);
    switch (t->dtype) {
    case TS_F32: { float v; memcpy(&v, p, 4); return v; }
    case TS_F16: { uint16_t v; memcpy(&v, p, 2); return ts_f16_to_f64(v); }
    case TS_BF16: { uint16_t v; memcpy(&v, p, 2); return ts_bf16_to_f64(v); }
    case TS_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case TS_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case TS_BOOL: return *p ? 1.0 : 0.0;
    default: TS_ASSERT(!"bad dtype");
    }
}

/* Float to integer: truncate toward zero, saturate, NaN gives 0. */
static int64_t f64_to_i64_sat(double v, int64_t lo, int64_t hi) {
    if (isnan(v)) return 0;
    v = trunc(v);
    if (v <= (double)lo) return lo;
    if (v >= (double)hi) return hi; /* (double)INT64_MAX rounds up: >= catches it */
    return (int64_t)v;
}

void ts_tensor_set_f64(struct ts_tensor *t, int64_t i, double v) {
    unsigned char *p = (unsigned char *)t->data + (size_t)i * ts_dtype_size(t->dtype);
    switch (t->dtype) {
    case TS_F32: { float f = (float)v; memcpy(p, &f, 4); break; }
    case TS_F16: { uint16_t h = ts_f16_from_f64(v); memcpy(p, &h, 2); break; }
    case TS_BF16: { uint16_t h = ts_bf16_from_f64(v); memcpy(p, &h, 2); break; }
    case TS_I32: { int32_t x = (int32_t)f64_to_i64_sat(v, INT32_MIN, INT32_MAX); memcpy(p, &x, 4); break; }
    case TS_I64: { int64_t x = f64_to_i64_sat(v, INT64_MIN, INT64_MAX); memcpy(p, &x, 8); break; }
    case TS_BOOL: *p = (v != 0.0); break;
    default: TS_ASSERT(!"bad dtype");
    }
}

int64_t ts_tensor_get_i64(const struct ts_tensor *t, int64_t i) {
    const unsigned char *p = (const unsigned char *)t->data + (size_t)i * ts_dtype_size(t->dtype);
    switch (t->dtype) {
    case TS_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case TS_I64: { int64_t v; memcpy(&v, p, 8); return v; }
    case TS_BOOL: return *p ? 1 : 0;
    default: return f64_to_i64_sat(ts_tensor_get_f64(t, i), INT64_MIN, INT64_MAX);
    }
}

void ts_tensor_set_i64(struct ts_tensor *t, int64_t i, int64_t v) {
    unsigned char *p = (unsigned char *)t->data + (size_t)i * ts_dtype_size(t->dtype);
    switch (t->dtype) {
    case TS_I32: { int32_t x = (int32_t)(uint32_t)(uint64_t)v; memcpy(p, &x, 4); break; } /* wraps */
    case TS_I64: memcpy(p, &v, 8); break;
    case TS_BOOL: *p = (v != 0); break;
    default: ts_tensor_set_f64(t, i, (double)v); break;
    }
}

void ts_shape_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

void ts_broadcast_strides(int in_rank, const int64_t *in_dims, int rank, const int64_t *out_dims,
                          int64_t *strides) {
    TS_ASSERT(in_rank <= rank);
    int64_t in_strides[TS_MAX_RANK];
    ts_shape_strides(in_rank, in_dims, in_strides);
    int off = rank - in_rank;
    for (int i = 0; i < rank; i++) {
        if (i < off) {
            strides[i] = 0;
        } else {
            int j = i - off;
            TS_ASSERT(in_dims[j] == out_dims[i] || in_dims[j] == 1);
            strides[i] = (in_dims[j] == 1 && out_dims[i] != 1) ? 0 : in_strides[j];
        }
    }
}

bool ts_index_next(int rank, const int64_t *dims, int64_t *index) {
    for (int i = rank - 1; i >= 0; i--) {
        if (++index[i] < dims[i]) return true;
        index[i] = 0;
    }
    return false;
}
