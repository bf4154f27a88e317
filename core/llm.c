/* llm: see llm.h. One easy handle per attempt; the multi handle reports
 * its sockets and timer through callbacks so the caller's poll() drives
 * everything (no thread, no curl_multi_perform busy loop). */
#include "core/llm.h"
#include "engine/base/num.h"
#include "engine/base/rng.h"
#include "engine/base/strbuf.h"
#include "engine/base/text.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RAW_CAP              (8u << 20) /* a chat answer larger than this is hostile */
/* A server that could not be reached after every attempt is not asked
 * again for this long: a dead endpoint is not hammered. */
#define UNREACHABLE_PAUSE_MS 60000

/* ---- small helpers ---------------------------------------------------- */

/* strbuf_add that says whether it worked (the buffer's failure is sticky) */
static int sb_add(strbuf *b, const char *s, size_t n)
{
    strbuf_add(b, s, n);
    return b->failed ? -1 : 0;
}

/* Drops the first `from` bytes of b. */
static void sb_keep_tail(strbuf *b, size_t from)
{
    size_t rest = b->len - from;
    if (rest && from)
        memmove(b->buf, b->buf + from, rest);
    strbuf_setlen(b, rest);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- configuration ---------------------------------------------------- */

void llm_config_default(llm_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->protocol = LLM_OPENAI;
    snprintf(cfg->base_url, sizeof cfg->base_url, "http://127.0.0.1:8080/v1");
    snprintf(cfg->model, sizeof cfg->model, "default");
    snprintf(cfg->api_key_env, sizeof cfg->api_key_env, "OPENAI_API_KEY");
    cfg->temp_min = cfg->temp_max = 0.7;
    cfg->max_tokens = 4096;
    cfg->timeout_ms = 300000;
    cfg->connect_timeout_ms = 10000;
    cfg->concurrency = 2;
    cfg->stream = true;
    cfg->max_attempts = 4;
    cfg->backoff_base_ms = 1000;
    cfg->backoff_max_ms = 60000;
    cfg->retry_after_max_ms = 300000;
    cfg->seed = 1;
}

/* The settings' own messages say what is expected ("expected an integer
 * 1..64"): engine/base/num.h checks, these only say whether it passed. */
static int parse_double(const char *s, double *out)
{
    return num_double(s, -1e300, 1e300, out, "llm", NULL);
}

static int parse_bool(const char *s, bool *out)
{
    return num_bool(s, out, "llm", NULL);
}

/* "0.7", "0.5-1.0" or "0.5..1.0" */
static int parse_range(const char *s, double *lo, double *hi)
{
    char buf[64];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
        return -1;
    char *sep = strstr(buf, "..");
    size_t skip = 2;
    if (!sep) {
        sep = strpbrk(buf + 1, "-:"); /* not a leading sign */
        skip = 1;
    }
    if (!sep)
        return parse_double(buf, lo) ? -1 : (*hi = *lo, 0);
    *sep = 0;
    return parse_double(buf, lo) || parse_double(sep + skip, hi) ? -1 : 0;
}

static int set_ms(const char *value, long *out)
{
    double sec;
    if (parse_double(value, &sec) || sec < 0 || sec > 1e7)
        return -1;
    *out = (long)llround(sec * 1000.0);
    return 0;
}

/* ---- the settings: one row a key ---------------------------------------- */

typedef enum set_kind {
    SET_PROTOCOL, /* openai or anthropic */
    SET_STRING,   /* text that fits the field */
    SET_ENV_NAME, /* a string of letters, digits and '_' */
    SET_RANGE,    /* temperature: temp_min and temp_max within lo..hi */
    SET_INT,      /* an int within lo..hi */
    SET_LONG,     /* a long within lo..hi */
    SET_SEED,     /* a uint64_t within lo..hi */
    SET_MS,       /* seconds into a long of milliseconds, at least lo */
    SET_USD,      /* a double >= 0 */
    SET_BOOL
} set_kind;

typedef struct setting {
    const char *key;
    set_kind kind;
    size_t off, size;     /* the field of llm_config */
    long lo, hi;          /* the bounds of a number (0 where the kind needs none) */
    const char *expected; /* what a bad value is told: "expected ..." */
} setting;

#define FIELD(f) offsetof(llm_config, f), sizeof(((llm_config *)0)->f)
#define SHORTER  "a shorter string"

/* In the order the unknown-key message lists them. */
static const setting settings[] = {
    {"protocol", SET_PROTOCOL, FIELD(protocol), .expected = "openai or anthropic"},
    {"base_url", SET_STRING, FIELD(base_url), .expected = SHORTER},
    {"model", SET_STRING, FIELD(model), .expected = SHORTER},
    {"api_key_env", SET_ENV_NAME, FIELD(api_key_env),
     .expected = "the name of an environment variable (not the key itself)"},
    {"temperature", SET_RANGE, FIELD(temp_min), .hi = 2,
     .expected = "a number or a range like 0.5-1.0, within 0..2"},
    {"max_tokens", SET_INT, FIELD(max_tokens), .lo = 1, .hi = 1000000,
     .expected = "an integer 1..1000000"},
    {"timeout", SET_MS, FIELD(timeout_ms), .lo = 1, .expected = "seconds > 0"},
    {"connect_timeout", SET_MS, FIELD(connect_timeout_ms), .lo = 1, .expected = "seconds > 0"},
    {"concurrency", SET_INT, FIELD(concurrency), .lo = 1, .hi = 64, .expected = "an integer 1..64"},
    {"stream", SET_BOOL, FIELD(stream), .expected = "true or false"},
    {"max_attempts", SET_INT, FIELD(max_attempts), .lo = 1, .hi = 100,
     .expected = "an integer 1..100"},
    {"backoff_base", SET_MS, FIELD(backoff_base_ms), .expected = "seconds >= 0"},
    {"backoff_max", SET_MS, FIELD(backoff_max_ms), .expected = "seconds >= 0"},
    {"retry_after_max", SET_MS, FIELD(retry_after_max_ms), .expected = "seconds >= 0"},
    {"price_in", SET_USD, FIELD(price_in), .expected = "a number >= 0 (USD)"},
    {"price_out", SET_USD, FIELD(price_out), .expected = "a number >= 0 (USD)"},
    {"budget_usd", SET_USD, FIELD(budget_usd), .expected = "a number >= 0 (USD)"},
    {"budget_tokens", SET_LONG, FIELD(budget_tokens), .hi = LONG_MAX,
     .expected = "an integer >= 0"},
    {"seed", SET_SEED, FIELD(seed), .hi = LONG_MAX, .expected = "an unsigned integer"},
};
#define N_SETTINGS (sizeof settings / sizeof *settings)

const char *llm_config_key(size_t i)
{
    return i < N_SETTINGS ? settings[i].key : NULL;
}

static int bad_value(const setting *s, const char *value, const char *expected, gerr *err)
{
    return gerr_set(err, "llm: %s = '%s': expected %s", s->key, value, expected);
}

/* value into the field of cfg that s describes */
static int set_one(llm_config *cfg, const setting *s, const char *value, gerr *err)
{
    char *field = (char *)cfg + s->off;
    long l;
    double d;
    switch (s->kind) {
    case SET_PROTOCOL:
        if (!strcmp(value, "openai"))
            cfg->protocol = LLM_OPENAI;
        else if (!strcmp(value, "anthropic"))
            cfg->protocol = LLM_ANTHROPIC;
        else
            return bad_value(s, value, s->expected, err);
        return 0;
    case SET_ENV_NAME:
        for (const char *p = value; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_')
                return bad_value(s, value, s->expected, err);
        /* fall through */
    case SET_STRING:
        if (strlen(value) >= s->size)
            return bad_value(s, value, SHORTER, err);
        snprintf(field, s->size, "%s", value);
        return 0;
    case SET_RANGE: {
        double lo, hi;
        if (parse_range(value, &lo, &hi) || lo < s->lo || hi < lo || hi > s->hi)
            return bad_value(s, value, s->expected, err);
        cfg->temp_min = lo;
        cfg->temp_max = hi;
        return 0;
    }
    case SET_INT:
    case SET_LONG:
    case SET_SEED:
        if (num_long(value, s->lo, s->hi, &l, "llm", NULL))
            return bad_value(s, value, s->expected, err);
        if (s->kind == SET_INT)
            *(int *)field = (int)l;
        else if (s->kind == SET_LONG)
            *(long *)field = l;
        else
            *(uint64_t *)field = (uint64_t)l;
        return 0;
    case SET_MS:
        /* the field takes the value before its floor is checked */
        if (set_ms(value, (long *)field) || *(long *)field < s->lo)
            return bad_value(s, value, s->expected, err);
        return 0;
    case SET_USD:
        if (parse_double(value, &d) || d < 0)
            return bad_value(s, value, s->expected, err);
        *(double *)field = d;
        return 0;
    case SET_BOOL:
        if (parse_bool(value, (bool *)field))
            return bad_value(s, value, s->expected, err);
        return 0;
    }
    return gerr_set(err, "llm: %s: internal error", s->key);
}

int llm_config_set(llm_config *cfg, const char *key, const char *value, gerr *err)
{
    if (!key || !value)
        return gerr_set(err, "llm: missing key or value");
    if (!strcmp(key, "api_key"))
        return gerr_set(err, "llm: the API key is never configured directly; set api_key_env "
                             "to the name of the environment variable that holds it");
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (!strcmp(key, settings[i].key))
            return set_one(cfg, &settings[i], value, err);
    strbuf known = STRBUF_INIT;
    for (size_t i = 0; i < N_SETTINGS; i++)
        strbuf_addf(&known, "%s%s", i ? ", " : "", settings[i].key);
    gerr_set(err, "llm: unknown setting '%s' (known: %s)", key, known.failed ? "?" : known.buf);
    strbuf_release(&known);
    return -1;
}

int llm_config_from_env(llm_config *cfg, gerr *err)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        char name[64] = "GEVO_LLM_";
        size_t n = strlen(name);
        for (const char *k = settings[i].key; *k && n + 1 < sizeof name; k++)
            name[n++] = (char)toupper((unsigned char)*k);
        name[n] = '\0';
        const char *v = getenv(name);
        if (!v)
            continue;
        if (llm_config_set(cfg, settings[i].key, v, err))
            return gerr_prefix(err, "environment %s", name);
    }
    return 0;
}

