/* session: individuals (commits and their tags), edits, notes, queries. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/grow.h"
#include "engine/base/strbuf.h"
#include "sessions/session_int.h"

static int note_copy(session *s, const char *notes_ref, const git_oid *from, const git_oid *to,
                     gerr *err);

/* ---- generation numbers ---------------------------------------------- */

/* Notes that gen has individual num: its next free number is past it. */
static int numbers_note(session *s, int gen, int num, gerr *err)
{
    if (gen < 0 || gen > SESSION_GENERATION_MAX)
        return gerr_set(err, "generation %d is beyond the last one a session can have (%d)", gen,
                        SESSION_GENERATION_MAX);
    size_t i = 0;
    while (i < s->n_numbers && s->numbers[i].gen != gen)
        i++;
    if (i == s->n_numbers) {
        if (ALLOC_GROW(s->numbers, s->n_numbers + 1, s->alloc_numbers))
            return gerr_set(err, "out of memory");
        s->numbers[s->n_numbers++] = (struct session_number){gen, 1};
    }
    if (num >= s->numbers[i].next)
        s->numbers[i].next = num + 1;
    return 0;
}

static int next_number(const session *s, int gen)
{
    for (size_t i = 0; i < s->n_numbers; i++)
        if (s->numbers[i].gen == gen)
            return s->numbers[i].next;
    return 1;
}

static int numbers_load(session *s, gerr *err)
{
    if (s->numbers_loaded)
        return 0;
    git_reference_iterator *it = NULL;
    if (session_git(git_reference_iterator_glob_new(&it, s->repo, SESSION_TAG_PREFIX "g*"), err,
                    "listing individuals") != 0)
        return -1;
    const char *name;
    int rc = 0;
    while (rc == 0 && git_reference_next_name(&name, it) == 0) {
        int g, n;
        if (session_valid_id(name + strlen(SESSION_TAG_PREFIX), &g, &n))
            rc = numbers_note(s, g, n, err);
    }
    git_reference_iterator_free(it);
    if (rc == 0)
        s->numbers_loaded = true;
    return rc;
}

int session_last_generation(session *s, gerr *err)
{
    if (numbers_load(s, err) != 0)
        return -1;
    int last = 0;
    for (size_t i = 0; i < s->n_numbers; i++)
        if (s->numbers[i].next > 1 && s->numbers[i].gen > last)
            last = s->numbers[i].gen;
    return last;
}

/* ---- reading ------------------------------------------------------------ */

int session_commit_of(session *s, const char *id, git_commit **out, gerr *err)
{
    char ref[64 + SESSION_ID_MAX];
    if (!session_valid_id(id, NULL, NULL))
        return gerr_set(err, "'%s' is not an individual id (ids look like g2-7)", id ? id : "");
    snprintf(ref, sizeof ref, SESSION_TAG_PREFIX "%s", id);
    git_object *o = NULL;
    git_reference *r = NULL;
    if (git_reference_lookup(&r, s->repo, ref) != 0)
        return gerr_set(err, "no individual %s in this session ('gevo log' lists them)", id);
    int rc = git_reference_peel(&o, r, GIT_OBJECT_COMMIT);
    git_reference_free(r);
    if (session_git(rc, err, "%s", id) != 0)
        return -1;
    *out = (git_commit *)o;
    return 0;
}

char *session_blob_text(const git_blob *b, size_t *len)
{
    size_t n = (size_t)git_blob_rawsize(b);
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    memcpy(t, git_blob_rawcontent(b), n);
    t[n] = 0;
    if (len)
        *len = n;
    return t;
}

int session_read_path(session *s, const git_commit *c, const char *path, char **out, size_t *len,
                      gerr *err)
{
    git_tree *tree = NULL;
    git_tree_entry *e = NULL;
    git_blob *b = NULL;
    *out = NULL;
    int rc = -1;
    if (session_git(git_commit_tree(&tree, c), err, "reading a commit's tree") != 0)
        return -1;
    if (git_tree_entry_bypath(&e, tree, path) != 0) {
        rc = gerr_set(err, "%s: no such file in commit %.12s", path,
                      git_oid_tostr_s(git_commit_id(c)));
    } else if (session_git(git_blob_lookup(&b, s->repo, git_tree_entry_id(e)), err, "%s", path) !=
               0) {
        rc = -1;
    } else {
        *out = session_blob_text(b, len);
        rc = *out ? 0 : gerr_set(err, "%s: out of memory", path);
    }
    git_blob_free(b);
    git_tree_entry_free(e);
    git_tree_free(tree);
    return rc;
}

static json_t *read_meta(session *s, const git_commit *c, gerr *err)
{
    char *text = NULL;
    size_t len = 0;
    if (session_read_path(s, c, "meta.json", &text, &len, err) != 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    free(text);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        gerr_set(err, "meta.json of commit %.12s: %s", git_oid_tostr_s(git_commit_id(c)), je.text);
        return NULL;
    }
    return j;
}

/* ---- writing ------------------------------------------------------------ */

int session_blob_insert(session *s, git_treebuilder *tb, const char *name, const char *text,
                        gerr *err)
{
    char *clean = session_scrub(s, text);
    if (!clean)
        return gerr_set(err, "%s: out of memory", name);
    git_oid id;
    int rc = git_blob_create_from_buffer(&id, s->repo, clean, strlen(clean));
    free(clean);
    if (rc == 0)
        rc = git_treebuilder_insert(NULL, tb, name, &id, GIT_FILEMODE_BLOB);
    return session_git(rc, err, "%s", name);
}

