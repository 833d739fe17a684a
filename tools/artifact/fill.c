/* fill.c — made-up input values: random, zeros or ones. `tessera run` and the
 * standalone executable of a compiled model share this one definition, so the
 * same seed gives byte-identical inputs in both. */
#include "tools/artifact/artifact.h"

/* splitmix64: a small, well-mixed generator; the same seed gives the same inputs everywhere. */
static uint64_t next_random(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void ts_artifact_fill(struct ts_tensor *t, enum ts_artifact_fill how, int64_t bound, uint64_t *rng) {
    if (how == TS_ARTIFACT_FILL_ZEROS) return; /* allocated zeroed */
    if (bound <= 0) bound = 16;
    for (int64_t k = 0; k < t->numel; k++) {
        if (how == TS_ARTIFACT_FILL_ONES) {
            ts_tensor_set_f64(t, k, 1.0);
        } else if (ts_dtype_is_float(t->dtype)) {
            /* uniform in [-1, 1) */
            ts_tensor_set_f64(t, k, (double)(next_random(rng) >> 11) * 0x1p-52 - 1.0);
        } else if (t->dtype == TS_BOOL) {
            ts_tensor_set_i64(t, k, (int64_t)(next_random(rng) >> 63));
        } else {
            ts_tensor_set_i64(t, k, (int64_t)(next_random(rng) % (uint64_t)bound));
        }
    }
}
