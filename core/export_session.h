/* export_session: an individual of a session to a PyTorch folder, with the
 * weights its training produced (kept by weights_store.h), for
 * `gevo export SESSION ID --torch DIR` and the workbench's export key.
 *
 * When the weights are not kept (keep_weights "front" or "none", or a
 * session older than the store), the export fails and says so, unless
 * asked to retrain: then `gevo train` runs on the individual at the
 * fidelity of its result note (the same data, training images, epochs and
 * seed) and its weights are exported (and kept, unless keep_weights is
 * "none"). DIR/train.json is that retraining's result. */
#ifndef GEVO_CORE_EXPORT_SESSION_H
#define GEVO_CORE_EXPORT_SESSION_H

#include <stdbool.h>

#include "engine/base/error.h"
#include "sessions/session.h"

typedef struct export_session_opts {
    bool train;       /* retrain when the weights are not kept */
    const char *exe;  /* the gevo binary that retrains; NULL: this program */
    const char *data; /* the data folder; NULL: the result's, else the session's */
    /* the weights of ID's `gevo confirm` run with the highest validation
       accuracy (never the test accuracy: it stays out of every choice),
       instead of those behind its result note */
    bool confirmed;
} export_session_opts;

typedef struct export_session_report {
    char id[SESSION_ID_MAX];
    long params;
    bool retrained;
    int confirm_seed;             /* the confirm run exported (confirmed), else 0 */
    char fidelity[256];           /* "2000 images, 1 epoch, seed 1" */
    double note_val, retrain_val; /* validation accuracy: the note's, the retraining's (-1) */
} export_session_report;

/* What a retraining would use: "2000 images, 1 epoch, seed 1", from a
 * result note; -1 when the note does not say. */
int export_session_fidelity(const char *note, char *out, size_t size, gerr *err);

/* One line on id's weights, for gevo show and the workbench: "kept:
 * .gevo/weights/g1-3.weights (58 KB)", "not kept (keep_weights \"front\");
 * export --train retrains it (2000 images, 1 epoch, seed 1)" or "none: not
 * trained". note is its result note, or NULL. */
void export_session_weights_line(session *s, const char *id, const char *note, char *out,
                                 size_t size);

/* Exports individual spec (an id or a commit prefix) of s into dir. */
int export_session_torch(session *s, const char *spec, const char *dir,
                         const export_session_opts *o, export_session_report *rep, gerr *err);

#endif
