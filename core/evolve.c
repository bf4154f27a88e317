/* evolve: the generation loop (see evolve.h).
 *
 * What lives where: every decision and result is in the session as soon
 * as it is made; this object only keeps the current generation's
 * individuals in memory, with what is not stored (proposals in flight,
 * training progress). Opening a session rebuilds that state from the
 * session: generation = the journal's last + 1, an individual's state from
 * its review and result notes, and the evaluator's work folder for
 * trainings that were running. */
#include "core/evolve.h"
#include "core/weights_store.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/evaluator.h"
#include "core/evolve_propose.h"
#include "core/llm_settings.h"
#include "core/nsga2.h"
#include "core/session_eval.h"
#include "engine/base/clock.h"
#include "engine/base/file.h"
#include "engine/base/grow.h"
#include "engine/base/num.h"
#include "engine/base/text.h"
#include "engine/data.h"
#include "engine/net.h"
#include "engine/train.h"

#define MAX_LOG        256
#define EVOLVE_BACKLOG 32

typedef struct ind {
    evolve_ind pub;
    char op[32];
    char persona[64];
    char message[1100];
    char *reasoning; /* streamed reasoning while proposing */
    int job;         /* proposal job while proposing, else -1 */
    bool population; /* a survivor of the previous generation */
    nsga2_measure measure;
    bool measured; /* measure comes from a result */
    int tried;     /* the highest rung trained or tried at */
} ind;

/* A promotion being trained: job "<id>.r<rung>" in the work folder. */
typedef struct promo {
    char id[SESSION_ID_MAX];
    int rung;
} promo;

typedef struct hash_entry {
    uint64_t hash;
    char id[SESSION_ID_MAX];
} hash_entry;

struct evolve {
    session *s;
    evolve_config cfg;
    int gen;
    ind *inds;
    size_t n, cap;
    evolve_ind *view; /* evolve_list's answer */
    size_t view_cap;
    evaluator *ev;
    evolve_proposer *prop;
    nsga2_objectives objs;
    rng rng;
    double t0;
    char data_dir[1024];
    char work_dir[1400];
    memlimit mem;       /* what one training may allocate; proposals and edits are checked */
    hash_entry *hashes; /* programs already trained, for de-duplication */
    size_t n_hashes, cap_hashes;
    void (*listen)(void *ctx, const evolve_event *ev);
    void *listen_ctx;
    bool next_pending; /* proposals of a new generation still to start */
    int to_propose;    /* proposals still to start this generation */
    int max_empty;     /* see evolve_config.max_empty_generations */
    int empty_run;     /* generations closed in a row without offspring */
    char last_proposal_error[1100];
    char stuck[1200]; /* the stop cause of empty generations, "" if none */
    /* successive halving (core/rungs.h) */
    rungs rungs;
    int eta;
    promo *promos; /* in flight */
    size_t n_promos, alloc_promos;
    bool promo_dirty;  /* results changed since no promotion was found */
    bool no_promotion; /* evolve_set_promotion(e, false) */
    /* events of evolve_open, before there is a listener */
    struct backlog {
        double time;
        char id[SESSION_ID_MAX];
        char text[600];
    } backlog[EVOLVE_BACKLOG];
    int n_backlog;
    /* the noise measurement (core/noise.h) and selection's tolerance */
    noise_info noise;
    double epsilon;
    char epsilon_how[96];
};

/* ---- small helpers ---------------------------------------------------- */

static void logf_(evolve *e, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(evolve *e, const char *id, const char *fmt, ...)
{
    if (!e->listen && e->n_backlog >= EVOLVE_BACKLOG)
        return;
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* events carry text from the LLM (summaries, errors): safe to show,
       and without the key a server may have echoed */
    char *clean = session_scrub(e->s, text);
    char *safe = text_safe(clean ? clean : text, 0);
    free(clean);
    evolve_event ev = {
        .time = clock_seconds() - e->t0, .id = id ? id : "", .text = safe ? safe : text};
    if (e->listen) {
        e->listen(e->listen_ctx, &ev);
    } else {
        /* before a listener (evolve_open's own events): kept for it */
        struct backlog *b = &e->backlog[e->n_backlog++];
        b->time = ev.time;
        snprintf(b->id, sizeof b->id, "%s", ev.id);
        snprintf(b->text, sizeof b->text, "%s", ev.text);
    }
    free(safe);
}

void evolve_set_listener(evolve *e, void (*fn)(void *ctx, const evolve_event *ev), void *ctx)
{
    e->listen = fn;
    e->listen_ctx = ctx;
    for (int i = 0; fn && i < e->n_backlog; i++) {
        evolve_event ev = {
            .time = e->backlog[i].time, .id = e->backlog[i].id, .text = e->backlog[i].text};
        fn(ctx, &ev);
    }
    if (fn)
        e->n_backlog = 0;
}

const char *evolve_state_name(evolve_state s)
{
    switch (s) {
    case EVOLVE_PROPOSING: return "proposing";
    case EVOLVE_PENDING: return "pending";
    case EVOLVE_APPROVED: return "approved";
    case EVOLVE_TRAINING: return "training";
    case EVOLVE_TRAINED: return "trained";
    case EVOLVE_REJECTED: return "rejected";
    case EVOLVE_FAILED: return "failed";
    }
    return "?";
}

/* The presets' evolution settings, one row each (screening's rungs are in
 * core/rungs.c). */
static const struct evolve_preset {
    const char *name;
    int population, offspring;
    double p_crossover, p_mutation, p_eot;
    int elitism;
    double train_time_limit;
} evolve_presets[] = {
    /* the interactive default: a generation in minutes on 2 cores */
    {"quick", 4, 4, 0.25, 1.0, 0.2, 1, 900},
    /* LLM-GE's settings */
    {"paper", 44, 44, 0.35, 0.8, 0.25, 2, 3600 * 4},
};

int evolve_config_preset(evolve_config *c, const char *preset)
{
    memset(c, 0, sizeof *c);
    if (!preset || !strcmp(preset, "default"))
        preset = "quick";
    const struct evolve_preset *p = NULL;
    for (size_t i = 0; i < sizeof evolve_presets / sizeof *evolve_presets; i++)
        if (!strcmp(preset, evolve_presets[i].name))
            p = &evolve_presets[i];
    if (!p)
        return -1;
    c->preset = p->name;
    c->population = p->population;
    c->offspring = p->offspring;
    c->p_crossover = p->p_crossover;
    c->p_mutation = p->p_mutation;
    c->p_eot = p->p_eot;
    c->elitism = p->elitism;
    c->train_time_limit = p->train_time_limit;
    /* screening comes from the preset's rungs (core/rungs.c) */
    c->train_subset = -1;
    c->train_epochs = -1;
    c->review = EVOLVE_REVIEW_MANUAL;
    c->slots = EVALUATOR_DEFAULT_SLOTS;
    c->threads = EVALUATOR_DEFAULT_THREADS;
    c->repair_attempts = 2;
    c->evaluator = NULL; /* the session's "evaluator" setting, else local */
    c->seed = 1;
    return 0;
}

static ind *find_ind(evolve *e, const char *id)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->inds[i].pub.id[0] && !strcmp(e->inds[i].pub.id, id))
            return &e->inds[i];
    return NULL;
}

/* The public view's strings are the individual's own fields: pointers into
 * e->inds, so they are set again whenever the array moves. */
static void point_pub_strings(ind *d)
{
    d->pub.op = d->op;
    d->pub.persona = d->persona;
    d->pub.message = d->message;
}

static ind *new_ind(evolve *e)
{
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 16;
        ind *ni = realloc(e->inds, nc * sizeof *ni);
        if (!ni)
            return NULL;
        e->inds = ni;
        e->cap = nc;
        for (size_t i = 0; i < e->n; i++)
            point_pub_strings(&e->inds[i]);
    }
    ind *d = &e->inds[e->n++];
    memset(d, 0, sizeof *d);
    d->job = -1;
    d->pub.val_acc = -1;
    d->pub.params = -1;
    d->pub.flops = d->pub.seconds = -1;
    d->pub.slot = (int)(e->n - 1);
    point_pub_strings(d);
    d->measure.failed = true;
    return d;
}

static void add_hash(evolve *e, uint64_t h, const char *id)
{
    for (size_t i = 0; i < e->n_hashes; i++)
        if (e->hashes[i].hash == h)
            return;
    if (e->n_hashes == e->cap_hashes) {
        size_t nc = e->cap_hashes ? e->cap_hashes * 2 : 64;
        hash_entry *nh = realloc(e->hashes, nc * sizeof *nh);
        if (!nh)
            return; /* de-duplication is an optimisation only */
        e->hashes = nh;
        e->cap_hashes = nc;
    }
    e->hashes[e->n_hashes].hash = h;
    snprintf(e->hashes[e->n_hashes].id, SESSION_ID_MAX, "%s", id);
    e->n_hashes++;
}

static const char *find_hash(evolve *e, uint64_t h)
{
    for (size_t i = 0; i < e->n_hashes; i++)
        if (e->hashes[i].hash == h)
            return e->hashes[i].id;
    return NULL;
}

/* The canonical hash of an individual's genome (0 when it does not
 * compile, which a stored individual never should). */
static uint64_t genome_hash(evolve *e, const char *id)
{
    char *src = NULL;
    if (session_genome(e->s, id, &src, NULL))
        return 0;
    net_graph *g = NULL;
    net_error err;
    uint64_t h = 0;
    if (net_compile(src, strlen(src), id, NULL, &g, &err) == 0)
        h = g->hash;
    net_graph_free(g);
    free(src);
    return h;
}

/* Takes the objectives of a result note into d. */
static void apply_result(ind *d, const char *json)
{
    nsga2_measure m;
    json_t *o = json_loads(json ? json : "", 0, NULL);
    nsga2_measure_from_json(&m, o, NULL);
    d->tried = rungs_result_tried(o);
    json_decref(o);
    d->measure = m;
    d->measured = true;
    d->pub.rung = m.rung;
    d->pub.val_acc = m.failed ? -1 : m.val_acc;
    d->pub.params = (long)m.params;
    d->pub.flops = m.flops;
    d->pub.seconds = m.seconds;
}

/* ---- reading the session ----------------------------------------------- */

