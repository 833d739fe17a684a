/* autotune.h — the one public header of autotune/: search spaces, search
 * strategies, measurement and the tuning database (issue #5). Until then it
 * only reports that tuning is not available. */
#ifndef TESSERA_AUTOTUNE_H
#define TESSERA_AUTOTUNE_H

#include "ir/ir.h"

/* TS_ERR_UNSUPPORTED with the reason, until the tuner exists. */
enum ts_status ts_autotune_check_available(struct ts_diag *d);

#endif
