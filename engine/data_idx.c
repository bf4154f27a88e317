/* IDX files (MNIST, Fashion-MNIST): train-images-idx3-ubyte,
 * train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
 * each plain or gzipped. zlib's gzread reads plain files as well, so one
 * reader serves both. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "engine/data_internal.h"

static const char *const names[2][2] = {
    {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
    {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
};

/* dir/name or dir/name.gz into out. */
static bool find_variant(const char *dir, const char *name, char *out, size_t n)
{
    struct stat st;
    const char *const ext[] = {"", ".gz"};
    for (int i = 0; i < 2; i++) {
        int r = snprintf(out, n, "%s/%s%s", dir, name, ext[i]);
        if (r >= 0 && (size_t)r < n && stat(out, &st) == 0 && S_ISREG(st.st_mode))
            return true;
    }
    return false;
}

bool data_idx_detect(const char *dir)
{
    char p[4096];
    return find_variant(dir, names[0][0], p, sizeof p);
}

static gzFile open_idx(const char *path, int want_dims, uint32_t *dims, gerr *err);
static int read_all(gzFile f, void *buf, size_t n);

/* Reads a whole IDX file to find what is wrong with it. */
static int check_idx(const char *path, bool labels, gerr *err)
{
    uint32_t dims[3];
    gzFile f = open_idx(path, labels ? 1 : 3, dims, err);
    if (!f)
        return -1;
    uint64_t left = labels ? dims[0] : (uint64_t)dims[0] * dims[1] * dims[2];
    uint8_t buf[65536];
    int rc = 0;
    while (left && rc == 0) {
        size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
        if (read_all(f, buf, n))
            rc = gerr_set(err, "%s: truncated: expected %llu more bytes", path,
                          (unsigned long long)left);
        left -= n;
    }
    gzclose(f);
    return rc;
}

int data_idx_scan(data_scan *s, gerr *err)
{
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < 2; l++) {
            char p[4200];
            if (!find_variant(s->dir, names[k][l], p, sizeof p)) {
                /* what is wrong with the files that are there comes first */
                for (size_t i = 0; i < s->n_files; i++)
                    if (check_idx(s->files[i].path, s->files[i].is_labels, err))
                        return -1;
                return gerr_set(err, "%s: missing %s (or %s.gz)", s->dir, names[k][l], names[k][l]);
            }
            if (data_scan_add(s, p, k ? SPLIT_TEST : SPLIT_TRAIN, -1, l == 1, NULL, err))
                return -1;
        }
    return 0;
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

/* Opens an IDX file of unsigned bytes with want_dims dimensions and reads
 * its header into dims; the stream is left at the data. */
static gzFile open_idx(const char *path, int want_dims, uint32_t *dims, gerr *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        gerr_errno(err, "%s: cannot open", path);
        return NULL;
    }
    uint8_t head[4];
    if (read_all(f, head, 4)) {
        gerr_set(err, "%s: too short for an IDX header", path);
        goto fail;
    }
    if (head[0] || head[1] || head[2] != 0x08 || head[3] != want_dims) {
        gerr_set(err,
                 "%s: not an IDX file of %d-dimensional unsigned bytes (magic %02x%02x%02x%02x)",
                 path, want_dims, head[0], head[1], head[2], head[3]);
        goto fail;
    }
    for (int i = 0; i < want_dims; i++) {
        uint8_t d[4];
        if (read_all(f, d, 4)) {
            gerr_set(err, "%s: truncated IDX header", path);
            goto fail;
        }
        dims[i] = be32(d);
        if (dims[i] == 0 || dims[i] > 10000000) {
            gerr_set(err, "%s: implausible dimension %u", path, dims[i]);
            goto fail;
        }
    }
    return f;
fail:
    gzclose(f);
    return NULL;
}

/* The header's dimensions must account for the file's size (a plain file)
 * or gzip's record of it (the trailer's size modulo 2^32), before they size
 * an allocation. */
