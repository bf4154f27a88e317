/* The data loaders on data sets written here: image folders (PNG written
 * with libpng, JPEG with libjpeg), NumPy files (headers written byte by
 * byte, to get every field wrong in turn), the decoded-once cache (reused,
 * same bytes, replaced when a source changes, decoded once by two processes
 * starting together, never half-written), bilinear resizing, and training
 * on an image folder to well above chance. */
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jpeglib.h>
#include <zlib.h>

#include "engine/data.h"
#include "engine/data_internal.h"
#include "engine/model.h"
#include "engine/net.h"
#include "engine/train.h"
#include "tests/harness.h"

static char root[256];
static int case_no;

/* A fresh folder for one case. */
static const char *fresh(char *out, size_t n)
{
    snprintf(out, n, "%s/case%d", root, ++case_no);
    mkdir(out, 0700);
    return out;
}

static void mkdirs(const char *path)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0700);
            *s = '/';
        }
    mkdir(p, 0700);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

/* channels 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA), interleaved */
static void write_png(const char *path, int h, int w, int channels, const uint8_t *px)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    static const png_uint_32 fmt[] = {0, PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB,
                                      PNG_FORMAT_RGBA};
    im.format = fmt[channels];
    CHECK(png_image_write_to_file(&im, path, 0, px, 0, NULL), "png write %s: %s", path, im.message);
}

/* channels 1, 3 or 4 (CMYK) */
static void write_jpeg(const char *path, int h, int w, int channels, const uint8_t *px)
{
    FILE *f = fopen(path, "wb");
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = channels;
    c.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * channels);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* A two-class image: class 0 bright on top, class 1 bright at the bottom,
 * plus noise from s. */
static void pattern(uint8_t *px, int h, int w, int channels, int cls, unsigned *s)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) {
                *s = *s * 1664525u + 1013904223u;
                int bright = (y < h / 2) == (cls == 0);
                px[(y * w + x) * channels + c] = (uint8_t)((bright ? 170 : 30) + (*s >> 27));
            }
}

/* DIR/split/CLASS/NAME with n images per class, PNG and JPEG alternating. */
static void image_split(const char *dir, const char *split, int n, int h, int w, unsigned seed)
{
    static const char *const cls[] = {"bottom", "top"}; /* sorted: bottom = 0 */
    uint8_t px[64 * 64];
    for (int k = 0; k < 2; k++) {
        char d[600];
        snprintf(d, sizeof d, "%s/%s/%s", dir, split, cls[k]);
        mkdirs(d);
        for (int i = 0; i < n; i++) {
            char p[700];
            pattern(px, h, w, 1, k == 0 ? 1 : 0, &seed);
            snprintf(p, sizeof p, "%s/%03d.%s", d, i, i % 2 ? "jpg" : "png");
            if (i % 2)
                write_jpeg(p, h, w, 1, px);
            else
                write_png(p, h, w, 1, px);
        }
    }
}

/* A fresh folder for one case holding an image folder data set (see
 * image_split): ntrain training and ntest test images per class, all h x
 * w, their noise drawn from seed and seed + 1. */
static void image_set(char *dir, size_t size, int ntrain, int ntest, int h, int w, unsigned seed)
{
    fresh(dir, size);
    image_split(dir, "train", ntrain, h, w, seed);
    image_split(dir, "test", ntest, h, w, seed + 1);
}

static int load(data_source *d, const char *dir, const data_opts *o, gerr *e)
{
    gerr_clear(e);
    return data_load(d, dir, o, e);
}

/* The load succeeds (a CHECK that says why not). */
static void load_ok(data_source *d, const char *dir, const data_opts *o)
{
    gerr e = GERR_INIT;
    CHECK(load(d, dir, o, &e) == 0, "%s: %s", dir, e.msg);
}

/* The load fails and its message contains every one of the words. */
static void expect_error(const char *dir, const data_opts *o, const char *a, const char *b)
{
    data_source d;
    gerr e = GERR_INIT;
    int rc = load(&d, dir, o, &e);
    CHECK(rc == -1, "%s loaded", dir);
    CHECK(strstr(e.msg, a) && (!b || strstr(e.msg, b)), "message '%s' lacks '%s' / '%s'", e.msg, a,
          b ? b : "");
    data_release(&d);
}

