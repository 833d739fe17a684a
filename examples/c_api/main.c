/* main.c — using a model compiled by `tessera compile` from C: load it,
 * describe its inputs and outputs, fill the inputs, run, and summarize each
 * output (for a language model's logits, the most likely next token).
 *
 *   tessera compile examples/gpt/graph.json --target cpu -o /tmp/gpt
 *   cc examples/c_api/main.c -I/tmp/gpt -L/tmp/gpt -lgpt -Wl,-rpath,/tmp/gpt -o gpt_demo
 *   ./gpt_demo [WEIGHTS.safetensors]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera_model.h"

static void describe(const char *what, const char *name, const char *dtype, int rank, const int64_t *dims,
                     size_t nbytes) {
    printf("%s %-10s %s[", what, name, dtype);
    for (int k = 0; k < rank; k++) printf("%s%" PRId64, k ? ", " : "", dims[k]);
    printf("]  %zu bytes\n", nbytes);
}

/* Integers count 0, 1, 2, ... modulo 16 (valid token ids and positions for
 * the example models); floats get a gentle wave. */
static void fill(void *buf, const char *dtype, size_t nbytes) {
    if (strcmp(dtype, "i32") == 0) {
        int32_t *p = buf;
        for (size_t k = 0; k < nbytes / 4; k++) p[k] = (int32_t)(k % 16);
    } else if (strcmp(dtype, "i64") == 0) {
        int64_t *p = buf;
        for (size_t k = 0; k < nbytes / 8; k++) p[k] = (int64_t)(k % 16);
    } else if (strcmp(dtype, "f32") == 0) {
        float *p = buf;
        for (size_t k = 0; k < nbytes / 4; k++) p[k] = (float)((int)(k % 17) - 8) / 8.0f;
    } else {
        memset(buf, 0, nbytes); /* f16, bf16, bool: zeros are valid values */
    }
}

static void summarize(const char *name, const float *x, int rank, const int64_t *dims, size_t n) {
    double sum = 0, lo = x[0], hi = x[0];
    for (size_t k = 0; k < n; k++) {
        sum += x[k];
        if (x[k] < lo) lo = x[k];
        if (x[k] > hi) hi = x[k];
    }
    printf("%s: mean %.6g  min %.6g  max %.6g\n", name, sum / (double)n, lo, hi);
    /* The last row's largest entry: for logits, the predicted next token. */
    size_t row = rank > 0 ? (size_t)dims[rank - 1] : 1;
    const float *last = x + n - row;
    size_t best = 0;
    for (size_t k = 1; k < row; k++)
        if (last[k] > last[best]) best = k;
    printf("%s: argmax of the last row: %zu (%.6g)\n", name, best, last[best]);
}

int main(int argc, char **argv) {
    char err[1024];
    tessera_model *m = tessera_model_create(argc > 1 ? argv[1] : NULL, 0, err, sizeof err);
    if (!m) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    printf("model compiled by tessera %s for %s, %d threads\n", tessera_model_version(m), tessera_model_cpu(m),
           tessera_model_threads(m));
    int nin = tessera_model_num_inputs(m), nout = tessera_model_num_outputs(m);
    void **in = calloc((size_t)nin + 1, sizeof *in), **out = calloc((size_t)nout + 1, sizeof *out);
    int status = 1;
    if (!in || !out) goto done;
    for (int i = 0; i < nin; i++) {
        size_t n = tessera_model_input_nbytes(m, i);
        describe("input ", tessera_model_input_name(m, i), tessera_model_input_dtype(m, i),
                 tessera_model_input_rank(m, i), tessera_model_input_dims(m, i), n);
        if (!(in[i] = malloc(n ? n : 1))) goto done;
        fill(in[i], tessera_model_input_dtype(m, i), n);
    }
    for (int i = 0; i < nout; i++) {
        size_t n = tessera_model_output_nbytes(m, i);
        describe("output", tessera_model_output_name(m, i), tessera_model_output_dtype(m, i),
                 tessera_model_output_rank(m, i), tessera_model_output_dims(m, i), n);
        if (!(out[i] = malloc(n ? n : 1))) goto done;
    }
    if (tessera_model_run(m, (const void *const *)in, out, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        goto done;
    }
    for (int i = 0; i < nout; i++) {
        size_t n = tessera_model_output_nbytes(m, i);
        if (strcmp(tessera_model_output_dtype(m, i), "f32") == 0 && n >= 4)
            summarize(tessera_model_output_name(m, i), out[i], tessera_model_output_rank(m, i),
                      tessera_model_output_dims(m, i), n / 4);
    }
    status = 0;
done:
    for (int i = 0; in && i < nin; i++) free(in[i]);
    for (int i = 0; out && i < nout; i++) free(out[i]);
    free(in);
    free(out);
    tessera_model_free(m);
    return status;
}