int session_json_insert(session *s, git_treebuilder *tb, const char *name, json_t *j, gerr *err)
{
    char *text = session_json_text(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER, name, err);
    if (!text)
        return -1;
    int rc = session_blob_insert(s, tb, name, text, err);
    free(text);
    return rc;
}

void session_iso_now(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The first line of text, at most max bytes, without control characters. */
void session_one_line(char *out, size_t size, const char *text)
{
    size_t o = 0;
    for (const char *p = text ? text : ""; *p && *p != '\n' && o + 1 < size; p++)
        out[o++] = (unsigned char)*p < 0x20 ? ' ' : *p;
    out[o] = 0;
}

/* The next free number of generation gen's failed proposals. */
static int next_failed_number(session *s, int gen, int *num, gerr *err)
{
    git_reference_iterator *it = NULL;
    char glob[64];
    snprintf(glob, sizeof glob, SESSION_FAILED_PREFIX "g%d-f*", gen);
    if (session_git(git_reference_iterator_glob_new(&it, s->repo, glob), err,
                    "listing failed proposals") != 0)
        return -1;
    const char *name;
    *num = 1;
    size_t skip = strlen(SESSION_FAILED_PREFIX);
    while (git_reference_next_name(&name, it) == 0) {
        int g, n;
        if (session_valid_failed_id(name + skip, &g, &n) && g == gen && n >= *num)
            *num = n + 1;
    }
    git_reference_iterator_free(it);
    return 0;
}

/* An individual (failed false: its tag, genome required) or a failed
 * proposal (under refs/failed/, with its error). */
static int add_record(session *s, const session_new *in, bool failed, char *id, gerr *err)
{
    if (session_require_writer(s, err) != 0)
        return -1;
    if (in->n_parents < 0 || in->n_parents > 2)
        return gerr_set(err, "add: an individual has 0, 1 or 2 parents, not %d", in->n_parents);
    if (!in->op || !in->op[0])
        return gerr_set(err, "add: the operator is missing");
    if (!failed && (!in->genome || !in->genome[0]))
        return gerr_set(err, "add: the genome is empty");
    if (failed && (!in->error || !in->error[0]))
        return gerr_set(err, "add: a failed proposal needs its error");
    if (numbers_load(s, err) != 0)
        return -1;
    if (numbers_note(s, in->generation, 0, err) != 0)
        return -1;

    git_commit *parents[2] = {NULL, NULL};
    git_treebuilder *tb = NULL;
    git_signature *sig = NULL;
    json_t *meta = NULL;
    strbuf msg = STRBUF_INIT;
    int rc = -1;
    for (int i = 0; i < in->n_parents; i++) {
        if (session_commit_of(s, in->parents[i], &parents[i], err) != 0)
            goto done;
        int pg;
        session_valid_id(in->parents[i], &pg, NULL);
        if (pg > in->generation) {
            gerr_set(err, "add: parent %s is from a later generation than %d", in->parents[i],
                     in->generation);
            goto done;
        }
    }
    int num = next_number(s, in->generation);
    if (failed && next_failed_number(s, in->generation, &num, err))
        goto done;
    snprintf(id, SESSION_ID_MAX, failed ? "g%d-f%d" : "g%d-%d", in->generation, num);

    char when[32];
    session_iso_now(when, sizeof when);
    json_t *par = json_array();
    for (int i = 0; i < in->n_parents; i++)
        json_array_append_new(par, json_string(in->parents[i]));
    char *persona = session_scrub(s, in->persona), *model = session_scrub(s, in->model);
    meta = json_pack("{s:s, s:i, s:i, s:s, s:s, s:o, s:s, s:{s:I, s:I}, s:f, s:f, s:i, s:s, s:i}",
                     "id", id, "generation", in->generation, "number", num, "operator", in->op,
                     "persona", persona ? persona : "", "parents", par, "model", model ? model : "",
                     "tokens", "in", (json_int_t)in->tokens_in, "out", (json_int_t)in->tokens_out,
                     "latency_s", in->latency_s, "cost_usd", in->cost_usd, "requests", in->requests,
                     "created", when, "edits", 0);
    free(persona);
    free(model);
    if (meta && in->served_model && in->served_model[0]) {
        char *served = session_scrub(s, in->served_model);
        json_object_set_new(meta, "served_model", json_string(served ? served : ""));
        free(served);
    }
    if (meta && in->retry_of && in->retry_of[0])
        json_object_set_new(meta, "retry_of", json_string(in->retry_of));
    if (meta && in->steering && in->steering[0]) {
        char *steering = session_scrub(s, in->steering);
        json_object_set_new(meta, "steering", json_string(steering ? steering : ""));
        free(steering);
    }
    if (meta && failed) {
        char *error = session_scrub(s, in->error);
        json_object_set_new(meta, "status", json_string("failed"));
        json_object_set_new(meta, "error", json_string(error ? error : ""));
        free(error);
    }
    if (!meta) {
        gerr_set(err, "add: cannot build meta.json (is every text valid UTF-8?)");
        goto done;
    }
    if (session_git(git_treebuilder_new(&tb, s->repo, NULL), err, "add") != 0)
        goto done;
    if ((in->genome && in->genome[0] &&
         session_blob_insert(s, tb, SESSION_GENOME, in->genome, err)) ||
        session_json_insert(s, tb, "meta.json", meta, err) ||
        session_blob_insert(s, tb, "reasoning.md", in->reasoning, err) ||
        session_blob_insert(s, tb, "prompt.txt", in->prompt, err) ||
        session_blob_insert(s, tb, "response.txt", in->response, err))
        goto done;
    git_oid tree_id, commit_id;
    git_tree *tree = NULL;
    if (session_git(git_treebuilder_write(&tree_id, tb), err, "add: writing the tree") ||
        session_git(git_tree_lookup(&tree, s->repo, &tree_id), err, "add: writing the tree"))
        goto done;
    char summary[120], line[400];
    session_one_line(summary, sizeof summary, in->summary);
    const char *persona_s = in->persona && in->persona[0] ? in->persona : "-";
    if (failed)
        session_one_line(summary, sizeof summary, in->error);
    snprintf(line, sizeof line, "%s gen %d %s (%s)%s: %s", id, in->generation, in->op, persona_s,
             failed ? " failed" : "", summary[0] ? summary : "(no summary)");
    strbuf_addf(&msg, "%s\n\ngeneration: %d\noperator: %s\npersona: %s\n", line, in->generation,
                in->op, persona_s);
    if (in->n_parents)
        strbuf_addf(&msg, "parents: %s%s%s\n", in->parents[0], in->n_parents > 1 ? " " : "",
                    in->n_parents > 1 ? in->parents[1] : "");
    if (in->retry_of && in->retry_of[0])
        strbuf_addf(&msg, "asked again for: %s\n", in->retry_of);
    if (in->model && in->model[0])
        strbuf_addf(&msg, "model: %s\ntokens: %ld in, %ld out\nlatency: %.2f s\n", in->model,
                    in->tokens_in, in->tokens_out, in->latency_s);
    char *clean_msg = msg.failed ? NULL : session_scrub(s, msg.buf);
    if (!clean_msg || session_gevo_signature(&sig, err) != 0) {
        if (!clean_msg)
            gerr_set(err, "add: out of memory");
        free(clean_msg);
        git_tree_free(tree);
        goto done;
    }
    int cr = git_commit_create(&commit_id, s->repo, NULL, sig, sig, NULL, clean_msg, tree,
                               (size_t)in->n_parents, (const git_commit **)parents);
    free(clean_msg);
    git_tree_free(tree);
    if (session_git(cr, err, "add: writing the commit") != 0)
        goto done;
    /* The commit and everything in it exist before the tag names it. */
    char ref[64 + SESSION_ID_MAX], log[96];
    snprintf(ref, sizeof ref, "%s%s", failed ? SESSION_FAILED_PREFIX : SESSION_TAG_PREFIX, id);
    snprintf(log, sizeof log, "gevo: add %s", id);
    git_reference *r = NULL;
    if (session_git(git_reference_create(&r, s->repo, ref, &commit_id, 0, log), err, "%s", ref))
        goto done;
    git_reference_free(r);
    if (!failed)
        numbers_note(s, in->generation, num, NULL); /* its slot exists: cannot fail */
    rc = 0;
done:
    strbuf_release(&msg);
    json_decref(meta);
    git_signature_free(sig);
    git_treebuilder_free(tb);
    git_commit_free(parents[0]);
    git_commit_free(parents[1]);
    return rc;
}

int session_add(session *s, const session_new *in, char *id, gerr *err)
{
    return add_record(s, in, false, id, err);
}

int session_add_failed(session *s, const session_new *in, char *id, gerr *err)
{
    return add_record(s, in, true, id, err);
}

int session_edit(session *s, const char *id, const char *genome, const char *message, gerr *err)
{
    if (session_require_writer(s, err) != 0)
        return -1;
    if (!genome || !genome[0])
        return gerr_set(err, "edit: the edited genome is empty");
    git_commit *cur = NULL;
    git_tree *tree = NULL, *new_tree = NULL;
    git_treebuilder *tb = NULL;
    git_signature *who = NULL;
    json_t *meta = NULL;
    strbuf text = STRBUF_INIT;
    int rc = -1;
    if (session_commit_of(s, id, &cur, err) != 0 || !(meta = read_meta(s, cur, err)))
        goto done;
    if (session_git(git_commit_tree(&tree, cur), err, "edit") ||
        session_git(git_treebuilder_new(&tb, s->repo, tree), err, "edit") ||
        session_researcher(s, &who, err) != 0)
        goto done;
    json_int_t edits = json_integer_value(json_object_get(meta, "edits"));
    json_object_set_new(meta, "edits", json_integer(edits + 1));
    json_object_set_new(meta, "edited_by", json_string(who->name));
    if (session_blob_insert(s, tb, SESSION_GENOME, genome, err) ||
        session_json_insert(s, tb, "meta.json", meta, err))
        goto done;
    git_oid tree_id, commit_id;
    if (session_git(git_treebuilder_write(&tree_id, tb), err, "edit: writing the tree") ||
        session_git(git_tree_lookup(&new_tree, s->repo, &tree_id), err, "edit: writing the tree"))
        goto done;
    char first[200];
    session_one_line(first, sizeof first, message);
    strbuf_addf(&text, "%s edited by %s%s%s\n", id, who->name, first[0] ? ": " : "", first);
    if (message && strchr(message, '\n'))
        strbuf_addf(&text, "\n%s\n", strchr(message, '\n') + 1);
    char *clean = text.failed ? NULL : session_scrub(s, text.buf);
    if (!clean) {
        gerr_set(err, "edit: out of memory");
        goto done;
    }
    const git_commit *par[1] = {cur};
    int cr = git_commit_create(&commit_id, s->repo, NULL, who, who, NULL, clean, new_tree, 1, par);
    free(clean);
    if (session_git(cr, err, "edit: writing the commit") != 0)
        goto done;
    /* The notes follow the individual to its new commit (before the tag
     * moves: until then nothing names that commit). */
    if (note_copy(s, SESSION_REF_RESULTS, git_commit_id(cur), &commit_id, err) != 0 ||
        note_copy(s, SESSION_REF_REVIEWS, git_commit_id(cur), &commit_id, err) != 0)
        goto done;
    char ref[64 + SESSION_ID_MAX], log[96];
    snprintf(ref, sizeof ref, SESSION_TAG_PREFIX "%s", id);
    snprintf(log, sizeof log, "gevo: %s edited", id);
    git_reference *r = NULL;
    if (session_git(
            git_reference_create_matching(&r, s->repo, ref, &commit_id, 1, git_commit_id(cur), log),
            err, "%s", ref))
        goto done;
    git_reference_free(r);
    rc = 0;
done:
    strbuf_release(&text);
    json_decref(meta);
    git_signature_free(who);
    git_treebuilder_free(tb);
    git_tree_free(new_tree);
    git_tree_free(tree);
    git_commit_free(cur);
    return rc;
}

/* ---- notes ----------------------------------------------------------- */

/* Writes a note with git's 2/38 fan-out (what git itself does past a few
 * hundred notes), so each note rewrites two small trees instead of one
 * tree holding every note of the session. */
static int note_write(session *s, const char *notes_ref, const git_oid *target, const char *text,
                      gerr *err)
{
    git_reference *ref = NULL;
    git_commit *old = NULL;
    git_tree *root = NULL, *sub = NULL, *new_root = NULL;
    git_treebuilder *rb = NULL, *sb = NULL;
    git_signature *sig = NULL;
    int rc = -1;
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, target);
    char dir[3] = {hex[0], hex[1], 0};
    git_oid blob, sub_id, root_id, commit_id;

    if (git_reference_lookup(&ref, s->repo, notes_ref) == 0) {
        if (session_git(git_commit_lookup(&old, s->repo, git_reference_target(ref)), err, "%s",
                        notes_ref) ||
            session_git(git_commit_tree(&root, old), err, "%s", notes_ref))
            goto done;
    }
    if (root) {
        const git_tree_entry *e = git_tree_entry_byname(root, dir);
        if (e && git_tree_entry_type(e) == GIT_OBJECT_TREE &&
            session_git(git_tree_lookup(&sub, s->repo, git_tree_entry_id(e)), err, "%s", notes_ref))
            goto done;
    }
    /* The note's blob, then its fan-out subtree, then the root tree. */
    int gr = git_blob_create_from_buffer(&blob, s->repo, text, strlen(text));
    if (gr == 0)
        gr = git_treebuilder_new(&sb, s->repo, sub);
    if (gr == 0)
        gr = git_treebuilder_insert(NULL, sb, hex + 2, &blob, GIT_FILEMODE_BLOB);
    if (gr == 0)
        gr = git_treebuilder_write(&sub_id, sb);
    if (gr == 0)
        gr = git_treebuilder_new(&rb, s->repo, root);
    if (gr == 0 && git_treebuilder_get(rb, hex))
        git_treebuilder_remove(rb, hex); /* a flat note for the same commit */
    if (gr == 0)
        gr = git_treebuilder_insert(NULL, rb, dir, &sub_id, GIT_FILEMODE_TREE);
    if (gr == 0)
        gr = git_treebuilder_write(&root_id, rb);
    if (gr == 0)
        gr = git_tree_lookup(&new_root, s->repo, &root_id);
    if (session_git(gr, err, "%s: writing a note", notes_ref) ||
        session_gevo_signature(&sig, err) != 0)
        goto done;
    char msg[128];
    snprintf(msg, sizeof msg, "Notes added by gevo for %.12s\n", hex);
    const git_commit *par[1] = {old};
    if (session_git(git_commit_create(&commit_id, s->repo, NULL, sig, sig, NULL, msg, new_root,
                                      old ? 1 : 0, par),
                    err, "%s: writing a note", notes_ref))
        goto done;
    git_reference *nr = NULL;
    int ur = old ? git_reference_create_matching(&nr, s->repo, notes_ref, &commit_id, 1,
                                                 git_commit_id(old), "gevo: note")
                 : git_reference_create(&nr, s->repo, notes_ref, &commit_id, 0, "gevo: note");
    if (session_git(ur, err, "%s", notes_ref))
        goto done;
    git_reference_free(nr);
    rc = 0;
done:
    git_signature_free(sig);
    git_treebuilder_free(rb);
    git_treebuilder_free(sb);
    git_tree_free(new_root);
    git_tree_free(sub);
    git_tree_free(root);
    git_commit_free(old);
    git_reference_free(ref);
    return rc;
}

