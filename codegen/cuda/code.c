/* code.c — ts_cuda_codegen: a program's kernels (copied, their gpu schedules
 * filled in and checked) rendered as one CUDA C translation unit — the prelude,
 * then one __global__ function per distinct kernel text followed by its
 * TS_EMULATE trampoline — and the code object's accessors (compile.c owns
 * the NVRTC ones). Identical kernels (repeated layers) share one function. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The function name while a kernel is rendered: identical kernels render
 * identical text, then the first one's name replaces it. */
#define TSC_SYM_PLACEHOLDER "TSC_KERNEL_SYMBOL_"

static bool is_float(enum ts_scalar s) { return s == TS_SCALAR_F32 || s == TS_SCALAR_F64; }

/* Checks what the expression emitter relies on, so a kernel it cannot render
 * is an error naming it rather than an assertion. */
static enum ts_status check_kernel(const struct ts_kernel *k, struct ts_diag *d) {
    const char *name = k->name ? k->name : "?";
    if (!k->name || !k->name[0])
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "cuda", "a kernel without a name cannot become a CUDA function");
    if (k->ninputs < 0 || k->ninputs > 64)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", name, "%d inputs: the CUDA backend takes at most 64",
                           k->ninputs);
    if (k->rank < 0 || k->rank > TS_MAX_RANK)
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", name, "rank %d is out of range", k->rank);
    for (int i = 0; i < k->nexpr; i++) {
        const struct ts_kx *x = &k->expr[i];
        int nargs = ts_kx_op_nargs(x->op);
        bool ok = x->op >= 0 && x->op < TS_KX_COUNT && x->type >= 0 && x->type < TS_SCALAR_COUNT;
        if (ok && nargs >= 1 && x->op != TS_KX_LOAD_AT) ok = x->a >= 0 && x->a < i;
        if (ok && nargs >= 2) ok = x->b >= 0 && x->b < i;
        if (ok && nargs >= 3) ok = x->c >= 0 && x->c < i;
        if (!ok)
            return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", name, "expression entry %d is malformed", i);
        bool isf = is_float(x->type);
        switch (x->op) {
        case TS_KX_LOAD:
        case TS_KX_LOAD_AT:
            ok = x->a >= 0 && x->a < k->ninputs && (int)k->inputs[x->a].dtype >= 0 &&
                 k->inputs[x->a].dtype < TS_DTYPE_COUNT;
            if (ok && x->op == TS_KX_LOAD_AT) ok = x->b >= 0 && x->b < i && k->expr[x->b].type == TS_SCALAR_I64;
            break;
        case TS_KX_INDEX: ok = x->a >= 0 && x->a < k->rank; break;
        case TS_KX_ROW: ok = k->kind == TS_KERNEL_ROWWISE && isf; break;
        case TS_KX_ACC: ok = k->kind == TS_KERNEL_GEMM || k->kind == TS_KERNEL_ATTENTION; break;
        case TS_KX_EXP: case TS_KX_LOG: case TS_KX_SQRT: case TS_KX_RSQRT: case TS_KX_TANH: case TS_KX_ERF:
        case TS_KX_SIGMOID: case TS_KX_SILU: case TS_KX_GELU: case TS_KX_GELU_TANH: case TS_KX_COS: case TS_KX_SIN:
        case TS_KX_POW:
            ok = isf && k->expr[x->a].type == x->type && (nargs < 2 || k->expr[x->b].type == x->type);
            break;
        case TS_KX_NEG: case TS_KX_ABS: case TS_KX_RELU:
            ok = x->type != TS_SCALAR_BOOL && k->expr[x->a].type == x->type;
            break;
        case TS_KX_ADD: case TS_KX_SUB: case TS_KX_MUL: case TS_KX_DIV: case TS_KX_MAX: case TS_KX_MIN:
            ok = x->type != TS_SCALAR_BOOL && k->expr[x->a].type == x->type && k->expr[x->b].type == x->type;
            if (ok && x->op == TS_KX_DIV && !isf) ok = x->i >= 1 && x->i <= k->nerrors;
            break;
        case TS_KX_SELECT:
            ok = k->expr[x->a].type == TS_SCALAR_BOOL && k->expr[x->b].type == x->type &&
                 k->expr[x->c].type == x->type;
            break;
        default: break;
        }
        if (ok && x->op == TS_KX_LOAD_AT) ok = x->i >= 1 && x->i <= k->nerrors;
        if (!ok)
            return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", name, "expression entry %d (%s %s) is not supported on CUDA", i,
                               ts_kx_op_name(x->op), ts_scalar_name(x->type));
    }
    if (k->out_root >= k->nexpr || (k->kind == TS_KERNEL_POINTWISE && k->out_root < 0))
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", name, "output expression %d is out of range", k->out_root);
    return TS_OK;
}

