/* The LLM client against the fake server on 127.0.0.1: both protocols,
 * with and without streaming, every fault the server can inject, retries,
 * accounting, budget, concurrency and the poll-loop interface. */
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/llm.h"
#include "engine/base/file.h"
#include "tests/fake_llm/fake_llm.h"
#include "tests/harness.h"

static fake_llm srv;

static char *read_text(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", harness_root(), rel);
    char *p = NULL;
    file_read(path, 1 << 20, &p, NULL, NULL);
    return p;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A fast configuration for the fake server: retries after ~1 ms. */
static void fast_cfg(llm_config *cfg, const char *model, bool stream)
{
    llm_config_default(cfg);
    snprintf(cfg->base_url, sizeof cfg->base_url, "%s", srv.base_url);
    snprintf(cfg->model, sizeof cfg->model, "%s", model);
    snprintf(cfg->api_key_env, sizeof cfg->api_key_env, "GEVO_TEST_KEY");
    cfg->stream = stream;
    cfg->max_attempts = 3;
    cfg->backoff_base_ms = 1;
    cfg->backoff_max_ms = 4;
    cfg->timeout_ms = 20000;
}

typedef struct collect {
    char text[8192];
    size_t n;
    int deltas, reasoning_deltas, retries;
    char last_retry[512];
} collect;

static void on_delta(void *ud, llm_delta_kind k, const char *s, size_t n)
{
    collect *c = ud;
    if (k == LLM_DELTA_REASONING) {
        c->reasoning_deltas++;
        return;
    }
    c->deltas++;
    if (c->n + n < sizeof c->text) {
        memcpy(c->text + c->n, s, n);
        c->n += n;
        c->text[c->n] = '\0';
    }
}

static void on_retry(void *ud, int attempt, long delay, const char *why)
{
    collect *c = ud;
    c->retries++;
    c->n = 0; /* what was shown is void */
    c->text[0] = '\0';
    snprintf(c->last_retry, sizeof c->last_retry, "%s", why);
}

/* One blocking call with model `model`; returns the status. */
static int run(const char *model, bool stream, llm_result *res, collect *col, llm_config *override)
{
    llm_config cfg;
    fast_cfg(&cfg, model, stream);
    if (override) {
        snprintf(override->model, sizeof override->model, "%s", model);
        cfg = *override;
    }
    gerr err = GERR_INIT;
    llm_client *c = llm_client_new(&cfg, &err);
    CHECK(c != NULL, "client: %s", err.msg);
    if (!c)
        return -1;
    static collect dummy;
    if (!col) {
        memset(&dummy, 0, sizeof dummy);
        col = &dummy;
    }
    llm_callbacks cb = {on_delta, on_retry, NULL, col};
    int rc = llm_complete(c, "You are terse.", "Say hello.", &cb, res);
    llm_client_free(c);
    return rc;
}

static void test_config(void)
{
    llm_config cfg;
    gerr err = GERR_INIT;
    llm_config_default(&cfg);
    CHECK(llm_config_set(&cfg, "temperature", "0.5-1.0", &err) == 0, "%s", err.msg);
    CHECK(cfg.temp_min == 0.5 && cfg.temp_max == 1.0, "range %g %g", cfg.temp_min, cfg.temp_max);
    CHECK(llm_config_set(&cfg, "temperature", "0.3", &err) == 0, "%s", err.msg);
    CHECK(cfg.temp_min == 0.3 && cfg.temp_max == 0.3, "single");
    CHECK(llm_config_set(&cfg, "temperature", "1.0-0.5", &err) == -1, "reversed");
    CHECK(strstr(err.msg, "temperature") != NULL, "err names key: %s", err.msg);
    CHECK(llm_config_set(&cfg, "temprature", "1", &err) == -1, "typo accepted");
    CHECK(strstr(err.msg, "unknown setting 'temprature'") != NULL, "%s", err.msg);
    CHECK(llm_config_set(&cfg, "api_key", "sk-123", &err) == -1, "key accepted");
    CHECK(strstr(err.msg, "api_key_env") != NULL, "%s", err.msg);
    CHECK(llm_config_set(&cfg, "api_key_env", "sk-abc-123", &err) == -1,
          "a key pasted as the variable name is refused");
    CHECK(llm_config_set(&cfg, "timeout", "2.5", &err) == 0 && cfg.timeout_ms == 2500,
          "timeout %ld", cfg.timeout_ms);
    CHECK(llm_config_set(&cfg, "protocol", "anthropic", &err) == 0 && cfg.protocol == LLM_ANTHROPIC,
          "protocol");
    CHECK(llm_config_set(&cfg, "max_tokens", "-3", &err) == -1, "neg tokens");
    CHECK(llm_config_set(&cfg, "stream", "maybe", &err) == -1, "bool");
    setenv("GEVO_LLM_MODEL", "qwen2.5-coder", 1);
    setenv("GEVO_LLM_CONCURRENCY", "5", 1);
    CHECK(llm_config_from_env(&cfg, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(cfg.model, "qwen2.5-coder") && cfg.concurrency == 5, "env %s %d", cfg.model,
          cfg.concurrency);
    setenv("GEVO_LLM_CONCURRENCY", "lots", 1);
    CHECK(llm_config_from_env(&cfg, &err) == -1, "bad env accepted");
    CHECK(strstr(err.msg, "GEVO_LLM_CONCURRENCY") != NULL, "%s", err.msg);
    unsetenv("GEVO_LLM_MODEL");
    unsetenv("GEVO_LLM_CONCURRENCY");
    cfg.temp_max = 1.5;
    CHECK(llm_config_check(&cfg, &err) == -1 && strstr(err.msg, "Anthropic"),
          "anthropic temperature > 1: %s", err.msg);
    cfg.temp_max = 1.0;
    snprintf(cfg.base_url, sizeof cfg.base_url, "ftp://x");
    CHECK(llm_config_check(&cfg, &err) == -1, "ftp url");
    CHECK(llm_client_new(&cfg, &err) == NULL, "client with bad url");
}

static void test_backoff(void)
{
    llm_config cfg;
    llm_config_default(&cfg);
    cfg.backoff_base_ms = 100;
    cfg.backoff_max_ms = 1000;
    cfg.retry_after_max_ms = 5000;
    rng jitter;
    rng_seed(&jitter, 7);
    for (int i = 0; i < 50; i++) {
        long d1 = llm_backoff_ms(&cfg, &jitter, 1, -1);
        long d3 = llm_backoff_ms(&cfg, &jitter, 3, -1);
        long d9 = llm_backoff_ms(&cfg, &jitter, 9, -1);
        CHECK(d1 >= 50 && d1 <= 100, "retry 1: %ld", d1);
        CHECK(d3 >= 200 && d3 <= 400, "retry 3: %ld", d3);
        CHECK(d9 >= 500 && d9 <= 1000, "retry 9 capped: %ld", d9);
        CHECK(llm_backoff_ms(&cfg, &jitter, 1, 3000) == 3000, "retry-after wins");
        CHECK(llm_backoff_ms(&cfg, &jitter, 1, 60000) == 5000, "retry-after capped");
    }
    /* the same seed gives the same jitter */
    rng a;
    rng b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    CHECK(llm_backoff_ms(&cfg, &a, 2, -1) == llm_backoff_ms(&cfg, &b, 2, -1), "seeded");
}

static void test_plain_ok(void)
{
    llm_config cfg;
    fast_cfg(&cfg, "plain/ok:hello", false);
    cfg.temp_min = 0.4;
    cfg.temp_max = 0.9;
    cfg.price_in = 2.0; /* $ per million */
    cfg.price_out = 10.0;
    setenv("GEVO_TEST_KEY", "sk-test-secret", 1);
    llm_result res;
    int rc = run("plain/ok:hello", false, &res, NULL, &cfg);
    char *want = read_text("tests/fake_llm/responses/hello.txt");
    CHECK(rc == 0, "status %s: %s", llm_status_name(res.status), res.error);
    CHECK(want && !strcmp(res.content, want), "content '%s'", res.content);
    CHECK_EQ_INT(res.attempts, 1);
    CHECK_EQ_INT(res.tokens_in, 1000);
    CHECK_EQ_INT(res.tokens_out, 500);
    CHECK(!res.tokens_estimated, "usage was sent");
    CHECK(fabs(res.cost_usd - (1000 * 2.0 + 500 * 10.0) / 1e6) < 1e-12, "cost %g", res.cost_usd);
    CHECK(!strcmp(res.finish_reason, "stop") && !res.truncated, "finish %s", res.finish_reason);
    CHECK(res.temperature >= 0.4 && res.temperature <= 0.9, "temp %g", res.temperature);
    CHECK(strstr(res.raw, "chat.completion") != NULL, "raw kept");
    CHECK(strstr(res.error, "sk-test") == NULL, "no key in result");
    json_t *st = fake_llm_stats(&srv);
    json_t *last = json_object_get(st, "last");
    CHECK(json_integer_value(json_object_get(last, "max_tokens")) == 4096, "max_tokens sent");
    CHECK(json_is_false(json_object_get(last, "stream")), "stream false sent");
    double t = json_number_value(json_object_get(last, "temperature"));
    CHECK(fabs(t - res.temperature) < 1e-9, "temperature sent %g vs %g", t, res.temperature);
    json_t *msgs = json_object_get(last, "messages");
    CHECK(json_array_size(msgs) == 2, "system + user");
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(msgs, 0), "role")) ?: "",
                  "system"),
          "system role");
    const char *auth =
        json_string_value(json_object_get(json_object_get(st, "last_headers"), "authorization"));
    CHECK(auth && !strcmp(auth, "Bearer sk-test-secret"), "auth header %s", auth ? auth : "-");
    json_decref(st);
    unsetenv("GEVO_TEST_KEY");
    free(want);
    llm_result_release(&res);
}