int llm_config_check(const llm_config *cfg, gerr *err)
{
    if (strncmp(cfg->base_url, "http://", 7) && strncmp(cfg->base_url, "https://", 8)) {
        char shown[sizeof cfg->base_url];
        llm_redact_url(cfg->base_url, shown, sizeof shown);
        gerr_set(err, "llm: base_url '%s' must start with http:// or https://", shown);
        return -1;
    }
    if (!cfg->model[0]) {
        gerr_set(err, "llm: no model configured (set model)");
        return -1;
    }
    if (cfg->temp_min < 0 || cfg->temp_max < cfg->temp_min || cfg->temp_max > 2) {
        gerr_set(err, "llm: temperature range %g-%g is not within 0..2", cfg->temp_min,
                 cfg->temp_max);
        return -1;
    }
    if (cfg->protocol == LLM_ANTHROPIC && cfg->temp_max > 1) {
        gerr_set(err, "llm: the Anthropic API takes temperatures within 0..1, not %g",
                 cfg->temp_max);
        return -1;
    }
    if (cfg->max_tokens < 1 || cfg->concurrency < 1 || cfg->max_attempts < 1 ||
        cfg->timeout_ms < 1 || cfg->connect_timeout_ms < 1 || cfg->backoff_base_ms < 0 ||
        cfg->backoff_max_ms < 0) {
        gerr_set(err, "llm: max_tokens, concurrency, max_attempts and "
                      "timeouts must be positive");
        return -1;
    }
    return 0;
}

/* ---- randomness and backoff ------------------------------------------- */

long llm_backoff_ms(const llm_config *cfg, rng *jitter, int retry, long retry_after_ms)
{
    double d = (double)cfg->backoff_base_ms;
    for (int i = 1; i < retry && d < (double)cfg->backoff_max_ms; i++)
        d *= 2;
    if (d > (double)cfg->backoff_max_ms)
        d = (double)cfg->backoff_max_ms;
    long ms = (long)(d / 2 + rng_uniform_double(jitter) * d / 2);
    if (retry_after_ms >= 0) {
        long ra =
            retry_after_ms < cfg->retry_after_max_ms ? retry_after_ms : cfg->retry_after_max_ms;
        if (ms < ra)
            ms = ra;
    }
    return ms;
}

const char *llm_status_name(llm_status s)
{
    switch (s) {
    case LLM_OK: return "ok";
    case LLM_ERR_HTTP: return "http error";
    case LLM_ERR_RETRIES: return "retries exhausted";
    case LLM_ERR_PROTOCOL: return "protocol error";
    case LLM_ERR_BUDGET: return "budget spent";
    case LLM_ERR_BLOCKED: return "blocked";
    case LLM_ERR_CANCELLED: return "cancelled";
    case LLM_ERR_INTERNAL: return "internal error";
    }
    return "?";
}

/* ---- what is shown: credentials out, untrusted numbers bounded -------- */

static bool secret_param(const char *name, size_t n)
{
    static const char *const words[] = {"key", "token", "secret", "sig", "pass"};
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++)
            if (!strncasecmp(name + i, words[w], wl))
                return true;
    }
    return false;
}

/* The query with the values of secret-looking parameters replaced. */
static void redact_query(strbuf *sb, const char *q)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        size_t k = strcspn(q, "=");
        if (k < n && secret_param(q, k)) {
            strbuf_add(sb, q, k + 1);
            strbuf_addstr(sb, "***");
        } else {
            strbuf_add(sb, q, n);
        }
        q += n;
        if (*q == '&')
            strbuf_addch(sb, *q++);
    }
}

