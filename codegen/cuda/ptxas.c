/* ptxas.c — reads ptxas's -v report (from NVRTC's log or the ptxas binary):
 * per function, registers, stack frame and spill bytes. The report reads
 *   ptxas info    : Function properties for k3_gemm
 *   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
 *   ptxas info    : Used 128 registers, used 1 barriers, 384 bytes cmem[0]
 * (the "Used" line only for entry functions). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The number in front of " <unit>" within [p, end), or -1. */
static int64_t number_before(const char *p, const char *end, const char *unit) {
    size_t ul = strlen(unit);
    for (const char *s = p; s + ul <= end; s++) {
        if (memcmp(s, unit, ul) != 0) continue;
        const char *b = s;
        while (b > p && b[-1] == ' ') b--;
        const char *e = b;
        while (b > p && b[-1] >= '0' && b[-1] <= '9') b--;
        if (b == e) return -1;
        return strtoll(b, NULL, 10);
    }
    return -1;
}

static const char *line_end(const char *p) {
    const char *e = strchr(p, '\n');
    return e ? e : p + strlen(p);
}

bool ts_ptxas_report(const char *log, const char *symbol, int *registers, int64_t *spill_bytes,
                     int64_t *stack_bytes) {
    static const char head[] = "Function properties for ";
    size_t sl = strlen(symbol);
    const char *p = log;
    for (; (p = strstr(p, head)); p++) {
        const char *name = p + sizeof head - 1;
        /* The whole name: k3 must not match the report for k3_gemm. */
        if (strncmp(name, symbol, sl) == 0 && (name[sl] == '\n' || name[sl] == '\r' || !name[sl]))
            break;
    }
    if (!p) return false;
    const char *props = line_end(p);
    if (*props) props++;
    const char *pe = line_end(props);
    int64_t stack = number_before(props, pe, "bytes stack frame");
    int64_t st = number_before(props, pe, "bytes spill stores");
    int64_t ld = number_before(props, pe, "bytes spill loads");
    if (stack < 0 || st < 0 || ld < 0) return false;
    /* "Used N registers" follows before the next function's report. */
    int regs = 0;
    const char *next = strstr(pe, head), *next_entry = strstr(pe, "Compiling entry function");
    if (!next || (next_entry && next_entry < next)) next = next_entry;
    const char *used = strstr(pe, "Used ");
    if (used && (!next || used < next)) {
        int64_t r = number_before(used, line_end(used), "registers");
        if (r >= 0) regs = (int)r;
    }
    if (registers) *registers = regs;
    if (spill_bytes) *spill_bytes = st + ld;
    if (stack_bytes) *stack_bytes = stack;
    return true;
}