static int check_size(const char *path, gzFile f, int ndims, const uint32_t *dims, gerr *err)
{
    uint64_t want = 4 + 4 * (uint64_t)ndims;
    uint64_t data = 1;
    for (int i = 0; i < ndims; i++)
        data *= dims[i];
    want += data;
    struct stat st;
    if (stat(path, &st) != 0)
        return gerr_errno(err, "%s", path);
    if (gzdirect(f)) {
        if ((uint64_t)st.st_size != want)
            return gerr_set(
                err, "%s: truncated or too long: its header says %llu bytes, the file has %lld",
                path, (unsigned long long)want, (long long)st.st_size);
        return 0;
    }
    FILE *fp = fopen(path, "rb");
    uint8_t t[4] = {0};
    bool ok = fp && st.st_size >= 18 && fseek(fp, -4, SEEK_END) == 0 && fread(t, 1, 4, fp) == 4;
    if (fp)
        fclose(fp);
    uint32_t isize =
        (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    if (!ok || isize != (uint32_t)want)
        return gerr_set(err, "%s: truncated: its header says %llu bytes, gzip's trailer %u", path,
                        (unsigned long long)want, ok ? isize : 0);
    return 0;
}

int data_idx_decode(const data_scan *s, const data_opts *o, data_builder *b, gerr *err)
{
    gzFile f[2][2] = {{0}};
    uint32_t dims[2][2][3];
    uint8_t *img = NULL;
    int rc = -1;
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < 2; l++) {
            f[k][l] = open_idx(s->files[2 * k + l].path, l ? 1 : 3, dims[k][l], err);
            if (!f[k][l])
                goto out;
        }
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < 2; l++)
            if (check_size(s->files[2 * k + l].path, f[k][l], l ? 1 : 3, dims[k][l], err))
                goto out;
    for (int k = 0; k < 2; k++) {
        if (dims[k][1][0] != dims[k][0][0]) {
            gerr_set(err, "%s has %u images but %s has %u labels", s->files[2 * k].path,
                     dims[k][0][0], s->files[2 * k + 1].path, dims[k][1][0]);
            goto out;
        }
    }
    if (!o->resize_h && (dims[0][0][1] != dims[1][0][1] || dims[0][0][2] != dims[1][0][2])) {
        gerr_set(err, "%s: images are %ux%u but %s's are %ux%u (--resize HxW resamples both)",
                 s->files[2].path, dims[1][0][1], dims[1][0][2], s->files[0].path, dims[0][0][1],
                 dims[0][0][2]);
        goto out;
    }
    long n[SPLITS] = {(long)dims[0][0][0], 0, (long)dims[1][0][0]};
    if (data_builder_begin(b, o, 1, (int)dims[0][0][1], (int)dims[0][0][2], n, NULL, 0, err))
        goto out;
    size_t most = (size_t)dims[0][0][1] * dims[0][0][2];
    if ((size_t)dims[1][0][1] * dims[1][0][2] > most)
        most = (size_t)dims[1][0][1] * dims[1][0][2];
    img = malloc(most);
    if (!img) {
        gerr_set(err, "out of memory");
        goto out;
    }
    for (int k = 0; k < 2; k++) {
        int split = k ? SPLIT_TEST : SPLIT_TRAIN, h = (int)dims[k][0][1], w = (int)dims[k][0][2];
        for (long i = 0; i < n[split]; i++) {
            uint8_t label;
            if (read_all(f[k][0], img, (size_t)h * w)) {
                gerr_set(err, "%s: truncated: image %ld of %ld is missing", s->files[2 * k].path,
                         i + 1, n[split]);
                goto out;
            }
            if (read_all(f[k][1], &label, 1)) {
                gerr_set(err, "%s: truncated: label %ld of %ld is missing",
                         s->files[2 * k + 1].path, i + 1, n[split]);
                goto out;
            }
            data_builder_put(b, split, i, img, h, w, label);
        }
    }
    rc = 0;
out:
    free(img);
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < 2; l++)
            if (f[k][l])
                gzclose(f[k][l]);
    return rc;
}
