/* One proposal end to end against the fake LLM server, in a real session
 * repository: mutate, crossover, EoT and repair produce valid, recorded
 * individuals (checked with the session API and with plain git); faults
 * (500s, 429, malformed JSON, no code, invalid programs) end in a clear
 * error with the session unchanged and git fsck clean; two proposals run
 * at once through the poll loop; the offline proposer records its work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/llm.h"
#include "core/mutate.h"
#include "core/prompt.h"
#include "core/propose.h"
#include "sessions/session.h"
#include "tests/fake_llm/fake_llm.h"
#include "tests/harness.h"

/* The message of the last failing session call. */
static gerr serr = GERR_INIT;

static fake_llm srv;
static prompt_set set;
static session *S;
static char dir[256];

/* Output of a shell command (malloc'd), NULL when it fails. */
static char *sh(const char *fmt, const char *arg)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, dir, arg);
    int status;
    char *out = harness_output(cmd, &status);
    if (status != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static bool fsck_clean(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "git -C '%s' fsck --strict --no-progress >/dev/null 2>&1", dir);
    return system(cmd) == 0;
}

/* Every ref and what it names, and the individuals: the session's state
 * (failed proposals, refs/failed/, aside). */
static char *state(void)
{
    return sh("git -C '%s' for-each-ref --format='%%(refname) %%(objectname)' refs/tags "
              "refs/heads refs/notes%s",
              "");
}

static size_t count_failed(void)
{
    session_failed_info *v = NULL;
    size_t n = 0;
    session_failed_list(S, -1, &v, &n, &serr);
    free(v);
    return n;
}

static size_t count_individuals(void)
{
    session_info *v = NULL;
    size_t n = 0;
    session_list(S, -1, &v, &n, &serr);
    free(v);
    return n;
}

static int run(const char *model, propose_request *req, propose_outcome *out)
{
    llm_client *c = fake_llm_client(&srv, model);
    propose_env env = {.s = S, .llm = c, .prompts = &set};
    int rc = propose_run(&env, req, out);
    llm_client_free(c);
    return rc;
}

static char *file_of(const char *id, const char *name)
{
    char *t = NULL;
    CHECK(session_file(S, id, name, &t, &serr) == 0, "%s of %s: %s", name, id, serr.msg);
    return t;
}

/* A request as the tests make them: op on block gene (NULL: drawn) of
 * g0-1 by persona (NULL: drawn), for generation 1, with the default
 * repairs; the tests change what they test. */
static propose_request request(propose_op op, const char *gene, const char *persona, uint64_t seed)
{
    return (propose_request){.op = op,
                             .generation = 1,
                             .parent = "g0-1",
                             .gene = gene,
                             .persona = persona,
                             .max_repairs = -1,
                             .seed = seed};
}

/* The user message of the last request the fake server was sent
 * (malloc'd; NULL when there is none). */
static char *last_user_message(void)
{
    json_t *st = fake_llm_stats(&srv);
    const char *m = json_string_value(json_object_get(
        json_array_get(json_object_get(json_object_get(st, "last"), "messages"), 1), "content"));
    char *copy = m ? strdup(m) : NULL;
    json_decref(st);
    return copy;
}

static char mutant[SESSION_ID_MAX];

