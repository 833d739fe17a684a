/* generate.c — `tessera generate`: greedy decoding of a decoder model with a
 * key/value cache (docs/FORMAT.md, "Decoder models with a key/value cache").
 *
 * The one graph is compiled twice: prefill (seq = the prompt's length) and
 * decode (seq = 1), both with max_seq = prompt + max-new, so a run compiles
 * exactly twice whatever it generates. The caches are host buffers zeroed
 * once; each call's present.* outputs are handed the memory of its past.*
 * inputs when the compiled program allows it (ts_program_output_may_alias_input:
 * the one kernel reading the past writes the present at the same index), so
 * the cache is updated in place; otherwise they are copied back after each
 * call and the summary says so. --check recomputes every step from the whole
 * sequence without a cache in the reference interpreter and requires the same
 * token at every step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "runtime/runtime.h"
#include "tools/cli.h"

static const char generate_usage[] =
    "usage: tessera generate MODEL.json --tokens IDS --max-new N [options]\n"
    "\n"
    "Greedy decoding with a key/value cache: runs the prompt through the model\n"
    "once (prefill), then one token at a time (decode), each time appending the\n"
    "token with the largest logit. MODEL is a decoder graph in the cache form of\n"
    "docs/FORMAT.md (inputs tokens, positions, past.*; outputs logits, present.*),\n"
    "such as examples/gpt/decoder.json. Batch 1.\n"
    "\n"
    "options:\n"
    "  --tokens IDS            the prompt's token ids, comma- or space-separated\n"
    "  --max-new N             tokens to generate (at most; see --eos)\n"
    "  --eos ID                stop after generating this token\n"
    "  --max-seq N             cache length (default: prompt + max-new)\n"
    "  --target ref|cpu|cuda   where to run (default cpu)\n"
    "  --threads N, --cpu NAME the CPU options of tessera run\n"
    "  --arch, --device, --strict-f32  the GPU options of tessera run\n"
    "  --db FILE               cpu, cuda: tuned schedules (tessera tune)\n"
    "  --check                 recompute every step without a cache in the reference\n"
    "                          interpreter; fail unless every token is the same\n"
    "  -h, --help              this help\n";

struct gen_opts {
    const char *model, *db;
    int64_t *prompt;
    int nprompt;
    int64_t max_new, max_seq, eos; /* max_seq 0: prompt + max_new; eos -1: none */
    enum ts_target target;
    struct ts_cli_machine m;
    bool check;
};

/* Parses "1,2, 3" or "1 2 3" into o->prompt. */
static int parse_tokens(const char *arg, struct gen_opts *o) {
    int cap = 16, n = 0;
    int64_t *ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) return ts_cli_usage_error("generate", "--tokens", "out of memory");
    const char *p = arg;
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || v > INT32_MAX || (*end && *end != ',' && *end != ' ' && *end != '\t')) {
            free(ids);
            return ts_cli_usage_error("generate", "--tokens", "expected token ids (integers 0 to 2^31-1) separated by "
                                      "commas or spaces, got '%s'", arg);
        }
        if (n == cap) {
            int64_t *more = realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
            if (!more) {
                free(ids);
                return ts_cli_usage_error("generate", "--tokens", "out of memory");
            }
            ids = more;
        }
        ids[n++] = v;
        p = end;
    }
    if (n == 0) {
        free(ids);
        return ts_cli_usage_error("generate", "--tokens", "the prompt is empty: give at least one token id");
    }
    free(o->prompt);
    o->prompt = ids;
    o->nprompt = n;
    return 0;
}

