/* session_eval: the session's evaluator (see session_eval.h). */
#include "core/session_eval.h"

#include <stdio.h>
#include <string.h>

#include "core/llm_settings.h"

evaluator *session_eval_new(session *s, const session_eval_opts *o, gerr *err)
{
    evaluator_config ec;
    evaluator_config_default(&ec);
    snprintf(ec.dir, sizeof ec.dir, "%s", o->work_dir);
    ec.slots = o->slots > 0 ? o->slots : EVALUATOR_DEFAULT_SLOTS;
    ec.threads = o->threads > 0 ? o->threads : EVALUATOR_DEFAULT_THREADS;
    ec.max_memory = o->max_memory;
    ec.memory = o->memory;
    /* the LLM's key stays out of the workers' environment */
    llm_config lc;
    bool use_llm;
    if (llm_settings_load(s, o->llm, o->model, &lc, &use_llm, NULL) == 0)
        snprintf(ec.key_env, sizeof ec.key_env, "%s", lc.api_key_env);
    const char *engine = o->engine ? o->engine : session_config_get(s, "evaluator");
    if (!engine || !*engine)
        engine = "local";
    if (!strcmp(engine, "local"))
        return eval_local_new(&ec, err);
    if (strcmp(engine, "slurm")) {
        gerr_set(err, "unknown evaluator '%s' (this build has: local, slurm)", engine);
        return NULL;
    }
    /* the session's slurm.KEY settings, then the caller's lines (later wins) */
    char opts[8192] = "";
    size_t used = 0;
    for (int k = 0; eval_slurm_keys[k]; k++) {
        char key[64];
        snprintf(key, sizeof key, "slurm.%s", eval_slurm_keys[k]);
        const char *v = session_config_get(s, key);
        if (v && used < sizeof opts)
            used +=
                (size_t)snprintf(opts + used, sizeof opts - used, "%s=%s\n", eval_slurm_keys[k], v);
    }
    if (o->options && used < sizeof opts)
        used += (size_t)snprintf(opts + used, sizeof opts - used, "%s", o->options);
    if (used >= sizeof opts) {
        gerr_set(err, "the Slurm options are too long");
        return NULL;
    }
    return eval_slurm_new(&ec, opts, err);
}