static void test_mutate(void)
{
    const char *model = "mu/ok:17_helper_def";
    propose_request req = request(PROPOSE_MUTATE, "block", "expert", 1);
    propose_outcome o;
    CHECK(run(model, &req, &o) == 0, "mutate: %s", o.error);
    CHECK(o.ok && !strcmp(o.id, "g1-1"), "id %s", o.id);
    CHECK_EQ_INT(o.attempts, 1);
    CHECK_EQ_INT(fake_llm_count(&srv, model), 1);
    snprintf(mutant, sizeof mutant, "%s", o.id);
    session_info in;
    CHECK(session_info_get(S, o.id, &in, &serr) == 0, "%s", serr.msg);
    CHECK(!strcmp(in.op, "mutation") && !strcmp(in.persona, "expert"), "%s %s", in.op, in.persona);
    CHECK(!strcmp(in.model, model), "model %s", in.model);
    CHECK_EQ_INT(in.tokens_in, 1000);
    CHECK_EQ_INT(in.tokens_out, 500);
    CHECK(in.n_parents == 1 && !strcmp(in.parents[0], "g0-1"), "parent");
    char *g = NULL;
    CHECK(session_genome(S, o.id, &g, &serr) == 0 && strstr(g, "def dwsep(x, c):"), "genome");
    free(g);
    char *p = file_of(o.id, "prompt.txt"), *r = file_of(o.id, "response.txt"),
         *why = file_of(o.id, "reasoning.md");
    CHECK(p && strstr(p, "===== attempt 1 of 3: mutate, persona expert, block `block`"), "%s",
          p ? p : "(none)");
    CHECK(p && strstr(p, "----- system -----\nYou are an expert in deep learning"), "system");
    CHECK(p && strstr(p, "Rewrite the block `block`"), "user message");
    CHECK(r && strstr(r, "I introduce a depthwise-separable convolution helper"), "raw answer");
    CHECK(r && strstr(r, "1000 tokens in, 500 out"), "tokens in the header");
    CHECK(why && strstr(why, "depthwise-separable") && strstr(why, "attempts: 1 (0 repairs)"), "%s",
          why ? why : "(none)");
    free(p);
    free(r);
    free(why);
    /* plain git sees the same */
    char *t = sh("git -C '%s' show %s:genome.net", "g1-1");
    CHECK(t && strstr(t, "def dwsep"), "git show genome");
    free(t);
    t = sh("git -C '%s' log -1 --format=%%B %s", "g1-1");
    CHECK(t && strstr(t, "g1-1 gen 1 mutation (expert): `block`: I introduce") &&
              strstr(t, "tokens: 1000 in, 500 out"),
          "commit message: %s", t);
    free(t);
    t = sh("git -C '%s' show %s:meta.json", "g1-1");
    CHECK(t && strstr(t, "\"model\": \"mu/ok:17_helper_def\""), "meta: %s", t ? t : "(none)");
    free(t);
    CHECK(fsck_clean(), "fsck");
    propose_outcome_release(&o);
}

static void test_repair(void)
{
    const char *model = "rp/ok:20_invalid_shapes,ok:17_helper_def";
    propose_request req = request(PROPOSE_MUTATE, "block", "magoo", 2);
    propose_outcome o;
    CHECK(run(model, &req, &o) == 0, "repair: %s", o.error);
    CHECK_EQ_INT(o.attempts, 2);
    CHECK_EQ_INT(fake_llm_count(&srv, model), 2);
    CHECK_EQ_INT(o.tokens_in, 2000);
    /* the repair request carried the exact error */
    char *sent = last_user_message();
    CHECK(sent && strstr(sent, "24x14x14 and 16x14x14") && strstr(sent, "y = se(y) + x"),
          "repair prompt: %s", sent ? sent : "(none)");
    free(sent);
    session_info in;
    CHECK(session_info_get(S, o.id, &in, &serr) == 0, "%s", serr.msg);
    CHECK_EQ_INT(in.tokens_in, 2000);
    char *p = file_of(o.id, "prompt.txt"), *r = file_of(o.id, "response.txt"),
         *why = file_of(o.id, "reasoning.md");
    CHECK(p && strstr(p, "===== attempt 1 of 3: mutate") &&
              strstr(p, "===== attempt 2 of 3: repair"),
          "both prompts recorded");
    CHECK(p && strstr(p, "could not be used") && strstr(p, "24x14x14 and 16x14x14"), "repair");
    CHECK(r && strstr(r, "Add a residual connection") && strstr(r, "depthwise-separable"),
          "both answers recorded");
    CHECK(why && strstr(why, "attempts: 2 (1 repair)") && strstr(why, "attempt 1: invalid program"),
          "%s", why ? why : "(none)");
    free(p);
    free(r);
    free(why);
    char *t = sh("git -C '%s' log -1 --format=%%s %s", o.id);
    CHECK(t && strstr(t, "(repaired: 2 attempts)"), "summary: %s", t ? t : "(none)");
    free(t);
    CHECK(fsck_clean(), "fsck");
    propose_outcome_release(&o);
}

