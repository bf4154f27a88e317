/* gevo propose: one proposal from the command line, for scripting and for
 * debugging prompts. Prints the diff against the parent, the reasoning
 * and the validation result; the individual is recorded in the session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/arms.h"
#include "core/datadir.h"
#include "core/evolve.h"
#include "core/llm.h"
#include "core/llm_settings.h"
#include "core/mutate.h"
#include "core/prompt.h"
#include "core/propose.h"
#include "engine/base/rng.h"
#include "sessions/session.h"
#include "tui/cli/cli.h"

static const cli_spec spec = {
    "propose",
    "Runs one proposal and records it as a new individual of the session: the\n"
    "LLM rewrites one block (mutate), combines two parents' versions of a block\n"
    "(crossover) or carries an elite's change over to another block (eot); the\n"
    "answer is checked and, when it fails, sent back with the exact error up to\n"
    "--repairs times (default 2). Without an LLM (--llm none, or none configured)\n"
    "gevo's random mutation, or a gene-swap crossover, is used instead.\n"
    "\n"
    "Prints the diff against the parent, the reasoning and the validation result.\n"
    "A proposal that fails is recorded as a failed proposal (not an individual);\n"
    "the exit status is then 1.\n",
    "LLM settings, later ones win: the session's gevo.json (llm.base_url,\n"
    "llm.model, llm.api_key_env, ...), GEVO_LLM_* environment variables\n"
    "(GEVO_LLM_BASE_URL, GEVO_LLM_MODEL, GEVO_LLM_API_KEY_ENV, ...), then --llm\n"
    "and --model. The API key is read from the variable llm.api_key_env names.\n"
    "With gevo.json \"models\" (several LLMs) and neither --llm nor --model, the\n"
    "model is drawn by the models' weights; the persona by gevo.json \"personas\".\n",
    1,
    "the session folder is missing",
};

static int journal_last(const session_journal_entry *e, void *arg)
{
    int *g = arg;
    if (e->generation > *g)
        *g = e->generation;
    return 0;
}

static void print_outcome(session *s, const propose_outcome *o, bool verbose)
{
    if (o->ok) {
        cli_line(stdout, "proposal %s: %s of %s%s%s, block `%s`, persona %s", o->id, o->op,
                 o->parents[0], o->n_parents > 1 ? " and " : "",
                 o->n_parents > 1 ? o->parents[1] : "", o->gene, o->persona);
    } else {
        cli_line(stdout, "proposal failed: %s of %s%s%s%s%s%s", o->op, o->parents[0],
                 o->n_parents > 1 ? " and " : "", o->n_parents > 1 ? o->parents[1] : "",
                 o->gene[0] ? ", block `" : "", o->gene, o->gene[0] ? "`" : "");
        if (o->failed_id[0])
            cli_line(stdout, "recorded as failed proposal %s (git log refs/failed/%s)",
                     o->failed_id, o->failed_id);
    }
    if (o->model[0]) {
        char cost[32] = "";
        if (o->cost_usd > 0)
            snprintf(cost, sizeof cost, ", $%.4f", o->cost_usd);
        cli_line(stdout, "model %s: %d attempt%s, %ld tokens in, %ld out, %.2f s%s", o->model,
                 o->attempts, o->attempts == 1 ? "" : "s", o->tokens_in, o->tokens_out,
                 o->latency_s, cost);
    }
    if (o->ok) {
        gerr serr = GERR_INIT;
        long pp = -1;
        double pf = -1;
        net_graph *g = NULL;
        net_error e;
        char *src = NULL;
        if (session_genome(s, o->parents[0], &src, NULL) == 0 &&
            net_compile(src, strlen(src), "parent", NULL, &g, &e) == 0) {
            pp = g->params;
            pf = g->flops;
            net_graph_free(g);
        }
        free(src);
        printf("validation: ok, %ld parameters", o->params);
        if (pp > 0)
            printf(" (parent %ld, %+.1f%%)", pp, 100.0 * (double)(o->params - pp) / (double)pp);
        printf(", %.3g MFLOPs per image", o->flops / 1e6);
        if (pf > 0)
            printf(" (parent %.3g, %+.1f%%)", pf / 1e6, 100.0 * (o->flops - pf) / pf);
        printf("\n");
        cli_section("reasoning", o->reasoning);
        char *diff = NULL;
        char title[96];
        snprintf(title, sizeof title, "diff against %s", o->parents[0]);
        if (session_diff(s, o->parents[0], o->id, true, &diff, &serr) == 0)
            cli_section(title, diff);
        else {
            putchar('\n');
            cli_line(stdout, "(no diff: %s)", serr.msg);
        }
        free(diff);
    } else {
        cli_line(stdout, "validation: failed: %s", o->error);
        if (o->reasoning && o->reasoning[0])
            cli_section("what gevo's check reported", o->reasoning);
        if (o->program && o->program[0] && verbose)
            cli_section("the last candidate", o->program);
    }
    if (verbose) {
        cli_section("prompts (prompt.txt)", o->prompt);
        cli_section("responses (response.txt)", o->response);
    }
}

/* The options, parsed into (tui/cli/opts.h). */
typedef struct options {
    const char *op_s, *persona, *llm_opt, *model, *gene, *elite, *note, *max_memory;
    const char *parents[2];
    cli_list parent_list;
    long seed, generation, repairs;
    bool verbose;
} options;

