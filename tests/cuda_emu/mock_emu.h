/* mock_emu.h — kernels launched on the mock CUDA driver (tests/cuda_mock) run
 * on the host emulator: a test registers each kernel's cubin with the
 * emulator module built from its CUDA C source, hands ts_mock_emu_kernel to
 * mock_register, and a graph node then runs in the module whose cubin the
 * mock loaded last. Shared by the tests that drive whole GPU paths through
 * the mock (test_cuda_tune, test_cuda_bench). */
#ifndef TESSERA_TESTS_CUDA_EMU_MOCK_EMU_H
#define TESSERA_TESTS_CUDA_EMU_MOCK_EMU_H

#include <stddef.h>

#include "ir/ir.h"
#include "tests/cuda_mock/mock_cuda.h"

/* last_image: the mock's mock_cuda_last_module_image (found with dlsym); who
 * names the test in messages. */
void ts_mock_emu_init(const void *(*last_image)(size_t *), const char *who);
/* Keeps a copy of cubin with the module built from source. TS_ERR_NOMEM when
 * the registry is full; the emulator's error when the build fails. */
enum ts_status ts_mock_emu_add(const void *cubin, size_t size, const char *source, struct ts_diag *d);
/* The mock's kernel callback. A missing module or an emulator error shows as
 * a wrong result, with the reason on stderr. */
void ts_mock_emu_kernel(void **args, const struct mock_node *g);
/* Frees every registered cubin and module. */
void ts_mock_emu_clear(void);

#endif
