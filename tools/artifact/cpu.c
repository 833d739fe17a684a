/* cpu.c — whether the machine running a compiled model has the instructions
 * its kernels were compiled for: a clear message instead of SIGILL when an
 * AVX-512 build meets an AVX2 machine. */
#include <stdio.h>
#include <string.h>

#include "tools/artifact/artifact.h"

const char *const ts_artifact_cpu_feature_names[] = {
    "sse4.2", "avx", "avx2", "fma", "bmi2", "avx512f", "avx512bw", "avx512dq", "avx512vl", NULL,
};

/* __builtin_cpu_supports takes string literals only, hence the switch (in the
 * order of the names above; only features both gcc and clang know). */
static int has_feature(int i) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    switch (i) {
    case 0: return __builtin_cpu_supports("sse4.2");
    case 1: return __builtin_cpu_supports("avx");
    case 2: return __builtin_cpu_supports("avx2");
    case 3: return __builtin_cpu_supports("fma");
    case 4: return __builtin_cpu_supports("bmi2");
    case 5: return __builtin_cpu_supports("avx512f");
    case 6: return __builtin_cpu_supports("avx512bw");
    case 7: return __builtin_cpu_supports("avx512dq");
    case 8: return __builtin_cpu_supports("avx512vl");
    default: return 1;
    }
#else
    (void)i;
    return 1;
#endif
}

int ts_artifact_cpu_check(const char *features, char *missing, size_t size) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
#endif
    size_t used = 0;
    if (size) missing[0] = '\0';
    int bad = 0;
    for (int i = 0; ts_artifact_cpu_feature_names[i]; i++) {
        const char *name = ts_artifact_cpu_feature_names[i];
        size_t n = strlen(name);
        bool listed = false;
        for (const char *p = features; (p = strstr(p, name)) != NULL; p += n)
            if ((p == features || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) listed = true;
        if (!listed || has_feature(i)) continue;
        bad = 1;
        if (used < size) used += (size_t)snprintf(missing + used, size - used, "%s%s", used ? ", " : "", name);
    }
    return bad;
}
