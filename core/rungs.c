/* rungs: fidelity rungs and the successive-halving choice (see rungs.h). */
#include "core/rungs.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/num.h"
#include "engine/base/strbuf.h"

int rungs_preset(rungs *out, const char *preset)
{
    memset(out, 0, sizeof *out);
    if (!preset || !strcmp(preset, "quick") || !strcmp(preset, "default")) {
        /* screening as today's quick candidates; a middle rung at 3x its
           budget (eta); confirmation on the whole split, several epochs */
        out->n = 3;
        out->r[0] = (rungs_fidelity){10000, 1};
        out->r[1] = (rungs_fidelity){30000, 1};
        out->r[2] = (rungs_fidelity){0, 3};
        return 0;
    }
    if (!strcmp(preset, "paper")) {
        /* LLM-GE trained every candidate on the whole split already */
        out->n = 1;
        out->r[0] = (rungs_fidelity){0, 0};
        return 0;
    }
    return -1;
}

/* One IMAGES[:EPOCHS] of spec, len bytes at p. */
static int parse_one(const char *p, size_t len, rungs_fidelity *out, const char *spec, gerr *err)
{
    char item[64];
    if (len == 0 || len >= sizeof item)
        return gerr_set(err, "rungs '%s': %s rung (IMAGES:EPOCHS, e.g. 10000:1 or all:3)", spec,
                        len ? "a too long" : "an empty");
    memcpy(item, p, len);
    item[len] = 0;
    char *colon = strchr(item, ':');
    if (colon)
        *colon = 0;
    char what[96];
    snprintf(what, sizeof what, "rungs '%s': images", spec);
    if (!strcmp(item, "all"))
        out->images = 0;
    else if (num_long(item, 1, 1000000000L, &out->images, what, err))
        return -1;
    out->epochs = 0;
    snprintf(what, sizeof what, "rungs '%s': epochs", spec);
    if (colon && num_int(colon + 1, 1, 10000, &out->epochs, what, err))
        return -1;
    return 0;
}

int rungs_parse(rungs *out, const char *spec, const rungs *base, gerr *err)
{
    const char *s = spec ? spec : "";
    while (*s == ' ')
        s++;
    if (*s && !strpbrk(s, ":,") && strcmp(s, "all")) {
        int n;
        int max = base ? base->n : 1;
        if (num_int(s, 1, max, &n, "rungs (a number of the preset's rungs)", err))
            return -1;
        rungs t = *base;
        t.n = n;
        *out = t;
        return 0;
    }
    rungs t = {0};
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && p[0] == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (t.n == RUNGS_MAX)
            return gerr_set(err, "rungs '%s': at most %d rungs", spec, RUNGS_MAX);
        if (parse_one(p, len, &t.r[t.n], spec ? spec : "", err))
            return -1;
        t.n++;
        if (!e)
            break;
        p = e + 1;
    }
    /* each rung must give more than the one below it */
    for (int i = 1; i < t.n; i++)
        if (rungs_cost_ratio(&t, i) <= rungs_cost_ratio(&t, i - 1))
            return gerr_set(err, "rungs '%s': rung %d trains no more than rung %d", spec, i + 1, i);
    *out = t;
    return 0;
}

int rungs_session(session *s, rungs *out, gerr *err)
{
    rungs base;
    if (rungs_preset(&base, session_config_get(s, "preset")))
        rungs_preset(&base, NULL);
    const char *spec = session_config_get(s, "rungs");
    gerr why = GERR_INIT;
    *out = base;
    if (spec && spec[0] && rungs_parse(out, spec, &base, &why))
        return gerr_set(err, "gevo.json: %s", why.msg);
    return 0;
}

void rungs_format(const rungs *rs, char *buf, size_t size)
{
    strbuf b = STRBUF_INIT;
    for (int i = 0; i < rs->n; i++) {
        if (i)
            strbuf_addch(&b, ',');
        if (rs->r[i].images)
            strbuf_addf(&b, "%ld", rs->r[i].images);
        else
            strbuf_addstr(&b, "all");
        if (rs->r[i].epochs)
            strbuf_addf(&b, ":%d", rs->r[i].epochs);
    }
    snprintf(buf, size, "%s", b.failed ? "" : b.buf ? b.buf : "");
    strbuf_release(&b);
}

void rungs_describe(const rungs_fidelity *r, char *buf, size_t size)
{
    char images[32], epochs[48];
    if (r->images)
        snprintf(images, sizeof images, "%ld images", r->images);
    else
        snprintf(images, sizeof images, "all images");
    if (r->epochs)
        snprintf(epochs, sizeof epochs, "%d epoch%s", r->epochs, r->epochs == 1 ? "" : "s");
    else
        snprintf(epochs, sizeof epochs, "the program's epochs");
    snprintf(buf, size, "%s, %s", images, epochs);
}

double rungs_cost_ratio(const rungs *rs, int r)
{
    if (r < 0 || r >= rs->n)
        return 1;
    const rungs_fidelity *z = &rs->r[0], *x = &rs->r[r];
    double i0 = z->images ? (double)z->images : RUNGS_ALL_IMAGES;
    double ix = x->images ? (double)x->images : RUNGS_ALL_IMAGES;
    double e0 = z->epochs ? z->epochs : 1, ex = x->epochs ? x->epochs : e0;
    return (ix * ex) / (i0 * e0);
}

