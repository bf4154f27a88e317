/* llm: the LLM client. Chat requests over libcurl's multi interface, driven
 * by the caller's poll() loop, with streaming (server-sent events), retries
 * and token/cost accounting.
 *
 * Two protocols: OpenAI-compatible chat completions (OpenAI, vLLM,
 * llama.cpp's server, Ollama's /v1, LM Studio, OpenRouter) and the
 * Anthropic Messages API.
 *
 * The loop, in the caller:
 *
 *   struct pollfd pfd[16];
 *   int n = llm_client_pollfds(c, pfd, 16);      // plus the caller's own fds
 *   poll(pfd, n, llm_client_timeout_ms(c));
 *   llm_client_dispatch(c, pfd, n);              // runs callbacks
 *
 * llm_complete() is the blocking convenience wrapper around that loop.
 *
 * Ownership: the client owns its requests; a request's result is valid
 * until its on_done callback returns (llm_complete copies it out). The API
 * key is read from the environment variable the configuration names, at
 * request time, and is never stored in a result or an error message. */
#ifndef GEVO_CORE_LLM_H
#define GEVO_CORE_LLM_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/base/rng.h"

typedef enum llm_protocol {
    LLM_OPENAI,
    LLM_ANTHROPIC
} llm_protocol;

typedef struct llm_config {
    llm_protocol protocol;
    char base_url[512]; /* "http://127.0.0.1:8080/v1"; /chat/completions
                               or /messages is appended */
    char model[256];
    char api_key_env[64];      /* the variable holding the key ("" = none) */
    double temp_min, temp_max; /* sampled uniformly per call (LLM-GE) */
    int max_tokens;
    long timeout_ms; /* whole request, per attempt */
    long connect_timeout_ms;
    int concurrency; /* requests in flight; more wait in a queue */
    bool stream;
    int max_attempts;     /* first try included */
    long backoff_base_ms; /* delay before retry k: base * 2^(k-1), jittered */
    long backoff_max_ms;
    long retry_after_max_ms;    /* a server's Retry-After is capped to this */
    double price_in, price_out; /* USD per million tokens */
    double budget_usd;          /* 0 = no cap; stops new requests once reached */
    long budget_tokens;         /* 0 = no cap */
    /* What the session spent outside this client (its totals, whichever
     * process spent them): the budgets apply to it plus this client's
     * usage. Not a setting: core/llm_settings.c fills them,
     * llm_client_set_spent updates them. */
    double spent_usd;
    long spent_tokens;
    uint64_t seed; /* temperature sampling and jitter */
} llm_config;

/* Defaults: OpenAI protocol at http://127.0.0.1:8080/v1, key from
 * OPENAI_API_KEY, temperature 0.7, 4096 tokens, 300 s, 2 in flight,
 * streaming, 4 attempts, backoff 1 s doubling up to 60 s. */
void llm_config_default(llm_config *cfg);

/* Sets one key from a session configuration file or the command line:
 * protocol, base_url, model, api_key_env, temperature ("0.7" or
 * "0.5-1.0"), max_tokens, timeout, connect_timeout (seconds),
 * concurrency, stream, max_attempts, backoff_base, backoff_max,
 * retry_after_max (seconds, fractions allowed), price_in, price_out,
 * budget_usd, budget_tokens, seed. Returns 0, or -1 with a message in err
 * (unknown key, bad value). */
int llm_config_set(llm_config *cfg, const char *key, const char *value, gerr *err);
/* The i-th key llm_config_set knows, in the order above; NULL past the last. */
const char *llm_config_key(size_t i);

/* Applies GEVO_LLM_<KEY> environment variables (upper case, e.g.
 * GEVO_LLM_BASE_URL, GEVO_LLM_TEMPERATURE). Returns 0 or -1 with err
 * naming the variable. */
int llm_config_from_env(llm_config *cfg, gerr *err);

/* Checks ranges and consistency (URL scheme, temperatures, limits). */
int llm_config_check(const llm_config *cfg, gerr *err);

/* Delay before retry number `retry` (1 = first retry): exponential with
 * full jitter in [d/2, d], d = min(base * 2^(retry-1), max); never below
 * retry_after_ms (the server's Retry-After, -1 when absent), itself capped
 * at cfg->retry_after_max_ms. Exposed for tests. */
long llm_backoff_ms(const llm_config *cfg, rng *jitter, int retry, long retry_after_ms);

typedef enum llm_status {
    LLM_OK,
    LLM_ERR_HTTP,     /* a non-retryable HTTP status (400, 401, 404...) */
    LLM_ERR_RETRIES,  /* every attempt failed with a retryable error */
    LLM_ERR_PROTOCOL, /* the answer was not what the protocol says */
    LLM_ERR_BUDGET,   /* refused: the session's budget is spent */
    LLM_ERR_CANCELLED,
    LLM_ERR_INTERNAL, /* out of memory, libcurl setup */
    LLM_ERR_BLOCKED   /* not sent: an earlier request showed that retrying
                         cannot help (see llm_client_blocked) */
} llm_status;

