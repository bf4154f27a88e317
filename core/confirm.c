/* confirm: retraining over seeds at confirmation fidelity (see confirm.h). */
#include "core/confirm.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/evaluator.h"
#include "core/noise.h"
#include "core/nsga2.h"
#include "core/rungs.h"
#include "core/session_eval.h"
#include "core/weights_store.h"
#include "core/welch.h"
#include "engine/base/file.h"
#include "engine/base/grow.h"
#include "engine/data.h"

/* ---- the default individuals --------------------------------------------- */

int confirm_default_ids(session *s, char (**ids)[SESSION_ID_MAX], size_t *n, gerr *err)
{
    *ids = NULL;
    *n = 0;
    nsga2_objectives objs;
    nsga2_objectives_default(&objs);
    const char *spec = session_config_get(s, "objectives");
    if (spec && spec[0] && nsga2_objectives_parse(&objs, spec, err))
        return -1;
    noise_info ni;
    double eps = 0;
    char how[96];
    if (noise_read(s, &ni, err) || noise_epsilon(s, &ni, &eps, how, sizeof how, err))
        return -1;
    nsga2_objectives_tolerance(&objs, "val_acc", eps);
    session_info *all = NULL;
    size_t na = 0;
    if (session_list(s, -1, &all, &na, err))
        return -1;
    nsga2_measure *m = calloc(na + 1, sizeof *m);
    int *front = calloc(na + 1, sizeof *front);
    char(*out)[SESSION_ID_MAX] = calloc(na + 1, sizeof *out);
    int rc = -1;
    if (!m || !front || !out) {
        gerr_set(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < na; i++) {
        m[i].failed = true;
        char *res = NULL;
        if (strcmp(all[i].status, "pending") && session_get_result(s, all[i].id, &res, NULL) == 0 &&
            res)
            nsga2_measure_from_result(&m[i], res, NULL);
        free(res);
    }
    int nf = nsga2_pareto_front(m, (int)na, &objs, front, err);
    if (nf < 0)
        goto done;
    if (noise_seed_id(s, out[0], err))
        goto done;
    size_t k = 1;
    for (int i = 0; i < nf; i++)
        if (strcmp(all[front[i]].id, out[0]))
            snprintf(out[k++], SESSION_ID_MAX, "%s", all[front[i]].id);
    *ids = out;
    *n = k;
    out = NULL;
    rc = 0;
done:
    free(all);
    free(m);
    free(front);
    free(out);
    return rc;
}

/* ---- the note --------------------------------------------------------------- */

/* One individual's confirmation: its note as JSON, kept up to date. */
typedef struct target {
    char id[SESSION_ID_MAX];
    json_t *note;   /* the note being written (owned) */
    int n_planned;  /* seeds 1..n_planned */
    bool announced; /* COMPLETE reported */
} target;

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The run of seed in note's "runs", or NULL. */
static json_t *run_of(json_t *note, unsigned long seed)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(note, "runs"), i, r)
    {
        if ((unsigned long)json_integer_value(json_object_get(r, "seed")) == seed)
            return r;
    }
    return NULL;
}

static bool run_ok(json_t *r)
{
    const char *st = json_string_value(json_object_get(r, "status"));
    return st && !strcmp(st, "ok");
}

/* Recomputes the aggregate of note from its runs. */
static void aggregate(json_t *note, int n_planned)
{
    double val[CONFIRM_MAX_SEEDS], test[CONFIRM_MAX_SEEDS];
    int n = 0, ok_planned = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(note, "runs"), i, r)
    {
        if (!run_ok(r) || n == CONFIRM_MAX_SEEDS)
            continue;
        val[n] = num(r, "val_acc");
        test[n] = num(r, "test_acc");
        n++;
        json_int_t seed = json_integer_value(json_object_get(r, "seed"));
        ok_planned += seed >= 1 && seed <= n_planned;
    }
    double vm, vs, tm, ts;
    welch_mean_sd(val, n, &vm, &vs);
    welch_mean_sd(test, n, &tm, &ts);
    json_object_set_new(note, "n", json_integer(n));
    json_object_set_new(note, "val_mean", num_or_null(vm));
    json_object_set_new(note, "val_std", num_or_null(vs));
    json_object_set_new(note, "test_mean", num_or_null(tm));
    json_object_set_new(note, "test_std", num_or_null(ts));
    json_object_set_new(note, "complete", json_boolean(ok_planned >= n_planned));
}

