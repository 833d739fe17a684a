/* kernel_harness.h — builds a one-kernel ts_program by hand (graph inputs as
 * buffers 0 … n-1 with random non-zero data, one graph output as buffer n),
 * runs it through the kernel-IR interpreter and through the JIT-compiled
 * kernel (all tasks at once, then in 3 chunks) and compares the outputs.
 *
 *   struct ts_kh h; ts_kh_init(&h);
 *   int x = ts_kh_input(&h, TS_F32, 2, (int64_t[]){3, 7});
 *   ts_kh_output(&h, TS_F32, 2, (int64_t[]){3, 7});
 *   h.k.kind = TS_KERNEL_POINTWISE; h.k.rank = 2; … h.k.inputs[0] = ts_kh_operand(&h, x, NULL);
 *   int l = ts_kh_kx(&h, TS_KX_LOAD, TS_SCALAR_F32, TS_F32, 0, 0, 0); …
 *   struct ts_kh_result r; ts_kh_run(&h, atol, rtol, "label", &r); CHECK(ts_kh_ok(&r));
 *   (or ts_kh_run_cuda(&h, &cuda_opts, …) for the CUDA emitter on the emulator)
 *   ts_kh_free(&h);
 */
#ifndef TESSERA_TESTS_KERNEL_HARNESS_H
#define TESSERA_TESTS_KERNEL_HARNESS_H

#include "codegen/codegen.h"

#define TS_KH_MAX_BUFFERS 8
#define TS_KH_MAX_EXPR 128

struct ts_kh {
    struct ts_graph *g;
    struct ts_kbuffer bufs[TS_KH_MAX_BUFFERS + 1];
    int nbufs;                           /* inputs, then the output (once declared) */
    int nin;                             /* graph inputs */
    struct ts_tensor in[TS_KH_MAX_BUFFERS]; /* input data: random non-zero; tests may overwrite */
    struct ts_kernel k;                  /* the kernel: tests fill it (k.inputs points at ops) */
    struct ts_koperand ops[TS_KH_MAX_BUFFERS];
    struct ts_kx expr[TS_KH_MAX_EXPR];   /* k.expr; ts_kh_kx appends */
    const char *errors[8];               /* k.errors; ts_kh_error appends */
    int in_ids[TS_KH_MAX_BUFFERS], out_id;
    unsigned long long rng;
};

struct ts_kh_result {
    enum ts_status ref;      /* ts_program_run_ref's status */
    char ref_msg[1024];      /* its message when it failed */
    enum ts_status compile;  /* ts_cpu_codegen + ts_cpu_code_jit */
    char compile_msg[1024];
    int code1, code3;        /* the kernel's return: all tasks at once; the first non-zero of 3 chunks */
    int64_t bad;             /* output elements outside the tolerance (each run counted) */
    double worst;            /* the largest absolute error seen */
};

void ts_kh_init(struct ts_kh *h);
void ts_kh_free(struct ts_kh *h);
/* Adds a graph input of the given dtype and shape with random non-zero data
 * (floats in ±[0.1, 2), integers in ±[1, 100], bools mixed); returns its buffer. */
int ts_kh_input(struct ts_kh *h, enum ts_dtype t, int rank, const int64_t *dims);
/* Declares the graph output (the next buffer); returns its buffer. */
int ts_kh_output(struct ts_kh *h, enum ts_dtype t, int rank, const int64_t *dims);
/* An operand of buffer b with the given strides (NULL: the buffer's own
 * row-major strides over the kernel's rank; set k.rank first). */
struct ts_koperand ts_kh_operand(const struct ts_kh *h, int b, const int64_t *strides);
/* Appends an expression entry and returns its index. */
int ts_kh_kx(struct ts_kh *h, enum ts_kx_op op, enum ts_scalar type, enum ts_dtype dtype, int a, int b, int c);
/* Appends a run-time error message; returns its number (from 1). */
int ts_kh_error(struct ts_kh *h, const char *msg);
/* A random double in [lo, hi) from the harness's generator. */
double ts_kh_rand(struct ts_kh *h, double lo, double hi);

/* Runs reference and JIT and compares (floats within atol + rtol·|want|,
 * NaN equal to NaN; integers and bools exactly). Mismatches are printed
 * with the label. k.inputs, k.expr and k.errors are pointed at the arrays
 * above unless the test set them; k.sched gets the CPU default (8 lanes) when
 * its fields are 0. */
void ts_kh_run(struct ts_kh *h, double atol, double rtol, const char *label, struct ts_kh_result *r);
/* The same one-kernel program rendered by ts_cuda_codegen (o: NULL for the
 * defaults; the kernel's gpu schedule fields that are zero get the default)
 * and run on the CUDA emulator (tests/cuda_emu/harness.h) instead of the JIT,
 * compared with the reference the same way. In the result, 'compile' covers
 * codegen, the host compiler and the emulator (a misuse it reports: deadlock,
 * divergent collective, bad cp.async/ldmatrix address) with its message in
 * compile_msg; code1 is the error the kernel raised (0 if none); code3 stays 0. */
void ts_kh_run_cuda(struct ts_kh *h, const struct ts_cuda_opts *o, double atol, double rtol, const char *label,
                    struct ts_kh_result *r);
/* Everything agreed and nothing failed. */
bool ts_kh_ok(const struct ts_kh_result *r);

#endif
