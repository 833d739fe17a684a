/* compile_cc.c — builds an artifact's shared library and executable with the
 * C compiler: $CC when set, else the one tessera itself was built with. The
 * compiler's own messages go to a log file and, on failure, into the one
 * error line, so a failed link says why without a rerun. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "artifact_info.h"
#include "build_info.h"
#include "tools/cli.h"

extern char **environ;

#define MAX_ARGS 96

const char *ts_compile_cc(void) {
    const char *cc = getenv("CC");
    return cc && cc[0] ? cc : TS_BUILD_CC;
}

struct argv_buf {
    char *v[MAX_ARGS + 1];
    int n;
    char words[2048]; /* the split copies of $CC and the link flags */
    size_t used;
};

static void push(struct argv_buf *a, const char *s) {
    TS_ASSERT(a->n < MAX_ARGS); /* our own command lines: a fixed, small number of arguments */
    a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
}

/* Appends the whitespace-separated words of s ("ccache gcc", "-fsanitize=address"). */
static bool push_words(struct argv_buf *a, const char *s) {
    size_t len = strlen(s);
    if (a->used + len + 1 > sizeof a->words) return false;
    char *copy = a->words + a->used;
    memcpy(copy, s, len + 1);
    a->used += len + 1;
    for (char *w = strtok(copy, " \t"); w; w = strtok(NULL, " \t")) push(a, w);
    return true;
}

/* The compiler's output, on one line (" | " between its lines), clipped to fit a message. */
static void read_log(const char *path, char *buf, size_t size) {
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char raw[512];
    size_t n = fread(raw, 1, sizeof raw, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    size_t out = 0;
    bool space = true; /* at the start, or after a separator */
    size_t i = 0;
    for (; i < n && out + 8 < size; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '\n' && out > 0) {
            while (out > 0 && buf[out - 1] == ' ') out--;
            memcpy(buf + out, " | ", 3);
            out += 3;
            space = true;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!space) buf[out++] = ' ';
            space = true;
        } else if (c >= 0x20 && c != 0x7f) {
            buf[out++] = (char)c;
            space = false;
        }
    }
    while (out > 0 && (buf[out - 1] == ' ' || buf[out - 1] == '|')) out--;
    buf[out] = '\0';
    if (more || i < n) strcpy(buf + out, " ..."); /* room kept by the loop */
}

/* Runs argv with stdout and stderr into log; a failure names 'file' and says what was done. */
static enum ts_status run(struct argv_buf *a, const char *log, const char *file, const char *what,
                          struct ts_diag *d) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, a->v[0], &fa, NULL, a->v, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return ts_diag_set(d, TS_ERR_IO, file, what, "cannot run the C compiler '%s': %s (set $CC to a C compiler)",
                           a->v[0], strerror(rc));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return ts_diag_set(d, TS_ERR_IO, file, what, "waitpid: %s", strerror(errno));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return TS_OK;
    char out[560];
    read_log(log, out, sizeof out);
    if (WIFEXITED(status))
        return ts_diag_set(d, TS_ERR_IO, file, what, "%s failed (exit status %d): %s", a->v[0], WEXITSTATUS(status),
                           out[0] ? out : "no output");
    return ts_diag_set(d, TS_ERR_IO, file, what, "%s was killed by signal %d: %s", a->v[0],
                       WIFSIGNALED(status) ? WTERMSIG(status) : 0, out[0] ? out : "no output");
}

static bool start(struct argv_buf *a) {
    memset(a, 0, sizeof *a);
    return push_words(a, ts_compile_cc()) && a->n > 0;
}

/* The static libraries every artifact links, and what they need from the system. */
static void push_libraries(struct argv_buf *a, bool with_main) {
    static const char *const libs[] = {TS_ARTIFACT_LIBS};
    push(a, "-Wl,--start-group");
    if (with_main) push(a, TS_ARTIFACT_MAIN_LIB);
    push(a, TS_ARTIFACT_LIB);
    for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) push(a, libs[i]);
    push(a, "-Wl,--end-group");
    push(a, TS_ARTIFACT_CJSON);
    push(a, "-lm");
    push(a, "-lpthread");
    push(a, "-ldl"); /* the CUDA driver is loaded with dlopen (in libc itself on glibc 2.34 and later) */
    push_words(a, TS_ARTIFACT_LINK_FLAGS);
    push(a, "-Wl,-z,noexecstack");
}

enum ts_status ts_compile_build(const struct ts_compile_paths *p, const char *name,
                                void (*step)(void *ctx, const char *what), void *ctx, struct ts_diag *d) {
    struct argv_buf a;
    char what[300];
    const char *cc_fail = "the compiler command ($CC) is empty or too long";

    if (step) step(ctx, "compiling the plan");
    if (!start(&a)) return ts_diag_set(d, TS_ERR_USAGE, "", "$CC", "%s", cc_fail);
    push(&a, "-c");
    push(&a, "-fPIC");
    push(&a, "-O1");
    push(&a, "-w"); /* generated data: nothing to warn about, and no warning flags to depend on */
    push(&a, "-I" TS_ARTIFACT_SOURCE_DIR);
    push(&a, "-o");
    push(&a, p->plan_o);
    push(&a, p->plan_c);
    TS_TRY(run(&a, p->log, p->out_so, "compiling the generated plan", d));

    if (!start(&a)) return ts_diag_set(d, TS_ERR_USAGE, "", "$CC", "%s", cc_fail);
    push(&a, "-c");
    push(&a, "-o");
    push(&a, p->data_o);
    push(&a, p->data_s);
    TS_TRY(run(&a, p->log, p->out_so, "assembling the constants and weights", d));

    snprintf(what, sizeof what, "linking lib%s.so", name);
    if (step) step(ctx, what);
    char soname[300], exports[4200];
    snprintf(soname, sizeof soname, "-Wl,-soname,lib%s.so", name);
    snprintf(exports, sizeof exports, "-Wl,--version-script=%s", p->exports);
    if (!start(&a)) return ts_diag_set(d, TS_ERR_USAGE, "", "$CC", "%s", cc_fail);
    push(&a, "-shared");
    push(&a, "-o");
    push(&a, p->so);
    push(&a, soname);
    push(&a, exports);
    push(&a, "-Wl,--as-needed");
    /* With sanitizers the runtime comes from the executable that loads the library. */
    if (!TS_ARTIFACT_LINK_FLAGS[0]) push(&a, "-Wl,--no-undefined");
    push(&a, p->plan_o);
    if (p->kernels_o[0]) push(&a, p->kernels_o); /* none for cuda: the kernels are data */
    push(&a, p->data_o);
    /* Every object of the loader, even though nothing in the library calls it. */
    push(&a, "-Wl,--whole-archive");
    push(&a, TS_ARTIFACT_LIB);
    push(&a, "-Wl,--no-whole-archive");
    push_libraries(&a, false);
    TS_TRY(run(&a, p->log, p->out_so, "linking", d));

    snprintf(what, sizeof what, "linking %s", name);
    if (step) step(ctx, what);
    if (!start(&a)) return ts_diag_set(d, TS_ERR_USAGE, "", "$CC", "%s", cc_fail);
    push(&a, "-o");
    push(&a, p->exe);
    push(&a, "-Wl,--as-needed");
    push(&a, p->plan_o);
    if (p->kernels_o[0]) push(&a, p->kernels_o); /* none for cuda: the kernels are data */
    push(&a, p->data_o);
    push_libraries(&a, true);
    return run(&a, p->log, p->out_exe, "linking", d);
}