static int save_note(session *s, target *t, gerr *err)
{
    aggregate(t->note, t->n_planned);
    char *text = json_dumps(t->note, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        return gerr_set(err, "%s: confirm note: out of memory", t->id);
    int rc = session_set_note(s, CONFIRM_NOTE, t->id, text, err);
    free(text);
    return rc;
}

/* The note of t at fidelity (images, epochs), seeds 1..k: the stored one
 * (its seeds extended to k), or a new one. A stored one at another
 * fidelity is an error: its runs would not be comparable. */
static int target_open(session *s, target *t, long images, int epochs, int k, gerr *err)
{
    char *text = NULL;
    if (session_get_note(s, CONFIRM_NOTE, t->id, &text, err))
        return -1;
    json_t *note = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (text && !json_is_object(note)) {
        json_decref(note);
        return gerr_set(err, "%s's confirm note (refs/notes/confirm) is not a JSON object", t->id);
    }
    if (note) {
        json_t *fid = json_object_get(note, "fidelity");
        long was_i = (long)json_integer_value(json_object_get(fid, "images"));
        int was_e = (int)json_integer_value(json_object_get(fid, "epochs"));
        if (was_i != images || was_e != epochs) {
            rungs_fidelity w = {was_i, was_e}, now = {images, epochs};
            char a[96], b[96];
            rungs_describe(&w, a, sizeof a);
            rungs_describe(&now, b, sizeof b);
            json_decref(note);
            return gerr_set(err,
                            "%s was confirmed at %s (refs/notes/confirm), not at %s: give "
                            "--images and --epochs as then",
                            t->id, a, b);
        }
        json_int_t had = (json_int_t)json_array_size(json_object_get(note, "seeds"));
        if (had > k)
            k = (int)had;
    } else {
        note =
            json_pack("{s:{s:I, s:i}}", "fidelity", "images", (json_int_t)images, "epochs", epochs);
    }
    json_t *seeds = json_array(), *runs = json_object_get(note, "runs");
    for (int i = 1; i <= k; i++)
        json_array_append_new(seeds, json_integer(i));
    json_object_set_new(note, "seeds", seeds);
    if (!json_is_array(runs))
        json_object_set_new(note, "runs", json_array());
    t->note = note;
    t->n_planned = k;
    return 0;
}

/* Saves the outcome of seed's run of t (res: the worker's result, or NULL
 * with why). weights: where the worker was told to keep them. */
static int record_run(session *s, target *t, unsigned long seed, const char *res, const char *why,
                      const char *weights, gerr *err)
{
    json_t *o = res ? json_loads(res, 0, NULL) : NULL;
    const char *st = json_string_value(json_object_get(o, "status"));
    bool ok =
        st && !strcmp(st, "ok") && isfinite(num(o, "test_acc")) && isfinite(num(o, "val_acc"));
    json_t *r = json_pack("{s:I, s:s}", "seed", (json_int_t)seed, "status",
                          ok   ? "ok"
                          : st ? st
                               : "failed");
    static const char *const keys[] = {"val_acc", "test_acc", "params", "flops", "seconds"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        json_t *v = json_object_get(o, keys[k]);
        json_object_set_new(r, keys[k],
                            json_is_integer(v) ? json_incref(v) : num_or_null(num(o, keys[k])));
    }
    struct stat sb;
    if (ok && weights && stat(weights, &sb) == 0) {
        const char *rel = strstr(weights, "/.gevo/weights/");
        json_object_set_new(r, "weights", json_string(rel ? rel + 1 : weights));
    }
    const char *msg = json_string_value(json_object_get(o, "message"));
    if (!ok)
        json_object_set_new(r, "message",
                            json_string(why && why[0] ? why
                                        : msg         ? msg
                                        : o           ? "no test accuracy"
                                                      : "no result"));
    json_decref(o);
    /* replaces an earlier (failed) run of the seed */
    json_t *runs = json_object_get(t->note, "runs");
    size_t i;
    json_t *e;
    json_array_foreach(runs, i, e)
    {
        if ((unsigned long)json_integer_value(json_object_get(e, "seed")) == seed) {
            json_array_remove(runs, i);
            break;
        }
    }
    json_array_append_new(runs, r);
    return save_note(s, t, err);
}

/* ---- running ---------------------------------------------------------------- */

typedef struct run {
    evaluator *ev;
    session *s;
    target *t;
    size_t n;
    confirm_opts o;
    char work[2048], data[2048];
    long images;
    int epochs;
    int done, total;
    confirm_listener fn;
    void *ctx;
} run;

static void emit(run *r, confirm_event *ev)
{
    ev->runs_done = r->done;
    ev->runs_total = r->total;
    if (r->fn)
        r->fn(r->ctx, ev);
}

/* "c-ID-sS": seed S of ID, in confirm's own work folder. */
static void job_name(char *buf, size_t size, const char *id, unsigned long seed)
{
    snprintf(buf, size, "c-%s-s%lu", id, seed);
}

static bool parse_job(const run *r, const char *job, size_t *ti, unsigned long *seed)
{
    for (size_t i = 0; i < r->n; i++)
        for (int k = 1; k <= r->t[i].n_planned; k++) {
            char name[EVALUATOR_ID_MAX];
            job_name(name, sizeof name, r->t[i].id, (unsigned long)k);
            if (!strcmp(name, job)) {
                *ti = i;
                *seed = (unsigned long)k;
                return true;
            }
        }
    return false;
}

int confirm_weights_path(session *s, const char *id, unsigned long seed, char *buf, size_t size,
                         gerr *err)
{
    char name[SESSION_ID_MAX + 40];
    snprintf(name, sizeof name, "%s.confirm-%lu", id, seed);
    return weights_path(s, name, buf, size, err);
}

/* The weights folder (with .gevo/.gitignore: core/weights_store.h) and
 * confirm's own work folder. */
static int prepare_dirs(run *r, gerr *err)
{
    if (weights_prepare(r->s, err))
        return -1;
    snprintf(r->work, sizeof r->work, "%s/.gevo/confirm", session_workdir(r->s));
    if (mkdir(r->work, 0777) && errno != EEXIST)
        return gerr_errno(err, "%s: cannot create", r->work);
    return 0;
}

static int submit(run *r, target *t, unsigned long seed, gerr *err)
{
    char job[EVALUATOR_ID_MAX], genome[2200], weights[4096];
    char subset[32], epochs[32], seedv[32];
    job_name(job, sizeof job, t->id, seed);
    char *src = NULL;
    if (confirm_weights_path(r->s, t->id, seed, weights, sizeof weights, err) ||
        session_genome(r->s, t->id, &src, err))
        return -1;
    snprintf(genome, sizeof genome, "%s/%s.net", r->work, t->id);
    int rc = file_write(genome, src, strlen(src), err);
    free(src);
    if (rc)
        return -1;
    const char *args[20];
    int na = 0;
    args[na++] = "--data";
    args[na++] = r->data;
    const char *resize = session_config_get(r->s, "resize");
    if (resize && resize[0]) {
        args[na++] = "--resize";
        args[na++] = resize;
    }
    if (r->images > 0) {
        snprintf(subset, sizeof subset, "%ld", r->images);
        args[na++] = "--subset";
        args[na++] = subset;
    }
    if (r->epochs > 0) {
        snprintf(epochs, sizeof epochs, "%d", r->epochs);
        args[na++] = "--epochs";
        args[na++] = epochs;
    }
    snprintf(seedv, sizeof seedv, "%lu", seed);
    args[na++] = "--seed";
    args[na++] = seedv;
    args[na++] = "--weights";
    args[na++] = weights;
    args[na] = NULL;
    evaluator_job j = {.id = job,
                       .genome = genome,
                       .args = args,
                       .time_limit = r->o.time_limit,
                       .threads = r->o.threads};
    if (evaluator_submit(r->ev, &j, err))
        return -1;
    confirm_event ce = {.kind = CONFIRM_EV_QUEUED, .id = t->id, .seed = seed};
    emit(r, &ce);
    return 0;
}

static void maybe_complete(run *r, target *t)
{
    if (t->announced || !json_is_true(json_object_get(t->note, "complete")))
        return;
    t->announced = true;
    confirm_event ce = {.kind = CONFIRM_EV_COMPLETE,
                        .id = t->id,
                        .val_acc = num(t->note, "val_mean"),
                        .val_std = num(t->note, "val_std"),
                        .test_acc = num(t->note, "test_mean"),
                        .test_std = num(t->note, "test_std")};
    emit(r, &ce);
}

static int on_event(run *r, evaluator_event *ev, gerr *err)
{
    size_t ti;
    unsigned long seed;
    if (!parse_job(r, ev->id, &ti, &seed))
        return 0; /* a run of another confirmation: left alone */
    target *t = &r->t[ti];
    if (ev->kind == EVALUATOR_STARTED) {
        confirm_event ce = {
            .kind = CONFIRM_EV_STARTED, .id = t->id, .seed = seed, .reattached = ev->reattached};
        emit(r, &ce);
        return 0;
    }
    if (ev->kind == EVALUATOR_PROGRESS) {
        if (ev->steps > 0 && ev->step >= 0) {
            confirm_event ce = {.kind = CONFIRM_EV_PROGRESS,
                                .id = t->id,
                                .seed = seed,
                                .progress = (double)ev->step / (double)ev->steps};
            emit(r, &ce);
        }
        return 0;
    }
    json_t *had = run_of(t->note, seed);
    if (!(had && run_ok(had))) {
        char weights[4096];
        if (confirm_weights_path(r->s, t->id, seed, weights, sizeof weights, err))
            return -1;
        const char *res = ev->kind == EVALUATOR_FINISHED ? ev->result_json : NULL;
        if (record_run(r->s, t, seed, res, ev->kind == EVALUATOR_FAILED ? ev->reason : NULL,
                       weights, err))
            return -1;
        r->done++;
        json_t *now = run_of(t->note, seed);
        confirm_event ce = {.kind = CONFIRM_EV_ENDED,
                            .id = t->id,
                            .seed = seed,
                            .ok = run_ok(now),
                            .val_acc = num(now, "val_acc"),
                            .test_acc = num(now, "test_acc"),
                            .message = json_string_value(json_object_get(now, "message"))};
        emit(r, &ce);
        maybe_complete(r, t);
    }
    return evaluator_collected(r->ev, ev->id, err);
}

/* The fidelity from the options over the session's top rung. */
static int fidelity(session *s, const confirm_opts *o, long *images, int *epochs, gerr *err)
{
    rungs rs;
    if (rungs_session(s, &rs, err))
        return -1;
    const rungs_fidelity *top = &rs.r[rs.n - 1];
    *images = o->images >= 0 ? o->images : top->images;
    *epochs = o->epochs >= 0 ? o->epochs : top->epochs;
    return 0;
}

static int loop(run *r, volatile sig_atomic_t *stop, gerr *err)
{
    while (evaluator_active(r->ev) > 0) {
        if (stop && *stop)
            return 1;
        struct pollfd pfd[64];
        int nfd = evaluator_pollfds(r->ev, pfd, 64);
        int tmo = evaluator_timeout_ms(r->ev);
        if (tmo < 0 || tmo > 500)
            tmo = 500; /* *stop is looked at twice a second */
        poll(pfd, (nfds_t)nfd, tmo);
        evaluator_event evs[8];
        int k;
        while ((k = evaluator_poll(r->ev, evs, 8)) > 0) {
            int rc = 0;
            for (int i = 0; i < k; i++) {
                if (rc == 0)
                    rc = on_event(r, &evs[i], err);
                evaluator_event_clear(&evs[i]);
            }
            if (rc)
                return -1;
        }
    }
    return 0;
}

int confirm_run(session *s, const char (*ids)[SESSION_ID_MAX], size_t n, const confirm_opts *o,
                confirm_listener fn, void *ctx, volatile sig_atomic_t *stop, gerr *err)
{
    if (!session_is_writer(s))
        return gerr_set(err, "gevo confirm needs the session's write lock");
    int k = o->seeds > 0 ? o->seeds : CONFIRM_DEFAULT_SEEDS;
    if (k < 2 || k > CONFIRM_MAX_SEEDS)
        return gerr_set(err, "--seeds: %d runs (2 to %d give a spread)", k, CONFIRM_MAX_SEEDS);
    run r = {.s = s, .n = n, .o = *o, .fn = fn, .ctx = ctx};
    if (fidelity(s, o, &r.images, &r.epochs, err) || prepare_dirs(&r, err))
        return -1;
    const char *data = o->data_dir ? o->data_dir : session_config_get(s, "data");
    snprintf(r.data, sizeof r.data, "%s", data && data[0] ? data : DATA_DEFAULT_DIR);
    r.t = calloc(n + 1, sizeof *r.t);
    if (!r.t)
        return gerr_set(err, "out of memory");
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ids[i], ids[j])) {
                gerr_set(err, "%s is given twice", ids[i]);
                goto done;
            }
        snprintf(r.t[i].id, sizeof r.t[i].id, "%s", ids[i]);
        if (target_open(s, &r.t[i], r.images, r.epochs, k, err))
            goto done;
        for (int sd = 1; sd <= r.t[i].n_planned; sd++) {
            json_t *had = run_of(r.t[i].note, (unsigned long)sd);
            r.total++;
            r.done += had && run_ok(had);
        }
    }
    session_eval_opts eo = {.work_dir = r.work,
                            .engine = o->evaluator,
                            .options = o->evaluator_options,
                            .slots = o->slots,
                            .threads = o->threads};
    r.ev = session_eval_new(s, &eo, err);
    if (!r.ev)
        goto done;
    confirm_event plan = {.kind = CONFIRM_EV_PLAN, .id = ""};
    emit(&r, &plan);
    /* workers of an earlier gevo confirm first: what they left is kept */
    if (evaluator_reattach(r.ev, err) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        target *t = &r.t[i];
        for (int sd = 1; sd <= t->n_planned; sd++) {
            char job[EVALUATOR_ID_MAX];
            job_name(job, sizeof job, t->id, (unsigned long)sd);
            json_t *had = run_of(t->note, (unsigned long)sd);
            if ((had && run_ok(had)) || evaluator_tracks(r.ev, job))
                continue;
            if (submit(&r, t, (unsigned long)sd, err))
                goto done;
        }
        maybe_complete(&r, t);
    }
    rc = loop(&r, stop, err);