static void load_info(evolve *e, ind *d, const session_info *si)
{
    snprintf(d->pub.id, sizeof d->pub.id, "%s", si->id);
    d->pub.generation = si->generation;
    snprintf(d->op, sizeof d->op, "%s", si->op);
    snprintf(d->persona, sizeof d->persona, "%s", si->persona);
    d->pub.n_parents = si->n_parents;
    for (int k = 0; k < si->n_parents && k < 2; k++)
        snprintf(d->pub.parents[k], SESSION_ID_MAX, "%s", si->parents[k]);
    char *res = NULL;
    if (session_get_result(e->s, si->id, &res, NULL) == 0 && res) {
        apply_result(d, res);
        bool ok = !d->measure.failed;
        d->pub.state = ok ? EVOLVE_TRAINED : EVOLVE_FAILED;
        if (!ok) {
            json_t *o = json_loads(res, 0, NULL);
            const char *st = o ? json_string_value(json_object_get(o, "status")) : NULL;
            const char *msg = o ? json_string_value(json_object_get(o, "message")) : NULL;
            snprintf(d->message, sizeof d->message, "%s%s%s", st ? st : "failed", msg ? ": " : "",
                     msg ? msg : "");
            json_decref(o);
        }
        free(res);
        return;
    }
    free(res);
    if (!strcmp(si->decision, "rejected"))
        d->pub.state = EVOLVE_REJECTED;
    else if (!strncmp(si->decision, "approved", 8))
        d->pub.state = EVOLVE_APPROVED; /* not yet trained */
    else
        d->pub.state = EVOLVE_PENDING; /* no review, or notes only ("pending") */
}

/* The review policy: approves proposal d (not yet reviewed, described by
 * si) when the policy says so; otherwise it waits for the researcher. */
static void review_by_policy(evolve *e, ind *d, const session_info *si)
{
    bool approve = e->cfg.review == EVOLVE_REVIEW_AUTO ||
                   (e->cfg.review == EVOLVE_REVIEW_AUTO_LIMITS && si->params >= 0 &&
                    si->params <= e->cfg.auto_max_params);
    if (e->cfg.review == EVOLVE_REVIEW_AUTO_LIMITS && si->params < 0) {
        long params = -1;
        char *src = NULL;
        if (session_genome(e->s, d->pub.id, &src, NULL) == 0) {
            net_graph *g = NULL;
            net_error err;
            if (net_compile(src, strlen(src), d->pub.id, NULL, &g, &err) == 0)
                params = g->params;
            net_graph_free(g);
        }
        free(src);
        approve = params >= 0 && params <= e->cfg.auto_max_params;
    }
    if (approve) {
        session_review r = {
            .decision = "approved", .reason = "review policy: automatic", .author = "gevo"};
        if (session_set_review(e->s, d->pub.id, &r, NULL) == 0)
            d->pub.state = EVOLVE_APPROVED;
    }
}

static int last_recorded(const session_journal_entry *je, void *arg)
{
    int *last = arg;
    if (je->generation > *last && strstr(je->population_json ? je->population_json : "", "\"id\""))
        *last = je->generation;
    return 0;
}

/* The failed proposals of the current generation that were not asked
 * again for (no later record, no individual of inds, names them in
 * "retry_of"): failed, each in a slot of its own. */
static int load_failed(evolve *e, const session_info *inds, size_t n_inds, gerr *err)
{
    session_failed_info *f = NULL;
    size_t n = 0;
    if (session_failed_list(e->s, e->gen, &f, &n, err))
        return -1;
    for (size_t i = 0; i < n; i++) {
        bool again = false;
        for (size_t k = 0; k < n && !again; k++)
            again = !strcmp(f[k].retry_of, f[i].id);
        for (size_t k = 0; k < n_inds && !again; k++)
            again = !strcmp(inds[k].retry_of, f[i].id);
        if (again)
            continue;
        ind *d = new_ind(e);
        if (!d) {
            free(f);
            return gerr_set(err, "out of memory");
        }
        d->pub.state = EVOLVE_FAILED;
        d->pub.generation = f[i].generation;
        snprintf(d->pub.failed, sizeof d->pub.failed, "%s", f[i].id);
        snprintf(d->op, sizeof d->op, "%s", f[i].op);
        snprintf(d->persona, sizeof d->persona, "%s", f[i].persona);
        d->pub.n_parents = f[i].n_parents;
        memcpy(d->pub.parents, f[i].parents, sizeof d->pub.parents);
        snprintf(d->message, sizeof d->message, "%s", f[i].error);
    }
    free(f);
    return 0;
}

/* Rebuilds the current generation from the session. */
static int load_generation(evolve *e, gerr *err)
{
    gerr serr = GERR_INIT;
    session *s = e->s;
    /* the generation being built follows the last journal record of a
       population, whether or not that generation had offspring (the
       individuals' tags alone would reopen a generation that had none) */
    int last = -1;
    if (session_journal_foreach(s, last_recorded, &last, &serr))
        return gerr_set(err, "%s", serr.msg);
    if (last < 0)
        return gerr_set(err, "the session has no journal record of a population");
    if (last >= SESSION_GENERATION_MAX)
        return gerr_set(err, "the journal is at generation %d, the last one a session can have",
                        last);
    char(*ids)[SESSION_ID_MAX] = NULL;
    size_t np = 0;
    if (session_journal_population(s, last, &ids, &np, &serr))
        return gerr_set(err, "%s", serr.msg);
    /* the survivors of generation last are this generation's population */
    for (size_t i = 0; i < np; i++) {
        session_info si;
        if (session_info_get(s, ids[i], &si, &serr))
            continue;
        ind *d = new_ind(e);
        if (!d) {
            free(ids);
            return gerr_set(err, "out of memory");
        }
        load_info(e, d, &si);
        d->population = true;
        d->pub.survivor = true;
        /* a survivor is by definition approved (the seed is the
           researcher's own) */
        if (d->pub.state == EVOLVE_PENDING)
            d->pub.state = EVOLVE_APPROVED;
    }
    free(ids);
    e->gen = last + 1;
    session_info *list = NULL;
    size_t n = 0;
    if (session_list(s, e->gen, &list, &n, &serr))
        return gerr_set(err, "%s", serr.msg);
    for (size_t i = 0; i < n; i++) {
        ind *d = new_ind(e);
        if (!d) {
            free(list);
            return gerr_set(err, "out of memory");
        }
        load_info(e, d, &list[i]);
        /* proposed before a stop that came ahead of its review: the
           policy decides now, as it would have then */
        if (d->pub.state == EVOLVE_PENDING && !list[i].decision[0])
            review_by_policy(e, d, &list[i]);
    }
    int rc = load_failed(e, list, n, err);
    free(list);
    if (rc)
        return -1;
    /* programs with results, from every generation, for de-duplication */
    session_info *all = NULL;
    size_t na = 0;
    if (session_list(s, -1, &all, &na, &serr) == 0) {
        for (size_t i = 0; i < na; i++)
            if (strcmp(all[i].status, "pending")) {
                uint64_t h = genome_hash(e, all[i].id);
                if (h)
                    add_hash(e, h, all[i].id);
            }
    }
    free(all);
    return 0;
}

/* ---- training ------------------------------------------------------------ */

static void fail_untrained(evolve *e, ind *d, const char *reason);

/* Writes id's genome to <work>/<id>.net (path), for the evaluator to copy. */
static int write_genome(evolve *e, const char *id, char *path, size_t size, gerr *err)
{
    char *src = NULL;
    if (session_genome(e->s, id, &src, err))
        return -1;
    snprintf(path, size, "%s/%s.net", e->work_dir, id);
    int rc = file_write(path, src, strlen(src), err);
    free(src);
    return rc;
}

/* The worker's options of a training at a fidelity (images 0: all;
 * epochs 0: the program's) and seed; with_test also evaluates the test
 * split (for reporting: screening of the paper preset). */
typedef struct train_args {
    const char *v[16];
    int n;
    char subset[32], epochs[32], seed[32], weights[4096];
} train_args;

static void train_args_make(evolve *e, train_args *a, long images, int epochs, unsigned long seed,
                            bool with_test)
{
    int na = 0;
    a->v[na++] = "--data";
    a->v[na++] = e->data_dir;
    const char *resize = session_config_get(e->s, "resize");
    if (resize && resize[0]) {
        a->v[na++] = "--resize";
        a->v[na++] = resize;
    }
    if (images > 0) {
        snprintf(a->subset, sizeof a->subset, "%ld", images);
        a->v[na++] = "--subset";
        a->v[na++] = a->subset;
    }
    if (epochs > 0) {
        snprintf(a->epochs, sizeof a->epochs, "%d", epochs);
        a->v[na++] = "--epochs";
        a->v[na++] = a->epochs;
    }
    snprintf(a->seed, sizeof a->seed, "%lu", seed);
    a->v[na++] = "--seed";
    a->v[na++] = a->seed;
    if (!with_test)
        a->v[na++] = "--no-test";
    a->v[na] = NULL;
    a->n = na;
}

/* Adds --weights: where the worker saves what it trained (to; NULL: id's
 * kept weights, core/weights_store.h), unless gevo.json keep_weights is
 * "none". A failure is logged: the training goes on without. */
static void train_args_weights(evolve *e, train_args *a, const char *id, const char *to)
{
    gerr serr = GERR_INIT;
    weights_policy wp;
    if (weights_policy_get(e->s, &wp, &serr) ||
        (wp != WEIGHTS_KEEP_NONE &&
         (weights_prepare(e->s, &serr) ||
          (!to && weights_path(e->s, id, a->weights, sizeof a->weights, &serr))))) {
        logf_(e, id, "%s: its weights will not be kept: %s", id, serr.msg);
        return;
    }
    if (wp == WEIGHTS_KEEP_NONE)
        return;
    if (to)
        snprintf(a->weights, sizeof a->weights, "%s", to);
    a->v[a->n++] = "--weights";
    a->v[a->n++] = a->weights;
    a->v[a->n] = NULL;
}

