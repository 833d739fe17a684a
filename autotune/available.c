/* available.c — says that the autotuner is not built yet (issue #5). */
#include "autotune/autotune.h"

enum ts_status ts_autotune_check_available(struct ts_diag *d) {
    return ts_diag_set(d, TS_ERR_UNSUPPORTED, "", "tune",
                       "the autotuner is not built yet (it comes with issue #5, after the CPU "
                       "backend)");
}
