/* session: the session repository (see man/gevo-session.5).
 *
 * A session is an ordinary, non-bare git repository written with libgit2:
 * - each individual is a commit tagged refs/tags/<id> ("g2-7": generation 2,
 *   number 7) whose tree holds genome.net, meta.json, reasoning.md,
 *   prompt.txt and response.txt; its parents are its genetic parents;
 * - a researcher's edit is a commit on top of the proposal, authored by the
 *   researcher; the tag then points at the edit;
 * - training results and reviews are notes under refs/notes/results and
 *   refs/notes/reviews on the individual's (current) commit;
 * - the branch "journal" (HEAD, checked out in the working tree) has one
 *   commit per generation: gevo.json, population.json, front.json, prompts/.
 *
 * Crash safety: objects are always written before the ref that names them
 * moves, and refs move through lock file + rename, so a kill at any moment
 * leaves a repository that git fsck accepts, holding every write that had
 * returned.
 *
 * One writer: a writer holds .git/gevo.lock ("pid host"); readers take no
 * lock. A lock whose process is gone (same host) is taken over.
 *
 * Errors (engine/base/error.h): a function that can fail takes a gerr *err
 * last, returns 0 (or a count) on success and -1 on failure with what and
 * where in err (libgit2's own message included); err may be NULL.
 * Ownership: strings returned through char ** are malloc'd and owned by
 * the caller; const char * results are owned by the session and valid
 * until the next call that changes the same thing; session_close frees
 * the session itself. */
#ifndef GEVO_SESSIONS_SESSION_H
#define GEVO_SESSIONS_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/base/error.h"

typedef struct session session;

#define SESSION_ID_MAX         32
/* The highest generation number an id may have ("g1000000-1"): a
 * hand-made tag beyond it is not an individual, so no number from a tag
 * sizes anything. */
#define SESSION_GENERATION_MAX 1000000
/* The highest fidelity rung a result may have (core/rungs.h has at most
 * SESSION_RUNG_MAX + 1 rungs). */
#define SESSION_RUNG_MAX       7

typedef enum session_mode {
    SESSION_READ,         /* no lock; every writing call fails */
    SESSION_WRITE,        /* takes the lock or fails naming its holder */
    SESSION_WRITE_OR_READ /* takes the lock, else opens read-only */
} session_mode;

typedef struct session_create_opts {
    const char *seed_path;   /* the seed network (already validated) */
    const char *data_dir;    /* data set folder, recorded in gevo.json */
    const char *prompts_dir; /* *.txt copied to prompts/; NULL or missing: none */
    const char *preset;      /* NULL: "default" */
} session_create_opts;

/* Creates DIR (must not exist or be empty) as a session: the journal's
 * first commit, and the seed as individual g0-1. Opens it for writing. */
int session_create(session **out, const char *dir, const session_create_opts *o, gerr *err);
/* Opens an existing session; dir may be any folder inside it. */
int session_open(session **out, const char *dir, session_mode mode, gerr *err);
/* Releases the lock (if held) and frees everything. NULL is fine. */
void session_close(session *s);
bool session_is_writer(const session *s);
const char *session_workdir(const session *s);
/* The holder of the lock as "pid N on HOST", or "" when free. */
const char *session_lock_holder(const session *s);

/* Configuration (gevo.json in the working tree, snapshotted by every
 * journal commit). Keys are dotted: "data", "seed", "preset",
 * "llm.base_url", "llm.model", "llm.api_key_env". Values are strings;
 * get gives a number or true/false in gevo.json as its text ("eta": 3 is
 * "3"), and NULL when unset or a list or an object. Borrowed, valid until
 * the configuration changes. set refuses keys that would hold a secret
 * (any "*key*" key other than llm.api_key_env, or a value holding the
 * value of a key variable the settings name: llm.api_key_env and every
 * "models" entry's api_key_env). */
const char *session_config_get(session *s, const char *key);
/* The JSON value at key whatever its type (objects such as "personas",
 * arrays such as "models"), or NULL when unset. Borrowed: owned by the
 * session, valid until the configuration changes. */
struct json_t *session_config_node(session *s, const char *key);
/* Copies text with every API key's value replaced by "[redacted]"
 * (malloc'd; NULL text gives "", NULL only when out of memory): what a
 * server echoed never lands in the session, nor in a message. */
