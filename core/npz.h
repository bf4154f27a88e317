/* npz: NumPy's .npz archive (numpy.load reads it), written from C: a zip
 * file of uncompressed .npy arrays, one per name. The PyTorch exporter
 * writes trained weights with it, named as the module's state_dict.
 *
 *     npz_writer w;
 *     if (npz_open(&w, "weights.npz", err)) return -1;
 *     npz_add_f32(&w, "conv.weight", shape, 4, data);   (and more)
 *     return npz_close(&w, err);   // everything, or nothing at the path
 *
 * Arrays are little-endian float32 ('<f4') or int64 ('<i8'), C order.
 * An archive stays below 4 GiB (no zip64): npz_add_* fails beyond it.
 * Errors are sticky: a failed add makes npz_close fail with its message,
 * so a writer adds freely and checks once. */
#ifndef GEVO_CORE_NPZ_H
#define GEVO_CORE_NPZ_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/base/file.h"

typedef struct npz_entry npz_entry;

typedef struct npz_writer {
    out_file out;
    uint32_t offset; /* bytes written so far */
    npz_entry *entries;
    size_t n, alloc;
    gerr err; /* the first failure, "" while all is well */
} npz_writer;

int npz_open(npz_writer *w, const char *path, gerr *err);
/* An array of shape[0] x ... x shape[ndim-1] floats (ndim 0: a scalar). */
void npz_add_f32(npz_writer *w, const char *name, const long *shape, int ndim, const float *data);
/* A scalar int64 (PyTorch's num_batches_tracked). */
void npz_add_i64(npz_writer *w, const char *name, int64_t value);
/* Writes the directory and puts the file in place; on any failure leaves
 * the path as it was. Frees what the writer holds either way. */
int npz_close(npz_writer *w, gerr *err);

#endif
