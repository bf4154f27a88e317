/* llm_settings: one place that decides which LLM a session talks to, for
 * every command (gevo propose, gevo run, the workbench).
 *
 * Later sources win: the session's gevo.json ("llm" object), the GEVO_LLM_*
 * environment variables, then the command line (--llm URL|none, --model).
 * An LLM is in use when a base URL or a model is named by any of them and
 * --llm is not "none"; otherwise gevo uses the offline proposer. The API
 * key itself is never a setting: only the name of its variable. */
#ifndef GEVO_CORE_LLM_SETTINGS_H
#define GEVO_CORE_LLM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/llm.h"
#include "sessions/session.h"

/* Fills cfg; *use says whether an LLM is configured at all. llm_opt and
 * model_opt may be NULL. Returns 0, or -1 with err naming the bad
 * setting and where it came from. */
int llm_settings_load(session *s, const char *llm_opt, const char *model_opt, llm_config *cfg,
                      bool *use, gerr *err);

#endif
