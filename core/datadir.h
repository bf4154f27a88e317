/* datadir: finds gevo's data files (seed networks, prompt templates) at
 * run time, so the same binary works from a source tree and installed.
 *
 * Search order for kind "nets" or "prompts":
 *   1. $GEVO_DATADIR/<kind>/
 *   2. next to the executable in a source tree: <exe dir>/engine/nets,
 *      <exe dir>/prompts (the binary is ./gevo at the root of the tree),
 *      then the same one folder up (build/gevo)
 *   3. <exe dir>/../share/gevo/<kind> (an installed tree moved whole)
 *   4. the compiled-in GEVO_DATADIR/<kind> (PREFIX/share/gevo/<kind>)
 *
 * Errors: a function that can fail takes a gerr *err (last) and returns -1
 * (or NULL) with what and where in it (engine/base/error.h).
 * Ownership: returned paths are malloc'd; the caller frees them. */
#ifndef GEVO_CORE_DATADIR_H
#define GEVO_CORE_DATADIR_H

#include <stddef.h>

#include "engine/base/error.h"

/* The path of file name of kind, or NULL with a message in err naming
 * every place searched. */
char *datadir_find(const char *kind, const char *name, gerr *err);
/* The first existing folder of kind, or NULL with a message in err. */
char *datadir_dir(const char *kind, gerr *err);

#endif
