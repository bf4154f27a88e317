/* Internals shared by the session module's files; not for other modules. */
#ifndef GEVO_SESSIONS_SESSION_INT_H
#define GEVO_SESSIONS_SESSION_INT_H

#include <git2.h>
#include <jansson.h>

#include "sessions/session.h"

#define SESSION_REF_JOURNAL "refs/heads/journal"
#define SESSION_REF_RESULTS "refs/notes/results"
#define SESSION_REF_REVIEWS "refs/notes/reviews"
#define SESSION_TAG_PREFIX  "refs/tags/"
#define SESSION_GENOME      "genome.net"
#define SESSION_CONFIG      "gevo.json"

struct session {
    git_repository *repo;
    char *workdir; /* with a trailing '/' */
    bool writer;
    char lock_path[4096];
    int lock_fd; /* flock'd while writer */
    char holder[160];
    json_t *config;    /* gevo.json as last read or written */
    int *next_number;  /* per generation: the next free number */
    int n_generations; /* entries in next_number */
    bool numbers_loaded;
};

/* Sets the message session_error() returns; always returns -1. */
int session_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "what: <libgit2's message>"; always returns -1. */
int session_gitfail(const char *what);
int session_require_writer(const session *s);

/* Copies text with the configured API key's value replaced (malloc'd);
 * NULL text gives "". Never NULL. */
char *session_scrub(session *s, const char *text);

/* The researcher's signature: user.name/user.email, else $USER@host. */
int session_researcher(session *s, git_signature **out);
int session_gevo_signature(git_signature **out);

/* Resolves an id to its tag's commit. */
int session_commit_of(session *s, const char *id, git_commit **out);
/* Reads a blob at path in a commit's tree (malloc'd, terminated). */
int session_read_path(session *s, const git_commit *c, const char *path, char **out, size_t *len);
/* Writes a file atomically (temp file + rename). */
int session_write_file(const char *path, const char *data, size_t len);
/* Atomically writes gevo.json from s->config. */
int session_config_save(session *s);
/* Reloads gevo.json from the working tree. */
int session_config_load(session *s);

/* Lock file: take (fails naming the holder), release. */
int session_lock_take(session *s);
void session_lock_release(session *s);

int session_valid_id(const char *id, int *gen, int *num);

#endif
