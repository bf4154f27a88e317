/* The decoded-once cache: where it lives, its key, and mapping it.
 *
 * A cache file is a data set as training reads it (data_internal.h's
 * header, then per split 16-bit labels and 8-bit CHW pixels), named by the
 * data folder's real path and --resize, and keyed inside by every source
 * file's name, size and modification time: a changed source is decoded
 * again and its cache replaced. It is written whole to a temporary file
 * and renamed (file_write), under a lock beside it so that workers
 * starting together decode once: the others wait, then map the winner's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/base/grow.h"
#include "engine/data_internal.h"

int data_cache_dir(char *out, size_t n, gerr *err)
{
    const char *e = getenv("GEVO_CACHE_DIR");
    int r = -1;
    if (e && e[0])
        r = snprintf(out, n, "%s", e);
    else if ((e = getenv("XDG_CACHE_HOME")) && e[0] == '/')
        r = snprintf(out, n, "%s/gevo", e);
    else if ((e = getenv("HOME")) && e[0])
        r = snprintf(out, n, "%s/.cache/gevo", e);
    else
        return gerr_set(err, "no cache folder: set GEVO_CACHE_DIR, XDG_CACHE_HOME or HOME");
    if (r < 0 || (size_t)r >= n)
        return gerr_set(err, "the cache folder's name is too long");
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *path, gerr *err)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return gerr_set(err, "%s: name too long", path);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return gerr_errno(err, "%s: cannot create the cache folder", p);
            *s = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return gerr_set(err, "%s: not a folder", path);
    return 0;
}

/* Two 64-bit hashes over the same bytes (FNV-1a and a multiply-rotate
 * one): 128 bits, so two different sources never share a key in practice. */
typedef struct hash2 {
    uint64_t a, b;
} hash2;

static void hash_init(hash2 *h)
{
    h->a = 0xcbf29ce484222325ULL;
    h->b = 0x9e3779b97f4a7c15ULL;
}

static void hash_add(hash2 *h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ p[i]) * 0x100000001b3ULL;
        h->b = ((h->b ^ p[i]) * 0xff51afd7ed558ccdULL);
        h->b = h->b << 29 | h->b >> 35;
    }
}

static void hash_str(hash2 *h, const char *s)
{
    hash_add(h, s, strlen(s) + 1);
}

int data_cache_key(const data_scan *s, const data_opts *o, uint64_t key[2], gerr *err)
{
    hash2 h;
    hash_init(&h);
    char head[128];
    snprintf(head, sizeof head, "gevo data cache %d %s %dx%d", DATA_CACHE_VERSION,
             data_format_name(s->format), o->resize_h, o->resize_w);
    hash_str(&h, head);
    for (size_t i = 0; i < s->n_files; i++) {
        const data_file *f = &s->files[i];
        long long size = f->size;
        struct timespec mtime = f->mtime;
        if (!f->have_stat) {
            struct stat st;
            if (stat(f->path, &st) != 0)
                return gerr_errno(err, "%s", f->path);
            size = (long long)st.st_size;
            mtime = st.st_mtim;
        }
        char line[96];
        snprintf(line, sizeof line, "%d %d %d %lld %lld.%09ld", f->split, f->label, f->is_labels,
                 size, (long long)mtime.tv_sec, (long)mtime.tv_nsec);
        hash_str(&h, f->path);
        hash_str(&h, line);
    }
    key[0] = h.a;
    key[1] = h.b;
    return 0;
}

int data_cache_path(const data_scan *s, const data_opts *o, char *out, size_t n, gerr *err)
{
    char dir[4096];
    if (o->cache_dir) {
        if (snprintf(dir, sizeof dir, "%s", o->cache_dir) >= (int)sizeof dir)
            return gerr_set(err, "the cache folder's name is too long");
    } else if (data_cache_dir(dir, sizeof dir, err)) {
        return -1;
    }
    if (make_dirs(dir, err))
        return -1;
    hash2 h;
    hash_init(&h);
    hash_str(&h, s->dir);
    char rs[32];
    snprintf(rs, sizeof rs, "%dx%d", o->resize_h, o->resize_w);
    hash_str(&h, rs);
    /* the folder's last name makes the file recognisable in a listing */
    const char *base = strrchr(s->dir, '/');
    base = base && base[1] ? base + 1 : "data";
    char tag[48];
    size_t k = 0;
    for (; base[k] && k < sizeof tag - 1; k++) {
        char c = base[k];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.';
        tag[k] = plain ? c : '_';
    }
    tag[k] = 0;
    int r = snprintf(out, n, "%s/%s-%016llx.gdc", dir, tag, (unsigned long long)(h.a ^ h.b));
    if (r < 0 || (size_t)r >= n)
        return gerr_set(err, "%s: the cache file's name is too long", dir);
    return 0;
}

