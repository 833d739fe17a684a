/* harness.c — builds emulated modules from CUDA C (host C++ compiler, cached
 * shared objects, dlopen) and runs whole programs on them laid out as the CUDA
 * runtime would, comparing with the kernel-IR reference (see harness.h). */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/cuda_emu/harness.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define TS_EMU_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define TS_EMU_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define TS_EMU_POISON(p, n) ((void)(p), (void)(n))
#define TS_EMU_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#ifndef TS_EMU_SOURCE_DIR
#error "TS_EMU_SOURCE_DIR (tests/cuda_emu) must be defined by the build"
#endif
#ifndef TS_EMU_CACHE_DIR
#define TS_EMU_CACHE_DIR "/tmp/tessera-emu-cache"
#endif
#ifndef TS_EMU_CXX
#define TS_EMU_CXX "c++"
#endif
#ifndef TS_EMU_EXTRA_FLAGS
#define TS_EMU_EXTRA_FLAGS ""
#endif

typedef int (*launch_fn)(void (*)(void **), void **, const unsigned *, const unsigned *, unsigned, char *,
                         size_t);

struct ts_emu_module {
    void *dl;
    launch_fn launch;
    char src_path[1024];
};

/* ---- building -------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[65536];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf && (buf = malloc(1))) len = 0;
    if (buf) buf[len] = 0;
    return buf;
}

static bool write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static const char *cache_dir(void) {
    const char *e = getenv("TS_EMU_CACHE_DIR");
    return e && *e ? e : TS_EMU_CACHE_DIR;
}

static const char *compiler(void) {
    const char *e = getenv("TS_EMU_CXX");
    if (e && *e) return e;
    e = getenv("CXX");
    return e && *e ? e : TS_EMU_CXX;
}

static bool mkdirs(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return false;
        *p = '/';
    }
    return mkdir(buf, 0777) == 0 || errno == EEXIST;
}

/* Runs a shell command with its output in log; on failure a message carrying
 * the log's beginning. */
static enum ts_status run_compiler(const char *cmd, const char *log, const char *what, struct ts_diag *d) {
    char full[8192];
    snprintf(full, sizeof full, "%s >'%s' 2>&1", cmd, log);
    int rc = system(full);
    if (rc == 0) return TS_OK;
    char *text = read_text(log);
    char head[600];
    snprintf(head, sizeof head, "%s", text ? text : "(no log)");
    free(text);
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", what, "the host compiler failed (%s; log %s): %s", cmd, log,
                       head);
}

/* $TS_EMU_OPT (default -O1) trades compile time against emulation speed. */
static const char *flags(void) {
    static char buf[512];
    const char *opt = getenv("TS_EMU_OPT");
    snprintf(buf, sizeof buf, "-std=c++17 %s -fPIC -w -DTS_EMULATE %s", opt && *opt ? opt : "-O1",
             TS_EMU_EXTRA_FLAGS);
    return buf;
}

/* The emulator's runtime, compiled once per (its sources, headers, compiler,
 * flags) into objects whose quoted paths go to objs for the module link. */
static enum ts_status runtime_objects(char *objs, size_t n, struct ts_diag *d) {
    static const char *const sources[] = {"emu_runtime.cpp", "emu_warp.cpp"};
    static const char *const inputs[] = {"emu_runtime.cpp", "emu_warp.cpp", "emu_internal.h", "emu.h"};
    uint64_t x = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", TS_EMU_SOURCE_DIR, inputs[i]);
        char *text = read_text(path);
        if (!text) return ts_diag_set(d, TS_ERR_IO, path, "", "cannot read the emulator's source");
        x = fnv(x, text, strlen(text));
        free(text);
    }
    x = fnv(x, compiler(), strlen(compiler()));
    x = fnv(x, flags(), strlen(flags()));
    size_t used = 0;
    objs[0] = 0;
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        char src[1024], obj[1100], tmp[1200], log[1200], cmd[4096];
        snprintf(src, sizeof src, "%s/%s", TS_EMU_SOURCE_DIR, sources[i]);
        snprintf(obj, sizeof obj, "%s/rt-%016llx-%zu.o", cache_dir(), (unsigned long long)x, i);
        used += (size_t)snprintf(objs + used, used < n ? n - used : 0, "%s'%s'", i ? " " : "", obj);
        if (access(obj, R_OK) == 0) continue;
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", obj, (long)getpid());
        snprintf(log, sizeof log, "%s.log", obj);
        snprintf(cmd, sizeof cmd, "%s %s -O2 -I'%s' -c '%s' -o '%s'", compiler(), flags(), TS_EMU_SOURCE_DIR, src,
                 tmp);
        TS_TRY(run_compiler(cmd, log, sources[i], d));
        if (rename(tmp, obj) != 0)
            return ts_diag_set(d, TS_ERR_IO, obj, "", "cannot rename %s: %s", tmp, strerror(errno));
    }
    if (used >= n) return ts_diag_set(d, TS_ERR_IO, cache_dir(), "", "the cache's path is too long");
    return TS_OK;
}