static int parse_generate_args(int argc, char **argv, struct gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->target = TS_TARGET_CPU;
    o->eos = -1;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(generate_usage, stdout);
            return -1;
        } else if (ts_cli_is_option(a, "--target")) {
            if (!(v = ts_cli_option_value("generate", argc, argv, &i, "--target", &rc))) return rc;
            if (!ts_target_from_name(v, &o->target))
                return ts_cli_usage_error("generate", "--target", "expected ref, cpu or cuda, got '%s'", v);
        } else if (ts_cli_is_option(a, "--tokens")) {
            if (!(v = ts_cli_option_value("generate", argc, argv, &i, "--tokens", &rc))) return rc;
            if ((rc = parse_tokens(v, o))) return rc;
        } else if (ts_cli_is_option(a, "--max-new")) {
            if (!(v = ts_cli_option_value("generate", argc, argv, &i, "--max-new", &rc))) return rc;
            if ((rc = ts_cli_parse_count("generate", "--max-new", v, 1, 1 << 20, &o->max_new))) return rc;
        } else if (ts_cli_is_option(a, "--max-seq")) {
            if (!(v = ts_cli_option_value("generate", argc, argv, &i, "--max-seq", &rc))) return rc;
            if ((rc = ts_cli_parse_count("generate", "--max-seq", v, 1, 1 << 24, &o->max_seq))) return rc;
        } else if (ts_cli_is_option(a, "--eos")) {
            if (!(v = ts_cli_option_value("generate", argc, argv, &i, "--eos", &rc))) return rc;
            if ((rc = ts_cli_parse_count("generate", "--eos", v, 0, INT32_MAX, &o->eos))) return rc;
        } else if (ts_cli_is_option(a, "--db")) {
            if (!(o->db = ts_cli_option_value("generate", argc, argv, &i, "--db", &rc))) return rc;
        } else if (ts_cli_parse_machine("generate", argc, argv, &i, &o->m, &rc)) {
            if (rc) return rc;
        } else if (strcmp(a, "--check") == 0) {
            o->check = true;
        } else if ((rc = ts_cli_model_arg("generate", a, &o->model))) {
            return rc;
        }
    }
    if (!o->model) return ts_cli_usage_error("generate", "", "no model given");
    if (!o->prompt) return ts_cli_usage_error("generate", "--tokens", "no prompt given");
    if (!o->max_new) return ts_cli_usage_error("generate", "--max-new", "how many tokens to generate is not given");
    if ((rc = ts_cli_check_path("generate", "--db", o->db))) return rc;
    if (o->db && o->target == TS_TARGET_REF)
        return ts_cli_usage_error("generate", "--db", "tuned schedules are for compiled kernels: give --target cpu or cuda");
    if ((rc = ts_cli_check_machine("generate", o->target, &o->m))) return rc;
    int64_t need = o->nprompt + o->max_new;
    if (o->max_seq && o->max_seq < need)
        return ts_cli_usage_error("generate", "--max-seq", "%lld is shorter than the prompt (%d) plus --max-new (%lld)",
                                  (long long)o->max_seq, o->nprompt, (long long)o->max_new);
    if (!o->max_seq) o->max_seq = need;
    return 0;
}

/* ---- the model's layout --------------------------------------------------- */

/* Which graph input and output is what, by FORMAT.md's names. */
struct layout {
    int tokens, positions, logits; /* graph input, input, output index */
    int npairs;
    int *past, *present;           /* graph input and output index of each cache pair */
};

static int find_input(const struct ts_graph *g, const char *name) {
    for (int i = 0; i < g->ninputs; i++)
        if (strcmp(g->values[g->inputs[i]].name, name) == 0) return i;
    return -1;
}

static int find_output(const struct ts_graph *g, const char *name) {
    for (int i = 0; i < g->noutputs; i++)
        if (strcmp(g->values[g->outputs[i]].name, name) == 0) return i;
    return -1;
}

static enum ts_status need_named(const struct ts_graph *g, int found, const char *what, const char *name,
                                 struct ts_diag *d) {
    if (found >= 0) return TS_OK;
    return ts_diag_set(d, TS_ERR_GRAPH, g->path, what,
                       "generate needs a decoder graph with a key/value cache (docs/FORMAT.md, \"Decoder models "
                       "with a key/value cache\"), and this one has no %s '%s'", what, name);
}

