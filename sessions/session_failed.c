/* session: failed proposals (session_add_failed writes them with the
 * individuals' code in session_ind.c; this file reads them), and the
 * session's LLM totals, which count them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "sessions/session_int.h"

int session_valid_failed_id(const char *id, int *gen, int *num)
{
    const char *f = id ? strstr(id, "-f") : NULL;
    if (!f || f[2] < '1' || f[2] > '9' || (size_t)(f - id) >= SESSION_ID_MAX - 8)
        return 0;
    /* "gG-fN" is a failed proposal where "gG-N" would be an individual */
    char as_ind[SESSION_ID_MAX];
    snprintf(as_ind, sizeof as_ind, "%.*s-%s", (int)(f - id), id, f + 2);
    return session_valid_id(as_ind, gen, num);
}

static int read_failed(session *s, const char *id, const git_oid *oid, session_failed_info *out,
                       gerr *err)
{
    git_commit *c = NULL;
    if (session_git(git_commit_lookup(&c, s->repo, oid), err, "failed proposal %s", id) != 0)
        return -1;
    char *text = NULL;
    size_t len = 0;
    int rc = session_read_path(s, c, "meta.json", &text, &len, err);
    git_commit_free(c);
    if (rc != 0)
        return -1;
    json_error_t je;
    json_t *m = json_loadb(text, len, 0, &je);
    free(text);
    if (!json_is_object(m)) {
        json_decref(m);
        return gerr_set(err, "failed proposal %s: meta.json: %s", id, je.text);
    }
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", id);
    session_valid_failed_id(id, &out->generation, &out->number);
    session_copy_str(out->op, sizeof out->op, json_object_get(m, "operator"));
    session_copy_str(out->persona, sizeof out->persona, json_object_get(m, "persona"));
    session_copy_str(out->model, sizeof out->model, json_object_get(m, "model"));
    session_copy_str(out->error, sizeof out->error, json_object_get(m, "error"));
    json_t *par = json_object_get(m, "parents"), *v;
    size_t i;
    json_array_foreach(par, i, v)
    {
        if (out->n_parents < 2)
            session_copy_str(out->parents[out->n_parents++], SESSION_ID_MAX, v);
    }
    json_t *tok = json_object_get(m, "tokens");
    out->tokens_in = (long)json_integer_value(json_object_get(tok, "in"));
    out->tokens_out = (long)json_integer_value(json_object_get(tok, "out"));
    out->latency_s = json_number_value(json_object_get(m, "latency_s"));
    out->cost_usd = json_number_value(json_object_get(m, "cost_usd"));
    out->attempts = (int)json_integer_value(json_object_get(m, "requests"));
    session_copy_str(out->retry_of, sizeof out->retry_of, json_object_get(m, "retry_of"));
    session_copy_str(out->steering, sizeof out->steering, json_object_get(m, "steering"));
    json_decref(m);
    return 0;
}

int session_failed_list(session *s, int generation, session_failed_info **out, size_t *n, gerr *err)
{
    *out = NULL;
    *n = 0;
    git_reference_iterator *it = NULL;
    if (session_git(git_reference_iterator_glob_new(&it, s->repo, SESSION_FAILED_PREFIX "g*"), err,
                    "listing failed proposals") != 0)
        return -1;
    size_t alloc = 0, skip = strlen(SESSION_FAILED_PREFIX);
    git_reference *r;
    int rc = 0;
    while (rc == 0 && git_reference_next(&r, it) == 0) {
        const char *id = git_reference_name(r) + skip;
        int g;
        const git_oid *oid = git_reference_target(r);
        if (oid && session_valid_failed_id(id, &g, NULL) && (generation < 0 || g == generation)) {
            if (ALLOC_GROW(*out, *n + 1, alloc))
                rc = gerr_set(err, "out of memory");
            else if ((rc = read_failed(s, id, oid, &(*out)[*n], err)) == 0)
                (*n)++;
        }
        git_reference_free(r);
    }
    git_reference_iterator_free(it);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    if (*n)
        qsort(*out, *n, sizeof **out, session_id_cmp);
    return 0;
}

int session_failed_file(session *s, const char *id, const char *name, char **out, gerr *err)
{
    *out = NULL;
    if (!session_valid_failed_id(id, NULL, NULL))
        return gerr_set(err, "'%s' is not a failed proposal's id (gGEN-fN)", id);
    char ref[64 + SESSION_ID_MAX];
    snprintf(ref, sizeof ref, SESSION_FAILED_PREFIX "%s", id);
    git_oid oid;
    int lr = git_reference_name_to_id(&oid, s->repo, ref);
    if (lr == GIT_ENOTFOUND)
        return gerr_set(err, "no failed proposal %s in this session", id);
    git_commit *c = NULL;
    if (session_git(lr, err, "failed proposal %s", id) ||
        session_git(git_commit_lookup(&c, s->repo, &oid), err, "failed proposal %s", id))
        return -1;
    size_t len;
    int rc = session_read_path(s, c, name, out, &len, err);
    git_commit_free(c);
    return rc;
}

/* What one proposal spent, into the totals. */
static void totals_add(session_totals *t, long tokens_in, long tokens_out, double cost_usd,
                       int requests)
{
    t->tokens_in += tokens_in;
    t->tokens_out += tokens_out;
    t->cost_usd += cost_usd;
    t->requests += requests;
}

int session_totals_get(session *s, session_totals *out, gerr *err)
{
    memset(out, 0, sizeof *out);
    session_info *v = NULL;
    size_t n = 0;
    if (session_list(s, -1, &v, &n, err))
        return -1;
    for (size_t i = 0; i < n; i++) {
        totals_add(out, v[i].tokens_in, v[i].tokens_out, v[i].cost_usd, v[i].requests);
        out->proposals += strcmp(v[i].op, "seed") != 0;
    }
    free(v);
    session_failed_info *f = NULL;
    if (session_failed_list(s, -1, &f, &n, err))
        return -1;
    for (size_t i = 0; i < n; i++) {
        totals_add(out, f[i].tokens_in, f[i].tokens_out, f[i].cost_usd, f[i].attempts);
        out->failed++;
    }
    free(f);
    return 0;
}
