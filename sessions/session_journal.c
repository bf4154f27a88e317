/* session: the journal branch, one commit per generation. Its tree is also
 * the working tree (HEAD is the journal), so a researcher who cd's into the
 * session sees the configuration, the prompts and the latest population. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "sessions/session_int.h"

static int index_add(git_index *idx, const char *path, gerr *err)
{
    return session_git(git_index_add_bypath(idx, path), err, "journal: %s", path);
}

int session_journal_add(session *s, int generation, const char *const *population,
                        size_t n_population, const char *const *front, size_t n_front, gerr *err)
{
    if (session_require_writer(s, err) != 0)
        return -1;
    if (generation < 0)
        return gerr_set(err, "journal: the generation must be >= 0");
    json_t *pop = json_array(), *fr = json_array();
    int rc = 0;
    for (size_t i = 0; i < n_population && rc == 0; i++) {
        git_commit *c = NULL;
        if (session_commit_of(s, population[i], &c, err) != 0) {
            rc = -1;
            break;
        }
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, git_commit_id(c));
        json_array_append_new(pop, json_pack("{s:s, s:s}", "id", population[i], "commit", hex));
        git_commit_free(c);
    }
    for (size_t i = 0; i < n_front && rc == 0; i++) {
        if (!session_valid_id(front[i], NULL, NULL))
            rc = gerr_set(err, "journal: '%s' in the front is not an individual id", front[i]);
        else
            json_array_append_new(fr, json_string(front[i]));
    }
    json_t *pj = json_pack("{s:i, s:o}", "generation", generation, "population", pop);
    json_t *fj = json_pack("{s:i, s:o}", "generation", generation, "front", fr);
    git_index *idx = NULL;
    git_reference *head = NULL, *nr = NULL;
    git_commit *parent = NULL;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_oid tree_id, commit_id;
    if (rc == 0)
        rc = session_config_save(s, err);
    if (rc == 0)
        rc =
            session_write_json(s, "population.json", pj, JSON_INDENT(2) | JSON_PRESERVE_ORDER, err);
    if (rc == 0)
        rc = session_write_json(s, "front.json", fj, JSON_INDENT(2) | JSON_PRESERVE_ORDER, err);
    if (rc == 0)
        rc = session_git(git_repository_index(&idx, s->repo), err, "journal: the index");
    if (rc == 0)
        rc = session_git(git_index_read(idx, 1), err, "journal: the index");
    if (rc == 0)
        rc = index_add(idx, SESSION_CONFIG, err) || index_add(idx, "population.json", err) ||
                     index_add(idx, "front.json", err)
                 ? -1
                 : 0;
    if (rc == 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%sprompts", s->workdir);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && rc == 0 && (e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (n > 4 && !strcmp(e->d_name + n - 4, ".txt") && e->d_name[0] != '.') {
                char rel[PATH_MAX];
                snprintf(rel, sizeof rel, "prompts/%s", e->d_name);
                rc = index_add(idx, rel, err);
            }
        }
        if (d)
            closedir(d);
    }
    /* The blobs exist (add_bypath wrote them) before the tree, the tree
     * before the commit, the commit before the branch moves. */
    if (rc == 0)
        rc = session_git(git_index_write_tree(&tree_id, idx), err, "journal: writing the tree");
    if (rc == 0)
        rc = session_git(git_index_write(idx), err, "journal: writing the index");
    if (rc == 0)
        rc = session_git(git_tree_lookup(&tree, s->repo, &tree_id), err, "journal: the tree");
    if (rc == 0 && git_reference_lookup(&head, s->repo, SESSION_REF_JOURNAL) == 0)
        rc = session_git(git_commit_lookup(&parent, s->repo, git_reference_target(head)), err,
                         "journal: reading the branch");
    if (rc == 0)
        rc = session_gevo_signature(&sig, err);
    if (rc == 0) {
        char msg[512];
        int o = snprintf(msg, sizeof msg, "generation %d: %zu individual%s, front:", generation,
                         n_population, n_population == 1 ? "" : "s");
        for (size_t i = 0; i < n_front && o < 400; i++)
            o += snprintf(msg + o, sizeof msg - (size_t)o, " %s", front[i]);
        if (n_front == 0)
            o += snprintf(msg + o, sizeof msg - (size_t)o, " (empty)");
        snprintf(msg + o, sizeof msg - (size_t)o, "\n");
        const git_commit *par[1] = {parent};
        rc = session_git(git_commit_create(&commit_id, s->repo, NULL, sig, sig, NULL, msg, tree,
                                           parent ? 1 : 0, par),
                         err, "journal: writing the commit");
    }
    if (rc == 0) {
        char log[64];
        snprintf(log, sizeof log, "gevo: generation %d", generation);
        int ur = parent
                     ? git_reference_create_matching(&nr, s->repo, SESSION_REF_JOURNAL, &commit_id,
                                                     1, git_commit_id(parent), log)
                     : git_reference_create(&nr, s->repo, SESSION_REF_JOURNAL, &commit_id, 0, log);
        rc = session_git(ur, err, "journal: moving the branch");
    }
    /* Pack the individuals' tags so that listing reads one file; safe at
     * any kill (packed-refs is replaced by rename, loose refs go after). */
    git_refdb *db = NULL;
    if (rc == 0 && git_repository_refdb(&db, s->repo) == 0) {
        rc = session_git(git_refdb_compress(db), err, "journal: packing refs");
        git_refdb_free(db);
    }
    git_reference_free(nr);
    git_reference_free(head);
    git_commit_free(parent);
    git_tree_free(tree);
    git_signature_free(sig);
    git_index_free(idx);
    json_decref(pj);
    json_decref(fj);
    return rc;
}