static void test_stream_ok(void)
{
    llm_result res;
    collect col = {0};
    int rc = run("stream/ok:hello", true, &res, &col, NULL);
    char *want = read_text("tests/fake_llm/responses/hello.txt");
    CHECK(rc == 0, "%s", res.error);
    CHECK(want && !strcmp(res.content, want), "content '%s'", res.content);
    CHECK(!strcmp(col.text, res.content), "deltas add up to the content");
    CHECK(col.deltas > 3, "streamed in pieces: %d", col.deltas);
    CHECK_EQ_INT(res.tokens_in, 1000);
    CHECK_EQ_INT(res.tokens_out, 500);
    json_t *st = fake_llm_stats(&srv);
    json_t *last = json_object_get(st, "last");
    CHECK(json_is_true(json_object_get(last, "stream")), "stream requested");
    json_decref(st);
    free(want);
    llm_result_release(&res);
}

/* Events split into 5-byte writes: the line and event buffering. */
static void test_drip(void)
{
    for (int proto = 0; proto < 2; proto++) {
        llm_config cfg;
        fast_cfg(&cfg, "", true);
        cfg.protocol = proto ? LLM_ANTHROPIC : LLM_OPENAI;
        llm_result res;
        collect col = {0};
        int rc = run(proto ? "drip1/drip:think" : "drip0/drip:think", true, &res, &col, &cfg);
        CHECK(rc == 0, "%s", res.error);
        CHECK(!strcmp(res.content, "Use a depthwise convolution.\n"), "content '%s'", res.content);
        CHECK(strstr(res.reasoning, "depthwise one is cheaper") != NULL, "reasoning '%s'",
              res.reasoning);
        CHECK_EQ_INT(res.tokens_out, 500);
        llm_result_release(&res);
    }
}

