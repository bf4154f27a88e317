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
 *             resume): see arms_ucb1 and arms_state_build.
 *
 * Why UCB1 rather than Thompson sampling: its choice is a function of the
 * counts alone, so the same session gives the same choice after a resume
 * with no random stream to restore, a test can state exactly what it
 * picks, and the rewards (core/stats.h stats_reward, in [0, 1]) are what
 * its bound assumes. Thompson sampling would need Beta draws whose
 * generator state would have to be kept aside or re-derived.
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

/* UCB1 over n arms: pulls[i] proposals made by arm i (finished or in
 * flight), score[i] the mean reward of its finished ones, allowed[i]
 * false: never chosen. An arm never pulled goes first (the lowest index);
 * else the highest score[i] + sqrt(2 ln N / pulls[i]), N the total pulls;
 * ties go to the lowest index. Returns -1 when no arm is allowed. */
int arms_ucb1(int n, const double *pulls, const double *score, const bool *allowed);

/* The bandit's state: per (model m, persona k), index m * n_personas + k. */
typedef struct arms_state {
    int generation; /* built for proposals of this generation */
    int n_models, n_personas;
    double *pulls, *score;
} arms_state;

struct stats;
/* From the session's counts (core/stats.h): the proposals of earlier
 * generations give each pair its pulls and score (mean reward, scaled by
 * the mean cost of all proposals over the pair's own: dollars when every
 * one has a cost, else tokens; capped at 1), those already made in this
 * generation count as pulls without a score. models names the models (as
 * meta.json records them), ps the personas. Returns 0, or -1 (out of
 * memory) with err. */
int arms_state_build(arms_state *a, const struct stats *st, int generation,
                     const char *const *models, int n_models, const prompt_set *ps, gerr *err);
void arms_state_release(arms_state *a);
/* The bandit's pair among those whose model_w and persona weight are
 * above zero; counts it as pulled. Returns 0, or -1 when none is. */
int arms_bandit_pick(arms_state *a, const double *model_w, const prompt_set *ps, int *model,
                     int *persona);

/* Index drawn from n weights (>= 0) with u uniform in [0, 1); -1 when
 * every weight is zero. A weight of 0 is never drawn. */
int arms_draw(const double *w, int n, double u);

#endif