static void test_crossover(void)
{
    const char *model = "cx/ok:02_python_tag";
    propose_request req = request(PROPOSE_CROSSOVER, "se", NULL, 3);
    req.other = mutant;
    propose_outcome o;
    CHECK(run(model, &req, &o) == 0, "crossover: %s", o.error);
    char *sent = last_user_message();
    CHECK(sent && strstr(sent, "The second parent's version of the block"), "crossover prompt");
    free(sent);
    session_info in;
    CHECK(session_info_get(S, o.id, &in, &serr) == 0, "%s", serr.msg);
    CHECK(!strcmp(in.op, "crossover") && in.n_parents == 2 && !strcmp(in.parents[1], mutant),
          "op %s, %d parents", in.op, in.n_parents);
    CHECK(in.persona[0] != '\0', "a persona was drawn");
    /* two git parents: the population tree */
    char *t = sh("git -C '%s' rev-list --parents -n 1 %s", o.id);
    int words = 0;
    for (char *q = t; q && *q; q++)
        if (*q == ' ')
            words++;
    CHECK(words == 2, "commit has two parents: %s", t);
    free(t);
    char *g = NULL;
    CHECK(session_genome(S, o.id, &g, &serr) == 0 && strstr(g, "silu(linear(s"), "genome");
    free(g);
    CHECK(fsck_clean(), "fsck");
    propose_outcome_release(&o);
}

static void test_eot(void)
{
    /* the mutant becomes an elite: measured, with a changed `block` */
    CHECK(session_set_result(S, mutant, "{\"status\":\"ok\",\"val_acc\":0.91,\"params\":9000}",
                             &serr) == 0,
          "%s", serr.msg);
    CHECK(session_set_result(S, "g0-1", "{\"status\":\"ok\",\"val_acc\":0.88,\"params\":12000}",
                             &serr) == 0,
          "%s", serr.msg);
    const char *model = "eot/ok:01_plain_fence";
    propose_request req = request(PROPOSE_EOT, "se", NULL, 4);
    propose_outcome o;
    CHECK(run(model, &req, &o) == 0, "eot: %s", o.error);
    char *sent = last_user_message();
    CHECK(sent && strstr(sent, "`block`") && strstr(sent, "def dwsep") &&
              strstr(sent, "relu(dwsep(x, c))") && strstr(sent, "0.9100"),
          "EoT prompt shows the elite's change and results: %s", sent ? sent : "(none)");
    CHECK(sent && strstr(sent, "0.8800"), "seed objectives");
    free(sent);
    session_info in;
    CHECK(session_info_get(S, o.id, &in, &serr) == 0 && !strcmp(in.op, "eot"), "op %s", in.op);
    char *p = file_of(o.id, "prompt.txt");
    CHECK(p && strstr(p, "attempt 1 of 3: eot"), "prompt recorded");
    free(p);
    /* drawn at random, the target is another block than the elite's */
    llm_client *c = fake_llm_client(&srv, "eotpick/slow:5000");
    propose_env env = {.s = S, .llm = c, .prompts = &set};
    for (uint64_t seed = 1; seed <= 12; seed++) {
        propose_request any = req;
        any.gene = NULL;
        any.seed = seed;
        gerr err = GERR_INIT;
        propose *p2 = propose_start(&env, &any, &err);
        CHECK(p2 != NULL, "%s", err.msg);
        if (!p2)
            break;
        CHECK(strcmp(propose_get(p2)->gene, "block") != 0, "EoT picked the elite's own block");
        propose_free(p2); /* cancels the request */
    }
    CHECK_EQ_INT(llm_client_active(c), 0);
    llm_client_free(c);
    CHECK(fsck_clean(), "fsck");
    propose_outcome_release(&o);
}