/* off + len within total, without overflow. */
static bool span_ok(uint64_t off, uint64_t len, uint64_t total)
{
    return off <= total && len <= total - off;
}

int data_cache_attach(data_source *d, const uint8_t *mem, size_t len, const char *what, gerr *err)
{
    data_cache_header h;
    if (len < sizeof h)
        return gerr_set(err, "%s: too short for a gevo data cache", what);
    memcpy(&h, mem, sizeof h);
    if (memcmp(h.magic, DATA_CACHE_MAGIC, 8) || h.version != DATA_CACHE_VERSION ||
        h.endian != 0x01020304u)
        return gerr_set(err, "%s: not a gevo data cache of version %d", what, DATA_CACHE_VERSION);
    if (h.file_size != len)
        return gerr_set(err, "%s: %zu bytes, but its header says %llu", what, len,
                        (unsigned long long)h.file_size);
    if ((h.c != 1 && h.c != 3) || h.h < 1 || h.h > 65536 || h.w < 1 || h.w > 65536 ||
        h.classes < 1 || h.classes > DATA_MAX_CLASSES || h.format > DATA_NPY)
        return gerr_set(err, "%s: damaged header", what);
    size_t image = (size_t)h.c * h.h * h.w;
    data_set *sets[SPLITS] = {&d->train, &d->val, &d->test};
    for (int k = 0; k < SPLITS; k++) {
        size_t px;
        if (h.n[k] > (uint64_t)DATA_MAX_IMAGES || !size_mul(image, (size_t)h.n[k], &px) ||
            !span_ok(h.pixels_off[k], px, len) || !span_ok(h.labels_off[k], 2 * h.n[k], len) ||
            h.labels_off[k] % 2)
            return gerr_set(err, "%s: damaged header (%s split)", what, data_split_names[k]);
        data_set *s = sets[k];
        s->n = (int)h.n[k];
        s->c = (int)h.c;
        s->h = (int)h.h;
        s->w = (int)h.w;
        s->classes = (int)h.classes;
        s->pixels = mem + h.pixels_off[k];
        s->labels = (const uint16_t *)(const void *)(mem + h.labels_off[k]);
        for (int i = 0; i < s->n; i++)
            if (s->labels[i] >= h.classes)
                return gerr_set(err, "%s: damaged: label %u of a %u-class data set", what,
                                s->labels[i], h.classes);
    }
    d->classes = (int)h.classes;
    d->format = (data_format)h.format;
    if (h.names_len) {
        if (!span_ok(h.names_off, h.names_len, len) || mem[h.names_off + h.names_len - 1])
            return gerr_set(err, "%s: damaged class names", what);
        d->class_names = base_alloc_array(h.classes, sizeof(char *));
        if (!d->class_names)
            return gerr_set(err, "out of memory");
        const char *p = (const char *)mem + h.names_off, *end = p + h.names_len;
        for (uint32_t i = 0; i < h.classes; i++) {
            if (p >= end) {
                free(d->class_names);
                d->class_names = NULL;
                return gerr_set(err, "%s: damaged class names", what);
            }
            d->class_names[i] = (char *)p;
            p += strlen(p) + 1;
        }
    }
    return 0;
}

int data_cache_map(data_source *d, const char *path, const uint64_t key[2], gerr *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : gerr_errno(err, "%s", path);
    struct stat st;
    data_cache_header h;
    if (fstat(fd, &st) != 0 || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h.magic, DATA_CACHE_MAGIC, 8) || h.version != DATA_CACHE_VERSION ||
        h.key[0] != key[0] || h.key[1] != key[1] || h.file_size != (uint64_t)st.st_size) {
        close(fd); /* stale, of another version, or not ours: decode again */
        return 0;
    }
    void *mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (mem == MAP_FAILED)
        return gerr_errno(err, "%s: cannot map", path);
    gerr why = GERR_INIT;
    if (data_cache_attach(d, mem, (size_t)st.st_size, path, &why)) {
        munmap(mem, (size_t)st.st_size);
        free(d->class_names);
        d->class_names = NULL;
        return 0; /* damaged: decoded again and replaced */
    }
    d->mem = mem;
    d->mem_len = (size_t)st.st_size;
    d->mapped = true;
    if (snprintf(d->cache_path, sizeof d->cache_path, "%s", path) >= (int)sizeof d->cache_path)
        d->cache_path[0] = 0;
    return 1;
}

int data_cache_lock(const char *path)
{
    char lock[4200];
    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock)
        return -1;
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

void data_cache_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}