static const cli_opt opts[] = {
    CLI_STR("operator", options, op_s, "OP", "mutate (default), crossover or eot"),
    CLI_STR("persona", options, persona, "NAME",
            "a persona of the session's prompts/ (default: drawn by weight)"),
    CLI_STR("llm", options, llm_opt, "none|URL",
            "no LLM, or the base URL of an OpenAI-compatible server"),
    CLI_STR("model", options, model, "M", "the model name"),
    CLI_LIST("parent", options, parent_list, "ID",
             "the parent (twice for crossover); default: the best measured\n"
             "individual, else the newest"),
    CLI_STR("gene", options, gene, "NAME", "the block to rewrite (default: drawn at random)"),
    CLI_STR("elite", options, elite, "ID",
            "eot: the elite to learn from (default: the best measured)"),
    CLI_LONG("seed", options, seed, 0, 0x7fffffffL, "N",
             "seeds the draws of block, persona and mutation (default 1)"),
    CLI_LONG("generation", options, generation, 0, 1000000, "N",
             "the new individual's generation (default: the next one)"),
    CLI_LONG("repairs", options, repairs, 0, 20, "N",
             "repair rounds after the first answer (default 2)"),
    CLI_STR("note", options, note, "TEXT", "steering: a note for the LLM for this proposal"),
    CLI_SIZE("max-memory", options, max_memory, "BYTES",
             "what the proposal's training may allocate, e.g. 512M, 2G;\n"
             "0: no limit (default: gevo.json's max_memory, else half of\n"
             "the machine's memory over gevo run's slots); planned at its\n"
             "batch on gevo run's default training subset"),
    CLI_FLAG("verbose", 'v', options, verbose, "also print the exact prompts and raw responses"),
    CLI_END,
};

static void init(void *vo)
{
    options *a = vo;
    a->op_s = "mutate";
    a->parent_list = (cli_list){a->parents, 0, 2, "at most two --parent"};
    a->seed = 1;
    a->generation = -1;
    a->repairs = PROPOSE_DEFAULT_REPAIRS;
}