static int note_copy(session *s, const char *notes_ref, const git_oid *from, const git_oid *to,
                     gerr *err)
{
    git_note *n = NULL;
    if (git_note_read(&n, s->repo, notes_ref, from) != 0)
        return 0; /* nothing to carry over */
    int rc = note_write(s, notes_ref, to, git_note_message(n), err);
    git_note_free(n);
    return rc;
}

/* A step of the walk from an individual's commit back through its edits
 * (first parents): *c becomes its parent while step < edits, else NULL;
 * the commit left is freed. */
static void edit_step_back(git_commit **c, int step, int edits)
{
    git_commit *p = NULL;
    if (step < edits && git_commit_parent(&p, *c, 0) != 0)
        p = NULL;
    git_commit_free(*c);
    *c = p;
}

/* The note of id: on its current commit, else on the commits its edits
 * were made on top of (a note written before an edit). */
static int note_read(session *s, const char *notes_ref, const char *id, char **out, gerr *err)
{
    git_commit *c = NULL;
    *out = NULL;
    if (session_commit_of(s, id, &c, err) != 0)
        return -1;
    /* unreadable meta.json: look on the current commit only */
    json_t *meta = read_meta(s, c, NULL);
    int back = meta ? (int)json_integer_value(json_object_get(meta, "edits")) : 0;
    json_decref(meta);
    int rc = 0;
    for (int i = 0; i <= back && c; i++) {
        git_note *n = NULL;
        if (git_note_read(&n, s->repo, notes_ref, git_commit_id(c)) == 0) {
            *out = strdup(git_note_message(n));
            git_note_free(n);
            rc = *out ? 0 : gerr_set(err, "note of %s: out of memory", id);
            break;
        }
        edit_step_back(&c, i, back);
    }
    git_commit_free(c);
    return rc;
}