static enum ts_status emit_kernel(struct tsc_emit *em, struct ts_diag *d) {
    switch (em->k->kind) {
    case TS_KERNEL_POINTWISE: return tsc_emit_pointwise(em, d);
    case TS_KERNEL_ROWWISE: return tsc_emit_rowwise(em, d);
    case TS_KERNEL_GEMM: return tsc_emit_gemm(em, d);
    case TS_KERNEL_ATTENTION: return tsc_emit_attention(em, d);
    default: break;
    }
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", em->k->name, "kernel kind %d has no CUDA emitter", (int)em->k->kind);
}

/* Appends text with every placeholder replaced by sym. */
static void put_named(struct tsc_src *s, const char *text, const char *sym) {
    size_t pl = strlen(TSC_SYM_PLACEHOLDER);
    const char *p = text, *q;
    while ((q = strstr(p, TSC_SYM_PLACEHOLDER))) {
        tsc_printf(s, "%.*s%s", (int)(q - p), p, sym);
        p = q + pl;
    }
    tsc_puts(s, p);
}

/* Field by field: the structs have padding memcmp would read. */
static bool same_launch(const struct ts_cuda_launch *a, const struct ts_cuda_launch *b) {
    bool same = a->shared_bytes == b->shared_bytes && a->workspace_bytes == b->workspace_bytes &&
                a->ntmaps == b->ntmaps && a->persistent == b->persistent;
    for (int i = 0; i < 3; i++) same = same && a->grid[i] == b->grid[i] && a->block[i] == b->block[i];
    for (int i = 0; i < a->ntmaps && same; i++) {
        const struct ts_cuda_tmap *x = &a->tmaps[i], *y = &b->tmaps[i];
        same = x->arg == y->arg && x->dtype == y->dtype && x->rank == y->rank && x->swizzle == y->swizzle &&
               x->offset == y->offset;
        for (int j = 0; j < 3; j++) same = same && x->dims[j] == y->dims[j] && x->box[j] == y->box[j];
        for (int j = 0; j < 2; j++) same = same && x->strides[j] == y->strides[j];
    }
    return same;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}