enum ts_status ts_emu_module_build(const char *source, struct ts_emu_module **out, struct ts_diag *d) {
    *out = NULL;
    const char *dir = cache_dir();
    if (!mkdirs(dir)) return ts_diag_set(d, TS_ERR_IO, dir, "", "cannot create the emulator cache: %s", strerror(errno));
    char objs[2400];
    TS_TRY(runtime_objects(objs, sizeof objs, d));
    uint64_t x = 0xcbf29ce484222325ull, y = 0x84222325cbf29ce4ull;
    x = fnv(x, source, strlen(source));
    y = fnv(y, source, strlen(source));
    x = fnv(x, objs, strlen(objs)); /* the runtime's hash, compiler and flags */
    struct ts_emu_module *m = calloc(1, sizeof *m);
    if (!m) return ts_diag_set(d, TS_ERR_NOMEM, "", "", "out of memory");
    char so[1100], tmp[1200], log[1200], cmd[8192];
    snprintf(m->src_path, sizeof m->src_path, "%s/%016llx%016llx.cu", dir, (unsigned long long)x,
             (unsigned long long)y);
    snprintf(so, sizeof so, "%s/%016llx%016llx.so", dir, (unsigned long long)x, (unsigned long long)y);
    if (access(so, R_OK) != 0) {
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", m->src_path, (long)getpid());
        if (!write_text(tmp, source) || rename(tmp, m->src_path) != 0) {
            enum ts_status st = ts_diag_set(d, TS_ERR_IO, m->src_path, "", "cannot write the source");
            free(m);
            return st;
        }
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", so, (long)getpid());
        snprintf(log, sizeof log, "%s.log", so);
        snprintf(cmd, sizeof cmd, "%s %s -shared -I'%s' -include '%s/emu.h' -x c++ '%s' -x none %s -o '%s'",
                 compiler(), flags(), TS_EMU_SOURCE_DIR, TS_EMU_SOURCE_DIR, m->src_path, objs, tmp);
        enum ts_status st = run_compiler(cmd, log, m->src_path, d);
        if (st == TS_OK && rename(tmp, so) != 0)
            st = ts_diag_set(d, TS_ERR_IO, so, "", "cannot rename %s: %s", tmp, strerror(errno));
        if (st != TS_OK) {
            free(m);
            return st;
        }
    }
    m->dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!m->dl) {
        enum ts_status st = ts_diag_set(d, TS_ERR_IO, so, "", "dlopen: %s", dlerror());
        free(m);
        return st;
    }
    m->launch = (launch_fn)dlsym(m->dl, "ts_emu_launch");
    if (!m->launch) {
        dlclose(m->dl);
        free(m);
        return ts_diag_set(d, TS_ERR_IO, so, "", "no ts_emu_launch in the module");
    }
    *out = m;
    return TS_OK;
}

const char *ts_emu_module_source_path(const struct ts_emu_module *m) { return m->src_path; }

enum ts_status ts_emu_module_launch(struct ts_emu_module *m, const char *sym, void **params,
                                    const struct ts_cuda_launch *launch, struct ts_diag *d) {
    char name[512];
    snprintf(name, sizeof name, "%s_emu", sym);
    void (*fn)(void **) = (void (*)(void **))dlsym(m->dl, name);
    if (!fn) return ts_diag_set(d, TS_ERR_GRAPH, m->src_path, sym, "no trampoline %s in the module", name);
    char err[1024];
    if (m->launch(fn, params, launch->grid, launch->block, launch->shared_bytes, err, sizeof err) != 0)
        return ts_diag_set(d, TS_ERR_RUNTIME, m->src_path, sym, "emulator: %s", err);
    return TS_OK;
}

void ts_emu_module_free(struct ts_emu_module *m) {
    if (!m) return;
    dlclose(m->dl);
    free(m);
}

/* ---- programs ------------------------------------------------------------------- */

static void *alloc_bytes(int64_t n) { return malloc((size_t)(n > 0 ? n : 1)); }

