/* inspect.c — `tessera inspect`: prints the IR as read and after the named
 * passes, or the final IR with a per-op summary. */
#include <string.h>

#include "tools/cli.h"

static const char inspect_usage[] =
    "usage: tessera inspect MODEL.json [--dump PASS,...] [--bind SYMBOL=N]...\n"
    "\n"
    "Prints the graph IR. Without --dump, prints the IR after the whole pipeline\n"
    "and a count of nodes per op.\n"
    "\n"
    "options:\n"
    "  --dump PASS,...   print the IR after each named pass (listed below), or all\n"
    "  --bind SYMBOL=N   size of a symbolic dim (repeatable)\n"
    "  -h, --help        this help\n"
    "\n"
    "passes:\n";

static void print_usage(void) {
    fputs(inspect_usage, stdout);
    printf("  %-8s %s\n", "parse", "the graph as read from the file");
    for (int p = 0; p < TS_PASS_COUNT; p++)
        printf("  %-8s %s\n", ts_pass_name((enum ts_pass_id)p), ts_pass_description((enum ts_pass_id)p));
}

/* "parse, verify, …, all": the names --dump accepts, from the pass table. */
static const char *pass_names(char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "parse");
    for (int p = 0; p < TS_PASS_COUNT && used < size; p++)
        used += (size_t)snprintf(buf + used, size - used, ", %s", ts_pass_name((enum ts_pass_id)p));
    if (used < size) snprintf(buf + used, size - used, ", all");
    return buf;
}

/* Parses "verify,fold" into a mask; bit TS_PASS_COUNT stands for "parse". */
static int parse_dump(const char *list, unsigned *mask) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        enum ts_pass_id p;
        if (strcmp(tok, "all") == 0)
            *mask |= (1u << (TS_PASS_COUNT + 1)) - 1;
        else if (strcmp(tok, "parse") == 0)
            *mask |= 1u << TS_PASS_COUNT;
        else if (ts_pass_from_name(tok, &p))
            *mask |= 1u << p;
        else {
            char names[256];
            return ts_cli_usage_error("inspect", "--dump", "unknown pass '%s' (passes: %s)", tok,
                                      pass_names(names, sizeof names));
        }
    }
    if (!*mask) return ts_cli_usage_error("inspect", "--dump", "no pass named");
    return 0;
}

static void print_op_counts(const struct ts_graph *g, FILE *f) {
    int counts[TS_OP_COUNT] = {0};
    for (int i = 0; i < g->nnodes; i++) counts[g->nodes[i].op]++;
    fprintf(f, "\n%d nodes:", g->nnodes);
    for (int op = 0; op < TS_OP_COUNT; op++)
        if (counts[op]) fprintf(f, " %s %d", ts_op_get((enum ts_op)op)->name, counts[op]);
    int weights = 0;
    uint64_t weight_bytes = 0;
    for (int i = 0; i < g->nvalues; i++)
        if (g->values[i].kind == TS_VALUE_WEIGHT) {
            weights++;
            weight_bytes += g->values[i].nbytes;
        }
    fprintf(f, "\n%d weights, %.3f MB\n", weights, (double)weight_bytes / 1e6);
}

int ts_cli_inspect(int argc, char **argv) {
    const char *model = NULL;
    unsigned mask = 0;
    struct ts_cli_binds binds;
    memset(&binds, 0, sizeof binds);
    int rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_usage();
            return 0;
        } else if (ts_cli_is_option(a, "--dump")) {
            const char *v = ts_cli_option_value("inspect", argc, argv, &i, "--dump", &rc);
            if (!v) return rc;
            if ((rc = parse_dump(v, &mask))) return rc;
        } else if (ts_cli_is_option(a, "--bind")) {
            const char *v = ts_cli_option_value("inspect", argc, argv, &i, "--bind", &rc);
            if (!v) return rc;
            if ((rc = ts_cli_parse_bind("inspect", v, &binds))) return rc;
        } else if (a[0] == '-' && a[1]) {
            return ts_cli_usage_error("inspect", a, "unknown option");
        } else if (!model) {
            model = a;
        } else {
            return ts_cli_usage_error("inspect", a, "unexpected argument (one model at a time)");
        }
    }
    if (!model) return ts_cli_usage_error("inspect", "", "no model given");

    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_graph *g = NULL;
    if (ts_graph_load(model, &g, &d) != TS_OK) return ts_cli_fail(&d);
    if (mask & (1u << TS_PASS_COUNT)) {
        printf("; as read (parse)\n");
        ts_graph_print(g, stdout);
    }
    unsigned pass_mask = mask & ((1u << TS_PASS_COUNT) - 1);
    struct ts_pipeline_opts o = {.binds = binds.items, .nbinds = binds.n, .dump_mask = pass_mask,
                                 .stop_after = TS_PASS_COUNT, .dump = stdout};
    /* Stop after the last pass asked for: later passes would only cost time. */
    if (mask) {
        o.stop_after = 0;
        for (int p = 0; p < TS_PASS_COUNT; p++)
            if (pass_mask & (1u << p)) o.stop_after = (unsigned)p;
    }
    fflush(stdout);
    if (ts_pipeline_run(g, &o, &d) != TS_OK) {
        fflush(stdout);
        int st = ts_cli_fail(&d);
        ts_graph_free(g);
        return st;
    }
    if (!mask) {
        ts_graph_print(g, stdout);
        print_op_counts(g, stdout);
    }
    ts_graph_free(g);
    return 0;
}
