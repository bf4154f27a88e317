/* arms: see arms.h. */
#include "core/arms.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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
