/* cli.h — private to tools/: the verbs of the tessera command and the helpers
 * they share (option parsing, inputs, output summaries). */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "passes/passes.h"

/* Exit statuses: 0 success, 1 error, 2 bad usage. */
int ts_cli_exit_status(enum ts_status st);
/* Prints d as the one error line and returns the exit status for it. */
int ts_cli_fail(const struct ts_diag *d);
/* A usage error about one option: prints "tessera: error: OPT: WHAT (see tessera VERB --help)"; returns 2. */
int ts_cli_usage_error(const char *verb, const char *opt, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Options shared by run and inspect. */
struct ts_cli_binds {
    struct ts_bind items[64];
    char symbols[64][128]; /* storage for items[i].symbol */
    char sources[64][512]; /* storage for items[i].source */
    int n;
};
/* Appends a bind, copying the strings; returns false when full. */
bool ts_cli_binds_add(struct ts_cli_binds *b, const char *symbol, int64_t size, const char *source);
/* Parses "sym=N" into binds; returns 0 or the usage exit status. */
int ts_cli_parse_bind(const char *verb, const char *arg, struct ts_cli_binds *b);
/* Parses a non-negative integer option value; returns 0 or the usage exit status. */
int ts_cli_parse_count(const char *verb, const char *opt, const char *arg, int64_t min, int64_t max, int64_t *out);

/* inputs.c: the run's inputs, from a tensor file or filled. */
enum ts_cli_fill { TS_FILL_RANDOM, TS_FILL_ZEROS, TS_FILL_ONES };
/* Reads the inputs file and appends the symbol sizes its shapes fix to binds. */
enum ts_status ts_cli_inputs_open(const struct ts_graph *g, const char *path, struct ts_safetensors **out,
                                  struct ts_cli_binds *binds, struct ts_diag *d);
/* After shapes are bound: one tensor per graph input (views into st, or filled). */
enum ts_status ts_cli_inputs_make(const struct ts_graph *g, const struct ts_safetensors *st, enum ts_cli_fill fill,
                                  uint64_t seed, struct ts_tensor *inputs, struct ts_diag *d);

/* summary.c: what run prints about each output. */
struct ts_cli_timing {
    double median_ms, min_ms, max_ms;
    int repeat;
};
/* Where the inputs came from, for --json. */
struct ts_cli_source {
    const char *inputs_file; /* NULL when filled */
    const char *fill;        /* "random", "zeros", "ones" */
    uint64_t seed;
};
void ts_cli_print_outputs(const struct ts_graph *g, const struct ts_tensor *outs, const struct ts_cli_timing *t,
                          const char *target, FILE *f);
void ts_cli_print_outputs_json(const struct ts_graph *g, const struct ts_tensor *outs, const struct ts_cli_timing *t,
                               const char *target, const struct ts_cli_source *src, FILE *f);

/* Whether progress may be redrawn in place. */
bool ts_cli_stderr_is_tty(void);

/* progress.c: progress of long work on standard error. */
struct ts_cli_progress {
    bool enabled, tty, shown;
    double start, last;
};
void ts_cli_progress_start(struct ts_cli_progress *p, bool enabled);
void ts_cli_progress_show(struct ts_cli_progress *p, const char *text); /* rate-limited */
void ts_cli_progress_end(struct ts_cli_progress *p);

/* Whether arg is option name, as "--name" or "--name=value". */
bool ts_cli_is_option(const char *arg, const char *name);
/* The value of option argv[*i] ("--name v", advancing *i, or "--name=v"); NULL
 * with *rc set to the usage exit status (after printing why) when missing. */
const char *ts_cli_option_value(const char *verb, int argc, char **argv, int *i, const char *name, int *rc);

/* Refuses (usage error) an option whose file path is empty. */
int ts_cli_check_path(const char *verb, const char *opt, const char *path);

int ts_cli_run(int argc, char **argv);
int ts_cli_inspect(int argc, char **argv);
int ts_cli_later(const char *verb, int argc, char **argv);

#endif
