/* Image folders (torchvision's ImageFolder layout): DIR/train/CLASS/NAME.png,
 * *.jpg or *.jpeg, DIR/test/CLASS/..., optionally DIR/val/CLASS/....
 * Classes are train/'s subfolder names in byte order; test/ and val/ may
 * leave a class out but not add one. Files are taken in byte order of their
 * names; other files are ignored, hidden ones too, and a folder inside a
 * class folder or an image outside one is an error (nothing is skipped
 * silently that looks like data).
 *
 * Decoding is libpng's (simplified API) and libjpeg-turbo's. A first pass
 * reads every header: all images must have the size of the first training
 * image unless --resize is given, and the data set has 3 channels when any
 * image is in colour (grayscale ones are then repeated into R, G and B),
 * else 1. PNG palettes are expanded; an alpha channel (grayscale+alpha,
 * RGBA, or a transparent palette entry) is composited onto black. CMYK and
 * YCCK JPEGs are refused. libjpeg's warnings (corrupt or truncated data)
 * are errors: a damaged image never trains as a grey half. */
#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jpeglib.h>

#include "engine/base/grow.h"
#include "engine/data_internal.h"

/* Largest decoded source image (before --resize), in bytes. */
#define IMAGE_MAX_BYTES ((size_t)1 << 28)

bool data_images_detect(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/train", dir);
    return data_is_dir(p);
}

