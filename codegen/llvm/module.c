/* module.c — compiles a kernel program into one LLVM module: one function per
 * distinct kernel (identical kernels share code), each built by its kind's
 * emitter, verified, then optimized with LLVMRunPasses("default<O3>") for the
 * chosen CPU. Owns struct ts_cpu_code; jit.c and object.c consume it. */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/llvm/code.h"

/* ---- kernel identity: the bytes that decide a kernel's code -------------- */

struct key {
    unsigned char *bytes;
    size_t n, cap;
};

static void key_put(struct key *k, const void *p, size_t n) {
    if (k->n + n > k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 1024;
        while (cap < k->n + n) cap *= 2;
        unsigned char *nb = realloc(k->bytes, cap);
        TS_ASSERT(nb != NULL);
        k->bytes = nb;
        k->cap = cap;
    }
    memcpy(k->bytes + k->n, p, n);
    k->n += n;
}
#define KEY_PUT(k, v)                                                                   \
    do {                                                                                \
        __typeof__(v) key_v_ = (v);                                                     \
        key_put((k), &key_v_, sizeof key_v_);                                           \
    } while (0)

static void key_operand(struct key *key, const struct ts_koperand *op, int rank) {
    KEY_PUT(key, (int)op->dtype);
    KEY_PUT(key, op->offset);
    for (int i = 0; i < rank; i++) KEY_PUT(key, op->strides[i]);
    KEY_PUT(key, op->kstride);
    KEY_PUT(key, op->gather_stride);
    KEY_PUT(key, op->gather_size);
}

/* Everything an emitter reads, field by field (never raw struct bytes, whose
 * padding is unspecified): buffers are not in it (they arrive as arguments). */
static void kernel_key(const struct ts_kernel *k, struct key *key) {
    key->n = 0;
    KEY_PUT(key, (int)k->kind);
    KEY_PUT(key, k->rank);
    int orank = k->kind == TS_KERNEL_ATTENTION ? 4 : k->rank;
    for (int i = 0; i < k->rank; i++) KEY_PUT(key, k->dims[i]);
    KEY_PUT(key, k->nouter);
    KEY_PUT(key, k->k);
    KEY_PUT(key, (int)k->acc_type);
    KEY_PUT(key, k->ninputs);
    for (int i = 0; i < k->ninputs; i++) key_operand(key, &k->inputs[i], orank);
    key_operand(key, &k->output, orank);
    KEY_PUT(key, k->nexpr);
    for (int i = 0; i < k->nexpr; i++) {
        const struct ts_kx *x = &k->expr[i];
        KEY_PUT(key, (int)x->op);
        KEY_PUT(key, (int)x->type);
        KEY_PUT(key, (int)x->dtype);
        KEY_PUT(key, x->a);
        KEY_PUT(key, x->b);
        KEY_PUT(key, x->c);
        KEY_PUT(key, x->f);
        KEY_PUT(key, x->i);
    }
    KEY_PUT(key, k->x_root);
    KEY_PUT(key, k->out_root);
    KEY_PUT(key, (int)k->row_op);
    KEY_PUT(key, k->eps);
    KEY_PUT(key, k->attn.batch);
    KEY_PUT(key, k->attn.hq);
    KEY_PUT(key, k->attn.hkv);
    KEY_PUT(key, k->attn.sq);
    KEY_PUT(key, k->attn.sk);
    KEY_PUT(key, k->attn.d);
    KEY_PUT(key, k->attn.dv);
    KEY_PUT(key, k->attn.scale);
    KEY_PUT(key, (int)k->attn.causal);
    KEY_PUT(key, (int)k->attn.has_mask);
    switch (k->kind) {
    case TS_KERNEL_POINTWISE:
        KEY_PUT(key, k->sched.pointwise.vector_width);
        KEY_PUT(key, k->sched.pointwise.rows_per_task);
        break;
    case TS_KERNEL_ROWWISE:
        KEY_PUT(key, k->sched.rowwise.vector_width);
        KEY_PUT(key, k->sched.rowwise.rows_per_task);
        break;
    case TS_KERNEL_GEMM:
        KEY_PUT(key, k->sched.gemm.mc);
        KEY_PUT(key, k->sched.gemm.kc);
        KEY_PUT(key, k->sched.gemm.nc);
        KEY_PUT(key, k->sched.gemm.mr);
        KEY_PUT(key, k->sched.gemm.nr);
        break;
    case TS_KERNEL_ATTENTION:
        KEY_PUT(key, k->sched.attention.block_q);
        KEY_PUT(key, k->sched.attention.block_k);
        break;
    default:
        TS_ASSERT(!"unknown kernel kind");
    }
}