/* No finished cache file (nor a temporary one) in the cache folder. */
static int cache_files(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cache", root);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".gdc") && !strstr(e->d_name, ".lock"))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void test_image_folders(void)
{
    char dir[300];
    image_set(dir, sizeof dir, 6, 2, 8, 8, 1);
    data_source d;
    load_ok(&d, dir, NULL);
    CHECK(d.format == DATA_IMAGES, "format %s", data_format_name(d.format));
    CHECK(d.train.n == 12 && d.test.n == 4 && d.val.n == 0, "counts %d %d %d", d.train.n, d.test.n,
          d.val.n);
    CHECK(d.train.c == 1 && d.train.h == 8 && d.train.w == 8, "shape %dx%dx%d", d.train.c,
          d.train.h, d.train.w);
    CHECK(d.classes == 2 && d.class_names && !strcmp(d.class_names[0], "bottom") &&
              !strcmp(d.class_names[1], "top"),
          "classes");
    /* files in name order within sorted classes: 6 "bottom" then 6 "top" */
    CHECK(d.train.labels[0] == 0 && d.train.labels[5] == 0 && d.train.labels[6] == 1, "labels");
    /* the first image is a PNG: exact pixels */
    unsigned s = 1;
    uint8_t px[64];
    pattern(px, 8, 8, 1, 1, &s);
    CHECK(memcmp(px, d.train.pixels, 64) == 0, "PNG pixels differ");
    /* a JPEG's pixels are close (lossy) */
    pattern(px, 8, 8, 1, 1, &s);
    int worst = 0;
    for (int i = 0; i < 64; i++) {
        int diff = abs((int)px[i] - (int)d.train.pixels[64 + i]);
        worst = diff > worst ? diff : worst;
    }
    CHECK(worst < 40, "JPEG pixels off by %d", worst);
    CHECK(d.decoded, "first load did not decode");
    data_release(&d);

    /* an own validation split */
    image_split(dir, "val", 3, 8, 8, 3);
    load_ok(&d, dir, NULL);
    CHECK(d.val.n == 6 && d.decoded, "val %d decoded %d", d.val.n, d.decoded);
    data_view tv, vv;
    CHECK(data_split(&d.train, &d.val, 0.1, 0, 1, &tv, &vv) == 0, "split");
    CHECK(tv.n == 12 && vv.n == 6 && vv.set == &d.val, "own val split: %d %d", tv.n, vv.n);
    data_view_release(&tv);
    data_view_release(&vv);
    data_release(&d);
}

static void test_colour_alpha_palette(void)
{
    char dir[300], p[600];
    image_set(dir, sizeof dir, 2, 2, 4, 4, 1);
    /* one RGBA image in colour: the data set becomes RGB, alpha 0 is black */
    uint8_t rgba[16 * 4];
    for (int i = 0; i < 16; i++) {
        rgba[4 * i] = 200;
        rgba[4 * i + 1] = 100;
        rgba[4 * i + 2] = 50;
        rgba[4 * i + 3] = i < 8 ? 255 : 0;
    }
    snprintf(p, sizeof p, "%s/train/top/zz.png", dir);
    write_png(p, 4, 4, 4, rgba);
    data_source d;
    load_ok(&d, dir, NULL);
    CHECK(d.train.c == 3, "channels %d", d.train.c);
    const uint8_t *last = d.train.pixels + (size_t)(d.train.n - 1) * 48;
    CHECK(last[0] == 200 && last[16] == 100 && last[32] == 50, "opaque RGB %d %d %d", last[0],
          last[16], last[32]);
    CHECK(last[15] == 0 && last[31] == 0 && last[47] == 0, "transparent not black");
    /* a palette image is expanded */
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = im.height = 4;
    im.format = PNG_FORMAT_RGB_COLORMAP;
    im.colormap_entries = 2;
    uint8_t map[6] = {10, 20, 30, 250, 240, 230}, idx[16];
    for (int i = 0; i < 16; i++)
        idx[i] = (uint8_t)(i & 1);
    snprintf(p, sizeof p, "%s/train/top/zzz.png", dir);
    CHECK(png_image_write_to_file(&im, p, 0, idx, 0, map), "palette png: %s", im.message);
    data_release(&d);
    load_ok(&d, dir, NULL);
    last = d.train.pixels + (size_t)(d.train.n - 1) * 48;
    CHECK(d.train.c == 3 && last[0] == 10 && last[1] == 250 && last[16] == 20 && last[33] == 230,
          "palette: %d %d %d %d", last[0], last[1], last[16], last[33]);
    /* a gray image is repeated into the three planes */
    const uint8_t *g = d.train.pixels;
    CHECK(memcmp(g, g + 16, 16) == 0 && memcmp(g, g + 32, 16) == 0, "gray not repeated");
    data_release(&d);
    /* gray+alpha in a gray data set stays one channel */
    image_set(dir, sizeof dir, 2, 2, 4, 4, 1);
    uint8_t ga[32];
    for (int i = 0; i < 16; i++) {
        ga[2 * i] = 180;
        ga[2 * i + 1] = i < 8 ? 255 : 0;
    }
    snprintf(p, sizeof p, "%s/train/top/zz.png", dir);
    write_png(p, 4, 4, 2, ga);
    load_ok(&d, dir, NULL);
    last = d.train.pixels + (size_t)(d.train.n - 1) * 16;
    CHECK(d.train.c == 1 && last[0] == 180 && last[15] == 0, "gray+alpha: %d channels, %d %d",
          d.train.c, last[0], last[15]);
    data_release(&d);
}

static void test_image_errors(void)
{
    char dir[300], p[600];
    data_opts none = DATA_OPTS_INIT;
    /* different sizes name the file and both sizes; --resize takes them */
    fresh(dir, sizeof dir);
    image_split(dir, "train", 2, 8, 8, 1);
    image_split(dir, "test", 2, 8, 6, 2);
    expect_error(dir, &none, "test/bottom/000.png: 8x6, but ", "train/bottom/000.png is 8x8");
    data_opts rs = DATA_OPTS_INIT;
    rs.resize_h = 5;
    rs.resize_w = 7;
    data_source d;
    load_ok(&d, dir, &rs);
    CHECK(d.train.h == 5 && d.train.w == 7 && d.test.h == 5 && d.test.w == 7, "resized to %dx%d",
          d.train.h, d.train.w);
    data_release(&d);
    int before = cache_files();
    /* corrupt and truncated files, an unsupported JPEG */
    image_set(dir, sizeof dir, 2, 2, 8, 8, 1);
    snprintf(p, sizeof p, "%s/train/top/001.jpg", dir);
    FILE *f = fopen(p, "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_bytes(p, buf, n / 2);
    expect_error(dir, &none, "train/top/001.jpg: corrupt or truncated JPEG", NULL);
    write_bytes(p, buf, n);
    snprintf(p, sizeof p, "%s/train/top/000.png", dir);
    f = fopen(p, "rb");
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_bytes(p, buf, n - 20);
    expect_error(dir, &none, "train/top/000.png: corrupt or truncated PNG", NULL);
    memset(buf + 8, 0x5a, 16);
    write_bytes(p, buf, n);
    expect_error(dir, &none, "train/top/000.png: corrupt or truncated PNG", NULL);
    snprintf(p, sizeof p, "%s/train/top/000.png", dir);
    unlink(p);
    uint8_t cmyk[8 * 8 * 4];
    memset(cmyk, 100, sizeof cmyk);
    snprintf(p, sizeof p, "%s/train/top/cmyk.jpg", dir);
    write_jpeg(p, 8, 8, 4, cmyk);
    expect_error(dir, &none, "train/top/cmyk.jpg: unsupported pixel format: a CMYK JPEG", NULL);
    unlink(p);
    /* an empty class folder, an unknown class, a stray image, no test/ */
    snprintf(p, sizeof p, "%s/train/zebra", dir);
    mkdir(p, 0700);
    expect_error(dir, &none, "train/zebra: an empty class folder", NULL);
    rmdir(p);
    snprintf(p, sizeof p, "%s/test/zebra", dir);
    mkdir(p, 0700);
    expect_error(dir, &none, "test/zebra: class 'zebra' is not among the training classes", NULL);
    rmdir(p);
    snprintf(p, sizeof p, "%s/train/loose.png", dir);
    uint8_t g[64] = {0};
    write_png(p, 8, 8, 1, g);
    expect_error(dir, &none, "train/loose.png: an image outside a class folder", NULL);
    unlink(p);
    snprintf(p, sizeof p, "%s/test", dir);
    char q[600];
    snprintf(q, sizeof q, "%s/moved", dir);
    rename(p, q);
    expect_error(dir, &none, "/test: missing (image folders need train/CLASS/ and test/CLASS/)",
                 NULL);
    /* nothing was cached by any failed load */
    CHECK(cache_files() == before, "a failed load left a cache file");
}

/* ---- NumPy ------------------------------------------------------------ */

/* An .npy file: version major.0, the header dict as given (padded and
 * terminated here), then n bytes of data. */
static void write_npy_raw(const char *path, int major, const char *dict, const void *data, size_t n)
{
    char head[512];
    size_t pre = major == 1 ? 10 : 12;
    size_t len = strlen(dict);
    size_t total = (pre + len + 1 + 63) / 64 * 64;
    size_t hl = total - pre;
    memset(head, ' ', sizeof head);
    memcpy(head, "\x93NUMPY", 6);
    head[6] = (char)major;
    head[7] = 0;
    head[8] = (char)(hl & 255);
    head[9] = (char)(hl >> 8);
    if (major != 1) {
        head[10] = 0;
        head[11] = 0;
    }
    memcpy(head + pre, dict, len);
    head[total - 1] = '\n';
    FILE *f = fopen(path, "wb");
    fwrite(head, 1, total, f);
    if (n)
        fwrite(data, 1, n, f);
    fclose(f);
}

/* x_SPLIT.npy of n uint8 4x4 images and y_SPLIT.npy of int64 labels. */
static void npy_split(const char *dir, const char *split, int n)
{
    char p[600], dict[200];
    uint8_t *x = malloc((size_t)n * 16);
    int64_t *y = malloc(sizeof(int64_t) * (size_t)n);
    unsigned s = 7;
    for (int i = 0; i < n; i++) {
        y[i] = i % 2;
        pattern(x + i * 16, 4, 4, 1, i % 2, &s);
    }
    snprintf(p, sizeof p, "%s/x_%s.npy", dir, split);
    snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, 4, 4), }",
             n);
    write_npy_raw(p, 1, dict, x, (size_t)n * 16);
    snprintf(p, sizeof p, "%s/y_%s.npy", dir, split);
    snprintf(dict, sizeof dict, "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }", n);
    write_npy_raw(p, 1, dict, y, sizeof(int64_t) * (size_t)n);
    free(x);
    free(y);
}

