/* llm_settings: one place that decides which LLMs a session talks to, for
 * every command (gevo propose, gevo run, the workbench).
 *
 * Later sources win: the session's gevo.json ("llm" object), the GEVO_LLM_*
 * environment variables, then the command line (--llm URL|none, --model).
 * An LLM is in use when a base URL or a model is named by any of them and
 * --llm is not "none"; otherwise gevo uses the offline proposer. The API
 * key itself is never a setting: only the name of its variable.
 *
 * Several models: gevo.json "models" is an array of objects, each taking
 * any key of the "llm" object (its own base_url, model, api_key_env,
 * protocol, temperature, prices...) plus "weight" (>= 0, default 1: the
 * share of proposals it makes; 0 = never asked). An entry starts from the
 * "llm" object and the GEVO_LLM_* variables and its own keys win. Models
 * are told apart by their "model" name, which must differ between entries.
 * --llm or --model on the command line still mean one model: "models" is
 * then not used.
 *
 * A budget (budget_usd, budget_tokens) is the session's: every model's
 * cfg gets spent_usd and spent_tokens, what the session spent before
 * (session_totals_get, whichever process spent it). */
#ifndef GEVO_CORE_LLM_SETTINGS_H
#define GEVO_CORE_LLM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/llm.h"
#include "sessions/session.h"

/* Fills cfg; *use says whether an LLM is configured at all. llm_opt and
 * model_opt may be NULL. Returns 0, or -1 with err naming the bad
 * setting and where it came from. The single model of the "llm" object,
 * the environment and the command line ("models" is not read). */
int llm_settings_load(session *s, const char *llm_opt, const char *model_opt, llm_config *cfg,
                      bool *use, gerr *err);

#define LLM_MODELS_MAX 32

typedef struct llm_model {
    llm_config cfg;
    double weight; /* >= 0; 1 for the single model */
} llm_model;

/* Every model proposals may use, as said above: *n = 0 (and *out NULL)
 * when no LLM is in use, 1 for the single model, else one per "models"
 * entry. *out is malloc'd (the caller frees it). Returns 0, or -1 with err
 * naming the entry and key ("gevo.json models[1].temperature: ..."). An
 * unknown key, a negative weight, every weight zero and a model named
 * twice are errors. */
int llm_settings_models(session *s, const char *llm_opt, const char *model_opt, llm_model **out,
                        int *n, gerr *err);

#endif