/* ---- intrinsics and libm ------------------------------------------------- */

LLVMValueRef ts_llvm_intrinsic(struct ts_llvm *L, const char *name, LLVMTypeRef *tys, int ntys) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    TS_ASSERT(id != 0);
    return LLVMGetIntrinsicDeclaration(L->mod, id, tys, (size_t)ntys);
}

LLVMValueRef ts_llvm_call_intrinsic(struct ts_llvm *L, const char *name, LLVMTypeRef *tys, int ntys,
                                    LLVMValueRef *args, int nargs) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    TS_ASSERT(id != 0);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(L->mod, id, tys, (size_t)ntys);
    LLVMTypeRef fty = LLVMIntrinsicGetType(L->ctx, id, tys, (size_t)ntys);
    return LLVMBuildCall2(L->b, fty, fn, args, (unsigned)nargs, "");
}

LLVMValueRef ts_llvm_libm(struct ts_llvm *L, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                          int nparams) {
    LLVMValueRef fn = LLVMGetNamedFunction(L->mod, name);
    if (fn) return fn;
    LLVMTypeRef fty = LLVMFunctionType(ret, params, (unsigned)nparams, 0);
    fn = LLVMAddFunction(L->mod, name, fty);
    LLVMSetLinkage(fn, LLVMExternalLinkage);
    return fn;
}

/* ---- building the module ------------------------------------------------- */

static void init_types(struct ts_llvm *L) {
    L->t_void = LLVMVoidTypeInContext(L->ctx);
    L->t_i1 = LLVMInt1TypeInContext(L->ctx);
    L->t_i8 = LLVMInt8TypeInContext(L->ctx);
    L->t_i16 = LLVMInt16TypeInContext(L->ctx);
    L->t_i32 = LLVMInt32TypeInContext(L->ctx);
    L->t_i64 = LLVMInt64TypeInContext(L->ctx);
    L->t_f16 = LLVMHalfTypeInContext(L->ctx);
    L->t_f32 = LLVMFloatTypeInContext(L->ctx);
    L->t_f64 = LLVMDoubleTypeInContext(L->ctx);
    L->t_ptr = LLVMPointerTypeInContext(L->ctx, 0);
    LLVMTypeRef params[4] = {L->t_ptr, L->t_i64, L->t_i64, L->t_ptr};
    L->t_kernel = LLVMFunctionType(L->t_i32, params, 4, 0);
}

static void add_string_attr(struct ts_llvm *L, LLVMValueRef fn, const char *k, const char *v) {
    if (!v || !*v) return;
    LLVMAttributeRef a = LLVMCreateStringAttribute(L->ctx, k, (unsigned)strlen(k), v, (unsigned)strlen(v));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

static void add_enum_attr(struct ts_llvm *L, LLVMValueRef fn, unsigned idx, const char *name) {
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    if (kind) LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(L->ctx, kind, 0));
}

/* Creates kernel k's function with its entry block and operand bases loaded,
 * then hands it to the kind's emitter. */