static void test_npy(void)
{
    char dir[300], p[600];
    fresh(dir, sizeof dir);
    npy_split(dir, "train", 10);
    npy_split(dir, "test", 4);
    data_source d;
    load_ok(&d, dir, NULL);
    CHECK(d.format == DATA_NPY && d.train.n == 10 && d.test.n == 4 && d.train.c == 1 &&
              d.train.h == 4 && d.classes == 2 && !d.class_names,
          "npy: %d %d c%d h%d classes %d", d.train.n, d.test.n, d.train.c, d.train.h, d.classes);
    CHECK(d.train.labels[3] == 1 && d.train.labels[4] == 0, "labels");
    data_release(&d);

    /* float32 in [0, 1], (N, H, W, C) with C 3: scaled by 255, to CHW */
    float fx[2 * 2 * 2 * 3];
    for (int i = 0; i < 24; i++)
        fx[i] = (float)(i % 3) * 0.5f; /* channel c has value c / 2 */
    snprintf(p, sizeof p, "%s/x_train.npy", dir);
    write_npy_raw(p, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2, 3), }", fx,
                  sizeof fx);
    uint8_t by[2 * 2] = {0, 0, 0, 1}; /* big-endian int16: 0, 1 */
    snprintf(p, sizeof p, "%s/y_train.npy", dir);
    write_npy_raw(p, 1, "{'shape': (2, 1), 'fortran_order': False, 'descr': '>i2'}", by, 4);
    snprintf(p, sizeof p, "%s/x_test.npy", dir);
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 2, 2), }", fx,
                  sizeof fx);
    snprintf(p, sizeof p, "%s/y_test.npy", dir);
    write_npy_raw(p, 1, "{'shape': (2, 1), 'fortran_order': False, 'descr': '>i2'}", by, 4);
    load_ok(&d, dir, NULL);
    CHECK(d.train.c == 3 && d.train.h == 2 && d.train.w == 2, "layout %dx%dx%d", d.train.c,
          d.train.h, d.train.w);
    CHECK(d.train.pixels[0] == 0 && d.train.pixels[4] == 128 && d.train.pixels[8] == 255,
          "HWC float: %d %d %d", d.train.pixels[0], d.train.pixels[4], d.train.pixels[8]);
    CHECK(d.train.labels[0] == 0 && d.train.labels[1] == 1, "big-endian labels %d %d",
          d.train.labels[0], d.train.labels[1]);
    /* (N, C, H, W): the same floats read plane by plane */
    CHECK(d.test.pixels[0] == 0 && d.test.pixels[1] == 128 && d.test.pixels[2] == 255,
          "CHW float: %d %d %d", d.test.pixels[0], d.test.pixels[1], d.test.pixels[2]);
    data_release(&d);
}

