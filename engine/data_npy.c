/* NumPy arrays (Keras's datasets layout): x_train.npy, y_train.npy,
 * x_test.npy, y_test.npy, optionally x_val.npy and y_val.npy.
 *
 * The .npy format (numpy.lib.format): the magic "\x93NUMPY", a version
 * (1.0: 2-byte header length; 2.0: 4-byte; 3.0: 4-byte, UTF-8 header),
 * the header length (little-endian), then a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }
 * ending with '\n', then the array in C order. Every field is checked;
 * anything else is refused with what to do instead.
 *
 * Images: uint8, or float32 in [0, 1] (scaled by 255) or in [0, 255]
 * (taken as they are), decided per file by the values' range and required
 * to agree across files; either way stored as rounded bytes. Shapes (N, H, W)
 * (one channel), (N, H, W, C) and (N, C, H, W) with C 1 or 3; when both the
 * second and the last dimension are 1 or 3, the array is channels-last,
 * (N, H, W, C), as Keras, PIL and matplotlib lay images out.
 * Labels: any integer type, shape (N) or (N, 1), each 0 to 65534. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/base/file.h"
#include "engine/base/grow.h"
#include "engine/data_internal.h"

#define NPY_HEADER_MAX (1 << 20)

bool data_npy_detect(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/x_train.npy", dir);
    return data_is_file(p);
}

int data_npy_scan(data_scan *s, gerr *err)
{
    static const int order[] = {SPLIT_TRAIN, SPLIT_TEST, SPLIT_VAL};
    for (int i = 0; i < 3; i++) {
        int k = order[i];
        char x[4200], y[4200];
        snprintf(x, sizeof x, "%s/x_%s.npy", s->dir, data_split_names[k]);
        snprintf(y, sizeof y, "%s/y_%s.npy", s->dir, data_split_names[k]);
        bool hx = data_is_file(x), hy = data_is_file(y);
        if (k == SPLIT_VAL && !hx && !hy)
            continue;
        if (!hx || !hy)
            return gerr_set(err,
                            "%s: missing (NumPy data needs x_train.npy, y_train.npy, "
                            "x_test.npy and y_test.npy; x_val.npy and y_val.npy together)",
                            hx ? y : x);
        if (data_scan_add(s, x, k, -1, false, NULL, err) ||
            data_scan_add(s, y, k, -1, true, NULL, err))
            return -1;
    }
    return 0;
}

/* ---- the header ------------------------------------------------------- */

typedef struct npy {
    const char *path;
    char order;     /* '<', '>' or '|' (one byte, no order) */
    char kind;      /* 'u', 'i', 'f', 'b', ... */
    int size;       /* bytes per element */
    char descr[32]; /* as written, for messages */
    int ndim;
    long shape[8];
    size_t data_off; /* where the array starts */
    size_t count;    /* elements */
    uint8_t *map;    /* the whole file, read-only */
    size_t map_len;
} npy;

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted Python string without escapes, into out. */
static bool parse_str(cursor *c, char *out, size_t n)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return false;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || k + 1 >= n)
            return false;
        out[k++] = *c->p++;
    }
    if (c->p >= c->end)
        return false;
    c->p++;
    out[k] = 0;
    return true;
}

static bool parse_word(cursor *c, const char *w)
{
    skip_ws(c);
    size_t l = strlen(w);
    if ((size_t)(c->end - c->p) >= l && !memcmp(c->p, w, l)) {
        c->p += l;
        return true;
    }
    return false;
}

static int parse_descr(npy *a, const char *d, gerr *err)
{
    snprintf(a->descr, sizeof a->descr, "%s", d);
    char *end;
    if (!strchr("<>|=", d[0]) || !d[1] || !d[2])
        return gerr_set(err,
                        "%s: header: descr '%s' is not a simple NumPy type such as '|u1' or "
                        "'<f4'",
                        a->path, d);
    long size = strtol(d + 2, &end, 10);
    if (*end || size < 1 || size > 16)
        return gerr_set(err,
                        "%s: header: descr '%s' is not a simple NumPy type such as '|u1' or "
                        "'<f4'",
                        a->path, d);
    a->order = d[0] == '=' ? '<' : d[0]; /* native order: every machine gevo runs on is
                                             little-endian (data_cache.c checks it) */
    a->kind = d[1];
    a->size = (int)size;
    if (a->order == '|' && a->size != 1)
        return gerr_set(err, "%s: header: descr '%s' has no byte order", a->path, d);
    return 0;
}

