/* A small seeded PRNG (xoshiro256**, seeded through splitmix64) and the
 * parameter initialisers PyTorch uses by default. Deterministic: the same
 * seed gives the same stream on every run and machine. Not for secrets.
 *
 * The state is a plain struct the caller owns; nothing is allocated. */
#ifndef GEVO_ENGINE_RNG_H
#define GEVO_ENGINE_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform in [0, 1), 24 random bits. */
float rng_uniform(rng *r);
/* Uniform in [lo, hi). */
float rng_uniform_range(rng *r, float lo, float hi);
/* Uniform integer in [0, n), unbiased; 0 when n == 0. */
uint64_t rng_below(rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
float rng_normal(rng *r);

/* PyTorch's default for conv and linear: weights by kaiming_uniform with
 * a = sqrt(5) and biases alike both come to uniform(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), fan_in = (cin / groups) * kh * kw or in_features. */
void rng_init_fan_in(rng *r, float *x, long size, long fan_in);
/* Norm layers: gamma ones, beta zeros (and running mean 0, var 1). */
void rng_init_const(float *x, long size, float value);

#endif