static int valid_result(json_t *j, gerr *err)
{
    if (!json_is_object(j))
        return gerr_set(err, "result: not a JSON object");
    json_t *st = json_object_get(j, "status");
    if (st) {
        const char *v = json_string_value(st);
        if (!v || (strcmp(v, "ok") && strcmp(v, "diverged") && strcmp(v, "timeout") &&
                   strcmp(v, "error")))
            return gerr_set(err, "result: \"status\" must be \"ok\", \"diverged\", \"timeout\" or "
                                 "\"error\"");
    }
    json_t *acc = json_object_get(j, "val_acc");
    if (acc && !json_is_null(acc) &&
        (!json_is_number(acc) || json_number_value(acc) < 0 || json_number_value(acc) > 1))
        return gerr_set(err, "result: \"val_acc\" must be a number from 0 to 1");
    json_t *rung = json_object_get(j, "rung");
    if (rung && (!json_is_integer(rung) || json_integer_value(rung) < 0 ||
                 json_integer_value(rung) > SESSION_RUNG_MAX))
        return gerr_set(err, "result: \"rung\" must be an integer from 0 to %d", SESSION_RUNG_MAX);
    static const char *nums[] = {"params", "flops", "seconds"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(j, nums[i]);
        if (v && !json_is_null(v) && !json_is_number(v))
            return gerr_set(err, "result: \"%s\" must be a number", nums[i]);
    }
    return 0;
}