static void test_npy_errors(void)
{
    char dir[300], p[600];
    data_opts none = DATA_OPTS_INIT;
    int before = cache_files();
    fresh(dir, sizeof dir);
    npy_split(dir, "train", 6);
    npy_split(dir, "test", 4);
    snprintf(p, sizeof p, "%s/x_train.npy", dir);
    static uint8_t x[6 * 16 * 8];
    struct {
        int major;
        const char *dict;
        size_t n;
        const char *want;
    } cases[] = {
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (6, 4, 4), }", 6 * 16 * 8,
         "dtype '<f8' is not supported for images"},
        {1, "{'descr': '|u1', 'fortran_order': True, 'shape': (6, 4, 4), }", 6 * 16,
         "fortran_order True is not supported"},
        {1, "{'descr': '|u1', 'fortran_order': False, 'shape': (6, 4, 5), }", 6 * 16,
         "shape (6, 4, 5) of '|u1' needs 120 bytes of data but the file has 96"},
        {1, "{'descr': '|u1', 'fortran_order': False}", 6 * 16, "'shape' is missing"},
        {1, "{'descr': '|u1', 'fortran_order': False, 'shape': (6, 4, 4), 'x': 1}", 6 * 16,
         "unknown key 'x'"},
        {1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}", 6 * 16,
         "structured arrays are not supported"},
        {1, "{'descr': '|u1', 'fortran_order': maybe, 'shape': (6, 4, 4)}", 6 * 16,
         "fortran_order is neither True nor False"},
        {1, "{'descr': '|u1', 'fortran_order': False, 'shape': (6, 4, 4, 4), }", 6 * 16,
         "header: shape (6, 4, 4, 4)"},
        {1, "{'descr': '|u1', 'fortran_order': False, 'shape': (6, 2, 2, 4), }", 6 * 16,
         "no channel dimension of 1 or 3"},
        {1, "{'descr': '<u1', 'fortran_order': False, 'shape': 6, }", 6 * 16,
         "shape is not a tuple"},
        {4, "{'descr': '|u1', 'fortran_order': False, 'shape': (6, 4, 4), }", 6 * 16,
         "format version 4.0 is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_npy_raw(p, cases[i].major, cases[i].dict, x, cases[i].n);
        expect_error(dir, &none, "x_train.npy: ", cases[i].want);
    }
    write_bytes(p, "PK\3\4 not numpy", 15);
    expect_error(dir, &none, "x_train.npy: not a NumPy .npy file", NULL);
    uint8_t longhdr[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0x7f};
    write_bytes(p, longhdr, 10);
    expect_error(dir, &none, "x_train.npy: header: length 32767 runs past the end", NULL);
    /* labels: out of range, of a float type, miscounted */
    npy_split(dir, "train", 6);
    snprintf(p, sizeof p, "%s/y_train.npy", dir);
    int32_t y[6] = {0, 1, 0, -1, 1, 0};
    write_npy_raw(p, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (6,), }", y, 24);
    expect_error(dir, &none, "y_train.npy: label -1 at index 3 is out of range", NULL);
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", y, 24);
    expect_error(dir, &none, "y_train.npy: dtype '<f4' is not an integer type", NULL);
    write_npy_raw(p, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }", y, 24);
    expect_error(dir, &none, "y_train.npy: labels must have shape (N) or (N, 1)", NULL);
    write_npy_raw(p, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }", y, 20);
    expect_error(dir, &none, "x_train.npy has 6 images but ", "y_train.npy has 5 labels");
    npy_split(dir, "train", 6);
    /* float values outside both ranges */
    snprintf(p, sizeof p, "%s/x_test.npy", dir);
    float fx[4 * 16];
    for (int i = 0; i < 64; i++)
        fx[i] = (float)i - 3;
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4, 4), }", fx,
                  sizeof fx);
    expect_error(dir, &none, "x_test.npy: float32 values range from -3 to 60", NULL);
    /* a missing file of a pair */
    npy_split(dir, "test", 4);
    snprintf(p, sizeof p, "%s/x_val.npy", dir);
    write_npy_raw(p, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (6, 4, 4), }", x, 96);
    expect_error(dir, &none, "y_val.npy: missing", NULL);
    CHECK(cache_files() == before, "a failed load left a cache file");
}

