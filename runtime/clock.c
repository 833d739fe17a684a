/* clock.c — the monotonic clock used for every timing (run --repeat, tuning). */
#include <time.h>

#include "runtime/runtime.h"

double ts_rt_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