static void test_full_endpoint(void)
{
    llm_config cfg;
    fast_cfg(&cfg, "", false);
    snprintf(cfg.base_url, sizeof cfg.base_url, "%s/chat/completions/", srv.base_url);
    llm_result res;
    CHECK(run("endpoint/ok:hello", false, &res, NULL, &cfg) == 0, "full endpoint URL: %s",
          res.error);
    llm_result_release(&res);
}

static void test_crlf_and_no_usage(void)
{
    llm_result res;
    int rc = run("crlf/nousage:crlf", true, &res, NULL, NULL);
    CHECK(rc == 0, "%s", res.error);
    CHECK(!strcmp(res.content, "Line one\r\nLine two with CRLF\r\n"), "crlf kept: '%s'",
          res.content);
    CHECK(res.tokens_estimated && res.tokens_out > 0 && res.tokens_in > 0,
          "estimated tokens %ld %ld", res.tokens_in, res.tokens_out);
    llm_result_release(&res);
}

static void test_reasoning(void)
{
    for (int stream = 0; stream < 2; stream++) {
        llm_result res;
        collect col = {0};
        int rc =
            run(stream ? "reason1/reason:think" : "reason0/reason:think", stream, &res, &col, NULL);
        CHECK(rc == 0, "%s", res.error);
        CHECK(!strcmp(res.content, "Use a depthwise convolution.\n"), "content '%s'", res.content);
        CHECK(strstr(res.reasoning, "First I look at the block.") != NULL,
              "reasoning_content kept: '%s'", res.reasoning);
        CHECK(strstr(res.reasoning, "a depthwise one is cheaper") != NULL,
              "<think> text is reasoning: '%s'", res.reasoning);
        CHECK(strstr(res.content, "think>") == NULL, "no tags left");
        if (stream)
            CHECK(col.reasoning_deltas > 0, "reasoning streamed");
        llm_result_release(&res);
    }
}

