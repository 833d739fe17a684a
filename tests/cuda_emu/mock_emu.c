/* mock_emu.c — see mock_emu.h. */
#include "tests/cuda_emu/mock_emu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cuda_emu/harness.h"

static struct {
    void *cubin;
    size_t size;
    struct ts_emu_module *module;
} entries[32];
static int nentries;
static const void *(*mock_image)(size_t *);
static const char *test_name = "test";

void ts_mock_emu_init(const void *(*last_image)(size_t *), const char *who) {
    mock_image = last_image;
    test_name = who;
}

enum ts_status ts_mock_emu_add(const void *cubin, size_t size, const char *source, struct ts_diag *d) {
    if (nentries >= (int)(sizeof entries / sizeof entries[0]))
        return ts_diag_set(d, TS_ERR_NOMEM, "", test_name, "more than %d emulated kernels",
                           (int)(sizeof entries / sizeof entries[0]));
    void *copy = malloc(size);
    if (!copy) return ts_diag_set(d, TS_ERR_NOMEM, "", test_name, "out of memory");
    memcpy(copy, cubin, size);
    struct ts_emu_module *m = NULL;
    enum ts_status st = ts_emu_module_build(source, &m, d);
    if (st != TS_OK) {
        free(copy);
        return st;
    }
    entries[nentries].cubin = copy;
    entries[nentries].size = size;
    entries[nentries++].module = m;
    return TS_OK;
}

void ts_mock_emu_kernel(void **args, const struct mock_node *g) {
    size_t size = 0;
    const void *image = mock_image ? mock_image(&size) : NULL;
    struct ts_emu_module *m = NULL;
    for (int i = 0; i < nentries && !m && image; i++)
        if (entries[i].size >= size && memcmp(entries[i].cubin, image, size) == 0) m = entries[i].module;
    if (!m) {
        fprintf(stderr, "%s: the mock loaded a cubin the test did not compile\n", test_name);
        return;
    }
    struct ts_cuda_launch l = {.grid = {g->grid[0], g->grid[1], g->grid[2]},
                               .block = {g->block[0], g->block[1], g->block[2]},
                               .shared_bytes = g->shared};
    struct ts_diag d;
    ts_diag_clear(&d);
    if (ts_emu_module_launch(m, g->func, args, &l, &d) != TS_OK) ts_diag_print(&d, stderr);
}

void ts_mock_emu_clear(void) {
    for (int i = 0; i < nentries; i++) {
        free(entries[i].cubin);
        ts_emu_module_free(entries[i].module);
    }
    nentries = 0;
}
