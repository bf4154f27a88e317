/* One proposal end to end (see propose.h): context from the session, the
 * prompt, the answer, gevo's check, repair rounds, the new individual. */
#include "core/propose.h"

#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mutate.h"
#include "core/proposal.h"
#include "engine/base/grow.h"
#include "engine/base/rng.h"
#include "engine/base/strbuf.h"

/* Copies s into d (size n), truncating; always terminated. */
static void scopy(char *d, size_t n, const char *s)
{
    size_t l = s ? strnlen(s, n - 1) : 0;
    if (l)
        memcpy(d, s, l);
    d[l] = '\0';
}

const char *propose_op_name(propose_op op)
{
    switch (op) {
    case PROPOSE_MUTATE: return "mutation";
    case PROPOSE_CROSSOVER: return "crossover";
    case PROPOSE_EOT: return "eot";
    }
    return "?";
}

int propose_op_parse(const char *s, propose_op *op)
{
    if (!s)
        return -1;
    if (!strcmp(s, "mutate") || !strcmp(s, "mutation"))
        *op = PROPOSE_MUTATE;
    else if (!strcmp(s, "crossover"))
        *op = PROPOSE_CROSSOVER;
    else if (!strcmp(s, "eot"))
        *op = PROPOSE_EOT;
    else
        return -1;
    return 0;
}

void propose_outcome_release(propose_outcome *o)
{
    if (!o)
        return;
    free(o->program);
    free(o->reasoning);
    free(o->prompt);
    free(o->response);
    o->program = o->reasoning = o->prompt = o->response = NULL;
}

/* ---- the proposal object ----------------------------------------------- */

enum {
    ST_WAIT,
    ST_READY,
    ST_DONE
};

/* A transcript so far, or NULL when nothing was written to it. */
static char *tx_copy(const strbuf *t)
{
    return t->len ? strdup(t->buf) : NULL;
}

struct propose {
    propose_env env;
    propose_op op;
    int generation;
    char parent[SESSION_ID_MAX], other[SESSION_ID_MAX];
    llm_relay relay; /* to the watcher's on_delta and on_retry, and on_done */
    const net_limits *lim;
    const memlimit *mem;
    uint64_t seed;
    int state;
    long req_id;
    bool offline;
    rng rng;
    /* context */
    char *parent_src, *other_src;
    char gene[64];
    char *gene_text, *other_gene_text;
    char *objectives, *other_objectives;
    char elite_gene_name[64];
    char *elite_gene, *seed_gene, *elite_obj, *seed_obj;
    char elite[SESSION_ID_MAX], seed_id[SESSION_ID_MAX];
    char *notes;
    char retry_of[SESSION_ID_MAX]; /* the failed proposal this one asks again for */
    char steering[512];            /* the researcher's note for this one, recorded */
    int persona;
    int max_attempts, attempt;
    llm_result ans; /* the last request's answer, copied out of the client's callback */
    mutate_result mr;
    strbuf prompt, response, log; /* the transcripts */
    propose_outcome out;
};

static void on_done(void *ud, const llm_result *r)
{
    propose *p = ud;
    llm_result *a = &p->ans;
    llm_result_release(a);
    if (llm_result_copy(a, r) && a->status == LLM_OK) {
        a->status = LLM_ERR_INTERNAL;
        snprintf(a->error, sizeof a->error, "out of memory copying the answer");
    }
    p->req_id = 0;
    p->state = ST_READY;
}

/* ---- context from the session -------------------------------------------- */

/* The text of block name in src (malloc'd), NULL when there is none. */
static char *block_text(const char *src, const char *name)
{
    net_block b[256];
    size_t len = strlen(src);
    int n = net_list_blocks(src, len, b, 256);
    for (int i = 0; i < n; i++) {
        if (strcmp(b[i].name, name))
            continue;
        size_t a = 0, e;
        int line = 1;
        for (; a < len && line < b[i].first_line; a++)
            if (src[a] == '\n')
                line++;
        for (e = a; e < len && line <= b[i].last_line; e++)
            if (src[e] == '\n')
                line++;
        return strndup(src + a, e - a);
    }
    return NULL;
}

static int block_names(const char *src, char names[][64], int max)
{
    net_block b[256];
    int n = net_list_blocks(src, strlen(src), b, 256), k = 0;
    for (int i = 0; i < n && k < max; i++)
        scopy(names[k++], 64, b[i].name);
    return n < 0 ? 0 : k;
}