/* A gzipped IDX file whose header claims more images than it holds is
 * refused before the claim sizes anything. */
static void test_idx_sizes(void)
{
    char dir[300], p[600];
    fresh(dir, sizeof dir);
    const char *names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        uint8_t h[16 + 4 * 16] = {0};
        bool labels = i % 2;
        harness_put_be32(h, labels ? 0x801 : 0x803);
        harness_put_be32(h + 4, i == 0 ? 9000000 : 4); /* train images: a lie */
        harness_put_be32(h + 8, 4);
        harness_put_be32(h + 12, 4);
        snprintf(p, sizeof p, "%s/%s.gz", dir, names[i]);
        gzFile f = gzopen(p, "wb");
        gzwrite(f, h, labels ? 12 : 16 + 4 * 16);
        gzclose(f);
    }
    expect_error(dir, NULL,
                 "train-images-idx3-ubyte.gz: truncated: its header says 144000016 bytes", NULL);
}

/* CIFAR-10 binary batches through the same cache */
static void test_cifar(void)
{
    char dir[300], p[600];
    fresh(dir, sizeof dir);
    snprintf(p, sizeof p, "%s/cifar-10-batches-bin", dir);
    mkdir(p, 0700);
    static uint8_t rec[7 * 3073];
    for (int i = 0; i < 7; i++) {
        rec[i * 3073] = (uint8_t)(i % 10);
        memset(rec + i * 3073 + 1, 10 * i, 3072);
    }
    snprintf(p, sizeof p, "%s/cifar-10-batches-bin/data_batch_1.bin", dir);
    write_bytes(p, rec, 4 * 3073);
    snprintf(p, sizeof p, "%s/cifar-10-batches-bin/data_batch_2.bin", dir);
    write_bytes(p, rec + 4 * 3073, 3 * 3073);
    snprintf(p, sizeof p, "%s/cifar-10-batches-bin/test_batch.bin", dir);
    write_bytes(p, rec, 2 * 3073);
    data_source d;
    gerr e = GERR_INIT;
    load_ok(&d, dir, NULL);
    CHECK(d.format == DATA_CIFAR10 && d.train.n == 7 && d.test.n == 2 && d.train.c == 3 &&
              d.train.h == 32 && d.classes == 7 && d.decoded,
          "cifar: %d %d classes %d", d.train.n, d.test.n, d.classes);
    CHECK(d.train.labels[6] == 6 && d.train.pixels[6 * 3072 + 5] == 60, "cifar records");
    data_release(&d);
    CHECK(load(&d, dir, NULL, &e) == 0 && !d.decoded, "cifar not reused: %s", e.msg);
    data_release(&d);
    rec[3 * 3073] = 12;
    snprintf(p, sizeof p, "%s/cifar-10-batches-bin/data_batch_1.bin", dir);
    write_bytes(p, rec, 4 * 3073);
    expect_error(dir, NULL, "data_batch_1.bin: record 3 has label 12, outside 0..9", NULL);
    write_bytes(p, rec, 4 * 3073 - 1);
    expect_error(dir, NULL, "data_batch_1.bin: size 12291 is not a multiple of CIFAR-10's", NULL);
}

