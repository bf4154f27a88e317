/* Data sets: IDX and CIFAR-10 readers, seeded splits, normalised and
 * augmented batches. zlib's gzread reads plain files as well, so one
 * reader serves .gz and uncompressed IDX files. */
#include "engine/data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/name into out; false when it does not fit. */
static bool join(char *out, size_t n, const char *dir, const char *name)
{
    int r = snprintf(out, n, "%s/%s", dir, name);
    return r >= 0 && (size_t)r < n;
}

/* Finds dir/name or dir/name.gz. */
static bool find_variant(const char *dir, const char *name, char *out, size_t n)
{
    if (join(out, n, dir, name) && file_exists(out))
        return true;
    char gz[256];
    snprintf(gz, sizeof gz, "%s.gz", name);
    return join(out, n, dir, gz) && file_exists(out);
}

static int read_all(gzFile f, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        int r = gzread(f, p, chunk);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads an IDX file of unsigned bytes with the expected number of
 * dimensions; dims[] receives them. The buffer is malloc'd. */
static uint8_t *read_idx(const char *path, int want_dims, uint32_t *dims, char *err, size_t errsize)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errsize, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    uint8_t head[4];
    uint8_t *data = NULL;
    if (read_all(f, head, 4)) {
        snprintf(err, errsize, "%s: too short for an IDX header", path);
        goto out;
    }
    if (head[0] || head[1] || head[2] != 0x08 || head[3] != want_dims) {
        snprintf(err, errsize,
                 "%s: not an IDX file of %d-dimensional unsigned bytes (magic %02x%02x%02x%02x)",
                 path, want_dims, head[0], head[1], head[2], head[3]);
        goto out;
    }
    uint64_t total = 1;
    for (int i = 0; i < want_dims; i++) {
        uint8_t d[4];
        if (read_all(f, d, 4)) {
            snprintf(err, errsize, "%s: truncated IDX header", path);
            goto out;
        }
        dims[i] = be32(d);
        if (dims[i] == 0 || dims[i] > 10000000) {
            snprintf(err, errsize, "%s: implausible dimension %u", path, dims[i]);
            goto out;
        }
        total *= dims[i];
    }
    if (total > (1ull << 33)) {
        snprintf(err, errsize, "%s: %llu bytes of data is too large", path,
                 (unsigned long long)total);
        goto out;
    }
    data = malloc(total ? total : 1);
    if (!data) {
        snprintf(err, errsize, "%s: out of memory for %llu bytes", path, (unsigned long long)total);
        goto out;
    }
    if (read_all(f, data, total)) {
        snprintf(err, errsize, "%s: truncated: expected %llu bytes of data", path,
                 (unsigned long long)total);
        free(data);
        data = NULL;
    }
out:
    gzclose(f);
    return data;
}

static int load_idx_pair(const char *dir, const char *images, const char *labels, data_set *d,
                         char *err, size_t errsize)
{
    char ip[4096], lp[4096];
    if (!find_variant(dir, images, ip, sizeof ip) || !find_variant(dir, labels, lp, sizeof lp)) {
        snprintf(err, errsize, "%s: missing %s or %s (.gz)", dir, images, labels);
        return -1;
    }
    uint32_t idims[3], ldims[1];
    uint8_t *px = read_idx(ip, 3, idims, err, errsize);
    if (!px)
        return -1;
    uint8_t *lb = read_idx(lp, 1, ldims, err, errsize);
    if (!lb) {
        free(px);
        return -1;
    }
    if (ldims[0] != idims[0]) {
        snprintf(err, errsize, "%s has %u images but %s has %u labels", ip, idims[0], lp, ldims[0]);
        free(px);
        free(lb);
        return -1;
    }
    d->n = (int)idims[0];
    d->c = 1;
    d->h = (int)idims[1];
    d->w = (int)idims[2];
    d->pixels = px;
    d->labels = lb;
    return 0;
}

