/* op_table.c — the op table: each op's name, arity, attribute schema, shape
 * rule and reference kernel, expanded from ops.def. The attribute schemas
 * (FORMAT.md's "attrs (default)" column) are written here. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Schemas end with a NULL-named sentinel so an empty one is legal C. */
#define END {0}
#define REQ(nm, ty) {.name = nm, .type = ty, .required = true}
#define OPT(nm, ty) {.name = nm, .type = ty}
#define DEF_F(nm, v) {.name = nm, .type = TS_ATTR_FLOAT, .has_default = true, .def_f = v}
#define DEF_I(nm, v) {.name = nm, .type = TS_ATTR_INT, .has_default = true, .def_i = v}
#define DEF_B(nm, v) {.name = nm, .type = TS_ATTR_BOOL, .has_default = true, .def_i = v}

static const struct ts_attr_spec attrs_none[] = {END};
static const struct ts_attr_spec attrs_gelu[] = {
    {.name = "approximate", .type = TS_ATTR_STRING, .has_default = true, .def_s = "none",
     .choices = "none,tanh"},
    END};
static const struct ts_attr_spec attrs_cast[] = {REQ("to", TS_ATTR_DTYPE), END};
static const struct ts_attr_spec attrs_matmul[] = {DEF_B("transpose_a", 0),
                                                   DEF_B("transpose_b", 0), END};
static const struct ts_attr_spec attrs_softmax[] = {DEF_I("axis", -1), END};
static const struct ts_attr_spec attrs_layernorm[] = {DEF_I("axis", -1), DEF_F("eps", 1e-5), END};
static const struct ts_attr_spec attrs_rmsnorm[] = {DEF_I("axis", -1), DEF_F("eps", 1e-6), END};
static const struct ts_attr_spec attrs_reduce[] = {REQ("axes", TS_ATTR_INTS),
                                                   DEF_B("keepdims", 0), END};
static const struct ts_attr_spec attrs_transpose[] = {REQ("perm", TS_ATTR_INTS), END};
static const struct ts_attr_spec attrs_reshape[] = {REQ("shape", TS_ATTR_DIMS), END};
static const struct ts_attr_spec attrs_slice[] = {REQ("axis", TS_ATTR_INT), REQ("start", TS_ATTR_INT),
                                                  REQ("end", TS_ATTR_INT), DEF_I("step", 1), END};
static const struct ts_attr_spec attrs_concat[] = {REQ("axis", TS_ATTR_INT), END};
static const struct ts_attr_spec attrs_split[] = {REQ("axis", TS_ATTR_INT), REQ("sizes", TS_ATTR_INTS),
                                                  END};
static const struct ts_attr_spec attrs_gather[] = {DEF_I("axis", 0), END};
/* rotary_dim absent means head_dim (the last dim of x). */
static const struct ts_attr_spec attrs_rope[] = {DEF_F("theta", 10000.0), DEF_B("interleaved", 0),
                                                 OPT("rotary_dim", TS_ATTR_INT), END};
/* scale absent means 1/sqrt(head_dim). */
static const struct ts_attr_spec attrs_attention[] = {DEF_B("causal", 0), OPT("scale", TS_ATTR_FLOAT),
                                                      END};

/* dtype absent means i32. */
static const struct ts_attr_spec attrs_iota[] = {REQ("shape", TS_ATTR_DIMS), DEF_I("axis", 0),
                                                 OPT("dtype", TS_ATTR_DTYPE), DEF_I("start", 0),
                                                 DEF_I("step", 1), END};

#define NATTRS(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static const struct ts_op_info op_table[] = {
#define TS_OP(id, nm, min_in, max_in, min_out, max_out, attrs, shape_fn, ref_fn)                 \
    {nm, min_in, max_in, min_out, max_out, attrs, NATTRS(attrs), shape_fn, ref_fn},
#include "ops.def"
#undef TS_OP
};

_Static_assert(sizeof(op_table) / sizeof(op_table[0]) == TS_OP_COUNT, "op table out of step with ops.def");

const struct ts_op_info *ts_op_get(enum ts_op op) {
    TS_ASSERT(op >= 0 && op < TS_OP_COUNT);
    const struct ts_op_info *info = &op_table[op];
    TS_ASSERT(info->nattrs <= TS_MAX_ATTRS);
    return info;
}

bool ts_op_from_name(const char *name, enum ts_op *out) {
    for (int i = 0; i < TS_OP_COUNT; i++) {
        if (strcmp(op_table[i].name, name) == 0) {
            *out = (enum ts_op)i;
            return true;
        }
    }
    return false;
}

int ts_op_attr_index(enum ts_op op, const char *name) {
    const struct ts_op_info *info = ts_op_get(op);
    for (int i = 0; i < info->nattrs; i++)
        if (strcmp(info->attrs[i].name, name) == 0) return i;
    return -1;
}

/* "2 inputs", "3 to 4 inputs", "at least 1 input". */
static const char *arity_text(int min, int max, const char *noun, char *buf, size_t size) {
    if (max < 0) snprintf(buf, size, "at least %d %s%s", min, noun, min == 1 ? "" : "s");
    else if (min == max) snprintf(buf, size, "%d %s%s", min, noun, min == 1 ? "" : "s");
    else snprintf(buf, size, "%d to %d %ss", min, max, noun);
    return buf;
}

bool ts_op_check_arity(enum ts_op op, int nin, int nout, char *why, size_t size) {
    const struct ts_op_info *info = ts_op_get(op);
    char text[64];
    if (nin < info->min_inputs || (info->max_inputs >= 0 && nin > info->max_inputs)) {
        snprintf(why, size, "%s takes %s, got %d", info->name,
                 arity_text(info->min_inputs, info->max_inputs, "input", text, sizeof text), nin);
        return false;
    }
    if (nout < info->min_outputs || (info->max_outputs >= 0 && nout > info->max_outputs)) {
        snprintf(why, size, "%s gives %s, got %d", info->name,
                 arity_text(info->min_outputs, info->max_outputs, "output", text, sizeof text), nout);
        return false;
    }
    return true;
}
