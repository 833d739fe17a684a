/* bench.c — `tessera bench`: the options and problems of `bench gemm`, handed
 * to the target's runner (bench_cpu.c against OpenBLAS, bench_cuda.c against
 * cuBLAS and cublasLt); `bench attention` and `bench model` go to their
 * Python drivers (bench_script.c), which drive PyTorch and onnxruntime. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bench_internal.h"

static const char bench_usage[] =
    "usage: tessera bench gemm --target cpu|cuda [--suite NAME | --m LIST --n LIST --k LIST]\n"
    "                          [--dtype f32|tf32|f16|bf16] [--transpose-b] [--epilogue none|bias_gelu]\n"
    "                          [--db FILE] [--tune] [--csv FILE] [--plot FILE]\n"
    "                          [--threads N] [--cpu NAME] [--arch SM] [--device N] [--strict-f32]\n"
    "       tessera bench attention [--target cpu|cuda] ...   (tessera bench attention --help)\n"
    "       tessera bench model [--target cpu|cuda] ...       (tessera bench model --help)\n"
    "\n"
    "Times tessera's GEMM C[M,N] = A[M,K]·B (+ bias, GELU) against the peer in the\n"
    "same process on the same random data: OpenBLAS's cblas_sgemm on the CPU,\n"
    "cublasGemmEx and cublasLt on the GPU (each loaded at run time; where absent,\n"
    "tessera runs alone, checked against a plain loop). Each result is verified\n"
    "against the peer before its time counts.\n"
    "\n"
    "options:\n"
    "  --target cpu|cuda     where to run (required)\n"
    "  --suite NAME          BENCHMARKS.md's problems: quick (default) or full; on cuda also a\n"
    "                        comma list of families: d768,d4096,gqa,square,awkward\n"
    "  --m/--n/--k LIST      comma-separated sizes instead: every combination\n"
    "  --dtype T             f32 (default), tf32 (cuda: f32 data, tf32 products), f16, bf16\n"
    "                        (A, B, bias and C in T, f32 accumulation)\n"
    "  --transpose-b         B given as [N,K] (a linear layer's weight), else [K,N]\n"
    "  --epilogue E          none (default) or bias_gelu: C = gelu(A·B + bias), fused by tessera;\n"
    "                        the peer runs the GEMM and then a separate bias+GELU pass\n"
    "                        (and cublasLt its own fused epilogue)\n"
    "  --db FILE             use the database's best schedule for each problem\n"
    "  --tune                first tune problems the database lacks into it\n"
    "                        (default database $TMPDIR/tessera-bench.jsonl)\n"
    "  --csv FILE            also write the table as CSV\n"
    "  --plot FILE           a PNG bar chart of the ratios (needs gnuplot)\n"
    "  --threads N           CPU worker threads for both libraries (default: one per core)\n"
    "  --cpu NAME            the CPU to compile for (default native)\n"
    "  --arch, --device, --strict-f32   the GPU's, as for tessera run\n"
    "  -h, --help            this help\n"
    "\n"
    "TESSERA_BENCH_BREAK=1 perturbs tessera's result (a test switch): every problem FAILS.\n"
    "Exit status: 0 PASSED, 1 FAILED or error, 2 bad usage.\n";

/* ---- problems ------------------------------------------------------------------ */

static int parse_list(const char *opt, const char *v, int64_t *out, int *n) {
    *n = 0;
    const char *s = v;
    for (;;) {
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (end == s || errno || x < 1 || x > 65536 || (*end && *end != ',') || *n >= 16)
            return ts_cli_usage_error("bench", opt, "expected up to 16 sizes from 1 to 65536 separated by commas, "
                                                    "got '%s'", v);
        out[(*n)++] = x;
        if (!*end) return 0;
        s = end + 1;
    }
}

static int add(struct ts_bench_problem *p, int n, int max, int64_t m, int64_t nn, int64_t k, const char *family) {
    if (n < max) p[n++] = (struct ts_bench_problem){m, nn, k, family};
    return n;
}

