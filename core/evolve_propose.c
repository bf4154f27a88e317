/* evolve_propose: the proposals of the generation loop. Offline, a queue
 * of random mutations made one per dispatch; with an LLM, core/propose.c's
 * state machines driven by the LLM client's sockets, several at once. */
#include "core/evolve_propose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/llm.h"
#include "core/llm_settings.h"
#include "core/mutate.h"
#include "core/prompt.h"
#include "core/propose.h"
#include "engine/base/grow.h"
#include "engine/base/strbuf.h"

typedef struct job {
    int id;
    evolve_proposal_req req;
    char steering[512];
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
    llm_client *llm; /* NULL: offline */
    prompt_set prompts;
    bool prompts_loaded;
    char who[384];
};

/* The LLM client of the session's settings (core/llm_settings.h), or
 * NULL with *failed false when none is configured. */
static llm_client *make_client(session *s, const evolve_config *cfg, char *who, size_t who_size,
                               gerr *err, bool *failed)
{
    llm_config lc;
    bool use;
    *failed = llm_settings_load(s, cfg->llm, cfg->model, &lc, &use, err) != 0;
    if (*failed || !use)
        return NULL;
    lc.seed = cfg->seed;
    llm_client *c = llm_client_new(&lc, err);
    if (!c) {
        *failed = true;
        return NULL;
    }
    char url[sizeof lc.base_url];
    llm_redact_url(lc.base_url, url, sizeof url);
    snprintf(who, who_size, "%s @ %s", lc.model[0] ? lc.model : "(default model)", url);
    return c;
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
    bool failed;
    p->llm = make_client(s, cfg, p->who, sizeof p->who, err, &failed);
    if (failed) {
        free(p);
        return NULL;
    }
    if (p->llm) {
        /* the session's own copy of the prompts, versioned with it */
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/prompts", session_workdir(s));
        if (prompt_set_load(&p->prompts, dir, err) ||
            (cfg->persona_weights && prompt_set_weights(&p->prompts, cfg->persona_weights, err))) {
            if (p->prompts.system || p->prompts.n_personas)
                prompt_set_release(&p->prompts);
            llm_client_free(p->llm);
            free(p);
            return NULL;
        }
        p->prompts_loaded = true;
    }
    return p;
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
    llm_client_free(p->llm);
    free(p);
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
    j->req.steering = NULL;
    if (p->llm) {
        propose_env env = {.s = p->s, .llm = p->llm, .prompts = &p->prompts};
        /* in the job, not on the stack: the proposal keeps the pointer */
        j->watch = (llm_callbacks){.on_delta = on_delta, .on_retry = on_retry, .ud = j};
        propose_request pr = {.generation = req->generation,
                              .parent = req->parents[0],
                              .other = req->n_parents > 1 ? req->parents[1] : NULL,
                              .note = j->steering[0] ? j->steering : NULL,
                              .max_repairs = p->cfg.repair_attempts,
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
    return p->llm ? llm_client_pollfds(p->llm, fds, max) : 0;
}

int evolve_proposer_timeout_ms(evolve_proposer *p)
{
    if (!p->llm)
        return p->n > 0 ? 0 : -1;
    for (int i = 0; i < p->n; i++)
        if (propose_ready(p->queue[i]->p) || p->queue[i]->stream.len)
            return 0;
    return llm_client_timeout_ms(p->llm);
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
    if (!d->ok)
        snprintf(d->error, sizeof d->error, "%s", err.msg);
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
    if (!p->llm) {
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
    llm_client_dispatch(p->llm, fds, n);
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
        remove_job(p, i--);
        evolve_proposal_event ev = {.job = d.job, .done = &d};
        cb(ctx, &ev);
    }
}

const char *evolve_proposer_blocked(evolve_proposer *p)
{
    return p->llm ? llm_client_blocked(p->llm, NULL) : NULL;
}

void evolve_proposer_usage(evolve_proposer *p, long *tokens_in, long *tokens_out, double *cost,
                           char *who, size_t who_size)
{
    *tokens_in = *tokens_out = 0;
    *cost = 0;
    if (p->llm) {
        llm_usage u = llm_client_usage(p->llm);
        *tokens_in = u.tokens_in;
        *tokens_out = u.tokens_out;
        *cost = u.cost_usd;
    }
    snprintf(who, who_size, "%s", p->who);
}