/* Reads and checks the header; maps the file. */
static int npy_open(npy *a, const char *path, gerr *err)
{
    memset(a, 0, sizeof *a);
    a->path = path;
    struct stat st;
    int fd = file_open(path, &st, err);
    if (fd < 0)
        return -1;
    uint8_t pre[12];
    ssize_t got = pread(fd, pre, sizeof pre, 0);
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6)) {
        close(fd);
        return gerr_set(err, "%s: not a NumPy .npy file (no \\x93NUMPY magic)", path);
    }
    int major = pre[6], minor = pre[7];
    size_t hlen, hstart;
    if (major == 1 && minor == 0) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        hstart = 10;
    } else if ((major == 2 || major == 3) && minor == 0 && got == 12) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        hstart = 12;
    } else {
        close(fd);
        return gerr_set(err, "%s: .npy format version %d.%d is not supported (1.0, 2.0, 3.0)", path,
                        major, minor);
    }
    if (hlen > NPY_HEADER_MAX || hstart + hlen > (uintmax_t)st.st_size) {
        close(fd);
        return gerr_set(err, "%s: header: length %zu runs past the end of the %lld-byte file", path,
                        hlen, (long long)st.st_size);
    }
    char *h = malloc(hlen + 1);
    if (!h || pread(fd, h, hlen, (off_t)hstart) != (ssize_t)hlen) {
        free(h);
        close(fd);
        return gerr_set(err, "%s: header: cannot read %zu bytes", path, hlen);
    }
    h[hlen] = 0;
    a->data_off = hstart + hlen;
    int rc = -1;
    cursor c = {h, h + hlen};
    bool have[3] = {false, false, false};
    bool fortran = false;
    if (!hlen || h[hlen - 1] != '\n') {
        gerr_set(err, "%s: header: does not end with a newline", path);
        goto out;
    }
    if (!eat(&c, '{')) {
        gerr_set(err, "%s: header: not a dict ('{' expected)", path);
        goto out;
    }
    while (!eat(&c, '}')) {
        char key[32], val[64];
        if (!parse_str(&c, key, sizeof key) || !eat(&c, ':')) {
            gerr_set(err, "%s: header: a 'key': value expected at byte %ld", path, (long)(c.p - h));
            goto out;
        }
        int which = !strcmp(key, "descr")           ? 0
                    : !strcmp(key, "fortran_order") ? 1
                    : !strcmp(key, "shape")         ? 2
                                                    : -1;
        if (which < 0) {
            gerr_set(err, "%s: header: unknown key '%s' (descr, fortran_order, shape)", path, key);
            goto out;
        }
        if (have[which]) {
            gerr_set(err, "%s: header: '%s' given twice", path, key);
            goto out;
        }
        have[which] = true;
        if (which == 0) {
            if (!parse_str(&c, val, sizeof val)) {
                gerr_set(err,
                         "%s: header: descr is not a simple type string (structured "
                         "arrays are not supported)",
                         path);
                goto out;
            }
            if (parse_descr(a, val, err))
                goto out;
        } else if (which == 1) {
            if (parse_word(&c, "True"))
                fortran = true;
            else if (!parse_word(&c, "False")) {
                gerr_set(err, "%s: header: fortran_order is neither True nor False", path);
                goto out;
            }
        } else {
            if (!eat(&c, '(')) {
                gerr_set(err, "%s: header: shape is not a tuple", path);
                goto out;
            }
            while (!eat(&c, ')')) {
                skip_ws(&c);
                char *end;
                errno = 0;
                long v = strtol(c.p, &end, 10);
                if (end == c.p || errno || v < 0 || end > c.end || a->ndim == 8) {
                    gerr_set(err, "%s: header: shape is not a tuple of at most 8 sizes", path);
                    goto out;
                }
                a->shape[a->ndim++] = v;
                c.p = end;
                if (!eat(&c, ',')) {
                    if (!eat(&c, ')')) {
                        gerr_set(err, "%s: header: shape is not a tuple", path);
                        goto out;
                    }
                    break;
                }
            }
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) {
                gerr_set(err, "%s: header: ',' or '}' expected at byte %ld", path, (long)(c.p - h));
                goto out;
            }
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) {
        gerr_set(err, "%s: header: text after the dict", path);
        goto out;
    }
    for (int i = 0; i < 3; i++)
        if (!have[i]) {
            static const char *const keys[] = {"descr", "fortran_order", "shape"};
            gerr_set(err, "%s: header: '%s' is missing", path, keys[i]);
            goto out;
        }
    if (fortran && a->ndim > 1) {
        gerr_set(err,
                 "%s: header: fortran_order True is not supported (save "
                 "np.ascontiguousarray(x))",
                 path);
        goto out;
    }
    size_t count = 1, bytes;
    for (int i = 0; i < a->ndim; i++)
        if (!size_mul(count, (size_t)a->shape[i], &count)) {
            gerr_set(err, "%s: header: shape is too large", path);
            goto out;
        }
    if (!size_mul(count, (size_t)a->size, &bytes) || bytes != (uintmax_t)st.st_size - a->data_off) {
        char shape[160] = "";
        size_t l = 0;
        for (int i = 0; i < a->ndim && l < sizeof shape - 24; i++)
            l += (size_t)snprintf(shape + l, sizeof shape - l, "%s%ld", i ? ", " : "", a->shape[i]);
        gerr_set(err,
                 "%s: header: shape (%s) of '%s' needs %zu bytes of data but the file has %lld",
                 path, shape, a->descr, bytes, (long long)st.st_size - (long long)a->data_off);
        goto out;
    }
    a->count = count;
    a->map_len = (size_t)st.st_size;
    a->map = mmap(NULL, a->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (a->map == MAP_FAILED) {
        a->map = NULL;
        gerr_errno(err, "%s: cannot map", path);
        goto out;
    }
    rc = 0;
out:
    free(h);
    close(fd);
    return rc;
}

