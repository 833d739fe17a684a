/* sm90_offline.h — what the offline sm_90a tests (test_cuda_hopper,
 * test_cuda_hopper_attention) share: the arch, NVRTC's presence, a SASS
 * disassembler and the SASS of a cubin. */
#ifndef TESSERA_TESTS_SM90_OFFLINE_H
#define TESSERA_TESTS_SM90_OFFLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "codegen/codegen.h"

struct ts_cuda_arch tso_sm90a(void);
/* Whether NVRTC loads; else prints why, naming test, and returns false:
 * these tests exist for machines without a GPU, where NVRTC is the point. */
bool tso_nvrtc_ok(const char *test);
/* The disassembler: $TESSERA_NVDISASM (nvdisasm or cuobjdump; set but not
 * executable is an error), else nvdisasm or cuobjdump on PATH, in
 * $CUDA_HOME/bin or /usr/local/cuda/bin, else the pip wheel
 * nvidia-cuda-nvdisasm in a venv under the working directory (build/venv,
 * as scripts/setup.sh installs it). Prints which, or why none (naming test):
 * a check that silently does not run is no check, so callers fail on false. */
bool tso_find_disassembler(const char *test, char *out, size_t n, bool *cuobjdump);
/* Occurrences of needle in hay. */
int tso_count(const char *hay, const char *needle);
/* The SASS of a cubin as text (malloc'd), or NULL with a message. */
char *tso_disassemble(const char *tool, bool cuobjdump, const void *cubin, size_t size);

#endif
