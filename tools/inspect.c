/* inspect.c — `tessera inspect`: prints the IR as read and after the named
 * passes, the kernels after fusion and the memory plan, or the final IR with
 * a per-op summary, the kernel counts and the memory summary. */
#include <string.h>

#include "autotune/autotune.h"
#include "tools/cli.h"

static const char inspect_usage[] =
    "usage: tessera inspect MODEL.json [--dump PASS,...] [--bind SYMBOL=N]... [--db FILE]\n"
    "\n"
    "Prints the graph IR. Without --dump, prints the IR after the whole pipeline,\n"
    "a count of nodes per op and of kernels per kind, and the memory plan's peak.\n"
    "\n"
    "options:\n"
    "  --dump PASS,...   print the IR after each named pass (listed below), or all\n"
    "  --bind SYMBOL=N   size of a symbolic dim (repeatable)\n"
    "  --db FILE         give the kernels the fastest CPU schedules this tuning\n"
    "                    database holds for this machine (as run --target cpu\n"
    "                    --db does); --dump fuse then marks them [tuned]\n"
    "  --cpu NAME        with --db: the CPU the records are for (default native)\n"
    "  --threads N       with --db: the worker count they are for (default: one\n"
    "                    per core)\n"
    "  -h, --help        this help\n"
    "\n"
    "passes:\n";

static void print_usage(void) {
    fputs(inspect_usage, stdout);
    printf("  %-8s %s\n", "parse", "the graph as read from the file");
    for (int p = 0; p < TS_PASS_COUNT; p++)
        printf("  %-8s %s\n", ts_pass_name((enum ts_pass_id)p), ts_pass_description((enum ts_pass_id)p));
    printf("  %-8s %s\n", "fuse", "the kernels: iteration spaces, index maps, expressions, absorbed nodes");
    printf("  %-8s %s\n", "plan", "the memory plan: each buffer's offset, size and lifetime");
}

/* Bits of the --dump mask beyond the passes' own (TS_DUMP_FUSE, TS_DUMP_PLAN). */
#define DUMP_PARSE (1u << (TS_PASS_COUNT + 2))
#define DUMP_ALL (((1u << TS_PASS_COUNT) - 1) | TS_DUMP_FUSE | TS_DUMP_PLAN | DUMP_PARSE)

/* "parse, verify, …, all": the names --dump accepts, from the pass table. */
static const char *pass_names(char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "parse");
    for (int p = 0; p < TS_PASS_COUNT && used < size; p++)
        used += (size_t)snprintf(buf + used, size - used, ", %s", ts_pass_name((enum ts_pass_id)p));
    if (used < size) snprintf(buf + used, size - used, ", fuse, plan, all");
    return buf;
}

/* Parses "verify,fold" into a mask (pass bits, TS_DUMP_FUSE, TS_DUMP_PLAN, DUMP_PARSE). */
static int parse_dump(const char *list, unsigned *mask) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        enum ts_pass_id p;
        if (strcmp(tok, "all") == 0)
            *mask |= DUMP_ALL;
        else if (strcmp(tok, "parse") == 0)
            *mask |= DUMP_PARSE;
        else if (strcmp(tok, "fuse") == 0)
            *mask |= TS_DUMP_FUSE;
        else if (strcmp(tok, "plan") == 0)
            *mask |= TS_DUMP_PLAN;
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

static void print_kernel_counts(const struct ts_program *p, FILE *f) {
    int counts[TS_KERNEL_KIND_COUNT] = {0}, tuned = 0;
    for (int i = 0; i < p->nkernels; i++) {
        counts[p->kernels[i].kind]++;
        tuned += p->kernels[i].tuned;
    }
    fprintf(f, "%d kernels:", p->nkernels);
    for (int k = 0; k < TS_KERNEL_KIND_COUNT; k++)
        if (counts[k]) fprintf(f, " %s %d", ts_kernel_kind_name((enum ts_kernel_kind)k), counts[k]);
    if (tuned) fprintf(f, " (%d with tuned schedules)", tuned);
    fprintf(f, "\n");
}

/* "memory: peak X vs naive Y (P%)": the arena against one buffer per intermediate. */
static void print_memory(const struct ts_program *p, FILE *f) {
    fprintf(f, "memory: peak %lld bytes vs naive %lld bytes", (long long)p->arena_bytes, (long long)p->naive_bytes);
    if (p->naive_bytes > 0) fprintf(f, " (%.1f%%)", 100.0 * (double)p->arena_bytes / (double)p->naive_bytes);
    fprintf(f, "\n");
}