static void test_length(void)
{
    llm_result res;
    int rc = run("len/length:hello", true, &res, NULL, NULL);
    CHECK(rc == 0, "%s", res.error);
    CHECK(res.truncated && !strcmp(res.finish_reason, "length"), "truncated flag");
    llm_result_release(&res);
}

static void test_retry_after(void)
{
    llm_result res;
    collect col = {0};
    double t0 = mono();
    int rc = run("ra/429:1,ok:hello", false, &res, &col, NULL);
    double dt = mono() - t0;
    CHECK(rc == 0, "%s", res.error);
    CHECK_EQ_INT(res.attempts, 2);
    CHECK_EQ_INT(col.retries, 1);
    CHECK(dt >= 1.0, "Retry-After: 1 honoured, waited %.3f s", dt);
    CHECK(strstr(col.last_retry, "HTTP 429") && strstr(col.last_retry, "rate limit"),
          "retry reason: %s", col.last_retry);
    CHECK_EQ_INT(fake_llm_count(&srv, "ra/429:1,ok:hello"), 2);
    llm_result_release(&res);
}

/* A fault that never clears: max_attempts tries, then a clear error. */
static void exhaust(const char *model, bool stream, const char *want1, const char *want2)
{
    llm_result res;
    collect col = {0};
    int rc = run(model, stream, &res, &col, NULL);
    CHECK(rc == -1, "%s: should fail", model);
    CHECK(res.status == LLM_ERR_RETRIES, "%s: status %s", model, llm_status_name(res.status));
    CHECK_EQ_INT(res.attempts, 3);
    CHECK_EQ_INT(col.retries, 2);
    CHECK_EQ_INT(fake_llm_count(&srv, model), 3);
    CHECK(strstr(res.error, "after 3 attempts") != NULL, "%s: %s", model, res.error);
    CHECK(strstr(res.error, want1) != NULL, "%s: error lacks '%s': %s", model, want1, res.error);
    if (want2)
        CHECK(strstr(res.error, want2) != NULL, "%s: lacks '%s': %s", model, want2, res.error);
    CHECK(strstr(res.error, srv.base_url) != NULL, "names the server: %s", res.error);
    CHECK(res.content && !res.content[0], "no content on failure");
    llm_result_release(&res);
}

static void test_faults_exhausted(void)
{
    exhaust("f1/500", false, "HTTP 500", "fake failure 500");
    exhaust("f2/503", true, "HTTP 503", NULL);
    exhaust("f3/429", false, "HTTP 429", "rate limit");
    exhaust("f4/reset", false, "attempt 3", NULL);
    exhaust("f5/resetmid:hello", true, "attempt 3", NULL);
    exhaust("f6/badjson", false, "not valid JSON", NULL);
    exhaust("f7/badjson", true, "malformed event", NULL);
    exhaust("f8/truncate:hello", true, "stream ended before the answer was complete", NULL);
    exhaust("f9/truncate:hello", false, "attempt 3", NULL);
    exhaust("f10/resetmid:hello", false, "attempt 3", NULL);
}

static void test_faults_recover(void)
{
    const char *models[] = {"r1/500,ok:hello", "r2/reset,ok:hello", "r3/badjson,ok:hello",
                            "r4/truncate:hello,ok:hello", "r5/resetmid:hello,ok:hello"};
    char *want = read_text("tests/fake_llm/responses/hello.txt");
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        llm_result res;
        collect col = {0};
        int rc = run(models[i], true, &res, &col, NULL);
        CHECK(rc == 0, "%s: %s", models[i], res.error);
        CHECK_EQ_INT(res.attempts, 2);
        CHECK(want && !strcmp(res.content, want), "%s: content after retry", models[i]);
        CHECK(!strcmp(col.text, res.content), "%s: shown text restarted on retry", models[i]);
        llm_result_release(&res);
    }
    free(want);
}

