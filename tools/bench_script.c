/* bench_script.c — `tessera bench attention|model ARGS`: these benchmarks need
 * PyTorch as their peer, so they are Python programs under benchmarks/. This
 * file finds the script and a Python and replaces the process with
 *     PYTHON SCRIPT --tessera /abs/path/of/this/tessera ARGS...
 * so the script's exit status (and output) is the command's own. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifact_info.h" /* TS_ARTIFACT_SOURCE_DIR: the source tree this binary was built from */
#include "tools/bench_internal.h"

/* argv is main-style, as bench.c hands its sub-verbs on: argv[0] is the
 * benchmark's name and ARGS follow. A caller that passes ARGS alone works
 * too: argv[0] is only skipped when it is the name. */
int ts_bench_script(const char *what, int argc, char **argv) {
    int first = argc > 0 && argv[0] && strcmp(argv[0], what) == 0 ? 1 : 0;

    /* The script: $TESSERA_BENCHMARKS overrides the source tree (an install,
     * or a copy of the tree elsewhere). */
    const char *env_dir = getenv("TESSERA_BENCHMARKS");
    const char *dir = env_dir && *env_dir ? env_dir : TS_ARTIFACT_SOURCE_DIR "/benchmarks";
    char script[PATH_MAX];
    if (snprintf(script, sizeof script, "%s/bench_%s.py", dir, what) >= (int)sizeof script) {
        fprintf(stderr, "tessera: error: bench %s: the benchmarks folder's path is too long: %s\n", what, dir);
        return 1;
    }
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "tessera: error: bench %s: cannot read %s: %s (set $TESSERA_BENCHMARKS to the folder "
                        "holding bench_%s.py)\n", what, script, strerror(errno), what);
        return 1;
    }

    /* The script runs this very binary: its absolute path, whatever PATH or
     * the working directory say. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || n >= (ssize_t)sizeof self - 1) {
        fprintf(stderr, "tessera: error: bench %s: cannot find this executable's path: /proc/self/exe: %s\n", what,
                n < 0 ? strerror(errno) : "path too long");
        return 1;
    }
    self[n] = '\0';

    /* $TESSERA_PYTHON (one with PyTorch, say), else the virtual environment
     * scripts/setup.sh makes in the source tree (numpy, onnxruntime), else
     * python3 on PATH. */
    const char *env_py = getenv("TESSERA_PYTHON");
    static const char venv_py[] = TS_ARTIFACT_SOURCE_DIR "/build/venv/bin/python";
    const char *python = env_py && *env_py ? env_py : access(venv_py, X_OK) == 0 ? venv_py : "python3";

    /* PYTHON SCRIPT --tessera SELF ARGS... NULL */
    int nargs = argc - first;
    char **args = calloc((size_t)nargs + 5, sizeof *args);
    if (!args) {
        fprintf(stderr, "tessera: error: bench %s: out of memory\n", what);
        return 1;
    }
    args[0] = (char *)python;
    args[1] = script;
    args[2] = "--tessera";
    args[3] = self;
    for (int i = 0; i < nargs; i++) args[4 + i] = argv[first + i];
    args[4 + nargs] = NULL;

    /* The script's usage and error lines name the command the user typed. */
    char prog[64];
    snprintf(prog, sizeof prog, "tessera bench %s", what);
    setenv("TESSERA_BENCH_PROG", prog, 1);

    fflush(stdout);
    fflush(stderr);
    execvp(python, args);
    /* Only reached when Python itself could not be started. */
    int e = errno;
    fprintf(stderr, "tessera: error: bench %s: cannot run %s: %s%s\n", what, python, strerror(e),
            env_py && *env_py ? " (from $TESSERA_PYTHON)" : " (set $TESSERA_PYTHON to a Python 3 with numpy)");
    free(args);
    return 1;
}