static int submit_training(evolve *e, ind *d, gerr *err)
{
    gerr serr = GERR_INIT;
    char *src = NULL;
    if (session_genome(e->s, d->pub.id, &src, &serr))
        return gerr_set(err, "%s", serr.msg);
    net_graph *g = NULL;
    net_error nerr;
    if (net_compile(src, strlen(src), d->pub.id, NULL, &g, &nerr))
        g = NULL; /* the worker reports the error */
    /* a program trained before reuses its result */
    uint64_t h = g ? g->hash : 0;
    const char *dup = h ? find_hash(e, h) : NULL;
    if (dup && strcmp(dup, d->pub.id)) {
        char *res = NULL;
        if (session_get_result(e->s, dup, &res, &serr) == 0 && res) {
            int rc = session_set_result(e->s, d->pub.id, res, &serr);
            if (rc == 0) {
                apply_result(d, res);
                d->pub.state = d->measure.failed ? EVOLVE_FAILED : EVOLVE_TRAINED;
                snprintf(d->message, sizeof d->message, "same program as %s: its result reused",
                         dup);
                logf_(e, d->pub.id, "%s: same program as %s, result reused", d->pub.id, dup);
                if (weights_share(e->s, dup, d->pub.id, &serr))
                    logf_(e, d->pub.id, "%s: weights not kept: %s", d->pub.id, serr.msg);
                free(res);
                net_graph_free(g);
                free(src);
                return 0;
            }
            free(res);
        } else {
            free(res);
        }
    }
    /* what its training will allocate, for the evaluator's memory budget;
       a program approved under a larger limit than today's fails here,
       with why, rather than in a worker */
    train_memory mem = {0};
    if (g && memlimit_check(&e->mem, g, &serr)) {
        net_graph_free(g);
        free(src);
        fail_untrained(e, d, serr.msg);
        return 0;
    }
    if (g && memlimit_plan(&e->mem, g, &mem, NULL))
        mem.bytes = 0; /* not known: the evaluator counts the limit */
    net_graph_free(g);
    free(src);
    char path[1600];
    if (write_genome(e, d->pub.id, path, sizeof path, err))
        return -1;
    train_args ta;
    train_args_make(e, &ta, e->rungs.r[0].images, e->rungs.r[0].epochs, e->cfg.seed,
                    strcmp(e->cfg.preset ? e->cfg.preset : "quick", "quick") != 0);
    /* the worker saves its weights where the session keeps them */
    train_args_weights(e, &ta, d->pub.id, NULL);
    const char *const *args = ta.v;
    evaluator_job job = {.id = d->pub.id,
                         .genome = path,
                         .args = args,
                         .time_limit = e->cfg.train_time_limit,
                         .threads = e->cfg.threads,
                         .memory = (double)mem.bytes};
    if (evaluator_submit(e->ev, &job, err))
        return gerr_prefix(err, "%s", d->pub.id);
    d->pub.state = EVOLVE_TRAINING;
    d->pub.progress = 0;
    logf_(e, d->pub.id, "%s: training queued", d->pub.id);
    if (h)
        add_hash(e, h, d->pub.id);
    return 0;
}

/* Tests make moments such as the one between a worker's outcome and its
 * note reachable: GEVO_TEST_STOP_AT=NAME stops this process (SIGSTOP) at
 * the point so named, for a test to kill it there, whatever the speed of
 * the machine. */
static void test_stop(const char *point)
{
    const char *at = getenv("GEVO_TEST_STOP_AT");
    if (at && !strcmp(at, point))
        raise(SIGSTOP);
}

/* The result note of an outcome: the result itself, or one with status
 * error and the reason, so a reopened session knows what happened.
 * Malloc'd, NULL when out of memory. */
static char *outcome_note(const evaluator_event *ev)
{
    if (ev->kind == EVALUATOR_FINISHED && ev->result_json)
        return strdup(ev->result_json);
    json_t *o = json_pack("{s:s, s:s, s:n, s:n}", "status", "error", "message", ev->reason,
                          "val_acc", "params");
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return txt;
}

/* Saves an outcome as id's result note; only then is it collected, so a
 * stop in between leaves the worker's files for the next open. */
static int save_outcome(evolve *e, const char *id, const evaluator_event *ev, gerr *err)
{
    char *note = outcome_note(ev);
    if (!note)
        return gerr_set(err, "out of memory");
    test_stop("result-note");
    int rc = session_set_result(e->s, id, note, err);
    free(note);
    if (rc == 0 && evaluator_collected(e->ev, id, err))
        logf_(e, id, "%s: result saved, but not marked collected: %s", id, gerr_msg(err));
    return rc;
}

static void mark_failed(evolve *e, ind *d, const char *reason, bool saved)
{
    d->pub.state = EVOLVE_FAILED;
    d->measure.failed = true;
    d->measured = true;
    snprintf(d->message, sizeof d->message, "%s%s", reason, saved ? "" : " (not saved)");
    logf_(e, d->pub.id, "%s failed: %s", d->pub.id, reason);
}

static bool noise_job(const char *job, unsigned long *seed);
static bool promo_job(const char *job, char *id, int *rung);
static void on_noise_event(evolve *e, unsigned long seed, const evaluator_event *ev);
static void on_promotion_event(evolve *e, const char *id, int rung, const evaluator_event *ev);

/* Results of a worker: the note first, then the state. */
static void on_eval_event(evolve *e, evaluator_event *ev)
{
    gerr serr = GERR_INIT;
    unsigned long nseed;
    char pid[SESSION_ID_MAX];
    int prung;
    if (noise_job(ev->id, &nseed)) {
        on_noise_event(e, nseed, ev);
        return;
    }
    if (promo_job(ev->id, pid, &prung)) {
        on_promotion_event(e, pid, prung, ev);
        return;
    }
    ind *d = find_ind(e, ev->id);
    bool outcome = ev->kind == EVALUATOR_FINISHED || ev->kind == EVALUATOR_FAILED;
    if (outcome)
        e->promo_dirty = true; /* a new result: maybe a promotion */
    if (!d) {
        /* a worker of another generation (re-attached): its outcome is
           recorded unless a note already is */
        char *old = NULL;
        if (outcome && session_is_writer(e->s) &&
            session_get_result(e->s, ev->id, &old, NULL) == 0) {
            if (old || save_outcome(e, ev->id, ev, &serr) == 0)
                evaluator_collected(e->ev, ev->id, NULL);
            free(old);
        }
        return;
    }
    switch (ev->kind) {
    case EVALUATOR_STARTED:
        d->pub.state = EVOLVE_TRAINING;
        logf_(e, d->pub.id, "%s: training%s (pid %d)", d->pub.id,
              ev->reattached ? " (re-attached)" : "", ev->pid);
        break;
    case EVALUATOR_PROGRESS:
        d->pub.state = EVOLVE_TRAINING;
        if (ev->steps > 0 && ev->step >= 0)
            d->pub.progress = (double)ev->step / (double)ev->steps;
        break;
    case EVALUATOR_FINISHED:
        if (save_outcome(e, d->pub.id, ev, &serr) == 0) {
            apply_result(d, ev->result_json);
            d->pub.state = d->measure.failed ? EVOLVE_FAILED : EVOLVE_TRAINED;
            d->pub.progress = 1;
            if (d->measure.failed)
                snprintf(d->message, sizeof d->message, "%s: %s", ev->status, ev->reason);
            logf_(e, d->pub.id, "%s %s: val %.4f, %ld parameters", d->pub.id,
                  d->measure.failed ? ev->status : "trained",
                  d->measure.failed ? 0.0 : d->measure.val_acc, d->pub.params);
        } else {
            d->pub.state = EVOLVE_FAILED;
            snprintf(d->message, sizeof d->message, "result not saved: %s", serr.msg);
            logf_(e, d->pub.id, "%s: %s", d->pub.id, d->message);
        }
        break;
    case EVALUATOR_FAILED:
        mark_failed(e, d, ev->reason, save_outcome(e, d->pub.id, ev, &serr) == 0);
        break;
    }
}

/* A candidate that cannot be trained at all: its failure is its result
 * note, as a worker's would be, and no worker starts. */
static void fail_untrained(evolve *e, ind *d, const char *reason)
{
    evaluator_event ev;
    evaluator_event_init(&ev, EVALUATOR_FAILED, d->pub.id);
    snprintf(ev.reason, sizeof ev.reason, "%s", reason);
    char *note = outcome_note(&ev);
    bool saved = note && session_set_result(e->s, d->pub.id, note, NULL) == 0;
    free(note);
    mark_failed(e, d, reason, saved);
}

/* ---- the noise measurement --------------------------------------------------- */

/* Work-folder jobs that are not an individual's screening: "noise-S", the
 * seed's noise run with seed S. */
static bool noise_job(const char *job, unsigned long *seed)
{
    long v;
    if (strncmp(job, "noise-", 6) || num_long(job + 6, 0, 4000000000L, &v, "seed", NULL))
        return false;
    *seed = (unsigned long)v;
    return true;
}

static void update_epsilon(evolve *e)
{
    gerr err = GERR_INIT;
    double eps = 0;
    if (noise_epsilon(e->s, &e->noise, &eps, e->epsilon_how, sizeof e->epsilon_how, &err)) {
        snprintf(e->epsilon_how, sizeof e->epsilon_how, "off: %.80s", err.msg);
        eps = 0;
    }
    e->epsilon = eps;
    nsga2_objectives_tolerance(&e->objs, "val_acc", eps);
}

static bool noise_pending(const evolve *e)
{
    return e->noise.k > 0 && !e->noise.complete;
}

/* Starts the noise runs still owed (each once per process). */
static void submit_noise(evolve *e)
{
    if (!noise_pending(e) || !session_is_writer(e->s))
        return;
    for (int i = e->noise.n_runs; i < e->noise.k; i++) {
        unsigned long seed = noise_run_seed(&e->noise, i);
        char job[48], path[1600];
        snprintf(job, sizeof job, "noise-%lu", seed);
        if (evaluator_tracks(e->ev, job))
            continue;
        gerr err = GERR_INIT;
        train_args ta;
        train_args_make(e, &ta, e->noise.images, e->noise.epochs, seed, false);
        evaluator_job j = {.id = job,
                           .genome = path,
                           .args = ta.v,
                           .time_limit = e->cfg.train_time_limit,
                           .threads = e->cfg.threads};
        if (write_genome(e, e->noise.seed_id, path, sizeof path, &err) ||
            evaluator_submit(e->ev, &j, &err)) {
            /* recorded as a failed run, so the measurement still ends */
            logf_(e, "", "noise run %s cannot train: %s", job, err.msg);
            if (noise_record(e->s, &e->noise, seed, NULL, &err))
                logf_(e, "", "noise: %s", err.msg);
            update_epsilon(e);
            i = e->noise.n_runs - 1; /* the runs moved */
            continue;
        }
        logf_(e, e->noise.seed_id, "noise: %s trained with seed %lu (%d of %d)", e->noise.seed_id,
              seed, i + 1, e->noise.k);
    }
}