/* A fault: the proposal fails with an error containing `want`, after the
 * expected number of requests, and the session is exactly as before but
 * for the failed proposal's record, refs/failed/ID. */
static void fault_gene(const char *model, const char *gene, int repairs, long requests,
                       const char *want)
{
    char *before = state();
    size_t n = count_individuals(), n_failed = count_failed();
    propose_request req = request(PROPOSE_MUTATE, gene, NULL, 5);
    req.max_repairs = repairs;
    propose_outcome o;
    CHECK(run(model, &req, &o) == -1, "%s: accepted", model);
    CHECK(!o.ok && !o.id[0], "%s: no id", model);
    CHECK(strstr(o.error, want) != NULL, "%s: error '%s' lacks '%s'", model, o.error, want);
    CHECK_EQ_INT(fake_llm_count(&srv, model), requests);
    char *after = state();
    CHECK(before && after && !strcmp(before, after), "%s: refs changed", model);
    CHECK_EQ_INT(count_individuals(), n);
    /* it is recorded as a failed proposal, with its error and its rounds */
    CHECK_EQ_INT(count_failed(), n_failed + 1);
    session_failed_info *f = NULL;
    size_t nf = 0;
    if (session_failed_list(S, -1, &f, &nf, &serr) == 0 && nf > n_failed) {
        const session_failed_info *last = NULL;
        for (size_t i = 0; i < nf; i++)
            if (!strcmp(f[i].id, o.failed_id))
                last = &f[i];
        CHECK(last && !strcmp(last->model, model) && last->attempts >= 1 &&
                  last->attempts <= (int)requests && strstr(last->error, want) &&
                  !strcmp(last->op, "mutation"),
              "%s: failed proposal %s recorded", model, o.failed_id);
    }
    free(f);
    CHECK(fsck_clean(), "%s: fsck", model);
    CHECK(o.prompt && strstr(o.prompt, "===== attempt 1"), "%s: transcript kept", model);
    free(before);
    free(after);
    propose_outcome_release(&o);
}

static void fault(const char *model, int repairs, long requests, const char *want)
{
    fault_gene(model, "se", repairs, requests, want);
}

static void test_faults(void)
{
    fault("f500/500", -1, 3, "LLM request failed"); /* the client's 3 tries */
    fault("f429/429", -1, 3, "LLM request failed");
    fault("fbad/badjson", -1, 3, "LLM request failed");
    fault("f401/401", -1, 1, "401"); /* not retried */
    fault("fnc/ok:12_prose_only", -1, 3, "no valid proposal after 3 attempts");
    fault("finv/ok:20_invalid_shapes", 1, 2, "no valid proposal after 2 attempts");
    fault("finv2/ok:21_unknown_op", 1, 2, "conv1d");
    fault("fcut/length:11_truncated", 0, 1, "cut off");
    fault_gene("fsame/ok:24_unchanged", "head", -1, 3, "leaves the network as it was");
    fault_gene("fapply/ok:15_search_no_match", "block", 0, 1, "SEARCH lines are not in");
}

static void test_retry_then_ok(void)
{
    const char *model = "r429/429,500,ok:01_plain_fence";
    propose_request req = request(PROPOSE_MUTATE, "se", NULL, 6);
    propose_outcome o;
    CHECK(run(model, &req, &o) == 0, "%s", o.error);
    CHECK_EQ_INT(fake_llm_count(&srv, model), 3);
    CHECK_EQ_INT(o.attempts, 1); /* transport retries are not repair rounds */
    propose_outcome_release(&o);
}

