/* Arms of the proposals: persona weights from gevo.json "personas", the
 * several models of gevo.json "models", weighted draws, and the secret
 * scrubber knowing every model's key variable. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arms.h"
#include "core/llm_settings.h"
#include "core/prompt.h"
#include "core/stats.h"
#include "engine/base/file.h"
#include "engine/base/rng.h"
#include "sessions/session.h"
#include "tests/harness.h"

static char dir[512], prompts[1100];

/* n draws with probability p land within 5 standard deviations of n p */
static int binomial_ok(long count, long n, double p)
{
    double sd = sqrt(n * p * (1 - p));
    return fabs((double)count - n * p) <= 5 * sd + 1;
}

static void test_draw(void)
{
    const double w[] = {2, 1, 1, 0};
    long count[4] = {0};
    rng r;
    rng_seed(&r, 11);
    const long n = 40000;
    for (long i = 0; i < n; i++) {
        int k = arms_draw(w, 4, rng_uniform_double(&r));
        CHECK(k >= 0 && k < 4, "draw %d", k);
        if (k >= 0)
            count[k]++;
    }
    CHECK_EQ_INT(count[3], 0);
    CHECK(binomial_ok(count[0], n, 0.5), "weight 2 of 4: %ld of %ld", count[0], n);
    CHECK(binomial_ok(count[1], n, 0.25), "weight 1 of 4: %ld of %ld", count[1], n);
    CHECK(binomial_ok(count[2], n, 0.25), "weight 1 of 4: %ld of %ld", count[2], n);
    const double zero[] = {0, 0};
    CHECK_EQ_INT(arms_draw(zero, 2, 0.5), -1);
    CHECK_EQ_INT(arms_draw(w, 4, 0.9999999999), 2);
}

static int set_personas(prompt_set *ps, const char *json, gerr *err)
{
    json_t *j = json_loads(json, 0, NULL);
    int rc = arms_persona_weights(ps, j, err);
    json_decref(j);
    return rc;
}

static void test_persona_weights(void)
{
    prompt_set ps;
    gerr err = GERR_INIT;
    REQUIRE(prompt_set_load(&ps, prompts, &err) == 0, "%s", err.msg);
    CHECK(set_personas(&ps, "{\"expert\": 2, \"scientist\": 1, \"magoo\": 1, \"plain\": 0}",
                       &err) == 0,
          "%s", err.msg);
    int e = prompt_find_persona(&ps, "expert"), pl = prompt_find_persona(&ps, "plain");
    long count[64] = {0};
    rng r;
    rng_seed(&r, 5);
    const long n = 20000;
    for (long i = 0; i < n; i++)
        count[prompt_pick_persona(&ps, rng_uniform_double(&r))]++;
    CHECK_EQ_INT(count[pl], 0);
    CHECK(binomial_ok(count[e], n, 0.5), "expert weight 2 of 4: %ld of %ld", count[e], n);

    CHECK(set_personas(&ps, "{\"expret\": 2}", &err) == -1 &&
              strstr(err.msg, "gevo.json, personas.expret") && strstr(err.msg, "expert"),
          "unknown name: %s", err.msg);
    CHECK(set_personas(&ps, "{\"magoo\": -1}", &err) == -1 && strstr(err.msg, "personas.magoo"),
          "negative: %s", err.msg);
    CHECK(set_personas(&ps, "{\"magoo\": \"lots\"}", &err) == -1 &&
              strstr(err.msg, "personas.magoo"),
          "not a number: %s", err.msg);
    CHECK(set_personas(&ps, "{\"expert\": 0, \"scientist\": 0, \"magoo\": 0}", &err) == -1 &&
              strstr(err.msg, "every persona's weight is zero"),
          "all zero: %s", err.msg);
    CHECK(set_personas(&ps, "[1]", &err) == -1 && strstr(err.msg, "personas"), "array: %s",
          err.msg);
    CHECK(ps.personas[e].weight == 2 && ps.personas[pl].weight == 0,
          "a refused object changed nothing");
    prompt_set_release(&ps);
}

