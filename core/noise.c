/* noise: the seed's noise runs, their note, epsilon (see noise.h). */
#include "core/noise.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rungs.h"
#include "core/welch.h"
#include "engine/base/num.h"
#include "engine/base/strbuf.h"

/* A gevo.json setting as text: a string as it is, a number as written
 * (people write "epsilon": 0.01 as often as "0.01"); NULL when unset.
 * Another type is an error that names the key. */
static int setting(session *s, const char *key, char *buf, size_t size, const char **out, gerr *err)
{
    json_t *v = session_config_node(s, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return 0;
    }
    if (json_is_integer(v))
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, size, "%.15g", json_real_value(v));
    else
        return gerr_set(err, "gevo.json %s: a string or a number, not %s", key,
                        json_is_boolean(v) ? "true or false" : "a list or an object");
    *out = buf;
    return 0;
}

int noise_seeds_setting(session *s, int *k, gerr *err)
{
    char buf[64];
    const char *v;
    *k = NOISE_DEFAULT_SEEDS;
    if (setting(s, "noise_seeds", buf, sizeof buf, &v, err))
        return -1;
    if (!v || !v[0])
        return 0;
    if (num_int(v, 0, NOISE_MAX_SEEDS, k, "gevo.json noise_seeds", err))
        return -1;
    if (*k == 1)
        return gerr_set(err,
                        "gevo.json noise_seeds: 1 run has no spread (0 turns the "
                        "measurement off, 2 to %d measure it)",
                        NOISE_MAX_SEEDS);
    return 0;
}

int noise_seed_id(session *s, char *id, gerr *err)
{
    session_info *v = NULL;
    size_t n = 0;
    if (session_list(s, 0, &v, &n, err))
        return -1;
    int rc = 0;
    if (n == 0)
        rc = gerr_set(err, "the session has no seed (no individual of generation 0)");
    else
        snprintf(id, SESSION_ID_MAX, "%s", v[0].id);
    free(v);
    return rc;
}

static void recompute(noise_info *ni)
{
    double acc[NOISE_MAX_SEEDS];
    int n = 0;
    for (int i = 0; i < ni->n_runs; i++)
        if (ni->runs[i].ok)
            acc[n++] = ni->runs[i].val_acc;
    ni->n_ok = n;
    welch_mean_sd(acc, n, &ni->mean, &ni->std);
    ni->complete = ni->n_runs >= ni->k;
}

void noise_plan(noise_info *ni, const char *seed_id, int k, long images, int epochs,
                unsigned long first_seed)
{
    char id[SESSION_ID_MAX];
    snprintf(id, sizeof id, "%s", seed_id); /* it may be ni->seed_id */
    memset(ni, 0, sizeof *ni);
    snprintf(ni->seed_id, sizeof ni->seed_id, "%s", id);
    ni->k = k < NOISE_MAX_SEEDS ? k : NOISE_MAX_SEEDS;
    ni->images = images;
    ni->epochs = epochs;
    for (int i = 0; i < ni->k; i++)
        ni->runs[i].seed = first_seed + (unsigned long)i; /* the plan; n_runs counts ended */
    ni->mean = ni->std = NAN;
}

unsigned long noise_run_seed(const noise_info *ni, int i)
{
    return ni->runs[i].seed;
}

bool noise_run_done(const noise_info *ni, unsigned long seed)
{
    for (int i = 0; i < ni->n_runs; i++)
        if (ni->runs[i].seed == seed)
            return true;
    return false;
}

/* The plan's seeds are kept in runs[n_runs..k-1] (not ended yet); ended
 * runs are moved to the front in the order they ended. */