int ts_cli_inspect(int argc, char **argv) {
    const char *model = NULL, *db = NULL, *cpu_name = NULL;
    int64_t threads = 0;
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
        } else if (ts_cli_is_option(a, "--db")) {
            if (!(db = ts_cli_option_value("inspect", argc, argv, &i, "--db", &rc))) return rc;
            if ((rc = ts_cli_check_path("inspect", "--db", db))) return rc;
        } else if (ts_cli_is_option(a, "--cpu")) {
            if (!(cpu_name = ts_cli_option_value("inspect", argc, argv, &i, "--cpu", &rc))) return rc;
        } else if (ts_cli_is_option(a, "--threads")) {
            const char *v = ts_cli_option_value("inspect", argc, argv, &i, "--threads", &rc);
            if (!v) return rc;
            if ((rc = ts_cli_parse_count("inspect", "--threads", v, 1, 1024, &threads))) return rc;
        } else if ((rc = ts_cli_model_arg("inspect", a, &model))) {
            return rc;
        }
    }
    if (!model) return ts_cli_usage_error("inspect", "", "no model given");
    if ((cpu_name || threads) && !db)
        return ts_cli_usage_error("inspect", cpu_name ? "--cpu" : "--threads", "only --db takes it");
    if (db && mask && !(mask & (TS_DUMP_FUSE | TS_DUMP_PLAN)))
        return ts_cli_usage_error("inspect", "--db", "schedules belong to kernels: --dump fuse or plan, or no --dump");

    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_graph *g = NULL;
    if (ts_graph_load(model, &g, &d) != TS_OK) return ts_cli_fail(&d);
    if (mask & DUMP_PARSE) {
        printf("; as read (parse)\n");
        ts_graph_print(g, stdout);
    }
    unsigned pass_mask = mask & ((1u << TS_PASS_COUNT) - 1);
    bool kernels = !mask || (mask & (TS_DUMP_FUSE | TS_DUMP_PLAN));
    struct ts_pipeline_opts o = {.binds = binds.items, .nbinds = binds.n, .dump_mask = pass_mask,
                                 .stop_after = TS_PASS_COUNT, .dump = stdout};
    /* Stop after the last pass asked for: later passes would only cost time. */
    if (mask && !kernels) {
        o.stop_after = 0;
        for (int p = 0; p < TS_PASS_COUNT; p++)
            if (pass_mask & (1u << p)) o.stop_after = (unsigned)p;
    }
    /* With --db the kernels are printed after the records are applied. */
    o.dump_mask |= mask & (db ? TS_DUMP_PLAN : TS_DUMP_FUSE | TS_DUMP_PLAN);
    fflush(stdout);
    struct ts_program *prog = NULL;
    /* The schedules `run --target cpu` would use on this host (AVX2's 8 lanes
     * where the CPU backend is not built). */
    struct ts_fuse_opts fo = {.vector_width = 8};
    struct ts_cpu_info cpu;
    struct ts_diag cd;
    ts_diag_clear(&cd);
    if (kernels && ts_cpu_info_init(cpu_name, &cpu, &cd) == TS_OK) fo.vector_width = cpu.vector_width;
    else if (db) ts_diag_set(&d, cd.status, "", "--cpu", "%s", cd.what);
    enum ts_status st = d.status;
    if (st == TS_OK) st = kernels ? ts_compile_program(g, &o, &fo, &prog, &d) : ts_pipeline_run(g, &o, &d);
    if (st == TS_OK && db) {
        struct ts_tune_target t;
        st = ts_cli_cpu_target(cpu_name, (int)threads, &t, &d);
        if (st == TS_OK) st = ts_cli_apply_db(prog, db, &t, false, &d);
        if (st == TS_OK && (mask & TS_DUMP_FUSE)) {
            printf("; after fuse (group nodes into kernels), with the schedules of %s\n", db);
            ts_program_print(prog, stdout);
        }
    }
    if (st != TS_OK) {
        fflush(stdout);
        int rc2 = ts_cli_fail(&d);
        ts_graph_free(g);
        return rc2;
    }
    if (!mask) {
        ts_graph_print(g, stdout);
        print_op_counts(g, stdout);
        print_kernel_counts(prog, stdout);
    }
    if (prog && (!mask || (mask & TS_DUMP_PLAN))) print_memory(prog, stdout);
    ts_graph_free(g);
    return 0;
}
