/* gevo propose: one proposal from the command line, for scripting and for
 * debugging prompts. Prints the diff against the parent, the reasoning
 * and the validation result; the individual is recorded in the session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/datadir.h"
#include "core/llm.h"
#include "core/llm_settings.h"
#include "core/mutate.h"
#include "core/prompt.h"
#include "core/propose.h"
#include "sessions/session.h"
#include "tui/commands.h"

static const char usage[] =
    "gevo propose SESSION [--operator mutate|crossover|eot] [--persona NAME]\n"
    "       [--llm none|URL] [--model M] [--parent ID [--parent ID]] [--gene NAME]\n"
    "       [--elite ID] [--seed N] [--generation N] [--repairs N] [--note TEXT] [--verbose]";

static const char help[] =
    "Runs one proposal and records it as a new individual of the session: the\n"
    "LLM rewrites one block (mutate), combines two parents' versions of a block\n"
    "(crossover) or carries an elite's change over to another block (eot); the\n"
    "answer is checked and, when it fails, sent back with the exact error up to\n"
    "--repairs times (default 2). Without an LLM (--llm none, or none configured)\n"
    "gevo's random mutation, or a gene-swap crossover, is used instead.\n"
    "\n"
    "Prints the diff against the parent, the reasoning and the validation result.\n"
    "A proposal that fails is not recorded; the exit status is then 1.\n"
    "\n"
    "  --operator OP    mutate (default), crossover or eot\n"
    "  --persona NAME   a persona of the session's prompts/ (default: drawn by weight)\n"
    "  --llm none|URL   no LLM, or the base URL of an OpenAI-compatible server\n"
    "  --model M        the model name\n"
    "  --parent ID      the parent (twice for crossover); default: the best measured\n"
    "                   individual, else the newest\n"
    "  --gene NAME      the block to rewrite (default: drawn at random)\n"
    "  --elite ID       eot: the elite to learn from (default: the best measured)\n"
    "  --seed N         seeds the draws of block, persona and mutation (default 1)\n"
    "  --generation N   the new individual's generation (default: the next one)\n"
    "  --repairs N      repair rounds after the first answer (default 2)\n"
    "  --note TEXT      steering: a note for the LLM for this proposal\n"
    "  --verbose        also print the exact prompts and raw responses\n"
    "\n"
    "LLM settings, later ones win: the session's gevo.json (llm.base_url,\n"
    "llm.model, llm.api_key_env, ...), GEVO_LLM_* environment variables\n"
    "(GEVO_LLM_BASE_URL, GEVO_LLM_MODEL, GEVO_LLM_API_KEY_ENV, ...), then --llm\n"
    "and --model. The API key is read from the variable llm.api_key_env names.\n";

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "gevo propose: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: %s\n", usage);
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int journal_last(const session_journal_entry *e, void *arg)
{
    int *g = arg;
    if (e->generation > *g)
        *g = e->generation;
    return 0;
}

static void section(const char *title, const char *body)
{
    printf("\n== %s ==\n", title);
    if (!body || !body[0]) {
        printf("(none)\n");
        return;
    }
    size_t n = strlen(body);
    printf("%s%s", body, body[n - 1] == '\n' ? "" : "\n");
}

static void print_outcome(session *s, const propose_outcome *o, bool verbose)
{
    if (o->ok) {
        printf("proposal %s: %s of %s%s%s, block `%s`, persona %s\n", o->id, o->op, o->parents[0],
               o->n_parents > 1 ? " and " : "", o->n_parents > 1 ? o->parents[1] : "", o->gene,
               o->persona);
    } else {
        printf("proposal failed: %s of %s%s%s%s%s%s\n", o->op, o->parents[0],
               o->n_parents > 1 ? " and " : "", o->n_parents > 1 ? o->parents[1] : "",
               o->gene[0] ? ", block `" : "", o->gene, o->gene[0] ? "`" : "");
    }
    if (o->model[0])
        printf("model %s: %d attempt%s, %ld tokens in, %ld out, %.2f s%s", o->model, o->attempts,
               o->attempts == 1 ? "" : "s", o->tokens_in, o->tokens_out, o->latency_s,
               o->cost_usd > 0 ? "" : "\n");
    if (o->model[0] && o->cost_usd > 0)
        printf(", $%.4f\n", o->cost_usd);
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
        section("reasoning", o->reasoning);
        char *diff = NULL;
        char title[96];
        snprintf(title, sizeof title, "diff against %s", o->parents[0]);
        if (session_diff(s, o->parents[0], o->id, true, &diff, &serr) == 0)
            section(title, diff);
        else
            printf("\n(no diff: %s)\n", serr.msg);
        free(diff);
    } else {
        printf("validation: failed: %s\n", o->error);
        if (o->reasoning && o->reasoning[0])
            section("what gevo's check reported", o->reasoning);
        if (o->program && o->program[0] && verbose)
            section("the last candidate", o->program);
    }
    if (verbose) {
        section("prompts (prompt.txt)", o->prompt);
        section("responses (response.txt)", o->response);
    }
}

int core_cmd_propose(int argc, char **argv)
{
    const char *dir = NULL, *op_s = "mutate", *persona = NULL, *llm_opt = NULL, *model = NULL,
               *gene = NULL, *elite = NULL, *note = NULL, *parents[2] = {NULL, NULL};
    int n_parents = 0;
    long seed = 1, generation = -1, repairs = PROPOSE_DEFAULT_REPAIRS;
    bool verbose = false;
    gerr serr = GERR_INIT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s\n\n%s", usage, help);
            return 0;
        }
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            verbose = true;
            continue;
        }
        const char **opt = !strcmp(a, "--operator")  ? &op_s
                           : !strcmp(a, "--persona") ? &persona
                           : !strcmp(a, "--llm")     ? &llm_opt
                           : !strcmp(a, "--model")   ? &model
                           : !strcmp(a, "--gene")    ? &gene
                           : !strcmp(a, "--elite")   ? &elite
                           : !strcmp(a, "--note")    ? &note
                                                     : NULL;
        bool num = !strcmp(a, "--seed") || !strcmp(a, "--generation") || !strcmp(a, "--repairs");
        if (opt || num || !strcmp(a, "--parent")) {
            if (i + 1 >= argc)
                return bad_usage("%s needs a value", a);
            const char *v = argv[++i];
            if (opt) {
                *opt = v;
            } else if (!strcmp(a, "--parent")) {
                if (n_parents == 2)
                    return bad_usage("%sat most two --parent", "");
                parents[n_parents++] = v;
            } else if (!strcmp(a, "--seed")) {
                if (parse_long(v, 0, 0x7fffffffL, &seed))
                    return bad_usage("--seed: '%s' is not a number >= 0", v);
            } else if (!strcmp(a, "--generation")) {
                if (parse_long(v, 0, 1000000, &generation))
                    return bad_usage("--generation: '%s' is not a generation number", v);
            } else if (parse_long(v, 0, 20, &repairs)) {
                return bad_usage("--repairs: '%s' is not a number from 0 to 20", v);
            }
        } else if (a[0] == '-') {
            return bad_usage("unknown option '%s'", a);
        } else if (dir) {
            return bad_usage("one session only ('%s' is extra)", a);
        } else {
            dir = a;
        }
    }
    if (!dir)
        return bad_usage("%sthe session folder is missing", "");
    propose_op op;
    if (propose_op_parse(op_s, &op))
        return bad_usage("--operator: '%s' is not mutate, crossover or eot", op_s);
    if (op != PROPOSE_CROSSOVER && n_parents > 1)
        return bad_usage("%sonly crossover takes two --parent", "");

    session *s = NULL;
    if (session_open(&s, dir, SESSION_WRITE, &serr) != 0) {
        fprintf(stderr, "gevo propose: %s\n", serr.msg);
        return 1;
    }
    int rc = 1;
    char err[2048];
    llm_client *client = NULL;
    prompt_set ps;
    memset(&ps, 0, sizeof ps);
    bool have_ps = false;
    char ids[2][SESSION_ID_MAX];
    memset(ids, 0, sizeof ids);
    int need = op == PROPOSE_CROSSOVER ? 2 : 1;
    if (n_parents < need) {
        int k = propose_pick_parents(s, op, ids, err, sizeof err);
        if (k < 0) {
            fprintf(stderr, "gevo propose: %s\n", err);
            goto done;
        }
        if (n_parents == 0) {
            for (int i = 0; i < need; i++)
                parents[i] = ids[i];
        } else { /* crossover with one parent given: the best other one */
            char first[SESSION_ID_MAX];
            if (session_resolve(s, parents[0], first, &serr) != 0) {
                fprintf(stderr, "gevo propose: parent %s: %s\n", parents[0], serr.msg);
                goto done;
            }
            parents[1] = strcmp(ids[0], first) ? ids[0] : ids[1];
        }
    }
    llm_config cfg;
    bool use_llm;
    if (llm_settings_load(s, llm_opt, model, &cfg, &use_llm, err, sizeof err)) {
        fprintf(stderr, "gevo propose: %s\n", err);
        goto done;
    }
    if (use_llm) {
        client = llm_client_new(&cfg, err, sizeof err);
        if (!client) {
            fprintf(stderr, "gevo propose: %s\n", err);
            goto done;
        }
        /* the session's own copy of the prompts, so edits to it count */
        char pdir[4200];
        struct stat st;
        snprintf(pdir, sizeof pdir, "%s/prompts", session_workdir(s));
        char *fallback = NULL;
        if (stat(pdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fallback = datadir_dir("prompts", err, sizeof err);
            if (!fallback) {
                fprintf(stderr, "gevo propose: no prompt templates: %s\n", err);
                goto done;
            }
            snprintf(pdir, sizeof pdir, "%s", fallback);
            free(fallback);
        }
        if (prompt_set_load(&ps, pdir, err, sizeof err)) {
            fprintf(stderr, "gevo propose: %s\n", err);
            goto done;
        }
        have_ps = true;
        const char *w = session_config_get(s, "llm.personas");
        if (w && w[0] && prompt_set_weights(&ps, w, err, sizeof err)) {
            fprintf(stderr, "gevo propose: llm.personas: %s\n", err);
            goto done;
        }
    } else if (persona || model) {
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
    propose_env env = {.s = s, .llm = client, .prompts = have_ps ? &ps : NULL};
    propose_request req = {.op = op,
                           .generation = (int)generation,
                           .parent = parents[0],
                           .other = parents[1],
                           .gene = gene,
                           .persona = persona,
                           .elite = elite,
                           .note = note,
                           .max_repairs = (int)repairs,
                           .seed = (uint64_t)seed};
    propose_outcome out;
    int r = propose_run(&env, &req, &out);
    if (!out.parents[0][0] && parents[0])
        snprintf(out.parents[0], SESSION_ID_MAX, "%s", parents[0]);
    print_outcome(s, &out, verbose);
    if (r != 0)
        fprintf(stderr, "gevo propose: %s\n", out.error);
    propose_outcome_release(&out);
    rc = r == 0 ? 0 : 1;
done:
    if (have_ps)
        prompt_set_release(&ps);
    llm_client_free(client);
    session_close(s);
    return rc;
}
