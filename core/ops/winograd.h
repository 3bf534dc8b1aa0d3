/* core/ops/winograd.h: Winograd convolution on the CPU for the 3x3, stride-1,
 * dilation-1, ungrouped convolutions of conv2d (forward, backward data and
 * backward weights); implemented in winograd.c, dispatched from conv2d.c.
 *
 * Algorithm: Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural
 * Networks" (cuDNN's CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD[_NONFUSED], NNPACK).
 * F(2x2, 3x3): each 2x2 output tile from a 4x4 input tile, 16 multiplies per
 * (input, output) channel pair instead of 36; F(4x4, 3x3): each 4x4 output tile
 * from a 6x6 input tile, 36 multiplies instead of 144. The multiplies of all
 * tiles and channels are 16 (36) GEMMs [O x C] x [C x tiles] (see winograd.c).
 * The weight gradient is F(4x4, 3x3) transposed: 36 GEMMs [O x tiles] x [tiles x C].
 *
 * Which implementation conv2d runs: the environment variable MT_CONV_IMPL
 * (dnnl.h holds the selector; dnnl is the oneDNN path)
 *   auto      (default, also when unset or empty) Winograd when
 *             mt_winograd_profitable says so (the deep, wide layers),
 *             im2col + GEMM otherwise;
 *   im2col    always im2col + GEMM;
 *   winograd  Winograd for every conv it supports (mt_winograd_supported),
 *             im2col + GEMM for the others.
 * The float64 build (gradient checks) dispatches by the same rule.
 */
#ifndef MT_OPS_WINOGRAD_H
#define MT_OPS_WINOGRAD_H

#include "gemm.h"

/* The name of the CPU conv implementation in force (mt_conv_get_impl, dnnl.h:
 * MT_CONV_IMPL or mt_conv_set_impl), e.g. "auto". */
const char *mt_conv_impl_env(void);
/* MT_OK if impl is "auto", "im2col", "dnnl" or "winograd"; otherwise MT_ERR_INVALID naming
 * the variable and the accepted values. */
mt_status mt_conv_impl_check(const char *impl);

/* 1 if the conv of geometry g (one group) with `groups` groups can run as
 * Winograd: 3x3 kernel, stride 1, dilation 1, groups 1. */
int mt_winograd_supported(const mt_conv_geom *g, int groups);
/* The auto rule for pass 0 (forward), 1 (backward data) or 2 (backward weights), from
 * experiments/bench/bench_winograd.c on the 2-core AVX2 EPYC (docs/performance.md):
 *   C >= 64 and O >= 64 channels, output >= 32x32: F(4x4, 3x3) in all three passes;
 *   C >= 256 and O >= 256, output >= 16x16: F(2x2, 3x3) forward and backward data,
 *     F(4x4, 3x3) backward weights;
 * in both cases only while the P transformed planes of O x C weights (U, or the
 * weight-gradient accumulators) take at most 32 MiB of scratch; im2col otherwise
 * (8x8 outputs, narrow layers, the 1-channel first conv). */
int mt_winograd_profitable(const mt_conv_geom *g, int O, int pass);
/* 1 if conv2d's pass (0 forward, 1 backward data, 2 backward weights) should run as
 * Winograd under MT_CONV_IMPL = impl: supported, and impl "winograd", or impl
 * "auto" and profitable. */
int mt_winograd_applies(const mt_conv_geom *g, int groups, int O, const char *impl, int pass);

/* Forward: y[N, O, OH, OW] = bias[o] (0 when b is NULL) + sum over c, kh, kw of
 *   w[o, c, kh, kw] * x[n, c, oh - pad_top + kh, ow - pad_left + kw]
 * (zero outside x), i.e. torch.nn.functional.conv2d with per-side padding; y is
 * overwritten. g: C, H, W of x, OH, OW of y, pad_top, pad_left (the bottom and
 * right padding follow from OH, OW); KH = KW = 3, stride and dilation 1.
 * Scratch from the caching allocator (MT_ERR_NOMEM from mt_alloc). */
mt_status mt_winograd_conv2d_forward(const mt_conv_geom *g, int N, int O, const mt_real *x, const mt_real *w,
                                     const mt_real *b, mt_real *y);
/* Backward data of the same conv: dx[N, C, H, W] += conv^T(dy[N, O, OH, OW], w), computed
 * as the forward Winograd conv of dy with the 180-degree-rotated, channel-transposed
 * weights w'[c, o, kh, kw] = w[o, c, 2 - kh, 2 - kw] and padding (2 - pad_top, 2 - pad_left)
 * (torch.nn.grad.conv2d_input). Errors as the forward. */
mt_status mt_winograd_conv2d_backward_data(const mt_conv_geom *g, int N, int O, const mt_real *w,
                                           const mt_real *dy, mt_real *dx);

/* Weight gradient of the same conv: dw[O, C, 3, 3] += sum over n, oh, ow of
 * dy[n, o, oh, ow] * x[n, c, oh - pad_top + kh, ow - pad_left + kw] (zero outside x)
 * (torch.nn.grad.conv2d_weight), as F(4x4, 3x3) transposed: per 4x4 tile of dy and 6x6
 * tile of x, G^T [(A dy A^T) .* (B^T x B)] G, the products summed over tiles as 36
 * GEMMs [O x tiles] x [tiles x C] (cuDNN's WINOGRAD_NONFUSED backward filter).
 * Errors as the forward. */
mt_status mt_winograd_conv2d_backward_weight(const mt_conv_geom *g, int N, int O, const mt_real *x,
                                             const mt_real *dy, mt_real *dw);

/* Tiles per block (the GEMMs' N); 0 restores the default (from the channel counts,
 * about 4 MiB of transformed tiles per block). Tests use small values to run the
 * multi-block paths on small shapes. */
void mt_winograd_set_block_tiles(int tiles);

/* Output tile of the Winograd conv: 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)) for the conv of
 * geometry g with O output channels, pass as mt_winograd_applies: 4 for backward
 * weights; else the one forced by mt_winograd_set_tile, else the auto rule's, else 2
 * (Winograd forced where the rule says im2col: the more accurate tile). */
int mt_winograd_tile(const mt_conv_geom *g, int O, int pass);
/* Forces the output tile (2 or 4); 0 restores the rule (mt_winograd_tile). Tests and benchmarks. */
void mt_winograd_set_tile(int m);

/* GEMM threading of forward and backward data (the weight gradient always uses 0):
 * 0: the threads split the 16 / 36 GEMMs of a block, each single-threaded
 * OpenBLAS; 1: the GEMMs run one after the other, each on all threads; -1 (default):
 * 0 for every batch size (the faster one at batch 1 too, docs/performance.md;
 * concurrent forward passes stay bit-identical through mt_blas_hold, gemm.h). */
void mt_winograd_set_gemm_threads(int mode);

#endif
