/* verify.c — the verify pass: the IR verifier (ir/verify.c) run as the first
 * stage of the pipeline. It checks structure and sorts nodes topologically:
 *   before: %y = exp(x); %x = relu(a)      (any order in the file)
 *   after:  %x = relu(a); %y = exp(x) */
#include "passes/passes.h"

enum ts_status ts_pass_verify(struct ts_graph *g, struct ts_diag *d) { return ts_graph_verify(g, d); }
