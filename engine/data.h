/* Image classification data: IDX files (MNIST, Fashion-MNIST; gzipped or
 * not) and CIFAR-10 binary batches, kept as bytes (a float copy of
 * Fashion-MNIST would be 188 MB) and turned into normalised, optionally
 * augmented float batches on demand.
 *
 * Ownership: data_load() fills caller-owned data_set structs whose buffers
 * data_free() releases. */
#ifndef GEVO_ENGINE_DATA_H
#define GEVO_ENGINE_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/init.h"

typedef struct data_set {
    int n;           /* images */
    int c, h, w;     /* per image */
    int classes;     /* 1 + the largest label */
    uint8_t *pixels; /* n * c * h * w bytes, CHW per image */
    uint8_t *labels; /* n bytes */
} data_set;

/* Loads the training and test sets from dir, which holds either the four
 * IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 * t10k-...) or CIFAR-10's data_batch_1..5.bin and test_batch.bin (directly
 * or in cifar-10-batches-bin/). Returns 0, or -1 with a message naming the
 * file and what is wrong with it. */
int data_load(const char *dir, data_set *train, data_set *test, char *err, size_t errsize);
void data_free(data_set *d);

/* A view of a data set: the indices of the images in it. */
typedef struct data_view {
    const data_set *set;
    int *index;
    int n;
} data_view;

/* Splits train into a validation view (round(val_frac * n) images) and a
 * training view (the rest, or its first `subset` images when subset > 0),
 * by a permutation drawn from seed. All allocation failures return -1. */
int data_split(const data_set *train, double val_frac, int subset, uint64_t seed,
               data_view *train_view, data_view *val_view);
/* The whole set as a view. */
int data_view_all(const data_set *d, data_view *v);
void data_view_free(data_view *v);

/* Per-channel mean and standard deviation of a view, in [0, 1] units. */
void data_channel_stats(const data_view *v, float *mean, float *std);

typedef struct data_augment {
    bool flip; /* horizontal flip with probability 1/2 */
    bool crop; /* random crop after zero padding by pad pixels */
    int pad;
} data_augment;

/* Writes images index[0..n) of the view, normalised with mean/std, into x
 * (n * c * h * w floats) and their labels into y. aug may be NULL; r is
 * used only when aug asks for randomness. */
void data_batch(const data_view *v, const int *order, int n, const float *mean, const float *std,
                const data_augment *aug, rng *r, float *x, int *y);

#endif
