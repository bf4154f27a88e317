/* Data sets: finding a folder's layout, decoding it once into the cache
 * (data_cache.c) or mapping the cache, seeded splits, normalised and
 * augmented batches. The readers of each layout are data_*.c. */
#include "engine/data.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "engine/base/clock.h"
#include "engine/base/file.h"
#include "engine/base/grow.h"
#include "engine/data_internal.h"

const char *const data_split_names[SPLITS] = {"train", "val", "test"};

const char *data_format_name(data_format f)
{
    static const char *const names[] = {"idx", "cifar10", "images", "npy"};
    return (unsigned)f < sizeof names / sizeof *names ? names[f] : "?";
}

int data_parse_size(const char *s, int *h, int *w, gerr *err)
{
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X') || errno)
        return gerr_set(err, "'%s' is not a size HxW (for example 64x64)", s);
    const char *p = end + 1;
    long b = strtol(p, &end, 10);
    if (end == p || *end || errno)
        return gerr_set(err, "'%s' is not a size HxW (for example 64x64)", s);
    if (a < 1 || a > 4096 || b < 1 || b > 4096)
        return gerr_set(err, "'%s': height and width must be 1 to 4096", s);
    *h = (int)a;
    *w = (int)b;
    return 0;
}

bool data_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool data_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int data_scan_add(data_scan *s, const char *path, int split, int label, bool is_labels,
                  const struct stat *st, gerr *err)
{
    if (ALLOC_GROW(s->files, s->n_files + 1, s->alloc_files))
        return gerr_set(err, "out of memory listing %s", s->dir);
    char *p = strdup(path);
    if (!p)
        return gerr_set(err, "out of memory listing %s", s->dir);
    data_file *f = &s->files[s->n_files++];
    *f = (data_file){p, split, label, is_labels, st != NULL, 0, {0, 0}};
    if (st) {
        f->size = (long long)st->st_size;
        f->mtime = st->st_mtim;
    }
    return 0;
}

void data_scan_release(data_scan *s)
{
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i].path);
    free(s->files);
    for (size_t i = 0; i < s->n_classes; i++)
        free(s->classes[i]);
    free(s->classes);
    memset(s, 0, sizeof *s);
}

/* ---- the builder: a cache image in memory --------------------------- */

static size_t align64(size_t x)
{
    return (x + 63) & ~(size_t)63;
}

int data_builder_begin(data_builder *b, const data_opts *o, int c, int h, int w,
                       const long n[SPLITS], char *const *names, size_t n_classes, gerr *err)
{
    memset(b, 0, sizeof *b);
    b->o = o;
    b->c = c;
    b->h = o->resize_h ? o->resize_h : h;
    b->w = o->resize_w ? o->resize_w : w;
    data_cache_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, DATA_CACHE_MAGIC, 8);
    hd.version = DATA_CACHE_VERSION;
    hd.endian = 0x01020304u;
    hd.c = (uint32_t)c;
    hd.h = (uint32_t)b->h;
    hd.w = (uint32_t)b->w;
    hd.classes = (uint32_t)n_classes;
    hd.resize_h = (uint32_t)o->resize_h;
    hd.resize_w = (uint32_t)o->resize_w;
    size_t off = sizeof hd, image = (size_t)c * b->h * b->w, total_px = 0;
    hd.names_off = off;
    for (size_t i = 0; names && i < n_classes; i++)
        hd.names_len += strlen(names[i]) + 1;
    off += hd.names_len;
    for (int k = 0; k < SPLITS; k++) {
        size_t px;
        if (n[k] < 0 || n[k] > DATA_MAX_IMAGES || !size_mul(image, (size_t)n[k], &px) ||
            !size_add(total_px, px, &total_px) || total_px > DATA_MAX_BYTES)
            return gerr_set(err, "%s: %ld images of %dx%dx%d is more than gevo takes (%zu GiB)",
                            data_split_names[k], n[k], c, b->h, b->w, DATA_MAX_BYTES >> 30);
        b->n[k] = n[k];
        b->total += n[k];
        off = (off + 1) & ~(size_t)1;
        hd.labels_off[k] = off;
        off += 2 * (size_t)n[k];
        off = align64(off);
        hd.pixels_off[k] = off;
        off += px;
        hd.n[k] = (uint64_t)n[k];
    }
    hd.file_size = off;
    b->mem = calloc(1, off);
    if (!b->mem)
        return gerr_set(err, "out of memory for %zu bytes of decoded images", off);
    b->len = off;
    memcpy(b->mem, &hd, sizeof hd);
    char *np = (char *)b->mem + hd.names_off;
    for (size_t i = 0; names && i < n_classes; i++) {
        size_t l = strlen(names[i]) + 1;
        memcpy(np, names[i], l);
        np += l;
    }
    for (int k = 0; k < SPLITS; k++) {
        b->pixels[k] = b->mem + hd.pixels_off[k];
        b->labels[k] = (uint16_t *)(void *)(b->mem + hd.labels_off[k]);
    }
    b->next_report = 0;
    return 0;
}