static void on_noise_event(evolve *e, unsigned long seed, const evaluator_event *ev)
{
    gerr err = GERR_INIT;
    char job[48];
    snprintf(job, sizeof job, "noise-%lu", seed);
    if (ev->kind != EVALUATOR_FINISHED && ev->kind != EVALUATOR_FAILED)
        return;
    if (!session_is_writer(e->s) || !e->noise.k)
        return;
    if (noise_run_done(&e->noise, seed)) {
        evaluator_collected(e->ev, job, NULL);
        return;
    }
    bool planned = false;
    for (int i = e->noise.n_runs; i < e->noise.k; i++)
        planned = planned || noise_run_seed(&e->noise, i) == seed;
    if (!planned)
        return; /* not this measurement's: left alone */
    const char *res = ev->kind == EVALUATOR_FINISHED ? ev->result_json : NULL;
    if (noise_record(e->s, &e->noise, seed, res, &err)) {
        logf_(e, "", "noise run %s: not saved: %s", job, err.msg);
        return;
    }
    /* a measurement stopped here has one run saved but not collected and
       the others in flight (or ended, uncollected) */
    if (!e->noise.complete)
        test_stop("noise-note");
    evaluator_collected(e->ev, job, NULL);
    update_epsilon(e);
    const noise_run *r = &e->noise.runs[e->noise.n_runs - 1];
    if (r->ok)
        logf_(e, e->noise.seed_id, "noise: seed %lu: val %.4f (%d of %d)", seed, r->val_acc,
              e->noise.n_runs, e->noise.k);
    else
        logf_(e, e->noise.seed_id, "noise: seed %lu failed: %s", seed,
              ev->reason[0] ? ev->reason : ev->status);
    if (e->noise.complete)
        logf_(e, e->noise.seed_id,
              "noise measured: %s mean %.4f, sd %.4f over %d runs; selection's tolerance %.4f (%s)",
              e->noise.seed_id, e->noise.mean, e->noise.std, e->noise.n_ok, e->epsilon,
              e->epsilon_how);
}

/* The measurement at open: the stored one, or a new plan when there is
 * none (the plan is written first, so its seeds survive a restart with
 * another --seed). */
static int noise_open(evolve *e, gerr *err)
{
    int k;
    double mult, abs;
    if (noise_seeds_setting(e->s, &k, err) || noise_epsilon_setting(e->s, &mult, &abs, err) ||
        noise_read(e->s, &e->noise, err))
        return -1;
    const rungs_fidelity *scr = &e->rungs.r[0];
    char fid[96];
    rungs_describe(scr, fid, sizeof fid);
    if (e->noise.k == 0 && k > 0 && session_is_writer(e->s)) {
        noise_plan(&e->noise, e->noise.seed_id, k, scr->images, scr->epochs, e->cfg.seed + 1);
        if (noise_save(e->s, &e->noise, err))
            return -1;
        logf_(e, e->noise.seed_id, "measuring the noise: %s trained %d times (%s)",
              e->noise.seed_id, k, fid);
    } else if (e->noise.k && (e->noise.images != scr->images || e->noise.epochs != scr->epochs)) {
        rungs_fidelity was = {e->noise.images, e->noise.epochs};
        char wfid[96];
        rungs_describe(&was, wfid, sizeof wfid);
        logf_(e, "", "the noise was measured at %s, screening is now at %s", wfid, fid);
    }
    update_epsilon(e);
    return 0;
}

/* ---- promotion to higher fidelity -------------------------------------------- */

/* "ID.rN": ID retrained at rung N. */
static bool promo_job(const char *job, char *id, int *rung)
{
    const char *dot = strrchr(job, '.');
    if (!dot || dot[1] != 'r' || dot == job || (size_t)(dot - job) >= SESSION_ID_MAX ||
        num_int(dot + 2, 1, SESSION_RUNG_MAX, rung, "rung", NULL))
        return false;
    memcpy(id, job, (size_t)(dot - job));
    id[dot - job] = 0;
    return true;
}

static void promo_forget(evolve *e, const char *id)
{
    for (size_t i = 0; i < e->n_promos; i++)
        if (!strcmp(e->promos[i].id, id)) {
            e->promos[i] = e->promos[--e->n_promos];
            return;
        }
}

static void promo_add(evolve *e, const char *id, int rung)
{
    for (size_t i = 0; i < e->n_promos; i++)
        if (!strcmp(e->promos[i].id, id))
            return;
    if (ALLOC_GROW(e->promos, e->n_promos + 1, e->alloc_promos))
        return;
    snprintf(e->promos[e->n_promos].id, SESSION_ID_MAX, "%s", id);
    e->promos[e->n_promos++].rung = rung;
}

/* Where the worker of id's promotion to rung saves its weights: the work
 * folder, until the promotion's result is the note's (then they are id's
 * kept weights, save_promotion). */
static void promo_weights(const evolve *e, const char *id, int rung, char *path, size_t size)
{
    snprintf(path, size, "%s/%s.r%d.weights", e->work_dir, id, rung);
}

/* Saves the outcome of id's promotion to rung (now: the worker's result,
 * or NULL with why) in its result note, unless the note has that rung. A
 * result the note takes brings its weights: the kept weights stay those
 * of the training behind the note (core/weights_store.h). */
static int save_promotion(evolve *e, const char *id, int rung, const char *now, const char *why,
                          gerr *err)
{
    char *old = NULL;
    if (session_get_result(e->s, id, &old, err) || !old) {
        if (!old)
            gerr_set(err, "it has no result note");
        return gerr_prefix(err, "%s: promotion to rung %d not saved", id, rung);
    }
    json_t *o = json_loads(old, 0, NULL);
    int tried = rungs_result_tried(o);
    json_decref(o);
    if (tried >= rung) {
        free(old);
        return 0; /* saved already (a stop before it was collected) */
    }
    char *note = rungs_promoted_note(old, now, rung, why, err);
    free(old);
    int rc = note ? session_set_result(e->s, id, note, err) : -1;
    e->promo_dirty = true;
    if (rc) {
        free(note);
        return gerr_prefix(err, "%s: promotion to rung %d not saved", id, rung);
    }
    ind *d = find_ind(e, id);
    if (d)
        apply_result(d, note);
    nsga2_measure m;
    nsga2_measure_from_result(&m, note, NULL);
    free(note);
    if (m.rung != rung) {
        logf_(e, id, "%s: promotion to rung %d failed: %s", id, rung,
              why && why[0] ? why : "no accuracy");
        return 0;
    }
    logf_(e, id, "%s at rung %d: val %.4f", id, rung, m.val_acc);
    char wpath[1700];
    struct stat st;
    gerr werr = GERR_INIT;
    promo_weights(e, id, rung, wpath, sizeof wpath);
    if (stat(wpath, &st) == 0 && weights_keep_file(e->s, id, wpath, &werr))
        logf_(e, id, "%s: the weights of rung %d not kept: %s", id, rung, werr.msg);
    return 0;
}

static void on_promotion_event(evolve *e, const char *id, int rung, const evaluator_event *ev)
{
    char job[64];
    snprintf(job, sizeof job, "%s.r%d", id, rung);
    if (ev->kind == EVALUATOR_STARTED) {
        promo_add(e, id, rung);
        return;
    }
    if (ev->kind != EVALUATOR_FINISHED && ev->kind != EVALUATOR_FAILED)
        return;
    promo_forget(e, id);
    if (!session_is_writer(e->s))
        return;
    const char *now = ev->kind == EVALUATOR_FINISHED ? ev->result_json : NULL;
    gerr err = GERR_INIT;
    if (save_promotion(e, id, rung, now, ev->reason, &err)) {
        logf_(e, id, "%s", err.msg);
        return;
    }
    evaluator_collected(e->ev, job, NULL);
    char wpath[1700];
    promo_weights(e, id, rung, wpath, sizeof wpath);
    unlink(wpath); /* kept by now, or not to be */
}

/* Starts id's training at rung; one that cannot start is saved as a failed
 * promotion (-1: not even that). */
static int submit_promotion(evolve *e, const char *id, int rung, gerr *err)
{
    char job[64], path[1600], wpath[1700];
    snprintf(job, sizeof job, "%s.r%d", id, rung);
    if (evaluator_tracks(e->ev, job)) {
        promo_add(e, id, rung);
        return 0;
    }
    const rungs_fidelity *f = &e->rungs.r[rung];
    train_args ta;
    train_args_make(e, &ta, f->images, f->epochs, e->cfg.seed, false);
    promo_weights(e, id, rung, wpath, sizeof wpath);
    train_args_weights(e, &ta, id, wpath);
    /* the time limit grows with the budget */
    double limit = e->cfg.train_time_limit * rungs_cost_ratio(&e->rungs, rung);
    evaluator_job j = {
        .id = job, .genome = path, .args = ta.v, .time_limit = limit, .threads = e->cfg.threads};
    gerr why = GERR_INIT;
    if (write_genome(e, id, path, sizeof path, &why) || evaluator_submit(e->ev, &j, &why))
        return save_promotion(e, id, rung, NULL, why.msg, err);
    promo_add(e, id, rung);
    char fid[96];
    rungs_describe(f, fid, sizeof fid);
    logf_(e, id, "%s: promoted to rung %d (%s)", id, rung, fid);
    return 0;
}

/* Everything measured in the session, as selection sees it. */
typedef struct archive {
    session_info *info;
    rungs_ind *v; /* v[i].m from i's result note */
    size_t n;
} archive;

static void archive_release(archive *a)
{
    free(a->info);
    free(a->v);
    memset(a, 0, sizeof *a);
}

