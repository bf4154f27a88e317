/* newsession: a new session with gevo's defaults filled in, as `gevo new`
 * and bare `gevo` make one: the default seed (quick.net, found by datadir),
 * the default data set, the prompt templates.
 *
 * Checks before anything is created: the seed must compile and a data
 * folder that is named must exist; a default data set that is not
 * installed is only reported (info->data_missing), as the session can be
 * pointed at data later. A data folder that holds a data set is loaded
 * (decoded into its cache the first time, so that no training worker has
 * to) and the seed's input line must match its images; one that does not
 * load is only reported (info->data_note). */
#ifndef GEVO_CORE_NEWSESSION_H
#define GEVO_CORE_NEWSESSION_H

#include <stdbool.h>

#include "engine/base/error.h"
#include "engine/data.h"
#include "engine/net.h"
#include "sessions/session.h"

typedef struct newsession_opts {
    const char *seed;   /* a gevo-net file; NULL: quick.net of the data folder */
    const char *data;   /* the data set folder; NULL: DATA_DEFAULT_DIR */
    const char *preset; /* recorded in gevo.json; NULL: "default" */
    /* --resize (recorded in gevo.json as "resize": "HxW") and the decoding
       progress; NULL: no resizing, no progress */
    const data_opts *data_opts;
} newsession_opts;

typedef struct newsession_info {
    char seed[4096];              /* the seed file used */
    char data[4096];              /* the data folder recorded */
    bool data_missing;            /* the default data folder does not exist */
    char data_note[GERR_MSG_MAX]; /* why the data did not load ("" when it did) */
    char data_shape[160];         /* "60000 training images of 1x28x28, 10 classes" */
    net_shape input;              /* the seed's input line */
    long params;                  /* the seed's parameters and forward FLOPs per image */
    double flops;
    bool seed_invalid;    /* the seed did not compile: */
    net_error seed_error; /* where and why, with the source line */
} newsession_info;

/* Creates dir (which must not exist, or be empty) as a session opened for
 * writing, in *out. info may be NULL. */
int newsession_create(session **out, const char *dir, const newsession_opts *o,
                      newsession_info *info, gerr *err);

#endif