char *session_scrub(session *s, const char *text);
int session_config_set(session *s, const char *key, const char *value, gerr *err);

/* A new individual. Strings may be NULL (stored empty). The value of the
 * API-key variable named in the configuration is redacted from every text
 * before it is written. */
typedef struct session_new {
    int generation;
    const char *op; /* "seed", "mutation", "crossover", "eot", ... */
    const char *persona;
    const char *parents[2]; /* ids; a crossover has two */
    int n_parents;
    const char *model;        /* as configured */
    const char *served_model; /* what the server said it ran; NULL/"" = none */
    long tokens_in, tokens_out;
    double latency_s;
    double cost_usd;     /* the LLM's price of it, 0 offline */
    int requests;        /* LLM requests it took (1 + repairs), 0 offline */
    const char *summary; /* one line for the commit message */
    /* asked again for a failed proposal (gGEN-fN, meta.json "retry_of"),
     * with the researcher's steering note ("steering"); NULL: none */
    const char *retry_of, *steering;
    const char *genome, *reasoning, *prompt, *response;
    const char *error; /* session_add_failed: why it failed */
} session_new;

/* Writes the individual, sets id (at least SESSION_ID_MAX bytes). */
int session_add(session *s, const session_new *in, char *id, gerr *err);

/* Failed proposals: an LLM was asked, but the request failed or every
 * answer was unusable. Recorded (they cost tokens and say which arm
 * fails), but not as individuals: a commit under refs/failed/ID, ID
 * "gGEN-fN" (N counting from 1 per generation), whose parents are the
 * genetic parents' commits and whose tree holds meta.json (an
 * individual's fields, "status": "failed", "error"),
 * prompt.txt, response.txt, reasoning.md and genome.net when the last
 * answer gave a program. in->genome may be NULL; in->error is required. */
int session_add_failed(session *s, const session_new *in, char *id, gerr *err);

typedef struct session_failed_info {
    char id[SESSION_ID_MAX]; /* "g2-f1" */
    int generation, number;
    char op[32], persona[48], model[256];
    char parents[2][SESSION_ID_MAX];
    int n_parents;
    long tokens_in, tokens_out;
    double latency_s, cost_usd;
    int attempts; /* LLM requests (meta.json "requests") */
    char error[512];
    char retry_of[SESSION_ID_MAX]; /* the failed proposal it asked again for, "" */
    char steering[512];            /* the note it was asked again with, "" */
} session_failed_info;

/* Every failed proposal (generation < 0) or those of one generation,
 * sorted by generation then number. *out is malloc'd. */
int session_failed_list(session *s, int generation, session_failed_info **out, size_t *n,
                        gerr *err);
/* Whether id is spelled as a failed proposal's ("g2-f3"), and its numbers. */
int session_valid_failed_id(const char *id, int *gen, int *num);
/* The researcher's edit of id's genome: a commit on top of the current
 * one, authored by git's user.name/user.email, else $USER. */
int session_edit(session *s, const char *id, const char *genome, const char *message, gerr *err);

/* A result of gevo train, stored verbatim after validation. */
int session_set_result(session *s, const char *id, const char *json, gerr *err);

/* An annotation is about line `line` of the individual's genome, or (a
 * removed line) line `old_line` of its first parent's genome; neither (both
 * 0): about the whole genome. At most one of them is set. */
typedef struct session_annotation {
    int line;
    const char *text;
    int old_line;
} session_annotation;

typedef struct session_review {
    const char *decision; /* "approved", "approved_edited", "rejected" */
    const char *reason;
    const session_annotation *annotations;
    int n_annotations;
    const char *author; /* NULL: the researcher's identity */
} session_review;

int session_set_review(session *s, const char *id, const session_review *r, gerr *err);
/* The note text (malloc'd) or NULL in *out when there is none. */
int session_get_result(session *s, const char *id, char **out, gerr *err);
int session_get_review(session *s, const char *id, char **out, gerr *err);

/* The other notes gevo keeps on an individual, under refs/notes/NAME (a
 * JSON object each, see gevo-session(5)): "confirm", the runs of gevo
 * confirm; "noise", on the seed, the runs that measure the session's
 * noise. Any other name is refused. get: the text (malloc'd), or NULL in
 * *out when there is none. */
