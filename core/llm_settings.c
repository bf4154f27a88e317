/* llm_settings: see llm_settings.h. */
#include "core/llm_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys of gevo.json's "llm" object that llm_config_set knows. */
static const char *const llm_keys[] = {
    "protocol",    "base_url",        "model",       "api_key_env", "temperature",  "max_tokens",
    "timeout",     "connect_timeout", "concurrency", "stream",      "max_attempts", "backoff_base",
    "backoff_max", "retry_after_max", "price_in",    "price_out",   "budget_usd",   "budget_tokens",
    "seed",
};

int llm_settings_load(session *s, const char *llm_opt, const char *model_opt, llm_config *cfg,
                      bool *use, gerr *err)
{
    llm_config_default(cfg);
    *use = false;
    for (size_t i = 0; i < sizeof llm_keys / sizeof *llm_keys; i++) {
        char key[64];
        snprintf(key, sizeof key, "llm.%s", llm_keys[i]);
        const char *v = session_config_get(s, key);
        if (!v || !v[0])
            continue;
        if (llm_config_set(cfg, llm_keys[i], v, err))
            return gerr_prefix(err, "the session's gevo.json, %s", key);
        if (!strcmp(llm_keys[i], "model") || !strcmp(llm_keys[i], "base_url"))
            *use = true;
    }
    const char *env_model = getenv("GEVO_LLM_MODEL"), *env_url = getenv("GEVO_LLM_BASE_URL");
    if ((env_model && env_model[0]) || (env_url && env_url[0]))
        *use = true;
    if (llm_config_from_env(cfg, err))
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