int rungs_result_tried(json_t *o)
{
    json_int_t top = json_integer_value(json_object_get(o, "rung"));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "rungs"), i, e)
    {
        json_int_t r = json_integer_value(json_object_get(e, "rung"));
        if (r > top)
            top = r;
    }
    return top < 0 ? 0 : top > SESSION_RUNG_MAX ? SESSION_RUNG_MAX : (int)top;
}

/* A rung's summary from its result (or the reason it has none). */
static json_t *summary(json_t *res, int rung, const char *why)
{
    json_t *o = json_object();
    json_object_set_new(o, "rung", json_integer(rung));
    const char *st = json_string_value(json_object_get(res, "status"));
    json_object_set_new(o, "status", json_string(st ? st : "error"));
    static const char *const keys[] = {"val_acc", "seconds", "images"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        json_t *v = json_object_get(res, keys[k]);
        json_object_set_new(o, keys[k], json_is_number(v) ? json_deep_copy(v) : json_null());
    }
    json_t *ep = json_object_get(json_object_get(res, "recipe"), "epochs");
    json_object_set_new(o, "epochs", json_is_number(ep) ? json_deep_copy(ep) : json_null());
    const char *msg = json_string_value(json_object_get(res, "message"));
    if (why || (msg && msg[0]))
        json_object_set_new(o, "message", json_string(why ? why : msg));
    return o;
}

char *rungs_promoted_note(const char *old, const char *now, int rung, const char *why, gerr *err)
{
    json_t *o = json_loads(old ? old : "", 0, NULL);
    json_t *n = now ? json_loads(now, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        json_decref(n);
        gerr_set(err, "promotion: the result note it starts from is not a JSON object");
        return NULL;
    }
    if (n && !json_is_object(n)) {
        json_decref(n);
        n = NULL;
    }
    json_t *list = json_object_get(o, "rungs");
    if (json_is_array(list))
        json_incref(list);
    else
        list = json_array();
    if (json_array_size(list) == 0) /* a screening result: its own summary first */
        json_array_append_new(
            list, summary(o, (int)json_integer_value(json_object_get(o, "rung")), NULL));
    const char *st = json_string_value(json_object_get(n, "status"));
    bool ok = st && !strcmp(st, "ok") && json_is_number(json_object_get(n, "val_acc"));
    json_array_append_new(list, summary(n, rung, n ? NULL : why ? why : "no result"));
    json_t *out = ok ? json_incref(n) : json_incref(o);
    if (ok)
        json_object_set_new(out, "rung", json_integer(rung));
    else if (!json_object_get(out, "rung"))
        json_object_set_new(out, "rung", json_integer(0));
    json_object_set_new(out, "rungs", list);
    char *text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(out);
    json_decref(o);
    json_decref(n);
    if (!text)
        gerr_set(err, "promotion: out of memory");
    return text;
}

/* The best promotable member of rung r: the top floor(n/eta) of those
 * measured there, in NSGA-II's order at r, then the front's; -1 if none. */
static int best_at_rung(const rungs_ind *v, int n, int r, int eta, const nsga2_objectives *objs,
                        int *idx, nsga2_measure *m, gerr *err)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        nsga2_measure at = nsga2_measure_at(&v[i].m, r);
        if (v[i].m.failed || v[i].m.rung < r || at.failed)
            continue;
        idx[k] = i;
        m[k] = at;
        k++;
    }
    if (k == 0)
        return -1;
    nsga2_ranking rk;
    if (nsga2_rank(&rk, m, k, objs, err))
        return -2;
    int quota = k / (eta > 1 ? eta : 1), pick = -1;
    for (int pass = 0; pass < 2 && pick < 0; pass++)
        for (int o = 0; o < k && pick < 0; o++) {
            int i = idx[rk.order[o]];
            bool eligible = v[i].m.rung == r && v[i].tried <= r;
            if (eligible && (pass == 0 ? o < quota : v[i].on_front))
                pick = i;
        }
    nsga2_ranking_release(&rk);
    return pick;
}

int rungs_next_promotion(const rungs *rs, int eta, const rungs_ind *v, int n,
                         const nsga2_objectives *objs, int *to_rung, gerr *err)
{
    *to_rung = -1;
    if (n <= 0 || rs->n < 2)
        return -1;
    int *idx = malloc(sizeof *idx * (size_t)n);
    nsga2_measure *m = malloc(sizeof *m * (size_t)n);
    int pick = -1;
    if (!idx || !m) {
        gerr_set(err, "promotion: out of memory");
    } else {
        for (int r = rs->n - 2; r >= 0 && pick < 0; r--) {
            int p = best_at_rung(v, n, r, eta, objs, idx, m, err);
            if (p == -2)
                break;
            if (p >= 0) {
                pick = p;
                *to_rung = r + 1;
            }
        }
    }
    free(idx);
    free(m);
    return pick;
}
