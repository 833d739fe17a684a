/* jit.c — runs a compiled module in this process through ORC LLJIT: the
 * module is handed to a JIT targeting the same CPU, libm and libc symbols
 * resolve from the process, and each kernel's address is looked up. */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Error.h>

#include "codegen/llvm/code.h"

static enum ts_status llvm_error(LLVMErrorRef e, const char *what, struct ts_diag *d) {
    char *m = LLVMGetErrorMessage(e);
    enum ts_status st = ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "JIT", "%s: %s", what, m);
    LLVMDisposeErrorMessage(m);
    return st;
}

enum ts_status ts_cpu_code_jit(struct ts_cpu_code *c, void **fns, struct ts_diag *d) {
    if (!c->mod || c->jit)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "JIT", "the module was already consumed");
    LLVMTargetMachineRef tm = ts_llvm_target_machine(&c->cpu, d);
    if (!tm) return d->status;
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    /* Takes ownership of tm: the JIT generates code for the same CPU as the
     * optimizer assumed. */
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
    LLVMOrcLLJITRef jit;
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&jit, builder);
    if (e) return llvm_error(e, "cannot create the JIT", d);
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(jit);
    LLVMOrcDefinitionGeneratorRef gen;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(jit), NULL,
                                                             NULL);
    if (e) {
        LLVMErrorRef e2 = LLVMOrcDisposeLLJIT(jit);
        if (e2) LLVMConsumeError(e2);
        return llvm_error(e, "cannot search the process for libm", d);
    }
    LLVMOrcJITDylibAddGenerator(jd, gen);
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(c->mod, c->tsc);
    c->mod = NULL; /* owned by tsm, then by the JIT */
    c->jit = jit;
    e = LLVMOrcLLJITAddLLVMIRModule(jit, jd, tsm);
    if (e) {
        LLVMOrcDisposeThreadSafeModule(tsm);
        return llvm_error(e, "cannot add the module", d);
    }
    for (int i = 0; i < c->nkernels; i++) {
        LLVMOrcExecutorAddress addr = 0;
        e = LLVMOrcLLJITLookup(jit, &addr, c->symbols[i]);
        if (e) return llvm_error(e, c->symbols[i], d);
        fns[i] = (void *)(uintptr_t)addr;
    }
    return TS_OK;
}
