/* The one random generator of every layer: a small seeded PRNG
 * (xoshiro256**, seeded through splitmix64). Deterministic: the same seed
 * gives the same stream on every run and machine. Not for secrets.
 *
 * The state is a plain struct the caller owns; nothing is allocated. */
#ifndef GEVO_BASE_RNG_H
#define GEVO_BASE_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform in [0, 1), 24 random bits. */
float rng_uniform(rng *r);
/* x[0..n) = n successive rng_uniform(r), the same stream, with the state
 * kept in registers (dropout draws one per activation each step). */
void rng_fill_uniform(rng *r, float *x, long n);
/* Uniform in [lo, hi). */
float rng_uniform_range(rng *r, float lo, float hi);
/* Uniform integer in [0, n), unbiased; 0 when n == 0. */
uint64_t rng_below(rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
float rng_normal(rng *r);

/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform_double(rng *r);

#endif