static enum ts_status read_layout(const struct ts_graph *g, struct layout *l, struct ts_diag *d) {
    memset(l, 0, sizeof *l);
    l->tokens = find_input(g, "tokens");
    l->positions = find_input(g, "positions");
    l->logits = find_output(g, "logits");
    TS_TRY(need_named(g, l->tokens, "input", "tokens", d));
    TS_TRY(need_named(g, l->positions, "input", "positions", d));
    TS_TRY(need_named(g, l->logits, "output", "logits", d));
    l->past = calloc((size_t)g->ninputs + 1, sizeof *l->past);
    l->present = calloc((size_t)g->ninputs + 1, sizeof *l->present);
    if (!l->past || !l->present) return ts_diag_set(d, TS_ERR_NOMEM, g->path, "", "out of memory");
    for (int i = 0; i < g->ninputs; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        if (i == l->tokens || i == l->positions) {
            if (v->dtype != TS_I32 && v->dtype != TS_I64)
                return ts_diag_set(d, TS_ERR_GRAPH, g->path, v->name, "must be i32 or i64, not %s",
                                   ts_dtype_name(v->dtype));
            continue;
        }
        if (strncmp(v->name, "past.", 5) != 0)
            return ts_diag_set(d, TS_ERR_GRAPH, g->path, v->name,
                               "generate feeds only tokens, positions and past.* inputs; this input is none of them");
        char want[300];
        snprintf(want, sizeof want, "present.%s", v->name + 5);
        int o = find_output(g, want);
        TS_TRY(need_named(g, o, "output", want, d)); /* its shape is checked once bound (make_state) */
        l->past[l->npairs] = i;
        l->present[l->npairs++] = o;
    }
    if (l->npairs == 0)
        return ts_diag_set(d, TS_ERR_GRAPH, g->path, "inputs", "no past.* inputs: this graph has no key/value cache");
    return TS_OK;
}

static void free_layout(struct layout *l) {
    free(l->past);
    free(l->present);
}

/* ---- one compilation ------------------------------------------------------ */

struct phase {
    const char *what;        /* "prefill", "decode" */
    int64_t seq;
    struct ts_graph *g;
    struct ts_program *prog; /* cpu, cuda */
    struct ts_cpu_exec *cpu;
    struct ts_cuda_exec *cuda;
    bool *alias;             /* per cache pair: present written into the past's memory */
    char why_copy[512];      /* why a pair is copied instead, for the summary */
    void **extra;            /* per graph output that is neither logits nor present: a buffer */
};

/* Loads the graph and binds batch = 1, seq, max_seq (those it declares). */
static enum ts_status load_bound(const struct gen_opts *o, int64_t seq, struct ts_graph **g, struct ts_cli_binds *b,
                                 struct ts_diag *d) {
    TS_TRY(ts_graph_load(o->model, g, d));
    memset(b, 0, sizeof *b);
    const char *names[3] = {"batch", "seq", "max_seq"};
    int64_t sizes[3] = {1, seq, o->max_seq};
    for (int i = 0; i < 3; i++)
        if (ts_graph_find_symbol(*g, names[i]) >= 0) ts_cli_binds_add(b, names[i], sizes[i], "tessera generate");
    return TS_OK;
}

static enum ts_status compile_phase(const struct gen_opts *o, const struct layout *l, struct phase *ph,
                                    struct ts_diag *d) {
    struct ts_cli_binds *b = malloc(sizeof *b);
    if (!b) return ts_diag_set(d, TS_ERR_NOMEM, o->model, "", "out of memory");
    enum ts_status st = load_bound(o, ph->seq, &ph->g, b, d);
    if (st == TS_OK) {
        if (o->target == TS_TARGET_CPU) st = ts_cli_compile_cpu(ph->g, b, &o->m, o->db, &ph->prog, &ph->cpu, d);
        else if (o->target == TS_TARGET_CUDA) st = ts_cli_compile_cuda(ph->g, b, &o->m, o->db, &ph->prog, &ph->cuda, d);
        else {
            struct ts_pipeline_opts popts = {.binds = b->items, .nbinds = b->n, .stop_after = TS_PASS_COUNT};
            st = ts_pipeline_run(ph->g, &popts, d);
        }
    }
    free(b);
    TS_TRY(st);
    ph->alias = calloc((size_t)l->npairs, sizeof *ph->alias);
    ph->extra = calloc((size_t)ph->g->noutputs, sizeof *ph->extra);
    if (!ph->alias || !ph->extra) return ts_diag_set(d, TS_ERR_NOMEM, o->model, "", "out of memory");
    for (int p = 0; p < l->npairs; p++) {
        char why[400] = "";
        /* The interpreter returns fresh tensors: its presents are always copied. */
        ph->alias[p] = ph->prog && ts_program_output_may_alias_input(ph->prog, l->past[p], l->present[p], why, sizeof why);
        if (!ph->alias[p] && ph->prog && !ph->why_copy[0])
            snprintf(ph->why_copy, sizeof ph->why_copy, "%s: %s", ph->what, why);
    }
    for (int i = 0; i < ph->g->noutputs; i++) {
        bool known = i == l->logits;
        for (int p = 0; p < l->npairs; p++) known |= i == l->present[p];
        if (known) continue;
        const struct ts_value *v = &ph->g->values[ph->g->outputs[i]];
        ph->extra[i] = malloc((size_t)(ts_value_numel(v) * (int64_t)ts_dtype_size(v->dtype)) + 1);
        if (!ph->extra[i]) return ts_diag_set(d, TS_ERR_NOMEM, o->model, v->name, "out of memory");
    }
    return TS_OK;
}