static void test_timeout(void)
{
    llm_config cfg;
    fast_cfg(&cfg, "", false);
    cfg.timeout_ms = 300;
    cfg.max_attempts = 2;
    llm_result res;
    int rc = run("slow/slow:3000:hello", false, &res, NULL, &cfg);
    CHECK(rc == -1 && res.status == LLM_ERR_RETRIES, "timeout fails: %s", res.error);
    CHECK_EQ_INT(res.attempts, 2);
    CHECK(strstr(res.error, "timeout 0.3 s") != NULL, "%s", res.error);
    llm_result_release(&res);
}

static void test_not_retryable(void)
{
    llm_result res;
    int rc = run("nr/400", false, &res, NULL, NULL);
    CHECK(rc == -1 && res.status == LLM_ERR_HTTP, "status %s", llm_status_name(res.status));
    CHECK_EQ_INT(res.attempts, 1);
    CHECK_EQ_INT(res.http_status, 400);
    CHECK(strstr(res.error, "HTTP 400: fake failure 400") != NULL, "%s", res.error);
    llm_result_release(&res);
    rc = run("nr/401", false, &res, NULL, NULL);
    CHECK(rc == -1 && strstr(res.error, "$GEVO_TEST_KEY") != NULL, "401 names the variable: %s",
          res.error);
    llm_result_release(&res);
}

static void test_refused(void)
{
    llm_config cfg;
    fast_cfg(&cfg, "refused", false);
    /* a port nobody listens on: the fake server's, after it stopped */
    fake_llm tmp;
    CHECK(fake_llm_start(&tmp) == 0, "second server");
    snprintf(cfg.base_url, sizeof cfg.base_url, "%s", tmp.base_url);
    fake_llm_stop(&tmp);
    cfg.max_attempts = 2;
    llm_result res;
    int rc = run("refused", false, &res, NULL, &cfg);
    CHECK(rc == -1 && res.status == LLM_ERR_RETRIES, "refused: %s", res.error);
    CHECK(strstr(res.error, "onnect") != NULL, "says it could not connect: %s", res.error);
    llm_result_release(&res);
}

static void test_anthropic(void)
{
    for (int stream = 0; stream < 2; stream++) {
        llm_config cfg;
        fast_cfg(&cfg, "", stream);
        cfg.protocol = LLM_ANTHROPIC;
        setenv("GEVO_TEST_KEY", "ak-secret", 1);
        llm_result res;
        collect col = {0};
        int rc = run(stream ? "an1/reason:think" : "an0/reason:think", stream, &res, &col, &cfg);
        CHECK(rc == 0, "%s", res.error);
        CHECK(!strcmp(res.content, "Use a depthwise convolution.\n"), "content '%s'", res.content);
        CHECK(strstr(res.reasoning, "First I look") != NULL, "thinking kept");
        CHECK_EQ_INT(res.tokens_in, 1000);
        CHECK_EQ_INT(res.tokens_out, 500);
        json_t *st = fake_llm_stats(&srv);
        json_t *h = json_object_get(st, "last_headers");
        json_t *last = json_object_get(st, "last");
        CHECK(!strcmp(json_string_value(json_object_get(h, "x-api-key")) ?: "", "ak-secret"),
              "x-api-key");
        CHECK(json_object_get(h, "anthropic-version") != NULL, "version header");
        CHECK(!strcmp(json_string_value(json_object_get(last, "system")) ?: "", "You are terse."),
              "system as a field");
        CHECK(json_array_size(json_object_get(last, "messages")) == 1, "one user message");
        json_decref(st);
        unsetenv("GEVO_TEST_KEY");
        llm_result_release(&res);
        rc = run(stream ? "an3/length:hello" : "an2/length:hello", stream, &res, NULL, &cfg);
        CHECK(rc == 0 && res.truncated, "max_tokens is truncation");
        llm_result_release(&res);
        rc = run(stream ? "an5/truncate:hello" : "an4/500", stream, &res, NULL, &cfg);
        CHECK(rc == -1 && res.attempts == 3, "anthropic faults retried: %s", res.error);
        llm_result_release(&res);
    }
}

