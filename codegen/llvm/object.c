/* object.c — writes a compiled module as a relocatable, position-independent
 * ELF object for the chosen CPU: the kernels of a deployable artifact. */
#include <stdlib.h>
#include <string.h>

#include "codegen/llvm/code.h"

enum ts_status ts_cpu_code_write_object(struct ts_cpu_code *c, const char *path, struct ts_diag *d) {
    if (!c->mod)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, path, "", "the module was already given to the JIT");
    LLVMTargetMachineRef tm = ts_llvm_target_machine(&c->cpu, d);
    if (!tm) return d->status;
    char *err = NULL;
    char *p = strdup(path);
    if (!p) {
        LLVMDisposeTargetMachine(tm);
        return ts_diag_set(d, TS_ERR_NOMEM, path, "", "out of memory");
    }
    LLVMBool failed = LLVMTargetMachineEmitToFile(tm, c->mod, p, LLVMObjectFile, &err);
    free(p);
    LLVMDisposeTargetMachine(tm);
    if (failed) {
        enum ts_status st = ts_diag_set(d, TS_ERR_IO, path, "", "cannot write the object file: %s",
                                        err ? err : "unknown LLVM error");
        LLVMDisposeMessage(err);
        return st;
    }
    LLVMDisposeMessage(err);
    return TS_OK;
}