done:
    if (r.ev)
        evaluator_free(r.ev);
    for (size_t i = 0; i < n; i++)
        json_decref(r.t[i].note);
    free(r.t);
    return rc;
}

/* ---- reading ------------------------------------------------------------------ */

int confirm_read(session *s, const char *id, confirm_info *out, gerr *err)
{
    memset(out, 0, sizeof *out);
    out->val_mean = out->val_std = out->test_mean = out->test_std = NAN;
    out->params = out->flops = NAN;
    char *text = NULL;
    if (session_get_note(s, CONFIRM_NOTE, id, &text, err))
        return -1;
    if (!text)
        return 0;
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_object(o)) {
        json_decref(o);
        return gerr_set(err, "%s's confirm note (refs/notes/confirm) is not a JSON object", id);
    }
    out->present = true;
    json_t *fid = json_object_get(o, "fidelity");
    out->images = (long)json_integer_value(json_object_get(fid, "images"));
    out->epochs = (int)json_integer_value(json_object_get(fid, "epochs"));
    out->n_seeds = (int)json_array_size(json_object_get(o, "seeds"));
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(o, "runs"), i, r)
    {
        double v = num(r, "val_acc"), t = num(r, "test_acc");
        if (!run_ok(r) || !isfinite(v) || !isfinite(t) || out->n == CONFIRM_MAX_SEEDS)
            continue;
        out->val[out->n] = v;
        out->test[out->n] = t;
        out->n++;
        if (isfinite(num(r, "params")))
            out->params = num(r, "params");
        if (isfinite(num(r, "flops")))
            out->flops = num(r, "flops");
    }
    /* recomputed from the runs: the note's own aggregate is not trusted */
    welch_mean_sd(out->val, out->n, &out->val_mean, &out->val_std);
    welch_mean_sd(out->test, out->n, &out->test_mean, &out->test_std);
    out->complete = json_is_true(json_object_get(o, "complete"));
    json_decref(o);
    return 0;
}