static void free_phase(struct phase *ph) {
    if (ph->g && ph->extra)
        for (int i = 0; i < ph->g->noutputs; i++) free(ph->extra[i]);
    free(ph->extra);
    free(ph->alias);
    ts_cpu_exec_free(ph->cpu);
    ts_cuda_exec_free(ph->cuda);
    ts_graph_free(ph->g);
}

static size_t value_bytes(const struct ts_graph *g, int value) {
    const struct ts_value *v = &g->values[value];
    return (size_t)(ts_value_numel(v) * (int64_t)ts_dtype_size(v->dtype));
}

/* ---- running ------------------------------------------------------------ */

struct state {
    int64_t *ids;        /* prompt then generated tokens */
    int64_t n;
    void *tokens, *positions;
    void **cache, **present; /* per pair: the cache, and where a copied present lands */
    void *logits;
};

static void put_int(void *buf, enum ts_dtype dt, int64_t i, int64_t v) {
    if (dt == TS_I64) ((int64_t *)buf)[i] = v;
    else ((int32_t *)buf)[i] = (int32_t)v;
}

/* Feeds ids[start .. start+ph->seq) at positions start.. and runs ph. */
static enum ts_status run_phase(const struct gen_opts *o, const struct layout *l, struct phase *ph, struct state *s,
                                int64_t start, struct ts_diag *d) {
    const struct ts_graph *g = ph->g;
    enum ts_dtype tdt = g->values[g->inputs[l->tokens]].dtype, pdt = g->values[g->inputs[l->positions]].dtype;
    for (int64_t i = 0; i < ph->seq; i++) {
        put_int(s->tokens, tdt, i, s->ids[start + i]);
        put_int(s->positions, pdt, i, start + i);
    }
    const void **in = calloc((size_t)g->ninputs + 1, sizeof *in);
    void **out = calloc((size_t)g->noutputs + 1, sizeof *out);
    struct ts_tensor *ti = calloc((size_t)g->ninputs + 1, sizeof *ti), *to = calloc((size_t)g->noutputs + 1, sizeof *to);
    if (!in || !out || !ti || !to) {
        free(in), free(out), free(ti), free(to);
        return ts_diag_set(d, TS_ERR_NOMEM, o->model, "", "out of memory");
    }
    in[l->tokens] = s->tokens;
    in[l->positions] = s->positions;
    for (int i = 0; i < g->noutputs; i++) out[i] = ph->extra[i];
    out[l->logits] = s->logits;
    for (int p = 0; p < l->npairs; p++) {
        in[l->past[p]] = s->cache[p];
        out[l->present[p]] = ph->alias[p] ? s->cache[p] : s->present[p];
    }
    enum ts_status st;
    if (ph->cpu) st = ts_cpu_exec_run_raw(ph->cpu, in, out, d);
    else if (ph->cuda) st = ts_cuda_exec_run_raw(ph->cuda, in, out, d);
    else {
        for (int i = 0; i < g->ninputs; i++) {
            const struct ts_value *v = &g->values[g->inputs[i]];
            int64_t dims[TS_MAX_RANK];
            int rank = ts_value_dims(v, dims);
            ts_tensor_view(&ti[i], v->dtype, rank, dims, (void *)in[i]);
        }
        st = ts_interp_run(g, ti, to, d);
        for (int i = 0; st == TS_OK && i < g->noutputs; i++) {
            memcpy(out[i], to[i].data, to[i].nbytes);
            ts_tensor_release(&to[i]);
        }
    }
    for (int p = 0; st == TS_OK && p < l->npairs; p++)
        if (!ph->alias[p]) memcpy(s->cache[p], s->present[p], value_bytes(g, g->inputs[l->past[p]]));
    free(in), free(out), free(ti), free(to);
    return st;
}

