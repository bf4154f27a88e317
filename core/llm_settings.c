/* llm_settings: see llm_settings.h. */
#include "core/llm_settings.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON scalar as the text llm_config_set reads: strings as they are,
 * numbers and booleans written out. Returns -1 for objects, arrays, null. */
static int scalar_text(json_t *v, char *buf, size_t size)
{
    if (json_is_string(v))
        snprintf(buf, size, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, size, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
    else
        return -1;
    return 0;
}

/* One key of a gevo.json object into cfg; "where" names it in errors.
 * *named is set for model and base_url (they put an LLM in use). */
static int apply_key(llm_config *cfg, const char *key, json_t *v, const char *where, bool *named,
                     gerr *err)
{
    char text[1024];
    if (scalar_text(v, text, sizeof text))
        return gerr_set(err, "the session's gevo.json, %s.%s: expected a string or a number", where,
                        key);
    if (!text[0])
        return 0;
    if (llm_config_set(cfg, key, text, err))
        return gerr_prefix(err, "the session's gevo.json, %s.%s", where, key);
    if (!strcmp(key, "model") || !strcmp(key, "base_url"))
        *named = true;
    return 0;
}

/* The "llm" object and the GEVO_LLM_* variables over the defaults. */
static int load_shared(session *s, llm_config *cfg, bool *use, gerr *err)
{
    llm_config_default(cfg);
    *use = false;
    json_t *llm = session_config_node(s, "llm");
    /* the keys of gevo.json's "llm" object: those llm_config_set knows */
    const char *key;
    for (size_t i = 0; (key = llm_config_key(i)); i++) {
        json_t *v = json_object_get(llm, key);
        if (v && apply_key(cfg, key, v, "llm", use, err))
            return -1;
    }
    const char *env_model = getenv("GEVO_LLM_MODEL"), *env_url = getenv("GEVO_LLM_BASE_URL");
    if ((env_model && env_model[0]) || (env_url && env_url[0]))
        *use = true;
    return llm_config_from_env(cfg, err);
}

int llm_settings_load(session *s, const char *llm_opt, const char *model_opt, llm_config *cfg,
                      bool *use, gerr *err)
{
    if (load_shared(s, cfg, use, err))
        return -1;
    if (llm_opt && strcmp(llm_opt, "none")) {
        if (llm_config_set(cfg, "base_url", llm_opt, err))
            return gerr_prefix(err, "--llm");
        *use = true;
    }
    if (model_opt) {
        if (llm_config_set(cfg, "model", model_opt, err))
            return gerr_prefix(err, "--model");
        *use = true;
    }
    if (llm_opt && !strcmp(llm_opt, "none"))
        *use = false;
    return 0;
}

/* A budget is the session's, across processes and reopenings: every
 * model starts from what the session spent (only read when one has a
 * budget, since it reads every record). */
static int apply_spent(session *s, llm_model *m, int n, gerr *err)
{
    bool budget = false;
    for (int i = 0; i < n; i++)
        budget |= m[i].cfg.budget_usd > 0 || m[i].cfg.budget_tokens > 0;
    if (!budget)
        return 0;
    session_totals t;
    if (session_totals_get(s, &t, err))
        return gerr_prefix(err, "the session's LLM totals (for the budget)");
    for (int i = 0; i < n; i++) {
        m[i].cfg.spent_usd = t.cost_usd;
        m[i].cfg.spent_tokens = t.tokens_in + t.tokens_out;
    }
    return 0;
}

/* Entry i of "models" over the shared settings. */
static int load_entry(json_t *entry, size_t i, const llm_config *shared, llm_model *m, gerr *err)
{
    char where[32];
    snprintf(where, sizeof where, "models[%zu]", i);
    if (!json_is_object(entry))
        return gerr_set(err, "the session's gevo.json, %s: expected an object of llm keys", where);
    m->cfg = *shared;
    m->weight = 1;
    bool named = false;
    const char *key;
    json_t *v;
    json_object_foreach(entry, key, v)
    {
        if (!strcmp(key, "weight")) {
            if (!json_is_number(v) || !(json_number_value(v) >= 0) || json_number_value(v) > 1e6)
                return gerr_set(err,
                                "the session's gevo.json, %s.weight: expected a number from 0 "
                                "to 1e6 (0: never asked)",
                                where);
            m->weight = json_number_value(v);
        } else if (apply_key(&m->cfg, key, v, where, &named, err)) {
            return -1;
        }
    }
    return 0;
}

int llm_settings_models(session *s, const char *llm_opt, const char *model_opt, llm_model **out,
                        int *n, gerr *err)
{
    *out = NULL;
    *n = 0;
    json_t *models = session_config_node(s, "models");
    bool one = llm_opt || model_opt || !json_is_array(models) || json_array_size(models) == 0;
    if (models && !json_is_array(models))
        return gerr_set(err, "the session's gevo.json, models: expected an array of objects");
    if (one) {
        llm_model m = {.weight = 1};
        bool use;
        if (llm_settings_load(s, llm_opt, model_opt, &m.cfg, &use, err))
            return -1;
        if (!use)
            return 0;
        if (!(*out = malloc(sizeof **out)))
            return gerr_set(err, "out of memory");
        **out = m;
        *n = 1;
        if (apply_spent(s, *out, 1, err)) {
            free(*out);
            *out = NULL;
            *n = 0;
            return -1;
        }
        return 0;
    }
    size_t count = json_array_size(models);
    if (count > LLM_MODELS_MAX)
        return gerr_set(err, "the session's gevo.json, models: %zu entries (at most %d)", count,
                        LLM_MODELS_MAX);
    llm_config shared;
    bool use;
    if (load_shared(s, &shared, &use, err))
        return -1;
    llm_model *m = calloc(count, sizeof *m);
    if (!m)
        return gerr_set(err, "out of memory");
    double sum = 0;
    for (size_t i = 0; i < count; i++) {
        if (load_entry(json_array_get(models, i), i, &shared, &m[i], err))
            goto fail;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(m[i].cfg.model, m[j].cfg.model)) {
                gerr_set(err,
                         "the session's gevo.json, models[%zu].model: '%s' is models[%zu]'s too "
                         "(models are told apart by name)",
                         i, m[i].cfg.model, j);
                goto fail;
            }
        sum += m[i].weight;
    }
    if (!(sum > 0)) {
        gerr_set(err, "the session's gevo.json, models: every weight is zero");
        goto fail;
    }
    if (apply_spent(s, m, (int)count, err))
        goto fail;
    *out = m;
    *n = (int)count;
    return 0;
fail:
    free(m);
    return -1;
}
