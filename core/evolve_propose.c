/* evolve_propose: the proposals of the generation loop. Offline, a queue
 * of random mutations made one per dispatch; with an LLM, core/propose.c's
 * state machines driven by the LLM client's sockets, several at once. */
#include "core/evolve_propose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arms.h"
#include "core/llm.h"
#include "core/llm_settings.h"
#include "core/mutate.h"
#include "core/prompt.h"
#include "core/propose.h"
#include "core/stats.h"
#include "engine/base/grow.h"
#include "engine/base/rng.h"
#include "engine/base/strbuf.h"

typedef struct job {
    int id;
    evolve_proposal_req req;
    char steering[512];
    char retry_of[SESSION_ID_MAX];
    propose *p; /* LLM: the proposal in flight */
    struct evolve_proposer *owner;
    llm_callbacks watch; /* streamed text and retries of the LLM */
    strbuf stream;       /* text streamed since the last dispatch */
} job;

struct evolve_proposer {
    session *s;
    evolve_config cfg;
    const memlimit *mem; /* every proposal is checked against it */
    job **queue;
    int n;
    size_t alloc;
    int next_id;
    /* the LLMs (core/llm_settings.h's list), one client each; none offline */
    llm_model *models;
    llm_client **clients;
    int n_models;
    double *model_w; /* the models' weights, 0 for a client that refuses */
    arms_policy policy;
    arms_state bandit; /* policy bandit: rebuilt at each generation's first pick */
    bool bandit_built;
    prompt_set prompts;
    bool prompts_loaded;
    char who[384];
    session_totals totals; /* the session's, when the proposer was made */
};

/* One client per model of the session's settings (core/llm_settings.h);
 * none when no LLM is configured. Fills p->who. */
static int make_clients(evolve_proposer *p, const evolve_config *cfg, gerr *err)
{
    if (llm_settings_models(p->s, cfg->llm, cfg->model, &p->models, &p->n_models, err))
        return -1;
    if (!p->n_models)
        return 0;
    p->clients = calloc((size_t)p->n_models, sizeof *p->clients);
    p->model_w = calloc((size_t)p->n_models, sizeof *p->model_w);
    if (!p->clients || !p->model_w)
        return gerr_set(err, "out of memory");
    size_t used = 0;
    for (int i = 0; i < p->n_models; i++) {
        llm_config *lc = &p->models[i].cfg;
        /* the same seed would give every model the same temperature draws */
        lc->seed = cfg->seed + (unsigned long)i * 0x9e3779b9UL;
        if (!(p->clients[i] = llm_client_new(lc, err)))
            return gerr_prefix(err, "model %s", lc->model);
        char url[sizeof lc->base_url];
        llm_redact_url(lc->base_url, url, sizeof url);
        if (used < sizeof p->who)
            used +=
                (size_t)snprintf(p->who + used, sizeof p->who - used, "%s%s @ %s", i ? ", " : "",
                                 lc->model[0] ? lc->model : "(default model)", url);
    }
    return 0;
}

static void release_clients(evolve_proposer *p)
{
    for (int i = 0; i < p->n_models && p->clients; i++)
        llm_client_free(p->clients[i]);
    free(p->clients);
    free(p->model_w);
    free(p->models);
}

evolve_proposer *evolve_proposer_new(session *s, const evolve_config *cfg, const memlimit *mem,
                                     gerr *err)
{
    evolve_proposer *p = calloc(1, sizeof *p);
    if (!p) {
        gerr_set(err, "out of memory");
        return NULL;
    }
    p->s = s;
    p->cfg = *cfg;
    p->mem = mem;
    snprintf(p->who, sizeof p->who, "no LLM: random mutation");
    if (session_totals_get(s, &p->totals, err) || make_clients(p, cfg, err) ||
        arms_policy_setting(s, &p->policy, err))
        goto fail;
    if (p->n_models) {
        /* the session's own copy of the prompts, versioned with it */
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/prompts", session_workdir(s));
        if (prompt_set_load(&p->prompts, dir, err))
            goto fail;
        p->prompts_loaded = true;
        if (arms_session_personas(s, &p->prompts, err))
            goto fail;
    }
    return p;
fail:
    if (p->prompts_loaded)
        prompt_set_release(&p->prompts);
    release_clients(p);
    free(p);
    return NULL;
}

static void job_free(job *j)
{
    if (!j)
        return;
    if (j->p)
        propose_free(j->p);
    strbuf_release(&j->stream);
    free(j);
}