/* Output pixel i of an axis resampled by scale (source / output length):
 * its centre (i + 0.5) maps to (i + 0.5) * scale in the source, between
 * pixels *a and *b (edges clamped), weight *t on *b. */
static void sample_axis(int i, double scale, int n, int *a, int *b, double *t)
{
    double f = (i + 0.5) * scale - 0.5;
    if (f < 0)
        f = 0;
    *a = (int)f;
    if (*a > n - 1)
        *a = n - 1;
    *b = *a + 1 < n ? *a + 1 : n - 1;
    *t = f - *a;
}

void data_resize_bilinear(const uint8_t *src, int sh, int sw, uint8_t *dst, int dh, int dw)
{
    double sy = (double)sh / dh, sx = (double)sw / dw;
    for (int y = 0; y < dh; y++) {
        int y0, y1;
        double wy;
        sample_axis(y, sy, sh, &y0, &y1, &wy);
        for (int x = 0; x < dw; x++) {
            int x0, x1;
            double wx;
            sample_axis(x, sx, sw, &x0, &x1, &wx);
            double top = src[y0 * sw + x0] * (1 - wx) + src[y0 * sw + x1] * wx;
            double bot = src[y1 * sw + x0] * (1 - wx) + src[y1 * sw + x1] * wx;
            double v = top * (1 - wy) + bot * wy + 0.5;
            dst[y * dw + x] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

void data_builder_put(data_builder *b, int split, long i, const uint8_t *chw, int h, int w,
                      unsigned label)
{
    size_t plane = (size_t)b->h * b->w;
    uint8_t *dst = b->pixels[split] + (size_t)i * b->c * plane;
    if (h == b->h && w == b->w)
        memcpy(dst, chw, (size_t)b->c * plane);
    else
        for (int c = 0; c < b->c; c++)
            data_resize_bilinear(chw + (size_t)c * h * w, h, w, dst + c * plane, b->h, b->w);
    b->labels[split][i] = (uint16_t)label;
    b->done++;
    const data_opts *o = b->o;
    if (o->on_progress && (b->done >= b->next_report || b->done == b->total)) {
        o->on_progress(o->ctx, b->done, b->total);
        b->next_report = b->done + (b->total / 100 > 0 ? b->total / 100 : 1);
    }
}

void data_builder_release(data_builder *b)
{
    free(b->mem);
    memset(b, 0, sizeof *b);
}

/* ---- loading ---------------------------------------------------------- */

/* Finds the layout and lists its files. */
static int scan_dir(data_scan *s, const char *dir, gerr *err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return gerr_set(err, "%s: no such data directory", dir);
    if (!realpath(dir, s->dir))
        return gerr_errno(err, "%s", dir);
    char base[4096];
    if (data_idx_detect(s->dir)) {
        s->format = DATA_IDX;
        return data_idx_scan(s, err);
    }
    if (data_cifar_detect(s->dir, base, sizeof base)) {
        s->format = DATA_CIFAR10;
        return data_cifar_scan(s, base, err);
    }
    if (data_npy_detect(s->dir)) {
        s->format = DATA_NPY;
        return data_npy_scan(s, err);
    }
    if (data_images_detect(s->dir)) {
        s->format = DATA_IMAGES;
        return data_images_scan(s, err);
    }
    return gerr_set(err,
                    "%s: no data set found (expected IDX files train-images-idx3-ubyte[.gz] etc., "
                    "CIFAR-10's data_batch_1.bin ... test_batch.bin, NumPy's x_train.npy, "
                    "y_train.npy, x_test.npy, y_test.npy, or image folders train/CLASS/ and "
                    "test/CLASS/)",
                    dir);
}

static int decode(const data_scan *s, const data_opts *o, data_builder *b, gerr *err)
{
    switch (s->format) {
    case DATA_IDX: return data_idx_decode(s, o, b, err);
    case DATA_CIFAR10: return data_cifar_decode(s, o, b, err);
    case DATA_NPY: return data_npy_decode(s, o, b, err);
    case DATA_IMAGES: return data_images_decode(s, o, b, err);
    }
    return gerr_set(err, "%s: unknown format", s->dir);
}

/* Classes of a format without names: one more than the largest label. */
static void finish_header(data_builder *b, const data_scan *s, const uint64_t key[2])
{
    data_cache_header h;
    memcpy(&h, b->mem, sizeof h);
    h.format = (uint32_t)s->format;
    h.key[0] = key[0];
    h.key[1] = key[1];
    if (!h.classes) {
        unsigned m = 0;
        for (int k = 0; k < SPLITS; k++)
            for (long i = 0; i < b->n[k]; i++)
                if (b->labels[k][i] > m)
                    m = b->labels[k][i];
        h.classes = m + 1;
    }
    memcpy(b->mem, &h, sizeof h);
}

int data_load(data_source *d, const char *dir, const data_opts *o, gerr *err)
{
    static const data_opts defaults = DATA_OPTS_INIT;
    if (!o)
        o = &defaults;
    memset(d, 0, sizeof *d);
    data_scan s;
    memset(&s, 0, sizeof s);
    data_builder b;
    memset(&b, 0, sizeof b);
    int lock = -1, rc = -1;
    uint64_t key[2];
    char path[4096] = "";
    if (scan_dir(&s, dir, err) || data_cache_key(&s, o, key, err))
        goto out;
    if (data_cache_path(&s, o, path, sizeof path, &d->cache_err) == 0) {
        int r = data_cache_map(d, path, key, &d->cache_err);
        if (r == 0) {
            /* another worker may be decoding it: wait for it, then look again */
            lock = data_cache_lock(path);
            r = data_cache_map(d, path, key, &d->cache_err);
        }
        if (r == 1) {
            rc = 0;
            goto out;
        }
        if (r < 0)
            path[0] = 0; /* an unreadable cache: decode into memory */
    } else {
        path[0] = 0;
    }
    double t0 = clock_seconds();
    if (decode(&s, o, &b, err))
        goto out;
    finish_header(&b, &s, key);
    d->decoded = true;
    d->decode_seconds = clock_seconds() - t0;
    if (path[0] && file_write(path, b.mem, b.len, &d->cache_err) == 0 &&
        data_cache_map(d, path, key, &d->cache_err) == 1) {
        rc = 0;
        goto out;
    }
    if (!d->cache_err.msg[0])
        gerr_set(&d->cache_err, "%s: written but not readable back", path);
    /* no cache file: train from the decoded copy */
    if (data_cache_attach(d, b.mem, b.len, dir, err))
        goto out;
    d->mem = b.mem;
    d->mem_len = b.len;
    b.mem = NULL;
    rc = 0;
out:
    data_cache_unlock(lock);
    data_builder_release(&b);
    data_scan_release(&s);
    if (rc) {
        gerr keep = d->cache_err;
        data_release(d);
        d->cache_err = keep;
    }
    return rc;
}

int data_check_input(const data_source *d, const char *dir, const char *net, int c, int h, int w,
                     gerr *err)
{
    const data_set *t = &d->train;
    if (t->c == c && t->h == h && t->w == w)
        return 0;
    char fix[160];
    if (t->c == c)
        snprintf(fix, sizeof fix,
                 "write 'input x: %dx%dx%d', or resample the data with --resize %dx%d", t->c, t->h,
                 t->w, h, w);
    else
        snprintf(fix, sizeof fix, "write 'input x: %dx%dx%d'", t->c, t->h, t->w);
    return gerr_set(err,
                    "%s: its input line says %dx%dx%d, but the data in %s is %dx%dx%d images (%s)",
                    net, c, h, w, dir, t->c, t->h, t->w, fix);
}

void data_release(data_source *d)
{
    if (d->mapped)
        munmap(d->mem, d->mem_len);
    else
        free(d->mem);
    free(d->class_names);
    memset(d, 0, sizeof *d);
}

/* The images of train held out for validation by data_split. */
static int split_nval(const data_set *train, const data_set *val, double val_frac)
{
    int n = train->n;
    int nval = val && val->n > 0 ? 0 : (int)lround(val_frac * n);
    if (nval < 0)
        nval = 0;
    if (nval > n - 1)
        nval = n - 1;
    return nval;
}

int data_split_count(const data_set *train, const data_set *val, double val_frac, int subset)
{
    int ntrain = train->n - split_nval(train, val, val_frac);
    if (subset > 0 && subset < ntrain)
        ntrain = subset;
    return ntrain > 0 ? ntrain : 0;
}

int data_split(const data_set *train, const data_set *val, double val_frac, int subset,
               uint64_t seed, data_view *tv, data_view *vv)
{
    int n = train->n;
    bool own_val = val && val->n > 0;
    int nval = split_nval(train, val, val_frac);
    int *perm = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!perm)
        return -1;
    for (int i = 0; i < n; i++)
        perm[i] = i;
    rng r;
    rng_seed(&r, seed ^ 0x5b1175eedULL);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int ntrain = data_split_count(train, val, val_frac, subset);
    tv->set = train;
    tv->n = ntrain;
    tv->index = malloc(sizeof(int) * (size_t)(ntrain ? ntrain : 1));
    int rc = 0;
    if (own_val) {
        rc = data_view_all(val, vv);
    } else {
        vv->set = train;
        vv->n = nval;
        vv->index = malloc(sizeof(int) * (size_t)(nval ? nval : 1));
        if (vv->index)
            memcpy(vv->index, perm, sizeof(int) * (size_t)nval);
    }
    if (rc || !vv->index || !tv->index) {
        free(perm);
        data_view_release(vv);
        data_view_release(tv);
        return -1;
    }
    /* validation images come first in the permutation, so the validation
       set does not depend on --subset */
    memcpy(tv->index, perm + nval, sizeof(int) * (size_t)ntrain);
    free(perm);
    return 0;
}

int data_view_all(const data_set *d, data_view *v)
{
    v->set = d;
    v->n = d->n;
    v->index = malloc(sizeof(int) * (size_t)(d->n ? d->n : 1));
    if (!v->index)
        return -1;
    for (int i = 0; i < d->n; i++)
        v->index[i] = i;
    return 0;
}

void data_view_release(data_view *v)
{
    free(v->index);
    v->index = NULL;
    v->n = 0;
}

void data_channel_stats(const data_view *v, float *mean, float *std)
{
    const data_set *d = v->set;
    int hw = d->h * d->w;
    for (int c = 0; c < d->c; c++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < v->n; i++) {
            const uint8_t *p = d->pixels + ((size_t)v->index[i] * d->c + c) * hw;
            uint64_t a = 0, a2 = 0;
            for (int k = 0; k < hw; k++) {
                a += p[k];
                a2 += (uint64_t)p[k] * p[k];
            }
            s += (double)a;
            s2 += (double)a2;
        }
        double cnt = (double)v->n * hw;
        double m = cnt > 0 ? s / cnt : 0;
        double var = cnt > 0 ? s2 / cnt - m * m : 0;
        mean[c] = (float)(m / 255.0);
        std[c] = (float)(var > 1e-6 ? sqrt(var) / 255.0 : 1.0);
    }
}

void data_batch(const data_view *v, const int *order, int n, const float *mean, const float *std,
                const data_augment *aug, rng *r, float *x, int *y)
{
    const data_set *d = v->set;
    int C = d->c, H = d->h, W = d->w, hw = H * W;
    /* byte -> normalised float, per channel, as a table */
    float lut[3][256];
    int lc = C < 3 ? C : 3;
    for (int c = 0; c < lc; c++)
        for (int b = 0; b < 256; b++)
            lut[c][b] = ((float)b / 255.0f - mean[c]) / std[c];
    for (int i = 0; i < n; i++) {
        int idx = v->index[order[i]];
        y[i] = d->labels[idx];
        const uint8_t *src = d->pixels + (size_t)idx * C * hw;
        float *dst = x + (size_t)i * C * hw;
        bool flip = aug && aug->flip && (rng_next(r) & 1);
        int dy = 0, dx = 0;
        if (aug && aug->crop && aug->pad > 0) {
            dy = (int)rng_below(r, (uint64_t)(2 * aug->pad + 1)) - aug->pad;
            dx = (int)rng_below(r, (uint64_t)(2 * aug->pad + 1)) - aug->pad;
        }
        for (int c = 0; c < C; c++) {
            const float *t = lut[c < 3 ? c : 2];
            float zero = c < 3 ? t[0] : (0 - mean[c]) / std[c];
            const uint8_t *sp = src + (size_t)c * hw;
            float *dp = dst + (size_t)c * hw;
            if (!flip && !dy && !dx) {
                if (c < 3)
                    for (int k = 0; k < hw; k++)
                        dp[k] = t[sp[k]];
                else
                    for (int k = 0; k < hw; k++)
                        dp[k] = ((float)sp[k] / 255.0f - mean[c]) / std[c];
                continue;
            }
            /* output (oy, ox) reads input (oy + dy, ox + dx), mirrored first
               when flipped; outside the image is the zero-padding value */
            for (int oy = 0; oy < H; oy++) {
                int iy = oy + dy;
                for (int ox = 0; ox < W; ox++) {
                    int sx = flip ? W - 1 - ox : ox;
                    int ix = sx + dx;
                    float val = zero;
                    if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                        uint8_t b = sp[iy * W + ix];
                        val = c < 3 ? t[b] : ((float)b / 255.0f - mean[c]) / std[c];
                    }
                    dp[oy * W + ox] = val;
                }
            }
        }
    }
}