static void end_run(noise_info *ni, unsigned long seed, bool ok, double acc, double seconds)
{
    int at = -1;
    for (int i = ni->n_runs; i < ni->k; i++)
        if (ni->runs[i].seed == seed)
            at = i;
    if (at < 0)
        return;
    noise_run r = {.seed = seed, .ok = ok, .val_acc = ok ? acc : NAN, .seconds = seconds};
    ni->runs[at] = ni->runs[ni->n_runs];
    ni->runs[ni->n_runs++] = r;
    recompute(ni);
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int noise_save(session *s, const noise_info *ni, gerr *err)
{
    json_t *runs = json_array(), *seeds = json_array();
    /* the plan's seeds in order (runs[] holds them ended ones first) */
    unsigned long sorted[NOISE_MAX_SEEDS];
    for (int i = 0; i < ni->k; i++) {
        int j = i;
        for (; j > 0 && sorted[j - 1] > ni->runs[i].seed; j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = ni->runs[i].seed;
    }
    for (int i = 0; i < ni->k; i++)
        json_array_append_new(seeds, json_integer((json_int_t)sorted[i]));
    for (int i = 0; i < ni->n_runs; i++) {
        const noise_run *r = &ni->runs[i];
        json_array_append_new(runs, json_pack("{s:I, s:s, s:o, s:o}", "seed", (json_int_t)r->seed,
                                              "status", r->ok ? "ok" : "failed", "val_acc",
                                              num_or_null(r->val_acc), "seconds",
                                              num_or_null(r->seconds)));
    }
    json_t *o =
        json_pack("{s:i, s:{s:I, s:i}, s:o, s:o, s:i, s:o, s:o, s:b}", "noise_seeds", ni->k,
                  "fidelity", "images", (json_int_t)ni->images, "epochs", ni->epochs, "seeds",
                  seeds, "runs", runs, "n", ni->n_ok, "mean", num_or_null(ni->mean), "std",
                  num_or_null(ni->std), "complete", ni->complete);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return gerr_set(err, "noise note: out of memory");
    int rc = session_set_note(s, NOISE_NOTE, ni->seed_id, text, err);
    free(text);
    return rc;
}

int noise_record(session *s, noise_info *ni, unsigned long seed, const char *result_json, gerr *err)
{
    if (noise_run_done(ni, seed))
        return 0;
    json_t *o = result_json ? json_loads(result_json, 0, NULL) : NULL;
    const char *st = json_string_value(json_object_get(o, "status"));
    json_t *acc = json_object_get(o, "val_acc"), *sec = json_object_get(o, "seconds");
    bool ok = st && !strcmp(st, "ok") && json_is_number(acc);
    end_run(ni, seed, ok, ok ? json_number_value(acc) : NAN,
            json_is_number(sec) ? json_number_value(sec) : NAN);
    json_decref(o);
    return noise_save(s, ni, err);
}

int noise_read(session *s, noise_info *out, gerr *err)
{
    char id[SESSION_ID_MAX];
    memset(out, 0, sizeof *out);
    out->mean = out->std = NAN;
    if (noise_seed_id(s, id, err))
        return -1;
    snprintf(out->seed_id, sizeof out->seed_id, "%s", id);
    char *text = NULL;
    if (session_get_note(s, NOISE_NOTE, id, &text, err))
        return -1;
    if (!text)
        return 0;
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    free(text);
    if (!json_is_object(o)) {
        json_decref(o);
        return gerr_set(err, "%s's noise note (refs/notes/noise) is not a JSON object", id);
    }
    json_int_t k = json_integer_value(json_object_get(o, "noise_seeds"));
    json_t *fid = json_object_get(o, "fidelity");
    json_t *seeds = json_object_get(o, "seeds"), *runs = json_object_get(o, "runs");
    if (k < 2 || k > NOISE_MAX_SEEDS || !json_is_array(seeds) ||
        json_array_size(seeds) != (size_t)k || !json_is_array(runs) ||
        json_array_size(runs) > (size_t)k) {
        json_decref(o);
        return gerr_set(err,
                        "%s's noise note (refs/notes/noise): noise_seeds, seeds or runs "
                        "are missing or do not agree",
                        id);
    }
    noise_plan(out, id, (int)k, (long)json_integer_value(json_object_get(fid, "images")),
               (int)json_integer_value(json_object_get(fid, "epochs")), 0);
    for (int i = 0; i < out->k; i++)
        out->runs[i].seed = (unsigned long)json_integer_value(json_array_get(seeds, (size_t)i));
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        json_t *acc = json_object_get(r, "val_acc"), *sec = json_object_get(r, "seconds");
        const char *st = json_string_value(json_object_get(r, "status"));
        bool ok = st && !strcmp(st, "ok") && json_is_number(acc);
        end_run(out, (unsigned long)json_integer_value(json_object_get(r, "seed")), ok,
                ok ? json_number_value(acc) : NAN,
                json_is_number(sec) ? json_number_value(sec) : NAN);
    }
    recompute(out);
    json_decref(o);
    return 0;
}

int noise_epsilon_parse(const char *spec, double *sd_multiple, double *abs, gerr *err)
{
    *sd_multiple = -1;
    *abs = 0;
    const char *v = spec ? spec : "auto";
    while (*v == ' ')
        v++;
    if (!*v || !strcmp(v, "auto")) {
        *sd_multiple = NOISE_DEFAULT_SD;
        return 0;
    }
    size_t len = strlen(v);
    while (len && v[len - 1] == ' ')
        len--;
    if (len > 2 && !strncmp(v + len - 2, "sd", 2)) {
        char num[64];
        size_t l = len - 2 < sizeof num - 1 ? len - 2 : sizeof num - 1;
        memcpy(num, v, l);
        num[l] = 0;
        return num_double(num, 0, 100, sd_multiple, "gevo.json epsilon (a multiple of sd)", err);
    }
    return num_double(v, 0, 1, abs, "gevo.json epsilon (auto, Nsd or an accuracy 0..1)", err);
}

int noise_epsilon(session *s, const noise_info *ni, double *eps, char *how, size_t size, gerr *err)
{
    double mult, abs;
    *eps = 0;
    if (noise_epsilon_setting(s, &mult, &abs, err))
        return -1;
    if (mult < 0) {
        *eps = abs;
        snprintf(how, size, abs > 0 ? "gevo.json epsilon %g" : "off (gevo.json epsilon 0)", abs);
        return 0;
    }
    if (mult == 0) {
        snprintf(how, size, "off (gevo.json epsilon 0sd)");
        return 0;
    }
    if (!ni || ni->k == 0 || !isfinite(ni->std)) {
        snprintf(how, size, "off: no noise measured%s", ni && ni->k && !ni->complete ? " yet" : "");
        return 0;
    }
    *eps = mult * ni->std;
    snprintf(how, size, "%g sd of %d run%s", mult, ni->n_ok, ni->n_ok == 1 ? "" : "s");
    return 0;
}

int noise_epsilon_setting(session *s, double *sd_multiple, double *abs, gerr *err)
{
    char buf[64];
    const char *v;
    if (setting(s, "epsilon", buf, sizeof buf, &v, err))
        return -1;
    return noise_epsilon_parse(v, sd_multiple, abs, err);
}

int noise_tolerance(session *s, double fallback, double *tol, char *how, size_t size, gerr *err)
{
    noise_info ni;
    double mult, abs;
    if (noise_read(s, &ni, err) || noise_epsilon(s, &ni, tol, how, size, err) ||
        noise_epsilon_setting(s, &mult, &abs, err))
        return -1;
    /* off by hand (0, 0sd) is off; off for want of a measurement is not */
    if (*tol > 0 || mult == 0 || (mult < 0 && abs == 0))
        return 0;
    *tol = fallback;
    snprintf(how, size, "no noise measured: %.3g of accuracy", fallback);
    return 0;
}

void noise_format_acc(char *buf, size_t size, double acc, int rung, const noise_info *ni)
{
    if (!isfinite(acc) || acc < 0)
        snprintf(buf, size, "-");
    else if (rung > 0)
        snprintf(buf, size, "%.1f%% r%d", 100 * acc, rung);
    else if (ni && isfinite(ni->std))
        snprintf(buf, size, "%.1f%% ±%.1f", 100 * acc, 100 * ni->std);
    else
        snprintf(buf, size, "%.1f%%", 100 * acc);
}

void noise_describe(const noise_info *ni, double eps, const char *how, char *buf, size_t size)
{
    if (!ni || ni->k == 0) {
        snprintf(buf, size, "noise: not measured (gevo.json noise_seeds 0)");
        return;
    }
    strbuf b = STRBUF_INIT;
    rungs_fidelity f = {ni->images, ni->epochs};
    char fid[96];
    rungs_describe(&f, fid, sizeof fid);
    strbuf_addf(&b, "noise: %s trained %d times (%s)", ni->seed_id, ni->k, fid);
    if (!ni->complete)
        strbuf_addf(&b, ", %d ended so far", ni->n_runs);
    if (isfinite(ni->mean)) {
        strbuf_addf(&b, ": val %.1f%%", 100 * ni->mean);
        if (isfinite(ni->std))
            strbuf_addf(&b, " ±%.1f", 100 * ni->std);
        strbuf_addstr(&b, " (runs");
        for (int i = 0; i < ni->n_runs; i++)
            if (ni->runs[i].ok)
                strbuf_addf(&b, " %.1f", 100 * ni->runs[i].val_acc);
            else
                strbuf_addstr(&b, " failed");
        strbuf_addch(&b, ')');
    }
    strbuf_addf(&b, "; selection's tolerance %.1f points (%s)", 100 * eps, how ? how : "");
    snprintf(buf, size, "%s", b.failed || !b.buf ? "noise: out of memory" : b.buf);
    strbuf_release(&b);
}
