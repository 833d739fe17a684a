/* tessera.c — the tessera command: dispatches to the verbs. Results go to
 * standard output, progress and errors to standard error; errors are one line
 * "tessera: error: FILE: WHERE: WHAT" with exit status 1 (2 for bad usage). */
#include <signal.h>
#include <string.h>

#include "build_info.h"
#include "runtime/runtime.h"
#include "tools/cli.h"

static const char usage[] =
    "usage: tessera VERB [options]   (tessera VERB --help for each)\n"
    "\n"
    "tessera compiles transformer models (a JSON graph plus safetensors weights)\n"
    "into fast kernels for NVIDIA GPUs and CPUs, and tunes them.\n"
    "\n"
    "verbs:\n"
    "  run       run a model and summarize (or write) its outputs\n"
    "  generate  greedy decoding with a key/value cache (decoder models)\n"
    "  inspect   print the graph IR, after the passes you name\n"
    "  compile   write a deployable artifact: a shared library and an executable\n"
    "  version   print the version and what this build found\n"
    "  tune      search kernel schedules on this machine into a tuning database\n"
    "  bench     verified GEMM timings against OpenBLAS (bench gemm --target cpu)\n"
    "  db        show, pick and merge tuning records\n";

/* The GPU backend: the build, NVRTC (loaded when used) and the driver and
 * GPU (loaded with dlopen): each reported, none of them required. */
static bool print_cuda(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    bool built = ts_codegen_check_target(TS_TARGET_CUDA, &d) == TS_OK;
    if (TS_BUILD_CUDA_TOOLKIT)
        printf("  CUDA toolkit: %s at %s%s\n", TS_BUILD_CUDA_VERSION, TS_BUILD_CUDA_ROOT,
               built ? "" : " (GPU backend unavailable: no headers)");
    else
        printf("  CUDA toolkit: not found%s\n", built ? "" : " (GPU backend unavailable)");
    if (!built) return false;
    int major = 0, minor = 0;
    ts_diag_clear(&d);
    if (ts_nvrtc_version(&major, &minor, &d) == TS_OK)
        printf("  NVRTC: %d.%d (compiles for sm_80 and up; default arch %s)\n", major, minor, TS_CUDA_DEFAULT_ARCH);
    else
        printf("  NVRTC: not loadable (%s): run --target cuda and compile --target cuda cannot compile\n", d.what);
    struct ts_rt_cuda_info gpu;
    char err[512];
    if (ts_rt_cuda_probe(0, &gpu, err, sizeof err) == 0)
        printf("  GPU: %s (%s, %d SMs, %.1f GiB), driver %d.%d\n", gpu.name, gpu.arch, gpu.sm_count,
               (double)gpu.total_bytes / (1 << 30), gpu.driver_version / 1000, gpu.driver_version % 1000 / 10);
    else
        printf("  GPU: none usable (%s)\n", err);
    return true;
}

static int print_version(void) {
    printf("tessera %s\n", TS_VERSION);
    printf("  build: %s%s%s\n", TS_BUILD_TYPE, TS_BUILD_SANITIZE[0] ? ", sanitizers " : "", TS_BUILD_SANITIZE);
    bool cuda = print_cuda();
    if (TS_BUILD_LLVM) {
        struct ts_cpu_info cpu;
        struct ts_diag d;
        ts_diag_clear(&d);
        if (ts_cpu_info_init(NULL, &cpu, &d) == TS_OK)
            printf("  LLVM: %s (CPU backend: host CPU %s, %d-bit vectors%s)\n", TS_BUILD_LLVM_VERSION, cpu.name,
                   cpu.vector_bits, cpu.fma ? ", FMA" : "");
        else
            printf("  LLVM: %s (CPU backend unavailable: %s)\n", TS_BUILD_LLVM_VERSION, d.what);
        printf("  targets: ref, cpu%s\n", cuda ? ", cuda" : "");
    } else {
        printf("  LLVM: not found (CPU backend unavailable: install llvm-19-dev)\n");
        printf("  targets: ref%s\n", cuda ? ", cuda" : "");
    }
    printf("  C compiler for compiled models: %s\n", TS_BUILD_CC);
    return 0;
}

int main(int argc, char **argv) {
    /* A reader that goes away (--outputs into a FIFO or a closed pipe) must
     * give a write error with a message, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *verb = argv[1];
    char help_flag[] = "--help";
    char *help_argv[4] = {argv[0], NULL, help_flag, NULL};
    if (strcmp(verb, "help") == 0 && argc > 2) {
        /* "tessera help run" is "tessera run --help" */
        help_argv[1] = argv[2];
        argv = help_argv;
        argc = 3;
        verb = argv[1];
    } else if (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0 || strcmp(verb, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(verb, "version") == 0 || strcmp(verb, "--version") == 0) {
        if (argc > 2) {
            fprintf(stderr, "tessera: error: version takes no arguments, got '%s'\n", argv[2]);
            return 2;
        }
        return print_version();
    }
    if (strcmp(verb, "run") == 0) return ts_cli_run(argc - 1, argv + 1);
    if (strcmp(verb, "inspect") == 0) return ts_cli_inspect(argc - 1, argv + 1);
    if (strcmp(verb, "compile") == 0) return ts_cli_compile(argc - 1, argv + 1);
    if (strcmp(verb, "db") == 0) return ts_cli_db(argc - 1, argv + 1);
    if (strcmp(verb, "tune") == 0) return ts_cli_tune(argc - 1, argv + 1);
    if (strcmp(verb, "bench") == 0) return ts_cli_bench(argc - 1, argv + 1);
    if (strcmp(verb, "generate") == 0) return ts_cli_generate(argc - 1, argv + 1);
    fprintf(stderr, "tessera: error: unknown verb '%s' (verbs: run, generate, inspect, version, compile, tune, bench, db; see "
                    "tessera --help)\n", verb);
    return 2;
}