static void test_budget(void)
{
    llm_config cfg;
    fast_cfg(&cfg, "budget/ok:hello", false);
    cfg.price_in = 1000; /* 1000 tokens = $1 */
    cfg.price_out = 0;
    cfg.budget_usd = 1.5;
    gerr err = GERR_INIT;
    llm_client *c = llm_client_new(&cfg, &err);
    llm_result res;
    CHECK(llm_complete(c, NULL, "one", NULL, &res) == 0, "%s", res.error);
    llm_result_release(&res);
    CHECK(llm_complete(c, NULL, "two", NULL, &res) == 0, "under budget still: %s", res.error);
    llm_result_release(&res);
    CHECK(llm_complete(c, NULL, "three", NULL, &res) == -1, "over budget refused");
    CHECK(res.status == LLM_ERR_BUDGET, "status %s", llm_status_name(res.status));
    CHECK(strstr(res.error, "budget spent: $2.0000 of $1.5000") != NULL, "%s", res.error);
    llm_result_release(&res);
    llm_usage u = llm_client_usage(c);
    CHECK_EQ_INT(u.calls, 2);
    CHECK_EQ_INT(u.refused, 1);
    CHECK_EQ_INT(u.tokens_in, 2000);
    CHECK_EQ_INT(u.tokens_out, 1000);
    CHECK(fabs(u.cost_usd - 2.0) < 1e-9, "session cost %g", u.cost_usd);
    CHECK_EQ_INT(fake_llm_count(&srv, "budget/ok:hello"), 2);
    llm_client_free(c);

    fast_cfg(&cfg, "budget2/ok:hello", false);
    cfg.budget_tokens = 1500;
    c = llm_client_new(&cfg, &err);
    CHECK(llm_complete(c, NULL, "one", NULL, &res) == 0, "first");
    llm_result_release(&res);
    CHECK(llm_complete(c, NULL, "two", NULL, &res) == -1 && strstr(res.error, "token budget"),
          "token cap: %s", res.error);
    llm_result_release(&res);
    llm_client_free(c);
}

typedef struct done_rec {
    int done, ok;
    long ids[8];
} done_rec;

static void count_done(void *ud, const llm_result *r)
{
    done_rec *d = ud;
    d->done++;
    if (r->status == LLM_OK && r->content_len > 0)
        d->ok++;
}

/* The caller's own poll loop with an extra fd of its own (a pipe), four
 * requests, two allowed in flight. */
static void test_poll_loop(void)
{
    llm_config cfg;
    fast_cfg(&cfg, "conc/slow:150:hello", true);
    cfg.concurrency = 2;
    gerr err = GERR_INIT;
    llm_client *c = llm_client_new(&cfg, &err);
    done_rec d = {0};
    llm_callbacks cb = {NULL, NULL, count_done, &d};
    for (int i = 0; i < 4; i++) {
        d.ids[i] = llm_submit(c, NULL, "hi", &cb, &err);
        CHECK(d.ids[i] > 0, "submit: %s", err.msg);
    }
    CHECK_EQ_INT(llm_client_active(c), 4);
    int pfd[2];
    CHECK(pipe(pfd) == 0, "pipe");
    int loops = 0;
    while (d.done < 4 && loops < 100000) {
        struct pollfd fds[17];
        fds[0].fd = pfd[0];
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        int n = llm_client_pollfds(c, fds + 1, 16);
        int r = poll(fds, (nfds_t)n + 1, llm_client_timeout_ms(c));
        CHECK(r >= 0, "poll");
        CHECK(!(fds[0].revents & POLLIN), "our pipe stays quiet");
        llm_client_dispatch(c, fds, n + 1); /* ignores fds not its own */
        loops++;
    }
    close(pfd[0]);
    close(pfd[1]);
    CHECK_EQ_INT(d.done, 4);
    CHECK_EQ_INT(d.ok, 4);
    CHECK_EQ_INT(llm_client_active(c), 0);
    json_t *st = fake_llm_stats(&srv);
    long maxin = (long)json_integer_value(
        json_object_get(json_object_get(st, "max_inflight"), "conc/slow:150:hello"));
    CHECK(maxin >= 1 && maxin <= 2, "at most 2 in flight, saw %ld", maxin);
    json_decref(st);

    /* cancel: on_done runs with LLM_ERR_CANCELLED */
    d.done = d.ok = 0;
    long id = llm_submit(c, NULL, "hi", &cb, &err);
    llm_cancel(c, id);
    CHECK_EQ_INT(d.done, 1);
    CHECK_EQ_INT(d.ok, 0);
    CHECK_EQ_INT(llm_client_active(c), 0);
    /* freeing with a request in flight runs no callback and leaks nothing */
    llm_submit(c, NULL, "hi", &cb, &err);
    llm_client_free(c);
    CHECK_EQ_INT(d.done, 1);
}