/* The first largest entry of logits row 'row' (vocab entries). */
static enum ts_status argmax_row(const struct ts_graph *g, int logits, const void *data, int64_t row, int64_t *tok,
                                 double *best, struct ts_diag *d) {
    const struct ts_value *v = &g->values[g->outputs[logits]];
    int64_t dims[TS_MAX_RANK];
    int rank = ts_value_dims(v, dims);
    struct ts_tensor t;
    ts_tensor_view(&t, v->dtype, rank, dims, (void *)data);
    int64_t vocab = dims[rank - 1];
    *tok = -1;
    for (int64_t j = 0; j < vocab; j++) {
        double x = ts_tensor_get_f64(&t, row * vocab + j);
        if (x != x) return ts_diag_set(d, TS_ERR_RUNTIME, g->path, "logits", "entry %lld of row %lld is NaN",
                                       (long long)j, (long long)row);
        if (*tok < 0 || x > *best) *tok = j, *best = x;
    }
    return TS_OK;
}

/* --check: the logits of the last of ids[0..n) from the whole sequence, no
 * cache (zero past, max_seq = n), on the reference interpreter. */
static enum ts_status reference_step(const struct gen_opts *o, const struct state *s, int64_t n, double *row,
                                     int64_t vocab, struct ts_diag *d) {
    struct gen_opts ro = *o;
    ro.max_seq = n;
    struct ts_graph *g = NULL;
    struct ts_cli_binds *b = malloc(sizeof *b);
    struct ts_tensor *in = NULL, *out = NULL;
    void **bufs = NULL;
    enum ts_status st = b ? load_bound(&ro, n, &g, b, d) : ts_diag_set(d, TS_ERR_NOMEM, o->model, "", "out of memory");
    if (st == TS_OK) {
        in = calloc((size_t)g->ninputs + 1, sizeof *in);
        out = calloc((size_t)g->noutputs + 1, sizeof *out);
        bufs = calloc((size_t)g->ninputs + 1, sizeof *bufs);
        if (!in || !out || !bufs) st = ts_diag_set(d, TS_ERR_NOMEM, o->model, "", "out of memory");
    }
    if (st == TS_OK) {
        struct ts_pipeline_opts popts = {.binds = b->items, .nbinds = b->n, .stop_after = TS_PASS_COUNT};
        st = ts_pipeline_run(g, &popts, d);
    }
    struct layout l = {0};
    if (st == TS_OK) st = read_layout(g, &l, d);
    for (int i = 0; st == TS_OK && i < g->ninputs; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        bufs[i] = calloc(value_bytes(g, g->inputs[i]) + 1, 1); /* past: zeros */
        if (!bufs[i]) {
            st = ts_diag_set(d, TS_ERR_NOMEM, o->model, v->name, "out of memory");
            break;
        }
        for (int64_t k = 0; (i == l.tokens || i == l.positions) && k < n; k++)
            put_int(bufs[i], v->dtype, k, i == l.tokens ? s->ids[k] : k);
        ts_tensor_view(&in[i], v->dtype, rank, dims, bufs[i]);
    }
    if (st == TS_OK) st = ts_interp_run(g, in, out, d);
    if (st == TS_OK) {
        struct ts_tensor *t = &out[l.logits];
        for (int64_t j = 0; j < vocab; j++) row[j] = ts_tensor_get_f64(t, (n - 1) * vocab + j);
    }
    for (int i = 0; out && i < g->noutputs; i++) ts_tensor_release(&out[i]);
    for (int i = 0; bufs && i < g->ninputs; i++) free(bufs[i]);
    free(in), free(out), free(bufs);
    free_layout(&l);
    ts_graph_free(g);
    free(b);
    return st;
}