void evolve_proposer_free(evolve_proposer *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        job_free(p->queue[i]);
    free(p->queue);
    if (p->prompts_loaded)
        prompt_set_release(&p->prompts);
    if (p->bandit_built)
        arms_state_release(&p->bandit);
    release_clients(p);
    free(p);
}

/* A budget is the session's: each client counts what the session spent
 * before this process and what the other models' clients spent since. */
static void share_spent(evolve_proposer *p)
{
    session_totals t;
    char who[8];
    evolve_proposer_usage(p, &t, who, sizeof who);
    for (int i = 0; i < p->n_models; i++) {
        llm_usage u = llm_client_usage(p->clients[i]);
        llm_client_set_spent(p->clients[i], t.cost_usd - u.cost_usd,
                             t.tokens_in + t.tokens_out - u.tokens_in - u.tokens_out);
    }
}

static void on_delta(void *ud, llm_delta_kind kind, const char *text, size_t len)
{
    job *j = ud;
    (void)kind;
    if (j->stream.len + len > (1u << 20))
        return;
    strbuf_add(&j->stream, text, len);
}

static void on_retry(void *ud, int attempt, long delay_ms, const char *why)
{
    char line[600];
    int n = snprintf(line, sizeof line, "\n[attempt %d failed (%s); retrying in %.1f s]\n", attempt,
                     why, delay_ms / 1000.0);
    if (n > 0)
        on_delta(ud, LLM_DELTA_REASONING, line, strlen(line));
}

/* The bandit's pair: its state is derived from the session's counts
 * (core/stats.h) at the first proposal of each generation, so it is the
 * same after a resume. */
static int pick_bandit(evolve_proposer *p, int generation, int *model, int *persona, gerr *err)
{
    if (!p->bandit_built || p->bandit.generation != generation) {
        if (p->bandit_built)
            arms_state_release(&p->bandit);
        p->bandit_built = false;
        stats st;
        const char *names[LLM_MODELS_MAX];
        for (int i = 0; i < p->n_models; i++)
            names[i] = p->models[i].cfg.model;
        if (stats_collect(p->s, &st, err))
            return gerr_prefix(err, "the bandit's counts");
        int rc =
            arms_state_build(&p->bandit, &st, generation, names, p->n_models, &p->prompts, err);
        stats_release(&st);
        if (rc)
            return -1;
        p->bandit_built = true;
    }
    if (arms_bandit_pick(&p->bandit, p->model_w, &p->prompts, model, persona))
        return gerr_set(err, "no (model, persona) pair can be asked: every model refuses or has "
                             "weight 0, or every persona has weight 0");
    return 0;
}

/* The (model, persona) pair of a proposal (core/arms.h): drawn by weight
 * from the proposal's seed, so a run is the same for the same seed (the
 * persona by core/propose.c, *persona -1 here), or chosen by the bandit. A model whose client refuses requests
 * (llm_client_blocked) is left out. */
static int pick_arm(evolve_proposer *p, const evolve_proposal_req *req, int *model, int *persona,
                    gerr *err)
{
    share_spent(p);
    for (int i = 0; i < p->n_models; i++)
        p->model_w[i] = llm_client_blocked(p->clients[i], NULL) ? 0 : p->models[i].weight;
    if (p->policy == ARMS_BANDIT)
        return pick_bandit(p, req->generation, model, persona, err);
    rng r;
    rng_seed(&r, (uint64_t)req->seed ^ 0x61726d73ULL);
    *model = arms_draw(p->model_w, p->n_models, rng_uniform_double(&r));
    *persona = -1; /* core/propose.c draws it by the weights, from its own seeded stream */
    if (*model < 0)
        return gerr_set(err, "no model can be asked: %s",
                        llm_client_blocked(p->clients[0], NULL) ? "every one refuses requests"
                                                                : "every weight is zero");
    return 0;
}