/* ---- the cache -------------------------------------------------------- */

static void test_cache(void)
{
    char dir[300], p[600];
    image_set(dir, sizeof dir, 4, 2, 8, 8, 1);
    data_source a, b;
    gerr e = GERR_INIT;
    load_ok(&a, dir, NULL);
    CHECK(a.decoded && a.cache_path[0], "first load: decoded %d, cache '%s' (%s)", a.decoded,
          a.cache_path, a.cache_err.msg);
    struct stat s1, s2;
    CHECK(stat(a.cache_path, &s1) == 0, "no cache file %s", a.cache_path);
    load_ok(&b, dir, NULL);
    CHECK(!b.decoded && !strcmp(a.cache_path, b.cache_path), "second load decoded again");
    CHECK(b.train.n == a.train.n &&
              memcmp(a.train.pixels, b.train.pixels, (size_t)a.train.n * 64) == 0 &&
              memcmp(a.test.labels, b.test.labels, 2 * (size_t)a.test.n) == 0,
          "cached data differs");
    CHECK(stat(b.cache_path, &s2) == 0 && s2.st_ino == s1.st_ino &&
              s2.st_mtim.tv_nsec == s1.st_mtim.tv_nsec,
          "the cache was rewritten");
    data_release(&b);
    /* a source that changes is decoded again */
    uint8_t px[64];
    unsigned s = 9;
    pattern(px, 8, 8, 1, 0, &s);
    snprintf(p, sizeof p, "%s/train/top/000.png", dir);
    write_png(p, 8, 8, 1, px);
    load_ok(&b, dir, NULL);
    CHECK(b.decoded && !strcmp(a.cache_path, b.cache_path), "a changed source was not decoded");
    data_release(&b);
    /* --resize is part of the key: another file */
    data_opts rs = DATA_OPTS_INIT;
    rs.resize_h = rs.resize_w = 4;
    CHECK(load(&b, dir, &rs, &e) == 0 && b.decoded && strcmp(a.cache_path, b.cache_path),
          "resize shares a cache file: %s", e.msg);
    data_release(&b);
    /* a damaged cache file is replaced, not trusted */
    FILE *f = fopen(a.cache_path, "r+b");
    fseek(f, 200, SEEK_SET);
    fputs("damage", f);
    fclose(f);
    truncate(a.cache_path, 300);
    CHECK(load(&b, dir, NULL, &e) == 0 && b.decoded, "damaged cache used: %s", e.msg);
    data_release(&b);
    data_release(&a);
}