static int run(void *vo, const cli_args *args)
{
    options *a = vo;
    const char **parents = a->parents;
    long generation = a->generation;
    int n_parents = a->parent_list.n;
    const char *dir = args->v[0];
    gerr serr = GERR_INIT;
    propose_op op;
    if (propose_op_parse(a->op_s, &op))
        return cli_usage_error("propose", "--operator: '%s' is not mutate, crossover or eot",
                               a->op_s);
    if (op != PROPOSE_CROSSOVER && n_parents > 1)
        return cli_usage_error("propose", "only crossover takes two --parent");

    session *s = cli_session_open("propose", dir, SESSION_WRITE);
    if (!s)
        return CLI_FAIL;
    int rc = CLI_FAIL;
    llm_client *client = NULL;
    prompt_set ps;
    memset(&ps, 0, sizeof ps);
    bool have_ps = false;
    char ids[2][SESSION_ID_MAX];
    memset(ids, 0, sizeof ids);
    int need = op == PROPOSE_CROSSOVER ? 2 : 1;
    if (n_parents < need) {
        int k = propose_pick_parents(s, op, ids, &serr);
        if (k < 0) {
            cli_error("propose", "%s", serr.msg);
            goto done;
        }
        if (n_parents == 0) {
            for (int i = 0; i < need; i++)
                parents[i] = ids[i];
        } else { /* crossover with one parent given: the best other one */
            char first[SESSION_ID_MAX];
            if (session_resolve(s, parents[0], first, &serr) != 0) {
                cli_error("propose", "parent %s: %s", parents[0], serr.msg);
                goto done;
            }
            parents[1] = strcmp(ids[0], first) ? ids[0] : ids[1];
        }
    }
    llm_model *models = NULL;
    int n_models = 0;
    gerr lerr = GERR_INIT;
    if (llm_settings_models(s, a->llm_opt, a->model, &models, &n_models, &lerr)) {
        cli_error("propose", "%s", lerr.msg);
        goto done;
    }
    if (n_models) {
        /* one of gevo.json's "models", drawn by weight from the seed */
        double w[LLM_MODELS_MAX];
        for (int i = 0; i < n_models; i++)
            w[i] = models[i].weight;
        rng draw;
        rng_seed(&draw, (uint64_t)a->seed ^ 0x6d6f64656cULL);
        int m = arms_draw(w, n_models, rng_uniform_double(&draw));
        client = llm_client_new(&models[m].cfg, &lerr);
        free(models);
        if (!client) {
            cli_error("propose", "%s", lerr.msg);
            goto done;
        }
        /* the session's own copy of the prompts, so edits to it count */
        char pdir[4200];
        struct stat st;
        snprintf(pdir, sizeof pdir, "%s/prompts", session_workdir(s));
        char *fallback = NULL;
        if (stat(pdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fallback = datadir_dir("prompts", &serr);
            if (!fallback) {
                cli_error("propose", "no prompt templates: %s", serr.msg);
                goto done;
            }
            snprintf(pdir, sizeof pdir, "%s", fallback);
            free(fallback);
        }
        if (prompt_set_load(&ps, pdir, &serr)) {
            cli_error("propose", "%s", serr.msg);
            goto done;
        }
        have_ps = true;
        if (arms_session_personas(s, &ps, &serr)) {
            cli_error("propose", "%s", serr.msg);
            goto done;
        }
    } else if (a->persona || a->model) {
        fprintf(stderr, "gevo propose: note: no LLM is used (offline proposer), so --persona "
                        "and --model are ignored\n");
    }
    if (generation < 0) {
        int g = 0;
        session_journal_foreach(s, journal_last, &g, NULL);
        generation = g + 1;
        for (int i = 0; i < need; i++) {
            session_info in;
            char id[SESSION_ID_MAX];
            if (session_resolve(s, parents[i], id, NULL) == 0 &&
                session_info_get(s, id, &in, NULL) == 0 && in.generation > generation)
                generation = in.generation;
        }
    }
    /* checked as gevo run would train it: the default preset's subset */
    evolve_config ec;
    evolve_config_preset(&ec, NULL);
    ec.max_memory = a->max_memory;
    memlimit ml;
    if (evolve_memlimit(s, &ec, &ml, &serr)) {
        cli_error("propose", "%s", serr.msg);
        goto done;
    }
    propose_env env = {.s = s, .llm = client, .prompts = have_ps ? &ps : NULL};
    propose_request req = {.op = op,
                           .generation = (int)generation,
                           .parent = parents[0],
                           .other = parents[1],
                           .gene = a->gene,
                           .persona = a->persona,
                           .elite = a->elite,
                           .note = a->note,
                           .max_repairs = (int)a->repairs,
                           .seed = (uint64_t)a->seed,
                           .mem = &ml};
    propose_outcome out;
    int r = propose_run(&env, &req, &out);
    if (!out.parents[0][0] && parents[0])
        snprintf(out.parents[0], SESSION_ID_MAX, "%s", parents[0]);
    print_outcome(s, &out, a->verbose);
    if (r != 0)
        cli_error("propose", "%s", out.error);
    propose_outcome_release(&out);
    rc = r == 0 ? CLI_OK : CLI_FAIL;
done:
    if (have_ps)
        prompt_set_release(&ps);
    llm_client_free(client);
    session_close(s);
    return rc;
}

const cli_def cmd_propose = {&spec, opts, sizeof(options), init, run};
