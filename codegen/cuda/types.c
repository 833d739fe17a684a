/* types.c — C types of buffers and expression scalars in generated CUDA C,
 * the kernel ABI's parameter list (codegen.h) and the TS_EMULATE trampoline
 * through which tests/cuda_emu calls a kernel with an array of pointers. */
#include "internal.h"

const char *tsc_storage_type(enum ts_dtype t) {
    switch (t) {
    case TS_F32: return "float";
    case TS_F16:
    case TS_BF16: return "unsigned short";
    case TS_I32: return "int";
    case TS_I64: return "long long";
    case TS_BOOL: return "unsigned char";
    default: break;
    }
    TS_ASSERT(!"bad dtype");
    return "void";
}

const char *tsc_scalar_type(enum ts_scalar s) {
    switch (s) {
    case TS_SCALAR_F32: return "float";
    case TS_SCALAR_F64: return "double";
    case TS_SCALAR_I64: return "long long";
    case TS_SCALAR_BOOL: return "bool";
    default: break;
    }
    TS_ASSERT(!"bad scalar type");
    return "void";
}

/* Whether input i reads the buffer the kernel writes (no __restrict__ then). */
static bool aliases_output(const struct ts_kernel *k, int i) {
    return k->inputs[i].buffer == k->output.buffer;
}

void tsc_emit_params(struct tsc_src *s, const struct ts_kernel *k) {
    bool out_aliased = false;
    for (int i = 0; i < k->ninputs; i++) out_aliased = out_aliased || aliases_output(k, i);
    tsc_puts(s, "(");
    for (int i = 0; i < k->ninputs; i++)
        tsc_printf(s, "const %s *%sin%d, ", tsc_storage_type(k->inputs[i].dtype),
                   aliases_output(k, i) ? "" : "__restrict__ ", i);
    tsc_printf(s, "%s *%sout, void *workspace, int *error)", tsc_storage_type(k->output.dtype),
               out_aliased ? "" : "__restrict__ ");
}

void tsc_emit_trampoline(struct tsc_src *s, const struct ts_kernel *k, const char *sym) {
    tsc_printf(s, "#ifdef TS_EMULATE\nextern \"C\" void %s_emu(void **params) {\n    %s(", sym, sym);
    for (int i = 0; i < k->ninputs; i++)
        tsc_printf(s, "(const %s *)params[%d], ", tsc_storage_type(k->inputs[i].dtype), i);
    tsc_printf(s, "(%s *)params[%d], params[%d], (int *)params[%d]);\n}\n#endif\n",
               tsc_storage_type(k->output.dtype), k->ninputs, k->ninputs + 1, k->ninputs + 2);
}
