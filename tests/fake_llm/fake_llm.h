/* Starting and asking the fake LLM server (tests/fake_llm/server.py) from
 * a C test. Header-only: a test includes it once.
 *
 *   fake_llm srv;
 *   if (fake_llm_start(&srv)) ...;     // srv.port, srv.base_url
 *   fake_llm_start_named(&bad, "hostile.py");  // the hostile one
 *   llm_client *c = fake_llm_client(&srv, "t1/ok");  // a client of it
 *   long n = fake_llm_count(&srv, "t1/500");
 *   fake_llm_stop(&srv);
 */
#ifndef GEVO_TESTS_FAKE_LLM_H
#define GEVO_TESTS_FAKE_LLM_H

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/llm.h"
#include "tests/harness.h"

typedef struct fake_llm {
    pid_t pid;
    int port;
    char base_url[64];
} fake_llm;

/* Starts tests/fake_llm/NAME (server.py, or hostile.py: the lying one). */
static inline int fake_llm_start_named(fake_llm *s, const char *name)
{
    int fd[2];
    memset(s, 0, sizeof *s);
    if (pipe(fd))
        return -1;
    char script[1024];
    snprintf(script, sizeof script, "%s/tests/fake_llm/%s", harness_root(), name);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execlp("python3", "python3", script, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char line[32];
    size_t n = 0;
    while (n + 1 < sizeof line) { /* the first line is the port */
        ssize_t k = read(fd[0], line + n, 1);
        if (k <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(fd[0]);
    s->pid = pid;
    s->port = atoi(line);
    if (s->port <= 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return -1;
    }
    snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%d/v1", s->port);
    return 0;
}

static inline int fake_llm_start(fake_llm *s)
{
    return fake_llm_start_named(s, "server.py");
}

static inline void fake_llm_stop(fake_llm *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

/* A client of the fake server asking for model (which names the answers
 * the server gives), with no API key and retries in milliseconds; NULL
 * after a failed CHECK. */
static inline llm_client *fake_llm_client(const fake_llm *s, const char *model)
{
    llm_config cfg;
    llm_config_default(&cfg);
    snprintf(cfg.base_url, sizeof cfg.base_url, "%s", s->base_url);
    snprintf(cfg.model, sizeof cfg.model, "%s", model);
    cfg.api_key_env[0] = '\0';
    cfg.backoff_base_ms = 1;
    cfg.backoff_max_ms = 2;
    cfg.retry_after_max_ms = 5;
    cfg.max_attempts = 3;
    gerr err = GERR_INIT;
    llm_client *c = llm_client_new(&cfg, &err);
    CHECK(c != NULL, "%s", err.msg);
    return c;
}

static inline size_t fake_llm_write_(char *p, size_t size, size_t n, void *ud)
{
    FILE *f = ud;
    return fwrite(p, size, n, f);
}

/* GET /stats as a JSON object (caller decrefs), NULL on failure. */
static inline json_t *fake_llm_stats(const fake_llm *s)
{
    char url[128], *mem = NULL;
    size_t len = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stats", s->port);
    FILE *f = open_memstream(&mem, &len);
    CURL *e = curl_easy_init();
    if (!f || !e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fake_llm_write_);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    fclose(f);
    json_t *o = rc == CURLE_OK ? json_loads(mem, 0, NULL) : NULL;
    free(mem);
    return o;
}

/* Requests the server saw for a model name, -1 on failure. */
static inline long fake_llm_count(const fake_llm *s, const char *model)
{
    json_t *o = fake_llm_stats(s);
    if (!o)
        return -1;
    json_t *v = json_object_get(json_object_get(o, "requests"), model);
    long n = json_is_integer(v) ? (long)json_integer_value(v) : 0;
    json_decref(o);
    return n;
}

#endif