static char *tree_text(session *s, git_tree *t, const char *name)
{
    const git_tree_entry *e = git_tree_entry_byname(t, name);
    git_blob *b = NULL;
    if (!e || git_blob_lookup(&b, s->repo, git_tree_entry_id(e)) != 0)
        return strdup("");
    char *out = session_blob_text(b, NULL);
    git_blob_free(b);
    return out;
}

int session_journal_foreach(session *s, int (*fn)(const session_journal_entry *e, void *arg),
                            void *arg, gerr *err)
{
    git_reference *r = NULL;
    if (session_git(git_reference_lookup(&r, s->repo, SESSION_REF_JOURNAL), err, "journal"))
        return -1;
    git_oid *ids = NULL;
    size_t n = 0, alloc = 0;
    git_commit *c = NULL;
    int rc = session_git(git_commit_lookup(&c, s->repo, git_reference_target(r)), err, "journal");
    git_reference_free(r);
    while (rc == 0 && c) {
        if (ALLOC_GROW(ids, n + 1, alloc) != 0) {
            rc = gerr_set(err, "journal: out of memory");
            break;
        }
        ids[n++] = *git_commit_id(c);
        git_commit *p = NULL;
        if (git_commit_parentcount(c) > 0)
            rc = session_git(git_commit_parent(&p, c, 0), err, "journal: a missing parent");
        git_commit_free(c);
        c = p;
    }
    git_commit_free(c);
    for (size_t i = n; rc == 0 && i-- > 0;) {
        git_commit *jc = NULL;
        git_tree *t = NULL;
        if (session_git(git_commit_lookup(&jc, s->repo, &ids[i]), err, "journal") ||
            session_git(git_commit_tree(&t, jc), err, "journal")) {
            git_commit_free(jc);
            rc = -1;
            break;
        }
        session_journal_entry e;
        memset(&e, 0, sizeof e);
        git_oid_tostr(e.commit, sizeof e.commit, &ids[i]);
        char *pop = tree_text(s, t, "population.json");
        char *fr = tree_text(s, t, "front.json");
        char *cfg = tree_text(s, t, SESSION_CONFIG);
        json_t *pj = pop ? json_loads(pop, 0, NULL) : NULL;
        e.generation = pj ? (int)json_integer_value(json_object_get(pj, "generation")) : -1;
        json_decref(pj);
        e.population_json = pop ? pop : "";
        e.front_json = fr ? fr : "";
        e.config_json = cfg ? cfg : "";
        rc = fn(&e, arg);
        free(pop);
        free(fr);
        free(cfg);
        git_tree_free(t);
        git_commit_free(jc);
    }
    free(ids);
    return rc;
}

typedef struct pop_query {
    int generation;
    char *found;
} pop_query;

static int pop_cb(const session_journal_entry *e, void *arg)
{
    pop_query *q = arg;
    if (e->generation == q->generation) {
        free(q->found);
        q->found = strdup(e->population_json);
    }
    return 0;
}

int session_journal_population(session *s, int generation, char (**ids)[SESSION_ID_MAX], size_t *n,
                               gerr *err)
{
    *ids = NULL;
    *n = 0;
    pop_query q = {generation, NULL};
    if (session_journal_foreach(s, pop_cb, &q, err) != 0) {
        free(q.found);
        return -1;
    }
    if (!q.found)
        return gerr_set(err, "the journal has no record of generation %d", generation);
    json_t *j = json_loads(q.found, 0, NULL);
    free(q.found);
    json_t *pop = json_object_get(j, "population");
    size_t cnt = json_array_size(pop);
    char(*v)[SESSION_ID_MAX] = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v) {
        json_decref(j);
        return gerr_set(err, "out of memory");
    }
    for (size_t i = 0; i < cnt; i++)
        snprintf(v[i], SESSION_ID_MAX, "%s",
                 json_is_string(json_object_get(json_array_get(pop, i), "id"))
                     ? json_string_value(json_object_get(json_array_get(pop, i), "id"))
                     : "");
    json_decref(j);
    *ids = v;
    *n = cnt;
    return 0;
}
