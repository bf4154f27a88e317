/* Output files written whole or not at all: see out_file.h. */
#define _POSIX_C_SOURCE 200809L
#include "engine/out_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int out_file_open(out_file *o, const char *path, char *err, size_t errsize)
{
    memset(o, 0, sizeof *o);
    if (strlen(path) >= sizeof o->path) {
        snprintf(err, errsize, "%.64s...: path too long", path);
        return -1;
    }
    strcpy(o->path, path);
    struct stat st;
    const char *target = path;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode)) {
        snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
        target = o->tmp;
    }
    o->f = fopen(target, "wb");
    if (!o->f) {
        snprintf(err, errsize, "%s: cannot create: %s", target, strerror(errno));
        o->tmp[0] = 0;
        return -1;
    }
    return 0;
}

int out_file_commit(out_file *o, char *err, size_t errsize)
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
        snprintf(err, errsize, "%s: cannot write: %s", o->path, strerror(e));
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
