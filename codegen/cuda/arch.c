/* arch.c — GPU architectures: parsing "sm_90a", "90", "9.0" … into a
 * ts_cuda_arch (sm_80 and up) and the shared memory a block may use on each. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The architectures NVRTC 13 compiles for from Ampere on, and whether each
 * has an arch-specific ("a") variant. */
static const struct {
    int sm;
    bool has_specific;
} known[] = {
    {80, false},  {86, false},  {87, false}, {88, false}, {89, false},  {90, true},  {100, true},
    {101, true},  {103, true},  {110, true}, {120, true}, {121, true},
};

#define TSC_ARCH_RANGE "sm_80, sm_86, sm_87, sm_88, sm_89, sm_90[a], sm_100[a], sm_101[a], sm_103[a], sm_110[a], sm_120[a], sm_121[a]"

enum ts_status ts_cuda_arch_parse(const char *s, struct ts_cuda_arch *out, struct ts_diag *d) {
    const char *p = s ? s : "";
    if (strncmp(p, "sm_", 3) == 0) p += 3;
    else if (strncmp(p, "compute_", 8) == 0) p += 8;
    int sm = -1;
    bool specific = false;
    if (isdigit((unsigned char)p[0]) && p[1] == '.' && isdigit((unsigned char)p[2]) && p[3] == '\0') {
        sm = (p[0] - '0') * 10 + (p[2] - '0'); /* "9.0": major.minor */
    } else if (isdigit((unsigned char)p[0])) {
        int n = 0, v = 0;
        while (isdigit((unsigned char)p[n]) && n < 4) v = v * 10 + (p[n++] - '0');
        if (p[n] == 'a' && p[n + 1] == '\0') specific = true, sm = v;
        else if (p[n] == '\0') sm = v;
    }
    if (sm < 0)
        return ts_diag_set(d, TS_ERR_USAGE, "", "--arch",
                           "'%s' is not a GPU architecture: expected sm_XY[a], XY or X.Y (one of " TSC_ARCH_RANGE ")",
                           s ? s : "");
    if (sm < 80)
        return ts_diag_set(d, TS_ERR_USAGE, "", "--arch",
                           "'%s' is older than sm_80 (Ampere), the oldest architecture tessera generates code for "
                           "(supported: " TSC_ARCH_RANGE ")",
                           s);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (known[i].sm != sm) continue;
        if (specific && !known[i].has_specific)
            return ts_diag_set(d, TS_ERR_USAGE, "", "--arch",
                               "'%s': sm_%d has no arch-specific 'a' variant (supported: " TSC_ARCH_RANGE ")", s, sm);
        memset(out, 0, sizeof *out);
        out->sm = sm;
        out->specific = specific;
        snprintf(out->name, sizeof out->name, "sm_%d%s", sm, specific ? "a" : "");
        return TS_OK;
    }
    return ts_diag_set(d, TS_ERR_USAGE, "", "--arch", "'%s' is not an architecture NVRTC knows (supported: " TSC_ARCH_RANGE ")",
                       s);
}

int tsc_arch_max_shared(const struct ts_cuda_arch *a) {
    switch (a->sm) {
    case 80:
    case 87: return 163 * 1024;
    case 86:
    case 88:
    case 89:
    case 120:
    case 121: return 99 * 1024;
    default: return 227 * 1024; /* sm_90, sm_100 … */
    }
}