typedef struct llm_result {
    llm_status status;
    char error[1024]; /* "" when ok: what failed, on which attempt */
    long http_status; /* of the last attempt, 0 if none */
    char *content;    /* the answer's text (without <think> parts) */
    size_t content_len;
    char *reasoning; /* reasoning_content deltas and <think> text */
    size_t reasoning_len;
    char *raw; /* last attempt's raw response body (capped) */
    size_t raw_len;
    char finish_reason[32]; /* "stop", "length" (truncated), "" unknown */
    bool truncated;         /* finish_reason length / max_tokens */
    char model[256];        /* the model as configured (what was asked for) */
    char served_model[256]; /* the server's `model` field, sanitised for a
                               terminal (engine/base/text.h); "" if none */
    double temperature;     /* sampled for this call */
    long tokens_in, tokens_out;
    bool tokens_estimated; /* not the server's numbers: see llm_plausible_tokens */
    double cost_usd;
    int attempts;
    double seconds; /* first attempt start to completion */
} llm_result;

void llm_result_release(llm_result *r); /* frees the strings, not r */
/* *dst becomes a copy of *src that owns its strings (NULL ones become "").
 * Returns 0, or -1 when out of memory: then dst has src's numbers and no
 * strings. dst's own strings are not freed first. */
int llm_result_copy(llm_result *dst, const llm_result *src);

typedef enum llm_delta_kind {
    LLM_DELTA_CONTENT,
    LLM_DELTA_REASONING
} llm_delta_kind;

typedef struct llm_callbacks {
    /* A piece of streamed text, as it arrives. */
    void (*on_delta)(void *ud, llm_delta_kind kind, const char *text, size_t len);
    /* An attempt failed and another follows after delay_ms: text already
     * shown for this request is void. */
    void (*on_retry)(void *ud, int attempt, long delay_ms, const char *why);
    /* Completion (success or final error). r is valid during the call. */
    void (*on_done)(void *ud, const llm_result *r);
    void *ud;
} llm_callbacks;

/* Callbacks on behalf of a watcher: on_delta and on_retry go on to watch
 * (where it sets them), the end goes to done(ud) (never to watch.on_done).
 * The relay must outlive the request. */
typedef struct llm_relay {
    llm_callbacks watch;
    void (*done)(void *ud, const llm_result *r);
    void *ud;
} llm_relay;
llm_callbacks llm_relay_callbacks(llm_relay *relay);

typedef struct llm_usage {
    long calls, failed, retries, refused;
    long tokens_in, tokens_out;
    double cost_usd;
} llm_usage;

typedef struct llm_client llm_client;

/* Copies cfg. Returns NULL with err filled on a bad configuration. */
llm_client *llm_client_new(const llm_config *cfg, gerr *err);
void llm_client_free(llm_client *c); /* cancels what is in flight, no callbacks */

/* Queues a chat request (system may be NULL). Returns a request id > 0,
 * or -1 with err filled (budget spent, out of memory): then no callback
 * runs. Callbacks run from llm_client_dispatch(). */
long llm_submit(llm_client *c, const char *system, const char *user, const llm_callbacks *cb,
                gerr *err);
/* Cancels a request: its on_done runs with LLM_ERR_CANCELLED. */
void llm_cancel(llm_client *c, long id);

/* The sockets libcurl waits on; returns how many were written (at most max). */
int llm_client_pollfds(llm_client *c, struct pollfd *fds, int max);
/* Milliseconds until the client needs dispatch() without socket activity
 * (libcurl timers, retry delays); -1 = no timer. */
int llm_client_timeout_ms(llm_client *c);
/* Handles the ready sockets in fds (others' fds are ignored) and expired
 * timers; runs the callbacks. */
void llm_client_dispatch(llm_client *c, const struct pollfd *fds, int n);
/* Requests queued, waiting for a retry, or in flight. */
int llm_client_active(const llm_client *c);

/* Blocking: submits and runs the loop until this request is done. *out
 * receives the result (owned by the caller: llm_result_release). Returns 0
 * when out->status is LLM_OK, else -1 (out->error says why). cb may be
 * NULL; its on_done is not called. */
int llm_complete(llm_client *c, const char *system, const char *user, const llm_callbacks *cb,
                 llm_result *out);

llm_usage llm_client_usage(const llm_client *c);
/* The model the client asks for, as configured. */
const char *llm_client_model(const llm_client *c);
/* Why the client refuses new requests, or NULL while it does not: the
 * server refused the key (HTTP 401 or 403), the budget is spent (both for
 * good), or the server could not be reached after every attempt (for a
 * minute, then one may try again). *permanent says which. Requests
 * waiting when it happened end with LLM_ERR_BLOCKED, so a dead endpoint
 * is not asked again and again. */
const char *llm_client_blocked(llm_client *c, bool *permanent);

/* The usage a server reports is untrusted. A count is used as reported
 * when it lies within [bytes / 16, hi]; a missing or negative one, or one
 * below that floor, is estimated as (bytes + 3) / 4 (about four bytes a
 * token); one above hi is cut to hi. bytes is the text the count is of
 * (the prompt; the answer and its reasoning); hi = bytes + 4096 for the
 * prompt and max(max_tokens, bytes) + 4096 for the answer. *estimated is
 * set when the result is not the reported number. Exposed for tests. */
long llm_plausible_tokens(bool reported, long value, size_t bytes, long hi, bool *estimated);

/* url with its credentials hidden, for anything shown or stored in a
 * message: user:password@ becomes ***@, and the value of a query parameter
 * whose name holds "key", "token", "secret", "sig" or "pass" becomes ***. */
void llm_redact_url(const char *url, char *out, size_t size);
const llm_config *llm_client_config(const llm_client *c);
/* What the session spent outside this client (earlier processes, and the
 * other models' clients of this one): the budgets count it as cfg's
 * spent_usd and spent_tokens do. */
void llm_client_set_spent(llm_client *c, double usd, long tokens);

const char *llm_status_name(llm_status s);

#endif
