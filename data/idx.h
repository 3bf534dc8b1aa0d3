/* data/idx.h: reader for IDX files, the format of MNIST and Fashion-MNIST
 * (LeCun et al., http://yann.lecun.com/exdb/mnist/, section "FILE FORMATS";
 * Xiao et al. 2017, Fashion-MNIST, arXiv:1708.07747, same format).
 *
 * Layout (all integers big-endian):
 *   bytes 0-1   0x00 0x00
 *   byte  2     dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
 *               0x0D float32, 0x0E float64
 *   byte  3     number of dimensions D (1..MT_IDX_MAX_DIMS here)
 *   then D      uint32 sizes, then prod(sizes) items, row-major (last index fastest)
 * Fashion-MNIST: images idx3 uint8 [N, 28, 28] (grey levels 0..255, 0 = background),
 * labels idx1 uint8 [N] (class ids 0..9). A file ending in .gz is read through
 * zlib (gzread also reads an uncompressed file as-is).
 * Equivalent: numpy as in the dataset's utils/mnist_reader.py, or
 * torchvision.datasets.mnist.read_sn3_pascalvincent_tensor.
 */
#ifndef MT_DATA_IDX_H
#define MT_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_IDX_MAX_DIMS 4

/* IDX dtype codes (byte 2 of the magic number). */
enum {
    MT_IDX_U8 = 0x08,
    MT_IDX_I8 = 0x09,
    MT_IDX_I16 = 0x0B,
    MT_IDX_I32 = 0x0C,
    MT_IDX_F32 = 0x0D,
    MT_IDX_F64 = 0x0E
};

/* One IDX array in memory. */
typedef struct mt_idx {
    int dtype;                  /* MT_IDX_* code */
    int ndim;                   /* 1..MT_IDX_MAX_DIMS */
    int64_t dims[MT_IDX_MAX_DIMS];
    size_t count;               /* prod(dims): number of items */
    size_t item_size;           /* bytes per item: 1, 2, 4 or 8 */
    void *data;                 /* count items in HOST byte order, owned */
} mt_idx;

/* Reads a whole IDX file (plain or .gz) into *out (free with mt_idx_free).
 * Errors, each naming the file: MT_ERR_IO if it cannot be opened or the gzip
 * stream is corrupt; MT_ERR_FORMAT for a wrong magic (first two bytes not zero),
 * an unknown dtype code, 0 or more than MT_IDX_MAX_DIMS dimensions, a header or
 * data shorter than the header promises (truncated; says how many items are
 * present), or bytes after the data. Memory grows with the data actually read,
 * so a lying header cannot make it allocate more than the file holds (+1 MiB). */
mt_status mt_idx_read(const char *path, mt_idx *out);

/* Frees the data and zeroes *x (safe on a zeroed struct). */
void mt_idx_free(mt_idx *x);

/* Item i as a double (any dtype). No bounds check: i < x->count. */
double mt_idx_get(const mt_idx *x, size_t i);

/* Name of a dtype code ("uint8", ...), or NULL if the code is not an IDX dtype. */
const char *mt_idx_dtype_name(int code);

#ifdef __cplusplus
}
#endif
#endif
