/* Winograd F(2x2, 3x3) convolution (engine/ops_winograd.c): ops_conv_*
 * call it for the forward pass and the input and weight gradients of
 * dense 3x3 convolutions at stride 1. */
#ifndef GEVO_ENGINE_OPS_WINOGRAD_H
#define GEVO_ENGINE_OPS_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/ops.h"

/* The shapes the path handles: 3x3, stride 1, dilation 1, one group,
 * padding at most 2, at least WINO_MIN_CHANNELS (8) channels in and out, maps
 * of at most a few hundred tiles. The working memory is sized by this. */
bool ops_wino_fits(const ops_conv *c);
/* ops_wino_fits, and GEVO_NO_WINOGRAD is unset or 0 (then the caller
 * takes the im2col path: the numbers differ in rounding). */
bool ops_wino_on(const ops_conv *c);
/* Floats of working memory, independent of c->n. */
size_t ops_wino_scratch(const ops_conv *c);
void ops_wino_forward(const ops_conv *c, float *out, const float *in, const float *w,
                      const float *b, float *scratch);
/* din (+)= the input gradient of dout; accumulate as ops_conv_backward */
void ops_wino_input_grad(const ops_conv *c, float *din, const float *dout, const float *w,
                         float *scratch, bool accumulate);

/* dw += the weight gradient (in the Winograd domain, summed over fixed
 * groups of images, the groups added in order); bias_sums, when not NULL,
 * gets ops_plane_sums of all c->n images' output gradients */
void ops_wino_weight_grad(const ops_conv *c, float *dw, const float *dout, const float *in,
                          float *scratch, float *bias_sums);

#endif