/* ---- against tests/fake_llm/hostile.py ------------------------------------ */

static fake_llm bad;

static llm_client *hostile_client(const char *model, long budget_tokens)
{
    llm_config cfg;
    fast_cfg(&cfg, model, false);
    snprintf(cfg.base_url, sizeof cfg.base_url, "%s", bad.base_url);
    cfg.budget_tokens = budget_tokens;
    gerr err = GERR_INIT;
    llm_client *c = llm_client_new(&cfg, &err);
    CHECK(c != NULL, "client: %s", err.msg);
    return c;
}

/* Usage numbers that lie cannot bypass a token budget or overflow a sum:
 * INT64_MAX is cut to what the request and answer can hold, a negative
 * or missing count is estimated from the text. */
static void test_hostile_usage(void)
{
    llm_result res;
    llm_client *c = hostile_client("u1/usage=max:hello", 20000);
    CHECK(llm_complete(c, NULL, "one", NULL, &res) == 0, "%s", res.error);
    CHECK(res.tokens_estimated, "INT64_MAX is not taken as is");
    CHECK(res.tokens_in > 0 && res.tokens_in <= 3 + 4096, "tokens in %ld", res.tokens_in);
    CHECK(res.tokens_out > 0 && res.tokens_out <= 4096 + 4096, "tokens out %ld", res.tokens_out);
    llm_result_release(&res);
    CHECK(llm_complete(c, NULL, "two", NULL, &res) == 0, "%s", res.error);
    llm_result_release(&res);
    llm_usage u = llm_client_usage(c);
    CHECK(u.tokens_in > 0 && u.tokens_out > 0 && u.tokens_in + u.tokens_out <= 4 * 8192,
          "sums stay sane: %ld + %ld", u.tokens_in, u.tokens_out);
    CHECK(llm_complete(c, NULL, "three", NULL, &res) == -1 && res.status == LLM_ERR_BUDGET,
          "the budget stops it: %s", res.error);
    llm_result_release(&res);
    CHECK_EQ_INT(fake_llm_count(&bad, "u1/usage=max:hello"), 2);
    llm_client_free(c);

    static const char *const lies[] = {"u2/usage=neg", "u3/usage=missing", "u4/usage=str",
                                       "u5/usage=float"};
    for (size_t i = 0; i < sizeof lies / sizeof *lies; i++) {
        c = hostile_client(lies[i], 1);
        CHECK(llm_complete(c, NULL, "Say hello to me.", NULL, &res) == 0, "%s", res.error);
        /* estimated: (16 + 3) / 4 in, ("Hello." 6 + 3) / 4 out */
        CHECK(res.tokens_estimated && res.tokens_in == 4 && res.tokens_out == 2,
              "%s: %ld in, %ld out", lies[i], res.tokens_in, res.tokens_out);
        llm_result_release(&res);
        CHECK(llm_complete(c, NULL, "again", NULL, &res) == -1 && res.status == LLM_ERR_BUDGET,
              "%s: budget of 1 token reached: %s", lies[i], res.error);
        llm_result_release(&res);
        CHECK_EQ_INT(fake_llm_count(&bad, lies[i]), 1);
        llm_client_free(c);
    }
    bool est = false;
    CHECK(llm_plausible_tokens(true, 0, 1600, 5000, &est) == 400 && est, "zero for 1600 bytes");
    est = false;
    CHECK(llm_plausible_tokens(true, 300, 1600, 5000, &est) == 300 && !est, "plausible kept");
    CHECK(llm_plausible_tokens(true, LONG_MAX, 1600, 5000, &est) == 5000 && est, "cut to hi");
}

/* The recorded model is the configured one; the server's, full of escape
 * sequences, is kept apart and shown visibly. */
