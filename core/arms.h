/* arms: which model and which persona make each proposal of the loop.
 *
 * An arm is a (model, persona) pair. The models are core/llm_settings.h's
 * list (gevo.json "models", each with a "weight"); the personas are the
 * session's prompts/persona_NAME.txt files, each with weight 1 unless
 * gevo.json "personas" sets it: {"expert": 2, "scientist": 1, "magoo": 1,
 * "plain": 0}. Weight 0 means never drawn (nor tried by the bandit).
 *
 * gevo.json "policy" says how an arm is chosen:
 *   "weights" (default): the model by the models' weights and the persona
 *             by the personas' weights, drawn independently from the
 *             proposal's seed;
 *   "bandit": UCB1 over the pairs whose model and persona both have a
 *             weight above zero, on the outcomes of their past proposals
 *             (core/stats.h, derived from the session, so it survives a
 *             resume): see arms_bandit_pick.
 *
 * Errors: -1 with what and where in err (engine/base/error.h). */
#ifndef GEVO_CORE_ARMS_H
#define GEVO_CORE_ARMS_H

#include <stdbool.h>

#include "core/prompt.h"
#include "engine/base/error.h"
#include "sessions/session.h"

typedef enum arms_policy {
    ARMS_WEIGHTS,
    ARMS_BANDIT
} arms_policy;

/* Applies a "personas" object ({"NAME": weight, ...}; NULL: nothing) to
 * ps. A name without a persona file, a weight that is not a number from 0
 * to 1e6, and every weight zero are errors naming the key
 * ("gevo.json personas.expret: no persona 'expret' ..."); then ps is
 * unchanged. */
int arms_persona_weights(prompt_set *ps, struct json_t *personas, gerr *err);
/* The same with the session's gevo.json "personas". */
int arms_session_personas(session *s, prompt_set *ps, gerr *err);

/* gevo.json "policy": "weights" (also when unset) or "bandit". */
int arms_policy_setting(session *s, arms_policy *out, gerr *err);

/* Index drawn from n weights (>= 0) with u uniform in [0, 1); -1 when
 * every weight is zero. A weight of 0 is never drawn. */
int arms_draw(const double *w, int n, double u);

#endif
