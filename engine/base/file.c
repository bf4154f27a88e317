/* Whole files: see file.h. */
#include "engine/base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_open(const char *path, struct stat *st, gerr *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gerr_errno(err, "%s: cannot open", path);
    if (fstat(fd, st) != 0) {
        gerr_errno(err, "%s", path);
        close(fd);
        return -1;
    }
    return fd;
}

int file_read(const char *path, size_t max, char **out, size_t *len, gerr *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    struct stat st;
    int fd = file_open(path, &st, err);
    if (fd < 0)
        return -1;
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return gerr_set(err, "%s: is a folder, not a file", path);
    }
    /* A regular file's size is known; anything else (a pipe) is read up to
     * max and refused beyond it. */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size : 65536;
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
        close(fd);
        return gerr_set(err, "%s: larger than %zu bytes", path, max);
    }
    char *buf = malloc(cap + 1);
    size_t n = 0;
    while (buf) {
        if (n == cap) {
            if (cap >= max) {
                /* one byte more than allowed tells a long stream apart */
                char c;
                ssize_t r = read(fd, &c, 1);
                if (r > 0) {
                    free(buf);
                    close(fd);
                    return gerr_set(err, "%s: larger than %zu bytes", path, max);
                }
                break;
            }
            size_t ncap = cap * 2 > max ? max : cap * 2;
            if (ncap == 0)
                ncap = 1;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            gerr_errno(err, "%s: cannot read", path);
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf)
        return gerr_set(err, "%s: out of memory", path);
    buf[n] = 0;
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int file_write(const char *path, const void *data, size_t n, gerr *err)
{
    out_file o;
    if (out_file_open(&o, path, err) != 0)
        return -1;
    if (n && fwrite(data, 1, n, o.f) != n) {
        gerr_errno(err, "%s: cannot write", path);
        out_file_abort(&o);
        return -1;
    }
    return out_file_commit(&o, err);
}

int out_file_open(out_file *o, const char *path, gerr *err)
{
    memset(o, 0, sizeof *o);
    if (strlen(path) >= sizeof o->path)
        return gerr_set(err, "%.64s...: path too long", path);
    strcpy(o->path, path);
    struct stat st;
    const char *target = path;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode)) {
        snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
        target = o->tmp;
    }
    o->f = fopen(target, "wb");
    if (!o->f) {
        gerr_errno(err, "%s: cannot create", target);
        o->tmp[0] = 0;
        return -1;
    }
    return 0;
}

int out_file_commit(out_file *o, gerr *err)
{
    int bad = ferror(o->f) != 0 || fflush(o->f) != 0;
    int e = errno;
    /* fsync before rename, so a crash cannot leave a renamed empty file;
     * a device or pipe need not (and often cannot) be synced */
    if (!bad && o->tmp[0] && fsync(fileno(o->f)) != 0)
        bad = 1, e = errno;
    if (fclose(o->f) != 0 && !bad)
        bad = 1, e = errno;
    o->f = NULL;
    if (!bad && o->tmp[0] && rename(o->tmp, o->path) != 0)
        bad = 1, e = errno;
    if (bad) {
        gerr_set(err, "%s: cannot write: %s", o->path, strerror(e));
        if (o->tmp[0])
            unlink(o->tmp);
        return -1;
    }
    return 0;
}

void out_file_abort(out_file *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    if (o->tmp[0])
        unlink(o->tmp);
}