struct check_stats {
    int64_t steps, matched;
    double max_abs; /* largest |logit - reference| over every step's row */
};

/* Compares the row tessera chose token 'tok' from with the reference's. */
static enum ts_status check_step(const struct gen_opts *o, const struct phase *ph, const struct layout *l,
                                 const struct state *s, int64_t row, int64_t tok, double *ref, int64_t vocab,
                                 struct check_stats *c, struct ts_diag *d) {
    TS_TRY(reference_step(o, s, s->n - 1, ref, vocab, d)); /* the sequence before tok */
    int64_t want = 0;
    for (int64_t j = 1; j < vocab; j++)
        if (ref[j] > ref[want]) want = j;
    const struct ts_value *v = &ph->g->values[ph->g->outputs[l->logits]];
    int64_t dims[TS_MAX_RANK];
    int rank = ts_value_dims(v, dims);
    struct ts_tensor t;
    ts_tensor_view(&t, v->dtype, rank, dims, s->logits);
    for (int64_t j = 0; j < vocab; j++) {
        double e = fabs(ts_tensor_get_f64(&t, row * vocab + j) - ref[j]);
        if (e > c->max_abs) c->max_abs = e;
    }
    c->steps++;
    if (want != tok)
        return ts_diag_set(d, TS_ERR_RUNTIME, o->model, "--check",
                           "token %lld of the output: the %s target chose %lld (logit %.6g), the reference without "
                           "a cache %lld (logit %.6g; tessera's logit for it %.6g)",
                           (long long)c->steps, ts_target_name(o->target), (long long)tok,
                           ts_tensor_get_f64(&t, row * vocab + tok), (long long)want, ref[want],
                           ts_tensor_get_f64(&t, row * vocab + want));
    c->matched++;
    return TS_OK;
}

/* ---- the verb ------------------------------------------------------------- */

static void print_ids(const char *label, const int64_t *ids, int64_t n) {
    printf("%-10s %lld token%s:", label, (long long)n, n == 1 ? "" : "s");
    for (int64_t i = 0; i < n; i++) printf(" %lld", (long long)ids[i]);
    printf("\n");
}

/* The layout, from the graph as written (names, dtypes and ranks need no binding). */
static enum ts_status layout_of_model(const struct gen_opts *o, struct layout *l, struct ts_diag *d) {
    struct ts_graph *g = NULL;
    TS_TRY(ts_graph_load(o->model, &g, d));
    enum ts_status st = read_layout(g, l, d);
    ts_graph_free(g);
    return st;
}

/* Host memory for the run: token and position feeds, caches, logits. */
static enum ts_status make_state(const struct gen_opts *o, const struct layout *l, const struct phase *pre,
                                 const struct phase *dec, struct state *s, struct ts_diag *d) {
    const struct ts_graph *g = pre->g;
    s->ids = calloc((size_t)(o->nprompt + o->max_new), sizeof *s->ids);
    s->tokens = calloc((size_t)o->nprompt, sizeof(int64_t));
    s->positions = calloc((size_t)o->nprompt, sizeof(int64_t));
    s->logits = malloc(value_bytes(g, g->outputs[l->logits]) + 1); /* prefill's is the larger */
    s->cache = calloc((size_t)l->npairs, sizeof *s->cache);
    s->present = calloc((size_t)l->npairs, sizeof *s->present);
    if (!s->ids || !s->tokens || !s->positions || !s->logits || !s->cache || !s->present)
        return ts_diag_set(d, TS_ERR_NOMEM, o->model, "", "out of memory");
    memcpy(s->ids, o->prompt, (size_t)o->nprompt * sizeof *s->ids);
    s->n = o->nprompt;
    for (int p = 0; p < l->npairs; p++) {
        size_t bytes = value_bytes(g, g->inputs[l->past[p]]);
        const struct ts_value *v = &g->values[g->inputs[l->past[p]]];
        const struct ts_value *w = &g->values[g->outputs[l->present[p]]];
        if (w->dtype != v->dtype || bytes != value_bytes(g, g->outputs[l->present[p]]))
            return ts_diag_set(d, TS_ERR_GRAPH, o->model, w->name, "must have the dtype and shape of '%s'", v->name);
        if (bytes != value_bytes(dec->g, dec->g->inputs[l->past[p]]))
            return ts_diag_set(d, TS_ERR_GRAPH, o->model, v->name,
                               "its size depends on seq: a cache must be [batch, heads, max_seq, head_dim]");
        s->cache[p] = calloc(bytes + 1, 1);
        if (!s->cache[p]) return ts_diag_set(d, TS_ERR_NOMEM, o->model, v->name, "out of memory");
        if (!pre->alias[p] || !dec->alias[p]) {
            s->present[p] = malloc(bytes + 1);
            if (!s->present[p]) return ts_diag_set(d, TS_ERR_NOMEM, o->model, v->name, "out of memory");
        }
    }
    return TS_OK;
}