int evolve_proposer_start(evolve_proposer *p, const evolve_proposal_req *req, gerr *err)
{
    if (req->n_parents < 1) {
        gerr_set(err, "a proposal needs a parent");
        return -1;
    }
    if (ALLOC_GROW(p->queue, (size_t)p->n + 1, p->alloc) != 0)
        return gerr_set(err, "out of memory");
    job *j = calloc(1, sizeof *j);
    if (!j) {
        gerr_set(err, "out of memory");
        return -1;
    }
    strbuf_init(&j->stream);
    j->id = p->next_id++;
    j->owner = p;
    j->req = *req;
    if (req->steering)
        snprintf(j->steering, sizeof j->steering, "%s", req->steering);
    if (req->retry_of)
        snprintf(j->retry_of, sizeof j->retry_of, "%s", req->retry_of);
    j->req.steering = j->req.retry_of = NULL;
    if (p->n_models) {
        int model, persona;
        if (pick_arm(p, req, &model, &persona, err)) {
            free(j);
            return -1;
        }
        propose_env env = {.s = p->s, .llm = p->clients[model], .prompts = &p->prompts};
        /* in the job, not on the stack: the proposal keeps the pointer */
        j->watch = (llm_callbacks){.on_delta = on_delta, .on_retry = on_retry, .ud = j};
        propose_request pr = {.generation = req->generation,
                              .parent = req->parents[0],
                              .other = req->n_parents > 1 ? req->parents[1] : NULL,
                              .note = j->steering[0] ? j->steering : NULL,
                              .persona = persona >= 0 ? p->prompts.personas[persona].name : NULL,
                              .max_repairs = p->cfg.repair_attempts,
                              .retry_of = j->retry_of[0] ? j->retry_of : NULL,
                              .seed = req->seed,
                              .mem = p->mem,
                              .watch = &j->watch};
        propose_op_parse(req->op, &pr.op);
        if (pr.op == PROPOSE_CROSSOVER && !pr.other)
            pr.op = PROPOSE_MUTATE;
        j->p = propose_start(&env, &pr, err);
        if (!j->p && pr.op == PROPOSE_EOT) {
            /* no elite to learn from yet: a plain mutation */
            pr.op = PROPOSE_MUTATE;
            j->p = propose_start(&env, &pr, err);
        }
        if (!j->p) {
            free(j);
            return -1;
        }
    }
    p->queue[p->n++] = j;
    return j->id;
}

int evolve_proposer_pollfds(evolve_proposer *p, struct pollfd *fds, int max)
{
    int n = 0;
    for (int i = 0; i < p->n_models && n < max; i++)
        n += llm_client_pollfds(p->clients[i], fds + n, max - n);
    return n;
}

int evolve_proposer_timeout_ms(evolve_proposer *p)
{
    if (!p->n_models)
        return p->n > 0 ? 0 : -1;
    for (int i = 0; i < p->n; i++)
        if (propose_ready(p->queue[i]->p) || p->queue[i]->stream.len)
            return 0;
    int t = -1;
    for (int i = 0; i < p->n_models; i++) {
        int ti = llm_client_timeout_ms(p->clients[i]);
        if (ti >= 0 && (t < 0 || ti < t))
            t = ti;
    }
    return t;
}

static uint64_t program_hash(const char *src)
{
    net_graph *g = NULL;
    net_error err;
    uint64_t h = 0;
    if (net_compile(src, strlen(src), "parent", NULL, &g, &err) == 0)
        h = g->hash;
    net_graph_free(g);
    return h;
}

/* One offline proposal: a random mutation, or crossover of two parents'
 * genes; EoT needs an LLM, so offline it is a mutation. */
static void run_offline(evolve_proposer *p, const job *j, evolve_proposal_done *d)
{
    gerr err = GERR_INIT;
    const evolve_proposal_req *r = &j->req;
    char *a = NULL, *b = NULL;
    mutate_result res;
    memset(&res, 0, sizeof res);
    bool cross = !strcmp(r->op, "crossover") && r->n_parents == 2;
    if (session_genome(p->s, r->parents[0], &a, &err) ||
        (cross && session_genome(p->s, r->parents[1], &b, &err)))
        goto out;
    int rc = cross ? mutate_crossover(a, b, r->parents[1], NULL, r->seed, NULL, p->mem, &res, &err)
                   : mutate_random(a, NULL, r->seed, NULL, p->mem, &res, &err);
    /* a crossover that only reproduces a parent (they differed in one
       gene) or found no gene to swap is no new individual: mutate instead */
    if (cross && (rc || res.hash == program_hash(a) || res.hash == program_hash(b))) {
        mutate_result_release(&res);
        cross = false;
        rc = mutate_random(a, NULL, r->seed, NULL, p->mem, &res, &err);
    }
    if (rc)
        goto out;
    session_new in = {.generation = r->generation,
                      .op = cross ? "crossover" : "mutation",
                      .persona = MUTATE_LABEL,
                      .n_parents = cross ? 2 : 1,
                      .model = "none",
                      .summary = res.rationale,
                      .retry_of = j->retry_of[0] ? j->retry_of : NULL,
                      .steering = j->steering[0] ? j->steering : NULL,
                      .genome = res.source,
                      .reasoning = res.rationale,
                      .prompt = "",
                      .response = ""};
    in.parents[0] = r->parents[0];
    in.parents[1] = cross ? r->parents[1] : NULL;
    if (session_add(p->s, &in, d->id, &err))
        goto out;
    snprintf(d->summary, sizeof d->summary, "%s", res.rationale);
    d->ok = true;
out:
    if (!d->ok) {
        snprintf(d->error, sizeof d->error, "%s", err.msg);
        /* recorded as every failed proposal is, without prompt or answer */
        session_new f = {.generation = r->generation,
                         .op = r->op,
                         .persona = MUTATE_LABEL,
                         .parents = {r->parents[0], r->n_parents > 1 ? r->parents[1] : NULL},
                         .n_parents = r->n_parents,
                         .model = "none",
                         .retry_of = j->retry_of[0] ? j->retry_of : NULL,
                         .steering = j->steering[0] ? j->steering : NULL,
                         .reasoning = err.msg,
                         .error = err.msg[0] ? err.msg : "the random mutation failed"};
        session_add_failed(p->s, &f, d->failed_id, NULL);
    }
    mutate_result_release(&res);
    free(a);
    free(b);
}