/* CIFAR-10 binary: records of 1 label byte and 3x32x32 bytes. */
static int load_cifar(char *const *paths, int n_paths, data_set *d, char *err, size_t errsize)
{
    const size_t rec = 1 + 3072;
    size_t total = 0;
    for (int i = 0; i < n_paths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            snprintf(err, errsize, "%s: %s", paths[i], strerror(errno));
            return -1;
        }
        if (st.st_size == 0 || (size_t)st.st_size % rec) {
            snprintf(err, errsize, "%s: size %lld is not a multiple of CIFAR-10's %zu-byte records",
                     paths[i], (long long)st.st_size, rec);
            return -1;
        }
        total += (size_t)st.st_size / rec;
    }
    d->pixels = malloc(total * 3072);
    d->labels = malloc(total);
    uint8_t *buf = malloc(rec);
    if (!d->pixels || !d->labels || !buf) {
        free(buf);
        snprintf(err, errsize, "out of memory for %zu CIFAR-10 images", total);
        return -1;
    }
    size_t k = 0;
    for (int i = 0; i < n_paths; i++) {
        FILE *f = fopen(paths[i], "rb");
        if (!f) {
            snprintf(err, errsize, "%s: cannot open: %s", paths[i], strerror(errno));
            free(buf);
            return -1;
        }
        while (fread(buf, 1, rec, f) == rec) {
            if (buf[0] > 9) {
                snprintf(err, errsize, "%s: record %zu has label %d, outside 0..9", paths[i], k,
                         buf[0]);
                fclose(f);
                free(buf);
                return -1;
            }
            d->labels[k] = buf[0];
            memcpy(d->pixels + k * 3072, buf + 1, 3072);
            k++;
        }
        fclose(f);
    }
    free(buf);
    d->n = (int)k;
    d->c = 3;
    d->h = d->w = 32;
    return 0;
}

static void set_classes(data_set *d)
{
    int m = 0;
    for (int i = 0; i < d->n; i++)
        if (d->labels[i] > m)
            m = d->labels[i];
    d->classes = m + 1;
}

int data_load(const char *dir, data_set *train, data_set *test, char *err, size_t errsize)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errsize, "%s: no such data directory", dir);
        return -1;
    }
    char probe[4096];
    int rc;
    if (find_variant(dir, "train-images-idx3-ubyte", probe, sizeof probe)) {
        rc = load_idx_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", train, err,
                           errsize);
        if (!rc)
            rc = load_idx_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", test, err,
                               errsize);
    } else {
        char base[4096];
        bool ok = join(base, sizeof base, dir, ".") &&
                  join(probe, sizeof probe, base, "data_batch_1.bin") && file_exists(probe);
        if (!ok)
            ok = join(base, sizeof base, dir, "cifar-10-batches-bin") &&
                 join(probe, sizeof probe, base, "data_batch_1.bin") && file_exists(probe);
        if (!ok) {
            snprintf(err, errsize,
                     "%s: no data set found (expected IDX files train-images-idx3-ubyte[.gz] etc., "
                     "or CIFAR-10's "
                     "data_batch_1.bin ... test_batch.bin)",
                     dir);
            return -1;
        }
        char *paths[5];
        char store[5][4200];
        int n = 0;
        for (int i = 1; i <= 5; i++) {
            char name[32];
            snprintf(name, sizeof name, "data_batch_%d.bin", i);
            if (join(store[n], sizeof store[n], base, name) && file_exists(store[n])) {
                paths[n] = store[n];
                n++;
            }
        }
        rc = load_cifar(paths, n, train, err, errsize);
        if (!rc) {
            join(store[0], sizeof store[0], base, "test_batch.bin");
            paths[0] = store[0];
            rc = load_cifar(paths, 1, test, err, errsize);
        }
    }
    if (rc) {
        data_free(train);
        data_free(test);
        return -1;
    }
    if (train->c != test->c || train->h != test->h || train->w != test->w) {
        snprintf(err, errsize, "%s: training images are %dx%dx%d but test images %dx%dx%d", dir,
                 train->c, train->h, train->w, test->c, test->h, test->w);
        data_free(train);
        data_free(test);
        return -1;
    }
    set_classes(train);
    set_classes(test);
    if (test->classes > train->classes)
        train->classes = test->classes;
    test->classes = train->classes;
    return 0;
}

void data_free(data_set *d)
{
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof *d);
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

int data_split(const data_set *train, double val_frac, int subset, uint64_t seed, data_view *tv,
               data_view *vv)
{
    int n = train->n;
    int nval = (int)lround(val_frac * n);
    if (nval < 0)
        nval = 0;
    if (nval > n - 1)
        nval = n - 1;
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
    int ntrain = n - nval;
    if (subset > 0 && subset < ntrain)
        ntrain = subset;
    vv->set = tv->set = train;
    vv->n = nval;
    tv->n = ntrain;
    vv->index = malloc(sizeof(int) * (size_t)(nval ? nval : 1));
    tv->index = malloc(sizeof(int) * (size_t)(ntrain ? ntrain : 1));
    if (!vv->index || !tv->index) {
        free(perm);
        data_view_free(vv);
        data_view_free(tv);
        return -1;
    }
    /* validation images come first in the permutation, so the validation
       set does not depend on --subset */
    memcpy(vv->index, perm, sizeof(int) * (size_t)nval);
    memcpy(tv->index, perm + nval, sizeof(int) * (size_t)ntrain);
    free(perm);
    return 0;
}

void data_view_free(data_view *v)
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