int session_set_result(session *s, const char *id, const char *json, gerr *err)
{
    if (session_require_writer(s, err) != 0)
        return -1;
    json_error_t je;
    json_t *j = json ? json_loads(json, 0, &je) : NULL;
    if (!j) {
        return gerr_set(err, "result for %s is not valid JSON: line %d: %s", id, je.line,
                        json ? je.text : "no text");
    }
    int rc = valid_result(j, err);
    json_decref(j);
    git_commit *c = NULL;
    if (rc != 0 || session_commit_of(s, id, &c, err) != 0)
        return -1;
    char *clean = session_scrub(s, json);
    rc = clean ? note_write(s, SESSION_REF_RESULTS, git_commit_id(c), clean, err)
               : gerr_set(err, "result for %s: out of memory", id);
    free(clean);
    git_commit_free(c);
    return rc;
}

int session_set_review(session *s, const char *id, const session_review *r, gerr *err)
{
    if (session_require_writer(s, err) != 0)
        return -1;
    /* "pending": notes on a proposal that has no decision yet */
    if (!r || !r->decision ||
        (strcmp(r->decision, "approved") && strcmp(r->decision, "approved_edited") &&
         strcmp(r->decision, "rejected") && strcmp(r->decision, "pending")))
        return gerr_set(
            err, "review: the decision must be pending, approved, approved_edited or rejected");
    if (r->n_annotations < 0 || (r->n_annotations > 0 && !r->annotations))
        return gerr_set(err, "review: bad annotations");
    git_signature *who = NULL;
    if (!r->author && session_researcher(s, &who, err) != 0)
        return -1;
    char when[32];
    session_iso_now(when, sizeof when);
    json_t *ann = json_array();
    for (int i = 0; i < r->n_annotations; i++) {
        const session_annotation *an = &r->annotations[i];
        if (an->line < 0 || an->old_line < 0 || (an->line > 0 && an->old_line > 0)) {
            json_decref(ann);
            git_signature_free(who);
            return gerr_set(err,
                            an->line > 0 && an->old_line > 0
                                ? "review: annotation %d names a line and an old line"
                                : "review: annotation %d has a negative line number",
                            i + 1);
        }
        json_t *a = json_object();
        if (an->line > 0)
            json_object_set_new(a, "line", json_integer(an->line));
        if (an->old_line > 0)
            json_object_set_new(a, "old_line", json_integer(an->old_line));
        json_object_set_new(a, "text",
                            json_string(r->annotations[i].text ? r->annotations[i].text : ""));
        json_array_append_new(ann, a);
    }
    json_t *j = json_pack("{s:s, s:s, s:o, s:s, s:s}", "decision", r->decision, "reason",
                          r->reason ? r->reason : "", "annotations", ann, "author",
                          r->author ? r->author : who->name, "time", when);
    git_signature_free(who);
    if (!j)
        return gerr_set(err, "review: cannot build the note (is every text valid UTF-8?)");
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    git_commit *c = NULL;
    int rc = -1;
    if (!text) {
        rc = gerr_set(err, "review of %s: out of memory", id);
    } else if (session_commit_of(s, id, &c, err) == 0) {
        char *clean = session_scrub(s, text);
        rc = clean ? note_write(s, SESSION_REF_REVIEWS, git_commit_id(c), clean, err)
                   : gerr_set(err, "review of %s: out of memory", id);
        free(clean);
    }
    free(text);
    git_commit_free(c);
    return rc;
}

int session_get_result(session *s, const char *id, char **out, gerr *err)
{
    return note_read(s, SESSION_REF_RESULTS, id, out, err);
}

int session_get_review(session *s, const char *id, char **out, gerr *err)
{
    return note_read(s, SESSION_REF_REVIEWS, id, out, err);
}