static void remove_job(evolve_proposer *p, int i)
{
    job_free(p->queue[i]);
    memmove(p->queue + i, p->queue + i + 1, sizeof(job *) * (size_t)(p->n - i - 1));
    p->n--;
}

void evolve_proposer_dispatch(evolve_proposer *p, const struct pollfd *fds, int n,
                              void (*cb)(void *ctx, const evolve_proposal_event *ev), void *ctx)
{
    if (!p->n_models) {
        /* one proposal per dispatch keeps the caller's loop responsive */
        if (p->n == 0)
            return;
        job *j = p->queue[0];
        evolve_proposal_done d;
        memset(&d, 0, sizeof d);
        d.job = j->id;
        run_offline(p, j, &d);
        remove_job(p, 0);
        evolve_proposal_event ev = {.job = d.job, .done = &d};
        cb(ctx, &ev);
        return;
    }
    share_spent(p);
    for (int i = 0; i < p->n_models; i++)
        llm_client_dispatch(p->clients[i], fds, n);
    for (int i = 0; i < p->n; i++) {
        job *j = p->queue[i];
        if (j->stream.len) {
            evolve_proposal_event ev = {.job = j->id, .stream_text = j->stream.buf};
            cb(ctx, &ev);
            strbuf_reset(&j->stream);
        }
        while (propose_ready(j->p) && !propose_finished(j->p))
            propose_advance(j->p);
        if (!propose_finished(j->p))
            continue;
        const propose_outcome *o = propose_get(j->p);
        evolve_proposal_done d;
        memset(&d, 0, sizeof d);
        d.job = j->id;
        d.ok = o->ok;
        snprintf(d.id, sizeof d.id, "%s", o->id);
        snprintf(d.summary, sizeof d.summary, "%s", o->summary);
        snprintf(d.error, sizeof d.error, "%s", o->error);
        snprintf(d.failed_id, sizeof d.failed_id, "%s", o->failed_id);
        snprintf(d.persona, sizeof d.persona, "%s", o->persona);
        remove_job(p, i--);
        evolve_proposal_event ev = {.job = d.job, .done = &d};
        cb(ctx, &ev);
    }
}

const char *evolve_proposer_blocked(evolve_proposer *p)
{
    /* one model that can still answer is enough to go on */
    const char *why = NULL;
    for (int i = 0; i < p->n_models; i++) {
        const char *w = llm_client_blocked(p->clients[i], NULL);
        if (!w && p->models[i].weight > 0)
            return NULL;
        if (!why)
            why = w;
    }
    return why;
}

void evolve_proposer_usage(evolve_proposer *p, session_totals *t, char *who, size_t who_size)
{
    /* The session's totals when this process began (it is the one writer
       since), and all this process's clients spent, in flight included. */
    *t = p->totals;
    for (int i = 0; i < p->n_models; i++) {
        llm_usage u = llm_client_usage(p->clients[i]);
        t->tokens_in += u.tokens_in;
        t->tokens_out += u.tokens_out;
        t->cost_usd += u.cost_usd;
        t->requests += u.calls;
    }
    snprintf(who, who_size, "%s", p->who);
}