static void npy_close(npy *a)
{
    if (a->map)
        munmap(a->map, a->map_len);
    a->map = NULL;
}

/* Element i as a raw little-endian-ordered copy. */
static void element(const npy *a, size_t i, uint8_t *out)
{
    const uint8_t *p = a->map + a->data_off + i * (size_t)a->size;
    if (a->order == '>')
        for (int k = 0; k < a->size; k++)
            out[k] = p[a->size - 1 - k];
    else
        memcpy(out, p, (size_t)a->size);
}

/* ---- images and labels ------------------------------------------------ */

typedef struct layout {
    long n, c, h, w;
    bool channels_last;
} layout;

static int image_layout(const npy *a, layout *l, gerr *err)
{
    bool u8 = a->kind == 'u' && a->size == 1, f32 = a->kind == 'f' && a->size == 4;
    if (!u8 && !f32)
        return gerr_set(err, "%s: dtype '%s' is not supported for images (uint8 or float32)",
                        a->path, a->descr);
    const long *s = a->shape;
    if (a->ndim == 3) {
        *l = (layout){s[0], 1, s[1], s[2], false};
    } else if (a->ndim == 4 && (s[3] == 1 || s[3] == 3)) {
        *l = (layout){s[0], s[3], s[1], s[2], true};
    } else if (a->ndim == 4 && (s[1] == 1 || s[1] == 3)) {
        *l = (layout){s[0], s[1], s[2], s[3], false};
    } else {
        return gerr_set(err,
                        "%s: images of %d dimensions with no channel dimension of 1 or 3: "
                        "expected (N, H, W), (N, H, W, C) or (N, C, H, W) with C 1 or 3",
                        a->path, a->ndim);
    }
    if (l->n < 1 || l->h < 1 || l->w < 1 || l->h > 65536 || l->w > 65536 || l->n > DATA_MAX_IMAGES)
        return gerr_set(err, "%s: %ld images of %ldx%ld: empty or too large", a->path, l->n, l->h,
                        l->w);
    return 0;
}

static int label_count(const npy *a, long *n, gerr *err)
{
    if (a->kind != 'i' && a->kind != 'u')
        return gerr_set(err, "%s: dtype '%s' is not an integer type (labels are class numbers)",
                        a->path, a->descr);
    if (a->size != 1 && a->size != 2 && a->size != 4 && a->size != 8)
        return gerr_set(err, "%s: dtype '%s' is not supported", a->path, a->descr);
    if (!(a->ndim == 1 || (a->ndim == 2 && a->shape[1] == 1)))
        return gerr_set(err, "%s: labels must have shape (N) or (N, 1), not %d dimensions%s",
                        a->path, a->ndim, a->ndim == 2 ? " (one-hot labels: save argmax)" : "");
    *n = a->shape[0];
    return 0;
}

static int label_at(const npy *a, size_t i, unsigned *out, gerr *err)
{
    uint8_t b[8] = {0};
    element(a, i, b);
    uint64_t u = 0;
    for (int k = 0; k < a->size; k++)
        u |= (uint64_t)b[k] << (8 * k);
    int64_t v;
    if (a->kind == 'i') {
        int shift = 64 - 8 * a->size;
        v = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
    } else {
        v = u > INT64_MAX ? INT64_MAX : (int64_t)u;
    }
    if (v < 0 || v >= DATA_MAX_CLASSES)
        return gerr_set(err, "%s: label %lld at index %zu is out of range (0 to %d)", a->path,
                        (long long)v, i, DATA_MAX_CLASSES - 1);
    *out = (unsigned)v;
    return 0;
}

static float f32_at(const npy *a, size_t i)
{
    uint8_t b[4];
    element(a, i, b);
    float f;
    memcpy(&f, b, 4);
    return f;
}