/* Shared memory a block may have with opt-in, per arch (CUDA's tables). */
static int max_shared_bytes(const struct ts_cuda_arch *a) {
    if (a->sm == 90 || a->sm == 100 || a->sm == 103) return 227 * 1024;
    if (a->sm == 80 || a->sm == 87) return 163 * 1024;
    return 99 * 1024; /* sm_86, sm_89, sm_120 */
}

enum ts_status ts_emu_run_program(const struct ts_program *p, const struct ts_cuda_opts *o,
                                  const struct ts_tensor *inputs, struct ts_tensor *outputs,
                                  struct ts_diag *d) {
    int raised;
    return ts_emu_run_program_raised(p, o, inputs, outputs, &raised, d);
}

enum ts_status ts_emu_run_program_raised(const struct ts_program *p, const struct ts_cuda_opts *o,
                                         const struct ts_tensor *inputs, struct ts_tensor *outputs,
                                         int *raised, struct ts_diag *d) {
    const struct ts_graph *g = p->graph;
    *raised = 0;
    TS_TRY(ts_program_check(p, d));
    for (int i = 0; i < g->ninputs; i++) TS_TRY(ts_graph_check_input(g, i, &inputs[i], d));
    struct ts_cuda_code *code = NULL;
    TS_TRY(ts_cuda_codegen(p, o, &code, d));
    struct ts_emu_module *m = NULL;
    enum ts_status st = ts_emu_module_build(ts_cuda_code_source(code), &m, d);
    void **base = calloc((size_t)p->nbuffers + 1, sizeof *base);
    bool *own = calloc((size_t)p->nbuffers + 1, sizeof *own);
    unsigned char *arena = NULL;
    int made = 0;
    if (st == TS_OK && (!base || !own)) st = ts_diag_set(d, TS_ERR_NOMEM, "", "", "out of memory");
    if (st == TS_OK && p->arena_bytes > 0 && !(arena = malloc((size_t)p->arena_bytes)))
        st = ts_diag_set(d, TS_ERR_NOMEM, "", "", "out of memory for the %lld-byte arena", (long long)p->arena_bytes);
    if (arena) memset(arena, 0xff, (size_t)p->arena_bytes); /* device memory is not zeroed */
    /* Each buffer but the TEMPs in an allocation of its exact size, so that
     * ASan reports a kernel reading or writing past one. */
    for (int i = 0; i < p->nbuffers && st == TS_OK; i++) {
        const struct ts_kbuffer *b = &p->buffers[i];
        if (b->kind == TS_KBUF_TEMP && arena) {
            base[i] = arena + b->offset;
            continue;
        }
        if (!(base[i] = alloc_bytes(b->nbytes))) {
            st = ts_diag_set(d, TS_ERR_NOMEM, "", b->name, "out of memory");
            break;
        }
        own[i] = true;
        const void *src = b->kind == TS_KBUF_INPUT ? inputs[b->index].data
                          : b->kind == TS_KBUF_WEIGHT || b->kind == TS_KBUF_CONST ? b->data
                                                                                  : NULL;
        if (src && b->nbytes > 0) memcpy(base[i], src, (size_t)b->nbytes);
        else memset(base[i], 0xff, (size_t)(b->nbytes > 0 ? b->nbytes : 1));
    }
    int *error = calloc(1, sizeof *error);
    if (st == TS_OK && !error) st = ts_diag_set(d, TS_ERR_NOMEM, "", "", "out of memory");
    for (int i = 0; i < p->nkernels && st == TS_OK; i++) {
        const struct ts_kernel *k = ts_cuda_code_kernel(code, i);
        struct ts_cuda_launch l;
        ts_cuda_code_launch(code, i, &l);
        if (!l.grid[0] || !l.grid[1] || !l.grid[2]) continue; /* nothing to compute */
        int max_shared = max_shared_bytes(ts_cuda_code_arch(code));
        if ((int64_t)l.shared_bytes > max_shared) {
            st = ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                             "the launch asks for %u bytes of dynamic shared memory; %s allows %d per block",
                             l.shared_bytes, ts_cuda_code_arch(code)->name, max_shared);
            break;
        }
        void *params[72];
        if (k->ninputs + 3 > (int)(sizeof params / sizeof params[0])) {
            st = ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name, "too many operands (%d)", k->ninputs);
            break;
        }
        int np = 0;
        for (int j = 0; j < k->ninputs; j++) params[np++] = base[k->inputs[j].buffer];
        params[np++] = base[k->output.buffer];
        void *ws = NULL;
        if (l.workspace_bytes > 0 && !(ws = calloc(1, (size_t)l.workspace_bytes))) {
            st = ts_diag_set(d, TS_ERR_NOMEM, "", k->name, "out of memory for the workspace");
            break;
        }
        params[np++] = ws;
        params[np++] = error;
        /* The arena is off limits except for the buffers this launch names. */
        if (arena) {
            TS_EMU_POISON(arena, (size_t)p->arena_bytes);
            for (int j = 0; j <= k->ninputs; j++) {
                const struct ts_kbuffer *b = &p->buffers[j < k->ninputs ? k->inputs[j].buffer : k->output.buffer];
                if (b->kind == TS_KBUF_TEMP) TS_EMU_UNPOISON(arena + b->offset, (size_t)b->nbytes);
            }
        }
        st = ts_emu_module_launch(m, ts_cuda_code_symbol(code, i), params, &l, d);
        if (arena) TS_EMU_UNPOISON(arena, (size_t)p->arena_bytes);
        for (int64_t b = 0; st == TS_OK && b < l.workspace_bytes; b++)
            if (((unsigned char *)ws)[b]) {
                st = ts_diag_set(d, TS_ERR_RUNTIME, "", k->name,
                                 "the kernel left its %lld-byte workspace non-zero (byte %lld); the runtime "
                                 "zeroes it only once", (long long)l.workspace_bytes, (long long)b);
            }
        free(ws);
        if (st == TS_OK && *error != 0) {
            int e = *raised = *error;
            char where[300]; /* as ts_program_run_ref words it */
            snprintf(where, sizeof where, "kernel '%s'", k->name);
            if (e >= 1 && e <= k->nerrors && k->errors[e - 1])
                st = ts_diag_set(d, TS_ERR_RUNTIME, g->path ? g->path : "", where, "%s", k->errors[e - 1]);
            else
                st = ts_diag_set(d, TS_ERR_RUNTIME, g->path ? g->path : "", where, "error code %d", e);
        }
    }
    for (; made < g->noutputs && st == TS_OK; made++) {
        const struct ts_value *v = &g->values[g->outputs[made]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        st = ts_tensor_alloc(&outputs[made], v->dtype, rank, dims, v->name, d);
        if (st != TS_OK) break;
        const void *src = base[p->output_buffers[made]];
        if (outputs[made].nbytes) memcpy(outputs[made].data, src, outputs[made].nbytes);
    }
    if (st != TS_OK)
        for (int i = 0; i < made; i++) ts_tensor_release(&outputs[i]);
    for (int i = 0; base && own && i < p->nbuffers; i++)
        if (own[i]) free(base[i]);
    free(error);
    free(arena);
    free(own);
    free(base);
    ts_emu_module_free(m);
    ts_cuda_code_free(code);
    return st;
}