static bool image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot &&
           (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_hidden(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* The visible entries of dir, sorted by name; *n of them. */
static int list_dir(const char *dir, struct dirent ***out, int *n, gerr *err)
{
    *n = scandir(dir, out, not_hidden, by_name);
    if (*n < 0)
        return gerr_errno(err, "%s", dir);
    return 0;
}

static void free_list(struct dirent **l, int n)
{
    for (int i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

/* Adds one class folder's images, each stat'ed once, relative to the
 * folder (a data set of 50,000 images is 50,000 stat calls at every start:
 * the cache key needs their sizes and times). */
static int scan_class(data_scan *s, const char *cdir, int split, int label, gerr *err)
{
    struct dirent **l;
    int n, found = 0, rc = -1;
    if (list_dir(cdir, &l, &n, err))
        return -1;
    DIR *d = opendir(cdir);
    if (!d) {
        gerr_errno(err, "%s", cdir);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const char *name = l[i]->d_name;
        unsigned char type = l[i]->d_type;
        if (type != DT_DIR && type != DT_UNKNOWN && type != DT_LNK && !image_name(name))
            continue;
        char p[4200];
        if (snprintf(p, sizeof p, "%s/%s", cdir, name) >= (int)sizeof p) {
            gerr_set(err, "%s/%s: name too long", cdir, name);
            goto out;
        }
        struct stat st;
        if (fstatat(dirfd(d), name, &st, 0) != 0) {
            gerr_errno(err, "%s", p);
            goto out;
        }
        if (S_ISDIR(st.st_mode)) {
            gerr_set(err, "%s: a folder inside a class folder (images go directly in %s)", p, cdir);
            goto out;
        }
        if (!S_ISREG(st.st_mode) || !image_name(name))
            continue;
        if (data_scan_add(s, p, split, label, false, &st, err))
            goto out;
        found++;
    }
    if (!found) {
        gerr_set(err, "%s: an empty class folder (no .png, .jpg or .jpeg images)", cdir);
        goto out;
    }
    rc = 0;
out:
    if (d)
        closedir(d);
    free_list(l, n);
    return rc;
}

static int scan_split(data_scan *s, int split, gerr *err)
{
    char sdir[4200];
    snprintf(sdir, sizeof sdir, "%s/%s", s->dir, data_split_names[split]);
    if (!data_is_dir(sdir)) {
        if (split == SPLIT_VAL)
            return 0;
        return gerr_set(err, "%s: missing (image folders need train/CLASS/ and test/CLASS/)", sdir);
    }
    struct dirent **l;
    int n, rc = -1, classes = 0;
    if (list_dir(sdir, &l, &n, err))
        return -1;
    for (int i = 0; i < n; i++) {
        char p[4200];
        if (snprintf(p, sizeof p, "%s/%s", sdir, l[i]->d_name) >= (int)sizeof p) {
            gerr_set(err, "%s/%s: name too long", sdir, l[i]->d_name);
            goto out;
        }
        if (!data_is_dir(p)) {
            if (image_name(l[i]->d_name)) {
                gerr_set(err, "%s: an image outside a class folder (%s/CLASS/%s)", p, sdir,
                         l[i]->d_name);
                goto out;
            }
            continue;
        }
        int label = -1;
        if (split == SPLIT_TRAIN) {
            if (s->n_classes >= DATA_MAX_CLASSES) {
                gerr_set(err, "%s: more than %d classes", sdir, DATA_MAX_CLASSES);
                goto out;
            }
            char *name = strdup(l[i]->d_name);
            if (!name || ALLOC_GROW(s->classes, s->n_classes + 1, s->alloc_classes)) {
                free(name);
                gerr_set(err, "out of memory listing %s", sdir);
                goto out;
            }
            label = (int)s->n_classes;
            s->classes[s->n_classes++] = name;
        } else {
            for (size_t k = 0; k < s->n_classes; k++)
                if (!strcmp(s->classes[k], l[i]->d_name))
                    label = (int)k;
            if (label < 0) {
                gerr_set(err, "%s: class '%s' is not among the training classes (%s/train/)", p,
                         l[i]->d_name, s->dir);
                goto out;
            }
        }
        if (scan_class(s, p, split, label, err))
            goto out;
        classes++;
    }
    if (!classes) {
        gerr_set(err, "%s: no class folders (images go in %s/CLASS/)", sdir, sdir);
        goto out;
    }
    rc = 0;
out:
    free_list(l, n);
    return rc;
}

int data_images_scan(data_scan *s, gerr *err)
{
    return scan_split(s, SPLIT_TRAIN, err) || scan_split(s, SPLIT_VAL, err) ||
                   scan_split(s, SPLIT_TEST, err)
               ? -1
               : 0;
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct image_info {
    int w, h;
    bool colour;
} image_info;

static bool is_png(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && !strcasecmp(dot, ".png");
}

/* libjpeg reports through longjmp; its warnings (corrupt data, a premature
 * end) end decoding as errors do. */
typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_fail(j_common_ptr c)
{
    jpeg_err *e = (jpeg_err *)(void *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

static void jpeg_message(j_common_ptr c, int level)
{
    if (level < 0)
        jpeg_fail(c);
}

/* Reads the header (and, when out is not NULL, the image as `channels`
 * interleaved channels of info->h x info->w) of a JPEG file. */
static int jpeg_read(const char *path, image_info *info, int channels, uint8_t *out, gerr *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return gerr_errno(err, "%s: cannot open", path);
    struct jpeg_decompress_struct ci;
    jpeg_err je;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_fail;
    je.pub.emit_message = jpeg_message;
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return gerr_set(err, "%s: corrupt or truncated JPEG: %s", path, je.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK ||
        (ci.num_components != 1 && ci.num_components != 3)) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return gerr_set(err,
                        "%s: unsupported pixel format: a %s JPEG of %d components (gevo takes "
                        "grayscale and colour, RGB or YCbCr; convert it to RGB)",
                        path,
                        ci.jpeg_color_space == JCS_CMYK   ? "CMYK"
                        : ci.jpeg_color_space == JCS_YCCK ? "YCCK"
                                                          : "multi-channel",
                        ci.num_components);
    }
    if (out && ((int)ci.image_width != info->w || (int)ci.image_height != info->h)) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return gerr_set(err, "%s: changed while being read", path);
    }
    info->w = (int)ci.image_width;
    info->h = (int)ci.image_height;
    info->colour = ci.num_components == 3;
    if (out) {
        ci.out_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
        jpeg_start_decompress(&ci);
        if ((int)ci.output_width != info->w || (int)ci.output_height != info->h ||
            ci.output_components != channels) {
            jpeg_destroy_decompress(&ci);
            fclose(f);
            return gerr_set(err, "%s: libjpeg decoded %ux%u of %d channels, not %dx%d of %d", path,
                            ci.output_height, ci.output_width, ci.output_components, info->h,
                            info->w, channels);
        }
        while (ci.output_scanline < ci.output_height) {
            JSAMPROW row = out + (size_t)ci.output_scanline * info->w * channels;
            jpeg_read_scanlines(&ci, &row, 1);
        }
        jpeg_finish_decompress(&ci);
    }
    jpeg_destroy_decompress(&ci);
    fclose(f);
    return 0;
}

static int png_read(const char *path, image_info *info, int channels, uint8_t *out, gerr *err)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) {
        gerr_set(err, "%s: corrupt or truncated PNG: %s", path, im.message);
        png_image_free(&im);
        return -1;
    }
    if (out && ((int)im.width != info->w || (int)im.height != info->h)) {
        png_image_free(&im);
        return gerr_set(err, "%s: changed while being read", path);
    }
    info->w = (int)im.width;
    info->h = (int)im.height;
    info->colour = (im.format & PNG_FORMAT_FLAG_COLOR) != 0;
    if (!out) {
        png_image_free(&im);
        return 0;
    }
    im.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    /* alpha is composited onto the buffer: zeroed, that is onto black */
    memset(out, 0, (size_t)info->w * info->h * channels);
    if (!png_image_finish_read(&im, NULL, out, 0, NULL)) {
        gerr_set(err, "%s: corrupt or truncated PNG: %s", path, im.message);
        png_image_free(&im);
        return -1;
    }
    return 0;
}

static int read_image(const char *path, image_info *info, int channels, uint8_t *out, gerr *err)
{
    int rc = is_png(path) ? png_read(path, info, channels, out, err)
                          : jpeg_read(path, info, channels, out, err);
    if (rc == 0 && !out &&
        (info->w < 1 || info->h < 1 || (size_t)info->w * info->h * 3 > IMAGE_MAX_BYTES))
        return gerr_set(err, "%s: an image of %dx%d is more than gevo decodes", path, info->h,
                        info->w);
    return rc;
}

int data_images_decode(const data_scan *s, const data_opts *o, data_builder *b, gerr *err)
{
    long n[SPLITS] = {0};
    image_info *info = base_alloc_array(s->n_files ? s->n_files : 1, sizeof *info);
    if (!info)
        return gerr_set(err, "out of memory for %zu images", s->n_files);
    bool colour = false;
    uint8_t *hwc = NULL, *chw = NULL;
    int rc = -1;
    for (size_t i = 0; i < s->n_files; i++) {
        const data_file *f = &s->files[i];
        if (read_image(f->path, &info[i], 0, NULL, err))
            goto out;
        if (!o->resize_h && (info[i].w != info[0].w || info[i].h != info[0].h)) {
            gerr_set(err,
                     "%s: %dx%d, but %s is %dx%d (images must have one size; "
                     "--resize HxW resamples them all)",
                     f->path, info[i].h, info[i].w, s->files[0].path, info[0].h, info[0].w);
            goto out;
        }
        colour |= info[i].colour;
        n[f->split]++;
    }
    int c = colour ? 3 : 1;
    if (data_builder_begin(b, o, c, info[0].h, info[0].w, n, s->classes, s->n_classes, err))
        goto out;
    long k[SPLITS] = {0};
    size_t cap = 0;
    for (size_t i = 0; i < s->n_files; i++) {
        const data_file *f = &s->files[i];
        size_t plane = (size_t)info[i].w * info[i].h, need = plane * c;
        if (need > cap) {
            free(hwc);
            free(chw);
            hwc = malloc(need);
            chw = malloc(need);
            cap = need;
            if (!hwc || !chw) {
                gerr_set(err, "%s: out of memory", f->path);
                goto out;
            }
        }
        if (read_image(f->path, &info[i], c, hwc, err))
            goto out;
        for (size_t p = 0; p < plane; p++)
            for (int ch = 0; ch < c; ch++)
                chw[ch * plane + p] = hwc[p * c + ch];
        data_builder_put(b, f->split, k[f->split]++, chw, info[i].h, info[i].w, (unsigned)f->label);
    }
    rc = 0;
out:
    free(info);
    free(hwc);
    free(chw);
    return rc;
}
