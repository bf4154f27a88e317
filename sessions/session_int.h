/* Internals shared by the session module's files; not for other modules.
 * Errors follow session.h: a failing function fills its gerr *err (last)
 * and returns -1 (or NULL). */
#ifndef GEVO_SESSIONS_SESSION_INT_H
#define GEVO_SESSIONS_SESSION_INT_H

#include <git2.h>
#include <jansson.h>

#include "engine/base/error.h"
#include "sessions/session.h"

#define SESSION_REF_JOURNAL   "refs/heads/journal"
#define SESSION_REF_RESULTS   "refs/notes/results"
#define SESSION_REF_REVIEWS   "refs/notes/reviews"
#define SESSION_TAG_PREFIX    "refs/tags/"
/* failed proposals (session_add_failed) */
#define SESSION_FAILED_PREFIX "refs/failed/"
#define SESSION_GENOME        "genome.net"
#define SESSION_CONFIG        "gevo.json"

struct session {
    git_repository *repo;
    char *workdir; /* with a trailing '/' */
    bool writer;
    char lock_path[4096];
    int lock_fd; /* flock'd while writer */
    char holder[160];
    json_t *config; /* gevo.json as last read or written */
    /* the text of the settings gevo.json gives as numbers or true/false
       (dotted key -> string), made when first asked for, so that
       session_config_get can hand out a borrowed string for them too */
    json_t *config_text;
    /* the next free number of each generation that has individuals:
       (generation, next) pairs, as many as generations in use, so that a
       generation number never sizes an allocation */
    struct session_number {
        int gen, next;
    } * numbers;
    size_t n_numbers, alloc_numbers;
    bool numbers_loaded;
};

/* The one check of a libgit2 return code: rc >= 0 passes (0 is
 * returned); a negative rc puts "context: <git_error_last()'s message>"
 * into err and returns -1. So every libgit2 failure says where it was. */
int session_git(int rc, gerr *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int session_require_writer(const session *s, gerr *err);

/* The researcher's signature: user.name/user.email, else $USER@host. */
int session_researcher(session *s, git_signature **out, gerr *err);
int session_gevo_signature(git_signature **out, gerr *err);

/* Resolves an id to its tag's commit. */
int session_commit_of(session *s, const char *id, git_commit **out, gerr *err);
/* A blob's bytes, NUL-terminated (malloc'd; NULL when out of memory). */
char *session_blob_text(const git_blob *b, size_t *len);
/* Reads a blob at path in a commit's tree (malloc'd, terminated). */
int session_read_path(session *s, const git_commit *c, const char *path, char **out, size_t *len,
                      gerr *err);
/* j as text ending in a newline (malloc'd), as every JSON file of a
 * session is written; what names it in the error. */
char *session_json_text(json_t *j, size_t flags, const char *what, gerr *err);
/* Atomically writes j as the working tree's file name. */
int session_write_json(session *s, const char *name, json_t *j, size_t flags, gerr *err);
/* Atomically writes gevo.json from s->config. */
int session_config_save(session *s, gerr *err);
/* Reloads gevo.json from the working tree. */
int session_config_load(session *s, gerr *err);

/* Lock file: take (fails naming the holder), give up. */
int session_lock_take(session *s, gerr *err);
void session_unlock(session *s);

int session_valid_id(const char *id, int *gen, int *num);
/* qsort's comparison of elements whose first member is an individual's or
 * a failed proposal's id (session_info, session_failed_info): by
 * generation, then number. */
int session_id_cmp(const void *a, const void *b);
/* A JSON string's text into dst (cut to size), "" when v is not a string. */
void session_copy_str(char *dst, size_t size, json_t *v);
/* A failed proposal's id, "gGEN-fN"; gen and num may be NULL. */

/* A blob of text (scrubbed of the API key) or of JSON (written as every
 * JSON file of a session is) under name in tb. */
int session_blob_insert(session *s, git_treebuilder *tb, const char *name, const char *text,
                        gerr *err);
int session_json_insert(session *s, git_treebuilder *tb, const char *name, json_t *j, gerr *err);
/* Now as "2026-01-31T12:00:00Z". */
void session_iso_now(char *buf, size_t size);
/* The first line of text, cut to size, without control characters. */
void session_one_line(char *out, size_t size, const char *text);

#endif