static const int64_t d768[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};

/* BENCHMARKS.md's CPU problems: M from {1, 32, 128, 512} on the d=768 and
 * d=4096 layer shapes, squares 256 to 2048, awkward sizes; quick: a few. */
static int cpu_suite(struct ts_bench_problem *p, int max, bool full) {
    static const int64_t ms[] = {1, 32, 128, 512};
    static const int64_t d4096[][2] = {{4096, 4096}, {11008, 4096}, {6144, 4096}, {14336, 4096}};
    static const int64_t squares[] = {256, 512, 1024, 2048};
    static const int64_t awkward[][3] = {{1, 4097, 127}, {7, 1000, 129}, {17, 127, 4095}, {129, 129, 1000},
                                         {1000, 17, 4097}, {127, 4095, 7}, {1000, 1000, 1000}, {4097, 129, 17}};
    int n = 0;
    if (!full) {
        n = add(p, n, max, 1, 768, 768, "d768");
        n = add(p, n, max, 32, 2304, 768, "d768");
        n = add(p, n, max, 512, 2304, 768, "d768");
        n = add(p, n, max, 512, 768, 3072, "d768");
        for (int i = 0; i < 3; i++) n = add(p, n, max, squares[i], squares[i], squares[i], "square");
        n = add(p, n, max, 7, 1000, 129, "awkward");
        n = add(p, n, max, 129, 129, 1000, "awkward");
        return n;
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) n = add(p, n, max, ms[i], d768[j][0], d768[j][1], "d768");
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) n = add(p, n, max, ms[i], d4096[j][0], d4096[j][1], j >= 2 ? "gqa" : "d4096");
    for (int i = 0; i < 4; i++) n = add(p, n, max, squares[i], squares[i], squares[i], "square");
    for (int i = 0; i < 8; i++) n = add(p, n, max, awkward[i][0], awkward[i][1], awkward[i][2], "awkward");
    return n;
}

/* The GPU problems: M from {1, 16, 128, 512, 2048, 8192} on each family's
 * N×K pairs, squares 1024² to 8192², awkward sizes. quick: M 16 and 2048 on
 * d768 and d4096, the squares, four awkward ones; a comma list picks families. */
static int cuda_suite(struct ts_bench_problem *p, int max, const char *suite) {
    static const int64_t ms[] = {1, 16, 128, 512, 2048, 8192}, quick_ms[] = {16, 2048};
    static const int64_t d4096[][2] = {{12288, 4096}, {4096, 4096}, {11008, 4096}, {4096, 11008}};
    static const int64_t gqa[][2] = {{6144, 4096}, {14336, 4096}, {4096, 14336}};
    static const int64_t squares[] = {1024, 4096, 8192};
    static const int64_t awkward[][3] = {{1, 4097, 129}, {7, 17, 4097},  {17, 127, 1000},  {127, 129, 4095},
                                         {129, 1000, 7}, {1000, 4095, 17}, {4095, 7, 127}, {4097, 4097, 129}};
    bool quick = strcmp(suite, "quick") == 0, full = strcmp(suite, "full") == 0;
    const int64_t *m = quick ? quick_ms : ms;
    int nm = quick ? 2 : 6, n = 0;
    if (quick || full || strstr(suite, "d768"))
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < nm; i++) n = add(p, n, max, m[i], d768[j][0], d768[j][1], "d768");
    if (quick || full || strstr(suite, "d4096"))
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < nm; i++) n = add(p, n, max, m[i], d4096[j][0], d4096[j][1], "d4096");
    if (full || strstr(suite, "gqa"))
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < nm; i++) n = add(p, n, max, m[i], gqa[j][0], gqa[j][1], "gqa");
    if (quick || full || strstr(suite, "square"))
        for (int i = 0; i < 3; i++) n = add(p, n, max, squares[i], squares[i], squares[i], "square");
    if (quick || full || strstr(suite, "awkward"))
        for (int i = 0; i < (quick ? 4 : 8); i++) n = add(p, n, max, awkward[i][0], awkward[i][1], awkward[i][2], "awkward");
    return n;
}