static void count_progress(void *ctx, long done, long total)
{
    long *c = ctx;
    c[0]++;
    c[1] = done;
    c[2] = total;
}

static void test_progress(void)
{
    char dir[300];
    image_set(dir, sizeof dir, 4, 2, 8, 8, 1);
    long c[3] = {0, 0, 0};
    data_opts o = DATA_OPTS_INIT;
    o.on_progress = count_progress;
    o.ctx = c;
    data_source d;
    gerr e = GERR_INIT;
    load_ok(&d, dir, &o);
    CHECK(c[0] > 0 && c[1] == 12 && c[2] == 12, "progress: %ld calls, %ld of %ld", c[0], c[1],
          c[2]);
    data_release(&d);
    c[0] = 0;
    CHECK(load(&d, dir, &o, &e) == 0 && c[0] == 0, "progress reported for a cached load");
    data_release(&d);
}

/* Two processes loading at once: both succeed, one decodes. */
static void test_cache_concurrent(void)
{
    char dir[300];
    image_set(dir, sizeof dir, 30, 4, 16, 16, 1);
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            data_source d;
            gerr e = GERR_INIT;
            char r = 'E';
            if (data_load(&d, dir, NULL, &e) == 0)
                r = d.decoded ? 'D' : 'M';
            if (write(fds[1], &r, 1) != 1)
                _exit(2);
            _exit(0);
        }
    }
    close(fds[1]);
    char got[3] = {0};
    CHECK(read(fds[0], got, 1) == 1 && read(fds[0], got + 1, 1) == 1, "children did not report");
    close(fds[0]);
    for (int i = 0; i < 2; i++)
        waitpid(pids[i], NULL, 0);
    CHECK((got[0] == 'D' && got[1] == 'M') || (got[0] == 'M' && got[1] == 'D'),
          "two loads at once: '%s' (D decoded, M mapped, E error)", got);
}

