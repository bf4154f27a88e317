/* export_session: the session side of the PyTorch export (see
 * export_session.h): find the individual, its note and its kept weights,
 * retrain it when asked, write the folder. */
#include "core/export_session.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/confirm.h"
#include "core/evaluator.h"
#include "core/export_torch.h"
#include "core/weights_store.h"
#include "engine/base/file.h"

extern char **environ;

/* The fidelity of a result: what gevo train was given. */
typedef struct fidelity {
    const char *data;
    long subset, epochs, seed;
    bool test;
} fidelity;

static int read_fidelity(json_t *r, fidelity *f, gerr *err)
{
    json_t *epochs = json_object_get(r, "epochs");
    json_t *recipe = json_object_get(r, "recipe");
    size_t done = json_array_size(epochs);
    json_int_t images = json_integer_value(json_object_get(r, "images"));
    f->data = json_string_value(json_object_get(r, "data"));
    f->seed = (long)json_integer_value(json_object_get(r, "seed"));
    f->epochs = (long)json_integer_value(json_object_get(recipe, "epochs"));
    f->test = json_is_number(json_object_get(r, "test_acc"));
    /* the training images of one epoch: a complete run saw them all each
       epoch (a run cut short by a time limit is retrained in full) */
    f->subset = done ? (long)(images / (json_int_t)done) : 0;
    if (!f->data || f->epochs < 1 || f->subset < 1 || !json_is_integer(json_object_get(r, "seed")))
        return gerr_set(err, "its result note does not say how it was trained (data, images, "
                             "epochs and seed)");
    return 0;
}

static void put_fidelity(const fidelity *f, char *out, size_t size)
{
    snprintf(out, size, "%ld images, %ld epoch%s, seed %ld", f->subset, f->epochs,
             f->epochs == 1 ? "" : "s", f->seed);
}

int export_session_fidelity(const char *note, char *out, size_t size, gerr *err)
{
    json_t *r = json_loads(note, 0, NULL);
    fidelity f = {0};
    int rc = json_is_object(r) ? read_fidelity(r, &f, err)
                               : gerr_set(err, "its result note is not JSON");
    if (rc == 0)
        put_fidelity(&f, out, size);
    json_decref(r);
    return rc;
}

/* A result whose training left no weights (gevo train saves none on an
   error or a divergence): its status into st. */
static bool no_weights(const char *note, char *st, size_t size)
{
    json_t *r = json_loads(note, 0, NULL);
    const char *v = json_string_value(json_object_get(r, "status"));
    bool none = v && (!strcmp(v, "error") || !strcmp(v, "diverged"));
    if (none)
        snprintf(st, size, "%s", v);
    json_decref(r);
    return none;
}

void export_session_weights_line(session *s, const char *id, const char *note, char *out,
                                 size_t size)
{
    long bytes = 0;
    weights_policy p = WEIGHTS_KEEP_ALL;
    char fid[256];
    if (weights_kept(s, id, &bytes)) {
        snprintf(out, size, "kept: .gevo/weights/%s.weights (%.0f KB)", id, bytes / 1024.0);
    } else if (!note) {
        snprintf(out, size, "none: not trained");
    } else if (no_weights(note, fid, sizeof fid)) {
        snprintf(out, size, "none: its training ended with status %s", fid);
    } else {
        weights_policy_get(s, &p, NULL);
        bool can = export_session_fidelity(note, fid, sizeof fid, NULL) == 0;
        snprintf(out, size, "not kept (keep_weights \"%s\")%s%s%s", weights_policy_name(p),
                 can ? "; gevo export --torch OUT --train retrains it (" : "", can ? fid : "",
                 can ? ")" : "");
    }
}

/* Runs `exe train genome ...` at the note's fidelity, weights to wpath,
 * the result to dir/train.json; the bar on this terminal. */
