/* runtime.h — the one public header of runtime/: executes compiled plans
 * (arena, ordered launches) on the CPU thread pool or through the CUDA driver
 * API. It knows nothing of graphs or compilers and includes only its own
 * headers. Plans arrive with issue #3; for now it offers the monotonic clock
 * that every timing in tessera uses. */
#ifndef TESSERA_RUNTIME_H
#define TESSERA_RUNTIME_H

/* Seconds from an arbitrary fixed point, from CLOCK_MONOTONIC. */
double ts_rt_now_seconds(void);

#endif