/* An unwritable cache folder: the load still works, from memory. */
static void test_no_cache(void)
{
    char dir[300];
    image_set(dir, sizeof dir, 2, 2, 8, 8, 1);
    char file[400];
    snprintf(file, sizeof file, "%s/not-a-folder", root);
    write_bytes(file, "x", 1);
    data_opts o = DATA_OPTS_INIT;
    o.cache_dir = file;
    data_source d;
    load_ok(&d, dir, &o);
    CHECK(d.decoded && !d.cache_path[0] && d.cache_err.msg[0] && d.train.n == 4,
          "no cache: path '%s', note '%s'", d.cache_path, d.cache_err.msg);
    data_release(&d);
}

static void test_resize(void)
{
    uint8_t src[4] = {0, 100, 200, 255}, dst[16];
    data_resize_bilinear(src, 2, 2, dst, 4, 4);
    /* corners are the source's (clamped edges), the middle interpolates */
    CHECK(dst[0] == 0 && dst[3] == 100 && dst[12] == 200 && dst[15] == 255, "corners %d %d %d %d",
          dst[0], dst[3], dst[12], dst[15]);
    CHECK(dst[1] == 25 && dst[2] == 75, "row 0: %d %d", dst[1], dst[2]);
    uint8_t same[4];
    data_resize_bilinear(src, 2, 2, same, 2, 2);
    CHECK(memcmp(src, same, 4) == 0, "same size changed pixels");
    uint8_t flat[9], small[4];
    memset(flat, 77, 9);
    data_resize_bilinear(flat, 3, 3, small, 2, 2);
    CHECK(small[0] == 77 && small[3] == 77, "a flat image changed: %d", small[0]);
    int h, w;
    gerr e = GERR_INIT;
    CHECK(data_parse_size("64x48", &h, &w, &e) == 0 && h == 64 && w == 48, "parse");
    CHECK(data_parse_size("64", &h, &w, &e) == -1 && strstr(e.msg, "not a size HxW"), "%s", e.msg);
    CHECK(data_parse_size("0x5", &h, &w, &e) == -1 && strstr(e.msg, "1 to 4096"), "%s", e.msg);
}

/* An image folder trains to well above the 50% of guessing. */
static void test_trains_on_images(void)
{
    char dir[300];
    image_set(dir, sizeof dir, 60, 20, 8, 8, 11);
    data_source d;
    gerr e = GERR_INIT;
    load_ok(&d, dir, NULL);
    const char *src = "input x: 1x8x8\nclasses 2\n"
                      "x = relu(conv(x, 4, k=3, padding=1))\n"
                      "return linear(flatten(x), classes)\n"
                      "train optimizer=sgd lr=0.05 epochs=2 batch=8 schedule=constant\n";
    net_graph *g = NULL;
    net_error ne;
    CHECK(net_compile(src, strlen(src), "t.net", NULL, &g, &ne) == 0, "%s", ne.base.msg);
    model *m = g ? model_new(g, 8, 1, &e) : NULL;
    CHECK(m != NULL, "model");
    if (!m) {
        net_graph_free(g);
        data_release(&d);
        return;
    }
    train_opts o;
    train_opts_default(&o);
    o.threads = 1;
    o.val = &d.val;
    train_result r;
    CHECK(train_run(m, &g->train, &d.train, &d.test, &o, &r) == 0, "%s", r.message);
    CHECK(r.status == TRAIN_OK && r.val_acc >= 0.9 && r.test_acc >= 0.9,
          "status %s, val %.3f, test %.3f", train_status_name(r.status), r.val_acc, r.test_acc);
    train_result_release(&r);
    model_free(m);
    net_graph_free(g);
    data_release(&d);
}

int main(void)
{
    if (harness_scratch(root, sizeof root, "data-test"))
        return SETUP_FAILED("no scratch folder in /tmp");
    RUN(test_image_folders);
    RUN(test_colour_alpha_palette);
    RUN(test_image_errors);
    RUN(test_npy);
    RUN(test_npy_errors);
    RUN(test_idx_sizes);
    RUN(test_cifar);
    RUN(test_cache);
    RUN(test_progress);
    RUN(test_cache_concurrent);
    RUN(test_no_cache);
    RUN(test_resize);
    RUN(test_trains_on_images);
    harness_rmtree(root);
    return harness_done();
}
