/* What the data modules share: a scan (the source files of a data folder,
 * found before anything is decoded, which also keys the cache) and a
 * builder (the decoded data set, laid out as the cache file is, filled one
 * image at a time). One reader per format:
 *
 *   data_idx.c     IDX files (MNIST, Fashion-MNIST), gzipped or not
 *   data_cifar.c   CIFAR-10 binary batches
 *   data_images.c  image folders (libpng, libjpeg-turbo)
 *   data_npy.c     NumPy .npy arrays
 *   data_cache.c   the cache file: key, layout, locking, mapping
 *
 * A reader's scan lists its files; its decode calls data_builder_begin once
 * the shapes and counts are known, then data_builder_put for every image. */
#ifndef GEVO_ENGINE_DATA_INTERNAL_H
#define GEVO_ENGINE_DATA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/data.h"

enum {
    SPLIT_TRAIN,
    SPLIT_VAL,
    SPLIT_TEST,
    SPLITS
};

/* The split's folder or file-name part: "train", "val", "test". */
extern const char *const data_split_names[SPLITS];

/* Every pixel byte of a data set together stays below this (a corrupt
 * header cannot ask for more). */
#define DATA_MAX_BYTES   ((size_t)1 << 34)
/* Most images in one split (data_set.n is an int). */
#define DATA_MAX_IMAGES  100000000L
#define DATA_MAX_CLASSES 65535

typedef struct data_file {
    char *path;
    int split;
    int label;      /* image folders: the class; else -1 */
    bool is_labels; /* IDX and NumPy: the labels file of its split */
    bool have_stat; /* size and mtime known from the scan (else stat'ed for the key) */
    long long size;
    struct timespec mtime;
} data_file;

typedef struct data_scan {
    data_format format;
    char dir[4096];
    data_file *files; /* in decoding order */
    size_t n_files, alloc_files;
    char **classes; /* image folders: sorted class names */
    size_t n_classes, alloc_classes;
} data_scan;

/* st: the file's stat when the scan has it (image folders, thousands of
 * files, each stat'ed once), else NULL. */
/* path is a regular file, or a folder (following symbolic links). */
bool data_is_file(const char *path);
bool data_is_dir(const char *path);

int data_scan_add(data_scan *s, const char *path, int split, int label, bool is_labels,
                  const struct stat *st, gerr *err);
void data_scan_release(data_scan *s);

/* The layout of the cache file, little-endian, every field naturally
 * aligned; pixel arrays start on 64-byte boundaries. */
#define DATA_CACHE_MAGIC   "gevodata"
#define DATA_CACHE_VERSION 1
typedef struct data_cache_header {
    char magic[8];
    uint32_t version;
    uint32_t endian; /* 0x01020304 as written */
    uint64_t key[2]; /* of the source files (data_cache_key) */
    uint64_t file_size;
    uint32_t format, c, h, w, classes, resize_h, resize_w, reserved;
    uint64_t n[SPLITS];
    uint64_t labels_off[SPLITS], pixels_off[SPLITS];
    uint64_t names_off, names_len; /* class names, each NUL-terminated */
} data_cache_header;

typedef struct data_builder {
    const data_opts *o;
    int c, h, w; /* of the data set, after --resize */
    long n[SPLITS];
    uint8_t *mem; /* the whole cache image, header first */
    size_t len;
    uint8_t *pixels[SPLITS];
    uint16_t *labels[SPLITS];
    long done, total, next_report;
} data_builder;

/* Sizes and allocates the data set: c channels, h x w pixels (the source's;
 * --resize replaces them), n images per split, class names (NULL or
 * n_classes of them). */
int data_builder_begin(data_builder *b, const data_opts *o, int c, int h, int w,
                       const long n[SPLITS], char *const *names, size_t n_classes, gerr *err);
/* Image i of split: c x h x w bytes, CHW; resampled when h x w is not the
 * data set's (only happens with --resize, the readers check sizes). */
void data_builder_put(data_builder *b, int split, long i, const uint8_t *chw, int h, int w,
                      unsigned label);
void data_builder_release(data_builder *b);

/* Bilinear resampling of one channel (pixel centres aligned, edges
 * clamped, rounded to the nearest byte). */
void data_resize_bilinear(const uint8_t *src, int sh, int sw, uint8_t *dst, int dh, int dw);

/* The readers. */
bool data_idx_detect(const char *dir);
int data_idx_scan(data_scan *s, gerr *err);
int data_idx_decode(const data_scan *s, const data_opts *o, data_builder *b, gerr *err);

bool data_cifar_detect(const char *dir, char *base, size_t n);
int data_cifar_scan(data_scan *s, const char *base, gerr *err);
int data_cifar_decode(const data_scan *s, const data_opts *o, data_builder *b, gerr *err);

bool data_npy_detect(const char *dir);
int data_npy_scan(data_scan *s, gerr *err);
int data_npy_decode(const data_scan *s, const data_opts *o, data_builder *b, gerr *err);

bool data_images_detect(const char *dir);
int data_images_scan(data_scan *s, gerr *err);
int data_images_decode(const data_scan *s, const data_opts *o, data_builder *b, gerr *err);

/* The cache (data_cache.c). */
/* The key of a scan: every source file's name, size and modification
 * time, the format, --resize and the cache version. */
int data_cache_key(const data_scan *s, const data_opts *o, uint64_t key[2], gerr *err);
/* The cache file's path for dir and --resize, under the cache folder. */
int data_cache_path(const data_scan *s, const data_opts *o, char *out, size_t n, gerr *err);
/* Maps path when it is a complete cache file of that key; 1 when it was,
 * 0 when there is none or it is stale (or damaged), -1 on an error. */
int data_cache_map(data_source *d, const char *path, const uint64_t key[2], gerr *err);
/* Points d's splits into a cache image (a mapping or a builder's memory),
 * checking every offset and label. */
int data_cache_attach(data_source *d, const uint8_t *mem, size_t len, const char *what, gerr *err);
/* Takes the lock beside path (flock, released by data_cache_unlock or by
 * the process ending); -1 when locking is impossible (then go on without). */
int data_cache_lock(const char *path);
void data_cache_unlock(int fd);

#endif
