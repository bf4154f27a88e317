/* `gevo stats DIR [--json]`: what each persona, model, operator and
 * (model, persona) pair has produced, failed proposals included
 * (core/stats.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "engine/base/strbuf.h"
#include "tui/cli/cli.h"

static const cli_spec spec = {
    "stats",
    "Counts every proposal of a session per persona, model, operator and\n"
    "(model, persona) pair: proposals, valid at the first answer, repaired,\n"
    "failed, approved, edited, rejected, trained, the mean change in validation\n"
    "accuracy against the (better) parent, the share that improved beyond the\n"
    "noise, members of the last front, tokens in and out, cost and mean latency.\n"
    "Proposals = valid at the first answer + repaired + failed; each section's\n"
    "rows add up to the total.\n",
    NULL,
    1,
    "the session folder is missing",
};

static json_t *row_json(const stats_row *r)
{
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                          "proposals", (json_int_t)r->proposals, "valid_first",
                          (json_int_t)r->valid_first, "repaired", (json_int_t)r->repaired, "failed",
                          (json_int_t)r->failed, "approved", (json_int_t)r->approved, "edited",
                          (json_int_t)r->edited, "rejected", (json_int_t)r->rejected, "trained",
                          (json_int_t)r->trained, "improved", (json_int_t)r->improved, "front",
                          (json_int_t)r->front, "tokens_in", (json_int_t)r->tokens_in, "tokens_out",
                          (json_int_t)r->tokens_out, "cost_usd", r->cost_usd);
    if (!j)
        return NULL;
    json_object_set_new(j, "mean_delta_val_acc",
                        r->with_delta ? json_real(r->delta_sum / (double)r->with_delta)
                                      : json_null());
    json_object_set_new(j, "improved_share",
                        r->with_delta ? json_real((double)r->improved / (double)r->with_delta)
                                      : json_null());
    json_object_set_new(j, "mean_latency_s",
                        r->proposals ? json_real(r->latency_sum / (double)r->proposals)
                                     : json_null());
    return j;
}

static json_t *groups_json(const stats_group *g, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, g[i].name, row_json(&g[i].row));
    return o;
}

static int print_json(const stats *st)
{
    json_t *pairs = json_array();
    for (size_t i = 0; i < st->n_pairs; i++) {
        json_t *r = row_json(&st->pairs[i].row);
        json_object_set_new(r, "model", json_string(st->pairs[i].model));
        json_object_set_new(r, "persona", json_string(st->pairs[i].persona));
        json_array_append_new(pairs, r);
    }
    json_t *j = json_pack("{s:o, s:o, s:o, s:o, s:o, s:f, s:s}", "total", row_json(&st->total),
                          "personas", groups_json(st->personas, st->n_personas), "models",
                          groups_json(st->models, st->n_models), "operators",
                          groups_json(st->operators, st->n_operators), "pairs", pairs, "noise",
                          st->noise, "noise_how", st->noise_how);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text) {
        cli_error("stats", "cannot write the JSON (is every name valid UTF-8?)");
        return CLI_FAIL;
    }
    puts(text);
    free(text);
    return CLI_OK;
}

/* The table of core/stats.h, each line shown safely (names come from
 * files and servers). */
static int print_text(const stats *st)
{
    strbuf sb = STRBUF_INIT;
    if (stats_format(st, &sb)) {
        strbuf_release(&sb);
        cli_error("stats", "out of memory");
        return CLI_FAIL;
    }
    for (char *line = sb.buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        cli_line(stdout, "%.*s", nl ? (int)(nl - line) : (int)strlen(line), line);
    }
    strbuf_release(&sb);
    return CLI_OK;
}

/* The options, parsed into (tui/cli/opts.h). */
typedef struct options {
    bool json;
} options;

static const cli_opt opts[] = {
    CLI_FLAG("json", 0, options, json,
             "one JSON object: {\"total\", \"personas\", \"models\",\n"
             "\"operators\", \"pairs\"}"),
    CLI_END,
};

static int run(void *vo, const cli_args *args)
{
    bool json = ((const options *)vo)->json;
    session *s = cli_session_open("stats", args->v[0], SESSION_READ);
    if (!s)
        return CLI_FAIL;
    stats st;
    gerr err = GERR_INIT;
    int rc = CLI_FAIL;
    if (stats_collect(s, &st, &err) != 0) {
        cli_error("stats", "%s", err.msg);
    } else {
        rc = json ? print_json(&st) : print_text(&st);
        stats_release(&st);
    }
    session_close(s);
    return rc;
}

const cli_def cmd_stats = {&spec, opts, sizeof(options), NULL, run};