static void test_bad_requests(void)
{
    llm_client *c = fake_llm_client(&srv, "x/ok");
    propose_env env = {.s = S, .llm = c, .prompts = &set};
    gerr err = GERR_INIT;
    propose_request r1 = {.op = PROPOSE_MUTATE, .generation = 1, .parent = "g9-9"};
    CHECK(!propose_start(&env, &r1, &err) && strstr(err.msg, "g9-9"), "%s", err.msg);
    propose_request r2 = {.op = PROPOSE_MUTATE, .generation = 1, .parent = "g0-1", .gene = "nope"};
    CHECK(!propose_start(&env, &r2, &err) && strstr(err.msg, "no block `nope`") &&
              strstr(err.msg, "stem, se, block, head"),
          "%s", err.msg);
    propose_request r3 = {
        .op = PROPOSE_MUTATE, .generation = 1, .parent = "g0-1", .persona = "nobody"};
    CHECK(!propose_start(&env, &r3, &err) && strstr(err.msg, "no persona 'nobody'") &&
              strstr(err.msg, "magoo"),
          "%s", err.msg);
    propose_request r4 = {.op = PROPOSE_CROSSOVER, .generation = 1, .parent = "g0-1"};
    CHECK(!propose_start(&env, &r4, &err) && strstr(err.msg, "second parent"), "%s", err.msg);
    propose_request r5 = {.op = PROPOSE_EOT, .generation = 1, .parent = "g0-1", .elite = "g0-1"};
    CHECK(!propose_start(&env, &r5, &err) && strstr(err.msg, "changes none"), "%s", err.msg);
    CHECK_EQ_INT(fake_llm_count(&srv, "x/ok"), 0);
    llm_client_free(c);
}

/* Two proposals in flight at once through the poll loop; a third is
 * cancelled (freed) while in flight and leaves nothing behind. */
static void test_concurrent(void)
{
    const char *model = "cc/slow:300:01_plain_fence";
    llm_client *c = fake_llm_client(&srv, model);
    propose_env env = {.s = S, .llm = c, .prompts = &set};
    gerr err = GERR_INIT;
    propose_request a = request(PROPOSE_MUTATE, "se", NULL, 7);
    a.generation = 2;
    a.parent = mutant;
    propose_request b = a;
    b.seed = 8;
    size_t n0 = count_individuals();
    propose *pa = propose_start(&env, &a, &err);
    propose *pb = propose_start(&env, &b, &err);
    CHECK(pa && pb, "%s", err.msg);
    int loops = 0;
    while (pa && pb && !(propose_finished(pa) && propose_finished(pb)) && loops++ < 2000) {
        if (propose_ready(pa))
            propose_advance(pa);
        if (propose_ready(pb))
            propose_advance(pb);
        struct pollfd pfd[16];
        int n = llm_client_pollfds(c, pfd, 16);
        int t = llm_client_timeout_ms(c);
        poll(pfd, (nfds_t)n, t < 0 || t > 100 ? 100 : t);
        llm_client_dispatch(c, pfd, n);
    }
    CHECK(pa && pb && propose_get(pa)->ok && propose_get(pb)->ok, "both ok");
    if (pa && pb) {
        CHECK(strcmp(propose_get(pa)->id, propose_get(pb)->id) != 0, "two individuals");
        CHECK(!strncmp(propose_get(pa)->id, "g2-", 3), "generation 2: %s", propose_get(pa)->id);
    }
    json_t *st = fake_llm_stats(&srv);
    json_int_t inflight =
        json_integer_value(json_object_get(json_object_get(st, "max_inflight"), model));
    CHECK(inflight == 2, "both requests were in flight at once (%lld)", (long long)inflight);
    json_decref(st);
    propose_free(pa);
    propose_free(pb);
    CHECK_EQ_INT(count_individuals(), n0 + 2);
    /* cancelled in flight: nothing written */
    propose *pc = propose_start(&env, &a, &err);
    CHECK(pc != NULL, "%s", err.msg);
    propose_free(pc);
    CHECK_EQ_INT(count_individuals(), n0 + 2);
    CHECK_EQ_INT(llm_client_active(c), 0);
    llm_client_free(c);
    CHECK(fsck_clean(), "fsck");
}

