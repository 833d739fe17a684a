/* target.c — the machine a tuning record belongs to: the CPU (model, LLVM
 * name, a hash of its feature string, vector width, workers, caches) or the
 * GPU (name, arch, SMs, driver and NVRTC versions), and the one key line a
 * database reader compares. */
#include <ctype.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autotune/autotune.h"

/* The thread pool's own limit (runtime/pool.c): a target never claims more. */
#define MAX_THREADS 1024

uint64_t ts_fnv64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Field text goes into a '|'-joined key and into JSON: keep it one printable
 * line without the separator. */
static void clean_field(char *s) {
    for (char *c = s; *c; c++)
        if (*c == '|')
            *c = '/';
        else if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

/* "model name\t: AMD EPYC 9R45 96-Core Processor" from /proc/cpuinfo. */
static void read_model_name(char *out, size_t size) {
    snprintf(out, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *colon = strchr(line, ':');
        if (!colon) continue;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        size_t n = strlen(v);
        while (n > 0 && isspace((unsigned char)v[n - 1])) n--;
        if (n > 0) snprintf(out, size, "%.*s", (int)n, v);
        break;
    }
    fclose(f);
}

static int64_t sysconf_bytes(int name) {
    long v = sysconf(name);
    return v > 0 ? (int64_t)v : 0;
}

/* One line of a small sysfs file, trailing whitespace dropped; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (!ok) return false;
    size_t n = strlen(buf);
    while (n > 0 && isspace((unsigned char)buf[n - 1])) buf[--n] = '\0';
    return true;
}

/* "48K", "2048K", "32M" as bytes; 0 if not understood. */
static int64_t parse_size(const char *s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0) return 0;
    if (*end == 'K' || *end == 'k') return (int64_t)v << 10;
    if (*end == 'M' || *end == 'm') return (int64_t)v << 20;
    if (*end == 'G' || *end == 'g') return (int64_t)v << 30;
    return *end ? 0 : (int64_t)v;
}

/* Where sysconf does not know (musl, some containers, non-x86 glibc): the
 * kernel's description of cpu0's caches, index0..N with level and type. */
static void read_sysfs_caches(int64_t *l1, int64_t *l2, int64_t *l3) {
    glob_t g;
    if (glob("/sys/devices/system/cpu/cpu0/cache/index*", 0, NULL, &g) != 0) return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char path[512], level[32], type[32], size[32];
        snprintf(path, sizeof path, "%s/level", g.gl_pathv[i]);
        if (!read_line(path, level, sizeof level)) continue;
        snprintf(path, sizeof path, "%s/type", g.gl_pathv[i]);
        if (!read_line(path, type, sizeof type)) continue;
        snprintf(path, sizeof path, "%s/size", g.gl_pathv[i]);
        if (!read_line(path, size, sizeof size)) continue;
        if (strcmp(type, "Instruction") == 0) continue;
        int64_t bytes = parse_size(size);
        int lv = atoi(level);
        if (lv == 1 && !*l1) *l1 = bytes;
        if (lv == 2 && !*l2) *l2 = bytes;
        if (lv == 3 && !*l3) *l3 = bytes;
    }
    globfree(&g);
}

enum ts_status ts_tune_target_cpu(const struct ts_cpu_info *cpu, int threads, struct ts_tune_target *out,
                                  struct ts_diag *d) {
    TS_ASSERT(cpu && out);
    memset(out, 0, sizeof *out);
    if (threads < 0 || threads > MAX_THREADS)
        return ts_diag_set(d, TS_ERR_USAGE, "", "--threads", "expected 0 (one per core) to %d workers, got %d",
                           MAX_THREADS, threads);
    if (threads == 0) {
        /* As the thread pool resolves 0, so that the key matches the workers used. */
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
    }
    out->kind = TS_TARGET_CPU;
    read_model_name(out->device, sizeof out->device);
    snprintf(out->arch, sizeof out->arch, "%s", cpu->name);
    uint64_t h = ts_fnv64(TS_FNV64_INIT, cpu->features, strlen(cpu->features));
    snprintf(out->features, sizeof out->features, "%016llx", (unsigned long long)h);
    out->vector_bits = cpu->vector_bits;
    out->vector_regs = cpu->vector_bits >= 512 ? 32 : 16;
    out->threads = threads;
#ifdef _SC_LEVEL1_DCACHE_SIZE
    out->l1_bytes = sysconf_bytes(_SC_LEVEL1_DCACHE_SIZE);
    out->l2_bytes = sysconf_bytes(_SC_LEVEL2_CACHE_SIZE);
    out->l3_bytes = sysconf_bytes(_SC_LEVEL3_CACHE_SIZE);
#else
    (void)sysconf_bytes;
#endif
    if (!out->l1_bytes || !out->l2_bytes || !out->l3_bytes)
        read_sysfs_caches(&out->l1_bytes, &out->l2_bytes, &out->l3_bytes);
    clean_field(out->device);
    clean_field(out->arch);
    ts_tune_target_key(out);
    return TS_OK;
}

void ts_tune_target_cuda(const struct ts_rt_cuda_info *gpu, const struct ts_cuda_arch *arch, int nvrtc_major,
                         int nvrtc_minor, bool strict_f32, struct ts_tune_target *out) {
    TS_ASSERT(gpu && arch && out);
    memset(out, 0, sizeof *out);
    out->kind = TS_TARGET_CUDA;
    snprintf(out->device, sizeof out->device, "%s", gpu->name);
    snprintf(out->arch, sizeof out->arch, "%s", arch->name);
    out->sm_count = gpu->sm_count;
    out->driver_version = gpu->driver_version;
    snprintf(out->nvrtc, sizeof out->nvrtc, "%d.%d", nvrtc_major, nvrtc_minor);
    out->strict_f32 = strict_f32;
    clean_field(out->device);
    clean_field(out->arch);
    ts_tune_target_key(out);
}

/* Only what decides the generated code and its speed goes into the key:
 * caches and register counts follow from the CPU model and features. */
void ts_tune_target_key(struct ts_tune_target *t) {
    if (t->kind == TS_TARGET_CUDA)
        snprintf(t->key, sizeof t->key, "cuda|%s|%s|%dsm|drv%d|nvrtc%s|%s", t->device, t->arch, t->sm_count,
                 t->driver_version, t->nvrtc, t->strict_f32 ? "strict_f32" : "tf32");
    else
        snprintf(t->key, sizeof t->key, "%s|%s|%s|f=%s|%d|t%d", ts_target_name(t->kind), t->device, t->arch,
                 t->features, t->vector_bits, t->threads);
}