static void test_hostile_model(void)
{
    llm_result res;
    llm_client *c = hostile_client("m1/esc:hello", 0);
    CHECK(llm_complete(c, NULL, "hi", NULL, &res) == 0, "%s", res.error);
    CHECK(!strcmp(res.model, "m1/esc:hello"), "model '%s'", res.model);
    CHECK(!strchr(res.served_model, 0x1b) && !strstr(res.served_model, "\xc2\x9b") &&
              strstr(res.served_model, "^[[2J") && strstr(res.served_model, "<U+202E>"),
          "served model '%s'", res.served_model);
    llm_result_release(&res);
    llm_client_free(c);
}

/* A refused key stops the client: the next request is not sent, and the
 * key the server echoed in its error is not in the message. */
static void test_hostile_refused_key(void)
{
    setenv("GEVO_TEST_KEY", "sk-hostile-123456", 1);
    for (int code = 401; code <= 403; code += 2) {
        char model[32];
        snprintf(model, sizeof model, "k%d/%d", code, code);
        llm_client *c = hostile_client(model, 0);
        llm_result res;
        CHECK(llm_complete(c, NULL, "hi", NULL, &res) == -1 && res.status == LLM_ERR_HTTP, "%d: %s",
              code, res.error);
        CHECK(!strstr(res.error, "sk-hostile-123456") && strstr(res.error, "[redacted]"),
              "the echoed key is hidden: %s", res.error);
        CHECK(!strchr(res.error, 0x1b), "no raw escape in the error");
        llm_result_release(&res);
        bool perm = false;
        CHECK(llm_client_blocked(c, &perm) && perm, "%d blocks the client for good", code);
        CHECK(llm_complete(c, NULL, "again", NULL, &res) == -1 && res.status == LLM_ERR_BLOCKED,
              "then refused: %s", llm_status_name(res.status));
        CHECK(strstr(res.error, "HTTP") != NULL, "names the cause: %s", res.error);
        llm_result_release(&res);
        CHECK_EQ_INT(fake_llm_count(&bad, model), 1);
        llm_client_free(c);
    }
    unsetenv("GEVO_TEST_KEY");
}

/* Credentials in base_url never appear in a message. */
static void test_redact_url(void)
{
    char out[512];
    llm_redact_url("https://alice:s3cret@api.example:8443/v1?api-key=K123&v=2", out, sizeof out);
    CHECK(!strstr(out, "s3cret") && !strstr(out, "alice") && !strstr(out, "K123") &&
              strstr(out, "***@api.example:8443/v1") && strstr(out, "api-key=***") &&
              strstr(out, "v=2"),
          "redacted '%s'", out);
    llm_redact_url("http://127.0.0.1:8080/v1", out, sizeof out);
    CHECK(!strcmp(out, "http://127.0.0.1:8080/v1"), "plain URL kept: '%s'", out);
    llm_config cfg;
    fast_cfg(&cfg, "cred/500", false);
    snprintf(cfg.base_url, sizeof cfg.base_url, "http://bob:hunter22@127.0.0.1:%d/v1", bad.port);
    cfg.max_attempts = 1;
    llm_result res;
    run("cred/500", false, &res, NULL, &cfg);
    CHECK(res.status != LLM_OK && !strstr(res.error, "hunter22") && !strstr(res.error, "bob") &&
              strstr(res.error, "***@127.0.0.1"),
          "error message: %s", res.error);
    llm_result_release(&res);
}

int main(void)
{
    RUN(test_config);
    RUN(test_backoff);
    if (fake_llm_start(&srv))
        return SETUP_FAILED("could not start tests/fake_llm/server.py with python3");
    RUN(test_plain_ok);
    RUN(test_stream_ok);
    RUN(test_crlf_and_no_usage);
    RUN(test_drip);
    RUN(test_full_endpoint);
    RUN(test_reasoning);
    RUN(test_length);
    RUN(test_retry_after);
    RUN(test_faults_exhausted);
    RUN(test_faults_recover);
    RUN(test_timeout);
    RUN(test_not_retryable);
    RUN(test_refused);
    RUN(test_anthropic);
    RUN(test_budget);
    RUN(test_poll_loop);
    if (fake_llm_start_named(&bad, "hostile.py")) {
        CHECK(0, "could not start tests/fake_llm/hostile.py with python3");
    } else {
        RUN(test_hostile_usage);
        RUN(test_hostile_model);
        RUN(test_hostile_refused_key);
        RUN(test_redact_url);
        fake_llm_stop(&bad);
    }
    fake_llm_stop(&srv);
    return harness_done();
}
