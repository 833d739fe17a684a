/* cpu_stub.c — the CPU backend of a build without LLVM 19: every entry point
 * reports what is missing, so `tessera run --target cpu` fails with one line. */
#include "codegen/codegen.h"

static enum ts_status missing(struct ts_diag *d) {
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "--target cpu",
                       "this tessera was built without LLVM 19: install llvm-19-dev "
                       "(scripts/setup.sh does) and rebuild");
}

enum ts_status ts_cpu_info_init(const char *cpu, struct ts_cpu_info *out, struct ts_diag *d) {
    (void)cpu;
    (void)out;
    return missing(d);
}
enum ts_status ts_cpu_codegen(const struct ts_program *p, const struct ts_cpu_opts *o,
                              struct ts_cpu_code **out, struct ts_diag *d) {
    (void)p;
    (void)o;
    *out = NULL;
    return missing(d);
}
const struct ts_cpu_info *ts_cpu_code_info(const struct ts_cpu_code *c) {
    (void)c;
    return NULL;
}
const char *ts_cpu_code_symbol(const struct ts_cpu_code *c, int kernel) {
    (void)c;
    (void)kernel;
    return "";
}
int ts_cpu_code_nfunctions(const struct ts_cpu_code *c) {
    (void)c;
    return 0;
}
enum ts_status ts_cpu_code_jit(struct ts_cpu_code *c, void **fns, struct ts_diag *d) {
    (void)c;
    (void)fns;
    return missing(d);
}
enum ts_status ts_cpu_code_write_object(struct ts_cpu_code *c, const char *path, struct ts_diag *d) {
    (void)c;
    (void)path;
    return missing(d);
}
void ts_cpu_code_free(struct ts_cpu_code *c) { (void)c; }