enum ts_status ts_cuda_codegen(const struct ts_program *p, const struct ts_cuda_opts *o, struct ts_cuda_code **out,
                               struct ts_diag *d) {
    *out = NULL;
    struct ts_cuda_opts none;
    memset(&none, 0, sizeof none);
    if (!o) o = &none;
    struct ts_cuda_arch arch;
    TS_TRY(ts_cuda_arch_parse(o->arch ? o->arch : TS_CUDA_DEFAULT_ARCH, &arch, d));
    TS_TRY(ts_program_check(p, d));

    struct ts_cuda_code *c = calloc(1, sizeof *c);
    if (!c) return ts_diag_set(d, TS_ERR_NOMEM, "", "cuda", "out of memory");
    c->arch = arch;
    c->strict_f32 = o->strict_f32;
    c->no_cache = o->no_cache;
    c->ptxas_verbose = o->ptxas_verbose;
    c->program = p;
    c->nkernels = p->nkernels;
    size_t nk = (size_t)(p->nkernels > 0 ? p->nkernels : 1);
    c->kernels = calloc(nk, sizeof *c->kernels);
    c->symbols = calloc(nk, sizeof *c->symbols);
    c->launches = calloc(nk, sizeof *c->launches);
    char **texts = calloc(nk, sizeof *texts); /* per function: its text with the placeholder */
    int *first = calloc(nk, sizeof *first);   /* per function: its first kernel */
    enum ts_status st = TS_OK;
    if (!c->kernels || !c->symbols || !c->launches || !texts || !first ||
        (o->cache_dir && !(c->cache_dir = dup_str(o->cache_dir))))
        st = ts_diag_set(d, TS_ERR_NOMEM, "", "cuda", "out of memory");

    struct tsc_src src;
    memset(&src, 0, sizeof src);
    tsc_puts(&src, "// generated by tessera (codegen/cuda) for ");
    tsc_puts(&src, arch.name);
    tsc_puts(&src, "\n");
    /* the prelude's helpers unused by these kernels are not worth a warning each */
    tsc_puts(&src, "#ifndef TS_EMULATE\n#pragma nv_diag_suppress 177\n#endif\n");
    tsc_puts(&src, ts_cuda_prelude);
    for (int i = 0; i < p->nkernels && st == TS_OK; i++) {
        struct ts_kernel *k = &c->kernels[i];
        *k = p->kernels[i];
        ts_cuda_sched_default(k, &arch, o->strict_f32);
        st = ts_cuda_sched_check(k, &arch, d);
        if (st == TS_OK) st = check_kernel(k, d);
        if (st != TS_OK) break;
        struct tsc_src one;
        memset(&one, 0, sizeof one);
        struct tsc_emit em = {.src = &one, .k = k, .arch = &c->arch, .strict_f32 = o->strict_f32, .sym = TSC_SYM_PLACEHOLDER};
        st = emit_kernel(&em, d);
        if (st == TS_OK && one.oom) st = ts_diag_set(d, TS_ERR_NOMEM, "", k->name, "out of memory for its source");
        if (st != TS_OK) {
            tsc_src_free(&one);
            break;
        }
        c->launches[i] = em.launch;
        int f = 0;
        for (; f < c->nfunctions; f++)
            if (strcmp(texts[f], one.data) == 0 && same_launch(&c->launches[first[f]], &em.launch))
                break;
        if (f < c->nfunctions) {
            c->symbols[i] = c->symbols[first[f]];
            tsc_src_free(&one);
            continue;
        }
        texts[f] = one.data; /* owned now */
        first[f] = i;
        c->nfunctions++;
        if (!(c->symbols[i] = dup_str(k->name))) {
            st = ts_diag_set(d, TS_ERR_NOMEM, "", k->name, "out of memory");
            break;
        }
        tsc_puts(&src, "\n");
        put_named(&src, one.data, c->symbols[i]);
        if (em.launch.ntmaps == 0) tsc_emit_trampoline(&src, k, c->symbols[i]); /* the emulator has no TMA */
    }
    if (st == TS_OK && src.oom) st = ts_diag_set(d, TS_ERR_NOMEM, "", "cuda", "out of memory for the CUDA source");
    for (int f = 0; f < c->nfunctions; f++) free(texts[f]);
    free(texts);
    if (st != TS_OK) {
        free(first);
        tsc_src_free(&src);
        ts_cuda_code_free(c);
        return st;
    }
    free(first);
    c->source = src.data;
    if (o->dump_source && c->source) fputs(c->source, o->dump_source);
    *out = c;
    return TS_OK;
}

const struct ts_cuda_arch *ts_cuda_code_arch(const struct ts_cuda_code *c) { return &c->arch; }
const char *ts_cuda_code_source(const struct ts_cuda_code *c) { return c->source ? c->source : ""; }

const char *ts_cuda_code_symbol(const struct ts_cuda_code *c, int kernel) {
    TS_ASSERT(kernel >= 0 && kernel < c->nkernels);
    return c->symbols[kernel];
}

int ts_cuda_code_nfunctions(const struct ts_cuda_code *c) { return c->nfunctions; }

void ts_cuda_code_launch(const struct ts_cuda_code *c, int kernel, struct ts_cuda_launch *out) {
    TS_ASSERT(kernel >= 0 && kernel < c->nkernels);
    *out = c->launches[kernel];
}

const struct ts_kernel *ts_cuda_code_kernel(const struct ts_cuda_code *c, int kernel) {
    TS_ASSERT(kernel >= 0 && kernel < c->nkernels);
    return &c->kernels[kernel];
}

void ts_cuda_code_free(struct ts_cuda_code *c) {
    if (!c) return;
    if (c->symbols) {
        /* identical kernels share one string: free each once, at its first kernel */
        for (int i = 0; i < c->nkernels; i++) {
            if (!c->symbols[i]) continue;
            bool owner = true;
            for (int j = 0; j < i && owner; j++) owner = c->symbols[j] != c->symbols[i];
            if (owner) free(c->symbols[i]);
        }
    }
    free(c->symbols);
    free(c->kernels);
    free(c->launches);
    free(c->source);
    free(c->cache_dir);
    ts_nvrtc_result_free(&c->nv);
    free(c);
}
