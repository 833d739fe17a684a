/* tessera_model.h — the C interface of a model compiled by `tessera compile`
 * (libNAME.so). The library holds the model's kernels and execution plan; it
 * needs only libc, libm, libpthread and libcjson at run time (and, for
 * --target cuda, the NVIDIA driver's libcuda.so.1, loaded when a model is
 * created: never NVRTC, LLVM or a compiler).
 *
 *     char err[512];
 *     tessera_model *m = tessera_model_create(NULL, 0, err, sizeof err);
 *     if (!m) { fprintf(stderr, "%s\n", err); return 1; }
 *     // one buffer per input and output, tessera_model_*_nbytes() bytes each,
 *     // row-major, of the dtype and shape the model was compiled for
 *     if (tessera_model_run(m, inputs, outputs, err, sizeof err) != 0) { ... }
 *     tessera_model_free(m);
 *
 * Shapes are fixed when the model is compiled (tessera compile --bind SYM=N).
 * Every function that can fail returns NULL or nonzero and writes a one-line
 * message into err (which may be NULL when errsize is 0). */
#ifndef TESSERA_MODEL_H
#define TESSERA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tessera_model tessera_model;

/* Loads the model: checks that this CPU has the instructions it was compiled
 * for, opens the weights and checks every tensor the model uses (name, dtype,
 * shape and size), starts the worker threads. A model compiled with --target
 * cuda instead loads the CUDA driver (dlopen: no link-time dependency), its
 * kernels (the cubin, or the PTX when the cubin does not fit the GPU) and the
 * weights onto GPU 0 (set CUDA_VISIBLE_DEVICES to choose another); without a
 * driver or GPU it returns NULL with one line saying so.
 *   weights_path  a safetensors file; NULL: the weights embedded at compile time
 *                 (--embed-weights), else the file named at compile time
 *   threads       worker threads including the caller; 0: one per online core
 * Weights are memory-mapped and used in place, never copied (on the GPU:
 * copied to device memory once). */
tessera_model *tessera_model_create(const char *weights_path, int threads, char *err, size_t errsize);

/* Runs the model once. inputs[i] points to input i's data and outputs[i] to
 * room for output i, in the declared order below; buffers need no particular
 * alignment. Returns 0, or nonzero with a message (a run-time error such as an
 * index out of range). Runs on one model are serialized; use one model per
 * thread to run concurrently. */
int tessera_model_run(tessera_model *m, const void *const *inputs, void *const *outputs, char *err,
                      size_t errsize);

/* Stops the threads and releases the weights mapping. NULL is allowed. */
void tessera_model_free(tessera_model *m);

/* Introspection: the inputs and outputs in declared order. dtype is one of
 * "f32", "f16", "bf16", "i32", "i64", "bool"; dims has rank entries; nbytes is
 * the size of the buffer to pass. An index out of range gives NULL / -1 / 0. */
int tessera_model_num_inputs(const tessera_model *m);
int tessera_model_num_outputs(const tessera_model *m);
const char *tessera_model_input_name(const tessera_model *m, int i);
const char *tessera_model_input_dtype(const tessera_model *m, int i);
int tessera_model_input_rank(const tessera_model *m, int i);
const int64_t *tessera_model_input_dims(const tessera_model *m, int i);
size_t tessera_model_input_nbytes(const tessera_model *m, int i);
const char *tessera_model_output_name(const tessera_model *m, int i);
const char *tessera_model_output_dtype(const tessera_model *m, int i);
int tessera_model_output_rank(const tessera_model *m, int i);
const int64_t *tessera_model_output_dims(const tessera_model *m, int i);
size_t tessera_model_output_nbytes(const tessera_model *m, int i);

/* Worker threads in use (0 for a model compiled with --target cuda), the CPU
 * the kernels were compiled for ("x86-64-v3") or, for --target cuda, the GPU
 * architecture of their cubin ("sm_90a"), and the tessera version that
 * compiled them. */
int tessera_model_threads(const tessera_model *m);
const char *tessera_model_cpu(const tessera_model *m);
const char *tessera_model_version(const tessera_model *m);

#ifdef __cplusplus
}
#endif

#endif