/* A persona file of the session's own prompts/ is a persona of weight 1. */
static void test_persona_file(void)
{
    char pdir[1200], cmd[2600];
    snprintf(pdir, sizeof pdir, "%s/prompts-own", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/*.txt '%s'/", pdir, prompts, pdir);
    CHECK(system(cmd) == 0, "copy prompts");
    char path[1300];
    snprintf(path, sizeof path, "%s/persona_wild.txt", pdir);
    const char *text = "You are a wild card who tries what nobody tried.\n";
    gerr err = GERR_INIT;
    CHECK(file_write(path, text, strlen(text), &err) == 0, "%s", err.msg);
    prompt_set ps;
    REQUIRE(prompt_set_load(&ps, pdir, &err) == 0, "%s", err.msg);
    int w = prompt_find_persona(&ps, "wild");
    CHECK(w >= 0 && ps.personas[w].weight == 1, "persona_wild.txt: %d", w);
    CHECK(set_personas(&ps, "{\"wild\": 3, \"plain\": 0}", &err) == 0, "%s", err.msg);
    CHECK(w >= 0 && ps.personas[w].weight == 3, "its weight set");
    prompt_set_release(&ps);
}

/* Opens the session after writing gevo.json's text. */
static session *with_config(const char *json)
{
    char path[700];
    snprintf(path, sizeof path, "%s/s/gevo.json", dir);
    gerr err = GERR_INIT;
    if (file_write(path, json, strlen(json), &err)) {
        CHECK(0, "%s", err.msg);
        return NULL;
    }
    session *s = NULL;
    snprintf(path, sizeof path, "%s/s", dir);
    if (session_open(&s, path, SESSION_READ, &err)) {
        CHECK(0, "%s", err.msg);
        return NULL;
    }
    return s;
}

static void test_models(void)
{
    session *s = with_config(
        "{\"llm\": {\"base_url\": \"http://127.0.0.1:9/v1\", \"temperature\": 0.3},"
        " \"models\": [{\"model\": \"a\", \"weight\": 3},"
        "  {\"model\": \"b\", \"base_url\": \"http://127.0.0.1:10/v1\", \"temperature\": \"0.9\","
        "   \"api_key_env\": \"GEVO_TEST_KEY_B\", \"protocol\": \"anthropic\", \"price_in\": 2,"
        "   \"stream\": false}]}");
    if (!s)
        return;
    llm_model *m = NULL;
    int n = 0;
    gerr err = GERR_INIT;
    CHECK(llm_settings_models(s, NULL, NULL, &m, &n, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK(!strcmp(m[0].cfg.model, "a") && m[0].weight == 3, "a: %s %g", m[0].cfg.model,
              m[0].weight);
        CHECK(!strcmp(m[0].cfg.base_url, "http://127.0.0.1:9/v1") && m[0].cfg.temp_max == 0.3,
              "a inherits llm: %s %g", m[0].cfg.base_url, m[0].cfg.temp_max);
        CHECK(!strcmp(m[1].cfg.base_url, "http://127.0.0.1:10/v1") && m[1].cfg.temp_max == 0.9 &&
                  !strcmp(m[1].cfg.api_key_env, "GEVO_TEST_KEY_B") &&
                  m[1].cfg.protocol == LLM_ANTHROPIC && m[1].cfg.price_in == 2 &&
                  !m[1].cfg.stream && m[1].weight == 1,
              "b has its own keys");
    }
    free(m);
    /* --model on the command line still means one model */
    CHECK(llm_settings_models(s, NULL, "c", &m, &n, &err) == 0 && n == 1 &&
              !strcmp(m[0].cfg.model, "c"),
          "--model: %d %s", n, err.msg);
    free(m);
    CHECK(llm_settings_models(s, "none", NULL, &m, &n, &err) == 0 && n == 0 && !m, "--llm none");

    /* every API key's value is scrubbed, the second model's too */
    setenv("GEVO_TEST_KEY_B", "sk-second-model-secret", 1);
    char *clean = session_scrub(s, "echo sk-second-model-secret back");
    CHECK(clean && !strstr(clean, "sk-second") && strstr(clean, "[redacted]"), "scrub: %s",
          clean ? clean : "(null)");
    free(clean);
    unsetenv("GEVO_TEST_KEY_B");
    session_close(s);

    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"models\": [{\"model\": \"a\"}, {\"model\": \"b\", \"temperature\": 7}]}",
         "models[1].temperature"},
        {"{\"models\": [{\"model\": \"a\"}, {\"model\": \"a\"}]}", "models[1].model"},
        {"{\"models\": [{\"model\": \"a\", \"weight\": -1}]}", "models[0].weight"},
        {"{\"models\": [{\"model\": \"a\", \"weight\": 0}]}", "every weight is zero"},
        {"{\"models\": [{\"modle\": \"a\"}]}", "models[0].modle"},
        {"{\"models\": [\"a\"]}", "models[0]"},
        {"{\"models\": {\"model\": \"a\"}}", "models: expected an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (!(s = with_config(bad[i].json)))
            return;
        m = NULL;
        CHECK(llm_settings_models(s, NULL, NULL, &m, &n, &err) == -1 &&
                  strstr(err.msg, bad[i].want),
              "%s: %s", bad[i].json, err.msg);
        free(m);
        session_close(s);
    }
}

static void test_policy(void)
{
    static const struct {
        const char *json;
        int rc;
        arms_policy want;
    } cases[] = {
        {"{}", 0, ARMS_WEIGHTS},
        {"{\"policy\": \"weights\"}", 0, ARMS_WEIGHTS},
        {"{\"policy\": \"bandit\"}", 0, ARMS_BANDIT},
        {"{\"policy\": \"ucb\"}", -1, ARMS_WEIGHTS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        session *s = with_config(cases[i].json);
        if (!s)
            return;
        arms_policy p;
        gerr err = GERR_INIT;
        int rc = arms_policy_setting(s, &p, &err);
        CHECK(rc == cases[i].rc && (rc || p == cases[i].want), "%s: %d %s", cases[i].json, rc,
              err.msg);
        CHECK(rc == 0 || strstr(err.msg, "policy"), "names the key: %s", err.msg);
        session_close(s);
    }
}

static void test_ucb1(void)
{
    bool all[3] = {true, true, true}, no_second[3] = {true, false, true};
    double pulls[3] = {4, 0, 0}, score[3] = {0.9, 0, 0};
    CHECK_EQ_INT(arms_ucb1(3, pulls, score, all), 1); /* never pulled: first */
    CHECK_EQ_INT(arms_ucb1(3, pulls, score, no_second), 2);
    bool none[3] = {false, false, false};
    CHECK_EQ_INT(arms_ucb1(3, pulls, score, none), -1);
    double p2[3] = {10, 10, 10}, s2[3] = {0.2, 0.7, 0.7};
    CHECK_EQ_INT(arms_ucb1(3, p2, s2, all), 1); /* the best score; ties to the lowest */

    /* simulated: arm 0 improves 80% of the time, arm 1 fails 90% of the
       time; UCB1 pulls arm 0 most */
    double pulls3[2] = {0, 0}, sum[2] = {0, 0}, mean[2] = {0, 0};
    bool two[2] = {true, true};
    rng r;
    rng_seed(&r, 9);
    for (int t = 0; t < 300; t++) {
        int a = arms_ucb1(2, pulls3, mean, two);
        double u = rng_uniform_double(&r);
        double reward = a == 0 ? (u < 0.8 ? 1 : 0.25) : (u < 0.9 ? 0 : 0.25);
        pulls3[a]++;
        sum[a] += reward;
        mean[a] = sum[a] / pulls3[a];
    }
    CHECK(pulls3[0] > 240, "the good arm was pulled %g of 300 times", pulls3[0]);
}

/* The bandit's state from the session's counts: earlier generations give
 * pulls and scores, the current one pulls only; costs scale the score. */
static void test_bandit_state(void)
{
    prompt_set ps;
    gerr err = GERR_INIT;
    REQUIRE(prompt_set_load(&ps, prompts, &err) == 0, "%s", err.msg);
    int e = prompt_find_persona(&ps, "expert"), m = prompt_find_persona(&ps, "magoo");
    stats_record rec[5];
    memset(rec, 0, sizeof rec);
    for (int i = 0; i < 5; i++) {
        rec[i].generation = i < 4 ? 1 : 2;
        snprintf(rec[i].persona, sizeof rec[i].persona, "%s", i % 2 ? "magoo" : "expert");
        snprintf(rec[i].model, sizeof rec[i].model, "%s", i % 2 ? "b" : "a");
        rec[i].tokens_in = 1000;
        rec[i].tokens_out = 500;
    }
    rec[0].valid = rec[0].trained = rec[0].improved = true; /* a/expert: 1 */
    rec[2].valid = rec[2].trained = true;                   /* a/expert: 0.5 */
    rec[1].tokens_in = 3000;                                /* b/magoo: failed, dearer */
    stats st;
    memset(&st, 0, sizeof st);
    st.records = rec;
    st.n_records = 5;
    const char *models[] = {"a", "b"};
    arms_state a;
    CHECK(arms_state_build(&a, &st, 2, models, 2, &ps, &err) == 0, "%s", err.msg);
    int ae = 0 * ps.n_personas + e, bm = 1 * ps.n_personas + m;
    CHECK(a.pulls[ae] == 3 && a.pulls[bm] == 2, "pulls %g %g", a.pulls[ae], a.pulls[bm]);
    /* a/expert: mean reward 0.75 at 1500 tokens against a mean of 2000 */
    CHECK(fabs(a.score[ae] - 1.0) < 1e-9, "a/expert score %g", a.score[ae]);
    CHECK(a.score[bm] == 0, "b/magoo score %g", a.score[bm]);
    /* magoo never drawn: the bandit leaves its pairs out */
    CHECK(prompt_set_weight(&ps, "magoo", 0, &err) == 0, "%s", err.msg);
    double w[2] = {1, 1};
    for (int i = 0; i < 20; i++) {
        int mi, pi;
        CHECK(arms_bandit_pick(&a, w, &ps, &mi, &pi) == 0, "pick");
        CHECK(pi != m, "a persona of weight 0 was picked");
    }
    w[0] = 0;
    int mi, pi;
    CHECK(arms_bandit_pick(&a, w, &ps, &mi, &pi) == 0 && mi == 1, "model of weight 0 picked");
    arms_state_release(&a);
    prompt_set_release(&ps);
}

int main(void)
{
    char seed[1100];
    snprintf(seed, sizeof seed, "%s/tests/fixtures/answers/parent.net", harness_root());
    snprintf(prompts, sizeof prompts, "%s/prompts", harness_root());
    snprintf(dir, sizeof dir, "%s/gevo-arms-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return SETUP_FAILED("mkdtemp");
    char sdir[600];
    snprintf(sdir, sizeof sdir, "%s/s", dir);
    session_create_opts so = {.seed_path = seed, .data_dir = "/tmp", .prompts_dir = prompts};
    session *s = NULL;
    gerr err = GERR_INIT;
    if (session_create(&s, sdir, &so, &err) != 0)
        return SETUP_FAILED("session: %s", err.msg);
    session_close(s);
    RUN(test_draw);
    RUN(test_persona_weights);
    RUN(test_persona_file);
    RUN(test_models);
    RUN(test_policy);
    RUN(test_ucb1);
    RUN(test_bandit_state);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return harness_done();
}