void llm_redact_url(const char *url, char *out, size_t size)
{
    if (!size)
        return;
    out[0] = 0;
    if (!url)
        return;
    strbuf sb = STRBUF_INIT;
    CURLU *h = curl_url();
    char *user = NULL, *pass = NULL, *query = NULL, *full = NULL;
    if (h && curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        bool cred = curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK ||
                    curl_url_get(h, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK;
        bool ok = !cred || (curl_url_set(h, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
                            curl_url_set(h, CURLUPART_USER, "***", 0) == CURLUE_OK);
        if (ok && curl_url_get(h, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
            strbuf q = STRBUF_INIT;
            redact_query(&q, query);
            ok = !q.failed && curl_url_set(h, CURLUPART_QUERY, q.buf, 0) == CURLUE_OK;
            strbuf_release(&q);
        }
        if (ok && curl_url_get(h, CURLUPART_URL, &full, 0) == CURLUE_OK)
            strbuf_addstr(&sb, full);
    } else {
        /* not a URL libcurl parses: hide anything before an '@' of the
           authority, and the whole query */
        const char *auth = strstr(url, "://");
        auth = auth ? auth + 3 : url;
        size_t alen = strcspn(auth, "/?#");
        const char *at = memchr(auth, '@', alen);
        strbuf_add(&sb, url, (size_t)(auth - url));
        if (at) {
            strbuf_addstr(&sb, "***");
            strbuf_add(&sb, at, alen - (size_t)(at - auth));
        } else {
            strbuf_add(&sb, auth, alen);
        }
        const char *rest = auth + alen;
        strbuf_add(&sb, rest, strcspn(rest, "?#"));
        if (rest[strcspn(rest, "?#")])
            strbuf_addstr(&sb, "?***");
    }
    curl_free(user);
    curl_free(pass);
    curl_free(query);
    curl_free(full);
    curl_url_cleanup(h);
    /* a URL from a configuration is shown on terminals too */
    strbuf safe = STRBUF_INIT;
    text_sanitize(&safe, sb.buf, sb.len, 0);
    snprintf(out, size, "%s", sb.failed || safe.failed ? "(a URL)" : safe.buf);
    strbuf_release(&sb);
    strbuf_release(&safe);
}

long llm_plausible_tokens(bool reported, long value, size_t bytes, long hi, bool *estimated)
{
    long est = bytes > (size_t)LONG_MAX - 3 ? LONG_MAX / 4 : (long)((bytes + 3) / 4);
    long floor = (long)(bytes / 16);
    if (!reported || value < 0 || value < floor) {
        *estimated = true;
        return est;
    }
    if (value > hi) {
        *estimated = true;
        return hi;
    }
    return value;
}

/* Replaces the API key in text (a server may echo it in an error or a
 * field) with "[redacted]": messages and results never carry it. */
static void hide_key(const llm_config *cfg, char *text, size_t size)
{
    const char *key = cfg->api_key_env[0] ? getenv(cfg->api_key_env) : NULL;
    if (!key || strlen(key) < 4 || !strstr(text, key))
        return;
    strbuf sb = STRBUF_INIT;
    size_t kl = strlen(key);
    for (const char *p = text, *q; *p; p = q + kl) {
        q = strstr(p, key);
        if (!q) {
            strbuf_addstr(&sb, p);
            break;
        }
        strbuf_add(&sb, p, (size_t)(q - p));
        strbuf_addstr(&sb, "[redacted]");
    }
    snprintf(text, size, "%s", sb.failed ? "(a message with the API key in it)" : sb.buf);
    strbuf_release(&sb);
}

/* a + b without overflow (usage sums over a long session) */
static long sat_add(long a, long b)
{
    long r;
    return __builtin_add_overflow(a, b, &r) ? LONG_MAX : r;
}

void llm_result_release(llm_result *r)
{
    free(r->content);
    free(r->reasoning);
    free(r->raw);
    r->content = r->reasoning = r->raw = NULL;
    r->content_len = r->reasoning_len = r->raw_len = 0;
}

/* ---- the client ------------------------------------------------------- */

typedef enum req_state {
    REQ_QUEUED,
    REQ_WAITING,
    REQ_RUNNING
} req_state;

typedef struct llm_req {
    struct llm_req *next;
    llm_client *c;
    long id;
    llm_callbacks cb;
    char *body; /* the JSON request, built once per call */
    size_t prompt_chars;
    req_state state;
    int64_t due; /* REQ_WAITING: when to retry */
    int64_t t0;
    CURL *easy;
    struct curl_slist *headers;
    char curl_err[CURL_ERROR_SIZE];
    /* per attempt */
    int mode; /* 0 unknown, 1 event stream, 2 plain body */
    /* a buffer added here goes into REQ_BUFFERS too */
    strbuf raw, line, data, content, reasoning, think;
    bool in_think;
    bool saw_done;
    bool bad_event;
    char event_err[512];
    long tokens_in, tokens_out;
    bool have_in, have_out; /* the server reported them */
    bool conn_failed;       /* the last attempt could not reach the server */
    llm_result res;
} llm_req;

typedef struct sock {
    curl_socket_t fd;
    short events;
} sock;

struct llm_client {
    llm_config cfg;
    rng rng;
    CURLM *multi;
    llm_req *reqs;
    long next_id;
    int running;
    sock *socks;
    int n_socks, cap_socks;
    int64_t curl_due; /* -1 = no curl timer */
    llm_usage usage;
    char url[600];   /* what libcurl is given */
    char shown[600]; /* the same, with credentials redacted: for messages */
    /* Set when retrying cannot help (the key is refused, the budget is
     * spent, the server cannot be reached after every attempt): new
     * requests are refused with this cause instead of being sent. */
    char blocked[1024];
    int64_t blocked_until; /* 0: for good; else when one may try again */
    int64_t hold_until;    /* after a failed connection: no new attempt before */
};

static int curl_ready;

/* The one checking helper for libcurl setup calls: remembers the first
 * failure so a request can be refused with its text. */
static void ck(CURLcode rc, CURLcode *first)
{
    if (rc != CURLE_OK && *first == CURLE_OK)
        *first = rc;
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    llm_client *c = userp;
    int i;
    for (i = 0; i < c->n_socks && c->socks[i].fd != s; i++) {
    }
    if (what == CURL_POLL_REMOVE) {
        if (i < c->n_socks)
            c->socks[i] = c->socks[--c->n_socks];
        return 0;
    }
    if (i == c->n_socks) {
        if (c->n_socks == c->cap_socks) {
            int cap = c->cap_socks ? c->cap_socks * 2 : 8;
            sock *p = realloc(c->socks, (size_t)cap * sizeof *p);
            if (!p)
                return -1;
            c->socks = p;
            c->cap_socks = cap;
        }
        c->n_socks++;
        c->socks[i].fd = s;
    }
    c->socks[i].events =
        (short)(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    llm_client *c = userp;
    c->curl_due = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    return 0;
}

llm_client *llm_client_new(const llm_config *cfg, gerr *err)
{
    if (llm_config_check(cfg, err))
        return NULL;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            gerr_set(err, "llm: libcurl failed to initialise");
            return NULL;
        }
        curl_ready = 1;
    }
    llm_client *c = calloc(1, sizeof *c);
    if (!c) {
        gerr_set(err, "llm: out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    rng_seed(&c->rng, cfg->seed);
    c->next_id = 1;
    c->curl_due = -1;
    size_t n = strlen(cfg->base_url);
    while (n && cfg->base_url[n - 1] == '/')
        n--;
    const char *path = cfg->protocol == LLM_ANTHROPIC ? "/messages" : "/chat/completions";
    size_t pl = strlen(path);
    if (n >= pl && !strncmp(cfg->base_url + n - pl, path, pl))
        path = ""; /* the whole endpoint was given */
    snprintf(c->url, sizeof c->url, "%.*s%s", (int)n, cfg->base_url, path);
    llm_redact_url(c->url, c->shown, sizeof c->shown);
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        gerr_set(err, "llm: libcurl multi handle could not be created");
        return NULL;
    }
    CURLMcode m = curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    if (m == CURLM_OK)
        m = curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    if (m == CURLM_OK)
        m = curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    if (m == CURLM_OK)
        m = curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    if (m != CURLM_OK) {
        gerr_set(err, "llm: libcurl: %s", curl_multi_strerror(m));
        curl_multi_cleanup(c->multi);
        free(c);
        return NULL;
    }
    return c;
}

/* Every buffer of an attempt, for what empties or frees them all. */
#define REQ_BUFFERS(r)                                                                 \
    {                                                                                  \
        &(r)->raw, &(r)->line, &(r)->data, &(r)->content, &(r)->reasoning, &(r)->think \
    }

static void req_attempt_clear(llm_req *r)
{
    if (r->easy) {
        curl_multi_remove_handle(r->c->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    r->mode = 0;
    strbuf *bufs[] = REQ_BUFFERS(r);
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        strbuf_reset(bufs[i]);
    r->in_think = r->saw_done = r->bad_event = r->have_in = r->have_out = false;
    r->event_err[0] = '\0';
    r->tokens_in = r->tokens_out = 0;
    r->res.finish_reason[0] = '\0';
}

static void req_free(llm_req *r)
{
    req_attempt_clear(r);
    strbuf *bufs[] = REQ_BUFFERS(r);
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        strbuf_release(bufs[i]);
    llm_result_release(&r->res);
    free(r->body);
    free(r);
}

void llm_client_free(llm_client *c)
{
    if (!c)
        return;
    llm_req *r = c->reqs;
    while (r) {
        llm_req *next = r->next;
        req_free(r);
        r = next;
    }
    curl_multi_cleanup(c->multi);
    free(c->socks);
    free(c);
}

const llm_config *llm_client_config(const llm_client *c)
{
    return &c->cfg;
}

void llm_client_set_spent(llm_client *c, double usd, long tokens)
{
    c->cfg.spent_usd = usd;
    c->cfg.spent_tokens = tokens;
}

llm_usage llm_client_usage(const llm_client *c)
{
    return c->usage;
}

const char *llm_client_model(const llm_client *c)
{
    return c->cfg.model;
}

int llm_client_active(const llm_client *c)
{
    int n = 0;
    for (const llm_req *r = c->reqs; r; r = r->next)
        n++;
    return n;
}

static char *build_body(const llm_client *c, const char *system, const char *user,
                        double temperature)
{
    const llm_config *cfg = &c->cfg;
    json_t *o = json_object(), *msgs = json_array();
    if (!o || !msgs) {
        json_decref(o);
        json_decref(msgs);
        return NULL;
    }
    int bad = 0;
    bad |= json_object_set_new(o, "model", json_string(cfg->model));
    if (system && *system) {
        if (cfg->protocol == LLM_ANTHROPIC)
            bad |= json_object_set_new(o, "system", json_string(system));
        else
            bad |= json_array_append_new(
                msgs, json_pack("{s:s, s:s}", "role", "system", "content", system));
    }
    bad |= json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", user));
    bad |= json_object_set_new(o, "messages", msgs);
    bad |= json_object_set_new(o, "max_tokens", json_integer(cfg->max_tokens));
    bad |= json_object_set_new(o, "temperature", json_real(temperature));
    bad |= json_object_set_new(o, "stream", json_boolean(cfg->stream));
    if (cfg->stream && cfg->protocol == LLM_OPENAI)
        bad |= json_object_set_new(o, "stream_options", json_pack("{s:b}", "include_usage", 1));
    char *s = bad ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void pump(llm_client *c);
static void block(llm_client *c, int64_t until, const char *why);
static void fail_waiting(llm_client *c);

long llm_submit(llm_client *c, const char *system, const char *user, const llm_callbacks *cb,
                gerr *err)
{
    const llm_config *cfg = &c->cfg;
    if (!user) {
        gerr_set(err, "llm: no user message");
        return -1;
    }
    const char *blocked = llm_client_blocked(c, NULL);
    if (blocked) {
        c->usage.refused++;
        gerr_set(err, "not sent: %s", blocked);
        return -1;
    }
    /* the budgets are the session's: what it spent outside this client too */
    long used = sat_add(sat_add(c->usage.tokens_in, c->usage.tokens_out),
                        cfg->spent_tokens > 0 ? cfg->spent_tokens : 0);
    double cost = c->usage.cost_usd + (cfg->spent_usd > 0 ? cfg->spent_usd : 0);
    char why[300] = "";
    if (cfg->budget_usd > 0 && cost >= cfg->budget_usd)
        snprintf(why, sizeof why,
                 "llm: budget spent: $%.4f of $%.4f used; raise budget_usd to continue", cost,
                 cfg->budget_usd);
    else if (cfg->budget_tokens > 0 && used >= cfg->budget_tokens)
        snprintf(why, sizeof why,
                 "llm: token budget spent: %ld of %ld tokens used; raise budget_tokens", used,
                 cfg->budget_tokens);
    if (why[0]) {
        c->usage.refused++;
        block(c, 0, why);
        fail_waiting(c);
        gerr_set(err, "%s", why);
        return -1;
    }
    llm_req *r = calloc(1, sizeof *r);
    if (!r) {
        gerr_set(err, "llm: out of memory");
        return -1;
    }
    r->c = c;
    r->id = c->next_id++;
    strbuf *bufs[] = {&r->raw, &r->line, &r->data, &r->content, &r->reasoning, &r->think};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        strbuf_init(bufs[i]);
    if (cb)
        r->cb = *cb;
    r->res.temperature =
        cfg->temp_min + (cfg->temp_max - cfg->temp_min) * rng_uniform_double(&c->rng);
    /* two decimals: what a person would write, and what the log shows */
    r->res.temperature = round(r->res.temperature * 100) / 100;
    r->body = build_body(c, system, user, r->res.temperature);
    if (!r->body) {
        free(r);
        gerr_set(err, "llm: out of memory building the request");
        return -1;
    }
    r->prompt_chars = (system ? strlen(system) : 0) + strlen(user);
    snprintf(r->res.model, sizeof r->res.model, "%s", cfg->model);
    r->state = REQ_QUEUED;
    r->t0 = now_ms();
    llm_req **tail = &c->reqs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    pump(c);
    return r->id;
}

/* ---- answer parsing --------------------------------------------------- */

static void emit(llm_req *r, llm_delta_kind kind, const char *s, size_t n)
{
    if (!n)
        return;
    strbuf *b = kind == LLM_DELTA_CONTENT ? &r->content : &r->reasoning;
    if (sb_add(b, s, n)) {
        r->bad_event = true;
        snprintf(r->event_err, sizeof r->event_err, "out of memory");
        return;
    }
    if (r->cb.on_delta)
        r->cb.on_delta(r->cb.ud, kind, s, n);
}

/* Content may carry <think>...</think> (DeepSeek-R1 and others): that part
 * is reasoning. Tags can be split across deltas, so a possible tag prefix
 * waits in r->think until the next piece or the end. */
static void content_delta(llm_req *r, const char *s, size_t n, bool flush)
{
    if (sb_add(&r->think, s, n))
        return;
    for (;;) {
        const char *tag = r->in_think ? "</think>" : "<think>";
        size_t tl = strlen(tag);
        llm_delta_kind kind = r->in_think ? LLM_DELTA_REASONING : LLM_DELTA_CONTENT;
        char *p = strstr(r->think.buf, tag);
        if (p) {
            size_t pre = (size_t)(p - r->think.buf);
            emit(r, kind, r->think.buf, pre);
            sb_keep_tail(&r->think, pre + tl);
            r->in_think = !r->in_think;
            continue;
        }
        size_t keep = 0;
        if (!flush) /* longest suffix that is a proper prefix of the tag */
            for (size_t k = tl - 1; k > 0; k--)
                if (r->think.len >= k && !memcmp(r->think.buf + r->think.len - k, tag, k)) {
                    keep = k;
                    break;
                }
        emit(r, kind, r->think.buf, r->think.len - keep);
        sb_keep_tail(&r->think, r->think.len - keep);
        return;
    }
}

static void set_finish(llm_req *r, const char *reason)
{
    if (!reason)
        return;
    snprintf(r->res.finish_reason, sizeof r->res.finish_reason, "%s", reason);
}

static void event_error(llm_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event_error(llm_req *r, const char *fmt, ...)
{
    if (r->bad_event)
        return; /* the first error is the one to report */
    r->bad_event = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->event_err, sizeof r->event_err, fmt, ap);
    va_end(ap);
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void take_model(llm_req *r, json_t *o)
{
    /* what the server says it ran: recorded beside the configured name,
       never instead of it, and never raw on a terminal */
    const char *m = jstr(o, "model");
    if (!m || !*m)
        return;
    strbuf sb = STRBUF_INIT;
    text_sanitize(&sb, m, strlen(m), 0);
    snprintf(r->res.served_model, sizeof r->res.served_model, "%s", sb.failed ? "" : sb.buf);
    strbuf_release(&sb);
}

static void take_error(llm_req *r, json_t *o)
{
    json_t *e = json_object_get(o, "error");
    if (!e)
        return;
    const char *msg = json_is_string(e) ? json_string_value(e) : jstr(e, "message");
    char *safe = text_safe(msg ? msg : "(no message)", 0);
    event_error(r, "the server reported an error: %s", safe ? safe : "(out of memory)");
    free(safe);
}

/* A token count as the server reported it (checked in finish()). */
static void take_count(json_t *v, long *out, bool *have)
{
    if (!json_is_integer(v))
        return;
    json_int_t x = json_integer_value(v);
    *out = x > LONG_MAX ? LONG_MAX : x < LONG_MIN ? LONG_MIN : (long)x;
    *have = true;
}

static void openai_usage(llm_req *r, json_t *o)
{
    json_t *u = json_object_get(o, "usage");
    if (!json_is_object(u))
        return;
    json_t *pi = json_object_get(u, "prompt_tokens"), *co = json_object_get(u, "completion_tokens");
    take_count(pi, &r->tokens_in, &r->have_in);
    take_count(co, &r->tokens_out, &r->have_out);
}

static void anthropic_usage(llm_req *r, json_t *u)
{
    if (!json_is_object(u))
        return;
    json_t *in = json_object_get(u, "input_tokens"), *out = json_object_get(u, "output_tokens");
    take_count(in, &r->tokens_in, &r->have_in);
    take_count(out, &r->tokens_out, &r->have_out);
}

/* An OpenAI answer's first choice: its "message" (a plain answer) or its
 * "delta" (an event of the stream), as part says. Returns whether it had
 * content. */
static bool openai_choice(llm_req *r, json_t *o, const char *part, bool flush)
{
    json_t *ch = json_array_get(json_object_get(o, "choices"), 0);
    json_t *m = json_object_get(ch, part);
    const char *s;
    if ((s = jstr(m, "reasoning_content")) || (s = jstr(m, "reasoning")))
        emit(r, LLM_DELTA_REASONING, s, strlen(s));
    bool found = (s = jstr(m, "content")) != NULL;
    if (found)
        content_delta(r, s, strlen(s), flush);
    set_finish(r, jstr(ch, "finish_reason"));
    openai_usage(r, o);
    return found;
}

/* An Anthropic content block (a plain answer) or a content_block_delta's
 * delta: text or thinking. Returns whether it was text. */
static bool anthropic_block(llm_req *r, json_t *b, bool flush)
{
    const char *s;
    if ((s = jstr(b, "text"))) {
        content_delta(r, s, strlen(s), flush);
        return true;
    }
    if ((s = jstr(b, "thinking")))
        emit(r, LLM_DELTA_REASONING, s, strlen(s));
    return false;
}

static void sse_event(llm_req *r, const char *data, size_t n)
{
    if (r->c->cfg.protocol == LLM_OPENAI && n == 6 && !memcmp(data, "[DONE]", 6)) {
        r->saw_done = true;
        return;
    }
    json_error_t je;
    json_t *o = json_loadb(data, n, 0, &je);
    if (!json_is_object(o)) {
        strbuf sb = STRBUF_INIT;
        text_sanitize(&sb, data, n < 80 ? n : 80, 0);
        event_error(r, "malformed event in the stream (%s): %s", je.text, sb.failed ? "" : sb.buf);
        strbuf_release(&sb);
        json_decref(o);
        return;
    }
    take_error(r, o);
    take_model(r, o);
    if (r->c->cfg.protocol == LLM_OPENAI) {
        openai_choice(r, o, "delta", false);
    } else {
        const char *type = jstr(o, "type");
        if (!type)
            type = "";
        if (!strcmp(type, "message_start")) {
            json_t *m = json_object_get(o, "message");
            take_model(r, m);
            anthropic_usage(r, json_object_get(m, "usage"));
        } else if (!strcmp(type, "content_block_delta")) {
            anthropic_block(r, json_object_get(o, "delta"), false);
        } else if (!strcmp(type, "message_delta")) {
            set_finish(r, jstr(json_object_get(o, "delta"), "stop_reason"));
            json_t *u = json_object_get(o, "usage");
            json_t *out = json_object_get(u, "output_tokens");
            take_count(out, &r->tokens_out, &r->have_out);
        } else if (!strcmp(type, "message_stop")) {
            r->saw_done = true;
        }
    }
    json_decref(o);
}

/* One line of the event stream (without its newline). */
static void sse_line(llm_req *r, char *s, size_t n)
{
    if (n && s[n - 1] == '\r')
        s[--n] = '\0';
    if (n == 0) { /* blank line: the event is complete */
        if (r->data.len)
            sse_event(r, r->data.buf, r->data.len);
        strbuf_reset(&r->data);
        return;
    }
    if (s[0] == ':')
        return; /* comment / keep-alive */
    if (n >= 5 && !memcmp(s, "data:", 5)) {
        const char *v = s + 5;
        if (*v == ' ')
            v++;
        if (r->data.len)
            sb_add(&r->data, "\n", 1);
        sb_add(&r->data, v, strlen(v));
    }
    /* event:, id:, retry: carry nothing we need (Anthropic repeats the
     * event name in the data's "type") */
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
    llm_req *r = ud;
    size_t n = size * nmemb;
    if (r->raw.len + n > RAW_CAP) {
        event_error(r, "the response is larger than %u MiB", RAW_CAP >> 20);
        return 0;
    }
    if (sb_add(&r->raw, p, n))
        return 0;
    if (r->mode == 0) {
        long code = 0;
        char *ct = NULL;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
        r->mode = (code == 200 && ct && strstr(ct, "text/event-stream")) ? 1 : 2;
    }
    if (r->mode != 1)
        return n;
    /* split into lines; a partial line waits in r->line */
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (sb_add(&r->line, p + start, i - start))
            return 0;
        sse_line(r, r->line.buf, r->line.len);
        strbuf_reset(&r->line);
        start = i + 1;
    }
    if (start < n && sb_add(&r->line, p + start, n - start))
        return 0;
    return n;
}

/* A plain (non-streamed) JSON answer. Returns 0, or -1 with event_err. */
static int parse_plain(llm_req *r)
{
    json_error_t je;
    json_t *o = json_loadb(r->raw.buf, r->raw.len, 0, &je);
    if (!json_is_object(o)) {
        event_error(r, "the answer is not valid JSON (%s at byte %d)", je.text, je.position);
        json_decref(o);
        return -1;
    }
    take_error(r, o);
    take_model(r, o);
    bool found = false;
    if (r->c->cfg.protocol == LLM_OPENAI) {
        found = openai_choice(r, o, "message", true);
    } else {
        json_t *arr = json_object_get(o, "content");
        size_t i;
        json_t *blk;
        json_array_foreach(arr, i, blk)
        {
            if (anthropic_block(r, blk, true))
                found = true;
        }
        set_finish(r, jstr(o, "stop_reason"));
        anthropic_usage(r, json_object_get(o, "usage"));
    }
    json_decref(o);
    if (!found && !r->bad_event)
        event_error(r, "the answer has no message content");
    return r->bad_event ? -1 : 0;
}

/* ---- attempts, retries, completion ------------------------------------ */

static int start_attempt(llm_req *r)
{
    llm_client *c = r->c;
    const llm_config *cfg = &c->cfg;
    req_attempt_clear(r);
    r->res.attempts++;
    r->easy = curl_easy_init();
    if (!r->easy)
        return -1;
    CURLcode first = CURLE_OK;
    struct curl_slist *h = NULL, *t;
#define HDR(s)                              \
    do {                                    \
        if (!(t = curl_slist_append(h, s))) \
            goto oom;                       \
        h = t;                              \
    } while (0)
    HDR("Content-Type: application/json");
    if (cfg->stream)
        HDR("Accept: text/event-stream");
    const char *key = cfg->api_key_env[0] ? getenv(cfg->api_key_env) : NULL;
    if (key && *key) {
        char line[1024];
        if (cfg->protocol == LLM_ANTHROPIC)
            snprintf(line, sizeof line, "x-api-key: %s", key);
        else
            snprintf(line, sizeof line, "Authorization: Bearer %s", key);
        HDR(line);
        memset(line, 0, sizeof line);
    }
    if (cfg->protocol == LLM_ANTHROPIC)
        HDR("anthropic-version: 2023-06-01");
#undef HDR
    r->headers = h;
    ck(curl_easy_setopt(r->easy, CURLOPT_URL, c->url), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->curl_err), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, cfg->timeout_ms), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, ""), &first);
    ck(curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "gevo"), &first);
    r->curl_err[0] = '\0';
    if (first != CURLE_OK) {
        snprintf(r->res.error, sizeof r->res.error, "llm: libcurl setup: %s",
                 curl_easy_strerror(first));
        return -1;
    }
    if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK)
        return -1;
    r->state = REQ_RUNNING;
    c->running++;
    return 0;
oom:
    curl_slist_free_all(h);
    return -1;
}

static void unlink_req(llm_client *c, llm_req *r)
{
    for (llm_req **pp = &c->reqs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            return;
        }
}

static void finish(llm_req *r, llm_status st);

static void block(llm_client *c, int64_t until, const char *why)
{
    snprintf(c->blocked, sizeof c->blocked, "%s", why);
    c->blocked_until = until;
}

const char *llm_client_blocked(llm_client *c, bool *permanent)
{
    if (c->blocked[0] && c->blocked_until && now_ms() >= c->blocked_until)
        c->blocked[0] = 0; /* unreachable a while ago: one may try again */
    if (permanent)
        *permanent = c->blocked[0] && !c->blocked_until;
    return c->blocked[0] ? c->blocked : NULL;
}

/* Ends every request not yet on the wire with the cause of the block. */
static void fail_waiting(llm_client *c)
{
    for (;;) {
        llm_req *r = c->reqs;
        while (r && r->state == REQ_RUNNING)
            r = r->next;
        if (!r)
            return;
        snprintf(r->res.error, sizeof r->res.error, "not sent: %s", c->blocked);
        finish(r, LLM_ERR_BLOCKED);
    }
}

/* Ends a request: accounting, the callback, freeing. */
static void finish(llm_req *r, llm_status st)
{
    llm_client *c = r->c;
    if (r->state == REQ_RUNNING)
        c->running--;
    unlink_req(c, r);
    if (r->easy) {
        curl_multi_remove_handle(c->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    llm_result *res = &r->res;
    res->status = st;
    hide_key(&c->cfg, res->error, sizeof res->error);
    hide_key(&c->cfg, res->served_model, sizeof res->served_model);
    res->seconds = (double)(now_ms() - r->t0) / 1000.0;
    if (st == LLM_OK) {
        res->error[0] = '\0';
        res->content = strbuf_detach(&r->content, &res->content_len);
        res->reasoning = strbuf_detach(&r->reasoning, &res->reasoning_len);
        res->truncated =
            !strcmp(res->finish_reason, "length") || !strcmp(res->finish_reason, "max_tokens");
        /* the server's numbers decide budgets: bounded by what was sent
           and what can have come back */
        size_t out_bytes = res->content_len + res->reasoning_len;
        long out_hi =
            (long)c->cfg.max_tokens > (long)out_bytes ? (long)c->cfg.max_tokens : (long)out_bytes;
        bool est = false;
        res->tokens_in = llm_plausible_tokens(r->have_in, r->tokens_in, r->prompt_chars,
                                              (long)r->prompt_chars + 4096, &est);
        res->tokens_out =
            llm_plausible_tokens(r->have_out, r->tokens_out, out_bytes, out_hi + 4096, &est);
        res->tokens_estimated = est;
        res->cost_usd = (double)res->tokens_in * c->cfg.price_in / 1e6 +
                        (double)res->tokens_out * c->cfg.price_out / 1e6;
        c->usage.tokens_in = sat_add(c->usage.tokens_in, res->tokens_in);
        c->usage.tokens_out = sat_add(c->usage.tokens_out, res->tokens_out);
        c->usage.cost_usd += res->cost_usd;
    } else {
        res->content = strdup("");
        res->reasoning = strdup("");
        c->usage.failed++;
    }
    c->usage.calls++;
    res->raw = strbuf_detach(&r->raw, &res->raw_len);
    /* what retrying cannot fix stops the requests after this one too */
    bool refused = st == LLM_ERR_HTTP && (res->http_status == 401 || res->http_status == 403);
    bool unreachable = st == LLM_ERR_RETRIES && r->conn_failed;
    if (refused || unreachable)
        block(c, unreachable ? now_ms() + UNREACHABLE_PAUSE_MS : 0, res->error);
    if (r->cb.on_done)
        r->cb.on_done(r->cb.ud, res);
    req_free(r);
    if (refused || unreachable)
        fail_waiting(c);
}

static void fail_or_retry(llm_req *r, bool retryable, long retry_after_ms, llm_status final_status,
                          const char *why)
{
    llm_client *c = r->c;
    if (retryable && r->res.attempts < c->cfg.max_attempts) {
        long delay = llm_backoff_ms(&c->cfg, &c->rng, r->res.attempts, retry_after_ms);
        c->running--;
        curl_multi_remove_handle(c->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        r->state = REQ_WAITING;
        r->due = now_ms() + delay;
        /* an endpoint that did not answer is not asked by the others
           either before this request's retry */
        if (r->conn_failed && r->due > c->hold_until)
            c->hold_until = r->due;
        c->usage.retries++;
        if (r->cb.on_retry)
            r->cb.on_retry(r->cb.ud, r->res.attempts, delay, why);
        return;
    }
    if (retryable && c->cfg.max_attempts > 1) {
        snprintf(r->res.error, sizeof r->res.error,
                 "LLM request to %s (model %s) failed after %d attempts; last: %s", c->shown,
                 c->cfg.model, r->res.attempts, why);
        final_status = LLM_ERR_RETRIES;
    } else {
        snprintf(r->res.error, sizeof r->res.error, "LLM request to %s (model %s) failed: %s",
                 c->shown, c->cfg.model, why);
    }
    finish(r, final_status);
}

/* The server's own words from an error body, if it has any. */
static void http_error_text(llm_req *r, char *out, size_t size)
{
    json_t *o = json_loadb(r->raw.buf, r->raw.len, 0, NULL);
    json_t *e = json_object_get(o, "error");
    const char *msg = json_is_string(e) ? json_string_value(e) : jstr(e, "message");
    if (!msg)
        msg = jstr(o, "message");
    /* the server's words reach a terminal: shown, never obeyed */
    strbuf sb = STRBUF_INIT;
    if (msg)
        text_sanitize(&sb, msg, strlen(msg), 0);
    else
        text_sanitize(&sb, r->raw.buf, r->raw.len < 200 ? r->raw.len : 200, 0);
    snprintf(out, size, "%s", sb.failed ? "(out of memory)" : sb.buf);
    strbuf_release(&sb);
    json_decref(o);
}

static void attempt_done(llm_req *r, CURLcode rc)
{
    char why[900];
    int a = r->res.attempts;
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    r->res.http_status = code;
    r->conn_failed = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                     rc == CURLE_COULDNT_RESOLVE_PROXY;
    if (rc != CURLE_OK) {
        if (rc == CURLE_WRITE_ERROR && r->bad_event) {
            snprintf(why, sizeof why, "attempt %d: %s", a, r->event_err);
            fail_or_retry(r, false, -1, LLM_ERR_PROTOCOL, why);
            return;
        }
        bool retryable = rc != CURLE_URL_MALFORMAT && rc != CURLE_UNSUPPORTED_PROTOCOL &&
                         rc != CURLE_OUT_OF_MEMORY && rc != CURLE_WRITE_ERROR &&
                         rc != CURLE_SSL_CACERT_BADFILE && rc != CURLE_PEER_FAILED_VERIFICATION;
        snprintf(why, sizeof why, "attempt %d: %s%s%s", a, curl_easy_strerror(rc),
                 r->curl_err[0] ? ": " : "", r->curl_err);
        if (rc == CURLE_OPERATION_TIMEDOUT)
            snprintf(why + strlen(why), sizeof why - strlen(why),
                     " (timeout %.1f s; raise timeout)", (double)r->c->cfg.timeout_ms / 1000);
        fail_or_retry(r, retryable, -1, LLM_ERR_RETRIES, why);
        return;
    }
    if (code != 200) {
        char msg[600];
        http_error_text(r, msg, sizeof msg);
        curl_off_t ra = -1;
        if (curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK)
            ra = -1;
        long ra_ms = ra > 0 ? (long)ra * 1000 : -1;
        bool retryable = code == 429 || code == 408 || code >= 500;
        snprintf(why, sizeof why, "attempt %d: HTTP %ld%s%s", a, code, msg[0] ? ": " : "", msg);
        if (code == 401 || code == 403)
            snprintf(why + strlen(why), sizeof why - strlen(why), " (check the key in $%s)",
                     r->c->cfg.api_key_env);
        fail_or_retry(r, retryable, ra_ms, LLM_ERR_HTTP, why);
        return;
    }
    if (r->mode == 1) {
        if (r->line.len)
            sse_line(r, r->line.buf, r->line.len); /* unterminated last line */
        sse_line(r, (char *)"", 0);
        content_delta(r, "", 0, true);
        if (!r->bad_event && !r->saw_done && !r->res.finish_reason[0])
            event_error(r, "the stream ended before the answer was complete "
                           "(no finish_reason, no [DONE])");
    } else {
        parse_plain(r);
    }
    if (r->bad_event) {
        snprintf(why, sizeof why, "attempt %d: %s", a, r->event_err);
        fail_or_retry(r, true, -1, LLM_ERR_PROTOCOL, why);
        return;
    }
    finish(r, LLM_OK);
}

/* Moves due retries back to the queue and starts what the concurrency
 * limit allows, oldest first. */
static void pump(llm_client *c)
{
    int64_t now = now_ms();
    for (llm_req *r = c->reqs; r; r = r->next)
        if (r->state == REQ_WAITING && r->due <= now)
            r->state = REQ_QUEUED;
    if (now < c->hold_until)
        return;
    for (llm_req *r = c->reqs; r && c->running < c->cfg.concurrency;) {
        llm_req *next = r->next;
        if (r->state == REQ_QUEUED && start_attempt(r)) {
            if (!r->res.error[0])
                snprintf(r->res.error, sizeof r->res.error,
                         "llm: could not start the request (out of memory)");
            finish(r, LLM_ERR_INTERNAL);
        }
        r = next;
    }
}

static void reap(llm_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        llm_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            attempt_done(r, m->data.result);
    }
}

int llm_client_pollfds(llm_client *c, struct pollfd *fds, int max)
{
    int n = 0;
    for (int i = 0; i < c->n_socks && n < max; i++) {
        fds[n].fd = c->socks[i].fd;
        fds[n].events = c->socks[i].events;
        fds[n].revents = 0;
        n++;
    }
    return n;
}

int llm_client_timeout_ms(llm_client *c)
{
    int64_t now = now_ms(), due = c->curl_due;
    for (llm_req *r = c->reqs; r; r = r->next) {
        if (r->state == REQ_WAITING && (due < 0 || r->due < due))
            due = r->due;
        if (r->state == REQ_QUEUED && c->running < c->cfg.concurrency)
            due = now > c->hold_until ? now : c->hold_until;
    }
    if (due < 0)
        return -1;
    int64_t d = due - now;
    if (d < 0)
        d = 0;
    return d > 60000 ? 60000 : (int)d;
}

void llm_client_dispatch(llm_client *c, const struct pollfd *fds, int n)
{
    int running;
    for (int i = 0; i < n; i++) {
        if (!fds[i].revents)
            continue;
        int j;
        for (j = 0; j < c->n_socks && c->socks[j].fd != fds[i].fd; j++) {
        }
        if (j == c->n_socks)
            continue;
        int mask = 0;
        if (fds[i].revents & (POLLIN | POLLHUP))
            mask |= CURL_CSELECT_IN;
        if (fds[i].revents & POLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (fds[i].revents & (POLLERR | POLLNVAL))
            mask |= CURL_CSELECT_ERR;
        curl_multi_socket_action(c->multi, fds[i].fd, mask, &running);
    }
    if (c->curl_due >= 0 && c->curl_due <= now_ms()) {
        c->curl_due = -1;
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    reap(c);
    pump(c);
    reap(c);
}

void llm_cancel(llm_client *c, long id)
{
    for (llm_req *r = c->reqs; r; r = r->next)
        if (r->id == id) {
            snprintf(r->res.error, sizeof r->res.error, "LLM request cancelled");
            finish(r, LLM_ERR_CANCELLED);
            return;
        }
}

/* ---- copies and relays ------------------------------------------------ */

/* n bytes of s, terminated (malloc'd; NULL when out of memory). */
static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* s copied, "" for NULL (then *n becomes 0) */
static char *dup_text(const char *s, size_t *n)
{
    if (!s)
        *n = 0;
    return dupn(s ? s : "", *n);
}

int llm_result_copy(llm_result *dst, const llm_result *src)
{
    *dst = *src;
    dst->content = dup_text(src->content, &dst->content_len);
    dst->reasoning = dup_text(src->reasoning, &dst->reasoning_len);
    dst->raw = dup_text(src->raw, &dst->raw_len);
    if (!dst->content || !dst->reasoning || !dst->raw) {
        llm_result_release(dst);
        return -1;
    }
    return 0;
}

static void relay_delta(void *ud, llm_delta_kind k, const char *s, size_t n)
{
    const llm_relay *r = ud;
    if (r->watch.on_delta)
        r->watch.on_delta(r->watch.ud, k, s, n);
}

static void relay_retry(void *ud, int attempt, long delay, const char *why)
{
    const llm_relay *r = ud;
    if (r->watch.on_retry)
        r->watch.on_retry(r->watch.ud, attempt, delay, why);
}

static void relay_done(void *ud, const llm_result *res)
{
    const llm_relay *r = ud;
    r->done(r->ud, res);
}

llm_callbacks llm_relay_callbacks(llm_relay *relay)
{
    return (llm_callbacks){relay_delta, relay_retry, relay_done, relay};
}

/* ---- the blocking wrapper --------------------------------------------- */

typedef struct sync_state {
    llm_result *out;
    bool done;
} sync_state;

static void sync_done(void *ud, const llm_result *r)
{
    sync_state *st = ud;
    if (llm_result_copy(st->out, r)) {
        st->out->status = LLM_ERR_INTERNAL;
        snprintf(st->out->error, sizeof st->out->error, "llm: out of memory");
    }
    st->done = true;
}

int llm_complete(llm_client *c, const char *system, const char *user, const llm_callbacks *cb,
                 llm_result *out)
{
    memset(out, 0, sizeof *out);
    sync_state st = {.out = out};
    llm_relay relay = {.done = sync_done, .ud = &st};
    if (cb)
        relay.watch = *cb;
    llm_callbacks mine = llm_relay_callbacks(&relay);
    gerr err = GERR_INIT;
    long id = llm_submit(c, system, user, &mine, &err);
    snprintf(out->error, sizeof out->error, "%s", err.msg);
    if (id < 0) {
        out->status = strstr(out->error, "budget")  ? LLM_ERR_BUDGET
                      : llm_client_blocked(c, NULL) ? LLM_ERR_BLOCKED
                                                    : LLM_ERR_INTERNAL;
        return -1;
    }
    struct pollfd fds[64];
    while (!st.done) {
        int n = llm_client_pollfds(c, fds, 64);
        int t = llm_client_timeout_ms(c);
        if (n == 0 && t < 0)
            t = 10; /* nothing to wait on yet: look again soon */
        if (poll(fds, (nfds_t)n, t) < 0 && errno != EINTR) {
            llm_cancel(c, id);
            break;
        }
        llm_client_dispatch(c, fds, n);
    }
    return out->status == LLM_OK ? 0 : -1;
}