static bool suite_known(enum ts_target t, const char *s) {
    if (strcmp(s, "quick") == 0 || strcmp(s, "full") == 0) return true;
    if (t != TS_TARGET_CUDA || !*s) return false;
    static const char *const families[] = {"d768", "d4096", "gqa", "square", "awkward"};
    for (const char *e = s; *e;) {
        size_t len = strcspn(e, ",");
        bool ok = false;
        for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
            ok |= len == strlen(families[i]) && strncmp(e, families[i], len) == 0;
        if (!ok) return false;
        e += len + (e[len] == ',');
    }
    return true;
}

int ts_bench_problems(const struct ts_bench_opts *o, struct ts_bench_problem *p, int max) {
    if (o->lists[0]) {
        int64_t v[3][16];
        int n[3], np = 0;
        static const char *const names[] = {"--m", "--n", "--k"};
        for (int i = 0; i < 3; i++) {
            int rc = parse_list(names[i], o->lists[i], v[i], &n[i]);
            if (rc) return -rc;
        }
        for (int i = 0; i < n[0]; i++)
            for (int j = 0; j < n[1]; j++)
                for (int k = 0; k < n[2]; k++) np = add(p, np, max, v[0][i], v[1][j], v[2][k], "list");
        return np;
    }
    const char *suite = o->suite ? o->suite : "quick";
    if (o->target == TS_TARGET_CUDA) return cuda_suite(p, max, suite);
    return cpu_suite(p, max, strcmp(suite, "full") == 0);
}

/* ---- options ------------------------------------------------------------------- */