/* Scale of a float32 file: 255 for values in [0, 1], 1 for [0, 255]. */
static int float_scale(const npy *a, float *scale, gerr *err)
{
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < a->count; i++) {
        float v = f32_at(a, i);
        if (!isfinite(v))
            return gerr_set(err, "%s: element %zu is %s", a->path, i,
                            isnan(v) ? "NaN" : "infinite");
        if (v < lo)
            lo = v;
        if (v > hi)
            hi = v;
    }
    if (lo >= 0 && hi <= 1)
        *scale = 255;
    else if (lo >= 0 && hi <= 255)
        *scale = 1;
    else
        return gerr_set(err,
                        "%s: float32 values range from %g to %g: gevo takes float images in [0, 1] "
                        "or [0, 255] (it normalises them itself)",
                        a->path, lo, hi);
    return 0;
}

int data_npy_decode(const data_scan *s, const data_opts *o, data_builder *b, gerr *err)
{
    npy x[SPLITS], y[SPLITS];
    layout l[SPLITS];
    const char *xpath[SPLITS] = {0};
    float scale[SPLITS] = {0};
    long n[SPLITS] = {0};
    int rc = -1, first = -1;
    uint8_t *img = NULL;
    memset(x, 0, sizeof x);
    memset(y, 0, sizeof y);
    memset(l, 0, sizeof l);
    for (size_t i = 0; i + 1 < s->n_files; i += 2) {
        int k = s->files[i].split;
        if (npy_open(&x[k], s->files[i].path, err) || npy_open(&y[k], s->files[i + 1].path, err) ||
            image_layout(&x[k], &l[k], err) || label_count(&y[k], &n[k], err))
            goto out;
        xpath[k] = s->files[i].path;
        if (n[k] != l[k].n) {
            gerr_set(err, "%s has %ld images but %s has %ld labels", xpath[k], l[k].n,
                     s->files[i + 1].path, n[k]);
            goto out;
        }
        if (x[k].kind == 'f' && float_scale(&x[k], &scale[k], err))
            goto out;
        if (first < 0) {
            first = k;
            continue;
        }
        const layout *f = &l[first];
        if (l[k].c != f->c) {
            gerr_set(err, "%s: images have %ld channels but %s's have %ld", xpath[k], l[k].c,
                     xpath[first], f->c);
            goto out;
        }
        if (!o->resize_h && (l[k].h != f->h || l[k].w != f->w)) {
            gerr_set(err,
                     "%s: images are %ldx%ld but %s's are %ldx%ld (--resize HxW resamples "
                     "both)",
                     xpath[k], l[k].h, l[k].w, xpath[first], f->h, f->w);
            goto out;
        }
        if (x[k].kind == 'f' && x[first].kind == 'f' && scale[k] != scale[first]) {
            gerr_set(err, "%s: values are in [0, %s] but %s's in [0, %s]", xpath[k],
                     scale[k] == 1 ? "255" : "1", xpath[first], scale[first] == 1 ? "255" : "1");
            goto out;
        }
    }
    if (first < 0) {
        gerr_set(err, "%s: no NumPy files", s->dir);
        goto out;
    }
    if (data_builder_begin(b, o, (int)l[first].c, (int)l[first].h, (int)l[first].w, n, NULL, 0,
                           err))
        goto out;
    size_t most = 0;
    for (int k = 0; k < SPLITS; k++)
        if ((size_t)(l[k].c * l[k].h * l[k].w) > most)
            most = (size_t)(l[k].c * l[k].h * l[k].w);
    img = malloc(most);
    if (!img) {
        gerr_set(err, "out of memory");
        goto out;
    }
    for (int k = 0; k < SPLITS; k++) {
        if (!x[k].map)
            continue;
        const layout *L = &l[k];
        size_t plane = (size_t)L->h * L->w, per = plane * L->c;
        for (long i = 0; i < L->n; i++) {
            unsigned label = 0;
            if (label_at(&y[k], (size_t)i, &label, err))
                goto out;
            for (long c = 0; c < L->c; c++)
                for (size_t p = 0; p < plane; p++) {
                    /* source element of channel c, pixel p */
                    size_t e = (size_t)i * per + (L->channels_last ? p * L->c + c : c * plane + p);
                    uint8_t v;
                    if (x[k].kind == 'u') {
                        v = x[k].map[x[k].data_off + e];
                    } else {
                        float f = f32_at(&x[k], e) * scale[k] + 0.5f;
                        v = (uint8_t)(f > 255 ? 255 : f);
                    }
                    img[c * plane + p] = v;
                }
            data_builder_put(b, k, i, img, (int)L->h, (int)L->w, label);
        }
    }
    rc = 0;
out:
    free(img);
    for (int k = 0; k < SPLITS; k++) {
        npy_close(&x[k]);
        npy_close(&y[k]);
    }
    return rc;
}