static int retrain(const char *exe, const char *genome, const char *dir, const fidelity *f,
                   const char *data, const char *resize, const char *wpath, gerr *err)
{
    char subset[32], epochs[32], seed[32], out[4200];
    snprintf(subset, sizeof subset, "%ld", f->subset);
    snprintf(epochs, sizeof epochs, "%ld", f->epochs);
    snprintf(seed, sizeof seed, "%ld", f->seed);
    snprintf(out, sizeof out, "%s/train.json", dir);
    const char *argv[24];
    int a = 0;
    argv[a++] = exe;
    argv[a++] = "train";
    argv[a++] = "--data";
    argv[a++] = data;
    argv[a++] = "--subset";
    argv[a++] = subset;
    argv[a++] = "--epochs";
    argv[a++] = epochs;
    argv[a++] = "--seed";
    argv[a++] = seed;
    if (resize) {
        argv[a++] = "--resize";
        argv[a++] = resize;
    }
    if (!f->test)
        argv[a++] = "--no-test";
    argv[a++] = "--weights";
    argv[a++] = wpath;
    argv[a++] = genome;
    argv[a] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        errno = rc;
        return gerr_errno(err, "%s train: cannot start", exe);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return gerr_errno(err, "waiting for %s train", exe);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    /* its result says why */
    char *text = NULL;
    const char *why = "no result";
    json_t *r = NULL;
    if (file_read(out, 1 << 20, &text, NULL, NULL) == 0 && (r = json_loads(text, 0, NULL))) {
        const char *m = json_string_value(json_object_get(r, "message"));
        const char *s = json_string_value(json_object_get(r, "status"));
        why = m ? m : s ? s : why;
    }
    if (WIFSIGNALED(st))
        gerr_set(err, "the retraining was killed by signal %d", WTERMSIG(st));
    else
        gerr_set(err, "the retraining failed (exit status %d): %s", WEXITSTATUS(st), why);
    json_decref(r);
    free(text);
    return -1;
}

static double note_val(json_t *r)
{
    json_t *v = json_object_get(r, "val_acc");
    return json_is_number(v) ? json_number_value(v) : -1;
}

/* The confirm run of id with the highest validation accuracy: its weights
 * file into wpath, and a result (gevo train's fields that the export's
 * README states) into *result (malloc'd). */
static int confirmed_run(session *s, const char *id, char *wpath, size_t size, char **result,
                         int *seed, gerr *err)
{
    char *text = NULL;
    if (session_get_note(s, CONFIRM_NOTE, id, &text, err))
        return -1;
    if (!text)
        return gerr_set(err, "%s has not been confirmed (gevo confirm SESSION %s)", id, id);
    json_t *c = json_loads(text, 0, NULL), *run, *best = NULL;
    free(text);
    size_t i;
    json_array_foreach(json_object_get(c, "runs"), i, run)
    {
        json_t *v = json_object_get(run, "val_acc");
        const char *st = json_string_value(json_object_get(run, "status"));
        if (st && !strcmp(st, "ok") && json_is_number(v) &&
            (!best || json_number_value(v) > json_number_value(json_object_get(best, "val_acc"))))
            best = run;
    }
    int rc = -1;
    json_int_t sd = best ? json_integer_value(json_object_get(best, "seed")) : 0;
    /* the file is where confirm writes it for that seed: the note's text
       never names a path */
    if (!best) {
        gerr_set(err, "%s's confirm note has no finished run", id);
    } else if (sd < 1 || sd > CONFIRM_MAX_SEEDS) {
        gerr_set(err, "%s's confirm note: the best run's seed %lld is not 1 to %d", id,
                 (long long)sd, CONFIRM_MAX_SEEDS);
    } else if (confirm_weights_path(s, id, (unsigned long)sd, wpath, size, err)) {
        /* err says why */
    } else if (access(wpath, R_OK)) {
        gerr_set(err, "%s: the weights of its confirm run with seed %lld are gone (%s)", id,
                 (long long)sd, wpath);
    } else {
        json_t *r = json_pack("{s:s, s:O?, s:O?, s:I, s:O?}", "status", "confirmed", "val_acc",
                              json_object_get(best, "val_acc"), "test_acc",
                              json_object_get(best, "test_acc"), "seed", sd, "images",
                              json_object_get(json_object_get(c, "fidelity"), "images"));
        *result = r ? json_dumps(r, 0) : NULL;
        json_decref(r);
        *seed = (int)sd;
        rc = *result ? 0 : gerr_set(err, "out of memory");
    }
    json_decref(c);
    return rc;
}

