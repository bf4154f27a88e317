/* The parameter initialisers PyTorch uses by default, drawn from the
 * engine's seeded generator (engine/base/rng.h). */
#ifndef GEVO_ENGINE_INIT_H
#define GEVO_ENGINE_INIT_H

#include "engine/base/rng.h"

/* PyTorch's default for conv and linear: weights by kaiming_uniform with
 * a = sqrt(5) and biases alike both come to uniform(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), fan_in = (cin / groups) * kh * kw or in_features. */
void rng_init_fan_in(rng *r, float *x, long size, long fan_in);
/* Norm layers: gamma ones, beta zeros (and running mean 0, var 1). */
void rng_init_const(float *x, long size, float value);

#endif
