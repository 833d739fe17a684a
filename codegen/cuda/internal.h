/* internal.h — what the CUDA C emitters share: the source text builder, the
 * per-kernel emission context, expression and store emission, the per-kind
 * emitters and schedules, and the code object that compile.c fills with
 * NVRTC's output. Only codegen/cuda/ includes it.
 *
 * A program becomes one translation unit:
 *     the prelude (prelude/NAME.cuh, embedded at build time as ts_cuda_prelude)
 *     then one extern "C" __global__ function per distinct kernel,
 *     each followed (under #ifdef TS_EMULATE) by a trampoline
 *         extern "C" void SYM_emu(void **params)
 *     that calls it with params[i] cast to the parameter types, so that
 *     tests/cuda_emu can run the same text on the host. */
#ifndef TESSERA_CODEGEN_CUDA_INTERNAL_H
#define TESSERA_CODEGEN_CUDA_INTERNAL_H

#include <stdarg.h>

#include "codegen/codegen.h"

/* ---- src.c: growable source text --------------------------------------- */

struct tsc_src {
    char *data;  /* NUL-terminated; NULL until the first append */
    size_t len, cap;
    bool oom;    /* an allocation failed: the text is incomplete */
};
void tsc_printf(struct tsc_src *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tsc_vprintf(struct tsc_src *s, const char *fmt, va_list ap);
void tsc_puts(struct tsc_src *s, const char *text);
void tsc_src_free(struct tsc_src *s);

/* The prelude: prelude/primitives.cuh, math.cuh, rowwise.cuh, gemm.cuh,
 * attention.cuh concatenated in that order (generated prelude.c). */
extern const char ts_cuda_prelude[];

/* ---- types and parameters ------------------------------------------------ */

/* How a buffer element is stored in device memory: "float", "unsigned short"
 * (f16, bf16: raw bits), "int", "long long", "unsigned char" (bool). */
const char *tsc_storage_type(enum ts_dtype t);
/* The C type of an expression scalar: "float", "double", "long long", "bool". */
const char *tsc_scalar_type(enum ts_scalar s);

/* Writes the parameter list of the kernel ABI (codegen.h), parenthesized:
 *   (const float *__restrict__ in0, …, float *__restrict__ out, void *workspace, int *error)
 * An input whose buffer is also the output (in-place) is not __restrict__. */
void tsc_emit_params(struct tsc_src *s, const struct ts_kernel *k);
/* Writes the TS_EMULATE trampoline for SYM (see above). */
void tsc_emit_trampoline(struct tsc_src *s, const struct ts_kernel *k, const char *sym);

/* ---- expr.c: expressions, loads and stores --------------------------------- */

/* Where an expression is evaluated: a C expression (type long long) for each
 * iteration index, and what ACC and ROW stand for. NULL fields take the
 * defaults given. Names must stay valid for the statements emitted. */
struct tsc_env {
    const char *index[TS_MAX_RANK]; /* required for every dim the expression or store reads */
    const char *acc;                /* ACC's value (k->acc_type for GEMM, float for ATTENTION) */
    const char *row;                /* ROW's value (float) */
    const char *in[64];             /* base pointer of input i (default "in<i>") */
    const char *out;                /* output base pointer (default "out") */
    const char *error;              /* the error word (default "error") */
    const char *prefix;             /* SSA variable prefix, unique in its scope (default "v") */
};

/* The element offset (C expression, long long) of operand op at env's
 * indices: "(off + s0*(i0) + …)", zero strides left out. */
void tsc_operand_offset(const struct ts_koperand *op, int rank, const struct tsc_env *e, char *out,
                        size_t n);
/* Emits C statements computing expression entries up to 'root' (only those
 * it needs), each a local "const T <prefix><i> = …;", and writes the C name
 * of root's value into name. Errors (a zero integer divisor, an index out of
 * range) call ts_raise(error, e) and continue on a safe value, never reading
 * out of bounds. */
void tsc_emit_expr(struct tsc_src *s, const struct ts_kernel *k, const struct tsc_env *e, int root,
                   char *name, size_t n);
/* Emits the statement storing 'value' (of scalar type 'type') to the output
 * at env's indices, converted to the output dtype exactly as the reference
 * does (f16/bf16 round to nearest even, i32 wraps, bool is != 0). */
void tsc_emit_store(struct tsc_src *s, const struct ts_kernel *k, const struct tsc_env *e,
                    const char *value, enum ts_scalar type);
/* Marks the inputs that the entries 'root' needs read with a plain LOAD
 * (plain[i]) and with a gather (gathered[i]); leaves other flags as they are
 * (call once per root to collect several). root -1 reads nothing. */
void tsc_expr_loads(const struct ts_kernel *k, int root, bool *plain, bool *gathered);
/* Whether operand op can be accessed vec elements at a time along the last
 * dim with naturally aligned vector accesses: contiguous there, and offset,
 * last dim and every other stride multiples of vec (buffers are 256-byte
 * aligned by the runtime). */
bool tsc_vec_ok(const struct ts_kernel *k, const struct ts_koperand *op, int vec);
/* The value a kernel stores: emits the expression for k->out_root (or takes
 * ACC when out_root is -1) and the store. */
void tsc_emit_output(struct tsc_src *s, const struct ts_kernel *k, const struct tsc_env *e);

/* ---- the emitters ------------------------------------------------------- */

/* One kernel being emitted. The emitter appends the whole __global__
 * function named sym (ABI of codegen.h) plus any helpers it needs (named
 * with sym as prefix) and fills 'launch'. */
struct tsc_emit {
    struct tsc_src *src;
    const struct ts_kernel *k;         /* its gpu schedule filled and checked */
    const struct ts_cuda_arch *arch;
    bool strict_f32;
    const char *sym;
    struct ts_cuda_launch launch;      /* out */
};
enum ts_status tsc_emit_pointwise(struct tsc_emit *e, struct ts_diag *d);
enum ts_status tsc_emit_rowwise(struct tsc_emit *e, struct ts_diag *d);
enum ts_status tsc_emit_gemm(struct tsc_emit *e, struct ts_diag *d);
enum ts_status tsc_emit_attention(struct tsc_emit *e, struct ts_diag *d);

/* ---- sched*.c: default schedules and legality, per kind ------------------ */
/* Each fills only zero fields; each check returns TS_ERR_UNSUPPORTED naming
 * k->name and the rule broken. ts_cuda_sched_default/check dispatch here. */
void tsc_sched_default_pointwise(struct ts_kernel *k, const struct ts_cuda_arch *a);
void tsc_sched_default_rowwise(struct ts_kernel *k, const struct ts_cuda_arch *a);
void tsc_sched_default_gemm(struct ts_kernel *k, const struct ts_cuda_arch *a, bool strict_f32);
void tsc_sched_default_attention(struct ts_kernel *k, const struct ts_cuda_arch *a, bool strict_f32);
enum ts_status tsc_sched_check_pointwise(const struct ts_kernel *k, const struct ts_cuda_arch *a,
                                         struct ts_diag *d);
enum ts_status tsc_sched_check_rowwise(const struct ts_kernel *k, const struct ts_cuda_arch *a,
                                       struct ts_diag *d);
enum ts_status tsc_sched_check_gemm(const struct ts_kernel *k, const struct ts_cuda_arch *a,
                                    struct ts_diag *d);
enum ts_status tsc_sched_check_attention(const struct ts_kernel *k, const struct ts_cuda_arch *a,
                                         struct ts_diag *d);
/* Shared memory a block may use on arch with opt-in (bytes): 163 KiB on
 * sm_80, 99 KiB on sm_86/89, 227 KiB on sm_90. */
int tsc_arch_max_shared(const struct ts_cuda_arch *a);

/* emit_attention.c: the bytes of shared memory the attention template uses for
 * a block of bq query rows, bk keys per step and 'stages' K/V slots (Q tile +
 * stages · (K tile + V tile), rows padded). */
int64_t tsc_attn_shared_bytes(const struct ts_kernel *k, int bq, int bk, int stages);

#include "codegen/cuda/hopper.h" /* issue #8: the sm_90a wgmma/TMA GEMM (hopper_gemm.c), off by default */
/* ---- nvrtc.c, cache.c: what the compile cache keys on ---------------------- */

/* The options every compile gets, and the loaded NVRTC's identity (its path,
 * size and mtime: patch releases all report the same version; "" before
 * loading or if unknown). */
const char *const *tsc_nvrtc_fixed_options(int *n);
const char *tsc_nvrtc_identity(void);
/* The cache folder for ts_cuda_opts.cache_dir (NULL: the default chain);
 * false when there is none usable (then nothing is cached, and no error). */
bool tsc_cache_dir(const char *cache_dir, char **out);
/* SHA-256 over source, arch, options, cubin or not, NVRTC version and identity. */
void tsc_cache_key(const char *source, const struct ts_cuda_arch *arch, const char *const *opts,
                   int nopts, bool cubin, int nv_major, int nv_minor, unsigned char key[32]);
/* A whole, checked entry, or false (missing, truncated, corrupt, foreign). */
bool tsc_cache_load(const char *dir, const unsigned char key[32], struct ts_nvrtc_result *out);
/* Writes an entry atomically (temporary file, then rename); failures are ignored. */
void tsc_cache_store(const char *dir, const unsigned char key[32], const struct ts_nvrtc_result *r);

/* ---- the code object (code.c builds it, compile.c compiles it) ----------- */

struct ts_cuda_code {
    struct ts_cuda_arch arch;
    bool strict_f32, no_cache, ptxas_verbose;
    char *cache_dir;               /* malloc'd, or NULL for the default */
    const struct ts_program *program;
    struct ts_kernel *kernels;     /* copies of the program's, gpu schedules filled */
    int nkernels;
    char **symbols;                /* per kernel (identical kernels share one string) */
    int nfunctions;
    struct ts_cuda_launch *launches;
    char *source;                  /* the translation unit */
    /* compile.c */
    bool compiled, cache_hit;
    double compile_seconds;
    struct ts_nvrtc_result nv;     /* ptx, cubin, log */
};

#endif
