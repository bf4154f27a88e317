/* weights_store: the trained weights of a session's individuals, kept in
 * the session folder outside git history (binary files do not belong in
 * the commit graph), for export:
 *
 *     SESSION/.gevo/weights/ID.weights   gevo's weights format (engine/model.c)
 *     SESSION/.gevo/.gitignore           "*": git status never lists .gevo
 *
 * A training worker writes its individual's file itself (gevo train
 * --weights), so the file is the training that produced the result note;
 * an individual whose program was trained before shares that file (a hard
 * link). The gevo.json setting "keep_weights" bounds the disk they take:
 *
 *   "all"    (the default) every trained individual's weights;
 *   "front"  only the Pareto front's and the confirmed individuals':
 *            the others are removed when a generation closes;
 *   "none"   none are written.
 *
 * "all" is the default because the disk is cheap next to what it saves:
 * 4 bytes a parameter (58 KB for quick.net, 2.1 MB for ExquisiteNetV2),
 * against minutes of training to get them back (not bit for bit: the
 * batch order of a retraining is the same, but OpenBLAS's sums need not
 * be). A long session sets "front". */
#ifndef GEVO_CORE_WEIGHTS_STORE_H
#define GEVO_CORE_WEIGHTS_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/base/error.h"
#include "sessions/session.h"

typedef enum weights_policy {
    WEIGHTS_KEEP_ALL,
    WEIGHTS_KEEP_FRONT,
    WEIGHTS_KEEP_NONE
} weights_policy;

/* The session's "keep_weights" (all when unset); an unknown value is an
 * error that names it. */
int weights_policy_get(session *s, weights_policy *out, gerr *err);
const char *weights_policy_name(weights_policy p);

/* Where id's weights are (or would be) kept. */
int weights_path(session *s, const char *id, char *out, size_t size, gerr *err);
/* Makes the folder (and .gevo/.gitignore) so a worker can write there. */
int weights_prepare(session *s, gerr *err);
/* Whether id's weights are kept; *bytes gets their size (may be NULL). */
bool weights_kept(session *s, const char *id, long *bytes);
/* Keeps from's weights for to as well (a hard link, else a copy): the same
 * program, trained once. Nothing to share is not an error. */
int weights_share(session *s, const char *from, const char *to, gerr *err);
/* Keeps the weights file at path as id's (a hard link, else a copy). */
int weights_keep_file(session *s, const char *id, const char *path, gerr *err);
/* Under "front": removes the kept weights of every individual not in
 * keep[] (the front) and not confirmed: gevo confirm's runs
 * (ID.confirm-S.weights, core/confirm.h) stay, and so does ID.weights
 * beside them. Other policies: nothing. Returns how many files were
 * removed. */
int weights_prune(session *s, const char *const *keep, size_t n_keep, gerr *err);

#endif