/* ---- comparing with the reference ------------------------------------------------ */

static void compare(const struct ts_tensor *got, const struct ts_tensor *want, const char *name, double atol,
                    double rtol, const char *label, struct ts_emu_check *r) {
    for (int64_t i = 0; i < want->numel; i++) {
        bool ok;
        double err = 0, g, w;
        if (ts_dtype_is_float(want->dtype)) {
            g = ts_tensor_get_f64(got, i);
            w = ts_tensor_get_f64(want, i);
            if (isnan(w) || isnan(g)) {
                ok = isnan(w) && isnan(g);
            } else if (isinf(w) || isinf(g)) {
                ok = g == w;
            } else {
                err = fabs(g - w);
                ok = err <= atol + rtol * fabs(w);
                double rel = err / (atol + rtol * fabs(w));
                if (rel > r->worst_rel) r->worst_rel = rel;
            }
        } else {
            int64_t gi = ts_tensor_get_i64(got, i), wi = ts_tensor_get_i64(want, i);
            g = (double)gi;
            w = (double)wi;
            ok = gi == wi;
            err = ok ? 0 : fabs(g - w);
        }
        if (err > r->worst) r->worst = err;
        if (!ok && r->bad++ < 5)
            fprintf(stderr, "  %s: output %s element %lld: got %.9g, want %.9g\n", label, name, (long long)i, g, w);
    }
}