static void test_notes_reach_the_prompt(void)
{
    session_annotation ann = {.line = 9, .text = "try a cheaper gate here"};
    session_review keep = {.decision = "approved",
                           .reason = "",
                           .annotations = &ann,
                           .n_annotations = 1,
                           .author = "tester"};
    CHECK(session_set_review(S, "g0-1", &keep, &serr) == 0, "%s", serr.msg);
    session_review no = {
        .decision = "rejected", .reason = "tanh gates train badly here", .author = "tester"};
    CHECK(session_set_review(S, mutant, &no, &serr) == 0, "%s", serr.msg);
    const char *model = "nt/ok:01_plain_fence";
    propose_request req = request(PROPOSE_MUTATE, "se", NULL, 9);
    req.note = "keep it small";
    propose_outcome o;
    CHECK(run(model, &req, &o) == 0, "%s", o.error);
    char *sent = last_user_message();
    CHECK(sent && strstr(sent, "keep it small") &&
              strstr(sent, "line 9: try a cheaper gate here") &&
              strstr(sent, "tanh gates train badly here"),
          "notes in the prompt: %s", sent ? sent : "(none)");
    free(sent);
    char *p = file_of(o.id, "prompt.txt");
    CHECK(p && strstr(p, "tanh gates train badly here"), "recorded prompt has the notes");
    free(p);
    propose_outcome_release(&o);
}

static void test_offline(void)
{
    propose_env env = {.s = S, .llm = NULL, .prompts = NULL};
    propose_request req = {.op = PROPOSE_MUTATE, .generation = 1, .parent = "g0-1", .seed = 10};
    propose_outcome o;
    CHECK(propose_run(&env, &req, &o) == 0, "%s", o.error);
    session_info in;
    CHECK(session_info_get(S, o.id, &in, &serr) == 0 && !strcmp(in.persona, MUTATE_LABEL) &&
              !strcmp(in.op, "mutation") && !in.model[0],
          "persona %s", in.persona);
    char *why = file_of(o.id, "reasoning.md");
    CHECK(why && !strncmp(why, MUTATE_LABEL ": ", strlen(MUTATE_LABEL) + 2) &&
              strstr(why, "No LLM took part"),
          "%s", why ? why : "(none)");
    free(why);
    propose_outcome_release(&o);
    propose_request cx = {
        .op = PROPOSE_CROSSOVER, .generation = 1, .parent = "g0-1", .other = mutant, .seed = 11};
    CHECK(propose_run(&env, &cx, &o) == 0, "%s", o.error);
    CHECK(session_info_get(S, o.id, &in, &serr) == 0 && !strcmp(in.op, "crossover") &&
              in.n_parents == 2,
          "offline crossover");
    propose_outcome_release(&o);
    propose_request eot = {.op = PROPOSE_EOT, .generation = 1, .parent = "g0-1"};
    CHECK(propose_run(&env, &eot, &o) == -1 && strstr(o.error, "EoT needs an LLM"), "%s", o.error);
    propose_outcome_release(&o);
    CHECK(fsck_clean(), "fsck");
}

int main(void)
{
    char path[1100], prompts[1100];
    snprintf(path, sizeof path, "%s/tests/fixtures/answers/parent.net", harness_root());
    snprintf(prompts, sizeof prompts, "%s/prompts", harness_root());
    gerr err = GERR_INIT;
    snprintf(dir, sizeof dir, "%s/gevo-propose-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir) || prompt_set_load(&set, prompts, &err))
        return SETUP_FAILED("setup: %s", err.msg);
    session_create_opts so = {.seed_path = path, .data_dir = "/tmp", .prompts_dir = prompts};
    if (session_create(&S, dir, &so, &serr) != 0)
        return SETUP_FAILED("session: %s", serr.msg);
    if (fake_llm_start(&srv))
        return SETUP_FAILED("could not start tests/fake_llm/server.py with python3");
    RUN(test_mutate);
    RUN(test_repair);
    RUN(test_crossover);
    RUN(test_eot);
    RUN(test_faults);
    RUN(test_retry_then_ok);
    RUN(test_bad_requests);
    RUN(test_concurrent);
    RUN(test_notes_reach_the_prompt);
    RUN(test_offline);
    fake_llm_stop(&srv);
    session_close(S);
    prompt_set_release(&set);
    harness_rmtree(dir);
    return harness_done();
}
