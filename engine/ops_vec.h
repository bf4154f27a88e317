/* Eight-float vectors for the hand-vectorised kernels (GCC and clang
 * vector extensions): with them the compiler keeps accumulators in
 * registers and vectorises what its auto-vectoriser gives up on (loops
 * with expf, selects, short fixed trip counts). Without AVX the same code
 * compiles to pairs of SSE operations.
 *
 * Every function computes each lane as the scalar formula would, with no
 * lane depending on another, so a result does not depend on where a span
 * starts (the thread split) or on whether an element falls in a tail. */
#ifndef GEVO_ENGINE_OPS_VEC_H
#define GEVO_ENGINE_OPS_VEC_H

#include <stdint.h>
#include <string.h>

/* GCC notes that 32-byte vectors are passed differently with and without
 * AVX; these helpers are static inline, never called across files built
 * with different flags, so the Makefile turns the note off (-Wno-psabi). */

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
/* the unaligned view, for loads and stores at any float offset */
typedef float v8u __attribute__((vector_size(32), aligned(4)));

static inline v8 v8_load(const float *p)
{
    return *(const v8u *)p;
}

static inline void v8_store(float *p, v8 v)
{
    *(v8u *)p = v;
}

static inline v8 v8_all(float x)
{
    return (v8){x, x, x, x, x, x, x, x};
}

/* lanes of a where mask is set (all ones), else lanes of b */
static inline v8 v8_select(v8i mask, v8 a, v8 b)
{
    return (v8)((mask & (v8i)a) | (~mask & (v8i)b));
}

static inline v8 v8_max(v8 a, v8 b)
{
    return v8_select(a > b, a, b);
}

static inline v8 v8_min(v8 a, v8 b)
{
    return v8_select(a < b, a, b);
}

/* The lanes of a (of float vector type T, int vector type TI) where the
 * int mask m is set, else those of b: for the generic bodies below. */
#define VEC_SELECT(T, TI, m, a, b) ((T)(((m) & (TI)(a)) | (~(m) & (TI)(b))))

/* Defines `static T name(T x)`: e^x to within 2 ulp over the float range
 * (Cody-Waite reduction by ln 2 and a degree-5 polynomial, the classic
 * Cephes expf); below -87.3 it gives a tiny normal number instead of 0
 * and above 88.7 the largest finite float's neighbourhood: enough for
 * activations. Generic in the vector type so the eight-float kernels and
 * the sixteen-float AVX-512 ones (engine/ops_act.c) compute the same bits
 * in every lane; always inlined, so it takes its caller's instruction set. */
#define VEC_EXP_DEFINE(name, T, TI)                                                         \
    static inline __attribute__((always_inline)) T name(T x)                                \
    {                                                                                       \
        const T zero = {0};                                                                 \
        x = VEC_SELECT(T, TI, x < 88.3762626647949f, x, zero + 88.3762626647949f);          \
        x = VEC_SELECT(T, TI, x > -87.3365478515625f, x, zero - 87.3365478515625f);         \
        T fx = x * 1.44269504088896341f + 0.5f;                                             \
        T fl = __builtin_convertvector(__builtin_convertvector(fx, TI), T);                 \
        fl += __builtin_convertvector(fl > fx, T); /* floor: -1 where truncation went up */ \
        x -= fl * 0.693359375f;                                                             \
        x -= fl * -2.12194440e-4f;                                                          \
        T p = zero + 1.9875691500e-4f;                                                      \
        p = p * x + 1.3981999507e-3f;                                                       \
        p = p * x + 8.3334519073e-3f;                                                       \
        p = p * x + 4.1665795894e-2f;                                                       \
        p = p * x + 1.6666665459e-1f;                                                       \
        p = p * x + 5.0000001201e-1f;                                                       \
        p = p * x * x + x + 1.0f;                                                           \
        TI e = (__builtin_convertvector(fl, TI) + 127) << 23;                               \
        return p * (T)e;                                                                    \
    }

VEC_EXP_DEFINE(v8_exp, v8, v8i)

/* Loops over n floats a vector at a time; the tail goes through a
 * zero-padded vector, so a tail element gets exactly the vector's
 * arithmetic. BODY reads the v8 variables named in LOADS (each loaded from
 * the pointer of the same name at the current position) and leaves its
 * result in `r`, stored to DST. One pointer per load, up to three. */
#define V8_MAP1(n, dst, BODY, x)                                       \
    do {                                                               \
        long i_ = 0;                                                   \
        for (; i_ + 8 <= (n); i_ += 8) {                               \
            v8 x##_v = v8_load((x) + i_), r;                           \
            BODY;                                                      \
            v8_store((dst) + i_, r);                                   \
        }                                                              \
        if (i_ < (n)) {                                                \
            float bx_[8] = {0}, bo_[8];                                \
            memcpy(bx_, (x) + i_, sizeof(float) * (size_t)((n)-i_));   \
            v8 x##_v = v8_load(bx_), r;                                \
            BODY;                                                      \
            v8_store(bo_, r);                                          \
            memcpy((dst) + i_, bo_, sizeof(float) * (size_t)((n)-i_)); \
        }                                                              \
    } while (0)

#define V8_MAP2(n, dst, BODY, x, y)                                     \
    do {                                                                \
        long i_ = 0;                                                    \
        for (; i_ + 8 <= (n); i_ += 8) {                                \
            v8 x##_v = v8_load((x) + i_), y##_v = v8_load((y) + i_), r; \
            BODY;                                                       \
            v8_store((dst) + i_, r);                                    \
        }                                                               \
        if (i_ < (n)) {                                                 \
            float bx_[8] = {0}, by_[8] = {0}, bo_[8];                   \
            size_t k_ = sizeof(float) * (size_t)((n)-i_);               \
            memcpy(bx_, (x) + i_, k_);                                  \
            memcpy(by_, (y) + i_, k_);                                  \
            v8 x##_v = v8_load(bx_), y##_v = v8_load(by_), r;           \
            BODY;                                                       \
            v8_store(bo_, r);                                           \
            memcpy((dst) + i_, bo_, k_);                                \
        }                                                               \
    } while (0)

#define V8_MAP3(n, dst, BODY, x, y, z)                                              \
    do {                                                                            \
        long i_ = 0;                                                                \
        for (; i_ + 8 <= (n); i_ += 8) {                                            \
            v8 x##_v = v8_load((x) + i_), y##_v = v8_load((y) + i_);                \
            v8 z##_v = v8_load((z) + i_), r;                                        \
            BODY;                                                                   \
            v8_store((dst) + i_, r);                                                \
        }                                                                           \
        if (i_ < (n)) {                                                             \
            float bx_[8] = {0}, by_[8] = {0}, bz_[8] = {0}, bo_[8];                 \
            size_t k_ = sizeof(float) * (size_t)((n)-i_);                           \
            memcpy(bx_, (x) + i_, k_);                                              \
            memcpy(by_, (y) + i_, k_);                                              \
            memcpy(bz_, (z) + i_, k_);                                              \
            v8 x##_v = v8_load(bx_), y##_v = v8_load(by_), z##_v = v8_load(bz_), r; \
            BODY;                                                                   \
            v8_store(bo_, r);                                                       \
            memcpy((dst) + i_, bo_, k_);                                            \
        }                                                                           \
    } while (0)

#endif