static enum ts_status emit_kernel(struct ts_llvm *L, const struct ts_kernel *k, const char *symbol,
                                  struct ts_diag *d) {
    if (k->ninputs + 1 > (int)(sizeof L->base / sizeof L->base[0]))
        return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", k->name,
                           "kernel has %d operands; the CPU backend takes at most %d", k->ninputs + 1,
                           (int)(sizeof L->base / sizeof L->base[0]));
    LLVMValueRef fn = LLVMAddFunction(L->mod, symbol, L->t_kernel);
    add_enum_attr(L, fn, LLVMAttributeFunctionIndex, "nounwind");
    add_string_attr(L, fn, "target-cpu", L->cpu->name);
    add_string_attr(L, fn, "target-features", L->cpu->features);
    L->k = k;
    L->fn = fn;
    L->args = LLVMGetParam(fn, 0);
    L->begin = LLVMGetParam(fn, 1);
    L->end = LLVMGetParam(fn, 2);
    L->scratch = LLVMGetParam(fn, 3);
    LLVMSetValueName2(L->args, "args", 4);
    LLVMSetValueName2(L->begin, "begin", 5);
    LLVMSetValueName2(L->end, "end", 3);
    LLVMSetValueName2(L->scratch, "scratch", 7);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(L->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(L->b, entry);
    for (int i = 0; i <= k->ninputs; i++) {
        LLVMValueRef idx = ts_llvm_i64(L, i);
        LLVMValueRef slot = LLVMBuildGEP2(L->b, L->t_ptr, L->args, &idx, 1, "");
        L->base[i] = LLVMBuildLoad2(L->b, L->t_ptr, slot, i < k->ninputs ? "in" : "out");
    }
    switch (k->kind) {
    case TS_KERNEL_POINTWISE: return ts_llvm_emit_pointwise(L, d);
    case TS_KERNEL_ROWWISE: return ts_llvm_emit_rowwise(L, d);
    case TS_KERNEL_GEMM: return ts_llvm_emit_gemm(L, d);
    case TS_KERNEL_ATTENTION: return ts_llvm_emit_attention(L, d);
    default: TS_ASSERT(!"unknown kernel kind");
    }
    return TS_OK;
}

LLVMTargetMachineRef ts_llvm_target_machine(const struct ts_cpu_info *cpu, struct ts_diag *d) {
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(cpu->triple, &target, &err)) {
        ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "--target cpu", "LLVM has no target for '%s': %s",
                    cpu->triple, err ? err : "");
        LLVMDisposeMessage(err);
        return NULL;
    }
    return LLVMCreateTargetMachine(target, cpu->triple, cpu->name, cpu->features,
                                   LLVMCodeGenLevelAggressive, LLVMRelocPIC, LLVMCodeModelDefault);
}

static enum ts_status optimize(struct ts_cpu_code *c, int opt_level, struct ts_diag *d) {
    char *msg = NULL;
    if (LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &msg)) {
        enum ts_status st = ts_diag_set(d, TS_ERR_GRAPH, "", "codegen/llvm",
                                        "the generated module is invalid (a tessera bug): %s", msg);
        LLVMDisposeMessage(msg);
        return st;
    }
    LLVMDisposeMessage(msg);
    if (opt_level == 0) return TS_OK;
    LLVMTargetMachineRef tm = ts_llvm_target_machine(&c->cpu, d);
    if (!tm) return d->status;
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
    LLVMErrorRef e = LLVMRunPasses(c->mod, "default<O3>", tm, po);
    LLVMDisposePassBuilderOptions(po);
    LLVMDisposeTargetMachine(tm);
    if (e) {
        char *m = LLVMGetErrorMessage(e);
        enum ts_status st = ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "codegen/llvm",
                                        "LLVM optimization failed: %s", m);
        LLVMDisposeErrorMessage(m);
        return st;
    }
    return TS_OK;
}

