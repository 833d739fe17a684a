/* frontend.h — the one public header of frontend/: the JSON graph parser
 * (FORMAT.md version 1), the safetensors reader and writer. frontend/ is the
 * only user of cJSON. */
#ifndef TESSERA_FRONTEND_H
#define TESSERA_FRONTEND_H

#include "ir/ir.h"

/* ---- safetensors.c: reading ------------------------------------------------ */

#define TS_SAFETENSORS_MAX_HEADER (100u * 1000u * 1000u) /* bytes of JSON header */

struct ts_st_tensor {
    const char *name;
    enum ts_dtype dtype;
    int rank;
    int64_t dims[TS_MAX_RANK];
    const void *data;   /* view into the file's bytes (unaligned in general) */
    size_t nbytes;
};

struct ts_safetensors {
    const char *path;              /* for messages */
    struct ts_st_tensor *tensors;  /* in file (offset) order */
    int ntensors;
    void *map;                     /* the mapping, when opened from a file */
    size_t map_size;
    struct ts_arena *arena;        /* names and the tensor array */
};

/* Maps a file and checks every rule of FORMAT.md ("Tensor files for run"):
 * 8-byte little-endian header length ≤ 100 MB, JSON header object, known
 * dtypes, offsets contiguous from 0 without holes or overlaps, each tensor's
 * byte length equal to numel × dtype size (checked arithmetic), the file
 * ending where the last tensor ends. Errors name the file and the tensor/byte. */
enum ts_status ts_safetensors_open(const char *path, struct ts_safetensors **out, struct ts_diag *d);
/* The same checks on bytes in memory (the data views point into buf, which
 * must outlive the result). 'path' names the bytes in messages. */
enum ts_status ts_safetensors_parse(const void *buf, size_t size, const char *path,
                                    struct ts_safetensors **out, struct ts_diag *d);
void ts_safetensors_free(struct ts_safetensors *st);
const struct ts_st_tensor *ts_safetensors_find(const struct ts_safetensors *st, const char *name);

/* ---- safetensors_write.c ------------------------------------------------- */

/* Writes tensors to path. A regular file (or one a symbolic link points to)
 * is replaced atomically (a temporary file renamed over it), so an error never
 * leaves a half-written file behind; a device or FIFO (/dev/null, a pipe) is
 * written through and never replaced; a directory is an error. */
enum ts_status ts_safetensors_write(const char *path, int n, const char *const *names,
                                    const struct ts_tensor *tensors, struct ts_diag *d);

/* ---- graph_json.c: the graph parser -------------------------------------- */

/* Reads a graph file and, when it names one, maps its weights file (a path
 * relative to the graph file). Every violation of FORMAT.md is an error that
 * names the file and the node or field (or line:column for bad JSON). */
enum ts_status ts_graph_load(const char *path, struct ts_graph **out, struct ts_diag *d);
/* Parses graph JSON from memory. 'path' names it in messages; weights are
 * loaded relative to base_dir when load_weights is true, otherwise a graph that
 * names a weights file is refused (the fuzz targets parse without files). */
enum ts_status ts_graph_parse(const char *text, size_t len, const char *path, const char *base_dir,
                              bool load_weights, struct ts_graph **out, struct ts_diag *d);

#endif