/* refs/notes/NAME of a note kind session_set_note knows, or -1. */
static int other_note_ref(const char *name, char *ref, size_t size, gerr *err)
{
    static const char *const known[] = {"confirm", "noise"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (name && !strcmp(name, known[i])) {
            snprintf(ref, size, "refs/notes/%s", name);
            return 0;
        }
    return gerr_set(err, "no note kind '%s' (known: confirm, noise)", name ? name : "");
}

int session_set_note(session *s, const char *name, const char *id, const char *json, gerr *err)
{
    char ref[64];
    if (session_require_writer(s, err) != 0 || other_note_ref(name, ref, sizeof ref, err))
        return -1;
    json_error_t je;
    json_t *j = json ? json_loads(json, 0, &je) : NULL;
    bool parsed = j != NULL, object = json_is_object(j);
    json_decref(j);
    if (!object)
        return gerr_set(err, "%s note for %s: not a JSON object%s%s", name, id, parsed ? "" : ": ",
                        parsed ? "" : (json ? je.text : "no text"));
    git_commit *c = NULL;
    if (session_commit_of(s, id, &c, err) != 0)
        return -1;
    char *clean = session_scrub(s, json);
    int rc = clean ? note_write(s, ref, git_commit_id(c), clean, err)
                   : gerr_set(err, "%s note for %s: out of memory", name, id);
    free(clean);
    git_commit_free(c);
    return rc;
}

int session_get_note(session *s, const char *name, const char *id, char **out, gerr *err)
{
    char ref[64];
    *out = NULL;
    if (other_note_ref(name, ref, sizeof ref, err))
        return -1;
    return note_read(s, ref, id, out, err);
}

/* ---- queries ------------------------------------------------------------ */

int session_resolve(session *s, const char *spec, char *id, gerr *err)
{
    if (!spec || !spec[0])
        return gerr_set(err, "an individual id is needed (like g2-7)");
    if (session_valid_id(spec, NULL, NULL)) {
        git_commit *c = NULL;
        if (session_commit_of(s, spec, &c, err) != 0)
            return -1;
        git_commit_free(c);
        snprintf(id, SESSION_ID_MAX, "%s", spec);
        return 0;
    }
    size_t n = strlen(spec);
    int hex = n >= 4 && n <= GIT_OID_HEXSZ;
    for (size_t i = 0; hex && i < n; i++)
        hex = (spec[i] >= '0' && spec[i] <= '9') || (spec[i] >= 'a' && spec[i] <= 'f') ||
              (spec[i] >= 'A' && spec[i] <= 'F');
    if (!hex)
        return gerr_set(err, "'%s' is neither an individual id (like g2-7) nor a commit hash",
                        spec);
    git_oid oid;
    git_object *o = NULL;
    if (git_oid_fromstrn(&oid, spec, n) != 0)
        return gerr_set(err, "'%s' is not a commit hash", spec);
    int rc = git_object_lookup_prefix(&o, s->repo, &oid, n, GIT_OBJECT_COMMIT);
    if (rc == GIT_EAMBIGUOUS)
        return gerr_set(err, "commit prefix '%s' is ambiguous; give more digits", spec);
    if (rc != 0)
        return gerr_set(err, "no commit %s in this session", spec);
    json_t *meta = read_meta(s, (git_commit *)o, NULL);
    git_object_free(o);
    const char *mid = meta ? json_string_value(json_object_get(meta, "id")) : NULL;
    if (!mid || !session_valid_id(mid, NULL, NULL)) {
        json_decref(meta);
        return gerr_set(err,
                        "commit %s is not an individual (it may be a journal or notes "
                        "commit)",
                        spec);
    }
    snprintf(id, SESSION_ID_MAX, "%s", mid);
    json_decref(meta);
    return 0;
}

/* Notes of one ref, as sorted (annotated commit, note blob) pairs, so that
 * listing many individuals reads the notes tree once. */
typedef struct note_pair {
    git_oid target, blob;
} note_pair;

typedef struct note_map {
    note_pair *v;
    size_t n, alloc;
} note_map;

static int pair_cmp(const void *a, const void *b)
{
    return git_oid_cmp(&((const note_pair *)a)->target, &((const note_pair *)b)->target);
}

static int note_map_load(session *s, const char *ref, note_map *m, gerr *err)
{
    memset(m, 0, sizeof *m);
    git_note_iterator *it = NULL;
    int rc = git_note_iterator_new(&it, s->repo, ref);
    if (rc == GIT_ENOTFOUND)
        return 0;
    if (session_git(rc, err, "%s", ref) != 0)
        return -1;
    git_oid blob, target;
    while (git_note_next(&blob, &target, it) == 0) {
        if (ALLOC_GROW(m->v, m->n + 1, m->alloc) != 0) {
            git_note_iterator_free(it);
            free(m->v);
            m->v = NULL;
            return gerr_set(err, "%s: out of memory", ref);
        }
        m->v[m->n].target = target;
        m->v[m->n].blob = blob;
        m->n++;
    }
    git_note_iterator_free(it);
    if (m->n > 1)
        qsort(m->v, m->n, sizeof *m->v, pair_cmp);
    return 0;
}

static json_t *note_map_get(session *s, const note_map *m, const git_commit *c, int edits)
{
    git_commit *cur = NULL;
    json_t *j = NULL;
    git_commit_dup(&cur, (git_commit *)c);
    for (int i = 0; i <= edits && cur && !j; i++) {
        note_pair key;
        key.target = *git_commit_id(cur);
        note_pair *p = m->n ? bsearch(&key, m->v, m->n, sizeof key, pair_cmp) : NULL;
        if (p) {
            git_blob *b = NULL;
            if (git_blob_lookup(&b, s->repo, &p->blob) == 0) {
                j = json_loadb(git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), 0, NULL);
                git_blob_free(b);
            }
            break;
        }
        edit_step_back(&cur, i, edits);
    }
    git_commit_free(cur);
    return j;
}