static int parse_bench_args(int argc, char **argv, struct ts_bench_opts *o) {
    memset(o, 0, sizeof *o);
    o->dtype = TS_F32;
    int rc = 0;
    bool target_given = false;
    const char *dtype = "f32";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(bench_usage, stdout);
            return -1;
        } else if (ts_cli_is_option(a, "--target")) {
            if (!(v = ts_cli_option_value("bench", argc, argv, &i, "--target", &rc))) return rc;
            if (strcmp(v, "cpu") == 0) o->target = TS_TARGET_CPU;
            else if (strcmp(v, "cuda") == 0) o->target = TS_TARGET_CUDA;
            else return ts_cli_usage_error("bench", "--target", "expected cpu or cuda, got '%s'", v);
            target_given = true;
        } else if (ts_cli_is_option(a, "--suite")) {
            if (!(o->suite = ts_cli_option_value("bench", argc, argv, &i, "--suite", &rc))) return rc;
        } else if (ts_cli_is_option(a, "--m") || ts_cli_is_option(a, "--n") || ts_cli_is_option(a, "--k")) {
            int which = a[2] == 'm' ? 0 : a[2] == 'n' ? 1 : 2;
            static const char *const names[] = {"--m", "--n", "--k"};
            if (!(o->lists[which] = ts_cli_option_value("bench", argc, argv, &i, names[which], &rc))) return rc;
        } else if (ts_cli_is_option(a, "--dtype")) {
            if (!(dtype = ts_cli_option_value("bench", argc, argv, &i, "--dtype", &rc))) return rc;
            if (strcmp(dtype, "tf32") == 0) o->dtype = TS_F32, o->tf32 = true;
            else if (strcmp(dtype, "f32") == 0) o->dtype = TS_F32, o->tf32 = false;
            else if (strcmp(dtype, "f16") == 0) o->dtype = TS_F16, o->tf32 = false;
            else if (strcmp(dtype, "bf16") == 0) o->dtype = TS_BF16, o->tf32 = false;
            else return ts_cli_usage_error("bench", "--dtype", "expected f32, tf32, f16 or bf16, got '%s'", dtype);
        } else if (ts_cli_is_option(a, "--epilogue")) {
            if (!(v = ts_cli_option_value("bench", argc, argv, &i, "--epilogue", &rc))) return rc;
            if (strcmp(v, "bias_gelu") == 0) o->epilogue = TS_BENCH_EPI_BIAS_GELU;
            else if (strcmp(v, "none") == 0) o->epilogue = TS_BENCH_EPI_NONE;
            else return ts_cli_usage_error("bench", "--epilogue", "expected none or bias_gelu, got '%s'", v);
        } else if (strcmp(a, "--transpose-b") == 0) {
            o->trans_b = true;
        } else if (strcmp(a, "--tune") == 0) {
            o->tune = true;
        } else if (ts_cli_is_option(a, "--db")) {
            if (!(o->db = ts_cli_option_value("bench", argc, argv, &i, "--db", &rc))) return rc;
            if ((rc = ts_cli_check_path("bench", "--db", o->db))) return rc;
        } else if (ts_cli_is_option(a, "--csv")) {
            if (!(o->csv = ts_cli_option_value("bench", argc, argv, &i, "--csv", &rc))) return rc;
            if ((rc = ts_cli_check_path("bench", "--csv", o->csv))) return rc;
        } else if (ts_cli_is_option(a, "--plot")) {
            if (!(o->plot = ts_cli_option_value("bench", argc, argv, &i, "--plot", &rc))) return rc;
            if ((rc = ts_cli_check_path("bench", "--plot", o->plot))) return rc;
        } else if (ts_cli_parse_machine("bench", argc, argv, &i, &o->m, &rc)) {
            if (rc) return rc;
        } else if (a[0] == '-' && a[1]) {
            return ts_cli_usage_error("bench", a, "unknown option");
        } else {
            return ts_cli_usage_error("bench", a, "unexpected argument");
        }
    }
    if (!target_given) return ts_cli_usage_error("bench", "--target", "say where to run: --target cpu or cuda");
    if (o->suite && !suite_known(o->target, o->suite))
        return ts_cli_usage_error("bench", "--suite", "expected quick or full%s, got '%s'",
                                  o->target == TS_TARGET_CUDA ? " or families among d768,d4096,gqa,square,awkward" : "",
                                  o->suite);
    if (o->tf32 && o->target == TS_TARGET_CPU)
        return ts_cli_usage_error("bench", "--dtype", "tf32 is a GPU tensor-core mode; on the CPU f32 products are "
                                                      "exact: use --dtype f32");
    int lists = (o->lists[0] != NULL) + (o->lists[1] != NULL) + (o->lists[2] != NULL);
    if (lists && lists < 3) return ts_cli_usage_error("bench", "--m", "--m, --n and --k go together");
    if (lists && o->suite) return ts_cli_usage_error("bench", "--suite", "either --suite or --m/--n/--k, not both");
    return ts_cli_check_machine("bench", o->target, &o->m);
}

int ts_cli_bench(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (strcmp(what, "-h") == 0 || strcmp(what, "--help") == 0) {
        fputs(bench_usage, stdout);
        return 0;
    }
    if (strcmp(what, "attention") == 0 || strcmp(what, "model") == 0)
        return ts_bench_script(what, argc - 1, argv + 1);
    if (strcmp(what, "gemm") != 0)
        return ts_cli_usage_error("bench", what, "%s", what[0] ? "unknown benchmark (gemm, attention, model)"
                                                               : "say which: gemm, attention or model");
    struct ts_bench_opts o;
    int rc = parse_bench_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    static struct ts_bench_problem probs[TS_BENCH_MAX_PROBLEMS];
    int np = ts_bench_problems(&o, probs, TS_BENCH_MAX_PROBLEMS);
    if (np < 0) return -np;
    return o.target == TS_TARGET_CUDA ? ts_bench_gemm_cuda(&o, probs, np) : ts_bench_gemm_cpu(&o, probs, np);
}
