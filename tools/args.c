/* args.c — option parsing helpers and error reporting shared by the verbs. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"

int ts_cli_exit_status(enum ts_status st) {
    if (st == TS_OK) return 0;
    return st == TS_ERR_USAGE ? 2 : 1;
}

int ts_cli_fail(const struct ts_diag *d) {
    ts_diag_print(d, stderr);
    return ts_cli_exit_status(d->status);
}

int ts_cli_usage_error(const char *verb, const char *opt, const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (opt && opt[0])
        fprintf(stderr, "tessera: error: %s: %s (see tessera %s --help)\n", opt, what, verb);
    else
        fprintf(stderr, "tessera: error: %s (see tessera %s --help)\n", what, verb);
    return 2;
}

int ts_cli_parse_count(const char *verb, const char *opt, const char *arg, int64_t min, int64_t max, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (!arg[0] || *end || errno || v < min || v > max)
        return ts_cli_usage_error(verb, opt, "expected an integer from %lld to %lld, got '%s'", (long long)min,
                                  (long long)max, arg);
    *out = v;
    return 0;
}

int ts_cli_parse_bind(const char *verb, const char *arg, struct ts_cli_binds *b) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return ts_cli_usage_error(verb, "--bind", "expected SYMBOL=SIZE, got '%s'", arg);
    if (b->n >= (int)(sizeof b->items / sizeof b->items[0]))
        return ts_cli_usage_error(verb, "--bind", "too many --bind options (at most 64)");
    int64_t size = 0;
    int rc = ts_cli_parse_count(verb, "--bind", eq + 1, 0, (int64_t)1 << 40, &size);
    if (rc) return rc;
    char symbol[128], source[256];
    snprintf(symbol, sizeof symbol, "%.*s", (int)(eq - arg) < 127 ? (int)(eq - arg) : 127, arg);
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->symbols[i], symbol) == 0 && b->items[i].size != size)
            return ts_cli_usage_error(verb, "--bind", "symbol '%s' is bound twice, to %lld and %lld", symbol,
                                      (long long)b->items[i].size, (long long)size);
    snprintf(source, sizeof source, "--bind %.200s", arg);
    ts_cli_binds_add(b, symbol, size, source);
    return 0;
}

bool ts_cli_binds_add(struct ts_cli_binds *b, const char *symbol, int64_t size, const char *source) {
    if (b->n >= (int)(sizeof b->items / sizeof b->items[0])) return false;
    int i = b->n++;
    snprintf(b->symbols[i], sizeof b->symbols[i], "%s", symbol);
    snprintf(b->sources[i], sizeof b->sources[i], "%s", source);
    b->items[i] = (struct ts_bind){b->symbols[i], size, b->sources[i]};
    return true;
}

bool ts_cli_stderr_is_tty(void) { return isatty(2) == 1; }

int ts_cli_check_path(const char *verb, const char *opt, const char *path) {
    if (path && !path[0]) return ts_cli_usage_error(verb, opt, "expects a file path, got an empty string");
    return 0;
}

const char *ts_cli_option_value(const char *verb, int argc, char **argv, int *i, const char *name, int *rc) {
    size_t n = strlen(name);
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (*i + 1 >= argc) {
        *rc = ts_cli_usage_error(verb, name, "expects a value");
        return NULL;
    }
    return argv[++*i];
}

bool ts_cli_is_option(const char *arg, const char *name) {
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

int ts_cli_check_arch(const char *verb, const char *arch) {
    struct ts_diag d;
    struct ts_cuda_arch a;
    ts_diag_clear(&d);
    if (ts_cuda_arch_parse(arch, &a, &d) != TS_OK) return ts_cli_usage_error(verb, "--arch", "%s", d.what);
    return 0;
}

bool ts_cli_parse_machine(const char *verb, int argc, char **argv, int *i, struct ts_cli_machine *m, int *rc) {
    const char *a = argv[*i], *v;
    *rc = 0;
    if (ts_cli_is_option(a, "--threads")) {
        if ((v = ts_cli_option_value(verb, argc, argv, i, "--threads", rc)))
            *rc = ts_cli_parse_count(verb, "--threads", v, 1, 1024, &m->threads);
    } else if (ts_cli_is_option(a, "--cpu")) {
        m->cpu = ts_cli_option_value(verb, argc, argv, i, "--cpu", rc);
    } else if (ts_cli_is_option(a, "--arch")) {
        if ((m->arch = ts_cli_option_value(verb, argc, argv, i, "--arch", rc))) *rc = ts_cli_check_arch(verb, m->arch);
    } else if (ts_cli_is_option(a, "--device")) {
        if ((v = ts_cli_option_value(verb, argc, argv, i, "--device", rc)))
            *rc = ts_cli_parse_count(verb, "--device", v, 0, 1023, &m->device);
        m->device_given = true;
    } else if (strcmp(a, "--strict-f32") == 0) {
        m->strict_f32 = true;
    } else {
        return false;
    }
    return true;
}

int ts_cli_check_machine(const char *verb, enum ts_target target, const struct ts_cli_machine *m) {
    if ((m->threads || m->cpu) && target != TS_TARGET_CPU)
        return ts_cli_usage_error(verb, m->threads ? "--threads" : "--cpu", "only --target cpu takes it");
    if ((m->arch || m->strict_f32 || m->device_given) && target != TS_TARGET_CUDA)
        return ts_cli_usage_error(verb, m->arch ? "--arch" : m->strict_f32 ? "--strict-f32" : "--device",
                                  "only --target cuda takes it");
    if (m->cpu) {
        struct ts_diag d;
        struct ts_cpu_info info;
        ts_diag_clear(&d);
        if (ts_cpu_info_init(m->cpu, &info, &d) != TS_OK) return ts_cli_usage_error(verb, "--cpu", "%s", d.what);
    }
    return 0;
}

int ts_cli_model_arg(const char *verb, const char *arg, const char **model) {
    if (arg[0] == '-' && arg[1]) return ts_cli_usage_error(verb, arg, "unknown option");
    if (*model) return ts_cli_usage_error(verb, arg, "unexpected argument (one model at a time)");
    *model = arg;
    return 0;
}
