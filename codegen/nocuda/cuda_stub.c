/* cuda_stub.c — the cuda/ functions of codegen.h in a build without the CUDA
 * toolkit's headers (TESSERA_HAVE_CUDA_HEADERS 0): each says so with
 * TS_ERR_UNSUPPORTED instead of generating or compiling anything. */
#include <string.h>

#include "codegen/codegen.h"

#define TSC_NO_CUDA "built without the CUDA toolkit headers (nvrtc.h): the CUDA target is unavailable"

static enum ts_status no_cuda(struct ts_diag *d) { return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "cuda", TSC_NO_CUDA); }

enum ts_status ts_cuda_arch_parse(const char *s, struct ts_cuda_arch *out, struct ts_diag *d) {
    (void)s;
    memset(out, 0, sizeof *out);
    return no_cuda(d);
}

void ts_cuda_sched_default(struct ts_kernel *k, const struct ts_cuda_arch *arch, bool strict_f32) {
    (void)k, (void)arch, (void)strict_f32;
}

enum ts_status ts_cuda_sched_check(const struct ts_kernel *k, const struct ts_cuda_arch *arch, struct ts_diag *d) {
    (void)k, (void)arch;
    return no_cuda(d);
}

enum ts_status ts_cuda_codegen(const struct ts_program *p, const struct ts_cuda_opts *o, struct ts_cuda_code **out,
                               struct ts_diag *d) {
    (void)p, (void)o;
    *out = NULL;
    return no_cuda(d);
}

/* No code object can exist in this build: the accessors are never reached. */
const struct ts_cuda_arch *ts_cuda_code_arch(const struct ts_cuda_code *c) {
    (void)c;
    return NULL;
}
const char *ts_cuda_code_source(const struct ts_cuda_code *c) {
    (void)c;
    return "";
}
const char *ts_cuda_code_symbol(const struct ts_cuda_code *c, int kernel) {
    (void)c, (void)kernel;
    return "";
}
int ts_cuda_code_nfunctions(const struct ts_cuda_code *c) {
    (void)c;
    return 0;
}
void ts_cuda_code_launch(const struct ts_cuda_code *c, int kernel, struct ts_cuda_launch *out) {
    (void)c, (void)kernel;
    memset(out, 0, sizeof *out);
}
const struct ts_kernel *ts_cuda_code_kernel(const struct ts_cuda_code *c, int kernel) {
    (void)c, (void)kernel;
    return NULL;
}
enum ts_status ts_cuda_code_compile(struct ts_cuda_code *c, struct ts_diag *d) {
    (void)c;
    return no_cuda(d);
}
const char *ts_cuda_code_ptx(const struct ts_cuda_code *c, size_t *size) {
    (void)c;
    if (size) *size = 0;
    return "";
}
const void *ts_cuda_code_cubin(const struct ts_cuda_code *c, size_t *size) {
    (void)c;
    if (size) *size = 0;
    return NULL;
}
const char *ts_cuda_code_log(const struct ts_cuda_code *c) {
    (void)c;
    return "";
}
bool ts_cuda_code_cache_hit(const struct ts_cuda_code *c) {
    (void)c;
    return false;
}
double ts_cuda_code_compile_seconds(const struct ts_cuda_code *c) {
    (void)c;
    return 0;
}
void ts_cuda_code_free(struct ts_cuda_code *c) { (void)c; }

enum ts_status ts_nvrtc_version(int *major, int *minor, struct ts_diag *d) {
    *major = *minor = 0;
    return no_cuda(d);
}

enum ts_status ts_nvrtc_compile(const char *source, const char *name, const struct ts_cuda_arch *arch,
                                const char *const *opts, int nopts, bool want_cubin, struct ts_nvrtc_result *out,
                                struct ts_diag *d) {
    (void)source, (void)name, (void)arch, (void)opts, (void)nopts, (void)want_cubin;
    memset(out, 0, sizeof *out);
    return no_cuda(d);
}

void ts_nvrtc_result_free(struct ts_nvrtc_result *r) {
    if (r) memset(r, 0, sizeof *r);
}

bool ts_ptxas_report(const char *log, const char *symbol, int *registers, int64_t *spill_bytes, int64_t *stack_bytes) {
    (void)log, (void)symbol;
    if (registers) *registers = 0;
    if (spill_bytes) *spill_bytes = 0;
    if (stack_bytes) *stack_bytes = 0;
    return false;
}