int session_set_note(session *s, const char *name, const char *id, const char *json, gerr *err);
int session_get_note(session *s, const char *name, const char *id, char **out, gerr *err);

/* Resolves an id ("g2-7") or a commit-hash prefix (>= 4 hex digits) to the
 * individual's id. */
int session_resolve(session *s, const char *spec, char *id, gerr *err);

/* One individual as listed. */
typedef struct session_info {
    char id[SESSION_ID_MAX];
    char commit[41]; /* current commit (an edit, if edited) */
    int generation, number;
    char op[32], persona[48], model[64];
    char parents[2][SESSION_ID_MAX];
    int n_parents;
    long tokens_in, tokens_out;
    double latency_s;
    double cost_usd; /* meta.json's; 0 when not recorded */
    int requests;    /* LLM requests; sessions without the field: 1 per LLM proposal */
    bool edited;
    /* From the result note; status is "pending" without one. */
    char status[16];
    double val_acc;                /* -1 when unknown */
    long params;                   /* -1 when unknown */
    double flops, seconds;         /* -1 when unknown */
    int rung;                      /* the result's fidelity rung (0: screening) */
    char decision[24];             /* review decision, "" without a review */
    char retry_of[SESSION_ID_MAX]; /* meta.json "retry_of", "" when none */
    char steering[512];            /* meta.json "steering", "" when none */
} session_info;

/* Every individual (generation < 0) or those born in one generation,
 * sorted by generation then number. *out is malloc'd. */
int session_list(session *s, int generation, session_info **out, size_t *n, gerr *err);
/* One individual. */
int session_info_get(session *s, const char *id, session_info *out, gerr *err);
/* The genome text of id's current commit (malloc'd). */
int session_genome(session *s, const char *id, char **out, gerr *err);
/* A file of id's tree ("reasoning.md", "prompt.txt", ...), malloc'd. */
int session_file(session *s, const char *id, const char *name, char **out, gerr *err);
/* Ancestors of id, breadth first, id itself first; *ids is n ids of
 * SESSION_ID_MAX bytes each, malloc'd. */
int session_lineage(session *s, const char *id, char (**ids)[SESSION_ID_MAX], size_t *n, gerr *err);
/* Unified diff (libgit2) of the trees of a and b; a may be NULL for id b's
 * first parent (empty for the seed). genome_only limits it to genome.net. */
int session_diff(session *s, const char *a, const char *b, bool genome_only, char **patch,
                 gerr *err);
/* The researcher's edit of id as a diff (proposal -> current), "" if none. */
int session_edit_diff(session *s, const char *id, char **patch, gerr *err);

/* A failed proposal's file ("prompt.txt", "response.txt", "reasoning.md",
 * "meta.json", "genome.net"), malloc'd; id is "gGEN-fN". */
int session_failed_file(session *s, const char *id, const char *name, char **out, gerr *err);

/* The LLM usage of the whole session, whichever process spent it: the
 * sum over every individual's meta.json and every failed proposal's. */
typedef struct session_totals {
    long tokens_in, tokens_out;
    double cost_usd;
    long requests;
    size_t proposals, failed; /* individuals other than the seed; failed proposals */
} session_totals;
int session_totals_get(session *s, session_totals *out, gerr *err);

/* Journal. front and population are ids. */
int session_journal_add(session *s, int generation, const char *const *population,
                        size_t n_population, const char *const *front, size_t n_front, gerr *err);

typedef struct session_journal_entry {
    char commit[41];
    int generation;
    const char *population_json; /* {"generation":N,"population":[{id,commit}...]} */
    const char *front_json;      /* {"generation":N,"front":[ids]} */
    const char *config_json;     /* gevo.json as of that generation */
} session_journal_entry;

/* Calls fn for every journal commit, oldest first; a non-zero return from
 * fn stops the walk and is returned (err is then fn's business: it is
 * left as it was). */
int session_journal_foreach(session *s, int (*fn)(const session_journal_entry *e, void *arg),
                            void *arg, gerr *err);
/* The ids of the population recorded for generation (latest record). */
int session_journal_population(session *s, int generation, char (**ids)[SESSION_ID_MAX], size_t *n,
                               gerr *err);
/* Highest generation with an individual (0 for a new session), or -1. */
int session_last_generation(session *s, gerr *err);

#endif
