/* sm90_offline.c — see sm90_offline.h. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/cuda/internal.h"
#include "tests/codegen/sm90_offline.h"

struct ts_cuda_arch tso_sm90a(void) {
    struct ts_cuda_arch a;
    memset(&a, 0, sizeof a);
    a.sm = 90;
    a.specific = true;
    snprintf(a.name, sizeof a.name, "sm_90a");
    return a;
}

bool tso_nvrtc_ok(const char *test) {
    struct ts_diag d;
    ts_diag_clear(&d);
    int major, minor;
    if (ts_nvrtc_version(&major, &minor, &d) == TS_OK) return true;
    ts_diag_print(&d, stderr);
    fprintf(stderr, "%s: FAILED: NVRTC could not be loaded; the sm_90a checks need it (install the CUDA toolkit's "
                    "NVRTC, libnvrtc.so.13 or .12)\n", test);
    return false;
}

static bool executable(const char *p) { return access(p, X_OK) == 0; }

/* Finds nvdisasm or cuobjdump (sm90_offline.h); *cuobjdump says which. */
static bool locate(char *out, size_t n, bool *cuobjdump, bool *env_bad) {
    *env_bad = false;
    const char *env = getenv("TESSERA_NVDISASM");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        *cuobjdump = strstr(env, "cuobjdump") != NULL;
        if (executable(out)) return true;
        *env_bad = true;
        return false;
    }
    static const char *const tools[] = {"nvdisasm", "cuobjdump"};
    for (int t = 0; t < 2; t++) {
        *cuobjdump = t == 1;
        const char *path = getenv("PATH");
        while (path && *path) {
            size_t len = strcspn(path, ":");
            snprintf(out, n, "%.*s/%s", (int)len, path, tools[t]);
            if (len && executable(out)) return true;
            path += len + (path[len] == ':');
        }
        const char *home = getenv("CUDA_HOME");
        if (home && *home) {
            snprintf(out, n, "%s/bin/%s", home, tools[t]);
            if (executable(out)) return true;
        }
        snprintf(out, n, "/usr/local/cuda/bin/%s", tools[t]);
        if (executable(out)) return true;
    }
    /* pip install nvidia-cuda-nvdisasm puts it at nvidia/cu13/bin/nvdisasm. */
    glob_t g;
    if (glob("build*/venv/lib/python3*/site-packages/nvidia/cu*/bin/nvdisasm", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            if (!executable(g.gl_pathv[i])) continue;
            snprintf(out, n, "%s", g.gl_pathv[i]);
            *cuobjdump = false;
            globfree(&g);
            return true;
        }
    }
    globfree(&g);
    return false;
}

int tso_count(const char *hay, const char *needle) {
    int k = 0;
    size_t nl = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)); p += nl) k++;
    return k;
}

char *tso_disassemble(const char *tool, bool cuobjdump, const void *cubin, size_t size) {
    const char *base = getenv("TMPDIR");
    char path[300];
    snprintf(path, sizeof path, "%s/ts_hopper_XXXXXX", base && *base ? base : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    bool wrote = write(fd, cubin, size) == (ssize_t)size;
    close(fd);
    char *text = NULL;
    if (wrote) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, cuobjdump ? "'%s' --dump-sass '%s' 2>&1" : "'%s' -c '%s' 2>&1", tool, path);
        FILE *p = popen(cmd, "r");
        if (p) {
            struct tsc_src s = {0};
            char buf[65536];
            size_t got;
            while ((got = fread(buf, 1, sizeof buf - 1, p)) > 0) {
                buf[got] = 0;
                tsc_puts(&s, buf);
            }
            int rc = pclose(p);
            if (rc != 0 || s.oom || !s.data) {
                fprintf(stderr, "%s failed (status %d): %.400s\n", tool, rc, s.data ? s.data : "");
                tsc_src_free(&s);
            } else {
                text = s.data;
            }
        }
    }
    unlink(path);
    return text;
}


bool tso_find_disassembler(const char *test, char *out, size_t n, bool *cuobjdump) {
    bool env_bad = false;
    *cuobjdump = false;
    if (locate(out, n, cuobjdump, &env_bad)) {
        printf("SASS through %s\n", out);
        return true;
    }
    if (env_bad) fprintf(stderr, "%s: $TESSERA_NVDISASM (%s) is not an executable\n", test, out);
    else
        fprintf(stderr, "%s: no nvdisasm or cuobjdump found: run scripts/setup.sh, or set $TESSERA_NVDISASM\n", test);
    return false;
}