/* "val_acc 0.8731, 26,666 parameters, 2.51 MFLOPs", NULL when unmeasured. */
static char *objectives_of(session *s, const char *id)
{
    session_info in;
    if (session_info_get(s, id, &in, NULL) != 0)
        return NULL;
    if (!strcmp(in.status, "pending"))
        return NULL;
    char buf[256];
    if (strcmp(in.status, "ok")) {
        snprintf(buf, sizeof buf, "training ended with status \"%s\"", in.status);
    } else {
        int o = 0;
        if (in.val_acc >= 0)
            o += snprintf(buf + o, sizeof buf - (size_t)o, "validation accuracy %.4f", in.val_acc);
        if (in.params >= 0)
            o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%ld parameters", o ? ", " : "",
                          in.params);
        if (in.flops >= 0)
            o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%.3g MFLOPs per image", o ? ", " : "",
                          in.flops / 1e6);
        if (!o)
            snprintf(buf, sizeof buf, "trained, no objectives recorded");
    }
    return strdup(buf);
}

static bool in_list(char (*ids)[SESSION_ID_MAX], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ids[i], id))
            return true;
    return false;
}

#define MAX_NOTES 12

/* Line n of id's first parent's genome (malloc'd, without its newline),
 * NULL when there is none; the parent's id in parent. */