static void free_state(const struct layout *l, struct state *s) {
    for (int p = 0; s->cache && p < l->npairs; p++) free(s->cache[p]);
    for (int p = 0; s->present && p < l->npairs; p++) free(s->present[p]);
    free(s->cache);
    free(s->present);
    free(s->ids);
    free(s->tokens);
    free(s->positions);
    free(s->logits);
}

/* "2 pairs of [1, 4, 21, 32] f32: 43.0 KiB" */
static void describe_cache(const struct phase *ph, const struct layout *l, char *buf, size_t size) {
    const struct ts_graph *g = ph->g;
    double bytes = 0;
    for (int p = 0; p < l->npairs; p++) bytes += (double)value_bytes(g, g->inputs[l->past[p]]);
    char shape[160];
    ts_value_shape_str(g, &g->values[g->inputs[l->past[0]]], shape, sizeof shape);
    snprintf(buf, size, "%d tensors like past.%s %s %s: %.1f KiB", l->npairs,
             g->values[g->inputs[l->past[0]]].name + 5, shape,
             ts_dtype_name(g->values[g->inputs[l->past[0]]].dtype), bytes / 1024.0);
}

int ts_cli_generate(int argc, char **argv) {
    struct gen_opts o;
    int rc = parse_generate_args(argc, argv, &o);
    if (rc) {
        free(o.prompt);
        return rc < 0 ? 0 : rc;
    }
    struct ts_diag d;
    ts_diag_clear(&d);
    struct phase pre = {.what = "prefill", .seq = o.nprompt}, dec = {.what = "decode", .seq = 1};
    struct layout l = {0};
    struct state s = {0};
    struct check_stats chk = {0};
    double *ref = NULL;
    int status = 1;
    struct ts_cli_progress bar;
    ts_cli_progress_start(&bar, true);
    if (ts_codegen_check_target(o.target, &d) != TS_OK || layout_of_model(&o, &l, &d) != TS_OK) goto fail;

    const char *where = o.target == TS_TARGET_CPU ? "CPU" : "GPU";
    char text[160];
    double t0 = ts_rt_now_seconds();
    snprintf(text, sizeof text, o.target == TS_TARGET_REF ? "preparing prefill" : "compiling prefill for the %s", where);
    ts_cli_progress_show(&bar, text);
    if (compile_phase(&o, &l, &pre, &d) != TS_OK) goto fail;
    snprintf(text, sizeof text, o.target == TS_TARGET_REF ? "preparing decode" : "compiling decode for the %s", where);
    ts_cli_progress_show(&bar, text);
    if (compile_phase(&o, &l, &dec, &d) != TS_OK) goto fail;
    double compile_s = ts_rt_now_seconds() - t0;
    if (make_state(&o, &l, &pre, &dec, &s, &d) != TS_OK) goto fail;
    const struct ts_value *lv = &dec.g->values[dec.g->outputs[l.logits]];
    int64_t vocab = 0;
    {
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(lv, dims);
        if (rank != 3 || dims[0] != 1 || dims[1] != 1) {
            ts_diag_set(&d, TS_ERR_GRAPH, o.model, "logits", "must be [batch, seq, vocab]");
            goto fail;
        }
        vocab = dims[2];
    }
    if (o.check && !(ref = malloc((size_t)vocab * sizeof *ref))) {
        ts_diag_set(&d, TS_ERR_NOMEM, o.model, "", "out of memory");
        goto fail;
    }

    /* prefill: the prompt at positions 0 .. P-1; its last row gives the first token */
    ts_cli_progress_show(&bar, "prefill");
    double t1 = ts_rt_now_seconds();
    if (run_phase(&o, &l, &pre, &s, 0, &d) != TS_OK) goto fail;
    double prefill_ms = (ts_rt_now_seconds() - t1) * 1e3, decode_ms = 0, best;
    int64_t tok, decoded = 0;
    if (argmax_row(pre.g, l.logits, s.logits, o.nprompt - 1, &tok, &best, &d) != TS_OK) goto fail;
    s.ids[s.n++] = tok;
    if (o.check && check_step(&o, &pre, &l, &s, o.nprompt - 1, tok, ref, vocab, &chk, &d) != TS_OK) goto fail;
    /* decode: the last token at its position, one call per token */
    while (s.n - o.nprompt < o.max_new && tok != o.eos) {
        snprintf(text, sizeof text, "token %lld/%lld", (long long)(s.n - o.nprompt + 1), (long long)o.max_new);
        ts_cli_progress_show(&bar, text);
        double t2 = ts_rt_now_seconds();
        if (run_phase(&o, &l, &dec, &s, s.n - 1, &d) != TS_OK) goto fail;
        decode_ms += (ts_rt_now_seconds() - t2) * 1e3;
        decoded++;
        if (argmax_row(dec.g, l.logits, s.logits, 0, &tok, &best, &d) != TS_OK) goto fail;
        s.ids[s.n++] = tok;
        if (o.check && check_step(&o, &dec, &l, &s, 0, tok, ref, vocab, &chk, &d) != TS_OK) goto fail;
    }
    ts_cli_progress_end(&bar);

    print_ids("prompt", s.ids, o.nprompt);
    print_ids("generated", s.ids + o.nprompt, s.n - o.nprompt);
    printf("%-10s %d tokens in %.3f ms (%.1f tokens/s)\n", "prefill", o.nprompt, prefill_ms,
           prefill_ms > 0 ? o.nprompt / (prefill_ms * 1e-3) : 0.0);
    if (decoded)
        printf("%-10s %lld tokens in %.3f ms: %.3f ms/token, %.1f tokens/s\n", "decode", (long long)decoded, decode_ms,
               decode_ms / (double)decoded, decode_ms > 0 ? (double)decoded / (decode_ms * 1e-3) : 0.0);
    char cache[300];
    describe_cache(&pre, &l, cache, sizeof cache);
    bool in_place = true;
    for (int p = 0; p < l.npairs; p++) in_place &= pre.alias[p] && dec.alias[p];
    if (in_place) printf("%-10s %s, updated in place\n", "cache", cache);
    else if (o.target == TS_TARGET_REF) printf("%-10s %s (the interpreter's presents are copied back)\n", "cache", cache);
    else printf("%-10s %s, copied back after each call (%s)\n", "cache", cache, pre.why_copy[0] ? pre.why_copy : dec.why_copy);
    if (o.target == TS_TARGET_CPU)
        printf("%-10s prefill %d kernels, decode %d kernels for %s in %.0f ms; %d threads\n", "compiled",
               pre.prog->nkernels, dec.prog->nkernels, ts_cpu_code_info(ts_cpu_exec_code(dec.cpu))->name,
               compile_s * 1e3, ts_cpu_exec_threads(dec.cpu));
    else if (o.target == TS_TARGET_CUDA)
        printf("%-10s prefill %d kernels, decode %d kernels for %s in %.0f ms (%s)\n", "compiled", pre.prog->nkernels,
               dec.prog->nkernels, ts_cuda_code_arch(ts_cuda_exec_code(dec.cuda))->name, compile_s * 1e3,
               ts_cuda_exec_device(dec.cuda)->name);
    if (o.check)
        printf("%-10s %lld of %lld tokens match the reference interpreter recomputing each from the whole sequence "
               "without a cache (logits max abs err %.3g)\n", "check", (long long)chk.matched, (long long)chk.steps,
               chk.max_abs);
    status = 0;
    goto done;
fail:
    ts_cli_progress_end(&bar);
    status = ts_cli_fail(&d);
done:
    free(ref);
    free_state(&l, &s);
    free_phase(&pre);
    free_phase(&dec);
    free_layout(&l);
    free(o.prompt);
    return status;
}