int export_session_torch(session *s, const char *spec, const char *dir,
                         const export_session_opts *o, export_session_report *rep, gerr *err)
{
    memset(rep, 0, sizeof *rep);
    rep->params = -1;
    rep->note_val = rep->retrain_val = -1;
    char *src = NULL, *note = NULL, *text = NULL;
    json_t *r = NULL, *tr = NULL;
    int rc = -1;
    char wpath[4096];
    weights_policy policy;
    if (session_resolve(s, spec, rep->id, err) || session_genome(s, rep->id, &src, err) ||
        session_get_result(s, rep->id, &note, err) || weights_policy_get(s, &policy, err))
        goto out;
    if (!note) {
        gerr_set(err, "%s has not been trained: it has no result, so no weights", rep->id);
        goto out;
    }
    r = json_loads(note, 0, NULL);
    rep->note_val = note_val(r);
    if (o->confirmed) {
        if (confirmed_run(s, rep->id, wpath, sizeof wpath, &text, &rep->confirm_seed, err))
            goto out;
        goto write;
    }
    if (weights_path(s, rep->id, wpath, sizeof wpath, err))
        goto out;
    char st[32];
    if (!weights_kept(s, rep->id, NULL) && no_weights(note, st, sizeof st)) {
        gerr_set(err, "%s has no weights: its training ended with status %s", rep->id, st);
        goto out;
    }
    if (!weights_kept(s, rep->id, NULL)) {
        fidelity f = {0};
        if (!json_is_object(r) || read_fidelity(r, &f, err)) {
            gerr_prefix(err, "%s's weights are not kept and cannot be retrained", rep->id);
            goto out;
        }
        put_fidelity(&f, rep->fidelity, sizeof rep->fidelity);
        if (!o->train) {
            gerr_set(err,
                     "%s's weights are not kept (keep_weights is \"%s\"); --train trains it "
                     "again at the fidelity of its result (%s)",
                     rep->id, weights_policy_name(policy), rep->fidelity);
            goto out;
        }
        char exe[4096], genome[4200];
        if (evaluator_find_exe(o->exe, exe, sizeof exe, err) || evaluator_mkdir_p(dir, err))
            goto out;
        snprintf(genome, sizeof genome, "%s/genome.net", dir);
        snprintf(wpath, sizeof wpath, "%s/gevo.weights", dir);
        const char *data = o->data ? o->data : f.data;
        const char *resize = session_config_get(s, "resize");
        if (file_write(genome, src, strlen(src), err) ||
            retrain(exe, genome, dir, &f, data, resize && *resize ? resize : NULL, wpath, err))
            goto out;
        rep->retrained = true;
        char tpath[4200];
        snprintf(tpath, sizeof tpath, "%s/train.json", dir);
        if (file_read(tpath, 1 << 20, &text, NULL, NULL) == 0 && (tr = json_loads(text, 0, NULL)))
            rep->retrain_val = note_val(tr);
        if (policy != WEIGHTS_KEEP_NONE && weights_keep_file(s, rep->id, wpath, err))
            goto out;
    }
write:;
    const char *resize = session_config_get(s, "resize");
    export_torch_meta meta = {.id = rep->id,
                              .session = session_workdir(s),
                              .result = (rep->retrained || rep->confirm_seed) && text ? text : note,
                              .resize = resize && *resize ? resize : NULL};
    if (export_torch_write(dir, src, strlen(src), wpath, &meta, err))
        goto out;
    json_t *p = json_object_get(tr ? tr : r, "params");
    rep->params = json_is_integer(p) ? (long)json_integer_value(p) : -1;
    rc = 0;
out:
    json_decref(r);
    json_decref(tr);
    free(text);
    free(src);
    free(note);
    return rc;
}