static char *removed_line(session *s, const char *id, int n, char *parent)
{
    session_info si;
    char *g = NULL;
    if (session_info_get(s, id, &si, NULL) != 0 || si.n_parents < 1 ||
        session_genome(s, si.parents[0], &g, NULL) != 0 || !g)
        return NULL;
    snprintf(parent, SESSION_ID_MAX, "%s", si.parents[0]);
    const char *p = g;
    for (int k = 1; k < n && p; k++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    char *line = p && *p ? strndup(p, strcspn(p, "\n")) : NULL;
    free(g);
    return line;
}

/* The researcher's annotations and reasons on the lineage of the parents,
 * and the reasons given for rejected proposals made from it. */
static char *notes_for(session *s, const char *a, const char *b, const char *note)
{
    char(*lin)[SESSION_ID_MAX] = NULL, (*lin2)[SESSION_ID_MAX] = NULL;
    size_t n = 0, n2 = 0;
    if (session_lineage(s, a, &lin, &n, NULL) != 0)
        n = 0;
    if (b && session_lineage(s, b, &lin2, &n2, NULL) == 0) {
        size_t alloc = n;
        if (ALLOC_GROW(lin, n + n2, alloc) == 0) {
            for (size_t i = 0; i < n2; i++)
                if (!in_list(lin, n, lin2[i]))
                    memcpy(lin[n++], lin2[i], SESSION_ID_MAX);
        }
        free(lin2);
    }
    char *notes[MAX_NOTES], *rej[MAX_NOTES];
    int nn = 0, nr = 0;
    if (note && note[0] && (notes[nn] = strdup(note)))
        nn++;
    for (size_t i = 0; i < n && nn < MAX_NOTES; i++) {
        char *rv = NULL;
        if (session_get_review(s, lin[i], &rv, NULL) != 0 || !rv)
            continue;
        json_t *j = json_loads(rv, 0, NULL);
        free(rv);
        const char *dec = json_string_value(json_object_get(j, "decision"));
        const char *reason = json_string_value(json_object_get(j, "reason"));
        if (dec && strcmp(dec, "rejected") && reason && reason[0] && nn < MAX_NOTES &&
            asprintf(&notes[nn], "on %s: %s", lin[i], reason) >= 0)
            nn++;
        json_t *ann = json_object_get(j, "annotations");
        for (size_t k = 0; k < json_array_size(ann) && nn < MAX_NOTES; k++) {
            json_t *x = json_array_get(ann, k);
            const char *t = json_string_value(json_object_get(x, "text"));
            json_int_t line = json_integer_value(json_object_get(x, "line"));
            json_int_t old = json_integer_value(json_object_get(x, "old_line"));
            if (!t || !t[0])
                continue;
            int r;
            if (line > 0) {
                r = asprintf(&notes[nn], "on %s, line %lld: %s", lin[i], (long long)line, t);
            } else if (old > 0 && old < INT_MAX) {
                /* a line the change removed: the parent's line, quoted */
                char parent[SESSION_ID_MAX] = "", *was = removed_line(s, lin[i], (int)old, parent);
                r = asprintf(&notes[nn], "on %s, the line it removed (line %lld of %s%s%s%s): %s",
                             lin[i], (long long)old, parent[0] ? parent : "its parent",
                             was ? ": \"" : "", was ? was : "", was ? "\"" : "", t);
                free(was);
            } else {
                r = asprintf(&notes[nn], "on %s: %s", lin[i], t);
            }
            if (r >= 0)
                nn++;
        }
        json_decref(j);
    }
    session_info *all = NULL;
    size_t na = 0;
    if (session_list(s, -1, &all, &na, NULL) == 0) {
        for (size_t i = na; i-- > 0 && nr < MAX_NOTES;) { /* newest first */
            const session_info *x = &all[i];
            if (strcmp(x->decision, "rejected"))
                continue;
            bool from = false;
            for (int k = 0; k < x->n_parents; k++)
                if (in_list(lin, n, x->parents[k]))
                    from = true;
            if (!from)
                continue;
            char *rv = NULL;
            if (session_get_review(s, x->id, &rv, NULL) != 0 || !rv)
                continue;
            json_t *j = json_loads(rv, 0, NULL);
            free(rv);
            const char *reason = json_string_value(json_object_get(j, "reason"));
            if (reason && reason[0] &&
                asprintf(&rej[nr], "%s (%s of %s): %s", x->id, x->op, x->parents[0], reason) >= 0)
                nr++;
            json_decref(j);
        }
    }
    free(all);
    free(lin);
    char *out = prompt_format_notes((const char *const *)notes, nn, (const char *const *)rej, nr);
    for (int i = 0; i < nn; i++)
        free(notes[i]);
    for (int i = 0; i < nr; i++)
        free(rej[i]);
    return out ? out : strdup("");
}

/* EoT: the elite (given or the best measured one) and its changed block. */
static int find_elite(propose *p, const char *want, gerr *err)
{
    session *s = p->env.s;
    char *seed_src = NULL;
    if (session_genome(s, p->seed_id, &seed_src, err) != 0)
        return gerr_prefix(err, "EoT: the seed %s", p->seed_id);
    session_info *all = NULL;
    size_t n = 0;
    if (session_list(s, -1, &all, &n, err) != 0) {
        gerr_prefix(err, "EoT");
        free(seed_src);
        return -1;
    }
    /* candidates, best val_acc first */
    int order[4096], k = 0;
    for (size_t i = 0; i < n && k < 4096; i++) {
        if (want ? strcmp(all[i].id, want) : (all[i].val_acc < 0 || !strcmp(all[i].id, p->seed_id)))
            continue;
        order[k++] = (int)i;
    }
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && all[order[j]].val_acc > all[order[j - 1]].val_acc; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    int rc = -1;
    char seed_names[256][64];
    int ns = block_names(seed_src, seed_names, 256);
    for (int c = 0; c < k && rc; c++) {
        const session_info *x = &all[order[c]];
        char *src = NULL;
        if (session_genome(s, x->id, &src, NULL) != 0)
            continue;
        for (int b = 0; b < ns && rc; b++) {
            char *eg = block_text(src, seed_names[b]), *sg = block_text(seed_src, seed_names[b]);
            if (eg && sg && strcmp(eg, sg)) {
                scopy(p->elite, sizeof p->elite, x->id);
                scopy(p->elite_gene_name, sizeof p->elite_gene_name, seed_names[b]);
                /* the helper blocks the elite added are part of its change */
                p->elite_gene = mutate_gene_with_helpers(src, seed_names[b], seed_src);
                if (!p->elite_gene) {
                    p->elite_gene = eg;
                    eg = NULL;
                }
                p->seed_gene = sg;
                sg = NULL;
                rc = 0;
            }
            free(eg);
            free(sg);
        }
        free(src);
    }
    if (rc) {
        if (want)
            gerr_set(err,
                     "EoT: %s changes none of the seed's blocks, so there is no "
                     "insight to carry over",
                     want);
        else
            gerr_set(err,
                     "EoT needs an elite: an individual with a training result whose "
                     "blocks differ from the seed's (%s); there is none yet",
                     p->seed_id);
    } else {
        p->elite_obj = objectives_of(s, p->elite);
        p->seed_obj = objectives_of(s, p->seed_id);
    }
    free(all);
    free(seed_src);
    return rc;
}

/* ---- requests --------------------------------------------------------------- */

static int submit(propose *p, prompt_kind kind, const prompt_args *a, gerr *err)
{
    char *sys = NULL, *user = NULL;
    if (prompt_build(p->env.prompts, kind, p->persona, a, &sys, &user, err))
        return -1;
    p->attempt++;
    strbuf_addf(&p->prompt,
                "%s===== attempt %d of %d: %s, persona %s, block `%s` =====\n"
                "----- system -----\n%s%s----- user -----\n%s%s",
                p->attempt > 1 ? "\n" : "", p->attempt, p->max_attempts, prompt_kind_name(kind),
                p->env.prompts->personas[p->persona].name, p->gene, sys,
                sys[0] && sys[strlen(sys) - 1] == '\n' ? "" : "\n", user,
                user[0] && user[strlen(user) - 1] == '\n' ? "" : "\n");
    llm_callbacks cb = llm_relay_callbacks(&p->relay);
    p->state = ST_WAIT;
    p->req_id = llm_submit(p->env.llm, sys, user, &cb, err);
    free(sys);
    free(user);
    if (p->req_id < 0) {
        p->req_id = 0;
        return -1;
    }
    return 0;
}

static prompt_args base_args(const propose *p)
{
    prompt_args a;
    memset(&a, 0, sizeof a);
    a.program = p->parent_src;
    a.gene_name = p->gene;
    a.gene = p->gene_text;
    a.objectives = p->objectives;
    a.notes = p->notes;
    if (p->op == PROPOSE_CROSSOVER) {
        a.other_gene = p->other_gene_text;
        a.other_objectives = p->other_objectives;
    } else if (p->op == PROPOSE_EOT) {
        a.elite_gene_name = p->elite_gene_name;
        a.elite_gene = p->elite_gene;
        a.seed_gene = p->seed_gene;
        a.elite_objectives = p->elite_obj;
        a.seed_objectives = p->seed_obj;
    }
    return a;
}

static void finish_fail(propose *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finish_fail(propose *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->out.error, sizeof p->out.error, fmt, ap);
    va_end(ap);
    p->out.ok = false;
    p->state = ST_DONE;
}

static void one_line(char *dst, size_t size, const char *s)
{
    size_t o = 0;
    while (s && (*s == ' ' || *s == '\n' || *s == '#' || *s == '*'))
        s++;
    for (; s && *s && *s != '\n' && o + 1 < size; s++)
        dst[o++] = *s;
    dst[o] = '\0';
    if (s && *s && *s != '\n' && size > 4)
        memcpy(dst + size - 4, "...", 4);
}

/* What the session records of the outcome (an individual or a failure). */
static session_new record_of(const propose *p)
{
    const propose_outcome *o = &p->out;
    session_new n;
    memset(&n, 0, sizeof n);
    n.generation = p->generation;
    n.op = o->op;
    n.persona = o->persona;
    n.parents[0] = o->parents[0];
    n.parents[1] = o->parents[1];
    n.n_parents = o->n_parents;
    n.model = o->model;
    n.served_model = o->served_model;
    n.tokens_in = o->tokens_in;
    n.tokens_out = o->tokens_out;
    n.latency_s = o->latency_s;
    n.cost_usd = o->cost_usd;
    n.requests = o->model[0] ? o->attempts : 0;
    n.summary = o->summary;
    n.retry_of = p->retry_of;
    n.steering = p->steering;
    n.genome = o->program;
    n.reasoning = o->reasoning;
    n.prompt = o->prompt;
    n.response = o->response;
    return n;
}

/* A proposal that asked the LLM and failed is recorded as a failed
 * proposal (session_add_failed): it cost tokens, and it tells which arm
 * fails. Its id goes to out.failed_id. */
static void record_failure(propose *p)
{
    propose_outcome *o = &p->out;
    if (p->offline || o->ok || p->attempt < 1 || o->failed_id[0])
        return;
    session_new n = record_of(p);
    n.error = o->error;
    /* a request that failed has no answering model: the one asked; every
       request counts, the failed ones too */
    if (!n.model[0])
        n.model = llm_client_config(p->env.llm)->model;
    n.requests = p->attempt;
    gerr serr = GERR_INIT;
    if (session_add_failed(p->env.s, &n, o->failed_id, &serr) != 0) {
        o->failed_id[0] = '\0';
        size_t l = strlen(o->error);
        snprintf(o->error + l, sizeof o->error - l, " (and the failure could not be recorded: %s)",
                 serr.msg);
    }
}

/* Writes the individual; p->out.program and reasoning are set. */
static void finish_write(propose *p)
{
    gerr serr = GERR_INIT;
    propose_outcome *o = &p->out;
    if (p->prompt.failed || p->response.failed || p->log.failed) {
        finish_fail(p, "out of memory building the transcripts");
        return;
    }
    free(o->prompt);
    free(o->response);
    o->prompt = strdup(p->prompt.buf);
    o->response = strdup(p->response.buf);
    session_new n = record_of(p);
    if (session_add(p->env.s, &n, o->id, &serr) != 0) {
        finish_fail(p, "the proposal is valid but could not be recorded: %s", serr.msg);
        o->id[0] = '\0';
        return;
    }
    o->ok = true;
    p->state = ST_DONE;
}

static void advance_offline(propose *p)
{
    propose_outcome *o = &p->out;
    mutate_result *m = &p->mr;
    o->program = m->source;
    m->source = NULL;
    o->params = m->params;
    o->flops = m->flops;
    o->attempts = 1;
    scopy(o->gene, sizeof o->gene, m->gene);
    scopy(o->summary, sizeof o->summary, m->rationale);
    if (asprintf(&o->reasoning,
                 "%s\n\nNo LLM took part: gevo's %s operator drew this edit at random "
                 "(seed %llu, %d candidate%s drawn until one compiled and changed the "
                 "network).\n",
                 m->rationale,
                 p->op == PROPOSE_CROSSOVER ? "gene-swap crossover" : "random mutation",
                 (unsigned long long)p->seed, m->tries, m->tries == 1 ? "" : "s") < 0)
        o->reasoning = NULL;
    strbuf_addf(&p->prompt, "(no prompt: %s, seed %llu)\n", MUTATE_LABEL,
                (unsigned long long)p->seed);
    strbuf_addf(&p->response, "(no response: %s)\n", MUTATE_LABEL);
    if (!o->reasoning) {
        finish_fail(p, "out of memory");
        return;
    }
    finish_write(p);
}

static void advance_llm(propose *p)
{
    propose_outcome *o = &p->out;
    const llm_result *a = &p->ans;
    o->attempts = p->attempt;
    strbuf_addf(&p->response, "%s===== attempt %d of %d: ", p->attempt > 1 ? "\n" : "", p->attempt,
                p->max_attempts);
    if (a->status != LLM_OK) {
        strbuf_addf(&p->response, "no answer (%s) =====\n%s\n", llm_status_name(a->status),
                    a->error);
        strbuf_addf(&p->log, "attempt %d: the LLM request failed: %s\n", p->attempt, a->error);
        free(o->reasoning);
        o->reasoning = tx_copy(&p->log);
        free(o->prompt);
        free(o->response);
        o->prompt = tx_copy(&p->prompt);
        o->response = tx_copy(&p->response);
        finish_fail(p, "attempt %d of %d: the LLM request failed (%s): %s", p->attempt,
                    p->max_attempts, llm_status_name(a->status), a->error);
        return;
    }
    scopy(o->model, sizeof o->model, a->model);
    scopy(o->served_model, sizeof o->served_model, a->served_model);
    o->tokens_in += a->tokens_in;
    o->tokens_out += a->tokens_out;
    o->latency_s += a->seconds;
    o->cost_usd += a->cost_usd;
    strbuf_addf(&p->response, "model %s, %ld tokens in, %ld out%s, %.2f s, finish \"%s\" =====\n",
                a->model, a->tokens_in, a->tokens_out, a->tokens_estimated ? " (estimated)" : "",
                a->seconds, a->finish_reason);
    strbuf_add(&p->response, a->content, a->content_len);
    if (a->content_len && a->content[a->content_len - 1] != '\n')
        strbuf_addstr(&p->response, "\n");
    if (a->reasoning_len) {
        strbuf_addf(&p->response, "----- reasoning (reasoning_content / <think>) -----\n%s\n",
                    a->reasoning);
    }
    proposal_outcome po;
    int rc = proposal_check(a->content, a->content_len, a->truncated, p->parent_src, p->gene,
                            p->lim, p->mem, &po);
    if (rc == 0) {
        strbuf_addf(&p->log, "attempt %d: valid, %ld parameters, %.3g MFLOPs per image\n",
                    p->attempt, po.params, po.flops / 1e6);
        free(o->program);
        o->program = po.program;
        po.program = NULL;
        o->params = po.params;
        o->flops = po.flops;
        char first[160];
        one_line(first, sizeof first, po.reasoning);
        char suffix[48] = "";
        if (p->attempt > 1)
            snprintf(suffix, sizeof suffix, " (repaired: %d attempts)", p->attempt);
        snprintf(o->summary, sizeof o->summary, "`%s`: %s%s", p->gene,
                 first[0] ? first : "new version of the block", suffix);
        free(o->reasoning);
        if (asprintf(&o->reasoning,
                     "%s\n\n---\n%s of %s%s%s, block `%s`, persona %s, model %s\n"
                     "attempts: %d (%d repair%s)\n%s",
                     po.reasoning && po.reasoning[0] ? po.reasoning : "(no reasoning given)", o->op,
                     o->parents[0], o->n_parents > 1 ? " and " : "",
                     o->n_parents > 1 ? o->parents[1] : "", p->gene, o->persona, o->model,
                     p->attempt, p->attempt - 1, p->attempt == 2 ? "" : "s", p->log.buf) < 0)
            o->reasoning = NULL;
        proposal_outcome_release(&po);
        if (!o->reasoning) {
            finish_fail(p, "out of memory");
            return;
        }
        finish_write(p);
        return;
    }
    strbuf_addf(&p->log, "attempt %d: %s: %s\n", p->attempt, proposal_stage_name(po.stage),
                po.error);
    free(o->program);
    o->program = po.program;
    po.program = NULL;
    if (p->attempt < p->max_attempts && po.stage != PROPOSAL_ERR_NOMEM) {
        prompt_args ra = base_args(p);
        ra.failed_answer = a->content;
        ra.failed_program = o->program;
        ra.error = po.error;
        gerr err = GERR_INIT;
        if (submit(p, PROMPT_REPAIR, &ra, &err) == 0) {
            proposal_outcome_release(&po);
            return;
        }
        strbuf_addf(&p->log, "the repair request could not be sent: %s\n", err.msg);
        finish_fail(p, "attempt %d of %d: %s: %s; the repair request could not be sent: %s",
                    p->attempt, p->max_attempts, proposal_stage_name(po.stage), po.error, err.msg);
    } else {
        finish_fail(p, "no valid proposal after %d attempt%s; the last answer: %s: %s", p->attempt,
                    p->attempt == 1 ? "" : "s", proposal_stage_name(po.stage), po.error);
    }
    free(o->reasoning);
    free(o->prompt);
    free(o->response);
    o->reasoning = tx_copy(&p->log);
    o->prompt = tx_copy(&p->prompt);
    o->response = tx_copy(&p->response);
    proposal_outcome_release(&po);
}

int propose_advance(propose *p)
{
    if (p->state == ST_READY) {
        if (p->offline) {
            advance_offline(p);
        } else {
            advance_llm(p);
            if (p->state == ST_DONE)
                record_failure(p);
        }
    }
    return p->state == ST_DONE && !p->out.ok ? -1 : 0;
}

bool propose_ready(const propose *p)
{
    return p->state == ST_READY;
}

bool propose_finished(const propose *p)
{
    return p->state == ST_DONE;
}

const propose_outcome *propose_get(const propose *p)
{
    return &p->out;
}

void propose_take_outcome(propose *p, propose_outcome *out)
{
    *out = p->out;
    memset(&p->out, 0, sizeof p->out);
}

void propose_free(propose *p)
{
    if (!p)
        return;
    if (p->req_id > 0 && p->env.llm) {
        long id = p->req_id;
        p->req_id = 0;
        llm_cancel(p->env.llm, id); /* runs on_done now, with CANCELLED */
    }
    free(p->parent_src);
    free(p->other_src);
    free(p->gene_text);
    free(p->other_gene_text);
    free(p->objectives);
    free(p->other_objectives);
    free(p->elite_gene);
    free(p->seed_gene);
    free(p->elite_obj);
    free(p->seed_obj);
    free(p->notes);
    llm_result_release(&p->ans);
    mutate_result_release(&p->mr);
    strbuf_release(&p->prompt);
    strbuf_release(&p->response);
    strbuf_release(&p->log);
    propose_outcome_release(&p->out);
    free(p);
}

/* ---- starting ----------------------------------------------------------------- */

static int resolve(session *s, const char *spec, char *id, const char *what, gerr *err)
{
    if (!spec || !spec[0]) {
        gerr_set(err, "no %s given", what);
        return -1;
    }
    if (session_resolve(s, spec, id, err) != 0)
        return gerr_prefix(err, "%s %s", what, spec);
    return 0;
}

/* resolve() and the parent's program into *src. */
static int load_parent(session *s, const char *spec, char *id, char **src, const char *what,
                       gerr *err)
{
    if (resolve(s, spec, id, what, err))
        return -1;
    if (session_genome(s, id, src, err) != 0)
        return gerr_prefix(err, "parent %s", id);
    return 0;
}

static int pick_gene(propose *p, const propose_request *req, gerr *err)
{
    char names[256][64];
    int n = block_names(p->parent_src, names, 256);
    if (req->gene && req->gene[0]) {
        for (int i = 0; i < n; i++)
            if (!strcmp(names[i], req->gene)) {
                scopy(p->gene, sizeof p->gene, names[i]);
                return 0;
            }
        char list[512] = "";
        size_t o = 0;
        for (int i = 0; i < n && o < sizeof list - 70; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", names[i]);
        gerr_set(err, "%s has no block `%s` (its blocks: %s)", p->parent, req->gene,
                 n ? list : "none");
        return -1;
    }
    /* candidates: crossover needs the block in both, EoT another block than the elite's */
    int cand[256], k = 0;
    for (int i = 0; i < n; i++) {
        if (p->op == PROPOSE_CROSSOVER) {
            char *t = block_text(p->other_src, names[i]);
            bool both = t != NULL;
            free(t);
            if (!both)
                continue;
        }
        if (p->op == PROPOSE_EOT && !strcmp(names[i], p->elite_gene_name))
            continue;
        cand[k++] = i;
    }
    if (!k) {
        gerr_set(err, "%s",
                 !n ? "the parent has no def block for the LLM to rewrite"
                 : p->op == PROPOSE_CROSSOVER
                     ? "the two parents have no block of the same name"
                     : "EoT: the parent has no block other than the elite's");
        return -1;
    }
    int i = cand[rng_below(&p->rng, (uint64_t)k)];
    scopy(p->gene, sizeof p->gene, names[i]);
    return 0;
}

propose *propose_start(const propose_env *env, const propose_request *req, gerr *err)
{
    if (!env || !env->s || !req) {
        gerr_set(err, "propose: no session");
        return NULL;
    }
    if (!session_is_writer(env->s)) {
        const char *h = session_lock_holder(env->s);
        gerr_set(err, "the session is open read-only%s%s: a proposal cannot be recorded",
                 h[0] ? ", being written by gevo " : "", h);
        return NULL;
    }
    if (env->llm && !env->prompts) {
        gerr_set(err, "propose: an LLM proposal needs the prompt templates");
        return NULL;
    }
    if (!env->llm && req->op == PROPOSE_EOT) {
        gerr_set(err, "EoT needs an LLM: the offline proposer (no LLM configured, or "
                      "--llm none) does mutation and crossover only");
        return NULL;
    }
    propose *p = calloc(1, sizeof *p);
    if (!p) {
        gerr_set(err, "out of memory");
        return NULL;
    }
    strbuf_init(&p->prompt);
    strbuf_init(&p->response);
    strbuf_init(&p->log);
    p->env = *env;
    p->op = req->op;
    p->generation = req->generation;
    p->lim = req->lim;
    p->mem = req->mem;
    p->seed = req->seed;
    p->offline = env->llm == NULL;
    if (req->retry_of)
        scopy(p->retry_of, sizeof p->retry_of, req->retry_of);
    if (req->note)
        scopy(p->steering, sizeof p->steering, req->note);
    if (req->watch)
        p->relay.watch = *req->watch;
    p->relay.done = on_done;
    p->relay.ud = p;
    rng_seed(&p->rng, req->seed ^ 0x70726f706f7365ULL);
    int repairs = req->max_repairs < 0 ? PROPOSE_DEFAULT_REPAIRS : req->max_repairs;
    p->max_attempts = 1 + (repairs > 20 ? 20 : repairs);
    session *s = env->s;
    propose_outcome *o = &p->out;
    scopy(o->op, sizeof o->op, propose_op_name(req->op));
    if (load_parent(s, req->parent, p->parent, &p->parent_src, "parent", err))
        goto fail;
    scopy(o->parents[0], SESSION_ID_MAX, p->parent);
    o->n_parents = 1;
    if (req->op == PROPOSE_CROSSOVER) {
        if (load_parent(s, req->other, p->other, &p->other_src, "second parent for crossover", err))
            goto fail;
        if (!strcmp(p->other, p->parent)) {
            gerr_set(err, "crossover needs two different parents (both are %s)", p->parent);
            goto fail;
        }
        scopy(o->parents[1], SESSION_ID_MAX, p->other);
        o->n_parents = 2;
    }
    if (p->offline) {
        scopy(o->persona, sizeof o->persona, MUTATE_LABEL);
        int rc = req->op == PROPOSE_CROSSOVER
                     ? mutate_crossover(p->parent_src, p->other_src, p->other, req->gene, req->seed,
                                        req->lim, req->mem, &p->mr, err)
                     : mutate_random(p->parent_src, req->gene, req->seed, req->lim, req->mem,
                                     &p->mr, err);
        if (rc)
            goto fail;
        p->state = ST_READY;
        return p;
    }
    if (req->op == PROPOSE_EOT) {
        scopy(p->seed_id, sizeof p->seed_id, req->seed_id ? req->seed_id : "g0-1");
        char tmp[SESSION_ID_MAX];
        if (resolve(s, p->seed_id, tmp, "seed", err))
            goto fail;
        scopy(p->seed_id, sizeof p->seed_id, tmp);
        if (req->elite && resolve(s, req->elite, tmp, "elite", err))
            goto fail;
        if (find_elite(p, req->elite ? tmp : NULL, err))
            goto fail;
    }
    if (pick_gene(p, req, err))
        goto fail;
    scopy(o->gene, sizeof o->gene, p->gene);
    p->gene_text = block_text(p->parent_src, p->gene);
    if (req->op == PROPOSE_CROSSOVER) {
        p->other_gene_text = block_text(p->other_src, p->gene);
        if (!p->other_gene_text) {
            gerr_set(err, "crossover: %s has no block `%s`", p->other, p->gene);
            goto fail;
        }
        p->other_objectives = objectives_of(s, p->other);
    }
    p->objectives = objectives_of(s, p->parent);
    p->notes = notes_for(s, p->parent, req->op == PROPOSE_CROSSOVER ? p->other : NULL, req->note);
    const prompt_set *ps = env->prompts;
    if (req->persona && req->persona[0]) {
        p->persona = prompt_find_persona(ps, req->persona);
        if (p->persona < 0) {
            char list[512] = "";
            size_t l = 0;
            for (int i = 0; i < ps->n_personas && l < sizeof list - 40; i++)
                l += (size_t)snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "",
                                      ps->personas[i].name);
            gerr_set(err, "no persona '%s' in %s (there are: %s)", req->persona, ps->dir, list);
            goto fail;
        }
    } else {
        p->persona = prompt_pick_persona(ps, rng_uniform_double(&p->rng));
        if (p->persona < 0) {
            gerr_set(err, "every persona's weight is zero: no persona to draw");
            goto fail;
        }
    }
    scopy(o->persona, sizeof o->persona, ps->personas[p->persona].name);
    /* known before any answer, so that a failed request says which model */
    scopy(o->model, sizeof o->model, llm_client_model(env->llm));
    prompt_args a = base_args(p);
    static const prompt_kind kinds[] = {PROMPT_MUTATE, PROMPT_CROSSOVER, PROMPT_EOT};
    if (submit(p, kinds[req->op], &a, err))
        goto fail;
    return p;
fail:
    propose_free(p);
    return NULL;
}

/* ---- blocking ------------------------------------------------------------------- */

int propose_run(const propose_env *env, const propose_request *req, propose_outcome *out)
{
    memset(out, 0, sizeof *out);
    gerr err = GERR_INIT;
    propose *p = propose_start(env, req, &err);
    if (!p) {
        scopy(out->error, sizeof out->error, err.msg);
        scopy(out->op, sizeof out->op, propose_op_name(req->op));
        return -1;
    }
    while (!propose_finished(p)) {
        if (propose_ready(p)) {
            propose_advance(p);
            continue;
        }
        llm_client *c = env->llm;
        if (!c || !llm_client_active(c)) {
            /* waiting, yet the client holds nothing: its callback is lost */
            finish_fail(p, "internal error: the LLM client finished without an answer");
            break;
        }
        struct pollfd pfd[32];
        int n = llm_client_pollfds(c, pfd, 32);
        int t = llm_client_timeout_ms(c);
        if (t < 0 || t > 200)
            t = 200;
        poll(pfd, (nfds_t)n, t);
        llm_client_dispatch(c, pfd, n);
    }
    propose_take_outcome(p, out);
    propose_free(p);
    return out->ok ? 0 : -1;
}

/* ---- default parents -------------------------------------------------------------- */

int propose_pick_parents(session *s, propose_op op, char ids[2][SESSION_ID_MAX], gerr *err)
{
    session_info *v = NULL;
    size_t n = 0;
    if (session_list(s, -1, &v, &n, err) != 0)
        return -1;
    if (!n) {
        free(v);
        gerr_set(err, "the session has no individual");
        return -1;
    }
    /* best measured first, then the newest */
    int best = -1, second = -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i].val_acc < 0 || !strcmp(v[i].decision, "rejected"))
            continue;
        if (best < 0 || v[i].val_acc > v[best].val_acc) {
            second = best;
            best = (int)i;
        } else if (second < 0 || v[i].val_acc > v[second].val_acc) {
            second = (int)i;
        }
    }
    if (best < 0)
        best = (int)n - 1;
    if (second < 0)
        for (size_t i = n; i-- > 0;)
            if ((int)i != best) {
                second = (int)i;
                break;
            }
    scopy(ids[0], SESSION_ID_MAX, v[best].id);
    int k = 1;
    if (op == PROPOSE_CROSSOVER) {
        if (second < 0) {
            free(v);
            gerr_set(err, "crossover needs two individuals; the session has one");
            return -1;
        }
        scopy(ids[1], SESSION_ID_MAX, v[second].id);
        k = 2;
    }
    free(v);
    return k;
}