static int archive_load(evolve *e, archive *a, gerr *err)
{
    memset(a, 0, sizeof *a);
    if (session_list(e->s, -1, &a->info, &a->n, err))
        return -1;
    a->v = calloc(a->n + 1, sizeof *a->v);
    int *front = calloc(a->n + 1, sizeof *front);
    nsga2_measure *m = calloc(a->n + 1, sizeof *m);
    if (!a->v || !front || !m) {
        free(front);
        free(m);
        archive_release(a);
        return gerr_set(err, "out of memory");
    }
    for (size_t i = 0; i < a->n; i++) {
        rungs_ind *x = &a->v[i];
        x->m.failed = true;
        char *res = NULL;
        if (strcmp(a->info[i].status, "pending") &&
            session_get_result(e->s, a->info[i].id, &res, NULL) == 0 && res) {
            json_t *o = json_loads(res, 0, NULL);
            nsga2_measure_from_json(&x->m, o, NULL);
            x->tried = rungs_result_tried(o);
            json_decref(o);
        }
        free(res);
        if (x->tried < x->m.rung)
            x->tried = x->m.rung;
        for (size_t p = 0; p < e->n_promos; p++)
            if (!strcmp(e->promos[p].id, a->info[i].id) && e->promos[p].rung > x->tried)
                x->tried = e->promos[p].rung;
        m[i] = x->m;
    }
    int nf = nsga2_pareto_front(m, (int)a->n, &e->objs, front, NULL);
    for (int i = 0; i < nf; i++)
        a->v[front[i]].on_front = true;
    free(front);
    free(m);
    return 0;
}

/* Starts promotions in free slots: at most slots - 1 at once (one slot
 * is always left to screening), only when nothing waits for one, and
 * after the noise measurement. */
static void promote(evolve *e)
{
    if (!session_is_writer(e->s) || e->rungs.n < 2 || !e->promo_dirty || noise_pending(e) ||
        e->no_promotion)
        return;
    int slots = e->cfg.slots > 0 ? e->cfg.slots : EVALUATOR_DEFAULT_SLOTS;
    int cap = slots > 1 ? slots - 1 : 1;
    if ((int)e->n_promos >= cap || evaluator_active(e->ev) >= slots)
        return;
    archive a;
    gerr err = GERR_INIT;
    if (archive_load(e, &a, &err)) {
        logf_(e, "", "promotion: %s", err.msg);
        e->promo_dirty = false;
        return;
    }
    while ((int)e->n_promos < cap && evaluator_active(e->ev) < slots) {
        int to = -1;
        gerr_clear(&err);
        int pick = rungs_next_promotion(&e->rungs, e->eta, a.v, (int)a.n, &e->objs, &to, &err);
        if (pick < 0) {
            if (err.msg[0])
                logf_(e, "", "promotion: %s", err.msg);
            e->promo_dirty = false;
            break;
        }
        a.v[pick].tried = to;
        if (submit_promotion(e, a.info[pick].id, to, &err))
            logf_(e, a.info[pick].id, "%s", err.msg);
    }
    archive_release(&a);
}

/* A candidate that was approved and started, whose worker nobody follows
 * any more (its folder says collected, or cannot be read): its result
 * file, if the worker left one, is its outcome; else it failed, and why
 * is recorded. Never left waiting for a worker that is gone. */
static void reconcile(evolve *e, ind *d)
{
    char path[1800];
    snprintf(path, sizeof path, "%s/%s/result.json", e->work_dir, d->pub.id);
    evaluator_event ev;
    evaluator_event_init(&ev, EVALUATOR_FAILED, d->pub.id);
    char *res = NULL;
    if (file_read(path, EVALUATOR_PROGRESS_MAX, &res, NULL, NULL) == 0)
        evaluator_outcome(&ev, d->pub.id, res, path, NULL, NULL);
    else
        snprintf(ev.reason, sizeof ev.reason,
                 "its training was started, but its worker is gone and left no result in %s/%s",
                 e->work_dir, d->pub.id);
    logf_(e, d->pub.id, "%s: reconciled from its work folder: %s", d->pub.id,
          ev.kind == EVALUATOR_FINISHED ? "the result the worker left" : ev.reason);
    on_eval_event(e, &ev);
    evaluator_event_clear(&ev);
}

/* ---- proposals ------------------------------------------------------------ */

/* The candidates selection and tournaments draw parents from: this
 * generation's population (the survivors), measured or not. */
static int parent_pool(evolve *e, int *pool, nsga2_measure *m)
{
    int n = 0;
    for (size_t i = 0; i < e->n; i++)
        if (e->inds[i].population) {
            pool[n] = (int)i;
            m[n] = e->inds[i].measure;
            n++;
        }
    return n;
}

/* A new individual of this generation that req is being proposed for.
 * NULL when out of memory (why says so). When the proposer cannot start,
 * the individual is EVOLVE_FAILED, its job -1 and its message why. */
static ind *propose_new(evolve *e, const evolve_proposal_req *req, gerr *why)
{
    ind *d = new_ind(e);
    if (!d) {
        gerr_set(why, "out of memory");
        return NULL;
    }
    d->pub.state = EVOLVE_PROPOSING;
    d->pub.generation = e->gen;
    snprintf(d->op, sizeof d->op, "%s", req->op);
    d->pub.n_parents = req->n_parents;
    memcpy(d->pub.parents, req->parents, sizeof d->pub.parents);
    d->job = evolve_proposer_start(e->prop, req, why);
    if (d->job < 0) {
        d->job = -1;
        d->pub.state = EVOLVE_FAILED;
        snprintf(d->message, sizeof d->message, "%s", why->msg);
    }
    return d;
}

/* Picks the operator and parents of one proposal and starts it. */
static int start_proposal(evolve *e, gerr *err)
{
    int *pool = malloc(sizeof(int) * (e->n + 1));
    nsga2_measure *m = malloc(sizeof *m * (e->n + 1));
    if (!pool || !m) {
        free(pool);
        free(m);
        return gerr_set(err, "out of memory");
    }
    int np = parent_pool(e, pool, m);
    if (np == 0) {
        free(pool);
        free(m);
        return gerr_set(err, "no population to draw parents from");
    }
    nsga2_ranking r;
    if (nsga2_rank(&r, m, np, &e->objs, err)) {
        free(pool);
        free(m);
        return -1;
    }
    evolve_proposal_req req;
    memset(&req, 0, sizeof req);
    req.generation = e->gen;
    req.seed = e->cfg.seed * 1000003u + (unsigned long)e->gen * 7919u + (unsigned long)e->n;
    double u = rng_uniform_double(&e->rng);
    int a = pool[nsga2_tournament(&r, NULL, np, &e->rng)];
    snprintf(req.parents[0], SESSION_ID_MAX, "%s", e->inds[a].pub.id);
    req.n_parents = 1;
    req.op = "mutation";
    if (np >= 2 && u < e->cfg.p_crossover) {
        int b = a;
        for (int tries = 0; tries < 8 && b == a; tries++)
            b = pool[nsga2_tournament(&r, NULL, np, &e->rng)];
        if (b != a) {
            snprintf(req.parents[1], SESSION_ID_MAX, "%s", e->inds[b].pub.id);
            req.n_parents = 2;
            req.op = "crossover";
        }
    }
    if (req.n_parents == 1) {
        double v = rng_uniform_double(&e->rng);
        if (v < e->cfg.p_eot)
            req.op = "eot"; /* the proposer falls back to mutation without an elite */
    }
    nsga2_ranking_release(&r);
    free(pool);
    free(m);
    gerr perr = GERR_INIT;
    ind *d = propose_new(e, &req, &perr);
    if (!d)
        return gerr_copy(err, &perr);
    if (d->job < 0) {
        snprintf(e->last_proposal_error, sizeof e->last_proposal_error, "%s", perr.msg);
        logf_(e, "", "proposal failed: %s", perr.msg);
        return 0;
    }
    logf_(e, "", "proposing a %s of %s%s%s", req.op, req.parents[0],
          req.n_parents > 1 ? " and " : "", req.n_parents > 1 ? req.parents[1] : "");
    return 0;
}

/* A proposal came back: a new individual in the session, or a failure. */
static void on_proposal_done(evolve *e, const evolve_proposal_done *pd)
{
    gerr serr = GERR_INIT;
    ind *d = NULL;
    for (size_t i = 0; i < e->n; i++)
        if (e->inds[i].job == pd->job)
            d = &e->inds[i];
    if (!d)
        return;
    d->job = -1;
    free(d->reasoning);
    d->reasoning = NULL;
    d->pub.reasoning_live = NULL;
    if (!pd->ok) {
        d->pub.state = EVOLVE_FAILED;
        snprintf(d->message, sizeof d->message, "%s", pd->error);
        snprintf(d->pub.failed, sizeof d->pub.failed, "%s", pd->failed_id);
        if (pd->persona[0])
            snprintf(d->persona, sizeof d->persona, "%s", pd->persona);
        snprintf(e->last_proposal_error, sizeof e->last_proposal_error, "%s", pd->error);
        logf_(e, "", "proposal failed: %s", pd->error);
        return;
    }
    session_info si;
    if (session_info_get(e->s, pd->id, &si, &serr)) {
        d->pub.state = EVOLVE_FAILED;
        snprintf(d->message, sizeof d->message, "%s", serr.msg);
        return;
    }
    load_info(e, d, &si);
    d->pub.state = EVOLVE_PENDING;
    logf_(e, d->pub.id, "%s proposed (%s, %s): %s", d->pub.id, d->op, d->persona, pd->summary);
    review_by_policy(e, d, &si);
}

static void on_proposal_stream(evolve *e, int job, const char *text)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->inds[i].job == job) {
            ind *d = &e->inds[i];
            size_t old = d->reasoning ? strlen(d->reasoning) : 0, add = strlen(text);
            if (old + add > (1u << 20))
                return; /* a runaway stream stops growing the view */
            char *nr = realloc(d->reasoning, old + add + 1);
            if (!nr)
                return;
            memcpy(nr + old, text, add + 1);
            d->reasoning = nr;
            d->pub.reasoning_live = nr;
        }
}

