/* code.h — struct ts_cpu_code, shared by module.c (which builds it), jit.c and
 * object.c (which consume its module). Only codegen/llvm/ includes it. */
#ifndef TESSERA_CODEGEN_LLVM_CODE_H
#define TESSERA_CODEGEN_LLVM_CODE_H

#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/TargetMachine.h>

#include "codegen/llvm/internal.h"

struct ts_cpu_code {
    struct ts_cpu_info cpu;
    LLVMOrcThreadSafeContextRef tsc; /* owns the module's LLVMContext */
    LLVMModuleRef mod;               /* NULL once the JIT owns it */
    LLVMOrcLLJITRef jit;             /* after ts_cpu_code_jit */
    int nkernels;
    char **symbols;                  /* per kernel; identical kernels share one string */
    int nfunctions;
};

/* A target machine for the CPU (PIC, aggressive codegen); NULL with d set on failure. */
LLVMTargetMachineRef ts_llvm_target_machine(const struct ts_cpu_info *cpu, struct ts_diag *d);

#endif
