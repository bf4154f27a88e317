/* Image classification data, decoded once.
 *
 * A data folder holds one of four layouts (gevo(1), DATA):
 *   - IDX files (MNIST, Fashion-MNIST; gzipped or not),
 *   - CIFAR-10 binary batches,
 *   - image folders: train/CLASS/NAME.png|jpg|jpeg, test/CLASS/..., optional
 *     val/CLASS/... (as torchvision's ImageFolder),
 *   - NumPy arrays: x_train.npy, y_train.npy, x_test.npy, y_test.npy,
 *     optional x_val.npy, y_val.npy (as Keras's datasets).
 * The first data_load() of a folder decodes it into a cache file (8-bit
 * CHW pixels and 16-bit labels, data_cache.c), written whole then renamed;
 * later loads map that file read-only, so a training worker starts without
 * decoding anything. Pixels stay bytes (a float copy of Fashion-MNIST
 * would be 188 MB) and become normalised, optionally augmented float
 * batches on demand.
 *
 * Ownership: a data_source owns its splits' memory (a mapping of the cache
 * file, or a decoded copy when no cache could be written); data_release()
 * frees it, and every data_set and data_view of it dies with it. */
#ifndef GEVO_ENGINE_DATA_H
#define GEVO_ENGINE_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/base/rng.h"

/* The data set used when none is named: Fashion-MNIST as Debian's
 * dataset-fashion-mnist package installs it. */
#define DATA_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

/* One split: borrowed pointers into its data_source. */
typedef struct data_set {
    int n;                  /* images */
    int c, h, w;            /* per image */
    int classes;            /* of the whole source */
    const uint8_t *pixels;  /* n * c * h * w bytes, CHW per image */
    const uint16_t *labels; /* n labels, each < classes */
} data_set;

typedef enum data_format {
    DATA_IDX,
    DATA_CIFAR10,
    DATA_IMAGES,
    DATA_NPY,
} data_format;

/* "idx", "cifar10", "images", "npy". */
const char *data_format_name(data_format f);

typedef struct data_opts {
    int resize_h, resize_w; /* --resize HxW: every image resampled to it; 0: none */
    /* where cache files live; NULL: data_cache_dir()'s choice. */
    const char *cache_dir;
    /* called while decoding (never when the cache is reused): images done
       of total; at most about 100 times per load */
    void (*on_progress)(void *ctx, long done, long total);
    void *ctx;
} data_opts;

/* clang-format off */
#define DATA_OPTS_INIT {0}
/* clang-format on */

typedef struct data_source {
    data_format format;
    data_set train, val, test; /* val.n == 0: no validation split of its own */
    int classes;
    char **class_names;    /* classes names (image folders), else NULL */
    char cache_path[4096]; /* the cache file mapped; "" when none could be written */
    gerr cache_err;        /* why there is no cache file (a note, not a failure) */
    bool decoded;          /* this load decoded the source (no usable cache yet) */
    double decode_seconds; /* time spent decoding, 0 when the cache was reused */
    /* private */
    void *mem;
    size_t mem_len;
    bool mapped;
} data_source;

/* Loads dir (see above) into d. Returns 0, or -1 with a message naming the
 * file and what is wrong with it; d is then empty (data_release is safe). */
int data_load(data_source *d, const char *dir, const data_opts *o, gerr *err);
void data_release(data_source *d);

/* 0 when the data's images are c x h x w, the shape a network's input line
 * declares; else -1 and a message naming both shapes and what to change
 * ("NET: its input line says 1x28x28, but the data in DIR is 3x32x32
 * images: ..."). */
int data_check_input(const data_source *d, const char *dir, const char *net, int c, int h, int w,
                     gerr *err);

/* The cache folder: $GEVO_CACHE_DIR, else $XDG_CACHE_HOME/gevo, else
 * $HOME/.cache/gevo. Returns 0, or -1 when none of them is set. */
int data_cache_dir(char *out, size_t n, gerr *err);

/* "HxW" (e.g. "64x64") into *h, *w, each 1..4096. */
int data_parse_size(const char *s, int *h, int *w, gerr *err);

/* A view of a data set: the indices of the images in it. */
typedef struct data_view {
    const data_set *set;
    int *index;
    int n;
} data_view;

/* Splits train into a validation view (round(val_frac * n) images) and a
 * training view (the rest, or its first `subset` images when subset > 0),
 * by a permutation drawn from seed. When val is a non-empty set (a source's
 * own validation split), it is the validation view whole and val_frac is
 * not used. Returns -1 when memory runs out. */
int data_split(const data_set *train, const data_set *val, double val_frac, int subset,
               uint64_t seed, data_view *train_view, data_view *val_view);
/* The images data_split's training view will hold, before it is made
 * (the trainer sizes its memory and caps its batch by it). */
int data_split_count(const data_set *train, const data_set *val, double val_frac, int subset);
/* The whole set as a view. */
int data_view_all(const data_set *d, data_view *v);
/* Frees the index (the view itself is the caller's). */
void data_view_release(data_view *v);

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
