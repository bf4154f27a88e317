/* Initialisers: see init.h. */
#include "engine/init.h"

#include <math.h>

void rng_init_fan_in(rng *r, float *x, long size, long fan_in)
{
    float bound = fan_in > 0 ? (float)(1.0 / sqrt((double)fan_in)) : 0.0f;
    for (long i = 0; i < size; i++)
        x[i] = rng_uniform_range(r, -bound, bound);
}

void rng_init_const(float *x, long size, float value)
{
    for (long i = 0; i < size; i++)
        x[i] = value;
}
