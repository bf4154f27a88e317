/* Output files written whole or not at all.
 *
 * A result or weights file is written to PATH.tmp.PID and renamed over PATH
 * once complete, so a reader never sees half of it. Renaming over anything
 * that is not a regular file would be wrong, and as root disastrous:
 * `--out /dev/null` would replace the device with a plain file. So when PATH
 * exists and is not a regular file (a device, a FIFO, /dev/stdout), the
 * data goes straight to it instead. */
#ifndef GEVO_ENGINE_OUT_FILE_H
#define GEVO_ENGINE_OUT_FILE_H

#include <stdio.h>

typedef struct {
    FILE *f;
    char path[4096];
    char tmp[4200]; /* empty when writing straight to path */
} out_file;

/* Opens for writing; on failure fills err ("PATH: cannot create: why"). */
int out_file_open(out_file *o, const char *path, char *err, size_t errsize);
/* Flushes, syncs and renames into place; on any failure removes the
 * temporary file, leaves PATH as it was and fills err. Always closes. */
int out_file_commit(out_file *o, char *err, size_t errsize);
/* Closes and removes the temporary file: PATH is left as it was. */
void out_file_abort(out_file *o);

#endif