/* ---- the loop --------------------------------------------------------------- */

static bool settled(const ind *d)
{
    return d->pub.state == EVOLVE_TRAINED || d->pub.state == EVOLVE_REJECTED ||
           d->pub.state == EVOLVE_FAILED;
}

/* Starts what can start: the noise runs, proposals still owed, approved
 * trainings, then promotions in the slots left free. */
static void advance(evolve *e)
{
    submit_noise(e);
    gerr err = GERR_INIT;
    while (e->to_propose > 0) {
        e->to_propose--;
        if (start_proposal(e, &err))
            logf_(e, "", "cannot propose: %s", err.msg);
    }
    for (size_t i = 0; i < e->n; i++) {
        ind *d = &e->inds[i];
        if (d->pub.state == EVOLVE_APPROVED && submit_training(e, d, &err))
            logf_(e, d->pub.id, "%s: cannot train: %s", d->pub.id, err.msg);
    }
    promote(e);
}

/* The rungs (gevo.json "rungs" or cfg->rungs over the preset's), screening
 * as --subset/--epochs override it, and eta. */
static int rungs_open(evolve *e, const evolve_config *cfg, gerr *err)
{
    rungs base;
    if (rungs_preset(&base, cfg->preset))
        rungs_preset(&base, NULL);
    const char *spec = cfg->rungs ? cfg->rungs : session_config_get(e->s, "rungs");
    e->rungs = base;
    if (spec && spec[0] && rungs_parse(&e->rungs, spec, &base, err))
        return gerr_prefix(err, "%s", cfg->rungs ? "--rungs" : "gevo.json");
    /* screening chosen by hand (--subset, --epochs) without rungs of its
       own: the preset's rungs start from another budget, so none */
    if (!(spec && spec[0]) && (cfg->train_subset >= 0 || cfg->train_epochs >= 0))
        e->rungs.n = 1;
    if (cfg->train_subset >= 0)
        e->rungs.r[0].images = cfg->train_subset;
    if (cfg->train_epochs >= 0)
        e->rungs.r[0].epochs = cfg->train_epochs;
    /* a screening override above a higher rung leaves that rung out */
    int keep = 1;
    for (int i = 1; i < e->rungs.n; i++)
        if (rungs_cost_ratio(&e->rungs, i) > rungs_cost_ratio(&e->rungs, keep - 1))
            e->rungs.r[keep++] = e->rungs.r[i];
    e->rungs.n = keep;
    e->cfg.train_subset = (int)e->rungs.r[0].images;
    e->cfg.train_epochs = e->rungs.r[0].epochs;
    e->eta = cfg->eta;
    if (e->eta <= 0) {
        const char *v = session_config_get(e->s, "eta");
        e->eta = RUNGS_DEFAULT_ETA;
        if (v && v[0] && num_int(v, 2, 1000, &e->eta, "gevo.json eta", err))
            return -1;
    }
    return 0;
}

int evolve_memlimit(session *s, const evolve_config *cfg, memlimit *ml, gerr *err)
{
    /* screening unset (-1): the first rung's, as rungs_open decides */
    rungs base, rs;
    if (rungs_preset(&base, cfg->preset))
        rungs_preset(&base, NULL);
    const char *spec = cfg->rungs ? cfg->rungs : session_config_get(s, "rungs");
    if (!(spec && spec[0]) || rungs_parse(&rs, spec, &base, NULL))
        rs = base;
    memlimit_opts mo = {.max_memory = cfg->max_memory,
                        .slots = cfg->slots,
                        .data_dir = cfg->data_dir,
                        .subset = cfg->train_subset >= 0 ? cfg->train_subset : (int)rs.r[0].images,
                        .epochs = cfg->train_epochs >= 0 ? cfg->train_epochs : rs.r[0].epochs,
                        .threads = cfg->threads};
    return memlimit_for_session(ml, s, &mo, err);
}

int evolve_open(evolve **out, session *s, const evolve_config *cfg, gerr *err)
{
    *out = NULL;
    evolve *e = calloc(1, sizeof *e);
    if (!e)
        return gerr_set(err, "out of memory");
    e->s = s;
    e->cfg = *cfg;
    e->t0 = clock_seconds();
    gerr perr = GERR_INIT;
    /* gevo.json "objectives": what selection ranks on (default val_acc,params) */
    e->max_empty = cfg->max_empty_generations;
    if (e->max_empty <= 0) {
        const char *v = session_config_get(s, "max_empty_generations");
        gerr ge = GERR_INIT;
        if (!v || !v[0])
            e->max_empty = EVOLVE_DEFAULT_MAX_EMPTY;
        else if (num_int(v, 1, 1000000, &e->max_empty, "gevo.json max_empty_generations", &ge)) {
            gerr_set(err, "%s", ge.msg);
            goto fail;
        }
    }
    nsga2_objectives_default(&e->objs);
    const char *objectives = session_config_get(s, "objectives");
    if (objectives && objectives[0] && nsga2_objectives_parse(&e->objs, objectives, &perr) != 0) {
        gerr_set(err, "gevo.json: \"objectives\": %s", perr.msg);
        goto fail;
    }
    rng_seed(&e->rng, cfg->seed ^ 0x5e1ec7ULL);
    const char *data = cfg->data_dir ? cfg->data_dir : session_config_get(s, "data");
    snprintf(e->data_dir, sizeof e->data_dir, "%s", data && data[0] ? data : DATA_DEFAULT_DIR);
    snprintf(e->work_dir, sizeof e->work_dir, "%s/.gevo/work", session_workdir(s));
    if (evolve_memlimit(s, cfg, &e->mem, err))
        goto fail;
    if (rungs_open(e, cfg, err) || load_generation(e, err))
        goto fail;
    /* trainings of the current generation must be able to write */
    gerr gerr_ev = GERR_INIT;
    session_eval_opts eo = {.work_dir = e->work_dir,
                            .engine = cfg->evaluator,
                            .options = cfg->evaluator_options,
                            .slots = cfg->slots,
                            .threads = cfg->threads,
                            .llm = cfg->llm,
                            .model = cfg->model,
                            /* every worker gets the limit its proposal was
                               checked against; the workers at once stay
                               within the machine's budget */
                            .max_memory = e->mem.limit,
                            .memory = e->mem.budget};
    e->ev = session_eval_new(s, &eo, err);
    if (!e->ev)
        goto fail;
    e->prop = evolve_proposer_new(s, cfg, &e->mem, &perr);
    if (!e->prop) {
        gerr_set(err, "%s", perr.msg);
        goto fail;
    }
    if (noise_open(e, err))
        goto fail;
    e->promo_dirty = true;
    if (session_is_writer(s)) {
        if (evaluator_reattach(e->ev, &gerr_ev) < 0)
            logf_(e, "", "re-attach: %s", gerr_ev.msg);
        /* events of re-attached workers arrive through poll; until then
           the individuals they train count as training, not approved. One
           that was started but that no worker trains any more is settled
           from what its folder holds. */
        for (size_t i = 0; i < e->n; i++) {
            ind *d = &e->inds[i];
            char p[1700];
            snprintf(p, sizeof p, "%s/%s/job.json", e->work_dir, d->pub.id);
            struct stat st;
            if (d->pub.state != EVOLVE_APPROVED || stat(p, &st) != 0)
                continue;
            if (evaluator_tracks(e->ev, d->pub.id))
                d->pub.state = EVOLVE_TRAINING;
            else
                reconcile(e, d);
        }
        /* proposals this generation still owes */
        int have = 0;
        for (size_t i = 0; i < e->n; i++)
            if (!e->inds[i].population)
                have++;
        e->to_propose = cfg->offspring > have ? cfg->offspring - have : 0;
        advance(e);
    }
    *out = e;
    return 0;
fail:
    evolve_free(e);
    return -1;
}

void evolve_free(evolve *e)
{
    if (!e)
        return;
    evaluator_free(e->ev);
    evolve_proposer_free(e->prop);
    for (size_t i = 0; i < e->n; i++)
        free(e->inds[i].reasoning);
    free(e->inds);
    free(e->view);
    free(e->hashes);
    free(e->promos);
    free(e);
}

int evolve_pollfds(evolve *e, struct pollfd *fds, int max)
{
    int n = evaluator_pollfds(e->ev, fds, max);
    if (n < 0)
        n = 0;
    int m = evolve_proposer_pollfds(e->prop, fds + n, max - n);
    return n + (m > 0 ? m : 0);
}

