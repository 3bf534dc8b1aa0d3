/* tests/fixture.h: reads reference tensors written by tests/fixtures/gen_*.py
 * (PyTorch on the CPU) from HDF5 files under tests/fixtures/.
 * Datasets are float64 (or int32) arrays; the reader converts to mt_real. */
#ifndef MT_TEST_FIXTURE_H
#define MT_TEST_FIXTURE_H

#include "../core/tensor.h"

/* Loads dataset `name` (e.g. "conv2d/case3/x") of file `file` (repo-relative,
 * e.g. "tests/fixtures/conv.h5") as a new CPU tensor of dtype MT_REAL (or
 * MT_I32 for integer datasets). NULL with mt_last_error() set on failure. */
mt_tensor *fx_load(const char *file, const char *name);
/* Reads a scalar attribute (double) of dataset or group `name`. */
int fx_attr(const char *file, const char *name, const char *attr, double *out);
/* Reads an integer array attribute into out[0..max-1]; returns count or -1. */
int fx_attr_ints(const char *file, const char *name, const char *attr, int *out, int max);
/* Reads dataset `name` as float64 (full precision, unlike fx_load) into out[0..max-1];
 * returns the number of values, or -1 (message set) when absent or larger than max. */
int fx_read_f64(const char *file, const char *name, double *out, int max);
/* 1 if the group/dataset exists. */
int fx_exists(const char *file, const char *name);

#endif