void ts_emu_check_program(const struct ts_program *p, const struct ts_cuda_opts *o,
                          const struct ts_tensor *inputs, double atol, double rtol, const char *label,
                          struct ts_emu_check *r) {
    memset(r, 0, sizeof *r);
    const struct ts_graph *g = p->graph;
    struct ts_tensor *want = calloc((size_t)g->noutputs + 1, sizeof *want);
    struct ts_tensor *got = calloc((size_t)g->noutputs + 1, sizeof *got);
    TS_ASSERT(want && got);
    struct ts_diag d;
    ts_diag_clear(&d);
    r->ref = ts_program_run_ref(p, inputs, want, &d);
    if (r->ref != TS_OK) ts_diag_format(&d, r->ref_msg, sizeof r->ref_msg);
    ts_diag_clear(&d);
    r->emu = ts_emu_run_program(p, o, inputs, got, &d);
    if (r->emu != TS_OK) ts_diag_format(&d, r->emu_msg, sizeof r->emu_msg);
    if (r->ref == TS_OK && r->emu == TS_OK) {
        for (int i = 0; i < g->noutputs; i++)
            compare(&got[i], &want[i], g->values[g->outputs[i]].name, atol, rtol, label, r);
        if (r->bad)
            fprintf(stderr, "  %s: %lld elements outside atol %g rtol %g (worst abs error %g)\n", label,
                    (long long)r->bad, atol, rtol, r->worst);
    } else if (r->emu != TS_OK && r->ref == TS_OK) {
        fprintf(stderr, "  %s: emulator failed: %s\n", label, r->emu_msg);
    } else if (r->ref != TS_OK && r->emu == TS_OK) {
        fprintf(stderr, "  %s: the reference failed (%s) but the emulator succeeded\n", label, r->ref_msg);
    } else if (strcmp(r->ref_msg, r->emu_msg) != 0) {
        fprintf(stderr, "  %s: different errors:\n    reference: %s\n    emulator:  %s\n", label, r->ref_msg,
                r->emu_msg);
    }
    for (int i = 0; i < g->noutputs; i++) {
        if (r->ref == TS_OK) ts_tensor_release(&want[i]);
        if (r->emu == TS_OK) ts_tensor_release(&got[i]);
    }
    free(want);
    free(got);
}

bool ts_emu_check_ok(const struct ts_emu_check *r) {
    if (r->ref != TS_OK || r->emu != TS_OK) return r->ref == r->emu && strcmp(r->ref_msg, r->emu_msg) == 0;
    return r->bad == 0;
}

/* ---- inputs -------------------------------------------------------------------- */

/* The largest valid value of an integer input: gather indices stay inside
 * their table, rope positions inside the sequence (as `tessera run` does). */
static int64_t int_bound(const struct ts_graph *g, int id) {
    int64_t bound = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const struct ts_node *n = &g->nodes[i];
        int64_t b = 0;
        if (n->op == TS_OP_GATHER && n->ninputs > 1 && n->inputs[1] == id) {
            const struct ts_value *table = ts_node_in(g, n, 0);
            int64_t a = ts_node_attr(n, "axis")->i;
            if (table->rank > 0 && a >= -table->rank && a < table->rank)
                b = table->dims[a < 0 ? a + table->rank : a].size;
        } else if (n->op == TS_OP_ROPE && n->ninputs > 1 && n->inputs[1] == id) {
            const struct ts_value *x = ts_node_in(g, n, 0);
            if (x->rank >= 2) b = x->dims[x->rank - 2].size;
        }
        if (b > 0 && (bound == 0 || b < bound)) bound = b;
    }
    return bound ? bound : 16;
}

enum ts_status ts_emu_random_inputs(const struct ts_graph *g, uint64_t seed, struct ts_tensor *inputs,
                                    struct ts_diag *d) {
    uint64_t rng = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int i = 0; i < g->ninputs; i++) {
        const struct ts_value *v = &g->values[g->inputs[i]];
        int64_t dims[TS_MAX_RANK];
        int rank = ts_value_dims(v, dims);
        enum ts_status st = ts_tensor_alloc(&inputs[i], v->dtype, rank, dims, v->name, d);
        if (st != TS_OK) {
            for (int j = 0; j < i; j++) ts_tensor_release(&inputs[j]);
            return st;
        }
        int64_t bound = ts_dtype_is_float(v->dtype) ? 0 : int_bound(g, g->inputs[i]);
        for (int64_t e = 0; e < inputs[i].numel; e++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(rng >> 11) / 9007199254740992.0;
            if (ts_dtype_is_float(v->dtype))
                ts_tensor_set_f64(&inputs[i], e, (u < 0.5 ? -1 : 1) * (0.1 + 1.9 * fmod(u * 2, 1.0)));
            else if (v->dtype == TS_BOOL)
                ts_tensor_set_i64(&inputs[i], e, u < 0.5);
            else
                ts_tensor_set_i64(&inputs[i], e, (int64_t)(u * (double)bound));
        }
    }
    return TS_OK;
}