int evolve_timeout_ms(evolve *e)
{
    int a = evaluator_timeout_ms(e->ev), b = evolve_proposer_timeout_ms(e->prop);
    if (e->to_propose > 0)
        return 0;
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static void proposer_cb(void *ctx, const evolve_proposal_event *pe)
{
    evolve *e = ctx;
    if (pe->done)
        on_proposal_done(e, pe->done);
    else if (pe->stream_text)
        on_proposal_stream(e, pe->job, pe->stream_text);
}

void evolve_dispatch(evolve *e, const struct pollfd *fds, int n)
{
    evolve_proposer_dispatch(e->prop, fds, n, proposer_cb, e);
    evaluator_event evs[16];
    int k;
    while ((k = evaluator_poll(e->ev, evs, 16)) > 0) {
        for (int i = 0; i < k; i++) {
            on_eval_event(e, &evs[i]);
            evaluator_event_clear(&evs[i]);
        }
        if (k < 16)
            break;
    }
    advance(e);
}

void evolve_set_promotion(evolve *e, bool on)
{
    e->no_promotion = !on;
    e->promo_dirty = true;
}

const noise_info *evolve_noise(const evolve *e)
{
    return &e->noise;
}

const rungs *evolve_rungs(const evolve *e)
{
    return &e->rungs;
}

void evolve_status_get(evolve *e, evolve_status *st)
{
    memset(st, 0, sizeof *st);
    st->generation = e->gen;
    for (size_t i = 0; i < e->n; i++) {
        const ind *d = &e->inds[i];
        if (d->population && d->pub.state == EVOLVE_TRAINED)
            continue;
        switch (d->pub.state) {
        case EVOLVE_PROPOSING: st->proposing++; break;
        case EVOLVE_PENDING: st->pending++; break;
        case EVOLVE_APPROVED: st->approved++; break;
        case EVOLVE_TRAINING: st->training++; break;
        case EVOLVE_TRAINED: st->trained++; break;
        case EVOLVE_REJECTED: st->rejected++; break;
        case EVOLVE_FAILED: st->failed++; break;
        }
    }
    st->proposing += e->to_propose;
    session_totals t;
    evolve_proposer_usage(e->prop, &t, st->llm, sizeof st->llm);
    st->tokens_in = t.tokens_in;
    st->tokens_out = t.tokens_out;
    st->requests = t.requests;
    st->cost = t.cost_usd;
    st->noise_seeds = e->noise.k;
    st->noise_runs = e->noise.n_runs;
    st->noise_mean = e->noise.mean;
    st->noise_std = e->noise.std;
    st->epsilon = e->epsilon;
    snprintf(st->epsilon_how, sizeof st->epsilon_how, "%s", e->epsilon_how);
    st->n_rungs = e->rungs.n;
    st->promoting = (int)e->n_promos;
    /* the first selection waits for the noise measurement */
    st->generation_done = st->proposing == 0 && st->pending == 0 && st->approved == 0 &&
                          st->training == 0 && !noise_pending(e);
    const char *blocked = evolve_proposer_blocked(e->prop);
    if (blocked)
        snprintf(st->stop_cause, sizeof st->stop_cause, "the LLM cannot be used: %s", blocked);
    else
        snprintf(st->stop_cause, sizeof st->stop_cause, "%s", e->stuck);
}

/* Marks the Pareto front of view (m: its measures, as selection sees
 * them; NULL: from the view's own numbers). */
static void mark_front(evolve *e, evolve_ind *v, size_t n, const nsga2_measure *given)
{
    nsga2_measure *m = malloc(sizeof *m * (n + 1));
    int *front = malloc(sizeof(int) * (n + 1));
    if (!m || !front) {
        free(m);
        free(front);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (given) {
            m[i] = given[i];
        } else {
            memset(&m[i], 0, sizeof m[i]);
            m[i].failed = v[i].val_acc < 0 || v[i].params < 0;
            m[i].val_acc = v[i].val_acc;
            m[i].params = (double)v[i].params;
            m[i].flops = v[i].flops;
            m[i].seconds = v[i].seconds;
        }
        v[i].on_front = false;
    }
    int k = nsga2_pareto_front(m, (int)n, &e->objs, front, NULL);
    for (int i = 0; i < k; i++)
        v[front[i]].on_front = true;
    free(m);
    free(front);
}

const evolve_ind *evolve_list(evolve *e, int generation, size_t *n)
{
    *n = 0;
    if (generation < 0 || generation == e->gen) {
        if (e->view_cap < e->n + 1) {
            evolve_ind *nv = realloc(e->view, sizeof *nv * (e->n + 1));
            if (!nv)
                return NULL;
            e->view = nv;
            e->view_cap = e->n + 1;
        }
        nsga2_measure *m = malloc(sizeof *m * (e->n + 1));
        for (size_t i = 0; i < e->n; i++) {
            e->view[i] = e->inds[i].pub;
            if (m) {
                m[i] = e->inds[i].measure;
                m[i].failed = m[i].failed || !e->inds[i].measured;
            }
        }
        mark_front(e, e->view, e->n, m);
        free(m);
        *n = e->n;
        return e->view;
    }
    /* a past generation, as the session recorded it */
    session_info *list = NULL;
    size_t k = 0;
    if (session_list(e->s, generation, &list, &k, NULL))
        return NULL;
    if (e->view_cap < k + 1) {
        evolve_ind *nv = realloc(e->view, sizeof *nv * (k + 1));
        if (!nv) {
            free(list);
            return NULL;
        }
        e->view = nv;
        e->view_cap = k + 1;
    }
    for (size_t i = 0; i < k; i++) {
        evolve_ind *v = &e->view[i];
        memset(v, 0, sizeof *v);
        snprintf(v->id, sizeof v->id, "%s", list[i].id);
        v->generation = list[i].generation;
        v->val_acc = list[i].val_acc;
        v->rung = list[i].rung;
        v->params = list[i].params;
        v->flops = list[i].flops;
        v->seconds = list[i].seconds;
        v->op = "";
        v->persona = "";
        v->message = "";
        v->state =
            !strcmp(list[i].decision, "rejected") ? EVOLVE_REJECTED
            : !strcmp(list[i].status, "ok")       ? EVOLVE_TRAINED
            : !strcmp(list[i].status, "pending")
                ? (!strncmp(list[i].decision, "approved", 8) ? EVOLVE_APPROVED : EVOLVE_PENDING)
                : EVOLVE_FAILED;
        v->n_parents = list[i].n_parents;
        for (int j = 0; j < list[i].n_parents && j < 2; j++)
            snprintf(v->parents[j], SESSION_ID_MAX, "%s", list[i].parents[j]);
    }
    free(list);
    mark_front(e, e->view, k, NULL);
    *n = k;
    return e->view;
}

const evolve_ind *evolve_find(evolve *e, const char *id)
{
    ind *d = find_ind(e, id);
    return d ? &d->pub : NULL;
}

/* ---- actions ------------------------------------------------------------------ */

/* Writes id's review note with a decision, keeping the annotations the
 * note already has (notes made before the decision) and adding extra. */
static int write_review(evolve *e, const char *id, const char *decision, const char *reason,
                        const session_annotation *extra, gerr *err)
{
    gerr serr = GERR_INIT;
    char *old = NULL;
    if (session_get_review(e->s, id, &old, &serr))
        return gerr_set(err, "%s", serr.msg);
    json_t *o = old ? json_loads(old, 0, NULL) : NULL;
    free(old);
    if (!decision)
        decision = o ? json_string_value(json_object_get(o, "decision")) : NULL;
    if (!decision)
        decision = "pending";
    if (!reason && o)
        reason = json_string_value(json_object_get(o, "reason"));
    json_t *anns = o ? json_object_get(o, "annotations") : NULL;
    size_t na = json_is_array(anns) ? json_array_size(anns) : 0;
    session_annotation *a = calloc(na + 1, sizeof *a);
    if (!a) {
        json_decref(o);
        return gerr_set(err, "out of memory");
    }
    for (size_t i = 0; i < na; i++) {
        json_t *x = json_array_get(anns, i);
        a[i].line = (int)json_integer_value(json_object_get(x, "line"));
        a[i].old_line = (int)json_integer_value(json_object_get(x, "old_line"));
        a[i].text = json_string_value(json_object_get(x, "text"));
        if (!a[i].text)
            a[i].text = "";
    }
    if (extra)
        a[na++] = *extra;
    session_review r = {
        .decision = decision, .reason = reason, .annotations = a, .n_annotations = (int)na};
    int rc = session_set_review(e->s, id, &r, &serr);
    free(a);
    json_decref(o);
    return rc ? gerr_set(err, "%s", serr.msg) : 0;
}

static ind *pending(evolve *e, const char *id, gerr *err)
{
    ind *d = find_ind(e, id);
    if (!d) {
        gerr_set(err, "%s is not in the current generation (%d)", id, e->gen);
        return NULL;
    }
    if (d->pub.state != EVOLVE_PENDING) {
        gerr_set(err, "%s is %s, not waiting for review", id, evolve_state_name(d->pub.state));
        return NULL;
    }
    return d;
}

int evolve_approve(evolve *e, const char *id, gerr *err)
{
    ind *d = pending(e, id, err);
    if (!d)
        return -1;
    session_info si;
    bool edited = session_info_get(e->s, id, &si, NULL) == 0 && si.edited;
    if (write_review(e, id, edited ? "approved_edited" : "approved", NULL, NULL, err))
        return -1;
    d->pub.state = EVOLVE_APPROVED;
    logf_(e, id, "%s approved%s", id, edited ? " (edited)" : "");
    advance(e);
    return 0;
}

int evolve_approve_all(evolve *e, gerr *err)
{
    int n = 0;
    for (size_t i = 0; i < e->n; i++)
        if (e->inds[i].pub.state == EVOLVE_PENDING) {
            char id[SESSION_ID_MAX];
            snprintf(id, sizeof id, "%s", e->inds[i].pub.id);
            if (evolve_approve(e, id, err))
                return -1;
            n++;
        }
    return n;
}

int evolve_reject(evolve *e, const char *id, const char *reason, gerr *err)
{
    ind *d = pending(e, id, err);
    if (!d)
        return -1;
    if (!reason || !reason[0])
        return gerr_set(err, "a rejection needs a reason (the LLM is told it)");
    if (write_review(e, id, "rejected", reason, NULL, err))
        return -1;
    d->pub.state = EVOLVE_REJECTED;
    snprintf(d->message, sizeof d->message, "%s", reason);
    logf_(e, id, "%s rejected: %s", id, reason);
    return 0;
}

int evolve_edit(evolve *e, const char *id, const char *genome, gerr *err)
{
    gerr serr = GERR_INIT;
    ind *d = pending(e, id, err);
    if (!d)
        return -1;
    net_graph *g = NULL;
    net_error nerr;
    char name[64];
    snprintf(name, sizeof name, "%s.net", id);
    if (net_compile(genome, strlen(genome), name, NULL, &g, &nerr)) {
        char line[700];
        net_error_string(&nerr, line, sizeof line);
        if (nerr.hint[0])
            return gerr_set(err, "%s (hint: %s)", line, nerr.hint);
        return gerr_set(err, "%s", line);
    }
    /* the researcher's edit fits the memory limit as a proposal must */
    int fits = memlimit_check(&e->mem, g, &serr);
    net_graph_free(g);
    if (fits)
        return gerr_set(err, "%s: %s", name, serr.msg);
    if (session_edit(e->s, id, genome, "researcher's edit", &serr))
        return gerr_set(err, "%s", serr.msg);
    logf_(e, id, "%s edited", id);
    return 0;
}

static int annotate(evolve *e, const char *id, int line, int old_line, const char *text, gerr *err)
{
    if (!text || !text[0])
        return gerr_set(err, "an annotation needs text");
    /* kept in the review note, with the decision it has (or "pending") */
    session_annotation note = {.line = line, .old_line = old_line, .text = text};
    if (write_review(e, id, NULL, NULL, &note, err))
        return -1;
    if (old_line > 0)
        logf_(e, id, "%s: note on the parent's line %d (removed)", id, old_line);
    else
        logf_(e, id, "%s: note on line %d", id, line);
    return 0;
}

int evolve_annotate(evolve *e, const char *id, int line, const char *text, gerr *err)
{
    return annotate(e, id, line, 0, text, err);
}

int evolve_annotate_old(evolve *e, const char *id, int old_line, const char *text, gerr *err)
{
    if (old_line <= 0)
        return gerr_set(err, "a removed line's number is 1 or more");
    return annotate(e, id, 0, old_line, text, err);
}

/* A failed proposal asked again for, in its own slot: the slot is
 * proposing again; the new proposal (or failure) names it in "retry_of". */
static int regenerate_failed(evolve *e, const char *id, const char *note, gerr *err)
{
    ind *d = NULL;
    for (size_t i = 0; i < e->n && !d; i++)
        if (!strcmp(e->inds[i].pub.failed, id))
            d = &e->inds[i];
    if (!d)
        return gerr_set(err, "%s is not a failed proposal of the current generation (%d)", id,
                        e->gen);
    if (d->pub.state != EVOLVE_FAILED)
        return gerr_set(err, "%s is being asked again for already", id);
    if (!session_is_writer(e->s))
        return gerr_set(err, "the session is open read-only");
    evolve_proposal_req req;
    memset(&req, 0, sizeof req);
    req.generation = e->gen;
    req.seed = e->cfg.seed * 1000003u + (unsigned long)e->n * 31u + (unsigned long)d->pub.slot;
    req.op = !strcmp(d->op, "crossover") && d->pub.n_parents == 2 ? "crossover"
             : !strcmp(d->op, "eot")                              ? "eot"
                                                                  : "mutation";
    req.n_parents = d->pub.n_parents;
    memcpy(req.parents, d->pub.parents, sizeof req.parents);
    req.steering = note && note[0] ? note : NULL;
    req.retry_of = id;
    int job = evolve_proposer_start(e->prop, &req, err);
    if (job < 0)
        return -1;
    d->job = job;
    d->pub.state = EVOLVE_PROPOSING;
    d->pub.failed[0] = '\0';
    d->message[0] = '\0';
    logf_(e, "", "asking again for %s%s", id, req.steering ? " with a steering note" : "");
    return 0;
}

int evolve_regenerate(evolve *e, const char *id, const char *note, gerr *err)
{
    if (session_valid_failed_id(id, NULL, NULL))
        return regenerate_failed(e, id, note, err);
    ind *d = pending(e, id, err);
    if (!d)
        return -1;
    char reason[600];
    snprintf(reason, sizeof reason, "regenerate: %s", note && note[0] ? note : "try again");
    if (evolve_reject(e, id, reason, err))
        return -1;
    evolve_proposal_req req;
    memset(&req, 0, sizeof req);
    req.generation = e->gen;
    req.seed = e->cfg.seed * 1000003u + (unsigned long)e->n * 31u + 17u;
    req.op = strcmp(d->op, "crossover") == 0 && d->pub.n_parents == 2 ? "crossover" : "mutation";
    req.n_parents = d->pub.n_parents;
    memcpy(req.parents, d->pub.parents, sizeof req.parents);
    req.steering = note;
    gerr perr = GERR_INIT;
    ind *nd = propose_new(e, &req, &perr); /* d is stale now: the array may have moved */
    if (!nd || nd->job < 0)
        return gerr_copy(err, &perr);
    logf_(e, id, "regenerating %s with a steering note", id);
    return 0;
}

int evolve_cancel_training(evolve *e, const char *id, gerr *err)
{
    ind *d = find_ind(e, id);
    if (!d)
        return gerr_set(err, "%s is not in the current generation", id);
    if (d->pub.state != EVOLVE_TRAINING)
        return gerr_set(err, "%s is %s, not training", id, evolve_state_name(d->pub.state));
    if (evaluator_cancel(e->ev, id, err))
        return -1;
    logf_(e, id, "%s: cancelling its training", id);
    return 0;
}

int evolve_next_generation(evolve *e, bool force, gerr *err)
{
    gerr serr = GERR_INIT;
    if (!session_is_writer(e->s))
        return gerr_set(err, "the session is open read-only");
    evolve_status st;
    evolve_status_get(e, &st);
    if (!st.generation_done && !force)
        return gerr_set(
            err,
            "generation %d is not done: %d proposing, %d pending review, %d approved, %d training",
            e->gen, st.proposing, st.pending, st.approved, st.training);
    /* unfinished candidates are dropped */
    for (size_t i = 0; i < e->n; i++) {
        ind *d = &e->inds[i];
        if (d->pub.state == EVOLVE_TRAINING) {
            evaluator_cancel(e->ev, d->pub.id, NULL);
        }
        if (!settled(d)) {
            d->pub.state = EVOLVE_FAILED;
            snprintf(d->message, sizeof d->message, "skipped: the generation was ended early");
        }
    }
    e->to_propose = 0;
    /* NSGA-II over survivors and offspring; rejected ones are out */
    size_t n = e->n;
    int *cand = malloc(sizeof(int) * (n + 1)), *chosen = malloc(sizeof(int) * (n + 1));
    nsga2_measure *m = malloc(sizeof *m * (n + 1));
    if (!cand || !chosen || !m) {
        free(cand);
        free(chosen);
        free(m);
        return gerr_set(err, "out of memory");
    }
    int nc = 0;
    for (size_t i = 0; i < n; i++) {
        ind *d = &e->inds[i];
        if (!d->pub.id[0] || d->pub.state == EVOLVE_REJECTED)
            continue;
        cand[nc] = (int)i;
        m[nc] = d->measure;
        if (!d->measured)
            m[nc].failed = true;
        nc++;
    }
    nsga2_ranking r;
    if (nsga2_rank(&r, m, nc, &e->objs, err)) {
        free(cand);
        free(chosen);
        free(m);
        return -1;
    }
    int k = nsga2_select(&r, e->cfg.population, chosen);
    nsga2_ranking_release(&r);
    /* elitism: the most accurate few always survive; NSGA-II keeps the
       accuracy extreme anyway, this also keeps the runners-up. A missing
       elite replaces the last-chosen (most crowded, worst-ranked) one. */
    for (int el = 0; el < e->cfg.elitism && k > 0; el++) {
        int best = -1;
        for (int i = 0; i < nc; i++) {
            if (m[i].failed)
                continue;
            int better_than = 0; /* how many are more accurate (on a common rung) */
            for (int j = 0; j < nc; j++) {
                int c = nsga2_compare_acc(&m[j], &m[i]);
                if (!m[j].failed && (c > 0 || (c == 0 && j < i)))
                    better_than++;
            }
            if (better_than == el)
                best = i;
        }
        if (best < 0)
            break;
        bool in = false;
        for (int i = 0; i < k; i++)
            in = in || chosen[i] == best;
        if (in)
            continue;
        /* replace the last chosen one that is not itself an elite */
        for (int i = k - 1; i >= 0; i--) {
            int better_than = 0;
            for (int j = 0; j < nc; j++) {
                int c = nsga2_compare_acc(&m[j], &m[chosen[i]]);
                if (!m[j].failed && (c > 0 || (c == 0 && j < chosen[i])))
                    better_than++;
            }
            if (m[chosen[i]].failed || better_than >= e->cfg.elitism) {
                chosen[i] = best;
                break;
            }
        }
    }
    const char **pop = malloc(sizeof(char *) * (size_t)(k + 1));
    const char **front = malloc(sizeof(char *) * (n + 1));
    if (!pop || !front) {
        free(pop);
        free(front);
        free(cand);
        free(chosen);
        free(m);
        return gerr_set(err, "out of memory");
    }
    for (int i = 0; i < k; i++)
        pop[i] = e->inds[cand[chosen[i]]].pub.id;
    /* the front of everything ever measured (an archive), so a point the
       population had to drop for crowding is still on record; compared
       as selection compares (tolerance, common rung) */
    archive all;
    int nf = 0;
    if (archive_load(e, &all, NULL) == 0 && all.n > 0) {
        const char **fr = realloc(front, sizeof(char *) * all.n);
        if (fr) {
            front = fr;
            for (size_t i = 0; i < all.n; i++)
                if (all.v[i].on_front)
                    front[nf++] = all.info[i].id;
        }
    }
    int offspring = 0;
    for (size_t i = 0; i < e->n; i++)
        offspring += !e->inds[i].population && e->inds[i].pub.id[0];
    int rc =
        session_journal_add(e->s, e->gen, pop, (size_t)k, front, (size_t)(nf > 0 ? nf : 0), &serr);
    /* keep_weights "front": what left the front gives its disk back */
    if (rc == 0 && weights_prune(e->s, front, (size_t)(nf > 0 ? nf : 0), &serr) < 0)
        logf_(e, "", "kept weights: %s", serr.msg);
    archive_release(&all);
    free(pop);
    free(front);
    free(cand);
    free(chosen);
    free(m);
    if (rc)
        return gerr_set(err, "%s", serr.msg);
    logf_(e, "", "generation %d closed: %d survivors, %d on the front%s", e->gen, k,
          nf > 0 ? nf : 0, offspring ? "" : " (no offspring: no proposal was valid)");
    e->empty_run = offspring ? 0 : e->empty_run + 1;
    e->stuck[0] = 0;
    if (e->empty_run >= e->max_empty)
        snprintf(e->stuck, sizeof e->stuck,
                 "%d generation%s in a row got no valid proposal (max_empty_generations %d); "
                 "the last failure: %.900s",
                 e->empty_run, e->empty_run == 1 ? "" : "s", e->max_empty,
                 e->last_proposal_error[0] ? e->last_proposal_error : "none recorded");
    e->last_proposal_error[0] = 0;
    /* start over from the session: the new population is what it recorded */
    for (size_t i = 0; i < e->n; i++)
        free(e->inds[i].reasoning);
    e->n = 0;
    e->n_hashes = 0;
    if (load_generation(e, err))
        return -1;
    /* started by the next dispatch, so a caller that stops here leaves
       nothing half begun */
    e->to_propose = e->cfg.offspring;
    return 0;
}
