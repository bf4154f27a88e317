/* arms: see arms.h. */
#include "core/arms.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"

int arms_persona_weights(prompt_set *ps, json_t *personas, gerr *err)
{
    if (!personas)
        return 0;
    if (!json_is_object(personas))
        return gerr_set(err, "the session's gevo.json, personas: expected an object "
                             "{\"NAME\": weight, ...}");
    double *old = malloc(sizeof *old * (size_t)(ps->n_personas ? ps->n_personas : 1));
    if (!old)
        return gerr_set(err, "out of memory");
    for (int i = 0; i < ps->n_personas; i++)
        old[i] = ps->personas[i].weight;
    const char *name;
    json_t *v;
    json_object_foreach(personas, name, v)
    {
        if (!json_is_number(v)) {
            gerr_set(err, "the session's gevo.json, personas.%s: expected a number >= 0", name);
            goto fail;
        }
        if (prompt_set_weight(ps, name, json_number_value(v), err)) {
            gerr_prefix(err, "the session's gevo.json, personas.%s", name);
            goto fail;
        }
    }
    double sum = 0;
    for (int i = 0; i < ps->n_personas; i++)
        sum += ps->personas[i].weight;
    if (!(sum > 0)) {
        gerr_set(err, "the session's gevo.json, personas: every persona's weight is zero");
        goto fail;
    }
    free(old);
    return 0;
fail:
    for (int i = 0; i < ps->n_personas; i++)
        ps->personas[i].weight = old[i];
    free(old);
    return -1;
}

int arms_session_personas(session *s, prompt_set *ps, gerr *err)
{
    return arms_persona_weights(ps, session_config_node(s, "personas"), err);
}

int arms_policy_setting(session *s, arms_policy *out, gerr *err)
{
    json_t *v = session_config_node(s, "policy");
    *out = ARMS_WEIGHTS;
    if (!v)
        return 0;
    const char *p = json_is_string(v) ? json_string_value(v) : "";
    if (!strcmp(p, "weights") || !p[0])
        return 0;
    if (!strcmp(p, "bandit")) {
        *out = ARMS_BANDIT;
        return 0;
    }
    return gerr_set(err, "the session's gevo.json, policy: '%s' is not \"weights\" or \"bandit\"",
                    p);
}

int arms_draw(const double *w, int n, double u)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += w[i] > 0 ? w[i] : 0;
    if (!(sum > 0))
        return -1;
    double x = u * sum, acc = 0;
    int last = -1;
    for (int i = 0; i < n; i++) {
        if (!(w[i] > 0))
            continue;
        acc += w[i];
        last = i;
        if (x < acc)
            return i;
    }
    return last; /* u close to 1 and rounding */
}

int arms_ucb1(int n, const double *pulls, const double *score, const bool *allowed)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        if (allowed[i])
            total += pulls[i];
    int best = -1;
    double best_v = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!allowed[i])
            continue;
        if (pulls[i] <= 0)
            return i;
        double v = score[i] + sqrt(2 * log(total) / pulls[i]);
        if (v > best_v) {
            best_v = v;
            best = i;
        }
    }
    return best;
}

static int find_name(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

void arms_state_release(arms_state *a)
{
    free(a->pulls);
    free(a->score);
    memset(a, 0, sizeof *a);
}

/* A proposal's cost in the unit the bandit compares. */
static double cost_of(const stats_record *r, bool dollars)
{
    return dollars ? r->cost_usd : (double)(r->tokens_in + r->tokens_out);
}

int arms_state_build(arms_state *a, const stats *st, int generation, const char *const *models,
                     int n_models, const prompt_set *ps, gerr *err)
{
    memset(a, 0, sizeof *a);
    a->generation = generation;
    a->n_models = n_models;
    a->n_personas = ps->n_personas;
    size_t n = (size_t)n_models * (size_t)ps->n_personas;
    a->pulls = calloc(n ? n : 1, sizeof *a->pulls);
    a->score = calloc(n ? n : 1, sizeof *a->score);
    double *reward = calloc(n ? n : 1, sizeof *reward), *cost = calloc(n ? n : 1, sizeof *cost),
           *done = calloc(n ? n : 1, sizeof *done);
    if (!a->pulls || !a->score || !reward || !cost || !done) {
        free(reward);
        free(cost);
        free(done);
        arms_state_release(a);
        return gerr_set(err, "out of memory");
    }
    /* dollars when every finished proposal of these arms has a price */
    bool dollars = true;
    double all_cost = 0, all_done = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < st->n_records; i++) {
            const stats_record *r = &st->records[i];
            int m = find_name(models, n_models, r->model);
            int k = prompt_find_persona(ps, r->persona);
            if (m < 0 || k < 0 || r->generation > generation)
                continue;
            size_t arm = (size_t)m * (size_t)ps->n_personas + (size_t)k;
            if (pass == 0) {
                if (r->generation < generation && !(r->cost_usd > 0))
                    dollars = false;
                continue;
            }
            a->pulls[arm]++;
            if (r->generation == generation)
                continue; /* made this generation: its outcome is not known yet */
            done[arm]++;
            reward[arm] += stats_reward(r);
            cost[arm] += cost_of(r, dollars);
            all_cost += cost_of(r, dollars);
            all_done++;
        }
    double mean_all = all_done > 0 ? all_cost / all_done : 0;
    for (size_t i = 0; i < n; i++) {
        if (!(done[i] > 0))
            continue;
        double r = reward[i] / done[i], c = cost[i] / done[i];
        a->score[i] = c > 0 && mean_all > 0 ? fmin(1, r * mean_all / c) : r;
    }
    free(reward);
    free(cost);
    free(done);
    return 0;
}

int arms_bandit_pick(arms_state *a, const double *model_w, const prompt_set *ps, int *model,
                     int *persona)
{
    size_t n = (size_t)a->n_models * (size_t)a->n_personas;
    bool *allowed = calloc(n ? n : 1, sizeof *allowed);
    if (!allowed)
        return -1;
    for (int m = 0; m < a->n_models; m++)
        for (int k = 0; k < a->n_personas; k++)
            allowed[m * a->n_personas + k] = model_w[m] > 0 && ps->personas[k].weight > 0;
    int arm = arms_ucb1((int)n, a->pulls, a->score, allowed);
    free(allowed);
    if (arm < 0)
        return -1;
    a->pulls[arm]++;
    *model = arm / a->n_personas;
    *persona = arm % a->n_personas;
    return 0;
}