enum ts_status ts_cpu_codegen(const struct ts_program *p, const struct ts_cpu_opts *o,
                              struct ts_cpu_code **out, struct ts_diag *d) {
    static const struct ts_cpu_opts defaults = {.opt_level = 3};
    if (!o) o = &defaults;
    *out = NULL;
    struct ts_cpu_code *c = calloc(1, sizeof *c);
    if (!c) return ts_diag_set(d, TS_ERR_NOMEM, "", "codegen/llvm", "out of memory");
    enum ts_status st = ts_cpu_info_init(o->cpu, &c->cpu, d);
    if (st != TS_OK) {
        free(c);
        return st;
    }
    c->nkernels = p->nkernels;
    c->symbols = calloc((size_t)(p->nkernels ? p->nkernels : 1), sizeof *c->symbols);
    c->tsc = LLVMOrcCreateNewThreadSafeContext();
    struct ts_llvm L = {0};
    L.ctx = LLVMOrcThreadSafeContextGetContext(c->tsc);
    L.mod = LLVMModuleCreateWithNameInContext("tessera", L.ctx);
    L.b = LLVMCreateBuilderInContext(L.ctx);
    L.cpu = &c->cpu;
    c->mod = L.mod;
    LLVMSetTarget(L.mod, c->cpu.triple);
    init_types(&L);
    if (!c->symbols) st = ts_diag_set(d, TS_ERR_NOMEM, "", "codegen/llvm", "out of memory");

    /* Distinct kernels by their code-deciding bytes (quadratic in the number of
     * distinct kernels, which is small: a transformer repeats its layers). */
    struct key *keys = calloc((size_t)(p->nkernels ? p->nkernels : 1), sizeof *keys);
    int *owner = calloc((size_t)(p->nkernels ? p->nkernels : 1), sizeof *owner);
    int nfun = 0;
    for (int i = 0; st == TS_OK && i < p->nkernels; i++) {
        kernel_key(&p->kernels[i], &keys[i]);
        int same = -1;
        for (int j = 0; j < nfun && same < 0; j++) {
            int o2 = owner[j];
            if (keys[o2].n == keys[i].n && memcmp(keys[o2].bytes, keys[i].bytes, keys[i].n) == 0) same = o2;
        }
        if (same >= 0) {
            c->symbols[i] = c->symbols[same];
            continue;
        }
        owner[nfun++] = i;
        size_t len = strlen(p->kernels[i].name) + 4;
        c->symbols[i] = malloc(len);
        snprintf(c->symbols[i], len, "ts_%s", p->kernels[i].name);
        st = emit_kernel(&L, &p->kernels[i], c->symbols[i], d);
    }
    c->nfunctions = nfun;
    for (int i = 0; i < p->nkernels; i++) free(keys[i].bytes);
    free(keys);
    free(owner);
    LLVMDisposeBuilder(L.b);
    if (st == TS_OK) st = optimize(c, o->opt_level, d);
    if (st == TS_OK && o->dump_ir) {
        char *ir = LLVMPrintModuleToString(c->mod);
        fputs(ir, o->dump_ir);
        LLVMDisposeMessage(ir);
    }
    if (st != TS_OK) {
        ts_cpu_code_free(c);
        return st;
    }
    *out = c;
    return TS_OK;
}

const struct ts_cpu_info *ts_cpu_code_info(const struct ts_cpu_code *c) { return &c->cpu; }
const char *ts_cpu_code_symbol(const struct ts_cpu_code *c, int kernel) {
    TS_ASSERT(kernel >= 0 && kernel < c->nkernels);
    return c->symbols[kernel];
}
int ts_cpu_code_nfunctions(const struct ts_cpu_code *c) { return c->nfunctions; }

void ts_cpu_code_free(struct ts_cpu_code *c) {
    if (!c) return;
    if (c->jit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(c->jit);
        if (e) LLVMConsumeError(e);
    } else if (c->mod) {
        LLVMDisposeModule(c->mod);
    }
    if (c->tsc) LLVMOrcDisposeThreadSafeContext(c->tsc);
    /* Shared symbols point at their first owner's string: free each once. */
    for (int i = 0; i < c->nkernels; i++) {
        if (!c->symbols[i]) continue;
        bool first = true;
        for (int j = 0; j < i && first; j++)
            if (c->symbols[j] == c->symbols[i]) first = false;
        if (first) free(c->symbols[i]);
    }
    free(c->symbols);
    free(c);
}
