/* Files read whole and written whole or not at all: the one reader and the
 * one atomic writer of every layer.
 *
 * Writing: a file is written to PATH.tmp.PID, flushed, fsync'd and renamed
 * over PATH once complete, so a reader (or a crash) never sees half of it.
 * Renaming over anything that is not a regular file would be wrong, and as
 * root disastrous: `--out /dev/null` would replace the device with a plain
 * file. So when PATH exists and is not a regular file (a device, a FIFO,
 * /dev/stdout), the data goes straight to it instead. */
#ifndef GEVO_BASE_FILE_H
#define GEVO_BASE_FILE_H

#include <stdio.h>

#include "engine/base/error.h"

struct stat;

/* Opens path read-only (close-on-exec) and fstats it into *st: the file
 * descriptor, or -1 with "PATH: cannot open: why" in err. */
int file_open(const char *path, struct stat *st, gerr *err);

/* Reads all of path into *out (malloc'd, NUL-terminated; the caller frees)
 * and its length into *len (may be NULL). A file larger than max bytes is
 * an error ("PATH: larger than N bytes"), checked before it is read, so a
 * hostile file cannot size an allocation. */
int file_read(const char *path, size_t max, char **out, size_t *len, gerr *err);

/* Writes n bytes to path atomically (see above). */
int file_write(const char *path, const void *data, size_t n, gerr *err);

typedef struct out_file {
    FILE *f;
    char path[4096];
    char tmp[4200]; /* empty when writing straight to path */
} out_file;

/* Opens for writing; on failure fills err ("PATH: cannot create: why"). */
int out_file_open(out_file *o, const char *path, gerr *err);
/* Flushes, syncs and renames into place; on any failure removes the
 * temporary file, leaves PATH as it was and fills err. Always closes. */
int out_file_commit(out_file *o, gerr *err);
/* Closes and removes the temporary file: PATH is left as it was. */
void out_file_abort(out_file *o);

#endif