static double num_or(json_t *v, double dflt)
{
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static int fill_info(session *s, const char *id, const git_commit *c, const note_map *results,
                     const note_map *reviews, session_info *info, gerr *err)
{
    memset(info, 0, sizeof *info);
    snprintf(info->id, sizeof info->id, "%s", id);
    session_valid_id(id, &info->generation, &info->number);
    git_oid_tostr(info->commit, sizeof info->commit, git_commit_id(c));
    json_t *meta = read_meta(s, c, err);
    if (!meta)
        return -1;
    session_copy_str(info->op, sizeof info->op, json_object_get(meta, "operator"));
    session_copy_str(info->persona, sizeof info->persona, json_object_get(meta, "persona"));
    session_copy_str(info->model, sizeof info->model, json_object_get(meta, "model"));
    json_t *par = json_object_get(meta, "parents");
    for (size_t i = 0; i < json_array_size(par) && i < 2; i++)
        session_copy_str(info->parents[info->n_parents++], SESSION_ID_MAX, json_array_get(par, i));
    json_t *tok = json_object_get(meta, "tokens");
    info->tokens_in = (long)json_integer_value(json_object_get(tok, "in"));
    info->tokens_out = (long)json_integer_value(json_object_get(tok, "out"));
    info->latency_s = num_or(json_object_get(meta, "latency_s"), 0);
    info->cost_usd = num_or(json_object_get(meta, "cost_usd"), 0);
    /* sessions from before "requests" was recorded: one request per LLM
       proposal */
    json_t *req = json_object_get(meta, "requests");
    info->requests = json_is_integer(req)                            ? (int)json_integer_value(req)
                     : info->model[0] && strcmp(info->model, "none") ? 1
                                                                     : 0;
    session_copy_str(info->retry_of, sizeof info->retry_of, json_object_get(meta, "retry_of"));
    session_copy_str(info->steering, sizeof info->steering, json_object_get(meta, "steering"));
    int edits = (int)json_integer_value(json_object_get(meta, "edits"));
    info->edited = edits > 0;
    json_decref(meta);

    info->val_acc = info->flops = info->seconds = -1;
    info->params = -1;
    snprintf(info->status, sizeof info->status, "pending");
    json_t *res = note_map_get(s, results, c, edits);
    if (res) {
        session_copy_str(info->status, sizeof info->status, json_object_get(res, "status"));
        if (!info->status[0])
            snprintf(info->status, sizeof info->status, "ok");
        info->val_acc = num_or(json_object_get(res, "val_acc"), -1);
        info->params = (long)num_or(json_object_get(res, "params"), -1);
        info->flops = num_or(json_object_get(res, "flops"), -1);
        info->seconds = num_or(json_object_get(res, "seconds"), -1);
        info->rung = (int)num_or(json_object_get(res, "rung"), 0);
        json_decref(res);
    }
    json_t *rev = note_map_get(s, reviews, c, edits);
    if (rev) {
        session_copy_str(info->decision, sizeof info->decision, json_object_get(rev, "decision"));
        if (!res && !strcmp(info->decision, "rejected"))
            snprintf(info->status, sizeof info->status, "rejected");
        json_decref(rev);
    }
    return 0;
}

int session_list(session *s, int generation, session_info **out, size_t *n, gerr *err)
{
    *out = NULL;
    *n = 0;
    note_map results, reviews;
    if (note_map_load(s, SESSION_REF_RESULTS, &results, err) != 0)
        return -1;
    if (note_map_load(s, SESSION_REF_REVIEWS, &reviews, err) != 0) {
        free(results.v);
        return -1;
    }
    char glob[64];
    if (generation >= 0)
        snprintf(glob, sizeof glob, SESSION_TAG_PREFIX "g%d-*", generation);
    else
        snprintf(glob, sizeof glob, SESSION_TAG_PREFIX "g*");
    git_reference_iterator *it = NULL;
    size_t alloc = 0;
    session_info *v = NULL;
    int rc = session_git(git_reference_iterator_glob_new(&it, s->repo, glob), err,
                         "listing individuals");
    git_reference *r;
    while (rc == 0 && git_reference_next(&r, it) == 0) {
        const char *id = git_reference_name(r) + strlen(SESSION_TAG_PREFIX);
        git_object *o = NULL;
        if (session_valid_id(id, NULL, NULL) && git_reference_peel(&o, r, GIT_OBJECT_COMMIT) == 0) {
            if (ALLOC_GROW(v, *n + 1, alloc) != 0)
                rc = gerr_set(err, "listing individuals: out of memory");
            else if (fill_info(s, id, (git_commit *)o, &results, &reviews, &v[*n], err) == 0)
                (*n)++;
            else
                rc = -1;
        }
        git_object_free(o);
        git_reference_free(r);
    }
    git_reference_iterator_free(it);
    free(results.v);
    free(reviews.v);
    if (rc != 0) {
        free(v);
        *n = 0;
        return -1;
    }
    if (*n > 1)
        qsort(v, *n, sizeof *v, session_id_cmp); /* qsort(NULL, 0) is undefined */
    *out = v;
    return 0;
}

int session_info_get(session *s, const char *id, session_info *out, gerr *err)
{
    git_commit *c = NULL;
    if (session_commit_of(s, id, &c, err) != 0)
        return -1;
    note_map results, reviews;
    int rc = note_map_load(s, SESSION_REF_RESULTS, &results, err);
    if (rc == 0 && (rc = note_map_load(s, SESSION_REF_REVIEWS, &reviews, err)) == 0) {
        rc = fill_info(s, id, c, &results, &reviews, out, err);
        free(reviews.v);
    }
    free(results.v);
    git_commit_free(c);
    return rc;
}

int session_file(session *s, const char *id, const char *name, char **out, gerr *err)
{
    git_commit *c = NULL;
    *out = NULL;
    if (session_commit_of(s, id, &c, err) != 0)
        return -1;
    int rc = session_read_path(s, c, name, out, NULL, err);
    git_commit_free(c);
    return rc;
}

int session_genome(session *s, const char *id, char **out, gerr *err)
{
    return session_file(s, id, SESSION_GENOME, out, err);
}

int session_lineage(session *s, const char *id, char (**ids)[SESSION_ID_MAX], size_t *n, gerr *err)
{
    *ids = NULL;
    *n = 0;
    size_t alloc = 0, head = 0;
    char(*v)[SESSION_ID_MAX] = NULL;
    if (ALLOC_GROW(v, 16, alloc) != 0)
        return gerr_set(err, "lineage of %s: out of memory", id);
    snprintf(v[0], SESSION_ID_MAX, "%s", id);
    size_t cnt = 1;
    while (head < cnt) {
        git_commit *c = NULL;
        if (session_commit_of(s, v[head], &c, err) != 0) {
            free(v);
            return -1;
        }
        json_t *meta = read_meta(s, c, err);
        git_commit_free(c);
        if (!meta) {
            free(v);
            return -1;
        }
        json_t *par = json_object_get(meta, "parents");
        for (size_t i = 0; i < json_array_size(par); i++) {
            const char *p = json_string_value(json_array_get(par, i));
            if (!p)
                continue;
            int seen = 0;
            for (size_t k = 0; k < cnt && !seen; k++)
                seen = !strcmp(v[k], p);
            if (seen)
                continue;
            if (ALLOC_GROW(v, cnt + 1, alloc) != 0) {
                json_decref(meta);
                free(v);
                return gerr_set(err, "lineage of %s: out of memory", id);
            }
            snprintf(v[cnt++], SESSION_ID_MAX, "%s", p);
        }
        json_decref(meta);
        head++;
    }
    *ids = v;
    *n = cnt;
    return 0;
}

static int diff_trees(session *s, git_tree *a, git_tree *b, bool genome_only, char **patch,
                      gerr *err)
{
    git_diff_options o;
    git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
    char *paths[1] = {SESSION_GENOME};
    if (genome_only) {
        o.pathspec.strings = paths;
        o.pathspec.count = 1;
    }
    git_diff *d = NULL;
    git_buf buf = GIT_BUF_INIT;
    int rc = -1;
    if (session_git(git_diff_tree_to_tree(&d, s->repo, a, b, &o), err, "diff") == 0 &&
        session_git(git_diff_to_buf(&buf, d, GIT_DIFF_FORMAT_PATCH), err, "diff") == 0) {
        *patch = strdup(buf.ptr ? buf.ptr : "");
        rc = *patch ? 0 : gerr_set(err, "diff: out of memory");
    }
    git_buf_dispose(&buf);
    git_diff_free(d);
    return rc;
}

int session_diff(session *s, const char *a, const char *b, bool genome_only, char **patch,
                 gerr *err)
{
    git_commit *ca = NULL, *cb = NULL;
    git_tree *ta = NULL, *tb = NULL;
    json_t *meta = NULL;
    int rc = -1;
    *patch = NULL;
    if (session_commit_of(s, b, &cb, err) != 0)
        goto done;
    if (!a) {
        if (!(meta = read_meta(s, cb, err)))
            goto done;
        a = json_string_value(json_array_get(json_object_get(meta, "parents"), 0));
        if (!a) { /* the seed: nothing to compare with */
            *patch = strdup("");
            rc = *patch ? 0 : gerr_set(err, "diff: out of memory");
            goto done;
        }
    }
    if (session_commit_of(s, a, &ca, err) != 0)
        goto done;
    if (session_git(git_commit_tree(&ta, ca), err, "diff") ||
        session_git(git_commit_tree(&tb, cb), err, "diff"))
        goto done;
    rc = diff_trees(s, ta, tb, genome_only, patch, err);
done:
    json_decref(meta);
    git_tree_free(ta);
    git_tree_free(tb);
    git_commit_free(ca);
    git_commit_free(cb);
    return rc;
}

int session_edit_diff(session *s, const char *id, char **patch, gerr *err)
{
    git_commit *cur = NULL, *prop = NULL;
    git_tree *ta = NULL, *tb = NULL;
    *patch = NULL;
    if (session_commit_of(s, id, &cur, err) != 0)
        return -1;
    /* unreadable meta.json: as if never edited */
    json_t *meta = read_meta(s, cur, NULL);
    int edits = meta ? (int)json_integer_value(json_object_get(meta, "edits")) : 0;
    json_decref(meta);
    int rc;
    if (edits <= 0) {
        *patch = strdup("");
        rc = *patch ? 0 : gerr_set(err, "edit diff: out of memory");
    } else if (session_git(git_commit_nth_gen_ancestor(&prop, cur, (unsigned)edits), err,
                           "edit diff") ||
               session_git(git_commit_tree(&ta, prop), err, "edit diff") ||
               session_git(git_commit_tree(&tb, cur), err, "edit diff")) {
        rc = -1;
    } else {
        rc = diff_trees(s, ta, tb, true, patch, err);
    }
    git_tree_free(ta);
    git_tree_free(tb);
    git_commit_free(prop);
    git_commit_free(cur);
    return rc;
}
