/* cpu.c — which CPU the LLVM backend generates code for: the host (name and
 * features as LLVM detects them), a portable x86-64 level, or the host CPU
 * named explicitly. Owns the one-time LLVM target initialization. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "codegen/llvm/internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_failed;

static void init_llvm(void) {
    init_failed = LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter();
}

enum ts_status ts_llvm_init_targets(struct ts_diag *d) {
    pthread_once(&init_once, init_llvm);
    if (init_failed)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "--target cpu",
                           "LLVM has no code generator for this machine's architecture");
    return TS_OK;
}

/* Whether the comma-separated LLVM feature list has "+name". */
static bool has_feature(const char *features, const char *name) {
    size_t n = strlen(name);
    for (const char *p = features; (p = strstr(p, name)) != NULL; p += n) {
        if (p > features && p[-1] == '+' && (p[n] == ',' || p[n] == '\0')) return true;
    }
    return false;
}

/* The x86-64 micro-architecture levels: what each guarantees. */
static const struct {
    const char *name;
    int vector_bits;
    bool fma;
} levels[] = {
    {"x86-64", 128, false},
    {"x86-64-v2", 128, false},
    {"x86-64-v3", 256, true},
    {"x86-64-v4", 512, true},
};

enum ts_status ts_cpu_info_init(const char *cpu, struct ts_cpu_info *out, struct ts_diag *d) {
    TS_TRY(ts_llvm_init_targets(d));
    memset(out, 0, sizeof *out);
    char *triple = LLVMGetDefaultTargetTriple();
    snprintf(out->triple, sizeof out->triple, "%s", triple);
    LLVMDisposeMessage(triple);
    if (strncmp(out->triple, "x86_64", 6) != 0) {
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "--target cpu",
                           "the CPU backend generates x86-64 code; this machine is '%s'", out->triple);
    }
    char *host = LLVMGetHostCPUName();
    char host_name[64];
    snprintf(host_name, sizeof host_name, "%s", host);
    LLVMDisposeMessage(host);

    if (cpu == NULL || strcmp(cpu, "native") == 0 || strcmp(cpu, host_name) == 0) {
        char *features = LLVMGetHostCPUFeatures();
        snprintf(out->name, sizeof out->name, "%s", host_name);
        if (strlen(features) >= sizeof out->features) {
            LLVMDisposeMessage(features);
            return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "--cpu native",
                               "the host's LLVM feature list is too long");
        }
        snprintf(out->features, sizeof out->features, "%s", features);
        LLVMDisposeMessage(features);
        out->vector_bits = has_feature(out->features, "avx512f") ? 512
                           : has_feature(out->features, "avx") ? 256 : 128;
        out->fma = has_feature(out->features, "fma");
    } else {
        const char *want = strcmp(cpu, "portable") == 0 ? "x86-64-v3" : cpu;
        int found = -1;
        for (int i = 0; i < (int)(sizeof levels / sizeof levels[0]); i++)
            if (strcmp(levels[i].name, want) == 0) found = i;
        if (found < 0) {
            return ts_diag_set(d, TS_ERR_USAGE, "", "--cpu",
                               "unknown CPU '%s': use native (this host, '%s'), portable "
                               "(x86-64-v3), x86-64, x86-64-v2, x86-64-v3 or x86-64-v4",
                               cpu, host_name);
        }
        snprintf(out->name, sizeof out->name, "%s", levels[found].name);
        out->vector_bits = levels[found].vector_bits;
        out->fma = levels[found].fma;
    }
    out->vector_width = out->vector_bits / 32;
    return TS_OK;
}
