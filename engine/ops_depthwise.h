/* Depthwise convolution, vectorised (engine/ops_depthwise.c):
 * ops_conv_* call it where it applies. */
#ifndef GEVO_ENGINE_OPS_DEPTHWISE_H
#define GEVO_ENGINE_OPS_DEPTHWISE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/ops.h"

/* Depthwise (groups == cin == cout, one channel too), at most 7x7 taps,
 * strides up to 4 and the kernel's size. */
bool ops_dw_ok(const ops_conv *c);
/* Floats of working memory, independent of c->n. */
size_t ops_dw_scratch(const ops_conv *c);
void ops_dw_forward(const ops_conv *c, float *out, const float *in, const float *w, const float *b,
                    float *scratch);
/* accumulate: as ops_conv_backward */
void ops_dw_backward(const ops_conv *c, float *din, float *dw, float *db, const float *dout,
                     const float *in, const float *w, float *scratch, bool accumulate);

#endif
